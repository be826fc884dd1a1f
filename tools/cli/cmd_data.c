/* `jempp data`: what a data set holds (counts per split and class, image shape, pixel
 * statistics, augmentation), PNG grids of examples and class means (the paper's
 * Figure 2) and optionally of draws from the informative initialisation, and a
 * --bench mode that times the loader and the Gaussian statistics on synthetic
 * CIFAR-size data. Called as jp_cmd_data(argc, argv) with argv[0] the command name. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "jempp/data.h"
#include "jempp/png.h"

typedef struct {
    jp_data_config cfg;
    const char *out, *stats_cache;
    int per_class, images, init_samples, bench, bench_n;
} data_opts;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: jempp data [options]\n"
            "Prints what a data set holds and writes PNG grids of it.\n"
            "\n"
            "  --dataset NAME         fashionmnist (default), mnist, cifar10, cifar100, svhn, folder\n"
            "  --data_root DIR        folder holding the files (default: the Debian package's\n"
            "                         /usr/share/datasets/fashion-mnist for fashionmnist,\n"
            "                         ./data/<dataset> otherwise)\n"
            "  --n_valid N            validation images taken from the shuffled training set (5000)\n"
            "  --labels_per_class N   labelled images per class, -1 = all (-1)\n"
            "  --split_seed S         seed of the validation split, numpy-compatible (1234)\n"
            "  --cifar100_coarse      CIFAR-100 with its 20 coarse labels instead of the 100 fine\n"
            "  --svhn_extra           append extra_32x32.mat to the SVHN training set\n"
            "  --out DIR              folder for the PNGs (default: data-<dataset>)\n"
            "  --per_class N          example images per class in examples.png (10)\n"
            "  --no_images            print only, write no PNG\n"
            "  --init_samples         also compute the informative-initialisation statistics\n"
            "                         (per-class mean and covariance, cached) and write\n"
            "                         init_samples.png with --per_class draws per class\n"
            "  --stats_cache PATH     cache file of those statistics (default: next to the data,\n"
            "                         or ~/.cache/jempp when that folder is read-only)\n"
            "  --bench                time the batch loader and the statistics on synthetic\n"
            "                         3x32x32 data of --bench_n images (50000); reads no files\n"
            "  --help                 this text\n"
            "\n"
            "Files: fashionmnist/mnist: {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz];\n"
            "cifar10: data_batch_1..5.bin, test_batch.bin; cifar100: train.bin, test.bin;\n"
            "svhn: train_32x32.mat, test_32x32.mat[, extra_32x32.mat]; folder: DIR/<class>/*.png\n"
            "or DIR/train/<class>/*.png and DIR/test/<class>/*.png.\n");
}

static int parse_int(const char *flag, const char *v, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || end == v || x < lo || x > hi) {
        fprintf(stderr, "jempp data: %s expects an integer in [%ld, %ld], got '%s'\n", flag, lo,
                hi, v);
        return -1;
    }
    *out = x;
    return 0;
}

/* 0: parsed; 1: --help printed; -1: usage error (message printed). */
static int parse_args(int argc, char **argv, data_opts *o)
{
    o->cfg = jp_data_config_defaults();
    o->out = NULL;
    o->stats_cache = NULL;
    o->per_class = 10;
    o->images = 1;
    o->init_samples = 0;
    o->bench = 0;
    o->bench_n = 50000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char flag[64];
        const char *val = NULL;
        const char *eq = strchr(a, '=');
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "jempp data: unexpected argument '%s' (try --help)\n", a);
            return -1;
        }
        if (eq) {
            snprintf(flag, sizeof flag, "%.*s", (int)(eq - a), a);
            val = eq + 1;
        } else {
            snprintf(flag, sizeof flag, "%s", a);
        }
        int needs = strcmp(flag, "--dataset") == 0 || strcmp(flag, "--data_root") == 0 ||
                    strcmp(flag, "--n_valid") == 0 || strcmp(flag, "--labels_per_class") == 0 ||
                    strcmp(flag, "--split_seed") == 0 || strcmp(flag, "--out") == 0 ||
                    strcmp(flag, "--per_class") == 0 || strcmp(flag, "--stats_cache") == 0 ||
                    strcmp(flag, "--bench_n") == 0;
        if (needs && !val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "jempp data: %s needs a value\n", flag);
                return -1;
            }
            val = argv[++i];
        } else if (!needs && val) {
            fprintf(stderr, "jempp data: %s takes no value\n", flag);
            return -1;
        }
        long x;
        if (strcmp(flag, "--help") == 0 || strcmp(flag, "-h") == 0) {
            usage(stdout);
            return 1;
        } else if (strcmp(flag, "--dataset") == 0) o->cfg.dataset = val;
        else if (strcmp(flag, "--data_root") == 0) o->cfg.data_root = val;
        else if (strcmp(flag, "--out") == 0) o->out = val;
        else if (strcmp(flag, "--stats_cache") == 0) o->stats_cache = val;
        else if (strcmp(flag, "--n_valid") == 0) {
            if (parse_int(flag, val, 0, 100000000, &x)) return -1;
            o->cfg.n_valid = (int)x;
        } else if (strcmp(flag, "--labels_per_class") == 0) {
            if (parse_int(flag, val, -1, 100000000, &x)) return -1;
            o->cfg.labels_per_class = (int)x;
        } else if (strcmp(flag, "--split_seed") == 0) {
            if (parse_int(flag, val, 0, 4294967295L, &x)) return -1;
            o->cfg.split_seed = (uint64_t)x;
        } else if (strcmp(flag, "--per_class") == 0) {
            if (parse_int(flag, val, 1, 1000, &x)) return -1;
            o->per_class = (int)x;
        } else if (strcmp(flag, "--bench_n") == 0) {
            if (parse_int(flag, val, 640, 1000000, &x)) return -1;
            o->bench_n = (int)x;
        } else if (strcmp(flag, "--cifar100_coarse") == 0) o->cfg.cifar100_coarse = 1;
        else if (strcmp(flag, "--svhn_extra") == 0) o->cfg.svhn_extra = 1;
        else if (strcmp(flag, "--no_images") == 0) o->images = 0;
        else if (strcmp(flag, "--init_samples") == 0) o->init_samples = 1;
        else if (strcmp(flag, "--bench") == 0) o->bench = 1;
        else {
            fprintf(stderr, "jempp data: unknown option %s (try --help)\n", flag);
            return -1;
        }
    }
    return 0;
}

