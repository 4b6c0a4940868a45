"""STTM's merge (--merge sttm) end to end: the tiny Qwen2-VL tower on two
videos (merged grids of 7 x 9, odd both ways, and 6 x 8), its --no-merge
features at one rank, and tests/sttm/reference.py (written from STTM's own
code and checked against it by hand, docs/merge-sttm.md) applied to them.
ctxpar's records must be the reference's groups exactly (same count and
order; each record's representative frame and top-left corner, depth, last
frame, token count) and its features within 1e-5 of max|r|, at 1, 2, 3 and
5 ranks, for:
- thresholds where the spatial and temporal steps both merge (root level 1,
  the paper's), and the spatial step alone (temporal 0 turns it off, as in
  the reference) at root level 0;
- each threshold is taken from the run's own similarities and moved until
  the reference's result does not change within +-2e-4 of it, so rounding
  between ranks cannot flip a decision and the test cannot pass by luck.
Also: records cover every token once (sizes sum to N); position_ids are
each record's (t_start, y, x).
"""
import os
import re
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "qwen2_vl"))
sys.path.insert(0, os.path.join(HERE, "sttm"))
from e2e_common import *  # noqa: E402,F403
import make_folder  # noqa: E402
import reference as sttm  # noqa: E402

sys.path.insert(0, os.path.join(HERE, "vjepa2"))
from video import make_video  # noqa: E402

d = scratch_dir("ctxpar-sttm-")
FRAMES = 12
runs = [0]


def ctxpar(tag, ranks, folder, video, extra):
    runs[0] += 1
    out = os.path.join(d, "%s-%d.h5" % (re.sub(r"\W+", "_", tag), runs[0]))
    if run_case(tag, ranks, ["--model", folder, "--input", video, "--out", out, "--overwrite",
                             "--dtype", "f32"] + list(extra)) is None:
        return None
    with h5py.File(out, "r") as f:
        return {k: f["tokens/" + k][()] for k in f["tokens"]}


def stable(features, tau_s, tau_t, root):
    """The reference's groups at (tau_s, tau_t), if they stay the same within
    +-2e-4 of both thresholds; else None."""
    def groups(a, b):
        _, n, box, depth, t_end = sttm.sttm(features, a, b, root)
        return n.tobytes() + box.tobytes() + depth.tobytes() + t_end.tobytes()
    base = groups(tau_s, tau_t)
    for ds, dt in ((2e-4, 0), (-2e-4, 0), (0, 2e-4), (0, -2e-4)):
        if groups(tau_s + ds, tau_t + dt if tau_t > 0 else tau_t) != base:
            return None
    return base


def pick(features, root, temporal):
    """Thresholds from the features' own similarities that merge some but not
    all tokens and are stable (see stable())."""
    T, H, W, C = features.shape
    x = features.reshape(T, H * W, C)
    u = x / np.linalg.norm(x, axis=-1, keepdims=True)
    spatial = (u[:, :-1] * u[:, 1:]).sum(-1).ravel()  # neighbours in raster order
    across = (u[:-1] * u[1:]).sum(-1).ravel()          # the same token in the next frame
    for qs in (0.5, 0.4, 0.6, 0.3, 0.7, 0.45, 0.55):
        for qt in ((0.5, 0.4, 0.6, 0.3, 0.7) if temporal else (None,)):
            tau_s = float(np.quantile(spatial, qs))
            tau_t = float(np.quantile(across, qt)) if temporal else 0.0
            if stable(features, tau_s, tau_t, root) is None:
                continue
            n = sttm.sttm(features, tau_s, tau_t, root)[0].shape[0]
            if 0.1 * T * H * W < n < 0.9 * T * H * W:
                return tau_s, tau_t
    return None


def main():
    folder = make_folder.write_folder(os.path.join(d, "qwen2_vl"), "qwen2_vl", shards=1)
    for h, w in ((196, 252), (168, 224)):
        video = os.path.join(d, "v%dx%d.h5" % (w, h))
        make_video.write(video, make_video.make_video(FRAMES, h, w, seed=3))
        base = ctxpar("%dx%d no-merge" % (w, h), 1, folder, video, ["--no-merge"])
        if base is None:
            continue
        gh, gw = h // 28, w // 28
        feats = np.asarray(base["features"], np.float64).reshape(FRAMES // 2, gh, gw, -1)
        for root, temporal in ((1, True), (0, False)):
            taus = pick(feats, root, temporal)
            if taus is None:
                fail("%dx%d root %d: no stable thresholds found" % (w, h, root))
                continue
            want_f, want_n, want_box, want_depth, want_t_end = sttm.sttm(feats, taus[0], taus[1],
                                                                         root)
            tag = "%dx%d sttm tau %.4f/%.4f root %d" % (w, h, taus[0], taus[1], root)
            print("case  %s: %d groups of %d tokens" % (tag, len(want_n), feats.shape[0] * gh * gw))
            for r in rank_counts(1, 2, 3, 5):
                got = ctxpar("%s np=%d" % (tag, r), r, folder, video,
                             ["--merge", "sttm", "--merge-spatial", repr(taus[0]),
                              "--merge-temporal", repr(taus[1]), "--merge-root-level", str(root)])
                if got is None:
                    continue
                if len(got["size"]) != len(want_n):
                    fail("%s np=%d: %d records, the reference %d groups"
                         % (tag, r, len(got["size"]), len(want_n)))
                    continue
                checks = (("t_start", want_box[:, 0]), ("y", want_box[:, 1]),
                          ("x", want_box[:, 2]), ("size", want_n), ("level", want_depth),
                          ("t_end", want_t_end))
                bad = [k for k, v in checks if not np.array_equal(got[k], v)]
                if bad:
                    i = int(np.argmax(got[bad[0]] != dict(checks)[bad[0]]))
                    fail("%s np=%d: records differ in %s (first at %d)" % (tag, r, bad, i))
                    continue
                positions = np.stack([got["t_start"], got["y"], got["x"]], axis=1)
                if not np.array_equal(got.get("position_ids"), positions):
                    fail("%s np=%d: position_ids are not (t_start, y, x)" % (tag, r))
                if int(got["size"].sum()) != feats.shape[0] * gh * gw:
                    fail("%s np=%d: sizes sum to %d" % (tag, r, int(got["size"].sum())))
                check_rel("%s np=%d features" % (tag, r), got["features"], want_f, 1e-5, "n,c")
    finish("e2e_sttm")


if __name__ == "__main__":
    main()
