# Transformer CPU kernels: tiled attention + log-sum-exp merge (every SIMD
# path the CPU supports), LayerNorm, GELU, RoPE-3D; each against a naive
# double reference.
ctxpar_add_unit_test(test_attention LABELS unit)
ctxpar_add_unit_test(test_transformer_ops LABELS unit)
ctxpar_add_unit_test(test_attention_bf16 LABELS unit)
