/* union.c - UNION ALL by column name with implicit widening.
 *
 * The constructor computes the output schema (mr_union_schema) and, per
 * input, a map from output column to input column plus whether the input is
 * "aligned" (same order and types as the output).  next() pulls the current
 * input until it is done, then moves to the next one.  An aligned input's
 * batch is handed on as is, selection vector and all.  Any other input's
 * live rows are copied into the union's own batch column by column, each
 * column with one conversion loop (plain copy, int32 -> int64, int ->
 * float64, int or decimal -> a decimal of larger scale with an overflow
 * check, decimal -> float64, date -> timestamp).
 *
 * UNION (distinct) is this operator under core/op/distinct.c's operator,
 * which keeps the first occurrence of every row.
 *
 * Ownership: the union owns its inputs and closes them all; the batch it
 * returns is either an input's (valid until the next call) or its own.
 */
#include "core/op/union.h"

#include "core/op/distinct.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct union_op {
    mr_op op;
    int n;
    mr_op **inputs;   /* op.children, owned through op */
    int **map;     /* map[i][j]: column of input i feeding output column j */
    bool *aligned; /* input i passes through */
    int cur;
    bool opened;
    mr_batch *out;
} union_op;

/* ---- Schema -------------------------------------------------------------- */

/* The common type of two input columns (the table in union.h). */
static int widen(mr_type a, mr_type b, mr_type *out)
{
    return mr_type_common(a, b, &MR_WIDEN_UNION, out);
}

int mr_union_schema(const mr_schema *const *inputs, int n, mr_schema **out, mr_err *err)
{
    *out = NULL;
    if (n < 2 || !inputs)
        return mr_err_set(err, MR_EINVAL, "union needs at least 2 inputs, got %d", n);
    const mr_schema *s0 = inputs[0];
    mr_schema *s = mr_schema_copy(s0);
    if (!s)
        return mr_err_oom(err, NULL);
    for (int i = 1; i < n; i++) {
        const mr_schema *si = inputs[i];
        for (int j = 0; j < s0->nfields; j++) {
            const char *name = s0->fields[j].name;
            int k = mr_schema_find(si, name);
            if (k < 0) {
                mr_schema_destroy(s);
                return mr_err_set(err, MR_ENOTFOUND, "union input %d has no column '%s'", i + 1,
                                  name);
            }
            mr_type w;
            if (widen(s->fields[j].type, si->fields[k].type, &w) < 0) {
                char ta[48], tb[48];
                mr_type_name(s->fields[j].type, ta, sizeof ta);
                mr_type_name(si->fields[k].type, tb, sizeof tb);
                mr_schema_destroy(s);
                return mr_err_set(err, MR_ETYPE,
                                  "union column '%s': type %s (inputs before %d) does not "
                                  "match %s (input %d); cast one of them",
                                  name, ta, i + 1, tb, i + 1);
            }
            s->fields[j].type = w;
        }
        for (int k = 0; k < si->nfields; k++)
            if (mr_schema_find(s0, si->fields[k].name) < 0) {
                mr_schema_destroy(s);
                return mr_err_set(err, MR_ENOTFOUND,
                                  "union input %d has column '%s' that input 1 does not have",
                                  i + 1, si->fields[k].name);
            }
    }
    *out = s;
    return 0;
}

/* ---- Conversion ---------------------------------------------------------- */

/* Writes the m live rows rows[] of src into rows 0..m of dst (type to),
 * widening.  0, MR_ENOMEM, or MR_EOVERFLOW (at row *bad, the index in
 * rows). */
