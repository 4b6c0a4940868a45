/* The VAE's convolutions on the bf16 GEMM (--dtype bf16, docs/bf16.md): the
 * causal 3D convs (3x3x3, conv_in, conv_out), the 1x1 shortcuts and the
 * stride-2 downsample, all as one implicit GEMM.
 *
 * Design: C^T [output pixels][cout] = A [pixels][K] x B [K][cout], with
 * K = taps x cin2 in tap-major order (tap = (dt, dy, dx), cin2 = cin rounded
 * up to even, the pad channel zero). B is the weight, packed once per node
 * as the GEMM's panels (ctxpar_cpu_conv_bf16_pack_weight).
 *
 * A is never built as a matrix. Each input frame is converted ONCE into a
 * ring of kt padded, pixel-major bf16 frames (ring[row][col][cin2], zeros
 * in the padding), frames taken last first so that the ring slides down by
 * one frame per output frame. For one tap the A rows of consecutive output
 * pixels of a row are then cin2 x stride values apart in one ring frame, so
 * the GEMM's micro-kernel reads them in place (its lda), one pass per row
 * of kw taps (side by side in the ring as in K), C carried from pass to
 * pass (the micro-kernel's load_c): K is summed in the same order, pair
 * after pair, as one call over an im2col'd A would, without writing taps x
 * the input into memory. Where cin2 is not a multiple of 32 (conv_in's 3
 * channels; a pass must hold whole 16-pair AMX tiles) the pixels' rows are
 * gathered from the ring into an A block instead (memcpys of kw x cin2
 * values) and multiplied in one call: the same sum, the same bits.
 *
 * Every output element is the sum over K, in one fixed order, of its own
 * input window, plus the bias: the block, chunk, thread count or rank it
 * falls in does not change a bit (gemm_bf16.h: a row's result does not
 * depend on the rows beside it).
 *
 * In place (y == x, a stride-1 conv with cin == cout): frames run last
 * first, and output frame t overwrites x's frame t only after the ring
 * holds it; no later-computed frame (all earlier in time) reads it.
 *
 * A GroupNorm + SiLU before the conv folds into the conversion (each value
 * normalised once, as it enters the ring) and a residual into the write of
 * C^T, with the same float32 arithmetic as the passes they replace: the
 * same bits, two passes through memory fewer. */
#include "kernels/cpu/conv_bf16.h"
#include "kernels/cpu/conv_bf16_internal.h"

#include <string.h>

#include "kernels/cpu/conv3d_internal.h"
#include "kernels/cpu/gemm_bf16.h"
#include "kernels/cpu/gemm_bf16_internal.h"
#include "kernels/cpu/kernels_cpu.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* The two transposes around the GEMM (bf16 channels to pixel-major as the
 * ring fills, C^T back to channel-major) on SSE2, which every x86-64 has:
 * 8 x 8 blocks of bf16, 4 x 4 of float32. Moves and the same float adds as
 * the scalar loops, so the same bits. */
#if defined(__x86_64__) || defined(__SSE2__)
#include <emmintrin.h>
#define HAVE_SSE2_TRANSPOSE 1
#else
#define HAVE_SSE2_TRANSPOSE 0
#endif

enum {
    CONV_BLOCK = 96,       /* output pixels per work item: C^T's rows (a multiple of every mr) */
    CONV_DIRECT_PAIRS = 16, /* cin2/2 a multiple of this: taps read in place */
    CONV_MAX_SEGMENTS = 64  /* kt x kh: rows of taps (the VAE's convs have at most 9) */
};

static int64_t cin_even(const ctxpar_conv_bf16_shape *s) { return (s->cin + 1) / 2 * 2; }
static int64_t conv_k(const ctxpar_conv_bf16_shape *s) {
    return (int64_t)s->kt * s->kh * s->kw * cin_even(s);
}
static int direct(const ctxpar_conv_bf16_shape *s) {
    return cin_even(s) % (2 * CONV_DIRECT_PAIRS) == 0;
}

static int max_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

static int64_t round16(int64_t floats) { return (floats + 15) / 16 * 16; }

