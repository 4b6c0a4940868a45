"""Checks the float64 V-JEPA 2 reference (reference.py) before anything is
compared with it:

(a) RoPE, second formulation: for every token an explicit hd x hd rotation
    matrix built channel by channel from the rule (channel j of an axis block
    of width a uses the angle pos * omega_(j mod a/2); an even channel takes
    -sin times its odd partner, an odd channel +sin times its even partner;
    channels [3a, hd) pass through) must equal reference.rope_3d to ~1e-15,
    for hd = 32, 64 and 80 (tails of 2, 4 and 2 channels);
(b) the whole encoder, second formulation in numpy (patch embedding as a
    reshape + matrix product instead of a Conv3d, hand-written LayerNorm,
    softmax and erf GELU, attention through the explicit rotation matrices)
    must match reference.reference, final output and every block, to ~1e-12;
(c) the quirk is really there: the same encoder with standard interleaved
    RoPE (angles repeat_interleave'd) and with half-split RoPE differs from
    the reference by more than 1% of max|r|, and the quirk rotation is not
    norm preserving while the standard one is;
(d) the folder writer: the ViT-L plan has 388 encoder tensors and 303,885,312
    encoder parameters; the classification layout loads to the same encoder
    weights as the plain one, predictor/pooler/classifier tensors skipped.
Exits nonzero on any failure.
"""
import math
import os
import shutil
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_folder  # noqa: E402
import reference  # noqa: E402
from video import make_video  # noqa: E402

failures = []


def check(what, ok, detail):
    print("%-4s %s: %s" % ("ok" if ok else "FAIL", what, detail))
    if not ok:
        failures.append(what)


def rel(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / np.max(np.abs(np.asarray(b))))


# ---------------------------------------------------------------- second formulation

