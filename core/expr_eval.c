/* expr_eval.c - vectorized evaluation of bound expression trees.
 *
 * expr__eval(node, batch, sel, rows) evaluates a node over a set of rows of
 * the input batch given as physical row indices (sel; NULL means rows
 * 0..rows-1) and yields a column holding the results densely.  Each node
 * owns its result column (node->out) and a few index arrays, all kept
 * between calls, so steady-state evaluation allocates nothing.  A column
 * reference with no selection returns the batch's own column, uncopied.
 *
 * Kernels are tight loops over whole columns per (operator, type) pair.
 * NULLs live only in validity bitmaps: a binary kernel ANDs the operand
 * bitmaps bytewise and computes every row, then looks at validity only when
 * a row could fail (overflow, division by zero), so a NULL row with junk
 * data never raises an error.
 *
 * Laziness where PostgreSQL guarantees it: CASE evaluates a THEN branch only
 * for the rows that reach it, coalesce evaluates an argument only where the
 * earlier ones were NULL, and AND/OR evaluate their right side only for rows
 * the left side did not decide, so `x <> 0 AND y / x > 1` never divides by
 * zero.  This is done by evaluating the child over a narrowed row set
 * (node->phys) and merging its dense result back by position.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/expr_int.h"

static inline bool vget(const uint8_t *v, size_t i)
{
    return (v[i >> 3] >> (i & 7)) & 1;
}

static inline void vset(uint8_t *v, size_t i, bool b)
{
    if (b)
        v[i >> 3] |= (uint8_t)(1u << (i & 7));
    else
        v[i >> 3] &= (uint8_t)~(1u << (i & 7));
}

static void vand(uint8_t *o, const uint8_t *a, const uint8_t *b, size_t rows)
{
    for (size_t j = 0; j < (rows + 7) / 8; j++)
        o[j] = a[j] & b[j];
}

int expr__out_prep(expr__node *n, size_t rows)
{
    if (!n->out_ready) {
        if (mr_column_init(&n->out, n->type, rows > 64 ? rows : 64) < 0) {
            mr_column_free(&n->out);
            return MR_ENOMEM;
        }
        n->out_ready = true;
        return 0;
    }
    return mr_column_reserve(&n->out, rows);
}

int expr__scratch_prep(expr__node *n, size_t rows)
{
    if (rows <= n->scap && n->phys)
        return 0;
    size_t cap = rows > 64 ? rows : 64;
    uint32_t *a = realloc(n->phys, cap * sizeof *a);
    if (!a)
        return MR_ENOMEM;
    n->phys = a;
    if (!(a = realloc(n->pos, cap * sizeof *a)))
        return MR_ENOMEM;
    n->pos = a;
    if (!(a = realloc(n->idx, cap * sizeof *a)))
        return MR_ENOMEM;
    n->idx = a;
    uint16_t *w = realloc(n->which, cap * sizeof *w);
    if (!w)
        return MR_ENOMEM;
    n->which = w;
    n->scap = cap;
    return 0;
}

/* Physical row indices of the positions pos[0..m) of a (sel, rows) set. */
static void narrow(expr__node *n, const uint32_t *sel, size_t m)
{
    for (size_t k = 0; k < m; k++)
        n->phys[k] = sel ? sel[n->pos[k]] : n->pos[k];
}

int expr__copy_row(mr_column *dst, size_t i, const mr_column *src, size_t k)
{
    bool v = vget(src->valid, k);
    switch (dst->type.id) {
    case MR_T_STRING:
        if (!v) {
            mr_column_set_str_null(dst, i);
            return 0;
        } else {
            size_t len;
            const char *s = mr_column_str(src, k, &len);
            return mr_column_set_str(dst, i, s, len);
        }
    case MR_T_BOOL:
    case MR_T_NULL: MR_COL_U8(dst)[i] = MR_COL_U8(src)[k]; break;
    case MR_T_INT32:
    case MR_T_DATE: MR_COL_I32(dst)[i] = MR_COL_I32(src)[k]; break;
    case MR_T_INTERVAL: ((mr_interval *)dst->data)[i] = ((const mr_interval *)src->data)[k]; break;
    default: MR_COL_I64(dst)[i] = MR_COL_I64(src)[k]; break;
    }
    vset(dst->valid, i, v);
    return 0;
}

/* ---- leaves ------------------------------------------------------------ */

static int eval_lit(expr__node *n, size_t rows, mr_column **res, mr_err *err)
{
    if (expr__out_prep(n, rows) < 0)
        return expr__oom(err);
    mr_column *o = &n->out;
    for (size_t i = n->lit_rows; i < rows; i++) {
        vset(o->valid, i, !n->lnull);
        switch (n->type.id) {
        case MR_T_STRING:
            if (n->lnull)
                mr_column_set_str_null(o, i);
            else if (mr_column_set_str(o, i, n->ls, n->lslen) < 0)
                return expr__oom(err);
            break;
        case MR_T_NULL:
        case MR_T_BOOL: MR_COL_U8(o)[i] = (uint8_t)n->li; break;
        case MR_T_INT32:
        case MR_T_DATE: MR_COL_I32(o)[i] = (int32_t)n->li; break;
        case MR_T_FLOAT64: MR_COL_F64(o)[i] = n->lf; break;
        case MR_T_INTERVAL: ((mr_interval *)o->data)[i] = n->liv; break;
        default: MR_COL_I64(o)[i] = n->li; break;
        }
    }
    if (rows > n->lit_rows)
        n->lit_rows = rows;
    *res = o;
    return 0;
}

