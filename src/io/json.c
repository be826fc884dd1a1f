/* Strict JSON reader and small JSON writer; see json.h for the guarantees. */
#include "io/json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ==== reader ========================================================== */

struct jp_json_block {
    jp_json_block *next;
    size_t used, cap;
    jp_json nodes[];
};

typedef struct {
    const unsigned char *s;
    size_t len, pos;
    char *pool;        /* decoded strings; sized so it can never overflow (see parse) */
    size_t pool_used;
    jp_json_doc *doc;
    jp_error *err;
    int depth;
} parser;

/* Describes the byte at p->pos for error messages ("'x'", "byte 0x01", "end of input"). */
static const char *describe(const parser *p, char buf[32])
{
    if (p->pos >= p->len) return "end of input";
    unsigned c = p->s[p->pos];
    if (c >= 0x20 && c < 0x7f) snprintf(buf, 32, "'%c'", (char)c);
    else snprintf(buf, 32, "byte 0x%02x", c);
    return buf;
}

static jp_status fail_expected(parser *p, const char *what)
{
    char b[32];
    return jp_fail(p->err, JP_ERR_FORMAT, "at byte %zu: expected %s, found %s", p->pos, what,
                   describe(p, b));
}

static jp_json *new_node(parser *p, jp_json_type type)
{
    jp_json_block *b = p->doc->blocks;
    if (!b || b->used == b->cap) {
        size_t cap = b ? (b->cap < 4096 ? b->cap * 2 : 4096) : 16;
        jp_json_block *nb = malloc(sizeof *nb + cap * sizeof(jp_json));
        if (!nb) return NULL;
        nb->next = b;
        nb->used = 0;
        nb->cap = cap;
        p->doc->blocks = b = nb;
    }
    jp_json *n = &b->nodes[b->used++];
    memset(n, 0, sizeof *n);
    n->type = type;
    n->offset = p->pos;
    return n;
}

