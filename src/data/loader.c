/* Batch loader. Batch b of epoch e is a pure function of (seed, e, b): the epoch's
 * permutation comes from an RNG seeded by mix(seed, e), and the augmentation of the
 * image at position p of the epoch from an RNG seeded by mix(seed, e, p). A background
 * thread fills a ring of `prefetch` batch slots ahead of the consumer; seeking bumps a
 * generation counter so that a batch prepared for the old position is discarded. All
 * memory is taken in jp_loader_init. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "jempp/data.h"

typedef struct {
    float *x; /* (B, C, H, W) */
    int *y;   /* (B) */
    int count;
    int64_t epoch, batch;
} slot;

struct jp_loader {
    const jp_dataset *ds;
    int *idx; /* (n) images of ds this loader walks */
    int n;
    jp_loader_config cfg;
    int nb;     /* batches per epoch */
    size_t dim; /* c*h*w */
    /* producer-side state (the worker thread, or the caller when prefetch == 0) */
    int *perm;  /* (n) positions of epoch perm_epoch */
    int64_t perm_epoch;
    /* ring */
    slot *slots;
    int nslots, head, filled;
    int64_t prod_epoch, prod_batch; /* next batch to prepare */
    int64_t cons_epoch, cons_batch; /* next batch to hand out */
    uint64_t gen;
    int stop, threaded;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t ready, space;
};

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t seed_of(uint64_t seed, uint64_t tag, int64_t a, int64_t b)
{
    return mix64(mix64(mix64(seed ^ tag) + (uint64_t)a) + (uint64_t)b);
}

#define TAG_PERM 0x7065726d75746521ull
#define TAG_AUG 0x6175676d656e7421ull

static void make_perm(jp_loader *l, int64_t epoch)
{
    if (l->perm_epoch == epoch) return;
    for (int i = 0; i < l->n; i++) l->perm[i] = i;
    if (l->cfg.shuffle) {
        jp_rng r;
        jp_rng_seed(&r, seed_of(l->cfg.seed, TAG_PERM, epoch, 0));
        for (int i = l->n - 1; i >= 1; i--) {
            int j = (int)jp_rng_below(&r, (uint64_t)i + 1);
            int t = l->perm[i];
            l->perm[i] = l->perm[j];
            l->perm[j] = t;
        }
    }
    l->perm_epoch = epoch;
}

/* Fills x, y with batch (epoch, b); returns its image count. */
static int produce(jp_loader *l, int64_t epoch, int64_t b, float *x, int *y)
{
    make_perm(l, epoch);
    int bs = l->cfg.batch_size;
    int64_t start = b * bs;
    int count = (int)(l->n - start < bs ? l->n - start : bs);
    const jp_dataset *ds = l->ds;
    int aug = l->cfg.pad > 0 || l->cfg.flip || l->cfg.sigma > 0;
    for (int i = 0; i < count; i++) {
        int64_t pos = start + i;
        int src = l->idx[l->perm[pos]];
        const float *in = ds->x + (size_t)src * l->dim;
        float *out = x + (size_t)i * l->dim;
        if (aug) {
            jp_rng r;
            jp_rng_seed(&r, seed_of(l->cfg.seed, TAG_AUG, epoch, pos));
            jp_augment_image(out, in, ds->c, ds->h, ds->w, l->cfg.pad, l->cfg.flip,
                             l->cfg.sigma, &r);
        } else {
            memcpy(out, in, l->dim * sizeof(float));
        }
        if (y) y[i] = ds->y[src];
    }
    return count;
}

static void advance(const jp_loader *l, int64_t *epoch, int64_t *batch)
{
    if (++*batch >= l->nb) {
        *batch = 0;
        ++*epoch;
    }
}

/* The worker runs at the lowest CPU priority (nice 19): it fills the gaps the training
 * step leaves instead of preempting the step's OpenMP threads, whose barriers then wait
 * for the preempted one. Measured beside a 100 ms step on 2 busy cores, two streams
 * slowed the step by 7-18% at normal priority, 2-9% when prepared synchronously, and
 * -2..+6% at nice 19 (docs/results.md). When the ring runs dry the consumer blocks,
 * a core goes idle and the worker gets it, so this is never worse than synchronous. */
