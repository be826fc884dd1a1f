/* `jempp data`: what a data set holds (counts per split and class, image shape, pixel
 * statistics, augmentation), PNG grids of examples and class means (the paper's
 * Figure 2) and optionally of draws from the informative initialisation. Called as
 * jp_cmd_data(argc, argv) with argv[0] the command name. (The timing of the loader and
 * of the Gaussian statistics is bench/bench_data.c.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "flags.h"
#include "jempp/data.h"
#include "jempp/png.h"

/* The flags' values; cfg.dataset and cfg.data_root point into dataset and data_root
 * once parsed (data_root empty: the data set's default folder). */
typedef struct {
    jp_data_config cfg;
    char dataset[64], data_root[1024], out[1024], stats_cache[1024];
    int per_class, images, init_samples;
} data_opts;

static void opts_defaults(data_opts *o)
{
    memset(o, 0, sizeof *o);
    o->cfg = jp_data_config_defaults();
    snprintf(o->dataset, sizeof o->dataset, "%s", o->cfg.dataset);
    o->per_class = 10;
    o->images = 1;
}

static void usage_head(void)
{
    printf("usage: jempp data [flags]\n"
           "Prints what a data set holds and writes PNG grids of it (examples.png, class_means.png,\n"
           "with --init_samples init_samples.png) into --out.\n"
           "\n"
           "Files: fashionmnist/mnist: {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz];\n"
           "cifar10: data_batch_1..5.bin, test_batch.bin; cifar100: train.bin, test.bin;\n"
           "svhn: train_32x32.mat, test_32x32.mat[, extra_32x32.mat]; folder: DIR/<class>/*.png\n"
           "or DIR/train/<class>/*.png and DIR/test/<class>/*.png.\n"
           "\n"
           "Flags (--help: this text):\n");
}

/* 1 when lo <= v <= hi; else says so, naming the flag, and returns 0. */
static int in_range(const char *flag, long long v, long long lo, long long hi)
{
    if (v >= lo && v <= hi) return 1;
    fprintf(stderr, "jempp data: --%s '%lld': expected an integer in [%lld, %lld]\n", flag, v, lo, hi);
    return 0;
}

/* The ranges flags.c does not check (it checks only that a value is an integer). */
static int opts_valid(const data_opts *o)
{
    if (o->cfg.split_seed > 4294967295ULL) {
        fprintf(stderr, "jempp data: --split_seed '%llu': expected an integer in [0, 4294967295]\n",
                (unsigned long long)o->cfg.split_seed);
        return 0;
    }
    return in_range("n_valid", o->cfg.n_valid, 0, 100000000) &&
           in_range("labels_per_class", o->cfg.labels_per_class, -1, 100000000) &&
           in_range("per_class", o->per_class, 1, 1000);
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
    if (o->stats_cache[0]) snprintf(cache, sizeof cache, "%s", o->stats_cache);
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

/* examples.png, class_means.png and with --init_samples init_samples.png in --out
 * (default data-<dataset>). 0, or 1 after an error (printed). */
static int write_images(const jp_data *d, const data_opts *o)
{
    char dir[1024], path[1200];
    if (o->out[0]) snprintf(dir, sizeof dir, "%s", o->out);
    else snprintf(dir, sizeof dir, "data-%s", d->dataset);
    jp_error err;
    if (jp_mkdirs(dir, &err) != JP_OK) {
        fprintf(stderr, "jempp data: error: %s\n", err.msg);
        return 1;
    }
    int rc = 0;
    snprintf(path, sizeof path, "%s/examples.png", dir);
    rc |= write_examples(&d->train, o->per_class, path);
    snprintf(path, sizeof path, "%s/class_means.png", dir);
    rc |= write_means(&d->train, path);
    if (o->init_samples) {
        snprintf(path, sizeof path, "%s/init_samples.png", dir);
        rc |= write_init_samples(d, o, path);
    }
    return rc ? 1 : 0;
}

/* Opens the data set, prints its summary and writes the images: the exit status. */
static int run(const data_opts *o)
{
    jp_data d;
    jp_error e;
    double t0 = jp_now();
    if (jp_data_open(&d, &o->cfg, &e) != JP_OK) {
        fprintf(stderr, "jempp data: error: %s\n", e.msg);
        return 1;
    }
    double t_open = jp_now() - t0;
    print_summary(&d);
    printf("read and split in %.2f s\n", t_open);
    int rc = o->images ? write_images(&d, o) : 0;
    jp_data_close(&d);
    return rc;
}

int jp_cmd_data(int argc, char **argv)
{
    data_opts o;
    opts_defaults(&o);
    jp_flag flags[] = {
        {"dataset", FLAG_STR, o.dataset, sizeof o.dataset, NULL, NULL,
         "fashionmnist, mnist, cifar10, cifar100, svhn or folder"},
        {"data_root", FLAG_STR, o.data_root, sizeof o.data_root, NULL, NULL,
         "folder holding the files (none: /usr/share/datasets/fashion-mnist, the Debian package's, for "
         "fashionmnist; ./data/<dataset> otherwise)"},
        {"n_valid", FLAG_INT, &o.cfg.n_valid, 0, NULL, NULL,
         "validation images taken from the shuffled training set (0..100000000)"},
        {"labels_per_class", FLAG_INT, &o.cfg.labels_per_class, 0, NULL, NULL,
         "labelled images per class, -1 = all"},
        {"split_seed", FLAG_U64, &o.cfg.split_seed, 0, NULL, NULL,
         "seed of the validation split, numpy-compatible (0..4294967295)"},
        {"cifar100_coarse", FLAG_BOOL, &o.cfg.cifar100_coarse, 0, NULL, NULL,
         "CIFAR-100 with its 20 coarse labels instead of the 100 fine"},
        {"svhn_extra", FLAG_BOOL, &o.cfg.svhn_extra, 0, NULL, NULL, "append extra_32x32.mat to the SVHN training set"},
        {"out", FLAG_STR, o.out, sizeof o.out, NULL, NULL, "folder for the PNGs (none: data-<dataset>)"},
        {"per_class", FLAG_INT, &o.per_class, 0, NULL, NULL, "example images per class in examples.png (1..1000)"},
        {"no_images", FLAG_BOOL_NOT, &o.images, 0, NULL, NULL, "print only, write no PNG"},
        {"init_samples", FLAG_BOOL, &o.init_samples, 0, NULL, NULL,
         "also compute the informative-initialisation statistics (per-class mean and covariance, cached) and "
         "write init_samples.png with --per_class draws per class"},
        {"stats_cache", FLAG_STR, o.stats_cache, sizeof o.stats_cache, NULL, NULL,
         "cache file of those statistics (none: next to the data, or ~/.cache/jempp when that folder is "
         "read-only)"},
    };
    int nf = (int)(sizeof flags / sizeof *flags);
    if (jp_flags_want_help(argc, argv)) {
        usage_head();
        jp_flags_help(flags, nf, stdout);
        return 0;
    }
    jp_error err = {0};
    if (jp_flags_parse(flags, nf, argc, argv, 1, &err) != JP_OK) {
        fprintf(stderr, "jempp data: %s\n", err.msg);
        return 2;
    }
    if (!opts_valid(&o)) return 2;
    o.cfg.dataset = o.dataset;
    o.cfg.data_root = o.data_root[0] ? o.data_root : NULL;
    return run(&o);
}
