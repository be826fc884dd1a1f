/* libFuzzer harness for the PNG reader (libpng behind setjmp error handling). */
#include <stdint.h>

#include "jempp/png.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    jp_error e;
    jp_image img;
    if (jp_png_decode(&img, data, size, "input", &e) == JP_OK) {
        volatile unsigned sum = 0;
        for (size_t i = 0; i < (size_t)img.w * img.h * img.channels; i += 97) sum += img.pixels[i];
        (void)sum;
        jp_image_free(&img);
    }
    return 0;
}
