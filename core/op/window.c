/* window.c - the window operator (window.h): partitions of sorted input
 * buffered one at a time, each function evaluated over a whole partition
 * (window_eval.c), rows returned in input order with the results added.
 */
#include "core/op/window.h"

#include <stdlib.h>
#include <string.h>

#include "core/op/window_int.h"
#include "core/vec.h"

typedef struct window_op {
    mr_op op;
    int nin;        /* input columns */
    int npart, nord;
    int *pcols, *ocols;
    int nfn;
    wf_fn *fns;
    int nbufcols;   /* input columns, then argument columns */
    mr_type *buftypes;
    /* running state */
    mr_column *buf; /* nbufcols */
    mr_column *res; /* nfn results, rows [0, ready) final */
    size_t nbuf;    /* rows buffered */
    size_t ready;   /* rows [0, ready) belong to finished partitions */
    size_t emitted; /* rows [0, emitted) returned already */
    mr_column tmp;  /* an argument evaluated over one input batch */
    int tmp_init;
    wf_scratch scratch;
    mr_batch *out;
    int in_done;
} window_op;

static wf_order order_of(const mr_schema *in, const mr_window_order *order)
{
    wf_order o = {-1, 0, order ? order->n : 0};
    if (o.n == 1) {
        o.col = mr_schema_find(in, order->columns[0]);
        o.desc = order->desc ? order->desc[0] : 0;
    }
    return o;
}

