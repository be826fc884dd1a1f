/* Tests of the safetensors reader/writer, its JSON parser/writer, and atomic saving:
 * round trips of every dtype and metadata, the Python-written reference file
 * (tests/data/st_python.safetensors from tools/gen_safetensors_ref.py) checked value by
 * value, every corruption the reader must reject (with the file named in the message),
 * truncation at every length and byte flips in the header (never a crash), jp_st_get
 * messages, and atomic saves that fail without leaving temporaries or touching the
 * existing file. */
#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/json.h"
#include "jempp/safetensors.h"
#include "testutil.h"

/* ---- helpers ---------------------------------------------------------- */

/* Number of directory entries whose name contains `part`. */
static int count_files(const char *dir, const char *part)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, part)) n++;
    closedir(d);
    return n;
}

/* A file image: 8-byte length, h bytes of JSON text, then `data_len` bytes 0..255. */
static unsigned char *make_image_n(const char *json, size_t h, size_t data_len, size_t *size)
{
    *size = 8 + h + data_len;
    unsigned char *b = malloc(*size);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(b + 8, json, h);
    for (size_t i = 0; i < data_len; i++) b[8 + h + i] = (unsigned char)i;
    return b;
}

static unsigned char *make_image(const char *json, size_t data_len, size_t *size)
{
    return make_image_n(json, strlen(json), data_len, size);
}

/* Parses an image that must be rejected with `code`, the label and `needle` in the message. */
static void expect_reject(tu_ctx *t, const char *what, const unsigned char *img, size_t size,
                          jp_status code, const char *needle)
{
    char label[128];
    snprintf(label, sizeof label, "crafted/%s.safetensors", what);
    jp_st_file f;
    jp_error err = {0};
    jp_status st = jp_st_read_memory(&f, img, size, label, &err);
    int ok = st == code && strstr(err.msg, label) && (!needle || strstr(err.msg, needle)) &&
             f.entries == NULL && f.count == 0;
    tu_check(t, ok, "reject %-26s -> %s: %s", what, jp_status_name(st), err.msg);
    if (!ok && needle) printf("        (expected %s containing \"%s\")\n", jp_status_name(code), needle);
    jp_st_close(&f);
}

static void expect_reject_json(tu_ctx *t, const char *what, const char *json, size_t data_len,
                               const char *needle)
{
    size_t size;
    unsigned char *img = make_image(json, data_len, &size);
    expect_reject(t, what, img, size, JP_ERR_FORMAT, needle);
    free(img);
}

static void expect_accept_json(tu_ctx *t, const char *what, const char *json, size_t data_len)
{
    size_t size;
    unsigned char *img = make_image(json, data_len, &size);
    jp_st_file f;
    jp_error err = {0};
    jp_status st = jp_st_read_memory(&f, img, size, what, &err);
    tu_check(t, st == JP_OK, "accept %-26s %s", what, st ? err.msg : "");
    jp_st_close(&f);
    free(img);
}

/* After a successful read every entry must be safe to use. */
static int entries_sane(const jp_st_file *f)
{
    for (int i = 0; i < f->count; i++) {
        const jp_st_entry *e = &f->entries[i];
        uint64_t n = jp_dtype_size(e->dtype);
        for (int d = 0; d < e->ndim; d++) n *= (uint64_t)e->shape[d];
        if (e->begin > e->end || e->end > f->data_size || e->end - e->begin != n) return 0;
        if (strlen(e->name) >= JP_ST_MAX_NAME) return 0;
    }
    return 1;
}

/* ---- JSON ------------------------------------------------------------- */

