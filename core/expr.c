/* expr.c - binding of expressions (names to columns, types, implicit casts,
 * constant folding) and the public entry points of core/expr.h.
 *
 * Binding walks the tree bottom-up.  For each operator it picks the operand
 * type PostgreSQL would, and inserts an EN_CAST node where an operand must
 * change type, so the evaluator only ever sees operands of matching physical
 * types.  Numeric widening goes int32 -> int64 -> decimal -> float64.  A
 * quoted string literal starts "unknown" (as in PostgreSQL) and takes the
 * type of the other operand, so `day >= '2024-01-01'` compares dates.
 *
 * Decimal results (p capped at 18, overflow checked at run time against
 * 10^p):
 *   a + b, a - b   scale max(s1,s2), precision max(p1-s1,p2-s2)+scale+1
 *   a * b          scale s1+s2 (at most 18), precision p1+p2
 *   a / b          scale max(s1,s2,6), precision 18, rounded half away
 *                  from zero
 *   a % b          scale max(s1,s2)
 * An int operand of a decimal operation is taken as decimal(10,0) (int32)
 * or decimal(18,0) (int64).
 *
 * Every node whose operands are all literals is evaluated once at bind time
 * and replaced by a literal (so `1/0` and `DATE 'x'`-style mistakes are found
 * before any data flows, with the offset of the culprit).
 *
 * Bare column names match exactly first, then case-insensitively when that
 * match is unique (YAML authors often write `Amount` for a CSV header
 * `amount`); quoted names match exactly.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/expr_int.h"

int expr__err_at(mr_err *err, int code, int off, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->offset = off;
    }
    return code;
}

int expr__edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return 1000;
    int row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int ca = a[i - 1] >= 'A' && a[i - 1] <= 'Z' ? a[i - 1] + 32 : a[i - 1];
            int cb = b[j - 1] >= 'A' && b[j - 1] <= 'Z' ? b[j - 1] + 32 : b[j - 1];
            int best = diag + (ca != cb);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static char *tname(mr_type t, char *buf)
{
    return (char *)mr_type_name(t, buf, 32);
}

static bool is_int(mr_type t)
{
    return t.id == MR_T_INT32 || t.id == MR_T_INT64;
}

/* The decimal type an integer type widens to. */
static mr_type as_decimal(mr_type t)
{
    if (t.id == MR_T_INT32)
        return mr_type_decimal(10, 0);
    if (t.id == MR_T_INT64)
        return mr_type_decimal(18, 0);
    return t;
}

static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }

/* Expressions widen by MR_WIDEN_EXPR (core/types.h). */
int expr__common_type(mr_type a, mr_type b, mr_type *out)
{
    return mr_type_common(a, b, &MR_WIDEN_EXPR, out) < 0 ? -1 : 0;
}

/* Replaces the all-literal subtree at *slot by the literal it evaluates to. */
static int fold(expr__node **slot, mr_err *err)
{
    expr__node *n = *slot;
    mr_batch b;
    memset(&b, 0, sizeof b);
    b.nrows = 1;
    b.cap = 1;
    mr_column *res;
    int rc = expr__eval(n, &b, NULL, 1, &res, err);
    if (rc < 0) {
        if (err && err->offset < 0)
            err->offset = n->off;
        return rc;
    }
    expr__node *lit = expr__node_new(EN_LIT, n->off);
    if (!lit)
        return mr_err_set(err, MR_ENOMEM, "out of memory binding an expression");
    lit->type = n->type;
    if (!mr_column_is_valid(res, 0)) {
        lit->lnull = true;
    } else {
        switch (n->type.id) {
        case MR_T_STRING: {
            size_t len;
            const char *s = mr_column_str(res, 0, &len);
            if (!(lit->ls = malloc(len + 1))) {
                expr__node_free(lit);
                return mr_err_set(err, MR_ENOMEM, "out of memory binding an expression");
            }
            memcpy(lit->ls, s, len);
            lit->ls[len] = '\0';
            lit->lslen = len;
            break;
        }
        case MR_T_FLOAT64: lit->lf = MR_COL_F64(res)[0]; break;
        case MR_T_BOOL: lit->li = MR_COL_U8(res)[0]; break;
        case MR_T_INT32:
        case MR_T_DATE: lit->li = MR_COL_I32(res)[0]; break;
        case MR_T_NULL: lit->lnull = true; break;
        case MR_T_INTERVAL: lit->liv = *(const mr_interval *)res->data; break;
        default: lit->li = MR_COL_I64(res)[0]; break;
        }
    }
    expr__node_free(n);
    *slot = lit;
    return 0;
}

