/* Plot module: canvas primitives and the font, then line charts, histograms and bar
 * charts drawn both on canvases (checked against the returned frame) and as PNG files
 * read back with libpng (size, byte equality with the canvas, the frame found
 * independently), argument errors and I/O errors. */
#include <float.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jempp/plot.h"
#include "testutil.h"

static const jp_rgb WHITE = {255, 255, 255};

static int same(jp_rgb a, jp_rgb b) { return a.r == b.r && a.g == b.g && a.b == b.b; }

/* Reads an RGB PNG with libpng; NULL if it cannot. */
static unsigned char *read_png(const char *path, int *w, int *h)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&im, path)) return NULL;
    im.format = PNG_FORMAT_RGB;
    unsigned char *buf = malloc(PNG_IMAGE_SIZE(im));
    if (!buf || !png_image_finish_read(&im, NULL, buf, 0, NULL)) {
        free(buf);
        png_image_free(&im);
        return NULL;
    }
    *w = (int)im.width;
    *h = (int)im.height;
    return buf;
}

static int file_exists(const char *path) { return access(path, F_OK) == 0; }

/* Pixels of colour col in the rectangle [x0, x1] x [y0, y1] (clipped). */
static int count_color(const jp_canvas *c, int x0, int y0, int x1, int y1, jp_rgb col)
{
    int n = 0;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++)
            if (x >= 0 && y >= 0 && x < c->w && y < c->h && same(jp_canvas_get(c, x, y), col))
                n++;
    return n;
}

/* Colour col within +-r pixels of the data point (x, y). */
static int near_point(const jp_canvas *c, const jp_plot_frame *f, double x, double y, int r,
                      jp_rgb col)
{
    int px = (int)lround(jp_plot_frame_px(f, x)), py = (int)lround(jp_plot_frame_py(f, y));
    return count_color(c, px - r, py - r, px + r, py + r, col) > 0;
}

/* Rows in which more than half of the pixels are black: the frame's top and bottom. */
static int black_rows(const unsigned char *rgb, int w, int h, int *first, int *last)
{
    int n = 0;
    *first = *last = -1;
    for (int y = 0; y < h; y++) {
        int k = 0;
        for (int x = 0; x < w; x++) {
            const unsigned char *p = rgb + ((size_t)y * w + x) * 3;
            k += p[0] == 0 && p[1] == 0 && p[2] == 0;
        }
        if (k > w / 2) {
            if (*first < 0) *first = y;
            *last = y;
            n++;
        }
    }
    return n;
}

