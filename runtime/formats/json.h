/* A small JSON reader for the model config, released models' config.json and
 * safetensors headers: objects, arrays, numbers, strings (\uXXXX escapes
 * decoded to UTF-8), true, false and null. It builds a small tree so readers
 * can look keys up in any order and reject unknown ones; every node remembers
 * its line and column so an error can say where the text went wrong.
 *
 * And the one JSON writer every document ctxpar writes goes through (model
 * config, the features file's run config, benchmark lines): the writer
 * places commas and escapes strings, so no caller formats JSON by hand. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

typedef enum ctxpar_json_kind {
    CTXPAR_JSON_NUMBER,
    CTXPAR_JSON_STRING,
    CTXPAR_JSON_ARRAY,
    CTXPAR_JSON_OBJECT,
    CTXPAR_JSON_BOOL,
    CTXPAR_JSON_NULL
} ctxpar_json_kind;

typedef struct ctxpar_json ctxpar_json;
struct ctxpar_json {
    ctxpar_json_kind kind;
    double number;        /* NUMBER */
    int boolean;          /* BOOL: 0 or 1 */
    char *string;         /* STRING (NUL-terminated) */
    int n_items;          /* ARRAY, OBJECT */
    char **keys;          /* OBJECT: n_items keys, in text order */
    ctxpar_json **items;  /* ARRAY, OBJECT */
    int line, column;     /* where the value starts (1-based) */
};

/* Parse a whole NUL-terminated document (trailing garbage is an error).
 * Errors are CTXPAR_ERR_FORMAT "<source>: <label> line L, column C: <what>";
 * ctxpar_json_parse's label is "config JSON", ctxpar_json_parse_labelled
 * takes one ("safetensors header JSON"; NULL means "JSON"). A string may not
 * hold \u0000, since strings are handed out NUL-terminated. */
ctxpar_status ctxpar_json_parse(const char *text, const char *source, ctxpar_json **out);
ctxpar_status ctxpar_json_parse_labelled(const char *text, const char *source, const char *label,
                                         ctxpar_json **out);
void ctxpar_json_free(ctxpar_json *value);

/* The member `key` of an object, or NULL. */
const ctxpar_json *ctxpar_json_get(const ctxpar_json *object, const char *key);
const char *ctxpar_json_kind_name(ctxpar_json_kind kind);

/* ---- writing ---- */

#define CTXPAR_JSON_WRITER_DEPTH 16

/* Values appended to a growing text. Containers nest up to
 * CTXPAR_JSON_WRITER_DEPTH; members are separated by ", " and keys by ": ",
 * on one line. A failed allocation (or nesting too deep) is remembered and
 * reported once, by ctxpar_json_writer_take. */
typedef struct ctxpar_json_writer {
    char *text;
    size_t len, cap;
    int failed;
    int depth;
    int after_key;
    unsigned char has_member[CTXPAR_JSON_WRITER_DEPTH];
} ctxpar_json_writer;

void ctxpar_json_writer_init(ctxpar_json_writer *w);
/* The finished text (malloc'd, the caller frees it), or NULL if anything
 * failed; the writer is empty afterwards either way. */
char *ctxpar_json_writer_take(ctxpar_json_writer *w);

void ctxpar_json_object_begin(ctxpar_json_writer *w);
void ctxpar_json_object_end(ctxpar_json_writer *w);
void ctxpar_json_array_begin(ctxpar_json_writer *w);
void ctxpar_json_array_end(ctxpar_json_writer *w);
/* The key of the next value (inside an object). */
void ctxpar_json_key(ctxpar_json_writer *w, const char *key);
/* Values. Strings are escaped (quotes, backslashes, control characters);
 * doubles are written with the fewest digits that read back as the same
 * double, and as null when not finite (JSON has no NaN); raw takes text that
 * is JSON already (a config.json verbatim) and copies it with the
 * whitespace outside its strings dropped. */
void ctxpar_json_string(ctxpar_json_writer *w, const char *value);
void ctxpar_json_int(ctxpar_json_writer *w, long long value);
void ctxpar_json_double(ctxpar_json_writer *w, double value);
void ctxpar_json_raw(ctxpar_json_writer *w, const char *json);
/* An object member: the key, then the value. */
void ctxpar_json_put_int(ctxpar_json_writer *w, const char *key, long long value);
void ctxpar_json_put_double(ctxpar_json_writer *w, const char *key, double value);
void ctxpar_json_put_string(ctxpar_json_writer *w, const char *key, const char *value);
