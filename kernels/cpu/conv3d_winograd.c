/* Causal 3D convolution with 3x3 spatial taps as Winograd: F(2x2, 3x3) or
 * F(4x4, 3x3) in space, and F(2, 3) in time when kt = 3.
 *
 * Design: the direct kernel already runs at ~90% of the FMA peak, so the only
 * way to go faster is fewer multiplications. F(m x m, 3x3) turns each 3x3
 * spatial tap into a = (m+2)^2 element-wise products per m x m output tile:
 * F(2x2) 16 products for 4 outputs (2.25x fewer multiplications than the
 * direct 36), F(4x4) 36 for 16 (4x fewer). With the input tile transform
 * V = B^T d B (a x a tiles at stride m, zero padding 1) and the weight
 * transform U = G g G^T, the causal conv becomes, for every one of the a
 * tile positions p, one GEMM per output frame t:
 *   M_p[co][tile] = sum_{dt, ci} U_p[co][dt*cin + ci] V_p[t - (kt-1) + dt][ci][tile]
 * and the output transform A^T M A (plus the bias) gives the m x m outputs.
 * With kt = 3 the temporal taps get the same treatment, F(2, 3): two output
 * frames from four GEMMs with K = cin instead of two with K = 3*cin, 1.5x
 * fewer again (pairs_band below).
 *
 * F(4x4) takes its interpolation points at 0, 1, -1, 2, -1/2 (and infinity)
 * rather than the usual 0, +-1, +-2: on data scaled like a trained layer its
 * float32 error is 2.5-5e-6 of the largest output against ~2e-5 for +-2
 * (F(2x2): 5e-7); docs/bench-conv.md has the comparison. The caller picks
 * the tile per shape (ctxpar_cpu_conv3d_winograd_tile): F(4x4) from 32x32
 * frames up, F(2x2) where transformed weights (36*4*cout*cin floats in
 * time, recomputed per call) would pass 160 MB.
 *
 * In bf16 (--dtype bf16 on a VDPBF16PS core, through conv_bf16.c; kt = 3,
 * even cin): the same transforms in float32, with the temporally
 * transformed inputs E_j and the weights U rounded once to bf16 and stored
 * as channel pairs, and the GEMMs on VDPBF16PS (float32 accumulation, the
 * same register tile, K in pieces of the same 16 KB). Only the inputs of
 * the products are rounded; sums, the output transform and the fused work
 * stay float32. F(4x4)'s per-layer error in bf16 is several times a direct
 * bf16 conv's (docs/bf16.md, "The VAE"); the model's stays within the
 * issue's bound, which e2e_cogvideox_bf16 checks.
 *
 * Fused work (ctxpar_conv3d_fusion): a GroupNorm's per-frame scale and
 * shift and SiLU are applied to input rows as they are split for the tile
 * transform, and a residual is added as output rows leave the tile buffer,
 * so neither makes a pass of its own through memory.
 *
 * What shapes the code:
 * - The frame is cut into horizontal bands of whole chunks (at least
 *   BAND_ROWS pixel rows, fewer where kt transformed bands would pass
 *   BAND_RING_FLOATS), and the call runs band by band, frames first to last
 *   inside a band. Each input band is transformed once, into a ring of kt
 *   transformed bands (4 in time: a pair's inputs); output frame t's band
 *   transforms input frame t's band, then reads slots t-kt+1..t. The
 *   scratch is therefore bounded whatever the frame size (a ring of whole
 *   frames was 2.1 GB at 128 channels of 480x720), and the transformed
 *   inputs are still warm in L3 when the GEMMs read them.
 * - In place (y aliasing x, chunks run last-first, the contract of
 *   ctxpar_cpu_conv3d_causal): every input of an output band is transformed
 *   before any of its outputs is written, and later frames read frame t from
 *   the ring, so within a band nothing is overwritten too early. Across
 *   bands, the next band's tile row needs one input row above it, the last
 *   output row of this band. So before frame t's band is written, that row of
 *   x frame t is saved (cin*w floats per frame of the call) and the next
 *   band's transform of frame t reads the copy.
 * - A transformed band is split into chunks of whole tile rows (about 128
 *   tiles): [p][chunk][ci][tile], so a GEMM's B operand (one p, one chunk,
 *   kt*cin rows of one chunk's tiles) is kt contiguous blocks that stay in
 *   L2 while every output-channel block of that p runs over it.
 * - The GEMM micro-kernel is the direct kernel's register tile: 12 output
 *   channels x 32 tiles (24 zmm accumulators), one broadcast weight per
 *   output channel and two vector loads per reduction index. Weights are
 *   packed per call into [p][co block][k][12] panels (cout*cin*kt*a floats,
 *   a few percent of the conv's time where the tile is chosen).
 * - OpenMP splits (chunk, p, group of output-channel blocks) GEMMs for a
 *   batch of chunks (BATCH_M_FLOATS of results), then the batch's output
 *   transforms, so a band of a frame costs a few barriers, not two per chunk.
 *   In time the work items are (chunk, p), each forming its temporal inputs
 *   and combining its products in L2.
 * - Chunks, bands, tiles and the reduction order depend only on the frame
 *   size, the channel counts and the tile, never on t_begin/t_end or the
 *   thread count; temporal pairs depend on frame indices in the whole video
 *   (ctxpar_conv3d_fusion.first_frame), never on where a call or a rank's
 *   frames begin. Each value is one fixed-order sum, so results are
 *   bit-identical for any chunking of the frames, thread count and rank
 *   count. */
#include "kernels/cpu/conv3d_internal.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/conv_bf16.h"
#include "kernels/cpu/exp_approx.h"
#include "kernels/cpu/gemm_bf16.h"
#include "kernels/cpu/kernels_cpu.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* MAX_W bounds the per-thread row buffers on the stack; wider frames take
 * the direct path. BATCH_M_FLOATS: GEMM results of a batch of chunks (8 MB,
 * L3) computed between two barriers; one chunk at a time cost a barrier per
 * 128 tiles, which on a busy machine (a thread waiting for a descheduled
 * one) cost more than the convolution. */
enum { BATCH_M_FLOATS = 2 << 20 };
enum { MAX_MR = 12, K_PIECE = 128, GROUP_BLOCKS = 6, CHUNK_TILES = 128, MAX_KT = 4 };
enum { MAX_W = 4096, MAX_ALPHA = 6, MAX_P = 36 };
/* One input row split into its m phases, each tiles_w + 1 values and 16 of
 * slack: at most w + 17m floats. */
enum { PHASE_SLACK = 17, ROW_FLOATS = MAX_W + 4 * PHASE_SLACK };
/* BAND_ROWS: pixel rows per band (at least), so the per-band barriers and
 * the saved boundary rows stay small next to the band's work;
 * BAND_RING_FLOATS (64 MiB) caps the ring of kt transformed bands, down to
 * one chunk per band. */
enum { BAND_ROWS = 32 };
#define BAND_RING_FLOATS ((int64_t)16 << 20)
/* F(4x4) where the transformed weights (36 per weight tap, times 4/3 in
 * time, recomputed every call) stay under this many floats (160 MB: 512x512
 * channels pass, and at the small frames where such channel counts occur
 * the activations are small, so the peak does not move) ... */
#define F4_MAX_WEIGHT_FLOATS ((int64_t)40 << 20)
/* ... and the frame has at least this many 4x4 tiles (32x32 pixels), so the
 * weight transform and the per-tile overheads stay small next to the GEMMs.
 * Measured on the CogVideoX shapes, one thread: F(4x4) beats F(2x2) from
 * 32x32 up (512 channels at 32x32: 227 against 206 effective GFLOP/s),
 * docs/bench-conv.md. */
enum { F4_MIN_TILES = 64 };

int ctxpar_cpu_conv3d_winograd_supports(int64_t cin, int64_t cout, int kt, int kh, int kw,
                                        int64_t h, int64_t w) {
    return ctxpar_cpu_conv3d_have_avx512() && kh == 3 && kw == 3 && kt >= 1 && kt <= MAX_KT &&
           cin >= 1 && cout >= 1 && h >= 1 && w >= 1 && w <= MAX_W;
}

int ctxpar_cpu_conv3d_winograd_tile(int64_t cin, int64_t cout, int kt, int64_t h, int64_t w) {
    int64_t tiles = ((h + 3) / 4) * ((w + 3) / 4);
    int64_t weight_floats = 36 * ((cout + 3) & ~(int64_t)3) * (kt == 3 ? 4 : kt) * cin;
    return tiles >= F4_MIN_TILES && weight_floats <= F4_MAX_WEIGHT_FLOATS ? 4 : 2;
}

/* Everything derived from the shape: tiles, chunks and scratch layout. */
typedef struct wino_geom {
    int m;     /* output tile side: 2 or 4 */
    int alpha; /* input tile side, m + 2 */
    int n_p;   /* tile positions, alpha^2 */
    int64_t cin, cout, h, w;
    int kt;
    int64_t tiles_h, tiles_w;
    int64_t phase_stride; /* floats per phase of a split row: tiles_w + PHASE_SLACK */
    int64_t chunk_rows;   /* tile rows per chunk */
    int64_t n_chunks;
    int64_t chunk_stride; /* floats per (p, chunk, ci) row: tiles per chunk rounded up to 16 */
    int temporal;         /* kt == 3: F(2, 3) in time too, output frames in pairs */
    int n_slots;          /* ring slots: kt, or 4 in time (two pairs' inputs) */
    int n_j;              /* GEMM products per output step: 1, or 4 in time */
    int n_e;              /* temporally transformed inputs per chunk: 0, or 4 in time */
    int64_t k_total;      /* GEMM reduction: kt*cin, or cin in time */
    int64_t cout_padded;  /* output channels rounded up to whole blocks */
    int64_t band_chunks;  /* chunks per band (the last band may have fewer) */
    int64_t n_bands;
    int64_t plane_floats; /* one p of a transformed band: band_chunks*cin*chunk_stride */
    int64_t band_floats;  /* n_p planes */
    int64_t batch_chunks; /* chunks whose GEMMs run between two barriers */
} wino_geom;

