"""Helpers for the video tests: make clips with the ffmpeg command line,
decode them with it (the reference), and decode them with ctxpar's source
API through video_dump at a given number of ranks."""
import math
import os
import struct
import subprocess
from fractions import Fraction

import numpy as np

from e2e_common import ENV, fail, mpirun, scratch_dir

DUMP = os.environ.get("VIDEO_DUMP", "video_dump")
FFMPEG = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-nostdin"]
WORK = scratch_dir("ctxpar-video-")


def path(name):
    return os.path.join(WORK, name)


def ffmpeg(*args):
    p = subprocess.run(FFMPEG + [str(a) for a in args], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("ffmpeg %s failed: %s" % (" ".join(map(str, args)), p.stderr))


def testsrc(seconds, size="96x64", rate=25):
    return ["-f", "lavfi", "-i", "testsrc2=size=%s:rate=%s" % (size, rate), "-t", seconds]


def make_clips():
    """The clips every video test can use; name -> path."""
    c = {}
    c["h264_bframes"] = path("h264_bframes.mp4")  # B-frames, short closed GOPs, edit list
    ffmpeg(*testsrc(1.44), "-c:v", "libx264", "-bf", 3, "-g", 8, "-keyint_min", 8,
           "-sc_threshold", 0, "-pix_fmt", "yuv420p", c["h264_bframes"])
    c["h264_opengop"] = path("h264_opengop.mkv")  # open GOPs: leading B-frames
    ffmpeg(*testsrc(1.44), "-c:v", "libx264", "-bf", 3, "-g", 10, "-x264-params",
           "open_gop=1:keyint_min=10:scenecut=0", "-pix_fmt", "yuv420p", c["h264_opengop"])
    c["vp9"] = path("vp9.webm")
    ffmpeg(*testsrc(1.0), "-c:v", "libvpx-vp9", "-g", 9, "-deadline", "realtime", "-cpu-used", 8,
           "-b:v", "300k", c["vp9"])
    c["mpeg4_avi"] = path("mpeg4.avi")
    ffmpeg(*testsrc(1.0), "-c:v", "mpeg4", "-g", 6, "-q:v", 4, c["mpeg4_avi"])
    c["vfr"] = path("vfr.mkv")  # frame times n/25 + 0.004 n^2
    ffmpeg(*testsrc(1.2), "-vf", "setpts=(N/25+0.004*N*N)/TB", "-fps_mode", "passthrough",
           "-c:v", "libx264", "-bf", 2, "-g", 9, "-pix_fmt", "yuv420p", c["vfr"])
    c["bt709_limited"] = path("bt709.mp4")
    ffmpeg(*testsrc(0.4), "-c:v", "libx264", "-pix_fmt", "yuv420p", "-colorspace", "bt709",
           "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv",
           c["bt709_limited"])
    c["bt601_full"] = path("bt601_full.mp4")
    ffmpeg(*testsrc(0.4), "-c:v", "libx264", "-pix_fmt", "yuvj420p", "-colorspace", "smpte170m",
           "-color_range", "pc", c["bt601_full"])
    c["cut_editlist"] = path("cut.mp4")  # stream copy from mid-GOP: packets to discard
    ffmpeg("-ss", 0.5, "-i", c["h264_bframes"], "-c", "copy", c["cut_editlist"])
    c["rotated"] = path("rotated.mp4")  # display matrix: 90 degrees
    rotate_mp4(c["h264_bframes"], c["rotated"])
    return c


def rotate_mp4(src, dst):
    """Copy an MP4, setting its track's display matrix to a 90-degree turn."""
    data = bytearray(open(src, "rb").read())
    i = data.find(b"tkhd")
    version = data[i + 4]
    off = i + 8 + (12 if version == 0 else 24) + 4 + (4 if version == 0 else 8) + 8 + 8
    matrix = [0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000]
    data[off:off + 36] = struct.pack(">9i", *matrix)
    open(dst, "wb").write(data)


def reference(clip, *filters):
    """The ffmpeg command line's frames: uint8 [T, H, W, 3] (every decoded
    frame, no frame-rate conversion)."""
    out = path(os.path.basename(clip) + ".ref.rgb")
    args = ["-i", clip, "-fps_mode", "passthrough"] + list(filters)
    ffmpeg(*args, "-pix_fmt", "rgb24", "-f", "rawvideo", out)
    return np.fromfile(out, dtype=np.uint8)


def decode(clip, ranks, *options, expect_ok=True):
    """ctxpar's frames at `ranks` ranks: (uint8 [T, H, W, 3], process); the
    process's stderr holds one "video trace" line per rank."""
    out = path("dump_%d.rgb" % ranks)
    cmd = mpirun(ranks) + [DUMP, clip, out] + \
        [str(o) for o in options]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                       env=dict(ENV, CTXPAR_VIDEO_TRACE="1"))
    if p.returncode != 0:
        if expect_ok:
            fail("%s at %d ranks: video_dump failed:\n%s" % (clip, ranks, p.stderr[-2000:]))
        return None, p
    t, h, w = (int(x) for x in p.stdout.split()[:3])
    frames = np.fromfile(out, dtype=np.uint8)
    if frames.size != t * h * w * 3:
        fail("%s at %d ranks: %d bytes for %d frames of %dx%d" % (clip, ranks, frames.size, t, w, h))
        return None, p
    return frames.reshape(t, h, w, 3), p