/* A ring frame: the input rows and padded columns the output reaches. */
static int64_t ring_rows(const ctxpar_conv_bf16_shape *s) {
    return (s->ho - 1) * s->stride + s->kh;
}
static int64_t ring_cols(const ctxpar_conv_bf16_shape *s) {
    return (s->wo - 1) * s->stride + s->kw;
}
static int64_t ring_frame_values(const ctxpar_conv_bf16_shape *s) {
    return ring_rows(s) * ring_cols(s) * cin_even(s);
}

int64_t ctxpar_cpu_conv_bf16_weight_values(int64_t cin, int64_t cout, int kt, int kh, int kw) {
    return ctxpar_bf16_packed_count((int64_t)kt * kh * kw * ((cin + 1) / 2 * 2), cout);
}

/* B(kk, co), kk = tap * cin2 + ci, in the panel layout of gemm_bf16.h,
 * from float32 weights (wf) or bf16 ones (wb). */
static void pack_weight(ctxpar_bf16 *dst, const float *wf, const ctxpar_bf16 *wb, int64_t cin,
                        int64_t cout, int kt, int kh, int kw) {
    const int64_t cin2 = (cin + 1) / 2 * 2, taps = (int64_t)kt * kh * kw;
    const int64_t k = taps * cin2, kp = k / 2;
    memset(dst, 0, sizeof(ctxpar_bf16) * (size_t)ctxpar_bf16_packed_count(k, cout));
#pragma omp parallel for schedule(static)
    for (int64_t co = 0; co < cout; co++)
        for (int64_t tap = 0; tap < taps; tap++)
            for (int64_t ci = 0; ci < cin; ci++) {
                const int64_t kk = tap * cin2 + ci, at = (co * cin + ci) * taps + tap;
                dst[ctxpar_conv_bf16_packed_co(co, kp) + ctxpar_conv_bf16_packed_k(kk)] =
                    wb ? ctxpar_bf16_round_trip(wb[at]) : ctxpar_bf16_from_f32(wf[at]);
            }
}

void ctxpar_cpu_conv_bf16_pack_weight(ctxpar_bf16 *dst, const float *weight, int64_t cin,
                                      int64_t cout, int kt, int kh, int kw) {
    pack_weight(dst, weight, NULL, cin, cout, kt, kh, kw);
}

void ctxpar_cpu_conv_bf16_pack_weight_bf16(ctxpar_bf16 *dst, const ctxpar_bf16 *weight,
                                           int64_t cin, int64_t cout, int kt, int kh, int kw) {
    pack_weight(dst, NULL, weight, cin, cout, kt, kh, kw);
}

/* Per thread, in floats: C^T for a block, and a gathered A block (also
 * where the taps are read in place: ctxpar_conv_bf16_with may gather). */
static int64_t thread_floats(const ctxpar_conv_bf16_shape *s) {
    const int64_t a = CONV_BLOCK * ctxpar_bf16_row_ld(conv_k(s));
    return round16(CONV_BLOCK * s->cout) + round16((a + 1) / 2);
}

static int64_t ring_floats(const ctxpar_conv_bf16_shape *s) {
    return round16(((int64_t)s->kt * ring_frame_values(s) + 1) / 2);
}

/* The causal 3x3x3 convs (pad 1, stride 1) on a VDPBF16PS core without
 * AMX go to the bf16 Winograd (conv3d_winograd.c): F(4x4) or F(2x2) in
 * space and F(2,3) in time do 4-6x fewer multiplications than this implicit
 * GEMM, which on such a core (twice float32's FMA rate, not AMX's eight
 * times) is what decides the time; docs/bf16.md, "The VAE". Frames go to
 * it WINOGRAD_CALL_FRAMES at a time (last first, as the runtime calls),
 * which bounds the rows it saves between bands; each frame's result does
 * not depend on the split. */
enum { WINOGRAD_CALL_FRAMES = 32 };
static int allow_winograd = 1;

void ctxpar_conv_bf16_allow_winograd(int allow) { allow_winograd = allow; }

