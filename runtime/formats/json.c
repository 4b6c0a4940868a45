/* Recursive-descent JSON reader (see json.h). Depth is capped so a hostile
 * file cannot overflow the stack. Line and column are counted on from the
 * last position asked for, since the cursor only moves forward: a safetensors
 * header of a large model has tens of thousands of nodes, and counting from
 * the start of the text for each one would be quadratic. */
#include "runtime/formats/json.h"

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
    const char *label;
    const char *counted; /* line and column are known up to here */
    int counted_line, counted_column;
} json_parser;

static void json_position(json_parser *p, const char *at, int *line, int *column) {
    if (at < p->counted) {
        p->counted = p->text;
        p->counted_line = 1;
        p->counted_column = 1;
    }
    const char *c = p->counted;
    int l = p->counted_line, col = p->counted_column;
    for (; c < at && *c; c++) {
        if (*c == '\n') {
            l++;
            col = 1;
        } else {
            col++;
        }
    }
    p->counted = c;
    p->counted_line = l;
    p->counted_column = col;
    *line = l;
    *column = col;
}

static ctxpar_status json_fail(json_parser *p, const char *what) {
    int line, column;
    json_position(p, p->cursor, &line, &column);
    char found[24];
    if (*p->cursor == '\0')
        snprintf(found, sizeof found, "end of text");
    else if (isprint((unsigned char)*p->cursor))
        snprintf(found, sizeof found, "'%c'", *p->cursor);
    else
        snprintf(found, sizeof found, "byte 0x%02x", (unsigned char)*p->cursor);
    return ctxpar_error(CTXPAR_ERR_FORMAT, "%s: %s line %d, column %d: %s (found %s)", p->source,
                        p->label, line, column, what, found);
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

/* The 4 hex digits after "\u" (cursor on the 'u'); cursor left on the last digit. */
static ctxpar_status json_parse_hex4(json_parser *p, unsigned *out) {
    unsigned value = 0;
    for (int i = 0; i < 4; i++) {
        p->cursor++;
        char h = *p->cursor;
        unsigned digit;
        if (h >= '0' && h <= '9')
            digit = (unsigned)(h - '0');
        else if (h >= 'a' && h <= 'f')
            digit = (unsigned)(h - 'a' + 10);
        else if (h >= 'A' && h <= 'F')
            digit = (unsigned)(h - 'A' + 10);
        else
            return json_fail(p, "expected 4 hex digits after \\u");
        value = value * 16 + digit;
    }
    *out = value;
    return CTXPAR_OK;
}

/* A \uXXXX escape, with its low half when it is a UTF-16 high surrogate, as
 * a code point (cursor on the 'u'; left on the last digit read). */
static ctxpar_status json_parse_unicode_escape(json_parser *p, unsigned *code_point) {
    unsigned unit = 0;
    CTXPAR_TRY(json_parse_hex4(p, &unit));
    if (unit >= 0xDC00 && unit <= 0xDFFF)
        return json_fail(p, "\\u escape is a lone low surrogate (no high surrogate before it)");
    if (unit >= 0xD800 && unit <= 0xDBFF) {
        if (p->cursor[1] != '\\' || p->cursor[2] != 'u') {
            p->cursor++;
            return json_fail(p, "\\u high surrogate not followed by a \\u low surrogate");
        }
        p->cursor += 2;
        unsigned low = 0;
        CTXPAR_TRY(json_parse_hex4(p, &low));
        if (low < 0xDC00 || low > 0xDFFF)
            return json_fail(p, "\\u high surrogate not followed by a \\u low surrogate");
        unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
    }
    if (unit == 0) return json_fail(p, "\\u0000 in a string is not supported");
    *code_point = unit;
    return CTXPAR_OK;
}

/* Append the UTF-8 form of code_point (< 0x110000) to buf; returns its length. */
static size_t json_utf8_encode(unsigned code_point, char *buf) {
    if (code_point < 0x80) {
        buf[0] = (char)code_point;
        return 1;
    }
    if (code_point < 0x800) {
        buf[0] = (char)(0xC0 | (code_point >> 6));
        buf[1] = (char)(0x80 | (code_point & 0x3F));
        return 2;
    }
    if (code_point < 0x10000) {
        buf[0] = (char)(0xE0 | (code_point >> 12));
        buf[1] = (char)(0x80 | ((code_point >> 6) & 0x3F));
        buf[2] = (char)(0x80 | (code_point & 0x3F));
        return 3;
    }
    buf[0] = (char)(0xF0 | (code_point >> 18));
    buf[1] = (char)(0x80 | ((code_point >> 12) & 0x3F));
    buf[2] = (char)(0x80 | ((code_point >> 6) & 0x3F));
    buf[3] = (char)(0x80 | (code_point & 0x3F));
    return 4;
}

static ctxpar_status json_parse_string(json_parser *p, char **out) {
    /* cursor on the opening quote */
    p->cursor++;
    size_t cap = 16, len = 0;
    char *s = malloc(cap);
    if (!s) return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory parsing JSON");
    ctxpar_status status = CTXPAR_OK;
    for (;;) {
        char bytes[4];
        size_t n_bytes = 1;
        bytes[0] = *p->cursor;
        if (bytes[0] == '\0') {
            status = json_fail(p, "unterminated string");
            goto fail;
        }
        if ((unsigned char)bytes[0] < 0x20) {
            status = json_fail(p, "control character in string");
            goto fail;
        }
        if (bytes[0] == '"') {
            p->cursor++;
            break;
        }
        if (bytes[0] == '\\') {
            p->cursor++;
            switch (*p->cursor) {
            case '"': bytes[0] = '"'; break;
            case '\\': bytes[0] = '\\'; break;
            case '/': bytes[0] = '/'; break;
            case 'b': bytes[0] = '\b'; break;
            case 'f': bytes[0] = '\f'; break;
            case 'n': bytes[0] = '\n'; break;
            case 'r': bytes[0] = '\r'; break;
            case 't': bytes[0] = '\t'; break;
            case 'u': {
                unsigned code_point = 0;
                status = json_parse_unicode_escape(p, &code_point);
                if (status != CTXPAR_OK) goto fail;
                n_bytes = json_utf8_encode(code_point, bytes);
                break;
            }
            default:
                status = json_fail(p, "unsupported escape in string");
                goto fail;
            }
        }
        if (len + n_bytes + 1 > cap) {
            cap *= 2;
            char *grown = realloc(s, cap);
            if (!grown) {
                status = ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory parsing JSON");
                goto fail;
            }
            s = grown;
        }
        memcpy(s + len, bytes, n_bytes);
        len += n_bytes;
        p->cursor++;
    }
    s[len] = '\0';
    *out = s;
    return CTXPAR_OK;
fail:
    free(s);
    return status;
}

/* true, false or null (cursor on its first letter). */
static ctxpar_status json_parse_literal(json_parser *p, ctxpar_json **out) {
    static const struct {
        const char *word;
        ctxpar_json_kind kind;
        int boolean;
    } literals[] = {{"true", CTXPAR_JSON_BOOL, 1},
                    {"false", CTXPAR_JSON_BOOL, 0},
                    {"null", CTXPAR_JSON_NULL, 0}};
    for (size_t i = 0; i < sizeof literals / sizeof literals[0]; i++) {
        size_t n = strlen(literals[i].word);
        if (strncmp(p->cursor, literals[i].word, n) != 0) continue;
        ctxpar_json *v = json_new(p, literals[i].kind);
        if (!v) return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory parsing JSON");
        v->boolean = literals[i].boolean;
        p->cursor += n;
        *out = v;
        return CTXPAR_OK;
    }
    return json_fail(p, "expected a value (object, array, number, string, true, false or null)");
}

static ctxpar_status json_parse_value(json_parser *p, int depth, ctxpar_json **out);

/* The keys of the object being read, hashed, so a duplicate is found in
 * constant time: a safetensors header holds one key per tensor. Slots hold
 * item index + 1 (0 = empty); the table stays at most half full. */
typedef struct json_key_set {
    uint32_t *slots;
    size_t cap;
} json_key_set;

static uint64_t json_hash(const char *key) {
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (; *key; key++) h = (h ^ (unsigned char)*key) * 0x100000001b3ull;
    return h;
}

/* Index of `key` among object's keys, or -1; with `add`, record it as item n_items. */
static int json_key_find_or_add(json_key_set *set, const ctxpar_json *object, const char *key,
                                int add, int *no_memory) {
    if (add && (size_t)(object->n_items + 1) * 2 > set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 16;
        uint32_t *slots = calloc(cap, sizeof *slots);
        if (!slots) {
            *no_memory = 1;
            return -1;
        }
        for (int i = 0; i < object->n_items; i++) {
            size_t at = json_hash(object->keys[i]) & (cap - 1);
            while (slots[at]) at = (at + 1) & (cap - 1);
            slots[at] = (uint32_t)i + 1;
        }
        free(set->slots);
        set->slots = slots;
        set->cap = cap;
    }
    if (!set->cap) return -1;
    size_t at = json_hash(key) & (set->cap - 1);
    for (; set->slots[at]; at = (at + 1) & (set->cap - 1))
        if (strcmp(object->keys[set->slots[at] - 1], key) == 0) return (int)set->slots[at] - 1;
    if (add) set->slots[at] = (uint32_t)object->n_items + 1;
    return -1;
}

/* Arrays grow by doubling; the capacity is implied (the next power of two at
 * or above n_items), so a node needs no extra field. */
static ctxpar_status json_append(ctxpar_json *v, char *key, ctxpar_json *item) {
    const int n = v->n_items;
    if ((n & (n - 1)) == 0) { /* 0 or a power of two: full */
        size_t cap = n ? 2 * (size_t)n : 1;
        ctxpar_json **items = realloc(v->items, sizeof *items * cap);
        if (!items) return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory parsing JSON");
        v->items = items;
        if (v->kind == CTXPAR_JSON_OBJECT) {
            char **keys = realloc(v->keys, sizeof *keys * cap);
            if (!keys) return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory parsing JSON");
            v->keys = keys;
        }
    }
    if (v->kind == CTXPAR_JSON_OBJECT) v->keys[n] = key;
    v->items[n] = item;
    v->n_items = n + 1;
    return CTXPAR_OK;
}

static ctxpar_status json_parse_container(json_parser *p, int depth, ctxpar_json *v) {
    const int is_object = v->kind == CTXPAR_JSON_OBJECT;
    const char close = is_object ? '}' : ']';
    json_key_set keys = {NULL, 0};
    ctxpar_status status = CTXPAR_OK;
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
            if (*p->cursor != '"') {
                status = json_fail(p, "expected a string key");
                break;
            }
            status = json_parse_string(p, &key);
            if (status != CTXPAR_OK) break;
            int no_memory = 0;
            int duplicate = json_key_find_or_add(&keys, v, key, 0, &no_memory);
            if (duplicate >= 0) {
                free(key);
                status = json_fail(p, "duplicate key");
                break;
            }
            json_skip_space(p);
            if (*p->cursor != ':') {
                free(key);
                status = json_fail(p, "expected ':' after key");
                break;
            }
            p->cursor++;
        }
        ctxpar_json *item = NULL;
        status = json_parse_value(p, depth + 1, &item);
        if (status == CTXPAR_OK && is_object) {
            int no_memory = 0;
            json_key_find_or_add(&keys, v, key, 1, &no_memory);
            if (no_memory)
                status = ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory parsing JSON");
        }
        if (status == CTXPAR_OK) status = json_append(v, key, item);
        if (status != CTXPAR_OK) {
            free(key);
            ctxpar_json_free(item);
            break;
        }
        json_skip_space(p);
        if (*p->cursor == ',') {
            p->cursor++;
            continue;
        }
        if (*p->cursor == close) {
            p->cursor++;
            break;
        }
        status = json_fail(p, is_object ? "expected ',' or '}'" : "expected ',' or ']'");
        break;
    }
    free(keys.slots);
    return status;
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
    } else if (c == 't' || c == 'f' || c == 'n') {
        return json_parse_literal(p, out);
    } else if (c == '\0') {
        return json_fail(p, "expected a value");
    } else {
        return json_fail(p,
                         "expected a value (object, array, number, string, true, false or null)");
    }
    if (status != CTXPAR_OK) {
        ctxpar_json_free(v);
        return status;
    }
    *out = v;
    return CTXPAR_OK;
}

