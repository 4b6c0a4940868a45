/* Causal conv3d against a naive double-accumulation reference: odd spatial
 * sizes, kt 1 and 3, 3x3x3 and 1x1x1 kernels, channel counts that are not
 * multiples of the register tile or the reduction pass, a halo with arbitrary
 * content (a previous rank's frames, not a replicated frame 0),
 * chunked computation (forward, and last-to-first in place with y aliasing x)
 * equal to one call, and sentinels in the channel-stride gaps that must stay
 * untouched. Every path runs every shape it supports: the dispatch, the
 * im2col + sgemm path and, on AVX-512 CPUs, the Winograd path (whose
 * results must also be bit-identical at 1 and 2 threads, and within a few
 * float roundings of the reference on data scaled like a trained layer;
 * frames tall enough for several of its bands run in place too). */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/conv3d_internal.h"
#include "kernels/cpu/kernels_cpu.h"
#include "test_util.h"

/* Both implementations are checked: the public entry (which dispatches) and
 * the portable im2col + sgemm path, so the path this CPU does not take by
 * default stays tested. */
typedef void (*conv_fn)(const float *, int64_t, const float *, float *, int64_t, const float *,
                        const float *, int64_t, int64_t, int, int, int, int64_t, int64_t,
                        int64_t, int64_t, float *);
typedef int64_t (*scratch_fn)(int64_t, int64_t, int, int, int, int64_t, int64_t, int64_t);
static conv_fn conv3d = ctxpar_cpu_conv3d_causal;
static scratch_fn conv3d_scratch = ctxpar_cpu_conv3d_scratch_floats;
static const char *impl_name = "dispatch";

typedef struct conv_case {
    int64_t cin, cout;
    int kt, kh, kw;
    int64_t h, w, frames;
} conv_case;

static const float sentinel = 12345.0f;

/* y[co][t] = b + sum W x[t-(kt-1)+dt], frames < 0 from halo, zero spatial pad. */
static void reference_conv(double *ref, const float *x, int64_t x_cstride, const float *halo,
                           const float *weight, const float *bias, const conv_case *cc) {
    int64_t hw = cc->h * cc->w, halo_frames = cc->kt - 1;
    int py = (cc->kh - 1) / 2, px = (cc->kw - 1) / 2;
    for (int64_t co = 0; co < cc->cout; co++)
        for (int64_t t = 0; t < cc->frames; t++)
            for (int64_t oy = 0; oy < cc->h; oy++)
                for (int64_t ox = 0; ox < cc->w; ox++) {
                    double acc = bias[co];
                    for (int64_t ci = 0; ci < cc->cin; ci++)
                        for (int dt = 0; dt < cc->kt; dt++) {
                            int64_t tin = t - halo_frames + dt;
                            const float *frame =
                                tin >= 0 ? x + ci * x_cstride + tin * hw
                                         : halo + (ci * halo_frames + tin + halo_frames) * hw;
                            for (int ky = 0; ky < cc->kh; ky++)
                                for (int kx = 0; kx < cc->kw; kx++) {
                                    int64_t iy = oy + ky - py, ix = ox + kx - px;
                                    if (iy < 0 || iy >= cc->h || ix < 0 || ix >= cc->w) continue;
                                    double wv = weight[(((co * cc->cin + ci) * cc->kt + dt) *
                                                            cc->kh + ky) * cc->kw + kx];
                                    acc += wv * frame[iy * cc->w + ix];
                                }
                        }
                    ref[(co * cc->frames + t) * hw + oy * cc->w + ox] = acc;
                }
}

/* Copy the frames of a strided [C][frames][hw] buffer into a dense one. */
static void gather_dense(float *dense, const float *y, int64_t cstride, int64_t c, int64_t n) {
    for (int64_t ch = 0; ch < c; ch++) memcpy(dense + ch * n, y + ch * cstride, n * sizeof(float));
}

