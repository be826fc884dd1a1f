/* PNGs embedded in the page as base64 data: URIs. The file's bytes go in unchanged
 * (no decoding, so the picture is exactly the one on disk); only the signature and the
 * IHDR size are read, to refuse non-PNGs and to give the <img> its size. Caps on the
 * size of one image and of all of them keep the page openable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_internal.h"

static const unsigned char PNG_SIG[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

static unsigned be32(const unsigned char *p)
{
    return (unsigned)p[0] << 24 | (unsigned)p[1] << 16 | (unsigned)p[2] << 8 | p[3];
}

/* Width and height from the IHDR chunk that must follow the signature; 0 when the
 * bytes are not a PNG. */
static int png_size(const unsigned char *p, size_t n, unsigned *w, unsigned *h)
{
    if (n < 24 || memcmp(p, PNG_SIG, 8) != 0 || memcmp(p + 12, "IHDR", 4) != 0) return 0;
    *w = be32(p + 16);
    *h = be32(p + 20);
    return *w > 0 && *h > 0;
}

void rp_gallery_begin(rp_ctx *c) { rp_put(&c->body, "<div class=\"gallery\">\n"); }
void rp_gallery_end(rp_ctx *c) { rp_put(&c->body, "</div>\n"); }

/* The <figure>: the display size doubles small pixelated grids (28x28 images are
 * unreadable at 1:1) up to a width that still fits the page. */
static void emit(rp_ctx *c, const unsigned char *data, size_t n, unsigned w, unsigned h, const char *caption,
                 int flags)
{
    unsigned dw = w, dh = h;
    if ((flags & RP_IMG_PIXELATED) && w <= 450) {
        dw = 2 * w;
        dh = 2 * h;
    }
    rp_buf *b = &c->body;
    rp_printf(b, "<figure><img class=\"%s\" width=\"%u\" height=\"%u\" alt=\"",
              flags & RP_IMG_PIXELATED ? "px" : "chart", dw, dh);
    rp_esc(b, caption);
    rp_put(b, "\" src=\"data:image/png;base64,");
    rp_base64(b, data, n);
    rp_put(b, "\"><figcaption>");
    rp_esc(b, caption);
    rp_put(b, "</figcaption></figure>\n");
}

int rp_figure(rp_ctx *c, const char *dir, const char *name, const char *caption, int flags)
{
    char path[RP_PATH_MAX], sz[32], cap[32];
    rp_path(path, sizeof path, dir, name);
    size_t n = 0;
    if (!rp_is_file(path, &n)) {
        if (flags & RP_IMG_SAY_ABSENT) rp_note(c, "%s: absent", name);
        return 0;
    }
    if (n > c->o->max_image_bytes) {
        rp_note(c, "%s (%s) not embedded: larger than %s per image", name, rp_bytes(sz, sizeof sz, (double)n),
                rp_bytes(cap, sizeof cap, (double)c->o->max_image_bytes));
        return 0;
    }
    if (c->image_bytes + n > c->o->max_total_image_bytes) {
        rp_note(c, "%s (%s) not embedded: the page already holds %s of images", name,
                rp_bytes(sz, sizeof sz, (double)n), rp_bytes(cap, sizeof cap, (double)c->image_bytes));
        return 0;
    }
    char *data;
    size_t len;
    unsigned w, h;
    jp_error err = {0};
    if (rp_read_file(path, c->o->max_image_bytes, &data, &len, &err)) {
        rp_warn(c, "%s", err.msg);
        return 0;
    }
    if (!png_size((const unsigned char *)data, len, &w, &h)) {
        rp_warn(c, "%s is not a PNG file (no PNG signature and IHDR header); not embedded", path);
        free(data);
        return 0;
    }
    emit(c, (const unsigned char *)data, len, w, h, caption, flags);
    free(data);
    c->images++;
    c->image_bytes += len;
    return 1;
}
