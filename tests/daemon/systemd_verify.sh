#!/bin/sh
# systemd_verify.sh SRC BUILD - systemd-analyze verify accepts the units (with
# ExecStart pointed at the built binary, which verify insists exists), the
# sysusers/tmpfiles snippets parse, and etc/fltblame.conf loads in 'serve'.
set -eu
src=$1
build=$2
command -v systemd-analyze >/dev/null || { echo "systemd-analyze missing (apt-get install systemd)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for u in fltblame.service fltblame-report.service fltblame-report.timer; do
  sed "s|/usr/bin/fltblame|$build/daemon/fltblame|" "$src/systemd/$u" >"$tmp/$u"
done
out=$(systemd-analyze verify "$tmp/fltblame.service" "$tmp/fltblame-report.service" "$tmp/fltblame-report.timer" 2>&1) || {
  echo "$out"; echo "FAIL: systemd-analyze verify"; exit 1; }
if [ -n "$out" ]; then echo "$out"; echo "FAIL: systemd-analyze verify warned"; exit 1; fi
grep -q '^Type=notify$' "$src/systemd/fltblame.service"
grep -q '^WatchdogSec=' "$src/systemd/fltblame.service"
grep -q '^NoNewPrivileges=yes$' "$src/systemd/fltblame.service"
grep -q '^ProtectSystem=strict$' "$src/systemd/fltblame.service"
if command -v systemd-sysusers >/dev/null; then
  mkdir -p "$tmp/root/etc"
  systemd-sysusers --root="$tmp/root" "$src/systemd/fltblame.sysusers.conf"
  grep -q '^fltblame:' "$tmp/root/etc/passwd"
  grep -q '^sftpupload:.*fltblame' "$tmp/root/etc/group"
fi
if command -v systemd-tmpfiles >/dev/null; then
  systemd-tmpfiles --root="$tmp/root" --create "$src/systemd/fltblame.tmpfiles.conf" 2>/dev/null || true
  test -d "$tmp/root/srv/fltblame/upload"
fi
# The shipped config loads: 'serve --help' prints the values it would use.
"$build/daemon/fltblame" serve --config "$src/etc/fltblame.conf" --help >"$tmp/help"
grep -q 'analysis processes run at once \[2\]' "$tmp/help"
grep -q 'language of verdict.txt: en or zh-CN \[zh-CN\]' "$tmp/help"
# Every key is documented in the shipped file.
for key in $(sed -n 's/^  --\([a-z-]*\) .*/\1/p' "$tmp/help" | tr - _); do
  [ "$key" = config ] && continue
  grep -q "^$key =" "$src/etc/fltblame.conf" || { echo "FAIL: key $key not in etc/fltblame.conf"; exit 1; }
done
echo "systemd units, sysusers, tmpfiles and etc/fltblame.conf verified"
