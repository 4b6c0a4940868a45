#!/usr/bin/env python3
"""PyTorch peer of ctxpar on the CogVideoX VAE encoder: the module structure of
tests/cogvideox/reference.py run in float32 with torch's own kernels (oneDNN
conv3d on this build), one encoder call on the whole video (what ctxpar's
--norm exact computes), on a diffusers folder with the real CogVideoX-2b shapes.

The weights are random (bench/make_cogvideox_folder.sh writes a bf16 folder
under /tmp, ~185 MB; never commit it) and widened to float32 as ctxpar does.
The first (warm-up) run also counts the FLOPs of every conv it calls, so the
rate covers exactly the work done: GFLOP = sum over convs of
2*cout*cin*kt*kh*kw*numel(output)/cout (norms, SiLU and pooling not counted).

    /usr/bin/python3 bench/cogvideox_torch.py [--model DIR] [--frames 9] [--size 256x256]
            [--threads 2] [--warmup 1] [--repeat 3] [--json FILE]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "cogvideox"))
import make_video  # noqa: E402
import reference  # noqa: E402

DEFAULT_MODEL = "/tmp/ctxpar-cogvideox-2b-bf16"


class CountingF:
    """torch.nn.functional with conv2d/conv3d that add up their FLOPs."""

    def __init__(self):
        self.flops = 0.0

    def __getattr__(self, name):
        return getattr(F, name)

    def _count(self, out, weight):
        self.flops += 2.0 * out.numel() * weight[0].numel()
        return out

    def conv3d(self, x, weight, *a, **k):
        return self._count(F.conv3d(x, weight, *a, **k), weight)

    def conv2d(self, x, weight, *a, **k):
        return self._count(F.conv2d(x, weight, *a, **k), weight)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--frames", type=int, default=9)
    p.add_argument("--size", default="256x256", help="WIDTHxHEIGHT (or one number)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--json", help="append one JSON line to this file")
    a = p.parse_args()
    width, _, height = a.size.partition("x")
    width, height = int(width), int(height or width)
    if not os.path.exists(a.model):
        subprocess.run([sys.executable, os.path.join(HERE, "..", "tests", "cogvideox", "make_folder.py"),
                        a.model, "--preset", "real", "--dtype", "bf16"], check=True)
    torch.set_num_threads(a.threads)
    encoder, config = reference.load(a.model, torch.float32)
    x = reference.pixels(make_video.make_video(a.frames, height, width), torch.float32)

    print("# cogvideox_torch: torch %s, mkldnn %s, %d threads; whole-video encode, float32"
          % (torch.__version__, torch.backends.mkldnn.is_available(), a.threads))
    print("# model %s: block_out_channels %s, layers_per_block %d; input %d frames %dx%d"
          % (a.model, config["block_out_channels"], config["layers_per_block"], a.frames, width,
             height))
    print("# GFLOP = sum over convs of 2*numel(out)*cin*kt*kh*kw; %d warm-up, median of %d"
          % (a.warmup, a.repeat))
    counter = CountingF()
    times = []
    for r in range(a.warmup + a.repeat):
        reference.F = counter if r == 0 else F
        t0 = time.perf_counter()
        h = reference.encode_whole(encoder, x)
        took = time.perf_counter() - t0
        if r >= a.warmup:
            times.append(took)
    reference.F = F
    median = statistics.median(times)
    gflop = counter.flops / 1e9
    print("%-8s %6s %10s %20s %8s %9s" % ("frames", "size", "latents", "s median [min, max]",
                                         "GFLOP", "GFLOP/s"))
    print("%-8d %6s %10s %8.3f [%.3f, %.3f] %8.1f %9.1f"
          % (a.frames, "%dx%d" % (width, height), "x".join(str(s) for s in h.shape[2:]),
             median, min(times), max(times), gflop, gflop / median))
    record = {"bench": "cogvideox_torch", "torch": torch.__version__, "threads": a.threads,
              "frames": a.frames, "width": width, "height": height, "latent_shape": list(h.shape),
              "seconds_median": median, "seconds_min": min(times), "seconds_max": max(times),
              "gflop": gflop, "gflops": gflop / median, "repeat": a.repeat, "warmup": a.warmup}
    print(json.dumps(record))
    if a.json:
        with open(a.json, "a") as f:
            f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
