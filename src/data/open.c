/* Opening a data set: defaults, reading the files (all of them, or only the test
 * set's with test_only), the reference's seeded validation split, the balanced
 * labelled subset, conversion to floats in [-1, 1]. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "data/readers.h"

#define FASHION_ROOT "/usr/share/datasets/fashion-mnist"

jp_data_config jp_data_config_defaults(void)
{
    jp_data_config c;
    memset(&c, 0, sizeof c);
    c.dataset = "fashionmnist";
    c.data_root = NULL;
    c.n_valid = 5000;
    c.labels_per_class = -1;
    c.seed = 1;
    c.split_seed = 1234;
    c.flip = -1;
    c.pad = 4;
    c.sigma = 0.03f;
    c.cifar100_coarse = 0;
    c.svhn_extra = 0;
    c.test_only = 0;
    return c;
}

typedef enum { DS_FASHION, DS_MNIST, DS_CIFAR10, DS_CIFAR100, DS_SVHN, DS_FOLDER } ds_kind;

static int parse_kind(const char *name, ds_kind *k, const char **canon)
{
    static const struct {
        const char *alias;
        ds_kind kind;
        const char *canon;
    } table[] = {{"fashionmnist", DS_FASHION, "fashionmnist"},
                 {"fashion-mnist", DS_FASHION, "fashionmnist"},
                 {"fashion_mnist", DS_FASHION, "fashionmnist"},
                 {"fashion", DS_FASHION, "fashionmnist"},
                 {"mnist", DS_MNIST, "mnist"},
                 {"cifar10", DS_CIFAR10, "cifar10"},
                 {"cifar-10", DS_CIFAR10, "cifar10"},
                 {"cifar100", DS_CIFAR100, "cifar100"},
                 {"cifar-100", DS_CIFAR100, "cifar100"},
                 {"svhn", DS_SVHN, "svhn"},
                 {"folder", DS_FOLDER, "folder"}};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcasecmp(name, table[i].alias) == 0) {
            *k = table[i].kind;
            *canon = table[i].canon;
            return 1;
        }
    return 0;
}

int jp_data_image_size(const char *dataset)
{
    ds_kind k;
    const char *canon;
    if (!dataset || !parse_kind(dataset, &k, &canon)) return 0;
    return k == DS_FASHION || k == DS_MNIST ? 28 : k == DS_FOLDER ? 0 : 32;
}

void jp_data_close(jp_data *d)
{
    if (!d) return;
    jp_dataset_free(&d->train);
    jp_dataset_free(&d->valid);
    jp_dataset_free(&d->test);
    free(d->labeled_idx);
    free(d->unlabeled_idx);
    memset(d, 0, sizeof *d);
}

/* With k = labels_per_class > 0: per class c, the first k training images of class c
 * (train order) are labelled, the rest not; lists are class by class as the
 * reference builds them. With k < 0 every image is labelled. */
static jp_status labelled_subset(jp_data *d, int k, jp_error *err)
{
    int n = d->train.n, nc = d->train.n_classes;
    d->labeled_idx = malloc((size_t)(n ? n : 1) * sizeof(int));
    d->unlabeled_idx = malloc((size_t)(n ? n : 1) * sizeof(int));
    if (!d->labeled_idx || !d->unlabeled_idx)
        return jp_fail(err, JP_ERR_NOMEM, "cannot allocate the labelled subset");
    if (k < 0) {
        for (int i = 0; i < n; i++) d->labeled_idx[i] = i;
        d->n_labeled = n;
        d->n_unlabeled = 0;
        return JP_OK;
    }
    int *counts = calloc((size_t)nc, sizeof(int));
    if (!counts) return jp_fail(err, JP_ERR_NOMEM, "cannot allocate class counts");
    jp_dataset_class_counts(&d->train, counts);
    for (int c = 0; c < nc; c++)
        if (counts[c] < k) {
            int have = counts[c];
            free(counts);
            return jp_fail(err, JP_ERR_ARG, "--labels_per_class %d: class %d (%s) has only %d "
                           "training images after the validation split", k, c,
                           d->train.class_names ? d->train.class_names[c] : "?", have);
        }
    free(counts);
    int nl = 0, nu = 0;
    for (int c = 0; c < nc; c++) {
        int taken = 0;
        for (int i = 0; i < n; i++) {
            if (d->train.y[i] != c) continue;
            if (taken < k) d->labeled_idx[nl++] = i, taken++;
            else d->unlabeled_idx[nu++] = i;
        }
    }
    d->n_labeled = nl;
    d->n_unlabeled = nu;
    return JP_OK;
}

/* An empty raw set (n == 0) with the shape, classes and class names of `like`. */
static jp_status empty_like(jp_raw_set *r, const jp_raw_set *like, jp_error *err)
{
    jp_status s = jp_raw_alloc(r, 0, like->c, like->h, like->w, like->n_classes, err);
    if (s == JP_OK)
        s = jp_raw_set_names(r, (const char *const *)like->class_names, like->n_classes, err);
    if (s != JP_OK) jp_raw_free(r);
    return s;
}

/* Reads the official files of data set `kind` under root into tr (training) and te
 * (test). With cfg->test_only the loaders get no training set to fill, so they never
 * look for the training files, and tr becomes an empty set shaped like te: the split
 * and the checks after it then need no special case. On error both are freed. */
