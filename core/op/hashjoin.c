/* hashjoin.c - hash join: build a table on the right input, stream the left
 * input through it (inner, left, right, full, semi, anti).
 *
 * Plan (built at create, read-only after): the key column indices on each
 * side, the common type of every key pair (core/keys.h) and whether a side
 * must be converted to it, and one descriptor per output column saying
 * where its values come from: a left column, a right column, or a merged
 * USING key (see hashjoin.h for the semantics).
 *
 * Build (first next): the right input is drained into columnar storage, one
 * mr_column per right column that the output or the keys need (semi and
 * anti joins keep only the keys).  Rows that can never be output are not
 * stored: a NULL-key row of an inner, left, semi or anti join matches
 * nothing and is not preserved.  When the input is done, keys that need a
 * conversion are converted once, all stored rows are hashed in one
 * mr_hash_columns call, and the table is built: a power-of-two array of
 * bucket heads (at least as many as rows) and, per row, an entry holding
 * its hash and the `next` row of its chain (row numbers + 1; 0 ends a
 * chain).  A head also holds a 32-bit filter with one bit set per linked
 * row (picked by high hash bits), so most probes without a partner stop at
 * the head without touching any row.  Rows are linked in reverse
 * so every chain lists its rows in input order, which makes the output
 * order deterministic.  Rows with a NULL key (kept for right and full
 * joins) are stored but never linked.
 *
 * Probe (next): per left batch, in passes over the whole batch: make the
 * key columns dense and of the common type (a shallow copy of the batch's
 * column when it has no selection and needs no conversion, else a gathered
 * copy), hash them with mr_hash_columns, flag rows with a NULL key, and
 * look up every row's bucket head and filter (prefetching ahead on large
 * tables).  Then the rows walk their chains (again prefetching the first
 * entry and key of a row a few ahead), comparing the full hash before the key
 * values, and write (left row, right row) pairs into three index lists;
 * when MR_BATCH_ROWS pairs are collected, every output column is gathered
 * in one pass per column (mr_vec_gather) and the batch is returned.  The
 * position (left row, next chain entry, whether the row matched yet) is
 * kept, so one left batch with many matches becomes several output
 * batches.  Left and full joins add a pair with no right row for a left row
 * that matched nothing.  Right and full joins set a byte per right row when
 * it matches, and after the left input is done emit the unmatched right
 * rows with NULL left columns.  Semi and anti joins write no pairs: they
 * narrow the left batch with a selection vector of the rows that have
 * (semi) or lack (anti) a match, and hand the batch out as a view.
 *
 * Memory: the operator owns both children, the stored right rows, the
 * table, the scratch and the output batch; close() frees them.  Nothing is
 * allocated per row: storage and scratch grow by doubling.
 *
 * Grace mode (when the task's mr_exec_ctx has a budget).  After each right
 * batch the bytes of the stored rows (in use, plus what their table will
 * take) are compared with the budget.  Over it, the stored rows are
 * written to MR_SPILL_FANOUT partitions by the hash of their keys in the
 * common type, remixed per depth (core/spill.h), and freed; the rest of
 * the right input follows them, and next() then partitions the whole left
 * input the same way.  Equal keys land in the same partition on both
 * sides, so joining partition i of the right with partition i of the left
 * (by a new join operator over two spill sources, one depth deeper, sharing
 * this join's plan, which may go Grace again) and concatenating gives exactly the join: rows
 * without a match stay without one in their partition, so left, right,
 * full, semi and anti semantics hold per partition.  Rows with a NULL key
 * hash alike and travel together; they never match.  A partition that
 * cannot produce a row (no left rows for an inner/left/semi/anti join, no
 * right rows for inner/right/semi) is skipped.  A partition holding every
 * spilled right row did not split (one hot key) is not copied again, and
 * no join goes below MR_SPILL_MAX_DEPTH: an inner or right join of such a
 * partition is joined chunk by chunk within the budget (chunk_op in
 * hashjoin_grace.c);
 * the other join types build it in memory over the budget, and a single
 * key whose rows do not fit in memory at all fails with MR_ENOMEM naming
 * the node.
 * Limits: at most 2^32 - 2 stored right rows and 4 GiB of text per stored
 * string column (MR_ETOOBIG with a message).
 *
 * Build timing: open() only allocates; the first next() drains the right
 * input (like a sort or an aggregate), so building a tree does no work.
 *
 * Files: hashjoin_plan.c builds the plan, hashjoin_grace.c holds Grace mode,
 * this file build, probe, output and the lifecycle (hashjoin_int.h).
 */