int expr__coerce(expr__node **slot, mr_type t, mr_err *err)
{
    expr__node *k = *slot;
    char b1[32], b2[32];
    if (k->unknown && t.id == MR_T_STRING) {
        k->unknown = false;
        return 0;
    }
    if (mr_type_equal(k->type, t) && !k->unknown)
        return 0;
    if (k->type.id == MR_T_DECIMAL && t.id == MR_T_DECIMAL && k->type.scale == t.scale &&
        k->type.precision <= t.precision)
        return 0; /* same scaled integers, and they fit */
    if (k->kind == EN_LIT && k->lnull) {
        k->type = t;
        k->unknown = false;
        return 0;
    }
    if (!expr__castable(k->type, t))
        return expr__err_at(err, MR_ETYPE, k->off, "cannot convert %s to %s",
                            tname(k->type, b1), tname(t, b2));
    expr__node *c = expr__node_new(EN_CAST, k->off);
    if (!c)
        return mr_err_set(err, MR_ENOMEM, "out of memory binding an expression");
    c->target = t;
    c->type = t;
    if (expr__add_kid(c, k) < 0) {
        *slot = NULL;
        return mr_err_set(err, MR_ENOMEM, "out of memory binding an expression");
    }
    *slot = c;
    if (k->kind == EN_LIT)
        return fold(slot, err);
    return 0;
}

/* An unknown string literal takes the type of its partner. */
static int adopt(expr__node **a, expr__node **b, mr_err *err)
{
    if ((*a)->unknown && !(*b)->unknown && (*b)->type.id != MR_T_NULL &&
        (*b)->type.id != MR_T_STRING)
        return expr__coerce(a, (*b)->type, err);
    if ((*b)->unknown && !(*a)->unknown && (*a)->type.id != MR_T_NULL &&
        (*a)->type.id != MR_T_STRING)
        return expr__coerce(b, (*a)->type, err);
    return 0;
}

static int unify2(expr__node *n, const char *what, mr_err *err)
{
    int rc = adopt(&n->kids[0], &n->kids[1], err);
    if (rc < 0)
        return rc;
    mr_type t;
    char b1[32], b2[32];
    if (expr__common_type(n->kids[0]->type, n->kids[1]->type, &t) < 0)
        return expr__err_at(err, MR_ETYPE, n->off, "cannot %s %s and %s", what,
                            tname(n->kids[0]->type, b1), tname(n->kids[1]->type, b2));
    if (t.id == MR_T_NULL)
        t = mr_type_make(MR_T_STRING);
    if ((rc = expr__coerce(&n->kids[0], t, err)) < 0 ||
        (rc = expr__coerce(&n->kids[1], t, err)) < 0)
        return rc;
    return 0;
}

static int need_bool(expr__node **slot, const char *what, mr_err *err)
{
    expr__node *k = *slot;
    char b[32];
    if (k->type.id == MR_T_NULL || k->unknown) {
        int rc = expr__coerce(slot, mr_type_make(MR_T_BOOL), err);
        if (rc < 0)
            return rc;
        k = *slot;
    }
    if (k->type.id != MR_T_BOOL)
        return expr__err_at(err, MR_ETYPE, k->off, "%s needs a bool, got %s", what,
                            tname(k->type, b));
    return 0;
}

static const char *const op_names[] = {"+", "-", "*", "/", "%"};