static int eval_col(expr__node *n, const mr_batch *in, const uint32_t *sel, size_t rows,
                    mr_column **res, mr_err *err)
{
    mr_column *c = &in->cols[n->col];
    if (!sel) {
        *res = c;
        return 0;
    }
    if (expr__out_prep(n, rows) < 0)
        return expr__oom(err);
    mr_column *o = &n->out;
    switch (c->type.id) {
    case MR_T_STRING: {
        size_t total = 0;
        for (size_t i = 0; i < rows; i++)
            total += c->offsets[sel[i] + 1] - c->offsets[sel[i]];
        if (mr_column_reserve_chars(o, 0, total) < 0)
            return expr__oom(err);
        uint32_t pos = 0;
        for (size_t i = 0; i < rows; i++) {
            uint32_t r = sel[i], st = c->offsets[r], len = c->offsets[r + 1] - st;
            memcpy(o->chars + pos, c->chars + st, len);
            pos += len;
            o->offsets[i + 1] = pos;
        }
        break;
    }
    case MR_T_BOOL:
        for (size_t i = 0; i < rows; i++)
            MR_COL_U8(o)[i] = MR_COL_U8(c)[sel[i]];
        break;
    case MR_T_INT32:
    case MR_T_DATE:
        for (size_t i = 0; i < rows; i++)
            MR_COL_I32(o)[i] = MR_COL_I32(c)[sel[i]];
        break;
    default:
        for (size_t i = 0; i < rows; i++)
            MR_COL_I64(o)[i] = MR_COL_I64(c)[sel[i]];
        break;
    }
    memset(o->valid, 0, (rows + 7) / 8);
    for (size_t i = 0; i < rows; i++)
        o->valid[i >> 3] |= (uint8_t)(vget(c->valid, sel[i]) << (i & 7));
    *res = o;
    return 0;
}

/* ---- arithmetic -------------------------------------------------------- */

static const char opch[] = {'+', '-', '*', '/', '%'};

static int ovf_err(mr_err *err, int op, int64_t x, int64_t y, mr_type t)
{
    char b[32];
    return mr_err_set(err, MR_EOVERFLOW, "%s overflow: %lld %c %lld",
                      mr_type_name(t, b, sizeof b), (long long)x, opch[op], (long long)y);
}

static int dec_ovf_err(mr_err *err, int op, int64_t x, int s1, int64_t y, int s2, mr_type t)
{
    char a[48], b[48], tn[32];
    mr_format_decimal(x, s1, a, sizeof a);
    mr_format_decimal(y, s2, b, sizeof b);
    return mr_err_set(err, MR_EOVERFLOW, "%s overflow: %s %c %s",
                      mr_type_name(t, tn, sizeof tn), a, opch[op], b);
}

#define INT_ADDSUBMUL(T, OPFN)                                                    \
    do {                                                                          \
        const T *x = a->data, *y = b->data;                                       \
        T *r = o->data;                                                           \
        bool bad = false;                                                         \
        for (size_t i = 0; i < rows; i++)                                         \
            bad |= OPFN(x[i], y[i], &r[i]);                                       \
        if (bad)                                                                  \
            for (size_t i = 0; i < rows; i++) {                                   \
                T t;                                                              \
                if (vget(o->valid, i) && OPFN(x[i], y[i], &t))                    \
                    return ovf_err(err, n->op, x[i], y[i], n->type);              \
            }                                                                     \
    } while (0)

#define INT_DIVMOD(T, MINV)                                                       \
    do {                                                                          \
        const T *x = a->data, *y = b->data;                                       \
        T *r = o->data;                                                           \
        for (size_t i = 0; i < rows; i++) {                                       \
            T d = y[i];                                                           \
            if (d == 0) {                                                         \
                if (vget(o->valid, i))                                            \
                    return mr_err_set(err, MR_EDIVZERO, "division by zero");      \
                r[i] = 0;                                                         \
            } else if (d == -1) {                                                 \
                if (n->op == EOP_MOD)                                             \
                    r[i] = 0;                                                     \
                else if (x[i] == MINV) {                                          \
                    if (vget(o->valid, i))                                        \
                        return ovf_err(err, n->op, x[i], d, n->type);             \
                    r[i] = 0;                                                     \
                } else                                                            \
                    r[i] = (T)-x[i];                                              \
            } else                                                                \
                r[i] = n->op == EOP_DIV ? (T)(x[i] / d) : (T)(x[i] % d);          \
        }                                                                         \
    } while (0)

static int arith_int32(expr__node *n, const mr_column *a, const mr_column *b, mr_column *o,
                       size_t rows, mr_err *err)
{
    switch (n->op) {
    case EOP_ADD: INT_ADDSUBMUL(int32_t, __builtin_add_overflow); break;
    case EOP_SUB: INT_ADDSUBMUL(int32_t, __builtin_sub_overflow); break;
    case EOP_MUL: INT_ADDSUBMUL(int32_t, __builtin_mul_overflow); break;
    default: INT_DIVMOD(int32_t, INT32_MIN); break;
    }
    return 0;
}

static int arith_int64(expr__node *n, const mr_column *a, const mr_column *b, mr_column *o,
                       size_t rows, mr_err *err)
{
    switch (n->op) {
    case EOP_ADD: INT_ADDSUBMUL(int64_t, __builtin_add_overflow); break;
    case EOP_SUB: INT_ADDSUBMUL(int64_t, __builtin_sub_overflow); break;
    case EOP_MUL: INT_ADDSUBMUL(int64_t, __builtin_mul_overflow); break;
    default: INT_DIVMOD(int64_t, INT64_MIN); break;
    }
    return 0;
}

static int arith_float(expr__node *n, const mr_column *a, const mr_column *b, mr_column *o,
                       size_t rows, mr_err *err)
{
    const double *x = a->data, *y = b->data;
    double *r = o->data;
    switch (n->op) {
    case EOP_ADD: for (size_t i = 0; i < rows; i++) r[i] = x[i] + y[i]; break;
    case EOP_SUB: for (size_t i = 0; i < rows; i++) r[i] = x[i] - y[i]; break;
    case EOP_MUL: for (size_t i = 0; i < rows; i++) r[i] = x[i] * y[i]; break;
    default:
        for (size_t i = 0; i < rows; i++) {
            if (y[i] == 0) {
                if (vget(o->valid, i))
                    return mr_err_set(err, MR_EDIVZERO, "division by zero");
                r[i] = 0;
            } else {
                r[i] = n->op == EOP_DIV ? x[i] / y[i] : fmod(x[i], y[i]);
            }
        }
    }
    for (size_t i = 0; i < rows; i++)
        if (isinf(r[i]) && !isinf(x[i]) && !isinf(y[i]) && vget(o->valid, i)) {
            char p[48], q[48];
            mr_format_float64(x[i], p, sizeof p);
            mr_format_float64(y[i], q, sizeof q);
            return mr_err_set(err, MR_EOVERFLOW, "float64 overflow: %s %c %s", p, opch[n->op], q);
        }
    return 0;
}

int64_t expr__div_round(expr__i128 num, expr__i128 den)
{
    expr__i128 q = num / den, rem = num % den;
    if (rem < 0)
        rem = -rem;
    expr__i128 ad = den < 0 ? -den : den;
    if (2 * rem >= ad)
        q += ((num < 0) != (den < 0)) ? -1 : 1;
    return (int64_t)q;
}

