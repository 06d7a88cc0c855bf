#!/bin/sh
# engine_upload.sh SRC BUILD - the real engine behind the daemon: a zipped
# case (a Procmon capture made by the project's PML writer, 'fltmc filters'
# text, a CBS.log line) uploaded under a temporary name and renamed; the
# daemon (default analyzer: engine) writes the verdict naming ContosoFlt.sys;
# reprocess keeps the first verdict as .v1.
set -eu
src=$1
build=$2
fb=$build/daemon/fltblame
synth=$(find "$build" -name pml_synth -type f -perm -u+x | head -n 1)
[ -n "$synth" ] || { echo "pml_synth not built"; exit 77; }
tmp=$build/test-tmp/engine-$$
rm -rf "$tmp"
mkdir -p "$tmp/case" "$tmp/up/acme/incoming"
daemon=
trap '[ -n "$daemon" ] && kill "$daemon" 2>/dev/null; true' EXIT
fail() { echo "FAIL: $*"; tail -20 "$tmp/daemon.log"; exit 1; }

"$synth" example "$tmp/case/procmon.pml" >/dev/null
printf '%s\r\n' '' \
  'Filter Name                     Num Instances    Altitude    Frame' \
  '------------------------------  -------------  ------------  -----' \
  'PROCMON24                               4       385200         0' \
  'ContosoFlt                              3       321000         0' \
  'WdFilter                                4       328010         0' \
  'FileInfo                                4        40500         0' >"$tmp/case/fltmc.txt"
printf '%s\r\n' \
  '2022-02-22 18:40:01, Info                  CBS    TI: --- Initializing Trusted Installer ---' \
  '2022-02-22 18:40:01, Info                  CBS    Universal Time is: 2022-02-22 10:40:01.000' \
  '2022-02-22 18:40:02, Error                 CBS    Failed to create file: \\?\C:\Windows\SoftwareDistribution\Download\a1b2c3d4e5f6\Windows10.0-KB5021233-x64.cab [HRESULT = 0x80070005 - E_ACCESSDENIED]' \
  >"$tmp/case/CBS.log"
python3 - "$tmp/case" "$tmp/up/acme/incoming/case.zip.filepart" <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[2], "w", zipfile.ZIP_DEFLATED) as z:
    for f in sorted(os.listdir(sys.argv[1])):
        z.write(os.path.join(sys.argv[1], f), f)
PY

FLTBLAME_DATA_DIR=$src/etc "$fb" serve --upload-dir "$tmp/up" --out-dir "$tmp/out" --state-dir "$tmp/state" \
  --socket "$tmp/ctl.sock" --quiet-period 200ms --lang zh-CN 2>"$tmp/daemon.log" &
daemon=$!
i=0
until "$fb" ctl --socket "$tmp/ctl.sock" status >/dev/null 2>&1; do i=$((i + 1)); [ $i -gt 100 ] && fail "no daemon"; sleep 0.1; done
mv "$tmp/up/acme/incoming/case.zip.filepart" "$tmp/up/acme/incoming/case.zip"
i=0
until grep -q -E '^<[0-9]>job 1 (done|failed)' "$tmp/daemon.log"; do
  i=$((i + 1)); [ $i -gt 600 ] && fail "no verdict"; sleep 0.1
done
grep -q '^<6>job 1 done: verdict=".*/out/acme/1-case.zip/verdict.json" findings=2 filter="ContosoFlt.sys"' \
  "$tmp/daemon.log" || fail "job 1 not done with ContosoFlt.sys"
"$fb" ctl --socket "$tmp/ctl.sock" --raw show 1 >"$tmp/show.json"
python3 - "$tmp/show.json" "$tmp/out/acme/1-case.zip" <<'PY' || fail "verdict"
import json, os, sys
job = json.load(open(sys.argv[1]))["job"]
assert job["state"] == "done", job
assert (job["filter"], job["vendor"], job["confidence"], job["fail_process"]) == \
    ("ContosoFlt.sys", "Contoso Security Ltd.", "strong", "TiWorker.exe"), job
assert job["fail_path"].endswith("\\Windows10.0-KB5021233-x64.cab"), job["fail_path"]
v = json.load(open(os.path.join(sys.argv[2], "verdict.json")))
assert v["findings"][0]["filter"]["name"] == "ContosoFlt.sys", v["findings"][0]
meta = json.load(open(os.path.join(sys.argv[2], "job.json")))
assert meta["analyzer"] == "engine" and meta["job"] == 1 and meta["sha256"] == job["sha256"], meta
txt = open(os.path.join(sys.argv[2], "verdict.txt"), encoding="utf-8").read()
assert "ContosoFlt.sys" in txt and any("\u4e00" <= c <= "\u9fff" for c in txt), txt[:400]
PY
"$fb" ctl --socket "$tmp/ctl.sock" reprocess 1 >/dev/null || fail "reprocess"
i=0
until grep -q -E '^<[0-9]>job 1 (done|failed).*' "$tmp/daemon.log" && [ "$(grep -c '^<6>job 1 done' "$tmp/daemon.log")" = 2 ]; do
  i=$((i + 1)); [ $i -gt 600 ] && fail "reprocess did not finish"; sleep 0.1
done
[ -f "$tmp/out/acme/1-case.zip.v1/verdict.json" ] || fail "previous verdict not kept"
[ -f "$tmp/out/acme/1-case.zip/verdict.json" ] || fail "new verdict missing"
kill -TERM $daemon; wait $daemon || fail "daemon exit status"; daemon=
echo "engine through the daemon: ContosoFlt.sys named (strong), verdict.txt in Chinese, reprocess kept v1"
rm -rf "$tmp"
