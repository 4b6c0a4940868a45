/* Many videos (see input_list.h).
 *
 * Rank 0 reads the list and broadcasts its text; every rank parses the same
 * text, so all ranks walk the same entries with no further messages. Before
 * each entry rank 0 looks at the output: a complete ctxpar features file
 * (attribute complete = 1, which the writer sets last and only then renames
 * into place) of the same run (input, model, video options, frames, size,
 * as its run config records them) with all its data is skipped, which is
 * what lets a preempted job resume where it stopped; a complete output of
 * another run is refused, never skipped. A failing input fails with an
 * error every rank agrees on (pipeline.h), so the loop records it and goes
 * on; a failure that ends the job (a rank lost, a signal) ends the list
 * too, and the next run resumes. */
#include "launch/input_list.h"

#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/core/interrupt.h"
#include "runtime/families/registry.h"
#include "runtime/formats/hdf5_io.h"
#include "runtime/formats/json.h"
#include "runtime/pipeline.h"

#define MAX_LIST_BYTES (64 << 20)
#define PATH_CAP 1024
#define FAILURE_CAP 2048 /* one failure line: input, line number, message */

typedef struct list_entry {
    char input[PATH_CAP];  /* FILE[:DATASET] */
    char output[PATH_CAP];
    int line;
} list_entry;

typedef enum entry_state { ENTRY_RUN, ENTRY_SKIP, ENTRY_STALE, ENTRY_BLOCKED } entry_state;

/* Rank 0 reads the file; every rank gets its text (NUL-terminated). */
static ctxpar_status read_list_text(ctxpar_comm_t comm, const char *path, char **text) {
    ctxpar_status status = CTXPAR_OK;
    int64_t size = 0;
    char *buf = NULL;
    if (ctxpar_comm_rank(comm) == 0) {
        FILE *f = fopen(path, "rb");
        if (!f) {
            status = ctxpar_error(CTXPAR_ERR_IO, "--input-list: cannot open %s", path);
        } else {
            fseek(f, 0, SEEK_END);
            size = ftell(f);
            fseek(f, 0, SEEK_SET);
            if (size < 0 || size > MAX_LIST_BYTES) {
                status = ctxpar_error(CTXPAR_ERR_IO, "--input-list: %s is not a readable list "
                                                     "of at most 64 MiB", path);
            } else if (!(buf = malloc((size_t)size + 1))) {
                status = ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory");
            } else if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
                status = ctxpar_error(CTXPAR_ERR_IO, "--input-list: cannot read %s", path);
            }
            fclose(f);
        }
    }
    CTXPAR_TRY_GOTO(ctxpar_comm_agree(comm, status));
    CTXPAR_TRY_GOTO(ctxpar_comm_bcast(comm, &size, sizeof size, 0));
    if (ctxpar_comm_rank(comm) != 0 && !(buf = malloc((size_t)size + 1)))
        status = ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory");
    CTXPAR_TRY_GOTO(ctxpar_comm_agree(comm, status));
    CTXPAR_TRY_GOTO(ctxpar_comm_bcast(comm, buf, size, 0));
    buf[size] = '\0';
    *text = buf;
    return CTXPAR_OK;
fail:
    free(buf);
    return status;
}

/* DIR/<name of the input file without .h5/.hdf5>.<kind>.h5, kind "features"
 * or "latents" (a VAE-only model's job); 0 when it fits. */
static int default_output(const char *input_spec, const char *out_dir, const char *kind,
                          char *out, size_t cap) {
    char file[PATH_CAP];
    ctxpar_source probe = {0};
    snprintf(file, sizeof file, "%s",
             ctxpar_source_parse_input(input_spec, &probe) == CTXPAR_OK ? probe.path : input_spec);
    ctxpar_error_clear();
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    char stem[PATH_CAP];
    snprintf(stem, sizeof stem, "%s", base);
    size_t n = strlen(stem);
    if (n > 3 && !strcmp(stem + n - 3, ".h5")) stem[n - 3] = '\0';
    else if (n > 5 && !strcmp(stem + n - 5, ".hdf5")) stem[n - 5] = '\0';
    int n_out = snprintf(out, cap, "%s/%s.%s.h5", out_dir, stem, kind);
    return n_out >= 0 && (size_t)n_out < cap ? 0 : -1;
}

/* One entry per line: INPUT[:DATASET] [OUTPUT]; '#' starts a comment line;
 * blank lines are ignored. Paths cannot hold spaces. */
