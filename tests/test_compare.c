/* Comparison table (jp_compare_table, jempp compare): two small evaluation folders with
 * JSON in the layouts `jempp eval` writes (one with the <mode>/<mode>.json subfolders,
 * one with the files directly in it, one mode missing), checked cell by cell against
 * the whole expected table: the union of OOD sets and radii, k/255 labels, the ECE bin
 * count, the FID features, empty cells and n/a; then a corrupt file (warned, counted,
 * cells empty), the argument errors, and the command's exit statuses and --out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "jempp/report.h"
#include "testutil.h"



/* Lines of text holding needle. */
static int count_lines(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char line[4096];
        snprintf(line, sizeof line, "%.*s", (int)len, p);
        n += strstr(line, needle) != NULL;
        p += len + (nl != NULL);
    }
    return n;
}

static int starts_with(const char *s, const char *prefix) { return s && !strncmp(s, prefix, strlen(prefix)); }

/* dir/<mode>/<mode>.json */
static void write_mode(const char *dir, const char *mode, const char *text)
{
    char sub[800], name[64];
    snprintf(sub, sizeof sub, "%s/%s", dir, mode);
    mkdir(sub, 0755);
    snprintf(name, sizeof name, "%s.json", mode);
    tu_write_text(sub, name, text);
}

/* Model A: the subfolder layout, every mode; sets noise and constant; L-inf 0, 1/255,
 * 8/255 and L2 0, 0.5; classifier-feature FID. */
static void write_a(const char *a)
{
    mkdir(a, 0755);
    write_mode(a, "test_clf", "{\n  \"mode\": \"test_clf\",\n  \"n\": 10000,\n  \"accuracy\": 0.9,\n"
                              "  \"loss\": 0.3,\n  \"classes\": [{\"index\": 0, \"accuracy\": 0.5}]\n}\n");
    write_mode(a, "cali", "{\"mode\": \"cali\", \"ece\": 0.01234, \"nll\": 0.3, \"accuracy\": 0.9, \"n_bins\": 20,"
                          " \"bins\": [{\"lower\": 0, \"upper\": 0.05, \"count\": 0, \"accuracy\": null}]}");
    write_mode(a, "ood",
               "{\"mode\": \"ood\", \"in_distribution\": {\"name\": \"fashionmnist/test\", \"n\": 20,"
               " \"mean\": {\"px\": 9, \"py\": 0.9, \"pxgrad\": -6}}, \"sets\": ["
               "{\"name\": \"noise(fashionmnist/test)\", \"kind\": \"noise\", \"n\": 20,"
               " \"mean\": {\"px\": 5, \"py\": 0.7, \"pxgrad\": -1},"
               " \"px\": {\"auroc\": 0.9668475, \"aupr\": 0.97, \"fpr95\": 0.2},"
               " \"py\": {\"auroc\": 0.817167125, \"aupr\": 0.87, \"fpr95\": 0.9},"
               " \"pxgrad\": {\"auroc\": 0.00324725, \"aupr\": 0.3, \"fpr95\": 1}},"
               "{\"name\": \"constant(fashionmnist/test)\", \"kind\": \"constant\", \"n\": 20,"
               " \"mean\": {\"px\": 12, \"py\": 0.9, \"pxgrad\": -1},"
               " \"px\": {\"auroc\": 0.1436325, \"aupr\": 0.3, \"fpr95\": 0.9},"
               " \"py\": {\"auroc\": 0.30967825, \"aupr\": 0.4, \"fpr95\": 0.9},"
               " \"pxgrad\": {\"auroc\": 0.00827575, \"aupr\": 0.3, \"fpr95\": 1}}]}");
    write_mode(a, "attack",
               "{\"mode\": \"attack\", \"n\": 500, \"defence\": null,"
               " \"linf\": {\"clean_accuracy\": 0.922, \"seconds\": 3, \"points\": ["
               "{\"eps\": 0, \"robust_accuracy\": 0.922, \"max_norm\": 0},"
               "{\"eps\": 0.00392156862745098, \"robust_accuracy\": 0.864, \"max_norm\": 0.0039},"
               "{\"eps\": 0.03137254901960784, \"robust_accuracy\": 0.144, \"max_norm\": 0.031}]},"
               " \"l2\": {\"clean_accuracy\": 0.922, \"seconds\": 2, \"points\": ["
               "{\"eps\": 0, \"robust_accuracy\": 0.922, \"max_norm\": 0},"
               "{\"eps\": 0.5, \"robust_accuracy\": 0.164, \"max_norm\": 0.4999}]}}");
    write_mode(a, "fid",
               "{\"mode\": \"fid\", \"samples\": {\"source\": \"buffer\", \"n\": 100, \"select\": 0},"
               " \"reference\": {\"name\": \"fashionmnist (fashionmnist/test)\", \"n\": 100},"
               " \"kid_subsets\": 10, \"kid_subset_size\": 50,"
               " \"classifier_features\": {\"features\": \"clf.safetensors\", \"dim\": 128, \"fid\": 12.5,"
               " \"kid_mean\": 0.1, \"kid_std\": 0.01, \"note\": \"NOT comparable to Inception FID\"}}");
}

