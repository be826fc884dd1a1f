/* The reference kernels of ops.h against PyTorch 1.13: forward outputs and autograd
 * gradients stored in tests/data/ops_ref.safetensors by tools/gen_ops_ref.py
 * (F.conv2d, F.batch_norm train/eval with momentum 0.9, leaky_relu, relu,
 * adaptive_avg_pool2d, F.linear, torch.logsumexp, F.cross_entropy). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jempp/ops.h"
#include "ops/ref.h"
#include "jempp/safetensors.h"
#include "testutil.h"

/* Tolerances |got - ref| <= atol + rtol*|ref|: our kernels sum in double, torch in
 * float, so the differences are a few float ulps of the largest partial sums. The
 * defaults are the project's (1e-5, 1e-4); cases that allow it are checked tighter
 * (the measured maxima print with each line). */
#define ATOL 1e-5
#define RTOL 1e-4
#define ATOL_TIGHT 2e-6
#define RTOL_TIGHT 1e-5

/* Loads "<prefix><name>" and checks its element count (a wrong file stops the test). */
static float *ld(const jp_st_file *f, const char *prefix, const char *name, size_t expect)
{
    char key[128];
    snprintf(key, sizeof key, "%s%s", prefix, name);
    size_t n = 0;
    float *p = tu_ref_f32(f, key, &n);
    if (n != expect) {
        fprintf(stderr, "reference tensor '%s' has %zu elements, expected %zu\n", key, n,
                expect);
        exit(2);
    }
    return p;
}

static void cmp_tol(tu_ctx *t, const char *prefix, const char *what, const float *got,
                    const float *ref, size_t n, double atol, double rtol)
{
    char label[128];
    snprintf(label, sizeof label, "%s%s", prefix, what);
    tu_close(t, label, got, ref, n, atol, rtol);
}

/* The tight tolerance. */
static void cmp(tu_ctx *t, const char *prefix, const char *what, const float *got,
                const float *ref, size_t n)
{
    cmp_tol(t, prefix, what, got, ref, n, ATOL_TIGHT, RTOL_TIGHT);
}

static float *zeros(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) abort();
    return p;
}

static void test_conv(tu_ctx *t, const jp_st_file *f, int i)
{
    char p[32];
    snprintf(p, sizeof p, "conv%d.", i);
    char key[64];
    snprintf(key, sizeof key, "%scfg", p);
    int32_t cfg[12];
    jp_error err;
    const int64_t shape12[1] = {12};
    if (jp_st_get(f, key, JP_I32, 1, shape12, cfg, &err) != JP_OK) {
        fprintf(stderr, "%s\n", err.msg);
        exit(2);
    }
    jp_conv_shape s;
    jp_status st = jp_conv_shape_init(&s, cfg[0], cfg[1], cfg[2], cfg[3], cfg[4], cfg[5],
                                      cfg[6], cfg[7], cfg[8], cfg[9], cfg[10], &err);
    tu_check(t, st == JP_OK, "%sshape", p);
    if (st != JP_OK) return;
    const int bias = cfg[11];
    const size_t ni = (size_t)s.n * s.cin * s.h * s.w, nw = (size_t)s.cout * s.cin * s.kh * s.kw;
    const size_t no = (size_t)s.n * s.cout * s.oh * s.ow, nb = (size_t)s.cout;
    float *in = ld(f, p, "in", ni), *w = ld(f, p, "w", nw), *out = ld(f, p, "out", no);
    float *dout = ld(f, p, "dout", no), *din = ld(f, p, "din", ni), *dw = ld(f, p, "dw", nw);
    float *b = bias ? ld(f, p, "b", nb) : NULL, *db = bias ? ld(f, p, "db", nb) : NULL;
    tu_check(t, bias || jp_st_find(f, strcat(strcpy(key, p), "b")) == NULL,
             "%sbias presence matches cfg", p);

    float *g_out = zeros(no), *g_din = zeros(ni), *g_dw = zeros(nw), *g_db = zeros(nb);
    jp_ref_conv2d_forward(g_out, in, w, b, &s);
    jp_ref_conv2d_backward(g_din, g_dw, bias ? g_db : NULL, dout, in, w, &s);
    cmp(t, p, "out", g_out, out, no);
    cmp(t, p, "din", g_din, din, ni);
    /* dw and db sum N*OH*OW products: torch's float sums drift more. */
    cmp_tol(t, p, "dw", g_dw, dw, nw, ATOL, RTOL);
    if (bias) cmp_tol(t, p, "db", g_db, db, nb, ATOL, RTOL);
    free(in), free(w), free(out), free(dout), free(din), free(dw), free(b), free(db);
    free(g_out), free(g_din), free(g_dw), free(g_db);
}