static void test_canvas(tu_ctx *t)
{
    jp_canvas c;
    jp_error err;
    tu_check(t, jp_canvas_init(&c, 0, 10, WHITE, &err) == JP_ERR_ARG && c.rgb == NULL,
             "canvas 0 x 10 refused");
    tu_check(t, jp_canvas_init(&c, 40, 30, WHITE, &err) == JP_OK && c.w == 40 && c.h == 30,
             "canvas 40 x 30");
    jp_rgb red = {255, 0, 0}, blue = {0, 0, 255};
    tu_check(t, same(jp_canvas_get(&c, 5, 5), WHITE), "canvas starts with the background");
    jp_canvas_line(&c, 0, 0, 39, 29, 1, red);
    tu_check(t, same(jp_canvas_get(&c, 0, 0), red) && same(jp_canvas_get(&c, 39, 29), red),
             "line reaches both ends");
    tu_check(t, count_color(&c, 0, 0, 39, 29, red) == 40,
             "1-pixel Bresenham line has 40 pixels (got %d)", count_color(&c, 0, 0, 39, 29, red));
    jp_canvas_line(&c, 0, 20, 39, 20, 3, blue);
    tu_check(t, count_color(&c, 0, 19, 39, 21, blue) >= 39 * 3 &&
                 count_color(&c, 0, 0, 39, 18, blue) == 0 &&
                 count_color(&c, 0, 22, 39, 29, blue) == 0,
             "3-pixel pen covers rows 19..21 only");
    /* clipping: huge and non-finite coordinates */
    jp_canvas_line(&c, -1e300, 10, 1e300, 10, 1, blue);
    tu_check(t, count_color(&c, 0, 10, 39, 10, blue) == 40, "huge line clipped to the canvas");
    jp_rgb green = {0, 255, 0};
    jp_canvas_line(&c, NAN, 1, 5, 5, 1, green);
    jp_canvas_line(&c, 1, 1, INFINITY, 5, 1, green);
    tu_check(t, count_color(&c, 0, 0, 39, 29, green) == 0, "non-finite lines draw nothing");
    jp_canvas_rect(&c, 2, 2, 6, 5, green, 0);
    tu_check(t, count_color(&c, 2, 2, 6, 5, green) == 14 && !same(jp_canvas_get(&c, 4, 3), green),
             "rectangle outline");
    jp_canvas_rect(&c, 30, 25, 50, 50, green, 1);
    tu_check(t, count_color(&c, 30, 25, 39, 29, green) == 50, "filled rectangle clipped");
    jp_canvas_set(&c, -1, 3, red); /* must not crash */
    jp_canvas_set(&c, 40, 3, red);
    jp_canvas_free(&c);
    jp_canvas_free(&c);
    tu_check(t, c.rgb == NULL, "canvas free twice is safe");

    /* font: every printable glyph but space has ink, in the cell only */
    tu_check(t, jp_text_width("", 1) == 0 && jp_text_width("AB", 1) == 11 &&
                 jp_text_width("AB", 2) == 22 && jp_text_height(1) == 8,
             "text metrics");
    int blank = 0;
    char one[2] = {0, 0};
    for (int ch = 33; ch <= 126; ch++) {
        jp_canvas g;
        jp_canvas_init(&g, 8, 10, WHITE, &err);
        one[0] = (char)ch;
        jp_canvas_text(&g, 1, 1, one, 1, (jp_rgb){0, 0, 0});
        int ink = 8 * 10 - count_color(&g, 0, 0, 7, 9, WHITE);
        int inside = count_color(&g, 1, 1, 5, 8, (jp_rgb){0, 0, 0});
        if (ink == 0 || ink != inside) blank++;
        jp_canvas_free(&g);
    }
    tu_check(t, blank == 0, "all 94 printable glyphs have ink inside their 5x8 cell (%d bad)",
             blank);
    jp_canvas_init(&c, 20, 20, WHITE, &err);
    jp_canvas_text(&c, 2, 3, "A", 2, red);
    /* 'A' row 3 is solid: font row 3 -> canvas rows 9..10, columns 2..11 */
    tu_check(t, count_color(&c, 2, 9, 11, 10, red) == 20, "scaled glyph row");
    jp_canvas_text_up(&c, 0, 19, "-", 1, blue); /* '-' is font row 3, 5 columns */
    tu_check(t,
             count_color(&c, 3, 15, 3, 19, blue) == 5 && count_color(&c, 0, 0, 19, 19, blue) == 5,
             "rotated text reads upwards");
    jp_canvas_free(&c);
}

static jp_plot_opts opts(int w, int h, double ymin, double ymax)
{
    jp_plot_opts o = {"Learning curve", "epoch", "loss", w, h, 0, ymin, ymax};
    return o;
}

