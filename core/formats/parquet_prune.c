/* parquet_prune.c - skipping Parquet row groups by their statistics.
 *
 * The scan's pushed-down condition (ReadSpec.filter, dag/pushdown.c) is
 * parsed and bound against the scan's schema once per split.  Its AND
 * terms of the forms  column op constant  (op one of = <> < <= > >=, the
 * constant on either side; BETWEEN arrives as two of them) and
 * column IN (constants)  are checked against each row group's min and
 * max of that column: a group where one of them cannot be true for any
 * row is not read.  NULL rows never make a comparison true, so
 * statistics over the non-NULL values suffice, and a group whose values
 * are all NULL matches none.
 *
 * Only statistics whose order is the column's own are used: integers,
 * dates and decimals stored as INT32/INT64 and read without conversion
 * (signed order, either the old or the new min/max fields), and strings
 * (BYTE_ARRAY, new fields only: unsigned byte order, which is UTF-8's
 * code point order and the order millrace compares strings in).  Floats
 * (NaN), timestamps in other units and anything converted are left alone,
 * as is every other form of term: such a group is read, so the scan's
 * filter still decides every row.
 */
#include "core/formats/parquet_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/expr_int.h"

struct pq_prune {
    mr_expr *e;
};

int pq_prune_create(const char *filter, const mr_schema *schema, pq_prune **out, mr_err *err)
{
    *out = NULL;
    if (!filter || !filter[0])
        return 0;
    pq_prune *p = calloc(1, sizeof *p);
    if (!p)
        return mr_err_set(err, MR_ENOMEM, "out of memory");
    mr_err e2;
    mr_err_clear(&e2);
    if (mr_expr_parse(filter, &p->e, &e2) < 0 || mr_expr_bind(p->e, schema, &e2) < 0) {
        /* the scan's filter reports it; pruning just does not happen */
        pq_prune_free(p);
        return 0;
    }
    *out = p;
    return 0;
}

void pq_prune_free(pq_prune *p)
{
    if (!p)
        return;
    mr_expr_destroy(p->e);
    free(p);
}

/* A statistic as the column's value: integers sign-extended from the
 * physical width; 0 when it cannot be read. */
static int stat_int(const uint8_t *v, uint32_t n, int ptype, int64_t *out)
{
    if (ptype == PQ_INT32 && n == 4) {
        int32_t x;
        memcpy(&x, v, 4);
        *out = x;
        return 1;
    }
    if (ptype == PQ_INT64 && n == 8) {
        memcpy(out, v, 8);
        return 1;
    }
    return 0;
}

static int cmp_bytes(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    int c = memcmp(a, b, na < nb ? na : nb);
    return c ? c : (na < nb ? -1 : na > nb);
}

/* -1, 0, 1: literal l against statistic value v (min or max). */
typedef struct pq_range {
    int kind; /* 1 integer, 2 string */
    int64_t lo, hi;
    const uint8_t *slo, *shi;
    uint32_t nlo, nhi;
} pq_range;

static int cmp_lit(const pq_range *r, const expr__node *lit, int hi)
{
    if (r->kind == 1) {
        int64_t v = hi ? r->hi : r->lo;
        return lit->li < v ? -1 : lit->li > v;
    }
    return cmp_bytes((const uint8_t *)lit->ls, lit->lslen, hi ? r->shi : r->slo,
                     hi ? r->nhi : r->nlo);
}

/* Whether  column op lit  can hold for some value in [lo, hi]. */
static int may_cmp(const pq_range *r, int op, const expr__node *lit)
{
    int vs_lo = cmp_lit(r, lit, 0), vs_hi = cmp_lit(r, lit, 1);
    switch (op) {
    case ECMP_EQ: return vs_lo >= 0 && vs_hi <= 0;
    case ECMP_NE: return !(vs_lo == 0 && vs_hi == 0);
    case ECMP_LT: return vs_lo > 0;  /* some value < lit: lo < lit */
    case ECMP_LE: return vs_lo >= 0;
    case ECMP_GT: return vs_hi < 0;  /* hi > lit */
    case ECMP_GE: return vs_hi <= 0;
    default: return 1;
    }
}