static void test_json_reader(tu_ctx *t)
{
    jp_json_doc d;
    jp_error err;
    const char *txt = "  {\"a\": [1, -2, 3.5e1, true, false, null, \"x\\u00e9\\ud83d\\ude42\\n\"],"
                      " \"b\": {}, \"c\\u0000d\": \"\"}  \n";
    jp_status st = jp_json_parse(&d, txt, strlen(txt), &err);
    tu_check(t, st == JP_OK, "json: parse a mixed document %s", st ? err.msg : "");
    if (st == JP_OK) {
        const jp_json *a = jp_json_get(d.root, "a");
        int64_t v = 0;
        int ok = a && a->type == JP_JSON_ARRAY && a->len == 7 && jp_json_int64(a->child, &v) && v == 1;
        const jp_json *c = a ? a->child->next : NULL;
        ok = ok && jp_json_int64(c, &v) && v == -2;
        c = c->next;
        ok = ok && c->type == JP_JSON_NUMBER && c->number == 35.0 && !jp_json_int64(c, &v);
        c = c->next;
        ok = ok && c->type == JP_JSON_TRUE && c->next->type == JP_JSON_FALSE &&
             c->next->next->type == JP_JSON_NULL;
        c = c->next->next->next;
        ok = ok && c->type == JP_JSON_STRING && c->len == 8 &&
             !memcmp(c->str, "x\xc3\xa9\xf0\x9f\x99\x82\n", 9);
        const jp_json *b = jp_json_get(d.root, "b");
        ok = ok && b && b->type == JP_JSON_OBJECT && b->len == 0 && !jp_json_get(d.root, "zz");
        const jp_json *cd = b->next;
        ok = ok && cd && cd->key_len == 3 && !memcmp(cd->key, "c\0d", 3);
        tu_check(t, ok, "json: values, escapes, surrogate pairs, embedded NUL in a key");
        jp_json_free(&d);
    }

    static const struct { const char *txt; int ok; int64_t v; } ints[] = {
        {"9223372036854775807", 1, INT64_MAX}, {"-9223372036854775808", 1, INT64_MIN},
        {"9223372036854775808", 0, 0},         {"-9223372036854775809", 0, 0},
        {"-0", 1, 0},                          {"1.0", 0, 0},
        {"1e2", 0, 0},                         {"123", 1, 123},
    };
    int all = 1;
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        int64_t v = 0;
        if (jp_json_parse(&d, ints[i].txt, strlen(ints[i].txt), &err) != JP_OK) {
            all = 0;
            continue;
        }
        int got = jp_json_int64(d.root, &v);
        if (got != ints[i].ok || (got && v != ints[i].v)) {
            printf("        int64 %s: got %d %lld\n", ints[i].txt, got, (long long)v);
            all = 0;
        }
        jp_json_free(&d);
    }
    tu_check(t, all, "json: integers exact to the int64 limits, fractions/exponents refused");

    static const char *bad[] = {
        "", " ", "{", "{}x", "[1,]", "{\"a\":1,}", "01", "1.", ".5", "+1", "-", "1e", "nul",
        "tru", "\"\\x\"", "\"a\x01\"", "[\"\\ud800\"]", "\"\\ud800\\u0041\"", "\"\\udc00\"",
        "\"\xff\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xe2\x82\"",
        "{\"a\":1,\"a\":2}", "NaN", "Infinity", "'a'", "/*c*/1", "[1 2]", "{\"a\" 1}", "{1:2}",
        "\"abc", "\"\\u12\"", "[", "]", "{\"a\":}", "\"\\",
    };
    all = 1;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err.msg[0] = 0;
        st = jp_json_parse(&d, bad[i], strlen(bad[i]), &err);
        if (st != JP_ERR_FORMAT || !strstr(err.msg, "at byte") || d.root) {
            printf("        accepted or odd message for bad JSON #%zu '%s': %s\n", i, bad[i], err.msg);
            all = 0;
        }
        jp_json_free(&d);
    }
    tu_check(t, all, "json: %zu malformed texts refused with a byte offset", sizeof bad / sizeof bad[0]);

    /* many keys: duplicate detection by sorting */
    char *big = malloc(200000);
    size_t n = 0;
    n += (size_t)sprintf(big + n, "{");
    for (int i = 0; i < 5000; i++) n += (size_t)sprintf(big + n, "%s\"k%d\":%d", i ? "," : "", i, i);
    sprintf(big + n, "}");
    st = jp_json_parse(&d, big, strlen(big), &err);
    tu_check(t, st == JP_OK && d.root->len == 5000, "json: 5000 distinct keys accepted");
    jp_json_free(&d);
    sprintf(big + n, ",\"k1234\":0}");
    st = jp_json_parse(&d, big, strlen(big), &err);
    tu_check(t, st == JP_ERR_FORMAT && strstr(err.msg, "duplicate key \"k1234\""),
             "json: a duplicate among 5001 keys found: %s", err.msg);
    jp_json_free(&d);

    /* nesting limit */
    n = 0;
    for (int i = 0; i < JP_JSON_MAX_DEPTH; i++) big[n++] = '[';
    for (int i = 0; i < JP_JSON_MAX_DEPTH; i++) big[n++] = ']';
    st = jp_json_parse(&d, big, n, &err);
    tu_check(t, st == JP_OK, "json: nesting of %d levels accepted", JP_JSON_MAX_DEPTH);
    jp_json_free(&d);
    n = 0;
    for (int i = 0; i < 100000; i++) big[n++] = '[';
    st = jp_json_parse(&d, big, n, &err);
    tu_check(t, st == JP_ERR_FORMAT && strstr(err.msg, "nesting"), "json: deep nesting refused: %s",
             err.msg);
    jp_json_free(&d);
    free(big);
}

static void test_json_writer(tu_ctx *t)
{
    for (int pretty = 0; pretty <= 1; pretty++) {
        jp_jw w;
        jp_error err;
        jp_jw_init(&w, pretty);
        jp_jw_begin_object(&w);
        jp_jw_key(&w, "we\"ird\\key\n");
        jp_jw_string(&w, "ctl\x01\x1f tab\t \xc3\xa9");
        jp_jw_key(&w, "nums");
        jp_jw_begin_array(&w);
        jp_jw_int(&w, INT64_MIN);
        jp_jw_uint(&w, UINT64_MAX);
        jp_jw_double(&w, 0.1);
        jp_jw_double(&w, 1e300);
        jp_jw_double(&w, 5e-324);
        jp_jw_double(&w, NAN);
        jp_jw_bool(&w, 1);
        jp_jw_null(&w);
        jp_jw_begin_object(&w);
        jp_jw_end_object(&w);
        jp_jw_begin_array(&w);
        jp_jw_end_array(&w);
        jp_jw_end_array(&w);
        jp_jw_end_object(&w);
        jp_status st = jp_jw_finish(&w, &err);
        jp_json_doc d;
        jp_status st2 = st == JP_OK ? jp_json_parse(&d, w.buf, w.len, &err) : st;
        int ok = st == JP_OK && st2 == JP_OK;
        if (ok) {
            const jp_json *k = d.root->child;
            ok = !strcmp(k->key, "we\"ird\\key\n") && !strcmp(k->str, "ctl\x01\x1f tab\t \xc3\xa9");
            const jp_json *a = jp_json_get(d.root, "nums");
            const jp_json *v = a->child;
            int64_t i64;
            ok = ok && a->len == 10 && jp_json_int64(v, &i64) && i64 == INT64_MIN;
            v = v->next;
            ok = ok && !strcmp(v->str, "18446744073709551615");
            v = v->next;
            ok = ok && v->number == 0.1 && !strcmp(v->str, "0.1");
            v = v->next;
            ok = ok && v->number == 1e300;
            v = v->next;
            ok = ok && v->number == 5e-324;
            v = v->next;
            ok = ok && v->type == JP_JSON_NULL && v->next->type == JP_JSON_TRUE;
            jp_json_free(&d);
        }
        tu_check(t, ok, "json writer (%s): escapes, extremes, shortest doubles read back",
                 pretty ? "pretty" : "compact");
        if (!ok) printf("        %s\n", w.buf ? w.buf : "(null)");
        jp_jw_free(&w);
    }
    jp_jw w;
    jp_error err;
    jp_jw_init(&w, 0);
    jp_jw_begin_object(&w);
    jp_jw_int(&w, 1); /* value without a key */
    jp_jw_end_object(&w);
    tu_check(t, jp_jw_finish(&w, &err) == JP_ERR_ARG, "json writer: a value without a key is misuse");
    jp_jw_free(&w);
    jp_jw_init(&w, 0);
    jp_jw_begin_array(&w);
    tu_check(t, jp_jw_finish(&w, &err) == JP_ERR_ARG, "json writer: an unclosed array is misuse");
    jp_jw_free(&w);
}

/* ---- round trip --------------------------------------------------------- */

typedef struct {
    float f32[24];
    double f64[3];
    int64_t i64[4];
    int32_t i32[4];
    uint8_t u8[5];
    uint64_t u64[2];
    uint8_t b[3];
    float scalar;
    float eight[2];
} rt_data;

