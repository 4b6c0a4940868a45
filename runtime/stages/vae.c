/* The distributed causal VAE encoder (see vae.h for the decomposition).
 *
 * One walk serves two purposes: with `estimate` set, every allocation is only
 * counted and no kernel or message runs, which gives the plan its memory,
 * FLOP and byte figures from the very code that will execute. */
#include "runtime/stages/vae.h"

#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Conv scratch budget when --chunk-frames is not given (floats). */
#define VAE_AUTO_SCRATCH_FLOATS ((int64_t)32 << 20)
/* The posterior log-variance is clamped like diffusers' DiagonalGaussianDistribution. */
#define VAE_LOGVAR_MIN (-30.0f)
#define VAE_LOGVAR_MAX 20.0f

typedef struct vae_run {
    const ctxpar_backend *backend;
    ctxpar_comm_t comm;
    const ctxpar_model *model;
    const ctxpar_model_config *config;
    const ctxpar_plan *plan;
    int rank, ranks;
    int estimate;
    int64_t time_factor; /* input frames per frame at the current layer */
    int tag;
    int64_t live_bytes, peak_bytes; /* estimate mode */
    int64_t layers_done, layers_total;
    ctxpar_vae_stats *stats;
    ctxpar_vae_progress_fn progress;
    void *progress_user;
    /* Recycled memory (see "allocation" below): one freed activation kept
     * for the next allocation of the same size, and the convs' halo, send
     * and scratch buffers, which only grow. */
    float *spare;
    int64_t spare_floats;
    float *conv_buf[3];
    int64_t conv_buf_floats[3];
} vae_run;

enum { CONV_HALO, CONV_SEND, CONV_SCRATCH };
/* Freed activations at least this large are kept as the spare. */
#define VAE_SPARE_MIN_FLOATS ((int64_t)1 << 18)

/* ---- allocation that counts in both modes ----------------------------- */

/* Every activation and conv buffer of the VAE is large, and a fresh one
 * costs its page faults and the kernel's zeroing on first touch (~10% of the
 * CogVideoX encoder when every buffer was new). So memory is recycled in two
 * ways, both counted as live while held, in the estimate walk as in the run:
 * - the spare: a freed activation is kept (not returned) until the next
 *   activation allocation; one of exactly its size takes it, any other size
 *   frees it first. A residual block frees its input as the next one
 *   allocates an output of the same shape, so the peak does not grow.
 * - conv buffers (halo, halo send, scratch) are kept between convs and only
 *   grow. A recycled buffer is not zeroed: every kernel writes what it
 *   reads. */
static void spare_release(vae_run *run) {
    if (run->spare_floats == 0) return;
    if (run->estimate)
        run->live_bytes -= run->spare_floats * (int64_t)sizeof(float);
    else
        ctxpar_mem_free(run->spare);
    run->spare = NULL, run->spare_floats = 0;
}

static void video_shape(ctxpar_tensor *t, int64_t c, int64_t frames, int64_t h, int64_t w) {
    memset(t, 0, sizeof *t);
    t->ndim = 4;
    t->shape[0] = c, t->shape[1] = frames, t->shape[2] = h, t->shape[3] = w;
    t->stride[3] = 1, t->stride[2] = w, t->stride[1] = h * w, t->stride[0] = frames * h * w;
}

static ctxpar_status act_alloc(vae_run *run, ctxpar_tensor *t, const char *what, int64_t c,
                               int64_t frames, int64_t h, int64_t w) {
    int64_t floats = c * frames * h * w;
    if (floats > 0 && floats == run->spare_floats) {
        video_shape(t, c, frames, h, w);
        t->data = run->spare; /* NULL in the estimate walk */
        run->spare = NULL, run->spare_floats = 0;
        return CTXPAR_OK;
    }
    spare_release(run);
    if (!run->estimate) return ctxpar_tensor_alloc_video(t, CTXPAR_MEM_VAE, what, c, frames, h, w);
    video_shape(t, c, frames, h, w);
    run->live_bytes += floats * (int64_t)sizeof(float);
    if (run->live_bytes > run->peak_bytes) run->peak_bytes = run->live_bytes;
    return CTXPAR_OK;
}

static void act_free(vae_run *run, ctxpar_tensor *t) {
    int64_t floats = t->ndim > 0 ? ctxpar_tensor_count(t) : 0;
    if (floats >= VAE_SPARE_MIN_FLOATS && (run->estimate || t->data)) {
        spare_release(run);
        run->spare = t->data, run->spare_floats = floats;
    } else if (run->estimate) {
        run->live_bytes -= floats * (int64_t)sizeof(float);
    } else {
        ctxpar_tensor_free(t);
    }
    memset(t, 0, sizeof *t);
}