static int convert(mr_column *dst, const mr_column *src, const uint32_t *rows, size_t m,
                   size_t *bad)
{
    int rc = mr_column_reserve(dst, m);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < m; i++)
        mr_column_set_valid(dst, i, mr_column_is_valid(src, rows[i]));
    const mr_type from = src->type, to = dst->type;
    if (to.id == MR_T_STRING) {
        size_t total = 0;
        for (size_t i = 0; i < m; i++)
            total += src->offsets[rows[i] + 1] - src->offsets[rows[i]];
        if ((rc = mr_column_reserve_chars(dst, 0, total)) < 0)
            return rc;
        size_t used = 0;
        dst->offsets[0] = 0;
        for (size_t i = 0; i < m; i++) {
            uint32_t s = src->offsets[rows[i]], len = src->offsets[rows[i] + 1] - s;
            if (len)
                memcpy(dst->chars + used, src->chars + s, len);
            used += len;
            dst->offsets[i + 1] = (uint32_t)used;
        }
        return 0;
    }
    if (mr_type_equal(from, to) || (from.id == MR_T_DECIMAL && to.id == MR_T_DECIMAL &&
                                    from.scale == to.scale)) {
        size_t w = mr_type_width(to);
        for (size_t i = 0; i < m; i++)
            memcpy((char *)dst->data + i * w, (const char *)src->data + (size_t)rows[i] * w, w);
        return 0;
    }
    switch (to.id) {
    case MR_T_INT64:
        for (size_t i = 0; i < m; i++)
            MR_COL_I64(dst)[i] = MR_COL_I32(src)[rows[i]];
        return 0;
    case MR_T_TIMESTAMP:
    case MR_T_TIMESTAMPTZ: /* from a date, or a timestamp read as UTC */
        for (size_t i = 0; i < m; i++)
            MR_COL_I64(dst)[i] = from.id == MR_T_DATE
                                     ? (int64_t)MR_COL_I32(src)[rows[i]] * 86400000000LL
                                     : MR_COL_I64(src)[rows[i]];
        return 0;
    case MR_T_FLOAT64:
        if (from.id == MR_T_INT32)
            for (size_t i = 0; i < m; i++)
                MR_COL_F64(dst)[i] = MR_COL_I32(src)[rows[i]];
        else if (from.id == MR_T_INT64)
            for (size_t i = 0; i < m; i++)
                MR_COL_F64(dst)[i] = (double)MR_COL_I64(src)[rows[i]];
        else {
            const double div = (double)mr_pow10[from.scale];
            for (size_t i = 0; i < m; i++)
                MR_COL_F64(dst)[i] = (double)MR_COL_I64(src)[rows[i]] / div;
        }
        return 0;
    case MR_T_DECIMAL: {
        const int up = to.scale - (from.id == MR_T_DECIMAL ? from.scale : 0);
        const int64_t mul = mr_pow10[up];
        const int64_t lim = mr_pow10[to.precision] - 1;
        for (size_t i = 0; i < m; i++) {
            uint32_t r = rows[i];
            int64_t v = from.id == MR_T_INT32 ? MR_COL_I32(src)[r] : MR_COL_I64(src)[r];
            int64_t w;
            if (__builtin_mul_overflow(v, mul, &w) || w > lim || w < -lim) {
                if (mr_column_is_valid(src, r)) {
                    *bad = i;
                    return MR_EOVERFLOW;
                }
                w = 0;
            }
            MR_COL_I64(dst)[i] = w;
        }
        return 0;
    }
    default: return MR_ETYPE; /* excluded by mr_union_schema */
    }
}

/* ---- Lifecycle ----------------------------------------------------------- */

static int union_open(mr_op *op, mr_exec_ctx *ctx, mr_err *err)
{
    (void)ctx;
    union_op *u = (union_op *)op;
    if (u->opened)
        return 0;
    u->out = mr_batch_create(op->schema, MR_BATCH_ROWS);
    if (!u->out)
        return mr_err_oom(err, op->node);
    u->opened = true;
    return 0;
}