#include "core/op/hashjoin.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/op/hashjoin_int.h"

/* ---- Running state ------------------------------------------------------- */

static const mr_op_vtable hashjoin_vt;

int hashjoin__oom(hashjoin_op *j, mr_err *err)
{
    return mr_err_oom(err, j->op.node);
}

/* Grows the per-row scratch to n rows. */
int hashjoin__scratch_reserve(hashjoin_op *j, size_t n)
{
    if (n <= j->pcap)
        return 0;
    size_t cap = j->pcap ? j->pcap : MR_BATCH_ROWS;
    while (cap < n)
        cap *= 2;
    void *a;
    if (!(a = realloc(j->phash, cap * sizeof *j->phash)))
        return MR_ENOMEM;
    j->phash = a;
    if (!(a = realloc(j->pfirst, cap * sizeof *j->pfirst)))
        return MR_ENOMEM;
    j->pfirst = a;
    if (!(a = realloc(j->rows, cap * sizeof *j->rows)))
        return MR_ENOMEM;
    j->rows = a;
    j->pcap = cap;
    return 0;
}

/* Appends the live rows of one right batch to storage. */
static int build_add(hashjoin_op *j, const mr_batch *b, mr_err *err)
{
    size_t live = mr_batch_live(b), m = 0;
    if (hashjoin__scratch_reserve(j, live) < 0)
        return hashjoin__oom(j, err);
    if (drops_null_keys(j->p->how)) {
        for (size_t i = 0; i < live; i++) {
            uint32_t r = mr_batch_row(b, i);
            bool ok = true;
            for (int k = 0; k < j->p->nkeys && ok; k++)
                ok = mr_column_is_valid(&b->cols[j->p->rk[k]], r);
            j->rows[m] = r;
            m += ok;
        }
    } else {
        for (size_t i = 0; i < live; i++)
            j->rows[i] = mr_batch_row(b, i);
        m = live;
    }
    if (m == 0)
        return 0;
    if (j->bn + m >= UINT32_MAX - 1)
        return mr_err_set(err, MR_ETOOBIG,
                          "node '%s': the right input of the join has more than %u rows in "
                          "memory; give the executor a memory budget so that it spills",
                          j->op.node, UINT32_MAX - 2);
    for (int c = 0; c < j->nbcols; c++) {
        if (!j->bneed[c])
            continue;
        int rc = mr_vec_gather(&j->bcols[c], j->bn, &b->cols[c], j->rows, m);
        if (rc == MR_ETOOBIG)
            return mr_err_set(err, MR_ETOOBIG,
                              "node '%s': right column '%s' holds more than 4 GiB of text in "
                              "memory; give the executor a memory budget so that it spills",
                              j->op.node, j->build->schema->fields[c].name);
        if (rc < 0)
            return hashjoin__oom(j, err);
    }
    j->bn += m;
    return 0;
}

/* After the right input is stored: converts keys, hashes rows, links the
 * table and allocates the match flags. */