static void check_gaps(const char *what, const float *y, int64_t cstride, int64_t c, int64_t n) {
    int64_t bad = 0;
    for (int64_t ch = 0; ch < c; ch++)
        for (int64_t i = n; i < cstride; i++) bad += y[ch * cstride + i] != sentinel;
    if (bad) fprintf(stderr, "%s: %lld values written outside the frames\n", what, (long long)bad);
    ASSERT_EQ_INT(bad, 0);
}

/* Chunked results against the one-call result. The direct path computes each
 * output as one fixed-order sum, so it must match bit for bit. OpenBLAS picks
 * its edge micro-kernels by the GEMM's N, so on the sgemm path a different
 * chunking may round differently; anything beyond float rounding is a bug. */
static void expect_same(const char *what, const char *how, const float *one_call,
                        const float *chunked, int64_t n) {
    double max_err = 0.0;
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        double err = fabs((double)one_call[i] - chunked[i]);
        double tol = conv3d == ctxpar_cpu_conv3d_causal_gemm ? 1e-5 + 1e-5 * fabs(one_call[i]) : 0;
        if (!(err <= tol)) bad++;
        if (err > max_err) max_err = err;
    }
    if (bad) {
        fprintf(stderr, "%s: %s differ from one call in %lld values, max err %.3g\n", what, how,
                (long long)bad, max_err);
        test_failures++;
    }
}

static void run_case(const conv_case *cc, uint64_t seed) {
    char what[160];
    snprintf(what, sizeof what, "%s conv %lldx%lld k%dx%dx%d %lldx%lld T%lld",
             impl_name, (long long)cc->cin, (long long)cc->cout, cc->kt, cc->kh, cc->kw, (long long)cc->h,
             (long long)cc->w, (long long)cc->frames);
    int64_t hw = cc->h * cc->w, n = cc->frames * hw;
    int64_t cstride = n + 7; /* a gap between channels, filled with sentinels */
    int64_t halo_frames = cc->kt - 1;
    int64_t n_weight = cc->cout * cc->cin * cc->kt * cc->kh * cc->kw;
    float *x = malloc(sizeof(float) * cc->cin * cstride);
    float *halo = malloc(sizeof(float) * (cc->cin * halo_frames * hw + 1));
    float *weight = malloc(sizeof(float) * n_weight);
    float *bias = malloc(sizeof(float) * cc->cout);
    float *y = malloc(sizeof(float) * cc->cout * cstride);
    float *y_chunked = malloc(sizeof(float) * cc->cout * cstride);
    double *ref = malloc(sizeof(double) * cc->cout * n);
    float *dense = malloc(sizeof(float) * cc->cout * n);
    for (int64_t i = 0; i < cc->cin * cstride; i++) x[i] = sentinel;
    for (int64_t ch = 0; ch < cc->cin; ch++) test_fill(x + ch * cstride, n, seed * 100 + ch, 1.0f);
    test_fill(halo, cc->cin * halo_frames * hw, seed + 1, 2.0f); /* not a replicated frame */
    test_fill(weight, n_weight, seed + 2, 0.3f);
    test_fill(bias, cc->cout, seed + 3, 1.0f);
    reference_conv(ref, x, cstride, halo, weight, bias, cc);

    /* Scratch sized for the whole range, reused for smaller chunks. */
    int64_t n_scratch = conv3d_scratch(cc->cin, cc->cout, cc->kt, cc->kh, cc->kw,
                                                         cc->h, cc->w, cc->frames);
    float *scratch = malloc(sizeof(float) * n_scratch);
    const float *halo_arg = cc->kt > 1 ? halo : NULL;

    /* One call over [0, frames). */
    for (int64_t i = 0; i < cc->cout * cstride; i++) y[i] = sentinel;
    conv3d(x, cstride, halo_arg, y, cstride, weight, bias, cc->cin, cc->cout,
                             cc->kt, cc->kh, cc->kw, cc->h, cc->w, 0, cc->frames, scratch);
    gather_dense(dense, y, cstride, cc->cout, n);
    test_compare(what, dense, ref, cc->cout * n, 1e-4, 1e-4);
    check_gaps(what, y, cstride, cc->cout, n);

    /* The same call on one thread: no reduction may depend on the split. */
    if (conv3d != ctxpar_cpu_conv3d_causal_gemm) {
        int threads = omp_get_max_threads();
        omp_set_num_threads(threads > 1 ? 1 : 2);
        for (int64_t i = 0; i < cc->cout * cstride; i++) y_chunked[i] = sentinel;
        conv3d(x, cstride, halo_arg, y_chunked, cstride, weight, bias, cc->cin, cc->cout, cc->kt,
               cc->kh, cc->kw, cc->h, cc->w, 0, cc->frames, scratch);
        omp_set_num_threads(threads);
        expect_same(what, "another thread count", y, y_chunked, cc->cout * cstride);
    }

    /* Forward chunks of uneven sizes 2, 1, 3, ... must give the same bits. */
    for (int64_t i = 0; i < cc->cout * cstride; i++) y_chunked[i] = sentinel;
    int64_t sizes[] = {2, 1, 3};
    for (int64_t t = 0, k = 0; t < cc->frames; k++) {
        int64_t t_end = t + sizes[k % 3] < cc->frames ? t + sizes[k % 3] : cc->frames;
        conv3d(x, cstride, halo_arg, y_chunked, cstride, weight, bias, cc->cin,
                                 cc->cout, cc->kt, cc->kh, cc->kw, cc->h, cc->w, t, t_end,
                                 scratch);
        t = t_end;
    }
    expect_same(what, "forward chunks", y, y_chunked, cc->cout * cstride);

    /* In place, last chunk first: y aliases x. */
    if (cc->cin == cc->cout) {
        float *xy = malloc(sizeof(float) * cc->cin * cstride);
        memcpy(xy, x, sizeof(float) * cc->cin * cstride);
        int64_t chunk = 2;
        for (int64_t t_end = cc->frames; t_end > 0; t_end -= chunk) {
            int64_t t_begin = t_end - chunk > 0 ? t_end - chunk : 0;
            conv3d(xy, cstride, halo_arg, xy, cstride, weight, bias, cc->cin,
                                     cc->cout, cc->kt, cc->kh, cc->kw, cc->h, cc->w, t_begin,
                                     t_end, scratch);
        }
        expect_same(what, "in-place last-to-first chunks", y, xy, cc->cout * cstride);
        free(xy);
    }
    free(x), free(halo), free(weight), free(bias), free(y), free(y_chunked), free(ref);
    free(dense), free(scratch);
}

