/* keys.c - the common type join keys compare in, and key conversion to it
 * (the plain gathers are core/vec.c). */
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

int mr_keys_convert(mr_column *dst, const mr_column *src, const uint32_t *rows, size_t n,
                    mr_type to)
{
    if (!mr_keys_needs_convert(src->type, to))
        return mr_vec_gather(dst, 0, src, rows, n);
    if (mr_column_reserve(dst, n) < 0)
        return MR_ENOMEM;
    int64_t *d = MR_COL_I64(dst);
    if (src->type.id == MR_T_INT32) {
        const int32_t *s = MR_COL_I32(src);
        for (size_t i = 0; i < n; i++) {
            uint32_t r = rows ? rows[i] : (uint32_t)i;
            bool v = r != MR_VEC_NULL_ROW && mr_column_is_valid(src, r);
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
        bool v = r != MR_VEC_NULL_ROW && mr_column_is_valid(src, r);
        int64_t x = 0;
        if (v && __builtin_mul_overflow(s[r], f, &x))
            return MR_EOVERFLOW;
        d[i] = x;
        mr_column_set_valid(dst, i, v);
    }
    return 0;
}
