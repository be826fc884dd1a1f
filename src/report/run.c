/* The training run's sections: summary, configuration, epochs, curves, events and
 * sample grids, from the files `jempp train` writes (src/ebm/trainer.c). Each piece
 * may be absent: the page then says so and goes on. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_internal.h"

#define MAX_EVENTS 500

typedef struct {
    jp_json_doc cfg_doc, res_doc;
    const jp_json *cfg, *res; /* the top-level objects, NULL when absent or unusable */
    int cfg_state, res_state; /* rp_load_json's answer */
    rp_csv metrics, epochs;
    int metrics_state, epochs_state;
} run_files;

static void kv_begin(rp_buf *b, const char *label)
{
    rp_put(b, "<tr><th>");
    rp_esc(b, label);
    rp_put(b, "</th><td>");
}

static void kv_end(rp_buf *b) { rp_put(b, "</td></tr>\n"); }

/* A config value as written in the file (escaped), or fallback when absent. */
static void cfg_val(rp_buf *b, const jp_json *cfg, const char *key, const char *fallback)
{
    const jp_json *v = jp_json_get(cfg, key);
    if (v) rp_json_text(b, v);
    else rp_put(b, fallback);
}

/* text, then the config value of key (or "?") */
static void put_val(rp_buf *b, const jp_json *cfg, const char *text, const char *key)
{
    rp_put(b, text);
    cfg_val(b, cfg, key, "?");
}

static double cfg_num(const jp_json *cfg, const char *key) { return rp_jnum(cfg, key); }

/* A plain softmax classifier: softmax_only, or clf_only in a config.json before version 3
 * (src/ebm/train_config_json.c). */
static int softmax_run(const jp_json *cfg)
{
    return cfg_num(cfg, "softmax_only") == 1 || (cfg_num(cfg, "clf_only") == 1 && !(cfg_num(cfg, "config_version") >= 3));
}

/* ---- loading ------------------------------------------------------------------------ */

static const jp_json *object_root(rp_ctx *c, jp_json_doc *d, int state, const char *name)
{
    if (state != 1) return NULL;
    if (d->root && d->root->type == JP_JSON_OBJECT) return d->root;
    rp_warn(c, "%s/%s is JSON but not an object (it holds %s)", c->run_dir, name,
            d->root ? jp_json_type_name(d->root->type) : "nothing");
    return NULL;
}

static void load_run(rp_ctx *c, run_files *f)
{
    memset(f, 0, sizeof *f);
    f->cfg_state = rp_load_json(c, c->run_dir, "config.json", &f->cfg_doc);
    f->cfg = object_root(c, &f->cfg_doc, f->cfg_state, "config.json");
    f->res_state = rp_load_json(c, c->run_dir, "result.json", &f->res_doc);
    f->res = object_root(c, &f->res_doc, f->res_state, "result.json");
    f->metrics_state = rp_load_csv(c, c->run_dir, "metrics.csv", &f->metrics);
    f->epochs_state = rp_load_csv(c, c->run_dir, "epochs.csv", &f->epochs);
}

static void free_run(run_files *f)
{
    jp_json_free(&f->cfg_doc);
    jp_json_free(&f->res_doc);
    rp_csv_free(&f->metrics);
    rp_csv_free(&f->epochs);
}

/* ---- summary ------------------------------------------------------------------------ */

static void summary_model(rp_buf *b, const jp_json *cfg)
{
    kv_begin(b, "Data set");
    cfg_val(b, cfg, "dataset", "?");
    const jp_json *shape = jp_json_get(cfg, "image_shape");
    if (shape) {
        rp_put(b, " &middot; images ");
        rp_json_text(b, shape);
    }
    if (jp_json_get(cfg, "n_classes")) {
        put_val(b, cfg, " &middot; ", "n_classes");
        rp_put(b, " classes");
    }
    kv_end(b);
    kv_begin(b, "Model");
    put_val(b, cfg, "WRN-", "depth");
    put_val(b, cfg, "-", "width");
    if (cfg_num(cfg, "dropout_rate") > 0) {
        rp_put(b, ", dropout ");
        cfg_val(b, cfg, "dropout_rate", "");
    }
    put_val(b, cfg, " &middot; norm ", "norm");
    kv_end(b);
}

