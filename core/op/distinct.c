/* distinct.c - streaming DISTINCT over all columns or a chosen few.
 *
 * Algorithm, per input batch, in passes over the whole batch:
 *   1. make the distinct columns dense (the batch's own column when it has
 *      no selection, else a gathered copy), so row i is the i-th live row;
 *   2. hash them with mr_hash_columns (the hash the shuffle partitions by);
 *   3. look every row up in the set of seen rows, adding the new ones and
 *      writing their physical row numbers into a selection vector;
 *   4. copy the key values of the new rows into the set in one gather per
 *      column;
 *   5. hand out the input batch as a view (our column list, our selection)
 *      unless no row was new, in which case the next batch is pulled.
 *
 * The set is the shared open-addressing table of core/hashtab.h (the
 * hash aggregate's groups are the same structure): steps 3 and 4 are one
 * mr_hashtab_probe over the dense key view, which compares a duplicate
 * within the batch against the view and then gathers the new keys in.
 *
 * Memory: the operator owns its child, the set, the scratch and the view
 * (whose columns are shallow copies of the child's: never freed here).
 * Nothing is allocated per row.
 *
 * Spilling (with a budget in the task's mr_exec_ctx): once the set holds
 * MIN_ROWS rows and mr_distinct_memory passes the budget, the set stops
 * growing.  Rows found in it are dropped as before; the others cannot have
 * been output yet (every output row is in the set), so they are written,
 * as dense distinct columns, to MR_SPILL_FANOUT partitions by hash.  When
 * the child ends, each partition goes through a new distinct operator one
 * depth deeper (which may spill again, up to MR_SPILL_MAX_DEPTH), whose
 * rows are output.  The output rows are the same as without a budget;
 * rows from partitions come at the end.
 */
#include "core/op/distinct.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/hashtab.h"
#include "core/keys.h"
#include "core/spill.h"

typedef struct distinct_op {
    mr_op op;
    int n;          /* distinct (= output) columns */
    int *cols;      /* their indices in the child's schema */
    int *kidx;      /* 0..n-1, for mr_hash_columns */
    bool opened;
    mr_hashtab set;    /* the rows seen */
    /* per batch */
    mr_column *kvown;  /* gathered dense copies */
    mr_column *kv;     /* the dense columns in use */
    mr_batch kvb;      /* view over kv for hashing */
    size_t pcap;
    uint64_t *phash;
    uint32_t *rows;    /* spilling: the live rows to write */
    uint32_t *ids;     /* per live row, its entry in the set */
    uint8_t *isnew;    /* per live row, whether the probe added it */
    uint32_t *sel;     /* output selection */
    mr_column *vcols;  /* output view's columns: shallow copies */
    mr_batch view;
    /* spilling (see the header comment) */
    int depth;            /* recursion depth, 0 for the DAG's operator */
    bool spilling;
    mr_spill_parts parts; /* rows not in the set, by hash */
    int part_next;
    mr_op *inner;         /* the distinct of the partition being read */
} distinct_op;

static const mr_op_vtable distinct_vt;

static int oom(distinct_op *d, mr_err *err)
{
    return mr_err_oom(err, d->op.node);
}

static int scratch_reserve(distinct_op *d, size_t n)
{
    if (n <= d->pcap)
        return 0;
    size_t cap = d->pcap ? d->pcap : MR_BATCH_ROWS;
    while (cap < n)
        cap *= 2;
    void *a;
    if (!(a = realloc(d->phash, cap * sizeof *d->phash)))
        return MR_ENOMEM;
    d->phash = a;
    if (!(a = realloc(d->rows, cap * sizeof *d->rows)))
        return MR_ENOMEM;
    d->rows = a;
    if (!(a = realloc(d->ids, cap * sizeof *d->ids)))
        return MR_ENOMEM;
    d->ids = a;
    if (!(a = realloc(d->isnew, cap)))
        return MR_ENOMEM;
    d->isnew = a;
    if (!(a = realloc(d->sel, cap * sizeof *d->sel)))
        return MR_ENOMEM;
    d->sel = a;
    d->pcap = cap;
    return 0;
}

/* Steps 3 and 4 above for the live rows of b; returns the number of new
 * rows (their physical indices in d->sel) or a negative code. */
static long probe(distinct_op *d, const mr_batch *b, size_t live)
{
    int rc = mr_hashtab_probe(&d->set, d->kv, NULL, live, d->phash, d->ids, d->isnew);
    if (rc < 0)
        return rc;
    size_t m = 0;
    for (size_t i = 0; i < live; i++) {
        d->sel[m] = mr_batch_row(b, i);
        m += d->isnew[i];
    }
    return (long)m;
}

