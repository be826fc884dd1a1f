/* `jempp data`'s command line, run as a child of the built program ($JEMPP_BIN/jempp):
 *  - --help prints the usage line and every flag of its table (and no --bench: that is
 *    bench/bench_data now), exit 0;
 *  - an unknown flag, a value that is not a number or out of its range, a flag without
 *    its value and a bad boolean are refused with exit 2 and a message naming the flag,
 *    before anything is read;
 *  - the flags reach the command: on a folder data set made here (2 classes of 2 PNGs),
 *    --dataset, --data_root, --n_valid, --out and --per_class give the summary and the
 *    two PNGs, and --no_images writes none.
 * Skipped (a failure with JEMPP_REQUIRE_ALL=1) when the program is not built. The
 * temporary folder (under JEMPP_BIN) is removed at the end. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jempp/png.h"
#include "testutil.h"

/* What one run of the program gave: its exit status and its stdout and stderr. */
typedef struct {
    int rc;
    char *out, *err; /* malloc'd, NUL-terminated ("" when unreadable) */
} run_result;

static void run_free(run_result *r)
{
    free(r->out);
    free(r->err);
}

static char *read_or_empty(const char *path)
{
    char *s = tu_read_file(path, NULL);
    return s ? s : calloc(1, 1);
}

/* Runs `bin data args...` (args NULL-terminated), stdout and stderr into files in tmp. */
static run_result run_data(const char *bin, const char *tmp, const char *const *args)
{
    char out_path[1100], err_path[1100];
    snprintf(out_path, sizeof out_path, "%s/stdout.txt", tmp);
    snprintf(err_path, sizeof err_path, "%s/stderr.txt", tmp);
    char *argv[32];
    int n = 0;
    argv[n++] = (char *)bin;
    argv[n++] = "data";
    for (int i = 0; args[i] && n < 31; i++) argv[n++] = (char *)args[i];
    argv[n] = NULL;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int fo = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fe = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fo < 0 || fe < 0) _exit(126);
        dup2(fo, 1);
        dup2(fe, 2);
        execv(bin, argv);
        _exit(127);
    }
    run_result r = {-1, NULL, NULL};
    int status;
    if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status)) r.rc = WEXITSTATUS(status);
    r.out = read_or_empty(out_path);
    r.err = read_or_empty(err_path);
    return r;
}

static void test_help(tu_ctx *t, const char *bin, const char *tmp)
{
    static const char *names[] = {"dataset", "data_root", "n_valid", "labels_per_class", "split_seed",
                                  "cifar100_coarse", "svhn_extra", "out", "per_class", "no_images",
                                  "init_samples", "stats_cache"};
    const char *args[] = {"--help", NULL};
    run_result r = run_data(bin, tmp, args);
    int all = 1;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char want[64];
        snprintf(want, sizeof want, "  --%s ", names[i]);
        if (!strstr(r.out, want)) {
            printf("  --help does not list --%s\n", names[i]);
            all = 0;
        }
    }
    tu_check(t, r.rc == 0 && strstr(r.out, "usage: jempp data") != NULL, "--help: usage, exit 0 (%d)", r.rc);
    tu_check(t, all, "--help lists every flag");
    tu_check(t, !strstr(r.out, "--bench"), "--help no longer offers --bench");
    run_free(&r);
}

