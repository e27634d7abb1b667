/* keys.h - comparing key values across columns: the common type two key
 * columns are compared in, converting a column to it, and row equality.
 *
 * Joins compare a left key column with a right key column whose types may
 * differ (int32 with int64, decimals of different scales); distinct and the
 * join's own tables compare stored keys with incoming ones.  To keep the hot
 * comparison simple, keys are first brought to one common type (usually a
 * no-op), so equality only ever compares values of the same representation
 * and mr_hash_columns gives equal hashes to equal values.
 *
 * Comparable pairs (and their common type):
 *   same type                      that type (decimals: the wider precision)
 *   int32 with int64               int64
 *   decimal(p1,s1), decimal(p2,s2) decimal(max(p1-s1, p2-s2) + max(s1,s2),
 *                                  max(s1,s2)) when that is at most 18 digits;
 *                                  otherwise an error (cast one side)
 * Everything else (int with decimal or float64, date with timestamp, string
 * with anything but string, ...) is an MR_ETYPE error: the user casts one
 * side, so that the meaning of "equal" is never a silent guess.
 *
 * Equality: strings bytewise, floats by value with -0.0 == 0.0 and NaN equal
 * to NaN (as PostgreSQL compares float8 for joins, GROUP BY and DISTINCT).
 */
#ifndef MR_KEYS_H
#define MR_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/batch.h"
#include "core/error.h"
#include "core/types.h"

/* Sets *out to the type a and b are compared in (see above).  Returns 0, or
 * MR_ETYPE with a message naming both types (callers prefix the node and
 * columns). */
int mr_keys_common_type(mr_type a, mr_type b, mr_type *out, mr_err *err);

/* Whether values of type from must be converted to compare as type to (a
 * different physical id, or a decimal of another scale). */
bool mr_keys_needs_convert(mr_type from, mr_type to);

/* Writes rows 0..n of dst (of type to, initialised by the caller; grown
 * here) from rows rows[0..n) of src, or rows 0..n when rows is NULL,
 * converted from src's type to `to` (a common type from
 * mr_keys_common_type, or src's own type for a plain gather).  NULLs stay
 * NULL.  Returns 0, MR_ENOMEM, or MR_EOVERFLOW when a decimal value is out of
 * its declared precision and does not fit after rescaling. */
int mr_keys_convert(mr_column *dst, const mr_column *src, const uint32_t *rows, size_t n,
                    mr_type to);

/* Whether row i of a equals row j of b; both columns have the same
 * representation (mr_keys_needs_convert false between them).  A NULL
 * equals a NULL and nothing else (the DISTINCT / GROUP BY rule; joins
 * drop NULL keys before comparing). */
static inline bool mr_keys_equal(const mr_column *a, size_t i, const mr_column *b, size_t j)
{
    bool va = mr_column_is_valid(a, i);
    if (va != mr_column_is_valid(b, j))
        return false;
    if (!va)
        return true;
    switch (a->type.id) {
    case MR_T_STRING: {
        size_t la = a->offsets[i + 1] - a->offsets[i];
        size_t lb = b->offsets[j + 1] - b->offsets[j];
        return la == lb &&
               (la == 0 || __builtin_memcmp(a->chars + a->offsets[i], b->chars + b->offsets[j], la) == 0);
    }
    case MR_T_BOOL: return MR_COL_U8(a)[i] == MR_COL_U8(b)[j];
    case MR_T_INT32:
    case MR_T_DATE: return MR_COL_I32(a)[i] == MR_COL_I32(b)[j];
    case MR_T_FLOAT64: {
        double x = MR_COL_F64(a)[i], y = MR_COL_F64(b)[j];
        return x == y || (x != x && y != y);
    }
    default: return MR_COL_I64(a)[i] == MR_COL_I64(b)[j];
    }
}

/* Whether row i of the n columns a[] equals row j of the n columns b[]
 * (column k of a compared with column k of b, as mr_keys_equal). */
static inline bool mr_keys_row_equal(const mr_column *a, size_t i, const mr_column *b, size_t j,
                                     int n)
{
    for (int k = 0; k < n; k++)
        if (!mr_keys_equal(&a[k], i, &b[k], j))
            return false;
    return true;
}

/* A row index meaning "no row": mr_keys_gather writes a NULL for it. */
#define MR_KEYS_NULL_ROW UINT32_MAX

/* Writes rows at..at+n of dst from rows rows[0..n) of src (same type), or
 * from rows 0..n when rows is NULL; an MR_KEYS_NULL_ROW entry writes a
 * NULL.  dst grows by doubling; for strings its rows 0..at must be final.
 * Used to append to stored columns and to gather output rows.  Returns 0,
 * MR_ENOMEM, or MR_ETOOBIG when a string column would pass 4 GiB of
 * characters. */
int mr_keys_gather(mr_column *dst, size_t at, const mr_column *src, const uint32_t *rows,
                   size_t n);

/* Sets rows at..at+n of dst to NULL (growing it). 0 or MR_ENOMEM. */
int mr_keys_set_null(mr_column *dst, size_t at, size_t n);

/* Bytes held by a column's buffers (its capacity, not its use). */
size_t mr_keys_column_bytes(const mr_column *c);

#endif
