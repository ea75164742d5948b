# The demo guest: a Linux kernel and a tiny initramfs made from Debian's
# busybox-static, booted by libvirt's direct kernel boot (<os><kernel>, no disk).
# It shows a shell on its screen (tty1, the VNC console) and on its serial port
# (ttyS0). Sourced, not run; scripts/demo and the tests call cgw_guest_build.
#
# The kernel is the host's own (/boot/vmlinuz-*) when it has what the guest
# needs built in, else Debian's linux-image-*-amd64 package, downloaded and
# unpacked into the cache (never installed). busybox-static is downloaded and
# unpacked the same way: installing it would replace the machine's busybox.

CGW_GUEST_DIR=${CGW_GUEST_DIR:-/var/cache/console-gw/guest}
_cgw_guest_source=${BASH_SOURCE[0]}

# What the guest uses without modules: an initramfs (gzip), devtmpfs, the VGA
# text console and the PC keyboard for the VNC screen, the 8250 UART for ttyS0.
_cgw_guest_kernel_needs=(BLK_DEV_INITRD RD_GZIP DEVTMPFS BINFMT_ELF VT VT_CONSOLE VGA_CONSOLE
  INPUT_KEYBOARD SERIO SERIO_I8042 KEYBOARD_ATKBD SERIAL_8250 SERIAL_8250_CONSOLE)

_cgw_guest_kernel_ok() { # config file
  local option
  [ -r "$1" ] || return 1
  for option in "${_cgw_guest_kernel_needs[@]}"; do
    grep -qx "CONFIG_$option=y" "$1" || return 1
  done
}

# The newest /boot kernel that will do, or nothing.
_cgw_guest_host_kernel() {
  local vmlinuz
  for vmlinuz in $(ls -v /boot/vmlinuz-* 2>/dev/null | tac); do
    [ -r "$vmlinuz" ] && _cgw_guest_kernel_ok "/boot/config-${vmlinuz#/boot/vmlinuz-}" &&
      echo "$vmlinuz" && return 0
  done
  return 0
}

# "name version" of the package apt would download, reading the package lists
# first when this machine has none yet.
_cgw_guest_candidate() { # package
  local version
  version=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
  if [ -z "$version" ] || [ "$version" = "(none)" ]; then
    apt-get update -q >&2 || return 1
    version=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
    [ -n "$version" ] && [ "$version" != "(none)" ] || return 1
  fi
  echo "$1 $version"
}

# Downloads a package into $2 and unpacks the given members of it into $2/root.
_cgw_guest_unpack() { # package dir member...
  local - package=$1 dir=$2
  set -o pipefail
  shift 2
  # apt drops to the _apt user to download; let it write there.
  chmod 0755 "$dir"
  if id _apt >/dev/null 2>&1; then chown _apt "$dir"; fi
  (cd "$dir" && apt-get download -q "$package" >&2) || return 1
  mkdir "$dir/root" && dpkg-deb --fsys-tarfile "$dir"/*.deb | tar -x -C "$dir/root" "$@"
}

_cgw_guest_write_files() { # root
  local root=$1
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc/init.d,proc,sys,dev,tmp,root}
  # Mounts what the shells need, then hands over to busybox's init.
  cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
hostname console-gw-demo
exec /sbin/init
EOF
  # init runs rcS, then keeps a shell on each console, as each one's
  # controlling terminal (so Ctrl-C works), starting another when one exits.
  cat >"$root/etc/inittab" <<'EOF'
::sysinit:/etc/init.d/rcS
tty1::respawn:-/bin/sh
ttyS0::respawn:-/bin/sh
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/sync
EOF
  cat >"$root/etc/init.d/rcS" <<'EOF'
#!/bin/sh
dmesg -n 1
for tty in /dev/tty1 /dev/ttyS0; do
  # \033c clears the screen of the kernel's messages.
  printf '\033c\n  console-gw demo guest: Linux %s and busybox, no disk.\n' "$(uname -r)" >"$tty"
  printf '  A shell runs on its screen (tty1) and on its serial port (ttyS0).\n' >"$tty"
  printf '  Try: uname -a; ls /; echo hello >/dev/ttyS0; poweroff\n' >"$tty"
done
EOF
  # Login shells read this. The line on ttyS0 tells whoever reads the serial
  # port (the tests) that the shell on the screen reads the keyboard now.
  cat >"$root/etc/profile" <<'EOF'
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
export PS1='console-gw-demo:\w\$ '
cd /root
if [ "$(tty)" = /dev/tty1 ]; then echo "console-gw-demo: shell on tty1 ready" >/dev/ttyS0; fi
EOF
  chmod 0755 "$root/init" "$root/etc/init.d/rcS"
}

# Makes vmlinuz and initrd.gz in $1 from the host's kernel $2, or else from
# Debian's kernel package $3.
_cgw_guest_make() { # work kernel package
  local - work=$1 kernel=$2 package=$3
  set -o pipefail
  if [ -z "$kernel" ]; then
    mkdir "$work/kernel" && _cgw_guest_unpack "$package" "$work/kernel" ./boot || return 1
    kernel=$(ls "$work"/kernel/root/boot/vmlinuz-* | head -n1)
    if ! _cgw_guest_kernel_ok "$work/kernel/root/boot/config-${kernel##*/vmlinuz-}"; then
      echo "demo guest: $package lacks some of ${_cgw_guest_kernel_needs[*]} built in" >&2
      return 1
    fi
  fi
  mkdir "$work/busybox" && _cgw_guest_unpack busybox-static "$work/busybox" ./bin/busybox || return 1
  _cgw_guest_write_files "$work/initramfs"
  cp "$work/busybox/root/bin/busybox" "$work/initramfs/bin/busybox" || return 1
  # busybox's own cpio writes the archive: owned by root, newc as the kernel reads it.
  (cd "$work/initramfs" && find . -mindepth 1 | sort |
    "$work/busybox/root/bin/busybox" cpio -o -H newc -R 0:0 2>/dev/null) |
    gzip -9 >"$work/initrd.gz" || return 1
  # QEMU runs as libvirt-qemu: world-readable files in a world-searchable directory.
  install -m 0644 "$kernel" "$work/vmlinuz" && chmod 0644 "$work/initrd.gz"
}

