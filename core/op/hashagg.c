/* hashagg.c - hash aggregation: GROUP BY with count/sum/avg/min/max,
 * variance/stddev, bool_and/bool_or and string_agg, in
 * single, partial and final modes.
 *
 * Algorithm.  The operator drains its child first, then emits.  For each
 * input batch, vectorized in passes over the whole batch:
 *   1. make every key column dense (a column of the input batch when it has
 *      no selection vector, else a gathered copy), giving a "key view" batch
 *      whose row i is the i-th live input row;
 *   2. hash all rows with mr_hash_columns (the function the shuffle
 *      partitions with);
 *   3. probe the group table, appending a group for every new key, giving
 *      one group id per row;
 *   4. per aggregate, evaluate its argument over the batch (or take the
 *      column as is when the argument is a bare column) and update the
 *      per-group states in one tight loop per type.
 * When the child is done, groups are emitted in batches of MR_BATCH_ROWS,
 * in the order they were first seen.
 *
 * Group table: the shared open-addressing table of core/hashtab.h, whose
 * entry numbers are the group ids; its key columns are the stored group
 * keys.  The same structure, keyed on (group id, value), is the per-
 * aggregate set of seen values that count(distinct x) uses in SINGLE and
 * FINAL modes: a value counts when its (group, value) pair is new.
 *
 * States are arrays indexed by group id, grown by doubling as groups are
 * added and zeroed when grown (a zero state is the empty state: count 0, no
 * value yet).  Integer and decimal sums accumulate in 128-bit integers, so
 * they cannot overflow while adding (2^64 rows of int64 would be needed);
 * the range of the result type is checked when a sum is emitted, which makes
 * "integer overflow in sum" depend only on the total, not on row order.
 * Float sums are doubles.  Fixed-width min/max keep one value per group;
 * string min/max keep their bytes in a per-aggregate buffer where a shorter
 * or equal replacement overwrites in place and a longer one is appended,
 * and the buffer is compacted when more than half of it is dead.
 *
 * count(distinct x) in PARTIAL mode: the partial half groups by the group
 * columns and every distinct argument (so several count(distinct) and other
 * aggregates mix freely: the other states are just split further), and the
 * state column is the argument value; the final half counts distinct
 * non-NULL values per group with its set.
 *
 * Memory: the operator owns its child, the group table, the states, the
 * scratch columns and the output batch; close() frees them all.  No
 * allocation happens per row: stored keys, states and scratch grow by
 * doubling.  mr_hashagg_memory() reports the bytes held.
 *
 * Spilling (when the task's mr_exec_ctx has a budget).  After each input
 * batch the table's bytes are compared with the budget, once it holds at
 * least MIN_GROUPS groups (an empty table already has room for that many).
 *   PARTIAL: over budget, the table is emitted as it is and started afresh.
 *     That is a valid partial aggregate: the same group may leave a map
 *     task in several rows, and the final half merges them.
 *   FINAL and SINGLE (hybrid hash aggregation): over budget, the table
 *     stops taking new groups.  Rows of groups already in it are still
 *     aggregated; rows of other groups are written, as they came from the
 *     child, to one of MR_SPILL_FANOUT partitions picked by their key hash
 *     remixed per depth (core/spill.h), so the partitions split on other
 *     bits than the table's slots.  A group is thus either wholly in the
 *     table or wholly in one partition, which is what keeps every
 *     aggregate, count(distinct) included, exact; rows keep their order,
 *     so even float sums add up in the same order as without a budget.
 *     After the child ends the table is emitted and freed, and each
 *     partition is aggregated by a new operator of the same mode over a
 *     spill source, one depth deeper, sharing this operator's plan (nothing
 *     is parsed again); it may spill again.
 *     At MR_SPILL_MAX_DEPTH the operator no longer spills (it can only get
 *     there when groups are so large that MIN_GROUPS of them pass the
 *     budget) and works over budget.  Known limit: count(distinct) sets,
 *     string min/max and string_agg buffers grow within existing groups
 *     and are not bounded.
 *
 * Files: hashagg_plan.c builds the plan, hashagg_spill.c holds the
 * spilling, hashagg_stats.c the states of variance/stddev, bool_and/bool_or
 * and string_agg, this file the input, the states, the output and the lifecycle
 * (shared declarations in hashagg_int.h).
 */
#include "core/op/hashagg.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/op/hashagg_int.h"
#include "core/vec.h"

/* ---- Running state ------------------------------------------------------- */

static const mr_op_vtable hashagg_vt;

static bool agg_is_string_mm(const agg_def *d)
{
    return (d->kind == MR_AGG_MIN || d->kind == MR_AGG_MAX) && d->arg_type.id == MR_T_STRING;
}

/* Grows array *p of elem-byte items from old to cap items, zeroing the new
 * ones. */
static int grow_zero(void *pp, size_t elem, size_t old, size_t cap)
{
    void **p = pp;
    char *n = realloc(*p, cap * elem);
    if (!n)
        return MR_ENOMEM;
    memset(n + old * elem, 0, (cap - old) * elem);
    *p = n;
    return 0;
}

