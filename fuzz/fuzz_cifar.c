/* libFuzzer harness for the CIFAR binary reader: the input is parsed as a CIFAR-10
 * batch, a CIFAR-100 file with coarse labels and one with fine labels. */
#include <stdint.h>

#include "data/readers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int variants[3][3] = {{1, 0, 10}, {2, 0, 20}, {2, 1, 100}};
    for (int v = 0; v < 3; v++) {
        jp_error e;
        jp_raw_set r;
        if (jp_cifar_parse(&r, data, size, "input", variants[v][0], variants[v][1],
                           variants[v][2], &e) == JP_OK)
            jp_raw_free(&r);
    }
    return 0;
}
