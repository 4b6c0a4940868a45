/* Causal 3D convolution and the stride-2 downsample as a direct convolution
 * with an AVX-512 register tile.
 *
 * Design: im2col + sgemm writes a 9x copy of the input and streams it from
 * DRAM once per temporal tap; here nothing is expanded. An output tile is MR
 * output channels x 32 consecutive pixels of one output row (MR x 2 zmm
 * accumulators). For every reduction index k = (ci, dt, ky, kx) the kernel
 * loads the 32 input pixels it needs straight from an input row (masked at the
 * frame's edges, which is the zero padding), broadcasts MR weights and does
 * 2*MR FMAs; input rows in the vertical padding are skipped.
 *
 * What keeps the FMA units fed at 128-512 channels is where the operands live
 * (measured in docs/bench-conv.md):
 * - The reduction is split into passes of PASS_K = 864 indices (32 input
 *   channels of a 3x3x3 kernel). A pass packs the weights of a group of up to
 *   6 blocks into [k][MR] panels (41 KB each, in scratch) and sweeps every
 *   output row; for each 32-column tile the blocks of the group run one after
 *   the other on the same input lines. The panels stay in L2 for thousands of
 *   tiles instead of the whole [K][MR] panel (up to 660 KB) streaming from L3
 *   for every tile, and the input is read from memory once per group instead
 *   of once per block. Passes after the first add onto y.
 * - The chunk's input frames are gathered into scratch with frames and
 *   channels padded by one kernel window of rows: VAE frames are often
 *   multiples of the L2 way size, and unpadded, the 9 input rows of all 32
 *   channels of a pass would share a few L2 sets and evict each other.
 *   Gathering also makes y aliasing x safe and removes the halo branch.
 * - Software prefetch where no hardware prefetcher looks: while a tile runs,
 *   its first block fetches into L2 the input lines that the next output row
 *   adds to the window; each tile fetches into L1 the rows of the next input
 *   channel, and into L2 the y tile of the next call (read by passes after
 *   the first, write-allocated by the first).
 * - The stride-2 downsample gathers each input row as its even columns then
 *   its odd columns, so every tap is a plain unaligned 16-lane load like the
 *   stride-1 case (no lane permutes on the FMA ports).
 * OpenMP splits output rows within a pass (dynamic chunks of 4 rows); each
 * output is one fixed-order sum, so results are bit-identical for any thread
 * count and any chunking. */
#include "kernels/cpu/conv3d_internal.h"

#include <string.h>

#include "base/cpu_features.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* PASS_K: reduction indices per pass (32 input channels of a 3x3x3 kernel);
 * its [PASS_K][12] weight panel is 41 KB. */
enum { TILE_COLS = 32, MAX_KW = 16, MAX_MR = 12, PASS_K = 864, GROUP_BLOCKS = 6 };
enum { PANEL_FLOATS = GROUP_BLOCKS * PASS_K * MAX_MR, MAX_PREFETCH = 12 };

int ctxpar_cpu_conv3d_have_avx512(void) { return ctxpar_cpu_has(CTXPAR_CPU_AVX512F); }

int ctxpar_cpu_conv3d_direct_supports(int kt, int kh, int kw) {
    return ctxpar_cpu_conv3d_have_avx512() && kw <= MAX_KW && (int64_t)kt * kh * kw <= PASS_K;
}

/* Output-channel blocks: as many MR = 12 as fit, then 8, 4, 1. */
static int block_rows(int64_t remaining) {
    return remaining >= 12 ? 12 : remaining >= 8 ? 8 : remaining >= 4 ? 4 : 1;
}

/* Gathered input: frames and channels padded by the height of one kernel
 * window of rows (kh*w floats, whole cache lines) plus, per channel, one more
 * line. VAE frames are often multiples of the L2 way size (128 KB), so
 * without the padding the 9 input rows of every channel of a pass would map
 * to the same few L2 sets and evict each other; with it a channel's window
 * of kt*kh rows lies after the previous channel's in set space. */
