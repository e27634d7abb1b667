/* window_fn.c - one window expression: the function call, its arguments
 * and its frame, parsed and bound against the window's input (see
 * window.h for the grammar).
 */
#include "core/op/window_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/agg.h"
#include "core/expr_int.h" /* expr__edit_distance, for suggestions */

static const struct {
    const char *name;
    wf_kind kind;
    int min_args, max_args;
    int frame; /* reads a frame */
} fns[] = {
    {"row_number", WF_ROW_NUMBER, 0, 0, 0}, {"rank", WF_RANK, 0, 0, 0},
    {"dense_rank", WF_DENSE_RANK, 0, 0, 0}, {"percent_rank", WF_PERCENT_RANK, 0, 0, 0},
    {"cume_dist", WF_CUME_DIST, 0, 0, 0},   {"ntile", WF_NTILE, 1, 1, 0},
    {"lag", WF_LAG, 1, 3, 0},               {"lead", WF_LEAD, 1, 3, 0},
    {"first_value", WF_FIRST_VALUE, 1, 1, 1}, {"last_value", WF_LAST_VALUE, 1, 1, 1},
    {"nth_value", WF_NTH_VALUE, 2, 2, 1},   {"count", WF_COUNT, 1, 1, 1},
    {"sum", WF_SUM, 1, 1, 1},               {"avg", WF_AVG, 1, 1, 1},
    {"min", WF_MIN, 1, 1, 1},               {"max", WF_MAX, 1, 1, 1},
};
#define NFNS (sizeof fns / sizeof *fns)

