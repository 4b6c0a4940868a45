"""V-JEPA 2 encoder end to end: ctxpar reads a transformers folder
(config.json + model.safetensors, VJEPA2Model or VJEPA2ForVideoClassification
layout) and an HDF5 video, and its token features must match the float64
reference in vjepa2/reference.py, which mirrors transformers' modules
(checked itself by vjepa2/selfcheck.py).

Seeded random weights, 16 frames of 64x64 (8 x 8 x 8 = 512 tokens):
- tiny (D 64, 2 heads of 32, 2 layers) in f32 and bf16 at 1, 2, 3 and 8 ranks
  (8 ranks: one tubelet each), hd80 (2 heads of 80: the RoPE tail of 2
  channels) at 1 and 3 ranks. The reference reads the same stored values, so
  every dtype is held to max|a-r| / max|r| <= 1e-4, and runs at different rank
  counts to 2e-5 of each other. With --no-merge every token is its own record
  and its coordinates must be the token's (t, h, w) in order.
- config values read, not assumed: layer_norm_eps 1e-3, mlp_ratio 2.5 and
  frames_per_clip 4 (fewer than the clip's 8 tubelets: RoPE simply extends).
- --layer 1 and --layer 2 against the reference's block outputs (before the
  final LayerNorm, so --layer L differs from the default output).
- the classification layout (vjepa2.* keys, pooler, classifier) loads to the
  same features as the plain layout of the same weights.
- the real ViT-L shapes (2 of its 24 layers, bf16) on 8 frames of 256x256.
- merging on: default thresholds on the textured video, and low thresholds on
  a flat video (every token alike, so it must merge): record sizes sum to N,
  each token is covered once, size = frames * 4^level, and every record's
  feature is the mean of the no-merge features it covers.
Each failure names its case.
"""
import os
import re
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "vjepa2"))
from e2e_common import *  # noqa: E402,F403
import make_folder  # noqa: E402
import reference  # noqa: E402
from video import make_video  # noqa: E402

# The contract is 1e-4; measured errors are 4.5e-7 to 8.1e-7 (f32 and bf16
# weights, 1-8 ranks), so the tests hold 5e-6: a LayerNorm eps off by 10x
# moves the output by 1.3e-5 and tanh instead of erf GELU by 1.6e-4, both
# of which must fail here.
TOL = 5e-6
RANK_TOL = 2e-5
FRAMES, SIZE = 16, 64
d = scratch_dir("ctxpar-vjepa2-")
runs = [0]


def compare(tag, got, ref, tol=TOL):
    return check_rel(tag, got, ref, tol, "n,c", missing_fails=False)


def ctxpar(tag, ranks, folder, video, extra=(), env=None, dtype="f32"):
    """Runs ctxpar (e2e_common.run_features); float32 by default, the
    precision the reference contract above is about."""
    runs[0] += 1
    out = os.path.join(d, "%s-%d.h5" % (re.sub(r"\W+", "_", tag), runs[0]))
    return run_features(tag, ranks, folder, video, out, extra, env, dtype)


def check_file(tag, got, ranks, n, merged, frames=FRAMES, size=SIZE):
    attrs = got["_attrs"]
    fmt = attrs.get("format")
    fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
    if fmt != "ctxpar-features":
        fail("%s: attribute format = %r, expected 'ctxpar-features'" % (tag, fmt))
    for name, value in (("frames", frames), ("height", size), ("width", size), ("ranks", ranks),
                        ("tokens", n), ("complete", 1)):
        if name not in attrs:
            fail("%s: attribute %s missing" % (tag, name))
        elif int(attrs[name]) != value:
            fail("%s: attribute %s = %r, expected %r" % (tag, name, attrs[name], value))
    if got["_dtype"] != np.float32:
        fail("%s: features dtype %s, expected float32" % (tag, got["_dtype"]))
    if not merged and "records" in attrs and int(attrs["records"]) != n:
        fail("%s: attribute records = %r with --no-merge, expected %d" % (tag, attrs["records"], n))


