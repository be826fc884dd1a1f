/* The flag tables of flags.h: parsing, help, and the split of positional arguments. */
#include "flags.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const jp_flag *find(const jp_flag *flags, int n, const char *name, size_t len)
{
    for (int i = 0; i < n; i++)
        if (strlen(flags[i].name) == len && !strncmp(flags[i].name, name, len)) return &flags[i];
    return NULL;
}

static int choice_index(const char *choices, const char *v)
{
    int idx = 0;
    size_t vl = strlen(v);
    for (const char *p = choices; *p; idx++) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == vl && !strncmp(p, v, len)) return idx;
        if (!bar) break;
        p = bar + 1;
    }
    return -1;
}

static jp_status set_value(const jp_flag *f, const char *v, jp_error *err)
{
    char *end;
    errno = 0;
    switch (f->type) {
    case FLAG_INT: {
        long x = strtol(v, &end, 10);
        if (*v == '\0' || *end || errno || x < -2147483647L || x > 2147483647L)
            return jp_fail(err, JP_ERR_ARG, "--%s '%s': expected an integer", f->name, v);
        *(int *)f->ptr = (int)x;
        return JP_OK;
    }
    case FLAG_I64: {
        long long x = strtoll(v, &end, 10);
        if (*v == '\0' || *end || errno) return jp_fail(err, JP_ERR_ARG, "--%s '%s': expected an integer", f->name, v);
        *(int64_t *)f->ptr = x;
        return JP_OK;
    }
    case FLAG_U64: {
        unsigned long long x = strtoull(v, &end, 10);
        if (*v == '\0' || *end || errno || *v == '-')
            return jp_fail(err, JP_ERR_ARG, "--%s '%s': expected a non-negative integer", f->name, v);
        *(uint64_t *)f->ptr = x;
        return JP_OK;
    }
    case FLAG_FLOAT: {
        double x = strtod(v, &end);
        if (*v == '\0' || *end || !isfinite(x) || fabs(x) > 3e38)
            return jp_fail(err, JP_ERR_ARG, "--%s '%s': expected a finite number", f->name, v);
        *(float *)f->ptr = (float)x;
        return JP_OK;
    }
    case FLAG_STR:
        if (strlen(v) >= f->size)
            return jp_fail(err, JP_ERR_ARG, "--%s: value longer than %zu characters", f->name, f->size - 1);
        snprintf((char *)f->ptr, f->size, "%s", v);
        return JP_OK;
    case FLAG_BOOL:
    case FLAG_BOOL_NOT: {
        int on;
        if (!strcmp(v, "1") || !strcmp(v, "true")) on = 1;
        else if (!strcmp(v, "0") || !strcmp(v, "false")) on = 0;
        else return jp_fail(err, JP_ERR_ARG, "--%s '%s': expected 0, 1, true or false", f->name, v);
        *(int *)f->ptr = f->type == FLAG_BOOL ? on : !on;
        return JP_OK;
    }
    case FLAG_CHOICE: {
        int k = choice_index(f->choices, v);
        if (k < 0) return jp_fail(err, JP_ERR_ARG, "--%s '%s': expected one of %s", f->name, v, f->choices);
        *(int *)f->ptr = k;
        return JP_OK;
    }
    case FLAG_INTLIST:
        break;
    }
    return jp_fail(err, JP_ERR_ARG, "--%s: internal flag type", f->name);
}

static int is_int(const char *s)
{
    if (*s == '-' || *s == '+') s++;
    if (!*s) return 0;
    for (; *s; s++)
        if ((*s < '0' || *s > '9') && *s != ',') return 0;
    return 1;
}

/* A value a boolean flag takes as its next word. */
static int is_bool_word(const char *s)
{
    return !strcmp(s, "0") || !strcmp(s, "1") || !strcmp(s, "true") || !strcmp(s, "false");
}

jp_status jp_flags_parse(const jp_flag *flags, int n, int argc, char **argv, int start, jp_error *err)
{
    for (int i = start; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0)
            return jp_fail(err, JP_ERR_ARG, "unexpected argument '%s' (flags start with --; see --help)", a);
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const jp_flag *f = find(flags, n, name, len);
        if (!f) return jp_fail(err, JP_ERR_ARG, "unknown flag '--%.*s' (see --help)", (int)len, name);
        if (f->type == FLAG_INTLIST) {
            int *out = (int *)f->ptr, cnt = 0;
            char buf[512];
            buf[0] = '\0';
            if (eq) snprintf(buf, sizeof buf, "%s", eq + 1);
            else
                while (i + 1 < argc && is_int(argv[i + 1])) {
                    size_t l = strlen(buf);
                    snprintf(buf + l, sizeof buf - l, "%s%s", l ? "," : "", argv[++i]);
                }
            for (char *p = buf, *tok; (tok = strtok(p, ",")); p = NULL) {
                char *end;
                long x = strtol(tok, &end, 10);
                if (*end || x < 0 || x > 1000000)
                    return jp_fail(err, JP_ERR_ARG, "--%s '%s': expected non-negative integers", f->name, tok);
                if ((size_t)cnt >= f->size) return jp_fail(err, JP_ERR_ARG, "--%s: at most %zu values", f->name, f->size);
                out[cnt++] = (int)x;
            }
            *f->count = cnt;
            continue;
        }
        const char *v = eq ? eq + 1 : NULL;
        if (!v && (f->type == FLAG_BOOL || f->type == FLAG_BOOL_NOT)) { /* --flag, or --flag 0|1|true|false */
            if (!(i + 1 < argc && is_bool_word(argv[i + 1]))) {
                *(int *)f->ptr = f->type == FLAG_BOOL;
                continue;
            }
            v = argv[++i];
        }
        if (!v) {
            if (i + 1 >= argc) return jp_fail(err, JP_ERR_ARG, "--%s needs a value", f->name);
            v = argv[++i];
        }
        jp_status st = set_value(f, v, err);
        if (st) return st;
    }
    return JP_OK;
}