static int winograd(const ctxpar_conv_bf16_shape *s) {
    return allow_winograd && s->kt == 3 && s->kh == 3 && s->kw == 3 && s->stride == 1 &&
           s->pad_top == 1 && s->pad_left == 1 && s->ho == s->h && s->wo == s->w &&
           !strcmp(ctxpar_cpu_gemm_bf16_path(), "avx512bf16") &&
           ctxpar_cpu_conv3d_winograd_bf16_supports(s->cin, s->cout, 3, 3, 3, s->h, s->w);
}

int64_t ctxpar_cpu_conv_bf16_scratch_floats(const ctxpar_conv_bf16_shape *s, int in_place) {
    (void)in_place; /* the ring holds the input: in place needs nothing more */
    const int64_t gemm = ring_floats(s) + thread_floats(s) * max_threads();
    if (!winograd(s)) return gemm;
    const int64_t wino =
        ctxpar_cpu_conv3d_winograd_tile(s->cin, s->cout, 3, s->h, s->w) == 4
            ? ctxpar_cpu_conv3d_winograd_f4_scratch_floats(s->cin, s->cout, 3, 3, 3, s->h, s->w,
                                                           WINOGRAD_CALL_FRAMES)
            : ctxpar_cpu_conv3d_winograd_f2_scratch_floats(s->cin, s->cout, 3, 3, 3, s->h, s->w,
                                                           WINOGRAD_CALL_FRAMES);
    return wino > gemm ? wino : gemm;
}

/* out[i * ld + j] = in[j][i] for j < nc, i < n: a block of converted
 * channel rows (CONVERT_PIXELS values apart) into pixel-major order. */
static void transpose_bf16(ctxpar_bf16 *out, int64_t ld, const ctxpar_bf16 *in, int64_t nc,
                           int64_t n, int64_t in_ld) {
    int64_t j0 = 0;
#if HAVE_SSE2_TRANSPOSE
    for (; j0 + 8 <= nc; j0 += 8) {
        int64_t i0 = 0;
        for (; i0 + 8 <= n; i0 += 8) {
            __m128i a[8], b[8], c[8];
            for (int r = 0; r < 8; r++)
                a[r] = _mm_loadu_si128((const __m128i *)(in + (j0 + r) * in_ld + i0));
            for (int r = 0; r < 8; r += 2) {
                b[r] = _mm_unpacklo_epi16(a[r], a[r + 1]);
                b[r + 1] = _mm_unpackhi_epi16(a[r], a[r + 1]);
            }
            /* b[0..1]: rows 0-1, b[2..3]: rows 2-3, b[4..5]: 4-5, b[6..7]: 6-7 */
            c[0] = _mm_unpacklo_epi32(b[0], b[2]), c[1] = _mm_unpackhi_epi32(b[0], b[2]);
            c[2] = _mm_unpacklo_epi32(b[1], b[3]), c[3] = _mm_unpackhi_epi32(b[1], b[3]);
            c[4] = _mm_unpacklo_epi32(b[4], b[6]), c[5] = _mm_unpackhi_epi32(b[4], b[6]);
            c[6] = _mm_unpacklo_epi32(b[5], b[7]), c[7] = _mm_unpackhi_epi32(b[5], b[7]);
            for (int q = 0; q < 4; q++) { /* columns 2q and 2q+1 */
                _mm_storeu_si128((__m128i *)(out + (i0 + 2 * q) * ld + j0),
                                 _mm_unpacklo_epi64(c[q], c[q + 4]));
                _mm_storeu_si128((__m128i *)(out + (i0 + 2 * q + 1) * ld + j0),
                                 _mm_unpackhi_epi64(c[q], c[q + 4]));
            }
        }
        for (; i0 < n; i0++)
            for (int64_t j = j0; j < j0 + 8; j++) out[i0 * ld + j] = in[j * in_ld + i0];
    }
#endif
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = j0; j < nc; j++) out[i * ld + j] = in[j * in_ld + i];
}

/* Input frame tin (x's frame, or the halo's before frame 0) into ring
 * frame dst: dst[(iy + pad_top) * cols + ix + pad_left][ci] = bf16(x[ci][iy][ix]);
 * the padding is never written (zero since the ring was cleared). Rows are
 * shared among the calling team's threads. */
