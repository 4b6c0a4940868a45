/* Causal 3D convolution with 3x3 spatial taps as Winograd F(2x2, 3x3).
 *
 * Design: the direct kernel already runs at ~90% of the FMA peak, so the only
 * way to go faster is fewer multiplications. F(2x2, 3x3) turns each 3x3
 * spatial tap into 16 element-wise products per 2x2 output tile: 16 instead
 * of 36 multiplications, 2.25x fewer. With the input tile transform
 * V = B^T d B (4x4 tiles at stride 2, zero padding 1) and the weight
 * transform U = G g G^T, the causal conv becomes, for every one of the 16
 * tile positions p, one GEMM per output frame t:
 *   M_p[co][tile] = sum_{dt, ci} U_p[co][dt*cin + ci] V_p[t - (kt-1) + dt][ci][tile]
 * and the output transform A^T M A (plus the bias) gives the 2x2 outputs.
 *
 * What shapes the code:
 * - The frame is cut into horizontal bands of whole chunks (at least
 *   BAND_TILE_ROWS tile rows, fewer where kt transformed bands would pass
 *   BAND_RING_FLOATS), and the call runs band by band, frames first to last
 *   inside a band. Each input band is transformed once, into a ring of kt
 *   transformed bands; output frame t's band transforms input frame t's band,
 *   then reads slots t-kt+1..t. The scratch is therefore bounded whatever
 *   the frame size (a ring of whole frames was 2.1 GB at 128 channels of
 *   480x720), and the transformed inputs are still warm in L3 when the GEMMs
 *   read them.
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
 *   packed per call into [p][co block][k][12] panels (cout*cin*kt*16
 *   floats, a few percent of the conv's time at 128+ channels).
 * - OpenMP splits (chunk, p, group of output-channel blocks) GEMMs for a
 *   batch of chunks (BATCH_M_FLOATS of results), then the batch's output
 *   transforms, so a band of a frame costs a few barriers, not two per chunk.
 * - Chunks, bands, tiles and the reduction order depend only on the frame size and
 *   the channel counts, never on t_begin/t_end or the thread count, and each
 *   value is one fixed-order sum, so results are bit-identical for any
 *   chunking of the frames and any thread count. */
#include "kernels/cpu/conv3d_internal.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* MAX_W bounds the per-thread row buffers on the stack (tiles_w + 1 floats
 * per row); wider frames take the direct path. */
/* BATCH_M_FLOATS: GEMM results of a batch of chunks (8 MB, L3) computed
 * between two barriers; one chunk at a time cost a barrier per 128 tiles,
 * which on a busy machine (a thread waiting for a descheduled one) cost more
 * than the convolution. */
enum { BATCH_M_FLOATS = 2 << 20 };
enum { MAX_MR = 12, K_PIECE = 128, GROUP_BLOCKS = 6, CHUNK_TILES = 128, MAX_KT = 4, MAX_W = 4096, MAX_TILES_W = MAX_W / 2 };
/* BAND_TILE_ROWS: tile rows per band (at least), so the per-band barriers
 * and the saved boundary rows stay small next to the band's work;
 * BAND_RING_FLOATS (64 MiB) caps the ring of kt transformed bands, down to
 * one chunk per band. */
enum { BAND_TILE_ROWS = 16 };
#define BAND_RING_FLOATS ((int64_t)16 << 20)

int ctxpar_cpu_conv3d_winograd_supports(int64_t cin, int64_t cout, int kt, int kh, int kw,
                                        int64_t h, int64_t w) {
    return ctxpar_cpu_conv3d_have_avx512() && kh == 3 && kw == 3 && kt >= 1 && kt <= MAX_KT &&
           cin >= 1 && cout >= 1 && h >= 1 && w >= 1 && w <= MAX_W;
}

/* Everything derived from the shape: tiles, chunks and scratch layout. */
typedef struct wino_geom {
    int64_t cin, cout, h, w;
    int kt;
    int64_t tiles_h, tiles_w;
    int64_t chunk_rows;   /* tile rows per chunk */
    int64_t n_chunks;
    int64_t chunk_stride; /* floats per (p, chunk, ci) row: tiles per chunk rounded up to 16 */
    int64_t k_total;      /* GEMM reduction: kt*cin */
    int64_t cout_padded;  /* output channels rounded up to whole blocks */
    int64_t band_chunks;  /* chunks per band (the last band may have fewer) */
    int64_t n_bands;
    int64_t plane_floats; /* one p of a transformed band: band_chunks*cin*chunk_stride */
    int64_t band_floats;  /* 16 planes */
    int64_t batch_chunks; /* chunks whose GEMMs run between two barriers */
} wino_geom;