static ctxpar_status scratch_alloc(vae_run *run, float **out, int64_t floats, const char *what) {
    if (run->estimate) {
        *out = NULL;
        run->live_bytes += floats * (int64_t)sizeof(float);
        if (run->live_bytes > run->peak_bytes) run->peak_bytes = run->live_bytes;
        return CTXPAR_OK;
    }
    return ctxpar_mem_alloc_floats(out, floats, CTXPAR_MEM_VAE, what);
}

static void scratch_free(vae_run *run, float *p, int64_t floats) {
    if (run->estimate)
        run->live_bytes -= floats * (int64_t)sizeof(float);
    else
        ctxpar_mem_free(p);
}

/* Conv buffer `which` with at least `floats` floats, kept for later convs. */
static ctxpar_status conv_buf(vae_run *run, int which, int64_t floats, const char *what,
                              float **out) {
    if (run->conv_buf_floats[which] < floats) {
        scratch_free(run, run->conv_buf[which], run->conv_buf_floats[which]);
        run->conv_buf[which] = NULL, run->conv_buf_floats[which] = 0;
        CTXPAR_TRY(scratch_alloc(run, &run->conv_buf[which], floats, what));
        run->conv_buf_floats[which] = floats;
    }
    *out = run->conv_buf[which];
    return CTXPAR_OK;
}

/* Everything recycled, returned at the end of the encoder. */
static void recycled_release(vae_run *run) {
    spare_release(run);
    for (int i = 0; i < 3; i++) {
        if (run->conv_buf_floats[i] > 0)
            scratch_free(run, run->conv_buf[i], run->conv_buf_floats[i]);
        run->conv_buf[i] = NULL, run->conv_buf_floats[i] = 0;
    }
}

/* The model's ops, resolved once at load; the estimate walk has no model
 * and gets empty ones (it reads neither names nor weights). */
static const ctxpar_op no_op;
static const ctxpar_resblock_ops no_resblock;
#define MODEL_OP(run, field) ((run)->model ? &(run)->model->ops.field : &no_op)

static const ctxpar_resblock_ops *stage_res_ops(const vae_run *run, int i, int j) {
    return run->model ? ctxpar_model_stage_res(run->model, i, j) : &no_resblock;
}

static const ctxpar_resblock_ops *mid_ops(const vae_run *run, int j) {
    return run->model ? &run->model->ops.vae_mid[j] : &no_resblock;
}

static void layer_done(vae_run *run) {
    run->layers_done++;
    if (!run->estimate && run->progress)
        run->progress(run->progress_user, run->layers_done, run->layers_total);
}

static double now(void) { return MPI_Wtime(); }

/* This rank's frames at the current layer start at global frame local0. */
static int64_t local_first_frame(const vae_run *run) {
    return ctxpar_plan_frame_at(run->plan->first_frame[run->rank], run->time_factor);
}

/* ---- causal convolution with the conv-cache handoff -------------------- */

/* --dtype bf16: every conv runs on the bf16 GEMM (conv_bf16.h; its causal
 * 3x3x3 convs as bf16 Winograd on a VDPBF16PS core), its weight packed once
 * per node (model_bf16.c); the estimate walk sizes the same. */
static int vae_bf16(const vae_run *run) {
    return run->plan->dtype == CTXPAR_DTYPE_BF16 && run->backend->conv_bf16;
}

/* A conv's packed weight; NULL in the estimate walk, which has no model. */
static const ctxpar_bf16 *packed_weight(const vae_run *run, const ctxpar_op *op) {
    return run->estimate ? NULL : op->packed;
}

/* Frames per convolution call: --chunk-frames when given, otherwise the most
 * frames whose scratch (as the backend sizes it) fits the automatic budget. */
static int64_t conv_chunk_frames(const vae_run *run, int64_t cin, int64_t cout, int kt, int k,
                                 int64_t h, int64_t w, int64_t frames) {
    int64_t f = run->plan->conv_chunk_frames;
    if (f <= 0) {
        /* Halve while that shrinks the scratch: a kernel whose scratch does
         * not grow with the frames of a call (Winograd's ring of transformed
         * frames) gets all frames in one call, not a call per frame. */
        f = frames;
        int64_t scratch = run->backend->conv3d_scratch_floats(cin, cout, kt, k, k, h, w, f);
        while (f > 1 && scratch > VAE_AUTO_SCRATCH_FLOATS) {
            int64_t half = (f + 1) / 2;
            int64_t smaller = run->backend->conv3d_scratch_floats(cin, cout, kt, k, k, h, w, half);
            if (smaller >= scratch) break;
            f = half, scratch = smaller;
        }
    }
    if (f < 1) f = 1;
    if (f > frames) f = frames;
    return f;
}

