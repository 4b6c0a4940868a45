"""Bad video input: each case exits nonzero, prints one ctxpar error line
that names the problem (and, for damage, the frame), and leaves nothing at
the output path. Runs on 2 ranks so the ranks agree on the error; the
decode-time cases fail on the rank that meets the damage."""
import os
import random
import subprocess
import time

from e2e_common import CTXPAR, ENV, fail, finish, mpirun
from video_common import ffmpeg, make_clips, path, testsrc

OUT = path("bad_out.h5")
BASE = ["--preset", "tiny", "--out", OUT]


def case(name, args, expect, ranks=2):
    for p in (OUT, OUT + ".ctxpar-partial"):
        if os.path.exists(p):
            os.remove(p)
    launcher = mpirun(ranks) if ranks > 1 else []
    cmd = launcher + [CTXPAR] + [str(a) for a in args]
    start = time.time()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=ENV)
    except subprocess.TimeoutExpired:
        fail("%s: hung" % name)
        return
    errors = [l for l in p.stderr.splitlines() if l.startswith("ctxpar")]
    if p.returncode == 0:
        fail("%s: exit status 0" % name)
    if len(errors) != 1:
        fail("%s: %d ctxpar error lines, expected one:\n%s" % (name, len(errors), p.stderr[-2000:]))
    for needle in expect:
        if not any(needle.lower() in l.lower() for l in errors):
            fail("%s: no error line mentioning %r in:\n%s" % (name, needle, p.stderr[-2000:]))
    if os.path.exists(OUT) or os.path.exists(OUT + ".ctxpar-partial"):
        fail("%s: something was left at the output path" % name)
    print("ok  %-22s exit %d in %.1fs: %s" % (name, p.returncode, time.time() - start,
                                             errors[0] if errors else ""))


clips = make_clips()
good = path("faststart.mp4")  # index at the front: truncation keeps it readable
ffmpeg(*testsrc(1.44), "-c:v", "libx264", "-bf", 3, "-g", 8, "-movflags", "+faststart", good)
data = open(good, "rb").read()
open(path("truncated.mp4"), "wb").write(data[:int(len(data) * 0.6)])
open(path("truncated_noindex.mp4"), "wb").write(open(clips["h264_bframes"], "rb").read()[:3000])
random.seed(1)
bad = bytearray(data)
for i in range(int(len(bad) * 0.55), int(len(bad) * 0.55) + 300):
    bad[i] = random.randrange(256)
open(path("corrupt.mp4"), "wb").write(bytes(bad))
open(path("empty.mp4"), "wb").close()
ffmpeg("-f", "lavfi", "-i", "sine=d=0.5", "-c:a", "aac", path("audio.m4a"))
avi = open(clips["mpeg4_avi"], "rb").read().replace(b"FMP4", b"ZQZQ")
open(path("unknown_codec.avi"), "wb").write(avi)
for name, size in (("a", "96x64"), ("b", "64x48")):
    ffmpeg(*testsrc(0.4, size=size), "-c:v", "libx264", "-bf", 0, "-f", "h264", path(name + ".h264"))
with open(path("ab.h264"), "wb") as f:
    f.write(open(path("a.h264"), "rb").read() + open(path("b.h264"), "rb").read())
ffmpeg("-r", 25, "-i", path("ab.h264"), "-c", "copy", path("size_change.mp4"))

case("truncated", BASE + ["--input", path("truncated.mp4"), "--frames", 16],
     ["truncated.mp4", "truncated", "frame 2"])
case("truncated, no index", BASE + ["--input", path("truncated_noindex.mp4")],
     ["truncated_noindex.mp4", "truncated"], ranks=1)
case("corrupt", BASE + ["--input", path("corrupt.mp4"), "--frames", 32],
     ["corrupt.mp4", "is corrupt: decoding failed at frame 1"])
case("0-byte file", BASE + ["--input", path("empty.mp4")], ["empty.mp4", "0 bytes"], ranks=1)
case("no video stream", BASE + ["--input", path("audio.m4a")], ["audio.m4a", "no video stream"],
     ranks=1)
case("unsupported codec", BASE + ["--input", path("unknown_codec.avi")],
     ["unknown_codec.avi", "codec (none, tag ZQZQ) is not one this FFmpeg build can decode"])
case("fewer frames", BASE + ["--input", clips["h264_bframes"], "--frames", 64],
     ["h264_bframes.mp4 has 36 frames", "asks for 64"])
case("fewer after --fps", BASE + ["--input", clips["h264_bframes"], "--fps", 5, "--frames", 12],
     ["has 8 frames", "--fps"])
case("size changes", BASE + ["--input", path("size_change.mp4"), "--frames", 20],
     ["size_change.mp4", "frame 10 is 64x48", "changes mid-stream"])
case("dataset on a video", BASE + ["--input", clips["vp9"] + ":video", "--frames", 8],
     ["vp9.webm is a video file", "no dataset"], ranks=1)
case("crop without size", BASE + ["--input", clips["vp9"], "--crop", "center"], ["--size"],
     ranks=1)
case("crop too large", BASE + ["--input", clips["vp9"], "--resize", "short:32", "--crop", "center",
                               "--size", "64x64"], ["does not fit"], ranks=1)
case("resize malformed", BASE + ["--input", clips["vp9"], "--resize", "big"], ["--resize"], ranks=1)
case("fps malformed", BASE + ["--input", clips["vp9"], "--fps", "0"], ["--fps"], ranks=1)
case("--start on synthetic", BASE + ["--start", "1"], ["--start"], ranks=1)
finish("video_badinput")
