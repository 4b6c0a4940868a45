/* init-model, inspect and make-video. They are small serial jobs: rank 0 does
 * the work and the others only agree on the outcome, so running them under
 * mpirun by mistake is harmless. */
#include "launch/commands.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/core/interrupt.h"
#include "runtime/families/loader.h"
#include "runtime/families/registry.h"
#include "runtime/formats/hdf5_io.h"
#include "runtime/input/source.h"
#include "runtime/model/model.h"
#include "runtime/model/model_file.h"

ctxpar_status ctxpar_command_init_model(ctxpar_comm_t comm, const ctxpar_cli *cli) {
    ctxpar_status status = CTXPAR_OK;
    if (ctxpar_comm_rank(comm) == 0) {
        ctxpar_model_config config;
        ctxpar_model *model = NULL;
        struct stat st;
        if (stat(cli->file, &st) == 0 && !cli->run.overwrite)
            status = ctxpar_error(CTXPAR_ERR_EXISTS, "%s already exists; pass --overwrite",
                                  cli->file);
        if (status == CTXPAR_OK) status = ctxpar_config_preset(cli->run.preset, &config);
        if (status == CTXPAR_OK) status = ctxpar_model_create_seeded(&config, cli->run.seed, &model);
        if (status == CTXPAR_OK) status = ctxpar_model_save(model, cli->file);
        if (status == CTXPAR_OK && !cli->run.quiet)
            printf("wrote %s: preset %s, seed %llu, %lld parameters\n", cli->file,
                   cli->run.preset, (unsigned long long)cli->run.seed,
                   (long long)ctxpar_model_parameter_count(model));
        ctxpar_model_free(model);
    }
    return ctxpar_comm_agree(comm, status);
}

ctxpar_status ctxpar_command_make_video(ctxpar_comm_t comm, const ctxpar_cli *cli) {
    ctxpar_status status = CTXPAR_OK;
    if (ctxpar_comm_rank(comm) == 0) {
        struct stat st;
        const ctxpar_source *s = &cli->run.source;
        if (stat(cli->file, &st) == 0 && !cli->run.overwrite)
            status = ctxpar_error(CTXPAR_ERR_EXISTS, "%s already exists; pass --overwrite",
                                  cli->file);
        /* Written under a temporary name and renamed into place, so a failed
         * or interrupted write leaves nothing at the path. A name ending in
         * .mp4 gets an H.264 (or MPEG-4) MP4 at 25 frames/s, else HDF5. */
        char temp[sizeof cli->file + 32], codec[32] = "";
        const size_t len = strlen(cli->file);
        const int mp4 = len > 4 && !strcasecmp(cli->file + len - 4, ".mp4");
        snprintf(temp, sizeof temp, "%s.ctxpar-partial", cli->file);
        if (status == CTXPAR_OK)
            status = mp4 ? ctxpar_source_write_synthetic_mp4(temp, s->seed, s->frames, s->height,
                                                             s->width, 25, codec, sizeof codec)
                         : ctxpar_source_write_synthetic(temp, "video", s->seed, s->frames,
                                                         s->height, s->width);
        if (status == CTXPAR_OK && rename(temp, cli->file) != 0)
            status = ctxpar_error(CTXPAR_ERR_IO, "%s: cannot rename %s into place", cli->file,
                                  temp);
        if (status != CTXPAR_OK) unlink(temp);
        if (status == CTXPAR_OK && !cli->run.quiet) {
            if (mp4)
                printf("wrote %s: %s MP4, %lld frames of %lldx%lld (WxH) at 25 frames/s\n",
                       cli->file, codec, (long long)s->frames, (long long)s->width,
                       (long long)s->height);
            else
                printf("wrote %s:video, uint8 [%lld, %lld, %lld, 3]\n", cli->file,
                       (long long)s->frames, (long long)s->height, (long long)s->width);
        }
    }
    return ctxpar_comm_agree(comm, status);
}

/* ---- inspect -------------------------------------------------------------- */

/* Prints "name value" for a string attribute that is there; returns the
 * value (malloc'd, for the caller to free) or NULL. */
static char *print_string_attr(hid_t loc, const char *name) {
    char *value = NULL;
    if (ctxpar_hdf5_read_string_attr(loc, name, &value) != CTXPAR_OK) ctxpar_error_clear();
    if (value) printf("%-16s %s\n", name, value);
    return value;
}

/* H5Lvisit callback (the link info type differs between HDF5 1.10 and 1.12,
 * so the object is opened to learn whether it is a dataset). */
