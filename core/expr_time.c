/* expr_time.c - time arithmetic, intervals, time zones and time formats.
 *
 * PostgreSQL's semantics with its session time zone set to UTC: a
 * timestamptz is an instant shown in UTC, a timestamp is a wall-clock
 * reading, and the two meet as the same microseconds.  An interval keeps
 * months, days and microseconds apart (mr_interval) because a month or a
 * day has no fixed length; adding one to a time adds the months first
 * (clamping the day to the month's end), then the days, then the
 * microseconds, as PostgreSQL's timestamp_pl_interval does.  Intervals
 * compare as PostgreSQL's do, reading a month as 30 days and a day as 24
 * hours.
 *
 * AT TIME ZONE loads IANA zones with core/tz.c: a zone named by a literal
 * is loaded once when the expression is bound (an unknown name is an error
 * at its place in the text), other zone arguments go through a small cache
 * kept on the node.  Each task binds its own copy of an expression, so the
 * cache is per task and needs no lock.
 *
 * to_char / to_timestamp / to_date compile their format into a list of
 * pattern items (PostgreSQL's template patterns, FM prefix, "quoted" text);
 * a literal format is compiled at bind time, any other per row.
 *
 * now() is the job's start instant.  The executor hands it to this module
 * per thread (expr__set_now, through mr_expr_set_now) before it builds a
 * task's operators; binding copies it into the node, so a task evaluates
 * the same value everywhere.  Without one (validation, tests) it is the
 * current time.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/expr_int.h"
#include "core/tz.h"

#define US_PER_SEC INT64_C(1000000)
#define US_PER_DAY INT64_C(86400000000)
/* The timestamp range: years -4713 .. 294276 as PostgreSQL's. */
#define TS_MIN (-INT64_C(211813488000000000))
#define TS_MAX INT64_MAX /* PostgreSQL's reaches past int64 from 1970 */

enum { K_TS_IV = 1, K_TS_TS, K_IV_IV };

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t floor_mod(int64_t a, int64_t b)
{
    return a - floor_div(a, b) * b;
}

static mr_interval *ivs(const mr_column *c)
{
    return (mr_interval *)c->data;
}

static char *tname(mr_type t, char *b)
{
    return (char *)mr_type_name(t, b, 32);
}

/* ---- arithmetic ---------------------------------------------------------- */

static bool is_ts(int id)
{
    return id == MR_T_TIMESTAMP || id == MR_T_TIMESTAMPTZ;
}

int expr__time_bind_arith(expr__node *n, mr_err *err)
{
    if (n->op != EOP_ADD && n->op != EOP_SUB)
        return 0;
    expr__node **k = n->kids;
    /* an untyped literal beside a time is an interval: t + '1 day' */
    for (int i = 0; i < 2; i++)
        if (k[i]->unknown && (is_ts(k[1 - i]->type.id) || k[1 - i]->type.id == MR_T_INTERVAL)) {
            int rc = expr__coerce(&k[i], mr_type_make(MR_T_INTERVAL), err);
            if (rc < 0)
                return rc;
        }
    int a = k[0]->type.id, b = k[1]->type.id;
    int rc = 0;
    if (n->op == EOP_ADD && a == MR_T_INTERVAL && mr_type_is_time(b)) {
        expr__node *t = k[0];
        k[0] = k[1];
        k[1] = t;
        a = k[0]->type.id;
        b = MR_T_INTERVAL;
    }
    if (mr_type_is_time(a) && b == MR_T_INTERVAL) { /* time +/- interval */
        if (a == MR_T_DATE) { /* date + interval is a timestamp */
            if ((rc = expr__coerce(&k[0], mr_type_make(MR_T_TIMESTAMP), err)) < 0)
                return rc;
            a = MR_T_TIMESTAMP;
        }
        n->type = mr_type_make((mr_type_id)a);
        n->param = K_TS_IV;
        return 1;
    }
    if (a == MR_T_INTERVAL && b == MR_T_INTERVAL) {
        n->type = mr_type_make(MR_T_INTERVAL);
        n->param = K_IV_IV;
        return 1;
    }
    if (n->op == EOP_SUB && mr_type_is_time(a) && mr_type_is_time(b) &&
        !(a == MR_T_DATE && b == MR_T_DATE)) {
        mr_type t;
        if (mr_type_common(k[0]->type, k[1]->type, &MR_WIDEN_EXPR, &t) < 0 ||
            (rc = expr__coerce(&k[0], t, err)) < 0 || (rc = expr__coerce(&k[1], t, err)) < 0)
            return rc < 0 ? rc : MR_ETYPE;
        n->type = mr_type_make(MR_T_INTERVAL);
        n->param = K_TS_TS;
        return 1;
    }
    if (a == MR_T_INTERVAL || b == MR_T_INTERVAL || is_ts(a) || is_ts(b)) {
        char b1[32], b2[32];
        return expr__err_at(err, MR_ETYPE, n->off, "operator '%c' cannot apply to %s and %s",
                            n->op == EOP_ADD ? '+' : '-', tname(k[0]->type, b1),
                            tname(k[1]->type, b2));
    }
    return 0;
}

