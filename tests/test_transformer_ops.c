/* LayerNorm, RMSNorm, GELU (tanh and erf), QuickGELU, the gated SiLU,
 * RoPE-3D (both layouts), Qwen2-VL's 2D RoPE and the tubelet embedding
 * against naive double references. RoPE runs on a slice that starts mid-video (first_token != 0,
 * mid-frame) with a stride wider than the heads, so a kernel that used local
 * positions or touched the padding fails. */
#include "kernels/cpu/kernels_cpu.h"
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

static void test_gelu_erf(void) {
    const int64_t n = 10007;
    float *x = malloc(sizeof(float) * (size_t)n);
    double *ref = malloc(sizeof(double) * (size_t)n);
    test_fill(x, n, 22, 8.0f);
    x[0] = 0.0f, x[1] = -100.0f, x[2] = 100.0f, x[3] = -5.0f;
    for (int64_t i = 0; i < n; i++) ref[i] = 0.5 * x[i] * (1.0 + erf(x[i] / sqrt(2.0)));
    ctxpar_cpu_gelu_erf(x, n);
    /* the tanh form is off by ~1e-4 relative near |x| ~ 2: this tolerance tells them apart */
    test_compare("gelu_erf", x, ref, n, 1e-6, 1e-6);
    free(x), free(ref);
}

/* V-JEPA 2's RoPE from its definition, one dim at a time: dim j of an axis
 * block of a dims takes angle pos * 10000^(-(j mod a/2)/(a/2)) (the table
 * tiled twice); pairs (2i, 2i+1) mix with their own angles; the tail stays. */
static void test_rope3d_vjepa2(int heads, int head_dim, int64_t first_token, int64_t n,
                               int64_t grid) {
    const int64_t width = (int64_t)heads * head_dim, ld = width + 5;
    const int a = 2 * ((head_dim / 3) / 2), m = a / 2;
    float *x = malloc(sizeof(float) * (size_t)(n * ld));
    double *ref = malloc(sizeof(double) * (size_t)(n * ld));
    test_fill(x, n * ld, 32, 1.0f);
    for (int64_t r = 0; r < n; r++) {
        const int64_t g = first_token + r;
        const int64_t pos[3] = {g / (grid * grid), (g % (grid * grid)) / grid, g % grid};
        for (int64_t c = 0; c < ld; c++) ref[r * ld + c] = x[r * ld + c];
        for (int hh = 0; hh < heads; hh++) {
            const int64_t base = r * ld + (int64_t)hh * head_dim;
            for (int j = 0; j < 3 * a; j++) {
                const int axis = j / a, local = j % a;
                const double angle = (double)pos[axis] * pow(10000.0, -(double)(local % m) / m);
                const double self = x[base + j], partner = x[base + (j ^ 1)];
                ref[base + j] = (j % 2 == 0) ? self * cos(angle) - partner * sin(angle)
                                             : self * cos(angle) + partner * sin(angle);
            }
        }
    }
    float *rows = malloc(sizeof(float) * (size_t)(n * ld));
    memcpy(rows, x, sizeof(float) * (size_t)(n * ld));
    ctxpar_cpu_rope3d_vjepa2(x, ld, n, heads, head_dim, first_token, grid, grid);
    char name[128];
    snprintf(name, sizeof name, "rope3d_vjepa2 heads=%d dh=%d first=%lld n=%lld grid=%lld",
             heads, head_dim, (long long)first_token, (long long)n, (long long)grid);
    test_compare(name, x, ref, n * ld, 2e-6, 1e-5);
    /* the per-call tables give the bits of angles formed row by row */
    ctxpar_cpu_rope3d_vjepa2_rows(rows, ld, n, heads, head_dim, first_token, grid, grid);
    ASSERT_TRUE(memcmp(rows, x, sizeof(float) * (size_t)(n * ld)) == 0);
    free(x), free(ref), free(rows);
}

