/* Model config: presets, JSON round trip, strict parsing, validation
 * messages (each names the source and what was expected). */
#include <math.h>
#include <string.h>

#include "runtime/model/config.h"
#include "runtime/formats/json.h"
#include "test_util.h"

/* Expect `status` not OK and the detail to contain every non-NULL needle. */
static void expect_error(const char *what, ctxpar_status status, ctxpar_status want,
                         const char *needle1, const char *needle2) {
    const char *detail = ctxpar_error_detail();
    if (status != want) {
        fprintf(stderr, "%s: status %s, expected %s (detail: %s)\n", what,
                ctxpar_status_name(status), ctxpar_status_name(want), detail);
        test_failures++;
    }
    if ((needle1 && !strstr(detail, needle1)) || (needle2 && !strstr(detail, needle2))) {
        fprintf(stderr, "%s: message '%s' lacks '%s' / '%s'\n", what, detail,
                needle1 ? needle1 : "", needle2 ? needle2 : "");
        test_failures++;
    }
    ctxpar_error_clear();
}

static int configs_equal(const ctxpar_model_config *a, const ctxpar_model_config *b) {
    if (a->vae.n_stages != b->vae.n_stages) return 0;
    for (int i = 0; i < a->vae.n_stages; i++)
        if (a->vae.channels[i] != b->vae.channels[i]) return 0;
    for (int i = 0; i + 1 < a->vae.n_stages; i++)
        if (a->vae.temporal_down[i] != b->vae.temporal_down[i]) return 0;
    return a->vae.res_blocks == b->vae.res_blocks && a->vae.groups == b->vae.groups &&
           a->vae.latent_channels == b->vae.latent_channels &&
           a->transformer.patch == b->transformer.patch &&
           a->transformer.dim == b->transformer.dim &&
           a->transformer.heads == b->transformer.heads &&
           a->transformer.layers == b->transformer.layers &&
           a->merge.spatial_threshold == b->merge.spatial_threshold &&
           a->merge.temporal_threshold == b->merge.temporal_threshold &&
           a->merge.levels == b->merge.levels;
}

static void test_presets(void) {
    ctxpar_model_config c;
    ASSERT_EQ_INT(ctxpar_config_preset("tiny", &c), CTXPAR_OK);
    ASSERT_EQ_INT(c.vae.n_stages, 3);
    ASSERT_EQ_INT(c.vae.channels[0], 16);
    ASSERT_EQ_INT(c.vae.channels[2], 32);
    ASSERT_EQ_INT(c.vae.groups, 8);
    ASSERT_EQ_INT(c.vae.latent_channels, 8);
    ASSERT_EQ_INT(c.transformer.dim, 64);
    ASSERT_EQ_INT(c.transformer.heads, 2);
    ASSERT_EQ_INT(c.transformer.layers, 2);
    ASSERT_EQ_INT(ctxpar_config_temporal_compression(&c), 4);
    ASSERT_EQ_INT(ctxpar_config_spatial_compression(&c), 4);
    ASSERT_NEAR(c.merge.spatial_threshold, 0.98, 0);
    ASSERT_NEAR(c.merge.temporal_threshold, 0.999, 0);
    ASSERT_EQ_INT(c.merge.levels, 2);

    ASSERT_EQ_INT(ctxpar_config_preset("small", &c), CTXPAR_OK);
    ASSERT_EQ_INT(c.vae.n_stages, 4);
    ASSERT_EQ_INT(c.vae.channels[3], 128);
    ASSERT_EQ_INT(c.vae.temporal_down[2], 0);
    ASSERT_EQ_INT(c.vae.latent_channels, 16);
    ASSERT_EQ_INT(c.transformer.dim, 256);
    ASSERT_EQ_INT(ctxpar_config_temporal_compression(&c), 4);
    ASSERT_EQ_INT(ctxpar_config_spatial_compression(&c), 8);

    ASSERT_EQ_INT(ctxpar_config_preset("base", &c), CTXPAR_OK);
    ASSERT_EQ_INT(c.vae.channels[3], 512);
    ASSERT_EQ_INT(c.vae.res_blocks, 2);
    ASSERT_EQ_INT(c.vae.groups, 32);
    ASSERT_EQ_INT(c.transformer.dim, 1024);
    ASSERT_EQ_INT(c.transformer.heads, 16);
    ASSERT_EQ_INT(c.transformer.layers, 24);

    expect_error("unknown preset", ctxpar_config_preset("huge", &c), CTXPAR_ERR_ARGUMENT, "huge",
                 "tiny, small, base");
}

