/* The VAE convolutions on the bf16 GEMM (kernels/cpu/conv_bf16.h) against a
 * float64 reference written here over the same bf16-rounded inputs and
 * weights, within float32 accumulation's bound (K+1) * 2^-23 * sum |w x|:
 * causal 3x3x3 with a halo, the stride-2 downsample in both padding modes,
 * 1x1, partial pixel blocks, channel counts whose taps are read in place
 * (cin a multiple of 32) and ones gathered into A blocks. Then the
 * properties the runtime relies on: a conv split into chunks of frames, a
 * conv in place (y == x), 1 and 5 threads, and A gathered where it could
 * be read in place, all give the same bits as one call out of place. Runs
 * on every GEMM path this CPU has (the others print "skipped"), and on the
 * AMX micro-kernel's body over a model of the tiles
 * (amx_tile_model.h), so the conv's tiling of the AMX path is held on
 * every machine: within the same bound, its taps in place and gathered
 * the same bits. A GroupNorm + SiLU and a residual folded into the conv
 * give the bits of the passes run apart. Weights packed from a checkpoint's
 * bf16 values give the bits of packing them widened to float32. On a
 * VDPBF16PS core, the causal 3x3x3 convs' bf16 Winograd (check_winograd). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/conv3d_internal.h"
#include "kernels/cpu/conv_bf16.h"
#include "kernels/cpu/conv_bf16_internal.h"
#include "kernels/cpu/kernels_cpu.h"
#include "test_util.h"

#include "amx_tile_model.h"

static float on_grid(float v) { return ctxpar_bf16_to_f32(ctxpar_bf16_from_f32(v)); }

static float *grid(int64_t count, uint64_t seed, float scale) {
    float *v = malloc(sizeof(float) * (size_t)(count > 0 ? count : 1));
    for (int64_t i = 0; i < count; i++) v[i] = on_grid(scale * test_uniform(seed, (uint64_t)i));
    return v;
}

typedef struct conv_case {
    ctxpar_conv_bf16_shape s;
    int64_t frames;
} conv_case;

/* A micro-kernel to run the conv on (micro NULL: ctxpar_cpu_conv_bf16's own). */
typedef struct conv_path {
    ctxpar_gemm_bf16_micro micro;
    int mr, gather;
} conv_path;

/* y [cout][frames][ho][wo] through the kernel, in chunks of `chunk` frames
 * (last chunk first, as the runtime calls it), in place when asked. */
static float *run_fused(const conv_case *c, const float *x, const float *halo,
                        const ctxpar_bf16 *w, const float *bias, int64_t chunk, int in_place,
                        const conv_path *path, const ctxpar_conv3d_fusion *fuse) {
    const ctxpar_conv_bf16_shape *s = &c->s;
    const int64_t in_floats = s->cin * c->frames * s->h * s->w;
    const int64_t out_floats = s->cout * c->frames * s->ho * s->wo;
    float *buf = malloc(sizeof(float) * (size_t)(in_floats > out_floats ? in_floats : out_floats));
    float *scratch = malloc(sizeof(float) * (size_t)ctxpar_cpu_conv_bf16_scratch_floats(s, in_place));
    memcpy(buf, x, sizeof(float) * (size_t)in_floats);
    float *y = in_place ? buf : malloc(sizeof(float) * (size_t)out_floats);
    for (int64_t t_end = c->frames; t_end > 0; t_end -= chunk) {
        const int64_t t_begin = t_end - chunk > 0 ? t_end - chunk : 0;
        if (path)
            ctxpar_conv_bf16_with(path->micro, path->mr, path->gather, buf,
                                  c->frames * s->h * s->w, halo, y, c->frames * s->ho * s->wo, w,
                                  bias, s, t_begin, t_end, fuse, scratch);
        else
            ctxpar_cpu_conv_bf16(buf, c->frames * s->h * s->w, halo, y,
                                 c->frames * s->ho * s->wo, w, bias, s, t_begin, t_end, in_place,
                                 fuse, scratch);
    }
    if (!in_place) free(buf);
    free(scratch);
    return y;
}

static float *run(const conv_case *c, const float *x, const float *halo, const ctxpar_bf16 *w,
                  const float *bias, int64_t chunk, int in_place, const conv_path *path) {
    return run_fused(c, x, halo, w, bias, chunk, in_place, path, NULL);
}

