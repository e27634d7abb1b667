/* hashagg.h - the hash aggregation operator (GROUP BY with count, sum, avg,
 * min, max), in single, partial and final modes.
 *
 * The partial/final split runs one half on each side of a shuffle: PARTIAL
 * turns input rows into one row of aggregate *states* per group (the state
 * schema below); the shuffle routes those rows by the group columns; FINAL
 * merges the states of all map tasks and produces the values.  SINGLE does
 * both at once.  Both halves derive the state layout from the same inputs
 * (agg_input, group_by, aggregates) with mr_hashagg_state_schema, so they
 * always agree.
 *
 * State columns per aggregate named n (in the state schema, after the group
 * columns, in aggregate order):
 *   count(*), count(x)   n$count  int64
 *   count(distinct x)    n$value  x's type (the partial half groups by the
 *                                 group columns and every distinct argument,
 *                                 so each row carries one candidate value)
 *   sum(x)               n$sum    the result type, NULL when no non-NULL x
 *   avg(x)               n$sum    float64, or decimal(18,s) for decimal(p,s)
 *                        n$count  int64
 *   min(x), max(x)       n$min / n$max  x's type, NULL when no non-NULL x
 *
 * Empty input: with no group_by, SINGLE and FINAL always produce exactly one
 * row (counts 0, the rest NULL), PARTIAL produces no row for empty input, so
 * FINAL over the partials of any number of empty map tasks still gives one
 * row.  With group_by, empty input gives no rows in every mode.
 */
#ifndef MR_OP_HASHAGG_H
#define MR_OP_HASHAGG_H

#include <stddef.h>

#include "core/agg.h"
#include "core/op.h"

/* Creates a hash aggregate over child (which it then owns, also on failure).
 * group_by names ngroup columns of agg_input (NULL when ngroup is 0);
 * agg_names/agg_exprs are nagg output names and aggregate texts such as
 * "sum(qty * price)", whose arguments are written against agg_input.  In
 * PARTIAL and SINGLE modes child produces agg_input rows; in FINAL mode it
 * produces state rows (mr_hashagg_state_schema).  Output: the group columns
 * (same names and types), then per aggregate its value column named
 * agg_names[i] (FINAL, SINGLE) or its state columns (PARTIAL).  node names
 * the DAG node in errors.  Returns the operator (caller owns it; free with
 * mr_op_close) or NULL with err set (bad aggregate, unknown column, type
 * error, child schema mismatch, out of memory). */
mr_op *mr_hashagg_create(mr_op *child, mr_agg_mode mode, const char *const *group_by, int ngroup,
                         const char *const *agg_names, const char *const *agg_exprs, int nagg,
                         const mr_schema *agg_input, const char *node, mr_err *err);

/* The partial-state schema described above: what PARTIAL emits and FINAL
 * reads.  Returns a new schema (caller owns it) or NULL with err set. */
mr_schema *mr_hashagg_state_schema(const mr_schema *agg_input, const char *const *group_by,
                                   int ngroup, const char *const *agg_names,
                                   const char *const *agg_exprs, int nagg, mr_err *err);

/* Bytes held by the operator's hash table, stored keys and states (0 before
 * open); compared with the task's memory budget (op->ctx) to decide when
 * to spill (PARTIAL: flush early; FINAL, SINGLE: hybrid hash spilling, see
 * hashagg.c).  Output rows are the same with or without a budget; their
 * order is not, and PARTIAL may emit one group in several rows. */
size_t mr_hashagg_memory(const mr_op *op);

#endif