static int arith_decimal(expr__node *n, const mr_column *a, const mr_column *b, mr_column *o,
                         size_t rows, mr_err *err)
{
    const int64_t *x = a->data, *y = b->data;
    int64_t *r = o->data;
    int64_t lim = mr_pow10[n->type.precision];
    int s1 = a->type.scale, s2 = b->type.scale;
    if (n->op == EOP_DIV) {
        int e = n->type.scale + s2 - s1;
        expr__i128 f = 1;
        for (int k = 0; k < e; k++)
            f *= 10;
        for (size_t i = 0; i < rows; i++) {
            if (y[i] == 0) {
                if (vget(o->valid, i))
                    return mr_err_set(err, MR_EDIVZERO, "division by zero");
                r[i] = 0;
                continue;
            }
            expr__i128 num = (expr__i128)x[i] * f;
            expr__i128 q = num / y[i];
            if (q >= lim || q <= -lim) {
                if (vget(o->valid, i))
                    return dec_ovf_err(err, n->op, x[i], s1, y[i], s2, n->type);
                r[i] = 0;
                continue;
            }
            r[i] = expr__div_round(num, y[i]);
            if ((r[i] >= lim || r[i] <= -lim) && vget(o->valid, i))
                return dec_ovf_err(err, n->op, x[i], s1, y[i], s2, n->type);
        }
        return 0;
    }
    if (n->op == EOP_MOD) {
        for (size_t i = 0; i < rows; i++) {
            if (y[i] == 0) {
                if (vget(o->valid, i))
                    return mr_err_set(err, MR_EDIVZERO, "division by zero");
                r[i] = 0;
            } else {
                r[i] = y[i] == -1 ? 0 : x[i] % y[i];
            }
        }
        return 0;
    }
    bool bad = false;
    for (size_t i = 0; i < rows; i++) {
        int64_t t;
        bool f = n->op == EOP_ADD   ? __builtin_add_overflow(x[i], y[i], &t)
                 : n->op == EOP_SUB ? __builtin_sub_overflow(x[i], y[i], &t)
                                    : __builtin_mul_overflow(x[i], y[i], &t);
        r[i] = t;
        bad |= f | (t >= lim) | (t <= -lim);
    }
    if (bad)
        for (size_t i = 0; i < rows; i++) {
            int64_t t;
            bool f = n->op == EOP_ADD   ? __builtin_add_overflow(x[i], y[i], &t)
                     : n->op == EOP_SUB ? __builtin_sub_overflow(x[i], y[i], &t)
                                        : __builtin_mul_overflow(x[i], y[i], &t);
            if ((f || t >= lim || t <= -lim) && vget(o->valid, i))
                return dec_ovf_err(err, n->op, x[i], s1, y[i], s2, n->type);
        }
    return 0;
}

static int eval_arith(expr__node *n, const mr_batch *in, const uint32_t *sel, size_t rows,
                      mr_err *err)
{
    mr_column *a, *b;
    int rc;
    if ((rc = expr__eval(n->kids[0], in, sel, rows, &a, err)) < 0 ||
        (rc = expr__eval(n->kids[1], in, sel, rows, &b, err)) < 0)
        return rc;
    if (expr__out_prep(n, rows) < 0)
        return expr__oom(err);
    mr_column *o = &n->out;
    vand(o->valid, a->valid, b->valid, rows);
    if (n->param) /* time +/- interval, time - time, interval +/- interval */
        return expr__time_arith(n, a, b, rows, err);
    if (a->type.id == MR_T_DATE) {
        /* date +/- int32 -> date, date - date -> int32: int32 arithmetic */
        expr__node tmp = *n;
        tmp.type = mr_type_make(MR_T_INT32);
        return arith_int32(&tmp, a, b, o, rows, err);
    }
    switch (n->type.id) {
    case MR_T_INT32: return arith_int32(n, a, b, o, rows, err);
    case MR_T_INT64: return arith_int64(n, a, b, o, rows, err);
    case MR_T_FLOAT64: return arith_float(n, a, b, o, rows, err);
    default: return arith_decimal(n, a, b, o, rows, err);
    }
}

static int eval_neg(expr__node *n, const mr_batch *in, const uint32_t *sel, size_t rows,
                    mr_err *err)
{
    mr_column *a;
    int rc = expr__eval(n->kids[0], in, sel, rows, &a, err);
    if (rc < 0)
        return rc;
    if (expr__out_prep(n, rows) < 0)
        return expr__oom(err);
    mr_column *o = &n->out;
    memcpy(o->valid, a->valid, (rows + 7) / 8);
    switch (n->type.id) {
    case MR_T_INT32:
        for (size_t i = 0; i < rows; i++) {
            int32_t v = MR_COL_I32(a)[i];
            if (v == INT32_MIN && vget(o->valid, i))
                return mr_err_set(err, MR_EOVERFLOW, "int32 overflow: -(%d)", v);
            MR_COL_I32(o)[i] = v == INT32_MIN ? 0 : -v;
        }
        break;
    case MR_T_FLOAT64:
        for (size_t i = 0; i < rows; i++)
            MR_COL_F64(o)[i] = -MR_COL_F64(a)[i];
        break;
    case MR_T_INTERVAL:
        for (size_t i = 0; i < rows; i++) {
            mr_interval v = ((const mr_interval *)a->data)[i];
            if (vget(o->valid, i) && (v.months == INT32_MIN || v.days == INT32_MIN ||
                                      v.micros == INT64_MIN))
                return mr_err_set(err, MR_EOVERFLOW, "interval out of range: -interval");
            ((mr_interval *)o->data)[i] = (mr_interval){v.micros == INT64_MIN ? 0 : -v.micros,
                                                        v.days == INT32_MIN ? 0 : -v.days,
                                                        v.months == INT32_MIN ? 0 : -v.months};
        }
        break;
    default:
        for (size_t i = 0; i < rows; i++) {
            int64_t v = MR_COL_I64(a)[i];
            if (v == INT64_MIN && vget(o->valid, i))
                return mr_err_set(err, MR_EOVERFLOW, "int64 overflow: -(%lld)", (long long)v);
            MR_COL_I64(o)[i] = v == INT64_MIN ? 0 : -v;
        }
        break;
    }
    return 0;
}

