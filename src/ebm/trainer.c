/* The JEM++ training loop: hybrid objective, sampling from the replay buffer,
 * evaluation, metrics, checkpoints, exact resume and recovery from divergence.
 *
 * One iteration, in the reference's order ("alltrain1"):
 *   x_p ~ data (labels ignored): LSE(x_p) forward + backward, before sampling
 *   x_q = sampler(buffer draws): M forward/backward passes (train-mode BN by default)
 *   LSE(x_q) forward + backward
 *   (x_lab, y) ~ labelled data: cross-entropy forward + backward
 *   p(x|y) term (w_pxy != 0): chains of classes y sampled (M passes), then f(x_lab)[y]
 *     and f(x_q)[y], each forward + backward
 *   loss = w_px * (mean LSE(x_q) - mean LSE(x_p)) + w_pyx * CE
 *          + w_pxy * (mean f(x_q)[y] - mean f(x_lab)[y])
 *   SGD/Adam step; the chains' final states go back into the buffer.
 * Each term's backward runs right after its forward, so one set of activations
 * suffices; gradients are the same as one backward of the summed loss.
 * tests/test_train_step.c checks whole iterations against a transcription of the
 * authors' loop. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ebm/trainer_internal.h"
#include "core/hash.h"
#include "core/sgemm.h"
#include "io/json.h"
#include "jempp/checkpoint.h"
#include "jempp/eval.h"
#include "jempp/ops.h"
#include "jempp/png.h"

static void tr_log(const jp_trainer *t, const char *fmt, ...)
{
    if (t->cfg.quiet) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

/* Opens a log of the run for writing. A resumed run (append) first drops the lines that
 * come after the checkpoint it resumes from (those of iterations, or epochs, that the
 * killed run did after its last save), so the log reads as one uninterrupted run. */
static FILE *open_log(const jp_trainer *t, const char *name, const char *header, int append, jp_error *err)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", t->cfg.save_dir, name);
    if (append) {
        int by_epoch = !strncmp(name, "epochs", 6);
        jp_status st = jp_log_keep_until(path, by_epoch ? "epoch" : "iter", by_epoch ? t->epoch : t->iter, err);
        if (st) return NULL;
    }
    FILE *f = fopen(path, append ? "a" : "w");
    if (!f) {
        jp_fail(err, JP_ERR_IO, "cannot write %s: %s", path, strerror(errno));
        return NULL;
    }
    if (header && !append) fprintf(f, "%s\n", header);
    return f;
}

#define ITER_CSV "iter,epoch,lr,loss,ce,acc,lse_data,lse_sample,sec_per_iter"
#define EPOCH_CSV "epoch,iter,lr,train_acc,valid_acc,valid_loss,test_acc,test_loss,lse_valid,seconds"

/* ---- ranks ----------------------------------------------------------------- */

void jp_trainer_dist_ok(const jp_trainer *t, jp_status st, const jp_error *err)
{
    if (!st) return;
    fprintf(stderr, "jempp train (rank %d): %s\n", t->rank, err->msg);
    t->dist->abort(t->dist->ctx, 1);
}

void jp_trainer_allreduce_f64(jp_trainer *t, double *v, size_t n, jp_dist_op op)
{
    jp_error err;
    if (t->dist) jp_trainer_dist_ok(t, t->dist->allreduce_f64(t->dist->ctx, v, n, op, &err), &err);
}

void jp_trainer_bcast(jp_trainer *t, void *data, size_t bytes)
{
    jp_error err;
    if (t->dist) jp_trainer_dist_ok(t, t->dist->bcast(t->dist->ctx, data, bytes, 0, &err), &err);
}

/* Whether v is the same on every rank (compared through its max and min). */
static int same_on_all(jp_trainer *t, double v)
{
    double m[2] = {v, -v};
    jp_trainer_allreduce_f64(t, m, 2, JP_DIST_MAX);
    return m[0] == -m[1];
}

/* The replicas hold the same weights: a hash of the parameters compared over the ranks.
 * A difference is an error, not a silent drift. */
static jp_status check_replicas(jp_trainer *t, jp_error *err)
{
    if (t->nranks == 1) return JP_OK;
    size_t bytes = jp_wrn_param_count(t->m) * sizeof(float);
    const float *p = jp_wrn_params(t->m);
    if (t->stage) { /* on a device: hashed from a host copy */
        jp_dev_download(t->dev, t->stage, p, bytes);
        p = t->stage;
    }
    uint64_t h = jp_hash_bytes(0, p, bytes);
    if (same_on_all(t, (double)(h >> 12))) return JP_OK; /* 52 bits: exact in a double */
    return jp_fail(err, JP_ERR_NUMERIC, "the %d ranks' weights differ after iteration %lld: the replicas diverged",
                   t->nranks, (long long)t->iter);
}

/* A line of config.json's text as name=value: `  "lr": 0.2,` gives `lr=0.2`. */
static void setting_of_line(const char *line, char *out, size_t len)
{
    while (*line == ' ') line++;
    int n = (int)strcspn(line, "\n");
    if (n > 0 && line[n - 1] == ',') n--;
    const char *colon = strstr(line, "\": ");
    if (line[0] == '"' && colon && colon - line < n)
        snprintf(out, len, "%.*s=%.*s", (int)(colon - line - 1), line + 1, (int)(line + n - colon - 3), colon + 3);
    else
        snprintf(out, len, "%.*s", n, line);
}

/* Every rank runs the same configuration on data of the same shape: rank 0's config.json
 * text goes to the others, which name the first setting that differs; the training images
 * are compared by their hash. */
static jp_status check_same_run(jp_trainer *t, const jp_train_config *cfg, jp_error *err)
{
    const jp_dataset *d = &t->data.train;
    int shape[3] = {d->c, d->h, d->w};
    jp_jw mine;
    jp_status st = jp_train_config_json_text(cfg, shape, t->K, &mine, err);
    if (st) return st;
    uint64_t len = mine.len;
    jp_trainer_bcast(t, &len, sizeof len);
    char *first = malloc(len + 1);
    if (!first) {
        jp_jw_free(&mine);
        return jp_fail(err, JP_ERR_NOMEM, "rank 0's configuration");
    }
    if (t->rank == 0) memcpy(first, mine.buf, len + 1);
    jp_trainer_bcast(t, first, len + 1);
    int differ = mine.len != len || memcmp(mine.buf, first, len) != 0;
    if (differ) {
        const char *a = mine.buf, *b = first;
        while (*a && *a == *b) a++, b++;
        while (a > mine.buf && a[-1] != '\n') a--, b--;
        char here[200], there[200];
        setting_of_line(a, here, sizeof here);
        setting_of_line(b, there, sizeof there);
        jp_fail(err, JP_ERR_ARG, "rank %d runs another configuration than rank 0: %s here, %s there", t->rank, here,
                there);
    }
    free(first);
    jp_jw_free(&mine);
    double bad = differ;
    jp_trainer_allreduce_f64(t, &bad, 1, JP_DIST_MAX);
    if (bad && !differ) return jp_fail(err, JP_ERR_ARG, "another rank runs another configuration than rank 0");
    if (bad) return JP_ERR_ARG;
    if (!same_on_all(t, (double)(jp_dataset_hash(&t->data.train) >> 12)))
        return jp_fail(err, JP_ERR_ARG, "the ranks read different training images (%s): every rank needs the same data",
                       t->data.train.name);
    return JP_OK;
}

/* With cfg.dist of size R > 1: this rank's share of the batch and of the replay buffer
 * (each must divide evenly), and only rank 0 reports. A dist with device collectives
 * (NCCL) is used for one rank too, so that its path runs where one GPU is all there is. */
