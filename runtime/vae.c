/* The distributed causal VAE encoder (see vae.h for the decomposition).
 *
 * One walk serves two purposes: with `estimate` set, every allocation is only
 * counted and no kernel or message runs, which gives the plan its memory,
 * FLOP and byte figures from the very code that will execute. */
#include "runtime/vae.h"

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
} vae_run;

/* ---- allocation that counts in both modes ----------------------------- */

static ctxpar_status act_alloc(vae_run *run, ctxpar_tensor *t, const char *what, int64_t c,
                               int64_t frames, int64_t h, int64_t w) {
    if (!run->estimate) return ctxpar_tensor_alloc_video(t, CTXPAR_MEM_VAE, what, c, frames, h, w);
    memset(t, 0, sizeof *t);
    t->ndim = 4;
    t->shape[0] = c, t->shape[1] = frames, t->shape[2] = h, t->shape[3] = w;
    t->stride[3] = 1, t->stride[2] = w, t->stride[1] = h * w, t->stride[0] = frames * h * w;
    run->live_bytes += ctxpar_tensor_count(t) * (int64_t)sizeof(float);
    if (run->live_bytes > run->peak_bytes) run->peak_bytes = run->live_bytes;
    return CTXPAR_OK;
}

static void act_free(vae_run *run, ctxpar_tensor *t) {
    if (run->estimate)
        run->live_bytes -= ctxpar_tensor_count(t) * (int64_t)sizeof(float);
    else
        ctxpar_tensor_free(t);
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

static const float *weight_of(vae_run *run, const char *op, const char *part) {
    if (run->estimate) return NULL;
    return ctxpar_model_tensorf(run->model, "%s/%s", op, part);
}

static void layer_done(vae_run *run) {
    run->layers_done++;
    if (!run->estimate && run->progress)
        run->progress(run->progress_user, run->layers_done, run->layers_total);
}

static double now(void) { return MPI_Wtime(); }

/* ---- causal convolution with the conv-cache handoff -------------------- */

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
 * posterior mean of conv_out). */