/* ---- comparison -------------------------------------------------------- */

#define CMP_LOOP(T, X, Y)                                                         \
    do {                                                                          \
        const T *x = (X), *y = (Y);                                               \
        switch (op) {                                                             \
        case ECMP_EQ: for (size_t i = 0; i < rows; i++) r[i] = x[i] == y[i]; break; \
        case ECMP_NE: for (size_t i = 0; i < rows; i++) r[i] = x[i] != y[i]; break; \
        case ECMP_LT: for (size_t i = 0; i < rows; i++) r[i] = x[i] < y[i]; break;  \
        case ECMP_LE: for (size_t i = 0; i < rows; i++) r[i] = x[i] <= y[i]; break; \
        case ECMP_GT: for (size_t i = 0; i < rows; i++) r[i] = x[i] > y[i]; break;  \
        default: for (size_t i = 0; i < rows; i++) r[i] = x[i] >= y[i]; break;      \
        }                                                                         \
    } while (0)

int expr__strcmp_rows(const mr_column *a, size_t i, const mr_column *b, size_t j)
{
    size_t la, lb;
    const char *x = mr_column_str(a, i, &la), *y = mr_column_str(b, j, &lb);
    int c = memcmp(x, y, la < lb ? la : lb);
    if (c)
        return c;
    return la < lb ? -1 : la > lb;
}

/* r[i] = a[i] op b[i] for every row, ignoring validity. */
static void cmp_kernel(const mr_column *a, const mr_column *b, size_t rows, int op, uint8_t *r)
{
    switch (a->type.id) {
    case MR_T_NULL:
    case MR_T_BOOL: CMP_LOOP(uint8_t, MR_COL_U8(a), MR_COL_U8(b)); break;
    case MR_T_INT32:
    case MR_T_DATE: CMP_LOOP(int32_t, MR_COL_I32(a), MR_COL_I32(b)); break;
    case MR_T_FLOAT64: CMP_LOOP(double, MR_COL_F64(a), MR_COL_F64(b)); break;
    case MR_T_STRING:
        for (size_t i = 0; i < rows; i++) {
            int c = expr__strcmp_rows(a, i, b, i);
            switch (op) {
            case ECMP_EQ: r[i] = c == 0; break;
            case ECMP_NE: r[i] = c != 0; break;
            case ECMP_LT: r[i] = c < 0; break;
            case ECMP_LE: r[i] = c <= 0; break;
            case ECMP_GT: r[i] = c > 0; break;
            default: r[i] = c >= 0; break;
            }
        }
        break;
    case MR_T_INTERVAL:
        for (size_t i = 0; i < rows; i++) {
            int c = expr__interval_cmp(&((const mr_interval *)a->data)[i],
                                       &((const mr_interval *)b->data)[i]);
            r[i] = (uint8_t)(op == ECMP_EQ ? c == 0 : op == ECMP_NE ? c != 0 : op == ECMP_LT ? c < 0
                             : op == ECMP_LE ? c <= 0 : op == ECMP_GT ? c > 0 : c >= 0);
        }
        break;
    default: CMP_LOOP(int64_t, MR_COL_I64(a), MR_COL_I64(b)); break;
    }
}

static int eval_cmp(expr__node *n, const mr_batch *in, const uint32_t *sel, size_t rows,
                    mr_err *err)
{
    mr_column *a, *b;
    int rc;
    if ((rc = expr__eval(n->kids[0], in, sel, rows, &a, err)) < 0 ||
        (rc = expr__eval(n->kids[1], in, sel, rows, &b, err)) < 0)
        return rc;
    if (expr__out_prep(n, rows) < 0)
        return expr__oom(err);
    mr_column *o = &n->out;
    uint8_t *r = o->data;
    if (n->kind == EN_CMP) {
        cmp_kernel(a, b, rows, n->op, r);
        vand(o->valid, a->valid, b->valid, rows);
        return 0;
    }
    /* IS [NOT] DISTINCT FROM: never NULL */
    cmp_kernel(a, b, rows, ECMP_EQ, r);
    for (size_t i = 0; i < rows; i++) {
        bool va = vget(a->valid, i), vb = vget(b->valid, i);
        bool distinct = (va && vb) ? !r[i] : va != vb;
        r[i] = (uint8_t)(distinct != n->negate);
    }
    memset(o->valid, 0xff, (rows + 7) / 8);
    return 0;
}

static int eval_in(expr__node *n, const mr_batch *in, const uint32_t *sel, size_t rows,
                   mr_err *err)
{
    mr_column *x;
    int rc = expr__eval(n->kids[0], in, sel, rows, &x, err);
    if (rc < 0)
        return rc;
    if (expr__out_prep(n, rows) < 0 || expr__scratch_prep(n, rows) < 0)
        return expr__oom(err);
    mr_column *o = &n->out;
    uint8_t *found = o->data, *eq = (uint8_t *)n->pos, *nul = (uint8_t *)n->idx;
    memset(found, 0, rows);
    for (size_t i = 0; i < rows; i++)
        nul[i] = !vget(x->valid, i);
    for (int k = 1; k < n->nkids; k++) {
        mr_column *y;
        if ((rc = expr__eval(n->kids[k], in, sel, rows, &y, err)) < 0)
            return rc;
        cmp_kernel(x, y, rows, ECMP_EQ, eq);
        for (size_t i = 0; i < rows; i++) {
            bool vy = vget(y->valid, i);
            found[i] |= eq[i] & vy & vget(x->valid, i);
            nul[i] |= !vy;
        }
    }
    /* a match: true; else NULL if x or any item was NULL; else false */
    for (size_t i = 0; i < rows; i++) {
        vset(o->valid, i, found[i] || !nul[i]);
        found[i] = (uint8_t)(found[i] != n->negate);
    }
    return 0;
}

/* ---- logic ------------------------------------------------------------- */

static int eval_not(expr__node *n, const mr_batch *in, const uint32_t *sel, size_t rows,
                    mr_err *err)
{
    mr_column *a;
    int rc = expr__eval(n->kids[0], in, sel, rows, &a, err);
    if (rc < 0)
        return rc;
    if (expr__out_prep(n, rows) < 0)
        return expr__oom(err);
    for (size_t i = 0; i < rows; i++)
        MR_COL_U8(&n->out)[i] = !MR_COL_U8(a)[i];
    memcpy(n->out.valid, a->valid, (rows + 7) / 8);
    return 0;
}

