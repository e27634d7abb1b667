/* sort.c - ORDER BY by normalized keys, with a bounded top-N mode.
 *
 * Algorithm.  The first next() drains the child (open() only opens it and
 * sets up the store; a limit of 0 reads nothing).  Every live input row is
 * copied into the operator's row store (one growing mr_column per output
 * column) and its sort keys are encoded into one byte string, the
 * "normalized key", chosen so that comparing two rows is a single memcmp of
 * their keys:
 *
 *   per key: a NULL flag byte, 0x01 for a value, and for NULL 0x00 (nulls
 *   first) or 0x02 (nulls last); the flag is never inverted.  A value then
 *   follows (a NULL has nothing after its flag):
 *     bool                 1 byte, 0 or 1
 *     int32, date          4 bytes big-endian with the sign bit flipped
 *     int64, decimal,      8 bytes big-endian with the sign bit flipped
 *     timestamp            (a decimal column has one scale, so the scaled
 *                          integers order like the values)
 *     float64              -0.0 made 0.0 and every NaN the one positive
 *                          quiet NaN; then the IEEE bits, all inverted when
 *                          negative, else with the sign bit set; 8 bytes BE
 *                          (so NaN is greater than +Infinity, as in
 *                          PostgreSQL)
 *     string               the bytes with 0x00 written as 0x00 0xFF, then
 *                          the terminator 0x00 0x00: a proper prefix sorts
 *                          first and embedded zero bytes order right
 *   for a desc key every value byte is inverted.  Each part is
 *   self-delimiting, so keys compare part by part as a plain memcmp.
 *
 * Sorting sorts (8-byte key prefix, row index) entries with qsort_r: most
 * comparisons end on the prefix; equal prefixes fall back to a memcmp of
 * the full keys and then to the row index, which makes the order stable
 * and deterministic.  next() then gathers rows into output batches in
 * sorted order, column by column.
 *
 * Top-N (limit >= 0).  Rows are appended as above, but once the store
 * holds 2n + MR_BATCH_ROWS rows it is sorted and cut to its first n rows,
 * whose last key becomes a threshold: from then on an incoming row whose
 * key is not smaller than the threshold cannot be in the result (ties go to
 * the earlier row) and is dropped before it is copied.  The store is kept
 * in sorted order after a cut, so row indices still follow arrival order
 * among equal keys and the result is the same as a full stable sort cut to
 * n rows.
 *
 * Memory: the store, the key bytes and offsets, the permutation and the
 * output batch belong to the operator and are freed by close(); they grow
 * by doubling, nothing is allocated per row.
 *
 * External sort (with a budget in the task's mr_exec_ctx).  After each
 * input batch the bytes the store uses (rows and keys, not capacity) are
 * compared with the budget; over it, the store is sorted (top-N: cut) and
 * written as a run: a spill file of chunks of RUN_CHUNK rows holding the
 * columns plus the normalized key as one more string column, so merging
 * compares keys with memcmp and never re-encodes.  The store then starts
 * afresh.  At the end the rest becomes the last run; while more than
 * MERGE_FANIN runs exist, every MERGE_FANIN consecutive runs are merged
 * into one; the final merge feeds next().  Merging pops from a binary heap
 * ordered by (key, run number): runs are in input order, so equal keys
 * still come out in input order and the result is exactly that of the
 * in-memory sort.  A run file is closed (its disk freed) as soon as it is
 * consumed.  Top-N keeps its threshold across runs (the n-th key among a
 * subset bounds the n-th key of all rows), merges stop after n rows, and a
 * top-N with n <= MR_BATCH_ROWS never spills (its store is bounded).
 */
#include "core/op/sort.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/spill.h"
#include "core/vec.h"

#define FLAG_NULL_FIRST 0x00
#define FLAG_VALUE 0x01
#define FLAG_NULL_LAST 0x02

typedef struct sort_ent {
    uint64_t prefix; /* first 8 key bytes, big-endian, zero padded */
    uint32_t row;
} sort_ent;

typedef struct sort_op {
    mr_op op;
    int nkeys;
    int *keycol;
    uint8_t *desc, *nfirst;
    int64_t limit;
    bool opened, built;
    /* row store */
    int ncols;
    mr_column *cols;
    size_t n;
    /* normalized keys: row r's key is kbuf[koff[r] .. koff[r+1]) */
    uint8_t *kbuf;
    size_t kcap;
    size_t *koff;
    size_t koff_cap; /* entries in koff */
    /* per-batch scratch */
    uint32_t *rows;
    size_t *cur;
    size_t scratch_cap;
    /* top-N threshold (key of the n-th row after the last cut) */
    uint8_t *thr;
    size_t thr_len, thr_cap;
    bool has_thr;
    /* sorted order and emission */
    sort_ent *ents;
    size_t ents_cap;
    size_t nout, emitted;
    mr_batch *out;
    /* external sort: sorted runs on disk, merged at the end */
    mr_spill_file **runs;
    int nruns, runs_cap;
    mr_batch *runbuf;  /* a run chunk: the columns, then the key bytes */
    struct merger *mg; /* the final merge, once built */
} sort_op;