static void summary_sampler(rp_buf *b, const jp_json *cfg)
{
    int clf_only = softmax_run(cfg);
    kv_begin(b, "Objective");
    if (clf_only) {
        rp_put(b, "classifier only (cross-entropy)");
    } else {
        put_val(b, cfg, "JEM: p(x) weight ", "p_x_weight");
        put_val(b, cfg, ", p(y|x) weight ", "p_y_given_x_weight");
        put_val(b, cfg, ", p(x,y) weight ", "p_x_y_weight");
        if (cfg_num(cfg, "uncond") == 1) rp_put(b, "; log p(x) from the energy head (uncond)");
    }
    kv_end(b);
    kv_begin(b, "Sampler");
    const char *s = rp_jstr(cfg, "sampler");
    if (clf_only) {
        rp_put(b, "none (classifier only)");
    } else if (s && !strcmp(s, "pyld")) {
        put_val(b, cfg, "PYLD-", "n_steps");
        put_val(b, cfg, "-", "in_steps");
        put_val(b, cfg, " (M = n_steps outer, N = in_steps inner; pyld_lr ", "pyld_lr");
        put_val(b, cfg, ", eps ", "eps");
        rp_put(b, ")");
    } else {
        rp_put(b, s && !strcmp(s, "proximal") ? "proximal SGLD-" : s && !strcmp(s, "sgld") ? "SGLD-" : "");
        if (s && strcmp(s, "proximal") && strcmp(s, "sgld")) {
            rp_esc(b, s);
            rp_put(b, "-");
        }
        cfg_val(b, cfg, "n_steps", "?");
        put_val(b, cfg, " (K = n_steps; sgld_lr ", "sgld_lr");
        put_val(b, cfg, ", sgld_std ", "sgld_std");
        rp_put(b, ")");
    }
    kv_end(b);
    if (!clf_only) {
        kv_begin(b, "Initialisation");
        cfg_val(b, cfg, "init", "?");
        put_val(b, cfg, " &middot; replay buffer ", "buffer_size");
        put_val(b, cfg, ", reinit_freq ", "reinit_freq");
        kv_end(b);
    }
    kv_begin(b, "Optimiser");
    cfg_val(b, cfg, "optimizer", "?");
    put_val(b, cfg, ", lr ", "lr");
    put_val(b, cfg, ", batch ", "batch_size");
    put_val(b, cfg, ", epochs ", "n_epochs");
    if (cfg_num(cfg, "max_iters") > 0) {
        rp_put(b, ", max_iters ");
        cfg_val(b, cfg, "max_iters", "");
    }
    kv_end(b);
}

/* The last iteration number and the summed seconds of metrics.csv, for a run without
 * result.json. */
static void metrics_progress(const rp_csv *m, double *iter, double *seconds)
{
    int ci = rp_csv_col(m, "iter"), cs = rp_csv_col(m, "sec_per_iter");
    *iter = m->rows ? rp_csv_num(m, m->rows - 1, ci) : NAN;
    double s = 0;
    for (size_t r = 0; r < m->rows && cs >= 0; r++) {
        double v = rp_csv_num(m, r, cs);
        if (isfinite(v)) s += v;
    }
    *seconds = cs >= 0 && m->rows ? s : NAN;
}

/* The accuracies, each named by the model it belongs to: the final model
 * (last.safetensors) and best.safetensors. result.json files without "final" / "best"
 * (earlier versions) give the top-level numbers only. */
