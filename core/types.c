/* types.c - type names, widths and schemas. */
#include "core/types.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const int64_t mr_pow10[19] = {
    1LL, 10LL, 100LL, 1000LL, 10000LL, 100000LL, 1000000LL, 10000000LL,
    100000000LL, 1000000000LL, 10000000000LL, 100000000000LL,
    1000000000000LL, 10000000000000LL, 100000000000000LL,
    1000000000000000LL, 10000000000000000LL, 100000000000000000LL,
    1000000000000000000LL};

size_t mr_type_width(mr_type t)
{
    switch (t.id) {
    case MR_T_BOOL: return 1;
    case MR_T_INT32:
    case MR_T_DATE: return 4;
    case MR_T_INT64:
    case MR_T_FLOAT64:
    case MR_T_DECIMAL:
    case MR_T_TIMESTAMP:
    case MR_T_TIMESTAMPTZ: return 8;
    case MR_T_INTERVAL: return sizeof(mr_interval);
    case MR_T_NULL: return 1;
    default: return 0;
    }
}

int mr_type_equal(mr_type a, mr_type b)
{
    if (a.id != b.id)
        return 0;
    return a.id != MR_T_DECIMAL || (a.precision == b.precision && a.scale == b.scale);
}

int mr_type_is_numeric(mr_type t)
{
    return t.id == MR_T_INT32 || t.id == MR_T_INT64 || t.id == MR_T_FLOAT64 ||
           t.id == MR_T_DECIMAL;
}

/* ---- Common type ---------------------------------------------------------- */

const mr_widen MR_WIDEN_EXPR = {.null_adopts = 1, .to_float = 1, .int_to_decimal = 1,
                                .int_digits = 1, .datetime = 1, .decimals = MR_DEC_FIT};
const mr_widen MR_WIDEN_UNION = {.to_float = 1, .int_to_decimal = 1, .datetime = 1,
                                 .decimals = MR_DEC_WIDE};
const mr_widen MR_WIDEN_KEYS = {.decimals = MR_DEC_EXACT};
const mr_widen MR_WIDEN_NUMERIC = {.to_float = 1, .int_to_decimal = 1, .decimals = MR_DEC_FIT};

static bool type_is_int(mr_type t)
{
    return t.id == MR_T_INT32 || t.id == MR_T_INT64;
}

int mr_type_common(mr_type a, mr_type b, const mr_widen *rule, mr_type *out)
{
    if (rule->null_adopts && (a.id == MR_T_NULL || b.id == MR_T_NULL)) {
        *out = a.id == MR_T_NULL ? b : a;
        return 0;
    }
    if (mr_type_equal(a, b)) {
        *out = a;
        return 0;
    }
    if (type_is_int(a) && type_is_int(b)) {
        *out = mr_type_make(MR_T_INT64);
        return 0;
    }
    if (mr_type_is_numeric(a) && mr_type_is_numeric(b)) {
        if (a.id == MR_T_FLOAT64 || b.id == MR_T_FLOAT64) {
            if (!rule->to_float)
                return MR_ETYPE;
            *out = mr_type_make(MR_T_FLOAT64);
            return 0;
        }
        if (type_is_int(a) || type_is_int(b)) { /* one integer, one decimal */
            if (!rule->int_to_decimal)
                return MR_ETYPE;
            mr_type i = type_is_int(a) ? a : b, d = type_is_int(a) ? b : a;
            if (!rule->int_digits) {
                *out = mr_type_decimal(MR_DECIMAL_MAX_PRECISION, d.scale);
                return 0;
            }
            a = mr_type_decimal(i.id == MR_T_INT32 ? 10 : 18, 0);
            b = d;
        }
        int s = a.scale > b.scale ? a.scale : b.scale;
        int ia = a.precision - a.scale, ib = b.precision - b.scale;
        int p = (ia > ib ? ia : ib) + s;
        if (rule->decimals == MR_DEC_WIDE && a.scale != b.scale)
            p = MR_DECIMAL_MAX_PRECISION;
        if (p > MR_DECIMAL_MAX_PRECISION) {
            if (rule->decimals == MR_DEC_EXACT)
                return MR_EOVERFLOW;
            p = MR_DECIMAL_MAX_PRECISION;
        }
        *out = mr_type_decimal(p, s);
        return 0;
    }
    if (rule->datetime && mr_type_is_time(a.id) && mr_type_is_time(b.id)) {
        /* as PostgreSQL with its time zone set to UTC: a timestamp meets a
         * timestamptz as the instant its wall-clock reading names in UTC */
        *out = mr_type_make(a.id == MR_T_TIMESTAMPTZ || b.id == MR_T_TIMESTAMPTZ
                                ? MR_T_TIMESTAMPTZ : MR_T_TIMESTAMP);
        return 0;
    }
    return MR_ETYPE;
}

const char *mr_type_name(mr_type t, char *buf, size_t cap)
{
    const char *n;
    switch (t.id) {
    case MR_T_NULL: n = "null"; break;
    case MR_T_BOOL: n = "bool"; break;
    case MR_T_INT32: n = "int32"; break;
    case MR_T_INT64: n = "int64"; break;
    case MR_T_FLOAT64: n = "float64"; break;
    case MR_T_STRING: n = "string"; break;
    case MR_T_DATE: n = "date"; break;
    case MR_T_TIMESTAMP: n = "timestamp"; break;
    case MR_T_TIMESTAMPTZ: n = "timestamptz"; break;
    case MR_T_INTERVAL: n = "interval"; break;
    case MR_T_DECIMAL:
        snprintf(buf, cap, "decimal(%u,%u)", t.precision, t.scale);
        return buf;
    default: n = "?"; break;
    }
    snprintf(buf, cap, "%s", n);
    return buf;
}

