/* A C model of the AMX tile registers, and the AMX micro-kernel's body
 * (kernels/cpu/gemm_bf16_amx_micro.h) compiled against it as micro_model:
 * what the tests run where the CPU has no AMX, so the tiling (strides,
 * panel offsets, the k tail, partial tiles) is checked on every machine.
 *
 * The model's TDPBF16PS adds, per element, the even then the odd product of
 * each pair, pair after pair, rounding after each add (the order Intel's
 * intrinsics guide writes). */
#pragma once
#include <stdint.h>
#include <string.h>

#include "kernels/cpu/gemm_bf16.h"

/* eight tiles of 16 rows x 64 bytes, per thread */
static _Thread_local unsigned char tile[8][16][64];
static _Thread_local int prepared;

static void model_load(int t, const void *base, int64_t stride) {
    for (int r = 0; r < 16; r++) memcpy(tile[t][r], (const char *)base + r * stride, 64);
}

static void model_store(int t, void *base, int64_t stride) {
    for (int r = 0; r < 16; r++) memcpy((char *)base + r * stride, tile[t][r], 64);
}

static float bf16_at(const unsigned char *row, int index) {
    ctxpar_bf16 h;
    memcpy(&h, row + 2 * index, 2);
    return ctxpar_bf16_to_f32(h);
}

static void model_dp(int c, int a, int b) {
    for (int m = 0; m < 16; m++)
        for (int n = 0; n < 16; n++) {
            float acc;
            memcpy(&acc, tile[c][m] + 4 * n, 4);
            for (int k = 0; k < 16; k++) {
                acc += bf16_at(tile[a][m], 2 * k) * bf16_at(tile[b][k], 2 * n);
                acc += bf16_at(tile[a][m], 2 * k + 1) * bf16_at(tile[b][k], 2 * n + 1);
            }
            memcpy(tile[c][m] + 4 * n, &acc, 4);
        }
}

#define AMX_PREPARE() (prepared = 1)
#define AMX_ZERO(t) memset(tile[t], 0, sizeof tile[t])
#define AMX_LOAD(t, base, stride) model_load(t, base, stride)
#define AMX_STORE(t, base, stride) model_store(t, base, stride)
#define AMX_DP(c, a, b) model_dp(c, a, b)
#define AMX_MICRO_NAME micro_model
#define AMX_MICRO_ATTR
#include "kernels/cpu/gemm_bf16_amx_micro.h"

