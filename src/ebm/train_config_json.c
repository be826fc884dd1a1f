/* The training configuration as JSON: config.json of a run directory is written from,
 * and read back into, a jp_train_config through one table of its fields, so that
 * `jempp train --resume DIR` continues with the run's own configuration. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../io/atomic_file.h"
#include "../io/json.h"
#include "jempp/train.h"

typedef enum { F_INT, F_FLOAT, F_I64, F_U64, F_STR, F_CHOICE, F_INTLIST } field_type;

typedef struct {
    const char *name;
    field_type type;
    size_t offset;
    size_t size;         /* F_STR: buffer size; F_INTLIST: max entries */
    const char *choices; /* F_CHOICE: words by enum value, '|'-separated */
    size_t count_offset; /* F_INTLIST: offset of the int that holds the count */
} field;

#define FIELD(n, t, member) {n, t, offsetof(jp_train_config, member), 0, NULL, 0}
#define STR(n, member) {n, F_STR, offsetof(jp_train_config, member), sizeof(((jp_train_config *)0)->member), NULL, 0}
#define CHOICE(n, member, words) {n, F_CHOICE, offsetof(jp_train_config, member), 0, words, 0}

/* Every field that decides what a run computes; save_dir, resume and quiet are not part
 * of a run's identity: left out (the testing aids of ebm/train_hooks.h are not in the
 * configuration at all). */
static const field fields[] = {
    STR("dataset", dataset),
    STR("data_root", data_root),
    STR("load_path", load_path),
    FIELD("n_valid", F_INT, n_valid),
    FIELD("labels_per_class", F_INT, labels_per_class),
    FIELD("flip", F_INT, flip),
    FIELD("pad", F_INT, pad),
    FIELD("sigma", F_FLOAT, sigma),
    FIELD("depth", F_INT, depth),
    FIELD("width", F_INT, width),
    CHOICE("norm", norm, "none|batch"),
    FIELD("dropout_rate", F_FLOAT, dropout_rate),
    FIELD("winograd", F_INT, winograd),
    FIELD("vector_width", F_INT, kernels.vector_width),
    CHOICE("conv_impl", kernels.conv, JP_CONV_IMPL_WORDS),
    CHOICE("bn_impl", kernels.bnact, JP_BNACT_IMPL_WORDS),
    FIELD("uncond", F_INT, uncond),
    FIELD("p_x_weight", F_FLOAT, p_x_weight),
    FIELD("p_y_given_x_weight", F_FLOAT, p_y_given_x_weight),
    FIELD("p_x_y_weight", F_FLOAT, p_x_y_weight),
    FIELD("clf_only", F_INT, clf_only),
    FIELD("softmax_only", F_INT, softmax_only),
    FIELD("class_cond_p_x_sample", F_INT, class_cond_p_x_sample),
    CHOICE("sampler", sampler.kind, "pyld|sgld|proximal"),
    FIELD("n_steps", F_INT, sampler.n_steps),
    FIELD("in_steps", F_INT, sampler.in_steps),
    FIELD("pyld_lr", F_FLOAT, sampler.pyld_lr),
    FIELD("eps", F_FLOAT, sampler.eps),
    FIELD("sgld_lr", F_FLOAT, sampler.sgld_lr),
    FIELD("sgld_std", F_FLOAT, sampler.sgld_std),
    FIELD("sample_train_mode", F_INT, sampler.train_mode),
    FIELD("sample_clamp", F_INT, sampler.clamp),
    CHOICE("init", init, "uniform|informative"),
    FIELD("buffer_size", F_INT, buffer_size),
    FIELD("reinit_freq", F_FLOAT, reinit_freq),
    CHOICE("optimizer", optimizer, "sgd|adam"),
    FIELD("lr", F_FLOAT, lr),
    FIELD("momentum", F_FLOAT, momentum),
    FIELD("weight_decay", F_FLOAT, weight_decay),
    FIELD("warmup_iters", F_INT, warmup_iters),
    {"decay_epochs", F_INTLIST, offsetof(jp_train_config, decay_epochs), 16, NULL, offsetof(jp_train_config, n_decay)},
    FIELD("decay_rate", F_FLOAT, decay_rate),
    CHOICE("lr_schedule", lr_schedule, "step|cosine"),
    FIELD("final_lr", F_FLOAT, final_lr),
    FIELD("cosine_iters", F_I64, cosine_iters),
    FIELD("n_epochs", F_INT, n_epochs),
    FIELD("batch_size", F_INT, batch_size),
    FIELD("max_iters", F_I64, max_iters),
    FIELD("seed", F_U64, seed),
    FIELD("ckpt_every", F_INT, ckpt_every),
    FIELD("save_every", F_INT, save_every),
    FIELD("eval_every", F_INT, eval_every),
    FIELD("print_every", F_INT, print_every),
    FIELD("n_sample_grid", F_INT, n_sample_grid),
    FIELD("diverge_loss", F_FLOAT, diverge_loss),
    FIELD("diverge_energy", F_FLOAT, diverge_energy),
    FIELD("diverge_range", F_FLOAT, diverge_range),
    FIELD("diverge_gap", F_FLOAT, diverge_gap),
    FIELD("max_recoveries", F_INT, max_recoveries),
    FIELD("gap_max_steps", F_INT, gap_max_steps),
};
#define N_FIELDS (int)(sizeof fields / sizeof *fields)