static ctxpar_status parse_list(const char *list_path, char *text, const char *out_dir,
                                const char *kind, list_entry **entries, int *count) {
    int cap = 16, n = 0, line_no = 0;
    list_entry *e = malloc((size_t)cap * sizeof *e);
    if (!e) return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory");
    for (char *line = text; line && *line;) {
        char *next = strchr(line, '\n');
        if (next) *next++ = '\0';
        line_no++;
        char *save = NULL, *first = strtok_r(line, " \t\r", &save);
        if (first && first[0] != '#') {
            char *second = strtok_r(NULL, " \t\r", &save), *third = strtok_r(NULL, " \t\r", &save);
            int too_long = strlen(first) >= PATH_CAP || (second && strlen(second) >= PATH_CAP);
            if (n == cap) {
                list_entry *grown = realloc(e, (size_t)(cap *= 2) * sizeof *e);
                if (!grown) {
                    free(e);
                    return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory");
                }
                e = grown;
            }
            if (!too_long && second) snprintf(e[n].output, PATH_CAP, "%s", second);
            else if (!too_long) too_long = default_output(first, out_dir, kind, e[n].output,
                                                         PATH_CAP);
            if (third || too_long) {
                free(e);
                return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                                    "%s line %d: expected 'INPUT[:DATASET] [OUTPUT]' with paths "
                                    "(output ones too) shorter than %d characters, no spaces",
                                    list_path, line_no, PATH_CAP);
            }
            snprintf(e[n].input, PATH_CAP, "%s", first);
            e[n].line = line_no;
            for (int j = 0; j < n; j++) {
                if (strcmp(e[j].output, e[n].output) == 0) {
                    ctxpar_status status = ctxpar_error(
                        CTXPAR_ERR_ARGUMENT,
                        "%s lines %d and %d both write %s; name the outputs in the list",
                        list_path, e[j].line, line_no, e[n].output);
                    free(e);
                    return status;
                }
            }
            n++;
        }
        line = next;
    }
    if (n == 0) {
        free(e);
        return ctxpar_error(CTXPAR_ERR_ARGUMENT, "%s lists no inputs", list_path);
    }
    *entries = e;
    *count = n;
    return CTXPAR_OK;
}

/* What a finished output of this run must record (its run config), so a
 * resumed list skips only outputs this same run would write. */
typedef struct expected_run {
    char input[1400], video[256];
    const char *model_file, *preset;
    long long frames, height, width; /* 0: not fixed by the command line */
} expected_run;

static void expect_run(const ctxpar_cli *cli, const list_entry *e, expected_run *want) {
    ctxpar_source src;
    ctxpar_source_init_synthetic(&src, 0, 0, 0, 0);
    memset(want, 0, sizeof *want);
    if (ctxpar_source_parse_input(e->input, &src) == CTXPAR_OK) {
        ctxpar_source_describe(&src, want->input, sizeof want->input);
        if (src.kind == CTXPAR_SOURCE_VIDEO)
            ctxpar_source_video_options_describe(&cli->run.source.video, want->video,
                                                 sizeof want->video);
    }
    ctxpar_error_clear();
    want->model_file = cli->run.model_path;
    want->preset = cli->run.model_path[0] ? "" : cli->run.preset;
    want->frames = cli->frames_given ? (long long)cli->run.source.frames : 0;
    want->height = (long long)cli->run.source.height;
    want->width = (long long)cli->run.source.width;
}

static const char *json_string_or(const ctxpar_json *object, const char *key, const char *none) {
    const ctxpar_json *v = ctxpar_json_get(object, key);
    return v && v->kind == CTXPAR_JSON_STRING ? v->string : none;
}

static long long json_int_or(const ctxpar_json *object, const char *key, long long none) {
    const ctxpar_json *v = ctxpar_json_get(object, key);
    return v && v->kind == CTXPAR_JSON_NUMBER ? (long long)v->number : none;
}

