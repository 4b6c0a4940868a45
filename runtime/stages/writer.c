/* Parallel HDF5 writer (see writer.h). Any HDF5 failure in the middle of the
 * collective sequence ends the job (the other ranks are inside the same
 * collectives); the failing rank removes the temporary file first, so the
 * output path stays empty. */
#include "runtime/stages/writer.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "ctxpar_version.h"
#include "runtime/core/interrupt.h"
#include "runtime/formats/hdf5_io.h"

/* The temporary name used for path (same directory, so the rename is atomic). */
static void temp_name(const char *path, char *buf, int cap) {
    snprintf(buf, (size_t)cap, "%s.ctxpar-partial", path);
}

/* Free bytes for an unprivileged writer on the file system holding path's
 * directory; -1 when unknown. */
static int64_t free_bytes_beside(const char *path) {
    char dir[1200];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = '\0';
    else *slash = '\0';
    struct statvfs vfs;
    if (statvfs(dir, &vfs) != 0) return -1;
    return (int64_t)vfs.f_bavail * (int64_t)vfs.f_frsize;
}

ctxpar_status ctxpar_output_check(ctxpar_comm_t comm, const char *path, int overwrite,
                                  int64_t max_bytes) {
    ctxpar_status status = CTXPAR_OK;
    if (ctxpar_comm_rank(comm) == 0) {
        struct stat st;
        char tmp[1200];
        temp_name(path, tmp, sizeof tmp);
        if (path[0] == '\0') {
            status = ctxpar_error(CTXPAR_ERR_ARGUMENT, "--out: empty output path");
        } else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            status = ctxpar_error(CTXPAR_ERR_EXISTS, "output %s is a directory; give a file name",
                                  path);
        } else if (stat(path, &st) == 0 && !overwrite) {
            status = ctxpar_error(CTXPAR_ERR_EXISTS,
                                  "output %s already exists; pass --overwrite to replace it, or "
                                  "choose another --out",
                                  path);
        } else {
            /* Try the very file we will create: permissions, missing directory,
             * read-only file system all show here, before any work. */
            int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd < 0)
                status = ctxpar_error(CTXPAR_ERR_IO, "cannot create output %s: %s", tmp,
                                      strerror(errno));
            else {
                close(fd);
                unlink(tmp);
                int64_t free_bytes = free_bytes_beside(path);
                if (free_bytes >= 0 && free_bytes < max_bytes)
                    status = ctxpar_error(CTXPAR_ERR_IO,
                                          "output %s may need up to %.1f MiB but its file system "
                                          "has %.1f MiB free; free some space or choose another "
                                          "--out",
                                          path, max_bytes / 1048576.0, free_bytes / 1048576.0);
            }
        }
    }
    return ctxpar_comm_agree(comm, status);
}

static herr_t make_group(hid_t file, const char *name) {
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
    H5Pset_obj_track_times(gcpl, 0);
    hid_t group = H5Gcreate2(file, name, H5P_DEFAULT, gcpl, H5P_DEFAULT);
    H5Pclose(gcpl);
    return group < 0 ? -1 : H5Gclose(group);
}

