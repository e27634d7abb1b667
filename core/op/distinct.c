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
 * The set: open addressing with linear probing over a power-of-two array
 * of 64-bit slots, each the entry number + 1 (0 = empty) under the high 32
 * bits of the entry's hash as a tag, so a probe that meets another key
 * usually moves on without touching stored values.  Entries are
 * append-only: their values live in one mr_column per distinct column (row
 * e = entry e) beside the entry's full hash; the slot array doubles at half
 * full and is refilled from the stored hashes alone.  Rows added during the
 * current batch are "pending": their values are still only in the dense key
 * view (pend[e - base] is the row there), so a later duplicate within the
 * same batch compares against the view; step 4 then moves them into the
 * set.
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
#include "core/keys.h"
#include "core/spill.h"

#define SLOT_TAG 0xffffffff00000000ULL
#define PREFETCH_AHEAD 8
#define PREFETCH_MIN_SLOTS (1u << 16)

typedef struct distinct_op {
    mr_op op;
    int n;          /* distinct (= output) columns */
    int *cols;      /* their indices in the child's schema */
    int *kidx;      /* 0..n-1, for mr_hash_columns */
    bool opened;
    /* the set */
    mr_column *keys;   /* n stored columns, row e = entry e */
    size_t cnt;        /* entries stored */
    uint64_t *hashes;  /* per entry (stored and pending) */
    size_t hcap;
    uint64_t *slots;
    size_t mask;
    /* per batch */
    mr_column *kvown;  /* gathered dense copies */
    mr_column *kv;     /* the dense columns in use */
    mr_batch kvb;      /* view over kv for hashing */
    size_t pcap;
    uint64_t *phash;
    uint32_t *pend;    /* live index of each pending entry */
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
    return mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", d->op.node);
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
    if (!(a = realloc(d->pend, cap * sizeof *d->pend)))
        return MR_ENOMEM;
    d->pend = a;
    if (!(a = realloc(d->sel, cap * sizeof *d->sel)))
        return MR_ENOMEM;
    d->sel = a;
    d->pcap = cap;
    return 0;
}

/* Doubles the slot array and refills it from the stored hashes of the
 * first total entries. */
static int grow_slots(distinct_op *d, size_t total)
{
    size_t nslots = (d->mask + 1) * 2, mask = nslots - 1;
    uint64_t *s = calloc(nslots, sizeof *s);
    if (!s)
        return MR_ENOMEM;
    for (size_t e = 0; e < total; e++) {
        size_t pos = d->hashes[e] & mask;
        while (s[pos])
            pos = (pos + 1) & mask;
        s[pos] = (d->hashes[e] & SLOT_TAG) | (uint64_t)(e + 1);
    }
    free(d->slots);
    d->slots = s;
    d->mask = mask;
    return 0;
}

/* Steps 3 and 4 above for the live rows of b; returns the number of new
 * rows (their physical indices in d->sel) or a negative code. */
static long probe(distinct_op *d, const mr_batch *b, size_t live)
{
    const size_t base = d->cnt;
    if (base + live >= UINT32_MAX - 1)
        return MR_ETOOBIG;
    if (base + live > d->hcap) {
        size_t cap = d->hcap ? d->hcap : 1024;
        while (cap < base + live)
            cap *= 2;
        uint64_t *h = realloc(d->hashes, cap * sizeof *h);
        if (!h)
            return MR_ENOMEM;
        d->hashes = h;
        d->hcap = cap;
    }
    size_t npend = 0;
    for (size_t i = 0; i < live; i++) {
        if (d->mask + 1 >= PREFETCH_MIN_SLOTS && i + PREFETCH_AHEAD < live)
            __builtin_prefetch(&d->slots[d->phash[i + PREFETCH_AHEAD] & d->mask]);
        uint64_t h = d->phash[i], tag = h & SLOT_TAG;
        size_t pos = h & d->mask;
        bool dup = false;
        for (uint64_t s; (s = d->slots[pos]) != 0; pos = (pos + 1) & d->mask) {
            if ((s & SLOT_TAG) != tag)
                continue;
            /* the tag and the slot position already agree on most hash
             * bits: compare values without loading the stored hash */
            size_t e = (uint32_t)s - 1;
            dup = e < base ? mr_vec_row_equal(d->keys, e, d->kv, i, d->n)
                           : mr_vec_row_equal(d->kv, d->pend[e - base], d->kv, i, d->n);
            if (dup)
                break;
        }
        if (dup)
            continue;
        size_t e = base + npend;
        d->hashes[e] = h;
        d->slots[pos] = tag | (uint64_t)(e + 1);
        d->pend[npend] = (uint32_t)i;
        d->sel[npend] = mr_batch_row(b, i);
        npend++;
        if ((e + 1) * 2 > d->mask + 1 && grow_slots(d, e + 1) < 0)
            return MR_ENOMEM;
    }
    for (int k = 0; k < d->n; k++) {
        int rc = mr_vec_gather(&d->keys[k], base, &d->kv[k], d->pend, npend);
        if (rc < 0)
            return rc;
    }
    d->cnt = base + npend;
    return (long)npend;
}

