/* CPU kernels of the transformer: tiled (flash-attention style) attention
 * with a log-sum-exp per row so partial results over K/V blocks merge exactly
 * (the ring attention of comm/ relies on it), LayerNorm, GELU and RoPE-3D.
 *
 * Layout: tokens are rows. q, k and v are [n][ld] with head hh's head_dim
 * values at columns [hh*head_dim, (hh+1)*head_dim); o likewise; lse is
 * [heads][n_q]. The attention kernel never materialises an n_q x n_kv matrix:
 * scratch is O(tile^2) per thread, taken from the stack or a per-thread
 * buffer it owns for the duration of the call. */
#pragma once
#include <stdint.h>

#include "kernels/cpu/gemm_bf16.h"

/* o = softmax(scale * q k^T) v per head, lse[hh][i] = log sum_j exp(scale q_i.k_j)
 * (natural log, over this call's n_kv keys). Bidirectional (no mask).
 * n_kv == 0 gives o = 0 and lse = -INFINITY. head_dim: any multiple of 16
 * (32, 64, 128 at least). SIMD path chosen at run time (AVX-512, AVX2, portable). */
void ctxpar_cpu_attention(const float *q, int64_t ldq, const float *k, int64_t ldk,
                          const float *v, int64_t ldv, float *o, int64_t ldo, float *lse,
                          int64_t n_q, int64_t n_kv, int heads, int head_dim, float scale);

/* Merge a partial result (o_blk, lse_blk) over other keys into (o_acc, lse_acc):
 * afterwards (o_acc, lse_acc) is attention over the union of both key sets.
 * lse_acc = -INFINITY (nothing accumulated yet) is allowed. */
void ctxpar_cpu_attention_merge(float *o_acc, int64_t ld_acc, float *lse_acc, const float *o_blk,
                                int64_t ld_blk, const float *lse_blk, int64_t n_q, int heads,
                                int head_dim);

/* The same with bf16 products (attention_bf16.c, docs/bf16.md): Q, K, V
 * rounded to bf16 and P to bf16 before PV, float32 softmax and accumulation.
 * Runs the float32 kernel where ctxpar_cpu_attention_bf16_path() is NULL
 * (no AMX nor AVX512-BF16, or an odd head dim without AMX). */
void ctxpar_cpu_attention_bf16(const float *q, int64_t ldq, const float *k, int64_t ldk,
                               const float *v, int64_t ldv, float *o, int64_t ldo, float *lse,
                               int64_t n_q, int64_t n_kv, int heads, int head_dim, float scale);
/* Ring attention's form of the VDPBF16PS kernel: queries and K/V prepared
 * once for several calls (a block's granules, every query slice), and
 * outputs kept as the kernel accumulates them, in tiles of
 * CTXPAR_ATTENTION_TILE_ROWS queries, so that none of them is converted per
 * call. Same bits as the row form.
 * - queries_values: bf16 values for n_q prepared queries; 0 where the
 *   current path is not VDPBF16PS (then none of this applies).
 * - prepare_queries: q rounded to bf16, scaled and packed as the tiles read
 *   it, tile-major like o_tiles: the queries from row i0 on (i0 a multiple
 *   of TILE_ROWS) start at qp + i0 * heads * head_dim.
 * - kv_values, prepare_kv: n_kv keys' K and V rounded to bf16 and laid out
 *   as the kernel reads them; kv_values is a multiple of 32 (64 bytes), so
 *   granules prepared one after another stay aligned. The prepared values
 *   are plain data: ring attention sends them to the next rank as they are.
 * - tiles: the kernel with qp from prepare_queries (or NULL) and kvp from
 *   prepare_kv; o_tiles [tile][head][head_dim][TILE_ROWS] (o^T of a tile's
 *   queries) and lse_tiles [tile][head][TILE_ROWS], every lane written
 *   (those past n_q hold a zero query's result). Returns 0, having written
 *   nothing, when its scratch cannot be had.
 * - ctxpar_cpu_attention_merge_tiles: ctxpar_cpu_attention_merge on tiles.
 * - tiles_to_rows: a tile set's queries as rows o [n_q][ldo]. */
#define CTXPAR_ATTENTION_TILE_ROWS 64
int64_t ctxpar_cpu_attention_bf16_queries_values(int64_t n_q, int heads, int head_dim);
void ctxpar_cpu_attention_bf16_prepare_queries(ctxpar_bf16 *qp, const float *q, int64_t ldq,
                                               int64_t n_q, int heads, int head_dim,
                                               float scale);
int64_t ctxpar_cpu_attention_bf16_kv_values(int64_t n_kv, int heads, int head_dim);
void ctxpar_cpu_attention_bf16_prepare_kv(ctxpar_bf16 *kvp, const float *k, int64_t ldk,
                                          const float *v, int64_t ldv, int64_t n_kv, int heads,
                                          int head_dim);
int ctxpar_cpu_attention_bf16_tiles(const float *q, int64_t ldq, const ctxpar_bf16 *qp,
                                    const ctxpar_bf16 *kvp, float *o_tiles, float *lse_tiles,
                                    int64_t n_q, int64_t n_kv, int heads, int head_dim,
                                    float scale);
