/* Antialiased bilinear and bicubic resizing as torch and torchvision do it
 * (see video_resize.h and docs/video.md for the filters).
 *
 * The filters are written to reproduce torch's CPU kernel step for step, in
 * float with the same type promotions: scale = in/out; for output i the
 * centre is scale*(i+0.5), the support is (interp/2)*scale (interp/2 when
 * upsampling; interp 2 bilinear, 4 bicubic), taps run from
 * int(centre-support+0.5) to int(centre+support+0.5) clamped to the image,
 * weights are the filter at (tap-centre+0.5)/max(scale,1) (the triangle
 * 1-|x|, or Keys' cubic with a = -0.5, PIL's), normalised to sum 1. The width pass runs first, then the height pass, and
 * a dimension that keeps its size is skipped, all as in torch. Weight tables
 * are per output index, so a crop window only computes its own pixels. */
#include "runtime/input/video_resize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/core/memory.h"

void ctxpar_video_resize_short_size(int64_t in_h, int64_t in_w, int64_t short_side,
                                    int64_t *out_h, int64_t *out_w) {
    if (in_h <= in_w) {
        *out_h = short_side;
        *out_w = (int64_t)((double)short_side * (double)in_w / (double)in_h);
    } else {
        *out_w = short_side;
        *out_h = (int64_t)((double)short_side * (double)in_h / (double)in_w);
    }
}

/* Python's round(x / factor) * factor (half to even), floor and ceil likewise. */
static int64_t round_by(double x, int64_t factor) { return (int64_t)nearbyint(x / (double)factor) * factor; }
static int64_t floor_by(double x, int64_t factor) { return (int64_t)floor(x / (double)factor) * factor; }
static int64_t ceil_by(double x, int64_t factor) { return (int64_t)ceil(x / (double)factor) * factor; }

void ctxpar_video_smart_size(int64_t in_h, int64_t in_w, int64_t factor, double min_pixels,
                             double max_pixels, int64_t *out_h, int64_t *out_w) {
    int64_t h = round_by((double)in_h, factor), w = round_by((double)in_w, factor);
    if (h < factor) h = factor;
    if (w < factor) w = factor;
    if ((double)(h * w) > max_pixels) {
        const double beta = sqrt((double)in_h * (double)in_w / max_pixels);
        h = floor_by((double)in_h / beta, factor), w = floor_by((double)in_w / beta, factor);
    } else if ((double)(h * w) < min_pixels) {
        const double beta = sqrt(min_pixels / ((double)in_h * (double)in_w));
        h = ceil_by((double)in_h * beta, factor), w = ceil_by((double)in_w * beta, factor);
    }
    *out_h = h, *out_w = w;
}

int64_t ctxpar_video_center_offset(int64_t in, int64_t out) {
    return (int64_t)nearbyint((double)(in - out) / 2.0); /* default mode: half to even */
}

static float triangle(float x) {
    if (x < 0) x = -x;
    return x < 1.0f ? 1.0f - x : 0.0f;
}

/* torch's antialiasing bicubic filter: Keys' convolution with a = -0.5. */
static float cubic(float x) {
    const float a = -0.5f;
    if (x < 0) x = -x;
    if (x < 1.0f) return ((a + 2.0f) * x - (a + 3.0f)) * x * x + 1.0f;
    if (x < 2.0f) return ((a * x - 5.0f * a) * x + 8.0f * a) * x - 4.0f * a;
    return 0.0f;
}

/* Taps for outputs [first, first + count) of an in -> out resize: per output
 * its first input index, tap count and max_taps weights. */
typedef struct resize_taps {
    int64_t max_taps;
    int64_t *start, *size;
    float *weights;
} resize_taps;

static void taps_free(resize_taps *t) {
    free(t->start);
    free(t->size);
    free(t->weights);
    memset(t, 0, sizeof *t);
}

static ctxpar_status taps_make(int64_t in, int64_t out, int64_t first, int64_t count,
                               ctxpar_resize_filter filter, resize_taps *t) {
    memset(t, 0, sizeof *t);
    const int interp = filter == CTXPAR_RESIZE_BICUBIC ? 4 : 2;
    float (*weight)(float) = filter == CTXPAR_RESIZE_BICUBIC ? cubic : triangle;
    const float scale = (float)in / (float)out;
    const float support = (scale >= 1.0f) ? (float)(interp * 0.5 * scale) : (float)(interp * 0.5);
    const float invscale = (scale >= 1.0f) ? 1.0f / scale : 1.0f;
    t->max_taps = (int64_t)ceil(support) * 2 + 1;
    t->start = malloc(sizeof(int64_t) * (size_t)count);
    t->size = malloc(sizeof(int64_t) * (size_t)count);
    t->weights = calloc((size_t)(count * t->max_taps), sizeof(float));
    if (!t->start || !t->size || !t->weights) {
        taps_free(t);
        return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory for resize weights");
    }
    for (int64_t k = 0; k < count; k++) {
        const int64_t i = first + k;
        const float center = (float)(scale * (i + 0.5));
        int64_t xmin = (int64_t)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int64_t xmax = (int64_t)(center + support + 0.5);
        if (xmax > in) xmax = in;
        int64_t xsize = xmax - xmin;
        if (xsize > t->max_taps) xsize = t->max_taps;
        float *w = t->weights + k * t->max_taps, total = 0.0f;
        for (int64_t j = 0; j < xsize; j++) {
            w[j] = weight((float)((j + xmin - center + 0.5) * invscale));
            total += w[j];
        }
        if (total != 0.0f)
            for (int64_t j = 0; j < xsize; j++) w[j] /= total;
        t->start[k] = xmin;
        t->size[k] = xsize;
    }
    return CTXPAR_OK;
}

