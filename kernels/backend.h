/* The one interface between the runtime and its kernels: a struct of function
 * pointers, one instance per backend, so the pipeline never says #ifdef. Today
 * the CPU instance is the only one and the reference every other backend is
 * checked against; the CUDA kernels (kernels/cuda/) compile but have no
 * instance until they run on a GPU, so --device cuda is refused with a
 * message (docs/gpu-kernels.md). Members marked optional may be NULL.
 *
 * Buffers are host memory from the runtime's allocator; layouts and semantics
 * are those of kernels/cpu/kernels_cpu.h and kernels/cpu/transformer_cpu.h.
 * Device memory joins the interface with the backend that needs it. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "kernels/cpu/conv_bf16.h"
#include "kernels/cpu/kernels_cpu.h"
#include "kernels/cpu/transformer_cpu.h"
#include "base/device.h"
#include "base/status.h"

/* The bf16 attention's tiled form (kernels/cpu/transformer_cpu.h): queries
 * and K/V prepared once for several calls, outputs kept in tiles, merged
 * there and turned into rows once. All or none: a backend has the group or
 * not. queries_values 0: the current path has no such form. */
typedef struct ctxpar_attention_tiled {
    int64_t (*queries_values)(int64_t n_q, int heads, int head_dim);
    void (*prepare_queries)(ctxpar_bf16 *qp, const float *q, int64_t ldq, int64_t n_q, int heads,
                            int head_dim, float scale);
    int64_t (*kv_values)(int64_t n_kv, int heads, int head_dim);
    void (*prepare_kv)(ctxpar_bf16 *kvp, const float *k, int64_t ldk, const float *v,
                       int64_t ldv, int64_t n_kv, int heads, int head_dim);
    int (*attention)(const float *q, int64_t ldq, const ctxpar_bf16 *qp, const ctxpar_bf16 *kvp,
                     float *o_tiles, float *lse_tiles, int64_t n_q, int64_t n_kv, int heads,
                     int head_dim, float scale);
    void (*merge)(float *o_acc, float *lse_acc, const float *o_blk, const float *lse_blk,
                  int64_t n_q, int heads, int head_dim);
    void (*to_rows)(float *o, int64_t ldo, const float *o_tiles, int64_t n_q, int heads,
                    int head_dim);
} ctxpar_attention_tiled;

