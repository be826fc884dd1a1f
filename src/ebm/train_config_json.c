/* The training configuration as JSON: config.json of a run directory is written from,
 * and read back into, a jp_train_config through the table of its settings
 * (train_settings.c, the one `jempp train` takes its flags from), so that
 * `jempp train --resume DIR` continues with the run's own configuration. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../io/atomic_file.h"
#include "../io/json.h"
#include "ebm/trainer_internal.h"

/* config.json's own version, and what older files meant:
 *  2: under PYLD, sgld_lr and sgld_std mean what they mean in the authors' sample_q (an
 *     extra clamped step before, noise after each outer step's inner loop). A file
 *     without it (version 1) comes from before, when PYLD ignored sgld_lr (written as
 *     1): such a run resumes with sgld_lr 0, as it ran.
 *  3: clf_only is the reference's (only class_output is optimised); before, it meant
 *     what softmax_only means now (a plain softmax classifier), and reads so.
 *  4: the sampler's mode is eval_mode_sampling, as the flag; before, sample_train_mode
 *     held its negation, and still reads (legacy key). */
#define CONFIG_VERSION 4

/* Keys of earlier versions that still read: sample_train_mode (before 4) is
 * sampler.train_mode itself. */
static const jp_train_setting legacy[] = {
    {"sample_train_mode", JP_SET_BOOL, offsetof(jp_train_config, sampler.train_mode), 0, NULL, 0, 1, "1", 0, 0, 0, NULL},
};

/* Keys written for information only (the data's shape, where the run lives). */
static const char *const info_keys[] = {"image_shape", "n_classes", "save_dir"};

/* The index-th '|'-separated word of words into out; 0 if there is none. */
static int choice_word(const char *words, int index, char *out, size_t len)
{
    const char *p = words;
    for (int i = 0; i < index && p; i++) {
        p = strchr(p, '|');
        if (p) p++;
    }
    if (!p || index < 0) return 0;
    size_t n = strcspn(p, "|");
    if (n + 1 > len) return 0;
    memcpy(out, p, n);
    out[n] = 0;
    return 1;
}

jp_status jp_train_config_json_text(const jp_train_config *c, const int image_shape[3], int n_classes, jp_jw *out,
                                    jp_error *err)
{
    jp_jw w;
    jp_jw_init(&w, 1);
    jp_jw_begin_object(&w);
    jp_jw_key(&w, "config_version");
    jp_jw_int(&w, CONFIG_VERSION);
    const char *base = (const char *)c;
    int n;
    const jp_train_setting *fields = jp_train_settings(&n);
    for (int i = 0; i < n; i++) {
        const jp_train_setting *f = &fields[i];
        if (!f->in_json) continue;
        const void *p = base + f->offset;
        jp_jw_key(&w, f->name);
        switch (f->type) {
        case JP_SET_INT:
        case JP_SET_BOOL: jp_jw_int(&w, *(const int *)p); break;
        case JP_SET_BOOL_NOT: jp_jw_int(&w, !*(const int *)p); break;
        case JP_SET_FLOAT: jp_jw_float(&w, *(const float *)p); break;
        case JP_SET_I64: jp_jw_int(&w, *(const int64_t *)p); break;
        case JP_SET_U64: jp_jw_uint(&w, *(const uint64_t *)p); break;
        case JP_SET_STR: jp_jw_string(&w, (const char *)p); break;
        case JP_SET_CHOICE: {
            char word[32];
            if (choice_word(f->choices, *(const int *)p, word, sizeof word))
                jp_jw_string(&w, word);
            else
                jp_jw_int(&w, *(const int *)p);
            break;
        }
        case JP_SET_INTLIST: {
            int count = *(const int *)(base + f->count_offset);
            jp_jw_begin_array(&w);
            for (int k = 0; k < count; k++) jp_jw_int(&w, ((const int *)p)[k]);
            jp_jw_end_array(&w);
            break;
        }
        }
    }
    jp_jw_key(&w, "save_dir");
    jp_jw_string(&w, c->save_dir);
    jp_jw_key(&w, "image_shape");
    jp_jw_begin_array(&w);
    for (int k = 0; k < 3; k++) jp_jw_int(&w, image_shape[k]);
    jp_jw_end_array(&w);
    jp_jw_key(&w, "n_classes");
    jp_jw_int(&w, n_classes);
    jp_jw_end_object(&w);
    jp_jw_raw(&w, "\n", 1);
    jp_status st = jp_jw_finish(&w, err);
    if (st) jp_jw_free(&w);
    else *out = w;
    return st;
}

jp_status jp_train_config_write_json(const jp_train_config *c, const int image_shape[3], int n_classes,
                                     const char *path, jp_error *err)
{
    jp_jw w;
    jp_status st = jp_train_config_json_text(c, image_shape, n_classes, &w, err);
    if (st) return st;
    st = jp_write_file_atomic(path, w.buf, w.len, err);
    jp_jw_free(&w);
    return st;
}

