"""Writes a diffusers AutoencoderKLCogVideoX folder (config.json +
diffusion_pytorch_model.safetensors) with seeded random weights, so tests and
benchmarks can exercise the real file format without the real download.

The tensor names and shapes follow the real checkpoint's pattern for the given
configuration (128 encoder tensors for the real topology) and a few decoder
tensors are added because a real file has them and a reader must skip them.
Norm weights are near 1 but not 1 and biases small but nonzero, so a reader
that drops or swaps a tensor changes the result; conv weights have standard
deviation 1/sqrt(fan_in) so activations stay O(1) through the network.

  python3 make_folder.py OUT [--preset tiny|real] [--dtype f32|f16|bf16]
         [--seed N] [--repo-root] [--layers N] [--invert-scale-latents]
         [--no-invert-key] [--scaling-factor X] [--clamp-logvar]
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from safetensors_io import SAFETENSORS_DTYPE, random_tensor, write_safetensors  # noqa: E402,F401

PRESETS = {
    "tiny": dict(block_out_channels=[8, 16, 16, 32], layers_per_block=1, norm_num_groups=4,
                 latent_channels=4),
    "real": dict(block_out_channels=[128, 256, 256, 512], layers_per_block=3,
                 norm_num_groups=32, latent_channels=16),
}


def config_for(preset, **overrides):
    c = {
        "_class_name": "AutoencoderKLCogVideoX",
        "_diffusers_version": "0.30.0.dev0",
        "act_fn": "silu",
        "block_out_channels": None,
        "down_block_types": ["CogVideoXDownBlock3D"] * 4,
        "force_upcast": True,
        "in_channels": 3,
        "latent_channels": None,
        "latents_mean": None,
        "latents_std": None,
        "layers_per_block": None,
        "norm_eps": 1e-06,
        "norm_num_groups": None,
        "out_channels": 3,
        "sample_height": 480,
        "sample_width": 720,
        "scaling_factor": 1.15258426,
        "shift_factor": None,
        "temporal_compression_ratio": 4,
        "up_block_types": ["CogVideoXUpBlock3D"] * 4,
        "use_post_quant_conv": False,
        "use_quant_conv": False,
        "invert_scale_latents": False,
    }
    c.update(PRESETS[preset])
    c.update(overrides)
    return c


def encoder_shapes(config):
    """Ordered {name: shape} of every encoder tensor of a checkpoint."""
    chans = config["block_out_channels"]
    layers = config["layers_per_block"]
    latent = config["latent_channels"]
    shapes = {}

    def conv3(name, cin, cout):
        shapes[name + ".conv.weight"] = [cout, cin, 3, 3, 3]
        shapes[name + ".conv.bias"] = [cout]

    def resnet(name, cin, cout):
        shapes[name + ".norm1.weight"] = [cin]
        shapes[name + ".norm1.bias"] = [cin]
        conv3(name + ".conv1", cin, cout)
        shapes[name + ".norm2.weight"] = [cout]
        shapes[name + ".norm2.bias"] = [cout]
        conv3(name + ".conv2", cout, cout)
        if cin != cout:
            shapes[name + ".conv_shortcut.weight"] = [cout, cin, 1, 1, 1]
            shapes[name + ".conv_shortcut.bias"] = [cout]

    conv3("encoder.conv_in", config["in_channels"], chans[0])
    cout = chans[0]
    for i in range(len(chans)):
        cin, cout = cout, chans[i]
        for j in range(layers):
            resnet("encoder.down_blocks.%d.resnets.%d" % (i, j), cin if j == 0 else cout, cout)
        if i < len(chans) - 1:
            shapes["encoder.down_blocks.%d.downsamplers.0.conv.weight" % i] = [cout, cout, 3, 3]
            shapes["encoder.down_blocks.%d.downsamplers.0.conv.bias" % i] = [cout]
    for j in range(2):
        resnet("encoder.mid_block.resnets.%d" % j, chans[-1], chans[-1])
    shapes["encoder.norm_out.weight"] = [chans[-1]]
    shapes["encoder.norm_out.bias"] = [chans[-1]]
    conv3("encoder.conv_out", chans[-1], 2 * latent)
    return shapes


def decoder_shapes(config):
    """A few decoder tensors (a reader of the encoder must skip them)."""
    chans = config["block_out_channels"]
    return {
        "decoder.conv_in.conv.weight": [chans[-1], config["latent_channels"], 3, 3, 3],
        "decoder.conv_in.conv.bias": [chans[-1]],
        "decoder.norm_out.norm_layer.weight": [chans[0]],
        "decoder.conv_out.conv.weight": [config["out_channels"], chans[0], 3, 3, 3],
    }


def make_tensors(config, seed=0, clamp_logvar=False):
    rng = np.random.default_rng(seed)
    tensors = {}
    for name, shape in list(encoder_shapes(config).items()) + list(decoder_shapes(config).items()):
        tensors[name] = random_tensor(rng, name, shape)
    if clamp_logvar:  # push two logvar channels past the [-30, 20] clamp
        latent = config["latent_channels"]
        tensors["encoder.conv_out.conv.bias"][latent] = 60.0
        tensors["encoder.conv_out.conv.bias"][latent + 1] = -60.0
    return tensors


def write_folder(out, preset="tiny", dtype="f32", seed=0, repo_root=False, clamp_logvar=False,
                 no_invert_key=False, **overrides):
    config = config_for(preset, **overrides)
    if no_invert_key:
        del config["invert_scale_latents"]
    vae = out
    if repo_root:
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "model_index.json"), "w") as f:
            json.dump({"_class_name": "CogVideoXPipeline", "_diffusers_version": "0.30.0.dev0",
                       "vae": ["diffusers", "AutoencoderKLCogVideoX"]}, f, indent=2)
        vae = os.path.join(out, "vae")
    os.makedirs(vae, exist_ok=True)
    with open(os.path.join(vae, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    write_safetensors(os.path.join(vae, "diffusion_pytorch_model.safetensors"),
                      make_tensors(config, seed, clamp_logvar), SAFETENSORS_DTYPE[dtype])
    return vae


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out")
    p.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    p.add_argument("--dtype", choices=sorted(SAFETENSORS_DTYPE), default="f32")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--layers", type=int, help="layers_per_block (default: the preset's)")
    p.add_argument("--scaling-factor", type=float)
    p.add_argument("--repo-root", action="store_true",
                   help="write model_index.json here and the VAE under vae/")
    p.add_argument("--invert-scale-latents", action="store_true")
    p.add_argument("--no-invert-key", action="store_true",
                   help="leave invert_scale_latents out of config.json")
    p.add_argument("--clamp-logvar", action="store_true",
                   help="biases that drive two logvar channels past the clamp")
    a = p.parse_args()
    overrides = {}
    if a.layers:
        overrides["layers_per_block"] = a.layers
    if a.scaling_factor is not None:
        overrides["scaling_factor"] = a.scaling_factor
    if a.invert_scale_latents:
        overrides["invert_scale_latents"] = True
    vae = write_folder(a.out, a.preset, a.dtype, a.seed, a.repo_root, a.clamp_logvar,
                       a.no_invert_key, **overrides)
    print(vae)


if __name__ == "__main__":
    main()
