/* The small VAE and token ops against naive double references: temporal
 * pooling (also in place), residual add, the stride-2 downsample conv (a frame
 * sub-range, untouched frames outside it), conv1x1, linear (with and without
 * bias) and patch embedding (token order (t, y, x), input index (dy*p+dx)*z+c). */
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/conv3d_internal.h"
#include "kernels/cpu/kernels_cpu.h"
#include "test_util.h"

static void test_pool_and_add(void) {
    const int64_t c = 5, frames_out = 3, hw = 13, cstride = 2 * frames_out * hw + 4;
    float *x = malloc(sizeof(float) * c * cstride), *y = malloc(sizeof(float) * c * frames_out * hw);
    double *ref = malloc(sizeof(double) * c * frames_out * hw);
    test_fill(x, c * cstride, 1, 3.0f);
    for (int64_t ch = 0; ch < c; ch++)
        for (int64_t t = 0; t < frames_out; t++)
            for (int64_t i = 0; i < hw; i++)
                ref[(ch * frames_out + t) * hw + i] =
                    0.5 * ((double)x[ch * cstride + 2 * t * hw + i] +
                           x[ch * cstride + (2 * t + 1) * hw + i]);
    ctxpar_cpu_pool_time2(x, cstride, y, frames_out * hw, c, frames_out, hw);
    test_compare("pool_time2", y, ref, c * frames_out * hw, 1e-6, 1e-6);
    /* In place: y aliases x with the same channel stride. */
    ctxpar_cpu_pool_time2(x, cstride, x, cstride, c, frames_out, hw);
    for (int64_t ch = 0; ch < c; ch++)
        memcpy(y + ch * frames_out * hw, x + ch * cstride, sizeof(float) * frames_out * hw);
    test_compare("pool_time2 in place", y, ref, c * frames_out * hw, 1e-6, 1e-6);

    const int64_t n = 37, a_stride = 41, b_stride = 50;
    float *a = malloc(sizeof(float) * c * a_stride), *b = malloc(sizeof(float) * c * b_stride);
    double *sum = malloc(sizeof(double) * c * a_stride);
    test_fill(a, c * a_stride, 2, 1.0f);
    test_fill(b, c * b_stride, 3, 1.0f);
    for (int64_t ch = 0; ch < c; ch++)
        for (int64_t i = 0; i < a_stride; i++)
            sum[ch * a_stride + i] =
                (double)a[ch * a_stride + i] + (i < n ? b[ch * b_stride + i] : 0.0);
    ctxpar_cpu_add(a, a_stride, b, b_stride, c, n);
    test_compare("add", a, sum, c * a_stride, 1e-6, 1e-6); /* also: gaps untouched */
    free(x), free(y), free(ref), free(a), free(b), free(sum);
}

