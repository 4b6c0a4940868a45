"""Bad CogVideoX input: each case builds a broken diffusers folder or video,
runs ctxpar on 2 ranks and expects a nonzero exit within a time bound, an
error line that names the problem (checked loosely: a key substring, not the
wording), and nothing at the output path (nor the partial file beside it).
"""
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "cogvideox"))
from e2e_common import *  # noqa: E402,F403
import make_folder  # noqa: E402
import make_video  # noqa: E402

d = tempfile.mkdtemp(prefix="ctxpar-cogvideox-bad-")
OUT = os.path.join(d, "out.h5")
WEIGHTS = "diffusion_pytorch_model.safetensors"


def read_raw(folder):
    with open(os.path.join(folder, WEIGHTS), "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n]), data[8 + n:]


def write_raw(folder, header, body, header_bytes=None, length=None):
    text = header_bytes if header_bytes is not None else json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(os.path.join(folder, WEIGHTS), "wb") as f:
        f.write(struct.pack("<Q", len(text) if length is None else length))
        f.write(text)
        f.write(body)


def variant(good, name, edit):
    """A copy of the good folder, changed by edit(folder)."""
    folder = os.path.join(d, name)
    shutil.copytree(good, folder)
    edit(folder)
    return folder


def edit_header(fn):
    def edit(folder):
        header, body = read_raw(folder)
        fn(header)
        write_raw(folder, header, body)
    return edit


def edit_config(fn):
    def edit(folder):
        path = os.path.join(folder, "config.json")
        with open(path) as f:
            config = json.load(f)
        fn(config)
        with open(path, "w") as f:
            json.dump(config, f)
    return edit


def edit_tensors(fn):
    def edit(folder):
        config = json.load(open(os.path.join(folder, "config.json")))
        tensors = make_folder.make_tensors(config, seed=1)
        fn(tensors)
        make_folder.write_safetensors(os.path.join(folder, WEIGHTS), tensors, "F32")
    return edit


def shape_text(msg):
    """The message with shapes spelled alike: [8, 3, 3], (8,3,3), 8x3x3 -> 8,3,3."""
    return re.sub(r"(?<=\d)x(?=\d)", ",", re.sub(r"[\s\[\]()]", "", msg))


def case(name, args, expect, shapes=()):
    """expect: substrings that must all appear in one error line (case-insensitive);
    shapes: shapes (lists) that must appear in that line, however spelled."""
    for p in (OUT, OUT + ".ctxpar-partial"):
        if os.path.exists(p):
            os.remove(p)
    cmd = [MPIEXEC, "--oversubscribe", "-np", "2", CTXPAR] + [str(a) for a in args]
    cmd += ["--out", OUT, "--quiet", "--threads", "1"]
    start = time.time()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=ENV)
    except subprocess.TimeoutExpired:
        fail("%s: hung (no exit within 120 s)" % name)
        return
    took = time.time() - start
    before = len(failures)
    errors = [l for l in p.stderr.splitlines() if l.startswith("ctxpar")]
    if p.returncode == 0:
        fail("%s: exit status 0" % name)

    def matches(line):
        low = line.lower()
        if not all(e.lower() in low for e in expect):
            return False
        spelled = shape_text(line)
        return all(",".join(str(n) for n in s) in spelled for s in shapes)

    if not any(matches(l) for l in errors):
        want = list(expect) + ["shape %s" % list(s) for s in shapes]
        fail("%s: no error line naming %s in: %s" % (name, want,
                                                       " | ".join(errors) or p.stderr[-800:]))
    left = [q for q in (OUT, OUT + ".ctxpar-partial") if os.path.exists(q)]
    if left:
        fail("%s: left behind %s" % (name, left))
    line = next((l for l in errors if matches(l)), errors[0] if errors else "")
    print("%-4s %-28s exit %d in %.1fs: %s" % ("ok" if len(failures) == before else "FAIL", name,
                                               p.returncode, took, line.strip()[:200]))


