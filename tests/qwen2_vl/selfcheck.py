"""Checks reference.py against a second formulation of the same towers:
tokens in raster order (t, y, x) instead of the processor's merge-block
order, attention as one masked softmax per temporal patch (the mask keeping
a token's own window in Qwen2.5-VL's window layers) instead of cu_seqlens
segments, RoPE from each token's (y, x) directly, and the merger gathering
its m x m block explicitly. Both must agree to 1e-10 for both families on a
grid whose windows are clipped at the border; and a formulation with the
windows one merge block off must not (so the window test has teeth)."""
import math
import os
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_folder  # noqa: E402
import reference as ref  # noqa: E402


def raster_encode(config, W, video, window_shift=0):
    v, family, d, heads, p, tp, m = ref.vision_dims(config)
    dh = d // heads
    x = (video.astype(np.float64) / 255.0 - ref.CLIP_MEAN) / ref.CLIP_STD
    T, H, Wd, _ = x.shape
    gt, gh, gw = T // tp, H // p, Wd // p
    # patch (t, y, x) vector in (C, tp, p, p) order
    xt = torch.from_numpy(x).reshape(gt, tp, gh, p, gw, p, 3).permute(0, 2, 4, 6, 1, 3, 5)
    tokens = xt.reshape(gt * gh * gw, -1) @ W["patch_embed.proj.weight"].reshape(d, -1).T
    ys = torch.arange(gh).repeat_interleave(gw).repeat(gt)
    xs = torch.arange(gw).repeat(gh).repeat(gt)
    cos, sin = ref.rotary(torch.stack([ys, xs], -1), dh)
    frame = torch.arange(gt).repeat_interleave(gh * gw)
    win = v.get("window_size", 0) // p if family == "qwen2_5_vl" else 0
    same_frame = frame[:, None] == frame[None, :]
    if win:
        wy, wx = (ys + window_shift) // win, (xs + window_shift) // win
        same_window = same_frame & (wy[:, None] == wy[None, :]) & (wx[:, None] == wx[None, :])

    def attn(h, pre, mask):
        n = h.shape[0]
        qkv = h @ W[pre + "qkv.weight"].T + W[pre + "qkv.bias"]
        q, k, vv = qkv.reshape(n, 3, heads, dh).permute(1, 2, 0, 3).unbind(0)
        c, s = cos.unsqueeze(0), sin.unsqueeze(0)
        q, k = q * c + ref.rotate_half(q) * s, k * c + ref.rotate_half(k) * s
        logits = q @ k.transpose(1, 2) / math.sqrt(dh)
        logits = logits.masked_fill(~mask, float("-inf"))
        o = torch.softmax(logits, -1) @ vv
        return o.transpose(0, 1).reshape(n, d) @ W[pre + "proj.weight"].T + W[pre + "proj.bias"]

    xh = tokens
    for i in range(v["depth"]):
        pre = "blocks.%d." % i
        if family == "qwen2_vl":
            xh = xh + attn(ref.layer_norm(xh, W[pre + "norm1.weight"], W[pre + "norm1.bias"]),
                           pre + "attn.", same_frame)
            h = ref.layer_norm(xh, W[pre + "norm2.weight"], W[pre + "norm2.bias"])
            h = h @ W[pre + "mlp.fc1.weight"].T + W[pre + "mlp.fc1.bias"]
            xh = xh + (h / (1 + torch.exp(-1.702 * h))) @ W[pre + "mlp.fc2.weight"].T \
                + W[pre + "mlp.fc2.bias"]
        else:
            mask = same_frame if i in v["fullatt_block_indexes"] else same_window
            xh = xh + attn(ref.rms_norm(xh, W[pre + "norm1.weight"]), pre + "attn.", mask)
            h = ref.rms_norm(xh, W[pre + "norm2.weight"])
            g = h @ W[pre + "mlp.gate_proj.weight"].T + W[pre + "mlp.gate_proj.bias"]
            u = h @ W[pre + "mlp.up_proj.weight"].T + W[pre + "mlp.up_proj.bias"]
            xh = xh + (g / (1 + torch.exp(-g)) * u) @ W[pre + "mlp.down_proj.weight"].T \
                + W[pre + "mlp.down_proj.bias"]
    if family == "qwen2_vl":
        h = ref.layer_norm(xh, W["merger.ln_q.weight"], W["merger.ln_q.bias"])
    else:
        h = ref.rms_norm(xh, W["merger.ln_q.weight"])
    h = h.reshape(gt, gh // m, m, gw // m, m, d).permute(0, 1, 3, 2, 4, 5).reshape(-1, m * m * d)
    h = h @ W["merger.mlp.0.weight"].T + W["merger.mlp.0.bias"]
    h = 0.5 * h * (1 + torch.erf(h / math.sqrt(2)))
    return (h @ W["merger.mlp.2.weight"].T + W["merger.mlp.2.bias"]).numpy()


def main():
    failures = 0
    rng = np.random.default_rng(3)
    # 6 x 10 patches: Qwen2.5-VL's 4-patch windows are clipped on both axes
    video = rng.integers(0, 256, size=(4, 84, 140, 3), dtype=np.uint8)
    with tempfile.TemporaryDirectory() as tmp:
        for family in ("qwen2_vl", "qwen2_5_vl"):
            folder = make_folder.write_folder(os.path.join(tmp, family), family, shards=2)
            config = make_folder.config_for(family, "tiny")
            W = ref.load_weights(folder)
            a = ref.encode(config, W, video)
            b = raster_encode(config, W, video)
            err = np.abs(a - b).max() / np.abs(b).max()
            print("%s: reference vs raster formulation: %.3g" % (family, err))
            if not err < 1e-10:
                print("FAIL: %s formulations differ" % family)
                failures += 1
            if family == "qwen2_5_vl":
                off = raster_encode(config, W, video, window_shift=2)
                err = np.abs(a - off).max() / np.abs(off).max()
                print("%s: windows shifted by a merge block: %.3g (must differ)" % (family, err))
                if not err > 1e-3:
                    print("FAIL: the window placement does not change the result")
                    failures += 1
    print("selfcheck: %s" % ("OK" if failures == 0 else "%d failure(s)" % failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