static int build_finish(hashjoin_op *j, mr_err *err)
{
    const jplan *p = j->p;
    for (int k = 0; k < p->nkeys; k++) {
        const mr_column *src = &j->bcols[p->rk[k]];
        if (p->rconv[k]) {
            int rc = mr_keys_convert(&j->bconv[k], src, NULL, j->bn, p->ktype[k]);
            if (rc == MR_EOVERFLOW)
                return mr_err_set(err, MR_EOVERFLOW,
                                  "node '%s': right key '%s' holds a value out of the range of "
                                  "its type",
                                  j->op.node, j->build->schema->fields[p->rk[k]].name);
            if (rc < 0)
                return hashjoin__oom(j, err);
            src = &j->bconv[k];
        }
        j->bkeys[k] = *src;
    }
    size_t n = j->bn;
    size_t nslots = 16;
    while (nslots < n)
        nslots *= 2;
    uint64_t *hash = malloc((n ? n : 1) * sizeof *hash);
    j->bent = malloc((n ? n : 1) * sizeof *j->bent);
    j->heads = calloc(nslots, sizeof *j->heads);
    if (!hash || !j->bent || !j->heads) {
        free(hash);
        return hashjoin__oom(j, err);
    }
    j->mask = nslots - 1;
    mr_batch hb = {.ncols = p->nkeys, .cols = j->bkeys, .nrows = n, .cap = n};
    mr_hash_columns(&hb, j->kidx, p->nkeys, hash);
    for (size_t e = n; e-- > 0;) {
        bool ok = true;
        for (int k = 0; k < p->nkeys && ok; k++)
            ok = mr_column_is_valid(&j->bkeys[k], e);
        j->bent[e].hash = hash[e];
        j->bent[e].next = 0;
        if (!ok)
            continue;
        uint64_t *head = &j->heads[hash[e] & j->mask];
        j->bent[e].next = (uint32_t)*head;
        *head = (*head & FILTER_MASK) | filter_bit(hash[e]) | ((uint64_t)e + 1);
    }
    free(hash);
    j->pf = nslots >= PREFETCH_MIN_SLOTS;
    if (!drops_null_keys(p->how) && !(j->matched = calloc(n ? n : 1, 1)))
        return hashjoin__oom(j, err);
    return 0;
}

static int hashjoin_open(mr_op *op, mr_exec_ctx *ctx, mr_err *err)
{
    (void)ctx;
    hashjoin_op *j = (hashjoin_op *)op;
    const jplan *p = j->p;
    size_t nk = (size_t)p->nkeys;
    j->opened = true;
    j->nbcols = j->build->schema->nfields;
    j->bneed = calloc((size_t)j->nbcols + 1, sizeof *j->bneed);
    j->bcols = calloc((size_t)j->nbcols + 1, sizeof *j->bcols);
    j->bconv = calloc(nk, sizeof *j->bconv);
    j->bkeys = calloc(nk, sizeof *j->bkeys);
    j->kvown = calloc(nk, sizeof *j->kvown);
    j->kv = calloc(nk, sizeof *j->kv);
    j->lrow = malloc(MR_BATCH_ROWS * sizeof *j->lrow);
    j->lidx = malloc(MR_BATCH_ROWS * sizeof *j->lidx);
    j->brow = malloc(MR_BATCH_ROWS * sizeof *j->brow);
    if (!j->bneed || !j->bcols || !j->bconv || !j->bkeys || !j->kvown || !j->kv || !j->lrow ||
        !j->lidx || !j->brow || hashjoin__scratch_reserve(j, MR_BATCH_ROWS) < 0)
        return hashjoin__oom(j, err);
    for (int k = 0; k < p->nkeys; k++)
        j->bneed[p->rk[k]] = true;
    for (int o = 0; o < p->nout; o++)
        if (p->oc[o].kind == OUT_RIGHT)
            j->bneed[p->oc[o].col] = true;
    for (int c = 0; c < j->nbcols; c++)
        if (j->bneed[c] && mr_column_init(&j->bcols[c], j->build->schema->fields[c].type, 0) < 0)
            return hashjoin__oom(j, err);
    for (int k = 0; k < p->nkeys; k++) {
        if (p->rconv[k] && mr_column_init(&j->bconv[k], p->ktype[k], 0) < 0)
            return hashjoin__oom(j, err);
        if (mr_column_init(&j->kvown[k], p->ktype[k], 0) < 0)
            return hashjoin__oom(j, err);
    }
    if (p->how != MR_JOIN_SEMI && p->how != MR_JOIN_ANTI &&
        !(j->out = mr_batch_create(op->schema, 0)))
        return hashjoin__oom(j, err);
    j->phase = PH_BUILD; /* the first next() drains the build side */
    return 0;
}

