/* The 2-D toy of toy.h: data sets, their mode regions, and the PCD training loop of an
 * MLP energy model. */
#include "jempp/toy.h"

#include <math.h>
#include <string.h>

#define TOY_PI 3.14159265358979323846
#define G8_RADIUS 2.8284271247461903  /* 2 sqrt(2) */
#define G8_STD 0.35355339059327373    /* 0.5 / sqrt(2) */
#define G8_REGION (2.5 * G8_STD)
#define G8_CELL 1.0823922002923940   /* half the distance between neighbours: R sin(pi/8) */
#define RING_COUNT 3
#define RING_R0 1.0
#define RING_STEP 1.0
#define RING_STD 0.1
#define RING_RADIUS(k) (RING_R0 + RING_STEP * (double)(k))
#define RING_HALF_WIDTH (RING_STEP / 3.0)
#define RING_CELL (RING_STEP / 2.0)

/* ---- data ------------------------------------------------------------------ */

const char *jp_toy_name(jp_toy_kind k) { return k == JP_TOY_RINGS ? "rings" : "8gaussians"; }

jp_status jp_toy_parse(const char *name, jp_toy_kind *k, jp_error *err)
{
    if (!strcmp(name, "8gaussians")) *k = JP_TOY_8GAUSSIANS;
    else if (!strcmp(name, "rings")) *k = JP_TOY_RINGS;
    else return jp_fail(err, JP_ERR_ARG, "toy data set '%s': expected 8gaussians or rings", name);
    return JP_OK;
}

int jp_toy_n_modes(jp_toy_kind k) { return k == JP_TOY_RINGS ? RING_COUNT : 8; }

static void draw_one(jp_toy_kind k, float *p, jp_rng *rng)
{
    if (k == JP_TOY_RINGS) {
        /* ring k with probability proportional to its radius (uniform along the circles'
         * total length): k uniform, accepted with probability R_k / R_max */
        int k;
        do k = (int)jp_rng_below(rng, RING_COUNT);
        while (jp_rng_uniform(rng) * RING_RADIUS(RING_COUNT - 1) >= RING_RADIUS(k));
        double r = RING_RADIUS(k);
        double th = 2.0 * TOY_PI * jp_rng_uniform(rng);
        double nx = jp_rng_normal(rng), ny = jp_rng_normal(rng);
        p[0] = (float)(r * cos(th) + RING_STD * nx);
        p[1] = (float)(r * sin(th) + RING_STD * ny);
    } else {
        double th = (double)jp_rng_below(rng, 8) * TOY_PI / 4.0;
        double nx = jp_rng_normal(rng), ny = jp_rng_normal(rng);
        p[0] = (float)(G8_RADIUS * cos(th) + G8_STD * nx);
        p[1] = (float)(G8_RADIUS * sin(th) + G8_STD * ny);
    }
}

void jp_toy_draw(jp_toy_kind k, float *x, int n, jp_rng *rng)
{
    for (int i = 0; i < n; i++) draw_one(k, x + 2 * i, rng);
}

void jp_toy_region(jp_toy_kind k, int m, double *cx, double *cy, double *r_in, double *r_out)
{
    if (k == JP_TOY_RINGS) {
        *cx = *cy = 0.0;
        *r_in = RING_RADIUS(m) - RING_HALF_WIDTH;
        *r_out = RING_RADIUS(m) + RING_HALF_WIDTH;
    } else {
        *cx = G8_RADIUS * cos(m * TOY_PI / 4.0);
        *cy = G8_RADIUS * sin(m * TOY_PI / 4.0);
        *r_in = 0.0;
        *r_out = G8_REGION;
    }
}

/* The nearest mode to (x, y) and the distance to it (to a Gaussian's centre, or to a
 * ring's circle). */
static int nearest_mode(jp_toy_kind k, float x, float y, double *dist)
{
    double r = sqrt((double)x * x + (double)y * y);
    if (k == JP_TOY_RINGS) {
        long m = lround((r - RING_R0) / RING_STEP);
        m = m < 0 ? 0 : m >= RING_COUNT ? RING_COUNT - 1 : m;
        *dist = fabs(r - RING_RADIUS(m));
        return (int)m;
    }
    int m = (int)((lround(atan2((double)y, (double)x) / (TOY_PI / 4.0)) + 8) % 8);
    double dx = x - G8_RADIUS * cos(m * TOY_PI / 4.0), dy = y - G8_RADIUS * sin(m * TOY_PI / 4.0);
    *dist = sqrt(dx * dx + dy * dy);
    return m;
}