/* Reads an unsigned number of at most 3 digits at *p, skipping blanks
 * around it; -1 when there is none. */
static int read_small(const char **p)
{
    const char *q = *p;
    while (isspace((unsigned char)*q))
        q++;
    int v = 0, digits = 0;
    while (*q >= '0' && *q <= '9' && digits < 4) {
        v = v * 10 + (*q++ - '0');
        digits++;
    }
    if (digits == 0 || digits > 3)
        return -1;
    while (isspace((unsigned char)*q))
        q++;
    *p = q;
    return v;
}

int mr_type_parse(const char *text, mr_type *out, mr_err *err)
{
    static const struct { const char *name; mr_type_id id; } names[] = {
        {"bool", MR_T_BOOL},         {"boolean", MR_T_BOOL},
        {"int32", MR_T_INT32},       {"int", MR_T_INT32},
        {"integer", MR_T_INT32},     {"int64", MR_T_INT64},
        {"bigint", MR_T_INT64},      {"float64", MR_T_FLOAT64},
        {"double", MR_T_FLOAT64},    {"string", MR_T_STRING},
        {"text", MR_T_STRING},       {"varchar", MR_T_STRING},
        {"date", MR_T_DATE},         {"timestamp", MR_T_TIMESTAMP},
        {"timestamptz", MR_T_TIMESTAMPTZ},
    };
    const char *p = text;
    while (isspace((unsigned char)*p))
        p++;
    char name[16];
    size_t n = 0;
    while (isalnum((unsigned char)*p) && n + 1 < sizeof name)
        name[n++] = (char)tolower((unsigned char)*p++);
    name[n] = '\0';
    const char *rest = p;
    while (isspace((unsigned char)*rest))
        rest++;
    if (strcmp(name, "double") == 0 && strncasecmp(rest, "precision", 9) == 0) {
        rest += 9; /* PostgreSQL's spelling */
        while (isspace((unsigned char)*rest))
            rest++;
    }
    if (strcmp(name, "timestamp") == 0 && strncasecmp(rest, "with time zone", 14) == 0) {
        rest += 14; /* the SQL standard's spelling of timestamptz */
        while (isspace((unsigned char)*rest))
            rest++;
        if (*rest == '\0') {
            *out = mr_type_make(MR_T_TIMESTAMPTZ);
            return 0;
        }
    }
    if (*rest == '\0') {
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strcmp(name, names[i].name) == 0) {
                *out = mr_type_make(names[i].id);
                return 0;
            }
    } else if (*rest == '(' && (strcmp(name, "decimal") == 0 || strcmp(name, "numeric") == 0)) {
        const char *q = rest + 1;
        int prec = read_small(&q), scale = 0;
        if (prec >= 0 && *q == ',') {
            q++;
            scale = read_small(&q);
        }
        if (prec < 0 || scale < 0 || *q != ')')
            return mr_err_set(err, MR_EINVAL, "bad decimal type '%s': write decimal(p,s)", text);
        q++;
        while (isspace((unsigned char)*q))
            q++;
        if (*q)
            return mr_err_set(err, MR_EINVAL, "bad decimal type '%s': unexpected text after ')'",
                              text);
        if (prec < 1 || prec > MR_DECIMAL_MAX_PRECISION || scale > prec)
            return mr_err_set(err, MR_EINVAL,
                              "bad decimal type '%s': need 1 <= p <= 18 and 0 <= s <= p", text);
        *out = mr_type_decimal(prec, scale);
        return 0;
    }
    if (strcmp(name, "interval") == 0 && *rest == '\0')
        return mr_err_set(err, MR_EINVAL,
                          "interval is not a storable column type: cast it to text, or "
                          "use extract(epoch FROM ...) for its seconds");
    return mr_err_set(err, MR_EINVAL,
                      "unknown type '%s' (types: bool, int32, int64, float64, decimal(p,s), "
                      "string, date, timestamp, timestamptz)", text);
}

mr_schema *mr_schema_create(int n)
{
    mr_schema *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->fields = calloc(n > 0 ? (size_t)n : 1, sizeof *s->fields);
    if (!s->fields) {
        free(s);
        return NULL;
    }
    s->nfields = n;
    return s;
}

int mr_schema_set(mr_schema *s, int i, const char *name, mr_type type)
{
    char *copy = strdup(name);
    if (!copy)
        return MR_ENOMEM;
    free(s->fields[i].name);
    s->fields[i].name = copy;
    s->fields[i].type = type;
    return 0;
}

mr_schema *mr_schema_copy(const mr_schema *s)
{
    mr_schema *c = mr_schema_create(s->nfields);
    if (!c)
        return NULL;
    for (int i = 0; i < s->nfields; i++)
        if (mr_schema_set(c, i, s->fields[i].name, s->fields[i].type) < 0) {
            mr_schema_destroy(c);
            return NULL;
        }
    return c;
}

void mr_schema_destroy(mr_schema *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->nfields; i++)
        free(s->fields[i].name);
    free(s->fields);
    free(s);
}

int mr_schema_find(const mr_schema *s, const char *name)
{
    for (int i = 0; i < s->nfields; i++)
        if (strcmp(s->fields[i].name, name) == 0)
            return i;
    return -1;
}
