/* expr_func.c - the scalar function library: typing rules and kernels.
 *
 * Every function follows PostgreSQL: NULL in gives NULL out except where
 * PostgreSQL says otherwise (coalesce, concat, greatest/least skip NULLs).
 * String functions count characters in UTF-8 (length, substr, trim sets);
 * lower/upper (Unicode case mapping) are in expr_text.c with the other
 * string functions of the spec's additions.  md5 is implemented here (RFC
 * 1321).  Date functions work on timestamps (a date argument is widened to
 * midnight); date_trunc's unit and date_part's field must be literals so
 * they are checked, and the result type fixed, at bind time.
 *
 * Kernels evaluate all arguments over the same rows (n->parts holds the
 * argument columns), then loop over rows.  String results are appended in
 * row order to the node's result column.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/expr_int.h"
#include "core/utf8.h"

/* ---- date units and fields --------------------------------------------- */

enum { DU_MICRO, DU_MILLI, DU_SECOND, DU_MINUTE, DU_HOUR, DU_DAY, DU_WEEK, DU_MONTH,
       DU_QUARTER, DU_YEAR, DU_DECADE, DU_CENTURY, DU_MILLENNIUM };

static int lookup_word(const char *s, size_t n, const char *const *names, const int *codes,
                       size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (strlen(names[i]) == n && strncasecmp(names[i], s, n) == 0)
            return codes[i];
    return -1;
}

int expr__date_unit(const char *s, size_t n)
{
    static const char *const names[] = {
        "microseconds", "microsecond", "milliseconds", "millisecond", "second", "seconds",
        "minute", "minutes", "hour", "hours", "day", "days", "week", "weeks", "month",
        "months", "quarter", "year", "years", "decade", "century", "millennium"};
    static const int codes[] = {
        DU_MICRO, DU_MICRO, DU_MILLI, DU_MILLI, DU_SECOND, DU_SECOND, DU_MINUTE,
        DU_MINUTE, DU_HOUR, DU_HOUR, DU_DAY, DU_DAY, DU_WEEK, DU_WEEK, DU_MONTH, DU_MONTH,
        DU_QUARTER, DU_YEAR, DU_YEAR, DU_DECADE, DU_CENTURY, DU_MILLENNIUM};
    return lookup_word(s, n, names, codes, sizeof codes / sizeof codes[0]);
}

int expr__date_field(const char *s, size_t n)
{
    static const char *const names[] = {
        "year", "years", "quarter", "month", "months", "week", "day", "days", "dow",
        "isodow", "doy", "hour", "hours", "minute", "minutes", "second", "seconds",
        "millisecond", "milliseconds", "microsecond", "microseconds", "epoch", "isoyear",
        "decade", "century", "millennium"};
    static const int codes[] = {
        DF_YEAR, DF_YEAR, DF_QUARTER, DF_MONTH, DF_MONTH, DF_WEEK, DF_DAY, DF_DAY, DF_DOW,
        DF_ISODOW, DF_DOY, DF_HOUR, DF_HOUR, DF_MINUTE, DF_MINUTE, DF_SECOND, DF_SECOND,
        DF_MILLI, DF_MILLI, DF_MICRO, DF_MICRO, DF_EPOCH, DF_ISOYEAR, DF_DECADE,
        DF_CENTURY, DF_MILLENNIUM};
    return lookup_word(s, n, names, codes, sizeof codes / sizeof codes[0]);
}

/* ---- binding ----------------------------------------------------------- */

static char *tn(mr_type t, char *buf)
{
    return (char *)mr_type_name(t, buf, 32);
}

int expr__need_type(expr__node *n, int i, int id, mr_err *err)
{
    char b[32];
    expr__node *k = n->kids[i];
    if (k->type.id == MR_T_NULL || k->unknown) {
        int rc = expr__coerce(&n->kids[i], mr_type_make((mr_type_id)id), err);
        if (rc < 0)
            return rc;
        return 0;
    }
    if (id == MR_T_INT64 && (k->type.id == MR_T_INT32 || k->type.id == MR_T_INT64))
        return expr__coerce(&n->kids[i], mr_type_make(MR_T_INT64), err);
    if (id == MR_T_TIMESTAMP && k->type.id == MR_T_DATE)
        return expr__coerce(&n->kids[i], mr_type_make(MR_T_TIMESTAMP), err);
    if (k->type.id != id)
        return expr__err_at(err, MR_ETYPE, k->off, "%s() argument %d must be %s, got %s",
                            n->name, i + 1,
                            id == MR_T_INT64 ? "an integer" : id == MR_T_STRING ? "a string"
                                                                             : "a timestamp",
                            tn(k->type, b));
    return 0;
}

/* All arguments to one common type (unknown literals adopt it). */
static int unify_all(expr__node *n, int from, mr_err *err)
{
    mr_type t = mr_type_make(MR_T_NULL);
    char b1[32], b2[32];
    for (int i = from; i < n->nkids; i++) {
        expr__node *k = n->kids[i];
        if (k->unknown)
            continue;
        mr_type c;
        if (expr__common_type(t, k->type, &c) < 0)
            return expr__err_at(err, MR_ETYPE, k->off, "%s() arguments mix %s and %s", n->name,
                                tn(t, b1), tn(k->type, b2));
        t = c;
    }
    if (t.id == MR_T_NULL)
        t = mr_type_make(MR_T_STRING);
    for (int i = from; i < n->nkids; i++) {
        int rc = expr__coerce(&n->kids[i], t, err);
        if (rc < 0)
            return rc;
    }
    n->type = t;
    return 0;
}

