/* Opening and validating a safetensors file (see safetensors.h; conversion to
 * float32 lives in safetensors_f32.c). The header is the only part read into
 * memory, and only to give the JSON parser a NUL-terminated copy; tensor data
 * stay in the mapping. Every check names the file and, once past the header
 * syntax, the tensor, because a user holding a broken download needs to know
 * which file and what to fetch again. The handle is a larger private struct
 * whose first member is the public one, so the name index for find() stays
 * out of the interface. */
#include "runtime/formats/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/formats/json.h"

/* A header beyond this is not a model's tensor table but a corrupt length. */
#define ST_MAX_HEADER_BYTES (100ull << 20)
/* Integers in the header travel as JSON doubles: exact up to 2^53. */
#define ST_MAX_EXACT_INT 9007199254740992.0

typedef struct st_file {
    ctxpar_safetensors pub; /* first: the handle callers hold */
    ctxpar_st_tensor **by_name;
    int64_t *begins;        /* data_offsets[0] of each tensor, header order */
    /* a sharded checkpoint's index: the shards, mapped until close; the
     * tensors above are copies of theirs pointing into their mappings */
    ctxpar_safetensors **shards;
    int n_shards;
} st_file;

static const struct {
    const char *name;
    ctxpar_st_dtype dtype;
    int itemsize;
} st_dtypes[] = {{"F32", CTXPAR_ST_F32, 4},
                 {"F16", CTXPAR_ST_F16, 2},
                 {"BF16", CTXPAR_ST_BF16, 2},
                 {"F64", CTXPAR_ST_F64, 8}};
#define ST_N_DTYPES ((int)(sizeof st_dtypes / sizeof st_dtypes[0]))

const char *ctxpar_st_dtype_name(ctxpar_st_dtype dtype) {
    for (int i = 0; i < ST_N_DTYPES; i++)
        if (st_dtypes[i].dtype == dtype) return st_dtypes[i].name;
    return "?";
}

/* A JSON number that is a whole number in [0, 2^53], or -1. */
static int64_t st_json_index(const ctxpar_json *v) {
    if (!v || v->kind != CTXPAR_JSON_NUMBER) return -1;
    if (v->number < 0 || v->number > ST_MAX_EXACT_INT || v->number != floor(v->number)) return -1;
    return (int64_t)v->number;
}

