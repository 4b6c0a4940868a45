/* Benchmark mode (see bench.h). Every number comes from the pipeline's own
 * summary of each run (stage times already max over ranks), so a benchmark
 * measures exactly what a normal run reports; this file only repeats the run,
 * takes medians and spreads over the timed runs, and formats them: a table on
 * rank 0's stdout and, with --json, one appended line per invocation so that
 * a scaling sweep accumulates one line per point. */
#include "launch/bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctxpar_version.h"
#include "launch/json_lines.h"
#include "runtime/formats/json.h"
#include "runtime/pipeline.h"

/* Written when --out is not given, removed at the end. */
#define BENCH_SCRATCH "ctxpar_bench.h5"

/* The series measured per timed run: the stages, then these. */
enum {
    SERIES_TOTAL = CTXPAR_STAGE_COUNT,
    SERIES_ATTENTION,   /* ring attention, slowest rank */
    SERIES_HALO_WAIT,
    SERIES_HALO_FLIGHT,
    SERIES_HALO_HIDDEN,
    SERIES_RING_WAIT,
    SERIES_RING_FLIGHT,
    SERIES_RING_HIDDEN,
    SERIES_COUNT
};

typedef struct spread {
    double median, min, max;
} spread;

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median (mean of the middle two for an even count), min and max; `values`
 * is sorted in place. */
static spread spread_of(double *values, int n) {
    qsort(values, (size_t)n, sizeof *values, compare_double);
    spread s = {values[n / 2], values[0], values[n - 1]};
    if (n % 2 == 0) s.median = 0.5 * (values[n / 2 - 1] + values[n / 2]);
    return s;
}

static double ratio(double num, double den) { return den > 0 ? num / den : 0.0; }

typedef struct bench_result {
    const ctxpar_cli *cli;
    ctxpar_run_summary last;     /* the last timed run: sizes, FLOPs, bytes */
    int repeat, warmup;
    double *totals;              /* per timed run, in run order */
    spread series[SERIES_COUNT];
    int64_t peak_tracked, peak_rss; /* max over ranks and runs */
} bench_result;

static void model_text(char *buf, size_t cap, const ctxpar_model_config *m) {
    size_t n = (size_t)snprintf(buf, cap, "family %s", m->family);
    if (m->has_vae && n < cap) {
        n += (size_t)snprintf(buf + n, cap - n, "; VAE channels ");
        for (int i = 0; i < m->vae.n_stages && n < cap; i++)
            n += (size_t)snprintf(buf + n, cap - n, "%s%d", i ? "," : "", m->vae.channels[i]);
        if (n < cap)
            n += (size_t)snprintf(buf + n, cap - n, ", %d res block(s), z %d", m->vae.res_blocks,
                                  m->vae.latent_channels);
    }
    if (m->has_transformer && n < cap)
        snprintf(buf + n, cap - n, "; transformer p %d, d %d, heads %d, layers %d",
                 m->transformer.patch, m->transformer.dim, m->transformer.heads,
                 m->transformer.layers);
}

