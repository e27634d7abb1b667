/* window_eval.c - one window function over one partition, in one pass:
 * peer groups once, frames as [fs, fe) per row (both never decrease down
 * the partition), sums and counts as differences of prefix sums, min/max
 * by a monotonic queue, value functions as a gather of row indices.
 */
#include "core/op/window_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/vec.h"

typedef __int128 i128;

void wf_scratch_free(wf_scratch *s)
{
    free(s->pstart);
    free(s->pend);
    free(s->fs);
    free(s->fe);
    free(s->rows);
    free(s->dq);
    free(s->cnt);
    free(s->isum);
    free(s->fsum);
    free(s->nan);
    free(s->pinf);
    free(s->ninf);
    memset(s, 0, sizeof *s);
}

static int grow(void **p, size_t n, size_t w)
{
    void *q = realloc(*p, n * w);
    if (!q)
        return -1;
    *p = q;
    return 0;
}

static int scratch_reserve(wf_scratch *s, size_t n)
{
    if (n + 1 <= s->cap)
        return 0;
    size_t c = s->cap ? s->cap : 1024;
    while (c < n + 1)
        c *= 2;
    if (grow((void **)&s->pstart, c, 4) || grow((void **)&s->pend, c, 4) ||
        grow((void **)&s->fs, c, 4) || grow((void **)&s->fe, c, 4) ||
        grow((void **)&s->rows, c, 4) || grow((void **)&s->dq, c, 4) ||
        grow((void **)&s->cnt, c, 8) || grow((void **)&s->isum, c, sizeof(i128)) ||
        grow((void **)&s->fsum, c, sizeof(long double)) || grow((void **)&s->nan, c, 8) ||
        grow((void **)&s->pinf, c, 8) || grow((void **)&s->ninf, c, 8))
        return -1;
    s->cap = c;
    return 0;
}

/* Peer groups: rows equal on every order column.  Without order_by every
 * row of the partition is a peer of every other. */
static void peers(const wf_part *p, size_t from, wf_scratch *s)
{
    size_t n = p->n, g = 0;
    for (size_t i = 1; i <= n; i++) {
        int same = i < n;
        for (int k = 0; same && k < p->nord; k++)
            same = mr_vec_equal(&p->cols[p->ocols[k]], from + i, &p->cols[p->ocols[k]],
                                from + i - 1);
        if (!same) {
            for (size_t j = g; j < i; j++) {
                s->pstart[j] = (uint32_t)g;
                s->pend[j] = (uint32_t)i;
            }
            g = i;
        }
    }
}

static uint32_t clampu(int64_t v, size_t n)
{
    return v < 0 ? 0 : v > (int64_t)n ? (uint32_t)n : (uint32_t)v;
}

/* Range frames with offsets: the order value of row i as a number in the
 * direction of the order (negated for desc), decimals in their units. */
static long double rkey(const mr_column *c, size_t r, int desc)
{
    long double v;
    switch (c->type.id) {
    case MR_T_INT32: v = MR_COL_I32(c)[r]; break;
    case MR_T_FLOAT64: v = MR_COL_F64(c)[r]; break;
    default: v = MR_COL_I64(c)[r]; break;
    }
    return desc ? -v : v;
}