static void test_lines(tu_ctx *t, const char *dir)
{
    char path[600];
    jp_error err;
    double x[5] = {0, 1, 2, 3, 4};
    double y_one[5] = {1, 1, 1, 1, 1}, y_half[5] = {0.5, 0.5, 0.5, 0.5, 0.5};
    double y_gap[5] = {1.5, 1.5, NAN, 1.5, 1.5};
    jp_series s[4] = {{"train", x, y_one, 5},
                      {"valid", x, y_half, 5},
                      {"empty", NULL, NULL, 0},
                      {NULL, x, y_gap, 5}};
    jp_plot_opts o = opts(640, 400, 0, 2);

    jp_canvas c;
    jp_canvas_init(&c, 640, 400, WHITE, &err);
    jp_plot_frame f;
    jp_status st = jp_plot_lines_canvas(&c, 0, 0, &o, s, 4, &f, &err);
    tu_check(t, st == JP_OK, "lines on canvas: %s", st ? err.msg : "ok");
    tu_check(t, f.x0 > 0 && f.x1 < 639 && f.y0 > 0 && f.y1 < 399 && f.x1 - f.x0 > 300 &&
                 f.y1 - f.y0 > 200,
             "plot area %d..%d x %d..%d inside the image", f.x0, f.x1, f.y0, f.y1);
    tu_check(t, f.xmin == 0 && f.xmax == 4 && f.ymin == 0 && f.ymax == 2,
             "frame ranges x [%g, %g] y [%g, %g]", f.xmin, f.xmax, f.ymin, f.ymax);
    int mid = (int)lround((f.y0 + f.y1) / 2.0), cx = (f.x0 + f.x1) / 2;
    tu_check(t, (int)lround(jp_plot_frame_py(&f, 1)) == mid, "y=1 maps to the middle row");
    tu_check(t, count_color(&c, cx, mid, cx, mid, jp_plot_color(0)) == 1,
             "series 0 (y=1 on [0,2]) at the vertical middle of the plot area");
    tu_check(t, count_color(&c, f.x0, f.y0, f.x1, mid - 3, jp_plot_color(0)) <= 40 &&
                 count_color(&c, f.x0, mid + 3, f.x1, f.y1, jp_plot_color(0)) == 0,
             "series 0 nowhere else in the plot area (legend sample aside)");
    tu_check(t, near_point(&c, &f, 2, 0.5, 0, jp_plot_color(1)), "series 1 at y=0.5");
    tu_check(t, count_color(&c, 0, 0, 639, 399, jp_plot_color(2)) > 0 &&
                 count_color(&c, f.x0, f.y0 + 60, f.x1, f.y1, jp_plot_color(2)) == 0,
             "empty series only in the legend");
    tu_check(t, near_point(&c, &f, 0.5, 1.5, 0, jp_plot_color(3)) &&
                 near_point(&c, &f, 3.5, 1.5, 0, jp_plot_color(3)),
             "series 3 drawn on both sides of its NaN");
    int g0 = (int)lround(jp_plot_frame_px(&f, 1)) + 3,
        g1 = (int)lround(jp_plot_frame_px(&f, 3)) - 3;
    int gy = (int)lround(jp_plot_frame_py(&f, 1.5));
    tu_check(t, count_color(&c, g0, gy - 4, g1, gy + 4, jp_plot_color(3)) == 0,
             "NaN leaves a gap between x=1 and x=3");
    /* left edge: the curve starts at x0 (no x padding) */
    tu_check(t, count_color(&c, f.x0, mid, f.x0, mid + 1, jp_plot_color(0)) >= 1,
             "curve starts at the left edge of the plot area");

    /* the same chart as a file */
    snprintf(path, sizeof path, "%s/lines.png", dir);
    st = jp_plot_lines(path, &o, s, 4, &err);
    tu_check(t, st == JP_OK, "jp_plot_lines: %s", st ? err.msg : "ok");
    int w = 0, h = 0;
    unsigned char *png = read_png(path, &w, &h);
    tu_check(t, png && w == 640 && h == 400, "PNG read back as 640 x 400 (got %d x %d)", w, h);
    if (png && w == 640 && h == 400) {
        tu_check(t, memcmp(png, c.rgb, (size_t)w * h * 3) == 0, "PNG pixels equal the canvas");
        int top, bottom;
        black_rows(png, w, h, &top, &bottom);
        tu_check(t, top == f.y0 - 1 && bottom == f.y1 + 1,
                 "frame found in the PNG at rows %d and %d (expected %d, %d)", top, bottom,
                 f.y0 - 1, f.y1 + 1);
        /* halfway between the frame lines (the 2-pixel pen covers the middle row and
         * the one below it) */
        int pm = (top + bottom) / 2, hits = 0;
        jp_rgb c0 = jp_plot_color(0);
        for (int y = pm - 1; y <= pm + 1; y++) {
            const unsigned char *p = png + ((size_t)y * w + (size_t)cx) * 3;
            hits += p[0] == c0.r && p[1] == c0.g && p[2] == c0.b;
        }
        tu_check(t, hits >= 1, "series colour in the PNG halfway between the frame lines");
    }
    free(png);
    jp_canvas_free(&c);

    /* determinism */
    jp_canvas a, b;
    jp_canvas_init(&a, 640, 400, WHITE, &err);
    jp_canvas_init(&b, 640, 400, WHITE, &err);
    jp_plot_lines_canvas(&a, 0, 0, &o, s, 4, NULL, &err);
    jp_plot_lines_canvas(&b, 0, 0, &o, s, 4, NULL, &err);
    tu_check(t, memcmp(a.rgb, b.rgb, 640 * 400 * 3) == 0, "same inputs, same pixels");
    jp_canvas_free(&a);
    jp_canvas_free(&b);

    /* 0 series: an empty framed chart; auto ranges */
    snprintf(path, sizeof path, "%s/empty.png", dir);
    jp_plot_opts oa = opts(320, 240, 0, 0);
    st = jp_plot_lines(path, &oa, NULL, 0, &err);
    png = read_png(path, &w, &h);
    int top = -1, bottom = -1, colored = 0;
    if (png) {
        black_rows(png, w, h, &top, &bottom);
        for (int i = 0; i < 10; i++) {
            jp_rgb k = jp_plot_color(i);
            for (size_t q = 0; q < (size_t)w * h; q++)
                colored += png[q * 3] == k.r && png[q * 3 + 1] == k.g && png[q * 3 + 2] == k.b;
        }
    }
    tu_check(t, st == JP_OK && png && w == 320 && h == 240 && top > 0 && bottom > top &&
                 colored == 0,
             "0 series: framed 320 x 240 chart with no series colour (%s)", st ? err.msg : "ok");
    free(png);

    /* auto range, NaN/Inf only series, x NULL, a lone point between gaps */
    double ya[6] = {3, NAN, 5, INFINITY, 4, 7};
    double yn[2] = {NAN, -INFINITY};
    jp_series sa[2] = {{"a", NULL, ya, 6}, {"nan", NULL, yn, 2}};
    jp_canvas_init(&c, 320, 240, WHITE, &err);
    st = jp_plot_lines_canvas(&c, 0, 0, &oa, sa, 2, &f, &err);
    tu_check(t, st == JP_OK && f.xmin == 0 && f.xmax == 5 && f.ymin < 3 && f.ymin > 2.5 &&
                 f.ymax > 7 && f.ymax < 7.5,
             "auto range x [%g, %g] y [%g, %g]", f.xmin, f.xmax, f.ymin, f.ymax);
    tu_check(t, near_point(&c, &f, 2, 5, 1, jp_plot_color(0)), "lone finite point drawn as a dot");
    tu_check(t, near_point(&c, &f, 4.5, 5.5, 1, jp_plot_color(0)), "segment between x=4 and x=5");
    tu_check(t, count_color(&c, f.x0, f.y0 + 40, f.x1, f.y1, jp_plot_color(1)) == 0,
             "all-NaN series draws nothing");
    jp_canvas_free(&c);

    /* log axis: y = 10^x; y <= 0 skipped */
    double xl[6] = {0, 1, 2, 3, 4, 5}, yl[6] = {1, 10, 100, 0, 1e4, 1e5};
    jp_series sl = {"log", xl, yl, 6};
    jp_plot_opts ol = opts(480, 360, 0, 0);
    ol.logy = 1;
    jp_canvas_init(&c, 480, 360, WHITE, &err);
    st = jp_plot_lines_canvas(&c, 0, 0, &ol, &sl, 1, &f, &err);
    tu_check(t, st == JP_OK && f.logy && f.ymin < 1 && f.ymax > 1e5, "log chart y [%g, %g]",
             f.ymin, f.ymax);
    tu_check(t, near_point(&c, &f, 1, 10, 0, jp_plot_color(0)) &&
                 near_point(&c, &f, 1.5, pow(10, 1.5), 1, jp_plot_color(0)),
             "log axis: y = 10^x is a straight line");
    int l0 = (int)lround(jp_plot_frame_px(&f, 2)) + 3,
        l1 = (int)lround(jp_plot_frame_px(&f, 4)) - 3;
    tu_check(t, count_color(&c, l0, f.y0 + 30, l1, f.y1, jp_plot_color(0)) == 0,
             "log axis: y = 0 leaves a gap");
    jp_canvas_free(&c);

    /* clipping to a fixed range; composition at an offset */
    double yc[3] = {-100, 1, 100};
    jp_series sc = {"clip", NULL, yc, 3};
    jp_plot_opts oc = opts(200, 150, 0, 2);
    jp_canvas_init(&c, 420, 160, WHITE, &err);
    st = jp_plot_lines_canvas(&c, 210, 5, &oc, &sc, 1, &f, &err);
    tu_check(t, st == JP_OK && f.x0 > 210 && f.y0 > 5, "chart composed at (210, 5)");
    tu_check(t, count_color(&c, 0, 0, 209, 159, jp_plot_color(0)) == 0 &&
                 count_color(&c, 0, 0, 419, f.y0 - 1, jp_plot_color(0)) == 0 &&
                 count_color(&c, 0, f.y1 + 1, 419, 159, jp_plot_color(0)) == 0,
             "data clipped to the plot area");
    tu_check(t, near_point(&c, &f, 1, 1, 0, jp_plot_color(0)), "clipped curve passes (1, 1)");
    st = jp_plot_lines_canvas(&c, -150, 100, &oc, &sc, 1, NULL, &err);
    tu_check(t, st == JP_OK, "chart partly off the canvas is clipped");
    jp_canvas_free(&c);

    /* the smallest chart and a large one */
    jp_plot_opts os = opts(64, 64, 0, 2);
    jp_canvas_init(&c, 64, 64, WHITE, &err);
    st = jp_plot_lines_canvas(&c, 0, 0, &os, s, 1, &f, &err);
    tu_check(t, st == JP_OK && near_point(&c, &f, 2, 1, 0, jp_plot_color(0)),
             "64 x 64 chart still draws the series");
    jp_canvas_free(&c);
    snprintf(path, sizeof path, "%s/large.png", dir);
    jp_plot_opts ob = opts(1200, 800, 0, 0);
    double xs[200], ys[200], ys2[200];
    for (int i = 0; i < 200; i++) {
        xs[i] = i * 50;
        ys[i] = 2.3 * exp(-i / 40.0) + 0.1;
        ys2[i] = i % 37 == 5 ? NAN : 2.5 * exp(-i / 60.0) + 0.3;
    }
    jp_series sb[2] = {{"train loss", xs, ys, 200}, {"valid loss", xs, ys2, 200}};
    st = jp_plot_lines(path, &ob, sb, 2, &err);
    tu_check(t, st == JP_OK && file_exists(path), "1200 x 800 learning curve written");
}

