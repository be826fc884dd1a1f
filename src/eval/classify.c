/* Accuracy, cross-entropy and energies of a classifier over a data set. */
#include <stdlib.h>
#include <string.h>

#include "jempp/eval.h"
#include "jempp/ops.h"
#include "nn/wrn_internal.h"

jp_status jp_eval_classifier(jp_wrn *m, const jp_dataset *ds, jp_clf_metrics *out, int64_t *confusion,
                             jp_error *err)
{
    const jp_wrn_config *c = jp_wrn_config_of(m);
    memset(out, 0, sizeof *out);
    if (ds->n == 0) return jp_fail(err, JP_ERR_ARG, "data set '%s' is empty", ds->name);
    if (ds->c != c->in_channels || ds->h != c->image_size || ds->w != c->image_size)
        return jp_fail(err, JP_ERR_SHAPE, "data set '%s' has images %dx%dx%d, the model expects %dx%dx%d", ds->name,
                       ds->c, ds->h, ds->w, c->in_channels, c->image_size, c->image_size);
    if (ds->n_classes > c->n_classes)
        return jp_fail(err, JP_ERR_SHAPE, "data set '%s' has %d classes, the model %d", ds->name, ds->n_classes,
                       c->n_classes);
    int B = jp_wrn_batch(m), K = c->n_classes;
    size_t dim = (size_t)ds->c * ds->h * ds->w;
    /* host arrays and, for a model on a device, the device's (x, logits, log p(x)) */
    const jp_device *d = jp_wrn_dev(m);
    int host = jp_device_is_host(d);
    float *logits = malloc((size_t)B * K * sizeof(float)), *lse = malloc((size_t)B * sizeof(float));
    float *lpx = malloc((size_t)B * sizeof(float));
    float *xd = host ? NULL : jp_dev_alloc(d, (size_t)B * dim * sizeof(float));
    float *ld = jp_dev_twin(d, logits, (size_t)B * K * sizeof(float));
    float *pd = jp_dev_twin(d, lpx, (size_t)B * sizeof(float));
    if (!logits || !lse || !lpx || !ld || !pd || (!host && !xd)) {
        jp_dev_twin_free(d, logits, ld), jp_dev_twin_free(d, lpx, pd);
        jp_dev_release(d, xd);
        free(logits);
        free(lse);
        free(lpx);
        return jp_fail(err, JP_ERR_NOMEM, "evaluation buffers");
    }
    if (confusion) memset(confusion, 0, (size_t)K * K * sizeof(int64_t));
    double correct = 0, loss = 0, lsum = 0;
    for (int at = 0; at < ds->n; at += B) {
        int n = ds->n - at < B ? ds->n - at : B;
        const float *x = ds->x + (size_t)at * dim;
        if (!host) jp_dev_upload(d, xd, x, (size_t)n * dim * sizeof(float));
        jp_wrn_forward(m, ld, host ? x : xd, n, 0);
        jp_wrn_log_px(m, ld, pd, n);
        jp_dev_download(d, logits, ld, (size_t)n * K * sizeof(float));
        jp_dev_download(d, lpx, pd, (size_t)n * sizeof(float));
        jp_logsumexp_forward(lse, logits, n, K);
        for (int i = 0; i < n; i++) {
            const float *l = logits + (size_t)i * K;
            int arg = 0;
            for (int k = 1; k < K; k++)
                if (l[k] > l[arg]) arg = k;
            int y = ds->y[at + i];
            correct += arg == y;
            loss += lse[i] - l[y];
            lsum += lpx[i];
            if (confusion) confusion[(size_t)y * K + arg]++;
        }
    }
    out->n = ds->n;
    out->acc = correct / ds->n;
    out->loss = loss / ds->n;
    out->mean_lse = lsum / ds->n;
    jp_dev_twin_free(d, logits, ld), jp_dev_twin_free(d, lpx, pd);
    jp_dev_release(d, xd);
    free(logits);
    free(lse);
    free(lpx);
    return JP_OK;
}
