/* Argument parsing (see cli.h). Numbers are parsed strictly: "12x" or an
 * out-of-range value is an error naming the flag, never a silent truncation. */
#include "launch/cli.h"

#include "runtime/model/config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ctxpar_status parse_int(const char *flag, const char *text, int64_t lo, int64_t hi,
                               int64_t *out) {
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < lo || v > hi)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT, "%s: '%s' is not an integer in [%lld, %lld]",
                            flag, text, (long long)lo, (long long)hi);
    *out = v;
    return CTXPAR_OK;
}

static ctxpar_status parse_double(const char *flag, const char *text, double lo, double hi,
                                  double *out) {
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !isfinite(v) || v < lo || v > hi)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT, "%s: '%s' is not a number in [%g, %g]", flag,
                            text, lo, hi);
    *out = v;
    return CTXPAR_OK;
}

static ctxpar_status parse_size(const char *text, int64_t *w, int64_t *h) {
    char *end = NULL;
    errno = 0;
    long long vw = strtoll(text, &end, 10);
    if (errno || end == text || (*end != 'x' && *end != 'X'))
        goto bad;
    const char *rest = end + 1;
    long long vh = strtoll(rest, &end, 10);
    if (errno || end == rest || *end != '\0' || vw <= 0 || vh <= 0 || vw > 65536 || vh > 65536)
        goto bad;
    *w = vw, *h = vh;
    return CTXPAR_OK;
bad:
    return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                        "--size: '%s' is not WIDTHxHEIGHT with positive integers (e.g. 256x256)",
                        text);
}

static ctxpar_status copy_path(const char *flag, const char *text, char *dst, size_t cap) {
    if (text[0] == '\0') return ctxpar_error(CTXPAR_ERR_ARGUMENT, "%s: empty value", flag);
    if (strlen(text) >= cap)
        return ctxpar_error(CTXPAR_ERR_ARGUMENT, "%s: path longer than %zu characters", flag,
                            cap - 1);
    memcpy(dst, text, strlen(text) + 1);
    return CTXPAR_OK;
}

/* Flags that take a value; the rest are switches. */
static const char *const valued_flags[] = {
    "--frames", "--size", "--input", "--model", "--preset", "--out", "-o", "--norm",
    "--chunk-frames", "--merge-spatial", "--merge-temporal", "--merge-levels", "--device",
    "--threads", "--mem-limit", "--seed", "--repeat", "--warmup", "--json", "--input-list",
    "--out-dir",
    "--layer",
    "--start", "--fps", "--resize", "--crop", /* video files */
    NULL};

static int takes_value(const char *flag) {
    for (int i = 0; valued_flags[i]; i++)
        if (strcmp(flag, valued_flags[i]) == 0) return 1;
    return 0;
}

