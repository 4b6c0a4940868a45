"""The whole pipeline against an independent naive reference: PyTorch in
float64, written straight from docs/design.md ("The built-in model" and
"Token merging": replicate-first-frame causal padding, whole-video
GroupNorm, pair pooling, stride-2 conv, posterior mean, patch embedding,
pre-norm blocks with RoPE-3D at global positions and full softmax attention
over all tokens, final LayerNorm, quadtree and temporal merging), reading the
same model and video files. ctxpar runs on 3 ranks with 28 frames (7 latent
frames: shards of 3, 2 and 2), for the tiny and the small preset, so the
conv-cache handoff, GroupNorm statistics over unequal shares, ring attention
over unequal blocks and merge chains that cross ranks are what is checked."""
import json
import os

import h5py
import torch
import torch.nn.functional as F

from e2e_common import *

torch.set_num_threads(1)


def load_model(path):
    with h5py.File(path, "r") as f:
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


def encoder(x, cfg, W, eps=1e-6):
    vae = cfg["vae"]
    G = vae["groups"]
    chans = vae["channels"]

    def gn(x, name):
        return F.group_norm(x, G, W[name + "/weight"], W[name + "/bias"], eps=eps)

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


def transformer(x, cfg, W, grid_h, grid_w, eps=1e-6):
    tc = cfg["transformer"]
    d, heads = tc["dim"], tc["heads"]
    dh = d // heads

    def ln(x, name):
        return F.layer_norm(x, (d,), W[name + "/weight"], W[name + "/bias"], eps=eps)

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


