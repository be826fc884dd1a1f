/* libFuzzer harness for the safetensors reader (and, through it, the JSON parser).
 *
 * Each input is parsed as a file image by jp_st_read_memory. Properties checked:
 * - a rejected input gets JP_ERR_FORMAT (or JP_ERR_NOMEM) with the label in the message;
 * - an accepted input has sane entries (extent = dtype size * shape, inside the data),
 *   every tensor is readable with jp_st_get, and writing the parsed file back with the
 *   writer and reading that again yields the same tensors and metadata.
 * Crashes, sanitizer reports and failed properties (abort) are the findings.
 *
 * Seeds: with JEMPP_FUZZ_SEEDS=<folder> in the environment the harness writes a few
 * valid files into that folder and exits (scripts/fuzz-smoke.sh uses this). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jempp/safetensors.h"

#define LABEL "fuzz.safetensors"

static void require(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_safetensors: property failed: %s\n", what);
        abort();
    }
}

static void check_same(const jp_st_file *a, const jp_st_file *b)
{
    require(a->count == b->count && a->meta_count == b->meta_count, "round trip counts");
    for (int i = 0; i < a->count; i++) {
        const jp_st_entry *x = &a->entries[i], *y = jp_st_find(b, x->name);
        require(y != NULL, "round trip lost a tensor");
        require(x->dtype == y->dtype && x->ndim == y->ndim, "round trip dtype/ndim");
        require(!memcmp(x->shape, y->shape, sizeof(int64_t) * (size_t)x->ndim), "round trip shape");
        require(x->end - x->begin == y->end - y->begin, "round trip size");
        require(!memcmp(jp_st_data(a, x), jp_st_data(b, y), x->end - x->begin), "round trip bytes");
    }
    for (int i = 0; i < a->meta_count; i++) {
        const char *v = jp_st_meta(b, a->meta_keys[i]);
        require(v && !strcmp(v, a->meta_vals[i]), "round trip metadata");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    jp_st_file f;
    jp_error err = {0};
    jp_status st = jp_st_read_memory(&f, data, size, LABEL, &err);
    if (st != JP_OK) {
        require(st == JP_ERR_FORMAT || st == JP_ERR_NOMEM, "error code is FORMAT or NOMEM");
        require(strstr(err.msg, LABEL) != NULL, "error message names the file");
        require(f.entries == NULL && f.count == 0 && f.storage == NULL, "failed read leaves f empty");
        jp_st_close(&f);
        return 0;
    }
    for (int i = 0; i < f.count; i++) {
        const jp_st_entry *e = &f.entries[i];
        uint64_t n = jp_dtype_size(e->dtype);
        for (int d = 0; d < e->ndim; d++) n *= (uint64_t)e->shape[d];
        require(e->begin <= e->end && e->end <= f.data_size && e->end - e->begin == n,
                "entry extent matches dtype*shape and lies in the data");
        require(jp_st_find(&f, e->name) == e, "names are unique");
        void *dst = n <= (1u << 20) ? malloc(n ? n : 1) : NULL; /* NULL: check only */
        require(jp_st_get(&f, e->name, e->dtype, e->ndim, e->shape, dst, &err) == JP_OK,
                "jp_st_get accepts the entry's own dtype and shape");
        require(!dst || !n || !memcmp(dst, jp_st_data(&f, e), n), "jp_st_get copies the bytes");
        free(dst);
    }

    jp_st_writer w;
    jp_st_writer_init(&w);
    for (int i = 0; i < f.count; i++) {
        const jp_st_entry *e = &f.entries[i];
        jp_st_writer_add(&w, e->name, e->dtype, e->ndim, e->shape, jp_st_data(&f, e));
    }
    for (int i = 0; i < f.meta_count; i++) jp_st_writer_meta(&w, f.meta_keys[i], f.meta_vals[i]);
    unsigned char *img = NULL;
    size_t n = 0;
    st = jp_st_writer_to_memory(&w, &img, &n, &err);
    if (st == JP_OK) {
        jp_st_file g;
        st = jp_st_read_memory(&g, img, n, "rewritten", &err);
        if (st != JP_OK) fprintf(stderr, "rewritten file refused: %s\n", err.msg);
        require(st == JP_OK, "the rewritten file reads back");
        check_same(&f, &g);
        jp_st_close(&g);
    } else {
        require(st == JP_ERR_NOMEM, "writing a parsed file back only fails for memory");
    }
    free(img);
    jp_st_writer_free(&w);
    jp_st_close(&f);
    return 0;
}

