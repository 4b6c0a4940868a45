"""Bad V-JEPA 2 input: each case builds a broken transformers folder, video
or option, runs ctxpar on 2 ranks and expects a nonzero exit within a time
bound, an error line that names the problem (checked loosely: key
substrings, not the wording), and nothing at the output path (nor the
partial file beside it). The unbroken folder must run first, or every case
would pass for the wrong reason.
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "vjepa2"))
from e2e_common import *  # noqa: E402,F403
import make_folder  # noqa: E402
from family_badinput import BadFolders  # noqa: E402
from video import make_video  # noqa: E402

bad = BadFolders("ctxpar-vjepa2-bad-", "model.safetensors", make_folder, ["--no-merge"])
d, OUT, WEIGHTS = bad.dir, bad.out, bad.weights
variant, case = bad.variant, bad.case
edit_config, edit_tensors, edit_header = bad.edit_config, bad.edit_tensors, bad.edit_header
read_raw, write_raw = bad.read_raw, bad.write_raw


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

    finish("e2e_vjepa2_badinput")


if __name__ == "__main__":
    main()