static wino_geom geom_of(int m, int64_t cin, int64_t cout, int kt, int64_t h, int64_t w) {
    wino_geom g;
    g.m = m, g.alpha = m + 2, g.n_p = (m + 2) * (m + 2);
    g.cin = cin, g.cout = cout, g.h = h, g.w = w, g.kt = kt;
    g.tiles_h = (h + m - 1) / m, g.tiles_w = (w + m - 1) / m;
    g.phase_stride = g.tiles_w + PHASE_SLACK;
    g.chunk_rows = g.tiles_w >= CHUNK_TILES ? 1 : CHUNK_TILES / g.tiles_w;
    if (g.chunk_rows > g.tiles_h) g.chunk_rows = g.tiles_h;
    g.n_chunks = (g.tiles_h + g.chunk_rows - 1) / g.chunk_rows;
    g.chunk_stride = (g.chunk_rows * g.tiles_w + 15) & ~(int64_t)15;
    g.temporal = kt == 3;
    g.n_slots = g.temporal ? 4 : kt;
    g.n_j = g.temporal ? 4 : 1;
    g.n_e = g.temporal ? 4 : 0;
    g.k_total = g.temporal ? cin : kt * cin;
    g.cout_padded = (cout + 3) & ~(int64_t)3;
    int64_t band_tile_rows = BAND_ROWS / m;
    g.band_chunks = (band_tile_rows + g.chunk_rows - 1) / g.chunk_rows;
    int64_t ring_chunk_floats = (int64_t)g.n_slots * g.n_p * cin * g.chunk_stride;
    if (g.band_chunks * ring_chunk_floats > BAND_RING_FLOATS)
        g.band_chunks = BAND_RING_FLOATS / ring_chunk_floats;
    if (g.band_chunks < 1) g.band_chunks = 1;
    if (g.band_chunks > g.n_chunks) g.band_chunks = g.n_chunks;
    g.n_bands = (g.n_chunks + g.band_chunks - 1) / g.band_chunks;
    g.plane_floats = g.band_chunks * cin * g.chunk_stride;
    g.band_floats = g.n_p * g.plane_floats;
    g.batch_chunks = BATCH_M_FLOATS / ((int64_t)g.n_j * g.n_p * g.cout_padded * g.chunk_stride +
                                       (int64_t)g.n_e * g.n_p * cin * g.chunk_stride);
    if (g.batch_chunks < 1) g.batch_chunks = 1;
    if (g.batch_chunks > g.band_chunks) g.batch_chunks = g.band_chunks;
    return g;
}

/* Output-channel blocks: 12 while at least 12 remain, then 8, then 4, then
 * the last 1-3 channels as a block of 4 with zero weights in the padding.
 * Block b's panel starts at its first channel times k_total. */
static int64_t n_co_blocks(int64_t cout) {
    int64_t rem = cout % 12;
    return cout / 12 + (rem >= 8) + ((rem % 8) >= 4) + ((rem % 4) > 0);
}

static void co_block(int64_t cout, int64_t b, int64_t *start, int *width) {
    int64_t n12 = cout / 12, co = n12 * 12;
    if (b < n12) {
        *start = 12 * b, *width = 12;
        return;
    }
    for (int64_t i = n12;; i++) {
        int64_t rem = cout - co;
        int wd = rem >= 8 ? 8 : 4;
        if (i == b) {
            *start = co, *width = wd;
            return;
        }
        co += wd;
    }
}

/* Scratch: transformed weights, the ring, the GEMM batch (16 floats of
 * slack for the masked tail loads of the output transform) and the saved
 * band-boundary rows. */
static int64_t scratch_floats(int m, int64_t cin, int64_t cout, int kt, int64_t h, int64_t w,
                              int64_t n_frames) {
    wino_geom g = geom_of(m, cin, cout, kt, h, w);
    int64_t saved_rows = g.n_bands > 1 ? cin * (n_frames > 1 ? n_frames : 1) * w : 0;
    return 16 /* alignment */ + g.n_j * g.n_p * g.cout_padded * g.k_total +
           g.n_slots * g.band_floats + g.batch_chunks * g.n_e * g.n_p * cin * g.chunk_stride +
           g.batch_chunks * g.n_j * g.n_p * g.cout_padded * g.chunk_stride + 16 + saved_rows;
}

/* A block's channels (at most MAX_MR, padded to 16) in double: two vectors. */
typedef struct chan_d {
    __m512d lo, hi;
} chan_d;

#define CHAN_OP(name, op)                                                                 \
    __attribute__((target("avx512f"), always_inline)) static inline chan_d name(chan_d a, \
                                                                                 chan_d b) { \
        return (chan_d){op(a.lo, b.lo), op(a.hi, b.hi)};                                  \
    }
CHAN_OP(chan_add, _mm512_add_pd)
CHAN_OP(chan_sub, _mm512_sub_pd)
#undef CHAN_OP

__attribute__((target("avx512f"), always_inline)) static inline chan_d chan_scale(chan_d a,
                                                                                double s) {
    const __m512d v = _mm512_set1_pd(s);
    return (chan_d){_mm512_mul_pd(a.lo, v), _mm512_mul_pd(a.hi, v)};
}

__attribute__((target("avx512f"), always_inline)) static inline chan_d chan_div(chan_d a,
                                                                              double s) {
    const __m512d v = _mm512_set1_pd(s);
    return (chan_d){_mm512_div_pd(a.lo, v), _mm512_div_pd(a.hi, v)};
}

/* G applied to three rows of values for every channel of a block (out:
 * alpha rows). F(2x2): G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1].
 * F(4x4), points 0, 1, -1, 2, -1/2: G = [1 0 0; -1/3 -1/3 -1/3;
 * 1/3 -1/3 1/3; 1/15 2/15 4/15; -16/15 8/15 -4/15; 0 0 1]. In double,
 * vectorised over the channels: the weights are rounded once, at the end. */
__attribute__((target("avx512f"), always_inline)) static inline void
g_rows(int m, chan_d r0, chan_d r1, chan_d r2, chan_d out[MAX_ALPHA]) {
    if (m == 2) {
        out[0] = r0, out[3] = r2;
        out[1] = chan_scale(chan_add(chan_add(r0, r1), r2), 0.5);
        out[2] = chan_scale(chan_add(chan_sub(r0, r1), r2), 0.5);
        return;
    }
    out[0] = r0, out[5] = r2;
    out[1] = chan_div(chan_sub((chan_d){_mm512_setzero_pd(), _mm512_setzero_pd()},
                               chan_add(chan_add(r0, r1), r2)),
                      3.0);
    out[2] = chan_div(chan_add(chan_sub(r0, r1), r2), 3.0);
    out[3] = chan_div(chan_add(chan_add(r0, chan_scale(r1, 2.0)), chan_scale(r2, 4.0)), 15.0);
    out[4] = chan_div(chan_sub(chan_add(chan_scale(r0, -16.0), chan_scale(r1, 8.0)),
                               chan_scale(r2, 4.0)),
                      15.0);
}

/* The first `width` channels of v, rounded to float, at dst. */
__attribute__((target("avx512f"), always_inline)) static inline void
store_chan(float *dst, chan_d v, int width) {
    /* one masked store: a copy through a buffer stalled on its reloads */
    const __m512d lo = _mm512_castps_pd(_mm512_castps256_ps512(_mm512_cvtpd_ps(v.lo)));
    const __m512d both = _mm512_insertf64x4(lo, _mm256_castps_pd(_mm512_cvtpd_ps(v.hi)), 1);
    _mm512_mask_storeu_ps(dst, (__mmask16)((1u << width) - 1), _mm512_castpd_ps(both));
}

/* U_p = G g G^T for every (co, ci, dt), packed as [j][p][co block][k][width];
 * padding rows of the last block are zero. Per frame (kt != 3): one j,
 * k = dt*cin + ci. In time (kt = 3): k = ci and the four j are F(2, 3)'s
 * temporal weight transform of the taps, [U0; (U0+U1+U2)/2; (U0-U1+U2)/2;
 * U2], all in double and rounded once. The arithmetic runs over a block's
 * 12 channels at once (vectorised), for K_WEIGHTS reduction indices at a
 * time into a small buffer then stored plane by plane, so every store
 * stream is contiguous (storing each (co, k)'s values straight into their
 * planes, one channel at a time, was ~6% of the VAE). */
enum { K_WEIGHTS = 8 };

/* Where weight (co, ci, dt, r = 3*dy + dx) sits, as a channel part plus a
 * reduction part: in float32 [cout][cin][kt][3][3], or in a bf16 conv's
 * packed panels (conv_bf16.h; K = tap*cin + ci, cin even, tap = 9*dt + r). */
