/* jp_compare_table (include/jempp/report.h): the Markdown table of `jempp compare`.
 *
 * Each folder's five evaluation files are read once (files.c: rp_read_json over the
 * project's JSON reader); the OOD sets, the attack norms and radii and the FID feature
 * sets are gathered as the union over the folders; then one row per quantity is written
 * with one cell per folder. An absent or corrupt file is warned when read; the entries a
 * file lacks are collected while the rows are written and warned once per file at the
 * end. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_internal.h"

enum { CM_CLF, CM_CALI, CM_OOD, CM_ATTACK, CM_FID, CM_MODES };
static const char *const MODES[CM_MODES] = {"test_clf", "cali", "ood", "attack", "fid"};
static const char *const SCORES[] = {"px", "py", "pxgrad"};
#define N_SCORES ((int)(sizeof SCORES / sizeof *SCORES))

/* Radii closer than this are the same radius (the old script's tolerance); smaller
 * radii are the clean point, which is not a row (test accuracy is). */
#define EPS_TOL 1e-6
#define LABEL_MAX 640

/* One folder: its files, parsed, and the rows that found nothing in them. */
typedef struct {
    const char *dir;
    char path[CM_MODES][RP_PATH_MAX]; /* the file read; "" when absent */
    jp_json_doc doc[CM_MODES];
    const jp_json *root[CM_MODES];    /* NULL when absent, unreadable or corrupt */
    rp_buf lacks[CM_MODES];           /* labels of the rows with no value in that file */
} cm_col;

/* A row's key: a field name (a); an OOD set and score (a, b); an attack norm and
 * radius (a, eps); a FID section and its features (a, b). */
typedef struct {
    const char *a, *b;
    double eps;
} cm_key;

/* A list of distinct keys, in the order first seen. */
typedef struct {
    cm_key *k;
    int n, cap;
} cm_keys;

typedef struct {
    const jp_compare_opts *o;
    cm_col *col;
    int n;
    rp_buf out;
    int rows, warnings, corrupt, nomem;
} cm_ctx;

/* The value of a row in one file: a number or null member, NULL when absent. */
typedef const jp_json *(*cm_get)(const jp_json *root, const cm_key *k);