/* Each bad command line: exit 2, nothing on stdout, a message naming `flag`. */
static void test_refused(tu_ctx *t, const char *bin, const char *tmp)
{
    static const struct {
        const char *args[3], *flag;
    } cases[] = {
        {{"--bogus", NULL}, "--bogus"},
        {{"--bench", NULL}, "--bench"},
        {{"--n_valid", "abc"}, "--n_valid"},
        {{"--per_class", "0"}, "--per_class"},
        {{"--per_class=1001", NULL}, "--per_class"},
        {{"--labels_per_class", "-2"}, "--labels_per_class"},
        {{"--split_seed", "4294967296"}, "--split_seed"},
        {{"--split_seed", "-1"}, "--split_seed"},
        {{"--n_valid", NULL}, "--n_valid"},
        {{"--no_images=maybe", NULL}, "--no_images"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        run_result r = run_data(bin, tmp, cases[i].args);
        char *nl = strchr(r.err, '\n');
        if (nl) *nl = '\0';
        tu_check(t, r.rc == 2 && strstr(r.err, cases[i].flag) && !r.out[0], "jempp data %s%s%s: exit 2 (%d), '%s'",
                 cases[i].args[0], cases[i].args[1] ? " " : "", cases[i].args[1] ? cases[i].args[1] : "", r.rc, r.err);
        run_free(&r);
    }
}

/* root/<class>/img<i>.png: 2 classes of 2 RGB images 6x5. 0 when a file cannot be written. */
static int make_folder(const char *root)
{
    const char *cls[2] = {"ant", "bee"};
    unsigned char px[6 * 5 * 3];
    jp_error e;
    for (int k = 0; k < 2; k++) {
        char dir[1200], f[1300];
        snprintf(dir, sizeof dir, "%s/%s", root, cls[k]);
        mkdir(dir, 0755);
        for (int i = 0; i < 2; i++) {
            for (size_t p = 0; p < sizeof px; p++) px[p] = (unsigned char)((p * 29 + (size_t)k * 53 + (size_t)i * 7) % 256);
            snprintf(f, sizeof f, "%s/img%d.png", dir, i);
            if (jp_png_write_rgb(f, px, 6, 5, 3, &e) != JP_OK) {
                printf("  %s\n", e.msg);
                return 0;
            }
        }
    }
    return 1;
}

static int exists(const char *dir, const char *name)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static void test_run(tu_ctx *t, const char *bin, const char *tmp)
{
    char root[1100], out[1100], none[1100];
    snprintf(root, sizeof root, "%s/imgs", tmp);
    snprintf(out, sizeof out, "%s/out", tmp);
    snprintf(none, sizeof none, "%s/none", tmp);
    mkdir(root, 0755);
    if (!make_folder(root)) {
        tu_check(t, 0, "the PNG folder written");
        return;
    }
    const char *args[] = {"--dataset", "folder", "--data_root", root, "--n_valid=0", "--out", out, "--per_class", "2", NULL};
    run_result r = run_data(bin, tmp, args);
    tu_check(t, r.rc == 0 && strstr(r.out, "images 3x5x6") && strstr(r.out, "2 classes"),
             "jempp data on a folder: exit 0 (%d), its summary%s%s", r.rc, r.err[0] ? "; stderr: " : "", r.err);
    tu_check(t, exists(out, "examples.png") && exists(out, "class_means.png") && !exists(out, "init_samples.png"),
             "--out: examples.png and class_means.png written there");
    run_free(&r);
    const char *quiet[] = {"--dataset=folder", "--data_root", root, "--n_valid", "0", "--out", none, "--no_images", NULL};
    r = run_data(bin, tmp, quiet);
    tu_check(t, r.rc == 0 && access(none, F_OK) != 0, "--no_images: exit 0 (%d), no folder written", r.rc);
    run_free(&r);
}

int main(void)
{
    tu_ctx t;
    tu_begin(&t, "test_cli_data");
    const char *bdir = getenv("JEMPP_BIN");
    char bin[1024], tmp[1024], cmd[1100];
    snprintf(bin, sizeof bin, "%s/jempp", bdir ? bdir : "build");
    if (access(bin, X_OK)) return tu_skip(&t, "the jempp program %s is not built", bin);
    tu_tmpdir(tmp, sizeof tmp, "cli-data");
    test_help(&t, bin, tmp);
    test_refused(&t, bin, tmp);
    test_run(&t, bin, tmp);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) { /* best effort */ }
    return tu_finish(&t);
}
