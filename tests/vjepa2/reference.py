"""Float64 reference for the V-JEPA 2 video encoder (transformers'
VJEPA2Model encoder), written independently of ctxpar so the end-to-end tests
have something trustworthy to compare with.

The modules mirror transformers' structure on purpose (PatchEmbeddings3D with
a Conv3d of kernel = stride = (kt, p, p); layers of norm1, RopeAttention with
query/key/value/proj, norm2, MLP fc1/GELU/fc2; a final encoder.layernorm),
because the weight names map one to one onto the checkpoint and a reader that
swaps or drops a tensor is then caught. The one subtle part is the 3D RoPE:
per head, channels [0,a) rotate with the frame index, [a,2a) with the row,
[2a,3a) with the column (a = 2*((hd//3)//2)); the tail [3a,hd) stays as is.
Within an axis block the pairs are interleaved (2i, 2i+1) but the sin/cos
tables are the m = a/2 frequencies tiled twice, so the two members of a pair
use different angles (kept from the original code for checkpoint
compatibility; standard RoPE differs). Positions come from the token index
with the grid g = crop_size // patch_size of the config, not of the input.

The dtype is a parameter (float64 for the tests, float32 for the benchmark).
Weights come from a transformers folder read by the small safetensors reader
below (F32, F16, BF16, F64); keys may carry the "vjepa2." prefix of a
classification checkpoint; predictor/pooler/classifier tensors are ignored.

Command line: python3 reference.py --model DIR --input clip.h5 --out ref.h5
              [--layer K]   writes tokens/features [N, D] (float32) like ctxpar.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from safetensors_io import read_safetensors  # noqa: E402,F401

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


# ---------------------------------------------------------------- weights


def load(folder, dtype=np.float64):
    """(encoder weights {name without "encoder." prefix: array of dtype}, config)."""
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    if config.get("model_type") != "vjepa2":
        raise ValueError("%s: model_type %r, expected 'vjepa2'" % (folder, config.get("model_type")))
    raw = read_safetensors(os.path.join(folder, "model.safetensors"), dtype,
                           lambda name: name.startswith(("encoder.", "vjepa2.encoder.")))
    weights = {}
    for name, a in raw.items():
        if name.startswith("vjepa2."):
            name = name[len("vjepa2."):]
        if name.startswith("encoder."):
            weights[name[len("encoder."):]] = a
    return weights, config


# ---------------------------------------------------------------- modules

class Linear:
    def __init__(self, w, prefix, dtype):
        self.weight = torch.as_tensor(w[prefix + ".weight"]).to(dtype)
        self.bias = torch.as_tensor(w[prefix + ".bias"]).to(dtype)

    def __call__(self, x):
        return x @ self.weight.t() + self.bias


class LayerNorm:
    def __init__(self, w, prefix, eps, dtype):
        self.weight = torch.as_tensor(w[prefix + ".weight"]).to(dtype)
        self.bias = torch.as_tensor(w[prefix + ".bias"]).to(dtype)
        self.eps = eps

    def __call__(self, x):
        return torch.nn.functional.layer_norm(x, (x.shape[-1],), self.weight, self.bias, self.eps)


class PatchEmbeddings3D:
    """Conv3d(3 -> D, kernel = stride = (kt, p, p)), flattened to [N, D] in the
    order (t, h, w)."""

    def __init__(self, w, config, dtype):
        self.weight = torch.as_tensor(w["embeddings.patch_embeddings.proj.weight"]).to(dtype)
        self.bias = torch.as_tensor(w["embeddings.patch_embeddings.proj.bias"]).to(dtype)
        self.kt, self.p = config["tubelet_size"], config["patch_size"]

    def __call__(self, v):
        """v: [3, T, H, W] -> ([N, D], (T', H', W'))."""
        e = torch.nn.functional.conv3d(v[None], self.weight, self.bias,
                                       stride=(self.kt, self.p, self.p))[0]
        d, tt, hh, ww = e.shape
        return e.reshape(d, tt * hh * ww).t(), (tt, hh, ww)


def rotate_queries_or_keys(x, pos):
    """x: [..., N, a] (a even), pos: [N] -> rotated x. The m = a/2 angles are
    tiled twice over the a channels; channel pairs (2i, 2i+1) are mixed."""
    a = x.shape[-1]
    m = a // 2
    omega = 1.0 / 10000 ** (torch.arange(m, dtype=x.dtype) / m)
    freq = pos.to(x.dtype)[:, None] * omega[None, :]  # [N, m]
    sin = freq.sin().repeat(1, 2)  # [N, a]: angle of channel j is freq[j mod m]
    cos = freq.cos().repeat(1, 2)
    pairs = x.unflatten(-1, (-1, 2))
    partner = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)
    return x * cos + partner * sin


def positions(n_tokens, grid):
    """(t, h, w) of token index n with the config's grid g: n // g^2, (n mod g^2) // g, n mod g."""
    n = torch.arange(n_tokens)
    per_frame = grid * grid
    return n // per_frame, (n % per_frame) // grid, n % grid


def rope_3d(x, pos, rotate=None):
    """x: [heads, N, hd]; pos: (t, h, w). Rotates three blocks of a channels, keeps the tail."""
    rotate = rotate or rotate_queries_or_keys
    hd = x.shape[-1]
    a = 2 * ((hd // 3) // 2)
    parts = [rotate(x[..., i * a:(i + 1) * a], pos[i]) for i in range(3)]
    if 3 * a < hd:
        parts.append(x[..., 3 * a:])
    return torch.cat(parts, dim=-1)


class RopeAttention:
    def __init__(self, w, prefix, config, dtype, rotate=None):
        self.query = Linear(w, prefix + ".query", dtype)
        self.key = Linear(w, prefix + ".key", dtype)
        self.value = Linear(w, prefix + ".value", dtype)
        self.proj = Linear(w, prefix + ".proj", dtype)
        self.heads = config["num_attention_heads"]
        self.hd = config["hidden_size"] // self.heads
        self.grid = config["crop_size"] // config["patch_size"]
        self.scaling = self.hd ** -0.5
        self.rotate = rotate

    def __call__(self, x):
        n = x.shape[0]

        def split(t):  # [N, D] -> [heads, N, hd]
            return t.view(n, self.heads, self.hd).transpose(0, 1)

        pos = positions(n, self.grid)
        q = rope_3d(split(self.query(x)), pos, self.rotate)
        k = rope_3d(split(self.key(x)), pos, self.rotate)
        v = split(self.value(x))
        scores = (q @ k.transpose(-1, -2)) * self.scaling
        probs = torch.softmax(scores, dim=-1)
        ctx = (probs @ v).transpose(0, 1).reshape(n, self.heads * self.hd)
        return self.proj(ctx)


class MLP:
    def __init__(self, w, prefix, dtype):
        self.fc1 = Linear(w, prefix + ".fc1", dtype)
        self.fc2 = Linear(w, prefix + ".fc2", dtype)

    def __call__(self, x):
        return self.fc2(torch.nn.functional.gelu(self.fc1(x)))  # exact (erf) GELU


class Layer:
    def __init__(self, w, i, config, dtype, rotate=None):
        prefix = "layer.%d" % i
        eps = config["layer_norm_eps"]
        self.norm1 = LayerNorm(w, prefix + ".norm1", eps, dtype)
        self.attention = RopeAttention(w, prefix + ".attention", config, dtype, rotate)
        self.norm2 = LayerNorm(w, prefix + ".norm2", eps, dtype)
        self.mlp = MLP(w, prefix + ".mlp", dtype)

    def __call__(self, x):
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class Encoder:
    def __init__(self, weights, config, dtype=torch.float64, rotate=None):
        self.config = config
        self.dtype = dtype
        self.embeddings = PatchEmbeddings3D(weights, config, dtype)
        self.layer = [Layer(weights, i, config, dtype, rotate)
                      for i in range(config["num_hidden_layers"])]
        self.layernorm = LayerNorm(weights, "layernorm", config["layer_norm_eps"], dtype)

    def __call__(self, v):
        """v: [3, T, H, W] pixel values -> (final [N, D], [output of each block], grid)."""
        kt = self.config["tubelet_size"]
        if v.shape[1] < kt:  # as transformers: too few frames repeat the whole clip
            v = v.repeat(1, kt, 1, 1)
        x, grid = self.embeddings(v)
        blocks = []
        for layer in self.layer:
            x = layer(x)
            blocks.append(x)
        return self.layernorm(x), blocks, grid


def pixel_values(video, dtype=torch.float64):
    """uint8 [T, H, W, 3] -> [3, T, H, W], v = (x/255 - mean) / std."""
    x = torch.as_tensor(np.ascontiguousarray(video)).to(dtype) / 255.0
    x = (x - torch.tensor(MEAN, dtype=dtype)) / torch.tensor(STD, dtype=dtype)
    return x.permute(3, 0, 1, 2).contiguous()


def reference(folder, video, rotate=None):
    """float64 numpy (final [N, D], [block outputs [N, D]] * L)."""
    weights, config = load(folder)
    with torch.no_grad():
        final, blocks, _ = Encoder(weights, config, torch.float64, rotate)(pixel_values(video))
    return final.numpy(), [b.numpy() for b in blocks]


def token_coords(frames, height, width, config):
    """(t, h, w) int arrays of every token in output order."""
    tt = frames // config["tubelet_size"] if frames >= config["tubelet_size"] else 1
    hh, ww = height // config["patch_size"], width // config["patch_size"]
    t, h, w = np.meshgrid(np.arange(tt), np.arange(hh), np.arange(ww), indexing="ij")
    return t.ravel(), h.ravel(), w.ravel()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--layer", type=int, help="write block K's output (1-based), before the final norm")
    a = p.parse_args()
    import h5py
    with h5py.File(a.input, "r") as f:
        video = f["video"][()]
    final, blocks = reference(a.model, video)
    feats = blocks[a.layer - 1] if a.layer else final
    with h5py.File(a.out, "w") as f:
        f["tokens/features"] = feats.astype(np.float32)
    print("%s: %d tokens x %d" % (a.out, feats.shape[0], feats.shape[1]))


if __name__ == "__main__":
    main()
