/* A steady-state training step allocates no memory: after a warm-up step, forward,
 * backward (parameter and input gradients), a PYLD sampling run and an SGD step request
 * no block larger than 4 KiB from malloc/calloc/realloc/posix_memalign/aligned_alloc
 * (interposed in this test binary, so the calls of every library it loads are seen) and
 * leave the heap's byte count (mallinfo2) and mmap'd blocks unchanged. oneDNN's C API
 * makes small transient allocations for each primitive execution (its argument map);
 * those come from malloc's caches and touch no fresh memory: counted and printed. */
#include <errno.h>
#include <malloc.h>
#include <string.h>

#include "jempp/ebm.h"
#include "jempp/ops.h"
#include "jempp/optim.h"
#include "jempp/wrn.h"
#include "testutil.h"

#ifdef __SANITIZE_ADDRESS__
/* AddressSanitizer brings its own malloc, which this test's interposed glibc allocator
 * would fight: a sanitizer build cannot count allocations. */
int main(void)
{
    tu_ctx t;
    tu_begin(&t, "test_no_alloc");
    return tu_skip_machine(&t, "a sanitizer build: AddressSanitizer replaces malloc, so this build cannot count "
                               "the allocations of a training step (the normal build does)");
}
#else
/* glibc's real allocator entry points */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

/* Test-only counter of allocation calls (this binary's interposed allocator). */
static volatile long alloc_calls;
static volatile size_t alloc_max;

static void count(size_t n)
{
    __atomic_add_fetch(&alloc_calls, 1, __ATOMIC_RELAXED);
    size_t cur = alloc_max;
    while (n > cur && !__atomic_compare_exchange_n(&alloc_max, &cur, n, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
}

void *malloc(size_t n)
{
    count(n);
    return __libc_malloc(n);
}
void *calloc(size_t a, size_t b)
{
    count(a * b);
    return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n)
{
    count(n);
    return __libc_realloc(p, n);
}
int posix_memalign(void **out, size_t align, size_t n)
{
    count(n);
    void *p = __libc_memalign(align, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
void *aligned_alloc(size_t align, size_t n)
{
    count(n);
    return __libc_memalign(align, n);
}

static void step(jp_wrn *m, jp_optim *o, jp_sampler_work *w, const jp_sampler_config *sc, float *x, float *xq,
                 float *dx, float *logits, float *dl, const int *y, jp_rng *r)
{
    int B = jp_wrn_batch(m), K = jp_wrn_config_of(m)->n_classes;
    jp_wrn_zero_grads(m);
    jp_wrn_forward(m, logits, x, B, 1);
    jp_cross_entropy_backward(dl, 1.0f, logits, y, B, K);
    jp_wrn_backward(m, dl, dx, 1);
    jp_sample(m, w, sc, xq, NULL, B, r);
    jp_optim_step(o, jp_wrn_params(m), jp_wrn_grads(m), jp_wrn_classifier_param_count(m), 0.1);
    jp_wrn_params_changed(m);
    jp_wrn_forward(m, logits, x, B / 2, 0); /* eval with a partial batch */
}

/* Three steady-state steps of a WRN-10-1 with oneDNN's direct convolutions, or with
 * Winograd (jempp's own F(4x4,3x3) on CPUs without AVX-512) */
static void check(tu_ctx *t, int winograd)
{
    printf("-- winograd %d\n", winograd);
    jp_wrn_config c;
    jp_wrn_config_defaults(&c);
    c.winograd = winograd;
    c.depth = 10;
    c.width = 1;
    c.in_channels = 1;
    c.image_size = 12;
    jp_error err;
    jp_wrn *m;
    JP_CHECK(jp_wrn_create(&m, &c, 8, &err) == JP_OK);
    jp_optim_config oc;
    jp_optim_config_sgd(&oc);
    jp_optim o;
    JP_CHECK(jp_optim_init(&o, &oc, jp_wrn_classifier_param_count(m), &err) == JP_OK);
    jp_sampler_config sc;
    jp_sampler_config_pyld(&sc);
    sc.n_steps = 2;
    sc.in_steps = 2;
    sc.sgld_std = 0.01f;
    jp_sampler_work w;
    JP_CHECK(jp_sampler_work_init(&w, m, &err) == JP_OK);
    size_t d = 8 * 144;
    float *x = jp_alloc(d * 4), *xq = jp_alloc(d * 4), *dx = jp_alloc(d * 4), *lg = jp_alloc(80 * 4), *dl = jp_alloc(80 * 4);
    int y[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    jp_rng r;
    jp_rng_seed(&r, 3);
    jp_rng_fill_uniform(&r, x, d, -1, 1);
    jp_rng_fill_uniform(&r, xq, d, -1, 1);
    step(m, &o, &w, &sc, x, xq, dx, lg, dl, y, &r); /* warm-up: lazy initialisation allowed */
    void *probe = malloc(16); /* the counter sees this program's own calls */
    long before_probe = alloc_calls;
    free(probe);
    tu_check(t, before_probe > 0, "allocation counter is live (%ld calls so far)", before_probe);
    struct mallinfo2 a = mallinfo2();
    long calls0 = alloc_calls;
    alloc_max = 0;
    for (int i = 0; i < 3; i++) step(m, &o, &w, &sc, x, xq, dx, lg, dl, y, &r);
    long calls = alloc_calls - calls0;
    size_t biggest = alloc_max;
    struct mallinfo2 b = mallinfo2();
    tu_check(t, biggest <= 4096, "no block over 4 KiB requested in 3 steady-state steps (largest %zu bytes, "
             "%ld small transient calls)", biggest, calls);
    tu_check(t, a.uordblks == b.uordblks, "heap bytes in use unchanged over 3 steps (%zu -> %zu)", a.uordblks, b.uordblks);
    tu_check(t, a.hblks == b.hblks && a.hblkhd == b.hblkhd, "mmap'd blocks unchanged (%zu -> %zu blocks)", a.hblks, b.hblks);
    /* PYLD's noise comes after the clamped inner steps, unclamped (the authors' sample_q) */
    int finite = 1;
    float edge = 1.0f + 8 * sc.sgld_std;
    for (size_t i = 0; i < d; i++) finite &= xq[i] == xq[i] && xq[i] >= -edge && xq[i] <= edge;
    tu_check(t, finite, "samples stay finite and within [-1, 1] plus 8 noise std");
    jp_sampler_work_free(&w);
    jp_optim_free(&o);
    jp_wrn_free(m);
    jp_free(x), jp_free(xq), jp_free(dx), jp_free(lg), jp_free(dl);
}

int main(void)
{
    tu_ctx t;
    tu_begin(&t, "test_no_alloc");
    check(&t, 0);
    check(&t, 1);
    return tu_finish(&t);
}
#endif
