/* The RGB canvas of include/jempp/plot.h: pixels, lines (Bresenham with a square pen,
 * Liang-Barsky clipping in double precision first, so that huge or tiny coordinates
 * cannot overflow or make a line loop run long), rectangles, 5x7 text and PNG output. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/canvas_internal.h"
#include "io/font5x7.h"
#include "jempp/png.h"

#define MAX_TEXT 10000   /* characters drawn of one string at most */
#define COORD_LIMIT 1e9  /* pixel coordinates are clamped to this before clipping */

static const jp_rgb BLACK = {0, 0, 0};

clip_rect jp_canvas_whole(const jp_canvas *c) { return (clip_rect){0, 0, c->w - 1, c->h - 1}; }

static void put(jp_canvas *c, const clip_rect *r, int x, int y, jp_rgb col)
{
    if (x < r->x0 || x > r->x1 || y < r->y0 || y > r->y1) return;
    unsigned char *p = c->rgb + ((size_t)y * (size_t)c->w + (size_t)x) * 3;
    p[0] = col.r;
    p[1] = col.g;
    p[2] = col.b;
}

/* Intersects a clip rectangle with the canvas (the result may be empty: x0 > x1). */
static clip_rect in_canvas(const jp_canvas *c, clip_rect r)
{
    if (r.x0 < 0) r.x0 = 0;
    if (r.y0 < 0) r.y0 = 0;
    if (r.x1 > c->w - 1) r.x1 = c->w - 1;
    if (r.y1 > c->h - 1) r.y1 = c->h - 1;
    return r;
}

jp_status jp_canvas_init(jp_canvas *c, int w, int h, jp_rgb background, jp_error *err)
{
    JP_CHECK(c != NULL);
    c->w = c->h = 0;
    c->rgb = NULL;
    if (w < 1 || h < 1 || w > JP_CANVAS_MAX_SIDE || h > JP_CANVAS_MAX_SIDE)
        return jp_fail(err, JP_ERR_ARG, "canvas: %d x %d pixels is outside 1..%d per side", w,
                       h, JP_CANVAS_MAX_SIDE);
    size_t n = (size_t)w * (size_t)h;
    unsigned char *p = malloc(n * 3);
    if (!p) return jp_fail(err, JP_ERR_NOMEM, "canvas: cannot allocate %d x %d pixels", w, h);
    for (size_t i = 0; i < n; i++) {
        p[i * 3] = background.r;
        p[i * 3 + 1] = background.g;
        p[i * 3 + 2] = background.b;
    }
    c->w = w;
    c->h = h;
    c->rgb = p;
    return JP_OK;
}

void jp_canvas_free(jp_canvas *c)
{
    if (!c) return;
    free(c->rgb);
    c->rgb = NULL;
    c->w = c->h = 0;
}

void jp_canvas_set(jp_canvas *c, int x, int y, jp_rgb col)
{
    clip_rect r = jp_canvas_whole(c);
    put(c, &r, x, y, col);
}

jp_rgb jp_canvas_get(const jp_canvas *c, int x, int y)
{
    if (!c->rgb || x < 0 || y < 0 || x >= c->w || y >= c->h) return BLACK;
    const unsigned char *p = c->rgb + ((size_t)y * (size_t)c->w + (size_t)x) * 3;
    return (jp_rgb){p[0], p[1], p[2]};
}

/* Liang-Barsky: clips the segment to [xmin, xmax] x [ymin, ymax]; 0 when nothing is
 * left. */
static int clip_segment(double *x0, double *y0, double *x1, double *y1, double xmin,
                        double ymin, double xmax, double ymax)
{
    double dx = *x1 - *x0, dy = *y1 - *y0, t0 = 0, t1 = 1;
    const double p[4] = {-dx, dx, -dy, dy};
    const double q[4] = {*x0 - xmin, xmax - *x0, *y0 - ymin, ymax - *y0};
    for (int i = 0; i < 4; i++) {
        if (p[i] == 0) {
            if (q[i] < 0) return 0;
        } else {
            double t = q[i] / p[i];
            if (p[i] < 0) {
                if (t > t1) return 0;
                if (t > t0) t0 = t;
            } else {
                if (t < t0) return 0;
                if (t < t1) t1 = t;
            }
        }
    }
    double ax = *x0, ay = *y0;
    *x0 = ax + t0 * dx;
    *y0 = ay + t0 * dy;
    *x1 = ax + t1 * dx;
    *y1 = ay + t1 * dy;
    return 1;
}

double jp_canvas_clamp_coord(double v)
{
    return v < -COORD_LIMIT ? -COORD_LIMIT : v > COORD_LIMIT ? COORD_LIMIT : v;
}

