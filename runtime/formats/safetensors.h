/* Reader for the safetensors files that released models ship their weights in
 * (diffusers and transformers folders). The file is mapped read-only and
 * shared, never copied: a tensor's data points into the mapping, so opening a
 * multi-gigabyte checkpoint costs page-table entries, not memory, and ranks on
 * one node share the page cache. Everything the header claims is checked at
 * open (types, shapes, offsets inside the file, sizes that match the shape, no
 * two tensors sharing bytes), so later code can trust a tensor's fields.
 *
 * Format: an 8-byte little-endian header length N, N bytes of JSON mapping
 * each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (plus
 * an optional "__metadata__" object, skipped), then the data section; offsets
 * count from the first byte after the header. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

typedef enum ctxpar_st_dtype {
    CTXPAR_ST_F32,
    CTXPAR_ST_F16,
    CTXPAR_ST_BF16,
    CTXPAR_ST_F64
} ctxpar_st_dtype;

typedef struct ctxpar_st_tensor {
    char *name;
    ctxpar_st_dtype dtype;
    int ndim;                 /* 0..8 */
    int64_t shape[8];
    int64_t count;            /* product of shape (1 for ndim 0) */
    const void *data;         /* into the mapping */
    int64_t bytes;
} ctxpar_st_tensor;

typedef struct ctxpar_safetensors {
    char path[1024];
    const void *map;
    size_t map_bytes;         /* the whole file, mmap'd read-only (MAP_SHARED) */
    int n_tensors;
    ctxpar_st_tensor *tensors; /* in header order */
} ctxpar_safetensors;

/* Map and validate. Errors (CTXPAR_ERR_IO / CTXPAR_ERR_FORMAT; a path of 1024
 * bytes or more is CTXPAR_ERR_ARGUMENT) are one line naming the file and,
 * where it applies, the tensor. */
ctxpar_status ctxpar_safetensors_open(const char *path, ctxpar_safetensors **out);
void ctxpar_safetensors_close(ctxpar_safetensors *st);
/* NULL if absent (binary search over a name index built at open). */
const ctxpar_st_tensor *ctxpar_safetensors_find(const ctxpar_safetensors *st, const char *name);
/* "F32", "F16", "BF16", "F64". */
const char *ctxpar_st_dtype_name(ctxpar_st_dtype dtype);

/* Convert to float32: F32 is copied, F16 and BF16 widen exactly (subnormals,
 * infinities and NaN kept; a signalling NaN comes back quiet), F64 rounds to
 * nearest. dst holds t->count floats. Uses AVX-512 or F16C/AVX2 where the CPU
 * has them (a scalar loop otherwise) and OpenMP threads over large tensors. */
void ctxpar_safetensors_to_f32(const ctxpar_st_tensor *t, float *dst);
/* A BF16 tensor's values as they are (16-bit patterns in host order), for
 * code that packs bf16 without a float32 copy. dst holds t->count values;
 * t must be BF16. */
void ctxpar_safetensors_copy_bf16(const ctxpar_st_tensor *t, uint16_t *dst);
