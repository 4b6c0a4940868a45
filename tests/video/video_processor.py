"""Qwen2-VL's video processor (qwen-vl-utils' fetch_video, as the family
applies it to a video file): the frames ctxpar reads at 1 and 3 ranks
against a Python transcription of qwen-vl-utils 0.0.14 on the ffmpeg
command line's frames: n = duration x 2 frames/s (or --fps) clamped to
[4, min(768, frames)] and floored to even, frames at
torch.linspace(0, frames - 1, n).round(), smart_resize to multiples of 28
within 128 to 768 tokens a frame and 128000 x 0.9 tokens for the video (or
--max-pixels), then torch's antialiased bicubic (float, rounded half to
even, clamped). The same frames, and pixels within 1 level with at most
0.5% off by one (torch's uint8 kernels round on their own). A budget
below the processor's minimum is refused with the minimum named."""
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from video_common import decode, ffmpeg, path, reference, smart_size  # noqa: E402
from e2e_common import fail, finish  # noqa: E402


def processor(frames, video_fps, fps=2.0, max_pixels_user=None, factor=28):
    total = frames.shape[0]
    min_frames = math.ceil(4 / 2) * 2
    max_frames = math.floor(min(768, total) / 2) * 2
    n = min(min(max(total / video_fps * fps, min_frames), max_frames), total)
    n = math.floor(n / 2) * 2
    idx = torch.linspace(0, total - 1, n).round().long().numpy()
    video = frames[idx]
    min_pixels = 128 * factor * factor
    total_pixels = 128000 * factor * factor * 0.9
    max_pixels = max(min(768 * factor * factor, total_pixels / n * 2), int(min_pixels * 1.05))
    if max_pixels_user is not None:
        max_pixels = min(max_pixels_user, max_pixels)
    h, w = smart_size(video.shape[1], video.shape[2], factor, min_pixels, max_pixels)
    x = torch.from_numpy(video.astype(np.float32)).permute(0, 3, 1, 2)
    y = F.interpolate(x, size=(h, w), mode="bicubic", antialias=True, align_corners=False)
    return y.round().clamp(0, 255).permute(0, 2, 3, 1).numpy().astype(np.uint8), idx


def main():
    clips = {}
    for name, size, count in (("small", (240, 320), 125), ("large", (480, 640), 40)):
        clips[name] = path("processor-%s.mp4" % name)
        ffmpeg("-f", "lavfi", "-i", "testsrc2=size=%dx%d:rate=25" % (size[1], size[0]),
               "-frames:v", count, "-pix_fmt", "yuv420p", clips[name])
        clips[name] = (clips[name], reference(clips[name]).reshape((count,) + size + (3,)))
    # 320x240 is scaled up to the 128-token minimum; 640x480 down to the
    # 768-token maximum, or to --max-pixels
    for name, extra, fps, user in (("small", (), 2.0, None), ("small", ("--fps", "4"), 4.0, None),
                                   ("large", (), 2.0, None),
                                   ("large", ("--max-pixels", "200704"), 2.0, 200704)):
        clip, all_frames = clips[name]
        want, idx = processor(all_frames, 25.0, fps, user)
        for ranks in (1, 3):
            got, _ = decode(clip, ranks, "--qwen-processor", "28", *extra)
            tag = "%s clip, %s at %d ranks" % (name, " ".join(extra) or "defaults", ranks)
            if got is None:
                continue
            if got.shape != want.shape:
                fail("%s: %s frames of ctxpar, the processor's %s (frames %s)"
                     % (tag, got.shape, want.shape, idx.tolist()))
                continue
            diff = np.abs(got.astype(int) - want.astype(int))
            if diff.max() > 1 or (diff > 0).mean() > 0.005:
                fail("%s: pixels differ by up to %d, %.3f%% of them" % (tag, diff.max(),
                                                                       100 * (diff > 0).mean()))
            else:
                print("ok  %s: %d frames %s of %dx%d, max |diff| %d (%.3f%% off by one)"
                      % (tag, got.shape[0], idx.tolist(), got.shape[2], got.shape[1], diff.max(),
                         100 * (diff > 0).mean()))
    # below the processor's per-frame minimum: qwen-vl-utils asserts, ctxpar says why
    got, p = decode(clips["small"][0], 1, "--qwen-processor", "28", "--max-pixels", "50000",
                    expect_ok=False)
    if got is not None or "minimum of 100352" not in p.stderr:
        fail("--max-pixels 50000: not refused with the minimum named: %r" % p.stderr[-400:])
    else:
        print("ok  --max-pixels 50000 refused: minimum 100352 pixels a frame")
    finish("video_processor")


if __name__ == "__main__":
    main()
