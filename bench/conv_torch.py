#!/usr/bin/env python3
"""PyTorch peer of bench_conv: the same shapes with torch.nn.functional.conv3d
(oneDNN on this build). The causal replicate padding of kt-1 frames is done
once outside the timing; what is timed is conv3d on the padded input with
padding (0, 1, 1) (stride (1, 2, 2) for the downsample). Same columns and JSON
lines as bench_conv.

    /usr/bin/python3 bench/conv_torch.py [--threads N] [--repeat R]
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

# name, cin, cout, kt, kh, kw, h, w, frames, stride2 (kept equal to bench_conv.c)
SHAPES = [
    ("conv_in", 3, 32, 3, 3, 3, 256, 256, 8, 0),
    ("s0.conv", 32, 32, 3, 3, 3, 256, 256, 8, 0),
    ("s0.down", 32, 32, 1, 3, 3, 256, 256, 4, 1),
    ("s1.conv1", 32, 64, 3, 3, 3, 128, 128, 4, 0),
    ("s1.conv2", 64, 64, 3, 3, 3, 128, 128, 4, 0),
    ("s1.down", 64, 64, 1, 3, 3, 128, 128, 2, 1),
    ("s2.conv1", 64, 128, 3, 3, 3, 64, 64, 2, 0),
    ("s2.conv2", 128, 128, 3, 3, 3, 64, 64, 2, 0),
    ("s2.down", 128, 128, 1, 3, 3, 64, 64, 2, 1),
    ("s3.conv", 128, 128, 3, 3, 3, 32, 32, 2, 0),
]


def bench_shape(shape, repeat):
    name, cin, cout, kt, kh, kw, h, w, frames, stride2 = shape
    torch.manual_seed(0)
    x = torch.rand(1, cin, frames, h, w) * 2 - 1
    if kt > 1:  # causal: replicate frame 0 kt-1 times, outside the timing
        x = torch.cat([x[:, :, :1].expand(-1, -1, kt - 1, -1, -1), x], dim=2).contiguous()
    weight = torch.rand(cout, cin, kt, kh, kw) * 0.2 - 0.1
    bias = torch.rand(cout)
    stride = (1, 2, 2) if stride2 else (1, 1, 1)
    times = []
    with torch.no_grad():
        for r in range(-1, repeat):
            t0 = time.perf_counter()
            y = F.conv3d(x, weight, bias, stride=stride, padding=(0, 1, 1))
            t1 = time.perf_counter()
            if r >= 0:
                times.append(t1 - t0)
    out_hw = (h // 2) * (w // 2) if stride2 else h * w
    assert y.shape == (1, cout, frames, h // (2 if stride2 else 1), w // (2 if stride2 else 1))
    flops = 2.0 * cout * cin * kt * kh * kw * frames * out_hw
    return flops, statistics.median(times), min(times), max(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=0, help="only this thread count")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    thread_counts = [args.threads] if args.threads else [1, 2]
    print("# conv_torch: torch %s conv3d, mkldnn %s; repeat %d after 1 warm-up; median [min, max]"
          % (torch.__version__, torch.backends.mkldnn.is_available(), args.repeat))
    print("# GFLOP = 2*cout*cin*kt*kh*kw*frames*h_out*w_out")
    print("# %-3s %-9s %4s %4s %-5s %-9s %3s %7s %9s %17s %8s"
          % ("thr", "shape", "cin", "cout", "k", "in hxw", "T", "GFLOP", "ms", "[min, max]",
             "GFLOP/s"))
    for threads in thread_counts:
        torch.set_num_threads(threads)
        for shape in SHAPES:
            name, cin, cout, kt, kh, kw, h, w, frames, stride2 = shape
            flops, med, lo, hi = bench_shape(shape, args.repeat)
            print("  %-3d %-9s %4d %4d %-5s %-9s %3d %7.2f %9.2f [%7.2f, %7.2f] %8.1f"
                  % (threads, name, cin, cout, "%dx%dx%d" % (kt, kh, kw),
                     "%dx%d%s" % (h, w, "/2" if stride2 else ""), frames, flops * 1e-9,
                     med * 1e3, lo * 1e3, hi * 1e3, flops / med * 1e-9))
            print(json.dumps({"bench": "conv", "impl": "torch", "threads": threads, "shape": name,
                              "gflop": round(flops * 1e-9, 4), "ms": round(med * 1e3, 4),
                              "ms_min": round(lo * 1e3, 4), "ms_max": round(hi * 1e3, 4),
                              "gflops": round(flops / med * 1e-9, 2)}), flush=True)


if __name__ == "__main__":
    main()