/* Model B: files directly in the folder, no fid.json; sets noise (py null), interp and an
 * OOD data set; L-inf 0, 2/255, 0.01, 8/255 and L2 0.25. */
static void write_b(const char *b)
{
    mkdir(b, 0755);
    tu_write_text(b, "test_clf.json", "{\"mode\": \"test_clf\", \"accuracy\": 0.85, \"loss\": 0.4}");
    tu_write_text(b, "cali.json", "{\"mode\": \"cali\", \"ece\": 0.02, \"nll\": 0.41, \"n_bins\": 20}");
    tu_write_text(b, "ood.json",
               "{\"mode\": \"ood\", \"sets\": ["
               "{\"name\": \"noise(fashionmnist/test)\", \"kind\": \"noise\", \"n\": 20,"
               " \"px\": {\"auroc\": 0.5}, \"py\": {\"auroc\": null}, \"pxgrad\": {\"auroc\": 0.25}},"
               "{\"name\": \"interp(fashionmnist/test)\", \"kind\": \"interp\", \"n\": 20,"
               " \"px\": {\"auroc\": 0.75}, \"py\": {\"auroc\": 0.7}, \"pxgrad\": {\"auroc\": 0.6}},"
               "{\"name\": \"mnist/test\", \"kind\": \"dataset\", \"n\": 20,"
               " \"px\": {\"auroc\": 0.99}, \"py\": {\"auroc\": 0.98}, \"pxgrad\": {\"auroc\": 0.97}}]}");
    tu_write_text(b, "attack.json",
               "{\"mode\": \"attack\", \"linf\": {\"clean_accuracy\": 0.9, \"points\": ["
               "{\"eps\": 0, \"robust_accuracy\": 0.9},"
               "{\"eps\": 0.00784313725490196, \"robust_accuracy\": 0.7},"
               "{\"eps\": 0.01, \"robust_accuracy\": 0.65},"
               "{\"eps\": 0.03137254901960784, \"robust_accuracy\": 0.1}]},"
               " \"l2\": {\"clean_accuracy\": 0.9, \"points\": [{\"eps\": 0.25, \"robust_accuracy\": 0.6}]}}");
}

static const char EXPECTED[] =
    "| | JEM++ | softmax WRN |\n"
    "|---|---|---|\n"
    "| test accuracy | 0.9000 | 0.8500 |\n"
    "| ECE (20 bins) | 0.0123 | 0.0200 |\n"
    "| NLL | 0.3000 | 0.4100 |\n"
    "| AUROC px vs noise | 0.9668 | 0.5000 |\n"
    "| AUROC py vs noise | 0.8172 | n/a |\n"
    "| AUROC pxgrad vs noise | 0.0032 | 0.2500 |\n"
    "| AUROC px vs constant | 0.1436 |  |\n"
    "| AUROC py vs constant | 0.3097 |  |\n"
    "| AUROC pxgrad vs constant | 0.0083 |  |\n"
    "| AUROC px vs interp |  | 0.7500 |\n"
    "| AUROC py vs interp |  | 0.7000 |\n"
    "| AUROC pxgrad vs interp |  | 0.6000 |\n"
    "| AUROC px vs mnist/test |  | 0.9900 |\n"
    "| AUROC py vs mnist/test |  | 0.9800 |\n"
    "| AUROC pxgrad vs mnist/test |  | 0.9700 |\n"
    "| robust acc L-inf 1/255 | 0.8640 |  |\n"
    "| robust acc L-inf 2/255 |  | 0.7000 |\n"
    "| robust acc L-inf 0.01 |  | 0.6500 |\n"
    "| robust acc L-inf 8/255 | 0.1440 | 0.1000 |\n"
    "| robust acc L2 0.25 |  | 0.6000 |\n"
    "| robust acc L2 0.5 | 0.1640 |  |\n"
    "| classifier-feature FID of samples (features of clf.safetensors) | 12.5000 |  |\n";

