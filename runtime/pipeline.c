/* The job, stage by stage (see pipeline.h). Between stages every rank agrees
 * on the outcome, so a bad input on any rank ends all ranks with one message
 * before anyone waits on a neighbour. */
#include "runtime/pipeline.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/core/memory.h"
#include "runtime/core/progress.h"
#include "runtime/families/registry.h"
#include "runtime/formats/json.h"
#include "runtime/model/model.h"
#include "runtime/model/model_bf16.h"
#include "base/cpu_features.h"
#include "kernels/cpu/transformer_cpu.h"
#include "runtime/plan.h"
#include "runtime/stages/merge.h"
#include "runtime/stages/merge_sttm.h"
#include "runtime/stages/tokens.h"
#include "runtime/stages/transformer.h"
#include "runtime/stages/vae.h"
#include "runtime/stages/writer.h"

static const char *stage_names[CTXPAR_STAGE_COUNT] = {
    "setup", "input", "vae", "tokens", "transformer", "merge", "output"};

const char *ctxpar_stage_name(ctxpar_stage stage) {
    return (stage >= 0 && stage < CTXPAR_STAGE_COUNT) ? stage_names[stage] : "?";
}

void ctxpar_run_options_default(ctxpar_run_options *o) {
    memset(o, 0, sizeof *o);
    o->source.kind = CTXPAR_SOURCE_SYNTHETIC;
    snprintf(o->source.dataset, sizeof o->source.dataset, "video");
    o->source.frames = 64;
    snprintf(o->preset, sizeof o->preset, "small");
    o->seed = 1;
    snprintf(o->out_path, sizeof o->out_path, "ctxpar_features.h5");
    o->norm = CTXPAR_NORM_EXACT;
    o->merge_spatial = o->merge_temporal = -1.0;
    o->merge_levels = -1;
    o->merge_rule = CTXPAR_MERGE_QUADTREE;
    o->merge_root_level = -1;
    o->device = CTXPAR_DEVICE_CPU;
}

static ctxpar_status load_model(ctxpar_comm_t comm, const ctxpar_run_options *o,
                                const ctxpar_load_hook *hook, ctxpar_model **model) {
    ctxpar_status status;
    if (o->model_path[0]) {
        status = ctxpar_family_load_with(comm, o->model_path, hook, model);
    } else {
        /* Every rank generates the same seeded weights: no file, no broadcast. */
        ctxpar_model_config config;
        status = ctxpar_comm_agree(comm, ctxpar_config_preset(o->preset, &config));
        if (status == CTXPAR_OK)
            status = ctxpar_model_create_seeded_shared(comm, &config, o->seed, hook, model);
    }
    if (status != CTXPAR_OK) return status;
    ctxpar_merge_config *m = &(*model)->config.merge;
    if (o->merge_spatial >= 0) m->spatial_threshold = o->merge_spatial;
    if (o->merge_temporal >= 0) m->temporal_threshold = o->merge_temporal;
    if (o->merge_levels >= 0) m->levels = o->merge_levels;
    m->rule = o->merge_rule;
    if (o->merge_root_level >= 0) m->root_level = o->merge_root_level;
    return CTXPAR_OK;
}

/* A video LLM's M-RoPE position of each record: (t, y, x) of its first
 * token, t in the LLM's time units (docs/models/qwen2-vl.md): the temporal
 * patch index, times tokens_per_second * seconds per temporal patch where
 * the model scales time (Qwen2.5-VL). The seconds come from the rate the
 * frames were sampled at: a video file's (its processor's sample_fps, or
 * --fps), else the processor's default of 2 frames/s; like transformers,
 * the product is truncated to an integer. */
static ctxpar_status llm_positions(const ctxpar_model_config *config,
                                   const ctxpar_source *source,
                                   const ctxpar_records *records, int32_t **out) {
    const int64_t n = records->count;
    *out = ctxpar_mem_alloc(sizeof(int32_t) * 3 * (size_t)(n > 0 ? n : 1), CTXPAR_MEM_OUTPUT,
                            "position ids");
    if (!*out) return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory for position ids");
    const ctxpar_transformer_config *tf = &config->transformer;
    const ctxpar_video_options *video = &source->video;
    double fps = 2.0;
    if (source->kind == CTXPAR_SOURCE_VIDEO && video->sampled_fps > 0)
        fps = video->sampled_fps; /* the processor's sample_fps */
    else if (source->kind == CTXPAR_SOURCE_VIDEO && video->fps_num > 0)
        fps = (double)video->fps_num / (double)video->fps_den;
    const double interval =
        tf->tokens_per_second > 0 ? (double)tf->tubelet / fps * tf->tokens_per_second : 1.0;
    for (int64_t i = 0; i < n; i++) {
        (*out)[3 * i] = (int32_t)((double)records->t_start[i] * interval);
        (*out)[3 * i + 1] = records->y[i];
        (*out)[3 * i + 2] = records->x[i];
    }
    return CTXPAR_OK;
}