/* Makes every state array hold at least ngroups groups. */
static int states_reserve(hashagg_op *h, size_t ngroups)
{
    if (ngroups <= h->state_cap)
        return 0;
    size_t old = h->state_cap, cap = old ? old : 1024;
    while (cap < ngroups)
        cap *= 2;
    for (int i = 0; i < h->p->nagg; i++) {
        const agg_def *d = &h->p->aggs[i];
        agg_rt *rt = &h->rt[i];
        int rc = 0;
        switch (d->kind) {
        case MR_AGG_COUNT_STAR:
        case MR_AGG_COUNT: rc = grow_zero(&rt->count, 8, old, cap); break;
        case MR_AGG_COUNT_DISTINCT:
            if (h->mode != MR_AGG_PARTIAL)
                rc = grow_zero(&rt->count, 8, old, cap);
            break;
        case MR_AGG_SUM:
        case MR_AGG_AVG:
            if (hashagg__is_float_sum(d))
                rc = grow_zero(&rt->fsum, sizeof(double), old, cap);
            else
                rc = grow_zero(&rt->isum, sizeof(i128), old, cap);
            if (rc == 0)
                rc = d->kind == MR_AGG_AVG ? grow_zero(&rt->count, 8, old, cap)
                                           : grow_zero(&rt->has, 1, old, cap);
            break;
        case MR_AGG_MIN:
        case MR_AGG_MAX:
            rc = grow_zero(&rt->has, 1, old, cap);
            if (rc == 0 && agg_is_string_mm(d)) {
                rc = grow_zero(&rt->str.off, 8, old, cap);
                if (rc == 0)
                    rc = grow_zero(&rt->str.len, 4, old, cap);
            } else if (rc == 0) {
                rc = grow_zero(&rt->mm, mr_type_width(d->arg_type), old, cap);
            }
            break;
        case MR_AGG_VAR_SAMP:
        case MR_AGG_VAR_POP:
        case MR_AGG_STDDEV_SAMP:
        case MR_AGG_STDDEV_POP:
            rc = grow_zero(&rt->count, 8, old, cap);
            if (rc == 0)
                rc = grow_zero(&rt->fsum, sizeof(double), old, cap);
            if (rc == 0)
                rc = grow_zero(&rt->m2, sizeof(double), old, cap);
            break;
        case MR_AGG_BOOL_AND:
        case MR_AGG_BOOL_OR:
            rc = grow_zero(&rt->has, 1, old, cap);
            if (rc == 0)
                rc = grow_zero(&rt->mm, 1, old, cap);
            break;
        case MR_AGG_STRING_AGG:
            rc = grow_zero(&rt->has, 1, old, cap);
            if (rc == 0)
                rc = grow_zero(&rt->sa, sizeof(sagg), old, cap);
            break;
        case MR_AGG_APPROX_COUNT_DISTINCT: rc = grow_zero(&rt->sa, sizeof(sagg), old, cap); break;
        }
        if (rc < 0)
            return rc;
    }
    h->state_cap = cap;
    return 0;
}

int hashagg__scratch_reserve(hashagg_op *h, size_t n)
{
    if (n <= h->scratch_cap)
        return 0;
    size_t cap = h->scratch_cap ? h->scratch_cap : MR_BATCH_ROWS;
    while (cap < n)
        cap *= 2;
    void *a = realloc(h->hashes, cap * sizeof *h->hashes);
    if (!a)
        return MR_ENOMEM;
    h->hashes = a;
    if (!(a = realloc(h->hits, cap * sizeof *h->hits)))
        return MR_ENOMEM;
    h->hits = a;
    if (!(a = realloc(h->miss, cap * sizeof *h->miss)))
        return MR_ENOMEM;
    h->miss = a;
    if (!(a = realloc(h->gids, cap * sizeof *h->gids)))
        return MR_ENOMEM;
    h->gids = a;
    if (!(a = realloc(h->dids, cap * sizeof *h->dids)))
        return MR_ENOMEM;
    h->dids = a;
    if (!(a = realloc(h->dsel, cap * sizeof *h->dsel)))
        return MR_ENOMEM;
    h->dsel = a;
    if (!(a = realloc(h->isnew, cap)))
        return MR_ENOMEM;
    h->isnew = a;
    h->scratch_cap = cap;
    return mr_column_reserve(&h->dgid, cap);
}

/* Column c of in as a dense column (row i = i-th live row): the column
 * itself without a selection vector, else a gathered copy.  NULL when out
 * of memory. */
const mr_column *hashagg__dense_col(hashagg_op *h, const mr_batch *in, int c)
{
    const mr_column *src = &in->cols[c];
    if (!in->sel)
        return src;
    mr_column *dst = &h->gather[c];
    if (!dst->valid && mr_column_init(dst, src->type, in->nsel) < 0)
        return NULL;
    return mr_vec_gather_sel(dst, src, in) < 0 ? NULL : dst;
}

/* The argument of aggregate i over in, dense; NULL with err set. */
static const mr_column *agg_arg(hashagg_op *h, int i, const mr_batch *in, mr_err *err)
{
    const agg_def *d = &h->p->aggs[i];
    const mr_column *c;
    if (h->mode == MR_AGG_FINAL) {
        c = hashagg__dense_col(h, in, d->state_col);
    } else if (d->arg_col >= 0) {
        c = hashagg__dense_col(h, in, d->arg_col);
    } else {
        int rc = mr_expr_eval(d->arg, in, &h->rt[i].eval, err);
        if (rc < 0) {
            mr_err_prefix(err, "node '%s': %s", h->op.node, d->text);
            return NULL;
        }
        return &h->rt[i].eval;
    }
    if (!c)
        mr_err_oom(err, h->op.node);
    return c;
}

/* ---- State updates: one loop per aggregate and type over a batch -------- */

static void upd_count_rows(int64_t *count, const uint32_t *gids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        count[gids[i]]++;
}

static void upd_count_valid(int64_t *count, const mr_column *c, const uint32_t *gids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        count[gids[i]] += mr_column_is_valid(c, i);
}

/* FINAL: adds count states (never NULL when they come from PARTIAL). */
static void upd_count_add(int64_t *count, const mr_column *c, const uint32_t *gids, size_t n)
{
    const int64_t *v = MR_COL_I64(c);
    for (size_t i = 0; i < n; i++)
        if (mr_column_is_valid(c, i))
            count[gids[i]] += v[i];
}

