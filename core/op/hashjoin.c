/* hashjoin.c - hash join: build a table on the right input, stream the left
 * input through it (inner, left, right, full, semi, anti).
 *
 * Plan (built at create, read-only after): the key column indices on each
 * side, the common type of every key pair (core/keys.h) and whether a side
 * must be converted to it, and one descriptor per output column saying
 * where its values come from: a left column, a right column, or a merged
 * USING key (see hashjoin.h for the semantics).
 *
 * Build (open): the right input is drained into columnar storage, one
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
 * (by a new join operator over two spill sources, one depth deeper, which
 * may go Grace again) and concatenating gives exactly the join: rows
 * without a match stay without one in their partition, so left, right,
 * full, semi and anti semantics hold per partition.  Rows with a NULL key
 * hash alike and travel together; they never match.  A partition that
 * cannot produce a row (no left rows for an inner/left/semi/anti join, no
 * right rows for inner/right/semi) is skipped.  A partition holding every
 * spilled right row did not split (one hot key) is not copied again, and
 * no join goes below MR_SPILL_MAX_DEPTH: an inner or right join of such a
 * partition is joined chunk by chunk within the budget (chunk_op below);
 * the other join types build it in memory over the budget, and a single
 * key whose rows do not fit in memory at all fails with MR_ENOMEM naming
 * the node.
 * Limits: at most 2^32 - 2 stored right rows and 4 GiB of text per stored
 * string column (MR_ETOOBIG with a message).
 */
#include "core/op/hashjoin.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/keys.h"
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

/* ---- Plan: keys and output columns --------------------------------------- */

typedef enum { OUT_LEFT, OUT_RIGHT, OUT_KEY } out_kind;

typedef struct out_col {
    out_kind kind;
    int col; /* left or right column index, or key pair index for OUT_KEY */
} out_col;

typedef struct jplan {
    mr_join_type how;
    int nkeys;
    int *lk, *rk;   /* key column indices in the left / right schema */
    mr_type *ktype; /* common type per key pair */
    bool *lconv, *rconv;
    int nout;
    out_col *oc;
    mr_schema *schema;
} jplan;

static void plan_free(jplan *p)
{
    free(p->lk);
    free(p->rk);
    free(p->ktype);
    free(p->lconv);
    free(p->rconv);
    free(p->oc);
    mr_schema_destroy(p->schema);
    memset(p, 0, sizeof *p);
}

/* Writes "a, b, c" (cut short with "...") into buf. */
static const char *column_list(const mr_schema *s, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < s->nfields && used < cap; i++) {
        int n = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", s->fields[i].name);
        if (n < 0 || (size_t)n >= cap - used) {
            if (cap > 4)
                memcpy(buf + cap - 4, "...", 4);
            break;
        }
        used += (size_t)n;
    }
    return buf;
}

static int find_key(const mr_schema *s, const char *name, const char *side, const char *node,
                    mr_err *err)
{
    int i = name ? mr_schema_find(s, name) : -1;
    if (i < 0) {
        char cols[256];
        mr_err_set(err, MR_ENOTFOUND, "node '%s': join key '%s' not found in the %s input (columns: %s)",
                   node, name ? name : "(null)", side, column_list(s, cols, sizeof cols));
    }
    return i;
}

static bool is_merged(const jplan *p, const char *const *lkeys, const char *const *rkeys, int k)
{
    return p->how != MR_JOIN_SEMI && p->how != MR_JOIN_ANTI && strcmp(lkeys[k], rkeys[k]) == 0;
}

