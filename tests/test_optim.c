/* Optimisers and lr schedules against PyTorch 1.13 (tests/data/optim_ref.safetensors,
 * written by tools/gen_optim_ref.py), plus checkpoint round trips of the state. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jempp/optim.h"
#include "testutil.h"

#define N_STEPS 5

/* Largest differences against the reference over every optimiser comparison. */
typedef struct {
    double max_abs, max_rel;
    size_t compared, bit_equal;
} diff_stats;

static void stats_add(diff_stats *d, const float *got, const float *ref, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double a = fabs((double)got[i] - (double)ref[i]);
        double r = ref[i] != 0 ? a / fabs((double)ref[i]) : a;
        if (a > d->max_abs) d->max_abs = a;
        if (r > d->max_rel) d->max_rel = r;
        d->compared++;
        if (memcmp(&got[i], &ref[i], sizeof(float)) == 0) d->bit_equal++;
    }
}

/* A float64 reference tensor (exits if absent or of another dtype). */
static double *ref_f64(const jp_st_file *f, const char *name, size_t *count)
{
    const jp_st_entry *e = jp_st_find(f, name);
    if (!e || e->dtype != JP_F64) {
        fprintf(stderr, "reference tensor '%s' missing from %s or not F64\n", name, f->path);
        exit(2);
    }
    size_t n = (e->end - e->begin) / sizeof(double);
    double *p = malloc((n + 1) * sizeof(double));
    memcpy(p, jp_st_data(f, e), n * sizeof(double));
    if (count) *count = n;
    return p;
}

/* hparams: kind, momentum, dampening, nesterov, weight_decay, beta1, beta2, eps,
 * amsgrad, lr */
static void config_from(jp_optim_config *c, const double *h)
{
    memset(c, 0, sizeof *c);
    c->kind = h[0] == 0 ? JP_OPTIM_SGD : JP_OPTIM_ADAM;
    c->momentum = h[1];
    c->dampening = h[2];
    c->nesterov = h[3] != 0;
    c->weight_decay = h[4];
    c->beta1 = h[5];
    c->beta2 = h[6];
    c->eps = h[7];
    c->amsgrad = h[8] != 0;
    c->lr = h[9];
}

/* Runs one reference optimiser for N_STEPS and compares params after each step and
 * the final state. */
static void test_run(tu_ctx *t, const jp_st_file *f, const char *run, diff_stats *ds)
{
    char name[128], what[160];
    size_t n = 0, ng = 0, nh = 0, nl = 0, np = 0;
    float *p = tu_ref_f32(f, "params0", &n);
    float *grads = tu_ref_f32(f, "grads", &ng);
    snprintf(name, sizeof name, "%s.hparams", run);
    double *h = ref_f64(f, name, &nh);
    snprintf(name, sizeof name, "%s.lrs", run);
    double *lrs = ref_f64(f, name, &nl);
    snprintf(name, sizeof name, "%s.params", run);
    float *ref = tu_ref_f32(f, name, &np);
    JP_CHECK(ng == N_STEPS * n && nh == 10 && nl == N_STEPS && np == N_STEPS * n);

    jp_optim_config cfg;
    config_from(&cfg, h);
    jp_optim o;
    jp_error err = {0};
    jp_status st = jp_optim_init(&o, &cfg, n, &err);
    tu_check(t, st == JP_OK, "%s: init (%s)", run, st == JP_OK ? "ok" : err.msg);
    if (st != JP_OK) goto done;
    for (int k = 0; k < N_STEPS; k++) {
        jp_optim_step(&o, p, grads + (size_t)k * n, n, lrs[k]);
        snprintf(what, sizeof what, "%s: params after step %d", run, k + 1);
        tu_close(t, what, p, ref + (size_t)k * n, n, 1e-9, 1e-6);
        stats_add(ds, p, ref + (size_t)k * n, n);
    }
    tu_check(t, o.step == N_STEPS, "%s: step count %lld == %d", run, (long long)o.step, N_STEPS);
    /* the final state, where the reference has it */
    int nstate = jp_optim_state_count(&o);
    for (int i = 1; i < nstate; i++) {
        jp_optim_tensor s = jp_optim_state_tensor(&o, i);
        snprintf(name, sizeof name, "%s.%s", run, s.name + strlen("optim."));
        const jp_st_entry *e = jp_st_find(f, name);
        tu_check(t, e != NULL, "%s: reference has state %s", run, name);
        if (!e) continue;
        size_t ns = 0;
        float *rs = tu_ref_f32(f, name, &ns);
        snprintf(what, sizeof what, "%s: final %s", run, s.name);
        if (ns == s.count) tu_close(t, what, s.data, rs, ns, 1e-9, 1e-6);
        else tu_check(t, 0, "%s: %zu elements, reference %zu", what, s.count, ns);
        stats_add(ds, s.data, rs, ns < s.count ? ns : s.count);
        free(rs);
    }
    /* and no state the reference lacks: SGD without momentum keeps none */
    const char *states[] = {"momentum_buffer", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
    int ref_states = 0;
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "%s.%s", run, states[i]);
        ref_states += jp_st_find(f, name) != NULL;
    }
    tu_check(t, ref_states == nstate - 1, "%s: %d state arrays, reference %d", run, nstate - 1,
             ref_states);
    jp_optim_free(&o);
