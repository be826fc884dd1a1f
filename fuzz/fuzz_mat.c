/* libFuzzer harness for the MATLAB v5 reader and the SVHN conversion: parses the input
 * (uncompressed and zlib-compressed elements, either byte order), reads every element
 * of every numeric variable, then tries to make an SVHN set of it. */
#include <stdint.h>

#include "data/readers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    jp_error e;
    jp_mat_file m;
    if (jp_mat_parse(&m, data, size, "input", &e) != JP_OK) return 0;
    volatile double sink = 0;
    for (int i = 0; i < m.count; i++) {
        const jp_mat_var *v = &m.vars[i];
        if (!v->data) continue;
        for (int64_t k = 0; k < v->numel && k < 4096; k++) sink += jp_mat_value(&m, v, k);
        (void)jp_mat_class_name(v->mx_class);
    }
    (void)sink;
    jp_raw_set r;
    if (jp_svhn_from_mat(&r, &m, "input", &e) == JP_OK) jp_raw_free(&r);
    jp_mat_free(&m);
    return 0;
}