static void test_histograms(tu_ctx *t, const char *dir)
{
    char path[600];
    jp_error err;
    enum { N = 1000 };
    static double a[N + 2], b[N];
    for (int i = 0; i < N; i++) {
        a[i] = (i + 0.5) / N;      /* uniform on [0, 1] */
        b[i] = 1 + (i + 0.5) / N; /* uniform on [1, 2] */
    }
    a[N] = NAN;
    a[N + 1] = -INFINITY;
    b[0] = 1.0005 - 0.0005;   /* 1.0: both ends of the shared range are data */
    b[N - 1] = 2;
    a[0] = 0;
    jp_series s[2] = {{"in-dist", NULL, a, N + 2}, {"OOD", NULL, b, N}};
    jp_plot_opts o = {"Scores", "score", "density", 480, 320, 0, 0, 0};
    jp_canvas c;
    jp_plot_frame f;
    jp_canvas_init(&c, 480, 320, WHITE, &err);
    jp_status st = jp_plot_histograms_canvas(&c, 0, 0, &o, s, 2, 10, &f, &err);
    tu_check(t, st == JP_OK, "histograms on canvas: %s", st ? err.msg : "ok");
    tu_check(t, f.xmin == 0 && f.xmax == 2 && f.ymin == 0 && fabs(f.ymax - 1.05) < 1e-9,
             "shared bins over [%g, %g], density axis [%g, %g]", f.xmin, f.xmax, f.ymin, f.ymax);
    tu_check(t, near_point(&c, &f, 0.3, 1, 0, jp_plot_color(0)) &&
                 near_point(&c, &f, 0.7, 1, 0, jp_plot_color(0)),
             "in-dist outline at density 1 over [0, 1]");
    tu_check(t, near_point(&c, &f, 1.3, 1, 0, jp_plot_color(1)) &&
                 !near_point(&c, &f, 1.3, 1, 2, jp_plot_color(0)),
             "OOD outline at density 1 over [1, 2], in-dist not there");
    tu_check(t, near_point(&c, &f, 1, 0.5, 0, jp_plot_color(1)) ||
                 near_point(&c, &f, 1, 0.5, 0, jp_plot_color(0)),
             "riser at the shared edge x=1");
    int mx = (int)lround(jp_plot_frame_px(&f, 0.5));
    tu_check(t, count_color(&c, mx, (int)lround(jp_plot_frame_py(&f, 0.9)), mx,
                            (int)lround(jp_plot_frame_py(&f, 0.1)), jp_plot_color(0)) == 0,
             "outline only: the inside of a bin is empty");
    jp_canvas_free(&c);

    snprintf(path, sizeof path, "%s/hist.png", dir);
    st = jp_plot_histograms(path, &o, s, 2, 10, &err);
    int w, h;
    unsigned char *png = read_png(path, &w, &h);
    tu_check(t, st == JP_OK && png && w == 480 && h == 320, "histogram PNG 480 x 320");
    free(png);

    /* a realistic pair of score distributions, log density axis */
    static double g1[4000], g2[4000];
    jp_rng r;
    jp_rng_seed(&r, 7);
    for (int i = 0; i < 4000; i++) {
        g1[i] = jp_rng_normal(&r) - 1;
        g2[i] = 0.7 * jp_rng_normal(&r) + 1.5;
    }
    jp_series sg[2] = {{"CIFAR-10 (in)", NULL, g1, 4000}, {"SVHN (out)", NULL, g2, 4000}};
    jp_plot_opts og = {"OOD score histogram", "log p(x)", "density", 640, 400, 0, 0, 0};
    snprintf(path, sizeof path, "%s/ood.png", dir);
    st = jp_plot_histograms(path, &og, sg, 2, 40, &err);
    tu_check(t, st == JP_OK, "OOD histogram written: %s", st ? err.msg : "ok");
    og.logy = 1;
    snprintf(path, sizeof path, "%s/ood_log.png", dir);
    st = jp_plot_histograms(path, &og, sg, 2, 40, &err);
    tu_check(t, st == JP_OK, "log-density histogram written: %s", st ? err.msg : "ok");

    /* one distinct value, and all non-finite */
    double one[3] = {5, 5, 5}, none[2] = {NAN, INFINITY};
    jp_series s1[2] = {{"five", NULL, one, 3}, {"none", NULL, none, 2}};
    jp_canvas_init(&c, 480, 320, WHITE, &err);
    st = jp_plot_histograms_canvas(&c, 0, 0, &o, s1, 2, 4, &f, &err);
    tu_check(t, st == JP_OK && f.xmin == 4.5 && f.xmax == 5.5, "one value: range [%g, %g]",
             f.xmin, f.xmax);
    jp_canvas_free(&c);
}

