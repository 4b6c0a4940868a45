#!/usr/bin/env python3
"""PyTorch peer of bench_conv: the same shapes with torch.nn.functional.conv3d
(oneDNN on this build). The causal replicate padding of kt-1 frames, and the
downsample's right/bottom zero column and row, are done once outside the
timing; what is timed is conv3d on the padded input with padding (0, 1, 1) for
the 3x3x3 convs, (0, 0, 0) and stride (1, 2, 2) for the downsample, (0, 0, 0)
for the 1x1x1 shortcuts. Same columns and JSON lines as bench_conv.

    /usr/bin/python3 bench/conv_torch.py [--threads N] [--repeat R] [--max-frames F]
                                         [--only NAME[,NAME...]]
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

# name, cin, cout, kt, kh, kw, h, w, frames, stride2 (kept equal to bench_conv.c;
# a 1x1x1 kernel is the pointwise shortcut)
SHAPES = [
    ("conv_in", 3, 128, 3, 3, 3, 256, 256, 9, 0),
    ("s0.conv", 128, 128, 3, 3, 3, 256, 256, 9, 0),
    ("s0.down", 128, 128, 1, 3, 3, 256, 256, 5, 1),
    ("s1.conv1", 128, 256, 3, 3, 3, 128, 128, 5, 0),
    ("s1.conv2", 256, 256, 3, 3, 3, 128, 128, 5, 0),
    ("s1.skip", 128, 256, 1, 1, 1, 128, 128, 5, 0),
    ("s1.down", 256, 256, 1, 3, 3, 128, 128, 3, 1),
    ("s2.conv", 256, 256, 3, 3, 3, 64, 64, 3, 0),
    ("s2.down", 256, 256, 1, 3, 3, 64, 64, 3, 1),
    ("s3.conv1", 256, 512, 3, 3, 3, 32, 32, 3, 0),
    ("s3.conv2", 512, 512, 3, 3, 3, 32, 32, 3, 0),
    ("s3.skip", 256, 512, 1, 1, 1, 32, 32, 3, 0),
    ("conv_out", 512, 32, 3, 3, 3, 32, 32, 3, 0),
]


def bench_shape(shape, repeat):
    name, cin, cout, kt, kh, kw, h, w, frames, stride2 = shape
    torch.manual_seed(0)
    x = torch.rand(1, cin, frames, h, w) * 2 - 1
    if kt > 1:  # causal: replicate frame 0 kt-1 times, outside the timing
        x = torch.cat([x[:, :, :1].expand(-1, -1, kt - 1, -1, -1), x], dim=2).contiguous()
    if stride2:  # CogVideoX: one zero column on the right, one zero row at the bottom
        x = F.pad(x, (0, 1, 0, 1)).contiguous()
    weight = torch.rand(cout, cin, kt, kh, kw) * 0.2 - 0.1
    bias = torch.rand(cout)
    stride = (1, 2, 2) if stride2 else (1, 1, 1)
    padding = (0, 1, 1) if kh == 3 and not stride2 else (0, 0, 0)
    times, cpu = [], []
    with torch.no_grad():
        for r in range(-1, repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            y = F.conv3d(x, weight, bias, stride=stride, padding=padding)
            t1, c1 = time.perf_counter(), time.process_time()
            if r >= 0:
                times.append(t1 - t0)
                cpu.append(c1 - c0)
    out_hw = (h // 2) * (w // 2) if stride2 else h * w
    assert y.shape == (1, cout, frames, h // (2 if stride2 else 1), w // (2 if stride2 else 1))
    flops = 2.0 * cout * cin * kt * kh * kw * frames * out_hw
    return flops, statistics.median(times), min(times), max(times), statistics.median(cpu)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=0, help="only this thread count")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--max-frames", type=int, default=0, help="cap every shape's frames")
    parser.add_argument("--only", default="", help="comma-separated shape names")
    parser.add_argument("--peak", type=float, default=0, help="ignored (bench_conv's option)")
    parser.add_argument("--no-sgemm", action="store_true", help="ignored (bench_conv's option)")
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else None
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
            if only and shape[0] not in only:
                continue
            if args.max_frames and shape[8] > args.max_frames:
                shape = shape[:8] + (args.max_frames,) + shape[9:]
            name, cin, cout, kt, kh, kw, h, w, frames, stride2 = shape
            flops, med, lo, hi, cpu = bench_shape(shape, args.repeat)
            print("  %-3d %-9s %4d %4d %-5s %-9s %3d %7.2f %9.2f [%7.2f, %7.2f] %8.1f"
                  % (threads, name, cin, cout, "%dx%dx%d" % (kt, kh, kw),
                     "%dx%d%s" % (h, w, "/2" if stride2 else ""), frames, flops * 1e-9,
                     med * 1e3, lo * 1e3, hi * 1e3, flops / med * 1e-9))
            print(json.dumps({"bench": "conv", "impl": "torch", "threads": threads, "shape": name,
                              "frames": frames,
                              "gflop": round(flops * 1e-9, 4), "ms": round(med * 1e3, 4),
                              "ms_min": round(lo * 1e3, 4), "ms_max": round(hi * 1e3, 4),
                              "gflops": round(flops / med * 1e-9, 2),
                              "cpu_gflops": round(flops / cpu * 1e-9, 2)}), flush=True)


if __name__ == "__main__":
    main()