static int64_t gathered_skew(int kh, int64_t w) { return ((kh * w + 15) & ~(int64_t)15) + 16; }
static int64_t gathered_frame_stride(int kh, int64_t h, int64_t w) {
    return h * w + gathered_skew(kh, w);
}
static int64_t gathered_channel_stride(int kh, int64_t h, int64_t w, int64_t n_frames) {
    return n_frames * gathered_frame_stride(kh, h, w) + gathered_skew(kh, w) + 16;
}

int64_t ctxpar_cpu_conv3d_direct_scratch_floats(int64_t cin, int64_t cout, int kt, int kh, int kw,
                                                int64_t h, int64_t w, int64_t n_frames) {
    (void)cout, (void)kw;
    int64_t gathered_input = cin * gathered_channel_stride(kh, h, w, n_frames + kt - 1);
    return PANEL_FLOATS + gathered_input + 16; /* +16: room to align to 64 bytes */
}

int64_t ctxpar_cpu_conv2d_stride2_direct_scratch_floats(int64_t cin, int64_t h, int64_t w,
                                                        int64_t n_frames) {
    return PANEL_FLOATS + cin * gathered_channel_stride(3, h, w, n_frames) + 16;
}

/* One convolution over gathered input: everything a tile needs. */
typedef struct conv_geom {
    const float *in;            /* gathered input frames */
    int64_t in_cstride, in_fstride;
    int64_t cin, h, w;          /* input frame size; rows are w floats apart */
    int kt, kh, kw;
    int stride;                 /* 2: rows hold even columns, then odd ones */
    int64_t pad_y, pad_x;       /* input (oy*stride + ky - pad_y, ox*stride + kx - pad_x) */
    int64_t out_h, out_w, n_out;
    const float *weight;        /* [cout][K], K = cin*kt*kh*kw in PyTorch order */
    int64_t k_total;
    const float *bias;
    float *y;
    int64_t y_cstride, y_frame0;
} conv_geom;

/* One tile: its position, input channel pass and load offsets/masks. */
typedef struct tile_args {
    int64_t frame;                  /* first gathered input frame it reads */
    int64_t oy;
    int64_t ci0, ci1;
    int accumulate;                 /* 0: start from the bias; 1: add onto y */
    int64_t offset[MAX_KW];         /* tap kx: lane j reads row[offset[kx] + j] */
    __mmask16 load_mask[MAX_KW][2];
    __mmask16 store_mask[2];
    /* Lines of the next output row's new input rows, as offsets into a
     * frame: prefetched into L2 once per (ci, dt) while this tile runs. */
    int n_prefetch;
    int64_t prefetch_offset[MAX_PREFETCH];
    /* The y tile of the next call (next block, or first block of the next
     * tile), prefetched into L2 so its read (passes after the first) or its
     * write-allocate does not stall at the end of that call; NULL: none. */
    const float *y_next;
    int y_next_rows;
} tile_args;

/* One MR x 32 output tile over input channels [ci0, ci1). panel is the
 * pass's [k][mr] weights, k counted from ci0. mr and kw_fixed (3, or 0 for
 * "read g->kw") are compile-time constants after inlining, so the
 * accumulators live in registers and, for kw = 3, the tap loop is unrolled
 * with its 6 load masks held in mask registers for the whole tile. */