/* The table and the warnings written to a temporary log. */
static jp_status table(const char *const *dirs, int n, const char *const *names, char **text, jp_compare_info *info,
                       char **log, jp_error *err)
{
    FILE *lf = tmpfile();
    jp_compare_opts o = {dirs, names, n, lf};
    jp_status st = jp_compare_table(&o, text, info, err);
    *log = NULL;
    if (lf) {
        long len = ftell(lf);
        rewind(lf);
        *log = calloc((size_t)len + 1, 1);
        if (*log && fread(*log, 1, (size_t)len, lf) != (size_t)len) (*log)[0] = '\0';
        fclose(lf);
    }
    return st;
}

static void check_table(tu_ctx *t, const char *a, const char *b)
{
    const char *dirs[] = {a, b}, *names[] = {"JEM++", "softmax WRN"};
    char *text = NULL, *log = NULL;
    jp_compare_info info = {0};
    jp_error err = {0};
    jp_status st = table(dirs, 2, names, &text, &info, &log, &err);
    tu_check(t, st == JP_OK && text, "the table is built: %s", st ? err.msg : "ok");
    if (!text || !log) return;
    int same = !strcmp(text, EXPECTED);
    tu_check(t, same, "the table is exactly the expected one");
    if (!same) printf("got:\n%s\nexpected:\n%s\n", text, EXPECTED);
    tu_check(t, info.rows == 22 && info.cols == 2 && info.corrupt == 0, "22 rows, 2 columns, no corrupt file (%d, %d, %d)",
             info.rows, info.cols, info.corrupt);
    tu_check(t, count_lines(log, "fid.json") == 1 && strstr(log, "no fid.json"), "B's missing fid.json is warned once");
    tu_check(t, tu_count(log, "/ood.json has no value for:") == 2 && strstr(log, "AUROC px vs constant") &&
                 strstr(log, "AUROC px vs interp"),
             "each ood.json is warned once, naming the rows it lacks");
    tu_check(t, tu_count(log, "\n") == info.warnings && info.warnings == 5,
             "5 warnings: B's fid.json, both ood.json and attack.json (%d):\n%s", info.warnings, log);
    tu_check(t, !strstr(log, "test_clf.json") && !strstr(log, "cali.json"), "complete files are not warned about");
    free(text);
    free(log);

    /* the default headers: the folders' names */
    const char *one[] = {b};
    st = table(one, 1, NULL, &text, &info, &log, &err);
    tu_check(t, st == JP_OK && starts_with(text, "| | model-b |\n|---|---|\n| test accuracy | 0.8500 |\n"),
             "one column headed by the folder's name");
    tu_check(t, st == JP_OK && info.rows == 16, "the rows of one folder only: 3 + 9 AUROC + 4 radii (%d)", info.rows);
    free(text);
    free(log);
}

static void check_corrupt(tu_ctx *t, const char *a, const char *b)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/cali.json", b);
    tu_write_text(b, "cali.json", "{\"ece\": 0.02,, \"nll\": 0.41}");
    const char *dirs[] = {a, b};
    char *text = NULL, *log = NULL;
    jp_compare_info info = {0};
    jp_error err = {0};
    jp_status st = table(dirs, 2, NULL, &text, &info, &log, &err);
    tu_check(t, st == JP_OK && text && info.corrupt == 1, "a corrupt file is counted, the table still built");
    if (text && log) {
        tu_check(t, strstr(text, "| ECE (20 bins) | 0.0123 |  |\n") && strstr(text, "| NLL | 0.3000 |  |\n"),
                 "the corrupt file's cells are empty");
        tu_check(t, strstr(log, path) && strstr(log, "could not be read") && strstr(log, "at byte"),
                 "the warning names the file and the parse error:\n%s", log);
    }
    free(text);
    free(log);
}

static void check_errors(tu_ctx *t, const char *a, const char *tmp)
{
    char file[1200], missing[1200];
    snprintf(file, sizeof file, "%s/test_clf/test_clf.json", a);
    snprintf(missing, sizeof missing, "%s/no-such", tmp);
    char *text = NULL;
    jp_error err = {0};
    jp_compare_opts o = {NULL, NULL, 0, NULL};
    tu_check(t, jp_compare_table(&o, &text, NULL, &err) == JP_ERR_ARG && !text, "no folder: JP_ERR_ARG");
    const char *d1[] = {a, file};
    o = (jp_compare_opts){d1, NULL, 2, NULL};
    tu_check(t, jp_compare_table(&o, &text, NULL, &err) == JP_ERR_ARG && strstr(err.msg, file) &&
                 strstr(err.msg, "not a folder"),
             "a file instead of a folder: JP_ERR_ARG naming it (%s)", err.msg);
    const char *d2[] = {missing};
    o = (jp_compare_opts){d2, NULL, 1, NULL};
    tu_check(t, jp_compare_table(&o, &text, NULL, &err) == JP_ERR_ARG && strstr(err.msg, "no such folder"),
             "a missing folder: JP_ERR_ARG (%s)", err.msg);
}