static const mr_op_vtable sort_vt;

/* ---- Row store ----------------------------------------------------------- */

static int ensure_scratch(sort_op *s, size_t m)
{
    if (m <= s->scratch_cap)
        return 0;
    uint32_t *r = realloc(s->rows, m * sizeof *r);
    if (!r)
        return MR_ENOMEM;
    s->rows = r;
    size_t *c = realloc(s->cur, m * sizeof *c);
    if (!c)
        return MR_ENOMEM;
    s->cur = c;
    s->scratch_cap = m;
    return 0;
}

static int ensure_keys(sort_op *s, size_t rows, size_t bytes)
{
    if (rows + 1 > s->koff_cap) {
        size_t ncap = s->koff_cap ? s->koff_cap : 1024;
        while (ncap < rows + 1)
            ncap *= 2;
        size_t *k = realloc(s->koff, ncap * sizeof *k);
        if (!k)
            return MR_ENOMEM;
        if (!s->koff)
            k[0] = 0;
        s->koff = k;
        s->koff_cap = ncap;
    }
    if (bytes > s->kcap) {
        size_t ncap = s->kcap ? s->kcap : 16384;
        while (ncap < bytes)
            ncap *= 2;
        uint8_t *b = realloc(s->kbuf, ncap);
        if (!b)
            return MR_ENOMEM;
        s->kbuf = b;
        s->kcap = ncap;
    }
    return 0;
}

/* ---- Key encoding -------------------------------------------------------- */

static inline void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8),
    p[3] = (uint8_t)v;
}

static inline void put_be64(uint8_t *p, uint64_t v)
{
    put_be32(p, (uint32_t)(v >> 32));
    put_be32(p + 4, (uint32_t)v);
}

static inline uint64_t float_bits(double d)
{
    if (d == 0)
        d = 0.0; /* -0.0 == 0.0 */
    uint64_t u;
    if (isnan(d))
        u = 0x7ff8000000000000ULL;
    else
        memcpy(&u, &d, 8);
    return (u >> 63) ? ~u : u | 0x8000000000000000ULL;
}

/* Encoded bytes of one string value (without the flag byte). */
static inline size_t str_key_len(const char *p, size_t n)
{
    size_t z = 0;
    for (size_t i = 0; i < n; i++)
        z += p[i] == 0;
    return n + z + 2;
}

/* Appends the normalized keys of the m rows rows[] of batch b at the end of
 * kbuf (keys of store rows s->n .. s->n+m).  Column by column: a first pass
 * sizes every row's key, a second pass per key column writes its part at
 * each row's cursor. */
static int encode_keys(sort_op *s, const mr_batch *b, const uint32_t *rows, size_t m)
{
    size_t base = s->koff[s->n];
    size_t *cur = s->cur;
    for (size_t i = 0; i < m; i++)
        cur[i] = 0;
    for (int k = 0; k < s->nkeys; k++) {
        const mr_column *c = &b->cols[s->keycol[k]];
        size_t w = mr_type_width(c->type);
        for (size_t i = 0; i < m; i++) {
            uint32_t r = rows[i];
            size_t len = 1;
            if (mr_column_is_valid(c, r)) {
                if (c->type.id == MR_T_STRING)
                    len += str_key_len(c->chars + c->offsets[r], c->offsets[r + 1] - c->offsets[r]);
                else
                    len += w;
            }
            cur[i] += len;
        }
    }
    size_t total = 0;
    for (size_t i = 0; i < m; i++)
        total += cur[i];
    int rc = ensure_keys(s, s->n + m, base + total);
    if (rc < 0)
        return rc;
    size_t pos = base;
    for (size_t i = 0; i < m; i++) {
        size_t len = cur[i];
        cur[i] = pos;
        pos += len;
        s->koff[s->n + i + 1] = pos;
    }
    uint8_t *kb = s->kbuf;
    for (int k = 0; k < s->nkeys; k++) {
        const mr_column *c = &b->cols[s->keycol[k]];
        const uint8_t inv = s->desc[k] ? 0xff : 0x00;
        const uint8_t nullflag = s->nfirst[k] ? FLAG_NULL_FIRST : FLAG_NULL_LAST;
        for (size_t i = 0; i < m; i++) {
            uint32_t r = rows[i];
            uint8_t *p = kb + cur[i];
            if (!mr_column_is_valid(c, r)) {
                *p = nullflag;
                cur[i]++;
                continue;
            }
            *p++ = FLAG_VALUE;
            uint8_t *v = p;
            switch (c->type.id) {
            case MR_T_BOOL: *p++ = MR_COL_U8(c)[r] ? 1 : 0; break;
            case MR_T_INT32:
            case MR_T_DATE:
                put_be32(p, (uint32_t)MR_COL_I32(c)[r] ^ 0x80000000u);
                p += 4;
                break;
            case MR_T_FLOAT64:
                put_be64(p, float_bits(MR_COL_F64(c)[r]));
                p += 8;
                break;
            case MR_T_STRING: {
                const char *sp = c->chars + c->offsets[r];
                size_t sn = c->offsets[r + 1] - c->offsets[r];
                for (size_t j = 0; j < sn; j++) {
                    *p++ = (uint8_t)sp[j];
                    if (sp[j] == 0)
                        *p++ = 0xff;
                }
                *p++ = 0;
                *p++ = 0;
                break;
            }
            default:
                put_be64(p, (uint64_t)MR_COL_I64(c)[r] ^ 0x8000000000000000ULL);
                p += 8;
                break;
            }
            if (inv)
                for (uint8_t *q = v; q < p; q++)
                    *q ^= inv;
            cur[i] = (size_t)(p - kb);
        }
    }
    return 0;
}

