#!/usr/bin/env bash
# Peak memory per rank and VAE wall time of the full ctxpar run over frames and
# rank counts (synthetic video, preset small, 256x256 by default), plus chunk
# mode at one rank. Prints a fixed-width table and, with JSON=FILE, one JSON
# object per line. Results are recorded in docs/bench-vae.md.
#
#   bench/vae_sweep.sh BUILD_DIR [FRAMES...]    (RANKS="1 2 8" by default)
set -euo pipefail
build=${1:?usage: bench/vae_sweep.sh BUILD_DIR [FRAMES...]}
shift
frames_list=${*:-"64 128 256"}
ranks_list=${RANKS:-"1 2 8"}
size=${SIZE:-256x256}
preset=${PRESET:-small}
json=${JSON:-}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "# ctxpar $("$build/ctxpar" --version | cut -d' ' -f2), preset $preset, $size, $(nproc) cores, $(mpirun --version | head -1)"
printf "%-6s %6s %6s %8s %10s %12s %12s %12s %10s\n" mode frames ranks threads "fr/rank" "tracked MiB" "RSS MiB" "plan MiB" "VAE s"
one() {  # mode frames ranks [extra args]
  local mode=$1 frames=$2 ranks=$3; shift 3
  local log=$tmp/log
  mpirun --bind-to none -np "$ranks" "$build/ctxpar" --preset "$preset" --size "$size" \
    --frames "$frames" --out "$tmp/out.h5" --overwrite "$@" > "$log" 2>&1 || { cat "$log"; exit 1; }
  local threads tracked rss plan vae
  threads=$(sed -n 's/.* \([0-9]*\) thread(s) per rank/\1/p' "$log")
  read -r tracked rss plan < <(sed -n 's/.*: \([0-9.]*\) MiB counted by the allocator, \([0-9.]*\) MiB resident; plan estimated \([0-9.]*\) MiB/\1 \2 \3/p' "$log")
  vae=$(awk '$1=="vae" && NF==2 {print $2}' "$log")
  printf "%-6s %6d %6d %8d %10d %12.1f %12.1f %12.1f %10.2f\n" "$mode" "$frames" "$ranks" "$threads" \
    $((frames / ranks)) "$tracked" "$rss" "$plan" "$vae"
  [[ -n "$json" ]] && printf '{"mode":"%s","frames":%d,"ranks":%d,"threads":%d,"size":"%s","preset":"%s","peak_tracked_mib":%s,"peak_rss_mib":%s,"plan_mib":%s,"vae_seconds":%s}\n' \
    "$mode" "$frames" "$ranks" "$threads" "$size" "$preset" "$tracked" "$rss" "$plan" "$vae" >> "$json"
  return 0
}
for frames in $frames_list; do
  for ranks in $ranks_list; do one exact "$frames" "$ranks"; done
done
for frames in $frames_list; do one chunk "$frames" 1 --norm chunk --chunk-frames 16; done