static int64_t weight_co_offset(const wino_geom *g, int packed, int64_t co) {
    if (!packed) return co * g->cin * g->kt * 9;
    return ctxpar_conv_bf16_packed_co(co, (int64_t)g->kt * 9 * g->cin / 2);
}

static int64_t weight_k_offset(const wino_geom *g, int packed, int64_t ci, int64_t dt, int r) {
    if (!packed) return (ci * g->kt + dt) * 9 + r;
    return ctxpar_conv_bf16_packed_k((dt * 9 + r) * g->cin + ci);
}

/* Channels ci and ci + 1 of 16 tiles (float32 each) as 16 bf16 pairs,
 * [tile][2], rounded to nearest even. */
__attribute__((target("avx512f,avx512bw,avx512bf16"), always_inline)) static inline __m512i
pairs_bf16(__m512 even, __m512 odd) {
    const __m512i interleave = _mm512_set_epi16(
        31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6, 21, 5, 20, 4,
        19, 3, 18, 2, 17, 1, 16, 0);
    return _mm512_permutexvar_epi16(interleave, (__m512i)_mm512_cvtne2ps_pbh(odd, even));
}

/* store_weights in bf16: rows kk and kk + 1 of buf (nk even) as pairs. */
__attribute__((target("avx512f,avx512bw,avx512bf16"))) static void
store_weights_bf16(const float *buf, int64_t nk, int width, ctxpar_bf16 *dst) {
    const __mmask16 in = (__mmask16)((1u << width) - 1);
    const __mmask32 out = (__mmask32)((1ull << (2 * width)) - 1);
    for (int64_t kk = 0; kk < nk; kk += 2)
        _mm512_mask_storeu_epi16(dst + kk * width, out,
                                 pairs_bf16(_mm512_maskz_loadu_ps(in, buf + kk * width),
                                            _mm512_maskz_loadu_ps(in, buf + (kk + 1) * width)));
}

/* buf's nk x width values of one (j, p) into u: float32 [k][width] rows, or
 * (bf16) [k/2][width][2] pairs, rounded to nearest even from the float. */
static void store_weights(const float *buf, int64_t nk, int width, int bf16, float *u,
                          int64_t offset) {
    if (bf16)
        store_weights_bf16(buf, nk, width, (ctxpar_bf16 *)u + offset);
    else
        memcpy(u + offset, buf, sizeof(float) * nk * width);
}

/* One output-channel block b of transform_weights (a function of its own:
 * an OpenMP loop's outlined body does not take its caller's target). */
__attribute__((target("avx512f"))) static void
transform_weight_block(const wino_geom *g, const float *weight, const ctxpar_bf16 *packed,
                       int bf16, float *u, int64_t b) {
    int64_t k_total = g->k_total, p_stride = g->cout_padded * k_total;
    int64_t j_stride = g->n_p * p_stride;
    int alpha = g->alpha, n_p = g->n_p, n_j = g->n_j, n_taps = g->temporal ? 3 : 1;
    int64_t start;
    int width;
    co_block(g->cout, b, &start, &width);
    int live = 0; /* channels of the block below cout (the rest: zero weights) */
    int64_t co_off[MAX_MR];
    for (; live < width && start + live < g->cout; live++)
        co_off[live] = weight_co_offset(g, packed != NULL, start + live);
    float buf[4 * MAX_P][K_WEIGHTS * MAX_MR]; /* [j*n_p + p][k - k0][i] */
    /* the taps' weights per channel; lanes from `live` on stay zero (zeroing
     * all of it per tap and index was a quarter of this function's time) */
    double wv[9][16] __attribute__((aligned(64)));
    memset(wv, 0, sizeof wv);
    for (int64_t k0 = 0; k0 < k_total; k0 += K_WEIGHTS) {
        int64_t nk = k_total - k0 < K_WEIGHTS ? k_total - k0 : K_WEIGHTS;
        for (int64_t kk = 0; kk < nk; kk++) {
            int64_t k = k0 + kk;
            chan_d out[3][MAX_P]; /* per tap: U_p for the block's channels */
            for (int tap = 0; tap < n_taps; tap++) {
                int64_t dt = g->temporal ? tap : k / g->cin;
                int64_t ci = g->temporal ? k : k % g->cin;
                for (int r = 0; r < 9; r++) {
                    const int64_t at = weight_k_offset(g, packed != NULL, ci, dt, r);
                    for (int i = 0; i < live; i++)
                        wv[r][i] = packed ? ctxpar_bf16_to_f32(packed[co_off[i] + at])
                                          : weight[co_off[i] + at];
                }
                chan_d w[9];
                for (int r = 0; r < 9; r++)
                    w[r] = (chan_d){_mm512_load_pd(wv[r]), _mm512_load_pd(wv[r] + 8)};
                chan_d gg[3][MAX_ALPHA]; /* G g: kernel column c, rows a */
                for (int c = 0; c < 3; c++) g_rows(g->m, w[c], w[3 + c], w[6 + c], gg[c]);
                for (int a = 0; a < alpha; a++)
                    g_rows(g->m, gg[0][a], gg[1][a], gg[2][a], out[tap] + alpha * a);
            }
            for (int p = 0; p < n_p; p++) {
                if (!g->temporal) {
                    store_chan(buf[p] + kk * width, out[0][p], width);
                    continue;
                }
                const chan_d u0 = out[0][p], u1 = out[1][p], u2 = out[2][p];
                store_chan(buf[p] + kk * width, u0, width);
                store_chan(buf[n_p + p] + kk * width,
                           chan_scale(chan_add(chan_add(u0, u1), u2), 0.5), width);
                store_chan(buf[2 * n_p + p] + kk * width,
                           chan_scale(chan_add(chan_sub(u0, u1), u2), 0.5), width);
                store_chan(buf[3 * n_p + p] + kk * width, u2, width);
            }
        }
        for (int j = 0; j < n_j; j++)
            for (int p = 0; p < n_p; p++)
                store_weights(buf[j * n_p + p], nk, width, bf16, u,
                              j * j_stride + p * p_stride + start * k_total + k0 * width);
    }
}

static void transform_weights(const wino_geom *g, const float *weight, const ctxpar_bf16 *packed,
                              int bf16, float *u) {
    const int64_t n_blocks = n_co_blocks(g->cout);
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t b = 0; b < n_blocks; b++) transform_weight_block(g, weight, packed, bf16, u, b);
}

/* act = silu(row*scale + shift): the fused GroupNorm + SiLU of the input. */
__attribute__((target("avx512f,fma"))) static void activate_row(float *act, const float *row,
                                                               int64_t w, float scale,
                                                               float shift) {
#pragma omp simd
    for (int64_t i = 0; i < w; i++) act[i] = ctxpar_silu(row[i] * scale + shift);
}

/* One input row split for the tile transform into m phases at
 * ph + q*phase_stride: phase q holds row[m*j - 1 + q] for j in [0, tiles_w],
 * zero outside the frame (the left padding column is row[-1]), then 16 floats
 * of zero slack. NULL row: a padding row, all zero. affine: NULL, or the
 * (scale, shift) of a fused GroupNorm + SiLU, applied through act (w floats)
 * before the split; the padding stays zero, as it pads the activated input. */
static void split_row(const wino_geom *g, float *ph, const float *row, const float *affine,
                      float *act) {
    int m = g->m;
    int64_t w = g->w, tiles_w = g->tiles_w, stride = g->phase_stride;
    for (int q = 0; q < m; q++) memset(ph + q * stride + tiles_w + 1, 0, sizeof(float) * 16);
    if (!row) {
        for (int q = 0; q < m; q++) memset(ph + q * stride, 0, sizeof(float) * (tiles_w + 1));
        return;
    }
    if (affine) {
        activate_row(act, row, w, affine[0], affine[1]);
        row = act;
    }
    /* j in [1, j_inner]: every m*j - 1 + q inside the row */
    int64_t j_inner = (w - m + 1) / m;
    for (int q = 0; q < m; q++) ph[q * stride] = q >= 1 && q - 1 < w ? row[q - 1] : 0.0f;
    if (m == 2) {
        float *ev = ph, *od = ph + stride;
        for (int64_t j = 1; j <= j_inner; j++) ev[j] = row[2 * j - 1], od[j] = row[2 * j];
    } else {
        float *p0 = ph, *p1 = ph + stride, *p2 = ph + 2 * stride, *p3 = ph + 3 * stride;
        for (int64_t j = 1; j <= j_inner; j++) {
            const float *s = row + 4 * j - 1;
            p0[j] = s[0], p1[j] = s[1], p2[j] = s[2], p3[j] = s[3];
        }
    }
    for (int64_t j = j_inner + 1; j <= tiles_w; j++)
        for (int q = 0; q < m; q++) {
            int64_t x = m * j - 1 + q;
            ph[q * stride + j] = x < w ? row[x] : 0.0f;
        }
}

