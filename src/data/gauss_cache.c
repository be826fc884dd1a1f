/* The Gaussian statistics cache: a safetensors file with mean (K, D), chol (K, D, D),
 * prior (K) and count (K), and metadata jempp_kind = "gauss_stats", data_hash (16 hex
 * digits of jp_dataset_hash of the training images), eps and shape "c,h,w". A cache
 * is used only when its hash equals the data's, and is checked (finite, positive
 * diagonal, zero upper triangle) before it is trusted. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/gauss_internal.h"
#include "data/readers.h"
#include "jempp/safetensors.h"

#define KIND "gauss_stats"

jp_status jp_gauss_stats_save(const jp_gauss_stats *s, const char *path, jp_error *err)
{
    int64_t K = s->n_classes, D = s->dim;
    int64_t sh_mean[2] = {K, D}, sh_chol[3] = {K, D, D}, sh_k[1] = {K};
    char hash[32], eps[32], shape[64], ncls[16];
    snprintf(hash, sizeof hash, "%016" PRIx64, s->data_hash);
    snprintf(eps, sizeof eps, "%.9g", (double)s->eps);
    snprintf(shape, sizeof shape, "%d,%d,%d", s->c, s->h, s->w);
    snprintf(ncls, sizeof ncls, "%d", s->n_classes);
    jp_st_writer w;
    jp_st_writer_init(&w);
    jp_st_writer_add(&w, "mean", JP_F32, 2, sh_mean, s->mean);
    jp_st_writer_add(&w, "chol", JP_F32, 3, sh_chol, s->chol);
    jp_st_writer_add(&w, "prior", JP_F32, 1, sh_k, s->prior);
    jp_st_writer_add(&w, "count", JP_I64, 1, sh_k, s->count);
    jp_st_writer_meta(&w, "jempp_kind", KIND);
    jp_st_writer_meta(&w, "data_hash", hash);
    jp_st_writer_meta(&w, "eps", eps);
    jp_st_writer_meta(&w, "shape", shape);
    jp_st_writer_meta(&w, "n_classes", ncls);
    jp_status st = jp_st_writer_save(&w, path, err);
    jp_st_writer_free(&w);
    return st;
}

/* Every value finite, L's diagonal > 0 and its upper triangle 0, priors in [0, 1]. */
static jp_status check_values(const jp_gauss_stats *s, const char *path, jp_error *err)
{
    size_t d = (size_t)s->dim;
    for (int k = 0; k < s->n_classes; k++) {
        if (!(s->prior[k] >= 0 && s->prior[k] <= 1) || s->count[k] < 0)
            return jp_fail(err, JP_ERR_FORMAT, "%s: class %d has prior %g and count %lld", path,
                           k, (double)s->prior[k], (long long)s->count[k]);
        const float *L = s->chol + (size_t)k * d * d, *mu = s->mean + (size_t)k * d;
        for (size_t i = 0; i < d; i++) {
            if (!isfinite(mu[i]))
                return jp_fail(err, JP_ERR_FORMAT, "%s: mean[%d][%zu] is not finite", path, k, i);
            if (!(L[i * d + i] > 0) || !isfinite(L[i * d + i]))
                return jp_fail(err, JP_ERR_FORMAT, "%s: chol[%d] diagonal %zu is %g, expected a "
                               "positive number", path, k, i, (double)L[i * d + i]);
            for (size_t j = 0; j < d; j++) {
                float v = L[i * d + j];
                if (!isfinite(v) || (j > i && v != 0))
                    return jp_fail(err, JP_ERR_FORMAT, "%s: chol[%d][%zu][%zu] = %g: expected a "
                                   "finite lower-triangular factor", path, k, i, j, (double)v);
            }
        }
    }
    return JP_OK;
}

