#include "jempp/core.h"

#include <math.h>

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
    r->spare = 0.0;
    r->has_spare = 0;
}

double jp_rng_uniform(jp_rng *r) { return (double)(jp_rng_u64(r) >> 11) * 0x1.0p-53; }

double jp_rng_normal(jp_rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u1, u2;
    do u1 = jp_rng_uniform(r); while (u1 <= 0.0);
    u2 = jp_rng_uniform(r);
    double rad = sqrt(-2.0 * log(u1)), th = 2.0 * M_PI * u2;
    r->spare = rad * sin(th);
    r->has_spare = 1;
    return rad * cos(th);
}

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

void jp_rng_fill_normal(jp_rng *r, float *x, size_t n, float mean, float std)
{
    for (size_t i = 0; i < n; i++) x[i] = mean + std * (float)jp_rng_normal(r);
}

void jp_rng_split(jp_rng *r, jp_rng *child) { jp_rng_seed(child, jp_rng_u64(r)); }
