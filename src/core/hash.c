/* See hash.h. A 4-lane multiply-rotate hash over 64-bit words (in the spirit of
 * xxHash64). */
#include "core/hash.h"

#include <string.h>

static inline uint64_t rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
#define H_P1 0x9E3779B185EBCA87ull
#define H_P2 0xC2B2AE3D27D4EB4Full
#define H_P3 0x165667B19E3779F9ull

static inline uint64_t hash_round(uint64_t acc, uint64_t v)
{
    acc += v * H_P2;
    acc = rotl64(acc, 31);
    return acc * H_P1;
}

uint64_t jp_hash_bytes(uint64_t seed, const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t v[4] = {seed + H_P1 + H_P2, seed + H_P2, seed, seed - H_P1};
    size_t i = 0;
    for (; i + 32 <= len; i += 32) {
        uint64_t w[4];
        memcpy(w, p + i, 32);
        for (int k = 0; k < 4; k++) v[k] = hash_round(v[k], w[k]);
    }
    uint64_t h = rotl64(v[0], 1) + rotl64(v[1], 7) + rotl64(v[2], 12) + rotl64(v[3], 18);
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h ^= hash_round(0, w);
        h = rotl64(h, 27) * H_P1 + H_P3;
    }
    for (; i < len; i++) {
        h ^= (uint64_t)p[i] * H_P3;
        h = rotl64(h, 11) * H_P1;
    }
    h ^= (uint64_t)len;
    h ^= h >> 33;
    h *= H_P2;
    h ^= h >> 29;
    h *= H_P3;
    h ^= h >> 32;
    return h;
}
