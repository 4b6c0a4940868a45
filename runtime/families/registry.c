/* The family registry (see registry.h): every family ctxpar knows, which
 * one a folder holds, and the collective load of a model from --model.
 *
 * Validation happens once, on rank 0, before anything is allocated, so a bad
 * folder gives one message naming the file and the key or tensor. Only then
 * does the first rank of each node map the safetensors file and convert each
 * tensor into the node-shared blob: 8 ranks on a node hold one copy. */
#include "runtime/families/registry.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/families/loader.h"
#include "runtime/model/model_file.h"

extern const ctxpar_family ctxpar_family_cogvideox_vae;
extern const ctxpar_family ctxpar_family_vjepa2;
extern const ctxpar_family ctxpar_family_qwen2_vl;
extern const ctxpar_family ctxpar_family_qwen2_5_vl;

static const ctxpar_family *const families[] = {&ctxpar_family_cogvideox_vae,
                                                &ctxpar_family_vjepa2, &ctxpar_family_qwen2_vl,
                                                &ctxpar_family_qwen2_5_vl, NULL};

const ctxpar_family *ctxpar_family_at(int i) {
    const int n = (int)(sizeof families / sizeof families[0]) - 1;
    return i >= 0 && i < n ? families[i] : NULL;
}

/* ---- files ---- */

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static ctxpar_status read_text(const char *path, char **out) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return ctxpar_error(CTXPAR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? 2 * cap : 8192;
            if (cap > ((size_t)64 << 20)) {
                free(text);
                fclose(f);
                return ctxpar_error(CTXPAR_ERR_FORMAT, "%s: larger than 64 MiB, not a config",
                                    path);
            }
            char *grown = realloc(text, cap);
            if (!grown) {
                free(text);
                fclose(f);
                return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "%s: out of memory reading it", path);
            }
            text = grown;
        }
        size_t n = fread(text + len, 1, 4096, f);
        len += n;
        if (n < 4096) break;
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        free(text);
        return ctxpar_error(CTXPAR_ERR_IO, "%s: read error", path);
    }
    text[len] = '\0';
    *out = text;
    return CTXPAR_OK;
}

static void known_families(char *out, size_t cap) {
    out[0] = '\0';
    for (int i = 0; families[i]; i++) {
        size_t len = strlen(out);
        snprintf(out + len, cap - len, "%s%s \"%s\" (%s)", i ? ", " : "", families[i]->id_key,
                 families[i]->id_value, families[i]->name);
    }
}

/* The family whose id key has its value in this config, or an error naming the class. */
static ctxpar_status identify(const char *text, const char *source, const ctxpar_family **out) {
    ctxpar_json *root = NULL;
    CTXPAR_TRY(ctxpar_json_parse(text, source, &root));
    ctxpar_status status = CTXPAR_OK;
    char known[512];
    known_families(known, sizeof known);
    *out = NULL;
    if (root->kind != CTXPAR_JSON_OBJECT) {
        status = ctxpar_error(CTXPAR_ERR_FORMAT, "%s: not a JSON object", source);
        goto done;
    }
    const char *class_key = NULL, *class_value = NULL;
    for (int i = 0; families[i] && !*out; i++) {
        const ctxpar_json *v = ctxpar_json_get(root, families[i]->id_key);
        if (!v || v->kind != CTXPAR_JSON_STRING) continue;
        class_key = families[i]->id_key, class_value = v->string;
        if (strcmp(v->string, families[i]->id_value) == 0) *out = families[i];
    }
    if (!*out) {
        if (class_value)
            status = ctxpar_error(CTXPAR_ERR_FORMAT,
                                  "%s: %s \"%s\" is not a model family ctxpar can run (known: %s)",
                                  source, class_key, class_value, known);
        else
            status = ctxpar_error(CTXPAR_ERR_FORMAT,
                                  "%s: names no model class (no _class_name or model_type key); "
                                  "known: %s",
                                  source, known);
    }
done:
    ctxpar_json_free(root);
    return status;
}