def rotation_matrix(hd, t, h, w):
    """The hd x hd matrix that the V-JEPA 2 RoPE applies to one token's head vector."""
    a = 2 * ((hd // 3) // 2)
    m = a // 2
    r = np.zeros((hd, hd))
    for axis, pos in enumerate((t, h, w)):
        for j in range(a):
            c = axis * a + j
            theta = pos * (10000.0 ** (-float(j % m) / m))
            r[c, c] = math.cos(theta)
            if j % 2 == 0:
                r[c, c + 1] = -math.sin(theta)
            else:
                r[c, c - 1] = math.sin(theta)
    for c in range(3 * a, hd):
        r[c, c] = 1.0
    return r


def standard_rotation_matrix(hd, t, h, w, half_split=False):
    """Norm-preserving RoPE on the same blocks: pair (2i, 2i+1) (or (i, i+m)) by one angle."""
    a = 2 * ((hd // 3) // 2)
    m = a // 2
    r = np.eye(hd)
    for axis, pos in enumerate((t, h, w)):
        for i in range(m):
            theta = pos * (10000.0 ** (-float(i) / m))
            c0, c1 = (axis * a + i, axis * a + i + m) if half_split else (axis * a + 2 * i,
                                                                           axis * a + 2 * i + 1)
            r[c0, c0], r[c0, c1] = math.cos(theta), -math.sin(theta)
            r[c1, c0], r[c1, c1] = math.sin(theta), math.cos(theta)
    return r


def erf_gelu(x):
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def layer_norm(x, wt, b, eps):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * wt + b


def encoder_numpy(folder, video, rotation=rotation_matrix):
    w, c = reference.load(folder)
    kt, p, d = c["tubelet_size"], c["patch_size"], c["hidden_size"]
    nh = c["num_attention_heads"]
    hd = d // nh
    g = c["crop_size"] // p
    eps = c["layer_norm_eps"]
    x = video.astype(np.float64) / 255.0
    x = (x - np.array(reference.MEAN)) / np.array(reference.STD)  # [T, H, W, 3]
    tt, hh, ww = x.shape[0] // kt, x.shape[1] // p, x.shape[2] // p
    x = x[:tt * kt, :hh * p, :ww * p]
    # patches [t, h, w, (c, a, i, j)] matching the conv weight's [D, c, a, i, j]
    x = x.reshape(tt, kt, hh, p, ww, p, 3).transpose(0, 2, 4, 6, 1, 3, 5).reshape(tt * hh * ww, -1)
    wp = w["embeddings.patch_embeddings.proj.weight"].reshape(d, -1)
    x = x @ wp.T + w["embeddings.patch_embeddings.proj.bias"]
    n = x.shape[0]
    rots = np.stack([rotation(hd, i // (g * g), (i % (g * g)) // g, i % g) for i in range(n)])
    blocks = []
    for li in range(c["num_hidden_layers"]):
        pre = "layer.%d." % li

        def lin(name, v):
            return v @ w[pre + name + ".weight"].T + w[pre + name + ".bias"]

        y = layer_norm(x, w[pre + "norm1.weight"], w[pre + "norm1.bias"], eps)
        q, k, v = (lin("attention." + s, y).reshape(n, nh, hd) for s in ("query", "key", "value"))
        q = np.einsum("nij,nhj->nhi", rots, q)
        k = np.einsum("nij,nhj->nhi", rots, k)
        s = np.einsum("nhi,mhi->hnm", q, k) / math.sqrt(hd)
        s = np.exp(s - s.max(axis=-1, keepdims=True))
        s /= s.sum(axis=-1, keepdims=True)
        ctx = np.einsum("hnm,mhi->nhi", s, v).reshape(n, d)
        x = x + lin("attention.proj", ctx)
        y = layer_norm(x, w[pre + "norm2.weight"], w[pre + "norm2.bias"], eps)
        x = x + lin("mlp.fc2", erf_gelu(lin("mlp.fc1", y)))
        blocks.append(x)
    return layer_norm(x, w["layernorm.weight"], w["layernorm.bias"], eps), blocks


# ---------------------------------------------------------------- checks

def check_rope():
    rng = np.random.default_rng(3)
    for hd, g, frames in ((32, 4, 3), (64, 5, 2), (80, 3, 4)):
        n = frames * g * g
        x = rng.standard_normal((2, n, hd))
        pos = reference.positions(n, g)
        got = reference.rope_3d(torch.as_tensor(x), pos).numpy()
        want = np.stack([np.einsum("ij,hj->hi", rotation_matrix(hd, int(pos[0][i]), int(pos[1][i]),
                                                                int(pos[2][i])), x[:, i])
                         for i in range(n)], axis=1)
        err = float(np.max(np.abs(got - want)))
        check("rope hd=%d g=%d vs explicit matrices" % (hd, g), err < 1e-13, "max abs err %.3g" % err)
        tail = 3 * (2 * ((hd // 3) // 2))
        check("rope hd=%d tail [%d,%d) unrotated" % (hd, tail, hd),
              np.array_equal(got[..., tail:], x[..., tail:]), "%d channels" % (hd - tail))
    # The quirk changes vector norms; standard RoPE does not.
    r = rotation_matrix(64, 3, 5, 7)
    s = standard_rotation_matrix(64, 3, 5, 7)
    v = rng.standard_normal(64)
    dq = abs(np.linalg.norm(r @ v) / np.linalg.norm(v) - 1)
    ds = abs(np.linalg.norm(s @ v) / np.linalg.norm(v) - 1)
    check("rope quirk is not norm preserving", dq > 1e-3 and ds < 1e-12,
          "| |Rv|/|v| - 1 |: quirk %.3g, standard %.3g" % (dq, ds))


def check_encoder(d):
    video = make_video.make_video(16, 64, 64, seed=11)
    for preset, seed in (("tiny", 1), ("hd80", 2)):
        folder = make_folder.write_folder(os.path.join(d, preset), preset, "f32", seed=seed)
        final, blocks = reference.reference(folder, video)
        nfinal, nblocks = encoder_numpy(folder, video)
        check("%s final vs numpy formulation" % preset, rel(final, nfinal) < 1e-12,
              "rel err %.3g (N=%d, D=%d)" % (rel(final, nfinal), *final.shape))
        for i, (b, nb) in enumerate(zip(blocks, nblocks)):
            check("%s block %d vs numpy formulation" % (preset, i + 1), rel(b, nb) < 1e-12,
                  "rel err %.3g" % rel(b, nb))
        if preset != "tiny":
            continue
        # Standard RoPE variants must give a visibly different encoder.
        for label, half in (("standard interleaved", False), ("half-split", True)):
            sfinal, _ = encoder_numpy(folder, video,
                                      lambda hd, t, h, w, half=half:
                                      standard_rotation_matrix(hd, t, h, w, half))
            e = rel(sfinal, final)
            check("tiny with %s RoPE differs" % label, e > 1e-2, "rel diff %.3g" % e)

        def std_rotate(x, pos):  # transformers' usual interleaved RoPE: repeat_interleave
            m = x.shape[-1] // 2
            omega = 1.0 / 10000 ** (torch.arange(m, dtype=x.dtype) / m)
            freq = (pos.to(x.dtype)[:, None] * omega).repeat_interleave(2, dim=-1)
            pairs = x.unflatten(-1, (-1, 2))
            partner = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)
            return x * freq.cos() + partner * freq.sin()

        sfinal, _ = reference.reference(folder, video, rotate=std_rotate)
        e = rel(sfinal, final)
        check("tiny reference with repeat_interleave RoPE differs", e > 1e-2, "rel diff %.3g" % e)
        nstd, _ = encoder_numpy(folder, video, lambda hd, t, h, w: standard_rotation_matrix(hd, t, h, w))
        check("standard RoPE: torch and numpy formulations agree", rel(sfinal, nstd) < 1e-12,
              "rel err %.3g" % rel(sfinal, nstd))


def check_folders(d):
    cfg = make_folder.config_for("vitl")
    shapes = make_folder.encoder_shapes(cfg)
    params = sum(int(np.prod(s)) for s in shapes.values())
    check("ViT-L encoder plan", len(shapes) == 388 and params == 303885312,
          "%d tensors, %d parameters" % (len(shapes), params))
    plain = make_folder.write_folder(os.path.join(d, "plain"), "tiny", "bf16", seed=5)
    cls = make_folder.write_folder(os.path.join(d, "cls"), "tiny", "bf16", seed=5, classification=True)
    wp, _ = reference.load(plain)
    wc, cc = reference.load(cls)
    raw = reference.read_safetensors(os.path.join(cls, "model.safetensors"))
    same = sorted(wp) == sorted(wc) and all(np.array_equal(wp[k], wc[k]) for k in wp)
    extra = sorted({k.split(".")[0] if not k.startswith("vjepa2.") else ".".join(k.split(".")[:2])
                    for k in raw} - {"vjepa2.encoder"})
    check("classification layout holds the same encoder", same and len(wp) == 4 + 16 * 2,
          "%d encoder tensors, also %s, architectures %s" % (len(wc), extra, cc["architectures"]))


def main():
    d = tempfile.mkdtemp(prefix="ctxpar-vjepa2-selfcheck-")
    check_rope()
    check_encoder(d)
    check_folders(d)
    shutil.rmtree(d, ignore_errors=True)
    if failures:
        print("vjepa2 reference selfcheck: %d failure(s)" % len(failures), file=sys.stderr)
        sys.exit(1)
    print("vjepa2 reference selfcheck: ok")


if __name__ == "__main__":
    main()