ctxpar_status ctxpar_cli_parse(int argc, char **argv, ctxpar_cli *cli) {
    memset(cli, 0, sizeof *cli);
    ctxpar_run_options_default(&cli->run);
    ctxpar_run_options *o = &cli->run;
    int i = 1;
    cli->command = CTXPAR_CMD_RUN;
    cli->repeat = 3;
    cli->warmup = 1;
    if (argc > 1 && argv[1][0] != '-') {
        const char *cmd = argv[1];
        if (strcmp(cmd, "init-model") == 0) cli->command = CTXPAR_CMD_INIT_MODEL;
        else if (strcmp(cmd, "inspect") == 0) cli->command = CTXPAR_CMD_INSPECT;
        else if (strcmp(cmd, "make-video") == 0) cli->command = CTXPAR_CMD_MAKE_VIDEO;
        else if (strcmp(cmd, "help") == 0) cli->command = CTXPAR_CMD_HELP;
        else
            return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                                "unknown command '%s' (commands: init-model, inspect, "
                                "make-video; see ctxpar --help)",
                                cmd);
        i = 2;
        if (cli->command == CTXPAR_CMD_INSPECT) {
            if (argc != 3 || argv[2][0] == '-')
                return ctxpar_error(CTXPAR_ERR_ARGUMENT, "usage: ctxpar inspect FILE");
            return copy_path("inspect", argv[2], cli->file, sizeof cli->file);
        }
    }
    int frames_given = 0;
    for (; i < argc; i++) {
        char flag[64];
        const char *arg = argv[i], *value = NULL;
        const char *eq = strchr(arg, '=');
        if (strncmp(arg, "--", 2) == 0 && eq && (size_t)(eq - arg) < sizeof flag) {
            memcpy(flag, arg, (size_t)(eq - arg));
            flag[eq - arg] = '\0';
            value = eq + 1;
        } else {
            snprintf(flag, sizeof flag, "%s", arg);
        }
        if (takes_value(flag)) {
            if (!value) {
                if (i + 1 >= argc)
                    return ctxpar_error(CTXPAR_ERR_ARGUMENT, "%s needs a value", flag);
                value = argv[++i];
            }
        } else if (value) {
            return ctxpar_error(CTXPAR_ERR_ARGUMENT, "%s takes no value", flag);
        }
        int64_t v = 0;
        if (!strcmp(flag, "--help") || !strcmp(flag, "-h")) {
            cli->command = CTXPAR_CMD_HELP;
            return CTXPAR_OK;
        } else if (!strcmp(flag, "--version")) {
            cli->command = CTXPAR_CMD_VERSION;
            return CTXPAR_OK;
        } else if (!strcmp(flag, "--frames")) {
            CTXPAR_TRY(parse_int(flag, value, 1, 1 << 24, &o->source.frames));
            frames_given = 1;
        } else if (!strcmp(flag, "--size")) {
            CTXPAR_TRY(parse_size(value, &o->source.width, &o->source.height));
        } else if (!strcmp(flag, "--input")) {
            CTXPAR_TRY(ctxpar_source_parse_input(value, &o->source));
        } else if (!strcmp(flag, "--start") || !strcmp(flag, "--fps") ||
                   !strcmp(flag, "--resize") || !strcmp(flag, "--crop")) { /* video files */
            CTXPAR_TRY(ctxpar_source_parse_video_option(flag, value, &o->source.video));
        } else if (!strcmp(flag, "--model")) {
            CTXPAR_TRY(copy_path(flag, value, o->model_path, sizeof o->model_path));
        } else if (!strcmp(flag, "--preset")) {
            ctxpar_model_config probe;
            CTXPAR_TRY(ctxpar_config_preset(value, &probe));
            snprintf(o->preset, sizeof o->preset, "%s", value);
        } else if (!strcmp(flag, "--out") || !strcmp(flag, "-o")) {
            CTXPAR_TRY(copy_path(flag, value, cli->command == CTXPAR_CMD_RUN ? o->out_path
                                                                               : cli->file,
                                 sizeof cli->file));
            cli->out_given = 1;
        } else if (!strcmp(flag, "--overwrite")) {
            o->overwrite = 1;
        } else if (!strcmp(flag, "--norm")) {
            if (!strcmp(value, "exact")) o->norm = CTXPAR_NORM_EXACT;
            else if (!strcmp(value, "chunk")) o->norm = CTXPAR_NORM_CHUNK;
            else if (!strcmp(value, "diffusers")) o->norm = CTXPAR_NORM_DIFFUSERS;
            else
                return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                                    "--norm: '%s' is not one of exact, chunk, diffusers", value);
        } else if (!strcmp(flag, "--chunk-frames")) {
            CTXPAR_TRY(parse_int(flag, value, 1, 1 << 20, &o->chunk_frames));
        } else if (!strcmp(flag, "--merge-spatial")) {
            CTXPAR_TRY(parse_double(flag, value, -1.0, 2.0, &o->merge_spatial));
        } else if (!strcmp(flag, "--merge-temporal")) {
            CTXPAR_TRY(parse_double(flag, value, -1.0, 2.0, &o->merge_temporal));
        } else if (!strcmp(flag, "--merge-levels")) {
            CTXPAR_TRY(parse_int(flag, value, 0, 16, &v));
            o->merge_levels = (int)v;
        } else if (!strcmp(flag, "--no-merge")) {
            o->no_merge = 1;
        } else if (!strcmp(flag, "--layer")) {
            int64_t layer = 0;
            CTXPAR_TRY(parse_int(flag, value, 1, 100000, &layer));
            o->layer = (int)layer;
        } else if (!strcmp(flag, "--save-logvar")) {
            o->save_logvar = 1;
        } else if (!strcmp(flag, "--save-latents")) {
            o->save_latents = 1;
        } else if (!strcmp(flag, "--device")) {
            if (!strcmp(value, "cpu")) o->device = CTXPAR_DEVICE_CPU;
            else if (!strcmp(value, "cuda")) o->device = CTXPAR_DEVICE_CUDA;
            else
                return ctxpar_error(CTXPAR_ERR_ARGUMENT, "--device: '%s' is not one of cpu, cuda",
                                    value);
        } else if (!strcmp(flag, "--threads")) {
            CTXPAR_TRY(parse_int(flag, value, 1, 4096, &v));
            o->threads = (int)v;
        } else if (!strcmp(flag, "--mem-limit")) {
            CTXPAR_TRY(parse_int(flag, value, 1, (int64_t)1 << 40, &o->mem_limit_mib));
        } else if (!strcmp(flag, "--seed")) {
            CTXPAR_TRY(parse_int(flag, value, 0, INT64_MAX, &v));
            o->seed = (uint64_t)v;
            o->source.seed = (uint64_t)v;
            cli->seed_given = 1;
        } else if (!strcmp(flag, "--bench")) {
            cli->bench = 1;
        } else if (!strcmp(flag, "--repeat")) {
            CTXPAR_TRY(parse_int(flag, value, 1, 1000, &v));
            cli->repeat = (int)v;
        } else if (!strcmp(flag, "--warmup")) {
            CTXPAR_TRY(parse_int(flag, value, 0, 100, &v));
            cli->warmup = (int)v;
        } else if (!strcmp(flag, "--json")) {
            CTXPAR_TRY(copy_path(flag, value, cli->json_path, sizeof cli->json_path));
        } else if (!strcmp(flag, "--input-list")) {
            CTXPAR_TRY(copy_path(flag, value, cli->input_list, sizeof cli->input_list));
        } else if (!strcmp(flag, "--out-dir")) {
            CTXPAR_TRY(copy_path(flag, value, cli->out_dir, sizeof cli->out_dir));
        } else if (!strcmp(flag, "--dry-run")) {
            o->dry_run = 1;
        } else if (!strcmp(flag, "--quiet") || !strcmp(flag, "-q")) {
            o->quiet = 1;
        } else {
            return ctxpar_error(CTXPAR_ERR_ARGUMENT, "unknown option '%s'; see ctxpar --help",
                                arg);
        }
    }
    if (!cli->seed_given) o->source.seed = o->seed;
    if (cli->command == CTXPAR_CMD_INIT_MODEL || cli->command == CTXPAR_CMD_MAKE_VIDEO) {
        if (!cli->file[0])
            return ctxpar_error(CTXPAR_ERR_ARGUMENT, "%s needs -o FILE",
                                cli->command == CTXPAR_CMD_INIT_MODEL ? "init-model"
                                                                      : "make-video");
    }
    if (cli->command == CTXPAR_CMD_RUN) {
        /* An input file's own length is the default: no silent truncation to 64. */
        if (!frames_given && o->source.kind != CTXPAR_SOURCE_SYNTHETIC) o->source.frames = 0;
        cli->frames_given = frames_given;
        if (cli->input_list[0] && (cli->bench || o->source.kind != CTXPAR_SOURCE_SYNTHETIC ||
                                   cli->out_given))
            return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                                "--input-list cannot be combined with --bench, --input or --out "
                                "(outputs go to --out-dir)");
        /* video files: the selection and resizing flags need a video to act on */
        if (ctxpar_source_video_options_set(&o->source.video) &&
            o->source.kind != CTXPAR_SOURCE_VIDEO && !cli->input_list[0])
            return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                                "--start, --fps, --resize and --crop apply to a video file "
                                "--input (or --input-list) only");
        if (cli->out_dir[0] && !cli->input_list[0])
            return ctxpar_error(CTXPAR_ERR_ARGUMENT, "--out-dir needs --input-list");
        if (cli->json_path[0] && !cli->bench)
            return ctxpar_error(CTXPAR_ERR_ARGUMENT, "--json needs --bench");
        if (cli->bench && o->dry_run)
            return ctxpar_error(CTXPAR_ERR_ARGUMENT, "--bench cannot be combined with --dry-run");
    }
    if (cli->command == CTXPAR_CMD_MAKE_VIDEO) {
        if (!o->source.width) o->source.width = o->source.height = 256;
        if (!frames_given) o->source.frames = 64;
    }
    return CTXPAR_OK;
}

