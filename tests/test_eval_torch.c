/* `jempp eval`'s numbers against PyTorch: the built program, started as a child, evaluates
 * tests/data/eval_model.safetensors (a WRN-10-1 softmax classifier trained by jempp on
 * Fashion-MNIST, BN) on the first N test images in the modes predict, test_clf, cali and
 * ood, and every number it writes is compared with tests/data/eval_ref.safetensors,
 * computed by tools/gen_eval_ref.py with PyTorch (the reference's module tree, eval mode):
 *  - predict.csv: label, prediction, energy, log p(y|x) and the logits of every image;
 *  - test_clf.json: accuracy, mean cross-entropy, mean energy;
 *  - cali.json: ECE (jempp's default 20 bins), NLL, accuracy, mean confidence, the
 *    images per bin; and the reference's own ECELoss(20) on PyTorch's float32 softmax;
 *  - ood.json: for the in-distribution images and each deterministic shifted set of the
 *    reference (metadata ood_sets: invert), the mean scores px, py, pxgrad and, per
 *    score, AUROC, AUPR and FPR95.
 * N and the sets come from the reference's metadata. The model runs in batches of 64, so
 * that the last batch (500 = 7 x 64 + 52) is a partial one.
 *
 * Needs the jempp program ($JEMPP_BIN/jempp) and Fashion-MNIST
 * (/usr/share/datasets/fashion-mnist, Debian's dataset-fashion-mnist; JEMPP_TEST_FASHION
 * names another folder): without them the test reports SKIPPED (ctest's skip code), or
 * fails with JEMPP_REQUIRE_ALL=1. The output folder (under JEMPP_BIN) is removed when
 * every check passed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/json.h"
#include "testutil.h"

#define FASHION "/usr/share/datasets/fashion-mnist" /* JEMPP_TEST_FASHION overrides it */
#define BATCH "64"                                  /* does not divide N: a partial last batch */

enum { K = 10, N_SCORES = 3, MAX_N = 10000 };
static const char *const score_names[N_SCORES] = {"px", "py", "pxgrad"}; /* the reference's order */

/* ---- tolerances -----------------------------------------------------------------------
 * jempp (Winograd or oneDNN convolutions, its own batch norm) and PyTorch sum in other
 * orders; on this model the logits agree to 5.7e-6 (measured on an AVX-512 machine, the
 * largest of 5000 logits of magnitude up to 13.6). Each bound leaves at least an order
 * of magnitude for other CPUs' kernels (AVX2 against AVX-512) without hiding a wrong
 * formula, which moves these numbers by far more (a wrong bin rule, a missing image or
 * a wrong column: > 1e-3). */
/* logits, energies (= -LSE) and log p(y|x): float32 values of magnitude <= ~14, a few
 * dozen float ulps apart; 1e-4 absolute is ~100 ulps at 10. */
#define TOL_LOGIT 1e-4
/* loss/NLL and mean energy: means of per-image values each within TOL_LOGIT; the mean
 * error is no larger than the largest per-image one. */
#define TOL_MEAN 1e-4
/* ECE: with the same images in every bin (bin counts compared exactly below), it moves
 * by at most the largest change of a confidence (max softmax, <= 2 x the logit error)
 * per bin weight, sum 1. */
#define TOL_ECE 1e-4
/* jempp's ECE against the reference's ECELoss(20), which runs on PyTorch's float32
 * softmax and float32 sums: that rounding (~1e-7 per confidence) is all they differ by. */
#define TOL_ECELOSS 1e-5
/* mean scores of a set: px (LSE, ~10) as the logits; py (max softmax, in [0, 1]) within
 * 2 x the logit error; pxgrad (-||grad||, ~1) from float32 gradients, relative ~1e-5. */
#define TOL_SCORE_MEAN 1e-4
/* AUROC, AUPR: exact counts of ordered pairs. They change only when an in/out pair of
 * scores is closer than the two programs' score difference (~1e-5 at most); one flipped
 * pair moves the AUROC by 1 / (N N) = 4e-6. The reference's metadata counts the pairs
 * within 1e-4 (relative to max(1, |score|): near_ties, 39-51 of the 250000 pairs for
 * this model; 0-9 within 1e-5, none within 1e-6): scores 1e-5 apart could flip at most 9
 * pairs, 3.6e-5. A wrong tie rule or score moves it by far more. */
#define TOL_AUROC 1e-4
/* FPR95 moves in steps of 1/N; the threshold score it is read at is at least
 * fpr95_margin (metadata: 4.7e-4 to 1e-2 here) from any other score, far above the
 * score differences, so the same step must be found: compared to rounding only. */