static inline int key_cmp(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    int c = memcmp(a, b, na < nb ? na : nb);
    if (c)
        return c;
    return na < nb ? -1 : na > nb;
}

/* ---- Sorting ------------------------------------------------------------- */

static int ent_cmp(const void *pa, const void *pb, void *ctx)
{
    const sort_ent *a = pa, *b = pb;
    if (a->prefix != b->prefix)
        return a->prefix < b->prefix ? -1 : 1;
    const sort_op *s = ctx;
    size_t oa = s->koff[a->row], ob = s->koff[b->row];
    size_t na = s->koff[a->row + 1] - oa, nb = s->koff[b->row + 1] - ob;
    if (na > 8 && nb > 8) {
        int c = key_cmp(s->kbuf + oa + 8, na - 8, s->kbuf + ob + 8, nb - 8);
        if (c)
            return c;
    } else {
        int c = key_cmp(s->kbuf + oa, na, s->kbuf + ob, nb);
        if (c)
            return c;
    }
    return a->row < b->row ? -1 : a->row > b->row;
}

/* Sorts store rows 0..n into s->ents. */
static int sort_store(sort_op *s)
{
    if (s->n > s->ents_cap) {
        sort_ent *e = realloc(s->ents, s->n * sizeof *e);
        if (!e)
            return MR_ENOMEM;
        s->ents = e;
        s->ents_cap = s->n;
    }
    for (size_t r = 0; r < s->n; r++) {
        const uint8_t *k = s->kbuf + s->koff[r];
        size_t len = s->koff[r + 1] - s->koff[r];
        uint64_t p = 0;
        for (size_t j = 0; j < 8; j++)
            p = (p << 8) | (j < len ? k[j] : 0);
        s->ents[r].prefix = p;
        s->ents[r].row = (uint32_t)r;
    }
    if (s->n > 1)
        qsort_r(s->ents, s->n, sizeof *s->ents, ent_cmp, s);
    return 0;
}

/* Top-N: sorts the store and keeps its first `limit` rows, in sorted
 * order, with their keys; sets the threshold to the last kept key. */