static void read_shape4(const jp_st_file *f, const char *name, int dims[4])
{
    const jp_st_entry *e = jp_st_find(f, name);
    if (!e || e->ndim != 4) {
        fprintf(stderr, "reference tensor '%s' missing or not 4-D\n", name);
        exit(2);
    }
    for (int k = 0; k < 4; k++) dims[k] = (int)e->shape[k];
}

static void test_bn_train(tu_ctx *t, const jp_st_file *f, int i)
{
    char p[32], key[64];
    snprintf(p, sizeof p, "bn_train%d.", i);
    snprintf(key, sizeof key, "%sin", p);
    int d[4];
    read_shape4(f, key, d);
    jp_bn_shape s = {.n = d[0], .c = d[1], .h = d[2], .w = d[3], .eps = 1e-5f, .momentum = 0.9f};
    const size_t n = (size_t)d[0] * d[1] * d[2] * d[3], c = (size_t)d[1];
    float *in = ld(f, p, "in", n), *gamma = ld(f, p, "gamma", c), *beta = ld(f, p, "beta", c);
    float *rm = ld(f, p, "rm0", c), *rv = ld(f, p, "rv0", c), *out = ld(f, p, "out", n);
    float *rm1 = ld(f, p, "rm1", c), *rv1 = ld(f, p, "rv1", c);
    float *smean = ld(f, p, "save_mean", c), *sinv = ld(f, p, "save_invstd", c);
    float *dout = ld(f, p, "dout", n), *din = ld(f, p, "din", n);
    float *dgamma = ld(f, p, "dgamma", c), *dbeta = ld(f, p, "dbeta", c);

    float *g_out = zeros(n), *g_mean = zeros(c), *g_inv = zeros(c);
    float *g_din = zeros(n), *g_dgamma = zeros(c), *g_dbeta = zeros(c);
    jp_ref_bn_forward_train(g_out, g_mean, g_inv, rm, rv, in, gamma, beta, &s);
    cmp(t, p, "out", g_out, out, n);
    cmp(t, p, "running_mean", rm, rm1, c);
    cmp(t, p, "running_var", rv, rv1, c);
    cmp(t, p, "save_mean", g_mean, smean, c);
    cmp(t, p, "save_invstd", g_inv, sinv, c);
    jp_ref_bn_backward_train(g_din, g_dgamma, g_dbeta, dout, in, g_mean, g_inv, gamma, &s);
    cmp(t, p, "din", g_din, din, n);
    cmp(t, p, "dgamma", g_dgamma, dgamma, c);
    cmp(t, p, "dbeta", g_dbeta, dbeta, c);
    free(in), free(gamma), free(beta), free(rm), free(rv), free(out), free(rm1), free(rv1);
    free(smean), free(sinv), free(dout), free(din), free(dgamma), free(dbeta);
    free(g_out), free(g_mean), free(g_inv), free(g_din), free(g_dgamma), free(g_dbeta);
}

