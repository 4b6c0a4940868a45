"""A model family's default video shaping: `--model DIR --input clip.mp4`
with no --resize/--crop/--size must give exactly what the family's processor
flags give (V-JEPA 2: short side int(crop*256/224), centre crop to crop x
crop; CogVideoX: 720x480), and explicit flags must still win."""
import os
import subprocess
import sys
import tempfile

import e2e_common as e2e

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "vjepa2"))
import make_folder  # noqa: E402


def features(path):
    return e2e.read(path)["features"]


with tempfile.TemporaryDirectory() as tmp:
    clip = os.path.join(tmp, "clip.mp4")
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=160x120:rate=25", "-frames:v", "8", "-pix_fmt", "yuv420p",
                    clip], check=True)
    model = make_folder.write_folder(os.path.join(tmp, "vj"), "tiny", "f32", seed=5)
    common = ["--model", model, "--input", clip, "--no-merge", "--overwrite"]
    e2e.run(2, *common, "--out", tmp + "/default.h5")
    e2e.run(2, *common, "--out", tmp + "/explicit.h5", "--resize", "short:73", "--crop",
            "center", "--size", "64x64")
    e2e.check_equal("V-JEPA 2 default shaping vs its explicit flags",
                    features(tmp + "/default.h5"), features(tmp + "/explicit.h5"))
    # explicit flags win over the default: a 48x48 crop reaches the model,
    # which refuses it naming its crop size
    p = e2e.run(2, *common, "--out", tmp + "/bad.h5", "--resize", "short:64", "--crop",
                "center", "--size", "48x48", check=False)
    if p.returncode == 0 or "64x64" not in p.stderr:
        e2e.fail("an explicit --size that is not the crop size should be refused naming 64x64:\n"
                 + p.stderr)
e2e.finish("e2e_family_video_defaults")