static int cut_store(sort_op *s)
{
    int rc = sort_store(s);
    if (rc < 0)
        return rc;
    size_t keep = s->n < (size_t)s->limit ? s->n : (size_t)s->limit;
    uint32_t *idx = malloc((keep ? keep : 1) * sizeof *idx);
    mr_column *nc = calloc((size_t)s->ncols, sizeof *nc);
    size_t *nko = malloc((keep + 1) * sizeof *nko);
    uint8_t *nkb = NULL;
    if (!idx || !nc || !nko)
        goto oom;
    size_t kbytes = 0;
    for (size_t i = 0; i < keep; i++) {
        idx[i] = s->ents[i].row;
        kbytes += s->koff[idx[i] + 1] - s->koff[idx[i]];
    }
    nkb = malloc(kbytes ? kbytes : 1);
    if (!nkb)
        goto oom;
    nko[0] = 0;
    for (size_t i = 0; i < keep; i++) {
        size_t o = s->koff[idx[i]], len = s->koff[idx[i] + 1] - o;
        memcpy(nkb + nko[i], s->kbuf + o, len);
        nko[i + 1] = nko[i] + len;
    }
    for (int c = 0; c < s->ncols; c++) {
        if (mr_column_init(&nc[c], s->cols[c].type, keep + MR_BATCH_ROWS) < 0 ||
            mr_vec_gather(&nc[c], 0, &s->cols[c], idx, keep) < 0)
            goto oom;
    }
    if (keep > 0) {
        size_t len = nko[keep] - nko[keep - 1];
        if (len > s->thr_cap) {
            uint8_t *t = realloc(s->thr, len);
            if (!t)
                goto oom;
            s->thr = t;
            s->thr_cap = len;
        }
        memcpy(s->thr, nkb + nko[keep - 1], len);
        s->thr_len = len;
        s->has_thr = keep == (size_t)s->limit;
    }
    for (int c = 0; c < s->ncols; c++)
        mr_column_free(&s->cols[c]);
    free(s->cols);
    s->cols = nc;
    free(s->kbuf);
    s->kbuf = nkb;
    s->kcap = kbytes ? kbytes : 1;
    free(s->koff);
    s->koff = nko;
    s->koff_cap = keep + 1;
    s->n = keep;
    free(idx);
    return 0;
oom:
    if (nc)
        for (int c = 0; c < s->ncols; c++)
            mr_column_free(&nc[c]);
    free(nc);
    free(nko);
    free(nkb);
    free(idx);
    return MR_ENOMEM;
}

/* Adds the live rows of b to the store (top-N: only those that can still
 * make the result). */
static int add_batch(sort_op *s, const mr_batch *b)
{
    size_t m = mr_batch_live(b);
    if (m == 0)
        return 0;
    if (s->n + m > UINT32_MAX - 1)
        return MR_ETOOBIG;
    int rc = ensure_scratch(s, m);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < m; i++)
        s->rows[i] = mr_batch_row(b, i);
    if ((rc = encode_keys(s, b, s->rows, m)) < 0)
        return rc;
    if (s->has_thr) {
        /* Drop rows whose key is not below the threshold, compacting their
         * keys in place (they only move left). */
        size_t kept = 0, pos = s->koff[s->n];
        for (size_t i = 0; i < m; i++) {
            size_t o = s->koff[s->n + i], len = s->koff[s->n + i + 1] - o;
            if (key_cmp(s->kbuf + o, len, s->thr, s->thr_len) >= 0)
                continue;
            memmove(s->kbuf + pos, s->kbuf + o, len);
            s->rows[kept] = s->rows[i];
            pos += len;
            s->koff[s->n + ++kept] = pos;
        }
        m = kept;
    }
    for (int c = 0; c < s->ncols; c++)
        if ((rc = mr_vec_gather(&s->cols[c], s->n, &b->cols[c], s->rows, m)) < 0)
            return rc;
    s->n += m;
    if (s->limit >= 0 && s->limit < (INT64_C(1) << 40) &&
        s->n >= 2 * (size_t)s->limit + MR_BATCH_ROWS)
        return cut_store(s);
    return 0;
}

/* ---- External sort ------------------------------------------------------- */

#define RUN_CHUNK 256   /* rows per run chunk: what a merge holds per run */
#define MERGE_FANIN 16  /* runs merged at once */

/* One run being merged: its file and the chunk read last. */
typedef struct run_rd {
    mr_spill_file *f;
    mr_batch *b;
    size_t pos;
} run_rd;

/* A k-way merge: a binary heap of run numbers ordered by each run's
 * current key and then by run number, so equal keys come out in run order
 * (runs are in input order, which keeps the sort stable). */
typedef struct merger {
    run_rd *rd;
    int n;
    int *heap;
    int hn;
    int keycol;
} merger;

static void merger_free(merger *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n; i++) {
        mr_spill_destroy(m->rd[i].f);
        mr_batch_destroy(m->rd[i].b);
    }
    free(m->rd);
    free(m->heap);
    free(m);
}

static int run_less(const merger *m, int a, int b)
{
    size_t la, lb;
    const char *ka = mr_column_str(&m->rd[a].b->cols[m->keycol], m->rd[a].pos, &la);
    const char *kb = mr_column_str(&m->rd[b].b->cols[m->keycol], m->rd[b].pos, &lb);
    int c = key_cmp((const uint8_t *)ka, la, (const uint8_t *)kb, lb);
    return c ? c < 0 : a < b;
}

static void heap_down(merger *m, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, best = i;
        if (l < m->hn && run_less(m, m->heap[l], m->heap[best]))
            best = l;
        if (r < m->hn && run_less(m, m->heap[r], m->heap[best]))
            best = r;
        if (best == i)
            return;
        int t = m->heap[i];
        m->heap[i] = m->heap[best];
        m->heap[best] = t;
        i = best;
    }
}