/* Fill one tensor from its header entry; data_bytes is the data section's size. */
static ctxpar_status st_read_entry(const char *path, const char *name, const ctxpar_json *entry,
                                   int64_t data_bytes, const unsigned char *data_section,
                                   ctxpar_st_tensor *t, int64_t *begin_out) {
    if (entry->kind != CTXPAR_JSON_OBJECT)
        return ctxpar_error(CTXPAR_ERR_FORMAT,
                            "%s: tensor %s: header entry is %s (line %d, column %d), expected an "
                            "object with dtype, shape and data_offsets",
                            path, name, ctxpar_json_kind_name(entry->kind), entry->line,
                            entry->column);
    static const char *const required[] = {"dtype", "shape", "data_offsets"};
    static const ctxpar_json_kind required_kind[] = {CTXPAR_JSON_STRING, CTXPAR_JSON_ARRAY,
                                                     CTXPAR_JSON_ARRAY};
    for (int k = 0; k < 3; k++) {
        const ctxpar_json *v = ctxpar_json_get(entry, required[k]);
        if (!v)
            return ctxpar_error(CTXPAR_ERR_FORMAT,
                                "%s: tensor %s: header entry has no \"%s\" (line %d, column %d); "
                                "each entry needs dtype, shape and data_offsets",
                                path, name, required[k], entry->line, entry->column);
        if (v->kind != required_kind[k])
            return ctxpar_error(CTXPAR_ERR_FORMAT,
                                "%s: tensor %s: \"%s\" is %s (line %d, column %d), expected %s",
                                path, name, required[k], ctxpar_json_kind_name(v->kind), v->line,
                                v->column, ctxpar_json_kind_name(required_kind[k]));
    }

    const char *dtype = ctxpar_json_get(entry, "dtype")->string;
    int itemsize = 0;
    for (int i = 0; i < ST_N_DTYPES; i++)
        if (strcmp(dtype, st_dtypes[i].name) == 0) {
            t->dtype = st_dtypes[i].dtype;
            itemsize = st_dtypes[i].itemsize;
        }
    if (!itemsize)
        return ctxpar_error(CTXPAR_ERR_FORMAT,
                            "%s: tensor %s: dtype %s is not supported (supported: F32, F16, BF16, "
                            "F64)",
                            path, name, dtype);

    const ctxpar_json *shape = ctxpar_json_get(entry, "shape");
    if (shape->n_items > 8)
        return ctxpar_error(CTXPAR_ERR_FORMAT, "%s: tensor %s: shape has %d dimensions, at most 8",
                            path, name, shape->n_items);
    t->ndim = shape->n_items;
    t->count = 1;
    int count_overflow = 0;
    for (int d = 0; d < t->ndim; d++) {
        const ctxpar_json *dim = shape->items[d];
        int64_t extent = st_json_index(dim);
        if (extent < 0) {
            if (dim->kind == CTXPAR_JSON_NUMBER)
                return ctxpar_error(CTXPAR_ERR_FORMAT,
                                    "%s: tensor %s: shape[%d] is %.17g, expected a non-negative "
                                    "integer",
                                    path, name, d, dim->number);
            return ctxpar_error(CTXPAR_ERR_FORMAT,
                                "%s: tensor %s: shape[%d] is %s, expected a non-negative integer",
                                path, name, d, ctxpar_json_kind_name(dim->kind));
        }
        t->shape[d] = extent;
        count_overflow |= __builtin_mul_overflow(t->count, extent, &t->count);
    }

    const ctxpar_json *offsets = ctxpar_json_get(entry, "data_offsets");
    int64_t begin = offsets->n_items == 2 ? st_json_index(offsets->items[0]) : -1;
    int64_t end = offsets->n_items == 2 ? st_json_index(offsets->items[1]) : -1;
    if (begin < 0 || end < 0)
        return ctxpar_error(CTXPAR_ERR_FORMAT,
                            "%s: tensor %s: data_offsets (line %d, column %d) must be two "
                            "non-negative integers [begin, end]",
                            path, name, offsets->line, offsets->column);
    if (end < begin)
        return ctxpar_error(CTXPAR_ERR_FORMAT,
                            "%s: tensor %s: data_offsets [%lld, %lld] end before begin", path,
                            name, (long long)begin, (long long)end);
    if (end > data_bytes)
        return ctxpar_error(CTXPAR_ERR_FORMAT,
                            "%s: tensor %s: data_offsets [%lld, %lld] end beyond the data section "
                            "(%lld bytes): the file is truncated (%lld bytes short); download it "
                            "again",
                            path, name, (long long)begin, (long long)end, (long long)data_bytes,
                            (long long)(end - data_bytes));
    int64_t want_bytes = 0;
    if (count_overflow || __builtin_mul_overflow(t->count, (int64_t)itemsize, &want_bytes) ||
        want_bytes != end - begin) {
        char dims[8 * 21 + 2] = "";
        for (int d = 0; d < t->ndim; d++) {
            size_t used = strlen(dims);
            snprintf(dims + used, sizeof dims - used, "%s%lld", d ? ", " : "",
                     (long long)t->shape[d]);
        }
        if (count_overflow)
            return ctxpar_error(CTXPAR_ERR_FORMAT,
                                "%s: tensor %s: shape [%s] has more elements than fit 64 bits",
                                path, name, dims);
        return ctxpar_error(CTXPAR_ERR_FORMAT,
                            "%s: tensor %s: data_offsets [%lld, %lld] hold %lld bytes, but shape "
                            "[%s] of %s needs %lld x %d = %lld bytes",
                            path, name, (long long)begin, (long long)end,
                            (long long)(end - begin), dims, dtype, (long long)t->count, itemsize,
                            (long long)t->count * itemsize);
    }
    t->bytes = end - begin;
    t->data = data_section + begin;
    *begin_out = begin;
    return CTXPAR_OK;
}

typedef struct st_range {
    int64_t begin, end;
    int tensor;
} st_range;

