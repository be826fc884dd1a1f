/* PNG reader and writers: round trips of every channel count, files written by libpng
 * directly in the forms our writer never produces (palette, 16-bit, 1-bit gray,
 * interlaced, tRNS), the image grid's geometry and value mapping, and bad files
 * (not a PNG, truncated, CRC error, absurd size) refused with the file's name.
 * `test_png --write-seeds DIR` also copies the libpng-written files to DIR/fuzz_png. */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "jempp/png.h"
#include "testutil.h"

static char tmp[512];
static const char *seed_dir = NULL; /* --write-seeds DIR: copies the files into DIR/fuzz_png */

static void seed_copy(const char *path, const char *name)
{
    if (!seed_dir) return;
    char dst[1024];
    snprintf(dst, sizeof dst, "%s/fuzz_png", seed_dir);
    mkdir(seed_dir, 0755);
    mkdir(dst, 0755);
    snprintf(dst, sizeof dst, "%s/fuzz_png/%s", seed_dir, name);
    FILE *in = fopen(path, "rb"), *out = fopen(dst, "wb");
    char buf[4096];
    size_t n;
    while (in && out && (n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, out);
    if (in) fclose(in);
    if (out) fclose(out);
}

static const char *P(const char *rel)
{
    static char buf[4][1024];
    static int k = 0;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmp, rel);
    return buf[k];
}

/* Writes a PNG with libpng directly: any color type / depth / interlace. `rows` are
 * packed as libpng expects for that format. */
static int raw_png(const char *path, int w, int h, int depth, int color, int interlace,
                   unsigned char **rows, const png_color *palette, int npal,
                   const unsigned char *trans, int ntrans)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        fclose(f);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color, interlace,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (palette) png_set_PLTE(png, info, palette, npal);
    if (trans) png_set_tRNS(png, info, trans, ntrans, NULL);
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    fclose(f);
    return 0;
}

static void test_roundtrip(tu_ctx *t)
{
    jp_error e = {0};
    for (int ch = 1; ch <= 4; ch++) {
        int w = 13, h = 7;
        unsigned char px[13 * 7 * 4];
        for (int i = 0; i < w * h * ch; i++) px[i] = (unsigned char)(i * 7 + ch);
        char name[64];
        snprintf(name, sizeof name, "rt%d.png", ch);
        jp_status s = jp_png_write_rgb(P(name), px, w, h, ch, &e);
        jp_image img;
        if (s == JP_OK) s = jp_png_read(&img, P(name), &e);
        tu_check(t, s == JP_OK && img.w == w && img.h == h && img.channels == ch &&
                        memcmp(img.pixels, px, (size_t)w * h * ch) == 0,
                 "write + read back %d channel%s exactly: %s", ch, ch > 1 ? "s" : "",
                 s ? e.msg : "ok");
        if (s == JP_OK) jp_image_free(&img);
    }
}