__attribute__((target("avx512f"), always_inline)) static inline void
tile_kernel(const int mr, const int kw_fixed, const conv_geom *g, const tile_args *a,
            const float *panel, const float *bias_block, float *out) {
    __m512 acc[12][2];
    const int64_t ys = g->y_cstride;
    if (a->accumulate) {
#pragma GCC unroll 12
        for (int i = 0; i < mr; i++) {
            acc[i][0] = _mm512_maskz_loadu_ps(a->store_mask[0], out + i * ys);
            acc[i][1] = _mm512_maskz_loadu_ps(a->store_mask[1], out + i * ys + 16);
        }
    } else {
#pragma GCC unroll 12
        for (int i = 0; i < mr; i++) {
            acc[i][0] = _mm512_set1_ps(bias_block ? bias_block[i] : 0.0f);
            acc[i][1] = acc[i][0];
        }
    }
    const int kt = g->kt, kh = g->kh, kw = kw_fixed ? kw_fixed : g->kw;
    __mmask16 mask0[3], mask1[3];
    int64_t offset[3];
    if (kw_fixed)
        for (int kx = 0; kx < 3; kx++)
            mask0[kx] = a->load_mask[kx][0], mask1[kx] = a->load_mask[kx][1],
            offset[kx] = a->offset[kx];
    if (a->y_next)
        for (int i = 0; i < a->y_next_rows; i++) {
            const char *line = (const char *)(a->y_next + i * ys);
            _mm_prefetch(line, _MM_HINT_T1);
            _mm_prefetch(line + 64, _MM_HINT_T1);
            _mm_prefetch(line + 124, _MM_HINT_T1);
        }
    for (int64_t ci = a->ci0; ci < a->ci1; ci++)
        for (int dt = 0; dt < kt; dt++) {
            const float *frame = g->in + ci * g->in_cstride + (a->frame + dt) * g->in_fstride;
            for (int p = 0; p < a->n_prefetch; p++)
                _mm_prefetch((const char *)(frame + a->prefetch_offset[p]), _MM_HINT_T1);
            for (int ky = 0; ky < kh; ky++) {
                int64_t iy = a->oy * g->stride + ky - g->pad_y;
                if (iy < 0 || iy >= g->h) continue;
                const float *row = frame + iy * g->w;
                const float *wk = panel + (((ci - a->ci0) * kt + dt) * kh + ky) * kw * mr;
                /* The same row of the next input channel, into L1: the
                 * kernel jumps between 9 rows per channel, which no hardware
                 * prefetcher follows. */
                const float *next = row + g->in_cstride + (kw_fixed ? offset[0] : a->offset[0]);
                _mm_prefetch((const char *)next, _MM_HINT_T0);
                _mm_prefetch((const char *)(next + 16), _MM_HINT_T0);
                _mm_prefetch((const char *)(next + 32), _MM_HINT_T0);
#pragma GCC unroll 3
                for (int kx = 0; kx < kw; kx++) {
                    const float *src = row + (kw_fixed ? offset[kx] : a->offset[kx]);
                    __m512 b0 = _mm512_maskz_loadu_ps(kw_fixed ? mask0[kx] : a->load_mask[kx][0],
                                                      src);
                    __m512 b1 = _mm512_maskz_loadu_ps(kw_fixed ? mask1[kx] : a->load_mask[kx][1],
                                                      src + 16);
#pragma GCC unroll 12
                    for (int i = 0; i < mr; i++) {
                        __m512 wv = _mm512_set1_ps(wk[kx * mr + i]);
                        acc[i][0] = _mm512_fmadd_ps(wv, b0, acc[i][0]);
                        acc[i][1] = _mm512_fmadd_ps(wv, b1, acc[i][1]);
                    }
                }
            }
        }
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) {
        _mm512_mask_storeu_ps(out + i * ys, a->store_mask[0], acc[i][0]);
        _mm512_mask_storeu_ps(out + i * ys + 16, a->store_mask[1], acc[i][1]);
    }
}

__attribute__((target("avx512f"))) static void tile_dispatch(int mr, const conv_geom *g,
                                                             const tile_args *a,
                                                             const float *panel,
                                                             const float *bias_block, float *out) {
    if (g->kw == 3) {
        switch (mr) {
        case 12: tile_kernel(12, 3, g, a, panel, bias_block, out); break;
        case 8: tile_kernel(8, 3, g, a, panel, bias_block, out); break;
        case 4: tile_kernel(4, 3, g, a, panel, bias_block, out); break;
        default: tile_kernel(1, 3, g, a, panel, bias_block, out); break;
        }
        return;
    }
    switch (mr) {
    case 12: tile_kernel(12, 0, g, a, panel, bias_block, out); break;
    case 8: tile_kernel(8, 0, g, a, panel, bias_block, out); break;
    case 4: tile_kernel(4, 0, g, a, panel, bias_block, out); break;
    default: tile_kernel(1, 0, g, a, panel, bias_block, out); break;
    }
}

