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
#include "core/vec.h" /* mr_vec_equal, mr_vec_gather */

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

#endif
