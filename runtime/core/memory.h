/* The one allocator: every buffer of a rank (weights, activations, scratch,
 * communication buffers) goes through it, so the per-stage and peak numbers in
 * the summary and the --mem-limit plan are measurements, not guesses. Blocks
 * are 64-byte aligned (AVX-512 loads, no false sharing between threads).
 * Counters are per process (= per rank); allocation happens outside OpenMP
 * regions, so they need no locking. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

typedef enum ctxpar_mem_stage {
    CTXPAR_MEM_MODEL,
    CTXPAR_MEM_INPUT,
    CTXPAR_MEM_VAE,
    CTXPAR_MEM_TOKENS,
    CTXPAR_MEM_TRANSFORMER,
    CTXPAR_MEM_MERGE,
    CTXPAR_MEM_OUTPUT,
    CTXPAR_MEM_COMM,
    CTXPAR_MEM_STAGE_COUNT
} ctxpar_mem_stage;

/* Zero-initialised, 64-byte aligned; NULL (and an error detail) on failure. */
void *ctxpar_mem_alloc(size_t bytes, ctxpar_mem_stage stage, const char *what);
/* The same, not zeroed: for large buffers every reader finds written first
 * and that are made anew often (ring attention's K/V buffers and partials,
 * every layer), where zeroing cost a few percent of a bf16 transformer.
 * With CTXPAR_MEM_POISON=1 (set by the test suite) they come filled with
 * NaN instead, so a read before the first write cannot pass unseen. */
void *ctxpar_mem_alloc_unzeroed(size_t bytes, ctxpar_mem_stage stage, const char *what);
void ctxpar_mem_free(void *ptr);

/* Allocate and report CTXPAR_ERR_NO_MEMORY with what/bytes on failure. */
ctxpar_status ctxpar_mem_alloc_floats(float **out, int64_t count, ctxpar_mem_stage stage,
                                      const char *what);

typedef struct ctxpar_mem_stats {
    int64_t current_bytes;
    int64_t peak_bytes;
    int64_t stage_current[CTXPAR_MEM_STAGE_COUNT];
    int64_t stage_peak[CTXPAR_MEM_STAGE_COUNT];
} ctxpar_mem_stats;

void ctxpar_mem_get_stats(ctxpar_mem_stats *out);
/* The process's peak resident set (VmHWM), in bytes: what the OS saw,
 * including libraries and MPI buffers the allocator cannot count. */
int64_t ctxpar_mem_peak_rss(void);

/* Proportional set size of the mappings that hold the n ranges
 * [ptrs[i], ptrs[i] + bytes[i]), each mapping counted once however many of
 * the ranges it holds: pages shared by k processes count 1/k. Summed over the
 * ranks of a node it shows whether they hold one copy of a buffer or one
 * each; -1 when unknown. */
int64_t ctxpar_mem_pss_of(const void *const *ptrs, const int64_t *bytes, int n);
