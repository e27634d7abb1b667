/* keys.c - common key types, key conversion and column gathers shared by
 * the join and distinct operators.
 *
 * The gathers are the operators' only way of moving values: column by
 * column over a whole list of rows, fixed-width types in one typed loop,
 * strings by first summing their lengths (one reservation) and then copying
 * bytes.  Validity bits are written for every row, set or cleared, since a
 * reused column keeps stale bits.
 */
#include "core/keys.h"

#include <stdio.h>
#include <string.h>

int mr_keys_common_type(mr_type a, mr_type b, mr_type *out, mr_err *err)
{
    char na[48], nb[48];
    int rc = mr_type_common(a, b, &MR_WIDEN_KEYS, out);
    if (rc == MR_EOVERFLOW) {
        int s = a.scale > b.scale ? a.scale : b.scale;
        int ia = a.precision - a.scale, ib = b.precision - b.scale;
        return mr_err_set(err, MR_ETYPE,
                          "%s and %s cannot be compared exactly (it would take "
                          "decimal(%d,%d)); cast one side",
                          mr_type_name(a, na, sizeof na), mr_type_name(b, nb, sizeof nb),
                          (ia > ib ? ia : ib) + s, s);
    }
    if (rc < 0)
        return mr_err_set(err, MR_ETYPE, "%s and %s cannot be compared; cast one side",
                          mr_type_name(a, na, sizeof na), mr_type_name(b, nb, sizeof nb));
    return 0;
}

bool mr_keys_needs_convert(mr_type from, mr_type to)
{
    if (from.id != to.id)
        return true;
    return from.id == MR_T_DECIMAL && from.scale != to.scale;
}

int mr_keys_set_null(mr_column *dst, size_t at, size_t n)
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
        if (r != MR_KEYS_NULL_ROW)
            total += src->offsets[r + 1] - src->offsets[r];
    }
    int rc = mr_column_reserve_chars(dst, used, total);
    if (rc < 0)
        return rc;
    uint32_t *off = dst->offsets + at;
    uint32_t pos = (uint32_t)used;
    for (size_t i = 0; i < n; i++) {
        uint32_t r = rows ? rows[i] : (uint32_t)i;
        bool v = r != MR_KEYS_NULL_ROW && mr_column_is_valid(src, r);
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
            bool v = r != MR_KEYS_NULL_ROW && mr_column_is_valid(src, r);                \
            d[i] = v ? s[r] : (T)0;                                                      \
            mr_column_set_valid(dst, at + i, v);                                         \
        }                                                                                \
    } while (0)

int mr_keys_gather(mr_column *dst, size_t at, const mr_column *src, const uint32_t *rows,
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

int mr_keys_convert(mr_column *dst, const mr_column *src, const uint32_t *rows, size_t n,
                    mr_type to)
{
    if (!mr_keys_needs_convert(src->type, to))
        return mr_keys_gather(dst, 0, src, rows, n);
    if (mr_column_reserve(dst, n) < 0)
        return MR_ENOMEM;
    int64_t *d = MR_COL_I64(dst);
    if (src->type.id == MR_T_INT32) {
        const int32_t *s = MR_COL_I32(src);
        for (size_t i = 0; i < n; i++) {
            uint32_t r = rows ? rows[i] : (uint32_t)i;
            bool v = r != MR_KEYS_NULL_ROW && mr_column_is_valid(src, r);
            d[i] = v ? s[r] : 0;
            mr_column_set_valid(dst, i, v);
        }
        return 0;
    }
    /* decimal to a larger scale (the common type never lowers a scale) */
    const int64_t *s = MR_COL_I64(src);
    int64_t f = mr_pow10[to.scale - src->type.scale];
    for (size_t i = 0; i < n; i++) {
        uint32_t r = rows ? rows[i] : (uint32_t)i;
        bool v = r != MR_KEYS_NULL_ROW && mr_column_is_valid(src, r);
        int64_t x = 0;
        if (v && __builtin_mul_overflow(s[r], f, &x))
            return MR_EOVERFLOW;
        d[i] = x;
        mr_column_set_valid(dst, i, v);
    }
    return 0;
}

size_t mr_keys_column_bytes(const mr_column *c)
{
    size_t b = (c->cap + 7) / 8 + c->chars_cap;
    if (c->type.id == MR_T_STRING)
        b += c->offsets ? (c->cap + 1) * sizeof *c->offsets : 0;
    else
        b += c->cap * mr_type_width(c->type);
    return b;
}
