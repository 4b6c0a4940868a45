/* Fuzz target: a sharded checkpoint's index (model.safetensors.index.json,
 * runtime/formats/safetensors.c) on any bytes, in a folder beside two small
 * valid shards "a.safetensors" (tensors x, y) and "b.safetensors" (z). An
 * index it accepts must list only tensors its shards hold, each found by
 * name and converting to float32. */
#include "runtime/formats/safetensors.h"

#include <errno.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz_util.h"

/* A safetensors file of F32 tensors of 2 values each, named by `names`. */
static void write_shard(const char *path, const char *const *names, int n) {
    char header[256];
    int len = 0;
    len += snprintf(header + len, sizeof header - (size_t)len, "{");
    for (int i = 0; i < n; i++)
        len += snprintf(header + len, sizeof header - (size_t)len,
                        "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[%d,%d]}",
                        i ? "," : "", names[i], 8 * i, 8 * i + 8);
    len += snprintf(header + len, sizeof header - (size_t)len, "}");
    uint8_t bytes[512];
    const uint64_t header_len = (uint64_t)len;
    for (int b = 0; b < 8; b++) bytes[b] = (uint8_t)(header_len >> (8 * b));
    memcpy(bytes + 8, header, (size_t)len);
    const float values[6] = {1.0f, -2.0f, 0.5f, 3.0f, -0.25f, 8.0f};
    memcpy(bytes + 8 + len, values, sizeof(float) * 2 * (size_t)n);
    fuzz_write_file(path, bytes, 8 + (size_t)len + sizeof(float) * 2 * (size_t)n);
}

/* one folder of this process's own: the index and its two shards */
static char dir[512];

static void remove_dir(void) { rmdir(dir); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char shard_a[600], shard_b[600], path[600];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s", fuzz_scratch("index"));
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) abort();
        atexit(remove_dir);
        snprintf(shard_a, sizeof shard_a, "%s/a.safetensors", dir);
        snprintf(shard_b, sizeof shard_b, "%s/b.safetensors", dir);
        snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    }
    write_shard(shard_a, (const char *const[]){"x", "y"}, 2);
    write_shard(shard_b, (const char *const[]){"z"}, 1);
    fuzz_write_file(path, data, size);
    ctxpar_safetensors *st = NULL;
    ctxpar_status status = ctxpar_safetensors_open(path, &st);
    fuzz_check_failure(status);
    if (status == CTXPAR_OK) {
        for (int i = 0; i < st->n_tensors; i++) {
            const ctxpar_st_tensor *t = &st->tensors[i];
            if (ctxpar_safetensors_find(st, t->name) != t) abort();
            if (t->count != 2 || t->bytes != 8) abort();
            float out[2];
            ctxpar_safetensors_to_f32(t, out);
        }
        ctxpar_safetensors_close(st);
    }
    unlink(path);
    unlink(shard_a);
    unlink(shard_b);
    return 0;
}
