/* op.c - the shared part of the operator lifecycle: children opened and
 * closed for every operator, the context handed down, DONE kept sticky and
 * cancellation checked in one place. */
#include "core/op.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mr_op_init(mr_op *op, const mr_op_vtable *vt, mr_op *child, const char *node)
{
    memset(op, 0, sizeof *op);
    op->vt = vt;
    op->child = child;
    op->children = &op->child;
    op->nchildren = child ? 1 : 0;
    snprintf(op->node, sizeof op->node, "%s", node ? node : "");
}

int mr_op_set_children(mr_op *op, mr_op *const *inputs, int n)
{
    mr_op **c = malloc((size_t)(n > 0 ? n : 1) * sizeof *c);
    if (!c) {
        for (int i = 0; i < n; i++)
            mr_op_close(inputs[i]);
        return MR_ENOMEM;
    }
    memcpy(c, inputs, (size_t)n * sizeof *c);
    if (op->children != &op->child)
        free(op->children);
    op->children = c;
    op->nchildren = n;
    op->child = n > 0 ? c[0] : NULL;
    return 0;
}

int mr_op_open(mr_op *op, mr_exec_ctx *ctx, mr_err *err)
{
    if (op->opened)
        return 0;
    op->ctx = ctx;
    for (int i = 0; i < op->nchildren; i++) {
        int rc = mr_op_open(op->children[i], ctx, err);
        if (rc < 0)
            return rc;
    }
    int rc = op->vt->open ? op->vt->open(op, ctx, err) : 0;
    if (rc < 0)
        return rc;
    op->opened = true;
    return 0;
}

int mr_op_next(mr_op *op, mr_batch **out, mr_err *err)
{
    if (!op->opened)
        return mr_err_set(err, MR_EINVAL, "node '%s': next() before open()", op->node);
    if (op->done)
        return MR_NEXT_DONE;
    if (mr_exec_cancelled(op->ctx))
        return mr_err_set(err, MR_ECANCELLED, "node '%s': job cancelled", op->node);
    int rc = op->vt->next(op, out, err);
    if (rc == MR_NEXT_BATCH)
        op->rows_out += mr_batch_live(*out);
    else if (rc == MR_NEXT_DONE)
        op->done = true;
    return rc;
}

void mr_op_close(mr_op *op)
{
    if (!op)
        return;
    for (int i = 0; i < op->nchildren; i++)
        mr_op_close(op->children[i]);
    if (op->children != &op->child)
        free(op->children);
    op->children = NULL;
    op->nchildren = 0;
    op->child = NULL;
    op->vt->close(op);
}
