#!/usr/bin/env python3
"""The V-JEPA 2 peer as users run it: transformers' own VJEPA2Model from a
folder, in bf16 or float32, attention through PyTorch's SDPA, one process on
the whole clip; the encoder only (model.encoder, as ctxpar runs it). Run with
the peer venv's python (bench/make_peer_venv.sh): the current torch and
transformers from PyPI.

    PY bench/vjepa2_transformers.py --model DIR [--frames 16] [--size 256]
        [--dtype bf16,f32] [--threads 2] [--warmup 1] [--repeat 3] [--json FILE]

GFLOP counts the matrix products as bench/vjepa2_torch.py does.
"""
import argparse

import numpy as np
import torch
import transformers
from transformers import VJEPA2Model

from peer_common import cpu_name, emit, time_runs

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def gflop(config, n):
    d, f = config.hidden_size, int(config.hidden_size * config.mlp_ratio)
    kt, p = config.tubelet_size, config.patch_size
    layer = 2.0 * n * 4 * d * d + 2.0 * n * 2 * d * f + 4.0 * n * n * d
    return (config.num_hidden_layers * layer + 2.0 * n * d * 3 * kt * p * p) / 1e9


def pixels(frames, size, seed=0):
    """A deterministic textured clip, normalised as the processor does: [1, T, 3, H, W]."""
    rng = np.random.default_rng(seed)
    u = rng.integers(0, 256, size=(frames, size, size, 3), dtype=np.uint8)
    x = (torch.from_numpy(u).double() / 255.0 - torch.tensor(MEAN, dtype=torch.float64)) / \
        torch.tensor(STD, dtype=torch.float64)
    return x.permute(0, 3, 1, 2)[None].contiguous()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--dtype", default="bf16,f32")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--json")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    cpu = cpu_name()
    print("# vjepa2_transformers: torch %s, transformers %s, %d threads, SDPA, %s"
          % (torch.__version__, transformers.__version__, a.threads, cpu))
    for name in a.dtype.split(","):
        dtype = {"bf16": torch.bfloat16, "f32": torch.float32}[name]
        model = VJEPA2Model.from_pretrained(a.model, dtype=dtype, attn_implementation="sdpa")
        model.eval()
        x = pixels(a.frames, a.size).to(dtype)
        with torch.inference_mode():
            out, times, median = time_runs(
                lambda: model.encoder(pixel_values_videos=x).last_hidden_state, a.warmup,
                a.repeat)
        n = out.shape[1]
        g = gflop(model.config, n)
        print("%-5s frames %d %dx%d N %d: %.3f s median [%.3f, %.3f], %.1f GFLOP/s"
              % (name, a.frames, a.size, a.size, n, median, min(times), max(times), g / median))
        record = {"bench": "vjepa2_transformers", "torch": torch.__version__,
                  "transformers": transformers.__version__, "dtype": name, "threads": a.threads,
                  "frames": a.frames, "size": a.size, "tokens": n, "seconds_median": median,
                  "seconds_min": min(times), "seconds_max": max(times), "gflop": g,
                  "gflops": g / median, "repeat": a.repeat, "warmup": a.warmup, "cpu": cpu}
        emit(record, a.json)
        del model


if __name__ == "__main__":
    main()
