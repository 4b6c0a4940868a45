"""Writes a Qwen2-VL or Qwen2.5-VL folder (config.json, weights as shards
with model.safetensors.index.json, or one model.safetensors) with seeded
random weights, so tests and benchmarks exercise the released file layout
without the download.

The vision tower's tensors have the released names and shapes for the
chosen configuration ("visual.*", or "model.visual.*" as transformers 4.52
and later save them); a few language-model tensors with their real names
are added, which a reader of the vision tower must skip. Norm weights are
near 1 and biases small but nonzero, so a reader that drops or swaps a
tensor changes the result; matrices have standard deviation 1/sqrt(fan_in).

  python3 make_folder.py OUT [--family qwen2_vl|qwen2_5_vl] [--preset tiny|7b]
         [--dtype f32|f16|bf16] [--seed N] [--shards N] [--layout visual|model.visual]
         [--layers N]
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from safetensors_io import SAFETENSORS_DTYPE, random_tensor, write_safetensors  # noqa: E402

# vision_config of each family and preset. The 7b presets are the released
# Qwen2-VL-7B-Instruct / Qwen2.5-VL-7B-Instruct towers.
VISION = {
    ("qwen2_vl", "tiny"): dict(depth=3, embed_dim=64, hidden_size=48, mlp_ratio=2, num_heads=2,
                               in_chans=3, patch_size=14, spatial_merge_size=2,
                               temporal_patch_size=2, hidden_act="quick_gelu"),
    ("qwen2_vl", "7b"): dict(depth=32, embed_dim=1280, hidden_size=3584, mlp_ratio=4,
                             num_heads=16, in_chans=3, patch_size=14, spatial_merge_size=2,
                             temporal_patch_size=2, hidden_act="quick_gelu"),
    ("qwen2_5_vl", "tiny"): dict(depth=3, hidden_size=64, intermediate_size=96, num_heads=2,
                                 out_hidden_size=48, in_chans=3, patch_size=14,
                                 spatial_patch_size=14, spatial_merge_size=2,
                                 temporal_patch_size=2, window_size=56,
                                 fullatt_block_indexes=[1], tokens_per_second=2,
                                 hidden_act="silu"),
    ("qwen2_5_vl", "7b"): dict(depth=32, hidden_size=1280, intermediate_size=3420,
                               num_heads=16, out_hidden_size=3584, in_chans=3, patch_size=14,
                               spatial_patch_size=14, spatial_merge_size=2,
                               temporal_patch_size=2, window_size=112,
                               fullatt_block_indexes=[7, 15, 23, 31], tokens_per_second=2,
                               hidden_act="silu"),
}
# the language model's width (what the merger projects to) and vocabulary
LLM = {"tiny": dict(hidden_size=48, vocab_size=32), "7b": dict(hidden_size=3584, vocab_size=64)}


def config_for(family, preset, **vision_overrides):
    """The released config.json's shape: model_type, the LLM's keys, vision_config."""
    vision = dict(VISION[(family, preset)])
    vision.update(vision_overrides)
    return {
        "architectures": ["Qwen2VLForConditionalGeneration" if family == "qwen2_vl"
                          else "Qwen2_5_VLForConditionalGeneration"],
        "model_type": family,
        "hidden_size": LLM[preset]["hidden_size"],
        "intermediate_size": 4 * LLM[preset]["hidden_size"],
        "num_attention_heads": 4,
        "num_hidden_layers": 1,
        "num_key_value_heads": 2,
        "rms_norm_eps": 1e-06,
        "rope_theta": 1000000.0,
        "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]},
        "vocab_size": LLM[preset]["vocab_size"],
        "vision_start_token_id": 151652,
        "video_token_id": 151656,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.49.0",
        "vision_config": vision,
    }


def vision_shapes(config):
    """Ordered {name: shape} of the vision tower (without the visual. prefix)."""
    v, family = config["vision_config"], config["model_type"]
    d = v["embed_dim"] if family == "qwen2_vl" else v["hidden_size"]
    out = v["hidden_size"] if family == "qwen2_vl" else v["out_hidden_size"]
    p, kt, m = v["patch_size"], v["temporal_patch_size"], v["spatial_merge_size"]
    shapes = {"patch_embed.proj.weight": [d, 3, kt, p, p]}
    for i in range(v["depth"]):
        pre = "blocks.%d." % i
        shapes[pre + "norm1.weight"] = [d]
        if family == "qwen2_vl":
            shapes[pre + "norm1.bias"] = [d]
        shapes[pre + "norm2.weight"] = [d]
        if family == "qwen2_vl":
            shapes[pre + "norm2.bias"] = [d]
        shapes[pre + "attn.qkv.weight"] = [3 * d, d]
        shapes[pre + "attn.qkv.bias"] = [3 * d]
        shapes[pre + "attn.proj.weight"] = [d, d]
        shapes[pre + "attn.proj.bias"] = [d]
        if family == "qwen2_vl":
            f = int(d * v["mlp_ratio"])
            shapes.update({pre + "mlp.fc1.weight": [f, d], pre + "mlp.fc1.bias": [f],
                           pre + "mlp.fc2.weight": [d, f], pre + "mlp.fc2.bias": [d]})
        else:
            f = v["intermediate_size"]
            for proj in ("gate_proj", "up_proj"):
                shapes[pre + "mlp.%s.weight" % proj] = [f, d]
                shapes[pre + "mlp.%s.bias" % proj] = [f]
            shapes[pre + "mlp.down_proj.weight"] = [d, f]
            shapes[pre + "mlp.down_proj.bias"] = [d]
    width = m * m * d
    shapes["merger.ln_q.weight"] = [d]
    if family == "qwen2_vl":
        shapes["merger.ln_q.bias"] = [d]
    shapes.update({"merger.mlp.0.weight": [width, width], "merger.mlp.0.bias": [width],
                   "merger.mlp.2.weight": [out, width], "merger.mlp.2.bias": [out]})
    return shapes


def llm_shapes(config):
    """A few language-model tensors with their real names (never read)."""
    h, vocab = config["hidden_size"], config["vocab_size"]
    return {"embed_tokens.weight": [vocab, h], "layers.0.input_layernorm.weight": [h],
            "layers.0.self_attn.q_proj.weight": [h, h], "norm.weight": [h]}


def tensor_plan(config, seed=0, layout="visual"):
    """[(name, shape, maker)] in file order; the vision tower draws from its own
    generator, so both layouts of one seed hold the same tower."""
    vis_rng = np.random.default_rng(seed)
    llm_rng = np.random.default_rng([seed, 1])
    vis_prefix = "visual." if layout == "visual" else "model.visual."
    llm_prefix = "model." if layout == "visual" else "model.language_model."
    plan = []

    def maker(rng, name, shape):
        return lambda: random_tensor(rng, name, shape)

    for name, shape in llm_shapes(config).items():
        plan.append((llm_prefix + name, shape, maker(llm_rng, name, shape)))
    for name, shape in vision_shapes(config).items():
        plan.append((vis_prefix + name, shape, maker(vis_rng, name, shape)))
    plan.append(("lm_head.weight", [config["vocab_size"], config["hidden_size"]],
                 maker(llm_rng, "lm_head.weight", [config["vocab_size"], config["hidden_size"]])))
    return plan


def write_folder(out, family="qwen2_vl", preset="tiny", dtype="f32", seed=0, shards=2,
                 layout="visual", **vision_overrides):
    config = config_for(family, preset, **vision_overrides)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    plan = tensor_plan(config, seed, layout)
    if shards <= 1:
        write_safetensors(os.path.join(out, "model.safetensors"),
                          {(n, tuple(s)): mk for n, s, mk in plan}, SAFETENSORS_DTYPE[dtype])
        return out
    # contiguous runs of tensors per shard, as transformers' save_pretrained cuts them
    per = (len(plan) + shards - 1) // shards
    weight_map = {}
    for k in range(shards):
        name = "model-%05d-of-%05d.safetensors" % (k + 1, shards)
        part = plan[k * per:(k + 1) * per]
        write_safetensors(os.path.join(out, name), {(n, tuple(s)): mk for n, s, mk in part},
                          SAFETENSORS_DTYPE[dtype])
        weight_map.update({n: name for n, _, _ in part})
    with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map}, f, indent=2)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out")
    p.add_argument("--family", choices=["qwen2_vl", "qwen2_5_vl"], default="qwen2_vl")
    p.add_argument("--preset", choices=["tiny", "7b"], default="tiny")
    p.add_argument("--dtype", choices=sorted(SAFETENSORS_DTYPE), default="f32")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shards", type=int, default=2)
    p.add_argument("--layout", choices=["visual", "model.visual"], default="visual")
    p.add_argument("--layers", type=int, help="vision depth (default: the preset's)")
    a = p.parse_args()
    overrides = {"depth": a.layers} if a.layers else {}
    print(write_folder(a.out, a.family, a.preset, a.dtype, a.seed, a.shards, a.layout,
                       **overrides))


if __name__ == "__main__":
    main()
