#!/usr/bin/env bash
# A long run of one fuzz target: runs of PROPTEST_CASES cases per test, each with a fresh random
# seed, until SECONDS_TOTAL have passed or one fails. Runs the already-built test binary, so it
# never competes with a cargo build. Prints the run time and the cases executed.
#
#   fuzz/run-long.sh <target> [seconds, default 600] [cases per test per run, default 20000]
set -euo pipefail
target=$1
total=${2:-600}
cases=${3:-20000}
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vastgate/target}"
binary=$(cargo test --release --offline --lib --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["lib"]:
        print(m["executable"])')
# A private copy: a build during the run may replace or remove the original.
copy=$(mktemp /tmp/fuzz-bin.XXXXXX)
cp "$binary" "$copy"
chmod +x "$copy"
binary=$copy
trap 'rm -f "$copy"' EXIT
tests=$("$binary" --list "fuzz::$target::" 2>/dev/null | grep -c ': test$' || true)
replays=$("$binary" --list "fuzz::$target::replay_corpus" 2>/dev/null | grep -c ': test$' || true)
properties=$((tests - replays))
start=$(date +%s)
runs=0
while (( $(date +%s) - start < total )); do
  PROPTEST_CASES=$cases "$binary" --test-threads=1 --quiet "fuzz::$target::" >/tmp/fuzz-$target.log 2>&1 || {
    echo "FAILED on run $((runs + 1)); see /tmp/fuzz-$target.log and fuzz/regressions/$target.txt"
    exit 1
  }
  runs=$((runs + 1))
done
elapsed=$(( $(date +%s) - start ))
echo "$target: ${elapsed} s, $runs runs x $cases cases x $properties property tests = $((runs * cases * properties)) cases, 0 crashes"
