/* Trainer state: checkpoints with the full training state, exact resume, in-memory
 * snapshots for rollback after a divergence, and learning curves. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ebm/trainer_internal.h"
#include "jempp/checkpoint.h"
#include "jempp/plot.h"

/* RNG state as 6 uint64: s[0..3] and two reserved words (zero). */
static void rng_pack(const jp_rng *r, uint64_t *o)
{
    memcpy(o, r->s, 4 * sizeof(uint64_t));
    o[4] = r->reserved[0];
    o[5] = r->reserved[1];
}

static void rng_unpack(jp_rng *r, const uint64_t *o)
{
    memcpy(r->s, o, 4 * sizeof(uint64_t));
    r->reserved[0] = o[4];
    r->reserved[1] = o[5];
}

/* dist's gather to rank 0, its failure ending the job (the others would wait). */
static void gather0(jp_trainer *t, const void *send, size_t bytes, void *recv)
{
    jp_error err;
    jp_trainer_dist_ok(t, t->dist->gather(t->dist->ctx, send, bytes, recv, 0, &err), &err);
}

/* With several ranks, rank 0 writes the file: the ranks' buffer shards in rank order
 * (the whole buffer) and each rank's generator (train.rng_ranks); the model, optimiser
 * and position are the same on every rank. */
jp_status jp_trainer_save(jp_trainer *t, const char *name, jp_error *err)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", t->cfg.save_dir, name);
    const jp_dataset *tr = &t->data.train;
    uint64_t rngs[12];
    rng_pack(&t->rng, rngs);
    rng_pack(jp_wrn_rng(t->m), rngs + 6);
    jp_trainer_buffer_down(t);
    const float *buffer = t->buf.x;
    int64_t buffer_rows = t->buf.size;
    if (t->nranks > 1) {
        size_t shard = (size_t)t->buf.size * t->dim * sizeof(float);
        if (t->rank == 0 && t->buf.x && !t->buf_all) {
            t->buf_all = jp_alloc(shard * t->nranks);
            if (!t->buf_all) return jp_fail(err, JP_ERR_NOMEM, "the whole replay buffer for %s", path);
        }
        if (t->buf.x) gather0(t, t->buf.x, shard, t->buf_all);
        gather0(t, rngs, sizeof rngs, t->rng_all);
        if (t->rank > 0) return JP_OK;
        buffer = t->buf_all;
        buffer_rows = (int64_t)t->buf.size * t->nranks;
    }
    jp_st_writer w;
    jp_st_writer_init(&w);
    jp_ckpt_add_model(&w, t->m);
    jp_optim_state_save(&t->opt, &w);
    if (buffer) {
        int64_t shape[4] = {buffer_rows, tr->c, tr->h, tr->w};
        jp_st_writer_add(&w, "replay_buffer", JP_F32, 4, shape, buffer);
    }
    int64_t rshape[1] = {12}, pshape[1] = {8}, sshape[1] = {7};
    jp_st_writer_add(&w, "train.rng", JP_U64, 1, rshape, rngs);
    if (t->nranks > 1) {
        int64_t rrshape[2] = {t->nranks, 12};
        jp_st_writer_add(&w, "train.rng_ranks", JP_U64, 2, rrshape, t->rng_all);
    }
    int64_t pos[8] = {t->epoch, t->iter, 0, 0, 0, 0, t->recoveries, 0};
    jp_loader_tell(t->px, &pos[2], &pos[3]);
    jp_loader_tell(t->lab, &pos[4], &pos[5]);
    jp_st_writer_add(&w, "train.position", JP_I64, 1, pshape, pos);
    double scalars[7] = {t->lr_scale, t->best_valid, t->gap_mean, t->steps_scale,
                         (double)t->best_iter, (double)t->best_epoch, t->best_test};
    jp_st_writer_add(&w, "train.scalars", JP_F64, 1, sshape, scalars);
    jp_st_writer_meta(&w, "dataset", t->cfg.dataset);
    jp_status st = jp_st_writer_save_parts(&w, path, (size_t)t->cfg.max_file_mb << 20, err);
    jp_st_writer_free(&w);
    return st;
}