/* --dtype auto -> f32 or bf16 (plan_data.h), and whether bf16 can run here. */
static ctxpar_status resolve_dtype(const ctxpar_backend *backend, const ctxpar_model *model,
                                   ctxpar_dtype *dtype) {
    const int has_bf16 = ctxpar_cpu_has(CTXPAR_CPU_AVX512_BF16) ||
                         ctxpar_cpu_has(CTXPAR_CPU_AMX_BF16);
    /* A VAE-only model stays float32: diffusers loads its folder in float32
     * unless asked otherwise, and auto follows the reference run unchanged
     * (transformers 5 keeps a checkpoint's stored dtype). */
    if (*dtype == CTXPAR_DTYPE_AUTO)
        *dtype = has_bf16 && model->weights_half && model->config.has_transformer &&
                         backend->linear_bf16
                     ? CTXPAR_DTYPE_BF16
                     : CTXPAR_DTYPE_F32;
    if (*dtype != CTXPAR_DTYPE_BF16) return CTXPAR_OK;
    if (!backend->linear_bf16)
        return ctxpar_error(CTXPAR_ERR_UNSUPPORTED, "--dtype bf16: the %s backend has no bf16 "
                            "kernels; use --dtype f32", backend->name);
    if (model->config.has_vae && !backend->conv_bf16)
        return ctxpar_error(CTXPAR_ERR_UNSUPPORTED, "--dtype bf16: the %s backend has no bf16 "
                            "convolutions; use --dtype f32", backend->name);
    return CTXPAR_OK;
}

/* The load hook (model.h): --dtype is resolved as soon as the model is laid
 * out, and a bf16 run's GEMM weights are then loaded straight into their
 * packed form (model_bf16.h), never held whole in float32. */
typedef struct dtype_hook {
    const ctxpar_backend *backend;
    ctxpar_dtype *dtype;
} dtype_hook;

static ctxpar_status decide_dtype(void *user, ctxpar_model *layout) {
    const dtype_hook *h = user;
    CTXPAR_TRY(resolve_dtype(h->backend, layout, h->dtype));
    return *h->dtype == CTXPAR_DTYPE_BF16 ? ctxpar_model_bf16_prepare(layout) : CTXPAR_OK;
}

/* This rank's PSS of the weights (a page shared by k ranks counts 1/k): the
 * blob, the packed buffer and the checkpoint's rows read in place. A
 * mapping is counted whole once any range touches it, so the ranges past
 * MAX_RANGES (none in the released families) lie in the checkpoint's
 * mappings already counted, unless it had more shards than that. */
static int64_t weights_pss_of(const ctxpar_model *model, int64_t packed_bytes) {
    enum { MAX_RANGES = 2 + 64 * 4 * CTXPAR_BF16_ROWS_PIECES_MAX };
    const void *at[MAX_RANGES];
    int64_t bytes[MAX_RANGES];
    int n = 0;
    at[n] = model->blob, bytes[n++] = model->blob_floats * (int64_t)sizeof(float);
    at[n] = packed_bytes ? model->packed_buffer->data : NULL, bytes[n++] = packed_bytes;
    for (int t = 0; t < model->n_tensors; t++) {
        const ctxpar_weight *w = &model->tensors[t];
        for (int p = 0; w->packing == CTXPAR_PACK_ROWS && p < w->rows.pieces; p++)
            if (n < MAX_RANGES)
                at[n] = w->rows.piece[p],
                bytes[n++] = w->count / w->rows.pieces * (int64_t)sizeof(ctxpar_bf16);
    }
    return ctxpar_mem_pss_of(at, bytes, n);
}

/* What the ring's local attention ran on, for the summary. */
static const char *attention_path(const ctxpar_plan *plan, const ctxpar_model *model) {
    if (!model || !model->config.has_transformer) return "none";
    const ctxpar_transformer_config *tc = &model->config.transformer;
    const int dh = tc->heads > 0 ? tc->dim / tc->heads : 0;
    const char *bf16 = ctxpar_cpu_attention_bf16_path(dh);
    if (plan->dtype == CTXPAR_DTYPE_BF16 && bf16)
        return !strcmp(bf16, "gemm") ? "bf16-gemm" : "bf16";
    return ctxpar_cpu_attention_isa();
}

