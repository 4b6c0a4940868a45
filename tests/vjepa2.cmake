# V-JEPA 2 video encoder: a float64 reference checked against a second
# formulation (and against standard RoPE, which must differ), then the ctxpar
# program on transformers folders (f32/bf16, plain and classification layouts,
# 1-8 ranks, --layer, merging) and on broken folders, videos and options.
ctxpar_add_family_tests(vjepa2 TIMEOUT 600)