/* First row of [lo, hi) whose key is >= t (strict: > t). */
static size_t bound(const mr_column *c, size_t from, size_t lo, size_t hi, long double t,
                    int desc, int strict)
{
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        long double k = rkey(c, from + mid, desc);
        if (strict ? k > t : k >= t)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* A range bound with an offset for row i: among the non-NULL rows [a, b)
 * those within N of the row's value; for a NULL row its NULL peers. */
static uint32_t range_bound(const wf_fn *f, const wf_part *p, size_t from, size_t a, size_t b,
                            size_t i, const wf_bound *bd, int is_end, const wf_scratch *s)
{
    const mr_column *c = &p->cols[f->rcol];
    if (!mr_column_is_valid(c, from + i))
        return is_end ? s->pend[i] : s->pstart[i];
    long double n = (long double)bd->n;
    if (c->type.id == MR_T_DECIMAL)
        n *= (long double)mr_pow10[c->type.scale];
    long double k = rkey(c, from + i, f->rdesc);
    long double t = bd->kind == WB_PREC ? k - n : k + n;
    return (uint32_t)bound(c, from, a, b, t, f->rdesc, is_end);
}

static void frames(const wf_fn *f, const wf_part *p, size_t from, size_t n, wf_scratch *s)
{
    size_t a = 0, b = n; /* the non-NULL rows of the order column, for range offsets */
    if (f->rcol >= 0) {
        const mr_column *c = &p->cols[f->rcol];
        while (a < n && !mr_column_is_valid(c, from + a))
            a++;
        b = a;
        while (b < n && mr_column_is_valid(c, from + b))
            b++;
    }
    for (size_t i = 0; i < n; i++) {
        if (f->rcol >= 0) {
            int so = f->start.kind == WB_PREC || f->start.kind == WB_FOLL;
            int eo = f->end.kind == WB_PREC || f->end.kind == WB_FOLL;
            s->fs[i] = so ? range_bound(f, p, from, a, b, i, &f->start, 0, s)
                          : f->start.kind == WB_UNB_PREC ? 0 : s->pstart[i];
            s->fe[i] = eo ? range_bound(f, p, from, a, b, i, &f->end, 1, s)
                          : f->end.kind == WB_UNB_FOLL ? (uint32_t)n : s->pend[i];
            if (s->fe[i] < s->fs[i])
                s->fe[i] = s->fs[i];
            continue;
        }
        int64_t a, b, ii = (int64_t)i;
        switch (f->start.kind) {
        case WB_UNB_PREC: a = 0; break;
        case WB_PREC: a = ii - f->start.n; break;
        case WB_CURRENT: a = f->range ? s->pstart[i] : ii; break;
        case WB_FOLL: a = ii + f->start.n; break;
        default: a = (int64_t)n; break;
        }
        switch (f->end.kind) {
        case WB_UNB_FOLL: b = (int64_t)n; break;
        case WB_FOLL: b = ii + f->end.n + 1; break;
        case WB_CURRENT: b = f->range ? s->pend[i] : ii + 1; break;
        case WB_PREC: b = ii - f->end.n + 1; break;
        default: b = 0; break;
        }
        s->fs[i] = clampu(a, n);
        s->fe[i] = clampu(b, n);
        if (s->fe[i] < s->fs[i])
            s->fe[i] = s->fs[i];
    }
}

static int cmp_vals(const mr_column *c, size_t i, size_t j)
{
    switch (c->type.id) {
    case MR_T_STRING: {
        size_t la, lb;
        const char *a = mr_column_str(c, i, &la), *b = mr_column_str(c, j, &lb);
        int r = memcmp(a, b, la < lb ? la : lb);
        return r ? r : (la > lb) - (la < lb);
    }
    case MR_T_BOOL: return (MR_COL_U8(c)[i] > MR_COL_U8(c)[j]) - (MR_COL_U8(c)[i] < MR_COL_U8(c)[j]);
    case MR_T_INT32:
    case MR_T_DATE: return (MR_COL_I32(c)[i] > MR_COL_I32(c)[j]) - (MR_COL_I32(c)[i] < MR_COL_I32(c)[j]);
    case MR_T_FLOAT64: {
        double a = MR_COL_F64(c)[i], b = MR_COL_F64(c)[j];
        if (isnan(a) || isnan(b)) /* NaN above everything, as PostgreSQL */
            return isnan(a) - isnan(b);
        return (a > b) - (a < b);
    }
    default: return (MR_COL_I64(c)[i] > MR_COL_I64(c)[j]) - (MR_COL_I64(c)[i] < MR_COL_I64(c)[j]);
    }
}

/* min (sign 1) or max (sign -1) of x over each row's frame: rows[i] the
 * row holding it, or MR_VEC_NULL_ROW. */
static void minmax(const mr_column *x, size_t from, size_t n, int sign, wf_scratch *s)
{
    size_t head = 0, tail = 0, next = 0;
    for (size_t i = 0; i < n; i++) {
        for (; next < s->fe[i]; next++) {
            if (!mr_column_is_valid(x, from + next))
                continue;
            while (tail > head && sign * cmp_vals(x, from + s->dq[tail - 1], from + next) > 0)
                tail--;
            s->dq[tail++] = (uint32_t)next;
        }
        while (head < tail && s->dq[head] < s->fs[i])
            head++;
        s->rows[i] = head < tail ? (uint32_t)from + s->dq[head] : MR_VEC_NULL_ROW;
    }
}

static int overflow(mr_err *err, const char *node, const char *what)
{
    return mr_err_node(err, MR_EOVERFLOW, node, "%s overflow in a window %s",
                       what, "sum or average");
}

/* sum, avg, count(x) from prefix sums of the frame's non-NULL values. */
static int sums(const wf_fn *f, const mr_column *x, size_t from, size_t n, mr_column *res,
                wf_scratch *s, const char *node, mr_err *err)
{
    int isf = x->type.id == MR_T_FLOAT64;
    s->cnt[0] = 0;
    s->isum[0] = 0;
    s->fsum[0] = 0;
    s->nan[0] = s->pinf[0] = s->ninf[0] = 0;
    for (size_t i = 0; i < n; i++) {
        size_t r = from + i;
        int v = mr_column_is_valid(x, r);
        s->cnt[i + 1] = s->cnt[i] + v;
        s->isum[i + 1] = s->isum[i];
        s->fsum[i + 1] = s->fsum[i];
        s->nan[i + 1] = s->nan[i];
        s->pinf[i + 1] = s->pinf[i];
        s->ninf[i + 1] = s->ninf[i];
        if (!v || f->kind == WF_COUNT)
            continue;
        switch (x->type.id) {
        case MR_T_INT32: s->isum[i + 1] += MR_COL_I32(x)[r]; break;
        case MR_T_FLOAT64: {
            double d = MR_COL_F64(x)[r];
            if (isnan(d))
                s->nan[i + 1]++;
            else if (isinf(d))
                (d > 0 ? s->pinf : s->ninf)[i + 1]++;
            else
                s->fsum[i + 1] += d;
            break;
        }
        default: s->isum[i + 1] += MR_COL_I64(x)[r]; break;
        }
    }
    for (size_t i = 0; i < n; i++) {
        size_t a = s->fs[i], b = s->fe[i], r = from + i;
        int64_t c = s->cnt[b] - s->cnt[a];
        if (f->kind == WF_COUNT) {
            MR_COL_I64(res)[r] = c;
            mr_column_set_valid(res, r, true);
            continue;
        }
        mr_column_set_valid(res, r, c > 0);
        if (c == 0) {
            memset((char *)res->data + r * mr_type_width(res->type), 0, mr_type_width(res->type));
            continue;
        }
        if (isf) {
            int64_t nn = s->nan[b] - s->nan[a], pi = s->pinf[b] - s->pinf[a],
                    ni = s->ninf[b] - s->ninf[a];
            double v = (double)(s->fsum[b] - s->fsum[a]);
            if (nn || (pi && ni))
                v = NAN;
            else if (pi)
                v = INFINITY;
            else if (ni)
                v = -INFINITY;
            MR_COL_F64(res)[r] = f->kind == WF_AVG ? v / (double)c : v;
            continue;
        }
        i128 sum = s->isum[b] - s->isum[a];
        if (f->kind == WF_SUM) {
            if (sum > INT64_MAX || sum < INT64_MIN ||
                (res->type.id == MR_T_DECIMAL && (sum > 999999999999999999LL ||
                                                  sum < -999999999999999999LL)))
                return overflow(err, node, res->type.id == MR_T_DECIMAL ? "numeric" : "integer");
            MR_COL_I64(res)[r] = (int64_t)sum;
        } else if (res->type.id == MR_T_FLOAT64) {
            MR_COL_F64(res)[r] = (double)sum / (double)c;
        } else { /* avg of decimal(p,s) as decimal(18,6), half away from zero */
            int sc = x->type.scale;
            i128 num = sum, den = c;
            if (sc <= 6)
                num *= mr_pow10[6 - sc];
            else
                den *= mr_pow10[sc - 6];
            int neg = num < 0;
            if (neg)
                num = -num;
            i128 q = num / den, rem = num % den;
            if (2 * rem >= den)
                q++;
            if (q > 999999999999999999LL)
                return overflow(err, node, "numeric");
            MR_COL_I64(res)[r] = (int64_t)(neg ? -q : q);
        }
    }
    return 0;
}

int wf_eval(const wf_fn *f, const wf_part *p, size_t from, mr_column *res, wf_scratch *s,
            mr_err *err)
{
    size_t n = p->n;
    if (scratch_reserve(s, n) != 0 || mr_column_reserve(res, from + n) != 0)
        return mr_err_oom(err, p->node);
    const mr_column *x = f->xcol >= 0 ? &p->cols[f->xcol] : NULL;
    peers(p, from, s);
    frames(f, p, from, n, s);
    switch (f->kind) {
    case WF_ROW_NUMBER: case WF_RANK: case WF_DENSE_RANK: {
        int64_t dense = 0;
        for (size_t i = 0; i < n; i++) {
            if (s->pstart[i] == i)
                dense++;
            int64_t v = f->kind == WF_ROW_NUMBER ? (int64_t)i + 1
                        : f->kind == WF_RANK     ? (int64_t)s->pstart[i] + 1
                                                 : dense;
            MR_COL_I64(res)[from + i] = v;
            mr_column_set_valid(res, from + i, true);
        }
        return 0;
    }
    case WF_PERCENT_RANK: case WF_CUME_DIST:
        for (size_t i = 0; i < n; i++) {
            double v = f->kind == WF_CUME_DIST ? (double)s->pend[i] / (double)n
                       : n > 1 ? (double)s->pstart[i] / (double)(n - 1) : 0.0;
            MR_COL_F64(res)[from + i] = v;
            mr_column_set_valid(res, from + i, true);
        }
        return 0;
    case WF_NTILE: {
        int64_t k = f->n, per = (int64_t)n / k, rem = (int64_t)n % k;
        for (size_t i = 0; i < n; i++) {
            int64_t r = (int64_t)i, big = rem * (per + 1);
            int64_t b = r < big ? r / (per + 1) + 1 : rem + (r - big) / per + 1;
            MR_COL_I32(res)[from + i] = (int32_t)b;
            mr_column_set_valid(res, from + i, true);
        }
        return 0;
    }
    case WF_COUNT_STAR:
        for (size_t i = 0; i < n; i++) {
            MR_COL_I64(res)[from + i] = (int64_t)(s->fe[i] - s->fs[i]);
            mr_column_set_valid(res, from + i, true);
        }
        return 0;
    case WF_COUNT: case WF_SUM: case WF_AVG:
        return sums(f, x, from, n, res, s, p->node, err);
    case WF_LAG: case WF_LEAD: {
        const mr_column *d = f->dcol >= 0 ? &p->cols[f->dcol] : NULL;
        for (size_t i = 0; i < n; i++) {
            int64_t j = (int64_t)i + (f->kind == WF_LAG ? -f->n : f->n);
            int in = j >= 0 && j < (int64_t)n;
            uint32_t row = in ? (uint32_t)(from + (size_t)j) : d ? (uint32_t)(from + i)
                                                                 : MR_VEC_NULL_ROW;
            if (mr_vec_gather(res, from + i, in || !d ? x : d, &row, 1) != 0)
                return mr_err_oom(err, p->node);
        }
        return 0;
    }
    case WF_MIN: case WF_MAX:
        minmax(x, from, n, f->kind == WF_MIN ? 1 : -1, s);
        break;
    default: /* first, last, nth value */
        for (size_t i = 0; i < n; i++) {
            int64_t j = f->kind == WF_FIRST_VALUE  ? (int64_t)s->fs[i]
                        : f->kind == WF_LAST_VALUE ? (int64_t)s->fe[i] - 1
                                                   : (int64_t)s->fs[i] + f->n - 1;
            s->rows[i] = s->fe[i] > s->fs[i] && j >= (int64_t)s->fs[i] && j < (int64_t)s->fe[i]
                             ? (uint32_t)(from + (size_t)j)
                             : MR_VEC_NULL_ROW;
        }
        break;
    }
    if (mr_vec_gather(res, from, x, s->rows, n) != 0)
        return mr_err_oom(err, p->node);
    return 0;
}
