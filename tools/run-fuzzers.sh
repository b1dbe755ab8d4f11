#!/usr/bin/env bash
# Runs every fuzz_<name> binary in <build>/bin for <seconds> on a scratch copy
# of tests/fuzz/corpus/<name> plus the seeds the build made in
# <build>/fuzz-seeds/<name>, FUZZ_JOBS of them at once (default: one per
# core). A crash input is left in <build>/fuzz-crashes; add it to
# tests/fuzz/regressions/<name>/ with the fix.
set -euo pipefail
build=$1 seconds=$2
jobs=${FUZZ_JOBS:-$(nproc)}
root=$(cd "$(dirname "$0")/.." && pwd)
crashes="$build/fuzz-crashes"
mkdir -p "$crashes"

run_one() {
  local bin=$1 name=${1##*/fuzz_}
  local corpus="$build/fuzz-corpus/$name"
  mkdir -p "$corpus"
  cp -n "$root/tests/fuzz/corpus/$name/"* "$corpus/" 2>/dev/null || true
  cp -n "$build/fuzz-seeds/$name/"* "$corpus/" 2>/dev/null || true
  cp -n "$root/tests/fuzz/regressions/$name/"* "$corpus/" 2>/dev/null || true
  "$bin" -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$crashes/$name-" -print_final_stats=1 "$corpus" >"$build/fuzz-$name.log" 2>&1
}

# Start them FUZZ_JOBS at a time; each one's verdict is reported in the
# order they were listed, once all have run.
declare -A pid_of
names=()
for bin in "$build"/bin/fuzz_*; do
  while (($(jobs -rp | wc -l) >= jobs)); do wait -n || true; done
  name=${bin##*/fuzz_}
  echo "fuzz_$name: ${seconds}s"
  run_one "$bin" &
  pid_of[$name]=$!
  names+=("$name")
done
status=0
for name in "${names[@]}"; do
  if wait "${pid_of[$name]}"; then
    grep -E 'stat::number_of_executed_units' "$build/fuzz-$name.log" || true
    echo "fuzz_$name: ok"
  else
    tail -n 40 "$build/fuzz-$name.log"
    echo "fuzz_$name: FAILED (artifacts in $crashes)"
    status=1
  fi
done
exit $status