static jp_status split_over_ranks(jp_trainer *t, jp_error *err)
{
    const jp_train_config *c = &t->cfg;
    t->dist = c->dist && (c->dist->size > 1 || c->dist->allreduce_f32_device) ? c->dist : NULL;
    t->rank = t->dist ? t->dist->rank : 0;
    t->nranks = t->dist ? t->dist->size : 1;
    t->global_batch = c->batch_size;
    if (t->nranks == 1) return JP_OK;
    int R = t->nranks;
    if (c->batch_size % R || c->batch_size / R < 2)
        return jp_fail(err, JP_ERR_ARG, "--batch_size %d: the global batch must split evenly over the %d ranks, at "
                       "least 2 images each", c->batch_size, R);
    if (c->buffer_size % R)
        return jp_fail(err, JP_ERR_ARG, "--buffer_size %d: the replay buffer must split evenly over the %d ranks",
                       c->buffer_size, R);
    t->cfg.batch_size /= R;
    t->cfg.buffer_size /= R;
    if (t->rank > 0) t->cfg.quiet = 1;
    return JP_OK;
}

/* ---- setup ----------------------------------------------------------------- */

jp_status jp_trainer_init(jp_trainer *t, const jp_train_config *cfg, jp_error *err)
{
    memset(t, 0, sizeof *t);
    t->cfg = *cfg;
    jp_status st = jp_train_config_check(cfg, err);
    if (st) return st;
    st = split_over_ranks(t, err);
    if (st) return st;
    jp_rng_seed(&t->rng, cfg->seed);

    jp_data_config dc = jp_data_config_defaults();
    dc.dataset = cfg->dataset;
    dc.data_root = cfg->data_root[0] ? cfg->data_root : NULL;
    dc.n_valid = cfg->n_valid;
    dc.labels_per_class = cfg->labels_per_class;
    dc.seed = cfg->seed;
    dc.flip = cfg->flip;
    dc.pad = cfg->pad;
    dc.sigma = cfg->sigma;
    st = jp_data_open(&t->data, &dc, err);
    if (st) return st;
    t->data_open = 1;
    const jp_dataset *tr = &t->data.train;
    if (t->nranks > 1 && (st = check_same_run(t, cfg, err))) return st;
    if (tr->h != tr->w)
        return jp_fail(err, JP_ERR_SHAPE, "%s: images are %dx%d; the Wide-ResNet needs square images", tr->name, tr->h, tr->w);

    jp_wrn_config mc;
    jp_wrn_config_defaults(&mc);
    mc.depth = cfg->depth;
    mc.width = cfg->width;
    mc.in_channels = tr->c;
    mc.image_size = tr->h;
    mc.n_classes = tr->n_classes;
    mc.norm = cfg->norm;
    mc.dropout = cfg->dropout_rate;
    mc.winograd = cfg->winograd;
    mc.kernels = cfg->kernels;
    mc.uncond = cfg->uncond;
    int B = t->cfg.batch_size; /* this rank's share */
    st = jp_wrn_create(&t->m, &mc, B, err);
    if (st) return st;
    if (t->nranks > 1 && cfg->sync_bn && (st = jp_wrn_sync_batch_norm(t->m, t->dist, err))) return st;
    char kernels[400];
    t->dev = jp_wrn_dev(t->m);
    int host_collectives = t->dist && !t->dist->allreduce_f32_device;
    if (!jp_device_is_host(t->dev) && (t->nranks > 1 || host_collectives)) {
        /* the weights' hash (several ranks), and with collectives on host memory only (MPI)
         * the gradients and buffers too, go through a host copy */
        size_t n = jp_wrn_param_count(t->m);
        if (host_collectives && jp_wrn_buffer_count(t->m) > n) n = jp_wrn_buffer_count(t->m);
        if (!(t->stage = jp_alloc(n * sizeof(float))))
            return jp_fail(err, JP_ERR_NOMEM, "host copies of the gradients for %d ranks", t->nranks);
    }
    jp_wrn_kernel_summary(t->m, kernels, sizeof kernels);
    tr_log(t, "kernels: %s\n", kernels);
    if (cfg->kernels.bf16 && !jp_wrn_conv_impl_count(t->m, JP_CONV_ONEDNN_BF16))
        tr_log(t, "note: --bf16 1, but no layer runs bfloat16 here (it needs a CPU with AVX-512 BF16 and the "
                  "CPU's convolutions): every convolution runs in float32\n");
    char blas[400];
    if (jp_blas_note(blas, sizeof blas)) tr_log(t, "warning: %s\n", blas);
    char slow[400];
    int n_slow = jp_wrn_reference_kernels(t->m, slow, sizeof slow);
    if (n_slow)
        tr_log(t, "warning: oneDNN runs %d layer(s) with its reference kernels on this CPU (10-1000x slower): %s\n",
               n_slow, slow);
    jp_rng init_rng;
    jp_rng_split(&t->rng, &init_rng);
    jp_wrn_init_params(t->m, &init_rng);
    jp_rng_split(&t->rng, jp_wrn_rng(t->m));
    /* the same weights on every rank; from here each rank draws its own chains */
    if (t->rank > 0) jp_rng_seed(&t->rng, cfg->seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)t->rank));

    jp_optim_config oc;
    if (cfg->optimizer == JP_OPTIM_SGD) {
        jp_optim_config_sgd(&oc);
        oc.momentum = cfg->momentum;
    } else {
        jp_optim_config_adam(&oc);
    }
    oc.lr = cfg->lr;
    oc.weight_decay = cfg->weight_decay;
    /* The parameters that get gradients, as torch.optim sees them: the energy head only
     * when it defines p(x) (--uncond); it is stored last. --clf_only (the reference's
     * optimiser over f.class_output.parameters()): class_output's weight and bias, stored
     * next to each other. */
    t->opt_off = 0;
    t->n_opt = cfg->uncond ? jp_wrn_param_count(t->m) : jp_wrn_classifier_param_count(t->m);
    if (cfg->clf_only) {
        int nt;
        const jp_tensor_info *ti = jp_wrn_tensors(t->m, &nt);
        size_t lo = (size_t)-1, hi = 0;
        for (int i = 0; i < nt; i++)
            if (ti[i].kind == JP_T_PARAM && !strncmp(ti[i].name, "class_output.", 13)) {
                lo = ti[i].offset < lo ? ti[i].offset : lo;
                hi = ti[i].offset + ti[i].count > hi ? ti[i].offset + ti[i].count : hi;
            }
        JP_CHECK(hi > lo);
        t->opt_off = lo, t->n_opt = hi - lo;
    }
    st = jp_optim_init_on(&t->opt, &oc, t->n_opt, t->dev, err);
    if (st) return st;

    t->dim = tr->c * tr->h * tr->w;
    t->K = tr->n_classes;
    /* every rank reads the global batches (the same streams) and takes its share */
    jp_loader_config lc = jp_loader_config_train(&t->data, t->global_batch, 0);
    st = jp_loader_init(&t->px, tr, NULL, tr->n, &lc, err);
    if (st) return st;
    lc = jp_loader_config_train(&t->data, t->global_batch, 1);
    st = jp_loader_init(&t->lab, tr, t->data.labeled_idx, t->data.n_labeled, &lc, err);
    if (st) return st;

    jp_lr_schedule_init(&t->sched, cfg->lr);
    t->sched.warmup_iters = cfg->warmup_iters;
    /* An epoch is one pass over all training images (the p(x) stream), labelled or not,
     * as the reference's loop over dload_train; the labelled stream cycles on its own. */
    t->sched.iters_per_epoch = jp_loader_batches_per_epoch(t->px);
    t->sched.n_decay = cfg->n_decay;
    memcpy(t->sched.decay_epochs, cfg->decay_epochs, sizeof t->sched.decay_epochs);
    t->sched.decay_rate = cfg->decay_rate;
    /* The cosine spans n_epochs epochs, or cosine_iters, or (-1) max_iters. Only with -1
     * does a --max_iters cut move it: N iterations + resume + N iterations follow the same
     * lr as 2N uninterrupted ones otherwise. */
    t->sched.kind = cfg->lr_schedule;
    t->sched.total_iters = (int64_t)cfg->n_epochs * t->sched.iters_per_epoch;
    if (cfg->cosine_iters > 0) t->sched.total_iters = cfg->cosine_iters;
    if (cfg->cosine_iters < 0 && cfg->max_iters > 0) t->sched.total_iters = cfg->max_iters;
    t->sched.final_lr = cfg->final_lr;
    st = jp_lr_schedule_check(&t->sched, err);
    if (st) return st;

    t->use_px = !cfg->softmax_only && cfg->p_x_weight != 0.0f;
    t->use_pxy = !cfg->softmax_only && cfg->p_x_y_weight != 0.0f;
    if (t->use_px || t->use_pxy) {
        if (cfg->init == JP_INIT_INFORMATIVE) {
            char cache[700];
            jp_gauss_stats_cache_path(cache, sizeof cache, &t->data, tr);
            double t0 = jp_now();
            /* rank 0 computes (and caches) first, the others then load its cache */
            if (t->rank == 0) st = jp_gauss_stats_load_or_compute(&t->gauss, tr, cache, err);
            int st0 = (int)st;
            jp_trainer_bcast(t, &st0, sizeof st0);
            if (t->rank > 0 && st0 == JP_OK) st = jp_gauss_stats_load_or_compute(&t->gauss, tr, cache, err);
            if (t->rank > 0 && st0 != JP_OK)
                st = jp_fail(err, (jp_status)st0, "rank 0 could not compute the class Gaussians");
            if (st) return st;
            t->have_gauss = 1;
            tr_log(t, "informative init: class Gaussians %s in %.1f s (%s)\n",
                   t->gauss.from_cache ? "loaded" : "computed", jp_now() - t0, cache);
            t->init_fn = jp_init_gauss;
            t->init_ctx = &t->gauss;
        } else {
            t->init_fn = jp_init_uniform;
            t->init_ctx = &t->dim;
        }
        st = jp_buffer_init(&t->buf, t->cfg.buffer_size, t->dim, t->K, err);
        if (st) return st;
        st = jp_sampler_work_init(&t->sw, t->m, err);
        if (st) return st;
    }
    /* the arrays that go up and down every iteration: in memory the device copies
     * directly (page-locked on a GPU) */
    size_t bd = (size_t)B * t->dim, bk = (size_t)B * t->K;
    void *(*host)(void *, size_t) = t->dev->ops->host_alloc;
    void *hs = t->dev->state;
    t->x_p = host(hs, bd * sizeof(float));
    t->x_lab = host(hs, bd * sizeof(float));
    t->x_q = host(hs, bd * sizeof(float));
    t->logits = host(hs, bk * sizeof(float));
    t->dlogits = host(hs, bk * sizeof(float));
    t->lse = host(hs, (size_t)B * sizeof(float));
    t->scale = host(hs, (size_t)B * sizeof(float));
    t->y_lab = host(hs, (size_t)B * sizeof(int));
    t->y_p = host(hs, (size_t)B * sizeof(int));
    t->y_q = host(hs, (size_t)B * sizeof(int));
    t->idx = host(hs, (size_t)B * sizeof(int));
    t->fresh = host(hs, (size_t)B * sizeof(int));
    if (t->nranks > 1) {
        t->x_glob = jp_alloc((size_t)t->global_batch * t->dim * sizeof(float));
        t->y_glob = jp_alloc((size_t)t->global_batch * sizeof(int));
        t->rng_all = jp_alloc((size_t)t->nranks * 12 * sizeof(uint64_t));
        if (!t->x_glob || !t->y_glob || !t->rng_all) return jp_fail(err, JP_ERR_NOMEM, "global batches");
    }
    if (!t->x_p || !t->x_lab || !t->x_q || !t->logits || !t->dlogits || !t->lse || !t->scale || !t->y_lab ||
        !t->y_p || !t->y_q || !t->idx || !t->fresh)
        return jp_fail(err, JP_ERR_NOMEM, "training batches");
    const jp_device *d = t->dev;
    t->d_x_p = jp_dev_twin(d, t->x_p, bd * sizeof(float));
    t->d_x_lab = jp_dev_twin(d, t->x_lab, bd * sizeof(float));
    t->d_x_q = jp_dev_twin(d, t->x_q, bd * sizeof(float));
    t->d_logits = jp_dev_twin(d, t->logits, bk * sizeof(float));
    t->d_dlogits = jp_dev_twin(d, t->dlogits, bk * sizeof(float));
    t->d_lse = jp_dev_twin(d, t->lse, (size_t)B * sizeof(float));
    t->d_scale = jp_dev_twin(d, t->scale, (size_t)B * sizeof(float));
    t->d_y_lab = jp_dev_twin(d, t->y_lab, (size_t)B * sizeof(int));
    t->d_y_q = jp_dev_twin(d, t->y_q, (size_t)B * sizeof(int));
    t->d_idx = jp_dev_twin(d, t->idx, (size_t)B * sizeof(int));
    if (!t->d_x_p || !t->d_x_lab || !t->d_x_q || !t->d_logits || !t->d_dlogits || !t->d_lse || !t->d_scale ||
        !t->d_y_lab || !t->d_y_q || !t->d_idx)
        return jp_fail(err, JP_ERR_NOMEM, "training batches on %s", d->ops->name);
    if (t->buf.x) {
        t->d_buf = jp_dev_twin(d, t->buf.x, (size_t)t->buf.size * t->dim * sizeof(float));
        if (!t->d_buf)
            return jp_fail(err, JP_ERR_NOMEM, "the replay buffer (%d x %d floats) on %s", t->buf.size, t->dim,
                           d->ops->name);
        t->chain_init = t->init_fn, t->chain_ctx = t->init_ctx;
        if (!jp_device_is_host(d)) {
            int rows = t->buf.size > B ? t->buf.size : B;
            st = jp_init_device_open(&t->dinit, d, t->have_gauss ? &t->gauss : NULL, t->dim, rows, err);
            if (st) return st;
            t->chain_init = jp_init_on_device, t->chain_ctx = &t->dinit;
        }
        jp_trainer_buffer_fill(t);
    }
    t->lr_scale = 1.0;
    t->steps_scale = 1;
    t->best_valid = -1.0;
    t->best_iter = t->best_epoch = -1;
    t->best_test = -1.0;
    return jp_trainer_snapshot_init(t, err);
}

