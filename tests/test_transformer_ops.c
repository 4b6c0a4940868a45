/* LayerNorm, GELU (tanh approximation) and RoPE-3D against naive double
 * references. RoPE runs on a slice that starts mid-video (first_token != 0,
 * mid-frame) with a stride wider than the heads, so a kernel that used local
 * positions or touched the padding fails. */
#include "kernels/cpu/transformer_cpu.h"
#include "test_util.h"

#include <math.h>
#include <string.h>

static void test_layer_norm(int64_t n, int64_t d, float offset, int in_place) {
    float *x = malloc(sizeof(float) * (size_t)(n * d)), *y = malloc(sizeof(float) * (size_t)(n * d));
    float *w = malloc(sizeof(float) * (size_t)d), *b = malloc(sizeof(float) * (size_t)d);
    double *ref = malloc(sizeof(double) * (size_t)(n * d));
    test_fill(x, n * d, 11, 3.0f);
    for (int64_t i = 0; i < n * d; i++) x[i] += offset; /* a common offset stresses the variance */
    test_fill(w, d, 12, 1.0f);
    test_fill(b, d, 13, 0.5f);
    const float eps = 1e-6f;
    for (int64_t i = 0; i < n; i++) {
        double mean = 0.0, var = 0.0;
        for (int64_t c = 0; c < d; c++) mean += x[i * d + c];
        mean /= (double)d;
        for (int64_t c = 0; c < d; c++) var += (x[i * d + c] - mean) * (x[i * d + c] - mean);
        var /= (double)d;
        for (int64_t c = 0; c < d; c++)
            ref[i * d + c] = (x[i * d + c] - mean) / sqrt(var + eps) * w[c] + b[c];
    }
    float *out = in_place ? x : y;
    ctxpar_cpu_layer_norm(out, x, n, d, w, b, eps);
    char name[96];
    snprintf(name, sizeof name, "layer_norm n=%lld d=%lld offset=%g in_place=%d", (long long)n,
             (long long)d, offset, in_place);
    /* |x - mean| / std of order 1: an offset of 100 costs ~1e-5 of precision in fp32 inputs */
    test_compare(name, out, ref, n * d, offset > 10 ? 2e-4 : 2e-5, 1e-5);
    free(x), free(y), free(w), free(b), free(ref);
}

static void test_gelu(void) {
    const int64_t n = 10007;
    float *x = malloc(sizeof(float) * (size_t)n);
    double *ref = malloc(sizeof(double) * (size_t)n);
    test_fill(x, n, 21, 8.0f);
    x[0] = 0.0f, x[1] = -100.0f, x[2] = 100.0f, x[3] = -1e30f, x[4] = 1e30f, x[5] = -5.0f;
    for (int64_t i = 0; i < n; i++) {
        const double v = x[i];
        ref[i] = 0.5 * v * (1.0 + tanh(sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)));
        if (!isfinite(ref[i])) ref[i] = v > 0 ? v : 0.0; /* the limits of the formula */
    }
    ctxpar_cpu_gelu(x, n);
    test_compare("gelu", x, ref, n, 1e-6, 1e-6);
    free(x), free(ref);
}

static void test_rope3d(int heads, int head_dim, int64_t first_token, int64_t n, int64_t grid_h,
                        int64_t grid_w) {
    const int64_t width = (int64_t)heads * head_dim, ld = width + 7;
    float *x = malloc(sizeof(float) * (size_t)(n * ld));
    double *ref = malloc(sizeof(double) * (size_t)(n * ld));
    test_fill(x, n * ld, 31, 1.0f);
    const int sizes[3] = {head_dim / 4, 3 * head_dim / 8, 3 * head_dim / 8};
    for (int64_t r = 0; r < n; r++) {
        const int64_t g = first_token + r;
        const int64_t t = g / (grid_h * grid_w), y = (g / grid_w) % grid_h, xx = g % grid_w;
        const int64_t pos[3] = {t, y, xx};
        for (int64_t c = 0; c < ld; c++) ref[r * ld + c] = x[r * ld + c]; /* padding unchanged */
        for (int hh = 0; hh < heads; hh++) {
            int64_t base = r * ld + (int64_t)hh * head_dim;
            for (int part = 0; part < 3; part++) {
                const int m = sizes[part];
                for (int i = 0; i < m / 2; i++) {
                    const double angle = (double)pos[part] * pow(10000.0, -2.0 * i / m);
                    const double a = x[base + 2 * i], b = x[base + 2 * i + 1];
                    ref[base + 2 * i] = a * cos(angle) - b * sin(angle);
                    ref[base + 2 * i + 1] = a * sin(angle) + b * cos(angle);
                }
                base += m;
            }
        }
    }
    ctxpar_cpu_rope3d(x, ld, n, heads, head_dim, first_token, grid_h, grid_w);
    char name[128];
    snprintf(name, sizeof name, "rope3d heads=%d dh=%d first=%lld n=%lld grid=%lldx%lld", heads,
             head_dim, (long long)first_token, (long long)n, (long long)grid_h, (long long)grid_w);
    test_compare(name, x, ref, n * ld, 2e-6, 1e-5);
    free(x), free(ref);
}

int main(void) {
    test_layer_norm(37, 64, 0.0f, 0);
    test_layer_norm(37, 256, 100.0f, 1);
    test_layer_norm(5, 1000, 0.5f, 1);
    test_gelu();
    /* grid 3 x 5: 15 tokens a frame; 7 frames in and 2 tokens into frame 7 */
    test_rope3d(2, 32, 7 * 15 + 2, 40, 3, 5);
    test_rope3d(3, 64, 1234, 50, 4, 6);
    test_rope3d(1, 128, 100000, 20, 16, 16); /* large positions: angles of 10^4 rad */
    return test_finish("test_transformer_ops");
}
