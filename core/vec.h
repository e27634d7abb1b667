/* vec.h - the vector kernels operators move and compare values with:
 * gather (rows picked by a list), gather by a batch's selection, copy a
 * range of rows, row equality, and the bytes a column holds.
 *
 * One implementation each, used by every operator (hash aggregate, hash
 * join, distinct, sort, project), so a faster loop or a new type is added
 * once.  Equality: NULL equals NULL (the DISTINCT / GROUP BY rule; joins
 * drop NULL keys before comparing), strings bytewise, floats by value with
 * -0.0 == 0.0 and NaN equal to NaN.
 */
#ifndef MR_VEC_H
#define MR_VEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/batch.h"

/* Whether row i of a equals row j of b; both columns have the same
 * representation (the same type; a join converts keys first, core/keys.h).  A NULL
 * equals a NULL and nothing else (the DISTINCT / GROUP BY rule; joins
 * drop NULL keys before comparing). */
static inline bool mr_vec_equal(const mr_column *a, size_t i, const mr_column *b, size_t j)
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
 * (column k of a compared with column k of b, as mr_vec_equal). */
static inline bool mr_vec_row_equal(const mr_column *a, size_t i, const mr_column *b, size_t j,
                                     int n)
{
    for (int k = 0; k < n; k++)
        if (!mr_vec_equal(&a[k], i, &b[k], j))
            return false;
    return true;
}

/* A row index meaning "no row": mr_vec_gather writes a NULL for it. */
#define MR_VEC_NULL_ROW UINT32_MAX

/* Writes rows at..at+n of dst from rows rows[0..n) of src (same type), or
 * from rows 0..n when rows is NULL; an MR_VEC_NULL_ROW entry writes a
 * NULL.  dst grows by doubling; for strings its rows 0..at must be final.
 * Used to append to stored columns and to gather output rows.  Returns 0,
 * MR_ENOMEM, or MR_ETOOBIG when a string column would pass 4 GiB of
 * characters. */
int mr_vec_gather(mr_column *dst, size_t at, const mr_column *src, const uint32_t *rows,
                   size_t n);

/* Sets rows at..at+n of dst to NULL (growing it). 0 or MR_ENOMEM. */
int mr_vec_set_null(mr_column *dst, size_t at, size_t n);

/* Bytes held by a column's buffers (its capacity, not its use). */
size_t mr_vec_bytes(const mr_column *c);

/* Writes the live rows of column src of batch b (in b's order) into rows
 * 0.. of dst, densely: a gather by b's selection vector (or a copy of
 * every row when b has none).  0 or a negative code as mr_vec_gather. */
int mr_vec_gather_sel(mr_column *dst, const mr_column *src, const mr_batch *b);

/* Writes rows at..at+n of dst from rows from..from+n of src (same type);
 * for strings dst's rows 0..at must be final.  0, MR_ENOMEM or MR_ETOOBIG. */
int mr_vec_copy_range(mr_column *dst, size_t at, const mr_column *src, size_t from, size_t n);

#endif