void jp_trainer_free(jp_trainer *t)
{
    jp_trainer_snapshot_free(t);
    if (t->metrics_jsonl) fclose(t->metrics_jsonl);
    if (t->metrics_csv) fclose(t->metrics_csv);
    if (t->epochs_jsonl) fclose(t->epochs_jsonl);
    jp_tfevents_close(t->tb);
    if (t->epochs_csv) fclose(t->epochs_csv);
    if (t->dev) {
        void *hbufs[] = {t->x_p, t->x_lab, t->x_q, t->logits, t->dlogits, t->lse, t->scale, t->y_lab, t->y_q, t->idx,
                         t->buf.x};
        void *dbufs[] = {t->d_x_p, t->d_x_lab, t->d_x_q, t->d_logits, t->d_dlogits, t->d_lse, t->d_scale, t->d_y_lab,
                         t->d_y_q, t->d_idx, t->d_buf};
        for (size_t i = 0; i < sizeof dbufs / sizeof *dbufs; i++) jp_dev_twin_free(t->dev, hbufs[i], dbufs[i]);
        void *pinned[] = {t->x_p, t->x_lab, t->x_q, t->logits, t->dlogits, t->lse, t->scale, t->y_lab, t->y_p, t->y_q,
                          t->idx, t->fresh};
        for (size_t i = 0; i < sizeof pinned / sizeof *pinned; i++) t->dev->ops->host_release(t->dev->state, pinned[i]);
    }
    void *bufs[] = {t->x_glob, t->y_glob, t->buf_all, t->rng_all, t->stage};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) jp_free(bufs[i]);
    jp_sampler_work_free(&t->sw);
    if (t->dinit.dev) jp_init_device_close(&t->dinit);
    jp_buffer_free(&t->buf);
    if (t->have_gauss) jp_gauss_stats_free(&t->gauss);
    if (t->px) jp_loader_free(t->px);
    if (t->lab) jp_loader_free(t->lab);
    jp_optim_free(&t->opt);
    jp_wrn_free(t->m);
    if (t->data_open) jp_data_close(&t->data);
    memset(t, 0, sizeof *t);
}