static wino_geom geom_of(int64_t cin, int64_t cout, int kt, int64_t h, int64_t w) {
    wino_geom g;
    g.cin = cin, g.cout = cout, g.h = h, g.w = w, g.kt = kt;
    g.tiles_h = (h + 1) / 2, g.tiles_w = (w + 1) / 2;
    g.chunk_rows = g.tiles_w >= CHUNK_TILES ? 1 : CHUNK_TILES / g.tiles_w;
    if (g.chunk_rows > g.tiles_h) g.chunk_rows = g.tiles_h;
    g.n_chunks = (g.tiles_h + g.chunk_rows - 1) / g.chunk_rows;
    g.chunk_stride = (g.chunk_rows * g.tiles_w + 15) & ~(int64_t)15;
    g.k_total = kt * cin;
    g.cout_padded = (cout + 3) & ~(int64_t)3;
    g.band_chunks = (BAND_TILE_ROWS + g.chunk_rows - 1) / g.chunk_rows;
    int64_t ring_chunk_floats = (int64_t)kt * 16 * cin * g.chunk_stride;
    if (g.band_chunks * ring_chunk_floats > BAND_RING_FLOATS)
        g.band_chunks = BAND_RING_FLOATS / ring_chunk_floats;
    if (g.band_chunks < 1) g.band_chunks = 1;
    if (g.band_chunks > g.n_chunks) g.band_chunks = g.n_chunks;
    g.n_bands = (g.n_chunks + g.band_chunks - 1) / g.band_chunks;
    g.plane_floats = g.band_chunks * cin * g.chunk_stride;
    g.band_floats = 16 * g.plane_floats;
    g.batch_chunks = BATCH_M_FLOATS / (16 * g.cout_padded * g.chunk_stride);
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

int64_t ctxpar_cpu_conv3d_winograd_scratch_floats(int64_t cin, int64_t cout, int kt, int kh,
                                                  int kw, int64_t h, int64_t w,
                                                  int64_t n_frames) {
    (void)kh, (void)kw;
    wino_geom g = geom_of(cin, cout, kt, h, w);
    int64_t saved_rows = g.n_bands > 1 ? cin * (n_frames > 1 ? n_frames : 1) * w : 0;
    return 16 /* alignment */ + 16 * g.cout_padded * g.k_total + kt * g.band_floats +
           g.batch_chunks * 16 * g.cout_padded * g.chunk_stride + saved_rows;
}

/* U_p = G g G^T for every (co, ci, dt), packed as [p][co block][k][width],
 * k = dt*cin + ci; padding rows of the last block are zero. */
static void transform_weights(const wino_geom *g, const float *weight, float *u) {
    int64_t k_total = g->k_total, p_stride = g->cout_padded * k_total;
    int64_t n_blocks = n_co_blocks(g->cout);
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t b = 0; b < n_blocks; b++) {
        int64_t start;
        int width;
        co_block(g->cout, b, &start, &width);
        for (int i = 0; i < width; i++) {
            int64_t co = start + i;
            for (int64_t k = 0; k < k_total; k++) {
                float out[16] = {0};
                if (co < g->cout) {
                    int64_t dt = k / g->cin, ci = k % g->cin;
                    const float *w9 = weight + ((co * g->cin + ci) * g->kt + dt) * 9;
                    float gg[4][3]; /* G g: rows of the 3x3 kernel combined */
                    for (int c = 0; c < 3; c++) {
                        float r0 = w9[c], r1 = w9[3 + c], r2 = w9[6 + c];
                        gg[0][c] = r0;
                        gg[1][c] = 0.5f * (r0 + r1 + r2);
                        gg[2][c] = 0.5f * (r0 - r1 + r2);
                        gg[3][c] = r2;
                    }
                    for (int a = 0; a < 4; a++) {
                        float c0 = gg[a][0], c1 = gg[a][1], c2 = gg[a][2];
                        out[4 * a + 0] = c0;
                        out[4 * a + 1] = 0.5f * (c0 + c1 + c2);
                        out[4 * a + 2] = 0.5f * (c0 - c1 + c2);
                        out[4 * a + 3] = c2;
                    }
                }
                for (int p = 0; p < 16; p++)
                    u[p * p_stride + start * k_total + k * width + i] = out[p];
            }
        }
    }
}

/* One input row split for the tile transform: ev[j] = row[2j - 1],
 * od[j] = row[2j] for j in [0, tiles_w], zero outside the frame (the left
 * padding column is row[-1]) and in 16 floats of slack after it. NULL row: a
 * padding row, all zero. */
