/* hash.h - hashing of column values for aggregation, joins, distinct and
 * shuffle partitioning.
 *
 * All users must agree on the hash of a key (the map side partitions by it
 * and the reduce side builds tables with it), so there is exactly one way to
 * hash a value: mr_hash_columns.  NULLs hash to a fixed value; equal values
 * of equal type hash equal; strings hash their bytes.
 */
#ifndef MR_HASH_H
#define MR_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "core/batch.h"

/* For every live row i of b (i in 0..mr_batch_live(b)), writes into out[i]
 * the combined hash of the key columns keys[0..nkeys).  With nkeys == 0 all
 * rows hash to the same value. */
void mr_hash_columns(const mr_batch *b, const int *keys, int nkeys, uint64_t *out);

/* 64-bit hash of bytes, and the mixer used to combine hashes. */
uint64_t mr_hash_bytes(const void *p, size_t n, uint64_t seed);
static inline uint64_t mr_hash_mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}
static inline uint64_t mr_hash_combine(uint64_t a, uint64_t b)
{
    return mr_hash_mix(a ^ (b + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2)));
}

#endif
