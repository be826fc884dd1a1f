/* The three chart kinds of include/jempp/plot.h (the canvas they draw on: canvas.c).
 *
 * A chart is drawn in three steps on a fresh canvas of the chart's size: layout and
 * grid (chart_begin), the data clipped to the plot area, then the frame, ticks, labels
 * and title (chart_end). Data coordinates are mapped to pixels in double precision,
 * clamped to +-1e9 and clipped (Liang-Barsky) before any integer conversion, so huge
 * or tiny values cannot overflow or make a line loop run long. */
#include "jempp/plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/canvas_internal.h"

#define PLOT_MIN_SIDE 64
#define MAX_BINS 10000
#define MAX_TICKS 24
#define RANGE_LIMIT 1e307 /* data ranges are clamped to this so that spans stay finite */

static const jp_rgb WHITE = {255, 255, 255};
static const jp_rgb BLACK = {0, 0, 0};
static const jp_rgb GRID = {230, 230, 230};
static const jp_rgb LEGEND_EDGE = {150, 150, 150};

/* ---- axes -------------------------------------------------------------- */

double jp_plot_frame_px(const jp_plot_frame *f, double x)
{
    return f->x0 + (x - f->xmin) / (f->xmax - f->xmin) * (f->x1 - f->x0);
}

double jp_plot_frame_py(const jp_plot_frame *f, double y)
{
    double lo = f->ymin, hi = f->ymax;
    if (f->logy) {
        if (!(y > 0)) return isnan(y) ? y : INFINITY; /* below the bottom */
        y = log10(y);
        lo = log10(lo);
        hi = log10(hi);
    }
    return f->y1 - (y - lo) / (hi - lo) * (f->y1 - f->y0);
}

jp_rgb jp_plot_color(int i)
{
    static const jp_rgb palette[10] = {
        {31, 119, 180}, {230, 85, 13},   {44, 160, 44}, {214, 39, 40},  {148, 103, 189},
        {140, 86, 75},  {227, 119, 194}, {90, 90, 90},  {188, 189, 34}, {23, 190, 207},
    };
    i %= 10;
    if (i < 0) i += 10;
    return palette[i];
}

typedef struct {
    int n;
    double v[MAX_TICKS];
    char label[MAX_TICKS][32];
} ticks;

/* "1.5e+06" -> "1.5e6", "2.0e-05" -> "2.0e-5". */
static void compact_exponent(char *s)
{
    char *e = strchr(s, 'e');
    if (!e) return;
    char *src = e + 1, *dst = e + 1;
    if (*src == '+') src++;
    else if (*src == '-') *dst++ = *src++;
    while (src[0] == '0' && src[1]) src++;
    memmove(dst, src, strlen(src) + 1);
}

static int floor_log10(double v) { return (int)floor(log10(v) + 1e-9); }

static void format_tick(char *buf, size_t len, double v, double step, double maxabs)
{
    if (fabs(v) < step * 1e-6) {
        snprintf(buf, len, "0");
        return;
    }
    int es = floor_log10(step);
    if ((maxabs >= 1e5 || maxabs < 1e-3)) {
        int p = floor_log10(maxabs) - es;
        p = p < 0 ? 0 : p > 8 ? 8 : p;
        snprintf(buf, len, "%.*e", p, v);
        compact_exponent(buf);
    } else {
        int d = -es;
        d = d < 0 ? 0 : d > 12 ? 12 : d;
        snprintf(buf, len, "%.*f", d, v);
    }
}

/* Ticks at multiples of the smallest step of 1, 2 or 5 x 10^k that puts at most six
 * of them inside [lo, hi] (so four to six: "about five"). */
static void linear_ticks(ticks *t, double lo, double hi, int positive_only)
{
    t->n = 0;
    double raw = (hi - lo) / 6;
    if (!(raw > 0) || !isfinite(raw)) return;
    static const double nice[] = {1, 2, 5, 10, 20, 50, 100};
    double mag = pow(10, floor(log10(raw))), step = mag, k0 = 0, k1 = -1;
    for (int i = 0; i < 7; i++) {
        step = nice[i] * mag;
        k0 = ceil(lo / step - 1e-9), k1 = floor(hi / step + 1e-9);
        if (k1 - k0 + 1 <= 6) break;
    }
    double maxabs = fmax(fabs(lo), fabs(hi));
    for (int i = 0; i < MAX_TICKS && k0 + i <= k1; i++) {
        double v = (k0 + i) * step;
        if (positive_only && !(v > 0)) continue;
        t->v[t->n] = v;
        format_tick(t->label[t->n], sizeof t->label[0], v, step, maxabs);
        t->n++;
    }
}