/* Adds the non-NULL values of c (int32, int64-layout or float64). */
static void upd_sum(agg_rt *rt, const mr_column *c, const uint32_t *gids, size_t n)
{
    uint8_t *has = rt->has;
    switch (c->type.id) {
    case MR_T_INT32: {
        const int32_t *v = MR_COL_I32(c);
        for (size_t i = 0; i < n; i++)
            if (mr_column_is_valid(c, i)) {
                rt->isum[gids[i]] += v[i];
                if (has)
                    has[gids[i]] = 1;
            }
        break;
    }
    case MR_T_FLOAT64: {
        const double *v = MR_COL_F64(c);
        for (size_t i = 0; i < n; i++)
            if (mr_column_is_valid(c, i)) {
                rt->fsum[gids[i]] += v[i];
                if (has)
                    has[gids[i]] = 1;
            }
        break;
    }
    default: {
        const int64_t *v = MR_COL_I64(c);
        if (rt->fsum) { /* avg of int64: the state is a float sum */
            for (size_t i = 0; i < n; i++)
                if (mr_column_is_valid(c, i))
                    rt->fsum[gids[i]] += (double)v[i];
            break;
        }
        for (size_t i = 0; i < n; i++)
            if (mr_column_is_valid(c, i)) {
                rt->isum[gids[i]] += v[i];
                if (has)
                    has[gids[i]] = 1;
            }
        break;
    }
    }
}

/* avg of int32 keeps a float sum too. */
static void upd_sum_i32_to_f(agg_rt *rt, const mr_column *c, const uint32_t *gids, size_t n)
{
    const int32_t *v = MR_COL_I32(c);
    for (size_t i = 0; i < n; i++)
        if (mr_column_is_valid(c, i))
            rt->fsum[gids[i]] += v[i];
}

/* NaN sorts above every other float, as in PostgreSQL. */
#define LESS_NUM(a, b) ((a) < (b))
#define MORE_NUM(a, b) ((a) > (b))
#define LESS_F64(a, b) (!isnan(a) && (isnan(b) || (a) < (b)))
#define MORE_F64(a, b) (!isnan(b) && (isnan(a) || (a) > (b)))

#define MINMAX_LOOP(T, BETTER)                                                    \
    do {                                                                          \
        T *m = rt->mm;                                                            \
        const T *v = (const T *)c->data;                                          \
        for (size_t i = 0; i < n; i++) {                                          \
            if (!mr_column_is_valid(c, i))                                        \
                continue;                                                         \
            uint32_t g = gids[i];                                                 \
            if (!rt->has[g] || BETTER(v[i], m[g])) {                              \
                m[g] = v[i];                                                      \
                rt->has[g] = 1;                                                   \
            }                                                                     \
        }                                                                         \
    } while (0)

static int str_cmp(const char *a, size_t la, const char *b, size_t lb)
{
    int r = memcmp(a, b, la < lb ? la : lb);
    if (r)
        return r;
    return la < lb ? -1 : la > lb;
}

/* Rewrites the buffer with only the live strings. */
static int sstore_compact(sstore *s, const uint8_t *has, size_t ngroups)
{
    size_t live = s->used - s->garbage;
    char *nb = malloc(live ? live : 1);
    if (!nb)
        return MR_ENOMEM;
    size_t pos = 0;
    for (size_t g = 0; g < ngroups; g++)
        if (has[g]) {
            memcpy(nb + pos, s->buf + s->off[g], s->len[g]);
            s->off[g] = pos;
            pos += s->len[g];
        }
    free(s->buf);
    s->buf = nb;
    s->used = s->cap = pos;
    s->garbage = 0;
    return 0;
}

static int sstore_set(sstore *s, uint8_t *has, uint32_t g, const char *p, size_t n)
{
    if (has[g] && n <= s->len[g]) {
        memcpy(s->buf + s->off[g], p, n);
        s->garbage += s->len[g] - n;
        s->len[g] = (uint32_t)n;
        return 0;
    }
    if (s->used + n > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->used + n)
            cap *= 2;
        char *nb = realloc(s->buf, cap);
        if (!nb)
            return MR_ENOMEM;
        s->buf = nb;
        s->cap = cap;
    }
    if (has[g])
        s->garbage += s->len[g];
    if (n)
        memcpy(s->buf + s->used, p, n);
    s->off[g] = s->used;
    s->len[g] = (uint32_t)n;
    s->used += n;
    has[g] = 1;
    return 0;
}

static int upd_minmax_str(agg_rt *rt, bool is_max, const mr_column *c, const uint32_t *gids,
                          size_t n, size_t ngroups)
{
    sstore *s = &rt->str;
    for (size_t i = 0; i < n; i++) {
        if (!mr_column_is_valid(c, i))
            continue;
        uint32_t g = gids[i];
        size_t len;
        const char *p = mr_column_str(c, i, &len);
        if (rt->has[g]) {
            int r = str_cmp(p, len, s->buf + s->off[g], s->len[g]);
            if (is_max ? r <= 0 : r >= 0)
                continue;
        }
        if (sstore_set(s, rt->has, g, p, len) < 0)
            return MR_ENOMEM;
    }
    if (s->garbage > (1u << 20) && s->garbage * 2 > s->used)
        return sstore_compact(s, rt->has, ngroups);
    return 0;
}

static int upd_minmax(hashagg_op *h, int a, const mr_column *c, const uint32_t *gids, size_t n)
{
    const agg_def *d = &h->p->aggs[a];
    agg_rt *rt = &h->rt[a];
    bool is_max = d->kind == MR_AGG_MAX;
    switch (d->arg_type.id) {
    case MR_T_STRING: return upd_minmax_str(rt, is_max, c, gids, n, h->groups.n);
    case MR_T_BOOL:
        if (is_max)
            MINMAX_LOOP(uint8_t, MORE_NUM);
        else
            MINMAX_LOOP(uint8_t, LESS_NUM);
        break;
    case MR_T_INT32:
    case MR_T_DATE:
        if (is_max)
            MINMAX_LOOP(int32_t, MORE_NUM);
        else
            MINMAX_LOOP(int32_t, LESS_NUM);
        break;
    case MR_T_FLOAT64:
        if (is_max)
            MINMAX_LOOP(double, MORE_F64);
        else
            MINMAX_LOOP(double, LESS_F64);
        break;
    default:
        if (is_max)
            MINMAX_LOOP(int64_t, MORE_NUM);
        else
            MINMAX_LOOP(int64_t, LESS_NUM);
        break;
    }
    return 0;
}

