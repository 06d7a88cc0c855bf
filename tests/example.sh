#!/bin/sh
# example.sh [BUILD_DIR] [--lang zh-CN] - the bundled example behind README's
# first command. Builds a synthetic upload with the project's own writers
# (never a corpus copy) under BUILD_DIR/example/upload:
#   procmon.pml  Procmon capture from tests/pml/pml_writer.c (pml_synth): TiWorker.exe's
#                open of a .cab under C:\Windows\SoftwareDistribution\Download fails with
#                ACCESS DENIED while a third-party filter (ContosoFlt.sys) issues nested I/O
#   fltmc.txt    'fltmc filters' as the customer would paste it
#   CBS.log      the servicing stack's own failure on the same file (0x80070005)
# then runs 'fltblame analyze' on the folder and prints the verdict.
# Exit status: 0 when the verdict came out as expected (findings made).
set -eu
build=${1:-build}
shift 2>/dev/null || true
fltblame="$build/daemon/fltblame"
synth="$build/tests/pml_synth"
[ -x "$synth" ] || synth="$build/pml_synth"
[ -x "$fltblame" ] || { echo "example.sh: build first: $fltblame not found" >&2; exit 2; }
if [ ! -x "$synth" ]; then
  synth=$(find "$build" -name pml_synth -type f -perm -u+x | head -n 1)
fi
[ -n "$synth" ] && [ -x "$synth" ] || { echo "example.sh: pml_synth not built (configure with tests on)" >&2; exit 2; }

up="$build/example/upload"
rm -rf "$build/example"
mkdir -p "$up"
"$synth" example "$up/procmon.pml"
printf '%s\r\n' '' \
  'Filter Name                     Num Instances    Altitude    Frame' \
  '------------------------------  -------------  ------------  -----' \
  'PROCMON24                               4       385200         0' \
  'ContosoFlt                              3       321000         0' \
  'WdFilter                                4       328010         0' \
  'luafv                                   1       135000         0' \
  'FileInfo                                4        40500         0' > "$up/fltmc.txt"
printf '%s\r\n' \
  '2022-02-22 18:40:01, Info                  CBS    TI: --- Initializing Trusted Installer ---' \
  '2022-02-22 18:40:01, Info                  CBS    Universal Time is: 2022-02-22 10:40:01.000' \
  '2022-02-22 18:40:02, Error                 CBS    Failed to create file: \\?\C:\Windows\SoftwareDistribution\Download\a1b2c3d4e5f6\Windows10.0-KB5021233-x64.cab [HRESULT = 0x80070005 - E_ACCESSDENIED]' \
  > "$up/CBS.log"

set +e
"$fltblame" analyze "$up" --id example --out "$build/example/verdict" "$@"
rc=$?
set -e
cat "$build/example/verdict/verdict.txt"
# 1 = findings were made, which is what this example must produce
[ "$rc" -eq 1 ] || { echo "example.sh: unexpected exit status $rc" >&2; exit 1; }
grep -q 'ContosoFlt.sys' "$build/example/verdict/verdict.txt"
