# Shell helpers to start and stop libvirt's daemons for the demo and the tests.
# Sourced, not run. Starts only what is not already running and remembers what it
# started, so stopping never takes down a daemon someone else runs.

CGW_LIBVIRT_STATE=${CGW_LIBVIRT_STATE:-/run/console-gw-libvirt.started}

# /dev/kvm is root-only when no udev ran (containers); give it the group udev
# would, so QEMU (user libvirt-qemu, group kvm) can use it.
cgw_prepare_kvm() {
  [ -c /dev/kvm ] || return 0
  if getent group kvm >/dev/null && [ "$(stat -c %G /dev/kvm)" = root ]; then
    chgrp kvm /dev/kvm 2>/dev/null && chmod 0660 /dev/kvm 2>/dev/null || true
  fi
}

# "kvm" when QEMU can use /dev/kvm, else "qemu" (TCG).
cgw_domain_type() {
  if [ -c /dev/kvm ] && id libvirt-qemu >/dev/null 2>&1 &&
     runuser -u libvirt-qemu -- test -r /dev/kvm -a -w /dev/kvm 2>/dev/null; then
    echo kvm
  else
    echo qemu
  fi
}

_cgw_systemd() { [ -d /run/systemd/system ]; }

_cgw_wait_socket() {
  for _ in $(seq 1 100); do
    [ -S "$1" ] && return 0
    sleep 0.1
  done
  echo "libvirt: $1 did not appear" >&2
  return 1
}

# Waits up to 10 s for libvirtd to answer on qemu:///system; says so when it
# does not ($1 ends the message: "" or " after its restart").
_cgw_wait_libvirtd_answers() {
  for _ in $(seq 1 100); do
    virsh -c qemu:///system version >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "libvirt: libvirtd does not answer$1" >&2
  return 1
}

cgw_libvirtd_start() {
  cgw_prepare_kvm
  : >"$CGW_LIBVIRT_STATE.new"
  if _cgw_systemd; then
    for unit in virtlogd libvirtd; do
      if ! systemctl is-active -q "$unit"; then
        systemctl start "$unit" && echo "$unit" >>"$CGW_LIBVIRT_STATE.new"
      fi
    done
  else
    if ! pgrep -x virtlogd >/dev/null; then
      virtlogd -d && echo virtlogd >>"$CGW_LIBVIRT_STATE.new"
    fi
    if ! pgrep -x libvirtd >/dev/null; then
      libvirtd -d && echo libvirtd >>"$CGW_LIBVIRT_STATE.new"
    fi
  fi
  # Keep the first record: a second start must not forget what the first started.
  if [ -s "$CGW_LIBVIRT_STATE.new" ] || [ ! -e "$CGW_LIBVIRT_STATE" ]; then
    cat "$CGW_LIBVIRT_STATE.new" >>"$CGW_LIBVIRT_STATE"
  fi
  rm -f "$CGW_LIBVIRT_STATE.new"
  _cgw_wait_socket /run/libvirt/libvirt-sock
  # The socket appears before the daemon answers; wait until it does.
  _cgw_wait_libvirtd_answers ""
}

cgw_libvirtd_stop() {
  [ -e "$CGW_LIBVIRT_STATE" ] || return 0
  # libvirtd first: it uses virtlogd.
  for unit in libvirtd virtlogd; do
    grep -qx "$unit" "$CGW_LIBVIRT_STATE" || continue
    if _cgw_systemd; then
      systemctl stop "$unit" || true
    else
      pkill -x "$unit" || true
      for _ in $(seq 1 50); do pgrep -x "$unit" >/dev/null || break; sleep 0.1; done
    fi
  done
  rm -f "$CGW_LIBVIRT_STATE"
}

# Removes domains the tests made (names starting with $1 and holding the test
# process's pid as one dash-separated part), left over by a test that died
# before its own cleanup.
# Domains of test processes still running (another build's run) are left alone.
cgw_remove_domains() {
  local prefix=$1 name pid part parts
  virsh -q -c qemu:///system list --all --name 2>/dev/null | while read -r name; do
    case "$name" in
      "$prefix"*)
        pid=
        IFS=- read -ra parts <<<"$name"
        for part in "${parts[@]}"; do
          case "$part" in '' | *[!0-9]*) ;; *) pid=$part ;; esac
        done
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then continue; fi
        virsh -q -c qemu:///system destroy "$name" >/dev/null 2>&1 || true
        virsh -q -c qemu:///system undefine "$name" >/dev/null 2>&1 || true
        ;;
    esac
  done
}

# Restarts libvirtd, as an upgrade or a crash and its restart would (the fault
# tests: sessions must survive it). QEMU domains keep running. Leaves libvirtd
# running, answering, for the tests after.
cgw_libvirtd_restart() {
  if _cgw_systemd; then
    systemctl restart libvirtd
  else
    local pid
    pid=$(cat /run/libvirtd.pid 2>/dev/null) || {
      echo "libvirt: no /run/libvirtd.pid to restart" >&2
      return 1
    }
    kill "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    libvirtd -d
  fi
  _cgw_wait_libvirtd_answers " after its restart"
}
