/* Sharding plan and cost estimates (see plan.h). Every refusal says what
 * would work instead: the nearest valid frame count or size, the largest
 * usable rank count. */
#include "runtime/plan.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/model/model.h"
#include "runtime/model/model_bf16.h"
#include "runtime/stages/frame_attention.h"
#include "runtime/stages/ring_attention.h"
#include "runtime/stages/transformer.h"
#include "runtime/stages/vae.h"

#define DEFAULT_NORM_CHUNK_FRAMES 16

static int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

/* "--frames 16 ...; try --frames 13 or 17": the nearest counts of the form
 * first + k*step (k >= 0). */
static ctxpar_status bad_frame_count(int64_t T, int64_t first, int64_t step, const char *rule) {
    int64_t k = T > first ? (T - first) / step : 0;
    int64_t lo = first + k * step, hi = lo + step;
    char alternatives[64];
    if (lo > 0 && lo < T)
        snprintf(alternatives, sizeof alternatives, "%lld or %lld", (long long)lo, (long long)hi);
    else
        snprintf(alternatives, sizeof alternatives, "%lld", (long long)(lo >= T ? lo : hi));
    return ctxpar_error(CTXPAR_ERR_ARGUMENT, "--frames %lld is not %s; try --frames %s",
                        (long long)T, rule, alternatives);
}

/* Statistics segments in input frames (see plan.h). */
static ctxpar_status make_norm_segments(ctxpar_plan *plan) {
    const int64_t T = plan->frames;
    int64_t n = 1;
    if (plan->norm == CTXPAR_NORM_CHUNK) n = (T + plan->norm_chunk_frames - 1) / plan->norm_chunk_frames;
    if (plan->norm == CTXPAR_NORM_DIFFUSERS) n = T / 8 > 1 ? T / 8 : 1;
    plan->norm_bounds = calloc((size_t)n + 1, sizeof(int64_t));
    if (!plan->norm_bounds) return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory planning");
    plan->n_norm_segments = (int)n;
    for (int64_t i = 1; i < n; i++)
        plan->norm_bounds[i] = plan->norm == CTXPAR_NORM_CHUNK ? i * plan->norm_chunk_frames
                                                               : 8 * i + T % 8;
    plan->norm_bounds[n] = T;
    return CTXPAR_OK;
}

