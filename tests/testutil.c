#include "testutil.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

void tu_begin(tu_ctx *t, const char *name)
{
    t->passed = t->failed = 0;
    t->name = name;
}

int tu_finish(tu_ctx *t)
{
    printf("%s: %d passed, %d failed\n", t->name, t->passed, t->failed);
    return t->failed ? 1 : 0;
}

static int skip_v(tu_ctx *t, int may_require, const char *fmt, va_list ap)
{
    const char *req = getenv("JEMPP_REQUIRE_ALL");
    int fail = may_require && req && !strcmp(req, "1");
    printf(fail ? "FAILED (JEMPP_REQUIRE_ALL=1: nothing may be skipped for want of an install): " : "SKIPPED: ");
    vprintf(fmt, ap);
    printf("\n%s: %d passed, %d failed before the %s\n", t->name, t->passed, t->failed, fail ? "stop" : "skip");
    return t->failed || fail ? 1 : TU_SKIP;
}

int tu_skip(tu_ctx *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = skip_v(t, 1, fmt, ap);
    va_end(ap);
    return rc;
}

int tu_skip_machine(tu_ctx *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = skip_v(t, 0, fmt, ap);
    va_end(ap);
    return rc;
}

void tu_check(tu_ctx *t, int ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s ", ok ? "  ok  " : "  FAIL");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    if (ok) t->passed++;
    else t->failed++;
}

/* Elementwise |got-ref| <= atol + rtol*|ref|; reports the largest difference. */
#define TU_CLOSE_BODY                                                                  \
    double maxd = 0;                                                                   \
    size_t worst = 0, bad = 0;                                                         \
    for (size_t i = 0; i < n; i++) {                                                   \
        double d = fabs((double)got[i] - (double)ref[i]);                              \
        if (isnan(d)) d = INFINITY;                                                    \
        if (d > atol + rtol * fabs((double)ref[i])) bad++;                             \
        if (d > maxd) maxd = d, worst = i;                                             \
    }                                                                                  \
    tu_check(t, bad == 0, "%-40s n=%zu max|diff|=%.3g (atol %.1g rtol %.1g)", what, n,  \
             maxd, atol, rtol);                                                        \
    if (bad)                                                                           \
        printf("        %zu elements out of tolerance; largest at [%zu]: got %.8g ref %.8g\n", \
               bad, worst, (double)got[worst], (double)ref[worst]);                    \
    return bad == 0;

int tu_close(tu_ctx *t, const char *what, const float *got, const float *ref, size_t n,
             double atol, double rtol)
{
    TU_CLOSE_BODY
}

int tu_close_d(tu_ctx *t, const char *what, const double *got, const double *ref, size_t n,
               double atol, double rtol)
{
    TU_CLOSE_BODY
}

double tu_max_abs_diff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (isnan(d)) d = INFINITY;
        if (d > m) m = d;
    }
    return m;
}

const char *tu_src_path(char *buf, size_t len, const char *rel)
{
    const char *root = getenv("JEMPP_SRC");
    snprintf(buf, len, "%s/%s", root ? root : ".", rel);
    return buf;
}

const char *tu_tmpdir(char *buf, size_t len, const char *tag)
{
    const char *root = getenv("JEMPP_BIN");
    snprintf(buf, len, "%s/tmp-%s-%d", root ? root : "/tmp", tag, (int)getpid());
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", buf);
    if (system(cmd) != 0) { /* best effort */ }
    mkdir(buf, 0755);
    return buf;
}

int tu_write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

void tu_write_text(const char *dir, const char *name, const char *text)
{
    char p[1200];
    snprintf(p, sizeof p, "%s%s%s", dir ? dir : "", dir ? "/" : "", name);
    if (!tu_write_file(p, text, strlen(text))) {
        fprintf(stderr, "cannot write %s\n", p);
        exit(2);
    }
}

char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *p = NULL;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (p = malloc((size_t)n + 1)) && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    if (!p) return NULL;
    p[n] = '\0';
    if (len) *len = (size_t)n;
    return p;
}

int tu_count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; p && (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

float *tu_ref_f32(const jp_st_file *f, const char *name, size_t *count)
{
    const jp_st_entry *e = jp_st_find(f, name);
    if (!e) {
        fprintf(stderr, "reference tensor '%s' missing from %s\n", name, f->path);
        exit(2);
    }
    if (e->dtype != JP_F32) {
        fprintf(stderr, "reference tensor '%s' in %s is %s, expected F32\n", name, f->path,
                jp_dtype_name(e->dtype));
        exit(2);
    }
    size_t n = (e->end - e->begin) / 4;
    float *p = malloc(n * sizeof(float) + 4);
    memcpy(p, jp_st_data(f, e), n * sizeof(float));
    if (count) *count = n;
    return p;
}

jp_status tu_st_copy_edited(const jp_st_file *src, const char *dst, const char *name, int64_t dim0, const void *data,
                            jp_error *err)
{
    jp_st_writer w;
    jp_st_writer_init(&w);
    for (int i = 0; i < src->count; i++) {
        const jp_st_entry *x = &src->entries[i];
        int64_t shape[JP_ST_MAX_DIMS];
        memcpy(shape, x->shape, sizeof shape);
        int edit = !strcmp(x->name, name);
        if (edit && dim0 >= 0 && dim0 <= shape[0]) shape[0] = dim0;
        jp_st_writer_add(&w, x->name, x->dtype, x->ndim, shape, edit && data ? data : jp_st_data(src, x));
    }
    for (int i = 0; i < src->meta_count; i++) jp_st_writer_meta(&w, src->meta_keys[i], src->meta_vals[i]);
    jp_status st = jp_st_writer_save(&w, dst, err);
    jp_st_writer_free(&w);
    return st;
}

int tu_run_capture(char *const argv[], char *const envp[], int with_stderr, char *out, size_t len)
{
    int fd[2];
    out[0] = 0;
    if (pipe(fd)) return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(fd[1], 1);
        if (with_stderr) dup2(fd[1], 2);
        close(fd[0]);
        if (envp) execve(argv[0], argv, envp);
        else execv(argv[0], argv);
        _exit(127);
    }
    close(fd[1]);
    size_t got = 0;
    ssize_t r;
    char rest[4096];
    while ((r = got + 1 < len ? read(fd[0], out + got, len - 1 - got) : read(fd[0], rest, sizeof rest)) > 0)
        if (got + 1 < len) got += (size_t)r;
    out[got] = 0;
    close(fd[0]);
    int status;
    if (waitpid(pid, &status, 0) != pid) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