def main():
    good = make_folder.write_folder(os.path.join(d, "good"), "tiny", "f32", seed=1)
    video = os.path.join(d, "v17.h5")
    make_video.write(video, make_video.make_video(17, 32, 48, seed=1))
    v16 = os.path.join(d, "v16.h5")
    make_video.write(v16, make_video.make_video(16, 32, 48, seed=1))
    v36 = os.path.join(d, "v36.h5")
    make_video.write(v36, make_video.make_video(17, 36, 36, seed=1))
    size = os.path.getsize(os.path.join(good, WEIGHTS))

    def run_with(folder, vid=video):
        return ["--model", folder, "--input", vid]

    # The good folder must work, or every case below would pass for the wrong reason.
    try:
        run(2, *(run_with(good) + ["--out", os.path.join(d, "good.h5")]))
        print("ok  good folder runs")
    except Exception as e:  # noqa: BLE001
        fail("the unbroken folder fails: %s" % str(e)[-1500:])

    f = variant(good, "no_config", lambda p: os.remove(os.path.join(p, "config.json")))
    case("no config.json", run_with(f), ["config.json"])

    f = variant(good, "class", edit_config(lambda c: c.update(_class_name="AutoencoderKLMochi")))
    case("unknown _class_name", run_with(f), ["AutoencoderKLMochi"])

    def truncate(p):
        with open(os.path.join(p, WEIGHTS), "r+b") as fh:
            fh.truncate(size * 6 // 10)
    f = variant(good, "truncated", truncate)
    case("safetensors truncated", run_with(f), [WEIGHTS])

    def absurd(p):
        header, body = read_raw(p)
        write_raw(p, header, body, length=1 << 62)
    f = variant(good, "absurd_header", absurd)
    case("absurd header length", run_with(f), ["header"])

    def not_json(p):
        header, body = read_raw(p)
        n = len(json.dumps(header).encode())
        write_raw(p, header, body, header_bytes=(b"this is not json {" * n)[:n])
    f = variant(good, "not_json", not_json)
    case("header not JSON", run_with(f), ["header"])

    def i32(h):
        h["encoder.conv_in.conv.bias"]["dtype"] = "I32"
    f = variant(good, "i32", edit_header(i32))
    case("unsupported dtype I32", run_with(f), ["I32"])

    def overlap(h):  # same byte size, moved onto the previous tensor's bytes
        a = h["encoder.conv_in.conv.bias"]["data_offsets"]
        b = h["encoder.norm_out.bias"]
        length = b["data_offsets"][1] - b["data_offsets"][0]
        b["data_offsets"] = [a[0] + 4, a[0] + 4 + length]
    f = variant(good, "overlap", edit_header(overlap))
    case("overlapping offsets", run_with(f), ["offset"])

    def out_of_file(h):
        b = h["encoder.norm_out.bias"]["data_offsets"]
        h["encoder.norm_out.bias"]["data_offsets"] = [b[0] + size, b[1] + size]
    f = variant(good, "out_of_file", edit_header(out_of_file))
    case("offsets past the file", run_with(f), [WEIGHTS])

    missing = "encoder.down_blocks.1.resnets.0.conv_shortcut.weight"
    f = variant(good, "missing", edit_tensors(lambda t: t.pop(missing)))
    case("tensor missing", run_with(f), [missing])

    extra = "encoder.down_blocks.0.resnets.0.temb_proj.weight"
    f = variant(good, "extra", edit_tensors(lambda t: t.update({extra: np.ones((8, 4), np.float32)})))
    case("unexpected encoder tensor", run_with(f), [extra])

    wrong = "encoder.conv_in.conv.weight"
    f = variant(good, "shape", edit_tensors(
        lambda t: t.update({wrong: np.ones((8, 3, 1, 3, 3), np.float32)})))
    case("wrong shape", run_with(f), [wrong], shapes=([8, 3, 3, 3, 3], [8, 3, 1, 3, 3]))

    case("16 frames", run_with(good, v16), ["13", "17"])
    case("36x36 frames", run_with(good, v36), ["36"])
    case("model folder missing", run_with(os.path.join(d, "nowhere")), ["nowhere"])
    case("unknown --norm", run_with(good) + ["--norm", "bogus"], ["--norm"])

    finish("e2e_cogvideox_badinput")


if __name__ == "__main__":
    main()
