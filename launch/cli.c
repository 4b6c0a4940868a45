/* Argument parsing (see cli.h). One table holds every option: its flag, the
 * field it sets and how, its help text and its section. Parsing, --help and
 * the README's option table (tests/cli_table_check.py compares it with
 * --help) all come from it, so an option cannot exist in one and not the
 * others. Numbers are parsed strictly: "12x" or an out-of-range value is an
 * error naming the flag, never a silent truncation. */
#include "launch/cli.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/model/config.h"

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

/* ---- the options --------------------------------------------------------- */

typedef enum cli_kind {
    CLI_SWITCH, /* sets the int at offset to 1 */
    CLI_INT,    /* integer in [lo, hi] into an int (width 4) or int64_t (width 8) */
    CLI_DOUBLE, /* number in [lo, hi] into a double */
    CLI_PATH,   /* non-empty text into a char[cap] */
    CLI_CHOICE, /* one of `choices` (comma-separated): its index into an enum (int) */
    CLI_CUSTOM  /* the option's own function */
} cli_kind;

typedef struct cli_option {
    const char *section; /* non-NULL: a help section starts here */
    const char *flag, *alias;
    const char *metavar; /* the value's name in the help; NULL: a switch */
    cli_kind kind;
    size_t offset; /* into ctxpar_cli */
    int width;
    double lo, hi;
    size_t cap;
    const char *choices;
    ctxpar_status (*custom)(ctxpar_cli *cli, const char *flag, const char *value);
    const char *help; /* lines after the first are indented under it */
} cli_option;

#define AT(field) offsetof(ctxpar_cli, field)
#define SWITCH(field) .kind = CLI_SWITCH, .offset = AT(field)
#define INT(field, l, h)                                                         \
    .kind = CLI_INT, .offset = AT(field), .width = sizeof(((ctxpar_cli *)0)->field), \
    .lo = (l), .hi = (h)
#define DOUBLE(field, l, h) .kind = CLI_DOUBLE, .offset = AT(field), .lo = (l), .hi = (h)
#define PATH(field) .kind = CLI_PATH, .offset = AT(field), .cap = sizeof(((ctxpar_cli *)0)->field)
#define CHOICE(field, list) .kind = CLI_CHOICE, .offset = AT(field), .choices = (list)
#define CUSTOM(fn) .kind = CLI_CUSTOM, .custom = (fn)

static ctxpar_status set_help(ctxpar_cli *cli, const char *flag, const char *value) {
    cli->command = CTXPAR_CMD_HELP;
    return CTXPAR_OK;
}

static ctxpar_status set_version(ctxpar_cli *cli, const char *flag, const char *value) {
    cli->command = CTXPAR_CMD_VERSION;
    return CTXPAR_OK;
}

static ctxpar_status set_frames(ctxpar_cli *cli, const char *flag, const char *value) {
    CTXPAR_TRY(parse_int(flag, value, 1, 1 << 24, &cli->run.source.frames));
    cli->frames_given = 1;
    return CTXPAR_OK;
}

static ctxpar_status set_size(ctxpar_cli *cli, const char *flag, const char *value) {
    return parse_size(value, &cli->run.source.width, &cli->run.source.height);
}

static ctxpar_status set_input(ctxpar_cli *cli, const char *flag, const char *value) {
    return ctxpar_source_parse_input(value, &cli->run.source);
}

static ctxpar_status set_video_option(ctxpar_cli *cli, const char *flag, const char *value) {
    return ctxpar_source_parse_video_option(flag, value, &cli->run.source.video);
}

static ctxpar_status set_preset(ctxpar_cli *cli, const char *flag, const char *value) {
    ctxpar_model_config probe;
    CTXPAR_TRY(ctxpar_config_preset(value, &probe));
    snprintf(cli->run.preset, sizeof cli->run.preset, "%s", value);
    return CTXPAR_OK;
}

/* A run's features file, or the file init-model and make-video write. */
static ctxpar_status set_out(ctxpar_cli *cli, const char *flag, const char *value) {
    char *dst = cli->command == CTXPAR_CMD_RUN ? cli->run.out_path : cli->file;
    CTXPAR_TRY(copy_path(flag, value, dst, sizeof cli->file));
    cli->out_given = 1;
    return CTXPAR_OK;
}

/* The model seed and the synthetic video's. */
static ctxpar_status set_seed(ctxpar_cli *cli, const char *flag, const char *value) {
    int64_t v = 0;
    CTXPAR_TRY(parse_int(flag, value, 0, INT64_MAX, &v));
    cli->run.seed = cli->run.source.seed = (uint64_t)v;
    cli->seed_given = 1;
    return CTXPAR_OK;
}

