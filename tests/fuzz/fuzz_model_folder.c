/* Fuzz target: loading a model folder (runtime/families/registry.c and
 * loader.c): config.json, the weights, and optionally a repository root's
 * model_index.json, as users download them. The input is those files
 * joined by "\n%%\n": config.json, then the weights (written under every
 * family's weights file name), then model_index.json; with the third part
 * the folder is a repository root holding the model in vae/. A folder that
 * loads must hold a model with parameters, and every failure must say why. */
#include <sys/stat.h>

#include "runtime/families/registry.h"
#include "runtime/model/model.h"

#include "tests/fuzz/fuzz_util.h"

static void put(const char *dir, const char *name, const uint8_t *data, size_t size) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    fuzz_write_file(path, data, size);
}

static void remove_folder(const char *dir, const char *model_dir) {
    char path[1024];
    for (int i = 0; ctxpar_family_at(i); i++) {
        snprintf(path, sizeof path, "%s/%s", model_dir, ctxpar_family_at(i)->weights_file);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/config.json", model_dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/model_index.json", dir);
    unlink(path);
    rmdir(model_dir);
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ctxpar_comm_t comm = fuzz_comm();
    const uint8_t *parts[3];
    size_t lengths[3];
    const int n = fuzz_split(data, size, parts, lengths, 3);

    char dir[512], model_dir[600];
    snprintf(dir, sizeof dir, "%s", fuzz_scratch("folder"));
    snprintf(model_dir, sizeof model_dir, "%s%s", dir, n == 3 ? "/vae" : "");
    mkdir(dir, 0700);
    mkdir(model_dir, 0700);
    put(model_dir, "config.json", parts[0], lengths[0]);
    if (n >= 2)
        for (int i = 0; ctxpar_family_at(i); i++)
            put(model_dir, ctxpar_family_at(i)->weights_file, parts[1], lengths[1]);
    if (n == 3) put(dir, "model_index.json", parts[2], lengths[2]);

    ctxpar_model *model = NULL;
    ctxpar_status status = ctxpar_family_load(comm, dir, &model);
    fuzz_check_failure(status);
    if (status == CTXPAR_OK) {
        if (ctxpar_model_parameter_count(model) <= 0) abort();
        ctxpar_model_free(model);
    }
    remove_folder(dir, model_dir);
    return 0;
}
