/* Data-set readers: small files written in each official format (IDX raw and gzip,
 * CIFAR-10/100 binary, SVHN MATLAB v5 from scipy.io.savemat uncompressed, compressed
 * and byte-swapped to big-endian, PNG folders) are read back exactly; every kind of
 * bad input is refused with a message naming the file and what was expected vs
 * found. `test_data_formats --write-seeds DIR` also writes the fuzz seed corpora
 * (DIR/fuzz_idx, fuzz_cifar, fuzz_mat, fuzz_png). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <matio.h>
#include <zlib.h>

#include "data/readers.h"
#include "jempp/data.h"
#include "jempp/png.h"
#include "testutil.h"

static char tmp[512];
static const char *seed_dir = NULL; /* --write-seeds */

/* ---- small helpers ----------------------------------------------------------- */
static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    fclose(f);
}

static void write_gz(const char *path, const void *p, size_t n)
{
    gzFile g = gzopen(path, "wb");
    if (!g || gzwrite(g, p, (unsigned)n) != (int)n) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    gzclose(g);
}

static void seed_file(const char *harness, const char *name, const void *p, size_t n)
{
    if (!seed_dir) return;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", seed_dir, harness);
    mkdir(seed_dir, 0755);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s", seed_dir, harness, name);
    write_bytes(path, p, n);
}

static const char *P(const char *rel)
{
    static char buf[8][1024];
    static int k = 0;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmp, rel);
    return buf[k];
}

/* Checks a failure: status `code`, and the message holds every given fragment. */
static void expect_fail(tu_ctx *t, const char *what, jp_status got, jp_status code,
                        const jp_error *e, const char *f1, const char *f2)
{
    int ok = got == code && (!f1 || strstr(e->msg, f1)) && (!f2 || strstr(e->msg, f2));
    tu_check(t, ok, "%-34s -> %s: %s", what, jp_status_name(got), got ? e->msg : "(accepted!)");
}

static unsigned char *read_file(const char *path, size_t *n);

/* ---- reading the test files alone (jp_data_config.test_only) ----------------------- */
/* Copies the files rel[0..n) (paths below the roots, their folders created) from one
 * data root to another: a root that holds only some of the official files. */
static void copy_files(const char *from, const char *to, const char *const *rel, int n)
{
    char src[1200], dst[1200];
    mkdir(to, 0755);
    for (int k = 0; k < n; k++) {
        snprintf(dst, sizeof dst, "%s/%s", to, rel[k]);
        for (char *q = strchr(dst + strlen(to) + 1, '/'); q; q = strchr(q + 1, '/')) {
            *q = 0; /* each folder on the way */
            mkdir(dst, 0755);
            *q = '/';
        }
        snprintf(src, sizeof src, "%s/%s", from, rel[k]);
        size_t len;
        unsigned char *b = read_file(src, &len);
        write_bytes(dst, b, len);
        free(b);
    }
}

/* Whether a and b have the same class names (both none, or equal one by one). */
static int same_names(const jp_dataset *a, const jp_dataset *b)
{
    if (a->n_classes != b->n_classes || !a->class_names != !b->class_names) return 0;
    for (int k = 0; a->class_names && k < a->n_classes; k++)
        if (strcmp(a->class_names[k], b->class_names[k]) != 0) return 0;
    return 1;
}

/* With test_only, train and valid are empty sets of the test set's shape and classes. */
static int empty_like_test(const jp_data *d)
{
    const jp_dataset *te = &d->test;
    int ok = d->n_labeled == 0 && d->n_unlabeled == 0;
    for (int k = 0; k < 2; k++) {
        const jp_dataset *e = k ? &d->valid : &d->train;
        ok = ok && e->n == 0 && !e->x && e->c == te->c && e->h == te->h && e->w == te->w &&
             same_names(e, te);
    }
    return ok;
}

/* The data set of cfg read from root `full` (every official file) and from root `only`
 * (its test files alone, copied there by the caller): with test_only = 1 both give the
 * same test set as a full open (hash, classes, names) and empty train/valid sets of its
 * shape; without test_only `only` is refused with the existing message naming
 * `missing` (the first training file looked for) and where it looked. */
static void check_test_only(tu_ctx *t, const char *what, jp_data_config cfg, const char *full,
                            const char *only, const char *missing)
{
    jp_error e = {0};
    jp_data all, d;
    cfg.data_root = full;
    cfg.test_only = 0;
    jp_status s = jp_data_open(&all, &cfg, &e);
    tu_check(t, s == JP_OK && all.train.n > 0 && all.test.n > 0, "%s: full open %s", what,
             s ? e.msg : "ok");
    if (s != JP_OK) return;
    uint64_t want = jp_dataset_hash(&all.test);
    const char *roots[2] = {full, only};
    for (int r = 0; r < 2; r++) {
        jp_data_config c = cfg;
        c.data_root = roots[r];
        c.test_only = 1;
        c.n_valid = 1000000; /* not used with test_only: there is nothing to split */
        c.labels_per_class = 1000000;
        s = jp_data_open(&d, &c, &e);
        int ok = s == JP_OK && d.test.n == all.test.n && jp_dataset_hash(&d.test) == want &&
                 same_names(&d.test, &all.test) && strcmp(d.test.name, all.test.name) == 0 &&
                 empty_like_test(&d);
        tu_check(t, ok, "%s: test_only from %s: train 0, valid 0, the same %d test images: %s",
                 what, r ? "the test files alone" : "every file", all.test.n, s ? e.msg : "ok");
        if (s == JP_OK) jp_data_close(&d);
    }
    jp_data_close(&all);
    cfg.data_root = only;
    cfg.test_only = 0;
    char label[128];
    snprintf(label, sizeof label, "%s: no training files", what);
    expect_fail(t, label, jp_data_open(&d, &cfg, &e), JP_ERR_IO, &e, missing, only);
}

