/* TensorBoard event files (see jempp/tfevents.h for the format): protocol buffer
 * messages encoded by hand (varints, fixed 32/64-bit fields, length-delimited fields),
 * framed as TFRecords with masked CRC-32C. */
#include "jempp/tfevents.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A growable byte buffer; kept in the writer and reused, so steady logging allocates
 * only when a record is larger than any before. */
typedef struct {
    unsigned char *p;
    size_t len, cap;
    int failed; /* an allocation failed: the record is dropped with an error */
} bytes;

struct jp_tfevents {
    FILE *f;
    char path[1024];
    bytes value, summary, event, record;
};

static void put(bytes *b, const void *src, size_t n)
{
    if (b->failed) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) cap *= 2;
        unsigned char *q = realloc(b->p, cap);
        if (!q) {
            b->failed = 1;
            return;
        }
        b->p = q, b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void put_varint(bytes *b, uint64_t v)
{
    unsigned char t[10];
    int n = 0;
    do {
        t[n] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v) t[n] |= 0x80;
        n++;
    } while (v);
    put(b, t, (size_t)n);
}

/* Protocol buffer wire types: 0 varint, 1 fixed 64-bit, 2 length-delimited, 5 fixed 32. */
static void put_key(bytes *b, int field, int wire) { put_varint(b, (uint64_t)field << 3 | (uint64_t)wire); }

static void put_le(bytes *b, uint64_t v, int n)
{
    unsigned char t[8];
    for (int i = 0; i < n; i++) t[i] = (unsigned char)(v >> (8 * i));
    put(b, t, (size_t)n);
}

static void put_double(bytes *b, int field, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    put_key(b, field, 1);
    put_le(b, u, 8);
}

static void put_float(bytes *b, int field, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    put_key(b, field, 5);
    put_le(b, u, 4);
}

static void put_int(bytes *b, int field, int64_t v)
{
    put_key(b, field, 0);
    put_varint(b, (uint64_t)v); /* int32/int64: negative values as ten-byte varints */
}

static void put_bytes(bytes *b, int field, const void *p, size_t n)
{
    put_key(b, field, 2);
    put_varint(b, n);
    put(b, p, n);
}

/* CRC-32C: reflected polynomial 0x82f63b78, bit by bit (a few hundred KB per sample grid
 * at most, so no table is kept). */
uint32_t jp_crc32c(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= s[i];
        for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    }
    return c ^ 0xffffffffu;
}

uint32_t jp_crc32c_masked(const void *p, size_t n)
{
    uint32_t c = jp_crc32c(p, n);
    return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

/* Frames w->event as a record and writes it. */
static jp_status write_record(jp_tfevents *w, jp_error *err)
{
    bytes *r = &w->record, *e = &w->event;
    if (e->failed || w->value.failed || w->summary.failed)
        return jp_fail(err, JP_ERR_NOMEM, "%s: out of memory for an event", w->path);
    r->len = 0;
    unsigned char len[8];
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)((uint64_t)e->len >> (8 * i));
    put(r, len, 8);
    put_le(r, jp_crc32c_masked(len, 8), 4);
    put(r, e->p, e->len);
    put_le(r, jp_crc32c_masked(e->p, e->len), 4);
    if (r->failed) return jp_fail(err, JP_ERR_NOMEM, "%s: out of memory for an event", w->path);
    if (fwrite(r->p, 1, r->len, w->f) != r->len)
        return jp_fail(err, JP_ERR_IO, "cannot write %s: %s", w->path, strerror(errno));
    return JP_OK;
}

