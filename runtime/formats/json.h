/* A small JSON reader for the model config, released models' config.json and
 * safetensors headers: objects, arrays, numbers, strings (\uXXXX escapes
 * decoded to UTF-8), true, false and null. It builds a small tree so readers
 * can look keys up in any order and reject unknown ones; every node remembers
 * its line and column so an error can say where the text went wrong. Writers
 * build their JSON with printf and share one string escaper. */
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

/* Copy text into the body of a JSON string (no quotes added): quotes,
 * backslashes and control characters escaped, since paths may hold any of
 * them. Stops early rather than overflow `cap` (7 bytes of room per step). */
void ctxpar_json_escape(char *dst, size_t cap, const char *src);