/* Bresenham with a square pen, drawing only inside r. */
void jp_canvas_line_in(jp_canvas *c, clip_rect r, double x0, double y0, double x1, double y1,
                       int width, jp_rgb col)
{
    if (!isfinite(x0) || !isfinite(y0) || !isfinite(x1) || !isfinite(y1)) return;
    r = in_canvas(c, r);
    if (r.x0 > r.x1 || r.y0 > r.y1) return;
    if (width < 1) width = 1;
    if (width > 64) width = 64;
    x0 = jp_canvas_clamp_coord(x0), y0 = jp_canvas_clamp_coord(y0), x1 = jp_canvas_clamp_coord(x1), y1 = jp_canvas_clamp_coord(y1);
    double m = width + 1; /* the pen reaches this far beyond the centre line */
    if (!clip_segment(&x0, &y0, &x1, &y1, r.x0 - m, r.y0 - m, r.x1 + m, r.y1 + m)) return;
    int ax = (int)lround(x0), ay = (int)lround(y0), bx = (int)lround(x1), by = (int)lround(y1);
    int lo = -(width - 1) / 2, hi = width / 2;
    int dx = abs(bx - ax), dy = -abs(by - ay);
    int sx = ax < bx ? 1 : -1, sy = ay < by ? 1 : -1, e = dx + dy;
    for (;;) {
        for (int py = lo; py <= hi; py++)
            for (int px = lo; px <= hi; px++) put(c, &r, ax + px, ay + py, col);
        if (ax == bx && ay == by) break;
        int e2 = 2 * e;
        if (e2 >= dy) {
            e += dy;
            ax += sx;
        }
        if (e2 <= dx) {
            e += dx;
            ay += sy;
        }
    }
}

void jp_canvas_line(jp_canvas *c, double x0, double y0, double x1, double y1, int width,
                    jp_rgb col)
{
    jp_canvas_line_in(c, jp_canvas_whole(c), x0, y0, x1, y1, width, col);
}

void jp_canvas_fill_in(jp_canvas *c, clip_rect r, int x0, int y0, int x1, int y1, jp_rgb col)
{
    if (x0 > x1) { int t = x0; x0 = x1; x1 = t; }
    if (y0 > y1) { int t = y0; y0 = y1; y1 = t; }
    r = in_canvas(c, r);
    if (x0 < r.x0) x0 = r.x0;
    if (y0 < r.y0) y0 = r.y0;
    if (x1 > r.x1) x1 = r.x1;
    if (y1 > r.y1) y1 = r.y1;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) put(c, &r, x, y, col);
}

void jp_canvas_rect(jp_canvas *c, int x0, int y0, int x1, int y1, jp_rgb col, int filled)
{
    if (filled) {
        jp_canvas_fill_in(c, jp_canvas_whole(c), x0, y0, x1, y1, col);
        return;
    }
    jp_canvas_fill_in(c, jp_canvas_whole(c), x0, y0, x1, y0, col);
    jp_canvas_fill_in(c, jp_canvas_whole(c), x0, y1, x1, y1, col);
    jp_canvas_fill_in(c, jp_canvas_whole(c), x0, y0, x0, y1, col);
    jp_canvas_fill_in(c, jp_canvas_whole(c), x1, y0, x1, y1, col);
}

static size_t text_len(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n > MAX_TEXT ? MAX_TEXT : n;
}

int jp_text_width(const char *s, int scale)
{
    if (scale < 1) scale = 1;
    size_t n = text_len(s);
    return n ? (int)n * JP_FONT_ADVANCE * scale - scale : 0;
}

int jp_text_height(int scale) { return JP_FONT_H * (scale < 1 ? 1 : scale); }

/* Draws text; up == 0 left to right, up == 1 rotated anticlockwise (see plot.h). */
static int text_any(jp_canvas *c, int x, int y, const char *s, int scale, jp_rgb col, int up)
{
    if (scale < 1) scale = 1;
    size_t n = text_len(s);
    clip_rect r = jp_canvas_whole(c);
    for (size_t i = 0; i < n; i++) {
        int ch = (unsigned char)s[i];
        for (int row = 0; row < JP_FONT_H; row++)
            for (int k = 0; k < JP_FONT_W; k++) {
                if (!jp_font5x7_ink(ch, k, row)) continue;
                int along = ((int)i * JP_FONT_ADVANCE + k) * scale, across = row * scale;
                for (int a = 0; a < scale; a++)
                    for (int b = 0; b < scale; b++) {
                        if (up)
                            put(c, &r, x + across + b, y - along - a, col);
                        else
                            put(c, &r, x + along + a, y + across + b, col);
                    }
            }
    }
    return jp_text_width(s, scale);
}

int jp_canvas_text(jp_canvas *c, int x, int y, const char *s, int scale, jp_rgb col)
{
    return text_any(c, x, y, s, scale, col, 0);
}

int jp_canvas_text_up(jp_canvas *c, int x, int y, const char *s, int scale, jp_rgb col)
{
    return text_any(c, x, y, s, scale, col, 1);
}

jp_status jp_canvas_write_png(const jp_canvas *c, const char *path, jp_error *err)
{
    if (!path) return jp_fail(err, JP_ERR_ARG, "plot: output path is NULL");
    if (!c || !c->rgb || c->w < 1 || c->h < 1)
        return jp_fail(err, JP_ERR_ARG, "%s: the canvas is empty", path);
    jp_error e;
    memset(&e, 0, sizeof e);
    jp_status s = jp_png_write_rgb(path, c->rgb, c->w, c->h, 3, &e);
    if (s == JP_OK) return JP_OK;
    if (strstr(e.msg, path)) return jp_fail(err, s, "%s", e.msg);
    return jp_fail(err, s, "writing plot %s: %s", path, e.msg);
}
