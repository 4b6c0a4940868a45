"""Writes a seeded uint8 test video [T,H,W,3] (dataset "video") for the
CogVideoX tests.

The content is smooth (travelling waves and moving blobs) rather than noise,
because GroupNorm over noise makes every channel look alike and hides mistakes;
it also changes from frame to frame (motion, a brightness ramp, a scene cut in
the second half) so that an error in the temporal padding, the conv cache or
the frame pairing of the time downsampler shows up in the latents.

  python3 make_video.py OUT.h5 --frames 17 --height 32 --width 48 [--seed N]
"""
import argparse

import numpy as np


def make_video(frames, height, width, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(frames, dtype=np.float64)[:, None, None]
    y = np.arange(height, dtype=np.float64)[None, :, None] / height
    x = np.arange(width, dtype=np.float64)[None, None, :] / width
    video = np.empty((frames, height, width, 3), dtype=np.float64)
    for c in range(3):
        fy, fx = rng.uniform(0.5, 2.5, size=2)
        speed, phase = rng.uniform(0.05, 0.25), rng.uniform(0, 2 * np.pi)
        v = 70 * np.sin(2 * np.pi * (fy * y + fx * x + speed * t) + phase)
        for _ in range(3):  # blobs moving on straight lines
            y0, x0, vy, vx = rng.uniform(0, 1), rng.uniform(0, 1), *rng.uniform(-0.04, 0.04, size=2)
            r, amp = rng.uniform(0.1, 0.3), rng.uniform(-80, 80)
            v += amp * np.exp(-(((y - y0 - vy * t) ** 2) + ((x - x0 - vx * t) ** 2)) / (2 * r * r))
        v += 3.0 * (t - frames / 2)  # brightness ramp
        v += np.where(t >= frames // 2 + 1, rng.uniform(-40, 40), 0.0)  # a cut
        video[..., c] = 127.5 + v
    video += rng.normal(0, 4, size=video.shape)  # a little texture
    return np.clip(np.rint(video), 0, 255).astype(np.uint8)


def write(path, video):
    import h5py
    with h5py.File(path, "w") as f:
        f["video"] = video


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out")
    p.add_argument("--frames", type=int, default=17)
    p.add_argument("--height", type=int, default=32)
    p.add_argument("--width", type=int, default=48)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    write(a.out, make_video(a.frames, a.height, a.width, a.seed))


if __name__ == "__main__":
    main()
