/* The seeded synthetic video: a static textured background (smooth
 * sinusoids plus per-pixel grain, spread over 0..255) and 3-5 discs or
 * squares that bounce off the borders at a few pixels per frame.
 *
 * Every byte is a pure function of (seed, t, y, x, height, width): the scene
 * is derived from the seed, object positions from t alone (closed-form
 * bouncing, no simulation state), so a rank makes only its own frames and
 * every rank count sees the same video. Frames are quantised to uint8 before
 * normalising, so an HDF5 copy of the video reads back bit-identical. */
#include "runtime/input/synthetic.h"

#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/core/memory.h"
#include "runtime/formats/hdf5_io.h"

#define SYNTH_MAX_OBJECTS 5
#define SYNTH_PI 3.14159265358979323846

typedef struct synth_object {
    double x0, y0;  /* centre at t = 0, pixels */
    double vx, vy;  /* pixels per frame */
    double radius;  /* disc radius or square half-side */
    int square;
    uint8_t color[3];
} synth_object;

typedef struct synth_scene {
    uint64_t key;
    int64_t height, width;
    double freq[3][3], phase[3][3]; /* per channel: x wave, y wave, diagonal wave */
    int n_objects;
    synth_object objects[SYNTH_MAX_OBJECTS];
} synth_scene;

