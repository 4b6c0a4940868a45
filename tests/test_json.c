/* JSON reader: true/false/null, \u escapes decoded to UTF-8 (surrogate pairs
 * included, broken ones rejected), the caller's label in error messages with
 * the line and column of the offending character, and a document as large as
 * a big model's safetensors header parsed in linear time. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/formats/json.h"
#include "test_util.h"

static void expect_error(const char *what, const char *text, const char *label,
                         const char *needle1, const char *needle2) {
    ctxpar_json *root = (ctxpar_json *)&root;
    ctxpar_error_clear();
    ctxpar_status status = ctxpar_json_parse_labelled(text, "doc.json", label, &root);
    const char *detail = ctxpar_error_detail();
    if (status != CTXPAR_ERR_FORMAT || root != NULL) {
        fprintf(stderr, "%s: status %s, root %p (detail: %s)\n", what, ctxpar_status_name(status),
                (void *)root, detail);
        test_failures++;
    }
    if (!strstr(detail, "doc.json: ") || (needle1 && !strstr(detail, needle1)) ||
        (needle2 && !strstr(detail, needle2))) {
        fprintf(stderr, "%s: message '%s' lacks 'doc.json' / '%s' / '%s'\n", what, detail,
                needle1 ? needle1 : "", needle2 ? needle2 : "");
        test_failures++;
    }
    ctxpar_error_clear();
}

static void test_literals(void) {
    const char *text = "{\"_class_name\": \"AutoencoderKLCogVideoX\", \"use_quant_conv\": false,\n"
                       " \"flag\": true, \"shift_factor\": null, \"list\": [true, null, false, 1]}";
    ctxpar_json *root = NULL;
    ASSERT_EQ_INT(ctxpar_json_parse_labelled(text, "config.json", NULL, &root), CTXPAR_OK);
    if (!root) return;
    const ctxpar_json *v = ctxpar_json_get(root, "use_quant_conv");
    ASSERT_TRUE(v && v->kind == CTXPAR_JSON_BOOL && v->boolean == 0);
    v = ctxpar_json_get(root, "flag");
    ASSERT_TRUE(v && v->kind == CTXPAR_JSON_BOOL && v->boolean == 1);
    ASSERT_EQ_INT(v->line, 2);
    ASSERT_EQ_INT(v->column, 10);
    v = ctxpar_json_get(root, "shift_factor");
    ASSERT_TRUE(v && v->kind == CTXPAR_JSON_NULL);
    v = ctxpar_json_get(root, "list");
    ASSERT_TRUE(v && v->kind == CTXPAR_JSON_ARRAY && v->n_items == 4);
    if (v && v->n_items == 4) {
        ASSERT_TRUE(v->items[0]->kind == CTXPAR_JSON_BOOL && v->items[0]->boolean == 1);
        ASSERT_TRUE(v->items[1]->kind == CTXPAR_JSON_NULL);
        ASSERT_TRUE(v->items[2]->kind == CTXPAR_JSON_BOOL && v->items[2]->boolean == 0);
        ASSERT_TRUE(v->items[3]->kind == CTXPAR_JSON_NUMBER && v->items[3]->number == 1);
    }
    v = ctxpar_json_get(root, "_class_name");
    ASSERT_TRUE(v && v->kind == CTXPAR_JSON_STRING &&
                strcmp(v->string, "AutoencoderKLCogVideoX") == 0);
    ctxpar_json_free(root);

    ASSERT_TRUE(strcmp(ctxpar_json_kind_name(CTXPAR_JSON_BOOL), "a boolean") == 0);
    ASSERT_TRUE(strcmp(ctxpar_json_kind_name(CTXPAR_JSON_NULL), "null") == 0);

    ASSERT_EQ_INT(ctxpar_json_parse("null", "x", &root), CTXPAR_OK);
    ASSERT_TRUE(root && root->kind == CTXPAR_JSON_NULL);
    ctxpar_json_free(root);

    expect_error("misspelt literal", "[tru]", NULL, "JSON line 1, column 2", "expected a value");
    expect_error("capitalised literal", "[True]", NULL, "column 2", "expected a value");
    expect_error("literal with tail", "[nullx]", NULL, "column 6", "expected ',' or ']'");
}

static void test_escapes(void) {
    const char *text =
        "[\"a\\u0041\\u00e9\\u20AC\\ud83d\\ude00z\", \"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]";
    ctxpar_json *root = NULL;
    ASSERT_EQ_INT(ctxpar_json_parse(text, "x", &root), CTXPAR_OK);
    if (!root) return;
    /* A, e-acute (2 bytes), euro sign (3 bytes), U+1F600 (4 bytes) */
    ASSERT_TRUE(strcmp(root->items[0]->string, "aA\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z") == 0);
    ASSERT_TRUE(strcmp(root->items[1]->string, "\"\\/\b\f\n\r\t") == 0);
    ctxpar_json_free(root);

    /* the largest code point and the smallest one that needs 4 bytes */
    ASSERT_EQ_INT(ctxpar_json_parse("\"\\udbff\\udfff\\ud800\\udc00\\u07ff\\u0800\"", "x", &root),
                  CTXPAR_OK);
    if (root) {
        ASSERT_TRUE(strcmp(root->string, "\xf4\x8f\xbf\xbf\xf0\x90\x80\x80\xdf\xbf\xe0\xa0\x80") ==
                    0);
        ctxpar_json_free(root);
    }

    expect_error("short hex", "[\"\\u12\"]", NULL, "column 7", "4 hex digits");
    expect_error("bad hex", "[\"\\u12g4\"]", NULL, "column 7", "4 hex digits");
    expect_error("lone high", "[\"\\ud83dx\"]", NULL, "column 9", "high surrogate not followed");
    expect_error("high then non-surrogate", "[\"\\ud83d\\u0041\"]", NULL, "column 14",
                 "high surrogate not followed");
    expect_error("lone low", "[\"\\ude00\"]", NULL, "column 8", "lone low surrogate");
    expect_error("NUL", "[\"a\\u0000b\"]", NULL, "\\u0000 in a string", NULL);
    expect_error("bad escape", "[\"\\x\"]", NULL, "column 4", "unsupported escape");
}