static void skip_ws(parser *p)
{
    while (p->pos < p->len) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static int hex4(const unsigned char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = s[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return 0;
        v = v * 16 + d;
    }
    *out = v;
    return 1;
}

/* Length of the valid UTF-8 sequence starting at s (n bytes available), 0 if invalid
 * (overlong forms, surrogates and code points above U+10FFFF are invalid). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t k;
    unsigned cp, min;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) k = 2, cp = c & 0x1f, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef) k = 3, cp = c & 0x0f, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4) k = 4, cp = c & 0x07, min = 0x10000;
    else return 0;
    if (n < k) return 0;
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return k;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Parses a string at p->pos (which holds '"') into the pool. */
static jp_status parse_string(parser *p, const char **out, size_t *out_len)
{
    size_t start = p->pos++;
    char *o = p->pool + p->pool_used;
    size_t n = 0;
    for (;;) {
        if (p->pos >= p->len) {
            return jp_fail(p->err, JP_ERR_FORMAT,
                           "at byte %zu: string starting at byte %zu is not terminated", p->pos,
                           start);
        }
        unsigned c = p->s[p->pos];
        if (c == '"') { p->pos++; break; }
        if (c < 0x20) {
            return jp_fail(p->err, JP_ERR_FORMAT,
                           "at byte %zu: control character 0x%02x inside a string (must be escaped)",
                           p->pos, c);
        }
        if (c == '\\') {
            if (p->pos + 1 >= p->len) { p->pos++; return fail_expected(p, "an escape character"); }
            unsigned e = p->s[p->pos + 1];
            const char *simple = strchr("\"\\/bfnrt", (int)e);
            if (e && simple) {
                static const char map[] = "\"\\/\b\f\n\r\t";
                o[n++] = map[simple - "\"\\/bfnrt"];
                p->pos += 2;
                continue;
            }
            if (e != 'u') {
                p->pos++;
                return fail_expected(p, "one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u");
            }
            unsigned cp;
            if (p->pos + 6 > p->len || !hex4(p->s + p->pos + 2, &cp)) {
                p->pos += 2;
                return fail_expected(p, "four hex digits after \\u");
            }
            p->pos += 6;
            if (cp >= 0xdc00 && cp <= 0xdfff) {
                return jp_fail(p->err, JP_ERR_FORMAT,
                               "at byte %zu: lone low surrogate \\u%04x in a string", p->pos - 6, cp);
            }
            if (cp >= 0xd800 && cp <= 0xdbff) {
                unsigned lo;
                if (p->pos + 6 > p->len || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u' ||
                    !hex4(p->s + p->pos + 2, &lo) || lo < 0xdc00 || lo > 0xdfff) {
                    return jp_fail(p->err, JP_ERR_FORMAT,
                                   "at byte %zu: high surrogate \\u%04x not followed by a low "
                                   "surrogate", p->pos - 6, cp);
                }
                p->pos += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            n += put_utf8(o + n, cp);
            continue;
        }
        size_t k = utf8_len(p->s + p->pos, p->len - p->pos);
        if (!k) {
            return jp_fail(p->err, JP_ERR_FORMAT, "at byte %zu: invalid UTF-8 in a string",
                           p->pos);
        }
        memcpy(o + n, p->s + p->pos, k);
        n += k;
        p->pos += k;
    }
    o[n] = 0;
    p->pool_used += n + 1;
    *out = o;
    *out_len = n;
    return JP_OK;
}

static int is_digit(unsigned c) { return c >= '0' && c <= '9'; }

static jp_status parse_number(parser *p, jp_json *v)
{
    size_t start = p->pos;
    if (p->s[p->pos] == '-') p->pos++;
    if (p->pos >= p->len || !is_digit(p->s[p->pos])) return fail_expected(p, "a digit");
    if (p->s[p->pos] == '0') {
        p->pos++;
        if (p->pos < p->len && is_digit(p->s[p->pos])) {
            return jp_fail(p->err, JP_ERR_FORMAT, "at byte %zu: number with a leading zero",
                           start);
        }
    } else {
        while (p->pos < p->len && is_digit(p->s[p->pos])) p->pos++;
    }
    if (p->pos < p->len && p->s[p->pos] == '.') {
        p->pos++;
        if (p->pos >= p->len || !is_digit(p->s[p->pos])) {
            return fail_expected(p, "a digit after the decimal point");
        }
        while (p->pos < p->len && is_digit(p->s[p->pos])) p->pos++;
    }
    if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
        p->pos++;
        if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-')) p->pos++;
        if (p->pos >= p->len || !is_digit(p->s[p->pos])) {
            return fail_expected(p, "a digit in the exponent");
        }
        while (p->pos < p->len && is_digit(p->s[p->pos])) p->pos++;
    }
    size_t n = p->pos - start;
    char *o = p->pool + p->pool_used;
    memcpy(o, p->s + start, n);
    o[n] = 0;
    p->pool_used += n + 1;
    v->str = o;
    v->len = n;
    v->number = strtod(o, NULL); /* the C locale: '.' is the decimal point */
    return JP_OK;
}

static int key_cmp(const void *a, const void *b)
{
    const jp_json *x = *(const jp_json *const *)a, *y = *(const jp_json *const *)b;
    if (x->key_len != y->key_len) return x->key_len < y->key_len ? -1 : 1;
    int c = memcmp(x->key, y->key, x->key_len);
    if (c) return c;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Fails if two members of obj share a name (reports the later one). */
static jp_status check_unique_keys(parser *p, const jp_json *obj)
{
    size_t n = obj->len;
    if (n < 2) return JP_OK;
    const jp_json *dup = NULL;
    if (n <= 16) {
        for (const jp_json *a = obj->child; a && !dup; a = a->next)
            for (const jp_json *b = a->next; b; b = b->next)
                if (a->key_len == b->key_len && !memcmp(a->key, b->key, a->key_len)) {
                    dup = b;
                    break;
                }
    } else {
        const jp_json **v = malloc(n * sizeof *v);
        if (!v) return jp_fail(p->err, JP_ERR_NOMEM, "out of memory checking %zu keys", n);
        size_t i = 0;
        for (const jp_json *a = obj->child; a; a = a->next) v[i++] = a;
        qsort(v, n, sizeof *v, key_cmp);
        for (i = 1; i < n && !dup; i++)
            if (v[i]->key_len == v[i - 1]->key_len && !memcmp(v[i]->key, v[i - 1]->key, v[i]->key_len))
                dup = v[i];
        free(v);
    }
    if (!dup) return JP_OK;
    return jp_fail(p->err, JP_ERR_FORMAT, "at byte %zu: duplicate key \"%.200s\" in an object",
                   dup->offset, dup->key);
}

static jp_status parse_value(parser *p, jp_json **out);

/* Parses '[' ... ']' or '{' ... '}' at p->pos. */
static jp_status parse_container(parser *p, jp_json *v, int is_object)
{
    char close = is_object ? '}' : ']';
    if (++p->depth > JP_JSON_MAX_DEPTH) {
        return jp_fail(p->err, JP_ERR_FORMAT, "at byte %zu: nesting deeper than %d levels",
                       p->pos, JP_JSON_MAX_DEPTH);
    }
    p->pos++;
    skip_ws(p);
    jp_json **tail = &v->child;
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
        p->depth--;
        return JP_OK;
    }
    for (;;) {
        const char *key = NULL;
        size_t key_len = 0;
        jp_status st;
        if (is_object) {
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != '"') return fail_expected(p, "a member name");
            if ((st = parse_string(p, &key, &key_len)) != JP_OK) return st;
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':') return fail_expected(p, "':'");
            p->pos++;
        }
        jp_json *c;
        if ((st = parse_value(p, &c)) != JP_OK) return st;
        c->key = key;
        c->key_len = key_len;
        *tail = c;
        tail = &c->next;
        v->len++;
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == close) {
            p->pos++;
            break;
        }
        return fail_expected(p, is_object ? "',' or '}'" : "',' or ']'");
    }
    p->depth--;
    return is_object ? check_unique_keys(p, v) : JP_OK;
}

