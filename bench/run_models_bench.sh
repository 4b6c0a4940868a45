#!/usr/bin/env bash
# Side-by-side benchmark of ctxpar and its PyTorch peers on the real model
# families' shapes (random weights in folders of the released layout), in one
# run so both sides see the same machine. Results are JSON lines.
#
#   bench/run_models_bench.sh BUILD_DIR OUT_DIR [cogvideox|vjepa2|vjepa2-bf16|cogvideox-bf16|qwen2_5_vl|qwen2_vl|all]
#
# cogvideox: CogVideoX-2b VAE shapes, 9 frames of 256x256; ctxpar 2 ranks x 1
#   thread (--norm exact) against bench/cogvideox_torch.py (whole video, float32,
#   2 threads).
# vjepa2: V-JEPA 2 ViT-L shapes, 16 frames of 256x256 (2048 tokens); ctxpar 2
#   ranks x 1 thread, no merging, against bench/vjepa2_torch.py (float32, eager
#   attention, 2 threads).
# vjepa2-bf16: the same shapes with bf16 weights; ctxpar --dtype bf16 and
#   --dtype f32 (2 ranks x 1 thread) against transformers' VJEPA2Model in bf16
#   and float32 (SDPA, 2 threads) on the current torch and transformers from
#   PyPI (bench/make_peer_venv.sh; docs/bf16.md). CTXPAR_DTYPES (default
#   "bf16 f32") and PEER_DTYPES (default "bf16,f32") choose the dtypes.
# cogvideox-bf16: the CogVideoX-2b VAE shapes, 9 frames of 256x256; ctxpar
#   --dtype f32 (float32 Winograd) and --dtype bf16 (the convs on the bf16
#   GEMM), 2 ranks x 1 thread, against diffusers' AutoencoderKLCogVideoX in
#   bf16 and float32 from PyPI, 2 threads. CTXPAR_DTYPES (default "f32
#   bf16") and PEER_DTYPES (default "bf16,f32") choose the dtypes: without a
#   bf16 unit, ctxpar's bf16 runs the portable GEMM (correctness, not speed).
# qwen2_5_vl, qwen2_vl: the released 7B vision towers (bf16 weights, random),
#   8 frames of 448x448 (4096 patches, 1024 merged tokens); ctxpar --dtype
#   f32 and bf16, 2 ranks x 1 thread, against transformers' own vision model
#   classes and video processor in bf16 and float32 (SDPA, 2 threads) from
#   PyPI (bench/qwen2_vl_transformers.py; docs/models/qwen2-vl.md).
#   QWEN_DTYPES (default "f32 bf16") and PEER_DTYPES (default "bf16,f32")
#   choose the dtypes: a CPU without a bf16 unit runs ctxpar's bf16 on the
#   portable GEMM, which is for correctness, not speed.
# REPEAT (default 3) sets each side's timed runs (median reported), ROUNDS
# (default 1; vjepa2-bf16 and cogvideox-bf16) repeats the whole ctxpar-then-
# peer pair: on a shared host the machine's speed drifts over minutes, and
# alternating rounds show both sides each state. CTXPAR_DTYPES and
# PEER_DTYPES narrow the dtypes of those two as for the Qwen pair.
# The environment's OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE halve OpenBLAS on
# this CPU: both are unset here, for the peers and ctxpar alike.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
usage="usage: run_models_bench.sh BUILD_DIR OUT_DIR [cogvideox|vjepa2|vjepa2-bf16|cogvideox-bf16|qwen2_5_vl|qwen2_vl|all]"
build=${1:?$usage}
out=${2:?$usage}
which=${3:-all}
mkdir -p "$out"
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
py=/usr/bin/python3
repeat=${REPEAT:-3}
rounds=${ROUNDS:-1}

echo "# machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"

# The bf16 pairs: ROUNDS rounds of ctxpar (2 ranks x 1 thread, in each of
# CTXPAR_DTYPES, default $1; "${ctxpar_args[@]}" name the model, input and
# JSON file) then the PyPI peer (bench/"${peer_args[@]}", 2 threads, in
# PEER_DTYPES), so both sides see each state of the machine.
bf16_pair_rounds() {
  echo "# CPU flags: $(grep -m1 '^flags' /proc/cpuinfo | grep -o -w 'avx512f\|avx512_bf16\|amx_bf16\|amx_tile' | tr '\n' ' ')"
  local peer round dtype
  peer=$(bash "$here/bench/make_peer_venv.sh" "${PEER_VENV:-/tmp/ctxpar-peers}")
  for round in $(seq "$rounds"); do
    echo "# round $round of $rounds"
    for dtype in ${CTXPAR_DTYPES:-$1}; do
      mpirun -np 2 "$build/ctxpar" "${ctxpar_args[@]}" --threads 1 --bench --dtype "$dtype" \
        --warmup 1 --repeat "$repeat"
    done
    "$peer" "$here/bench/${peer_args[0]}" "${peer_args[@]:1}" --dtype "${PEER_DTYPES:-bf16,f32}" \
      --threads 2 --warmup 1 --repeat "$repeat"
  done
}
if [[ $which == all || $which == cogvideox ]]; then
  model=/tmp/ctxpar-cogvideox-2b-bf16
  [[ -d $model ]] || bash "$here/bench/make_cogvideox_folder.sh" "$model" bf16 >/dev/null
  clip=$out/cogvideox-9x256.h5
  [[ -f $clip ]] || $py "$here/tests/cogvideox/make_video.py" "$clip" --frames 9 --height 256 --width 256
  mpirun -np 2 "$build/ctxpar" --model "$model" --input "$clip" --threads 1 --dtype f32 --bench \
    --warmup 1 --repeat "$repeat" --json "$out/cogvideox-ctxpar.jsonl"
  $py "$here/bench/cogvideox_torch.py" --model "$model" --frames 9 --size 256x256 --threads 2 \
    --warmup 1 --repeat "$repeat" --json "$out/cogvideox-torch.jsonl"
