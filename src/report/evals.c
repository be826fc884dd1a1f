/* The evaluation sections: one per folder written by `jempp eval --out DIR` (the run
 * folder's subfolders holding results, then the folders given with --eval). Each mode
 * found there (its JSON file or its pictures) gets a compact table of its key numbers
 * and its pictures; the file names and keys are those of tools/cli/cmd_eval*.c. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_internal.h"

#define MAX_PICS 6

typedef void (*show_fn)(rp_ctx *c, const char *dir, const jp_json *root);

typedef struct {
    const char *title;
    const char *json;     /* the mode's result file */
    const char *other;    /* another file or folder that shows the mode ran, or NULL */
    int json_optional;    /* the numbers come from `other` too: no note when json is absent */
    const char *pics[MAX_PICS]; /* picture names, or prefixes of them ("ood_hist_"), in order */
    show_fn show;
} eval_mode;

/* ---- small table helpers ---------------------------------------------------------------- */

static void kv(rp_buf *b, const char *label, const char *value)
{
    rp_put(b, "<tr><th>");
    rp_esc(b, label);
    rp_put(b, "</th><td>");
    rp_esc(b, value);
    rp_put(b, "</td></tr>\n");
}

static void kv_open(rp_buf *b) { rp_put(b, "<table class=\"kv\">\n"); }
static void kv_close(rp_buf *b) { rp_put(b, "</table>\n"); }

static void th_row(rp_buf *b, const char *const *heads, int n)
{
    rp_put(b, "<tr>");
    for (int i = 0; i < n; i++) {
        rp_put(b, "<th>");
        rp_esc(b, heads[i]);
        rp_put(b, "</th>");
    }
    rp_put(b, "</tr>\n");
}

static void td_num(rp_buf *b, const char *text)
{
    rp_put(b, "<td class=\"n\">");
    rp_esc(b, text);
    rp_put(b, "</td>");
}

static void td_text(rp_buf *b, const char *text)
{
    rp_put(b, "<td>");
    rp_esc(b, text ? text : "");
    rp_put(b, "</td>");
}

/* A " · " before every part but the first. */
static void part(rp_buf *b, int *n)
{
    if ((*n)++) rp_put(b, " &middot; ");
}

/* "checkpoint X · data fashionmnist/test, 10000 images · seed 1", from the keys every
 * mode writes (ev_json_begin, ev_json_dataset); absent keys are left out. */
static void settings_line(rp_buf *b, const jp_json *root)
{
    const char *ck = rp_jstr(root, "checkpoint"), *ds = rp_jstr(root, "dataset"), *sp = rp_jstr(root, "split");
    int n = 0;
    if (!ck && !ds && !jp_json_get(root, "sigma") && !jp_json_get(root, "seed")) return;
    rp_put(b, "<p class=\"sub\">");
    if (ck) {
        part(b, &n);
        rp_put(b, "checkpoint <code>");
        rp_esc(b, ck);
        rp_put(b, "</code>");
    }
    if (ds) {
        part(b, &n);
        rp_put(b, "data ");
        rp_esc(b, ds);
        if (sp && !strchr(ds, '/')) rp_escf(b, "/%s", sp); /* data set names usually carry their split */
        if (isfinite(rp_jnum(root, "n"))) rp_escf(b, ", %.0f images", rp_jnum(root, "n"));
    }
    if (isfinite(rp_jnum(root, "sigma"))) {
        part(b, &n);
        rp_escf(b, "input noise sigma %g", rp_jnum(root, "sigma"));
        if (isfinite(rp_jnum(root, "n_steps")) && jp_json_get(root, "sgld_lr"))
            rp_escf(b, ", %.0f SGLD steps", rp_jnum(root, "n_steps"));
    }
    if (isfinite(rp_jnum(root, "seed"))) {
        part(b, &n);
        rp_escf(b, "seed %.0f", rp_jnum(root, "seed"));
    }
    rp_put(b, "</p>\n");
}

/* ---- the modes ------------------------------------------------------------------------------ */

