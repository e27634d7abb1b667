/* window.h - the window operator: PostgreSQL window functions over rows
 * already sorted by (partition_by, order_by).
 *
 * The plan puts a hash shuffle on the partition columns and a sort by
 * (partition_by, order_by) beneath it (dag/op_window.c), so this operator
 * sees each partition as one run of consecutive rows and each peer group
 * (rows equal on every order_by column) as one run inside it.  It appends
 * one column per window expression to its input's columns, in order.
 *
 * Window expressions (texts[i]): a function call, optionally followed by a
 * frame for the functions that read one:
 *   row_number() rank() dense_rank() percent_rank() cume_dist() ntile(n)
 *   lag(x [, n [, default]]) lead(x [, n [, default]])
 *   first_value(x) last_value(x) nth_value(x, n)
 *   count(*) count(x) sum(x) avg(x) min(x) max(x)
 *   frame := (rows | range) (between BOUND and BOUND | BOUND)
 *   BOUND := unbounded preceding | N preceding | current row
 *          | N following | unbounded following
 * x and default are expressions over the input; n and N are integer
 * literals.  A `range` frame with N preceding/following needs exactly one
 * order_by column of a number type (int32, int64, float64, decimal; N is
 * in its units) and takes the rows whose value lies within N of the
 * current row's (a NULL current row: its NULL peers).  The
 * default frame is PostgreSQL's: range between unbounded preceding and
 * current row (peers of the current row included), which is the whole
 * partition without order_by.  Ranking functions and lag/lead ignore any
 * frame, as in PostgreSQL.  Result types: row_number, rank, dense_rank,
 * count int64; ntile int32; percent_rank, cume_dist float64; lag, lead,
 * first/last/nth_value the type of x (lag/lead: the common type of x and
 * default); sum, avg, min, max as the aggregate op (core/agg.h).
 *
 * Memory: the operator holds one partition at a time (its input columns,
 * the evaluated arguments, the results) and whatever rows of finished
 * partitions have not been returned yet (at most one input batch beyond a
 * batch of output).  A partition larger than the memory budget is held
 * whole: it is not spilled (the sort beneath spills the input).  Every
 * function runs in one pass over the partition: ranks and running values
 * from the peer groups, frame sums, counts and averages as differences of
 * prefix sums (so a sliding frame never recomputes its rows), frame
 * min/max with a monotonic queue.
 */
#ifndef MR_OP_WINDOW_H
#define MR_OP_WINDOW_H

#include "core/op.h"

/* The output schema of a window over in with the n expressions texts[]
 * named names[], ordered by order (NULL: no order_by): in's columns, then
 * one per expression.  NULL with err
 * set (err->offset into texts[*bad], *bad the expression at fault, -1 when
 * none) for an unknown function (with a suggestion), wrong arguments or
 * argument types, a bad frame, or a name that repeats a column. */
typedef struct mr_window_order {
    const char *const *columns;
    const int *desc; /* per column, 1 for descending; NULL: all ascending */
    int n;
} mr_window_order;

mr_schema *mr_window_schema(const mr_schema *in, const mr_window_order *order,
                            const char *const *names, const char *const *texts, int n,
                            int *bad, mr_err *err);

/* Creates the window operator over child, whose rows arrive sorted by
 * partition_by then order (NULL: no order_by).  Takes ownership of child (closed also
 * when creation fails).  NULL with err set as mr_window_schema, or
 * MR_ENOTFOUND for a partition or order column that is not in the input. */
mr_op *mr_window_create(mr_op *child, const char *const *partition_by, int npart,
                        const mr_window_order *order, const char *const *names,
                        const char *const *texts, int n, const char *node, mr_err *err);

#endif