static void fill_rt(rt_data *d)
{
    for (int i = 0; i < 24; i++) d->f32[i] = (float)i * 0.37f - 3.0f;
    d->f32[5] = -0.0f;
    d->f32[6] = NAN;
    d->f32[7] = INFINITY;
    d->f64[0] = 3.141592653589793;
    d->f64[1] = -DBL_MAX;
    d->f64[2] = DBL_MIN / 4;
    d->i64[0] = INT64_MIN, d->i64[1] = INT64_MAX, d->i64[2] = -1, d->i64[3] = 42;
    d->i32[0] = INT32_MIN, d->i32[1] = INT32_MAX, d->i32[2] = 0, d->i32[3] = -7;
    for (int i = 0; i < 5; i++) d->u8[i] = (uint8_t)(i * 60 + 15);
    d->u64[0] = UINT64_MAX, d->u64[1] = 1ull << 63;
    d->b[0] = 1, d->b[1] = 0, d->b[2] = 1;
    d->scalar = 2.5f;
    d->eight[0] = 1.0f, d->eight[1] = -1.0f;
}

static const char *META_TEXT = "quote\" backslash\\ newline\n ctl\x01 utf8 \xc3\xa9\xf0\x9f\x99\x82";

/* Adds the round-trip tensors in a deliberately mixed dtype order. */
static void add_rt(jp_st_writer *w, const rt_data *d)
{
    static const int64_t s_f32[] = {2, 3, 4}, s_f64[] = {3}, s_i64[] = {2, 2}, s_i32[] = {4},
                         s_u8[] = {5}, s_u64[] = {2}, s_b[] = {3}, s_empty[] = {0, 4},
                         s_eight[] = {1, 1, 1, 1, 1, 1, 1, 2};
    jp_st_writer_add(w, "u8", JP_U8, 1, s_u8, d->u8);
    jp_st_writer_add(w, "f.conv1.weight", JP_F32, 3, s_f32, d->f32);
    jp_st_writer_add(w, "bool", JP_BOOL, 1, s_b, d->b);
    jp_st_writer_add(w, "f64", JP_F64, 1, s_f64, d->f64);
    jp_st_writer_add(w, "i32", JP_I32, 1, s_i32, d->i32);
    jp_st_writer_add(w, "i64", JP_I64, 2, s_i64, d->i64);
    jp_st_writer_add(w, "u64", JP_U64, 1, s_u64, d->u64);
    jp_st_writer_add(w, "scalar", JP_F32, 0, NULL, &d->scalar);
    jp_st_writer_add(w, "empty", JP_F32, 2, s_empty, NULL);
    jp_st_writer_add(w, "eight.dims", JP_F32, 8, s_eight, d->eight);
    jp_st_writer_meta(w, "format", "jempp-test");
    jp_st_writer_meta(w, "text", "to be replaced");
    jp_st_writer_meta(w, "text", META_TEXT);
    jp_st_writer_meta(w, "", "empty key");
}

static void test_round_trip(tu_ctx *t, const char *dir)
{
    rt_data d;
    fill_rt(&d);
    jp_st_writer w;
    jp_st_writer_init(&w);
    add_rt(&w, &d);
    char path[600];
    snprintf(path, sizeof path, "%s/rt.safetensors", dir);
    jp_error err = {0};
    jp_status st = jp_st_writer_save(&w, path, &err);
    tu_check(t, st == JP_OK, "round trip: save %s", st ? err.msg : "");
    tu_check(t, count_files(dir, ".tmp.") == 0, "round trip: no temporary left behind");

    size_t fsize = 0;
    unsigned char *bytes = (unsigned char *)tu_read_file(path, &fsize), *mem = NULL;
    size_t msize = 0;
    st = jp_st_writer_to_memory(&w, &mem, &msize, &err);
    tu_check(t, st == JP_OK && bytes && msize == fsize && !memcmp(mem, bytes, fsize),
             "round trip: the in-memory image equals the file (%zu bytes)", fsize);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | bytes[i];
    tu_check(t, hlen % 8 == 0 && bytes[8 + hlen - 1] != '\0', "round trip: header padded to a multiple of 8 (%llu)",
             (unsigned long long)hlen);

    jp_st_file f;
    st = jp_st_read(&f, path, &err);
    tu_check(t, st == JP_OK, "round trip: read back %s", st ? err.msg : "");
    if (st != JP_OK) goto out;
    static const char *names[] = {"u8", "f.conv1.weight", "bool", "f64", "i32", "i64", "u64",
                                  "scalar", "empty", "eight.dims"};
    int order = f.count == 10;
    for (int i = 0; order && i < 10; i++) order = !strcmp(f.entries[i].name, names[i]);
    tu_check(t, order, "round trip: 10 tensors in insertion order");
    int aligned = ((uintptr_t)f.data % 64) == 0;
    for (int i = 0; i < f.count; i++)
        aligned = aligned && f.entries[i].begin % jp_dtype_size(f.entries[i].dtype) == 0;
    tu_check(t, aligned, "round trip: data 64-byte aligned in memory, every tensor at a multiple of its element size");

    rt_data g;
    memset(&g, 0x5a, sizeof g);
    static const int64_t s_f32[] = {2, 3, 4}, s_f64[] = {3}, s_i64[] = {2, 2}, s_i32[] = {4},
                         s_u8[] = {5}, s_u64[] = {2}, s_b[] = {3}, s_empty[] = {0, 4},
                         s_eight[] = {1, 1, 1, 1, 1, 1, 1, 2};
    int ok = 1;
    ok &= jp_st_get(&f, "f.conv1.weight", JP_F32, 3, s_f32, g.f32, &err) == JP_OK;
    ok &= jp_st_get(&f, "f64", JP_F64, 1, s_f64, g.f64, &err) == JP_OK;
    ok &= jp_st_get(&f, "i64", JP_I64, 2, s_i64, g.i64, &err) == JP_OK;
    ok &= jp_st_get(&f, "i32", JP_I32, 1, s_i32, g.i32, &err) == JP_OK;
    ok &= jp_st_get(&f, "u8", JP_U8, 1, s_u8, g.u8, &err) == JP_OK;
    ok &= jp_st_get(&f, "u64", JP_U64, 1, s_u64, g.u64, &err) == JP_OK;
    ok &= jp_st_get(&f, "bool", JP_BOOL, 1, s_b, g.b, &err) == JP_OK;
    ok &= jp_st_get(&f, "scalar", JP_F32, 0, NULL, &g.scalar, &err) == JP_OK;
    ok &= jp_st_get(&f, "empty", JP_F32, 2, s_empty, NULL, &err) == JP_OK;
    ok &= jp_st_get(&f, "eight.dims", JP_F32, 8, s_eight, g.eight, &err) == JP_OK;
    tu_check(t, ok, "round trip: every tensor found with its dtype and shape %s", ok ? "" : err.msg);
    ok = !memcmp(g.f32, d.f32, sizeof d.f32) && !memcmp(g.f64, d.f64, sizeof d.f64) &&
         !memcmp(g.i64, d.i64, sizeof d.i64) && !memcmp(g.i32, d.i32, sizeof d.i32) &&
         !memcmp(g.u8, d.u8, sizeof d.u8) && !memcmp(g.u64, d.u64, sizeof d.u64) &&
         !memcmp(g.b, d.b, sizeof d.b) && !memcmp(&g.scalar, &d.scalar, 4) &&
         !memcmp(g.eight, d.eight, sizeof d.eight);
    tu_check(t, ok, "round trip: all bytes identical (NaN, -0, inf, int extremes included)");
    const jp_st_entry *e = jp_st_find(&f, "empty");
    tu_check(t, e && e->ndim == 2 && e->shape[0] == 0 && e->begin == e->end,
             "round trip: a zero-size tensor keeps its shape [0,4]");
    e = jp_st_find(&f, "scalar");
    tu_check(t, e && e->ndim == 0 && e->end - e->begin == 4, "round trip: a scalar has shape []");
    const char *mt = jp_st_meta(&f, "text");
    tu_check(t, f.meta_count == 3 && mt && !strcmp(mt, META_TEXT) &&
                    !strcmp(jp_st_meta(&f, "format"), "jempp-test") &&
                    !strcmp(jp_st_meta(&f, ""), "empty key") && !jp_st_meta(&f, "absent"),
             "round trip: metadata with escapes and UTF-8, replaced value, empty key");
    jp_st_close(&f);
    tu_check(t, f.entries == NULL && f.data == NULL && f.count == 0, "close: leaves an empty file");
out:
    free(bytes);
    free(mem);
    jp_st_writer_free(&w);

    /* an empty writer is a valid file */
    jp_st_writer_init(&w);
    st = jp_st_writer_to_memory(&w, &mem, &msize, &err);
    st = st == JP_OK ? jp_st_read_memory(&f, mem, msize, "empty-writer", &err) : st;
    tu_check(t, st == JP_OK && f.count == 0 && f.meta_count == 0, "an empty writer gives a valid empty file");
    jp_st_close(&f);
    free(mem);
    jp_st_writer_free(&w);
}