/* ---- one iteration ----------------------------------------------------------- */

/* Host to the model's device and back: nothing on the CPU, where both are the same array. */
static void to_dev(const jp_trainer *t, void *dst, const void *src, size_t bytes) { jp_dev_upload(t->dev, dst, src, bytes); }
/* A data batch: the copy may overlap the host's work (page-locked memory); the batch
 * arrays are written again only in the next iteration, after this one's downloads. */
static void batch_to_dev(const jp_trainer *t, void *dst, const void *src, size_t bytes)
{
    t->dev->ops->upload_async(t->dev->state, dst, src, bytes);
}
static void to_host(const jp_trainer *t, void *dst, const void *src, size_t bytes) { jp_dev_download(t->dev, dst, src, bytes); }

/* Forward x (on the model's device) in train mode; dlogits = coef/B * d(sum_i LSE_i)/dlogits
 * (+ onehot terms for the host labels y when y != NULL); backward into the parameter
 * gradients. Returns mean LSE. */
static double lse_term(jp_trainer *t, const float *x, float coef, const int *y, float ycoef, double *ymean)
{
    int B = t->cfg.batch_size, K = t->K;
    jp_wrn_forward(t->m, t->d_logits, x, B, 1);
    jp_wrn_log_px(t->m, t->d_logits, t->d_lse, B);
    to_host(t, t->lse, t->d_lse, (size_t)B * sizeof(float));
    if (y) to_host(t, t->logits, t->d_logits, (size_t)B * K * sizeof(float));
    double mean = 0, fy = 0;
    for (int i = 0; i < B; i++) {
        mean += t->lse[i];
        t->scale[i] = coef / (float)B;
    }
    if (y) { /* + ycoef * mean f(x)[y]: d/d logits = ycoef/B onehot(y) */
        memset(t->dlogits, 0, (size_t)B * K * sizeof(float));
        for (int i = 0; i < B; i++) {
            fy += t->logits[(size_t)i * K + y[i]];
            t->dlogits[(size_t)i * K + y[i]] = ycoef / (float)B;
        }
    }
    if (ymean) *ymean = fy / B;
    to_dev(t, t->d_scale, t->scale, (size_t)B * sizeof(float));
    if (y) to_dev(t, t->d_dlogits, t->dlogits, (size_t)B * K * sizeof(float));
    jp_wrn_backward_log_px(t->m, t->d_logits, t->d_scale, y ? t->d_dlogits : NULL, NULL, 1);
    return mean / B;
}

/* Finite samples, and their largest |x| into *absmax (the larger of it and what it holds). */
static int samples_ok(const float *x, size_t n, double *absmax)
{
    float m = 0.0f;
    int finite = 1;
    for (size_t i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        if (!isfinite(a)) finite = 0;
        else if (a > m) m = a;
    }
    if (m > *absmax) *absmax = m;
    return finite;
}

/* The divergence detectors, in the order they are reported: the step is refused (and
 * the run rolled back) when one fires. */
static int diverged(const jp_trainer *t, jp_iter_stats *s, double loss)
{
    const jp_train_config *c = &t->cfg;
    double e = fmax(fabs(s->lse_data), fabs(s->lse_sample));
    if (!isfinite(loss) || fabs(loss) > c->diverge_loss)
        snprintf(s->why, sizeof s->why, "loss %.4g (limit %g)", loss, (double)c->diverge_loss);
    else if (!s->samples_finite)
        snprintf(s->why, sizeof s->why, "non-finite samples");
    else if (s->sample_absmax > c->diverge_range)
        snprintf(s->why, sizeof s->why, "samples left the valid range: max |x| %.4g (limit %g)", s->sample_absmax,
                 (double)c->diverge_range);
    else if (!(e <= c->diverge_energy))
        snprintf(s->why, sizeof s->why, "energies ran away: LSE data %.4g, samples %.4g (limit %g)", s->lse_data,
                 s->lse_sample, (double)c->diverge_energy);
    else if (c->diverge_gap > 0 && !(s->gap_mean <= c->diverge_gap)) {
        s->lost_data = 1;
        snprintf(s->why, sizeof s->why, "the sampler lost the data: |LSE data - LSE samples| averages %.4g "
                 "(limit %g; this iteration: data %.4g, samples %.4g)", s->gap_mean, (double)c->diverge_gap,
                 s->lse_data, s->lse_sample);
    } else if (!t->dev->ops->all_finite(t->dev->state, jp_wrn_grads(t->m) + t->opt_off, t->n_opt))
        snprintf(s->why, sizeof s->why, "non-finite gradients");
    else
        return 0;
    return 1;
}

/* The next p(x) batch (labelled 0) or labelled batch (1). */
static void next_batch(jp_trainer *t, int labelled, float *x, int *y)
{
    const jp_step_feed *f = t->hooks.feed;
    jp_loader *l = labelled ? t->lab : t->px;
    if (f) {
        f->batch(f->ctx, labelled, x, y);
    } else if (t->nranks == 1) {
        jp_loader_next(l, x, y);
    } else { /* this rank's rows of the global batch */
        size_t b = (size_t)t->cfg.batch_size, r = (size_t)t->rank;
        jp_loader_next(l, t->x_glob, t->y_glob);
        memcpy(x, t->x_glob + r * b * t->dim, b * t->dim * sizeof(float));
        if (y) memcpy(y, t->y_glob + r * b, b * sizeof(int));
    }
}

/* Over the ranks: the loss terms and accuracy averaged, the samples' checks combined,
 * so that every rank takes the same decisions (divergence, remedies). */
static void reduce_stats(jp_trainer *t, jp_iter_stats *s, double *loss)
{
    double sum[5] = {s->lse_data, s->lse_sample, s->ce, s->acc, *loss};
    jp_trainer_allreduce_f64(t, sum, 5, JP_DIST_SUM);
    double worst[2] = {s->sample_absmax, !s->samples_finite};
    jp_trainer_allreduce_f64(t, worst, 2, JP_DIST_MAX);
    double R = t->nranks;
    s->lse_data = sum[0] / R, s->lse_sample = sum[1] / R, s->ce = sum[2] / R, s->acc = sum[3] / R;
    *loss = sum[4] / R;
    s->sample_absmax = worst[0];
    s->samples_finite = worst[1] == 0;
}

/* The gradients of the optimised parameters averaged over the ranks (one buffer): the
 * gradient of the mean loss over the global batch, the same on every rank. */
static void average_grads(jp_trainer *t)
{
    float *g = jp_wrn_grads(t->m) + t->opt_off;
    size_t bytes = t->n_opt * sizeof(float);
    const jp_dist *d = t->dist;
    jp_error err;
    if (jp_device_is_host(t->dev)) {
        jp_trainer_dist_ok(t, d->allreduce_f32(d->ctx, g, t->n_opt, JP_DIST_SUM, &err), &err);
    } else if (d->allreduce_f32_device) {
        jp_trainer_dist_ok(t, d->allreduce_f32_device(d->ctx, g, t->n_opt, JP_DIST_SUM, &err), &err);
    } else {
        jp_dev_download(t->dev, t->stage, g, bytes);
        jp_trainer_dist_ok(t, d->allreduce_f32(d->ctx, t->stage, t->n_opt, JP_DIST_SUM, &err), &err);
        jp_dev_upload(t->dev, g, t->stage, bytes);
    }
    t->dev->ops->scale(t->dev->state, g, 1.0f / (float)t->nranks, t->n_opt);
}

/* The BN running statistics of rank 0 on every rank, as PyTorch's DistributedDataParallel
 * broadcasts its buffers (each rank's batch statistics differ). */