static void test_foreign_forms(tu_ctx *t)
{
    jp_error e = {0};
    jp_image img;
    /* palette, 4-bit, with transparency for entry 1 -> RGBA */
    png_color pal[3] = {{10, 20, 30}, {200, 100, 50}, {0, 255, 128}};
    unsigned char trans[2] = {255, 7};
    unsigned char r0[2] = {0x01, 0x20}, r1[2] = {0x12, 0x00}; /* 4 px/row: 0 1 2 0 / 1 2 0 0 */
    unsigned char *rows[2] = {r0, r1};
    raw_png(P("pal.png"), 4, 2, 4, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE, rows, pal, 3, trans, 2);
    seed_copy(P("pal.png"), "palette_trns.png");
    jp_status s = jp_png_read(&img, P("pal.png"), &e);
    int ok = s == JP_OK && img.channels == 4 && img.w == 4 && img.h == 2;
    int idx[8] = {0, 1, 2, 0, 1, 2, 0, 0};
    for (int i = 0; ok && i < 8; i++) {
        const unsigned char *p = img.pixels + 4 * i;
        const png_color *c = &pal[idx[i]];
        ok = p[0] == c->red && p[1] == c->green && p[2] == c->blue &&
             p[3] == (idx[i] < 2 ? trans[idx[i]] : 255);
    }
    tu_check(t, ok, "4-bit palette + tRNS -> RGBA: %s", s ? e.msg : "values exact");
    if (s == JP_OK) jp_image_free(&img);
    /* 16-bit RGB -> high bytes */
    unsigned char q0[3 * 2 * 2], q1[3 * 2 * 2];
    for (int i = 0; i < 12; i++) q0[i] = (unsigned char)(i * 20), q1[i] = (unsigned char)(255 - i);
    unsigned char *rows16[2] = {q0, q1};
    raw_png(P("rgb16.png"), 2, 2, 16, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, rows16, NULL, 0, NULL, 0);
    seed_copy(P("rgb16.png"), "rgb16.png");
    s = jp_png_read(&img, P("rgb16.png"), &e);
    ok = s == JP_OK && img.channels == 3;
    for (int i = 0; ok && i < 6; i++) ok = img.pixels[i] == q0[2 * i] && img.pixels[6 + i] == q1[2 * i];
    tu_check(t, ok, "16-bit RGB -> 8-bit high bytes: %s", s ? e.msg : "values exact");
    if (s == JP_OK) jp_image_free(&img);
    /* 1-bit gray, Adam7 interlaced, 11 x 9 */
    unsigned char bits[9][2];
    unsigned char *rowsb[9];
    for (int r = 0; r < 9; r++) {
        bits[r][0] = (unsigned char)(0xA5 ^ (r * 17));
        bits[r][1] = (unsigned char)((r * 0x60) & 0xE0);
        rowsb[r] = bits[r];
    }
    raw_png(P("gray1i.png"), 11, 9, 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_ADAM7, rowsb, NULL, 0, NULL, 0);
    seed_copy(P("gray1i.png"), "gray1_interlaced.png");
    s = jp_png_read(&img, P("gray1i.png"), &e);
    ok = s == JP_OK && img.channels == 1 && img.w == 11 && img.h == 9;
    for (int r = 0; ok && r < 9; r++)
        for (int c = 0; ok && c < 11; c++) {
            int bit = (bits[r][c / 8] >> (7 - c % 8)) & 1;
            ok = img.pixels[r * 11 + c] == (bit ? 255 : 0);
        }
    tu_check(t, ok, "1-bit gray, interlaced -> 0/255: %s", s ? e.msg : "values exact");
    if (s == JP_OK) jp_image_free(&img);
}

static void test_grid(tu_ctx *t)
{
    jp_error e = {0};
    /* 5 RGB images of 3x4 in 2 columns: 3 rows; W = 2*(4+2)+2 = 14, H = 3*(3+2)+2 = 17 */
    float x[5 * 3 * 3 * 4];
    for (int i = 0; i < 5 * 36; i++) x[i] = -1.2f + 2.4f * (float)((i * 13) % 37) / 36.0f;
    jp_status s = jp_png_write_grid(P("grid.png"), x, 5, 3, 3, 4, 2, &e);
    jp_image img;
    if (s == JP_OK) s = jp_png_read(&img, P("grid.png"), &e);
    int ok = s == JP_OK && img.w == 14 && img.h == 17 && img.channels == 3;
    for (int gy = 0; ok && gy < 17; gy++)
        for (int gx = 0; ok && gx < 14; gx++)
            for (int k = 0; ok && k < 3; k++) {
                int want = 0, col = (gx - 2) / 6, row = (gy - 2) / 5;
                int px = (gx - 2) % 6, py = (gy - 2) % 5, i = row * 2 + col;
                if (gx >= 2 && gy >= 2 && px < 4 && py < 3 && i < 5) {
                    float v = x[i * 36 + k * 12 + py * 4 + px];
                    float u = (v + 1.0f) * 0.5f * 255.0f + 0.5f;
                    want = u < 0 ? 0 : u > 255 ? 255 : (int)u;
                }
                ok = img.pixels[(gy * 14 + gx) * 3 + k] == want;
            }
    tu_check(t, ok, "RGB grid 5 images x 2 columns: 14x17 with 2-px padding, [-1,1] -> 0..255: %s",
             s ? e.msg : "exact");
    if (s == JP_OK) jp_image_free(&img);
    float g[2 * 2 * 2] = {-1, 0, 1, 0.5f, 2, -3, 0.999f, -0.999f};
    s = jp_png_write_grid(P("gridg.png"), g, 2, 1, 2, 2, 8, &e);
    if (s == JP_OK) s = jp_png_read(&img, P("gridg.png"), &e);
    ok = s == JP_OK && img.channels == 1 && img.w == 2 * 4 + 2 && img.h == 6;
    if (ok) {
        const unsigned char *p = img.pixels;
        ok = p[2 * 10 + 2] == 0 && p[2 * 10 + 3] == 128 && p[3 * 10 + 2] == 255 &&
             p[3 * 10 + 3] == 191 && p[2 * 10 + 6] == 255 && p[2 * 10 + 7] == 0 &&
             p[3 * 10 + 6] == 255 && p[3 * 10 + 7] == 0 && p[0] == 0 && p[2 * 10 + 5] == 0;
    }
    tu_check(t, ok, "gray grid, fewer images than columns, clamping: %s", s ? e.msg : "exact");
    if (s == JP_OK) jp_image_free(&img);
    jp_status bad = jp_png_write_grid(P("g2.png"), g, 2, 2, 2, 1, 2, &e);
    tu_check(t, bad == JP_ERR_ARG, "grid of 2-channel images refused: %s", e.msg);
    bad = jp_png_write_grid("/nonexistent-dir/x.png", g, 2, 1, 2, 2, 2, &e);
    tu_check(t, bad == JP_ERR_IO && strstr(e.msg, "/nonexistent-dir"), "unwritable path: %s", e.msg);
}

