/* JSON lines (see json_lines.h): the file handling shared by a plain run and
 * --bench, and the members both kinds of line carry. */
#include "launch/json_lines.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctxpar_version.h"
#include "runtime/formats/json.h"

ctxpar_status ctxpar_json_lines_open(const char *path, ctxpar_json_lines *out) {
    struct stat st;
    out->path = path;
    out->created = stat(path, &st) != 0;
    out->fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (out->fd < 0)
        return ctxpar_error(CTXPAR_ERR_IO, "--json: cannot append to %s: %s", path,
                            strerror(errno));
    return CTXPAR_OK;
}

ctxpar_status ctxpar_json_lines_write(ctxpar_json_lines *lines, const char *line) {
    ctxpar_status status = CTXPAR_OK;
    size_t len = strlen(line);
    char *with_newline = malloc(len + 2);
    if (!with_newline) {
        ctxpar_json_lines_abandon(lines);
        return ctxpar_error(CTXPAR_ERR_NO_MEMORY, "out of memory for the JSON line");
    }
    memcpy(with_newline, line, len);
    memcpy(with_newline + len, "\n", 2);
    ssize_t written = write(lines->fd, with_newline, len + 1);
    if (written != (ssize_t)(len + 1))
        status = ctxpar_error(CTXPAR_ERR_IO, "--json: writing %s failed: %s", lines->path,
                              written < 0 ? strerror(errno) : "short write");
    free(with_newline);
    if (close(lines->fd) != 0 && status == CTXPAR_OK)
        status = ctxpar_error(CTXPAR_ERR_IO, "--json: closing %s failed: %s", lines->path,
                              strerror(errno));
    lines->fd = -1;
    return status;
}

void ctxpar_json_lines_abandon(ctxpar_json_lines *lines) {
    if (lines->fd < 0) return;
    close(lines->fd);
    lines->fd = -1;
    if (lines->created) unlink(lines->path);
}

void ctxpar_json_put_run(ctxpar_json_writer *w, const ctxpar_cli *cli,
                         const ctxpar_run_summary *s) {
    ctxpar_json_put_string(w, "version", CTXPAR_VERSION_STRING);
    ctxpar_json_put_int(w, "ranks", s->ranks);
    ctxpar_json_put_int(w, "nodes", s->nodes);
    ctxpar_json_put_int(w, "threads", s->threads);
    ctxpar_json_put_string(w, "device", s->device);
    if (s->dtype) ctxpar_json_put_string(w, "dtype", s->dtype);
    if (s->isa) ctxpar_json_put_string(w, "isa", s->isa);
    ctxpar_json_put_string(w, "preset", cli->run.model_path[0] ? "" : cli->run.preset);
    ctxpar_json_put_string(w, "model_file", cli->run.model_path);
    ctxpar_json_put_string(w, "family", s->model.family);
    ctxpar_json_key(w, "model");
    ctxpar_config_write_json(w, &s->model);
    char input[1400];
    ctxpar_source_describe(&cli->run.source, input, sizeof input);
    ctxpar_json_put_string(w, "input", input);
    ctxpar_json_put_string(w, "norm", ctxpar_norm_mode_name(cli->run.norm));
    ctxpar_json_put_int(w, "no_merge", cli->run.no_merge);
    ctxpar_json_put_int(w, "frames", s->frames);
    ctxpar_json_put_int(w, "height", s->height);
    ctxpar_json_put_int(w, "width", s->width);
    ctxpar_json_put_int(w, "latent_frames", s->latent_frames);
    ctxpar_json_put_int(w, "tokens", s->tokens);
    ctxpar_json_put_double(w, "vae_flops", s->vae_flops);
    ctxpar_json_put_double(w, "attention_flops", s->attention_flops);
    ctxpar_json_put_double(w, "dense_flops", s->dense_flops);
    ctxpar_json_put_int(w, "planned_bytes", (long long)s->planned_bytes);
}

char *ctxpar_json_run_line(const ctxpar_cli *cli, const ctxpar_run_summary *s) {
    ctxpar_json_writer w;
    ctxpar_json_writer_init(&w);
    ctxpar_json_object_begin(&w);
    ctxpar_json_put_string(&w, "format", "ctxpar-run");
    ctxpar_json_put_int(&w, "format_version", 1);
    ctxpar_json_put_int(&w, "dry_run", s->dry_run);
    ctxpar_json_put_run(&w, cli, s);
    if (!s->dry_run) {
        ctxpar_json_put_string(&w, "out", cli->run.out_path);
        ctxpar_json_put_int(&w, "records", s->records);
        ctxpar_json_put_int(&w, "longest_chain", s->longest_chain);
        ctxpar_json_key(&w, "stages_s");
        ctxpar_json_object_begin(&w);
        for (int i = 0; i < CTXPAR_STAGE_COUNT; i++)
            ctxpar_json_put_double(&w, ctxpar_stage_name((ctxpar_stage)i), s->seconds[i]);
        ctxpar_json_object_end(&w);
        ctxpar_json_put_double(&w, "total_s", s->seconds_total);
        ctxpar_json_put_double(&w, "attention_s", s->attention_seconds);
        ctxpar_json_put_int(&w, "bytes_sent_total", (long long)s->bytes_sent_total);
        ctxpar_json_put_int(&w, "bytes_sent_max", (long long)s->bytes_sent_max);
        ctxpar_json_put_double(&w, "halo_wait_s", s->comm_wait_max);
        ctxpar_json_put_double(&w, "halo_in_flight_s", s->comm_exchange_max);
        ctxpar_json_put_double(&w, "ring_wait_s", s->ring_wait_max);
        ctxpar_json_put_double(&w, "ring_in_flight_s", s->ring_exchange_max);
        ctxpar_json_put_int(&w, "peak_tracked_bytes", (long long)s->peak_tracked_max);
        ctxpar_json_put_int(&w, "peak_rss_bytes", (long long)s->peak_rss_max);
        ctxpar_json_put_int(&w, "weights_bytes", (long long)s->weights_bytes);
        ctxpar_json_put_int(&w, "packed_weights_bytes", (long long)s->packed_bytes);
        ctxpar_json_put_int(&w, "in_place_weights_bytes", (long long)s->in_place_bytes);
        ctxpar_json_put_int(&w, "weights_pss_sum_bytes", (long long)s->weights_pss_sum);
    }
    ctxpar_json_object_end(&w);
    return ctxpar_json_writer_take(&w);
}
