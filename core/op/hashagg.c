/* hashagg.c - hash aggregation: GROUP BY with count/sum/avg/min/max, in
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
 *     partition is aggregated by a new operator of the same mode and
 *     arguments over a spill source, one depth deeper; it may spill again.
 *     At MR_SPILL_MAX_DEPTH the operator no longer spills (it can only get
 *     there when groups are so large that MIN_GROUPS of them pass the
 *     budget) and works over budget.  Known limit: count(distinct) sets
 *     and string min/max grow within existing groups and are not bounded.
 */
#include "core/op/hashagg.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/hashtab.h"
#include "core/spill.h"
#include "core/vec.h"

__extension__ typedef __int128 i128;

#define DEC18_MAX 999999999999999999LL /* largest decimal(18,s) magnitude */

/* ---- Plan: parsed aggregates and schemas --------------------------------- */

typedef struct agg_def {
    mr_agg_kind kind;
    char *name;      /* output name */
    char *text;      /* the aggregate as written, for messages */
    mr_expr *arg;    /* bound against agg_input; NULL for count(*) */
    mr_type arg_type;
    mr_type result;
    int nstate;      /* state columns in the state schema */
    int state_col;   /* first of them, counting the group columns */
    int arg_col;     /* agg_input column when arg is a bare column, else -1 */
    int dkey;        /* PARTIAL count(distinct): its key column in the group table */
} agg_def;

typedef struct plan {
    int ngroup, nagg;
    int *group_idx;  /* group column indices in agg_input */
    agg_def *aggs;
} plan;

static void plan_free(plan *p)
{
    if (p->aggs)
        for (int i = 0; i < p->nagg; i++) {
            free(p->aggs[i].name);
            free(p->aggs[i].text);
            mr_expr_destroy(p->aggs[i].arg);
        }
    free(p->aggs);
    free(p->group_idx);
    memset(p, 0, sizeof *p);
}

static bool is_float_sum(const agg_def *d)
{
    return d->arg_type.id != MR_T_DECIMAL && (d->kind == MR_AGG_AVG || d->result.id == MR_T_FLOAT64);
}

/* Type of avg's sum state. */
static mr_type avg_sum_type(const agg_def *d)
{
    return d->arg_type.id == MR_T_DECIMAL ? mr_type_decimal(MR_DECIMAL_MAX_PRECISION, d->arg_type.scale)
                                          : mr_type_make(MR_T_FLOAT64);
}

/* Parses, binds and types the aggregates and resolves the group columns.
 * Messages start with where ("node 'x': ", or "" outside an operator). */
static int plan_build(plan *p, const mr_schema *in, const char *const *group_by, int ngroup,
                      const char *const *names, const char *const *exprs, int nagg,
                      const char *where, mr_err *err)
{
    memset(p, 0, sizeof *p);
    if (ngroup < 0 || nagg < 0 || ngroup + nagg == 0)
        return mr_err_set(err, MR_EINVAL,
                          "%san aggregate needs a group column or an aggregate", where);
    p->ngroup = ngroup;
    p->nagg = nagg;
    p->group_idx = calloc(ngroup ? (size_t)ngroup : 1, sizeof *p->group_idx);
    p->aggs = calloc(nagg ? (size_t)nagg : 1, sizeof *p->aggs);
    if (!p->group_idx || !p->aggs)
        return mr_err_set(err, MR_ENOMEM, "%sout of memory", where);
    for (int g = 0; g < ngroup; g++) {
        p->group_idx[g] = mr_schema_find(in, group_by[g]);
        if (p->group_idx[g] < 0)
            return mr_err_set(err, MR_ENOTFOUND, "%sgroup_by column '%s' not found",
                              where, group_by[g]);
    }
    /* Output names: group columns then aggregates, all distinct. */
    for (int i = 0; i < ngroup + nagg; i++) {
        const char *a = i < ngroup ? group_by[i] : names[i - ngroup];
        for (int j = 0; j < i; j++) {
            const char *b = j < ngroup ? group_by[j] : names[j - ngroup];
            if (strcmp(a, b) == 0)
                return mr_err_set(err, MR_EINVAL, "%soutput column '%s' appears twice",
                                  where, a);
        }
    }
    int state_col = ngroup, dkey = ngroup;
    for (int i = 0; i < nagg; i++) {
        agg_def *d = &p->aggs[i];
        d->arg_col = -1;
        d->dkey = -1;
        d->name = strdup(names[i]);
        d->text = strdup(exprs[i]);
        if (!d->name || !d->text)
            return mr_err_set(err, MR_ENOMEM, "%sout of memory", where);
        int rc = mr_agg_parse(exprs[i], &d->kind, &d->arg, err);
        if (rc == 0 && d->arg) {
            rc = mr_expr_bind(d->arg, in, err);
            /* bind offsets are into the argument; make them whole-text */
            if (rc < 0 && err && err->offset >= 0)
                err->offset += mr_agg_arg_offset(exprs[i]);
        }
        if (rc < 0) {
            int off = err ? err->offset : -1;
            mr_err_prefix(err, "%saggregate '%s' (%s)", where, d->name, d->text);
            if (err)
                err->offset = off;
            return rc;
        }
        d->arg_type = d->arg ? mr_expr_type(d->arg) : mr_type_make(MR_T_INT64);
        rc = mr_agg_result_type(d->kind, d->arg_type, &d->result, err);
        if (rc < 0) {
            mr_err_prefix(err, "%saggregate '%s' (%s)", where, d->name, d->text);
            return rc;
        }
        if (d->arg && mr_expr_column_name(d->arg))
            d->arg_col = mr_schema_find(in, mr_expr_column_name(d->arg));
        d->state_col = state_col;
        d->nstate = d->kind == MR_AGG_AVG ? 2 : 1;
        state_col += d->nstate;
        if (d->kind == MR_AGG_COUNT_DISTINCT)
            d->dkey = dkey++;
    }
    return 0;
}

