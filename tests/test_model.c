/* Model weights: the tensor table for the tiny preset (names, shapes, which
 * blocks get a skip conv), seeded initialisation (deterministic, non-trivial,
 * scaled by fan-in), the HDF5 round trip, and every load error a user can
 * cause, each with a message naming the file and the tensor. */
#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "comm/comm.h"
#include "runtime/formats/hdf5_io.h"
#include "runtime/families/registry.h"
#include "runtime/model/model.h"
#include "runtime/model/model_file.h"
#include "test_mpi_util.h"
#include "test_util.h"

static char tmpdir[64];

static void tmp_path(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", tmpdir, name);
}

static const ctxpar_weight *find(const ctxpar_model *m, const char *name) {
    for (int t = 0; t < m->n_tensors; t++)
        if (strcmp(m->tensors[t].name, name) == 0) return &m->tensors[t];
    return NULL;
}

static void expect_shape(const ctxpar_model *m, const char *name, int ndim, const int64_t *shape) {
    const ctxpar_weight *w = find(m, name);
    if (!w) {
        fprintf(stderr, "tensor %s missing from the layout\n", name);
        test_failures++;
        return;
    }
    ASSERT_EQ_INT(w->ndim, ndim);
    for (int i = 0; i < ndim && i < w->ndim; i++) ASSERT_EQ_INT(w->shape[i], shape[i]);
}

static void test_layout(void) {
    ctxpar_model_config config;
    ctxpar_config_preset("tiny", &config);
    ctxpar_model *m = NULL;
    ASSERT_EQ_INT(ctxpar_model_layout(&config, &m), CTXPAR_OK);
    if (!m) return;
    ASSERT_TRUE(m->blob == NULL);
    ASSERT_EQ_INT(m->n_tensors, 72);
    ASSERT_EQ_INT(ctxpar_model_parameter_count(m), 296064);
    ASSERT_TRUE(strcmp(m->tensors[0].name, "vae/conv_in/weight") == 0);
    ASSERT_TRUE(strcmp(m->tensors[1].name, "vae/conv_in/bias") == 0);
    ASSERT_TRUE(strcmp(m->tensors[2].name, "vae/stages/0/res/0/norm1/weight") == 0);
    ASSERT_TRUE(strcmp(m->tensors[m->n_tensors - 1].name, "norm_out/bias") == 0);

    expect_shape(m, "vae/conv_in/weight", 5, (int64_t[]){16, 3, 3, 3, 3});
    expect_shape(m, "vae/conv_in/bias", 1, (int64_t[]){16});
    expect_shape(m, "vae/stages/0/res/0/conv1/weight", 5, (int64_t[]){16, 16, 3, 3, 3});
    ASSERT_TRUE(find(m, "vae/stages/0/res/0/skip/weight") == NULL); /* 16 -> 16 */
    expect_shape(m, "vae/stages/0/down/weight", 5, (int64_t[]){16, 16, 1, 3, 3});
    expect_shape(m, "vae/stages/1/res/0/norm1/weight", 1, (int64_t[]){16});
    expect_shape(m, "vae/stages/1/res/0/conv1/weight", 5, (int64_t[]){32, 16, 3, 3, 3});
    expect_shape(m, "vae/stages/1/res/0/norm2/bias", 1, (int64_t[]){32});
    expect_shape(m, "vae/stages/1/res/0/skip/weight", 5, (int64_t[]){32, 16, 1, 1, 1});
    expect_shape(m, "vae/stages/1/res/0/skip/bias", 1, (int64_t[]){32});
    expect_shape(m, "vae/stages/1/down/weight", 5, (int64_t[]){32, 32, 1, 3, 3});
    ASSERT_TRUE(find(m, "vae/stages/2/res/0/skip/weight") == NULL); /* 32 -> 32 */
    ASSERT_TRUE(find(m, "vae/stages/2/down/weight") == NULL);       /* last stage */
    ASSERT_TRUE(find(m, "vae/mid/skip/weight") == NULL);
    expect_shape(m, "vae/mid/conv2/weight", 5, (int64_t[]){32, 32, 3, 3, 3});
    expect_shape(m, "vae/norm_out/weight", 1, (int64_t[]){32});
    expect_shape(m, "vae/conv_out/weight", 5, (int64_t[]){16, 32, 3, 3, 3});
    expect_shape(m, "vae/conv_out/bias", 1, (int64_t[]){16});
    expect_shape(m, "embed/weight", 2, (int64_t[]){64, 32});
    expect_shape(m, "blocks/0/norm1/weight", 1, (int64_t[]){64});
    expect_shape(m, "blocks/1/attn/qkv/weight", 2, (int64_t[]){192, 64});
    expect_shape(m, "blocks/1/attn/qkv/bias", 1, (int64_t[]){192});
    expect_shape(m, "blocks/1/attn/proj/weight", 2, (int64_t[]){64, 64});
    expect_shape(m, "blocks/0/mlp/fc1/weight", 2, (int64_t[]){256, 64});
    expect_shape(m, "blocks/0/mlp/fc2/weight", 2, (int64_t[]){64, 256});
    expect_shape(m, "blocks/0/mlp/fc2/bias", 1, (int64_t[]){64});
    expect_shape(m, "norm_out/weight", 1, (int64_t[]){64});
    ASSERT_TRUE(find(m, "blocks/2/norm1/weight") == NULL);

    /* aligned, in order, non-overlapping, inside the blob */
    int64_t end = 0;
    for (int t = 0; t < m->n_tensors; t++) {
        const ctxpar_weight *w = &m->tensors[t];
        ASSERT_EQ_INT(w->offset % 16, 0);
        ASSERT_TRUE(w->offset >= end);
        end = w->offset + w->count;
    }
    ASSERT_TRUE(end <= m->blob_floats);
    ctxpar_model_free(m);

    /* base preset: two res blocks per stage, the second never has a skip */
    ctxpar_config_preset("base", &config);
    ASSERT_EQ_INT(ctxpar_model_layout(&config, &m), CTXPAR_OK);
    expect_shape(m, "vae/stages/3/res/0/skip/weight", 5, (int64_t[]){512, 256, 1, 1, 1});
    ASSERT_TRUE(find(m, "vae/stages/3/res/1/skip/weight") == NULL);
    expect_shape(m, "blocks/23/mlp/fc1/weight", 2, (int64_t[]){4096, 1024});
    ctxpar_model_free(m);

    ctxpar_config_preset("tiny", &config);
    config.transformer.heads = 3;
    ASSERT_TRUE(ctxpar_model_layout(&config, &m) != CTXPAR_OK);
    ASSERT_TRUE(m == NULL);
    ctxpar_error_clear();
}

