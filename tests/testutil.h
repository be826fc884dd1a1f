/* Small helpers shared by the test binaries. Every test exits non-zero on failure. */
#ifndef JEMPP_TESTUTIL_H
#define JEMPP_TESTUTIL_H

#include <stddef.h>

#include "jempp/core.h"
#include "jempp/safetensors.h"

/* Runs the program argv[0] with argv as a child, with exactly the variables of envp
 * (NULL: this process's), its stdout (and with_stderr: its stderr too) into out (len
 * bytes, NUL-terminated; what does not fit is read and dropped, so the child never
 * blocks). Returns its exit status, -1 when it did not exit normally or could not start. */
int tu_run_capture(char *const argv[], char *const envp[], int with_stderr, char *out, size_t len);

/* Counts failures; tu_finish() prints "N passed, N failed" and returns the exit code. */
typedef struct {
    int passed, failed;
    const char *name;
} tu_ctx;

void tu_begin(tu_ctx *t, const char *name);
int tu_finish(tu_ctx *t);
/* For a test that cannot check what it exists for because something is not installed
 * or built (data, Python packages, the jempp program): prints "SKIPPED: <why>" and
 * returns TU_SKIP, ctest's SKIP_RETURN_CODE (CMakeLists.txt), so that it is reported as
 * skipped, never as passed. With JEMPP_REQUIRE_ALL=1 in the environment (CI sets it,
 * .ci/run) it is a failure instead: "FAILED (JEMPP_REQUIRE_ALL=1): <why>", exit 1. */
enum { TU_SKIP = 77 };
int tu_skip(tu_ctx *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same for what this machine or build cannot do whatever is installed (no AVX-512
 * CPU, no GPU, a sanitizer build for the allocation count): always a skip. */
int tu_skip_machine(tu_ctx *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Records a boolean check with a message. */
void tu_check(tu_ctx *t, int ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* |a-b| <= atol + rtol*|ref| elementwise; prints the max abs difference and the
 * worst index. Returns 1 when all pass. */
int tu_close(tu_ctx *t, const char *what, const float *got, const float *ref, size_t n,
             double atol, double rtol);
int tu_close_d(tu_ctx *t, const char *what, const double *got, const double *ref, size_t n,
               double atol, double rtol);
/* max |a[i] - b[i]|; a NaN on either side counts as infinity. */
double tu_max_abs_diff(const float *a, const float *b, size_t n);
/* Path of a file under the source tree (JEMPP_SRC or the working directory). */
const char *tu_src_path(char *buf, size_t len, const char *rel);
/* A fresh empty temporary folder for this test (under JEMPP_BIN or /tmp). */
const char *tu_tmpdir(char *buf, size_t len, const char *tag);
/* Writes src to dst with tensor `name` cut to its first dim0 entries along dimension 0
 * (dim0 no larger than it was; -1 keeps the shape) and, when data is not NULL, holding
 * data (as many bytes as the edited shape needs) instead of its own; metadata kept:
 * an old, wrong-shaped or corrupt file for tests. */
jp_status tu_st_copy_edited(const jp_st_file *src, const char *dst, const char *name, int64_t dim0, const void *data,
                            jp_error *err);
/* Writes n bytes to path; 1 on success, 0 (errno set) when it cannot. */
int tu_write_file(const char *path, const void *p, size_t n);
/* Writes text to dir/name (name alone when dir is NULL); a failure ends the test (exit 2)
 * with a message naming the file. */
void tu_write_text(const char *dir, const char *name, const char *text);
/* The whole file, NUL-terminated (malloc'd; the caller frees it); NULL when it cannot be
 * read. *len (may be NULL) receives its size. */
char *tu_read_file(const char *path, size_t *len);
/* How many times needle occurs in text (not overlapping); 0 when text is NULL. */
int tu_count(const char *text, const char *needle);
/* Loads tensor `name` from a reference file into a new buffer (float32); aborts the
 * test with a message if absent. *count receives the element count when not NULL. */
float *tu_ref_f32(const jp_st_file *f, const char *name, size_t *count);

#endif
