/* libFuzzer harness for the IDX reader (MNIST, Fashion-MNIST). Input: a 4-byte
 * little-endian length L, then L bytes of an image file (gzip or raw), then a label
 * file. Both are parsed and paired exactly as jp_idx_read_pair does. */
#include <stdint.h>
#include <string.h>

#include "data/readers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void parse_pair(const uint8_t *img, size_t ni, const uint8_t *lab, size_t nl)
{
    jp_error e;
    jp_buf gz = {0};
    if (ni >= 2 && img[0] == 0x1f && img[1] == 0x8b) {
        if (jp_inflate(&gz, img, ni, 1, (size_t)64 << 20, "images", &e) != JP_OK) return;
        img = gz.data;
        ni = gz.len;
    }
    jp_idx ii, il;
    jp_raw_set r;
    if (jp_idx_parse(&ii, img, ni, "images", 3, &e) == JP_OK &&
        jp_idx_parse(&il, lab, nl, "labels", 1, &e) == JP_OK &&
        jp_idx_to_raw(&r, &ii, "images", &il, "labels", 10, &e) == JP_OK)
        jp_raw_free(&r);
    jp_buf_free(&gz);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4) return 0;
    uint32_t L;
    memcpy(&L, data, 4);
    size_t rest = size - 4;
    if (L > rest) L = (uint32_t)rest;
    parse_pair(data + 4, L, data + 4 + L, rest - L);
    return 0;
}