/* ---- IDX ----------------------------------------------------------------------- */
static size_t make_idx_images(unsigned char *buf, int n, int h, int w)
{
    unsigned char head[16] = {0, 0, 8, 3};
    uint32_t d[3] = {(uint32_t)n, (uint32_t)h, (uint32_t)w};
    for (int k = 0; k < 3; k++)
        for (int b = 0; b < 4; b++) head[4 + 4 * k + b] = (unsigned char)(d[k] >> (24 - 8 * b));
    memcpy(buf, head, 16);
    for (int i = 0; i < n * h * w; i++) buf[16 + i] = (unsigned char)((i * 37 + 11) % 256);
    return 16 + (size_t)n * h * w;
}

static size_t make_idx_labels(unsigned char *buf, int n, int nc)
{
    unsigned char head[8] = {0, 0, 8, 1, (unsigned char)(n >> 24), (unsigned char)(n >> 16),
                             (unsigned char)(n >> 8), (unsigned char)n};
    memcpy(buf, head, 8);
    for (int i = 0; i < n; i++) buf[8 + i] = (unsigned char)((i * 3) % nc);
    return 8 + (size_t)n;
}

static void test_idx(tu_ctx *t)
{
    unsigned char img[16 + 9 * 5 * 6], lab[8 + 9], tst[16 + 4 * 5 * 6], tlab[8 + 4];
    size_t ni = make_idx_images(img, 9, 5, 6), nl = make_idx_labels(lab, 9, 10);
    size_t nti = make_idx_images(tst, 4, 5, 6), ntl = make_idx_labels(tlab, 4, 10);
    mkdir(P("mnist"), 0755);
    write_gz(P("mnist/train-images-idx3-ubyte.gz"), img, ni);
    write_bytes(P("mnist/train-labels-idx1-ubyte"), lab, nl); /* raw: both forms accepted */
    write_gz(P("mnist/t10k-images-idx3-ubyte.gz"), tst, nti);
    write_gz(P("mnist/t10k-labels-idx1-ubyte.gz"), tlab, ntl);
    /* fuzz seed: 4-byte little-endian length of the image part, images, labels */
    unsigned char seed[4 + sizeof img + sizeof lab];
    uint32_t L = (uint32_t)ni;
    memcpy(seed, &L, 4);
    memcpy(seed + 4, img, ni);
    memcpy(seed + 4 + ni, lab, nl);
    seed_file("fuzz_idx", "mnist_9x5x6", seed, 4 + ni + nl);
    {
        size_t ng;
        unsigned char *gz = read_file(P("mnist/t10k-images-idx3-ubyte.gz"), &ng);
        unsigned char *gseed = malloc(4 + ng + ntl);
        uint32_t G = (uint32_t)ng;
        memcpy(gseed, &G, 4);
        memcpy(gseed + 4, gz, ng);
        memcpy(gseed + 4 + ng, tlab, ntl);
        seed_file("fuzz_idx", "mnist_gz_4x5x6", gseed, 4 + ng + ntl);
        free(gz);
        free(gseed);
    }

    jp_error e = {0};
    jp_raw_set tr, te;
    jp_status s = jp_mnist_load(&tr, &te, P("mnist"), 0, &e);
    tu_check(t, s == JP_OK, "IDX gzip + raw read: %s", s ? e.msg : "ok");
    if (s == JP_OK) {
        int ok = tr.n == 9 && tr.c == 1 && tr.h == 5 && tr.w == 6 && te.n == 4;
        ok = ok && memcmp(tr.pix, img + 16, 9 * 30) == 0 && memcmp(te.pix, tst + 16, 4 * 30) == 0;
        for (int i = 0; i < 9; i++) ok = ok && tr.y[i] == (i * 3) % 10;
        tu_check(t, ok, "IDX images and labels read back exactly (9 + 4 images of 5x6)");
        jp_raw_free(&tr);
        jp_raw_free(&te);
    }
    /* The whole path through jp_data_open, named fashionmnist, with a 2-image split. */
    jp_data_config cfg = jp_data_config_defaults();
    cfg.data_root = P("mnist");
    cfg.n_valid = 2;
    jp_data d;
    s = jp_data_open(&d, &cfg, &e);
    tu_check(t, s == JP_OK && d.train.n == 7 && d.valid.n == 2 && d.test.n == 4 && d.flip == 1 &&
                    strcmp(d.train.class_names[0], "T-shirt/top") == 0,
             "jp_data_open fashionmnist from a folder: 7/2/4, flip on, class names");
    if (s == JP_OK) {
        /* valid = first 2 of numpy's shuffle of range(9) with seed 1234, train = the rest */
        int perm[9];
        jp_np_shuffle_perm(perm, 9, 1234);
        int ok = 1;
        for (int i = 0; i < 9; i++) {
            const jp_dataset *ds = i < 2 ? &d.valid : &d.train;
            int j = i < 2 ? i : i - 2;
            for (int p = 0; p < 30; p++) {
                float want = ((float)img[16 + perm[i] * 30 + p] / 255.0f - 0.5f) / 0.5f;
                ok = ok && ds->x[j * 30 + p] == want;
            }
            ok = ok && ds->y[j] == (perm[i] * 3) % 10;
        }
        tu_check(t, ok, "split: valid/train follow the seeded shuffle, x = (p/255-0.5)/0.5 exactly");
        jp_data_close(&d);
    }
    cfg.dataset = "mnist";
    s = jp_data_open(&d, &cfg, &e);
    tu_check(t, s == JP_OK && d.flip == 0, "mnist: horizontal flip off by default");
    jp_data_close(&d);
    /* the t10k files alone: one gzip, one raw (both forms, as for the training files) */
    /* the t10k files alone (gzip and raw), in root/raw: the other place looked in */
    mkdir(P("mnist_test"), 0755);
    mkdir(P("mnist_test/raw"), 0755);
    write_gz(P("mnist_test/raw/t10k-images-idx3-ubyte.gz"), tst, nti);
    write_bytes(P("mnist_test/raw/t10k-labels-idx1-ubyte"), tlab, ntl);
    check_test_only(t, "IDX mnist", cfg, P("mnist"), P("mnist_test"), "train-images-idx3-ubyte");
    cfg.dataset = "fashionmnist";
    check_test_only(t, "IDX fashionmnist", cfg, P("mnist"), P("mnist_test"),
                    "train-images-idx3-ubyte");
    cfg.dataset = "mnist";

    /* bad inputs */
    jp_idx x;
    unsigned char bad[sizeof img + 1];
    memcpy(bad, img, ni);
    bad[3] = 1;
    expect_fail(t, "IDX image file with 1 dimension", jp_idx_parse(&x, bad, ni, "imgs", 3, &e),
                JP_ERR_FORMAT, &e, "imgs", "expected 3");
    memcpy(bad, img, ni);
    bad[2] = 0x0D;
    expect_fail(t, "IDX of float32", jp_idx_parse(&x, bad, ni, "imgs", 3, &e), JP_ERR_FORMAT, &e,
                "float32", "expected 0x08");
    memcpy(bad, img, ni);
    bad[0] = 0x1f;
    expect_fail(t, "IDX wrong magic", jp_idx_parse(&x, bad, ni, "imgs", 3, &e), JP_ERR_FORMAT, &e,
                "magic", "expected 00 00 08 03");
    expect_fail(t, "IDX truncated", jp_idx_parse(&x, img, ni - 7, "imgs", 3, &e), JP_ERR_FORMAT,
                &e, "truncated", "expected");
    expect_fail(t, "IDX header truncated", jp_idx_parse(&x, img, 10, "imgs", 3, &e),
                JP_ERR_FORMAT, &e, "truncated", NULL);
    memcpy(bad, img, ni);
    bad[ni] = 0;
    expect_fail(t, "IDX extra bytes", jp_idx_parse(&x, bad, ni + 1, "imgs", 3, &e),
                JP_ERR_FORMAT, &e, "after", "expected");
    /* labels out of range, counts that disagree */
    write_bytes(P("mnist/train-labels-idx1-ubyte"), lab, nl);
    unsigned char lab2[sizeof lab];
    memcpy(lab2, lab, nl);
    lab2[8 + 4] = 12;
    write_bytes(P("bad_lab"), lab2, nl);
    jp_raw_set r;
    expect_fail(t, "IDX label 12 of 10 classes",
                jp_idx_read_pair(&r, P("mnist/train-images-idx3-ubyte.gz"), P("bad_lab"), 10, &e),
                JP_ERR_FORMAT, &e, "bad_lab", "label 12 of item 4");
    write_bytes(P("short_lab"), tlab, ntl);
    expect_fail(t, "IDX 9 images vs 4 labels",
                jp_idx_read_pair(&r, P("mnist/train-images-idx3-ubyte.gz"), P("short_lab"), 10, &e),
                JP_ERR_FORMAT, &e, "9 images", "4 labels");
    /* truncated gzip */
    FILE *f = fopen(P("mnist/train-images-idx3-ubyte.gz"), "rb");
    unsigned char gz[4096];
    size_t ng = fread(gz, 1, sizeof gz, f);
    fclose(f);
    write_bytes(P("trunc.gz"), gz, ng / 2);
    expect_fail(t, "IDX gzip cut in half", jp_idx_read_pair(&r, P("trunc.gz"), P("short_lab"), 10, &e),
                JP_ERR_FORMAT, &e, "trunc.gz", "truncated");
    /* missing files: where it looked, and the Debian package for Fashion-MNIST */
    cfg.dataset = "fashionmnist";
    cfg.data_root = P("nowhere");
    expect_fail(t, "Fashion-MNIST missing", jp_data_open(&d, &cfg, &e), JP_ERR_IO, &e,
                "dataset-fashion-mnist", P("nowhere"));
    cfg.dataset = "mnist";
    expect_fail(t, "MNIST missing", jp_data_open(&d, &cfg, &e), JP_ERR_IO, &e,
                "train-images-idx3-ubyte", P("nowhere"));
    cfg.dataset = "imagenet";
    expect_fail(t, "unknown data set", jp_data_open(&d, &cfg, &e), JP_ERR_ARG, &e, "imagenet",
                "cifar10");
    cfg.dataset = "mnist";
    cfg.data_root = P("mnist");
    cfg.n_valid = 9;
    expect_fail(t, "n_valid >= training images", jp_data_open(&d, &cfg, &e), JP_ERR_ARG, &e,
                "n_valid 9", "9 training images");
}

