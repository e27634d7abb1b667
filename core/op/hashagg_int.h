/* hashagg_int.h - what the hash aggregate's files share: the plan, the
 * running state and the operator struct (hashagg_plan.c: the plan;
 * hashagg.c: input, states, output, lifecycle; hashagg_stats.c: the states
 * of variance, the bools and string_agg; hashagg_spill.c: spilling
 * and spilled partitions).
 * Private to core/op/hashagg*.c. */
#ifndef MR_OP_HASHAGG_INT_H
#define MR_OP_HASHAGG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/expr.h"
#include "core/hashtab.h"
#include "core/op/hashagg.h"
#include "core/spill.h"

__extension__ typedef __int128 i128;

#define DEC18_MAX 999999999999999999LL /* largest decimal(18,s) magnitude */

/* ---- Plan: parsed aggregates and schemas, built once by the constructor
 * and read-only after; the operators of spilled partitions share it (one
 * thread runs them, one after the other, so the compiled expressions'
 * evaluation scratch is never used by two at a time). */

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
    char *sep;       /* string_agg: the separator, seplen bytes */
    size_t seplen;
} agg_def;

typedef struct plan {
    int refs;        /* operators using it: the DAG's and its partitions' */
    int ngroup, nagg;
    int *group_idx;  /* group column indices in agg_input */
    agg_def *aggs;
} plan;

/* ---- Running state ------------------------------------------------------- */

/* String bytes of string min/max, one live string per group. */
typedef struct sstore {
    char *buf;
    size_t used, cap, garbage;
    uint64_t *off; /* per group */
    uint32_t *len; /* per group */
} sstore;

/* string_agg: one growing buffer per group. */
typedef struct sagg {
    char *p;
    size_t len, cap;
} sagg;

typedef struct agg_rt {
    int64_t *count; /* count, count(distinct), avg's count */
    i128 *isum;     /* integer and decimal sums */
    double *fsum;   /* float sums; the running mean of variance/stddev */
    double *m2;     /* variance/stddev: sum of squared deviations from the mean */
    uint8_t *has;   /* sum, min, max, bool_and/or: the group saw a non-NULL value */
    void *mm;       /* fixed-width min/max, one value per group; bool_and/or:
                     * uint8 "saw a false" (and) / "saw a true" (or) */
    sstore str;     /* string min/max */
    sagg *sa;       /* string_agg, per group */
    size_t sa_bytes;/* string_agg: bytes of every group's buffer */
    mr_hashtab dset;        /* count(distinct) in SINGLE/FINAL: seen (group, value) */
    bool has_dset;
    mr_column eval; /* the argument evaluated over the current batch */
    bool has_eval;
} agg_rt;

/* Where next() is (see "Spilling" in the header comment). */
enum { ST_DRAIN, ST_FLUSH, ST_EMIT, ST_PARTS, ST_DONE };

typedef struct hashagg_op {
    mr_op op;
    mr_agg_mode mode;
    plan *p;              /* shared with the operators of spilled partitions */
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
    int ngather;          /* child columns, for close */
    mr_batch kv;          /* key view; cols points at kvcols */
    mr_column *kvcols;
    int *kvidx;           /* 0..nkeys-1, for mr_hash_columns */
    const mr_column **args; /* per aggregate, its dense argument this batch */
    /* output */
    mr_batch *out;
    size_t emit_pos;
} hashagg_op;

/* hashagg_plan.c */
void hashagg__plan_free(plan *p);
/* Drops one reference to p; the last frees it.  NULL is a no-op. */
void hashagg__plan_release(plan *p);
bool hashagg__is_float_sum(const agg_def *d);
/* Type of avg's sum state. */
mr_type hashagg__avg_sum_type(const agg_def *d);
/* Parses, binds and types the aggregates and resolves the group columns.
 * Messages start with where ("node 'x': ", or "" outside an operator). */
int hashagg__plan_build(plan *p, const mr_schema *in, const char *const *group_by, int ngroup,
                        const char *const *names, const char *const *exprs, int nagg,
                        const char *where, mr_err *err);
/* The partial-state schema of p over input in (hashagg.h). */
mr_schema *hashagg__plan_state_schema(const plan *p, const mr_schema *in, const char *where,
                                      mr_err *err);

/* hashagg.c */
int hashagg__oom(hashagg_op *h, mr_err *err);
int hashagg__scratch_reserve(hashagg_op *h, size_t n);
const mr_column *hashagg__dense_col(hashagg_op *h, const mr_batch *in, int c);
int hashagg__consume(hashagg_op *h, const mr_batch *in, mr_err *err);
/* An operator of outer's mode and plan (shared) over child, one spill
 * depth deeper, for one spilled partition; NULL with err set. */
mr_op *hashagg__create_inner(hashagg_op *outer, mr_op *child, mr_err *err);

/* hashagg_stats.c: variance/stddev, bool_and/bool_or, string_agg */
void hashagg__upd_var(agg_rt *rt, const mr_column *c, const uint32_t *gids, size_t n);
void hashagg__upd_var_merge(agg_rt *rt, const mr_column *cnt, const mr_column *mean,
                            const mr_column *m2, const uint32_t *gids, size_t n);
void hashagg__upd_bool(agg_rt *rt, bool is_and, const mr_column *c, const uint32_t *gids,
                       size_t n);
int hashagg__upd_sagg(agg_rt *rt, const agg_def *d, const mr_column *c, const uint32_t *gids,
                      size_t n);
/* Frees string_agg's per-group buffers of the first ngroups groups. */
void hashagg__sagg_free(agg_rt *rt, size_t ngroups);
void hashagg__emit_var(mr_agg_kind kind, mr_column *dst, const agg_rt *rt, size_t from, size_t m);
/* PARTIAL: the three state columns dst[0..2]. */
void hashagg__emit_var_state(mr_column *dst, const agg_rt *rt, size_t from, size_t m);
void hashagg__emit_bool(bool is_and, mr_column *dst, const agg_rt *rt, size_t from, size_t m);
int hashagg__emit_sagg(mr_column *dst, const agg_rt *rt, size_t from, size_t m);
/* approx_count_distinct: a HyperLogLog sketch per group in rt->sa (NULL p
 * until the group sees a value).  upd hashes every non-NULL value of c;
 * merge takes PARTIAL states (text, MR_EPROTO when malformed); emit_state
 * writes the sketch as text, emit the estimate. */
int hashagg__upd_hll(agg_rt *rt, const mr_column *c, const uint32_t *gids, size_t n);
int hashagg__upd_hll_merge(agg_rt *rt, const mr_column *c, const uint32_t *gids, size_t n);
int hashagg__emit_hll_state(mr_column *dst, const agg_rt *rt, size_t from, size_t m);
void hashagg__emit_hll(mr_column *dst, const agg_rt *rt, size_t from, size_t m);

/* hashagg_spill.c */
int hashagg__table_reset(hashagg_op *h);
bool hashagg__over_budget(const hashagg_op *h);
int hashagg__consume_spilling(hashagg_op *h, const mr_batch *in, mr_err *err);
int hashagg__start_spilling(hashagg_op *h, mr_err *err);
int hashagg__open_partition(hashagg_op *h, int i, mr_err *err);

#endif