static int need_numeric(expr__node *n, mr_err *err)
{
    char b[32];
    if (n->kids[0]->type.id == MR_T_NULL || n->kids[0]->unknown) {
        int rc = expr__coerce(&n->kids[0], mr_type_make(MR_T_FLOAT64), err);
        if (rc < 0)
            return rc;
    }
    if (!mr_type_is_numeric(n->kids[0]->type))
        return expr__err_at(err, MR_ETYPE, n->kids[0]->off, "%s() needs a number, got %s",
                            n->name, tn(n->kids[0]->type, b));
    n->type = n->kids[0]->type;
    return 0;
}

static int literal_text(expr__node *n, int i, const char *what, mr_err *err)
{
    expr__node *k = n->kids[i];
    if (k->kind != EN_LIT || k->type.id != MR_T_STRING || k->lnull)
        return expr__err_at(err, MR_EINVAL, k->off, "%s() %s must be a quoted literal",
                            n->name, what);
    return 0;
}

static int bind_unify(expr__node *n, mr_err *err)
{
    return unify_all(n, 0, err);
}

static int bind_numeric(expr__node *n, mr_err *err)
{
    return need_numeric(n, err);
}

static int bind_floor_ceil(expr__node *n, mr_err *err)
{
    int rc = need_numeric(n, err);
    if (rc < 0)
        return rc;
    if (n->type.id == MR_T_DECIMAL && n->type.scale > 0) {
        int p = n->type.precision - n->type.scale + 1;
        n->type = mr_type_decimal(p > 18 ? 18 : p, 0);
    }
    return 0;
}

static int bind_round(expr__node *n, mr_err *err)
{
    int rc = need_numeric(n, err);
    if (rc < 0)
        return rc;
    int64_t d = 0;
    if (n->nkids == 2) {
        expr__node *k = n->kids[1];
        if (k->kind != EN_LIT || k->lnull ||
            (k->type.id != MR_T_INT32 && k->type.id != MR_T_INT64))
            return expr__err_at(err, MR_EINVAL, k->off, "round() digits must be an integer literal");
        d = k->li;
        if (d < -18 || d > 18)
            return expr__err_at(err, MR_EINVAL, k->off, "round() digits must be in -18..18");
    }
    n->param = d;
    mr_type t = n->type;
    if (t.id == MR_T_DECIMAL && d < t.scale) {
        int s = d > 0 ? (int)d : 0;
        int p = t.precision - t.scale + s + 1;
        n->type = mr_type_decimal(p > 18 ? 18 : p, s);
    }
    return 0;
}

/* Every argument a string, the result a string (lower, upper, md5, trim,
 * replace). */
static int bind_strings(expr__node *n, mr_err *err)
{
    for (int i = 0; i < n->nkids; i++) {
        int rc = expr__need_type(n, i, MR_T_STRING, err);
        if (rc < 0)
            return rc;
    }
    n->type = mr_type_make(MR_T_STRING);
    return 0;
}

static int bind_length(expr__node *n, mr_err *err)
{
    int rc = expr__need_type(n, 0, MR_T_STRING, err);
    if (rc < 0)
        return rc;
    n->type = mr_type_make(MR_T_INT32);
    return 0;
}

static int bind_substr(expr__node *n, mr_err *err)
{
    int rc = expr__need_type(n, 0, MR_T_STRING, err);
    if (rc < 0)
        return rc;
    for (int i = 1; i < n->nkids; i++)
        if ((rc = expr__need_type(n, i, MR_T_INT64, err)) < 0)
            return rc;
    n->type = mr_type_make(MR_T_STRING);
    return 0;
}

static int bind_split_part(expr__node *n, mr_err *err)
{
    int rc;
    if ((rc = expr__need_type(n, 0, MR_T_STRING, err)) < 0 ||
        (rc = expr__need_type(n, 1, MR_T_STRING, err)) < 0 ||
        (rc = expr__need_type(n, 2, MR_T_INT64, err)) < 0)
        return rc;
    n->type = mr_type_make(MR_T_STRING);
    return 0;
}

/* concat() turns any argument into text with the type's output form, as
 * PostgreSQL does: a boolean is t or f there (where a cast gives true or
 * false). */
static int bind_concat(expr__node *n, mr_err *err)
{
    for (int i = 0; i < n->nkids; i++) {
        expr__node *k = n->kids[i];
        bool boolean = k->type.id == MR_T_BOOL && !k->unknown;
        if (boolean && k->kind == EN_LIT && !k->lnull) {
            free(k->ls);
            if (!(k->ls = strdup(k->li ? "t" : "f")))
                return mr_err_set(err, MR_ENOMEM, "out of memory binding an expression");
            k->lslen = 1;
            k->type = mr_type_make(MR_T_STRING);
            continue;
        }
        int rc = expr__coerce(&n->kids[i], mr_type_make(MR_T_STRING), err);
        if (rc < 0)
            return rc;
        if (boolean && n->kids[i]->kind == EN_CAST)
            n->kids[i]->param = 1; /* output form: t, f */
    }
    n->type = mr_type_make(MR_T_STRING);
    return 0;
}

