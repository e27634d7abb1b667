/* project.h - the project operator: computes a list of named expressions.
 *
 * It implements the DAG's select directly; derive and drop are lowered to it
 * by the compiler (derive: every input column by name plus the new ones,
 * same-named replaced in place; drop: the remaining columns by name).
 *
 * Output batches are dense (no selection vector).  A bare column reference
 * is passed through cheaply: when the input batch has no selection, the
 * output column is a view of the input column's buffers (no copy), so
 * consumers must treat the output batch as read-only apart from setting its
 * selection vector (which a filter downstream does); with a selection the
 * live rows are gathered.
 */
#ifndef MR_OP_PROJECT_H
#define MR_OP_PROJECT_H

#include "core/op.h"

/* Creates a projection over child producing n columns: names[i] computed by
 * the expression text exprs[i], written against child->schema.  Takes
 * ownership of child (closed with the operator, and on failure).  node names
 * the DAG node in error messages.  Returns the operator (free with
 * mr_op_close), or NULL with err set: MR_EPARSE / MR_ENOTFOUND / MR_ETYPE
 * with err->offset into the expression at fault (the message names the
 * output column), MR_EINVAL for a duplicate or empty output name,
 * MR_ENOMEM. */
mr_op *mr_project_create(mr_op *child, const char *const *names, const char *const *exprs, int n,
                         const char *node, mr_err *err);

#endif