int jp_toy_mode_of(jp_toy_kind k, int cells, float x, float y)
{
    double d, reach = k == JP_TOY_RINGS ? (cells ? RING_CELL : RING_HALF_WIDTH) : (cells ? G8_CELL : G8_REGION);
    int m = nearest_mode(k, x, y, &d);
    return d < reach ? m : -1;
}

void jp_toy_mode_mass(jp_toy_kind k, int cells, const float *x, int n, double *mass)
{
    int nm = jp_toy_n_modes(k);
    long count[JP_TOY_MAX_MODES + 1] = {0};
    for (int i = 0; i < n; i++) {
        int m = jp_toy_mode_of(k, cells, x[2 * i], x[2 * i + 1]);
        count[m < 0 ? nm : m]++;
    }
    for (int m = 0; m <= nm; m++) mass[m] = n > 0 ? (double)count[m] / n : 0.0;
}

void jp_toy_true_mass(jp_toy_kind k, int cells, double *mass)
{
    enum { N = 1000000 };
    int nm = jp_toy_n_modes(k);
    long count[JP_TOY_MAX_MODES + 1] = {0};
    jp_rng rng;
    jp_rng_seed(&rng, 0x70795eedULL);
    for (int i = 0; i < N; i++) {
        float p[2];
        draw_one(k, p, &rng);
        int m = jp_toy_mode_of(k, cells, p[0], p[1]);
        count[m < 0 ? nm : m]++;
    }
    for (int m = 0; m <= nm; m++) mass[m] = (double)count[m] / N;
}

/* ---- configuration ----------------------------------------------------------- */

void jp_toy_config_default(jp_toy_config *c, jp_toy_kind k)
{
    memset(c, 0, sizeof *c);
    c->data = k;
    c->hidden = 32;
    c->n_hidden = 3;
    c->slope = 0.2f;
    c->batch_size = 128;
    c->lr = 1e-2;
    c->beta1 = 0.9;
    c->beta2 = 0.999;
    c->iters = 0;
    c->final_lr = 3e-3;
    c->l2 = 0.01f;
    c->sampler = JP_SAMPLER_SGLD;
    c->n_steps = 10;
    c->in_steps = 5;
    c->step = k == JP_TOY_RINGS ? 0.005f : 0.01f;
    c->noise = sqrtf(2.0f * c->step); /* Langevin: samples of p itself */
    c->eps = 1.0f;
    c->buffer_size = 10000;
    c->reinit_freq = 0.05f;
    c->seed = 1;
}

jp_status jp_toy_config_check(const jp_toy_config *c, jp_error *err)
{
    if (c->data != JP_TOY_8GAUSSIANS && c->data != JP_TOY_RINGS)
        return jp_fail(err, JP_ERR_ARG, "toy data set %d: expected 8gaussians or rings", (int)c->data);
    if (c->batch_size < 1 || c->buffer_size < c->batch_size)
        return jp_fail(err, JP_ERR_ARG, "--batch_size %d, --buffer_size %d: need 1 <= batch <= buffer",
                       c->batch_size, c->buffer_size);
    if (c->sampler != JP_SAMPLER_SGLD && c->sampler != JP_SAMPLER_PROXIMAL && c->sampler != JP_SAMPLER_PYLD)
        return jp_fail(err, JP_ERR_ARG, "toy sampler %d: expected sgld, proximal or pyld", (int)c->sampler);
    if (c->n_steps < 0 || c->in_steps < 1)
        return jp_fail(err, JP_ERR_ARG, "--n_steps %d must be >= 0 and --in_steps %d >= 1", c->n_steps,
                       c->in_steps);
    if (!isfinite(c->step) || !(c->noise >= 0) || !isfinite(c->noise) || !(c->eps > 0) || !isfinite(c->eps))
        return jp_fail(err, JP_ERR_ARG, "--step %g, --noise %g, --eps %g: need finite, noise >= 0, eps > 0",
                       c->step, c->noise, c->eps);
    if (!(c->lr > 0) || !(c->final_lr >= 0) || c->iters < 0 || !isfinite(c->lr) || !isfinite(c->final_lr))
        return jp_fail(err, JP_ERR_ARG, "--lr %g must be > 0, --final_lr %g >= 0 and --iters %d >= 0", c->lr,
                       c->final_lr, c->iters);
    if (!(c->reinit_freq >= 0 && c->reinit_freq <= 1) || !(c->l2 >= 0) || !isfinite(c->l2))
        return jp_fail(err, JP_ERR_ARG, "--reinit_freq %g must lie in [0, 1] and --l2 %g be >= 0",
                       c->reinit_freq, c->l2);
    return JP_OK;
}

/* ---- trainer ----------------------------------------------------------------- */