/* Decades (every stride-th) on a log axis, or nice linear values when the range holds
 * fewer than two decades. */
static void log_ticks(ticks *t, double lo, double hi)
{
    double a = log10(lo), b = log10(hi);
    t->n = 0;
    if (!isfinite(a) || !isfinite(b) || !(b > a)) return;
    int k0 = (int)ceil(a - 1e-9), k1 = (int)floor(b + 1e-9);
    if (k1 - k0 < 1) {
        linear_ticks(t, lo, hi, 1);
        return;
    }
    int stride = (k1 - k0 + 5) / 6;
    if (stride < 1) stride = 1;
    t->n = 0;
    int first = (int)ceil((double)k0 / stride) * stride;
    for (int k = first; k <= k1 && t->n < MAX_TICKS; k += stride) {
        t->v[t->n] = pow(10, k);
        if (k >= -3 && k <= 4)
            snprintf(t->label[t->n], sizeof t->label[0], "%g", t->v[t->n]);
        else
            snprintf(t->label[t->n], sizeof t->label[0], "1e%d", k);
        t->n++;
    }
}

/* Makes [*lo, *hi] a usable axis range: finite span, non-empty; pad: fraction of the
 * span added on each side (below only where pad_lo, above where pad_hi). */
static void settle_range(double *lo, double *hi, int have, int pad_lo, int pad_hi,
                         int from_zero, int logy)
{
    if (logy) {
        double a, b;
        if (!have) {
            a = 0, b = 1;
        } else {
            a = log10(*lo), b = log10(*hi);
            if (b - a < 1e-9) {
                a -= 0.5, b += 0.5;
            } else {
                double p = 0.05 * (b - a);
                if (pad_lo) a -= p;
                if (pad_hi) b += p;
            }
            if (a < -300) a = -300; /* 10^a and 10^b stay normal numbers */
            if (b > 300) b = 300;
            if (b - a < 1e-9) a = b - 1;
        }
        *lo = pow(10, a);
        *hi = pow(10, b);
        return;
    }
    if (!have) {
        *lo = 0, *hi = 1;
        return;
    }
    if (from_zero) {
        if (*lo > 0) *lo = 0;
        if (*hi < 0) *hi = 0;
    }
    if (*lo < -RANGE_LIMIT) *lo = -RANGE_LIMIT;
    if (*hi > RANGE_LIMIT) *hi = RANGE_LIMIT;
    double span = *hi - *lo, mag = fmax(fabs(*lo), fabs(*hi));
    if (span <= mag * 1e-12) {
        if (mag == 0) {
            *lo = from_zero ? 0 : -1;
            *hi = 1;
        } else {
            double d = mag * 0.1;
            *lo -= d;
            *hi += d;
        }
        return;
    }
    if (pad_lo && !(from_zero && *lo == 0)) *lo -= 0.05 * span;
    if (pad_hi && !(from_zero && *hi == 0)) *hi += 0.05 * span;
}

/* ---- chart frame ------------------------------------------------------- */

typedef struct {
    jp_canvas *c;
    const jp_plot_opts *o;
    int s, lw, compact;
    jp_plot_frame f;
    clip_rect area;
    ticks xt, yt;
} chart;

static int x_spacing_ok(const chart *ch, const ticks *t, int stride)
{
    for (int i = stride; i < t->n; i += stride) {
        double d = jp_plot_frame_px(&ch->f, t->v[i]) - jp_plot_frame_px(&ch->f, t->v[i - stride]);
        double need =
            (jp_text_width(t->label[i], ch->s) + jp_text_width(t->label[i - stride], ch->s)) / 2.0 +
            4 * ch->s;
        if (fabs(d) < need) return 0;
    }
    return 1;
}

static int y_spacing_ok(const chart *ch, const ticks *t, int stride)
{
    for (int i = stride; i < t->n; i += stride) {
        double d = jp_plot_frame_py(&ch->f, t->v[i]) - jp_plot_frame_py(&ch->f, t->v[i - stride]);
        if (fabs(d) < jp_text_height(ch->s) + 2 * ch->s) return 0;
    }
    return 1;
}