/* ---- CIFAR ----------------------------------------------------------------------- */
static unsigned char *cifar_records(int n, int label_bytes, int seed, size_t *len)
{
    size_t rec = (size_t)label_bytes + 3072;
    unsigned char *b = malloc(rec * (size_t)n);
    for (int i = 0; i < n; i++) {
        unsigned char *r = b + rec * (size_t)i;
        if (label_bytes == 1) r[0] = (unsigned char)((seed + i) % 10);
        else r[0] = (unsigned char)((seed + i) % 20), r[1] = (unsigned char)((seed * 7 + i * 3) % 100);
        for (int p = 0; p < 3072; p++) r[label_bytes + p] = (unsigned char)((p * 5 + i * 31 + seed) % 256);
    }
    *len = rec * (size_t)n;
    return b;
}

static int cifar_matches(const jp_raw_set *r, int first, const unsigned char *recs, int n,
                         int label_bytes, int label_index)
{
    size_t rec = (size_t)label_bytes + 3072;
    for (int i = 0; i < n; i++) {
        if (memcmp(r->pix + (size_t)(first + i) * 3072, recs + rec * i + label_bytes, 3072)) return 0;
        if (r->y[first + i] != recs[rec * i + label_index]) return 0;
    }
    return 1;
}

static void test_cifar(tu_ctx *t)
{
    jp_error e = {0};
    mkdir(P("c10"), 0755);
    mkdir(P("c10/cifar-10-batches-bin"), 0755); /* the folder the tarball unpacks to */
    unsigned char *b[6];
    size_t len[6];
    for (int k = 0; k < 6; k++) {
        char name[128];
        b[k] = cifar_records(k < 5 ? 3 : 4, 1, k * 10, &len[k]);
        if (k < 5) snprintf(name, sizeof name, "c10/cifar-10-batches-bin/data_batch_%d.bin", k + 1);
        else snprintf(name, sizeof name, "c10/cifar-10-batches-bin/test_batch.bin");
        write_bytes(P(name), b[k], len[k]);
    }
    seed_file("fuzz_cifar", "cifar10_3rec", b[0], len[0]);
    const char *meta = "plane\ncar\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n";
    write_bytes(P("c10/cifar-10-batches-bin/batches.meta.txt"), meta, strlen(meta));
    jp_raw_set tr, te;
    jp_status s = jp_cifar_load(&tr, &te, P("c10"), 0, 0, &e);
    tu_check(t, s == JP_OK, "CIFAR-10 read: %s", s ? e.msg : "ok");
    if (s == JP_OK) {
        int ok = tr.n == 15 && te.n == 4 && tr.c == 3 && tr.h == 32 && tr.w == 32;
        for (int k = 0; k < 5; k++) ok = ok && cifar_matches(&tr, 3 * k, b[k], 3, 1, 0);
        ok = ok && cifar_matches(&te, 0, b[5], 4, 1, 0);
        tu_check(t, ok, "CIFAR-10 five batches + test read back exactly (15 + 4 records)");
        tu_check(t, tr.class_names && strcmp(tr.class_names[1], "car") == 0,
                 "CIFAR-10 class names from batches.meta.txt");
        jp_raw_free(&tr);
        jp_raw_free(&te);
    }
    jp_data_config cfg = jp_data_config_defaults();
    cfg.dataset = "cifar10";
    cfg.data_root = P("c10");
    cfg.n_valid = 5;
    jp_data d;
    s = jp_data_open(&d, &cfg, &e);
    tu_check(t, s == JP_OK && d.train.n == 10 && d.valid.n == 5 && d.test.n == 4 && d.flip == 1,
             "jp_data_open cifar10: 10/5/4 with flip on");
    jp_data_close(&d);

    /* CIFAR-100: fine labels by default, coarse on request */
    mkdir(P("c100"), 0755);
    size_t l100, lt100;
    unsigned char *c100 = cifar_records(6, 2, 3, &l100), *t100 = cifar_records(2, 2, 9, &lt100);
    write_bytes(P("c100/train.bin"), c100, l100);
    write_bytes(P("c100/test.bin"), t100, lt100);
    seed_file("fuzz_cifar", "cifar100_6rec", c100, l100);
    s = jp_cifar_load(&tr, &te, P("c100"), 1, 0, &e);
    tu_check(t, s == JP_OK && tr.n_classes == 100 && cifar_matches(&tr, 0, c100, 6, 2, 1) &&
                    cifar_matches(&te, 0, t100, 2, 2, 1) &&
                    strcmp(tr.class_names[99], "worm") == 0,
             "CIFAR-100 fine labels read back exactly (100 classes, built-in names)");
    jp_raw_free(&tr);
    jp_raw_free(&te);
    s = jp_cifar_load(&tr, &te, P("c100"), 1, 1, &e);
    tu_check(t, s == JP_OK && tr.n_classes == 20 && cifar_matches(&tr, 0, c100, 6, 2, 0),
             "CIFAR-100 coarse labels read back exactly (20 classes)");
    jp_raw_free(&tr);
    jp_raw_free(&te);

    /* the test batch alone (CIFAR-10 with its class names file) */
    const char *c10_test[2] = {"cifar-10-batches-bin/test_batch.bin",
                               "cifar-10-batches-bin/batches.meta.txt"};
    copy_files(P("c10"), P("c10_test"), c10_test, 2);
    check_test_only(t, "CIFAR-10", cfg, P("c10"), P("c10_test"), "data_batch_1.bin");
    const char *c100_test[1] = {"test.bin"};
    copy_files(P("c100"), P("c100_test"), c100_test, 1);
    jp_data_config c100cfg = cfg;
    c100cfg.dataset = "cifar100";
    c100cfg.n_valid = 2;
    check_test_only(t, "CIFAR-100", c100cfg, P("c100"), P("c100_test"), "train.bin");
    c100cfg.cifar100_coarse = 1;
    check_test_only(t, "CIFAR-100 coarse", c100cfg, P("c100"), P("c100_test"), "train.bin");
    cfg.data_root = P("c10"); /* P's buffers have been reused since */

    /* bad inputs */
    jp_raw_set r;
    expect_fail(t, "CIFAR truncated record", jp_cifar_parse(&r, b[0], len[0] - 100, "b1", 1, 0, 10, &e),
                JP_ERR_FORMAT, &e, "b1", "not a multiple of the 3073-byte record");
    b[0][3073] = 10;
    expect_fail(t, "CIFAR-10 label 10", jp_cifar_parse(&r, b[0], len[0], "b1", 1, 0, 10, &e),
                JP_ERR_FORMAT, &e, "record 1", "label 10");
    c100[1] = 100;
    expect_fail(t, "CIFAR-100 fine label 100", jp_cifar_parse(&r, c100, l100, "tr", 2, 1, 100, &e),
                JP_ERR_FORMAT, &e, "fine label 100", "expected 0..99");
    expect_fail(t, "CIFAR empty file", jp_cifar_parse(&r, c100, 0, "tr", 2, 1, 100, &e),
                JP_ERR_FORMAT, &e, "empty", NULL);
    remove(P("c10/cifar-10-batches-bin/data_batch_3.bin"));
    expect_fail(t, "CIFAR-10 missing batch 3", jp_data_open(&d, &cfg, &e), JP_ERR_IO, &e,
                "data_batch_3.bin", "cifar-10-batches-bin");
    for (int k = 0; k < 6; k++) free(b[k]);
    free(c100);
    free(t100);
}

