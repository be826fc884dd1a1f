/* jp_report_write: checks the arguments, builds the sections (run.c, evals.c) into one
 * buffer, puts the head, the table of contents and the problems box around them and
 * replaces the output file atomically, so a browser never sees half a page. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/atomic_file.h"
#include "report/report_internal.h"

void jp_report_opts_defaults(jp_report_opts *o)
{
    memset(o, 0, sizeof *o);
    o->max_sample_grids = 12;
    o->max_animation_frames = 4;
    o->max_image_bytes = (size_t)8 << 20;
    o->max_total_image_bytes = (size_t)48 << 20;
}

void rp_warn(rp_ctx *c, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->warnings++;
    if (c->o->log) fprintf(c->o->log, "jempp report: warning: %s\n", msg);
    rp_put(&c->problems, "<li>");
    rp_esc(&c->problems, msg);
    rp_put(&c->problems, "</li>\n");
    rp_put(&c->body, "<p class=\"warn\">");
    rp_esc(&c->body, msg);
    rp_put(&c->body, "</p>\n");
}

void rp_note(rp_ctx *c, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rp_put(&c->body, "<p class=\"note\">");
    rp_esc(&c->body, msg);
    rp_put(&c->body, "</p>\n");
}

void rp_section(rp_ctx *c, const char *id, const char *title)
{
    rp_printf(&c->body, "<h2 id=\"%s\">", id);
    rp_esc(&c->body, title);
    rp_put(&c->body, "</h2>\n");
    rp_printf(&c->toc, "<li><a href=\"#%s\">", id);
    rp_esc(&c->toc, title);
    rp_put(&c->toc, "</a></li>\n");
}

static const char CSS[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0 auto;max-width:1180px;"
    "padding:16px 24px 48px;color:#1b1b1b;background:#fafafa;line-height:1.4}\n"
    "h1{margin:8px 0 2px;font-size:26px}h2{margin:32px 0 8px;padding-bottom:4px;border-bottom:2px solid #ccd}\n"
    "h3{margin:20px 0 6px;font-size:17px}.sub{color:#555;margin:0 0 12px}\n"
    "code{background:#eef;padding:0 3px;border-radius:3px}\n"
    "nav ul{columns:3;margin:4px 0 12px;padding-left:20px}nav a{color:#1f4f9f;text-decoration:none}\n"
    ".box{background:#fff;border:1px solid #ccd;border-radius:6px;padding:8px 16px;margin:8px 0}\n"
    "table{border-collapse:collapse;margin:6px 0 10px;background:#fff;font-size:13.5px}\n"
    "th,td{border:1px solid #d4d4dd;padding:3px 8px;text-align:left;vertical-align:top}\n"
    "th{background:#eef0f6}td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
    "table.kv th{width:14em}table.summary td{font-weight:600}\n"
    ".warn{background:#fff4d6;border-left:4px solid #e0a000;padding:4px 10px;margin:6px 0}\n"
    ".problems{background:#fff4d6;border:1px solid #e0a000}.note{color:#666;font-style:italic;margin:4px 0}\n"
    ".gallery{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}\n"
    "figure{margin:4px 0;background:#fff;border:1px solid #ddd;padding:6px;max-width:100%}\n"
    "figure img{max-width:100%;height:auto;display:block}img.px{image-rendering:pixelated}\n"
    "figcaption{font-size:12px;color:#444;margin-top:4px}svg.svgchart{max-width:100%;height:auto;"
    "border:1px solid #ddd;background:#fff;margin:4px 8px 4px 0}\n"
    "details summary{cursor:pointer;color:#1f4f9f;margin:4px 0}\n";

static void head(rp_buf *b, const char *title)
{
    rp_put(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
              "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
    rp_esc(b, title);
    rp_put(b, " - jempp report</title>\n<style>\n");
    rp_put(b, CSS);
    rp_put(b, "</style>\n</head>\n<body>\n<h1>");
    rp_esc(b, title);
    rp_put(b, "</h1>\n");
}

static void subtitle(rp_buf *b, const char *run_dir)
{
    char when[64] = "";
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm)) strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
    rp_put(b, "<p class=\"sub\">run folder <code>");
    rp_esc(b, run_dir);
    rp_printf(b, "</code> &middot; made by <code>jempp report</code> on %s</p>\n", when);
}

static jp_status check_args(const jp_report_opts *o, jp_error *err)
{
    if (!o || !o->run_dir || !o->run_dir[0]) return jp_fail(err, JP_ERR_ARG, "no run folder given");
    if (strlen(o->run_dir) > 900) return jp_fail(err, JP_ERR_ARG, "run folder name too long: %.80s...", o->run_dir);
    if (!rp_is_dir(o->run_dir)) {
        return jp_fail(err, JP_ERR_ARG, "%s: %s", o->run_dir,
                       rp_is_file(o->run_dir, NULL) ? "not a folder (give the training run's folder)"
                                                    : "no such folder");
    }
    static const char *marks[] = {"config.json", "metrics.csv", "result.json"};
    int found = 0;
    for (int i = 0; i < 3; i++) {
        char p[RP_PATH_MAX];
        found += rp_is_file(rp_path(p, sizeof p, o->run_dir, marks[i]), NULL);
    }
    if (!found)
        return jp_fail(err, JP_ERR_ARG, "%s holds none of config.json, metrics.csv, result.json: not a training run "
                       "folder (jempp train --save_dir)", o->run_dir);
    if (o->n_eval_dirs < 0 || (o->n_eval_dirs > 0 && !o->eval_dirs))
        return jp_fail(err, JP_ERR_ARG, "bad list of evaluation folders");
    for (int i = 0; i < o->n_eval_dirs; i++)
        if (!o->eval_dirs[i] || strlen(o->eval_dirs[i]) > 900 || !rp_is_dir(o->eval_dirs[i]))
            return jp_fail(err, JP_ERR_ARG, "--eval %s: no such folder", o->eval_dirs[i] ? o->eval_dirs[i] : "(null)");
    if (o->max_sample_grids < 0 || o->max_animation_frames < 0)
        return jp_fail(err, JP_ERR_ARG, "max_sample_grids and max_animation_frames must be >= 0");
    return JP_OK;
}

/* head, title, table of contents, the body up to the summary, the problems box, the
 * rest of the body. */
