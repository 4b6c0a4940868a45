/* The naive attention every attention test checks against: double
 * accumulation, scores kept whole, softmax by the row maximum. Shared by the
 * CPU kernel test, the ring test and the GPU test (C and C++). */
#pragma once
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* o_ref [n_q][heads*dh] and lse_ref [heads][n_q]; rows of q, k, v start every
 * ldq, ldk, ldv floats. With no keys a row's output is 0 and its lse -inf. */
static inline void ref_attention(const float *q, int64_t ldq, const float *k, int64_t ldk,
                                 const float *v, int64_t ldv, int64_t n_q, int64_t n_kv,
                                 int heads, int dh, double scale, double *o_ref,
                                 double *lse_ref) {
    double *s = (double *)malloc(sizeof(double) * (size_t)(n_kv > 0 ? n_kv : 1));
    for (int hh = 0; hh < heads; hh++)
        for (int64_t i = 0; i < n_q; i++) {
            double m = -INFINITY, sum = 0.0;
            for (int64_t j = 0; j < n_kv; j++) {
                double dot = 0.0;
                for (int d = 0; d < dh; d++)
                    dot += (double)q[i * ldq + hh * dh + d] * k[j * ldk + hh * dh + d];
                s[j] = dot * scale;
                if (s[j] > m) m = s[j];
            }
            for (int64_t j = 0; j < n_kv; j++) sum += exp(s[j] - m);
            for (int d = 0; d < dh; d++) {
                double acc = 0.0;
                for (int64_t j = 0; j < n_kv; j++) acc += exp(s[j] - m) * v[j * ldv + hh * dh + d];
                o_ref[i * heads * dh + hh * dh + d] = n_kv ? acc / sum : 0.0;
            }
            lse_ref[hh * n_q + i] = n_kv ? m + log(sum) : -INFINITY;
        }
    free(s);
}
