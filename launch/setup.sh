#!/usr/bin/env bash
# Set up ctxpar on Debian 12 from nothing: install every dependency with apt,
# configure and build, then optionally run the main job or the whole test
# suite. The README's Quick start and CI call exactly this script.
#
#   bash launch/setup.sh            install + build
#   bash launch/setup.sh --run      ... then mpirun -np 8 ctxpar --frames 256
#   bash launch/setup.sh --test     ... then every test (ctest)
#
# Environment: BUILD_DIR (default build), CTXPAR_SKIP_APT=1 to skip apt,
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
# --test also runs the Slurm test (a throwaway single-node cluster).
test_packages=(slurm-wlm munge)
if [[ "$mode" == --test ]]; then packages+=("${test_packages[@]}"); fi

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

case "$mode" in
  --run)
    echo "setup: mpirun -np 8 $build_dir/ctxpar --frames 256 --overwrite"
    mpirun -np 8 "$build_dir/ctxpar" --frames 256 --overwrite
    ;;
  --test)
    cd "$build_dir"
    ctest --output-on-failure --timeout 600 -j 2
    ;;
  "") ;;
  *) echo "setup: unknown mode '$mode' (use --run or --test)" >&2; exit 2 ;;
esac