/* The first next(): drains the build side into the table, or into spill
 * partitions when it passes the budget. */
static int hashjoin_build(hashjoin_op *j, mr_err *err)
{
    int rc;
    for (;;) {
        mr_batch *b = NULL;
        rc = mr_op_next(j->build, &b, err);
        if (rc < 0)
            return rc;
        if (rc == MR_NEXT_DONE)
            break;
        if (j->grace) {
            if ((rc = hashjoin__grace_add(j, b, err)) < 0)
                return rc;
            continue;
        }
        if ((rc = build_add(j, b, err)) < 0)
            return rc;
        if (hashjoin__build_over_budget(j) && (rc = hashjoin__grace_start(j, err)) < 0)
            return rc;
    }
    if (j->grace) {
        j->phase = PH_PARTITION; /* next() partitions the left input */
        return 0;
    }
    if ((rc = build_finish(j, err)) < 0)
        return rc;
    j->phase = PH_PROBE;
    return 0;
}

/* Prepares a new left batch: dense keys, hashes, bucket heads. */
static int probe_begin(hashjoin_op *j, mr_batch *b, mr_err *err)
{
    const jplan *p = j->p;
    size_t live = mr_batch_live(b);
    /* nrows >= live: the selection handed out by semi/anti may be narrowed
     * in place downstream, which needs room for every physical row */
    if (hashjoin__scratch_reserve(j, b->nrows) < 0)
        return hashjoin__oom(j, err);
    for (int k = 0; k < p->nkeys; k++) {
        const mr_column *src = &b->cols[p->lk[k]];
        if (!p->lconv[k] && !b->sel) {
            j->kv[k] = *src;
            continue;
        }
        int rc = mr_keys_convert(&j->kvown[k], src, b->sel, live, p->ktype[k]);
        if (rc == MR_EOVERFLOW)
            return mr_err_set(err, MR_EOVERFLOW,
                              "node '%s': left key '%s' holds a value out of the range of its type",
                              j->op.node, j->op.child->schema->fields[p->lk[k]].name);
        if (rc < 0)
            return hashjoin__oom(j, err);
        j->kv[k] = j->kvown[k];
    }
    j->kvb.ncols = p->nkeys;
    j->kvb.cols = j->kv;
    j->kvb.nrows = live;
    j->kvb.cap = live;
    mr_hash_columns(&j->kvb, j->kidx, p->nkeys, j->phash);
    /* bucket heads; 0 for a row with a NULL key */
    uint32_t *first = j->pfirst;
    const size_t mask = j->mask;
    const bool pf = j->pf;
    for (size_t i = 0; i < live; i++) {
        if (pf && i + PREFETCH_AHEAD < live)
            __builtin_prefetch(&j->heads[j->phash[i + PREFETCH_AHEAD] & mask]);
        uint64_t hd = j->heads[j->phash[i] & mask];
        first[i] = hd & filter_bit(j->phash[i]) ? (uint32_t)hd : 0;
    }
    for (int k = 0; k < p->nkeys; k++) {
        const mr_column *c = &j->kv[k];
        for (size_t i = 0; i < live; i++)
            if (!mr_column_is_valid(c, i))
                first[i] = 0;
    }
    j->pb = b;
    j->plive = live;
    j->pi = 0;
    j->started = false;
    return 0;
}

/* Asks for the cache lines that visiting stored row e + 1 (0: none) will
 * read: its entry and its first key value. */
static inline void prefetch_row(const hashjoin_op *j, uint32_t e)
{
    if (!e)
        return;
    __builtin_prefetch(&j->bent[e - 1]);
    const mr_column *c = &j->bkeys[0];
    if (c->type.id == MR_T_STRING)
        __builtin_prefetch(&c->offsets[e - 1]);
    else
        __builtin_prefetch((const char *)c->data + (size_t)(e - 1) * mr_type_width(c->type));
}

