#!/usr/bin/env python3
"""Which tokens merged: read a ctxpar features file with h5py + numpy, print
the records' frame spans and the boxes covering one latent frame, and draw
that frame's token grid as a PNG (one filled box per record, coloured by
record, dark borders; records of a single token are light grey so merged
regions stand out). No plotting library needed: the PNG is written with zlib.

    examples/merge_regions.py ctxpar_features.h5 --frame 3 --out regions.png
"""
import argparse
import colorsys
import struct
import sys
import zlib

import h5py
import numpy as np


def write_png(path, rgb):
    """rgb: uint8 [H, W, 3] -> an 8-bit RGB PNG."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))  # filter type 0 per row

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
        f.write(chunk(b"IEND", b""))


def record_color(i):
    """A stable, well-spread colour per record index (golden-ratio hue)."""
    r, g, b = colorsys.hsv_to_rgb((i * 0.618033988749895) % 1.0, 0.55, 0.95)
    return np.array([r * 255, g * 255, b * 255], np.uint8)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file", nargs="?", default="ctxpar_features.h5")
    ap.add_argument("--frame", type=int, default=0, help="latent frame to draw (default 0)")
    ap.add_argument("--out", default="merge_regions.png", help="PNG to write")
    ap.add_argument("--scale", type=int, default=24, help="pixels per token (default 24)")
    ap.add_argument("--boxes", type=int, default=20, help="boxes to print (default 20, -1 all)")
    a = ap.parse_args()

    with h5py.File(a.file, "r") as f:
        if f.attrs.get("format") not in ("ctxpar-features", b"ctxpar-features"):
            sys.exit("%s is not a ctxpar features file" % a.file)
        rec = {k: f["tokens/" + k][()].astype(np.int64)
               for k in ("t_start", "t_end", "level", "y", "x", "size")}
        dim = f["tokens/features"].shape[1]
    n = len(rec["size"])
    side = 1 << rec["level"]
    span = rec["t_end"] - rec["t_start"] + 1
    grid_h = int((rec["y"] + side).max())
    grid_w = int((rec["x"] + side).max())
    frames = int(rec["t_end"].max()) + 1
    tokens = int(rec["size"].sum())
    print("%s: %d records of dim %d cover %d tokens (%d latent frames of %dx%d): %.2fx fewer"
          % (a.file, n, dim, tokens, frames, grid_h, grid_w, tokens / max(n, 1)))
    print("frame spans: " + ", ".join(
        "%d frame%s: %d" % (s, "" if s == 1 else "s", c)
        for s, c in zip(*np.unique(span, return_counts=True))))
    print("levels: " + ", ".join("%d (%dx%d): %d" % (l, 1 << l, 1 << l, c)
                                 for l, c in zip(*np.unique(rec["level"], return_counts=True))))
    print("longest chain: %d latent frames" % span.max())

    if not 0 <= a.frame < frames:
        sys.exit("--frame %d is outside the file's latent frames 0..%d" % (a.frame, frames - 1))
    here = np.nonzero((rec["t_start"] <= a.frame) & (rec["t_end"] >= a.frame))[0]
    print("latent frame %d: %d records (boxes: token rows y..y+side-1, columns x..x+side-1)"
          % (a.frame, len(here)))
    order = here[np.argsort(-rec["size"][here], kind="stable")]
    for i in order[: len(order) if a.boxes < 0 else a.boxes]:
        s = side[i]
        print("  record %6d: frames %3d-%3d, level %d, rows %2d-%2d, cols %2d-%2d, %d tokens"
              % (i, rec["t_start"][i], rec["t_end"][i], rec["level"][i], rec["y"][i],
                 rec["y"][i] + s - 1, rec["x"][i], rec["x"][i] + s - 1, rec["size"][i]))

    sc = a.scale
    img = np.full((grid_h * sc, grid_w * sc, 3), 255, np.uint8)
    covered = np.zeros((grid_h, grid_w), np.int64)
    for i in here:
        y, x, s = rec["y"][i], rec["x"][i], side[i]
        covered[y:y + s, x:x + s] += 1
        color = np.array([225, 225, 225], np.uint8) if rec["size"][i] == 1 else record_color(i)
        box = img[y * sc:(y + s) * sc, x * sc:(x + s) * sc]
        box[:] = color
        box[0, :] = box[-1, :] = box[:, 0] = box[:, -1] = (40, 40, 40)
    if (covered != 1).any():
        print("warning: %d tokens of frame %d are not covered exactly once"
              % (int((covered != 1).sum()), a.frame))
    write_png(a.out, img)
    print("wrote %s (%dx%d px; grey: single tokens, colours: merged records)"
          % (a.out, img.shape[1], img.shape[0]))


if __name__ == "__main__":
    main()
