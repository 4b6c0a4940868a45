ctxpar_add_mpi_test(test_ring_attention RANKS 1 2 3 4)
