/* The data pipeline: data sets read from their official distribution formats
 * (IDX for MNIST/Fashion-MNIST, CIFAR-10/100 binary, SVHN MATLAB v5, a folder of
 * PNGs), the reference's seeded train/validation split and labelled subset,
 * augmentation (reflect-pad + random crop, horizontal flip, Gaussian noise), a
 * batch loader that prepares batches on a background thread, and the per-class
 * Gaussian statistics of JEM++'s informative initialisation.
 *
 * Images are float32 NCHW in [-1, 1]: x = (pixel / 255 - 0.5) / 0.5. */
#ifndef JEMPP_DATA_H
#define JEMPP_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "jempp/core.h"

/* ---- data sets ---------------------------------------------------------- */
#define JP_DATA_NAME_MAX 64

typedef struct {
    char name[JP_DATA_NAME_MAX]; /* e.g. "cifar10/train" */
    float *x;                    /* (n, c, h, w) in [-1, 1]; NULL when n == 0 */
    int *y;                      /* (n) labels in [0, n_classes) */
    int n, c, h, w;
    int n_classes;
    char **class_names; /* (n_classes) strings, or NULL */
} jp_dataset;

size_t jp_dataset_dim(const jp_dataset *ds); /* c*h*w */
/* Image i: (c, h, w). */
const float *jp_dataset_image(const jp_dataset *ds, int i);
/* Frees what the data set owns and zeroes it; safe on a zeroed struct. */
void jp_dataset_free(jp_dataset *ds);
/* Copies images idx[0..n) of src (each must be in range, checked) into a new data set
 * named `name`, class names included. */
jp_status jp_dataset_subset(jp_dataset *out, const jp_dataset *src, const int *idx, int n,
                            const char *name, jp_error *err);
/* counts[k] = number of images of class k, k < n_classes. */
void jp_dataset_class_counts(const jp_dataset *ds, int *counts /* (n_classes) */);
/* Per-channel mean and population standard deviation of the stored values (in
 * [-1, 1] units), accumulated in double. */
void jp_dataset_channel_stats(const jp_dataset *ds, double *mean /* (c) */,
                              double *std /* (c) */);
/* A 64-bit hash of shape, labels and image bytes: equal data sets hash equal, and
 * any changed value changes it (with overwhelming probability). ~0.1 s per GB. */
uint64_t jp_dataset_hash(const jp_dataset *ds);

/* ---- opening a data set: splits and labelled subset ------------------- */
typedef struct {
    const char *dataset;   /* "fashionmnist" (default), "mnist", "cifar10", "cifar100",
                              "svhn", "folder" */
    const char *data_root; /* NULL: /usr/share/datasets/fashion-mnist for fashionmnist,
                              ./data/<dataset> otherwise */
    int n_valid;           /* 5000: validation images taken from the shuffled training set */
    int labels_per_class;  /* -1: every training image labelled; k > 0: k per class */
    uint64_t seed;         /* seed of the loader streams (shuffles, augmentation) */
    uint64_t split_seed;   /* 1234: seed of the validation split shuffle; the shuffle is
                              numpy's np.random.seed(s); np.random.shuffle(range(n)), so
                              the split is the reference's own */
    int flip;              /* -1: data-set default (off for mnist and svhn), 0 off, 1 on */
    int pad;               /* 4: reflect-pad then random crop back; 0: off */
    float sigma;           /* 0.03: std of the Gaussian noise added to training images */
    int cifar100_coarse;   /* 0: the 100 fine labels, 1: the 20 coarse ones */
    int svhn_extra;        /* 1: append extra_32x32.mat to the SVHN training images */
    int test_only;         /* 0: read the training and the test files; 1: only the official
                              test set's files (evaluating it needs nothing else): train and
                              valid come back empty, and n_valid, labels_per_class,
                              svhn_extra are not used */
} jp_data_config;

/* The defaults listed above. */
jp_data_config jp_data_config_defaults(void);
/* The image size (height = width) of a built-in data set by any name jp_data_open
 * accepts: 28 for Fashion-MNIST and MNIST, 32 for CIFAR-10/100 and SVHN; 0 for a folder
 * (its files tell) or an unknown name. */
int jp_data_image_size(const char *dataset);

