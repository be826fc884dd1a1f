/* The data pipeline's costs on synthetic CIFAR-size data (3x32x32, 10 classes; reads no
 * files): what preparing one loader batch costs, whether two loader streams slow a
 * training step (a stand-in step of fixed work on every OpenMP thread, alone, with two
 * prefetching streams and with two synchronous ones), what handing over ready batches
 * costs, and the informative-initialisation statistics: computing them, drawing a full
 * replay buffer from them, and writing and reading their cache file (in /tmp).
 * Medians where a figure is repeated. Never a test: timing assertions do not belong in
 * tests. docs/results.md ("Data pipeline") holds the measured figures.
 *
 *   bench_data [--n 50000]     (images; threads: OMP_NUM_THREADS)
 *
 * It runs under the settings `jempp` gives itself (tools/cli/main.c): OpenMP threads
 * waiting passively and OpenBLAS on the CPU's own kernels, unless the user set them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_stats.h"
#include "core/runtime_env.h"
#include "jempp/data.h"

enum { BATCH = 64, CHANNELS = 3, SIDE = 32, CLASSES = 10, ROUNDS = 30 };


static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double process_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* n images of 3x32x32 in CLASSES classes (label i % CLASSES): class template + smooth
 * random field + pixel noise, quantised to 8 bits as real images are. */
static jp_status make_synthetic(jp_dataset *ds, int n, jp_rng *rng, jp_error *err)
{
    memset(ds, 0, sizeof *ds);
    snprintf(ds->name, sizeof ds->name, "bench");
    ds->n = n, ds->c = CHANNELS, ds->h = SIDE, ds->w = SIDE, ds->n_classes = CLASSES;
    size_t d = jp_dataset_dim(ds);
    ds->x = jp_alloc((size_t)n * d * sizeof(float));
    ds->y = jp_alloc((size_t)n * sizeof(int));
    if (!ds->x || !ds->y) return jp_fail(err, JP_ERR_NOMEM, "the synthetic data (%d images)", n);
    for (int i = 0; i < n; i++) {
        int y = i % CLASSES;
        ds->y[i] = y;
        double a = jp_rng_normal(rng), b = jp_rng_normal(rng);
        for (size_t j = 0; j < d; j++) {
            double v = 0.3 * sin(0.05 * (double)j * (y + 1)) + 0.2 * a * cos(0.01 * (double)j) + 0.1 * b +
                       0.15 * (jp_rng_uniform(rng) - 0.5);
            int p = (int)((v * 0.5 + 0.5) * 255 + 0.5);
            p = p < 0 ? 0 : p > 255 ? 255 : p;
            ds->x[(size_t)i * d + j] = ((float)p / 255.0f - 0.5f) / 0.5f;
        }
    }
    return JP_OK;
}

/* The training loader's configuration: reflect-pad 4, crop, flip, sigma 0.03 noise. */
static jp_loader_config loader_config(int prefetch, uint64_t seed)
{
    jp_loader_config cfg = {.batch_size = BATCH, .shuffle = 1, .drop_last = 1, .pad = 4, .flip = 1,
                            .sigma = 0.03f, .seed = seed, .prefetch = prefetch};
    return cfg;
}

/* The cost of preparing one batch, synchronously on this thread (mean of 100). */
static jp_status bench_batch(const jp_dataset *ds, float *x, int *y, jp_error *err)
{
    jp_loader_config cfg = loader_config(0, 1);
    jp_loader *l;
    jp_status st = jp_loader_init(&l, ds, NULL, 0, &cfg, err);
    if (st) return st;
    jp_loader_next(l, x, y);
    int reps = 100;
    double t0 = jp_now(), c0 = thread_cpu();
    for (int i = 0; i < reps; i++) jp_loader_next(l, x, y);
    double per = (jp_now() - t0) / reps, per_cpu = (thread_cpu() - c0) / reps;
    jp_loader_free(l);
    printf("loader: preparing one batch of %d (reflect-pad 4, crop, flip, noise) takes %.2f ms of "
           "CPU (%.2f ms wall) on one thread\n", BATCH, per_cpu * 1e3, per * 1e3);
    return JP_OK;
}

