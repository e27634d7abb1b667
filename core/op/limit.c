/* limit.c - passes the first n live rows, then stops pulling.
 *
 * A batch that would overshoot n is cut by narrowing its selection vector
 * (the batch belongs to the child and stays valid until our next call,
 * which is exactly the contract we give our consumer).  When the child's
 * batch has no selection vector, the cut one gets a prefix selection
 * written into its own sel_buf; when it has one, nsel is lowered.  Once n
 * rows went out, next() returns DONE without calling the child again, so a
 * limit over a large scan reads no more than it needs.
 */
#include "core/op/limit.h"

#include <stdlib.h>

typedef struct limit_op {
    mr_op op;
    int64_t n;
    uint64_t sent;
} limit_op;

static int limit_next(mr_op *op, mr_batch **out, mr_err *err)
{
    limit_op *l = (limit_op *)op;
    for (;;) {
        if (l->sent >= (uint64_t)l->n)
            return MR_NEXT_DONE;
        mr_batch *b;
        int rc = mr_op_next(op->child, &b, err);
        if (rc != MR_NEXT_BATCH)
            return rc;
        size_t live = mr_batch_live(b);
        if (live == 0)
            continue;
        uint64_t left = (uint64_t)l->n - l->sent;
        if (live > left) {
            if (b->sel) {
                b->nsel = (size_t)left;
            } else {
                for (size_t i = 0; i < (size_t)left; i++)
                    b->sel_buf[i] = (uint32_t)i;
                b->sel = b->sel_buf;
                b->nsel = (size_t)left;
            }
            live = (size_t)left;
        }
        l->sent += live;
        *out = b;
        return MR_NEXT_BATCH;
    }
}

static void limit_close(mr_op *op)
{
    mr_schema_destroy(op->schema);
    free(op);
}

static const mr_op_vtable limit_vt = {
    .name = "limit",
    .open = NULL,
    .next = limit_next,
    .close = limit_close,
};

mr_op *mr_limit_create(mr_op *child, int64_t n, const char *node, mr_err *err)
{
    const char *nd = node ? node : "";
    if (!child) {
        mr_err_set(err, MR_EINVAL, "node '%s': limit without an input", nd);
        return NULL;
    }
    if (n < 0) {
        mr_err_set(err, MR_EINVAL, "node '%s': limit n must be >= 0, got %lld", nd, (long long)n);
        mr_op_close(child);
        return NULL;
    }
    limit_op *l = calloc(1, sizeof *l);
    if (!l) {
        mr_err_oom(err, nd);
        mr_op_close(child);
        return NULL;
    }
    mr_op_init(&l->op, &limit_vt, child, nd);
    l->n = n;
    l->op.schema = mr_schema_copy(child->schema);
    if (!l->op.schema) {
        mr_err_oom(err, nd);
        mr_op_close(&l->op);
        return NULL;
    }
    return &l->op;
}
