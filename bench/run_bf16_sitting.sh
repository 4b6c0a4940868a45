#!/usr/bin/env bash
# Every measurement docs/bf16.md asks of a machine with a bf16 unit (AMX or
# AVX512-BF16), in one sitting, so that both sides of each comparison see
# the same machine and the whole log can be recorded as it came out:
#
#   bench/run_bf16_sitting.sh BUILD_DIR OUT_DIR [quick]
#
# 1. the CPU (model, family, the bf16 flags) and the tests of every bf16
#    kernel this CPU can run (the AMX ones are skipped, exit 77, without it);
# 2. bench/fma_peak: float32 FMA, VDPBF16PS and AMX TDPBF16PS peaks;
# 3. bench_gemm_bf16 on the ViT-L and conv shapes, each path this CPU has;
# 4. bench_conv: the CogVideoX conv shapes, float32 (auto) and bf16;
# 5. the default job, mpirun -np 8 ctxpar --frames 256, --dtype f32 and bf16;
# 6. run_models_bench.sh vjepa2-bf16 and cogvideox-bf16: ctxpar against the
#    current torch, transformers and diffusers from PyPI, both in bf16;
# 7. fma_peak again, to show whether the cores stayed the cores.
# "quick" keeps 1-5 and one repeat of everything (a check that the script
# runs, not a measurement). The log goes to OUT_DIR/bf16-sitting.log, the
# JSON lines beside it. OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset, for
# ctxpar and the peers alike.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
usage="usage: run_bf16_sitting.sh BUILD_DIR OUT_DIR [quick]"
build=$(cd "${1:?$usage}" && pwd)
out=${2:?$usage}
quick=${3:-}
mkdir -p "$out"
out=$(cd "$out" && pwd)
log=$out/bf16-sitting.log
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
repeat=3
[[ $quick == quick ]] && repeat=1

exec > >(tee "$log") 2>&1
set -x
date -u
grep -m1 'model name' /proc/cpuinfo
grep -m1 'cpu family' /proc/cpuinfo
grep -m1 '^model\s' /proc/cpuinfo
grep -m1 '^flags' /proc/cpuinfo | grep -o -w 'avx2\|avx512f\|avx512_bf16\|amx_tile\|amx_bf16' | tr '\n' ' '
nproc
(cd "$build" && ctest -R 'gemm_bf16|attention_bf16|conv_bf16' --output-on-failure) || true

# The kernels' own benchmarks pin one OpenMP thread per core: unpinned, two
# threads sometimes shared a core for a whole run (Zen 5: the bf16 GEMM at
# 2 threads gave 290-330 GFLOP/s in some runs, 720-800 in others).
pin=(env OMP_PROC_BIND=close OMP_PLACES=cores)
"${pin[@]}" "$build/bench/fma_peak" --repeat 5
"${pin[@]}" "$build/bench/bench_gemm_bf16" --repeat "$repeat"
for path in amx avx512bf16 avx512 avx2; do
  "${pin[@]}" "$build/bench/bench_gemm_bf16" --repeat "$repeat" --path "$path" --threads 1 || true
done
"${pin[@]}" "$build/bench/bench_conv" --path auto,bf16 --max-frames 1 --repeat "$repeat" --threads 1 --no-sgemm
"${pin[@]}" "$build/bench/bench_conv" --path auto,bf16 --max-frames 1 --repeat "$repeat" --threads 2 --no-sgemm

frames=256
[[ $quick == quick ]] && frames=32
for dtype in f32 bf16; do
  mpirun -np 8 "$build/ctxpar" --frames "$frames" --dtype "$dtype" --bench --warmup 1 \
    --repeat "$repeat" --out "$out/default-job.h5" --overwrite --json "$out/default-job.jsonl"
done

if [[ $quick != quick ]]; then
  REPEAT=$repeat bash "$here/bench/run_models_bench.sh" "$build" "$out" vjepa2-bf16
  REPEAT=$repeat bash "$here/bench/run_models_bench.sh" "$build" "$out" cogvideox-bf16
fi
# The peaks again at the end: on a shared host the two vCPUs sometimes
# share one core for minutes (Zen 5: VDPBF16PS at 2 threads 426 GFLOP/s in
# such a stretch, 854-956 otherwise), which slows every 2-rank and 2-thread
# figure of that stretch; the two peak lines bracket the sitting.
"${pin[@]}" "$build/bench/fma_peak" --repeat 5
date -u
echo "bf16 sitting done: $log"
