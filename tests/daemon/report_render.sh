#!/bin/sh
# report_render.sh SRC BUILD - uploads with known verdicts go through a
# running daemon (stub analyzer); some are moved back in time in the index so
# the 30-day chart has history; 'fltblame report' writes the day's report; its
# numbers are checked; headless Chromium renders it to a PNG (kept as
# BUILD/test-tmp/report-screenshot.png for a person to look at).
set -eu
src=$1
build=$2
fb=$build/daemon/fltblame
tmp=$build/test-tmp/report-$$
rm -rf "$tmp"
mkdir -p "$tmp/up"
daemon=
trap '[ -n "$daemon" ] && kill "$daemon" 2>/dev/null; true' EXIT
fail() { echo "FAIL: $*"; tail -30 "$tmp/daemon.log" 2>/dev/null; exit 1; }
export TZ=UTC

"$fb" serve --upload-dir "$tmp/up" --out-dir "$tmp/out" --state-dir "$tmp/state" --socket "$tmp/ctl.sock" \
  --report-dir "$tmp/reports" --analyzer stub --quiet-period 200ms --rescan-interval 1s 2>"$tmp/daemon.log" &
daemon=$!
up() { mkdir -p "$tmp/up/$1"; printf '%s\n' "$3" >"$tmp/up/$1/$2.tmp"; mv "$tmp/up/$1/$2.tmp" "$tmp/up/$1/$2"; }
wu='path=C:\Windows\SoftwareDistribution\Download\8f3e\wpdmtp.dll'
n=0
for i in 1 2 3 4 5 6; do
  up acme "tm$i.zip" "FLTBLAME-STUB filter=TmPreFlt.sys vendor=Trend_Micro confidence=confirmed process=TiWorker.exe $wu note=$i"; n=$((n+1))
done
for i in 1 2 3; do
  up 华东客户 "sophos$i.zip" "FLTBLAME-STUB filter=SAVOnAccess.sys vendor=Sophos confidence=strong process=TrustedInstaller.exe path=C:\Windows\WinSxS\pending.xml note=$i"; n=$((n+1))
done
for i in 1 2; do
  up globex "cs$i.etl" "FLTBLAME-STUB filter=csagent.sys vendor=CrowdStrike confidence=suspect process=svchost.exe $wu note=$i"; n=$((n+1))
done
up globex "none.pml" "FLTBLAME-STUB note=no-finding"; n=$((n+1))
up globex "broken.zip" "FLTBLAME-STUB fail=archive_is_truncated_at_offset_0x1f00"; n=$((n+1))
up acme "crash.etl" "FLTBLAME-STUB crash=1"; n=$((n+1))
i=0
while [ "$(grep -c -E '^<[0-9]>job [0-9]+ (done|failed):' "$tmp/daemon.log")" != $n ]; do
  i=$((i + 1)); [ $i -gt 600 ] && fail "jobs did not finish"; sleep 0.1
done
kill -TERM $daemon; wait $daemon; daemon=

# History: move 8 of the 14 jobs to earlier days (the index is plain SQLite).
python3 - "$tmp/state/jobs.sqlite" <<'PY'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
today = int(time.time()) // 86400 * 86400
moves = {"tm1.zip": 1, "tm2.zip": 3, "tm3.zip": 3, "sophos1.zip": 7, "sophos2.zip": 12, "cs1.etl": 20,
         "cs2.etl": 20, "tm4.zip": 29}
for name, days in moves.items():
    n = db.execute("UPDATE jobs SET finished = ? WHERE path LIKE ?", (today - days * 86400 + 3600, "%/" + name)).rowcount
    assert n == 1, name
db.commit()
PY
"$fb" report --state-dir "$tmp/state" --report-dir "$tmp/reports" --date today >"$tmp/report.out" || fail "report"
d=$(date -u +%F)
python3 - "$tmp/reports/report-$d.json" "$tmp/reports/report-$d.csv" <<'PY' || fail "report numbers"
import csv, json, sys
r = json.load(open(sys.argv[1]))
t = r["totals"]
# today: tm5 tm6 (Trend Micro, confirmed), sophos3, none, broken, crash = 6 jobs
assert (t["jobs"], t["done"], t["failed"], t["with_findings"], t["confirmed"]) == (6, 4, 2, 3, 2), t
by = {e["filter"]: e["count"] for e in r["verdicts_by_filter"]}
assert by == {"TmPreFlt.sys (Trend Micro)": 2, "SAVOnAccess.sys (Sophos)": 1, "(no finding)": 1, "(job failed)": 2}, by
days = r["per_day"]
assert len(days) == 30 and sum(d["total"] for d in days) == 14, [d["total"] for d in days]
assert days[-4]["total"] == 2 and days[-21]["total"] == 2 and days[0]["total"] == 1, [d["total"] for d in days]
assert r["top_processes"] == [{"process": "TiWorker.exe", "count": 2}, {"process": "TrustedInstaller.exe", "count": 1}], r["top_processes"]
assert r["top_paths"][0] == {"path": "C:\\Windows\\SoftwareDistribution\\Download\\8f3e\\wpdmtp.dll", "count": 2}, r["top_paths"]
errors = sorted(f["error"] for f in r["failed_jobs"])
assert errors == ["archive is truncated at offset 0x1f00", "worker crashed: signal 11 (Segmentation fault)"], errors
rows = list(csv.DictReader(open(sys.argv[2], newline="")))
assert len(rows) == 6 and [int(x["id"]) for x in rows] == [j["id"] for j in r["rows"]], rows
PY
echo "report numbers: 6 jobs today (4 verdicts, 2 failed), 14 over 30 days"

chromium=$(command -v chromium || command -v chromium-browser || true)
[ -n "$chromium" ] || { echo "chromium missing: report numbers checked, rendering skipped"; exit 77; }
png=$build/test-tmp/report-screenshot.png
rm -f "$png"
timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --hide-scrollbars \
  --no-first-run --window-size=1100,1700 --screenshot="$png" "file://$tmp/reports/report-$d.html" \
  >"$tmp/chromium.log" 2>&1 || { cat "$tmp/chromium.log"; fail "chromium"; }
python3 - "$png" <<'PY' || fail "screenshot"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
w, h = struct.unpack(">II", data[16:24])
assert (w, h) == (1100, 1700), (w, h)
# The page is not blank: decode the image and count non-white pixels.
depth, ctype = data[24], data[25]
idat = b""
pos = 8
while pos < len(data):
    n, = struct.unpack(">I", data[pos:pos + 4]); kind = data[pos + 4:pos + 8]
    if kind == b"IDAT":
        idat += data[pos + 8:pos + 8 + n]
    pos += 12 + n
raw = zlib.decompress(idat)
bpp = {2: 3, 6: 4}[ctype]
stride = w * bpp + 1
prev = bytearray(stride - 1)
coloured = 0
for y in range(h):
    f = raw[y * stride]; line = bytearray(raw[y * stride + 1:(y + 1) * stride])
    for x in range(len(line)):
        a = line[x - bpp] if x >= bpp else 0; b = prev[x]; c = prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    prev = line
    for x in range(0, len(line), bpp * 4):
        r, g, b2 = line[x], line[x + 1], line[x + 2]
        if max(r, g, b2) - min(r, g, b2) > 60:  # saturated: chart bars, not text
            coloured += 1
assert coloured > 2000, coloured
print("screenshot %dx%d, %d sampled saturated pixels (charts drawn)" % (w, h, coloured))
PY
rm -rf "$tmp"