static const cli_option options[] = {
    {.section = "input", .flag = "--frames", .metavar = "N", CUSTOM(set_frames),
     .help = "frames to process (default 64, or all of the input file's;\n"
             "a multiple of the temporal compression, 4 for the presets)"},
    {.flag = "--size", .metavar = "WxH", CUSTOM(set_size),
     .help = "frame size (default 256x256, or the input file's)"},
    {.flag = "--input", .metavar = "FILE[:DSET]", CUSTOM(set_input),
     .help = "HDF5 video, uint8 [T,H,W,3] (dataset default 'video'), or a\n"
             "video file (below), told from HDF5 by its content;\n"
             "default: a seeded synthetic video"},
    {.flag = "--seed", .metavar = "S", CUSTOM(set_seed),
     .help = "seed of the synthetic video and of preset weights (default 1)"},
    {.section = "video files (MP4, MKV, WebM, AVI, ...: whatever FFmpeg decodes; docs/video.md)",
     .flag = "--start", .metavar = "SEC", CUSTOM(set_video_option),
     .help = "begin at the first frame at or after SEC seconds"},
    {.flag = "--fps", .metavar = "F", CUSTOM(set_video_option),
     .help = "resample by timestamp: frame i is the last frame shown at\n"
             "or before start + i/F (F: 8, 29.97 or 30000/1001); with a\n"
             "Qwen2-VL folder, the rate of its processor's uniform\n"
             "sampling (default 2)"},
    {.flag = "--resize", .metavar = "short:S|WxH", CUSTOM(set_video_option),
     .help = "short side to S (long side int(S*long/short)), or to WxH;\n"
             "bilinear with antialias, as torchvision"},
    {.flag = "--crop", .metavar = "center", CUSTOM(set_video_option),
     .help = "then crop the centre to --size WxH"},
    {.flag = "--max-pixels", .metavar = "P", CUSTOM(set_video_option),
     .help = "Qwen2-VL models: at most P pixels a frame in the\n"
             "processor's resize (lowers its budget)"},
    {.section = "model", .flag = "--model", .metavar = "FILE|DIR", PATH(run.model_path),
     .help = "model file written by init-model, or a released model's\n"
             "folder: a diffusers CogVideoX VAE (config.json +\n"
             "diffusion_pytorch_model.safetensors, or the repository root\n"
             "with vae/), a V-JEPA 2 folder (config.json +\n"
             "model.safetensors), or a Qwen2-VL / Qwen2.5-VL folder (its\n"
             "vision tower; shards with model.safetensors.index.json);\n"
             "weights F32/F16/BF16, held once per node"},
    {.flag = "--preset", .metavar = "P", CUSTOM(set_preset),
     .help = "tiny | small | base, seeded weights (default small)"},
    {.section = "output", .flag = "--out", .alias = "-o", .metavar = "FILE", CUSTOM(set_out),
     .help = "features file (default ctxpar_features.h5)"},
    {.flag = "--overwrite", SWITCH(run.overwrite), .help = "replace an existing output"},
    {.flag = "--save-latents", SWITCH(run.save_latents),
     .help = "also write the VAE latents [T',H',W',z]"},
    {.flag = "--layer", .metavar = "K", INT(run.layer, 1, 100000),
     .help = "write the features after transformer block K (1-based)\n"
             "instead of the final norm's (for probing)"},
    {.flag = "--save-logvar", SWITCH(run.save_logvar),
     .help = "VAE-only models: also write latents_logvar (default: only\n"
             "the posterior mean, unscaled)"},
    {.section = "execution", .flag = "--norm", .metavar = "MODE",
     CHOICE(run.norm, "exact,chunk,diffusers"),
     .help = "GroupNorm statistics: exact (default) over the whole video;\n"
             "chunk (built-in models): per chunk of frames, approximate,\n"
             "bounded memory; diffusers (CogVideoX): per call of\n"
             "diffusers' 8-frame batched encode, to match its output"},
    {.flag = "--chunk-frames", .metavar = "F", INT(run.chunk_frames, 1, 1 << 20),
     .help = "exact: frames per convolution batch (memory only, results\n"
             "unchanged; default automatic); chunk: frames per statistics\n"
             "chunk (multiple of the temporal compression; default 16)"},
    {.flag = "--merge", .metavar = "quadtree|sttm", CHOICE(run.merge_rule, "quadtree,sttm"),
     .help = "merge rule: ctxpar's quadtree and temporal chains\n"
             "(default), or STTM's multi-granular quadtree and directed\n"
             "temporal merge, as its reference code (docs/merge-sttm.md)"},
    {.flag = "--merge-spatial", .metavar = "T", DOUBLE(run.merge_spatial, -1.0, 2.0),
     .help = "quadtree merge threshold on cos(child, parent) (model\n"
             "default 0.98; >= 1 never merges)"},
    {.flag = "--merge-temporal", .metavar = "T", DOUBLE(run.merge_temporal, -1.0, 2.0),
     .help = "link threshold between frames (default 0.999)"},
    {.flag = "--merge-levels", .metavar = "L", INT(run.merge_levels, 0, 16),
     .help = "deepest quadtree level (default 2)"},
    {.flag = "--merge-root-level", .metavar = "R", INT(run.merge_root_level, 0, 16),
     .help = "STTM: coarsest pyramid levels left out (default 1, the\n"
             "paper's; its temporal step runs only for T > 0)"},
    {.flag = "--no-merge", SWITCH(run.no_merge),
     .help = "write every token as its own record (size 1)"},
    {.flag = "--device", .metavar = "cpu|cuda", CHOICE(run.device, "cpu,cuda"),
     .help = "backend (default cpu)"},
    {.flag = "--dtype", .metavar = "auto|f32|bf16", CHOICE(run.dtype, "auto,f32,bf16"),
     .help = "precision of the matrix products (linears, attention,\n"
             "VAE convs): bf16 inputs with float32 accumulation, or\n"
             "f32 (default auto: bf16 where the CPU has AVX512-BF16 or\n"
             "AMX, the model has a transformer and the checkpoint's\n"
             "weights are bf16/f16; docs/bf16.md)"},
    {.flag = "--threads", .metavar = "N", INT(run.threads, 1, 4096),
     .help = "threads per rank (default: cores on the node / ranks on it)"},
    {.flag = "--mem-limit", .metavar = "MiB", INT(run.mem_limit_mib, 1, (double)((int64_t)1 << 40)),
     .help = "refuse a plan whose largest rank needs more (default: the\n"
             "node's memory divided among its ranks)"},
    {.flag = "--dry-run", SWITCH(run.dry_run),
     .help = "print the plan (shards, memory, FLOPs, bytes) and stop"},
    {.flag = "--quiet", .alias = "-q", SWITCH(run.quiet), .help = "no progress or summary"},
    {.section = "benchmark", .flag = "--bench", SWITCH(bench),
     .help = "time the whole run: --warmup untimed runs, then --repeat\n"
             "timed ones; a table of median, min and max per stage (max\n"
             "over ranks) and the rates; a line per run unless --quiet.\n"
             "Writes --out if given (the last run's file is kept), else\n"
             "a scratch ctxpar_bench.h5 in the current directory that is\n"
             "removed at the end"},
    {.flag = "--repeat", .metavar = "K", INT(repeat, 1, 1000), .help = "timed runs (default 3)"},
    {.flag = "--warmup", .metavar = "W", INT(warmup, 0, 100),
     .help = "untimed runs first (default 1)"},
    {.flag = "--json", .metavar = "FILE", PATH(json_path),
     .help = "append one JSON object per line to FILE: the run's summary\n"
             "(the plan's numbers with --dry-run), or with --bench one line\n"
             "per invocation, so a sweep accumulates them"},
    {.section = "many videos", .flag = "--input-list", .metavar = "FILE", PATH(input_list),
     .help = "one HDF5 input per line (INPUT[:DSET] [OUTPUT]); each gets\n"
             "its own output; complete outputs are skipped (resume), a\n"
             "failed input is reported and the others go on"},
    {.flag = "--out-dir", .metavar = "DIR", PATH(out_dir),
     .help = "where outputs without a name in the list go (default .):\n"
             "DIR/<input name>.features.h5"},
    {.section = "information", .flag = "--help", .alias = "-h", CUSTOM(set_help),
     .help = "this text"},
    {.flag = "--version", CUSTOM(set_version), .help = "ctxpar's version"},
};
enum { N_OPTIONS = sizeof options / sizeof options[0] };

