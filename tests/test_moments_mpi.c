/* The cross-rank moment combine behind exact GroupNorm (docs/design.md,
 * "VAE encoder" and "Parallel decomposition"): every rank computes
 * (count, mean, M2) of its own values with ctxpar_cpu_group_moments,
 * ctxpar_comm_combine_moments merges them with ctxpar_moments_combine in rank
 * order, and the result must equal a float64 two-pass mean and variance of
 * the union of every rank's values, on every rank, bit for bit the same.
 *
 * Each scenario is one entry of the moments array (one "group"), so one call
 * combines them all, as the VAE does for its groups. They are the cases a
 * shortcut gets wrong: counts that differ by orders of magnitude between
 * ranks with different means (equal weights fail), ranks with no values,
 * rank 0 with no values, no values anywhere, one value per rank (M2 = 0 on
 * every rank), and a mean of 1e6 with a spread of ~1 (any sum-of-squares
 * shortcut loses the variance there). Values derive from (scenario, rank,
 * index), so every rank can rebuild the union for the reference. */
#include <math.h>
#include <string.h>

#include "kernels/cpu/kernels_cpu.h"
#include "test_mpi_util.h"

typedef struct scenario {
    const char *name;
    int64_t (*count)(int rank, int ranks);
    double (*value)(int rank, int64_t i); /* rounded to float, as activations are */
} scenario;

static double u(int stream, int rank, int64_t i) {
    return test_uniform((uint64_t)(stream * 1000 + rank), (uint64_t)i);
}

/* counts 5, 118, 457, ... with means 0, 0.75, 1.5, ... */
static int64_t count_uneven(int rank, int ranks) { return 5 + 113 * (int64_t)rank * rank; }
static double value_uneven(int rank, int64_t i) { return 0.75 * rank + (1 + rank) * u(1, rank, i); }

/* odd ranks hold nothing */
static int64_t count_odd_empty(int rank, int ranks) { return rank % 2 ? 0 : 40 + 17 * rank; }
static double value_odd_empty(int rank, int64_t i) { return 3.0 - rank + u(2, rank, i); }

/* only the last rank holds values (on 1 rank: rank 0 does) */
static int64_t count_last_only(int rank, int ranks) { return rank == ranks - 1 ? 1000 : 0; }
static double value_last_only(int rank, int64_t i) { return -2.0 + 0.5 * u(3, rank, i); }

/* nobody holds values: count 0, and no NaN may appear */
static int64_t count_none(int rank, int ranks) { return 0; }
static double value_none(int rank, int64_t i) { return 0.0; }

/* one value per rank: every local M2 is 0 */
static int64_t count_one(int rank, int ranks) { return 1; }
static double value_one(int rank, int64_t i) { return (double)(rank * rank) - 7.0; }

/* mean 1e6, spread ~1, rank means 4 apart, uneven counts */
static int64_t count_large_mean(int rank, int ranks) { return 64 + 31 * rank; }
static double value_large_mean(int rank, int64_t i) { return 1e6 + 4.0 * rank + 0.5 * u(4, rank, i); }

/* rank 0 holds 100000 values near 0, the others one value near 50 */
static int64_t count_skewed(int rank, int ranks) { return rank == 0 ? 100000 : 1; }
static double value_skewed(int rank, int64_t i) { return rank == 0 ? u(5, 0, i) : 50.0 + rank; }

static const scenario scenarios[] = {
    {"uneven counts and means", count_uneven, value_uneven},
    {"odd ranks empty", count_odd_empty, value_odd_empty},
    {"only the last rank holds values", count_last_only, value_last_only},
    {"no values anywhere", count_none, value_none},
    {"one value per rank", count_one, value_one},
    {"mean 1e6, spread ~1", count_large_mean, value_large_mean},
    {"100000 values on rank 0, one on each other", count_skewed, value_skewed},
};
enum { N_SCENARIOS = sizeof scenarios / sizeof scenarios[0] };

static float *make_values(const scenario *s, int rank, int ranks, int64_t *n) {
    *n = s->count(rank, ranks);
    float *x = malloc(sizeof(float) * (size_t)(*n > 0 ? *n : 1));
    for (int64_t i = 0; i < *n; i++) x[i] = (float)s->value(rank, i);
    return x;
}

/* float64 two-pass mean and M2 over the union of every rank's values */
static ctxpar_moments two_pass(const scenario *s, int ranks) {
    double sum = 0.0, count = 0.0;
    for (int r = 0; r < ranks; r++) {
        int64_t n;
        float *x = make_values(s, r, ranks, &n);
        for (int64_t i = 0; i < n; i++) sum += x[i];
        count += (double)n;
        free(x);
    }
    const double mean = count > 0 ? sum / count : 0.0;
    double m2 = 0.0;
    for (int r = 0; r < ranks; r++) {
        int64_t n;
        float *x = make_values(s, r, ranks, &n);
        for (int64_t i = 0; i < n; i++) m2 += ((double)x[i] - mean) * ((double)x[i] - mean);
        free(x);
    }
    return (ctxpar_moments){count, mean, m2};
}

