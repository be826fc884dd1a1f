/* PNG images through libpng: a reader for image folders (and anything else that
 * wants pixels), a plain 8-bit writer, and an image-grid writer for samples.
 * Every libpng error is caught (setjmp) and turned into a jp_error that names the
 * file; nothing here aborts or prints. Writes are atomic (temporary file + rename). */
#ifndef JEMPP_PNG_H
#define JEMPP_PNG_H

#include <stddef.h>

#include "jempp/core.h"

/* 8-bit pixels, row-major, interleaved: pixels[(y*w + x)*channels + k].
 * channels: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA. */
typedef struct {
    unsigned char *pixels; /* (h, w, channels) */
    int w, h, channels;
} jp_image;

/* Largest width or height the reader accepts, and the largest decoded size in bytes;
 * larger files are refused with JP_ERR_FORMAT before any pixel memory is taken. */
#define JP_PNG_MAX_SIDE 16384
#define JP_PNG_MAX_BYTES ((size_t)512 << 20)

/* Reads a PNG file. Guarantees: on JP_OK, img holds 8-bit pixels with 1..4 channels
 * (palette images become RGB or RGBA, gray below 8 bits is expanded, 16-bit samples
 * are reduced to their high byte, transparency chunks become an alpha channel,
 * interlacing is undone); on error img is empty and err names the file and the
 * problem (not a PNG, truncated, CRC error, too large...). */
jp_status jp_png_read(jp_image *img, const char *path, jp_error *err);
/* The same from memory; `name` is used in messages. */
jp_status jp_png_decode(jp_image *img, const void *buf, size_t len, const char *name,
                        jp_error *err);
void jp_image_free(jp_image *img);

/* Writes w x h pixels with 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA) channels,
 * interleaved as in jp_image. Atomic: the file appears complete or not at all. */
jp_status jp_png_write_rgb(const char *path, const unsigned char *pixels, int w, int h,
                           int channels, jp_error *err);

/* Writes n images x (n, c, h, w), values in [-1, 1], as one grid image of
 * min(ncols, n) columns and ceil(n / ncols) rows with 2 pixels of black padding
 * between and around the images (torchvision make_grid(padding=2) geometry).
 * Pixel = clamp(round((x + 1) / 2 * 255)) with 0.5 rounding as torchvision's
 * save_image; c == 1 gives a gray PNG, c == 3 an RGB one (other c: JP_ERR_ARG). */
jp_status jp_png_write_grid(const char *path, const float *x, int n, int c, int h, int w,
                            int ncols, jp_error *err);

#endif