static herr_t print_dataset(hid_t group, const char *name, const H5L_info_t *info, void *data) {
    (void)info, (void)data;
    hid_t obj = H5Oopen(group, name, H5P_DEFAULT);
    if (obj < 0) return 0;
    int is_dataset = H5Iget_type(obj) == H5I_DATASET;
    H5Oclose(obj);
    if (!is_dataset) return 0;
    hid_t dset = H5Dopen2(group, name, H5P_DEFAULT);
    hid_t space = H5Dget_space(dset), type = H5Dget_type(dset);
    hsize_t dims[8];
    int nd = H5Sget_simple_extent_dims(space, dims, NULL);
    const char *tname = H5Tget_class(type) == H5T_FLOAT     ? "float"
                        : H5Tget_class(type) == H5T_INTEGER ? "int"
                                                            : "other";
    printf("  %-44s %s%zu [", name, tname, 8 * H5Tget_size(type));
    for (int i = 0; i < nd; i++) printf("%s%llu", i ? ", " : "", (unsigned long long)dims[i]);
    printf("]\n");
    H5Tclose(type);
    H5Sclose(space);
    H5Dclose(dset);
    return 0;
}

static ctxpar_status inspect_features(hid_t file) {
    static const char *const ints[] = {"format_version", "frames", "height", "width",
                                       "ranks", "tokens", "records", "complete"};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        long long v;
        if (ctxpar_hdf5_read_int_attr(file, ints[i], &v) == 0) printf("%-16s %lld\n", ints[i], v);
    }
    if (H5Lexists(file, "tokens", H5P_DEFAULT) > 0 &&
        H5Lexists(file, "tokens/size", H5P_DEFAULT) > 0) {
        hid_t dset = H5Dopen2(file, "tokens/size", H5P_DEFAULT);
        hid_t space = H5Dget_space(dset);
        hssize_t n = H5Sget_simple_extent_npoints(space);
        int32_t *size = malloc(sizeof(int32_t) * (size_t)(n > 0 ? n : 1));
        if (size && H5Dread(dset, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, size) >= 0) {
            long long covered = 0, hist[8] = {0};
            for (hssize_t i = 0; i < n; i++) {
                covered += size[i];
                int b = 0;
                while (b < 7 && (1 << (2 * (b + 1))) <= size[i]) b++;
                hist[b]++;
            }
            printf("records          %lld covering %lld tokens (%.2fx reduction)\n",
                   (long long)n, covered, n > 0 ? (double)covered / (double)n : 0.0);
            printf("size histogram   ");
            for (int b = 0; b < 8; b++)
                if (hist[b]) printf("[%d..%d): %lld  ", 1 << (2 * b), 1 << (2 * (b + 1)), hist[b]);
            printf("\n");
        }
        free(size);
        H5Sclose(space);
        H5Dclose(dset);
    }
    return CTXPAR_OK;
}

/* A latents file: the model's scaling and the latents' shape and spread, so a
 * user sees at once what to multiply by and whether the values are sane. */
static void inspect_latents(hid_t file) {
    static const char *const ints[] = {"format_version", "frames", "height", "width",
                                       "ranks", "invert_scale_latents", "complete"};
    free(print_string_attr(file, "family"));
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        long long v;
        if (ctxpar_hdf5_read_int_attr(file, ints[i], &v) == 0) printf("%-16s %lld\n", ints[i], v);
    }
    double scaling = 0.0;
    if (H5Aexists(file, "scaling_factor") > 0) {
        hid_t attr = H5Aopen(file, "scaling_factor", H5P_DEFAULT);
        if (attr >= 0 && H5Aread(attr, H5T_NATIVE_DOUBLE, &scaling) >= 0)
            printf("%-16s %.9g (a diffusion model's latents = latents * scaling_factor)\n",
                   "scaling_factor", scaling);
        if (attr >= 0) H5Aclose(attr);
    }
    const char *names[2] = {"latents", "latents_logvar"};
    for (int d = 0; d < 2; d++) {
        if (H5Lexists(file, names[d], H5P_DEFAULT) <= 0) continue;
        hid_t dset = H5Dopen2(file, names[d], H5P_DEFAULT);
        hid_t space = H5Dget_space(dset);
        hssize_t n = H5Sget_simple_extent_npoints(space);
        float *v = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
        if (v && H5Dread(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0 && n > 0) {
            double sum = 0.0, sq = 0.0, lo = v[0], hi = v[0];
            for (hssize_t i = 0; i < n; i++) {
                sum += v[i], sq += (double)v[i] * v[i];
                lo = v[i] < lo ? v[i] : lo, hi = v[i] > hi ? v[i] : hi;
            }
            double mean = sum / (double)n, var = sq / (double)n - mean * mean;
            printf("%-16s mean %.4g, std %.4g, min %.4g, max %.4g\n", names[d], mean,
                   var > 0 ? sqrt(var) : 0.0, lo, hi);
        }
        free(v);
        H5Sclose(space);
        H5Dclose(dset);
    }
}