static void sync_buffers(jp_trainer *t)
{
    size_t bytes = jp_wrn_buffer_count(t->m) * sizeof(float);
    float *b = jp_wrn_buffers(t->m);
    const jp_dist *d = t->dist;
    jp_error err;
    if (jp_device_is_host(t->dev)) {
        jp_trainer_bcast(t, b, bytes);
    } else if (d->bcast_device) {
        jp_trainer_dist_ok(t, d->bcast_device(d->ctx, b, bytes, 0, &err), &err);
    } else {
        jp_dev_download(t->dev, t->stage, b, bytes);
        jp_trainer_bcast(t, t->stage, bytes);
        jp_dev_upload(t->dev, b, t->stage, bytes);
    }
    jp_trainer_bcast(t, jp_wrn_counters(t->m), jp_wrn_counter_count(t->m) * sizeof(int64_t));
}

/* B chains from the replay buffer (on the model's device) into d_x_q and their slots
 * into idx and d_idx, from class y's segment when y != NULL: the slots and the choice
 * of fresh starts drawn on the host (jp_buffer_sample's draws, in its order), the chains
 * gathered and the fresh starts drawn on the device (chain_init). pxy says which term
 * they are for (the feed's business). */
static void draw_chains(jp_trainer *t, const int *y, int pxy)
{
    const jp_step_feed *f = t->hooks.feed;
    int B = t->cfg.batch_size;
    size_t d = (size_t)t->dim, row = d * sizeof(float);
    int on_host = jp_device_is_host(t->dev);
    if (!f) {
        jp_buffer_draw_slots(&t->buf, t->idx, B, y, &t->rng);
        to_dev(t, t->d_idx, t->idx, (size_t)B * sizeof(int));
        t->dev->ops->gather_rows(t->dev->state, t->d_x_q, t->d_buf, t->d_idx, B, d);
        jp_buffer_reinit(&t->buf, t->d_x_q, B, y, t->cfg.reinit_freq, t->chain_init, t->chain_ctx, &t->rng, NULL);
        return;
    }
    /* the feed's chains: its fresh starts come from the host */
    f->chains(f->ctx, pxy, t->idx, t->fresh, t->x_q);
    to_dev(t, t->d_idx, t->idx, (size_t)B * sizeof(int));
    for (int i = 0; i < B; i++) {
        if (!t->fresh[i]) jp_dev_copy(t->dev, t->d_x_q + i * d, t->d_buf + (size_t)t->idx[i] * d, row);
        else if (!on_host) to_dev(t, t->d_x_q + i * d, t->x_q + i * d, row);
    }
}

/* The chains of d_x_q back to their slots d_idx of the replay buffer. */
static void put_chains(jp_trainer *t)
{
    t->dev->ops->scatter_rows(t->dev->state, t->d_buf, t->d_x_q, t->d_idx, t->cfg.batch_size, (size_t)t->dim);
}

jp_status jp_trainer_step(jp_trainer *t, jp_iter_stats *s)
{
    const jp_train_config *c = &t->cfg;
    int B = c->batch_size, K = t->K;
    memset(s, 0, sizeof *s);
    double t0 = jp_now();
    s->lr = jp_lr_at(&t->sched, (int)t->epoch, t->iter) * t->lr_scale;
    jp_wrn_zero_grads(t->m);
    double loss = 0;
    jp_sampler_config chains = jp_trainer_chain_sampler(t);
    s->samples_finite = 1;
    size_t xbytes = (size_t)B * t->dim * sizeof(float);
    if (t->use_px) {
        next_batch(t, 0, t->x_p, t->y_p);
        batch_to_dev(t, t->d_x_p, t->x_p, xbytes);
        s->lse_data = lse_term(t, t->d_x_p, -c->p_x_weight, NULL, 0, NULL);
        const int *yc = NULL;
        if (c->class_cond_p_x_sample) {
            if (t->hooks.feed)
                t->hooks.feed->chain_classes(t->hooks.feed->ctx, t->y_q);
            else
                for (int i = 0; i < B; i++) t->y_q[i] = (int)jp_rng_below(&t->rng, (uint64_t)K);
            yc = t->y_q;
            to_dev(t, t->d_y_q, t->y_q, (size_t)B * sizeof(int));
        }
        draw_chains(t, yc, 0);
        jp_sample(t->m, &t->sw, &chains, t->d_x_q, yc ? t->d_y_q : NULL, B, &t->rng);
        s->lse_sample = lse_term(t, t->d_x_q, c->p_x_weight, NULL, 0, NULL);
        to_host(t, t->x_q, t->d_x_q, xbytes);
        loss += c->p_x_weight * (s->lse_sample - s->lse_data);
        s->samples_finite = samples_ok(t->x_q, (size_t)B * t->dim, &s->sample_absmax);
    }
    if (c->p_y_given_x_weight != 0.0f || t->use_pxy) {
        next_batch(t, 1, t->x_lab, t->y_lab);
        batch_to_dev(t, t->d_x_lab, t->x_lab, xbytes);
        batch_to_dev(t, t->d_y_lab, t->y_lab, (size_t)B * sizeof(int));
    }
    if (c->p_y_given_x_weight != 0.0f) {
        jp_wrn_forward(t->m, t->d_logits, t->d_x_lab, B, 1);
        s->ce = t->dev->ops->cross_entropy_forward(t->dev->state, t->d_logits, t->d_y_lab, B, K);
        to_host(t, t->logits, t->d_logits, (size_t)B * K * sizeof(float));
        int correct = 0;
        for (int i = 0; i < B; i++) {
            const float *l = t->logits + (size_t)i * K;
            int arg = 0;
            for (int k = 1; k < K; k++)
                if (l[k] > l[arg]) arg = k;
            correct += arg == t->y_lab[i];
        }
        s->acc = (double)correct / B;
        t->dev->ops->cross_entropy_backward(t->dev->state, t->d_dlogits, c->p_y_given_x_weight, t->d_logits,
                                            t->d_y_lab, B, K);
        jp_wrn_backward(t->m, t->d_dlogits, NULL, 1);
        loss += c->p_y_given_x_weight * s->ce;
    }
    if (t->use_pxy) {
        /* p(x|y) term: w * (mean f(x_q, y) - mean f(x_lab, y)), conditional chains from the
         * class segments; as the reference, after the sampling a train-mode forward of
         * x_lab of its own, then one of x_q (each updates the BN running statistics). */
        if (t->use_px) put_chains(t);
        memcpy(t->y_q, t->y_lab, (size_t)B * sizeof(int));
        to_dev(t, t->d_y_q, t->y_q, (size_t)B * sizeof(int));
        draw_chains(t, t->y_q, 1);
        jp_sample(t->m, &t->sw, &chains, t->d_x_q, t->d_y_q, B, &t->rng);
        double fy_data, fy_q;
        lse_term(t, t->d_x_lab, 0.0f, t->y_lab, -c->p_x_y_weight, &fy_data);
        lse_term(t, t->d_x_q, 0.0f, t->y_q, c->p_x_y_weight, &fy_q);
        to_host(t, t->x_q, t->d_x_q, xbytes);
        s->samples_finite &= samples_ok(t->x_q, (size_t)B * t->dim, &s->sample_absmax);
        loss += c->p_x_y_weight * (fy_q - fy_data);
    }
    if (t->hooks.nan_iter > 0 && t->iter + 1 == t->hooks.nan_iter && !(t->injected & 1)) {
        t->injected |= 1; /* a divergence on demand, to test the recovery path */
        loss = NAN;
    }
    if (t->dist) {
        double c0 = jp_now();
        reduce_stats(t, s, &loss);
        average_grads(t);
        s->comm_seconds = jp_now() - c0;
    }
    if (t->use_px) {
        s->gap_mean = (1 - JP_GAP_ALPHA) * t->gap_mean + JP_GAP_ALPHA * fabs(s->lse_data - s->lse_sample);
        if (t->hooks.gap_iter > 0 && t->iter + 1 == t->hooks.gap_iter && !(t->injected & 2)) {
            t->injected |= 2; /* the gap detector fires on demand, to test its remedy */
            s->gap_mean = INFINITY;
        }
    }
    s->loss = loss;
    if (diverged(t, s, loss)) {
        s->diverged = 1;
        s->seconds = jp_now() - t0;
        return JP_OK;
    }
    jp_optim_step(&t->opt, jp_wrn_params(t->m) + t->opt_off, jp_wrn_grads(t->m) + t->opt_off, t->n_opt, s->lr);
    jp_wrn_params_changed(t->m);
    if (t->dist) {
        double c0 = jp_now();
        sync_buffers(t);
        s->comm_seconds += jp_now() - c0;
    }
    if (t->use_px) t->gap_mean = s->gap_mean; /* the accepted step's gap joins the running mean */
    if (t->use_px || t->use_pxy) put_chains(t);
    t->iter++;
    s->seconds = jp_now() - t0;
    return JP_OK;
}