/* ---- SVHN / MATLAB v5 ---------------------------------------------------------------- */
static unsigned char *read_file(const char *path, size_t *n)
{
    jp_buf b;
    jp_error e;
    if (jp_file_read_all(&b, path, &e) != JP_OK) {
        fprintf(stderr, "%s\n", e.msg);
        exit(2);
    }
    *n = b.len;
    return b.data;
}

static int svhn_matches(const jp_raw_set *r, int n, const int *labels)
{
    if (r->n != n || r->c != 3 || r->h != 32 || r->w != 32) return 0;
    for (int i = 0; i < n; i++) {
        if (r->y[i] != labels[i]) return 0;
        for (int ch = 0; ch < 3; ch++)
            for (int row = 0; row < 32; row++)
                for (int col = 0; col < 32; col++)
                    if (r->pix[(((size_t)i * 3 + ch) * 32 + row) * 32 + col] !=
                        (unsigned char)((7 * row + 13 * col + 61 * ch + 17 * i) % 256))
                        return 0;
    }
    return 1;
}

static jp_status svhn_parse(jp_raw_set *r, const unsigned char *buf, size_t n, const char *name,
                            jp_error *e)
{
    jp_mat_file m;
    jp_status s = jp_mat_parse(&m, buf, n, name, e);
    if (s != JP_OK) return s;
    s = jp_svhn_from_mat(r, &m, name, e);
    jp_mat_free(&m);
    return s;
}

