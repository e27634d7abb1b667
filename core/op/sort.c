/* sort.c - ORDER BY by normalized keys, with a bounded top-N mode.
 *
 * Algorithm.  open() drains the child.  Every live input row is copied into
 * the operator's row store (one growing mr_column per output column) and
 * its sort keys are encoded into one byte string, the "normalized key",
 * chosen so that comparing two rows is a single memcmp of their keys:
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
 * by doubling, nothing is allocated per row.  No spilling yet (sort.h).
 */
#include "core/op/sort.h"

#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
} sort_op;

static const mr_op_vtable sort_vt;

/* ---- Key parsing --------------------------------------------------------- */

static bool word_eq(const char *p, size_t n, const char *w)
{
    return strlen(w) == n && strncasecmp(p, w, n) == 0;
}

int mr_sort_key_parse(const char *text, char **col, int *desc, int *nulls_first, mr_err *err)
{
    *col = NULL;
    const char *p = text ? text : "";
    while (isspace((unsigned char)*p))
        p++;
    char *name = NULL;
    if (*p == '"') {
        size_t len = strlen(p);
        name = malloc(len + 1);
        if (!name)
            return mr_err_set(err, MR_ENOMEM, "out of memory");
        size_t o = 0;
        p++;
        for (;;) {
            if (!*p) {
                free(name);
                return mr_err_set(err, MR_EINVAL, "sort key '%s': unterminated quoted name", text);
            }
            if (*p == '"') {
                if (p[1] != '"')
                    break;
                p++;
            }
            name[o++] = *p++;
        }
        p++;
        name[o] = '\0';
        if (o == 0) {
            free(name);
            return mr_err_set(err, MR_EINVAL, "sort key '%s': empty column name", text);
        }
    } else {
        const char *s = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        if (p == s)
            return mr_err_set(err, MR_EINVAL, "sort key '%s': no column name", text);
        name = strndup(s, (size_t)(p - s));
        if (!name)
            return mr_err_set(err, MR_ENOMEM, "out of memory");
    }
    /* Then up to three words: [asc|desc] [nulls first|last]. */
    const char *w[4];
    size_t wn[4];
    int nw = 0;
    for (;;) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        if (nw == 4) {
            nw++;
            break;
        }
        w[nw] = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        wn[nw] = (size_t)(p - w[nw]);
        nw++;
    }
    int d = 0, nf = -1, i = 0;
    if (i < nw && word_eq(w[i], wn[i], "asc"))
        i++;
    else if (i < nw && word_eq(w[i], wn[i], "desc"))
        d = 1, i++;
    if (i + 1 < nw && word_eq(w[i], wn[i], "nulls")) {
        if (word_eq(w[i + 1], wn[i + 1], "first"))
            nf = 1;
        else if (word_eq(w[i + 1], wn[i + 1], "last"))
            nf = 0;
        else
            i = nw + 1; /* error below */
        i += 2;
    }
    if (i != nw) {
        free(name);
        return mr_err_set(err, MR_EINVAL,
                          "sort key '%s': expected \"column [asc|desc] [nulls first|last]\"",
                          text);
    }
    *col = name;
    *desc = d;
    *nulls_first = nf < 0 ? d : nf;
    return 0;
}

/* ---- Row store ----------------------------------------------------------- */

/* Appends rows src[rows[0..m)] of src to dst starting at dst row `at`
 * (dst rows must be filled in order for strings).  0 or a negative code. */
static int gather(mr_column *dst, size_t at, const mr_column *src, const uint32_t *rows, size_t m)
{
    int rc = mr_column_reserve(dst, at + m);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < m; i++)
        mr_column_set_valid(dst, at + i, mr_column_is_valid(src, rows[i]));
    switch (dst->type.id) {
    case MR_T_STRING: {
        size_t total = 0;
        for (size_t i = 0; i < m; i++)
            total += src->offsets[rows[i] + 1] - src->offsets[rows[i]];
        size_t used = dst->offsets[at];
        if ((rc = mr_column_reserve_chars(dst, used, total)) < 0)
            return rc;
        for (size_t i = 0; i < m; i++) {
            uint32_t s = src->offsets[rows[i]], len = src->offsets[rows[i] + 1] - s;
            if (len)
                memcpy(dst->chars + used, src->chars + s, len);
            used += len;
            dst->offsets[at + i + 1] = (uint32_t)used;
        }
        break;
    }
    case MR_T_BOOL:
        for (size_t i = 0; i < m; i++)
            MR_COL_U8(dst)[at + i] = MR_COL_U8(src)[rows[i]];
        break;
    case MR_T_INT32:
    case MR_T_DATE:
        for (size_t i = 0; i < m; i++)
            MR_COL_I32(dst)[at + i] = MR_COL_I32(src)[rows[i]];
        break;
    default:
        for (size_t i = 0; i < m; i++)
            MR_COL_I64(dst)[at + i] = MR_COL_I64(src)[rows[i]];
        break;
    }
    return 0;
}

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
            gather(&nc[c], 0, &s->cols[c], idx, keep) < 0)
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
        if ((rc = gather(&s->cols[c], s->n, &b->cols[c], s->rows, m)) < 0)
            return rc;
    s->n += m;
    if (s->limit >= 0 && s->limit < (INT64_C(1) << 40) &&
        s->n >= 2 * (size_t)s->limit + MR_BATCH_ROWS)
        return cut_store(s);
    return 0;
}

/* ---- Lifecycle ----------------------------------------------------------- */

static int sort_fail(sort_op *s, int rc, mr_err *err)
{
    if (rc == MR_ETOOBIG)
        return mr_err_set(err, rc,
                          "node '%s': sort input too large (more than 4 GiB of one string "
                          "column or 2^32 rows); external sort is not implemented yet",
                          s->op.node);
    return mr_err_set(err, rc, "node '%s': out of memory sorting %zu rows", s->op.node, s->n);
}

static int sort_open(mr_op *op, mr_err *err)
{
    sort_op *s = (sort_op *)op;
    if (s->opened)
        return 0;
    int rc = mr_op_open(op->child, err);
    if (rc < 0)
        return rc;
    s->cols = calloc((size_t)s->ncols, sizeof *s->cols);
    s->out = mr_batch_create(op->schema, MR_BATCH_ROWS);
    if (!s->cols || !s->out || ensure_keys(s, 0, 0) < 0)
        return mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", op->node);
    for (int c = 0; c < s->ncols; c++)
        if (mr_column_init(&s->cols[c], op->schema->fields[c].type, MR_BATCH_ROWS) < 0)
            return mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", op->node);
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
        }
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
        if ((rc = gather(&b->cols[c], 0, &s->cols[c], s->rows, m)) < 0)
            return sort_fail(s, rc, err);
    b->nrows = m;
    s->emitted += m;
    *out = b;
    return MR_NEXT_BATCH;
}

static void sort_close(mr_op *op)
{
    sort_op *s = (sort_op *)op;
    mr_op_close(op->child);
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
        mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", nd);
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
        mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", nd);
        sort_close(&s->op);
        return NULL;
    }
    for (int k = 0; k < nkeys; k++) {
        s->keycol[k] = mr_schema_find(child->schema, keys[k]);
        if (s->keycol[k] < 0) {
            mr_err_set(err, MR_ENOTFOUND, "node '%s': sort key '%s' is not a column of the input",
                       nd, keys[k]);
            sort_close(&s->op);
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