/* The state schema of a built plan (see hashagg.h). */
static mr_schema *plan_state_schema(const plan *p, const mr_schema *in, const char *where,
                                    mr_err *err)
{
    int n = p->ngroup;
    for (int i = 0; i < p->nagg; i++)
        n += p->aggs[i].nstate;
    mr_schema *s = mr_schema_create(n);
    if (!s)
        goto oom;
    for (int g = 0; g < p->ngroup; g++)
        if (mr_schema_set(s, g, in->fields[p->group_idx[g]].name,
                          in->fields[p->group_idx[g]].type) < 0)
            goto oom;
    for (int i = 0; i < p->nagg; i++) {
        const agg_def *d = &p->aggs[i];
        const char *suffix = "$count";
        mr_type t = mr_type_make(MR_T_INT64);
        switch (d->kind) {
        case MR_AGG_COUNT_STAR:
        case MR_AGG_COUNT: break;
        case MR_AGG_COUNT_DISTINCT: suffix = "$value"; t = d->arg_type; break;
        case MR_AGG_SUM: suffix = "$sum"; t = d->result; break;
        case MR_AGG_AVG: suffix = "$sum"; t = avg_sum_type(d); break;
        case MR_AGG_MIN: suffix = "$min"; t = d->arg_type; break;
        case MR_AGG_MAX: suffix = "$max"; t = d->arg_type; break;
        }
        size_t len = strlen(d->name) + 8;
        char *nm = malloc(len);
        if (!nm)
            goto oom;
        snprintf(nm, len, "%s%s", d->name, suffix);
        int rc = mr_schema_set(s, d->state_col, nm, t);
        if (rc == 0 && d->kind == MR_AGG_AVG) {
            snprintf(nm, len, "%s$count", d->name);
            rc = mr_schema_set(s, d->state_col + 1, nm, mr_type_make(MR_T_INT64));
        }
        free(nm);
        if (rc < 0)
            goto oom;
    }
    return s;
oom:
    mr_schema_destroy(s);
    mr_err_set(err, MR_ENOMEM, "%sout of memory", where);
    return NULL;
}

mr_schema *mr_hashagg_state_schema(const mr_schema *agg_input, const char *const *group_by,
                                   int ngroup, const char *const *agg_names,
                                   const char *const *agg_exprs, int nagg, mr_err *err)
{
    plan p;
    mr_schema *s = NULL;
    if (plan_build(&p, agg_input, group_by, ngroup, agg_names, agg_exprs, nagg, "", err) == 0)
        s = plan_state_schema(&p, agg_input, "", err);
    plan_free(&p);
    return s;
}

/* ---- Running state ------------------------------------------------------- */

/* String bytes of string min/max, one live string per group. */
typedef struct sstore {
    char *buf;
    size_t used, cap, garbage;
    uint64_t *off; /* per group */
    uint32_t *len; /* per group */
} sstore;

typedef struct agg_rt {
    int64_t *count; /* count, count(distinct), avg's count */
    i128 *isum;     /* integer and decimal sums */
    double *fsum;   /* float sums */
    uint8_t *has;   /* sum, min, max: the group saw a non-NULL value */
    void *mm;       /* fixed-width min/max, one value per group */
    sstore str;     /* string min/max */
    mr_hashtab dset;        /* count(distinct) in SINGLE/FINAL: seen (group, value) */
    bool has_dset;
    mr_column eval; /* the argument evaluated over the current batch */
    bool has_eval;
} agg_rt;