#define TOL_FPR95 1e-12

/* What one run needs: the program, the model, the data and the output folder. */
typedef struct {
    char bin[1024], model[1024], data_root[1024], out[1024];
    int n;             /* images: the reference's metadata n */
    char ood_sets[64]; /* the reference's metadata ood_sets */
} eval_run;

/* ---- the reference file ---------------------------------------------------------------- */

/* Tensor `name` of the reference as doubles (F32, F64 or I64), checked to hold `count`
 * values; a missing or mis-sized tensor ends the test (exit 2) with a message. */
static double *ref_values(const jp_st_file *f, const char *name, size_t count)
{
    const jp_st_entry *e = jp_st_find(f, name);
    size_t es = e ? jp_dtype_size(e->dtype) : 0;
    if (!e || (e->dtype != JP_F32 && e->dtype != JP_F64 && e->dtype != JP_I64) || (e->end - e->begin) / es != count) {
        fprintf(stderr, "%s: tensor '%s' missing, not F32/F64/I64 or not %zu values (regenerate it: "
                "/usr/bin/python3 tools/gen_eval_ref.py)\n", f->path, name, count);
        exit(2);
    }
    double *v = malloc(count * sizeof(double));
    const unsigned char *p = jp_st_data(f, e);
    for (size_t i = 0; i < count; i++) {
        /* the data may be unaligned for 8-byte types: copy each value out */
        if (e->dtype == JP_F32) {
            float x;
            memcpy(&x, p + i * 4, 4);
            v[i] = x;
        } else if (e->dtype == JP_F64) {
            memcpy(&v[i], p + i * 8, 8);
        } else {
            int64_t x;
            memcpy(&x, p + i * 8, 8);
            v[i] = (double)x;
        }
    }
    return v;
}

/* The reference's scalar tensor `name` ([1]). */
static double ref_scalar(const jp_st_file *f, const char *name)
{
    double *v = ref_values(f, name, 1), r = v[0];
    free(v);
    return r;
}

/* ---- running jempp -------------------------------------------------------------------- */

/* `jempp eval --mode MODE ...` as a child (stdout and stderr shared with the test, so its
 * summary line and any error appear in the test's log); its exit status, -1 when it did
 * not exit normally. */