def merge_reference(feats, tau_s, tau_t, levels):
    """Token merging straight from docs/design.md ("Token merging"), on
    feats [T, H, W, d] (float64): quadtree nodes per frame, links between
    frames, groups as chains of links. Returns the records sorted by
    (t_start, y, x) as a dict of int arrays plus, per record, the list of
    (t, y, x, side) blocks it covers. Also returns the smallest distance of
    any decisive cosine from its threshold (how near a decision came to
    flipping)."""
    T, H, W, d = feats.shape
    margin = [np.inf]

    def cos(a, b):
        na, nb = np.linalg.norm(a), np.linalg.norm(b)
        if na == 0 or nb == 0:
            return 1.0 if na == nb else 0.0
        return float(a @ b / (na * nb))

    def block_mean(frame, l, by, bx):
        side = 1 << l
        return frame[by * side:(by + 1) * side, bx * side:(bx + 1) * side].reshape(-1, d).mean(0)

    def formed(frame, l, by, bx):
        if l == 0:
            return True
        if ((by + 1) << l) > H or ((bx + 1) << l) > W:
            return False
        kids = [(2 * by + k // 2, 2 * bx + k % 2) for k in range(4)]
        if not all(formed(frame, l - 1, cy, cx) for cy, cx in kids):
            return False
        parent = block_mean(frame, l, by, bx)
        c = min(cos(block_mean(frame, l - 1, cy, cx), parent) for cy, cx in kids)
        margin[0] = min(margin[0], abs(c - tau_s))
        return c >= tau_s

    groups, prev = [], {}
    for t in range(T):
        frame = feats[t]
        cur = {}
        for y in range(H):
            for x in range(W):
                level = 0
                if tau_s < 1.0:
                    for l in range(levels, 0, -1):
                        if formed(frame, l, y >> l, x >> l):
                            level = l
                            break
                if y % (1 << level) or x % (1 << level):
                    continue
                key = (level, y, x)
                group = None
                if t > 0 and tau_t < 1.0 and key in prev:
                    c = cos(block_mean(frame, level, y >> level, x >> level),
                            block_mean(feats[t - 1], level, y >> level, x >> level))
                    margin[0] = min(margin[0], abs(c - tau_t))
                    if c >= tau_t:
                        group = prev[key]
                if group is None:
                    group = len(groups)
                    groups.append(dict(t_start=t, level=level, y=y, x=x, blocks=[]))
                groups[group]["t_end"] = t
                groups[group]["blocks"].append((t, y, x, 1 << level))
                cur[key] = group
        prev = cur
    groups.sort(key=lambda g: (g["t_start"], g["y"], g["x"]))
    records = {k: np.array([g[k] for g in groups], dtype=np.int64)
               for k in ("t_start", "t_end", "level", "y", "x")}
    records["size"] = np.array([sum(s * s for _, _, _, s in g["blocks"]) for g in groups],
                               dtype=np.int64)
    return records, [g["blocks"] for g in groups], margin[0]


def group_features(feats, blocks):
    """Mean of every token a record covers, for each record's block list."""
    return np.stack([np.concatenate([feats[t, y:y + s, x:x + s].reshape(-1, feats.shape[-1])
                                     for t, y, x, s in b]).mean(0) for b in blocks])


# Tolerances, set from measured errors. Latents and features are O(1)
# (max |ref| ~3), and float32 ctxpar differs from this float64 reference by
# at most ~6e-6 (latents and features, tiny and small, 3 ranks). A 10x wrong
# eps in GroupNorm and LayerNorm (1e-5 instead of 1e-6) moves them by
# 3.8e-5 to 1.1e-4. abs 1e-5 + rel 1e-4 sits between: measured ratios
# max|err| / (abs + rel*|ref|) are 0.23-0.36 for the correct eps and
# 2.5-9.7 against the eps-1e-5 reference. The old tolerance (abs 2e-4,
# rel 2e-3) passed the 10x eps at 0.49. Each case prints both ratios and
# fails if the eps-1e-5 one drops to 1 or below (the check lost its edge).
LATENT_TOL = dict(abs_tol=1e-5, rel_tol=1e-4)
FEATURE_TOL = dict(abs_tol=1e-5, rel_tol=1e-4)


def run_case(tmp, name, preset, frames, size, ranks, model_seed, video_seed, merge_args):
    print("== %s: preset %s, %d frames %s on %d ranks" % (name, preset, frames, size, ranks))
    model, video, out, merged = (os.path.join(tmp, "%s_%s" % (name, n))
                                 for n in ("model.h5", "video.h5", "out.h5", "merged.h5"))
    run(1, "init-model", "--preset", preset, "--seed", model_seed, "-o", model)
    run(1, "make-video", "--frames", frames, "--size", size, "--seed", video_seed, "-o", video)
    run(ranks, "--model", model, "--input", video, "--frames", frames, "--save-latents",
        "--no-merge", "--out", out)
    run(ranks, "--model", model, "--input", video, "--frames", frames, *merge_args,
        "--out", merged)
    got, got_merged = read(out), read(merged)

    cfg, W = load_model(model)
    with h5py.File(video, "r") as f:
        frames_u8 = torch.from_numpy(f["video"][()].astype(np.float64))
    x = (frames_u8 / 127.5 - 1.0).permute(3, 0, 1, 2).unsqueeze(0)  # [1, 3, T, H, W]
    p = cfg["transformer"]["patch"]

    def reference(eps):
        lat = encoder(x, cfg, W, eps)[0]                               # [z, T', H', W']
        feats = transformer(patch_embed(lat, cfg, W), cfg, W, lat.shape[2] // p,
                            lat.shape[3] // p, eps)
        return lat.permute(1, 2, 3, 0).numpy(), feats.numpy()

    lat, feats = reference(1e-6)
    lat_10x, feats_10x = reference(1e-5)
    n_lat = lat.shape[0]
    shards = [n_lat // ranks + (r < n_lat % ranks) for r in range(ranks)]
    print("   latent frames %d, shards %s" % (n_lat, shards))
    r_lat = tolerance_ratio(got["latents"], lat, **LATENT_TOL)
    r_feat = tolerance_ratio(got["features"], feats, **FEATURE_TOL)
    r_lat_10x = tolerance_ratio(got["latents"], lat_10x, **LATENT_TOL)
    r_feat_10x = tolerance_ratio(got["features"], feats_10x, **FEATURE_TOL)
    print("   ratio to tolerance: latents %.3g, features %.3g; against the eps 1e-5 reference:"
          " latents %.3g, features %.3g" % (r_lat, r_feat, r_lat_10x, r_feat_10x))
    check_close("%s: latents vs reference" % name, got["latents"], lat, **LATENT_TOL)
    check_close("%s: features vs reference" % name, got["features"], feats, **FEATURE_TOL)
    for what, ratio in (("latents", r_lat_10x), ("features", r_feat_10x)):
        if not ratio > 1.0:
            fail("%s: the %s tolerance would pass a 10x wrong norm eps (ratio %.3g <= 1)"
                 % (name, what, ratio))

    # Merging: the records must be what the reference merge makes of
    # ctxpar's own unmerged features (same float32 inputs to every decision),
    # and each merged feature the mean of the reference features it covers.
    mc = json.loads(got_merged["attrs"]["config"])["model"]["merge"]
    grid_h, grid_w = lat.shape[1] // p, lat.shape[2] // p
    unmerged = got["features"].astype(np.float64).reshape(n_lat, grid_h, grid_w, -1)
    records, blocks, margin = merge_reference(unmerged, mc["spatial_threshold"],
                                              mc["temporal_threshold"], mc["levels"])
    n_spatial = int((records["level"] > 0).sum())
    n_temporal = int((records["t_end"] > records["t_start"]).sum())
    print("   merge %s: %d records from %d tokens, %d spatial, %d spanning frames; nearest "
          "decision %.3g from its threshold" % (mc, len(records["size"]),
                                               n_lat * grid_h * grid_w, n_spatial, n_temporal, margin))
    if n_spatial == 0 or n_temporal == 0:
        fail("%s: the merge thresholds formed %d spatial and %d temporal merges; the case "
             "needs both" % (name, n_spatial, n_temporal))
    if len(got_merged["size"]) != len(records["size"]):
        fail("%s: %d merged records, the reference merge makes %d"
             % (name, len(got_merged["size"]), len(records["size"])))
    else:
        check_records("%s: merged records vs reference merge" % name, got_merged, records)
        check_close("%s: merged features vs reference" % name, got_merged["features"],
                    group_features(feats.reshape(unmerged.shape), blocks), **FEATURE_TOL)


def main():
    tmp = scratch_dir("ctxpar-ref-")
    # 28 frames = 7 latent frames: shards of 3, 2, 2 on 3 ranks, so the
    # GroupNorm statistics combine unequal counts and ring blocks differ.
    # Merge thresholds chosen so that both spatial nodes and chains across
    # frames form (tiny: 13 and 9 of 39 records; small: 6 and 2 of 19).
    run_case(tmp, "tiny", "tiny", 28, "32x48", 3, 3, 5,
             ["--merge-spatial", 0.8, "--merge-temporal", 0.99])
    run_case(tmp, "small", "small", 28, "32x48", 3, 4, 6,
             ["--merge-spatial", 0.92, "--merge-temporal", 0.999])
    finish("e2e_reference")


main()
