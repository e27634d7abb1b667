/* source.h - an operator whose batches come from a callback.
 *
 * The executor feeds shuffle input (batches decoded from the network) into a
 * pipeline through it, and tests use it to drive operators with hand-made
 * batches.
 */
#ifndef MR_OP_SOURCE_H
#define MR_OP_SOURCE_H

#include "core/op.h"

/* Creates a source operator producing rows of schema (copied; the caller
 * keeps its own).  Each next() calls next(ctx, out, err), which returns
 * MR_NEXT_BATCH with *out set to a batch of schema's column types (owned by
 * the callback side and valid until its next call), MR_NEXT_DONE, or a
 * negative code with err set.  close(ctx), when not NULL, is called once
 * from the operator's close.  node names the DAG node in error messages.
 * Returns the operator (caller owns it; free with mr_op_close) or NULL when
 * out of memory. */
mr_op *mr_source_create(const mr_schema *schema,
                        int (*next)(void *ctx, mr_batch **out, mr_err *err),
                        void (*close)(void *ctx), void *ctx, const char *node);

#endif
