"""Float64 reference of the Qwen2-VL and Qwen2.5-VL vision towers, written
from transformers' modeling_qwen2_vl.py / modeling_qwen2_5_vl.py and the
video processor's patch layout, step for step in the reference's own order:

- pixels (u/255 - CLIP mean) / CLIP std, cut into patches the way the video
  processor flattens them: (t, Y, X, dy, dx) over merge blocks of m x m
  patches, each patch vector (C, tp, p, p);
- PatchEmbed (Conv3d without bias = one matrix product on those vectors);
- rotary angles from (h, w) positions in that same block order, cos/sin
  recomposed [h | w | h | w] and applied with rotate_half;
- Qwen2.5-VL: tokens permuted by get_window_index into window order (merge
  blocks of a window together), window layers attending within cu_window_seqlens
  and full layers within each temporal patch; Qwen2-VL: every layer within
  each temporal patch (cu_seqlens);
- blocks x += attn(norm1 x); x += mlp(norm2 x), LayerNorm/QuickGELU MLP or
  RMSNorm/SwiGLU MLP (biases on);
- the merger: norm, m*m consecutive rows concatenated, Linear, GELU (erf),
  Linear; Qwen2.5-VL then undoes the window permutation.

Output: [grid_t * (gh/m) * (gw/m), out] in (t, Y, X) order, the order the
LLM consumes. Checked by selfcheck.py against a second formulation (raster
order with attention masks)."""
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from safetensors_io import read_safetensors  # noqa: E402

CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073])
CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711])


def load_weights(folder):
    """{name without the visual./model.visual. prefix: float64 tensor}, from one
    file or the shards an index lists."""
    index = os.path.join(folder, "model.safetensors.index.json")
    files = [os.path.join(folder, "model.safetensors")]
    if os.path.exists(index):
        import json
        with open(index) as f:
            files = [os.path.join(folder, n) for n in sorted(set(json.load(f)["weight_map"].values()))]
    out = {}
    for path in files:
        for name, a in read_safetensors(path, np.float64).items():
            for prefix in ("model.visual.", "visual."):
                if name.startswith(prefix):
                    out[name[len(prefix):]] = torch.from_numpy(np.array(a, dtype=np.float64))
    return out


def vision_dims(config):
    v, family = config["vision_config"], config["model_type"]
    d = v["embed_dim"] if family == "qwen2_vl" else v["hidden_size"]
    return v, family, d, v["num_heads"], v["patch_size"], v["temporal_patch_size"], v["spatial_merge_size"]


