# CPU kernel unit tests (VAE side): each compares against a naive
# double-accumulation reference written in the test.
ctxpar_add_unit_test(test_conv3d LABELS unit)
ctxpar_add_unit_test(test_group_norm LABELS unit)
ctxpar_add_unit_test(test_vae_ops LABELS unit)
# The bf16 GEMM, once per path; a path this CPU lacks is skipped (exit 77).
foreach(path portable avx2 avx512 avx512bf16 amx)
  ctxpar_add_unit_test_args(test_gemm_bf16 test_gemm_bf16_${path} ${path} LABELS unit)
endforeach()
# The AMX micro-kernel's tiling on a C model of the tiles, on every machine.
ctxpar_add_unit_test(test_gemm_bf16_amx_model LABELS unit)
# The VAE convs on the bf16 GEMM against float64.
ctxpar_add_unit_test(test_conv_bf16 LABELS unit)