/* config.json's own version, and what older files meant:
 *  2: under PYLD, sgld_lr and sgld_std mean what they mean in the authors' sample_q (an
 *     extra clamped step before, noise after each outer step's inner loop). A file
 *     without it (version 1) comes from before, when PYLD ignored sgld_lr (written as
 *     1): such a run resumes with sgld_lr 0, as it ran.
 *  3: clf_only is the reference's (only class_output is optimised); before, it meant
 *     what softmax_only means now (a plain softmax classifier), and reads so. */
#define CONFIG_VERSION 3

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

jp_status jp_train_config_write_json(const jp_train_config *c, const int image_shape[3], int n_classes,
                                     const char *path, jp_error *err)
{
    jp_jw w;
    jp_jw_init(&w, 1);
    jp_jw_begin_object(&w);
    jp_jw_key(&w, "config_version");
    jp_jw_int(&w, CONFIG_VERSION);
    const char *base = (const char *)c;
    for (int i = 0; i < N_FIELDS; i++) {
        const field *f = &fields[i];
        const void *p = base + f->offset;
        jp_jw_key(&w, f->name);
        switch (f->type) {
        case F_INT: jp_jw_int(&w, *(const int *)p); break;
        case F_FLOAT: jp_jw_float(&w, *(const float *)p); break;
        case F_I64: jp_jw_int(&w, *(const int64_t *)p); break;
        case F_U64: jp_jw_uint(&w, *(const uint64_t *)p); break;
        case F_STR: jp_jw_string(&w, (const char *)p); break;
        case F_CHOICE: {
            char word[32];
            if (choice_word(f->choices, *(const int *)p, word, sizeof word))
                jp_jw_string(&w, word);
            else
                jp_jw_int(&w, *(const int *)p);
            break;
        }
        case F_INTLIST: {
            int n = *(const int *)(base + f->count_offset);
            jp_jw_begin_array(&w);
            for (int k = 0; k < n; k++) jp_jw_int(&w, ((const int *)p)[k]);
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
    if (!st) st = jp_write_file_atomic(path, w.buf, w.len, err);
    jp_jw_free(&w);
    return st;
}

static jp_status read_field(const field *f, const jp_json *v, char *base, const char *path, jp_error *err)
{
    void *p = base + f->offset;
    int64_t i = 0;
    switch (f->type) {
    case F_INT:
        if (!jp_json_int64(v, &i) || i < -2147483647 - 1 || i > 2147483647)
            return jp_fail(err, JP_ERR_FORMAT, "%s: \"%s\" must be an integer", path, f->name);
        *(int *)p = (int)i;
        return JP_OK;
    case F_I64:
        if (!jp_json_int64(v, &i)) return jp_fail(err, JP_ERR_FORMAT, "%s: \"%s\" must be an integer", path, f->name);
        *(int64_t *)p = i;
        return JP_OK;
    case F_U64: {
        char *end = NULL;
        errno = 0;
        unsigned long long u = v->type == JP_JSON_NUMBER ? strtoull(v->str, &end, 10) : 0;
        if (v->type != JP_JSON_NUMBER || errno || !end || end != v->str + v->len || v->str[0] == '-')
            return jp_fail(err, JP_ERR_FORMAT, "%s: \"%s\" must be a non-negative integer", path, f->name);
        *(uint64_t *)p = (uint64_t)u;
        return JP_OK;
    }
    case F_FLOAT:
        if (v->type != JP_JSON_NUMBER) return jp_fail(err, JP_ERR_FORMAT, "%s: \"%s\" must be a number", path, f->name);
        *(float *)p = (float)v->number;
        return JP_OK;
    case F_STR:
        if (v->type != JP_JSON_STRING || v->len + 1 > f->size || strlen(v->str) != v->len)
            return jp_fail(err, JP_ERR_FORMAT, "%s: \"%s\" must be a string of at most %zu bytes", path, f->name,
                           f->size - 1);
        memcpy(p, v->str, v->len + 1);
        return JP_OK;
    case F_CHOICE: {
        char word[32];
        for (int k = 0; v->type == JP_JSON_STRING && choice_word(f->choices, k, word, sizeof word); k++)
            if (!strcmp(word, v->str)) {
                *(int *)p = k;
                return JP_OK;
            }
        return jp_fail(err, JP_ERR_FORMAT, "%s: \"%s\" must be one of %s", path, f->name, f->choices);
    }
    case F_INTLIST: {
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
    for (const jp_json *m = st ? NULL : doc.root->child; m && !st; m = m->next) {
        if (!strcmp(m->key, "config_version")) {
            if (!jp_json_int64(m, &version) || version < 1 || version > CONFIG_VERSION)
                st = jp_fail(err, JP_ERR_FORMAT, "%s: \"config_version\" must be 1..%d (a newer jempp wrote it?)",
                             path, CONFIG_VERSION);
            continue;
        }
        const field *f = NULL;
        for (int i = 0; i < N_FIELDS && !f; i++)
            if (!strcmp(fields[i].name, m->key)) f = &fields[i];
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
