"""The whole pipeline against an independent naive reference: PyTorch in
float64, written straight from DESIGN.md section 2.1 and 2.2 (replicate-first-
frame causal padding, whole-video GroupNorm, pair pooling, stride-2 conv,
posterior mean, patch embedding, pre-norm blocks with RoPE-3D at global
positions and full softmax attention over all tokens, final LayerNorm),
reading the same model and video files. ctxpar runs on 3 ranks, so the
conv-cache handoff, the distributed GroupNorm statistics and ring attention
are what is being checked."""
import os
import tempfile

import h5py
import torch
import torch.nn.functional as F

from e2e_common import *

torch.set_num_threads(1)


def load_model(path):
    with h5py.File(path, "r") as f:
        import json
        config = json.loads(f.attrs["config"])
        tensors = {}

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                tensors[name] = torch.from_numpy(obj[()].astype(np.float64))

        f.visititems(visit)
    return config, tensors


def causal_conv(x, w, b):
    kt = w.shape[2]
    if kt > 1:
        x = torch.cat([x[:, :, :1].expand(-1, -1, kt - 1, -1, -1), x], dim=2)
    return F.conv3d(x, w, b, padding=(0, (w.shape[3] - 1) // 2, (w.shape[4] - 1) // 2))


def encoder(x, cfg, W):
    vae = cfg["vae"]
    G = vae["groups"]
    chans = vae["channels"]

    def gn(x, name):
        return F.group_norm(x, G, W[name + "/weight"], W[name + "/bias"], eps=1e-6)

    def res(x, p):
        h = causal_conv(F.silu(gn(x, p + "/norm1")), W[p + "/conv1/weight"], W[p + "/conv1/bias"])
        h = causal_conv(F.silu(gn(h, p + "/norm2")), W[p + "/conv2/weight"], W[p + "/conv2/bias"])
        if p + "/skip/weight" in W:
            x = F.conv3d(x, W[p + "/skip/weight"], W[p + "/skip/bias"])
        return x + h

    h = causal_conv(x, W["vae/conv_in/weight"], W["vae/conv_in/bias"])
    for i in range(len(chans)):
        for j in range(vae["res_blocks"]):
            h = res(h, "vae/stages/%d/res/%d" % (i, j))
        if i < len(chans) - 1:
            if vae["temporal_down"][i]:
                h = (h[:, :, 0::2] + h[:, :, 1::2]) / 2
            n, c, t, hh, ww = h.shape
            frames = h.permute(0, 2, 1, 3, 4).reshape(n * t, c, hh, ww)
            wd = W["vae/stages/%d/down/weight" % i][:, :, 0]
            frames = F.conv2d(frames, wd, W["vae/stages/%d/down/bias" % i], stride=2, padding=1)
            h = frames.reshape(n, t, c, hh // 2, ww // 2).permute(0, 2, 1, 3, 4)
    h = res(h, "vae/mid")
    h = F.silu(gn(h, "vae/norm_out"))
    h = causal_conv(h, W["vae/conv_out/weight"], W["vae/conv_out/bias"])
    return h[:, : vae["latent_channels"]]


def patch_embed(lat, cfg, W):
    p = cfg["transformer"]["patch"]
    z, t, h, w = lat.shape
    x = lat.reshape(z, t, h // p, p, w // p, p)          # c, t, y, dy, x, dx
    x = x.permute(1, 2, 4, 3, 5, 0).reshape(t * (h // p) * (w // p), p * p * z)
    return x @ W["embed/weight"].T + W["embed/bias"]


def rope3d(x, heads, grid_h, grid_w):
    """x [N, heads*dh]; token i has t = i // (gh*gw), y, x on the grid (global)."""
    n, d = x.shape
    dh = d // heads
    idx = torch.arange(n)
    pos = [idx // (grid_h * grid_w), (idx // grid_w) % grid_h, idx % grid_w]
    sizes = [dh // 4, 3 * dh // 8, 3 * dh // 8]
    x = x.clone().reshape(n, heads, dh)
    start = 0
    for part, m in enumerate(sizes):
        i = torch.arange(m // 2, dtype=torch.float64)
        angle = pos[part].to(torch.float64)[:, None] * 10000.0 ** (-2 * i / m)[None, :]
        a = x[:, :, start:start + m:2].clone()
        b = x[:, :, start + 1:start + m:2].clone()
        c, s = torch.cos(angle)[:, None, :], torch.sin(angle)[:, None, :]
        x[:, :, start:start + m:2] = a * c - b * s
        x[:, :, start + 1:start + m:2] = a * s + b * c
        start += m
    return x.reshape(n, d)


def transformer(x, cfg, W, grid_h, grid_w):
    tc = cfg["transformer"]
    d, heads = tc["dim"], tc["heads"]
    dh = d // heads

    def ln(x, name):
        return F.layer_norm(x, (d,), W[name + "/weight"], W[name + "/bias"], eps=1e-6)

    for l in range(tc["layers"]):
        b = "blocks/%d/" % l
        qkv = ln(x, b + "norm1") @ W[b + "attn/qkv/weight"].T + W[b + "attn/qkv/bias"]
        q, k, v = qkv[:, :d], qkv[:, d:2 * d], qkv[:, 2 * d:]
        q, k = rope3d(q, heads, grid_h, grid_w), rope3d(k, heads, grid_h, grid_w)
        q, k, v = (t.reshape(-1, heads, dh).transpose(0, 1) for t in (q, k, v))
        att = torch.softmax(q @ k.transpose(1, 2) / dh ** 0.5, dim=-1) @ v   # full, bidirectional
        att = att.transpose(0, 1).reshape(-1, d)
        x = x + att @ W[b + "attn/proj/weight"].T + W[b + "attn/proj/bias"]
        hmid = ln(x, b + "norm2") @ W[b + "mlp/fc1/weight"].T + W[b + "mlp/fc1/bias"]
        hmid = F.gelu(hmid, approximate="tanh")
        x = x + hmid @ W[b + "mlp/fc2/weight"].T + W[b + "mlp/fc2/bias"]
    return ln(x, "norm_out")


def main():
    d = tempfile.mkdtemp(prefix="ctxpar-ref-")
    model, video, out = (os.path.join(d, n) for n in ("model.h5", "video.h5", "out.h5"))
    run(1, "init-model", "--preset", "tiny", "--seed", 3, "-o", model)
    run(1, "make-video", "--frames", 24, "--size", "32x48", "--seed", 5, "-o", video)
    run(3, "--model", model, "--input", video, "--frames", 24, "--save-latents", "--no-merge",
        "--out", out)
    got = read(out)

    cfg, W = load_model(model)
    with h5py.File(video, "r") as f:
        frames = torch.from_numpy(f["video"][()].astype(np.float64))
    x = (frames / 127.5 - 1.0).permute(3, 0, 1, 2).unsqueeze(0)  # [1, 3, T, H, W]
    lat = encoder(x, cfg, W)[0]                                   # [z, T', H', W']
    check_close("latents vs reference", got["latents"], lat.permute(1, 2, 3, 0).numpy(),
                abs_tol=1e-4, rel_tol=1e-3)
    p = cfg["transformer"]["patch"]
    tokens = patch_embed(lat, cfg, W)
    feats = transformer(tokens, cfg, W, lat.shape[2] // p, lat.shape[3] // p)
    check_close("features vs reference", got["features"], feats.numpy(), abs_tol=2e-4,
                rel_tol=2e-3)
    finish("e2e_reference")


main()