static void show_test_clf(rp_ctx *c, const char *dir, const jp_json *r)
{
    (void)dir;
    rp_buf *b = &c->body;
    char t[64];
    kv_open(b);
    kv(b, "accuracy", rp_pct(t, sizeof t, rp_jnum(r, "accuracy")));
    kv(b, "loss (mean cross-entropy)", rp_fmt(t, sizeof t, "%.4f", rp_jnum(r, "loss")));
    kv(b, "mean energy", rp_fmt(t, sizeof t, "%.4f", rp_jnum(r, "mean_energy")));
    kv_close(b);
    const jp_json *cls = jp_json_get(r, "classes");
    if (!cls || cls->type != JP_JSON_ARRAY || !cls->len) return;
    rp_printf(b, "<details><summary>per-class accuracy (%zu classes)</summary>\n<table>\n", cls->len);
    static const char *heads[] = {"class", "name", "images", "accuracy"};
    th_row(b, heads, 4);
    for (const jp_json *e = cls->child; e; e = e->next) {
        rp_put(b, "<tr>");
        td_num(b, rp_fmt(t, sizeof t, "%.0f", rp_jnum(e, "index")));
        td_text(b, rp_jstr(e, "name"));
        td_num(b, rp_fmt(t, sizeof t, "%.0f", rp_jnum(e, "n")));
        td_num(b, rp_pct(t, sizeof t, rp_jnum(e, "accuracy")));
        rp_put(b, "</tr>\n");
    }
    rp_put(b, "</table></details>\n");
}

/* predict.csv: its size and what it says, computed here (rows, accuracy, NLL, energy). */
static void predict_csv(rp_ctx *c, const char *dir)
{
    rp_csv t;
    int st = rp_load_csv(c, dir, "predict.csv", &t);
    if (st <= 0) return;
    int cl = rp_csv_col(&t, "label"), cp = rp_csv_col(&t, "pred"), ce = rp_csv_col(&t, "energy"),
        cg = rp_csv_col(&t, "logp_y_given_x");
    double right = 0, nll = 0, energy = 0;
    for (size_t r = 0; r < t.rows; r++) {
        right += rp_csv_num(&t, r, cl) == rp_csv_num(&t, r, cp);
        nll -= rp_csv_num(&t, r, cg);
        energy += rp_csv_num(&t, r, ce);
    }
    double n = (double)t.rows;
    char v[64], p[RP_PATH_MAX];
    size_t bytes = 0;
    rp_is_file(rp_path(p, sizeof p, dir, "predict.csv"), &bytes);
    rp_buf *b = &c->body;
    kv_open(b);
    kv(b, "predict.csv rows", rp_fmt(v, sizeof v, "%.0f", n));
    kv(b, "accuracy (from predict.csv)", rp_pct(v, sizeof v, n > 0 && cl >= 0 && cp >= 0 ? right / n : NAN));
    kv(b, "NLL (-mean log p(y|x))", rp_fmt(v, sizeof v, "%.4f", n > 0 && cg >= 0 ? nll / n : NAN));
    kv(b, "mean energy", rp_fmt(v, sizeof v, "%.4f", n > 0 && ce >= 0 ? energy / n : NAN));
    kv_close(b);
    rp_note(c, "predict.csv (%s, %d columns) is not embedded; it is next to this folder's JSON files.",
            rp_bytes(v, sizeof v, (double)bytes), t.cols);
    rp_csv_free(&t);
}

static void show_predict(rp_ctx *c, const char *dir, const jp_json *r)
{
    char t[64];
    if (r) {
        kv_open(&c->body);
        kv(&c->body, "accuracy (predict.json)", rp_pct(t, sizeof t, rp_jnum(r, "accuracy")));
        kv_close(&c->body);
    }
    predict_csv(c, dir);
}

static void show_cali(rp_ctx *c, const char *dir, const jp_json *r)
{
    (void)dir;
    rp_buf *b = &c->body;
    char t[64];
    kv_open(b);
    kv(b, "ECE (expected calibration error)", rp_pct(t, sizeof t, rp_jnum(r, "ece")));
    kv(b, "NLL", rp_fmt(t, sizeof t, "%.4f", rp_jnum(r, "nll")));
    kv(b, "accuracy", rp_pct(t, sizeof t, rp_jnum(r, "accuracy")));
    kv(b, "mean confidence", rp_pct(t, sizeof t, rp_jnum(r, "mean_confidence")));
    kv(b, "confidence bins", rp_fmt(t, sizeof t, "%.0f", rp_jnum(r, "n_bins")));
    kv_close(b);
}