enum { CONVERT_PIXELS = 64, CONVERT_CHANNELS = 16 };
static void convert_frame(ctxpar_bf16 *dst, const float *x, int64_t x_cstride, const float *halo,
                          const ctxpar_conv_bf16_shape *s, int64_t tin,
                          const ctxpar_conv3d_fusion *fuse) {
    const int64_t rows = ring_rows(s), cols = ring_cols(s), cin2 = cin_even(s);
    const int64_t hw = s->h * s->w, halo_n = s->kt - 1;
    const int64_t r0 = s->pad_top > 0 ? s->pad_top : 0;
    const int64_t r1 = s->h + s->pad_top < rows ? s->h + s->pad_top : rows;
    const int64_t c0 = s->pad_left > 0 ? s->pad_left : 0;
    const int64_t c1 = s->w + s->pad_left < cols ? s->w + s->pad_left : cols;
#pragma omp for schedule(static)
    for (int64_t r = r0; r < r1; r++) {
        const int64_t iy = r - s->pad_top;
        ctxpar_bf16 block[CONVERT_CHANNELS][CONVERT_PIXELS];
        float normed[CONVERT_PIXELS];
        for (int64_t c = c0; c < c1; c += CONVERT_PIXELS) {
            const int64_t n = c1 - c < CONVERT_PIXELS ? c1 - c : CONVERT_PIXELS;
            const int64_t ix = c - s->pad_left;
            for (int64_t ci0 = 0; ci0 < s->cin; ci0 += CONVERT_CHANNELS) {
                const int64_t nc =
                    s->cin - ci0 < CONVERT_CHANNELS ? s->cin - ci0 : CONVERT_CHANNELS;
                for (int64_t j = 0; j < nc; j++) {
                    const int64_t ci = ci0 + j;
                    const float *src = tin >= 0 ? x + ci * x_cstride + tin * hw
                                                : halo + (ci * halo_n + (tin + halo_n)) * hw;
                    if (fuse && fuse->in_scale) {
                        const int64_t at = (tin + halo_n) * s->cin + ci;
                        ctxpar_cpu_scale_shift_silu(normed, src + iy * s->w + ix, n,
                                                    fuse->in_scale[at], fuse->in_shift[at]);
                        ctxpar_bf16_convert(block[j], normed, n);
                    } else {
                        ctxpar_bf16_convert(block[j], src + iy * s->w + ix, n);
                    }
                }
                transpose_bf16(dst + (r * cols + c) * cin2 + ci0, cin2, block[0], nc, n,
                               CONVERT_PIXELS);
            }
        }
    }
}

/* dst[co * ld + i] = (ct[i][co] + bias[co]) (+ residual[co * ld_res + i])
 * for the block's n pixels: C^T back to channel-major. */
static void write_back(float *dst, int64_t ld, const float *ct, int64_t cout, int64_t n,
                       const float *bias, const float *residual, int64_t ld_res) {
    int64_t co0 = 0;
#if HAVE_SSE2_TRANSPOSE
    for (; co0 + 4 <= cout; co0 += 4) {
        __m128 b[4];
        for (int k = 0; k < 4; k++) b[k] = _mm_set1_ps(bias ? bias[co0 + k] : 0.0f);
        int64_t i0 = 0;
        for (; i0 + 4 <= n; i0 += 4) {
            __m128 r0 = _mm_loadu_ps(ct + (i0 + 0) * cout + co0);
            __m128 r1 = _mm_loadu_ps(ct + (i0 + 1) * cout + co0);
            __m128 r2 = _mm_loadu_ps(ct + (i0 + 2) * cout + co0);
            __m128 r3 = _mm_loadu_ps(ct + (i0 + 3) * cout + co0);
            _MM_TRANSPOSE4_PS(r0, r1, r2, r3); /* now r_k: channel co0 + k, 4 pixels */
            const __m128 rows[4] = {r0, r1, r2, r3};
            for (int k = 0; k < 4; k++) {
                __m128 v = _mm_add_ps(rows[k], b[k]);
                if (residual)
                    v = _mm_add_ps(v, _mm_loadu_ps(residual + (co0 + k) * ld_res + i0));
                _mm_storeu_ps(dst + (co0 + k) * ld + i0, v);
            }
        }
        for (int64_t co = co0; co < co0 + 4; co++)
            for (int64_t i = i0; i < n; i++) {
                const float v = ct[i * cout + co] + (bias ? bias[co] : 0.0f);
                dst[co * ld + i] = residual ? v + residual[co * ld_res + i] : v;
            }
    }
#endif
    for (int64_t co = co0; co < cout; co++) {
        const float b = bias ? bias[co] : 0.0f;
        for (int64_t i = 0; i < n; i++) {
            const float v = ct[i * cout + co] + b;
            dst[co * ld + i] = residual ? v + residual[co * ld_res + i] : v;
        }
    }
}