/* Keeps every stride-th tick, the smallest stride whose labels do not collide. */
static void thin_ticks(const chart *ch, ticks *t, int is_x)
{
    int stride = 1;
    while (stride < t->n && !(is_x ? x_spacing_ok(ch, t, stride) : y_spacing_ok(ch, t, stride)))
        stride++;
    int m = 0;
    for (int i = 0; i < t->n; i += stride) {
        t->v[m] = t->v[i];
        memcpy(t->label[m], t->label[i], sizeof t->label[0]);
        m++;
    }
    t->n = m;
}

/* Lays the chart out over the whole (fresh, white) canvas and draws the grid. */
static void chart_begin(chart *ch, jp_canvas *c, const jp_plot_opts *o, double xmin,
                        double xmax, double ymin, double ymax)
{
    memset(ch, 0, sizeof *ch);
    ch->c = c;
    ch->o = o;
    int W = c->w, H = c->h;
    int s = (W < H ? W : H) >= 720 ? 2 : 1;
    ch->s = s;
    ch->lw = s + 1;
    ch->f.xmin = xmin, ch->f.xmax = xmax, ch->f.ymin = ymin, ch->f.ymax = ymax;
    ch->f.logy = o->logy != 0;
    linear_ticks(&ch->xt, xmin, xmax, 0);
    if (ch->f.logy)
        log_ticks(&ch->yt, ymin, ymax);
    else
        linear_ticks(&ch->yt, ymin, ymax, 0);

    int th = jp_text_height(s), pad = 4 * s, tick = 4 * s, gap = 2 * s;
    int title_s = s + 1;
    if (o->title && jp_text_width(o->title, title_s) > W - 2 * pad) title_s = s;
    int ylab_w = 0;
    for (int i = 0; i < ch->yt.n; i++) {
        int w = jp_text_width(ch->yt.label[i], s);
        if (w > ylab_w) ylab_w = w;
    }
    int last_x_w = ch->xt.n ? jp_text_width(ch->xt.label[ch->xt.n - 1], s) : 0;
    int top = pad + (o->title ? jp_text_height(title_s) + pad : 0) + th / 2;
    int left = pad + (o->ylabel ? th + pad : 0) + ylab_w + gap + tick;
    int bottom = tick + gap + th + (o->xlabel ? pad + th : 0) + pad;
    int right = pad + (last_x_w / 2 > pad ? last_x_w / 2 : pad);
    if (W - left - right < 32 || H - top - bottom < 32) {
        ch->compact = 1; /* too small for text: frame and data only */
        left = right = top = bottom = 3;
    }
    ch->f.x0 = left;
    ch->f.x1 = W - right - 1;
    ch->f.y0 = top;
    ch->f.y1 = H - bottom - 1;
    ch->area = (clip_rect){ch->f.x0, ch->f.y0, ch->f.x1, ch->f.y1};
    if (ch->compact) {
        ch->xt.n = ch->yt.n = 0;
        return;
    }
    thin_ticks(ch, &ch->xt, 1);
    thin_ticks(ch, &ch->yt, 0);
    for (int i = 0; i < ch->xt.n; i++) {
        double x = round(jp_plot_frame_px(&ch->f, ch->xt.v[i]));
        jp_canvas_line_in(c, ch->area, x, ch->f.y0, x, ch->f.y1, 1, GRID);
    }
    for (int i = 0; i < ch->yt.n; i++) {
        double y = round(jp_plot_frame_py(&ch->f, ch->yt.v[i]));
        jp_canvas_line_in(c, ch->area, ch->f.x0, y, ch->f.x1, y, 1, GRID);
    }
}