/* date_trunc(unit, t) and date_part(field, t): the unit or field is a
 * literal, checked here, so the result type is fixed at bind time. */
static int bind_date(expr__node *n, mr_err *err)
{
    bool trunc = n->op == EFN_DATE_TRUNC;
    int rc = literal_text(n, 0, trunc ? "unit" : "field", err);
    if (rc < 0)
        return rc;
    expr__node *k = n->kids[0];
    int code = trunc ? expr__date_unit(k->ls, k->lslen) : expr__date_field(k->ls, k->lslen);
    if (code < 0)
        return expr__err_at(err, MR_EINVAL, k->off, "%s() does not know the %s '%s' "
                            "(valid: %s)", n->name, trunc ? "unit" : "field", k->ls,
                            trunc ? "microseconds, milliseconds, second, minute, hour, day, "
                                    "week, month, quarter, year, decade, century, millennium"
                                  : "year, quarter, month, week, day, dow, isodow, doy, "
                                    "hour, minute, second, milliseconds, microseconds, "
                                    "epoch, isoyear, decade, century, millennium");
    n->param = code;
    int kt = n->kids[1]->type.id;
    if (kt == MR_T_INTERVAL && !trunc)
        return expr__bind_date_part_interval(n, err);
    if (kt != MR_T_TIMESTAMPTZ && (rc = expr__need_type(n, 1, MR_T_TIMESTAMP, err)) < 0)
        return rc;
    if (trunc) /* a timestamptz is truncated in UTC, the session zone */
        n->type = mr_type_make(kt == MR_T_TIMESTAMPTZ ? MR_T_TIMESTAMPTZ : MR_T_TIMESTAMP);
    else
        n->type = mr_type_make(code == DF_SECOND || code == DF_EPOCH ? MR_T_FLOAT64
                                                                    : MR_T_INT64);
    return 0;
}

int expr__func_bind(expr__node *n, mr_err *err)
{
    const expr__fndef *f = n->fndef;
    if (!f)
        return expr__err_at(err, MR_EINVAL, n->off, "unknown function '%s'", n->name);
    int min = f->min, max = f->max;
    if (n->nkids < min || (max >= 0 && n->nkids > max)) {
        if (min == max)
            return expr__err_at(err, MR_ETYPE, n->off, "%s() takes %d argument%s, got %d",
                                n->name, min, min == 1 ? "" : "s", n->nkids);
        if (max < 0)
            return expr__err_at(err, MR_ETYPE, n->off, "%s() takes at least %d argument%s",
                                n->name, min, min == 1 ? "" : "s");
        return expr__err_at(err, MR_ETYPE, n->off, "%s() takes %d to %d arguments, got %d",
                            n->name, min, max, n->nkids);
    }
    return f->bind(n, err);
}

/* ---- helpers for kernels ----------------------------------------------- */

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

int expr__oom(mr_err *err)
{
    return mr_err_set(err, MR_ENOMEM, "out of memory evaluating an expression");
}

char *expr__str_room(mr_column *o, size_t i, size_t len)
{
    if (mr_column_reserve_chars(o, o->offsets[i], len) < 0)
        return NULL;
    return o->chars + o->offsets[i];
}

void expr__str_done(mr_column *o, size_t i, size_t len)
{
    o->offsets[i + 1] = o->offsets[i] + (uint32_t)len;
    vset(o->valid, i, true);
}

bool expr__null_row(expr__node *n, size_t i)
{
    for (int k = 0; k < n->nkids; k++)
        if (!vget(n->parts[k]->valid, i)) {
            if (n->out.type.id == MR_T_STRING)
                mr_column_set_str_null(&n->out, i);
            else
                vset(n->out.valid, i, false);
            return true;
        }
    return false;
}

static int cmp_rows(const mr_column *a, size_t i, const mr_column *b, size_t j)
{
    switch (a->type.id) {
    case MR_T_STRING: return expr__strcmp_rows(a, i, b, j);
    case MR_T_BOOL: return (MR_COL_U8(a)[i] > MR_COL_U8(b)[j]) - (MR_COL_U8(a)[i] < MR_COL_U8(b)[j]);
    case MR_T_INT32:
    case MR_T_DATE:
        return (MR_COL_I32(a)[i] > MR_COL_I32(b)[j]) - (MR_COL_I32(a)[i] < MR_COL_I32(b)[j]);
    case MR_T_FLOAT64:
        return (MR_COL_F64(a)[i] > MR_COL_F64(b)[j]) - (MR_COL_F64(a)[i] < MR_COL_F64(b)[j]);
    case MR_T_INTERVAL:
        return expr__interval_cmp(&((const mr_interval *)a->data)[i],
                                  &((const mr_interval *)b->data)[j]);
    default:
        return (MR_COL_I64(a)[i] > MR_COL_I64(b)[j]) - (MR_COL_I64(a)[i] < MR_COL_I64(b)[j]);
    }
}

/* ---- numeric functions ------------------------------------------------- */