/* count(distinct) in SINGLE/FINAL: inserts every non-NULL (group, value)
 * into the aggregate's set and counts the new pairs. */
static int upd_distinct(hashagg_op *h, int a, const mr_column *c, const uint32_t *gids, size_t n)
{
    agg_rt *rt = &h->rt[a];
    int64_t *g64 = MR_COL_I64(&h->dgid);
    size_t nsel = 0;
    for (size_t i = 0; i < n; i++) {
        g64[i] = gids[i];
        mr_column_set_valid(&h->dgid, i, true);
        if (mr_column_is_valid(c, i))
            h->dsel[nsel++] = (uint32_t)i;
    }
    mr_column cols[2] = {h->dgid, *c};
    mr_batch kv = {.ncols = 2, .cols = cols, .nrows = n, .cap = n, .sel = h->dsel, .nsel = nsel};
    static const int keys[2] = {0, 1};
    mr_hash_columns(&kv, keys, 2, h->hashes);
    int rc = mr_hashtab_probe(&rt->dset, cols, h->dsel, nsel, h->hashes, h->dids, h->isnew);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < nsel; i++)
        rt->count[gids[h->dsel[i]]] += h->isnew[i];
    return 0;
}

/* ---- Consuming input ----------------------------------------------------- */

int hashagg__oom(hashagg_op *h, mr_err *err)
{
    return mr_err_oom(err, h->op.node);
}

int hashagg__consume(hashagg_op *h, const mr_batch *in, mr_err *err)
{
    size_t n = mr_batch_live(in);
    if (n == 0)
        return 0;
    if (hashagg__scratch_reserve(h, n) < 0)
        return hashagg__oom(h, err);
    const plan *p = h->p;

    /* 1. Key view. */
    for (int k = 0; k < p->ngroup; k++) {
        int src = h->mode == MR_AGG_FINAL ? k : p->group_idx[k];
        const mr_column *c = hashagg__dense_col(h, in, src);
        if (!c)
            return hashagg__oom(h, err);
        h->kvcols[k] = *c;
    }
    /* Arguments, evaluated once; PARTIAL count(distinct) ones join the key. */
    const mr_column **args = h->args;
    for (int a = 0; a < p->nagg; a++) {
        args[a] = NULL;
        if (p->aggs[a].kind == MR_AGG_COUNT_STAR && h->mode != MR_AGG_FINAL)
            continue;
        args[a] = agg_arg(h, a, in, err);
        if (!args[a])
            return err ? err->code : MR_ENOMEM;
        if (h->mode == MR_AGG_PARTIAL && p->aggs[a].dkey >= 0)
            h->kvcols[p->aggs[a].dkey] = *args[a];
    }
    h->kv.nrows = n;
    h->kv.cap = n;

    /* 2 and 3. Hash and probe. */
    mr_hash_columns(&h->kv, h->kvidx, h->nkeys, h->hashes);
    int rc = mr_hashtab_probe(&h->groups, h->kvcols, NULL, n, h->hashes, h->gids, NULL);
    if (rc < 0)
        return rc == MR_ETOOBIG ? mr_err_set(err, rc, "node '%s': too many groups", h->op.node)
                                : hashagg__oom(h, err);
    if (states_reserve(h, h->groups.n) < 0)
        return hashagg__oom(h, err);

    /* 4. States. */
    const uint32_t *gids = h->gids;
    for (int a = 0; a < p->nagg; a++) {
        const agg_def *d = &p->aggs[a];
        agg_rt *rt = &h->rt[a];
        const mr_column *c = args[a];
        switch (d->kind) {
        case MR_AGG_COUNT_STAR:
        case MR_AGG_COUNT:
            if (h->mode == MR_AGG_FINAL)
                upd_count_add(rt->count, c, gids, n);
            else if (d->kind == MR_AGG_COUNT_STAR)
                upd_count_rows(rt->count, gids, n);
            else
                upd_count_valid(rt->count, c, gids, n);
            break;
        case MR_AGG_COUNT_DISTINCT:
            if (h->mode != MR_AGG_PARTIAL && (rc = upd_distinct(h, a, c, gids, n)) < 0)
                return rc == MR_ETOOBIG ? mr_err_set(err, rc, "node '%s': too many distinct values "
                                                              "in %s", h->op.node, d->text)
                                        : hashagg__oom(h, err);
            break;
        case MR_AGG_SUM: upd_sum(rt, c, gids, n); break;
        case MR_AGG_AVG:
            if (c->type.id == MR_T_INT32)
                upd_sum_i32_to_f(rt, c, gids, n);
            else
                upd_sum(rt, c, gids, n);
            if (h->mode == MR_AGG_FINAL) {
                const mr_column *cnt = hashagg__dense_col(h, in, d->state_col + 1);
                if (!cnt)
                    return hashagg__oom(h, err);
                upd_count_add(rt->count, cnt, gids, n);
            } else {
                upd_count_valid(rt->count, c, gids, n);
            }
            break;
        case MR_AGG_MIN:
        case MR_AGG_MAX:
            if (upd_minmax(h, a, c, gids, n) < 0)
                return hashagg__oom(h, err);
            break;
        case MR_AGG_VAR_SAMP:
        case MR_AGG_VAR_POP:
        case MR_AGG_STDDEV_SAMP:
        case MR_AGG_STDDEV_POP:
            if (h->mode == MR_AGG_FINAL) {
                const mr_column *mean = hashagg__dense_col(h, in, d->state_col + 1);
                const mr_column *m2 = mean ? hashagg__dense_col(h, in, d->state_col + 2) : NULL;
                if (!m2)
                    return hashagg__oom(h, err);
                hashagg__upd_var_merge(rt, c, mean, m2, gids, n);
            } else {
                hashagg__upd_var(rt, c, gids, n);
            }
            break;
        case MR_AGG_BOOL_AND:
        case MR_AGG_BOOL_OR: hashagg__upd_bool(rt, d->kind == MR_AGG_BOOL_AND, c, gids, n); break;
        case MR_AGG_STRING_AGG:
            if (hashagg__upd_sagg(rt, d, c, gids, n) < 0)
                return hashagg__oom(h, err);
            break;
        case MR_AGG_APPROX_COUNT_DISTINCT:
            rc = h->mode == MR_AGG_FINAL ? hashagg__upd_hll_merge(rt, c, gids, n)
                                         : hashagg__upd_hll(rt, c, gids, n);
            if (rc == MR_EPROTO)
                return mr_err_node(err, rc, h->op.node, "a partial approx_count_distinct "
                                   "state is not a sketch of this version");
            if (rc < 0)
                return hashagg__oom(h, err);
            break;
        }
    }
    return 0;
}