static uint32_t le32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static void swap4(unsigned char *p)
{
    unsigned char a = p[0], b = p[1];
    p[0] = p[3], p[1] = p[2], p[2] = b, p[3] = a;
}

/* Rewrites an uncompressed little-endian MAT-file whose numeric data is all 8-bit as the
 * big-endian file MATLAB would write on a big-endian machine. */
static void to_big_endian(unsigned char *b, size_t n)
{
    unsigned char t = b[124];
    b[124] = b[125], b[125] = t;
    b[126] = 'M', b[127] = 'I';
    size_t off = 128;
    while (off + 8 <= n) {
        uint32_t nbytes = le32(b + off + 4);
        swap4(b + off);
        swap4(b + off + 4);
        size_t p = off + 8, end = off + 8 + nbytes;
        int sub = 0;
        while (p + 8 <= end) {
            uint32_t w0 = le32(b + p);
            int small = (w0 >> 16) != 0;
            uint32_t type = small ? (w0 & 0xffff) : w0, len = small ? (w0 >> 16) : le32(b + p + 4);
            unsigned char *data = b + p + (small ? 4 : 8);
            if (small) {
                /* the small tag is a 32-bit word holding two 16-bit halves */
                uint32_t sw = (len << 16) | type;
                b[p] = (unsigned char)(sw >> 24), b[p + 1] = (unsigned char)(sw >> 16);
                b[p + 2] = (unsigned char)(sw >> 8), b[p + 3] = (unsigned char)sw;
            } else {
                swap4(b + p);
                swap4(b + p + 4);
            }
            if (sub <= 1 || type == 5 || type == 6) /* flags and dims: 32-bit words */
                for (uint32_t k = 0; k + 4 <= len; k += 4) swap4(data + k);
            p += small ? 8 : (8 + ((len + 7) & ~7u));
            sub++;
        }
        off = end;
    }
}

