"""tests/sttm/reference.py against STTM's own code, run unchanged: identical
groups (boxes, patch counts, order) and features within 1e-5 of max|r| on
structured inputs (piecewise-constant fields plus noise, shifted frames,
grids odd and even both ways: 7x7, 14x15, 9x16, 20x36, 6x10, 3x5, 16x16),
thresholds with both steps on, temporal off, root levels 0 and 1.

STTM's code is not part of ctxpar (its repository has no license) and needs
torch >= 2.0 (it indexes with int32 tensors), so this check runs only where
both are at hand: CTXPAR_STTM_DIR names a checkout of github HYUNJS/STTM
and the python running this has torch >= 2.0 and einops (the peer venv of
bench/make_peer_venv.sh plus `pip install einops`). Elsewhere it says why and
exits 77 (skipped)."""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import reference  # noqa: E402


def skip(why):
    print("skipped: %s" % why)
    sys.exit(77)


def structured(T, H, W, C, seed):
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((4, C))
    labels = rng.integers(0, 4, size=(H, W))
    labels[:H // 2, :W // 2] = 0
    out = np.zeros((T, H, W, C))
    for t in range(T):
        lab = labels if t % 3 != 2 else np.roll(labels, 1, axis=1)
        out[t] = base[lab] + 0.05 * rng.standard_normal((H, W, C))
    return out.astype(np.float32)


def main():
    root = os.environ.get("CTXPAR_STTM_DIR", "")
    if not root or not os.path.isdir(os.path.join(root, "token_merging_utils")):
        skip("no STTM checkout (set CTXPAR_STTM_DIR to a clone of github HYUNJS/STTM)")
    try:
        import torch
    except ImportError:
        skip("no torch")
    if int(torch.__version__.split(".")[0]) < 2:
        skip("torch %s: STTM's code needs torch >= 2.0" % torch.__version__)
    sys.path.insert(0, root)
    try:
        from token_merging_utils.quadtree_builder import quadtree_build_video
    except ImportError as e:
        skip("STTM's code does not import here: %s" % e)
    failures, cases = 0, 0
    for (T, H, W) in [(3, 7, 7), (4, 14, 15), (3, 9, 16), (2, 20, 36), (1, 6, 10), (5, 3, 5),
                      (4, 16, 16)]:
        for tau_s, tau_t in [(0.8, 0.6), (0.9, 0.7), (0.5, 0.5), (0.95, -1.0)]:
            for root_level in (0, 1):
                f = structured(T, H, W, 24, T * 100 + H)
                x = torch.from_numpy(f).permute(0, 3, 1, 2).contiguous()
                want_f, want_n, want_box = quadtree_build_video(x, tau_s, tau_t, root_level)
                got_f, got_n, got_box, _, _ = reference.sttm(f.astype(np.float64), tau_s, tau_t,
                                                             root_level)
                cases += 1
                same = (want_box.shape[0] == got_box.shape[0] and
                        np.array_equal(want_box.numpy(), got_box) and
                        np.array_equal(want_n.numpy(), got_n))
                err = float(np.abs(want_f.numpy() - got_f).max() / np.abs(got_f).max()) \
                    if same else float("inf")
                if not same or err > 1e-5:
                    failures += 1
                    print("FAIL: T%d %dx%d tau %.2f/%.2f root %d: groups %s, features %.3g"
                          % (T, H, W, tau_s, tau_t, root_level,
                             "same" if same else "differ", err))
    print("check_reference: %d cases, %s" % (cases, "ok" if not failures else
                                               "%d failure(s)" % failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