/* use_gemm: the portable path directly; otherwise the dispatching entry. */
static void test_conv2d_stride2(int64_t cin, int64_t cout, int64_t h, int64_t w, int pad_begin,
                                int use_gemm) {
    const int64_t frames = 4, t_begin = 1, t_end = 3;
    const int64_t ho = h / 2, wo = w / 2, x_cstride = frames * h * w + 3;
    const int64_t y_cstride = frames * ho * wo + 2;
    float *x = malloc(sizeof(float) * cin * x_cstride);
    float *weight = malloc(sizeof(float) * cout * cin * 9), *bias = malloc(sizeof(float) * cout);
    float *y = malloc(sizeof(float) * cout * y_cstride);
    double *ref = malloc(sizeof(double) * cout * y_cstride);
    test_fill(x, cin * x_cstride, 4, 1.0f);
    test_fill(weight, cout * cin * 9, 5, 0.5f);
    test_fill(bias, cout, 6, 1.0f);
    for (int64_t i = 0; i < cout * y_cstride; i++) y[i] = ref[i] = -7.0f;
    for (int64_t co = 0; co < cout; co++)
        for (int64_t t = t_begin; t < t_end; t++)
            for (int64_t oy = 0; oy < ho; oy++)
                for (int64_t ox = 0; ox < wo; ox++) {
                    double acc = bias[co];
                    for (int64_t ci = 0; ci < cin; ci++)
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++) {
                                int64_t iy = 2 * oy + ky - pad_begin, ix = 2 * ox + kx - pad_begin;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                acc += (double)weight[((co * cin + ci) * 3 + ky) * 3 + kx] *
                                       x[ci * x_cstride + t * h * w + iy * w + ix];
                            }
                    ref[co * y_cstride + t * ho * wo + oy * wo + ox] = acc;
                }
    float *scratch = malloc(sizeof(float) *
                            ctxpar_cpu_conv2d_stride2_scratch_floats(cin, h, w, t_end - t_begin));
    if (use_gemm)
        ctxpar_cpu_conv2d_stride2_gemm(x, x_cstride, y, y_cstride, weight, bias, cin, cout, h, w,
                                       pad_begin, t_begin, t_end, scratch);
    else
        ctxpar_cpu_conv2d_stride2(x, x_cstride, y, y_cstride, weight, bias, cin, cout, h, w,
                                  pad_begin, t_begin, t_end, scratch);
    char name[64];
    snprintf(name, sizeof name, "conv2d_stride2%s pad_begin=%d", use_gemm ? " gemm" : "",
             pad_begin);
    test_compare(name, y, ref, cout * y_cstride, 1e-5, 1e-5);
    /* frame 2 in a call of its own: the same bits (a rank's frame count is
     * invisible) */
    float *alone = malloc(sizeof(float) * cout * y_cstride);
    memcpy(alone, y, sizeof(float) * cout * y_cstride);
    for (int64_t co = 0; co < cout; co++)
        for (int64_t i = 0; i < ho * wo; i++) alone[co * y_cstride + 2 * ho * wo + i] = -7.0f;
    if (use_gemm)
        ctxpar_cpu_conv2d_stride2_gemm(x, x_cstride, alone, y_cstride, weight, bias, cin, cout, h,
                                       w, pad_begin, 2, 3, scratch);
    else
        ctxpar_cpu_conv2d_stride2(x, x_cstride, alone, y_cstride, weight, bias, cin, cout, h, w,
                                  pad_begin, 2, 3, scratch);
    ASSERT_TRUE(memcmp(alone, y, sizeof(float) * cout * y_cstride) == 0);
    free(alone);
    free(x), free(weight), free(bias), free(y), free(ref), free(scratch);
}

/* A 1x1 conv against double, and the rank-count contract: frames computed in
 * a call of their own have the same bits as inside a call over more frames
 * (OpenBLAS orders a column's sum by the GEMM's shape; one GEMM over all the
 * frames gave other bits when the frame count changed). */
static void test_conv1x1(void) {
    const int64_t cin = 67, cout = 45, frames = 5, hw = 37 * 29, n = frames * hw;
    const int64_t x_cstride = n + 3, y_cstride = n + 5;
    float *x = malloc(sizeof(float) * cin * x_cstride), *y = malloc(sizeof(float) * cout * y_cstride);
    float *part = malloc(sizeof(float) * cout * y_cstride);
    float *weight = malloc(sizeof(float) * cout * cin), *bias = malloc(sizeof(float) * cout);
    double *ref = malloc(sizeof(double) * cout * y_cstride);
    test_fill(x, cin * x_cstride, 7, 1.0f);
    test_fill(weight, cout * cin, 8, 1.0f);
    test_fill(bias, cout, 9, 1.0f);
    for (int64_t i = 0; i < cout * y_cstride; i++) y[i] = part[i] = ref[i] = 99.0f;
    for (int64_t co = 0; co < cout; co++)
        for (int64_t i = 0; i < n; i++) {
            double acc = bias[co];
            for (int64_t ci = 0; ci < cin; ci++)
                acc += (double)weight[co * cin + ci] * x[ci * x_cstride + i];
            ref[co * y_cstride + i] = acc;
        }
    ctxpar_cpu_conv1x1(x, x_cstride, y, y_cstride, weight, bias, cin, cout, frames, hw);
    test_compare("conv1x1", y, ref, cout * y_cstride, 1e-5, 1e-5);
    /* frames 1..3 alone, then frame 4 alone */
    ctxpar_cpu_conv1x1(x + hw, x_cstride, part + hw, y_cstride, weight, bias, cin, cout, 3, hw);
    ctxpar_cpu_conv1x1(x + 4 * hw, x_cstride, part + 4 * hw, y_cstride, weight, bias, cin, cout,
                       1, hw);
    int64_t differ = 0;
    for (int64_t co = 0; co < cout; co++)
        for (int64_t i = hw; i < n; i++)
            differ += memcmp(&y[co * y_cstride + i], &part[co * y_cstride + i], sizeof(float)) != 0;
    ASSERT_EQ_INT(differ, 0);
    free(x), free(y), free(part), free(weight), free(bias), free(ref);
}