static void test_svhn(tu_ctx *t)
{
    char path[1024];
    const int labels[5] = {0, 1, 2, 9, 5}; /* y = 10, 1, 2, 9, 5 with 10 meaning 0 */
    const char *good[3] = {"svhn_small.mat", "svhn_small_z.mat", "svhn_small_ydouble.mat"};
    jp_error e = {0};
    for (int k = 0; k < 3; k++) {
        size_t n;
        char rel[256];
        snprintf(rel, sizeof rel, "tests/data/%s", good[k]);
        unsigned char *buf = read_file(tu_src_path(path, sizeof path, rel), &n);
        seed_file("fuzz_mat", good[k], buf, n);
        jp_raw_set r;
        jp_status s = svhn_parse(&r, buf, n, good[k], &e);
        tu_check(t, s == JP_OK && svhn_matches(&r, 5, labels),
                 "SVHN %-24s X (32,32,3,5) column-major -> NCHW, y 10 -> 0: %s", good[k],
                 s ? e.msg : "exact");
        if (s == JP_OK) jp_raw_free(&r);
        if (k == 0) {
            /* the same file byte-swapped to big-endian */
            to_big_endian(buf, n);
            s = svhn_parse(&r, buf, n, "big-endian", &e);
            tu_check(t, s == JP_OK && svhn_matches(&r, 5, labels), "SVHN big-endian MAT-file: %s",
                     s ? e.msg : "exact");
            if (s == JP_OK) jp_raw_free(&r);
            seed_file("fuzz_mat", "svhn_small_be.mat", buf, n);
            /* truncations of the file */
            expect_fail(t, "MAT header only", svhn_parse(&r, buf, 100, "cut", &e), JP_ERR_FORMAT, &e,
                        "cut", "128");
            expect_fail(t, "MAT cut inside X", svhn_parse(&r, buf, n / 2, "cut", &e), JP_ERR_FORMAT,
                        &e, "cut", "declares");
            unsigned char v73[200];
            memset(v73, ' ', sizeof v73);
            memcpy(v73, "MATLAB 7.3 MAT-file, Platform: GLNXA64", 38);
            expect_fail(t, "MAT v7.3 (HDF5)", svhn_parse(&r, v73, sizeof v73, "v73", &e),
                        JP_ERR_FORMAT, &e, "v7.3", "not supported");
            memcpy(v73, "MATLAB 5.0 MAT-file", 19);
            expect_fail(t, "MAT bad endian indicator", svhn_parse(&r, v73, sizeof v73, "noend", &e),
                        JP_ERR_FORMAT, &e, "endian indicator", "expected 'IM'");
        }
        if (k == 1) {
            /* corrupt the zlib stream of the compressed file */
            unsigned char *c = malloc(n);
            memcpy(c, buf, n);
            for (size_t p = 128 + 8 + 20; p < n && p < 128 + 8 + 60; p++) c[p] ^= 0x5a;
            expect_fail(t, "MAT corrupt miCOMPRESSED", svhn_parse(&r, c, n, "zcorrupt", &e),
                        JP_ERR_FORMAT, &e, "zcorrupt", "compressed");
            expect_fail(t, "MAT cut miCOMPRESSED", svhn_parse(&r, buf, n - 40, "zcut", &e),
                        JP_ERR_FORMAT, &e, "zcut", "truncated");
            free(c);
        }
        free(buf);
    }
    struct {
        const char *file, *f1, *f2;
        jp_status code;
    } bad[] = {{"svhn_bad_xdouble.mat", "variable X is double", "expected uint8", JP_ERR_FORMAT},
               {"svhn_bad_shape.mat", "shape (32, 32, 1, 2)", "expected (32, 32, 3, N)", JP_ERR_SHAPE},
               {"svhn_bad_label.mat", "y[1] = 11", "1..10", JP_ERR_FORMAT},
               {"svhn_bad_noy.mat", "no variable 'y'", "found: X", JP_ERR_FORMAT}};
    for (int k = 0; k < 4; k++) {
        char rel[256];
        size_t n;
        snprintf(rel, sizeof rel, "tests/data/%s", bad[k].file);
        unsigned char *buf = read_file(tu_src_path(path, sizeof path, rel), &n);
        jp_raw_set r;
        expect_fail(t, bad[k].file, svhn_parse(&r, buf, n, bad[k].file, &e), bad[k].code, &e,
                    bad[k].f1, bad[k].f2);
        free(buf);
    }
    /* jp_data_open svhn: train_32x32.mat (plain) + test_32x32.mat (compressed) */
    mkdir(P("svhn"), 0755);
    size_t n1, n2;
    unsigned char *a = read_file(tu_src_path(path, sizeof path, "tests/data/svhn_small.mat"), &n1);
    unsigned char *z = read_file(tu_src_path(path, sizeof path, "tests/data/svhn_small_z.mat"), &n2);
    write_bytes(P("svhn/train_32x32.mat"), a, n1);
    write_bytes(P("svhn/test_32x32.mat"), z, n2);
    jp_data_config cfg = jp_data_config_defaults();
    cfg.dataset = "svhn";
    cfg.data_root = P("svhn");
    cfg.n_valid = 1;
    jp_data d;
    jp_status s = jp_data_open(&d, &cfg, &e);
    tu_check(t, s == JP_OK && d.train.n == 4 && d.valid.n == 1 && d.test.n == 5 && d.flip == 0 &&
                    d.test.y[0] == 0,
             "jp_data_open svhn: 4/1/5, flip off, label 10 -> 0: %s", s ? e.msg : "ok");
    jp_data_close(&d);
    cfg.svhn_extra = 1;
    expect_fail(t, "SVHN extra missing", jp_data_open(&d, &cfg, &e), JP_ERR_IO, &e,
                "extra_32x32.mat", P("svhn"));
    write_bytes(P("svhn/extra_32x32.mat"), z, n2);
    s = jp_data_open(&d, &cfg, &e);
    tu_check(t, s == JP_OK && d.train.n == 9, "SVHN with extra: 5 + 5 - 1 training images");
    jp_data_close(&d);
    /* test_32x32.mat alone: neither train_32x32.mat nor extra_32x32.mat is needed */
    const char *svhn_test[1] = {"test_32x32.mat"};
    copy_files(P("svhn"), P("svhn_test"), svhn_test, 1);
    check_test_only(t, "SVHN with extra", cfg, P("svhn"), P("svhn_test"), "train_32x32.mat");
    free(a);
    free(z);
}