static const cli_option *find_option(const char *flag) {
    for (int i = 0; i < N_OPTIONS; i++)
        if (!strcmp(flag, options[i].flag) || (options[i].alias && !strcmp(flag, options[i].alias)))
            return &options[i];
    return NULL;
}

/* Index of `value` in a comma-separated list, or -1. */
static int choice_index(const char *choices, const char *value) {
    int index = 0;
    for (const char *c = choices; *c; index++) {
        const char *comma = strchr(c, ',');
        size_t len = comma ? (size_t)(comma - c) : strlen(c);
        if (strlen(value) == len && !strncmp(c, value, len)) return index;
        c += len + (comma ? 1 : 0);
    }
    return -1;
}

static ctxpar_status apply_option(const cli_option *opt, ctxpar_cli *cli, const char *flag,
                                  const char *value) {
    char *field = (char *)cli + opt->offset;
    int64_t v = 0;
    switch (opt->kind) {
    case CLI_SWITCH: *(int *)field = 1; return CTXPAR_OK;
    case CLI_INT:
        CTXPAR_TRY(parse_int(flag, value, (int64_t)opt->lo, (int64_t)opt->hi, &v));
        if (opt->width == 8) *(int64_t *)field = v;
        else *(int *)field = (int)v;
        return CTXPAR_OK;
    case CLI_DOUBLE: return parse_double(flag, value, opt->lo, opt->hi, (double *)field);
    case CLI_PATH: return copy_path(flag, value, field, opt->cap);
    case CLI_CHOICE: {
        int index = choice_index(opt->choices, value);
        if (index < 0) {
            char shown[160]; /* "a,b,c" -> "a, b, c" */
            size_t len = 0;
            for (const char *c = opt->choices; *c && len + 3 < sizeof shown; c++) {
                if (*c == ',') shown[len++] = ',', shown[len++] = ' ';
                else shown[len++] = *c;
            }
            shown[len] = '\0';
            return ctxpar_error(CTXPAR_ERR_ARGUMENT, "%s: '%s' is not one of %s", flag, value,
                                shown);
        }
        *(int *)field = index;
        return CTXPAR_OK;
    }
    case CLI_CUSTOM: return opt->custom(cli, flag, value);
    }
    return CTXPAR_OK;
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
        const cli_option *opt = find_option(flag);
        if (!opt)
            return ctxpar_error(CTXPAR_ERR_ARGUMENT, "unknown option '%s'; see ctxpar --help",
                                arg);
        if (opt->metavar) {
            if (!value) {
                if (i + 1 >= argc)
                    return ctxpar_error(CTXPAR_ERR_ARGUMENT, "%s needs a value", flag);
                value = argv[++i];
            }
        } else if (value) {
            return ctxpar_error(CTXPAR_ERR_ARGUMENT, "%s takes no value", flag);
        }
        CTXPAR_TRY(apply_option(opt, cli, flag, value));
        if (cli->command == CTXPAR_CMD_HELP || cli->command == CTXPAR_CMD_VERSION)
            return CTXPAR_OK;
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
        if (!cli->frames_given && o->source.kind != CTXPAR_SOURCE_SYNTHETIC) o->source.frames = 0;
        if (cli->input_list[0] && (cli->bench || o->source.kind != CTXPAR_SOURCE_SYNTHETIC ||
                                   cli->out_given || cli->json_path[0]))
            return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                                "--input-list cannot be combined with --bench, --input, --out "
                                "or --json (outputs go to --out-dir)");
        /* video files: the selection and resizing flags need a video to act on */
        if (ctxpar_source_video_options_set(&o->source.video) &&
            o->source.kind != CTXPAR_SOURCE_VIDEO && !cli->input_list[0])
            return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                                "--start, --fps, --resize, --crop and --max-pixels apply to a video file "
                                "--input (or --input-list) only");
        if (cli->out_dir[0] && !cli->input_list[0])
            return ctxpar_error(CTXPAR_ERR_ARGUMENT, "--out-dir needs --input-list");
        if (cli->bench && o->dry_run)
            return ctxpar_error(CTXPAR_ERR_ARGUMENT, "--bench cannot be combined with --dry-run");
    }
    if (cli->command == CTXPAR_CMD_MAKE_VIDEO) {
        if (!o->source.width) o->source.width = o->source.height = 256;
        if (!cli->frames_given) o->source.frames = 64;
    }
    return CTXPAR_OK;
}