done:
    free(p);
    free(grads);
    free(h);
    free(lrs);
    free(ref);
}

/* Fills a schedule from S.config [base, warmup, ipe, rate, epochs, shifted] and
 * S.decay_epochs; returns the number of epochs. */
static int schedule_from(jp_lr_schedule *s, const jp_st_file *f, const char *sched)
{
    char name[128];
    size_t nc = 0;
    snprintf(name, sizeof name, "%s.config", sched);
    double *c = ref_f64(f, name, &nc);
    JP_CHECK(nc == 6);
    jp_lr_schedule_init(s, c[0]);
    s->warmup_iters = (int64_t)c[1];
    s->iters_per_epoch = (int64_t)c[2];
    s->decay_rate = c[3];
    s->warmup_mode = c[5] != 0 ? JP_WARMUP_SHIFTED : JP_WARMUP_REFERENCE;
    int epochs = (int)c[4];
    snprintf(name, sizeof name, "%s.decay_epochs", sched);
    const jp_st_entry *e = jp_st_find(f, name);
    JP_CHECK(e != NULL && e->dtype == JP_I64);
    size_t nd = (e->end - e->begin) / sizeof(int64_t);
    JP_CHECK(nd <= JP_LR_MAX_DECAYS);
    int64_t d[JP_LR_MAX_DECAYS];
    memcpy(d, jp_st_data(f, e), nd * sizeof(int64_t));
    s->n_decay = (int)nd;
    for (size_t k = 0; k < nd; k++) s->decay_epochs[k] = (int)d[k];
    free(c);
    return epochs;
}

/* The lr of every iteration against the Python transcription of the reference loop. */
static void test_schedule(tu_ctx *t, const jp_st_file *f, const char *sched)
{
    jp_lr_schedule s;
    int epochs = schedule_from(&s, f, sched);
    jp_error err = {0};
    jp_status st = jp_lr_schedule_check(&s, &err);
    tu_check(t, st == JP_OK, "%s: schedule valid (%s)", sched, st == JP_OK ? "ok" : err.msg);
    char name[128];
    snprintf(name, sizeof name, "%s.lr", sched);
    size_t n = 0;
    double *ref = ref_f64(f, name, &n);
    JP_CHECK(n == (size_t)epochs * (size_t)s.iters_per_epoch);
    double *got = malloc(n * sizeof(double));
    size_t exact = 0;
    for (int64_t it = 0; it < (int64_t)n; it++) {
        got[it] = jp_lr_at(&s, (int)(it / s.iters_per_epoch), it);
        exact += got[it] == ref[it];
    }
    char what[160];
    snprintf(what, sizeof what, "%s: lr of %zu iterations", sched, n);
    tu_close_d(t, what, got, ref, n, 1e-15, 1e-12);
    printf("        %zu of %zu lrs bit-identical to Python\n", exact, n);
    free(got);
    free(ref);
}