/* Frame, ticks, tick labels, axis labels and title. */
static void chart_end(chart *ch)
{
    jp_canvas *c = ch->c;
    const jp_plot_opts *o = ch->o;
    const jp_plot_frame *f = &ch->f;
    int s = ch->s, th = jp_text_height(s), pad = 4 * s, tick = 4 * s, gap = 2 * s;
    jp_canvas_rect(c, f->x0 - 1, f->y0 - 1, f->x1 + 1, f->y1 + 1, BLACK, 0);
    if (ch->compact) return;
    for (int i = 0; i < ch->xt.n; i++) {
        int x = (int)lround(jp_plot_frame_px(f, ch->xt.v[i]));
        jp_canvas_rect(c, x, f->y1 + 2, x, f->y1 + 1 + tick, BLACK, 1);
        int w = jp_text_width(ch->xt.label[i], s), tx = x - w / 2;
        if (tx + w > c->w) tx = c->w - w;
        if (tx < 0) tx = 0;
        jp_canvas_text(c, tx, f->y1 + 2 + tick + gap, ch->xt.label[i], s, BLACK);
    }
    for (int i = 0; i < ch->yt.n; i++) {
        int y = (int)lround(jp_plot_frame_py(f, ch->yt.v[i]));
        jp_canvas_rect(c, f->x0 - 1 - tick, y, f->x0 - 2, y, BLACK, 1);
        int w = jp_text_width(ch->yt.label[i], s);
        jp_canvas_text(c, f->x0 - 2 - tick - gap - w, y - (7 * s) / 2, ch->yt.label[i], s, BLACK);
    }
    if (o->xlabel) {
        int w = jp_text_width(o->xlabel, s), cx = (f->x0 + f->x1) / 2, tx = cx - w / 2;
        if (tx + w > c->w) tx = c->w - w;
        if (tx < 0) tx = 0;
        jp_canvas_text(c, tx, c->h - pad - th, o->xlabel, s, BLACK);
    }
    if (o->ylabel) {
        int w = jp_text_width(o->ylabel, s), cy = (f->y0 + f->y1) / 2, by = cy + w / 2;
        if (by - w < 0) by = w;
        if (by > c->h - 1) by = c->h - 1;
        jp_canvas_text_up(c, pad, by, o->ylabel, s, BLACK);
    }
    if (o->title) {
        int ts = s + 1;
        if (jp_text_width(o->title, ts) > c->w - 2 * pad) ts = s;
        int w = jp_text_width(o->title, ts), tx = (c->w - w) / 2;
        if (tx < pad) tx = pad;
        jp_canvas_text(c, tx, pad, o->title, ts, BLACK);
    }
}

/* Data point -> pixel, clamped so that it can be clipped safely. */
static void map_point(const chart *ch, double x, double y, double *px, double *py)
{
    *px = jp_canvas_clamp_coord(jp_plot_frame_px(&ch->f, x));
    *py = jp_canvas_clamp_coord(jp_plot_frame_py(&ch->f, y));
}

static void data_line(chart *ch, double x0, double y0, double x1, double y1, jp_rgb col)
{
    jp_canvas_line_in(ch->c, ch->area, x0, y0, x1, y1, ch->lw, col);
}

static const char *legend_label(const jp_series *s, int i, char *buf, size_t len)
{
    if (s[i].label) return s[i].label;
    snprintf(buf, len, "series %d", i);
    return buf;
}

/* Data pixels (anything but paper and grid) in a box of the plot area. */
static long covered(const jp_canvas *c, int x0, int y0, int x1, int y1)
{
    long n = 0;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            jp_rgb p = jp_canvas_get(c, x, y);
            int paper = p.r == WHITE.r && p.g == WHITE.g && p.b == WHITE.b;
            int grid = p.r == GRID.r && p.g == GRID.g && p.b == GRID.b;
            n += !paper && !grid;
        }
    return n;
}

/* Legend in the corner of the plot area that hides the fewest data pixels (top right,
 * top left, bottom right, bottom left on ties, in that order); left out when it does
 * not fit. */
static void draw_legend(chart *ch, const jp_series *s, int ns)
{
    if (ch->compact || ns <= 0) return;
    int sc = ch->s, th = jp_text_height(sc), pad = 4 * sc, sample = 16 * sc, row = th + 3 * sc;
    char name[32];
    int maxw = 0;
    for (int i = 0; i < ns; i++) {
        int w = jp_text_width(legend_label(s, i, name, sizeof name), sc);
        if (w > maxw) maxw = w;
    }
    int bw = pad + sample + pad + maxw + pad, bh = 2 * pad + ns * row - 3 * sc;
    const jp_plot_frame *f = &ch->f;
    if (bw > f->x1 - f->x0 - 2 * pad || bh > f->y1 - f->y0 - 2 * pad) return;
    int bx0 = 0, by0 = 0;
    long best = -1;
    for (int corner = 0; corner < 4; corner++) {
        int x0 = corner % 2 ? f->x0 + pad : f->x1 - pad - bw + 1;
        int y0 = corner / 2 ? f->y1 - pad - bh + 1 : f->y0 + pad;
        long n = covered(ch->c, x0, y0, x0 + bw - 1, y0 + bh - 1);
        if (best < 0 || n < best) best = n, bx0 = x0, by0 = y0;
    }
    int bx1 = bx0 + bw - 1, by1 = by0 + bh - 1;
    jp_canvas_rect(ch->c, bx0, by0, bx1, by1, WHITE, 1);
    jp_canvas_rect(ch->c, bx0, by0, bx1, by1, LEGEND_EDGE, 0);
    for (int i = 0; i < ns; i++) {
        int ty = by0 + pad + i * row, ly = ty + (7 * sc) / 2;
        jp_canvas_line_in(ch->c, jp_canvas_whole(ch->c), bx0 + pad, ly, bx0 + pad + sample - 1, ly, ch->lw,
                jp_plot_color(i));
        jp_canvas_text(ch->c, bx0 + 2 * pad + sample, ty, legend_label(s, i, name, sizeof name),
                       sc, BLACK);
    }
}