/* Collective write of this rank's block [offset, offset+count) along dim 0. */
static herr_t write_rows(hid_t file, const char *name, hid_t type, int ndim,
                         const hsize_t *dims_total, hsize_t offset, hsize_t count,
                         const void *data) {
    hsize_t start[4] = {offset, 0, 0, 0}, block[4];
    for (int i = 0; i < ndim; i++) block[i] = i == 0 ? count : dims_total[i];
    hid_t fspace = H5Screate_simple(ndim, dims_total, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_obj_track_times(dcpl, 0); /* no timestamps: identical runs, identical bytes */
    hid_t dset = H5Dcreate2(file, name, type, fspace, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    hid_t mspace = H5Screate_simple(ndim, block, NULL);
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    herr_t rc = (fspace < 0 || dset < 0 || mspace < 0 || dxpl < 0) ? -1 : 0;
    if (rc == 0) rc = H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
    if (rc == 0) {
        if (count > 0) {
            rc = H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, block, NULL);
        } else {
            rc = H5Sselect_none(fspace);
            if (rc >= 0) rc = H5Sselect_none(mspace);
        }
    }
    if (rc >= 0) rc = H5Dwrite(dset, type, mspace, fspace, dxpl, count > 0 ? data : NULL);
    if (dxpl >= 0) H5Pclose(dxpl);
    if (mspace >= 0) H5Sclose(mspace);
    if (dset >= 0) H5Dclose(dset);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (fspace >= 0) H5Sclose(fspace);
    return rc;
}

#define WRITER_CHECK(call)                                                         \
    do {                                                                           \
        errno = 0;                                                                 \
        if ((call) < 0) {                                                          \
            status = write_error(path, #call, __FILE__, __LINE__, errno);          \
            goto fail;                                                             \
        }                                                                          \
    } while (0)

/* A failed HDF5 call while writing: when the system said why (disk full,
 * quota, file too large, I/O error) or the disk is full, that is the
 * message; else HDF5's. */
static ctxpar_status write_error(const char *path, const char *call, const char *file, int line,
                                 int err) {
    if (err == ENOSPC || err == EDQUOT || err == EFBIG || err == EIO || err == EROFS)
        return ctxpar_error(CTXPAR_ERR_IO, "cannot write output %s: %s", path, strerror(err));
    /* The error may have been another rank's write; the disk tells. */
    int64_t free_bytes = free_bytes_beside(path);
    if (free_bytes >= 0 && free_bytes < (1 << 20))
        return ctxpar_error(CTXPAR_ERR_IO, "cannot write output %s: its file system is full",
                            path);
    return ctxpar_hdf5_error(call, file, line);
}

ctxpar_status ctxpar_output_write(ctxpar_comm_t comm, const char *path, int overwrite,
                                  const ctxpar_output *out) {
    ctxpar_status status = CTXPAR_OK;
    char tmp[1200];
    hid_t fapl = -1, file = -1;
    int64_t row0 = 0, n_total = 0;
    temp_name(path, tmp, sizeof tmp);

    CTXPAR_TRY(ctxpar_comm_exscan_i64(comm, out->n_records, &row0, &n_total));

    ctxpar_interrupt_guard_file(tmp);
    WRITER_CHECK(fapl = H5Pcreate(H5P_FILE_ACCESS));
    WRITER_CHECK(H5Pset_fapl_mpio(fapl, ctxpar_comm_mpi(comm), MPI_INFO_NULL));
    WRITER_CHECK(file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl));

    if (out->n_timings > 0) WRITER_CHECK(make_group(file, "timings"));
    if (!out->latents_only) {
        WRITER_CHECK(make_group(file, "tokens"));
        hsize_t fdims[2] = {(hsize_t)n_total, (hsize_t)out->dim};
        WRITER_CHECK(write_rows(file, "tokens/features", H5T_NATIVE_FLOAT, 2, fdims,
                                (hsize_t)row0, (hsize_t)out->n_records, out->features));
        const char *int_names[6] = {"tokens/t_start", "tokens/t_end", "tokens/level",
                                    "tokens/y", "tokens/x", "tokens/size"};
        const int32_t *int_data[6] = {out->t_start, out->t_end, out->level,
                                      out->y, out->x, out->size};
        for (int i = 0; i < 6; i++)
            WRITER_CHECK(write_rows(file, int_names[i], H5T_NATIVE_INT32, 1, fdims,
                                    (hsize_t)row0, (hsize_t)out->n_records, int_data[i]));
        if (out->position_ids) {
            hsize_t pdims[2] = {(hsize_t)n_total, 3};
            WRITER_CHECK(write_rows(file, "tokens/position_ids", H5T_NATIVE_INT32, 2, pdims,
                                    (hsize_t)row0, (hsize_t)out->n_records, out->position_ids));
        }
    }
    hsize_t ldims[4] = {(hsize_t)out->latent_frames, (hsize_t)out->latent_h,
                        (hsize_t)out->latent_w, (hsize_t)out->latent_z};
    if (out->latents)
        WRITER_CHECK(write_rows(file, "latents", H5T_NATIVE_FLOAT, 4, ldims,
                                (hsize_t)out->latent_first, (hsize_t)out->latent_count,
                                out->latents));
    if (out->latents_logvar)
        WRITER_CHECK(write_rows(file, "latents_logvar", H5T_NATIVE_FLOAT, 4, ldims,
                                (hsize_t)out->latent_first, (hsize_t)out->latent_count,
                                out->latents_logvar));
    if (out->n_timings > 0) {
        int rank = ctxpar_comm_rank(comm);
        hsize_t tdims[1] = {(hsize_t)out->ranks};
        for (int i = 0; i < out->n_timings; i++) {
            char name[128];
            snprintf(name, sizeof name, "timings/%s", out->timing_names[i]);
            WRITER_CHECK(write_rows(file, name, H5T_NATIVE_DOUBLE, 1, tdims, (hsize_t)rank, 1,
                                    &out->timings[i]));
        }
    }
    WRITER_CHECK(ctxpar_hdf5_write_string_attr(file, "format",
                             out->latents_only ? "ctxpar-latents" : "ctxpar-features"));
    if (out->family) WRITER_CHECK(ctxpar_hdf5_write_string_attr(file, "family", out->family));
    if (out->latents_only) {
        WRITER_CHECK(ctxpar_hdf5_write_double_attr(file, "scaling_factor", out->scaling_factor));
        if (out->invert_scale_latents >= 0)
            WRITER_CHECK(ctxpar_hdf5_write_int64_attr(file, "invert_scale_latents",
                                                      out->invert_scale_latents));
    }
    WRITER_CHECK(ctxpar_hdf5_write_int64_attr(file, "format_version", 1));
    WRITER_CHECK(ctxpar_hdf5_write_string_attr(file, "ctxpar_version", CTXPAR_VERSION_STRING));
    WRITER_CHECK(
        ctxpar_hdf5_write_string_attr(file, "config", out->config_json ? out->config_json : "{}"));
    WRITER_CHECK(ctxpar_hdf5_write_int64_attr(file, "frames", out->frames));
    WRITER_CHECK(ctxpar_hdf5_write_int64_attr(file, "height", out->height));
    WRITER_CHECK(ctxpar_hdf5_write_int64_attr(file, "width", out->width));
    WRITER_CHECK(ctxpar_hdf5_write_int64_attr(file, "ranks", out->ranks));
    if (!out->latents_only) {
        WRITER_CHECK(ctxpar_hdf5_write_int64_attr(file, "tokens", out->tokens));
        WRITER_CHECK(ctxpar_hdf5_write_int64_attr(file, "records", n_total));
    }
    WRITER_CHECK(ctxpar_hdf5_write_int64_attr(file, "complete", 1)); /* last: the file is whole */
    WRITER_CHECK(H5Fclose(file));
    file = -1;
    H5Pclose(fapl);
    fapl = -1;

    CTXPAR_TRY(ctxpar_comm_barrier(comm));
    if (ctxpar_comm_rank(comm) == 0) {
        struct stat st;
        if (!overwrite && stat(path, &st) == 0) {
            status = ctxpar_error(CTXPAR_ERR_EXISTS,
                                  "output %s appeared during the run; pass --overwrite to replace it",
                                  path);
            unlink(tmp);
        } else if (rename(tmp, path) != 0) {
            status = ctxpar_error(CTXPAR_ERR_IO, "cannot rename %s to %s: %s", tmp, path,
                                  strerror(errno));
            unlink(tmp);
        }
    }
    ctxpar_interrupt_guard_file(NULL);
    return ctxpar_comm_agree(comm, status);

fail:
    unlink(tmp);
    ctxpar_comm_abort(comm, status);
}