static void test_seeded(void) {
    ctxpar_model_config config;
    ctxpar_config_preset("tiny", &config);
    ctxpar_model *a = NULL, *b = NULL, *c = NULL;
    ASSERT_EQ_INT(ctxpar_model_create_seeded(&config, 7, &a), CTXPAR_OK);
    ASSERT_EQ_INT(ctxpar_model_create_seeded(&config, 7, &b), CTXPAR_OK);
    ASSERT_EQ_INT(ctxpar_model_create_seeded(&config, 8, &c), CTXPAR_OK);
    if (!a || !b || !c) return;
    ASSERT_TRUE(memcmp(a->blob, b->blob, sizeof(float) * (size_t)a->blob_floats) == 0);
    ASSERT_TRUE(memcmp(a->blob, c->blob, sizeof(float) * (size_t)a->blob_floats) != 0);

    for (int t = 0; t < a->n_tensors; t++) {
        const ctxpar_weight *w = &a->tensors[t];
        const float *x = a->blob + w->offset;
        const char *leaf = strrchr(w->name, '/');
        int is_bias = strcmp(leaf, "/bias") == 0;
        int is_norm = strstr(w->name, "norm") != NULL;
        double sum = 0, sum2 = 0, lo = 1e30, hi = -1e30;
        int64_t exact_one = 0, exact_zero = 0;
        for (int64_t e = 0; e < w->count; e++) {
            sum += x[e];
            sum2 += (double)x[e] * x[e];
            if (x[e] < lo) lo = x[e];
            if (x[e] > hi) hi = x[e];
            exact_one += x[e] == 1.0f;
            exact_zero += x[e] == 0.0f;
        }
        ASSERT_EQ_INT(exact_zero, 0);
        ASSERT_TRUE(hi > lo); /* not a constant */
        if (is_norm && !is_bias) {
            ASSERT_TRUE(lo >= 0.8 && hi <= 1.2);
            ASSERT_EQ_INT(exact_one, 0);
        } else if (is_bias) {
            ASSERT_TRUE(lo >= -0.1 && hi <= 0.1);
        } else {
            /* Var(w) = 1/fan_in within sampling error */
            double fan_in = (double)(w->count / w->shape[0]);
            double var = sum2 / (double)w->count - (sum / w->count) * (sum / w->count);
            if (!(var * fan_in > 0.8 && var * fan_in < 1.2)) {
                fprintf(stderr, "%s: var*fan_in = %g\n", w->name, var * fan_in);
                test_failures++;
            }
        }
    }
    /* lookup */
    const ctxpar_weight *w = find(a, "vae/stages/1/down/weight");
    ASSERT_TRUE(ctxpar_model_tensor(a, "vae/stages/1/down/weight") == a->blob + w->offset);
    ASSERT_TRUE(ctxpar_model_tensorf(a, "vae/stages/%d/down/weight", 1) == a->blob + w->offset);
    ASSERT_TRUE(ctxpar_model_tensor(a, "vae/stages/2/down/weight") == NULL);
    ASSERT_TRUE(ctxpar_model_tensor(a, "nope") == NULL);
    /* ops: every op bound to its own tensors once, by role; the shortcut
     * only where the channels change */
    const ctxpar_model_ops *ops = &a->ops;
    ASSERT_TRUE(ops->vae_conv_in.weight == ctxpar_model_tensor(a, "vae/conv_in/weight"));
    ASSERT_TRUE(ops->vae_down[1].bias == ctxpar_model_tensor(a, "vae/stages/1/down/bias"));
    ASSERT_TRUE(ops->vae_conv_out.weight == ctxpar_model_tensor(a, "vae/conv_out/weight"));
    ASSERT_TRUE(ops->vae_norm_out.bias == ctxpar_model_tensor(a, "vae/norm_out/bias"));
    for (int i = 0; i < a->config.vae.n_stages; i++)
        for (int j = 0; j < a->config.vae.res_blocks; j++) {
            const ctxpar_resblock_ops *r = ctxpar_model_stage_res(a, i, j);
            char name[CTXPAR_TENSOR_NAME_MAX + 16];
            snprintf(name, sizeof name, "vae/stages/%d/res/%d/conv2/weight", i, j);
            ASSERT_TRUE(r->conv2.weight == ctxpar_model_tensor(a, name));
            snprintf(name, sizeof name, "vae/stages/%d/res/%d/skip/weight", i, j);
            ASSERT_TRUE(r->skip.weight == ctxpar_model_tensor(a, name)); /* NULL: none */
        }
    ASSERT_TRUE(ops->vae_mid[0].norm1.weight == ctxpar_model_tensor(a, "vae/mid/norm1/weight"));
    ASSERT_TRUE(ctxpar_model_stage_res(a, 1, 0)->skip.weight != NULL); /* 16 -> 32 channels */
    ASSERT_TRUE(ctxpar_model_stage_res(a, 2, 0)->skip.weight == NULL); /* 32 -> 32 */
    ASSERT_TRUE(ops->embed.weight == ctxpar_model_tensor(a, "embed/weight"));
    const int last = a->config.transformer.layers - 1;
    ASSERT_TRUE(ops->blocks[last].fc2.bias == ctxpar_model_tensorf(a, "blocks/%d/mlp/fc2/bias", last));
    ASSERT_TRUE(ops->blocks[0].qkv.weight == ctxpar_model_tensor(a, "blocks/0/attn/qkv/weight"));
    ASSERT_TRUE(ops->norm_out.weight == ctxpar_model_tensor(a, "norm_out/weight"));
    ctxpar_model_free(a);
    ctxpar_model_free(b);
    ctxpar_model_free(c);
}