static const unsigned mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

static unsigned month_len(int64_t y, unsigned m)
{
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return mdays[m - 1] + (m == 2 && leap);
}

/* t + sign * v, as PostgreSQL: months (day clamped), days, microseconds.
 * false when the result leaves the timestamp range. */
static bool ts_add(int64_t t, const mr_interval *v, int sign, int64_t *out)
{
    int64_t days = floor_div(t, US_PER_DAY), us = floor_mod(t, US_PER_DAY);
    if (v->months) {
        int64_t y;
        unsigned m, d;
        mr_civil_from_days((int32_t)days, &y, &m, &d);
        int64_t mm = y * 12 + (m - 1) + sign * (int64_t)v->months;
        y = floor_div(mm, 12);
        m = (unsigned)floor_mod(mm, 12) + 1;
        if (y < -4713 || y > 294276)
            return false;
        if (d > month_len(y, m))
            d = month_len(y, m);
        days = mr_days_from_civil(y, m, d);
    }
    days += sign * (int64_t)v->days;
    if (days < -2500000 || days > 110000000)
        return false;
    expr__i128 r = (expr__i128)days * US_PER_DAY + us + (expr__i128)sign * v->micros;
    if (r < TS_MIN || r > TS_MAX)
        return false;
    *out = (int64_t)r;
    return true;
}

/* PostgreSQL's justify_hours: whole days out of the microseconds, with
 * the signs of days and microseconds made to agree. */
static mr_interval iv_from_micros(int64_t us)
{
    mr_interval v = {us % US_PER_DAY, (int32_t)(us / US_PER_DAY), 0};
    if (v.days > 0 && v.micros < 0) {
        v.micros += US_PER_DAY;
        v.days--;
    } else if (v.days < 0 && v.micros > 0) {
        v.micros -= US_PER_DAY;
        v.days++;
    }
    return v;
}

int expr__time_arith(expr__node *n, const mr_column *a, const mr_column *b, size_t rows,
                     mr_err *err)
{
    mr_column *o = &n->out;
    int sign = n->op == EOP_SUB ? -1 : 1;
    for (size_t i = 0; i < rows; i++) {
        if (!mr_column_is_valid(o, i))
            continue;
        switch (n->param) {
        case K_TS_IV:
            if (!ts_add(MR_COL_I64(a)[i], &ivs(b)[i], sign, &MR_COL_I64(o)[i]))
                return mr_err_set(err, MR_EOVERFLOW, "timestamp out of range: %s %c interval",
                                  n->type.id == MR_T_TIMESTAMPTZ ? "timestamptz" : "timestamp",
                                  sign < 0 ? '-' : '+');
            break;
        case K_TS_TS: {
            int64_t x = MR_COL_I64(a)[i], y = MR_COL_I64(b)[i], d;
            if (__builtin_sub_overflow(x, y, &d))
                return mr_err_set(err, MR_EOVERFLOW, "interval out of range: timestamp - timestamp");
            ivs(o)[i] = iv_from_micros(d);
            break;
        }
        default: {
            const mr_interval *x = &ivs(a)[i], *y = &ivs(b)[i];
            mr_interval r;
            int64_t m, d;
            if (__builtin_add_overflow(x->micros, sign * y->micros, &r.micros) ||
                (m = (int64_t)x->months + sign * (int64_t)y->months) > INT32_MAX ||
                m < INT32_MIN || (d = (int64_t)x->days + sign * (int64_t)y->days) > INT32_MAX ||
                d < INT32_MIN)
                return mr_err_set(err, MR_EOVERFLOW, "interval out of range: interval %c interval",
                                  sign < 0 ? '-' : '+');
            r.months = (int32_t)m;
            r.days = (int32_t)d;
            ivs(o)[i] = r;
            break;
        }
        }
    }
    return 0;
}

int expr__interval_cmp(const mr_interval *a, const mr_interval *b)
{
    expr__i128 x = ((expr__i128)a->months * 30 + a->days) * US_PER_DAY + a->micros;
    expr__i128 y = ((expr__i128)b->months * 30 + b->days) * US_PER_DAY + b->micros;
    return (x > y) - (x < y);
}

