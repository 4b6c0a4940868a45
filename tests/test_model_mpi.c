/* Model load across ranks: rank 0 reads, everyone receives the same blob
 * (checked against a locally regenerated seeded model and by checksum), and a
 * bad file fails every rank with rank 0's status and message, nobody left
 * waiting in a broadcast. */
#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm.h"
#include "runtime/formats/hdf5_io.h"
#include "runtime/core/memory.h"
#include "runtime/families/registry.h"
#include "runtime/model/model.h"
#include "runtime/model/model_file.h"
#include "test_mpi_util.h"
#include "test_util.h"

static int rank = 0;

static uint64_t checksum(const float *data, int64_t n) {
    const unsigned char *bytes = (const unsigned char *)data;
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (int64_t i = 0; i < n * (int64_t)sizeof(float); i++) h = (h ^ bytes[i]) * 1099511628211ull;
    return h;
}

static void expect_same_failure(ctxpar_comm_t comm, const char *what, const char *path,
                                const char *needle) {
    ctxpar_error_clear();
    ctxpar_model *m = NULL;
    ctxpar_status status = ctxpar_family_load(comm, path, &m);
    const char *detail = ctxpar_error_detail();
    ASSERT_TRUE(status != CTXPAR_OK);
    ASSERT_TRUE(m == NULL);
    if (!strstr(detail, path) || !strstr(detail, needle)) {
        fprintf(stderr, "rank %d: %s: message '%s' lacks '%s'\n", rank, what, detail, needle);
        test_failures++;
    }
    int64_t codes[2] = {status, -(int64_t)status};
    ctxpar_comm_allreduce_max_i64(comm, codes, 2);
    ASSERT_EQ_INT(codes[0], -codes[1]);
    if (rank == 0) printf("  %s -> %s\n", what, detail);
    ctxpar_error_clear();
}

int main(int argc, char **argv) {
    char tmpdir[64];
    ctxpar_comm_t comm = test_mpi_start(&argc, &argv, "ctxpar_test_model_mpi", tmpdir,
                                        sizeof tmpdir);
    rank = ctxpar_comm_rank(comm);
    char path[128], bad[128];
    snprintf(path, sizeof path, "%s/model.h5", tmpdir);

    ctxpar_model_config config;
    ctxpar_config_preset("tiny", &config);
    config.merge.levels = 3;
    ctxpar_model *seeded = NULL;
    ASSERT_EQ_INT(ctxpar_model_create_seeded(&config, 2024, &seeded), CTXPAR_OK);
    ctxpar_status status = rank == 0 ? ctxpar_model_save(seeded, path) : CTXPAR_OK;
    ASSERT_EQ_INT(ctxpar_comm_agree(comm, status), CTXPAR_OK);

    ctxpar_mem_stats before, after;
    ctxpar_mem_get_stats(&before);
    ctxpar_model *m = NULL;
    status = ctxpar_family_load(comm, path, &m);
    if (status != CTXPAR_OK) fprintf(stderr, "rank %d: load: %s\n", rank, ctxpar_error_detail());
    ASSERT_EQ_INT(status, CTXPAR_OK);
    if (m) {
        ctxpar_mem_get_stats(&after);
        const int64_t model_bytes =
            after.stage_current[CTXPAR_MEM_MODEL] - before.stage_current[CTXPAR_MEM_MODEL];
        /* Weights live once per node, in the node-shared buffer: no rank
         * allocates a copy of its own. */
        ASSERT_EQ_INT(model_bytes, 0);
        ASSERT_TRUE(m->node_buffer != NULL);
        ASSERT_EQ_INT(m->config.merge.levels, 3);
        ASSERT_EQ_INT(m->blob_floats, seeded->blob_floats);
        ASSERT_TRUE(memcmp(m->blob, seeded->blob, sizeof(float) * (size_t)m->blob_floats) == 0);
        uint64_t sum = checksum(m->blob, m->blob_floats);
        uint64_t root_sum = sum;
        MPI_Bcast(&root_sum, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
        ASSERT_TRUE(sum == root_sum);
        ASSERT_TRUE(ctxpar_model_tensor(m, "blocks/1/mlp/fc2/bias") != NULL);
        ctxpar_model_free(m);
    }

    expect_same_failure(comm, "missing file", "/nonexistent/ctxpar/model.h5", "no such file");
    if (rank == 0) {
        /* a wrong shape only rank 0 can see */
        snprintf(bad, sizeof bad, "%s/shape.h5", tmpdir);
        ctxpar_model_save(seeded, bad);
        hid_t file = H5Fopen(bad, H5F_ACC_RDWR, H5P_DEFAULT);
        H5Ldelete(file, "blocks/1/attn/qkv/weight", H5P_DEFAULT);
        hsize_t dims[2] = {64, 64};
        hid_t space = H5Screate_simple(2, dims, NULL);
        H5Dclose(H5Dcreate2(file, "blocks/1/attn/qkv/weight", H5T_IEEE_F32LE, space, H5P_DEFAULT,
                            H5P_DEFAULT, H5P_DEFAULT));
        H5Sclose(space);
        H5Fclose(file);
    }
    MPI_Bcast(bad, sizeof bad, MPI_CHAR, 0, MPI_COMM_WORLD);
    expect_same_failure(comm, "wrong shape", bad,
                        "tensor blocks/1/attn/qkv/weight has shape [64, 64], expected [192, 64]");

    ctxpar_model_free(seeded);
    return test_mpi_finish(comm, tmpdir, "test_model_mpi");
}