static ctxpar_status conv_causal(vae_run *run, ctxpar_tensor *x, const char *op, int64_t cout,
                                 int kt, int k, ctxpar_tensor *y, int in_place) {
    ctxpar_status status = CTXPAR_OK;
    const int64_t cin = x->shape[0], frames = x->shape[1], h = x->shape[2], w = x->shape[3];
    const int64_t hw = h * w, halo_n = kt - 1;
    const int64_t halo_floats = cin * halo_n * hw;
    float *halo = NULL, *send = NULL, *scratch = NULL;
    int64_t chunk = conv_chunk_frames(run, cin, cout, kt, k, h, w, frames);
    int64_t scratch_floats = run->backend->conv3d_scratch_floats(cin, cout, kt, k, k, h, w, chunk);
    const int has_prev = run->rank > 0, has_next = run->rank + 1 < run->ranks;
    ctxpar_comm_exchange recv_ex = {.n_requests = 0}, send_ex = {.n_requests = 0};
    double recv_done = 0.0;
    int tag = run->tag++;
    int have_halo = 0, have_send = 0, have_scratch = 0;
    double t0 = now();

    if (in_place)
        *y = *x;
    else
        CTXPAR_TRY_GOTO(act_alloc(run, y, op, cout, frames, h, w));
    if (halo_n > 0) {
        CTXPAR_TRY_GOTO(scratch_alloc(run, &halo, halo_floats, "conv halo"));
        have_halo = 1;
        if (has_next) {
            CTXPAR_TRY_GOTO(scratch_alloc(run, &send, halo_floats, "conv halo send"));
            have_send = 1;
        }
    }
    CTXPAR_TRY_GOTO(scratch_alloc(run, &scratch, scratch_floats, "conv scratch"));
    have_scratch = 1;
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
        const float *wgt = weight_of(run, op, "weight"), *bias = weight_of(run, op, "bias");
        /* Last chunk first: in place is safe and the halo arrives meanwhile. */
        for (int64_t t_end = frames; t_end > 0;) {
            int64_t t_begin = t_end - chunk > 0 ? t_end - chunk : 0;
            if (t_begin < halo_n) CTXPAR_TRY_GOTO(finish_recv(run, &recv_ex, &recv_done));
            run->backend->conv3d_causal(x->data, x->stride[0], halo, y->data, y->stride[0], wgt,
                                     bias, cin, cout, kt, k, k, h, w, t_begin, t_end, scratch);
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
    if (have_scratch) scratch_free(run, scratch, scratch_floats);
    if (have_send) scratch_free(run, send, halo_floats);
    if (have_halo) scratch_free(run, halo, halo_floats);
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

static ctxpar_status group_norm(vae_run *run, ctxpar_tensor *y, const ctxpar_tensor *x,
                                const char *op, int silu) {
    const int groups = run->config->vae.groups;
    const int64_t c = x->shape[0], frames = x->shape[1], hw = x->shape[2] * x->shape[3];
    const ctxpar_plan *plan = run->plan;
    const int n_seg = plan->n_norm_segments;
    if (run->estimate) return CTXPAR_OK;
    double t0 = now();
    const float *wgt = weight_of(run, op, "weight"), *bias = weight_of(run, op, "bias");
    const float eps = (float)run->config->vae.norm_eps;
    /* This rank's frames at this layer, and each segment's part of them. */
    const int64_t k = run->time_factor;
    const int64_t local0 = ctxpar_plan_frame_at(plan->first_frame[run->rank], k);
    ctxpar_moments stack_moments[CTXPAR_MAX_GROUPS];
    ctxpar_moments *moments = stack_moments;
    if (n_seg > 1) {
        moments = calloc((size_t)n_seg * (size_t)groups, sizeof *moments);
        if (!moments) {
            ctxpar_status status = ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory in %s", op);
            ctxpar_comm_abort(run->comm, status);
        }
    }
    for (int s = 0; s < n_seg; s++) {
        int64_t a, b;
        segment_part(plan, s, k, local0, frames, &a, &b);
        ctxpar_moments *seg = moments + (size_t)s * groups;
        if (b > a)
            run->backend->group_moments(x->data + a * hw, x->stride[0], c, (b - a) * hw, groups,
                                        seg);
        else
            memset(seg, 0, sizeof *seg * (size_t)groups);
    }
    /* Segments are statistics over the whole video's frames in them, whichever
     * ranks hold those frames. */
    ctxpar_status status = ctxpar_comm_combine_moments(run->comm, moments, n_seg * groups);
    if (status != CTXPAR_OK) ctxpar_comm_abort(run->comm, status);
    for (int s = 0; s < n_seg; s++) {
        int64_t a, b;
        segment_part(plan, s, k, local0, frames, &a, &b);
        if (b <= a) continue;
        run->backend->group_norm_apply(y->data + a * hw, y->stride[0], x->data + a * hw,
                                       x->stride[0], c, (b - a) * hw, groups,
                                       moments + (size_t)s * groups, wgt, bias, eps, silu);
    }
    if (moments != stack_moments) free(moments);
    run->stats->seconds_norm += now() - t0;
    return CTXPAR_OK;
}

/* ---- blocks ------------------------------------------------------------- */

/* out = skip(x) + conv2(SiLU(norm2(conv1(SiLU(norm1(x)))))); x is consumed. */
static ctxpar_status res_block(vae_run *run, ctxpar_tensor *x, const char *prefix, int64_t cout,
                               ctxpar_tensor *out) {
    ctxpar_status status = CTXPAR_OK;
    const int64_t cin = x->shape[0], frames = x->shape[1], h = x->shape[2], w = x->shape[3];
    char op[CTXPAR_TENSOR_NAME_MAX];
    ctxpar_tensor a = {0}, b = {0}, skip = {0};

    CTXPAR_TRY_GOTO(act_alloc(run, &a, prefix, cin, frames, h, w));
    snprintf(op, sizeof op, "%s/norm1", prefix);
    CTXPAR_TRY_GOTO(group_norm(run, &a, x, op, 1));
    snprintf(op, sizeof op, "%s/conv1", prefix);
    if (cin == cout) {
        CTXPAR_TRY_GOTO(conv_causal(run, &a, op, cout, 3, 3, &a, 1));
    } else {
        CTXPAR_TRY_GOTO(conv_causal(run, &a, op, cout, 3, 3, &b, 0));
        act_free(run, &a);
        a = b;
        memset(&b, 0, sizeof b);
    }
    layer_done(run);
    snprintf(op, sizeof op, "%s/norm2", prefix);
    CTXPAR_TRY_GOTO(group_norm(run, &a, &a, op, 1));
    snprintf(op, sizeof op, "%s/conv2", prefix);
    CTXPAR_TRY_GOTO(conv_causal(run, &a, op, cout, 3, 3, &a, 1));
    layer_done(run);

    double t0 = now();
    if (cin == cout) {
        if (!run->estimate)
            run->backend->add(a.data, a.stride[0], x->data, x->stride[0], cout, frames * h * w);
    } else {
        CTXPAR_TRY_GOTO(act_alloc(run, &skip, "skip", cout, frames, h, w));
        snprintf(op, sizeof op, "%s/skip", prefix);
        run->stats->flops += 2.0 * (double)cin * (double)cout * (double)(frames * h * w);
        if (!run->estimate) {
            run->backend->conv1x1(x->data, x->stride[0], skip.data, skip.stride[0],
                               weight_of(run, op, "weight"), weight_of(run, op, "bias"), cin,
                               cout, frames * h * w);
            run->backend->add(a.data, a.stride[0], skip.data, skip.stride[0], cout, frames * h * w);
        }
        act_free(run, &skip);
    }
    run->stats->seconds_other += now() - t0;
    act_free(run, x);
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
    char op[CTXPAR_TENSOR_NAME_MAX];
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
    int64_t scratch_floats = run->backend->conv2d_stride2_scratch_floats(c, h, w, frames);
    float *scratch = NULL;
    CTXPAR_TRY(act_alloc(run, out, "downsampled", c, frames, h / 2, w / 2));
    CTXPAR_TRY_GOTO(scratch_alloc(run, &scratch, scratch_floats, "downsample scratch"));
    snprintf(op, sizeof op, "vae/stages/%d/down", stage);
    run->stats->flops += 2.0 * (double)c * (double)c * 9.0 * (double)(frames * (h / 2) * (w / 2));
    if (!run->estimate)
        run->backend->conv2d_stride2(x->data, x->stride[0], out->data, out->stride[0],
                                  weight_of(run, op, "weight"), weight_of(run, op, "bias"), c, c,
                                  h, w, !run->config->vae.down_pad_end, 0, frames, scratch);
    scratch_free(run, scratch, scratch_floats);
    act_free(run, x);
    run->stats->seconds_other += now() - t0;
    layer_done(run);
    return CTXPAR_OK;
fail:
    act_free(run, out);
    return status;
}

static ctxpar_status encode(vae_run *run, ctxpar_tensor *input, ctxpar_tensor *latents) {
    const ctxpar_vae_config *vae = &run->config->vae;
    char prefix[CTXPAR_TENSOR_NAME_MAX];
    ctxpar_tensor a = {0}, b = {0};
    run->time_factor = 1;

    CTXPAR_TRY(conv_causal(run, input, "vae/conv_in", vae->channels[0], 3, 3, &a, 0));
    act_free(run, input);
    layer_done(run);
    for (int i = 0; i < vae->n_stages; i++) {
        for (int j = 0; j < vae->res_blocks; j++) {
            snprintf(prefix, sizeof prefix, "vae/stages/%d/res/%d", i, j);
            CTXPAR_TRY(res_block(run, &a, prefix, vae->channels[i], &b));
            a = b;
        }
        if (i < vae->n_stages - 1) {
            CTXPAR_TRY(downsample(run, &a, i, vae->temporal_down[i], &b));
            a = b;
        }
    }
    for (int j = 0; j < vae->mid_blocks; j++) {
        ctxpar_model_mid_prefix(run->config, j, prefix, sizeof prefix);
        CTXPAR_TRY(res_block(run, &a, prefix, vae->channels[vae->n_stages - 1], &b));
        a = b;
    }
    CTXPAR_TRY(group_norm(run, &a, &a, "vae/norm_out", 1));
    /* The mean, and the log-variance when asked for (conv_out's upper half). */
    const int64_t z = vae->latent_channels, cout = run->plan->latent_channels_out;
    CTXPAR_TRY(conv_causal(run, &a, "vae/conv_out", cout, 3, 3, latents, 0));
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
