# Slurm tests: a throwaway cluster on this host (munged, slurmctld and one
# slurmd per node name, started from a temporary directory) runs each
# template of launch/slurm/ through srun --mpi=pmix and compares the job's
# features with the same run under mpirun. The multi-node template runs on
# two node names when this Slurm build can start two slurmd on one host
# (--enable-multiple-slurmd, as Debian's is); otherwise on one node, and the
# test's output says so. The script installs slurm-wlm and munge with apt
# when run as root.
foreach(template one-node multi-node)
  set(name slurm_one_node)
  set(preempt 1) # the one-node test also cancels a running job
  set(nodes 1)
  if(template STREQUAL multi-node)
    set(name slurm_multi_node_template)
    set(preempt 0)
    set(nodes 2)
  endif()
  add_test(NAME ${name} COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/slurm/run_slurm_test.sh)
  set_tests_properties(${name} PROPERTIES LABELS "slurm" TIMEOUT 600
    ENVIRONMENT "${CTXPAR_TEST_ENV};CTXPAR_BIN=$<TARGET_FILE:ctxpar>;CTXPAR_SLURM_TEMPLATE=ctxpar-${template}.sbatch;CTXPAR_SLURM_PREEMPT=${preempt};CTXPAR_SLURM_NODES=${nodes}")
endforeach()
