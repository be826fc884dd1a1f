/* The evaluation on a model that lives on a device, against the same model on the CPU:
 * the classifier's accuracy and energies, logits and log p(x) of noisy inputs refined by
 * SGLD, features, the OOD scores (px, py, pxgrad), and the attacker's logits and input
 * gradients, undefended and with JEM's noisy-copies + SGLD defence. The device is a copy
 * of the CPU device's operations that jempp does not take for host memory: the CPU's
 * kernels, so the same numbers, but every array the model touches is a separate device
 * copy, so every upload and download the evaluation needs must happen; one missing
 * leaves the model reading stale arrays. Everything must be equal bit for bit. A model of
 * the copies with batch norm and an unconditional one (log p(x) from the energy head). */
#include <stdlib.h>
#include <string.h>

#include "jempp/attack.h"
#include "jempp/eval.h"
#include "jempp/ood.h"
#include "jempp/wrn.h"
#include "ops/device.h"
#include "testutil.h"

enum { B = 8, N = 20, H = 12 };

static void same(tu_ctx *t, const char *what, const void *a, const void *b, size_t bytes)
{
    tu_check(t, memcmp(a, b, bytes) == 0, "%s: the same bits on the CPU and on the device's copies", what);
}

static void check(tu_ctx *t, const jp_device *dev, int uncond)
{
    jp_wrn_config c;
    jp_wrn_config_defaults(&c);
    c.depth = 10, c.width = 1, c.in_channels = 1, c.image_size = H, c.uncond = uncond;
    jp_wrn *cm = NULL, *dm = NULL;
    jp_error err;
    if (jp_wrn_create(&cm, &c, B, &err)) {
        tu_check(t, 0, "model: %s", err.msg);
        return;
    }
    c.kernels.device = dev;
    if (jp_wrn_create(&dm, &c, B, &err)) {
        tu_check(t, 0, "model on the device: %s", err.msg);
        jp_wrn_free(cm);
        return;
    }
    tu_check(t, jp_wrn_on_host(cm) && !jp_wrn_on_host(dm), "the device's model is not on the host");
    jp_rng r;
    jp_rng_seed(&r, uncond ? 3 : 2);
    jp_wrn_init_params(cm, &r);
    float *cp, *cb, *dp, *db;
    jp_wrn_host_view(cm, &cp, &cb);
    jp_wrn_host_view(dm, &dp, &db);
    memcpy(dp, cp, jp_wrn_param_count(cm) * sizeof(float));
    memcpy(db, cb, jp_wrn_buffer_count(cm) * sizeof(float));
    jp_wrn_host_commit(dm);

    size_t D = (size_t)H * H, K = 10;
    float *x = malloc(N * D * sizeof(float));
    int y[N];
    jp_rng_fill_uniform(&r, x, N * D, -1, 1);
    for (int i = 0; i < N; i++) y[i] = (int)jp_rng_below(&r, K);
    char label[32];
    snprintf(label, sizeof label, "%s", uncond ? "uncond" : "BN");
    char what[96];

    /* classifier metrics */
    jp_dataset ds = {"random/test", x, y, N, 1, H, H, (int)K, NULL};
    jp_clf_metrics m1, m2;
    jp_status s1 = jp_eval_classifier(cm, &ds, &m1, NULL, &err), s2 = jp_eval_classifier(dm, &ds, &m2, NULL, &err);
    tu_check(t, !s1 && !s2, "%s classifier evaluation runs", label);
    snprintf(what, sizeof what, "%s classifier metrics (acc %.3f, loss %.4f)", label, m1.acc, m1.loss);
    same(t, what, &m1, &m2, sizeof m1);

    /* logits and log p(x) of noisy, SGLD-refined inputs */
    jp_input_opts o;
    jp_input_opts_defaults(&o);
    o.sigma = 0.1f, o.n_steps = 2;
    float *l1 = malloc(N * K * sizeof(float)), *l2 = malloc(N * K * sizeof(float));
    float p1[N], p2[N];
    jp_rng r1, r2;
    jp_rng_seed(&r1, 9), jp_rng_seed(&r2, 9);
    s1 = jp_eval_logits(cm, x, N, &o, l1, p1, &r1, &err);
    s2 = jp_eval_logits(dm, x, N, &o, l2, p2, &r2, &err);
    tu_check(t, !s1 && !s2, "%s logits of refined inputs run", label);
    snprintf(what, sizeof what, "%s logits (sigma 0.1, 2 SGLD steps)", label);
    same(t, what, l1, l2, N * K * sizeof(float));
    snprintf(what, sizeof what, "%s log p(x)", label);
    same(t, what, p1, p2, sizeof p1);

    /* features */
    int F = jp_wrn_feature_dim(cm);
    float *f1 = malloc((size_t)N * F * sizeof(float)), *f2 = malloc((size_t)N * F * sizeof(float));
    s1 = jp_eval_features(cm, x, N, f1, &err);
    s2 = jp_eval_features(dm, x, N, f2, &err);
    snprintf(what, sizeof what, "%s features", label);
    tu_check(t, !s1 && !s2, "%s run", what);
    same(t, what, f1, f2, (size_t)N * F * sizeof(float));

    /* OOD scores */
    double px1[N], py1[N], pg1[N], px2[N], py2[N], pg2[N];
    jp_rng_seed(&r1, 4), jp_rng_seed(&r2, 4);
    s1 = jp_ood_scores(cm, x, N, 0.05f, px1, py1, pg1, &r1, &err);
    s2 = jp_ood_scores(dm, x, N, 0.05f, px2, py2, pg2, &r2, &err);
    tu_check(t, !s1 && !s2, "%s OOD scores run", label);
    snprintf(what, sizeof what, "%s OOD scores px, py, pxgrad", label);
    tu_check(t, !memcmp(px1, px2, sizeof px1) && !memcmp(py1, py2, sizeof py1) && !memcmp(pg1, pg2, sizeof pg1),
             "%s: the same bits (px[0] %.6f, pxgrad[0] %.6g)", what, px1[0], pg1[0]);

    /* the attacker, undefended and defended (2 copies, 2 SGLD steps) */
    for (int defended = 0; defended < 2; defended++) {
        jp_defence_config def;
        jp_defence_config_jem(&def);
        def.n_copies = 2, def.n_steps = 2;
        jp_attacker *a1, *a2;
        s1 = jp_attacker_create(&a1, cm, defended ? &def : NULL, 11, &err);
        s2 = s1 ? s1 : jp_attacker_create(&a2, dm, defended ? &def : NULL, 11, &err);
        if (s1 || s2) {
            tu_check(t, 0, "attacker: %s", err.msg);
            break;
        }
        int n = jp_attacker_batch(a1);
        float *g1 = malloc((size_t)n * D * sizeof(float)), *g2 = malloc((size_t)n * D * sizeof(float));
        jp_attacker_grad(a1, g1, l1, x, y, n);
        jp_attacker_grad(a2, g2, l2, x, y, n);
        snprintf(what, sizeof what, "%s attacker%s: input gradients", label, defended ? " (defended)" : "");
        same(t, what, g1, g2, (size_t)n * D * sizeof(float));
        jp_attacker_logits(a1, l1, x + D, n);
        jp_attacker_logits(a2, l2, x + D, n);
        snprintf(what, sizeof what, "%s attacker%s: logits", label, defended ? " (defended)" : "");
        same(t, what, l1, l2, (size_t)n * K * sizeof(float));
        free(g1), free(g2);
        jp_attacker_free(a1);
        jp_attacker_free(a2);
    }
    free(x), free(l1), free(l2), free(f1), free(f2);
    jp_wrn_free(cm);
    jp_wrn_free(dm);
}

int main(void)
{
    tu_ctx t;
    tu_begin(&t, "test_eval_device");
    jp_device_ops ops = *jp_device_cpu()->ops;
    ops.name = "cpu-copies";
    jp_device dev = {&ops, NULL, NULL, NULL};
    check(&t, &dev, 0);
    check(&t, &dev, 1);
    return tu_finish(&t);
}
