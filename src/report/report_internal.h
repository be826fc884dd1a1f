/* Internals of the run report (include/jempp/report.h), shared by
 *   html.c    the growing text buffer, HTML escaping, base64, number formatting
 *   files.c   reading files and folders, JSON with warnings, a small CSV table
 *   images.c  PNGs embedded as data: URIs, with the size caps
 *   svg.c     inline SVG line charts
 *   run.c     the run's own sections (summary, configuration, epochs, curves, events, samples)
 *   evals.c   the evaluation folders' sections
 *   compare.c the Markdown table comparing evaluation folders (jp_compare_table)
 *   report.c  the entry point: checks, page assembly, the atomic write. */
#ifndef JEMPP_REPORT_INTERNAL_H
#define JEMPP_REPORT_INTERNAL_H

#include <stddef.h>

#include "io/json.h"
#include "jempp/core.h"
#include "jempp/report.h"

#define RP_PATH_MAX 1100

/* ---- text (html.c) ---------------------------------------------------------------- */
/* Appends never fail visibly: an allocation failure sets nomem and later appends are
 * dropped, so building code stays linear; the page is refused at the end. */
typedef struct {
    char *p; /* NUL-terminated once anything is appended */
    size_t len, cap;
    int nomem;
} rp_buf;

void rp_buf_free(rp_buf *b);
void rp_putn(rp_buf *b, const char *s, size_t n);
void rp_put(rp_buf *b, const char *s);
void rp_printf(rp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s with & < > " ' replaced by entities and control characters (other than tab and
 * newline) by '?': safe in element text and in quoted attribute values. */
