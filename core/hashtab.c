/* hashtab.c - the shared open-addressing table of key rows (hashtab.h). */
#include "core/hashtab.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/vec.h"

#define SLOT_TAG 0xffffffff00000000ULL
#define PREFETCH_AHEAD 8
#define PREFETCH_MIN_SLOTS (1u << 16)

static inline uint64_t slot_make(uint64_t h, size_t e)
{
    return (h & SLOT_TAG) | (uint64_t)(e + 1);
}

void mr_hashtab_free(mr_hashtab *t)
{
    if (t->keys)
        for (int k = 0; k < t->nkeys; k++)
            mr_column_free(&t->keys[k]);
    free(t->keys);
    free(t->hashes);
    free(t->slots);
    free(t->pend);
    memset(t, 0, sizeof *t);
}

int mr_hashtab_init(mr_hashtab *t, const mr_type *types, int nkeys)
{
    memset(t, 0, sizeof *t);
    t->nkeys = nkeys;
    t->keys = calloc(nkeys > 0 ? (size_t)nkeys : 1, sizeof *t->keys);
    t->cap = 1024;
    t->hashes = malloc(t->cap * sizeof *t->hashes);
    t->slots = calloc(2048, sizeof *t->slots);
    t->mask = 2047;
    if (!t->keys || !t->hashes || !t->slots)
        goto fail;
    for (int k = 0; k < nkeys; k++)
        if (mr_column_init(&t->keys[k], types[k], t->cap) < 0)
            goto fail;
    return 0;
fail:
    mr_hashtab_free(t);
    return MR_ENOMEM;
}

size_t mr_hashtab_bytes(const mr_hashtab *t)
{
    size_t b = t->cap * sizeof *t->hashes + (t->mask + 1) * sizeof *t->slots +
               t->pend_cap * sizeof *t->pend;
    for (int k = 0; t->keys && k < t->nkeys; k++)
        b += mr_vec_bytes(&t->keys[k]);
    return b;
}

/* Doubles the slot array and refills it from the hashes of the first
 * total entries (stored and pending). */
static int grow_slots(mr_hashtab *t, size_t total)
{
    size_t nslots = (t->mask + 1) * 2, mask = nslots - 1;
    uint64_t *s = calloc(nslots, sizeof *s);
    if (!s)
        return MR_ENOMEM;
    for (size_t e = 0; e < total; e++) {
        size_t pos = t->hashes[e] & mask;
        while (s[pos])
            pos = (pos + 1) & mask;
        s[pos] = slot_make(t->hashes[e], e);
    }
    free(t->slots);
    t->slots = s;
    t->mask = mask;
    return 0;
}

/* Room for n more entries and n pending rows. */
static int reserve(mr_hashtab *t, size_t n)
{
    if (t->n + n >= UINT32_MAX - 1)
        return MR_ETOOBIG;
    if (t->n + n > t->cap) {
        size_t cap = t->cap ? t->cap : 1024;
        while (cap < t->n + n)
            cap *= 2;
        uint64_t *h = realloc(t->hashes, cap * sizeof *h);
        if (!h)
            return MR_ENOMEM;
        t->hashes = h;
        t->cap = cap;
    }
    if (n > t->pend_cap) {
        uint32_t *p = realloc(t->pend, n * sizeof *p);
        if (!p)
            return MR_ENOMEM;
        t->pend = p;
        t->pend_cap = n;
    }
    return 0;
}

int mr_hashtab_probe(mr_hashtab *t, const mr_column *kv, const uint32_t *rows, size_t n,
                     const uint64_t *hash, uint32_t *ids, uint8_t *isnew)
{
    int rc = reserve(t, n);
    if (rc < 0)
        return rc;
    const size_t base = t->n;
    const int nk = t->nkeys;
    size_t npend = 0;
    /* With many entries the slot array is far bigger than the cache: fetch
     * the slot a few rows ahead while this row probes.  Small tables stay
     * cached and the prefetch would only cost. */
    const size_t pf_end = t->mask + 1 >= PREFETCH_MIN_SLOTS && n > PREFETCH_AHEAD
                              ? n - PREFETCH_AHEAD
                              : 0;
    for (size_t i = 0; i < n; i++) {
        if (i < pf_end)
            __builtin_prefetch(&t->slots[hash[i + PREFETCH_AHEAD] & t->mask]);
        uint32_t r = rows ? rows[i] : (uint32_t)i;
        uint64_t h = hash[i], tag = h & SLOT_TAG;
        size_t pos = h & t->mask;
        bool found = false;
        for (uint64_t s; (s = t->slots[pos]) != 0; pos = (pos + 1) & t->mask) {
            if ((s & SLOT_TAG) != tag)
                continue;
            uint32_t e = (uint32_t)s - 1;
            if (t->hashes[e] != h)
                continue;
            found = e < base ? mr_vec_row_equal(t->keys, e, kv, r, nk)
                             : mr_vec_row_equal(kv, t->pend[e - base], kv, r, nk);
            if (found) {
                ids[i] = e;
                break;
            }
        }
        if (isnew)
            isnew[i] = !found;
        if (found)
            continue;
        size_t e = base + npend;
        t->hashes[e] = h;
        t->slots[pos] = slot_make(h, e);
        t->pend[npend++] = r;
        ids[i] = (uint32_t)e;
        if ((e + 1) * 2 > t->mask + 1 && (rc = grow_slots(t, e + 1)) < 0)
            break;
    }
    /* the new keys into the table, one gather per column; on a failure the
     * entries are dropped (their slots stay: the caller fails the job) */
    for (int k = 0; k < nk && rc == 0; k++)
        rc = mr_vec_gather(&t->keys[k], base, &kv[k], t->pend, npend);
    if (rc < 0)
        return rc;
    t->n = base + npend;
    return 0;
}

void mr_hashtab_find(const mr_hashtab *t, const mr_column *kv, const uint32_t *rows, size_t n,
                     const uint64_t *hash, uint32_t *ids)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t r = rows ? rows[i] : (uint32_t)i;
        uint64_t h = hash[i], tag = h & SLOT_TAG;
        size_t pos = h & t->mask;
        ids[i] = UINT32_MAX;
        for (uint64_t s; (s = t->slots[pos]) != 0; pos = (pos + 1) & t->mask) {
            if ((s & SLOT_TAG) != tag)
                continue;
            uint32_t e = (uint32_t)s - 1;
            if (t->hashes[e] == h && mr_vec_row_equal(t->keys, e, kv, r, t->nkeys)) {
                ids[i] = e;
                break;
            }
        }
    }
}
