/* A fast 64-bit hash of bytes: not cryptographic, for cache keys (the data sets'
 * jp_dataset_hash) and for comparing copies (the data-parallel ranks' weights).
 * Internal header. */
#ifndef JEMPP_CORE_HASH_H
#define JEMPP_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

/* The hash of data (len bytes), started from seed: the same bytes and seed, the same
 * value on every machine. */
uint64_t jp_hash_bytes(uint64_t seed, const void *data, size_t len);

#endif