static int distinct_open(mr_op *op, mr_exec_ctx *ctx, mr_err *err)
{
    (void)ctx;
    distinct_op *d = (distinct_op *)op;
    const mr_schema *cs = op->child->schema;
    size_t n = (size_t)d->n;
    d->opened = true;
    d->keys = calloc(n, sizeof *d->keys);
    d->kvown = calloc(n, sizeof *d->kvown);
    d->kv = calloc(n, sizeof *d->kv);
    d->vcols = calloc(n, sizeof *d->vcols);
    d->slots = calloc(2048, sizeof *d->slots);
    d->mask = 2047;
    if (!d->keys || !d->kvown || !d->kv || !d->vcols || !d->slots ||
        scratch_reserve(d, MR_BATCH_ROWS) < 0)
        return oom(d, err);
    for (int k = 0; k < d->n; k++) {
        mr_type t = cs->fields[d->cols[k]].type;
        if (mr_column_init(&d->keys[k], t, 0) < 0 || mr_column_init(&d->kvown[k], t, 0) < 0)
            return oom(d, err);
    }
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
    size_t m = 0;
    for (size_t i = 0; i < live; i++) {
        uint64_t h = d->phash[i], tag = h & SLOT_TAG;
        bool dup = false;
        for (size_t pos = h & d->mask, sl; !dup && (sl = d->slots[pos]) != 0;
             pos = (pos + 1) & d->mask)
            dup = (sl & SLOT_TAG) == tag &&
                  mr_vec_row_equal(d->keys, (uint32_t)sl - 1, d->kv, i, d->n);
        if (dup)
            continue;
        d->phash[m] = h; /* m <= i: compacting in place */
        d->pend[m++] = (uint32_t)i;
    }
    return mr_spill_parts_write(&d->parts, d->kv, d->pend, d->phash, m, err);
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
        if (x && x->memory_budget && d->depth < MR_SPILL_MAX_DEPTH && d->cnt >= MIN_ROWS &&
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
    for (int k = 0; k < d->n; k++) {
        if (d->keys)
            mr_column_free(&d->keys[k]);
        if (d->kvown)
            mr_column_free(&d->kvown[k]);
    }
    free(d->keys);
    free(d->kvown);
    free(d->kv);
    free(d->vcols);
    free(d->slots);
    free(d->hashes);
    free(d->phash);
    free(d->pend);
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
        mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", nd);
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
    mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", d->op.node);
fail:
    mr_op_close(&d->op);
    return NULL;
}

size_t mr_distinct_memory(const mr_op *op)
{
    if (!op || op->vt != &distinct_vt)
        return 0;
    const distinct_op *d = (const distinct_op *)op;
    if (!d->opened || !d->keys || !d->kvown)
        return 0;
    size_t b = d->hcap * sizeof *d->hashes + (d->slots ? (d->mask + 1) * sizeof *d->slots : 0);
    for (int k = 0; k < d->n; k++)
        b += mr_vec_bytes(&d->keys[k]) + mr_vec_bytes(&d->kvown[k]);
    b += d->pcap * (sizeof *d->phash + sizeof *d->pend + sizeof *d->sel);
    return b;
}

size_t mr_distinct_count(const mr_op *op)
{
    if (!op || op->vt != &distinct_vt)
        return 0;
    return ((const distinct_op *)op)->cnt;
}