static jp_status read_sets(jp_raw_set *tr, jp_raw_set *te, ds_kind kind,
                           const jp_data_config *cfg, const char *root, jp_error *err)
{
    memset(tr, 0, sizeof *tr);
    jp_raw_set *want_tr = cfg->test_only ? NULL : tr;
    jp_status s;
    switch (kind) {
    case DS_FASHION: s = jp_mnist_load(want_tr, te, root, 1, err); break;
    case DS_MNIST: s = jp_mnist_load(want_tr, te, root, 0, err); break;
    case DS_CIFAR10: s = jp_cifar_load(want_tr, te, root, 0, 0, err); break;
    case DS_CIFAR100: s = jp_cifar_load(want_tr, te, root, 1, cfg->cifar100_coarse, err); break;
    case DS_SVHN: s = jp_svhn_load(want_tr, te, root, cfg->svhn_extra, err); break;
    default: s = jp_folder_load(want_tr, te, root, err); break;
    }
    if (s != JP_OK || !cfg->test_only) return s;
    s = empty_like(tr, te, err);
    if (s != JP_OK) jp_raw_free(te);
    return s;
}

/* valid = the first n_valid images of numpy's seeded shuffle of tr, train = the rest
 * in shuffled order, test = te unshuffled; the sets are named "<canon>/<split>". */
static jp_status split_sets(jp_data *d, const jp_raw_set *tr, const jp_raw_set *te, int n_valid,
                            uint32_t split_seed, const char *canon, jp_error *err)
{
    int *perm = malloc((size_t)(tr->n ? tr->n : 1) * sizeof(int));
    if (!perm) return jp_fail(err, JP_ERR_NOMEM, "cannot allocate the split permutation");
    jp_np_shuffle_perm(perm, tr->n, split_seed);
    char name[JP_DATA_NAME_MAX];
    snprintf(name, sizeof name, "%s/valid", canon);
    jp_status s = jp_raw_to_dataset(&d->valid, tr, perm, n_valid, name, err);
    if (s == JP_OK) {
        snprintf(name, sizeof name, "%s/train", canon);
        s = jp_raw_to_dataset(&d->train, tr, perm + n_valid, tr->n - n_valid, name, err);
    }
    free(perm);
    if (s == JP_OK) {
        snprintf(name, sizeof name, "%s/test", canon);
        s = jp_raw_to_dataset(&d->test, te, NULL, 0, name, err);
    }
    return s;
}

jp_status jp_data_open(jp_data *d, const jp_data_config *cfg_in, jp_error *err)
{
    memset(d, 0, sizeof *d);
    jp_data_config cfg = cfg_in ? *cfg_in : jp_data_config_defaults();
    if (!cfg.dataset) cfg.dataset = "fashionmnist";
    ds_kind kind;
    const char *canon;
    if (!parse_kind(cfg.dataset, &kind, &canon))
        return jp_fail(err, JP_ERR_ARG, "unknown data set '%s': expected fashionmnist, mnist, "
                       "cifar10, cifar100, svhn or folder", cfg.dataset);
    if (cfg.n_valid < 0)
        return jp_fail(err, JP_ERR_ARG, "--n_valid %d: must be >= 0", cfg.n_valid);
    if (cfg.labels_per_class == 0 || cfg.labels_per_class < -1)
        return jp_fail(err, JP_ERR_ARG, "--labels_per_class %d: must be -1 (all) or > 0",
                       cfg.labels_per_class);
    if (cfg.pad < 0 || !(cfg.sigma >= 0))
        return jp_fail(err, JP_ERR_ARG, "augmentation pad %d / sigma %g: must be >= 0", cfg.pad,
                       (double)cfg.sigma);
    if (cfg.split_seed > 0xffffffffull)
        return jp_fail(err, JP_ERR_ARG, "split seed %llu: must be below 2^32 (numpy's limit)",
                       (unsigned long long)cfg.split_seed);
    if (cfg.test_only) {
        /* no training images: nothing to split off or label */
        cfg.n_valid = 0;
        cfg.labels_per_class = -1;
    }
    snprintf(d->dataset, sizeof d->dataset, "%s", canon);
    if (cfg.data_root)
        snprintf(d->root, sizeof d->root, "%s", cfg.data_root);
    else if (kind == DS_FASHION)
        snprintf(d->root, sizeof d->root, "%s", FASHION_ROOT);
    else
        snprintf(d->root, sizeof d->root, "./data/%s", canon);

    jp_raw_set tr, te;
    jp_status s = read_sets(&tr, &te, kind, &cfg, d->root, err);
    if (s != JP_OK) return s;
    if (!cfg.test_only && cfg.n_valid >= tr.n) {
        s = jp_fail(err, JP_ERR_ARG, "--n_valid %d leaves no training images: %s holds %d "
                    "training images", cfg.n_valid, d->root, tr.n);
        goto fail;
    }
    s = split_sets(d, &tr, &te, cfg.n_valid, (uint32_t)cfg.split_seed, canon, err);
    if (s == JP_OK) s = labelled_subset(d, cfg.labels_per_class, err);
    if (s != JP_OK) goto fail;
    d->flip = cfg.flip >= 0 ? (cfg.flip != 0) : !(kind == DS_MNIST || kind == DS_SVHN);
    d->pad = cfg.pad;
    d->sigma = cfg.sigma;
    d->seed = cfg.seed;
    if (d->pad >= d->train.h || d->pad >= d->train.w) {
        s = jp_fail(err, JP_ERR_ARG, "pad %d must be smaller than the %dx%d images", d->pad,
                    d->train.w, d->train.h);
        goto fail;
    }
    jp_raw_free(&tr);
    jp_raw_free(&te);
    return JP_OK;
fail:
    jp_raw_free(&tr);
    jp_raw_free(&te);
    jp_data_close(d);
    return s;
}
