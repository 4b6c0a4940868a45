#!/usr/bin/env python3
"""Feed a ctxpar features file of a Qwen2-VL / Qwen2.5-VL vision tower to the
language model: its records are the rows of `inputs_embeds` that replace the
video's placeholder tokens, and tokens/position_ids their M-RoPE positions.

    examples/qwen2_vl_inputs.py clip.h5 [--text-before N] [--text-after M]

The script builds, with numpy only, the two tensors a caller passes to
Qwen2VLForConditionalGeneration / Qwen2_5_VLForConditionalGeneration's
language model instead of pixel values:

- inputs_embeds [1, N + V + M, D]: the N prompt tokens' embeddings (zeros
  here; use model.get_input_embeddings()(input_ids)), then the V records'
  features in file order, then the M tokens after the video;
- position_ids [3, 1, N + V + M]: text before the video counts 0..N-1 on all
  three axes; the video's rows are N + (t, y, x) from tokens/position_ids;
  text after it resumes at 1 + the largest video position, as transformers'
  get_rope_index does.

With --no-merge the records are exactly the tower's output tokens, in the
order transformers places them; after merging (fewer rows) the positions are
each group's first token's, so the LLM still sees where and when each
record is. Pass both to model.model.language_model(inputs_embeds=...,
position_ids=...) (or to generate with inputs_embeds and the positions)."""
import argparse
import json

import h5py
import numpy as np


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("features")
    p.add_argument("--text-before", type=int, default=15, help="prompt tokens before the video")
    p.add_argument("--text-after", type=int, default=20, help="tokens after the video")
    a = p.parse_args()
    with h5py.File(a.features, "r") as f:
        if "tokens/position_ids" not in f:
            raise SystemExit("%s has no tokens/position_ids: not a video-LLM tower's output"
                             % a.features)
        video = f["tokens/features"][()]
        positions = f["tokens/position_ids"][()].astype(np.int64)
        family = f.attrs.get("family", b"?")
        config = json.loads(f.attrs["config"])
    family = family.decode() if isinstance(family, bytes) else family
    n, v, m = a.text_before, video.shape[0], a.text_after
    embeds = np.zeros((1, n + v + m, video.shape[1]), np.float32)
    embeds[0, n:n + v] = video
    pos = np.zeros((3, 1, n + v + m), np.int64)
    pos[:, 0, :n] = np.arange(n)
    pos[:, 0, n:n + v] = n + positions.T
    after = pos[:, 0, :n + v].max() + 1
    pos[:, 0, n + v:] = after + np.arange(m)
    print("%s: %s tower, %d records of width %d from %d frames" % (
        a.features, family, v, video.shape[1], config["run"]["frames"]))
    print("inputs_embeds %s, position_ids %s" % (embeds.shape, pos.shape))
    print("video rows %d..%d: t %d..%d, y %d..%d, x %d..%d (after the %d-token prompt)" % (
        n, n + v - 1, pos[0, 0, n:n + v].min(), pos[0, 0, n:n + v].max(),
        pos[1, 0, n:n + v].min(), pos[1, 0, n:n + v].max(), pos[2, 0, n:n + v].min(),
        pos[2, 0, n:n + v].max(), n))
    print("text after the video starts at position %d" % after)


if __name__ == "__main__":
    main()
