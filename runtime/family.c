/* The family loader (see family.h): one reader for every family's tables.
 *
 * Validation happens once, on rank 0, before anything is allocated, so a bad
 * folder gives one message naming the file and the key or tensor. Only then
 * does the first rank of each node map the safetensors file and convert each
 * tensor into the node-shared blob: 8 ranks on a node hold one copy. */
#include "runtime/family.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/model.h"
#include "runtime/safetensors.h"

extern const ctxpar_family ctxpar_family_cogvideox_vae;
extern const ctxpar_family ctxpar_family_vjepa2;

static const ctxpar_family *const families[] = {&ctxpar_family_cogvideox_vae,
                                                &ctxpar_family_vjepa2, NULL};

const ctxpar_family *const *ctxpar_family_all(void) { return families; }

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

/* ---- config ---- */

static ctxpar_status wrong_kind(const char *source, const char *key, const ctxpar_json *v,
                                const char *expected) {
    return ctxpar_error(CTXPAR_ERR_FORMAT, "%s: key %s is %s (line %d, column %d), expected %s",
                        source, key, ctxpar_json_kind_name(v->kind), v->line, v->column,
                        expected);
}

static ctxpar_status read_int(const char *source, const char *key, const ctxpar_json *v,
                              int *out) {
    if (v->kind != CTXPAR_JSON_NUMBER || v->number != floor(v->number) || fabs(v->number) > 1e9)
        return wrong_kind(source, key, v, "an integer");
    *out = (int)v->number;
    return CTXPAR_OK;
}

/* The JSON text of a scalar value, for REQUIRE comparisons and messages. */
static void scalar_text(const ctxpar_json *v, char *out, size_t cap) {
    switch (v->kind) {
    case CTXPAR_JSON_NUMBER: snprintf(out, cap, "%.17g", v->number); break;
    case CTXPAR_JSON_STRING: snprintf(out, cap, "\"%s\"", v->string); break;
    case CTXPAR_JSON_BOOL: snprintf(out, cap, "%s", v->boolean ? "true" : "false"); break;
    case CTXPAR_JSON_NULL: snprintf(out, cap, "null"); break;
    case CTXPAR_JSON_ARRAY: {
        size_t len = (size_t)snprintf(out, cap, "[");
        for (int i = 0; i < v->n_items && len < cap; i++) {
            char item[128];
            scalar_text(v->items[i], item, sizeof item);
            len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? ", " : "", item);
        }
        if (len < cap) snprintf(out + len, cap - len, "]");
        break;
    }
    default: snprintf(out, cap, "{...}"); break;
    }
}

static ctxpar_status read_key(const ctxpar_family_key *k, const ctxpar_json *v,
                              const char *source, ctxpar_model_config *config) {
    char *base = (char *)config;
    switch (k->kind) {
    case CTXPAR_FAMILY_INT:
        return read_int(source, k->key, v, (int *)(base + k->offset));
    case CTXPAR_FAMILY_DOUBLE:
        if (v->kind != CTXPAR_JSON_NUMBER) return wrong_kind(source, k->key, v, "a number");
        *(double *)(base + k->offset) = v->number;
        return CTXPAR_OK;
    case CTXPAR_FAMILY_BOOL:
        if (v->kind != CTXPAR_JSON_BOOL) return wrong_kind(source, k->key, v, "true or false");
        *(int *)(base + k->offset) = v->boolean;
        return CTXPAR_OK;
    case CTXPAR_FAMILY_INT_ARRAY: {
        if (v->kind != CTXPAR_JSON_ARRAY) return wrong_kind(source, k->key, v, "an array");
        if (v->n_items < 1 || v->n_items > k->max_items)
            return ctxpar_error(CTXPAR_ERR_FORMAT, "%s: key %s has %d entries, expected 1 to %d",
                                source, k->key, v->n_items, k->max_items);
        int *items = (int *)(base + k->offset);
        for (int i = 0; i < v->n_items; i++) {
            char item_key[96];
            snprintf(item_key, sizeof item_key, "%s[%d]", k->key, i);
            CTXPAR_TRY(read_int(source, item_key, v->items[i], &items[i]));
        }
        *(int *)(base + k->count_offset) = v->n_items;
        return CTXPAR_OK;
    }
    case CTXPAR_FAMILY_REQUIRE: {
        char got[512];
        scalar_text(v, got, sizeof got);
        /* Numbers compare by value: 1e-06 and 0.000001 are the same. */
        int same = strcmp(got, k->expected) == 0;
        if (!same && v->kind == CTXPAR_JSON_NUMBER) same = strtod(k->expected, NULL) == v->number;
        if (!same)
            return ctxpar_error(CTXPAR_ERR_UNSUPPORTED,
                                "%s: key %s is %s; ctxpar supports only %s for this model family",
                                source, k->key, got, k->expected);
        return CTXPAR_OK;
    }
    case CTXPAR_FAMILY_IGNORE:
        return CTXPAR_OK;
    }
    return CTXPAR_OK;
}