/* Offsets and masks of the tile starting at output column x0. Lane j is
 * output column x0 + j; for tap kx it reads input column
 * (x0 + j)*stride + kx - pad_x, which must lie inside the frame. */
static void tile_columns(const conv_geom *g, int64_t x0, tile_args *a) {
    int64_t width = g->out_w - x0 < TILE_COLS ? g->out_w - x0 : TILE_COLS;
    for (int kx = 0; kx < g->kw && kx < MAX_KW; kx++) {
        int64_t d = kx - g->pad_x;
        if (g->stride == 1)
            a->offset[kx] = x0 + d;
        else /* column 2(x0+j) + d is in the odd half when d is odd */
            a->offset[kx] = ((d & 1) ? g->w / 2 : 0) + x0 + (d >> 1);
        for (int v = 0; v < 2; v++) {
            uint32_t bits = 0;
            for (int j = 0; j < 16; j++) {
                int64_t lane = 16 * v + j, ix = (x0 + lane) * g->stride + d;
                if (lane < width && ix >= 0 && ix < g->w) bits |= 1u << j;
            }
            a->load_mask[kx][v] = (__mmask16)bits;
        }
    }
    uint32_t store_bits = width == 32 ? 0xffffffffu : (1u << width) - 1;
    a->store_mask[0] = (__mmask16)(store_bits & 0xffff);
    a->store_mask[1] = (__mmask16)(store_bits >> 16);
    /* Input rows that output row oy + 1 reads and oy does not: one (stride
     * 1) or two (stride 2) at the bottom of its window; 3 lines per span. */
    a->n_prefetch = 0;
    if (a->oy + 1 >= g->out_h) return;
    for (int r = 0; r < g->stride && r < g->kh; r++) {
        int64_t iy = (a->oy + 1) * g->stride + g->kh - 1 - g->pad_y - r;
        if (iy < 0 || iy >= g->h) continue;
        for (int half = 0; half < g->stride; half++) {
            int64_t start = iy * g->w + half * (g->w / 2) + x0 - (half ? 1 : g->pad_x);
            for (int line = 0; line < 3 && a->n_prefetch < MAX_PREFETCH; line++)
                a->prefetch_offset[a->n_prefetch++] = start + 16 * line;
        }
    }
}

/* Output frames [0, n_out): output frame t reads gathered frames t + dt and
 * is written at y + (y_frame0 + t) * out_hw. Loop nest: pass (CIN block) ->
 * group of GROUP_BLOCKS output-channel blocks (their panels packed into
 * `panels`) -> output row (OpenMP) -> 32-column tile -> block. A tile's input
 * lines are loaded once into L1 and used by every block of the group; the
 * group's panels (up to 250 KB) stay in L2 for the whole sweep. */