/* The lanes of a 16-wide step with `left` values left (all 16 when left >= 16). */
static inline __mmask16 tail_mask(int64_t left) {
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

/* V = B^T d B for one tile row of one channel, F(2x2): 16 output streams
 * (p = 4a + c), tiles_w values each, 16 tiles per step (masked at the end;
 * the phases hold 16 floats of slack). B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0;
 * 0 1 0 -1]. */
__attribute__((target("avx512f"))) static void transform_tile_row_f2(const wino_geom *g,
                                                                     float *const ph[MAX_ALPHA],
                                                                     float *const out[MAX_P]) {
    int64_t tiles_w = g->tiles_w, stride = g->phase_stride;
    for (int64_t j = 0; j < tiles_w; j += 16) {
        __mmask16 mask = tail_mask(tiles_w - j);
        __m512 t[4][4];
        for (int r = 0; r < 4; r++) {
            /* Row r's tile columns: phase 0 and 1 at j, then at j + 1. */
            const float *ev = ph[r], *od = ph[r] + stride;
            __m512 d0 = _mm512_loadu_ps(ev + j), d1 = _mm512_loadu_ps(od + j);
            __m512 d2 = _mm512_loadu_ps(ev + j + 1), d3 = _mm512_loadu_ps(od + j + 1);
            t[r][0] = _mm512_sub_ps(d0, d2);
            t[r][1] = _mm512_add_ps(d1, d2);
            t[r][2] = _mm512_sub_ps(d2, d1);
            t[r][3] = _mm512_sub_ps(d1, d3);
        }
        for (int c = 0; c < 4; c++) {
            _mm512_mask_storeu_ps(out[c] + j, mask, _mm512_sub_ps(t[0][c], t[2][c]));
            _mm512_mask_storeu_ps(out[4 + c] + j, mask, _mm512_add_ps(t[1][c], t[2][c]));
            _mm512_mask_storeu_ps(out[8 + c] + j, mask, _mm512_sub_ps(t[2][c], t[1][c]));
            _mm512_mask_storeu_ps(out[12 + c] + j, mask, _mm512_sub_ps(t[1][c], t[3][c]));
        }
    }
}

/* F(4x4) B^T (points 0, 1, -1, 2, -1/2) applied to six values:
 *   [1  3/2  -2  -3/2   1   0]
 *   [0  -1  -5/2 -1/2   1   0]
 *   [0   1   1/2 -5/2   1   0]
 *   [0 -1/2  -1   1/2   1   0]
 *   [0   2   -1   -2    1   0]
 *   [0   1   3/2  -2  -3/2  1] */
__attribute__((target("avx512f"), always_inline)) static inline void bt6(const __m512 d[6],
                                                                         __m512 o[6]) {
    const __m512 half = _mm512_set1_ps(0.5f), one5 = _mm512_set1_ps(1.5f);
    const __m512 two = _mm512_set1_ps(2.0f), two5 = _mm512_set1_ps(2.5f);
    o[0] = _mm512_fmadd_ps(one5, _mm512_sub_ps(d[1], d[3]),
                           _mm512_fnmadd_ps(two, d[2], _mm512_add_ps(d[0], d[4])));
    o[1] = _mm512_fnmadd_ps(two5, d[2],
                            _mm512_fnmadd_ps(half, d[3], _mm512_sub_ps(d[4], d[1])));
    o[2] = _mm512_fnmadd_ps(two5, d[3],
                            _mm512_fmadd_ps(half, d[2], _mm512_add_ps(d[4], d[1])));
    o[3] = _mm512_fmadd_ps(half, _mm512_sub_ps(d[3], d[1]), _mm512_sub_ps(d[4], d[2]));
    o[4] = _mm512_fmadd_ps(two, _mm512_sub_ps(d[1], d[3]), _mm512_sub_ps(d[4], d[2]));
    o[5] = _mm512_fmadd_ps(one5, _mm512_sub_ps(d[2], d[4]),
                           _mm512_fnmadd_ps(two, d[3], _mm512_add_ps(d[1], d[5])));
}

/* V = B^T d B for one tile row of one channel, F(4x4): 36 output streams
 * (p = 6a + c), 16 tiles per step. */
__attribute__((target("avx512f"))) static void transform_tile_row_f4(const wino_geom *g,
                                                                     float *const ph[MAX_ALPHA],
                                                                     float *const out[MAX_P]) {
    int64_t tiles_w = g->tiles_w, stride = g->phase_stride;
    for (int64_t j = 0; j < tiles_w; j += 16) {
        __mmask16 mask = tail_mask(tiles_w - j);
        __m512 t[6][6];
        for (int r = 0; r < 6; r++) {
            /* Row r's tile columns: phases 0-3 at j, then phases 0-1 at j + 1. */
            __m512 d[6];
            for (int c = 0; c < 6; c++)
                d[c] = _mm512_loadu_ps(ph[r] + (c % 4) * stride + j + c / 4);
            bt6(d, t[r]);
        }
        for (int c = 0; c < 6; c++) {
            __m512 col[6], o[6];
            for (int r = 0; r < 6; r++) col[r] = t[r][c];
            bt6(col, o);
            for (int a = 0; a < 6; a++) _mm512_mask_storeu_ps(out[6 * a + c] + j, mask, o[a]);
        }
    }
}

/* Transform chunks [chunk0, chunk1) of one input frame (channel ci at
 * src + ci*src_cstride) into dst. top: NULL, or the saved input row just above
 * the band (channel ci at top + ci*w), read instead of the frame's. scale,
 * shift: NULL, or this frame's fused GroupNorm affine map per channel. */
static void transform_band(const wino_geom *g, const float *src, int64_t src_cstride,
                           const float *top, const float *scale, const float *shift,
                           int64_t chunk0, int64_t chunk1, float *dst) {
    int64_t tiles_w = g->tiles_w, top_row = g->m * chunk0 * g->chunk_rows - 1;
#pragma omp for schedule(dynamic, 4)
    for (int64_t item = 0; item < (chunk1 - chunk0) * g->cin; item++) {
        int64_t chunk = chunk0 + item / g->cin, ci = item % g->cin;
        float rows[MAX_ALPHA][ROW_FLOATS], act[MAX_W];
        float *ph[MAX_ALPHA];
        const float affine[2] = {scale ? scale[ci] : 1.0f, shift ? shift[ci] : 0.0f};
        for (int r = 0; r < MAX_ALPHA; r++) ph[r] = rows[r];
        const float *frame = src + ci * src_cstride;
        float *base = dst + ((chunk - chunk0) * g->cin + ci) * g->chunk_stride;
        int64_t ti0 = chunk * g->chunk_rows;
        int64_t ti1 = ti0 + g->chunk_rows < g->tiles_h ? ti0 + g->chunk_rows : g->tiles_h;
        for (int64_t ti = ti0; ti < ti1; ti++) {
            /* Tile rows overlap by alpha - m input rows: the previous tile
             * row's last rows are this one's first, already split (and
             * activated); rotate them into place and split only the rest. */
            int first_new = 0;
            if (ti > ti0) {
                float *prev[MAX_ALPHA];
                for (int r = 0; r < g->alpha; r++) prev[r] = ph[r];
                for (int r = 0; r < g->alpha; r++) ph[r] = prev[(r + g->m) % g->alpha];
                first_new = g->alpha - g->m;
            }
            for (int r = first_new; r < g->alpha; r++) {
                int64_t iy = g->m * ti - 1 + r;
                const float *row = iy >= 0 && iy < g->h ? frame + iy * g->w : NULL;
                if (iy == top_row && top) row = top + ci * g->w;
                split_row(g, ph[r], row, scale ? affine : NULL, act);
            }
            float *out[MAX_P];
            for (int p = 0; p < g->n_p; p++)
                out[p] = base + p * g->plane_floats + (ti - ti0) * tiles_w;
            if (g->m == 2)
                transform_tile_row_f2(g, ph, out);
            else
                transform_tile_row_f4(g, ph, out);
        }
        /* the row's padding to 16 tiles (under 16 floats, or the missing
         * rows of a last chunk): a loop, not a libc call per plane */
        int64_t used = (ti1 - ti0) * tiles_w;
        if (used < g->chunk_stride)
            for (int p = 0; p < g->n_p; p++)
                for (int64_t i = used; i < g->chunk_stride; i++) base[p * g->plane_floats + i] = 0.0f;
    }
}

/* C[mr][16*nv] (+)= panel[k][mr]^T B[k][16*nv] over n_k rows of B at
 * b + k*b_stride; C at c + i*c_stride. accumulate = 0 starts from zero. */
__attribute__((target("avx512f"), always_inline)) static inline void
gemm_tile(const int mr, const int nv, const float *panel, const float *b, int64_t n_k,
          int64_t b_stride, float *c, int64_t c_stride, int accumulate) {
    __m512 acc[MAX_MR][2];
    if (accumulate) {
#pragma GCC unroll 12
        for (int i = 0; i < mr; i++) {
            acc[i][0] = _mm512_load_ps(c + i * c_stride);
            acc[i][1] = nv == 2 ? _mm512_load_ps(c + i * c_stride + 16) : acc[i][0];
        }
    } else {
#pragma GCC unroll 12
        for (int i = 0; i < mr; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    }
    const float *a = panel;
    for (int64_t k = 0; k < n_k; k++, b += b_stride, a += mr) {
        __m512 b0 = _mm512_load_ps(b);
        __m512 b1 = nv == 2 ? _mm512_load_ps(b + 16) : b0;
#pragma GCC unroll 12
        for (int i = 0; i < mr; i++) {
            __m512 wv = _mm512_set1_ps(a[i]);
            acc[i][0] = _mm512_fmadd_ps(wv, b0, acc[i][0]);
            if (nv == 2) acc[i][1] = _mm512_fmadd_ps(wv, b1, acc[i][1]);
        }
    }
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) {
        _mm512_store_ps(c + i * c_stride, acc[i][0]);
        if (nv == 2) _mm512_store_ps(c + i * c_stride + 16, acc[i][1]);
    }
}

/* The register tile's shapes: mr = 12, 8 or 4 output channels by nv = 2 or
 * 1 vectors of 16 tiles, each a specialisation of `tile`. */
#define TILE_SHAPES(tile, ...)                                                  \
    switch (mr * 2 + nv) {                                                      \
    case 26: tile(12, 2, __VA_ARGS__); break;                                   \
    case 25: tile(12, 1, __VA_ARGS__); break;                                   \
    case 18: tile(8, 2, __VA_ARGS__); break;                                    \
    case 17: tile(8, 1, __VA_ARGS__); break;                                    \
    case 10: tile(4, 2, __VA_ARGS__); break;                                    \
    default: tile(4, 1, __VA_ARGS__); break;                                    \
    }

__attribute__((target("avx512f"))) static void
gemm_tile_dispatch(int mr, int nv, const float *panel, const float *b, int64_t n_k,
                   int64_t b_stride, float *c, int64_t c_stride, int accumulate) {
    TILE_SHAPES(gemm_tile, panel, b, n_k, b_stride, c, c_stride, accumulate)
}

/* bf16 (ctxpar_cpu_conv3d_causal_winograd_bf16): the same register tile on
 * VDPBF16PS. panel: [pair][mr][2] weights, b: pair rows of [tile][2] values
 * (b_stride bf16 values apart), n_kp pairs; C float32 as above. */
__attribute__((target("avx512f,avx512bf16"), always_inline)) static inline void
gemm_tile_bf16(const int mr, const int nv, const ctxpar_bf16 *panel, const ctxpar_bf16 *b,
               int64_t n_kp, int64_t b_stride, float *c, int64_t c_stride, int accumulate) {
    __m512 acc[MAX_MR][2];
    if (accumulate) {
#pragma GCC unroll 12
        for (int i = 0; i < mr; i++) {
            acc[i][0] = _mm512_load_ps(c + i * c_stride);
            acc[i][1] = nv == 2 ? _mm512_load_ps(c + i * c_stride + 16) : acc[i][0];
        }
    } else {
#pragma GCC unroll 12
        for (int i = 0; i < mr; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    }
    const ctxpar_bf16 *a = panel;
    for (int64_t k = 0; k < n_kp; k++, b += b_stride, a += 2 * mr) {
        const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b);
        const __m512bh b1 = nv == 2 ? (__m512bh)_mm512_loadu_si512(b + 32) : b0;
#pragma GCC unroll 12
        for (int i = 0; i < mr; i++) {
            uint32_t pair;
            memcpy(&pair, a + 2 * i, sizeof pair);
            const __m512bh wv = (__m512bh)_mm512_set1_epi32((int)pair);
            acc[i][0] = _mm512_dpbf16_ps(acc[i][0], wv, b0);
            if (nv == 2) acc[i][1] = _mm512_dpbf16_ps(acc[i][1], wv, b1);
        }
    }
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) {
        _mm512_store_ps(c + i * c_stride, acc[i][0]);
        if (nv == 2) _mm512_store_ps(c + i * c_stride + 16, acc[i][1]);
    }
}