static void test_bad(tu_ctx *t)
{
    jp_error e = {0};
    jp_image img;
    unsigned char px[16 * 16 * 3];
    for (int i = 0; i < (int)sizeof px; i++) px[i] = (unsigned char)(i * 31);
    jp_png_write_rgb(P("ok.png"), px, 16, 16, 3, &e);
    size_t n;
    unsigned char *b = (unsigned char *)tu_read_file(P("ok.png"), &n);
    if (!b) {
        fprintf(stderr, "cannot read %s\n", P("ok.png"));
        exit(2);
    }
    jp_status s = jp_png_decode(&img, b, n / 2, "half.png", &e);
    tu_check(t, s == JP_ERR_FORMAT && strstr(e.msg, "half.png"), "truncated PNG: %s", e.msg);
    s = jp_png_decode(&img, b, 20, "tiny.png", &e);
    tu_check(t, s == JP_ERR_FORMAT && strstr(e.msg, "tiny.png"), "PNG cut in IHDR: %s", e.msg);
    unsigned char *c = malloc(n);
    memcpy(c, b, n);
    c[n - 30] ^= 0xff; /* inside the last IDAT */
    s = jp_png_decode(&img, c, n, "crc.png", &e);
    tu_check(t, s == JP_ERR_FORMAT && strstr(e.msg, "crc.png"), "corrupt IDAT: %s", e.msg);
    memcpy(c, b, n);
    c[0] = 'G';
    s = jp_png_decode(&img, c, n, "sig.png", &e);
    tu_check(t, s == JP_ERR_FORMAT && strstr(e.msg, "not a PNG"), "bad signature: %s", e.msg);
    /* IHDR claiming 100000 x 100000 (with a correct CRC) */
    memcpy(c, b, n);
    unsigned char *ihdr = c + 8;
    unsigned w = 100000;
    for (int k = 0; k < 2; k++) {
        ihdr[8 + 4 * k] = (unsigned char)(w >> 24), ihdr[9 + 4 * k] = (unsigned char)(w >> 16);
        ihdr[10 + 4 * k] = (unsigned char)(w >> 8), ihdr[11 + 4 * k] = (unsigned char)w;
    }
    unsigned long crc = crc32(0, ihdr + 4, 17);
    ihdr[21] = (unsigned char)(crc >> 24), ihdr[22] = (unsigned char)(crc >> 16);
    ihdr[23] = (unsigned char)(crc >> 8), ihdr[24] = (unsigned char)crc;
    s = jp_png_decode(&img, c, n, "huge.png", &e);
    tu_check(t, s == JP_ERR_FORMAT && strstr(e.msg, "huge.png"), "100000x100000 refused: %s", e.msg);
    s = jp_png_read(&img, P("missing.png"), &e);
    tu_check(t, s == JP_ERR_IO && strstr(e.msg, "missing.png"), "missing file: %s", e.msg);
    free(b);
    free(c);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0) seed_dir = argv[2];
    tu_ctx t;
    tu_begin(&t, "test_png");
    tu_tmpdir(tmp, sizeof tmp, "png");
    test_roundtrip(&t);
    test_foreign_forms(&t);
    test_grid(&t);
    test_bad(&t);
    return tu_finish(&t);
}
