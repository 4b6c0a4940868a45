#!/bin/sh
# Run the conv benchmark side by side with PyTorch and print one table with the
# ratio ours/torch (speed: torch_ms / ours_ms, >1 means ctxpar is faster) and
# each side's % of the FMA peak that bench/fma_peak measures first (per core,
# 512-bit, 1 thread, best of its runs). Builds nothing: pass a build directory that already has
# bench_conv and fma_peak. Extra arguments go to both bench_conv and
# conv_torch.py (--threads, --repeat, --max-frames, --only).
#
#   [CTXPAR_FMA_PEAK=G] bench/run_conv_bench.sh BUILD_DIR [--threads N] [--repeat R]
#                                              [--max-frames F] [--only A,B]
set -eu
bench_conv=
for candidate in "${1:-}/bench/bench_conv" "${1:-}/bench_conv"; do
    if [ $# -ge 1 ] && [ -x "$candidate" ]; then bench_conv=$candidate; break; fi
done
if [ -z "$bench_conv" ]; then
    echo "usage: $0 BUILD_DIR [--repeat R]  (no bench_conv in BUILD_DIR/bench;" \
         "build it first: cmake --build BUILD_DIR --target bench_conv)" >&2
    exit 2
fi
fma_peak=$(dirname "$bench_conv")/fma_peak
shift
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-/usr/bin/python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# CTXPAR_FMA_PEAK=G uses G GFLOP/s per core (a peak measured on a quiet machine)
# instead of measuring it now.
if [ -n "${CTXPAR_FMA_PEAK:-}" ]; then
    peak=$CTXPAR_FMA_PEAK
else
    "$fma_peak" | tee "$tmp/peak.txt" | grep -v '^{' >&2
    peak=$("$python" -c 'import json,sys
for l in open(sys.argv[1]):
    if l.startswith("{"):
        r = json.loads(l)
        if r["bits"] == 512 and r["threads"] == 1: print(r["best_gflops"])' "$tmp/peak.txt")
fi
"$bench_conv" --peak "$peak" "$@" | tee "$tmp/ours.txt" | grep -v '^{' >&2
"$python" "$here/conv_torch.py" "$@" | tee "$tmp/torch.txt" | grep -v '^{' >&2

"$python" - "$tmp/ours.txt" "$tmp/torch.txt" "$peak" <<'PY'
import json, sys
def rows(path):
    return {(r["threads"], r["shape"]): r for r in
            (json.loads(l) for l in open(path) if l.startswith("{"))}
ours, torch, peak = rows(sys.argv[1]), rows(sys.argv[2]), float(sys.argv[3])
print("# conv: ctxpar vs OpenBLAS sgemm (same GEMM shape) vs torch conv3d; median ms, GFLOP/s")
print("# FMA peak %.1f GFLOP/s per core; %%pk = GFLOP/s / (peak x threads)" % peak)
print("# ratio = torch_ms / ctxpar_ms (>= 1.0: ctxpar at least as fast); cpu = GFLOP per")
print("# second of process CPU time (1 thread: the on-core rate, robust to other jobs)")
print("%-3s %-9s %8s %10s %8s %5s %6s %8s %10s %8s %5s %6s %6s" % ("thr", "shape", "GFLOP",
      "ctxpar_ms", "GFLOP/s", "%pk", "cpu", "sgemm", "torch_ms", "GFLOP/s", "%pk", "cpu",
      "ratio"))
for threads in sorted({k[0] for k in ours}):
    tot_ours = tot_torch = 0.0
    for key in [k for k in ours if k[0] == threads]:
        o, t = ours[key], torch.get(key)
        if t is None:
            continue
        tot_ours += o["ms"]; tot_torch += t["ms"]
        print("%-3d %-9s %8.2f %10.2f %8.1f %5.1f %6.1f %8.1f %10.2f %8.1f %5.1f %6.1f %6.2f" % (
              threads, key[1], o["gflop"], o["ms"], o["gflops"],
              100 * o["gflops"] / (peak * threads), o["cpu_gflops"], o["sgemm_gflops"], t["ms"],
              t["gflops"], 100 * t["gflops"] / (peak * threads), t["cpu_gflops"],
              t["ms"] / o["ms"]))
        print(json.dumps({"bench": "conv_compare", "threads": threads, "shape": key[1],
                          "ctxpar_ms": o["ms"], "torch_ms": t["ms"],
                          "ratio": round(t["ms"] / o["ms"], 3)}), file=sys.stderr)
    print("%-3d %-9s %8s %10.2f %8s %5s %6s %8s %10.2f %8s %5s %6s %6.2f" % (threads, "total",
          "", tot_ours, "", "", "", "", tot_torch, "", "", "", tot_torch / tot_ours))
PY