void ctxpar_cpu_attention_merge_tiles(float *o_acc, float *lse_acc, const float *o_blk,
                                      const float *lse_blk, int64_t n_q, int heads,
                                      int head_dim);
void ctxpar_cpu_attention_tiles_to_rows(float *o, int64_t ldo, const float *o_tiles, int64_t n_q,
                                        int heads, int head_dim);
/* Which bf16 attention runs for this head dim: "gemm" (a flash attention on
 * the bf16 GEMM: AMX machines), "avx512bf16" (VDPBF16PS), or NULL. */
const char *ctxpar_cpu_attention_bf16_path(int head_dim);
/* Test and benchmark hook: force "gemm" (any CPU: on the GEMM's current
 * path) or "avx512bf16" (-1 where the CPU lacks it); NULL: automatic. */
int ctxpar_cpu_attention_bf16_force_path(const char *path);

/* Which SIMD path ctxpar_cpu_attention uses on this CPU: "avx512", "avx2" or "portable". */
const char *ctxpar_cpu_attention_isa(void);

/* Test and benchmark hook: make ctxpar_cpu_attention use the named path
 * ("avx512", "avx2", "portable"); NULL restores the automatic choice.
 * Returns 0, or -1 (nothing changed) when the name is unknown or this CPU or
 * build lacks that path. Process-wide: call it between attention calls, never
 * concurrently with them. */
int ctxpar_cpu_attention_force_isa(const char *isa);

/* Row-wise LayerNorm over d: y = (x - mean) / sqrt(var + eps) * w + b. y may alias x. */
void ctxpar_cpu_layer_norm(float *y, const float *x, int64_t n, int64_t d, const float *weight,
                           const float *bias, float eps);

/* Row-wise RMSNorm over d: y = x / sqrt(mean(x^2) + eps) * w. y may alias x. */
void ctxpar_cpu_rms_norm(float *y, const float *x, int64_t n, int64_t d, const float *weight,
                         float eps);

/* In place QuickGELU: x * sigmoid(1.702 x). */
void ctxpar_cpu_quick_gelu(float *x, int64_t n);
/* The gated SiLU of a SwiGLU MLP: x [n][2f] holds [gate | up] per row;
 * y [n][f] = silu(gate) * up. y must not overlap x. */
void ctxpar_cpu_silu_gate(float *y, const float *x, int64_t n, int64_t f);

/* In place GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
void ctxpar_cpu_gelu(float *x, int64_t n);
/* In place GELU with the exact erf: 0.5 x (1 + erf(x / sqrt(2))). */
void ctxpar_cpu_gelu_erf(float *x, int64_t n);

/* RoPE-3D in place on n rows of x (row stride ld), heads of head_dim at
 * columns hh*head_dim. Row i is global token first_token + i of a grid with
 * grid_h x grid_w tokens per frame: t = g / (grid_h*grid_w), y, x the grid
 * coordinates. Each head's dims split [t | y | x] with sizes head_dim/4,
 * 3*head_dim/8, 3*head_dim/8; within a part of size m at position pos, pair
 * (2i, 2i+1) rotates by pos * 10000^(-2i/m):
 *   (a, b) -> (a cos - b sin, a sin + b cos). */
void ctxpar_cpu_rope3d(float *x, int64_t ld, int64_t n, int heads, int head_dim,
                       int64_t first_token, int64_t grid_h, int64_t grid_w);

/* V-JEPA 2's RoPE (rope_vjepa2.c), same arguments as ctxpar_cpu_rope3d: per head,
 * a = 2*((head_dim/3)/2) dims for each of t, y, x; in a block of a dims, dim j
 * takes the angle pos * 10000^(-(j mod a/2)/(a/2)) and pairs (2i, 2i+1) map
 * (u, v) -> (u cos_2i - v sin_2i, v cos_2i+1 + u sin_2i+1); dims [3a, head_dim)
 * are left as they are. */
void ctxpar_cpu_rope3d_vjepa2(float *x, int64_t ld, int64_t n, int heads, int head_dim,
                              int64_t first_token, int64_t grid_h, int64_t grid_w);
/* The same with each row's angles computed on their own (no tables): the
 * same bits; the fallback, and the tests' check of the tables. */
void ctxpar_cpu_rope3d_vjepa2_rows(float *x, int64_t ld, int64_t n, int heads, int head_dim,
                                   int64_t first_token, int64_t grid_h, int64_t grid_w);

/* Qwen2-VL's 2D RoPE (rope_axial2d.c), same arguments: per head, with
 * q = head_dim/4 and (y, x) the token's place in its frame, dim j < 2q pairs
 * with j + 2q, angle (j < q ? y : x) * 10000^(-2 (j mod q) / (2q)):
 *   (a, b) = (x_j, x_j+2q) -> (a cos - b sin, b cos + a sin). */
void ctxpar_cpu_rope_axial2d(float *x, int64_t ld, int64_t n, int heads, int head_dim,
                             int64_t first_token, int64_t grid_h, int64_t grid_w);
