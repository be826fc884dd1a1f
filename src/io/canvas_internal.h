/* What the chart code (plot.c) shares with the canvas (canvas.c): drawing clipped to a
 * rectangle, so that data lines and bars stay inside a chart's plot area. */
#ifndef JEMPP_IO_CANVAS_INTERNAL_H
#define JEMPP_IO_CANVAS_INTERNAL_H

#include "jempp/plot.h"

typedef struct {
    int x0, y0, x1, y1; /* inclusive */
} clip_rect;

/* The whole canvas as a clip rectangle. */
clip_rect jp_canvas_whole(const jp_canvas *c);
/* A pixel coordinate clamped to +-1e9 (before clipping and any integer conversion). */
double jp_canvas_clamp_coord(double v);
/* A line of the given pen width (1..64), drawn only inside r; non-finite ends draw nothing. */
void jp_canvas_line_in(jp_canvas *c, clip_rect r, double x0, double y0, double x1, double y1,
                       int width, jp_rgb col);
/* The filled rectangle [x0, x1] x [y0, y1] (any order), drawn only inside r. */
void jp_canvas_fill_in(jp_canvas *c, clip_rect r, int x0, int y0, int x1, int y1, jp_rgb col);

#endif