static inline float apply_taps(const float *src, int64_t stride, const float *w, int64_t n) {
    float acc = src[0] * w[0];
    for (int64_t j = 1; j < n; j++) acc += src[j * stride] * w[j];
    return acc;
}

/* Generic planar core on `channels` interleaved channels of float. */
static ctxpar_status resize_core(const float *src, int64_t channels, int64_t in_h, int64_t in_w,
                                 int64_t out_h, int64_t out_w, int64_t top, int64_t left,
                                 int64_t win_h, int64_t win_w, ctxpar_resize_filter filter,
                                 float *dst) {
    ctxpar_status status = CTXPAR_OK;
    resize_taps th = {0}, tw = {0};
    float *mid = NULL;
    const int do_w = out_w != in_w, do_h = out_h != in_h;
    /* Rows of the input that the height pass reads for this window. */
    int64_t row0 = top, row1 = top + win_h;
    if (do_h) {
        CTXPAR_TRY_GOTO(taps_make(in_h, out_h, top, win_h, filter, &th));
        row0 = in_h, row1 = 0;
        for (int64_t k = 0; k < win_h; k++) {
            if (th.start[k] < row0) row0 = th.start[k];
            if (th.start[k] + th.size[k] > row1) row1 = th.start[k] + th.size[k];
        }
        if (row1 <= row0) row0 = row1 = 0;
    }
    if (do_w) CTXPAR_TRY_GOTO(taps_make(in_w, out_w, left, win_w, filter, &tw));
    const int64_t mid_rows = row1 - row0;
    mid = malloc(sizeof(float) * (size_t)((mid_rows > 0 ? mid_rows : 1) * win_w * channels));
    if (!mid) {
        status = ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory for resizing");
        goto fail;
    }
    /* Width pass: input rows [row0, row1) -> mid [mid_rows][win_w][channels]. */
    for (int64_t y = 0; y < mid_rows; y++) {
        const float *row = src + (row0 + y) * in_w * channels;
        float *out_row = mid + y * win_w * channels;
        for (int64_t x = 0; x < win_w; x++)
            for (int64_t c = 0; c < channels; c++) {
                if (do_w)
                    out_row[x * channels + c] =
                        apply_taps(row + tw.start[x] * channels + c, channels,
                                   tw.weights + x * tw.max_taps, tw.size[x]);
                else
                    out_row[x * channels + c] = row[(left + x) * channels + c];
            }
    }
    /* Height pass: mid -> dst [win_h][win_w][channels]. */
    const int64_t row_len = win_w * channels;
    for (int64_t y = 0; y < win_h; y++) {
        float *out_row = dst + y * row_len;
        if (!do_h) {
            memcpy(out_row, mid + (y + top - row0) * row_len, sizeof(float) * (size_t)row_len);
            continue;
        }
        const float *base = mid + (th.start[y] - row0) * row_len;
        for (int64_t p = 0; p < row_len; p++)
            out_row[p] = apply_taps(base + p, row_len, th.weights + y * th.max_taps, th.size[y]);
    }
fail:
    free(mid);
    taps_free(&th);
    taps_free(&tw);
    return status;
}

static ctxpar_status check_window(int64_t out_h, int64_t out_w, int64_t top, int64_t left,
                                  int64_t win_h, int64_t win_w) {
    if (out_h < 1 || out_w < 1 || top < 0 || left < 0 || win_h < 1 || win_w < 1 ||
        top + win_h > out_h || left + win_w > out_w)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                            "resize: window %lldx%lld at (%lld, %lld) does not fit the %lldx%lld "
                            "(WxH) resized frame",
                            (long long)win_w, (long long)win_h, (long long)left, (long long)top,
                            (long long)out_w, (long long)out_h);
    return CTXPAR_OK;
}

ctxpar_status ctxpar_video_resize_plane(const float *src, int64_t in_h, int64_t in_w,
                                        int64_t out_h, int64_t out_w,
                                        ctxpar_resize_filter filter, float *dst) {
    CTXPAR_TRY(check_window(out_h, out_w, 0, 0, out_h, out_w));
    return resize_core(src, 1, in_h, in_w, out_h, out_w, 0, 0, out_h, out_w, filter, dst);
}

ctxpar_status ctxpar_video_resize_rgb(const uint8_t *src, int64_t in_h, int64_t in_w,
                                      int64_t out_h, int64_t out_w, int64_t top, int64_t left,
                                      int64_t win_h, int64_t win_w, ctxpar_resize_filter filter,
                                      uint8_t *dst) {
    CTXPAR_TRY(check_window(out_h, out_w, top, left, win_h, win_w));
    const int64_t in_n = in_h * in_w * 3, out_n = win_h * win_w * 3;
    float *in_f = malloc(sizeof(float) * (size_t)in_n);
    float *out_f = malloc(sizeof(float) * (size_t)out_n);
    ctxpar_status status = CTXPAR_OK;
    if (!in_f || !out_f) {
        status = ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory for resizing");
        goto done;
    }
    for (int64_t i = 0; i < in_n; i++) in_f[i] = (float)src[i];
    status = resize_core(in_f, 3, in_h, in_w, out_h, out_w, top, left, win_h, win_w, filter,
                         out_f);
    if (status == CTXPAR_OK)
        for (int64_t i = 0; i < out_n; i++) {
            float v = nearbyintf(out_f[i]); /* torch.round: half to even */
            dst[i] = (uint8_t)(v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v);
        }
done:
    free(in_f);
    free(out_f);
    return status;
}
