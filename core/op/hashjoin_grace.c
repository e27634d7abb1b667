/* hashjoin_grace.c - the hash join under a memory budget: Grace mode (both
 * inputs partitioned to disk and joined partition by partition) and the
 * chunked build of a partition that cannot split, as the essay at the top
 * of hashjoin.c describes.  A partition's join runs over the same plan
 * object as the DAG's join: nothing is resolved again.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/op/hashjoin_int.h"

/* Bytes the stored build rows use (not the columns' capacity: an empty
 * column already has room for a batch) plus what their table will take. */
static size_t build_bytes(const hashjoin_op *j)
{
    size_t n = j->bn;
    size_t b = n * (sizeof(bentry) + 2 * sizeof(uint64_t));
    for (int c = 0; c < j->nbcols; c++) {
        if (!j->bneed[c])
            continue;
        const mr_column *col = &j->bcols[c];
        b += (n + 7) / 8;
        b += col->type.id == MR_T_STRING ? n * sizeof *col->offsets + col->offsets[n]
                                         : n * mr_type_width(col->type);
    }
    return b;
}

bool hashjoin__build_over_budget(const hashjoin_op *j)
{
    const mr_exec_ctx *x = j->op.ctx;
    return x && x->memory_budget && j->depth < MR_SPILL_MAX_DEPTH && j->bn > 0 &&
           build_bytes(j) > x->memory_budget;
}

/* Hashes the keys of rows rows[0..n) (physical; NULL: 0..n) of cols (the
 * left or right key columns keyidx[]) in their common types into
 * j->phash, as probe_begin does, so equal keys of both sides agree. */
static int hash_keys(hashjoin_op *j, const mr_column *cols, const int *keyidx,
                     const uint32_t *rows, size_t n, mr_err *err)
{
    if (hashjoin__scratch_reserve(j, n) < 0)
        return hashjoin__oom(j, err);
    for (int k = 0; k < j->p->nkeys; k++) {
        int rc = mr_keys_convert(&j->kvown[k], &cols[keyidx[k]], rows, n, j->p->ktype[k]);
        if (rc == MR_EOVERFLOW)
            return mr_err_set(err, MR_EOVERFLOW,
                              "node '%s': a join key holds a value out of the range of its type",
                              j->op.node);
        if (rc < 0)
            return hashjoin__oom(j, err);
        j->kv[k] = j->kvown[k];
    }
    mr_batch kb = {.ncols = j->p->nkeys, .cols = j->kv, .nrows = n, .cap = n};
    mr_hash_columns(&kb, j->kidx, j->p->nkeys, j->phash);
    return 0;
}

static int schema_types(const mr_schema *s, mr_type **out)
{
    *out = malloc((s->nfields ? (size_t)s->nfields : 1) * sizeof **out);
    if (!*out)
        return MR_ENOMEM;
    for (int c = 0; c < s->nfields; c++)
        (*out)[c] = s->fields[c].type;
    return 0;
}

/* The build side went over budget: partition the stored rows to disk and
 * free them; the rest of the build input follows them (grace_add). */
int hashjoin__grace_start(hashjoin_op *j, mr_err *err)
{
    mr_type *bt = NULL, *pt = NULL;
    int rc = 0;
    if (schema_types(j->build->schema, &bt) < 0 || schema_types(j->op.child->schema, &pt) < 0)
        rc = hashjoin__oom(j, err);
    if (rc == 0)
        rc = mr_spill_parts_create(&j->bparts, j->op.ctx, bt, j->nbcols, j->depth, j->op.node, err);
    if (rc == 0)
        rc = mr_spill_parts_create(&j->pparts, j->op.ctx, pt, j->op.child->schema->nfields,
                                   j->depth, j->op.node, err);
    free(bt);
    free(pt);
    if (rc < 0)
        return rc;
    j->grace = true;
    /* the stored rows in pieces of a batch, to keep the scratch small */
    for (size_t at = 0; at < j->bn; at += MR_BATCH_ROWS) {
        size_t m = j->bn - at < MR_BATCH_ROWS ? j->bn - at : MR_BATCH_ROWS;
        if (hashjoin__scratch_reserve(j, m) < 0)
            return hashjoin__oom(j, err);
        for (size_t i = 0; i < m; i++)
            j->rows[i] = (uint32_t)(at + i);
        /* hash_keys converts into kvown and uses phash; rows lives apart */
        if ((rc = hash_keys(j, j->bcols, j->p->rk, j->rows, m, err)) < 0 ||
            (rc = mr_spill_parts_write(&j->bparts, j->bcols, j->rows, j->phash, m, err)) < 0)
            return rc;
    }
    for (int c = 0; c < j->nbcols; c++)
        if (j->bneed[c]) {
            mr_column_free(&j->bcols[c]);
            if (mr_column_init(&j->bcols[c], j->build->schema->fields[c].type, 0) < 0)
                return hashjoin__oom(j, err);
        }
    j->brows_spilled = j->bn;
    j->bn = 0;
    return 0;
}

