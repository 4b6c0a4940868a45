"""Bad V-JEPA 2 input: each case builds a broken transformers folder, video
or option, runs ctxpar on 2 ranks and expects a nonzero exit within a time
bound, an error line that names the problem (checked loosely: key
substrings, not the wording), and nothing at the output path (nor the
partial file beside it). The unbroken folder must run first, or every case
would pass for the wrong reason.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "vjepa2"))
from e2e_common import *  # noqa: E402,F403
import make_folder  # noqa: E402
from video import make_video  # noqa: E402

d = tempfile.mkdtemp(prefix="ctxpar-vjepa2-bad-")
OUT = os.path.join(d, "out.h5")
WEIGHTS = "model.safetensors"


def variant(good, name, edit):
    """A copy of the good folder, changed by edit(folder)."""
    folder = os.path.join(d, name)
    shutil.copytree(good, folder)
    edit(folder)
    return folder


def edit_config(fn):
    def edit(folder):
        path = os.path.join(folder, "config.json")
        with open(path) as f:
            config = json.load(f)
        fn(config)
        with open(path, "w") as f:
            json.dump(config, f)
    return edit


def edit_tensors(fn):
    def edit(folder):
        config = json.load(open(os.path.join(folder, "config.json")))
        tensors = make_folder.make_tensors(config, seed=1)
        fn(tensors)
        make_folder.write_safetensors(os.path.join(folder, WEIGHTS), tensors, "F32")
    return edit


def shape_text(msg):
    """The message with shapes spelled alike: [8, 3, 3], (8,3,3), 8x3x3 -> 8,3,3."""
    return re.sub(r"(?<=\d)x(?=\d)", ",", re.sub(r"[\s\[\]()]", "", msg))


def case(name, args, expect, shapes=(), any_of=(), numbers=()):
    """expect: substrings that must all appear in one error line (case-insensitive);
    shapes: shapes (lists) that must appear in that line, however spelled;
    any_of: at least one of these substrings; numbers: integers that must appear as
    whole numbers (not as digits of another number)."""
    for p in (OUT, OUT + ".ctxpar-partial"):
        if os.path.exists(p):
            os.remove(p)
    cmd = [MPIEXEC, "--oversubscribe", "-np", "2", CTXPAR] + [str(a) for a in args]
    cmd += ["--out", OUT, "--no-merge", "--quiet", "--threads", "1"]
    start = time.time()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=ENV)
    except subprocess.TimeoutExpired:
        fail("%s: hung (no exit within 120 s)" % name)
        return
    took = time.time() - start
    before = len(failures)
    errors = [l for l in p.stderr.splitlines() if l.startswith("ctxpar")]
    if p.returncode == 0:
        fail("%s: exit status 0" % name)

    def matches(line):
        low = line.lower()
        if not all(e.lower() in low for e in expect):
            return False
        if any_of and not any(e.lower() in low for e in any_of):
            return False
        if not all(re.search(r"(?<![\d.])%d(?![\d.])" % n, line) for n in numbers):
            return False
        spelled = shape_text(line)
        return all(",".join(str(n) for n in s) in spelled for s in shapes)

    if not any(matches(l) for l in errors):
        want = list(expect) + ["shape %s" % list(s) for s in shapes] + list(numbers)
        want += ["one of %s" % list(any_of)] if any_of else []
        fail("%s: no error line naming %s in: %s" % (name, want,
                                                       " | ".join(errors) or p.stderr[-800:]))
    left = [q for q in (OUT, OUT + ".ctxpar-partial") if os.path.exists(q)]
    if left:
        fail("%s: left behind %s" % (name, left))
    line = next((l for l in errors if matches(l)), errors[0] if errors else "")
    print("%-4s %-28s exit %d in %.1fs: %s" % ("ok" if len(failures) == before else "FAIL", name,
                                               p.returncode, took, line.strip()[:200]))


def main():
    good = make_folder.write_folder(os.path.join(d, "good"), "tiny", "f32", seed=1)
    video = os.path.join(d, "v16.h5")
    make_video.write(video, make_video.make_video(16, 64, 64, seed=1))
    v48 = os.path.join(d, "v48.h5")
    make_video.write(v48, make_video.make_video(16, 48, 48, seed=1))
    v15 = os.path.join(d, "v15.h5")
    make_video.write(v15, make_video.make_video(15, 64, 64, seed=1))

    def run_with(folder, vid=video):
        return ["--model", folder, "--input", vid]

    try:
        run(2, *(run_with(good) + ["--out", os.path.join(d, "good.h5"), "--no-merge"]))
        run(2, *(run_with(good) + ["--out", os.path.join(d, "good2.h5"), "--no-merge",
                                   "--layer", "2"]))
        print("ok   good folder runs (and with --layer 2)")
    except Exception as e:  # noqa: BLE001
        fail("the unbroken folder fails: %s" % str(e)[-1500:])

    f = variant(good, "model_type", edit_config(lambda c: c.update(model_type="videomae")))
    case("unknown model_type", run_with(f), ["videomae"])

    missing = "encoder.layer.1.attention.key.bias"
    f = variant(good, "missing", edit_tensors(lambda t: t.pop(missing)))
    case("tensor missing", run_with(f), [missing])

    wrong = "encoder.layer.0.mlp.fc1.weight"
    f = variant(good, "shape", edit_tensors(
        lambda t: t.update({wrong: np.ones((128, 64), np.float32)})))
    case("wrong shape", run_with(f), [wrong], shapes=([256, 64], [128, 64]))

    case("48x48 frames for crop 64", run_with(good, v48), [], numbers=(48, 64))
    case("15 frames, tubelet 2", run_with(good, v15), [], any_of=("14", "16"), numbers=(2,))
    case("--layer 3 of 2", run_with(good) + ["--layer", "3"], ["--layer"], numbers=(3,))
    case("--layer 0", run_with(good) + ["--layer", "0"], ["--layer"], numbers=(0,))

    if not failures:  # keep the files of a failed run for a look, not those of a good one
        shutil.rmtree(d, ignore_errors=True)
    finish("e2e_vjepa2_badinput")


if __name__ == "__main__":
    main()
