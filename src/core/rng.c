#include "jempp/core.h"


static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void jp_rng_seed(jp_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
    r->reserved[0] = r->reserved[1] = 0;
}

double jp_rng_uniform(jp_rng *r) { return (double)(jp_rng_u64(r) >> 11) * 0x1.0p-53; }

uint64_t jp_rng_below(jp_rng *r, uint64_t n)
{
    JP_CHECK(n > 0);
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t v;
    do v = jp_rng_u64(r); while (v >= limit);
    return v % n;
}

void jp_rng_fill_uniform(jp_rng *r, float *x, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * (float)jp_rng_uniform(r);
}

void jp_rng_split(jp_rng *r, jp_rng *child) { jp_rng_seed(child, jp_rng_u64(r)); }