static int eval_abs(expr__node *n, size_t rows, mr_err *err)
{
    mr_column *a = n->parts[0], *o = &n->out;
    memcpy(o->valid, a->valid, (rows + 7) / 8);
    for (size_t i = 0; i < rows; i++) {
        switch (n->type.id) {
        case MR_T_INT32: {
            int32_t v = MR_COL_I32(a)[i];
            if (v == INT32_MIN && vget(a->valid, i))
                return mr_err_set(err, MR_EOVERFLOW, "int32 overflow: abs(%d)", v);
            MR_COL_I32(o)[i] = v < 0 && v != INT32_MIN ? -v : v;
            break;
        }
        case MR_T_FLOAT64: MR_COL_F64(o)[i] = fabs(MR_COL_F64(a)[i]); break;
        default: {
            int64_t v = MR_COL_I64(a)[i];
            if (v == INT64_MIN && vget(a->valid, i))
                return mr_err_set(err, MR_EOVERFLOW, "int64 overflow: abs(%lld)", (long long)v);
            MR_COL_I64(o)[i] = v < 0 && v != INT64_MIN ? -v : v;
            break;
        }
        }
    }
    return 0;
}

/* Rounds v (an integer of some scale) to a multiple of unit with mode
 * 0 = half away from zero, 1 = floor, 2 = ceil. */
static int64_t round_to(int64_t v, int64_t unit, int mode)
{
    int64_t q = v / unit, r = v % unit;
    if (mode == 0) {
        if (r >= 0 ? 2 * r >= unit : -2 * r >= unit)
            q += v < 0 ? -1 : 1;
    } else if (mode == 1) {
        if (r < 0)
            q--;
    } else if (r > 0) {
        q++;
    }
    return q;
}

static int eval_round(expr__node *n, size_t rows, mr_err *err)
{
    mr_column *a = n->parts[0], *o = &n->out;
    int mode = n->op == EFN_ROUND ? 0 : n->op == EFN_FLOOR ? 1 : 2;
    int64_t d = n->op == EFN_ROUND ? n->param : 0;
    memcpy(o->valid, a->valid, (rows + 7) / 8);
    mr_type t = a->type;
    if (t.id == MR_T_FLOAT64) {
        double f = pow(10.0, (double)d);
        for (size_t i = 0; i < rows; i++) {
            double x = MR_COL_F64(a)[i];
            MR_COL_F64(o)[i] = mode == 1 ? floor(x) : mode == 2 ? ceil(x)
                               : d == 0  ? rint(x)
                                         : round(x * f) / f;
        }
        return 0;
    }
    /* exact: drop (scale - d) digits, then bring to the result scale */
    int in_scale = t.id == MR_T_DECIMAL ? t.scale : 0;
    int out_scale = n->type.id == MR_T_DECIMAL ? n->type.scale : 0;
    int64_t drop = in_scale - d;
    if (drop <= 0) {
        for (size_t i = 0; i < rows; i++) {
            int64_t v = t.id == MR_T_INT32 ? MR_COL_I32(a)[i] : MR_COL_I64(a)[i];
            if (n->type.id == MR_T_INT32)
                MR_COL_I32(o)[i] = (int32_t)v;
            else
                MR_COL_I64(o)[i] = v;
        }
        return 0;
    }
    if (drop > 18) {
        for (size_t i = 0; i < rows; i++) {
            if (n->type.id == MR_T_INT32)
                MR_COL_I32(o)[i] = 0;
            else
                MR_COL_I64(o)[i] = 0;
        }
        return 0;
    }
    int64_t unit = mr_pow10[drop];
    int up = out_scale - (in_scale - (int)drop); /* digits to re-add (d < 0) */
    for (size_t i = 0; i < rows; i++) {
        int64_t v = t.id == MR_T_INT32 ? MR_COL_I32(a)[i] : MR_COL_I64(a)[i];
        int64_t q = round_to(v, unit, mode), r = q;
        if (up > 0 && __builtin_mul_overflow(q, mr_pow10[up], &r) && vget(a->valid, i))
            return mr_err_set(err, MR_EOVERFLOW, "%s() overflow", n->name);
        if (n->type.id == MR_T_INT32) {
            if ((r < INT32_MIN || r > INT32_MAX) && vget(a->valid, i))
                return mr_err_set(err, MR_EOVERFLOW, "%s() overflow", n->name);
            MR_COL_I32(o)[i] = (int32_t)r;
        } else {
            MR_COL_I64(o)[i] = r;
        }
    }
    return 0;
}

static int eval_minmax(expr__node *n, size_t rows, mr_err *err)
{
    bool greatest = n->op == EFN_GREATEST;
    for (size_t i = 0; i < rows; i++) {
        int best = -1;
        for (int k = 0; k < n->nkids; k++) {
            if (!vget(n->parts[k]->valid, i))
                continue;
            if (best < 0) {
                best = k;
                continue;
            }
            int c = cmp_rows(n->parts[k], i, n->parts[best], i);
            if (greatest ? c > 0 : c < 0)
                best = k;
        }
        n->which[i] = best < 0 ? 0xffff : (uint16_t)best;
        n->idx[i] = (uint32_t)i;
    }
    return expr__gather_parts(n, rows, err);
}

static int eval_nullif(expr__node *n, size_t rows, mr_err *err)
{
    mr_column *a = n->parts[0], *b = n->parts[1];
    for (size_t i = 0; i < rows; i++) {
        bool same = vget(a->valid, i) && vget(b->valid, i) && cmp_rows(a, i, b, i) == 0;
        n->which[i] = same ? 0xffff : 0;
        n->idx[i] = (uint32_t)i;
    }
    return expr__gather_parts(n, rows, err);
}

/* ---- string functions -------------------------------------------------- */

