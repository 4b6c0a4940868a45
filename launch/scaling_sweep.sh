#!/usr/bin/env bash
# Strong and weak scaling of ctxpar over a list of rank counts. Each point is
# one `ctxpar --bench --json` call, so a point is measured like any benchmark
# (warm-up, repeats, median and spread per stage) and lands as one JSON line:
#   strong: the same video (--frames N in all) on every rank count
#   weak:   the video grows with the ranks (--frames-per-rank F)
# On one node the ranks start with mpirun; inside a Slurm job (SLURM_JOB_ID
# set) with srun. Results: DIR/strong.jsonl and DIR/weak.jsonl, one line per
# rank count, and each point's terminal table in DIR/<kind>-np<P>.log.
# Plot them with launch/plot_scaling.py.
#
#   launch/scaling_sweep.sh [options] [-- more ctxpar options]
#     --ranks "1 2 4 8"     rank counts (default "1 2 4 8")
#     --frames N            strong scaling: frames in all (default 32)
#     --frames-per-rank F   weak scaling: frames per rank (default 4)
#     --preset P            model preset (default small)
#     --size WxH            frame size (default 128x128)
#     --repeat K            timed runs per point (default 3)
#     --warmup W            untimed runs per point (default 1)
#     --threads T           threads per rank (default 1)
#     --only strong|weak    one of the two sweeps (default both)
#     --out-dir DIR         where results go (default scaling-<date>-<time>)
#     --append              add to existing DIR/*.jsonl instead of refusing
#     --bin PATH            the ctxpar program (default $CTXPAR_BIN, else build/ctxpar)
#
# Frames: a multiple of the temporal compression (4 for every preset), and at
# least 4 per rank (a rank owns whole groups of 4 frames). Every point is
# checked with --dry-run before the first timed run, so a bad combination
# stops the sweep at once with ctxpar's own message.
#
# Environment: CTXPAR_MPIEXEC (default mpirun), CTXPAR_SLURM_MPI (srun's --mpi
# plugin, default pmix). More ranks than cores is allowed (--oversubscribe,
# srun --overcommit); the timings then measure time-sharing, not scaling.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ranks_list="1 2 4 8"
frames=32
frames_per_rank=4
preset=small
size=128x128
repeat=3
warmup=1
threads=1
only=""
out_dir=""
append=0
bin=${CTXPAR_BIN:-$here/build/ctxpar}
extra=()

die() {
  echo "scaling_sweep: $*" >&2
  exit 2
}

need_value() { (($1 >= 2)) || die "$2 needs a value"; }

while (($#)); do
  case "$1" in
    --ranks) need_value $# "$1"; ranks_list=$2; shift 2 ;;
    --frames) need_value $# "$1"; frames=$2; shift 2 ;;
    --frames-per-rank) need_value $# "$1"; frames_per_rank=$2; shift 2 ;;
    --preset) need_value $# "$1"; preset=$2; shift 2 ;;
    --size) need_value $# "$1"; size=$2; shift 2 ;;
    --repeat) need_value $# "$1"; repeat=$2; shift 2 ;;
    --warmup) need_value $# "$1"; warmup=$2; shift 2 ;;
    --threads) need_value $# "$1"; threads=$2; shift 2 ;;
    --only) need_value $# "$1"; only=$2; shift 2 ;;
    --out-dir) need_value $# "$1"; out_dir=$2; shift 2 ;;
    --append) append=1; shift ;;
    --bin) need_value $# "$1"; bin=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

is_count() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }
for r in $ranks_list; do
  is_count "$r" || die "--ranks: '$r' is not a positive integer (e.g. --ranks \"1 2 4 8\")"
done
[[ -n ${ranks_list// /} ]] || die "--ranks: empty list"
is_count "$frames" || die "--frames: '$frames' is not a positive integer"
is_count "$frames_per_rank" || die "--frames-per-rank: '$frames_per_rank' is not a positive integer"
is_count "$repeat" || die "--repeat: '$repeat' is not a positive integer"
[[ $warmup =~ ^[0-9]+$ ]] || die "--warmup: '$warmup' is not a non-negative integer"
is_count "$threads" || die "--threads: '$threads' is not a positive integer"
case "$only" in
  "") kinds=(strong weak) ;;
  strong|weak) kinds=("$only") ;;
  *) die "--only: '$only' is not one of strong, weak" ;;
