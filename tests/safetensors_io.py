"""safetensors in pure Python (numpy), shared by the model-family tests and
benchmarks: writing seeded model folders of the released layouts, and reading
them back for the float64 references, with no safetensors package needed.

Format: an 8-byte little-endian header length, a JSON header mapping each
name to {"dtype", "shape", "data_offsets"} (offsets after the header), then
the raw little-endian data."""
import json
import os
import struct

import numpy as np

SAFETENSORS_DTYPE = {"f32": "F32", "f16": "F16", "bf16": "BF16"}


def random_tensor(rng, name, shape):
    """Seeded weights that keep activations O(1): 1D tensors are norm scales
    near 1 (".weight") or small biases, never exactly 1 or 0 so a reader that
    drops one shows; matrices have standard deviation 1/sqrt(fan_in)."""
    if len(shape) == 1:
        if name.endswith(".weight"):
            return (1.0 + 0.1 * rng.standard_normal(shape)).astype(np.float32)
        return (0.05 * rng.standard_normal(shape)).astype(np.float32)
    fan_in = int(np.prod(shape[1:]))
    return rng.standard_normal(shape, dtype=np.float32) / np.float32(np.sqrt(fan_in))


def to_bytes(a, dtype):
    """float32 array -> little-endian bytes of F32, F16 or BF16 (round to nearest even);
    any other dtype name writes the array's own bytes (for files a reader must refuse)."""
    if dtype not in ("F32", "F16", "BF16"):
        return np.ascontiguousarray(a).tobytes()
    a = np.ascontiguousarray(a, dtype=np.float32)
    if dtype == "F32":
        return a.astype("<f4").tobytes()
    if dtype == "F16":
        return a.astype("<f2").tobytes()
    u = a.view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return u.astype("<u2").tobytes()


def write_safetensors(path, tensors, dtype):
    """tensors: {name: array} or {(name, shape): callable returning the array}, the
    callables run only when their tensor is written (a 1 GB file needs no 1 GB of
    arrays); dtype: one name for all or {name: dtype}. Written under a temporary
    name and renamed, in the order given."""
    items = []
    for key, value in tensors.items():
        name, shape = key if isinstance(key, tuple) else (key, list(np.shape(value)))
        items.append((name, list(shape), value))

    def kind(name):
        return dtype[name] if isinstance(dtype, dict) else dtype

    def size(name, shape, value):
        if kind(name) in ("F32", "F16", "BF16"):
            return int(np.prod(shape)) * (4 if kind(name) == "F32" else 2)
        return np.asarray(value).nbytes

    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape, value in items:
        n = size(name, shape, value)
        header[name] = {"dtype": kind(name), "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for name, shape, value in items:
            a = value() if callable(value) else value
            assert list(np.shape(a)) == shape, name
            f.write(to_bytes(a, kind(name)))
    os.replace(tmp, path)


def read_safetensors(path, dtype=np.float64, keep=None):
    """name -> numpy array of dtype, for F32/F16/BF16/F64 tensors (memory-mapped, so a
    large file is read tensor by tensor); keep(name) -> False skips a tensor."""
    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_len).decode("utf-8"))
    data = np.memmap(path, dtype=np.uint8, mode="r")
    base = 8 + header_len
    out = {}
    for name, info in header.items():
        if name == "__metadata__" or (keep is not None and not keep(name)):
            continue
        begin, end = info["data_offsets"]
        raw = data[base + begin:base + end]
        kind = info["dtype"]
        if kind == "BF16":
            arr = (raw.view("<u2").astype(np.uint32) << 16).view(np.float32)
        elif kind == "F16":
            arr = raw.view("<f2")
        elif kind == "F32":
            arr = raw.view("<f4")
        elif kind == "F64":
            arr = raw.view("<f8")
        else:
            raise ValueError("%s: tensor %s has unsupported dtype %s" % (path, name, kind))
        out[name] = np.array(arr, dtype=dtype).reshape(info["shape"])
    return out
