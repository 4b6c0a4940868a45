"""Float64 reference for the CogVideoX VAE encoder (diffusers'
AutoencoderKLCogVideoX), written independently of ctxpar so the end-to-end
tests have something trustworthy to compare with.

The modules mirror diffusers' structure on purpose (a causal conv that returns
its new two-frame cache, resnet blocks, down blocks with the time-compressing
downsampler, a mid block, norm_out, conv_out), because the two framings ctxpar
offers differ only in where GroupNorm takes its statistics:
  encode_whole(x)     one encoder call on the whole video (statistics over it all);
  encode_diffusers(x) AutoencoderKLCogVideoX._encode: calls over [0, 8+T%8) and
                      then 8 frames each, the conv caches carried from call to
                      call, statistics per call.
The dtype is a parameter (float64 for the tests, float32 for the benchmark).
Weights come from a diffusers folder read by the small safetensors reader below
(F32, F16, BF16, F64), so no diffusers or safetensors package is needed.

Command line: python3 reference.py --model DIR --input clip.h5 --out ref.h5
              [--norm exact|diffusers]  writes latents/latents_logvar like ctxpar.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from safetensors_io import read_safetensors  # noqa: E402,F401

FRAME_BATCH = 8  # diffusers' num_sample_frames_batch_size (an attribute, not config)


# ---------------------------------------------------------------- weights


def model_dir(path):
    """A diffusers VAE folder, or a whole repository with the VAE under vae/."""
    if os.path.exists(os.path.join(path, "config.json")):
        return path
    return os.path.join(path, "vae")


def load(path, dtype=torch.float64):
    path = model_dir(path)
    with open(os.path.join(path, "config.json")) as f:
        config = json.load(f)
    tensors = read_safetensors(os.path.join(path, "diffusion_pytorch_model.safetensors"))
    weights = {k[len("encoder."):]: torch.from_numpy(v).to(dtype)
               for k, v in tensors.items() if k.startswith("encoder.")}
    return Encoder(config, weights), config


# ---------------------------------------------------------------- modules

class CausalConv3d:
    """3x3x3 conv, pad_mode "first": two frames in front (the cache, or two
    copies of this call's frame 0), zero padding 1 in H and W."""

    def __init__(self, w, prefix):
        self.weight = w[prefix + ".conv.weight"]
        self.bias = w[prefix + ".conv.bias"]

    def __call__(self, x, cache=None):
        front = [cache] if cache is not None else [x[:, :, :1]] * 2
        x = torch.cat(front + [x], dim=2)
        new_cache = x[:, :, -2:].clone()
        return F.conv3d(x, self.weight, self.bias, padding=(0, 1, 1)), new_cache


class GroupNorm:
    affine_only = False  # self-check: every norm reduced to x*gamma+beta

    def __init__(self, w, prefix, groups, eps):
        self.weight = w[prefix + ".weight"]
        self.bias = w[prefix + ".bias"]
        self.groups, self.eps = groups, eps

    def __call__(self, x):
        if GroupNorm.affine_only:
            return x * self.weight.view(1, -1, 1, 1, 1) + self.bias.view(1, -1, 1, 1, 1)
        return F.group_norm(x, self.groups, self.weight, self.bias, self.eps)


class ResnetBlock3D:
    def __init__(self, w, prefix, cin, cout, groups, eps):
        self.norm1 = GroupNorm(w, prefix + ".norm1", groups, eps)
        self.conv1 = CausalConv3d(w, prefix + ".conv1")
        self.norm2 = GroupNorm(w, prefix + ".norm2", groups, eps)
        self.conv2 = CausalConv3d(w, prefix + ".conv2")
        self.shortcut = None
        if cin != cout:  # SafeConv3d 1x1x1 on the un-normalized input
            self.shortcut = (w[prefix + ".conv_shortcut.weight"], w[prefix + ".conv_shortcut.bias"])

    def __call__(self, x, cache):
        cache = cache or {}
        new = {}
        h = F.silu(self.norm1(x))
        h, new["conv1"] = self.conv1(h, cache.get("conv1"))
        h = F.silu(self.norm2(h))
        h, new["conv2"] = self.conv2(h, cache.get("conv2"))
        if self.shortcut is not None:
            x = F.conv3d(x, *self.shortcut)
        return x + h, new


class Downsample3D:
    def __init__(self, w, prefix, compress_time):
        self.weight = w[prefix + ".conv.weight"]
        self.bias = w[prefix + ".conv.bias"]
        self.compress_time = compress_time

    def __call__(self, x):
        if self.compress_time:
            b, c, t, h, wd = x.shape
            y = x.permute(0, 3, 4, 1, 2).reshape(b * h * wd, c, t)
            if t % 2 == 1:
                first, rest = y[..., 0], y[..., 1:]
                if rest.shape[-1] > 0:
                    rest = F.avg_pool1d(rest, kernel_size=2, stride=2)
                y = torch.cat([first[..., None], rest], dim=-1)
            else:
                y = F.avg_pool1d(y, kernel_size=2, stride=2)
            x = y.reshape(b, h, wd, c, y.shape[-1]).permute(0, 3, 4, 1, 2)
        x = F.pad(x, (0, 1, 0, 1))
        b, c, t, h, wd = x.shape
        y = x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, wd)
        y = F.conv2d(y, self.weight, self.bias, stride=2)
        return y.reshape(b, t, *y.shape[1:]).permute(0, 2, 1, 3, 4)