static double wall_time(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Event { wall_time, step, summary = w->summary }, written. */
static jp_status write_summary_event(jp_tfevents *w, int64_t step, jp_error *err)
{
    bytes *e = &w->event;
    e->len = 0;
    put_double(e, 1, wall_time());
    put_int(e, 2, step);
    put_bytes(e, 5, w->summary.p, w->summary.len);
    return write_record(w, err);
}

jp_status jp_tfevents_open(jp_tfevents **out, const char *dir, char *path_out, size_t len, jp_error *err)
{
    *out = NULL;
    jp_tfevents *w = calloc(1, sizeof *w);
    if (!w) return jp_fail(err, JP_ERR_NOMEM, "TensorBoard writer");
    char host[128] = "localhost";
    gethostname(host, sizeof host - 1);
    int n = snprintf(w->path, sizeof w->path, "%s/events.out.tfevents.%lld.%s.%ld.jempp", dir,
                     (long long)time(NULL), host, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof w->path) {
        free(w);
        return jp_fail(err, JP_ERR_ARG, "TensorBoard event file name too long under %s", dir);
    }
    w->f = fopen(w->path, "wb");
    if (!w->f) {
        jp_status st = jp_fail(err, JP_ERR_IO, "cannot create %s: %s", w->path, strerror(errno));
        free(w);
        return st;
    }
    bytes *e = &w->event;
    put_double(e, 1, wall_time());
    put_int(e, 2, 0);
    put_bytes(e, 3, "brain.Event:2", 13);
    jp_status st = write_record(w, err);
    if (!st) st = jp_tfevents_flush(w, err);
    if (st) {
        jp_tfevents_close(w);
        return st;
    }
    if (path_out && len) snprintf(path_out, len, "%s", w->path);
    *out = w;
    return JP_OK;
}

jp_status jp_tfevents_scalars(jp_tfevents *w, int64_t step, int n, const char *const *tags, const double *values,
                              jp_error *err)
{
    w->summary.len = 0;
    for (int i = 0; i < n; i++) {
        bytes *v = &w->value;
        v->len = 0;
        put_bytes(v, 1, tags[i], strlen(tags[i]));
        put_float(v, 2, (float)values[i]);
        put_bytes(&w->summary, 1, v->p, v->len);
    }
    return write_summary_event(w, step, err);
}

jp_status jp_tfevents_png_file(jp_tfevents *w, int64_t step, const char *tag, const char *png_path, jp_error *err)
{
    FILE *f = fopen(png_path, "rb");
    if (!f) return jp_fail(err, JP_ERR_IO, "cannot read %s: %s", png_path, strerror(errno));
    bytes img = {0};
    unsigned char buf[65536];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) put(&img, buf, got);
    int rd_err = ferror(f);
    fclose(f);
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    jp_status st = JP_OK;
    if (img.failed) st = jp_fail(err, JP_ERR_NOMEM, "%s: out of memory reading it", png_path);
    else if (rd_err) st = jp_fail(err, JP_ERR_IO, "cannot read %s", png_path);
    else if (img.len < 26 || memcmp(img.p, sig, 8) || memcmp(img.p + 12, "IHDR", 4))
        st = jp_fail(err, JP_ERR_FORMAT, "%s: not a PNG file (%zu bytes)", png_path, img.len);
    if (!st) {
        /* IHDR: width and height big-endian at 16 and 20, colour type at 25 */
        const unsigned char *h = img.p + 16;
        int width = (int)((uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3]);
        int height = (int)((uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | h[7]);
        int ctype = img.p[25], channels = ctype == 0 ? 1 : ctype == 2 ? 3 : ctype == 4 ? 2 : ctype == 6 ? 4 : 1;
        bytes *iv = &w->event; /* the Image message, then moved into the Value */
        iv->len = 0;
        put_int(iv, 1, height);
        put_int(iv, 2, width);
        put_int(iv, 3, channels);
        put_bytes(iv, 4, img.p, img.len);
        bytes *v = &w->value;
        v->len = 0;
        put_bytes(v, 1, tag, strlen(tag));
        put_bytes(v, 4, iv->p, iv->len);
        w->summary.len = 0;
        put_bytes(&w->summary, 1, v->p, v->len);
        st = write_summary_event(w, step, err);
    }
    free(img.p);
    return st;
}

jp_status jp_tfevents_flush(jp_tfevents *w, jp_error *err)
{
    if (fflush(w->f)) return jp_fail(err, JP_ERR_IO, "cannot write %s: %s", w->path, strerror(errno));
    return JP_OK;
}

void jp_tfevents_close(jp_tfevents *w)
{
    if (!w) return;
    if (w->f) fclose(w->f);
    bytes *b[] = {&w->value, &w->summary, &w->event, &w->record};
    for (size_t i = 0; i < sizeof b / sizeof *b; i++) free(b[i]->p);
    free(w);
}
