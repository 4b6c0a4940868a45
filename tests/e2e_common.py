"""Helpers shared by ctxpar's end-to-end tests: run the program under mpirun
with a time bound, read a features file, compare with tolerances and report
the first mismatches (abs_tol + rel_tol*|ref|, NaN/Inf always fail), and
give each test a scratch directory that does not outlive a passing run."""
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import h5py
import numpy as np

CTXPAR = os.environ.get("CTXPAR_BIN", "ctxpar")
MPIEXEC = os.environ.get("CTXPAR_MPIEXEC", "mpiexec")
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1", OMP_NUM_THREADS="1")

failures = []

# The sanitizer build runs the suite at 1-3 ranks (docs/hostile-input.md):
# CTXPAR_TEST_MAX_RANKS caps every rank count a test asks for.
MAX_RANKS = int(os.environ.get("CTXPAR_TEST_MAX_RANKS", "0") or 0)


def rank_counts(*counts):
    """The rank counts of `counts` this run allows (all, unless
    CTXPAR_TEST_MAX_RANKS caps them); says which it leaves out."""
    kept = [r for r in counts if not MAX_RANKS or r <= MAX_RANKS]
    if len(kept) < len(counts):
        print("note: not run at %s ranks (CTXPAR_TEST_MAX_RANKS=%d)" % (
            ", ".join(str(r) for r in counts if r not in kept), MAX_RANKS))
    return kept


def at_most(ranks):
    """`ranks`, or the cap when it is lower: for a case that needs "several
    ranks" rather than a particular count."""
    return min(ranks, MAX_RANKS) if MAX_RANKS else ranks


def mpirun(ranks):
    """The mpirun prefix for `ranks` ranks; refuses more than the cap, so a
    rank count that skipped rank_counts() cannot pass unnoticed."""
    if MAX_RANKS and ranks > MAX_RANKS:
        raise RuntimeError("%d ranks asked for, but CTXPAR_TEST_MAX_RANKS=%d: "
                           "choose the counts with rank_counts()" % (ranks, MAX_RANKS))
    return [MPIEXEC, "--oversubscribe", "-np", str(ranks)]


def run(ranks, *args, timeout=300, check=True, env=None):
    """ctxpar under mpirun; env: extra environment variables, exported to
    every rank."""
    cmd = mpirun(ranks)
    for name in sorted(env or {}):
        cmd += ["-x", name]
    cmd += [CTXPAR] + [str(a) for a in args] + ["--quiet", "--threads", "1"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                       env=dict(ENV, **(env or {})))
    if check and p.returncode != 0:
        raise RuntimeError("command failed (%d): %s\n%s%s" % (p.returncode, " ".join(cmd),
                                                             p.stdout, p.stderr))
    return p


def run_case(tag, ranks, args, env=None, timeout=300):
    """ctxpar under mpirun for a named case: the finished process, or None
    after recording a failure that quotes ctxpar's own error line (a hang
    past `timeout` seconds is a failure too)."""
    try:
        p = run(ranks, *args, timeout=timeout, check=False, env=env)
    except subprocess.TimeoutExpired:
        fail("%s: no exit within %d s" % (tag, timeout))
        return None
    if p.returncode != 0:
        said = [l for l in p.stderr.splitlines() if l.startswith("ctxpar")] or [p.stderr[-800:]]
        fail("%s: ctxpar exit %d: %s" % (tag, p.returncode, " | ".join(said)))
        return None
    return p


def run_config(attrs):
    """The run's options (its --dtype among them) from an output file's root
    attributes: the "run" object of the JSON "config" attribute."""
    config = attrs.get("config", b"{}")
    return json.loads(config.decode() if isinstance(config, bytes) else config)["run"]


def run_features(tag, ranks, folder, video, out, extra=(), env=None, dtype="f32"):
    """ctxpar on a model folder and a video, for a named case: the features
    file's tokens/* datasets, with its root attributes (_attrs), the features'
    dtype (_dtype) and the run's options (_run); None after recording a
    failure. dtype: the --dtype to give (None: none, the automatic choice)."""
    args = ["--model", folder, "--input", video, "--out", out, "--overwrite"] + list(extra)
    if dtype:
        args += ["--dtype", dtype]
    start = time.time()
    if run_case(tag, ranks, args, env=env) is None:
        return None
    print("run   %s (%.1f s)" % (tag, time.time() - start))
    try:
        with h5py.File(out, "r") as f:
            got = {k: f["tokens/" + k][()] for k in f["tokens"]}
            got["_dtype"] = f["tokens/features"].dtype
            got["_attrs"] = dict(f.attrs)
            got["_run"] = run_config(got["_attrs"])
    except (OSError, KeyError) as e:
        fail("%s: cannot read tokens/ from %s: %s" % (tag, out, e))
        return None
    return got