/* The features file's config attribute: the model config and the run options. */
static char *run_config_json(const ctxpar_model *model, const ctxpar_run_options *o,
                             const ctxpar_plan *plan) {
    ctxpar_json_writer w;
    ctxpar_json_writer_init(&w);
    ctxpar_json_object_begin(&w);
    ctxpar_json_put_string(&w, "family", model->config.family);
    /* A family folder's model is described by its own config.json, verbatim
     * but on one line. */
    ctxpar_json_key(&w, "model");
    if (model->source_config)
        ctxpar_json_raw(&w, model->source_config);
    else
        ctxpar_config_write_json(&w, &model->config);
    ctxpar_json_key(&w, "run");
    ctxpar_json_object_begin(&w);
    char input[1400];
    ctxpar_source_describe(&o->source, input, sizeof input);
    ctxpar_json_put_string(&w, "input", input);
    if (o->source.kind == CTXPAR_SOURCE_VIDEO) { /* the frame selection and shaping */
        char video[256];
        ctxpar_source_video_options_describe(&o->source.video, video, sizeof video);
        ctxpar_json_put_string(&w, "video", video);
    }
    ctxpar_json_put_string(&w, "model_file", o->model_path);
    ctxpar_json_put_string(&w, "preset", o->model_path[0] ? "" : o->preset);
    ctxpar_json_put_int(&w, "seed", (long long)o->seed);
    ctxpar_json_put_int(&w, "frames", (long long)plan->frames);
    ctxpar_json_put_int(&w, "height", (long long)plan->height);
    ctxpar_json_put_int(&w, "width", (long long)plan->width);
    ctxpar_json_put_string(&w, "norm", ctxpar_norm_mode_name(plan->norm));
    ctxpar_json_put_string(&w, "dtype", ctxpar_dtype_name(plan->dtype));
    const int64_t chunk_frames =
        plan->norm == CTXPAR_NORM_CHUNK ? plan->norm_chunk_frames : plan->conv_chunk_frames;
    ctxpar_json_put_int(&w, "chunk_frames", (long long)chunk_frames);
    ctxpar_json_put_int(&w, "no_merge", o->no_merge);
    /* the merge as it ran (a family folder's config does not carry it) */
    const ctxpar_merge_config *merge = &model->config.merge;
    ctxpar_json_put_string(&w, "merge", merge->rule == CTXPAR_MERGE_STTM ? "sttm" : "quadtree");
    ctxpar_json_put_double(&w, "merge_spatial", merge->spatial_threshold);
    ctxpar_json_put_double(&w, "merge_temporal", merge->temporal_threshold);
    if (merge->rule == CTXPAR_MERGE_STTM)
        ctxpar_json_put_int(&w, "merge_root_level", merge->root_level);
    else
        ctxpar_json_put_int(&w, "merge_levels", merge->levels);
    ctxpar_json_put_int(&w, "ranks", plan->ranks);
    ctxpar_json_object_end(&w);
    ctxpar_json_object_end(&w);
    return ctxpar_json_writer_take(&w);
}

/* The latents file: the posterior mean (and log-variance) in frame-major
 * layout, with the model's scaling attributes. */
static ctxpar_status write_latents_file(ctxpar_comm_t comm, const ctxpar_run_options *o,
                                        const ctxpar_model *model, const ctxpar_plan *plan,
                                        const ctxpar_tensor *latents, const char *config_json) {
    const int rank = ctxpar_comm_rank(comm);
    const int64_t z = model->config.vae.latent_channels;
    ctxpar_tensor mean = {0}, logvar = {0};
    ctxpar_tensor view = *latents;
    view.shape[0] = z;
    ctxpar_status status = ctxpar_latents_to_frame_major(&view, &mean);
    if (status == CTXPAR_OK && plan->latent_channels_out > z) {
        view.data = latents->data + z * latents->stride[0];
        status = ctxpar_latents_to_frame_major(&view, &logvar);
    }
    status = ctxpar_comm_agree(comm, status);
    if (status == CTXPAR_OK) {
        ctxpar_output out = {
            .latents_only = 1, .latents = mean.data, .latents_logvar = logvar.data,
            .scaling_factor = model->config.scaling.scaling_factor,
            .invert_scale_latents = model->config.scaling.invert_scale_latents,
            .family = model->config.family,
            .latent_first = plan->first_latent[rank], .latent_count = plan->n_latent[rank],
            .latent_frames = plan->latent_frames, .latent_h = plan->latent_h,
            .latent_w = plan->latent_w, .latent_z = z, .config_json = config_json,
            .frames = plan->frames, .height = plan->height, .width = plan->width,
            .ranks = plan->ranks};
        status = ctxpar_output_write(comm, o->out_path, o->overwrite, &out);
    }
    ctxpar_tensor_free(&mean);
    ctxpar_tensor_free(&logvar);
    return status;
}

/* A video file with no --resize, --crop or --size takes its model family's
 * default shaping (V-JEPA 2's processor, CogVideoX's 720x480). */
