/* What the fuzz targets share. Each target is one LLVMFuzzerTestOneInput
 * over a reader ctxpar exposes to files it did not write; the readers take
 * paths (they map or demux files), so the input is written to a scratch
 * file first. The MPI-collective readers run on a one-rank communicator
 * made once. The same sources build two ways (tests/fuzz.cmake): with
 * libFuzzer in the sanitizer build, and with replay_main.c in every build,
 * where they run the kept corpus as regression inputs. */
#pragma once
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/status.h"
#include "comm/comm.h"
#include "runtime/input/source.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A path of this process's own under $TMPDIR (or /tmp), `name` appended. */
static inline const char *fuzz_scratch(const char *name) {
    static char path[512];
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/ctxpar-fuzz-%ld-%s", tmp && *tmp ? tmp : "/tmp",
             (long)getpid(), name);
    return path;
}

/* Write size bytes to path (a failed write aborts: the harness, not the
 * reader, would be at fault). */
static inline void fuzz_write_file(const char *path, const uint8_t *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

static ctxpar_comm_t fuzz_comm_;

static inline void fuzz_comm_finalize(void) {
    ctxpar_comm_free(fuzz_comm_);
    MPI_Finalize();
}

/* The one-rank communicator, made at the first call (MPI_Init as a
 * singleton) and finalized at exit, so MPI's own memory is not reported. */
static inline ctxpar_comm_t fuzz_comm(void) {
    if (!fuzz_comm_) {
        int argc = 0;
        char **argv = NULL;
        MPI_Init(&argc, &argv);
        if (ctxpar_comm_init(&fuzz_comm_, MPI_COMM_WORLD) != CTXPAR_OK) abort();
        atexit(fuzz_comm_finalize);
    }
    return fuzz_comm_;
}

/* A reader must either succeed or leave an error message: a failure with
 * no message is a finding too (the user would see an empty error line). */
static inline void fuzz_check_failure(ctxpar_status status) {
    if (status != CTXPAR_OK && !ctxpar_error_detail()[0]) {
        fprintf(stderr, "fuzz: status %d with no error message\n", (int)status);
        abort();
    }
    if (getenv("CTXPAR_FUZZ_VERBOSE")) /* what each input got: accepted, or the message */
        fprintf(stderr, "fuzz: %s\n", status == CTXPAR_OK ? "accepted" : ctxpar_error_detail());
    ctxpar_error_clear();
}

/* What every accepted probe must give: a shape inside the bounds the probes
 * enforce (source_types.h). */
static inline void fuzz_check_shape(const ctxpar_source *src) {
    if (src->frames <= 0 || src->height <= 0 || src->width <= 0 ||
        src->frames > CTXPAR_SOURCE_MAX_FRAMES || src->height > CTXPAR_SOURCE_MAX_SIDE ||
        src->width > CTXPAR_SOURCE_MAX_SIDE)
        abort();
}

/* Read frames [t, t + n) of a probed source (skipped when out of range);
 * a read that succeeds must give pixels in [-1, 1]. */
static inline void fuzz_read_frames(ctxpar_comm_t comm, const ctxpar_source *src, int64_t t,
                                    int64_t n) {
    if (t < 0 || n < 1 || t + n > src->frames) return;
    const int64_t count = 3 * n * src->height * src->width;
    float *out = malloc((size_t)count * sizeof *out);
    if (!out) abort();
    ctxpar_status status = ctxpar_source_read(comm, src, t, n, out);
    fuzz_check_failure(status);
    if (status == CTXPAR_OK)
        for (int64_t i = 0; i < count; i++)
            if (!(out[i] >= -1.0f && out[i] <= 1.0f)) abort();
    free(out);
}

/* Split data at the 4-byte separator "\n%%\n" into at most max parts; returns the count. */
static inline int fuzz_split(const uint8_t *data, size_t size, const uint8_t **parts,
                             size_t *lengths, int max) {
    int n = 0;
    size_t start = 0;
    for (size_t i = 0; i + 4 <= size && n < max - 1; i++) {
        if (memcmp(data + i, "\n%%\n", 4) == 0) {
            parts[n] = data + start, lengths[n] = i - start, n++;
            start = i + 4, i += 3;
        }
    }
    parts[n] = data + start, lengths[n] = size - start, n++;
    return n;
}
