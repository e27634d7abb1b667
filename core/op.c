/* op.c - the shared part of the operator lifecycle. */
#include "core/op.h"

#include <stdio.h>
#include <string.h>

void mr_op_init(mr_op *op, const mr_op_vtable *vt, mr_op *child, const char *node)
{
    memset(op, 0, sizeof *op);
    op->vt = vt;
    op->child = child;
    snprintf(op->node, sizeof op->node, "%s", node ? node : "");
    if (child) {
        op->cancel = child->cancel;
        op->ctx = child->ctx;
    }
}

void mr_op_inherit(mr_op *op, mr_op *const *inputs, int n)
{
    for (int i = 0; i < n; i++) {
        if (!inputs[i])
            continue;
        if (!op->cancel)
            op->cancel = inputs[i]->cancel;
        if (!op->ctx)
            op->ctx = inputs[i]->ctx;
    }
}