/* Takes ownership of runs[0..n) (destroyed as they are consumed, or by
 * merger_free).  Returns the merger or NULL with err set. */
static merger *merger_open(sort_op *s, mr_spill_file **runs, int n, mr_err *err)
{
    merger *m = calloc(1, sizeof *m);
    if (m) {
        m->rd = calloc((size_t)n, sizeof *m->rd);
        m->heap = malloc((size_t)n * sizeof *m->heap);
    }
    if (!m || !m->rd || !m->heap) {
        for (int i = 0; i < n; i++)
            mr_spill_destroy(runs[i]);
        merger_free(m);
        mr_err_oom(err, s->op.node);
        return NULL;
    }
    m->n = n;
    m->keycol = s->ncols;
    for (int i = 0; i < n; i++)
        m->rd[i].f = runs[i];
    for (int i = 0; i < n; i++) {
        int rc;
        mr_type *types = malloc((size_t)(s->ncols + 1) * sizeof *types);
        if (types) {
            for (int c = 0; c < s->ncols; c++)
                types[c] = s->op.schema->fields[c].type;
            types[s->ncols] = mr_type_make(MR_T_STRING);
            m->rd[i].b = mr_batch_create_types(types, s->ncols + 1, RUN_CHUNK);
            free(types);
        }
        if (!m->rd[i].b) {
            merger_free(m);
            mr_err_oom(err, s->op.node);
            return NULL;
        }
        if ((rc = mr_spill_rewind(m->rd[i].f, err)) < 0 ||
            (rc = mr_spill_read(m->rd[i].f, m->rd[i].b, err)) < 0) {
            merger_free(m);
            return NULL;
        }
        if (rc == MR_NEXT_BATCH)
            m->heap[m->hn++] = i;
    }
    for (int i = m->hn / 2; i-- > 0;)
        heap_down(m, i);
    return m;
}

/* Moves past the top row; 0 or a negative code. */
static int merger_advance(merger *m, mr_err *err)
{
    int top = m->heap[0];
    run_rd *r = &m->rd[top];
    if (++r->pos >= r->b->nrows) {
        int rc = mr_spill_read(r->f, r->b, err);
        if (rc < 0)
            return rc;
        r->pos = 0;
        if (rc == MR_NEXT_DONE) {
            mr_spill_destroy(r->f); /* consumed: free its disk at once */
            r->f = NULL;
            m->heap[0] = m->heap[--m->hn];
        }
    }
    if (m->hn > 0)
        heap_down(m, 0);
    return 0;
}

/* Copies up to max merged rows into dst (ncols columns, plus the key when
 * with_key); returns the number copied or a negative code. */
static long merger_fill(merger *m, mr_batch *dst, int ncols, bool with_key, size_t max, mr_err *err)
{
    mr_batch_reset(dst);
    size_t j = 0;
    while (j < max && m->hn > 0) {
        const run_rd *r = &m->rd[m->heap[0]];
        int nc = with_key ? ncols + 1 : ncols;
        for (int c = 0; c < nc; c++)
            if (mr_column_copy_value(&dst->cols[c], j, &r->b->cols[c], r->pos) < 0)
                return MR_ENOMEM;
        j++;
        int rc = merger_advance(m, err);
        if (rc < 0)
            return rc;
    }
    dst->nrows = j;
    return (long)j;
}

static int add_run(sort_op *s, mr_spill_file *f, int at)
{
    if (s->nruns == s->runs_cap) {
        int cap = s->runs_cap ? s->runs_cap * 2 : 16;
        mr_spill_file **r = realloc(s->runs, (size_t)cap * sizeof *r);
        if (!r)
            return MR_ENOMEM;
        s->runs = r;
        s->runs_cap = cap;
    }
    memmove(s->runs + at + 1, s->runs + at, (size_t)(s->nruns - at) * sizeof *s->runs);
    s->runs[at] = f;
    s->nruns++;
    return 0;
}

static int run_file(sort_op *s, mr_spill_file **f, mr_err *err)
{
    if (!s->runbuf) {
        mr_type *types = malloc((size_t)(s->ncols + 1) * sizeof *types);
        if (!types)
            return MR_ENOMEM;
        for (int c = 0; c < s->ncols; c++)
            types[c] = s->op.schema->fields[c].type;
        types[s->ncols] = mr_type_make(MR_T_STRING);
        s->runbuf = mr_batch_create_types(types, s->ncols + 1, RUN_CHUNK);
        free(types);
        if (!s->runbuf)
            return MR_ENOMEM;
    }
    mr_type *types = malloc((size_t)(s->ncols + 1) * sizeof *types);
    if (!types)
        return MR_ENOMEM;
    for (int c = 0; c <= s->ncols; c++)
        types[c] = s->runbuf->cols[c].type;
    int rc = mr_spill_create(s->op.ctx, types, s->ncols + 1, s->op.node, f, err);
    free(types);
    return rc;
}