static void test_bars(tu_ctx *t, const char *dir)
{
    char path[600];
    jp_error err;
    double acc[10], conf[10];
    for (int i = 0; i < 10; i++) {
        conf[i] = (i + 0.5) / 10;
        acc[i] = 0.8 * conf[i];
    }
    acc[3] = NAN; /* an empty confidence bin */
    jp_plot_opts o = {"Reliability", "confidence", "accuracy", 400, 400, 0, 0, 1};
    jp_canvas c;
    jp_plot_frame f;
    jp_canvas_init(&c, 400, 400, WHITE, &err);
    jp_status st = jp_plot_bars_canvas(&c, 0, 0, &o, acc, conf, 10, &f, &err);
    tu_check(t, st == JP_OK && f.xmin == 0 && f.xmax == 1 && f.ymin == 0 && f.ymax == 1,
             "bars on canvas: %s", st ? err.msg : "ok");
    int inside = 1, above = 0, ref = 1;
    for (int i = 0; i < 10; i++) {
        if (i == 3) continue;
        inside &= near_point(&c, &f, conf[i], acc[i] / 2, 0, jp_plot_color(0));
        above += near_point(&c, &f, conf[i], (acc[i] + conf[i]) / 2, 0, jp_plot_color(0));
        ref &= near_point(&c, &f, conf[i], conf[i], 0, jp_plot_color(1));
    }
    tu_check(t, inside, "every bar filled below its value");
    tu_check(t, above == 0, "no bar above its value");
    tu_check(t, ref, "reference outline at the confidence of each bin");
    int x3 = (int)lround(jp_plot_frame_px(&f, conf[3]));
    tu_check(t, count_color(&c, x3 - 2, f.y0, x3 + 2, f.y1, jp_plot_color(0)) == 0,
             "NaN bin has no bar");
    jp_canvas_free(&c);

    snprintf(path, sizeof path, "%s/reliability.png", dir);
    st = jp_plot_bars(path, &o, acc, conf, 10, &err);
    int w, h;
    unsigned char *png = read_png(path, &w, &h);
    tu_check(t, st == JP_OK && png && w == 400 && h == 400, "reliability PNG 400 x 400");
    free(png);
    snprintf(path, sizeof path, "%s/bars_auto.png", dir);
    jp_plot_opts oa = {NULL, NULL, NULL, 300, 200, 0, 0, 0};
    st = jp_plot_bars(path, &oa, acc, NULL, 10, &err);
    tu_check(t, st == JP_OK && file_exists(path), "bars without reference or titles");
    snprintf(path, sizeof path, "%s/bars_empty.png", dir);
    st = jp_plot_bars(path, &oa, NULL, NULL, 0, &err);
    tu_check(t, st == JP_OK && file_exists(path), "0 bars: empty chart");
}