static const char *const SCORES[] = {"px", "py", "pxgrad"};

static void ood_set_row(rp_buf *b, const jp_json *s, const int *have)
{
    char t[64];
    rp_put(b, "<tr>");
    td_text(b, rp_jstr(s, "name"));
    td_text(b, rp_jstr(s, "kind"));
    td_num(b, rp_fmt(t, sizeof t, "%.0f", rp_jnum(s, "n")));
    for (int k = 0; k < 3; k++) {
        if (!have[k]) continue;
        const jp_json *m = jp_json_get(s, SCORES[k]);
        td_num(b, rp_fmt(t, sizeof t, "%.4f", rp_jnum(m, "auroc")));
        td_num(b, rp_fmt(t, sizeof t, "%.4f", rp_jnum(m, "aupr")));
        td_num(b, rp_fmt(t, sizeof t, "%.4f", rp_jnum(m, "fpr95")));
    }
    rp_put(b, "</tr>\n");
}

static void show_ood(rp_ctx *c, const char *dir, const jp_json *r)
{
    (void)dir;
    rp_buf *b = &c->body;
    const jp_json *in = jp_json_get(r, "in_distribution"), *sets = jp_json_get(r, "sets");
    char t[64];
    if (in) {
        rp_put(b, "<p>in-distribution: ");
        rp_esc(b, rp_jstr(in, "name") ? rp_jstr(in, "name") : "?");
        rp_escf(b, " (%s images)", rp_fmt(t, sizeof t, "%.0f", rp_jnum(in, "n")));
        rp_put(b, "; higher scores mean more in-distribution, in-distribution images are the positives.</p>\n");
    }
    if (!sets || sets->type != JP_JSON_ARRAY || !sets->len) {
        rp_note(c, "ood.json lists no OOD set.");
        return;
    }
    int have[3] = {0, 0, 0}, nh = 0; /* the scores any set reports, as columns */
    for (const jp_json *s = sets->child; s; s = s->next)
        for (int k = 0; k < 3; k++) have[k] |= jp_json_get(s, SCORES[k]) != NULL;
    for (int k = 0; k < 3; k++) nh += have[k];
    rp_put(b, "<table>\n<tr><th rowspan=\"2\">OOD set</th><th rowspan=\"2\">kind</th><th rowspan=\"2\">images</th>");
    for (int k = 0; k < 3; k++)
        if (have[k]) rp_printf(b, "<th colspan=\"3\">score %s</th>", SCORES[k]);
    rp_put(b, "</tr>\n<tr>");
    for (int k = 0; k < nh; k++) rp_put(b, "<th>AUROC</th><th>AUPR</th><th>FPR95</th>");
    rp_put(b, "</tr>\n");
    for (const jp_json *s = sets->child; s; s = s->next) ood_set_row(b, s, have);
    rp_put(b, "</table>\n");
}

static void show_samples(rp_ctx *c, const char *dir, const jp_json *r)
{
    (void)dir;
    rp_buf *b = &c->body;
    char t[64], u[64];
    kv_open(b);
    const char *sampler = rp_jstr(r, "sampler");
    snprintf(u, sizeof u, "%s, %s steps", sampler ? sampler : "?", rp_fmt(t, sizeof t, "%.0f", rp_jnum(r, "n_steps")));
    kv(b, "sampler", u);
    const char *init = rp_jstr(r, "init");
    kv(b, "initialisation", init ? init : "?");
    const jp_json *tm = jp_json_get(r, "train_mode_sampling");
    kv(b, "train-mode sampling", tm && tm->type == JP_JSON_TRUE ? "yes" : "no");
    static const char *keys[2] = {"energy_unconditional", "energy_conditional"};
    static const char *labels[2] = {"energy, unconditional chains (first -> last)",
                                    "energy, class-conditional chains (first -> last)"};
    for (int k = 0; k < 2; k++) {
        const jp_json *e = jp_json_get(r, keys[k]);
        if (!e || e->type != JP_JSON_ARRAY || !e->len) continue;
        const jp_json *last = e->child;
        while (last->next) last = last->next;
        double a = e->child->type == JP_JSON_NUMBER ? e->child->number : NAN;
        double z = last->type == JP_JSON_NUMBER ? last->number : NAN;
        char v[96];
        snprintf(v, sizeof v, "%s -> %s", rp_fmt(t, sizeof t, "%.4f", a), rp_fmt(u, sizeof u, "%.4f", z));
        kv(b, labels[k], v);
    }
    const jp_json *buf = jp_json_get(r, "replay_buffer");
    if (buf && buf->type == JP_JSON_OBJECT) {
        char v[128];
        snprintf(v, sizeof v, "%s images, mean energy %s", rp_fmt(t, sizeof t, "%.0f", rp_jnum(buf, "n")),
                 rp_fmt(u, sizeof u, "%.4f", rp_jnum(buf, "mean_energy")));
        kv(b, "replay buffer", v);
    }
    kv_close(b);
}

