/* hashagg_spill.c - the hash aggregate under a memory budget: early flushes
 * (PARTIAL) and hybrid hash spilling to partitions (FINAL, SINGLE), as the
 * essay at the top of hashagg.c describes.  The operator that aggregates a
 * spilled partition runs over the same plan object as the DAG's operator:
 * nothing is parsed again.
 */
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/op/hashagg_int.h"

/* Frees the states and the group table and starts them afresh (PARTIAL
 * after an early flush; FINAL/SINGLE before reading partitions). */
int hashagg__table_reset(hashagg_op *h)
{
    for (int a = 0; a < h->p->nagg; a++) {
        agg_rt *rt = &h->rt[a];
        hashagg__sagg_free(rt, h->state_cap);
        free(rt->count);
        free(rt->isum);
        free(rt->fsum);
        free(rt->m2);
        free(rt->has);
        free(rt->mm);
        free(rt->str.buf);
        free(rt->str.off);
        free(rt->str.len);
        rt->count = NULL;
        rt->isum = NULL;
        rt->fsum = NULL;
        rt->m2 = NULL;
        rt->has = NULL;
        rt->mm = NULL;
        memset(&rt->str, 0, sizeof rt->str);
        if (rt->has_dset) {
            mr_type dt[2] = {mr_type_make(MR_T_INT64), h->p->aggs[a].arg_type};
            mr_hashtab_free(&rt->dset);
            rt->has_dset = false;
            if (mr_hashtab_init(&rt->dset, dt, 2) < 0)
                return MR_ENOMEM;
            rt->has_dset = true;
        }
    }
    h->state_cap = 0;
    h->emit_pos = 0;
    mr_hashtab_free(&h->groups);
    return mr_hashtab_init(&h->groups, h->ktypes, h->nkeys);
}

/* Groups a table holds before it may spill or flush, whatever the budget:
 * an empty table already holds room for this many, and each spill level
 * must finish enough groups for the recursion to end in a few levels. */
#define MIN_GROUPS 1024

/* Whether the table is over the task's budget (never without a budget). */
bool hashagg__over_budget(const hashagg_op *h)
{
    const mr_exec_ctx *x = h->op.ctx;
    return x && x->memory_budget && h->groups.n >= MIN_GROUPS &&
           mr_hashagg_memory(&h->op) > x->memory_budget;
}

/* While spilling: rows of groups already in the table are aggregated as
 * usual; the others go to the partition their key hash picks. */
int hashagg__consume_spilling(hashagg_op *h, const mr_batch *in, mr_err *err)
{
    size_t n = mr_batch_live(in);
    if (n == 0)
        return 0;
    if (hashagg__scratch_reserve(h, n) < 0)
        return hashagg__oom(h, err);
    const plan *p = h->p;
    for (int k = 0; k < p->ngroup; k++) {
        int src = h->mode == MR_AGG_FINAL ? k : p->group_idx[k];
        const mr_column *c = hashagg__dense_col(h, in, src);
        if (!c)
            return hashagg__oom(h, err);
        h->kvcols[k] = *c;
    }
    h->kv.nrows = n;
    h->kv.cap = n;
    mr_hash_columns(&h->kv, h->kvidx, h->nkeys, h->hashes);
    mr_hashtab_find(&h->groups, h->kvcols, NULL, n, h->hashes, h->gids);
    size_t nh = 0, nm = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t r = mr_batch_row(in, i);
        if (h->gids[i] != UINT32_MAX) {
            h->hits[nh++] = r;
        } else {
            h->hashes[nm] = h->hashes[i]; /* nm <= i: compacting in place */
            h->miss[nm++] = r;
        }
    }
    int rc = mr_spill_parts_write(&h->parts, in->cols, h->miss, h->hashes, nm, err);
    if (rc < 0 || nh == 0)
        return rc;
    mr_batch view = *in;
    view.sel = h->hits;
    view.nsel = nh;
    return hashagg__consume(h, &view, err);
}

/* FINAL/SINGLE over budget: from now on new groups spill. */
int hashagg__start_spilling(hashagg_op *h, mr_err *err)
{
    const mr_schema *cs = h->op.child->schema;
    mr_type *types = malloc((cs->nfields ? (size_t)cs->nfields : 1) * sizeof *types);
    if (!types)
        return hashagg__oom(h, err);
    for (int c = 0; c < cs->nfields; c++)
        types[c] = cs->fields[c].type;
    int rc = mr_spill_parts_create(&h->parts, h->op.ctx, types, cs->nfields, h->depth, h->op.node,
                                   err);
    free(types);
    if (rc == 0)
        h->spilling = true;
    return rc;
}

/* Builds the aggregate over spilled partition i (none when it is empty);
 * 0 or a negative code. */
int hashagg__open_partition(hashagg_op *h, int i, mr_err *err)
{
    if (mr_spill_parts_rows(&h->parts, i) == 0)
        return 0;
    mr_op *src = mr_spill_parts_source(&h->parts, i, h->op.child->schema, h->op.node, err);
    if (!src)
        return err ? err->code : MR_ENOMEM;
    mr_op *inner = hashagg__create_inner(h, src, err); /* over the same plan */
    if (!inner)
        return err ? err->code : MR_ENOMEM;
    h->inner = inner;
    return mr_op_open(inner, h->op.ctx, err);
}