static int eval_isnull(expr__node *n, const mr_batch *in, const uint32_t *sel, size_t rows,
                       mr_err *err)
{
    mr_column *a;
    int rc = expr__eval(n->kids[0], in, sel, rows, &a, err);
    if (rc < 0)
        return rc;
    if (expr__out_prep(n, rows) < 0)
        return expr__oom(err);
    for (size_t i = 0; i < rows; i++)
        MR_COL_U8(&n->out)[i] = (uint8_t)(vget(a->valid, i) == n->negate);
    memset(n->out.valid, 0xff, (rows + 7) / 8);
    return 0;
}

static int eval_andor(expr__node *n, const mr_batch *in, const uint32_t *sel, size_t rows,
                      mr_err *err)
{
    bool is_and = n->kind == EN_AND;
    mr_column *l, *r = NULL;
    int rc = expr__eval(n->kids[0], in, sel, rows, &l, err);
    if (rc < 0)
        return rc;
    if (expr__out_prep(n, rows) < 0 || expr__scratch_prep(n, rows) < 0)
        return expr__oom(err);
    /* rows the left side decides: false for AND, true for OR */
    uint8_t decide = is_and ? 0 : 1;
    size_t m = 0;
    const uint8_t *lv = l->data;
    for (size_t i = 0; i < rows; i++) {
        n->pos[m] = (uint32_t)i;
        m += !(vget(l->valid, i) && lv[i] == decide);
    }
    mr_column *o = &n->out;
    uint8_t *ov = o->data;
    if (m == rows) {
        if ((rc = expr__eval(n->kids[1], in, sel, rows, &r, err)) < 0)
            return rc;
        const uint8_t *rv = r->data;
        for (size_t i = 0; i < rows; i++) {
            bool la = vget(l->valid, i), ra = vget(r->valid, i);
            bool dec = (la && lv[i] == decide) || (ra && rv[i] == decide);
            ov[i] = dec ? decide : !decide;
            vset(o->valid, i, dec || (la && ra));
        }
        return 0;
    }
    if (m > 0) {
        narrow(n, sel, m);
        if ((rc = expr__eval(n->kids[1], in, n->phys, m, &r, err)) < 0)
            return rc;
    }
    size_t k = 0;
    for (size_t i = 0; i < rows; i++) {
        bool la = vget(l->valid, i);
        if (la && lv[i] == decide) {
            ov[i] = decide;
            vset(o->valid, i, true);
            continue;
        }
        bool ra = vget(r->valid, k);
        uint8_t rv = MR_COL_U8(r)[k];
        k++;
        bool dec = ra && rv == decide;
        ov[i] = dec ? decide : !decide;
        vset(o->valid, i, dec || (la && ra));
    }
    return 0;
}

/* ---- CASE and coalesce ------------------------------------------------- */

/* Builds out from per-row choices: which[i] is a part number (0xffff for
 * NULL) and idx[i] the row in that part. */
int expr__gather_parts(expr__node *n, size_t rows, mr_err *err)
{
    mr_column *o = &n->out;
    for (size_t i = 0; i < rows; i++) {
        if (n->which[i] == 0xffff) {
            if (o->type.id == MR_T_STRING)
                mr_column_set_str_null(o, i);
            else
                vset(o->valid, i, false);
            continue;
        }
        if (expr__copy_row(o, i, n->parts[n->which[i]], n->idx[i]) < 0)
            return expr__oom(err);
    }
    return 0;
}

int expr__parts_prep(expr__node *n, int nparts)
{
    if (!n->parts && !(n->parts = calloc((size_t)(nparts > 0 ? nparts : 1), sizeof *n->parts)))
        return MR_ENOMEM;
    return 0;
}

static int eval_case(expr__node *n, const mr_batch *in, const uint32_t *sel, size_t rows,
                     mr_err *err)
{
    int npairs = (n->nkids - (n->has_else ? 1 : 0)) / 2;
    if (expr__out_prep(n, rows) < 0 || expr__scratch_prep(n, rows) < 0 ||
        expr__parts_prep(n, npairs + 1) < 0)
        return expr__oom(err);
    /* pos[0..m): positions still undecided; phys mirrors them physically */
    size_t m = rows;
    for (size_t i = 0; i < rows; i++) {
        n->pos[i] = (uint32_t)i;
        n->which[i] = 0xffff;
    }
    int rc;
    for (int w = 0; w < npairs && m > 0; w++) {
        const uint32_t *s = sel;
        if (m != rows) {
            narrow(n, sel, m);
            s = n->phys;
        }
        mr_column *c;
        if ((rc = expr__eval(n->kids[2 * w], in, s, m, &c, err)) < 0)
            return rc;
        /* split pos into taken (to phys, for the THEN) and remaining */
        size_t taken = 0, rest = 0;
        for (size_t k = 0; k < m; k++) {
            uint32_t p = n->pos[k];
            if (vget(c->valid, k) && MR_COL_U8(c)[k]) {
                n->which[p] = (uint16_t)w;
                n->idx[p] = (uint32_t)taken;
                n->phys[taken++] = sel ? sel[p] : p;
            } else {
                n->pos[rest++] = p;
            }
        }
        if (taken > 0 &&
            (rc = expr__eval(n->kids[2 * w + 1], in, n->phys, taken, &n->parts[w], err)) < 0)
            return rc;
        m = rest;
    }
    if (n->has_else && m > 0) {
        for (size_t k = 0; k < m; k++) {
            n->which[n->pos[k]] = (uint16_t)npairs;
            n->idx[n->pos[k]] = (uint32_t)k;
        }
        const uint32_t *s = sel;
        if (m != rows) {
            narrow(n, sel, m);
            s = n->phys;
        }
        if ((rc = expr__eval(n->kids[n->nkids - 1], in, s, m, &n->parts[npairs], err)) < 0)
            return rc;
    }
    return expr__gather_parts(n, rows, err);
}

