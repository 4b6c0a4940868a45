"""Float64 reference of STTM's token merge (Hyun et al., ICCV 2025; its code
token_merging_utils/quadtree_{builder,spatial_merger,temporal_merger}.py),
written from that code's steps and in its order, for features [T, H, W, C]:

- sizes: (H, W), then halve (ceil) until a side is 2, coarsest first; the
  pyramid pools the finest features until its width is the root level's;
- pooling per axis: an even side pairs (0,1), (2,3)...; an odd one keeps
  index 0 alone and pairs (1,2), (3,4)...; a parent is the plain mean of its
  children;
- child slots TL, TR, BL, BR of a parent; a slot past an odd border points
  at the frame's (0, 0) child, whose similarity still counts;
- coarse to fine: a candidate whose cosine (F.cosine_similarity, eps 1e-8)
  with all four slots is >= tau_s is emitted with its pooled feature and its
  box; else its valid children become candidates; the finest level emits the
  rest; nodes sorted by t*H*W + y0*W + x0;
- temporal (tau_t > 0): pairs of nodes in frames t, t+1 whose boxes nest
  either way, kept when (x/(|x|+1e-8)) . (y/(|y|+1e-8)) >= tau_t; labels by
  the synchronous min/jump iteration; groups are a label's nodes, feature
  the unweighted mean, box the representative's, patches summed.

Returns (features [N, C], num_patch [N], boxes [N, 5] as t, y0, x0, y1, x1)
and, for ctxpar's records, the depth of each group's representative node
and the last frame among its members."""
import math

import numpy as np


def sizes_of(h, w):
    sizes = [(h, w)]
    while h != 2 and w != 2 and (h > 1 or w > 1):
        h, w = math.ceil(h / 2), math.ceil(w / 2)
        sizes.insert(0, (h, w))
    return sizes


def children(i, fine):
    """Children of index i along an axis whose finer size is `fine`."""
    if fine % 2 == 0:
        return [2 * i, 2 * i + 1]
    return [0] if i == 0 else [2 * i - 1, 2 * i]


def pool(x):
    """[h, w, C] -> the next coarser level (plain means of children)."""
    h, w, c = x.shape
    nh, nw = math.ceil(h / 2), math.ceil(w / 2)
    out = np.zeros((nh, nw, c))
    for i in range(nh):
        for j in range(nw):
            ys, xs = children(i, h), children(j, w)
            out[i, j] = x[np.ix_(ys, xs)].reshape(-1, c).mean(axis=0)
    return out


def cosine(a, b):
    return float(a @ b) / (max(np.linalg.norm(a), 1e-8) * max(np.linalg.norm(b), 1e-8))


def spatial(frame, tau_s, root_level):
    """One frame [H, W, C] -> [(y0, x0, y1, x1, depth, feature)] in (y0, x0) order."""
    H, W, _ = frame.shape
    sizes = sizes_of(H, W)
    root = min(root_level, len(sizes) - 1)
    levels = [frame]
    while levels[0].shape[1] != sizes[root][1]:
        levels.insert(0, pool(levels[0]))
    n = len(levels)
    # boxes per level in finest coordinates: ranges per axis
    yr, xr = [[(i, i + 1) for i in range(H)]], [[(j, j + 1) for j in range(W)]]
    for lv in range(n - 2, -1, -1):
        fine_h, fine_w = levels[lv + 1].shape[:2]
        yr.insert(0, [(yr[0][children(i, fine_h)[0]][0], yr[0][children(i, fine_h)[-1]][1])
                      for i in range(levels[lv].shape[0])])
        xr.insert(0, [(xr[0][children(j, fine_w)[0]][0], xr[0][children(j, fine_w)[-1]][1])
                      for j in range(levels[lv].shape[1])])
    out = []
    cand = [(i, j) for i in range(levels[0].shape[0]) for j in range(levels[0].shape[1])]
    for lv in range(n):
        nxt = []
        for (i, j) in cand:
            p = levels[lv][i, j]
            stop = True
            if lv < n - 1:
                fine_h, fine_w = levels[lv + 1].shape[:2]
                ys, xs = children(i, fine_h), children(j, fine_w)
                for slot in range(4):
                    dy, dx = slot // 2, slot % 2
                    cy, cx = (ys[dy], xs[dx]) if dy < len(ys) and dx < len(xs) else (0, 0)
                    if not cosine(p, levels[lv + 1][cy, cx]) >= tau_s:
                        stop = False
                if not stop:
                    nxt += [(y, x) for y in ys for x in xs]
            if stop:
                out.append((yr[lv][i][0], xr[lv][j][0], yr[lv][i][1], xr[lv][j][1], n - 1 - lv, p))
        cand = nxt
    out.sort(key=lambda node: (node[0], node[1]))
    return out


def representatives(n, pairs):
    rep = np.arange(n)
    while True:
        if len(pairs):
            dst, src = pairs[:, 0], pairs[:, 1]
            low = np.minimum(rep[dst], rep[src])
            np.minimum.at(rep, dst, low)
            np.minimum.at(rep, src, low)
        rep = rep[rep]
        if np.array_equal(rep, rep[rep]):
            return rep


def sttm(features, tau_s, tau_t, root_level=1):
    """features [T, H, W, C] -> (features [N, C], num_patch [N], boxes [N, 5], depth [N],
    t_end [N])."""
    T = features.shape[0]
    nodes = []  # (t, y0, x0, y1, x1, depth, feature) in video order
    for t in range(T):
        nodes += [(t,) + node for node in spatial(np.asarray(features[t], np.float64), tau_s,
                                                  root_level)]
    box = np.array([n[:5] for n in nodes], dtype=np.int64)
    depth = np.array([n[5] for n in nodes], dtype=np.int64)
    feat = np.array([n[6] for n in nodes])
    area = (box[:, 3] - box[:, 1]) * (box[:, 4] - box[:, 2])
    if not tau_t > 0:
        return feat, area, box, depth, box[:, 0].copy()
    unit = feat / (np.linalg.norm(feat, axis=1, keepdims=True) + 1e-8)
    pairs = []
    for t in range(T - 1):  # consecutive frames only, nested boxes either way
        a = np.nonzero(box[:, 0] == t)[0]
        b = np.nonzero(box[:, 0] == t + 1)[0]
        p, q = box[a, None, 1:], box[None, b, 1:]
        a_holds = (p[..., 0] <= q[..., 0]) & (p[..., 1] <= q[..., 1]) & \
                  (p[..., 2] >= q[..., 2]) & (p[..., 3] >= q[..., 3])
        b_holds = (p[..., 0] >= q[..., 0]) & (p[..., 1] >= q[..., 1]) & \
                  (p[..., 2] <= q[..., 2]) & (p[..., 3] <= q[..., 3])
        keep = (a_holds | b_holds) & (unit[a] @ unit[b].T >= tau_t)
        i, j = np.nonzero(keep)
        pairs += list(zip(a[i], b[j]))
    rep = representatives(len(nodes), np.array(pairs, dtype=np.int64).reshape(-1, 2))
    keep = np.unique(rep)
    sums = np.zeros((len(nodes), feat.shape[1]))
    np.add.at(sums, rep, feat)
    counts = np.bincount(rep, minlength=len(nodes))
    patches = np.bincount(rep, weights=area, minlength=len(nodes)).astype(np.int64)
    t_end = np.zeros(len(nodes), dtype=np.int64)
    np.maximum.at(t_end, rep, box[:, 0])
    return sums[keep] / counts[keep, None], patches[keep], box[keep], depth[keep], t_end[keep]