static int bind_arith(expr__node *n, mr_err *err)
{
    int rc = expr__time_bind_arith(n, err); /* timestamps and intervals */
    if (rc != 0)
        return rc < 0 ? rc : 0;
    if ((rc = adopt(&n->kids[0], &n->kids[1], err)) < 0)
        return rc;
    mr_type a = n->kids[0]->type, b = n->kids[1]->type;
    char b1[32], b2[32];
    if (a.id == MR_T_NULL && b.id == MR_T_NULL)
        a = b = mr_type_make(MR_T_INT32);
    else if (a.id == MR_T_NULL)
        a = b;
    else if (b.id == MR_T_NULL)
        b = a;
    if ((rc = expr__coerce(&n->kids[0], a, err)) < 0 || (rc = expr__coerce(&n->kids[1], b, err)) < 0)
        return rc;
    /* date arithmetic: date +/- int -> date, date - date -> int32 */
    if (n->op == EOP_ADD && is_int(a) && b.id == MR_T_DATE) {
        expr__node *t = n->kids[0];
        n->kids[0] = n->kids[1];
        n->kids[1] = t;
        mr_type tt = a;
        a = b;
        b = tt;
    }
    if (a.id == MR_T_DATE && (n->op == EOP_ADD || n->op == EOP_SUB) && is_int(b)) {
        n->type = a;
        return expr__coerce(&n->kids[1], mr_type_make(MR_T_INT32), err);
    }
    if (a.id == MR_T_DATE && b.id == MR_T_DATE && n->op == EOP_SUB) {
        n->type = mr_type_make(MR_T_INT32);
        return 0;
    }
    if (!mr_type_is_numeric(a) || !mr_type_is_numeric(b))
        return expr__err_at(err, MR_ETYPE, n->off, "operator '%s' cannot apply to %s and %s",
                            op_names[n->op], tname(a, b1), tname(b, b2));
    mr_type ta, tb, r;
    if (a.id == MR_T_FLOAT64 || b.id == MR_T_FLOAT64) {
        ta = tb = r = mr_type_make(MR_T_FLOAT64);
    } else if (a.id == MR_T_DECIMAL || b.id == MR_T_DECIMAL) {
        mr_type x = as_decimal(a), y = as_decimal(b);
        int s, id = imax(x.precision - x.scale, y.precision - y.scale);
        switch (n->op) {
        case EOP_MUL:
            s = x.scale + y.scale;
            if (s > MR_DECIMAL_MAX_PRECISION)
                return expr__err_at(err, MR_ETYPE, n->off,
                                    "decimal product scale %d is over 18 (cast an operand to "
                                    "a smaller scale or to float64)", s);
            ta = x;
            tb = y;
            r = mr_type_decimal(imin(18, x.precision + y.precision), s);
            break;
        case EOP_DIV:
            s = imin(18, imax(imax(x.scale, y.scale), 6));
            if (s + y.scale - x.scale > 20)
                return expr__err_at(err, MR_ETYPE, n->off,
                                    "decimal division with these scales loses exactness "
                                    "(cast to float64)");
            ta = x;
            tb = y;
            r = mr_type_decimal(18, s);
            break;
        default:
            s = imax(x.scale, y.scale);
            ta = mr_type_decimal(imin(18, x.precision - x.scale + s), s);
            tb = mr_type_decimal(imin(18, y.precision - y.scale + s), s);
            r = mr_type_decimal(imin(18, id + s + (n->op == EOP_MOD ? 0 : 1)), s);
            break;
        }
    } else {
        ta = tb = r = mr_type_make(a.id == MR_T_INT64 || b.id == MR_T_INT64 ? MR_T_INT64
                                                                             : MR_T_INT32);
    }
    if ((rc = expr__coerce(&n->kids[0], ta, err)) < 0 ||
        (rc = expr__coerce(&n->kids[1], tb, err)) < 0)
        return rc;
    n->type = r;
    return 0;
}

static int bind_in(expr__node *n, mr_err *err)
{
    mr_type t = n->kids[0]->type;
    bool unknown = n->kids[0]->unknown;
    char b1[32], b2[32];
    for (int i = 1; i < n->nkids; i++) {
        expr__node *k = n->kids[i];
        if (k->unknown && !unknown)
            continue;
        if (unknown && !k->unknown && k->type.id != MR_T_NULL) {
            t = k->type;
            unknown = false;
            continue;
        }
        mr_type c;
        if (expr__common_type(t, k->type, &c) < 0)
            return expr__err_at(err, MR_ETYPE, k->off, "IN list item of type %s does not match %s",
                                tname(k->type, b1), tname(t, b2));
        t = c;
    }
    if (t.id == MR_T_NULL)
        t = mr_type_make(MR_T_STRING);
    for (int i = 0; i < n->nkids; i++) {
        int rc = expr__coerce(&n->kids[i], t, err);
        if (rc < 0)
            return rc;
    }
    n->type = mr_type_make(MR_T_BOOL);
    return 0;
}

/* Result slots of a CASE: kids 1, 3, 5, ... and the ELSE (the last kid). */
static int case_result(const expr__node *n, int r, int npairs)
{
    return r < npairs ? 2 * r + 1 : n->nkids - 1;
}