static void print_summary(const jp_data *d)
{
    const jp_dataset *tr = &d->train;
    int k = tr->n_classes;
    int *ct = calloc((size_t)k * 3, sizeof(int));
    if (!ct) return;
    jp_dataset_class_counts(&d->train, ct);
    if (d->valid.n) jp_dataset_class_counts(&d->valid, ct + k);
    if (d->test.n) jp_dataset_class_counts(&d->test, ct + 2 * k);
    printf("%s  (%s)\n", d->dataset, d->root);
    printf("images %dx%dx%d (channels x height x width), %d classes, values in [-1, 1]\n", tr->c,
           tr->h, tr->w, k);
    printf("%-28s %8s %8s %8s\n", "class", "train", "valid", "test");
    for (int c = 0; c < k; c++) {
        char name[40];
        snprintf(name, sizeof name, "%d %s", c, tr->class_names ? tr->class_names[c] : "");
        printf("%-28s %8d %8d %8d\n", name, ct[c], ct[k + c], ct[2 * k + c]);
    }
    printf("%-28s %8d %8d %8d\n", "total", tr->n, d->valid.n, d->test.n);
    if (d->n_unlabeled == 0)
        printf("labelled: all %d training images\n", d->n_labeled);
    else
        printf("labelled: %d per class = %d images; %d unlabelled (used for p(x) only)\n",
               d->n_labeled / k, d->n_labeled, d->n_unlabeled);
    double *mean = calloc((size_t)tr->c, sizeof(double)), *sd = calloc((size_t)tr->c, sizeof(double));
    if (mean && sd) {
        jp_dataset_channel_stats(tr, mean, sd);
        printf("pixel mean / std of the training images, per channel:\n");
        for (int c = 0; c < tr->c; c++)
            printf("  channel %d: %8.4f / %.4f in [-1, 1]   (%6.2f / %5.2f in 0..255)\n", c, mean[c],
                   sd[c], (mean[c] + 1) * 127.5, sd[c] * 127.5);
    }
    free(mean);
    free(sd);
    printf("training augmentation: ");
    if (d->pad) printf("reflect-pad %d + random crop, ", d->pad);
    printf("horizontal flip %s, noise sigma %g\n", d->flip ? "on" : "off", (double)d->sigma);
    free(ct);
}