/* Semi and anti: the left rows with (semi) or without (anti) a match, as a
 * selection over the left batch. */
static size_t probe_semi_anti(hashjoin_op *j)
{
    const bool want = j->p->how == MR_JOIN_SEMI;
    const int nkeys = j->p->nkeys;
    size_t m = 0;
    for (size_t i = 0; i < j->plive; i++) {
        bool found = false;
        uint64_t h = j->phash[i];
        if (j->pf && i + PREFETCH_AHEAD < j->plive)
            prefetch_row(j, j->pfirst[i + PREFETCH_AHEAD]);
        for (uint32_t e = j->pfirst[i]; e && !found; e = (uint32_t)j->bent[e - 1].next)
            found = j->bent[e - 1].hash == h &&
                    mr_vec_row_equal(j->bkeys, e - 1, j->kv, i, nkeys);
        j->rows[m] = mr_batch_row(j->pb, i);
        m += found == want;
    }
    return m;
}

/* Collects up to MR_BATCH_ROWS (left, right) pairs from the current left
 * batch, resuming where the last call stopped. */
static size_t probe_pairs(hashjoin_op *j)
{
    const bool keep_left = j->p->how == MR_JOIN_LEFT || j->p->how == MR_JOIN_FULL;
    uint8_t *const matched = j->matched;
    const int nkeys = j->p->nkeys;
    size_t n = 0;
    while (j->pi < j->plive) {
        size_t i = j->pi;
        if (!j->started) {
            if (j->pf && i + PREFETCH_AHEAD < j->plive)
                prefetch_row(j, j->pfirst[i + PREFETCH_AHEAD]);
            j->pe = j->pfirst[i];
            j->pmatched = false;
            j->started = true;
        }
        uint64_t h = j->phash[i];
        uint32_t lr = mr_batch_row(j->pb, i);
        while (j->pe) {
            if (n == MR_BATCH_ROWS)
                return n;
            uint32_t e = j->pe - 1;
            j->pe = (uint32_t)j->bent[e].next;
            if (j->bent[e].hash == h && mr_vec_row_equal(j->bkeys, e, j->kv, i, nkeys)) {
                j->lrow[n] = lr;
                j->lidx[n] = (uint32_t)i;
                j->brow[n] = e;
                n++;
                j->pmatched = true;
                if (matched)
                    matched[e] = 1;
            }
        }
        if (!j->pmatched && keep_left) {
            if (n == MR_BATCH_ROWS)
                return n;
            j->lrow[n] = lr;
            j->lidx[n] = (uint32_t)i;
            j->brow[n] = MR_VEC_NULL_ROW;
            n++;
        }
        j->pi++;
        j->started = false;
    }
    return n;
}

/* Fills the output batch from the n pairs (tail: right rows only). */
static int emit(hashjoin_op *j, size_t n, bool tail, mr_batch **out, mr_err *err)
{
    const jplan *p = j->p;
    mr_batch *o = j->out;
    mr_batch_reset(o);
    for (int c = 0; c < p->nout; c++) {
        mr_column *dst = &o->cols[c];
        const out_col *oc = &p->oc[c];
        int rc;
        switch (oc->kind) {
        case OUT_LEFT:
            rc = tail ? mr_vec_set_null(dst, 0, n)
                      : mr_vec_gather(dst, 0, &j->pb->cols[oc->col], j->lrow, n);
            break;
        case OUT_RIGHT: rc = mr_vec_gather(dst, 0, &j->bcols[oc->col], j->brow, n); break;
        default:
            rc = tail ? mr_vec_gather(dst, 0, &j->bkeys[oc->col], j->brow, n)
                      : mr_vec_gather(dst, 0, &j->kv[oc->col], j->lidx, n);
            break;
        }
        if (rc < 0)
            return hashjoin__oom(j, err);
    }
    o->nrows = n;
    *out = o;
    return MR_NEXT_BATCH;
}

