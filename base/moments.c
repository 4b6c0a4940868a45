/* Chan's parallel update of moments (see moments.h). */
#include "base/moments.h"

void ctxpar_moments_combine(ctxpar_moments *acc, const ctxpar_moments *b) {
    if (b->count == 0.0) return;
    if (acc->count == 0.0) {
        *acc = *b;
        return;
    }
    double count = acc->count + b->count;
    double delta = b->mean - acc->mean;
    acc->mean += delta * (b->count / count);
    acc->m2 += b->m2 + delta * delta * (acc->count * b->count / count);
    acc->count = count;
}