/* per_class examples of each class (first in training order), one row per class. */
static int write_examples(const jp_dataset *tr, int per_class, const char *path)
{
    size_t d = jp_dataset_dim(tr);
    int k = tr->n_classes;
    float *grid = malloc((size_t)k * per_class * d * sizeof(float));
    int *filled = calloc((size_t)k, sizeof(int));
    if (!grid || !filled) {
        free(grid);
        free(filled);
        fprintf(stderr, "jempp data: out of memory\n");
        return -1;
    }
    for (size_t i = 0; i < (size_t)k * per_class * d; i++) grid[i] = -1.0f;
    for (int i = 0; i < tr->n; i++) {
        int c = tr->y[i];
        if (filled[c] < per_class) {
            memcpy(grid + ((size_t)c * per_class + filled[c]) * d, jp_dataset_image(tr, i),
                   d * sizeof(float));
            filled[c]++;
        }
    }
    jp_error e;
    jp_status s = jp_png_write_grid(path, grid, k * per_class, tr->c, tr->h, tr->w, per_class, &e);
    free(grid);
    free(filled);
    if (s != JP_OK) {
        fprintf(stderr, "jempp data: error: %s\n", e.msg);
        return -1;
    }
    printf("wrote %s (%d examples per class, one row per class)\n", path, per_class);
    return 0;
}

static int write_means(const jp_dataset *tr, const char *path)
{
    size_t d = jp_dataset_dim(tr);
    int k = tr->n_classes;
    double *acc = calloc((size_t)k * d, sizeof(double));
    float *m = malloc((size_t)k * d * sizeof(float));
    int *cnt = calloc((size_t)k, sizeof(int));
    if (!acc || !m || !cnt) {
        free(acc), free(m), free(cnt);
        fprintf(stderr, "jempp data: out of memory\n");
        return -1;
    }
    for (int i = 0; i < tr->n; i++) {
        const float *x = jp_dataset_image(tr, i);
        double *a = acc + (size_t)tr->y[i] * d;
        for (size_t j = 0; j < d; j++) a[j] += x[j];
        cnt[tr->y[i]]++;
    }
    for (int c = 0; c < k; c++)
        for (size_t j = 0; j < d; j++)
            m[(size_t)c * d + j] = cnt[c] ? (float)(acc[(size_t)c * d + j] / cnt[c]) : -1.0f;
    jp_error e;
    int cols = k <= 10 ? k : 10;
    jp_status s = jp_png_write_grid(path, m, k, tr->c, tr->h, tr->w, cols, &e);
    free(acc), free(m), free(cnt);
    if (s != JP_OK) {
        fprintf(stderr, "jempp data: error: %s\n", e.msg);
        return -1;
    }
    printf("wrote %s (the %d class means, as the paper's Figure 2)\n", path, k);
    return 0;
}

static int write_init_samples(const jp_data *d, const data_opts *o, const char *path)
{
    const jp_dataset *tr = &d->train;
    char cache[1200];
    if (o->stats_cache) snprintf(cache, sizeof cache, "%s", o->stats_cache);
    else jp_gauss_stats_cache_path(cache, sizeof cache, d, tr);
    jp_gauss_stats st;
    jp_error e;
    double t0 = jp_now();
    if (jp_gauss_stats_load_or_compute(&st, tr, cache, &e) != JP_OK) {
        fprintf(stderr, "jempp data: error: %s\n", e.msg);
        return -1;
    }
    printf("informative-init statistics (%d classes x %d dims): %s in %.2f s%s%s\n",
           st.n_classes, st.dim, st.from_cache ? "loaded" : "computed", jp_now() - t0,
           st.cache_note[0] ? "; " : "", st.cache_note);
    int k = st.n_classes, n = k * o->per_class;
    float *x = malloc((size_t)n * st.dim * sizeof(float));
    if (!x) {
        jp_gauss_stats_free(&st);
        fprintf(stderr, "jempp data: out of memory\n");
        return -1;
    }
    jp_rng rng;
    jp_rng_seed(&rng, d->seed);
    for (int c = 0; c < k; c++)
        jp_gauss_stats_sample(&st, x + (size_t)c * o->per_class * st.dim, NULL, o->per_class, c, &rng);
    jp_status s = jp_png_write_grid(path, x, n, tr->c, tr->h, tr->w, o->per_class, &e);
    free(x);
    jp_gauss_stats_free(&st);
    if (s != JP_OK) {
        fprintf(stderr, "jempp data: error: %s\n", e.msg);
        return -1;
    }
    printf("wrote %s (%d draws per class from N(mu_y, Sigma_y + 1e-4 I), one row per class)\n",
           path, o->per_class);
    return 0;
}

/* ---- --bench ------------------------------------------------------------------ */
static void busy_passes(int passes, float *scratch, size_t n)
{
    for (int p = 0; p < passes; p++) {
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) scratch[i] = scratch[i] * 0.999f + 0.001f;
    }
}

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