__attribute__((target("avx512f,avx512bf16"))) static void
gemm_tile_bf16_dispatch(int mr, int nv, const ctxpar_bf16 *panel, const ctxpar_bf16 *b,
                        int64_t n_kp, int64_t b_stride, float *c, int64_t c_stride,
                        int accumulate) {
    TILE_SHAPES(gemm_tile_bf16, panel, b, n_kp, b_stride, c, c_stride, accumulate)
}
#undef TILE_SHAPES

/* One p and a group of output-channel blocks over the chunk's n_cols
 * (multiple of 16) tiles: C = sum over segments s (kt taps, or 1) of the
 * panel's segment times B segment s at b_seg[s]. The reduction runs in
 * pieces of at most K_PIECE rows of one segment, so a 32-tile slice of B
 * (K_PIECE x 32 floats, 16 KB) stays in L1 while every block of the group
 * runs over it; the group's weight panels for the piece (up to 36 KB) stay
 * in L2. The pieces always split the same way, so each sum's order is
 * fixed. bf16: u_p and b_seg hold bf16 pairs ([k/2][width][2] panels,
 * [cin/2][chunk_stride][2] rows), at the same offsets counted in values,
 * and a piece is K_PIECE pairs (the same 16 KB of B). */
enum { K_PIECE_BF16 = 2 * K_PIECE };
__attribute__((target("avx512f"))) static void
gemm_group(const wino_geom *g, int bf16, const void *u_p, int n_seg,
           const void *const b_seg[MAX_KT], int64_t block0, int64_t block1, int64_t n_cols,
           float *m_p) {
    const int64_t stride = g->chunk_stride, piece = bf16 ? K_PIECE_BF16 : K_PIECE;
    for (int s = 0; s < n_seg; s++)
        for (int64_t k0 = 0; k0 < g->cin; k0 += piece) {
            int64_t n_k = g->cin - k0 < piece ? g->cin - k0 : piece;
            int accumulate = s > 0 || k0 > 0;
            for (int64_t col = 0; col < n_cols; col += 32) {
                int nv = n_cols - col >= 32 ? 2 : 1;
                for (int64_t blk = block0; blk < block1; blk++) {
                    int64_t start;
                    int width;
                    co_block(g->cout, blk, &start, &width);
                    /* in values of either type */
                    const int64_t panel = start * g->k_total + (s * g->cin + k0) * width;
                    const int64_t b = k0 * stride;
                    float *c = m_p + start * stride + col;
                    if (bf16)
                        gemm_tile_bf16_dispatch(width, nv, (const ctxpar_bf16 *)u_p + panel,
                                                (const ctxpar_bf16 *)b_seg[s] + b + 2 * col,
                                                n_k / 2, 2 * stride, c, stride, accumulate);
                    else
                        gemm_tile_dispatch(width, nv, (const float *)u_p + panel,
                                           (const float *)b_seg[s] + b + col, n_k, stride, c,
                                           stride, accumulate);
                }
            }
        }
}

/* y_row = row (+ res_row where given): one output row leaves the tile
 * buffer, with the fused residual add. */
static void store_row(float *y_row, const float *row, const float *res_row, int64_t w) {
    if (!res_row) {
        memcpy(y_row, row, sizeof(float) * w);
        return;
    }
    for (int64_t i = 0; i < w; i++) y_row[i] = row[i] + res_row[i];
}

/* Y = A^T m A + bias (+ res) for output channel co over the chunk's tile
 * rows, F(2x2): A^T = [1 1 1 0; 0 1 -1 -1]. m planes are m + p*m_pstride;
 * res_frame: NULL, or the residual's frame, added after the bias. */
__attribute__((target("avx512f"))) static void
output_chunk_f2(const wino_geom *g, const float *m, int64_t m_pstride, float bias, int64_t ti0,
                int64_t ti1, const float *res_frame, float *y_frame) {
    float row0[MAX_W + 2], row1[MAX_W + 2];
    int64_t tiles_w = g->tiles_w;
    for (int64_t ti = ti0; ti < ti1; ti++) {
        const float *restrict q[16];
        for (int p = 0; p < 16; p++) q[p] = m + p * m_pstride + (ti - ti0) * tiles_w;
        float *restrict r0 = row0, *restrict r1 = row1;
        for (int64_t j = 0; j < tiles_w; j++) {
            float s00 = q[0][j] + q[4][j] + q[8][j], s01 = q[1][j] + q[5][j] + q[9][j];
            float s02 = q[2][j] + q[6][j] + q[10][j], s03 = q[3][j] + q[7][j] + q[11][j];
            float s10 = q[4][j] - q[8][j] - q[12][j], s11 = q[5][j] - q[9][j] - q[13][j];
            float s12 = q[6][j] - q[10][j] - q[14][j], s13 = q[7][j] - q[11][j] - q[15][j];
            r0[2 * j] = bias + (s00 + s01 + s02);
            r0[2 * j + 1] = bias + (s01 - s02 - s03);
            r1[2 * j] = bias + (s10 + s11 + s12);
            r1[2 * j + 1] = bias + (s11 - s12 - s13);
        }
        for (int a = 0; a < 2 && 2 * ti + a < g->h; a++) {
            int64_t off = (2 * ti + a) * g->w;
            store_row(y_frame + off, a ? row1 : row0, res_frame ? res_frame + off : NULL, g->w);
        }
    }
}

/* F(4x4) A^T (points 0, 1, -1, 2, -1/2) applied to six values:
 *   [1 1  1 1   1     0]
 *   [0 1 -1 2  -1/2   0]
 *   [0 1  1 4   1/4   0]
 *   [0 1 -1 8  -1/8   1] */
__attribute__((target("avx512f"), always_inline)) static inline void at6(const __m512 s[6],
                                                                         __m512 o[4]) {
    __m512 sum12 = _mm512_add_ps(s[1], s[2]), dif12 = _mm512_sub_ps(s[1], s[2]);
    o[0] = _mm512_add_ps(_mm512_add_ps(s[0], sum12), _mm512_add_ps(s[3], s[4]));
    o[1] = _mm512_fmadd_ps(_mm512_set1_ps(2.0f), s[3],
                           _mm512_fnmadd_ps(_mm512_set1_ps(0.5f), s[4], dif12));
    o[2] = _mm512_fmadd_ps(_mm512_set1_ps(4.0f), s[3],
                           _mm512_fmadd_ps(_mm512_set1_ps(0.25f), s[4], sum12));
    o[3] = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(8.0f), s[3],
                                         _mm512_fnmadd_ps(_mm512_set1_ps(0.125f), s[4], dif12)),
                         s[5]);
}

