#!/usr/bin/env python3
"""The CogVideoX VAE peer as users run it: diffusers' own
AutoencoderKLCogVideoX from a folder, in bf16 or float32, encode() on the
whole clip in one process (diffusers' frame-batched encode, its default).
Run with the peer venv's python (bench/make_peer_venv.sh): the current torch
and diffusers from PyPI.

    PY bench/cogvideox_diffusers.py --model DIR [--frames 9] [--size 256]
        [--dtype bf16,f32] [--threads 2] [--warmup 1] [--repeat 3] [--json FILE]
"""
import argparse

import numpy as np
import torch
import diffusers
from diffusers import AutoencoderKLCogVideoX

from peer_common import cpu_name, emit, time_runs


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--frames", type=int, default=9)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--dtype", default="bf16,f32")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--json")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    cpu = cpu_name()
    print("# cogvideox_diffusers: torch %s, diffusers %s, %d threads, %s"
          % (torch.__version__, diffusers.__version__, a.threads, cpu))
    rng = np.random.default_rng(0)
    u = rng.integers(0, 256, size=(1, 3, a.frames, a.size, a.size)).astype(np.float32)
    for name in a.dtype.split(","):
        dtype = {"bf16": torch.bfloat16, "f32": torch.float32}[name]
        vae = AutoencoderKLCogVideoX.from_pretrained(a.model, torch_dtype=dtype).eval()
        x = torch.from_numpy(u / 127.5 - 1.0).to(dtype)
        with torch.inference_mode():
            latents, times, median = time_runs(lambda: vae.encode(x).latent_dist.mean,
                                               a.warmup, a.repeat)
        print("%-5s frames %d %dx%d -> latents %s: %.3f s median [%.3f, %.3f]"
              % (name, a.frames, a.size, a.size, tuple(latents.shape), median, min(times),
                 max(times)))
        record = {"bench": "cogvideox_diffusers", "torch": torch.__version__,
                  "diffusers": diffusers.__version__, "dtype": name, "threads": a.threads,
                  "frames": a.frames, "size": a.size, "seconds_median": median,
                  "seconds_min": min(times), "seconds_max": max(times), "repeat": a.repeat,
                  "warmup": a.warmup, "cpu": cpu}
        emit(record, a.json)
        del vae


if __name__ == "__main__":
    main()