static double median(double *v, int n)
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return v[n / 2];
}

static int bench(const data_opts *o)
{
    const int n = o->bench_n, c = 3, h = 32, w = 32, k = 10, bs = 64;
    const size_t d = (size_t)c * h * w;
    printf("synthetic data: %d images of %dx%dx%d, %d classes (%.0f MB of floats)\n", n, c, h, w,
           k, (double)n * d * 4 / 1e6);
    jp_dataset ds;
    memset(&ds, 0, sizeof ds);
    snprintf(ds.name, sizeof ds.name, "bench");
    ds.n = n, ds.c = c, ds.h = h, ds.w = w, ds.n_classes = k;
    ds.x = jp_alloc((size_t)n * d * sizeof(float));
    ds.y = jp_alloc((size_t)n * sizeof(int));
    if (!ds.x || !ds.y) {
        fprintf(stderr, "jempp data: out of memory for the synthetic data\n");
        jp_dataset_free(&ds);
        return 1;
    }
    /* images: class template + smooth random field + pixel noise, quantised to 8 bits */
    jp_rng rng;
    jp_rng_seed(&rng, 7);
    for (int i = 0; i < n; i++) {
        int y = i % k;
        ds.y[i] = y;
        double a = jp_rng_normal(&rng), b = jp_rng_normal(&rng);
        for (size_t j = 0; j < d; j++) {
            double v = 0.3 * sin(0.05 * (double)j * (y + 1)) + 0.2 * a * cos(0.01 * (double)j) +
                       0.1 * b + 0.15 * (jp_rng_uniform(&rng) - 0.5);
            int p = (int)((v * 0.5 + 0.5) * 255 + 0.5);
            p = p < 0 ? 0 : p > 255 ? 255 : p;
            ds.x[(size_t)i * d + j] = ((float)p / 255.0f - 0.5f) / 0.5f;
        }
    }
    jp_error e;
    /* loader: the cost of preparing one batch, and the stall seen by a training loop */
    jp_loader_config cfg = {.batch_size = bs, .shuffle = 1, .drop_last = 1, .pad = 4, .flip = 1,
                            .sigma = 0.03f, .seed = 1, .prefetch = 0};
    jp_loader *l;
    if (jp_loader_init(&l, &ds, NULL, 0, &cfg, &e) != JP_OK) {
        fprintf(stderr, "jempp data: error: %s\n", e.msg);
        jp_dataset_free(&ds);
        return 1;
    }
    float *x = malloc((size_t)bs * d * sizeof(float));
    int y[64];
    jp_loader_next(l, x, y);
    int reps = 100;
    double t0 = jp_now(), c0 = thread_cpu();
    for (int i = 0; i < reps; i++) jp_loader_next(l, x, y);
    double per = (jp_now() - t0) / reps, per_cpu = (thread_cpu() - c0) / reps;
    jp_loader_free(l);
    printf("loader: preparing one batch of %d (reflect-pad 4, crop, flip, noise) takes %.2f ms of "
           "CPU (%.2f ms wall) on one thread\n", bs, per_cpu * 1e3, per * 1e3);
    size_t ns = (size_t)4 << 20;
    float *scratch = calloc(ns, sizeof(float));
    if (scratch) {
        /* a stand-in training step: a fixed amount of work on every OpenMP thread,
         * calibrated to about 100 ms; steps without a loader, with two prefetching
         * streams (p(x) + labelled batch) and with two synchronous ones alternate, so
         * that a drifting machine load hits all three alike */
        int passes = 1;
        for (;;) {
            double t1 = jp_now();
            busy_passes(passes, scratch, ns);
            double dt = jp_now() - t1;
            if (dt > 0.1 || passes > (1 << 20)) break;
            passes = dt < 0.01 ? passes * 8 : (int)(passes * 0.1 / dt) + 1;
        }
        enum { ROUNDS = 30 };
        double tm[3][ROUNDS], copy[ROUNDS];
        jp_loader *ls[2][2];
        for (int m = 0; m < 2; m++)
            for (int k = 0; k < 2; k++) {
                cfg.prefetch = m == 0 ? 4 : 0;
                cfg.seed = (uint64_t)(10 + 2 * m + k);
                if (jp_loader_init(&ls[m][k], &ds, NULL, 0, &cfg, &e) != JP_OK) {
                    fprintf(stderr, "jempp data: error: %s\n", e.msg);
                    return 1;
                }
                jp_loader_next(ls[m][k], x, y); /* the first batch is never prefetched */
            }
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
        for (int m = 0; m < 2; m++)
            for (int k = 0; k < 2; k++) jp_loader_free(ls[m][k]);
        double base = median(tm[2], ROUNDS), pre = median(tm[0], ROUNDS), syn = median(tm[1], ROUNDS);
        printf("loader: a fixed ~100 ms step on all cores (median of %d): %.1f ms alone, %.1f ms "
               "(%+.1f%%) with two prefetching streams, %.1f ms (%+.1f%%) with two synchronous "
               "ones\n", ROUNDS, base * 1e3, pre * 1e3, (pre / base - 1) * 100, syn * 1e3,
               (syn / base - 1) * 100);
        printf("loader: with the batches ready, the two jp_loader_next calls take %.2f ms (copying "
               "2 x %.1f MB)\n", median(copy, ROUNDS) * 1e3, (double)bs * d * 4 / 1e6);
    }
    free(scratch);
    free(x);
    /* informative-init statistics */
    jp_gauss_stats st;
    t0 = jp_now();
    c0 = process_cpu();
    if (jp_gauss_stats_compute(&st, &ds, 0, &e) != JP_OK) {
        fprintf(stderr, "jempp data: error: %s\n", e.msg);
        jp_dataset_free(&ds);
        return 1;
    }
    double t_stats = jp_now() - t0, c_stats = process_cpu() - c0;
    printf("informative-init statistics of %d x %zu, %d classes (means, covariances by ssyrk, "
           "dpotrf of %zu x %zu): %.2f s wall, %.2f s CPU\n", n, d, k, d, d, t_stats, c_stats);
    float *buf = malloc((size_t)10000 * d * sizeof(float));
    if (buf) {
        t0 = jp_now();
        jp_gauss_stats_sample(&st, buf, NULL, 10000, -1, &rng);
        printf("drawing 10000 initial samples (a full replay buffer): %.2f s\n", jp_now() - t0);
        free(buf);
    }
    char path[128];
    snprintf(path, sizeof path, "/tmp/jempp-bench-stats-%d.safetensors", (int)getpid());
    t0 = jp_now();
    if (jp_gauss_stats_save(&st, path, &e) == JP_OK) {
        double t_save = jp_now() - t0;
        jp_gauss_stats st2;
        t0 = jp_now();
        jp_status s = jp_gauss_stats_load(&st2, path, st.data_hash, &e);
        double t_load = jp_now() - t0;
        struct stat sb;
        double mb = stat(path, &sb) == 0 ? (double)sb.st_size / 1e6 : 0;
        if (s == JP_OK) {
            printf("statistics cache: %.0f MB, written in %.2f s, loaded and checked in %.2f s\n",
                   mb, t_save, t_load);
            jp_gauss_stats_free(&st2);
        } else {
            fprintf(stderr, "jempp data: cache load failed: %s\n", e.msg);
        }
        remove(path);
    } else {
        fprintf(stderr, "jempp data: cache write failed: %s\n", e.msg);
    }
    jp_gauss_stats_free(&st);
    jp_dataset_free(&ds);
    return 0;
}

