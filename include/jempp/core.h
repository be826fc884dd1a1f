/* Core services shared by every module: status and error messages, always-on
 * checks, aligned arenas, a seeded RNG with serialisable state, and a clock.
 * No globals: every piece of state lives in a struct the caller owns. */
#ifndef JEMPP_CORE_H
#define JEMPP_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- status and errors ------------------------------------------------ */
typedef enum {
    JP_OK = 0,
    JP_ERR_IO,      /* a file could not be opened, read or written */
    JP_ERR_FORMAT,  /* a file's contents are truncated, corrupt or of the wrong kind */
    JP_ERR_SHAPE,   /* shapes do not fit (checkpoint vs model, data vs model) */
    JP_ERR_ARG,     /* a nonsense argument or flag */
    JP_ERR_NOMEM,   /* an allocation failed */
    JP_ERR_NUMERIC, /* NaN/Inf or divergence */
    JP_ERR_BACKEND, /* oneDNN/BLAS refused an operation */
    JP_ERR_INTERRUPTED /* stopped on request (a signal), state saved where the function says */
} jp_status;

/* Filled by functions that touch files, memory or user input. The message says
 * what and where (file, offset, expected vs found). */
typedef struct {
    jp_status code;
    char msg[1024];
} jp_error;

/* Sets err (if not NULL) and returns code. printf-style message. */
jp_status jp_fail(jp_error *err, jp_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *jp_status_name(jp_status s);

/* Programming errors: always on, report file:line and abort. */
#define JP_CHECK(cond)                                                          \
    do {                                                                        \
        if (!(cond)) jp_check_failed(__FILE__, __LINE__, #cond);                \
    } while (0)
#ifdef __cplusplus /* the CUDA backend's sources are C++ */
[[noreturn]] void jp_check_failed(const char *file, int line, const char *expr);
#else
_Noreturn void jp_check_failed(const char *file, int line, const char *expr);
#endif

/* ---- memory ----------------------------------------------------------- */
/* 64-byte aligned allocation (huge pages advised for large blocks); zeroed. */
void *jp_alloc(size_t bytes);
void jp_free(void *p);

/* A bump arena: one allocation carved into aligned pieces. Used for
 * parameters, gradients, optimiser state and activations, one arena per kind,
 * so a steady-state training step allocates nothing. */
typedef struct {
    char *base;
    size_t size, used;
} jp_arena;

/* Reserve (reserve == 0: measuring arena, takes no memory; use it to size). */
int jp_arena_init(jp_arena *a, size_t bytes);
void *jp_arena_take(jp_arena *a, size_t bytes); /* NULL in a measuring arena */
void jp_arena_free(jp_arena *a);

/* A compute device, where tensors live and layers run: the CPU, or a GPU in a build
 * that has one (src/ops/device.h). Opaque to users of the library. */
typedef struct jp_device jp_device;

/* ---- random numbers --------------------------------------------------- */
/* xoshiro256** seeded with splitmix64; normals by a ziggurat on its stream
 * (src/core/normal.c). The whole state is plain data, so checkpoints save and restore it
 * byte for byte. */
typedef struct {
    uint64_t s[4];
    uint64_t reserved[2]; /* zero: keeps the 6-word layout of saved RNG states */
} jp_rng;

void jp_rng_seed(jp_rng *r, uint64_t seed);
/* The next 64 random bits (xoshiro256**). Inline: hot loops (noise) call it per value. */
static inline uint64_t jp_rng_u64(jp_rng *r)
{
    uint64_t *s = r->s;
    uint64_t x = s[1] * 5, t = s[1] << 17;
    uint64_t result = ((x << 7) | (x >> 57)) * 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return result;
}
double jp_rng_uniform(jp_rng *r);          /* [0, 1) */
double jp_rng_normal(jp_rng *r);           /* N(0, 1), 53-bit resolution, one 64-bit draw or more */
uint64_t jp_rng_below(jp_rng *r, uint64_t n); /* uniform on [0, n), unbiased */
void jp_rng_fill_uniform(jp_rng *r, float *x, size_t n, float lo, float hi);
/* x[k] = mean + std * N(0, 1) and x[k] += sigma * N(0, 1), k = 0..n-1 in order: two
 * normals per 64-bit draw (25-bit resolution, ample for float), the same normals for
 * the same state in both functions. */
void jp_rng_fill_normal(jp_rng *r, float *x, size_t n, float mean, float std);
void jp_rng_add_normal(jp_rng *r, float *x, size_t n, float sigma);
/* An independent stream derived from r (for threads or sub-tasks). */
void jp_rng_split(jp_rng *r, jp_rng *child);

/* ---- folders ---------------------------------------------------------- */
/* mkdir -p (mode 0755); JP_ERR_IO naming the folder that could not be made, or the path
 * when it exists as something other than a folder. */
jp_status jp_mkdirs(const char *path, jp_error *err);

/* ---- time ------------------------------------------------------------- */
double jp_now(void); /* monotonic seconds */

#endif
