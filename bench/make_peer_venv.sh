#!/usr/bin/env bash
# The benchmark peers: the current torch, transformers and diffusers from
# PyPI in a virtual environment of their own (Debian's python3-torch 1.13 is
# what the tests use; the peers must be today's releases). Idempotent.
#
#   bench/make_peer_venv.sh [VENV]      (default /tmp/ctxpar-peers)
#
# Prints the venv's python. Needs a Python 3.9+ with the venv module (the
# machine's python3; on plain Debian, apt-get install python3-venv).
set -euo pipefail
venv=${1:-/tmp/ctxpar-peers}
if [[ ! -x $venv/bin/python ]]; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --upgrade pip >&2
fi
"$venv/bin/python" -c "import torch, torchvision, transformers, diffusers, h5py, safetensors" \
  2>/dev/null ||
  "$venv/bin/pip" install -q torch torchvision transformers diffusers safetensors numpy h5py >&2
echo "$venv/bin/python"
