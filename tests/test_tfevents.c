/* TensorBoard event files (jempp/tfevents.h): the CRC-32C against its check value, the
 * record framing read back here, bad input (a missing file, a file that is not a PNG),
 * then the file decoded by tools/tfevents_decode.py with Google's protobuf runtime
 * (Debian's python3-protobuf) against messages with the official field numbers: every
 * CRC, the file_version record, the scalars' tags, steps and values, and the image's
 * size, colour space and bytes. Without /usr/bin/python3 and its protobuf module the
 * decode is SKIPPED (ctest skip code) after the C checks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jempp/png.h"
#include "jempp/tfevents.h"
#include "testutil.h"

static uint32_t le32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

int main(void)
{
    tu_ctx t;
    tu_begin(&t, "test_tfevents");
    jp_error err = {0};

    /* the standard check value of CRC-32C, and TensorFlow's mask of it */
    uint32_t c = jp_crc32c("123456789", 9);
    tu_check(&t, c == 0xe3069283u, "crc32c(\"123456789\") = %#x (want 0xe3069283)", c);
    uint32_t want_masked = ((0xe3069283u >> 15) | (0xe3069283u << 17)) + 0xa282ead8u;
    tu_check(&t, jp_crc32c_masked("123456789", 9) == want_masked, "masked crc32c");

    char dir[256], path[1200], png[400], notpng[400];
    tu_tmpdir(dir, sizeof dir, "tfevents");
    jp_tfevents *w = NULL;
    jp_status st = jp_tfevents_open(&w, dir, path, sizeof path, &err);
    tu_check(&t, st == JP_OK && strstr(path, "/events.out.tfevents."), "open: %s", st ? err.msg : path);
    if (st) return tu_finish(&t);
    const char *tags1[2] = {"a/x", "a/y"}, *tags2[1] = {"a/x"};
    double v1[2] = {1.5, -2.25}, v2[1] = {3.0};
    tu_check(&t, jp_tfevents_scalars(w, 1, 2, tags1, v1, &err) == JP_OK, "two scalars at step 1");
    tu_check(&t, jp_tfevents_scalars(w, 2, 1, tags2, v2, &err) == JP_OK, "one scalar at step 2");
    unsigned char px[2 * 3 * 3];
    for (int i = 0; i < 18; i++) px[i] = (unsigned char)(i * 14);
    snprintf(png, sizeof png, "%s/img.png", dir);
    st = jp_png_write_rgb(png, px, 3, 2, 3, &err);
    if (!st) st = jp_tfevents_png_file(w, 3, "img", png, &err);
    tu_check(&t, st == JP_OK, "a 3x2 RGB PNG at step 3 (%s)", st ? err.msg : "ok");
    snprintf(notpng, sizeof notpng, "%s/not.png", dir);
    tu_write_text(dir, "not.png", "this is text, not an image\n");
    st = jp_tfevents_png_file(w, 4, "bad", notpng, &err);
    tu_check(&t, st == JP_ERR_FORMAT && strstr(err.msg, notpng), "not a PNG: JP_ERR_FORMAT naming it (%s)", err.msg);
    st = jp_tfevents_png_file(w, 4, "bad", "/nonexistent/x.png", &err);
    tu_check(&t, st == JP_ERR_IO && strstr(err.msg, "/nonexistent/x.png"), "a missing PNG: JP_ERR_IO (%s)", err.msg);
    tu_check(&t, jp_tfevents_flush(w, &err) == JP_OK, "flush");
    jp_tfevents_close(w);

    /* the records, framed and checksummed (bad input wrote none) */
    size_t n = 0;
    unsigned char *data = (unsigned char *)tu_read_file(path, &n);
    int records = 0, framed = data != NULL;
    for (size_t at = 0; framed && at < n; records++) {
        if (at + 12 > n) {
            framed = 0;
            break;
        }
        uint64_t len = le32(data + at) | (uint64_t)le32(data + at + 4) << 32;
        framed &= le32(data + at + 8) == jp_crc32c_masked(data + at, 8) && at + 16 + len <= n &&
                  le32(data + at + 12 + len) == jp_crc32c_masked(data + at + 12, (size_t)len);
        at += 16 + (size_t)len;
    }
    tu_check(&t, framed && records == 4, "%d records, each length and data CRC right (want 4)", records);
    free(data);

    /* the protobuf decode */
    if (system("/usr/bin/python3 -c 'import google.protobuf' >/dev/null 2>&1") != 0)
        return tu_skip(&t, "decoding needs /usr/bin/python3 with Debian's python3-protobuf");
    char script[1024], cmd[2600];
    tu_src_path(script, sizeof script, "tools/tfevents_decode.py");
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s' 2>&1", script, path);
    FILE *p = popen(cmd, "r");
    char out[4096] = "";
    size_t got = p ? fread(out, 1, sizeof out - 1, p) : 0;
    out[got] = 0;
    int rc = p ? pclose(p) : -1;
    printf("%s", out);
    size_t png_len = 0;
    free(tu_read_file(png, &png_len));
    char img_line[120];
    snprintf(img_line, sizeof img_line, "3 img image 2x3x3 %zu ", png_len);
    tu_check(&t, rc == 0, "tfevents_decode.py read every record (exit %d)", rc);
    tu_check(&t, strstr(out, "file_version brain.Event:2\n") != NULL, "the file_version record");
    tu_check(&t, strstr(out, "1 a/x scalar 1.5\n1 a/y scalar -2.25\n2 a/x scalar 3\n") != NULL,
             "scalars: tags, steps and values as written");
    tu_check(&t, strstr(out, img_line) != NULL, "the image: height 2, width 3, 3 channels, %zu PNG bytes", png_len);
    tu_check(&t, strstr(out, "records 4\n") != NULL, "4 records");
    return tu_finish(&t);
}