void jp_flags_help(const jp_flag *flags, int n, FILE *out)
{
    for (int i = 0; i < n; i++) {
        const jp_flag *f = &flags[i];
        char def[160] = "";
        switch (f->type) {
        case FLAG_INT: snprintf(def, sizeof def, "%d", *(int *)f->ptr); break;
        case FLAG_BOOL: snprintf(def, sizeof def, "%s", *(int *)f->ptr ? "on" : "off"); break;
        case FLAG_BOOL_NOT: snprintf(def, sizeof def, "%s", *(int *)f->ptr ? "off" : "on"); break;
        case FLAG_I64: snprintf(def, sizeof def, "%lld", (long long)*(int64_t *)f->ptr); break;
        case FLAG_U64: snprintf(def, sizeof def, "%llu", (unsigned long long)*(uint64_t *)f->ptr); break;
        case FLAG_FLOAT: snprintf(def, sizeof def, "%g", (double)*(float *)f->ptr); break;
        case FLAG_STR: snprintf(def, sizeof def, "%s", *(char *)f->ptr ? (char *)f->ptr : "(none)"); break;
        case FLAG_CHOICE: {
            int k = *(int *)f->ptr, idx = 0;
            for (const char *p = f->choices; *p; idx++) {
                const char *bar = strchr(p, '|');
                size_t len = bar ? (size_t)(bar - p) : strlen(p);
                if (idx == k) snprintf(def, sizeof def, "%.*s", (int)len, p);
                if (!bar) break;
                p = bar + 1;
            }
            break;
        }
        case FLAG_INTLIST: {
            size_t at = 0;
            for (int j = 0; j < *f->count && at < sizeof def; j++)
                at += (size_t)snprintf(def + at, sizeof def - at, "%s%d", j ? "," : "", ((int *)f->ptr)[j]);
            if (!*f->count) snprintf(def, sizeof def, "(none)");
            break;
        }
        }
        char head[200]; /* the flag and its choices, whole */
        snprintf(head, sizeof head, "--%s%s%s", f->name, f->type == FLAG_CHOICE ? " " : "",
                 f->type == FLAG_CHOICE ? f->choices : "");
        fprintf(out, "  %-34s %s [default: %s]\n", head, f->help, def);
    }
}

int jp_flags_want_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
    return 0;
}

const char *jp_flags_peek(int argc, char **argv, const char *name)
{
    size_t len = strlen(name);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) || strncmp(a + 2, name, len)) continue;
        if (a[2 + len] == '=') return a + 3 + len;
        if (a[2 + len] == '\0' && i + 1 < argc) return argv[i + 1];
    }
    return NULL;
}

/* 1 when flag `a` (the "--name" form, no "=value") takes the next word, next, as its
 * value (a boolean flag only 0, 1, true or false). */
static int takes_value(const jp_flag *flags, int n, const char *a, const char *next)
{
    if (strchr(a, '=')) return 0;
    const jp_flag *f = find(flags, n, a + 2, strlen(a + 2));
    return f && ((f->type != FLAG_BOOL && f->type != FLAG_BOOL_NOT) || is_bool_word(next));
}

/* 1 when a is "--repeat" (the value follows) or "--repeat=value" (*value set). */
static int is_repeat(const char *a, const char *repeat, const char **value)
{
    size_t len = repeat ? strlen(repeat) : 0;
    if (!repeat || strncmp(a, "--", 2) || strncmp(a + 2, repeat, len)) return 0;
    *value = a[2 + len] == '=' ? a + 3 + len : NULL;
    return a[2 + len] == '=' || a[2 + len] == '\0';
}

jp_status jp_args_parse(jp_args *a, const jp_flag *flags, int n, int argc, char **argv, const char *repeat,
                        jp_error *err)
{
    memset(a, 0, sizeof *a);
    size_t slots = (size_t)(argc > 1 ? argc : 1);
    a->pos = malloc(slots * sizeof *a->pos);
    a->reps = malloc(slots * sizeof *a->reps);
    a->rest = malloc(slots * sizeof *a->rest);
    if (!a->pos || !a->reps || !a->rest) return jp_fail(err, JP_ERR_NOMEM, "command-line arguments");
    a->rest[a->n_rest++] = argc > 0 ? argv[0] : NULL;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value;
        if (is_repeat(arg, repeat, &value)) {
            if (!value && i + 1 >= argc) return jp_fail(err, JP_ERR_ARG, "--%s needs a value", repeat);
            a->reps[a->n_reps++] = value ? value : argv[++i];
        } else if (!strncmp(arg, "--", 2)) {
            a->rest[a->n_rest++] = argv[i];
            if (i + 1 < argc && takes_value(flags, n, arg, argv[i + 1])) a->rest[a->n_rest++] = argv[++i];
        } else {
            a->pos[a->n_pos++] = arg;
        }
    }
    return jp_flags_parse(flags, n, a->n_rest, a->rest, 1, err);
}

void jp_args_free(jp_args *a)
{
    free(a->pos);
    free(a->reps);
    free(a->rest);
    memset(a, 0, sizeof *a);
}