/* Y = A^T m A + bias (+ res) for output channel co, F(4x4): 16 tiles per
 * step; the four values of an output row of each tile are interleaved into
 * 64 consecutive floats (two rounds of two-source permutes) before the
 * store. */
__attribute__((target("avx512f"))) static void
output_chunk_f4(const wino_geom *g, const float *m, int64_t m_pstride, float bias, int64_t ti0,
                int64_t ti1, const float *res_frame, float *y_frame) {
    float rows[4][MAX_W + 64] __attribute__((aligned(64)));
    int64_t tiles_w = g->tiles_w;
    const __m512i lo32 = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi32 =
        _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const __m512i lo64 = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11);
    const __m512i hi64 = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);
    const __m512 vbias = _mm512_set1_ps(bias);
    for (int64_t ti = ti0; ti < ti1; ti++) {
        const float *base = m + (ti - ti0) * tiles_w;
        for (int64_t j = 0; j < tiles_w; j += 16) {
            __mmask16 mask = tail_mask(tiles_w - j);
            __m512 s[4][6]; /* A^T over the rows of the 6x6 tile, per column c */
            for (int c = 0; c < 6; c++) {
                __m512 col[6], o[4];
                for (int r = 0; r < 6; r++)
                    col[r] = _mm512_maskz_loadu_ps(mask, base + (6 * r + c) * m_pstride + j);
                at6(col, o);
                for (int a = 0; a < 4; a++) s[a][c] = o[a];
            }
            for (int a = 0; a < 4; a++) {
                __m512 y[4];
                at6(s[a], y);
                for (int b = 0; b < 4; b++) y[b] = _mm512_add_ps(y[b], vbias);
                __m512 ab_lo = _mm512_permutex2var_ps(y[0], lo32, y[1]);
                __m512 ab_hi = _mm512_permutex2var_ps(y[0], hi32, y[1]);
                __m512 cd_lo = _mm512_permutex2var_ps(y[2], lo32, y[3]);
                __m512 cd_hi = _mm512_permutex2var_ps(y[2], hi32, y[3]);
                float *dst = rows[a] + 4 * j;
                _mm512_store_ps(dst, _mm512_castpd_ps(_mm512_permutex2var_pd(
                                         _mm512_castps_pd(ab_lo), lo64, _mm512_castps_pd(cd_lo))));
                _mm512_store_ps(dst + 16, _mm512_castpd_ps(_mm512_permutex2var_pd(
                                              _mm512_castps_pd(ab_lo), hi64,
                                              _mm512_castps_pd(cd_lo))));
                _mm512_store_ps(dst + 32, _mm512_castpd_ps(_mm512_permutex2var_pd(
                                              _mm512_castps_pd(ab_hi), lo64,
                                              _mm512_castps_pd(cd_hi))));
                _mm512_store_ps(dst + 48, _mm512_castpd_ps(_mm512_permutex2var_pd(
                                              _mm512_castps_pd(ab_hi), hi64,
                                              _mm512_castps_pd(cd_hi))));
            }
        }
        for (int a = 0; a < 4 && 4 * ti + a < g->h; a++) {
            int64_t off = (4 * ti + a) * g->w;
            store_row(y_frame + off, rows[a], res_frame ? res_frame + off : NULL, g->w);
        }
    }
}

static int64_t ring_slot(int64_t t, int n) { return ((t % n) + n) % n; }

/* One call's operands and scratch, shared by the steps below (each runs
 * inside the call's parallel region). */
typedef struct wino_call {
    const wino_geom *g;
    const float *x, *halo;
    int64_t x_cstride;
    float *y;
    int64_t y_cstride;
    const float *bias;
    const ctxpar_conv3d_fusion *fuse;
    int64_t t_begin, t_end;
    const float *u; /* float32 panels, or bf16 ones in the same place (bf16) */
    int bf16;       /* in time: E_j and U in bf16, the GEMMs on VDPBF16PS */
    float *ring, *e_buf, *m, *saved;
    int64_t u_jstride, u_pstride, m_pstride, m_chunk_floats, n_blocks, n_groups;
} wino_call;

/* Input frame t's band [band0, band1) into its ring slot; frames below 0
 * are the halo's; frames of this call read their saved top row, and save
 * the row the next band needs (the band's last output row) before any
 * output of the band is written (the GEMMs' barrier comes first). */
static void transform_frame(const wino_call *c, int64_t t, int64_t band0, int64_t band1) {
    const wino_geom *g = c->g;
    int64_t hw = g->h * g->w, halo_frames = g->kt - 1, cin = g->cin, w = g->w;
    const float *src = t >= 0 ? c->x + t * hw : c->halo + (t + halo_frames) * hw;
    int64_t src_cstride = t >= 0 ? c->x_cstride : halo_frames * hw;
    const float *top =
        t >= c->t_begin && band0 > 0 ? c->saved + (t - c->t_begin) * cin * w : NULL;
    const float *scale = NULL, *shift = NULL;
    if (c->fuse && c->fuse->in_scale) {
        scale = c->fuse->in_scale + (t + halo_frames) * cin;
        shift = c->fuse->in_shift + (t + halo_frames) * cin;
    }
    transform_band(g, src, src_cstride, top, scale, shift, band0, band1,
                   c->ring + ring_slot(t, g->n_slots) * g->band_floats);
    if (t >= c->t_begin && band1 < g->n_chunks) {
        int64_t last_row = g->m * band1 * g->chunk_rows - 1;
#pragma omp for schedule(static) nowait
        for (int64_t ci = 0; ci < cin; ci++)
            memcpy(c->saved + ((t - c->t_begin) * cin + ci) * w,
                   c->x + ci * c->x_cstride + t * hw + last_row * w, sizeof(float) * w);
    }
}

static void chunk_rows_of(const wino_geom *g, int64_t chunk, int64_t *ti0, int64_t *ti1) {
    *ti0 = chunk * g->chunk_rows;
    *ti1 = *ti0 + g->chunk_rows < g->tiles_h ? *ti0 + g->chunk_rows : g->tiles_h;
}

/* Output transform (plus bias and residual) of channel co of one chunk into
 * output frame t, from the chunk's M planes at m_co (plane p at
 * m_co + p*m_pstride). */
static void output_frame(const wino_call *c, const float *m_co, int64_t chunk, int64_t co,
                         int64_t t) {
    const wino_geom *g = c->g;
    int64_t hw = g->h * g->w, ti0, ti1;
    chunk_rows_of(g, chunk, &ti0, &ti1);
    float b = c->bias ? c->bias[co] : 0.0f;
    float *y_frame = c->y + co * c->y_cstride + t * hw;
    const float *res = c->fuse && c->fuse->residual
                           ? c->fuse->residual + co * c->fuse->residual_cstride + t * hw
                           : NULL;
    if (g->m == 2)
        output_chunk_f2(g, m_co, c->m_pstride, b, ti0, ti1, res, y_frame);
    else
        output_chunk_f4(g, m_co, c->m_pstride, b, ti0, ti1, res, y_frame);
}

/* Per output frame (kt != 3): M = sum over the kt taps, one GEMM with
 * K = kt*cin over kt ring slots. */
static void frames_band(const wino_call *c, int64_t band0, int64_t band1) {
    const wino_geom *g = c->g;
    int kt = g->kt, n_p = g->n_p;
    int64_t halo_frames = kt - 1, cin = g->cin, cout = g->cout;
    for (int64_t t = c->t_begin - halo_frames; t < c->t_end; t++) {
        transform_frame(c, t, band0, band1);
        if (t < c->t_begin) continue;
        for (int64_t chunk0 = band0; chunk0 < band1; chunk0 += g->batch_chunks) {
            int64_t n_batch = band1 - chunk0 < g->batch_chunks ? band1 - chunk0 : g->batch_chunks;
#pragma omp for schedule(dynamic, 1)
            for (int64_t item = 0; item < n_batch * n_p * c->n_groups; item++) {
                int64_t chunk = chunk0 + item / (n_p * c->n_groups);
                int64_t p = item / c->n_groups % n_p, group = item % c->n_groups, ti0, ti1;
                chunk_rows_of(g, chunk, &ti0, &ti1);
                int64_t n_cols = ((ti1 - ti0) * g->tiles_w + 15) & ~(int64_t)15;
                int64_t block0 = group * GROUP_BLOCKS;
                int64_t block1 =
                    block0 + GROUP_BLOCKS < c->n_blocks ? block0 + GROUP_BLOCKS : c->n_blocks;
                const void *b_seg[MAX_KT];
                for (int s = 0; s < kt; s++)
                    b_seg[s] = c->ring +
                               ring_slot(t - halo_frames + s, g->n_slots) * g->band_floats +
                               p * g->plane_floats + (chunk - band0) * cin * g->chunk_stride;
                gemm_group(g, 0, c->u + p * c->u_pstride, kt, b_seg, block0, block1, n_cols,
                           c->m + (chunk - chunk0) * c->m_chunk_floats + p * c->m_pstride);
            }
#pragma omp for schedule(static)
            for (int64_t item = 0; item < n_batch * cout; item++) {
                int64_t chunk = chunk0 + item / cout, co = item % cout;
                output_frame(c, c->m + (chunk - chunk0) * c->m_chunk_floats + co * g->chunk_stride,
                             chunk, co, t);
            }
        }
    }
}