/* ---- argument checks --------------------------------------------------- */

static jp_status check_opts(const jp_plot_opts *o, jp_error *err)
{
    if (!o) return jp_fail(err, JP_ERR_ARG, "plot: options are NULL");
    if (o->width < PLOT_MIN_SIDE || o->height < PLOT_MIN_SIDE ||
        o->width > JP_CANVAS_MAX_SIDE || o->height > JP_CANVAS_MAX_SIDE)
        return jp_fail(err, JP_ERR_ARG, "plot: size %d x %d is outside %d..%d pixels per side",
                       o->width, o->height, PLOT_MIN_SIDE, JP_CANVAS_MAX_SIDE);
    if (!isfinite(o->ymin) || !isfinite(o->ymax))
        return jp_fail(err, JP_ERR_ARG, "plot: y range [%g, %g] is not finite", o->ymin, o->ymax);
    if (o->ymin != o->ymax) {
        if (o->ymin > o->ymax)
            return jp_fail(err, JP_ERR_ARG, "plot: ymin %g is above ymax %g", o->ymin, o->ymax);
        if (o->logy && o->ymin <= 0)
            return jp_fail(err, JP_ERR_ARG, "plot: log y axis needs ymin > 0, got %g", o->ymin);
        double lo = o->logy ? log10(o->ymin) : o->ymin, hi = o->logy ? log10(o->ymax) : o->ymax;
        double span = hi - lo;
        if (!isfinite(span) || span <= fmax(fabs(lo), fabs(hi)) * 1e-12 || (o->logy && span < 1e-9))
            return jp_fail(err, JP_ERR_ARG, "plot: y range [%.17g, %.17g] cannot be drawn%s",
                           o->ymin, o->ymax, o->logy ? " on a log axis" : "");
    }
    return JP_OK;
}

static jp_status check_series(const jp_series *s, int ns, jp_error *err)
{
    if (ns < 0) return jp_fail(err, JP_ERR_ARG, "plot: %d series", ns);
    if (ns > 0 && !s) return jp_fail(err, JP_ERR_ARG, "plot: %d series but no array", ns);
    for (int i = 0; i < ns; i++) {
        if (s[i].n < 0) return jp_fail(err, JP_ERR_ARG, "plot: series %d has %d points", i, s[i].n);
        if (s[i].n > 0 && !s[i].y)
            return jp_fail(err, JP_ERR_ARG, "plot: series %d has %d points but no y values", i,
                           s[i].n);
    }
    return JP_OK;
}

static jp_status check_bars(const double *values, int n, jp_error *err)
{
    if (n < 0) return jp_fail(err, JP_ERR_ARG, "plot: %d bars", n);
    if (n > 0 && !values) return jp_fail(err, JP_ERR_ARG, "plot: %d bars but no values", n);
    return JP_OK;
}

/* ---- line chart -------------------------------------------------------- */

static double series_x(const jp_series *s, int i) { return s->x ? s->x[i] : (double)i; }

static int drawable(const jp_series *s, int i, int logy)
{
    double x = series_x(s, i), y = s->y[i];
    return isfinite(x) && isfinite(y) && (!logy || y > 0);
}