/* The ring frame holding input frame tin (tin may be negative: the halo). */
static const ctxpar_bf16 *ring_frame(const ctxpar_bf16 *ring, const ctxpar_conv_bf16_shape *s,
                                     int64_t tin) {
    return ring + ((tin % s->kt) + s->kt) % s->kt * ring_frame_values(s);
}

/* Output pixels [ox0, ox0 + n) of row oy of output frame t into dst
 * (channel-major, ld_dst floats between channels). The kw taps of one
 * (dt, dy) are side by side in the ring as in K, so A reads them as one
 * segment of kw x cin2 values. */
static void run_block(const ctxpar_bf16 *ring, float *dst, int64_t ld_dst,
                      const ctxpar_bf16 *weight, const float *bias,
                      const ctxpar_conv_bf16_shape *s, int64_t t, int64_t oy, int64_t ox0,
                      int64_t n, ctxpar_gemm_bf16_micro micro, int mr, int gather,
                      const ctxpar_conv3d_fusion *fuse, float *scratch) {
    const int64_t cols = ring_cols(s), cin2 = cin_even(s), k = conv_k(s);
    const int64_t segments = (int64_t)s->kt * s->kh, kp = k / 2, seg_pairs = s->kw * cin2 / 2;
    float *ct = scratch;
    const ctxpar_bf16 *at[CONV_MAX_SEGMENTS]; /* each segment's A at pixel ox0 */
    for (int64_t g = 0; g < segments; g++)
        at[g] = ring_frame(ring, s, t - (s->kt - 1) + g / s->kh) +
                ((oy * s->stride + g % s->kh) * cols + ox0 * s->stride) * cin2;
    if (gather) {
        const int64_t lda = ctxpar_bf16_row_ld(k);
        ctxpar_bf16 *a = (ctxpar_bf16 *)(scratch + round16(CONV_BLOCK * s->cout));
        for (int64_t i = 0; i < n; i++) {
            ctxpar_bf16 *arow = a + i * lda;
            for (int64_t g = 0; g < segments; g++)
                memcpy(arow + g * 2 * seg_pairs, at[g] + i * s->stride * cin2,
                       sizeof(ctxpar_bf16) * (size_t)(2 * seg_pairs));
            for (int64_t c = k; c < lda; c++) arow[c] = 0;
        }
        ctxpar_gemm_bf16_blocked_serial(micro, mr, n, s->cout, k, a, lda, weight, ct, s->cout,
                                        0);
    } else {
        /* passes of about GEMM_KCP pairs, as the GEMM's blocking: the B rows
         * of a pass stay in cache over the block's tiles */
        const int64_t group = GEMM_KCP / seg_pairs > 0 ? GEMM_KCP / seg_pairs : 1;
        const int64_t lda = s->stride * cin2;
        for (int64_t g0 = 0; g0 < segments; g0 += group) {
            const int64_t g1 = g0 + group < segments ? g0 + group : segments;
            for (int64_t j0 = 0; j0 < s->cout; j0 += GEMM_NR) {
                const int c_cols = (int)(s->cout - j0 < GEMM_NR ? s->cout - j0 : GEMM_NR);
                const ctxpar_bf16 *panel = weight + (j0 / GEMM_NR) * kp * 2 * GEMM_NR;
                for (int64_t i0 = 0; i0 < n; i0 += mr) {
                    const int rows = (int)(n - i0 < mr ? n - i0 : mr);
                    for (int64_t g = g0; g < g1; g++)
                        micro(seg_pairs, at[g] + i0 * lda, lda, rows,
                              panel + g * seg_pairs * 2 * GEMM_NR, ct + i0 * s->cout + j0,
                              s->cout, c_cols, g > 0);
                }
            }
        }
    }
    const int64_t px = t * s->ho * s->wo + oy * s->wo + ox0; /* in a channel of y */
    write_back(dst + px, ld_dst, ct, s->cout, n, bias,
               fuse && fuse->residual ? fuse->residual + px : NULL,
               fuse ? fuse->residual_cstride : 0);
}

