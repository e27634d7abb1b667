/* op.h - the one lifecycle every operator shares: create, open, next batch,
 * close.
 *
 * Like PostgreSQL's executor nodes, each operator lives in its own file
 * (core/op/<name>.c) and is driven by pulling: a consumer calls next() on its
 * input until it returns MR_NEXT_DONE.  An operator struct embeds mr_op as its
 * first member.
 *
 * The lifecycle rule, followed by every operator:
 *   create  builds the plan object: compiled expressions, resolved column
 *           indices, output schema.  It is immutable afterwards and does no
 *           I/O (a scan opens its file in open, not here), so an operator
 *           tree can be built, inspected and thrown away at no cost.
 *   open    mr_op_open(op, ctx, err) opens the children with the same ctx,
 *           then lets the operator allocate its running state.  ctx (the
 *           task's mr_exec_ctx: cancel flag, memory budget, spill folder,
 *           statistics) reaches every operator of the tree this way,
 *           whatever its inputs; NULL means unlimited and not cancellable.
 *   next    MR_NEXT_BATCH with a batch, MR_NEXT_DONE, or a negative code.
 *           The first next() may block and drain inputs (a sort, an
 *           aggregate, a hash join's build side all drain there, never in
 *           open).  DONE is sticky: mr_op_next returns DONE again without
 *           calling the operator.  A raised cancel flag makes next() return
 *           MR_ECANCELLED.  Input batches may carry a selection vector;
 *           every operator reads only their live rows.  Output batches hold
 *           at most MR_BATCH_ROWS rows (live or physical).
 *   close   mr_op_close(op) closes the children, then frees the operator.
 *           It is valid after create without open, after a failed open and
 *           at any point of the stream; NULL is a no-op.
 * Spilled partitions (hash aggregate, hash join, distinct) and re-read sort
 * runs run over the same plan object: they never re-parse expression text.
 * tests/unit/test_op_contract.c checks these rules on every operator.
 *
 * Ownership: an operator owns its children (op->children) and the batch it
 * returns from next(); that batch stays valid until the next call to next()
 * or close().  Errors go into the mr_err passed to open/next, naming the DAG
 * node (op->node) and, for bad data, the row.
 */
#ifndef MR_OP_H
#define MR_OP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/batch.h"
#include "core/error.h"
#include "core/types.h"

enum { MR_NEXT_DONE = 0, MR_NEXT_BATCH = 1 };

typedef struct mr_op mr_op;

/* The execution context of one task, handed to every operator when it
 * opens: the cancel flag, a memory budget for each stateful operator (hash
 * aggregate, hash join build side, sort, distinct), the folder their spill
 * files go to, and statistics of what they spilled.  One per task, owned
 * by whoever runs the task (the executor, a test); it must outlive the
 * operator tree.  memory_budget 0 means unlimited: nothing spills.  The
 * budget is soft: an operator checks it between batches, so it may pass it
 * by about one batch and by fixed-size scratch.  Operators of one task run
 * in one thread, so the statistics are plain counters. */
typedef struct mr_exec_ctx {
    volatile int *cancel;  /* when set and non-zero, next() returns MR_ECANCELLED */
    size_t memory_budget;  /* bytes per stateful operator, 0 = unlimited */
    const char *spill_dir; /* folder for spill files; NULL = $TMPDIR or /tmp */
    uint64_t spill_bytes;  /* bytes written to spill files so far */
    uint64_t spill_files;  /* spill files created so far */
} mr_exec_ctx;

typedef struct mr_op_vtable {
    const char *name;
    /* Allocates running state; the children are already open.  0 or a
     * negative code.  NULL: nothing to allocate. */
    int (*open)(mr_op *op, mr_exec_ctx *ctx, mr_err *err);
    /* MR_NEXT_BATCH with *out set, MR_NEXT_DONE, or a negative code. */
    int (*next)(mr_op *op, mr_batch **out, mr_err *err);
    /* Frees what the operator owns apart from its children (closed before)
     * and the operator itself.  Must cope with a never-opened operator. */
    void (*close)(mr_op *op);
} mr_op_vtable;

struct mr_op {
    const mr_op_vtable *vt;
    mr_op *child;        /* first input (children[0]), or NULL for sources */
    mr_op **children;    /* every input, owned; &child for one-input operators */
    int nchildren;
    mr_schema *schema;   /* output schema, owned by the operator */
    char node[64];       /* DAG node id, for error messages */
    uint64_t rows_out;   /* live rows returned so far */
    mr_exec_ctx *ctx;    /* set by mr_op_open; NULL before, or when unlimited */
    bool opened;         /* mr_op_open succeeded */
    bool done;           /* next() returned MR_NEXT_DONE */
};

/* Opens op's children, then op, all with ctx (may be NULL).  Opening twice
 * is a no-op.  0 or a negative code with err set. */
int mr_op_open(mr_op *op, mr_exec_ctx *ctx, mr_err *err);

/* The next batch of op (see the rule above): MR_NEXT_BATCH with *out set,
 * MR_NEXT_DONE (sticky), MR_ECANCELLED, MR_EINVAL before open, or the
 * operator's negative code. */
int mr_op_next(mr_op *op, mr_batch **out, mr_err *err);

/* Closes op's children and frees op.  NULL is a no-op. */
void mr_op_close(mr_op *op);

/* True when the task's cancel flag is raised. */
static inline bool mr_exec_cancelled(const mr_exec_ctx *ctx)
{
    return ctx && ctx->cancel && *ctx->cancel;
}

/* The memory budget of ctx (0 = unlimited). */
static inline size_t mr_exec_budget(const mr_exec_ctx *ctx)
{
    return ctx ? ctx->memory_budget : 0;
}

/* Helper for operator constructors: fills the common header with one child
 * (NULL for sources), which the operator owns from here on. */
void mr_op_init(mr_op *op, const mr_op_vtable *vt, mr_op *child, const char *node);

/* For operators with several inputs (union, hash join): takes ownership of
 * inputs[0..n) as op's children (the array itself stays the caller's).
 * Returns 0, or MR_ENOMEM after closing the inputs. */
int mr_op_set_children(mr_op *op, mr_op *const *inputs, int n);

#endif