/* Uniform on the box; ctx points to the box half-width (jp_init_fn). */
static void init_box(void *ctx, float *x, int n, int fixed_class, jp_rng *rng)
{
    (void)fixed_class;
    float b = *(const float *)ctx;
    jp_rng_fill_uniform(rng, x, (size_t)n * 2, -b, b);
}

jp_status jp_toy_trainer_init(jp_toy_trainer *t, const jp_toy_config *c, jp_error *err)
{
    memset(t, 0, sizeof *t);
    jp_status st = jp_toy_config_check(c, err);
    if (st) return st;
    t->cfg = *c;
    t->box = JP_TOY_BOX;
    int b2 = 2 * c->batch_size;
    jp_rng_seed(&t->rng, c->seed);
    st = jp_mlp_create(&t->mlp, b2, 2, c->hidden, c->n_hidden, 1, c->slope, err);
    jp_optim_config oc;
    jp_optim_config_adam(&oc);
    oc.lr = c->lr;
    oc.beta1 = c->beta1;
    oc.beta2 = c->beta2;
    if (!st) st = jp_optim_init(&t->opt, &oc, t->mlp.n_params, err);
    jp_lr_schedule_init(&t->sched, c->lr);
    if (c->iters > 0) {
        t->sched.kind = JP_LR_COSINE;
        t->sched.total_iters = c->iters;
        t->sched.final_lr = c->final_lr;
    }
    if (!st) st = jp_buffer_init(&t->buf, c->buffer_size, 2, 1, err);
    if (st) {
        jp_toy_trainer_free(t);
        return st;
    }
    t->x = jp_alloc((size_t)b2 * 2 * sizeof(float));
    t->grad = jp_alloc((size_t)b2 * 2 * sizeof(float));
    t->dout = jp_alloc((size_t)b2 * sizeof(float));
    t->idx = jp_alloc((size_t)c->batch_size * sizeof(int));
    if (!t->x || !t->grad || !t->dout || !t->idx) {
        jp_toy_trainer_free(t);
        return jp_fail(err, JP_ERR_NOMEM, "toy trainer buffers (batch %d)", c->batch_size);
    }
    jp_mlp_init_params(&t->mlp, &t->rng);
    jp_buffer_fill(&t->buf, init_box, &t->box, 0, &t->rng);
    return JP_OK;
}

void jp_toy_trainer_free(jp_toy_trainer *t)
{
    jp_mlp_free(&t->mlp);
    if (t->opt.n) jp_optim_free(&t->opt);
    jp_buffer_free(&t->buf);
    jp_free(t->x);
    jp_free(t->grad);
    jp_free(t->dout);
    jp_free(t->idx);
    memset(t, 0, sizeof *t);
}

static inline float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

/* t->grad (n, 2) = grad_x f(x): forward, then backward of sum_i f(x_i) (dout = 1). */
static void input_grad(jp_toy_trainer *t, const float *x, int n)
{
    jp_mlp_forward(&t->mlp, x, n);
    for (int i = 0; i < n; i++) t->dout[i] = 1.0f;
    jp_mlp_backward(&t->mlp, t->grad, t->dout, 0);
}

/* The sampler of toy.h on n <= 2B rows. */
static void sample_chunk(jp_toy_trainer *t, float *x, int n, int n_steps)
{
    const jp_toy_config *c = &t->cfg;
    float lr = c->step, eps = c->eps, b = t->box;
    int inner = c->sampler == JP_SAMPLER_PYLD ? c->in_steps : 1;
    for (int s = 0; s < n_steps; s++) {
        input_grad(t, x, n);
        const float *g = t->grad;
        for (int k = 0; k < inner; k++) {
            for (int i = 0; i < 2 * n; i++) {
                float z = c->noise > 0 ? (float)jp_rng_normal(&t->rng) : 0.0f, v;
                if (c->sampler == JP_SAMPLER_SGLD) v = x[i] + lr * g[i] + c->noise * z;
                else if (c->sampler == JP_SAMPLER_PROXIMAL)
                    v = x[i] + 0.5f * lr * clampf(g[i], -eps, eps) + lr * c->noise * z;
                else v = x[i] + lr * clampf(g[i], -eps, eps) + c->noise * z;
                x[i] = clampf(v, -b, b);
            }
        }
    }
}

void jp_toy_sample(jp_toy_trainer *t, float *x, int n, int n_steps)
{
    for (int i = 0; i < n; i += t->mlp.batch) {
        int m = n - i < t->mlp.batch ? n - i : t->mlp.batch;
        sample_chunk(t, x + 2 * (size_t)i, m, n_steps);
    }
}