/* ---- the file written by Python ------------------------------------------ */

static void test_python_file(tu_ctx *t)
{
    char path[600];
    tu_src_path(path, sizeof path, "tests/data/st_python.safetensors");
    jp_st_file f;
    jp_error err = {0};
    jp_status st = jp_st_read(&f, path, &err);
    tu_check(t, st == JP_OK && f.count == 10, "python file: read %s %s", path, st ? err.msg : "");
    if (st != JP_OK) return;
    int ok;

    float w[54], wref[54];
    static const int64_t sw[] = {2, 3, 3, 3};
    ok = jp_st_get(&f, "f.conv1.weight", JP_F32, 4, sw, w, &err) == JP_OK;
    for (int i = 0; i < 54; i++) wref[i] = (float)(i - 27) / 8.0f;
    tu_check(t, ok && !memcmp(w, wref, sizeof w), "python file: F32 [2,3,3,3] exact %s", ok ? "" : err.msg);

    float fl[8];
    const float flref[8] = {(float)0.1, -0.0f, (float)1e-40, FLT_MAX, (float)(1.0 / 3.0), INFINITY, -INFINITY, 0};
    static const int64_t s8[] = {8};
    ok = jp_st_get(&f, "floats", JP_F32, 1, s8, fl, &err) == JP_OK;
    ok = ok && !memcmp(fl, flref, 7 * sizeof(float)) && isnan(fl[7]);
    tu_check(t, ok, "python file: F32 0.1, -0, denormal, max, 1/3, +-inf, nan bit-exact");

    double db[4];
    const double dbref[4] = {3.141592653589793, 2.718281828459045, -1e300, 5e-324};
    static const int64_t s4[] = {4};
    ok = jp_st_get(&f, "doubles", JP_F64, 1, s4, db, &err) == JP_OK && !memcmp(db, dbref, sizeof db);
    tu_check(t, ok, "python file: F64 pi, e, -1e300, smallest denormal exact");

    int64_t nbt = 0, i64[4];
    static const int64_t s22[] = {2, 2};
    const int64_t i64ref[4] = {INT64_MIN, INT64_MAX, -1, 123456789012345};
    ok = jp_st_get(&f, "f.layer1.0.bn1.num_batches_tracked", JP_I64, 0, NULL, &nbt, &err) == JP_OK &&
         nbt == 7;
    ok = ok && jp_st_get(&f, "int64s", JP_I64, 2, s22, i64, &err) == JP_OK &&
         !memcmp(i64, i64ref, sizeof i64);
    tu_check(t, ok, "python file: I64 scalar (shape []) and values with extremes");

    int32_t i32[4];
    const int32_t i32ref[4] = {INT32_MIN, INT32_MAX, 0, -5};
    ok = jp_st_get(&f, "int32s", JP_I32, 1, s4, i32, &err) == JP_OK && !memcmp(i32, i32ref, sizeof i32);
    tu_check(t, ok, "python file: I32 values");

    uint8_t u8[6];
    const uint8_t u8ref[6] = {0, 51, 102, 153, 204, 255};
    static const int64_t s6[] = {6}, s3[] = {3}, s04[] = {0, 4};
    ok = jp_st_get(&f, "bytes", JP_U8, 1, s6, u8, &err) == JP_OK && !memcmp(u8, u8ref, 6);
    uint64_t u64[3];
    const uint64_t u64ref[3] = {0, UINT64_MAX, 1ull << 40};
    ok = ok && jp_st_get(&f, "uint64s", JP_U64, 1, s3, u64, &err) == JP_OK &&
         !memcmp(u64, u64ref, sizeof u64);
    uint8_t bl[3];
    ok = ok && jp_st_get(&f, "bools", JP_BOOL, 1, s3, bl, &err) == JP_OK && bl[0] == 1 &&
         bl[1] == 0 && bl[2] == 1;
    ok = ok && jp_st_get(&f, "empty", JP_F32, 2, s04, NULL, &err) == JP_OK;
    tu_check(t, ok, "python file: U8, U64 (unaligned in the file), BOOL, zero-size values");

    const char *txt = jp_st_meta(&f, "text");
    ok = f.meta_count == 3 && !strcmp(jp_st_meta(&f, "format"), "jempp-test") &&
         !strcmp(jp_st_meta(&f, "depth"), "10") && txt &&
         !strcmp(txt, "h\xc3\xa9llo \"quoted\" back\\slash tab\t newline\n \xf0\x9f\x99\x82");
    tu_check(t, ok, "python file: metadata with \\u escapes and a surrogate pair decoded");
    jp_st_close(&f);
}

