/* sort.h - the sort operator (ORDER BY with several keys, asc/desc, nulls
 * first/last) and its top-N form (ORDER BY ... LIMIT n).
 *
 * The order is total and deterministic: rows whose keys are all equal keep
 * their input order (the sort is stable), so the same input in the same
 * order always gives the same output.  Key order follows PostgreSQL:
 * numbers by value (-0.0 equals 0.0; NaN sorts after every other float,
 * +Infinity included), strings bytewise (so by code point for UTF-8),
 * false before true, dates and timestamps by time.  NULLs sort last for
 * asc and first for desc unless the key says otherwise.
 *
 * Memory: the operator materializes its input (all of it, or for top-N at
 * most about 2n + one batch of rows) and reports what it holds through
 * mr_sort_memory.  With a memory budget in the task's mr_exec_ctx it
 * becomes an external merge sort: sorted runs go to spill files and are
 * merged (sort.c), with the same output, order included.  Without a
 * budget an input larger than memory fails with MR_ENOMEM; string data of
 * one column in memory is limited to 4 GiB (MR_ETOOBIG).
 */
#ifndef MR_OP_SORT_H
#define MR_OP_SORT_H

#include <stddef.h>
#include <stdint.h>

#include "core/op.h"
#include "core/sortkey.h" /* mr_sort_key_parse */

/* Creates a sort of child's rows by the nkeys (>= 1) columns keys[] of
 * child->schema, with desc[i] and nulls_first[i] per key (0/1).  limit -1
 * sorts everything; limit >= 0 returns only the first `limit` rows of the
 * sorted order while keeping no more than about 2*limit + one batch of rows
 * in memory.  Takes ownership of child (closed with the sort, also when
 * creation fails).  The output schema is child's.  Returns the operator
 * (free with mr_op_close) or NULL with err set: MR_ENOTFOUND for a key
 * that is not a column, MR_EINVAL for bad arguments, MR_ENOMEM. */
mr_op *mr_sort_create(mr_op *child, const char *const *keys, const int *desc,
                      const int *nulls_first, int nkeys, int64_t limit, const char *node,
                      mr_err *err);

/* Bytes held by the operator's materialized rows, keys and permutation
 * (0 before open, or when op is not a sort). */
size_t mr_sort_memory(const mr_op *op);

#endif