jp_status jp_gauss_stats_load(jp_gauss_stats *s, const char *path, uint64_t expect_hash,
                              jp_error *err)
{
    memset(s, 0, sizeof *s);
    jp_st_file f;
    jp_status st = jp_st_read(&f, path, err);
    if (st != JP_OK) return st;
    const char *kind = jp_st_meta(&f, "jempp_kind"), *hash = jp_st_meta(&f, "data_hash");
    const char *shape = jp_st_meta(&f, "shape"), *eps = jp_st_meta(&f, "eps");
    const jp_st_entry *em = jp_st_find(&f, "mean");
    int c = 0, h = 0, w = 0;
    uint64_t file_hash = 0;
    if (!kind || strcmp(kind, KIND) != 0 || !hash || !shape || !eps || !em || em->ndim != 2) {
        st = jp_fail(err, JP_ERR_FORMAT, "%s: not a jempp Gaussian statistics file (metadata "
                     "jempp_kind=%s, expected %s, with data_hash, shape, eps and a 2-D mean)",
                     path, kind ? kind : "(none)", KIND);
        goto done;
    }
    if (sscanf(shape, "%d,%d,%d", &c, &h, &w) != 3 || c < 1 || h < 1 || w < 1 ||
        (int64_t)c * h * w != em->shape[1] || em->shape[0] < 1 || em->shape[0] > 100000) {
        st = jp_fail(err, JP_ERR_FORMAT, "%s: shape metadata '%s' does not match the mean's "
                     "shape (%lld, %lld)", path, shape, (long long)em->shape[0],
                     (long long)em->shape[1]);
        goto done;
    }
    file_hash = strtoull(hash, NULL, 16);
    if (expect_hash != 0 && file_hash != expect_hash) {
        st = jp_fail(err, JP_ERR_FORMAT, "%s: computed from other data (hash %016" PRIx64 ", "
                     "expected %016" PRIx64 ")", path, file_hash, expect_hash);
        goto done;
    }
    int K = (int)em->shape[0];
    st = jp_gauss_stats_alloc(s, K, c, h, w, 0, err);
    if (st != JP_OK) goto done;
    s->eps = strtof(eps, NULL);
    s->data_hash = file_hash;
    int64_t D = s->dim, sh_mean[2] = {K, D}, sh_chol[3] = {K, D, D}, sh_k[1] = {K};
    st = jp_st_get(&f, "mean", JP_F32, 2, sh_mean, s->mean, err);
    if (st == JP_OK) st = jp_st_get(&f, "chol", JP_F32, 3, sh_chol, s->chol, err);
    if (st == JP_OK) st = jp_st_get(&f, "prior", JP_F32, 1, sh_k, s->prior, err);
    if (st == JP_OK) st = jp_st_get(&f, "count", JP_I64, 1, sh_k, s->count, err);
    if (st == JP_OK) st = check_values(s, path, err);
done:
    jp_st_close(&f);
    if (st != JP_OK) jp_gauss_stats_free(s);
    return st;
}

jp_status jp_gauss_stats_load_or_compute(jp_gauss_stats *s, const jp_dataset *ds,
                                         const char *cache_path, jp_error *err)
{
    char note[sizeof s->cache_note] = "";
    uint64_t hash = jp_dataset_hash(ds);
    if (cache_path && jp_file_exists(cache_path)) {
        jp_error e2 = {0};
        if (jp_gauss_stats_load(s, cache_path, hash, &e2) == JP_OK) {
            if (s->n_classes == ds->n_classes && s->c == ds->c && s->h == ds->h &&
                s->w == ds->w) {
                s->from_cache = 1;
                s->cache_note[0] = 0;
                return JP_OK;
            }
            jp_gauss_stats_free(s);
            snprintf(note, sizeof note, "cache %s has other shapes; recomputed", cache_path);
        } else {
            snprintf(note, sizeof note, "cache not used (%.500s); recomputed", e2.msg);
        }
    } else if (cache_path) {
        snprintf(note, sizeof note, "no cache at %s yet; computed", cache_path);
    }
    jp_status st = jp_gauss_stats_compute_hashed(s, ds, 0, hash, err);
    if (st != JP_OK) return st;
    s->from_cache = 0;
    if (cache_path) {
        jp_error e3 = {0};
        if (jp_gauss_stats_save(s, cache_path, &e3) != JP_OK) {
            size_t at = strlen(note);
            snprintf(note + at, sizeof note - at, "; could not write the cache: %.400s", e3.msg);
        } else {
            size_t at = strlen(note);
            snprintf(note + at, sizeof note - at, " and saved");
        }
    }
    snprintf(s->cache_note, sizeof s->cache_note, "%s", note);
    return JP_OK;
}

const char *jp_gauss_stats_cache_path(char *buf, size_t len, const jp_data *d,
                                      const jp_dataset *ds)
{
    char dir[1024];
    /* next to the data, unless that is a system folder (a Debian package's files under
     * /usr belong to dpkg, even when root could write there) */
    int system_dir = d && (strncmp(d->root, "/usr/", 5) == 0 || strncmp(d->root, "/opt/", 5) == 0);
    if (d && d->root[0] && !system_dir && access(d->root, W_OK) == 0) {
        snprintf(dir, sizeof dir, "%s", d->root);
    } else {
        const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
        if (xdg && xdg[0]) snprintf(dir, sizeof dir, "%s/jempp", xdg);
        else if (home && home[0]) snprintf(dir, sizeof dir, "%s/.cache/jempp", home);
        else snprintf(dir, sizeof dir, "/tmp/jempp-cache");
        jp_error ignored; /* if it cannot be made, the cache is not written: said then */
        (void)jp_mkdirs(dir, &ignored);
    }
    char name[JP_DATA_NAME_MAX];
    snprintf(name, sizeof name, "%s", ds->name[0] ? ds->name : "data");
    for (char *p = name; *p; p++)
        if (*p == '/' || *p == ' ') *p = '-';
    snprintf(buf, len, "%s/%s-gauss-%016" PRIx64 ".safetensors", dir, name, jp_dataset_hash(ds));
    return buf;
}