static void warn(cm_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(cm_ctx *c, const char *fmt, ...)
{
    c->warnings++;
    if (!c->o->log) return;
    va_list ap;
    va_start(ap, fmt);
    fputs("jempp compare: warning: ", c->o->log);
    vfprintf(c->o->log, fmt, ap);
    fputc('\n', c->o->log);
    va_end(ap);
}

/* ---- reading ------------------------------------------------------------------------ */

/* DIR/<mode>/<mode>.json, else DIR/<mode>.json; warns when neither exists or the file
 * is corrupt. */
static void load_mode(cm_ctx *c, cm_col *col, int m)
{
    char file[32], sub[64], p1[RP_PATH_MAX], p2[RP_PATH_MAX];
    snprintf(file, sizeof file, "%s.json", MODES[m]);
    snprintf(sub, sizeof sub, "%s/%s", MODES[m], file);
    rp_path(p1, sizeof p1, col->dir, sub);
    rp_path(p2, sizeof p2, col->dir, file);
    const char *path = rp_is_file(p1, NULL) ? p1 : rp_is_file(p2, NULL) ? p2 : NULL;
    if (!path) {
        warn(c, "%s: no %s (neither %s nor %s)", col->dir, file, p1, p2);
        return;
    }
    snprintf(col->path[m], sizeof col->path[m], "%s", path);
    jp_error err = {0};
    int got = rp_read_json(path, &col->doc[m], &err);
    if (got < 0) {
        c->corrupt++;
        warn(c, "%s could not be read: %s", path, err.msg);
    } else if (got == 0) {
        warn(c, "%s vanished while being read", path);
    } else {
        col->root[m] = col->doc[m].root;
    }
}

static void lack(cm_col *col, int mode, const char *label)
{
    rp_buf *b = &col->lacks[mode];
    if (b->len) rp_put(b, "; ");
    rp_put(b, label);
}

/* The entries each file lacked: one warning per file. */
static void warn_lacks(cm_ctx *c)
{
    for (int i = 0; i < c->n; i++)
        for (int m = 0; m < CM_MODES; m++) {
            rp_buf *b = &c->col[i].lacks[m];
            if (b->nomem) c->nomem = 1;
            if (b->len) warn(c, "%s has no value for: %s", c->col[i].path[m], b->p);
        }
}

/* ---- lookups ---------------------------------------------------------------------- */

static int same_str(const char *x, const char *y) { return x && y ? !strcmp(x, y) : x == y; }
static int same_eps(double x, double y) { return fabs(x - y) < EPS_TOL; }

/* A member fit for a cell: a number or null ("n/a"); anything else counts as absent. */
static const jp_json *cell_value(const jp_json *obj, const char *key)
{
    const jp_json *v = jp_json_get(obj, key);
    return v && (v->type == JP_JSON_NUMBER || v->type == JP_JSON_NULL) ? v : NULL;
}

static const jp_json *get_member(const jp_json *root, const cm_key *k) { return cell_value(root, k->a); }

/* An OOD set's row name: its kind (noise, constant, ...), or its name for a data set. */
static const char *set_label(const jp_json *s)
{
    const char *kind = rp_jstr(s, "kind");
    return kind && kind[0] && strcmp(kind, "dataset") ? kind : rp_jstr(s, "name");
}

static const jp_json *array_of(const jp_json *obj, const char *key)
{
    const jp_json *v = jp_json_get(obj, key);
    return v && v->type == JP_JSON_ARRAY ? v : NULL;
}

static const jp_json *get_auroc(const jp_json *root, const cm_key *k)
{
    const jp_json *sets = array_of(root, "sets");
    for (const jp_json *s = sets ? sets->child : NULL; s; s = s->next)
        if (same_str(set_label(s), k->a)) return cell_value(jp_json_get(s, k->b), "auroc");
    return NULL;
}

static const jp_json *get_robust(const jp_json *root, const cm_key *k)
{
    const jp_json *pts = array_of(jp_json_get(root, k->a), "points");
    for (const jp_json *p = pts ? pts->child : NULL; p; p = p->next) {
        double e = rp_jnum(p, "eps");
        if (isfinite(e) && same_eps(e, k->eps)) return cell_value(p, "robust_accuracy");
    }
    return NULL;
}

/* A feature set of fid.json: a member object holding "fid" (inception, classifier_features). */
static int is_fid_section(const jp_json *v) { return v->type == JP_JSON_OBJECT && jp_json_get(v, "fid"); }

static const jp_json *get_fid(const jp_json *root, const cm_key *k)
{
    const jp_json *sec = jp_json_get(root, k->a);
    return sec && same_str(rp_jstr(sec, "features"), k->b) ? cell_value(sec, "fid") : NULL;
}

/* ---- unions over the folders ----------------------------------------------------- */

static void keys_add(cm_ctx *c, cm_keys *ks, cm_key k)
{
    for (int i = 0; i < ks->n; i++)
        if (same_str(ks->k[i].a, k.a) && same_str(ks->k[i].b, k.b) && same_eps(ks->k[i].eps, k.eps)) return;
    if (ks->n == ks->cap) {
        int nc = ks->cap ? ks->cap * 2 : 16;
        cm_key *q = realloc(ks->k, (size_t)nc * sizeof *q);
        if (!q) {
            c->nomem = 1;
            return;
        }
        ks->k = q;
        ks->cap = nc;
    }
    ks->k[ks->n++] = k;
}

static void collect_sets(cm_ctx *c, cm_keys *ks)
{
    for (int i = 0; i < c->n; i++) {
        const jp_json *sets = array_of(c->col[i].root[CM_OOD], "sets");
        for (const jp_json *s = sets ? sets->child : NULL; s; s = s->next)
            if (set_label(s)) keys_add(c, ks, (cm_key){set_label(s), NULL, 0});
    }
}

/* The attack's norms: members of attack.json holding a "points" array (linf, l2). */
static void collect_norms(cm_ctx *c, cm_keys *ks)
{
    for (int i = 0; i < c->n; i++) {
        const jp_json *r = c->col[i].root[CM_ATTACK];
        for (const jp_json *v = r && r->type == JP_JSON_OBJECT ? r->child : NULL; v; v = v->next)
            if (array_of(v, "points")) keys_add(c, ks, (cm_key){v->key, NULL, 0});
    }
}

static int cmp_eps(const void *x, const void *y)
{
    double a = ((const cm_key *)x)->eps, b = ((const cm_key *)y)->eps;
    return (a > b) - (a < b);
}

/* The radii > 0 of one norm, ascending. */
static void collect_eps(cm_ctx *c, const char *norm, cm_keys *ks)
{
    for (int i = 0; i < c->n; i++) {
        const jp_json *pts = array_of(jp_json_get(c->col[i].root[CM_ATTACK], norm), "points");
        for (const jp_json *p = pts ? pts->child : NULL; p; p = p->next) {
            double e = rp_jnum(p, "eps");
            if (isfinite(e) && e >= EPS_TOL) keys_add(c, ks, (cm_key){norm, NULL, e});
        }
    }
    if (ks->n > 1) qsort(ks->k, (size_t)ks->n, sizeof *ks->k, cmp_eps);
}

static void collect_fid(cm_ctx *c, cm_keys *ks)
{
    for (int i = 0; i < c->n; i++) {
        const jp_json *r = c->col[i].root[CM_FID];
        for (const jp_json *v = r && r->type == JP_JSON_OBJECT ? r->child : NULL; v; v = v->next)
            if (is_fid_section(v)) keys_add(c, ks, (cm_key){v->key, rp_jstr(v, "features"), 0});
    }
}

/* ---- the table -------------------------------------------------------------------- */

/* Text for a table cell: '|' escaped, line breaks as spaces. */
static void put_md(rp_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '|') rp_put(b, "\\|");
        else if (*s == '\n' || *s == '\r') rp_put(b, " ");
        else rp_putn(b, s, 1);
    }
}