static void apply_video_default(const ctxpar_model_config *config, ctxpar_source *source) {
    ctxpar_video_options *v = &source->video;
    if (config->video_default.sample_fps > 0) { /* Qwen2-VL's sampling, --fps or not */
        v->uniform = 1;
        v->uniform_fps = config->video_default.sample_fps;
        v->min_frames = config->video_default.min_frames;
        v->max_frames = config->video_default.max_frames;
    }
    if (v->resize != CTXPAR_VIDEO_RESIZE_NONE || v->crop_center || source->height ||
        source->width)
        return;
    if (config->video_default.budget_factor > 0) {
        v->resize = CTXPAR_VIDEO_RESIZE_BUDGET;
        v->budget_factor = config->video_default.budget_factor;
        v->min_pixels = config->video_default.min_pixels;
        v->max_pixels = config->video_default.max_pixels;
        v->total_pixels = config->video_default.total_pixels;
        v->bicubic = 1;
        return;
    }
    if (config->video_default.resize_short > 0) {
        v->resize = CTXPAR_VIDEO_RESIZE_SHORT;
        v->resize_short = config->video_default.resize_short;
    } else if (config->video_default.resize_width > 0) {
        v->resize = CTXPAR_VIDEO_RESIZE_EXACT;
        v->resize_width = config->video_default.resize_width;
        v->resize_height = config->video_default.resize_height;
    }
    if (config->video_default.crop > 0) {
        v->crop_center = 1;
        source->height = source->width = config->video_default.crop;
    }
}

/* Sources give x = u/127.5 - 1, i.e. (u/255 - 0.5)/0.5; a model with other
 * pixel statistics (ImageNet's, V-JEPA 2) gets (u/255 - mean[c])/std[c]. */
static void normalize_pixels(const ctxpar_model_config *config, ctxpar_tensor *input) {
    const int64_t n = input->shape[1] * input->shape[2] * input->shape[3];
    for (int c = 0; c < 3; c++) {
        const double scale = 0.5 / config->pixel_std[c];
        const double shift = (0.5 - config->pixel_mean[c]) / config->pixel_std[c];
        if (scale == 1.0 && shift == 0.0) continue;
        float *x = input->data + c * input->stride[0];
#pragma omp parallel for schedule(static) if (n > (1 << 16))
        for (int64_t i = 0; i < n; i++) x[i] = (float)(x[i] * scale + shift);
    }
}

static void layer_progress(void *user, int64_t done, int64_t total) {
    ctxpar_progress_update(user, done, total);
}

