"""Rank-count, repeat and chunk-size invariance of the whole run, token merging
included (tiny preset):
1, 2, 3, 4 and 8 ranks give the same latents and tokens within 1e-4; the same
rank count twice gives byte-identical files; --chunk-frames does not change
exact-mode results; chunk mode agrees between 1 and 4 ranks; HDF5 input of the
synthetic video equals the synthetic run."""
import filecmp
import os

from e2e_common import *

COMMON = ["--preset", "tiny", "--frames", 32, "--size", "64x48", "--save-latents", "--seed", 7]


def main():
    d = scratch_dir("ctxpar-inv-")
    out = lambda name: os.path.join(d, name + ".h5")

    n_tokens = 8 * (48 // 4 // 2) * (64 // 4 // 2)
    run(1, *COMMON, "--no-merge", "--out", out("np1_nomerge"))
    every = read(out("np1_nomerge"))
    if every["features"].shape != (n_tokens, 64) or not (every["size"] == 1).all():
        fail("--no-merge: features %s, expected (%d, 64) of size 1" % (every["features"].shape,
                                                                       n_tokens))
    run(1, *COMMON, "--out", out("np1"))
    ref = read(out("np1"))
    # Merging must happen on this video, and cover every token exactly once.
    if not len(ref["size"]) < n_tokens:
        fail("default thresholds merged nothing (%d records)" % len(ref["size"]))
    if int(ref["size"].sum()) != n_tokens:
        fail("record sizes add up to %d, expected %d" % (ref["size"].sum(), n_tokens))
    if ref["latents"].shape != (8, 12, 16, 8):
        fail("latents shape %s" % (ref["latents"].shape,))
    if int(ref["attrs"]["complete"]) != 1:
        fail("complete attribute missing")
    for ranks in rank_counts(2, 3, 4, 8):
        run(ranks, *COMMON, "--out", out("np%d" % ranks))
        got = read(out("np%d" % ranks))
        check_close("latents np%d" % ranks, got["latents"], ref["latents"])
        check_close("features np%d" % ranks, got["features"], ref["features"])
        check_records("records np%d" % ranks, got, ref)

    run(3, *COMMON, "--out", out("np3_again"))
    if not filecmp.cmp(out("np3"), out("np3_again"), shallow=False):
        fail("two runs with 3 ranks are not byte-identical")

    for chunk in (1, 3):
        run(2, *COMMON, "--chunk-frames", chunk, "--out", out("chunk%d" % chunk))
        got = read(out("chunk%d" % chunk))
        check_close("latents --chunk-frames %d" % chunk, got["latents"], ref["latents"])
        check_close("features --chunk-frames %d" % chunk, got["features"], ref["features"])

    run(1, *COMMON, "--norm", "chunk", "--chunk-frames", 8, "--out", out("cm1"))
    several = at_most(4)
    run(several, *COMMON, "--norm", "chunk", "--chunk-frames", 8, "--out", out("cm4"))
    cm1, cm4 = read(out("cm1")), read(out("cm4"))
    check_close("chunk mode latents np%d" % several, cm4["latents"], cm1["latents"])
    check_close("chunk mode features np%d" % several, cm4["features"], cm1["features"])
    if np.allclose(cm1["latents"], ref["latents"], rtol=1e-3, atol=1e-4):
        fail("chunk mode gives the exact-mode result: per-chunk statistics are not applied")

    video = os.path.join(d, "video.h5")
    run(1, "make-video", "--frames", 32, "--size", "64x48", "--seed", 7, "-o", video)
    run(2, "--preset", "tiny", "--frames", 32, "--input", video + ":video", "--save-latents",
        "--seed", 7, "--out", out("hdf5in"))
    got = read(out("hdf5in"))
    check_close("HDF5 input latents", got["latents"], ref["latents"])

    finish("e2e_invariance")


main()