static int hashjoin_next(mr_op *op, mr_batch **out, mr_err *err)
{
    hashjoin_op *j = (hashjoin_op *)op;
    const mr_join_type how = j->p->how;
    if (j->phase == PH_BUILD) {
        int rc = hashjoin_build(j, err);
        if (rc < 0)
            return rc;
    }
    if (j->grace)
        return j->phase == PH_DONE ? MR_NEXT_DONE : hashjoin__grace_next(j, out, err);
    while (j->phase == PH_PROBE) {
        if (!j->pb) {
            mr_batch *b = NULL;
            int rc = mr_op_next(op->child, &b, err);
            if (rc < 0)
                return rc;
            if (rc == MR_NEXT_DONE) {
                j->phase = j->matched ? PH_TAIL : PH_DONE;
                break;
            }
            if (mr_batch_live(b) == 0)
                continue;
            if ((rc = probe_begin(j, b, err)) < 0)
                return rc;
        }
        if (how == MR_JOIN_SEMI || how == MR_JOIN_ANTI) {
            size_t m = probe_semi_anti(j);
            mr_batch *b = j->pb;
            j->pb = NULL;
            if (m == 0)
                continue;
            mr_batch *v = &j->view;
            v->ncols = b->ncols;
            v->cols = b->cols;
            v->nrows = b->nrows;
            v->cap = b->nrows;
            v->sel_buf = j->rows;
            bool all = !b->sel && m == b->nrows; /* keep the no-selection fast path */
            v->sel = all ? NULL : j->rows;
            v->nsel = all ? 0 : m;
            *out = v;
            return MR_NEXT_BATCH;
        }
        size_t n = probe_pairs(j);
        int rc = n ? emit(j, n, false, out, err) : MR_NEXT_DONE;
        if (j->pi >= j->plive)
            j->pb = NULL; /* the output gathered its rows: the batch may go */
        if (n)
            return rc;
    }
    if (j->phase == PH_TAIL) {
        size_t n = 0;
        while (j->tail_pos < j->bn && n < MR_BATCH_ROWS) {
            j->brow[n] = (uint32_t)j->tail_pos;
            n += !j->matched[j->tail_pos];
            j->tail_pos++;
        }
        if (n)
            return emit(j, n, true, out, err);
        j->phase = PH_DONE;
    }
    return MR_NEXT_DONE;
}

static void hashjoin_close(mr_op *op)
{
    hashjoin_op *j = (hashjoin_op *)op;
    int nk = j->p ? j->p->nkeys : 0;
    mr_op_close(j->inner);
    mr_spill_parts_free(&j->bparts);
    mr_spill_parts_free(&j->pparts);
    if (j->bcols)
        for (int c = 0; c < j->nbcols; c++)
            mr_column_free(&j->bcols[c]);
    if (j->bconv)
        for (int k = 0; k < nk; k++)
            mr_column_free(&j->bconv[k]);
    if (j->kvown)
        for (int k = 0; k < nk; k++)
            mr_column_free(&j->kvown[k]);
    free(j->bneed);
    free(j->bcols);
    free(j->bconv);
    free(j->bkeys);
    free(j->kvown);
    free(j->kv);
    free(j->bent);
    free(j->heads);
    free(j->matched);
    free(j->phash);
    free(j->pfirst);
    free(j->rows);
    free(j->lrow);
    free(j->lidx);
    free(j->brow);
    free(j->kidx);
    mr_batch_destroy(j->out);
    op->schema = NULL; /* owned by the plan */
    hashjoin__plan_release(j->p);
    free(j);
}

static const mr_op_vtable hashjoin_vt = {"hashjoin", hashjoin_open, hashjoin_next, hashjoin_close};