/* F(2, 3)'s temporal input transform of n values of d0..d3 (frames
 * e-2..e+1): E0 = d0 - d2 (only with the even frame), E1 = d1 + d2,
 * E2 = d2 - d1, E3 = d1 - d3 (only with the odd frame); one pass reads each
 * input once. */
__attribute__((target("avx512f"))) static void temporal_inputs(const float *const d[4],
                                                               float *const e[4], int has_even,
                                                               int has_odd, int64_t n) {
    const float *restrict d0 = d[0], *restrict d1 = d[1], *restrict d2 = d[2], *restrict d3 = d[3];
    float *restrict e0 = e[0], *restrict e1 = e[1], *restrict e2 = e[2], *restrict e3 = e[3];
    if (has_even && has_odd) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) {
            float a = d1[i], b = d2[i];
            e0[i] = d0[i] - b;
            e1[i] = a + b;
            e2[i] = b - a;
            e3[i] = a - d3[i];
        }
        return;
    }
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        float a = d1[i], b = d2[i];
        e1[i] = a + b;
        e2[i] = b - a;
    }
    if (has_even) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) e0[i] = d0[i] - d2[i];
    }
    if (has_odd) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) e3[i] = d1[i] - d3[i];
    }
}

/* temporal_inputs for the bf16 GEMM: the same float32 differences, each
 * rounded once to bf16 (nearest even) and stored as pair rows: channels ci
 * and ci + 1 of a tile side by side, [cin/2][row][2] for rows of `row`
 * tiles (d: [cin][row] floats). */
__attribute__((target("avx512f,avx512bw,avx512bf16"))) static void
temporal_inputs_bf16(const float *const d[4], ctxpar_bf16 *const e[4], int has_even, int has_odd,
                     int64_t cin, int64_t row) {
    const float *restrict d0 = d[0], *restrict d1 = d[1], *restrict d2 = d[2], *restrict d3 = d[3];
    ctxpar_bf16 *restrict e0 = e[0], *restrict e1 = e[1], *restrict e2 = e[2], *restrict e3 = e[3];
    for (int64_t at = 0; at < cin * row; at += 2 * row)
        for (int64_t i = 0; i < row; i += 16) {
            const int64_t lo = at + i, hi = lo + row, out = at + 2 * i;
            const __m512 a0 = _mm512_loadu_ps(d1 + lo), b0 = _mm512_loadu_ps(d2 + lo);
            const __m512 a1 = _mm512_loadu_ps(d1 + hi), b1 = _mm512_loadu_ps(d2 + hi);
            _mm512_storeu_si512(e1 + out, pairs_bf16(_mm512_add_ps(a0, b0), _mm512_add_ps(a1, b1)));
            _mm512_storeu_si512(e2 + out, pairs_bf16(_mm512_sub_ps(b0, a0), _mm512_sub_ps(b1, a1)));
            if (has_even)
                _mm512_storeu_si512(e0 + out,
                                    pairs_bf16(_mm512_sub_ps(_mm512_loadu_ps(d0 + lo), b0),
                                               _mm512_sub_ps(_mm512_loadu_ps(d0 + hi), b1)));
            if (has_odd)
                _mm512_storeu_si512(e3 + out,
                                    pairs_bf16(_mm512_sub_ps(a0, _mm512_loadu_ps(d3 + lo)),
                                               _mm512_sub_ps(a1, _mm512_loadu_ps(d3 + hi))));
        }
}

/* M_e = (P0 + P1) + P2 into P0 and M_e+1 = (P1 - P2) - P3 into P3, for n
 * values of products j at p0 + j*jstride; the same operations whichever of
 * the two frames is wanted. */
__attribute__((target("avx512f"))) static void combine_products(float *p0, int64_t jstride,
                                                                int64_t n, int has_even,
                                                                int has_odd) {
    float *restrict q0 = p0, *restrict q3 = p0 + 3 * jstride;
    const float *restrict q1 = p0 + jstride, *restrict q2 = p0 + 2 * jstride;
    if (has_even && has_odd) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) {
            float a1 = q1[i], a2 = q2[i];
            q0[i] = (q0[i] + a1) + a2;
            q3[i] = (a1 - a2) - q3[i];
        }
    } else if (has_even) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) q0[i] = (q0[i] + q1[i]) + q2[i];
    } else {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) q3[i] = (q1[i] - q2[i]) - q3[i];
    }
}

/* In time too (kt = 3), Winograd F(2, 3): output frames in pairs (e, e+1),
 * e even counted from the video's frame 0 (first_frame), from inputs
 * d0..d3 = frames e-2..e+1 (a ring of 4 transformed frames). Four GEMMs
 * with K = cin over the temporal input transform E_j of the inputs:
 *   P0 = U'0 (d0 - d2), P1 = U'1 (d1 + d2), P2 = U'2 (d2 - d1), P3 = U'3 (d1 - d3)
 *   M_e = (P0 + P1) + P2,  M_e+1 = (P1 - P2) - P3
 * 4 products for 2 frames instead of 6: 1.5x fewer multiplications. A frame
 * whose partner is outside [t_begin, t_end) skips the partner's product
 * (M_e does not use P3, M_e+1 not P0) and is computed with the very same
 * operations, so results do not depend on the chunking of the frames or on
 * where a rank's frames begin. */
static void pairs_band(const wino_call *c, int64_t band0, int64_t band1, int64_t first_frame) {
    const wino_geom *g = c->g;
    int n_p = g->n_p;
    int64_t cin = g->cin, cout = g->cout;
    int64_t e_first = c->t_begin - ((first_frame + c->t_begin) & 1);
    int64_t next_in = c->t_begin - 2;
    for (int64_t e = e_first; e < c->t_end; e += 2) {
        const int has_even = e >= c->t_begin, has_odd = e + 1 < c->t_end;
        for (; next_in <= (has_odd ? e + 1 : e); next_in++)
            transform_frame(c, next_in, band0, band1);
        const int j0 = has_even ? 0 : 1, j1 = has_odd ? 4 : 3;
        for (int64_t chunk0 = band0; chunk0 < band1; chunk0 += g->batch_chunks) {
            int64_t n_batch = band1 - chunk0 < g->batch_chunks ? band1 - chunk0 : g->batch_chunks;
            /* Per (chunk, p): the temporal input transform into this item's
             * own part of e_buf ([chunk][j][p][ci][tile], a few hundred KB,
             * still in L2), then the GEMMs of its products j over every
             * output-channel group (a version that formed E_j inside the
             * micro-kernel lost ~12% of its rate to the extra loads). */
            int64_t e_rows = cin * g->chunk_stride;
#pragma omp for schedule(dynamic, 1)
            for (int64_t item = 0; item < n_batch * n_p; item++) {
                int64_t chunk = chunk0 + item / n_p, p = item % n_p, ti0, ti1;
                chunk_rows_of(g, chunk, &ti0, &ti1);
                int64_t n_cols = ((ti1 - ti0) * g->tiles_w + 15) & ~(int64_t)15;
                int64_t off = p * g->plane_floats + (chunk - band0) * e_rows;
                const float *d[4];
                float *e_out[4];
                for (int i = 0; i < 4; i++) {
                    d[i] = c->ring + ring_slot(e - 2 + i, g->n_slots) * g->band_floats + off;
                    e_out[i] = c->e_buf + (((chunk - chunk0) * 4 + i) * n_p + p) * e_rows;
                }
                if (c->bf16) {
                    ctxpar_bf16 *e16[4];
                    for (int i = 0; i < 4; i++) e16[i] = (ctxpar_bf16 *)e_out[i];
                    temporal_inputs_bf16(d, e16, has_even, has_odd, cin, g->chunk_stride);
                } else {
                    temporal_inputs(d, e_out, has_even, has_odd, e_rows);
                }
                for (int j = j0; j < j1; j++) {
                    const void *b_seg[MAX_KT] = {e_out[j]};
                    /* bf16 panels sit in the float panels' place, at the
                     * same offsets counted in values */
                    const int64_t u_at = j * c->u_jstride + p * c->u_pstride;
                    const void *u_p = c->bf16 ? (const void *)((const ctxpar_bf16 *)c->u + u_at)
                                              : (const void *)(c->u + u_at);
                    for (int64_t group = 0; group < c->n_groups; group++) {
                        int64_t block0 = group * GROUP_BLOCKS;
                        int64_t block1 = block0 + GROUP_BLOCKS < c->n_blocks
                                             ? block0 + GROUP_BLOCKS
                                             : c->n_blocks;
                        gemm_group(g, c->bf16, u_p, 1, b_seg, block0, block1, n_cols,
                                   c->m + (chunk - chunk0) * c->m_chunk_floats +
                                       (j * n_p + p) * c->m_pstride);
                    }
                }
                /* This p's products are complete: combine them for every
                 * output channel while they are in L2. */
                combine_products(c->m + (chunk - chunk0) * c->m_chunk_floats + p * c->m_pstride,
                                 n_p * c->m_pstride, cout * g->chunk_stride, has_even, has_odd);
            }
#pragma omp for schedule(static)
            for (int64_t item = 0; item < n_batch * cout; item++) {
                int64_t chunk = chunk0 + item / cout, co = item % cout;
                float *m_co = c->m + (chunk - chunk0) * c->m_chunk_floats + co * g->chunk_stride;
                int64_t jstride = n_p * c->m_pstride;
                if (has_even) output_frame(c, m_co, chunk, co, e);
                if (has_odd) output_frame(c, m_co + 3 * jstride, chunk, co, e + 1);
            }
        }
    }
}