static void test_bn_eval(tu_ctx *t, const jp_st_file *f)
{
    const char *p = "bn_eval.";
    int d[4];
    read_shape4(f, "bn_eval.in", d);
    jp_bn_shape s = {.n = d[0], .c = d[1], .h = d[2], .w = d[3], .eps = 1e-5f, .momentum = 0.9f};
    const size_t n = (size_t)d[0] * d[1] * d[2] * d[3], c = (size_t)d[1];
    float *in = ld(f, p, "in", n), *gamma = ld(f, p, "gamma", c), *beta = ld(f, p, "beta", c);
    float *rm = ld(f, p, "rm", c), *rv = ld(f, p, "rv", c), *out = ld(f, p, "out", n);
    float *dout = ld(f, p, "dout", n), *din = ld(f, p, "din", n);
    float *dgamma = ld(f, p, "dgamma", c), *dbeta = ld(f, p, "dbeta", c);
    float *g_out = zeros(n), *g_din = zeros(n), *g_dgamma = zeros(c), *g_dbeta = zeros(c);
    jp_ref_bn_forward_eval(g_out, in, gamma, beta, rm, rv, &s);
    jp_ref_bn_backward_eval(g_din, g_dgamma, g_dbeta, dout, in, gamma, rm, rv, &s);
    cmp(t, p, "out", g_out, out, n);
    cmp(t, p, "din", g_din, din, n);
    cmp(t, p, "dgamma", g_dgamma, dgamma, c);
    cmp(t, p, "dbeta", g_dbeta, dbeta, c);
    free(in), free(gamma), free(beta), free(rm), free(rv), free(out), free(dout), free(din);
    free(dgamma), free(dbeta), free(g_out), free(g_din), free(g_dgamma), free(g_dbeta);
}

static void test_act(tu_ctx *t, const jp_st_file *f, const char *p, float slope)
{
    size_t n = 0;
    char key[64];
    snprintf(key, sizeof key, "%sin", p);
    float *in = tu_ref_f32(f, key, &n);
    float *out = ld(f, p, "out", n), *dout = ld(f, p, "dout", n), *din = ld(f, p, "din", n);
    float *g_out = zeros(n), *g_din = zeros(n);
    size_t ties = 0;
    for (size_t i = 0; i < n; i++) ties += in[i] == 0.0f;
    tu_check(t, ties > 0, "%sin holds exact zeros (%zu), the tie is tested", p, ties);
    jp_ref_leaky_relu_forward(g_out, in, n, slope);
    jp_ref_leaky_relu_backward(g_din, dout, in, n, slope);
    /* One rounding of slope*x (or none): exact, the tie at 0 included. */
    cmp_tol(t, p, "out", g_out, out, n, 0, 0);
    cmp_tol(t, p, "din", g_din, din, n, 0, 0);
    free(in), free(out), free(dout), free(din), free(g_out), free(g_din);
}

static void test_pool(tu_ctx *t, const jp_st_file *f)
{
    const char *p = "pool.";
    int d[4];
    read_shape4(f, "pool.in", d);
    const size_t n = (size_t)d[0] * d[1] * d[2] * d[3], m = (size_t)d[0] * d[1];
    float *in = ld(f, p, "in", n), *out = ld(f, p, "out", m), *dout = ld(f, p, "dout", m);
    float *din = ld(f, p, "din", n), *g_out = zeros(m), *g_din = zeros(n);
    jp_ref_global_avgpool_forward(g_out, in, d[0], d[1], d[2], d[3]);
    jp_ref_global_avgpool_backward(g_din, dout, d[0], d[1], d[2], d[3]);
    cmp(t, p, "out", g_out, out, m);
    cmp(t, p, "din", g_din, din, n);
    free(in), free(out), free(dout), free(din), free(g_out), free(g_din);
}

static void test_linear(tu_ctx *t, const jp_st_file *f)
{
    const char *p = "linear.";
    const jp_st_entry *ei = jp_st_find(f, "linear.in"), *ew = jp_st_find(f, "linear.w");
    if (!ei || !ew || ei->ndim != 2 || ew->ndim != 2) {
        fprintf(stderr, "linear.in / linear.w missing or not 2-D\n");
        exit(2);
    }
    const int n = (int)ei->shape[0], in_f = (int)ei->shape[1], out_f = (int)ew->shape[0];
    const size_t ni = (size_t)n * in_f, nw = (size_t)out_f * in_f, no = (size_t)n * out_f;
    float *in = ld(f, p, "in", ni), *w = ld(f, p, "w", nw), *b = ld(f, p, "b", (size_t)out_f);
    float *out = ld(f, p, "out", no), *dout = ld(f, p, "dout", no), *din = ld(f, p, "din", ni);
    float *dw = ld(f, p, "dw", nw), *db = ld(f, p, "db", (size_t)out_f);
    float *g_out = zeros(no), *g_din = zeros(ni), *g_dw = zeros(nw), *g_db = zeros((size_t)out_f);
    jp_ref_linear_forward(g_out, in, w, b, n, in_f, out_f);
    jp_ref_linear_backward(g_din, g_dw, g_db, dout, in, w, n, in_f, out_f);
    cmp(t, p, "out", g_out, out, no);
    cmp(t, p, "din", g_din, din, ni);
    cmp(t, p, "dw", g_dw, dw, nw);
    cmp(t, p, "db", g_db, db, (size_t)out_f);
    free(in), free(w), free(b), free(out), free(dout), free(din), free(dw), free(db);
    free(g_out), free(g_din), free(g_dw), free(g_db);
}