/* ---- jp_st_get messages --------------------------------------------------- */

static void test_get_messages(tu_ctx *t, const char *dir)
{
    static float w[16 * 3 * 3 * 3];
    static const int64_t s[] = {16, 3, 3, 3}, want[] = {16, 1, 3, 3};
    jp_st_writer wr;
    jp_st_writer_init(&wr);
    jp_st_writer_add(&wr, "f.conv1.weight", JP_F32, 4, s, w);
    jp_st_writer_meta(&wr, "format", "jempp-checkpoint");
    char path[600], expect[1024];
    snprintf(path, sizeof path, "%s/last.safetensors", dir);
    jp_error err = {0};
    jp_st_file f;
    int ok = jp_st_writer_save(&wr, path, &err) == JP_OK && jp_st_read(&f, path, &err) == JP_OK;
    jp_st_writer_free(&wr);
    tu_check(t, ok, "get: checkpoint written and read %s", ok ? "" : err.msg);
    if (!ok) return;

    jp_status st = jp_st_get(&f, "f.conv1.weight", JP_F32, 4, want, w, &err);
    snprintf(expect, sizeof expect,
             "checkpoint %s: tensor 'f.conv1.weight' has shape [16,3,3,3], the model expects [16,1,3,3]",
             path);
    tu_check(t, st == JP_ERR_SHAPE && !strcmp(err.msg, expect), "get: shape mismatch: %s", err.msg);
    st = jp_st_get(&f, "f.conv1.weight", JP_F32, 2, want, w, &err);
    tu_check(t, st == JP_ERR_SHAPE && strstr(err.msg, "[16,3,3,3]") && strstr(err.msg, "expects [16,1]"),
             "get: rank mismatch: %s", err.msg);
    st = jp_st_get(&f, "f.conv1.weight", JP_F64, 4, s, NULL, &err);
    tu_check(t, st == JP_ERR_FORMAT && strstr(err.msg, path) && strstr(err.msg, "has dtype F32") &&
                    strstr(err.msg, "expects F64"),
             "get: dtype mismatch: %s", err.msg);
    st = jp_st_get(&f, "f.conv2.weight", JP_F32, 4, s, NULL, &err);
    tu_check(t, st == JP_ERR_FORMAT && strstr(err.msg, path) && strstr(err.msg, "no tensor 'f.conv2.weight'"),
             "get: missing tensor: %s", err.msg);
    jp_st_close(&f);

    /* outside checkpoints the wording is neutral */
    jp_st_writer_init(&wr);
    jp_st_writer_add(&wr, "mu", JP_F64, 1, s, w);
    unsigned char *img;
    size_t n;
    ok = jp_st_writer_to_memory(&wr, &img, &n, &err) == JP_OK &&
         jp_st_read_memory(&f, img, n, "stats.safetensors", &err) == JP_OK;
    jp_st_writer_free(&wr);
    static const int64_t s9[] = {9};
    st = ok ? jp_st_get(&f, "mu", JP_F64, 1, s9, NULL, &err) : JP_ERR_IO;
    tu_check(t, st == JP_ERR_SHAPE &&
                    !strcmp(err.msg, "safetensors file stats.safetensors: tensor 'mu' has shape [16], expected [9]"),
             "get: neutral wording: %s", err.msg);
    jp_st_close(&f);
    free(img);
}

/* ---- corruption ------------------------------------------------------------ */