static jp_status parse_value(parser *p, jp_json **out)
{
    skip_ws(p);
    if (p->pos >= p->len) return fail_expected(p, "a value");
    unsigned c = p->s[p->pos];
    jp_json_type t;
    switch (c) {
    case '{': t = JP_JSON_OBJECT; break;
    case '[': t = JP_JSON_ARRAY; break;
    case '"': t = JP_JSON_STRING; break;
    case 't': t = JP_JSON_TRUE; break;
    case 'f': t = JP_JSON_FALSE; break;
    case 'n': t = JP_JSON_NULL; break;
    default:
        if (c == '-' || is_digit(c)) { t = JP_JSON_NUMBER; break; }
        return fail_expected(p, "a value");
    }
    jp_json *v = new_node(p, t);
    if (!v) return jp_fail(p->err, JP_ERR_NOMEM, "out of memory parsing JSON");
    *out = v;
    switch (t) {
    case JP_JSON_OBJECT: return parse_container(p, v, 1);
    case JP_JSON_ARRAY: return parse_container(p, v, 0);
    case JP_JSON_STRING: return parse_string(p, &v->str, &v->len);
    case JP_JSON_NUMBER: return parse_number(p, v);
    default: {
        const char *word = t == JP_JSON_TRUE ? "true" : t == JP_JSON_FALSE ? "false" : "null";
        size_t n = strlen(word);
        if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0) {
            return fail_expected(p, "a value");
        }
        p->pos += n;
        return JP_OK;
    }
    }
}

jp_status jp_json_parse(jp_json_doc *doc, const char *text, size_t len, jp_error *err)
{
    memset(doc, 0, sizeof *doc);
    /* Every decoded string or number needs at most its source length + 1 bytes, and
     * sources do not overlap; a number can end the text, hence + 2. */
    if (len > SIZE_MAX - 2) return jp_fail(err, JP_ERR_NOMEM, "JSON text too large");
    parser p = {(const unsigned char *)text, len, 0, malloc(len + 2), 0, doc, err, 0};
    if (!p.pool) return jp_fail(err, JP_ERR_NOMEM, "out of memory for %zu bytes of JSON", len);
    doc->strings = p.pool;
    jp_json *root = NULL;
    jp_status st = parse_value(&p, &root);
    if (st == JP_OK) {
        skip_ws(&p);
        if (p.pos != p.len) st = fail_expected(&p, "end of input after the top-level value");
    }
    if (st != JP_OK) {
        jp_json_free(doc);
        return st;
    }
    doc->root = root;
    return JP_OK;
}