/* One option's help: its flag and value in a column of 22, then its text,
 * continuation lines under the text. */
static void print_option(const cli_option *opt) {
    char left[64];
    snprintf(left, sizeof left, "%s%s%s", opt->flag, opt->metavar ? " " : "",
             opt->metavar ? opt->metavar : "");
    printf("  %-22s", left);
    for (const char *line = opt->help; line;) {
        const char *nl = strchr(line, '\n');
        printf("%.*s\n", (int)(nl ? nl - line : (long)strlen(line)), line);
        line = nl ? nl + 1 : NULL;
        if (line) printf("%24s", "");
    }
}

void ctxpar_cli_print_help(void) {
    printf("ctxpar: context-parallel long-video inference (run it under mpirun or srun)\n"
           "\n"
           "usage:\n"
           "  ctxpar [options]                         encode a video into token features (or,\n"
           "                                           with a VAE-only model, into latents)\n"
           "  ctxpar init-model --preset P --seed S -o FILE   write a seeded model file\n"
           "  ctxpar inspect FILE                      describe a model file or folder, a features\n"
           "                                           or latents file\n"
           "  ctxpar make-video --frames N --size WxH --seed S -o FILE\n"
           "                                           write the synthetic video as HDF5 input\n"
           "                                           (or as an MP4, H.264, if FILE ends .mp4)\n");
    for (int i = 0; i < N_OPTIONS; i++) {
        if (options[i].section) printf("%s%s:\n", i == 0 ? "\n" : "", options[i].section);
        print_option(&options[i]);
    }
}
