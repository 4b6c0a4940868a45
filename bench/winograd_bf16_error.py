#!/usr/bin/python3
"""Would a bf16 Winograd convolution stay within the bf16 accuracy bound?

docs/bf16.md allows a bf16 Winograd only if its rounding stays within the
bound the bf16 runs are held to (2x the error of PyTorch's own bf16 run).
This measures one 3x3 convolution layer, the place the rounding enters,
on data shaped like a CogVideoX VAE layer (a SiLU'd GroupNorm output as
input, weights of a trained layer's scale), against a float64 reference:

- direct bf16: input and weight rounded to bf16, exact products, float64
  sums (what ctxpar's implicit GEMM does, up to float32 accumulation);
- PyTorch bf16: torch.nn.functional.conv2d on bf16 tensors (its output in
  bf16 too);
- Winograd F(2x2,3x3) and F(4x4,3x3) in bf16: the transformed input
  B^T d B and the transformed weight G g G^T rounded to bf16 (what a bf16
  GEMM would take), the element-wise products summed over channels in
  float64, the output transform in float64. F(4x4) at ctxpar's points
  (0, 1, -1, 2, -1/2, infinity) and at the usual (0, 1, -1, 2, -2,
  infinity).

The transforms are built from their interpolation points (Toom-Cook), so
the script checks them first: in float64 each Winograd equals the direct
convolution to 1e-12.

    bench/winograd_bf16_error.py [--channels 128] [--size 32] [--seed 0]
"""
import argparse

import numpy as np
import torch


def bf16(a):
    """Round float64/float32 values to bf16 (nearest even), as float64."""
    u = np.asarray(a, np.float32).view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16
    return r.astype(np.uint32).view(np.float32).astype(np.float64)


def transforms(m, points):
    """A^T (m x n), G (n x 3), B^T (n x n) of F(m, 3) for the finite points
    plus infinity (n = m + 2)."""
    r, n = 3, m + 2
    pts = np.array(points, np.float64)
    at = np.zeros((m, n))
    g = np.zeros((n, r))
    for i, a in enumerate(pts):
        at[:, i] = a ** np.arange(m)
        others = np.prod([a - b for j, b in enumerate(pts) if j != i])
        g[i] = a ** np.arange(r) / others
    at[m - 1, n - 1] = 1.0
    g[n - 1, r - 1] = 1.0
    # B^T from the identity y_i = sum_j d_{i+j} g_j for all d, g (linear in B^T)
    rows, rhs = [], []
    for i in range(m):
        for j in range(r):
            for k in range(n):
                coeff = np.zeros((n, n))
                coeff[:, k] = at[i] * g[:, j]
                rows.append(coeff.ravel())
                rhs.append(1.0 if k == i + j else 0.0)
    bt, *_ = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)
    return at, g, bt.reshape(n, n)


def direct(x, w):
    """float64 'same' 3x3 convolution (cross-correlation), zero padding 1."""
    cin, h, wd = x.shape
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    y = np.zeros((w.shape[0], h, wd))
    for dy in range(3):
        for dx in range(3):
            y += np.einsum("oi,ihw->ohw", w[:, :, dy, dx], xp[:, dy:dy + h, dx:dx + wd])
    return y


def winograd(x, w, m, points, rounding):
    at, g, bt = transforms(m, points)
    n = m + 2
    cin, h, wd = x.shape
    th, tw = -(-h // m), -(-wd // m)
    xp = np.pad(x, ((0, 0), (1, th * m - h + 1), (1, tw * m - wd + 1)))
    # [cin][tile row][tile column][n][n], tiles at stride m
    tiles = np.stack([np.stack([xp[:, ty * m:ty * m + n, tx * m:tx * m + n]
                                for tx in range(tw)], 1) for ty in range(th)], 1)
    v = rounding(np.einsum("ab,itubc,dc->ituad", bt, tiles, bt, optimize=True))
    u = rounding(np.einsum("ab,oibc,dc->oiad", g, w, g, optimize=True))
    mm = np.einsum("oiad,ituad->otuad", u, v, optimize=True)
    yt = np.einsum("pa,otuad,qd->otupq", at, mm, at, optimize=True)
    y = yt.transpose(0, 1, 3, 2, 4).reshape(w.shape[0], th * m, tw * m)
    return y[:, :h, :wd]


def rel(a, ref):
    return float(np.abs(a - ref).max() / np.abs(ref).max())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--channels", type=int, default=128)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    rng = np.random.default_rng(a.seed)
    c, s = a.channels, a.size
    pre = rng.standard_normal((c, s, s))
    x = pre / (1.0 + np.exp(-pre))  # SiLU of a normalised activation
    w = rng.standard_normal((c, c, 3, 3)) * (1.0 / np.sqrt(9 * c))
    ref = direct(x, w)
    ident = lambda v: v
    usual4 = [0, 1, -1, 2, -2]
    ours4 = [0, 1, -1, 2, -0.5]
    for m, pts, name in ((2, [0, 1, -1], "F(2x2)"), (4, ours4, "F(4x4) ctxpar's points"),
                         (4, usual4, "F(4x4) 0,+-1,+-2")):
        err = rel(winograd(x, w, m, pts, ident), ref)
        assert err < 1e-12, "%s transforms wrong: %.3g" % (name, err)
    print("one 3x3 conv, %d -> %d channels, %dx%d, seed %d; max|a - r| / max|r| against float64"
          % (c, c, s, s, a.seed))
    print("%-40s %.3g" % ("direct, bf16 inputs (ctxpar's bf16 conv)", rel(direct(bf16(x), bf16(w)), ref)))
    xt = torch.tensor(x[None], dtype=torch.bfloat16)
    wt = torch.tensor(w, dtype=torch.bfloat16)
    yt = torch.nn.functional.conv2d(xt, wt, padding=1)[0].double().numpy()
    print("%-40s %.3g" % ("PyTorch bf16 conv2d", rel(yt, ref)))
    for m, pts, name in ((2, [0, 1, -1], "Winograd F(2x2,3x3) bf16"),
                         (4, ours4, "Winograd F(4x4,3x3) bf16, ctxpar's points"),
                         (4, usual4, "Winograd F(4x4,3x3) bf16, 0,+-1,+-2")):
        print("%-40s %.3g" % (name, rel(winograd(x, w, m, pts, bf16), ref)))


if __name__ == "__main__":
    main()