/* Rows of dataset `name`, or -1 when it is missing or unreadable. */
static long long dataset_rows(hid_t file, const char *name) {
    if (ctxpar_hdf5_dataset_exists(file, name) != 1) return -1;
    hid_t dset = H5Dopen2(file, name, H5P_DEFAULT), space = -1;
    long long rows = -1;
    hsize_t dims[8];
    if (dset >= 0 && (space = H5Dget_space(dset)) >= 0 &&
        H5Sget_simple_extent_ndims(space) >= 1 && H5Sget_simple_extent_ndims(space) <= 8 &&
        H5Sget_simple_extent_dims(space, dims, NULL) >= 1)
        rows = (long long)dims[0];
    if (space >= 0) H5Sclose(space);
    if (dset >= 0) H5Dclose(dset);
    return rows;
}

/* Rank 0: what is at an existing output path. ENTRY_SKIP: a complete
 * ctxpar output (attribute complete = 1, set last and only then renamed
 * into place) of this same run, whose datasets are all there; ENTRY_STALE:
 * a complete output of another run (why says what differs); ENTRY_BLOCKED:
 * anything else. */
static entry_state output_state(const char *path, const expected_run *want, char *why,
                                size_t cap) {
    if (H5Fis_hdf5(path) <= 0) return ENTRY_BLOCKED;
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) return ENTRY_BLOCKED;
    entry_state state = ENTRY_BLOCKED;
    long long complete = 0, records = -1;
    char *config_text = NULL;
    ctxpar_json *config = NULL;
    const ctxpar_json *run = NULL;
    if (ctxpar_hdf5_read_int_attr(file, "complete", &complete) != 0 || complete != 1 ||
        ctxpar_hdf5_read_string_attr(file, "config", &config_text) != CTXPAR_OK ||
        ctxpar_json_parse(config_text, path, &config) != CTXPAR_OK ||
        !(run = ctxpar_json_get(config, "run")) || run->kind != CTXPAR_JSON_OBJECT)
        goto done;
    /* The data must be whole: every record's features, or the latents. */
    if (ctxpar_hdf5_read_int_attr(file, "records", &records) == 0) {
        if (dataset_rows(file, "tokens/features") != records ||
            dataset_rows(file, "tokens/size") != records)
            goto done;
    } else if (dataset_rows(file, "latents") < 1) {
        goto done;
    }
    state = ENTRY_STALE;
    const char *input = json_string_or(run, "input", "?");
    const char *model = json_string_or(run, "model_file", "?");
    const char *preset = json_string_or(run, "preset", "?");
    const char *video = json_string_or(run, "video", "");
    if (strcmp(input, want->input) != 0)
        snprintf(why, cap, "it was made from %s, not %s", input, want->input);
    else if (strcmp(model, want->model_file) != 0 || strcmp(preset, want->preset) != 0)
        snprintf(why, cap, "it was made by %s%s, this run uses %s%s",
                 model[0] ? "--model " : "--preset ", model[0] ? model : preset,
                 want->model_file[0] ? "--model " : "--preset ",
                 want->model_file[0] ? want->model_file : want->preset);
    else if (strcmp(video, want->video) != 0)
        snprintf(why, cap, "it was made with video options '%s', this run gives '%s'", video,
                 want->video);
    else if (want->frames && json_int_or(run, "frames", -1) != want->frames)
        snprintf(why, cap, "it holds %lld frames, this run asks for %lld",
                 json_int_or(run, "frames", -1), want->frames);
    else if ((want->height && json_int_or(run, "height", -1) != want->height) ||
             (want->width && json_int_or(run, "width", -1) != want->width))
        snprintf(why, cap, "its frames are %lldx%lld, this run asks for %lldx%lld",
                 json_int_or(run, "width", -1), json_int_or(run, "height", -1), want->width,
                 want->height);
    else
        state = ENTRY_SKIP;
done:
    ctxpar_json_free(config);
    free(config_text);
    H5Fclose(file);
    ctxpar_error_clear();
    return state;
}