/* An error at byte off of the text. */
__attribute__((format(printf, 4, 5))) static int at(mr_err *err, int code, int off,
                                                    const char *fmt, ...)
{
    char msg[MR_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mr_err_set(err, code, "%s", msg);
    err->offset = off;
    return code;
}

static size_t skip_ws(const char *t, size_t i)
{
    while (t[i] && isspace((unsigned char)t[i]))
        i++;
    return i;
}

/* The word at t+i (letters, digits, _), its length. */
static size_t word_len(const char *t, size_t i)
{
    size_t j = i;
    while (isalnum((unsigned char)t[j]) || t[j] == '_')
        j++;
    return j - i;
}

static int word_is(const char *t, size_t i, size_t len, const char *w)
{
    return len == strlen(w) && strncasecmp(t + i, w, len) == 0;
}

/* Splits the arguments between '(' at t[open] and its ')' (outside quotes
 * and nested parentheses) at top-level commas: starts and ends of each.
 * Returns the index after ')' or -1. */
static long split_args(const char *t, size_t open, size_t *as, size_t *ae, int *nargs, int max)
{
    int depth = 0, n = 0;
    size_t s = open + 1;
    for (size_t i = open + 1; t[i]; i++) {
        char c = t[i];
        if (c == '\'' || c == '"') {
            for (i++; t[i] && !(t[i] == c && t[i + 1] != c); i++)
                if (t[i] == c)
                    i++;
            if (!t[i])
                return -1;
        } else if (c == '(') {
            depth++;
        } else if (c == ')' && depth > 0) {
            depth--;
        } else if ((c == ',' || c == ')') && depth == 0) {
            if (n < max) {
                as[n] = s;
                ae[n] = i;
            }
            n++;
            s = i + 1;
            if (c == ')') {
                /* "f()" has no arguments, not one empty one */
                if (n == 1 && skip_ws(t, as[0]) == ae[0])
                    n = 0;
                *nargs = n;
                return (long)i + 1;
            }
        }
    }
    return -1;
}

/* A parsed and bound argument expression: the text t[s, e). */
static int arg_expr(const char *t, size_t s, size_t e, const mr_schema *in, mr_expr **out,
                    mr_err *err)
{
    char *txt = strndup(t + s, e - s);
    if (!txt)
        return mr_err_set(err, MR_ENOMEM, "out of memory");
    int rc = mr_expr_parse(txt, out, err);
    if (rc == 0)
        rc = mr_expr_bind(*out, in, err);
    free(txt);
    if (rc != 0 && err->offset >= 0)
        err->offset += (int)s;
    return rc;
}

/* An integer literal argument t[s, e). */
static int arg_int(const char *t, size_t s, size_t e, const char *fn, int64_t *v, mr_err *err)
{
    s = skip_ws(t, s);
    while (e > s && isspace((unsigned char)t[e - 1]))
        e--;
    char buf[32];
    size_t len = e - s;
    if (len > 0 && len < sizeof buf) {
        memcpy(buf, t + s, len);
        buf[len] = 0;
        char *end;
        errno = 0;
        long long x = strtoll(buf, &end, 10);
        if (!*end && errno == 0) {
            *v = x;
            return 0;
        }
    }
    char shown[48];
    snprintf(shown, sizeof shown, "%.*s", (int)(len < 40 ? len : 40), t + s);
    return at(err, MR_ETYPE, (int)s, "%s takes an integer literal here, not '%s'", fn, shown);
}

/* One frame bound at t+*i; *i moves past it. */
static int parse_bound(const char *t, size_t *i, wf_bound *b, mr_err *err)
{
    size_t p = skip_ws(t, *i), len = word_len(t, p);
    if (word_is(t, p, len, "unbounded") || word_is(t, p, len, "current") ||
        (len > 0 && isdigit((unsigned char)t[p]))) {
        size_t q = skip_ws(t, p + len), l2 = word_len(t, q);
        if (word_is(t, p, len, "current")) {
            if (!word_is(t, q, l2, "row"))
                return at(err, MR_EINVAL, (int)q, "expected ROW after CURRENT");
            b->kind = WB_CURRENT;
        } else {
            int prec = word_is(t, q, l2, "preceding"), foll = word_is(t, q, l2, "following");
            if (!prec && !foll)
                return at(err, MR_EINVAL, (int)q, "expected PRECEDING or FOLLOWING");
            if (word_is(t, p, len, "unbounded")) {
                b->kind = prec ? WB_UNB_PREC : WB_UNB_FOLL;
            } else {
                for (size_t k = p; k < p + len; k++)
                    if (!isdigit((unsigned char)t[k]))
                        return at(err, MR_EINVAL, (int)p,
                                  "a frame offset is a whole number of rows");
                errno = 0;
                long long v = strtoll(t + p, NULL, 10);
                if (errno || v > UINT32_MAX)
                    return at(err, MR_EINVAL, (int)p, "frame offset too large");
                b->kind = prec ? WB_PREC : WB_FOLL;
                b->n = v;
            }
        }
        *i = q + l2;
        return 0;
    }
    if (len == 0 && t[p] == '-')
        return at(err, MR_EINVAL, (int)p, "frame offsets must not be negative");
    return at(err, MR_EINVAL, (int)p,
              "expected UNBOUNDED PRECEDING, N PRECEDING, CURRENT ROW, N FOLLOWING or "
              "UNBOUNDED FOLLOWING");
}

/* The frame after the call, from t+i to the end. */
static int parse_frame(const char *t, size_t i, wf_fn *f, mr_err *err)
{
    size_t p = skip_ws(t, i), len = word_len(t, p);
    if (!t[p])
        return 0;
    int rows = word_is(t, p, len, "rows"), range = word_is(t, p, len, "range");
    if (!rows && !range)
        return at(err, MR_EINVAL, (int)p,
                  "expected a frame (ROWS or RANGE ...) after the call, not '%s'", t + p);
    f->range = range;
    f->frame_off = (int)p;
    size_t q = skip_ws(t, p + len), l2 = word_len(t, q);
    size_t startpos = q;
    if (word_is(t, q, l2, "between")) {
        size_t k = q + l2;
        startpos = skip_ws(t, k);
        if (parse_bound(t, &k, &f->start, err) != 0)
            return MR_EINVAL;
        size_t a = skip_ws(t, k), l3 = word_len(t, a);
        if (!word_is(t, a, l3, "and"))
            return at(err, MR_EINVAL, (int)a, "expected AND in the frame");
        k = a + l3;
        size_t endpos = skip_ws(t, k);
        if (parse_bound(t, &k, &f->end, err) != 0)
            return MR_EINVAL;
        if (f->end.kind == WB_UNB_PREC)
            return at(err, MR_EINVAL, (int)endpos,
                      "frame end cannot be UNBOUNDED PRECEDING");
        if (f->start.kind == WB_CURRENT && f->end.kind == WB_PREC)
            return at(err, MR_EINVAL, (int)endpos,
                      "frame starting from current row cannot have preceding rows");
        if (f->start.kind == WB_FOLL && (f->end.kind == WB_PREC || f->end.kind == WB_CURRENT))
            return at(err, MR_EINVAL, (int)endpos, "frame starting from following row cannot %s",
                      f->end.kind == WB_CURRENT ? "end with current row" : "have preceding rows");
        i = k;
    } else {
        size_t k = q;
        if (parse_bound(t, &k, &f->start, err) != 0)
            return MR_EINVAL;
        f->end.kind = WB_CURRENT;
        if (f->start.kind == WB_FOLL)
            return at(err, MR_EINVAL, (int)q,
                      "frame starting from following row cannot end with current row");
        i = k;
    }
    if (f->start.kind == WB_UNB_FOLL)
        return at(err, MR_EINVAL, (int)startpos,
                  "frame start cannot be UNBOUNDED FOLLOWING");
    if (range && (f->start.kind == WB_PREC || f->start.kind == WB_FOLL ||
                  f->end.kind == WB_PREC || f->end.kind == WB_FOLL))
        f->rcol = -2; /* checked against the order by wf_parse */
    p = skip_ws(t, i);
    if (t[p])
        return at(err, MR_EINVAL, (int)p, "unexpected text after the frame: '%s'", t + p);
    return 0;
}

static const char *suggest(const char *name)
{
    const char *best = NULL;
    int bd = 3;
    for (size_t k = 0; k < NFNS; k++) {
        int d = expr__edit_distance(name, fns[k].name);
        if (d < bd) {
            bd = d;
            best = fns[k].name;
        }
    }
    return best;
}

void wf_free(wf_fn *f)
{
    mr_expr_destroy(f->x);
    mr_expr_destroy(f->d);
    f->x = f->d = NULL;
}

/* lag/lead's value and default in their common type: x and default are
 * bound as the two arms of a CASE, which types them as PostgreSQL's
 * anycompatible arguments. */
static int lag_args(const char *t, const size_t *as, const size_t *ae, const mr_schema *in,
                    wf_fn *f, mr_err *err)
{
    mr_expr *x = NULL, *d = NULL;
    int rc = arg_expr(t, as[0], ae[0], in, &x, err);
    if (rc == 0)
        rc = arg_expr(t, as[2], ae[2], in, &d, err);
    mr_type tx = x ? mr_expr_type(x) : mr_type_make(MR_T_NULL);
    mr_type td = d ? mr_expr_type(d) : tx;
    mr_expr_destroy(x);
    mr_expr_destroy(d);
    if (rc != 0)
        return rc;
    mr_type ct;
    if (tx.id == MR_T_NULL) {
        ct = td;
    } else if (td.id == MR_T_NULL || (td.id == tx.id && td.precision == tx.precision &&
                                      td.scale == tx.scale)) {
        ct = tx;
    } else if (mr_type_common(tx, td, &MR_WIDEN_EXPR, &ct) != 0) {
        return at(err, MR_ETYPE, (int)skip_ws(t, as[2]),
                  "the default of %s does not have the type of its value",
                  f->kind == WF_LAG ? "lag" : "lead");
    }
    /* "case when true then (x) else (d) end" and the reverse */
    for (int k = 0; k < 2; k++) {
        size_t a = k ? as[2] : as[0], b = k ? ae[2] : ae[0];
        size_t o = k ? as[0] : as[2], ob = k ? ae[0] : ae[2];
        size_t len = (b - a) + (ob - o) + 64;
        char *txt = malloc(len);
        if (!txt)
            return mr_err_set(err, MR_ENOMEM, "out of memory");
        snprintf(txt, len, "case when %s then (%.*s) else (%.*s) end", k ? "false" : "true",
                 (int)(k ? ob - o : b - a), t + (k ? o : a), (int)(k ? b - a : ob - o),
                 t + (k ? a : o));
        mr_expr *e = NULL;
        rc = mr_expr_parse(txt, &e, err);
        if (rc == 0)
            rc = mr_expr_bind(e, in, err);
        free(txt);
        if (rc != 0) {
            mr_expr_destroy(e);
            err->offset = (int)skip_ws(t, as[2]);
            return rc;
        }
        if (k)
            f->d = e;
        else
            f->x = e;
    }
    f->xtype = mr_expr_type(f->x);
    (void)ct;
    return 0;
}

/* A range frame with offsets: one order column of a number type. */
static int range_order(const char *t, const mr_schema *in, const wf_order *ord, wf_fn *f,
                       mr_err *err)
{
    int off = f->frame_off;
    (void)t;
    if (ord && ord->n == 1 && ord->col < 0) { /* an unknown column, reported elsewhere */
        f->rcol = -1;
        return 0;
    }
    if (!ord || ord->n != 1)
        return at(err, MR_EINVAL, off,
                  "RANGE with offset PRECEDING/FOLLOWING needs exactly one order_by column");
    mr_type_id id = in->fields[ord->col].type.id;
    if (id != MR_T_INT32 && id != MR_T_INT64 && id != MR_T_FLOAT64 && id != MR_T_DECIMAL)
        return at(err, MR_ETYPE, off,
                  "RANGE with offset PRECEDING/FOLLOWING needs a number order_by column, and "
                  "'%s' is not one", in->fields[ord->col].name);
    f->rcol = ord->col;
    f->rdesc = ord->desc;
    return 0;
}

int wf_parse(const char *t, const mr_schema *in, const wf_order *ord, wf_fn *f, mr_err *err)
{
    memset(f, 0, sizeof *f);
    f->xcol = f->dcol = f->rcol = -1;
    f->range = 1;
    f->start.kind = WB_UNB_PREC;
    f->end.kind = WB_CURRENT;
    size_t p = skip_ws(t, 0), len = word_len(t, p);
    if (len == 0 || len > 63)
        return at(err, MR_EPARSE, (int)p,
                  "expected a window function call such as row_number() or sum(x)");
    char name[64];
    for (size_t k = 0; k < len; k++)
        name[k] = (char)tolower((unsigned char)t[p + k]);
    name[len] = 0;
    size_t k;
    for (k = 0; k < NFNS; k++)
        if (strcmp(fns[k].name, name) == 0)
            break;
    if (k == NFNS) {
        const char *s = suggest(name);
        mr_err_set(err, MR_EINVAL, "unknown window function '%s'%s%s%s", name,
                   s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
        err->offset = (int)p;
        return MR_EINVAL;
    }
    f->kind = fns[k].kind;
    size_t open = skip_ws(t, p + len);
    if (t[open] != '(')
        return at(err, MR_EPARSE, (int)open, "expected '(' after %s", name);
    size_t as[4], ae[4];
    int nargs = 0;
    long after = split_args(t, open, as, ae, &nargs, 4);
    if (after < 0)
        return at(err, MR_EPARSE, (int)open, "unbalanced parentheses in the call of %s", name);
    int star = f->kind == WF_COUNT && nargs == 1 && t[skip_ws(t, as[0])] == '*';
    if (nargs < fns[k].min_args || nargs > fns[k].max_args) {
        char want[48];
        if (fns[k].min_args == fns[k].max_args)
            snprintf(want, sizeof want, "%d argument%s", fns[k].min_args,
                     fns[k].min_args == 1 ? "" : "s");
        else
            snprintf(want, sizeof want, "%d to %d arguments", fns[k].min_args, fns[k].max_args);
        return at(err, MR_EINVAL, (int)p, "%s takes %s", name, want);
    }
    int rc = parse_frame(t, (size_t)after, f, err);
    if (rc != 0)
        return rc;
    if (!fns[k].frame) { /* ranking functions and lag/lead ignore frames */
        f->range = 1;
        f->start.kind = WB_UNB_PREC;
        f->end.kind = WB_CURRENT;
        f->rcol = -1;
    }
    if (f->rcol == -2 && (rc = range_order(t, in, ord, f, err)) != 0)
        return rc;
    if (star) {
        f->kind = WF_COUNT_STAR;
        f->rtype = mr_type_make(MR_T_INT64);
        return 0;
    }
    switch (f->kind) {
    case WF_ROW_NUMBER: case WF_RANK: case WF_DENSE_RANK:
        f->rtype = mr_type_make(MR_T_INT64);
        return 0;
    case WF_PERCENT_RANK: case WF_CUME_DIST:
        f->rtype = mr_type_make(MR_T_FLOAT64);
        return 0;
    case WF_NTILE:
        if ((rc = arg_int(t, as[0], ae[0], name, &f->n, err)) != 0)
            return rc;
        if (f->n <= 0)
            return at(err, MR_EINVAL, (int)skip_ws(t, as[0]),
                      "argument of ntile must be greater than zero");
        f->rtype = mr_type_make(MR_T_INT32);
        return 0;
    case WF_LAG: case WF_LEAD:
        f->n = 1;
        if (nargs >= 2 && (rc = arg_int(t, as[1], ae[1], name, &f->n, err)) != 0)
            return rc;
        if (nargs == 3)
            rc = lag_args(t, as, ae, in, f, err);
        else
            rc = arg_expr(t, as[0], ae[0], in, &f->x, err);
        if (rc != 0)
            return rc;
        f->xtype = f->rtype = mr_expr_type(f->x);
        break;
    case WF_NTH_VALUE:
        if ((rc = arg_int(t, as[1], ae[1], name, &f->n, err)) != 0)
            return rc;
        if (f->n <= 0)
            return at(err, MR_EINVAL, (int)skip_ws(t, as[1]),
                      "argument of nth_value must be greater than zero");
        /* fall through */
    default:
        if ((rc = arg_expr(t, as[0], ae[0], in, &f->x, err)) != 0)
            return rc;
        f->xtype = f->rtype = mr_expr_type(f->x);
        break;
    }
    if (f->xtype.id == MR_T_NULL)
        return at(err, MR_ETYPE, (int)skip_ws(t, as[0]),
                  "the argument of %s has no type (a bare NULL): cast it", name);
    static const mr_agg_kind ak[] = {[WF_COUNT] = MR_AGG_COUNT, [WF_SUM] = MR_AGG_SUM,
                                     [WF_AVG] = MR_AGG_AVG, [WF_MIN] = MR_AGG_MIN,
                                     [WF_MAX] = MR_AGG_MAX};
    if (f->kind >= WF_COUNT && f->kind <= WF_MAX &&
        (rc = mr_agg_result_type(ak[f->kind], f->xtype, &f->rtype, err)) != 0) {
        err->offset = (int)skip_ws(t, as[0]);
        return rc;
    }
    return 0;
}