static int flip(int op)
{
    switch (op) {
    case ECMP_LT: return ECMP_GT;
    case ECMP_LE: return ECMP_GE;
    case ECMP_GT: return ECMP_LT;
    case ECMP_GE: return ECMP_LE;
    default: return op;
    }
}

/* A literal usable against column type t. */
static int lit_ok(const expr__node *n, mr_type t)
{
    return n->kind == EN_LIT && !n->lnull && mr_type_equal(n->type, t) &&
           (t.id != MR_T_STRING || n->ls);
}

/* The range of column col in row group rg: 0 when unknown, -1 when every
 * value is NULL (nothing matches), 1 with *r. */
static int col_range(const pq_prune_cols *pc, const pq_row_group *rg, int col, mr_type t,
                     pq_range *r)
{
    if (col < 0 || col >= pc->n || pc->leaf[col] < 0 || (uint32_t)pc->leaf[col] >= rg->ncols)
        return 0;
    const pq_chunk *ch = &rg->cols[pc->leaf[col]];
    if (ch->null_count >= 0 && rg->num_rows > 0 && ch->null_count == rg->num_rows)
        return -1;
    if (!ch->min || !ch->max || !pc->usable[col])
        return 0;
    memset(r, 0, sizeof *r);
    if (t.id == MR_T_STRING) {
        if (ch->legacy_minmax || pc->ptype[col] != PQ_BYTE_ARRAY)
            return 0;
        r->kind = 2;
        r->slo = ch->min;
        r->nlo = ch->min_len;
        r->shi = ch->max;
        r->nhi = ch->max_len;
        return 1;
    }
    if (!stat_int(ch->min, ch->min_len, pc->ptype[col], &r->lo) ||
        !stat_int(ch->max, ch->max_len, pc->ptype[col], &r->hi) || r->lo > r->hi)
        return 0;
    r->kind = 1;
    return 1;
}

/* Whether term n can be true for some row of rg (1 when unsure). */
static int may_match(const pq_prune_cols *pc, const mr_schema *s, const pq_row_group *rg,
                     const expr__node *n)
{
    if (n->kind == EN_AND)
        return may_match(pc, s, rg, n->kids[0]) && may_match(pc, s, rg, n->kids[1]);
    const expr__node *col = n->nkids > 0 ? n->kids[0] : NULL;
    if (n->kind == EN_CMP && n->nkids == 2) {
        int op = n->op;
        const expr__node *lit = n->kids[1];
        if (col->kind != EN_COL) {
            col = n->kids[1];
            lit = n->kids[0];
            op = flip(op);
        }
        if (col->kind != EN_COL || col->col < 0 || col->col >= s->nfields)
            return 1;
        mr_type t = s->fields[col->col].type;
        if (!lit_ok(lit, t))
            return 1;
        pq_range r;
        int k = col_range(pc, rg, col->col, t, &r);
        return k == 0 ? 1 : k < 0 ? 0 : may_cmp(&r, op, lit);
    }
    if (n->kind == EN_IN && !n->negate && col && col->kind == EN_COL && col->col >= 0 &&
        col->col < s->nfields) {
        mr_type t = s->fields[col->col].type;
        for (int i = 1; i < n->nkids; i++)
            if (!lit_ok(n->kids[i], t))
                return 1;
        pq_range r;
        int k = col_range(pc, rg, col->col, t, &r);
        if (k <= 0)
            return k == 0;
        for (int i = 1; i < n->nkids; i++)
            if (may_cmp(&r, ECMP_EQ, n->kids[i]))
                return 1;
        return 0;
    }
    return 1;
}

int pq_prune_keep(const pq_prune *p, const pq_prune_cols *pc, const mr_schema *schema,
                  const pq_row_group *rg)
{
    if (!p || !p->e || !p->e->root)
        return 1;
    return may_match(pc, schema, rg, p->e->root);
}