/* Values at the ends of the double range: nothing may overflow, loop or crash
 * (run under -fsanitize=undefined as well). */
static void test_extremes(tu_ctx *t)
{
    jp_error err;
    double big[8] = {DBL_MAX, -DBL_MAX, 1e-308, 4.9e-324, 0, -1e300, 1e300, 1};
    double x[8] = {-DBL_MAX, 0, 1e-300, 1, 2, 3, 1e300, DBL_MAX};
    double tiny[4] = {1e-300, 1.0000000000001e-300, 1e-300, 2e-300};
    jp_series s[3] = {{"big", x, big, 8}, {"big y", NULL, big, 8}, {"tiny", NULL, tiny, 4}};
    jp_canvas c;
    jp_canvas_init(&c, 320, 240, WHITE, &err);
    int ok = 1;
    for (int logy = 0; logy < 2; logy++) {
        jp_plot_opts o = {"extremes", "x", "y", 320, 240, logy, 0, 0};
        ok &= jp_plot_lines_canvas(&c, 0, 0, &o, s, 3, NULL, &err) == JP_OK;
        ok &= jp_plot_lines_canvas(&c, 0, 0, &o, s + 2, 1, NULL, &err) == JP_OK;
        ok &= jp_plot_histograms_canvas(&c, 0, 0, &o, s, 3, 50, NULL, &err) == JP_OK;
        ok &= jp_plot_histograms_canvas(&c, 0, 0, &o, s + 2, 1, 10000, NULL, &err) == JP_OK;
        ok &= jp_plot_bars_canvas(&c, 0, 0, &o, big, tiny, 4, NULL, &err) == JP_OK;
        jp_plot_opts f = {"fixed", NULL, NULL, 320, 240, logy, 1e-320, 1e308};
        ok &= jp_plot_lines_canvas(&c, 0, 0, &f, s, 3, NULL, &err) == JP_OK;
        double narrow_hi = logy ? 1.00001e20 : 1e20 + 1e10;
        jp_plot_opts n = {"narrow", NULL, NULL, 320, 240, logy, 1e20, narrow_hi};
        ok &= jp_plot_lines_canvas(&c, 0, 0, &n, s, 3, NULL, &err) == JP_OK;
        ok &= jp_plot_bars_canvas(&c, 0, 0, &n, big, NULL, 8, NULL, &err) == JP_OK;
    }
    jp_canvas_free(&c);
    tu_check(t, ok, "extreme values, fixed and narrow ranges draw without error");
}

