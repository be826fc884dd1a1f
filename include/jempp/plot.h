/* Plots as PNG files without an external tool: line charts (learning curves),
 * overlaid density histograms (OOD scores) and bar charts on [0, 1] (reliability
 * diagrams), drawn into an in-memory RGB canvas with an embedded bitmap font and
 * written through jp_png_write_rgb (atomic).
 *
 * Drawing is exact and deterministic: Bresenham lines without antialiasing, so every
 * pixel of a series has exactly that series' colour (jp_plot_color(i)) and the same
 * inputs always give the same bytes. Non-finite points are skipped, never an error. */
#ifndef JEMPP_PLOT_H
#define JEMPP_PLOT_H

#include "jempp/core.h"

/* ---- canvas ------------------------------------------------------------ */
typedef struct {
    unsigned char r, g, b;
} jp_rgb;

/* w x h pixels, row-major RGB: rgb[(y*w + x)*3 + k]; (0, 0) is the top-left. */
typedef struct {
    int w, h;
    unsigned char *rgb;
} jp_canvas;

#define JP_CANVAS_MAX_SIDE 16384

/* Allocates a w x h canvas filled with `background`. JP_ERR_ARG unless
 * 1 <= w, h <= JP_CANVAS_MAX_SIDE; JP_ERR_NOMEM if the pixels cannot be allocated.
 * On error c is left empty (rgb NULL), so jp_canvas_free is always safe. */
jp_status jp_canvas_init(jp_canvas *c, int w, int h, jp_rgb background, jp_error *err);
void jp_canvas_free(jp_canvas *c);

/* Every drawing call clips to the canvas: coordinates outside it are simply not drawn,
 * whatever their size. */
void jp_canvas_set(jp_canvas *c, int x, int y, jp_rgb col);
/* The pixel at (x, y); black outside the canvas. */
jp_rgb jp_canvas_get(const jp_canvas *c, int x, int y);
/* A Bresenham line from (x0, y0) to (x1, y1) (rounded to pixel centres, both ends
 * drawn) with a square pen `width` pixels wide (width < 1 draws 1). Non-finite
 * coordinates draw nothing. */
void jp_canvas_line(jp_canvas *c, double x0, double y0, double x1, double y1, int width,
                    jp_rgb col);
/* The rectangle with inclusive corners (x0, y0) and (x1, y1) in any order: filled, or
 * its one-pixel outline. */
void jp_canvas_rect(jp_canvas *c, int x0, int y0, int x1, int y1, jp_rgb col, int filled);
/* Text in the embedded 5x7 font, each font pixel drawn as a scale x scale block
 * (scale < 1 counts as 1). (x, y) is the top-left of the first glyph's cell; the text
 * occupies jp_text_width(s, scale) x jp_text_height(scale) pixels. Characters outside
 * printable ASCII are drawn as '?'. Returns the width drawn. */
int jp_canvas_text(jp_canvas *c, int x, int y, const char *s, int scale, jp_rgb col);
/* The same text rotated a quarter turn anticlockwise (reading upwards, as a y-axis
 * label); (x, y) is the bottom-left corner of the rotated box, which spans
 * jp_text_height(scale) pixels to the right and jp_text_width(s, scale) pixels up. */
int jp_canvas_text_up(jp_canvas *c, int x, int y, const char *s, int scale, jp_rgb col);
int jp_text_width(const char *s, int scale); /* 0 for an empty string */
int jp_text_height(int scale);
/* Writes the canvas as an RGB PNG (atomic). JP_ERR_IO with the path in the message
 * when the file cannot be written. */
jp_status jp_canvas_write_png(const jp_canvas *c, const char *path, jp_error *err);

/* ---- charts ------------------------------------------------------------ */
/* One curve or one sample set. x may be NULL: x[i] = i. n == 0 is an empty series
 * (nothing drawn, still listed in the legend); label NULL is listed as "series <i>". */
typedef struct {
    const char *label;
    const double *x;
    const double *y;
    int n;
} jp_series;

/* title/xlabel/ylabel may be NULL (nothing drawn). width and height must lie in
 * [64, JP_CANVAS_MAX_SIDE]; text and lines are drawn twice as large when both are at
 * least 720, and a chart too small for text keeps only its frame and data. logy: logarithmic y axis (values <= 0 are skipped).
 * ymin == ymax: the y range is chosen from the data; otherwise ymin < ymax must hold
 * (both > 0 with logy), ymax - ymin must be finite and more than 1e-12 of their
 * magnitude (with logy: their log10 values, at least 1e-9 apart), and anything outside
 * is clipped at the plot frame. */
