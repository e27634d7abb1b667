/* types.h - millrace's column types, schemas, and their text forms.
 *
 * Physical layout per type (what a column's data buffer holds):
 *   bool       uint8_t, 0 or 1
 *   int32      int32_t
 *   int64      int64_t
 *   float64    double
 *   decimal    int64_t, the value times 10^scale (precision <= 18, exact)
 *   string     uint32_t offsets[n+1] into a chars buffer, UTF-8, not NUL-ended
 *   date       int32_t days since 1970-01-01
 *   timestamp  int64_t microseconds since 1970-01-01 00:00:00, no time zone
 *   timestamptz int64_t microseconds since 1970-01-01 00:00:00 UTC: an instant
 *   interval   mr_interval (16 bytes); expressions only, never stored
 */
#ifndef MR_TYPES_H
#define MR_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef enum mr_type_id {
    MR_T_NULL = 0, /* only for the literal null before it takes a type */
    MR_T_BOOL = 1,
    MR_T_INT32 = 2,
    MR_T_INT64 = 3,
    MR_T_FLOAT64 = 4,
    MR_T_DECIMAL = 5,
    MR_T_STRING = 6,
    MR_T_DATE = 7,
    MR_T_TIMESTAMP = 8,
    MR_T_TIMESTAMPTZ = 9,
    MR_T_INTERVAL = 10, /* expression values only: no column stores one */
} mr_type_id;

/* An interval as PostgreSQL keeps it: months, days and microseconds apart,
 * because a month or a day has no fixed length in microseconds. */
typedef struct mr_interval {
    int64_t micros;
    int32_t days;
    int32_t months;
} mr_interval;

/* Whether t is one of the time types (date, timestamp, timestamptz). */
static inline int mr_type_is_time(int id)
{
    return id == MR_T_DATE || id == MR_T_TIMESTAMP || id == MR_T_TIMESTAMPTZ;
}

typedef struct mr_type {
    uint8_t id;        /* mr_type_id */
    uint8_t precision; /* decimal only, 1..18 */
    uint8_t scale;     /* decimal only, 0..precision */
} mr_type;

#define MR_DECIMAL_MAX_PRECISION 18

static inline mr_type mr_type_make(mr_type_id id)
{
    mr_type t = {(uint8_t)id, 0, 0};
    return t;
}

static inline mr_type mr_type_decimal(int precision, int scale)
{
    mr_type t = {MR_T_DECIMAL, (uint8_t)precision, (uint8_t)scale};
    return t;
}

/* Bytes per value in the data buffer; 0 for string (offsets + chars). */
size_t mr_type_width(mr_type t);
int mr_type_equal(mr_type a, mr_type b);
int mr_type_is_numeric(mr_type t);
/* How two types widen to one (mr_type_common).  Each user of a common type
 * picks its rule, so the rules differ only where the users must:
 *   null_adopts    the NULL type (an untyped literal) takes the other type
 *   to_float       float64 with any number gives float64
 *   int_to_decimal an integer with a decimal gives a decimal ...
 *   int_digits     ... counting int32 as decimal(10,0) and int64 as
 *                  decimal(18,0) (else: decimal(18, the decimal's scale))
 *   datetime       date with timestamp gives timestamp
 *   decimals       two decimals: FIT takes the most integer digits and the
 *                  largest scale (precision capped at 18); WIDE gives
 *                  decimal(18, larger scale) when the scales differ; EXACT
 *                  fails (MR_EOVERFLOW) where FIT would cap.
 * Equal types are their own common type; int32 with int64 gives int64. */
typedef enum { MR_DEC_FIT, MR_DEC_WIDE, MR_DEC_EXACT } mr_dec_rule;
typedef struct mr_widen {
    unsigned null_adopts : 1, to_float : 1, int_to_decimal : 1, int_digits : 1, datetime : 1;
    mr_dec_rule decimals;
} mr_widen;

extern const mr_widen MR_WIDEN_EXPR;    /* expressions (core/expr.c) */
extern const mr_widen MR_WIDEN_UNION;   /* union columns (core/op/union.h) */
extern const mr_widen MR_WIDEN_KEYS;    /* join keys compared exactly (core/keys.h) */
extern const mr_widen MR_WIDEN_NUMERIC; /* numbers only, as the DAG checks join keys */

/* The type a and b widen to under rule: 0 and *out, or MR_ETYPE (no common
 * type under the rule) or MR_EOVERFLOW (EXACT decimals past 18 digits). */