static void test_labels(void) {
    expect_error("default label", "{", NULL, "doc.json: JSON line 1, column 2", NULL);
    expect_error("caller's label", "{\n  \"a\" 1}", "safetensors header JSON",
                 "doc.json: safetensors header JSON line 2, column 7", "expected ':'");
    /* ctxpar_json_parse keeps the model config's wording */
    ctxpar_json *root = NULL;
    ASSERT_EQ_INT(ctxpar_json_parse("[1,]", "m.h5", &root), CTXPAR_ERR_FORMAT);
    ASSERT_TRUE(strstr(ctxpar_error_detail(), "m.h5: config JSON line 1, column 4") != NULL);
    ctxpar_error_clear();
}

/* 40000 entries shaped like a safetensors header (about 4 MB); counting
 * lines from the start of the text for every node would take minutes. */
static void test_large_document(void) {
    const int n = 40000;
    size_t cap = (size_t)n * 120 + 16, len = 0;
    char *text = malloc(cap);
    len += (size_t)snprintf(text + len, cap - len, "{");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, cap - len,
                                "%s\n\"blocks.%d.weight\":{\"dtype\":\"BF16\",\"shape\":[1024,"
                                "1024],\"data_offsets\":[%d,%d]}",
                                i ? "," : "", i, i * 2, i * 2 + 2);
    snprintf(text + len, cap - len, "\n}");
    ctxpar_json *root = NULL;
    clock_t start = clock();
    ASSERT_EQ_INT(ctxpar_json_parse_labelled(text, "big", NULL, &root), CTXPAR_OK);
    double seconds = (double)(clock() - start) / CLOCKS_PER_SEC;
    if (root) {
        ASSERT_EQ_INT(root->n_items, n);
        const ctxpar_json *last = root->items[n - 1];
        ASSERT_EQ_INT(last->line, n + 1);
        ASSERT_EQ_INT(last->column, (int)strlen("\"blocks.39999.weight\":") + 1);
        const ctxpar_json *offsets = ctxpar_json_get(last, "data_offsets");
        ASSERT_TRUE(offsets && offsets->n_items == 2 && offsets->items[1]->number == 2.0 * n);
    }
    printf("parsed %d entries (%zu bytes) in %.2f s\n", n, len, seconds);
    ctxpar_json_free(root);

    /* a duplicate far from its twin, after the key table has grown */
    len = 0;
    for (int i = 0; i < 100; i++)
        len += (size_t)snprintf(text + len, cap - len, "%s\"k%d\": %d", i ? ", " : "{", i, i);
    snprintf(text + len, cap - len, ", \"k37\": 0}");
    expect_error("far duplicate", text, NULL, "duplicate key", NULL);
    free(text);
}