ctxpar_status ctxpar_family_read_config(const ctxpar_family *family, const char *text,
                                        const char *source, ctxpar_model_config *out) {
    ctxpar_json *root = NULL;
    ctxpar_model_config config;
    memset(&config, 0, sizeof config);
    ctxpar_config_builtin_defaults(&config);
    snprintf(config.family, sizeof config.family, "%s", family->name);
    CTXPAR_TRY(ctxpar_json_parse(text, source, &root));
    ctxpar_status status = CTXPAR_OK;
    if (root->kind != CTXPAR_JSON_OBJECT) {
        status = ctxpar_error(CTXPAR_ERR_FORMAT, "%s: not a JSON object", source);
        goto fail;
    }
    /* Every key must be known: a key we do not read may change the model. */
    for (int i = 0; i < root->n_items; i++) {
        const char *key = root->keys[i];
        if (key[0] == '_' || family->allow_unknown_keys) continue; /* _class_name, ... */
        int known = 0;
        for (int k = 0; k < family->n_keys && !known; k++)
            known = strcmp(family->keys[k].key, key) == 0;
        if (!known) {
            status = ctxpar_error(CTXPAR_ERR_UNSUPPORTED,
                                  "%s: unknown key %s (line %d, column %d): this version of "
                                  "ctxpar does not know what it changes in a %s model",
                                  source, key, root->items[i]->line, root->items[i]->column,
                                  family->name);
            goto fail;
        }
    }
    for (int k = 0; k < family->n_keys; k++) {
        const ctxpar_family_key *key = &family->keys[k];
        const ctxpar_json *v = ctxpar_json_get(root, key->key);
        if (!v) {
            if (key->required) {
                status = ctxpar_error(CTXPAR_ERR_FORMAT, "%s: missing key %s", source, key->key);
                goto fail;
            }
            continue;
        }
        CTXPAR_TRY_GOTO(read_key(key, v, source, &config));
    }
    if (family->finish) CTXPAR_TRY_GOTO(family->finish(&config, root, source));
    CTXPAR_TRY_GOTO(ctxpar_config_validate(&config, source));
    *out = config;
fail:
    ctxpar_json_free(root);
    return status;
}

/* ---- tensor names ---- */

static int count_ints(const char *pattern) {
    int n = 0;
    for (const char *p = pattern; (p = strstr(p, "%d")); p += 2) n++;
    return n;
}

enum { MAX_PARTS = 4 };

/* Our tensor name -> the checkpoint's names (several when concatenated) and
 * the rule used; the number of names, 0 if no rule matches. */
static int translate(const ctxpar_family *family, const char *ours, const char *prefix,
                     char theirs[MAX_PARTS][256], const ctxpar_family_tensor **rule_out) {
    const char *slash = strrchr(ours, '/');
    if (!slash) return 0;
    char op[CTXPAR_TENSOR_NAME_MAX];
    size_t op_len = (size_t)(slash - ours);
    if (op_len >= sizeof op) return 0;
    memcpy(op, ours, op_len);
    op[op_len] = '\0';
    for (int r = 0; r < family->n_tensors; r++) {
        const ctxpar_family_tensor *rule = &family->tensors[r];
        char pattern[160];
        snprintf(pattern, sizeof pattern, "%s%%n", rule->ours);
        int a = 0, b = 0, consumed = -1, n_ints = count_ints(rule->ours);
        if (n_ints == 0)
            sscanf(op, pattern, &consumed);
        else if (n_ints == 1)
            sscanf(op, pattern, &a, &consumed);
        else
            sscanf(op, pattern, &a, &b, &consumed);
        if (consumed != (int)op_len) continue;
        /* each '|'-separated part takes the same integers */
        int parts = 0;
        for (const char *part = rule->theirs; part && parts < MAX_PARTS; parts++) {
            const char *bar = strchr(part, '|');
            char part_pattern[160];
            size_t len = bar ? (size_t)(bar - part) : strlen(part);
            if (len >= sizeof part_pattern) return 0;
            memcpy(part_pattern, part, len);
            part_pattern[len] = '\0';
            char their_op[200];
            snprintf(their_op, sizeof their_op, part_pattern, a, b);
            snprintf(theirs[parts], 256, "%s%s.%s", prefix ? prefix : "", their_op, slash + 1);
            part = bar ? bar + 1 : NULL;
        }
        *rule_out = rule;
        return parts;
    }
    return 0;
}