static void print_table(const bench_result *r) {
    const ctxpar_cli *cli = r->cli;
    const ctxpar_run_summary *s = &r->last;
    const double mib = 1024.0 * 1024.0;
    char model[400];
    model_text(model, sizeof model, &s->model);
    printf("# ctxpar %s benchmark: %d rank(s) on %d node(s), %d thread(s) per rank, device %s\n",
           CTXPAR_VERSION_STRING, s->ranks, s->nodes, s->threads, s->device);
    if (cli->run.model_path[0])
        printf("# model: file %s (%s)\n", cli->run.model_path, model);
    else
        printf("# model: preset %s (%s)\n", cli->run.preset, model);
    if (cli->run.source.kind == CTXPAR_SOURCE_HDF5)
        printf("# input: %s:%s, ", cli->run.source.path, cli->run.source.dataset);
    else if (cli->run.source.kind == CTXPAR_SOURCE_VIDEO) /* video files */
        printf("# input: %s, ", cli->run.source.path);
    else
        printf("# input: synthetic, ");
    printf("%lld frames of %lldx%lld, %lld tokens (%lld records after merging)\n",
           (long long)s->frames, (long long)s->width, (long long)s->height, (long long)s->tokens,
           (long long)s->records);
    printf("# runs: %d warm-up, %d timed; seconds, max over ranks; median, min and max over the "
           "timed runs\n",
           r->warmup, r->repeat);
    printf("%-12s %12s %12s %12s\n", "stage", "median", "min", "max");
    for (int i = 0; i <= SERIES_TOTAL; i++) {
        const char *name = i == SERIES_TOTAL ? "total" : ctxpar_stage_name((ctxpar_stage)i);
        printf("%-12s %12.4f %12.4f %12.4f\n", name, r->series[i].median, r->series[i].min,
               r->series[i].max);
    }
    double total = r->series[SERIES_TOTAL].median;
    double vae_s = r->series[CTXPAR_STAGE_VAE].median;
    double att_s = r->series[SERIES_ATTENTION].median;
    printf("%-20s %12s   %s\n", "rate", "value", "how");
    printf("%-20s %12.2f   frames %lld / median total %.4f s\n", "frames/s",
           ratio((double)s->frames, total), (long long)s->frames, total);
    printf("%-20s %12.1f   tokens %lld / median total\n", "tokens/s",
           ratio((double)s->tokens, total), (long long)s->tokens);
    printf("%-20s %12.2f   VAE FLOPs %.4g (plan) / median vae stage %.4f s\n", "VAE GFLOP/s",
           ratio(s->vae_flops, vae_s) / 1e9, s->vae_flops, vae_s);
    printf("%-20s %12.2f   4*n_q*n_kv*d*layers = %.4g / median attention %.4f s (slowest rank)\n",
           "attention GFLOP/s", ratio(s->attention_flops, att_s) / 1e9, s->attention_flops,
           att_s);
    printf("%-20s %12.3f   per run, all ranks; busiest rank %.3f MiB\n", "MiB sent",
           s->bytes_sent_total / mib, s->bytes_sent_max / mib);
    printf("%-20s %11.1f%%   1 - wait / in flight = 1 - %.4f / %.4f s (medians)\n",
           "halo hidden", 100.0 * r->series[SERIES_HALO_HIDDEN].median,
           r->series[SERIES_HALO_WAIT].median, r->series[SERIES_HALO_FLIGHT].median);
    printf("%-20s %11.1f%%   1 - wait / in flight = 1 - %.4f / %.4f s (medians)\n",
           "ring hidden", 100.0 * r->series[SERIES_RING_HIDDEN].median,
           r->series[SERIES_RING_WAIT].median, r->series[SERIES_RING_FLIGHT].median);
    printf("%-20s %12.1f   counted by the allocator; %.1f MiB resident (max over ranks, runs)\n",
           "peak MiB per rank", r->peak_tracked / mib, r->peak_rss / mib);
    fflush(stdout);
}

/* ---- JSON line ---------------------------------------------------------- */

static void put_spread(ctxpar_json_writer *w, const char *key, spread s) {
    ctxpar_json_key(w, key);
    ctxpar_json_object_begin(w);
    ctxpar_json_put_double(w, "median", s.median);
    ctxpar_json_put_double(w, "min", s.min);
    ctxpar_json_put_double(w, "max", s.max);
    ctxpar_json_object_end(w);
}

/* One object, keys in a fixed order, no timestamp: two invocations with the
 * same numbers write the same line. */
static char *json_line(const bench_result *r) {
    const ctxpar_cli *cli = r->cli;
    const ctxpar_run_summary *s = &r->last;
    ctxpar_json_writer w;
    ctxpar_json_writer_init(&w);
    ctxpar_json_object_begin(&w);
    ctxpar_json_put_string(&w, "format", "ctxpar-bench");
    ctxpar_json_put_int(&w, "format_version", 1);
    ctxpar_json_put_run(&w, cli, s);
    ctxpar_json_put_int(&w, "records", s->records);
    ctxpar_json_put_int(&w, "repeat", r->repeat);
    ctxpar_json_put_int(&w, "warmup", r->warmup);
    ctxpar_json_key(&w, "run_totals_s");
    ctxpar_json_array_begin(&w);
    for (int i = 0; i < r->repeat; i++) ctxpar_json_double(&w, r->totals[i]);
    ctxpar_json_array_end(&w);
    ctxpar_json_key(&w, "stages_s");
    ctxpar_json_object_begin(&w);
    for (int i = 0; i <= SERIES_TOTAL; i++)
        put_spread(&w, i == SERIES_TOTAL ? "total" : ctxpar_stage_name((ctxpar_stage)i),
                   r->series[i]);
    ctxpar_json_object_end(&w);
    double total = r->series[SERIES_TOTAL].median;
    ctxpar_json_put_double(&w, "frames_per_s", ratio((double)s->frames, total));
    ctxpar_json_put_double(&w, "tokens_per_s", ratio((double)s->tokens, total));
    ctxpar_json_put_double(&w, "vae_gflop_per_s",
                           ratio(s->vae_flops, r->series[CTXPAR_STAGE_VAE].median) / 1e9);
    put_spread(&w, "attention_s", r->series[SERIES_ATTENTION]);
    ctxpar_json_put_double(&w, "attention_gflop_per_s",
               ratio(s->attention_flops, r->series[SERIES_ATTENTION].median) / 1e9);
    ctxpar_json_put_int(&w, "bytes_sent_total", (long long)s->bytes_sent_total);
    ctxpar_json_put_int(&w, "bytes_sent_max", (long long)s->bytes_sent_max);
    ctxpar_json_put_double(&w, "halo_wait_s", r->series[SERIES_HALO_WAIT].median);
    ctxpar_json_put_double(&w, "halo_in_flight_s", r->series[SERIES_HALO_FLIGHT].median);
    ctxpar_json_put_double(&w, "halo_hidden", r->series[SERIES_HALO_HIDDEN].median);
    ctxpar_json_put_double(&w, "ring_wait_s", r->series[SERIES_RING_WAIT].median);
    ctxpar_json_put_double(&w, "ring_in_flight_s", r->series[SERIES_RING_FLIGHT].median);
    ctxpar_json_put_double(&w, "ring_hidden", r->series[SERIES_RING_HIDDEN].median);
    ctxpar_json_put_int(&w, "peak_tracked_bytes", (long long)r->peak_tracked);
    ctxpar_json_put_int(&w, "peak_rss_bytes", (long long)r->peak_rss);
    ctxpar_json_object_end(&w);
    return ctxpar_json_writer_take(&w);
}