static void draw_lines(jp_canvas *c, const jp_plot_opts *o, const jp_series *s, int ns,
                       jp_plot_frame *frame)
{
    int logy = o->logy != 0, have = 0;
    double xmin = 0, xmax = 0, ymin = 0, ymax = 0;
    for (int k = 0; k < ns; k++)
        for (int i = 0; i < s[k].n; i++) {
            if (!drawable(&s[k], i, logy)) continue;
            double x = series_x(&s[k], i), y = s[k].y[i];
            if (!have) xmin = xmax = x, ymin = ymax = y;
            xmin = fmin(xmin, x), xmax = fmax(xmax, x);
            ymin = fmin(ymin, y), ymax = fmax(ymax, y);
            have = 1;
        }
    if (o->ymin != o->ymax) {
        ymin = o->ymin;
        ymax = o->ymax;
    } else {
        settle_range(&ymin, &ymax, have, 1, 1, 0, logy);
    }
    settle_range(&xmin, &xmax, have, 0, 0, 0, 0);
    chart ch;
    chart_begin(&ch, c, o, xmin, xmax, ymin, ymax);
    for (int k = 0; k < ns; k++) {
        jp_rgb col = jp_plot_color(k);
        int run = 0;
        double px = 0, py = 0;
        for (int i = 0; i <= s[k].n; i++) {
            if (i == s[k].n || !drawable(&s[k], i, logy)) {
                if (run == 1) data_line(&ch, px, py, px, py, col); /* a lone point */
                run = 0;
                continue;
            }
            double qx, qy;
            map_point(&ch, series_x(&s[k], i), s[k].y[i], &qx, &qy);
            if (run) data_line(&ch, px, py, qx, qy, col);
            px = qx, py = qy;
            run++;
        }
    }
    chart_end(&ch);
    draw_legend(&ch, s, ns);
    if (frame) *frame = ch.f;
}

/* ---- histograms -------------------------------------------------------- */

/* Densities of series s on the bins; 0 when it has no finite value. */
static void densities(const jp_series *s, int bins, double lo, double hi, double *d)
{
    long long finite = 0;
    for (int b = 0; b < bins; b++) d[b] = 0;
    double width = (hi - lo) / bins;
    for (int i = 0; i < s->n; i++) {
        double v = s->y[i];
        if (!isfinite(v)) continue;
        double t = (v - lo) / (hi - lo) * bins;
        int b = t < 0 ? 0 : t >= bins ? bins - 1 : (int)t;
        d[b] += 1;
        finite++;
    }
    if (finite == 0) return;
    for (int b = 0; b < bins; b++) d[b] /= (double)finite * width;
}

static jp_status draw_histograms(jp_canvas *c, const jp_plot_opts *o, const jp_series *s,
                                 int ns, int bins, jp_plot_frame *frame, jp_error *err)
{
    double lo = 0, hi = 0;
    int have = 0;
    for (int k = 0; k < ns; k++)
        for (int i = 0; i < s[k].n; i++) {
            double v = s[k].y[i];
            if (!isfinite(v)) continue;
            if (!have) lo = hi = v;
            lo = fmin(lo, v), hi = fmax(hi, v);
            have = 1;
        }
    if (!have) {
        lo = 0, hi = 1;
    } else {
        if (lo < -RANGE_LIMIT) lo = -RANGE_LIMIT;
        if (hi > RANGE_LIMIT) hi = RANGE_LIMIT;
        if (hi - lo <= fmax(fabs(lo), fabs(hi)) * 1e-12) lo -= 0.5, hi += 0.5;
    }
    double *d = malloc((size_t)bins * sizeof *d);
    if (!d) return jp_fail(err, JP_ERR_NOMEM, "plot: cannot allocate %d bins", bins);
    int logy = o->logy != 0, have_d = 0;
    double dmin = 0, dmax = 0;
    for (int k = 0; k < ns; k++) {
        densities(&s[k], bins, lo, hi, d);
        for (int b = 0; b < bins; b++) {
            if (!(d[b] > 0)) continue;
            if (!have_d) dmin = dmax = d[b];
            dmin = fmin(dmin, d[b]), dmax = fmax(dmax, d[b]);
            have_d = 1;
        }
    }
    double ymin = dmin, ymax = dmax;
    if (o->ymin != o->ymax)
        ymin = o->ymin, ymax = o->ymax;
    else
        settle_range(&ymin, &ymax, have_d, 1, 1, 1, logy);
    chart ch;
    chart_begin(&ch, c, o, lo, hi, ymin, ymax);
    double bw = (hi - lo) / bins;
    for (int k = 0; k < ns; k++) {
        int finite = 0;
        for (int i = 0; i < s[k].n && !finite; i++) finite = isfinite(s[k].y[i]);
        if (!finite) continue;
        densities(&s[k], bins, lo, hi, d);
        jp_rgb col = jp_plot_color(k);
        double px, py, qx, qy;
        map_point(&ch, lo, 0, &px, &py); /* the step outline starts on the baseline */
        for (int b = 0; b < bins; b++) {
            double e0 = b == 0 ? lo : lo + b * bw, e1 = b == bins - 1 ? hi : lo + (b + 1) * bw;
            map_point(&ch, e0, d[b], &qx, &qy);
            data_line(&ch, px, py, qx, qy, col); /* the riser */
            map_point(&ch, e1, d[b], &px, &py);
            data_line(&ch, qx, qy, px, py, col); /* the top of bin b */
        }
        map_point(&ch, hi, 0, &qx, &qy);
        data_line(&ch, px, py, qx, qy, col);
    }
    free(d);
    chart_end(&ch);
    draw_legend(&ch, s, ns);
    if (frame) *frame = ch.f;
    return JP_OK;
}