static int bind_case(expr__node *n, mr_err *err)
{
    int npairs = (n->nkids - (n->has_else ? 1 : 0)) / 2;
    int nres = npairs + (n->has_else ? 1 : 0);
    mr_type t = mr_type_make(MR_T_NULL);
    char b1[32], b2[32];
    int rc;
    for (int i = 0; i < npairs; i++)
        if ((rc = need_bool(&n->kids[2 * i], "WHEN", err)) < 0)
            return rc;
    for (int r = 0; r < nres; r++) {
        expr__node *k = n->kids[case_result(n, r, npairs)];
        if (k->unknown)
            continue;
        mr_type c;
        if (expr__common_type(t, k->type, &c) < 0)
            return expr__err_at(err, MR_ETYPE, k->off, "CASE results mix %s and %s",
                                tname(t, b1), tname(k->type, b2));
        t = c;
    }
    if (t.id == MR_T_NULL)
        t = mr_type_make(MR_T_STRING);
    for (int r = 0; r < nres; r++)
        if ((rc = expr__coerce(&n->kids[case_result(n, r, npairs)], t, err)) < 0)
            return rc;
    n->type = t;
    return 0;
}

static int bind_col(expr__node *n, const mr_schema *s, mr_err *err)
{
    int idx = mr_schema_find(s, n->name);
    if (idx < 0 && !n->quoted) {
        int hits = 0;
        for (int i = 0; i < s->nfields; i++)
            if (strcasecmp(s->fields[i].name, n->name) == 0) {
                idx = i;
                hits++;
            }
        if (hits != 1)
            idx = -1;
    }
    if (idx < 0) {
        int best = -1, bestd = 1 << 30;
        for (int i = 0; i < s->nfields; i++) {
            int d = expr__edit_distance(n->name, s->fields[i].name);
            if (d < bestd) {
                bestd = d;
                best = i;
            }
        }
        int len = (int)strlen(n->name);
        if (best >= 0 && (bestd <= 2 || bestd <= len / 3) && bestd < len)
            return expr__err_at(err, MR_ENOTFOUND, n->off,
                                "unknown column '%s' (did you mean '%s'?)", n->name,
                                s->fields[best].name);
        return expr__err_at(err, MR_ENOTFOUND, n->off, "unknown column '%s'", n->name);
    }
    if (strcmp(s->fields[idx].name, n->name) != 0) {
        char *c = strdup(s->fields[idx].name);
        if (!c)
            return mr_err_set(err, MR_ENOMEM, "out of memory binding an expression");
        free(n->name);
        n->name = c;
    }
    n->col = idx;
    n->type = s->fields[idx].type;
    return 0;
}

static int bind_node(expr__node **slot, const mr_schema *s, mr_err *err)
{
    expr__node *n = *slot;
    int rc;
    char b1[32], b2[32];
    for (int i = 0; i < n->nkids; i++)
        if ((rc = bind_node(&n->kids[i], s, err)) < 0)
            return rc;
    switch (n->kind) {
    case EN_LIT:
        return 0;
    case EN_COL:
        return bind_col(n, s, err);
    case EN_NEG:
        if (n->kids[0]->type.id == MR_T_NULL || n->kids[0]->unknown)
            if ((rc = expr__coerce(&n->kids[0], mr_type_make(MR_T_INT32), err)) < 0)
                return rc;
        if (!mr_type_is_numeric(n->kids[0]->type) && n->kids[0]->type.id != MR_T_INTERVAL)
            return expr__err_at(err, MR_ETYPE, n->off, "unary '-' cannot apply to %s",
                                tname(n->kids[0]->type, b1));
        n->type = n->kids[0]->type;
        break;
    case EN_NOT:
        if ((rc = need_bool(&n->kids[0], "NOT", err)) < 0)
            return rc;
        n->type = mr_type_make(MR_T_BOOL);
        break;
    case EN_AND:
    case EN_OR:
        if ((rc = need_bool(&n->kids[0], n->kind == EN_AND ? "AND" : "OR", err)) < 0 ||
            (rc = need_bool(&n->kids[1], n->kind == EN_AND ? "AND" : "OR", err)) < 0)
            return rc;
        n->type = mr_type_make(MR_T_BOOL);
        break;
    case EN_ARITH:
        if ((rc = bind_arith(n, err)) < 0)
            return rc;
        break;
    case EN_CMP:
    case EN_DISTINCT:
        if ((rc = unify2(n, "compare", err)) < 0)
            return rc;
        n->type = mr_type_make(MR_T_BOOL);
        break;
    case EN_ISNULL:
        n->type = mr_type_make(MR_T_BOOL);
        break;
    case EN_IN:
        if ((rc = bind_in(n, err)) < 0)
            return rc;
        break;
    case EN_LIKE:
        for (int i = 0; i < 2; i++) {
            expr__node *k = n->kids[i];
            if (k->type.id == MR_T_NULL || k->unknown)
                if ((rc = expr__coerce(&n->kids[i], mr_type_make(MR_T_STRING), err)) < 0)
                    return rc;
            if (n->kids[i]->type.id != MR_T_STRING)
                return expr__err_at(err, MR_ETYPE, n->kids[i]->off, "%s needs strings, got %s",
                                    n->ci ? "ILIKE" : "LIKE", tname(n->kids[i]->type, b1));
        }
        n->type = mr_type_make(MR_T_BOOL);
        break;
    case EN_CASE:
        if ((rc = bind_case(n, err)) < 0)
            return rc;
        break;
    case EN_CAST:
        if (n->kids[0]->unknown)
            n->kids[0]->unknown = false;
        if (!expr__castable(n->kids[0]->type, n->target))
            return expr__err_at(err, MR_ETYPE, n->off, "cannot cast %s to %s",
                                tname(n->kids[0]->type, b1), tname(n->target, b2));
        n->type = n->target;
        break;
    case EN_CONCAT: {
        mr_type a = n->kids[0]->type, b = n->kids[1]->type;
        bool sa = a.id == MR_T_STRING || a.id == MR_T_NULL || n->kids[0]->unknown;
        bool sb = b.id == MR_T_STRING || b.id == MR_T_NULL || n->kids[1]->unknown;
        if (!sa && !sb)
            return expr__err_at(err, MR_ETYPE, n->off, "operator '||' cannot apply to %s and %s",
                                tname(a, b1), tname(b, b2));
        if ((rc = expr__coerce(&n->kids[0], mr_type_make(MR_T_STRING), err)) < 0 ||
            (rc = expr__coerce(&n->kids[1], mr_type_make(MR_T_STRING), err)) < 0)
            return rc;
        n->type = mr_type_make(MR_T_STRING);
        break;
    }
    case EN_FUNC:
        if ((rc = expr__func_bind(n, err)) < 0)
            return rc;
        break;
    }
    for (int i = 0; i < n->nkids; i++)
        if (n->kids[i]->kind != EN_LIT)
            return 0;
    return fold(slot, err);
}