static jp_status get_exact(const jp_st_file *f, const char *name, jp_dtype dt, int64_t count, void *dst, jp_error *err)
{
    int64_t shape[1] = {count};
    return jp_st_get(f, name, dt, 1, shape, dst, err);
}

/* The checkpoint's replay_buffer into the run's buffer; its shape must be the run's. */
static jp_status load_buffer(jp_trainer *t, const jp_st_file *f, jp_error *err)
{
    const jp_dataset *tr = &t->data.train;
    int64_t shape[4] = {(int64_t)t->buf.size * t->nranks, tr->c, tr->h, tr->w};
    jp_status st;
    if (t->nranks == 1) {
        st = jp_st_get(f, "replay_buffer", JP_F32, 4, shape, t->buf.x, err);
    } else { /* the whole buffer, checked, then this rank's shard of it */
        size_t shard = (size_t)t->buf.size * t->dim;
        float *all = jp_alloc(shard * t->nranks * sizeof(float));
        if (!all) return jp_fail(err, JP_ERR_NOMEM, "%s: the replay buffer", f->path);
        st = jp_st_get(f, "replay_buffer", JP_F32, 4, shape, all, err);
        if (!st) memcpy(t->buf.x, all + (size_t)t->rank * shard, shard * sizeof(float));
        jp_free(all);
    }
    if (!st) jp_trainer_buffer_up(t);
    return st;
}

static size_t buffer_bytes(const jp_trainer *t) { return (size_t)t->buf.size * t->buf.dim * sizeof(float); }

void jp_trainer_buffer_down(jp_trainer *t)
{
    if (t->d_buf) jp_dev_download(t->dev, t->buf.x, t->d_buf, buffer_bytes(t));
}

void jp_trainer_buffer_up(jp_trainer *t)
{
    if (t->d_buf) jp_dev_upload(t->dev, t->d_buf, t->buf.x, buffer_bytes(t));
}

void jp_trainer_buffer_fill(jp_trainer *t)
{
    jp_replay_buffer b = t->buf;
    b.x = t->d_buf;
    jp_buffer_fill(&b, t->chain_init, t->chain_ctx, t->cfg.init == JP_INIT_INFORMATIVE, &t->rng);
}

/* This rank's generator states from a checkpoint: train.rng on one process; with R
 * ranks the rank's row of train.rng_ranks, which only an R-rank run writes. */
static jp_status load_rngs(jp_trainer *t, const jp_st_file *f, uint64_t rngs[12], jp_error *err)
{
    const jp_st_entry *e = jp_st_find(f, "train.rng_ranks");
    int written_by = e && e->ndim == 2 ? (int)e->shape[0] : 1;
    if (written_by != t->nranks)
        return jp_fail(err, JP_ERR_ARG, "%s was written by a run on %d rank%s; resume it on as many (mpirun -np %d): "
                       "each rank's chains and generator are part of it", f->path, written_by,
                       written_by > 1 ? "s" : "", written_by);
    if (t->nranks == 1) return get_exact(f, "train.rng", JP_U64, 12, rngs, err);
    int64_t shape[2] = {t->nranks, 12};
    uint64_t *all = malloc((size_t)t->nranks * 12 * sizeof(uint64_t));
    if (!all) return jp_fail(err, JP_ERR_NOMEM, "%s: train.rng_ranks", f->path);
    jp_status st = jp_st_get(f, "train.rng_ranks", JP_U64, 2, shape, all, err);
    if (!st) memcpy(rngs, all + (size_t)t->rank * 12, 12 * sizeof(uint64_t));
    free(all);
    return st;
}