typedef struct {
    jp_dataset train; /* training images in the split's shuffled order (n == 0 with
                         test_only) */
    jp_dataset valid; /* n_valid images (n == 0 when n_valid == 0 or test_only) */
    jp_dataset test;  /* the official test set (n == 0 for a folder without test/) */
    /* The labelled subset, as indices into train: with labels_per_class = k the first
     * k images of each class in train order, class by class (as the reference); with
     * -1, 0..train.n-1. unlabeled_idx holds the other indices (empty with -1). */
    int *labeled_idx;
    int n_labeled;
    int *unlabeled_idx;
    int n_unlabeled;
    char dataset[32];  /* canonical data-set name */
    char root[512];    /* folder the files were read from */
    int flip, pad;     /* resolved augmentation */
    float sigma;
    uint64_t seed;
} jp_data;

/* Reads the data set named by cfg from its files and splits it. Guarantees: on
 * JP_OK every label is in [0, n_classes), the three sets share shape and classes,
 * valid is the first n_valid images of the seeded shuffle of the official training
 * set and train the rest, test is the official test set unshuffled. With
 * cfg->test_only only the test files are read (the training files need not exist):
 * train and valid are empty (n == 0) with the test set's shape, classes and class
 * names, test is the same as without it; a folder data set then needs root/test. On
 * error nothing is allocated and err names the file, where it looked and what was
 * expected vs found (a missing Fashion-MNIST also names the Debian package that
 * provides it). */
jp_status jp_data_open(jp_data *d, const jp_data_config *cfg, jp_error *err);
void jp_data_close(jp_data *d);

/* The numpy-compatible permutation used for the split: perm = range(n) shuffled as
 * np.random.seed(seed); np.random.shuffle(perm) (legacy MT19937, seed < 2^32). */
void jp_np_shuffle_perm(int *perm /* (n) */, int n, uint32_t seed);

/* ---- augmentation -------------------------------------------------------- */
/* One training transform, as the reference and in its order: reflect-pad by `pad`
 * then a random crop back to h x w (offsets uniform on [0, 2 pad]), a horizontal
 * flip with probability 1/2 when `flip`, then + sigma * N(0, 1) on every value.
 * Draws from rng in that order: top offset, left offset (when pad > 0), flip coin
 * (when flip), the c*h*w normals in NCHW order (when sigma > 0; ziggurat method).
 * Requires pad < h and pad < w. */
void jp_augment_image(float *out /* (c,h,w) */, const float *in /* (c,h,w) */, int c, int h,
                      int w, int pad, int flip, float sigma, jp_rng *rng);

/* ---- batch loader --------------------------------------------------------- */
typedef struct {
    int batch_size;
    int shuffle;   /* 1: a new permutation every epoch; 0: index order */
    int drop_last; /* 1: drop the last partial batch of each epoch */
    int pad;       /* reflect-pad + random crop; 0: none */
    int flip;      /* random horizontal flip */
    float sigma;   /* Gaussian noise std; 0: none */
    uint64_t seed; /* stream seed: the permutation of epoch e and the augmentation of
                      the image at position p of epoch e are functions of (seed, e, p) */
    int prefetch;  /* batches prepared ahead on a background thread (default 4) that
                      runs at nice 19 so as not to preempt the training step; 0: prepared
                      synchronously inside jp_loader_next */
} jp_loader_config;

/* A training stream over d->train: shuffled, drop_last, the data set's augmentation,
 * seed derived from (d->seed, stream). Use stream 0 for the p(x) batches and stream 1
 * for the labelled batches: the two are independent. */
jp_loader_config jp_loader_config_train(const jp_data *d, int batch_size, uint64_t stream);
/* Evaluation: index order, no augmentation or noise, last partial batch kept. */
jp_loader_config jp_loader_config_eval(int batch_size);

typedef struct jp_loader jp_loader;

/* Creates a loader over images idx[0..n_idx) of ds (idx NULL: all of ds; the list is
 * copied; ds must outlive the loader). All memory is taken here: no allocation per
 * batch. Errors: an empty index list, an index out of range, batch_size < 1, fewer
 * images than one batch with drop_last, pad >= h or w. */
jp_status jp_loader_init(jp_loader **out, const jp_dataset *ds, const int *idx, int n_idx,
                         const jp_loader_config *cfg, jp_error *err);
/* Copies the next batch into x (B, C, H, W) and y (B) (y may be NULL) and returns the
 * number of images in it (batch_size, or fewer for the last batch of an epoch when
 * drop_last is 0). After an epoch's last batch comes batch 0 of the next epoch. The
 * content of batch b of epoch e depends only on (seed, e, b): never on thread timing,
 * prefetch depth or what was asked before. */
