"""Writes a transformers V-JEPA 2 folder (config.json + model.safetensors)
with seeded random weights, so tests and benchmarks can exercise the real file
format without the real download.

The encoder tensors follow the real checkpoint's names and shapes for the
chosen configuration (4 + 16 L tensors: 388 for ViT-L). A real VJEPA2Model
file also holds the predictor, so a few predictor.* tensors with their real
names are added, which a reader of the encoder must skip. --classification
writes the VJEPA2ForVideoClassification layout instead: the backbone under
"vjepa2." and pooler.* / classifier.* tensors beside it. The encoder values
depend only on the seed, so both layouts of one seed hold the same encoder.
LayerNorm weights are near 1 but not 1 and biases small but nonzero, so a
reader that drops or swaps a tensor changes the result; linear and conv
weights have standard deviation 1/sqrt(fan_in) so activations stay O(1).
Tensors are generated and written one at a time, so the ViT-L folder
(~1.2 GB in f32) needs little memory.

  python3 make_folder.py OUT [--preset tiny|hd80|vitl] [--dtype f32|f16|bf16]
         [--seed N] [--layers N] [--classification]
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from safetensors_io import SAFETENSORS_DTYPE, random_tensor, write_safetensors  # noqa: E402,F401

PRESETS = {
    "tiny": dict(hidden_size=64, num_attention_heads=2, num_hidden_layers=2, patch_size=8,
                 tubelet_size=2, crop_size=64, mlp_ratio=4, frames_per_clip=16,
                 pred_hidden_size=32, pred_num_attention_heads=2, pred_num_hidden_layers=1),
    "hd80": dict(hidden_size=160, num_attention_heads=2, num_hidden_layers=2, patch_size=8,
                 tubelet_size=2, crop_size=64, mlp_ratio=4, frames_per_clip=16,
                 pred_hidden_size=32, pred_num_attention_heads=2, pred_num_hidden_layers=1),
    "vitl": dict(hidden_size=1024, num_attention_heads=16, num_hidden_layers=24, patch_size=16,
                 tubelet_size=2, crop_size=256, mlp_ratio=4, frames_per_clip=64,
                 pred_hidden_size=384, pred_num_attention_heads=12, pred_num_hidden_layers=12),
}


def config_for(preset, classification=False, **overrides):
    """Every key of the real facebook/vjepa2-vitl-fpc64-256 config.json."""
    c = {
        "architectures": ["VJEPA2Model"],
        "model_type": "vjepa2",
        "attention_dropout": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "crop_size": None,
        "drop_path_rate": 0.0,
        "frames_per_clip": None,
        "hidden_act": "gelu",
        "hidden_size": None,
        "image_size": None,
        "in_chans": 3,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-06,
        "mlp_ratio": None,
        "num_attention_heads": None,
        "num_hidden_layers": None,
        "num_pooler_layers": 3,
        "patch_size": None,
        "pred_hidden_size": None,
        "pred_mlp_ratio": 4.0,
        "pred_num_attention_heads": None,
        "pred_num_hidden_layers": None,
        "pred_num_mask_tokens": 10,
        "pred_zero_init_mask_tokens": True,
        "qkv_bias": True,
        "torch_dtype": "float32",
        "transformers_version": "4.53.0.dev0",
        "tubelet_size": None,
    }
    c.update(PRESETS[preset])
    c.update(overrides)
    c["image_size"] = c["crop_size"]
    if classification:
        c["architectures"] = ["VJEPA2ForVideoClassification"]
        c["id2label"] = {str(i): "class_%d" % i for i in range(4)}
        c["label2id"] = {"class_%d" % i: i for i in range(4)}
    return c


def encoder_shapes(config):
    """Ordered {name: shape} of every encoder tensor of a checkpoint."""
    d, p, kt = config["hidden_size"], config["patch_size"], config["tubelet_size"]
    f = int(d * config["mlp_ratio"])
    shapes = {
        "encoder.embeddings.patch_embeddings.proj.weight": [d, config["in_chans"], kt, p, p],
        "encoder.embeddings.patch_embeddings.proj.bias": [d],
    }
    for i in range(config["num_hidden_layers"]):
        pre = "encoder.layer.%d." % i
        for name, shape in (("norm1.weight", [d]), ("norm1.bias", [d]),
                            ("attention.query.weight", [d, d]), ("attention.query.bias", [d]),
                            ("attention.key.weight", [d, d]), ("attention.key.bias", [d]),
                            ("attention.value.weight", [d, d]), ("attention.value.bias", [d]),
                            ("attention.proj.weight", [d, d]), ("attention.proj.bias", [d]),
                            ("norm2.weight", [d]), ("norm2.bias", [d]),
                            ("mlp.fc1.weight", [f, d]), ("mlp.fc1.bias", [f]),
                            ("mlp.fc2.weight", [d, f]), ("mlp.fc2.bias", [d])):
            shapes[pre + name] = shape
    shapes["encoder.layernorm.weight"] = [d]
    shapes["encoder.layernorm.bias"] = [d]
    return shapes


def predictor_shapes(config):
    """A few predictor tensors with their real names (a reader of the encoder must skip them)."""
    d, pd = config["hidden_size"], config["pred_hidden_size"]
    return {
        "predictor.embeddings.predictor_embeddings.weight": [pd, d],
        "predictor.embeddings.predictor_embeddings.bias": [pd],
        "predictor.embeddings.mask_tokens": [config["pred_num_mask_tokens"], 1, 1, pd],
        "predictor.layer.0.norm1.weight": [pd],
        "predictor.layer.0.attention.query.weight": [pd, pd],
        "predictor.layer.0.attention.query.bias": [pd],
        "predictor.layer.0.mlp.fc1.weight": [int(pd * config["pred_mlp_ratio"]), pd],
        "predictor.layernorm.weight": [pd],
        "predictor.layernorm.bias": [pd],
        "predictor.proj.weight": [d, pd],
        "predictor.proj.bias": [d],
    }


def head_shapes(config):
    """A few attentive-pooler and classifier tensors of a classification checkpoint."""
    d = config["hidden_size"]
    f = int(d * config["mlp_ratio"])
    labels = len(config.get("id2label", {})) or 4
    return {
        "pooler.query_tokens": [1, 1, d],
        "pooler.cross_attention_layer.layer_norm1.weight": [d],
        "pooler.cross_attention_layer.cross_attn.q_proj.weight": [d, d],
        "pooler.cross_attention_layer.cross_attn.q_proj.bias": [d],
        "pooler.cross_attention_layer.mlp.fc1.weight": [f, d],
        "pooler.self_attention_layers.0.layer_norm1.weight": [d],
        "pooler.self_attention_layers.0.self_attn.k_proj.weight": [d, d],
        "pooler.self_attention_layers.0.self_attn.out_proj.bias": [d],
        "classifier.weight": [labels, d],
        "classifier.bias": [labels],
    }


def tensor_plan(config, seed=0, classification=False):
    """{(name, shape): callable making the tensor}, in file order. The encoder draws
    from its own generator (seed), the rest from another, so both layouts agree."""
    enc_rng = np.random.default_rng(seed)
    extra_rng = np.random.default_rng([seed, 1])
    prefix = "vjepa2." if classification else ""
    plan = {}

    def maker(rng, name, shape):
        return lambda: random_tensor(rng, name, shape)

    for name, shape in encoder_shapes(config).items():
        plan[(prefix + name, tuple(shape))] = maker(enc_rng, name, shape)
    for name, shape in predictor_shapes(config).items():
        plan[(prefix + name, tuple(shape))] = maker(extra_rng, name, shape)
    if classification:
        for name, shape in head_shapes(config).items():
            plan[(name, tuple(shape))] = maker(extra_rng, name, shape)
    return plan


def make_tensors(config, seed=0, classification=False):
    """{name: float32 array} of the whole file, in file order (small configs only)."""
    return {name: make() for (name, _), make in tensor_plan(config, seed, classification).items()}


def write_folder(out, preset="tiny", dtype="f32", seed=0, classification=False, **overrides):
    config = config_for(preset, classification, **overrides)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    # The generators are consumed in file order, which is the order written.
    write_safetensors(os.path.join(out, "model.safetensors"),
                      tensor_plan(config, seed, classification), SAFETENSORS_DTYPE[dtype])
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out")
    p.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    p.add_argument("--dtype", choices=sorted(SAFETENSORS_DTYPE), default="f32")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--layers", type=int, help="num_hidden_layers (default: the preset's)")
    p.add_argument("--classification", action="store_true",
                   help="VJEPA2ForVideoClassification layout (vjepa2.* backbone, pooler, classifier)")
    a = p.parse_args()
    overrides = {"num_hidden_layers": a.layers} if a.layers else {}
    print(write_folder(a.out, a.preset, a.dtype, a.seed, a.classification, **overrides))


if __name__ == "__main__":
    main()