void ctxpar_cli_print_help(void) {
    printf(
        "ctxpar: context-parallel long-video inference (run it under mpirun or srun)\n"
        "\n"
        "usage:\n"
        "  ctxpar [options]                         encode a video into token features (or,\n"
        "                                           with a VAE-only model, into latents)\n"
        "  ctxpar init-model --preset P --seed S -o FILE   write a seeded model file\n"
        "  ctxpar inspect FILE                      describe a model file or folder, a features\n"
        "                                           or latents file\n"
        "  ctxpar make-video --frames N --size WxH --seed S -o FILE\n"
        "                                           write the synthetic video as HDF5 input\n"
        "                                           (or as an MP4, H.264, if FILE ends .mp4)\n"
        "\n"
        "input:\n"
        "  --frames N            frames to process (default 64, or all of the input file's;\n"
        "                        a multiple of the temporal compression, 4 for the presets)\n"
        "  --size WxH            frame size (default 256x256, or the input file's)\n"
        "  --input FILE[:DSET]   HDF5 video, uint8 [T,H,W,3] (dataset default 'video');\n"
        "                        default: a seeded synthetic video\n"
        "  --seed S              seed of the synthetic video and of preset weights (default 1)\n"
        "video files (MP4, MKV, WebM, AVI, ...: whatever FFmpeg decodes; docs/video.md):\n"
        "  --input FILE          a video file, told from HDF5 by its content\n"
        "  --start SEC           begin at the first frame at or after SEC seconds\n"
        "  --fps F               resample by timestamp: frame i is the last frame shown at\n"
        "                        or before start + i/F (F: 8, 29.97 or 30000/1001)\n"
        "  --resize short:S|WxH  short side to S (long side int(S*long/short)), or to WxH;\n"
        "                        bilinear with antialias, as torchvision\n"
        "  --crop center         then crop the centre to --size WxH\n"
        "model:\n"
        "  --model FILE|DIR      model file written by init-model, or a released model's\n"
        "                        folder: a diffusers CogVideoX VAE (config.json +\n"
        "                        diffusion_pytorch_model.safetensors, or the repository root\n"
        "                        with vae/), or a V-JEPA 2 folder (config.json +\n"
        "                        model.safetensors); weights F32/F16/BF16, held once per node\n"
        "  --preset P            tiny | small | base, seeded weights (default small)\n"
        "output:\n"
        "  --out FILE            features file (default ctxpar_features.h5)\n"
        "  --overwrite           replace an existing output\n"
        "  --save-latents        also write the VAE latents [T',H',W',z]\n"
        "  --layer K             write the features after transformer block K (1-based)\n"
        "                        instead of the final norm's (for probing)\n"
        "  --save-logvar         VAE-only models: also write latents_logvar (default: only\n"
        "                        the posterior mean, unscaled)\n"
        "execution:\n"
        "  --norm MODE           GroupNorm statistics: exact (default) over the whole video;\n"
        "                        chunk (built-in models): per chunk of frames, approximate,\n"
        "                        bounded memory; diffusers (CogVideoX): per call of\n"
        "                        diffusers' 8-frame batched encode, to match its output\n"
        "  --chunk-frames F      exact: frames per convolution batch (memory only, results\n"
        "                        unchanged; default automatic); chunk: frames per statistics\n"
        "                        chunk (multiple of the temporal compression; default 16)\n"
        "  --merge-spatial T     quadtree merge threshold on cos(child, parent) (model\n"
        "                        default 0.98; >= 1 never merges)\n"
        "  --merge-temporal T    link threshold between frames (default 0.999)\n"
        "  --merge-levels L      deepest quadtree level (default 2)\n"
        "  --no-merge            write every token as its own record (size 1)\n"
        "  --device cpu|cuda     backend (default cpu)\n"
        "  --threads N           threads per rank (default: cores on the node / ranks on it)\n"
        "  --mem-limit MiB       refuse a plan whose largest rank needs more (default: the\n"
        "                        node's memory divided among its ranks)\n"
        "  --dry-run             print the plan (shards, memory, FLOPs, bytes) and stop\n"
        "  --quiet               no progress or summary\n"
        "benchmark:\n"
        "  --bench               time the whole run: --warmup untimed runs, then --repeat\n"
        "                        timed ones; a table of median, min and max per stage (max\n"
        "                        over ranks) and the rates; a line per run unless --quiet.\n"
        "                        Writes --out if given (the last run's file is kept), else\n"
        "                        a scratch ctxpar_bench.h5 in the current directory that is\n"
        "                        removed at the end\n"
        "  --repeat K            timed runs (default 3)\n"
        "  --warmup W            untimed runs first (default 1)\n"
        "  --json FILE           append one JSON object per line to FILE (one line per\n"
        "                        --bench invocation, so a sweep accumulates them)\n"
        "many videos:\n"
        "  --input-list FILE     one HDF5 input per line (INPUT[:DSET] [OUTPUT]); each gets\n"
        "                        its own output; complete outputs are skipped (resume), a\n"
        "                        failed input is reported and the others go on\n"
        "  --out-dir DIR         where outputs without a name in the list go (default .):\n"
        "                        DIR/<input name>.features.h5\n"
        "  --help, --version\n");
}