jp_status jp_trainer_resume(jp_trainer *t, const char *dir, jp_error *err)
{
    char path[700];
    snprintf(path, sizeof path, "%s/last.safetensors", dir);
    jp_st_file f;
    jp_status st = jp_st_read(&f, path, err);
    if (st) return st;
    st = jp_ckpt_load_model(&f, t->m, err);
    if (!st) st = jp_optim_state_load(&t->opt, &f, err);
    if (!st && t->buf.x) st = load_buffer(t, &f, err);
    uint64_t rngs[12];
    int64_t pos[8];
    double scalars[7] = {0, 0, 0, 1, -1, -1, -1};
    if (!st) st = load_rngs(t, &f, rngs, err);
    if (!st) st = get_exact(&f, "train.position", JP_I64, 8, pos, err);
    if (!st) { /* 7 scalars: lr scale, best validation accuracy, the LSE gap's running mean,
                * the sampler's steps scale, the best model's iteration, epoch and test
                * accuracy. Older checkpoints hold the first 2 (before the gap detector: gap
                * 0), 3 (before the steps remedy: scale 1) or 4 (best model unnamed: -1). */
        const jp_st_entry *e = jp_st_find(&f, "train.scalars");
        int n = e && e->ndim == 1 && e->shape[0] >= 2 && e->shape[0] <= 4 ? (int)e->shape[0] : 7;
        st = get_exact(&f, "train.scalars", JP_F64, n, scalars, err);
    }
    jp_st_close(&f);
    if (st) return st;
    if (pos[0] < 0 || pos[1] < 0)
        return jp_fail(err, JP_ERR_FORMAT, "%s: negative epoch or iteration in train.position", path);
    rng_unpack(&t->rng, rngs);
    rng_unpack(jp_wrn_rng(t->m), rngs + 6);
    t->epoch = pos[0];
    t->iter = pos[1];
    t->recoveries = (int)pos[6];
    jp_loader_seek(t->px, pos[2], pos[3]);
    jp_loader_seek(t->lab, pos[4], pos[5]);
    t->lr_scale = scalars[0];
    t->best_valid = scalars[1];
    t->gap_mean = scalars[2];
    if (!(scalars[3] >= 1 && scalars[3] <= 100000 && scalars[3] == floor(scalars[3])))
        return jp_fail(err, JP_ERR_FORMAT, "%s: train.scalars[3] (the sampler's steps scale) is %g, expected a "
                       "whole number >= 1", path, scalars[3]);
    t->steps_scale = (int)scalars[3];
    t->best_iter = (int64_t)scalars[4];
    t->best_epoch = (int64_t)scalars[5];
    t->best_test = scalars[6];
    return JP_OK;
}

jp_status jp_trainer_load_start(jp_trainer *t, const char *path, char *what, size_t len, jp_error *err)
{
    jp_st_file f;
    jp_status st = jp_st_read(&f, path, err);
    if (st) return st;
    st = jp_ckpt_load_model(&f, t->m, err);
    const jp_st_entry *e = jp_st_find(&f, "replay_buffer");
    int with_buffer = !st && e && t->buf.x;
    if (with_buffer) st = load_buffer(t, &f, err);
    jp_st_close(&f);
    if (st) return st;
    snprintf(what, len, "model%s from %s", with_buffer ? " and replay buffer"
                                           : t->buf.x ? " (no replay buffer in the file: a fresh one)" : "", path);
    return JP_OK;
}

/* ---- snapshots and recovery ------------------------------------------------- */

jp_status jp_trainer_snapshot_init(jp_trainer *t, jp_error *err)
{
    jp_snapshot *s = &t->snap;
    memset(s, 0, sizeof *s);
    s->params = jp_alloc(jp_wrn_param_count(t->m) * sizeof(float));
    s->buffers = jp_alloc((jp_wrn_buffer_count(t->m) + 1) * sizeof(float));
    s->counters = jp_alloc((jp_wrn_counter_count(t->m) + 1) * sizeof(int64_t));
    for (int i = 0; i < jp_optim_state_count(&t->opt); i++) {
        jp_optim_tensor ot = jp_optim_state_tensor(&t->opt, i);
        if (ot.dtype == JP_F32) s->optim_floats += ot.count;
    }
    s->optim = jp_alloc((s->optim_floats + 1) * sizeof(float));
    s->replay = t->buf.x ? jp_alloc((size_t)t->buf.size * t->buf.dim * sizeof(float)) : NULL;
    if (!s->params || !s->buffers || !s->counters || !s->optim || (t->buf.x && !s->replay))
        return jp_fail(err, JP_ERR_NOMEM, "rollback snapshot");
    return JP_OK;
}