static int st_compare_ranges(const void *a, const void *b) {
    const st_range *ra = a, *rb = b;
    if (ra->begin != rb->begin) return ra->begin < rb->begin ? -1 : 1;
    return ra->tensor - rb->tensor;
}

static int st_compare_by_name(const void *a, const void *b) {
    return strcmp((*(ctxpar_st_tensor *const *)a)->name, (*(ctxpar_st_tensor *const *)b)->name);
}

/* No two tensors with bytes may share one. Sorted by begin, a range overlaps
 * an earlier one exactly when it starts before the furthest end seen so far. */
static ctxpar_status st_check_overlaps(st_file *f) {
    int n = f->pub.n_tensors;
    st_range *ranges = malloc(sizeof *ranges * (size_t)(n ? n : 1));
    if (!ranges) return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "%s: out of memory", f->pub.path);
    int n_nonempty = 0;
    for (int i = 0; i < n; i++)
        if (f->pub.tensors[i].bytes > 0)
            ranges[n_nonempty++] =
                (st_range){f->begins[i], f->begins[i] + f->pub.tensors[i].bytes, i};
    qsort(ranges, (size_t)n_nonempty, sizeof *ranges, st_compare_ranges);
    ctxpar_status status = CTXPAR_OK;
    const st_range *furthest = NULL;
    for (int k = 0; k < n_nonempty; k++) {
        const st_range *r = &ranges[k];
        if (furthest && r->begin < furthest->end) {
            status = ctxpar_error(CTXPAR_ERR_FORMAT,
                                  "%s: tensors %s (data_offsets [%lld, %lld]) and %s "
                                  "(data_offsets [%lld, %lld]) overlap in the data section",
                                  f->pub.path, f->pub.tensors[furthest->tensor].name,
                                  (long long)furthest->begin, (long long)furthest->end,
                                  f->pub.tensors[r->tensor].name, (long long)r->begin,
                                  (long long)r->end);
            break;
        }
        if (!furthest || r->end > furthest->end) furthest = r;
    }
    free(ranges);
    return status;
}

/* Parse and check the header; fills f->pub.tensors and the name index. */
static ctxpar_status st_read_header(st_file *f, uint64_t header_bytes) {
    const char *path = f->pub.path;
    const unsigned char *bytes = f->pub.map;
    ctxpar_json *root = NULL;
    ctxpar_status status = CTXPAR_OK;
    char *text = malloc((size_t)header_bytes + 1);
    if (!text) return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "%s: out of memory", path);
    memcpy(text, bytes + 8, (size_t)header_bytes);
    text[header_bytes] = '\0';
    const char *nul = memchr(text, '\0', (size_t)header_bytes);
    if (nul) {
        status = ctxpar_error(CTXPAR_ERR_FORMAT,
                              "%s: safetensors header holds a NUL byte at offset %lld of its %llu "
                              "bytes: not a safetensors file, or a corrupt one",
                              path, (long long)(nul - text), (unsigned long long)header_bytes);
        goto fail;
    }
    CTXPAR_TRY_GOTO(ctxpar_json_parse_labelled(text, path, "safetensors header JSON", &root));
    if (root->kind != CTXPAR_JSON_OBJECT) {
        status = ctxpar_error(CTXPAR_ERR_FORMAT,
                              "%s: safetensors header is %s, expected an object mapping tensor "
                              "names to {dtype, shape, data_offsets}",
                              path, ctxpar_json_kind_name(root->kind));
        goto fail;
    }
    const ctxpar_json *metadata = ctxpar_json_get(root, "__metadata__");
    if (metadata && metadata->kind != CTXPAR_JSON_OBJECT) {
        status = ctxpar_error(CTXPAR_ERR_FORMAT,
                              "%s: safetensors __metadata__ is %s (line %d, column %d), expected "
                              "an object of strings",
                              path, ctxpar_json_kind_name(metadata->kind), metadata->line,
                              metadata->column);
        goto fail;
    }

    int n = root->n_items - (metadata ? 1 : 0);
    f->pub.tensors = calloc((size_t)(n ? n : 1), sizeof *f->pub.tensors);
    f->begins = calloc((size_t)(n ? n : 1), sizeof *f->begins);
    f->by_name = calloc((size_t)(n ? n : 1), sizeof *f->by_name);
    if (!f->pub.tensors || !f->begins || !f->by_name) {
        status = ctxpar_error(CTXPAR_ERR_NO_MEMORY, "%s: out of memory for %d tensors", path, n);
        goto fail;
    }
    const int64_t data_bytes = (int64_t)(f->pub.map_bytes - 8 - header_bytes);
    const unsigned char *data_section = bytes + 8 + header_bytes;
    for (int i = 0; i < root->n_items; i++) {
        const char *name = root->keys[i];
        if (root->items[i] == metadata) continue;
        ctxpar_st_tensor *t = &f->pub.tensors[f->pub.n_tensors];
        CTXPAR_TRY_GOTO(st_read_entry(path, name, root->items[i], data_bytes, data_section, t,
                                      &f->begins[f->pub.n_tensors]));
        t->name = strdup(name);
        if (!t->name) {
            status = ctxpar_error(CTXPAR_ERR_NO_MEMORY, "%s: out of memory", path);
            goto fail;
        }
        f->by_name[f->pub.n_tensors] = t;
        f->pub.n_tensors++;
    }
    CTXPAR_TRY_GOTO(st_check_overlaps(f));
    qsort(f->by_name, (size_t)f->pub.n_tensors, sizeof *f->by_name, st_compare_by_name);
