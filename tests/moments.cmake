# The cross-rank GroupNorm moment combine (ctxpar_comm_combine_moments over
# ctxpar_moments_combine) against a float64 two-pass reference of the union
# of every rank's values, at rank counts that give empty, single and uneven
# shares.
ctxpar_add_mpi_test(test_moments_mpi RANKS 1 2 3 5 8)