static int plan_build(jplan *p, const mr_schema *left, const mr_schema *right, mr_join_type how,
                      const char *const *lkeys, const char *const *rkeys, int nkeys,
                      const char *prefix, const char *node, mr_err *err)
{
    memset(p, 0, sizeof *p);
    p->how = how;
    if ((int)how < MR_JOIN_INNER || how > MR_JOIN_ANTI)
        return mr_err_set(err, MR_EINVAL, "node '%s': unknown join type %d", node, (int)how);
    if (nkeys <= 0 || !lkeys || !rkeys)
        return mr_err_set(err, MR_EINVAL, "node '%s': a join needs at least one key pair in 'on'",
                          node);
    if (!prefix)
        prefix = "";
    p->nkeys = nkeys;
    size_t nk = (size_t)nkeys;
    p->lk = malloc(nk * sizeof *p->lk);
    p->rk = malloc(nk * sizeof *p->rk);
    p->ktype = malloc(nk * sizeof *p->ktype);
    p->lconv = calloc(nk, sizeof *p->lconv);
    p->rconv = calloc(nk, sizeof *p->rconv);
    p->oc = malloc((size_t)(left->nfields + right->nfields + 1) * sizeof *p->oc);
    if (!p->lk || !p->rk || !p->ktype || !p->lconv || !p->rconv || !p->oc)
        return mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", node);
    for (int k = 0; k < nkeys; k++) {
        if ((p->lk[k] = find_key(left, lkeys[k], "left", node, err)) < 0 ||
            (p->rk[k] = find_key(right, rkeys[k], "right", node, err)) < 0)
            return MR_ENOTFOUND;
        mr_type lt = left->fields[p->lk[k]].type, rt = right->fields[p->rk[k]].type;
        if (mr_keys_common_type(lt, rt, &p->ktype[k], err) < 0) {
            mr_err_prefix(err, "node '%s': join keys '%s' (left) and '%s' (right)", node,
                          lkeys[k], rkeys[k]);
            return MR_ETYPE;
        }
        p->lconv[k] = mr_keys_needs_convert(lt, p->ktype[k]);
        p->rconv[k] = mr_keys_needs_convert(rt, p->ktype[k]);
    }
    /* Output columns: left (a merged key takes its pair's common type),
     * then right columns that are not merged keys. */
    int n = 0;
    for (int c = 0; c < left->nfields; c++) {
        p->oc[n].kind = OUT_LEFT;
        p->oc[n].col = c;
        for (int k = 0; k < nkeys; k++)
            if (p->lk[k] == c && is_merged(p, lkeys, rkeys, k)) {
                p->oc[n].kind = OUT_KEY;
                p->oc[n].col = k;
                break;
            }
        n++;
    }
    if (how != MR_JOIN_SEMI && how != MR_JOIN_ANTI)
        for (int c = 0; c < right->nfields; c++) {
            bool skip = false;
            for (int k = 0; k < nkeys && !skip; k++)
                skip = p->rk[k] == c && is_merged(p, lkeys, rkeys, k);
            if (!skip) {
                p->oc[n].kind = OUT_RIGHT;
                p->oc[n].col = c;
                n++;
            }
        }
    p->nout = n;
    p->schema = mr_schema_create(n);
    if (!p->schema)
        return mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", node);
    size_t plen = strlen(prefix);
    for (int o = 0; o < n; o++) {
        const out_col *oc = &p->oc[o];
        int rc;
        if (oc->kind == OUT_RIGHT) {
            const mr_field *f = &right->fields[oc->col];
            size_t len = plen + strlen(f->name) + 1;
            char *name = malloc(len);
            if (!name)
                return mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", node);
            snprintf(name, len, "%s%s", prefix, f->name);
            rc = mr_schema_set(p->schema, o, name, f->type);
            free(name);
        } else {
            const mr_field *f = &left->fields[oc->kind == OUT_KEY ? p->lk[oc->col] : oc->col];
            rc = mr_schema_set(p->schema, o, f->name,
                               oc->kind == OUT_KEY ? p->ktype[oc->col] : f->type);
        }
        if (rc < 0)
            return mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", node);
    }
    for (int o = 0; o < n; o++)
        for (int q = 0; q < o; q++)
            if (strcmp(p->schema->fields[o].name, p->schema->fields[q].name) == 0) {
                if (p->oc[o].kind == OUT_RIGHT && p->oc[q].kind != OUT_RIGHT)
                    return mr_err_set(err, MR_EINVAL,
                                      "node '%s': output column '%s' comes from both the left and "
                                      "the right input; set right_prefix, rename one of them or "
                                      "join on it",
                                      node, p->schema->fields[o].name);
                return mr_err_set(err, MR_EINVAL, "node '%s': output column '%s' appears twice",
                                  node, p->schema->fields[o].name);
            }
    return 0;
}