int expr__eval_coalesce(expr__node *n, const mr_batch *in, const uint32_t *sel, size_t rows,
                        mr_err *err)
{
    if (expr__out_prep(n, rows) < 0 || expr__scratch_prep(n, rows) < 0 ||
        expr__parts_prep(n, n->nkids) < 0)
        return expr__oom(err);
    size_t m = rows;
    for (size_t i = 0; i < rows; i++) {
        n->pos[i] = (uint32_t)i;
        n->which[i] = 0xffff;
    }
    for (int a = 0; a < n->nkids && m > 0; a++) {
        const uint32_t *s = sel;
        if (m != rows) {
            narrow(n, sel, m);
            s = n->phys;
        }
        int rc = expr__eval(n->kids[a], in, s, m, &n->parts[a], err);
        if (rc < 0)
            return rc;
        size_t rest = 0;
        for (size_t k = 0; k < m; k++) {
            uint32_t p = n->pos[k];
            if (vget(n->parts[a]->valid, k)) {
                n->which[p] = (uint16_t)a;
                n->idx[p] = (uint32_t)k;
            } else {
                n->pos[rest++] = p;
            }
        }
        m = rest;
    }
    return expr__gather_parts(n, rows, err);
}

/* ---- LIKE -------------------------------------------------------------- */

static inline size_t u8len(unsigned char c)
{
    return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
}

/* SQL LIKE with % and _ (one UTF-8 character) and backslash escapes.
 * Iterative with one backtrack point (the last %), O(len(s) * len(p)). */
static bool like_match(const char *s, size_t sn, const char *p, size_t pn)
{
    size_t si = 0, pi = 0, star_p = (size_t)-1, star_s = 0;
    while (si < sn) {
        if (pi < pn && p[pi] == '%') {
            star_p = ++pi;
            star_s = si;
            continue;
        }
        if (pi < pn && p[pi] == '_') {
            si += u8len((unsigned char)s[si]);
            if (si > sn)
                si = sn;
            pi++;
            continue;
        }
        if (pi < pn) {
            size_t q = pi;
            if (p[q] == '\\' && q + 1 < pn)
                q++;
            if (p[q] == s[si]) {
                si++;
                pi = q + 1;
                continue;
            }
        }
        if (star_p == (size_t)-1)
            return false;
        star_s += u8len((unsigned char)s[star_s]);
        if (star_s > sn)
            star_s = sn;
        si = star_s;
        pi = star_p;
    }
    while (pi < pn && p[pi] == '%')
        pi++;
    return pi == pn;
}

/* ILIKE's buffer for the lowered text and pattern: the node's aux, kept
 * between rows and batches. */
typedef struct like_buf {
    char *buf;
    size_t cap;
} like_buf;

static void like_buf_free(void *p)
{
    like_buf *lb = p;
    free(lb->buf);
    free(lb);
}

static like_buf *like_scratch(expr__node *n, size_t need)
{
    like_buf *lb = n->aux;
    if (!lb) {
        if (!(lb = calloc(1, sizeof *lb)))
            return NULL;
        n->aux = lb;
        n->aux_free = like_buf_free;
    }
    if (need > lb->cap) {
        size_t cap = need > 2 * lb->cap ? need : 2 * lb->cap;
        char *b = realloc(lb->buf, cap);
        if (!b)
            return NULL;
        lb->buf = b;
        lb->cap = cap;
    }
    return lb;
}

static int eval_like(expr__node *n, const mr_batch *in, const uint32_t *sel, size_t rows,
                     mr_err *err)
{
    mr_column *a, *b;
    int rc;
    if ((rc = expr__eval(n->kids[0], in, sel, rows, &a, err)) < 0 ||
        (rc = expr__eval(n->kids[1], in, sel, rows, &b, err)) < 0)
        return rc;
    if (expr__out_prep(n, rows) < 0)
        return expr__oom(err);
    mr_column *o = &n->out;
    vand(o->valid, a->valid, b->valid, rows);
    for (size_t i = 0; i < rows; i++) {
        size_t sn, pn;
        const char *s = mr_column_str(a, i, &sn), *p = mr_column_str(b, i, &pn);
        if (n->ci && vget(o->valid, i)) {
            /* ILIKE: LIKE on both sides lowered, as PostgreSQL does in UTF-8 */
            like_buf *lb = like_scratch(n, EXPR_CASE_MAP_ROOM(sn) + EXPR_CASE_MAP_ROOM(pn) + 1);
            if (!lb)
                return expr__oom(err);
            size_t ln = expr__case_map(s, sn, lb->buf, false);
            size_t lp = expr__case_map(p, pn, lb->buf + ln, false);
            s = lb->buf;
            p = lb->buf + ln;
            sn = ln;
            pn = lp;
        }
        MR_COL_U8(o)[i] = (uint8_t)(like_match(s, sn, p, pn) != n->negate);
    }
    return 0;
}

/* ---- || ---------------------------------------------------------------- */

static int eval_concat(expr__node *n, const mr_batch *in, const uint32_t *sel, size_t rows,
                       mr_err *err)
{
    mr_column *a, *b;
    int rc;
    if ((rc = expr__eval(n->kids[0], in, sel, rows, &a, err)) < 0 ||
        (rc = expr__eval(n->kids[1], in, sel, rows, &b, err)) < 0)
        return rc;
    if (expr__out_prep(n, rows) < 0)
        return expr__oom(err);
    mr_column *o = &n->out;
    size_t total = (rows ? a->offsets[rows] - a->offsets[0] + b->offsets[rows] - b->offsets[0] : 0);
    if (mr_column_reserve_chars(o, 0, total) < 0)
        return expr__oom(err);
    uint32_t pos = 0;
    for (size_t i = 0; i < rows; i++) {
        bool v = vget(a->valid, i) && vget(b->valid, i);
        vset(o->valid, i, v);
        if (v) {
            size_t la, lb;
            const char *x = mr_column_str(a, i, &la), *y = mr_column_str(b, i, &lb);
            memcpy(o->chars + pos, x, la);
            memcpy(o->chars + pos + la, y, lb);
            pos += (uint32_t)(la + lb);
        }
        o->offsets[i + 1] = pos;
    }
    return 0;
}

/* ---- casts ------------------------------------------------------------- */

bool expr__castable(mr_type from, mr_type to)
{
    if (from.id == MR_T_NULL || from.id == to.id || to.id == MR_T_STRING ||
        from.id == MR_T_STRING)
        return true;
    if (mr_type_is_numeric(from) && mr_type_is_numeric(to))
        return true;
    if ((from.id == MR_T_BOOL && (to.id == MR_T_INT32 || to.id == MR_T_INT64)) ||
        (to.id == MR_T_BOOL && (from.id == MR_T_INT32 || from.id == MR_T_INT64)))
        return true;
    return mr_type_is_time(from.id) && mr_type_is_time(to.id);
}

