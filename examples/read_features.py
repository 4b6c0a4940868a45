#!/usr/bin/env python3
"""Read a ctxpar features file with h5py: the records, what each covers, and
the run's configuration. Usage: examples/read_features.py ctxpar_features.h5"""
import json
import sys

import h5py
import numpy as np

path = sys.argv[1] if len(sys.argv) > 1 else "ctxpar_features.h5"
with h5py.File(path, "r") as f:
    if f.attrs.get("format") not in ("ctxpar-features", b"ctxpar-features"):
        sys.exit("%s is not a ctxpar features file" % path)
    if int(f.attrs.get("complete", 0)) != 1:
        sys.exit("%s is incomplete" % path)
    config = json.loads(f.attrs["config"])
    feats = f["tokens/features"][()]
    rec = {k: f["tokens/" + k][()] for k in ("t_start", "t_end", "level", "y", "x", "size")}
    latents = f["latents"][()] if "latents" in f else None

p = config["model"]["transformer"]["patch"]
print("%s: %d records of dim %d from %d frames of %dx%d" % (
    path, feats.shape[0], feats.shape[1], config["run"]["frames"], config["run"]["width"],
    config["run"]["height"]))
print("tokens covered: %d, latent frames %d..%d" % (rec["size"].sum(), rec["t_start"].min(),
                                                    rec["t_end"].max()))
i = 0
print("record %d: latent frames %d-%d, level %d, token grid (y=%d, x=%d), covers %d tokens, "
      "|feature| = %.3f" % (i, rec["t_start"][i], rec["t_end"][i], rec["level"][i], rec["y"][i],
                            rec["x"][i], rec["size"][i], np.linalg.norm(feats[i])))
if latents is not None:
    print("latents:", latents.shape)