mr_schema *mr_hashjoin_schema(const mr_schema *left, const mr_schema *right, mr_join_type how,
                              const char *const *left_keys, const char *const *right_keys,
                              int nkeys, const char *right_prefix, const char *node, mr_err *err)
{
    jplan p;
    mr_schema *s = NULL;
    if (plan_build(&p, left, right, how, left_keys, right_keys, nkeys, right_prefix,
                   node ? node : "", err) == 0) {
        s = p.schema;
        p.schema = NULL;
    }
    plan_free(&p);
    return s;
}

static const char *const join_names[] = {"inner", "left", "right", "full", "semi", "anti"};

int mr_join_type_parse(const char *text, mr_join_type *out, mr_err *err)
{
    for (int i = 0; i <= MR_JOIN_ANTI; i++)
        if (text && strcmp(text, join_names[i]) == 0) {
            *out = (mr_join_type)i;
            return 0;
        }
    return mr_err_set(err, MR_EINVAL,
                      "unknown join type '%s' (expected inner, left, right, full, semi or anti)",
                      text ? text : "(null)");
}

const char *mr_join_type_name(mr_join_type how)
{
    return (int)how >= 0 && how <= MR_JOIN_ANTI ? join_names[how] : "?";
}

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
    jplan p;
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
     * partition by an inner join over the two files */
    char **lkeys, **rkeys, *prefix; /* constructor arguments, for the inner joins */
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

static const mr_op_vtable hashjoin_vt;

static int oom(hashjoin_op *j, mr_err *err)
{
    return mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", j->op.node);
}

/* Grows the per-row scratch to n rows. */
static int scratch_reserve(hashjoin_op *j, size_t n)
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

static bool drops_null_keys(mr_join_type how)
{
    return how != MR_JOIN_RIGHT && how != MR_JOIN_FULL;
}

/* Appends the live rows of one right batch to storage. */
static int build_add(hashjoin_op *j, const mr_batch *b, mr_err *err)
{
    size_t live = mr_batch_live(b), m = 0;
    if (scratch_reserve(j, live) < 0)
        return oom(j, err);
    if (drops_null_keys(j->p.how)) {
        for (size_t i = 0; i < live; i++) {
            uint32_t r = mr_batch_row(b, i);
            bool ok = true;
            for (int k = 0; k < j->p.nkeys && ok; k++)
                ok = mr_column_is_valid(&b->cols[j->p.rk[k]], r);
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
            return oom(j, err);
    }
    j->bn += m;
    return 0;
}

/* After the right input is stored: converts keys, hashes rows, links the
 * table and allocates the match flags. */
static int build_finish(hashjoin_op *j, mr_err *err)
{
    const jplan *p = &j->p;
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
                return oom(j, err);
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
        return oom(j, err);
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
        return oom(j, err);
    return 0;
}

/* ---- Grace mode ---------------------------------------------------------- */

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

static bool build_over_budget(const hashjoin_op *j)
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
    if (scratch_reserve(j, n) < 0)
        return oom(j, err);
    for (int k = 0; k < j->p.nkeys; k++) {
        int rc = mr_keys_convert(&j->kvown[k], &cols[keyidx[k]], rows, n, j->p.ktype[k]);
        if (rc == MR_EOVERFLOW)
            return mr_err_set(err, MR_EOVERFLOW,
                              "node '%s': a join key holds a value out of the range of its type",
                              j->op.node);
        if (rc < 0)
            return oom(j, err);
        j->kv[k] = j->kvown[k];
    }
    mr_batch kb = {.ncols = j->p.nkeys, .cols = j->kv, .nrows = n, .cap = n};
    mr_hash_columns(&kb, j->kidx, j->p.nkeys, j->phash);
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
static int grace_start(hashjoin_op *j, mr_err *err)
{
    mr_type *bt = NULL, *pt = NULL;
    int rc = 0;
    if (schema_types(j->build->schema, &bt) < 0 || schema_types(j->op.child->schema, &pt) < 0)
        rc = oom(j, err);
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
        if (scratch_reserve(j, m) < 0)
            return oom(j, err);
        for (size_t i = 0; i < m; i++)
            j->rows[i] = (uint32_t)(at + i);
        /* hash_keys converts into kvown and uses phash; rows lives apart */
        if ((rc = hash_keys(j, j->bcols, j->p.rk, j->rows, m, err)) < 0 ||
            (rc = mr_spill_parts_write(&j->bparts, j->bcols, j->rows, j->phash, m, err)) < 0)
            return rc;
    }
    for (int c = 0; c < j->nbcols; c++)
        if (j->bneed[c]) {
            mr_column_free(&j->bcols[c]);
            if (mr_column_init(&j->bcols[c], j->build->schema->fields[c].type, 0) < 0)
                return oom(j, err);
        }
    j->brows_spilled = j->bn;
    j->bn = 0;
    return 0;
}