def patchify(video, tp, p, m):
    """uint8 [T, H, W, 3] -> float64 [grid_t*gh*gw, 3*tp*p*p] in the processor's order."""
    x = (video.astype(np.float64) / 255.0 - CLIP_MEAN) / CLIP_STD
    x = torch.from_numpy(x).permute(0, 3, 1, 2)  # T, C, H, W
    T, C, H, W = x.shape
    gt, gh, gw = T // tp, H // p, W // p
    x = x.reshape(gt, tp, C, gh // m, m, p, gw // m, m, p)
    x = x.permute(0, 3, 6, 4, 7, 2, 1, 5, 8)
    return x.reshape(gt * gh * gw, C * tp * p * p), (gt, gh, gw)


def position_ids(grid, m):
    gt, gh, gw = grid
    h = torch.arange(gh).unsqueeze(1).expand(gh, gw)
    w = torch.arange(gw).unsqueeze(0).expand(gh, gw)
    h = h.reshape(gh // m, m, gw // m, m).permute(0, 2, 1, 3).flatten()
    w = w.reshape(gh // m, m, gw // m, m).permute(0, 2, 1, 3).flatten()
    return torch.stack([h, w], dim=-1).repeat(gt, 1)


def rotary(pos, head_dim, theta=10000.0):
    spatial = head_dim // 2
    inv_freq = 1.0 / (theta ** (torch.arange(0, spatial, 2, dtype=torch.float64) / spatial))
    freqs = pos[..., None].double() * inv_freq  # [N, 2, dh/4]
    hw = torch.cat([freqs[:, 0], freqs[:, 1]], dim=-1)
    emb = torch.cat([hw, hw], dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def window_index(grid, m, window_size, patch):
    gt, gh, gw = grid
    vw = window_size // m // patch
    lh, lw = gh // m, gw // m
    index = torch.arange(gt * lh * lw).reshape(gt, lh, lw)
    pad_h, pad_w = vw - lh % vw, vw - lw % vw
    nh, nw = (lh + pad_h) // vw, (lw + pad_w) // vw
    padded = torch.nn.functional.pad(index, (0, pad_w, 0, pad_h), "constant", -100)
    padded = padded.reshape(gt, nh, vw, nw, vw).permute(0, 1, 3, 2, 4).reshape(gt, nh * nw, vw, vw)
    seqlens = (padded != -100).sum([2, 3]).reshape(-1)
    flat = padded.reshape(-1)
    idx = flat[flat != -100]
    cu = (seqlens.cumsum(0) * m * m).tolist()
    cu = [0] + cu
    cu = sorted(set(cu))  # unique_consecutive of a non-decreasing list
    return idx, cu


def layer_norm(x, w, b, eps=1e-6):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def rms_norm(x, w, eps=1e-6):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w


def attention(x, W, prefix, heads, cos, sin, cu):
    n, d = x.shape
    dh = d // heads
    qkv = x @ W[prefix + "qkv.weight"].T + W[prefix + "qkv.bias"]
    q, k, v = qkv.reshape(n, 3, heads, dh).permute(1, 0, 2, 3).unbind(0)
    c, s = cos.unsqueeze(-2), sin.unsqueeze(-2)
    q = q * c + rotate_half(q) * s
    k = k * c + rotate_half(k) * s
    out = torch.empty(n, heads, dh, dtype=x.dtype)
    for a, b in zip(cu[:-1], cu[1:]):
        qs, ks, vs = (t[a:b].transpose(0, 1) for t in (q, k, v))
        w = torch.softmax(qs @ ks.transpose(1, 2) / math.sqrt(dh), dim=-1)
        out[a:b] = (w @ vs).transpose(0, 1)
    return out.reshape(n, d) @ W[prefix + "proj.weight"].T + W[prefix + "proj.bias"]


def encode(config, W, video, dtype=torch.float64):
    """Merged features [N, out] in (t, Y, X) order, as float64 numbers. dtype
    torch.bfloat16 runs every op in bf16, as PyTorch's bf16 run of the tower
    would (the accuracy yardstick of ctxpar's --dtype bf16)."""
    v, family, d, heads, p, tp, m = vision_dims(config)
    W = {k: t.to(dtype) for k, t in W.items()}
    patches, grid = patchify(video, tp, p, m)
    x = patches.to(dtype) @ W["patch_embed.proj.weight"].reshape(d, -1).T
    cos, sin = (t.to(dtype) for t in rotary(position_ids(grid, m), d // heads))
    gt, gh, gw = grid
    cu_frames = [i * gh * gw for i in range(gt + 1)]
    if family == "qwen2_5_vl":
        idx, cu_window = window_index(grid, m, v["window_size"], p)
        perm = lambda t: t.reshape(-1, m * m, t.shape[-1])[idx].reshape(-1, t.shape[-1])  # noqa
        x, cos, sin = perm(x), perm(cos), perm(sin)
    for i in range(v["depth"]):
        pre = "blocks.%d." % i
        if family == "qwen2_vl":
            h = layer_norm(x, W[pre + "norm1.weight"], W[pre + "norm1.bias"])
            x = x + attention(h, W, pre + "attn.", heads, cos, sin, cu_frames)
            h = layer_norm(x, W[pre + "norm2.weight"], W[pre + "norm2.bias"])
            h = h @ W[pre + "mlp.fc1.weight"].T + W[pre + "mlp.fc1.bias"]
            h = h * torch.sigmoid(1.702 * h)
            x = x + h @ W[pre + "mlp.fc2.weight"].T + W[pre + "mlp.fc2.bias"]
        else:
            cu = cu_frames if i in v["fullatt_block_indexes"] else cu_window
            h = rms_norm(x, W[pre + "norm1.weight"])
            x = x + attention(h, W, pre + "attn.", heads, cos, sin, cu)
            h = rms_norm(x, W[pre + "norm2.weight"])
            g = h @ W[pre + "mlp.gate_proj.weight"].T + W[pre + "mlp.gate_proj.bias"]
            u = h @ W[pre + "mlp.up_proj.weight"].T + W[pre + "mlp.up_proj.bias"]
            x = x + (torch.nn.functional.silu(g) * u) @ W[pre + "mlp.down_proj.weight"].T \
                + W[pre + "mlp.down_proj.bias"]
    if family == "qwen2_vl":
        h = layer_norm(x, W["merger.ln_q.weight"], W["merger.ln_q.bias"])
    else:
        h = rms_norm(x, W["merger.ln_q.weight"])
    h = h.reshape(-1, m * m * d)
    h = h @ W["merger.mlp.0.weight"].T + W["merger.mlp.0.bias"]
    h = 0.5 * h * (1.0 + torch.erf(h / math.sqrt(2.0)))
    out = h @ W["merger.mlp.2.weight"].T + W["merger.mlp.2.bias"]
    if family == "qwen2_5_vl":
        out = out[torch.argsort(idx)]
    return out.double().numpy()