/* ---- bars -------------------------------------------------------------- */

static int pixel_row(const chart *ch, double y)
{
    double py = jp_plot_frame_py(&ch->f, y);
    if (isnan(py)) py = ch->f.y1 + 1;
    if (py < ch->f.y0 - 1) py = ch->f.y0 - 1;
    if (py > ch->f.y1 + 1) py = ch->f.y1 + 1;
    return (int)lround(py);
}

static void draw_bars(jp_canvas *c, const jp_plot_opts *o, const double *values,
                      const double *reference, int n, jp_plot_frame *frame)
{
    int logy = o->logy != 0, have = 0;
    double lo = 0, hi = 0;
    for (int k = 0; k < 2; k++) {
        const double *v = k ? reference : values;
        for (int i = 0; v && i < n; i++) {
            if (!isfinite(v[i]) || (logy && !(v[i] > 0))) continue;
            if (!have) lo = hi = v[i];
            lo = fmin(lo, v[i]), hi = fmax(hi, v[i]);
            have = 1;
        }
    }
    if (o->ymin != o->ymax)
        lo = o->ymin, hi = o->ymax;
    else
        settle_range(&lo, &hi, have, 1, 1, 1, logy);
    chart ch;
    chart_begin(&ch, c, o, 0, 1, lo, hi);
    int base = logy ? ch.f.y1 + 1 : pixel_row(&ch, 0);
    for (int k = 0; k < 2; k++) {
        const double *v = k ? reference : values;
        for (int i = 0; v && i < n; i++) {
            if (!isfinite(v[i])) continue;
            int x0 = (int)lround(jp_plot_frame_px(&ch.f, (double)i / n));
            int x1 = (int)lround(jp_plot_frame_px(&ch.f, (double)(i + 1) / n)) - 1;
            if (k == 0 && x1 - x0 >= 3) x1--; /* a pixel of paper between wide bars */
            if (x1 < x0) x1 = x0;
            int top = pixel_row(&ch, v[i]);
            if (k == 0) {
                jp_canvas_fill_in(c, ch.area, x0, base, x1, top, jp_plot_color(0));
            } else {
                jp_rgb col = jp_plot_color(1);
                data_line(&ch, x0, base, x0, top, col);
                data_line(&ch, x0, top, x1, top, col);
                data_line(&ch, x1, top, x1, base, col);
            }
        }
    }
    chart_end(&ch);
    if (frame) *frame = ch.f;
}

/* ---- public entry points ----------------------------------------------- */

/* Copies a chart canvas onto c at (x, y), clipped. */
static void blit(jp_canvas *c, const jp_canvas *src, int x, int y)
{
    for (int r = 0; r < src->h; r++) {
        long dy = (long)y + r;
        if (dy < 0 || dy >= c->h) continue;
        long a = x < 0 ? -(long)x : 0, b = src->w;
        if ((long)x + b > c->w) b = (long)c->w - x;
        if (b <= a) continue;
        memcpy(c->rgb + ((size_t)dy * (size_t)c->w + (size_t)(x + a)) * 3,
               src->rgb + ((size_t)r * (size_t)src->w + (size_t)a) * 3, (size_t)(b - a) * 3);
    }
}

static void shift_frame(jp_plot_frame *f, int x, int y)
{
    f->x0 += x, f->x1 += x, f->y0 += y, f->y1 += y;
}

static jp_status check_target(const jp_canvas *c, jp_error *err)
{
    if (!c || !c->rgb || c->w < 1 || c->h < 1)
        return jp_fail(err, JP_ERR_ARG, "plot: the target canvas is empty");
    return JP_OK;
}