static size_t fmt_i64(int64_t v, char *buf)
{
    char tmp[24];
    size_t n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t k = 0;
    if (v < 0)
        buf[k++] = '-';
    while (n)
        buf[k++] = tmp[--n];
    buf[k] = '\0';
    return k;
}

size_t expr__format_value(const mr_column *c, size_t r, char *buf, size_t cap, const char **p)
{
    *p = buf;
    switch (c->type.id) {
    case MR_T_STRING: {
        size_t len;
        *p = mr_column_str(c, r, &len);
        return len;
    }
    case MR_T_BOOL:
        return (size_t)snprintf(buf, cap, "%s", MR_COL_U8(c)[r] ? "true" : "false");
    case MR_T_INT32: return fmt_i64(MR_COL_I32(c)[r], buf);
    case MR_T_INT64: return fmt_i64(MR_COL_I64(c)[r], buf);
    case MR_T_FLOAT64: return mr_format_float64(MR_COL_F64(c)[r], buf, cap);
    case MR_T_DECIMAL: return mr_format_decimal(MR_COL_I64(c)[r], c->type.scale, buf, cap);
    case MR_T_DATE: return mr_format_date(MR_COL_I32(c)[r], buf, cap);
    case MR_T_TIMESTAMP: return mr_format_timestamp(MR_COL_I64(c)[r], buf, cap);
    case MR_T_TIMESTAMPTZ: return mr_format_timestamptz(MR_COL_I64(c)[r], buf, cap);
    case MR_T_INTERVAL: return mr_format_interval(&((const mr_interval *)c->data)[r], buf, cap);
    default: buf[0] = '\0'; return 0;
    }
}

static int cast_fail(mr_err *err, const mr_column *src, size_t r, mr_type to, const char *why)
{
    char buf[128], tn[32];
    const char *p;
    size_t len = expr__format_value(src, r, buf, sizeof buf, &p);
    if (len > 200)
        len = 200;
    return mr_err_set(err, MR_ECAST, "cannot cast '%.*s' to %s%s%s", (int)len, p,
                      mr_type_name(to, tn, sizeof tn), why ? ": " : "", why ? why : "");
}

/* Reads a numeric-ish value exactly: ints and bools as (v, scale 0),
 * decimals as (v, scale), floats as f with isf set. */
static inline void num_get(const mr_column *c, size_t r, int64_t *v, int *scale, double *f,
                           bool *isf)
{
    *isf = false;
    *scale = 0;
    switch (c->type.id) {
    case MR_T_BOOL: *v = MR_COL_U8(c)[r]; break;
    case MR_T_INT32: *v = MR_COL_I32(c)[r]; break;
    case MR_T_FLOAT64:
        *f = MR_COL_F64(c)[r];
        *isf = true;
        break;
    case MR_T_DECIMAL:
        *v = MR_COL_I64(c)[r];
        *scale = c->type.scale;
        break;
    default: *v = MR_COL_I64(c)[r]; break;
    }
}

/* Rescales v from scale s to scale t (rounding half away from zero when
 * dropping digits); false on overflow. */
static bool rescale(int64_t v, int s, int t, int64_t *out)
{
    if (t >= s)
        return !__builtin_mul_overflow(v, mr_pow10[t - s], out);
    *out = expr__div_round(v, mr_pow10[s - t]);
    return true;
}

/* f as a decimal of scale t, as PostgreSQL casts float8 to numeric: the
 * value rounded to 15 significant digits (DBL_DIG), then to scale t half
 * away from zero, so 0.1 + 0.2 gives 0.3 and not 0.30000000000000004.
 * false when it does not fit in 18 digits. */
static bool float_to_scaled(double f, int t, int64_t *out)
{
    if (!isfinite(f))
        return false;
    if (f == 0.0) {
        *out = 0;
        return true;
    }
    char buf[40];
    snprintf(buf, sizeof buf, "%.14e", f); /* [-]d.dddddddddddddde[+-]x */
    const char *p = buf;
    bool neg = *p == '-';
    p += neg;
    int64_t d = 0;
    for (; *p && *p != 'e'; p++)
        if (*p != '.')
            d = d * 10 + (*p - '0');
    int k = atoi(p + 1) - 14 + t; /* value * 10^t = d * 10^k */
    if (k >= 0) {
        if (k > 18 || __builtin_mul_overflow(d, mr_pow10[k], &d))
            return false;
    } else {
        d = -k > 18 ? 0 : expr__div_round(d, mr_pow10[-k]);
    }
    *out = neg ? -d : d;
    return true;
}

/* One numeric value to the numeric/bool type of dst at row i; 0, or -1 when
 * out of range. */
static int num_put(mr_column *dst, size_t i, int64_t v, int s, double f, bool isf)
{
    mr_type t = dst->type;
    if (isf) {
        if (t.id == MR_T_FLOAT64) {
            MR_COL_F64(dst)[i] = f;
            return 0;
        }
        if (isnan(f))
            return -1;
        if (t.id == MR_T_DECIMAL) {
            if (!float_to_scaled(f, t.scale, &v))
                return -1;
            s = t.scale;
            goto put;
        }
        double x = rint(f);
        if (!(x > -9.2233720368547748e18 && x < 9.2233720368547748e18))
            return -1;
        v = (int64_t)x;
        s = 0;
    }
put:
    switch (t.id) {
    case MR_T_FLOAT64: MR_COL_F64(dst)[i] = (double)v / (double)mr_pow10[s]; return 0;
    case MR_T_DECIMAL:
        if (!rescale(v, s, t.scale, &v) || v >= mr_pow10[t.precision] ||
            v <= -mr_pow10[t.precision])
            return -1;
        MR_COL_I64(dst)[i] = v;
        return 0;
    default: break;
    }
    if (s > 0)
        v = expr__div_round(v, mr_pow10[s]);
    switch (t.id) {
    case MR_T_BOOL: MR_COL_U8(dst)[i] = v != 0; return 0;
    case MR_T_INT32:
        if (v < INT32_MIN || v > INT32_MAX)
            return -1;
        MR_COL_I32(dst)[i] = (int32_t)v;
        return 0;
    default: MR_COL_I64(dst)[i] = v; return 0;
    }
}

