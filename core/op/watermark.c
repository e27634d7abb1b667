/* watermark.c - passes the rows above an incremental read's watermark and
 * keeps the largest value it passed (see watermark.h).
 *
 * The bound is parsed once, at create, into the column's own
 * representation (int64 for every integer-like type: int32, int64, date,
 * timestamp, a decimal's unscaled value at the column's scale; a double;
 * or bytes for strings), so the per-row test is one comparison.  Like the
 * filter it copies nothing: it narrows the batch's selection vector.  The
 * running maximum is a value of the same kind; a string maximum is copied
 * out of the batch (batches are reused), which costs one copy per new
 * maximum, not per row.
 */
#include "core/op/watermark.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { WK_INT, WK_FLOAT, WK_STR } wkind;

typedef struct wvalue {
    int64_t i;
    double f;
    char *s; /* WK_STR: owned, NUL-terminated copy */
    size_t n;
} wvalue;

typedef struct wm_op {
    mr_op op;
    int col;
    mr_type type;
    wkind kind;
    int has_bound, has_max;
    wvalue bound, max;
} wm_op;

static wkind kind_of(mr_type t)
{
    return t.id == MR_T_FLOAT64 ? WK_FLOAT : t.id == MR_T_STRING ? WK_STR : WK_INT;
}

/* Parses text as a value of t into v (strings: a copy).  0 or a negative
 * code with err set. */
static int value_parse(mr_type t, const char *text, wvalue *v, mr_err *err)
{
    size_t n = strlen(text);
    int32_t i32;
    memset(v, 0, sizeof *v);
    switch (t.id) {
    case MR_T_INT32:
        if (mr_parse_int32(text, n, &i32, err) < 0)
            return err->code;
        v->i = i32;
        return 0;
    case MR_T_DATE:
        if (mr_parse_date(text, n, &i32, err) < 0)
            return err->code;
        v->i = i32;
        return 0;
    case MR_T_INT64:
        return mr_parse_int64(text, n, &v->i, err) < 0 ? err->code : 0;
    case MR_T_TIMESTAMP:
        return mr_parse_timestamp(text, n, &v->i, err) < 0 ? err->code : 0;
    case MR_T_TIMESTAMPTZ: /* an instant; the text carries its offset */
        return mr_parse_timestamptz(text, n, &v->i, NULL, err) < 0 ? err->code : 0;
    case MR_T_DECIMAL:
        return mr_parse_decimal(text, n, t.precision, t.scale, &v->i, err) < 0 ? err->code : 0;
    case MR_T_FLOAT64:
        return mr_parse_float64(text, n, &v->f, err) < 0 ? err->code : 0;
    case MR_T_STRING:
        if (!(v->s = strdup(text)))
            return mr_err_oom(err, NULL);
        v->n = n;
        return 0;
    default:
        return mr_err_set(err, MR_ETYPE, "a %s column cannot hold a watermark",
                          t.id == MR_T_BOOL ? "bool" : "NULL");
    }
}

static int value_cmp(wkind k, const wvalue *a, const wvalue *b)
{
    if (k == WK_INT)
        return (a->i > b->i) - (a->i < b->i);
    if (k == WK_FLOAT)
        return (a->f > b->f) - (a->f < b->f);
    size_t n = a->n < b->n ? a->n : b->n;
    int c = memcmp(a->s, b->s, n);
    return c ? (c > 0) - (c < 0) : (a->n > b->n) - (a->n < b->n);
}

int mr_watermark_cmp(mr_type t, const char *a, const char *b, int *out, mr_err *err)
{
    wvalue va, vb;
    int rc = value_parse(t, a, &va, err);
    if (rc < 0)
        return rc;
    if ((rc = value_parse(t, b, &vb, err)) < 0) {
        free(va.s);
        return rc;
    }
    *out = value_cmp(kind_of(t), &va, &vb);
    free(va.s);
    free(vb.s);
    return 0;
}

/* Row r of column c as a wvalue (strings point into the batch). */
static void value_at(const wm_op *w, const mr_column *c, uint32_t r, wvalue *v)
{
    switch (w->type.id) {
    case MR_T_INT32:
    case MR_T_DATE:
        v->i = MR_COL_I32(c)[r];
        break;
    case MR_T_FLOAT64:
        v->f = MR_COL_F64(c)[r];
        break;
    case MR_T_STRING:
        v->s = (char *)mr_column_str(c, r, &v->n);
        break;
    default:
        v->i = MR_COL_I64(c)[r];
        break;
    }
}

static int keep_max(wm_op *w, const wvalue *v, mr_err *err)
{
    if (w->has_max && value_cmp(w->kind, v, &w->max) <= 0)
        return 0;
    if (w->kind == WK_STR) {
        if (v->n > MR_WATERMARK_MAX)
            return mr_err_set(err, MR_EINVAL, "node '%s': a value of incremental column '%s' is "
                              "%zu bytes, longer than a watermark may be (%d)", w->op.node,
                              w->op.schema->fields[w->col].name, v->n, MR_WATERMARK_MAX);
        char *copy = malloc(v->n + 1);
        if (!copy)
            return mr_err_oom(err, w->op.node);
        memcpy(copy, v->s, v->n);
        copy[v->n] = '\0';
        free(w->max.s);
        w->max.s = copy;
        w->max.n = v->n;
    } else {
        w->max = *v;
    }
    w->has_max = 1;
    return 0;
}

