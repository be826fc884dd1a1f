/* Where each data set's files live and what they are called: finds the official
 * files under a root folder, reads them with the format readers and names the
 * classes. A missing file is reported with every place that was searched.
 *
 * Every loader takes train == NULL to mean "the test set only": then it neither looks
 * for nor reads any training file (jp_data_config.test_only, for evaluating a test set
 * on a machine that holds only the test files). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "data/readers.h"

static const char *const fashion_names[] = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                            "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                                            "Ankle boot"};
static const char *const digit_names[] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
static const char *const cifar10_names[] = {"airplane", "automobile", "bird", "cat", "deer",
                                            "dog", "frog", "horse", "ship", "truck"};
static const char *const cifar100_coarse_names[] = {
    "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
    "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
    "large_man-made_outdoor_things", "large_natural_outdoor_scenes",
    "large_omnivores_and_herbivores", "medium_mammals", "non-insect_invertebrates", "people",
    "reptiles", "small_mammals", "trees", "vehicles_1", "vehicles_2"};
static const char *const cifar100_fine_names[] = {
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle",
    "bottle", "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle",
    "caterpillar", "cattle", "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch",
    "crab", "crocodile", "cup", "dinosaur", "dolphin", "elephant", "flatfish", "forest", "fox",
    "girl", "hamster", "house", "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion",
    "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain", "mouse", "mushroom",
    "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
    "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road",
    "rocket", "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake",
    "spider", "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank",
    "telephone", "television", "tiger", "tractor", "train", "trout", "tulip", "turtle",
    "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm"};

/* First existing dirs[d]/names[k] (names tried in order within each folder). */
static int find_file(char *out, size_t len, const char *const *dirs, int nd,
                     const char *const *names, int nn)
{
    for (int d = 0; d < nd; d++)
        for (int k = 0; k < nn; k++) {
            snprintf(out, len, "%s/%s", dirs[d], names[k]);
            if (jp_file_exists(out)) return 1;
        }
    return 0;
}

static void looked_in(char *buf, size_t len, const char *const *dirs, int nd,
                      const char *const *names, int nn)
{
    size_t at = 0;
    buf[0] = 0;
    at += (size_t)snprintf(buf + at, len - at, "looked for ");
    for (int k = 0; k < nn && at < len; k++)
        at += (size_t)snprintf(buf + at, len - at, "%s%s", k ? ", " : "", names[k]);
    for (int d = 0; d < nd && at < len; d++)
        at += (size_t)snprintf(buf + at, len - at, "%s%s", d ? " and " : " in ", dirs[d]);
}

/* Reads one name per line (trimmed, blank lines skipped); uses them when there are
 * exactly n, else keeps the built-in list. */
static jp_status names_from_file(jp_raw_set *r, const char *path, const char *const *builtin,
                                 int n, jp_error *err)
{
    jp_buf b = {0};
    if (!jp_file_exists(path) || jp_file_read_all(&b, path, NULL) != JP_OK)
        return jp_raw_set_names(r, builtin, n, err);
    char **got = calloc((size_t)n, sizeof(char *));
    int count = 0;
    size_t i = 0;
    while (got && i < b.len) {
        size_t j = i;
        while (j < b.len && b.data[j] != '\n') j++;
        size_t a = i, e = j;
        while (a < e && isspace(b.data[a])) a++;
        while (e > a && isspace(b.data[e - 1])) e--;
        if (e > a) {
            if (count < n) {
                got[count] = strndup((const char *)b.data + a, e - a);
                if (!got[count]) break;
            }
            count++;
        }
        i = j + 1;
    }
    jp_status s = jp_raw_set_names(r, count == n && got ? (const char *const *)got : builtin, n, err);
    if (got)
        for (int k = 0; k < n && k < count; k++) free(got[k]);
    free(got);
    jp_buf_free(&b);
    return s;
}

/* Frees both sets after a failed load (train may be NULL). */
static jp_status free_both(jp_raw_set *train, jp_raw_set *test, jp_status s)
{
    jp_raw_free(train);
    jp_raw_free(test);
    return s;
}

/* The four IDX files train-/t10k-{images,labels} (train == NULL: t10k only), gzip or
 * not, in root or root/raw. */
