/* Backend registry: the CPU instance, and the one place that knows whether
 * this build has a CUDA backend. Selecting the CPU backend also applies the
 * test and benchmark hooks CTXPAR_CONV_PATH (run every causal conv the
 * named path supports on that path, docs/bench-conv.md) and
 * CTXPAR_ATTENTION_BF16 (gemm or avx512bf16: the bf16 attention's path,
 * docs/bf16.md). */
#include "kernels/backend.h"

#include <stdlib.h>

#include "base/cpu_features.h"
#include "kernels/cpu/transformer_cpu.h"
#include "kernels/cuda/cuda_device.h"

static const ctxpar_attention_tiled cpu_attention_tiled = {
    .queries_values = ctxpar_cpu_attention_bf16_queries_values,
    .prepare_queries = ctxpar_cpu_attention_bf16_prepare_queries,
    .kv_values = ctxpar_cpu_attention_bf16_kv_values,
    .prepare_kv = ctxpar_cpu_attention_bf16_prepare_kv,
    .attention = ctxpar_cpu_attention_bf16_tiles,
    .merge = ctxpar_cpu_attention_merge_tiles,
    .to_rows = ctxpar_cpu_attention_tiles_to_rows,
};

static const ctxpar_backend cpu_backend = {
    .name = "cpu",
    .conv3d_scratch_floats = ctxpar_cpu_conv3d_scratch_floats,
    .conv3d_causal = ctxpar_cpu_conv3d_causal,
    .conv3d_fuses = ctxpar_cpu_conv3d_fuses,
    .conv3d_causal_fused = ctxpar_cpu_conv3d_causal_fused,
    .conv2d_stride2_scratch_floats = ctxpar_cpu_conv2d_stride2_scratch_floats,
    .conv2d_stride2 = ctxpar_cpu_conv2d_stride2,
    .conv1x1 = ctxpar_cpu_conv1x1,
    .conv_bf16_scratch_floats = ctxpar_cpu_conv_bf16_scratch_floats,
    .conv_bf16 = ctxpar_cpu_conv_bf16,
    .group_moments = ctxpar_cpu_group_moments,
    .group_norm_apply = ctxpar_cpu_group_norm_apply,
    .pool_time2 = ctxpar_cpu_pool_time2,
    .add = ctxpar_cpu_add,
    .linear = ctxpar_cpu_linear,
    .linear_bf16_scratch_values = ctxpar_cpu_linear_bf16_scratch_values,
    .linear_bf16 = ctxpar_cpu_linear_bf16,
    .linear_bf16_rows = ctxpar_cpu_linear_bf16_rows,
    .patch_embed_scratch_floats = ctxpar_cpu_patch_embed_scratch_floats,
    .patch_rows = ctxpar_cpu_patch_rows,
    .attention = ctxpar_cpu_attention,
    .attention_bf16 = ctxpar_cpu_attention_bf16,
    .attention_tiled = &cpu_attention_tiled,
    .attention_merge = ctxpar_cpu_attention_merge,
    .layer_norm = ctxpar_cpu_layer_norm,
    .rms_norm = ctxpar_cpu_rms_norm,
    .gelu = ctxpar_cpu_gelu,
    .quick_gelu = ctxpar_cpu_quick_gelu,
    .silu_gate = ctxpar_cpu_silu_gate,
    .gelu_erf = ctxpar_cpu_gelu_erf,
    .tubelet_embed_scratch_floats = ctxpar_cpu_tubelet_embed_scratch_floats,
    .tubelet_rows = ctxpar_cpu_tubelet_rows,
    .rope3d_vjepa2 = ctxpar_cpu_rope3d_vjepa2,
    .rope3d = ctxpar_cpu_rope3d,
    .rope_axial2d = ctxpar_cpu_rope_axial2d,
};

const ctxpar_backend *ctxpar_backend_cpu(void) { return &cpu_backend; }

ctxpar_status ctxpar_backend_select(ctxpar_device device, int local_rank,
                                    const ctxpar_backend **out) {
    *out = NULL;
    if (device == CTXPAR_DEVICE_CPU) {
        const char *isa_error = ctxpar_cpu_isa_error();
        if (isa_error) return ctxpar_error(CTXPAR_ERR_ARGUMENT, "%s", isa_error);
        const char *path = getenv("CTXPAR_CONV_PATH");
        if (path && *path && ctxpar_cpu_conv3d_force_path(path) != 0)
            return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                                "CTXPAR_CONV_PATH=%s: not a conv path of this CPU (direct, "
                                "winograd, winograd-f2, winograd-f4, gemm)",
                                path);
        const char *attention = getenv("CTXPAR_ATTENTION_BF16");
        if (attention && *attention && ctxpar_cpu_attention_bf16_force_path(attention) != 0)
            return ctxpar_error(CTXPAR_ERR_ARGUMENT,
                                "CTXPAR_ATTENTION_BF16=%s: not a bf16 attention path of this "
                                "CPU (gemm, avx512bf16)",
                                attention);
        *out = &cpu_backend;
        return CTXPAR_OK;
    }
    char why[512];
    if (!ctxpar_cuda_probe(local_rank, why, sizeof why))
        return ctxpar_error(CTXPAR_ERR_UNSUPPORTED, "--device cuda: %s; use --device cpu", why);
    return ctxpar_error(CTXPAR_ERR_UNSUPPORTED,
                        "--device cuda: %s, but the CUDA kernels are not part of this version "
                        "yet; use --device cpu",
                        why);
}