static int wm_next(mr_op *op, mr_batch **out, mr_err *err)
{
    wm_op *w = (wm_op *)op;
    for (;;) {
        mr_batch *b;
        int rc = mr_op_next(op->child, &b, err);
        if (rc != MR_NEXT_BATCH)
            return rc;
        size_t live = mr_batch_live(b);
        if (live == 0)
            continue;
        if (!b->sel_buf || b->cap < b->nrows) {
            if (mr_batch_reserve(b, b->nrows) < 0 || !b->sel_buf)
                return mr_err_oom(err, op->node);
        }
        const mr_column *c = &b->cols[w->col];
        size_t k = 0;
        for (size_t i = 0; i < live; i++) {
            uint32_t r = mr_batch_row(b, i);
            if (!mr_column_is_valid(c, r)) {
                if (!w->has_bound) /* no watermark: every row, NULL or not */
                    b->sel_buf[k++] = r;
                continue;
            }
            wvalue v = {0};
            value_at(w, c, r, &v);
            if (w->has_bound && value_cmp(w->kind, &v, &w->bound) <= 0)
                continue;
            if ((rc = keep_max(w, &v, err)) < 0)
                return rc;
            b->sel_buf[k++] = r; /* k <= i: safe in place, as in filter.c */
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

static void wm_close(mr_op *op)
{
    wm_op *w = (wm_op *)op;
    free(w->bound.s);
    free(w->max.s);
    mr_schema_destroy(op->schema);
    free(w);
}

static const mr_op_vtable wm_vt = {
    .name = "watermark",
    .open = NULL,
    .next = wm_next,
    .close = wm_close,
};

mr_op *mr_watermark_create(mr_op *child, const char *column, const char *bound, const char *node,
                           mr_err *err)
{
    const char *nd = node ? node : "";
    if (!child) {
        mr_err_set(err, MR_EINVAL, "node '%s': watermark without an input", nd);
        return NULL;
    }
    int col = mr_schema_find(child->schema, column);
    if (col < 0) {
        mr_err_set(err, MR_ENOTFOUND, "node '%s': incremental column '%s' is not in the read",
                   nd, column);
        mr_op_close(child);
        return NULL;
    }
    wm_op *w = calloc(1, sizeof *w);
    if (!w) {
        mr_err_oom(err, nd);
        mr_op_close(child);
        return NULL;
    }
    mr_op_init(&w->op, &wm_vt, child, nd);
    w->col = col;
    w->type = child->schema->fields[col].type;
    w->kind = kind_of(w->type);
    w->op.schema = mr_schema_copy(child->schema);
    if (!w->op.schema) {
        mr_err_oom(err, nd);
        mr_op_close(&w->op);
        return NULL;
    }
    if (w->type.id == MR_T_BOOL || w->type.id == MR_T_NULL) {
        mr_err_set(err, MR_ETYPE, "node '%s': incremental column '%s' has no order", nd, column);
        mr_op_close(&w->op);
        return NULL;
    }
    if (bound) {
        int rc = value_parse(w->type, bound, &w->bound, err);
        if (rc < 0) {
            mr_err_prefix(err, "node '%s': watermark '%s' of column '%s'", nd, bound, column);
            mr_op_close(&w->op);
            return NULL;
        }
        w->has_bound = 1;
    }
    return &w->op;
}

/* Formats v, a value of type t, into buf. */
static void value_format(mr_type t, const wvalue *v, char *buf, size_t cap)
{
    switch (t.id) {
    case MR_T_DATE:
        mr_format_date((int32_t)v->i, buf, cap);
        break;
    case MR_T_TIMESTAMP:
        mr_format_timestamp(v->i, buf, cap);
        break;
    case MR_T_TIMESTAMPTZ:
        mr_format_timestamptz(v->i, buf, cap);
        break;
    case MR_T_DECIMAL:
        mr_format_decimal(v->i, t.scale, buf, cap);
        break;
    case MR_T_FLOAT64:
        mr_format_float64(v->f, buf, cap);
        break;
    case MR_T_STRING:
        snprintf(buf, cap, "%s", v->s);
        break;
    default:
        snprintf(buf, cap, "%lld", (long long)v->i);
        break;
    }
}

int mr_watermark_max(const mr_op *op, char *buf, size_t cap)
{
    const wm_op *w = (const wm_op *)op;
    if (cap == 0)
        return 0;
    buf[0] = '\0';
    if (!w->has_max)
        return 0;
    value_format(w->type, &w->max, buf, cap);
    return 1;
}

int mr_watermark_canon(mr_type t, const char *text, char *buf, size_t cap, mr_err *err)
{
    wvalue v;
    if (strlen(text) > MR_WATERMARK_MAX || cap < 49)
        return mr_err_set(err, MR_ETOOBIG, "a watermark is at most %d bytes", MR_WATERMARK_MAX);
    int rc = value_parse(t, text, &v, err);
    if (rc < 0)
        return rc;
    value_format(t, &v, buf, cap);
    free(v.s);
    return 0;
}

uint64_t mr_watermark_rows(const mr_op *op)
{
    return op->rows_out;
}