static void *worker(void *arg)
{
    jp_loader *l = arg;
#ifdef SYS_gettid
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19); /* best effort */
#endif
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->stop && l->filled == l->nslots) pthread_cond_wait(&l->space, &l->mu);
        if (l->stop) break;
        uint64_t gen = l->gen;
        int64_t e = l->prod_epoch, b = l->prod_batch;
        slot *s = &l->slots[(l->head + l->filled) % l->nslots];
        pthread_mutex_unlock(&l->mu);
        int count = produce(l, e, b, s->x, s->y);
        pthread_mutex_lock(&l->mu);
        if (gen != l->gen) continue; /* a seek happened meanwhile: discard */
        s->count = count;
        s->epoch = e;
        s->batch = b;
        l->filled++;
        advance(l, &l->prod_epoch, &l->prod_batch);
        pthread_cond_signal(&l->ready);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

jp_loader_config jp_loader_config_train(const jp_data *d, int batch_size, uint64_t stream)
{
    jp_loader_config c;
    memset(&c, 0, sizeof c);
    c.batch_size = batch_size;
    c.shuffle = 1;
    c.drop_last = 1;
    c.pad = d->pad;
    c.flip = d->flip;
    c.sigma = d->sigma;
    c.seed = mix64(d->seed ^ mix64(stream + 0x53545245414dull));
    c.prefetch = 4;
    return c;
}

jp_loader_config jp_loader_config_eval(int batch_size)
{
    jp_loader_config c;
    memset(&c, 0, sizeof c);
    c.batch_size = batch_size;
    c.prefetch = 4;
    return c;
}

static void loader_release(jp_loader *l)
{
    if (l->slots)
        for (int i = 0; i < l->nslots; i++) {
            jp_free(l->slots[i].x);
            free(l->slots[i].y);
        }
    free(l->slots);
    free(l->idx);
    free(l->perm);
    free(l);
}

jp_status jp_loader_init(jp_loader **out, const jp_dataset *ds, const int *idx, int n_idx,
                         const jp_loader_config *cfg, jp_error *err)
{
    *out = NULL;
    int n = idx ? n_idx : ds->n;
    if (cfg->batch_size < 1)
        return jp_fail(err, JP_ERR_ARG, "loader over %s: batch size %d must be >= 1", ds->name,
                       cfg->batch_size);
    if (n < 1) return jp_fail(err, JP_ERR_ARG, "loader over %s: no images", ds->name);
    if (cfg->drop_last && n < cfg->batch_size)
        return jp_fail(err, JP_ERR_ARG, "loader over %s: %d images, fewer than one batch of %d "
                       "(and the last partial batch is dropped)", ds->name, n, cfg->batch_size);
    if (cfg->pad < 0 || cfg->pad >= ds->h || cfg->pad >= ds->w || !(cfg->sigma >= 0))
        return jp_fail(err, JP_ERR_ARG, "loader over %s: pad %d must be in [0, %d) and sigma %g "
                       ">= 0", ds->name, cfg->pad, ds->h < ds->w ? ds->h : ds->w,
                       (double)cfg->sigma);
    if (cfg->prefetch < 0 || cfg->prefetch > 64)
        return jp_fail(err, JP_ERR_ARG, "loader: prefetch %d must be in 0..64", cfg->prefetch);
    if (idx)
        for (int i = 0; i < n; i++)
            if (idx[i] < 0 || idx[i] >= ds->n)
                return jp_fail(err, JP_ERR_ARG, "loader over %s: index %d at position %d is "
                               "outside 0..%d", ds->name, idx[i], i, ds->n - 1);
    jp_loader *l = calloc(1, sizeof *l);
    if (!l) return jp_fail(err, JP_ERR_NOMEM, "cannot allocate the loader");
    l->ds = ds;
    l->n = n;
    l->cfg = *cfg;
    l->dim = jp_dataset_dim(ds);
    l->nb = cfg->drop_last ? n / cfg->batch_size : (n + cfg->batch_size - 1) / cfg->batch_size;
    l->idx = malloc((size_t)n * sizeof(int));
    l->perm = malloc((size_t)n * sizeof(int));
    l->perm_epoch = -1;
    l->nslots = cfg->prefetch;
    l->slots = l->nslots ? calloc((size_t)l->nslots, sizeof(slot)) : NULL;
    int ok = l->idx && l->perm && (l->nslots == 0 || l->slots);
    for (int i = 0; ok && i < l->nslots; i++) {
        l->slots[i].x = jp_alloc((size_t)cfg->batch_size * l->dim * sizeof(float));
        l->slots[i].y = malloc((size_t)cfg->batch_size * sizeof(int));
        ok = l->slots[i].x && l->slots[i].y;
    }
    if (!ok) {
        loader_release(l);
        return jp_fail(err, JP_ERR_NOMEM, "cannot allocate the loader's %d batch slots",
                       cfg->prefetch);
    }
    for (int i = 0; i < n; i++) l->idx[i] = idx ? idx[i] : i;
    if (l->nslots > 0) {
        pthread_mutex_init(&l->mu, NULL);
        pthread_cond_init(&l->ready, NULL);
        pthread_cond_init(&l->space, NULL);
        if (pthread_create(&l->thread, NULL, worker, l) != 0) {
            pthread_mutex_destroy(&l->mu);
            pthread_cond_destroy(&l->ready);
            pthread_cond_destroy(&l->space);
            loader_release(l);
            return jp_fail(err, JP_ERR_NOMEM, "cannot start the loader thread");
        }
        l->threaded = 1;
    }
    *out = l;
    return JP_OK;
}