static int eval_length(expr__node *n, size_t rows)
{
    mr_column *a = n->parts[0], *o = &n->out;
    memcpy(o->valid, a->valid, (rows + 7) / 8);
    for (size_t i = 0; i < rows; i++) {
        size_t len;
        const char *s = mr_column_str(a, i, &len);
        MR_COL_I32(o)[i] = (int32_t)mr_utf8_chars(s, len);
    }
    return 0;
}

/* Whether the character at s[0..cl) is one of the characters of set. */
static bool in_set(const char *s, size_t cl, const char *set, size_t sn)
{
    for (size_t i = 0; i < sn;) {
        size_t l = 1;
        while (i + l < sn && ((unsigned char)set[i + l] & 0xc0) == 0x80)
            l++;
        if (l == cl && memcmp(set + i, s, cl) == 0)
            return true;
        i += l;
    }
    return false;
}

static int eval_trim(expr__node *n, size_t rows, mr_err *err)
{
    mr_column *a = n->parts[0], *o = &n->out;
    bool left = n->op != EFN_RTRIM, right = n->op != EFN_LTRIM;
    for (size_t i = 0; i < rows; i++) {
        if (expr__null_row(n, i))
            continue;
        size_t len, sn = 1;
        const char *s = mr_column_str(a, i, &len), *set = " ";
        if (n->nkids == 2)
            set = mr_column_str(n->parts[1], i, &sn);
        size_t b = 0, e = len;
        while (left && b < e) {
            size_t cl = 1;
            while (b + cl < e && ((unsigned char)s[b + cl] & 0xc0) == 0x80)
                cl++;
            if (!in_set(s + b, cl, set, sn))
                break;
            b += cl;
        }
        while (right && e > b) {
            size_t st = e - 1;
            while (st > b && ((unsigned char)s[st] & 0xc0) == 0x80)
                st--;
            if (!in_set(s + st, e - st, set, sn))
                break;
            e = st;
        }
        if (mr_column_set_str(o, i, s + b, e - b) < 0)
            return expr__oom(err);
    }
    return 0;
}

static int eval_substr(expr__node *n, size_t rows, mr_err *err)
{
    mr_column *a = n->parts[0], *o = &n->out;
    for (size_t i = 0; i < rows; i++) {
        if (expr__null_row(n, i))
            continue;
        size_t len;
        const char *s = mr_column_str(a, i, &len);
        int64_t start = MR_COL_I64(n->parts[1])[i], end = INT64_MAX;
        if (n->nkids == 3) {
            int64_t l = MR_COL_I64(n->parts[2])[i];
            if (l < 0)
                return mr_err_set(err, MR_EINVAL, "negative substring length not allowed");
            if (__builtin_add_overflow(start, l, &end))
                end = INT64_MAX;
        }
        /* characters [start, end) counted from 1, clipped to the string */
        int64_t from = start < 1 ? 1 : start;
        size_t b = 0, e = 0;
        if (end > from) {
            b = mr_utf8_advance(s, len, from - 1);
            e = end == INT64_MAX ? len : b + mr_utf8_advance(s + b, len - b, end - from);
        } else {
            b = e = 0;
        }
        if (mr_column_set_str(o, i, s + b, e - b) < 0)
            return expr__oom(err);
    }
    return 0;
}

static int eval_replace(expr__node *n, size_t rows, mr_err *err)
{
    mr_column *o = &n->out;
    for (size_t i = 0; i < rows; i++) {
        if (expr__null_row(n, i))
            continue;
        size_t len, fl, tl;
        const char *s = mr_column_str(n->parts[0], i, &len);
        const char *f = mr_column_str(n->parts[1], i, &fl);
        const char *t = mr_column_str(n->parts[2], i, &tl);
        if (fl == 0) {
            if (mr_column_set_str(o, i, s, len) < 0)
                return expr__oom(err);
            continue;
        }
        size_t hits = 0;
        for (const char *p = s; (p = memmem(p, len - (size_t)(p - s), f, fl)); p += fl)
            hits++;
        size_t outlen = len + hits * tl - hits * fl;
        char *d = expr__str_room(o, i, outlen);
        if (!d)
            return expr__oom(err);
        const char *p = s;
        for (const char *h; (h = memmem(p, len - (size_t)(p - s), f, fl)); p = h + fl) {
            memcpy(d, p, (size_t)(h - p));
            d += h - p;
            memcpy(d, t, tl);
            d += tl;
        }
        memcpy(d, p, len - (size_t)(p - s));
        expr__str_done(o, i, outlen);
    }
    return 0;
}

static int eval_concat_fn(expr__node *n, size_t rows, mr_err *err)
{
    mr_column *o = &n->out;
    for (size_t i = 0; i < rows; i++) {
        size_t total = 0;
        for (int k = 0; k < n->nkids; k++)
            if (vget(n->parts[k]->valid, i))
                total += n->parts[k]->offsets[i + 1] - n->parts[k]->offsets[i];
        char *d = expr__str_room(o, i, total);
        if (!d)
            return expr__oom(err);
        for (int k = 0; k < n->nkids; k++)
            if (vget(n->parts[k]->valid, i)) {
                size_t l;
                const char *s = mr_column_str(n->parts[k], i, &l);
                memcpy(d, s, l);
                d += l;
            }
        expr__str_done(o, i, total);
    }
    return 0;
}