static void attack_norm(rp_buf *b, const char *norm, const jp_json *o)
{
    char t[64], u[64];
    int linf = !strcmp(norm, "linf");
    rp_put(b, "<p>");
    rp_escf(b, "%s: clean accuracy %s", linf ? "L-inf" : "L2", rp_pct(t, sizeof t, rp_jnum(o, "clean_accuracy")));
    rp_put(b, "</p>\n");
    const jp_json *pts = jp_json_get(o, "points");
    if (!pts || pts->type != JP_JSON_ARRAY) return;
    static const char *heads[] = {"eps (pixel units)", "robust accuracy", "largest perturbation"};
    rp_put(b, "<table>\n");
    th_row(b, heads, 3);
    for (const jp_json *p = pts->child; p; p = p->next) {
        double eps = rp_jnum(p, "eps"), k255 = eps * 255;
        /* L-inf radii are quoted as k/255 in the literature */
        if (linf && isfinite(eps) && eps > 0 && fabs(k255 - round(k255)) < 1e-6)
            snprintf(u, sizeof u, "%.0f/255 (%.5g)", round(k255), eps);
        else rp_fmt(u, sizeof u, "%.5g", eps);
        rp_put(b, "<tr>");
        td_num(b, u);
        td_num(b, rp_pct(t, sizeof t, rp_jnum(p, "robust_accuracy")));
        td_num(b, rp_fmt(t, sizeof t, "%.5g", rp_jnum(p, "max_norm")));
        rp_put(b, "</tr>\n");
    }
    rp_put(b, "</table>\n");
}

static void show_attack(rp_ctx *c, const char *dir, const jp_json *r)
{
    (void)dir;
    rp_buf *b = &c->body;
    char t[64], u[64];
    const jp_json *def = jp_json_get(r, "defence");
    rp_put(b, "<p>");
    rp_escf(b, "PGD, %s iterations, %s restart(s), step %s", rp_fmt(t, sizeof t, "%.0f", rp_jnum(r, "n_iter")),
            rp_fmt(u, sizeof u, "%.0f", rp_jnum(r, "restarts")), rp_jstr(r, "step") ? rp_jstr(r, "step") : "?");
    if (def && def->type == JP_JSON_OBJECT)
        rp_escf(b, "; JEM defence: %s noisy copies refined by %s SGLD steps (BPDA)",
                rp_fmt(t, sizeof t, "%.0f", rp_jnum(def, "n_copies")),
                rp_fmt(u, sizeof u, "%.0f", rp_jnum(def, "refine_steps")));
    else rp_put(b, "; no defence");
    rp_put(b, ".</p>\n");
    int any = 0;
    for (const jp_json *e = r->child; e; e = e->next)
        if (e->type == JP_JSON_OBJECT && (!strcmp(e->key, "linf") || !strcmp(e->key, "l2"))) {
            attack_norm(b, e->key, e);
            any = 1;
        }
    if (!any) rp_note(c, "attack.json holds no L-inf or L2 results.");
}