void jp_json_free(jp_json_doc *doc)
{
    jp_json_block *b = doc->blocks;
    while (b) {
        jp_json_block *n = b->next;
        free(b);
        b = n;
    }
    free(doc->strings);
    memset(doc, 0, sizeof *doc);
}

const jp_json *jp_json_get(const jp_json *obj, const char *key)
{
    if (!obj || obj->type != JP_JSON_OBJECT) return NULL;
    size_t n = strlen(key);
    for (const jp_json *c = obj->child; c; c = c->next)
        if (c->key_len == n && !memcmp(c->key, key, n)) return c;
    return NULL;
}

int jp_json_int64(const jp_json *v, int64_t *out)
{
    if (!v || v->type != JP_JSON_NUMBER) return 0;
    const char *s = v->str;
    size_t i = 0, n = v->len;
    int neg = 0;
    if (i < n && s[i] == '-') neg = 1, i++;
    if (i == n) return 0;
    uint64_t mag = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < n; i++) {
        if (!is_digit((unsigned char)s[i])) return 0; /* fraction or exponent */
        unsigned d = (unsigned)(s[i] - '0');
        if (mag > (limit - d) / 10) return 0;
        mag = mag * 10 + d;
    }
    *out = neg ? (mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag) : (int64_t)mag;
    return 1;
}

const char *jp_json_type_name(jp_json_type t)
{
    switch (t) {
    case JP_JSON_NULL: return "null";
    case JP_JSON_FALSE: return "false";
    case JP_JSON_TRUE: return "true";
    case JP_JSON_NUMBER: return "a number";
    case JP_JSON_STRING: return "a string";
    case JP_JSON_ARRAY: return "an array";
    case JP_JSON_OBJECT: return "an object";
    }
    return "?";
}

/* ==== writer ========================================================== */

void jp_jw_init(jp_jw *w, int pretty)
{
    memset(w, 0, sizeof *w);
    w->pretty = pretty;
}

static void put(jp_jw *w, const char *s, size_t n)
{
    if (w->nomem) return;
    if (w->len + n + 1 > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->len + n + 1) cap *= 2;
        char *b = realloc(w->buf, cap);
        if (!b) {
            w->nomem = 1;
            return;
        }
        w->buf = b;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = 0;
}

static void put_s(jp_jw *w, const char *s) { put(w, s, strlen(s)); }

static void newline_indent(jp_jw *w)
{
    if (!w->pretty) return;
    put(w, "\n", 1);
    for (int i = 0; i < w->depth; i++) put(w, "  ", 2);
}

/* Comma and indentation before a value or a key; marks misuse. */
static void before_item(jp_jw *w, int is_key)
{
    int d = w->depth;
    if (w->after_key) {
        if (is_key) w->bad = 1;
        w->after_key = 0;
        return;
    }
    if (d == 0) {
        if (w->nonempty[0] || is_key) w->bad = 1;
        w->nonempty[0] = 1;
        return;
    }
    if (w->in_object[d] != is_key) w->bad = 1; /* objects take keys, arrays values */
    if (w->nonempty[d]) put(w, ",", 1);
    w->nonempty[d] = 1;
    newline_indent(w);
}

static void begin(jp_jw *w, int is_object)
{
    before_item(w, 0);
    put(w, is_object ? "{" : "[", 1);
    if (w->depth >= JP_JSON_MAX_DEPTH) {
        w->bad = 1;
        return;
    }
    w->depth++;
    w->nonempty[w->depth] = 0;
    w->in_object[w->depth] = (unsigned char)is_object;
}