static void assemble(rp_buf *page, rp_ctx *c, const char *title, size_t after_summary)
{
    head(page, title);
    subtitle(page, c->run_dir);
    rp_put(page, "<nav class=\"box\"><b>Contents</b>\n<ul>\n");
    if (c->toc.p) rp_putn(page, c->toc.p, c->toc.len);
    rp_put(page, "</ul></nav>\n");
    rp_putn(page, c->body.p, after_summary);
    if (c->warnings) {
        rp_printf(page, "<div class=\"box problems\"><b>%d problem%s found while reading the files</b>\n<ul>\n",
                  c->warnings, c->warnings == 1 ? "" : "s");
        rp_putn(page, c->problems.p, c->problems.len);
        rp_put(page, "</ul></div>\n");
    }
    rp_putn(page, c->body.p + after_summary, c->body.len - after_summary);
    rp_put(page, "<p class=\"note\">End of report.</p>\n</body>\n</html>\n");
}

jp_status jp_report_write(const jp_report_opts *o, jp_report_info *info, jp_error *err)
{
    jp_status st = check_args(o, err);
    if (st) return st;
    rp_ctx c;
    memset(&c, 0, sizeof c);
    c.o = o;
    snprintf(c.run_dir, sizeof c.run_dir, "%s", o->run_dir);
    char out[RP_PATH_MAX], title[RP_PATH_MAX];
    if (o->out && o->out[0]) snprintf(out, sizeof out, "%s", o->out);
    else rp_path(out, sizeof out, o->run_dir, "report.html");
    if (o->title && o->title[0]) snprintf(title, sizeof title, "%s", o->title);
    else rp_base_name(title, sizeof title, o->run_dir);

    size_t after_summary = rp_run_sections(&c);
    rp_eval_sections(&c, o->eval_dirs, o->n_eval_dirs);
    rp_buf page = {0};
    if (!c.body.nomem && !c.problems.nomem && !c.toc.nomem) assemble(&page, &c, title, after_summary);
    if (c.body.nomem || c.problems.nomem || c.toc.nomem || page.nomem || !page.p)
        st = jp_fail(err, JP_ERR_NOMEM, "out of memory building the report of %s", o->run_dir);
    if (!st) st = jp_write_file_atomic(out, page.p, page.len, err);
    if (!st && info) {
        snprintf(info->path, sizeof info->path, "%s", out);
        info->bytes = page.len;
        info->images = c.images;
        info->eval_dirs = c.eval_dirs;
        info->warnings = c.warnings;
    }
    rp_buf_free(&page);
    rp_buf_free(&c.body);
    rp_buf_free(&c.problems);
    rp_buf_free(&c.toc);
    return st;
}