static void fid_row(rp_buf *b, const char *label, const jp_json *f)
{
    char t[64], u[64], v[140];
    rp_put(b, "<tr>");
    td_text(b, label);
    td_num(b, rp_fmt(t, sizeof t, "%.3f", rp_jnum(f, "fid")));
    snprintf(v, sizeof v, "%s &plusmn; %s", rp_fmt(t, sizeof t, "%.5f", rp_jnum(f, "kid_mean")),
             rp_fmt(u, sizeof u, "%.5f", rp_jnum(f, "kid_std")));
    rp_printf(b, "<td class=\"n\">%s</td>", v); /* only formatted numbers: nothing to escape */
    if (jp_json_get(f, "inception_score_mean")) {
        snprintf(v, sizeof v, "%s &plusmn; %s", rp_fmt(t, sizeof t, "%.3f", rp_jnum(f, "inception_score_mean")),
                 rp_fmt(u, sizeof u, "%.3f", rp_jnum(f, "inception_score_std")));
        rp_printf(b, "<td class=\"n\">%s</td>", v);
    } else {
        td_text(b, "-");
    }
    td_text(b, rp_jstr(f, "note") ? rp_jstr(f, "note") : rp_jstr(f, "features"));
    rp_put(b, "</tr>\n");
}

static void show_fid(rp_ctx *c, const char *dir, const jp_json *r)
{
    (void)dir;
    rp_buf *b = &c->body;
    char t[64], u[64], v[64];
    const jp_json *s = jp_json_get(r, "samples"), *ref = jp_json_get(r, "reference");
    const char *src = rp_jstr(s, "source"), *rn = rp_jstr(ref, "name");
    rp_put(b, "<p>");
    rp_escf(b, "%s samples from %s (selection %s) against %s reference images of %s.",
            rp_fmt(t, sizeof t, "%.0f", rp_jnum(s, "n")), src ? src : "?",
            rp_fmt(u, sizeof u, "%g", rp_jnum(s, "select")),
            rp_fmt(v, sizeof v, "%.0f", rp_jnum(ref, "n")), rn ? rn : "?");
    rp_put(b, "</p>\n");
    static const char *heads[] = {"features", "FID", "KID", "Inception Score", "note"};
    rp_put(b, "<table>\n");
    th_row(b, heads, 5);
    const jp_json *inc = jp_json_get(r, "inception"), *clf = jp_json_get(r, "classifier_features");
    if (inc) fid_row(b, "Inception-v3", inc);
    if (clf) fid_row(b, "classifier features", clf);
    rp_put(b, "</table>\n");
    if (!inc && !clf) rp_note(c, "fid.json holds neither Inception nor classifier-feature results.");
}

static const eval_mode MODES[] = {
    {"Classification (test_clf)", "test_clf.json", NULL, 0, {"confusion.png", "per_class_accuracy.png"}, show_test_clf},
    {"Predictions (predict)", "predict.json", "predict.csv", 1, {NULL}, show_predict},
    {"Calibration (cali)", "cali.json", NULL, 0, {"reliability.png"}, show_cali},
    {"Out-of-distribution detection (ood)", "ood.json", NULL, 0,
     {"ood_hist_px.png", "ood_hist_py.png", "ood_hist_pxgrad.png", "ood_hist_"}, show_ood},
    {"Samples (samples)", "samples.json", "animation", 0,
     {"samples_uncond.png", "samples_cond.png", "energy.png", "buffer.png", "buffer_by_class.png"}, show_samples},
    {"Adversarial robustness (attack)", "attack.json", NULL, 0,
     {"robust_accuracy_linf.png", "robust_accuracy_l2.png", "robust_accuracy_", "adversarial_linf.png",
      "adversarial_l2.png", "adversarial_"},
     show_attack},
    {"FID, KID, Inception Score (fid)", "fid.json", NULL, 0, {"fid_samples.png"}, show_fid},
};
#define N_MODES (sizeof MODES / sizeof *MODES)

/* ---- pictures of a folder ------------------------------------------------------------------- */

static int is_png(const char *dir, const char *name)
{
    char p[RP_PATH_MAX];
    return rp_has_suffix(name, ".png") && rp_is_file(rp_path(p, sizeof p, dir, name), NULL);
}

static int matches(const char *name, const char *pattern)
{
    return !strncmp(name, pattern, strlen(pattern));
}