jp_status jp_mnist_load(jp_raw_set *train, jp_raw_set *test, const char *root, int fashion,
                        jp_error *err)
{
    if (train) memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    char raw_dir[1024];
    snprintf(raw_dir, sizeof raw_dir, "%s/raw", root);
    const char *dirs[] = {root, raw_dir};
    const char *prefix[2] = {"train", "t10k"};
    char paths[2][2][1200]; /* [split][images, labels] */
    for (int sp = train ? 0 : 1; sp < 2; sp++)
        for (int kind = 0; kind < 2; kind++) {
            const char *k = kind ? "labels" : "images";
            int nd = kind ? 1 : 3;
            char n0[64], n1[64], n2[64], n3[64];
            snprintf(n0, sizeof n0, "%s-%s-idx%d-ubyte.gz", prefix[sp], k, nd);
            snprintf(n1, sizeof n1, "%s-%s-idx%d-ubyte", prefix[sp], k, nd);
            snprintf(n2, sizeof n2, "%s-%s.idx%d-ubyte.gz", prefix[sp], k, nd);
            snprintf(n3, sizeof n3, "%s-%s.idx%d-ubyte", prefix[sp], k, nd);
            const char *names[] = {n0, n1, n2, n3};
            if (!find_file(paths[sp][kind], sizeof paths[sp][kind], dirs, 2, names, 4)) {
                char looked[1600];
                looked_in(looked, sizeof looked, dirs, 2, names, 4);
                if (fashion)
                    return jp_fail(err, JP_ERR_IO, "Fashion-MNIST file %s not found (%s). The "
                                   "Debian package dataset-fashion-mnist provides it in "
                                   "/usr/share/datasets/fashion-mnist (apt-get install "
                                   "dataset-fashion-mnist), or point --data_root at a folder "
                                   "holding the four IDX files", n0, looked);
                return jp_fail(err, JP_ERR_IO, "MNIST file %s not found (%s). Put the four IDX "
                               "files of http://yann.lecun.com/exdb/mnist/ (gzip or not) in "
                               "--data_root", n0, looked);
            }
        }
    jp_status s = train ? jp_idx_read_pair(train, paths[0][0], paths[0][1], 10, err) : JP_OK;
    if (s == JP_OK) s = jp_idx_read_pair(test, paths[1][0], paths[1][1], 10, err);
    if (s == JP_OK && train && (test->h != train->h || test->w != train->w))
        s = jp_fail(err, JP_ERR_SHAPE, "%s: test images are %dx%d, the training images %dx%d",
                    paths[1][0], test->h, test->w, train->h, train->w);
    const char *const *names = fashion ? fashion_names : digit_names;
    if (s == JP_OK && train) s = jp_raw_set_names(train, names, 10, err);
    if (s == JP_OK) s = jp_raw_set_names(test, names, 10, err);
    return s == JP_OK ? s : free_both(train, test, s);
}

/* The binary batches (train == NULL: the test batch only) in root or in the folder the
 * tarball unpacks to; class names from the label-names file next to them, if any. */
jp_status jp_cifar_load(jp_raw_set *train, jp_raw_set *test, const char *root, int cifar100,
                        int coarse, jp_error *err)
{
    if (train) memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    char sub[1024];
    snprintf(sub, sizeof sub, "%s/%s", root, cifar100 ? "cifar-100-binary" : "cifar-10-batches-bin");
    const char *dirs[] = {root, sub};
    int label_bytes = cifar100 ? 2 : 1, label_index = cifar100 ? (coarse ? 0 : 1) : 0;
    int n_classes = cifar100 ? (coarse ? 20 : 100) : 10;
    const char *train_files10[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                   "data_batch_4.bin", "data_batch_5.bin"};
    const char *train_files100[] = {"train.bin"};
    const char *const *tf = cifar100 ? train_files100 : train_files10;
    int ntf = cifar100 ? 1 : 5;
    const char *test_file = cifar100 ? "test.bin" : "test_batch.bin";
    char path[1200];
    jp_status s = JP_OK;
    /* files 0..ntf-1 are the training batches, ntf the test batch */
    for (int f = train ? 0 : ntf; f <= ntf && s == JP_OK; f++) {
        const char *name = f < ntf ? tf[f] : test_file;
        if (!find_file(path, sizeof path, dirs, 2, &name, 1)) {
            char looked[1600];
            looked_in(looked, sizeof looked, dirs, 2, &name, 1);
            s = jp_fail(err, JP_ERR_IO, "CIFAR-%s file %s not found (%s). Download the binary "
                        "version (%s) from https://www.cs.toronto.edu/~kriz/cifar.html and "
                        "unpack it into --data_root", cifar100 ? "100" : "10", name, looked,
                        cifar100 ? "cifar-100-binary.tar.gz" : "cifar-10-binary.tar.gz");
            break;
        }
        jp_buf b;
        s = jp_file_read_all(&b, path, err);
        if (s != JP_OK) break;
        jp_raw_set part;
        s = jp_cifar_parse(&part, b.data, b.len, path, label_bytes, label_index, n_classes, err);
        jp_buf_free(&b);
        if (s != JP_OK) break;
        jp_raw_set *dst = f < ntf ? train : test;
        if (dst->pix == NULL) *dst = part;
        else {
            s = jp_raw_concat(dst, &part, path, err);
            jp_raw_free(&part);
        }
    }
    if (s == JP_OK) {
        const char *dir = path; /* the folder the files were found in */
        char names_path[1300];
        char *slash = strrchr(path, '/');
        if (slash) *slash = 0;
        const char *nf = cifar100 ? (coarse ? "coarse_label_names.txt" : "fine_label_names.txt")
                                  : "batches.meta.txt";
        const char *const *builtin = cifar100 ? (coarse ? cifar100_coarse_names : cifar100_fine_names)
                                              : cifar10_names;
        snprintf(names_path, sizeof names_path, "%s/%s", dir, nf);
        if (train) s = names_from_file(train, names_path, builtin, n_classes, err);
        if (s == JP_OK) s = names_from_file(test, names_path, builtin, n_classes, err);
    }
    return s == JP_OK ? s : free_both(train, test, s);
}