static void conv_direct(const conv_geom *g, int64_t cout, float *panels) {
    int64_t out_hw = g->out_h * g->out_w;
    int64_t n_col_tiles = (g->out_w + TILE_COLS - 1) / TILE_COLS;
    int64_t n_rows = g->n_out * g->out_h;
    int64_t k_per_ci = (int64_t)g->kt * g->kh * g->kw;
    int64_t ci_block = PASS_K / k_per_ci;

    for (int64_t ci0 = 0; ci0 < g->cin; ci0 += ci_block) {
        int64_t ci1 = ci0 + ci_block < g->cin ? ci0 + ci_block : g->cin;
        int64_t k0 = ci0 * k_per_ci, n_k = (ci1 - ci0) * k_per_ci;
        for (int64_t group0 = 0; group0 < cout;) {
            /* Blocks of this group: first channel and rows of each. */
            int64_t block_co[GROUP_BLOCKS];
            int block_mr[GROUP_BLOCKS], n_blocks = 0;
            int64_t co = group0;
            while (co < cout && n_blocks < GROUP_BLOCKS) {
                int mr = block_rows(cout - co);
                float *panel = panels + (int64_t)n_blocks * PASS_K * MAX_MR;
                for (int64_t k = 0; k < n_k; k++)
                    for (int i = 0; i < mr; i++)
                        panel[k * mr + i] = g->weight[(co + i) * g->k_total + k0 + k];
                block_co[n_blocks] = co, block_mr[n_blocks] = mr, n_blocks++;
                co += mr;
            }
            group0 = co;
            /* Dynamic chunks of 4 rows: a thread that loses its core to another
             * job on a shared machine does not hold up the pass's barrier.
             * Which thread computes a row never changes its bits. */
#pragma omp parallel for schedule(dynamic, 4)
            for (int64_t row_index = 0; row_index < n_rows; row_index++) {
                int64_t t = row_index / g->out_h, oy = row_index % g->out_h;
                tile_args a;
                a.frame = t, a.oy = oy, a.ci0 = ci0, a.ci1 = ci1, a.accumulate = ci0 > 0;
                float *out_row = g->y + (g->y_frame0 + t) * out_hw + oy * g->out_w;
                for (int64_t tile = 0; tile < n_col_tiles; tile++) {
                    tile_columns(g, tile * TILE_COLS, &a);
                    for (int b = 0; b < n_blocks; b++, a.n_prefetch = 0) { /* first block only */
                        int nb = b + 1 < n_blocks ? b + 1 : 0;
                        int64_t ntile = b + 1 < n_blocks ? tile : tile + 1;
                        a.y_next = ntile < n_col_tiles
                                       ? out_row + block_co[nb] * g->y_cstride + ntile * TILE_COLS
                                       : NULL;
                        a.y_next_rows = block_mr[nb];
                        tile_dispatch(block_mr[b], g, &a, panels + (int64_t)b * PASS_K * MAX_MR,
                                      g->bias ? g->bias + block_co[b] : NULL,
                                      out_row + block_co[b] * g->y_cstride + tile * TILE_COLS);
                    }
                }
            }
        }
    }
}

/* Even columns of each input row to its first half, odd ones to its second. */
__attribute__((target("avx512f"))) static void deinterleave_row(float *dst, const float *src,
                                                                int64_t w) {
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2,
                                          0);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    int64_t half = w / 2, x = 0;
    for (; x + 32 <= w; x += 32) {
        __m512 a = _mm512_loadu_ps(src + x), b = _mm512_loadu_ps(src + x + 16);
        _mm512_storeu_ps(dst + x / 2, _mm512_permutex2var_ps(a, even, b));
        _mm512_storeu_ps(dst + half + x / 2, _mm512_permutex2var_ps(a, odd, b));
    }
    for (; x < w; x += 2) {
        dst[x / 2] = src[x];
        dst[half + x / 2] = src[x + 1];
    }
}

void ctxpar_cpu_conv2d_stride2_direct(const float *x, int64_t x_cstride, float *y,
                                      int64_t y_cstride, const float *weight, const float *bias,
                                      int64_t cin, int64_t cout, int64_t h, int64_t w,
                                      int pad_begin, int64_t t_begin, int64_t t_end,
                                      float *scratch) {
    int64_t n_frames = t_end - t_begin;
    if (n_frames <= 0) return;
    float *panels = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    float *in = panels + PANEL_FLOATS;
    int64_t fstride = gathered_frame_stride(3, h, w);
    int64_t cstride = gathered_channel_stride(3, h, w, n_frames);
#pragma omp parallel for schedule(static)
    for (int64_t item = 0; item < cin * n_frames * h; item++) {
        int64_t ci = item / (n_frames * h), rest = item % (n_frames * h);
        int64_t j = rest / h, iy = rest % h;
        deinterleave_row(in + ci * cstride + j * fstride + iy * w,
                         x + ci * x_cstride + (t_begin + j) * h * w + iy * w, w);
    }
    conv_geom g = {in, cstride, fstride, cin, h, w, 1, 3, 3, 2, pad_begin, pad_begin,
                   h / 2, w / 2, n_frames, weight, cin * 9, bias, y, y_cstride, t_begin};
    conv_direct(&g, cout, panels);
}