/* ---- outputs ---------------------------------------------------------------- */

/* Writes a sample grid, and shows it in TensorBoard under tag (when not NULL). */
static void write_grid(jp_trainer *t, const char *name, const float *x, int n, int ncols, const char *tag)
{
    char path[700];
    jp_error err;
    if (t->rank > 0) return; /* rank 0 writes the run folder */
    snprintf(path, sizeof path, "%s/%s", t->cfg.save_dir, name);
    const jp_dataset *tr = &t->data.train;
    if (jp_png_write_grid(path, x, n, tr->c, tr->h, tr->w, ncols, &err))
        tr_log(t, "warning: %s\n", err.msg);
    else if (t->tb && tag && jp_tfevents_png_file(t->tb, t->iter, tag, path, &err))
        tr_log(t, "warning: TensorBoard: %s\n", err.msg);
}

/* Class-conditional samples from scratch: one row per class, chains started from the
 * class's informative (or uniform) init and run on the conditional energy -f(x)[y]. */
jp_status jp_trainer_conditional_grid(jp_trainer *t, const char *name, int per_class, jp_error *err)
{
    if (!t->init_fn) return JP_OK;
    int B = t->cfg.batch_size, K = t->K;
    int total = K * per_class, nrun = (total + B - 1) / B * B;
    /* full batches: chains past `total` repeat the classes from the start and are dropped */
    float *all = jp_alloc((size_t)nrun * t->dim * sizeof(float));
    int *y = jp_alloc((size_t)nrun * sizeof(int));
    if (!all || !y) {
        jp_free(all);
        jp_free(y);
        return jp_fail(err, JP_ERR_NOMEM, "conditional sample grid");
    }
    for (int i = 0; i < nrun; i++) y[i] = (i % total) / per_class;
    jp_chains ch = {t->cfg.sampler, t->init_fn, t->init_ctx, 1};
    ch.sc.train_mode = 0; /* generation: running statistics, no updates to the model */
    ch.sc.n_steps *= 4;
    jp_rng rng;
    jp_rng_seed(&rng, t->cfg.seed ^ 0x5a5a);
    jp_status st = jp_chains_run(t->m, &ch, all, y, nrun, &rng, NULL, NULL, 0, err);
    if (!st) write_grid(t, name, all, total, per_class, "samples_conditional");
    jp_free(all);
    jp_free(y);
    return st;
}

static void log_iter(jp_trainer *t, const jp_iter_stats *s)
{
    if (t->metrics_jsonl)
        fprintf(t->metrics_jsonl,
                "{\"iter\":%lld,\"epoch\":%lld,\"lr\":%.6g,\"loss\":%.6g,\"ce\":%.6g,\"acc\":%.4f,"
                "\"lse_data\":%.6g,\"lse_sample\":%.6g,\"sec_per_iter\":%.4f}\n",
                (long long)t->iter, (long long)t->epoch, s->lr, s->loss, s->ce, s->acc, s->lse_data, s->lse_sample,
                s->seconds);
    if (t->metrics_csv)
        fprintf(t->metrics_csv, "%lld,%lld,%.6g,%.6g,%.6g,%.4f,%.6g,%.6g,%.4f\n", (long long)t->iter,
                (long long)t->epoch, s->lr, s->loss, s->ce, s->acc, s->lse_data, s->lse_sample, s->seconds);
    if (t->tb) {
        /* the last two only where there are samples */
        static const char *const tags[] = {"train/loss", "train/ce",       "train/acc",       "train/lr",
                                           "train/sec_per_iter", "train/lse_data", "train/lse_sample"};
        double v[] = {s->loss, s->ce, s->acc, s->lr, s->seconds, s->lse_data, s->lse_sample};
        jp_error err;
        if (jp_tfevents_scalars(t->tb, t->iter, t->use_px ? 7 : 5, tags, v, &err)) {
            tr_log(t, "warning: TensorBoard: %s; no more events\n", err.msg);
            jp_tfevents_close(t->tb);
            t->tb = NULL;
        }
    }
}

/* After a rollback the CSV logs hold the run's trajectory again: the rows of the
 * iterations (and epochs) that the rollback undid go, as on resume. metrics.jsonl and
 * epochs.jsonl keep them, after them the "recovered" event: the record of what
 * happened before the detector fired. */
static jp_status drop_undone_rows(jp_trainer *t, jp_error *err)
{
    fclose(t->metrics_csv);
    fclose(t->epochs_csv);
    t->metrics_csv = t->epochs_csv = NULL; /* neither is left dangling if a reopen fails */
    if (!(t->metrics_csv = open_log(t, "metrics.csv", ITER_CSV, 1, err))) return err->code;
    if (!(t->epochs_csv = open_log(t, "epochs.csv", EPOCH_CSV, 1, err))) return err->code;
    return JP_OK;
}

static void log_event(jp_trainer *t, const char *event, const char *detail)
{
    if (t->metrics_jsonl) { /* a line of JSON; detail may name a file, so it is escaped */
        jp_jw w;
        jp_jw_init(&w, 0);
        jp_jw_begin_object(&w);
        jp_jw_key(&w, "iter");
        jp_jw_int(&w, t->iter);
        jp_jw_key(&w, "epoch");
        jp_jw_int(&w, t->epoch);
        jp_jw_key(&w, "event");
        jp_jw_string(&w, event);
        jp_jw_key(&w, "detail");
        jp_jw_string(&w, detail);
        jp_jw_end_object(&w);
        if (w.buf) fprintf(t->metrics_jsonl, "%s\n", w.buf);
        jp_jw_free(&w);
    }
    tr_log(t, "[%s] %s\n", event, detail);
}

/* config.json: the run's configuration as given (the global batch and buffer). */
static jp_status write_config(const jp_trainer *t, const jp_train_config *cfg, jp_error *err)
{
    char path[700];
    snprintf(path, sizeof path, "%s/config.json", cfg->save_dir);
    const jp_dataset *d = &t->data.train;
    int shape[3] = {d->c, d->h, d->w};
    return jp_train_config_write_json(cfg, shape, t->K, path, err);
}

/* The run folder's files: config.json and the logs (appended to on --resume), opened by
 * rank 0; the other ranks write their log lines to /dev/null. */
static jp_status open_outputs(jp_trainer *t, const jp_train_config *cfg, jp_error *err)
{
    if (t->rank > 0) {
        FILE **logs[4] = {&t->metrics_jsonl, &t->metrics_csv, &t->epochs_jsonl, &t->epochs_csv};
        for (int i = 0; i < 4; i++)
            if (!(*logs[i] = fopen("/dev/null", "w"))) return jp_fail(err, JP_ERR_IO, "cannot open /dev/null");
        return JP_OK;
    }
    int append = cfg->resume[0] != 0;
    jp_status st = write_config(t, cfg, err);
    if (!st && !(t->metrics_jsonl = open_log(t, "metrics.jsonl", NULL, append, err))) st = err->code;
    if (!st && !(t->metrics_csv = open_log(t, "metrics.csv", ITER_CSV, append, err))) st = err->code;
    if (!st && !(t->epochs_jsonl = open_log(t, "epochs.jsonl", NULL, append, err))) st = err->code;
    if (!st && !(t->epochs_csv = open_log(t, "epochs.csv", EPOCH_CSV, append, err))) st = err->code;
    if (!st) { /* TensorBoard: one event file per start; a failure costs only the events */
        jp_error tberr;
        if (jp_tfevents_open(&t->tb, cfg->save_dir, NULL, 0, &tberr)) tr_log(t, "warning: TensorBoard: %s\n", tberr.msg);
    }
    return st;
}