ctxpar_status ctxpar_json_parse(const char *text, const char *source, ctxpar_json **out) {
    return ctxpar_json_parse_labelled(text, source, "config JSON", out);
}

ctxpar_status ctxpar_json_parse_labelled(const char *text, const char *source, const char *label,
                                         ctxpar_json **out) {
    *out = NULL;
    json_parser p = {.text = text ? text : "",
                     .cursor = text ? text : "",
                     .source = source ? source : "config",
                     .label = label ? label : "JSON",
                     .counted = text ? text : "",
                     .counted_line = 1,
                     .counted_column = 1};
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
    case CTXPAR_JSON_BOOL: return "a boolean";
    case CTXPAR_JSON_NULL: return "null";
    }
    return "?";
}

/* ---- writing ---- */

void ctxpar_json_writer_init(ctxpar_json_writer *w) { memset(w, 0, sizeof *w); }

char *ctxpar_json_writer_take(ctxpar_json_writer *w) {
    char *text = w->failed || w->depth != 0 ? NULL : w->text;
    if (!text) free(w->text);
    if (text && !w->text) text = calloc(1, 1);
    memset(w, 0, sizeof *w);
    return text;
}

static void put(ctxpar_json_writer *w, const char *bytes, size_t n) {
    if (w->failed) return;
    if (w->len + n + 1 > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (w->len + n + 1 > cap) cap *= 2;
        char *grown = realloc(w->text, cap);
        if (!grown) {
            w->failed = 1;
            return;
        }
        w->text = grown, w->cap = cap;
    }
    memcpy(w->text + w->len, bytes, n);
    w->len += n;
    w->text[w->len] = '\0';
}

