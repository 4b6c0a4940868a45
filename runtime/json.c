/* Recursive-descent JSON reader (see json.h). Depth is capped so a hostile
 * file cannot overflow the stack; positions are tracked as the cursor moves
 * so errors point at the offending character. */
#include "runtime/json.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 32

typedef struct json_parser {
    const char *text;
    const char *cursor;
    const char *source;
} json_parser;

static void json_position(const json_parser *p, const char *at, int *line, int *column) {
    *line = 1;
    *column = 1;
    for (const char *c = p->text; c < at && *c; c++) {
        if (*c == '\n') {
            (*line)++;
            *column = 1;
        } else {
            (*column)++;
        }
    }
}

static ctxpar_status json_fail(const json_parser *p, const char *what) {
    int line, column;
    json_position(p, p->cursor, &line, &column);
    char found[24];
    if (*p->cursor == '\0')
        snprintf(found, sizeof found, "end of text");
    else if (isprint((unsigned char)*p->cursor))
        snprintf(found, sizeof found, "'%c'", *p->cursor);
    else
        snprintf(found, sizeof found, "byte 0x%02x", (unsigned char)*p->cursor);
    return ctxpar_error(CTXPAR_ERR_FORMAT, "%s: config JSON line %d, column %d: %s (found %s)",
                        p->source, line, column, what, found);
}

static void json_skip_space(json_parser *p) {
    while (*p->cursor == ' ' || *p->cursor == '\t' || *p->cursor == '\n' || *p->cursor == '\r')
        p->cursor++;
}

static ctxpar_json *json_new(json_parser *p, ctxpar_json_kind kind) {
    ctxpar_json *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    v->kind = kind;
    json_position(p, p->cursor, &v->line, &v->column);
    return v;
}

static ctxpar_status json_parse_string(json_parser *p, char **out) {
    /* cursor on the opening quote */
    p->cursor++;
    size_t cap = 16, len = 0;
    char *s = malloc(cap);
    if (!s) return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory parsing JSON");
    for (;;) {
        char c = *p->cursor;
        if (c == '\0') {
            free(s);
            return json_fail(p, "unterminated string");
        }
        if ((unsigned char)c < 0x20) {
            free(s);
            return json_fail(p, "control character in string");
        }
        if (c == '"') {
            p->cursor++;
            break;
        }
        if (c == '\\') {
            p->cursor++;
            switch (*p->cursor) {
            case '"': c = '"'; break;
            case '\\': c = '\\'; break;
            case '/': c = '/'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            default:
                free(s);
                return json_fail(p, "unsupported escape in string");
            }
        }
        if (len + 2 > cap) {
            cap *= 2;
            char *grown = realloc(s, cap);
            if (!grown) {
                free(s);
                return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory parsing JSON");
            }
            s = grown;
        }
        s[len++] = c;
        p->cursor++;
    }
    s[len] = '\0';
    *out = s;
    return CTXPAR_OK;
}

static ctxpar_status json_parse_value(json_parser *p, int depth, ctxpar_json **out);

static ctxpar_status json_append(ctxpar_json *v, char *key, ctxpar_json *item) {
    ctxpar_json **items = realloc(v->items, sizeof *items * (size_t)(v->n_items + 1));
    if (!items) return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory parsing JSON");
    v->items = items;
    if (v->kind == CTXPAR_JSON_OBJECT) {
        char **keys = realloc(v->keys, sizeof *keys * (size_t)(v->n_items + 1));
        if (!keys) return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory parsing JSON");
        v->keys = keys;
        v->keys[v->n_items] = key;
    }
    v->items[v->n_items++] = item;
    return CTXPAR_OK;
}

