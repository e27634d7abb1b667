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

#include <stddef.h>
#include <stdint.h>

#include "core/batch.h"
#include "core/error.h"
#include "core/types.h"

enum { MR_NEXT_DONE = 0, MR_NEXT_BATCH = 1 };

typedef struct mr_op mr_op;

/* What the task running a pipeline lends its operators: a memory budget
 * for each stateful operator (hash aggregate, hash join build side, sort,
 * distinct), the folder their spill files go to, and counters of what they
 * spilled.  One per task, owned by whoever runs the task (the executor sets
 * it on the sources; operators inherit it from their child, like cancel).
 * memory_budget 0 means unlimited: nothing spills (unit tests, no
 * executor).  The budget is soft: an operator checks it between batches,
 * so it may pass it by about one batch and by fixed-size scratch.
 * Operators of one task run in one thread, so the counters are plain. */
typedef struct mr_exec_ctx {
    size_t memory_budget;  /* bytes per stateful operator, 0 = unlimited */
    const char *spill_dir; /* folder for spill files; NULL = $TMPDIR or /tmp */
    uint64_t spill_bytes;  /* bytes written to spill files so far */
    uint64_t spill_files;  /* spill files created so far */
} mr_exec_ctx;

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
    mr_exec_ctx *ctx;    /* budget and spill folder, or NULL (unlimited) */
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

/* Helper for operator constructors: fills the common header; cancel and
 * ctx are inherited from child. */
void mr_op_init(mr_op *op, const mr_op_vtable *vt, mr_op *child, const char *node);

/* For operators with several inputs (union, hash join): takes cancel and ctx
 * from the first of inputs[0..n) that has them, where op has none yet.  The
 * executor sets both on every source, so any input will do; looking at all
 * of them keeps an operator above a union or a join budgeted and
 * cancellable whatever its first input is. */
void mr_op_inherit(mr_op *op, mr_op *const *inputs, int n);

#endif