ctxpar_status ctxpar_family_resolve(const char *dir, char *folder, size_t cap,
                                    const ctxpar_family **family, char **config_text) {
    char path[2048];
    *config_text = NULL;
    snprintf(folder, cap, "%s", dir);
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (!is_file(path)) {
        /* A repository root: model_index.json, the model in a subfolder. */
        char index[2048];
        snprintf(index, sizeof index, "%s/model_index.json", dir);
        int found = 0;
        for (int i = 0; families[i] && !found && is_file(index); i++) {
            if (!families[i]->repo_subfolder) continue;
            snprintf(path, sizeof path, "%s/%s/config.json", dir, families[i]->repo_subfolder);
            if (is_file(path)) {
                snprintf(folder, cap, "%s/%s", dir, families[i]->repo_subfolder);
                found = 1;
            }
        }
        if (!found)
            return ctxpar_error(CTXPAR_ERR_IO,
                                "%s: no config.json (expected a model folder: config.json + "
                                "weights in safetensors, or a repository root with "
                                "model_index.json and vae/config.json)",
                                dir);
    }
    CTXPAR_TRY(read_text(path, config_text));
    ctxpar_status status = identify(*config_text, path, family);
    if (status != CTXPAR_OK) {
        free(*config_text);
        *config_text = NULL;
    }
    return status;
}