/* Frees the row store and starts an empty one. */
static int store_reset(sort_op *s)
{
    for (int c = 0; c < s->ncols; c++) {
        mr_column_free(&s->cols[c]);
        if (mr_column_init(&s->cols[c], s->op.schema->fields[c].type, MR_BATCH_ROWS) < 0)
            return MR_ENOMEM;
    }
    free(s->kbuf);
    free(s->koff);
    free(s->ents);
    s->kbuf = NULL;
    s->koff = NULL;
    s->ents = NULL;
    s->kcap = s->koff_cap = s->ents_cap = 0;
    s->n = 0;
    return ensure_keys(s, 0, 0);
}

/* Sorts the store (top-N: cuts it to its first limit rows), writes it as
 * the next run, and empties it. */
static int write_run(sort_op *s, mr_err *err)
{
    int rc = s->limit >= 0 ? cut_store(s) : sort_store(s);
    mr_spill_file *f = NULL;
    if (rc < 0 || (rc = run_file(s, &f, err)) < 0 || (rc = ensure_scratch(s, RUN_CHUNK)) < 0)
        goto fail;
    mr_batch *rb = s->runbuf;
    for (size_t i = 0; i < s->n; i += RUN_CHUNK) {
        size_t m = s->n - i < RUN_CHUNK ? s->n - i : RUN_CHUNK;
        for (size_t j = 0; j < m; j++)
            s->rows[j] = s->limit >= 0 ? (uint32_t)(i + j) : s->ents[i + j].row;
        mr_batch_reset(rb);
        for (int c = 0; c < s->ncols && rc == 0; c++)
            rc = mr_vec_gather(&rb->cols[c], 0, &s->cols[c], s->rows, m);
        mr_column *kc = &rb->cols[s->ncols];
        for (size_t j = 0; j < m && rc == 0; j++) {
            uint32_t r = s->rows[j];
            rc = mr_column_set_str(kc, j, (const char *)s->kbuf + s->koff[r],
                                   s->koff[r + 1] - s->koff[r]);
        }
        rb->nrows = m;
        if (rc < 0 || (rc = mr_spill_write_batch(f, rb, err)) < 0)
            goto fail;
    }
    if ((rc = add_run(s, f, s->nruns)) < 0)
        goto fail;
    return store_reset(s);
fail:
    mr_spill_destroy(f);
    return rc;
}

/* Merges runs[from..from + n) into one run written to *out. */
static int merge_group(sort_op *s, int from, int n, mr_spill_file **out, mr_err *err)
{
    int rc = run_file(s, out, err);
    if (rc < 0)
        return rc;
    merger *m = merger_open(s, s->runs + from, n, err);
    for (int i = 0; i < n; i++)
        s->runs[from + i] = NULL; /* the merger owns them now */
    if (!m)
        return err ? err->code : MR_ENOMEM;
    uint64_t left = s->limit >= 0 ? (uint64_t)s->limit : UINT64_MAX;
    while (left > 0) {
        long got = merger_fill(m, s->runbuf, s->ncols, true, left < RUN_CHUNK ? left : RUN_CHUNK,
                               err);
        if (got <= 0) {
            rc = (int)got;
            break;
        }
        left -= (uint64_t)got;
        if ((rc = mr_spill_write_batch(*out, s->runbuf, err)) < 0)
            break;
    }
    merger_free(m);
    return rc;
}

/* Merge passes: each merges every MERGE_FANIN consecutive runs into one
 * (consecutive, so equal keys keep their run order), until at most
 * MERGE_FANIN runs are left for the final merge. */
static int merge_passes(sort_op *s, mr_err *err)
{
    while (s->nruns > MERGE_FANIN) {
        int out = 0;
        for (int from = 0; from < s->nruns; from += MERGE_FANIN, out++) {
            int n = s->nruns - from < MERGE_FANIN ? s->nruns - from : MERGE_FANIN;
            mr_spill_file *f = NULL;
            int rc = n == 1 ? 0 : merge_group(s, from, n, &f, err);
            if (n == 1) {
                f = s->runs[from];
                s->runs[from] = NULL;
            }
            s->runs[out] = f; /* out <= from: that slot is consumed already */
            if (rc < 0)
                return rc; /* consumed slots are NULL: close() frees the rest */
        }
        s->nruns = out;
    }
    return 0;
}

