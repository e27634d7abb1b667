/* expr_timefmt.c - to_char, to_timestamp and to_date with PostgreSQL's
 * template patterns.
 *
 * A format is compiled once into items: a pattern (YYYY, MM, HH24, Mon,
 * ...) with its FM ("fill mode": no padding) flag, or a run of literal
 * text (anything that is not a pattern, "double-quoted" text, a
 * backslash-escaped character).  Patterns are matched longest first, as
 * PostgreSQL's keyword table does; the name patterns (Month, Mon, Day, Dy,
 * AM) take their case from how they are written, the others are read in
 * any case.
 *
 * Output follows PostgreSQL's to_char: zero-padded numbers, full month and
 * day names padded to 9 characters unless FM, TZH/TZM the UTC offset (0:
 * values are shown in UTC).  Input follows to_timestamp in its default
 * (not FX) mode: blanks before a field are skipped, a literal character of
 * the format skips one separator of the input, numbers take up to their
 * field's width of digits (a year as many as follow when a separator comes
 * next), names match case-insensitively, and text after the last item is
 * ignored.  A value that does not read, or a date that does not exist, is
 * an error naming the text and the field, as PostgreSQL's are.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/expr_int.h"

#define US_PER_DAY INT64_C(86400000000)

enum {
    F_LIT, F_YYYY, F_YYY, F_YY, F_Y, F_IYYY, F_MM, F_DDD, F_DD, F_D, F_ID, F_HH24, F_HH12,
    F_MI, F_SS, F_MS, F_US, F_AM, F_AMDOT, F_TZH, F_TZM, F_MONTH, F_MON, F_DAY, F_DY, F_IW,
    F_Q,
};

/* Case of a name pattern as written: Upper (JAN), Capitalised (Jan), lower. */
enum { C_UPPER, C_CAP, C_LOWER };

typedef struct fmt_item {
    uint8_t kind, fm, cs;
    uint32_t off, len; /* F_LIT: the text in fmt.text */
} fmt_item;

typedef struct tfmt {
    int n, cap;
    fmt_item *items;
    char *text; /* literal bytes */
} tfmt;

static const struct {
    const char *w;
    uint8_t kind;
    bool named; /* case-sensitive name pattern */
} pats[] = {
    {"YYYY", F_YYYY, 0}, {"IYYY", F_IYYY, 0}, {"YYY", F_YYY, 0}, {"YY", F_YY, 0},
    {"Y", F_Y, 0},       {"MONTH", F_MONTH, 1}, {"MON", F_MON, 1}, {"MM", F_MM, 0},
    {"MI", F_MI, 0},     {"MS", F_MS, 0},     {"DAY", F_DAY, 1}, {"DDD", F_DDD, 0},
    {"DD", F_DD, 0},     {"DY", F_DY, 1},     {"D", F_D, 0},     {"ID", F_ID, 0},
    {"IW", F_IW, 0},     {"HH24", F_HH24, 0}, {"HH12", F_HH12, 0}, {"HH", F_HH12, 0},
    {"SS", F_SS, 0},     {"US", F_US, 0},     {"A.M.", F_AMDOT, 1}, {"P.M.", F_AMDOT, 1},
    {"AM", F_AM, 1},     {"PM", F_AM, 1},     {"TZH", F_TZH, 0}, {"TZM", F_TZM, 0},
    {"Q", F_Q, 0},
};

static char up(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 32) : c;
}