typedef struct ctxpar_backend {
    const char *name;

    /* VAE */
    int64_t (*conv3d_scratch_floats)(int64_t cin, int64_t cout, int kt, int kh, int kw,
                                     int64_t h, int64_t w, int64_t n_frames);
    void (*conv3d_causal)(const float *x, int64_t x_cstride, const float *halo, float *y,
                          int64_t y_cstride, const float *weight, const float *bias, int64_t cin,
                          int64_t cout, int kt, int kh, int kw, int64_t h, int64_t w,
                          int64_t t_begin, int64_t t_end, float *scratch);
    /* optional: a causal conv with a GroupNorm+SiLU input and/or a residual
     * folded in; the runtime uses it where conv3d_fuses says the shape
     * allows, and applies the norm and the add as passes elsewhere */
    int (*conv3d_fuses)(int64_t cin, int64_t cout, int kt, int kh, int kw, int64_t h, int64_t w);
    void (*conv3d_causal_fused)(const float *x, int64_t x_cstride, const float *halo, float *y,
                                int64_t y_cstride, const float *weight, const float *bias,
                                int64_t cin, int64_t cout, int kt, int kh, int kw, int64_t h,
                                int64_t w, int64_t t_begin, int64_t t_end,
                                const ctxpar_conv3d_fusion *fuse, float *scratch);
    int64_t (*conv2d_stride2_scratch_floats)(int64_t cin, int64_t h, int64_t w,
                                             int64_t n_frames);
    void (*conv2d_stride2)(const float *x, int64_t x_cstride, float *y, int64_t y_cstride,
                           const float *weight, const float *bias, int64_t cin, int64_t cout,
                           int64_t h, int64_t w, int pad_begin, int64_t t_begin, int64_t t_end,
                           float *scratch);
    void (*conv1x1)(const float *x, int64_t x_cstride, float *y, int64_t y_cstride,
                    const float *weight, const float *bias, int64_t cin, int64_t cout,
                    int64_t n_frames, int64_t hw);
    /* optional (NULL: no bf16 VAE): --dtype bf16's convs, every kind, on a
     * weight packed by ctxpar_cpu_conv_bf16_pack_weight (conv_bf16.h), with
     * a norm + SiLU and a residual folded in when fuse is not NULL */
    int64_t (*conv_bf16_scratch_floats)(const ctxpar_conv_bf16_shape *shape, int in_place);
    void (*conv_bf16)(const float *x, int64_t x_cstride, const float *halo, float *y,
                      int64_t y_cstride, const ctxpar_bf16 *weight, const float *bias,
                      const ctxpar_conv_bf16_shape *shape, int64_t t_begin, int64_t t_end,
                      int in_place, const ctxpar_conv3d_fusion *fuse, float *scratch);
    void (*group_moments)(const float *x, int64_t cstride, int64_t c, int64_t n, int groups,
                          ctxpar_moments *out);
    void (*group_norm_apply)(float *y, int64_t y_cstride, const float *x, int64_t x_cstride,
                             int64_t c, int64_t n, int groups, const ctxpar_moments *moments,
                             const float *weight, const float *bias, float eps, int silu);
    void (*pool_time2)(const float *x, int64_t x_cstride, float *y, int64_t y_cstride, int64_t c,
                       int64_t frames_out, int64_t hw);
    void (*add)(float *y, int64_t y_cstride, const float *x, int64_t x_cstride, int64_t c,
                int64_t n);

    /* tokens and transformer */
    void (*linear)(float *y, const float *x, int64_t n, int64_t in, int64_t out,
                   const float *weight, const float *bias);
    /* optional (NULL: the backend has no bf16 path): --dtype bf16's linear
     * on a packed weight, and its scratch in bf16 values */
    int64_t (*linear_bf16_scratch_values)(int64_t in);
    void (*linear_bf16)(float *y, const float *x, int64_t n, int64_t in, int64_t out,
                        const ctxpar_bf16 *packed, const float *bias, ctxpar_bf16 *scratch);
    /* the same on a weight read in place (gemm_bf16.h), same scratch */
    void (*linear_bf16_rows)(float *y, const float *x, int64_t n, int64_t in, int64_t out,
                             const ctxpar_bf16_rows *w, const float *bias, ctxpar_bf16 *scratch);
    int64_t (*patch_embed_scratch_floats)(int64_t z, int64_t frames, int64_t h, int64_t w, int p);
    /* the embeddings' gathers: token rows for the stage's linear */
    void (*patch_rows)(const float *latents, int64_t cstride, int64_t z, int64_t frames,
                       int64_t h, int64_t w, int p, float *rows);
    void (*attention)(const float *q, int64_t ldq, const float *k, int64_t ldk, const float *v,
                      int64_t ldv, float *o, int64_t ldo, float *lse, int64_t n_q, int64_t n_kv,
                      int heads, int head_dim, float scale);
    /* optional: attention with bf16 products (same interface) for --dtype bf16 */
    void (*attention_bf16)(const float *q, int64_t ldq, const float *k, int64_t ldk,
                           const float *v, int64_t ldv, float *o, int64_t ldo, float *lse,
                           int64_t n_q, int64_t n_kv, int heads, int head_dim, float scale);
    /* optional (NULL: none): attention_bf16's tiled form for ring attention
     * (below), used when the ring's attention is attention_bf16 (--dtype
     * bf16) */
    const struct ctxpar_attention_tiled *attention_tiled;
    void (*attention_merge)(float *o_acc, int64_t ld_acc, float *lse_acc, const float *o_blk,
                            int64_t ld_blk, const float *lse_blk, int64_t n_q, int heads,
                            int head_dim);
    void (*layer_norm)(float *y, const float *x, int64_t n, int64_t d, const float *weight,
                       const float *bias, float eps);
    void (*rms_norm)(float *y, const float *x, int64_t n, int64_t d, const float *weight,
                     float eps);
    void (*gelu)(float *x, int64_t n);
    void (*gelu_erf)(float *x, int64_t n);
    void (*quick_gelu)(float *x, int64_t n);
    void (*silu_gate)(float *y, const float *x, int64_t n, int64_t f);
    int64_t (*tubelet_embed_scratch_floats)(int64_t c, int64_t frames, int64_t h, int64_t w,
                                            int kt, int p);
    void (*tubelet_rows)(const float *x, int64_t cstride, int64_t c, int64_t frames, int64_t h,
                         int64_t w, int kt, int p, float *rows);
    void (*rope3d_vjepa2)(float *x, int64_t ld, int64_t n, int heads, int head_dim,
                          int64_t first_token, int64_t grid_h, int64_t grid_w);
    void (*rope3d)(float *x, int64_t ld, int64_t n, int heads, int head_dim, int64_t first_token,
                   int64_t grid_h, int64_t grid_w);
    void (*rope_axial2d)(float *x, int64_t ld, int64_t n, int heads, int head_dim,
                         int64_t first_token, int64_t grid_h, int64_t grid_w);
} ctxpar_backend;

/* The CPU reference backend. */
const ctxpar_backend *ctxpar_backend_cpu(void);

/* The backend for a device, or a clear error when this build or this machine
 * cannot provide it (no CUDA toolkit at build time, no GPU, no kernels yet). */
ctxpar_status ctxpar_backend_select(ctxpar_device device, int local_rank,
                                    const ctxpar_backend **out);
