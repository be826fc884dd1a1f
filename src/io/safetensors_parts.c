/* A safetensors file written in parts of a bounded size (jp_st_writer_save_parts) and
 * read back as one (jp_st_read, through jp_st_join_parts).
 *
 * The parts of a save of FOLDER/NAME.safetensors are FOLDER/NAME.ID.part-K-of-N.safetensors,
 * each a valid safetensors file: whole tensors, and pieces of the tensors that do not fit
 * (consecutive rows of the first dimension, metadata "jempp.rows.TENSOR" = the first row),
 * with "jempp.parts_id" = ID and "jempp.part" = "K of N". NAME.safetensors itself holds no
 * tensors: the writer's metadata, "jempp.parts" = N, "jempp.parts_id" = ID and
 * "jempp.part.K" = each part's file name. The parts are written first, then the main file
 * (atomically, as every file), then the parts of earlier saves are removed: a save that is
 * interrupted leaves the previous one whole. ID is new at every save. Metadata keys
 * beginning "jempp.part" are the parts' own: a joined file has none. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io/safetensors_internal.h"
#include "jempp/safetensors.h"

/* FOLDER/NAME.safetensors -> FOLDER (or "."), NAME */
static void split_path(const char *path, char *dir, size_t dlen, char *stem, size_t slen)
{
    const char *slash = strrchr(path, '/');
    if (slash) snprintf(dir, dlen, "%.*s", (int)(slash - path), path);
    else snprintf(dir, dlen, ".");
    const char *base = slash ? slash + 1 : path;
    size_t n = strlen(base);
    if (n > 12 && !strcmp(base + n - 12, ".safetensors")) n -= 12;
    snprintf(stem, slen, "%.*s", (int)n, base);
}

/* Whether file name `name` is a part of a save of `stem` ("STEM.ID.part-K-of-N.safetensors"),
 * with its ID into id (17 bytes). */
static int part_of(const char *name, const char *stem, char *id)
{
    size_t s = strlen(stem);
    if (strncmp(name, stem, s) != 0 || name[s] != '.') return 0;
    const char *p = name + s + 1;
    int k, n, used = 0;
    if (strlen(p) < 17 || sscanf(p + 16, ".part-%d-of-%d.safetensors%n", &k, &n, &used) != 2 || p[16 + used] != 0)
        return 0;
    snprintf(id, 17, "%.16s", p);
    return 1;
}

/* Bytes a part's header may take beyond its tensors: per tensor its entry and its rows
 * key, and the metadata. */
static size_t header_allowance(const jp_st_writer *w)
{
    size_t a = 512;
    for (int i = 0; i < w->count; i++) a += 2 * strlen(w->entries[i].name) + 160;
    for (int i = 0; i < w->meta_count; i++) a += strlen(w->meta_keys[i]) + strlen(w->meta_vals[i]) + 16;
    return (a + 7) / 8 * 8;
}

/* The bytes of one row (the first dimension) of entry e; its whole size for a scalar. */
static size_t row_bytes(const jp_st_entry *e)
{
    if (e->ndim == 0 || e->shape[0] == 0) return e->end;
    return e->end / (size_t)e->shape[0];
}

/* Removes the parts of stem's saves whose id is `id` (same 1) or any other (same 0). */
static void remove_parts(const char *dir, const char *stem, const char *id, int same)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    char got[17], path[1200];
    while ((de = readdir(d)))
        if (part_of(de->d_name, stem, got) && (strcmp(got, id) == 0) == same) {
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            unlink(path);
        }
    closedir(d);
}