void ctxpar_cpu_conv3d_causal_direct(const float *x, int64_t x_cstride, const float *halo,
                                     float *y, int64_t y_cstride, const float *weight,
                                     const float *bias, int64_t cin, int64_t cout, int kt, int kh,
                                     int kw, int64_t h, int64_t w, int64_t t_begin,
                                     int64_t t_end, float *scratch) {
    int64_t n_out = t_end - t_begin;
    if (n_out <= 0) return;
    int64_t hw = h * w, k_total = cin * kt * kh * kw;
    int64_t halo_frames = kt - 1, n_in = n_out + halo_frames;
    float *panels = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    float *in = panels + PANEL_FLOATS;
    int64_t fstride = gathered_frame_stride(kh, h, w);
    int64_t cstride = gathered_channel_stride(kh, h, w, n_in);

    /* Gather input frames [t_begin - (kt-1), t_end) before any output is
     * written (y may alias x); frames below 0 come from the halo. */
    int64_t first_in = t_begin - halo_frames;
#pragma omp parallel for schedule(static)
    for (int64_t item = 0; item < cin * n_in; item++) {
        int64_t ci = item / n_in, j = item % n_in, t = first_in + j;
        const float *src = t >= 0 ? x + ci * x_cstride + t * hw
                                  : halo + (ci * halo_frames + t + halo_frames) * hw;
        memcpy(in + ci * cstride + j * fstride, src, (size_t)hw * sizeof(float));
    }

    conv_geom g = {in, cstride, fstride, cin, h, w, kt, kh, kw, 1, (kh - 1) / 2, (kw - 1) / 2,
                   h, w, n_out, weight, k_total, bias, y, y_cstride, t_begin};
    conv_direct(&g, cout, panels);
}

#else /* not x86-64 with GCC/Clang: only the GEMM path exists */

int ctxpar_cpu_conv3d_have_avx512(void) { return 0; }
int ctxpar_cpu_conv3d_direct_supports(int kt, int kh, int kw) { return 0; }
int64_t ctxpar_cpu_conv3d_direct_scratch_floats(int64_t cin, int64_t cout, int kt, int kh, int kw,
                                                int64_t h, int64_t w, int64_t n_frames) {
    return ctxpar_cpu_conv3d_gemm_scratch_floats(cin, cout, kt, kh, kw, h, w, n_frames);
}
void ctxpar_cpu_conv3d_causal_direct(const float *x, int64_t x_cstride, const float *halo,
                                     float *y, int64_t y_cstride, const float *weight,
                                     const float *bias, int64_t cin, int64_t cout, int kt, int kh,
                                     int kw, int64_t h, int64_t w, int64_t t_begin,
                                     int64_t t_end, float *scratch) {
    ctxpar_cpu_conv3d_causal_gemm(x, x_cstride, halo, y, y_cstride, weight, bias, cin, cout, kt,
                                  kh, kw, h, w, t_begin, t_end, scratch);
}
int64_t ctxpar_cpu_conv2d_stride2_direct_scratch_floats(int64_t cin, int64_t h, int64_t w,
                                                        int64_t n_frames) {
    return 0;
}
void ctxpar_cpu_conv2d_stride2_direct(const float *x, int64_t x_cstride, float *y,
                                      int64_t y_cstride, const float *weight, const float *bias,
                                      int64_t cin, int64_t cout, int64_t h, int64_t w,
                                      int pad_begin, int64_t t_begin, int64_t t_end,
                                      float *scratch) {}
#endif