/* A GroupNorm + SiLU and a residual folded into the conv give the bits of
 * the passes run apart: the norm applied to x and the halo frame by frame
 * (ctxpar_cpu_scale_shift_silu, as ctxpar_cpu_group_norm_apply), the conv,
 * then the residual added. Chunked and in place too. */
static void check_fused(const conv_case *c, const float *x, const float *halo,
                        const ctxpar_bf16 *w, const float *bias) {
    const ctxpar_conv_bf16_shape *s = &c->s;
    const int64_t halo_n = s->kt - 1, hw = s->h * s->w, ohw = s->ho * s->wo;
    const int64_t n_out = s->cout * c->frames * ohw;
    float *scale = grid((halo_n + c->frames) * s->cin, 45, 1.5f);
    float *shift = grid((halo_n + c->frames) * s->cin, 46, 0.5f);
    float *residual = grid(n_out, 47, 1.0f);
    float *xn = malloc(sizeof(float) * (size_t)(s->cin * c->frames * hw + 1));
    float *halon = malloc(sizeof(float) * (size_t)(s->cin * halo_n * hw + 1));
    for (int64_t ci = 0; ci < s->cin; ci++)
        for (int64_t t = -halo_n; t < c->frames; t++) {
            const int64_t at = (t + halo_n) * s->cin + ci;
            const float *src = t >= 0 ? x + (ci * c->frames + t) * hw
                                      : halo + (ci * halo_n + t + halo_n) * hw;
            float *dst = t >= 0 ? xn + (ci * c->frames + t) * hw
                                : halon + (ci * halo_n + t + halo_n) * hw;
            ctxpar_cpu_scale_shift_silu(dst, src, hw, scale[at], shift[at]);
        }
    float *apart = run(c, xn, halon, w, bias, c->frames, 0, NULL);
    for (int64_t i = 0; i < n_out; i++) apart[i] += residual[i];
    const ctxpar_conv3d_fusion fuse = {.in_scale = scale,
                                       .in_shift = shift,
                                       .residual = residual,
                                       .residual_cstride = c->frames * ohw};
    const int in_place = s->cin == s->cout && s->stride == 1 && s->ho == s->h && s->wo == s->w;
    float *fused = run_fused(c, x, halo, w, bias, 1, in_place, NULL, &fuse);
    ASSERT_EQ_INT(memcmp(fused, apart, sizeof(float) * (size_t)n_out), 0);
    free(scale), free(shift), free(residual), free(xn), free(halon), free(apart), free(fused);
}

/* The float64 reference: each output's sum and the sum of its products'
 * magnitudes (the bound's scale), [cout][frames][ho][wo]. */
static void reference(const conv_case *c, const float *x, const float *halo, const float *wf,
                      const float *bias, double *sum_out, double *mag_out) {
    const ctxpar_conv_bf16_shape *s = &c->s;
    const int64_t halo_n = s->kt - 1, hw = s->h * s->w;
    int64_t o = 0;
    for (int64_t co = 0; co < s->cout; co++)
        for (int64_t t = 0; t < c->frames; t++)
            for (int64_t oy = 0; oy < s->ho; oy++)
                for (int64_t ox = 0; ox < s->wo; ox++, o++) {
                    double sum = bias[co], mag = fabs(sum);
                    for (int dt = 0; dt < s->kt; dt++)
                        for (int64_t ci = 0; ci < s->cin; ci++)
                            for (int dy = 0; dy < s->kh; dy++)
                                for (int dx = 0; dx < s->kw; dx++) {
                                    const int64_t tin = t + dt - halo_n;
                                    const int64_t iy = oy * s->stride + dy - s->pad_top;
                                    const int64_t ix = ox * s->stride + dx - s->pad_left;
                                    if (iy < 0 || iy >= s->h || ix < 0 || ix >= s->w) continue;
                                    const double in =
                                        tin >= 0 ? x[(ci * c->frames + tin) * hw + iy * s->w + ix]
                                                 : halo[(ci * halo_n + tin + halo_n) * hw +
                                                        iy * s->w + ix];
                                    const double p =
                                        in * wf[(((co * s->cin + ci) * s->kt + dt) * s->kh + dy) *
                                                    s->kw + dx];
                                    sum += p, mag += fabs(p);
                                }
                    sum_out[o] = sum, mag_out[o] = mag;
                }
}

