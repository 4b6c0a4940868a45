"""Checks the float64 CogVideoX reference (reference.py) before anything is
compared with it:

(a) with every GroupNorm reduced to its affine part, encode_whole and
    encode_diffusers must agree to ~1e-12: the conv caches and the per-call
    frame pairing then reproduce the whole-video computation exactly;
(b) a second formulation, written differently on purpose (float32, no caches:
    gathered causal time padding, convs on the whole padded video, manual
    group statistics over per-call frame segments, strided 1x3x3 conv3d for
    the downsampler), must match encode_whole and encode_diffusers with full
    GroupNorm to float32 accuracy;
(c) the two framings must differ with real GroupNorm once there are two calls.
Runs on the tiny configuration (1 and 2 layers per block) for several frame
counts; exits nonzero on any failure.
"""
import os
import shutil
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_folder  # noqa: E402
import make_video  # noqa: E402
import reference  # noqa: E402


# ---------------------------------------------------------------- second formulation

def causal(x, w, b):
    """Whole video, no cache: frame indices -2,-1 clamp to frame 0."""
    t = x.shape[2]
    idx = torch.clamp(torch.arange(-2, t), min=0)
    x = F.pad(x[:, :, idx], (1, 1, 1, 1, 0, 0))
    return F.conv3d(x, w, b)


def group_norm(x, gamma, beta, groups, eps, segments):
    """Statistics per group and per frame segment (one segment = whole video)."""
    n, c, t, h, w = x.shape
    out = torch.empty_like(x)
    begin = 0
    for length in segments:
        s = x[:, :, begin:begin + length].reshape(n, groups, -1)
        mean = s.sum(-1, keepdim=True) / s.shape[-1]
        var = ((s - mean) ** 2).sum(-1, keepdim=True) / s.shape[-1]
        s = (s - mean) / torch.sqrt(var + eps)
        out[:, :, begin:begin + length] = s.reshape(n, c, length, h, w)
        begin += length
    return out * gamma.view(1, -1, 1, 1, 1) + beta.view(1, -1, 1, 1, 1)


def time_down(x, segments):
    """Per call: odd length keeps its first frame, then pairs; even: pairs."""
    parts, new, begin = [], [], 0
    for length in segments:
        s = x[:, :, begin:begin + length]
        if length % 2:
            parts += [s[:, :, :1], (s[:, :, 1::2] + s[:, :, 2::2]) / 2]
            new.append(1 + (length - 1) // 2)
        else:
            parts.append((s[:, :, 0::2] + s[:, :, 1::2]) / 2)
            new.append(length // 2)
        begin += length
    return torch.cat(parts, dim=2), new


def second_formulation(weights, config, x, segments):
    w = {k: v.float() for k, v in weights.items()}
    g, eps = config["norm_num_groups"], config["norm_eps"]
    chans = config["block_out_channels"]
    levels = int(np.log2(config["temporal_compression_ratio"]))

    def resnet(p, h, segs):
        a = F.silu(group_norm(h, w[p + "norm1.weight"], w[p + "norm1.bias"], g, eps, segs))
        a = causal(a, w[p + "conv1.conv.weight"], w[p + "conv1.conv.bias"])
        a = F.silu(group_norm(a, w[p + "norm2.weight"], w[p + "norm2.bias"], g, eps, segs))
        a = causal(a, w[p + "conv2.conv.weight"], w[p + "conv2.conv.bias"])
        if p + "conv_shortcut.weight" in w:
            sw = w[p + "conv_shortcut.weight"][:, :, 0, 0, 0]
            h = torch.einsum("oc,ncthw->nothw", sw, h) + w[p + "conv_shortcut.bias"].view(1, -1, 1, 1, 1)
        return h + a

    h = causal(x.float(), w["conv_in.conv.weight"], w["conv_in.conv.bias"])
    segs = list(segments)
    for i in range(len(chans)):
        for j in range(config["layers_per_block"]):
            h = resnet("down_blocks.%d.resnets.%d." % (i, j), h, segs)
        if i < len(chans) - 1:
            if i < levels:
                h, segs = time_down(h, segs)
            p = "down_blocks.%d.downsamplers.0.conv." % i
            h = F.conv3d(F.pad(h, (0, 1, 0, 1)), w[p + "weight"].unsqueeze(2), w[p + "bias"],
                         stride=(1, 2, 2))
    for j in range(2):
        h = resnet("mid_block.resnets.%d." % j, h, segs)
    h = F.silu(group_norm(h, w["norm_out.weight"], w["norm_out.bias"], g, 1e-6, segs))
    h = causal(h, w["conv_out.conv.weight"], w["conv_out.conv.bias"])
    return h.double()


# ---------------------------------------------------------------- checks

failures = []


def rel(a, b):
    return float((a - b).abs().max() / b.abs().max())


def expect(what, value, limit, above=False):
    ok = value > limit if above else value <= limit
    print("%-4s %-58s %.3g (%s %.0e)" % ("ok" if ok else "FAIL", what, value,
                                         ">" if above else "<=", limit))
    if not ok:
        failures.append(what)


def main():
    d = tempfile.mkdtemp(prefix="ctxpar-cv-self-")
    for layers in (1, 2):
        folder = make_folder.write_folder(os.path.join(d, "l%d" % layers), "tiny", "f32", seed=3,
                                          layers_per_block=layers)
        encoder, config = reference.load(folder)
        weights = {k[len("encoder."):]: torch.from_numpy(v)
                   for k, v in reference.read_safetensors(
                       os.path.join(folder, "diffusion_pytorch_model.safetensors")).items()
                   if k.startswith("encoder.")}
        for frames in (1, 5, 9, 13, 17, 21, 25):
            x = reference.pixels(make_video.make_video(frames, 32, 48, seed=frames))
            calls = reference.diffusers_calls(frames)
            tag = "L%d T=%d calls=%s" % (layers, frames, calls)
            reference.GroupNorm.affine_only = True
            whole = reference.encode_whole(encoder, x)
            batched = reference.encode_diffusers(encoder, x)
            reference.GroupNorm.affine_only = False
            expect("(a) affine-only whole vs diffusers, " + tag, rel(batched, whole), 1e-12)
            whole = reference.encode_whole(encoder, x)
            batched = reference.encode_diffusers(encoder, x)
            assert whole.shape[2] == 1 + (frames - 1) // 4 and whole.shape[3:] == (4, 6)
            with torch.no_grad():
                second_whole = second_formulation(weights, config, x, [frames])
                second_batched = second_formulation(weights, config, x,
                                                    [e - b for b, e in calls])
            expect("(b) f32 second formulation vs whole, " + tag, rel(second_whole, whole), 2e-5)
            expect("(b) f32 second formulation vs diffusers, " + tag,
                   rel(second_batched, batched), 2e-5)
            if len(calls) > 1:
                expect("(c) whole vs diffusers differ, " + tag, rel(batched, whole), 1e-2,
                       above=True)
    if failures:
        print("%d failure(s); files kept in %s" % (len(failures), d))
        sys.exit(1)
    shutil.rmtree(d, ignore_errors=True)
    print("cogvideox reference self-check: ok")


if __name__ == "__main__":
    main()
