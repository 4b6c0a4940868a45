/* Fuzz target: the safetensors reader (runtime/formats/safetensors.c) on any
 * bytes. A file it accepts must be trustworthy as the header says: every
 * tensor is found by its name, lies inside the mapping, and converts to
 * float32 (small tensors, so a valid huge one does not stall the run). */
#include "runtime/formats/safetensors.h"

#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_scratch("weights.safetensors");
    fuzz_write_file(path, data, size);
    ctxpar_safetensors *st = NULL;
    ctxpar_status status = ctxpar_safetensors_open(path, &st);
    fuzz_check_failure(status);
    if (status == CTXPAR_OK) {
        for (int i = 0; i < st->n_tensors; i++) {
            const ctxpar_st_tensor *t = &st->tensors[i];
            if (ctxpar_safetensors_find(st, t->name) != t) abort();
            const char *begin = st->map, *p = t->data;
            if (t->bytes < 0 || p < begin || p + t->bytes > begin + st->map_bytes) abort();
            if (t->count <= 4096) {
                float *out = malloc((size_t)(t->count ? t->count : 1) * sizeof *out);
                if (!out) abort();
                ctxpar_safetensors_to_f32(t, out);
                free(out);
            }
        }
        ctxpar_safetensors_close(st);
    }
    unlink(path);
    return 0;
}