/* Outputs of y outside float32 accumulation's bound, the first few printed. */
static int64_t outside_bound(const conv_case *c, const float *y, const double *sum,
                             const double *mag, const char *what) {
    const ctxpar_conv_bf16_shape *s = &c->s;
    const int64_t k = (int64_t)s->kt * s->cin * s->kh * s->kw;
    const int64_t n = s->cout * c->frames * s->ho * s->wo;
    int64_t bad = 0;
    for (int64_t o = 0; o < n; o++)
        if (!(fabs(y[o] - sum[o]) <= (double)(k + 1) * ldexp(1.0, -23) * mag[o] + 1e-30) &&
            bad++ < 3)
            fprintf(stderr, "  %s: output %lld: got %.9g want %.9g\n", what, (long long)o, y[o],
                    sum[o]);
    return bad;
}

/* What the runtime relies on, bit for bit against y (one call, out of
 * place, ctxpar_cpu_conv_bf16's own path): chunks of one frame, 1 and 5
 * threads, and in place where the shape allows it. */
static void check_same_bits(const conv_case *c, const float *x, const float *halo,
                            const ctxpar_bf16 *w, const float *bias, const float *y) {
    const ctxpar_conv_bf16_shape *s = &c->s;
    const size_t out_bytes = sizeof(float) * (size_t)(s->cout * c->frames * s->ho * s->wo);
    if (c->frames > 1) { /* chunks of one frame */
        float *chunked = run(c, x, halo, w, bias, 1, 0, NULL);
        ASSERT_EQ_INT(memcmp(chunked, y, out_bytes), 0);
        free(chunked);
    }
    { /* the thread count */
        const int threads = omp_get_max_threads();
        omp_set_num_threads(1);
        float *one = run(c, x, halo, w, bias, c->frames, 0, NULL);
        omp_set_num_threads(5);
        float *five = run(c, x, halo, w, bias, c->frames, 0, NULL);
        omp_set_num_threads(threads);
        ASSERT_EQ_INT(memcmp(one, y, out_bytes), 0);
        ASSERT_EQ_INT(memcmp(five, y, out_bytes), 0);
        free(one), free(five);
    }
    if (s->cin == s->cout && s->stride == 1 && s->ho == s->h && s->wo == s->w) {
        float *in_place = run(c, x, halo, w, bias, c->frames > 2 ? 2 : 1, 1, NULL);
        ASSERT_EQ_INT(memcmp(in_place, y, out_bytes), 0);
        free(in_place);
    }
}

static void check(const conv_case *c, int with_model) {
    const ctxpar_conv_bf16_shape *s = &c->s;
    const int64_t halo_n = s->kt - 1, hw = s->h * s->w, ohw = s->ho * s->wo;
    const int64_t k = (int64_t)s->kt * s->cin * s->kh * s->kw;
    const int64_t n_out = s->cout * c->frames * ohw;
    float *x = grid(s->cin * c->frames * hw, 41, 1.0f);
    float *halo = grid(s->cin * halo_n * hw, 42, 1.0f);
    float *wf = grid(s->cout * k, 43, 0.5f), *bias = grid(s->cout, 44, 0.3f);
    double *sum = malloc(sizeof(double) * (size_t)n_out), *mag = malloc(sizeof(double) * (size_t)n_out);
    ctxpar_bf16 *w = malloc(sizeof(ctxpar_bf16) *
                            (size_t)ctxpar_cpu_conv_bf16_weight_values(s->cin, s->cout, s->kt,
                                                                       s->kh, s->kw));
    ctxpar_cpu_conv_bf16_pack_weight(w, wf, s->cin, s->cout, s->kt, s->kh, s->kw);
    reference(c, x, halo, wf, bias, sum, mag);
    float *y = run(c, x, halo, w, bias, c->frames, 0, NULL);
    ASSERT_EQ_INT(outside_bound(c, y, sum, mag, "this CPU's path"), 0);
    const size_t out_bytes = sizeof(float) * (size_t)n_out;
    check_same_bits(c, x, halo, w, bias, y);
    { /* A gathered where the taps could be read in place: the same bits */
        conv_path gathered = {NULL, 0, 1};
        ctxpar_gemm_bf16_current_micro(&gathered.micro, &gathered.mr);
        float *g = run(c, x, halo, w, bias, c->frames, 0, &gathered);
        ASSERT_EQ_INT(memcmp(g, y, out_bytes), 0);
        free(g);
    }
    if (with_model) { /* the AMX tiling on the tile model: within the bound, and
                       * in place or gathered the same bits (also chunked, in place) */
        const conv_path direct = {micro_model, GEMM_AMX_MR, 0}, gathered = {micro_model, GEMM_AMX_MR, 1};
        float *a = run(c, x, halo, w, bias, c->frames, 0, &direct);
        float *g = run(c, x, halo, w, bias, 1, s->cin == s->cout && s->stride == 1 &&
                                               s->ho == s->h && s->wo == s->w, &gathered);
        ASSERT_EQ_INT(outside_bound(c, a, sum, mag, "AMX tile model"), 0);
        ASSERT_EQ_INT(memcmp(a, g, out_bytes), 0);
        free(a), free(g);
    }
    if (s->kt == 3) check_fused(c, x, halo, w, bias);
    free(x), free(halo), free(wf), free(bias), free(w), free(y), free(sum), free(mag);
}

