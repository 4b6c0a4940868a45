"""Weights are held once per node: every rank maps the node's one copy.

The run's JSON line (--json) reports the weights' proportional set size (PSS)
summed over the node's ranks; PSS counts a page shared by k processes as 1/k, so one
shared copy sums to the weights' size whatever the rank count, while a copy
per rank would sum to ranks x size. The small preset's weights (a few MiB)
make page rounding negligible.

Under --dtype bf16 the linears' packed bf16 copies replace their float32
weights (docs/bf16.md): the weights a bf16 run holds (float32 kept + packed)
must be fewer bytes than a float32 run's, and still one copy per node.

A model file is read by rank 0 straight into the node's copy: no rank holds a
private copy on the way, so a run from the file peaks at the allocator count
of the same run from the seeded preset (on frames small enough that the
weights would dominate that count)."""
import json
import os
import subprocess
import tempfile

import e2e_common as e2e


def run_json(ranks, out, dtype, model=("--preset", "small"), frames="16", size="64x64"):
    """The run's JSON line, as a dict."""
    lines = out + ".jsonl"
    cmd = e2e.mpirun(ranks) + [e2e.CTXPAR] + list(model) + [
           "--frames", frames, "--size", size, "--threads", "1", "--out", out, "--overwrite",
           "--quiet", "--json", lines, "--dtype", dtype]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=e2e.ENV)
    if p.returncode != 0:
        raise RuntimeError("%s failed:\n%s%s" % (" ".join(cmd), p.stdout, p.stderr))
    with open(lines) as f:
        run = json.loads(f.read().splitlines()[-1])
    os.remove(lines)
    if run.get("format") != "ctxpar-run" or run.get("nodes") != 1:
        raise RuntimeError("unexpected JSON line: %r" % run)
    return run


def weights_line(ranks, out, dtype):
    """(weights MiB, PSS summed over the node's ranks MiB, packed MiB)."""
    run = run_json(ranks, out, dtype)
    mib = 1024.0 * 1024.0
    return (run["weights_bytes"] / mib, run["weights_pss_sum_bytes"] / mib,
            run["packed_weights_bytes"] / mib)


with tempfile.TemporaryDirectory() as tmp:
    held = {}
    for dtype in ("f32", "bf16"):
        for ranks in (1, e2e.at_most(4)):
            size, pss, packed = weights_line(ranks, tmp + "/f%d.h5" % ranks, dtype)
            print("%s, %d ranks: weights %.2f MiB (%.2f MiB packed bf16), PSS over the node's "
                  "ranks %.2f MiB" % (dtype, ranks, size, packed, pss))
            # At 1 rank MPI may place a small window inside the heap, whose
            # mapping's PSS then counts its neighbours too: sharing is only in
            # question, and only measured, with several ranks.
            if ranks > 1 and not 0.9 * size <= pss <= 1.1 * size:
                e2e.fail("%s, %d ranks: the node holds %.2f MiB of weights (PSS) for %.2f MiB "
                         "of weights: expected one copy" % (dtype, ranks, pss, size))
            if (packed > 0) != (dtype == "bf16"):
                e2e.fail("%s, %d ranks: %.2f MiB of packed bf16 weights" % (dtype, ranks, packed))
            held[dtype] = size
    if not held["bf16"] < held["f32"]:
        e2e.fail("a bf16 run holds %.2f MiB of weights, a float32 run %.2f MiB: the packed "
                 "copies must replace the float32 linears, not add to them"
                 % (held["bf16"], held["f32"]))

    model_file = tmp + "/small.h5"
    subprocess.run([e2e.CTXPAR, "init-model", "--preset", "small", "--seed", "1", "-o",
                    model_file], check=True, capture_output=True, timeout=300, env=e2e.ENV)
    ranks = e2e.at_most(2)
    for dtype in ("f32", "bf16"):
        peak = {}
        for name, model in (("file", ("--model", model_file)), ("preset", ("--preset", "small"))):
            run = run_json(ranks, tmp + "/m.h5", dtype, model, frames="8", size="32x32")
            peak[name] = run["peak_tracked_bytes"]
            weights = run["weights_bytes"]
        print("%s, %d ranks: allocator peak per rank %.2f MiB from the model file, %.2f MiB "
              "from the preset (weights %.2f MiB)" % (dtype, ranks, peak["file"] / 2**20,
                                                      peak["preset"] / 2**20, weights / 2**20))
        if peak["file"] > peak["preset"] + weights / 4:
            e2e.fail("%s: loading the model file peaks at %.2f MiB per rank against %.2f MiB for "
                     "the same model seeded: a rank holds a private copy of the weights"
                     % (dtype, peak["file"] / 2**20, peak["preset"] / 2**20))
e2e.finish("e2e_weights_shared")