static void header(cm_ctx *c)
{
    rp_put(&c->out, "| |");
    for (int i = 0; i < c->n; i++) {
        const char *name = c->o->names ? c->o->names[i] : NULL;
        char base[RP_PATH_MAX];
        if (!name || !name[0]) name = rp_base_name(base, sizeof base, c->col[i].dir);
        rp_put(&c->out, " ");
        put_md(&c->out, name);
        rp_put(&c->out, " |");
    }
    rp_put(&c->out, "\n|---|");
    for (int i = 0; i < c->n; i++) rp_put(&c->out, "---|");
    rp_put(&c->out, "\n");
}

/* One row: the label, then per folder the value get finds in its file of `mode`. */
static void row(cm_ctx *c, const char *label, int mode, cm_get get, const cm_key *k)
{
    rp_put(&c->out, "| ");
    put_md(&c->out, label);
    rp_put(&c->out, " |");
    for (int i = 0; i < c->n; i++) {
        const jp_json *root = c->col[i].root[mode];
        const jp_json *v = root ? get(root, k) : NULL;
        if (root && !v) lack(&c->col[i], mode, label);
        if (v && v->type == JP_JSON_NUMBER) rp_printf(&c->out, " %.4f |", v->number);
        else rp_put(&c->out, v ? " n/a |" : "  |");
    }
    rp_put(&c->out, "\n");
    c->rows++;
}

static int n_bins(const cm_col *col, int64_t *nb)
{
    return col->root[CM_CALI] && jp_json_int64(jp_json_get(col->root[CM_CALI], "n_bins"), nb);
}

/* "ECE (20 bins)"; "ECE (15, 20 bins)" when the folders differ; "ECE" when none says. */
static void ece_label(const cm_ctx *c, char *label, size_t len)
{
    size_t at = (size_t)snprintf(label, len, "ECE");
    int shown = 0;
    for (int i = 0; i < c->n; i++) {
        int64_t nb, other;
        int seen = 0;
        if (!n_bins(&c->col[i], &nb)) continue;
        for (int j = 0; j < i && !seen; j++) seen = n_bins(&c->col[j], &other) && other == nb;
        if (!seen && at < len)
            at += (size_t)snprintf(label + at, len - at, "%s%lld", shown++ ? ", " : " (", (long long)nb);
    }
    if (shown && at < len) snprintf(label + at, len - at, " bins)");
}

static void classifier_rows(cm_ctx *c)
{
    char label[LABEL_MAX];
    row(c, "test accuracy", CM_CLF, get_member, &(cm_key){"accuracy", NULL, 0});
    ece_label(c, label, sizeof label);
    row(c, label, CM_CALI, get_member, &(cm_key){"ece", NULL, 0});
    row(c, "NLL", CM_CALI, get_member, &(cm_key){"nll", NULL, 0});
}

static void ood_rows(cm_ctx *c)
{
    cm_keys sets = {0};
    collect_sets(c, &sets);
    for (int s = 0; s < sets.n; s++)
        for (int k = 0; k < N_SCORES; k++) {
            char label[LABEL_MAX];
            snprintf(label, sizeof label, "AUROC %s vs %.500s", SCORES[k], sets.k[s].a);
            row(c, label, CM_OOD, get_auroc, &(cm_key){sets.k[s].a, SCORES[k], 0});
        }
    free(sets.k);
}

static const char *norm_text(const char *norm)
{
    return !strcmp(norm, "linf") ? "L-inf" : !strcmp(norm, "l2") ? "L2" : norm;
}

