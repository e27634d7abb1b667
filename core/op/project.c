/* project.c - the project operator: one output column per expression.
 *
 * Each output column is either a pass-through (the expression is a bare
 * column reference, resolved to an input index at create time) or an
 * evaluated expression.  Pass-throughs cost nothing when the input has no
 * selection: the output batch's column struct is set to a shallow copy of
 * the input column (a view), and the operator's own column is parked in
 * `own` until the next call, when it is put back before anything else
 * happens.  This is sound because the input batch stays valid exactly as
 * long as the output batch does: until our next call to next() or close().
 * With a selection the live rows are gathered into the output's own
 * buffers.  Evaluated columns are written by mr_expr_eval straight into the
 * output batch.
 *
 * Steady state allocates nothing: the output batch and the expressions'
 * scratch are kept and only grow.
 */
#include "core/op/project.h"

#include <stdlib.h>
#include <string.h>

#include "core/expr.h"
#include "core/vec.h"

typedef struct project_op {
    mr_op op;
    int n;
    mr_expr **exprs;
    int *src;        /* input column index of a pass-through, else -1 */
    bool *is_view;   /* out->cols[i] currently borrows an input column */
    mr_column *own;  /* our own column while out->cols[i] is a view */
    mr_batch *out;
} project_op;

static void project_unview(project_op *p)
{
    if (!p->out)
        return;
    for (int i = 0; i < p->n; i++)
        if (p->is_view[i]) {
            p->out->cols[i] = p->own[i];
            p->is_view[i] = false;
        }
}

static int project_open(mr_op *op, mr_exec_ctx *ctx, mr_err *err)
{
    (void)ctx;
    project_op *p = (project_op *)op;
    if (!p->out && !(p->out = mr_batch_create(op->schema, 0)))
        return mr_err_oom(err, op->node);
    return 0;
}

static int project_next(mr_op *op, mr_batch **out, mr_err *err)
{
    project_op *p = (project_op *)op;
    project_unview(p);
    mr_batch *b;
    size_t live;
    int rc;
    do {
        if ((rc = mr_op_next(op->child, &b, err)) != MR_NEXT_BATCH)
            return rc;
        live = mr_batch_live(b);
    } while (live == 0);
    mr_batch *o = p->out;
    mr_batch_reset(o);
    if (mr_batch_reserve(o, live) < 0)
        return mr_err_oom(err, op->node);
    for (int i = 0; i < p->n; i++) {
        if (p->src[i] >= 0 && !b->sel) {
            p->own[i] = o->cols[i];
            o->cols[i] = b->cols[p->src[i]];
            p->is_view[i] = true;
        } else if (p->src[i] >= 0) {
            if (mr_vec_gather_sel(&o->cols[i], &b->cols[p->src[i]], b) < 0)
                return mr_err_oom(err, op->node);
        } else if ((rc = mr_expr_eval(p->exprs[i], b, &o->cols[i], err)) < 0) {
            mr_err_prefix(err, "node '%s': column '%s'", op->node, op->schema->fields[i].name);
            return rc;
        }
    }
    o->nrows = live;
    *out = o;
    return MR_NEXT_BATCH;
}

static void project_close(mr_op *op)
{
    project_op *p = (project_op *)op;
    project_unview(p);
    if (p->exprs)
        for (int i = 0; i < p->n; i++)
            mr_expr_destroy(p->exprs[i]);
    free(p->exprs);
    free(p->src);
    free(p->is_view);
    free(p->own);
    mr_batch_destroy(p->out);
    mr_schema_destroy(op->schema);
    free(p);
}

static const mr_op_vtable project_vt = {"project", project_open, project_next, project_close};

static int project_build(project_op *p, const char *const *names, const char *const *exprs,
                         mr_err *err)
{
    mr_op *child = p->op.child;
    int n = p->n;
    size_t cnt = n > 0 ? (size_t)n : 1;
    p->exprs = calloc(cnt, sizeof *p->exprs);
    p->src = calloc(cnt, sizeof *p->src);
    p->is_view = calloc(cnt, sizeof *p->is_view);
    p->own = calloc(cnt, sizeof *p->own);
    p->op.schema = mr_schema_create(n);
    if (!p->exprs || !p->src || !p->is_view || !p->own || !p->op.schema)
        return mr_err_oom(err, NULL);
    for (int i = 0; i < n; i++) {
        if (!names[i] || !names[i][0])
            return mr_err_set(err, MR_EINVAL, "output column %d has no name", i + 1);
        for (int j = 0; j < i; j++)
            if (strcmp(names[i], names[j]) == 0)
                return mr_err_set(err, MR_EINVAL, "duplicate output column '%s'", names[i]);
        int rc = mr_expr_parse(exprs[i], &p->exprs[i], err);
        if (rc == 0)
            rc = mr_expr_bind(p->exprs[i], child->schema, err);
        if (rc < 0) {
            int off = err ? err->offset : -1;
            mr_err_prefix(err, "column '%s'", names[i]);
            if (err)
                err->offset = off;
            return rc;
        }
        if (mr_schema_set(p->op.schema, i, names[i], mr_expr_type(p->exprs[i])) < 0)
            return mr_err_oom(err, NULL);
        const char *col = mr_expr_column_name(p->exprs[i]);
        p->src[i] = col ? mr_schema_find(child->schema, col) : -1;
    }
    return 0;
}

mr_op *mr_project_create(mr_op *child, const char *const *names, const char *const *exprs, int n,
                         const char *node, mr_err *err)
{
    project_op *p = calloc(1, sizeof *p);
    if (!p) {
        mr_op_close(child);
        mr_err_oom(err, node);
        return NULL;
    }
    mr_op_init(&p->op, &project_vt, child, node);
    p->n = n < 0 ? 0 : n;
    if (project_build(p, names, exprs, err) < 0) {
        if (err) {
            int off = err->offset;
            mr_err_prefix(err, "node '%s'", p->op.node);
            err->offset = off;
        }
        mr_op_close(&p->op);
        return NULL;
    }
    return &p->op;
}