/* Grace mode: partitions one right batch (rows that can never be output
 * are dropped as build_add drops them). */
static int grace_add(hashjoin_op *j, const mr_batch *b, mr_err *err)
{
    size_t live = mr_batch_live(b), m = 0;
    if (scratch_reserve(j, live) < 0)
        return oom(j, err);
    bool drop = drops_null_keys(j->p.how);
    for (size_t i = 0; i < live; i++) {
        uint32_t r = mr_batch_row(b, i);
        bool ok = true;
        for (int k = 0; k < j->p.nkeys && ok && drop; k++)
            ok = mr_column_is_valid(&b->cols[j->p.rk[k]], r);
        j->rows[m] = r;
        m += ok;
    }
    int rc = hash_keys(j, b->cols, j->p.rk, j->rows, m, err);
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
        if ((rc = hash_keys(j, b->cols, j->p.lk, b->sel, live, err)) < 0 ||
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
        oom(j, err);
        return NULL;
    }
    mr_op_init(&c->op, &chunk_vt, src, j->op.node);
    if (!(c->op.schema = mr_schema_copy(src->schema))) {
        mr_op_close(&c->op);
        oom(j, err);
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
    mr_join_type how = j->p.how;
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
    mr_op *in = mr_hashjoin_create(sb, sp, how, (const char *const *)j->lkeys,
                                   (const char *const *)j->rkeys, j->p.nkeys, j->prefix,
                                   j->op.node, err);
    if (!in)
        return err ? err->code : MR_ENOMEM;
    ((hashjoin_op *)in)->depth = unsplit || chunk ? MR_SPILL_MAX_DEPTH : j->depth + 1;
    j->inner = in;
    return mr_op_open(in, j->op.ctx, err);
}

/* Grace mode's next(): the partitions' joins one after the other. */
static int grace_next(hashjoin_op *j, mr_batch **out, mr_err *err)
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

static int hashjoin_open(mr_op *op, mr_exec_ctx *ctx, mr_err *err)
{
    (void)ctx;
    hashjoin_op *j = (hashjoin_op *)op;
    const jplan *p = &j->p;
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
        !j->lidx || !j->brow || scratch_reserve(j, MR_BATCH_ROWS) < 0)
        return oom(j, err);
    for (int k = 0; k < p->nkeys; k++)
        j->bneed[p->rk[k]] = true;
    for (int o = 0; o < p->nout; o++)
        if (p->oc[o].kind == OUT_RIGHT)
            j->bneed[p->oc[o].col] = true;
    for (int c = 0; c < j->nbcols; c++)
        if (j->bneed[c] && mr_column_init(&j->bcols[c], j->build->schema->fields[c].type, 0) < 0)
            return oom(j, err);
    for (int k = 0; k < p->nkeys; k++) {
        if (p->rconv[k] && mr_column_init(&j->bconv[k], p->ktype[k], 0) < 0)
            return oom(j, err);
        if (mr_column_init(&j->kvown[k], p->ktype[k], 0) < 0)
            return oom(j, err);
    }
    if (p->how != MR_JOIN_SEMI && p->how != MR_JOIN_ANTI && !(j->out = mr_batch_create(op->schema, 0)))
        return oom(j, err);
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
            if ((rc = grace_add(j, b, err)) < 0)
                return rc;
            continue;
        }
        if ((rc = build_add(j, b, err)) < 0)
            return rc;
        if (build_over_budget(j) && (rc = grace_start(j, err)) < 0)
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
    const jplan *p = &j->p;
    size_t live = mr_batch_live(b);
    /* nrows >= live: the selection handed out by semi/anti may be narrowed
     * in place downstream, which needs room for every physical row */
    if (scratch_reserve(j, b->nrows) < 0)
        return oom(j, err);
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
            return oom(j, err);
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
    const bool want = j->p.how == MR_JOIN_SEMI;
    const int nkeys = j->p.nkeys;
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
    const bool keep_left = j->p.how == MR_JOIN_LEFT || j->p.how == MR_JOIN_FULL;
    uint8_t *const matched = j->matched;
    const int nkeys = j->p.nkeys;
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
    const jplan *p = &j->p;
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
            return oom(j, err);
    }
    o->nrows = n;
    *out = o;
    return MR_NEXT_BATCH;
}

