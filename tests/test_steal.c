/* The stolen static shares of src/core/steal.h: the order one thread takes the items in
 * (its own share from the front, then the others' from their backs), every item exactly
 * once with threads racing, with a team smaller than the shares, and when one thread
 * takes nothing until the other has run out (all of its share stolen). */
#include <omp.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "core/steal.h"
#include "testutil.h"

/* Items 0..n-1 taken by a team of `team` threads over `shares` shares; counts[i] the
 * times item i was taken. */
static void take_all(jp_steal *s, int n, int shares, int team, _Atomic int *counts)
{
    jp_steal_init(s, n, shares);
    for (int i = 0; i < n; i++) atomic_init(&counts[i], 0);
#pragma omp parallel num_threads(team)
    for (int i; (i = jp_steal_next(s, omp_get_thread_num())) >= 0;) atomic_fetch_add(&counts[i], 1);
}

static int each_once(const _Atomic int *counts, int n)
{
    for (int i = 0; i < n; i++)
        if (atomic_load(&counts[i]) != 1) return 0;
    return 1;
}

int main(void)
{
    tu_ctx t;
    tu_begin(&t, "test_steal");
    jp_steal s;

    /* one thread: share 0 = [0, 3) from the front, share 1 = [3, 6) and share 2 = [6, 10)
     * from their backs */
    static const int order[10] = {0, 1, 2, 5, 4, 3, 9, 8, 7, 6};
    jp_steal_init(&s, 10, 3);
    int ok = 1;
    for (int k = 0; k < 10; k++) ok &= jp_steal_next(&s, 0) == order[k];
    tu_check(&t, ok && jp_steal_next(&s, 0) == -1, "one thread takes its share, then the others' from their ends");
    jp_steal_init(&s, 0, 2);
    tu_check(&t, jp_steal_next(&s, 1) == -1, "no items: none to take");

    enum { N = 10007 };
    _Atomic int *counts = malloc(N * sizeof *counts);
    int racing = 1;
    for (int round = 0; round < 50; round++) {
        take_all(&s, N, 4, 4, counts);
        racing &= each_once(counts, N);
    }
    tu_check(&t, racing, "4 threads racing over 4 shares: every item once in 50 rounds");
    take_all(&s, N, 4, 2, counts);
    tu_check(&t, each_once(counts, N), "a team of 2 over 4 shares: every item once");
    take_all(&s, N, 1, 3, counts);
    tu_check(&t, each_once(counts, N), "3 threads on 1 share: every item once");

    /* thread 1 takes nothing until thread 0 has found no item left */
    jp_steal_init(&s, N, 2);
    for (int i = 0; i < N; i++) atomic_init(&counts[i], 0);
    atomic_int done = 0;
    int got1 = 0, team = 0;
#pragma omp parallel num_threads(2)
    {
        int th = omp_get_thread_num();
        if (th == 0) team = omp_get_num_threads();
        if (th == 0) {
            for (int i; (i = jp_steal_next(&s, 0)) >= 0;) atomic_fetch_add(&counts[i], 1);
            atomic_store(&done, 1);
        } else {
            while (!atomic_load(&done)) {
            }
            got1 = jp_steal_next(&s, 1);
        }
    }
    tu_check(&t, team == 2 && each_once(counts, N) && got1 == -1,
             "a stalled thread's whole share taken by the other (and nothing left for it; team of %d)", team);

    /* JP_STEAL_FOR over all threads */
    for (int i = 0; i < N; i++) atomic_init(&counts[i], 0);
    {
        JP_STEAL_FOR(it, N) atomic_fetch_add(&counts[it], 1);
    }
    tu_check(&t, each_once(counts, N), "JP_STEAL_FOR: every item once");
    free(counts);
    return tu_finish(&t);
}