int jp_loader_batches_per_epoch(const jp_loader *l) { return l->nb; }

int jp_loader_next(jp_loader *l, float *x, int *y)
{
    if (!l->threaded) {
        int count = produce(l, l->cons_epoch, l->cons_batch, x, y);
        advance(l, &l->cons_epoch, &l->cons_batch);
        return count;
    }
    pthread_mutex_lock(&l->mu);
    while (l->filled == 0) pthread_cond_wait(&l->ready, &l->mu);
    slot *s = &l->slots[l->head];
    JP_CHECK(s->epoch == l->cons_epoch && s->batch == l->cons_batch);
    memcpy(x, s->x, (size_t)s->count * l->dim * sizeof(float));
    if (y) memcpy(y, s->y, (size_t)s->count * sizeof(int));
    int count = s->count;
    l->head = (l->head + 1) % l->nslots;
    l->filled--;
    advance(l, &l->cons_epoch, &l->cons_batch);
    pthread_cond_signal(&l->space);
    pthread_mutex_unlock(&l->mu);
    return count;
}

void jp_loader_tell(const jp_loader *l, int64_t *epoch, int64_t *batch)
{
    jp_loader *m = (jp_loader *)l;
    if (l->threaded) pthread_mutex_lock(&m->mu);
    *epoch = l->cons_epoch;
    *batch = l->cons_batch;
    if (l->threaded) pthread_mutex_unlock(&m->mu);
}

void jp_loader_seek(jp_loader *l, int64_t epoch, int64_t batch)
{
    JP_CHECK(epoch >= 0 && batch >= 0 && batch < l->nb);
    if (!l->threaded) {
        l->cons_epoch = epoch;
        l->cons_batch = batch;
        return;
    }
    pthread_mutex_lock(&l->mu);
    l->gen++;
    l->head = 0;
    l->filled = 0;
    l->cons_epoch = l->prod_epoch = epoch;
    l->cons_batch = l->prod_batch = batch;
    pthread_cond_signal(&l->space);
    pthread_mutex_unlock(&l->mu);
}

void jp_loader_free(jp_loader *l)
{
    if (!l) return;
    if (l->threaded) {
        pthread_mutex_lock(&l->mu);
        l->stop = 1;
        pthread_cond_broadcast(&l->space);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->thread, NULL);
        pthread_mutex_destroy(&l->mu);
        pthread_cond_destroy(&l->ready);
        pthread_cond_destroy(&l->space);
    }
    loader_release(l);
}