static void conv3d_causal_winograd(int tile, const float *x, int64_t x_cstride,
                                   const float *halo, float *y, int64_t y_cstride,
                                   const float *weight, const ctxpar_bf16 *packed,
                                   const float *bias, int64_t cin,
                                   int64_t cout, int kt, int64_t h, int64_t w, int64_t t_begin,
                                   int64_t t_end, const ctxpar_conv3d_fusion *fuse,
                                   float *scratch) {
    if (t_end <= t_begin) return;
    wino_geom g = geom_of(tile, cin, cout, kt, h, w);
    wino_call c = {.g = &g, .x = x, .halo = halo, .x_cstride = x_cstride, .y = y,
                   .y_cstride = y_cstride, .bias = bias, .fuse = fuse, .t_begin = t_begin,
                   .t_end = t_end, .bf16 = packed != NULL};
    float *u = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    c.u_pstride = g.cout_padded * g.k_total;
    c.u_jstride = g.n_p * c.u_pstride;
    c.m_pstride = g.cout_padded * g.chunk_stride;
    c.m_chunk_floats = g.n_j * g.n_p * c.m_pstride;
    c.u = u;
    c.ring = u + g.n_j * c.u_jstride;
    c.e_buf = c.ring + g.n_slots * g.band_floats;
    c.m = c.e_buf + g.batch_chunks * g.n_e * g.n_p * cin * g.chunk_stride;
    c.saved = c.m + g.batch_chunks * c.m_chunk_floats + 16;
    c.n_blocks = n_co_blocks(cout);
    c.n_groups = (c.n_blocks + GROUP_BLOCKS - 1) / GROUP_BLOCKS;
    int64_t first_frame = fuse ? fuse->first_frame : 0;

    transform_weights(&g, weight, packed, c.bf16, u);
#pragma omp parallel
    {
        for (int64_t band0 = 0; band0 < g.n_chunks; band0 += g.band_chunks) {
            int64_t band1 = band0 + g.band_chunks < g.n_chunks ? band0 + g.band_chunks
                                                               : g.n_chunks;
            if (g.temporal)
                pairs_band(&c, band0, band1, first_frame);
            else
                frames_band(&c, band0, band1);
        }
    }
}

int64_t ctxpar_cpu_conv3d_winograd_f2_scratch_floats(int64_t cin, int64_t cout, int kt, int kh,
                                                     int kw, int64_t h, int64_t w,
                                                     int64_t n_frames) {
    (void)kh, (void)kw;
    return scratch_floats(2, cin, cout, kt, h, w, n_frames);
}

int64_t ctxpar_cpu_conv3d_winograd_f4_scratch_floats(int64_t cin, int64_t cout, int kt, int kh,
                                                     int kw, int64_t h, int64_t w,
                                                     int64_t n_frames) {
    (void)kh, (void)kw;
    return scratch_floats(4, cin, cout, kt, h, w, n_frames);
}

void ctxpar_cpu_conv3d_causal_winograd_f2(const float *x, int64_t x_cstride, const float *halo,
                                          float *y, int64_t y_cstride, const float *weight,
                                          const float *bias, int64_t cin, int64_t cout, int kt,
                                          int kh, int kw, int64_t h, int64_t w, int64_t t_begin,
                                          int64_t t_end, float *scratch) {
    (void)kh, (void)kw;
    conv3d_causal_winograd(2, x, x_cstride, halo, y, y_cstride, weight, NULL, bias, cin, cout, kt, h,
                           w, t_begin, t_end, NULL, scratch);
}

void ctxpar_cpu_conv3d_causal_winograd_f4(const float *x, int64_t x_cstride, const float *halo,
                                          float *y, int64_t y_cstride, const float *weight,
                                          const float *bias, int64_t cin, int64_t cout, int kt,
                                          int kh, int kw, int64_t h, int64_t w, int64_t t_begin,
                                          int64_t t_end, float *scratch) {
    (void)kh, (void)kw;
    conv3d_causal_winograd(4, x, x_cstride, halo, y, y_cstride, weight, NULL, bias, cin, cout, kt, h,
                           w, t_begin, t_end, NULL, scratch);
}

void ctxpar_cpu_conv3d_causal_winograd_fused(int tile, const float *x, int64_t x_cstride,
                                             const float *halo, float *y, int64_t y_cstride,
                                             const float *weight, const float *bias, int64_t cin,
                                             int64_t cout, int kt, int64_t h, int64_t w,
                                             int64_t t_begin, int64_t t_end,
                                             const ctxpar_conv3d_fusion *fuse, float *scratch) {
    conv3d_causal_winograd(tile, x, x_cstride, halo, y, y_cstride, weight, NULL, bias, cin, cout,
                           kt, h, w, t_begin, t_end, fuse, scratch);
}

int ctxpar_cpu_conv3d_winograd_bf16_supports(int64_t cin, int64_t cout, int kt, int kh, int kw,
                                             int64_t h, int64_t w) {
    return ctxpar_cpu_conv3d_winograd_supports(cin, cout, kt, kh, kw, h, w) && kt == 3 &&
           cin % 2 == 0 && __builtin_cpu_supports("avx512bf16") &&
           __builtin_cpu_supports("avx512bw");
}

void ctxpar_cpu_conv3d_causal_winograd_bf16(const float *x, int64_t x_cstride, const float *halo,
                                            float *y, int64_t y_cstride,
                                            const ctxpar_bf16 *packed, const float *bias,
                                            int64_t cin, int64_t cout, int64_t h, int64_t w,
                                            int64_t t_begin, int64_t t_end,
                                            const ctxpar_conv3d_fusion *fuse, float *scratch) {
    conv3d_causal_winograd(ctxpar_cpu_conv3d_winograd_tile(cin, cout, 3, h, w), x, x_cstride,
                           halo, y, y_cstride, NULL, packed, bias, cin, cout, 3, h, w, t_begin,
                           t_end, fuse, scratch);
}

#else /* not x86-64 with GCC/Clang: no Winograd path */

int ctxpar_cpu_conv3d_winograd_bf16_supports(int64_t cin, int64_t cout, int kt, int kh, int kw,
                                             int64_t h, int64_t w) {
    return 0;
}
void ctxpar_cpu_conv3d_causal_winograd_bf16(const float *x, int64_t x_cstride, const float *halo,
                                            float *y, int64_t y_cstride,
                                            const ctxpar_bf16 *packed, const float *bias,
                                            int64_t cin, int64_t cout, int64_t h, int64_t w,
                                            int64_t t_begin, int64_t t_end,
                                            const ctxpar_conv3d_fusion *fuse, float *scratch) {
    abort(); /* never dispatched: _supports is 0 */
}

int ctxpar_cpu_conv3d_winograd_supports(int64_t cin, int64_t cout, int kt, int kh, int kw,
                                        int64_t h, int64_t w) {
    return 0;
}
int ctxpar_cpu_conv3d_winograd_tile(int64_t cin, int64_t cout, int kt, int64_t h, int64_t w) {
    return 2;
}
int64_t ctxpar_cpu_conv3d_winograd_f2_scratch_floats(int64_t cin, int64_t cout, int kt, int kh,
                                                     int kw, int64_t h, int64_t w,
                                                     int64_t n_frames) {
    return ctxpar_cpu_conv3d_gemm_scratch_floats(cin, cout, kt, kh, kw, h, w, n_frames);
}
int64_t ctxpar_cpu_conv3d_winograd_f4_scratch_floats(int64_t cin, int64_t cout, int kt, int kh,
                                                     int kw, int64_t h, int64_t w,
                                                     int64_t n_frames) {
    return ctxpar_cpu_conv3d_gemm_scratch_floats(cin, cout, kt, kh, kw, h, w, n_frames);
}
void ctxpar_cpu_conv3d_causal_winograd_fused(int tile, const float *x, int64_t x_cstride,
                                             const float *halo, float *y, int64_t y_cstride,
                                             const float *weight, const float *bias, int64_t cin,
                                             int64_t cout, int kt, int64_t h, int64_t w,
                                             int64_t t_begin, int64_t t_end,
                                             const ctxpar_conv3d_fusion *fuse, float *scratch) {
    abort(); /* never dispatched: ctxpar_cpu_conv3d_fuses() is 0 without Winograd */
}
void ctxpar_cpu_conv3d_causal_winograd_f2(const float *x, int64_t x_cstride, const float *halo,
                                          float *y, int64_t y_cstride, const float *weight,
                                          const float *bias, int64_t cin, int64_t cout, int kt,
                                          int kh, int kw, int64_t h, int64_t w, int64_t t_begin,
                                          int64_t t_end, float *scratch) {
    ctxpar_cpu_conv3d_causal_gemm(x, x_cstride, halo, y, y_cstride, weight, bias, cin, cout, kt,
                                  kh, kw, h, w, t_begin, t_end, scratch);
}
void ctxpar_cpu_conv3d_causal_winograd_f4(const float *x, int64_t x_cstride, const float *halo,
                                          float *y, int64_t y_cstride, const float *weight,
                                          const float *bias, int64_t cin, int64_t cout, int kt,
                                          int kh, int kw, int64_t h, int64_t w, int64_t t_begin,
                                          int64_t t_end, float *scratch) {
    ctxpar_cpu_conv3d_causal_gemm(x, x_cstride, halo, y, y_cstride, weight, bias, cin, cout, kt,
                                  kh, kw, h, w, t_begin, t_end, scratch);
}
#endif
