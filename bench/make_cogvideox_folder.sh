#!/bin/sh
# Writes a diffusers AutoencoderKLCogVideoX folder with the real CogVideoX-2b
# shapes and seeded random bf16 weights (about 185 MB) for the benchmarks.
# It goes under /tmp by default: the file is large and must never be committed.
#   bench/make_cogvideox_folder.sh [DIR] [DTYPE]   (defaults /tmp/ctxpar-cogvideox-2b-bf16 bf16)
set -e
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-/tmp/ctxpar-cogvideox-2b-bf16}
dtype=${2:-bf16}
/usr/bin/python3 "$here/../tests/cogvideox/make_folder.py" "$dir" --preset real --dtype "$dtype" --seed 0