/* Grace mode: partitions one right batch (rows that can never be output
 * are dropped as build_add drops them). */
int hashjoin__grace_add(hashjoin_op *j, const mr_batch *b, mr_err *err)
{
    size_t live = mr_batch_live(b), m = 0;
    if (hashjoin__scratch_reserve(j, live) < 0)
        return hashjoin__oom(j, err);
    bool drop = drops_null_keys(j->p->how);
    for (size_t i = 0; i < live; i++) {
        uint32_t r = mr_batch_row(b, i);
        bool ok = true;
        for (int k = 0; k < j->p->nkeys && ok && drop; k++)
            ok = mr_column_is_valid(&b->cols[j->p->rk[k]], r);
        j->rows[m] = r;
        m += ok;
    }
    int rc = hash_keys(j, b->cols, j->p->rk, j->rows, m, err);
    if (rc == 0)
        rc = mr_spill_parts_write(&j->bparts, b->cols, j->rows, j->phash, m, err);
    j->brows_spilled += m;
    return rc;
}

/* Grace mode: partitions the whole left input. */
static int grace_probe_all(hashjoin_op *j, mr_err *err)
{
    for (;;) {
        mr_batch *b = NULL;
        int rc = mr_op_next(j->op.child, &b, err);
        if (rc <= 0)
            return rc;
        size_t live = mr_batch_live(b);
        if ((rc = hash_keys(j, b->cols, j->p->lk, b->sel, live, err)) < 0 ||
            (rc = mr_spill_parts_write(&j->pparts, b->cols, b->sel, j->phash, live, err)) < 0)
            return rc;
    }
}

/* ---- chunked build: a partition too large for memory that cannot split.
 * An inner or right join of build rows B = B1 + B2 + ... with probe rows P
 * is the concatenation of the joins of each Bk with P: a probe row's pairs
 * are found chunk by chunk, and a right join's unmatched build row is
 * unmatched within its own chunk.  So such a partition is joined chunk by
 * chunk: a window over its build rows takes batches until they pass the
 * budget, and the whole probe partition is read again for every chunk.
 * Memory stays about one budget (plus one batch); the cost is reading the
 * probe partition once per chunk.  Left, full, semi and anti joins need to
 * know whether a probe row matched in any chunk, so they still build such
 * a partition in memory (docs/spill.md). */
typedef struct chunk_op {
    mr_op op;
    hashjoin_op *owner; /* outlives this operator: its chunk_from/chunk_more are ours */
    uint64_t start;     /* the partition's batch this chunk starts at */
    uint64_t skip;      /* batches still to skip to get there */
    uint64_t taken;     /* batches handed out */
    size_t bytes;       /* their size */
} chunk_op;

static int chunk_open(mr_op *op, mr_exec_ctx *ctx, mr_err *err)
{
    (void)ctx;
    (void)err;
    chunk_op *c = (chunk_op *)op;
    c->owner->chunk_more = false;
    return 0;
}

static int chunk_next(mr_op *op, mr_batch **out, mr_err *err)
{
    chunk_op *c = (chunk_op *)op;
    size_t budget = op->ctx ? op->ctx->memory_budget : 0;
    for (;;) {
        if (c->taken > 0 && budget && c->bytes >= budget) {
            /* this chunk is full: say where the next one starts if any remains */
            mr_batch *b = NULL;
            int rc = mr_op_next(op->child, &b, err);
            if (rc < 0)
                return rc;
            c->owner->chunk_more = rc == MR_NEXT_BATCH;
            c->owner->chunk_from = c->start + c->taken;
            return MR_NEXT_DONE;
        }
        int rc = mr_op_next(op->child, out, err);
        if (rc != MR_NEXT_BATCH)
            return rc;
        if (c->skip > 0) { /* batches of earlier chunks */
            c->skip--;
            continue;
        }
        c->taken++;
        c->bytes += mr_batch_bytes(*out);
        return MR_NEXT_BATCH;
    }
}

