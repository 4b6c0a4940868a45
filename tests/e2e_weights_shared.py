"""Weights are held once per node: every rank maps the node's one copy.

The run's JSON line (--json) reports the weights' proportional set size (PSS)
summed over the node's ranks; PSS counts a page shared by k processes as 1/k, so one
shared copy sums to the weights' size whatever the rank count, while a copy
per rank would sum to ranks x size. The small preset's weights (a few MiB)
make page rounding negligible."""
import json
import os
import subprocess
import tempfile

import e2e_common as e2e


def weights_line(ranks, out):
    """(weights MiB, PSS summed over the node's ranks MiB) from the run's JSON line."""
    lines = out + ".jsonl"
    cmd = e2e.mpirun(ranks) + [e2e.CTXPAR, "--preset", "small",
           "--frames", "16", "--size", "64x64", "--threads", "1", "--out", out, "--overwrite",
           "--quiet", "--json", lines]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=e2e.ENV)
    if p.returncode != 0:
        raise RuntimeError("%s failed:\n%s%s" % (" ".join(cmd), p.stdout, p.stderr))
    with open(lines) as f:
        run = json.loads(f.read().splitlines()[-1])
    os.remove(lines)
    if run.get("format") != "ctxpar-run" or run.get("nodes") != 1:
        raise RuntimeError("unexpected JSON line: %r" % run)
    mib = 1024.0 * 1024.0
    return run["weights_bytes"] / mib, run["weights_pss_sum_bytes"] / mib


with tempfile.TemporaryDirectory() as tmp:
    for ranks in (1, e2e.at_most(4)):
        size, pss = weights_line(ranks, tmp + "/f%d.h5" % ranks)
        print("%d ranks: weights %.2f MiB, PSS over the node's ranks %.2f MiB" % (ranks, size, pss))
        if not 0.9 * size <= pss <= 1.1 * size:
            e2e.fail("%d ranks: the node holds %.2f MiB of weights (PSS) for %.2f MiB of "
                     "weights: expected one copy" % (ranks, pss, size))
e2e.finish("e2e_weights_shared")