static void summary_models(rp_buf *b, const jp_json *r)
{
    char t1[96], t2[96], t3[96], t4[96];
    const jp_json *fin = r ? jp_json_get(r, "final") : NULL, *best = r ? jp_json_get(r, "best") : NULL;
    double it = rp_jnum(fin, "iter");
    kv_begin(b, "Final model (last.safetensors)");
    rp_printf(b, "test accuracy %s (loss %s), validation %s%s%s", rp_pct(t1, sizeof t1, rp_jnum(r, "test_acc")),
              rp_fmt(t2, sizeof t2, "%.4f", rp_jnum(r, "test_loss")), rp_pct(t3, sizeof t3, rp_jnum(r, "valid_acc")),
              isfinite(it) ? ", after iteration " : "", isfinite(it) ? rp_fmt(t4, sizeof t4, "%.0f", it) : "");
    kv_end(b);
    kv_begin(b, "Best model (best.safetensors)");
    double nv = rp_jnum(r, "valid_images");
    if (best && best->type == JP_JSON_OBJECT)
        rp_printf(b, "validation accuracy %s, test %s, at the end of epoch %s (iteration %s)",
                  rp_pct(t1, sizeof t1, rp_jnum(best, "valid_acc")), rp_pct(t2, sizeof t2, rp_jnum(best, "test_acc")),
                  rp_fmt(t3, sizeof t3, "%.0f", rp_jnum(best, "epoch")), rp_fmt(t4, sizeof t4, "%.0f", rp_jnum(best, "iter")));
    else if (rp_jnum(r, "best_valid_acc") >= 0)
        rp_printf(b, "validation accuracy %s", rp_pct(t1, sizeof t1, rp_jnum(r, "best_valid_acc")));
    else
        rp_put(b, nv == 0 ? "none: the run has no validation split"
                  : isfinite(nv) ? "none yet: it is chosen at the epoch-end evaluations, and no epoch ended"
                                 : "none");
    kv_end(b);
}

static void summary_results(rp_buf *b, const run_files *f)
{
    char t1[96];
    const jp_json *r = f->res;
    kv_begin(b, "Status");
    rp_put(b, r ? "finished (result.json written)"
                : f->res_state == 0 ? "no result.json: still running, stopped early, or failed"
                                    : "result.json unreadable (see the problems below)");
    kv_end(b);
    double iters = rp_jnum(r, "iters"), secs = rp_jnum(r, "seconds"), spi = rp_jnum(r, "seconds_per_iter");
    const char *from = "";
    if (!r && f->metrics_state == 1) {
        metrics_progress(&f->metrics, &iters, &secs);
        spi = isfinite(iters) && iters > 0 ? secs / iters : NAN;
        from = " (from metrics.csv)";
    }
    kv_begin(b, "Iterations");
    rp_printf(b, "%s%s", rp_fmt(t1, sizeof t1, "%.0f", iters), from);
    kv_end(b);
    kv_begin(b, "Wall time");
    rp_printf(b, "%s%s", rp_duration(t1, sizeof t1, secs), r ? "" : from);
    kv_end(b);
    kv_begin(b, "Seconds per iteration");
    rp_printf(b, "%s%s", rp_fmt(t1, sizeof t1, "%.4f", spi), r ? "" : from);
    kv_end(b);
    summary_models(b, r);
    kv_begin(b, "Recoveries from divergence");
    rp_put(b, rp_fmt(t1, sizeof t1, "%.0f", rp_jnum(r, "recoveries")));
    kv_end(b);
}