static int run_eval(const eval_run *r, const char *mode)
{
    char n[16];
    snprintf(n, sizeof n, "%d", r->n);
    const char *argv[] = {r->bin, "eval", "--ckpt", r->model, "--mode", mode, "--split", "test", "--max_n", n,
                          "--batch_size", BATCH, "--dataset", "fashionmnist", "--data_root", r->data_root,
                          "--out", r->out, "--ood_sets", r->ood_sets, "--quiet", NULL};
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        execv(r->bin, (char *const *)argv);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- predict.csv ------------------------------------------------------------------------ */

typedef struct {
    double *label, *pred, *energy, *logp; /* (n) */
    float *logits;                        /* (n, K) */
} predictions;

static void predictions_free(predictions *p)
{
    free(p->label);
    free(p->pred);
    free(p->energy);
    free(p->logp);
    free(p->logits);
}

/* Reads predict.csv (index,label,pred,energy,logp_y_given_x,logit_0..logit_9) into p;
 * the number of rows read in order, or -1 for a bad header or row (with a message). */
static int read_predict(const char *path, int n, predictions *p)
{
    size_t len;
    char *text = tu_read_file(path, &len);
    p->label = malloc(n * sizeof(double));
    p->pred = malloc(n * sizeof(double));
    p->energy = malloc(n * sizeof(double));
    p->logp = malloc(n * sizeof(double));
    p->logits = malloc((size_t)n * K * sizeof(float));
    const char *head = "index,label,pred,energy,logp_y_given_x,logit_0,logit_1,logit_2,logit_3,logit_4,logit_5,"
                       "logit_6,logit_7,logit_8,logit_9\n";
    if (!text || strncmp(text, head, strlen(head))) {
        printf("        %s: %s\n", path, text ? "unexpected header" : "cannot read");
        free(text);
        return -1;
    }
    char *s = text + strlen(head);
    int rows = 0;
    for (; *s && rows < n; rows++) {
        char *e;
        long idx = strtol(s, &e, 10);
        double v[4 + K];
        for (int c = 0; c < 4 + K && *e == ','; c++) v[c] = strtod(e + 1, &e);
        if (idx != rows || *e != '\n') {
            printf("        %s: row %d is not \"%d,<label>,<pred>,<energy>,<logp>,<%d logits>\"\n", path, rows, rows,
                   K);
            free(text);
            return -1;
        }
        p->label[rows] = v[0];
        p->pred[rows] = v[1];
        p->energy[rows] = v[2];
        p->logp[rows] = v[3];
        for (int k = 0; k < K; k++) p->logits[(size_t)rows * K + k] = (float)v[4 + k];
        s = e + 1;
    }
    if (*s) rows = -1; /* more rows than images */
    free(text);
    return rows;
}

/* How many of the n values differ (integer columns: labels, predictions, counts). */
static int count_unequal(const double *a, const double *b, int n)
{
    int bad = 0;
    for (int i = 0; i < n; i++) bad += a[i] != b[i];
    return bad;
}

static void check_predict(tu_ctx *t, const jp_st_file *ref, const eval_run *r)
{
    int n = r->n;
    char path[1200];
    snprintf(path, sizeof path, "%s/predict.csv", r->out);
    predictions p;
    int rows = read_predict(path, n, &p);
    tu_check(t, rows == n, "predict.csv has the %d rows of the images, in order (read %d)", n, rows);
    if (rows == n) {
        double *label = ref_values(ref, "labels", n), *pred = ref_values(ref, "pred", n);
        double *energy = ref_values(ref, "energy", n), *logp = ref_values(ref, "logp_y_given_x", n);
        double *l64 = ref_values(ref, "logits", (size_t)n * K);
        float *logits = malloc((size_t)n * K * sizeof(float));
        for (size_t i = 0; i < (size_t)n * K; i++) logits[i] = (float)l64[i];
        int bad = count_unequal(p.label, label, n);
        tu_check(t, bad == 0, "predict: labels are the test set's first %d (%d differ)", n, bad);
        /* the smallest top-2 logit gap is 7e-3 (metadata pred_margin): no argmax can flip */
        bad = count_unequal(p.pred, pred, n);
        tu_check(t, bad == 0, "predict: every prediction equals PyTorch's argmax (%d differ)", bad);
        tu_close(t, "predict: logits", p.logits, logits, (size_t)n * K, TOL_LOGIT, 0);
        tu_close_d(t, "predict: energy = -LSE", p.energy, energy, n, TOL_LOGIT, 0);
        tu_close_d(t, "predict: log p(y|x)", p.logp, logp, n, TOL_LOGIT, 0);
        free(label);
        free(pred);
        free(energy);
        free(logp);
        free(l64);
        free(logits);
    }
    predictions_free(&p);
}

/* ---- the JSON files ---------------------------------------------------------------------- */

/* Parses dir/file into doc; 0 (with a message) when it cannot be read or parsed. */
static int load_json(jp_json_doc *doc, const char *dir, const char *file)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    size_t len;
    char *text = tu_read_file(path, &len);
    jp_error err = {0};
    int ok = text && jp_json_parse(doc, text, len, &err) == JP_OK;
    if (!ok) printf("        %s: %s\n", path, text ? err.msg : "cannot read");
    free(text);
    return ok;
}

/* The number at a dotted path of object members ("mean.px"; arrays are walked by the
 * callers); NaN when absent or not a number. */
static double json_num(const jp_json *o, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *save = NULL, *key = strtok_r(buf, ".", &save); key && o; key = strtok_r(NULL, ".", &save))
        o = jp_json_get(o, key);
    return o && o->type == JP_JSON_NUMBER ? o->number : NAN;
}

/* got (from jempp's JSON) against the reference's scalar tensor `name`. */
static void check_scalar(tu_ctx *t, const char *what, double got, const jp_st_file *ref, const char *name, double tol)
{
    double want = ref_scalar(ref, name);
    tu_close_d(t, what, &got, &want, 1, tol, 0);
}

static void check_test_clf(tu_ctx *t, const jp_st_file *ref, const eval_run *r)
{
    jp_json_doc d;
    if (!load_json(&d, r->out, "test_clf.json")) {
        tu_check(t, 0, "test_clf.json readable");
        return;
    }
    double acc = json_num(d.root, "accuracy"), want = ref_scalar(ref, "test_clf.accuracy");
    /* the same predictions (predict's check) give the same count: exact */
    tu_check(t, acc == want, "test_clf: accuracy %.17g == PyTorch's %.17g", acc, want);
    check_scalar(t, "test_clf: loss (mean cross-entropy)", json_num(d.root, "loss"), ref, "test_clf.loss", TOL_MEAN);
    check_scalar(t, "test_clf: mean energy", json_num(d.root, "mean_energy"), ref, "test_clf.mean_energy", TOL_MEAN);
    tu_check(t, json_num(d.root, "n") == r->n, "test_clf: n = %d", r->n);
    jp_json_free(&d);
}