/* Expect a failed load whose message contains both needles. */
static void expect_load_error(ctxpar_comm_t comm, const char *what, const char *path,
                              ctxpar_status want, const char *needle1, const char *needle2) {
    ctxpar_error_clear();
    ctxpar_model *m = (ctxpar_model *)0x1;
    ctxpar_status status = ctxpar_family_load(comm, path, &m);
    const char *detail = ctxpar_error_detail();
    if (status != want) {
        fprintf(stderr, "%s: status %s, expected %s (detail: %s)\n", what,
                ctxpar_status_name(status), ctxpar_status_name(want), detail);
        test_failures++;
    }
    ASSERT_TRUE(m == NULL);
    if (!strstr(detail, path) || (needle1 && !strstr(detail, needle1)) ||
        (needle2 && !strstr(detail, needle2))) {
        fprintf(stderr, "%s: message '%s' lacks '%s' / '%s' / '%s'\n", what, detail, path,
                needle1 ? needle1 : "", needle2 ? needle2 : "");
        test_failures++;
    } else {
        printf("  %-16s -> %s\n", what, detail);
    }
    ctxpar_error_clear();
}

static void copy_file(const char *from, const char *to, long limit) {
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    char buf[4096];
    long total = 0;
    size_t n;
    while (in && out && (limit < 0 || total < limit) &&
           (n = fread(buf, 1, limit < 0 || limit - total > (long)sizeof buf
                                  ? sizeof buf
                                  : (size_t)(limit - total), in)) > 0) {
        fwrite(buf, 1, n, out);
        total += (long)n;
    }
    if (in) fclose(in);
    if (out) fclose(out);
}