mr_schema *mr_window_schema(const mr_schema *in, const mr_window_order *order,
                            const char *const *names, const char *const *texts, int n,
                            int *bad, mr_err *err)
{
    *bad = -1;
    wf_order ord = order_of(in, order);
    int total = in->nfields + n;
    const char **nm = calloc((size_t)total + 1, sizeof *nm);
    mr_type *ty = calloc((size_t)total + 1, sizeof *ty);
    mr_schema *out = NULL;
    if (!nm || !ty) {
        mr_err_set(err, MR_ENOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < in->nfields; i++) {
        nm[i] = in->fields[i].name;
        ty[i] = in->fields[i].type;
    }
    for (int k = 0; k < n; k++) {
        for (int j = 0; j < in->nfields + k; j++)
            if (strcmp(nm[j], names[k]) == 0) {
                *bad = k;
                mr_err_set(err, MR_EINVAL, "window column '%s' is already a column", names[k]);
                err->offset = -1;
                goto done;
            }
        wf_fn f;
        int rc = wf_parse(texts[k], in, &ord, &f, err);
        wf_free(&f);
        if (rc != 0) {
            *bad = k;
            goto done;
        }
        nm[in->nfields + k] = names[k];
        ty[in->nfields + k] = f.rtype;
    }
    out = mr_schema_create(total);
    for (int i = 0; out && i < total; i++)
        if (mr_schema_set(out, i, nm[i], ty[i]) != 0) {
            mr_schema_destroy(out);
            out = NULL;
        }
    if (!out)
        mr_err_set(err, MR_ENOMEM, "out of memory");
done:
    free(nm);
    free(ty);
    return out;
}

static int window_open(mr_op *o, mr_exec_ctx *ctx, mr_err *err)
{
    (void)ctx;
    window_op *w = (window_op *)o;
    w->buf = calloc((size_t)w->nbufcols + 1, sizeof *w->buf);
    w->res = calloc((size_t)w->nfn + 1, sizeof *w->res);
    if (!w->buf || !w->res)
        return mr_err_oom(err, o->node);
    for (int c = 0; c < w->nbufcols; c++)
        if (mr_column_init(&w->buf[c], w->buftypes[c], MR_BATCH_ROWS) != 0)
            return mr_err_oom(err, o->node);
    for (int f = 0; f < w->nfn; f++)
        if (mr_column_init(&w->res[f], w->fns[f].rtype, MR_BATCH_ROWS) != 0)
            return mr_err_oom(err, o->node);
    w->out = mr_batch_create(o->schema, MR_BATCH_ROWS);
    if (!w->out)
        return mr_err_oom(err, o->node);
    return 0;
}

static int same_partition(const window_op *w, size_t i, size_t j)
{
    for (int k = 0; k < w->npart; k++)
        if (!mr_vec_equal(&w->buf[w->pcols[k]], i, &w->buf[w->pcols[k]], j))
            return 0;
    return 1;
}

/* Evaluates every function over the partition [from, to) of the buffer. */
static int finish_partition(window_op *w, size_t from, size_t to, mr_err *err)
{
    wf_part p = {w->buf, to - from, w->ocols, w->nord, w->op.node};
    for (int f = 0; f < w->nfn; f++) {
        int rc = wf_eval(&w->fns[f], &p, from, &w->res[f], &w->scratch, err);
        if (rc != 0)
            return rc;
    }
    w->ready = to;
    return 0;
}

/* Appends the live rows of b (and the arguments evaluated over them) to
 * the buffer, finishing each partition that ends in it. */
static int append(window_op *w, const mr_batch *b, mr_err *err)
{
    size_t live = mr_batch_live(b), at = w->nbuf;
    for (int c = 0; c < w->nin; c++)
        if (mr_vec_gather(&w->buf[c], at, &b->cols[c], b->sel, live) != 0)
            return mr_err_oom(err, w->op.node);
    for (int f = 0; f < w->nfn; f++) {
        const mr_expr *es[2] = {w->fns[f].x, w->fns[f].d};
        int cols[2] = {w->fns[f].xcol, w->fns[f].dcol};
        for (int k = 0; k < 2; k++) {
            if (!es[k])
                continue;
            mr_column_free(&w->tmp);
            w->tmp_init = 0;
            if (mr_column_init(&w->tmp, mr_expr_type(es[k]), live ? live : 1) != 0)
                return mr_err_oom(err, w->op.node);
            w->tmp_init = 1;
            int rc = mr_expr_eval(es[k], b, &w->tmp, err);
            if (rc != 0)
                return rc;
            if (mr_vec_copy_range(&w->buf[cols[k]], at, &w->tmp, 0, live) != 0)
                return mr_err_oom(err, w->op.node);
        }
    }
    w->nbuf += live;
    size_t start = w->ready;
    for (size_t i = at > start ? at : start + 1; i < w->nbuf; i++)
        if (!same_partition(w, i, i - 1)) {
            int rc = finish_partition(w, start, i, err);
            if (rc != 0)
                return rc;
            start = i;
        }
    return 0;
}

/* Drops rows [0, emitted) once all finished rows are returned, keeping
 * the unfinished partition's rows. */
static int shift(window_op *w, mr_err *err)
{
    size_t keep = w->nbuf - w->emitted;
    for (int c = 0; c < w->nbufcols; c++) {
        mr_column nc;
        if (mr_column_init(&nc, w->buftypes[c], keep > MR_BATCH_ROWS ? keep : MR_BATCH_ROWS) != 0 ||
            mr_vec_copy_range(&nc, 0, &w->buf[c], w->emitted, keep) != 0)
            return mr_err_oom(err, w->op.node);
        mr_column_free(&w->buf[c]);
        w->buf[c] = nc;
    }
    for (int f = 0; f < w->nfn; f++) {
        mr_column_free(&w->res[f]);
        if (mr_column_init(&w->res[f], w->fns[f].rtype, MR_BATCH_ROWS) != 0)
            return mr_err_oom(err, w->op.node);
    }
    w->nbuf = keep;
    w->ready = w->emitted = 0;
    return 0;
}

static int window_next(mr_op *o, mr_batch **out, mr_err *err)
{
    window_op *w = (window_op *)o;
    for (;;) {
        if (w->emitted < w->ready) {
            size_t n = w->ready - w->emitted;
            if (n > MR_BATCH_ROWS)
                n = MR_BATCH_ROWS;
            mr_batch_reset(w->out);
            for (int c = 0; c < w->nin; c++)
                if (mr_vec_copy_range(&w->out->cols[c], 0, &w->buf[c], w->emitted, n) != 0)
                    return mr_err_oom(err, o->node);
            for (int f = 0; f < w->nfn; f++)
                if (mr_vec_copy_range(&w->out->cols[w->nin + f], 0, &w->res[f], w->emitted, n) != 0)
                    return mr_err_oom(err, o->node);
            w->out->nrows = n;
            w->emitted += n;
            *out = w->out;
            return MR_NEXT_BATCH;
        }
        if (w->in_done)
            return MR_NEXT_DONE;
        if (w->emitted > 0) {
            int rc = shift(w, err);
            if (rc != 0)
                return rc;
        }
        if (mr_exec_cancelled(o->ctx))
            return MR_ECANCELLED;
        mr_batch *b = NULL;
        int rc = mr_op_next(o->child, &b, err);
        if (rc < 0)
            return rc;
        if (rc == MR_NEXT_DONE) {
            w->in_done = 1;
            if (w->nbuf > w->ready && (rc = finish_partition(w, w->ready, w->nbuf, err)) != 0)
                return rc;
            continue;
        }
        if (mr_batch_live(b) > 0 && (rc = append(w, b, err)) != 0)
            return rc;
    }
}

static void window_close(mr_op *o)
{
    window_op *w = (window_op *)o;
    for (int c = 0; w->buf && c < w->nbufcols; c++)
        mr_column_free(&w->buf[c]);
    for (int f = 0; w->res && f < w->nfn; f++)
        mr_column_free(&w->res[f]);
    free(w->buf);
    free(w->res);
    if (w->tmp_init)
        mr_column_free(&w->tmp);
    wf_scratch_free(&w->scratch);
    mr_batch_destroy(w->out);
    for (int f = 0; w->fns && f < w->nfn; f++)
        wf_free(&w->fns[f]);
    free(w->fns);
    free(w->pcols);
    free(w->ocols);
    free(w->buftypes);
    mr_schema_destroy(o->schema);
    free(w);
}

static const mr_op_vtable window_vt = {"window", window_open, window_next, window_close};

static int find_cols(const mr_schema *in, const char *const *names, int n, int **out,
                     const char *node, mr_err *err)
{
    *out = calloc((size_t)n + 1, sizeof **out);
    if (!*out)
        return mr_err_oom(err, node);
    for (int i = 0; i < n; i++)
        if (((*out)[i] = mr_schema_find(in, names[i])) < 0)
            return mr_err_node(err, MR_ENOTFOUND, node, "window: no column '%s' in the input",
                               names[i]);
    return 0;
}

mr_op *mr_window_create(mr_op *child, const char *const *partition_by, int npart,
                        const mr_window_order *order, const char *const *names,
                        const char *const *texts, int n, const char *node, mr_err *err)
{
    window_op *w = calloc(1, sizeof *w);
    if (!w) {
        mr_op_close(child);
        mr_err_oom(err, node);
        return NULL;
    }
    mr_op_init(&w->op, &window_vt, child, node);
    int norder = order ? order->n : 0;
    if (!child || n < 0 || npart < 0 || norder < 0) {
        mr_err_set(err, MR_EINVAL, "window: bad arguments");
        goto fail;
    }
    const mr_schema *in = child->schema;
    w->nin = in->nfields;
    w->npart = npart;
    w->nord = norder;
    w->nfn = n;
    if (find_cols(in, partition_by, npart, &w->pcols, node, err) != 0 ||
        find_cols(in, order ? order->columns : NULL, norder, &w->ocols, node, err) != 0)
        goto fail;
    int bad;
    w->op.schema = mr_window_schema(in, order, names, texts, n, &bad, err);
    if (!w->op.schema) {
        if (bad >= 0)
            mr_err_prefix(err, "node '%s': window column '%s'", node, names[bad]);
        goto fail;
    }
    w->fns = calloc((size_t)n + 1, sizeof *w->fns);
    w->buftypes = calloc((size_t)in->nfields + 2 * (size_t)n + 1, sizeof *w->buftypes);
    if (!w->fns || !w->buftypes) {
        mr_err_oom(err, node);
        goto fail;
    }
    for (int c = 0; c < in->nfields; c++)
        w->buftypes[c] = in->fields[c].type;
    w->nbufcols = in->nfields;
    wf_order ord = order_of(in, order);
    for (int k = 0; k < n; k++) {
        if (wf_parse(texts[k], in, &ord, &w->fns[k], err) != 0)
            goto fail;
        if (w->fns[k].x) {
            w->fns[k].xcol = w->nbufcols;
            w->buftypes[w->nbufcols++] = mr_expr_type(w->fns[k].x);
        }
        if (w->fns[k].d) {
            w->fns[k].dcol = w->nbufcols;
            w->buftypes[w->nbufcols++] = mr_expr_type(w->fns[k].d);
        }
    }
    return &w->op;
fail:
    mr_op_close(&w->op);
    return NULL;
}
