"""Bad input: each case must exit nonzero within a time bound, print one
error line that names the problem, and leave nothing at the output path (nor
the temporary file beside it). Most cases run on 2 ranks so that the ranks'
agreement on the error is exercised too."""
import json
import os
import shutil
import subprocess
import time

import h5py

from e2e_common import *

d = scratch_dir("ctxpar-bad-")
OUT = os.path.join(d, "out.h5")
BASE = ["--preset", "tiny", "--frames", 16, "--size", "32x32"]


def prepare():
    model = os.path.join(d, "model.h5")
    run(1, "init-model", "--preset", "tiny", "--seed", 1, "-o", model)
    files = {"model": model}
    with open(os.path.join(d, "garbage.h5"), "w") as f:
        f.write("this is not an HDF5 file\n" * 100)
    files["garbage"] = os.path.join(d, "garbage.h5")
    with open(model, "rb") as f:
        head = f.read(10 * 1024)
    files["truncated"] = os.path.join(d, "truncated.h5")
    with open(files["truncated"], "wb") as f:
        f.write(head)
    files["missing_tensor"] = os.path.join(d, "missing_tensor.h5")
    shutil.copy(model, files["missing_tensor"])
    with h5py.File(files["missing_tensor"], "a") as f:
        del f["vae/mid/conv1/weight"]
    files["wrong_shape"] = os.path.join(d, "wrong_shape.h5")
    shutil.copy(model, files["wrong_shape"])
    with h5py.File(files["wrong_shape"], "a") as f:
        del f["embed/weight"]
        f["embed/weight"] = np.zeros((64, 7), dtype=np.float32)
    files["video"] = os.path.join(d, "video.h5")
    run(1, "make-video", "--frames", 8, "--size", "32x32", "-o", files["video"])
    files["float_video"] = os.path.join(d, "float_video.h5")
    with h5py.File(files["float_video"], "w") as f:
        f["video"] = np.zeros((16, 32, 32, 3), dtype=np.float32)
    files["rgba_video"] = os.path.join(d, "rgba_video.h5")
    with h5py.File(files["rgba_video"], "w") as f:
        f["video"] = np.zeros((16, 32, 32, 4), dtype=np.uint8)
    return files


def planned_mib(ranks, args):
    """The plan's memory for the largest rank at this rank count (--dry-run --json)."""
    lines = os.path.join(d, "plan.jsonl")
    run(ranks, *(args + ["--dry-run", "--json", lines]))
    with open(lines) as f:
        plan = json.loads(f.read().splitlines()[-1])
    os.remove(lines)
    return plan["planned_bytes"] / (1024.0 * 1024.0)


def case(name, ranks, args, expect, out=OUT):
    if os.path.exists(out) and out == OUT:
        os.remove(out)
    cmd = mpirun(ranks) + [CTXPAR] + [str(a) for a in args]
    start = time.time()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=ENV)
    except subprocess.TimeoutExpired:
        fail("%s: hung (no exit within 120 s)" % name)
        return
    took = time.time() - start
    errors = [l for l in p.stderr.splitlines() if l.startswith("ctxpar")]
    if p.returncode == 0:
        fail("%s: exit status 0" % name)
    if not any(expect.lower() in l.lower() for l in errors):
        fail("%s: no error line mentioning %r in:\n%s" % (name, expect, p.stderr[-2000:]))
    if out == OUT and (os.path.exists(OUT) or os.path.exists(OUT + ".ctxpar-partial")):
        fail("%s: something was left at the output path" % name)
    print("ok  %-26s exit %d in %.1fs: %s" % (name, p.returncode, took,
                                             errors[0] if errors else ""))