static void test_errors(tu_ctx *t, const char *dir)
{
    char path[600];
    jp_error err;
    double y[3] = {1, 2, 3};
    jp_series s = {"a", NULL, y, 3};
    jp_plot_opts o = opts(320, 240, 0, 0);

    snprintf(path, sizeof path, "%s/no_such_folder/plot.png", dir);
    memset(&err, 0, sizeof err);
    jp_status st = jp_plot_lines(path, &o, &s, 1, &err);
    tu_check(t, st == JP_ERR_IO && strstr(err.msg, path) != NULL,
             "bad folder: JP_ERR_IO naming the path (%s: %s)", jp_status_name(st), err.msg);
    st = jp_plot_histograms(path, &o, &s, 1, 5, &err);
    tu_check(t, st == JP_ERR_IO && strstr(err.msg, path) != NULL, "histogram bad folder");
    st = jp_plot_bars(path, &o, y, NULL, 3, &err);
    tu_check(t, st == JP_ERR_IO && strstr(err.msg, path) != NULL, "bars bad folder");

    snprintf(path, sizeof path, "%s/bad.png", dir);
    struct {
        const char *what;
        int w, h, logy;
        double ymin, ymax;
    } bad[] = {
        {"width 63", 63, 240, 0, 0, 0},         {"width 0", 0, 240, 0, 0, 0},
        {"width -5", -5, 240, 0, 0, 0},         {"height 10", 320, 10, 0, 0, 0},
        {"width 20000", 20000, 240, 0, 0, 0},   {"ymin > ymax", 320, 240, 0, 2, 1},
        {"NaN ymin", 320, 240, 0, NAN, 1},      {"Inf ymax", 320, 240, 0, 0, INFINITY},
        {"logy with ymin 0", 320, 240, 1, 0, 1},
        {"range wider than a double", 320, 240, 0, -DBL_MAX, DBL_MAX},
        {"range narrower than 1e-12 relative", 320, 240, 0, 1e20, 1e20 + 1e5},
        {"log range of no width", 320, 240, 1, 1e20, 1e20 + 1e5},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        jp_plot_opts ob = {"t",      "x",         "y",         bad[i].w,
                           bad[i].h, bad[i].logy, bad[i].ymin, bad[i].ymax};
        int ok = jp_plot_lines(path, &ob, &s, 1, &err) == JP_ERR_ARG &&
                 jp_plot_histograms(path, &ob, &s, 1, 5, &err) == JP_ERR_ARG &&
                 jp_plot_bars(path, &ob, y, NULL, 3, &err) == JP_ERR_ARG;
        tu_check(t, ok, "%s: JP_ERR_ARG from all three charts", bad[i].what);
    }
    jp_series neg = {"neg", NULL, y, -1}, noy = {"noy", NULL, NULL, 3};
    tu_check(t, jp_plot_lines(path, NULL, &s, 1, &err) == JP_ERR_ARG, "NULL options");
    tu_check(t, jp_plot_lines(NULL, &o, &s, 1, &err) == JP_ERR_ARG, "NULL path");
    tu_check(t, jp_plot_lines(path, &o, &s, -1, &err) == JP_ERR_ARG, "ns = -1");
    tu_check(t, jp_plot_lines(path, &o, NULL, 2, &err) == JP_ERR_ARG, "series NULL, ns = 2");
    tu_check(t, jp_plot_lines(path, &o, &neg, 1, &err) == JP_ERR_ARG, "series with n < 0");
    tu_check(t, jp_plot_lines(path, &o, &noy, 1, &err) == JP_ERR_ARG, "series without y");
    tu_check(t, jp_plot_histograms(path, &o, &s, 1, 0, &err) == JP_ERR_ARG &&
                 jp_plot_histograms(path, &o, &s, 1, 10001, &err) == JP_ERR_ARG,
             "bins 0 and 10001");
    tu_check(t, jp_plot_bars(path, &o, y, NULL, -1, &err) == JP_ERR_ARG &&
                 jp_plot_bars(path, &o, NULL, NULL, 3, &err) == JP_ERR_ARG,
             "bars n < 0 or values NULL");
    tu_check(t, !file_exists(path), "argument errors write nothing");
    jp_canvas empty = {0, 0, NULL};
    tu_check(t, jp_plot_lines_canvas(&empty, 0, 0, &o, &s, 1, NULL, &err) == JP_ERR_ARG,
             "empty target canvas");
}

int main(void)
{
    tu_ctx t;
    tu_begin(&t, "plot");
    char dir[512];
    tu_tmpdir(dir, sizeof dir, "plot");
    test_canvas(&t);
    test_lines(&t, dir);
    test_histograms(&t, dir);
    test_bars(&t, dir);
    test_extremes(&t);
    test_errors(&t, dir);
    printf("plots written to %s\n", dir);
    return tu_finish(&t);
}
