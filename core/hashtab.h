/* hashtab.h - the one hash table of key rows, shared by the hash aggregate
 * (its groups and its count(distinct) sets) and distinct (its seen rows).
 *
 * Open addressing with linear probing over a power-of-two array of 64-bit
 * slots, each the entry number + 1 (0 = empty) under the high 32 bits of
 * the entry's hash as a tag, so a probe that meets another key usually
 * moves on without touching stored values.  Entries are append-only: their
 * keys live in one mr_column per key column (row e = entry e) beside the
 * entry's full hash; the slot array doubles at half full and is refilled
 * from the stored hashes alone.  Large tables prefetch the slots of rows a
 * few ahead.
 *
 * A probe takes a whole batch of rows.  Rows it adds are "pending" until
 * it returns: their keys are still only in the caller's columns, so a later
 * duplicate in the same call compares against those; at the end the new
 * keys are copied into the table in one gather per column (core/vec.h).
 * Equality is mr_vec_row_equal: NULL equals NULL, -0.0 equals 0.0, NaN
 * equals NaN, strings bytewise.  The caller hashes the rows (with
 * mr_hash_columns, so tables and shuffles agree) and brings key columns of
 * the table's types.
 */
#ifndef MR_HASHTAB_H
#define MR_HASHTAB_H

#include <stddef.h>
#include <stdint.h>

#include "core/batch.h"
#include "core/types.h"

typedef struct mr_hashtab {
    int nkeys;
    mr_column *keys;  /* nkeys columns, row e = key of entry e */
    uint64_t *hashes; /* full hash of entry e */
    size_t n, cap;    /* entries stored, and room in hashes */
    uint64_t *slots;  /* 0 for empty, else (hash >> 32) << 32 | (entry + 1) */
    size_t mask;      /* slot count - 1 */
    uint32_t *pend;   /* scratch: the caller's row of each pending entry */
    size_t pend_cap;
} mr_hashtab;

/* An empty table of nkeys key columns of types[].  0 or MR_ENOMEM (t is
 * then empty and may be freed). */
int mr_hashtab_init(mr_hashtab *t, const mr_type *types, int nkeys);

/* Frees everything t holds and zeroes it; a zeroed table is a no-op. */
void mr_hashtab_free(mr_hashtab *t);

/* Bytes held (capacities, not use). */
size_t mr_hashtab_bytes(const mr_hashtab *t);

/* Finds or adds the key of n rows: row rows[i] (or i when rows is NULL) of
 * the key columns kv[0..nkeys), whose hash is hash[i].  Writes the entry of
 * row i into ids[i] and, when isnew is not NULL, whether it was added into
 * isnew[i].  Returns 0, MR_ENOMEM, or MR_ETOOBIG past 2^32 - 2 entries or
 * 4 GiB of text in a string key column. */
int mr_hashtab_probe(mr_hashtab *t, const mr_column *kv, const uint32_t *rows, size_t n,
                     const uint64_t *hash, uint32_t *ids, uint8_t *isnew);

/* Looks up n rows as mr_hashtab_probe does, without adding: ids[i] is the
 * entry, or UINT32_MAX when the key is not in the table. */
void mr_hashtab_find(const mr_hashtab *t, const mr_column *kv, const uint32_t *rows, size_t n,
                     const uint64_t *hash, uint32_t *ids);

#endif