/* The fused conv (Winograd, either tile): input silu(x*scale + shift) with
 * a scale and shift per frame (halo frames included) and channel, plus a
 * residual on the output, against the reference conv of the activated input
 * plus the residual; chunked forward and in place last-first must give the
 * one call's bits. */
static void run_fused_case(const conv_case *cc, int tile, uint64_t seed) {
    char what[160];
    snprintf(what, sizeof what, "fused winograd-f%d conv %lldx%lld k%d %lldx%lld T%lld", tile,
             (long long)cc->cin, (long long)cc->cout, cc->kt, (long long)cc->h, (long long)cc->w,
             (long long)cc->frames);
    int64_t hw = cc->h * cc->w, n = cc->frames * hw, cstride = n + 5, halo_frames = cc->kt - 1;
    int64_t n_weight = cc->cout * cc->cin * cc->kt * 9, n_affine = (halo_frames + cc->frames) * cc->cin;
    float *x = malloc(sizeof(float) * cc->cin * cstride), *xa = malloc(sizeof(float) * cc->cin * cstride);
    float *halo = malloc(sizeof(float) * (cc->cin * halo_frames * hw + 1));
    float *haloa = malloc(sizeof(float) * (cc->cin * halo_frames * hw + 1));
    float *scale = malloc(sizeof(float) * n_affine), *shift = malloc(sizeof(float) * n_affine);
    float *weight = malloc(sizeof(float) * n_weight), *bias = malloc(sizeof(float) * cc->cout);
    float *res = malloc(sizeof(float) * cc->cout * cstride);
    float *y = malloc(sizeof(float) * cc->cout * cstride), *y2 = malloc(sizeof(float) * cc->cout * cstride);
    double *ref = malloc(sizeof(double) * cc->cout * n);
    float *dense = malloc(sizeof(float) * cc->cout * n);
    test_fill(x, cc->cin * cstride, seed, 2.0f);
    test_fill(halo, cc->cin * halo_frames * hw, seed + 1, 2.0f);
    test_fill(weight, n_weight, seed + 2, 0.3f);
    test_fill(bias, cc->cout, seed + 3, 1.0f);
    test_fill(res, cc->cout * cstride, seed + 4, 1.0f);
    test_fill(shift, n_affine, seed + 5, 0.5f);
    test_fill(scale, n_affine, seed + 6, 0.5f);
    for (int64_t i = 0; i < n_affine; i++) scale[i] += 1.0f; /* [0.5, 1.5) */
    for (int64_t ci = 0; ci < cc->cin; ci++)
        for (int64_t t = -halo_frames; t < cc->frames; t++) {
            double sc = scale[(t + halo_frames) * cc->cin + ci];
            double sh = shift[(t + halo_frames) * cc->cin + ci];
            const float *src = t >= 0 ? x + ci * cstride + t * hw
                                      : halo + (ci * halo_frames + t + halo_frames) * hw;
            float *dst = t >= 0 ? xa + ci * cstride + t * hw
                                : haloa + (ci * halo_frames + t + halo_frames) * hw;
            for (int64_t i = 0; i < hw; i++) {
                double v = src[i] * sc + sh;
                dst[i] = (float)(v / (1.0 + exp(-v)));
            }
        }
    reference_conv(ref, xa, cstride, haloa, weight, bias, cc);
    for (int64_t co = 0; co < cc->cout; co++)
        for (int64_t i = 0; i < n; i++) ref[co * n + i] += res[co * cstride + i];
    const ctxpar_conv3d_fusion fuse = {scale, shift, res, cstride, (int64_t)seed % 2};
    int64_t n_scratch = (tile == 4 ? ctxpar_cpu_conv3d_winograd_f4_scratch_floats
                                   : ctxpar_cpu_conv3d_winograd_f2_scratch_floats)(
        cc->cin, cc->cout, cc->kt, 3, 3, cc->h, cc->w, cc->frames);
    float *scratch = malloc(sizeof(float) * n_scratch);
    const float *halo_arg = cc->kt > 1 ? halo : NULL;

    ctxpar_cpu_conv3d_causal_winograd_fused(tile, x, cstride, halo_arg, y, cstride, weight, bias,
                                            cc->cin, cc->cout, cc->kt, cc->h, cc->w, 0, cc->frames,
                                            &fuse, scratch);
    gather_dense(dense, y, cstride, cc->cout, n);
    test_compare(what, dense, ref, cc->cout * n, 1e-4, 1e-4);

    int64_t sizes[] = {2, 1, 3};
    for (int64_t t = 0, k = 0; t < cc->frames; k++) {
        int64_t t_end = t + sizes[k % 3] < cc->frames ? t + sizes[k % 3] : cc->frames;
        ctxpar_cpu_conv3d_causal_winograd_fused(tile, x, cstride, halo_arg, y2, cstride, weight,
                                                bias, cc->cin, cc->cout, cc->kt, cc->h, cc->w, t,
                                                t_end, &fuse, scratch);
        t = t_end;
    }
    for (int64_t co = 0; co < cc->cout; co++)
        expect_same(what, "forward chunks", y + co * cstride, y2 + co * cstride, n);
    if (cc->cin == cc->cout) {
        memcpy(y2, x, sizeof(float) * cc->cin * cstride);
        for (int64_t t_end = cc->frames; t_end > 0; t_end -= 2) {
            int64_t t_begin = t_end - 2 > 0 ? t_end - 2 : 0;
            ctxpar_cpu_conv3d_causal_winograd_fused(tile, y2, cstride, halo_arg, y2, cstride,
                                                    weight, bias, cc->cin, cc->cout, cc->kt,
                                                    cc->h, cc->w, t_begin, t_end, &fuse, scratch);
        }
        for (int64_t co = 0; co < cc->cout; co++)
            expect_same(what, "in-place last-to-first chunks", y + co * cstride,
                        y2 + co * cstride, n);
    }
    free(x), free(xa), free(halo), free(haloa), free(scale), free(shift), free(weight);
    free(bias), free(res), free(y), free(y2), free(ref), free(dense), free(scratch);
}