/* --dtype bf16's causal 3x3x3 convs on a VDPBF16PS core: the bf16 Winograd
 * (ctxpar_cpu_conv3d_causal_winograd_bf16) through ctxpar_cpu_conv_bf16's
 * own dispatch. Its transformed inputs and weights are rounded to bf16, so
 * it is held to a Winograd bound rather than float32 accumulation's: each
 * output within WINOGRAD_TOL[tile] * 2^-8 * sum |w x| of the float64 conv
 * (the transforms' entries reach 2.5 (B), 16/15 (G) and 8 (A) in F(4x4);
 * the measured worst ratios are printed). A wrong tap, channel pair or
 * panel gives errors of the outputs' own size, far outside it; an error at
 * float32's level would mean the Winograd did not run. Then the properties
 * the runtime relies on, bit for bit: chunks of one frame, 1 and 5
 * threads, in place, the fused norm and residual, and a rank's share of
 * frames (x from frame `skip` on, the halo before it, first_frame = skip)
 * giving the same frames as the whole run. */
static const double WINOGRAD_TOL[5] = {0, 0, 2.0, 0, 16.0};

static void check_winograd(const conv_case *c) {
    const ctxpar_conv_bf16_shape *s = &c->s;
    const int64_t hw = s->h * s->w, n_out = s->cout * c->frames * hw;
    const int64_t k = (int64_t)s->kt * s->cin * s->kh * s->kw;
    const int f = ctxpar_cpu_conv3d_winograd_tile(s->cin, s->cout, 3, s->h, s->w);
    float *x = grid(s->cin * c->frames * hw, 51, 1.0f);
    float *halo = grid(s->cin * 2 * hw, 52, 1.0f);
    float *wf = grid(s->cout * k, 53, 0.5f), *bias = grid(s->cout, 54, 0.3f);
    double *sum = malloc(sizeof(double) * (size_t)n_out), *mag = malloc(sizeof(double) * (size_t)n_out);
    ctxpar_bf16 *w = malloc(sizeof(ctxpar_bf16) *
                            (size_t)ctxpar_cpu_conv_bf16_weight_values(s->cin, s->cout, 3, 3, 3));
    ctxpar_cpu_conv_bf16_pack_weight(w, wf, s->cin, s->cout, 3, 3, 3);
    reference(c, x, halo, wf, bias, sum, mag);
    const size_t out_bytes = sizeof(float) * (size_t)n_out;

    float *y = run(c, x, halo, w, bias, c->frames, 0, NULL);
    double worst = 0.0;
    int64_t bad = 0;
    for (int64_t o = 0; o < n_out; o++) {
        const double ratio = fabs(y[o] - sum[o]) / (ldexp(1.0, -8) * mag[o] + 1e-30);
        if (!(ratio <= WINOGRAD_TOL[f]) && bad++ < 3)
            fprintf(stderr, "  winograd F(%d): output %lld: got %.9g want %.9g\n", f,
                    (long long)o, y[o], sum[o]);
        if (ratio > worst) worst = ratio;
    }
    printf("  winograd F(%dx%d) %lldx%lld cin %lld cout %lld: worst |err| = %.3g * 2^-8 sum|w x| "
           "(bound %g)\n", f, f, (long long)s->h, (long long)s->w, (long long)s->cin,
           (long long)s->cout, worst, WINOGRAD_TOL[f]);
    ASSERT_EQ_INT(bad, 0);
    ASSERT_TRUE(worst > 0.01); /* not float32's error: the bf16 Winograd ran */

    check_same_bits(c, x, halo, w, bias, y);
    check_fused(c, x, halo, w, bias);

    for (int64_t skip = 1; skip <= 2; skip++) { /* a later rank's frames */
        conv_case part = *c;
        part.frames = c->frames - skip;
        float *xs = malloc(sizeof(float) * (size_t)(s->cin * part.frames * hw));
        float *hs = malloc(sizeof(float) * (size_t)(s->cin * 2 * hw));
        for (int64_t ci = 0; ci < s->cin; ci++) {
            memcpy(xs + ci * part.frames * hw, x + (ci * c->frames + skip) * hw,
                   sizeof(float) * (size_t)(part.frames * hw));
            for (int64_t j = 0; j < 2; j++) { /* frames skip-2, skip-1 of halo ++ x */
                const int64_t t = skip - 2 + j;
                memcpy(hs + (ci * 2 + j) * hw,
                       t >= 0 ? x + (ci * c->frames + t) * hw : halo + (ci * 2 + t + 2) * hw,
                       sizeof(float) * (size_t)hw);
            }
        }
        const ctxpar_conv3d_fusion at = {.first_frame = skip};
        float *ys = run_fused(&part, xs, hs, w, bias, part.frames, 0, NULL, &at);
        for (int64_t co = 0; co < s->cout; co++)
            ASSERT_EQ_INT(memcmp(ys + co * part.frames * hw, y + (co * c->frames + skip) * hw,
                                 sizeof(float) * (size_t)(part.frames * hw)),
                          0);
        free(xs), free(hs), free(ys);
    }

    ctxpar_conv_bf16_allow_winograd(0);
    float *gemm = run(c, x, halo, w, bias, c->frames, 0, NULL);
    ctxpar_conv_bf16_allow_winograd(1);
    ASSERT_TRUE(memcmp(gemm, y, out_bytes) != 0);
    free(gemm);
    free(x), free(halo), free(wf), free(bias), free(w), free(y), free(sum), free(mag);
}

