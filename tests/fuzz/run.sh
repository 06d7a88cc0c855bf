#!/bin/sh
# run.sh BUILD_DIR SECONDS - run every fuzz target built in BUILD_DIR for
# SECONDS each, seeded from the files listed in BUILD_DIR/fuzz/seeds/NAME.txt
# (paths or directories; missing ones are skipped). Fails on any finding.
set -eu
build=$1
seconds=${2:-20}
status=0
found=0
for list in "$build"/fuzz/seeds/*.txt; do
  [ -e "$list" ] || continue
  name=$(basename "$list" .txt)
  bin=$(find "$build" -type f -name "$name" -perm -u+x | head -n 1)
  [ -n "$bin" ] || continue
  found=$((found + 1))
  work=$(mktemp -d)
  mkdir -p "$work/corpus" "$work/artifacts"
  while IFS= read -r seed; do
    [ -n "$seed" ] || continue
    if [ -d "$seed" ]; then
      find "$seed" -type f -size -4M -exec cp {} "$work/corpus/" \; 2>/dev/null || true
    elif [ -f "$seed" ]; then
      cp "$seed" "$work/corpus/" 2>/dev/null || true
    fi
  done <"$list"
  echo "-- $name: $(ls "$work/corpus" | wc -l) seeds, ${seconds}s"
  if ! "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -artifact_prefix="$work/artifacts/" \
      -print_final_stats=1 "$work/corpus" >"$work/log" 2>&1; then
    echo "FUZZ FINDING in $name:"; tail -n 60 "$work/log"; status=1
  else
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)' "$work/log" || true
  fi
  rm -rf "$work"
done
echo "fuzz: $found targets run"
exit $status