/* ---- the command -------------------------------------------------------- */

ctxpar_status ctxpar_command_bench(ctxpar_comm_t comm, const ctxpar_cli *cli, int threads) {
    ctxpar_status status = CTXPAR_OK;
    const int rank = ctxpar_comm_rank(comm);
    const int repeat = cli->repeat, warmup = cli->warmup;
    bench_result result = {.cli = cli, .repeat = repeat, .warmup = warmup};
    double *samples = malloc(sizeof *samples * (size_t)SERIES_COUNT * (size_t)repeat);
    result.totals = malloc(sizeof *result.totals * (size_t)repeat);
    ctxpar_json_lines json = {.fd = -1};
    char *line = NULL;

    if (!samples || !result.totals)
        status = ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory for %d repeats", repeat);
    /* Open the JSON file before any run, so a bad path costs no benchmark time. */
    if (status == CTXPAR_OK && rank == 0 && cli->json_path[0])
        status = ctxpar_json_lines_open(cli->json_path, &json);
    CTXPAR_TRY_GOTO(ctxpar_comm_agree(comm, status));

    /* Progress and summary off for the runs; the first run honours the
     * user's --overwrite for their --out, the later ones replace their own. */
    ctxpar_run_options options = cli->run;
    options.quiet = 1;
    if (!cli->out_given) snprintf(options.out_path, sizeof options.out_path, "%s", BENCH_SCRATCH);
    for (int run = 0; run < warmup + repeat; run++) {
        const int timed = run >= warmup, index = timed ? run - warmup : run;
        ctxpar_run_summary summary;
        options.overwrite = run > 0 || !cli->out_given || cli->run.overwrite;
        CTXPAR_TRY_GOTO(ctxpar_pipeline_run(comm, &options, &summary));
        summary.threads = threads;
        if (rank == 0 && !cli->run.quiet) {
            printf("%s %d/%d: %.3f s\n", timed ? "run" : "warm-up", index + 1,
                   timed ? repeat : warmup, summary.seconds_total);
            fflush(stdout);
        }
        if (summary.peak_tracked_max > result.peak_tracked)
            result.peak_tracked = summary.peak_tracked_max;
        if (summary.peak_rss_max > result.peak_rss) result.peak_rss = summary.peak_rss_max;
        if (!timed) continue;
        double *at = samples + index;
        for (int s = 0; s < CTXPAR_STAGE_COUNT; s++) at[s * repeat] = summary.seconds[s];
        at[SERIES_TOTAL * repeat] = summary.seconds_total;
        at[SERIES_ATTENTION * repeat] = summary.attention_seconds;
        at[SERIES_HALO_WAIT * repeat] = summary.comm_wait_max;
        at[SERIES_HALO_FLIGHT * repeat] = summary.comm_exchange_max;
        at[SERIES_HALO_HIDDEN * repeat] =
            ctxpar_hidden_share(summary.comm_wait_max, summary.comm_exchange_max);
        at[SERIES_RING_WAIT * repeat] = summary.ring_wait_max;
        at[SERIES_RING_FLIGHT * repeat] = summary.ring_exchange_max;
        at[SERIES_RING_HIDDEN * repeat] =
            ctxpar_hidden_share(summary.ring_wait_max, summary.ring_exchange_max);
        result.totals[index] = summary.seconds_total;
        result.last = summary;
    }

    if (rank == 0) {
        for (int s = 0; s < SERIES_COUNT; s++)
            result.series[s] = spread_of(samples + (size_t)s * (size_t)repeat, repeat);
        print_table(&result);
        if (json.fd >= 0) {
            line = json_line(&result);
            status = line ? ctxpar_json_lines_write(&json, line)
                          : ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory for the JSON line");
        }
    }
    status = ctxpar_comm_agree(comm, status);

fail:
    if (rank == 0) {
        if (!cli->out_given) unlink(BENCH_SCRATCH);
        ctxpar_json_lines_abandon(&json); /* nothing written: no empty file left */
    }
    free(line);
    free(samples);
    free(result.totals);
    return status;
}