int main(void) {
    const conv_case cases[] = {
        /* causal 3x3x3, pad 1, with a halo; in place too */
        {{6, 6, 3, 3, 3, 1, 1, 1, 6, 9, 6, 9}, 4},
        /* cin != cout, several pixel blocks (12 x 12 = 144 > 128) */
        {{16, 40, 3, 3, 3, 1, 1, 1, 12, 12, 12, 12}, 3},
        /* conv_in: 3 channels */
        {{3, 8, 3, 3, 3, 1, 1, 1, 5, 7, 5, 7}, 2},
        /* stride-2 downsample, CogVideoX's padding (after the frame) */
        {{5, 5, 1, 3, 3, 2, 0, 0, 8, 10, 4, 5}, 3},
        /* stride-2 downsample, padding 1 on every side */
        {{5, 7, 1, 3, 3, 2, 1, 1, 8, 10, 4, 5}, 2},
        /* 1x1 shortcut */
        {{9, 4, 1, 1, 1, 1, 0, 0, 7, 11, 7, 11}, 3},
        /* wide frames: several bands, partial pixel blocks */
        {{4, 6, 3, 3, 3, 1, 1, 1, 9, 130, 9, 130}, 2},
        /* one row of 300 pixels */
        {{9, 4, 1, 1, 1, 1, 0, 0, 1, 300, 1, 300}, 1},
        /* taps read in place (cin a multiple of 32): causal 3x3x3 in place,
         * rows of several pixel blocks with a partial one */
        {{32, 32, 3, 3, 3, 1, 1, 1, 4, 100, 4, 100}, 3},
        /* cout not a multiple of 32, the taps in several passes (cin 64:
         * 96 pairs a row of 3 taps, GEMM_KCP / 96 = 5 rows a pass) */
        {{64, 40, 3, 3, 3, 1, 1, 1, 5, 7, 5, 7}, 2},
        /* stride-2 downsample, both paddings, taps in place */
        {{32, 32, 1, 3, 3, 2, 0, 0, 8, 70, 4, 35}, 2},
        {{32, 20, 1, 3, 3, 2, 1, 1, 6, 10, 3, 5}, 1},
        /* 1x1 shortcut in place of a gather */
        {{64, 48, 1, 1, 1, 1, 0, 0, 3, 130, 3, 130}, 2},
    };
    /* A checkpoint's bf16 weights packed as they are: the bits of packing
     * them widened to float32, over every 16-bit pattern (subnormals,
     * infinities and NaNs included), an even and an odd cin. */
    for (int odd = 0; odd < 2; odd++) {
        const int64_t cin = odd ? 3 : 76, cout = odd ? 811 : 40, n = cout * cin * 27;
        ctxpar_bf16 *wb = malloc(sizeof(ctxpar_bf16) * (size_t)n);
        float *wf = malloc(sizeof(float) * (size_t)n);
        for (int64_t i = 0; i < n; i++) {
            wb[i] = (ctxpar_bf16)(i * 7919 + odd);
            wf[i] = ctxpar_bf16_to_f32(wb[i]);
        }
        const int64_t values = ctxpar_cpu_conv_bf16_weight_values(cin, cout, 3, 3, 3);
        ctxpar_bf16 *from_f32 = malloc(sizeof(ctxpar_bf16) * (size_t)values);
        ctxpar_bf16 *from_bf16 = malloc(sizeof(ctxpar_bf16) * (size_t)values);
        ctxpar_cpu_conv_bf16_pack_weight(from_f32, wf, cin, cout, 3, 3, 3);
        ctxpar_cpu_conv_bf16_pack_weight_bf16(from_bf16, wb, cin, cout, 3, 3, 3);
        ASSERT_EQ_INT(memcmp(from_f32, from_bf16, sizeof(ctxpar_bf16) * (size_t)values), 0);
        free(wb), free(wf), free(from_f32), free(from_bf16);
    }
    /* every GEMM path this CPU has; the tile model's checks once */
    const char *const paths[] = {"amx", "avx512bf16", "avx512", "avx2", "portable"};
    int model_done = 0;
    for (size_t p = 0; p < sizeof paths / sizeof paths[0]; p++) {
        if (ctxpar_cpu_gemm_bf16_force_path(paths[p]) != 0) {
            printf("GEMM path %s: skipped (not on this CPU)\n", paths[p]);
            continue;
        }
        printf("GEMM path %s\n", paths[p]);
        ctxpar_conv_bf16_allow_winograd(0);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check(&cases[i], !model_done);
        ctxpar_conv_bf16_allow_winograd(1);
        model_done = 1;
    }
    /* The bf16 Winograd where the CPU has VDPBF16PS: F(4x4) (at least 64
     * tiles) over several bands and partial tiles, in place; F(2x2);
     * output-channel blocks of 12 and 4 (cout 40), 12 and 8 (cout 20), and
     * a padded one (cout 6); cin over one reduction piece (256) with a
     * partial one. */
    const conv_case winograd_cases[] = {
        {{6, 6, 3, 3, 3, 1, 1, 1, 81, 254, 81, 254}, 5},
        {{8, 6, 3, 3, 3, 1, 1, 1, 7, 9, 7, 9}, 4},
        {{16, 40, 3, 3, 3, 1, 1, 1, 32, 33, 32, 33}, 3},
        {{260, 20, 3, 3, 3, 1, 1, 1, 10, 6, 10, 6}, 3},
    };
    if (ctxpar_cpu_gemm_bf16_force_path("avx512bf16") != 0 ||
        !ctxpar_cpu_conv3d_winograd_bf16_supports(8, 8, 3, 3, 3, 8, 8)) {
        printf("bf16 Winograd: skipped (no AVX512-BF16 on this CPU)\n");
    } else {
        printf("bf16 Winograd (GEMM path avx512bf16)\n");
        for (size_t i = 0; i < sizeof winograd_cases / sizeof winograd_cases[0]; i++)
            check_winograd(&winograd_cases[i]);
    }
    ctxpar_cpu_gemm_bf16_force_path(NULL);
    return test_finish("test_conv_bf16");
}
