/* Static partitions whose threads take from each other's ends when they run out: thread
 * t works through its own share of the items from the front, as schedule(static) would
 * give it, then takes the last items left in the other threads' shares, one at a time.
 * On cores of equal speed each thread keeps its own share (and the activations it left
 * in its cache the layer before); where one core runs slower (a busy machine, a vCPU
 * whose host is loaded) the others finish its share instead of waiting at the barrier.
 * Only for loops whose items are independent and computed the same way by any thread:
 * which thread ran an item never changes a result.
 *
 *   jp_steal s;
 *   jp_steal_init(&s, n_items, n_threads);      (before the parallel region)
 *   #pragma omp parallel num_threads(n_threads)
 *   for (int i; (i = jp_steal_next(&s, omp_get_thread_num())) >= 0;) work(i);
 *
 * or JP_STEAL_FOR below for all threads. Inside one region a jp_steal may be set up again
 * (jp_steal_init by one thread) once a barrier has ended its use, with a barrier before
 * its next one.
 *
 * A team smaller than n_threads still runs every item (the missing threads' shares are
 * taken from their ends). */
#ifndef JEMPP_CORE_STEAL_H
#define JEMPP_CORE_STEAL_H

#include <omp.h>
#include <stdatomic.h>
#include <stdint.h>

enum { JP_STEAL_MAX = 64 };

typedef struct {
    /* per share: (next item from the front) << 32 | (one past the last item left) */
    _Atomic uint64_t span[JP_STEAL_MAX];
    int shares;
} jp_steal;

/* n items in `threads` shares as schedule(static) makes them (more than JP_STEAL_MAX
 * threads share JP_STEAL_MAX shares). */
static inline void jp_steal_init(jp_steal *s, int n, int threads)
{
    s->shares = threads < 1 ? 1 : threads > JP_STEAL_MAX ? JP_STEAL_MAX : threads;
    for (int t = 0; t < s->shares; t++) {
        uint64_t a = (uint64_t)n * t / s->shares, b = (uint64_t)n * (t + 1) / s->shares;
        atomic_init(&s->span[t], a << 32 | b);
    }
}

/* The next item of thread th: from the front of its own share, else from the back of
 * another's; -1 when none is left. */
static inline int jp_steal_next(jp_steal *s, int th)
{
    int own = th % s->shares;
    _Atomic uint64_t *p = &s->span[own];
    uint64_t v = atomic_load_explicit(p, memory_order_relaxed);
    while ((uint32_t)(v >> 32) < (uint32_t)v)
        if (atomic_compare_exchange_weak_explicit(p, &v, v + ((uint64_t)1 << 32), memory_order_relaxed,
                                                  memory_order_relaxed))
            return (int)(v >> 32);
    for (int k = 1; k < s->shares; k++) {
        p = &s->span[(own + k) % s->shares];
        v = atomic_load_explicit(p, memory_order_relaxed);
        while ((uint32_t)(v >> 32) < (uint32_t)v)
            if (atomic_compare_exchange_weak_explicit(p, &v, v - 1, memory_order_relaxed, memory_order_relaxed))
                return (int)((uint32_t)v - 1);
    }
    return -1;
}

/* for (int i ...) over items 0..n-1 in a parallel region of all threads, stealing:
 *   JP_STEAL_FOR(i, n) { work(i); }
 * (the region's threads each run the loop; what the body declares is its own). */
#define JP_STEAL_FOR(i, n)                                                                                   \
    jp_steal i##_steal;                                                                                      \
    jp_steal_init(&i##_steal, (n), omp_get_max_threads());                                                  \
    _Pragma("omp parallel") for (int i; (i = jp_steal_next(&i##_steal, omp_get_thread_num())) >= 0;)

#endif
