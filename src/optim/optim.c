/* The optimiser object: configuration, state allocation, dispatch, and the state
 * tensors a checkpoint saves and restores. */
#include <string.h>

#include "jempp/optim.h"
#include "ops/device.h"

void jp_optim_config_sgd(jp_optim_config *c)
{
    memset(c, 0, sizeof *c);
    c->kind = JP_OPTIM_SGD;
    c->lr = 0.1;
    c->momentum = 0.9;
    c->weight_decay = 4e-4;
    c->beta1 = 0.9;
    c->beta2 = 0.999;
    c->eps = 1e-8;
}

void jp_optim_config_adam(jp_optim_config *c)
{
    memset(c, 0, sizeof *c);
    c->kind = JP_OPTIM_ADAM;
    c->lr = 1e-4;
    c->beta1 = 0.9;
    c->beta2 = 0.999;
    c->eps = 1e-8;
}

/* The same checks, in the same words, as torch.optim's constructors. */
jp_status jp_optim_config_check(const jp_optim_config *c, jp_error *err)
{
    if (c->kind != JP_OPTIM_SGD && c->kind != JP_OPTIM_ADAM)
        return jp_fail(err, JP_ERR_ARG, "optimiser: unknown kind %d", (int)c->kind);
    if (!(c->lr >= 0)) return jp_fail(err, JP_ERR_ARG, "optimiser: invalid learning rate: %g", c->lr);
    if (!(c->weight_decay >= 0))
        return jp_fail(err, JP_ERR_ARG, "optimiser: invalid weight_decay value: %g", c->weight_decay);
    if (c->kind == JP_OPTIM_SGD) {
        if (!(c->momentum >= 0))
            return jp_fail(err, JP_ERR_ARG, "SGD: invalid momentum value: %g", c->momentum);
        if (c->nesterov && (c->momentum <= 0 || c->dampening != 0))
            return jp_fail(err, JP_ERR_ARG,
                           "SGD: nesterov momentum requires a momentum and zero dampening "
                           "(momentum %g, dampening %g)", c->momentum, c->dampening);
    } else {
        if (!(c->eps >= 0)) return jp_fail(err, JP_ERR_ARG, "Adam: invalid epsilon value: %g", c->eps);
        if (!(c->beta1 >= 0 && c->beta1 < 1))
            return jp_fail(err, JP_ERR_ARG, "Adam: invalid beta parameter at index 0: %g", c->beta1);
        if (!(c->beta2 >= 0 && c->beta2 < 1))
            return jp_fail(err, JP_ERR_ARG, "Adam: invalid beta parameter at index 1: %g", c->beta2);
    }
    return JP_OK;
}

/* Allocates the arrays the kind needs; everything else stays NULL. */
jp_status jp_optim_init(jp_optim *o, const jp_optim_config *cfg, size_t n, jp_error *err)
{
    return jp_optim_init_on(o, cfg, n, NULL, err);
}

jp_status jp_optim_init_on(jp_optim *o, const jp_optim_config *cfg, size_t n, const jp_device *dev,
                           jp_error *err)
{
    memset(o, 0, sizeof *o);
    jp_status st = jp_optim_config_check(cfg, err);
    if (st != JP_OK) return st;
    o->cfg = *cfg;
    o->dev = dev ? dev : jp_device_cpu();
    o->n = n;
    const size_t bytes = (n ? n : 1) * sizeof(float);
    float **need[3] = {NULL, NULL, NULL};
    if (cfg->kind == JP_OPTIM_SGD) {
        if (cfg->momentum != 0) need[0] = &o->momentum_buffer;
    } else {
        need[0] = &o->exp_avg;
        need[1] = &o->exp_avg_sq;
        if (cfg->amsgrad) need[2] = &o->max_exp_avg_sq;
    }
    for (int k = 0; k < 3; k++) {
        if (!need[k]) continue;
        *need[k] = jp_dev_alloc(o->dev, bytes);
        if (!*need[k]) {
            jp_optim_free(o);
            return jp_fail(err, JP_ERR_NOMEM, "optimiser: cannot allocate %zu bytes of state", bytes);
        }
    }
    return JP_OK;
}

void jp_optim_free(jp_optim *o)
{
    float *arrays[4] = {o->momentum_buffer, o->exp_avg, o->exp_avg_sq, o->max_exp_avg_sq};
    for (int k = 0; k < 4; k++)
        if (arrays[k]) jp_dev_release(o->dev, arrays[k]);
    o->momentum_buffer = o->exp_avg = o->exp_avg_sq = o->max_exp_avg_sq = NULL;
    jp_free(o->host);
    o->host = NULL;
    o->n = 0;
    o->step = 0;
}

void jp_optim_reset(jp_optim *o)
{
    float *arrays[4] = {o->momentum_buffer, o->exp_avg, o->exp_avg_sq, o->max_exp_avg_sq};
    for (int k = 0; k < 4; k++)
        if (arrays[k]) jp_dev_zero(o->dev, arrays[k], o->n * sizeof(float));
    o->step = 0;
}

/* SGD: first step when step == 0 (PyTorch's momentum buffer is None). Adam: the
 * step count is incremented before the update, as PyTorch's state['step']. */