/* The constructor's arguments, kept to build the operator that aggregates
 * one spilled partition. */
typedef struct agg_args {
    char **group_by, **names, **exprs;
    int ngroup, nagg;
    mr_schema *input;
} agg_args;

/* Where next() is (see "Spilling" in the header comment). */
enum { ST_DRAIN, ST_FLUSH, ST_EMIT, ST_PARTS, ST_DONE };

typedef struct hashagg_op {
    mr_op op;
    mr_agg_mode mode;
    plan p;
    agg_args args_copy;
    int state;
    int depth;            /* spill recursion depth: 0 for the DAG's operator */
    bool spilling;        /* new groups go to the partitions, not the table */
    mr_spill_parts parts; /* FINAL/SINGLE: the spilled input rows */
    int part_next;        /* next partition to aggregate */
    mr_op *inner;         /* the aggregate of the partition being read */
    mr_type *ktypes;      /* key column types of the group table */
    uint32_t *hits, *miss;/* spilling: rows of known / new groups */
    mr_schema *in_schema; /* child's schema */
    bool opened;
    mr_hashtab groups;
    int nkeys;            /* key columns of the group table */
    agg_rt *rt;
    size_t state_cap;     /* groups allocated in every state array */
    /* scratch for one input batch */
    size_t scratch_cap;
    uint64_t *hashes;
    uint32_t *gids, *dids, *dsel;
    uint8_t *isnew;
    mr_column dgid;       /* int64 group ids for the distinct sets */
    mr_column *gather;    /* per child column, gathered copies (lazy) */
    mr_batch kv;          /* key view; cols points at kvcols */
    mr_column *kvcols;
    int *kvidx;           /* 0..nkeys-1, for mr_hash_columns */
    const mr_column **args; /* per aggregate, its dense argument this batch */
    /* output */
    mr_batch *out;
    size_t emit_pos;
} hashagg_op;

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
    for (int i = 0; i < h->p.nagg; i++) {
        const agg_def *d = &h->p.aggs[i];
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
            if (is_float_sum(d))
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
        }
        if (rc < 0)
            return rc;
    }
    h->state_cap = cap;
    return 0;
}

static int scratch_reserve(hashagg_op *h, size_t n)
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
static const mr_column *dense_col(hashagg_op *h, const mr_batch *in, int c)
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
    const agg_def *d = &h->p.aggs[i];
    const mr_column *c;
    if (h->mode == MR_AGG_FINAL) {
        c = dense_col(h, in, d->state_col);
    } else if (d->arg_col >= 0) {
        c = dense_col(h, in, d->arg_col);
    } else {
        int rc = mr_expr_eval(d->arg, in, &h->rt[i].eval, err);
        if (rc < 0) {
            mr_err_prefix(err, "node '%s': %s", h->op.node, d->text);
            return NULL;
        }
        return &h->rt[i].eval;
    }
    if (!c)
        mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", h->op.node);
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
    const agg_def *d = &h->p.aggs[a];
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

static int oom(hashagg_op *h, mr_err *err)
{
    return mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", h->op.node);
}

static int consume(hashagg_op *h, const mr_batch *in, mr_err *err)
{
    size_t n = mr_batch_live(in);
    if (n == 0)
        return 0;
    if (scratch_reserve(h, n) < 0)
        return oom(h, err);
    const plan *p = &h->p;

    /* 1. Key view. */
    for (int k = 0; k < p->ngroup; k++) {
        int src = h->mode == MR_AGG_FINAL ? k : p->group_idx[k];
        const mr_column *c = dense_col(h, in, src);
        if (!c)
            return oom(h, err);
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
                                : oom(h, err);
    if (states_reserve(h, h->groups.n) < 0)
        return oom(h, err);

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
                                        : oom(h, err);
            break;
        case MR_AGG_SUM: upd_sum(rt, c, gids, n); break;
        case MR_AGG_AVG:
            if (c->type.id == MR_T_INT32)
                upd_sum_i32_to_f(rt, c, gids, n);
            else
                upd_sum(rt, c, gids, n);
            if (h->mode == MR_AGG_FINAL) {
                const mr_column *cnt = dense_col(h, in, d->state_col + 1);
                if (!cnt)
                    return oom(h, err);
                upd_count_add(rt->count, cnt, gids, n);
            } else {
                upd_count_valid(rt->count, c, gids, n);
            }
            break;
        case MR_AGG_MIN:
        case MR_AGG_MAX:
            if (upd_minmax(h, a, c, gids, n) < 0)
                return oom(h, err);
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
    const plan *p = &h->p;
    for (int k = 0; k < p->ngroup; k++)
        if (mr_vec_copy_range(&b->cols[k], 0, &h->groups.keys[k], from, m) < 0)
            return oom(h, err);
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
                rc = mr_vec_copy_range(dst, 0, &h->groups.keys[d->dkey], from, m) < 0 ? oom(h, err) : 0;
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
            rc = emit_minmax(d, dst, rt, from, m) < 0 ? oom(h, err) : 0;
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
    const plan *p = &h->p;
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
        scratch_reserve(h, MR_BATCH_ROWS) < 0)
        goto oom;
    h->out = mr_batch_create(op->schema, 0);
    if (!h->out)
        goto oom;
    h->ktypes = types;
    return 0;
oom:
    h->ktypes = types;
    return oom(h, err);
}

