/* Counting allocator (see memory.h). A 64-byte header in front of each block
 * keeps its size and stage, so free needs no table. */
#include "runtime/core/memory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEM_HEADER 64

typedef struct mem_header {
    int64_t bytes;
    int32_t stage;
    uint32_t magic;
} mem_header;

#define MEM_MAGIC 0xC7A9BEEFu

static ctxpar_mem_stats stats;

/* CTXPAR_MEM_POISON=1 (the test suite sets it): an unzeroed block is
 * filled with all-ones bytes, a NaN in every float, so that a read of it
 * before its first write shows in the results instead of passing on
 * whatever the heap held. */
static int poison_unzeroed(void) {
    static int poison = -1;
    if (poison < 0) {
        const char *e = getenv("CTXPAR_MEM_POISON");
        poison = e && *e && strcmp(e, "0") != 0;
    }
    return poison;
}

static void *mem_alloc(size_t bytes, ctxpar_mem_stage stage, const char *what, int zero) {
    void *raw = NULL;
    if (posix_memalign(&raw, 64, bytes + MEM_HEADER) != 0 || raw == NULL) {
        ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory allocating %.1f MiB for %s",
                     (double)bytes / (1 << 20), what ? what : "a buffer");
        return NULL;
    }
    memset(raw, 0, zero ? bytes + MEM_HEADER : MEM_HEADER);
    if (!zero && poison_unzeroed()) memset((char *)raw + MEM_HEADER, 0xff, bytes);
    mem_header *h = raw;
    h->bytes = (int64_t)bytes;
    h->stage = stage;
    h->magic = MEM_MAGIC;
    stats.current_bytes += (int64_t)bytes;
    stats.stage_current[stage] += (int64_t)bytes;
    if (stats.current_bytes > stats.peak_bytes) stats.peak_bytes = stats.current_bytes;
    if (stats.stage_current[stage] > stats.stage_peak[stage])
        stats.stage_peak[stage] = stats.stage_current[stage];
    return (char *)raw + MEM_HEADER;
}

void *ctxpar_mem_alloc(size_t bytes, ctxpar_mem_stage stage, const char *what) {
    return mem_alloc(bytes, stage, what, 1);
}

void *ctxpar_mem_alloc_unzeroed(size_t bytes, ctxpar_mem_stage stage, const char *what) {
    return mem_alloc(bytes, stage, what, 0);
}

void ctxpar_mem_free(void *ptr) {
    if (!ptr) return;
    mem_header *h = (mem_header *)((char *)ptr - MEM_HEADER);
    if (h->magic != MEM_MAGIC) {
        fprintf(stderr, "ctxpar: internal error: ctxpar_mem_free of a foreign pointer\n");
        abort();
    }
    stats.current_bytes -= h->bytes;
    stats.stage_current[h->stage] -= h->bytes;
    h->magic = 0;
    free(h);
}

ctxpar_status ctxpar_mem_alloc_floats(float **out, int64_t count, ctxpar_mem_stage stage,
                                      const char *what) {
    *out = ctxpar_mem_alloc((size_t)(count > 0 ? count : 1) * sizeof(float), stage, what);
    return *out ? CTXPAR_OK : CTXPAR_ERR_NO_MEMORY;
}

void ctxpar_mem_get_stats(ctxpar_mem_stats *out) { *out = stats; }

int64_t ctxpar_mem_peak_rss(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    int64_t kib = 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0) {
            kib = strtoll(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kib * 1024;
}

int64_t ctxpar_mem_pss_of(const void *const *ptrs, const int64_t *bytes, int n) {
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f || n <= 0) {
        if (f) fclose(f);
        return -1;
    }
    char line[512];
    int inside = 0;
    int64_t kib = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long start = 0, end = 0;
        /* a mapping's header: "start-end perms offset dev inode path" */
        if (sscanf(line, "%lx-%lx ", &start, &end) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            inside = 0;
            for (int i = 0; i < n; i++) {
                const uintptr_t lo = (uintptr_t)ptrs[i], hi = lo + (uintptr_t)bytes[i];
                if (ptrs[i] && bytes[i] > 0 && start < hi && end > lo) inside = 1;
            }
            continue;
        }
        if (inside && strncmp(line, "Pss:", 4) == 0) kib += strtoll(line + 4, NULL, 10);
    }
    fclose(f);
    return kib * 1024;
}
