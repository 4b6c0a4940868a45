"""A build without FFmpeg: a video --input is refused with one line that says
so (CTXPAR_ERR_UNSUPPORTED), and nothing is written at the output path."""
import os
import subprocess

from e2e_common import CTXPAR, ENV, fail, finish, scratch_dir

d = scratch_dir("ctxpar-novideo-")
clip, out = os.path.join(d, "clip.mp4"), os.path.join(d, "out.h5")
with open(clip, "wb") as f:  # the start of an MP4: not HDF5
    f.write(b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + b"\x00" * 4096)
p = subprocess.run([CTXPAR, "--preset", "tiny", "--input", clip, "--out", out], env=ENV,
                   capture_output=True, text=True, timeout=60)
errors = [l for l in p.stderr.splitlines() if l.startswith("ctxpar")]
if p.returncode == 0 or len(errors) != 1 or "without FFmpeg" not in errors[0]:
    fail("exit %d, expected one error line about FFmpeg:\n%s" % (p.returncode, p.stderr))
if os.path.exists(out):
    fail("something was left at the output path")
print("ok  %s" % (errors[0] if errors else ""))
finish("video_unsupported")
