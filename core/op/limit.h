/* limit.h - the limit operator: the first n live rows of its input. */
#ifndef MR_OP_LIMIT_H
#define MR_OP_LIMIT_H

#include <stdint.h>

#include "core/op.h"

/* Creates a limit that passes the first n (>= 0) live rows of child and
 * then stops pulling from it (a limit over a sort gets the first n rows of
 * the order; over anything else any n rows, as the spec allows).  Batches
 * are passed through without copying; the batch holding the n-th row is
 * trimmed through its selection vector.  Takes ownership of child (closed
 * with the limit, also when creation fails).  The output schema is child's.
 * Returns the operator (free with mr_op_close) or NULL with err set
 * (MR_EINVAL for n < 0 or no child, MR_ENOMEM). */
mr_op *mr_limit_create(mr_op *child, int64_t n, const char *node, mr_err *err);

#endif