/* With no group_by, SINGLE and FINAL produce one row even for no input. */
static int add_empty_group(hashagg_op *h, mr_err *err)
{
    h->kv.nrows = 1;
    h->kv.cap = 1;
    mr_hash_columns(&h->kv, h->kvidx, 0, h->hashes);
    if (mr_hashtab_probe(&h->groups, h->kvcols, NULL, 1, h->hashes, h->gids, NULL) < 0 ||
        states_reserve(h, h->groups.n) < 0)
        return oom(h, err);
    return 0;
}

/* ---- Spilling ------------------------------------------------------------ */

/* Frees the states and the group table and starts them afresh (PARTIAL
 * after an early flush; FINAL/SINGLE before reading partitions). */
static int table_reset(hashagg_op *h)
{
    for (int a = 0; a < h->p.nagg; a++) {
        agg_rt *rt = &h->rt[a];
        free(rt->count);
        free(rt->isum);
        free(rt->fsum);
        free(rt->has);
        free(rt->mm);
        free(rt->str.buf);
        free(rt->str.off);
        free(rt->str.len);
        rt->count = NULL;
        rt->isum = NULL;
        rt->fsum = NULL;
        rt->has = NULL;
        rt->mm = NULL;
        memset(&rt->str, 0, sizeof rt->str);
        if (rt->has_dset) {
            mr_type dt[2] = {mr_type_make(MR_T_INT64), h->p.aggs[a].arg_type};
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
static bool over_budget(const hashagg_op *h)
{
    const mr_exec_ctx *x = h->op.ctx;
    return x && x->memory_budget && h->groups.n >= MIN_GROUPS &&
           mr_hashagg_memory(&h->op) > x->memory_budget;
}

/* While spilling: rows of groups already in the table are aggregated as
 * usual; the others go to the partition their key hash picks. */
static int consume_spilling(hashagg_op *h, const mr_batch *in, mr_err *err)
{
    size_t n = mr_batch_live(in);
    if (n == 0)
        return 0;
    if (scratch_reserve(h, n) < 0)
        return oom(h, err);
    const plan *p = &h->p;
    for (int k = 0; k < p->ngroup; k++) {
        const mr_column *c = dense_col(h, in, h->mode == MR_AGG_FINAL ? k : p->group_idx[k]);
        if (!c)
            return oom(h, err);
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
    return consume(h, &view, err);
}

/* FINAL/SINGLE over budget: from now on new groups spill. */
static int start_spilling(hashagg_op *h, mr_err *err)
{
    const mr_schema *cs = h->op.child->schema;
    mr_type *types = malloc((cs->nfields ? (size_t)cs->nfields : 1) * sizeof *types);
    if (!types)
        return oom(h, err);
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
static int open_partition(hashagg_op *h, int i, mr_err *err)
{
    if (mr_spill_parts_rows(&h->parts, i) == 0)
        return 0;
    mr_op *src = mr_spill_parts_source(&h->parts, i, h->op.child->schema, h->op.node, err);
    if (!src)
        return err ? err->code : MR_ENOMEM;
    const agg_args *a = &h->args_copy;
    mr_op *inner = mr_hashagg_create(src, h->mode, (const char *const *)a->group_by, a->ngroup,
                                     (const char *const *)a->names, (const char *const *)a->exprs,
                                     a->nagg, a->input, h->op.node, err);
    if (!inner)
        return err ? err->code : MR_ENOMEM;
    ((hashagg_op *)inner)->depth = h->depth + 1;
    h->inner = inner;
    return mr_op_open(inner, h->op.ctx, err);
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
        rc = h->spilling ? consume_spilling(h, b, err) : consume(h, b, err);
        if (rc < 0)
            return rc;
        if (h->spilling || !over_budget(h))
            continue;
        if (h->mode == MR_AGG_PARTIAL) {
            h->state = ST_FLUSH;
            return 0;
        }
        if (h->p.ngroup > 0 && h->depth < MR_SPILL_MAX_DEPTH && (rc = start_spilling(h, err)) < 0)
            return rc;
    }
    if (h->mode != MR_AGG_PARTIAL && h->p.ngroup == 0 && h->groups.n == 0) {
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
                if (table_reset(h) < 0)
                    return oom(h, err);
                h->state = ST_DRAIN;
            } else if (h->spilling) {
                if (table_reset(h) < 0) /* give the memory back for the partitions */
                    return oom(h, err);
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
                if ((rc = open_partition(h, h->part_next++, err)) < 0)
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

static void args_free(agg_args *a)
{
    for (int i = 0; a->group_by && i < a->ngroup; i++)
        free(a->group_by[i]);
    for (int i = 0; a->names && i < a->nagg; i++)
        free(a->names[i]);
    for (int i = 0; a->exprs && i < a->nagg; i++)
        free(a->exprs[i]);
    free(a->group_by);
    free(a->names);
    free(a->exprs);
    mr_schema_destroy(a->input);
    memset(a, 0, sizeof *a);
}

static char **strs_copy(const char *const *v, int n)
{
    char **c = calloc(n > 0 ? (size_t)n : 1, sizeof *c);
    for (int i = 0; c && i < n; i++)
        if (!(c[i] = strdup(v[i] ? v[i] : ""))) {
            for (int k = 0; k < i; k++)
                free(c[k]);
            free(c);
            return NULL;
        }
    return c;
}

static int args_copy(agg_args *a, const char *const *group_by, int ngroup,
                     const char *const *names, const char *const *exprs, int nagg,
                     const mr_schema *input)
{
    memset(a, 0, sizeof *a);
    a->ngroup = ngroup; /* args_free skips an array that is NULL */
    a->nagg = nagg;
    a->group_by = strs_copy(group_by, ngroup);
    a->names = strs_copy(names, nagg);
    a->exprs = strs_copy(exprs, nagg);
    a->input = mr_schema_copy(input);
    if (!a->group_by || !a->names || !a->exprs || !a->input) {
        args_free(a);
        return MR_ENOMEM;
    }
    return 0;
}

static void rt_free(agg_rt *rt)
{
    free(rt->count);
    free(rt->isum);
    free(rt->fsum);
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
    args_free(&h->args_copy);
    free(h->ktypes);
    free(h->hits);
    free(h->miss);
    if (h->rt)
        for (int a = 0; a < h->p.nagg; a++)
            rt_free(&h->rt[a]);
    free(h->rt);
    if (h->gather && op->child)
        for (int c = 0; c < op->child->schema->nfields; c++)
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
    plan_free(&h->p);
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
        mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", node ? node : "");
        return NULL;
    }
    mr_op_init(&h->op, &hashagg_vt, child, node);
    h->mode = mode;
    mr_schema *state = NULL;
    char where[sizeof h->op.node + 16];
    snprintf(where, sizeof where, "node '%s': ", h->op.node);
    if (plan_build(&h->p, agg_input, group_by, ngroup, agg_names, agg_exprs, nagg, where, err) < 0)
        goto fail;
    if (args_copy(&h->args_copy, group_by, ngroup, agg_names, agg_exprs, nagg, agg_input) < 0)
        goto oom;
    state = plan_state_schema(&h->p, agg_input, where, err);
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
        if (mr_schema_set(h->op.schema, ngroup + a, h->p.aggs[a].name, h->p.aggs[a].result) < 0)
            goto oom;
    mr_schema_destroy(state);
    return &h->op;
oom:
    mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", h->op.node);
fail:
    mr_schema_destroy(state);
    mr_op_close(&h->op);
    return NULL;
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
    for (int a = 0; a < h->p.nagg; a++) {
        const agg_def *d = &h->p.aggs[a];
        const agg_rt *rt = &h->rt[a];
        if (rt->count)
            b += cap * sizeof *rt->count;
        if (rt->isum)
            b += cap * sizeof *rt->isum;
        if (rt->fsum)
            b += cap * sizeof *rt->fsum;
        if (rt->has)
            b += cap;
        if (rt->mm)
            b += cap * mr_type_width(d->arg_type);
        if (rt->str.off)
            b += cap * (sizeof *rt->str.off + sizeof *rt->str.len) + rt->str.cap;
        if (rt->has_dset)
            b += mr_hashtab_bytes(&rt->dset);
    }
    return b;
}
