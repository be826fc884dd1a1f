/* numpy's legacy permutation, bit for bit: np.random.seed(seed) (MT19937 init_genrand)
 * then np.random.shuffle(list(range(n))), which walks i = n-1 .. 1 and swaps x[i] with
 * x[j], j drawn by random_interval(i): 32-bit draws masked to the smallest covering
 * power of two minus one, rejected while > i. The reference splits its training set
 * with this shuffle and seed 1234, so reproducing it gives the reference's split. */
#include <stdlib.h>

#include "jempp/data.h"

#define MT_N 624
#define MT_M 397

typedef struct {
    uint32_t key[MT_N];
    int pos;
} mt19937;

static void mt_seed(mt19937 *m, uint32_t seed)
{
    for (int i = 0; i < MT_N; i++) {
        m->key[i] = seed;
        seed = 1812433253u * (seed ^ (seed >> 30)) + (uint32_t)i + 1u;
    }
    m->pos = MT_N;
}

static void mt_gen(mt19937 *m)
{
    const uint32_t upper = 0x80000000u, lower = 0x7fffffffu, matrix = 0x9908b0dfu;
    int i;
    uint32_t y;
    for (i = 0; i < MT_N - MT_M; i++) {
        y = (m->key[i] & upper) | (m->key[i + 1] & lower);
        m->key[i] = m->key[i + MT_M] ^ (y >> 1) ^ (-(y & 1u) & matrix);
    }
    for (; i < MT_N - 1; i++) {
        y = (m->key[i] & upper) | (m->key[i + 1] & lower);
        m->key[i] = m->key[i + (MT_M - MT_N)] ^ (y >> 1) ^ (-(y & 1u) & matrix);
    }
    y = (m->key[MT_N - 1] & upper) | (m->key[0] & lower);
    m->key[MT_N - 1] = m->key[MT_M - 1] ^ (y >> 1) ^ (-(y & 1u) & matrix);
    m->pos = 0;
}

static uint32_t mt_next(mt19937 *m)
{
    if (m->pos == MT_N) mt_gen(m);
    uint32_t y = m->key[m->pos++];
    y ^= (y >> 11);
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= (y >> 18);
    return y;
}

static uint32_t random_interval(mt19937 *m, uint32_t max)
{
    if (max == 0) return 0;
    uint32_t mask = max, v;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    mask |= mask >> 16;
    while ((v = (mt_next(m) & mask)) > max) {
    }
    return v;
}

void jp_np_shuffle_perm(int *perm, int n, uint32_t seed)
{
    mt19937 *m = malloc(sizeof *m);
    JP_CHECK(m != NULL);
    mt_seed(m, seed);
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = n - 1; i >= 1; i--) {
        int j = (int)random_interval(m, (uint32_t)i);
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    free(m);
}
