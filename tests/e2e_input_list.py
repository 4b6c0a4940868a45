"""ctxpar --input-list: one output per input, failures reported without
stopping the others, complete outputs skipped on the next run only when
they are outputs of the same run with all their data, and a preempted list
(SIGTERM mid-way) resumed where it stopped. Outputs are
checked byte for byte against single-input runs of the same videos."""
import filecmp
import os
import signal
import subprocess

from e2e_common import *

d = scratch_dir("ctxpar-list-")
MODEL = ["--preset", "tiny"]


def path(name):
    return os.path.join(d, name)


def run_list(list_file, *extra, ranks=2, out_dir=True):
    """Not quiet: the per-input lines and the summary are what is checked."""
    cmd = mpirun(ranks) + [CTXPAR, "--input-list", list_file,
           "--threads", "1"] + (["--out-dir", path("out")] if out_dir else [])
    cmd += [str(a) for a in extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          env=dict(ENV, CTXPAR_PROGRESS="lines"))


def summary_line(p):
    lines = [l for l in p.stdout.splitlines() if l.startswith("# input list:")]
    return lines[-1] if lines else ""


def expect(what, cond, detail=""):
    if not cond:
        fail("%s %s" % (what, detail))


def main():
    os.makedirs(path("out"))
    for i, frames in enumerate((8, 12, 16)):
        run(1, "make-video", "--frames", frames, "--size", "32x32", "--seed", 10 + i,
            "-o", path("v%d.h5" % i))
    with h5py.File(path("float.h5"), "w") as f:
        f["video"] = np.zeros((8, 32, 32, 3), dtype=np.float32)
    lst = path("list.txt")
    with open(lst, "w") as f:
        f.write("# three videos, one of the wrong type, one missing\n")
        f.write("%s\n%s\n\n%s\n" % (path("v0.h5"), path("float.h5"), path("missing.h5")))
        f.write("%s %s\n%s:video\n" % (path("v1.h5"), path("out/named.h5"), path("v2.h5")))

    # First pass: three done, two failed, the run goes on past the failures.
    p = run_list(lst, *MODEL)
    expect("first pass exit status", p.returncode == 1, "got %d" % p.returncode)
    expect("first pass summary", "5 input(s): 3 done, 0 skipped (already complete), 2 failed"
           in summary_line(p), repr(summary_line(p)) + p.stderr[-1500:])
    expect("failure named", "float32" in p.stderr and "missing.h5: no such file" in p.stderr,
           p.stderr[-1500:])
    outs = [path("out/v0.features.h5"), path("out/named.h5"), path("out/v2.features.h5")]
    for o in outs:
        expect("output exists", os.path.exists(o), o)
    expect("no output for failed inputs",
           not os.path.exists(path("out/float.features.h5")) and
           not os.path.exists(path("out/missing.features.h5")))
    # Each output equals a single-input run of the same video, byte for byte.
    for v, o in zip(("v0.h5", "v1.h5", "v2.h5:video"), outs):
        ref = path("ref_" + os.path.basename(o))
        run(2, "--input", path(v), *MODEL, "--out", ref)
        expect("list output equals single run", filecmp.cmp(ref, o, shallow=False), o)

    # Second pass: the complete outputs are skipped (files untouched); a file
    # at an output path that is not a complete output is refused, not skipped.
    stamps = [os.stat(o).st_mtime_ns for o in outs]
    os.remove(outs[1])
    with open(outs[2], "w") as f:
        f.write("not a features file\n")
    p = run_list(lst, *MODEL)
    expect("second pass summary", "5 input(s): 1 done, 1 skipped (already complete), 3 failed"
           in summary_line(p), repr(summary_line(p)))
    expect("first output untouched", os.stat(outs[0]).st_mtime_ns == stamps[0])
    expect("removed output rebuilt", filecmp.cmp(path("ref_named.h5"), outs[1], shallow=False))
    expect("foreign file refused", "is not a complete ctxpar output" in p.stderr, p.stderr[-800:])
    p = run_list(lst, *MODEL, "--overwrite")
    expect("--overwrite replaces the foreign file",
           filecmp.cmp(path("ref_v2.features.h5"), outs[2], shallow=False))

    # Resume validates what it skips: a complete output of another run (other
    # model, other frame count) is refused, not skipped, and left untouched;
    # one whose data is damaged is not complete.
    stamps = [os.stat(o).st_mtime_ns for o in outs]
    p = run_list(lst, "--preset", "small")
    expect("other model: summary", "5 input(s): 0 done, 0 skipped (already complete), 5 failed"
           in summary_line(p), repr(summary_line(p)))
    expect("other model: named", "is a complete output of another run (it was made by --preset "
           "tiny, this run uses --preset small)" in p.stderr, p.stderr[-800:])
    p = run_list(lst, *MODEL, "--frames", 4)
    expect("other frame count named", "it holds 8 frames, this run asks for 4" in p.stderr,
           p.stderr[-800:])
    expect("stale outputs untouched", [os.stat(o).st_mtime_ns for o in outs] == stamps)
    with h5py.File(outs[0], "a") as f:
        del f["tokens/features"]
    p = run_list(lst, *MODEL)
    expect("damaged output refused", "%s exists and is not a complete ctxpar output" % outs[0]
           in p.stderr, p.stderr[-800:])
    p = run_list(lst, *MODEL, "--overwrite")
    expect("damaged output rebuilt", filecmp.cmp(path("ref_v0.features.h5"), outs[0],
                                                 shallow=False))

    # Preemption: SIGTERM to every rank while the second input runs, then
    # resume: the first is skipped, the rest are done, results unchanged.
    for i in range(3):
        run(1, "make-video", "--frames", 32, "--size", "256x256", "--seed", 20 + i,
            "-o", path("long%d.h5" % i))
    lst2 = path("list2.txt")
    with open(lst2, "w") as f:
        f.write("".join("%s %s\n" % (path("long%d.h5" % i), path("out/long%d.h5" % i))
                        for i in range(3)))
    proc = start_until(2, ["--input-list", lst2, "--preset", "small", "--threads", 1],
                       lambda line: line.startswith("[2/3]") and "->" in line,
                       "the second input", timeout=240)
    kids = ranks_of(proc.pid)
    for k in kids:
        os.kill(k, signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    expect("preempted exit status", proc.returncode == 143, "got %d" % proc.returncode)
    expect("first long output complete", os.path.exists(path("out/long0.h5")))
    for i in (1, 2):
        for suffix in ("", ".ctxpar-partial"):
            expect("nothing left for the interrupted input",
                   not os.path.exists(path("out/long%d.h5%s" % (i, suffix))), suffix)
    stamp = os.stat(path("out/long0.h5")).st_mtime_ns
    p = run_list(lst2, "--preset", "small", out_dir=False)
    expect("resumed summary", "3 input(s): 2 done, 1 skipped (already complete), 0 failed"
           in summary_line(p), repr(summary_line(p)) + p.stderr[-1000:])
    expect("resumed exit status", p.returncode == 0, "got %d" % p.returncode)
    expect("completed output not redone", os.stat(path("out/long0.h5")).st_mtime_ns == stamp)
    ref = path("ref_long1.h5")
    run(2, "--input", path("long1.h5"), "--preset", "small", "--out", ref)
    expect("resumed output equals a single run",
           filecmp.cmp(ref, path("out/long1.h5"), shallow=False))

    # A list that names one output twice is refused before any work.
    dup = path("dup.txt")
    with open(dup, "w") as f:
        f.write("%s %s\n%s %s\n" % (path("v0.h5"), path("out/x.h5"), path("v1.h5"),
                                   path("out/x.h5")))
    p = run_list(dup, *MODEL)
    expect("duplicate outputs refused", p.returncode == 2 and "both write" in p.stderr,
           p.stderr[-500:])
    finish("e2e_input_list")


main()