ctxpar_status ctxpar_pipeline_run(ctxpar_comm_t comm, const ctxpar_run_options *options,
                                  ctxpar_run_summary *summary) {
    ctxpar_status status = CTXPAR_OK;
    const int rank = ctxpar_comm_rank(comm), ranks = ctxpar_comm_size(comm);
    ctxpar_run_options o = *options;
    const ctxpar_backend *backend = NULL;
    ctxpar_model *model = NULL;
    ctxpar_plan plan = {0};
    ctxpar_tensor input = {0}, latents = {0}, tokens = {0}, latents_out = {0};
    ctxpar_merge_result merged = {0};
    int32_t *position_ids = NULL;
    ctxpar_vae_stats vae_stats = {0};
    ctxpar_transformer_stats tf_stats = {0};
    char *config_json = NULL;
    double seconds[CTXPAR_STAGE_COUNT] = {0};
    ctxpar_progress progress;
    ctxpar_progress_init(&progress, rank == 0 && !o.quiet && !o.dry_run);
    memset(summary, 0, sizeof *summary);
    /* The communicator counts bytes over its lifetime; a run reports its own. */
    ctxpar_comm_stats comm_at_start;
    ctxpar_comm_get_stats(comm, &comm_at_start);
    double t_start = MPI_Wtime(), t0 = t_start;

    /* ---- setup: model, input probe, plan, memory and output checks ---- */
    CTXPAR_TRY_GOTO(ctxpar_comm_agree(
        comm, ctxpar_backend_select(o.device, ctxpar_comm_local_rank(comm), &backend)));
    dtype_hook hook_data = {backend, &o.dtype};
    const ctxpar_load_hook hook = {decide_dtype, &hook_data};
    CTXPAR_TRY_GOTO(load_model(comm, &o, &hook, &model));
    if (o.source.kind == CTXPAR_SOURCE_VIDEO) apply_video_default(&model->config, &o.source);
    if (o.source.kind != CTXPAR_SOURCE_SYNTHETIC) { /* HDF5 and video files */
        CTXPAR_TRY_GOTO(ctxpar_source_probe(comm, &o.source));
    } else {
        if (o.source.height == 0) o.source.height = 256;
        if (o.source.width == 0) o.source.width = 256;
    }
    o.ranks_per_node = ctxpar_comm_local_size(comm);
    CTXPAR_TRY_GOTO(ctxpar_comm_agree(comm, ctxpar_plan_make(&model->config, &o, ranks, &plan)));
    /* A dry run shows the whole plan first: most needed when it does not fit. */
    if (o.dry_run && rank == 0) {
        ctxpar_plan_print(stdout, &plan, &model->config);
        fflush(stdout);
    }
    if (o.mem_limit_mib > 0 && plan.max_rank_bytes > o.mem_limit_mib * 1024 * 1024) {
        /* The smallest rank count that would fit: memory per rank falls as
         * ranks grow, so a binary search over [ranks+1, units] finds it. */
        char hint[256] = "";
        int64_t lo = ranks + 1, hi = plan.n_units, fit = 0;
        while (lo <= hi) {
            int64_t mid = lo + (hi - lo) / 2;
            ctxpar_plan alt;
            int fits = 0;
            if (ctxpar_plan_make(&model->config, &o, (int)mid, &alt) == CTXPAR_OK) {
                fits = alt.max_rank_bytes <= o.mem_limit_mib * 1024 * 1024;
                ctxpar_plan_free(&alt);
            }
            if (fits) {
                fit = mid;
                hi = mid - 1;
            } else {
                lo = mid + 1;
            }
        }
        if (fit > 0)
            snprintf(hint, sizeof hint, "; %lld ranks with %lld MiB each would fit", (long long)fit,
                     (long long)o.mem_limit_mib);
        /* On this one node, the node's memory shared among r ranks: the
         * largest r whose every rank fits (fewer ranks carry fewer halos). */
        int64_t node_fit = 0;
        for (int64_t r = 1; o.node_mem_mib > 0 && r <= plan.n_units && r <= 256; r++) {
            ctxpar_plan alt;
            ctxpar_run_options alt_o = o;
            alt_o.ranks_per_node = (int)r;
            if (ctxpar_plan_make(&model->config, &alt_o, (int)r, &alt) != CTXPAR_OK) continue;
            if (alt.max_rank_bytes * r <= o.node_mem_mib * 1024 * 1024) node_fit = r;
            ctxpar_plan_free(&alt);
        }
        if (node_fit > 0) {
            size_t len = strlen(hint);
            snprintf(hint + len, sizeof hint - len, "%s on one node of %lld MiB, %lld rank%s fit%s",
                     len ? ";" : ";", (long long)o.node_mem_mib, (long long)node_fit,
                     node_fit > 1 ? "s" : "", node_fit > 1 ? "" : "s");
        }
        ctxpar_error_clear();
        status = ctxpar_error(CTXPAR_ERR_MEMORY_LIMIT,
                              "the run needs about %.0f MiB on its largest rank but --mem-limit "
                              "is %lld MiB%s%s",
                              (double)plan.max_rank_bytes / (1 << 20),
                              (long long)o.mem_limit_mib, hint,
                              hint[0] ? "" : "; no rank count up to the number of shard units "
                                             "fits: use fewer frames or a smaller size");
        goto fail;
    }
    summary->planned_bytes = plan.max_rank_bytes;
    if (o.dry_run) {
        if (rank == 0 && o.mem_limit_mib > 0)
            printf("fits --mem-limit %lld MiB per rank\n", (long long)o.mem_limit_mib);
        summary->dry_run = 1;
        goto done;
    }
    {
        /* The largest the file can be: every token its own record, plus the
         * latents if asked for, plus room for metadata. */
        int64_t dim = ctxpar_config_output_dim(&model->config);
        int64_t max_bytes = plan.total_tokens * (dim * 4 + 6 * 4) + (1 << 20);
        if (o.save_latents || !plan.has_transformer)
            max_bytes += plan.latent_frames * plan.latent_h * plan.latent_w *
                         plan.latent_channels_out * 4;
        CTXPAR_TRY_GOTO(ctxpar_output_check(comm, o.out_path, o.overwrite, max_bytes));
    }
    config_json = run_config_json(model, &o, &plan);
    if (!config_json) {
        status = ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory");
        goto fail;
    }
    seconds[CTXPAR_STAGE_SETUP] = MPI_Wtime() - t0;

    /* ---- input ---- */
    t0 = MPI_Wtime();
    ctxpar_progress_stage(&progress, "input");
    status = ctxpar_tensor_alloc_video(&input, CTXPAR_MEM_INPUT, "input frames", 3,
                                       plan.n_frames[rank], plan.height, plan.width);
    if (status == CTXPAR_OK)
        status = ctxpar_source_read(comm, &o.source, plan.first_frame[rank], plan.n_frames[rank],
                                    input.data);
    if (status == CTXPAR_OK) normalize_pixels(&model->config, &input);
    CTXPAR_TRY_GOTO(ctxpar_comm_agree(comm, status));
    ctxpar_progress_end_stage(&progress);
    seconds[CTXPAR_STAGE_INPUT] = MPI_Wtime() - t0;

    /* ---- VAE (a model without one embeds the pixels themselves) ---- */
    t0 = MPI_Wtime();
    if (model->config.has_vae) {
        ctxpar_progress_stage(&progress, "vae");
        CTXPAR_TRY_GOTO(ctxpar_vae_encode(backend, comm, model, &plan, &input, &latents,
                                          &vae_stats, layer_progress, &progress));
        ctxpar_progress_end_stage(&progress);
    } else {
        latents = input;
        memset(&input, 0, sizeof input);
    }
    seconds[CTXPAR_STAGE_VAE] = MPI_Wtime() - t0;

    if (!plan.has_transformer) {
        /* A VAE-only model's job ends with its latents file. */
        t0 = MPI_Wtime();
        ctxpar_progress_stage(&progress, "output");
        CTXPAR_TRY_GOTO(write_latents_file(comm, &o, model, &plan, &latents, config_json));
        ctxpar_progress_end_stage(&progress);
        seconds[CTXPAR_STAGE_OUTPUT] = MPI_Wtime() - t0;
        goto summary;
    }

    /* ---- tokens ---- */
    t0 = MPI_Wtime();
    ctxpar_progress_stage(&progress, "tokens");
    status = ctxpar_tokens_embed(backend, model, &plan, &latents, &tokens);
    if (status == CTXPAR_OK && o.save_latents)
        status = ctxpar_latents_to_frame_major(&latents, &latents_out);
    CTXPAR_TRY_GOTO(ctxpar_comm_agree(comm, status));
    ctxpar_tensor_free(&latents);
    ctxpar_progress_end_stage(&progress);
    seconds[CTXPAR_STAGE_TOKENS] = MPI_Wtime() - t0;

    /* ---- transformer: attention over every token of every rank ---- */
    t0 = MPI_Wtime();
    ctxpar_progress_stage(&progress, "transformer");
    CTXPAR_TRY_GOTO(ctxpar_transformer_run(backend, comm, model, &plan, &tokens, &tf_stats,
                                           layer_progress, &progress));
    ctxpar_progress_end_stage(&progress);
    seconds[CTXPAR_STAGE_TRANSFORMER] = MPI_Wtime() - t0;

    /* ---- merge: quadtree per frame, temporal chains, chains across ranks ---- */
    t0 = MPI_Wtime();
    ctxpar_progress_stage(&progress, "merge");
    if (!o.no_merge && model->config.merge.rule == CTXPAR_MERGE_STTM)
        CTXPAR_TRY_GOTO(ctxpar_merge_sttm_run(comm, &plan, &model->config.merge, tokens.data,
                                              ctxpar_config_output_dim(&model->config), &merged));
    else
        CTXPAR_TRY_GOTO(ctxpar_merge_run(comm, &plan, &model->config.merge, o.no_merge,
                                         tokens.data, ctxpar_config_output_dim(&model->config),
                                         &merged));
    ctxpar_tensor_free(&tokens);
    ctxpar_progress_end_stage(&progress);
    seconds[CTXPAR_STAGE_MERGE] = MPI_Wtime() - t0;

    /* ---- output ---- */
    t0 = MPI_Wtime();
    ctxpar_progress_stage(&progress, "output");
    if (model->config.transformer.llm_positions) {
        status = llm_positions(&model->config, &o.source, &merged.records, &position_ids);
        CTXPAR_TRY_GOTO(ctxpar_comm_agree(comm, status));
    }
    {
        ctxpar_output out = {
            .position_ids = position_ids, .family = model->config.family,
            .n_records = merged.records.count, .dim = ctxpar_config_output_dim(&model->config),
            .features = merged.features, .t_start = merged.records.t_start,
            .t_end = merged.records.t_end, .level = merged.records.level,
            .y = merged.records.y, .x = merged.records.x, .size = merged.records.size,
            .latents = o.save_latents ? latents_out.data : NULL,
            .latent_first = plan.first_latent[rank], .latent_count = plan.n_latent[rank],
            .latent_frames = plan.latent_frames, .latent_h = plan.latent_h,
            .latent_w = plan.latent_w, .latent_z = model->config.vae.latent_channels,
            .config_json = config_json, .frames = plan.frames, .height = plan.height,
            .width = plan.width, .tokens = plan.total_tokens, .ranks = ranks};
        CTXPAR_TRY_GOTO(ctxpar_output_write(comm, o.out_path, o.overwrite, &out));
    }
    ctxpar_progress_end_stage(&progress);
    seconds[CTXPAR_STAGE_OUTPUT] = MPI_Wtime() - t0;

    /* ---- summary: max over ranks of times and memory, sums of bytes ---- */
summary:
    {
        ctxpar_comm_stats cs;
        ctxpar_comm_get_stats(comm, &cs);
        ctxpar_mem_stats ms;
        ctxpar_mem_get_stats(&ms);
        double maxes[CTXPAR_STAGE_COUNT + 6];
        for (int s = 0; s < CTXPAR_STAGE_COUNT; s++) maxes[s] = seconds[s];
        maxes[CTXPAR_STAGE_COUNT] = MPI_Wtime() - t_start;
        maxes[CTXPAR_STAGE_COUNT + 1] = vae_stats.halo_wait_seconds;
        maxes[CTXPAR_STAGE_COUNT + 2] = vae_stats.halo_exchange_seconds;
        maxes[CTXPAR_STAGE_COUNT + 3] = tf_stats.seconds_attention;
        maxes[CTXPAR_STAGE_COUNT + 4] = tf_stats.ring.seconds_wait;
        maxes[CTXPAR_STAGE_COUNT + 5] = tf_stats.ring.seconds_exchange;
        CTXPAR_TRY_GOTO(ctxpar_comm_allreduce_max_f64(comm, maxes, CTXPAR_STAGE_COUNT + 6));
        summary->attention_seconds = maxes[CTXPAR_STAGE_COUNT + 3];
        summary->vae_conv_seconds = vae_stats.seconds_conv;
        summary->vae_norm_seconds = vae_stats.seconds_norm;
        summary->vae_other_seconds = vae_stats.seconds_other;
        summary->ring_wait_max = maxes[CTXPAR_STAGE_COUNT + 4];
        summary->ring_exchange_max = maxes[CTXPAR_STAGE_COUNT + 5];
        int64_t bytes_sent = cs.bytes_sent - comm_at_start.bytes_sent;
        int64_t imax[3] = {ms.peak_bytes, ctxpar_mem_peak_rss(), bytes_sent};
        /* What the weights cost the node: PSS counts a page shared by k ranks 1/k. */
        const int64_t packed_bytes = model->packed_buffer ? model->packed_buffer->bytes : 0;
        int64_t weights_pss = weights_pss_of(model, packed_bytes);
        int64_t isum[2] = {bytes_sent, weights_pss > 0 ? weights_pss : 0};
        CTXPAR_TRY_GOTO(ctxpar_comm_allreduce_max_i64(comm, imax, 3));
        CTXPAR_TRY_GOTO(ctxpar_comm_allreduce_sum_i64(comm, isum, 2));
        const int64_t in_place_bytes = model->in_place_values * (int64_t)sizeof(ctxpar_bf16);
        summary->weights_bytes =
            model->blob_floats * (int64_t)sizeof(float) + packed_bytes + in_place_bytes;
        summary->packed_bytes = packed_bytes;
        summary->in_place_bytes = in_place_bytes;
        summary->weights_pss_sum = isum[1];
        for (int s = 0; s < CTXPAR_STAGE_COUNT; s++) summary->seconds[s] = maxes[s];
        summary->seconds_total = maxes[CTXPAR_STAGE_COUNT];
        summary->comm_wait_max = maxes[CTXPAR_STAGE_COUNT + 1];
        summary->comm_exchange_max = maxes[CTXPAR_STAGE_COUNT + 2];
        summary->peak_tracked_max = imax[0];
        summary->peak_rss_max = imax[1];
        summary->bytes_sent_max = imax[2];
        summary->bytes_sent_total = isum[0];
        summary->records = merged.stats.records_out;
        summary->longest_chain = merged.stats.longest_chain;
    }

done:
    summary->ranks = ranks;
    summary->nodes = ctxpar_comm_node_count(comm);
    summary->dtype = ctxpar_dtype_name(plan.dtype);
    summary->gemm_path = plan.dtype == CTXPAR_DTYPE_BF16 ? ctxpar_cpu_gemm_bf16_path() : "sgemm";
    summary->isa = ctxpar_cpu_isa();
    summary->attention_path = attention_path(&plan, model);
    summary->frames = plan.frames;
    summary->latent_frames = plan.latent_frames;
    summary->height = plan.height;
    summary->width = plan.width;
    summary->tokens = plan.total_tokens;
    summary->vae_flops = plan.vae_flops;
    summary->embed_flops = plan.embed_flops;
    summary->attention_flops = plan.attention_flops;
    summary->dense_flops = plan.dense_flops;
    summary->device = backend->name;
    summary->model = model->config;
    status = CTXPAR_OK;
fail:
    ctxpar_merge_result_free(&merged);
    ctxpar_mem_free(position_ids);
    ctxpar_tensor_free(&latents_out);
    ctxpar_tensor_free(&tokens);
    ctxpar_tensor_free(&latents);
    ctxpar_tensor_free(&input);
    free(config_json);
    ctxpar_plan_free(&plan);
    ctxpar_model_free(model);
    return status;
}