/* ---- the run ----------------------------------------------------------------- */

static jp_status evaluate(jp_trainer *t, jp_clf_metrics *valid, jp_clf_metrics *test, jp_error *err)
{
    memset(valid, 0, sizeof *valid);
    memset(test, 0, sizeof *test);
    jp_status st = JP_OK;
    if (t->data.valid.n > 0) st = jp_eval_classifier(t->m, &t->data.valid, valid, NULL, err);
    if (!st && t->data.test.n > 0) st = jp_eval_classifier(t->m, &t->data.test, test, NULL, err);
    return st;
}

/* A stop asked for (cfg->stop) on any rank: every rank stops at the same iteration. */
static int stop_requested(jp_trainer *t, const jp_train_config *c)
{
    double asked = c->stop && *c->stop;
    if (t->nranks > 1) jp_trainer_allreduce_f64(t, &asked, 1, JP_DIST_MAX);
    return asked != 0;
}

/* The run was asked to stop (cfg->stop) and last.safetensors holds its state. */
static jp_status interrupted(jp_trainer *t, jp_error *err)
{
    char msg[200];
    snprintf(msg, sizeof msg, "stopped on request after iteration %lld", (long long)t->iter);
    log_event(t, "interrupted", msg);
    fflush(t->metrics_jsonl);
    return jp_fail(err, JP_ERR_INTERRUPTED, "%s; %s/last.safetensors holds it: continue with --resume %s", msg,
                   t->cfg.save_dir, t->cfg.save_dir);
}

static void progress(jp_trainer *t, const jp_iter_stats *s, double elapsed, int64_t done, int64_t total)
{
    double rate = done > 0 ? done / elapsed : 0;
    double eta = rate > 0 ? (total - t->iter) / rate : 0;
    tr_log(t, "epoch %lld iter %lld/%lld  %.2f it/s  ETA %02d:%02d:%02d  lr %.4g  loss %.4f  ce %.4f  acc %.3f  "
              "lse data %.3f sample %.3f\n",
           (long long)t->epoch, (long long)t->iter, (long long)total, rate, (int)(eta / 3600), (int)(eta / 60) % 60,
           (int)eta % 60, s->lr, s->loss, s->ce, s->acc, s->lse_data, s->lse_sample);
}

/* result.json: which model each figure belongs to: "final" is last.safetensors (the
 * model after the last iteration), "best" best.safetensors (chosen at the epoch-end
 * evaluations by validation accuracy). The top-level test_acc, test_loss, valid_acc and
 * best_valid_acc repeat them under the names of earlier versions. */
static void write_result(const jp_trainer *t, const jp_train_result *res)
{
    char path[700];
    snprintf(path, sizeof path, "%s/result.json", t->cfg.save_dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        tr_log(t, "warning: cannot write %s\n", path);
        return;
    }
    fprintf(f, "{\"test_acc\": %.4f, \"test_loss\": %.5f, \"valid_acc\": %.4f, \"best_valid_acc\": %.4f,\n"
               " \"final\": {\"file\": \"last.safetensors\", \"iter\": %lld, \"epochs_done\": %lld, "
               "\"test_acc\": %.4f, \"test_loss\": %.5f, \"valid_acc\": %.4f},\n",
            res->test_acc, res->test_loss, res->valid_acc, res->best_valid_acc, (long long)res->iters,
            (long long)t->epoch, res->test_acc, res->test_loss, res->valid_acc);
    if (res->best_iter >= 0)
        fprintf(f, " \"best\": {\"file\": \"best.safetensors\", \"iter\": %lld, \"epoch\": %lld, "
                   "\"valid_acc\": %.4f, \"test_acc\": %.4f},\n",
                (long long)res->best_iter, (long long)res->best_epoch, res->best_valid_acc, res->best_test_acc);
    else
        fprintf(f, " \"best\": null,\n");
    fprintf(f, " \"valid_images\": %d, \"iters\": %lld, \"seconds\": %.1f, \"seconds_per_iter\": %.4f, "
               "\"device\": \"%s\", \"ranks\": %d, \"comm_seconds_per_iter\": %.5f, \"recoveries\": %d}\n",
            res->n_valid, (long long)res->iters, res->seconds, res->seconds_per_iter,
            jp_device_is_host(t->dev) ? "cpu" : t->cfg.device, res->ranks, res->comm_seconds_per_iter,
            res->recoveries);
    fclose(f);
}

jp_status jp_train_run(const jp_train_config *cfg, jp_train_result *res, jp_error *err)
{
    return jp_train_run_hooked(cfg, NULL, res, err);
}