/* L-inf radii as k/255 when eps * 255 is within 1e-4 of an integer k. */
static void eps_text(char *buf, size_t len, const char *norm, double eps)
{
    double k = eps * 255;
    if (!strcmp(norm, "linf") && fabs(k - round(k)) <= 1e-4) snprintf(buf, len, "%.0f/255", round(k));
    else snprintf(buf, len, "%g", eps);
}

static void attack_rows(cm_ctx *c)
{
    cm_keys norms = {0};
    collect_norms(c, &norms);
    for (int n = 0; n < norms.n; n++) {
        cm_keys eps = {0};
        collect_eps(c, norms.k[n].a, &eps);
        for (int e = 0; e < eps.n; e++) {
            char label[LABEL_MAX], et[64];
            eps_text(et, sizeof et, eps.k[e].a, eps.k[e].eps);
            snprintf(label, sizeof label, "robust acc %.200s %s", norm_text(eps.k[e].a), et);
            row(c, label, CM_ATTACK, get_robust, &eps.k[e]);
        }
        free(eps.k);
    }
    free(norms.k);
}

/* "classifier-feature FID of samples (features of X)", "Inception FID of samples". */
static void fid_label(char *label, size_t len, const cm_key *k)
{
    int inception = !strcmp(k->a, "inception");
    size_t at;
    if (inception) at = (size_t)snprintf(label, len, "Inception FID of samples");
    else if (!strcmp(k->a, "classifier_features")) at = (size_t)snprintf(label, len, "classifier-feature FID of samples");
    else at = (size_t)snprintf(label, len, "FID of samples (%.200s)", k->a);
    if (!inception && k->b && at < len) snprintf(label + at, len - at, " (features of %.400s)", k->b);
}

static void fid_rows(cm_ctx *c)
{
    cm_keys secs = {0};
    collect_fid(c, &secs);
    for (int s = 0; s < secs.n; s++) {
        char label[LABEL_MAX];
        fid_label(label, sizeof label, &secs.k[s]);
        row(c, label, CM_FID, get_fid, &secs.k[s]);
    }
    free(secs.k);
}

/* ---- entry point ------------------------------------------------------------------ */

static jp_status check_args(const jp_compare_opts *o, char **text, jp_error *err)
{
    if (!text) return jp_fail(err, JP_ERR_ARG, "jp_compare_table: no place for the text");
    if (!o || o->n_dirs < 1 || !o->dirs) return jp_fail(err, JP_ERR_ARG, "no evaluation folder given");
    for (int i = 0; i < o->n_dirs; i++) {
        const char *d = o->dirs[i];
        if (!d || !d[0]) return jp_fail(err, JP_ERR_ARG, "an empty folder name");
        if (strlen(d) > 900) return jp_fail(err, JP_ERR_ARG, "folder name too long: %.80s...", d);
        if (!rp_is_dir(d))
            return jp_fail(err, JP_ERR_ARG, "%s: %s", d,
                           rp_is_file(d, NULL) ? "not a folder (give the folder of jempp eval --out)"
                                               : "no such folder");
    }
    return JP_OK;
}

static void free_cols(cm_col *col, int n)
{
    for (int i = 0; i < n; i++)
        for (int m = 0; m < CM_MODES; m++) {
            jp_json_free(&col[i].doc[m]);
            rp_buf_free(&col[i].lacks[m]);
        }
    free(col);
}

jp_status jp_compare_table(const jp_compare_opts *o, char **text, jp_compare_info *info, jp_error *err)
{
    jp_status st = check_args(o, text, err);
    if (st) return st;
    *text = NULL;
    cm_ctx c;
    memset(&c, 0, sizeof c);
    c.o = o;
    c.n = o->n_dirs;
    if (!(c.col = calloc((size_t)c.n, sizeof *c.col))) return jp_fail(err, JP_ERR_NOMEM, "comparison table");
    for (int i = 0; i < c.n; i++) {
        c.col[i].dir = o->dirs[i];
        for (int m = 0; m < CM_MODES; m++) load_mode(&c, &c.col[i], m);
    }
    header(&c);
    classifier_rows(&c);
    ood_rows(&c);
    attack_rows(&c);
    fid_rows(&c);
    warn_lacks(&c);
    if (c.nomem || c.out.nomem || !c.out.p) {
        st = jp_fail(err, JP_ERR_NOMEM, "out of memory building the comparison table");
        rp_buf_free(&c.out);
    } else {
        *text = c.out.p;
        if (info) *info = (jp_compare_info){c.rows, c.n, c.warnings, c.corrupt};
    }
    free_cols(c.col, c.n);
    return st;
}