/* Whether the store is over the task's budget (never without a budget). */
static bool sort_over_budget(const sort_op *s)
{
    const mr_exec_ctx *x = s->op.ctx;
    if (s->limit >= 0 && s->limit <= MR_BATCH_ROWS)
        return false; /* a small top-N is bounded already */
    if (!x || !x->memory_budget || s->n == 0)
        return false;
    /* bytes in use, not capacity: an empty store has room for a batch */
    size_t n = s->n, b = s->koff[n] + n * (sizeof(size_t) + sizeof(sort_ent));
    for (int c = 0; c < s->ncols; c++) {
        const mr_column *col = &s->cols[c];
        b += (n + 7) / 8;
        b += col->type.id == MR_T_STRING ? n * sizeof *col->offsets + col->offsets[n]
                                         : n * mr_type_width(col->type);
    }
    return b > x->memory_budget;
}

/* After the input: the last run, merge passes, and the final merger. */
static int start_merge(sort_op *s, mr_err *err)
{
    int rc = 0;
    if (s->n > 0 && (rc = write_run(s, err)) < 0)
        return rc;
    if ((rc = merge_passes(s, err)) < 0)
        return rc;
    s->mg = merger_open(s, s->runs, s->nruns, err);
    s->nruns = 0;
    if (!s->mg)
        return err ? err->code : MR_ENOMEM;
    s->nout = s->limit >= 0 ? (size_t)s->limit : SIZE_MAX;
    return 0;
}

/* ---- Lifecycle ----------------------------------------------------------- */

static int sort_fail(sort_op *s, int rc, mr_err *err)
{
    if (rc == MR_ETOOBIG)
        return mr_err_set(err, rc,
                          "node '%s': sort input too large (more than 4 GiB of one string "
                          "column or 2^32 rows in memory); give the executor a memory budget so "
                          "that it spills",
                          s->op.node);
    return mr_err_set(err, rc, "node '%s': out of memory sorting %zu rows", s->op.node, s->n);
}

static int sort_open(mr_op *op, mr_exec_ctx *ctx, mr_err *err)
{
    (void)ctx;
    sort_op *s = (sort_op *)op;
    if (s->opened)
        return 0;
    s->cols = calloc((size_t)s->ncols, sizeof *s->cols);
    s->out = mr_batch_create(op->schema, MR_BATCH_ROWS);
    if (!s->cols || !s->out || ensure_keys(s, 0, 0) < 0)
        return mr_err_oom(err, op->node);
    for (int c = 0; c < s->ncols; c++)
        if (mr_column_init(&s->cols[c], op->schema->fields[c].type, MR_BATCH_ROWS) < 0)
            return mr_err_oom(err, op->node);
    s->opened = true;
    return 0;
}

static int sort_build(sort_op *s, mr_err *err)
{
    if (s->limit != 0) {
        for (;;) {
            mr_batch *b;
            int rc = mr_op_next(s->op.child, &b, err);
            if (rc < 0)
                return rc;
            if (rc == MR_NEXT_DONE)
                break;
            if ((rc = add_batch(s, b)) < 0)
                return sort_fail(s, rc, err);
            if (sort_over_budget(s) && (rc = write_run(s, err)) < 0)
                return rc == MR_ENOMEM || rc == MR_ETOOBIG ? sort_fail(s, rc, err) : rc;
        }
    }
    if (s->nruns > 0) {
        int rc = start_merge(s, err);
        if (rc < 0)
            return rc == MR_ENOMEM || rc == MR_ETOOBIG ? sort_fail(s, rc, err) : rc;
        s->built = true;
        return 0;
    }
    int rc = s->limit >= 0 ? cut_store(s) : sort_store(s);
    if (rc < 0)
        return sort_fail(s, rc, err);
    s->nout = s->n;
    if (s->limit >= 0) {
        /* cut_store left the store in sorted order */
        for (size_t i = 0; i < s->n; i++)
            s->ents[i].row = (uint32_t)i;
    }
    s->built = true;
    return 0;
}