/* got vs want: count exact; mean within 1e-12 of the spread (sqrt of the
 * variance) plus 1e-15 of |mean|; M2 within 1e-9 relative. Chan's update in
 * double is ~1e-15 off here; equal weights miss the mean by a large share of
 * the spread, a dropped delta term misses M2 by far more than 1e-9. */
static void check_moments(const char *what, const ctxpar_moments *got, const ctxpar_moments *want) {
    const double var = want->count > 0 ? want->m2 / want->count : 0.0;
    const double mean_tol = 1e-12 * sqrt(var) + 1e-15 * fabs(want->mean) + 1e-300;
    const double m2_tol = 1e-9 * want->m2 + 1e-300;
    int ok = got->count == want->count && isfinite(got->mean) && isfinite(got->m2) &&
             fabs(got->mean - want->mean) <= mean_tol && fabs(got->m2 - want->m2) <= m2_tol;
    if (want->count == 0) ok = got->count == 0 && got->m2 == 0.0 && isfinite(got->mean);
    if (!ok) {
        fprintf(stderr,
                "%s: got count %.17g mean %.17g M2 %.17g, want count %.17g mean %.17g M2 %.17g "
                "(mean err %.3g tol %.3g, M2 err %.3g tol %.3g)\n",
                what, got->count, got->mean, got->m2, want->count, want->mean, want->m2,
                fabs(got->mean - want->mean), mean_tol, fabs(got->m2 - want->m2), m2_tol);
        test_failures++;
    }
}

/* ctxpar_moments_combine alone, on one rank's worth of data: the union of
 * every scenario's values split at uneven cuts (empty parts included),
 * combined left to right and as a pairwise tree. */
static void check_serial_combine(int ranks) {
    enum { PARTS = 6 };
    for (int k = 0; k < N_SCENARIOS; k++) {
        const scenario *s = &scenarios[k];
        int64_t total = 0;
        for (int r = 0; r < ranks; r++) total += s->count(r, ranks);
        float *all = malloc(sizeof(float) * (size_t)(total > 0 ? total : 1));
        int64_t at = 0;
        for (int r = 0; r < ranks; r++) {
            int64_t n;
            float *x = make_values(s, r, ranks, &n);
            memcpy(all + at, x, sizeof(float) * (size_t)n);
            at += n;
            free(x);
        }
        /* cuts at 0, 0, total/7, total/7, total/2, total - 1, total */
        const int64_t cuts[PARTS + 1] = {0, 0, total / 7, total / 7, total / 2,
                                         total > 0 ? total - 1 : 0, total};
        ctxpar_moments part[PARTS], left = {0, 0, 0};
        for (int p = 0; p < PARTS; p++) {
            ctxpar_cpu_group_moments(all + cuts[p], 0, 1, cuts[p + 1] - cuts[p], 1, &part[p]);
            ctxpar_moments_combine(&left, &part[p]);
        }
        ctxpar_moments a = part[0], b = part[2], c = part[4];
        ctxpar_moments_combine(&a, &part[1]);
        ctxpar_moments_combine(&b, &part[3]);
        ctxpar_moments_combine(&c, &part[5]);
        ctxpar_moments_combine(&a, &b);
        ctxpar_moments_combine(&a, &c);
        const ctxpar_moments want = two_pass(s, ranks);
        char what[160];
        snprintf(what, sizeof what, "serial combine, left to right [%s]", s->name);
        check_moments(what, &left, &want);
        snprintf(what, sizeof what, "serial combine, as a tree [%s]", s->name);
        check_moments(what, &a, &want);
        free(all);
    }
}

int main(int argc, char **argv) {
    char tmpdir[256];
    ctxpar_comm_t comm = test_mpi_start(&argc, &argv, "test_moments_mpi", tmpdir, sizeof tmpdir);
    const int rank = ctxpar_comm_rank(comm), ranks = ctxpar_comm_size(comm);

    ctxpar_moments moments[N_SCENARIOS];
    for (int k = 0; k < N_SCENARIOS; k++) {
        int64_t n;
        float *x = make_values(&scenarios[k], rank, ranks, &n);
        ctxpar_cpu_group_moments(x, n, 1, n, 1, &moments[k]);
        ASSERT_EQ_INT((int64_t)moments[k].count, n);
        free(x);
    }
    ctxpar_status status = ctxpar_comm_combine_moments(comm, moments, N_SCENARIOS);
    ASSERT_EQ_INT(status, CTXPAR_OK);
    for (int k = 0; k < N_SCENARIOS; k++) {
        const ctxpar_moments want = two_pass(&scenarios[k], ranks);
        char what[160];
        snprintf(what, sizeof what, "rank %d of %d [%s]", rank, ranks, scenarios[k].name);
        check_moments(what, &moments[k], &want);
    }

    /* every rank must hold the same bits as rank 0 */
    ctxpar_moments first[N_SCENARIOS];
    memcpy(first, moments, sizeof first);
    MPI_Bcast(first, (int)sizeof first, MPI_BYTE, 0, MPI_COMM_WORLD);
    if (memcmp(first, moments, sizeof first) != 0) {
        fprintf(stderr, "rank %d: combined moments differ in their bits from rank 0's\n", rank);
        test_failures++;
    }
    if (rank == 0) check_serial_combine(ranks);
    return test_mpi_finish(comm, tmpdir, "test_moments_mpi");
}