void expr__time_cast(const mr_column *src, mr_column *dst, size_t rows)
{
    int from = src->type.id, to = dst->type.id;
    for (size_t i = 0; i < rows; i++) {
        if (from == MR_T_DATE)
            MR_COL_I64(dst)[i] = (int64_t)MR_COL_I32(src)[i] * US_PER_DAY;
        else if (to == MR_T_DATE)
            MR_COL_I32(dst)[i] = (int32_t)floor_div(MR_COL_I64(src)[i], US_PER_DAY);
        else
            MR_COL_I64(dst)[i] = MR_COL_I64(src)[i];
    }
}

/* ---- date_part on intervals ---------------------------------------------- */

int expr__bind_date_part_interval(expr__node *n, mr_err *err)
{
    int f = (int)n->param;
    if (f == DF_DOW || f == DF_ISODOW || f == DF_DOY || f == DF_WEEK || f == DF_ISOYEAR)
        return expr__err_at(err, MR_EINVAL, n->kids[0]->off,
                            "date_part(): an interval has no field '%s'", n->kids[0]->ls);
    n->type = mr_type_make(f == DF_SECOND || f == DF_EPOCH ? MR_T_FLOAT64 : MR_T_INT64);
    return 0;
}

int expr__eval_date_part_interval(expr__node *n, size_t rows, mr_err *err)
{
    (void)err;
    const mr_column *a = n->parts[1];
    mr_column *o = &n->out;
    memcpy(o->valid, a->valid, (rows + 7) / 8);
    int f = (int)n->param;
    for (size_t i = 0; i < rows; i++) {
        if (!mr_column_is_valid(a, i))
            continue;
        const mr_interval *v = &ivs(a)[i];
        int64_t y = v->months / 12, m = v->months % 12, us = v->micros;
        int64_t r = 0;
        switch (f) {
        case DF_SECOND: MR_COL_F64(o)[i] = (double)(us % (60 * US_PER_SEC)) / 1e6; continue;
        case DF_EPOCH:
            /* PostgreSQL: a year is 365.25 days, a month 30 */
            /* PostgreSQL: a year is 365.25 days, a month 30; summed exactly
             * in microseconds so the one rounding is the division's */
            MR_COL_F64(o)[i] =
                (double)((expr__i128)us + ((expr__i128)y * 31557600 + m * 2592000 +
                                         (expr__i128)v->days * 86400) * US_PER_SEC) / 1e6;
            continue;
        case DF_YEAR: r = y; break;
        case DF_QUARTER: r = m / 3 + 1; break;
        case DF_MONTH: r = m; break;
        case DF_DAY: r = v->days; break;
        case DF_HOUR: r = us / (3600 * US_PER_SEC); break;
        case DF_MINUTE: r = us / (60 * US_PER_SEC) % 60; break;
        case DF_MILLI: r = us % (60 * US_PER_SEC) / 1000; break;
        case DF_MICRO: r = us % (60 * US_PER_SEC); break;
        case DF_DECADE: r = y / 10; break;
        case DF_CENTURY: r = y / 100; break;
        default: r = y / 1000; break;
        }
        MR_COL_I64(o)[i] = r;
    }
    return 0;
}

/* ---- now() --------------------------------------------------------------- */

static _Thread_local int64_t tl_now = INT64_MIN;

void expr__set_now(int64_t micros)
{
    tl_now = micros;
}

void mr_expr_set_now(int64_t micros)
{
    expr__set_now(micros);
}

int expr__bind_now(expr__node *n, mr_err *err)
{
    (void)err;
    int64_t now = tl_now;
    if (now == INT64_MIN) { /* outside a task: validation, tests */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        now = (int64_t)ts.tv_sec * US_PER_SEC + ts.tv_nsec / 1000;
    }
    n->param = now;
    n->type = mr_type_make(MR_T_TIMESTAMPTZ);
    return 0;
}

int expr__eval_now(expr__node *n, size_t rows, mr_err *err)
{
    (void)err;
    for (size_t i = 0; i < rows; i++) {
        MR_COL_I64(&n->out)[i] = n->param;
        mr_column_set_valid(&n->out, i, true);
    }
    return 0;
}

/* ---- make_date ----------------------------------------------------------- */

int expr__bind_make_date(expr__node *n, mr_err *err)
{
    for (int i = 0; i < 3; i++) {
        int rc = expr__need_type(n, i, MR_T_INT64, err);
        if (rc < 0)
            return rc;
    }
    n->type = mr_type_make(MR_T_DATE);
    return 0;
}

