#!/usr/bin/env python3
"""PyTorch peer of ctxpar on the V-JEPA 2 encoder: the module structure of
tests/vjepa2/reference.py run in float32 with torch's own kernels, attention as
transformers' eager path (the whole [heads, N, N] score matrix, softmax, then
the product with V; torch 1.13 has no scaled_dot_product_attention), one
process on the whole clip, on a transformers folder with the real ViT-L shapes
(vjepa2-vitl-fpc64-256: D 1024, 16 heads, 24 layers, patch 16, tubelet 2).

The weights are random (written on first use to /tmp/ctxpar-vjepa2-vitl-f32,
~1.2 GB of f32 like the real checkpoint's encoder; never commit it). The
score matrix is the memory that limits this peer: eager attention holds the
scores and the probabilities at once, 2 * heads * N^2 * 4 bytes (16 frames of
256x256: N = 2048, 0.5 GiB; 64 frames: N = 8192, 8 GiB); the run prints that
estimate beside the measured peak resident size. GFLOP counts the matrix
products: per layer 2N*4D^2 (q, k, v, proj) + 2N*2DF (MLP) + 4N^2*D
(scores and context), plus the patch embedding 2N*D*3*kt*p^2.

    /usr/bin/python3 bench/vjepa2_torch.py [--model DIR] [--frames 16,64] [--size 256]
            [--threads 2] [--warmup 1] [--repeat 3] [--json FILE]
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "vjepa2"))
import reference  # noqa: E402
from video import make_video  # noqa: E402

DEFAULT_MODEL = "/tmp/ctxpar-vjepa2-vitl-f32"
GIB = float(1 << 30)


def gflop(config, n):
    d, nh = config["hidden_size"], config["num_attention_heads"]
    f = int(d * config["mlp_ratio"])
    kt, p = config["tubelet_size"], config["patch_size"]
    layer = 2.0 * n * 4 * d * d + 2.0 * n * 2 * d * f + 4.0 * n * n * d
    return (config["num_hidden_layers"] * layer + 2.0 * n * d * 3 * kt * p * p) / 1e9


def peak_rss_gib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--frames", default="16,64", help="comma-separated frame counts")
    p.add_argument("--size", type=int, default=256, help="frame height = width (the crop size)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--json", help="append one JSON line per frame count to this file")
    a = p.parse_args()
    if not os.path.exists(os.path.join(a.model, "model.safetensors")):
        subprocess.run([sys.executable, os.path.join(HERE, "..", "tests", "vjepa2", "make_folder.py"),
                        a.model, "--preset", "vitl", "--dtype", "f32"], check=True)
    torch.set_num_threads(a.threads)
    weights, config = reference.load(a.model, dtype="float32")
    with torch.no_grad():
        encoder = reference.Encoder(weights, config, torch.float32)
    del weights
    nh = config["num_attention_heads"]
    print("# vjepa2_torch: torch %s, %d threads; float32, eager attention, whole clip in one process"
          % (torch.__version__, a.threads))
    print("# model %s: D %d, %d heads, %d layers, patch %d, tubelet %d; peak resident after "
          "loading %.2f GiB (file pages mapped while the float32 copies are made)"
          % (a.model, config["hidden_size"], nh, config["num_hidden_layers"], config["patch_size"],
             config["tubelet_size"], peak_rss_gib()))
    print("# %d warm-up, median of %d; score memory = 2 * heads * N^2 * 4 B (scores + probabilities)"
          % (a.warmup, a.repeat))
    print("%-7s %6s %6s %22s %9s %8s %8s %10s %9s"
          % ("frames", "size", "N", "s median [min, max]", "tokens/s", "GFLOP", "GFLOP/s",
             "score GiB", "peak GiB"))  # peak: process maximum so far
    for frames in (int(x) for x in a.frames.split(",")):
        x = reference.pixel_values(make_video.make_video(frames, a.size, a.size, seed=0),
                                   torch.float32)
        times = []
        with torch.no_grad():
            for r in range(a.warmup + a.repeat):
                t0 = time.perf_counter()
                out, _, grid = encoder(x)
                took = time.perf_counter() - t0
                if r >= a.warmup:
                    times.append(took)
        n = out.shape[0]
        median = statistics.median(times)
        score_gib = 2.0 * nh * n * n * 4 / GIB
        g = gflop(config, n)
        print("%-7d %6s %6d %8.3f [%.3f, %.3f] %9.1f %8.1f %8.1f %10.2f %9.2f"
              % (frames, "%dx%d" % (a.size, a.size), n, median, min(times), max(times), n / median,
                 g, g / median, score_gib, peak_rss_gib()))
        record = {"bench": "vjepa2_torch", "torch": torch.__version__, "threads": a.threads,
                  "frames": frames, "size": a.size, "tokens": n, "grid": list(grid),
                  "seconds_median": median, "seconds_min": min(times), "seconds_max": max(times),
                  "tokens_per_s": n / median, "gflop": g, "gflops": g / median,
                  "score_matrix_gib": score_gib, "peak_rss_gib": peak_rss_gib(),
                  "repeat": a.repeat, "warmup": a.warmup}
        print(json.dumps(record))
        if a.json:
            with open(a.json, "a") as f:
                f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
