/* op.h - the one lifecycle every operator shares: open, next batch, close.
 *
 * Like PostgreSQL's executor nodes, each operator lives in its own file
 * (core/op/<name>.c) and is driven by pulling: a consumer calls next() on its
 * input until it returns MR_NEXT_DONE.  An operator struct embeds mr_op as its
 * first member; its constructor builds the read-only parts (compiled
 * expressions, output schema) and open() allocates the running state.
 *
 * Ownership: an operator owns its child (close() closes it) and the batch it
 * returns from next(); that batch stays valid until the next call to next()
 * or close().  Errors go into the mr_err passed to open/next, naming the DAG
 * node (op->node) and, for bad data, the row.
 */
#ifndef MR_OP_H
#define MR_OP_H

#include <stdint.h>

#include "core/batch.h"
#include "core/error.h"
#include "core/types.h"

enum { MR_NEXT_DONE = 0, MR_NEXT_BATCH = 1 };

typedef struct mr_op mr_op;

typedef struct mr_op_vtable {
    const char *name;
    /* Allocates running state and opens the child; 0 or a negative code. */
    int (*open)(mr_op *op, mr_err *err);
    /* MR_NEXT_BATCH with *out set, MR_NEXT_DONE, or a negative code. */
    int (*next)(mr_op *op, mr_batch **out, mr_err *err);
    /* Frees everything the operator owns, its child included. */
    void (*close)(mr_op *op);
} mr_op_vtable;

struct mr_op {
    const mr_op_vtable *vt;
    mr_op *child;        /* input, or NULL for sources */
    mr_schema *schema;   /* output schema, owned by the operator */
    char node[64];       /* DAG node id, for error messages */
    uint64_t rows_out;   /* live rows returned so far */
    volatile int *cancel;/* when set and non-zero, next() returns MR_ECANCELLED */
};

static inline int mr_op_open(mr_op *op, mr_err *err) { return op->vt->open(op, err); }
static inline int mr_op_next(mr_op *op, mr_batch **out, mr_err *err)
{
    if (op->cancel && *op->cancel)
        return mr_err_set(err, MR_ECANCELLED, "node '%s': job cancelled", op->node);
    int rc = op->vt->next(op, out, err);
    if (rc == MR_NEXT_BATCH)
        op->rows_out += mr_batch_live(*out);
    return rc;
}
/* NULL is a no-op. */
static inline void mr_op_close(mr_op *op)
{
    if (op)
        op->vt->close(op);
}

/* Helper for operator constructors: fills the common header. */
void mr_op_init(mr_op *op, const mr_op_vtable *vt, mr_op *child, const char *node);

#endif
