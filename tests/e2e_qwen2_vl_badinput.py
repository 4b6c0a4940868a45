"""Bad Qwen2-VL / Qwen2.5-VL input: each case builds a broken folder (the
shard index, the shards, the vision_config), video or option, runs ctxpar
on 2 ranks and expects a nonzero exit within a time bound, an error line
that names the problem (checked loosely: key substrings), and nothing at
the output path. The unbroken folders must run first, or every case would
pass for the wrong reason.
"""
import json
import os
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "qwen2_vl"))
from e2e_common import *  # noqa: E402,F403
import make_folder  # noqa: E402
from family_badinput import BadFolders  # noqa: E402

INDEX = "model.safetensors.index.json"
bad = BadFolders("ctxpar-qwen2vl-bad-", INDEX, make_folder, ["--no-merge"])
d = bad.dir
variant, case, edit_config = bad.variant, bad.case, bad.edit_config


def edit_index(fn):
    def edit(folder):
        path = os.path.join(folder, INDEX)
        with open(path) as f:
            index = json.load(f)
        fn(index["weight_map"], folder)
        with open(path, "w") as f:
            json.dump(index, f)
    return edit


def edit_vision(**changes):
    def fn(config):
        for k, v in changes.items():
            if v is None:
                config["vision_config"].pop(k)
            else:
                config["vision_config"][k] = v
    return edit_config(fn)


def main():
    good = make_folder.write_folder(os.path.join(d, "good"), "qwen2_vl", shards=2)
    good25 = make_folder.write_folder(os.path.join(d, "good25"), "qwen2_5_vl", shards=2)
    video, odd = os.path.join(d, "v.h5"), os.path.join(d, "odd.h5")
    rng = np.random.default_rng(1)
    with h5py.File(video, "w") as f:
        f["video"] = rng.integers(0, 256, size=(4, 56, 84, 3), dtype=np.uint8)
    with h5py.File(odd, "w") as f:
        f["video"] = rng.integers(0, 256, size=(4, 56, 70, 3), dtype=np.uint8)

    def args(folder, vid=video):
        return ["--model", folder, "--input", vid]

    try:
        for folder in (good, good25):
            run(2, *(args(folder) + ["--out", os.path.join(d, "good.h5"), "--overwrite",
                                     "--no-merge"]))
        print("ok   good folders run")
    except Exception as e:  # noqa: BLE001
        fail("an unbroken folder fails: %s" % str(e)[-1500:])

    shard2 = "model-00002-of-00002.safetensors"
    f = variant(good, "shard_missing", lambda folder: os.remove(os.path.join(folder, shard2)))
    case("a shard missing", args(f), [shard2])

    f = variant(good, "index_names_missing_file", edit_index(
        lambda m, _: m.update({k: "model-00003-of-00003.safetensors" for k in list(m)[:1]})))
    case("index names a missing file", args(f), ["model-00003-of-00003.safetensors"])

    qkv = "visual.blocks.0.attn.qkv.weight"
    f = variant(good, "index_wrong_shard", edit_index(
        lambda m, _: m.update({qkv: "model-00001-of-00002.safetensors"
                               if m[qkv].startswith("model-00002") else shard2})))
    case("index puts a tensor in the wrong shard", args(f), [qkv, "does not hold"])

    f = variant(good, "index_path", edit_index(lambda m, _: m.update({qkv: "../" + m[qkv]})))
    case("index names a file elsewhere", args(f), [qkv, "beside the index"])

    f = variant(good, "tensor_missing", edit_index(lambda m, _: m.pop(qkv)))
    case("a vision tensor missing", args(f), [qkv, "missing"])

    def no_weights(folder):
        for name in os.listdir(folder):
            if name.endswith(".safetensors") or name == INDEX:
                os.remove(os.path.join(folder, name))
    f = variant(good, "no_weights", no_weights)
    case("no weights at all", args(f), ["model.safetensors", "index.json"])

    f = variant(good, "act", edit_vision(hidden_act="gelu"))
    case("wrong vision_config hidden_act", args(f), ["hidden_act", "quick_gelu"])

    f = variant(good, "no_depth", edit_vision(depth=None))
    case("vision_config without depth", args(f), ["vision_config.depth"])

    f = variant(good, "width", edit_vision(embed_dim=32))
    case("vision_config width not the weights'", args(f), ["visual.patch_embed.proj.weight"],
         shapes=([64, 3, 2, 14, 14],))

    f = variant(good25, "window", edit_vision(window_size=50))
    case("window_size not a multiple of 28", args(f), ["window_size"], numbers=(50, 28))

    f = variant(good25, "fullatt", edit_vision(fullatt_block_indexes=[1, 7]))
    case("full-attention layer past the depth", args(f), ["fullatt_block_indexes"], numbers=(7,))

    case("frame width not a multiple of 28", args(good, odd), [], numbers=(70, 28))
    case("--layer with a merger", args(good) + ["--layer", "1"], ["--layer", "merger"])
    finish("e2e_qwen2_vl_badinput")


if __name__ == "__main__":
    main()