static int eval_split_part(expr__node *n, size_t rows, mr_err *err)
{
    mr_column *o = &n->out;
    for (size_t i = 0; i < rows; i++) {
        if (expr__null_row(n, i))
            continue;
        size_t len, dl;
        const char *s = mr_column_str(n->parts[0], i, &len);
        const char *dlm = mr_column_str(n->parts[1], i, &dl);
        int64_t k = MR_COL_I64(n->parts[2])[i];
        if (k == 0)
            return mr_err_set(err, MR_EINVAL, "split_part() field position must not be zero");
        const char *b = s, *e = s; /* the chosen field, or empty */
        if (dl == 0) {
            if (k == 1 || k == -1)
                e = s + len;
        } else {
            int64_t nf = 1;
            for (const char *p = s; (p = memmem(p, len - (size_t)(p - s), dlm, dl)); p += dl)
                nf++;
            int64_t want = k > 0 ? k : nf + k + 1; /* 1-based field number */
            if (want >= 1 && want <= nf) {
                const char *p = s;
                for (int64_t f = 1; f < want; f++)
                    p = (const char *)memmem(p, len - (size_t)(p - s), dlm, dl) + dl;
                const char *h = memmem(p, len - (size_t)(p - s), dlm, dl);
                b = p;
                e = h ? h : s + len;
            }
        }
        if (mr_column_set_str(o, i, b, (size_t)(e - b)) < 0)
            return expr__oom(err);
    }
    return 0;
}