mr_op *mr_hashjoin_create(mr_op *build, mr_op *probe, mr_join_type how,
                          const char *const *left_keys, const char *const *right_keys, int nkeys,
                          const char *right_prefix, const char *node, mr_err *err)
{
    const char *nd = node ? node : "";
    if (!build || !probe) {
        mr_op_close(build);
        mr_op_close(probe);
        mr_err_set(err, MR_EINVAL, "node '%s': a join needs a left and a right input", nd);
        return NULL;
    }
    hashjoin_op *j = calloc(1, sizeof *j);
    if (!j) {
        mr_op_close(build);
        mr_op_close(probe);
        mr_err_oom(err, nd);
        return NULL;
    }
    mr_op_init(&j->op, &hashjoin_vt, NULL, node);
    mr_op *const kids[2] = {probe, build};
    if (mr_op_set_children(&j->op, kids, 2) < 0) {
        free(j);
        mr_err_oom(err, nd);
        return NULL;
    }
    j->build = build; /* children[1]: the operator owns both */
    if (!(j->p = calloc(1, sizeof *j->p))) {
        mr_err_oom(err, j->op.node);
        goto fail;
    }
    int rc = hashjoin__plan_build(j->p, probe->schema, build->schema, how, left_keys, right_keys,
                                  nkeys, right_prefix, j->op.node, err);
    j->p->refs = 1; /* plan_build starts from a zeroed plan */
    if (rc < 0)
        goto fail;
    j->kidx = malloc((size_t)nkeys * sizeof *j->kidx);
    if (!j->kidx) {
        mr_err_oom(err, j->op.node);
        goto fail;
    }
    for (int k = 0; k < nkeys; k++)
        j->kidx[k] = k;
    j->op.schema = j->p->schema;
    return &j->op;
fail:
    mr_op_close(&j->op);
    return NULL;
}

mr_op *hashjoin__create_inner(hashjoin_op *outer, mr_op *build, mr_op *probe, mr_err *err)
{
    hashjoin_op *j = calloc(1, sizeof *j);
    mr_op *const kids[2] = {probe, build};
    if (!j || (mr_op_init(&j->op, &hashjoin_vt, NULL, outer->op.node),
               mr_op_set_children(&j->op, kids, 2)) < 0) {
        if (!j) {
            mr_op_close(build);
            mr_op_close(probe);
        }
        free(j);
        hashjoin__oom(outer, err);
        return NULL;
    }
    j->build = build;
    j->p = outer->p;
    j->p->refs++;
    j->op.schema = j->p->schema;
    if (!(j->kidx = malloc((size_t)j->p->nkeys * sizeof *j->kidx))) {
        mr_op_close(&j->op);
        hashjoin__oom(outer, err);
        return NULL;
    }
    for (int k = 0; k < j->p->nkeys; k++)
        j->kidx[k] = k;
    return &j->op;
}

size_t mr_hashjoin_memory(const mr_op *op)
{
    if (!op || op->vt != &hashjoin_vt)
        return 0;
    const hashjoin_op *j = (const hashjoin_op *)op;
    if (!j->opened || !j->bcols)
        return 0;
    size_t b = 0;
    for (int c = 0; c < j->nbcols; c++)
        if (j->bneed[c])
            b += mr_vec_bytes(&j->bcols[c]);
    for (int k = 0; k < j->p->nkeys; k++) {
        if (j->p->rconv[k])
            b += mr_vec_bytes(&j->bconv[k]);
        b += mr_vec_bytes(&j->kvown[k]);
    }
    if (j->heads)
        b += j->bn * sizeof *j->bent + (j->mask + 1) * sizeof *j->heads;
    if (j->matched)
        b += j->bn;
    b += j->pcap * (sizeof *j->phash + sizeof *j->pfirst + sizeof *j->rows);
    b += 3 * MR_BATCH_ROWS * sizeof *j->lrow;
    if (j->out)
        b += mr_batch_bytes(j->out);
    return b;
}

size_t mr_hashjoin_build_rows(const mr_op *op)
{
    if (!op || op->vt != &hashjoin_vt)
        return 0;
    return ((const hashjoin_op *)op)->bn;
}
