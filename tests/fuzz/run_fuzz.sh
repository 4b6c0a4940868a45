#!/usr/bin/env bash
# One bounded fuzzing run: libFuzzer on a scratch copy of the kept corpus
# (the source tree is never written), for SECONDS seconds, one process.
# A crash, a leak, a sanitizer report or an input slower than 10 s fails,
# leaving the input under WORKDIR/artifacts/ and naming it; the kept corpus
# then gains that input under tests/fuzz/crashers/<target> with the fix.
#
#   run_fuzz.sh FUZZER SECONDS WORKDIR INPUT_DIR...
set -euo pipefail
fuzzer=$1 seconds=$2 work=$3
shift 3
rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
"$fuzzer" -max_total_time="$seconds" -error_exitcode=1 -timeout=10 -rss_limit_mb=3072 -max_len=65536 \
  -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus" "$@" \
  >"$work/log" 2>&1 || {
  rc=$?
  tail -n 60 "$work/log"
  echo "fuzz: $(basename "$fuzzer") failed (exit $rc); inputs: $(ls "$work/artifacts")"
  exit 1
}
grep -E "^stat::(number_of_executed_units|peak_rss_mb|new_units_added)|Done [0-9]+ runs" \
  "$work/log" || true
echo "fuzz: $(basename "$fuzzer") ${seconds}s, no crash"
