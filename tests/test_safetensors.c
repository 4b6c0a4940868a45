/* safetensors reader: a well-formed file with every supported type (values
 * checked bit for bit, F16/BF16 subnormals, infinities and NaN included),
 * metadata, a scalar, an empty and an unaligned tensor; every 16-bit pattern
 * through both the SIMD and the scalar conversion; and each malformed file a
 * user could meet, with the status and a message naming the file and, where
 * it applies, the tensor. Files are written byte by byte here, so the test
 * does not depend on any Python package. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/formats/safetensors.h"
#include "test_util.h"

static char tmpdir[64];

static void tmp_path(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", tmpdir, name);
}

/* length (little-endian u64) + header padded with spaces to a multiple of 8
 * (as real writers do, so the data section starts 8-byte aligned) + data. */
static void write_file(const char *path, const char *header, const void *data, size_t data_bytes) {
    size_t header_bytes = strlen(header);
    size_t padded = (header_bytes + 7) / 8 * 8;
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    unsigned char length[8];
    for (int i = 0; i < 8; i++) length[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    fwrite(length, 1, 8, f);
    fwrite(header, 1, header_bytes, f);
    for (size_t i = header_bytes; i < padded; i++) fputc(' ', f);
    if (data_bytes) fwrite(data, 1, data_bytes, f);
    fclose(f);
}

static void write_raw(const char *path, const void *bytes, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    if (n) fwrite(bytes, 1, n, f);
    fclose(f);
}

static uint32_t float_bits(float x) {
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    return b;
}

static float bits_float(uint32_t b) {
    float x;
    memcpy(&x, &b, sizeof x);
    return x;
}

#define ASSERT_BITS(got, want_bits)                                                    \
    do {                                                                               \
        uint32_t g_ = float_bits(got), w_ = (want_bits);                               \
        if (g_ != w_) {                                                                \
            fprintf(stderr, "%s:%d: %s has bits 0x%08x (%.9g), want 0x%08x (%.9g)\n", \
                    __FILE__, __LINE__, #got, g_, bits_float(g_), w_, bits_float(w_)); \
            test_failures++;                                                           \
        }                                                                              \
    } while (0)

/* The float32 value of an F16 pattern, derived from the definition with
 * ldexp (not the bit shuffling under test); NaN: payload kept, quiet bit set. */
static uint32_t f16_reference_bits(uint16_t h) {
    int sign = h >> 15, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
    if (exponent == 0x1f && mantissa)
        return (uint32_t)sign << 31 | 0x7fc00000u | (uint32_t)mantissa << 13;
    double magnitude = exponent == 0x1f ? INFINITY
                       : exponent == 0  ? ldexp(mantissa, -24)
                                        : ldexp(1024 + mantissa, exponent - 25);
    return float_bits((float)(sign ? -magnitude : magnitude));
}

/* ---- the well-formed file ---- */

static const float f32_values[6] = {0.0f, 1.0f, -2.5f, 3.0e38f, 1.0e-45f /* subnormal */, 7.0f};
static const uint16_t f16_values[12] = {0x0000, 0x8000, 0x3c00, 0xc000, 0x7bff, 0x0001,
                                        0x03ff, 0x0400, 0x7c00, 0xfc00, 0x7e00, 0x3555};
static const uint32_t f16_expected[12] = {
    0x00000000, 0x80000000, 0x3f800000, 0xc0000000, /* 0, -0, 1, -2 */
    0x477fe000,                                     /* 65504, the largest half */
    0x33800000,                                     /* 2^-24, the smallest subnormal */
    0x387fc000,                                     /* 1023 x 2^-24, the largest subnormal */
    0x38800000,                                     /* 2^-14, the smallest normal */
    0x7f800000, 0xff800000, 0x7fc00000,             /* inf, -inf, NaN */
    0x3eaaa000};                                    /* 0.333251953125 */
static const uint16_t bf16_values[7] = {0x3f80, 0xc040, 0x0001, 0x7f80, 0xff80, 0x7fc1, 0x7f7f};
static const uint32_t bf16_expected[7] = {0x3f800000, 0xc0400000, 0x00010000 /* subnormal */,
                                          0x7f800000, 0xff800000, 0x7fc10000 /* NaN, payload */,
                                          0x7f7f0000 /* 3.3895314e38 */};
static const double f64_values[5] = {1.0 / 3.0, 1e300, 0x1p-149, 1e-50, -0.1};
static const uint32_t f64_expected[5] = {0x3eaaaaab, 0x7f800000, 0x00000001, 0x00000000,
                                         0xbdcccccd};

static void make_good_file(const char *path) {
    unsigned char data[128];
    memset(data, 0xAB, sizeof data);
    memcpy(data + 0, f32_values, sizeof f32_values);       /* [0, 24) */
    memcpy(data + 24, f16_values, sizeof f16_values);      /* [24, 48) */
    memcpy(data + 48, bf16_values, sizeof bf16_values);    /* [48, 62) */
    const float odd[2] = {-1.5f, 1e-40f};
    memcpy(data + 62, odd, sizeof odd);                    /* [62, 70): not 4-byte aligned */
    memcpy(data + 72, f64_values, sizeof f64_values);      /* [72, 112) */
    const float scalar = 42.0f;
    memcpy(data + 112, &scalar, sizeof scalar);            /* [112, 116) */
    const uint16_t half_nan = 0x7e00;
    memcpy(data + 116, &half_nan, sizeof half_nan);        /* [116, 118) */
    const char *header =
        "{\"__metadata__\": {\"format\": \"pt\", \"note\": \"\\u00e9t\\u00e9\"},\n"
        " \"f32\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 24]},\n"
        " \"f16\": {\"dtype\": \"F16\", \"shape\": [12], \"data_offsets\": [24, 48]},\n"
        " \"bf16\": {\"shape\": [7, 1], \"dtype\": \"BF16\", \"data_offsets\": [48, 62]},\n"
        " \"odd\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [62, 70]},\n"
        " \"f64\": {\"dtype\": \"F64\", \"shape\": [5], \"data_offsets\": [72, 112]},\n"
        " \"scalar\": {\"dtype\": \"F32\", \"shape\": [], \"data_offsets\": [112, 116]},\n"
        " \"empty\": {\"dtype\": \"BF16\", \"shape\": [0, 4], \"data_offsets\": [116, 116]},\n"
        " \"w\\u00e9\\ud83d\\ude00\": {\"dtype\": \"F16\", \"shape\": [1, 1], \"data_offsets\": "
        "[116, 118], \"extra\": null}}";
    write_file(path, header, data, 120);
}

static void test_good_file(void) {
    char path[128];
    tmp_path(path, sizeof path, "good.safetensors");
    make_good_file(path);
    ctxpar_safetensors *st = NULL;
    ctxpar_status status = ctxpar_safetensors_open(path, &st);
    if (status != CTXPAR_OK) {
        fprintf(stderr, "open good file: %s\n", ctxpar_error_detail());
        test_failures++;
        return;
    }
    ASSERT_TRUE(strcmp(st->path, path) == 0);
    ASSERT_EQ_INT(st->n_tensors, 8);
    static const char *const order[] = {"f32", "f16", "bf16", "odd", "f64", "scalar", "empty",
                                        "w\xc3\xa9\xf0\x9f\x98\x80"};
    for (int i = 0; i < 8 && i < st->n_tensors; i++)
        ASSERT_TRUE(strcmp(st->tensors[i].name, order[i]) == 0);
    for (int i = 0; i < 8; i++)
        ASSERT_TRUE(ctxpar_safetensors_find(st, order[i]) == &st->tensors[i]);
    ASSERT_TRUE(ctxpar_safetensors_find(st, "__metadata__") == NULL);
    ASSERT_TRUE(ctxpar_safetensors_find(st, "absent") == NULL);
    ASSERT_TRUE(ctxpar_safetensors_find(st, "") == NULL);

    const ctxpar_st_tensor *t = ctxpar_safetensors_find(st, "f32");
    ASSERT_EQ_INT(t->dtype, CTXPAR_ST_F32);
    ASSERT_EQ_INT(t->ndim, 2);
    ASSERT_EQ_INT(t->shape[0], 2);
    ASSERT_EQ_INT(t->shape[1], 3);
    ASSERT_EQ_INT(t->count, 6);
    ASSERT_EQ_INT(t->bytes, 24);
    ASSERT_TRUE((const unsigned char *)t->data ==
                (const unsigned char *)st->map + st->map_bytes - 120);
    float out[16];
    ctxpar_safetensors_to_f32(t, out);
    for (int i = 0; i < 6; i++) {
        ASSERT_BITS(out[i], float_bits(f32_values[i]));
    }

    t = ctxpar_safetensors_find(st, "f16");
    ASSERT_EQ_INT(t->dtype, CTXPAR_ST_F16);
    ctxpar_safetensors_to_f32(t, out);
    for (int i = 0; i < 12; i++) {
        ASSERT_BITS(out[i], f16_expected[i]);
        ASSERT_BITS(out[i], f16_reference_bits(f16_values[i]));
    }

    t = ctxpar_safetensors_find(st, "bf16");
    ASSERT_EQ_INT(t->dtype, CTXPAR_ST_BF16);
    ASSERT_EQ_INT(t->ndim, 2);
    ctxpar_safetensors_to_f32(t, out);
    for (int i = 0; i < 7; i++) ASSERT_BITS(out[i], bf16_expected[i]);
    ASSERT_TRUE(isnan(out[5]));

    t = ctxpar_safetensors_find(st, "odd");
    ASSERT_EQ_INT(((uintptr_t)t->data) % 4, 2);
    ctxpar_safetensors_to_f32(t, out);
    ASSERT_BITS(out[0], float_bits(-1.5f));
    ASSERT_BITS(out[1], float_bits(1e-40f));

    t = ctxpar_safetensors_find(st, "f64");
    ASSERT_EQ_INT(t->dtype, CTXPAR_ST_F64);
    ctxpar_safetensors_to_f32(t, out);
    for (int i = 0; i < 5; i++) ASSERT_BITS(out[i], f64_expected[i]);

    t = ctxpar_safetensors_find(st, "scalar");
    ASSERT_EQ_INT(t->ndim, 0);
    ASSERT_EQ_INT(t->count, 1);
    ASSERT_EQ_INT(t->bytes, 4);
    out[0] = 0;
    ctxpar_safetensors_to_f32(t, out);
    ASSERT_BITS(out[0], float_bits(42.0f));

    t = ctxpar_safetensors_find(st, "empty");
    ASSERT_EQ_INT(t->ndim, 2);
    ASSERT_EQ_INT(t->count, 0);
    ASSERT_EQ_INT(t->bytes, 0);
    out[0] = 5.0f;
    ctxpar_safetensors_to_f32(t, out);
    ASSERT_BITS(out[0], float_bits(5.0f)); /* nothing written */

    /* a name spelled with \u escapes, one a surrogate pair, found by its UTF-8 */
    t = ctxpar_safetensors_find(st, "w\xc3\xa9\xf0\x9f\x98\x80");
    ASSERT_TRUE(t != NULL);
    if (t) {
        ctxpar_safetensors_to_f32(t, out);
        ASSERT_BITS(out[0], 0x7fc00000); /* F16 0x7e00, a quiet NaN */
    }

    ASSERT_EQ_INT(strcmp(ctxpar_st_dtype_name(CTXPAR_ST_F32), "F32"), 0);
    ASSERT_EQ_INT(strcmp(ctxpar_st_dtype_name(CTXPAR_ST_F16), "F16"), 0);
    ASSERT_EQ_INT(strcmp(ctxpar_st_dtype_name(CTXPAR_ST_BF16), "BF16"), 0);
    ASSERT_EQ_INT(strcmp(ctxpar_st_dtype_name(CTXPAR_ST_F64), "F64"), 0);
    ctxpar_safetensors_close(st);
    ctxpar_safetensors_close(NULL);
}

/* All 65536 F16 and BF16 patterns, three times over plus a ragged tail, in
 * one large tensor (SIMD path, chunks spread over two threads) and through
 * tensors of 1 to 15 elements (the scalar path and the SIMD loops' tails). */
static void test_all_patterns(void) {
    const int64_t count = 3 * 65536 + 5;
    uint16_t *halves = malloc(sizeof *halves * (size_t)count);
    float *out = malloc(sizeof *out * (size_t)count);
    for (int64_t i = 0; i < count; i++) halves[i] = (uint16_t)(i * 40503u); /* odd: a permutation */
    char header[512], path[128];
    tmp_path(path, sizeof path, "patterns.safetensors");
    /* the same patterns twice: once read as F16, once as BF16 */
    snprintf(header, sizeof header,
             "{\"h\": {\"dtype\": \"F16\", \"shape\": [%lld], \"data_offsets\": [0, %lld]}, "
             "\"b\": {\"dtype\": \"BF16\", \"shape\": [%lld], \"data_offsets\": [%lld, %lld]}}",
             (long long)count, (long long)count * 2, (long long)count, (long long)count * 2,
             (long long)count * 4);
    unsigned char *data = malloc((size_t)count * 4);
    memcpy(data, halves, (size_t)count * 2);
    memcpy(data + count * 2, halves, (size_t)count * 2);
    write_file(path, header, data, (size_t)count * 4);
    free(data);

    ctxpar_safetensors *st = NULL;
    if (ctxpar_safetensors_open(path, &st) != CTXPAR_OK) {
        fprintf(stderr, "open patterns: %s\n", ctxpar_error_detail());
        test_failures++;
        free(halves);
        free(out);
        return;
    }
    omp_set_num_threads(2);
    for (int pass = 0; pass < 2; pass++) {
        const int is_f16 = pass == 0;
        const ctxpar_st_tensor *t = ctxpar_safetensors_find(st, is_f16 ? "h" : "b");
        memset(out, 0, sizeof *out * (size_t)count);
        ctxpar_safetensors_to_f32(t, out);
        int64_t bad = 0;
        for (int64_t i = 0; i < count; i++) {
            uint32_t want = is_f16 ? f16_reference_bits(halves[i]) : (uint32_t)halves[i] << 16;
            if (float_bits(out[i]) != want && bad++ < 5)
                fprintf(stderr, "%s[%lld] 0x%04x: got 0x%08x want 0x%08x\n", t->name,
                        (long long)i, halves[i], float_bits(out[i]), want);
        }
        ASSERT_EQ_INT(bad, 0);

        /* small pieces: every length 1..15 and offset, through the same entry point */
        bad = 0;
        int64_t done = 0;
        for (int len = 1; done < 65536; len = len % 15 + 1) {
            ctxpar_st_tensor piece = *t;
            piece.ndim = 1;
            piece.shape[0] = piece.count = len;
            piece.bytes = 2 * len;
            piece.data = (const uint16_t *)t->data + done;
            float small[16];
            small[len] = 123.0f;
            ctxpar_safetensors_to_f32(&piece, small);
            for (int i = 0; i < len; i++) {
                uint16_t h = halves[done + i];
                uint32_t want = is_f16 ? f16_reference_bits(h) : (uint32_t)h << 16;
                if (float_bits(small[i]) != want && bad++ < 5)
                    fprintf(stderr, "%s piece [%lld] 0x%04x: got 0x%08x want 0x%08x\n", t->name,
                            (long long)(done + i), h, float_bits(small[i]), want);
            }
            if (small[len] != 123.0f) bad++; /* wrote past the end */
            done += len;
        }
        ASSERT_EQ_INT(bad, 0);
    }
    omp_set_num_threads(1);
    ctxpar_safetensors_close(st);
    free(halves);
    free(out);
}

/* ---- malformed files ---- */

/* Expect open to fail with `want`; the message must name the file and hold
 * each non-NULL needle. */
static void expect_open_error(const char *what, const char *path, ctxpar_status want,
                              const char *needle1, const char *needle2) {
    ctxpar_safetensors *st = (ctxpar_safetensors *)&st; /* must be reset to NULL */
    ctxpar_error_clear();
    ctxpar_status status = ctxpar_safetensors_open(path, &st);
    const char *detail = ctxpar_error_detail();
    if (status != want) {
        fprintf(stderr, "%s: status %s, expected %s (detail: %s)\n", what,
                ctxpar_status_name(status), ctxpar_status_name(want), detail);
        test_failures++;
    }
    if (st != NULL) {
        fprintf(stderr, "%s: handle not NULL after a failed open\n", what);
        test_failures++;
        if (status == CTXPAR_OK) ctxpar_safetensors_close(st);
    }
    if (!strstr(detail, path) || (needle1 && !strstr(detail, needle1)) ||
        (needle2 && !strstr(detail, needle2))) {
        fprintf(stderr, "%s: message '%s' lacks '%s' / '%s' / '%s'\n", what, detail, path,
                needle1 ? needle1 : "", needle2 ? needle2 : "");
        test_failures++;
    }
    if (strchr(detail, '\n')) {
        fprintf(stderr, "%s: message is more than one line: '%s'\n", what, detail);
        test_failures++;
    }
    ctxpar_error_clear();
}

/* A file whose header is `header` and whose data section has data_bytes bytes. */
static void expect_header_error(const char *what, const char *header, size_t data_bytes,
                                const char *needle1, const char *needle2) {
    char path[128];
    tmp_path(path, sizeof path, "bad.safetensors");
    unsigned char *data = calloc(1, data_bytes ? data_bytes : 1);
    write_file(path, header, data, data_bytes);
    free(data);
    expect_open_error(what, path, CTXPAR_ERR_FORMAT, needle1, needle2);
    unlink(path);
}

static void test_bad_files(void) {
    char path[128];

    tmp_path(path, sizeof path, "absent.safetensors");
    expect_open_error("absent", path, CTXPAR_ERR_IO, "cannot open", "No such file");

    expect_open_error("directory", tmpdir, CTXPAR_ERR_IO, "not a regular file", NULL);

    tmp_path(path, sizeof path, "empty.safetensors");
    write_raw(path, "", 0);
    expect_open_error("0-byte file", path, CTXPAR_ERR_FORMAT, "empty (0 bytes)", NULL);

    tmp_path(path, sizeof path, "short.safetensors");
    write_raw(path, "\x10\0\0\0\0", 5);
    expect_open_error("5-byte file", path, CTXPAR_ERR_FORMAT, "5 bytes", "shorter than the 8-byte");

    tmp_path(path, sizeof path, "long_header.safetensors");
    write_raw(path, "\x40\0\0\0\0\0\0\0{}", 10); /* claims 64 header bytes, holds 2 */
    expect_open_error("header past the end", path, CTXPAR_ERR_FORMAT,
                      "header length 64 is more than the 2 bytes", "truncated");

    /* an absurd length in a file big enough to hold it (sparse: no disk used) */
    tmp_path(path, sizeof path, "huge_header.safetensors");
    const uint64_t huge = (100ull << 20) + 8;
    unsigned char length[8];
    for (int i = 0; i < 8; i++) length[i] = (unsigned char)(huge >> (8 * i));
    write_raw(path, length, 8);
    ASSERT_EQ_INT(truncate(path, (off_t)huge + 64), 0);
    expect_open_error("header over 100 MiB", path, CTXPAR_ERR_FORMAT, "header length 104857608",
                      "absurd");
    unlink(path);

    tmp_path(path, sizeof path, "nul.safetensors");
    write_raw(path, "\x08\0\0\0\0\0\0\0{\"a\"\0}   ", 16);
    expect_open_error("NUL in header", path, CTXPAR_ERR_FORMAT, "NUL byte at offset 4", NULL);

    expect_header_error("not JSON", "{\"a\": {\"dtype\": F32}}", 0,
                        "safetensors header JSON line 1, column 17", "expected a value");
    expect_header_error("empty header", "", 0, "safetensors header JSON", "expected a value");
    expect_header_error("not an object", "[1, 2]", 0, "header is an array",
                        "expected an object mapping tensor names");
    expect_header_error("metadata not an object", "{\"__metadata__\": [\"x\"]}", 0,
                        "__metadata__ is an array", NULL);
    expect_header_error("entry not an object", "{\"w\": 3}", 0,
                        "tensor w: header entry is a number", NULL);
    expect_header_error("no dtype", "{\"w\": {\"shape\": [1], \"data_offsets\": [0, 4]}}", 4,
                        "tensor w: header entry has no \"dtype\"", NULL);
    expect_header_error("no shape", "{\"w\": {\"dtype\": \"F32\", \"data_offsets\": [0, 4]}}", 4,
                        "tensor w: header entry has no \"shape\"", NULL);
    expect_header_error("no data_offsets", "{\"w\": {\"dtype\": \"F32\", \"shape\": [1]}}", 4,
                        "tensor w: header entry has no \"data_offsets\"", NULL);
    expect_header_error("dtype a number",
                        "{\"w\": {\"dtype\": 32, \"shape\": [1], \"data_offsets\": [0, 4]}}", 4,
                        "tensor w: \"dtype\" is a number", "expected a string");
    expect_header_error("shape a string",
                        "{\"w\": {\"dtype\": \"F32\", \"shape\": \"1\", \"data_offsets\": [0, 4]}}",
                        4, "tensor w: \"shape\" is a string", "expected an array");
    expect_header_error("offsets null",
                        "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": null}}", 4,
                        "tensor w: \"data_offsets\" is null", "expected an array");
    expect_header_error("unsupported dtype",
                        "{\"ok\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}, "
                        "\"ids\": {\"dtype\": \"I64\", \"shape\": [1], \"data_offsets\": [4, 12]}}",
                        12, "tensor ids: dtype I64 is not supported",
                        "supported: F32, F16, BF16, F64");
    expect_header_error(
        "negative dim",
        "{\"w\": {\"dtype\": \"F32\", \"shape\": [2, -1], \"data_offsets\": [0, 4]}}", 4,
        "tensor w: shape[1] is -1", "non-negative integer");
    expect_header_error("fractional dim",
                        "{\"w\": {\"dtype\": \"F32\", \"shape\": [2.5], \"data_offsets\": [0, 4]}}",
                        4, "tensor w: shape[0] is 2.5", "non-negative integer");
    expect_header_error(
        "boolean dim", "{\"w\": {\"dtype\": \"F32\", \"shape\": [true], \"data_offsets\": [0, 4]}}",
        4, "tensor w: shape[0] is a boolean", NULL);
    expect_header_error("nine dims",
                        "{\"w\": {\"dtype\": \"F32\", \"shape\": [1,1,1,1,1,1,1,1,1], "
                        "\"data_offsets\": [0, 4]}}",
                        4, "tensor w: shape has 9 dimensions, at most 8", NULL);
    expect_header_error("huge count",
                        "{\"w\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296], "
                        "\"data_offsets\": [0, 4]}}",
                        4, "tensor w: shape [4294967296, 4294967296]", "more elements than fit");
    expect_header_error("one offset",
                        "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4]}}", 4,
                        "tensor w: data_offsets", "two non-negative integers");
    expect_header_error("negative offset",
                        "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [-4, 0]}}",
                        4, "tensor w: data_offsets", "two non-negative integers");
    expect_header_error("end before begin",
                        "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [8, 4]}}",
                        8, "tensor w: data_offsets [8, 4] end before begin", NULL);
    expect_header_error(
        "truncated",
        "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}, "
        "\"b\": {\"dtype\": \"F16\", \"shape\": [4, 2], \"data_offsets\": [8, 24]}}",
        20, "tensor b: data_offsets [8, 24] end beyond the data section (20 bytes)",
        "truncated (4 bytes short)");
    expect_header_error(
        "size mismatch",
        "{\"w\": {\"dtype\": \"BF16\", \"shape\": [3, 2], \"data_offsets\": [0, 8]}}", 8,
        "tensor w: data_offsets [0, 8] hold 8 bytes",
        "shape [3, 2] of BF16 needs 6 x 2 = 12 bytes");
    expect_header_error("scalar size",
                        "{\"s\": {\"dtype\": \"F64\", \"shape\": [], \"data_offsets\": [0, 4]}}",
                        8, "tensor s: data_offsets [0, 4] hold 4 bytes", "needs 1 x 8 = 8 bytes");
    expect_header_error("overlap",
                        "{\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}, "
                        "\"z\": {\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [8, 8]}, "
                        "\"c\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [16, 20]}, "
                        "\"b\": {\"dtype\": \"F16\", \"shape\": [2], \"data_offsets\": [12, 16]}}",
                        20, "tensors a (data_offsets [0, 16]) and b (data_offsets [12, 16])",
                        "overlap in the data section");
    expect_header_error(
        "overlap nested",
        "{\"big\": {\"dtype\": \"F32\", \"shape\": [8], \"data_offsets\": [0, 32]}, "
        "\"mid\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}, "
        "\"late\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [20, "
        "24]}}",
        32, "tensors big (data_offsets [0, 32]) and mid (data_offsets [4, 8])", NULL);
    expect_header_error("duplicate name",
                        "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}, "
                        "\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}",
                        8, "duplicate key", NULL);
    expect_header_error(
        "bad escape in name",
        "{\"w\\ud800x\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, "
        "4]}}",
        4, "high surrogate not followed by a \\u low surrogate", NULL);

    /* a path that does not fit the handle */
    char long_path[1100];
    memset(long_path, 'x', sizeof long_path - 1);
    long_path[sizeof long_path - 1] = '\0';
    ctxpar_safetensors *st = NULL;
    ASSERT_EQ_INT(ctxpar_safetensors_open(long_path, &st), CTXPAR_ERR_ARGUMENT);
    ASSERT_TRUE(st == NULL);
    ASSERT_TRUE(strstr(ctxpar_error_detail(), "too long") != NULL);
    ctxpar_error_clear();
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ctxpar_st_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_good_file();
    test_all_patterns();
    test_bad_files();
    char path[128];
    tmp_path(path, sizeof path, "good.safetensors");
    unlink(path);
    tmp_path(path, sizeof path, "patterns.safetensors");
    unlink(path);
    static const char *const leftovers[] = {"empty.safetensors", "short.safetensors",
                                            "long_header.safetensors", "nul.safetensors"};
    for (int i = 0; i < 4; i++) {
        tmp_path(path, sizeof path, leftovers[i]);
        unlink(path);
    }
    rmdir(tmpdir);
    return test_finish("test_safetensors");
}