static int hashjoin_next(mr_op *op, mr_batch **out, mr_err *err)
{
    hashjoin_op *j = (hashjoin_op *)op;
    const mr_join_type how = j->p.how;
    if (j->phase == PH_BUILD) {
        int rc = hashjoin_build(j, err);
        if (rc < 0)
            return rc;
    }
    if (j->grace)
        return j->phase == PH_DONE ? MR_NEXT_DONE : grace_next(j, out, err);
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
    mr_op_close(j->inner);
    mr_spill_parts_free(&j->bparts);
    mr_spill_parts_free(&j->pparts);
    for (int k = 0; k < j->p.nkeys; k++) {
        if (j->lkeys)
            free(j->lkeys[k]);
        if (j->rkeys)
            free(j->rkeys[k]);
    }
    free(j->lkeys);
    free(j->rkeys);
    free(j->prefix);
    if (j->bcols)
        for (int c = 0; c < j->nbcols; c++)
            mr_column_free(&j->bcols[c]);
    if (j->bconv)
        for (int k = 0; k < j->p.nkeys; k++)
            mr_column_free(&j->bconv[k]);
    if (j->kvown)
        for (int k = 0; k < j->p.nkeys; k++)
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
    plan_free(&j->p);
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
        mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", nd);
        return NULL;
    }
    mr_op_init(&j->op, &hashjoin_vt, NULL, node);
    mr_op *const kids[2] = {probe, build};
    if (mr_op_set_children(&j->op, kids, 2) < 0) {
        free(j);
        mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", nd);
        return NULL;
    }
    j->build = build; /* children[1]: the operator owns both */
    if (plan_build(&j->p, probe->schema, build->schema, how, left_keys, right_keys, nkeys,
                   right_prefix, j->op.node, err) < 0)
        goto fail;
    j->kidx = malloc((size_t)nkeys * sizeof *j->kidx);
    if (!j->kidx) {
        mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", j->op.node);
        goto fail;
    }
    for (int k = 0; k < nkeys; k++)
        j->kidx[k] = k;
    j->lkeys = calloc((size_t)nkeys, sizeof *j->lkeys);
    j->rkeys = calloc((size_t)nkeys, sizeof *j->rkeys);
    j->prefix = strdup(right_prefix ? right_prefix : "");
    bool ok = j->lkeys && j->rkeys && j->prefix;
    for (int k = 0; k < nkeys && ok; k++)
        ok = (j->lkeys[k] = strdup(left_keys[k])) && (j->rkeys[k] = strdup(right_keys[k]));
    if (!ok) {
        mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", j->op.node);
        goto fail;
    }
    j->op.schema = j->p.schema;
    return &j->op;
fail:
    mr_op_close(&j->op);
    return NULL;
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
    for (int k = 0; k < j->p.nkeys; k++) {
        if (j->p.rconv[k])
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