typedef struct {
    const char *title, *xlabel, *ylabel;
    int width, height;
    int logy;
    double ymin, ymax;
} jp_plot_opts;

/* Where a chart put its data, so that callers (and tests) can find it: the plot
 * area's inclusive pixel corners on the canvas and the data ranges at its edges
 * (x0 <-> xmin, x1 <-> xmax, y1 (bottom) <-> ymin, y0 (top) <-> ymax). */
typedef struct {
    int x0, y0, x1, y1;
    double xmin, xmax, ymin, ymax;
    int logy;
} jp_plot_frame;

/* Pixel coordinates (not rounded) of a data point under frame f; logy maps log10 and
 * puts y <= 0 at +infinity (below the frame). */
double jp_plot_frame_px(const jp_plot_frame *f, double x);
double jp_plot_frame_py(const jp_plot_frame *f, double y);
/* The colour of series i (a fixed cycle of 10 distinct colours). */
jp_rgb jp_plot_color(int i);

/* Line chart: series i in jp_plot_color(i) joining consecutive finite points (a NaN or
 * Inf in x or y, or y <= 0 with logy, breaks the line: a gap; a finite point between
 * two gaps is drawn as a dot). White background, light grid, black frame, about five (at
 * most six) labelled ticks per axis at multiples of 1, 2 or 5 x 10^k (decades with
 * logy; fewer when labels would collide), title, axis labels, and when ns > 0 a legend in the corner of the
 * plot area that hides the fewest data pixels (top right first; left out if it does
 * not fit). x range: the finite x values of the drawable points (exactly, no padding).
 * Auto y range: the finite values padded by 5%.
 * ns == 0 writes an empty framed chart. Arguments are checked before anything is
 * written: JP_ERR_ARG for bad options, ns < 0, s NULL with ns > 0, a series with
 * n < 0 or y NULL with n > 0. */
jp_status jp_plot_lines(const char *path, const jp_plot_opts *o, const jp_series *s, int ns,
                        jp_error *err);
/* Overlaid outline (step) histograms of each series' finite y values (x ignored), on
 * `bins` shared equal-width bins spanning the finite range of all series together
 * (a range of one value v becomes [v - 0.5, v + 0.5]); heights are densities
 * count / (finite count * bin width), so each outline has area 1. Auto y range:
 * [0, 1.05 * largest density]. Legend, axes and title as jp_plot_lines. bins must lie
 * in [1, 10000] (else JP_ERR_ARG); other checks as jp_plot_lines. */
jp_status jp_plot_histograms(const char *path, const jp_plot_opts *o, const jp_series *s,
                             int ns, int bins, jp_error *err);
/* Bar chart of n equal bins over x in [0, 1]: bar i spans [i/n, (i+1)/n] from 0 to
 * values[i], filled in jp_plot_color(0); reference (may be NULL) is drawn over it as
 * outlines in jp_plot_color(1) (for a reliability diagram: values = accuracy per
 * confidence bin, reference = the bin's mean confidence or its centre). Non-finite
 * values draw nothing for that bin; with logy bars start at the bottom of the frame.
 * No legend. Auto y range: the finite values and reference together with 0, padded by
 * 5% of the span away from 0 (e.g. [0, 1.05 max] for non-negative values). n == 0
 * draws an empty chart; n < 0 or values NULL with n > 0: JP_ERR_ARG. */
jp_status jp_plot_bars(const char *path, const jp_plot_opts *o, const double *values,
                       const double *reference, int n, jp_error *err);

/* The same charts drawn into an existing canvas with the chart's top-left corner at
 * (x, y) (an o->width x o->height chart, clipped to the canvas), so that several charts
 * can be composed into one image. frame (may be NULL) receives the plot area in canvas
 * coordinates. Same argument checks; nothing is drawn on error. */
jp_status jp_plot_lines_canvas(jp_canvas *c, int x, int y, const jp_plot_opts *o,
                               const jp_series *s, int ns, jp_plot_frame *frame,
                               jp_error *err);
jp_status jp_plot_histograms_canvas(jp_canvas *c, int x, int y, const jp_plot_opts *o,
                                    const jp_series *s, int ns, int bins,
                                    jp_plot_frame *frame, jp_error *err);
jp_status jp_plot_bars_canvas(jp_canvas *c, int x, int y, const jp_plot_opts *o,
                              const double *values, const double *reference, int n,
                              jp_plot_frame *frame, jp_error *err);

#endif