static int distinct_open(mr_op *op, mr_exec_ctx *ctx, mr_err *err)
{
    (void)ctx;
    distinct_op *d = (distinct_op *)op;
    const mr_schema *cs = op->child->schema;
    size_t n = (size_t)d->n;
    d->opened = true;
    d->kvown = calloc(n, sizeof *d->kvown);
    d->kv = calloc(n, sizeof *d->kv);
    d->vcols = calloc(n, sizeof *d->vcols);
    mr_type *types = calloc(n, sizeof *types);
    if (!d->kvown || !d->kv || !d->vcols || !types || scratch_reserve(d, MR_BATCH_ROWS) < 0) {
        free(types);
        return oom(d, err);
    }
    for (int k = 0; k < d->n; k++)
        types[k] = cs->fields[d->cols[k]].type;
    int rc = mr_hashtab_init(&d->set, types, d->n);
    free(types);
    if (rc < 0)
        return oom(d, err);
    for (int k = 0; k < d->n; k++)
        if (mr_column_init(&d->kvown[k], d->set.keys[k].type, 0) < 0)
            return oom(d, err);
    return 0;
}

/* Rows the set holds before it may spill, whatever the budget: each spill
 * level must finish enough rows for the recursion to end in a few levels. */
#define MIN_ROWS 1024

/* Spilling: rows already in the set are dropped, the others (duplicates
 * among them included) go to their partition, as dense key columns.  0 or
 * a negative code. */
static int spill_batch(distinct_op *d, size_t live, mr_err *err)
{
    mr_hashtab_find(&d->set, d->kv, NULL, live, d->phash, d->ids);
    size_t m = 0;
    for (size_t i = 0; i < live; i++) {
        if (d->ids[i] != UINT32_MAX)
            continue;
        d->phash[m] = d->phash[i]; /* m <= i: compacting in place */
        d->rows[m++] = (uint32_t)i;
    }
    return mr_spill_parts_write(&d->parts, d->kv, d->rows, d->phash, m, err);
}

static int start_spilling(distinct_op *d, mr_err *err)
{
    mr_type *t = malloc((size_t)d->n * sizeof *t);
    if (!t)
        return oom(d, err);
    for (int k = 0; k < d->n; k++)
        t[k] = d->op.schema->fields[k].type;
    int rc = mr_spill_parts_create(&d->parts, d->op.ctx, t, d->n, d->depth, d->op.node, err);
    free(t);
    d->spilling = rc == 0;
    return rc;
}

/* After the input: the distinct rows of each partition in turn. */
static int parts_next(distinct_op *d, mr_batch **out, mr_err *err)
{
    for (;;) {
        int rc;
        if (d->inner) {
            if ((rc = mr_op_next(d->inner, out, err)) != MR_NEXT_DONE)
                return rc;
            mr_op_close(d->inner);
            d->inner = NULL;
        }
        if (d->part_next >= d->parts.n) {
            mr_spill_parts_free(&d->parts);
            return MR_NEXT_DONE;
        }
        int i = d->part_next++;
        if (mr_spill_parts_rows(&d->parts, i) == 0)
            continue;
        mr_op *src = mr_spill_parts_source(&d->parts, i, d->op.schema, d->op.node, err);
        mr_op *in = src ? mr_distinct_create(src, NULL, 0, d->op.node, err) : NULL;
        if (!in)
            return err ? err->code : MR_ENOMEM;
        ((distinct_op *)in)->depth = d->depth + 1;
        d->inner = in;
        if ((rc = mr_op_open(in, d->op.ctx, err)) < 0)
            return rc;
    }
}

static int distinct_next(mr_op *op, mr_batch **out, mr_err *err)
{
    distinct_op *d = (distinct_op *)op;
    for (;;) {
        mr_batch *b = NULL;
        if (d->inner || d->part_next > 0)
            return parts_next(d, out, err);
        int rc = mr_op_next(op->child, &b, err);
        if (rc == MR_NEXT_DONE && d->spilling) {
            d->spilling = false;
            return parts_next(d, out, err);
        }
        if (rc != MR_NEXT_BATCH)
            return rc;
        size_t live = mr_batch_live(b);
        if (live == 0)
            continue;
        /* the output selection may be narrowed in place downstream, which
         * needs room for every physical row */
        if (scratch_reserve(d, b->nrows) < 0)
            return oom(d, err);
        for (int k = 0; k < d->n; k++) {
            const mr_column *src = &b->cols[d->cols[k]];
            if (!b->sel) {
                d->kv[k] = *src;
                continue;
            }
            if (mr_vec_gather(&d->kvown[k], 0, src, b->sel, live) < 0)
                return oom(d, err);
            d->kv[k] = d->kvown[k];
        }
        d->kvb.ncols = d->n;
        d->kvb.cols = d->kv;
        d->kvb.nrows = live;
        d->kvb.cap = live;
        mr_hash_columns(&d->kvb, d->kidx, d->n, d->phash);
        if (d->spilling) {
            if ((rc = spill_batch(d, live, err)) < 0)
                return rc;
            continue;
        }
        long m = probe(d, b, live);
        if (m == MR_ETOOBIG)
            return mr_err_set(err, MR_ETOOBIG,
                              "node '%s': more than %u distinct rows, or more than 4 GiB of "
                              "distinct text in one column in memory; give the executor a memory "
                              "budget (--memory) so that it spills",
                              op->node, UINT32_MAX - 2);
        if (m < 0)
            return oom(d, err);
        const mr_exec_ctx *x = op->ctx;
        if (x && x->memory_budget && d->depth < MR_SPILL_MAX_DEPTH && d->set.n >= MIN_ROWS &&
            mr_distinct_memory(op) > x->memory_budget && (rc = start_spilling(d, err)) < 0)
            return rc;
        if (m == 0)
            continue;
        for (int k = 0; k < d->n; k++)
            d->vcols[k] = b->cols[d->cols[k]];
        mr_batch *v = &d->view;
        v->ncols = d->n;
        v->cols = d->vcols;
        v->nrows = b->nrows;
        v->cap = b->nrows;
        v->sel_buf = d->sel;
        bool all = !b->sel && (size_t)m == b->nrows;
        v->sel = all ? NULL : d->sel;
        v->nsel = all ? 0 : (size_t)m;
        *out = v;
        return MR_NEXT_BATCH;
    }
}