static void set_string_attr(const char *path, const char *name, const char *value) {
    hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    H5Adelete(file, name);
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, strlen(value));
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = H5Acreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(attr, type, value);
    H5Aclose(attr);
    H5Sclose(space);
    H5Tclose(type);
    H5Fclose(file);
}

static void replace_dataset(const char *path, const char *name, hid_t type, int ndim,
                            const hsize_t *dims) {
    hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    H5Ldelete(file, name, H5P_DEFAULT);
    if (ndim > 0) {
        hid_t space = H5Screate_simple(ndim, dims, NULL);
        hid_t dset = H5Dcreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Dclose(dset);
        H5Sclose(space);
    }
    H5Fclose(file);
}

static void test_save_load(ctxpar_comm_t comm) {
    ctxpar_model_config config;
    ctxpar_config_preset("tiny", &config);
    config.merge.spatial_threshold = 0.85;
    ctxpar_model *m = NULL, *back = NULL;
    ASSERT_EQ_INT(ctxpar_model_create_seeded(&config, 42, &m), CTXPAR_OK);
    char path[128], bad[128];
    tmp_path(path, sizeof path, "model.h5");
    ASSERT_EQ_INT(ctxpar_model_save(m, path), CTXPAR_OK);
    ctxpar_status status = ctxpar_family_load(comm, path, &back);
    if (status != CTXPAR_OK) fprintf(stderr, "load: %s\n", ctxpar_error_detail());
    ASSERT_EQ_INT(status, CTXPAR_OK);
    if (back) {
        ASSERT_EQ_INT(back->n_tensors, m->n_tensors);
        ASSERT_EQ_INT(back->blob_floats, m->blob_floats);
        ASSERT_TRUE(memcmp(back->blob, m->blob, sizeof(float) * (size_t)m->blob_floats) == 0);
        ASSERT_NEAR(back->config.merge.spatial_threshold, 0.85, 0);
        ASSERT_EQ_INT(back->config.transformer.dim, 64);
        ctxpar_model_free(back);
    }

    /* the file says what it is */
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    int version = 0;
    hid_t attr = H5Aopen(file, "format_version", H5P_DEFAULT);
    H5Aread(attr, H5T_NATIVE_INT, &version);
    H5Aclose(attr);
    ASSERT_EQ_INT(version, 1);
    hsize_t dims[5] = {0};
    hid_t dset = H5Dopen2(file, "vae/stages/1/res/0/skip/weight", H5P_DEFAULT);
    ASSERT_TRUE(dset >= 0);
    hid_t space = H5Dget_space(dset);
    ASSERT_EQ_INT(H5Sget_simple_extent_dims(space, dims, NULL), 5);
    ASSERT_EQ_INT(dims[0], 32);
    ASSERT_EQ_INT(dims[1], 16);
    hid_t type = H5Dget_type(dset);
    ASSERT_TRUE(H5Tequal(type, H5T_IEEE_F32LE) > 0);
    H5Tclose(type);
    H5Sclose(space);
    H5Dclose(dset);
    H5Fclose(file);

    /* errors */
    tmp_path(bad, sizeof bad, "absent.h5");
    expect_load_error(comm, "missing file", bad, CTXPAR_ERR_IO, "no such file", NULL);

    tmp_path(bad, sizeof bad, "garbage.h5");
    FILE *f = fopen(bad, "wb");
    for (int i = 0; i < 5000; i++) fputc((int)(test_uniform(3, (uint64_t)i) * 127 + 128), f);
    fclose(f);
    expect_load_error(comm, "garbage file", bad, CTXPAR_ERR_FORMAT, "not an HDF5 file", NULL);

    tmp_path(bad, sizeof bad, "truncated.h5");
    copy_file(path, bad, 10 * 1024);
    ctxpar_error_clear();
    ctxpar_model *t = NULL;
    status = ctxpar_family_load(comm, bad, &t);
    ASSERT_TRUE(status != CTXPAR_OK);
    ASSERT_TRUE(t == NULL);
    ASSERT_TRUE(strstr(ctxpar_error_detail(), bad) != NULL);
    printf("  %-16s -> %s\n", "truncated", ctxpar_error_detail());
    ctxpar_error_clear();

    tmp_path(bad, sizeof bad, "empty.h5");
    copy_file(path, bad, 0);
    expect_load_error(comm, "empty file", bad, CTXPAR_ERR_FORMAT, "not an HDF5 file", NULL);

    tmp_path(bad, sizeof bad, "foreign.h5");
    copy_file(path, bad, -1);
    set_string_attr(bad, "format", "ctxpar-features");
    expect_load_error(comm, "foreign format", bad, CTXPAR_ERR_FORMAT,
                      "foreign file: format attribute is ctxpar-features",
                      "expected ctxpar-model");

    tmp_path(bad, sizeof bad, "noformat.h5");
    copy_file(path, bad, -1);
    replace_dataset(bad, "vae", 0, 0, NULL);
    file = H5Fopen(bad, H5F_ACC_RDWR, H5P_DEFAULT);
    H5Adelete(file, "format");
    H5Fclose(file);
    expect_load_error(comm, "no format attr", bad, CTXPAR_ERR_FORMAT, "foreign file", NULL);

    tmp_path(bad, sizeof bad, "version.h5");
    copy_file(path, bad, -1);
    file = H5Fopen(bad, H5F_ACC_RDWR, H5P_DEFAULT);
    attr = H5Aopen(file, "format_version", H5P_DEFAULT);
    int v2 = 2;
    H5Awrite(attr, H5T_NATIVE_INT, &v2);
    H5Aclose(attr);
    H5Fclose(file);
    expect_load_error(comm, "version", bad, CTXPAR_ERR_FORMAT, "format_version 2", NULL);

    tmp_path(bad, sizeof bad, "config.h5");
    copy_file(path, bad, -1);
    set_string_attr(bad, "config", "{\"vae\": {\"channels\": [16, 32, 32]}");
    expect_load_error(comm, "bad config", bad, CTXPAR_ERR_FORMAT, "config JSON line 1", NULL);

    tmp_path(bad, sizeof bad, "missing.h5");
    copy_file(path, bad, -1);
    replace_dataset(bad, "vae/mid/conv1/weight", 0, 0, NULL);
    expect_load_error(comm, "missing tensor", bad, CTXPAR_ERR_FORMAT,
                      "missing tensor vae/mid/conv1/weight", NULL);

    tmp_path(bad, sizeof bad, "nogroup.h5");
    copy_file(path, bad, -1);
    replace_dataset(bad, "blocks", 0, 0, NULL);
    expect_load_error(comm, "missing group", bad, CTXPAR_ERR_FORMAT,
                      "missing tensor blocks/0/norm1/weight", NULL);

    tmp_path(bad, sizeof bad, "shape.h5");
    copy_file(path, bad, -1);
    replace_dataset(bad, "embed/weight", H5T_IEEE_F32LE, 2, (hsize_t[]){64, 16});
    expect_load_error(comm, "wrong shape", bad, CTXPAR_ERR_SHAPE,
                      "tensor embed/weight has shape [64, 16], expected [64, 32]", NULL);

    tmp_path(bad, sizeof bad, "rank.h5");
    copy_file(path, bad, -1);
    replace_dataset(bad, "vae/conv_in/weight", H5T_IEEE_F32LE, 2, (hsize_t[]){16, 81});
    expect_load_error(comm, "wrong rank", bad, CTXPAR_ERR_SHAPE,
                      "tensor vae/conv_in/weight has shape [16, 81], expected [16, 3, 3, 3, 3]",
                      NULL);

    tmp_path(bad, sizeof bad, "dtype.h5");
    copy_file(path, bad, -1);
    replace_dataset(bad, "norm_out/bias", H5T_STD_I32LE, 1, (hsize_t[]){64});
    expect_load_error(comm, "int tensor", bad, CTXPAR_ERR_FORMAT, "tensor norm_out/bias",
                      "expected float32");

    tmp_path(bad, sizeof bad, "f64.h5");
    copy_file(path, bad, -1);
    replace_dataset(bad, "norm_out/bias", H5T_IEEE_F64LE, 1, (hsize_t[]){64});
    ctxpar_model *f64 = NULL;
    ASSERT_EQ_INT(ctxpar_family_load(comm, bad, &f64), CTXPAR_OK); /* float64 converts */
    ctxpar_model_free(f64);

    ctxpar_model_free(m);
}

int main(int argc, char **argv) {
    ctxpar_comm_t comm =
        test_mpi_start(&argc, &argv, "ctxpar_test_model", tmpdir, sizeof tmpdir);
    test_layout();
    test_seeded();
    test_save_load(comm);
    return test_mpi_finish(comm, tmpdir, "test_model");
}