fail:
    ctxpar_json_free(root);
    free(text);
    return status;
}

static ctxpar_status st_open_index(const char *path, ctxpar_safetensors **out);

static int st_is_index(const char *path) {
    const char *suffix = ".index.json";
    const size_t len = strlen(path), n = strlen(suffix);
    return len >= n && strcmp(path + len - n, suffix) == 0;
}

ctxpar_status ctxpar_safetensors_open(const char *path, ctxpar_safetensors **out) {
    *out = NULL;
    if (!path || strlen(path) >= sizeof(((ctxpar_safetensors *)0)->path))
        return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                            "safetensors path %.64s... is too long (%zu bytes, "
                            "at most 1023)",
                            path ? path : "(null)", path ? strlen(path) : 0);
    if (st_is_index(path)) return st_open_index(path, out);
    st_file *f = calloc(1, sizeof *f);
    if (!f) return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "%s: out of memory", path);
    snprintf(f->pub.path, sizeof f->pub.path, "%s", path);
    ctxpar_status status = CTXPAR_OK;

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        status = ctxpar_error(CTXPAR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    struct stat info;
    if (fstat(fd, &info) != 0) {
        status = ctxpar_error(CTXPAR_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        goto fail;
    }
    if (!S_ISREG(info.st_mode)) {
        status = ctxpar_error(CTXPAR_ERR_IO, "%s: not a regular file", path);
        close(fd);
        goto fail;
    }
    if (info.st_size == 0) {
        status = ctxpar_error(CTXPAR_ERR_FORMAT,
                              "%s: file is empty (0 bytes); a safetensors file starts with an "
                              "8-byte header length (an interrupted download?)",
                              path);
        close(fd);
        goto fail;
    }
    if (info.st_size < 8) {
        status = ctxpar_error(CTXPAR_ERR_FORMAT,
                              "%s: file is %lld bytes, shorter than the 8-byte header length of "
                              "a safetensors file",
                              path, (long long)info.st_size);
        close(fd);
        goto fail;
    }
    void *map = mmap(NULL, (size_t)info.st_size, PROT_READ, MAP_SHARED, fd, 0);
    int map_errno = errno;
    close(fd);
    if (map == MAP_FAILED) {
        status = ctxpar_error(CTXPAR_ERR_IO, "%s: cannot map %lld bytes: %s", path,
                              (long long)info.st_size, strerror(map_errno));
        goto fail;
    }
    f->pub.map = map;
    f->pub.map_bytes = (size_t)info.st_size;

    const unsigned char *bytes = map;
    uint64_t header_bytes = 0;
    for (int i = 7; i >= 0; i--) header_bytes = header_bytes << 8 | bytes[i];
    const uint64_t room = (uint64_t)info.st_size - 8;
    if (header_bytes > ST_MAX_HEADER_BYTES) {
        status = ctxpar_error(CTXPAR_ERR_FORMAT,
                              "%s: header length %llu is absurd (over the %llu-byte limit): not a "
                              "safetensors file, or a corrupt one",
                              path, (unsigned long long)header_bytes,
                              (unsigned long long)ST_MAX_HEADER_BYTES);
        goto fail;
    }
    if (header_bytes > room) {
        status = ctxpar_error(CTXPAR_ERR_FORMAT,
                              "%s: header length %llu is more than the %llu bytes after the length "
                              "field: the file is truncated (or not a safetensors file)",
                              path, (unsigned long long)header_bytes, (unsigned long long)room);
        goto fail;
    }
    CTXPAR_TRY_GOTO(st_read_header(f, header_bytes));
    *out = &f->pub;
    return CTXPAR_OK;
fail:
    ctxpar_safetensors_close(&f->pub);
    return status;
}

void ctxpar_safetensors_close(ctxpar_safetensors *st) {
    if (!st) return;
    st_file *f = (st_file *)st;
    for (int i = 0; i < st->n_tensors; i++) free(st->tensors[i].name);
    free(st->tensors);
    free(f->by_name);
    free(f->begins);
    for (int i = 0; i < f->n_shards; i++) ctxpar_safetensors_close(f->shards[i]);
    free(f->shards);
    if (st->map) munmap((void *)st->map, st->map_bytes);
    free(f);
}

/* ---- sharded checkpoints ---- */

/* The index's JSON text (a small file: refuse anything past 64 MiB). */
static ctxpar_status st_read_index_text(const char *path, char **out) {
    *out = NULL;
    FILE *file = fopen(path, "rb");
    if (!file) return ctxpar_error(CTXPAR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat info;
    if (fstat(fileno(file), &info) != 0 || !S_ISREG(info.st_mode) ||
        info.st_size > ((off_t)64 << 20)) {
        fclose(file);
        return ctxpar_error(CTXPAR_ERR_FORMAT, "%s: not a regular file of at most 64 MiB", path);
    }
    char *text = malloc((size_t)info.st_size + 1);
    size_t got = text ? fread(text, 1, (size_t)info.st_size, file) : 0;
    fclose(file);
    if (!text || got != (size_t)info.st_size) {
        free(text);
        return ctxpar_error(CTXPAR_ERR_IO, "%s: cannot read it", path);
    }
    text[got] = '\0';
    if (memchr(text, '\0', got)) {
        free(text);
        return ctxpar_error(CTXPAR_ERR_FORMAT, "%s: holds a NUL byte: not a JSON index", path);
    }
    *out = text;
    return CTXPAR_OK;
}

/* A shard name must be a file beside the index: no directories, no "..". */
static int st_plain_file_name(const char *name) {
    return name[0] && !strchr(name, '/') && strcmp(name, ".") != 0 && strcmp(name, "..") != 0 &&
           !st_is_index(name);
}

/* transformers' model.safetensors.index.json: {"weight_map": {tensor: shard
 * file}} (and a "metadata" object). Every shard it names is opened and
 * validated as a file of its own; the handle lists exactly the tensors the
 * map names, each taken from the shard the map gives, so a map that names a
 * missing shard or a tensor its shard lacks fails here, by name. */
static ctxpar_status st_open_index(const char *path, ctxpar_safetensors **out) {
    st_file *f = calloc(1, sizeof *f);
    char *text = NULL;
    ctxpar_json *root = NULL;
    if (!f) return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "%s: out of memory", path);
    snprintf(f->pub.path, sizeof f->pub.path, "%s", path);
    ctxpar_status status = CTXPAR_OK;
    CTXPAR_TRY_GOTO(st_read_index_text(path, &text));
    CTXPAR_TRY_GOTO(ctxpar_json_parse_labelled(text, path, "safetensors index JSON", &root));
    const ctxpar_json *map = root->kind == CTXPAR_JSON_OBJECT
                                 ? ctxpar_json_get(root, "weight_map") : NULL;
    if (!map || map->kind != CTXPAR_JSON_OBJECT) {
        status = ctxpar_error(CTXPAR_ERR_FORMAT,
                              "%s: no \"weight_map\" object (a sharded checkpoint's index maps "
                              "each tensor name to its shard file)",
                              path);
        goto fail;
    }
    const int n = map->n_items;
    f->shards = calloc((size_t)(n ? n : 1), sizeof *f->shards);
    f->pub.tensors = calloc((size_t)(n ? n : 1), sizeof *f->pub.tensors);
    f->by_name = calloc((size_t)(n ? n : 1), sizeof *f->by_name);
    int *shard_of = calloc((size_t)(n ? n : 1), sizeof *shard_of);
    const char **shard_names = calloc((size_t)(n ? n : 1), sizeof *shard_names);
    if (!f->shards || !f->pub.tensors || !f->by_name || !shard_of || !shard_names) {
        free(shard_of);
        free(shard_names);
        status = ctxpar_error(CTXPAR_ERR_NO_MEMORY, "%s: out of memory for %d tensors", path, n);
        goto fail;
    }
    /* the directory the shards sit in: the index's */
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[1] = '\0';
    else
        dir[0] = '\0';
    for (int i = 0; i < n && status == CTXPAR_OK; i++) {
        const ctxpar_json *v = map->items[i];
        if (v->kind != CTXPAR_JSON_STRING || !st_plain_file_name(v->string)) {
            status = ctxpar_error(CTXPAR_ERR_FORMAT,
                                  "%s: weight_map entry %s (line %d, column %d) must name a "
                                  "safetensors file beside the index",
                                  path, map->keys[i], v->line, v->column);
            break;
        }
        int s = 0;
        while (s < f->n_shards && strcmp(shard_names[s], v->string) != 0) s++;
        if (s == f->n_shards) { /* a shard's errors name its own path */
            char shard_path[2048];
            snprintf(shard_path, sizeof shard_path, "%s%s", dir, v->string);
            status = ctxpar_safetensors_open(shard_path, &f->shards[s]);
            if (status != CTXPAR_OK) break;
            shard_names[f->n_shards++] = v->string;
        }
        shard_of[i] = s;
    }
    for (int i = 0; i < n && status == CTXPAR_OK; i++) {
        const ctxpar_st_tensor *found = ctxpar_safetensors_find(f->shards[shard_of[i]], map->keys[i]);
        if (!found) {
            status = ctxpar_error(CTXPAR_ERR_FORMAT, "%s: the index puts tensor %s in %s, which "
                                  "does not hold it",
                                  path, map->keys[i], f->shards[shard_of[i]]->path);
            break;
        }
        ctxpar_st_tensor *t = &f->pub.tensors[f->pub.n_tensors];
        *t = *found;
        t->name = strdup(found->name);
        if (!t->name) {
            status = ctxpar_error(CTXPAR_ERR_NO_MEMORY, "%s: out of memory", path);
            break;
        }
        f->by_name[f->pub.n_tensors++] = t;
    }
    free(shard_of);
    free(shard_names);
    if (status != CTXPAR_OK) goto fail;
    qsort(f->by_name, (size_t)f->pub.n_tensors, sizeof *f->by_name, st_compare_by_name);
    for (int i = 1; i < f->pub.n_tensors; i++)
        if (strcmp(f->by_name[i - 1]->name, f->by_name[i]->name) == 0) {
            status = ctxpar_error(CTXPAR_ERR_FORMAT, "%s: weight_map names tensor %s twice", path,
                                  f->by_name[i]->name);
            goto fail;
        }
    ctxpar_json_free(root);
    free(text);
    *out = &f->pub;
    return CTXPAR_OK;
fail:
    ctxpar_json_free(root);
    free(text);
    ctxpar_safetensors_close(&f->pub);
    return status;
}

const ctxpar_st_tensor *ctxpar_safetensors_find(const ctxpar_safetensors *st, const char *name) {
    if (!st || !name) return NULL;
    const st_file *f = (const st_file *)st;
    int lo = 0, hi = st->n_tensors - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int order = strcmp(name, f->by_name[mid]->name);
        if (order == 0) return f->by_name[mid];
        if (order < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return NULL;
}
