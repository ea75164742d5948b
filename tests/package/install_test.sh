#!/usr/bin/env bash
# `cmake --install` into a staging root (DESTDIR): the binary, the unit, both
# configurations and the web directory land where the unit and the docs say.
# Usage: install_test.sh BUILD_DIR
set -euo pipefail
build=$1
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
DESTDIR=$root cmake --install "$build" --prefix /usr >/dev/null
for f in /usr/bin/console-gw /lib/systemd/system/console-gw.service \
  /etc/console-gw/console-gw.toml /usr/share/doc/console-gw/examples/console-gw.toml; do
  [ -f "$root$f" ] || {
    echo "FAIL: cmake --install did not install $f"
    find "$root" | sed "s|^$root||"
    exit 1
  }
done
[ -d "$root/usr/share/console-gw/web" ] || {
  echo "FAIL: no /usr/share/console-gw/web"
  exit 1
}
[ -x "$root/usr/bin/console-gw" ] || {
  echo "FAIL: /usr/bin/console-gw is not executable"
  exit 1
}
# The packaged configuration is one console-gw accepts (a bad one exits 2
# before listening; --help after it would hide that, so ask for --version).
"$root/usr/bin/console-gw" --config "$root/etc/console-gw/console-gw.toml" --version >/dev/null
echo ok
