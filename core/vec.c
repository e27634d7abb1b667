/* vec.c - the vector kernels every operator moves values with.
 *
 * Column by column over a whole list of rows: fixed-width types in one
 * typed loop, strings by first summing their lengths (one reservation) and
 * then copying bytes.  Validity bits are written for every row, set or
 * cleared, since a reused column keeps stale bits; a NULL row keeps a zero
 * value (an empty string), so the bytes a hash might read are never stale.
 */
#include "core/vec.h"

#include <string.h>

int mr_vec_set_null(mr_column *dst, size_t at, size_t n)
{
    if (mr_column_reserve(dst, at + n) < 0)
        return MR_ENOMEM;
    if (dst->type.id == MR_T_STRING) {
        uint32_t end = dst->offsets[at];
        for (size_t i = 0; i < n; i++)
            dst->offsets[at + i + 1] = end;
    }
    for (size_t i = 0; i < n; i++)
        mr_column_set_valid(dst, at + i, false);
    return 0;
}

static int gather_str(mr_column *dst, size_t at, const mr_column *src, const uint32_t *rows,
                      size_t n)
{
    size_t used = dst->offsets[at], total = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t r = rows ? rows[i] : (uint32_t)i;
        if (r != MR_VEC_NULL_ROW)
            total += src->offsets[r + 1] - src->offsets[r];
    }
    int rc = mr_column_reserve_chars(dst, used, total);
    if (rc < 0)
        return rc;
    uint32_t *off = dst->offsets + at;
    uint32_t pos = (uint32_t)used;
    for (size_t i = 0; i < n; i++) {
        uint32_t r = rows ? rows[i] : (uint32_t)i;
        bool v = r != MR_VEC_NULL_ROW && mr_column_is_valid(src, r);
        if (v) {
            uint32_t st = src->offsets[r], len = src->offsets[r + 1] - st;
            if (len)
                memcpy(dst->chars + pos, src->chars + st, len);
            pos += len;
        }
        off[i + 1] = pos;
        mr_column_set_valid(dst, at + i, v);
    }
    return 0;
}

/* One typed loop per width; a NULL row keeps a zero value so that the
 * column's bytes never hold stale data that a hash might read. */
#define GATHER_FIXED(T)                                                                  \
    do {                                                                                 \
        T *d = (T *)dst->data + at;                                                      \
        const T *s = (const T *)src->data;                                               \
        for (size_t i = 0; i < n; i++) {                                                 \
            uint32_t r = rows ? rows[i] : (uint32_t)i;                                   \
            bool v = r != MR_VEC_NULL_ROW && mr_column_is_valid(src, r);                \
            d[i] = v ? s[r] : (T)0;                                                      \
            mr_column_set_valid(dst, at + i, v);                                         \
        }                                                                                \
    } while (0)

int mr_vec_gather(mr_column *dst, size_t at, const mr_column *src, const uint32_t *rows,
                   size_t n)
{
    if (mr_column_reserve(dst, at + n) < 0)
        return MR_ENOMEM;
    switch (mr_type_width(src->type)) {
    case 0: return gather_str(dst, at, src, rows, n);
    case 1: GATHER_FIXED(uint8_t); break;
    case 4: GATHER_FIXED(uint32_t); break;
    default: GATHER_FIXED(uint64_t); break;
    }
    return 0;
}

int mr_vec_gather_sel(mr_column *dst, const mr_column *src, const mr_batch *b)
{
    return mr_vec_gather(dst, 0, src, b->sel, mr_batch_live(b));
}

int mr_vec_copy_range(mr_column *dst, size_t at, const mr_column *src, size_t from, size_t n)
{
    if (mr_column_reserve(dst, at + n) < 0)
        return MR_ENOMEM;
    for (size_t i = 0; i < n; i++)
        mr_column_set_valid(dst, at + i, mr_column_is_valid(src, from + i));
    if (src->type.id != MR_T_STRING) {
        size_t w = mr_type_width(src->type);
        if (n)
            memcpy((char *)dst->data + at * w, (const char *)src->data + from * w, n * w);
        return 0;
    }
    size_t used = dst->offsets[at];
    uint32_t first = src->offsets[from], total = src->offsets[from + n] - first;
    int rc = mr_column_reserve_chars(dst, used, total);
    if (rc < 0)
        return rc;
    if (total)
        memcpy(dst->chars + used, src->chars + first, total);
    for (size_t i = 0; i < n; i++)
        dst->offsets[at + i + 1] = (uint32_t)(used + src->offsets[from + i + 1] - first);
    return 0;
}

size_t mr_vec_bytes(const mr_column *c)
{
    size_t b = (c->cap + 7) / 8 + c->chars_cap;
    if (c->type.id == MR_T_STRING)
        b += c->offsets ? (c->cap + 1) * sizeof *c->offsets : 0;
    else
        b += c->cap * mr_type_width(c->type);
    return b;
}
