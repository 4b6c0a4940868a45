# Qwen2-VL / Qwen2.5-VL vision towers: a float64 reference checked against a
# second formulation (raster order, masked attention), then the ctxpar
# program on released folder layouts (shards + index or one file, f32/bf16,
# 1-5 ranks, --dtype bf16, merging, --dry-run) and on broken folders, videos
# and options.
ctxpar_add_family_tests(qwen2_vl TIMEOUT 600)