static ctxpar_status json_parse_container(json_parser *p, int depth, ctxpar_json *v) {
    const int is_object = v->kind == CTXPAR_JSON_OBJECT;
    const char close = is_object ? '}' : ']';
    p->cursor++; /* opening bracket */
    json_skip_space(p);
    if (*p->cursor == close) {
        p->cursor++;
        return CTXPAR_OK;
    }
    for (;;) {
        char *key = NULL;
        json_skip_space(p);
        if (is_object) {
            if (*p->cursor != '"') return json_fail(p, "expected a string key");
            CTXPAR_TRY(json_parse_string(p, &key));
            if (ctxpar_json_get(v, key)) {
                free(key);
                return json_fail(p, "duplicate key");
            }
            json_skip_space(p);
            if (*p->cursor != ':') {
                free(key);
                return json_fail(p, "expected ':' after key");
            }
            p->cursor++;
        }
        ctxpar_json *item = NULL;
        ctxpar_status status = json_parse_value(p, depth + 1, &item);
        if (status == CTXPAR_OK) status = json_append(v, key, item);
        if (status != CTXPAR_OK) {
            free(key);
            ctxpar_json_free(item);
            return status;
        }
        json_skip_space(p);
        if (*p->cursor == ',') {
            p->cursor++;
            continue;
        }
        if (*p->cursor == close) {
            p->cursor++;
            return CTXPAR_OK;
        }
        return json_fail(p, is_object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static ctxpar_status json_parse_value(json_parser *p, int depth, ctxpar_json **out) {
    *out = NULL;
    if (depth > JSON_MAX_DEPTH) return json_fail(p, "nesting too deep");
    json_skip_space(p);
    char c = *p->cursor;
    ctxpar_json *v = NULL;
    ctxpar_status status = CTXPAR_OK;
    if (c == '{' || c == '[') {
        v = json_new(p, c == '{' ? CTXPAR_JSON_OBJECT : CTXPAR_JSON_ARRAY);
        if (!v) return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory parsing JSON");
        status = json_parse_container(p, depth, v);
    } else if (c == '"') {
        v = json_new(p, CTXPAR_JSON_STRING);
        if (!v) return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory parsing JSON");
        status = json_parse_string(p, &v->string);
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        v = json_new(p, CTXPAR_JSON_NUMBER);
        if (!v) return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory parsing JSON");
        /* JSON grammar, checked here because strtod also takes hex, inf, nan:
         * -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
        const char *s = p->cursor;
        if (*s == '-') s++;
        if (*s == '0') {
            s++;
        } else if (isdigit((unsigned char)*s)) {
            while (isdigit((unsigned char)*s)) s++;
        } else {
            p->cursor = s;
            status = json_fail(p, "expected a digit");
        }
        if (status == CTXPAR_OK && *s == '.') {
            s++;
            if (!isdigit((unsigned char)*s)) {
                p->cursor = s;
                status = json_fail(p, "expected a digit after '.'");
            }
            while (isdigit((unsigned char)*s)) s++;
        }
        if (status == CTXPAR_OK && (*s == 'e' || *s == 'E')) {
            s++;
            if (*s == '+' || *s == '-') s++;
            if (!isdigit((unsigned char)*s)) {
                p->cursor = s;
                status = json_fail(p, "expected a digit in the exponent");
            }
            while (isdigit((unsigned char)*s)) s++;
        }
        if (status == CTXPAR_OK) {
            errno = 0;
            v->number = strtod(p->cursor, NULL);
            if (errno == ERANGE || !isfinite(v->number))
                status = json_fail(p, "number out of range");
            else
                p->cursor = s;
        }
    } else if (c == '\0') {
        return json_fail(p, "expected a value");
    } else {
        return json_fail(p, "expected a value (object, array, number or string)");
    }
    if (status != CTXPAR_OK) {
        ctxpar_json_free(v);
        return status;
    }
    *out = v;
    return CTXPAR_OK;
}

ctxpar_status ctxpar_json_parse(const char *text, const char *source, ctxpar_json **out) {
    *out = NULL;
    json_parser p = {text ? text : "", text ? text : "", source ? source : "config"};
    ctxpar_json *root = NULL;
    CTXPAR_TRY(json_parse_value(&p, 0, &root));
    json_skip_space(&p);
    if (*p.cursor != '\0') {
        ctxpar_json_free(root);
        return json_fail(&p, "unexpected text after the end of the document");
    }
    *out = root;
    return CTXPAR_OK;
}

void ctxpar_json_free(ctxpar_json *value) {
    if (!value) return;
    for (int i = 0; i < value->n_items; i++) {
        if (value->keys) free(value->keys[i]);
        ctxpar_json_free(value->items[i]);
    }
    free(value->keys);
    free(value->items);
    free(value->string);
    free(value);
}

const ctxpar_json *ctxpar_json_get(const ctxpar_json *object, const char *key) {
    if (!object || object->kind != CTXPAR_JSON_OBJECT) return NULL;
    for (int i = 0; i < object->n_items; i++)
        if (strcmp(object->keys[i], key) == 0) return object->items[i];
    return NULL;
}

const char *ctxpar_json_kind_name(ctxpar_json_kind kind) {
    switch (kind) {
    case CTXPAR_JSON_NUMBER: return "a number";
    case CTXPAR_JSON_STRING: return "a string";
    case CTXPAR_JSON_ARRAY: return "an array";
    case CTXPAR_JSON_OBJECT: return "an object";
    }
    return "?";
}

void ctxpar_json_escape(char *dst, size_t cap, const char *src) {
    size_t n = 0;
    if (cap == 0) return;
    for (; *src && n + 7 < cap; src++) {
        unsigned char c = (unsigned char)*src;
        if (c == '"' || c == '\\') {
            dst[n++] = '\\';
            dst[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(dst + n, cap - n, "\\u%04x", c);
        } else {
            dst[n++] = (char)c;
        }
    }
    dst[n] = '\0';
}