/* Which of the usual files are there, with sizes; which are not. */
static void summary_files(rp_ctx *c)
{
    static const char *files[] = {"config.json", "result.json", "metrics.csv", "metrics.jsonl", "epochs.csv",
                                  "epochs.jsonl", "curves_accuracy.png", "curves_energy.png",
                                  "samples_conditional.png", "buffer.png", "last.safetensors", "best.safetensors"};
    rp_buf *b = &c->body;
    rp_buf absent = {0};
    rp_put(b, "<p><b>Files:</b> ");
    int np = 0;
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char p[RP_PATH_MAX], sz[32];
        size_t n;
        if (rp_is_file(rp_path(p, sizeof p, c->run_dir, files[i]), &n)) {
            rp_printf(b, "%s<code>%s</code> (%s)", np++ ? ", " : "", files[i], rp_bytes(sz, sizeof sz, (double)n));
        } else {
            rp_printf(&absent, "%s<code>%s</code>", absent.len ? ", " : "", files[i]);
        }
    }
    if (!np) rp_put(b, "none of the usual ones");
    if (absent.p) {
        rp_put(b, ". <b>Absent:</b> ");
        rp_putn(b, absent.p, absent.len);
    }
    rp_put(b, ".</p>\n");
    if (absent.nomem) b->nomem = 1;
    rp_buf_free(&absent);
}

static void summary(rp_ctx *c, const run_files *f)
{
    rp_buf *b = &c->body;
    if (f->cfg_state == 0) rp_note(c, "config.json absent: the configuration is unknown");
    rp_put(b, "<div class=\"box\"><table class=\"kv summary\">\n");
    kv_begin(b, "Run folder");
    rp_put(b, "<code>");
    rp_esc(b, c->run_dir);
    rp_put(b, "</code>");
    kv_end(b);
    if (f->cfg) {
        summary_model(b, f->cfg);
        summary_sampler(b, f->cfg);
    }
    summary_results(b, f);
    rp_put(b, "</table>\n");
    summary_files(c);
    rp_put(b, "</div>\n");
}

/* ---- configuration and epochs -------------------------------------------------------- */

static void config_section(rp_ctx *c, const run_files *f)
{
    rp_section(c, "config", "Configuration");
    if (!f->cfg) {
        rp_note(c, "%s", f->cfg_state == 0 ? "config.json absent."
                                           : "config.json could not be used (see the problems above).");
        return;
    }
    /* three key/value pairs per row keeps ~40 settings on one screen */
    rp_buf *b = &c->body;
    rp_put(b, "<table class=\"config\">\n");
    int k = 0;
    for (const jp_json *e = f->cfg->child; e; e = e->next, k++) {
        if (k % 3 == 0) rp_put(b, k ? "</tr>\n<tr>" : "<tr>");
        rp_put(b, "<th>");
        rp_escn(b, e->key, e->key_len);
        rp_put(b, "</th><td>");
        rp_json_text(b, e);
        rp_put(b, "</td>");
    }
    if (k) rp_put(b, "</tr>\n");
    rp_put(b, "</table>\n");
}

static int is_number(const char *s)
{
    char *end;
    if (!*s) return 0;
    strtod(s, &end);
    return !*end;
}

static void csv_table(rp_buf *b, const rp_csv *t)
{
    rp_put(b, "<table>\n<tr>");
    for (int k = 0; k < t->cols; k++) {
        rp_put(b, "<th>");
        rp_esc(b, t->cell[k]);
        rp_put(b, "</th>");
    }
    rp_put(b, "</tr>\n");
    for (size_t r = 0; r < t->rows; r++) {
        rp_put(b, "<tr>");
        for (int k = 0; k < t->cols; k++) {
            const char *s = rp_csv_cell(t, r, k);
            rp_put(b, is_number(s) ? "<td class=\"n\">" : "<td>");
            rp_esc(b, s);
            rp_put(b, "</td>");
        }
        rp_put(b, "</tr>\n");
    }
    rp_put(b, "</table>\n");
}

static void epochs_section(rp_ctx *c, const run_files *f)
{
    rp_section(c, "epochs", "Epochs");
    if (f->epochs_state == 0) {
        rp_note(c, "epochs.csv absent: no epoch was evaluated.");
        return;
    }
    if (f->epochs_state < 0) return; /* warned when loaded */
    if (!f->epochs.rows) {
        rp_note(c, "epochs.csv holds no epoch yet (an epoch is evaluated when it ends).");
        return;
    }
    rp_buf *b = &c->body;
    int fold = f->epochs.rows > 30; /* a long table stays out of the way until asked for */
    if (fold) rp_printf(b, "<details><summary>%zu epochs</summary>\n", f->epochs.rows);
    csv_table(b, &f->epochs);
    if (fold) rp_put(b, "</details>\n");
    if (f->epochs.bad) rp_note(c, "epochs.csv: %zu incomplete lines skipped", f->epochs.bad);
}