void jp_trainer_snapshot_free(jp_trainer *t)
{
    jp_snapshot *s = &t->snap;
    jp_free(s->params);
    jp_free(s->buffers);
    jp_free(s->counters);
    jp_free(s->optim);
    jp_free(s->replay);
    memset(s, 0, sizeof *s);
}

/* Copies the optimizer's float arrays to/from one flat array (to = 1: into the snapshot). */
static void optim_copy(jp_trainer *t, int to)
{
    size_t at = 0;
    for (int i = 0; i < jp_optim_state_count(&t->opt); i++) {
        jp_optim_tensor ot = jp_optim_state_tensor(&t->opt, i);
        if (ot.dtype != JP_F32) continue;
        if (to) jp_dev_download(t->opt.dev, t->snap.optim + at, ot.data, ot.count * sizeof(float));
        else jp_dev_upload(t->opt.dev, ot.data, t->snap.optim + at, ot.count * sizeof(float));
        at += ot.count;
    }
}

void jp_trainer_snapshot_take(jp_trainer *t)
{
    jp_snapshot *s = &t->snap;
    jp_dev_download(t->dev, s->params, jp_wrn_params(t->m), jp_wrn_param_count(t->m) * sizeof(float));
    jp_dev_download(t->dev, s->buffers, jp_wrn_buffers(t->m), jp_wrn_buffer_count(t->m) * sizeof(float));
    memcpy(s->counters, jp_wrn_counters(t->m), jp_wrn_counter_count(t->m) * sizeof(int64_t));
    optim_copy(t, 1);
    s->optim_step = t->opt.step;
    if (s->replay) jp_dev_download(t->dev, s->replay, t->d_buf, buffer_bytes(t));
    s->iter = t->iter;
    s->epoch = t->epoch;
    s->gap_mean = t->gap_mean;
    jp_loader_tell(t->px, &s->px_pos[0], &s->px_pos[1]);
    jp_loader_tell(t->lab, &s->lab_pos[0], &s->lab_pos[1]);
    s->rng = t->rng;
    s->model_rng = *jp_wrn_rng(t->m);
}

jp_sampler_config jp_trainer_chain_sampler(const jp_trainer *t)
{
    jp_sampler_config c = t->cfg.sampler;
    c.n_steps *= t->steps_scale;
    return c;
}

void jp_trainer_recover(jp_trainer *t, int lost_data, char *remedy, size_t len)
{
    jp_snapshot *s = &t->snap;
    jp_dev_upload(t->dev, jp_wrn_params(t->m), s->params, jp_wrn_param_count(t->m) * sizeof(float));
    jp_dev_upload(t->dev, jp_wrn_buffers(t->m), s->buffers, jp_wrn_buffer_count(t->m) * sizeof(float));
    memcpy(jp_wrn_counters(t->m), s->counters, jp_wrn_counter_count(t->m) * sizeof(int64_t));
    jp_wrn_params_changed(t->m);
    optim_copy(t, 0);
    t->opt.step = s->optim_step;
    t->iter = s->iter;
    t->epoch = s->epoch;
    t->gap_mean = s->gap_mean;
    jp_loader_seek(t->px, s->px_pos[0], s->px_pos[1]);
    jp_loader_seek(t->lab, s->lab_pos[0], s->lab_pos[1]);
    /* the remedy: longer chains or a smaller lr; new noise; the snapshot's chains or fresh ones */
    t->recoveries++;
    int steps = t->cfg.sampler.n_steps * t->steps_scale;
    if (lost_data && steps > 0 && 2 * steps <= t->cfg.gap_max_steps) {
        t->steps_scale *= 2;
        snprintf(remedy, len, "sampler steps %d -> %d, lr scale %.3g", steps, 2 * steps, t->lr_scale);
    } else {
        t->lr_scale *= 0.5;
        snprintf(remedy, len, "lr scale %.3g, sampler steps %d", t->lr_scale, steps);
    }
    t->rng = s->rng;
    for (int i = 0; i < t->recoveries; i++) jp_rng_u64(&t->rng);
    jp_rng_split(&t->rng, jp_wrn_rng(t->m));
    if (!t->buf.x) return;
    size_t at = strlen(remedy);
    snprintf(remedy + at, len - at, ", %s", lost_data ? "the snapshot's buffer chains" : "fresh buffer chains");
    if (!lost_data) {
        jp_trainer_buffer_fill(t);
    } else {
        jp_dev_upload(t->dev, t->d_buf, s->replay, buffer_bytes(t));
    }
}