static void put_text(ctxpar_json_writer *w, const char *text) { put(w, text, strlen(text)); }

/* Before every value or key: the comma its container needs. */
static void separate(ctxpar_json_writer *w) {
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (w->depth > 0) {
        if (w->has_member[w->depth - 1]) put_text(w, ", ");
        w->has_member[w->depth - 1] = 1;
    }
}

static void open_container(ctxpar_json_writer *w, const char *bracket) {
    separate(w);
    if (w->depth == CTXPAR_JSON_WRITER_DEPTH) {
        w->failed = 1;
        return;
    }
    put_text(w, bracket);
    w->has_member[w->depth++] = 0;
}

static void close_container(ctxpar_json_writer *w, const char *bracket) {
    if (w->depth == 0) {
        w->failed = 1;
        return;
    }
    w->depth--;
    put_text(w, bracket);
}

void ctxpar_json_object_begin(ctxpar_json_writer *w) { open_container(w, "{"); }
void ctxpar_json_object_end(ctxpar_json_writer *w) { close_container(w, "}"); }
void ctxpar_json_array_begin(ctxpar_json_writer *w) { open_container(w, "["); }
void ctxpar_json_array_end(ctxpar_json_writer *w) { close_container(w, "]"); }

static void put_escaped(ctxpar_json_writer *w, const char *text) {
    put_text(w, "\"");
    for (const char *c = text; *c; c++) {
        unsigned char u = (unsigned char)*c;
        if (u == '"' || u == '\\') {
            char pair[2] = {'\\', (char)u};
            put(w, pair, 2);
        } else if (u < 0x20) {
            char code[8];
            snprintf(code, sizeof code, "\\u%04x", u);
            put_text(w, code);
        } else {
            put(w, c, 1);
        }
    }
    put_text(w, "\"");
}

