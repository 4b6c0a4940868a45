/* The ctxpar model file (docs/design.md section 4): HDF5 with the config as
 * JSON text in a root attribute and one float32 dataset per tensor.
 *
 * Loading is "rank 0 reads, everyone receives": thousands of ranks opening one
 * file would hammer the file system, and validating on one rank gives one
 * message. Rank 0's outcome is agreed with every rank BEFORE any broadcast, so
 * a bad file makes all ranks return the same error instead of leaving some
 * waiting in a broadcast that never comes.
 *
 * Rank 0 checks the header of every tensor first, then reads each one
 * straight into the node's shared blob (or through one tensor's scratch into
 * the packed bf16 buffer): no rank ever holds a private copy of the model. */
#include "runtime/model/model_file.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/core/interrupt.h"
#include "runtime/core/tensor.h"
#include "runtime/formats/hdf5_io.h"

#define MODEL_FORMAT "ctxpar-model"
#define MODEL_FORMAT_VERSION 1

/* ---- save ---- */

ctxpar_status ctxpar_model_save(const ctxpar_model *model, const char *path) {
    ctxpar_status status = CTXPAR_OK;
    hid_t file = -1, lcpl = -1, space = -1, dset = -1, attr_space = -1, attr = -1;
    char *json = NULL;
    if (!model->blob)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT, "%s: the model has no weights to save", path);
    file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) {
        char cause[256];
        return ctxpar_error(CTXPAR_ERR_IO, "%s: cannot create the model file: %s", path,
                            ctxpar_hdf5_cause(cause, sizeof cause));
    }
    CTXPAR_H5_CHECK_GOTO(lcpl = H5Pcreate(H5P_LINK_CREATE));
    CTXPAR_H5_CHECK_GOTO(H5Pset_create_intermediate_group(lcpl, 1));

    int json_len = ctxpar_config_to_json(&model->config, NULL, 0);
    json = malloc((size_t)json_len + 1);
    if (!json) {
        status = ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory writing %s", path);
        goto fail;
    }
    ctxpar_config_to_json(&model->config, json, (size_t)json_len + 1);
    CTXPAR_H5_CHECK_GOTO(ctxpar_hdf5_write_string_attr(file, "format", MODEL_FORMAT));
    CTXPAR_H5_CHECK_GOTO(ctxpar_hdf5_write_string_attr(file, "config", json));
    CTXPAR_H5_CHECK_GOTO(attr_space = H5Screate(H5S_SCALAR));
    const int version = MODEL_FORMAT_VERSION;
    CTXPAR_H5_CHECK_GOTO(attr = H5Acreate2(file, "format_version", H5T_STD_I32LE, attr_space,
                                           H5P_DEFAULT, H5P_DEFAULT));
    CTXPAR_H5_CHECK_GOTO(H5Awrite(attr, H5T_NATIVE_INT, &version));

    for (int t = 0; t < model->n_tensors; t++) {
        const ctxpar_weight *w = &model->tensors[t];
        hsize_t dims[5];
        for (int i = 0; i < w->ndim; i++) dims[i] = (hsize_t)w->shape[i];
        CTXPAR_H5_CHECK_GOTO(space = H5Screate_simple(w->ndim, dims, NULL));
        dset = H5Dcreate2(file, w->name, H5T_IEEE_F32LE, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
        if (dset < 0) {
            char cause[256];
            status = ctxpar_error(CTXPAR_ERR_IO, "%s: cannot create tensor %s: %s", path, w->name,
                                  ctxpar_hdf5_cause(cause, sizeof cause));
            goto fail;
        }
        if (H5Dwrite(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                     model->blob + w->offset) < 0) {
            char cause[256];
            status = ctxpar_error(CTXPAR_ERR_IO, "%s: cannot write tensor %s: %s", path, w->name,
                                  ctxpar_hdf5_cause(cause, sizeof cause));
            goto fail;
        }
        H5Dclose(dset);
        dset = -1;
        H5Sclose(space);
        space = -1;
    }
    if (H5Fclose(file) < 0) {
        file = -1;
        char cause[256];
        status = ctxpar_error(CTXPAR_ERR_IO, "%s: cannot finish the model file: %s", path,
                              ctxpar_hdf5_cause(cause, sizeof cause));
        goto fail;
    }
    file = -1;
fail:
    free(json);
    if (attr >= 0) H5Aclose(attr);
    if (attr_space >= 0) H5Sclose(attr_space);
    if (dset >= 0) H5Dclose(dset);
    if (space >= 0) H5Sclose(space);
    if (lcpl >= 0) H5Pclose(lcpl);
    if (file >= 0) H5Fclose(file);
    return status;
}