static void test_classes(tu_ctx *t, const jp_st_file *f)
{
    const jp_st_entry *e = jp_st_find(f, "lse.in");
    if (!e || e->ndim != 2) {
        fprintf(stderr, "lse.in missing or not 2-D\n");
        exit(2);
    }
    int n = (int)e->shape[0], c = (int)e->shape[1];
    float *in = ld(f, "lse.", "in", (size_t)n * c), *out = ld(f, "lse.", "out", (size_t)n);
    float *dout = ld(f, "lse.", "dout", (size_t)n), *din = ld(f, "lse.", "din", (size_t)n * c);
    float *g_out = zeros((size_t)n), *g_din = zeros((size_t)n * c);
    jp_logsumexp_forward(g_out, in, n, c);
    jp_logsumexp_backward(g_din, dout, in, n, c);
    cmp(t, "lse.", "out", g_out, out, (size_t)n);
    /* Rows near +60: torch rounds x - lse in float (ulp 4e-6 at 60), we in double. */
    cmp_tol(t, "lse.", "din", g_din, din, (size_t)n * c, ATOL, RTOL);
    free(in), free(out), free(dout), free(din), free(g_out), free(g_din);

    e = jp_st_find(f, "ce.logits");
    if (!e || e->ndim != 2) {
        fprintf(stderr, "ce.logits missing or not 2-D\n");
        exit(2);
    }
    n = (int)e->shape[0], c = (int)e->shape[1];
    int64_t y64[64];
    jp_error err;
    const int64_t shp[1] = {n};
    if (n > 64 || jp_st_get(f, "ce.y", JP_I64, 1, shp, y64, &err) != JP_OK) {
        fprintf(stderr, "ce.y: %s\n", n > 64 ? "too many rows" : err.msg);
        exit(2);
    }
    int y[64];
    for (int i = 0; i < n; i++) y[i] = (int)y64[i];
    float *logits = ld(f, "ce.", "logits", (size_t)n * c), *loss = ld(f, "ce.", "out", 1);
    float *dloss = ld(f, "ce.", "dout", 1), *dlogits = ld(f, "ce.", "din", (size_t)n * c);
    float g_loss = (float)jp_cross_entropy_forward(logits, y, n, c);
    float *g_dlogits = zeros((size_t)n * c);
    jp_cross_entropy_backward(g_dlogits, dloss[0], logits, y, n, c);
    cmp(t, "ce.", "loss", &g_loss, loss, 1);
    cmp(t, "ce.", "dlogits", g_dlogits, dlogits, (size_t)n * c);
    free(logits), free(loss), free(dloss), free(dlogits), free(g_dlogits);
}

int main(void)
{
    tu_ctx t;
    tu_begin(&t, "test_ops_torch");
    char path[1024];
    tu_src_path(path, sizeof path, "tests/data/ops_ref.safetensors");
    jp_st_file f;
    jp_error err;
    if (jp_st_read(&f, path, &err) != JP_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    const char *nc = jp_st_meta(&f, "n_conv"), *nb = jp_st_meta(&f, "n_bn_train");
    int n_conv = nc ? atoi(nc) : 0, n_bn = nb ? atoi(nb) : 0;
    tu_check(&t, n_conv >= 7 && n_bn >= 2, "reference file holds %d conv and %d bn cases",
             n_conv, n_bn);
    for (int i = 0; i < n_conv; i++) test_conv(&t, &f, i);
    for (int i = 0; i < n_bn; i++) test_bn_train(&t, &f, i);
    test_bn_eval(&t, &f);
    test_act(&t, &f, "lrelu.", 0.2f);
    test_act(&t, &f, "relu.", 0.0f);
    test_pool(&t, &f);
    test_linear(&t, &f);
    test_classes(&t, &f);
    jp_st_close(&f);
    return tu_finish(&t);
}