static inline uint64_t synth_mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1) from (key, stream, index). */
static inline double synth_unit(uint64_t key, uint64_t stream, uint64_t index) {
    uint64_t z = synth_mix(key + stream * 0xD1B54A32D192ED03ull);
    z = synth_mix(z + (index + 1) * 0x9E3779B97F4A7C15ull);
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

enum { STREAM_SCENE = 1, STREAM_GRAIN = 2 };

static void synth_scene_init(synth_scene *s, uint64_t seed, int64_t height, int64_t width) {
    memset(s, 0, sizeof *s);
    s->key = synth_mix(seed ^ 0xC7A9B1E5D3F20417ull);
    s->height = height;
    s->width = width;
    uint64_t draw = 0;
#define NEXT() synth_unit(s->key, STREAM_SCENE, draw++)
    for (int c = 0; c < 3; c++)
        for (int k = 0; k < 3; k++) {
            s->freq[c][k] = 1.0 + floor(NEXT() * 3.0); /* 1..3 periods across the frame */
            s->phase[c][k] = NEXT();
        }
    s->n_objects = 3 + (int)floor(NEXT() * 3.0);
    const double size = (double)(height < width ? height : width);
    for (int k = 0; k < s->n_objects; k++) {
        synth_object *o = &s->objects[k];
        o->radius = fmax(1.5, size / 16.0 * (0.75 + 0.5 * NEXT())); /* diameter ~ H/8 */
        o->square = NEXT() < 0.5;
        for (int c = 0; c < 3; c++) o->color[c] = (uint8_t)floor(NEXT() * 256.0);
        o->x0 = NEXT() * (double)width;
        o->y0 = NEXT() * (double)height;
        double speed = 1.0 + 2.0 * NEXT(); /* 1..3 pixels per frame */
        double angle = 2.0 * SYNTH_PI * NEXT();
        o->vx = speed * cos(angle);
        o->vy = speed * sin(angle);
    }
#undef NEXT
}

/* Position along one axis bouncing between radius and extent - radius. */
static double synth_bounce(double start, double velocity, int64_t t, double radius,
                           double extent) {
    double span = extent - 2.0 * radius;
    if (span <= 0.0) return extent / 2.0;
    double p = fmod(start - radius + velocity * (double)t, 2.0 * span);
    if (p < 0.0) p += 2.0 * span;
    if (p > span) p = 2.0 * span - p;
    return radius + p;
}

typedef struct synth_placed {
    double cx, cy, radius;
    int square;
    const uint8_t *color;
    int64_t y_lo, y_hi, x_lo, x_hi; /* bounding box, inclusive */
} synth_placed;

static int synth_place(const synth_scene *s, int64_t t, synth_placed *placed) {
    for (int k = 0; k < s->n_objects; k++) {
        const synth_object *o = &s->objects[k];
        synth_placed *p = &placed[k];
        p->cx = synth_bounce(o->x0, o->vx, t, o->radius, (double)s->width);
        p->cy = synth_bounce(o->y0, o->vy, t, o->radius, (double)s->height);
        p->radius = o->radius;
        p->square = o->square;
        p->color = o->color;
        p->x_lo = (int64_t)floor(p->cx - p->radius - 1.0);
        p->x_hi = (int64_t)ceil(p->cx + p->radius + 1.0);
        p->y_lo = (int64_t)floor(p->cy - p->radius - 1.0);
        p->y_hi = (int64_t)ceil(p->cy + p->radius + 1.0);
    }
    return s->n_objects;
}

static uint8_t synth_background(const synth_scene *s, int64_t y, int64_t x, int c) {
    const double fx = ((double)x + 0.5) / (double)s->width;
    const double fy = ((double)y + 0.5) / (double)s->height;
    const double *f = s->freq[c], *ph = s->phase[c];
    double smooth = 0.45 * sin(2.0 * SYNTH_PI * (f[0] * fx + ph[0])) +
                    0.35 * sin(2.0 * SYNTH_PI * (f[1] * fy + ph[1])) +
                    0.20 * sin(2.0 * SYNTH_PI * (f[2] * (fx + fy) + ph[2]));
    double grain =
        2.0 * synth_unit(s->key, STREAM_GRAIN, (uint64_t)((y * s->width + x) * 3 + c)) - 1.0;
    double v = 127.5 + 100.0 * smooth + 27.0 * grain;
    v = v < 0.0 ? 0.0 : (v > 255.0 ? 255.0 : v);
    return (uint8_t)lrint(v);
}

/* The topmost object covering pixel (y, x), or NULL. */
static const uint8_t *synth_cover(const synth_placed *placed, int n, int64_t y, int64_t x) {
    const uint8_t *color = NULL;
    for (int k = 0; k < n; k++) {
        const synth_placed *p = &placed[k];
        if (y < p->y_lo || y > p->y_hi || x < p->x_lo || x > p->x_hi) continue;
        double dx = (double)x + 0.5 - p->cx, dy = (double)y + 0.5 - p->cy;
        int inside = p->square ? (fabs(dx) <= p->radius && fabs(dy) <= p->radius)
                               : (dx * dx + dy * dy <= p->radius * p->radius);
        if (inside) color = p->color;
    }
    return color;
}

static void synth_fill_background(const synth_scene *s, uint8_t *rgb) {
#pragma omp parallel for schedule(static)
    for (int64_t y = 0; y < s->height; y++)
        for (int64_t x = 0; x < s->width; x++)
            for (int c = 0; c < 3; c++)
                rgb[(y * s->width + x) * 3 + c] = synth_background(s, y, x, c);
}

/* Frame t as uint8 [H][W][3], given the background. */
static void synth_frame_from_background(const synth_scene *s, const uint8_t *background,
                                        int64_t t, uint8_t *rgb) {
    synth_placed placed[SYNTH_MAX_OBJECTS];
    int n = synth_place(s, t, placed);
    const int64_t pixels = s->height * s->width;
    memcpy(rgb, background, (size_t)pixels * 3);
    for (int k = 0; k < n; k++) {
        const synth_placed *p = &placed[k];
        for (int64_t y = p->y_lo < 0 ? 0 : p->y_lo; y <= p->y_hi && y < s->height; y++)
            for (int64_t x = p->x_lo < 0 ? 0 : p->x_lo; x <= p->x_hi && x < s->width; x++) {
                const uint8_t *color = synth_cover(placed, n, y, x);
                if (color) memcpy(rgb + (y * s->width + x) * 3, color, 3);
            }
    }
}

void ctxpar_source_synthetic_frame(uint64_t seed, int64_t t, int64_t height, int64_t width,
                                   uint8_t *rgb) {
    synth_scene scene;
    synth_scene_init(&scene, seed, height, width);
    synth_fill_background(&scene, rgb);
    synth_placed placed[SYNTH_MAX_OBJECTS];
    int n = synth_place(&scene, t, placed);
#pragma omp parallel for schedule(static)
    for (int64_t y = 0; y < height; y++)
        for (int64_t x = 0; x < width; x++) {
            const uint8_t *color = synth_cover(placed, n, y, x);
            if (color) memcpy(rgb + (y * width + x) * 3, color, 3);
        }
}

void ctxpar_source_init_synthetic(ctxpar_source *out, uint64_t seed, int64_t frames,
                                  int64_t height, int64_t width) {
    memset(out, 0, sizeof *out);
    out->kind = CTXPAR_SOURCE_SYNTHETIC;
    out->seed = seed;
    out->frames = frames;
    out->height = height;
    out->width = width;
    strcpy(out->dataset, "video");
}

ctxpar_status ctxpar_source_read_synthetic(const ctxpar_source *source, int64_t first_frame,
                                           int64_t n_frames, float *out) {
    const int64_t height = source->height, width = source->width;
    if (height < 1 || width < 1 || first_frame < 0 || n_frames < 0)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                            "synthetic video: bad request for frames [%lld, %lld) of %lldx%lld "
                            "(WxH)",
                            (long long)first_frame, (long long)(first_frame + n_frames),
                            (long long)width, (long long)height);
    if (n_frames == 0) return CTXPAR_OK;
    synth_scene scene;
    synth_scene_init(&scene, source->seed, height, width);
    uint8_t *background = ctxpar_mem_alloc((size_t)(height * width * 3), CTXPAR_MEM_INPUT,
                                           "synthetic video background");
    if (!background) return CTXPAR_ERR_NO_MEMORY;
    synth_fill_background(&scene, background);
    const int64_t plane = height * width, channel_stride = n_frames * plane;
#pragma omp parallel for schedule(static)
    for (int64_t f = 0; f < n_frames; f++) {
        synth_placed placed[SYNTH_MAX_OBJECTS];
        int n = synth_place(&scene, first_frame + f, placed);
        float *frame_out = out + f * plane;
        for (int64_t y = 0; y < height; y++)
            for (int64_t x = 0; x < width; x++) {
                const uint8_t *color = synth_cover(placed, n, y, x);
                const uint8_t *u = color ? color : background + (y * width + x) * 3;
                for (int c = 0; c < 3; c++)
                    frame_out[c * channel_stride + y * width + x] = (float)u[c] / 127.5f - 1.0f;
            }
    }
    ctxpar_mem_free(background);
    return CTXPAR_OK;
}

