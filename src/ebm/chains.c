/* Chains from scratch: fresh chains from an init distribution, run by a sampler for a
 * fixed number of steps (jp_chains_run). Used by the trainer's class-conditional grid
 * and by the samples and fid evaluations. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jempp/ebm.h"
#include "jempp/png.h"
#include "nn/wrn_internal.h"

static jp_status write_frame(const jp_wrn *m, const char *dir, int k, const float *x, int n, jp_error *err)
{
    const jp_wrn_config *cfg = jp_wrn_config_of(m);
    char path[1200];
    snprintf(path, sizeof path, "%s/frame_%04d.png", dir, k);
    int cols = (int)ceil(sqrt((double)n));
    return jp_png_write_grid(path, x, n, cfg->in_channels, cfg->image_size, cfg->image_size, cols, err);
}

jp_status jp_chains_run(jp_wrn *m, const jp_chains *c, float *x, const int *y, int n, jp_rng *rng,
                        double *trace, const char *frames_dir, int n_frames, jp_error *err)
{
    const jp_wrn_config *cfg = jp_wrn_config_of(m);
    int B = jp_wrn_batch(m), S = c->sc.n_steps, K = cfg->n_classes;
    int dim = cfg->in_channels * cfg->image_size * cfg->image_size;
    jp_sampler_work sw;
    jp_status st = jp_sampler_work_init(&sw, m, err);
    if (st) return st;
    /* the chains on the host (xb, yb, lse) and, for a model on a device, their device
     * copies (the same arrays on the CPU) */
    const jp_device *d = jp_wrn_dev(m);
    float *xb = jp_alloc((size_t)B * dim * sizeof(float)), *lse = jp_alloc((size_t)B * sizeof(float));
    int *yb = jp_alloc((size_t)B * sizeof(int));
    float *xd = jp_dev_twin(d, xb, (size_t)B * dim * sizeof(float));
    float *lsed = jp_dev_twin(d, lse, (size_t)B * sizeof(float));
    int *yd = jp_dev_twin(d, yb, (size_t)B * sizeof(int));
    float *logits = jp_dev_alloc(d, (size_t)B * K * sizeof(float));
    double *tsum = calloc((size_t)S + 1, sizeof(double));
    float *saved_bn = NULL;
    int64_t *saved_cnt = NULL;
    if (!xb || !lse || !logits || !yb || !xd || !lsed || !yd || !tsum) {
        st = jp_fail(err, JP_ERR_NOMEM, "sampling buffers");
        goto done;
    }
    jp_sampler_config one = c->sc;
    one.n_steps = 1; /* S calls of one step = one call of S steps, with a look between */
    /* train-mode sampling updates the BN running statistics: keep the model's */
    size_t nbuf = jp_wrn_buffer_count(m), ncnt = jp_wrn_counter_count(m);
    saved_bn = c->sc.train_mode ? malloc((nbuf + 1) * sizeof(float)) : NULL;
    saved_cnt = c->sc.train_mode ? malloc((ncnt + 1) * sizeof(int64_t)) : NULL;
    if (c->sc.train_mode && (!saved_bn || !saved_cnt)) {
        st = jp_fail(err, JP_ERR_NOMEM, "BN statistics copy");
        goto done;
    }
    if (saved_bn) {
        jp_dev_download(d, saved_bn, jp_wrn_buffers(m), nbuf * sizeof(float));
        memcpy(saved_cnt, jp_wrn_counters(m), ncnt * sizeof(int64_t));
    }
    for (int at = 0; at < n && !st; at += B) {
        int nb = n - at < B ? n - at : B;
        /* train-mode BN needs full batches: pad with extra chains that are dropped */
        int nrun = c->sc.train_mode ? B : nb;
        for (int i = 0; i < nrun; i++) {
            yb[i] = y ? y[at + i % nb] : -1;
            c->init(c->init_ctx, xb + (size_t)i * dim, 1, yb[i], rng);
        }
        jp_dev_upload(d, xd, xb, (size_t)nrun * dim * sizeof(float));
        jp_dev_upload(d, yd, yb, (size_t)nrun * sizeof(int));
        int nshow = nb < 64 ? nb : 64, frame = 0;
        for (int s = 0; s <= S && !st; s++) {
            /* frame k shows step round(k S / (F - 1)) */
            while (frames_dir && at == 0 && frame < n_frames &&
                   (n_frames == 1 ? S : (int)lround((double)frame * S / (n_frames - 1))) == s && !st) {
                jp_dev_download(d, xb, xd, (size_t)nshow * dim * sizeof(float));
                st = write_frame(m, frames_dir, frame++, xb, nshow, err);
            }
            if (s == S) break;
            double mean_lse = jp_sample(m, &sw, &one, xd, y ? yd : NULL, nrun, rng);
            tsum[s] += mean_lse * nb;
        }
        if (saved_bn) { /* back to the model's statistics before any eval-mode pass */
            jp_dev_upload(d, jp_wrn_buffers(m), saved_bn, nbuf * sizeof(float));
            memcpy(jp_wrn_counters(m), saved_cnt, ncnt * sizeof(int64_t));
        }
        /* the final states' log p(x), eval mode */
        jp_wrn_forward(m, logits, xd, nb, 0);
        jp_wrn_log_px(m, logits, lsed, nb);
        jp_dev_download(d, lse, lsed, (size_t)nb * sizeof(float));
        jp_dev_download(d, xb, xd, (size_t)nb * dim * sizeof(float));
        for (int i = 0; i < nb; i++) tsum[S] += lse[i];
        memcpy(x + (size_t)at * dim, xb, (size_t)nb * dim * sizeof(float));
        if (n > B && !c->quiet) fprintf(stderr, "  chains %d/%d\n", at + nb, n);
    }
    if (trace && !st)
        for (int s = 0; s <= S; s++) trace[s] = -tsum[s] / n; /* energy E = -log p(x), mean over chains */
done:
    free(saved_bn);
    free(saved_cnt);
    jp_sampler_work_free(&sw);
    jp_dev_twin_free(d, xb, xd);
    jp_dev_twin_free(d, lse, lsed);
    jp_dev_twin_free(d, yb, yd);
    jp_dev_release(d, logits);
    jp_free(xb);
    jp_free(lse);
    jp_free(yb);
    free(tsum);
    return st;
}
