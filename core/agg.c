/* agg.c - parsing aggregate calls ("count(distinct x)", "sum(qty * price)")
 * and the result type of each aggregate.
 *
 * mr_agg_parse peels the function name and the outer parentheses off the
 * text and hands the argument text to mr_expr_parse, so aggregates are not
 * part of the expression grammar.  Finding the closing parenthesis skips
 * string literals ('it''s)') and quoted identifiers ("a)b") so that a
 * parenthesis inside them does not count.  Error offsets always point into
 * the whole text the caller gave, not into the argument.
 */
#include "core/agg.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *name;
    mr_agg_kind kind;
} agg_names[] = {
    {"count", MR_AGG_COUNT}, {"sum", MR_AGG_SUM}, {"avg", MR_AGG_AVG},
    {"min", MR_AGG_MIN},     {"max", MR_AGG_MAX},
    {"variance", MR_AGG_VAR_SAMP},       {"var_samp", MR_AGG_VAR_SAMP},
    {"var_pop", MR_AGG_VAR_POP},         {"stddev", MR_AGG_STDDEV_SAMP},
    {"stddev_samp", MR_AGG_STDDEV_SAMP}, {"stddev_pop", MR_AGG_STDDEV_POP},
    {"bool_and", MR_AGG_BOOL_AND},       {"bool_or", MR_AGG_BOOL_OR},
    {"string_agg", MR_AGG_STRING_AGG},
    {"approx_count_distinct", MR_AGG_APPROX_COUNT_DISTINCT},
};