/* ---- curves ---------------------------------------------------------------------------- */

/* Column `name` of t as numbers (NaN where absent), downsampled with x to at most 1000
 * points. Returns the points kept; out arrays hold t->rows values. */
static size_t column_points(const rp_csv *t, const char *xname, const char *name, double *xs, double *ys,
                            double *ox, double *oy)
{
    int cx = rp_csv_col(t, xname), cy = rp_csv_col(t, name);
    for (size_t r = 0; r < t->rows; r++) {
        xs[r] = cx >= 0 ? rp_csv_num(t, r, cx) : (double)r;
        ys[r] = cy >= 0 ? rp_csv_num(t, r, cy) : NAN;
    }
    return rp_downsample(xs, ys, t->rows, 1000, ox, oy);
}

/* Up to 3 columns of t against xname on one chart; columns that are all zero or absent
 * are left out, and the chart too when nothing is left. */
static void csv_chart(rp_ctx *c, const rp_csv *t, const char *xname, const char *const *cols, int ncols,
                      const rp_chart *ch, double *scratch)
{
    size_t n = t->rows;
    double *xs = scratch, *ys = scratch + n, *pts = scratch + 2 * n; /* pts: 2 x 1000 per column */
    rp_line lines[3];
    int nl = 0;
    for (int k = 0; k < ncols && k < 3; k++) {
        double *ox = pts + (size_t)k * 2000, *oy = ox + 1000;
        size_t m = column_points(t, xname, cols[k], xs, ys, ox, oy);
        for (size_t i = 0; i < m && ch->y01; i++)
            if (oy[i] < 0) oy[i] = NAN; /* an accuracy of -1 means "not measured" (no validation split) */
        int useful = 0;
        for (size_t i = 0; i < m; i++) useful |= isfinite(oy[i]) && oy[i] != 0;
        if (useful) lines[nl++] = (rp_line){cols[k], ox, oy, m};
    }
    if (nl) rp_svg_chart(&c->body, ch, lines, nl);
}

/* "loss" and "ce" are the same number in a classifier-only run: one curve then. */
static int ce_differs(const rp_csv *m)
{
    int cl = rp_csv_col(m, "loss"), cc = rp_csv_col(m, "ce");
    if (cl < 0 || cc < 0) return 0;
    for (size_t r = 0; r < m->rows; r++)
        if (rp_csv_num(m, r, cl) != rp_csv_num(m, r, cc)) return 1;
    return 0;
}

static void iteration_notes(rp_ctx *c, const rp_csv *m)
{
    size_t k = (m->rows + 999) / 1000;
    rp_note(c, "From metrics.csv: %zu iterations%s.", m->rows,
            k > 1 ? "; each point of the charts is the mean of consecutive iterations (at most 1000 points)" : "");
    if (m->bad) rp_note(c, "metrics.csv: %zu incomplete lines skipped", m->bad);
}

static void iteration_charts(rp_ctx *c, const rp_csv *m, double *scratch)
{
    static const char *loss2[] = {"loss", "ce"}, *acc[] = {"acc"}, *lse[] = {"lse_data", "lse_sample"};
    rp_chart ch = {"training loss per iteration", "iteration", 0, 1};
    csv_chart(c, m, "iter", loss2, ce_differs(m) ? 2 : 1, &ch, scratch);
    ch = (rp_chart){"training batch accuracy per iteration", "iteration", 1, 1};
    csv_chart(c, m, "iter", acc, 1, &ch, scratch);
    ch = (rp_chart){"logsumexp f(x) of data and samples (= -energy)", "iteration", 0, 1};
    csv_chart(c, m, "iter", lse, 2, &ch, scratch);
}

