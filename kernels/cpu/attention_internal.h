/* Private interface between the attention dispatcher (attention.c) and its
 * SIMD paths (attention_avx512.c, attention_avx2.c, portable in attention.c).
 *
 * The dispatcher owns threading, scratch and the n_kv == 0 case; a path only
 * knows how to run ONE work item, a (head, query tile) pair, against all keys.
 * That split keeps every path free of OpenMP and lets the tests force any
 * path the CPU supports. Not installed, not part of transformer_cpu.h. */
#pragma once
#include <math.h>
#include <stdint.h>

struct ctxpar_attention_args {
    const float *q, *k, *v;
    float *o, *lse;
    int64_t ldq, ldk, ldv, ldo;
    int64_t n_q, n_kv;
    int heads, head_dim;
    float scale;
};

struct ctxpar_attention_path {
    const char *name;
    int64_t q_tile;                             /* queries per work item */
    int64_t (*scratch_floats)(int head_dim);    /* per-thread scratch, in floats */
    /* Queries [q_begin, q_begin + q_count) of head `head`, q_count <= q_tile,
     * against all n_kv > 0 keys; scratch is 64-byte aligned. */
    void (*run_tile)(const struct ctxpar_attention_args *args, int head, int64_t q_begin,
                     int64_t q_count, float *scratch);
};

extern const struct ctxpar_attention_path ctxpar_attention_path_portable;
extern const struct ctxpar_attention_path ctxpar_attention_path_avx2;
extern const struct ctxpar_attention_path ctxpar_attention_path_avx512;

/* 2^x for x <= 0 as a degree-5 polynomial on the fraction (relative error
 * 2.4e-7 on [-0.5, 0.5], fitted for relative error); shared by all paths so
 * they agree to the last bits that matter. */
#define CTXPAR_EXP2_C5 0.001327643753029406f
#define CTXPAR_EXP2_C4 0.009675540961325169f
#define CTXPAR_EXP2_C3 0.05550713464617729f
#define CTXPAR_EXP2_C2 0.24022120237350464f
#define CTXPAR_EXP2_C1 0.6931469440460205f
#define CTXPAR_EXP2_C0 1.0000001192092896f
/* Below this, 2^x is flushed to exactly 0: the clamp keeps -inf (the running
 * max before any key) away from the polynomial. */
#define CTXPAR_EXP2_MIN (-127.0f)

/* Scalar twin of the SIMD paths' exponential (same polynomial, same flush
 * to zero), so every path rounds the same way. */
static inline float ctxpar_exp2_scalar(float x) {
    if (x <= CTXPAR_EXP2_MIN) return 0.0f; /* also -inf; NaN falls through */
    float n = rintf(x), f = x - n;
    float p = CTXPAR_EXP2_C5;
    p = p * f + CTXPAR_EXP2_C4;
    p = p * f + CTXPAR_EXP2_C3;
    p = p * f + CTXPAR_EXP2_C2;
    p = p * f + CTXPAR_EXP2_C1;
    p = p * f + CTXPAR_EXP2_C0;
    return ldexpf(p, (int)n);
}

/* Attention with bf16 products as a flash attention on the bf16 GEMM
 * (attention_bf16_gemm.c): the same interface and contract as
 * ctxpar_cpu_attention_bf16, any head dim, on whatever path the GEMM takes
 * (AMX tiles where the CPU has them). */
void ctxpar_cpu_attention_bf16_gemm(const float *q, int64_t ldq, const float *k, int64_t ldk,
                                    const float *v, int64_t ldv, float *o, int64_t ldo,
                                    float *lse, int64_t n_q, int64_t n_kv, int heads,
                                    int head_dim, float scale);
/* Test hook: its softmax step forced to "avx512", "avx2" or "scalar" (NULL:
 * the best this CPU has). Returns -1, changing nothing, where this CPU or
 * build lacks it. */
int ctxpar_attention_bf16_gemm_force_softmax(const char *name);