void jp_toy_buffer_samples(const jp_toy_trainer *t, float *x, int n)
{
    JP_CHECK(n >= 0);
    for (int i = 0; i < n; i++) {
        size_t slot = (size_t)i * (size_t)t->buf.size / (size_t)(n ? n : 1);
        memcpy(x + 2 * (size_t)i, t->buf.x + 2 * slot, 2 * sizeof(float));
    }
}

void jp_toy_energy(jp_toy_trainer *t, const float *x, int n, float *e)
{
    for (int i = 0; i < n; i += t->mlp.batch) {
        int m = n - i < t->mlp.batch ? n - i : t->mlp.batch;
        const float *f = jp_mlp_forward(&t->mlp, x + 2 * (size_t)i, m);
        for (int j = 0; j < m; j++) e[i + j] = -f[j];
    }
}

void jp_toy_energy_grid(jp_toy_trainer *t, int side, float *e)
{
    double h = 2.0 * t->box / side;
    float *row = t->x; /* scratch of 2B points: the grid goes through in chunks of 2B */
    int cap = t->mlp.batch;
    size_t total = (size_t)side * side;
    for (size_t i0 = 0; i0 < total; i0 += (size_t)cap) {
        int m = total - i0 < (size_t)cap ? (int)(total - i0) : cap;
        for (int j = 0; j < m; j++) {
            size_t c = i0 + (size_t)j;
            row[2 * j] = (float)(-t->box + ((double)(c % (size_t)side) + 0.5) * h);
            row[2 * j + 1] = (float)(-t->box + ((double)(c / (size_t)side) + 0.5) * h);
        }
        jp_toy_energy(t, row, m, e + i0);
    }
}

void jp_toy_grid_mass(jp_toy_kind k, const float *e, int side, double *mass)
{
    int nm = jp_toy_n_modes(k);
    size_t total = (size_t)side * side;
    double emin = INFINITY, sum = 0.0, h = 2.0 * JP_TOY_BOX / side;
    for (size_t i = 0; i < total; i++)
        if (e[i] < emin) emin = e[i];
    for (int m = 0; m <= nm; m++) mass[m] = 0.0;
    for (size_t i = 0; i < total; i++) {
        double p = exp(emin - (double)e[i]); /* shifted for range; the shift cancels */
        float x = (float)(-JP_TOY_BOX + ((double)(i % (size_t)side) + 0.5) * h);
        float y = (float)(-JP_TOY_BOX + ((double)(i / (size_t)side) + 0.5) * h);
        int mo = jp_toy_mode_of(k, 0, x, y);
        mass[mo < 0 ? nm : mo] += p;
        sum += p;
    }
    for (int m = 0; m <= nm; m++) mass[m] /= sum;
}

jp_status jp_toy_step(jp_toy_trainer *t, jp_toy_stats *s, jp_error *err)
{
    const jp_toy_config *c = &t->cfg;
    int bs = c->batch_size;
    float *xd = t->x, *xq = t->x + 2 * (size_t)bs;
    jp_toy_draw(c->data, xd, bs, &t->rng);
    jp_buffer_sample(&t->buf, xq, t->idx, bs, NULL, c->reinit_freq, init_box, &t->box, &t->rng);
    sample_chunk(t, xq, bs, c->n_steps);
    jp_buffer_put(&t->buf, xq, t->idx, bs);

    const float *f = jp_mlp_forward(&t->mlp, t->x, 2 * bs);
    double fd = 0, fq = 0, fd2 = 0, fq2 = 0;
    for (int i = 0; i < bs; i++) {
        fd += f[i];
        fd2 += (double)f[i] * f[i];
        fq += f[bs + i];
        fq2 += (double)f[bs + i] * f[bs + i];
    }
    fd /= bs, fq /= bs, fd2 /= bs, fq2 /= bs;
    double loss = fq - fd + c->l2 * (fd2 + fq2);
    if (s) s->loss = loss, s->f_data = fd, s->f_sample = fq;
    if (!isfinite(loss))
        return jp_fail(err, JP_ERR_NUMERIC, "toy: loss %g at iteration %lld", loss, (long long)t->iter);
    /* dL/df: see toy.h */
    for (int i = 0; i < bs; i++) {
        t->dout[i] = (-1.0f + 2.0f * c->l2 * f[i]) / (float)bs;
        t->dout[bs + i] = (1.0f + 2.0f * c->l2 * f[bs + i]) / (float)bs;
    }
    jp_mlp_zero_grad(&t->mlp);
    jp_mlp_backward(&t->mlp, NULL, t->dout, 1);
    jp_optim_step(&t->opt, t->mlp.params, t->mlp.grads, t->mlp.n_params, jp_lr_at(&t->sched, 0, t->iter));
    t->iter++;
    return JP_OK;
}