static jp_status read_field(const jp_train_setting *f, const jp_json *v, char *base, const char *path,
                            jp_error *err)
{
    void *p = base + f->offset;
    int64_t i = 0;
    switch (f->type) {
    case JP_SET_INT:
        if (!jp_json_int64(v, &i) || i < -2147483647 - 1 || i > 2147483647)
            return jp_fail(err, JP_ERR_FORMAT, "%s: \"%s\" must be an integer", path, f->name);
        *(int *)p = (int)i;
        return JP_OK;
    case JP_SET_BOOL:
    case JP_SET_BOOL_NOT:
        if (!jp_json_int64(v, &i) || (i != 0 && i != 1))
            return jp_fail(err, JP_ERR_FORMAT, "%s: \"%s\" must be 0 or 1", path, f->name);
        *(int *)p = f->type == JP_SET_BOOL ? (int)i : !i;
        return JP_OK;
    case JP_SET_I64:
        if (!jp_json_int64(v, &i)) return jp_fail(err, JP_ERR_FORMAT, "%s: \"%s\" must be an integer", path, f->name);
        *(int64_t *)p = i;
        return JP_OK;
    case JP_SET_U64: {
        char *end = NULL;
        errno = 0;
        unsigned long long u = v->type == JP_JSON_NUMBER ? strtoull(v->str, &end, 10) : 0;
        if (v->type != JP_JSON_NUMBER || errno || !end || end != v->str + v->len || v->str[0] == '-')
            return jp_fail(err, JP_ERR_FORMAT, "%s: \"%s\" must be a non-negative integer", path, f->name);
        *(uint64_t *)p = (uint64_t)u;
        return JP_OK;
    }
    case JP_SET_FLOAT:
        if (v->type != JP_JSON_NUMBER) return jp_fail(err, JP_ERR_FORMAT, "%s: \"%s\" must be a number", path, f->name);
        *(float *)p = (float)v->number;
        return JP_OK;
    case JP_SET_STR:
        if (v->type != JP_JSON_STRING || v->len + 1 > f->size || strlen(v->str) != v->len)
            return jp_fail(err, JP_ERR_FORMAT, "%s: \"%s\" must be a string of at most %zu bytes", path, f->name,
                           f->size - 1);
        memcpy(p, v->str, v->len + 1);
        return JP_OK;
    case JP_SET_CHOICE: {
        char word[32];
        for (int k = 0; v->type == JP_JSON_STRING && choice_word(f->choices, k, word, sizeof word); k++)
            if (!strcmp(word, v->str)) {
                *(int *)p = k;
                return JP_OK;
            }
        return jp_fail(err, JP_ERR_FORMAT, "%s: \"%s\" must be one of %s", path, f->name, f->choices);
    }
    case JP_SET_INTLIST: {
        if (v->type != JP_JSON_ARRAY || v->len > f->size)
            return jp_fail(err, JP_ERR_FORMAT, "%s: \"%s\" must be a list of at most %zu integers", path, f->name,
                           f->size);
        int n = 0;
        for (const jp_json *e = v->child; e; e = e->next) {
            if (!jp_json_int64(e, &i) || i < 0 || i > 2147483647)
                return jp_fail(err, JP_ERR_FORMAT, "%s: \"%s\" must hold non-negative integers", path, f->name);
            ((int *)p)[n++] = (int)i;
        }
        *(int *)(base + f->count_offset) = n;
        return JP_OK;
    }
    }
    return JP_OK;
}

jp_status jp_train_config_read_json(jp_train_config *c, const char *path, jp_error *err)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return jp_fail(err, JP_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 > cap) {
            cap = cap ? 2 * cap : 8192;
            char *t = cap <= (1u << 24) ? realloc(text, cap) : NULL;
            if (!t) {
                free(text);
                fclose(fp);
                return jp_fail(err, JP_ERR_FORMAT, "%s: not a configuration file (over 16 MiB)", path);
            }
            text = t;
        }
        size_t got = fread(text + len, 1, cap - len, fp);
        len += got;
        if (got == 0) break;
    }
    int rd_err = ferror(fp);
    fclose(fp);
    if (rd_err) {
        free(text);
        return jp_fail(err, JP_ERR_IO, "cannot read %s", path);
    }
    jp_json_doc doc;
    jp_error perr = {0};
    jp_status st = jp_json_parse(&doc, text, len, &perr);
    free(text);
    if (st) return jp_fail(err, JP_ERR_FORMAT, "%s: %s", path, perr.msg);
    if (doc.root->type != JP_JSON_OBJECT) st = jp_fail(err, JP_ERR_FORMAT, "%s: not a JSON object", path);
    /* read into a copy, so that a bad file leaves the caller's configuration as it was */
    jp_train_config tmp = *c;
    int64_t version = 1;
    int n_fields;
    const jp_train_setting *fields = jp_train_settings(&n_fields);
    for (const jp_json *m = st ? NULL : doc.root->child; m && !st; m = m->next) {
        if (!strcmp(m->key, "config_version")) {
            if (!jp_json_int64(m, &version) || version < 1 || version > CONFIG_VERSION)
                st = jp_fail(err, JP_ERR_FORMAT, "%s: \"config_version\" must be 1..%d (a newer jempp wrote it?)",
                             path, CONFIG_VERSION);
            continue;
        }
        const jp_train_setting *f = NULL;
        for (int i = 0; i < n_fields && !f; i++)
            if (fields[i].in_json && !strcmp(fields[i].name, m->key)) f = &fields[i];
        for (size_t i = 0; i < sizeof legacy / sizeof *legacy && !f; i++)
            if (!strcmp(legacy[i].name, m->key)) f = &legacy[i];
        if (f) {
            st = read_field(f, m, (char *)&tmp, path, err);
            continue;
        }
        int info = 0;
        for (size_t i = 0; i < sizeof info_keys / sizeof *info_keys; i++) info |= !strcmp(info_keys[i], m->key);
        if (!info) st = jp_fail(err, JP_ERR_FORMAT, "%s: unknown setting \"%s\"", path, m->key);
    }
    jp_json_free(&doc);
    if (!st && version < 2 && tmp.sampler.kind == JP_SAMPLER_PYLD) tmp.sampler.sgld_lr = 0;
    if (!st && version < 3 && tmp.clf_only) tmp.clf_only = 0, tmp.softmax_only = 1;
    if (!st) *c = tmp;
    return st;
}