/* The pattern at s[0..n), its length in *len and case in *cs, or -1. */
static int match_pat(const char *s, size_t n, size_t *len, uint8_t *cs)
{
    for (size_t p = 0; p < sizeof pats / sizeof pats[0]; p++) {
        size_t l = strlen(pats[p].w);
        if (l > n)
            continue;
        size_t i = 0;
        while (i < l && up(s[i]) == pats[p].w[i])
            i++;
        if (i < l)
            continue;
        bool lower0 = s[0] >= 'a' && s[0] <= 'z';
        /* the case a name is printed in: MONTH, Month, month (A.M. by its
         * first letter; Mon-like words by their second) */
        if (pats[p].named) {
            bool lower1 = l > 1 && s[1] >= 'a' && s[1] <= 'z';
            *cs = lower0 ? C_LOWER : (lower1 ? C_CAP : C_UPPER);
            if (pats[p].kind == F_AM || pats[p].kind == F_AMDOT)
                *cs = lower0 ? C_LOWER : C_UPPER;
        } else {
            *cs = C_UPPER;
        }
        *len = l;
        return pats[p].kind;
    }
    return -1;
}

static void tfmt_free(void *p)
{
    tfmt *f = p;
    if (!f)
        return;
    free(f->items);
    free(f->text);
    free(f);
}

static int add_item(tfmt *f, fmt_item it)
{
    if (it.kind == F_LIT && f->n && f->items[f->n - 1].kind == F_LIT) {
        f->items[f->n - 1].len += it.len; /* literal bytes are contiguous */
        return 0;
    }
    if (f->n == f->cap) { /* doubling: a long format costs linear time */
        int cap = f->cap ? 2 * f->cap : 16;
        fmt_item *x = realloc(f->items, (size_t)cap * sizeof *x);
        if (!x)
            return MR_ENOMEM;
        f->items = x;
        f->cap = cap;
    }
    f->items[f->n++] = it;
    return 0;
}

/* Compiles s[0..n); NULL when out of memory. */
static tfmt *tfmt_compile(const char *s, size_t n)
{
    tfmt *f = calloc(1, sizeof *f);
    if (!f || !(f->text = malloc(n + 1))) {
        free(f);
        return NULL;
    }
    uint32_t tl = 0;
    size_t i = 0;
    while (i < n) {
        fmt_item it = {F_LIT, 0, 0, tl, 0};
        size_t j = i;
        bool fm = false;
        if (n - j >= 2 && up(s[j]) == 'F' && up(s[j + 1]) == 'M') {
            fm = true;
            j += 2;
        }
        size_t len;
        uint8_t cs;
        int k = j < n ? match_pat(s + j, n - j, &len, &cs) : -1;
        if (k >= 0) {
            it.kind = (uint8_t)k;
            it.fm = fm;
            it.cs = cs;
            i = j + len;
        } else if (s[i] == '"') {
            for (i++; i < n && s[i] != '"'; i++) {
                if (s[i] == '\\' && i + 1 < n)
                    i++;
                f->text[tl++] = s[i];
                it.len++;
            }
            i++;
        } else {
            if (s[i] == '\\' && i + 1 < n)
                i++;
            f->text[tl++] = s[i++];
            it.len = 1;
        }
        if ((it.kind != F_LIT || it.len) && add_item(f, it) < 0) {
            tfmt_free(f);
            return NULL;
        }
    }
    return f;
}

/* The node's compiled format: the one made at bind time, or a fresh one
 * for this row (freed by the caller when *owned). */
static tfmt *row_fmt(expr__node *n, size_t i, bool *owned)
{
    *owned = false;
    if (n->aux)
        return n->aux;
    size_t len;
    const char *s = mr_column_str(n->parts[1], i, &len);
    *owned = true;
    return tfmt_compile(s, len);
}

static int bind_fmt(expr__node *n, mr_err *err)
{
    expr__node *f = n->kids[1];
    if (f->kind == EN_LIT && !f->lnull) {
        if (!(n->aux = tfmt_compile(f->ls, f->lslen)))
            return mr_err_set(err, MR_ENOMEM, "out of memory binding an expression");
        n->aux_free = tfmt_free;
    }
    return 0;
}

/* ---- to_char --------------------------------------------------------------- */

static const char *const month_names[12] = {"January", "February", "March",     "April",
                                            "May",     "June",     "July",      "August",
                                            "September", "October", "November", "December"};
static const char *const day_names[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                         "Thursday", "Friday", "Saturday"};