ctxpar_status ctxpar_plan_make(const ctxpar_model_config *config,
                               const ctxpar_run_options *options, int ranks, ctxpar_plan *out) {
    memset(out, 0, sizeof *out);
    ctxpar_plan *plan = out;
    const int64_t ct = ctxpar_config_temporal_compression(config);
    const int64_t cs = ctxpar_config_spatial_compression(config);
    const int64_t first_unit = ctxpar_config_first_unit_frames(config);
    const int64_t p = config->has_transformer ? config->transformer.patch : 1;
    const int64_t T = options->source.frames, H = options->source.height,
                  W = options->source.width;
    if (config->vae.groups > CTXPAR_MAX_GROUPS)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT, "model has %d norm groups; at most %d supported",
                            config->vae.groups, CTXPAR_MAX_GROUPS);
    if (T <= 0)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT, "--frames must be positive (got %lld)",
                            (long long)T);
    if (config->vae.first_frame_alone && (T - 1) % ct != 0) {
        char rule[96];
        snprintf(rule, sizeof rule, "1 + %lld*k (this model encodes frame 0 alone, then %lld "
                 "frames per latent frame)", (long long)ct, (long long)ct);
        return bad_frame_count(T, 1, ct, rule);
    }
    if (!config->vae.first_frame_alone && T % ct != 0) {
        char rule[96];
        snprintf(rule, sizeof rule, "a multiple of the model's %s %lld",
                 config->has_vae ? "temporal compression" : "tubelet size", (long long)ct);
        return bad_frame_count(T, ct, ct, rule);
    }
    const int crop = config->has_transformer ? config->transformer.crop : 0;
    if (crop > 0 && (H != crop || W != crop))
        return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                            "frame size %lldx%lld (WxH) is not the model's crop size %dx%d: "
                            "its token positions assume that grid; resize the video to "
                            "%dx%d",
                            (long long)W, (long long)H, crop, crop, crop, crop);
    if (options->layer != 0 && config->has_transformer && config->transformer.merge > 0)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                            "--layer %d: this %s model ends in a patch merger, whose input is "
                            "the last block's; --layer is for models without one",
                            options->layer, config->family);
    if (options->layer != 0 &&
        (!config->has_transformer || options->layer < 1 || options->layer > config->transformer.layers))
        return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                            "--layer %d: this model has %d transformer blocks; give 1 to %d",
                            options->layer, config->has_transformer ? config->transformer.layers : 0,
                            config->has_transformer ? config->transformer.layers : 0);
    const int64_t merge = config->has_transformer ? ctxpar_config_output_merge(config) : 1;
    if (H <= 0 || W <= 0 || H % (cs * p * merge) != 0 || W % (cs * p * merge) != 0) {
        int64_t m = cs * p * merge;
        int64_t sw = W > 0 ? round_up(W, m) : m, sh = H > 0 ? round_up(H, m) : m;
        char why[96];
        if (config->has_transformer && merge > 1)
            snprintf(why, sizeof why, "patch %lld x merger %lld", (long long)p, (long long)merge);
        else if (config->has_transformer)
            snprintf(why, sizeof why, "spatial compression %lld x patch %lld", (long long)cs,
                     (long long)p);
        else
            snprintf(why, sizeof why, "the spatial compression");
        /* What to do depends on where the size comes from: a synthetic
         * video takes --size, a video file is resized or cropped on the way
         * in, an HDF5 video is read as it is stored. */
        const int64_t dw = W / m * m, dh = H / m * m;
        char fix[160];
        if (options->source.kind == CTXPAR_SOURCE_VIDEO && dw > 0 && dh > 0)
            snprintf(fix, sizeof fix, "resize or crop the video: --resize %lldx%lld, or --crop "
                     "center --size %lldx%lld", (long long)sw, (long long)sh, (long long)dw,
                     (long long)dh);
        else if (options->source.kind == CTXPAR_SOURCE_VIDEO)
            snprintf(fix, sizeof fix, "resize the video: --resize %lldx%lld", (long long)sw,
                     (long long)sh);
        else if (options->source.kind == CTXPAR_SOURCE_HDF5)
            snprintf(fix, sizeof fix, "an HDF5 video is read as stored: write its frames at a "
                     "multiple of %lld, e.g. %lldx%lld", (long long)m, (long long)sw,
                     (long long)sh);
        else
            snprintf(fix, sizeof fix, "try --size %lldx%lld", (long long)sw, (long long)sh);
        return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                            "frame size %lldx%lld (WxH): width and height must be positive "
                            "multiples of %lld (%s); %s",
                            (long long)W, (long long)H, (long long)m, why, fix);
    }
    if (options->norm == CTXPAR_NORM_CHUNK && config->vae.first_frame_alone)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                            "--norm chunk is for the built-in models; this %s model takes "
                            "--norm exact or --norm diffusers",
                            config->family);
    if (options->norm == CTXPAR_NORM_DIFFUSERS && !config->vae.first_frame_alone)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                            "--norm diffusers reproduces the CogVideoX VAE's frame batching; "
                            "this %s model takes --norm exact or --norm chunk",
                            config->family);
    if (options->save_logvar && config->has_transformer)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                            "--save-logvar is for VAE-only models (their job writes latents); "
                            "this model writes token features");
    plan->ranks = ranks;
    plan->has_transformer = config->has_transformer;
    plan->output_layer = options->layer;
    plan->latent_channels_out = config->vae.latent_channels * (options->save_logvar ? 2 : 1);
    plan->frames = T, plan->height = H, plan->width = W;
    plan->temporal_compression = ct, plan->spatial_compression = cs;
    plan->latent_frames = ctxpar_plan_frame_at(T, ct);
    plan->latent_h = H / cs, plan->latent_w = W / cs;
    if (config->has_transformer) {
        plan->patch_grid_h = plan->latent_h / p, plan->patch_grid_w = plan->latent_w / p;
        plan->patch_tokens_per_frame = plan->patch_grid_h * plan->patch_grid_w;
        plan->grid_h = plan->patch_grid_h / merge, plan->grid_w = plan->patch_grid_w / merge;
        plan->tokens_per_frame = plan->grid_h * plan->grid_w;
        plan->total_tokens = plan->tokens_per_frame * plan->latent_frames;
    }
    plan->norm = options->norm;
    plan->first_unit_frames = first_unit;
    if (options->norm == CTXPAR_NORM_CHUNK) {
        int64_t f = options->chunk_frames > 0 ? options->chunk_frames : DEFAULT_NORM_CHUNK_FRAMES;
        if (f % ct != 0)
            return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                                "--chunk-frames %lld must be a multiple of the temporal "
                                "compression %lld in chunk mode; try --chunk-frames %lld",
                                (long long)f, (long long)ct, (long long)round_up(f, ct));
        plan->norm_chunk_frames = f;
        plan->first_unit_frames = plan->unit_frames = f;
        plan->conv_chunk_frames = 0;
    } else {
        plan->unit_frames = ct;
        plan->conv_chunk_frames = options->chunk_frames;
    }
    plan->n_units = T <= plan->first_unit_frames
                        ? 1
                        : 1 + (T - plan->first_unit_frames + plan->unit_frames - 1) /
                                  plan->unit_frames;
    if (ranks > plan->n_units)
        return ctxpar_error(
            CTXPAR_ERR_PLAN,
            "%d ranks but only %lld shard units (%s) in %lld frames: every rank "
            "needs at least one; use at most %lld ranks, or more frames",
            ranks, (long long)plan->n_units,
            options->norm == CTXPAR_NORM_CHUNK ? "norm chunks" : "latent frames", (long long)T,
            (long long)plan->n_units);

    plan->first_frame = calloc((size_t)ranks * 4, sizeof(int64_t));
    if (!plan->first_frame) return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory planning");
    plan->n_frames = plan->first_frame + ranks;
    plan->first_latent = plan->n_frames + ranks;
    plan->n_latent = plan->first_latent + ranks;
    int64_t base = plan->n_units / ranks, extra = plan->n_units % ranks, unit = 0;
    for (int r = 0; r < ranks; r++) {
        int64_t units = base + (r < extra ? 1 : 0);
        /* unit u starts at 0 (u = 0) or first_unit + (u-1)*unit_frames */
        int64_t first = unit == 0 ? 0 : plan->first_unit_frames + (unit - 1) * plan->unit_frames;
        int64_t last = plan->first_unit_frames + (unit + units - 1) * plan->unit_frames;
        if (last > T) last = T;
        plan->first_frame[r] = first;
        plan->n_frames[r] = last - first;
        plan->first_latent[r] = ctxpar_plan_frame_at(first, ct);
        plan->n_latent[r] = ctxpar_plan_frame_at(last, ct) - plan->first_latent[r];
        unit += units;
    }
    CTXPAR_TRY(make_norm_segments(plan));

    /* Estimates: the VAE walk per rank, plus weights, latents and tokens. */
    ctxpar_model *layout = NULL;
    CTXPAR_TRY(ctxpar_model_layout(config, &layout));
    /* Weights are held once per node: each rank's share of them. */
    plan->model_bytes = layout->blob_floats * (int64_t)sizeof(float);
    plan->dtype = options->dtype == CTXPAR_DTYPE_BF16 ? CTXPAR_DTYPE_BF16 : CTXPAR_DTYPE_F32;
    /* bf16: the same layout as the run prepares it (model_bf16.h) */
    ctxpar_status status =
        plan->dtype == CTXPAR_DTYPE_BF16 ? ctxpar_model_bf16_prepare(layout) : CTXPAR_OK;
    plan->kept_bytes = layout->blob_floats * (int64_t)sizeof(float);
    plan->packed_bytes = layout->packed_values * (int64_t)sizeof(ctxpar_bf16);
    plan->in_place_bytes = layout->in_place_values * (int64_t)sizeof(ctxpar_bf16);
    plan->load_bytes = ctxpar_model_scratch_floats(layout) * (int64_t)sizeof(float);
    ctxpar_model_free(layout);
    CTXPAR_TRY(status);
    /* The node holds kept + packed from the start (each packed weight is
     * packed as it is loaded, through one tensor's float32 per rank), and
     * the checkpoint's pages of the weights read in place (shared too). */
    const int64_t per_node = options->ranks_per_node > 0 ? options->ranks_per_node : 1;
    const int64_t model_bytes =
        (plan->kept_bytes + plan->packed_bytes + plan->in_place_bytes) / per_node;
    plan->max_rank_bytes = model_bytes + plan->load_bytes;
    const int64_t z = config->vae.latent_channels, d = config->transformer.dim;
    int64_t max_block = 0;
    int64_t *block_rows = calloc((size_t)ranks, sizeof(int64_t));
    if (!block_rows) return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "plan: %d block sizes", ranks);
    for (int r = 0; r < ranks; r++) {
        block_rows[r] = plan->n_latent[r] * plan->patch_tokens_per_frame;
        if (block_rows[r] > max_block) max_block = block_rows[r];
    }
    for (int r = 0; r < ranks; r++) {
        ctxpar_vae_estimate est = {0};
        if (config->has_vae) ctxpar_vae_estimate_rank(config, plan, r, &est);
        int64_t tokens = plan->n_latent[r] * plan->patch_tokens_per_frame;
        int64_t latent_bytes = plan->n_latent[r] * plan->latent_h * plan->latent_w * z * 4;
        int64_t embed_scratch = tokens * p * p * z * 4;
        if (!config->has_vae) /* the normalised pixels, and their tubelet gather */
            latent_bytes = embed_scratch = 3 * plan->n_frames[r] * H * W * 4;
        int64_t after_vae = latent_bytes + embed_scratch + tokens * d * 4 * 2;
        if (config->has_transformer) {
            int64_t transformer =
                tokens * d * 4 + tokens * 6 * 4 +
                ctxpar_transformer_estimate_bytes(
                    config, plan->dtype, tokens, max_block, plan->patch_tokens_per_frame, ranks,
                    ctxpar_ring_tree_slots(block_rows, ranks, plan->patch_tokens_per_frame, r),
                    plan->patch_grid_h, plan->patch_grid_w);
            if (transformer > after_vae) after_vae = transformer;
        } else {
            /* the latents and their frame-major copy for the file */
            after_vae = 2 * latent_bytes * plan->latent_channels_out / z;
        }
        int64_t peak = model_bytes + (est.peak_bytes > after_vae ? est.peak_bytes : after_vae);
        if (peak > plan->max_rank_bytes) plan->max_rank_bytes = peak;
        if (est.bytes_sent > plan->max_rank_comm_bytes) plan->max_rank_comm_bytes = est.bytes_sent;
        plan->vae_flops += est.flops;
    }
    free(block_rows);
    const int64_t embed_in = config->has_vae ? p * p * z : 3 * config->transformer.tubelet * p * p;
    const ctxpar_transformer_config *tf = &config->transformer;
    const double n_total = (double)(plan->patch_tokens_per_frame * plan->latent_frames);
    plan->embed_flops = 2.0 * n_total * (double)embed_in * (double)d;
    if (!config->has_transformer) {
        plan->embed_flops = plan->attention_flops = plan->dense_flops = 0.0;
        return CTXPAR_OK;
    }
    const double layers = tf->layers;
    if (tf->span == CTXPAR_ATTENTION_VIDEO) {
        plan->attention_flops = 4.0 * n_total * n_total * (double)d * layers;
    } else {
        const int full_layers = tf->window > 0 ? __builtin_popcountll(tf->full_layers) : tf->layers;
        const double frames = (double)plan->latent_frames;
        plan->attention_flops =
            frames * (full_layers * ctxpar_frame_attention_flops(plan->patch_grid_h,
                                                                 plan->patch_grid_w, 0, d) +
                      (tf->layers - full_layers) *
                          ctxpar_frame_attention_flops(plan->patch_grid_h, plan->patch_grid_w,
                                                       tf->window, d));
    }
    plan->dense_flops = 2.0 * n_total * (double)d *
                        (4.0 * d + ctxpar_config_fc1_out(config) + ctxpar_config_mlp_dim(config)) *
                        layers;
    if (tf->merge > 0) {
        const double width = (double)tf->merge * tf->merge * d;
        plan->dense_flops += 2.0 * (double)plan->total_tokens * width * (width + tf->out_dim);
    }
    return CTXPAR_OK;
}

