"""The pipeline from a video file equals the pipeline from an HDF5 of the
same frames, at 1 and 3 ranks (features and latents identical: the source
hands the pipeline the same floats). The MP4 comes from `ctxpar make-video`
(written under a temporary name and renamed), the HDF5 from the ffmpeg
command line's rgb24 decode of it. --input-list takes video files too, and
--resize/--crop run through the pipeline to the planned size."""
import os

import h5py
import numpy as np

from e2e_common import check_equal, fail, finish, read, run
from video_common import make_clips, path, reference

clip = path("synthetic.mp4")
run(1, "make-video", "--frames", 16, "--size", "64x64", "--seed", 3, "-o", clip)
if os.path.exists(clip + ".ctxpar-partial") or not os.path.exists(clip):
    fail("make-video: the MP4 is missing or its temporary file was left behind")
with open(clip, "rb") as f:
    if f.read(12)[4:8] != b"ftyp":
        fail("make-video: %s is not an MP4 (no ftyp box)" % clip)
frames = reference(clip).reshape(-1, 64, 64, 3)
if frames.shape[0] != 16:
    fail("make-video wrote %d frames, expected 16" % frames.shape[0])
h5 = path("synthetic.h5")
with h5py.File(h5, "w") as f:
    f["video"] = frames

common = ["--preset", "tiny", "--save-latents", "--overwrite"]
for ranks in (1, 3):
    a, b = path("from_mp4_%d.h5" % ranks), path("from_h5_%d.h5" % ranks)
    run(ranks, "--input", clip, "--out", a, *common)
    run(ranks, "--input", h5, "--out", b, *common)
    fa, fb = read(a), read(b)
    check_equal("%d rank(s): latents" % ranks, fa["latents"], fb["latents"])
    for k in ("features", "size", "t_start", "y", "x"):
        if k in fa:
            check_equal("%d rank(s): tokens/%s" % (ranks, k), fa[k], fb[k])
    print("ok  features and latents from MP4 == from HDF5 at %d rank(s)" % ranks)

# --input-list with two video files (MP4 and WebM), at 3 ranks.
webm = make_clips()["vp9"]
listing = path("list.txt")
with open(listing, "w") as f:
    f.write("%s %s\n%s %s\n" % (clip, path("list_a.h5"), webm, path("list_b.h5")))
run(3, "--input-list", listing, "--frames", 16, *common)
check_equal("--input-list: the MP4's latents", read(path("list_a.h5"))["latents"],
            read(path("from_mp4_3.h5"))["latents"])
if read(path("list_b.h5"))["attrs"].get("complete") != 1:
    fail("--input-list: the WebM's output is not complete")
print("ok  --input-list with an MP4 and a WebM")

# --resize/--crop through the pipeline: the run uses the cropped size.
out = path("resized.h5")
run(3, "--input", webm, "--resize", "short:40", "--crop", "center", "--size", "32x32",
    "--frames", 12, "--out", out, *common)
attrs = read(out)["attrs"]
if (attrs.get("height"), attrs.get("width")) != (32, 32):
    fail("--resize short:40 --crop center --size 32x32 ran at %sx%s" % (attrs.get("width"),
                                                                       attrs.get("height")))
else:
    print("ok  --resize short:40 --crop center --size 32x32 runs at 32x32")
finish("video_pipeline")