jp_status jp_st_writer_save_parts(const jp_st_writer *w, const char *path, size_t max_bytes, jp_error *err)
{
    char dir[600], stem[300];
    split_path(path, dir, sizeof dir, stem, sizeof stem);
    size_t allowance = header_allowance(w), total = 0;
    for (int i = 0; i < w->count; i++) total += w->entries[i].end;
    if (!max_bytes || total + allowance <= max_bytes) {
        jp_status st = jp_st_writer_save(w, path, err);
        if (!st) remove_parts(dir, stem, "", 0); /* an earlier save's parts */
        return st;
    }
    if (max_bytes <= allowance)
        return jp_fail(err, JP_ERR_ARG, "cannot save %s in parts of %zu bytes: a part's header alone may take %zu",
                       path, max_bytes, allowance);
    const size_t room = max_bytes - allowance;
    for (int i = 0; i < w->count; i++)
        if (row_bytes(&w->entries[i]) > room)
            return jp_fail(err, JP_ERR_ARG, "cannot save %s in parts of %zu bytes: one row of tensor %s takes %zu",
                           path, max_bytes, w->entries[i].name, row_bytes(&w->entries[i]));
    /* the parts: tensors in order, split by rows where the room left ends */
    int cap = (int)(total / room) + w->count + 2, n = 1;
    jp_st_writer *parts = calloc((size_t)cap, sizeof *parts);
    if (!parts) return jp_fail(err, JP_ERR_NOMEM, "cannot save %s: out of memory", path);
    jp_st_writer_init(&parts[0]);
    size_t left = room;
    for (int i = 0; i < w->count; i++) {
        const jp_st_entry *e = &w->entries[i];
        if (e->end <= left) { /* whole, here */
            jp_st_writer_add(&parts[n - 1], e->name, e->dtype, e->ndim, e->shape, w->ptrs[i]);
            left -= e->end;
            continue;
        }
        size_t rb = row_bytes(e);
        int64_t rows = e->ndim == 0 ? 1 : e->shape[0], r0 = 0;
        while (r0 < rows) {
            int64_t fit = (int64_t)(left / rb);
            if (fit == 0) { /* the next part */
                JP_CHECK(n < cap);
                jp_st_writer_init(&parts[n++]);
                left = room;
                continue;
            }
            int64_t take = rows - r0 < fit ? rows - r0 : fit;
            jp_st_writer *p = &parts[n - 1];
            if (take == rows) {
                jp_st_writer_add(p, e->name, e->dtype, e->ndim, e->shape, w->ptrs[i]);
            } else {
                int64_t shape[JP_ST_MAX_DIMS];
                memcpy(shape, e->shape, sizeof shape);
                shape[0] = take;
                jp_st_writer_add(p, e->name, e->dtype, e->ndim, shape,
                                 (const unsigned char *)w->ptrs[i] + (size_t)r0 * rb);
                char key[JP_ST_MAX_NAME + 16], val[32];
                snprintf(key, sizeof key, "jempp.rows.%s", e->name);
                snprintf(val, sizeof val, "%" PRId64, r0);
                jp_st_writer_meta(p, key, val);
            }
            left -= (size_t)take * rb;
            r0 += take;
        }
    }
    /* a new id: the clock, the process and the parts' own address */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t h = (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 40) ^
                 (uint64_t)(uintptr_t)parts;
    h ^= h >> 31, h *= 0x9E3779B97F4A7C15ull, h ^= h >> 29;
    char id[17], name[700], file[1400], val[64];
    snprintf(id, sizeof id, "%016" PRIx64, h);
    jp_st_writer main;
    jp_st_writer_init(&main);
    for (int i = 0; i < w->meta_count; i++) jp_st_writer_meta(&main, w->meta_keys[i], w->meta_vals[i]);
    snprintf(val, sizeof val, "%d", n);
    jp_st_writer_meta(&main, "jempp.parts", val);
    jp_st_writer_meta(&main, "jempp.parts_id", id);
    jp_status st = JP_OK;
    for (int k = 0; k < n && !st; k++) {
        snprintf(name, sizeof name, "%s.%s.part-%d-of-%d.safetensors", stem, id, k + 1, n);
        snprintf(file, sizeof file, "%s/%s", dir, name);
        snprintf(val, sizeof val, "%d of %d", k + 1, n);
        jp_st_writer_meta(&parts[k], "jempp.parts_id", id);
        jp_st_writer_meta(&parts[k], "jempp.part", val);
        st = jp_st_writer_save(&parts[k], file, err);
        char key[32];
        snprintf(key, sizeof key, "jempp.part.%d", k + 1);
        jp_st_writer_meta(&main, key, name);
    }
    if (!st) st = jp_st_writer_save(&main, path, err);
    /* saved: the earlier saves' parts go; failed: this one's, and the earlier save stays whole */
    remove_parts(dir, stem, id, st != JP_OK);
    for (int k = 0; k < n; k++) jp_st_writer_free(&parts[k]);
    free(parts);
    jp_st_writer_free(&main);
    return st;
}

/* ---- reading: the parts joined into the main file's jp_st_file ------------------ */

typedef struct {
    const jp_st_file *part;
    const jp_st_entry *e;
    int64_t row0;
} piece;

static int cmp_piece(const void *a, const void *b)
{
    const piece *x = a, *y = b;
    int c = strcmp(x->e->name, y->e->name);
    return c ? c : (x->row0 > y->row0) - (x->row0 < y->row0);
}