int expr__eval_make_date(expr__node *n, size_t rows, mr_err *err)
{
    for (size_t i = 0; i < rows; i++) {
        if (expr__null_row(n, i))
            continue;
        int64_t y = MR_COL_I64(n->parts[0])[i], m = MR_COL_I64(n->parts[1])[i],
                d = MR_COL_I64(n->parts[2])[i];
        int64_t ay = y < 0 ? y + 1 : y; /* PostgreSQL: negative years are BC */
        if (y == 0 || y < -4713 || y > 5874897 || m < 1 || m > 12 || d < 1 ||
            d > month_len(ay, (unsigned)m))
            return mr_err_set(err, MR_EINVAL, "date field value out of range: %lld-%02lld-%02lld",
                              (long long)y, (long long)m, (long long)d);
        MR_COL_I32(&n->out)[i] = mr_days_from_civil(ay, (unsigned)m, (unsigned)d);
        mr_column_set_valid(&n->out, i, true);
    }
    return 0;
}

/* ---- AT TIME ZONE -------------------------------------------------------- */

#define TZ_CACHE 16

typedef struct tz_cache {
    mr_tz *fixed;           /* the literal zone, or NULL */
    int n, next;
    mr_tz *zones[TZ_CACHE]; /* zones met in rows, evicted round robin */
} tz_cache;

static void tz_cache_free(void *p)
{
    tz_cache *c = p;
    if (!c)
        return;
    mr_tz_free(c->fixed);
    for (int i = 0; i < c->n; i++)
        mr_tz_free(c->zones[i]);
    free(c);
}

static int tz_lookup(tz_cache *c, const char *s, size_t len, const mr_tz **out, mr_err *err)
{
    for (int i = 0; i < c->n; i++) {
        const char *nm = mr_tz_name(c->zones[i]);
        if (strlen(nm) == len && memcmp(nm, s, len) == 0) {
            *out = c->zones[i];
            return 0;
        }
    }
    mr_tz *z;
    int rc = mr_tz_load(NULL, s, len, &z, err);
    if (rc < 0)
        return rc;
    int slot;
    if (c->n < TZ_CACHE) {
        slot = c->n++;
    } else {
        slot = c->next;
        c->next = (c->next + 1) % TZ_CACHE;
        mr_tz_free(c->zones[slot]);
    }
    c->zones[slot] = z;
    *out = z;
    return 0;
}

int expr__bind_timezone(expr__node *n, mr_err *err)
{
    int rc = expr__need_type(n, 0, MR_T_STRING, err);
    if (rc < 0)
        return rc;
    expr__node *t = n->kids[1];
    if (t->unknown || t->type.id == MR_T_NULL || t->type.id == MR_T_DATE)
        if ((rc = expr__coerce(&n->kids[1], mr_type_make(MR_T_TIMESTAMPTZ), err)) < 0)
            return rc;
    t = n->kids[1];
    char b[32];
    if (!is_ts(t->type.id))
        return expr__err_at(err, MR_ETYPE, t->off,
                            "AT TIME ZONE needs a timestamp or timestamptz, got %s",
                            tname(t->type, b));
    n->type = mr_type_make(t->type.id == MR_T_TIMESTAMP ? MR_T_TIMESTAMPTZ : MR_T_TIMESTAMP);
    tz_cache *c = calloc(1, sizeof *c);
    if (!c)
        return mr_err_set(err, MR_ENOMEM, "out of memory binding an expression");
    n->aux = c;
    n->aux_free = tz_cache_free;
    expr__node *z = n->kids[0];
    if (z->kind == EN_LIT && !z->lnull) {
        mr_err e;
        if (mr_tz_load(NULL, z->ls, z->lslen, &c->fixed, &e) < 0)
            return expr__err_at(err, MR_EINVAL, z->off, "%s", e.msg);
    }
    return 0;
}

int expr__eval_timezone(expr__node *n, size_t rows, mr_err *err)
{
    tz_cache *c = n->aux;
    const mr_column *t = n->parts[1];
    bool to_local = t->type.id == MR_T_TIMESTAMPTZ;
    for (size_t i = 0; i < rows; i++) {
        if (expr__null_row(n, i))
            continue;
        const mr_tz *z = c->fixed;
        if (!z) {
            size_t len;
            const char *s = mr_column_str(n->parts[0], i, &len);
            int rc = tz_lookup(c, s, len, &z, err);
            if (rc < 0)
                return rc;
        }
        int64_t v = MR_COL_I64(t)[i], secs = floor_div(v, US_PER_SEC);
        int64_t off = to_local ? mr_tz_offset_at(z, secs) : -(int64_t)mr_tz_offset_local(z, secs);
        int64_t r;
        if (__builtin_add_overflow(v, off * US_PER_SEC, &r) || r < TS_MIN)
            return mr_err_set(err, MR_EOVERFLOW, "timestamp out of range at time zone %s",
                              mr_tz_name(z));
        MR_COL_I64(&n->out)[i] = r;
        mr_column_set_valid(&n->out, i, true);
    }
    return 0;
}