/* Complete the halo receive (if still pending), counting the time blocked. */
static ctxpar_status finish_recv(vae_run *run, ctxpar_comm_exchange *recv_ex, double *done_at) {
    if (recv_ex->n_requests == 0) return CTXPAR_OK;
    double wait0 = now();
    CTXPAR_TRY(ctxpar_comm_exchange_end(run->comm, recv_ex));
    *done_at = now();
    run->stats->halo_wait_seconds += *done_at - wait0;
    return CTXPAR_OK;
}

/* y = CausalConv3d(x) with kernel kt x k x k. y may be x (in place) when
 * cin == cout. Only the first `cout` rows of the op's weight are used (the
 * posterior mean of conv_out). fuse: NULL, or work folded into the conv
 * (only where the backend's conv3d_fuses allows); its halo frames are x's
 * raw frames like the conv's own. */
static ctxpar_status conv_causal(vae_run *run, ctxpar_tensor *x, const ctxpar_op *op, int64_t cout,
                                 int kt, int k, ctxpar_tensor *y, int in_place,
                                 const ctxpar_conv3d_fusion *fuse) {
    ctxpar_status status = CTXPAR_OK;
    const int64_t cin = x->shape[0], frames = x->shape[1], h = x->shape[2], w = x->shape[3];
    const int64_t hw = h * w, halo_n = kt - 1;
    const int64_t halo_floats = cin * halo_n * hw;
    float *halo = NULL, *send = NULL, *scratch = NULL;
    int64_t chunk = conv_chunk_frames(run, cin, cout, kt, k, h, w, frames);
    const ctxpar_conv_bf16_shape bf16_shape = {cin, cout, kt, k, k, 1, (k - 1) / 2, (k - 1) / 2,
                                               h, w, h, w};
    int64_t scratch_floats =
        vae_bf16(run) ? run->backend->conv_bf16_scratch_floats(&bf16_shape, in_place)
                      : run->backend->conv3d_scratch_floats(cin, cout, kt, k, k, h, w, chunk);
    const int has_prev = run->rank > 0, has_next = run->rank + 1 < run->ranks;
    ctxpar_comm_exchange recv_ex = {.n_requests = 0}, send_ex = {.n_requests = 0};
    double recv_done = 0.0;
    int tag = run->tag++;
    double t0 = now();

    if (in_place)
        *y = *x;
    else
        CTXPAR_TRY_GOTO(act_alloc(run, y, op->name, cout, frames, h, w));
    if (halo_n > 0) {
        CTXPAR_TRY_GOTO(conv_buf(run, CONV_HALO, halo_floats, "conv halo", &halo));
        if (has_next)
            CTXPAR_TRY_GOTO(conv_buf(run, CONV_SEND, halo_floats, "conv halo send", &send));
    }
    CTXPAR_TRY_GOTO(conv_buf(run, CONV_SCRATCH, scratch_floats, "conv scratch", &scratch));
    run->stats->flops += 2.0 * (double)cout * (double)cin * kt * k * k * (double)(frames * hw);

    if (!run->estimate && halo_n > 0) {
        if (!has_prev) {
            /* Global frame 0 is here: replicate it kt-1 times. */
            for (int64_t c = 0; c < cin; c++)
                for (int64_t j = 0; j < halo_n; j++)
                    memcpy(halo + (c * halo_n + j) * hw, x->data + c * x->stride[0],
                           (size_t)hw * sizeof(float));
        } else {
            CTXPAR_TRY_GOTO(ctxpar_comm_sendrecv_begin(
                run->comm, NULL, 0, MPI_PROC_NULL, halo, halo_floats * (int64_t)sizeof(float),
                run->rank - 1, tag, &recv_ex));
        }
        if (has_next) {
            /* The next rank needs the last kt-1 frames of (halo ++ x). With fewer
             * local frames than that, part comes from our own halo: wait for it. */
            if (frames < halo_n) CTXPAR_TRY_GOTO(finish_recv(run, &recv_ex, &recv_done));
            for (int64_t c = 0; c < cin; c++)
                for (int64_t j = 0; j < halo_n; j++) {
                    int64_t t = frames - halo_n + j; /* may be negative: from the halo */
                    const float *src = t >= 0 ? x->data + c * x->stride[0] + t * hw
                                              : halo + (c * halo_n + (t + halo_n)) * hw;
                    memcpy(send + (c * halo_n + j) * hw, src, (size_t)hw * sizeof(float));
                }
            CTXPAR_TRY_GOTO(ctxpar_comm_sendrecv_begin(
                run->comm, send, halo_floats * (int64_t)sizeof(float), run->rank + 1, NULL, 0,
                MPI_PROC_NULL, tag, &send_ex));
            run->stats->halo_bytes_sent += halo_floats * (int64_t)sizeof(float);
        }
    } else if (run->estimate && has_next) {
        run->stats->halo_bytes_sent += halo_floats * (int64_t)sizeof(float);
    }

    if (!run->estimate) {
        const float *wgt = op->weight, *bias = op->bias;
        /* A conv that can take fused work, and every bf16 conv, always gets
         * the video's index of its frame 0: Winograd in time (float32 or
         * bf16) pairs frames by it, so each frame is computed the same way
         * whichever rank holds it. */
        ctxpar_conv3d_fusion fused = fuse ? *fuse : (ctxpar_conv3d_fusion){0};
        fused.first_frame = local_first_frame(run);
        if (!fuse && !vae_bf16(run) && run->backend->conv3d_fuses &&
            run->backend->conv3d_fuses(cin, cout, kt, k, k, h, w))
            fuse = &fused;
        /* Last chunk first: in place is safe and the halo arrives meanwhile. */
        for (int64_t t_end = frames; t_end > 0;) {
            int64_t t_begin = t_end - chunk > 0 ? t_end - chunk : 0;
            if (t_begin < halo_n) CTXPAR_TRY_GOTO(finish_recv(run, &recv_ex, &recv_done));
            if (vae_bf16(run))
                run->backend->conv_bf16(x->data, x->stride[0], halo, y->data, y->stride[0],
                                        packed_weight(run, op), bias, &bf16_shape, t_begin, t_end,
                                        in_place, &fused, scratch);
            else if (fuse)
                run->backend->conv3d_causal_fused(x->data, x->stride[0], halo, y->data,
                                                  y->stride[0], wgt, bias, cin, cout, kt, k, k, h,
                                                  w, t_begin, t_end, &fused, scratch);
            else
                run->backend->conv3d_causal(x->data, x->stride[0], halo, y->data, y->stride[0],
                                            wgt, bias, cin, cout, kt, k, k, h, w, t_begin, t_end,
                                            scratch);
            ctxpar_comm_exchange_poke(&send_ex);
            t_end = t_begin;
        }
        CTXPAR_TRY_GOTO(finish_recv(run, &recv_ex, &recv_done));
        double wait0 = now();
        int had_send = send_ex.n_requests > 0;
        CTXPAR_TRY_GOTO(ctxpar_comm_exchange_end(run->comm, &send_ex));
        run->stats->halo_wait_seconds += now() - wait0;
        if (had_send) run->stats->halo_exchange_seconds += now() - send_ex.posted_at;
        if (has_prev && halo_n > 0)
            run->stats->halo_exchange_seconds += recv_done - recv_ex.posted_at;
    }
    run->stats->seconds_conv += now() - t0;

fail:
    return status;
}