/* f holds the main file; on return its tensors are those of the parts, joined. */
jp_status jp_st_join_parts(jp_st_file *f, jp_error *err)
{
    const char *np = jp_st_meta(f, "jempp.parts"), *id = jp_st_meta(f, "jempp.parts_id");
    int n = np ? atoi(np) : 0;
    if (n < 1 || n > 100000 || !id || f->count)
        return jp_fail(err, JP_ERR_FORMAT, "safetensors file %s: its parts are not described (jempp.parts %s, "
                       "jempp.parts_id %s, %d tensors of its own)", f->path, np ? np : "missing", id ? id : "missing",
                       f->count);
    char dir[600], stem[300], key[32], path[1400];
    split_path(f->path, dir, sizeof dir, stem, sizeof stem);
    jp_st_file *parts = calloc((size_t)n, sizeof *parts);
    if (!parts) return jp_fail(err, JP_ERR_NOMEM, "%s: out of memory for %d parts", f->path, n);
    jp_status st = JP_OK;
    size_t npieces = 0;
    for (int k = 0; k < n && !st; k++) {
        snprintf(key, sizeof key, "jempp.part.%d", k + 1);
        const char *name = jp_st_meta(f, key);
        if (!name || strchr(name, '/')) {
            st = jp_fail(err, JP_ERR_FORMAT, "safetensors file %s: part %d of %d has no file name", f->path, k + 1, n);
            break;
        }
        snprintf(path, sizeof path, "%s/%s", dir, name);
        if ((st = jp_st_read_one(&parts[k], path, err))) {
            char why[sizeof err->msg];
            snprintf(why, sizeof why, "%s", err->msg);
            st = jp_fail(err, st, "%s is in %d parts and part %d is unreadable: %s", f->path, n, k + 1, why);
            break;
        }
        char want[32];
        snprintf(want, sizeof want, "%d of %d", k + 1, n);
        const char *pid = jp_st_meta(&parts[k], "jempp.parts_id"), *which = jp_st_meta(&parts[k], "jempp.part");
        if (!pid || strcmp(pid, id) || !which || strcmp(which, want))
            st = jp_fail(err, JP_ERR_FORMAT, "%s: part %s is not part %s of this save of %s (id %s, part %s)", path,
                         name, want, f->path, pid ? pid : "missing", which ? which : "missing");
        npieces += (size_t)parts[k].count;
    }
    piece *pc = st ? NULL : calloc(npieces ? npieces : 1, sizeof *pc);
    if (!st && !pc) st = jp_fail(err, JP_ERR_NOMEM, "%s: out of memory", f->path);
    size_t m = 0;
    for (int k = 0; k < n && !st; k++)
        for (int i = 0; i < parts[k].count; i++) {
            const jp_st_entry *e = &parts[k].entries[i];
            char rk[JP_ST_MAX_NAME + 16];
            snprintf(rk, sizeof rk, "jempp.rows.%s", e->name);
            const char *r = jp_st_meta(&parts[k], rk);
            pc[m++] = (piece){&parts[k], e, r ? strtoll(r, NULL, 10) : 0};
        }
    if (!st) qsort(pc, m, sizeof *pc, cmp_piece);
    /* each tensor: its pieces' rows from 0 on without gaps, the same dtype and row shape */
    size_t total = 0, ntensors = 0;
    for (size_t i = 0; i < m && !st; i++) {
        const jp_st_entry *e = pc[i].e;
        int first = i == 0 || strcmp(pc[i - 1].e->name, e->name) != 0;
        int64_t expect = first ? 0 : pc[i - 1].row0 + pc[i - 1].e->shape[0];
        int same = first || (e->dtype == pc[i - 1].e->dtype && e->ndim == pc[i - 1].e->ndim && e->ndim > 0 &&
                             !memcmp(e->shape + 1, pc[i - 1].e->shape + 1, (size_t)(e->ndim - 1) * sizeof(int64_t)));
        if (pc[i].row0 != expect || !same)
            st = jp_fail(err, JP_ERR_FORMAT, "%s: tensor %s: the piece in %s (rows from %" PRId64 ") does not continue "
                         "the one before (rows up to %" PRId64 ", the same dtype and row shape)", f->path, e->name,
                         pc[i].part->path, pc[i].row0, expect);
        total += e->end - e->begin;
        ntensors += first;
    }
    unsigned char *data = st ? NULL : malloc(total ? total : 1);
    jp_st_entry *entries = st ? NULL : calloc(ntensors ? ntensors : 1, sizeof *entries);
    if (!st && (!data || !entries)) st = jp_fail(err, JP_ERR_NOMEM, "%s: out of memory joining %zu bytes", f->path, total);
    size_t off = 0;
    int t = -1;
    for (size_t i = 0; i < m && !st; i++) {
        const jp_st_entry *e = pc[i].e;
        if (i == 0 || strcmp(pc[i - 1].e->name, e->name) != 0) {
            entries[++t] = *e;
            entries[t].begin = entries[t].end = off;
            if (e->ndim > 0) entries[t].shape[0] = 0;
        }
        size_t bytes = e->end - e->begin;
        memcpy(data + off, jp_st_data(pc[i].part, e), bytes);
        off += bytes;
        entries[t].end = off;
        if (e->ndim > 0) entries[t].shape[0] += e->shape[0];
    }
    if (!st) {
        /* the file as saved: the keys of the parts go */
        int keep = 0;
        for (int i = 0; i < f->meta_count; i++) {
            if (!strncmp(f->meta_keys[i], "jempp.part", 10)) {
                free(f->meta_keys[i]);
                free(f->meta_vals[i]);
                continue;
            }
            f->meta_keys[keep] = f->meta_keys[i];
            f->meta_vals[keep++] = f->meta_vals[i];
        }
        f->meta_count = keep;
        free(f->entries);
        free(f->storage);
        f->entries = entries;
        f->count = (int)ntensors;
        f->storage = data;
        f->data = data;
        f->data_size = total;
    } else {
        free(data);
        free(entries);
    }
    free(pc);
    for (int k = 0; k < n; k++) jp_st_close(&parts[k]);
    free(parts);
    return st;
}
