/* PNG reading and writing with libpng. libpng reports errors by longjmp; every entry
 * point sets up setjmp first and turns a jump into a jp_error naming the file. Writes
 * encode into memory and then replace the file atomically. */
#include <errno.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "io/atomic_file.h"
#include "jempp/png.h"

typedef struct {
    const char *name;
    char msg[256];
    /* memory reader */
    const unsigned char *buf;
    size_t len, at;
    /* memory writer */
    unsigned char *out;
    size_t out_len, out_cap;
    int out_failed;
} png_ctx;

static void on_error(png_structp png, png_const_charp msg)
{
    png_ctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg ? msg : "libpng error");
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg; /* warnings (e.g. a bad sRGB profile) do not stop the read */
}

static void read_mem(png_structp png, png_bytep out, png_size_t n)
{
    png_ctx *c = png_get_io_ptr(png);
    if (n > c->len - c->at) {
        snprintf(c->msg, sizeof c->msg, "truncated: needed %zu more bytes at offset %zu of %zu",
                 (size_t)n, c->at, c->len);
        png_longjmp(png, 2);
    }
    memcpy(out, c->buf + c->at, n);
    c->at += n;
}

static jp_status decode(jp_image *img, const unsigned char *buf, size_t len, const char *name,
                        jp_error *err)
{
    memset(img, 0, sizeof *img);
    if (len < 8 || png_sig_cmp(buf, 0, 8) != 0)
        return jp_fail(err, JP_ERR_FORMAT, "%s: not a PNG file (the first 8 bytes are not the "
                       "PNG signature 89 50 4e 47 0d 0a 1a 0a)", name);
    png_ctx c;
    memset(&c, 0, sizeof c);
    c.name = name;
    c.buf = buf;
    c.len = len;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &c, on_error, on_warning);
    if (!png) return jp_fail(err, JP_ERR_NOMEM, "%s: cannot create a PNG reader", name);
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return jp_fail(err, JP_ERR_NOMEM, "%s: cannot create a PNG reader", name);
    }
    unsigned char *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        free(pixels);
        free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        return jp_fail(err, JP_ERR_FORMAT, "%s: bad PNG: %s", name, c.msg);
    }
    png_set_read_fn(png, &c, read_mem);
    png_set_user_limits(png, JP_PNG_MAX_SIDE, JP_PNG_MAX_SIDE);
    png_set_chunk_malloc_max(png, (png_alloc_size_t)64 << 20);
    png_read_info(png, info);
    png_uint_32 w, h;
    int depth, color, interlace;
    png_get_IHDR(png, info, &w, &h, &depth, &color, &interlace, NULL, NULL);
    /* deflate expands at most ~1032:1, so a file too small for its declared size cannot
     * be decoded: refuse it before taking the memory (a truncated file, or a bomb) */
    double raw = (double)h * ((double)png_get_rowbytes(png, info) + 1.0);
    if (raw > 1100.0 * (double)len + 65536.0) {
        snprintf(c.msg, sizeof c.msg, "declares %ux%u pixels (%.0f bytes of image data) but "
                 "the file holds only %zu bytes", (unsigned)w, (unsigned)h, raw, len);
        png_longjmp(png, 3);
    }
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    if (depth == 16) png_set_strip_16(png);
    if (interlace != PNG_INTERLACE_NONE) png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int ch = png_get_channels(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if (ch < 1 || ch > 4 || png_get_bit_depth(png, info) != 8 || rowbytes != (size_t)w * ch) {
        snprintf(c.msg, sizeof c.msg, "unsupported layout after conversion (%d channels, %d bits)",
                 ch, png_get_bit_depth(png, info));
        png_longjmp(png, 3);
    }
    if ((size_t)h * rowbytes > JP_PNG_MAX_BYTES) {
        snprintf(c.msg, sizeof c.msg, "%ux%u pixels with %d channels exceeds the %zu-byte limit",
                 (unsigned)w, (unsigned)h, ch, JP_PNG_MAX_BYTES);
        png_longjmp(png, 3);
    }
    pixels = malloc((size_t)h * rowbytes);
    rows = malloc((size_t)h * sizeof(png_bytep));
    if (!pixels || !rows) {
        snprintf(c.msg, sizeof c.msg, "cannot allocate %zu bytes", (size_t)h * rowbytes);
        png_longjmp(png, 3);
    }
    for (png_uint_32 r = 0; r < h; r++) rows[r] = pixels + (size_t)r * rowbytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    img->pixels = pixels;
    img->w = (int)w;
    img->h = (int)h;
    img->channels = ch;
    return JP_OK;
}

jp_status jp_png_decode(jp_image *img, const void *buf, size_t len, const char *name,
                        jp_error *err)
{
    return decode(img, buf, len, name, err);
}

