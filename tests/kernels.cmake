# CPU kernel unit tests (VAE side): each compares against a naive
# double-accumulation reference written in the test.
ctxpar_add_unit_test(test_conv3d LABELS unit)
ctxpar_add_unit_test(test_group_norm LABELS unit)
ctxpar_add_unit_test(test_vae_ops LABELS unit)