/* ---- Emitting groups ----------------------------------------------------- */

static void emit_count(mr_column *dst, const int64_t *count, size_t from, size_t m)
{
    memcpy(dst->data, count + from, m * sizeof *count);
    for (size_t j = 0; j < m; j++)
        mr_column_set_valid(dst, j, true);
}

/* A group has a sum when has[g] is set, or (for avg, has == NULL) when its
 * count is positive. */
static bool sum_present(const agg_rt *rt, size_t g)
{
    return rt->has ? rt->has[g] != 0 : rt->count[g] > 0;
}

static void emit_fsum(mr_column *dst, const agg_rt *rt, size_t from, size_t m)
{
    double *out = MR_COL_F64(dst);
    for (size_t j = 0; j < m; j++) {
        bool ok = sum_present(rt, from + j);
        out[j] = ok ? rt->fsum[from + j] : 0;
        mr_column_set_valid(dst, j, ok);
    }
}

/* Integer or decimal sums, checked against the range of the column type. */
static int emit_isum(hashagg_op *h, const agg_def *d, mr_column *dst, const agg_rt *rt,
                     size_t from, size_t m, mr_err *err)
{
    bool dec = dst->type.id == MR_T_DECIMAL;
    i128 hi = dec ? DEC18_MAX : INT64_MAX, lo = dec ? -DEC18_MAX : INT64_MIN;
    int64_t *out = MR_COL_I64(dst);
    for (size_t j = 0; j < m; j++) {
        size_t g = from + j;
        if (!sum_present(rt, g)) {
            out[j] = 0;
            mr_column_set_valid(dst, j, false);
            continue;
        }
        i128 v = rt->isum[g];
        if (v > hi || v < lo) {
            if (dec)
                return mr_err_set(err, MR_EOVERFLOW,
                                  "node '%s': numeric overflow in %s: the total does not fit "
                                  "decimal(18,%d)",
                                  h->op.node, d->text, dst->type.scale);
            return mr_err_set(err, MR_EOVERFLOW, "node '%s': integer overflow in %s",
                              h->op.node, d->text);
        }
        out[j] = (int64_t)v;
        mr_column_set_valid(dst, j, true);
    }
    return 0;
}

/* avg of decimal(p,s) as decimal(18,6), rounded half away from zero. */
static int emit_avg_dec(hashagg_op *h, const agg_def *d, mr_column *dst, const agg_rt *rt,
                        size_t from, size_t m, mr_err *err)
{
    int s = d->arg_type.scale;
    int64_t *out = MR_COL_I64(dst);
    for (size_t j = 0; j < m; j++) {
        size_t g = from + j;
        if (rt->count[g] <= 0) {
            out[j] = 0;
            mr_column_set_valid(dst, j, false);
            continue;
        }
        i128 num = rt->isum[g], den = rt->count[g];
        if (s <= 6)
            num *= mr_pow10[6 - s];
        else
            den *= mr_pow10[s - 6];
        bool neg = num < 0;
        if (neg)
            num = -num;
        i128 q = num / den, r = num % den;
        if (2 * r >= den)
            q++;
        if (q > DEC18_MAX)
            return mr_err_set(err, MR_EOVERFLOW,
                              "node '%s': numeric overflow in %s: the average does not fit "
                              "decimal(18,6)",
                              h->op.node, d->text);
        out[j] = (int64_t)(neg ? -q : q);
        mr_column_set_valid(dst, j, true);
    }
    return 0;
}

static void emit_avg_f(mr_column *dst, const agg_rt *rt, size_t from, size_t m)
{
    double *out = MR_COL_F64(dst);
    for (size_t j = 0; j < m; j++) {
        int64_t c = rt->count[from + j];
        out[j] = c > 0 ? rt->fsum[from + j] / (double)c : 0;
        mr_column_set_valid(dst, j, c > 0);
    }
}

static int emit_minmax(const agg_def *d, mr_column *dst, const agg_rt *rt, size_t from, size_t m)
{
    if (d->arg_type.id == MR_T_STRING) {
        for (size_t j = 0; j < m; j++) {
            size_t g = from + j;
            if (!rt->has[g])
                mr_column_set_str_null(dst, j);
            else if (mr_column_set_str(dst, j, rt->str.buf + rt->str.off[g], rt->str.len[g]) < 0)
                return MR_ENOMEM;
        }
        return 0;
    }
    size_t w = mr_type_width(d->arg_type);
    memcpy(dst->data, (const char *)rt->mm + from * w, m * w);
    for (size_t j = 0; j < m; j++)
        mr_column_set_valid(dst, j, rt->has[from + j] != 0);
    return 0;
}