def compare(what, got, ref_flat):
    """Byte-identical, or name the first differing frame."""
    if got is None:
        return
    frame_bytes = got[0].size
    if ref_flat.size % frame_bytes:
        fail("%s: reference is %d bytes, not whole %s frames" % (what, ref_flat.size, got.shape[1:]))
        return
    ref = ref_flat.reshape(-1, *got.shape[1:])
    if ref.shape != got.shape:
        fail("%s: %d frames, the ffmpeg command line gives %d" % (what, got.shape[0], ref.shape[0]))
        return
    diff = np.argwhere((got != ref).reshape(got.shape[0], -1).any(axis=1)).ravel()
    if diff.size:
        f = diff[0]
        fail("%s: %d of %d frames differ, first frame %d (max |diff| %d)" % (
            what, diff.size, got.shape[0], f,
            np.abs(got[f].astype(int) - ref[f].astype(int)).max()))
    else:
        print("ok  %-40s %d frames of %dx%d identical" % (what, got.shape[0], got.shape[2],
                                                          got.shape[1]))


def frame_times(clip):
    """Exact presentation times of the decoded frames, relative to the first."""
    tb = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                         "stream=time_base", "-of", "csv=p=0", clip],
                        capture_output=True, text=True).stdout.strip()
    ts = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                         "frame=best_effort_timestamp", "-of", "csv=p=0", clip],
                        capture_output=True, text=True).stdout.split()
    tb = Fraction(tb)
    t = sorted(int(x.split(",")[0]) * tb for x in ts if x.split(",")[0])
    return [x - t[0] for x in t]


def expected_ids(times, start, fps):
    """docs/video.md's selection rule: frame i is the last frame at or
    before start + i/fps, for every such time up to the last frame's."""
    start, fps = Fraction(start), Fraction(fps)
    ids, i = [], 0
    while start + Fraction(i) / fps <= times[-1]:
        limit = start + Fraction(i) / fps
        ids.append(max(k for k, t in enumerate(times) if t <= limit))
        i += 1
    return ids


def smart_size(h, w, factor=28, min_pixels=128 * 28 * 28, max_pixels=768 * 28 * 28):
    """qwen-vl-utils' smart_resize (0.0.14), transcribed: the size a frame of
    h x w takes in Qwen2-VL's processor."""
    hb, wb = max(factor, round(h / factor) * factor), max(factor, round(w / factor) * factor)
    if hb * wb > max_pixels:
        beta = math.sqrt(h * w / max_pixels)
        hb, wb = math.floor(h / beta / factor) * factor, math.floor(w / beta / factor) * factor
    elif hb * wb < min_pixels:
        beta = math.sqrt(min_pixels / (h * w))
        hb, wb = math.ceil(h * beta / factor) * factor, math.ceil(w * beta / factor) * factor
    return hb, wb
