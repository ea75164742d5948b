#!/usr/bin/env bash
# The .deb on this machine: build it with CPack, install it with dpkg, check
# the account and files, start the service as systemd would (systemctl where
# systemd is PID 1, else the unit's ExecStart as its User and Group), GET
# /healthz, then stop and purge. The machine is left as it was, on failure
# too: an /etc/console-gw that was here before (scripts/demo makes one) is
# moved aside and put back.
# Usage: deb_test.sh BUILD_DIR
set -euo pipefail
build=$1
port=6080  # the packaged configuration's
unit=/lib/systemd/system/console-gw.service

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
[ "$(id -u)" = 0 ] || fail "needs root (dpkg -i)"
if dpkg-query -W -f='${Status}' console-gw 2>/dev/null | grep -q "ok installed"; then
  fail "console-gw is installed on this machine already; this test installs and purges its own"
fi
getent passwd console-gw >/dev/null && fail "a user console-gw exists already"
if ss -Hltn "sport = :$port" | grep -q .; then
  fail "port $port is in use (scripts/demo?); the packaged configuration listens there"
fi

work=$(mktemp -d)
gateway_pid=
systemd_running=false
[ -d /run/systemd/system ] && systemd_running=true
had_etc=false

cleanup() {
  set +e
  if [ -n "$gateway_pid" ]; then
    kill -TERM "$gateway_pid" 2>/dev/null
    wait "$gateway_pid" 2>/dev/null
  fi
  $systemd_running && systemctl stop console-gw 2>/dev/null
  if dpkg-query -W console-gw >/dev/null 2>&1; then dpkg --purge console-gw >/dev/null; fi
  rm -rf /etc/console-gw
  $had_etc && mv "$work/etc-console-gw" /etc/console-gw
  rm -rf "$work"
}
trap cleanup EXIT
if [ -e /etc/console-gw ]; then
  mv /etc/console-gw "$work/etc-console-gw"
  had_etc=true
fi

echo "== build the .deb"
cpack --config "$build/CPackConfig.cmake" -G DEB -B "$work/out" >"$work/cpack.log" 2>&1 ||
  { cat "$work/cpack.log"; fail "cpack"; }
deb=$(ls "$work"/out/console-gw_*.deb)
depends=$(dpkg-deb -f "$deb" Depends)
recommends=$(dpkg-deb -f "$deb" Recommends)
echo "Depends: $depends"
echo "Recommends: $recommends"
[[ $depends == *adduser* ]] || fail "Depends lacks adduser"
[[ $depends == *libvirt0* && $depends == *libssl3* ]] || fail "Depends lacks the shared libraries (dpkg-shlibdeps)"
for r in novnc spice-html5 openssh-client libvirt-clients; do
  [[ $recommends == *$r* ]] || fail "Recommends lacks $r"
done

echo "== install"
if ! dpkg -i "$deb" >"$work/dpkg.log" 2>&1; then
  # Dependencies missing on this machine: let apt bring them (and configure).
  apt-get install -f -y -q --no-install-recommends >>"$work/dpkg.log" 2>&1 ||
    { cat "$work/dpkg.log"; fail "dpkg -i"; }
fi
dpkg-query -W -f='${Status}\n' console-gw | grep -q "install ok installed" || fail "not installed"

echo "== the account and the files"
passwd=$(getent passwd console-gw) || fail "no user console-gw"
uid=$(echo "$passwd" | cut -d: -f3)
((uid < 1000)) || fail "console-gw is not a system user (uid $uid)"
getent group console-gw >/dev/null || fail "no group console-gw"
if getent group libvirt >/dev/null; then
  id -nG console-gw | tr ' ' '\n' | grep -qx libvirt || fail "console-gw is not in the libvirt group"
fi
for f in /usr/bin/console-gw "$unit" /etc/console-gw/console-gw.toml \
  /usr/share/doc/console-gw/examples/console-gw.toml; do
  [ -f "$f" ] || fail "missing $f"
done
[ -d /usr/share/console-gw/web ] || fail "missing /usr/share/console-gw/web"
dpkg-query -W -f='${Conffiles}\n' console-gw | grep -q "/etc/console-gw/console-gw.toml" ||
  fail "/etc/console-gw/console-gw.toml is not a conffile"