ctxpar_status ctxpar_source_write_synthetic(const char *path, const char *dataset, uint64_t seed,
                                            int64_t frames, int64_t height, int64_t width) {
    if (frames < 1 || height < 1 || width < 1)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                            "%s: a video needs at least one frame and pixel, got %lld frames of "
                            "%lldx%lld (WxH)",
                            path, (long long)frames, (long long)width, (long long)height);
    ctxpar_status status = CTXPAR_OK;
    hid_t file = -1, lcpl = -1, dcpl = -1, file_space = -1, mem_space = -1, dset = -1;
    uint8_t *background = NULL, *rgb = NULL;
    const int64_t frame_bytes = height * width * 3;
    synth_scene scene;
    synth_scene_init(&scene, seed, height, width);

    background = ctxpar_mem_alloc((size_t)frame_bytes, CTXPAR_MEM_INPUT, "video background");
    rgb = ctxpar_mem_alloc((size_t)frame_bytes, CTXPAR_MEM_INPUT, "video frame");
    if (!background || !rgb) {
        status = CTXPAR_ERR_NO_MEMORY;
        goto fail;
    }
    synth_fill_background(&scene, background);

    file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) {
        H5Eclear2(H5E_DEFAULT);
        status = ctxpar_error(CTXPAR_ERR_IO, "%s: cannot create the video file", path);
        goto fail;
    }
    hsize_t dims[4] = {(hsize_t)frames, (hsize_t)height, (hsize_t)width, 3};
    /* One frame per chunk (a rank reads whole frames), split by rows if a
     * frame exceeds HDF5's 4 GiB chunk limit. */
    hsize_t chunk[4] = {1, (hsize_t)height, (hsize_t)width, 3};
    while (chunk[1] > 1 && chunk[1] * chunk[2] * 3 > ((hsize_t)1 << 31))
        chunk[1] = (chunk[1] + 1) / 2;
    CTXPAR_H5_CHECK_GOTO(lcpl = H5Pcreate(H5P_LINK_CREATE));
    CTXPAR_H5_CHECK_GOTO(H5Pset_create_intermediate_group(lcpl, 1));
    CTXPAR_H5_CHECK_GOTO(dcpl = H5Pcreate(H5P_DATASET_CREATE));
    CTXPAR_H5_CHECK_GOTO(H5Pset_chunk(dcpl, 4, chunk));
    CTXPAR_H5_CHECK_GOTO(file_space = H5Screate_simple(4, dims, NULL));
    CTXPAR_H5_CHECK_GOTO(dset = H5Dcreate2(file, dataset, H5T_STD_U8LE, file_space, lcpl, dcpl,
                                           H5P_DEFAULT));
    hsize_t frame_dims[4] = {1, (hsize_t)height, (hsize_t)width, 3};
    CTXPAR_H5_CHECK_GOTO(mem_space = H5Screate_simple(4, frame_dims, NULL));
    for (int64_t t = 0; t < frames; t++) {
        synth_frame_from_background(&scene, background, t, rgb);
        hsize_t start[4] = {(hsize_t)t, 0, 0, 0};
        CTXPAR_H5_CHECK_GOTO(
            H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, NULL, frame_dims, NULL));
        CTXPAR_H5_CHECK_GOTO(
            H5Dwrite(dset, H5T_NATIVE_UINT8, mem_space, file_space, H5P_DEFAULT, rgb));
    }
fail:
    if (dset >= 0) H5Dclose(dset);
    if (mem_space >= 0) H5Sclose(mem_space);
    if (file_space >= 0) H5Sclose(file_space);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (lcpl >= 0) H5Pclose(lcpl);
    if (file >= 0 && H5Fclose(file) < 0 && status == CTXPAR_OK)
        status = ctxpar_hdf5_error("H5Fclose(file)", __FILE__, __LINE__);
    ctxpar_mem_free(rgb);
    ctxpar_mem_free(background);
    return status;
}
