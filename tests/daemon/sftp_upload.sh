#!/bin/sh
# sftp_upload.sh SRC BUILD - a real OpenSSH sshd on 127.0.0.1 (throwaway host
# and user keys made here, internal-sftp chrooted into the customer's
# directory) and 'sftp -b' uploads into a running 'fltblame serve':
#  - a plain upload gets its verdict;
#  - a slow upload paused halfway (sftp stopped with SIGSTOP) is not taken
#    before it completes, and is taken whole after;
#  - a .filepart upload renamed at the end (posix-rename) is taken once;
#  - a .filepart upload linked to its final name and unlinked (what
#    sftp-server's legacy rename does) is taken once;
#  - a Chinese file name arrives intact.
set -eu
src=$1
build=$2
sshd=/usr/sbin/sshd
[ -x "$sshd" ] && command -v sftp >/dev/null && command -v ssh-keygen >/dev/null || {
  echo "openssh-server/openssh-client missing"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "needs root (sshd, chroot)"; exit 77; }
fb=$build/daemon/fltblame
tmp=$build/test-tmp/sftp-$$
rm -rf "$tmp"
mkdir -p "$tmp/keys" "$tmp/up/acme/incoming" "$tmp/src" /run/sshd
chmod 755 "$tmp" "$tmp/up" "$tmp/up/acme"
daemon=
sshd_pid=
cleanup() {
  [ -n "$sshd_pid" ] && kill "$sshd_pid" 2>/dev/null || true
  [ -n "$daemon" ] && kill "$daemon" 2>/dev/null || true
  [ -n "${sftp_pid:-}" ] && kill -CONT "$sftp_pid" 2>/dev/null && kill "$sftp_pid" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- daemon log"; tail -40 "$tmp/daemon.log"; echo "--- sshd log"; tail -20 "$tmp/sshd.log"; exit 1; }

ssh-keygen -q -t ed25519 -N '' -C host -f "$tmp/keys/host"
ssh-keygen -q -t ed25519 -N '' -C user -f "$tmp/keys/user"
cp "$tmp/keys/user.pub" "$tmp/keys/authorized_keys"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
user=$(id -un)
cat >"$tmp/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $port
HostKey $tmp/keys/host
PidFile $tmp/sshd.pid
AuthorizedKeysFile $tmp/keys/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
Match User $user
  ChrootDirectory $tmp/up/acme
  ForceCommand internal-sftp -u 0022
  AllowTcpForwarding no
  X11Forwarding no
CONF
"$sshd" -D -e -f "$tmp/sshd_config" 2>"$tmp/sshd.log" &
sshd_pid=$!

"$fb" serve --upload-dir "$tmp/up" --out-dir "$tmp/out" --state-dir "$tmp/state" --socket "$tmp/ctl.sock" \
  --analyzer stub --quiet-period 500ms --rescan-interval 1s --log-level debug 2>"$tmp/daemon.log" &
daemon=$!

ctl() { "$fb" ctl --socket "$tmp/ctl.sock" --raw "$@"; }
# The daemon logs one line per job event: "job N queued: path=..." (cheap to
# poll on a loaded machine, unlike a client process per check).
queued() { grep -c "queued: path=\"$tmp/up/acme/incoming/$1\"" "$tmp/daemon.log" || true; }
wait_verdict() { # NAME SECONDS
  i=0
  while :; do
    set -- "$1" "$2" "$tmp"/out/acme/*-"$1"/verdict.json
    [ -e "$3" ] && return 0
    i=$((i + 1)); [ $i -gt $(($2 * 10)) ] && return 1; sleep 0.1
  done
}
i=0
until ctl status >/dev/null 2>&1; do i=$((i + 1)); [ $i -gt 100 ] && fail "daemon did not start"; sleep 0.1; done

sftp_b() { # BATCHFILE [extra sftp options]
  b=$1; shift
  sftp -q -b "$b" -i "$tmp/keys/user" -P "$port" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
    -o BatchMode=yes -o ConnectTimeout=10 "$@" "$user@127.0.0.1"
}
i=0
until printf 'ls\n' >"$tmp/b0" && sftp_b "$tmp/b0" >/dev/null 2>&1; do
  i=$((i + 1)); [ $i -gt 50 ] && fail "sshd did not accept the key"; sleep 0.2
done

# 1. a plain upload
printf 'FLTBLAME-STUB filter=TmPreFlt.sys vendor=Trend_Micro process=TiWorker.exe\n' >"$tmp/src/a.zip"
printf 'cd incoming\nput %s/src/a.zip\n' "$tmp" >"$tmp/b1"
sftp_b "$tmp/b1" >/dev/null || fail "sftp put"
wait_verdict a.zip 30 || fail "no verdict for a.zip"
v=$(ls "$tmp"/out/acme/*-a.zip/verdict.json)
grep -q '"TmPreFlt.sys"' "$v" || fail "verdict of a.zip: $(cat "$v")"

# 2. a slow upload, paused halfway
python3 -c 'import sys; sys.stdout.write("FLTBLAME-STUB filter=slow.sys\n" + "x" * 160000)' >"$tmp/src/slow.bin"
printf 'cd incoming\nput %s/src/slow.bin\n' "$tmp" >"$tmp/b2"
# sftp itself in the background (not a function's subshell), so SIGSTOP stops
# it; one 4 KiB request in flight, so a stopped client means a stopped upload.
sftp -q -b "$tmp/b2" -i "$tmp/keys/user" -P "$port" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
  -o BatchMode=yes -l 400 -B 4096 -R 1 "$user@127.0.0.1" >/dev/null &
sftp_pid=$!
i=0
while [ "$(stat -c %s "$tmp/up/acme/incoming/slow.bin" 2>/dev/null || echo 0)" -lt 20000 ]; do
  i=$((i + 1)); [ $i -gt 300 ] && fail "slow upload did not start"; sleep 0.05
done
kill -STOP $sftp_pid
half=$(stat -c %s "$tmp/up/acme/incoming/slow.bin")
sleep 3 # six quiet periods, three rescans
[ "$(queued slow.bin)" = 0 ] || fail "a paused upload ($half of 160030 bytes) was taken"
kill -CONT $sftp_pid
wait $sftp_pid || fail "slow sftp"
wait_verdict slow.bin 30 || fail "slow.bin not taken after it completed"
grep -q "queued: path=\"$tmp/up/acme/incoming/slow.bin\" customer=\"acme\" size=160030$" "$tmp/daemon.log" ||
  fail "slow.bin not taken whole"
echo "paused upload: not taken at $half bytes during 3 s, taken whole (160030 bytes) after"

# 3. .filepart, renamed at the end
printf 'FLTBLAME-STUB filter=renamed.sys\n' >"$tmp/src/c.zip"
printf 'cd incoming\nput %s/src/c.zip c.zip.filepart\nrename c.zip.filepart c.zip\n' "$tmp" >"$tmp/b3"
sftp_b "$tmp/b3" >/dev/null || fail "sftp rename"
# 4. .filepart, linked to the final name and unlinked (sftp-server's legacy rename)
printf 'FLTBLAME-STUB filter=linked.sys\n' >"$tmp/src/d.zip"
printf 'cd incoming\nput %s/src/d.zip d.zip.filepart\nln d.zip.filepart d.zip\nrm d.zip.filepart\n' "$tmp" >"$tmp/b4"
sftp_b "$tmp/b4" >/dev/null || fail "sftp ln/rm"
# 5. a Chinese name
printf 'FLTBLAME-STUB filter=cn.sys\n' >"$tmp/src/更新失败日志.zip"
printf 'cd incoming\nput %s/src/更新失败日志.zip\n' "$tmp" >"$tmp/b5"
sftp_b "$tmp/b5" >/dev/null || fail "sftp chinese name"
wait_verdict c.zip 30 || fail "c.zip (renamed) not taken"
wait_verdict d.zip 30 || fail "d.zip (linked) not taken"
wait_verdict 更新失败日志.zip 30 || fail "chinese name not taken"
sleep 2 # two more rescans: nothing taken twice, no temporary name taken
for f in a.zip slow.bin c.zip d.zip 更新失败日志.zip; do
  [ "$(queued "$f")" = 1 ] || fail "$f taken $(queued "$f") times"
done
! grep -q 'filepart"' "$tmp/daemon.log" || fail "a .filepart was taken"
ctl list --limit 10000 >"$tmp/list.json"
ctl status >"$tmp/status.json"
python3 - "$tmp/list.json" "$tmp/status.json" <<'PY' || fail "index check"
import json, sys
jobs = json.load(open(sys.argv[1]))["jobs"]
status = json.load(open(sys.argv[2]))["jobs"]
names = sorted(j["path"].rsplit("/", 1)[1] for j in jobs)
assert names == sorted(["a.zip", "slow.bin", "c.zip", "d.zip", "更新失败日志.zip"]), names
assert all(j["state"] == "done" and j["attempts"] == 1 for j in jobs), jobs
filters = {j["path"].rsplit("/", 1)[1]: j["filter"] for j in jobs}
assert filters["c.zip"] == "renamed.sys" and filters["d.zip"] == "linked.sys" and filters["更新失败日志.zip"] == "cn.sys", filters
assert (status["done"], status["failed"], status["queued"], status["running"]) == (5, 0, 0, 0), status
PY
kill -TERM $daemon
wait $daemon || fail "daemon exit status $?"
daemon=
echo "sftp uploads: 5 taken once each, 0 temporary names taken"
rm -rf "$tmp"