static void check_cali(tu_ctx *t, const jp_st_file *ref, const eval_run *r)
{
    jp_json_doc d;
    if (!load_json(&d, r->out, "cali.json")) {
        tu_check(t, 0, "cali.json readable");
        return;
    }
    double nb = json_num(d.root, "n_bins");
    const jp_json *bins = jp_json_get(d.root, "bins");
    tu_check(t, nb == 20 && bins && bins->type == JP_JSON_ARRAY && bins->len == 20,
             "cali: 20 bins by default, as the reference's ECELoss(20)");
    if (nb == 20 && bins && bins->type == JP_JSON_ARRAY && bins->len == 20) {
        /* every confidence is >= 1.7e-4 from a bin edge (metadata bin_edge_margin), so the
         * counts must be the same */
        double got[20], *want = ref_values(ref, "cali.bin_count", 20);
        int b = 0;
        for (const jp_json *e = bins->child; e; e = e->next) got[b++] = json_num(e, "count");
        int bad = count_unequal(got, want, 20);
        tu_check(t, bad == 0, "cali: images per bin as PyTorch's (b/20, (b+1)/20] (%d bins differ)", bad);
        free(want);
    }
    double ece = json_num(d.root, "ece");
    check_scalar(t, "cali: ECE", ece, ref, "cali.ece", TOL_ECE);
    check_scalar(t, "cali: ECE vs the reference's ECELoss(20)", ece, ref, "cali.ece_eceloss", TOL_ECELOSS);
    check_scalar(t, "cali: NLL", json_num(d.root, "nll"), ref, "cali.nll", TOL_MEAN);
    check_scalar(t, "cali: mean confidence", json_num(d.root, "mean_confidence"), ref, "cali.mean_confidence",
                 TOL_SCORE_MEAN);
    double acc = json_num(d.root, "accuracy"), want = ref_scalar(ref, "cali.accuracy");
    tu_check(t, acc == want, "cali: accuracy %.17g == PyTorch's %.17g", acc, want);
    jp_json_free(&d);
}

/* ---- ood.json ---------------------------------------------------------------------------- */

/* The member of ood.json's "sets" whose "kind" is `kind`, or NULL. */
static const jp_json *ood_set(const jp_json *root, const char *kind)
{
    const jp_json *sets = jp_json_get(root, "sets");
    for (const jp_json *s = sets && sets->type == JP_JSON_ARRAY ? sets->child : NULL; s; s = s->next) {
        const jp_json *k = jp_json_get(s, "kind");
        if (k && k->type == JP_JSON_STRING && !strcmp(k->str, kind)) return s;
    }
    return NULL;
}

/* The "mean" object of a set (or of "in_distribution") against ood.<name>.mean. */
static void check_means(tu_ctx *t, const jp_json *set, const jp_st_file *ref, const char *name)
{
    char key[64], what[96];
    snprintf(key, sizeof key, "ood.%s.mean", name);
    double *want = ref_values(ref, key, N_SCORES);
    for (int k = 0; k < N_SCORES; k++) {
        snprintf(key, sizeof key, "mean.%s", score_names[k]);
        snprintf(what, sizeof what, "ood %s: mean %s", name, score_names[k]);
        double got = json_num(set, key);
        tu_close_d(t, what, &got, &want[k], 1, TOL_SCORE_MEAN, 0);
    }
    free(want);
}

/* AUROC, AUPR and FPR95 of each score for one shifted set. */
static void check_detection(tu_ctx *t, const jp_json *set, const jp_st_file *ref, const char *kind)
{
    static const char *const metrics[3] = {"auroc", "aupr", "fpr95"};
    static const double tols[3] = {TOL_AUROC, TOL_AUROC, TOL_FPR95};
    char key[64], what[96];
    for (int m = 0; m < 3; m++) {
        snprintf(key, sizeof key, "ood.%s.%s", kind, metrics[m]);
        double *want = ref_values(ref, key, N_SCORES);
        for (int k = 0; k < N_SCORES; k++) {
            snprintf(key, sizeof key, "%s.%s", score_names[k], metrics[m]);
            snprintf(what, sizeof what, "ood %s: %s %s", kind, score_names[k], metrics[m]);
            double got = json_num(set, key);
            tu_close_d(t, what, &got, &want[k], 1, tols[m], 0);
        }
        free(want);
    }
}