/* ---- seeds ---------------------------------------------------------------- */

static void write_seed(const char *dir, const char *name, const void *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    if (!fp || fwrite(p, 1, n, fp) != n) {
        fprintf(stderr, "fuzz_safetensors: cannot write seed %s\n", path);
        exit(1);
    }
    fclose(fp);
}

static void write_writer_seed(const char *dir, const char *name, const jp_st_writer *w)
{
    unsigned char *img;
    size_t n;
    jp_error err;
    if (jp_st_writer_to_memory(w, &img, &n, &err) != JP_OK) {
        fprintf(stderr, "fuzz_safetensors: %s\n", err.msg);
        exit(1);
    }
    write_seed(dir, name, img, n);
    free(img);
}

static void write_seeds(const char *dir)
{
    float f32[2 * 3 * 3 * 3];
    double f64[3] = {3.141592653589793, -0.0, 1e-300};
    int64_t i64[2] = {INT64_MIN, 7}, nbt = 12;
    int32_t i32[2] = {-5, 1 << 30};
    uint8_t u8[3] = {0, 128, 255}, b[2] = {1, 0};
    uint64_t u64[1] = {UINT64_MAX};
    for (int i = 0; i < 54; i++) f32[i] = (float)(i - 27) / 8.0f;
    static const int64_t s4[] = {2, 3, 3, 3}, s3[] = {3}, s2[] = {2}, s1[] = {1}, s0[] = {0, 2};

    jp_st_writer w;
    jp_st_writer_init(&w);
    jp_st_writer_add(&w, "u8", JP_U8, 1, s3, u8);
    jp_st_writer_add(&w, "f.conv1.weight", JP_F32, 4, s4, f32);
    jp_st_writer_add(&w, "f64", JP_F64, 1, s3, f64);
    jp_st_writer_add(&w, "i64", JP_I64, 1, s2, i64);
    jp_st_writer_add(&w, "i32", JP_I32, 1, s2, i32);
    jp_st_writer_add(&w, "u64", JP_U64, 1, s1, u64);
    jp_st_writer_add(&w, "bool", JP_BOOL, 1, s2, b);
    jp_st_writer_add(&w, "f.layer1.0.bn1.num_batches_tracked", JP_I64, 0, NULL, &nbt);
    jp_st_writer_add(&w, "empty", JP_F32, 2, s0, NULL);
    jp_st_writer_meta(&w, "format", "jempp-checkpoint");
    jp_st_writer_meta(&w, "text", "quote\" back\\slash \n \xc3\xa9");
    write_writer_seed(dir, "all-dtypes.safetensors", &w);
    jp_st_writer_free(&w);

    jp_st_writer_init(&w);
    write_writer_seed(dir, "empty.safetensors", &w);
    jp_st_writer_add(&w, "x", JP_F32, 1, s2, f32);
    write_writer_seed(dir, "one.safetensors", &w);
    jp_st_writer_free(&w);

    /* hand-written header: whitespace, escapes, fields in another order, no padding */
    static const char json[] =
        " {\"__metadata__\" : {\"t\\u00e9xt\": \"\\ud83d\\ude42\\t\\/\"},\n"
        "  \"b\": {\"shape\": [1, 2], \"data_offsets\": [4, 12], \"dtype\": \"I32\"},\n"
        "  \"a\": {\"data_offsets\": [0, 4], \"dtype\": \"F32\", \"shape\": []} }  ";
    unsigned char img[8 + sizeof json + 12];
    size_t h = sizeof json - 1;
    for (int i = 0; i < 8; i++) img[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(img + 8, json, h);
    for (int i = 0; i < 12; i++) img[8 + h + (size_t)i] = (unsigned char)(i * 17);
    write_seed(dir, "handwritten.safetensors", img, 8 + h + 12);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = getenv("JEMPP_FUZZ_SEEDS");
    if (dir && *dir) {
        write_seeds(dir);
        exit(0);
    }
    return 0;
}
