/* jempp report RUN_DIR [--out FILE] [--eval DIR]... [--title T]: one self-contained
 * HTML page of a training run and its evaluations (include/jempp/report.h).
 *
 * The flag table parser takes neither positional arguments nor repeated flags, so a
 * first pass (jp_args_parse, flags.h) takes RUN_DIR and every --eval out of argv and
 * hands the rest to it. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "flags.h"
#include "jempp/report.h"

typedef struct {
    char out[1024], title[512], eval_help[8];
    int max_grids, max_frames, max_image_mb, max_total_mb, quiet;
} report_flags;

static void usage_head(void)
{
    printf("usage: jempp report RUN_DIR [--out FILE] [--eval DIR]... [--title T] [flags]\n\n"
           "Writes one self-contained HTML page (images embedded, no JavaScript, no external links) with the\n"
           "run's configuration, results, per-epoch table, curves, events and sample grids, and every evaluation\n"
           "found in RUN_DIR's subfolders or in the --eval folders (jempp eval --out DIR). Default output:\n"
           "RUN_DIR/report.html, replaced atomically. Absent pieces are said in the page; corrupt files are\n"
           "named there and on stderr. See docs/evaluation.md.\n\n");
}

static int run(const report_flags *f, const char *run_dir, const char *const *evals, int n_evals)
{
    jp_report_opts o;
    jp_report_opts_defaults(&o);
    o.run_dir = run_dir;
    o.out = f->out;
    o.title = f->title;
    o.eval_dirs = evals;
    o.n_eval_dirs = n_evals;
    o.max_sample_grids = f->max_grids;
    o.max_animation_frames = f->max_frames;
    o.max_image_bytes = (size_t)f->max_image_mb << 20;
    o.max_total_image_bytes = (size_t)f->max_total_mb << 20;
    o.log = f->quiet ? NULL : stderr;
    jp_report_info info;
    jp_error err = {0};
    jp_status st = jp_report_write(&o, &info, &err);
    if (st) {
        fprintf(stderr, "jempp report: %s\n", err.msg);
        return st == JP_ERR_ARG ? 2 : 1;
    }
    printf("report: %s (%.1f KB, %d images, %d evaluation folder%s, %d warning%s)\n", info.path,
           info.bytes / 1024.0, info.images, info.eval_dirs, info.eval_dirs == 1 ? "" : "s", info.warnings,
           info.warnings == 1 ? "" : "s");
    return 0;
}

int jp_cmd_report(int argc, char **argv)
{
    report_flags f;
    memset(&f, 0, sizeof f);
    f.max_grids = 12;
    f.max_frames = 4;
    f.max_image_mb = 8;
    f.max_total_mb = 48;
    jp_flag flags[] = {
        {"out", FLAG_STR, f.out, sizeof f.out, NULL, NULL, "output file (default: RUN_DIR/report.html)"},
        {"eval", FLAG_STR, f.eval_help, sizeof f.eval_help, NULL, NULL,
         "an evaluation folder (jempp eval --out DIR) besides RUN_DIR's subfolders; repeatable"},
        {"title", FLAG_STR, f.title, sizeof f.title, NULL, NULL, "page title (default: the run folder's name)"},
        {"max_grids", FLAG_INT, &f.max_grids, 0, NULL, NULL, "training sample grids embedded (the latest ones)"},
        {"max_frames", FLAG_INT, &f.max_frames, 0, NULL, NULL, "frames of an evaluation's animation/ embedded"},
        {"max_image_mb", FLAG_INT, &f.max_image_mb, 0, NULL, NULL, "a larger PNG is named, not embedded"},
        {"max_total_mb", FLAG_INT, &f.max_total_mb, 0, NULL, NULL, "PNG megabytes embedded in all"},
        {"quiet", FLAG_BOOL, &f.quiet, 0, NULL, NULL, "no warnings on stderr (they stay in the page)"},
    };
    int nf = (int)(sizeof flags / sizeof *flags);
    if (jp_flags_want_help(argc, argv)) {
        usage_head();
        jp_flags_help(flags, nf, stdout);
        return 0;
    }
    jp_args a;
    jp_error err = {0};
    jp_status st = jp_args_parse(&a, flags, nf, argc, argv, "eval", &err);
    int rc = st == JP_ERR_NOMEM ? 1 : st ? 2 : 0;
    if (rc) fprintf(stderr, "jempp report: %s\n", err.msg);
    if (!rc && a.n_pos == 0) {
        fprintf(stderr, "jempp report: which run? usage: jempp report RUN_DIR [--out FILE] [--eval DIR]... (see "
                "--help)\n");
        rc = 2;
    }
    if (!rc && a.n_pos > 1) {
        fprintf(stderr, "jempp report: one run folder only ('%s' and '%s'); more evaluation folders go with "
                "--eval\n", a.pos[0], a.pos[1]);
        rc = 2;
    }
    if (!rc && (f.max_grids < 0 || f.max_frames < 0 || f.max_image_mb < 1 || f.max_total_mb < 1 ||
                f.max_image_mb > 4096 || f.max_total_mb > 4096)) {
        fprintf(stderr, "jempp report: --max_grids and --max_frames must be >= 0, --max_image_mb and "
                "--max_total_mb between 1 and 4096\n");
        rc = 2;
    }
    if (!rc) rc = run(&f, a.pos[0], a.reps, a.n_reps);
    jp_args_free(&a);
    return rc;
}