esac
[[ -x $bin ]] || die "no ctxpar program at '$bin'; build it (see README) or pass --bin / set CTXPAR_BIN"
out_dir=${out_dir:-scaling-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out_dir"
for kind in "${kinds[@]}"; do
  if [[ -e $out_dir/$kind.jsonl && $append == 0 ]]; then
    die "$out_dir/$kind.jsonl exists; pass --append to add to it, or choose another --out-dir"
  fi
done

cores=$(nproc)
if [[ -n ${SLURM_JOB_ID:-} ]]; then
  launcher="srun"
else
  launcher="mpirun"
  mpiexec=${CTXPAR_MPIEXEC:-mpirun}
  command -v "$mpiexec" >/dev/null || die "'$mpiexec' not found; install Open MPI or set CTXPAR_MPIEXEC"
  if [[ $(id -u) == 0 ]]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  fi
fi
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads

# launch P CMD...: start P ranks of CMD on this node or in this Slurm job.
launch() {
  local p=$1
  shift
  if [[ $launcher == srun ]]; then
    local over=()
    ((p > ${SLURM_NTASKS:-$p})) && over=(--overcommit)
    srun --mpi="${CTXPAR_SLURM_MPI:-pmix}" --kill-on-bad-exit=1 --ntasks="$p" \
         --cpus-per-task="$threads" "${over[@]}" "$@"
  else
    # Busy-polling ranks that share a core slow each other down; yielding
    # when idle is Open MPI's advice for oversubscribed nodes.
    if ((p * threads > cores)); then
      OMPI_MCA_mpi_yield_when_idle=1 "$mpiexec" --oversubscribe --bind-to none -np "$p" "$@"
    else
      "$mpiexec" --bind-to none -np "$p" "$@"
    fi
  fi
}

frames_for() { # kind ranks
  if [[ $1 == strong ]]; then echo "$frames"; else echo $((frames_per_rank * $2)); fi
}

common=(--preset "$preset" --size "$size" --threads "$threads" "${extra[@]}")

echo "# scaling sweep: ${kinds[*]}; ranks $ranks_list; preset $preset, $size;" \
     "strong $frames frames, weak $frames_per_rank frames per rank; $threads thread(s) per rank;" \
     "$repeat timed run(s) after $warmup warm-up; $launcher on $(hostname -s) ($cores cores)"

# Check every point first: a plan that cannot work fails in seconds here,
# not after the points before it have run.
for kind in "${kinds[@]}"; do
  for p in $ranks_list; do
    f=$(frames_for "$kind" "$p")
    if ! err=$(launch "$p" "$bin" "${common[@]}" --frames "$f" --dry-run 2>&1 >/dev/null); then
      echo "$err" | grep -m1 'ctxpar: error' >&2 || echo "$err" >&2
      die "$kind scaling point with $p rank(s), $f frames cannot run (above); change --frames," \
          "--frames-per-rank or --ranks"
    fi
  done
done

for kind in "${kinds[@]}"; do
  for p in $ranks_list; do
    f=$(frames_for "$kind" "$p")
    log=$out_dir/$kind-np$p.log
    note=""
    ((p * threads > cores)) && note=" (oversubscribed: $((p * threads)) threads on $cores cores)"
    echo "$kind: $p rank(s), $f frames$note"
    if ! launch "$p" "$bin" "${common[@]}" --frames "$f" --bench --repeat "$repeat" \
         --warmup "$warmup" --json "$out_dir/$kind.jsonl" >"$log" 2>&1; then
      grep -m1 'ctxpar: error' "$log" >&2 || tail -n 20 "$log" >&2
      die "$kind scaling point with $p rank(s) failed; its output is in $log"
    fi
    grep -E '^(total|frames/s) ' "$log" | sed 's/^/    /'
  done
done
files=()
for kind in "${kinds[@]}"; do files+=("$out_dir/$kind.jsonl"); done
echo "results: ${files[*]}"
echo "plot:    python3 $here/launch/plot_scaling.py ${files[*]} -o $out_dir/scaling.png"