static void test_round_trip(void) {
    const char *names[] = {"tiny", "small", "base"};
    for (int i = 0; i < 3; i++) {
        ctxpar_model_config c, back;
        ASSERT_EQ_INT(ctxpar_config_preset(names[i], &c), CTXPAR_OK);
        ASSERT_EQ_INT(ctxpar_config_validate(&c, names[i]), CTXPAR_OK);
        int need = ctxpar_config_to_json(&c, NULL, 0);
        char small[8];
        ASSERT_EQ_INT(ctxpar_config_to_json(&c, small, sizeof small), need);
        ASSERT_EQ_INT(strlen(small), sizeof small - 1);
        char json[1024];
        ASSERT_EQ_INT(ctxpar_config_to_json(&c, json, sizeof json), need);
        ASSERT_EQ_INT(strlen(json), need);
        ctxpar_status s = ctxpar_config_from_json(json, &back, names[i]);
        if (s != CTXPAR_OK) fprintf(stderr, "%s: %s\n", json, ctxpar_error_detail());
        ASSERT_EQ_INT(s, CTXPAR_OK);
        ASSERT_TRUE(configs_equal(&c, &back));
    }
    ctxpar_model_config c, back;
    ctxpar_config_preset("tiny", &c);
    char json[1024];
    ctxpar_config_to_json(&c, json, sizeof json);
    ASSERT_TRUE(strstr(json, "\"spatial_threshold\": 0.98,") != NULL);
    ASSERT_TRUE(strstr(json, "\"channels\": [16, 32, 32]") != NULL);
    /* awkward thresholds survive exactly */
    c.merge.spatial_threshold = 0.1 + 0.2;
    c.merge.temporal_threshold = 1.0 / 3.0;
    ctxpar_config_to_json(&c, json, sizeof json);
    ASSERT_EQ_INT(ctxpar_config_from_json(json, &back, "x"), CTXPAR_OK);
    ASSERT_TRUE(configs_equal(&c, &back));

    /* key order is free, whitespace too, and merge is optional */
    const char *shuffled =
        "{ \"transformer\" : {\"layers\":2,\"heads\":2,\"dim\":64,\"patch\":2},\n"
        "  \"vae\": {\"latent_channels\": 8, \"groups\": 8, \"temporal_down\": [1, 1],\n"
        "           \"res_blocks\": 1, \"channels\": [16, 32, 32]} }";
    ctxpar_config_preset("tiny", &c);
    ASSERT_EQ_INT(ctxpar_config_from_json(shuffled, &back, "shuffled"), CTXPAR_OK);
    ASSERT_TRUE(configs_equal(&c, &back));
}

