/* hash.c - value hashing shared by aggregate, join, distinct and shuffle. */
#include "core/hash.h"

#include <string.h>

#define NULL_HASH 0x5bd1e9955bd1e995ULL

uint64_t mr_hash_bytes(const void *p, size_t n, uint64_t seed)
{
    /* FNV-1a over 8-byte words, then a strong final mix: fast on short keys
     * and well distributed after mr_hash_mix. */
    const unsigned char *s = p;
    uint64_t h = seed ^ (0xcbf29ce484222325ULL + n);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0x100000001b3ULL;
        h ^= h >> 29;
        s += 8;
        n -= 8;
    }
    uint64_t tail = 0;
    memcpy(&tail, s, n);
    h = (h ^ tail) * 0x100000001b3ULL;
    return mr_hash_mix(h);
}

static uint64_t hash_fixed(const mr_column *c, uint32_t r)
{
    int64_t v;
    switch (c->type.id) {
    case MR_T_BOOL: v = MR_COL_U8(c)[r]; break;
    case MR_T_INT32:
    case MR_T_DATE: v = MR_COL_I32(c)[r]; break;
    case MR_T_FLOAT64: {
        double d = MR_COL_F64(c)[r];
        if (d == 0.0)
            d = 0.0; /* -0.0 and 0.0 are equal, so they hash equal */
        memcpy(&v, &d, 8);
        break;
    }
    default: v = MR_COL_I64(c)[r]; break;
    }
    return mr_hash_mix((uint64_t)v ^ 0x9e3779b97f4a7c15ULL);
}

void mr_hash_columns(const mr_batch *b, const int *keys, int nkeys, uint64_t *out)
{
    size_t n = mr_batch_live(b);
    for (size_t i = 0; i < n; i++)
        out[i] = 0x2545f4914f6cdd1dULL;
    for (int k = 0; k < nkeys; k++) {
        const mr_column *c = &b->cols[keys[k]];
        for (size_t i = 0; i < n; i++) {
            uint32_t r = mr_batch_row(b, i);
            uint64_t h;
            if (!mr_column_is_valid(c, r)) {
                h = NULL_HASH;
            } else if (c->type.id == MR_T_STRING) {
                size_t len;
                const char *s = mr_column_str(c, r, &len);
                h = mr_hash_bytes(s, len, 0);
            } else {
                h = hash_fixed(c, r);
            }
            out[i] = k == 0 ? h : mr_hash_combine(out[i], h);
        }
    }
}