void rp_escn(rp_buf *b, const char *s, size_t n);
void rp_esc(rp_buf *b, const char *s);
/* printf, then escaped. */
void rp_escf(rp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Standard base64 (RFC 4648, with padding). */
void rp_base64(rp_buf *b, const unsigned char *p, size_t n);

/* Numbers as the page shows them; non-finite (absent, JSON null) as "n/a". */
const char *rp_fmt(char *buf, size_t len, const char *fmt, double v);
const char *rp_pct(char *buf, size_t len, double fraction); /* 0.8991 -> "89.91%" */
/* "2887.7 s (48 min 8 s)" */
const char *rp_duration(char *buf, size_t len, double seconds);
const char *rp_bytes(char *buf, size_t len, double bytes); /* "5.3 MB" */

/* ---- the report being built (report.c) -------------------------------------------- */
typedef struct {
    const jp_report_opts *o;
    rp_buf body;     /* the sections, in page order */
    rp_buf problems; /* <li> per warning, shown in a box after the summary */
    rp_buf toc;      /* <li> per section */
    int warnings, images, eval_dirs;
    size_t image_bytes;
    char run_dir[RP_PATH_MAX];
} rp_ctx;

/* A problem with a file: a warning on o->log, an item in the problems box and an
 * inline warning at the current place in the page. */
void rp_warn(rp_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A remark in the page only (a piece that is absent, a cap that applied). */
void rp_note(rp_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* <h2 id=...> and an entry in the table of contents. */
void rp_section(rp_ctx *c, const char *id, const char *title);

/* ---- files (files.c) -------------------------------------------------------------- */
const char *rp_path(char *buf, size_t len, const char *dir, const char *name);
int rp_is_file(const char *path, size_t *size); /* size may be NULL */
int rp_is_dir(const char *path);
/* The last component of path, trailing slashes ignored: "runs/x/" -> "x". */
const char *rp_base_name(char *out, size_t len, const char *path);
/* The whole file plus a NUL; JP_ERR_FORMAT when larger than max bytes. */
jp_status rp_read_file(const char *path, size_t max, char **data, size_t *len, jp_error *err);

/* 1: the file at path parsed into doc (free it with jp_json_free); 0: absent; -1:
 * unreadable or corrupt, err naming the file's problem (the parser's message). */
int rp_read_json(const char *path, jp_json_doc *doc, jp_error *err);
/* rp_read_json of dir/name, with a -1 warned (file name and parse error). */
int rp_load_json(rp_ctx *c, const char *dir, const char *name, jp_json_doc *doc);
/* Member key of obj as a number (NaN when absent, null or not a number) or a string
 * (NULL when absent or not a string). */
double rp_jnum(const jp_json *obj, const char *key);
const char *rp_jstr(const jp_json *obj, const char *key);
/* Any JSON value as short escaped text: strings without quotes, numbers as written,
 * arrays as [a, b], objects as {k: v}. */
void rp_json_text(rp_buf *b, const jp_json *v);

/* Sorted names in dir accepted by keep (NULL: all but "." and ".."). */
typedef struct {
    char **name;
    int n;
} rp_names;
jp_status rp_list_dir(const char *dir, int (*keep)(const char *dir, const char *name), rp_names *out,
                      jp_error *err);
void rp_names_free(rp_names *n);
int rp_has_suffix(const char *s, const char *suffix);

/* A comma-separated table: row 0 the header, cells NUL-terminated inside text. Lines
 * with a different number of cells (a line being written as we read) are skipped and
 * counted in bad. */
typedef struct {
    char *text;
    const char **cell; /* (rows + 1) x cols */
    int cols;
    size_t rows, bad;
} rp_csv;
/* 1: parsed; 0: absent; -1: unreadable (warned). */
int rp_load_csv(rp_ctx *c, const char *dir, const char *name, rp_csv *t);
void rp_csv_free(rp_csv *t);
int rp_csv_col(const rp_csv *t, const char *name); /* -1 when absent */
const char *rp_csv_cell(const rp_csv *t, size_t row, int col); /* row 0 = first data row */
double rp_csv_num(const rp_csv *t, size_t row, int col);       /* NaN when not a number */

/* ---- images (images.c) ------------------------------------------------------------ */
enum { RP_IMG_PIXELATED = 1, RP_IMG_SAY_ABSENT = 2 };
/* dir/name as a <figure> with its caption (escaped). Absent: a note when
 * RP_IMG_SAY_ABSENT; over the caps: a note naming the file and its size; not a PNG: a
 * warning. Returns 1 when embedded. Pixelated images (sample grids) are shown at twice
 * their size when small, without smoothing. */
int rp_figure(rp_ctx *c, const char *dir, const char *name, const char *caption, int flags);
/* Figures go in a row that wraps: open and close around rp_figure calls. */
void rp_gallery_begin(rp_ctx *c);
void rp_gallery_end(rp_ctx *c);

/* ---- charts (svg.c) --------------------------------------------------------------- */
typedef struct {
    const char *label;
    const double *x, *y; /* x NULL: 0, 1, 2, ... */
    size_t n;
} rp_line;
typedef struct {
    const char *title, *xlabel;
    int y01;  /* fix the y axis to [0, 1] (accuracies) */
    int xint; /* x counts something (iterations, epochs): no fractional ticks */
} rp_chart;
/* An inline <svg> line chart; non-finite points break a line. */
void rp_svg_chart(rp_buf *b, const rp_chart *ch, const rp_line *lines, int nl);
/* Means over consecutive buckets so that at most max points remain (finite values
 * only; a bucket without one gives NaN). Returns the number of points in ox, oy. */
size_t rp_downsample(const double *x, const double *y, size_t n, size_t max, double *ox, double *oy);

/* ---- sections ----------------------------------------------------------------------- */
/* run.c: summary, configuration, epochs, curves, events, samples. Returns the offset
 * in c->body just after the summary (where the problems box goes). */
size_t rp_run_sections(rp_ctx *c);
/* evals.c: one section per evaluation folder: run_dir's subfolders holding results,
 * then the extra folders (a folder listed twice is shown once). */
void rp_eval_sections(rp_ctx *c, const char *const *extra, int n_extra);
/* 1 when dir holds any file `jempp eval` writes. */
int rp_is_eval_dir(const char *dir);

#endif