def check_coords(tag, got, config, frames=FRAMES, size=SIZE):
    """--no-merge: one record per token, in token order, at the token's (t, h, w)."""
    t, h, w = reference.token_coords(frames, size, size, config)
    want = {"t_start": t, "t_end": t, "y": h, "x": w, "level": 0 * t, "size": 0 * t + 1}
    bad = []
    for k, v in want.items():
        if k not in got:
            bad.append("%s missing" % k)
        elif got[k].shape != v.shape or not np.array_equal(got[k], v):
            if got[k].shape != v.shape:
                bad.append("%s shape %s, expected %s" % (k, got[k].shape, v.shape))
            else:
                i = int(np.argmax(got[k] != v))
                bad.append("%s[%d] = %d, expected %d" % (k, i, got[k][i], v[i]))
        elif got[k].dtype != np.int32:
            bad.append("%s dtype %s, expected int32" % (k, got[k].dtype))
    if bad:
        fail("%s: token coordinates: %s" % (tag, "; ".join(bad)))


class Case:
    """One folder + one video, with its float64 references computed once."""

    def __init__(self, name, folder, video_path, video):
        self.name, self.folder, self.video_path = name, folder, video_path
        self.config = reference.load(folder)[1]
        self.final, self.blocks = reference.reference(folder, video)
        self.n = self.final.shape[0]
        self.frames, self.size = video.shape[0], video.shape[1]
        self.by_ranks = {}

    def run(self, ranks, layer=None, keep=True):
        tag = "%s np=%d%s" % (self.name, ranks, " --layer %d" % layer if layer else "")
        extra = ["--no-merge"] + (["--layer", layer] if layer else [])
        got = ctxpar(tag, ranks, self.folder, self.video_path, extra)
        if got is None:
            return None
        check_file(tag, got, ranks, self.n, False, self.frames, self.size)
        check_coords(tag, got, self.config, self.frames, self.size)
        want = self.blocks[layer - 1] if layer else self.final
        compare(tag + " vs reference", got.get("features"), want)
        if keep and not layer:
            self.by_ranks[ranks] = got.get("features")
        return got.get("features")

    def check_invariance(self):
        if not self.by_ranks:
            return
        base = min(self.by_ranks)
        for ranks, feats in sorted(self.by_ranks.items()):
            if ranks != base and feats is not None and self.by_ranks[base] is not None:
                compare("%s np=%d vs np=%d" % (self.name, ranks, base), feats,
                        np.asarray(self.by_ranks[base], np.float64), RANK_TOL)
                # Float32 linears run on OpenBLAS, whose row results are not
                # promised to ignore the row count: shown, held to RANK_TOL only.
                print("%s np=%d vs np=%d: %s" % (
                    self.name, ranks, base,
                    "bit-identical" if np.array_equal(feats, self.by_ranks[base])
                    else "not bit-identical"))


def check_merged(tag, got, tokens, config):
    """Records from a merging run against the no-merge features of the same video."""
    g = config["crop_size"] // config["patch_size"]
    tt = tokens.shape[0] // (g * g)
    grid = np.asarray(tokens, np.float64).reshape(tt, g, g, -1)
    need = ("features", "t_start", "t_end", "level", "y", "x", "size")
    missing = [k for k in need if k not in got]
    if missing:
        fail("%s: missing %s" % (tag, missing))
        return None
    size = got["size"].astype(np.int64)
    n = tokens.shape[0]
    if int(size.sum()) != n:
        fail("%s: record sizes sum to %d, expected N = %d" % (tag, int(size.sum()), n))
        return None
    cover = np.zeros((tt, g, g), dtype=np.int64)
    worst, bad = 0.0, []
    for i in range(len(size)):
        t0, t1, lv, y, x = (int(got[k][i]) for k in ("t_start", "t_end", "level", "y", "x"))
        s = 1 << lv
        if size[i] != (t1 - t0 + 1) * s * s:
            bad.append("record %d: size %d, expected (t_end-t_start+1)*4^level = %d"
                       % (i, size[i], (t1 - t0 + 1) * s * s))
            continue
        if not (0 <= t0 <= t1 < tt and 0 <= y and y + s <= g and 0 <= x and x + s <= g):
            bad.append("record %d: block t %d..%d y %d x %d level %d outside the grid"
                       % (i, t0, t1, y, x, lv))
            continue
        cover[t0:t1 + 1, y:y + s, x:x + s] += 1
        mean = grid[t0:t1 + 1, y:y + s, x:x + s].reshape(-1, grid.shape[-1]).mean(axis=0)
        worst = max(worst, float(np.max(np.abs(got["features"][i] - mean))))
    if bad:
        fail("%s: %s" % (tag, "; ".join(bad[:3])))
    if not (cover == 1).all():
        fail("%s: %d tokens covered %s times (every token must be in one record)"
             % (tag, int((cover != 1).sum()), sorted(set(cover.ravel().tolist()) - {1})))
    order = list(zip(got["t_start"].tolist(), got["y"].tolist(), got["x"].tolist()))
    if order != sorted(order):
        fail("%s: records not in (t_start, y, x) order" % tag)
    e = worst / float(np.max(np.abs(grid)))
    line = "%s: %d records for %d tokens (largest %d), record features vs means of the " \
           "no-merge tokens: rel err %.3g" % (tag, len(size), n, int(size.max()), e)
    if e <= TOL:
        print("ok    " + line)
    else:
        fail(line + " > %g" % TOL)
    return len(size)