/* A stand-in training step: `passes` sweeps over scratch on every OpenMP thread. */
static void busy_passes(int passes, float *scratch, size_t n)
{
    for (int p = 0; p < passes; p++) {
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) scratch[i] = scratch[i] * 0.999f + 0.001f;
    }
}

/* The number of passes that takes a bit over 100 ms. */
static int calibrate_step(float *scratch, size_t n)
{
    int passes = 1;
    for (;;) {
        double t1 = jp_now();
        busy_passes(passes, scratch, n);
        double dt = jp_now() - t1;
        if (dt > 0.1 || passes > (1 << 20)) return passes;
        passes = dt < 0.01 ? passes * 8 : (int)(passes * 0.1 / dt) + 1;
    }
}

/* Whether the loader slows a training step: steps without a loader, with two prefetching
 * streams (p(x) + labelled batch) and with two synchronous ones alternate, so that a
 * drifting machine load hits all three alike; then, with the prefetched batches ready
 * (the rings refilled while idle), what the two jp_loader_next calls cost. */
static jp_status bench_step(const jp_dataset *ds, float *x, int *y, jp_error *err)
{
    size_t ns = (size_t)4 << 20, d = jp_dataset_dim(ds);
    float *scratch = calloc(ns, sizeof(float));
    jp_loader *ls[2][2] = {{NULL, NULL}, {NULL, NULL}}; /* [prefetching, synchronous][stream] */
    jp_status st = scratch ? JP_OK : jp_fail(err, JP_ERR_NOMEM, "the step's scratch memory");
    for (int m = 0; m < 2 && !st; m++)
        for (int k = 0; k < 2 && !st; k++) {
            jp_loader_config cfg = loader_config(m == 0 ? 4 : 0, (uint64_t)(10 + 2 * m + k));
            st = jp_loader_init(&ls[m][k], ds, NULL, 0, &cfg, err);
            if (!st) jp_loader_next(ls[m][k], x, y); /* the first batch is never prefetched */
        }
    if (!st) {
        int passes = calibrate_step(scratch, ns);
        double tm[3][ROUNDS], copy[ROUNDS];
        for (int r = 0; r < ROUNDS; r++)
            for (int m = 0; m < 3; m++) {
                double t1 = jp_now();
                if (m < 2) {
                    jp_loader_next(ls[m][0], x, y);
                    jp_loader_next(ls[m][1], x, y);
                }
                busy_passes(passes, scratch, ns);
                tm[m][r] = jp_now() - t1;
            }
        for (int r = 0; r < ROUNDS; r++) {
            struct timespec ts = {0, 50000000}; /* idle: the rings refill */
            nanosleep(&ts, NULL);
            double t1 = jp_now();
            jp_loader_next(ls[0][0], x, y);
            jp_loader_next(ls[0][1], x, y);
            copy[r] = jp_now() - t1;
        }
        double base = bench_median(tm[2], ROUNDS), pre = bench_median(tm[0], ROUNDS);
        double syn = bench_median(tm[1], ROUNDS);
        printf("loader: a fixed ~100 ms step on all cores (median of %d): %.1f ms alone, %.1f ms "
               "(%+.1f%%) with two prefetching streams, %.1f ms (%+.1f%%) with two synchronous "
               "ones\n", ROUNDS, base * 1e3, pre * 1e3, (pre / base - 1) * 100, syn * 1e3,
               (syn / base - 1) * 100);
        printf("loader: with the batches ready, the two jp_loader_next calls take %.2f ms (copying "
               "2 x %.1f MB)\n", bench_median(copy, ROUNDS) * 1e3, (double)BATCH * d * 4 / 1e6);
    }
    for (int m = 0; m < 2; m++)
        for (int k = 0; k < 2; k++) jp_loader_free(ls[m][k]);
    free(scratch);
    return st;
}