static void format_shape(char *out, size_t cap, int ndim, const int64_t *dims) {
    size_t len = (size_t)snprintf(out, cap, "[");
    for (int i = 0; i < ndim && len < cap; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (len < cap) snprintf(out + len, cap - len, "]");
}

static int has_prefix(const char *s, const char *prefix) {
    return prefix && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The name prefix this checkpoint uses: none, or the family's wrapper prefix
 * when the plain names are absent and the wrapped ones present. */
static const char *checkpoint_prefix(const ctxpar_family *family, const ctxpar_model *layout,
                                     const ctxpar_safetensors *st) {
    char theirs[MAX_PARTS][256];
    const ctxpar_family_tensor *rule = NULL;
    if (!family->wrapper_prefix || layout->n_tensors == 0) return NULL;
    if (translate(family, layout->tensors[0].name, NULL, theirs, &rule) > 0 &&
        !ctxpar_safetensors_find(st, theirs[0]) &&
        translate(family, layout->tensors[0].name, family->wrapper_prefix, theirs, &rule) > 0 &&
        ctxpar_safetensors_find(st, theirs[0]))
        return family->wrapper_prefix;
    return NULL;
}

/* Every tensor the model needs is present with its shape; every checkpoint
 * tensor outside the ignored prefixes is needed. */
static ctxpar_status check_tensors(const ctxpar_family *family, const ctxpar_model *layout,
                                   const ctxpar_safetensors *st) {
    char *used = calloc((size_t)st->n_tensors + 1, 1);
    if (!used) return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory checking tensors");
    const char *prefix = checkpoint_prefix(family, layout, st);
    ctxpar_status status = CTXPAR_OK;
    for (int t = 0; t < layout->n_tensors; t++) {
        const ctxpar_weight *w = &layout->tensors[t];
        char theirs[MAX_PARTS][256];
        const ctxpar_family_tensor *rule = NULL;
        int parts = translate(family, w->name, prefix, theirs, &rule);
        if (parts == 0) {
            status = ctxpar_error(CTXPAR_ERR_UNSUPPORTED,
                                  "model family %s has no checkpoint name for tensor %s",
                                  family->name, w->name);
            goto done;
        }
        /* each part holds 1/parts of the first axis */
        int64_t want[8];
        int want_ndim = 0;
        const int is_weight = strcmp(strrchr(w->name, '/'), "/weight") == 0;
        for (int i = 0; i < w->ndim; i++)
            if (i != rule->drop_dim || !is_weight) want[want_ndim++] = w->shape[i];
        want[0] /= parts;
        for (int part = 0; part < parts; part++) {
            const ctxpar_st_tensor *found = ctxpar_safetensors_find(st, theirs[part]);
            if (!found) {
                status = ctxpar_error(CTXPAR_ERR_FORMAT, "%s: missing tensor %s", st->path,
                                      theirs[part]);
                goto done;
            }
            used[found - st->tensors] = 1;
            int same = found->ndim == want_ndim;
            for (int i = 0; same && i < want_ndim; i++) same = found->shape[i] == want[i];
            if (!same) {
                char got_text[128], want_text[128];
                format_shape(got_text, sizeof got_text, found->ndim, found->shape);
                format_shape(want_text, sizeof want_text, want_ndim, want);
                status = ctxpar_error(CTXPAR_ERR_SHAPE, "%s: tensor %s has shape %s, expected %s",
                                      st->path, theirs[part], got_text, want_text);
                goto done;
            }
        }
    }
    for (int i = 0; i < st->n_tensors; i++) {
        const char *name = st->tensors[i].name;
        int ignored = 0;
        for (int p = 0; family->ignored_prefixes && family->ignored_prefixes[p]; p++)
            ignored |= has_prefix(name, family->ignored_prefixes[p]);
        if (used[i] || ignored) continue;
        status = ctxpar_error(CTXPAR_ERR_FORMAT,
                              "%s: unexpected tensor %s (not part of the %s model this config "
                              "describes)",
                              st->path, name, family->name);
        goto done;
    }
done:
    free(used);
    return status;
}

/* ---- loading ---- */

/* Rank 0: everything that can be wrong with the folder, before any allocation. */
static ctxpar_status validate_on_root(const char *dir, char **config_text, char *weights,
                                      size_t cap, int *family_index) {
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
    snprintf(weights, cap, "%s/%s", folder, family->weights_file);
    if (!is_file(weights)) {
        status = ctxpar_error(CTXPAR_ERR_IO, "%s: no such file (the %s weights)", weights,
                              family->name);
        goto fail;
    }
    CTXPAR_TRY_GOTO(ctxpar_safetensors_open(weights, &st));
    CTXPAR_TRY_GOTO(ctxpar_model_layout(&config, &layout));
    CTXPAR_TRY_GOTO(check_tensors(family, layout, st));
fail:
    ctxpar_safetensors_close(st);
    ctxpar_model_free(layout);
    return status;
}

/* Local rank `part` of a node's `parts` ranks: its share of the tensors,
 * converted to float32, into the node's one shared blob. The shares split
 * the blob by size in tensor order (tensor t goes to the rank whose part
 * holds its first float), so the node's ranks convert in parallel (the
 * 1.2 GB V-JEPA 2 ViT-L or the 352 MB CogVideoX encoder is most of setup). */
static ctxpar_status fill_blob(const ctxpar_family *family, const char *weights,
                              ctxpar_model *model, int part, int parts) {
    ctxpar_safetensors *st = NULL;
    CTXPAR_TRY(ctxpar_safetensors_open(weights, &st));
    const char *prefix = checkpoint_prefix(family, model, st);
    ctxpar_status status = CTXPAR_OK;
    int64_t total = 0, start = 0;
    for (int t = 0; t < model->n_tensors; t++) total += model->tensors[t].count;
    for (int t = 0; t < model->n_tensors && status == CTXPAR_OK; t++) {
        const ctxpar_weight *w = &model->tensors[t];
        int owner = total > 0 ? (int)((double)start * parts / (double)total) : 0;
        start += w->count;
        if (owner != part) continue;
        char theirs[MAX_PARTS][256];
        const ctxpar_family_tensor *rule = NULL;
        int parts = translate(family, w->name, prefix, theirs, &rule);
        float *dst = model->blob + w->offset;
        int64_t filled = 0;
        for (int part = 0; part < parts; part++) {
            const ctxpar_st_tensor *found = ctxpar_safetensors_find(st, theirs[part]);
            if (!found || filled + found->count > w->count) break;
            ctxpar_safetensors_to_f32(found, dst + filled);
            filled += found->count;
        }
        if (parts == 0 || filled != w->count)
            /* Validated on rank 0: the file changed under us. */
            status = ctxpar_error(CTXPAR_ERR_FORMAT, "%s: tensor %s changed while loading",
                                  weights, parts ? theirs[0] : w->name);
    }
    ctxpar_safetensors_close(st);
    return status;
}

ctxpar_status ctxpar_family_load_folder(ctxpar_comm_t comm, const char *dir,
                                        ctxpar_model **out) {
    *out = NULL;
    const int rank = ctxpar_comm_rank(comm);
    char *config_text = NULL;
    char weights[2048] = "";
    int family_index = -1;
    ctxpar_model *model = NULL;
    ctxpar_status status = CTXPAR_OK;
    if (rank == 0) status = validate_on_root(dir, &config_text, weights, sizeof weights,
                                             &family_index);
    CTXPAR_TRY_GOTO(ctxpar_comm_agree(comm, status));

    /* Everyone parses the same config text; the weights path and family travel too. */
    int64_t lengths[2] = {0, family_index};
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
    if (status == CTXPAR_OK) status = ctxpar_model_layout(&config, &model);
    CTXPAR_TRY_GOTO(ctxpar_comm_agree(comm, status));
    CTXPAR_TRY_GOTO(ctxpar_model_alloc_shared(comm, model));
    status = fill_blob(family, weights, model, ctxpar_comm_local_rank(comm),
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
