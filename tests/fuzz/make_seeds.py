"""Writes the fuzz targets' seed corpus (tests/fuzz/corpus/<target>/seed-*):
small valid inputs of every kind each reader takes, so fuzzing starts from
files that reach deep into the readers instead of failing at the first byte.
Inputs the fuzzers found later are kept beside them under other names; this
script only rewrites the seed-* files.

  python3 make_seeds.py CTXPAR_BIN   (needs ffmpeg, h5py, numpy)
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from safetensors_io import SAFETENSORS_DTYPE, write_safetensors  # noqa: E402
from cogvideox import make_folder as cogvideox_folder  # noqa: E402
from vjepa2 import make_folder as vjepa2_folder  # noqa: E402

SEP = b"\n%%\n"  # fuzz_util.h's part separator
TMP = tempfile.mkdtemp(prefix="ctxpar-seeds-")


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def safetensors_seeds():
    rng = np.random.default_rng(0)
    cases = {
        "f32": ({"w": rng.standard_normal((2, 3)).astype(np.float32),
                 "b": rng.standard_normal(3).astype(np.float32)}, "f32"),
        "f16": ({"a.weight": rng.standard_normal((4, 2, 1)).astype(np.float32)}, "f16"),
        "bf16": ({"x": rng.standard_normal(5).astype(np.float32),
                  "y": np.zeros((0, 2), np.float32)}, "bf16"),
        "scalar": ({"s": np.array(1.5, np.float32)}, "f32"),
    }
    for name, (tensors, dtype) in cases.items():
        path = os.path.join(TMP, name + ".safetensors")
        write_safetensors(path, tensors, SAFETENSORS_DTYPE[dtype])
        put("safetensors", name, read(path))
    header = json.dumps({"__metadata__": {"format": "pt"},
                         "t": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                         "d": {"dtype": "F64", "shape": [2], "data_offsets": [4, 20]}}).encode()
    header += b" " * (-len(header) % 8)
    data = np.float32(1.0).tobytes() + np.array([0.1, -2.5], np.float64).tobytes()
    put("safetensors", "metadata-f64", len(header).to_bytes(8, "little") + header + data)


TINY_COGVIDEOX = dict(block_out_channels=[4, 4, 4, 4], norm_num_groups=2, latent_channels=2,
                      layers_per_block=1)
TINY_VJEPA2 = dict(hidden_size=32, num_attention_heads=2, num_hidden_layers=1, patch_size=4,
                   crop_size=16, frames_per_clip=4, pred_hidden_size=16,
                   pred_num_attention_heads=1, pred_num_hidden_layers=1)


def folder_seeds(ctxpar):
    cog = cogvideox_folder.write_folder(os.path.join(TMP, "cog"), dtype="bf16", **TINY_COGVIDEOX)
    cog_root = os.path.join(TMP, "cog_root")
    cogvideox_folder.write_folder(cog_root, dtype="f16", repo_root=True, **TINY_COGVIDEOX)
    vj = vjepa2_folder.write_folder(os.path.join(TMP, "vj"), dtype="bf16", **TINY_VJEPA2)
    cog_config = read(os.path.join(cog, "config.json"))
    vj_config = read(os.path.join(vj, "config.json"))
    put("model_folder", "cogvideox",
        cog_config + SEP + read(os.path.join(cog, "diffusion_pytorch_model.safetensors")))
    put("model_folder", "cogvideox-repo-root",
        read(os.path.join(cog_root, "vae", "config.json")) + SEP +
        read(os.path.join(cog_root, "vae", "diffusion_pytorch_model.safetensors")) + SEP +
        read(os.path.join(cog_root, "model_index.json")))
    put("model_folder", "vjepa2", vj_config + SEP + read(os.path.join(vj, "model.safetensors")))
    put("json_config", "cogvideox", cog_config)
    put("json_config", "vjepa2", vj_config)
    model = os.path.join(TMP, "tiny.h5")
    subprocess.run([ctxpar, "init-model", "--preset", "tiny", "--seed", "1", "-o", model],
                   check=True, capture_output=True)
    with h5py.File(model, "r") as f:
        put("json_config", "builtin-tiny", f.attrs["config"].encode()
            if isinstance(f.attrs["config"], str) else bytes(f.attrs["config"]))
    put("json_config", "escapes", json.dumps({"a": ["\u00e9\ud83d\ude00", 1e-300, -0.0, None,
                                                    True, {"b": []}]}).encode())
    return model


def hdf5_seeds(model):
    for name, kw in (("plain", {}), ("chunked-gzip", dict(chunks=(1, 8, 8, 3), compression="gzip"))):
        path = os.path.join(TMP, name + ".h5")
        with h5py.File(path, "w") as f:
            f.create_dataset("video", data=np.arange(2 * 8 * 8 * 3, dtype=np.uint8)
                             .reshape(2, 8, 8, 3), **kw)
        put("hdf5", name, read(path))
    path = os.path.join(TMP, "compact.h5")  # data inside the object header
    with h5py.File(path, "w") as f:
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_layout(h5py.h5d.COMPACT)
        space = h5py.h5s.create_simple((2, 8, 8, 3))
        d = h5py.h5d.create(f.id, b"video", h5py.h5t.STD_U8LE, space, dcpl=dcpl)
        d.write(h5py.h5s.ALL, h5py.h5s.ALL, np.arange(384, dtype=np.uint8).reshape(2, 8, 8, 3))
    put("hdf5", "compact", read(path))
    if os.path.getsize(model) <= 1 << 20:
        put("hdf5", "model-tiny", read(model))


def video_seeds():
    src = ["-f", "lavfi", "-i", "testsrc2=size=32x32:rate=10", "-t", "0.8"]
    clips = {
        "h264.mp4": ["-c:v", "libx264", "-bf", "2", "-g", "4", "-pix_fmt", "yuv420p"],
        "h264-rotated.mov": ["-c:v", "libx264", "-g", "4", "-pix_fmt", "yuv420p",
                             "-metadata:s:v", "rotate=90"],
        "vp9.webm": ["-c:v", "libvpx-vp9", "-g", "4", "-deadline", "realtime", "-b:v", "50k"],
        "mpeg4.avi": ["-c:v", "mpeg4", "-g", "3"],
        "mpeg2.mpg": ["-c:v", "mpeg2video", "-g", "3", "-f", "mpeg"],
        "theora.ogv": ["-c:v", "libtheora", "-g", "3"],
        "mjpeg.mkv": ["-c:v", "mjpeg", "-pix_fmt", "yuvj420p"],
    }
    # The first byte picks the options (fuzz_video.c): 0 none, 0x15 --fps 3
    # --start 0.1 --resize short:16, 0x22 --fps 29.97 --resize 24x20.
    for name, args in clips.items():
        path = os.path.join(TMP, name)
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-nostdin"] + src + args + [path],
                       check=True)
        for choice in (0x00, 0x15, 0x22):
            put("video", "%02x-%s" % (choice, name), bytes([choice]) + read(path))


def main():
    ctxpar = sys.argv[1]
    safetensors_seeds()
    hdf5_seeds(folder_seeds(ctxpar))
    video_seeds()
    shutil.rmtree(TMP)


if __name__ == "__main__":
    main()