/* A model folder: its family, shapes and parameter count, without loading it. */
static ctxpar_status inspect_folder(const char *dir) {
    char folder[1536], source[1600];
    const ctxpar_family *family = NULL;
    char *text = NULL;
    ctxpar_model_config config;
    ctxpar_model *layout = NULL;
    CTXPAR_TRY(ctxpar_family_resolve(dir, folder, sizeof folder, &family, &text));
    snprintf(source, sizeof source, "%s/config.json", folder);
    ctxpar_status status = ctxpar_family_read_config(family, text, source, &config);
    if (status == CTXPAR_OK) status = ctxpar_model_layout(&config, &layout);
    if (status == CTXPAR_OK) {
        const ctxpar_vae_config *vae = &config.vae;
        printf("%s: model folder, family %s (%s %s)\n", dir, family->name, family->id_key,
               family->id_value);
        printf("%-16s %s/%s\n", "weights", folder, family->weights_file);
        printf("%-16s %lld tensors, %lld parameters used (%.1f MiB as float32)\n", "runs",
               (long long)layout->n_tensors, (long long)ctxpar_model_parameter_count(layout),
               (double)layout->blob_floats * 4.0 / (1 << 20));
        if (config.has_vae) {
            printf("%-16s [", "channels");
            for (int i = 0; i < vae->n_stages; i++) printf("%s%d", i ? ", " : "", vae->channels[i]);
            printf("], %d ResBlocks per stage, %d in the mid block, %d groups, latent %d\n",
                   vae->res_blocks, vae->mid_blocks, vae->groups, vae->latent_channels);
            printf("%-16s temporal %d (frames 1 + %d*k), spatial %d\n", "compression",
                   ctxpar_config_temporal_compression(&config),
                   ctxpar_config_temporal_compression(&config),
                   ctxpar_config_spatial_compression(&config));
        }
        if (config.has_transformer) {
            const ctxpar_transformer_config *tf = &config.transformer;
            printf("%-16s %d blocks, width %d, %d heads of %d, MLP %d\n", "transformer",
                   tf->layers, tf->dim, tf->heads, tf->dim / tf->heads,
                   ctxpar_config_mlp_dim(&config));
            if (tf->embed == CTXPAR_EMBED_TUBELET)
                printf("%-16s %d x %d x %d tubelets; frames %dx%d, a multiple of %d\n",
                       "input", tf->tubelet, tf->patch, tf->patch, tf->crop, tf->crop,
                       tf->tubelet);
            printf("%-16s spatial %.3g, temporal %.3g, %d levels\n", "merge defaults",
                   config.merge.spatial_threshold, config.merge.temporal_threshold,
                   config.merge.levels);
        }
        if (!config.has_transformer)
            printf("%-16s %.9g\n", "scaling_factor", config.scaling.scaling_factor);
    }
    ctxpar_model_free(layout);
    free(text);
    return status;
}

/* A ctxpar HDF5 file: its format, version and config, what its format adds,
 * then every dataset. */
static ctxpar_status inspect_file(const char *path) {
    hid_t file = -1;
    char *format = NULL;
    CTXPAR_TRY(ctxpar_hdf5_open_readonly(path, "a ctxpar model, features or latents file", &file));
    ctxpar_status status = CTXPAR_OK;
    if (ctxpar_hdf5_read_string_attr(file, "format", &format) != CTXPAR_OK || !format) {
        status = ctxpar_error(CTXPAR_ERR_FORMAT,
                              "%s: no 'format' attribute: not a ctxpar model or features file",
                              path);
    } else {
        printf("%s: %s\n", path, format);
        free(print_string_attr(file, "ctxpar_version"));
        free(print_string_attr(file, "config"));
        if (strcmp(format, "ctxpar-features") == 0) inspect_features(file);
        if (strcmp(format, "ctxpar-latents") == 0) inspect_latents(file);
        printf("datasets:\n");
        H5Lvisit(file, H5_INDEX_NAME, H5_ITER_NATIVE, print_dataset, NULL);
    }
    free(format);
    H5Fclose(file);
    return status;
}

ctxpar_status ctxpar_command_inspect(ctxpar_comm_t comm, const ctxpar_cli *cli) {
    ctxpar_status status = CTXPAR_OK;
    if (ctxpar_comm_rank(comm) == 0) {
        struct stat st;
        if (stat(cli->file, &st) != 0)
            status = ctxpar_error(CTXPAR_ERR_IO, "%s: no such file", cli->file);
        else if (S_ISDIR(st.st_mode))
            status = inspect_folder(cli->file);
        else {
            ctxpar_interrupt_guard_library("HDF5", cli->file);
            status = inspect_file(cli->file);
            ctxpar_interrupt_guard_library(NULL, NULL);
        }
    }
    return ctxpar_comm_agree(comm, status);
}