ctxpar_status ctxpar_command_input_list(ctxpar_comm_t comm, const ctxpar_cli *cli) {
    const int rank = ctxpar_comm_rank(comm);
    const int verbose = rank == 0 && !cli->run.quiet;
    char *text = NULL;
    list_entry *entries = NULL;
    int count = 0, done = 0, skipped = 0, failed = 0;
    ctxpar_status status;

    CTXPAR_TRY(read_list_text(comm, cli->input_list, &text));
    status = parse_list(cli->input_list, text, cli->out_dir[0] ? cli->out_dir : ".",
                        ctxpar_family_folder_writes_latents(cli->run.model_path) ? "latents"
                                                                                 : "features",
                        &entries,
                        &count);
    free(text);
    if (status != CTXPAR_OK) return status; /* same text on every rank: same outcome */
    char *failures = calloc((size_t)count, FAILURE_CAP);
    if (!failures) {
        free(entries);
        return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory");
    }
    if (verbose) {
        printf("# input list %s: %d input(s)\n", cli->input_list, count);
        fflush(stdout);
    }

    for (int i = 0; i < count; i++) {
        const list_entry *e = &entries[i];
        int32_t state = ENTRY_RUN;
        char why[3072] = "";
        if (rank == 0) {
            struct stat st;
            if (stat(e->output, &st) == 0) {
                expected_run want;
                expect_run(cli, e, &want);
                ctxpar_interrupt_guard_library("HDF5", e->output);
                state = output_state(e->output, &want, why, sizeof why);
                ctxpar_interrupt_guard_library(NULL, NULL);
                if (cli->run.overwrite && state != ENTRY_SKIP) state = ENTRY_RUN;
            }
        }
        CTXPAR_TRY_GOTO(ctxpar_comm_bcast(comm, &state, sizeof state, 0));
        if (state == ENTRY_SKIP) {
            skipped++;
            if (verbose) {
                printf("[%d/%d] %s: skipped, %s is complete\n", i + 1, count, e->input,
                       e->output);
                fflush(stdout);
            }
            continue;
        }
        if (state == ENTRY_BLOCKED) {
            status = ctxpar_error(CTXPAR_ERR_EXISTS,
                                  "%s exists and is not a complete ctxpar output; remove it or "
                                  "pass --overwrite",
                                  e->output);
        } else if (state == ENTRY_STALE) { /* why is rank 0's; the message goes out from there */
            status = ctxpar_error(CTXPAR_ERR_EXISTS,
                                  "%s is a complete output of another run (%s); remove it or "
                                  "pass --overwrite",
                                  e->output, why);
        } else {
            if (verbose) {
                printf("[%d/%d] %s -> %s\n", i + 1, count, e->input, e->output);
                fflush(stdout);
            }
            ctxpar_run_options o = cli->run;
            ctxpar_source_init_synthetic(&o.source, 0, 0, 0, 0);
            status = ctxpar_source_parse_input(e->input, &o.source);
            o.source.frames = cli->frames_given ? cli->run.source.frames : 0;
            o.source.height = cli->run.source.height;
            o.source.width = cli->run.source.width;
            o.source.video = cli->run.source.video; /* video files: --start, --fps, ... */
            snprintf(o.out_path, sizeof o.out_path, "%s", e->output);
            ctxpar_run_summary summary;
            status = ctxpar_comm_agree(comm, status);
            if (status == CTXPAR_OK) status = ctxpar_pipeline_run(comm, &o, &summary);
            if (status == CTXPAR_OK) {
                done++;
                if (verbose) {
                    printf("[%d/%d] %s: done, %lld frames -> %lld %s in %.2fs (%.2f "
                           "frames/s)\n",
                           i + 1, count, e->input, (long long)summary.frames,
                           summary.model.has_transformer ? (long long)summary.records
                                                         : (long long)summary.latent_frames,
                           summary.model.has_transformer ? "records" : "latent frames",
                           summary.seconds_total,
                           summary.seconds_total > 0 ? summary.frames / summary.seconds_total
                                                     : 0.0);
                    fflush(stdout);
                }
                continue;
            }
        }
        failed++;
        snprintf(failures + (size_t)i * FAILURE_CAP, FAILURE_CAP, "%s (line %d): %s", e->input, e->line,
                 ctxpar_error_detail());
        if (rank == 0) {
            fprintf(stderr, "ctxpar: [%d/%d] %s failed: %s\n", i + 1, count, e->input,
                    ctxpar_error_detail());
            fflush(stderr);
        }
        ctxpar_error_clear();
    }

    if (verbose) {
        printf("# input list: %d input(s): %d done, %d skipped (already complete), %d failed\n",
               count, done, skipped, failed);
        for (int i = 0; i < count; i++)
            if (failures[(size_t)i * FAILURE_CAP])
                printf("#   failed: %s\n", failures + (size_t)i * FAILURE_CAP);
        fflush(stdout);
    }
    status = failed ? ctxpar_error(CTXPAR_ERR_IO, "%d of %d input(s) failed (listed above)",
                                   failed, count)
                    : CTXPAR_OK;
fail:
    free(failures);
    free(entries);
    return status;
}
