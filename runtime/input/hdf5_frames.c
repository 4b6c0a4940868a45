/* Video from an HDF5 dataset uint8 [T, H, W, 3] (see hdf5_frames.h). The
 * probe runs on rank 0 only (one set of checks, one message), agreed across
 * ranks before the shape is broadcast; the read opens the file with the
 * MPI-IO driver on every rank and each rank reads only its own frames, in
 * batches so the uint8 staging buffer stays small. */
#include "runtime/input/hdf5_frames.h"

#include <hdf5.h>
#include <stdio.h>
#include <string.h>

#include "runtime/core/interrupt.h"
#include "runtime/core/memory.h"
#include "runtime/core/tensor.h"
#include "runtime/formats/hdf5_io.h"
#include "runtime/input/source_shape.h"

/* Staging buffer for one batch of uint8 frames. */
#define SOURCE_BATCH_BYTES ((int64_t)64 << 20)

static const char *describe_type(hid_t type, char *buf, size_t cap) {
    size_t bytes = H5Tget_size(type);
    switch (H5Tget_class(type)) {
    case H5T_INTEGER:
        snprintf(buf, cap, "%s%zu", H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int", 8 * bytes);
        break;
    case H5T_FLOAT: snprintf(buf, cap, "float%zu", 8 * bytes); break;
    case H5T_STRING: snprintf(buf, cap, "string"); break;
    case H5T_COMPOUND: snprintf(buf, cap, "compound"); break;
    case H5T_ENUM: snprintf(buf, cap, "enum"); break;
    default: snprintf(buf, cap, "a non-numeric type"); break;
    }
    return buf;
}

/* Rank 0's checks; fills shape[0..2] = T, H, W. */
static ctxpar_status probe_on_root(const ctxpar_source *source, int64_t *shape) {
    const char *path = source->path, *name = source->dataset;
    ctxpar_status status = CTXPAR_OK;
    hid_t file = -1, dset = -1, type = -1, space = -1;
    CTXPAR_TRY(ctxpar_hdf5_open_readonly(path, "a uint8 [T, H, W, 3] video dataset", &file));
    int exists = ctxpar_hdf5_dataset_exists(file, name);
    if (exists <= 0) {
        H5Eclear2(H5E_DEFAULT);
        status = ctxpar_error(CTXPAR_ERR_FORMAT,
                              "%s: no dataset '%s' (name another with --input FILE:DATASET)", path,
                              name);
        goto fail;
    }
    if ((dset = H5Dopen2(file, name, H5P_DEFAULT)) < 0 || (type = H5Dget_type(dset)) < 0 ||
        (space = H5Dget_space(dset)) < 0) {
        H5Eclear2(H5E_DEFAULT);
        status = ctxpar_error(CTXPAR_ERR_FORMAT, "%s:%s: cannot read the dataset header", path,
                              name);
        goto fail;
    }
    char type_name[64];
    if (H5Tget_class(type) != H5T_INTEGER || H5Tget_size(type) != 1 ||
        H5Tget_sign(type) != H5T_SGN_NONE) {
        status = ctxpar_error(CTXPAR_ERR_FORMAT,
                              "%s:%s has type %s, expected uint8 (RGB video [T, H, W, 3])", path,
                              name, describe_type(type, type_name, sizeof type_name));
        goto fail;
    }
    int ndim = H5Sget_simple_extent_ndims(space);
    hsize_t dims[H5S_MAX_RANK];
    if (ndim < 0 || H5Sget_simple_extent_dims(space, dims, NULL) < 0) {
        H5Eclear2(H5E_DEFAULT);
        status = ctxpar_error(CTXPAR_ERR_FORMAT, "%s:%s: cannot read the dataset shape", path,
                              name);
        goto fail;
    }
    char dims_text[160];
    int64_t dims64[H5S_MAX_RANK];
    for (int i = 0; i < ndim; i++) dims64[i] = (int64_t)dims[i];
    ctxpar_shape_text(dims_text, sizeof dims_text, ndim, dims64);
    if (ndim != 4) {
        status = ctxpar_error(CTXPAR_ERR_SHAPE,
                              "%s:%s has %d dimensions %s, expected 4: uint8 [T, H, W, 3]", path,
                              name, ndim, dims_text);
        goto fail;
    }
    if (dims[3] != 3) {
        status = ctxpar_error(CTXPAR_ERR_SHAPE,
                              "%s:%s has shape %s, expected [T, H, W, 3]: the last dimension "
                              "must be 3 (RGB)",
                              path, name, dims_text);
        goto fail;
    }
    if (dims[0] == 0 || dims[1] == 0 || dims[2] == 0) {
        status = ctxpar_error(CTXPAR_ERR_SHAPE, "%s:%s has shape %s: the video is empty", path,
                              name, dims_text);
        goto fail;
    }
    if (!ctxpar_hdf5_layout_fits(dset, space)) {
        status = ctxpar_error(CTXPAR_ERR_FORMAT,
                              "%s:%s: its storage layout does not fit its shape (chunks larger "
                              "than the dataset, compact data of the wrong size): the file is "
                              "damaged",
                              path, name);
        goto fail;
    }
    shape[0] = (int64_t)dims[0];
    shape[1] = (int64_t)dims[1];
    shape[2] = (int64_t)dims[2];
fail:
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    if (dset >= 0) H5Dclose(dset);
    if (file >= 0) H5Fclose(file);
    H5Eclear2(H5E_DEFAULT);
    return status;
}

ctxpar_status ctxpar_source_probe_hdf5(ctxpar_comm_t comm, ctxpar_source *source) {
    int64_t shape[3] = {0, 0, 0}; /* T, H, W */
    ctxpar_status status = CTXPAR_OK;
    if (ctxpar_comm_rank(comm) == 0) {
        ctxpar_interrupt_guard_library("HDF5", source->path);
        status = probe_on_root(source, shape);
        ctxpar_interrupt_guard_library(NULL, NULL);
        if (status == CTXPAR_OK && source->frames > shape[0])
            status = ctxpar_error(CTXPAR_ERR_SHAPE, "%s:%s has %lld frames, the run asks for %lld",
                                  source->path, source->dataset, (long long)shape[0],
                                  (long long)source->frames);
        if (status == CTXPAR_OK && ((source->height > 0 && source->height != shape[1]) ||
                                    (source->width > 0 && source->width != shape[2])))
            status = ctxpar_error(CTXPAR_ERR_SHAPE, "--size %lldx%lld but %s:%s is %lldx%lld (WxH)",
                                  (long long)source->width, (long long)source->height,
                                  source->path, source->dataset, (long long)shape[2],
                                  (long long)shape[1]);
    }
    return ctxpar_source_agree_shape(comm, status, shape, source);
}

/* Every rank: open with MPI-IO (collective), read its frames, close (collective). */
ctxpar_status ctxpar_source_read_hdf5(ctxpar_comm_t comm, const ctxpar_source *source,
                                      int64_t first_frame, int64_t n_frames, float *out) {
    ctxpar_status status = CTXPAR_OK;
    hid_t fapl = -1, file = -1, dset = -1, file_space = -1, mem_space = -1;
    uint8_t *staging = NULL;
    const char *path = source->path, *name = source->dataset;
    const int64_t height = source->height, width = source->width;
    const int64_t frame_bytes = height * width * 3, plane = height * width;

    CTXPAR_H5_CHECK_GOTO(fapl = H5Pcreate(H5P_FILE_ACCESS));
    CTXPAR_H5_CHECK_GOTO(H5Pset_fapl_mpio(fapl, ctxpar_comm_mpi(comm), MPI_INFO_NULL));
    file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    if (file < 0) {
        H5Eclear2(H5E_DEFAULT);
        status = ctxpar_error(CTXPAR_ERR_IO, "%s: cannot open the video with MPI-IO", path);
        goto fail;
    }
    dset = H5Dopen2(file, name, H5P_DEFAULT);
    if (dset < 0) {
        H5Eclear2(H5E_DEFAULT);
        status = ctxpar_error(CTXPAR_ERR_FORMAT, "%s: cannot open dataset %s", path, name);
        goto fail;
    }
    CTXPAR_H5_CHECK_GOTO(file_space = H5Dget_space(dset));
    hsize_t dims[4] = {0, 0, 0, 0};
    if (H5Sget_simple_extent_ndims(file_space) != 4 ||
        H5Sget_simple_extent_dims(file_space, dims, NULL) < 0 || dims[1] != (hsize_t)height ||
        dims[2] != (hsize_t)width || dims[3] != 3 || first_frame < 0 ||
        (hsize_t)(first_frame + n_frames) > dims[0]) {
        H5Eclear2(H5E_DEFAULT);
        status = ctxpar_error(CTXPAR_ERR_SHAPE,
                              "%s:%s changed since it was probed or frames [%lld, %lld) are out "
                              "of range",
                              path, name, (long long)first_frame,
                              (long long)(first_frame + n_frames));
        goto fail;
    }
    if (n_frames > 0) {
        int64_t batch = SOURCE_BATCH_BYTES / frame_bytes;
        if (batch < 1) batch = 1;
        if (batch > n_frames) batch = n_frames;
        staging = ctxpar_mem_alloc((size_t)(batch * frame_bytes), CTXPAR_MEM_INPUT,
                                   "video read staging");
        if (!staging) {
            status = CTXPAR_ERR_NO_MEMORY;
            goto fail;
        }
        const int64_t channel_stride = n_frames * plane;
        for (int64_t done = 0; done < n_frames; done += batch) {
            const int64_t count = n_frames - done < batch ? n_frames - done : batch;
            hsize_t start[4] = {(hsize_t)(first_frame + done), 0, 0, 0};
            hsize_t extent[4] = {(hsize_t)count, (hsize_t)height, (hsize_t)width, 3};
            CTXPAR_H5_CHECK_GOTO(
                H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, NULL, extent, NULL));
            if (mem_space >= 0) H5Sclose(mem_space);
            CTXPAR_H5_CHECK_GOTO(mem_space = H5Screate_simple(4, extent, NULL));
            if (H5Dread(dset, H5T_NATIVE_UINT8, mem_space, file_space, H5P_DEFAULT, staging) < 0) {
                char call[64];
                snprintf(call, sizeof call, "H5Dread of frames %lld..%lld",
                         (long long)start[0], (long long)(start[0] + count - 1));
                status = ctxpar_hdf5_error(call, __FILE__, __LINE__);
                goto fail;
            }
#pragma omp parallel for schedule(static)
            for (int64_t f = 0; f < count; f++) {
                const uint8_t *src = staging + f * frame_bytes;
                float *dst = out + (done + f) * plane;
                for (int64_t p = 0; p < plane; p++)
                    for (int c = 0; c < 3; c++)
                        dst[c * channel_stride + p] = (float)src[p * 3 + c] / 127.5f - 1.0f;
            }
        }
    }
fail:
    ctxpar_mem_free(staging);
    if (mem_space >= 0) H5Sclose(mem_space);
    if (file_space >= 0) H5Sclose(file_space);
    if (dset >= 0) H5Dclose(dset);
    if (file >= 0) H5Fclose(file); /* collective: ranks with no frames take part too */
    if (fapl >= 0) H5Pclose(fapl);
    return status;
}