/* Tubelet embedding against the Conv3d it is: kernel = stride = kt x p x p. */
static void test_tubelet_embed(int64_t frames, int64_t h, int64_t w, int kt, int p, int64_t d) {
    const int64_t c = 3, hw = h * w, cstride = frames * hw + 3;
    const int64_t nt = frames / kt, gh = h / p, gw = w / p, n = nt * gh * gw, k = c * kt * p * p;
    float *x = malloc(sizeof(float) * (size_t)(c * cstride));
    float *weight = malloc(sizeof(float) * (size_t)(d * k)), *bias = malloc(sizeof(float) * (size_t)d);
    float *tokens = malloc(sizeof(float) * (size_t)(n * d));
    float *scratch = malloc(sizeof(float) * (size_t)ctxpar_cpu_tubelet_embed_scratch_floats(
                                               c, frames, h, w, kt, p));
    double *ref = malloc(sizeof(double) * (size_t)(n * d));
    test_fill(x, c * cstride, 41, 1.0f);
    test_fill(weight, d * k, 42, 0.2f);
    test_fill(bias, d, 43, 0.5f);
    for (int64_t t = 0; t < nt; t++)
        for (int64_t y = 0; y < gh; y++)
            for (int64_t xx = 0; xx < gw; xx++)
                for (int64_t o = 0; o < d; o++) {
                    double acc = bias[o];
                    for (int64_t ch = 0; ch < c; ch++)
                        for (int a = 0; a < kt; a++)
                            for (int i = 0; i < p; i++)
                                for (int j = 0; j < p; j++)
                                    acc += (double)weight[(((o * c + ch) * kt + a) * p + i) * p + j] *
                                           x[ch * cstride + (t * kt + a) * hw + (y * p + i) * w +
                                             xx * p + j];
                    ref[((t * gh + y) * gw + xx) * d + o] = acc;
                }
    ctxpar_cpu_tubelet_embed(x, cstride, c, frames, h, w, kt, p, weight, bias, d, tokens, scratch);
    char name[96];
    snprintf(name, sizeof name, "tubelet_embed %lldx%lldx%lld kt=%d p=%d d=%lld", (long long)frames,
             (long long)h, (long long)w, kt, p, (long long)d);
    test_compare(name, tokens, ref, n * d, 1e-5, 1e-5);
    free(x), free(weight), free(bias), free(tokens), free(scratch), free(ref);
}

static void test_rms_norm(int64_t n, int64_t d, int in_place) {
    float *x = malloc(sizeof(float) * (size_t)(n * d)), *y = malloc(sizeof(float) * (size_t)(n * d));
    float *w = malloc(sizeof(float) * (size_t)d);
    double *ref = malloc(sizeof(double) * (size_t)(n * d));
    test_fill(x, n * d, 31, 3.0f);
    for (int64_t i = 0; i < n * d; i++) x[i] += 0.7f; /* RMSNorm keeps the mean */
    test_fill(w, d, 32, 1.0f);
    const float eps = 1e-6f;
    for (int64_t i = 0; i < n; i++) {
        double sq = 0.0;
        for (int64_t c = 0; c < d; c++) sq += (double)x[i * d + c] * x[i * d + c];
        for (int64_t c = 0; c < d; c++)
            ref[i * d + c] = x[i * d + c] / sqrt(sq / (double)d + eps) * w[c];
    }
    float *out = in_place ? x : y;
    ctxpar_cpu_rms_norm(out, x, n, d, w, eps);
    char name[64];
    snprintf(name, sizeof name, "rms_norm n=%lld d=%lld in_place=%d", (long long)n, (long long)d,
             in_place);
    test_compare(name, out, ref, n * d, 2e-5, 1e-5);
    free(x), free(y), free(w), free(ref);
}