static void test_parse_errors(void) {
    ctxpar_model_config c;
    expect_error("syntax", ctxpar_config_from_json("{\"vae\": [1, 2,, 3]}", &c, "m.h5"),
                 CTXPAR_ERR_FORMAT, "m.h5", "line 1, column 15");
    expect_error("syntax line",
                 ctxpar_config_from_json("{\n  \"vae\": {\n    \"a\" 1}}", &c, "m.h5"),
                 CTXPAR_ERR_FORMAT, "line 3, column 9", "expected ':'");
    expect_error("trailing", ctxpar_config_from_json("{} x", &c, "m.h5"), CTXPAR_ERR_FORMAT,
                 "after the end", NULL);
    expect_error("empty", ctxpar_config_from_json("", &c, "m.h5"), CTXPAR_ERR_FORMAT,
                 "expected a value", NULL);
    expect_error("unterminated", ctxpar_config_from_json("{\"vae", &c, "m.h5"),
                 CTXPAR_ERR_FORMAT, "unterminated string", NULL);
    expect_error("hex number", ctxpar_config_from_json("[0x10]", &c, "m.h5"), CTXPAR_ERR_FORMAT,
                 "expected ',' or ']'", NULL);
    expect_error("literal", ctxpar_config_from_json("{\"vae\": tru}", &c, "m.h5"),
                 CTXPAR_ERR_FORMAT, "expected a value", NULL);
    expect_error("boolean", ctxpar_config_from_json("{\"vae\": true, \"transformer\": {}}", &c, "m.h5"),
                 CTXPAR_ERR_FORMAT, "config key vae is a boolean", "expected an object");
    expect_error("not object", ctxpar_config_from_json("[1, 2]", &c, "m.h5"), CTXPAR_ERR_FORMAT,
                 "expected an object", NULL);
    expect_error("duplicate", ctxpar_config_from_json("{\"vae\": 1, \"vae\": 2}", &c, "m.h5"),
                 CTXPAR_ERR_FORMAT, "duplicate key", NULL);

    ctxpar_model_config tiny;
    ctxpar_config_preset("tiny", &tiny);
    char json[1024], edited[1200];
    ctxpar_config_to_json(&tiny, json, sizeof json);

    /* unknown key */
    snprintf(edited, sizeof edited, "%.*s, \"colour\": 3}", (int)strlen(json) - 1, json);
    expect_error("unknown key", ctxpar_config_from_json(edited, &c, "m.h5"), CTXPAR_ERR_FORMAT,
                 "unknown config key colour", "vae, transformer, merge");
    /* missing key */
    const char *no_groups =
        "{\"vae\": {\"channels\": [16, 32, 32], \"res_blocks\": 1, \"temporal_down\": [1, 1], "
        "\"latent_channels\": 8}, \"transformer\": {\"patch\": 2, \"dim\": 64, \"heads\": 2, "
        "\"layers\": 2}}";
    expect_error("missing key", ctxpar_config_from_json(no_groups, &c, "m.h5"), CTXPAR_ERR_FORMAT,
                 "no key vae.groups", NULL);
    /* wrong type, non-integer */
    const char *str_dim =
        "{\"vae\": {\"channels\": [16, 32, 32], \"res_blocks\": 1, \"temporal_down\": [1, 1], "
        "\"groups\": 8, \"latent_channels\": 8}, \"transformer\": {\"patch\": 2, \"dim\": \"64\", "
        "\"heads\": 2, \"layers\": 2}}";
    expect_error("string dim", ctxpar_config_from_json(str_dim, &c, "m.h5"), CTXPAR_ERR_FORMAT,
                 "transformer.dim is a string", "expected a number");
    const char *frac =
        "{\"vae\": {\"channels\": [16, 32.5, 32], \"res_blocks\": 1, \"temporal_down\": [1, 1], "
        "\"groups\": 8, \"latent_channels\": 8}, \"transformer\": {\"patch\": 2, \"dim\": 64, "
        "\"heads\": 2, \"layers\": 2}}";
    expect_error("fraction", ctxpar_config_from_json(frac, &c, "m.h5"), CTXPAR_ERR_FORMAT,
                 "vae.channels[1] is 32.5", "expected an integer");
    const char *short_down =
        "{\"vae\": {\"channels\": [16, 32, 32], \"res_blocks\": 1, \"temporal_down\": [1], "
        "\"groups\": 8, \"latent_channels\": 8}, \"transformer\": {\"patch\": 2, \"dim\": 64, "
        "\"heads\": 2, \"layers\": 2}}";
    expect_error("temporal_down length", ctxpar_config_from_json(short_down, &c, "m.h5"),
                 CTXPAR_ERR_FORMAT, "temporal_down has 1 entries, expected 2", NULL);
    /* parsing validates */
    const char *bad_heads =
        "{\"vae\": {\"channels\": [16, 32, 32], \"res_blocks\": 1, \"temporal_down\": [1, 1], "
        "\"groups\": 8, \"latent_channels\": 8}, \"transformer\": {\"patch\": 2, \"dim\": 64, "
        "\"heads\": 8, \"layers\": 2}}";
    expect_error("head dim via json", ctxpar_config_from_json(bad_heads, &c, "m.h5"),
                 CTXPAR_ERR_ARGUMENT, "m.h5: head dim", "multiple of 16");
}