static void distinct_close(mr_op *op)
{
    distinct_op *d = (distinct_op *)op;
    mr_op_close(d->inner);
    mr_spill_parts_free(&d->parts);
    for (int k = 0; d->kvown && k < d->n; k++)
        mr_column_free(&d->kvown[k]);
    mr_hashtab_free(&d->set);
    free(d->kvown);
    free(d->kv);
    free(d->vcols);
    free(d->phash);
    free(d->rows);
    free(d->ids);
    free(d->isnew);
    free(d->sel);
    free(d->cols);
    free(d->kidx);
    mr_schema_destroy(op->schema);
    free(d);
}

static const mr_op_vtable distinct_vt = {"distinct", distinct_open, distinct_next, distinct_close};

mr_op *mr_distinct_create(mr_op *child, const char *const *columns, int ncols, const char *node,
                          mr_err *err)
{
    const char *nd = node ? node : "";
    if (!child) {
        mr_err_set(err, MR_EINVAL, "node '%s': distinct without an input", nd);
        return NULL;
    }
    const mr_schema *cs = child->schema;
    distinct_op *d = calloc(1, sizeof *d);
    if (!d) {
        mr_op_close(child);
        mr_err_oom(err, nd);
        return NULL;
    }
    mr_op_init(&d->op, &distinct_vt, child, node);
    if (ncols < 0 || (ncols > 0 && !columns)) {
        mr_err_set(err, MR_EINVAL, "node '%s': bad distinct column list", d->op.node);
        goto fail;
    }
    d->n = ncols ? ncols : cs->nfields;
    if (d->n == 0) {
        mr_err_set(err, MR_EINVAL, "node '%s': distinct over an input without columns", d->op.node);
        goto fail;
    }
    d->cols = malloc((size_t)d->n * sizeof *d->cols);
    d->kidx = malloc((size_t)d->n * sizeof *d->kidx);
    d->op.schema = mr_schema_create(d->n);
    if (!d->cols || !d->kidx || !d->op.schema)
        goto oom;
    for (int k = 0; k < d->n; k++) {
        d->kidx[k] = k;
        d->cols[k] = ncols ? (columns[k] ? mr_schema_find(cs, columns[k]) : -1) : k;
        if (d->cols[k] < 0) {
            char list[256];
            size_t used = 0;
            list[0] = '\0';
            for (int c = 0; c < cs->nfields && used < sizeof list; c++) {
                int w = snprintf(list + used, sizeof list - used, "%s%s", c ? ", " : "",
                                 cs->fields[c].name);
                if (w < 0 || (size_t)w >= sizeof list - used) {
                    memcpy(list + sizeof list - 4, "...", 4);
                    break;
                }
                used += (size_t)w;
            }
            mr_err_set(err, MR_ENOTFOUND, "node '%s': distinct column '%s' not found (columns: %s)",
                       d->op.node, columns[k] ? columns[k] : "(null)", list);
            goto fail;
        }
        for (int q = 0; q < k; q++)
            if (d->cols[q] == d->cols[k]) {
                mr_err_set(err, MR_EINVAL, "node '%s': distinct column '%s' is listed twice",
                           d->op.node, columns[k]);
                goto fail;
            }
        const mr_field *f = &cs->fields[d->cols[k]];
        if (mr_schema_set(d->op.schema, k, f->name, f->type) < 0)
            goto oom;
    }
    return &d->op;
oom:
    mr_err_oom(err, d->op.node);
fail:
    mr_op_close(&d->op);
    return NULL;
}

size_t mr_distinct_memory(const mr_op *op)
{
    if (!op || op->vt != &distinct_vt)
        return 0;
    const distinct_op *d = (const distinct_op *)op;
    if (!d->opened || !d->set.keys || !d->kvown)
        return 0;
    size_t b = mr_hashtab_bytes(&d->set);
    for (int k = 0; k < d->n; k++)
        b += mr_vec_bytes(&d->kvown[k]);
    b += d->pcap * (sizeof *d->phash + sizeof *d->rows + sizeof *d->ids + 1 + sizeof *d->sel);
    return b;
}

size_t mr_distinct_count(const mr_op *op)
{
    if (!op || op->vt != &distinct_vt)
        return 0;
    return ((const distinct_op *)op)->set.n;
}