static void test_quick_gelu_and_gate(void) {
    const int64_t n = 10007;
    float *x = malloc(sizeof(float) * (size_t)n);
    double *ref = malloc(sizeof(double) * (size_t)n);
    test_fill(x, n, 41, 12.0f);
    x[0] = 0.0f, x[1] = -100.0f, x[2] = 100.0f, x[3] = -1e30f, x[4] = 1e30f;
    for (int64_t i = 0; i < n; i++) ref[i] = (double)x[i] / (1.0 + exp(-1.702 * (double)x[i]));
    ref[3] = 0.0, ref[4] = 1e30f; /* the limits of the formula */
    ctxpar_cpu_quick_gelu(x, n);
    test_compare("quick_gelu", x, ref, n, 1e-6, 2e-6);
    /* silu(gate) * up over rows of [gate | up], f = 37 (not a vector multiple) */
    const int64_t rows = 29, f = 37;
    float *gu = malloc(sizeof(float) * (size_t)(rows * 2 * f)), *y = malloc(sizeof(float) * (size_t)(rows * f));
    double *gref = malloc(sizeof(double) * (size_t)(rows * f));
    test_fill(gu, rows * 2 * f, 42, 6.0f);
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < f; j++) {
            const double g = gu[i * 2 * f + j], u = gu[i * 2 * f + f + j];
            gref[i * f + j] = g / (1.0 + exp(-g)) * u;
        }
    ctxpar_cpu_silu_gate(y, gu, rows, f);
    test_compare("silu_gate", y, gref, rows * f, 1e-6, 2e-6);
    free(x), free(ref), free(gu), free(y), free(gref);
}

/* Qwen2-VL's 2D RoPE: rotate_half pairs (j, j + dh/2); j < dh/4 by the row,
 * the rest by the column, frequencies over dh/4; positions within the frame. */
static void test_rope_axial2d(int heads, int head_dim, int64_t first_token, int64_t n,
                              int64_t grid_h, int64_t grid_w) {
    const int64_t width = (int64_t)heads * head_dim, ld = width + 5;
    float *x = malloc(sizeof(float) * (size_t)(n * ld));
    double *ref = malloc(sizeof(double) * (size_t)(n * ld));
    test_fill(x, n * ld, 51, 1.0f);
    const int quarter = head_dim / 4, half = head_dim / 2;
    for (int64_t i = 0; i < n; i++) {
        const int64_t in_frame = (first_token + i) % (grid_h * grid_w);
        const double pos[2] = {(double)(in_frame / grid_w), (double)(in_frame % grid_w)};
        for (int64_t c = width; c < ld; c++) ref[i * ld + c] = x[i * ld + c]; /* untouched */
        for (int hh = 0; hh < heads; hh++) {
            const float *xp = x + i * ld + hh * head_dim;
            double *rp = ref + i * ld + hh * head_dim;
            for (int j = 0; j < half; j++) {
                const double angle =
                    pos[j / quarter] * pow(10000.0, -2.0 * (j % quarter) / (double)half);
                rp[j] = xp[j] * cos(angle) - xp[j + half] * sin(angle);
                rp[j + half] = xp[j + half] * cos(angle) + xp[j] * sin(angle);
            }
        }
    }
    ctxpar_cpu_rope_axial2d(x, ld, n, heads, head_dim, first_token, grid_h, grid_w);
    char name[96];
    snprintf(name, sizeof name, "rope_axial2d heads=%d dh=%d first=%lld grid %lldx%lld", heads,
             head_dim, (long long)first_token, (long long)grid_h, (long long)grid_w);
    test_compare(name, x, ref, n * ld, 1e-5, 1e-5);
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
    test_gelu_erf();
    test_rope3d_vjepa2(2, 32, 3 * 64 + 5, 40, 8); /* a = 10: dims 30, 31 unrotated */
    test_rope3d_vjepa2(3, 64, 1000, 30, 16);      /* ViT-L: a = 20, tail 60..63 */
    test_rope3d_vjepa2(2, 80, 7, 20, 16);         /* ViT-H: a = 26, tail 78, 79 */
    test_tubelet_embed(4, 16, 24, 2, 8, 20);
    test_tubelet_embed(3, 6, 6, 1, 3, 7);
    test_rms_norm(37, 64, 0);
    test_rms_norm(5, 1280, 1);
    test_quick_gelu_and_gate();
    /* grid 6 x 10: starts in frame 2, mid-row; dh 80 is Qwen2-VL's (quarter 20) */
    test_rope_axial2d(2, 32, 2 * 60 + 13, 90, 6, 10);
    test_rope_axial2d(3, 80, 5, 64, 32, 32);
    return test_finish("test_transformer_ops");
}