static void end(jp_jw *w, int is_object)
{
    if (w->depth == 0 || w->in_object[w->depth] != is_object || w->after_key) {
        w->bad = 1;
        return;
    }
    int had = w->nonempty[w->depth];
    w->depth--;
    if (had) newline_indent(w);
    put(w, is_object ? "}" : "]", 1);
}

void jp_jw_begin_object(jp_jw *w) { begin(w, 1); }
void jp_jw_end_object(jp_jw *w) { end(w, 1); }
void jp_jw_begin_array(jp_jw *w) { begin(w, 0); }
void jp_jw_end_array(jp_jw *w) { end(w, 0); }

static void put_escaped(jp_jw *w, const char *s, size_t n)
{
    put(w, "\"", 1);
    size_t run = 0; /* bytes copied verbatim in one go */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *e = NULL;
        char buf[8];
        switch (c) {
        case '"': e = "\\\""; break;
        case '\\': e = "\\\\"; break;
        case '\n': e = "\\n"; break;
        case '\r': e = "\\r"; break;
        case '\t': e = "\\t"; break;
        case '\b': e = "\\b"; break;
        case '\f': e = "\\f"; break;
        default:
            if (c < 0x20) {
                snprintf(buf, sizeof buf, "\\u%04x", c);
                e = buf;
            }
        }
        if (!e) continue;
        put(w, s + run, i - run);
        put_s(w, e);
        run = i + 1;
    }
    put(w, s + run, n - run);
    put(w, "\"", 1);
}

void jp_jw_key(jp_jw *w, const char *key)
{
    before_item(w, 1);
    put_escaped(w, key, strlen(key));
    put_s(w, w->pretty ? ": " : ":");
    w->after_key = 1;
}

void jp_jw_string_n(jp_jw *w, const char *s, size_t n)
{
    before_item(w, 0);
    put_escaped(w, s, n);
}

void jp_jw_string(jp_jw *w, const char *s) { jp_jw_string_n(w, s, strlen(s)); }

void jp_jw_int(jp_jw *w, int64_t v)
{
    char b[32];
    before_item(w, 0);
    snprintf(b, sizeof b, "%" PRId64, v);
    put_s(w, b);
}

void jp_jw_uint(jp_jw *w, uint64_t v)
{
    char b[32];
    before_item(w, 0);
    snprintf(b, sizeof b, "%" PRIu64, v);
    put_s(w, b);
}

void jp_jw_double(jp_jw *w, double v)
{
    if (v != v || v - v != 0) { /* NaN or infinity: JSON has no spelling for them */
        jp_jw_null(w);
        return;
    }
    char b[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(b, sizeof b, "%.*g", prec, v);
        if (strtod(b, NULL) == v) break;
    }
    before_item(w, 0);
    put_s(w, b);
}

void jp_jw_float(jp_jw *w, float v)
{
    if (v != v || v - v != 0) {
        jp_jw_null(w);
        return;
    }
    char b[40];
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(b, sizeof b, "%.*g", prec, (double)v);
        if (strtof(b, NULL) == v) break;
    }
    before_item(w, 0);
    put_s(w, b);
}

void jp_jw_bool(jp_jw *w, int v)
{
    before_item(w, 0);
    put_s(w, v ? "true" : "false");
}

void jp_jw_null(jp_jw *w)
{
    before_item(w, 0);
    put_s(w, "null");
}

void jp_jw_raw(jp_jw *w, const char *s, size_t n) { put(w, s, n); }

jp_status jp_jw_finish(jp_jw *w, jp_error *err)
{
    if (w->nomem) return jp_fail(err, JP_ERR_NOMEM, "out of memory writing JSON");
    if (w->bad || w->depth != 0 || w->after_key || !w->nonempty[0]) {
        return jp_fail(err, JP_ERR_ARG, "JSON writer misused (unbalanced or key without value)");
    }
    return JP_OK;
}

void jp_jw_free(jp_jw *w)
{
    free(w->buf);
    w->buf = NULL;
    w->len = w->cap = 0;
}