/* Fills h->out with the next groups; MR_NEXT_BATCH, MR_NEXT_DONE or an
 * error. */
static int emit(hashagg_op *h, mr_batch **out, mr_err *err)
{
    size_t from = h->emit_pos;
    if (from >= h->groups.n)
        return MR_NEXT_DONE;
    size_t m = h->groups.n - from;
    if (m > MR_BATCH_ROWS)
        m = MR_BATCH_ROWS;
    mr_batch *b = h->out;
    mr_batch_reset(b);
    const plan *p = h->p;
    for (int k = 0; k < p->ngroup; k++)
        if (mr_vec_copy_range(&b->cols[k], 0, &h->groups.keys[k], from, m) < 0)
            return hashagg__oom(h, err);
    int col = p->ngroup;
    for (int a = 0; a < p->nagg; a++) {
        const agg_def *d = &p->aggs[a];
        const agg_rt *rt = &h->rt[a];
        mr_column *dst = &b->cols[col];
        int rc = 0;
        switch (d->kind) {
        case MR_AGG_COUNT_STAR:
        case MR_AGG_COUNT: emit_count(dst, rt->count, from, m); break;
        case MR_AGG_COUNT_DISTINCT:
            if (h->mode == MR_AGG_PARTIAL)
                rc = mr_vec_copy_range(dst, 0, &h->groups.keys[d->dkey], from, m) < 0
                         ? hashagg__oom(h, err)
                         : 0;
            else
                emit_count(dst, rt->count, from, m);
            break;
        case MR_AGG_SUM:
            if (rt->fsum)
                emit_fsum(dst, rt, from, m);
            else
                rc = emit_isum(h, d, dst, rt, from, m, err);
            break;
        case MR_AGG_AVG:
            if (h->mode == MR_AGG_PARTIAL) {
                if (rt->fsum)
                    emit_fsum(dst, rt, from, m);
                else
                    rc = emit_isum(h, d, dst, rt, from, m, err);
                emit_count(&b->cols[col + 1], rt->count, from, m);
            } else if (rt->fsum) {
                emit_avg_f(dst, rt, from, m);
            } else {
                rc = emit_avg_dec(h, d, dst, rt, from, m, err);
            }
            break;
        case MR_AGG_MIN:
        case MR_AGG_MAX:
            rc = emit_minmax(d, dst, rt, from, m) < 0 ? hashagg__oom(h, err) : 0;
            break;
        case MR_AGG_VAR_SAMP:
        case MR_AGG_VAR_POP:
        case MR_AGG_STDDEV_SAMP:
        case MR_AGG_STDDEV_POP:
            if (h->mode == MR_AGG_PARTIAL)
                hashagg__emit_var_state(dst, rt, from, m);
            else
                hashagg__emit_var(d->kind, dst, rt, from, m);
            break;
        case MR_AGG_BOOL_AND:
        case MR_AGG_BOOL_OR: hashagg__emit_bool(d->kind == MR_AGG_BOOL_AND, dst, rt, from, m); break;
        case MR_AGG_STRING_AGG:
            rc = hashagg__emit_sagg(dst, rt, from, m) < 0 ? hashagg__oom(h, err) : 0;
            break;
        case MR_AGG_APPROX_COUNT_DISTINCT:
            if (h->mode == MR_AGG_PARTIAL)
                rc = hashagg__emit_hll_state(dst, rt, from, m) < 0 ? hashagg__oom(h, err) : 0;
            else
                hashagg__emit_hll(dst, rt, from, m);
            break;
        }
        if (rc < 0)
            return rc;
        col += h->mode == MR_AGG_PARTIAL ? d->nstate : 1;
    }
    b->nrows = m;
    h->emit_pos += m;
    *out = b;
    return MR_NEXT_BATCH;
}

/* ---- Lifecycle ----------------------------------------------------------- */

static int hashagg_open(mr_op *op, mr_exec_ctx *ctx, mr_err *err)
{
    (void)ctx;
    hashagg_op *h = (hashagg_op *)op;
    const plan *p = h->p;
    const mr_schema *cs = op->child->schema;
    int ndistinct = 0;
    for (int a = 0; a < p->nagg; a++)
        ndistinct += p->aggs[a].kind == MR_AGG_COUNT_DISTINCT;
    h->nkeys = p->ngroup + (h->mode == MR_AGG_PARTIAL ? ndistinct : 0);
    size_t nk = h->nkeys ? (size_t)h->nkeys : 1;
    mr_type *types = malloc(nk * sizeof *types);
    h->kvcols = calloc(nk, sizeof *h->kvcols);
    h->kvidx = malloc(nk * sizeof *h->kvidx);
    h->rt = calloc(p->nagg ? (size_t)p->nagg : 1, sizeof *h->rt);
    h->args = calloc(p->nagg ? (size_t)p->nagg : 1, sizeof *h->args);
    h->gather = calloc(cs->nfields ? (size_t)cs->nfields : 1, sizeof *h->gather);
    h->ngather = h->gather ? cs->nfields : 0;
    h->opened = true;
    if (!types || !h->kvcols || !h->kvidx || !h->rt || !h->args || !h->gather)
        goto oom;
    for (int k = 0; k < p->ngroup; k++)
        types[k] = cs->fields[h->mode == MR_AGG_FINAL ? k : p->group_idx[k]].type;
    for (int a = 0; a < p->nagg; a++)
        if (h->mode == MR_AGG_PARTIAL && p->aggs[a].dkey >= 0)
            types[p->aggs[a].dkey] = p->aggs[a].arg_type;
    for (int k = 0; k < h->nkeys; k++)
        h->kvidx[k] = k;
    h->kv.ncols = h->nkeys;
    h->kv.cols = h->kvcols;
    if (mr_hashtab_init(&h->groups, types, h->nkeys) < 0)
        goto oom;
    for (int a = 0; a < p->nagg; a++) {
        const agg_def *d = &p->aggs[a];
        agg_rt *rt = &h->rt[a];
        if (d->arg && h->mode != MR_AGG_FINAL && d->arg_col < 0) {
            if (mr_column_init(&rt->eval, d->arg_type, MR_BATCH_ROWS) < 0)
                goto oom;
            rt->has_eval = true;
        }
        if (d->kind == MR_AGG_COUNT_DISTINCT && h->mode != MR_AGG_PARTIAL) {
            mr_type dt[2] = {mr_type_make(MR_T_INT64), d->arg_type};
            if (mr_hashtab_init(&rt->dset, dt, 2) < 0)
                goto oom;
            rt->has_dset = true;
        }
    }
    if (mr_column_init(&h->dgid, mr_type_make(MR_T_INT64), MR_BATCH_ROWS) < 0 ||
        hashagg__scratch_reserve(h, MR_BATCH_ROWS) < 0)
        goto oom;
    h->out = mr_batch_create(op->schema, 0);
    if (!h->out)
        goto oom;
    h->ktypes = types;
    return 0;
oom:
    h->ktypes = types;
    return hashagg__oom(h, err);
}

