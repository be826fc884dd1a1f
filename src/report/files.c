/* Reading what runs and evaluations wrote: whole files with a size cap, JSON documents
 * (a corrupt one becomes a warning in the page, not a failure), folder listings and a
 * small CSV table. Files are opened read-only and never locked: a training run may be
 * appending to them while the report is made. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "report/report_internal.h"

/* metrics.csv of a very long run is tens of MB; anything bigger is not ours */
#define RP_TEXT_MAX ((size_t)256 << 20)

const char *rp_path(char *buf, size_t len, const char *dir, const char *name)
{
    size_t dl = strlen(dir);
    int slash = dl > 0 && dir[dl - 1] == '/';
    snprintf(buf, len, "%s%s%s", dir, slash ? "" : "/", name);
    return buf;
}

int rp_is_file(const char *path, size_t *size)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
    if (size) *size = (size_t)st.st_size;
    return 1;
}

int rp_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *rp_base_name(char *out, size_t len, const char *path)
{
    char tmp[RP_PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    size_t n = strlen(tmp);
    while (n > 1 && tmp[n - 1] == '/') tmp[--n] = '\0';
    const char *slash = strrchr(tmp, '/');
    snprintf(out, len, "%s", slash && slash[1] ? slash + 1 : tmp);
    return out;
}

int rp_has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

jp_status rp_read_file(const char *path, size_t max, char **data, size_t *len, jp_error *err)
{
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return jp_fail(err, JP_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    /* read in growing pieces rather than trusting the size: the file may be growing */
    size_t cap = 0, n = 0;
    char *p = NULL;
    jp_status st = JP_OK;
    for (;;) {
        if (n + 65536 + 1 > cap) {
            size_t nc = cap ? cap * 2 : 65536 * 2;
            char *q = realloc(p, nc);
            if (!q) {
                st = jp_fail(err, JP_ERR_NOMEM, "reading %s", path);
                break;
            }
            p = q;
            cap = nc;
        }
        size_t got = fread(p + n, 1, cap - n - 1, f);
        n += got;
        if (n > max) {
            st = jp_fail(err, JP_ERR_FORMAT, "%s is larger than %zu bytes", path, max);
            break;
        }
        if (got == 0) {
            if (ferror(f)) st = jp_fail(err, JP_ERR_IO, "cannot read %s: %s", path, strerror(errno));
            break;
        }
    }
    fclose(f);
    if (st) {
        free(p);
        return st;
    }
    p[n] = '\0';
    *data = p;
    *len = n;
    return JP_OK;
}

int rp_read_json(const char *path, jp_json_doc *doc, jp_error *err)
{
    memset(doc, 0, sizeof *doc);
    if (!rp_is_file(path, NULL)) return 0;
    char *text;
    size_t len;
    jp_status st = rp_read_file(path, RP_TEXT_MAX, &text, &len, err);
    if (!st) {
        st = jp_json_parse(doc, text, len, err);
        free(text);
    }
    return st ? -1 : 1;
}

int rp_load_json(rp_ctx *c, const char *dir, const char *name, jp_json_doc *doc)
{
    char path[RP_PATH_MAX];
    rp_path(path, sizeof path, dir, name);
    jp_error err = {0};
    int got = rp_read_json(path, doc, &err);
    if (got < 0) rp_warn(c, "%s could not be read: %s", path, err.msg);
    return got;
}

double rp_jnum(const jp_json *obj, const char *key)
{
    const jp_json *v = jp_json_get(obj, key);
    return v && v->type == JP_JSON_NUMBER ? v->number : NAN;
}

const char *rp_jstr(const jp_json *obj, const char *key)
{
    const jp_json *v = jp_json_get(obj, key);
    return v && v->type == JP_JSON_STRING ? v->str : NULL;
}

void rp_json_text(rp_buf *b, const jp_json *v)
{
    switch (v->type) {
    case JP_JSON_NULL: rp_put(b, "null"); break;
    case JP_JSON_FALSE: rp_put(b, "false"); break;
    case JP_JSON_TRUE: rp_put(b, "true"); break;
    case JP_JSON_NUMBER: rp_escn(b, v->str, v->len); break;
    case JP_JSON_STRING: rp_escn(b, v->str, v->len); break;
    case JP_JSON_ARRAY:
    case JP_JSON_OBJECT: {
        int obj = v->type == JP_JSON_OBJECT;
        rp_put(b, obj ? "{" : "[");
        for (const jp_json *e = v->child; e; e = e->next) {
            if (e != v->child) rp_put(b, ", ");
            if (obj) {
                rp_escn(b, e->key, e->key_len);
                rp_put(b, ": ");
            }
            rp_json_text(b, e);
        }
        rp_put(b, obj ? "}" : "]");
        break;
    }
    }
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

jp_status rp_list_dir(const char *dir, int (*keep)(const char *dir, const char *name), rp_names *out,
                      jp_error *err)
{
    memset(out, 0, sizeof *out);
    DIR *d = opendir(dir);
    if (!d) return jp_fail(err, JP_ERR_IO, "cannot list %s: %s", dir, strerror(errno));
    int cap = 0;
    jp_status st = JP_OK;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (keep && !keep(dir, e->d_name)) continue;
        if (out->n == cap) {
            int nc = cap ? cap * 2 : 32;
            char **q = realloc(out->name, (size_t)nc * sizeof *q);
            if (!q) {
                st = jp_fail(err, JP_ERR_NOMEM, "listing %s", dir);
                break;
            }
            out->name = q;
            cap = nc;
        }
        if (!(out->name[out->n] = strdup(e->d_name))) {
            st = jp_fail(err, JP_ERR_NOMEM, "listing %s", dir);
            break;
        }
        out->n++;
    }
    closedir(d);
    if (st) {
        rp_names_free(out);
        return st;
    }
    if (out->n > 1) qsort(out->name, (size_t)out->n, sizeof *out->name, cmp_names);
    return JP_OK;
}

void rp_names_free(rp_names *n)
{
    for (int i = 0; i < n->n; i++) free(n->name[i]);
    free(n->name);
    memset(n, 0, sizeof *n);
}

/* ---- CSV ----------------------------------------------------------------------------- */

/* Cells of one line, split in place at commas. Returns the count (at most max). */
static int split_line(char *line, const char **cells, int max)
{
    int n = 0;
    for (char *p = line;;) {
        char *comma = strchr(p, ',');
        if (n < max) cells[n] = p;
        n++;
        if (!comma) break;
        *comma = '\0';
        p = comma + 1;
    }
    return n;
}

static jp_status parse_csv(rp_csv *t, const char *path, jp_error *err)
{
    size_t lines = 1;
    for (const char *p = t->text; *p; p++) lines += *p == '\n';
    /* the header's cell count fixes the width; a row of another width is skipped */
    char *line = t->text, *nl = strchr(line, '\n');
    if (nl) *nl = '\0';
    if (nl && nl > line && nl[-1] == '\r') nl[-1] = '\0';
    int cols = 1;
    for (const char *p = line; *p; p++) cols += *p == ',';
    if (!*line) return jp_fail(err, JP_ERR_FORMAT, "%s has no header line", path);
    t->cols = cols;
    t->cell = malloc(lines * (size_t)cols * sizeof *t->cell);
    if (!t->cell) return jp_fail(err, JP_ERR_NOMEM, "table of %s", path);
    split_line(line, t->cell, cols);
    size_t row = 1;
    while (nl) {
        line = nl + 1;
        nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        else if (!*line) break;
        if (nl && nl > line && nl[-1] == '\r') nl[-1] = '\0';
        if (!*line) continue;
        /* a line without its newline is still being written: not a row yet */
        if (!nl || split_line(line, t->cell + row * cols, cols) != cols) {
            t->bad++;
            continue;
        }
        row++;
    }
    t->rows = row - 1;
    return JP_OK;
}

int rp_load_csv(rp_ctx *c, const char *dir, const char *name, rp_csv *t)
{
    memset(t, 0, sizeof *t);
    char path[RP_PATH_MAX];
    rp_path(path, sizeof path, dir, name);
    if (!rp_is_file(path, NULL)) return 0;
    size_t len;
    jp_error err = {0};
    jp_status st = rp_read_file(path, RP_TEXT_MAX, &t->text, &len, &err);
    if (!st) st = parse_csv(t, path, &err);
    if (st) {
        rp_csv_free(t);
        rp_warn(c, "%s could not be read: %s", path, err.msg);
        return -1;
    }
    return 1;
}

void rp_csv_free(rp_csv *t)
{
    free(t->text);
    free(t->cell);
    memset(t, 0, sizeof *t);
}

int rp_csv_col(const rp_csv *t, const char *name)
{
    for (int k = 0; k < t->cols; k++)
        if (!strcmp(t->cell[k], name)) return k;
    return -1;
}

const char *rp_csv_cell(const rp_csv *t, size_t row, int col)
{
    return t->cell[(row + 1) * (size_t)t->cols + (size_t)col];
}

double rp_csv_num(const rp_csv *t, size_t row, int col)
{
    if (col < 0 || col >= t->cols || row >= t->rows) return NAN;
    const char *s = rp_csv_cell(t, row, col);
    char *end;
    double v = strtod(s, &end);
    return *s && !*end ? v : NAN;
}