void ctxpar_json_key(ctxpar_json_writer *w, const char *key) {
    separate(w);
    put_escaped(w, key);
    put_text(w, ": ");
    w->after_key = 1;
}

void ctxpar_json_string(ctxpar_json_writer *w, const char *value) {
    separate(w);
    put_escaped(w, value);
}

void ctxpar_json_int(ctxpar_json_writer *w, long long value) {
    char text[32];
    snprintf(text, sizeof text, "%lld", value);
    separate(w);
    put_text(w, text);
}

void ctxpar_json_double(ctxpar_json_writer *w, double value) {
    char text[40] = "null";
    for (int digits = 15; isfinite(value) && digits <= 17; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, value);
        if (strtod(text, NULL) == value) break;
    }
    separate(w);
    put_text(w, text);
}

void ctxpar_json_raw(ctxpar_json_writer *w, const char *json) {
    separate(w);
    int in_string = 0;
    for (const char *c = json; *c; c++) {
        if (in_string && *c == '\\' && c[1]) {
            put(w, c, 2);
            c++;
            continue;
        }
        if (*c == '"') in_string = !in_string;
        else if (!in_string && (*c == ' ' || *c == '\n' || *c == '\r' || *c == '\t')) continue;
        put(w, c, 1);
    }
}

void ctxpar_json_put_int(ctxpar_json_writer *w, const char *key, long long value) {
    ctxpar_json_key(w, key);
    ctxpar_json_int(w, value);
}

void ctxpar_json_put_double(ctxpar_json_writer *w, const char *key, double value) {
    ctxpar_json_key(w, key);
    ctxpar_json_double(w, value);
}

void ctxpar_json_put_string(ctxpar_json_writer *w, const char *key, const char *value) {
    ctxpar_json_key(w, key);
    ctxpar_json_string(w, value);
}