int expr__bind_to_char(expr__node *n, mr_err *err)
{
    expr__node *t = n->kids[0];
    char b[32];
    if (t->unknown || t->type.id == MR_T_NULL) {
        int rc = expr__coerce(&n->kids[0], mr_type_make(MR_T_TIMESTAMPTZ), err);
        if (rc < 0)
            return rc;
        t = n->kids[0];
    }
    if (t->type.id == MR_T_DATE) {
        int rc = expr__coerce(&n->kids[0], mr_type_make(MR_T_TIMESTAMP), err);
        if (rc < 0)
            return rc;
        t = n->kids[0];
    }
    if (t->type.id != MR_T_TIMESTAMP && t->type.id != MR_T_TIMESTAMPTZ)
        return expr__err_at(err, MR_ETYPE, t->off,
                            "to_char() argument 1 must be a date, timestamp or timestamptz, got %s",
                            mr_type_name(t->type, b, sizeof b));
    int rc = expr__need_type(n, 1, MR_T_STRING, err);
    if (rc < 0)
        return rc;
    n->type = mr_type_make(MR_T_STRING);
    return bind_fmt(n, err);
}

static size_t put_name(char *d, const char *name, size_t cut, int cs, bool pad)
{
    size_t l = strlen(name);
    if (cut && l > cut)
        l = cut;
    for (size_t i = 0; i < l; i++) {
        char c = name[i];
        if (cs == C_UPPER)
            c = up(c);
        else if (cs == C_LOWER && c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        d[i] = c;
    }
    if (pad)
        for (; l < 9; l++)
            d[l] = ' ';
    return l;
}

static size_t put_num(char *d, int64_t v, int width, bool fm)
{
    return (size_t)sprintf(d, "%0*lld", fm ? 0 : width, (long long)v);
}

/* Formats the time t (microseconds, read in UTC) by f into d, which has
 * room for 24 bytes per item plus the literal text. */
static size_t format_time(const tfmt *f, int64_t t, char *d)
{
    int64_t days = t / US_PER_DAY - (t % US_PER_DAY < 0), us = t - days * US_PER_DAY;
    int64_t y;
    unsigned m, dd;
    mr_civil_from_days((int32_t)days, &y, &m, &dd);
    int64_t hh = us / 3600000000LL, mi = us / 60000000 % 60, ss = us / 1000000 % 60;
    int64_t dow = ((days + 4) % 7 + 7) % 7; /* Sunday 0 */
    int64_t isodow = dow == 0 ? 7 : dow;
    int64_t thu = days - isodow + 4, iy;
    unsigned im, idd;
    mr_civil_from_days((int32_t)thu, &iy, &im, &idd);
    int64_t iw = (thu - mr_days_from_civil(iy, 1, 1)) / 7 + 1;
    int64_t doy = days - mr_days_from_civil(y, 1, 1) + 1;
    size_t o = 0;
    for (int k = 0; k < f->n; k++) {
        const fmt_item *it = &f->items[k];
        bool fm = it->fm;
        switch (it->kind) {
        case F_LIT: memcpy(d + o, f->text + it->off, it->len); o += it->len; break;
        case F_YYYY: o += put_num(d + o, y, 4, fm); break;
        case F_IYYY: o += put_num(d + o, iy, 4, fm); break;
        case F_YYY: o += put_num(d + o, y % 1000, 3, fm); break;
        case F_YY: o += put_num(d + o, y % 100, 2, fm); break;
        case F_Y: o += put_num(d + o, y % 10, 1, fm); break;
        case F_MM: o += put_num(d + o, m, 2, fm); break;
        case F_DD: o += put_num(d + o, dd, 2, fm); break;
        case F_DDD: o += put_num(d + o, doy, 3, fm); break;
        case F_D: o += put_num(d + o, dow + 1, 1, fm); break;
        case F_ID: o += put_num(d + o, isodow, 1, fm); break;
        case F_IW: o += put_num(d + o, iw, 2, fm); break;
        case F_Q: o += put_num(d + o, (m - 1) / 3 + 1, 1, fm); break;
        case F_HH24: o += put_num(d + o, hh, 2, fm); break;
        case F_HH12: o += put_num(d + o, hh % 12 == 0 ? 12 : hh % 12, 2, fm); break;
        case F_MI: o += put_num(d + o, mi, 2, fm); break;
        case F_SS: o += put_num(d + o, ss, 2, fm); break;
        case F_MS: o += put_num(d + o, us / 1000 % 1000, 3, fm); break;
        case F_US: o += put_num(d + o, us % 1000000, 6, fm); break;
        case F_AM:
            o += put_name(d + o, hh >= 12 ? "PM" : "AM", 0, it->cs, false);
            break;
        case F_AMDOT:
            o += put_name(d + o, hh >= 12 ? "P.M." : "A.M.", 0, it->cs, false);
            break;
        case F_TZH: memcpy(d + o, "+00", 3); o += 3; break;
        case F_TZM: memcpy(d + o, "00", 2); o += 2; break;
        case F_MONTH: o += put_name(d + o, month_names[m - 1], 0, it->cs, !fm); break;
        case F_MON: o += put_name(d + o, month_names[m - 1], 3, it->cs, false); break;
        case F_DAY: o += put_name(d + o, day_names[dow], 0, it->cs, !fm); break;
        case F_DY: o += put_name(d + o, day_names[dow], 3, it->cs, false); break;
        }
    }
    return o;
}

int expr__eval_to_char(expr__node *n, size_t rows, mr_err *err)
{
    mr_column *o = &n->out;
    for (size_t i = 0; i < rows; i++) {
        if (expr__null_row(n, i))
            continue;
        bool owned;
        tfmt *f = row_fmt(n, i, &owned);
        if (!f)
            return expr__oom(err);
        size_t room = (size_t)f->n * 24;
        for (int k = 0; k < f->n; k++)
            room += f->items[k].len;
        char *d = expr__str_room(o, i, room);
        if (!d) {
            if (owned)
                tfmt_free(f);
            return expr__oom(err);
        }
        size_t len = format_time(f, MR_COL_I64(n->parts[0])[i], d);
        expr__str_done(o, i, len);
        if (owned)
            tfmt_free(f);
    }
    return 0;
}

/* ---- to_timestamp, to_date --------------------------------------------------- */

int expr__bind_to_timestamp(expr__node *n, mr_err *err)
{
    int rc;
    if ((rc = expr__need_type(n, 0, MR_T_STRING, err)) < 0 ||
        (rc = expr__need_type(n, 1, MR_T_STRING, err)) < 0)
        return rc;
    n->type = mr_type_make(n->op == EFN_TO_DATE ? MR_T_DATE : MR_T_TIMESTAMPTZ);
    return bind_fmt(n, err);
}

typedef struct tparse {
    int64_t year, month, day, doy, hour, minute, second, micros, tz_secs;
    int pm; /* -1 none, 0 AM, 1 PM */
    bool h12, have_year, have_doy;
} tparse;

static bool is_sep(char c)
{
    return !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
}

static const char *pat_name(int kind)
{
    for (size_t p = 0; p < sizeof pats / sizeof pats[0]; p++)
        if (pats[p].kind == kind)
            return pats[p].w;
    return "?";
}

static int bad_value(mr_err *err, const char *fn, const char *s, size_t n, size_t at, int kind)
{
    size_t l = n - at > 16 ? 16 : n - at;
    return mr_err_set(err, MR_EINVAL, "%s(): invalid value \"%.*s\" for \"%s\" in '%.*s'", fn,
                      (int)l, s + at, pat_name(kind), (int)(n > 64 ? 64 : n), s);
}

/* Reads at most max digits (at least one) at s[*i]. */
static bool read_num(const char *s, size_t n, size_t *i, int max, int64_t *v, int *digits)
{
    int64_t acc = 0;
    int k = 0;
    while (*i < n && k < max && s[*i] >= '0' && s[*i] <= '9') {
        acc = acc * 10 + (s[(*i)++] - '0');
        k++;
    }
    *v = acc;
    if (digits)
        *digits = k;
    return k > 0;
}

/* Matches one of names (by its first cut letters when cut) at s[*i]. */
static int read_name(const char *s, size_t n, size_t *i, const char *const *names, int count,
                     size_t cut)
{
    for (int k = 0; k < count; k++) {
        size_t l = cut ? cut : strlen(names[k]);
        if (n - *i >= l && strncasecmp(s + *i, names[k], l) == 0) {
            *i += l;
            return k;
        }
    }
    return -1;
}

static int parse_time(const tfmt *f, const char *fn, const char *s, size_t n, tparse *p,
                      mr_err *err)
{
    size_t i = 0;
    for (int k = 0; k < f->n; k++) {
        const fmt_item *it = &f->items[k];
        if (it->kind == F_LIT) {
            for (uint32_t c = 0; c < it->len; c++) {
                char fc = f->text[it->off + c];
                if (fc == ' ') {
                    while (i < n && s[i] == ' ')
                        i++;
                } else if (i < n && (s[i] == fc || is_sep(s[i]))) {
                    i++;
                }
            }
            continue;
        }
        while (i < n && s[i] == ' ')
            i++;
        size_t at = i;
        int64_t v = 0;
        int digits = 0;
        bool next_sep = k + 1 >= f->n || f->items[k + 1].kind == F_LIT;
        bool ok = true;
        switch (it->kind) {
        case F_YYYY:
        case F_IYYY:
            ok = read_num(s, n, &i, next_sep ? 9 : 4, &v, NULL);
            p->year = v;
            p->have_year = true;
            break;
        case F_YYY:
        case F_YY:
        case F_Y: {
            int w = it->kind == F_YYY ? 3 : it->kind == F_YY ? 2 : 1;
            ok = read_num(s, n, &i, w, &v, &digits);
            /* PostgreSQL: two digits are the year nearest 2020, three the
             * nearest 2000..2999, one the 2000s */
            if (w == 2 && digits <= 2)
                v += v < 70 ? 2000 : 1900;
            else if (w == 3 && digits <= 3)
                v += v < 100 ? 2000 : 1000;
            else if (w == 1)
                v += 2000;
            p->year = v;
            p->have_year = true;
            break;
        }
        case F_MM: ok = read_num(s, n, &i, 2, &p->month, NULL); break;
        case F_DD: ok = read_num(s, n, &i, 2, &p->day, NULL); break;
        case F_DDD:
            ok = read_num(s, n, &i, 3, &p->doy, NULL);
            p->have_doy = true;
            break;
        case F_HH24: ok = read_num(s, n, &i, 2, &p->hour, NULL); break;
        case F_HH12:
            ok = read_num(s, n, &i, 2, &p->hour, NULL);
            p->h12 = true;
            break;
        case F_MI: ok = read_num(s, n, &i, 2, &p->minute, NULL); break;
        case F_SS: ok = read_num(s, n, &i, 2, &p->second, NULL); break;
        case F_MS:
        case F_US: {
            int w = it->kind == F_MS ? 3 : 6;
            ok = read_num(s, n, &i, w, &v, &digits);
            for (int d = digits; d < 6; d++) /* ".5" is half a second */
                v *= 10;
            p->micros += v;
            break;
        }
        case F_D:
        case F_ID:
        case F_Q: ok = read_num(s, n, &i, 1, &v, NULL); break; /* ignored, as PostgreSQL */
        case F_IW:
            return mr_err_set(err, MR_ENOTSUP, "%s(): the ISO week pattern IW is not "
                              "supported in input", fn);
        case F_AM:
        case F_AMDOT: {
            static const char *const am[4] = {"A.M.", "P.M.", "AM", "PM"};
            int w = read_name(s, n, &i, am, 4, 0);
            ok = w >= 0;
            p->pm = w % 2 == 1;
            break;
        }
        case F_MONTH:
        case F_MON: {
            int w = read_name(s, n, &i, month_names, 12, it->kind == F_MON ? 3 : 0);
            if (w < 0 && it->kind == F_MONTH) /* PostgreSQL takes the short name too */
                w = read_name(s, n, &i, month_names, 12, 3);
            ok = w >= 0;
            p->month = w + 1;
            break;
        }
        case F_DAY:
        case F_DY: {
            int w = read_name(s, n, &i, day_names, 7, it->kind == F_DY ? 3 : 0);
            if (w < 0 && it->kind == F_DAY)
                w = read_name(s, n, &i, day_names, 7, 3);
            ok = w >= 0;
            break;
        }
        case F_TZH: {
            int sign = 1;
            if (i < n && (s[i] == '+' || s[i] == '-'))
                sign = s[i++] == '-' ? -1 : 1;
            else
                ok = false;
            ok = ok && read_num(s, n, &i, 2, &v, NULL) && v <= 15;
            p->tz_secs += sign * v * 3600;
            break;
        }
        case F_TZM:
            ok = read_num(s, n, &i, 2, &v, NULL) && v <= 59;
            p->tz_secs += (p->tz_secs < 0 ? -1 : 1) * v * 60;
            break;
        }
        if (!ok)
            return bad_value(err, fn, s, n, at, it->kind);
    }
    return 0;
}

static bool leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int expr__eval_to_timestamp(expr__node *n, size_t rows, mr_err *err)
{
    const char *fn = n->op == EFN_TO_DATE ? "to_date" : "to_timestamp";
    for (size_t i = 0; i < rows; i++) {
        if (expr__null_row(n, i))
            continue;
        bool owned;
        tfmt *f = row_fmt(n, i, &owned);
        if (!f)
            return expr__oom(err);
        size_t len;
        const char *s = mr_column_str(n->parts[0], i, &len);
        tparse p = {.year = 1, .month = 1, .day = 1, .pm = -1};
        int rc = parse_time(f, fn, s, len, &p, err);
        if (owned)
            tfmt_free(f);
        if (rc < 0)
            return rc;
        if (p.h12) {
            if (p.hour < 1 || p.hour > 12)
                goto range;
            p.hour = p.hour % 12 + (p.pm == 1 ? 12 : 0);
        } else if (p.pm == 1 && p.hour < 12) {
            p.hour += 12;
        }
        if (p.year < 1 || p.year > 294276)
            goto range;
        int32_t days;
        if (p.have_doy) {
            if (p.doy < 1 || p.doy > 365 + leap(p.year))
                goto range;
            days = mr_days_from_civil(p.year, 1, 1) + (int32_t)p.doy - 1;
        } else {
            static const int ml[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
            if (p.month < 1 || p.month > 12 || p.day < 1 ||
                p.day > ml[p.month - 1] + (p.month == 2 && leap(p.year)))
                goto range;
            days = mr_days_from_civil(p.year, (unsigned)p.month, (unsigned)p.day);
        }
        if (p.hour > 24 || p.minute > 59 || p.second > 60 ||
            (p.hour == 24 && (p.minute || p.second || p.micros)))
            goto range;
        if (n->op == EFN_TO_DATE) {
            MR_COL_I32(&n->out)[i] = days;
        } else {
            MR_COL_I64(&n->out)[i] =
                (int64_t)days * US_PER_DAY +
                ((p.hour * 60 + p.minute) * 60 + p.second - p.tz_secs) * INT64_C(1000000) +
                p.micros;
        }
        mr_column_set_valid(&n->out, i, true);
        continue;
    range:
        return mr_err_set(err, MR_EINVAL, "%s(): date/time field value out of range in '%.*s'",
                          fn, (int)(len > 64 ? 64 : len), s);
    }
    return 0;
}
