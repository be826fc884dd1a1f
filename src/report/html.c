/* Text building for the report: a growing buffer, HTML escaping, base64 and the
 * number formats the page uses. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_internal.h"

void rp_buf_free(rp_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* Room for n more bytes plus the NUL; doubles so appends are amortised O(1). */
static int reserve(rp_buf *b, size_t n)
{
    if (b->nomem) return 0;
    if (b->len + n + 1 <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n + 1) {
        if (cap > ((size_t)-1) / 2) {
            b->nomem = 1;
            return 0;
        }
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p) {
        b->nomem = 1;
        return 0;
    }
    b->p = p;
    b->cap = cap;
    return 1;
}

void rp_putn(rp_buf *b, const char *s, size_t n)
{
    if (!reserve(b, n)) return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void rp_put(rp_buf *b, const char *s) { rp_putn(b, s, strlen(s)); }

static void vput(rp_buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0 || !reserve(b, (size_t)n)) return;
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void rp_printf(rp_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vput(b, fmt, ap);
    va_end(ap);
}

void rp_escn(rp_buf *b, const char *s, size_t n)
{
    size_t run = 0; /* bytes copied as they are, flushed in one piece */
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        const char *rep = NULL;
        switch (ch) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default:
            /* a stray control byte (or a NUL inside a JSON string) has no business in a page */
            if ((ch < 0x20 && ch != '\t' && ch != '\n') || ch == 0x7f) rep = "?";
        }
        if (!rep) continue;
        rp_putn(b, s + run, i - run);
        rp_put(b, rep);
        run = i + 1;
    }
    rp_putn(b, s + run, n - run);
}

void rp_esc(rp_buf *b, const char *s) { rp_escn(b, s, strlen(s)); }

void rp_escf(rp_buf *b, const char *fmt, ...)
{
    rp_buf tmp = {0};
    va_list ap;
    va_start(ap, fmt);
    vput(&tmp, fmt, ap);
    va_end(ap);
    if (tmp.nomem) b->nomem = 1;
    else if (tmp.p) rp_escn(b, tmp.p, tmp.len);
    rp_buf_free(&tmp);
}

void rp_base64(rp_buf *b, const unsigned char *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (!reserve(b, (n + 2) / 3 * 4)) return;
    char *o = b->p + b->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = tab[(v >> 6) & 63];
        *o++ = tab[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0);
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    b->len = (size_t)(o - b->p);
    b->p[b->len] = '\0';
}

const char *rp_fmt(char *buf, size_t len, const char *fmt, double v)
{
    if (!isfinite(v)) snprintf(buf, len, "n/a");
    else snprintf(buf, len, fmt, v);
    return buf;
}

const char *rp_pct(char *buf, size_t len, double fraction)
{
    if (!isfinite(fraction)) snprintf(buf, len, "n/a");
    else snprintf(buf, len, "%.2f%%", 100.0 * fraction);
    return buf;
}

const char *rp_duration(char *buf, size_t len, double s)
{
    if (!isfinite(s) || s < 0) {
        snprintf(buf, len, "n/a");
        return buf;
    }
    long long t = (long long)llround(s);
    if (t < 60) snprintf(buf, len, "%.1f s", s);
    else if (t < 3600) snprintf(buf, len, "%.1f s (%lld min %lld s)", s, t / 60, t % 60);
    else snprintf(buf, len, "%.1f s (%lld h %lld min)", s, t / 3600, t % 3600 / 60);
    return buf;
}

const char *rp_bytes(char *buf, size_t len, double bytes)
{
    if (bytes < 1024) snprintf(buf, len, "%.0f B", bytes);
    else if (bytes < 1024.0 * 1024) snprintf(buf, len, "%.1f KB", bytes / 1024);
    else if (bytes < 1024.0 * 1024 * 1024) snprintf(buf, len, "%.1f MB", bytes / (1024.0 * 1024));
    else snprintf(buf, len, "%.2f GB", bytes / (1024.0 * 1024 * 1024));
    return buf;
}
