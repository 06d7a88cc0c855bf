#!/bin/sh
# compare.sh BUILD PML CSV.gz [EXAMPLES] [-- extra fltblame pml options]
#
# Writes the CSV of PML with `BUILD/daemon/fltblame pml --csv`, in the column
# order of Procmon's own export CSV.gz, and prints per-column agreement (rows
# paired in order) and the first EXAMPLES (default 3) differing rows of each
# column. A CSV with 24-hour "15:42:22,8459553" times is taken as an es-ES
# export: --locale es-ES --tz Europe/Madrid are added, and when its row count
# differs from the capture's, Profiling events are filtered out (Procmon's
# default filter hides them). Exit 0 when row counts match and every column
# agrees; 1 otherwise.
set -eu
if [ $# -lt 3 ]; then
  echo "usage: $0 BUILD PML CSV.gz [EXAMPLES] [-- fltblame pml options]" >&2
  exit 2
fi
build=$1 pml=$2 csv=$3
shift 3
examples=3
if [ $# -gt 0 ] && [ "$1" != "--" ]; then examples=$1; shift; fi
[ $# -gt 0 ] && [ "$1" = "--" ] && shift
exec python3 - "$build/daemon/fltblame" "$pml" "$csv" "$examples" "$@" <<'PY'
import csv, gzip, io, re, subprocess, sys

exe, pml, csv_path, examples = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
extra = sys.argv[5:]

def rows_of(text):
    if text.startswith('\ufeff'):
        text = text[1:]
    return list(csv.reader(io.StringIO(text, newline='')))

with gzip.open(csv_path, 'rb') as fh:
    raw = fh.read()
expected = rows_of(raw.decode('utf-8'))
header, expected = expected[0], expected[1:]
args = [exe, 'pml', pml, '--csv', '--columns', ','.join(header)] + extra
spanish = bool(expected) and re.match(r'^\d+:\d\d:\d\d,\d{7}$', expected[0][0] if header[0] == 'Time of Day' else '')
if spanish and '--locale' not in extra:
    args += ['--locale', 'es-ES']
if spanish and '--tz' not in extra:
    args += ['--tz', 'Europe/Madrid']

def run(a):
    p = subprocess.run(a, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        sys.stderr.write(p.stderr.decode('utf-8', 'replace'))
        sys.exit('fltblame failed (exit %d): %s' % (p.returncode, ' '.join(a)))
    return p.stdout.decode('utf-8')

out = run(args)
got = rows_of(out)
# Byte level: BOM, quoting and the CR LF after the header line.
first_line = raw[:raw.find(b'\n') + 1]
if out.encode('utf-8').startswith(first_line):
    print('header line: byte-identical (BOM, quotes, CR LF)')
else:
    print('header line differs at byte level:\n  expected %r\n  got      %r' % (first_line, out.encode('utf-8')[:len(first_line)]))
if got and got[0] != header:
    print('header differs:\n  expected %r\n  got      %r' % (header, got[0]))
got = got[1:]
filtered = ''
if len(got) != len(expected) and '--filter' not in extra:
    got2 = rows_of(run(args + ['--filter', 'class!=Profiling']))[1:]
    if len(got2) == len(expected):
        got, filtered = got2, ' (Profiling events filtered out)'
print('%s: %d rows expected, %d written%s%s' % (pml.split('/')[-1], len(expected), len(got), filtered,
      ' [es-ES export: --locale es-ES --tz Europe/Madrid]' if spanish else ''))
n = min(len(got), len(expected))
all_same = 0
bad = {}
for i in range(n):
    e, g = expected[i], got[i]
    same = True
    for c, name in enumerate(header):
        ev = e[c] if c < len(e) else None
        gv = g[c] if c < len(g) else None
        if ev != gv:
            same = False
            bad.setdefault(c, []).append(i)
    all_same += same
print('%-18s %9s %9s  %s' % ('column', 'agree', 'differ', '%'))
for c, name in enumerate(header):
    d = len(bad.get(c, []))
    print('%-18s %9d %9d  %.3f' % (name, n - d, d, 100.0 * (n - d) / n if n else 0))
print('%-18s %9d %9d  %.3f' % ('(all columns)', all_same, n - all_same, 100.0 * all_same / n if n else 0))
for c, name in enumerate(header):
    for i in bad.get(c, [])[:examples]:
        print('  %s row %d (event #%d):\n    expected %r\n    got      %r' % (name, i + 1, i, expected[i][c],
              got[i][c] if c < len(got[i]) else None))
sys.exit(0 if len(got) == len(expected) and all_same == n else 1)
PY