static int parse_into(mr_column *dst, size_t i, const char *s, size_t len)
{
    while (len && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
        s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n' ||
                   s[len - 1] == '\r'))
        len--;
    mr_err e;
    switch (dst->type.id) {
    case MR_T_BOOL: return mr_parse_bool(s, len, &MR_COL_U8(dst)[i], &e);
    case MR_T_INT32: return mr_parse_int32(s, len, &MR_COL_I32(dst)[i], &e);
    case MR_T_INT64: return mr_parse_int64(s, len, &MR_COL_I64(dst)[i], &e);
    case MR_T_FLOAT64: return mr_parse_float64(s, len, &MR_COL_F64(dst)[i], &e);
    case MR_T_DECIMAL:
        return mr_parse_decimal(s, len, dst->type.precision, dst->type.scale,
                                &MR_COL_I64(dst)[i], &e);
    case MR_T_DATE: return mr_parse_date(s, len, &MR_COL_I32(dst)[i], &e);
    case MR_T_TIMESTAMP: return mr_parse_timestamp(s, len, &MR_COL_I64(dst)[i], &e);
    case MR_T_TIMESTAMPTZ: return mr_parse_timestamptz(s, len, &MR_COL_I64(dst)[i], NULL, &e);
    case MR_T_INTERVAL: return mr_parse_interval(s, len, &((mr_interval *)dst->data)[i], &e);
    default: return MR_ECAST;
    }
}

int expr__cast_column(const mr_column *src, mr_column *dst, size_t rows, bool try_, mr_err *err)
{
    mr_type from = src->type, to = dst->type;
    if (rows == 0)
        return 0;
    if (from.id == MR_T_NULL) {
        memset(dst->valid, 0, (rows + 7) / 8);
        if (to.id == MR_T_STRING)
            for (size_t i = 0; i < rows; i++)
                dst->offsets[i + 1] = 0;
        return 0;
    }
    if (to.id == MR_T_STRING) {
        char buf[128];
        for (size_t i = 0; i < rows; i++) {
            if (!vget(src->valid, i)) {
                mr_column_set_str_null(dst, i);
                continue;
            }
            const char *p;
            size_t len = expr__format_value(src, i, buf, sizeof buf, &p);
            if (mr_column_set_str(dst, i, p, len) < 0)
                return expr__oom(err);
        }
        return 0;
    }
    memcpy(dst->valid, src->valid, (rows + 7) / 8);
    if (from.id == MR_T_STRING) {
        for (size_t i = 0; i < rows; i++) {
            if (!vget(src->valid, i))
                continue;
            size_t len;
            const char *s = mr_column_str(src, i, &len);
            int rc = parse_into(dst, i, s, len);
            if (rc < 0) {
                if (!try_)
                    return cast_fail(err, src, i, to, rc == MR_EOVERFLOW ? "out of range" : NULL);
                vset(dst->valid, i, false);
            }
        }
        return 0;
    }
    if (from.id == to.id && from.id != MR_T_DECIMAL) {
        memcpy(dst->data, src->data, rows * mr_type_width(to));
        return 0;
    }
    if (mr_type_is_time(from.id)) {
        expr__time_cast(src, dst, rows);
        return 0;
    }
    if (from.id == MR_T_INT32 && to.id == MR_T_INT64) {
        for (size_t i = 0; i < rows; i++)
            MR_COL_I64(dst)[i] = MR_COL_I32(src)[i];
        return 0;
    }
    if (from.id == MR_T_INT64 && to.id == MR_T_FLOAT64) {
        for (size_t i = 0; i < rows; i++)
            MR_COL_F64(dst)[i] = (double)MR_COL_I64(src)[i];
        return 0;
    }
    for (size_t i = 0; i < rows; i++) {
        int64_t v = 0;
        int s;
        double f = 0;
        bool isf;
        num_get(src, i, &v, &s, &f, &isf);
        if (num_put(dst, i, v, s, f, isf) < 0 && vget(src->valid, i)) {
            if (!try_)
                return cast_fail(err, src, i, to, "out of range");
            vset(dst->valid, i, false);
        }
    }
    return 0;
}

static int eval_cast(expr__node *n, const mr_batch *in, const uint32_t *sel, size_t rows,
                     mr_err *err)
{
    mr_column *a;
    int rc = expr__eval(n->kids[0], in, sel, rows, &a, err);
    if (rc < 0)
        return rc;
    if (expr__out_prep(n, rows) < 0)
        return expr__oom(err);
    if (n->param == 1 && a->type.id == MR_T_BOOL) { /* bool's output form, for concat */
        for (size_t i = 0; i < rows; i++) {
            if (!vget(a->valid, i))
                mr_column_set_str_null(&n->out, i);
            else if (mr_column_set_str(&n->out, i, MR_COL_U8(a)[i] ? "t" : "f", 1) < 0)
                return expr__oom(err);
        }
        return 0;
    }
    return expr__cast_column(a, &n->out, rows, n->try_, err);
}

/* ---- dispatch ---------------------------------------------------------- */

int expr__eval(expr__node *n, const mr_batch *in, const uint32_t *sel, size_t rows,
               mr_column **res, mr_err *err)
{
    int rc;
    switch (n->kind) {
    case EN_LIT: return eval_lit(n, rows, res, err);
    case EN_COL: return eval_col(n, in, sel, rows, res, err);
    case EN_NEG: rc = eval_neg(n, in, sel, rows, err); break;
    case EN_NOT: rc = eval_not(n, in, sel, rows, err); break;
    case EN_ARITH: rc = eval_arith(n, in, sel, rows, err); break;
    case EN_CMP:
    case EN_DISTINCT: rc = eval_cmp(n, in, sel, rows, err); break;
    case EN_AND:
    case EN_OR: rc = eval_andor(n, in, sel, rows, err); break;
    case EN_ISNULL: rc = eval_isnull(n, in, sel, rows, err); break;
    case EN_IN: rc = eval_in(n, in, sel, rows, err); break;
    case EN_LIKE: rc = eval_like(n, in, sel, rows, err); break;
    case EN_CASE: rc = eval_case(n, in, sel, rows, err); break;
    case EN_CAST: rc = eval_cast(n, in, sel, rows, err); break;
    case EN_CONCAT: rc = eval_concat(n, in, sel, rows, err); break;
    case EN_FUNC: rc = expr__func_eval(n, in, sel, rows, err); break;
    default: return mr_err_set(err, MR_EINVAL, "bad expression node");
    }
    if (rc < 0)
        return rc;
    *res = &n->out;
    return 0;
}