static void test_validate(void) {
    ctxpar_model_config tiny, c;
    ctxpar_config_preset("tiny", &tiny);

    c = tiny;
    c.vae.n_stages = 0;
    expect_error("no stages", ctxpar_config_validate(&c, "src"), CTXPAR_ERR_ARGUMENT, "src:",
                 "expected 1 to 8");
    c = tiny;
    c.vae.n_stages = 9;
    expect_error("too many stages", ctxpar_config_validate(&c, "src"), CTXPAR_ERR_ARGUMENT,
                 "9 stages", NULL);
    c = tiny;
    c.vae.channels[1] = 20;
    expect_error("groups", ctxpar_config_validate(&c, "src"), CTXPAR_ERR_ARGUMENT,
                 "vae.channels[1] = 20 is not divisible by vae.groups = 8", NULL);
    c = tiny;
    c.vae.channels[0] = 0;
    expect_error("zero channels", ctxpar_config_validate(&c, "src"), CTXPAR_ERR_ARGUMENT,
                 "vae.channels[0] is 0", NULL);
    c = tiny;
    c.vae.groups = 0;
    expect_error("zero groups", ctxpar_config_validate(&c, "src"), CTXPAR_ERR_ARGUMENT,
                 "vae.groups is 0", NULL);
    c = tiny;
    c.vae.latent_channels = 0;
    expect_error("latent", ctxpar_config_validate(&c, "src"), CTXPAR_ERR_ARGUMENT,
                 "vae.latent_channels is 0", NULL);
    c = tiny;
    c.vae.temporal_down[0] = 2;
    expect_error("temporal_down", ctxpar_config_validate(&c, "src"), CTXPAR_ERR_ARGUMENT,
                 "expected 0 or 1", NULL);
    c = tiny;
    c.transformer.heads = 3;
    expect_error("dim % heads", ctxpar_config_validate(&c, "src"), CTXPAR_ERR_ARGUMENT,
                 "transformer.dim = 64 is not divisible by transformer.heads = 3", NULL);
    c = tiny;
    c.transformer.dim = 40;
    c.transformer.heads = 2;
    expect_error("head dim", ctxpar_config_validate(&c, "src"), CTXPAR_ERR_ARGUMENT,
                 "= 20, expected a multiple of 16", NULL);
    c = tiny;
    c.transformer.patch = 0;
    expect_error("patch", ctxpar_config_validate(&c, "src"), CTXPAR_ERR_ARGUMENT,
                 "transformer.patch is 0", NULL);
    c = tiny;
    c.transformer.layers = -1;
    expect_error("layers", ctxpar_config_validate(&c, "src"), CTXPAR_ERR_ARGUMENT,
                 "transformer.layers is -1", NULL);
    c = tiny;
    c.merge.levels = -1;
    expect_error("levels", ctxpar_config_validate(&c, "src"), CTXPAR_ERR_ARGUMENT,
                 "merge.levels is -1", NULL);
    c = tiny;
    c.merge.spatial_threshold = NAN;
    expect_error("threshold", ctxpar_config_validate(&c, "src"), CTXPAR_ERR_ARGUMENT,
                 "finite", NULL);
    c = tiny;
    c.transformer.layers = 0;
    c.merge.levels = 0;
    ASSERT_EQ_INT(ctxpar_config_validate(&c, "src"), CTXPAR_OK);
}

int main(void) {
    test_presets();
    test_round_trip();
    test_parse_errors();
    test_validate();
    return test_finish("test_config");
}
