/* filter.c - the filter operator: narrows each batch's selection vector to
 * the rows where the predicate is true.
 *
 * The predicate is evaluated over the live rows of the input batch into a
 * dense bool column kept by the operator; the surviving rows' physical
 * indices are then written into the batch's own selection buffer.  That is
 * safe in place because the k-th survivor is at or after the k-th live row.
 * A batch where every row survives keeps sel == NULL, so downstream
 * operators stay on their no-selection fast paths.
 *
 * The batch handed out belongs to the child; it stays valid until the next
 * call, which is the only time the filter pulls from the child again.
 */
#include "core/op/filter.h"

#include <stdlib.h>

#include "core/expr.h"

typedef struct filter_op {
    mr_op op;
    mr_expr *pred;
    mr_column res; /* predicate values for the live rows of the current batch */
    bool res_ready;
} filter_op;

static int filter_open(mr_op *op, mr_exec_ctx *ctx, mr_err *err)
{
    (void)ctx;
    filter_op *f = (filter_op *)op;
    if (!f->res_ready) {
        if (mr_column_init(&f->res, mr_type_make(MR_T_BOOL), MR_BATCH_ROWS) < 0) {
            mr_column_free(&f->res);
            return mr_err_oom(err, op->node);
        }
        f->res_ready = true;
    }
    return 0;
}

static int filter_next(mr_op *op, mr_batch **out, mr_err *err)
{
    filter_op *f = (filter_op *)op;
    for (;;) {
        mr_batch *b;
        int rc = mr_op_next(op->child, &b, err);
        if (rc != MR_NEXT_BATCH)
            return rc;
        size_t live = mr_batch_live(b);
        if (live == 0)
            continue;
        if ((rc = mr_expr_eval(f->pred, b, &f->res, err)) < 0) {
            mr_err_prefix(err, "node '%s'", op->node);
            return rc;
        }
        if (!b->sel_buf || b->cap < b->nrows) {
            if (mr_batch_reserve(b, b->nrows) < 0 || !b->sel_buf)
                return mr_err_oom(err, op->node);
        }
        const uint8_t *v = MR_COL_U8(&f->res);
        size_t k = 0;
        if (b->sel) {
            for (size_t i = 0; i < live; i++) {
                uint32_t r = b->sel[i];
                b->sel_buf[k] = r;
                k += v[i] & mr_column_is_valid(&f->res, i);
            }
        } else {
            for (size_t i = 0; i < live; i++) {
                b->sel_buf[k] = (uint32_t)i;
                k += v[i] & mr_column_is_valid(&f->res, i);
            }
        }
        if (k == 0)
            continue;
        if (!(k == live && !b->sel)) {
            b->sel = b->sel_buf;
            b->nsel = k;
        }
        *out = b;
        return MR_NEXT_BATCH;
    }
}

static void filter_close(mr_op *op)
{
    filter_op *f = (filter_op *)op;
    mr_expr_destroy(f->pred);
    if (f->res_ready)
        mr_column_free(&f->res);
    mr_schema_destroy(op->schema);
    free(f);
}

static const mr_op_vtable filter_vt = {"filter", filter_open, filter_next, filter_close};

mr_op *mr_filter_create(mr_op *child, const char *predicate, const char *node, mr_err *err)
{
    filter_op *f = calloc(1, sizeof *f);
    if (!f) {
        mr_op_close(child);
        mr_err_oom(err, node);
        return NULL;
    }
    mr_op_init(&f->op, &filter_vt, child, node);
    int rc = mr_expr_parse(predicate, &f->pred, err);
    if (rc == 0)
        rc = mr_expr_bind(f->pred, child->schema, err);
    if (rc == 0 && mr_expr_type(f->pred).id != MR_T_BOOL) {
        char t[32];
        rc = mr_err_set(err, MR_ETYPE, "filter condition must be bool, got %s",
                        mr_type_name(mr_expr_type(f->pred), t, sizeof t));
        if (err)
            err->offset = 0;
    }
    if (rc == 0 && !(f->op.schema = mr_schema_copy(child->schema)))
        rc = mr_err_oom(err, NULL);
    if (rc < 0) {
        if (err) {
            int off = err->offset;
            mr_err_prefix(err, "node '%s'", f->op.node);
            err->offset = off;
        }
        mr_op_close(&f->op);
        return NULL;
    }
    return &f->op;
}