/* ---- curves ------------------------------------------------------------------ */

/* Reads numeric CSV columns (header line first) into malloc'd arrays. */
static int read_csv(const char *path, int ncols_want, const int *cols, double **out, int *rows)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[1024];
    int cap = 256, n = 0;
    for (int j = 0; j < ncols_want; j++) out[j] = malloc((size_t)cap * sizeof(double));
    if (!fgets(line, sizeof line, f)) {
        fclose(f);
        *rows = 0;
        return 0;
    }
    while (fgets(line, sizeof line, f)) {
        double v[32];
        int k = 0;
        char *p = line;
        while (k < 32) {
            char *end;
            v[k++] = strtod(p, &end);
            p = strchr(end, ',');
            if (!p) break;
            p++;
        }
        if (n == cap) {
            cap *= 2;
            for (int j = 0; j < ncols_want; j++) out[j] = realloc(out[j], (size_t)cap * sizeof(double));
        }
        for (int j = 0; j < ncols_want; j++) out[j][n] = cols[j] < k ? v[cols[j]] : NAN;
        n++;
    }
    fclose(f);
    *rows = n;
    return 0;
}

void jp_trainer_plot_curves(jp_trainer *t)
{
    char path[700], out[700];
    jp_error err;
    if (t->rank > 0) return; /* rank 0 writes the run folder */
    /* epochs.csv: epoch,iter,lr,train_acc,valid_acc,valid_loss,test_acc,test_loss,lse_valid,seconds */
    snprintf(path, sizeof path, "%s/epochs.csv", t->cfg.save_dir);
    int cols[4] = {0, 3, 4, 6}, rows = 0;
    double *c[4] = {0};
    if (read_csv(path, 4, cols, c, &rows) == 0 && rows > 0) {
        jp_series s[3] = {{"train acc", c[0], c[1], rows}, {"valid acc", c[0], c[2], rows}, {"test acc", c[0], c[3], rows}};
        jp_plot_opts o = {"accuracy", "epoch", "accuracy", 640, 400, 0, 0, 0};
        snprintf(out, sizeof out, "%s/curves_accuracy.png", t->cfg.save_dir);
        if (jp_plot_lines(out, &o, s, 3, &err)) fprintf(stderr, "warning: %s\n", err.msg);
    }
    for (int j = 0; j < 4; j++) free(c[j]);
    /* metrics.csv: iter,epoch,lr,loss,ce,acc,lse_data,lse_sample,sec_per_iter */
    snprintf(path, sizeof path, "%s/metrics.csv", t->cfg.save_dir);
    int mcols[4] = {0, 6, 7, 4};
    double *m[4] = {0};
    if (read_csv(path, 4, mcols, m, &rows) == 0 && rows > 0) {
        jp_series s[3] = {{"LSE data", m[0], m[1], rows}, {"LSE samples", m[0], m[2], rows}, {"cross-entropy", m[0], m[3], rows}};
        jp_plot_opts o = {"energies (LSE = -E) and loss", "iteration", "value", 640, 400, 0, 0, 0};
        snprintf(out, sizeof out, "%s/curves_energy.png", t->cfg.save_dir);
        if (jp_plot_lines(out, &o, s, t->use_px ? 3 : 1, &err)) fprintf(stderr, "warning: %s\n", err.msg);
        if (!t->use_px) {
            jp_series ce = {"cross-entropy", m[0], m[3], rows};
            jp_plot_lines(out, &o, &ce, 1, &err);
        }
    }
    for (int j = 0; j < 4; j++) free(m[j]);
}
