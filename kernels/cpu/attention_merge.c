/* Log-sum-exp merge of two partial attention results over disjoint key
 * sets: the step that makes ring attention exact whatever the order and the
 * sizes of the K/V blocks that arrive.
 *
 * Design: each input is already normalised (o = sum p v / sum p) and carries
 * its lse, so the merge weights are exp(lse_x - lse_new) <= 1 and never
 * overflow. lse = -inf means "no keys" and is handled explicitly, so that an
 * accumulator that was never written (garbage o) cannot leak NaN. */
#include "kernels/cpu/transformer_cpu.h"

#include <math.h>

void ctxpar_cpu_attention_merge(float *o_acc, int64_t ld_acc, float *lse_acc, const float *o_blk,
                                int64_t ld_blk, const float *lse_blk, int64_t n_q, int heads,
                                int head_dim) {
    const int64_t rows = n_q * heads;
#pragma omp parallel for schedule(static) if (rows * head_dim > (1 << 16))
    for (int64_t r = 0; r < rows; r++) {
        const int64_t i = r / heads, hh = r % heads; /* token-major: rows of o are contiguous */
        const int64_t at = hh * n_q + i;
        float *oa = o_acc + i * ld_acc + hh * head_dim;
        const float *ob = o_blk + i * ld_blk + hh * head_dim;
        const float la = lse_acc[at], lb = lse_blk[at];
        if (lb == -INFINITY) continue; /* the block saw no keys: nothing to add */
        if (la == -INFINITY) {         /* first block: take it as it is */
            for (int d = 0; d < head_dim; d++) oa[d] = ob[d];
            lse_acc[at] = lb;
            continue;
        }
        const float hi = fmaxf(la, lb), lo = fminf(la, lb);
        const float lse_new = hi + log1pf(expf(lo - hi));
        const float wa = expf(la - lse_new), wb = expf(lb - lse_new);
        for (int d = 0; d < head_dim; d++) oa[d] = wa * oa[d] + wb * ob[d];
        lse_acc[at] = lse_new;
    }
}