jp_status jp_png_read(jp_image *img, const char *path, jp_error *err)
{
    memset(img, 0, sizeof *img);
    FILE *f = fopen(path, "rb");
    if (!f) return jp_fail(err, JP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return jp_fail(err, JP_ERR_IO, "%s: cannot seek", path);
    }
    long len = ftell(f);
    rewind(f);
    if (len < 0) {
        fclose(f);
        return jp_fail(err, JP_ERR_IO, "%s: cannot tell its size", path);
    }
    unsigned char *buf = malloc((size_t)len + 1);
    if (!buf) {
        fclose(f);
        return jp_fail(err, JP_ERR_NOMEM, "%s: cannot allocate %ld bytes", path, len);
    }
    size_t got = fread(buf, 1, (size_t)len, f);
    fclose(f);
    if (got != (size_t)len) {
        free(buf);
        return jp_fail(err, JP_ERR_IO, "%s: read %zu of %ld bytes", path, got, len);
    }
    jp_status s = decode(img, buf, (size_t)len, path, err);
    free(buf);
    return s;
}

void jp_image_free(jp_image *img)
{
    if (!img) return;
    free(img->pixels);
    memset(img, 0, sizeof *img);
}

static void write_mem(png_structp png, png_bytep data, png_size_t n)
{
    png_ctx *c = png_get_io_ptr(png);
    if (c->out_len + n > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap < c->out_len + n) cap *= 2;
        unsigned char *p = realloc(c->out, cap);
        if (!p) {
            snprintf(c->msg, sizeof c->msg, "out of memory encoding");
            png_longjmp(png, 4);
        }
        c->out = p;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, data, n);
    c->out_len += n;
}

static void flush_mem(png_structp png) { (void)png; }

jp_status jp_png_write_rgb(const char *path, const unsigned char *pixels, int w, int h,
                           int channels, jp_error *err)
{
    if (w < 1 || h < 1 || channels < 1 || channels > 4 || w > 1000000 || h > 1000000)
        return jp_fail(err, JP_ERR_ARG, "%s: cannot write a %dx%d PNG with %d channels", path, w,
                       h, channels);
    static const int types[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                 PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
    png_ctx c;
    memset(&c, 0, sizeof c);
    c.name = path;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &c, on_error, on_warning);
    if (!png) return jp_fail(err, JP_ERR_NOMEM, "%s: cannot create a PNG writer", path);
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return jp_fail(err, JP_ERR_NOMEM, "%s: cannot create a PNG writer", path);
    }
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        free(rows);
        free(c.out);
        png_destroy_write_struct(&png, &info);
        return jp_fail(err, JP_ERR_IO, "%s: PNG encoding failed: %s", path, c.msg);
    }
    png_set_write_fn(png, &c, write_mem, flush_mem);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, types[channels],
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 6);
    png_write_info(png, info);
    rows = malloc((size_t)h * sizeof(png_bytep));
    if (!rows) {
        snprintf(c.msg, sizeof c.msg, "out of memory");
        png_longjmp(png, 4);
    }
    for (int r = 0; r < h; r++)
        rows[r] = (png_bytep)(pixels + (size_t)r * (size_t)w * (size_t)channels);
    png_write_image(png, rows);
    png_write_end(png, info);
    free(rows);
    png_destroy_write_struct(&png, &info);
    jp_status s = jp_write_file_atomic(path, c.out, c.out_len, err);
    free(c.out);
    return s;
}

jp_status jp_png_write_grid(const char *path, const float *x, int n, int c, int h, int w,
                            int ncols, jp_error *err)
{
    if (n < 1 || h < 1 || w < 1 || ncols < 1 || (c != 1 && c != 3))
        return jp_fail(err, JP_ERR_ARG, "%s: cannot write a grid of %d images of %d channel(s) x %d x %d "
                       "in %d columns (channels must be 1 or 3)", path, n, c, h, w, ncols);
    const int pad = 2;
    int cols = ncols < n ? ncols : n;
    int rows = (n + cols - 1) / cols;
    int W = cols * (w + pad) + pad, H = rows * (h + pad) + pad;
    unsigned char *img = calloc((size_t)W * H * (size_t)c, 1);
    if (!img) return jp_fail(err, JP_ERR_NOMEM, "%s: cannot allocate a %dx%d grid", path, W, H);
    size_t hw = (size_t)h * w;
    for (int i = 0; i < n; i++) {
        int gy = pad + (i / cols) * (h + pad), gx = pad + (i % cols) * (w + pad);
        const float *src = x + (size_t)i * c * hw;
        for (int r = 0; r < h; r++)
            for (int q = 0; q < w; q++)
                for (int k = 0; k < c; k++) {
                    float v = src[(size_t)k * hw + (size_t)r * w + q];
                    float u = (v + 1.0f) * 0.5f * 255.0f + 0.5f;
                    if (!(u >= 0.0f)) u = 0.0f; /* NaN too */
                    if (u > 255.0f) u = 255.0f;
                    img[((size_t)(gy + r) * W + (size_t)(gx + q)) * c + k] = (unsigned char)u;
                }
    }
    jp_status s = jp_png_write_rgb(path, img, W, H, c, err);
    free(img);
    return s;
}
