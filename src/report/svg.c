/* Inline SVG line charts, so that the page has curves even when the run wrote no
 * curve PNGs (an interrupted run, or an old one). Plain SVG elements only: no script,
 * no external reference; the HTML parser puts <svg> in the SVG namespace itself. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report/report_internal.h"

enum { W = 720, H = 320, LEFT = 64, RIGHT = 16, TOP = 30, BOTTOM = 64 };

static const char *const COLORS[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"};
#define N_COLORS (sizeof COLORS / sizeof *COLORS)

size_t rp_downsample(const double *x, const double *y, size_t n, size_t max, double *ox, double *oy)
{
    if (max < 1) max = 1;
    size_t k = (n + max - 1) / max, m = 0;
    if (k < 1) k = 1;
    for (size_t i = 0; i < n; i += k, m++) {
        double sx = 0, sy = 0;
        size_t cnt = 0;
        for (size_t j = i; j < i + k && j < n; j++) {
            double xj = x ? x[j] : (double)j;
            if (!isfinite(y[j]) || !isfinite(xj)) continue;
            sx += xj;
            sy += y[j];
            cnt++;
        }
        ox[m] = cnt ? sx / cnt : NAN;
        oy[m] = cnt ? sy / cnt : NAN;
    }
    return m;
}

/* 1, 2 or 5 times a power of ten, giving about `target` intervals over range. */
static double nice_step(double range, int target)
{
    double raw = range / target, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

typedef struct {
    double x0, x1, y0, y1; /* data range shown */
} range;

/* The data's extent (finite points only); 0 when there is none. */
static int extent(const rp_line *lines, int nl, range *r)
{
    int any = 0;
    for (int l = 0; l < nl; l++)
        for (size_t i = 0; i < lines[l].n; i++) {
            double x = lines[l].x ? lines[l].x[i] : (double)i, y = lines[l].y[i];
            if (!isfinite(x) || !isfinite(y)) continue;
            if (!any) {
                r->x0 = r->x1 = x;
                r->y0 = r->y1 = y;
                any = 1;
            }
            r->x0 = fmin(r->x0, x);
            r->x1 = fmax(r->x1, x);
            r->y0 = fmin(r->y0, y);
            r->y1 = fmax(r->y1, y);
        }
    return any;
}

/* Widens a degenerate range and pads the y range a little so curves clear the frame. */
static void settle(range *r, int y01)
{
    if (r->x1 - r->x0 <= 0) {
        r->x0 -= 1;
        r->x1 += 1;
    }
    if (y01) {
        r->y0 = 0;
        r->y1 = 1;
        return;
    }
    double span = r->y1 - r->y0;
    if (span <= 1e-12 * fmax(1, fabs(r->y1))) {
        double d = fabs(r->y1) > 0 ? 0.1 * fabs(r->y1) : 1;
        r->y0 -= d;
        r->y1 += d;
    } else {
        r->y0 -= 0.05 * span;
        r->y1 += 0.05 * span;
    }
}

static double px(const range *r, double x) { return LEFT + (x - r->x0) / (r->x1 - r->x0) * (W - LEFT - RIGHT); }
static double py(const range *r, double y) { return H - BOTTOM - (y - r->y0) / (r->y1 - r->y0) * (H - TOP - BOTTOM); }

static int decimals(double step) { return step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9); }

/* Grid lines with their labels every `step` from the first multiple of it in [lo, hi];
 * at most 20, whatever the range (huge, or steps lost in rounding). */
static void ticks(rp_buf *b, const range *r, int vertical, double lo, double hi, double step)
{
    if (!isfinite(step) || step <= 0) return;
    int dec = decimals(step), k = 0;
    for (double v = ceil(lo / step) * step; v <= hi + 1e-9 * step && k < 20; v += step, k++) {
        double shown = fabs(v) < 0.5 * step ? 0.0 : v; /* no "-0.0" */
        if (vertical) {
            double x = px(r, v);
            rp_printf(b, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#e4e4e4\"/>", x, TOP, x,
                      H - BOTTOM);
            rp_printf(b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" font-size=\"11\">%.*f</text>\n", x,
                      H - BOTTOM + 14, dec, shown);
        } else {
            double y = py(r, v);
            rp_printf(b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>", LEFT, y,
                      W - RIGHT, y);
            rp_printf(b, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" font-size=\"11\">%.*f</text>\n",
                      LEFT - 4, y + 4, dec, shown);
        }
    }
}

