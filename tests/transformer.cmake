# Transformer CPU kernels: tiled attention + log-sum-exp merge (every SIMD
# path the CPU supports), LayerNorm, GELU, RoPE-3D; each against a naive
# double reference.
ctxpar_add_unit_test(test_attention LABELS unit)
ctxpar_add_unit_test(test_transformer_ops LABELS unit)
# The bf16 attention, once per path: gemm (the flash attention on the bf16
# GEMM, what AMX runs) everywhere; avx512bf16 skipped (77) without it.
foreach(path gemm avx512bf16)
  ctxpar_add_unit_test_args(test_attention_bf16 test_attention_bf16_${path} ${path} LABELS unit)
endforeach()
