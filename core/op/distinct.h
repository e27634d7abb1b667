/* distinct.h - the distinct operator: drops rows whose values (over all
 * columns or a chosen few) were already seen.
 *
 * SQL DISTINCT semantics: NULL equals NULL, strings compare bytewise,
 * -0.0 equals 0.0 and NaN equals NaN.  The first occurrence of each value
 * combination is kept, and the operator streams: every input batch yields
 * its new rows at once, so nothing waits for the end of the input.
 *
 * Distributed use: the same operator runs on both sides of a shuffle.  The
 * map side removes duplicates within its task (a partial distinct), the
 * shuffle routes rows by mr_hash_columns over the distinct columns, and the
 * reduce side removes duplicates across tasks.
 */
#ifndef MR_OP_DISTINCT_H
#define MR_OP_DISTINCT_H

#include <stddef.h>

#include "core/op.h"

/* Creates a distinct over child (which it owns from this call on, also
 * when it fails).  columns names ncols columns of the child's output; the
 * output is exactly those columns in that order.  ncols == 0 (columns may
 * be NULL) means every column of the child, in its order.  node names the
 * DAG node in errors.  Returns the operator (caller owns it; free with
 * mr_op_close) or NULL with err set: an unknown column (the message lists
 * the input's columns), a column named twice, out of memory.
 *
 * next() hands out the child's batch as a view: the chosen columns,
 * narrowed by a selection vector to the rows not seen before; it stays
 * valid until the next call to next() or close(). */
mr_op *mr_distinct_create(mr_op *child, const char *const *columns, int ncols, const char *node,
                          mr_err *err);

/* Bytes held by the set of seen rows and the scratch (0 before open);
 * compared with the task's memory budget (op->ctx) to decide when to spill
 * (distinct.c). */
size_t mr_distinct_memory(const mr_op *op);

/* Distinct rows seen so far. */
size_t mr_distinct_count(const mr_op *op);

#endif