static void test_linear(void) {
    const int64_t n = 19, in = 24, out = 10;
    float *x = malloc(sizeof(float) * n * in), *y = malloc(sizeof(float) * n * out);
    float *weight = malloc(sizeof(float) * out * in), *bias = malloc(sizeof(float) * out);
    double *ref = malloc(sizeof(double) * n * out);
    test_fill(x, n * in, 10, 1.0f);
    test_fill(weight, out * in, 11, 1.0f);
    test_fill(bias, out, 12, 1.0f);
    for (int with_bias = 0; with_bias <= 1; with_bias++) {
        for (int64_t i = 0; i < n; i++)
            for (int64_t o = 0; o < out; o++) {
                double acc = with_bias ? bias[o] : 0.0;
                for (int64_t k = 0; k < in; k++) acc += (double)x[i * in + k] * weight[o * in + k];
                ref[i * out + o] = acc;
            }
        for (int64_t i = 0; i < n * out; i++) y[i] = 1e9f; /* garbage must be overwritten */
        ctxpar_cpu_linear(y, x, n, in, out, weight, with_bias ? bias : NULL);
        test_compare(with_bias ? "linear" : "linear no bias", y, ref, n * out, 1e-5, 1e-5);
    }
    free(x), free(y), free(weight), free(bias), free(ref);
}

static void test_patch_embed(void) {
    const int p = 2;
    const int64_t z = 3, frames = 2, h = 4, w = 6, d = 5, cstride = frames * h * w + 1;
    const int64_t gh = h / p, gw = w / p, n_tokens = frames * gh * gw, in_dim = p * p * z;
    float *lat = malloc(sizeof(float) * z * cstride);
    float *weight = malloc(sizeof(float) * d * in_dim), *bias = malloc(sizeof(float) * d);
    float *tokens = malloc(sizeof(float) * n_tokens * d);
    double *ref = malloc(sizeof(double) * n_tokens * d);
    test_fill(lat, z * cstride, 13, 1.0f);
    test_fill(weight, d * in_dim, 14, 1.0f);
    test_fill(bias, d, 15, 1.0f);
    for (int64_t t = 0; t < frames; t++)
        for (int64_t ty = 0; ty < gh; ty++)
            for (int64_t tx = 0; tx < gw; tx++) {
                int64_t row = t * gh * gw + ty * gw + tx;
                for (int64_t o = 0; o < d; o++) {
                    double acc = bias[o];
                    for (int dy = 0; dy < p; dy++)
                        for (int dx = 0; dx < p; dx++)
                            for (int64_t c = 0; c < z; c++)
                                acc += (double)weight[o * in_dim + (dy * p + dx) * z + c] *
                                       lat[c * cstride + t * h * w + (ty * p + dy) * w +
                                           tx * p + dx];
                    ref[row * d + o] = acc;
                }
            }
    float *scratch =
        malloc(sizeof(float) * ctxpar_cpu_patch_embed_scratch_floats(z, frames, h, w, p));
    ctxpar_cpu_patch_embed(lat, cstride, z, frames, h, w, p, weight, bias, d, tokens, scratch);
    test_compare("patch_embed", tokens, ref, n_tokens * d, 1e-5, 1e-5);
    free(lat), free(weight), free(bias), free(tokens), free(ref), free(scratch);
}

int main(void) {
    test_pool_and_add();
    for (int use_gemm = 0; use_gemm <= 1; use_gemm++)
        for (int pad_begin = 0; pad_begin <= 1; pad_begin++) {
            test_conv2d_stride2(3, 4, 6, 10, pad_begin, use_gemm);
            test_conv2d_stride2(5, 13, 4, 72, pad_begin, use_gemm); /* two column tiles, 12+1 rows */
            test_conv2d_stride2(2, 20, 8, 64, pad_begin, use_gemm); /* one full tile, 12+8 rows */
            /* 100 inputs: two reduction passes (96 + 4); 77 outputs: two groups
             * of blocks; 35 output columns: a full and a partial tile; rows of
             * 70: vector and scalar deinterleave. */
            test_conv2d_stride2(100, 77, 6, 70, pad_begin, use_gemm);
        }
    test_conv1x1();
    test_linear();
    test_patch_embed();
    return test_finish("test_vae_ops");
}