jp_status jp_plot_lines_canvas(jp_canvas *c, int x, int y, const jp_plot_opts *o,
                               const jp_series *s, int ns, jp_plot_frame *frame,
                               jp_error *err)
{
    jp_status st;
    jp_canvas tmp;
    if ((st = check_target(c, err)) || (st = check_opts(o, err)) ||
        (st = check_series(s, ns, err)) ||
        (st = jp_canvas_init(&tmp, o->width, o->height, WHITE, err)))
        return st;
    draw_lines(&tmp, o, s, ns, frame);
    blit(c, &tmp, x, y);
    jp_canvas_free(&tmp);
    if (frame) shift_frame(frame, x, y);
    return JP_OK;
}

jp_status jp_plot_histograms_canvas(jp_canvas *c, int x, int y, const jp_plot_opts *o,
                                    const jp_series *s, int ns, int bins,
                                    jp_plot_frame *frame, jp_error *err)
{
    jp_status st;
    jp_canvas tmp;
    if ((st = check_target(c, err)) || (st = check_opts(o, err)) ||
        (st = check_series(s, ns, err)))
        return st;
    if (bins < 1 || bins > MAX_BINS)
        return jp_fail(err, JP_ERR_ARG, "plot: %d bins is outside 1..%d", bins, MAX_BINS);
    if ((st = jp_canvas_init(&tmp, o->width, o->height, WHITE, err))) return st;
    st = draw_histograms(&tmp, o, s, ns, bins, frame, err);
    if (st == JP_OK) blit(c, &tmp, x, y);
    jp_canvas_free(&tmp);
    if (st == JP_OK && frame) shift_frame(frame, x, y);
    return st;
}

jp_status jp_plot_bars_canvas(jp_canvas *c, int x, int y, const jp_plot_opts *o,
                              const double *values, const double *reference, int n,
                              jp_plot_frame *frame, jp_error *err)
{
    jp_status st;
    jp_canvas tmp;
    if ((st = check_target(c, err)) || (st = check_opts(o, err)) ||
        (st = check_bars(values, n, err)) ||
        (st = jp_canvas_init(&tmp, o->width, o->height, WHITE, err)))
        return st;
    draw_bars(&tmp, o, values, reference, n, frame);
    blit(c, &tmp, x, y);
    jp_canvas_free(&tmp);
    if (frame) shift_frame(frame, x, y);
    return JP_OK;
}

/* The file variants draw on a canvas of the chart's size and write it. */
static jp_status start_file(const char *path, const jp_plot_opts *o, jp_canvas *c,
                            jp_error *err)
{
    c->rgb = NULL;
    if (!path) return jp_fail(err, JP_ERR_ARG, "plot: output path is NULL");
    jp_status st = check_opts(o, err);
    if (st) return st;
    return jp_canvas_init(c, o->width, o->height, WHITE, err);
}

static jp_status finish_file(const char *path, jp_canvas *c, jp_status st, jp_error *err)
{
    if (st == JP_OK) st = jp_canvas_write_png(c, path, err);
    jp_canvas_free(c);
    return st;
}

jp_status jp_plot_lines(const char *path, const jp_plot_opts *o, const jp_series *s, int ns,
                        jp_error *err)
{
    jp_canvas c;
    jp_status st = check_series(s, ns, err);
    if (st || (st = start_file(path, o, &c, err))) return st;
    draw_lines(&c, o, s, ns, NULL);
    return finish_file(path, &c, JP_OK, err);
}

jp_status jp_plot_histograms(const char *path, const jp_plot_opts *o, const jp_series *s,
                             int ns, int bins, jp_error *err)
{
    jp_canvas c;
    jp_status st = check_series(s, ns, err);
    if (st) return st;
    if (bins < 1 || bins > MAX_BINS)
        return jp_fail(err, JP_ERR_ARG, "plot: %d bins is outside 1..%d", bins, MAX_BINS);
    if ((st = start_file(path, o, &c, err))) return st;
    st = draw_histograms(&c, o, s, ns, bins, NULL, err);
    return finish_file(path, &c, st, err);
}

jp_status jp_plot_bars(const char *path, const jp_plot_opts *o, const double *values,
                       const double *reference, int n, jp_error *err)
{
    jp_canvas c;
    jp_status st = check_bars(values, n, err);
    if (st || (st = start_file(path, o, &c, err))) return st;
    draw_bars(&c, o, values, reference, n, NULL);
    return finish_file(path, &c, JP_OK, err);
}
