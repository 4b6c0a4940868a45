/* The family table reader (see family.h): one reader for every family's
 * tables. It maps a config.json onto the runtime's model description, checks
 * a checkpoint's tensors against the layout that description implies, and
 * converts a node's share of them into the node-shared blob. Which family a
 * folder holds, and the collective load around these steps, are the
 * registry's (registry.c). */
#include "runtime/families/loader.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/core/tensor.h"

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

/* A key of the table: "depth", or a path into nested objects
 * ("vision_config.depth"); NULL when any step is absent. */
static const ctxpar_json *lookup_key(const ctxpar_json *root, const char *path) {
    char step[128];
    const ctxpar_json *at = root;
    while (at && *path) {
        const char *dot = strchr(path, '.');
        size_t len = dot ? (size_t)(dot - path) : strlen(path);
        if (len >= sizeof step) return NULL;
        memcpy(step, path, len);
        step[len] = '\0';
        at = at->kind == CTXPAR_JSON_OBJECT ? ctxpar_json_get(at, step) : NULL;
        path += len + (dot ? 1 : 0);
    }
    return at;
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
        const ctxpar_json *v = lookup_key(root, key->key);
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
ctxpar_status ctxpar_family_check_tensors(const ctxpar_family *family, const ctxpar_model *layout,
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
                ctxpar_shape_text(got_text, sizeof got_text, found->ndim, found->shape);
                ctxpar_shape_text(want_text, sizeof want_text, want_ndim, want);
                status = ctxpar_error(CTXPAR_ERR_SHAPE, "%s: tensor %s has shape %s, expected %s",
                                      st->path, theirs[part], got_text, want_text);
                goto done;
            }
        }
    }
    for (int i = 0; i < st->n_tensors; i++) {
        const char *name = st->tensors[i].name;
        int ignored = 0, read = !family->read_prefixes;
        for (int p = 0; family->ignored_prefixes && family->ignored_prefixes[p]; p++)
            ignored |= has_prefix(name, family->ignored_prefixes[p]);
        for (int p = 0; family->read_prefixes && family->read_prefixes[p]; p++)
            read |= has_prefix(name, family->read_prefixes[p]);
        ignored |= !read;
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

/* A weight read in place: its pieces' rows in st's mapping, each piece
 * bf16 and 1/pieces of the weight (as ctxpar_family_check_tensors found on
 * rank 0; checked again, the file may have changed since). */
static ctxpar_status point_at_rows(const ctxpar_family *family, const ctxpar_safetensors *st,
                                   const char *prefix, ctxpar_weight *w) {
    char theirs[MAX_PARTS][256];
    const ctxpar_family_tensor *rule = NULL;
    const int n_pieces = translate(family, w->name, prefix, theirs, &rule);
    int ok = n_pieces > 0 && n_pieces <= CTXPAR_BF16_ROWS_PIECES_MAX &&
             w->shape[0] % n_pieces == 0;
    for (int piece = 0; piece < n_pieces && ok; piece++) {
        const ctxpar_st_tensor *found = ctxpar_safetensors_find(st, theirs[piece]);
        ok = found && found->dtype == CTXPAR_ST_BF16 && found->count == w->count / n_pieces;
        if (ok) w->rows.piece[piece] = found->data;
    }
    if (!ok)
        return ctxpar_error(CTXPAR_ERR_FORMAT, "%s: tensor %s changed while loading (bf16 "
                            "rows read in place)", st->path, n_pieces ? theirs[0] : w->name);
    w->rows.pieces = n_pieces;
    return CTXPAR_OK;
}

/* Local rank `part` of a node's `parts` ranks: its share of the tensors,
 * converted to float32 (a packed bf16 linear: packed from the checkpoint's
 * bf16 values where it holds them so), into the node's one shared blob.
 * The shares split the blob by size in tensor order (tensor t goes to the
 * rank whose part holds its first float), so the node's ranks convert in
 * parallel (the 1.2 GB V-JEPA 2 ViT-L or the 352 MB CogVideoX encoder is
 * most of setup). A weight read in place (CTXPAR_PACK_ROWS) is not copied:
 * every rank points at its rows in its own mapping of the checkpoint, which
 * the model then keeps open. */
ctxpar_status ctxpar_family_fill_blob(const ctxpar_family *family, const char *weights,
                                       ctxpar_model *model, int part, int parts) {
    ctxpar_safetensors *st = NULL;
    CTXPAR_TRY(ctxpar_safetensors_open(weights, &st));
    const char *prefix = checkpoint_prefix(family, model, st);
    ctxpar_status status = CTXPAR_OK;
    const int64_t scratch_floats = ctxpar_model_scratch_floats(model);
    float *scratch = scratch_floats > 0 ? malloc(sizeof(float) * (size_t)scratch_floats) : NULL;
    if (scratch_floats > 0 && !scratch)
        status = ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory packing the weights");
    int64_t total = 0, start = 0;
    int in_place = 0;
    for (int t = 0; t < model->n_tensors; t++)
        if (model->tensors[t].packing != CTXPAR_PACK_ROWS) total += model->tensors[t].count;
    for (int t = 0; t < model->n_tensors && status == CTXPAR_OK; t++) {
        ctxpar_weight *w = &model->tensors[t];
        if (w->packing == CTXPAR_PACK_ROWS) {
            status = point_at_rows(family, st, prefix, w);
            in_place = 1;
            continue;
        }
        int owner = total > 0 ? (int)((double)start * parts / (double)total) : 0;
        start += w->count;
        if (owner != part) continue;
        char theirs[MAX_PARTS][256];
        const ctxpar_family_tensor *rule = NULL;
        int n_pieces = translate(family, w->name, prefix, theirs, &rule);
        float *dst = ctxpar_model_fill_begin(model, t, scratch);
        /* A packed weight whose pieces are all bf16 is packed from its own
         * values (half the scratch), skipping a float32 round trip. */
        int raw = ctxpar_model_packs_from_bf16(model, t);
        for (int piece = 0; piece < n_pieces && raw; piece++) {
            const ctxpar_st_tensor *found = ctxpar_safetensors_find(st, theirs[piece]);
            raw = found && found->dtype == CTXPAR_ST_BF16;
        }
        ctxpar_bf16 *raw_dst = (ctxpar_bf16 *)scratch;
        int64_t filled = 0;
        for (int piece = 0; piece < n_pieces; piece++) {
            const ctxpar_st_tensor *found = ctxpar_safetensors_find(st, theirs[piece]);
            if (!found || filled + found->count > w->count) break;
            if (raw)
                ctxpar_safetensors_copy_bf16(found, raw_dst + filled);
            else
                ctxpar_safetensors_to_f32(found, dst + filled);
            filled += found->count;
        }
        if (n_pieces == 0 || filled != w->count)
            /* Validated on rank 0: the file changed under us. */
            status = ctxpar_error(CTXPAR_ERR_FORMAT, "%s: tensor %s changed while loading",
                                  weights, n_pieces ? theirs[0] : w->name);
        else if (raw)
            ctxpar_model_fill_end_bf16(model, t, raw_dst);
        else
            ctxpar_model_fill_end(model, t, dst);
    }
    free(scratch);
    if (status == CTXPAR_OK && in_place)
        model->checkpoint = st; /* the rows live in its mapping */
    else
        ctxpar_safetensors_close(st);
    return status;
}