int jp_loader_next(jp_loader *l, float *x, int *y);
int jp_loader_batches_per_epoch(const jp_loader *l);
/* Position of the batch the next jp_loader_next returns: save it with a checkpoint. */
void jp_loader_tell(const jp_loader *l, int64_t *epoch, int64_t *batch);
/* Moves to (epoch, batch) (batch < batches per epoch): the following batches are
 * exactly those an uninterrupted loader would have produced from there. */
void jp_loader_seek(jp_loader *l, int64_t epoch, int64_t batch);
/* Stops the background thread and frees everything; NULL is fine. */
void jp_loader_free(jp_loader *l);

/* ---- informative initialisation: class-conditional Gaussians ----------- */
typedef struct {
    int n_classes, dim; /* K, D = c*h*w */
    int c, h, w;
    float eps;          /* 1e-4: the ridge added before the Cholesky factorisation */
    float *mean;        /* (K, D) per-class mean */
    float *chol;        /* (K, D, D) row-major lower L, L L^T = Sigma + eps I, upper zero */
    float *prior;       /* (K) class frequencies */
    int64_t *count;     /* (K) images per class */
    double *cov;        /* (K, D, D) Sigma = (X-mu)^T (X-mu) / n when asked (keep_cov),
                           else NULL */
    uint64_t data_hash; /* jp_dataset_hash of the data they were computed from */
    int from_cache;     /* set by jp_gauss_stats_load_or_compute */
    char cache_note[600]; /* why the cache was not used or not written ("" if it was) */
} jp_gauss_stats;

/* Per class y over every image of ds (as stored: no augmentation or noise): the mean
 * (accumulated in double), Sigma_y = (X - mu)^T (X - mu) / n_y (BLAS ssyrk on the
 * double-centred data in blocks of rows, blocks summed in double), the Cholesky
 * factor of Sigma_y + eps I (LAPACK dpotrf, double), and pi_y = n_y / n. A class
 * without images gets mean 0, L = sqrt(eps) I and prior 0. keep_cov also keeps
 * Sigma in s->cov (K*D*D doubles). */
jp_status jp_gauss_stats_compute(jp_gauss_stats *s, const jp_dataset *ds, int keep_cov,
                                 jp_error *err);
/* Cache file (safetensors: mean, chol, prior, count; metadata data_hash, eps, shape). */
jp_status jp_gauss_stats_save(const jp_gauss_stats *s, const char *path, jp_error *err);
/* Loads a cache file, checking kind, shapes and, when expect_hash != 0, the hash. */
jp_status jp_gauss_stats_load(jp_gauss_stats *s, const char *path, uint64_t expect_hash,
                              jp_error *err);
/* Loads the statistics of ds from cache_path when that file holds the statistics of
 * exactly this data (same hash); otherwise computes them and writes cache_path (NULL:
 * no cache). A missing, stale or unreadable cache, or one that cannot be written, is
 * not an error: s->cache_note says what happened, s->from_cache which path was taken. */
jp_status jp_gauss_stats_load_or_compute(jp_gauss_stats *s, const jp_dataset *ds,
                                         const char *cache_path, jp_error *err);
/* A default cache path for ds: "<dir>/<ds name>-gauss-<hash>.safetensors" with "/" in
 * the name replaced, dir = d->root when writable and not under /usr or /opt, else
 * $XDG_CACHE_HOME/jempp or
 * $HOME/.cache/jempp (created). Returns buf. */
const char *jp_gauss_stats_cache_path(char *buf, size_t len, const jp_data *d,
                                      const jp_dataset *ds);
/* Draws n images x = clamp(mu_y + L_y z, -1, 1), z ~ N(0, I) (ziggurat normals, BLAS
 * strmm), i.e. N(mu_y, Sigma_y + eps I) clamped, with y drawn from the priors
 * (fixed_class = -1) or fixed_class; y_out (may be NULL) receives the classes.
 * Deterministic given rng's state; thread-safe for distinct rngs. The draws, in order:
 * the n classes (jp_gauss_stats_classes), then class by class (0..K-1) the normals of
 * its images in blocks of at most JP_GAUSS_SAMPLE_ROWS, in image order. */
#define JP_GAUSS_SAMPLE_ROWS 512
void jp_gauss_stats_classes(const jp_gauss_stats *s, int *cls, int n, int fixed_class, jp_rng *rng);
void jp_gauss_stats_sample(const jp_gauss_stats *s, float *x /* (n, D) */,
                           int *y_out /* (n) */, int n, int fixed_class, jp_rng *rng);
void jp_gauss_stats_free(jp_gauss_stats *s);

#endif
