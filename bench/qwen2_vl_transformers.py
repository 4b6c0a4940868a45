#!/usr/bin/env python3
"""The Qwen2-VL / Qwen2.5-VL vision tower as users run it: transformers' own
vision model classes with the folder's visual.* weights, pixels through
transformers' own video processor (rescale, CLIP normalisation, patch
layout; no resize: the frames are given at a multiple of 28), in bf16 or
float32, SDPA, one process on the whole clip. Run with the peer venv's
python (bench/make_peer_venv.sh): the current torch and transformers from
PyPI.

    PY bench/qwen2_vl_transformers.py --model DIR --video FILE.h5[:DATASET]
        [--dtype bf16,f32] [--threads 2] [--warmup 1] [--repeat 3] [--json FILE]
        [--check CTXPAR_OUT.h5]

--check compares ctxpar's --no-merge features file with the tower's float32
(and float64) output on the same video: max|a-r|/max|r|, printed and in the
JSON line. GFLOP counts the matrix products (attention within each frame or
window, the merger included).
"""
import argparse
import json
import os

import h5py
import numpy as np
import torch
import transformers

from peer_common import cpu_name, emit, time_runs


def vision_classes(family):
    if family == "qwen2_vl":
        from transformers.models.qwen2_vl.configuration_qwen2_vl import Qwen2VLVisionConfig
        from transformers.models.qwen2_vl.modeling_qwen2_vl import \
            Qwen2VisionTransformerPretrainedModel
        return Qwen2VLVisionConfig, Qwen2VisionTransformerPretrainedModel
    from transformers.models.qwen2_5_vl.configuration_qwen2_5_vl import Qwen2_5_VLVisionConfig
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import \
        Qwen2_5_VisionTransformerPretrainedModel
    return Qwen2_5_VLVisionConfig, Qwen2_5_VisionTransformerPretrainedModel


def load_tower(folder, dtype):
    """The vision tower of the folder's config, with its visual.* weights."""
    from safetensors.torch import load_file
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    config_cls, model_cls = vision_classes(config["model_type"])
    vision = dict(config["vision_config"])
    if "in_chans" in vision:
        vision.setdefault("in_channels", vision.pop("in_chans"))
    vcfg = config_cls(**vision)
    vcfg._attn_implementation = "sdpa"
    model = model_cls._from_config(vcfg, dtype=dtype)
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    state = {}
    for name in files:
        for k, v in load_file(os.path.join(folder, name)).items():
            for prefix in ("model.visual.", "visual."):
                if k.startswith(prefix):
                    state[k[len(prefix):]] = v.to(dtype)
    missing, unexpected = model.load_state_dict(state, strict=True), None
    del missing, unexpected
    model.eval()
    return config, model


def read_video(spec):
    path, _, dataset = spec.partition(":")
    with h5py.File(path, "r") as f:
        return f[dataset or "video"][()]  # uint8 [T, H, W, 3]


def processor_inputs(config, frames):
    """pixel_values_videos and video_grid_thw from transformers' video processor."""
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor
    v = config["vision_config"]
    proc = Qwen2VLVideoProcessor(patch_size=v["patch_size"],
                                 temporal_patch_size=v["temporal_patch_size"],
                                 merge_size=v["spatial_merge_size"], do_resize=False,
                                 do_sample_frames=False)
    video = torch.from_numpy(frames).permute(0, 3, 1, 2).contiguous()  # T, C, H, W
    out = proc(videos=[video], return_tensors="pt")
    return out["pixel_values_videos"], out["video_grid_thw"]


def run(model, pixels, grid):
    out = model(pixels.to(model.dtype), grid_thw=grid)
    return out.pooler_output if hasattr(out, "pooler_output") else out


def gflop(config, grid):
    v, family = config["vision_config"], config["model_type"]
    t, gh, gw = (int(x) for x in grid[0])
    d = v["embed_dim"] if family == "qwen2_vl" else v["hidden_size"]
    f = int(d * v["mlp_ratio"]) if family == "qwen2_vl" else v["intermediate_size"]
    m, out = v["spatial_merge_size"], v["hidden_size"] if family == "qwen2_vl" else v["out_hidden_size"]
    n = t * gh * gw
    mlp = 2 * f if family == "qwen2_vl" else 3 * f
    dense = 2.0 * n * d * (4 * d + mlp) * v["depth"]
    full = 4.0 * t * (gh * gw) ** 2 * d
    if family == "qwen2_5_vl":
        w = v["window_size"] // v["patch_size"]
        win = sum(4.0 * t * (min(w, gh - y) * min(w, gw - x)) ** 2 * d
                  for y in range(0, gh, w) for x in range(0, gw, w))
        k = len(v["fullatt_block_indexes"])
        attention = k * full + (v["depth"] - k) * win
    else:
        attention = v["depth"] * full
    width = m * m * d
    merger = 2.0 * (n // (m * m)) * width * (width + out)
    return (dense + attention + merger + 2.0 * n * d * 3 * 2 * v["patch_size"] ** 2) / 1e9


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--video", required=True)
    p.add_argument("--dtype", default="bf16,f32")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--check", help="a ctxpar --no-merge features file of the same video")
    p.add_argument("--json")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    cpu = cpu_name()
    print("# qwen2_vl_transformers: torch %s, transformers %s, %d threads, SDPA, %s"
          % (torch.__version__, transformers.__version__, a.threads, cpu))
    frames = read_video(a.video)
    for name in a.dtype.split(","):
        dtype = {"bf16": torch.bfloat16, "f32": torch.float32, "f64": torch.float64}[name]
        config, model = load_tower(a.model, dtype)
        pixels, grid = processor_inputs(config, frames)
        with torch.inference_mode():
            out, times, median = time_runs(lambda: run(model, pixels, grid), a.warmup, a.repeat)
        g = gflop(config, grid)
        record = {"bench": "qwen2_vl_transformers", "family": config["model_type"],
                  "torch": torch.__version__, "transformers": transformers.__version__,
                  "dtype": name, "threads": a.threads, "frames": int(frames.shape[0]),
                  "height": int(frames.shape[1]), "width": int(frames.shape[2]),
                  "tokens": int(out.shape[0]), "seconds_median": median,
                  "seconds_min": min(times), "seconds_max": max(times), "gflop": g,
                  "gflops": g / median, "repeat": a.repeat, "warmup": a.warmup, "cpu": cpu}
        print("%-5s %d frames %dx%d -> %d tokens: %.3f s median [%.3f, %.3f], %.1f GFLOP/s"
              % (name, frames.shape[0], frames.shape[2], frames.shape[1], out.shape[0], median,
                 min(times), max(times), g / median))
        if a.check:
            with h5py.File(a.check, "r") as f:
                got = f["tokens/features"][()].astype(np.float64)
            r = out.double().numpy()
            if got.shape != r.shape:
                record["check_error"] = None
                print("check: shapes differ: ctxpar %s, transformers %s" % (got.shape, r.shape))
            else:
                record["check_error"] = float(np.abs(got - r).max() / np.abs(r).max())
                print("check: ctxpar vs transformers %s: max|a-r|/max|r| = %.3g"
                      % (name, record["check_error"]))
        emit(record, a.json)
        del model


if __name__ == "__main__":
    main()