/* ---- group norm: exact (whole video) or per chunk ---------------------- */

/* Segment s's frames among this rank's `frames` at a layer with 1/k of the
 * input's frames, whose first is global frame local0: [*a, *b), empty if b <= a. */
static void segment_part(const ctxpar_plan *plan, int s, int64_t k, int64_t local0,
                         int64_t frames, int64_t *a, int64_t *b) {
    *a = ctxpar_plan_frame_at(plan->norm_bounds[s], k) - local0;
    *b = ctxpar_plan_frame_at(plan->norm_bounds[s + 1], k) - local0;
    if (*a < 0) *a = 0;
    if (*b > frames) *b = frames;
}

/* GroupNorm statistics of x for every normalisation segment (n_seg*groups,
 * malloc'd): each segment's statistics over the whole video's frames in it,
 * whichever ranks hold those frames. */
static ctxpar_moments *norm_moments(vae_run *run, const ctxpar_tensor *x, const ctxpar_op *op) {
    const int groups = run->config->vae.groups;
    const int64_t c = x->shape[0], frames = x->shape[1], hw = x->shape[2] * x->shape[3];
    const ctxpar_plan *plan = run->plan;
    const int n_seg = plan->n_norm_segments;
    const int64_t k = run->time_factor, local0 = local_first_frame(run);
    ctxpar_moments *moments = calloc((size_t)n_seg * (size_t)groups, sizeof *moments);
    if (!moments)
        ctxpar_comm_abort(run->comm,
                          ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory in %s", op->name));
    for (int s = 0; s < n_seg; s++) {
        int64_t a, b;
        segment_part(plan, s, k, local0, frames, &a, &b);
        if (b > a)
            run->backend->group_moments(x->data + a * hw, x->stride[0], c, (b - a) * hw, groups,
                                        moments + (size_t)s * groups);
    }
    ctxpar_status status = ctxpar_comm_combine_moments(run->comm, moments, n_seg * groups);
    if (status != CTXPAR_OK) ctxpar_comm_abort(run->comm, status);
    return moments;
}

/* One GroupNorm op over x: its affine parameters and statistics, and where
 * this rank's frames sit at the current layer. */
typedef struct norm_op {
    const float *weight, *bias;
    float eps;
    ctxpar_moments *moments; /* n_norm_segments * groups */
    int64_t k, local0;       /* time factor, global index of local frame 0 */
    double t0;
} norm_op;

static norm_op norm_begin(vae_run *run, const ctxpar_tensor *x, const ctxpar_op *op) {
    norm_op n = {.t0 = now()};
    n.weight = op->weight, n.bias = op->bias;
    n.eps = (float)run->config->vae.norm_eps;
    n.k = run->time_factor, n.local0 = local_first_frame(run);
    n.moments = norm_moments(run, x, op);
    return n;
}

static void norm_end(vae_run *run, norm_op *n) {
    free(n->moments);
    run->stats->seconds_norm += now() - n->t0;
}

static ctxpar_status group_norm(vae_run *run, ctxpar_tensor *y, const ctxpar_tensor *x,
                                const ctxpar_op *op, int silu) {
    const int groups = run->config->vae.groups;
    const int64_t c = x->shape[0], frames = x->shape[1], hw = x->shape[2] * x->shape[3];
    const ctxpar_plan *plan = run->plan;
    if (run->estimate) return CTXPAR_OK;
    norm_op n = norm_begin(run, x, op);
    for (int s = 0; s < plan->n_norm_segments; s++) {
        int64_t a, b;
        segment_part(plan, s, n.k, n.local0, frames, &a, &b);
        if (b <= a) continue;
        run->backend->group_norm_apply(y->data + a * hw, y->stride[0], x->data + a * hw,
                                       x->stride[0], c, (b - a) * hw, groups,
                                       n.moments + (size_t)s * groups, n.weight, n.bias, n.eps,
                                       silu);
    }
    norm_end(run, &n);
    return CTXPAR_OK;
}

/* GroupNorm op over x as per-frame affine maps for a fused conv with
 * halo_n halo frames: scale/shift[(t + halo_n)*c + ch] for t in
 * [-halo_n, frames). A halo frame is the global frame just before this
 * rank's (frame 0 replicated before the video's start), normalised with its
 * own segment's statistics. *floats: what was allocated for each. */
static ctxpar_status norm_affine(vae_run *run, const ctxpar_tensor *x, const ctxpar_op *op,
                                 int64_t halo_n, float **scale, float **shift, int64_t *floats) {
    const int groups = run->config->vae.groups;
    const int64_t c = x->shape[0], frames = x->shape[1];
    const ctxpar_plan *plan = run->plan;
    *floats = (halo_n + frames) * c;
    CTXPAR_TRY(scratch_alloc(run, scale, *floats, "norm scale"));
    ctxpar_status status = scratch_alloc(run, shift, *floats, "norm shift");
    if (status != CTXPAR_OK) {
        scratch_free(run, *scale, *floats);
        return status;
    }
    if (run->estimate) return CTXPAR_OK;
    norm_op n = norm_begin(run, x, op);
    for (int64_t t = -halo_n; t < frames; t++) {
        int64_t global = n.local0 + t < 0 ? 0 : n.local0 + t;
        int s = 0;
        while (s + 1 < plan->n_norm_segments &&
               ctxpar_plan_frame_at(plan->norm_bounds[s + 1], n.k) <= global)
            s++;
        ctxpar_cpu_group_norm_scale_shift(c, groups, n.moments + (size_t)s * groups, n.weight,
                                          n.bias, n.eps, *scale + (t + halo_n) * c,
                                          *shift + (t + halo_n) * c);
    }
    norm_end(run, &n);
    return CTXPAR_OK;
}

/* Whether a 3x3x3 conv of this shape can take a fused norm and residual
 * (always on the bf16 path, where they give the same bits as apart). */
static int conv_fuses(const vae_run *run, int64_t cin, int64_t cout, const ctxpar_tensor *x) {
    return vae_bf16(run) ||
           (run->backend->conv3d_fuses &&
            run->backend->conv3d_fuses(cin, cout, 3, 3, 3, x->shape[2], x->shape[3]));
}

/* ---- blocks ------------------------------------------------------------- */

/* out = skip(x) + conv2(SiLU(norm2(conv1(SiLU(norm1(x)))))); x is consumed.
 * Where the backend allows (conv_fuses), each norm + SiLU is folded into the
 * next conv's input and the residual into conv2's output, so neither makes
 * a pass of its own through memory; elsewhere they run as passes. */
static ctxpar_status res_block(vae_run *run, ctxpar_tensor *x, const ctxpar_resblock_ops *ops,
                               int64_t cout, ctxpar_tensor *out) {
    ctxpar_status status = CTXPAR_OK;
    const int64_t cin = x->shape[0], frames = x->shape[1], h = x->shape[2], w = x->shape[3];
    const int fuse1 = conv_fuses(run, cin, cout, x), fuse2 = conv_fuses(run, cout, cout, x);
    ctxpar_tensor a = {0}, b = {0}, skip = {0};
    float *scale = NULL, *shift = NULL;
    int64_t affine_floats = 0;
    int x_alive = 1;

    if (fuse1) {
        CTXPAR_TRY_GOTO(norm_affine(run, x, &ops->norm1, 2, &scale, &shift, &affine_floats));
        ctxpar_conv3d_fusion fuse = {.in_scale = scale, .in_shift = shift};
        status = conv_causal(run, x, &ops->conv1, cout, 3, 3, &a, 0, &fuse);
        scratch_free(run, shift, affine_floats), scratch_free(run, scale, affine_floats);
        if (status != CTXPAR_OK) goto fail;
    } else {
        CTXPAR_TRY_GOTO(act_alloc(run, &a, ops->name, cin, frames, h, w));
        CTXPAR_TRY_GOTO(group_norm(run, &a, x, &ops->norm1, 1));
        if (cin == cout) {
            CTXPAR_TRY_GOTO(conv_causal(run, &a, &ops->conv1, cout, 3, 3, &a, 1, NULL));
        } else {
            CTXPAR_TRY_GOTO(conv_causal(run, &a, &ops->conv1, cout, 3, 3, &b, 0, NULL));
            act_free(run, &a);
            a = b;
            memset(&b, 0, sizeof b);
        }
    }
    layer_done(run);

    /* The shortcut, before conv2 so that it can be conv2's fused residual;
     * x is then no longer needed. */
    const ctxpar_tensor *residual = x;
    if (cin != cout) {
        double t0 = now();
        CTXPAR_TRY_GOTO(act_alloc(run, &skip, "skip", cout, frames, h, w));
        run->stats->flops += 2.0 * (double)cin * (double)cout * (double)(frames * h * w);
        if (vae_bf16(run)) {
            const ctxpar_conv_bf16_shape one = {cin, cout, 1, 1, 1, 1, 0, 0, h, w, h, w};
            const int64_t floats = run->backend->conv_bf16_scratch_floats(&one, 0);
            float *scratch = NULL;
            CTXPAR_TRY_GOTO(scratch_alloc(run, &scratch, floats, "shortcut scratch"));
            if (!run->estimate)
                run->backend->conv_bf16(x->data, x->stride[0], NULL, skip.data, skip.stride[0],
                                        packed_weight(run, &ops->skip), ops->skip.bias, &one, 0,
                                        frames, 0, NULL, scratch);
            scratch_free(run, scratch, floats);
        } else if (!run->estimate) {
            run->backend->conv1x1(x->data, x->stride[0], skip.data, skip.stride[0],
                                  ops->skip.weight, ops->skip.bias, cin, cout, frames, h * w);
        }
        act_free(run, x);
        x_alive = 0;
        residual = &skip;
        run->stats->seconds_other += now() - t0;
    }

    if (fuse2) {
        CTXPAR_TRY_GOTO(norm_affine(run, &a, &ops->norm2, 2, &scale, &shift, &affine_floats));
        ctxpar_conv3d_fusion fuse = {.in_scale = scale,
                                     .in_shift = shift,
                                     .residual = run->estimate ? NULL : residual->data,
                                     .residual_cstride = residual->stride[0]};
        status = conv_causal(run, &a, &ops->conv2, cout, 3, 3, &a, 1, &fuse);
        scratch_free(run, shift, affine_floats), scratch_free(run, scale, affine_floats);
        if (status != CTXPAR_OK) goto fail;
        layer_done(run);
    } else {
        CTXPAR_TRY_GOTO(group_norm(run, &a, &a, &ops->norm2, 1));
        CTXPAR_TRY_GOTO(conv_causal(run, &a, &ops->conv2, cout, 3, 3, &a, 1, NULL));
        layer_done(run);
        double t0 = now();
        if (!run->estimate)
            run->backend->add(a.data, a.stride[0], residual->data, residual->stride[0], cout,
                              frames * h * w);
        run->stats->seconds_other += now() - t0;
    }
    act_free(run, &skip);
    if (x_alive) act_free(run, x);
    *out = a;
    return CTXPAR_OK;

fail:
    act_free(run, &a);
    act_free(run, &b);
    act_free(run, &skip);
    return status;
}

/* Optional temporal pair pooling, then the per-frame stride-2 3x3 conv. */
static ctxpar_status downsample(vae_run *run, ctxpar_tensor *x, int stage, int temporal,
                                ctxpar_tensor *out) {
    ctxpar_status status = CTXPAR_OK;
    const int64_t c = x->shape[0], h = x->shape[2], w = x->shape[3];
    const ctxpar_op *op = MODEL_OP(run, vae_down[stage]);
    double t0 = now();
    if (temporal) {
        /* Frame 0 of the video stays alone when the model encodes it alone
         * (its rank then holds an odd count); every other pair is averaged. */
        const int64_t hw = h * w;
        const int keep_first = run->config->vae.first_frame_alone &&
                               run->plan->first_frame[run->rank] == 0;
        const int64_t pairs = (x->shape[1] - keep_first) / 2;
        ctxpar_tensor pooled;
        CTXPAR_TRY(act_alloc(run, &pooled, "pooled", c, keep_first + pairs, h, w));
        if (!run->estimate) {
            if (keep_first)
                for (int64_t ch = 0; ch < c; ch++)
                    memcpy(pooled.data + ch * pooled.stride[0], x->data + ch * x->stride[0],
                           (size_t)hw * sizeof(float));
            run->backend->pool_time2(x->data + keep_first * hw, x->stride[0],
                                     pooled.data + keep_first * hw, pooled.stride[0], c, pairs,
                                     hw);
        }
        act_free(run, x);
        *x = pooled;
        run->time_factor *= 2;
    }
    const int64_t frames = x->shape[1];
    /* pad_begin 1: zeros on every side; 0: CogVideoX's, after the frame only */
    const int pad_begin = !run->config->vae.down_pad_end;
    const ctxpar_conv_bf16_shape down = {c, c, 1, 3, 3, 2, pad_begin, pad_begin,
                                         h, w, h / 2, w / 2};
    int64_t scratch_floats = vae_bf16(run)
                                 ? run->backend->conv_bf16_scratch_floats(&down, 0)
                                 : run->backend->conv2d_stride2_scratch_floats(c, h, w, frames);
    float *scratch = NULL;
    CTXPAR_TRY(act_alloc(run, out, "downsampled", c, frames, h / 2, w / 2));
    CTXPAR_TRY_GOTO(scratch_alloc(run, &scratch, scratch_floats, "downsample scratch"));
    run->stats->flops += 2.0 * (double)c * (double)c * 9.0 * (double)(frames * (h / 2) * (w / 2));
    if (!run->estimate && vae_bf16(run))
        run->backend->conv_bf16(x->data, x->stride[0], NULL, out->data, out->stride[0],
                                packed_weight(run, op), op->bias, &down, 0, frames, 0, NULL,
                                scratch);
    else if (!run->estimate)
        run->backend->conv2d_stride2(x->data, x->stride[0], out->data, out->stride[0],
                                  op->weight, op->bias, c, c,
                                  h, w, pad_begin, 0, frames, scratch);
    scratch_free(run, scratch, scratch_floats);
    act_free(run, x);
    run->stats->seconds_other += now() - t0;
    layer_done(run);
    return CTXPAR_OK;
fail:
    act_free(run, out);
    return status;
}

static ctxpar_status encode_layers(vae_run *run, ctxpar_tensor *input, ctxpar_tensor *latents) {
    const ctxpar_vae_config *vae = &run->config->vae;
    ctxpar_tensor a = {0}, b = {0};
    run->time_factor = 1;

    CTXPAR_TRY(conv_causal(run, input, MODEL_OP(run, vae_conv_in), vae->channels[0], 3, 3, &a, 0,
                           NULL));
    act_free(run, input);
    layer_done(run);
    for (int i = 0; i < vae->n_stages; i++) {
        for (int j = 0; j < vae->res_blocks; j++) {
            CTXPAR_TRY(res_block(run, &a, stage_res_ops(run, i, j), vae->channels[i], &b));
            a = b;
        }
        if (i < vae->n_stages - 1) {
            CTXPAR_TRY(downsample(run, &a, i, vae->temporal_down[i], &b));
            a = b;
        }
    }
    for (int j = 0; j < vae->mid_blocks; j++) {
        CTXPAR_TRY(res_block(run, &a, mid_ops(run, j), vae->channels[vae->n_stages - 1], &b));
        a = b;
    }
    CTXPAR_TRY(group_norm(run, &a, &a, MODEL_OP(run, vae_norm_out), 1));
    /* The mean, and the log-variance when asked for (conv_out's upper half). */
    const int64_t z = vae->latent_channels, cout = run->plan->latent_channels_out;
    CTXPAR_TRY(conv_causal(run, &a, MODEL_OP(run, vae_conv_out), cout, 3, 3, latents, 0, NULL));
    if (!run->estimate && cout > z) {
        const int64_t n = latents->shape[1] * latents->shape[2] * latents->shape[3];
        for (int64_t ch = z; ch < cout; ch++) {
            float *v = latents->data + ch * latents->stride[0];
            for (int64_t i = 0; i < n; i++)
                v[i] = v[i] < VAE_LOGVAR_MIN ? VAE_LOGVAR_MIN
                                             : (v[i] > VAE_LOGVAR_MAX ? VAE_LOGVAR_MAX : v[i]);
        }
    }
    act_free(run, &a);
    layer_done(run);
    return CTXPAR_OK;
}

static ctxpar_status encode(vae_run *run, ctxpar_tensor *input, ctxpar_tensor *latents) {
    ctxpar_status status = encode_layers(run, input, latents);
    recycled_release(run);
    return status;
}

static int64_t count_layers(const ctxpar_vae_config *vae) {
    /* conv_in + 2 per res block (stages and mid) + downsamples + conv_out */
    return 1 + 2 * ((int64_t)vae->n_stages * vae->res_blocks + vae->mid_blocks) +
           (vae->n_stages - 1) + 1;
}

ctxpar_status ctxpar_vae_encode(const ctxpar_backend *backend, ctxpar_comm_t comm,
                                const ctxpar_model *model,
                                const ctxpar_plan *plan, ctxpar_tensor *input,
                                ctxpar_tensor *latents, ctxpar_vae_stats *stats,
                                ctxpar_vae_progress_fn progress, void *progress_user) {
    memset(stats, 0, sizeof *stats);
    vae_run run = {.backend = backend, .comm = comm, .model = model, .config = &model->config, .plan = plan,
                   .rank = ctxpar_comm_rank(comm), .ranks = ctxpar_comm_size(comm),
                   .stats = stats, .progress = progress, .progress_user = progress_user,
                   .layers_total = count_layers(&model->config.vae)};
    ctxpar_status status = encode(&run, input, latents);
    /* A failure here happened between halo exchanges that neighbours wait on. */
    if (status != CTXPAR_OK) ctxpar_comm_abort(comm, status);
    return status;
}

void ctxpar_vae_estimate_rank(const ctxpar_model_config *config, const ctxpar_plan *plan, int rank,
                              ctxpar_vae_estimate *out) {
    ctxpar_vae_stats stats = {0};
    vae_run run = {.backend = ctxpar_backend_cpu(), .config = config, .plan = plan, .rank = rank, .ranks = plan->ranks,
                   .estimate = 1, .stats = &stats, .layers_total = count_layers(&config->vae)};
    ctxpar_tensor input, latents = {0};
    act_alloc(&run, &input, "input", 3, plan->n_frames[rank], plan->height, plan->width);
    encode(&run, &input, &latents);
    out->peak_bytes = run.peak_bytes;
    out->flops = stats.flops;
    out->bytes_sent = stats.halo_bytes_sent;
    out->layers = run.layers_total;
}
