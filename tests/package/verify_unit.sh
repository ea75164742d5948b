#!/usr/bin/env bash
# The systemd unit as systemd-analyze reads it: no unknown key, no bad value.
# systemd-analyze needs no running systemd, but checks that ExecStart exists:
# the built binary stands in for /usr/bin/console-gw.
# Usage: verify_unit.sh UNIT_FILE CONSOLE_GW_BINARY
set -euo pipefail
unit=$1
binary=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed "s|/usr/bin/console-gw|$binary|" "$unit" >"$work/console-gw.service"
# It warns on stderr (and still exits 0) for what it ignores: any output fails.
out=$(cd "$work" && systemd-analyze verify --man=no console-gw.service 2>&1) || {
  echo "$out"
  exit 1
}
if [ -n "$out" ]; then
  echo "systemd-analyze verify:"
  echo "$out"
  exit 1
fi
# What the unit must say, whatever else changes in it.
for line in Type=notify NotifyAccess=main \
  'ExecStart=/usr/bin/console-gw --config /etc/console-gw/console-gw.toml' \
  'ExecReload=/bin/kill -HUP $MAINPID' User=console-gw Group=console-gw \
  NoNewPrivileges=yes ProtectSystem=strict CapabilityBoundingSet=; do
  grep -qxF "$line" "$unit" || {
    echo "$unit: missing '$line'"
    exit 1
  }
done
echo "ok: $unit"
