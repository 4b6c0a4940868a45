/* Moments of a set of values: count, mean and M2 = sum (x - mean)^2.
 *
 * They sit in base/ because two rooms that must not know each other both
 * need them: the CPU kernels compute a GroupNorm's moments, the communicator
 * combines them across ranks. Combining uses Chan's parallel update in a
 * fixed order, so results are reproducible bit for bit. The update is a
 * real function (not inline) so it is compiled once, the same way for every
 * caller. */
#pragma once

typedef struct ctxpar_moments {
    double count, mean, m2;
} ctxpar_moments;

/* acc := moments of (acc's values) u (b's values). Either may have count 0. */
void ctxpar_moments_combine(ctxpar_moments *acc, const ctxpar_moments *b);
