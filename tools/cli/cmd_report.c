/* jempp report RUN_DIR [--out FILE] [--eval DIR]... [--title T]: one self-contained
 * HTML page of a training run and its evaluations (include/jempp/report.h).
 *
 * The flag table parser takes neither positional arguments nor repeated flags, so a
 * first pass takes RUN_DIR and every --eval out of argv and hands the rest to it. */
#include <stdio.h>
#include <stdlib.h>
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

/* 1 when flag `a` (the "--name" form, no "=value") takes the next argument as its value. */
static int takes_value(const jp_flag *flags, int nf, const char *a)
{
    if (strchr(a, '=')) return 0;
    for (int i = 0; i < nf; i++)
        if (!strcmp(a + 2, flags[i].name)) return flags[i].type != FLAG_BOOL;
    return 0;
}

/* Splits argv into RUN_DIR, the --eval folders and the rest (rest[0] = argv[0]).
 * Returns 0, or 2 with a message on stderr. */
static int split_args(int argc, char **argv, const jp_flag *flags, int nf, const char **run_dir,
                      const char **evals, int *n_evals, char **rest, int *n_rest)
{
    *run_dir = NULL;
    *n_evals = 0;
    rest[0] = argv[0];
    *n_rest = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--eval")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "jempp report: --eval needs a folder\n");
                return 2;
            }
            evals[(*n_evals)++] = argv[++i];
        } else if (!strncmp(a, "--eval=", 7)) {
            evals[(*n_evals)++] = a + 7;
        } else if (!strncmp(a, "--", 2)) {
            rest[(*n_rest)++] = argv[i];
            if (takes_value(flags, nf, a) && i + 1 < argc) rest[(*n_rest)++] = argv[++i];
        } else if (!*run_dir) {
            *run_dir = a;
        } else {
            fprintf(stderr, "jempp report: one run folder only ('%s' and '%s'); more evaluation folders go with "
                    "--eval\n", *run_dir, a);
            return 2;
        }
    }
    return 0;
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
    const char **evals = malloc((size_t)argc * sizeof *evals);
    char **rest = malloc((size_t)argc * sizeof *rest);
    const char *run_dir = NULL;
    int n_evals = 0, n_rest = 0, rc = !evals || !rest ? 1 : 0;
    jp_error err = {0};
    if (!rc) rc = split_args(argc, argv, flags, nf, &run_dir, evals, &n_evals, rest, &n_rest);
    if (!rc && jp_flags_parse(flags, nf, n_rest, rest, 1, &err)) {
        fprintf(stderr, "jempp report: %s\n", err.msg);
        rc = 2;
    }
    if (!rc && !run_dir) {
        fprintf(stderr, "jempp report: which run? usage: jempp report RUN_DIR [--out FILE] [--eval DIR]... (see "
                "--help)\n");
        rc = 2;
    }
    if (!rc && (f.max_grids < 0 || f.max_frames < 0 || f.max_image_mb < 1 || f.max_total_mb < 1 ||
                f.max_image_mb > 4096 || f.max_total_mb > 4096)) {
        fprintf(stderr, "jempp report: --max_grids and --max_frames must be >= 0, --max_image_mb and "
                "--max_total_mb between 1 and 4096\n");
        rc = 2;
    }
    if (!rc) rc = run(&f, run_dir, evals, n_evals);
    free(evals);
    free(rest);
    return rc;
}