void ctxpar_plan_free(ctxpar_plan *plan) {
    free(plan->norm_bounds);
    plan->norm_bounds = NULL;
    free(plan->first_frame);
    plan->first_frame = plan->n_frames = plan->first_latent = plan->n_latent = NULL;
}

void ctxpar_plan_print(FILE *f, const ctxpar_plan *plan, const ctxpar_model_config *config) {
    const double mib = 1024.0 * 1024.0;
    fprintf(f, "# plan: %d ranks, %lld frames of %lldx%lld (WxH), model %s, norm %s", plan->ranks,
            (long long)plan->frames, (long long)plan->width, (long long)plan->height,
            config->family, ctxpar_norm_mode_name(plan->norm));
    if (plan->norm == CTXPAR_NORM_CHUNK)
        fprintf(f, " (%lld frames per chunk)", (long long)plan->norm_chunk_frames);
    if (plan->n_norm_segments > 1)
        fprintf(f, " (%d statistics segments)", plan->n_norm_segments);
    if (config->has_vae)
        fprintf(f, "\n# compression: temporal %lld, spatial %lld; latents [%lld, %lld, %lld, %d]\n",
                (long long)plan->temporal_compression, (long long)plan->spatial_compression,
                (long long)plan->latent_frames, (long long)plan->latent_h,
                (long long)plan->latent_w, config->vae.latent_channels);
    else
        fprintf(f, "\n# tubelets of %d x %d x %d pixels: %lld in time (the shard unit)\n",
                config->transformer.tubelet, config->transformer.patch, config->transformer.patch,
                (long long)plan->latent_frames);
    if (plan->has_transformer && plan->patch_tokens_per_frame != plan->tokens_per_frame)
        fprintf(f, "# tokens: %lld in the encoder (grid %lldx%lld), %lld out of its patch merger "
                "(%lld per latent frame, grid %lldx%lld)\n",
                (long long)(plan->patch_tokens_per_frame * plan->latent_frames),
                (long long)plan->patch_grid_h, (long long)plan->patch_grid_w,
                (long long)plan->total_tokens, (long long)plan->tokens_per_frame,
                (long long)plan->grid_h, (long long)plan->grid_w);
    else if (plan->has_transformer)
        fprintf(f, "# tokens: %lld (%lld per latent frame, grid %lldx%lld)\n",
                (long long)plan->total_tokens, (long long)plan->tokens_per_frame,
                (long long)plan->grid_h, (long long)plan->grid_w);
    else
        fprintf(f, "# output: latents file (posterior mean%s)\n",
                plan->latent_channels_out > config->vae.latent_channels ? " and log-variance"
                                                                        : "");
    fprintf(f, "%6s %21s %19s %10s\n", "rank", "input frames",
            config->has_vae ? "latent frames" : "tubelets",
            plan->has_transformer ? "tokens" : "");
    for (int r = 0; r < plan->ranks; r++) {
        char in[64], lat[64];
        snprintf(in, sizeof in, "%lld-%lld (%lld)", (long long)plan->first_frame[r],
                 (long long)(plan->first_frame[r] + plan->n_frames[r] - 1),
                 (long long)plan->n_frames[r]);
        snprintf(lat, sizeof lat, "%lld-%lld (%lld)", (long long)plan->first_latent[r],
                 (long long)(plan->first_latent[r] + plan->n_latent[r] - 1),
                 (long long)plan->n_latent[r]);
        if (plan->has_transformer)
            fprintf(f, "%6d %21s %19s %10lld\n", r, in, lat,
                    (long long)(plan->n_latent[r] * plan->patch_tokens_per_frame));
        else
            fprintf(f, "%6d %21s %19s\n", r, in, lat);
    }
    fprintf(f, "weights: %.1f MiB float32, held once per node\n",
            (double)plan->model_bytes / mib);
    if (plan->dtype == CTXPAR_DTYPE_BF16)
        fprintf(f, "dtype bf16: %.1f MiB of packed bf16 weights replace the GEMM weights' "
                "float32: %.1f MiB held once per node (%.1f MiB float32 kept), loaded "
                "through %.1f MiB per rank\n",
                (double)plan->packed_bytes / mib,
                (double)(plan->kept_bytes + plan->packed_bytes) / mib,
                (double)plan->kept_bytes / mib, (double)plan->load_bytes / mib);
    if (plan->in_place_bytes > 0)
        fprintf(f, "dtype bf16: %.1f MiB of the checkpoint's bf16 linears read in place "
                "(its mapping, shared by the node's ranks; nothing packed for them)\n",
                (double)plan->in_place_bytes / mib);
    fprintf(f, "memory per rank (estimate, largest rank, with its share of the weights): "
            "%.1f MiB\n", (double)plan->max_rank_bytes / mib);
    if (config->has_vae)
        fprintf(f, "VAE: %.3f TFLOP (2*Cout*Cin*kt*kh*kw*T*H*W summed over convs)\n",
                plan->vae_flops / 1e12);
    if (plan->has_transformer) {
        fprintf(f, "patch embedding: %.3f GFLOP (2*N*inputs per token*d)\n", plan->embed_flops / 1e9);
        fprintf(f, "attention: %.3f TFLOP (4*n_q*n_kv*d over the pairs that attend, times "
                "layers%s); transformer GEMMs %.3f TFLOP (2*N*d*(4d + 2*mlp)*layers%s)\n",
                plan->attention_flops / 1e12,
                config->transformer.span == CTXPAR_ATTENTION_VIDEO ? ": 4*N^2*d" : ", per frame",
                plan->dense_flops / 1e12, config->transformer.merge > 0 ? " + merger" : "");
    }
    int64_t ring_bytes = 0;
    const int ring = plan->has_transformer && config->transformer.span == CTXPAR_ATTENTION_VIDEO;
    for (int r = 0; r < plan->ranks && plan->ranks > 1 && ring; r++) {
        /* a rank forwards every block but the one it would get back: P-1 blocks */
        int64_t sent = 0;
        for (int b = 0; b < plan->ranks; b++)
            if (b != (r + 1) % plan->ranks)
                sent += plan->n_latent[b] * plan->patch_tokens_per_frame * 2 *
                        config->transformer.dim * 4 * config->transformer.layers;
        if (sent > ring_bytes) ring_bytes = sent;
    }
    fprintf(f, "communication (busiest rank): conv-cache halos %.1f MiB, ring K/V %.1f MiB\n",
            (double)plan->max_rank_comm_bytes / mib, (double)ring_bytes / mib);
}
