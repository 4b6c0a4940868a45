"""Bad CogVideoX input: each case builds a broken diffusers folder or video,
runs ctxpar on 2 ranks and expects a nonzero exit within a time bound, an
error line that names the problem (checked loosely: a key substring, not the
wording), and nothing at the output path (nor the partial file beside it).
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "cogvideox"))
from e2e_common import *  # noqa: E402,F403
import make_folder  # noqa: E402
from family_badinput import BadFolders  # noqa: E402
import make_video  # noqa: E402

bad = BadFolders("ctxpar-cogvideox-bad-", "diffusion_pytorch_model.safetensors", make_folder, ())
d, OUT, WEIGHTS = bad.dir, bad.out, bad.weights
variant, case = bad.variant, bad.case
edit_config, edit_tensors, edit_header = bad.edit_config, bad.edit_tensors, bad.edit_header
read_raw, write_raw = bad.read_raw, bad.write_raw


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
    # A precision ctxpar has no kernels for: refused, not ignored.
    case("--dtype fp8", run_with(good) + ["--dtype", "fp8"], ["--dtype", "fp8"])

    finish("e2e_cogvideox_badinput")


if __name__ == "__main__":
    main()
