/* The AMX micro-kernel of the bf16 GEMM on the tile instructions
 * (TDPBF16PS), compiled with function target attributes so the library
 * builds with generic flags; the dispatcher (gemm_bf16.c) picks it only
 * where ctxpar_cpu_has reports AMX-TILE and AMX-BF16, which includes
 * Linux's permission for the tile state (arch_prctl ARCH_REQ_XCOMP_PERM,
 * asked once per process in base/cpu_features.c).
 *
 * The kernel's body is gemm_bf16_amx_micro.h, shared with the test's model
 * of the tiles. The tile configuration is per thread (the tile registers
 * are thread state): the first call on a thread loads it, later calls find
 * it there. Nothing else in ctxpar configures tiles, so it is never stale. */
#include "kernels/cpu/gemm_bf16.h"
#include "kernels/cpu/gemm_bf16_internal.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#include <immintrin.h>

/* The 64-byte operand of LDTILECFG, palette 1. */
typedef struct amx_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} amx_config;

static _Thread_local int amx_configured;

__attribute__((target("amx-tile"))) static void amx_prepare(void) {
    if (amx_configured) return;
    amx_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) {
        cfg.rows[t] = 16;
        cfg.colsb[t] = 64;
    }
    _tile_loadconfig(&cfg);
    amx_configured = 1;
}

#define AMX_PREPARE() amx_prepare()
#define AMX_ZERO(t) _tile_zero(t)
#define AMX_LOAD(t, base, stride) _tile_loadd(t, base, stride)
#define AMX_STORE(t, base, stride) _tile_stored(t, base, stride)
#define AMX_DP(c, a, b) _tile_dpbf16ps(c, a, b)
#define AMX_MICRO_NAME micro_amx
#define AMX_MICRO_ATTR __attribute__((target("amx-tile,amx-bf16")))
#include "kernels/cpu/gemm_bf16_amx_micro.h"

const ctxpar_gemm_bf16_micro ctxpar_gemm_bf16_micro_amx = micro_amx;

#else /* a compiler without the AMX intrinsics: the path does not exist */
const ctxpar_gemm_bf16_micro ctxpar_gemm_bf16_micro_amx = 0;
#endif