/* Grids of images are shown pixelated and enlarged; charts as they are. */
static int grid_flags(const char *name)
{
    static const char *grids[] = {"samples_", "buffer", "adversarial_", "fid_samples", "frame_"};
    for (size_t i = 0; i < sizeof grids / sizeof *grids; i++)
        if (matches(name, grids[i])) return RP_IMG_PIXELATED;
    return 0;
}

/* The mode's pictures that exist, in the mode's order; marks them used. */
static void mode_pictures(rp_ctx *c, const char *dir, const eval_mode *m, const rp_names *pngs, char *used)
{
    int open = 0;
    for (int p = 0; p < MAX_PICS && m->pics[p]; p++)
        for (int i = 0; i < pngs->n; i++) {
            if (used[i] || !matches(pngs->name[i], m->pics[p])) continue;
            used[i] = 1;
            if (!open) rp_gallery_begin(c);
            open = 1;
            rp_figure(c, dir, pngs->name[i], pngs->name[i], grid_flags(pngs->name[i]));
        }
    if (open) rp_gallery_end(c);
}

/* A few frames of animation/ evenly spaced from the first to the last. */
static void animation(rp_ctx *c, const char *dir)
{
    char adir[RP_PATH_MAX];
    rp_path(adir, sizeof adir, dir, "animation");
    if (!rp_is_dir(adir)) return;
    rp_names fr;
    jp_error err = {0};
    if (rp_list_dir(adir, is_png, &fr, &err)) {
        rp_warn(c, "%s", err.msg);
        return;
    }
    int k = fr.n < c->o->max_animation_frames ? fr.n : c->o->max_animation_frames;
    rp_put(&c->body, "<p>");
    rp_escf(&c->body, "animation/: %d frames from the initial state to the last step", fr.n);
    if (k < fr.n) rp_escf(&c->body, "; %d of them shown", k);
    rp_put(&c->body, ".</p>\n");
    rp_gallery_begin(c);
    for (int j = 0; j < k; j++) {
        int i = k == 1 ? 0 : (int)lround((double)j * (fr.n - 1) / (k - 1));
        char cap[300];
        snprintf(cap, sizeof cap, "animation/%s (frame %d of %d)", fr.name[i], i + 1, fr.n);
        rp_figure(c, adir, fr.name[i], cap, RP_IMG_PIXELATED);
    }
    rp_gallery_end(c);
    rp_names_free(&fr);
}

static int mode_present(const char *dir, const eval_mode *m, const rp_names *pngs)
{
    char p[RP_PATH_MAX];
    if (rp_is_file(rp_path(p, sizeof p, dir, m->json), NULL)) return 1;
    if (m->other && (rp_is_file(rp_path(p, sizeof p, dir, m->other), NULL) || rp_is_dir(p))) return 1;
    for (int k = 0; k < MAX_PICS && m->pics[k]; k++)
        for (int i = 0; i < pngs->n; i++)
            if (matches(pngs->name[i], m->pics[k])) return 1;
    return 0;
}

/* One mode: heading, settings and numbers from its JSON (absent or corrupt: said),
 * then its pictures. Returns 1 when shown. */
static int mode_section(rp_ctx *c, const char *dir, const eval_mode *m, const rp_names *pngs, char *used)
{
    if (!mode_present(dir, m, pngs)) return 0;
    rp_put(&c->body, "<h3>");
    rp_esc(&c->body, m->title);
    rp_put(&c->body, "</h3>\n");
    jp_json_doc d;
    int st = rp_load_json(c, dir, m->json, &d);
    const jp_json *root = st == 1 && d.root && d.root->type == JP_JSON_OBJECT ? d.root : NULL;
    if (st == 1 && !root) rp_warn(c, "%s/%s is JSON but not an object", dir, m->json);
    if (root) settings_line(&c->body, root);
    if (st == 0 && !m->json_optional) rp_note(c, "%s absent.", m->json);
    if (root || m->json_optional) m->show(c, dir, root);
    jp_json_free(&d);
    mode_pictures(c, dir, m, pngs, used);
    if (m->show == show_samples) animation(c, dir);
    return 1;
}