double ctxpar_hidden_share(double wait_seconds, double in_flight_seconds) {
    return in_flight_seconds > 0 ? 1.0 - wait_seconds / in_flight_seconds : 1.0;
}

void ctxpar_summary_print(const ctxpar_run_summary *s) {
    const double mib = 1024.0 * 1024.0;
    printf("# ctxpar summary: %d ranks on %d node(s), %d thread(s) per rank\n", s->ranks,
           s->nodes, s->threads);
    if (!strcmp(s->dtype, "bf16"))
        printf("dtype bf16: linears and convs on the bf16 GEMM (%s%s), attention %s (CPU ISA %s); "
               "norms, softmax and statistics in float32\n",
               s->gemm_path,
               s->model.has_vae && !strcmp(s->gemm_path, "avx512bf16")
                   ? "; causal 3x3x3 convs as bf16 Winograd"
                   : "",
               s->attention_path, s->isa);
    else
        printf("dtype %s: linears on %s, attention %s (CPU ISA %s)\n", s->dtype, s->gemm_path,
               s->attention_path, s->isa);
    const int tokens = s->model.has_transformer; /* else a VAE-only model's latents job */
    if (tokens) {
        printf("frames %lld (%lldx%lld), tokens %lld, records written %lld\n",
               (long long)s->frames, (long long)s->width, (long long)s->height,
               (long long)s->tokens, (long long)s->records);
        printf("merge: %lld tokens in, %lld records out (%.2fx fewer), longest chain %lld "
               "latent frames\n",
               (long long)s->tokens, (long long)s->records,
               s->records ? (double)s->tokens / (double)s->records : 0.0,
               (long long)s->longest_chain);
    } else {
        printf("frames %lld (%lldx%lld) -> %lld latent frames\n", (long long)s->frames,
               (long long)s->width, (long long)s->height, (long long)s->latent_frames);
    }
    printf("wall %.2fs: %.2f frames/s, %.1f tokens/s\n", s->seconds_total,
           s->frames / s->seconds_total, s->tokens / s->seconds_total);
    printf("%-12s %10s\n", "stage", "seconds");
    for (int i = 0; i < CTXPAR_STAGE_COUNT; i++)
        printf("%-12s %10.3f\n", ctxpar_stage_name((ctxpar_stage)i), s->seconds[i]);
    double vae_s = s->seconds[CTXPAR_STAGE_VAE];
    if (s->model.has_vae) {
        printf("VAE: %.1f GFLOP/s (%.3f TFLOP in %.2fs, slowest rank)\n",
               vae_s > 0 ? s->vae_flops / vae_s / 1e9 : 0.0, s->vae_flops / 1e12, vae_s);
        printf("  VAE on rank 0: convolutions %.2fs, group norms %.2fs, pooling/skip/add "
               "%.2fs\n",
               s->vae_conv_seconds, s->vae_norm_seconds, s->vae_other_seconds);
    }
    double att_s = s->attention_seconds;
    if (tokens)
        printf("attention: %.1f GFLOP/s (%.3f TFLOP = 4*n_q*n_kv*d over the pairs that attend "
               "x layers, in %.2fs, slowest rank)\n",
               att_s > 0 ? s->attention_flops / att_s / 1e9 : 0.0, s->attention_flops / 1e12,
               att_s);
    printf("communication: %.2f MiB sent in all, %.2f MiB by the busiest rank\n",
           s->bytes_sent_total / mib, s->bytes_sent_max / mib);
    double halo_hidden = ctxpar_hidden_share(s->comm_wait_max, s->comm_exchange_max);
    double ring_hidden = ctxpar_hidden_share(s->ring_wait_max, s->ring_exchange_max);
    if (s->model.has_vae)
        printf("  conv-cache halos: waited %.3fs of %.3fs in flight (%.0f%% hidden under "
               "compute)\n",
               s->comm_wait_max, s->comm_exchange_max, 100.0 * halo_hidden);
    if (tokens)
        printf("  ring K/V blocks:  waited %.3fs of %.3fs in flight (%.0f%% hidden under "
               "compute)\n",
               s->ring_wait_max, s->ring_exchange_max, 100.0 * ring_hidden);
    printf("peak memory per rank (max over ranks): %.1f MiB counted by the allocator, %.1f "
           "MiB resident; plan estimated %.1f MiB\n",
           s->peak_tracked_max / mib, s->peak_rss_max / mib, s->planned_bytes / mib);
    if (s->packed_bytes > 0 || s->in_place_bytes > 0)
        printf("weights: %.1f MiB (%.1f MiB float32 + %.1f MiB packed bf16 + %.1f MiB bf16 read "
               "in place from the checkpoint), one copy per node: PSS summed over the node's "
               "ranks %.1f MiB\n",
               s->weights_bytes / mib,
               (s->weights_bytes - s->packed_bytes - s->in_place_bytes) / mib,
               s->packed_bytes / mib, s->in_place_bytes / mib,
               s->weights_pss_sum / mib / (s->nodes > 0 ? s->nodes : 1));
    else
        printf("weights: %.1f MiB float32, one copy per node: PSS summed over the node's ranks "
               "%.1f MiB\n",
               s->weights_bytes / mib, s->weights_pss_sum / mib / (s->nodes > 0 ? s->nodes : 1));
}
