"""The resize filters against torch: ctxpar's antialiased bilinear and
bicubic equal torch.nn.functional.interpolate(mode='bilinear' or 'bicubic',
antialias=True, align_corners=False) on float planes (downscale, upscale,
one axis unchanged, odd ratios) within 2e-4 on the 0..255 scale, and the
RGB24 path (round half to even into uint8, then the centre-crop window,
torchvision's offsets) within 1 level with at most 0.5% of the values off
by one. Cases include V-JEPA 2's short side 292 then a 256 crop, CogVideoX's
480x720, and Qwen2-VL's smart_resize sizes (bicubic; the sizes themselves
against qwen-vl-utils' formula)."""
import math
import os
import subprocess

import numpy as np
import torch
import torch.nn.functional as F

from e2e_common import fail, finish
from video_common import smart_size

TOOL = os.environ.get("RESIZE_TOOL", "test_video_resize")
rng = np.random.default_rng(7)


def tool(args, data, mode="bilinear"):
    env = dict(os.environ, CTXPAR_RESIZE_FILTER=mode)
    p = subprocess.run([TOOL] + [str(a) for a in args], input=data.tobytes(),
                       capture_output=True, timeout=60, env=env)
    if p.returncode != 0:
        raise RuntimeError("%s %s failed (%d)" % (TOOL, args, p.returncode))
    return p.stdout


def torch_resize(img, out_h, out_w, mode="bilinear"):
    """img float [C, H, W] -> float [C, out_h, out_w]."""
    x = torch.from_numpy(np.ascontiguousarray(img)).unsqueeze(0)
    return F.interpolate(x, size=(out_h, out_w), mode=mode, antialias=True,
                         align_corners=False)[0].numpy()


def smooth_image(h, w, channels):
    """Noise plus gradients: edges for the filter to act on, all of 0..255."""
    y, x = np.mgrid[0:h, 0:w]
    base = 127.5 + 100 * np.sin(x / 7.0) * np.cos(y / 5.0)
    img = base[None] + rng.normal(0, 25, size=(channels, h, w))
    return np.clip(img, 0, 255).astype(np.float32)


plane_cases = [(64, 96, 32, 48), (64, 96, 48, 20), (30, 40, 45, 61), (50, 70, 50, 33),
               (48, 64, 31, 64), (37, 53, 80, 29), (240, 360, 292, 438)]
for mode in ("bilinear", "bicubic"):
    for in_h, in_w, out_h, out_w in plane_cases:
        img = smooth_image(in_h, in_w, 1)[0]
        got = np.frombuffer(tool(["plane", in_h, in_w, out_h, out_w], img, mode),
                            dtype=np.float32)
        ref = torch_resize(img[None], out_h, out_w, mode)[0]
        err = np.abs(got.reshape(out_h, out_w) - ref).max()
        if not err <= 2e-4 or not np.isfinite(got).all():
            fail("%s plane %dx%d -> %dx%d: max |ctxpar - torch| = %.3g"
                 % (mode, in_w, in_h, out_w, out_h, err))
        else:
            print("ok  %s plane %4dx%-4d -> %4dx%-4d max |diff| %.2g"
                  % (mode, in_w, in_h, out_w, out_h, err))


def short_side(h, w, s):
    return (s, int(s * w / h)) if h <= w else (int(s * h / w), s)


def center(n_in, n_out):
    return int(round((n_in - n_out) / 2.0))


# (input H, W, resize (H, W), crop (H, W)): V-JEPA 2 (crop 256: short side
# int(256*256/224) = 292), an odd centre offset, and CogVideoX's 480x720.
rgb_cases = [(240, 320) + (short_side(240, 320, 292),) + ((256, 256),),
             (135, 241) + (short_side(135, 241, 73),) + ((64, 64),),
             (360, 640, (480, 720), (480, 720)),
             (96, 64, (40, 30), (40, 30))]
for in_h, in_w, (rh, rw), (ch, cw) in rgb_cases:
    img = smooth_image(in_h, in_w, 3).round().astype(np.uint8)  # [3, H, W]
    top, left = center(rh, ch), center(rw, cw)
    hwc = np.ascontiguousarray(img.transpose(1, 2, 0))
    got = np.frombuffer(tool(["rgb", in_h, in_w, rh, rw, top, left, ch, cw], hwc),
                        dtype=np.uint8).reshape(ch, cw, 3).astype(int)
    ref = torch_resize(img.astype(np.float32), rh, rw).round().clip(0, 255)
    ref = ref[:, top:top + ch, left:left + cw].transpose(1, 2, 0).astype(int)
    diff = np.abs(got - ref)
    if diff.max() > 1 or (diff > 0).mean() > 0.005:
        fail("rgb %dx%d -> %dx%d crop %dx%d: max |diff| %d, %.3f%% differ"
             % (in_w, in_h, rw, rh, cw, ch, diff.max(), 100 * (diff > 0).mean()))
    else:
        print("ok  rgb %4dx%-4d -> %4dx%-4d crop %4dx%-4d max |diff| %d, %.3f%% off by one"
              % (in_w, in_h, rw, rh, cw, ch, diff.max(), 100 * (diff > 0).mean()))

# Qwen2-VL's processor: smart_resize sizes (factor 28, 128 to 768 tokens a
# frame) and the bicubic RGB path.
for in_h, in_w in ((360, 640), (480, 854), (240, 320), (1080, 1920)):
    rh, rw = smart_size(in_h, in_w)
    out = subprocess.run([TOOL, "smart", str(in_h), str(in_w), "28", str(128 * 28 * 28),
                          str(768 * 28 * 28)], capture_output=True, text=True,
                         timeout=60).stdout.split()
    if out != [str(rh), str(rw)]:
        fail("smart_resize %dx%d: ctxpar %s, qwen-vl-utils' formula %dx%d" % (in_w, in_h, out, rw, rh))
        continue
    if in_h > 480:
        continue  # the size rule is what the large frames test
    img = smooth_image(in_h, in_w, 3).round().astype(np.uint8)
    hwc = np.ascontiguousarray(img.transpose(1, 2, 0))
    got = np.frombuffer(tool(["rgb", in_h, in_w, rh, rw, 0, 0, rh, rw], hwc, "bicubic"),
                        dtype=np.uint8).reshape(rh, rw, 3).astype(int)
    ref = torch_resize(img.astype(np.float32), rh, rw, "bicubic").round().clip(0, 255)
    diff = np.abs(got - ref.transpose(1, 2, 0).astype(int))
    if diff.max() > 1 or (diff > 0).mean() > 0.005:
        fail("bicubic rgb %dx%d -> %dx%d: max |diff| %d, %.3f%% differ"
             % (in_w, in_h, rw, rh, diff.max(), 100 * (diff > 0).mean()))
    else:
        print("ok  bicubic rgb %4dx%-4d -> %4dx%-4d (smart_resize) max |diff| %d"
              % (in_w, in_h, rw, rh, diff.max()))

# The test can see a wrong filter: plain bilinear (no antialias) is far off.
img = smooth_image(64, 96, 1)
plain = F.interpolate(torch.from_numpy(img)[None], size=(16, 24), mode="bilinear",
                      align_corners=False)[0, 0].numpy()
got = np.frombuffer(tool(["plane", 64, 96, 16, 24], img[0]), dtype=np.float32).reshape(16, 24)
if np.abs(got - plain).max() < 1.0:
    fail("antialiased and plain bilinear agree: the comparison cannot tell filters apart")
finish("video_resize")