static void curves_section(rp_ctx *c, const run_files *f)
{
    static const char *pngs[] = {"curves_accuracy.png", "curves_energy.png"};
    rp_section(c, "curves", "Curves");
    int have[2], any = 0;
    for (int i = 0; i < 2; i++) {
        char p[RP_PATH_MAX];
        have[i] = rp_is_file(rp_path(p, sizeof p, c->run_dir, pngs[i]), NULL);
        any |= have[i];
        if (!have[i]) rp_note(c, "%s absent.", pngs[i]);
    }
    if (any) {
        rp_gallery_begin(c);
        for (int i = 0; i < 2; i++)
            if (have[i]) rp_figure(c, c->run_dir, pngs[i], pngs[i], 0);
        rp_gallery_end(c);
    }
    if (f->metrics_state == 1 && f->metrics.rows) iteration_notes(c, &f->metrics);
    else if (f->metrics_state == 1) rp_note(c, "metrics.csv holds no iteration yet.");
    else if (f->metrics_state == 0) rp_note(c, "metrics.csv absent: no per-iteration charts.");
    size_t n = f->metrics.rows > f->epochs.rows ? f->metrics.rows : f->epochs.rows;
    double *scratch = malloc((2 * n + 6000) * sizeof(double));
    if (!scratch) {
        c->body.nomem = 1;
        return;
    }
    rp_gallery_begin(c);
    if (f->metrics_state == 1 && f->metrics.rows) iteration_charts(c, &f->metrics, scratch);
    if (f->epochs_state == 1 && f->epochs.rows) {
        static const char *accs[] = {"train_acc", "valid_acc", "test_acc"};
        rp_chart ch = {"accuracy per epoch (epochs.csv)", "epoch", 1, 1};
        csv_chart(c, &f->epochs, "epoch", accs, 3, &ch, scratch);
    }
    rp_gallery_end(c);
    free(scratch);
}

/* ---- events ------------------------------------------------------------------------------ */

static void event_row(rp_buf *b, const jp_json *e)
{
    char t[64];
    rp_printf(b, "<tr><td class=\"n\">%s</td>", rp_fmt(t, sizeof t, "%.0f", rp_jnum(e, "iter")));
    rp_printf(b, "<td class=\"n\">%s</td><td>", rp_fmt(t, sizeof t, "%.0f", rp_jnum(e, "epoch")));
    const char *ev = rp_jstr(e, "event"), *detail = rp_jstr(e, "detail");
    rp_esc(b, ev ? ev : "?");
    rp_put(b, "</td><td>");
    rp_esc(b, detail ? detail : "");
    rp_put(b, "</td></tr>\n");
}

/* One line of metrics.jsonl that names an event: parsed and added to rows; a line
 * that does not parse is warned about unless it is the last one (still being written). */
static int event_line(rp_ctx *c, rp_buf *rows, const char *line, size_t len, size_t lineno, int last)
{
    jp_json_doc d;
    jp_error err = {0};
    if (jp_json_parse(&d, line, len, &err)) {
        if (!last) rp_warn(c, "%s/metrics.jsonl line %zu: %s", c->run_dir, lineno, err.msg);
        return 0;
    }
    int ok = d.root && d.root->type == JP_JSON_OBJECT && rp_jstr(d.root, "event");
    if (ok) event_row(rows, d.root);
    jp_json_free(&d);
    return ok;
}