def cpu_flags():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    return set()


def check_bf16(folders, v16, video):
    """--dtype bf16 (docs/bf16.md): bf16 inputs to the transformer's linears,
    float32 elsewhere. The bound is the issue's: at most 2x the error of
    PyTorch's own bf16 run of the same model (reference.Encoder in
    torch.bfloat16, every op in bf16) against the float64 reference, at 1, 3
    and 5 ranks, bit-identical across those rank counts and repeats; the
    GEMM's AVX-512 ISA caps (CTXPAR_ISA=avx512, avx2) hold the bound too."""
    import torch
    folder = folders["bf16"]
    weights, config = reference.load(folder)
    with torch.no_grad():
        ref = reference.Encoder(weights, config, torch.float64)(reference.pixel_values(video))[0]
        mine = reference.Encoder(weights, config, torch.bfloat16)(
            reference.pixel_values(video, torch.bfloat16))[0]
    ref = ref.numpy()
    scale = np.abs(ref).max()
    torch_err = np.abs(mine.double().numpy() - ref).max() / scale
    print("PyTorch %s bf16 vs float64: max|a-r|/max|r| = %.3g" % (torch.__version__, torch_err))
    # the tighter of this torch's error and the current PyTorch's on these
    # same inputs (2.15: 1.78e-2; docs/bf16.md)
    torch_err = min(torch_err, 1.78e-2)
    by_ranks = {}
    for ranks in rank_counts(1, 3, 5):
        tag = "tiny bf16 --dtype bf16 np=%d" % ranks
        got = ctxpar(tag, ranks, folder, v16, ["--no-merge"], dtype="bf16")
        if got is None:
            continue
        if got["_run"].get("dtype") != "bf16":
            fail("%s: run config dtype %r, expected 'bf16'" % (tag, got["_run"].get("dtype")))
        feats = np.asarray(got["features"], np.float64)
        err = np.abs(feats - ref).max() / scale
        print("%s: max|a-r|/max|r| = %.3g (bound 2 x %.3g)" % (tag, err, torch_err))
        if not err <= 2 * torch_err:
            fail("%s: error %.3g above 2x PyTorch bf16's %.3g" % (tag, err, torch_err))
        if err < 1e-5:  # float32 runs are at 1e-6: bf16 rounding must show
            fail("%s: error %.3g is float32's; the linears did not run in bf16" % (tag, err))
        by_ranks[ranks] = feats
    # The ring merges key granules along one fixed tree and every bf16 kernel
    # computes a row alone, so the rank count must not change a bit.
    for ranks, feats in by_ranks.items():
        if ranks != 1 and 1 in by_ranks and not np.array_equal(feats, by_ranks[1]):
            fail("tiny bf16 --dtype bf16: %d ranks differ from 1 rank by %.3g of max|r|"
                 % (ranks, np.abs(feats - by_ranks[1]).max() / scale))
    if 1 in by_ranks:
        again = ctxpar("tiny bf16 --dtype bf16 np=1 again", 1, folder, v16, ["--no-merge"],
                       dtype="bf16")
        if again is not None and not np.array_equal(np.asarray(again["features"], np.float64),
                                                    by_ranks[1]):
            fail("tiny bf16 --dtype bf16: a repeat at 1 rank is not bit-identical")
        # Capped below AVX512-BF16 the GEMM widens bf16 on AVX-512 (bit-identical,
        # test_gemm_bf16) and the attention is float32's; below AVX-512 every
        # kernel changes. Each run still holds the bound.
        flags = cpu_flags()
        for isa, needs in (("avx512", {"avx512f", "avx512dq", "avx512bw"}), ("avx2", {"avx2", "fma"})):
            if not needs <= flags:
                print("skipped: no %s (CTXPAR_ISA=%s case)" % (isa.upper(), isa))
                continue
            tag = "tiny bf16 --dtype bf16 CTXPAR_ISA=%s np=1" % isa
            capped = ctxpar(tag, 1, folder, v16, ["--no-merge"], env={"CTXPAR_ISA": isa},
                            dtype="bf16")
            if capped is not None:
                err = np.abs(np.asarray(capped["features"], np.float64) - ref).max() / scale
                print("%s: max|a-r|/max|r| = %.3g" % (tag, err))
                if not err <= 2 * torch_err:
                    fail("%s: error %.3g above 2x %.3g" % (tag, err, torch_err))
    # The flash attention on the bf16 GEMM (what AMX machines run), forced on
    # whatever path the GEMM takes here: the bound, and rank counts invisible.
    gemm = {}
    for ranks in rank_counts(1, 3):
        tag = "tiny bf16 --dtype bf16 CTXPAR_ATTENTION_BF16=gemm np=%d" % ranks
        got = ctxpar(tag, ranks, folder, v16, ["--no-merge"],
                     env={"CTXPAR_ATTENTION_BF16": "gemm"}, dtype="bf16")
        if got is None:
            continue
        feats = np.asarray(got["features"], np.float64)
        err = np.abs(feats - ref).max() / scale
        print("%s: max|a-r|/max|r| = %.3g (bound 2 x %.3g)" % (tag, err, torch_err))
        if not 1e-5 < err <= 2 * torch_err:
            fail("%s: error %.3g outside (1e-5, 2 x %.3g]" % (tag, err, torch_err))
        gemm[ranks] = feats
    if len(gemm) == 2 and not np.array_equal(gemm[1], gemm[3]):
        fail("CTXPAR_ATTENTION_BF16=gemm: 3 ranks differ from 1 rank by %.3g of max|r|"
             % (np.abs(gemm[3] - gemm[1]).max() / scale))
    # --dry-run counts the packed copy, once per node.
    p = run(2, "--model", folder, "--input", v16, "--dry-run", "--dtype", "bf16", check=False)
    if p.returncode != 0 or "MiB of packed bf16 weights" not in p.stdout:
        fail("--dry-run --dtype bf16: exit %d, no packed-weights line in %r"
             % (p.returncode, p.stdout[-600:]))
    # --dtype auto: bf16 exactly where the CPU has a bf16 unit and the weights are bf16.
    has_bf16 = bool({"avx512_bf16", "amx_bf16"} & cpu_flags())
    for name, want in (("bf16", "bf16" if has_bf16 else "f32"), ("f32", "f32")):
        tag = "tiny %s weights, --dtype auto np=2" % name
        got = ctxpar(tag, 2, folders[name], v16, ["--no-merge"], dtype=None)
        if got is not None and got["_run"].get("dtype") != want:
            fail("%s: ran %r, expected %r on this CPU" % (tag, got["_run"].get("dtype"), want))
    # CTXPAR_ISA names a level this CPU lacks, or none at all: one line, exit 2.
    for value, said in (("amx", "this CPU has no AMX-BF16"), ("sse9", "unknown")):
        if value == "amx" and "amx_bf16" in cpu_flags():
            continue
        p = run(1, "--model", folder, "--input", v16, "--out", os.path.join(d, "isa.h5"),
                "--overwrite", check=False, env={"CTXPAR_ISA": value})
        if p.returncode != 2 or said not in p.stderr:
            fail("CTXPAR_ISA=%s: exit %d, stderr %r; expected exit 2 naming %r"
                 % (value, p.returncode, p.stderr[-300:], said))


