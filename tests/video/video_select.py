"""--fps and --start against ffmpeg's own selection, at 1 and 3 ranks:
--fps F equals the fps filter with round=up (frame i is the last frame shown
at or before i/F), --start S equals input seeking with -ss S (frames at or
after S), and --start with --fps equals the documented rule computed here
from ffprobe's exact timestamps (VFR clip included)."""
from fractions import Fraction

import numpy as np

from e2e_common import fail, finish
from video_common import (compare, decode, expected_ids, ffmpeg, frame_times, make_clips, path,
                          reference)

clips = make_clips()


def check_count(what, got, want):
    if got is not None and got.shape[0] != want:
        fail("%s: %d frames, expected %d" % (what, got.shape[0], want))


for name in ("h264_bframes", "vfr"):
    clip = clips[name]
    times = frame_times(clip)
    full = reference(clip).reshape(len(times), 64, 96, 3)
    for fps in ("10", "30000/1001"):
        ref = reference(clip, "-vf", "fps=fps=%s:round=up" % fps)
        want = expected_ids(times, 0, fps)
        for ranks in ((1, 3) if fps == "10" else (3,)):
            got, _ = decode(clip, ranks, "--fps", fps)
            check_count("%s --fps %s" % (name, fps), got, len(want))
            if got is not None:
                # the filter may repeat the last frame at the end; compare the frames both have
                compare("%s --fps %s, %d rank(s)" % (name, fps, ranks), got,
                        ref[:got.size])
    for start in ("0.52",):
        ref = reference(clip).reshape(len(times), 64, 96, 3)
        first = min(k for k, t in enumerate(times) if t >= Fraction(start))
        ffmpeg("-ss", start, "-i", clip, "-fps_mode", "passthrough", "-pix_fmt", "rgb24",
               "-f", "rawvideo", path("ss.rgb"))
        ss = np.fromfile(path("ss.rgb"), dtype=np.uint8)
        for ranks in (1, 3):
            got, _ = decode(clip, ranks, "--start", start)
            check_count("%s --start %s" % (name, start), got, len(times) - first)
            compare("%s --start %s (ffmpeg -ss), %d rank(s)" % (name, start, ranks), got, ss)
    ids = expected_ids(times, "0.25", "9")
    for ranks in (3,):
        got, _ = decode(clip, ranks, "--start", "0.25", "--fps", "9")
        compare("%s --start 0.25 --fps 9 (rule), %d rank(s)" % (name, ranks), got,
                full[ids].ravel())
finish("video_select")