/* MD5 (RFC 1321) of s[0..n) into 16 bytes. */
static void md5(const unsigned char *s, size_t n, unsigned char out[16])
{
    static const uint32_t K[64] = {
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
        0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
        0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
        0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
        0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
        0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
        0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
        0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
        0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
        0xeb86d391};
    static const uint8_t R[64] = {7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                                  5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
                                  4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                                  6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};
    uint32_t h[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
    size_t total = ((n + 8) / 64 + 1) * 64;
    for (size_t off = 0; off < total; off += 64) {
        unsigned char blk[64];
        for (size_t j = 0; j < 64; j++) {
            size_t p = off + j;
            blk[j] = p < n ? s[p] : p == n ? 0x80 : 0;
        }
        if (off + 64 == total) {
            uint64_t bits = (uint64_t)n * 8;
            for (int j = 0; j < 8; j++)
                blk[56 + j] = (unsigned char)(bits >> (8 * j));
        }
        uint32_t w[16];
        for (int j = 0; j < 16; j++)
            w[j] = (uint32_t)blk[4 * j] | (uint32_t)blk[4 * j + 1] << 8 |
                   (uint32_t)blk[4 * j + 2] << 16 | (uint32_t)blk[4 * j + 3] << 24;
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
        for (int j = 0; j < 64; j++) {
            uint32_t f;
            int g;
            if (j < 16) {
                f = (b & c) | (~b & d);
                g = j;
            } else if (j < 32) {
                f = (d & b) | (~d & c);
                g = (5 * j + 1) % 16;
            } else if (j < 48) {
                f = b ^ c ^ d;
                g = (3 * j + 5) % 16;
            } else {
                f = c ^ (b | ~d);
                g = (7 * j) % 16;
            }
            uint32_t t = d;
            d = c;
            c = b;
            uint32_t x = a + f + K[j] + w[g];
            b = b + ((x << R[j]) | (x >> (32 - R[j])));
            a = t;
        }
        h[0] += a;
        h[1] += b;
        h[2] += c;
        h[3] += d;
    }
    for (int j = 0; j < 16; j++)
        out[j] = (unsigned char)(h[j / 4] >> (8 * (j % 4)));
}

static int eval_md5(expr__node *n, size_t rows, mr_err *err)
{
    static const char hex[] = "0123456789abcdef";
    mr_column *o = &n->out;
    for (size_t i = 0; i < rows; i++) {
        if (expr__null_row(n, i))
            continue;
        size_t len;
        const char *s = mr_column_str(n->parts[0], i, &len);
        unsigned char dg[16];
        md5((const unsigned char *)s, len, dg);
        char *d = expr__str_room(o, i, 32);
        if (!d)
            return expr__oom(err);
        for (int j = 0; j < 16; j++) {
            d[2 * j] = hex[dg[j] >> 4];
            d[2 * j + 1] = hex[dg[j] & 15];
        }
        expr__str_done(o, i, 32);
    }
    return 0;
}

/* ---- date functions ---------------------------------------------------- */

#define US_PER_DAY 86400000000LL

static int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t floormod(int64_t a, int64_t b)
{
    return a - floordiv(a, b) * b;
}

static int64_t trunc_ts(int64_t ts, int unit)
{
    static const int64_t fixed[] = {1, 1000, 1000000, 60000000, 3600000000LL, US_PER_DAY};
    if (unit <= DU_DAY)
        return floordiv(ts, fixed[unit]) * fixed[unit];
    int64_t days = floordiv(ts, US_PER_DAY);
    if (unit == DU_WEEK) /* weeks start on Monday; 1970-01-01 was a Thursday */
        return (days - floormod(days + 3, 7)) * US_PER_DAY;
    int64_t y;
    unsigned m, d;
    mr_civil_from_days((int32_t)days, &y, &m, &d);
    switch (unit) {
    case DU_MONTH: break;
    case DU_QUARTER: m = (m - 1) / 3 * 3 + 1; break;
    case DU_YEAR: m = 1; break;
    case DU_DECADE: m = 1; y = floordiv(y, 10) * 10; break;
    case DU_CENTURY: m = 1; y = y > 0 ? (y - 1) / 100 * 100 + 1 : y; break;
    default: m = 1; y = y > 0 ? (y - 1) / 1000 * 1000 + 1 : y; break;
    }
    return (int64_t)mr_days_from_civil(y, m, 1) * US_PER_DAY;
}

static int64_t part_int(int64_t ts, int field)
{
    int64_t days = floordiv(ts, US_PER_DAY), us = floormod(ts, US_PER_DAY);
    int64_t y;
    unsigned m, d;
    mr_civil_from_days((int32_t)days, &y, &m, &d);
    int64_t isodow = floormod(days + 3, 7) + 1; /* Monday 1 .. Sunday 7 */
    switch (field) {
    case DF_YEAR: return y;
    case DF_QUARTER: return (m - 1) / 3 + 1;
    case DF_MONTH: return m;
    case DF_DAY: return d;
    case DF_DOW: return isodow % 7;
    case DF_ISODOW: return isodow;
    case DF_DOY: return days - mr_days_from_civil(y, 1, 1) + 1;
    case DF_HOUR: return us / 3600000000LL;
    case DF_MINUTE: return us / 60000000 % 60;
    case DF_MILLI: return us % 60000000 / 1000;
    case DF_MICRO: return us % 60000000;
    case DF_DECADE: return floordiv(y, 10);
    case DF_CENTURY: return y > 0 ? (y + 99) / 100 : -((-y + 100) / 100);
    case DF_MILLENNIUM: return y > 0 ? (y + 999) / 1000 : -((-y + 1000) / 1000);
    default: {
        /* ISO week and year: those of the Thursday of this week */
        int64_t thu = days - isodow + 4, iy;
        unsigned im, idd;
        mr_civil_from_days((int32_t)thu, &iy, &im, &idd);
        if (field == DF_ISOYEAR)
            return iy;
        return (thu - mr_days_from_civil(iy, 1, 1)) / 7 + 1;
    }
    }
}

static int eval_date(expr__node *n, size_t rows)
{
    mr_column *a = n->parts[1], *o = &n->out;
    memcpy(o->valid, a->valid, (rows + 7) / 8);
    const int64_t *t = a->data;
    int p = (int)n->param;
    if (n->op == EFN_DATE_TRUNC) {
        for (size_t i = 0; i < rows; i++)
            MR_COL_I64(o)[i] = trunc_ts(t[i], p);
    } else if (p == DF_SECOND) {
        for (size_t i = 0; i < rows; i++)
            MR_COL_F64(o)[i] = (double)floormod(t[i], 60000000) / 1e6;
    } else if (p == DF_EPOCH) {
        for (size_t i = 0; i < rows; i++)
            MR_COL_F64(o)[i] = (double)t[i] / 1e6;
    } else {
        for (size_t i = 0; i < rows; i++)
            MR_COL_I64(o)[i] = part_int(t[i], p);
    }
    return 0;
}

/* ---- the library and dispatch ------------------------------------------ */

static int eval_length_fn(expr__node *n, size_t rows, mr_err *err)
{
    (void)err;
    return eval_length(n, rows);
}

static int eval_date_fn(expr__node *n, size_t rows, mr_err *err)
{
    if (n->parts[1]->type.id == MR_T_INTERVAL)
        return expr__eval_date_part_interval(n, rows, err);
    return eval_date(n, rows);
}

/* Every scalar function.  Adding one: its kernel and binder above (or in a
 * file of its own, declared in expr_int.h), one row here, a line in
 * docs/dag-format.md and tests in tests/unit/test_expr.c. */
static const expr__fndef funcs[] = {
    {"coalesce", EFN_COALESCE, 1, -1, bind_unify, NULL, expr__eval_coalesce},
    {"nullif", EFN_NULLIF, 2, 2, bind_unify, eval_nullif, NULL},
    {"greatest", EFN_GREATEST, 1, -1, bind_unify, eval_minmax, NULL},
    {"least", EFN_LEAST, 1, -1, bind_unify, eval_minmax, NULL},
    {"abs", EFN_ABS, 1, 1, bind_numeric, eval_abs, NULL},
    {"round", EFN_ROUND, 1, 2, bind_round, eval_round, NULL},
    {"floor", EFN_FLOOR, 1, 1, bind_floor_ceil, eval_round, NULL},
    {"ceil", EFN_CEIL, 1, 1, bind_floor_ceil, eval_round, NULL},
    {"ceiling", EFN_CEIL, 1, 1, bind_floor_ceil, eval_round, NULL},
    {"lower", EFN_LOWER, 1, 1, bind_strings, expr__eval_case_map, NULL},
    {"upper", EFN_UPPER, 1, 1, bind_strings, expr__eval_case_map, NULL},
    {"length", EFN_LENGTH, 1, 1, bind_length, eval_length_fn, NULL},
    {"char_length", EFN_LENGTH, 1, 1, bind_length, eval_length_fn, NULL},
    {"trim", EFN_TRIM, 1, 2, bind_strings, eval_trim, NULL},
    {"btrim", EFN_TRIM, 1, 2, bind_strings, eval_trim, NULL},
    {"ltrim", EFN_LTRIM, 1, 2, bind_strings, eval_trim, NULL},
    {"rtrim", EFN_RTRIM, 1, 2, bind_strings, eval_trim, NULL},
    {"substr", EFN_SUBSTR, 2, 3, bind_substr, eval_substr, NULL},
    {"substring", EFN_SUBSTR, 2, 3, bind_substr, eval_substr, NULL},
    {"replace", EFN_REPLACE, 3, 3, bind_strings, eval_replace, NULL},
    {"concat", EFN_CONCAT, 1, -1, bind_concat, eval_concat_fn, NULL},
    {"split_part", EFN_SPLIT_PART, 3, 3, bind_split_part, eval_split_part, NULL},
    {"md5", EFN_MD5, 1, 1, bind_strings, eval_md5, NULL},
    {"date_trunc", EFN_DATE_TRUNC, 2, 2, bind_date, eval_date_fn, NULL},
    {"date_part", EFN_DATE_PART, 2, 2, bind_date, eval_date_fn, NULL},
    {"regexp_like", EFN_REGEXP_LIKE, 2, 3, expr__bind_regexp_like, expr__eval_regexp_like, NULL},
    {"regexp_replace", EFN_REGEXP_REPLACE, 3, 4, expr__bind_regexp_replace,
     expr__eval_regexp_replace, NULL},
    {"regexp_substr", EFN_REGEXP_SUBSTR, 2, 4, expr__bind_regexp_substr,
     expr__eval_regexp_substr, NULL},
    {"regexp_count", EFN_REGEXP_COUNT, 2, 3, expr__bind_regexp_count, expr__eval_regexp_count,
     NULL},
    {"json_extract_path_text", EFN_JSON_EXTRACT_PATH_TEXT, 2, -1, expr__bind_json_path,
     expr__eval_json_path, NULL},
    {"json_array_length", EFN_JSON_ARRAY_LENGTH, 1, 1, expr__bind_json_length,
     expr__eval_json_length, NULL},
    {"json_typeof", EFN_JSON_TYPEOF, 1, 1, expr__bind_json_typeof, expr__eval_json_typeof, NULL},
    {"lpad", EFN_LPAD, 2, 3, expr__bind_pad, expr__eval_pad, NULL},
    {"rpad", EFN_RPAD, 2, 3, expr__bind_pad, expr__eval_pad, NULL},
    {"left", EFN_LEFT, 2, 2, expr__bind_text_int, expr__eval_left_right, NULL},
    {"right", EFN_RIGHT, 2, 2, expr__bind_text_int, expr__eval_left_right, NULL},
    {"strpos", EFN_STRPOS, 2, 2, expr__bind_strpos, expr__eval_strpos, NULL},
    {"initcap", EFN_INITCAP, 1, 1, expr__bind_text, expr__eval_initcap, NULL},
    {"reverse", EFN_REVERSE, 1, 1, expr__bind_text, expr__eval_reverse, NULL},
    {"repeat", EFN_REPEAT, 2, 2, expr__bind_text_int, expr__eval_repeat, NULL},
    {"starts_with", EFN_STARTS_WITH, 2, 2, expr__bind_starts_with, expr__eval_starts_with, NULL},
    {"sha256", EFN_SHA256, 1, 1, expr__bind_text, expr__eval_sha256, NULL},
    {"timezone", EFN_TIMEZONE, 2, 2, expr__bind_timezone, expr__eval_timezone, NULL},
    {"to_timestamp", EFN_TO_TIMESTAMP, 2, 2, expr__bind_to_timestamp, expr__eval_to_timestamp,
     NULL},
    {"to_date", EFN_TO_DATE, 2, 2, expr__bind_to_timestamp, expr__eval_to_timestamp, NULL},
    {"to_char", EFN_TO_CHAR, 2, 2, expr__bind_to_char, expr__eval_to_char, NULL},
    {"make_date", EFN_MAKE_DATE, 3, 3, expr__bind_make_date, expr__eval_make_date, NULL},
    {"now", EFN_NOW, 0, 0, expr__bind_now, expr__eval_now, NULL},
};
static const size_t NFUNCS = sizeof funcs / sizeof funcs[0];

const expr__fndef *expr__func_lookup(const char *name)
{
    for (size_t i = 0; i < NFUNCS; i++)
        if (strcasecmp(funcs[i].name, name) == 0)
            return &funcs[i];
    return NULL;
}

const char *expr__func_suggest(const char *name)
{
    const char *best = NULL;
    int bestd = 3;
    for (size_t i = 0; i < NFUNCS; i++) {
        int d = expr__edit_distance(name, funcs[i].name);
        if (d < bestd) {
            bestd = d;
            best = funcs[i].name;
        }
    }
    return best;
}

int expr__func_eval(expr__node *n, const mr_batch *in, const uint32_t *sel, size_t rows,
                    mr_err *err)
{
    const expr__fndef *f = n->fndef;
    if (f->eval_self)
        return f->eval_self(n, in, sel, rows, err);
    if (expr__out_prep(n, rows) < 0 || expr__scratch_prep(n, rows) < 0 ||
        expr__parts_prep(n, n->nkids) < 0)
        return expr__oom(err);
    for (int k = 0; k < n->nkids; k++) {
        int rc = expr__eval(n->kids[k], in, sel, rows, &n->parts[k], err);
        if (rc < 0)
            return rc;
    }
    return f->eval(n, rows, err);
}