# Makes (or reuses) the guest; prints the kernel's and the initramfs's paths,
# one a line. Progress goes to stderr. Rebuilds when the kernel, busybox or this
# file changes.
cgw_guest_build() {
  local dir=$CGW_GUEST_DIR kernel kernel_key busybox_key inputs work lock rc=0
  install -d -m 0755 "$dir" || return 1
  kernel=$(_cgw_guest_host_kernel)
  if [ -n "$kernel" ]; then
    kernel_key="$kernel $(stat -c '%s %Y' "$kernel")"
  else
    # linux-image-amd64 depends on the current linux-image-<abi>-amd64.
    kernel_key=$(_cgw_guest_candidate linux-image-amd64 >/dev/null &&
      apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}' |
      { read -r package && _cgw_guest_candidate "$package"; }) || kernel_key=
  fi
  busybox_key=$(_cgw_guest_candidate busybox-static) || busybox_key=
  if [ -z "$kernel_key" ] || [ -z "$busybox_key" ]; then
    # No package lists (offline): a guest made before still does.
    if [ -s "$dir/vmlinuz" ] && [ -s "$dir/initrd.gz" ]; then
      echo "demo guest: cannot ask apt for the kernel or busybox-static; using the one in $dir" >&2
      printf '%s\n' "$dir/vmlinuz" "$dir/initrd.gz"
      return 0
    fi
    echo "demo guest: apt knows no linux-image-amd64 or busybox-static package (apt-get update?)" >&2
    return 1
  fi
  inputs=$(printf 'kernel: %s\nbusybox: %s\nscript: %s\n' "$kernel_key" "$busybox_key" \
    "$(sha256sum <"$_cgw_guest_source" | cut -d' ' -f1)")

  # One builder at a time (the demo and a test run may start together).
  exec {lock}>"$dir/.lock"
  flock "$lock"
  if [ -s "$dir/vmlinuz" ] && [ -s "$dir/initrd.gz" ] && [ "$(cat "$dir/inputs" 2>/dev/null)" = "$inputs" ]; then
    exec {lock}>&-
    printf '%s\n' "$dir/vmlinuz" "$dir/initrd.gz"
    return 0
  fi
  echo "demo guest: building it in $dir from ${kernel:-$kernel_key} and $busybox_key" >&2
  work=$(mktemp -d "$dir/.build.XXXXXX") && chmod 0755 "$work"
  _cgw_guest_make "$work" "$kernel" "${kernel_key%% *}" &&
    mv -f "$work/vmlinuz" "$dir/vmlinuz" && mv -f "$work/initrd.gz" "$dir/initrd.gz" &&
    echo "$inputs" >"$dir/inputs" || rc=1
  rm -rf "$work"
  exec {lock}>&-
  if [ "$rc" -ne 0 ]; then
    if [ -s "$dir/vmlinuz" ] && [ -s "$dir/initrd.gz" ]; then
      echo "demo guest: could not rebuild it; using the one built before in $dir" >&2
    else
      echo "demo guest: could not build it in $dir" >&2
      return 1
    fi
  fi
  printf '%s\n' "$dir/vmlinuz" "$dir/initrd.gz"
}