static void test_crafted(tu_ctx *t)
{
    char name255[300], name256[300], json[1200];
    memset(name255, 'n', 255);
    name255[255] = 0;
    memset(name256, 'n', 256);
    name256[256] = 0;
    const char *E = "\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]";

    expect_reject_json(t, "malformed-json", "{\"a\":{\"dtype\":\"F32\",", 8, "malformed");
    expect_reject_json(t, "trailing-comma", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},}", 8, "malformed");
    expect_reject_json(t, "not-an-object", "[1,2]", 0, "expected a JSON object");
    expect_reject_json(t, "garbage-after", "{} x", 0, "end of input");
    size_t size;
    unsigned char *img = make_image_n("{}\0\0\0\0\0\0", 8, 0, &size);
    expect_reject(t, "nul-padding", img, size, JP_ERR_FORMAT, "found byte 0x00");
    free(img);
    expect_reject_json(t, "entry-not-object", "{\"a\":[1]}", 0, "'a'");
    expect_reject_json(t, "unknown-dtype", "{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "'F16'");
    expect_reject_json(t, "dtype-not-string", "{\"a\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "a dtype that is a number");
    expect_reject_json(t, "negative-dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1,2],\"data_offsets\":[0,8]}}", 8, "negative dimension -1");
    expect_reject_json(t, "fractional-dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,8]}}", 8, "not an integer");
    expect_reject_json(t, "exponent-dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2e0],\"data_offsets\":[0,8]}}", 8, "not an integer");
    expect_reject_json(t, "string-dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8, "not an integer");
    expect_reject_json(t, "shape-not-array", "{\"a\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", 8, "shape");
    expect_reject_json(t, "huge-dims", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4611686018427387904],\"data_offsets\":[0,8]}}", 8, "impossibly large");
    expect_reject_json(t, "huge-dim-int64", "{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,8]}}", 8, "not an integer");
    expect_reject_json(t, "size-mismatch", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "needs 12 bytes");
    expect_reject_json(t, "begin-after-end", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8, "begin after end");
    expect_reject_json(t, "offsets-3", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,8]}}", 8, "data_offsets");
    expect_reject_json(t, "offsets-negative", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[-4,-4]}}", 8, "data_offsets");
    expect_reject_json(t, "offsets-beyond", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 8, "beyond the end");
    expect_reject_json(t, "overlap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                                     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "overlap");
    expect_reject_json(t, "same-extent", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                                         "\"b\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "overlap");
    expect_reject_json(t, "empty-inside", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                                          "\"b\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}", 8, "overlap");
    expect_reject_json(t, "hole", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                                  "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12, "belong to no tensor");
    expect_reject_json(t, "trailing-data", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, "trailing");
    expect_reject_json(t, "duplicate-name", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                                            "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "duplicate key \"a\"");
    expect_reject_json(t, "duplicate-meta", "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, "duplicate");
    expect_reject_json(t, "unknown-field", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", 8, "unknown field 'x'");
    expect_reject_json(t, "missing-field", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, "no 'shape'");
    expect_reject_json(t, "meta-not-string", "{\"__metadata__\":{\"k\":1}}", 0, "expected a string");
    expect_reject_json(t, "meta-not-object", "{\"__metadata__\":[]}", 0, "__metadata__");
    expect_reject_json(t, "meta-nul", "{\"__metadata__\":{\"k\":\"a\\u0000b\"}}", 0, "NUL");
    expect_reject_json(t, "name-nul", "{\"a\\u0000b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "NUL");
    expect_reject_json(t, "bad-utf8-name", "{\"\xff\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "UTF-8");
    expect_reject_json(t, "deep-meta", "{\"__metadata__\":{\"k\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}", 0, "nesting");
    snprintf(json, sizeof json, "{\"%s\":{%s}}", name256, E);
    expect_reject_json(t, "name-256-bytes", json, 8, "256 bytes long");
    snprintf(json, sizeof json, "{\"%s\":{%s}}", name255, E);
    expect_accept_json(t, "name-255-bytes", json, 8);
    expect_reject_json(t, "nine-dims", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,2],\"data_offsets\":[0,8]}}", 8, "9 dimensions");
    expect_accept_json(t, "eight-dims", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,2],\"data_offsets\":[0,8]}}", 8);
    expect_accept_json(t, "unpadded-whitespace", " \t{\"a\":{\"data_offsets\":[0,8],\"shape\":[2],\"dtype\":\"F32\"}}\r\n ", 8);
    expect_accept_json(t, "zero-size-at-end", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                                              "\"b\":{\"dtype\":\"U8\",\"shape\":[0,5],\"data_offsets\":[8,8]}}", 8);
    expect_accept_json(t, "empty-object", "{}", 0);

    /* the length prefix */
    unsigned char small[16] = {0};
    expect_reject(t, "zero-bytes", small, 0, JP_ERR_FORMAT, "0 bytes long");
    expect_reject(t, "seven-bytes", small, 7, JP_ERR_FORMAT, "too short");
    small[0] = 9;
    expect_reject(t, "header-past-end", small, 16, JP_ERR_FORMAT, "header length 9 but only 8");
    memset(small, 0, 8);
    small[3] = 0x06; /* 0x06000000 = 100663296 > 100 MB */
    expect_reject(t, "header-over-100MB", small, 16, JP_ERR_FORMAT, "over the limit");
    memset(small, 0xff, 8);
    expect_reject(t, "header-length-2^64-1", small, 16, JP_ERR_FORMAT, "over the limit");
    memset(small, 0, 16);
    expect_reject(t, "header-length-0", small, 8, JP_ERR_FORMAT, "malformed");
}

/* Truncation at every length and byte flips in the header of a valid file. */
static void test_mutations(tu_ctx *t, const char *dir)
{
    rt_data d;
    fill_rt(&d);
    jp_st_writer w;
    jp_st_writer_init(&w);
    add_rt(&w, &d);
    unsigned char *img;
    size_t n;
    jp_error err;
    if (jp_st_writer_to_memory(&w, &img, &n, &err) != JP_OK) {
        tu_check(t, 0, "mutations: cannot build the image: %s", err.msg);
        return;
    }
    jp_st_writer_free(&w);
    char path[600];
    snprintf(path, sizeof path, "%s/cut.safetensors", dir);

    int bad = 0;
    for (size_t len = 0; len < n; len++) {
        jp_st_file f;
        jp_status st = jp_st_read_memory(&f, img, len, "cut.safetensors", &err);
        if (st != JP_ERR_FORMAT || !strstr(err.msg, "cut.safetensors")) {
            if (bad++ < 5) printf("        cut at %zu: %s %s\n", len, jp_status_name(st), err.msg);
        }
        jp_st_close(&f);
        if (!tu_write_file(path, img, len)) bad++;
        st = jp_st_read(&f, path, &err);
        if (st != JP_ERR_FORMAT || !strstr(err.msg, path)) {
            if (bad++ < 5) printf("        file cut at %zu: %s %s\n", len, jp_status_name(st), err.msg);
        }
        jp_st_close(&f);
    }
    tu_check(t, bad == 0, "truncated at each of %zu lengths (memory and file): JP_ERR_FORMAT naming the file", n);

    unsigned char *big = malloc(n + 1);
    memcpy(big, img, n);
    big[n] = 0;
    expect_reject(t, "one-byte-appended", big, n + 1, JP_ERR_FORMAT, "trailing");
    free(big);

    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | img[i];
    static const unsigned char vals[] = {'"', '}', ']', '{', '[', ',', ':', '0', '9', '-', ' ',
                                         '\\', 'e', '.', 0, 0x80, 0xff, 'u'};
    int tries = 0, accepted = 0;
    bad = 0;
    unsigned char *m = malloc(n);
    for (size_t pos = 0; pos < 8 + hlen; pos++) {
        for (int k = 0; k < 3 + (int)sizeof vals; k++) {
            memcpy(m, img, n);
            if (k < 3) m[pos] ^= (unsigned char)(k == 0 ? 0x01 : k == 1 ? 0x20 : 0x80);
            else m[pos] = vals[k - 3];
            if (m[pos] == img[pos]) continue;
            jp_st_file f;
            err.msg[0] = 0;
            jp_status st = jp_st_read_memory(&f, m, n, "flip.safetensors", &err);
            tries++;
            if (st == JP_OK) {
                accepted++;
                if (!entries_sane(&f) && bad++ < 5) printf("        flip at %zu accepted insane entries\n", pos);
            } else if (st != JP_ERR_FORMAT || !strstr(err.msg, "flip.safetensors")) {
                if (bad++ < 5) printf("        flip at %zu: %s %s\n", pos, jp_status_name(st), err.msg);
            }
            jp_st_close(&f);
        }
    }
    tu_check(t, bad == 0, "%d single-byte changes in the header: %d refused with the file named, %d "
             "still valid files with sane entries", tries, tries - accepted, accepted);
    free(m);
    free(img);
}

/* ---- atomic writes ------------------------------------------------------------ */

/* The parts of a save of dir/parts.safetensors: how many, the largest size, and the
 * first's name into first (when not NULL). */
static int list_parts(const char *dir, size_t *largest, char *first, size_t len)
{
    DIR *d = opendir(dir);
    int n = 0;
    *largest = 0;
    if (!d) return -1;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, "parts.", 6) != 0 || !strstr(de->d_name, ".part-")) continue;
        char p[1200];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        struct stat sb;
        if (stat(p, &sb) == 0 && (size_t)sb.st_size > *largest) *largest = (size_t)sb.st_size;
        if (first && strstr(de->d_name, ".part-1-of-")) snprintf(first, len, "%s", p);
        n++;
    }
    closedir(d);
    return n;
}

/* Saves in parts: every file within the limit, a tensor split by rows, read back as one
 * file equal to the single-file save; a later save removes the earlier parts; a missing
 * part or a part of another save is refused naming it; a limit below a header or a row
 * is refused. */
static void test_parts(tu_ctx *t, const char *dir)
{
    rt_data d;
    fill_rt(&d);
    enum { ROWS = 300, COLS = 7 };
    static float big[ROWS * COLS];
    static int64_t lng[50 * 3];
    for (int i = 0; i < ROWS * COLS; i++) big[i] = (float)i * 0.5f - 7.0f;
    for (int i = 0; i < 150; i++) lng[i] = (int64_t)i * 1000003 - 77;
    jp_st_writer w;
    jp_st_writer_init(&w);
    add_rt(&w, &d);
    const int64_t sb[2] = {ROWS, COLS}, sl[2] = {50, 3};
    jp_st_writer_add(&w, "big", JP_F32, 2, sb, big);
    jp_st_writer_add(&w, "long", JP_I64, 2, sl, lng);
    char path[600], first[1300], moved[1300];
    snprintf(path, sizeof path, "%s/parts.safetensors", dir);
    jp_error e;
    const size_t limit = 4096;
    jp_status st = jp_st_writer_save_parts(&w, path, limit, &e);
    size_t largest;
    int n = list_parts(dir, &largest, first, sizeof first);
    struct stat mainst;
    int main_ok = stat(path, &mainst) == 0 && (size_t)mainst.st_size <= limit;
    tu_check(t, st == JP_OK && n >= 3 && largest <= limit && main_ok,
             "save in parts of %zu bytes: %d parts, the largest %zu bytes, the main file within the limit (%s)", limit,
             n, largest, st ? e.msg : "ok");
    unsigned char *img = NULL;
    size_t img_size = 0;
    jp_st_file a, b;
    int same = 0;
    if (jp_st_writer_to_memory(&w, &img, &img_size, &e) == JP_OK && jp_st_read_memory(&a, img, img_size, "one", &e) == JP_OK) {
        if (jp_st_read(&b, path, &e) == JP_OK) {
            same = a.count == b.count;
            for (int i = 0; i < a.count && same; i++) {
                const jp_st_entry *x = &a.entries[i], *y = jp_st_find(&b, x->name);
                same = y && x->dtype == y->dtype && x->ndim == y->ndim &&
                       !memcmp(x->shape, y->shape, sizeof x->shape) && x->end - x->begin == y->end - y->begin &&
                       !memcmp(jp_st_data(&a, x), jp_st_data(&b, y), x->end - x->begin);
            }
            same = same && jp_st_meta(&b, "text") && !strcmp(jp_st_meta(&b, "text"), META_TEXT);
            jp_st_close(&b);
        } else {
            printf("        %s\n", e.msg);
        }
        jp_st_close(&a);
    }
    free(img);
    tu_check(t, same, "the parts read back as one file: every tensor and the metadata as saved");
    /* a later save: its own parts only */
    snprintf(moved, sizeof moved, "%s/old-part-1.safetensors", dir);
    rename(first, moved);
    st = jp_st_writer_save_parts(&w, path, limit, &e);
    int n2 = list_parts(dir, &largest, first, sizeof first);
    tu_check(t, st == JP_OK && n2 == n, "a second save leaves its %d parts and none of the first's (%d found)", n, n2);
    rename(moved, first); /* part 1 of the first save where the second's part 1 was */
    st = jp_st_read(&b, path, &e);
    tu_check(t, st == JP_ERR_FORMAT && strstr(e.msg, "is not part 1 of"), "a part of another save is refused: %s",
             st ? e.msg : "read");
    unlink(first);
    st = jp_st_read(&b, path, &e);
    tu_check(t, st == JP_ERR_IO && strstr(e.msg, "part 1 is unreadable"), "a missing part is named: %s",
             st ? e.msg : "read");
    st = jp_st_writer_save_parts(&w, path, 0, &e);
    n2 = list_parts(dir, &largest, NULL, 0);
    tu_check(t, st == JP_OK && n2 == 0 && jp_st_read(&b, path, &e) == JP_OK, "a save in one file removes the parts "
             "(%d left)", n2);
    if (st == JP_OK) jp_st_close(&b);
    st = jp_st_writer_save_parts(&w, path, 1000, &e);
    tu_check(t, st == JP_ERR_ARG && strstr(e.msg, "header alone"), "a limit below a header is refused: %s",
             st ? e.msg : "saved");
    jp_st_writer wr;
    jp_st_writer_init(&wr);
    const int64_t swide[2] = {2, ROWS * COLS / 2};
    jp_st_writer_add(&wr, "wide", JP_F32, 2, swide, big);
    st = jp_st_writer_save_parts(&wr, path, limit, &e);
    tu_check(t, st == JP_ERR_ARG && strstr(e.msg, "one row of tensor wide"), "a row larger than a part is refused: %s",
             st ? e.msg : "saved");
    jp_st_writer_free(&wr);
    jp_st_writer_free(&w);
}

static void test_atomic(tu_ctx *t, const char *dir)
{
    float x[256];
    for (int i = 0; i < 256; i++) x[i] = (float)i;
    static const int64_t s[] = {256};
    jp_st_writer w;
    jp_st_writer_init(&w);
    jp_st_writer_add(&w, "x", JP_F32, 1, s, x);
    jp_error err = {0};
    char path[700], sub[650];

    /* a missing folder */
    snprintf(sub, sizeof sub, "%s/no-such-folder", dir);
    snprintf(path, sizeof path, "%s/x.safetensors", sub);
    int before = count_files(dir, "");
    jp_status st = jp_st_writer_save(&w, path, &err);
    struct stat sb;
    tu_check(t, st == JP_ERR_IO && strstr(err.msg, path) && strstr(err.msg, strerror(ENOENT)) &&
                    stat(sub, &sb) != 0 && count_files(dir, "") == before,
             "save into a missing folder: JP_ERR_IO, nothing created: %s", err.msg);

    /* reading a missing file / a folder */
    jp_st_file f;
    st = jp_st_read(&f, path, &err);
    tu_check(t, st == JP_ERR_IO && strstr(err.msg, path) && strstr(err.msg, strerror(ENOENT)),
             "read a missing file: JP_ERR_IO with the path and reason: %s", err.msg);
    jp_st_close(&f);
    st = jp_st_read(&f, dir, &err);
    tu_check(t, st == JP_ERR_IO && strstr(err.msg, dir), "read a folder: JP_ERR_IO: %s", err.msg);
    jp_st_close(&f);

    /* a good file, then failing saves over it */
    snprintf(path, sizeof path, "%s/keep.safetensors", dir);
    st = jp_st_writer_save(&w, path, &err);
    size_t n0 = 0, n1 = 0;
    unsigned char *orig = (unsigned char *)tu_read_file(path, &n0);
    tu_check(t, st == JP_OK && orig && n0 > 1024, "atomic: first save %zu bytes", n0);

    float y[4096];
    memset(y, 0x11, sizeof y);
    static const int64_t sy[] = {4096};
    jp_st_writer w2;
    jp_st_writer_init(&w2);
    jp_st_writer_add(&w2, "y", JP_F32, 1, sy, y);

    /* write failure: a file size limit below the new file's size */
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 2000;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    int limited = setrlimit(RLIMIT_FSIZE, &lim) == 0;
    st = jp_st_writer_save(&w2, path, &err);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    unsigned char *now = (unsigned char *)tu_read_file(path, &n1);
    tu_check(t, limited && st == JP_ERR_IO && strstr(err.msg, path) && now && n1 == n0 &&
                    !memcmp(now, orig, n0) && count_files(dir, ".tmp.") == 0,
             "atomic: a save failing mid-write leaves the old file and no temporary: %s", err.msg);
    free(now);

    /* duplicate names are refused before anything is written */
    jp_st_writer_add(&w2, "y", JP_F32, 1, sy, y);
    st = jp_st_writer_save(&w2, path, &err);
    now = (unsigned char *)tu_read_file(path, &n1);
    tu_check(t, st == JP_ERR_ARG && strstr(err.msg, "'y'") && now && n1 == n0 && !memcmp(now, orig, n0) &&
                    count_files(dir, ".tmp.") == 0,
             "atomic: duplicate names refused, old file kept: %s", err.msg);
    free(now);
    jp_st_writer_free(&w2);

    /* rename failure: the destination is a non-empty folder */
    snprintf(sub, sizeof sub, "%s/a-folder", dir);
    mkdir(sub, 0755);
    snprintf(path, sizeof path, "%s/inside", sub);
    tu_write_file(path, "x", 1);
    st = jp_st_writer_save(&w, sub, &err);
    tu_check(t, st == JP_ERR_IO && strstr(err.msg, sub) && stat(path, &sb) == 0 &&
                    count_files(dir, ".tmp.") == 0,
             "atomic: rename over a folder fails cleanly: %s", err.msg);

    /* a successful overwrite replaces the content */
    snprintf(path, sizeof path, "%s/keep.safetensors", dir);
    x[0] = 99.0f;
    st = jp_st_writer_save(&w, path, &err);
    st = st == JP_OK ? jp_st_read(&f, path, &err) : st;
    float x0 = 0;
    static const int64_t s1[] = {256};
    float all[256];
    if (st == JP_OK) st = jp_st_get(&f, "x", JP_F32, 1, s1, all, &err);
    x0 = all[0];
    tu_check(t, st == JP_OK && x0 == 99.0f && count_files(dir, ".tmp.") == 0,
             "atomic: an overwrite replaces the file %s", st ? err.msg : "");
    jp_st_close(&f);
    free(orig);
    jp_st_writer_free(&w);
}

int main(void)
{
    tu_ctx t;
    tu_begin(&t, "test_safetensors");
    char dir[400];
    tu_tmpdir(dir, sizeof dir, "safetensors");

    tu_check(&t, jp_dtype_size(JP_F32) == 4 && jp_dtype_size(JP_F64) == 8 && jp_dtype_size(JP_I64) == 8 &&
                     jp_dtype_size(JP_I32) == 4 && jp_dtype_size(JP_U8) == 1 &&
                     jp_dtype_size(JP_U64) == 8 && jp_dtype_size(JP_BOOL) == 1 &&
                     !strcmp(jp_dtype_name(JP_BOOL), "BOOL") && !strcmp(jp_dtype_name(JP_U64), "U64"),
             "dtype sizes and names");
    test_json_reader(&t);
    test_json_writer(&t);
    test_round_trip(&t, dir);
    test_python_file(&t);
    test_get_messages(&t, dir);
    test_crafted(&t);
    test_mutations(&t, dir);
    test_atomic(&t, dir);
    test_parts(&t, dir);

    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (t.failed == 0 && system(cmd) != 0) printf("        could not remove %s\n", dir);
    return tu_finish(&t);
}