/* The writer: commas and nesting placed by it, strings escaped, doubles
 * that read back bit for bit, raw JSON folded onto one line, and what it
 * writes parses back to the same values. */
static void test_writer(void) {
    ctxpar_json_writer w;
    ctxpar_json_writer_init(&w);
    ctxpar_json_object_begin(&w);
    ctxpar_json_key(&w, "a");
    ctxpar_json_int(&w, -3);
    ctxpar_json_key(&w, "list");
    ctxpar_json_array_begin(&w);
    ctxpar_json_double(&w, 0.1 + 0.2);
    ctxpar_json_double(&w, 1.0 / 0.0);
    ctxpar_json_string(&w, "q\"b\\\n\x01");
    ctxpar_json_array_begin(&w);
    ctxpar_json_array_end(&w);
    ctxpar_json_array_end(&w);
    ctxpar_json_key(&w, "raw");
    ctxpar_json_raw(&w, "{ \"k\" :\n [1, \"x y\"] }");
    ctxpar_json_object_end(&w);
    char *text = ctxpar_json_writer_take(&w);
    ASSERT_TRUE(text != NULL);
    const char *want = "{\"a\": -3, \"list\": [0.30000000000000004, null, \"q\\\"b\\\\\\u000a\\u0001\", []], "
                       "\"raw\": {\"k\":[1,\"x y\"]}}";
    if (text && strcmp(text, want) != 0) fprintf(stderr, "writer: got  %s\n        want %s\n", text, want);
    ASSERT_TRUE(text && strcmp(text, want) == 0);
    ctxpar_json *root = NULL;
    ASSERT_EQ_INT(ctxpar_json_parse(text, "writer", &root), CTXPAR_OK);
    if (root) {
        const ctxpar_json *list = ctxpar_json_get(root, "list");
        ASSERT_TRUE(list && list->n_items == 4 && list->items[0]->number == 0.1 + 0.2);
        ASSERT_TRUE(list && strcmp(list->items[2]->string, "q\"b\\\n\x01") == 0);
        ctxpar_json_free(root);
    }
    free(text);
    /* an unclosed container or too deep a nesting is a failure, not a text */
    ctxpar_json_writer_init(&w);
    ctxpar_json_object_begin(&w);
    ASSERT_TRUE(ctxpar_json_writer_take(&w) == NULL);
    ctxpar_json_writer_init(&w);
    for (int i = 0; i <= CTXPAR_JSON_WRITER_DEPTH; i++) ctxpar_json_array_begin(&w);
    for (int i = 0; i <= CTXPAR_JSON_WRITER_DEPTH; i++) ctxpar_json_array_end(&w);
    ASSERT_TRUE(ctxpar_json_writer_take(&w) == NULL);
}

int main(void) {
    test_writer();
    test_literals();
    test_escapes();
    test_labels();
    test_large_document();
    return test_finish("test_json");
}