static void test_cosine(tu_ctx *t, const jp_st_file *f)
{
    size_t nc = 0, n = 0;
    double *c = ref_f64(f, "cosine.config", &nc); /* base, final, total, warmup, iters */
    double *ref = ref_f64(f, "cosine.lr", &n);
    JP_CHECK(nc == 5 && n == (size_t)c[4]);
    jp_lr_schedule s;
    jp_lr_schedule_init(&s, c[0]);
    s.kind = JP_LR_COSINE;
    s.final_lr = c[1];
    s.total_iters = (int64_t)c[2];
    s.warmup_iters = (int64_t)c[3];
    s.iters_per_epoch = 5;
    jp_error err = {0};
    tu_check(t, jp_lr_schedule_check(&s, &err) == JP_OK, "cosine: schedule valid");
    double *got = malloc(n * sizeof(double));
    for (size_t it = 0; it < n; it++) got[it] = jp_lr_at(&s, (int)(it / 5), (int64_t)it);
    tu_close_d(t, "cosine: lr vs Python (with warmup)", got, ref, n, 1e-15, 1e-12);
    free(got);

    /* without warmup: endpoints, midpoint, monotone, constant after the end */
    s.warmup_iters = -1;
    const double base = c[0], fin = c[1];
    const int64_t total = s.total_iters;
    double l0 = jp_lr_at(&s, 0, 0), lmid = jp_lr_at(&s, 0, total / 2);
    double lend = jp_lr_at(&s, 0, total), lafter = jp_lr_at(&s, 0, total + 7);
    tu_check(t, l0 == base, "cosine: lr(0) = %.17g == base %.17g", l0, base);
    tu_check(t, fabs(lmid - 0.5 * (base + fin)) < 1e-15, "cosine: lr(T/2) = %.17g == (base+final)/2",
             lmid);
    tu_check(t, fabs(lend - fin) < 1e-15 && lafter == lend, "cosine: lr(T) = %.17g, lr(T+7) = %.17g == final %g",
             lend, lafter, fin);
    int mono = 1;
    for (int64_t it = 1; it <= total; it++) mono &= jp_lr_at(&s, 0, it) < jp_lr_at(&s, 0, it - 1);
    tu_check(t, mono, "cosine: strictly decreasing over [0, T]");
    /* a closed-form value: t = T/4 gives final + (base - final) * (1 + sqrt(2)/2) / 2 */
    double q = jp_lr_at(&s, 0, total / 4), qref = fin + (base - fin) * (1 + sqrt(0.5)) / 2;
    tu_check(t, fabs(q - qref) < 1e-15, "cosine: lr(T/4) = %.17g, expected %.17g", q, qref);
    s.total_iters = 0;
    tu_check(t, jp_lr_schedule_check(&s, &err) == JP_ERR_ARG, "cosine: total_iters 0 rejected (%s)",
             err.msg);
    free(c);
    free(ref);
}

/* Hand-checked cases of the step schedule, independent of the reference file. */
static void test_schedule_rules(tu_ctx *t)
{
    jp_lr_schedule s;
    jp_error err = {0};
    jp_lr_schedule_init(&s, 0.1);
    tu_check(t, jp_lr_at(&s, 0, 0) == 0.1 && jp_lr_at(&s, 99, 12345) == 0.1,
             "step: constant lr without warmup or decay");
    /* JEM++: warmup 1000, decays x0.2 at 50, 100, 125 (compounding) */
    s.warmup_iters = 1000;
    s.iters_per_epoch = 703;
    s.n_decay = 3;
    s.decay_epochs[0] = 50, s.decay_epochs[1] = 100, s.decay_epochs[2] = 125;
    s.decay_rate = 0.2;
    tu_check(t, jp_lr_schedule_check(&s, &err) == JP_OK, "step: JEM++ schedule valid");
    tu_check(t, jp_lr_at(&s, 0, 0) == 0.0, "step: reference warmup starts at lr 0");
    tu_check(t, jp_lr_at(&s, 0, 500) == 0.1 * 500 / 1000.0, "step: half way through warmup");
    tu_check(t, jp_lr_at(&s, 1, 1000) == 0.1 && jp_lr_at(&s, 49, 49 * 703) == 0.1,
             "step: base lr from iteration 1000 to epoch 49");
    double l125 = jp_lr_at(&s, 125, 125 * 703), e125 = 0.1 * 0.2 * 0.2 * 0.2;
    tu_check(t, jp_lr_at(&s, 50, 50 * 703) == 0.1 * 0.2 && l125 == e125,
             "step: decays compound (epoch 125: %.17g, expected %.17g)", l125, e125);
    s.warmup_mode = JP_WARMUP_SHIFTED;
    tu_check(t, jp_lr_at(&s, 0, 0) == 0.1 / 1000.0 && jp_lr_at(&s, 1, 999) == 0.1,
             "step: shifted warmup: lr(0) = base/W, lr(W-1) = base");
    s.iters_per_epoch = 0;
    tu_check(t, jp_lr_schedule_check(&s, &err) == JP_ERR_ARG,
             "step: warmup + decay without iters_per_epoch rejected (%s)", err.msg);
    s.iters_per_epoch = 10;
    s.decay_epochs[1] = -3;
    tu_check(t, jp_lr_schedule_check(&s, &err) == JP_ERR_ARG, "step: negative decay epoch rejected");
}