static void axes(rp_buf *b, const range *r, int xint)
{
    ticks(b, r, 0, r->y0, r->y1, nice_step(r->y1 - r->y0, 5));
    double sx = nice_step(r->x1 - r->x0, 6);
    ticks(b, r, 1, r->x0, r->x1, xint && sx < 1 ? 1 : sx);
    rp_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#888\"/>\n", LEFT, TOP,
              W - LEFT - RIGHT, H - TOP - BOTTOM);
}

/* One <polyline> per run of finite points; markers when the points are few enough to
 * be seen one by one (a single epoch is then still visible). */
static void curve(rp_buf *b, const range *r, const rp_line *l, const char *color)
{
    int open = 0;
    for (size_t i = 0; i < l->n; i++) {
        double x = l->x ? l->x[i] : (double)i, y = l->y[i];
        if (!isfinite(x) || !isfinite(y)) {
            if (open) rp_put(b, "\"/>\n");
            open = 0;
            continue;
        }
        if (!open) rp_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", color);
        open = 1;
        rp_printf(b, "%.1f,%.1f ", px(r, x), py(r, fmin(fmax(y, r->y0), r->y1)));
    }
    if (open) rp_put(b, "\"/>\n");
    if (l->n > 50) return;
    for (size_t i = 0; i < l->n; i++) {
        double x = l->x ? l->x[i] : (double)i, y = l->y[i];
        if (isfinite(x) && isfinite(y))
            rp_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>", px(r, x),
                      py(r, fmin(fmax(y, r->y0), r->y1)), color);
    }
    rp_put(b, "\n");
}

static void legend(rp_buf *b, const rp_line *lines, int nl)
{
    int x = LEFT, y = H - 14;
    for (int l = 0; l < nl; l++) {
        const char *color = COLORS[(size_t)l % N_COLORS];
        rp_printf(b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"3\"/>", x, y - 4,
                  x + 18, y - 4, color);
        rp_printf(b, "<text x=\"%d\" y=\"%d\" font-size=\"12\">", x + 22, y);
        rp_esc(b, lines[l].label ? lines[l].label : "");
        rp_put(b, "</text>\n");
        x += 40 + 7 * (int)(lines[l].label ? strlen(lines[l].label) : 0);
    }
}

void rp_svg_chart(rp_buf *b, const rp_chart *ch, const rp_line *lines, int nl)
{
    rp_printf(b, "<svg class=\"svgchart\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" "
                 "role=\"img\" aria-label=\"", W, H, W, H);
    rp_esc(b, ch->title ? ch->title : "chart");
    rp_put(b, "\">\n<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n");
    rp_printf(b, "<text x=\"%d\" y=\"18\" font-size=\"13\" font-weight=\"bold\">", LEFT);
    rp_esc(b, ch->title ? ch->title : "");
    rp_put(b, "</text>\n");
    range r;
    if (extent(lines, nl, &r)) {
        settle(&r, ch->y01);
        axes(b, &r, ch->xint);
        for (int l = 0; l < nl; l++) curve(b, &r, &lines[l], COLORS[(size_t)l % N_COLORS]);
    } else {
        rp_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"13\">no finite values</text>\n",
                  W / 2, H / 2);
    }
    if (ch->xlabel) {
        rp_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"12\">", (LEFT + W - RIGHT) / 2,
                  H - BOTTOM + 32);
        rp_esc(b, ch->xlabel);
        rp_put(b, "</text>\n");
    }
    legend(b, lines, nl);
    rp_put(b, "</svg>\n");
}