int mr_expr_bind(mr_expr *e, const mr_schema *schema, mr_err *err)
{
    if (e->bound)
        return expr__err_at(err, MR_EINVAL, 0, "expression is already bound");
    int rc = bind_node(&e->root, schema, err);
    if (rc == 0 && (e->root->type.id == MR_T_NULL || e->root->unknown))
        rc = expr__coerce(&e->root, mr_type_make(MR_T_STRING), err);
    if (rc == 0 && e->root->type.id == MR_T_INTERVAL)
        rc = expr__err_at(err, MR_ETYPE, e->root->off,
                          "an interval is not a storable column type: cast it to text, or "
                          "take extract(epoch FROM ...) for its seconds");
    if (rc == 0)
        e->bound = true;
    return rc;
}

mr_type mr_expr_type(const mr_expr *e)
{
    return e->root->type;
}

int mr_expr_eval(const mr_expr *ce, const mr_batch *in, mr_column *out, mr_err *err)
{
    /* The tree holds evaluation scratch; see expr.h on threads. */
    mr_expr *e = (mr_expr *)ce;
    if (!e->bound)
        return mr_err_set(err, MR_EINVAL, "expression evaluated before it was bound");
    size_t rows = mr_batch_live(in);
    mr_column *res;
    int rc = expr__eval(e->root, in, in->sel, rows, &res, err);
    if (rc < 0)
        return rc;
    if (mr_column_reserve(out, rows) < 0)
        return mr_err_set(err, MR_ENOMEM, "out of memory evaluating an expression");
    if (rows == 0)
        return 0;
    memcpy(out->valid, res->valid, (rows + 7) / 8);
    if (out->type.id == MR_T_STRING) {
        size_t nchars = res->offsets[rows];
        if (mr_column_reserve_chars(out, 0, nchars) < 0)
            return mr_err_set(err, MR_ENOMEM, "out of memory evaluating an expression");
        memcpy(out->offsets, res->offsets, (rows + 1) * sizeof *out->offsets);
        if (nchars)
            memcpy(out->chars, res->chars, nchars);
    } else {
        memcpy(out->data, res->data, rows * mr_type_width(out->type));
    }
    return 0;
}

const char *mr_expr_column_name(const mr_expr *e)
{
    return e && e->root && e->root->kind == EN_COL ? e->root->name : NULL;
}

void mr_expr_destroy(mr_expr *e)
{
    if (!e)
        return;
    expr__node_free(e->root);
    free(e);
}