/* With no group_by, SINGLE and FINAL produce one row even for no input. */
static int add_empty_group(hashagg_op *h, mr_err *err)
{
    h->kv.nrows = 1;
    h->kv.cap = 1;
    mr_hash_columns(&h->kv, h->kvidx, 0, h->hashes);
    if (mr_hashtab_probe(&h->groups, h->kvcols, NULL, 1, h->hashes, h->gids, NULL) < 0 ||
        states_reserve(h, h->groups.n) < 0)
        return hashagg__oom(h, err);
    return 0;
}

/* Pulls child batches into the table until the input ends (ST_EMIT) or,
 * in PARTIAL mode, the table is over budget (ST_FLUSH). */
static int drain(hashagg_op *h, mr_err *err)
{
    for (;;) {
        mr_batch *b = NULL;
        int rc = mr_op_next(h->op.child, &b, err);
        if (rc < 0)
            return rc;
        if (rc == MR_NEXT_DONE)
            break;
        rc = h->spilling ? hashagg__consume_spilling(h, b, err) : hashagg__consume(h, b, err);
        if (rc < 0)
            return rc;
        if (h->spilling || !hashagg__over_budget(h))
            continue;
        if (h->mode == MR_AGG_PARTIAL) {
            h->state = ST_FLUSH;
            return 0;
        }
        if (h->p->ngroup > 0 && h->depth < MR_SPILL_MAX_DEPTH &&
            (rc = hashagg__start_spilling(h, err)) < 0)
            return rc;
    }
    if (h->mode != MR_AGG_PARTIAL && h->p->ngroup == 0 && h->groups.n == 0) {
        int rc = add_empty_group(h, err);
        if (rc < 0)
            return rc;
    }
    h->state = ST_EMIT;
    return 0;
}

/* The state machine: DRAIN -> (PARTIAL over budget: FLUSH -> DRAIN) ->
 * EMIT -> (spilled: PARTS, one partition after the other) -> DONE. */
static int hashagg_next(mr_op *op, mr_batch **out, mr_err *err)
{
    hashagg_op *h = (hashagg_op *)op;
    for (;;) {
        int rc;
        switch (h->state) {
        case ST_DRAIN:
            if ((rc = drain(h, err)) < 0)
                return rc;
            break;
        case ST_FLUSH:
        case ST_EMIT:
            if ((rc = emit(h, out, err)) != MR_NEXT_DONE)
                return rc;
            if (h->state == ST_FLUSH) {
                if (hashagg__table_reset(h) < 0)
                    return hashagg__oom(h, err);
                h->state = ST_DRAIN;
            } else if (h->spilling) {
                if (hashagg__table_reset(h) < 0) /* give the memory back for the partitions */
                    return hashagg__oom(h, err);
                h->state = ST_PARTS;
            } else {
                h->state = ST_DONE;
            }
            break;
        case ST_PARTS:
            if (h->inner) {
                if ((rc = mr_op_next(h->inner, out, err)) != MR_NEXT_DONE)
                    return rc;
                mr_op_close(h->inner);
                h->inner = NULL;
            } else if (h->part_next < h->parts.n) {
                if ((rc = hashagg__open_partition(h, h->part_next++, err)) < 0)
                    return rc;
            } else {
                mr_spill_parts_free(&h->parts);
                h->state = ST_DONE;
            }
            break;
        default: return MR_NEXT_DONE;
        }
    }
}

static void rt_free(agg_rt *rt, size_t ngroups)
{
    hashagg__sagg_free(rt, ngroups);
    free(rt->count);
    free(rt->isum);
    free(rt->fsum);
    free(rt->m2);
    free(rt->has);
    free(rt->mm);
    free(rt->str.buf);
    free(rt->str.off);
    free(rt->str.len);
    if (rt->has_dset)
        mr_hashtab_free(&rt->dset);
    if (rt->has_eval)
        mr_column_free(&rt->eval);
}