static jp_status svhn_file(jp_raw_set *r, const char *path, jp_error *err)
{
    jp_buf b;
    jp_mat_file m;
    jp_status s = jp_file_read_all(&b, path, err);
    if (s != JP_OK) return s;
    if (jp_mat_is_v73(b.data, b.len)) s = jp_mat73_read(&m, path, err); /* HDF5 inside: libmatio */
    else s = jp_mat_parse(&m, b.data, b.len, path, err);
    if (s == JP_OK) {
        s = jp_svhn_from_mat(r, &m, path, err);
        jp_mat_free(&m);
    }
    jp_buf_free(&b);
    return s;
}

/* train_32x32.mat (+ extra_32x32.mat) and test_32x32.mat in root; train == NULL:
 * test_32x32.mat only (extra is then ignored: it is training data). */
jp_status jp_svhn_load(jp_raw_set *train, jp_raw_set *test, const char *root, int extra,
                       jp_error *err)
{
    if (train) memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    const char *files[3] = {"train_32x32.mat", "test_32x32.mat", "extra_32x32.mat"};
    char path[1200];
    jp_status s = JP_OK;
    for (int f = 0; f < (extra ? 3 : 2) && s == JP_OK; f++) {
        if (!train && f != 1) continue; /* test only */
        snprintf(path, sizeof path, "%s/%s", root, files[f]);
        if (!jp_file_exists(path)) {
            s = jp_fail(err, JP_ERR_IO, "SVHN file %s not found in %s: download the cropped "
                        "digits (format 2) from http://ufldl.stanford.edu/housenumbers/ into "
                        "--data_root", files[f], root);
            break;
        }
        if (f == 2) {
            jp_raw_set ex;
            s = svhn_file(&ex, path, err);
            if (s == JP_OK) s = jp_raw_concat(train, &ex, path, err);
            jp_raw_free(&ex);
        } else {
            s = svhn_file(f == 0 ? train : test, path, err);
        }
    }
    return s == JP_OK ? s : free_both(train, test, s);
}

/* The test set alone: root/test/<class>/(files).png with the class folders found
 * there. The labels agree with a full load's, which requires test/ to hold exactly the
 * training classes (class indices are the sorted folder names). Without test/ the test
 * set is empty, and its shape could only come from the training images: refused. */
static jp_status folder_test_only(jp_raw_set *test, const char *root, const char *te,
                                  jp_error *err)
{
    if (!jp_dir_exists(te))
        return jp_fail(err, JP_ERR_IO, "image folder %s has no test folder, so its test set is "
                       "empty: expected %s/<class>/*.png", root, te);
    return jp_folder_read(test, te, NULL, err);
}

/* root/train (+ root/test), or root itself as the training set when it has neither
 * (test/ without train/ is refused: a missing training folder, not a class named
 * "test"); train == NULL: only root/test (folder_test_only). */
jp_status jp_folder_load(jp_raw_set *train, jp_raw_set *test, const char *root, jp_error *err)
{
    if (train) memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    if (!jp_dir_exists(root))
        return jp_fail(err, JP_ERR_IO, "image folder %s not found: expected %s/<class>/*.png or "
                       "%s/train/<class>/*.png (+ %s/test/<class>/*.png)", root, root, root, root);
    char tr[1200], te[1200];
    snprintf(tr, sizeof tr, "%s/train", root);
    snprintf(te, sizeof te, "%s/test", root);
    if (!train) return folder_test_only(test, root, te, err);
    int split = jp_dir_exists(tr);
    if (!split && jp_dir_exists(te)) /* else test/ would be read as a training class */
        return jp_fail(err, JP_ERR_IO, "image folder %s has a test folder but no training "
                       "folder %s: expected %s/<class>/*.png", root, tr, tr);
    jp_status s = jp_folder_read(train, split ? tr : root, NULL, err);
    if (s != JP_OK) return s;
    if (split && jp_dir_exists(te)) {
        s = jp_folder_read(test, te, train, err);
        if (s == JP_OK && (test->c != train->c || test->h != train->h || test->w != train->w))
            s = jp_fail(err, JP_ERR_SHAPE, "%s: test images are %dx%d with %d channels, the "
                        "training images %dx%d with %d", te, test->w, test->h, test->c,
                        train->w, train->h, train->c);
    } else {
        s = jp_raw_alloc(test, 0, train->c, train->h, train->w, train->n_classes, err);
        if (s == JP_OK)
            s = jp_raw_set_names(test, (const char *const *)train->class_names, train->n_classes,
                                 err);
    }
    return s == JP_OK ? s : free_both(train, test, s);
}