int jp_cmd_data(int argc, char **argv)
{
    data_opts o;
    int r = parse_args(argc, argv, &o);
    if (r) return r > 0 ? 0 : 2;
    if (o.bench) return bench(&o);
    jp_data d;
    jp_error e;
    double t0 = jp_now();
    if (jp_data_open(&d, &o.cfg, &e) != JP_OK) {
        fprintf(stderr, "jempp data: error: %s\n", e.msg);
        return 1;
    }
    double t_open = jp_now() - t0;
    print_summary(&d);
    printf("read and split in %.2f s\n", t_open);
    int rc = 0;
    if (o.images) {
        char dir[1024], path[1200];
        if (o.out) snprintf(dir, sizeof dir, "%s", o.out);
        else snprintf(dir, sizeof dir, "data-%s", d.dataset);
        jp_error err;
        if (jp_mkdirs(dir, &err) != JP_OK) {
            fprintf(stderr, "jempp data: error: %s\n", err.msg);
            jp_data_close(&d);
            return 1;
        }
        snprintf(path, sizeof path, "%s/examples.png", dir);
        rc |= write_examples(&d.train, o.per_class, path);
        snprintf(path, sizeof path, "%s/class_means.png", dir);
        rc |= write_means(&d.train, path);
        if (o.init_samples) {
            snprintf(path, sizeof path, "%s/init_samples.png", dir);
            rc |= write_init_samples(&d, &o, path);
        }
    }
    jp_data_close(&d);
    return rc ? 1 : 0;
}
