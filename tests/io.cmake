# Model config, model files and video sources (runtime/model/, runtime/input/).
# Single-process tests still link MPI and call MPI_Init
# themselves; test_source also runs on 3 ranks so a rank with no frames takes
# part in the collective HDF5 open.
ctxpar_add_unit_test(test_config LABELS unit LIBS ctxpar_core)
ctxpar_add_unit_test(test_model LABELS unit LIBS ctxpar_core)
ctxpar_add_unit_test(test_source LABELS unit LIBS ctxpar_core)
ctxpar_add_mpi_test(test_source RANKS 3)
ctxpar_add_mpi_test(test_model_mpi RANKS 1 3)