def start_until(ranks, args, reached, what, timeout=120):
    """Start ctxpar under mpirun with progress as plain lines and return the
    running process once a stdout line satisfies reached(line); raise if the
    run ends first or the time runs out."""
    cmd = mpirun(ranks) + [CTXPAR] + [str(a) for a in args]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=dict(ENV, CTXPAR_PROGRESS="lines"))
    lines, seen = [], threading.Event()

    def pump():
        for line in p.stdout:
            lines.append(line)
            if reached(line):
                seen.set()

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.time() + timeout
    while not seen.wait(0.2):
        if p.poll() is not None or time.time() > deadline:
            p.kill()
            raise RuntimeError("the run never reached %s:\n%s%s" % (what, "".join(lines),
                                                                    p.stderr.read()))
    return p


def ranks_of(pid):
    """The rank processes mpirun started (its children)."""
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def read(path):
    with h5py.File(path, "r") as f:
        out = {k: f["tokens/" + k][()] for k in f["tokens"]}
        if "latents" in f:
            out["latents"] = f["latents"][()]
        out["attrs"] = dict(f.attrs)
    return out


def check_close(what, got, ref, abs_tol=1e-5, rel_tol=1e-4):
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if got.shape != ref.shape:
        fail("%s: shape %s, expected %s" % (what, got.shape, ref.shape))
        return
    err = np.abs(got - ref)
    bad = ~(err <= abs_tol + rel_tol * np.abs(ref)) | ~np.isfinite(got)
    if bad.any():
        idx = np.argwhere(bad)[:5]
        details = ", ".join("%s: got %.9g want %.9g" % (tuple(i), got[tuple(i)], ref[tuple(i)])
                            for i in idx)
        fail("%s: %d of %d mismatch (max err %.3g): %s" % (what, bad.sum(), bad.size,
                                                           np.nanmax(err), details))


def check_equal(what, got, ref):
    if got.shape != ref.shape or not np.array_equal(got, ref):
        fail("%s differs" % what)


def check_records(what, a, b):
    for k in ("t_start", "t_end", "level", "y", "x", "size"):
        check_equal("%s %s" % (what, k), a[k], b[k])


def scratch_dir(prefix):
    """A fresh directory for a test's files. It is removed when the test exits
    having passed; a failed test (a fail() or an uncaught exception) keeps it
    and names it, and CTXPAR_KEEP_TMP=1 keeps it always. Some tests write
    gigabytes of decoded frames, so a suite run must not leave them behind."""
    d = tempfile.mkdtemp(prefix=prefix)
    atexit.register(_drop_scratch, d)
    return d


def _drop_scratch(d):
    if failures or getattr(sys, "last_type", None) or os.environ.get("CTXPAR_KEEP_TMP"):
        print("note: files kept in %s" % d, file=sys.stderr)
    else:
        shutil.rmtree(d, ignore_errors=True)


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    failures.append(msg)


def finish(name):
    if failures:
        print("%s: %d failure(s)" % (name, len(failures)), file=sys.stderr)
        sys.exit(1)
    print("%s: ok" % name)


def tolerance_ratio(got, ref, abs_tol, rel_tol):
    """max over elements of |got - ref| / (abs_tol + rel_tol*|ref|): below 1
    passes check_close with the same tolerances, above 1 fails it (inf when a
    value is not finite). Lets a test show how close it runs to its limit and
    that a deliberately wrong reference would fail."""
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if got.shape != ref.shape or not np.isfinite(got).all():
        return float("inf")
    return float(np.max(np.abs(got - ref) / (abs_tol + rel_tol * np.abs(ref))))


def rel_err(got, ref):
    """max|got - ref| / max|ref|: the model families' error measure."""
    return float(np.max(np.abs(got - ref)) / np.max(np.abs(ref)))


def check_rel(tag, got, ref, tol, axes, missing_fails=True):
    """rel_err(got, ref) <= tol, finite, same shape; prints the number either way, with
    the worst element's index labelled by `axes` (e.g. "t,y,x,c"). Returns the error."""
    if got is None:
        if missing_fails:
            fail("%s: missing from the output" % tag)
        return None
    got = np.asarray(got, dtype=np.float64)
    if got.shape != ref.shape:
        fail("%s: shape %s, expected %s" % (tag, got.shape, ref.shape))
        return None
    if not np.isfinite(got).all():
        fail("%s: %d non-finite values" % (tag, int((~np.isfinite(got)).sum())))
        return None
    e = rel_err(got, ref)
    worst = np.unravel_index(np.argmax(np.abs(got - ref)), ref.shape)
    line = "%s: rel err %.3g (worst at [%s]=%s: got %.9g want %.9g)" % (
        tag, e, axes, tuple(int(i) for i in worst), got[worst], ref[worst])
    if e <= tol:
        print("ok    " + line)
    else:
        fail(line + " > %g" % tol)
    return e