static void test_config_checks(tu_ctx *t)
{
    jp_optim_config c;
    jp_optim o;
    jp_error err = {0};
    jp_optim_config_sgd(&c);
    tu_check(t, c.lr == 0.1 && c.momentum == 0.9 && c.weight_decay == 4e-4 && !c.nesterov,
             "config: JEM++ SGD defaults");
    c.nesterov = 1;
    c.dampening = 0.1;
    tu_check(t, jp_optim_init(&o, &c, 10, &err) == JP_ERR_ARG, "config: nesterov with dampening rejected (%s)",
             err.msg);
    jp_optim_config_sgd(&c);
    c.lr = -1;
    tu_check(t, jp_optim_config_check(&c, &err) == JP_ERR_ARG, "config: negative lr rejected");
    jp_optim_config_adam(&c);
    tu_check(t, c.lr == 1e-4 && c.beta1 == 0.9 && c.beta2 == 0.999 && c.eps == 1e-8,
             "config: JEM Adam defaults");
    c.beta2 = 1.0;
    tu_check(t, jp_optim_config_check(&c, &err) == JP_ERR_ARG, "config: beta2 = 1 rejected (%s)", err.msg);
}

/* State save -> restore into a fresh optimiser -> identical continuation (bitwise). */
static void test_resume(tu_ctx *t, const jp_st_file *f, const char *run, const char *dir)
{
    char name[128], path[700];
    size_t n = 0;
    float *p0 = tu_ref_f32(f, "params0", &n);
    float *grads = tu_ref_f32(f, "grads", NULL);
    snprintf(name, sizeof name, "%s.hparams", run);
    double *h = ref_f64(f, name, NULL);
    jp_optim_config cfg;
    config_from(&cfg, h);
    const double lr = cfg.lr;
    jp_error err = {0};
    jp_optim a, b, fresh;
    JP_CHECK(jp_optim_init(&a, &cfg, n, &err) == JP_OK);
    JP_CHECK(jp_optim_init(&b, &cfg, n, &err) == JP_OK);
    JP_CHECK(jp_optim_init(&fresh, &cfg, n, &err) == JP_OK);
    float *pa = malloc(n * sizeof(float)), *pb = malloc(n * sizeof(float));
    float *pf = malloc(n * sizeof(float));
    memcpy(pa, p0, n * sizeof(float));
    for (int k = 0; k < 2; k++) jp_optim_step(&a, pa, grads + (size_t)k * n, n, lr);

    snprintf(path, sizeof path, "%s/%s_state.safetensors", dir, run);
    jp_st_writer w;
    jp_st_writer_init(&w);
    jp_optim_state_save(&a, &w);
    jp_status st = jp_st_writer_save(&w, path, &err);
    jp_st_writer_free(&w);
    tu_check(t, st == JP_OK, "%s resume: state saved (%s)", run, st == JP_OK ? path : err.msg);
    jp_st_file sf;
    memset(&sf, 0, sizeof sf);
    st = st == JP_OK ? jp_st_read(&sf, path, &err) : st;
    st = st == JP_OK ? jp_optim_state_load(&b, &sf, &err) : st;
    tu_check(t, st == JP_OK, "%s resume: state restored (%s)", run, st == JP_OK ? "ok" : err.msg);
    tu_check(t, b.step == 2, "%s resume: restored step %lld == 2", run, (long long)b.step);
    memcpy(pb, pa, n * sizeof(float));
    memcpy(pf, pa, n * sizeof(float));
    for (int k = 2; k < N_STEPS; k++) {
        jp_optim_step(&a, pa, grads + (size_t)k * n, n, lr);
        jp_optim_step(&b, pb, grads + (size_t)k * n, n, lr);
        jp_optim_step(&fresh, pf, grads + (size_t)k * n, n, lr);
    }
    int same = memcmp(pa, pb, n * sizeof(float)) == 0;
    for (int i = 0; i < jp_optim_state_count(&a); i++) {
        jp_optim_tensor ta = jp_optim_state_tensor(&a, i), tb = jp_optim_state_tensor(&b, i);
        same &= strcmp(ta.name, tb.name) == 0 &&
                memcmp(ta.data, tb.data, ta.count * jp_dtype_size(ta.dtype)) == 0;
    }
    tu_check(t, same, "%s resume: params and state bitwise equal after 3 more steps", run);
    tu_check(t, memcmp(pa, pf, n * sizeof(float)) != 0,
             "%s resume: a fresh optimiser (state not restored) diverges", run);

    /* mismatches are refused, naming the tensor */
    jp_optim_config other = cfg;
    other.kind = cfg.kind == JP_OPTIM_SGD ? JP_OPTIM_ADAM : JP_OPTIM_SGD;
    if (other.kind == JP_OPTIM_SGD) other.momentum = 0.9;
    jp_optim wrong;
    JP_CHECK(jp_optim_init(&wrong, &other, n, &err) == JP_OK);
    st = jp_optim_state_load(&wrong, &sf, &err);
    tu_check(t, st == JP_ERR_FORMAT && wrong.step == 0, "%s resume: refused by the other kind (%s)", run,
             err.msg);
    jp_optim_free(&wrong);
    JP_CHECK(jp_optim_init(&wrong, &cfg, n + 1, &err) == JP_OK);
    st = jp_optim_state_load(&wrong, &sf, &err);
    tu_check(t, st == JP_ERR_SHAPE && wrong.step == 0, "%s resume: refused for n+1 parameters (%s)", run,
             err.msg);
    jp_optim_free(&wrong);

    jp_st_close(&sf);
    remove(path);
    jp_optim_free(&a);
    jp_optim_free(&b);
    jp_optim_free(&fresh);
    free(pa);
    free(pb);
    free(pf);
    free(p0);
    free(grads);
    free(h);
}