static void chunk_close(mr_op *op)
{
    mr_schema_destroy(op->schema);
    free(op);
}

static const mr_op_vtable chunk_vt = {"hashjoin_chunk", chunk_open, chunk_next, chunk_close};

/* The window over build source src from batch j->chunk_from on. */
static mr_op *chunk_create(hashjoin_op *j, mr_op *src, mr_err *err)
{
    chunk_op *c = calloc(1, sizeof *c);
    if (!c) {
        mr_op_close(src);
        hashjoin__oom(j, err);
        return NULL;
    }
    mr_op_init(&c->op, &chunk_vt, src, j->op.node);
    if (!(c->op.schema = mr_schema_copy(src->schema))) {
        mr_op_close(&c->op);
        hashjoin__oom(j, err);
        return NULL;
    }
    c->owner = j;
    c->start = c->skip = j->chunk_from;
    return &c->op;
}

/* Opens the join of partition i, or leaves j->inner NULL when that
 * partition cannot produce a row.  With chunk set, the next chunk of a
 * chunked partition (j->chunk_from says where it starts). */
static int grace_open_part(hashjoin_op *j, int i, bool chunk, mr_err *err)
{
    mr_join_type how = j->p->how;
    bool keeps_build = how == MR_JOIN_RIGHT || how == MR_JOIN_FULL;
    bool keeps_probe = how == MR_JOIN_LEFT || how == MR_JOIN_FULL || how == MR_JOIN_ANTI;
    uint64_t nb = mr_spill_parts_rows(&j->bparts, i), np = mr_spill_parts_rows(&j->pparts, i);
    if ((np == 0 && !keeps_build) || (nb == 0 && !keeps_probe) || (nb == 0 && np == 0))
        return 0;
    /* A partition holding every spilled build row did not split (one key,
     * or keys the hash cannot tell apart): spilling it again would only
     * copy it, so its join builds in memory, over budget if it must. */
    bool unsplit = nb == j->brows_spilled;
    /* the next join would build in memory whatever its size: chunk it where
     * the join type allows (see above) */
    bool in_memory = unsplit || j->depth + 1 >= MR_SPILL_MAX_DEPTH;
    if (!chunk && in_memory && (how == MR_JOIN_INNER || how == MR_JOIN_RIGHT))
        chunk = true, j->chunk_from = 0;
    mr_op *sb = mr_spill_parts_source(&j->bparts, i, j->build->schema, j->op.node, err);
    if (sb && chunk)
        sb = chunk_create(j, sb, err);
    if (!sb)
        return err ? err->code : MR_ENOMEM;
    mr_op *sp = mr_spill_parts_source(&j->pparts, i, j->op.child->schema, j->op.node, err);
    if (!sp) {
        mr_op_close(sb);
        return err ? err->code : MR_ENOMEM;
    }
    mr_op *in = hashjoin__create_inner(j, sb, sp, err); /* over the same plan */
    if (!in)
        return err ? err->code : MR_ENOMEM;
    ((hashjoin_op *)in)->depth = unsplit || chunk ? MR_SPILL_MAX_DEPTH : j->depth + 1;
    j->inner = in;
    return mr_op_open(in, j->op.ctx, err);
}

/* Grace mode's next(): the partitions' joins one after the other. */
int hashjoin__grace_next(hashjoin_op *j, mr_batch **out, mr_err *err)
{
    for (;;) {
        int rc;
        if (j->phase == PH_PARTITION) {
            if ((rc = grace_probe_all(j, err)) < 0)
                return rc;
            j->phase = PH_PARTS;
        }
        if (j->inner) {
            if ((rc = mr_op_next(j->inner, out, err)) != MR_NEXT_DONE)
                return rc;
            mr_op_close(j->inner);
            j->inner = NULL;
            if (j->chunk_more) { /* the same partition's next chunk */
                if ((rc = grace_open_part(j, j->part_next - 1, true, err)) < 0)
                    return rc;
                continue;
            }
        }
        if (j->part_next >= j->bparts.n) {
            mr_spill_parts_free(&j->bparts);
            mr_spill_parts_free(&j->pparts);
            j->phase = PH_DONE;
            return MR_NEXT_DONE;
        }
        if ((rc = grace_open_part(j, j->part_next++, false, err)) < 0)
            return rc;
    }
}

