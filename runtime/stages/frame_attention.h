/* Attention that never leaves a token frame (Qwen2-VL's per-temporal-patch
 * sequences), optionally within square windows of it (Qwen2.5-VL's window
 * layers). A rank holds whole token frames, so no key crosses ranks: no
 * ring, no messages, and the result is independent of the rank count by
 * construction. */
#pragma once
#include <stdint.h>

#include "base/status.h"
#include "kernels/backend.h"

/* The attention kernel this stage calls (backend->attention or
 * attention_bf16): same arguments as those members. */
typedef void (*ctxpar_attention_fn)(const float *q, int64_t ldq, const float *k, int64_t ldk,
                                    const float *v, int64_t ldv, float *o, int64_t ldo,
                                    float *lse, int64_t n_q, int64_t n_kv, int heads,
                                    int head_dim, float scale);

/* qkv: [n_frames * grid_h * grid_w][3d] rows (q | k | v, RoPE applied), d =
 * heads * head_dim; out: [same rows][d]. window 0: each frame attends to
 * itself; window w > 0: each w x w block of the frame's grid, aligned to its
 * top-left corner and clipped at the border, attends to itself. */
ctxpar_status ctxpar_frame_attention(ctxpar_attention_fn attention, const float *qkv,
                                     int64_t n_frames, int64_t grid_h, int64_t grid_w,
                                     int window, int heads, int head_dim, float *out);

/* Bytes of scratch the call above allocates (plan estimate). */
int64_t ctxpar_frame_attention_scratch_bytes(int64_t grid_h, int64_t grid_w, int window,
                                             int heads, int head_dim);

/* 4 * n_q * n_kv * d summed over the frame's segments: one frame, one layer. */
double ctxpar_frame_attention_flops(int64_t grid_h, int64_t grid_w, int window, int64_t dim);