/* An SVHN file of n images in MATLAB v7.3 (HDF5) form, written with libmatio: X uint8
 * (32, 32, 3, n) with svhn_matches' pattern, y double (n, 1) = labels (0 written as 10).
 * 0 when this libmatio cannot write v7.3 (built without HDF5). */
static int write_svhn_v73(const char *path, int n, const int *labels)
{
    mat_t *mat = Mat_CreateVer(path, NULL, MAT_FT_MAT73);
    if (!mat) return 0;
    unsigned char *x = malloc((size_t)n * 3072);
    double *y = malloc((size_t)n * sizeof(double));
    for (int i = 0; i < n; i++) {
        y[i] = labels[i] ? labels[i] : 10;
        for (int ch = 0; ch < 3; ch++)
            for (int row = 0; row < 32; row++)
                for (int col = 0; col < 32; col++) /* column-major: row fastest */
                    x[(size_t)i * 3072 + ch * 1024 + col * 32 + row] = (unsigned char)((7 * row + 13 * col + 61 * ch + 17 * i) % 256);
    }
    size_t dx[4] = {32, 32, 3, (size_t)n}, dy[2] = {(size_t)n, 1};
    matvar_t *vx = Mat_VarCreate("X", MAT_C_UINT8, MAT_T_UINT8, 4, dx, x, 0);
    matvar_t *vy = Mat_VarCreate("y", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, dy, y, 0);
    int ok = vx && vy && Mat_VarWrite(mat, vx, MAT_COMPRESSION_NONE) == 0 &&
             Mat_VarWrite(mat, vy, MAT_COMPRESSION_NONE) == 0;
    if (vx) Mat_VarFree(vx);
    if (vy) Mat_VarFree(vy);
    Mat_Close(mat);
    free(x);
    free(y);
    return ok;
}

/* MATLAB v7.3 SVHN files (what newer MATLAB saves by default) through libmatio */
static void test_svhn_v73(tu_ctx *t)
{
    const int labels[5] = {0, 1, 2, 9, 5};
    mkdir(P("svhn73"), 0755);
    if (!write_svhn_v73(P("svhn73/train_32x32.mat"), 5, labels) ||
        !write_svhn_v73(P("svhn73/test_32x32.mat"), 3, labels)) {
        tu_check(t, 0, "libmatio writes a v7.3 MAT-file (needs its HDF5 support)");
        return;
    }
    size_t n;
    unsigned char *head = read_file(P("svhn73/train_32x32.mat"), &n);
    tu_check(t, jp_mat_is_v73(head, n), "the file written is a v7.3 (HDF5) MAT-file");
    free(head);
    jp_raw_set tr, te;
    jp_error e = {0};
    jp_status s = jp_svhn_load(&tr, &te, P("svhn73"), 0, &e);
    tu_check(t, s == JP_OK && svhn_matches(&tr, 5, labels) && svhn_matches(&te, 3, labels),
             "SVHN v7.3 through libmatio: pixels and labels exact (%s)", s ? e.msg : "ok");
    if (s == JP_OK) jp_raw_free(&tr), jp_raw_free(&te);
    /* a v7.3 header over garbage: refused naming the file */
    unsigned char bad[1024];
    memset(bad, 0, sizeof bad);
    memcpy(bad, "MATLAB 7.3 MAT-file, Platform: GLNXA64", 38);
    write_bytes(P("svhn73/train_32x32.mat"), bad, sizeof bad);
    expect_fail(t, "SVHN v7.3 header over garbage", jp_svhn_load(&tr, &te, P("svhn73"), 0, &e), JP_ERR_FORMAT, &e,
                "train_32x32.mat", "v7.3");
    /* the test set alone (no training set asked for) never opens that training file */
    s = jp_svhn_load(NULL, &te, P("svhn73"), 1, &e);
    tu_check(t, s == JP_OK && svhn_matches(&te, 3, labels),
             "SVHN v7.3 test file alone, the broken training file not read: %s", s ? e.msg : "ok");
    if (s == JP_OK) jp_raw_free(&te);
}

/* ---- image folder ------------------------------------------------------------------- */
static void png_pattern(unsigned char *p, int w, int h, int ch, int seed)
{
    for (int i = 0; i < w * h * ch; i++) p[i] = (unsigned char)((i * 29 + seed * 53) % 256);
}