static int union_next(mr_op *op, mr_batch **out, mr_err *err)
{
    union_op *u = (union_op *)op;
    if (!u->opened)
        return mr_err_set(err, MR_EINVAL, "node '%s': next() before open()", op->node);
    while (u->cur < u->n) {
        mr_batch *b;
        int rc = mr_op_next(u->inputs[u->cur], &b, err);
        if (rc < 0)
            return rc;
        if (rc == MR_NEXT_DONE) {
            u->cur++;
            continue;
        }
        size_t m = mr_batch_live(b);
        if (m == 0)
            continue;
        if (u->aligned[u->cur]) {
            *out = b;
            return MR_NEXT_BATCH;
        }
        mr_batch *o = u->out;
        mr_batch_reset(o);
        if (mr_batch_reserve(o, m) < 0)
            return mr_err_oom(err, op->node);
        /* o->sel_buf is scratch here: the live row indices of b */
        uint32_t *rows = o->sel_buf;
        for (size_t i = 0; i < m; i++)
            rows[i] = mr_batch_row(b, i);
        for (int j = 0; j < o->ncols; j++) {
            size_t bad = 0;
            const mr_column *src = &b->cols[u->map[u->cur][j]];
            rc = convert(&o->cols[j], src, rows, m, &bad);
            if (rc == MR_EOVERFLOW) {
                char tn[48];
                mr_type_name(o->cols[j].type, tn, sizeof tn);
                return mr_err_set(err, rc,
                                  "node '%s': union input %d column '%s': a value does not fit "
                                  "%s",
                                  op->node, u->cur + 1, op->schema->fields[j].name, tn);
            }
            if (rc < 0)
                return mr_err_set(err, rc, "node '%s': out of memory", op->node);
        }
        o->nrows = m;
        *out = o;
        return MR_NEXT_BATCH;
    }
    return MR_NEXT_DONE;
}

static void union_close(mr_op *op)
{
    union_op *u = (union_op *)op;
    for (int i = 0; i < u->n && u->map; i++)
        free(u->map[i]);
    free(u->map);
    free(u->aligned);
    mr_batch_destroy(u->out);
    mr_schema_destroy(op->schema);
    free(u);
}

static const mr_op_vtable union_vt = {
    .name = "union",
    .open = union_open,
    .next = union_next,
    .close = union_close,
};

mr_op *mr_union_create(mr_op **inputs, int n, int distinct, const char *node, mr_err *err)
{
    const char *nd = node ? node : "";
    union_op *u = NULL;
    const mr_schema **schemas = NULL;
    int rc;
    if (n < 2 || !inputs) {
        rc = mr_err_set(err, MR_EINVAL, "node '%s': union needs at least 2 inputs, got %d", nd, n);
        goto fail;
    }
    u = calloc(1, sizeof *u);
    schemas = malloc((size_t)n * sizeof *schemas);
    if (!u || !schemas) {
        rc = mr_err_oom(err, nd);
        goto fail;
    }
    mr_op_init(&u->op, &union_vt, NULL, nd);
    rc = mr_op_set_children(&u->op, inputs, n);
    inputs = NULL; /* owned by u from here, closed on failure */
    if (rc < 0) {
        free(u);
        u = NULL;
        rc = mr_err_oom(err, nd);
        goto fail;
    }
    u->inputs = u->op.children;
    u->n = n;
    u->map = calloc((size_t)n, sizeof *u->map);
    u->aligned = calloc((size_t)n, sizeof *u->aligned);
    if (!u->map || !u->aligned) {
        rc = mr_err_oom(err, nd);
        goto fail;
    }
    for (int i = 0; i < n; i++)
        schemas[i] = u->inputs[i]->schema;
    if ((rc = mr_union_schema(schemas, n, &u->op.schema, err)) < 0) {
        mr_err_prefix(err, "node '%s'", nd);
        goto fail;
    }
    const mr_schema *os = u->op.schema;
    for (int i = 0; i < n; i++) {
        u->map[i] = malloc((size_t)(os->nfields ? os->nfields : 1) * sizeof **u->map);
        if (!u->map[i]) {
            rc = mr_err_oom(err, nd);
            goto fail;
        }
        bool al = true;
        for (int j = 0; j < os->nfields; j++) {
            int k = mr_schema_find(schemas[i], os->fields[j].name);
            u->map[i][j] = k;
            al = al && k == j && mr_type_equal(schemas[i]->fields[k].type, os->fields[j].type);
        }
        u->aligned[i] = al;
    }
    free(schemas);
    if (distinct)
        return mr_distinct_create(&u->op, NULL, 0, nd, err); /* owns u, also on failure */
    return &u->op;
fail:
    (void)rc;
    free(schemas);
    mr_op_close(u ? &u->op : NULL);
    if (inputs)
        for (int i = 0; i < n; i++)
            mr_op_close(inputs[i]);
    return NULL;
}
