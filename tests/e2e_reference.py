"""The whole encoder against an independent naive reference: PyTorch in
float64, written straight from DESIGN.md section 2.1 and 2.2 (replicate-first-
frame causal padding, whole-video GroupNorm, pair pooling, stride-2 conv,
posterior mean, patch embedding), reading the same model and video files.
ctxpar runs on 3 ranks, so the conv-cache handoff and the distributed
GroupNorm statistics are what is being checked."""
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


def main():
    d = tempfile.mkdtemp(prefix="ctxpar-ref-")
    model, video, out = (os.path.join(d, n) for n in ("model.h5", "video.h5", "out.h5"))
    run(1, "init-model", "--preset", "tiny", "--seed", 3, "-o", model)
    run(1, "make-video", "--frames", 24, "--size", "32x48", "--seed", 5, "-o", video)
    run(3, "--model", model, "--input", video, "--frames", 24, "--save-latents", "--out", out)
    got = read(out)

    cfg, W = load_model(model)
    with h5py.File(video, "r") as f:
        frames = torch.from_numpy(f["video"][()].astype(np.float64))
    x = (frames / 127.5 - 1.0).permute(3, 0, 1, 2).unsqueeze(0)  # [1, 3, T, H, W]
    lat = encoder(x, cfg, W)[0]                                   # [z, T', H', W']
    check_close("latents vs reference", got["latents"], lat.permute(1, 2, 3, 0).numpy(),
                abs_tol=1e-4, rel_tol=1e-3)
    tokens = patch_embed(lat, cfg, W)
    check_close("tokens vs reference", got["features"], tokens.numpy(), abs_tol=1e-4,
                rel_tol=1e-3)
    finish("e2e_reference")


main()