/* Writes the statistics' cache file and reads it back (checked against the hash). */
static void bench_cache(const jp_gauss_stats *st)
{
    char path[128];
    jp_error e;
    snprintf(path, sizeof path, "/tmp/jempp-bench-stats-%d.safetensors", (int)getpid());
    double t0 = jp_now();
    if (jp_gauss_stats_save(st, path, &e) != JP_OK) {
        fprintf(stderr, "bench_data: cache write failed: %s\n", e.msg);
        return;
    }
    double t_save = jp_now() - t0;
    jp_gauss_stats st2;
    t0 = jp_now();
    jp_status s = jp_gauss_stats_load(&st2, path, st->data_hash, &e);
    double t_load = jp_now() - t0;
    struct stat sb;
    double mb = stat(path, &sb) == 0 ? (double)sb.st_size / 1e6 : 0;
    if (s == JP_OK) {
        printf("statistics cache: %.0f MB, written in %.2f s, loaded and checked in %.2f s\n", mb, t_save,
               t_load);
        jp_gauss_stats_free(&st2);
    } else {
        fprintf(stderr, "bench_data: cache load failed: %s\n", e.msg);
    }
    remove(path);
}

/* The informative-init statistics: computed (wall and CPU time of all threads), a full
 * replay buffer of 10000 samples drawn from them, and their cache file. */
static jp_status bench_stats(const jp_dataset *ds, jp_rng *rng, jp_error *err)
{
    size_t d = jp_dataset_dim(ds);
    jp_gauss_stats st;
    double t0 = jp_now(), c0 = process_cpu();
    jp_status s = jp_gauss_stats_compute(&st, ds, 0, err);
    if (s) return s;
    double t_stats = jp_now() - t0, c_stats = process_cpu() - c0;
    printf("informative-init statistics of %d x %zu, %d classes (means, covariances by ssyrk, "
           "dpotrf of %zu x %zu): %.2f s wall, %.2f s CPU\n", ds->n, d, ds->n_classes, d, d, t_stats, c_stats);
    float *buf = malloc((size_t)10000 * d * sizeof(float));
    if (buf) {
        t0 = jp_now();
        jp_gauss_stats_sample(&st, buf, NULL, 10000, -1, rng);
        printf("drawing 10000 initial samples (a full replay buffer): %.2f s\n", jp_now() - t0);
        free(buf);
    }
    bench_cache(&st);
    jp_gauss_stats_free(&st);
    return JP_OK;
}

int main(int argc, char **argv)
{
    jp_runtime_env_restart(argv); /* as the jempp program: core/runtime_env.h */
    int n = 50000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--n") && i + 1 < argc) n = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--n N]   (synthetic 3x32x32 images, 640..1000000; default 50000)\n",
                    argv[0]);
            return 2;
        }
    }
    if (n < 640 || n > 1000000) { /* at least one batch per class stream; memory bounded */
        fprintf(stderr, "bench_data: --n must be 640..1000000\n");
        return 2;
    }
    printf("synthetic data: %d images of %dx%dx%d, %d classes (%.0f MB of floats)\n", n, CHANNELS, SIDE, SIDE,
           CLASSES, (double)n * CHANNELS * SIDE * SIDE * 4 / 1e6);
    jp_dataset ds;
    jp_rng rng;
    jp_error err;
    jp_rng_seed(&rng, 7);
    jp_status st = make_synthetic(&ds, n, &rng, &err);
    float *x = malloc((size_t)BATCH * jp_dataset_dim(&ds) * sizeof(float));
    int y[BATCH];
    if (!st && !x) st = jp_fail(&err, JP_ERR_NOMEM, "a batch");
    if (!st) st = bench_batch(&ds, x, y, &err);
    if (!st) st = bench_step(&ds, x, y, &err);
    if (!st) st = bench_stats(&ds, &rng, &err);
    free(x);
    jp_dataset_free(&ds);
    if (st) {
        fprintf(stderr, "bench_data: error: %s\n", err.msg);
        return 1;
    }
    return 0;
}