/* Error of the Winograd path on data scaled like a trained layer (weights
 * ~1/sqrt(fan_in), activations O(1)): max |err| / max |ref| against the
 * double reference, next to the direct path's on the same data. */
static void winograd_accuracy(const conv_case *cc, uint64_t seed) {
    int64_t hw = cc->h * cc->w, n = cc->frames * hw;
    int64_t n_weight = cc->cout * cc->cin * 27;
    float *x = malloc(sizeof(float) * cc->cin * n), *halo = malloc(sizeof(float) * cc->cin * 2 * hw);
    float *weight = malloc(sizeof(float) * n_weight), *bias = malloc(sizeof(float) * cc->cout);
    float *y = malloc(sizeof(float) * cc->cout * n);
    double *ref = malloc(sizeof(double) * cc->cout * n);
    test_fill(x, cc->cin * n, seed, 1.0f);
    test_fill(halo, cc->cin * 2 * hw, seed + 1, 1.0f);
    /* uniform [-a, a) with a = sqrt(3/fan_in): standard deviation 1/sqrt(fan_in) */
    test_fill(weight, n_weight, seed + 2, (float)sqrt(3.0 / (cc->cin * 27)));
    test_fill(bias, cc->cout, seed + 3, 0.1f);
    reference_conv(ref, x, n, halo, weight, bias, cc);
    double max_ref = 0;
    for (int64_t i = 0; i < cc->cout * n; i++) max_ref = fmax(max_ref, fabs(ref[i]));
    const char *names[3] = {"winograd-f2", "winograd-f4", "direct"};
    conv_fn fns[3] = {ctxpar_cpu_conv3d_causal_winograd_f2, ctxpar_cpu_conv3d_causal_winograd_f4,
                      ctxpar_cpu_conv3d_causal_direct};
    scratch_fn sizes[3] = {ctxpar_cpu_conv3d_winograd_f2_scratch_floats,
                           ctxpar_cpu_conv3d_winograd_f4_scratch_floats,
                           ctxpar_cpu_conv3d_direct_scratch_floats};
    /* Measured: F(2x2) 5-7e-7, F(4x4) (points 0, 1, -1, 2, -1/2) 4.5-5.3e-6,
     * direct 1.4-1.9e-6 (its one long accumulator per output sums 27*cin
     * terms; Winograd's are 3*cin long). A wrong transform coefficient or a
     * lost tap is >1e-3; F(4x4) with the points 0, +-1, +-2 measured 2e-5
     * in a float32 model of the same sums. */
    const double bound[3] = {2e-6, 1e-5, 1.0};
    for (int f = 0; f < 3; f++) {
        int64_t n_scratch = sizes[f](cc->cin, cc->cout, 3, 3, 3, cc->h, cc->w, cc->frames);
        float *scratch = malloc(sizeof(float) * n_scratch);
        fns[f](x, n, halo, y, n, weight, bias, cc->cin, cc->cout, 3, 3, 3, cc->h, cc->w, 0,
               cc->frames, scratch);
        double max_err = 0;
        for (int64_t i = 0; i < cc->cout * n; i++) max_err = fmax(max_err, fabs(y[i] - ref[i]));
        printf("test_conv3d: %s %lldx%lld %lldx%lld: max |err| / max |ref| = %.3g (max |ref| "
               "%.3g)\n",
               names[f], (long long)cc->cin, (long long)cc->cout, (long long)cc->h,
               (long long)cc->w, max_err / max_ref, max_ref);
        ASSERT_TRUE(max_err / max_ref < bound[f]);
        free(scratch);
    }
    free(x), free(halo), free(weight), free(bias), free(y), free(ref);
}

