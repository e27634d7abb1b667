/* union.h - UNION ALL of several inputs, columns matched by name, with
 * implicit widening.
 *
 * The output has the first input's column names in its order; every other
 * input must have exactly the same set of names (in any order).  Each
 * output column takes the common type of the inputs' columns:
 *   same type                        that type
 *   int32 with int64                 int64
 *   int32/int64 with decimal(p,s)    decimal(18,s)
 *   decimal(p1,s) with decimal(p2,s) decimal(max(p1,p2),s)
 *   decimals of different scales     decimal(18,max(s1,s2))
 *   float64 with int or decimal      float64
 *   date with timestamp              timestamp (midnight)
 * Anything else (string with a number, bool with int, ...) is an MR_ETYPE
 * error naming the column and both types: cast explicitly.  Widening a
 * value that does not fit the wider decimal (an int64 into decimal(18,4),
 * say) fails the job with MR_EOVERFLOW naming the node and column.
 *
 * distinct: mr_union_create(..., distinct=1, ...) returns the union under a
 * distinct operator over all columns (core/op/distinct.h): UNION without
 * ALL, within one task.  When the union's inputs are spread over tasks the
 * DAG compiler must still put a distinct after the shuffle (the distinct
 * operator is built for running on both sides of one).
 */
#ifndef MR_OP_UNION_H
#define MR_OP_UNION_H

#include "core/op.h"

/* Computes the union's output schema from the n (>= 2) input schemas, as
 * described above.  Returns 0 and *out (caller owns), or MR_EINVAL (fewer
 * than two inputs), MR_ENOTFOUND (a column missing from an input, or an
 * extra one), MR_ETYPE (incompatible types), MR_ENOMEM, with a message such
 * as "union input 2 has no column 'qty'". */
int mr_union_schema(const mr_schema *const *inputs, int n, mr_schema **out, mr_err *err);

/* Creates a union of the n operators inputs[] (n >= 2), returning every row
 * of inputs[0], then of inputs[1], and so on.  Takes ownership of every
 * input (closed with the union, also when creation fails; the inputs array
 * itself stays the caller's).  Batches of an input whose columns are already
 * in output order and type pass through untouched; others are reordered and
 * widened into the union's own batch.  With distinct, the returned operator
 * is a distinct over the union (see above).  Returns the operator (free with
 * mr_op_close) or NULL with err set as for mr_union_schema, prefixed with
 * the node. */
mr_op *mr_union_create(mr_op **inputs, int n, int distinct, const char *node, mr_err *err);

#endif