int mr_type_common(mr_type a, mr_type b, const mr_widen *rule, mr_type *out);
/* Writes "decimal(8,2)", "int64", ... into buf; returns buf. */
const char *mr_type_name(mr_type t, char *buf, size_t cap);
/* Parses a type name as written in DAG schemas ("int64", "decimal(8,2)",
 * "string", ...; case-insensitive, surrounding blanks allowed). Returns 0 or
 * MR_EINVAL with a message. */
int mr_type_parse(const char *text, mr_type *out, mr_err *err);

/* 10^n for n in 0..18. */
extern const int64_t mr_pow10[19];

typedef struct mr_field {
    char *name; /* owned by the schema */
    mr_type type;
} mr_field;

/* An ordered list of named, typed columns. */
typedef struct mr_schema {
    int nfields;
    mr_field *fields;
} mr_schema;

/* Creates a schema of n fields with NULL names; fill with mr_schema_set. */
mr_schema *mr_schema_create(int n);
/* Copies name; returns 0 or MR_ENOMEM. */
int mr_schema_set(mr_schema *s, int i, const char *name, mr_type type);
mr_schema *mr_schema_copy(const mr_schema *s);
void mr_schema_destroy(mr_schema *s); /* NULL is a no-op */
/* Index of the field named name (exact match), or -1. */
int mr_schema_find(const mr_schema *s, const char *name);

/* ---- Text forms (core/text.c) -------------------------------------------
 * Parsers take a (pointer, length) that is not NUL-terminated, accept no
 * surrounding blanks unless said, and return 0, or MR_EPARSE / MR_EOVERFLOW
 * with a message naming the text.  They never allocate.
 */
int mr_parse_bool(const char *s, size_t n, uint8_t *out, mr_err *err);
int mr_parse_int32(const char *s, size_t n, int32_t *out, mr_err *err);
int mr_parse_int64(const char *s, size_t n, int64_t *out, mr_err *err);
int mr_parse_float64(const char *s, size_t n, double *out, mr_err *err);
/* "-12.5" at scale 2 gives -1250; more fractional digits than scale round
 * half away from zero; more than precision digits is MR_EOVERFLOW. */
int mr_parse_decimal(const char *s, size_t n, int precision, int scale,
                     int64_t *out, mr_err *err);
int mr_parse_date(const char *s, size_t n, int32_t *out, mr_err *err);
/* "YYYY-MM-DD HH:MM:SS[.ffffff]" or with a 'T'; a bare date is midnight. */
int mr_parse_timestamp(const char *s, size_t n, int64_t *out, mr_err *err);
/* A timestamp with an optional UTC offset: "Z", "+HH", "+HH:MM" or "+HHMM"
 * (a blank before it allowed); none is UTC.  *out is the instant in UTC.
 * *has_offset (may be NULL) tells whether the text named one. */
int mr_parse_timestamptz(const char *s, size_t n, int64_t *out, int *has_offset, mr_err *err);
/* PostgreSQL interval input: "1 day 2 hours", "1 year 2 mons", "-3 days",
 * "01:02:03.5", "P1Y2M3DT4H5M6S", "@ 1 hour ago" ... */
int mr_parse_interval(const char *s, size_t n, mr_interval *out, mr_err *err);

/* Formatters write the canonical text form (the one PostgreSQL prints) into
 * buf and return the length written (no NUL counted; buf gets a NUL when it
 * fits).  cap of 48 is always enough. */
size_t mr_format_decimal(int64_t v, int scale, char *buf, size_t cap);
size_t mr_format_date(int32_t days, char *buf, size_t cap);
size_t mr_format_timestamp(int64_t micros, char *buf, size_t cap);
/* "YYYY-MM-DD HH:MM:SS[.ffffff]+00:00" (always UTC). */
size_t mr_format_timestamptz(int64_t micros, char *buf, size_t cap);
/* PostgreSQL's output: "1 year 2 mons 3 days 04:05:06.5"; cap of 96 is
 * always enough. */
size_t mr_format_interval(const mr_interval *v, char *buf, size_t cap);
size_t mr_format_float64(double v, char *buf, size_t cap);

/* Days since epoch for a civil date, and back (proleptic Gregorian). */
int32_t mr_days_from_civil(int64_t y, unsigned m, unsigned d);
void mr_civil_from_days(int32_t days, int64_t *y, unsigned *m, unsigned *d);

#endif
