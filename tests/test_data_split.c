/* Splits: the permutation is numpy's np.random.seed(s); np.random.shuffle(range(n))
 * bit for bit (values printed by numpy 1.24 with /usr/bin/python3), validation = the
 * first n_valid of it, train = the rest in shuffled order; the labelled subset with
 * --labels_per_class is balanced, takes the first k of each class in train order
 * (class by class, as the reference) and the unlabelled indices are the rest; bad
 * split arguments are refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "jempp/data.h"
#include "testutil.h"

static char tmp[512];

static void write_idx(const char *path, const unsigned char *head, size_t nh,
                      const unsigned char *data, size_t nd)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    fwrite(head, 1, nh, f);
    fwrite(data, 1, nd, f);
    fclose(f);
}

/* An MNIST-format folder of n 2x3 images; image i has pixels i%256 and i/256 and label
 * lab(i). */
static void make_mnist(const char *dir, int n, int (*lab)(int))
{
    mkdir(dir, 0755);
    unsigned char hi[16] = {0, 0, 8, 3, (unsigned char)(n >> 24), (unsigned char)(n >> 16),
                            (unsigned char)(n >> 8), (unsigned char)n, 0, 0, 0, 2, 0, 0, 0, 3};
    unsigned char hl[8] = {0, 0, 8, 1, hi[4], hi[5], hi[6], hi[7]};
    unsigned char *px = calloc((size_t)n * 6, 1), *lb = malloc((size_t)n);
    for (int i = 0; i < n; i++) {
        px[i * 6] = (unsigned char)(i % 256);
        px[i * 6 + 1] = (unsigned char)(i / 256);
        lb[i] = (unsigned char)lab(i);
    }
    char p[1100];
    const char *names[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                            "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
    for (int k = 0; k < 4; k++) {
        snprintf(p, sizeof p, "%.1000s/%s", dir, names[k]);
        if (k % 2 == 0) write_idx(p, hi, 16, px, (size_t)n * 6);
        else write_idx(p, hl, 8, lb, (size_t)n);
    }
    free(px);
    free(lb);
}

/* The original index of an image of the test folders. */
static int orig(const jp_dataset *ds, int i)
{
    const float *x = jp_dataset_image(ds, i);
    int a = (int)((x[0] * 0.5f + 0.5f) * 255.0f + 0.5f), b = (int)((x[1] * 0.5f + 0.5f) * 255.0f + 0.5f);
    return a + 256 * b;
}

/* class 9 keeps half of its images (25 of 500); the others move to class 0 */
static int lab_skewed(int i) { return i % 10 == 9 && i % 4 != 1 ? 0 : i % 10; }

static void test_numpy_perm(tu_ctx *t)
{
    /* numpy: a = list(range(n)); np.random.seed(s); np.random.shuffle(a) */
    int p10[10], want10[10] = {2, 8, 4, 9, 1, 6, 7, 3, 0, 5};
    jp_np_shuffle_perm(p10, 10, 0);
    tu_check(t, memcmp(p10, want10, sizeof p10) == 0, "n=10 seed 0: [2, 8, 4, 9, 1, 6, 7, 3, 0, 5]");
    int *p = malloc(sizeof(int) * 60000);
    jp_np_shuffle_perm(p, 50000, 1234);
    int want[12] = {20308, 37706, 6041, 42143, 23202, 38925, 17788, 5884, 33193, 39911, 15219, 42066};
    long long h = 0;
    for (int i = 0; i < 50000; i++) h = (h + (long long)i * p[i]) % 1000000007;
    tu_check(t, memcmp(p, want, sizeof want) == 0 && h == 218294382,
             "n=50000 seed 1234 (CIFAR's split): first 12 and sum(i*p[i]) mod 1e9+7 = %lld "
             "as numpy", h);
    jp_np_shuffle_perm(p, 60000, 1234);
    tu_check(t, p[0] == 30329 && p[4999] == 15346 && p[5000] == 49061,
             "n=60000 seed 1234 (Fashion-MNIST's split): p[0] 30329, p[4999] 15346, p[5000] 49061");
    free(p);
}

static void test_split(tu_ctx *t)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/m", tmp);
    make_mnist(dir, 500, lab_skewed);
    jp_data_config cfg = jp_data_config_defaults();
    cfg.dataset = "mnist";
    cfg.data_root = dir;
    cfg.n_valid = 120;
    cfg.split_seed = 77;
    cfg.labels_per_class = 4;
    cfg.pad = 1; /* the images are 2x3 */
    jp_data d;
    jp_error e = {0};
    jp_status s = jp_data_open(&d, &cfg, &e);
    tu_check(t, s == JP_OK, "open: %s", s ? e.msg : "ok");
    if (s != JP_OK) return;
    int perm[500];
    jp_np_shuffle_perm(perm, 500, 77);
    int ok = d.valid.n == 120 && d.train.n == 380 && d.test.n == 500;
    for (int i = 0; i < 120; i++) ok = ok && orig(&d.valid, i) == perm[i];
    for (int i = 0; i < 380; i++) ok = ok && orig(&d.train, i) == perm[120 + i];
    for (int i = 0; i < 500; i++) ok = ok && orig(&d.test, i) == i;
    tu_check(t, ok, "valid = perm[0:120], train = perm[120:] in order, test unshuffled");
    /* labelled: for each class c in order, the first 4 train positions of class c */
    ok = d.n_labeled == 40 && d.n_unlabeled == 340;
    int at = 0;
    for (int c = 0; c < 10 && ok; c++) {
        int taken = 0;
        for (int i = 0; i < 380; i++)
            if (d.train.y[i] == c && taken < 4) {
                ok = ok && d.labeled_idx[at++] == i;
                taken++;
            }
    }
    char *seen = calloc(380, 1);
    for (int i = 0; i < d.n_labeled; i++) seen[d.labeled_idx[i]]++;
    for (int i = 0; i < d.n_unlabeled; i++) seen[d.unlabeled_idx[i]]++;
    for (int i = 0; i < 380; i++) ok = ok && seen[i] == 1;
    free(seen);
    tu_check(t, ok, "labels_per_class 4: 40 labelled (first 4 per class in train order, class by "
             "class), 340 unlabelled, together each training image once");
    jp_data_close(&d);

    cfg.labels_per_class = -1;
    s = jp_data_open(&d, &cfg, &e);
    ok = s == JP_OK && d.n_labeled == 380 && d.n_unlabeled == 0;
    for (int i = 0; ok && i < 380; i++) ok = d.labeled_idx[i] == i;
    tu_check(t, ok, "labels_per_class -1: labeled_idx = 0..379");
    jp_data_close(&d);

    cfg.labels_per_class = 30; /* class 9 has ~19 training images, the others ~38 */
    s = jp_data_open(&d, &cfg, &e);
    tu_check(t, s == JP_ERR_ARG && strstr(e.msg, "class 9") && strstr(e.msg, "labels_per_class 30"),
             "more labels per class than class 9 holds: %s", e.msg);
    cfg.labels_per_class = 0;
    s = jp_data_open(&d, &cfg, &e);
    tu_check(t, s == JP_ERR_ARG, "labels_per_class 0: %s", e.msg);
    cfg.labels_per_class = -1;
    cfg.n_valid = -3;
    s = jp_data_open(&d, &cfg, &e);
    tu_check(t, s == JP_ERR_ARG, "n_valid -3: %s", e.msg);
    cfg.n_valid = 0;
    s = jp_data_open(&d, &cfg, &e);
    tu_check(t, s == JP_OK && d.valid.n == 0 && d.valid.x == NULL && d.train.n == 500 &&
                    orig(&d.train, 0) == perm[0],
             "n_valid 0: empty validation set, all 500 training images (still shuffled)");
    jp_data_close(&d);
    cfg.split_seed = 1ull << 33;
    s = jp_data_open(&d, &cfg, &e);
    tu_check(t, s == JP_ERR_ARG, "split seed >= 2^32: %s", e.msg);
}

int main(void)
{
    tu_ctx t;
    tu_begin(&t, "test_data_split");
    tu_tmpdir(tmp, sizeof tmp, "data-split");
    test_numpy_perm(&t);
    test_split(&t);
    return tu_finish(&t);
}