static void split_row(float *ev, float *od, const float *row, int64_t w, int64_t tiles_w) {
    memset(ev + tiles_w + 1, 0, sizeof(float) * 16);
    memset(od + tiles_w + 1, 0, sizeof(float) * 16);
    if (!row) {
        memset(ev, 0, sizeof(float) * (tiles_w + 1));
        memset(od, 0, sizeof(float) * (tiles_w + 1));
        return;
    }
    int64_t j_inner = (w - 1) / 2; /* j in [1, j_inner]: 2j - 1 and 2j both < w */
    ev[0] = 0.0f, od[0] = row[0];
    for (int64_t j = 1; j <= j_inner; j++) {
        ev[j] = row[2 * j - 1];
        od[j] = row[2 * j];
    }
    for (int64_t j = j_inner + 1; j <= tiles_w; j++) {
        ev[j] = 2 * j - 1 < w ? row[2 * j - 1] : 0.0f;
        od[j] = 2 * j < w ? row[2 * j] : 0.0f;
    }
}

/* V = B^T d B for one tile row of one channel: 16 output streams (p = 4a + c),
 * tiles_w values each, 16 tiles per step (masked at the end; the row
 * buffers hold 16 floats of slack). B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0;
 * 0 1 0 -1]. */
__attribute__((target("avx512f"))) static void
transform_tile_row(float (*ev)[MAX_TILES_W + 17], float (*od)[MAX_TILES_W + 17], int64_t tiles_w,
                   float *const out[16]) {
    for (int64_t j = 0; j < tiles_w; j += 16) {
        __mmask16 mask = tiles_w - j >= 16 ? 0xffff : (__mmask16)((1u << (tiles_w - j)) - 1);
        __m512 t[4][4];
        for (int r = 0; r < 4; r++) {
            /* Row r's tile columns: ev[j], od[j], ev[j+1], od[j+1]. */
            __m512 d0 = _mm512_loadu_ps(ev[r] + j), d1 = _mm512_loadu_ps(od[r] + j);
            __m512 d2 = _mm512_loadu_ps(ev[r] + j + 1), d3 = _mm512_loadu_ps(od[r] + j + 1);
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

/* Transform chunks [chunk0, chunk1) of one input frame (channel ci at
 * src + ci*src_cstride) into dst. top: NULL, or the saved input row just above
 * the band (channel ci at top + ci*w), read instead of the frame's. */
static void transform_band(const wino_geom *g, const float *src, int64_t src_cstride,
                           const float *top, int64_t chunk0, int64_t chunk1, float *dst) {
    int64_t tiles_w = g->tiles_w, top_row = 2 * chunk0 * g->chunk_rows - 1;
#pragma omp for schedule(dynamic, 4)
    for (int64_t item = 0; item < (chunk1 - chunk0) * g->cin; item++) {
        int64_t chunk = chunk0 + item / g->cin, ci = item % g->cin;
        float ev[4][MAX_TILES_W + 17], od[4][MAX_TILES_W + 17];
        const float *frame = src + ci * src_cstride;
        float *base = dst + ((chunk - chunk0) * g->cin + ci) * g->chunk_stride;
        int64_t ti0 = chunk * g->chunk_rows;
        int64_t ti1 = ti0 + g->chunk_rows < g->tiles_h ? ti0 + g->chunk_rows : g->tiles_h;
        for (int64_t ti = ti0; ti < ti1; ti++) {
            for (int r = 0; r < 4; r++) {
                int64_t iy = 2 * ti - 1 + r;
                const float *row = iy >= 0 && iy < g->h ? frame + iy * g->w : NULL;
                if (iy == top_row && top) row = top + ci * g->w;
                split_row(ev[r], od[r], row, g->w, tiles_w);
            }
            float *out[16];
            for (int p = 0; p < 16; p++)
                out[p] = base + p * g->plane_floats + (ti - ti0) * tiles_w;
            transform_tile_row(ev, od, tiles_w, out);
        }
        int64_t used = (ti1 - ti0) * tiles_w;
        for (int p = 0; p < 16; p++)
            memset(base + p * g->plane_floats + used, 0,
                   sizeof(float) * (g->chunk_stride - used));
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

__attribute__((target("avx512f"))) static void gemm_tile_dispatch(int mr, int nv,
                                                                  const float *panel,
                                                                  const float *b, int64_t n_k,
                                                                  int64_t stride, float *c,
                                                                  int accumulate) {
    switch (mr * 2 + nv) {
    case 26: gemm_tile(12, 2, panel, b, n_k, stride, c, stride, accumulate); break;
    case 25: gemm_tile(12, 1, panel, b, n_k, stride, c, stride, accumulate); break;
    case 18: gemm_tile(8, 2, panel, b, n_k, stride, c, stride, accumulate); break;
    case 17: gemm_tile(8, 1, panel, b, n_k, stride, c, stride, accumulate); break;
    case 10: gemm_tile(4, 2, panel, b, n_k, stride, c, stride, accumulate); break;
    default: gemm_tile(4, 1, panel, b, n_k, stride, c, stride, accumulate); break;
    }
}

/* One p and a group of output-channel blocks over the chunk's n_cols
 * (multiple of 16) tiles. The reduction runs in pieces of at most K_PIECE
 * rows of one temporal tap, so a 32-tile slice of B (K_PIECE x 32 floats,
 * 16 KB) stays in L1 while every block of the group runs over it; the
 * group's weight panels for the piece (up to 36 KB) stay in L2. The pieces
 * always split the same way, so each sum's order is fixed. */
__attribute__((target("avx512f"))) static void
gemm_group(const wino_geom *g, const float *u_p, const float *b_seg[MAX_KT], int64_t block0,
           int64_t block1, int64_t n_cols, float *m_p) {
    int64_t stride = g->chunk_stride;
    for (int s = 0; s < g->kt; s++)
        for (int64_t k0 = 0; k0 < g->cin; k0 += K_PIECE) {
            int64_t n_k = g->cin - k0 < K_PIECE ? g->cin - k0 : K_PIECE;
            int accumulate = s > 0 || k0 > 0;
            const float *b = b_seg[s] + k0 * stride;
            for (int64_t col = 0; col < n_cols; col += 32) {
                int nv = n_cols - col >= 32 ? 2 : 1;
                for (int64_t blk = block0; blk < block1; blk++) {
                    int64_t start;
                    int width;
                    co_block(g->cout, blk, &start, &width);
                    const float *panel = u_p + start * g->k_total + (s * g->cin + k0) * width;
                    gemm_tile_dispatch(width, nv, panel, b + col, n_k, stride,
                                       m_p + start * stride + col, accumulate);
                }
            }
        }
}

/* Y = A^T m A + bias for output channel co over the chunk's tile rows;
 * A^T = [1 1 1 0; 0 1 -1 -1]. m planes are m + p*m_pstride. */
__attribute__((target("avx512f"))) static void
output_chunk(const wino_geom *g, const float *m, int64_t m_pstride, float bias, int64_t ti0,
             int64_t ti1, float *y_frame) {
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
        memcpy(y_frame + 2 * ti * g->w, row0, sizeof(float) * g->w);
        if (2 * ti + 1 < g->h) memcpy(y_frame + (2 * ti + 1) * g->w, row1, sizeof(float) * g->w);
    }
}

static int64_t ring_slot(int64_t t, int kt) { return ((t % kt) + kt) % kt; }

void ctxpar_cpu_conv3d_causal_winograd(const float *x, int64_t x_cstride, const float *halo,
                                       float *y, int64_t y_cstride, const float *weight,
                                       const float *bias, int64_t cin, int64_t cout, int kt,
                                       int kh, int kw, int64_t h, int64_t w, int64_t t_begin,
                                       int64_t t_end, float *scratch) {
    (void)kh, (void)kw;
    if (t_end <= t_begin) return;
    wino_geom g = geom_of(cin, cout, kt, h, w);
    int64_t hw = h * w, halo_frames = kt - 1;
    float *u = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    float *ring = u + 16 * g.cout_padded * g.k_total;
    float *m = ring + kt * g.band_floats;
    float *saved = m + g.batch_chunks * 16 * g.cout_padded * g.chunk_stride;
    int64_t u_pstride = g.cout_padded * g.k_total, m_pstride = g.cout_padded * g.chunk_stride;
    int64_t m_chunk_floats = 16 * m_pstride;
    int64_t n_blocks = n_co_blocks(cout);
    int64_t n_groups = (n_blocks + GROUP_BLOCKS - 1) / GROUP_BLOCKS;

    transform_weights(&g, weight, u);
#pragma omp parallel
    {
        for (int64_t band0 = 0; band0 < g.n_chunks; band0 += g.band_chunks) {
            int64_t band1 = band0 + g.band_chunks < g.n_chunks ? band0 + g.band_chunks
                                                               : g.n_chunks;
            /* The input row the next band needs above it: this band's last
             * output row. */
            int64_t last_row = 2 * band1 * g.chunk_rows - 1;
            for (int64_t t = t_begin - halo_frames; t < t_end; t++) {
                /* Input frame t's band into its ring slot; frames below 0 are
                 * the halo's; frames of this call read their saved top row. */
                const float *src = t >= 0 ? x + t * hw : halo + (t + halo_frames) * hw;
                int64_t src_cstride = t >= 0 ? x_cstride : halo_frames * hw;
                const float *top = t >= t_begin && band0 > 0 ? saved + (t - t_begin) * cin * w
                                                              : NULL;
                transform_band(&g, src, src_cstride, top, band0, band1,
                               ring + ring_slot(t, kt) * g.band_floats);
                if (t < t_begin) continue;
                if (band1 < g.n_chunks) {
                    /* Written only after the GEMMs' barrier below. */
#pragma omp for schedule(static) nowait
                    for (int64_t ci = 0; ci < cin; ci++)
                        memcpy(saved + ((t - t_begin) * cin + ci) * w,
                               x + ci * x_cstride + t * hw + last_row * w, sizeof(float) * w);
                }
                for (int64_t chunk0 = band0; chunk0 < band1; chunk0 += g.batch_chunks) {
                    int64_t n_batch =
                        band1 - chunk0 < g.batch_chunks ? band1 - chunk0 : g.batch_chunks;
#pragma omp for schedule(dynamic, 1)
                    for (int64_t item = 0; item < n_batch * 16 * n_groups; item++) {
                        int64_t chunk = chunk0 + item / (16 * n_groups);
                        int64_t p = item / n_groups % 16, group = item % n_groups;
                        int64_t ti0 = chunk * g.chunk_rows;
                        int64_t ti1 =
                            ti0 + g.chunk_rows < g.tiles_h ? ti0 + g.chunk_rows : g.tiles_h;
                        int64_t n_cols = ((ti1 - ti0) * g.tiles_w + 15) & ~(int64_t)15;
                        int64_t block0 = group * GROUP_BLOCKS;
                        int64_t block1 = block0 + GROUP_BLOCKS < n_blocks
                                             ? block0 + GROUP_BLOCKS
                                             : n_blocks;
                        const float *b_seg[MAX_KT];
                        for (int s = 0; s < kt; s++)
                            b_seg[s] = ring +
                                       ring_slot(t - halo_frames + s, kt) * g.band_floats +
                                       p * g.plane_floats + (chunk - band0) * cin * g.chunk_stride;
                        gemm_group(&g, u + p * u_pstride, b_seg, block0, block1, n_cols,
                                   m + (chunk - chunk0) * m_chunk_floats + p * m_pstride);
                    }
#pragma omp for schedule(static)
                    for (int64_t item = 0; item < n_batch * cout; item++) {
                        int64_t chunk = chunk0 + item / cout, co = item % cout;
                        int64_t ti0 = chunk * g.chunk_rows;
                        int64_t ti1 =
                            ti0 + g.chunk_rows < g.tiles_h ? ti0 + g.chunk_rows : g.tiles_h;
                        output_chunk(&g,
                                     m + (chunk - chunk0) * m_chunk_floats + co * g.chunk_stride,
                                     m_pstride, bias ? bias[co] : 0.0f, ti0, ti1,
                                     y + co * y_cstride + t * hw);
                    }
                }
            }
        }
    }
}

#else /* not x86-64 with GCC/Clang: no Winograd path */

int ctxpar_cpu_conv3d_winograd_supports(int64_t cin, int64_t cout, int kt, int kh, int kw,
                                        int64_t h, int64_t w) {
    return 0;
}
int64_t ctxpar_cpu_conv3d_winograd_scratch_floats(int64_t cin, int64_t cout, int kt, int kh,
                                                  int kw, int64_t h, int64_t w,
                                                  int64_t n_frames) {
    return ctxpar_cpu_conv3d_gemm_scratch_floats(cin, cout, kt, kh, kw, h, w, n_frames);
}
void ctxpar_cpu_conv3d_causal_winograd(const float *x, int64_t x_cstride, const float *halo,
                                       float *y, int64_t y_cstride, const float *weight,
                                       const float *bias, int64_t cin, int64_t cout, int kt,
                                       int kh, int kw, int64_t h, int64_t w, int64_t t_begin,
                                       int64_t t_end, float *scratch) {
    ctxpar_cpu_conv3d_causal_gemm(x, x_cstride, halo, y, y_cstride, weight, bias, cin, cout, kt,
                                  kh, kw, h, w, t_begin, t_end, scratch);
}
#endif