static void check_ood(tu_ctx *t, const jp_st_file *ref, const eval_run *r)
{
    jp_json_doc d;
    if (!load_json(&d, r->out, "ood.json")) {
        tu_check(t, 0, "ood.json readable");
        return;
    }
    const jp_json *in = jp_json_get(d.root, "in_distribution");
    tu_check(t, in && json_num(in, "n") == r->n, "ood: %d in-distribution images", r->n);
    if (in) check_means(t, in, ref, "in");
    char sets[64];
    snprintf(sets, sizeof sets, "%s", r->ood_sets);
    for (char *save = NULL, *kind = strtok_r(sets, ",", &save); kind; kind = strtok_r(NULL, ",", &save)) {
        const jp_json *s = ood_set(d.root, kind);
        tu_check(t, s && json_num(s, "n") == r->n, "ood: set '%s' of %d images in ood.json", kind, r->n);
        if (!s) continue;
        check_means(t, s, ref, kind);
        check_detection(t, s, ref, kind);
    }
    jp_json_free(&d);
}

/* ---- main ------------------------------------------------------------------------------ */

static int is_file(const char *p)
{
    struct stat s;
    return stat(p, &s) == 0 && S_ISREG(s.st_mode);
}

/* Fills r's paths; a reason to skip when the program or the data are missing, else NULL. */
static const char *locate(eval_run *r)
{
    static char why[1200];
    const char *bdir = getenv("JEMPP_BIN"), *fash = getenv("JEMPP_TEST_FASHION");
    snprintf(r->bin, sizeof r->bin, "%s/jempp", bdir ? bdir : "build");
    snprintf(r->data_root, sizeof r->data_root, "%s", fash && fash[0] ? fash : FASHION);
    tu_src_path(r->model, sizeof r->model, "tests/data/eval_model.safetensors");
    if (access(r->bin, X_OK)) {
        snprintf(why, sizeof why, "the jempp program %s is not built", r->bin);
        return why;
    }
    static const char *const files[2] = {"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};
    for (int i = 0; i < 2; i++) {
        char p[1100];
        snprintf(p, sizeof p, "%s/%s", r->data_root, files[i]);
        if (!is_file(p)) {
            snprintf(why, sizeof why, "%s not installed (Debian package dataset-fashion-mnist)", p);
            return why;
        }
    }
    return NULL;
}

/* N and the shifted sets from the reference's metadata; 0 with a message if absent. */
static int read_settings(eval_run *r, const jp_st_file *ref)
{
    const char *n = jp_st_meta(ref, "n"), *sets = jp_st_meta(ref, "ood_sets");
    r->n = n ? atoi(n) : 0;
    if (r->n < 1 || r->n > MAX_N || !sets || strlen(sets) >= sizeof r->ood_sets) {
        printf("%s: metadata n (1..%d) and ood_sets missing or out of range\n", ref->path, MAX_N);
        return 0;
    }
    snprintf(r->ood_sets, sizeof r->ood_sets, "%s", sets);
    return 1;
}

int main(void)
{
    tu_ctx t;
    tu_begin(&t, "test_eval_torch");
    eval_run r;
    const char *why = locate(&r);
    if (why) return tu_skip(&t, "%s", why);
    char refpath[1024];
    jp_st_file ref;
    jp_error err = {0};
    if (jp_st_read(&ref, tu_src_path(refpath, sizeof refpath, "tests/data/eval_ref.safetensors"), &err)) {
        tu_check(&t, 0, "reference file: %s", err.msg);
        return tu_finish(&t);
    }
    if (!read_settings(&r, &ref) || !is_file(r.model)) {
        tu_check(&t, 0, "reference settings and the model %s", r.model);
        jp_st_close(&ref);
        return tu_finish(&t);
    }
    tu_tmpdir(r.out, sizeof r.out, "eval_torch");
    printf("jempp eval of %s on the first %d Fashion-MNIST test images (batches of %s), OOD sets %s\n", r.model, r.n,
           BATCH, r.ood_sets);
    static const char *const modes[4] = {"predict", "test_clf", "cali", "ood"};
    static void (*const checks[4])(tu_ctx *, const jp_st_file *, const eval_run *) = {check_predict, check_test_clf,
                                                                                      check_cali, check_ood};
    for (int m = 0; m < 4; m++) {
        int rc = run_eval(&r, modes[m]);
        tu_check(&t, rc == 0, "jempp eval --mode %s exits 0 (%d)", modes[m], rc);
        if (rc == 0) checks[m](&t, &ref, &r);
    }
    jp_st_close(&ref);
    if (t.failed == 0) {
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", r.out);
        if (system(cmd) != 0) { /* best effort */ }
    } else {
        printf("outputs kept in %s\n", r.out);
    }
    return tu_finish(&t);
}