void ctxpar_conv_bf16_with(ctxpar_gemm_bf16_micro micro, int mr, int gather, const float *x,
                           int64_t x_cstride, const float *halo, float *y, int64_t y_cstride,
                           const ctxpar_bf16 *weight, const float *bias,
                           const ctxpar_conv_bf16_shape *s, int64_t t_begin, int64_t t_end,
                           const ctxpar_conv3d_fusion *fuse, float *scratch) {
    if (t_end <= t_begin) return;
    const int64_t per_thread = thread_floats(s);
    const int64_t row_blocks = (s->wo + CONV_BLOCK - 1) / CONV_BLOCK;
    const int64_t items = s->ho * row_blocks;
    gather = gather || !direct(s);
    ctxpar_bf16 *ring = (ctxpar_bf16 *)scratch;
    float *threads = scratch + ring_floats(s);
    memset(ring, 0, sizeof(ctxpar_bf16) * (size_t)(s->kt * ring_frame_values(s)));
    int64_t converted = t_end; /* the ring holds input frames [converted, ...) */
    for (int64_t t = t_end - 1; t >= t_begin; t--) {
        const int64_t first = t - (s->kt - 1); /* the ring must hold [first, t] */
        const int64_t from = converted - 1 < t ? converted - 1 : t;
#pragma omp parallel
        {
            for (int64_t tin = from; tin >= first; tin--)
                convert_frame((ctxpar_bf16 *)ring_frame(ring, s, tin), x, x_cstride, halo, s,
                              tin, fuse);
            int thread = 0;
#ifdef _OPENMP
            thread = omp_get_thread_num();
#endif
#pragma omp for schedule(dynamic, 1)
            for (int64_t item = 0; item < items; item++) {
                const int64_t oy = item / row_blocks, ox0 = item % row_blocks * CONV_BLOCK;
                const int64_t n = s->wo - ox0 < CONV_BLOCK ? s->wo - ox0 : CONV_BLOCK;
                run_block(ring, y, y_cstride, weight, bias, s, t, oy, ox0, n, micro, mr, gather,
                          fuse, threads + per_thread * thread);
            }
        }
        converted = first;
    }
}

void ctxpar_cpu_conv_bf16(const float *x, int64_t x_cstride, const float *halo, float *y,
                          int64_t y_cstride, const ctxpar_bf16 *weight, const float *bias,
                          const ctxpar_conv_bf16_shape *s, int64_t t_begin, int64_t t_end,
                          int in_place, const ctxpar_conv3d_fusion *fuse, float *scratch) {
    (void)in_place; /* output frame t is written once the ring holds input frame t */
    if (winograd(s)) {
        for (int64_t end = t_end; end > t_begin; end -= WINOGRAD_CALL_FRAMES) {
            const int64_t begin = end - WINOGRAD_CALL_FRAMES > t_begin ? end - WINOGRAD_CALL_FRAMES
                                                                       : t_begin;
            ctxpar_cpu_conv3d_causal_winograd_bf16(x, x_cstride, halo, y, y_cstride, weight, bias,
                                                   s->cin, s->cout, s->h, s->w, begin, end, fuse,
                                                   scratch);
        }
        return;
    }
    ctxpar_gemm_bf16_micro micro;
    int mr;
    ctxpar_gemm_bf16_current_micro(&micro, &mr);
    ctxpar_conv_bf16_with(micro, mr, 0, x, x_cstride, halo, y, y_cstride, weight, bias, s,
                          t_begin, t_end, fuse, scratch);
}
