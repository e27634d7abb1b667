/* filter.h - the filter operator: keeps the rows where a predicate is true.
 *
 * It copies nothing: each input batch comes back as the same batch with its
 * selection vector narrowed to the rows whose predicate is true (NULL and
 * false drop the row, as in SQL WHERE).  Batches left with no rows are
 * skipped.  The output schema is the input schema.
 */
#ifndef MR_OP_FILTER_H
#define MR_OP_FILTER_H

#include "core/op.h"

/* Creates a filter over child with the boolean expression predicate,
 * written against child->schema.  Takes ownership of child: it is closed
 * when the filter is, and also when creation fails.  node names the DAG
 * node in error messages.  Returns the operator (free with mr_op_close), or
 * NULL with err set: MR_EPARSE / MR_ENOTFOUND / MR_ETYPE (with err->offset
 * into predicate) when the predicate is malformed, names an unknown column
 * or is not bool, MR_ENOMEM. */
mr_op *mr_filter_create(mr_op *child, const char *predicate, const char *node, mr_err *err);

#endif