/* The state tensors the header promises, by kind. */
static void test_state_names(tu_ctx *t)
{
    jp_optim_config c;
    jp_optim o;
    jp_error err = {0};
    jp_optim_config_sgd(&c);
    JP_CHECK(jp_optim_init(&o, &c, 4, &err) == JP_OK);
    jp_optim_tensor t0 = jp_optim_state_tensor(&o, 0), t1 = jp_optim_state_tensor(&o, 1);
    tu_check(t, jp_optim_state_count(&o) == 2 && !strcmp(t0.name, "optim.step") && t0.dtype == JP_I64 &&
                    t0.count == 1 && !strcmp(t1.name, "optim.momentum_buffer") && t1.count == 4 &&
                    t1.dtype == JP_F32,
             "state: SGD has optim.step (I64 [1]) and optim.momentum_buffer (F32 [n])");
    jp_optim_free(&o);
    jp_optim_config_adam(&c);
    c.amsgrad = 1;
    JP_CHECK(jp_optim_init(&o, &c, 4, &err) == JP_OK);
    int ok = jp_optim_state_count(&o) == 4;
    const char *want[] = {"optim.step", "optim.exp_avg", "optim.exp_avg_sq", "optim.max_exp_avg_sq"};
    for (int i = 0; ok && i < 4; i++) ok &= !strcmp(jp_optim_state_tensor(&o, i).name, want[i]);
    tu_check(t, ok, "state: Adam amsgrad has step, exp_avg, exp_avg_sq, max_exp_avg_sq");
    jp_optim_tensor fv = jp_optim_state_find(&o, JP_OPTIM_EXP_AVG_SQ);
    jp_optim_tensor fm = jp_optim_state_find(&o, JP_OPTIM_MOMENTUM_BUFFER);
    tu_check(t, fv.data == (void *)o.exp_avg_sq && fv.count == 4 && fm.data == NULL && fm.count == 0,
             "state: found by name (exp_avg_sq present, momentum_buffer absent)");
    jp_optim_free(&o);
}

