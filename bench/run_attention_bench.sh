#!/bin/sh
# Attention benchmark, side by side: ctxpar's tiled kernel, OpenBLAS sgemm
# doing the same two matrix products, and PyTorch softmax(q@k^T*scale)@v, at
# the same shapes and thread counts; prints each tool's table, then one
# combined table with the ratios (ctxpar / sgemm, ctxpar / torch).
#
#   bench/run_attention_bench.sh BUILD_DIR [--n 4096,8192,16384] [--threads 1,2]
#                                [--repeat 5] [--python /usr/bin/python3]
# JSON lines of every point are kept in BUILD_DIR/bench-attention.jsonl.
set -eu
usage() { echo "usage: $0 BUILD_DIR [--n LIST] [--threads LIST] [--repeat K] [--python PY]" >&2; exit 2; }
[ $# -ge 1 ] || usage
build=$1; shift
sizes=4096,8192,16384 threads=1,2 repeat=5 python=/usr/bin/python3
while [ $# -gt 0 ]; do
    case $1 in
        --n) sizes=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --repeat) repeat=$2; shift 2 ;;
        --python) python=$2; shift 2 ;;
        *) usage ;;
    esac
done
bench=$build/bench_attention
[ -x "$bench" ] || bench=$build/bench/bench_attention
if [ ! -x "$bench" ]; then
    echo "$0: no bench_attention under $build (build it: cmake --build $build --target bench_attention)" >&2
    exit 1
fi
here=$(cd "$(dirname "$0")" && pwd)
json=$build/bench-attention.jsonl
c_json=$(mktemp) t_json=$(mktemp)
trap 'rm -f "$c_json" "$t_json"' EXIT

echo "# machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, load before start: $(cut -d' ' -f1-3 /proc/loadavg)"
"$bench" --n "$sizes" --threads "$threads" --repeat "$repeat" --json "$c_json"
echo
"$python" "$here/attention_torch.py" --n "$sizes" --threads "$threads" --repeat "$repeat" --json "$t_json"
echo
cat "$c_json" "$t_json" > "$json"
"$python" - "$json" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {(r["impl"], r["n"], r["threads"]): r for r in rows}
print("# combined: GFLOP/s of medians (4*N^2*head_dim*heads / s), peak RSS MiB, ratios of GFLOP/s;")
print("# cpu% per impl (ctxpar/sgemm/torch): below ~95 another process shared the cores")
print(f"{'N':>6} {'thr':>3} {'ctxpar':>8} {'sgemm':>8} {'torch':>8} {'vs_sgemm':>9} {'vs_torch':>9}"
      f" {'mem_ctxpar':>11} {'mem_sgemm':>10} {'mem_torch':>10}  {'cpu%':>11}")
for (impl, n, t), c in sorted(by.items(), key=lambda kv: (kv[0][1], kv[0][2])):
    if impl != "ctxpar":
        continue
    s, p = by.get(("sgemm", n, t)), by.get(("torch", n, t))
    f = lambda r, k, fmt: format(r[k], fmt) if r else "-"
    print(f"{n:>6} {t:>3} {c['gflops']:>8.1f} {f(s, 'gflops', '8.1f'):>8} {f(p, 'gflops', '8.1f'):>8}"
          f" {(format(c['gflops'] / s['gflops'], '9.2f') if s else '-'):>9}"
          f" {(format(c['gflops'] / p['gflops'], '9.2f') if p else '-'):>9}"
          f" {c['peak_mib']:>11.1f} {f(s, 'peak_mib', '10.1f'):>10} {f(p, 'peak_mib', '10.1f'):>10}"
          f"  {'/'.join(format(r.get('cpu_pct', float('nan')), '.0f') if r else '-' for r in (c, s, p)):>11}")
PY
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg); JSON lines: $json"