int main(void) {
    const conv_case cases[] = {
        {3, 5, 3, 3, 3, 7, 5, 6},  /* conv_in-like, odd sizes */
        {4, 4, 3, 3, 3, 7, 5, 7},  /* square: in-place chunks */
        {6, 4, 1, 1, 1, 7, 5, 5},  /* 1x1x1, no halo */
        {5, 5, 1, 3, 3, 6, 9, 4},  /* kt 1 with a spatial kernel */
        {4, 4, 3, 1, 1, 3, 4, 5},  /* temporal only */
        {8, 16, 3, 3, 3, 16, 12, 3},
        {5, 13, 3, 3, 3, 4, 40, 3},  /* two column tiles, the second partial; 12+1 rows */
        {20, 20, 3, 3, 3, 3, 33, 4}, /* 12+8 output-channel blocks, in place */
        /* Direct path structure: 40 input channels are two reduction passes
         * (32 + 8; the second adds onto y), 77 outputs are two groups of
         * blocks (6x12, then 4 + 1), 37 columns two tiles. */
        {40, 77, 3, 3, 3, 5, 37, 4},
        {40, 40, 3, 3, 3, 6, 35, 5},  /* two passes, in place */
        {100, 13, 1, 3, 3, 4, 19, 3}, /* kt 1: 96 channels per pass, then 4 */
        {870, 5, 1, 1, 1, 3, 4, 3},   /* 1x1x1: 864 channels per pass, then 6 */
        {2, 3, 1, 1, 17, 3, 20, 2},   /* kw 17: beyond the direct tables, GEMM path */
        /* Winograd structure: odd and even sizes that are not multiples of
         * the 2x2 tile, one chunk of several tile rows (w 17: 9 tiles per
         * row, 14 rows per chunk), several chunks with a short last one
         * (w 260: 130 tiles, one row per chunk, 128 + 2 columns), channel
         * counts that are not multiples of 16 or of the 12/8/4 blocks. */
        {17, 29, 3, 3, 3, 9, 17, 4},
        {19, 19, 3, 3, 3, 8, 10, 5},  /* even sizes, in place */
        {13, 10, 3, 3, 3, 5, 260, 3},
        /* Several bands, in place: each band's top input row is the band
         * above's last output row (w 20: bands of 2 chunks of 12 tile rows,
         * then 1; w 260: bands of 16, 16 and 3 one-row chunks; kt 1). */
        {16, 16, 3, 3, 3, 70, 20, 3},
        {16, 16, 3, 3, 3, 69, 260, 3},
        {12, 12, 1, 3, 3, 40, 259, 2},
        {70, 70, 3, 3, 3, 33, 31, 3}, /* above the dispatch threshold on both sides */
        /* 9 chunks of one tile row, 2 batches of GEMMs (7 + 2) */
        {8, 130, 3, 3, 3, 18, 250, 2},
        /* F(4x4): 25 tile rows per chunk (w 20: 5 tiles), a band per chunk,
         * three bands, the last 3 tile rows with one row past the frame */
        {8, 8, 3, 3, 3, 210, 20, 2},
        {9, 9, 2, 3, 3, 37, 43, 3}, /* kt 2, in place, sides 1 and 3 past a tile */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i], 10 + i);
    printf("test_conv3d: dispatch uses the %s path\n",
           ctxpar_cpu_conv3d_have_avx512() ? "AVX-512 direct" : "im2col + sgemm");
    conv3d = ctxpar_cpu_conv3d_causal_gemm;
    conv3d_scratch = ctxpar_cpu_conv3d_gemm_scratch_floats;
    impl_name = "gemm";
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i], 10 + i);
    if (ctxpar_cpu_conv3d_have_avx512()) {
        /* Each tile directly, then the automatic tile through the public
         * entry with Winograd forced. */
        const conv_fn wino_fns[3] = {ctxpar_cpu_conv3d_causal_winograd_f2,
                                     ctxpar_cpu_conv3d_causal_winograd_f4,
                                     ctxpar_cpu_conv3d_causal};
        const scratch_fn wino_sizes[3] = {ctxpar_cpu_conv3d_winograd_f2_scratch_floats,
                                          ctxpar_cpu_conv3d_winograd_f4_scratch_floats,
                                          ctxpar_cpu_conv3d_scratch_floats};
        const char *wino_names[3] = {"winograd-f2", "winograd-f4", "winograd"};
        for (int v = 0; v < 3; v++) {
            conv3d = wino_fns[v];
            conv3d_scratch = wino_sizes[v];
            impl_name = wino_names[v];
            ASSERT_EQ_INT(ctxpar_cpu_conv3d_force_path(v == 2 ? "winograd" : NULL), 0);
            int n_winograd = 0;
            for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                const conv_case *cc = &cases[i];
                if (!ctxpar_cpu_conv3d_winograd_supports(cc->cin, cc->cout, cc->kt, cc->kh,
                                                         cc->kw, cc->h, cc->w))
                    continue;
                run_case(cc, 10 + i);
                n_winograd++;
            }
            ASSERT_TRUE(n_winograd >= 10);
        }
        ASSERT_EQ_INT(ctxpar_cpu_conv3d_force_path(NULL), 0);
        /* The automatic tile: F(4x4) for many tiles and moderate weights,
         * F(2x2) for small frames and for 512x512 channels. */
        ASSERT_EQ_INT(ctxpar_cpu_conv3d_winograd_tile(128, 128, 3, 256, 256), 4);
        ASSERT_EQ_INT(ctxpar_cpu_conv3d_winograd_tile(128, 128, 3, 16, 16), 2);
        /* The hook: forced Winograd through the public entry, then direct. */
        const conv_case above_threshold = {70, 70, 3, 3, 3, 33, 31, 3};
        conv3d = ctxpar_cpu_conv3d_causal;
        conv3d_scratch = ctxpar_cpu_conv3d_scratch_floats;
        const char *paths[4] = {"winograd", "winograd-f2", "winograd-f4", "direct"};
        for (int f = 0; f < 4; f++) {
            ASSERT_EQ_INT(ctxpar_cpu_conv3d_force_path(paths[f]), 0);
            impl_name = paths[f];
            run_case(&above_threshold, 99);
        }
        ASSERT_TRUE(!strcmp(ctxpar_cpu_conv3d_path_name(70, 70, 3, 3, 3, 33, 31), "direct"));
        ASSERT_EQ_INT(ctxpar_cpu_conv3d_force_path("winograd-f4"), 0);
        ASSERT_TRUE(!strcmp(ctxpar_cpu_conv3d_path_name(70, 70, 3, 3, 3, 33, 31), "winograd-f4"));
        ASSERT_EQ_INT(ctxpar_cpu_conv3d_force_path("bogus"), -1);
        ASSERT_EQ_INT(ctxpar_cpu_conv3d_force_path(NULL), 0);
        /* Fused input norm + SiLU and residual, both tiles: several bands
         * in place (the saved boundary row is activated when read), odd
         * sizes, kt 2, and channel counts off the 12/8/4 blocks. */
        const conv_case fused_cases[] = {{16, 16, 3, 3, 3, 69, 260, 3},
                                         {8, 8, 3, 3, 3, 210, 20, 2},
                                         {13, 29, 3, 3, 3, 17, 19, 4},
                                         {9, 9, 2, 3, 3, 37, 43, 3}};
        for (int tile = 2; tile <= 4; tile += 2)
            for (size_t i = 0; i < sizeof fused_cases / sizeof fused_cases[0]; i++)
                run_fused_case(&fused_cases[i], tile, 70 + i);
        ASSERT_TRUE(ctxpar_cpu_conv3d_fuses(128, 128, 3, 3, 3, 64, 64));
        ASSERT_TRUE(!ctxpar_cpu_conv3d_fuses(3, 128, 3, 3, 3, 64, 64)); /* conv_in: direct */
        const conv_case realistic[] = {{128, 128, 3, 3, 3, 32, 32, 3}, {64, 96, 3, 3, 3, 23, 18, 3}};
        for (int i = 0; i < 2; i++) winograd_accuracy(&realistic[i], 50 + i);
    }
    return test_finish("test_conv3d");
}