fi
if [[ $which == all || $which == vjepa2 ]]; then
  model=/tmp/ctxpar-vjepa2-vitl-f32
  [[ -d $model ]] || $py "$here/tests/vjepa2/make_folder.py" "$model" --preset vitl --dtype f32 >/dev/null
  clip=$out/vjepa2-16x256.h5
  [[ -f $clip ]] || $py "$here/tests/cogvideox/make_video.py" "$clip" --frames 16 --height 256 --width 256
  mpirun -np 2 "$build/ctxpar" --model "$model" --input "$clip" --threads 1 --no-merge --bench \
    --warmup 1 --repeat "$repeat" --json "$out/vjepa2-ctxpar.jsonl"
  $py "$here/bench/vjepa2_torch.py" --model "$model" --frames 16 --size 256 --threads 2 \
    --warmup 1 --repeat "$repeat" --json "$out/vjepa2-torch.jsonl"
fi
if [[ $which == all || $which == vjepa2-bf16 ]]; then
  model=/tmp/ctxpar-vjepa2-vitl-bf16
  [[ -d $model ]] || $py "$here/tests/vjepa2/make_folder.py" "$model" --preset vitl --dtype bf16 >/dev/null
  clip=$out/vjepa2-16x256.h5
  [[ -f $clip ]] || $py "$here/tests/cogvideox/make_video.py" "$clip" --frames 16 --height 256 --width 256
  ctxpar_args=(--model "$model" --input "$clip" --no-merge --json "$out/vjepa2-bf16-ctxpar.jsonl")
  peer_args=(vjepa2_transformers.py --model "$model" --frames 16 --size 256
    --json "$out/vjepa2-bf16-transformers.jsonl")
  bf16_pair_rounds "bf16 f32"
fi
if [[ $which == all || $which == cogvideox-bf16 ]]; then
  model=/tmp/ctxpar-cogvideox-2b-bf16
  [[ -d $model ]] || bash "$here/bench/make_cogvideox_folder.sh" "$model" bf16 >/dev/null
  clip=$out/cogvideox-9x256.h5
  [[ -f $clip ]] || $py "$here/tests/cogvideox/make_video.py" "$clip" --frames 9 --height 256 --width 256
  ctxpar_args=(--model "$model" --input "$clip" --json "$out/cogvideox-bf16-ctxpar.jsonl")
  peer_args=(cogvideox_diffusers.py --model "$model" --frames 9 --size 256
    --json "$out/cogvideox-bf16-diffusers.jsonl")
  bf16_pair_rounds "f32 bf16"
fi
for family in qwen2_5_vl qwen2_vl; do
  [[ $which == all || $which == "$family" ]] || continue
  model=/tmp/ctxpar-$family-7b-bf16
  [[ -d $model ]] || $py "$here/tests/qwen2_vl/make_folder.py" "$model" --family "$family" \
    --preset 7b --dtype bf16 --shards 2 --layout model.visual >/dev/null
  clip=$out/qwen-8x448.h5
  [[ -f $clip ]] || $py "$here/tests/cogvideox/make_video.py" "$clip" --frames 8 --height 448 --width 448
  echo "# CPU flags: $(grep -m1 '^flags' /proc/cpuinfo | grep -o -w 'avx2\|avx512f\|avx512_bf16\|amx_bf16\|amx_tile' | tr '\n' ' ')"
  for dtype in ${QWEN_DTYPES:-f32 bf16}; do
    mpirun -np 2 "$build/ctxpar" --model "$model" --input "$clip" --threads 1 --no-merge --bench \
      --dtype $dtype --warmup 1 --repeat "$repeat" --json "$out/$family-ctxpar.jsonl"
  done
  peer=$(bash "$here/bench/make_peer_venv.sh" "${PEER_VENV:-/tmp/ctxpar-peers}")
  (cd "$here/bench" && "$peer" qwen2_vl_transformers.py --model "$model" --video "$clip" \
    --dtype "${PEER_DTYPES:-bf16,f32}" --threads 2 --warmup 1 --repeat "$repeat" \
    --json "$out/$family-transformers.jsonl")
done
