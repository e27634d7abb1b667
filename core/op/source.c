/* source.c - the callback source operator: hands out batches that a
 * callback produces, after checking they have the promised column types.
 */
#include "core/op/source.h"

#include <assert.h>
#include <stdlib.h>

typedef struct source_op {
    mr_op op;
    int (*next)(void *ctx, mr_batch **out, mr_err *err);
    void (*close)(void *ctx);
    void *ctx;
} source_op;

/* Rejects a batch whose columns do not match the schema: a consumer would
 * otherwise read a column's buffers as the wrong type. */
static int source_check(const mr_op *op, const mr_batch *b, mr_err *err)
{
    const mr_schema *s = op->schema;
    if (b->ncols != s->nfields)
        return mr_err_set(err, MR_EINVAL, "node '%s': input batch has %d columns, expected %d",
                          op->node, b->ncols, s->nfields);
    for (int i = 0; i < s->nfields; i++)
        if (!mr_type_equal(b->cols[i].type, s->fields[i].type)) {
            char got[48], want[48];
            return mr_err_set(err, MR_ETYPE,
                              "node '%s': input column '%s' is %s, expected %s", op->node,
                              s->fields[i].name, mr_type_name(b->cols[i].type, got, sizeof got),
                              mr_type_name(s->fields[i].type, want, sizeof want));
        }
    return 0;
}

static int source_next(mr_op *op, mr_batch **out, mr_err *err)
{
    source_op *so = (source_op *)op;
    mr_batch *b = NULL;
    int rc = so->next(so->ctx, &b, err);
    if (rc != MR_NEXT_BATCH)
        return rc;
    if (!b)
        return mr_err_set(err, MR_EINVAL, "node '%s': source callback returned no batch",
                          op->node);
    rc = source_check(op, b, err);
    if (rc < 0)
        return rc;
    *out = b;
    return MR_NEXT_BATCH;
}

static void source_close(mr_op *op)
{
    source_op *so = (source_op *)op;
    if (so->close)
        so->close(so->ctx);
    mr_schema_destroy(op->schema);
    free(so);
}

static const mr_op_vtable source_vt = {"source", NULL, source_next, source_close};

mr_op *mr_source_create(const mr_schema *schema,
                        int (*next)(void *ctx, mr_batch **out, mr_err *err),
                        void (*close)(void *ctx), void *ctx, const char *node)
{
    assert(next != NULL);
    source_op *so = calloc(1, sizeof *so);
    if (!so)
        return NULL;
    mr_op_init(&so->op, &source_vt, NULL, node);
    so->op.schema = mr_schema_copy(schema);
    if (!so->op.schema) {
        free(so);
        return NULL;
    }
    so->next = next;
    so->close = close;
    so->ctx = ctx;
    return &so->op;
}
