/* hashjoin_int.h - what the hash join's three files share: the plan, the
 * running state and the operator struct (hashjoin_plan.c: the plan and the
 * output schema; hashjoin.c: build, probe, output, lifecycle;
 * hashjoin_grace.c: Grace mode under a memory budget).  Private to
 * core/op/hashjoin*.c. */
#ifndef MR_OP_HASHJOIN_INT_H
#define MR_OP_HASHJOIN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/keys.h"
#include "core/op/hashjoin.h"
#include "core/spill.h"

#define PREFETCH_AHEAD 8
#define PREFETCH_MIN_SLOTS (1u << 16)
#define FILTER_MASK 0xffffffff00000000ULL

/* A bucket's filter: one of 32 bits per linked row, chosen by hash bits the
 * bucket index does not use.  A probe whose bit is unset in its bucket has
 * no candidate, and is rejected without touching any stored row. */
static inline uint64_t filter_bit(uint64_t h)
{
    return 1ULL << (32 + (h >> 59));
}

/* ---- Plan: keys and output columns, built once by the constructor and
 * read-only after; the joins of spilled partitions share it. */

typedef enum { OUT_LEFT, OUT_RIGHT, OUT_KEY } out_kind;

typedef struct out_col {
    out_kind kind;
    int col; /* left or right column index, or key pair index for OUT_KEY */
} out_col;

typedef struct jplan {
    int refs;       /* joins using it: the DAG's and its partitions' */
    mr_join_type how;
    int nkeys;
    int *lk, *rk;   /* key column indices in the left / right schema */
    mr_type *ktype; /* common type per key pair */
    bool *lconv, *rconv;
    int nout;
    out_col *oc;
    mr_schema *schema;
} jplan;

/* ---- Running state ------------------------------------------------------- */

enum { PH_BUILD, PH_PROBE, PH_TAIL, PH_DONE, PH_PARTITION, PH_PARTS };

/* A stored row's hash and the next row of its chain (+ 1; 0 ends it), side
 * by side so that walking a chain costs one cache line per row. */
typedef struct bentry {
    uint64_t hash;
    uint64_t next;
} bentry;

typedef struct hashjoin_op {
    mr_op op;      /* op.child is the probe (left) input */
    mr_op *build;  /* the right input */
    jplan *p;      /* shared with the joins of spilled partitions */
    int *kidx;     /* 0..nkeys-1, for mr_hash_columns */
    bool opened;
    /* build side */
    int nbcols;
    bool *bneed;        /* right column c is stored */
    mr_column *bcols;   /* stored right columns (initialised where bneed) */
    mr_column *bconv;   /* per key: converted stored key, when rconv */
    mr_column *bkeys;   /* per key: shallow copy of its stored key column */
    size_t bn;          /* stored rows */
    bentry *bent;       /* per stored row: hash and chain link */
    uint64_t *heads;    /* per bucket: filter bits << 32 | first row + 1 */
    size_t mask;
    uint8_t *matched;   /* right and full joins: per stored row */
    /* probe side, for the current left batch */
    mr_batch *pb;
    size_t plive;
    mr_column *kvown;   /* per key: dense converted/gathered copy */
    mr_column *kv;      /* per key: the dense key column in use */
    mr_batch kvb;       /* view over kv, for hashing */
    size_t pcap;        /* capacity of the per-row scratch below */
    uint64_t *phash;
    uint32_t *pfirst;   /* bucket head of each row (0: no candidates) */
    uint32_t *rows;     /* build: rows to store; semi/anti: the selection */
    size_t pi;          /* next live row to finish */
    uint32_t pe;        /* next chain entry of row pi, + 1 */
    bool started, pmatched;
    int phase;
    size_t tail_pos;
    bool pf;            /* the table is big enough for prefetching to pay */
    /* output */
    uint32_t *lrow, *lidx, *brow; /* pairs: left physical row, left live index, right row */
    mr_batch *out;
    mr_batch view;      /* semi/anti: the left batch with our selection */
    /* Grace mode: both inputs partitioned to disk, joined partition by
     * partition by an inner join (over the same plan) of the two files */
    int depth;          /* spill recursion depth, 0 for the DAG's join */
    bool grace;
    mr_spill_parts bparts, pparts;
    uint64_t brows_spilled;
    int part_next;
    mr_op *inner;
    /* chunked partition (see grace_open_part): the build batches already
     * joined, and whether the current chunk stopped before the end */
    uint64_t chunk_from;
    bool chunk_more;
} hashjoin_op;

static inline bool drops_null_keys(mr_join_type how)
{
    return how != MR_JOIN_RIGHT && how != MR_JOIN_FULL;
}

/* hashjoin_plan.c */
void hashjoin__plan_free(jplan *p);
/* Drops one reference to p; the last frees it.  NULL is a no-op. */
void hashjoin__plan_release(jplan *p);
/* Resolves keys, their common types and the output columns (hashjoin.h);
 * p starts zeroed.  0 or a negative code with err set. */
int hashjoin__plan_build(jplan *p, const mr_schema *left, const mr_schema *right,
                         mr_join_type how, const char *const *lkeys, const char *const *rkeys,
                         int nkeys, const char *prefix, const char *node, mr_err *err);

/* hashjoin.c */
int hashjoin__oom(hashjoin_op *j, mr_err *err);
/* Grows the per-row scratch to n rows; 0 or MR_ENOMEM. */
int hashjoin__scratch_reserve(hashjoin_op *j, size_t n);
/* A join of outer's plan (shared) over build and probe, for one spilled
 * partition; the caller sets its depth.  NULL with err set. */
mr_op *hashjoin__create_inner(hashjoin_op *outer, mr_op *build, mr_op *probe, mr_err *err);

/* hashjoin_grace.c */
bool hashjoin__build_over_budget(const hashjoin_op *j);
int hashjoin__grace_start(hashjoin_op *j, mr_err *err);
int hashjoin__grace_add(hashjoin_op *j, const mr_batch *b, mr_err *err);
int hashjoin__grace_next(hashjoin_op *j, mr_batch **out, mr_err *err);

#endif