static void test_folder(tu_ctx *t)
{
    jp_error e = {0};
    const char *cls[3] = {"zebra", "ant", "mole"}; /* sorted: ant, mole, zebra */
    unsigned char px[6 * 5 * 4];
    mkdir(P("imgs"), 0755);
    mkdir(P("imgs/train"), 0755);
    mkdir(P("imgs/test"), 0755);
    for (int split = 0; split < 2; split++)
        for (int k = 0; k < 3; k++) {
            char dir[256];
            snprintf(dir, sizeof dir, "imgs/%s/%s", split ? "test" : "train", cls[k]);
            mkdir(P(dir), 0755);
            for (int i = 0; i < 2 + split; i++) {
                char f[300];
                snprintf(f, sizeof f, "%s/img%d.png", dir, i);
                /* one RGBA image: alpha is dropped */
                int ch = (k == 1 && i == 1) ? 4 : 3;
                png_pattern(px, 6, 5, ch, k * 10 + i + split * 100);
                if (jp_png_write_rgb(P(f), px, 6, 5, ch, &e) != JP_OK) {
                    fprintf(stderr, "%s\n", e.msg);
                    exit(2);
                }
            }
        }
    write_bytes(P("imgs/train/ant/notes.txt"), "x", 1); /* not a .png: ignored */
    jp_raw_set tr, te;
    jp_status s = jp_folder_load(&tr, &te, P("imgs"), &e);
    tu_check(t, s == JP_OK, "image folder read: %s", s ? e.msg : "ok");
    if (s == JP_OK) {
        int ok = tr.n == 6 && te.n == 9 && tr.c == 3 && tr.h == 5 && tr.w == 6 && tr.n_classes == 3;
        ok = ok && strcmp(tr.class_names[0], "ant") == 0 && strcmp(tr.class_names[2], "zebra") == 0;
        /* train image 1 = ant/img1.png (RGBA), label 0 */
        int k = 1, i = 1;
        png_pattern(px, 6, 5, 4, k * 10 + i);
        for (int p = 0; p < 30; p++)
            for (int c = 0; c < 3; c++) ok = ok && tr.pix[30 * 3 * 1 + c * 30 + p] == px[p * 4 + c];
        ok = ok && tr.y[0] == 0 && tr.y[1] == 0 && tr.y[2] == 1 && tr.y[4] == 2;
        /* train image 4 = zebra/img0.png (RGB), label 2 */
        png_pattern(px, 6, 5, 3, 0 * 10 + 0);
        for (int p = 0; p < 30; p++)
            for (int c = 0; c < 3; c++) ok = ok && tr.pix[30 * 3 * 4 + c * 30 + p] == px[p * 3 + c];
        tu_check(t, ok, "image folder: sorted class names as labels, pixels HWC -> CHW exactly");
        jp_raw_free(&tr);
        jp_raw_free(&te);
    }
    png_pattern(px, 6, 5, 3, 1);
    jp_png_write_rgb(P("imgs/test/mole/seed.png"), px, 6, 5, 3, &e);
    {
        size_t n;
        unsigned char *b = read_file(P("imgs/test/mole/seed.png"), &n);
        seed_file("fuzz_png", "rgb_6x5.png", b, n);
        free(b);
        b = read_file(P("imgs/train/mole/img1.png"), &n);
        seed_file("fuzz_png", "rgba_6x5.png", b, n);
        free(b);
    }
    remove(P("imgs/test/mole/seed.png"));
    jp_data_config cfg = jp_data_config_defaults();
    cfg.dataset = "folder";
    cfg.data_root = P("imgs");
    cfg.n_valid = 1;
    cfg.pad = 2;
    jp_data d;
    s = jp_data_open(&d, &cfg, &e);
    tu_check(t, s == JP_OK && d.train.n == 5 && d.test.n == 9 && d.flip == 1,
             "jp_data_open folder: 5/1/9: %s", s ? e.msg : "ok");
    jp_data_close(&d);
    /* test/ alone */
    char rel[9][64];
    const char *test_files[9];
    for (int k = 0; k < 9; k++) {
        snprintf(rel[k], sizeof rel[k], "test/%s/img%d.png", cls[k / 3], k % 3);
        test_files[k] = rel[k];
    }
    copy_files(P("imgs"), P("imgs_test"), test_files, 9);
    check_test_only(t, "folder", cfg, P("imgs"), P("imgs_test"), "no training folder");
    mkdir(P("imgs_notest"), 0755);
    mkdir(P("imgs_notest/train"), 0755);
    cfg.data_root = P("imgs_notest");
    cfg.test_only = 1;
    expect_fail(t, "folder: test_only without test/", jp_data_open(&d, &cfg, &e), JP_ERR_IO, &e,
                "test set is empty", P("imgs_notest/test"));
    /* bad inputs */
    jp_png_write_rgb(P("imgs/train/mole/big.png"), px, 5, 5, 3, &e);
    expect_fail(t, "folder: image of another size", jp_folder_load(&tr, &te, P("imgs"), &e),
                JP_ERR_SHAPE, &e, "big.png", "is 5x5 with 3 channels, expected 6x5");
    remove(P("imgs/train/mole/big.png"));
    jp_png_write_rgb(P("imgs/train/mole/gray.png"), px, 6, 5, 1, &e);
    expect_fail(t, "folder: gray among RGB", jp_folder_load(&tr, &te, P("imgs"), &e),
                JP_ERR_SHAPE, &e, "gray.png", "1 channel, expected 6x5 with 3 channels");
    remove(P("imgs/train/mole/gray.png"));
    write_bytes(P("imgs/train/mole/fake.png"), "GIF89a....", 10);
    expect_fail(t, "folder: not a PNG", jp_folder_load(&tr, &te, P("imgs"), &e), JP_ERR_FORMAT,
                &e, "fake.png", "not a PNG");
    remove(P("imgs/train/mole/fake.png"));
    mkdir(P("imgs/test/owl"), 0755);
    expect_fail(t, "folder: test classes differ", jp_folder_load(&tr, &te, P("imgs"), &e),
                JP_ERR_FORMAT, &e, "differ from the training classes", "owl");
    mkdir(P("imgs/train/owl"), 0755);
    expect_fail(t, "folder: empty class folder", jp_folder_load(&tr, &te, P("imgs"), &e),
                JP_ERR_FORMAT, &e, "owl", "no .png files");
    expect_fail(t, "folder missing", jp_folder_load(&tr, &te, P("none"), &e), JP_ERR_IO, &e,
                P("none"), "<class>");
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0) seed_dir = argv[2];
    tu_ctx t;
    tu_begin(&t, "test_data_formats");
    tu_tmpdir(tmp, sizeof tmp, "data-formats");
    test_idx(&t);
    test_cifar(&t);
    test_svhn(&t);
    test_svhn_v73(&t);
    test_folder(&t);
    return tu_finish(&t);
}