static void hashagg_close(mr_op *op)
{
    hashagg_op *h = (hashagg_op *)op;
    mr_op_close(h->inner);
    mr_spill_parts_free(&h->parts);
    free(h->ktypes);
    free(h->hits);
    free(h->miss);
    if (h->rt)
        for (int a = 0; a < h->p->nagg; a++)
            rt_free(&h->rt[a], h->state_cap);
    free(h->rt);
    for (int c = 0; c < h->ngather; c++) /* the child is closed by now */
        mr_column_free(&h->gather[c]);
    free(h->gather);
    mr_hashtab_free(&h->groups);
    mr_column_free(&h->dgid);
    free(h->hashes);
    free(h->gids);
    free(h->dids);
    free(h->dsel);
    free(h->isnew);
    free(h->kvcols);
    free(h->kvidx);
    free(h->args);
    mr_batch_destroy(h->out);
    hashagg__plan_release(h->p);
    mr_schema_destroy(op->schema);
    free(h);
}

static const mr_op_vtable hashagg_vt = {"hashagg", hashagg_open, hashagg_next, hashagg_close};

/* Whether child rows have the column types the plan expects. */
static int check_input(const mr_op *op, const mr_schema *want, mr_err *err)
{
    const mr_schema *got = op->child->schema;
    if (got->nfields != want->nfields)
        return mr_err_set(err, MR_EINVAL, "node '%s': input has %d columns, expected %d",
                          op->node, got->nfields, want->nfields);
    for (int i = 0; i < want->nfields; i++)
        if (!mr_type_equal(got->fields[i].type, want->fields[i].type)) {
            char a[48], b[48];
            return mr_err_set(err, MR_ETYPE, "node '%s': input column %d ('%s') is %s, expected %s",
                              op->node, i + 1, got->fields[i].name,
                              mr_type_name(got->fields[i].type, a, sizeof a),
                              mr_type_name(want->fields[i].type, b, sizeof b));
        }
    return 0;
}

mr_op *mr_hashagg_create(mr_op *child, mr_agg_mode mode, const char *const *group_by, int ngroup,
                         const char *const *agg_names, const char *const *agg_exprs, int nagg,
                         const mr_schema *agg_input, const char *node, mr_err *err)
{
    if (!child) {
        mr_err_set(err, MR_EINVAL, "node '%s': aggregate without an input", node ? node : "");
        return NULL;
    }
    hashagg_op *h = calloc(1, sizeof *h);
    if (!h) {
        mr_op_close(child);
        mr_err_oom(err, node);
        return NULL;
    }
    mr_op_init(&h->op, &hashagg_vt, child, node);
    h->mode = mode;
    mr_schema *state = NULL;
    char where[sizeof h->op.node + 16];
    snprintf(where, sizeof where, "node '%s': ", h->op.node);
    if (!(h->p = calloc(1, sizeof *h->p)))
        goto oom;
    int rc = hashagg__plan_build(h->p, agg_input, group_by, ngroup, agg_names, agg_exprs, nagg,
                                 where, err);
    h->p->refs = 1; /* plan_build starts from a zeroed plan */
    if (rc < 0)
        goto fail;
    state = hashagg__plan_state_schema(h->p, agg_input, where, err);
    if (!state || check_input(&h->op, mode == MR_AGG_FINAL ? state : agg_input, err) < 0)
        goto fail;
    if (mode == MR_AGG_PARTIAL) {
        h->op.schema = state;
        return &h->op;
    }
    h->op.schema = mr_schema_create(ngroup + nagg);
    if (!h->op.schema)
        goto oom;
    for (int g = 0; g < ngroup; g++)
        if (mr_schema_set(h->op.schema, g, state->fields[g].name, state->fields[g].type) < 0)
            goto oom;
    for (int a = 0; a < nagg; a++)
        if (mr_schema_set(h->op.schema, ngroup + a, h->p->aggs[a].name, h->p->aggs[a].result) < 0)
            goto oom;
    mr_schema_destroy(state);
    return &h->op;
oom:
    mr_err_oom(err, h->op.node);
fail:
    mr_schema_destroy(state);
    mr_op_close(&h->op);
    return NULL;
}

mr_op *hashagg__create_inner(hashagg_op *outer, mr_op *child, mr_err *err)
{
    hashagg_op *h = calloc(1, sizeof *h);
    if (!h) {
        mr_op_close(child);
        hashagg__oom(outer, err);
        return NULL;
    }
    mr_op_init(&h->op, &hashagg_vt, child, outer->op.node);
    h->mode = outer->mode;
    h->depth = outer->depth + 1;
    h->p = outer->p;
    h->p->refs++;
    if (!(h->op.schema = mr_schema_copy(outer->op.schema))) {
        mr_op_close(&h->op);
        hashagg__oom(outer, err);
        return NULL;
    }
    return &h->op;
}

size_t mr_hashagg_memory(const mr_op *op)
{
    if (!op || op->vt != &hashagg_vt)
        return 0;
    const hashagg_op *h = (const hashagg_op *)op;
    if (!h->opened || !h->rt)
        return 0;
    size_t b = mr_hashtab_bytes(&h->groups);
    size_t cap = h->state_cap;
    for (int a = 0; a < h->p->nagg; a++) {
        const agg_def *d = &h->p->aggs[a];
        const agg_rt *rt = &h->rt[a];
        if (rt->count)
            b += cap * sizeof *rt->count;
        if (rt->isum)
            b += cap * sizeof *rt->isum;
        if (rt->fsum)
            b += cap * sizeof *rt->fsum;
        if (rt->m2)
            b += cap * sizeof *rt->m2;
        if (rt->has)
            b += cap;
        if (rt->mm)
            b += cap * (d->kind == MR_AGG_BOOL_AND || d->kind == MR_AGG_BOOL_OR
                            ? 1
                            : mr_type_width(d->arg_type));
        if (rt->str.off)
            b += cap * (sizeof *rt->str.off + sizeof *rt->str.len) + rt->str.cap;
        if (rt->has_dset)
            b += mr_hashtab_bytes(&rt->dset);
        if (rt->sa)
            b += cap * sizeof *rt->sa + rt->sa_bytes;
    }
    return b;
}