def main():
    video = make_video.make_video(FRAMES, SIZE, SIZE, seed=7)
    v16 = os.path.join(d, "v16.h5")
    make_video.write(v16, video)
    flat = np.full_like(video, 0)
    flat[...] = np.array([90, 140, 200], dtype=np.uint8)
    vflat = os.path.join(d, "flat.h5")
    make_video.write(vflat, flat)

    folders = {
        "f32": make_folder.write_folder(os.path.join(d, "f32"), "tiny", "f32", seed=1),
        "bf16": make_folder.write_folder(os.path.join(d, "bf16"), "tiny", "bf16", seed=2),
        "hd80": make_folder.write_folder(os.path.join(d, "hd80"), "hd80", "f32", seed=3),
        "cls": make_folder.write_folder(os.path.join(d, "cls"), "tiny", "f32", seed=1,
                                        classification=True),
        # Config values that must be read, not assumed: eps 1e-3 instead of 1e-6 moves
        # the output by 1.4e-3 of max|r|; F = int(64 * 2.5) = 160; 16 frames > frames_per_clip.
        "keys": make_folder.write_folder(os.path.join(d, "keys"), "tiny", "f32", seed=4,
                                         layer_norm_eps=1e-3, mlp_ratio=2.5, frames_per_clip=4),
    }

    f32 = Case("tiny f32", folders["f32"], v16, video)
    for ranks in rank_counts(1, 2, 3, 8):
        f32.run(ranks)
    f32.check_invariance()

    bf16 = Case("tiny bf16", folders["bf16"], v16, video)
    for ranks in rank_counts(1, 2, 3, 8):
        bf16.run(ranks)
    bf16.check_invariance()

    hd80 = Case("hd80 f32", folders["hd80"], v16, video)
    for ranks in (1, 3):
        hd80.run(ranks)
    hd80.check_invariance()

    Case("tiny eps 1e-3 mlp_ratio 2.5 fpc 4", folders["keys"], v16, video).run(2)

    f32.run(2, layer=1)
    f32.run(3, layer=2)

    cls = Case("tiny f32 classification layout", folders["cls"], v16, video)
    got = cls.run(2)
    plain = f32.by_ranks.get(2)
    if got is not None and plain is not None:
        compare("classification layout np=2 vs plain layout np=2", got,
                np.asarray(plain, np.float64), 1e-6)

    # Merging on: default thresholds on the textured video.
    base = f32.by_ranks.get(1)
    got = ctxpar("tiny f32 merged (defaults) np=2", 2, folders["f32"], v16)
    if got is not None:
        check_file("tiny f32 merged (defaults) np=2", got, 2, f32.n, merged=True)
        if base is not None:
            check_merged("tiny f32 merged (defaults) np=2", got, base, f32.config)

    # A flat video: every token's feature is alike, so low thresholds must merge.
    flat_case = Case("tiny f32 flat", folders["f32"], vflat, flat)
    tokens = flat_case.run(1, keep=False)
    got = ctxpar("tiny f32 flat merged np=3", 3, folders["f32"], vflat,
                 ["--merge-spatial", "0.9", "--merge-temporal", "0.9"])
    if got is not None and tokens is not None:
        check_file("tiny f32 flat merged np=3", got, 3, flat_case.n, merged=True)
        records = check_merged("tiny f32 flat merged np=3", got, tokens, flat_case.config)
        if records is not None and records >= flat_case.n:
            fail("tiny f32 flat merged np=3: %d records for %d identical tokens (nothing merged)"
                 % (records, flat_case.n))

    # The real ViT-L shapes (D 1024, 16 heads of 64: RoPE blocks of 20 and a 4-channel
    # tail; patch 16, F 4096) with 2 of its 24 layers, 8 frames of 256x256.
    vitl = make_folder.write_folder(os.path.join(d, "vitl2"), "vitl", "bf16", seed=6,
                                    num_hidden_layers=2)
    video256 = make_video.make_video(8, 256, 256, seed=9)
    v256 = os.path.join(d, "v256.h5")
    make_video.write(v256, video256)
    Case("ViT-L shapes, 2 layers, bf16", vitl, v256, video256).run(2)

    check_bf16(folders, v16, video)

    finish("e2e_vjepa2")


if __name__ == "__main__":
    main()