class Encoder:
    def __init__(self, config, w):
        chans = config["block_out_channels"]
        groups = config["norm_num_groups"]
        eps = config["norm_eps"]
        layers = config["layers_per_block"]
        levels = int(np.log2(config["temporal_compression_ratio"]))
        self.conv_in = CausalConv3d(w, "conv_in")
        self.down_blocks = []
        cout = chans[0]
        for i in range(len(chans)):
            cin, cout = cout, chans[i]
            resnets = [ResnetBlock3D(w, "down_blocks.%d.resnets.%d" % (i, j),
                                     cin if j == 0 else cout, cout, groups, eps)
                       for j in range(layers)]
            down = None
            if i < len(chans) - 1:
                down = Downsample3D(w, "down_blocks.%d.downsamplers.0" % i, i < levels)
            self.down_blocks.append((resnets, down))
        self.mid = [ResnetBlock3D(w, "mid_block.resnets.%d" % j, chans[-1], chans[-1], groups, eps)
                    for j in range(2)]
        self.norm_out = GroupNorm(w, "norm_out", groups, 1e-6)
        self.conv_out = CausalConv3d(w, "conv_out")

    def __call__(self, x, cache=None):
        cache = cache or {}
        new = {}
        h, new["conv_in"] = self.conv_in(x, cache.get("conv_in"))
        for i, (resnets, down) in enumerate(self.down_blocks):
            block_cache = cache.get("down_block_%d" % i, {})
            new_block = {}
            for j, resnet in enumerate(resnets):
                key = "resnet_%d" % j
                h, new_block[key] = resnet(h, block_cache.get(key))
            if down is not None:
                h = down(h)
            new["down_block_%d" % i] = new_block
        mid_cache = cache.get("mid_block", {})
        new["mid_block"] = {}
        for j, resnet in enumerate(self.mid):
            key = "resnet_%d" % j
            h, new["mid_block"][key] = resnet(h, mid_cache.get(key))
        h = F.silu(self.norm_out(h))
        h, new["conv_out"] = self.conv_out(h, cache.get("conv_out"))
        return h, new


# ---------------------------------------------------------------- framings

def pixels(video, dtype=torch.float64):
    """uint8 [T,H,W,3] -> [1,3,T,H,W] in [-1,1]."""
    x = torch.from_numpy(np.ascontiguousarray(video)).to(dtype) / 127.5 - 1.0
    return x.permute(3, 0, 1, 2).unsqueeze(0).contiguous()


def posterior(h):
    """[1,2C,T',H',W'] -> (mean, logvar) as numpy [T',H',W',C]."""
    mean, logvar = torch.chunk(h, 2, dim=1)
    logvar = torch.clamp(logvar, -30.0, 20.0)
    # numpy has no bfloat16: a bf16 run's values are widened, exactly
    to_np = lambda t: t[0].permute(1, 2, 3, 0).contiguous().to(
        torch.float64 if t.dtype == torch.bfloat16 else t.dtype).numpy()
    return to_np(mean), to_np(logvar)


def diffusers_calls(frames):
    """The [start, end) frame ranges of AutoencoderKLCogVideoX._encode."""
    batches = max(frames // FRAME_BATCH, 1)
    rest = frames % FRAME_BATCH
    return [(FRAME_BATCH * i + (0 if i == 0 else rest), min(FRAME_BATCH * (i + 1) + rest, frames))
            for i in range(batches)]


def encode_whole(encoder, x):
    with torch.no_grad():
        h, _ = encoder(x)
    return h


def encode_diffusers(encoder, x):
    outs, cache = [], None
    with torch.no_grad():
        for begin, end in diffusers_calls(x.shape[2]):
            h, cache = encoder(x[:, :, begin:end], cache)
            outs.append(h)
    return torch.cat(outs, dim=2)


def reference(model, video, norm="exact", dtype=torch.float64):
    """(mean, logvar) numpy [T',H',W',C] for a folder and a uint8 video."""
    encoder, _ = load(model, dtype)
    x = pixels(video, dtype)
    h = encode_whole(encoder, x) if norm == "exact" else encode_diffusers(encoder, x)
    return posterior(h)


def main():
    import h5py
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--norm", choices=["exact", "diffusers"], default="exact")
    a = p.parse_args()
    with h5py.File(a.input, "r") as f:
        video = f["video"][()]
    mean, logvar = reference(a.model, video, a.norm)
    with h5py.File(a.out, "w") as f:
        f["latents"] = mean
        f["latents_logvar"] = logvar


if __name__ == "__main__":
    main()