int ctxpar_family_folder_writes_latents(const char *path) {
    struct stat st;
    if (!path || !path[0] || stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return 0;
    char folder[1536], source[1600];
    const ctxpar_family *family = NULL;
    char *text = NULL;
    ctxpar_model_config config;
    int latents = 0;
    if (ctxpar_family_resolve(path, folder, sizeof folder, &family, &text) == CTXPAR_OK) {
        snprintf(source, sizeof source, "%s/config.json", folder);
        if (ctxpar_family_read_config(family, text, source, &config) == CTXPAR_OK)
            latents = !config.has_transformer;
    }
    free(text);
    ctxpar_error_clear();
    return latents;
}

/* ---- loading ---- */

/* Rank 0: everything that can be wrong with the folder, before any allocation. */
static ctxpar_status validate_on_root(const char *dir, char **config_text, char *weights,
                                      size_t cap, int *family_index, int *weights_half,
                                      int *weights_bf16) {
    char folder[1536];
    const ctxpar_family *family = NULL;
    CTXPAR_TRY(ctxpar_family_resolve(dir, folder, sizeof folder, &family, config_text));
    for (int i = 0; families[i]; i++)
        if (families[i] == family) *family_index = i;
    char source[2048];
    snprintf(source, sizeof source, "%s/config.json", folder);
    ctxpar_model_config config;
    ctxpar_model *layout = NULL;
    ctxpar_safetensors *st = NULL;
    ctxpar_status status = ctxpar_family_read_config(family, *config_text, source, &config);
    if (status != CTXPAR_OK) goto fail;
    /* one file, or shards listed by an index beside it (transformers'
     * model.safetensors.index.json); the reader takes either */
    snprintf(weights, cap, "%s/%s", folder, family->weights_file);
    if (!is_file(weights)) {
        const size_t len = strlen(weights);
        snprintf(weights + len, cap - len, ".index.json");
        if (!is_file(weights)) {
            weights[len] = '\0';
            status = ctxpar_error(CTXPAR_ERR_IO, "%s: no such file, nor %s.index.json (the %s "
                                  "weights)", weights, family->weights_file, family->name);
            goto fail;
        }
    }
    CTXPAR_TRY_GOTO(ctxpar_safetensors_open(weights, &st));
    CTXPAR_TRY_GOTO(ctxpar_model_layout(&config, &layout));
    CTXPAR_TRY_GOTO(ctxpar_family_check_tensors(family, layout, st));
    /* what --dtype auto reads; and whether a bf16 run can read the linears
     * in place (every tensor of two or more axes bf16, config.h) */
    *weights_bf16 = st->n_tensors > 0;
    for (int t = 0; t < st->n_tensors; t++) {
        if (st->tensors[t].dtype == CTXPAR_ST_BF16 || st->tensors[t].dtype == CTXPAR_ST_F16)
            *weights_half = 1;
        if (st->tensors[t].ndim >= 2 && st->tensors[t].dtype != CTXPAR_ST_BF16)
            *weights_bf16 = 0;
    }
fail:
    ctxpar_safetensors_close(st);
    ctxpar_model_free(layout);
    return status;
}

/* Collective: load a model folder (a family's config.json + weights, or a
 * repository root holding it in the family's subfolder). Rank 0 reads and
 * validates config and every tensor's name, dtype and shape; then the first
 * rank of each node converts the weights to float32 into one node-shared
 * buffer. Errors name the file, the key or the tensor, and are agreed. */
static ctxpar_status load_folder(ctxpar_comm_t comm, const char *dir,
                                 const ctxpar_load_hook *hook, ctxpar_model **out) {
    *out = NULL;
    const int rank = ctxpar_comm_rank(comm);
    char *config_text = NULL;
    char weights[2048] = "";
    int family_index = -1, weights_half = 0, weights_bf16 = 0;
    ctxpar_model *model = NULL;
    ctxpar_status status = CTXPAR_OK;
    if (rank == 0) status = validate_on_root(dir, &config_text, weights, sizeof weights,
                                             &family_index, &weights_half, &weights_bf16);
    CTXPAR_TRY_GOTO(ctxpar_comm_agree(comm, status));

    /* Everyone parses the same config text; the weights path and family travel too. */
    int64_t lengths[4] = {0, family_index, weights_half, weights_bf16};
    if (rank == 0) lengths[0] = (int64_t)strlen(config_text);
    CTXPAR_TRY_GOTO(ctxpar_comm_bcast(comm, lengths, sizeof lengths, 0));
    if (rank != 0) config_text = calloc((size_t)lengths[0] + 1, 1);
    status = config_text ? CTXPAR_OK : ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory");
    CTXPAR_TRY_GOTO(ctxpar_comm_agree(comm, status));
    CTXPAR_TRY_GOTO(ctxpar_comm_bcast(comm, config_text, lengths[0] + 1, 0));
    CTXPAR_TRY_GOTO(ctxpar_comm_bcast(comm, weights, sizeof weights, 0));
    const ctxpar_family *family = families[lengths[1]];
    ctxpar_model_config config;
    status = ctxpar_family_read_config(family, config_text, weights, &config);
    config.checkpoint_bf16 = (int)lengths[3];
    if (status == CTXPAR_OK) status = ctxpar_model_layout(&config, &model);
    CTXPAR_TRY_GOTO(ctxpar_comm_agree(comm, status));
    model->weights_half = (int)lengths[2];
    CTXPAR_TRY_GOTO(ctxpar_model_run_hook(comm, hook, model));
    CTXPAR_TRY_GOTO(ctxpar_model_alloc_shared(comm, model));
    status = ctxpar_family_fill_blob(family, weights, model, ctxpar_comm_local_rank(comm),
                       ctxpar_comm_local_size(comm));
    CTXPAR_TRY_GOTO(ctxpar_comm_agree(comm, status));
    CTXPAR_TRY_GOTO(ctxpar_model_publish(comm, model));
    model->source_config = config_text;
    *out = model;
    return CTXPAR_OK;
fail:
    free(config_text);
    ctxpar_model_free(model);
    return status;
}

ctxpar_status ctxpar_family_load_with(ctxpar_comm_t comm, const char *path,
                                      const ctxpar_load_hook *hook, ctxpar_model **out) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return load_folder(comm, path, hook, out);
    return ctxpar_model_load_file_with(comm, path, hook, out);
}

ctxpar_status ctxpar_family_load(ctxpar_comm_t comm, const char *path, ctxpar_model **out) {
    return ctxpar_family_load_with(comm, path, NULL, out);
}
