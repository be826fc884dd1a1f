/* jempp compare EVAL_DIR [EVAL_DIR ...] [--names "A,B,..."] [--out FILE]: the Markdown
 * table comparing evaluation folders side by side (jp_compare_table,
 * include/jempp/report.h), on stdout or replacing FILE atomically.
 *
 * Exit status: 0; 1 when a file was corrupt (the table is still written) or the output
 * could not be written; 2 for bad arguments (no folder, a path that is not a folder,
 * --names not one per folder). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "flags.h"
#include "io/atomic_file.h"
#include "jempp/report.h"

typedef struct {
    char names[4096], out[1024];
} compare_flags;

static void usage_head(void)
{
    printf("usage: jempp compare EVAL_DIR [EVAL_DIR ...] [--names \"A,B,...\"] [--out FILE]\n\n"
           "One GitHub Markdown table, one column per EVAL_DIR (the folder `jempp eval --out DIR/<mode>` wrote\n"
           "into: DIR/<mode>/<mode>.json, or DIR/<mode>.json): test accuracy, ECE, NLL, AUROC per OOD set and\n"
           "score, robust accuracy per norm and eps, FID of samples. A missing file or entry is an empty cell\n"
           "and a warning on stderr; a corrupt file is a warning and exit status 1 after the table. See\n"
           "docs/evaluation.md.\n\n");
}

/* Splits "A,B,C" in place into names[0..n); exit status 2 with a message unless there
 * is exactly one name per folder. */
static int split_names(char *list, const char **names, int n_dirs)
{
    int n = 1;
    for (const char *p = list; *p; p++) n += *p == ',';
    if (n != n_dirs) {
        fprintf(stderr, "jempp compare: --names gives %d name%s for %d folder%s\n", n, n == 1 ? "" : "s", n_dirs,
                n_dirs == 1 ? "" : "s");
        return 2;
    }
    char *p = list;
    for (int i = 0; i < n; i++) {
        names[i] = p;
        char *comma = strchr(p, ',');
        if (comma) *comma = '\0', p = comma + 1;
    }
    return 0;
}

static int run(const compare_flags *f, const char *const *dirs, int n, const char *const *names)
{
    jp_compare_opts o = {dirs, names, n, stderr};
    jp_compare_info info;
    jp_error err = {0};
    char *text = NULL;
    jp_status st = jp_compare_table(&o, &text, &info, &err);
    if (st) {
        fprintf(stderr, "jempp compare: %s\n", err.msg);
        return st == JP_ERR_ARG ? 2 : 1;
    }
    if (f->out[0]) {
        st = jp_write_file_atomic(f->out, text, strlen(text), &err);
        if (st) fprintf(stderr, "jempp compare: %s\n", err.msg);
        else printf("compare: %s (%d rows, %d columns)\n", f->out, info.rows, info.cols);
    } else if (fputs(text, stdout) == EOF || fflush(stdout) != 0) {
        fprintf(stderr, "jempp compare: cannot write the table to stdout\n");
        st = JP_ERR_IO;
    }
    free(text);
    return st || info.corrupt ? 1 : 0;
}

int jp_cmd_compare(int argc, char **argv)
{
    compare_flags f;
    memset(&f, 0, sizeof f);
    jp_flag flags[] = {
        {"names", FLAG_STR, f.names, sizeof f.names, NULL, NULL,
         "column headers, comma-separated, one per EVAL_DIR (default: each folder's name)"},
        {"out", FLAG_STR, f.out, sizeof f.out, NULL, NULL, "write the table to FILE, atomically (default: stdout)"},
    };
    int nf = (int)(sizeof flags / sizeof *flags);
    if (jp_flags_want_help(argc, argv)) {
        usage_head();
        jp_flags_help(flags, nf, stdout);
        return 0;
    }
    jp_args a;
    jp_error err = {0};
    jp_status st = jp_args_parse(&a, flags, nf, argc, argv, NULL, &err);
    int rc = st == JP_ERR_NOMEM ? 1 : st ? 2 : 0;
    if (rc) fprintf(stderr, "jempp compare: %s\n", err.msg);
    if (!rc && a.n_pos == 0) {
        fprintf(stderr, "jempp compare: which evaluations? usage: jempp compare EVAL_DIR [EVAL_DIR ...] [--names "
                "\"A,B,...\"] [--out FILE] (see --help)\n");
        rc = 2;
    }
    const char **names = NULL;
    if (!rc && f.names[0]) {
        if (!(names = malloc((size_t)a.n_pos * sizeof *names))) rc = 1;
        else rc = split_names(f.names, names, a.n_pos);
    }
    if (!rc) rc = run(&f, a.pos, a.n_pos, names);
    free(names);
    jp_args_free(&a);
    return rc;
}
