/* Fuzz target: the JSON parser (runtime/formats/json.c) and what is built on
 * it: the built-in model config (runtime/model/config.c) and every family's
 * config.json table (runtime/families/loader.c). A parsed document must
 * survive being walked; a config any reader accepts must pass validation
 * and lay out a model whose parameter count is positive. */
#include "runtime/families/loader.h"
#include "runtime/families/registry.h"
#include "runtime/formats/json.h"
#include "runtime/model/config.h"
#include "runtime/model/model.h"

#include "tests/fuzz/fuzz_util.h"

static int walk(const ctxpar_json *v, int depth) {
    int n = 1;
    if (depth > 10000) abort();
    if (v->kind == CTXPAR_JSON_STRING && !v->string) abort();
    if (v->kind == CTXPAR_JSON_ARRAY || v->kind == CTXPAR_JSON_OBJECT) {
        for (int i = 0; i < v->n_items; i++) {
            if (v->kind == CTXPAR_JSON_OBJECT && ctxpar_json_get(v, v->keys[i]) == NULL) abort();
            n += walk(v->items[i], depth + 1);
        }
    }
    return n;
}

static void check_config(const ctxpar_model_config *config) {
    ctxpar_model *layout = NULL;
    ctxpar_status status = ctxpar_model_layout(config, &layout);
    fuzz_check_failure(status);
    if (status == CTXPAR_OK) {
        if (ctxpar_model_parameter_count(layout) <= 0) abort();
        ctxpar_model_free(layout);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) abort();
    memcpy(text, data, size);
    text[size] = '\0';

    ctxpar_json *root = NULL;
    ctxpar_status status = ctxpar_json_parse(text, "fuzz", &root);
    fuzz_check_failure(status);
    if (status == CTXPAR_OK) {
        walk(root, 0);
        ctxpar_json_free(root);
    }

    ctxpar_model_config config;
    status = ctxpar_config_from_json(text, &config, "fuzz");
    fuzz_check_failure(status);
    if (status == CTXPAR_OK) {
        status = ctxpar_config_validate(&config, "fuzz");
        fuzz_check_failure(status);
        if (status == CTXPAR_OK) check_config(&config);
    }
    for (int i = 0; ctxpar_family_at(i); i++) {
        status = ctxpar_family_read_config(ctxpar_family_at(i), text, "fuzz", &config);
        fuzz_check_failure(status);
        if (status == CTXPAR_OK) check_config(&config);
    }
    free(text);
    return 0;
}
