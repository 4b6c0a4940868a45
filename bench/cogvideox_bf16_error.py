#!/usr/bin/env python3
"""Accuracy of the CogVideoX VAE's runs at benchmark scale, against
diffusers' own AutoencoderKLCogVideoX in float64 on the same clip: the
error of diffusers' bf16 run (the issue's yardstick: a ctxpar bf16 run must
stay within 2x of it) and of each ctxpar output named on the command line,
as max|a - r| / max|r| of the posterior mean. The unit tests hold the tiny
model to the same rule (tests/e2e_cogvideox.py); this measures the real
channel counts and frame sizes, where the Winograd tiles of the bf16 path
are F(4x4). Run ctxpar with --norm diffusers (diffusers' batched encode)
on the same clip first. Run with the peer venv's python
(bench/make_peer_venv.sh), which has torch, diffusers and h5py.

    PY bench/cogvideox_bf16_error.py --model DIR --input CLIP.h5 \
        [--threads 2] LABEL=CTXPAR_OUT.h5 [LABEL=CTXPAR_OUT.h5 ...]
"""
import argparse

import h5py
import numpy as np
import torch
import diffusers
from diffusers import AutoencoderKLCogVideoX

from peer_common import cpu_name


def encode(model, video, dtype):
    vae = AutoencoderKLCogVideoX.from_pretrained(model, torch_dtype=dtype).eval()
    # [T][H][W][3] uint8 -> (1, 3, T, H, W) in [-1, 1], as ctxpar reads a clip
    x = torch.from_numpy(video.astype(np.float64) / 127.5 - 1.0).permute(3, 0, 1, 2)[None]
    with torch.inference_mode():
        mean = vae.encode(x.to(dtype)).latent_dist.mean
    return mean[0].to(torch.float64).numpy()  # (C, T, H, W)


def rel_err(a, r):
    return float(np.max(np.abs(a - r)) / np.max(np.abs(r)))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("outputs", nargs="*", help="LABEL=ctxpar output file")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    with h5py.File(a.input, "r") as f:
        video = f["video"][()]
    print("# cogvideox_bf16_error: torch %s, diffusers %s, %s, clip %s"
          % (torch.__version__, diffusers.__version__, cpu_name(), video.shape))
    ref = encode(a.model, video, torch.float64)
    print("diffusers float32: %.3g" % rel_err(encode(a.model, video, torch.float32), ref))
    print("diffusers bf16:    %.3g" % rel_err(encode(a.model, video, torch.bfloat16), ref))
    for item in a.outputs:
        label, path = item.split("=", 1)
        with h5py.File(path, "r") as f:
            mean = f["latents"][()].astype(np.float64)  # [t][y][x][c]
        print("ctxpar %-10s %.3g" % (label + ":", rel_err(mean.transpose(3, 0, 1, 2), ref)))


if __name__ == "__main__":
    main()
