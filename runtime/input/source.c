/* The source-kind dispatch (see source.h): the only code that knows every
 * kind. --input tells HDF5 from a video file by content, not by name. */
#include "runtime/input/source.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* 1 when the file starts with the HDF5 signature (at 0, 512, 1024, ...),
 * 0 when it does not or cannot be read: what --input uses to tell HDF5 from
 * video by content. */
static int is_hdf5_file(const char *path) {
    static const unsigned char signature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    int found = 0;
    /* The superblock sits at 0 or, after a user block, at 512, 1024, 2048, ... */
    for (long offset = 0; offset <= (1L << 30) && !found; offset = offset ? offset * 2 : 512) {
        unsigned char head[8];
        if (fseek(f, offset, SEEK_SET) != 0 || fread(head, 1, 8, f) != 8) break;
        found = memcmp(head, signature, 8) == 0;
    }
    fclose(f);
    return found;
}

ctxpar_status ctxpar_source_parse_input(const char *spec, ctxpar_source *out) {
    if (!spec || !*spec)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT, "--input needs FILE[:DATASET], got nothing");
    const char *path = spec, *dataset = "video";
    size_t path_len = strlen(spec);
    struct stat st;
    const char *colon = strrchr(spec, ':');
    if (colon && stat(spec, &st) != 0) {
        path_len = (size_t)(colon - spec);
        if (colon[1] != '\0') dataset = colon + 1;
    }
    if (path_len == 0)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT, "--input %s: the file name is empty", spec);
    if (path_len >= sizeof out->path || strlen(dataset) >= sizeof out->dataset)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT, "--input %s: file or dataset name too long", spec);
    out->kind = CTXPAR_SOURCE_HDF5;
    memcpy(out->path, path, path_len);
    out->path[path_len] = '\0';
    snprintf(out->dataset, sizeof out->dataset, "%s", dataset);
    out->file_frames = 0;
    /* ---- video files: an existing file without the HDF5 signature is a
     * video; its dataset stays empty unless one was named (an error then). */
    if (stat(out->path, &st) == 0 && S_ISREG(st.st_mode) && !is_hdf5_file(out->path)) {
        out->kind = CTXPAR_SOURCE_VIDEO;
        snprintf(out->dataset, sizeof out->dataset, "%s",
                 path_len < strlen(spec) && spec[path_len + 1] ? spec + path_len + 1 : "");
    }
    /* ---- end video files ---- */
    return CTXPAR_OK;
}

ctxpar_status ctxpar_source_probe(ctxpar_comm_t comm, ctxpar_source *source) {
    if (source->kind == CTXPAR_SOURCE_VIDEO) return ctxpar_source_probe_video(comm, source);
    if (source->kind == CTXPAR_SOURCE_SYNTHETIC) {
        /* Nothing to open; the same check on every rank gives the same answer. */
        if (source->frames < 1 || source->height < 1 || source->width < 1)
            return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                                "synthetic video: %lld frames of %lldx%lld (WxH), expected a "
                                "positive frame count and size",
                                (long long)source->frames, (long long)source->width,
                                (long long)source->height);
        return CTXPAR_OK;
    }
    return ctxpar_source_probe_hdf5(comm, source);
}

ctxpar_status ctxpar_source_read(ctxpar_comm_t comm, const ctxpar_source *source,
                                 int64_t first_frame, int64_t n_frames, float *out) {
    ctxpar_status status;
    if (source->kind == CTXPAR_SOURCE_HDF5)
        status = ctxpar_source_read_hdf5(comm, source, first_frame, n_frames, out);
    else if (source->kind == CTXPAR_SOURCE_VIDEO)
        status = ctxpar_source_read_video(comm, source, first_frame, n_frames, out);
    else
        status = ctxpar_source_read_synthetic(source, first_frame, n_frames, out);
    return ctxpar_comm_agree(comm, status);
}

void ctxpar_source_describe(const ctxpar_source *source, char *out, size_t cap) {
    if (source->kind == CTXPAR_SOURCE_HDF5)
        snprintf(out, cap, "%s:%s", source->path, source->dataset);
    else if (source->kind == CTXPAR_SOURCE_VIDEO)
        snprintf(out, cap, "%s", source->path);
    else
        snprintf(out, cap, "synthetic");
}
