/* A small, strict JSON reader (RFC 8259) and a tiny JSON writer.
 *
 * Reader: jp_json_parse builds a read-only tree from a byte range. It accepts only
 * well-formed JSON (no comments, no trailing commas, no NaN, no leading zeros, no raw
 * control characters in strings, valid UTF-8 escapes), rejects duplicate keys in an
 * object, limits nesting to JP_JSON_MAX_DEPTH, and allows JSON whitespace after the
 * value (safetensors pads its header with spaces). Strings are decoded to UTF-8 and
 * NUL-terminated; a string holding "\u0000" keeps its full length in `len`. Numbers
 * go through strtod/printf, which follow LC_NUMERIC: jempp never calls setlocale, so
 * '.' is the decimal point.
 * Errors say what was expected and the byte offset where it went wrong.
 *
 * Writer: jp_jw appends JSON text to a growing buffer and inserts the commas itself;
 * the caller only says begin/end object/array, key, value. Used for safetensors headers
 * and for the config files of later modules. */
#ifndef JEMPP_IO_JSON_H
#define JEMPP_IO_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "jempp/core.h"

#define JP_JSON_MAX_DEPTH 64

typedef enum {
    JP_JSON_NULL,
    JP_JSON_FALSE,
    JP_JSON_TRUE,
    JP_JSON_NUMBER,
    JP_JSON_STRING,
    JP_JSON_ARRAY,
    JP_JSON_OBJECT
} jp_json_type;

typedef struct jp_json jp_json;
struct jp_json {
    jp_json_type type;
    const char *key;   /* member name when inside an object, else NULL (NUL-terminated) */
    size_t key_len;
    const char *str;   /* STRING: decoded text; NUMBER: the number's source text */
    size_t len;        /* STRING/NUMBER: bytes in str; ARRAY/OBJECT: number of children */
    double number;     /* NUMBER: value as a double */
    jp_json *child;    /* ARRAY/OBJECT: first element or member, in document order */
    jp_json *next;     /* next sibling */
    size_t offset;     /* byte offset of the value in the parsed text */
};

typedef struct jp_json_block jp_json_block;

/* Owns every node and string of one parsed document. */
typedef struct {
    jp_json *root;
    char *strings;        /* decoded strings and number texts */
    jp_json_block *blocks; /* node storage */
} jp_json_doc;

/* Parses text[0..len). On success doc->root is the top-level value; on failure
 * the doc is empty (safe to free) and err says what and at which byte offset. Returns
 * JP_ERR_FORMAT for malformed input, JP_ERR_NOMEM when an allocation fails. */
jp_status jp_json_parse(jp_json_doc *doc, const char *text, size_t len, jp_error *err);
void jp_json_free(jp_json_doc *doc);

/* The member `key` of an object (NULL if absent or obj is not an object). */
const jp_json *jp_json_get(const jp_json *obj, const char *key);
/* 1 if v is a number written as an integer (no fraction, no exponent) that fits in
 * int64_t; then *out receives it. 0 otherwise. */
int jp_json_int64(const jp_json *v, int64_t *out);
const char *jp_json_type_name(jp_json_type t);

/* ---- writer ---------------------------------------------------------- */
typedef struct {
    char *buf;        /* NUL-terminated text so far (NULL until something is written) */
    size_t len, cap;
    int nomem;        /* an allocation failed; the text is incomplete */
    int bad;          /* misuse (value without key in an object, unbalanced end) */
    int depth;
    int pretty;       /* indent by two spaces, one member per line */
    unsigned char nonempty[JP_JSON_MAX_DEPTH + 1]; /* the container holds something */
    unsigned char in_object[JP_JSON_MAX_DEPTH + 1];
    int after_key;
} jp_jw;

void jp_jw_init(jp_jw *w, int pretty);
void jp_jw_begin_object(jp_jw *w);
void jp_jw_end_object(jp_jw *w);
void jp_jw_begin_array(jp_jw *w);
void jp_jw_end_array(jp_jw *w);
void jp_jw_key(jp_jw *w, const char *key);
void jp_jw_string(jp_jw *w, const char *s);
void jp_jw_string_n(jp_jw *w, const char *s, size_t n);
void jp_jw_int(jp_jw *w, int64_t v);
void jp_jw_uint(jp_jw *w, uint64_t v);
/* Shortest text that reads back to the same double; NaN and infinities become null. */
void jp_jw_double(jp_jw *w, double v);
/* Shortest text (6 to 9 significant digits) that reads back to the same float. */
void jp_jw_float(jp_jw *w, float v);
void jp_jw_bool(jp_jw *w, int v);
void jp_jw_null(jp_jw *w);
/* Appends n bytes verbatim, outside the comma logic (e.g. padding after the document). */
void jp_jw_raw(jp_jw *w, const char *s, size_t n);
/* JP_OK when the document is complete and balanced; else JP_ERR_NOMEM or JP_ERR_ARG.
 * The text stays in w->buf (w->len bytes) until jp_jw_free. */
jp_status jp_jw_finish(jp_jw *w, jp_error *err);
void jp_jw_free(jp_jw *w);

#endif