/* The command's exit status with stdout and stderr in files; -1 when it did not run. */
static int cli(const char *bin, const char *args, const char *out, const char *errf)
{
    char cmd[4000];
    snprintf(cmd, sizeof cmd, "'%s' compare %s >'%s' 2>'%s'", bin, args, out, errf);
    int rc = system(cmd);
    return rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* jempp compare (JEMPP_BIN/jempp, when built): exit statuses, --names, --out. B's
 * cali.json is corrupt by now. */
/* The jempp compare command; 1 when jempp is not built (nothing checked). */
static int check_cli(tu_ctx *t, const char *a, const char *b, const char *tmp)
{
    const char *root = getenv("JEMPP_BIN");
    char bin[800], out[800], errf[800], md[800], args[3000];
    snprintf(bin, sizeof bin, "%s/jempp", root ? root : "build");
    struct stat sb;
    if (stat(bin, &sb) != 0) {
        return 1;
    }
    snprintf(out, sizeof out, "%s/cli.out", tmp);
    snprintf(errf, sizeof errf, "%s/cli.err", tmp);
    snprintf(md, sizeof md, "%s/summary.md", tmp);
    tu_check(t, cli(bin, "", out, errf) == 2, "no EVAL_DIR: exit 2");
    snprintf(args, sizeof args, "'%s' '%s' --names 'only one'", a, b);
    tu_check(t, cli(bin, args, out, errf) == 2, "--names count not matching: exit 2");
    snprintf(args, sizeof args, "'%s' '%s/test_clf/test_clf.json'", a, a);
    tu_check(t, cli(bin, args, out, errf) == 2, "a path that is not a folder: exit 2");
    snprintf(args, sizeof args, "'%s' --names 'A|x'", a);
    int rc = cli(bin, args, out, errf);
    char *text = tu_read_file(out, NULL);
    tu_check(t, rc == 0 && starts_with(text, "| | A\\|x |\n") && strstr(text, "| test accuracy | 0.9000 |\n"),
             "one good folder: exit 0, the table on stdout, '|' in a name escaped");
    free(text);
    snprintf(args, sizeof args, "'%s' '%s' --names 'JEM++,softmax WRN' --out '%s'", a, b, md);
    rc = cli(bin, args, out, errf);
    text = tu_read_file(out, NULL);
    char line[1000];
    snprintf(line, sizeof line, "compare: %s (22 rows, 2 columns)\n", md);
    tu_check(t, rc == 1, "a corrupt cali.json: exit 1 (%d)", rc);
    tu_check(t, text && !strcmp(text, line), "--out: one line on stdout (%s)", text ? text : "(none)");
    free(text);
    text = tu_read_file(md, NULL);
    tu_check(t, starts_with(text, "| | JEM++ | softmax WRN |\n|---|---|---|\n| test accuracy | 0.9000 | 0.8500 |\n") && strstr(text, "| NLL | 0.3000 |  |\n"),
             "--out: the table is written, the corrupt file's cells empty");
    free(text);
    text = tu_read_file(errf, NULL);
    tu_check(t, text && strstr(text, "jempp compare: warning: ") && strstr(text, "cali.json could not be read"),
             "the corrupt file is warned on stderr");
    free(text);
    return 0;
}

int main(void)
{
    tu_ctx t;
    tu_begin(&t, "compare");
    char tmp[512], a[700], b[700];
    tu_tmpdir(tmp, sizeof tmp, "compare");
    snprintf(a, sizeof a, "%s/model-a", tmp);
    snprintf(b, sizeof b, "%s/model-b", tmp);
    write_a(a);
    write_b(b);
    check_table(&t, a, b);
    check_corrupt(&t, a, b);
    check_errors(&t, a, tmp);
    int no_cli = check_cli(&t, a, b, tmp);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (t.failed == 0 && system(cmd) != 0) printf("        could not remove %s\n", tmp);
    else if (t.failed) printf("        the folders are kept in %s\n", tmp);
    if (no_cli) return tu_skip(&t, "the jempp program is not built (JEMPP_BIN): its compare command is not checked");
    return tu_finish(&t);
}