static void other_pictures(rp_ctx *c, const char *dir, const rp_names *pngs, const char *used)
{
    int open = 0;
    for (int i = 0; i < pngs->n; i++) {
        if (used[i]) continue;
        if (!open) {
            rp_put(&c->body, "<h3>Other pictures</h3>\n");
            rp_gallery_begin(c);
        }
        open = 1;
        rp_figure(c, dir, pngs->name[i], pngs->name[i], grid_flags(pngs->name[i]));
    }
    if (open) rp_gallery_end(c);
}

static void eval_dir_section(rp_ctx *c, const char *dir, const char *label)
{
    char id[32];
    snprintf(id, sizeof id, "eval-%d", ++c->eval_dirs);
    char title[RP_PATH_MAX + 32];
    snprintf(title, sizeof title, "Evaluation: %s", label);
    rp_section(c, id, title);
    rp_put(&c->body, "<p class=\"sub\">folder <code>");
    rp_esc(&c->body, dir);
    rp_put(&c->body, "</code></p>\n");
    rp_names pngs;
    jp_error err = {0};
    if (rp_list_dir(dir, is_png, &pngs, &err)) {
        rp_warn(c, "%s", err.msg);
        return;
    }
    char *used = calloc((size_t)pngs.n + 1, 1);
    if (!used) {
        c->body.nomem = 1;
        rp_names_free(&pngs);
        return;
    }
    int shown = 0;
    for (size_t k = 0; k < N_MODES; k++) shown += mode_section(c, dir, &MODES[k], &pngs, used);
    other_pictures(c, dir, &pngs, used);
    if (!shown && !pngs.n) rp_note(c, "No evaluation results in this folder (jempp eval --out writes them).");
    free(used);
    rp_names_free(&pngs);
}

int rp_is_eval_dir(const char *dir)
{
    char p[RP_PATH_MAX];
    for (size_t k = 0; k < N_MODES; k++) {
        if (rp_is_file(rp_path(p, sizeof p, dir, MODES[k].json), NULL)) return 1;
        if (MODES[k].other && rp_is_file(rp_path(p, sizeof p, dir, MODES[k].other), NULL)) return 1;
    }
    return 0;
}

static int keep_eval_subdir(const char *dir, const char *name)
{
    char p[RP_PATH_MAX];
    rp_path(p, sizeof p, dir, name);
    return rp_is_dir(p) && rp_is_eval_dir(p);
}

/* The same folder reached by two names (runs/x/eval and --eval ./runs/x/eval/) is
 * shown once. */
static int seen_before(char (*real)[PATH_MAX], int n, const char *dir)
{
    char *r = realpath(dir, NULL);
    snprintf(real[n], PATH_MAX, "%s", r ? r : dir);
    free(r);
    for (int i = 0; i < n; i++)
        if (!strcmp(real[i], real[n])) return 1;
    return 0;
}

void rp_eval_sections(rp_ctx *c, const char *const *extra, int n_extra)
{
    rp_names subs;
    jp_error err = {0};
    if (rp_list_dir(c->run_dir, keep_eval_subdir, &subs, &err)) {
        rp_section(c, "evals", "Evaluations");
        rp_warn(c, "%s", err.msg);
        return;
    }
    int total = subs.n + n_extra, n = 0;
    char (*real)[PATH_MAX] = malloc(((size_t)total + 1) * sizeof *real);
    if (!real) {
        c->body.nomem = 1;
        rp_names_free(&subs);
        return;
    }
    for (int i = 0; i < total; i++) {
        char dir[RP_PATH_MAX];
        const char *label = i < subs.n ? subs.name[i] : extra[i - subs.n];
        if (i < subs.n) rp_path(dir, sizeof dir, c->run_dir, subs.name[i]);
        else snprintf(dir, sizeof dir, "%s", extra[i - subs.n]);
        if (seen_before(real, n, dir)) continue;
        n++;
        eval_dir_section(c, dir, label);
    }
    if (!n) {
        rp_section(c, "evals", "Evaluations");
        rp_note(c, "No evaluation results: none of the run folder's subfolders holds any, and no --eval folder was "
                   "given (jempp eval --ckpt RUN/best.safetensors --mode test_clf --out RUN/eval).");
    }
    free(real);
    rp_names_free(&subs);
}