def main():
    f = prepare()
    o = ["--out", OUT]
    case("unknown flag", 2, BASE + o + ["--bogus"], "unknown option")
    case("frames not a number", 2, ["--frames", "12x"] + o, "--frames")
    case("frames zero", 2, ["--frames", "0"] + o, "--frames")
    case("frames not multiple", 2, ["--preset", "tiny", "--frames", 18, "--size", "32x32"] + o,
         "multiple of")
    case("size not divisible", 2, ["--preset", "tiny", "--frames", 16, "--size", "36x32"] + o,
         "multiples of")
    case("size malformed", 2, ["--size", "256"] + o, "--size")
    case("unknown preset", 2, ["--preset", "huge"] + o, "preset")
    case("bad norm", 2, BASE + o + ["--norm", "fuzzy"], "--norm")
    case("missing value", 2, BASE + o + ["--frames"], "needs a value")
    case("threads zero", 2, BASE + o + ["--threads", "0"], "--threads")
    case("model missing", 2, ["--model", os.path.join(d, "nope.h5")] + BASE[2:] + o,
         "nope.h5")
    case("model garbage", 2, ["--model", f["garbage"]] + BASE[2:] + o, "garbage.h5")
    case("model truncated", 2, ["--model", f["truncated"]] + BASE[2:] + o, "truncated.h5")
    case("model foreign", 2, ["--model", f["video"]] + BASE[2:] + o, "format")
    case("model missing tensor", 2, ["--model", f["missing_tensor"]] + BASE[2:] + o,
         "vae/mid/conv1/weight")
    case("model wrong shape", 2, ["--model", f["wrong_shape"]] + BASE[2:] + o, "embed/weight")
    case("input missing", 2, BASE + o + ["--input", os.path.join(d, "novideo.h5")],
         "novideo.h5")
    case("input float dtype", 2, BASE + o + ["--input", f["float_video"]], "uint8")
    case("input 4 channels", 2, BASE + o + ["--input", f["rgba_video"]], "rgba_video")
    case("input too few frames", 2, BASE + o + ["--input", f["video"]], "frames")
    case("input missing dataset", 2, BASE + o + ["--input", f["video"] + ":nothere"], "nothere")
    # a damaged file that crashes HDF5 1.10 itself (found by tests/fuzz): one line, exit 1
    crasher = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           "fuzz", "library", "hdf5", "symbol-table-heap")
    case("input crashes HDF5", 2, BASE + o + ["--input", crasher], "HDF5 crashed reading")
    case("too many ranks", 3, BASE[:2] + ["--frames", 8, "--size", "32x32"] + o,
         "at most 2 ranks")
    case("chunk not aligned", 2, BASE + o + ["--norm", "chunk", "--chunk-frames", 6],
         "multiple of")
    case("memory limit", 2, BASE + o + ["--mem-limit", 1], "mem-limit")
    # small preset, 64 frames: the limit sits just above what 2 ranks need
    # and below what 1 rank needs (both from the plan: the conv path, and so
    # the scratch, depends on the CPU), so the error must name 2 ranks. The
    # margin covers the weights, which the hint counts whole on every rank
    # (its ranks may be on other nodes) and the 2-rank plan shares by two.
    need = {n: planned_mib(n, ["--frames", 64] + o) for n in (1, 2)}
    limit = int(need[2]) + 40
    if need[1] <= limit:
        fail("memory limit names ranks: 1 rank needs %.1f MiB, not more than %d" % (need[1], limit))
    case("memory limit names ranks", 1, ["--frames", 64, "--mem-limit", limit] + o,
         "2 ranks with %d MiB each would fit" % limit)
    case("cuda device", 2, BASE + o + ["--device", "cuda"], "--device cuda")
    # An existing output is kept as it was.
    with open(OUT, "w") as fh:
        fh.write("keep me")
    case("existing output", 2, BASE + o, "--overwrite", out=OUT + "-unused")
    if open(OUT).read() != "keep me":
        fail("existing output was modified")
    os.remove(OUT)
    case("unwritable directory", 2, BASE + ["--out", "/nonexistent-dir/out.h5"],
         "cannot create", out="/nonexistent-dir/out.h5")
    case("output in /proc", 2, BASE + ["--out", "/proc/ctxpar-out.h5"], "cannot create",
         out="/proc/ctxpar-out.h5")
    finish("e2e_badinput")


main()