/* ---- load ---- */

/* Tensor w's dataset: checked against w (present, floating point, its shape,
 * a storage that fits), then read into `data` unless it is NULL. */
static ctxpar_status read_tensor(hid_t file, const char *path, const ctxpar_weight *w,
                                 float *data) {
    ctxpar_status status = CTXPAR_OK;
    hid_t dset = -1, space = -1, type = -1;
    char cause[256];
    int exists = ctxpar_hdf5_dataset_exists(file, w->name);
    if (exists < 0)
        return ctxpar_error(CTXPAR_ERR_FORMAT, "%s: cannot look up tensor %s: %s", path, w->name,
                            ctxpar_hdf5_cause(cause, sizeof cause));
    if (exists == 0)
        return ctxpar_error(CTXPAR_ERR_FORMAT, "%s: missing tensor %s", path, w->name);
    dset = H5Dopen2(file, w->name, H5P_DEFAULT);
    if (dset < 0) {
        status = ctxpar_error(CTXPAR_ERR_FORMAT, "%s: cannot open tensor %s: %s", path, w->name,
                              ctxpar_hdf5_cause(cause, sizeof cause));
        goto fail;
    }
    if ((type = H5Dget_type(dset)) < 0 || (space = H5Dget_space(dset)) < 0) {
        status = ctxpar_error(CTXPAR_ERR_FORMAT, "%s: cannot read the header of tensor %s: %s",
                              path, w->name, ctxpar_hdf5_cause(cause, sizeof cause));
        goto fail;
    }
    if (H5Tget_class(type) != H5T_FLOAT) {
        status = ctxpar_error(CTXPAR_ERR_FORMAT,
                              "%s: tensor %s is not floating point, expected float32", path,
                              w->name);
        goto fail;
    }
    int ndim = H5Sget_simple_extent_ndims(space);
    hsize_t dims[H5S_MAX_RANK];
    if (ndim < 0 || H5Sget_simple_extent_dims(space, dims, NULL) < 0) {
        status = ctxpar_error(CTXPAR_ERR_FORMAT, "%s: cannot read the shape of tensor %s: %s", path,
                              w->name, ctxpar_hdf5_cause(cause, sizeof cause));
        goto fail;
    }
    int same = ndim == w->ndim;
    for (int i = 0; same && i < ndim; i++) same = dims[i] == (hsize_t)w->shape[i];
    if (!same) {
        char got[128], want[128];
        int64_t got_dims[H5S_MAX_RANK];
        for (int i = 0; i < ndim; i++) got_dims[i] = (int64_t)dims[i];
        ctxpar_shape_text(got, sizeof got, ndim, got_dims);
        ctxpar_shape_text(want, sizeof want, w->ndim, w->shape);
        status = ctxpar_error(CTXPAR_ERR_SHAPE, "%s: tensor %s has shape %s, expected %s", path,
                              w->name, got, want);
        goto fail;
    }
    if (!ctxpar_hdf5_layout_fits(dset, space)) {
        status = ctxpar_error(CTXPAR_ERR_FORMAT,
                              "%s: tensor %s: its storage layout does not fit its shape: the "
                              "file is damaged",
                              path, w->name);
        goto fail;
    }
    if (data && H5Dread(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
        status = ctxpar_error(CTXPAR_ERR_FORMAT,
                              "%s: cannot read tensor %s (truncated or damaged file?): %s", path,
                              w->name, ctxpar_hdf5_cause(cause, sizeof cause));
        goto fail;
    }
fail:
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    if (dset >= 0) H5Dclose(dset);
    return status;
}

/* Rank 0's first part: open, check the format, the config and every
 * tensor's header. The file stays open in *file_out for the reads. */
static ctxpar_status open_on_root(const char *path, hid_t *file_out,
                                  ctxpar_model_config *config) {
    *file_out = -1;
    ctxpar_status status = CTXPAR_OK;
    hid_t file = -1, attr = -1, attr_type = -1;
    char *format = NULL, *json = NULL;
    ctxpar_model *m = NULL;

    CTXPAR_TRY(ctxpar_hdf5_open_readonly(
        path, "a ctxpar model; make one with `ctxpar init-model`", &file));

    status = ctxpar_hdf5_read_string_attr(file, "format", &format);
    if (status != CTXPAR_OK) goto fail;
    if (!format) {
        status = ctxpar_error(CTXPAR_ERR_FORMAT,
                              "%s: foreign file: no string attribute 'format', expected %s", path,
                              MODEL_FORMAT);
        goto fail;
    }
    if (strcmp(format, MODEL_FORMAT) != 0) {
        status = ctxpar_error(CTXPAR_ERR_FORMAT,
                              "%s: foreign file: format attribute is %s, expected %s", path,
                              format, MODEL_FORMAT);
        goto fail;
    }
    int version = -1;
    if (H5Aexists(file, "format_version") <= 0) {
        status = ctxpar_error(CTXPAR_ERR_FORMAT, "%s: no format_version attribute", path);
        goto fail;
    }
    if ((attr = H5Aopen(file, "format_version", H5P_DEFAULT)) < 0 ||
        (attr_type = H5Aget_type(attr)) < 0 || H5Tget_class(attr_type) != H5T_INTEGER ||
        H5Aread(attr, H5T_NATIVE_INT, &version) < 0) {
        H5Eclear2(H5E_DEFAULT);
        status = ctxpar_error(CTXPAR_ERR_FORMAT,
                              "%s: format_version attribute is not a readable integer", path);
        goto fail;
    }
    if (version != MODEL_FORMAT_VERSION) {
        status = ctxpar_error(CTXPAR_ERR_FORMAT,
                              "%s: model format_version %d is not supported (this ctxpar reads "
                              "version %d)",
                              path, version, MODEL_FORMAT_VERSION);
        goto fail;
    }
    CTXPAR_TRY_GOTO(ctxpar_hdf5_read_string_attr(file, "config", &json));
    if (!json) {
        status = ctxpar_error(CTXPAR_ERR_FORMAT, "%s: no string attribute 'config'", path);
        goto fail;
    }
    CTXPAR_TRY_GOTO(ctxpar_config_from_json(json, config, path));
    CTXPAR_TRY_GOTO(ctxpar_model_layout(config, &m));
    for (int t = 0; t < m->n_tensors; t++)
        CTXPAR_TRY_GOTO(read_tensor(file, path, &m->tensors[t], NULL));
    *file_out = file;
    file = -1;
fail:
    ctxpar_model_free(m);
    free(format);
    free(json);
    if (attr_type >= 0) H5Tclose(attr_type);
    if (attr >= 0) H5Aclose(attr);
    if (file >= 0) H5Fclose(file);
    H5Eclear2(H5E_DEFAULT);
    return status;
}

/* Rank 0's second part: every tensor into its place in the node's blob. */
static ctxpar_status read_on_root(hid_t file, const char *path, ctxpar_model *shared) {
    const int64_t scratch_floats = ctxpar_model_scratch_floats(shared);
    float *scratch = scratch_floats > 0 ? malloc(sizeof(float) * (size_t)scratch_floats) : NULL;
    if (scratch_floats > 0 && !scratch)
        return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory packing the weights");
    ctxpar_status status = CTXPAR_OK;
    for (int t = 0; t < shared->n_tensors && status == CTXPAR_OK; t++) {
        float *dst = ctxpar_model_fill_begin(shared, t, scratch);
        status = read_tensor(file, path, &shared->tensors[t], dst);
        if (status == CTXPAR_OK) ctxpar_model_fill_end(shared, t, dst);
    }
    free(scratch);
    H5Eclear2(H5E_DEFAULT);
    return status;
}

ctxpar_status ctxpar_model_load_file(ctxpar_comm_t comm, const char *path, ctxpar_model **out) {
    return ctxpar_model_load_file_with(comm, path, NULL, out);
}

ctxpar_status ctxpar_model_load_file_with(ctxpar_comm_t comm, const char *path,
                                          const ctxpar_load_hook *hook, ctxpar_model **out) {
    *out = NULL;
    const int rank = ctxpar_comm_rank(comm);
    ctxpar_model *shared = NULL;
    ctxpar_model_config config;
    ctxpar_status status = CTXPAR_OK;
    hid_t file = -1;
    char *json = NULL;

    if (rank == 0) {
        ctxpar_interrupt_guard_library("HDF5", path);
        status = open_on_root(path, &file, &config);
        ctxpar_interrupt_guard_library(NULL, NULL);
    }
    /* Agree before broadcasting: a bad file fails everyone with rank 0's message. */
    status = ctxpar_comm_agree(comm, status);
    if (status != CTXPAR_OK) goto fail;

    /* The config travels as JSON text (the same form as in the file), the
     * weights as one blob to the first rank of each node. */
    int64_t json_len = 0;
    if (rank == 0) {
        json_len = ctxpar_config_to_json(&config, NULL, 0);
        json = malloc((size_t)json_len + 1);
        if (json) ctxpar_config_to_json(&config, json, (size_t)json_len + 1);
    }
    CTXPAR_TRY_GOTO(ctxpar_comm_bcast(comm, &json_len, sizeof json_len, 0));
    if (rank != 0) json = malloc((size_t)json_len + 1);
    status = json ? CTXPAR_OK
                  : ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory receiving the model config");
    CTXPAR_TRY_GOTO(ctxpar_comm_agree(comm, status));
    CTXPAR_TRY_GOTO(ctxpar_comm_bcast(comm, json, json_len + 1, 0));
    status = ctxpar_config_from_json(json, &config, path);
    if (status == CTXPAR_OK) status = ctxpar_model_layout(&config, &shared);
    CTXPAR_TRY_GOTO(ctxpar_comm_agree(comm, status));
    CTXPAR_TRY_GOTO(ctxpar_model_run_hook(comm, hook, shared));
    CTXPAR_TRY_GOTO(ctxpar_model_alloc_shared(comm, shared));
    /* Rank 0 reads each tensor into its place: the blob, or packed. */
    if (rank == 0) {
        ctxpar_interrupt_guard_library("HDF5", path);
        status = read_on_root(file, path, shared);
        ctxpar_interrupt_guard_library(NULL, NULL);
        H5Fclose(file);
        file = -1;
    }
    CTXPAR_TRY_GOTO(ctxpar_comm_agree(comm, status));
    if (ctxpar_comm_local_rank(comm) == 0) {
        CTXPAR_TRY_GOTO(ctxpar_comm_bcast_leaders(
            comm, shared->blob, shared->blob_floats * (int64_t)sizeof(float)));
        if (shared->packed_buffer)
            CTXPAR_TRY_GOTO(ctxpar_comm_bcast_leaders(
                comm, shared->packed_buffer->data,
                shared->packed_values * (int64_t)sizeof(ctxpar_bf16)));
    }
    CTXPAR_TRY_GOTO(ctxpar_model_publish(comm, shared));
    free(json);
    *out = shared;
    return CTXPAR_OK;
fail:
    if (file >= 0) H5Fclose(file);
    free(json);
    ctxpar_model_free(shared);
    return status;
}
