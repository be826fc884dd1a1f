/* The real Fashion-MNIST files of the Debian package dataset-fashion-mnist, when
 * installed (otherwise the checks are skipped, and say so): 60000 training and 10000
 * test images of 28x28, 6000 per class in training and 1000 in test, the known first
 * labels and pixel statistics (values from numpy on the same files), the reference's
 * split (numpy's shuffle with seed 1234), and the statistics of the informative
 * initialisation on the 55000 training images. Prints the times. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "data/readers.h"
#include "jempp/data.h"
#include "testutil.h"

#define ROOT "/usr/share/datasets/fashion-mnist"

static double pixel_sum(const jp_dataset *ds, int i)
{
    double s = 0;
    for (int k = 0; k < 784; k++) s += (ds->x[(size_t)i * 784 + k] * 0.5 + 0.5) * 255.0;
    return s;
}

int main(void)
{
    tu_ctx t;
    tu_begin(&t, "test_data_fashion");
    if (!jp_file_exists(ROOT "/train-images-idx3-ubyte.gz")) {
        return tu_skip(&t, "%s not installed (Debian package dataset-fashion-mnist)", ROOT);
    }
    jp_error e = {0};
    jp_data_config cfg = jp_data_config_defaults(); /* fashionmnist from the Debian folder */
    cfg.n_valid = 0;
    jp_data d;
    double t0 = jp_now();
    jp_status s = jp_data_open(&d, &cfg, &e);
    double t_open = jp_now() - t0;
    tu_check(&t, s == JP_OK, "open %s: %s (%.2f s)", ROOT, s ? e.msg : "ok", t_open);
    if (s != JP_OK) return tu_finish(&t);
    tu_check(&t, d.train.n == 60000 && d.test.n == 10000 && d.valid.n == 0 && d.train.c == 1 &&
                     d.train.h == 28 && d.train.w == 28 && d.train.n_classes == 10,
             "60000 training + 10000 test images of 1x28x28, 10 classes");
    int cnt[10], tcnt[10], ok = 1;
    jp_dataset_class_counts(&d.train, cnt);
    jp_dataset_class_counts(&d.test, tcnt);
    for (int k = 0; k < 10; k++) ok = ok && cnt[k] == 6000 && tcnt[k] == 1000;
    tu_check(&t, ok, "6000 training and 1000 test images per class");
    tu_check(&t, d.test.y[0] == 9 && d.test.y[1] == 2 && d.test.y[2] == 1 &&
                     strcmp(d.test.class_names[9], "Ankle boot") == 0,
             "test labels begin 9 2 1 (Ankle boot, Pullover, Trouser)");
    double mean, sd;
    jp_dataset_channel_stats(&d.train, &mean, &sd);
    tu_check(&t, fabs(mean - (-0.42791879712701425)) < 1e-6 && fabs(sd - 0.7060484996256322) < 1e-6,
             "training pixel mean %.6f std %.6f in [-1, 1] (numpy: -0.427919, 0.706048)", mean, sd);
    int lo = 1;
    for (size_t i = 0; i < (size_t)60000 * 784; i++) lo = lo && d.train.x[i] >= -1 && d.train.x[i] <= 1;
    tu_check(&t, lo, "every value in [-1, 1]");
    jp_data_close(&d);

    /* the default split: numpy's shuffle of range(60000) with seed 1234 */
    cfg.n_valid = 5000;
    t0 = jp_now();
    s = jp_data_open(&d, &cfg, &e);
    tu_check(&t, s == JP_OK && d.train.n == 55000 && d.valid.n == 5000,
             "default split: 55000 train + 5000 valid (%.2f s)", jp_now() - t0);
    if (s != JP_OK) return tu_finish(&t);
    /* numpy: perm[0] = 30329 (pixel sum 44342), perm[5000] = 49061 (82210), labels as
     * the raw file's */
    tu_check(&t, fabs(pixel_sum(&d.valid, 0) - 44342) < 0.01 && fabs(pixel_sum(&d.train, 0) - 82210) < 0.01,
             "valid[0] is image 30329 and train[0] image 49061, as numpy's shuffle with seed 1234");
    jp_gauss_stats st;
    t0 = jp_now();
    s = jp_gauss_stats_compute(&st, &d.train, 0, &e);
    double t_stats = jp_now() - t0;
    tu_check(&t, s == JP_OK, "Gaussian statistics of 55000 x 784, 10 classes: %.2f s", t_stats);
    if (s == JP_OK) {
        /* class 1 (Trouser) mean of pixel 400, directly */
        double m = 0;
        int n = 0;
        for (int i = 0; i < d.train.n; i++)
            if (d.train.y[i] == 1) m += d.train.x[(size_t)i * 784 + 400], n++;
        tu_check(&t, fabs(m / n - st.mean[784 + 400]) < 1e-6 && st.count[1] == n,
                 "class mean matches a direct sum (%.6f)", m / n);
        jp_gauss_stats_free(&st);
    }
    jp_data_close(&d);
    return tu_finish(&t);
}