void jp_optim_step(jp_optim *o, float *params, const float *grads, size_t n, double lr)
{
    JP_CHECK(o != NULL && n == o->n);
    const jp_device *d = o->dev;
    if (o->cfg.kind == JP_OPTIM_SGD) {
        d->ops->sgd_update(d->state, &o->cfg, params, grads, o->momentum_buffer, n, o->step == 0, lr);
        o->step++;
    } else {
        o->step++;
        d->ops->adam_update(d->state, &o->cfg, params, grads, o->exp_avg, o->exp_avg_sq, o->max_exp_avg_sq, n,
                            o->step, lr);
    }
}

/* ---- state tensors ---- */

/* Fills names/arrays with the arrays of o in checkpoint order; returns how many. */
static int jp_optim_arrays(const jp_optim *o, const char **names, float **arrays)
{
    int k = 0;
    if (o->momentum_buffer) names[k] = JP_OPTIM_MOMENTUM_BUFFER, arrays[k++] = o->momentum_buffer;
    if (o->exp_avg) names[k] = JP_OPTIM_EXP_AVG, arrays[k++] = o->exp_avg;
    if (o->exp_avg_sq) names[k] = JP_OPTIM_EXP_AVG_SQ, arrays[k++] = o->exp_avg_sq;
    if (o->max_exp_avg_sq) names[k] = JP_OPTIM_MAX_EXP_AVG_SQ, arrays[k++] = o->max_exp_avg_sq;
    return k;
}

int jp_optim_state_count(const jp_optim *o)
{
    const char *names[4];
    float *arrays[4];
    return 1 + jp_optim_arrays(o, names, arrays);
}

jp_optim_tensor jp_optim_state_tensor(const jp_optim *o, int i)
{
    const char *names[4];
    float *arrays[4];
    int k = jp_optim_arrays(o, names, arrays);
    JP_CHECK(i >= 0 && i <= k);
    jp_optim_tensor t;
    if (i == 0) {
        t.name = JP_OPTIM_STEP;
        t.dtype = JP_I64;
        t.count = 1;
        t.data = (void *)&o->step;
    } else {
        t.name = names[i - 1];
        t.dtype = JP_F32;
        t.count = o->n;
        t.data = arrays[i - 1];
    }
    return t;
}

jp_optim_tensor jp_optim_state_find(const jp_optim *o, const char *name)
{
    const int count = jp_optim_state_count(o);
    for (int i = 0; i < count; i++) {
        jp_optim_tensor t = jp_optim_state_tensor(o, i);
        if (strcmp(t.name, name) == 0) return t;
    }
    jp_optim_tensor none = {name, JP_F32, 0, NULL};
    return none;
}

static const char *jp_optim_kind_name(jp_optim_kind k)
{
    return k == JP_OPTIM_SGD ? "sgd" : "adam";
}

/* The host copy of state array k (1..count-1) of an optimiser on a device, allocated
 * once (all arrays together). */
static float *host_array(jp_optim *o, int k)
{
    if (!o->host) {
        o->host = jp_alloc(3 * (o->n ? o->n : 1) * sizeof(float));
        JP_CHECK(o->host != NULL);
    }
    return o->host + (size_t)(k - 1) * o->n;
}

void jp_optim_state_save(jp_optim *o, jp_st_writer *w)
{
    const int count = jp_optim_state_count(o);
    int host = jp_device_is_host(o->dev);
    for (int i = 0; i < count; i++) {
        jp_optim_tensor t = jp_optim_state_tensor(o, i);
        const int64_t shape[1] = {(int64_t)t.count};
        const void *data = t.data;
        if (i > 0 && !host) { /* the arrays (not the step count) live on the device */
            float *h = host_array(o, i);
            jp_dev_download(o->dev, h, t.data, t.count * sizeof(float));
            data = h;
        }
        jp_st_writer_add(w, t.name, t.dtype, 1, shape, data);
    }
    jp_st_writer_meta(w, "optim.kind", jp_optim_kind_name(o->cfg.kind));
}

jp_status jp_optim_state_load(jp_optim *o, const jp_st_file *f, jp_error *err)
{
    const char *kind = jp_st_meta(f, "optim.kind");
    const char *want = jp_optim_kind_name(o->cfg.kind);
    if (kind && strcmp(kind, want) != 0) {
        jp_optim_reset(o);
        return jp_fail(err, JP_ERR_FORMAT, "%s: optimiser state is for %s, this optimiser is %s",
                       f->path, kind, want);
    }
    const int count = jp_optim_state_count(o);
    int host = jp_device_is_host(o->dev);
    for (int i = 0; i < count; i++) {
        jp_optim_tensor t = jp_optim_state_tensor(o, i);
        const int64_t shape[1] = {(int64_t)t.count};
        void *dst = i > 0 && !host ? host_array(o, i) : t.data;
        jp_status st = jp_st_get(f, t.name, t.dtype, 1, shape, dst, err);
        if (st != JP_OK) {
            jp_optim_reset(o);
            return st;
        }
        if (dst != t.data) jp_dev_upload(o->dev, t.data, dst, t.count * sizeof(float));
    }
    if (o->step < 0) {
        int64_t bad = o->step;
        jp_optim_reset(o);
        return jp_fail(err, JP_ERR_FORMAT, "%s: %s is negative (%lld)", f->path, JP_OPTIM_STEP,
                       (long long)bad);
    }
    return JP_OK;
}