static void events_section(rp_ctx *c)
{
    rp_section(c, "events", "Events (recoveries and divergence)");
    char path[RP_PATH_MAX], *text;
    size_t len;
    rp_path(path, sizeof path, c->run_dir, "metrics.jsonl");
    if (!rp_is_file(path, NULL)) {
        rp_note(c, "metrics.jsonl absent: events unknown.");
        return;
    }
    jp_error err = {0};
    if (rp_read_file(path, (size_t)256 << 20, &text, &len, &err)) {
        rp_warn(c, "%s", err.msg);
        return;
    }
    rp_buf rows = {0};
    size_t lineno = 0, shown = 0, total = 0;
    for (char *p = text; p < text + len;) {
        char *nl = memchr(p, '\n', (size_t)(text + len - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(text + len - p);
        lineno++;
        /* only event lines are parsed: the per-iteration lines are the chart's business */
        char save = p[n];
        p[n] = '\0';
        if (strstr(p, "\"event\"")) {
            total++;
            if (shown < MAX_EVENTS) shown += (size_t)event_line(c, &rows, p, n, lineno, !nl);
        }
        p[n] = save;
        p += n + 1;
    }
    free(text);
    if (!total) {
        rp_note(c, "No recoveries or divergence were logged.");
    } else if (rows.p) {
        rp_put(&c->body, "<table>\n<tr><th>iteration</th><th>epoch</th><th>event</th><th>detail</th></tr>\n");
        rp_putn(&c->body, rows.p, rows.len);
        rp_put(&c->body, "</table>\n");
        if (total > shown) rp_note(c, "%zu more event lines not shown.", total - shown);
    }
    if (rows.nomem) c->body.nomem = 1;
    rp_buf_free(&rows);
}

/* ---- sample grids ------------------------------------------------------------------------ */

/* samples_<digits>.png, as the trainer names its periodic grids */
static int is_sample_grid(const char *dir, const char *name)
{
    (void)dir;
    if (strncmp(name, "samples_", 8) || !rp_has_suffix(name, ".png")) return 0;
    const char *p = name + 8;
    if (*p < '0' || *p > '9') return 0;
    while (*p >= '0' && *p <= '9') p++;
    return !strcmp(p, ".png");
}

static int by_iteration(const void *a, const void *b)
{
    long long x = atoll(*(char *const *)a + 8), y = atoll(*(char *const *)b + 8);
    return x < y ? -1 : x > y;
}

static void samples_section(rp_ctx *c, const run_files *f)
{
    rp_section(c, "samples", "Sample grids");
    rp_names g;
    jp_error err = {0};
    if (rp_list_dir(c->run_dir, is_sample_grid, &g, &err)) {
        rp_warn(c, "%s", err.msg);
        return;
    }
    if (g.n > 1) qsort(g.name, (size_t)g.n, sizeof *g.name, by_iteration); /* samples_1000000 after 999999 */
    int first = g.n > c->o->max_sample_grids ? g.n - c->o->max_sample_grids : 0;
    if (first) rp_note(c, "%d earlier sample grids not shown (the latest %d are).", first, c->o->max_sample_grids);
    int shown = 0;
    rp_gallery_begin(c);
    for (int i = first; i < g.n; i++) {
        char cap[160];
        snprintf(cap, sizeof cap, "%s: iteration %lld", g.name[i], atoll(g.name[i] + 8));
        shown += rp_figure(c, c->run_dir, g.name[i], cap, RP_IMG_PIXELATED);
    }
    shown += rp_figure(c, c->run_dir, "samples_conditional.png",
                       "samples_conditional.png: class-conditional samples, one row per class", RP_IMG_PIXELATED);
    shown += rp_figure(c, c->run_dir, "buffer.png", "buffer.png: the replay buffer", RP_IMG_PIXELATED);
    rp_gallery_end(c);
    if (!g.n && !shown)
        rp_note(c, "%s",
                f->cfg && softmax_run(f->cfg)
                    ? "No sample grids: a classifier-only run samples nothing."
                    : "No sample grids (samples_NNNNNN.png, samples_conditional.png, buffer.png) were written.");
    rp_names_free(&g);
}

size_t rp_run_sections(rp_ctx *c)
{
    run_files f;
    rp_section(c, "summary", "Summary");
    load_run(c, &f);
    summary(c, &f);
    size_t after = c->body.len;
    config_section(c, &f);
    epochs_section(c, &f);
    curves_section(c, &f);
    events_section(c);
    samples_section(c, &f);
    free_run(&f);
    return after;
}