static int sort_next(mr_op *op, mr_batch **out, mr_err *err)
{
    sort_op *s = (sort_op *)op;
    if (!s->opened)
        return mr_err_set(err, MR_EINVAL, "node '%s': next() before open()", op->node);
    int rc;
    if (!s->built && (rc = sort_build(s, err)) < 0)
        return rc;
    if (s->emitted >= s->nout)
        return MR_NEXT_DONE;
    if (s->mg) {
        size_t want = s->nout - s->emitted < MR_BATCH_ROWS ? s->nout - s->emitted : MR_BATCH_ROWS;
        long got = merger_fill(s->mg, s->out, s->ncols, false, want, err);
        if (got < 0)
            return got == MR_ENOMEM ? sort_fail(s, (int)got, err) : (int)got;
        if (got == 0)
            return MR_NEXT_DONE;
        s->emitted += (size_t)got;
        *out = s->out;
        return MR_NEXT_BATCH;
    }
    size_t m = s->nout - s->emitted;
    if (m > MR_BATCH_ROWS)
        m = MR_BATCH_ROWS;
    if ((rc = ensure_scratch(s, m)) < 0)
        return sort_fail(s, rc, err);
    for (size_t i = 0; i < m; i++)
        s->rows[i] = s->ents[s->emitted + i].row;
    mr_batch *b = s->out;
    mr_batch_reset(b);
    for (int c = 0; c < s->ncols; c++)
        if ((rc = mr_vec_gather(&b->cols[c], 0, &s->cols[c], s->rows, m)) < 0)
            return sort_fail(s, rc, err);
    b->nrows = m;
    s->emitted += m;
    *out = b;
    return MR_NEXT_BATCH;
}

static void sort_close(mr_op *op)
{
    sort_op *s = (sort_op *)op;
    if (s->cols)
        for (int c = 0; c < s->ncols; c++)
            mr_column_free(&s->cols[c]);
    free(s->cols);
    free(s->kbuf);
    free(s->koff);
    free(s->rows);
    free(s->cur);
    free(s->thr);
    free(s->ents);
    mr_batch_destroy(s->out);
    merger_free(s->mg);
    for (int i = 0; i < s->nruns; i++)
        mr_spill_destroy(s->runs[i]);
    free(s->runs);
    mr_batch_destroy(s->runbuf);
    free(s->keycol);
    free(s->desc);
    free(s->nfirst);
    mr_schema_destroy(op->schema);
    free(s);
}

static const mr_op_vtable sort_vt = {
    .name = "sort",
    .open = sort_open,
    .next = sort_next,
    .close = sort_close,
};

mr_op *mr_sort_create(mr_op *child, const char *const *keys, const int *desc,
                      const int *nulls_first, int nkeys, int64_t limit, const char *node,
                      mr_err *err)
{
    const char *nd = node ? node : "";
    if (!child) {
        mr_err_set(err, MR_EINVAL, "node '%s': sort without an input", nd);
        return NULL;
    }
    if (nkeys <= 0 || !keys) {
        mr_err_set(err, MR_EINVAL, "node '%s': sort needs at least one key", nd);
        mr_op_close(child);
        return NULL;
    }
    sort_op *s = calloc(1, sizeof *s);
    if (!s) {
        mr_err_oom(err, nd);
        mr_op_close(child);
        return NULL;
    }
    mr_op_init(&s->op, &sort_vt, child, nd);
    s->nkeys = nkeys;
    s->limit = limit < 0 ? -1 : limit;
    s->ncols = child->schema->nfields;
    s->op.schema = mr_schema_copy(child->schema);
    s->keycol = malloc((size_t)nkeys * sizeof *s->keycol);
    s->desc = malloc((size_t)nkeys);
    s->nfirst = malloc((size_t)nkeys);
    if (!s->op.schema || !s->keycol || !s->desc || !s->nfirst) {
        mr_err_oom(err, nd);
        mr_op_close(&s->op);
        return NULL;
    }
    for (int k = 0; k < nkeys; k++) {
        s->keycol[k] = mr_schema_find(child->schema, keys[k]);
        if (s->keycol[k] < 0) {
            mr_err_set(err, MR_ENOTFOUND, "node '%s': sort key '%s' is not a column of the input",
                       nd, keys[k]);
            mr_op_close(&s->op);
            return NULL;
        }
        s->desc[k] = desc && desc[k] ? 1 : 0;
        s->nfirst[k] = nulls_first ? (nulls_first[k] ? 1 : 0) : s->desc[k];
    }
    return &s->op;
}

size_t mr_sort_memory(const mr_op *op)
{
    if (!op || op->vt != &sort_vt)
        return 0;
    const sort_op *s = (const sort_op *)op;
    size_t b = s->kcap + s->koff_cap * sizeof(size_t) + s->ents_cap * sizeof(sort_ent) +
               s->scratch_cap * (sizeof(uint32_t) + sizeof(size_t)) + s->thr_cap;
    if (s->cols)
        for (int c = 0; c < s->ncols; c++) {
            const mr_column *col = &s->cols[c];
            b += (col->cap + 7) / 8 + col->chars_cap;
            b += col->type.id == MR_T_STRING ? (col->cap + 1) * 4
                                             : col->cap * mr_type_width(col->type);
        }
    if (s->out)
        b += mr_batch_bytes(s->out);
    return b;
}