jp_status jp_train_run_hooked(const jp_train_config *cfg, const jp_train_hooks *hooks, jp_train_result *res,
                              jp_error *err)
{
    memset(res, 0, sizeof *res);
    jp_trainer t;
    jp_status st = !cfg->dist || cfg->dist->rank == 0 ? jp_mkdirs(cfg->save_dir, err) : JP_OK;
    if (st) return st;
    st = jp_trainer_init(&t, cfg, err);
    if (!st && hooks) t.hooks = *hooks;
    char loaded[700] = "";
    if (!st && cfg->resume[0]) st = jp_trainer_resume(&t, cfg->resume, err);
    else if (!st && cfg->load_path[0]) st = jp_trainer_load_start(&t, cfg->load_path, loaded, sizeof loaded, err);
    if (st) {
        jp_trainer_free(&t);
        return st;
    }
    st = open_outputs(&t, cfg, err);
    if (st) {
        jp_trainer_free(&t);
        return st;
    }
    int64_t per_epoch = t.sched.iters_per_epoch;
    int64_t total = (int64_t)cfg->n_epochs * per_epoch;
    if (cfg->max_iters > 0 && cfg->max_iters < total) total = cfg->max_iters;
    tr_log(&t, "jempp train: %s, %d train / %d valid / %d test images, WRN-%d-%d (%s), %zu parameters, "
               "%lld iterations (%lld per epoch)\n",
           t.data.dataset, t.data.train.n, t.data.valid.n, t.data.test.n, cfg->depth, cfg->width,
           cfg->norm == JP_NORM_BATCH ? "batch norm" : "no norm", jp_wrn_param_count(t.m), (long long)total,
           (long long)per_epoch);
    if (loaded[0]) log_event(&t, "loaded", loaded);
    double start = jp_now();
    int64_t start_iter = t.iter;
    double step_seconds = 0, comm_seconds = 0; /* time in training steps (without evaluations,
                                                  * grids, saves), of it in collective operations */
    jp_iter_stats s;
    memset(&s, 0, sizeof s);
    int64_t eval_iter = -1; /* the iteration of the model whose accuracies res holds */
    jp_trainer_snapshot_take(&t);
    while (t.iter < total && !st) {
        int64_t epoch_end = (t.epoch + 1) * per_epoch;
        double epoch_t0 = jp_now(), acc_sum = 0;
        int64_t acc_n = 0;
        while (t.iter < epoch_end && t.iter < total) {
            st = jp_trainer_step(&t, &s);
            if (st) break;
            step_seconds += s.seconds;
            comm_seconds += s.comm_seconds;
            if (s.diverged) {
                char why[220];
                snprintf(why, sizeof why, "%s at iteration %lld", s.why, (long long)t.iter + 1);
                if (t.recoveries >= cfg->max_recoveries) {
                    log_event(&t, "diverged", why);
                    char last[600];
                    snprintf(last, sizeof last, "%s/last.safetensors", cfg->save_dir);
                    FILE *probe = fopen(last, "rb");
                    if (probe) fclose(probe);
                    st = jp_fail(err, JP_ERR_NUMERIC, "training diverged (%s) after %d recoveries; %s%s%s", why,
                                 t.recoveries, probe ? "the last good checkpoint is " : "no checkpoint was written "
                                 "yet (checkpoints are written at epoch ends and every --save_every iterations): ", probe ? last : "start again",
                                 s.lost_data ? ". The chains cannot follow the data: more sampler steps (--n_steps), "
                                               "a smaller --lr or the random crop (--pad 4) may let them (see "
                                               "docs/results.md: Fashion-MNIST without the crop)" : "");
                    break;
                }
                char remedy[160], msg[420];
                jp_trainer_recover(&t, s.lost_data, remedy, sizeof remedy);
                snprintf(msg, sizeof msg, "%s: rolled back to iteration %lld, %s", why, (long long)t.iter, remedy);
                log_event(&t, "recovered", msg);
                st = drop_undone_rows(&t, err);
                if (st) break;
                if ((t.epoch + 1) * per_epoch != epoch_end) { /* the snapshot lay in an earlier epoch */
                    epoch_end = (t.epoch + 1) * per_epoch;
                    acc_sum = 0; /* the epoch's train accuracy: the iterations after the rollback */
                    acc_n = 0;
                }
                continue;
            }
            log_iter(&t, &s);
            acc_sum += s.acc;
            acc_n++;
            if (t.iter % cfg->print_every == 0 || t.iter == total) {
                progress(&t, &s, jp_now() - start, t.iter - start_iter, total);
                if (t.use_px) {
                    char name[64];
                    snprintf(name, sizeof name, "samples_%06lld.png", (long long)t.iter);
                    int n = cfg->n_sample_grid < t.cfg.batch_size ? cfg->n_sample_grid : t.cfg.batch_size;
                    write_grid(&t, name, t.x_q, n, (int)ceil(sqrt((double)n)), "samples");
                }
                fflush(t.metrics_jsonl);
                fflush(t.metrics_csv);
                if (t.tb) jp_tfevents_flush(t.tb, err);
            }
            if (t.iter % JP_SNAPSHOT_EVERY == 0 && (st = check_replicas(&t, err))) break;
            if (t.iter % JP_SNAPSHOT_EVERY == 0 && !(cfg->diverge_gap > 0 && t.gap_mean > 0.5 * cfg->diverge_gap))
                jp_trainer_snapshot_take(&t);
            /* within an epoch too, so that a killed run loses at most save_every iterations */
            if (cfg->save_every > 0 && t.iter % cfg->save_every == 0 && t.iter < epoch_end) {
                fflush(t.metrics_jsonl);
                fflush(t.metrics_csv);
                st = jp_trainer_save(&t, "last.safetensors", err);
                if (st) break;
            }
            if (stop_requested(&t, cfg)) break;
        }
        if (st) break;
        int epoch_done = t.iter >= epoch_end;
        int stopping = stop_requested(&t, cfg) && t.iter < total;
        if (stopping && !epoch_done) { /* mid-epoch: save and go */
            fflush(t.metrics_jsonl);
            fflush(t.metrics_csv);
            st = jp_trainer_save(&t, "last.safetensors", err);
            if (!st) st = interrupted(&t, err);
            break;
        }
        if (epoch_done) t.epoch++;
        /* The best model is chosen at scheduled evaluations only (every eval_every epochs
         * and the last epoch of the schedule), so that where a run was stopped and
         * resumed does not change which model is best. A stop (max_iters) still
         * evaluates, for the report. */
        int scheduled = epoch_done && (t.epoch % cfg->eval_every == 0 || t.epoch == cfg->n_epochs);
        if (scheduled || (epoch_done && t.iter >= total)) {
            jp_clf_metrics v, te;
            st = evaluate(&t, &v, &te, err);
            if (st) break;
            double lr = jp_lr_at(&t.sched, (int)t.epoch - 1, t.iter - 1) * t.lr_scale;
            double tacc = acc_n ? acc_sum / acc_n : 0;
            fprintf(t.epochs_jsonl, "{\"epoch\":%lld,\"iter\":%lld,\"lr\":%.6g,\"train_acc\":%.4f,\"valid_acc\":%.4f,"
                                    "\"valid_loss\":%.5f,\"test_acc\":%.4f,\"test_loss\":%.5f,\"lse_valid\":%.4f,"
                                    "\"seconds\":%.1f}\n",
                    (long long)t.epoch, (long long)t.iter, lr, tacc, v.acc, v.loss, te.acc, te.loss, v.mean_lse,
                    jp_now() - epoch_t0);
            fprintf(t.epochs_csv, "%lld,%lld,%.6g,%.4f,%.4f,%.5f,%.4f,%.5f,%.4f,%.1f\n", (long long)t.epoch,
                    (long long)t.iter, lr, tacc, v.acc, v.loss, te.acc, te.loss, v.mean_lse, jp_now() - epoch_t0);
            fflush(t.epochs_jsonl);
            fflush(t.epochs_csv);
            if (t.tb) {
                static const char *const etags[] = {"epoch/train_acc", "epoch/valid_acc", "epoch/valid_loss",
                                                    "epoch/test_acc", "epoch/test_loss", "epoch/lse_valid"};
                double ev[] = {tacc, v.acc, v.loss, te.acc, te.loss, v.mean_lse};
                jp_error tberr;
                if (jp_tfevents_scalars(t.tb, t.iter, 6, etags, ev, &tberr) || jp_tfevents_flush(t.tb, &tberr))
                    tr_log(&t, "warning: TensorBoard: %s\n", tberr.msg);
            }
            tr_log(&t, "epoch %lld: valid acc %.4f loss %.4f | test acc %.4f loss %.4f\n", (long long)t.epoch, v.acc,
                   v.loss, te.acc, te.loss);
            res->valid_acc = v.acc;
            res->test_acc = te.acc;
            res->test_loss = te.loss;
            eval_iter = t.iter;
            if (scheduled && v.acc > t.best_valid) {
                t.best_valid = v.acc;
                t.best_iter = t.iter;
                t.best_epoch = t.epoch;
                t.best_test = te.acc;
                st = jp_trainer_save(&t, "best.safetensors", err);
            }
            jp_trainer_plot_curves(&t);
        }
        if (!st && epoch_done && cfg->ckpt_every > 0 && t.epoch % cfg->ckpt_every == 0) {
            char name[64];
            snprintf(name, sizeof name, "ckpt_%lld.safetensors", (long long)t.epoch);
            st = jp_trainer_save(&t, name, err);
        }
        if (!st) st = jp_trainer_save(&t, "last.safetensors", err);
        if (!st && stopping) st = interrupted(&t, err); /* after the epoch's evaluation and save */
    }
    if (!st && t.iter >= total && eval_iter != t.iter) {
        /* the run stopped between epoch ends (max_iters): its result is the final model's */
        jp_clf_metrics v, te;
        st = evaluate(&t, &v, &te, err);
        res->valid_acc = v.acc;
        res->test_acc = te.acc;
        res->test_loss = te.loss;
        if (!st)
            tr_log(&t, "final model (iteration %lld): valid acc %.4f | test acc %.4f loss %.4f\n", (long long)t.iter,
                   v.acc, te.acc, te.loss);
    }
    if (!st) { /* curves also for a run that stopped before an epoch's end */
        fflush(t.metrics_csv);
        fflush(t.epochs_csv);
        jp_trainer_plot_curves(&t);
    }
    if (!st && t.init_fn && t.rank == 0) {
        st = jp_trainer_conditional_grid(&t, "samples_conditional.png", 10, err);
        int n = t.cfg.buffer_size < 100 ? t.cfg.buffer_size : 100;
        jp_trainer_buffer_down(&t);
        write_grid(&t, "buffer.png", t.buf.x, n, 10, "buffer");
    }
    res->iters = t.iter;
    res->seconds = jp_now() - start;
    res->seconds_per_iter = t.iter > start_iter ? step_seconds / (double)(t.iter - start_iter) : 0;
    res->comm_seconds_per_iter = t.iter > start_iter ? comm_seconds / (double)(t.iter - start_iter) : 0;
    res->ranks = t.nranks;
    res->best_valid_acc = t.best_valid;
    res->best_test_acc = t.best_test;
    res->best_iter = t.best_iter;
    res->best_epoch = t.best_epoch;
    res->n_valid = t.data.valid.n;
    res->recoveries = t.recoveries;
    if (!st && t.rank == 0) write_result(&t, res);
    jp_trainer_free(&t);
    return st;
}
