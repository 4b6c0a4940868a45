#!/usr/bin/env python3
"""PyTorch peer for bench_attention: softmax(q @ k^T * scale) @ v with
q, k, v of shape [heads, N, head_dim], timed like the C benchmark (warm-up,
repeats, median, min, max; GFLOP/s = 4*N^2*head_dim*heads / median).

Each (N, threads) point runs in a child process of its own, so the peak RSS
(resource.getrusage ru_maxrss) is that point's, not the largest so far, and
the child's OMP/OpenBLAS thread counts are set before torch loads (Debian's
torch does its matmuls in OpenBLAS, which torch.set_num_threads does not reach).

    attention_torch.py [--n 4096,8192,16384] [--threads 1,2] [--heads 8]
                       [--head-dim 64] [--repeat 5] [--warmup 1] [--json FILE]
"""
import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time


def cap_address_space(margin_gib=1.0):
    """Caps this process at MemAvailable minus a margin, so a point that does
    not fit fails here with an allocation error instead of waking the OOM
    killer, which might pick another process on a shared machine."""
    try:
        with open("/proc/meminfo") as f:
            avail_kib = next(int(l.split()[1]) for l in f if l.startswith("MemAvailable:"))
    except (OSError, StopIteration):
        return
    cur = 0
    with open("/proc/self/status") as f:
        cur = next((int(l.split()[1]) for l in f if l.startswith("VmSize:")), 0)
    limit = (cur + avail_kib) * 1024 - int(margin_gib * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def measure(n, threads, heads, head_dim, repeat, warmup):
    import torch

    cap_address_space()

    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.rand(heads, n, head_dim, generator=gen) * 2 - 1 for _ in range(3))
    scale = 1.0 / math.sqrt(head_dim)
    times, cpu_s = [], 0.0
    with torch.no_grad():
        for r in range(warmup + repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            o = torch.softmax(q @ k.transpose(-1, -2) * scale, dim=-1) @ v
            dt, dc = time.perf_counter() - t0, time.process_time() - c0
            if r >= warmup:
                times.append(dt)
                cpu_s += dc
            del o
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    med = statistics.median(times)
    return {
        "impl": "torch", "torch": torch.__version__, "n": n, "heads": heads,
        "head_dim": head_dim, "threads": threads, "repeat": repeat, "median_s": med,
        "min_s": min(times), "max_s": max(times),
        "gflops": 4.0 * n * n * head_dim * heads / med * 1e-9, "peak_mib": peak_mib,
        "cpu_pct": 100.0 * cpu_s / (sum(times) * threads),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", default="4096,8192,16384")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--head-dim", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--json", help="append one JSON line per point to this file")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()

    if a.child:  # one point, result as one JSON line on stdout
        (n,), (t,) = [int(x) for x in a.n.split(",")], [int(x) for x in a.threads.split(",")]
        print(json.dumps(measure(n, t, a.heads, a.head_dim, a.repeat, a.warmup)))
        return 0

    import torch

    print(f"# attention_torch: torch {torch.__version__}, softmax(q@k^T*scale)@v, "
          f"heads {a.heads}, head_dim {a.head_dim}, warmup {a.warmup}, repeat {a.repeat}")
    print("# GFLOP/s = 4*N^2*head_dim*heads / median time; peak = ru_maxrss of a fresh process;")
    print("# cpu% = process CPU time / (wall time x threads) over the timed runs")
    print(f"{'impl':<8} {'N':>6} {'thr':>3}  {'median_s':>10} {'min_s':>10} {'max_s':>10} "
          f"{'GFLOP/s':>9} {'peak_MiB':>10} {'cpu%':>5}")
    out = open(a.json, "a") if a.json else None
    for n in [int(x) for x in a.n.split(",")]:
        for t in [int(x) for x in a.threads.split(",")]:
            cmd = [sys.executable, __file__, "--child", "--n", str(n), "--threads", str(t),
                   "--heads", str(a.heads), "--head-dim", str(a.head_dim),
                   "--repeat", str(a.repeat), "--warmup", str(a.warmup)]
            # torch.set_num_threads governs torch's own pool only; Debian's torch
            # runs matmuls through OpenBLAS, whose pthreads read these.
            env = dict(os.environ, OMP_NUM_THREADS=str(t), OPENBLAS_NUM_THREADS=str(t),
                       MKL_NUM_THREADS=str(t))
            p = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if p.returncode != 0:
                err = p.stderr.strip().splitlines()
                why = "killed (out of memory?)" if p.returncode < 0 else (err[-1] if err else "?")
                print(f"{'torch':<8} {n:>6} {t:>3}  failed: {why}", flush=True)
                continue
            r = json.loads(p.stdout.strip().splitlines()[-1])
            print(f"{'torch':<8} {n:>6} {t:>3}  {r['median_s']:>10.4f} {r['min_s']:>10.4f} "
                  f"{r['max_s']:>10.4f} {r['gflops']:>9.1f} {r['peak_mib']:>10.1f} {r['cpu_pct']:>5.0f}",
                  flush=True)
            if out:
                out.write(json.dumps(r) + "\n")
                out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