/* Above the parallel threshold, 1 thread and several threads give the same bits. */
static void test_threads(tu_ctx *t)
{
    const size_t n = 200003;
    jp_rng r;
    jp_rng_seed(&r, 7);
    float *p0 = malloc(n * sizeof(float)), *g = malloc(2 * n * sizeof(float));
    float *p1 = malloc(n * sizeof(float)), *p2 = malloc(n * sizeof(float));
    jp_rng_fill_normal(&r, p0, n, 0, 1);
    jp_rng_fill_normal(&r, g, 2 * n, 0, 1);
    jp_optim_config cfgs[2];
    jp_optim_config_sgd(&cfgs[0]);
    cfgs[0].nesterov = 1;
    jp_optim_config_adam(&cfgs[1]);
    cfgs[1].amsgrad = 1;
    cfgs[1].weight_decay = 0.01;
    const int saved = omp_get_max_threads();
    for (int k = 0; k < 2; k++) {
        float *out[2] = {p1, p2};
        for (int v = 0; v < 2; v++) {
            omp_set_num_threads(v == 0 ? 1 : 4);
            jp_optim o;
            jp_error err = {0};
            JP_CHECK(jp_optim_init(&o, &cfgs[k], n, &err) == JP_OK);
            memcpy(out[v], p0, n * sizeof(float));
            jp_optim_step(&o, out[v], g, n, cfgs[k].lr);
            jp_optim_step(&o, out[v], g + n, n, cfgs[k].lr);
            jp_optim_free(&o);
        }
        tu_check(t, memcmp(p1, p2, n * sizeof(float)) == 0 && memcmp(p1, p0, n * sizeof(float)) != 0,
                 "%s: 1 thread == 4 threads, bitwise (n = %zu)", k ? "adam" : "sgd", n);
    }
    omp_set_num_threads(saved);
    free(p0);
    free(g);
    free(p1);
    free(p2);
}

int main(void)
{
    tu_ctx t;
    tu_begin(&t, "test_optim");
    char path[600], dir[600];
    jp_st_file f;
    jp_error err = {0};
    memset(&f, 0, sizeof f);
    jp_status st = jp_st_read(&f, tu_src_path(path, sizeof path, "tests/data/optim_ref.safetensors"), &err);
    tu_check(&t, st == JP_OK, "read %s (%s)", path, st == JP_OK ? "ok" : err.msg);
    if (st != JP_OK) return tu_finish(&t);

    diff_stats ds = {0, 0, 0, 0};
    const char *runs[] = {"sgd", "sgd_nesterov", "sgd_damp", "sgd_plain", "sgd_sched",
                          "adam", "adam_amsgrad", "adam_wd", "adam_plain"};
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) test_run(&t, &f, runs[i], &ds);
    printf("        vs PyTorch: max |diff| %.3g, max rel diff %.3g\n", ds.max_abs, ds.max_rel);
    /* The kernels follow PyTorch's float32 operation order (fused multiply-adds where
     * its CPU kernels fuse), so every value agrees to the bit; a reordered formula
     * stays inside the tolerance above but shows here. */
    tu_check(&t, ds.compared > 0 && ds.bit_equal == ds.compared,
             "optimisers: %zu of %zu floats bit-identical to PyTorch (operation order)", ds.bit_equal,
             ds.compared);

    const char *scheds[] = {"sched", "sched_shifted", "sched_early", "sched_nowarm"};
    for (size_t i = 0; i < sizeof scheds / sizeof scheds[0]; i++) test_schedule(&t, &f, scheds[i]);
    test_cosine(&t, &f);
    test_schedule_rules(&t);
    test_config_checks(&t);
    test_state_names(&t);

    tu_tmpdir(dir, sizeof dir, "optim");
    test_resume(&t, &f, "sgd", dir);
    test_resume(&t, &f, "adam_amsgrad", dir);
    rmdir(dir);
    test_threads(&t);

    jp_st_close(&f);
    return tu_finish(&t);
}