#define AGG_LIST                                                                                   \
    "count, sum, avg, min, max, variance, var_samp, var_pop, stddev, stddev_samp, stddev_pop, "    \
    "bool_and, bool_or, string_agg, approx_count_distinct"

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int is_ident(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

static int set_at(mr_err *err, int offset, int code)
{
    if (err)
        err->offset = offset;
    return code;
}

/* Index of the ')' matching the '(' at open, or -1 when it is missing. */
static long find_close(const char *text, size_t open)
{
    int depth = 0;
    for (size_t i = open; text[i]; i++) {
        char c = text[i];
        if (c == '\'' || c == '"') {
            /* A doubled quote inside the literal is an escaped quote, which
             * this loop handles as the end of one literal and the start of
             * the next: the net effect on depth is the same. */
            i++;
            while (text[i] && text[i] != c)
                i++;
            if (!text[i])
                return -1;
        } else if (c == '(') {
            depth++;
        } else if (c == ')') {
            if (--depth == 0)
                return (long)i;
        }
    }
    return -1;
}

/* Parses the argument text text[start..end) with mr_expr_parse, shifting an
 * error's offset into the whole text. */
static int parse_arg(const char *text, size_t start, size_t end, mr_expr **arg, mr_err *err)
{
    char *sub = malloc(end - start + 1);
    if (!sub)
        return mr_err_set(err, MR_ENOMEM, "out of memory parsing an aggregate");
    memcpy(sub, text + start, end - start);
    sub[end - start] = '\0';
    int rc = mr_expr_parse(sub, arg, err);
    free(sub);
    if (rc < 0 && err && err->offset >= 0)
        err->offset += (int)start;
    return rc;
}

/* Index of the last comma in text[a..b) outside literals, quoted names and
 * parentheses, or -1. */
static long last_top_comma(const char *text, size_t a, size_t b)
{
    long comma = -1;
    int depth = 0;
    for (size_t i = a; i < b; i++) {
        char c = text[i];
        if (c == '\'' || c == '"') {
            i++;
            while (i < b && text[i] != c)
                i++;
        } else if (c == '(') {
            depth++;
        } else if (c == ')') {
            depth--;
        } else if (c == ',' && depth == 0) {
            comma = (long)i;
        }
    }
    return comma;
}

/* Whether text[a..b) is exactly one string literal ('it''s'). */
static bool is_string_literal(const char *text, size_t a, size_t b)
{
    if (b - a < 2 || text[a] != '\'' || text[b - 1] != '\'')
        return false;
    for (size_t i = a + 1; i < b - 1; i++)
        if (text[i] == '\'' && text[++i] != '\'')
            return false;
    return true;
}

static void trim(const char *text, size_t *a, size_t *b)
{
    while (*a < *b && is_blank(text[*a]))
        (*a)++;
    while (*b > *a && is_blank(text[*b - 1]))
        (*b)--;
}

/* Finds the function and its argument text[*arg_start..*arg_end) (empty
 * for count(*)); for string_agg, its separator literal text[*sep_start..
 * *sep_end).  0 or an error with err->offset set. */
static int agg_locate_sep(const char *text, mr_agg_kind *kind, size_t *arg_start,
                          size_t *arg_end, size_t *sep_start, size_t *sep_end, mr_err *err)
{
    size_t i = 0;
    while (is_blank(text[i]))
        i++;
    size_t name_start = i;
    while (is_ident(text[i]))
        i++;
    size_t name_len = i - name_start;
    if (name_len == 0)
        return set_at(err, (int)name_start,
                      mr_err_set(err, MR_EPARSE,
                                 "expected an aggregate call such as sum(x) (one of " AGG_LIST ")"));
    int found = -1;
    for (size_t k = 0; k < sizeof agg_names / sizeof agg_names[0]; k++)
        if (strlen(agg_names[k].name) == name_len &&
            strncasecmp(agg_names[k].name, text + name_start, name_len) == 0)
            found = (int)k;
    while (is_blank(text[i]))
        i++;
    if (found < 0) {
        if (text[i] == '(')
            mr_err_set(err, MR_EINVAL, "unknown aggregate '%.*s' (expected one of " AGG_LIST ")",
                       (int)name_len, text + name_start);
        else
            mr_err_set(err, MR_EINVAL,
                       "'%.*s' is not an aggregate call (expected one of " AGG_LIST ", as in sum(x))",
                       (int)name_len, text + name_start);
        return set_at(err, (int)name_start, MR_EINVAL);
    }
    const char *fname = agg_names[found].name;
    if (text[i] != '(')
        return set_at(err, (int)i, mr_err_set(err, MR_EPARSE, "expected '(' after %s", fname));
    size_t open = i;
    long close = find_close(text, open);
    if (close < 0)
        return set_at(err, (int)strlen(text),
                      mr_err_set(err, MR_EPARSE, "missing ')' to close %s(", fname));
    size_t after = (size_t)close + 1;
    while (is_blank(text[after]))
        after++;
    if (text[after])
        return set_at(err, (int)after,
                      mr_err_set(err, MR_EPARSE,
                                 "unexpected text after %s(...): an aggregate must be the whole "
                                 "expression",
                                 fname));

    size_t a = open + 1, b = (size_t)close;
    while (a < b && is_blank(text[a]))
        a++;
    while (b > a && is_blank(text[b - 1]))
        b--;
    if (a == b)
        return set_at(err, (int)a, mr_err_set(err, MR_EPARSE, "%s() needs an argument", fname));

    mr_agg_kind k = agg_names[found].kind;
    if (b - a == 1 && text[a] == '*') {
        if (k != MR_AGG_COUNT)
            return set_at(err, (int)a,
                          mr_err_set(err, MR_EPARSE, "%s(*) is not allowed; only count(*)", fname));
        *kind = MR_AGG_COUNT_STAR;
        *arg_start = *arg_end = a;
        return 0;
    }
    if (b - a > 8 && strncasecmp(text + a, "distinct", 8) == 0 && !is_ident(text[a + 8])) {
        if (k != MR_AGG_COUNT)
            return set_at(err, (int)a,
                          mr_err_set(err, MR_ENOTSUP,
                                     "%s(distinct ...) is not supported; only count(distinct x)",
                                     fname));
        k = MR_AGG_COUNT_DISTINCT;
        a += 8;
        while (a < b && is_blank(text[a]))
            a++;
    } else if (b - a == 8 && strncasecmp(text + a, "distinct", 8) == 0 && k == MR_AGG_COUNT) {
        return set_at(err, (int)b,
                      mr_err_set(err, MR_EPARSE, "count(distinct) needs an argument"));
    }
    if (k == MR_AGG_STRING_AGG) {
        long comma = last_top_comma(text, a, b);
        if (comma < 0)
            return set_at(err, (int)b,
                          mr_err_set(err, MR_EPARSE,
                                     "string_agg takes 2 arguments: a value and a separator, as "
                                     "in string_agg(x, ', ')"));
        size_t sa = (size_t)comma + 1, sb = b;
        trim(text, &sa, &sb);
        if (!is_string_literal(text, sa, sb))
            return set_at(err, (int)sa,
                          mr_err_set(err, MR_EINVAL,
                                     "string_agg's separator must be a string literal such as ', '"));
        *sep_start = sa;
        *sep_end = sb;
        b = (size_t)comma;
        trim(text, &a, &b);
        if (a == b)
            return set_at(err, (int)a, mr_err_set(err, MR_EPARSE, "string_agg() needs a value"));
    }
    *kind = k;
    *arg_start = a;
    *arg_end = b;
    return 0;
}

static int agg_locate(const char *text, mr_agg_kind *kind, size_t *arg_start, size_t *arg_end,
                      mr_err *err)
{
    size_t sa, sb;
    return agg_locate_sep(text, kind, arg_start, arg_end, &sa, &sb, err);
}

int mr_agg_separator(const char *text, char **sep, size_t *len)
{
    size_t a, b, sa = 0, sb = 0;
    mr_agg_kind k;
    *sep = NULL;
    *len = 0;
    if (agg_locate_sep(text, &k, &a, &b, &sa, &sb, NULL) < 0 || k != MR_AGG_STRING_AGG)
        return MR_EINVAL;
    char *out = malloc(sb - sa);
    if (!out)
        return MR_ENOMEM;
    size_t n = 0;
    for (size_t i = sa + 1; i < sb - 1; i++) {
        out[n++] = text[i];
        if (text[i] == '\'')
            i++; /* '' is one quote */
    }
    out[n] = '\0';
    *sep = out;
    *len = n;
    return 0;
}

int mr_agg_parse(const char *text, mr_agg_kind *kind, mr_expr **arg, mr_err *err)
{
    *arg = NULL;
    size_t a, b;
    mr_agg_kind k;
    int rc = agg_locate(text, &k, &a, &b, err);
    if (rc < 0)
        return rc;
    if (k != MR_AGG_COUNT_STAR) {
        rc = parse_arg(text, a, b, arg, err);
        if (rc < 0)
            return rc;
    }
    *kind = k;
    return 0;
}

int mr_agg_arg_offset(const char *text)
{
    size_t a, b;
    mr_agg_kind k;
    if (agg_locate(text, &k, &a, &b, NULL) < 0 || k == MR_AGG_COUNT_STAR)
        return -1;
    return (int)a;
}

int mr_agg_result_type(mr_agg_kind kind, mr_type arg, mr_type *out, mr_err *err)
{
    char tn[48];
    switch (kind) {
    case MR_AGG_COUNT_STAR:
    case MR_AGG_COUNT:
    case MR_AGG_COUNT_DISTINCT:
        *out = mr_type_make(MR_T_INT64);
        return 0;
    case MR_AGG_SUM:
        if (arg.id == MR_T_INT32 || arg.id == MR_T_INT64) {
            *out = mr_type_make(MR_T_INT64);
            return 0;
        }
        if (arg.id == MR_T_DECIMAL) {
            *out = mr_type_decimal(MR_DECIMAL_MAX_PRECISION, arg.scale);
            return 0;
        }
        if (arg.id == MR_T_FLOAT64) {
            *out = mr_type_make(MR_T_FLOAT64);
            return 0;
        }
        return mr_err_set(err, MR_ETYPE, "sum() needs a number, not %s",
                          mr_type_name(arg, tn, sizeof tn));
    case MR_AGG_AVG:
        if (arg.id == MR_T_INT32 || arg.id == MR_T_INT64 || arg.id == MR_T_FLOAT64) {
            *out = mr_type_make(MR_T_FLOAT64);
            return 0;
        }
        if (arg.id == MR_T_DECIMAL) {
            *out = mr_type_decimal(MR_DECIMAL_MAX_PRECISION, 6);
            return 0;
        }
        return mr_err_set(err, MR_ETYPE, "avg() needs a number, not %s",
                          mr_type_name(arg, tn, sizeof tn));
    case MR_AGG_MIN:
    case MR_AGG_MAX:
        if (arg.id == MR_T_NULL)
            return mr_err_set(err, MR_ETYPE, "%s() of an untyped null; add a CAST",
                              kind == MR_AGG_MIN ? "min" : "max");
        *out = arg;
        return 0;
    case MR_AGG_VAR_SAMP:
    case MR_AGG_VAR_POP:
    case MR_AGG_STDDEV_SAMP:
    case MR_AGG_STDDEV_POP:
        if (arg.id == MR_T_INT32 || arg.id == MR_T_INT64 || arg.id == MR_T_FLOAT64 ||
            arg.id == MR_T_DECIMAL) {
            *out = mr_type_make(MR_T_FLOAT64);
            return 0;
        }
        return mr_err_set(err, MR_ETYPE, "%s() needs a number, not %s",
                          kind == MR_AGG_VAR_SAMP   ? "var_samp"
                          : kind == MR_AGG_VAR_POP  ? "var_pop"
                          : kind == MR_AGG_STDDEV_SAMP ? "stddev_samp"
                                                       : "stddev_pop",
                          mr_type_name(arg, tn, sizeof tn));
    case MR_AGG_BOOL_AND:
    case MR_AGG_BOOL_OR:
        if (arg.id == MR_T_BOOL) {
            *out = arg;
            return 0;
        }
        return mr_err_set(err, MR_ETYPE, "%s() needs a bool, not %s",
                          kind == MR_AGG_BOOL_AND ? "bool_and" : "bool_or",
                          mr_type_name(arg, tn, sizeof tn));
    case MR_AGG_STRING_AGG:
        if (arg.id == MR_T_STRING) {
            *out = arg;
            return 0;
        }
        return mr_err_set(err, MR_ETYPE, "string_agg() needs a string, not %s; add a CAST",
                          mr_type_name(arg, tn, sizeof tn));
    case MR_AGG_APPROX_COUNT_DISTINCT:
        if (arg.id == MR_T_NULL)
            return mr_err_set(err, MR_ETYPE, "approx_count_distinct() of an untyped null; add a "
                              "CAST");
        *out = mr_type_make(MR_T_INT64);
        return 0;
    }
    return mr_err_set(err, MR_EINVAL, "unknown aggregate kind %d", (int)kind);
}