[ "$(stat -c '%a %U %G' /etc/console-gw/token.key)" = "640 root console-gw" ] ||
  fail "token.key: $(stat -c '%a %U %G' /etc/console-gw/token.key), expected 640 root console-gw"
[ "$(stat -c '%a %U %G' /etc/console-gw)" = "750 root console-gw" ] ||
  fail "/etc/console-gw: $(stat -c '%a %U %G' /etc/console-gw), expected 750 root console-gw"
# The installed unit, with the installed binary.
out=$(systemd-analyze verify --man=no "$unit" 2>&1) || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify: $out"
/usr/bin/console-gw --version

echo "== start"
if $systemd_running; then
  systemctl start console-gw || {
    journalctl -u console-gw --no-pager | tail -20
    fail "systemctl start"
  }
else
  # As the unit would: its ExecStart, as its User and Group with the user's
  # groups (systemd gives a User= its supplementary groups, libvirt among them).
  exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
  user=$(sed -n 's/^User=//p' "$unit")
  group=$(sed -n 's/^Group=//p' "$unit")
  [ -n "$exec_start" ] && [ -n "$user" ] && [ -n "$group" ] || fail "cannot read $unit"
  echo "setpriv --reuid=$user --regid=$group --init-groups -- $exec_start"
  # shellcheck disable=SC2086 # ExecStart's words
  setpriv --reuid="$user" --regid="$group" --init-groups -- $exec_start >"$work/gateway.log" 2>&1 &
  gateway_pid=$!
fi

echo "== GET /healthz"
status=
for _ in $(seq 100); do
  status=$(curl -s -o "$work/healthz" -w '%{http_code}' "http://127.0.0.1:$port/healthz" || true)
  [ "$status" = 200 ] && break
  if [ -n "$gateway_pid" ] && ! kill -0 "$gateway_pid" 2>/dev/null; then
    cat "$work/gateway.log"
    fail "console-gw exited"
  fi
  sleep 0.1
done
[ "$status" = 200 ] || {
  [ -f "$work/gateway.log" ] && cat "$work/gateway.log"
  fail "/healthz answered '$status'"
}
echo "200 $(cat "$work/healthz")"
if [ -n "$gateway_pid" ]; then
  runs_as=$(ps -o uid=,gid= -p "$gateway_pid" | tr -s ' ' | sed 's/^ //')
  [ "$runs_as" = "$(id -u console-gw) $(id -g console-gw)" ] || fail "runs as uid, gid '$runs_as'"
fi
# The generated key verifies tokens signed with it: a token for an unknown
# domain gets past the token check, not 401: 404 where console-gw may use
# libvirtd, 502 where it may not (no libvirtd; or no D-Bus system bus for
# libvirtd's polkit check, as in a container without systemd).
token=$(/usr/bin/console-gw token --host local --uuid 00000000-0000-4000-8000-000000000000 \
  --signing-key /etc/console-gw/token.key)
status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/websockify?token=$token")
echo "a token signed with the generated key: $status"
[ "$status" = 404 ] || [ "$status" = 502 ] || fail "a token signed with the generated key: $status"

echo "== stop and purge"
if $systemd_running; then
  systemctl stop console-gw
else
  kill -TERM "$gateway_pid"
  wait "$gateway_pid" || fail "console-gw exited with $? at SIGTERM"
  gateway_pid=
fi
dpkg --purge console-gw >"$work/purge.log" 2>&1 || { cat "$work/purge.log"; fail "dpkg --purge"; }
getent passwd console-gw >/dev/null && fail "purge left the user console-gw"
getent group console-gw >/dev/null && fail "purge left the group console-gw"
[ ! -e /etc/console-gw ] || fail "purge left /etc/console-gw: $(ls -A /etc/console-gw)"
[ ! -e /usr/bin/console-gw ] || fail "purge left /usr/bin/console-gw"
[ ! -e /var/lib/console-gw ] || fail "purge left /var/lib/console-gw"
echo "ok"
