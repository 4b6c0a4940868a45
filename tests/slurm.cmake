# Slurm tests: a throwaway single-node cluster (munged, slurmctld and slurmd
# started from a temporary directory) runs each template of launch/slurm/
# through srun --mpi=pmix; the multi-node one on the single node there is.
# The script installs slurm-wlm and munge with apt when run as root.
foreach(template one-node multi-node)
  set(name slurm_one_node)
  set(preempt 1) # the one-node test also cancels a running job
  if(template STREQUAL multi-node)
    set(name slurm_multi_node_template)
    set(preempt 0)
  endif()
  add_test(NAME ${name} COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/slurm/run_slurm_test.sh)
  set_tests_properties(${name} PROPERTIES LABELS "slurm" TIMEOUT 600
    ENVIRONMENT "${CTXPAR_TEST_ENV};CTXPAR_BIN=$<TARGET_FILE:ctxpar>;CTXPAR_SLURM_TEMPLATE=ctxpar-${template}.sbatch;CTXPAR_SLURM_PREEMPT=${preempt}")
endforeach()
