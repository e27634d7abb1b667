/* test_hashagg.c - aggregate parsing, the callback source and the hash
 * aggregate in single, partial and final modes.
 *
 * Results are compared as sorted text lines ("k|v1|v2", NULL as "NULL"),
 * which makes expected values easy to read and independent of group order.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/agg.h"
#include "core/batch.h"
#include "core/expr.h"
#include "core/op/hashagg.h"
#include "core/op/source.h"
#include "testutil.h"

/* ---- Helpers ------------------------------------------------------------ */

typedef struct feed {
    mr_batch **b;
    int n, i;
    int closed;
} feed;

static int feed_next(void *ctx, mr_batch **out, mr_err *err)
{
    (void)err;
    feed *f = ctx;
    if (f->i >= f->n)
        return MR_NEXT_DONE;
    *out = f->b[f->i++];
    return MR_NEXT_BATCH;
}

static void feed_close(void *ctx)
{
    feed *f = ctx;
    for (int i = 0; i < f->n; i++)
        mr_batch_destroy(f->b[i]);
    free(f->b);
    f->b = NULL;
    f->n = 0;
    f->closed++;
}

static void feed_add(feed *f, mr_batch *b)
{
    f->b = realloc(f->b, (size_t)(f->n + 1) * sizeof *f->b);
    assert_non_null(f->b);
    f->b[f->n++] = b;
}

static mr_batch *batch_of(const mr_schema *s, const char *const *rows, int n)
{
    mr_batch *b = mr_batch_create(s, 0);
    assert_non_null(b);
    for (int i = 0; i < n; i++)
        tu_add_row(b, rows[i]);
    return b;
}

/* Runs op to completion; returns the rc of the first failure or 0, with the
 * output rows sorted in *out. */
static int drain(mr_op *op, tu_lines *out, mr_err *err)
{
    memset(out, 0, sizeof *out);
    int rc = mr_op_open(op, NULL, err);
    if (rc < 0)
        return rc;
    for (;;) {
        mr_batch *b;
        rc = mr_op_next(op, &b, err);
        if (rc < 0)
            return rc;
        if (rc == MR_NEXT_DONE)
            break;
        assert_true(mr_batch_live(b) <= MR_BATCH_ROWS);
        tu_lines_add_batch(out, b);
    }
    if (out->n)
        qsort(out->v, out->n, sizeof *out->v, tu_cmp_str);
    return 0;
}

static void expect_lines(const tu_lines *got, const char *const *want, size_t n)
{
    char **w = malloc((n + 1) * sizeof *w);
    for (size_t i = 0; i < n; i++)
        w[i] = (char *)want[i];
    if (n)
        qsort(w, n, sizeof *w, tu_cmp_str);
    for (size_t i = 0; i < n && i < got->n; i++)
        if (strcmp(got->v[i], w[i]) != 0)
            fail_msg("row %zu: got '%s', want '%s'", i, got->v[i], w[i]);
    if (got->n != n)
        fail_msg("got %zu rows, want %zu", got->n, n);
    free(w);
}

/* Aggregates rows (text lines) of schema s in one mode and checks the
 * result lines. */
static void run_single(const mr_schema *s, const char *const *rows, int nrows,
                       const char *const *group_by, int ngroup, const char *const *names,
                       const char *const *exprs, int nagg, const char *const *want, size_t nwant)
{
    feed f = {0};
    feed_add(&f, batch_of(s, rows, nrows));
    mr_op *src = mr_source_create(s, feed_next, feed_close, &f, "src");
    mr_err err;
    mr_op *op = mr_hashagg_create(src, MR_AGG_SINGLE, group_by, ngroup, names, exprs, nagg, s,
                                  "agg", &err);
    if (!op)
        fail_msg("create: %s", err.msg);
    tu_lines got;
    int rc = drain(op, &got, &err);
    if (rc < 0)
        fail_msg("run: %s", err.msg);
    expect_lines(&got, want, nwant);
    tu_lines_free(&got);
    mr_op_close(op);
    assert_int_equal(f.closed, 1);
}

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- mr_agg_parse / mr_agg_result_type ---------------------------------- */

static void parse_ok(const char *text, mr_agg_kind want)
{
    mr_agg_kind k;
    mr_expr *arg = NULL;
    mr_err err;
    int rc = mr_agg_parse(text, &k, &arg, &err);
    if (rc != 0)
        fail_msg("'%s': %s", text, err.msg);
    assert_int_equal(k, want);
    if (want == MR_AGG_COUNT_STAR)
        assert_null(arg);
    else
        assert_non_null(arg);
    mr_expr_destroy(arg);
}

static int parse_bad(const char *text, int *offset, char *msg)
{
    mr_agg_kind k;
    mr_expr *arg = NULL;
    mr_err err;
    mr_err_clear(&err);
    int rc = mr_agg_parse(text, &k, &arg, &err);
    assert_true(rc < 0);
    assert_null(arg);
    *offset = err.offset;
    strcpy(msg, err.msg);
    return rc;
}

static void test_agg_parse(void **state)
{
    (void)state;
    parse_ok("count(*)", MR_AGG_COUNT_STAR);
    parse_ok("  COUNT ( * )  ", MR_AGG_COUNT_STAR);
    parse_ok("count(x)", MR_AGG_COUNT);
    parse_ok("count(distinct x)", MR_AGG_COUNT_DISTINCT);
    parse_ok("Count( DISTINCT (x) )", MR_AGG_COUNT_DISTINCT);
    parse_ok("count(distinct_x)", MR_AGG_COUNT);
    parse_ok("sum(qty * price)", MR_AGG_SUM);
    parse_ok("SUM(qty)", MR_AGG_SUM);
    parse_ok("avg(x)", MR_AGG_AVG);
    parse_ok("min(name)", MR_AGG_MIN);
    parse_ok("\tmax((a || ')('))\n", MR_AGG_MAX);
    parse_ok("max(coalesce(a, ')'))", MR_AGG_MAX);
    parse_ok("min(\"we)ird\")", MR_AGG_MIN);
    parse_ok("count(distinct\"x\")", MR_AGG_COUNT_DISTINCT);
    parse_ok("stddev(x)", MR_AGG_STDDEV_SAMP);
    parse_ok("Variance(x)", MR_AGG_VAR_SAMP);
    parse_ok("var_pop(x)", MR_AGG_VAR_POP);
    parse_ok("stddev_pop(x)", MR_AGG_STDDEV_POP);
    parse_ok("bool_and(x > 1)", MR_AGG_BOOL_AND);
    parse_ok("bool_or(x)", MR_AGG_BOOL_OR);

    int off;
    char msg[MR_ERR_MSG_MAX];
    assert_int_equal(parse_bad("sums(x)", &off, msg), MR_EINVAL);
    assert_non_null(strstr(msg, "unknown aggregate 'sums'"));
    assert_non_null(strstr(msg, "count, sum, avg, min, max"));
    assert_int_equal(off, 0);
    assert_int_equal(parse_bad("  median(x)", &off, msg), MR_EINVAL);
    assert_int_equal(off, 2);
    assert_int_equal(parse_bad("qty", &off, msg), MR_EINVAL);
    assert_int_equal(parse_bad("sum(x) + 1", &off, msg), MR_EPARSE);
    assert_int_equal(off, 7);
    assert_int_equal(parse_bad("sum(x", &off, msg), MR_EPARSE);
    assert_int_equal(parse_bad("sum()", &off, msg), MR_EPARSE);
    assert_int_equal(parse_bad("sum(*)", &off, msg), MR_EPARSE);
    assert_int_equal(parse_bad("sum(distinct x)", &off, msg), MR_ENOTSUP);
    assert_int_equal(parse_bad("count(distinct)", &off, msg), MR_EPARSE);
    assert_int_equal(parse_bad("", &off, msg), MR_EPARSE);
    assert_int_equal(mr_agg_arg_offset("sum(x)"), 4);
    assert_int_equal(mr_agg_arg_offset(" count( distinct  yy ) "), 18);
    assert_int_equal(mr_agg_arg_offset("count(*)"), -1);
    assert_int_equal(mr_agg_arg_offset("sums(x)"), -1);
    /* an error inside the argument points into the whole text */
    assert_int_equal(parse_bad("  sum(  a + )", &off, msg), MR_EPARSE);
    assert_true(off >= 8 && off <= 12);
}

static void test_agg_result_type(void **state)
{
    (void)state;
    mr_type t;
    mr_err err;
    assert_int_equal(mr_agg_result_type(MR_AGG_COUNT_STAR, mr_type_make(MR_T_NULL), &t, &err), 0);
    assert_int_equal(t.id, MR_T_INT64);
    assert_int_equal(mr_agg_result_type(MR_AGG_COUNT_DISTINCT, mr_type_make(MR_T_STRING), &t, &err), 0);
    assert_int_equal(t.id, MR_T_INT64);
    assert_int_equal(mr_agg_result_type(MR_AGG_SUM, mr_type_make(MR_T_INT32), &t, &err), 0);
    assert_int_equal(t.id, MR_T_INT64);
    assert_int_equal(mr_agg_result_type(MR_AGG_SUM, mr_type_decimal(8, 2), &t, &err), 0);
    assert_true(mr_type_equal(t, mr_type_decimal(18, 2)));
    assert_int_equal(mr_agg_result_type(MR_AGG_SUM, mr_type_make(MR_T_FLOAT64), &t, &err), 0);
    assert_int_equal(t.id, MR_T_FLOAT64);
    assert_int_equal(mr_agg_result_type(MR_AGG_AVG, mr_type_make(MR_T_INT64), &t, &err), 0);
    assert_int_equal(t.id, MR_T_FLOAT64);
    assert_int_equal(mr_agg_result_type(MR_AGG_AVG, mr_type_decimal(5, 3), &t, &err), 0);
    assert_true(mr_type_equal(t, mr_type_decimal(18, 6)));
    assert_int_equal(mr_agg_result_type(MR_AGG_MAX, mr_type_make(MR_T_DATE), &t, &err), 0);
    assert_int_equal(t.id, MR_T_DATE);
    assert_int_equal(mr_agg_result_type(MR_AGG_SUM, mr_type_make(MR_T_STRING), &t, &err), MR_ETYPE);
    assert_non_null(strstr(err.msg, "string"));
    assert_int_equal(mr_agg_result_type(MR_AGG_AVG, mr_type_make(MR_T_DATE), &t, &err), MR_ETYPE);
    assert_int_equal(mr_agg_result_type(MR_AGG_SUM, mr_type_make(MR_T_BOOL), &t, &err), MR_ETYPE);
    assert_int_equal(mr_agg_result_type(MR_AGG_VAR_SAMP, mr_type_decimal(5, 2), &t, &err), 0);
    assert_int_equal(t.id, MR_T_FLOAT64);
    assert_int_equal(mr_agg_result_type(MR_AGG_STDDEV_POP, mr_type_make(MR_T_STRING), &t, &err),
                     MR_ETYPE);
    assert_non_null(strstr(err.msg, "stddev_pop() needs a number"));
    assert_int_equal(mr_agg_result_type(MR_AGG_BOOL_OR, mr_type_make(MR_T_BOOL), &t, &err), 0);
    assert_int_equal(t.id, MR_T_BOOL);
    assert_int_equal(mr_agg_result_type(MR_AGG_BOOL_AND, mr_type_make(MR_T_INT32), &t, &err),
                     MR_ETYPE);
}

/* ---- Source ------------------------------------------------------------- */

static void test_source_checks_types(void **state)
{
    (void)state;
    const char *names[] = {"a"};
    mr_type want[] = {mr_type_make(MR_T_INT64)}, have[] = {mr_type_make(MR_T_STRING)};
    mr_schema *s = tu_schema(1, names, want), *bad = tu_schema(1, names, have);
    feed f = {0};
    feed_add(&f, mr_batch_create(bad, 0));
    mr_op *src = mr_source_create(s, feed_next, feed_close, &f, "shuffle_in");
    mr_schema_destroy(s);
    mr_schema_destroy(bad);
    assert_non_null(src);
    assert_int_equal(src->schema->nfields, 1);
    mr_err err;
    assert_int_equal(mr_op_open(src, NULL, &err), 0);
    mr_batch *b;
    assert_int_equal(mr_op_next(src, &b, &err), MR_ETYPE);
    assert_non_null(strstr(err.msg, "node 'shuffle_in'"));
    mr_op_close(src);
    assert_int_equal(f.closed, 1);
}

/* ---- Aggregates per type ------------------------------------------------ */

static void test_counts(void **state)
{
    (void)state;
    const char *cn[] = {"k", "x"};
    mr_type ct[] = {mr_type_make(MR_T_STRING), mr_type_make(MR_T_INT32)};
    mr_schema *s = tu_schema(2, cn, ct);
    const char *rows[] = {"a|1", "a|NULL", "a|1", "a|2", "b|NULL", "b|NULL", "c|5"};
    const char *gb[] = {"k"};
    const char *names[] = {"n", "nx", "nd"};
    const char *exprs[] = {"count(*)", "count(x)", "count(distinct x)"};
    const char *want[] = {"a|4|3|2", "b|2|0|0", "c|1|1|1"};
    run_single(s, rows, N(rows), gb, 1, names, exprs, 3, want, N(want));
    mr_schema_destroy(s);
}

static void test_sum_per_type(void **state)
{
    (void)state;
    const char *cn[] = {"k", "i32", "i64", "d", "f"};
    mr_type ct[] = {mr_type_make(MR_T_INT32), mr_type_make(MR_T_INT32), mr_type_make(MR_T_INT64),
                    mr_type_decimal(10, 2), mr_type_make(MR_T_FLOAT64)};
    mr_schema *s = tu_schema(5, cn, ct);
    const char *rows[] = {
        "1|2147483647|9000000000000000000|12.50|1.5",
        "1|2147483647|NULL|-0.25|NULL",
        "1|NULL|1|NULL|2.25",
        "2|NULL|NULL|NULL|NULL",
        "3|-5|-7|0.01|-1",
    };
    const char *gb[] = {"k"};
    const char *names[] = {"s32", "s64", "sd", "sf"};
    const char *exprs[] = {"sum(i32)", "sum(i64)", "sum(d)", "sum(f)"};
    const char *want[] = {"1|4294967294|9000000000000000001|12.25|3.75", "2|NULL|NULL|NULL|NULL",
                          "3|-5|-7|0.01|-1"};
    run_single(s, rows, N(rows), gb, 1, names, exprs, 4, want, N(want));
    mr_schema_destroy(s);
}

static void test_avg(void **state)
{
    (void)state;
    const char *cn[] = {"k", "i", "f", "d", "d7"};
    mr_type ct[] = {mr_type_make(MR_T_STRING), mr_type_make(MR_T_INT64),
                    mr_type_make(MR_T_FLOAT64), mr_type_decimal(10, 2), mr_type_decimal(12, 7)};
    mr_schema *s = tu_schema(5, cn, ct);
    const char *rows[] = {
        /* 1.00, 2.00, 2.00 -> 1.666667; -> the 7th digit rounds */
        "a|1|1|1.00|0.0000005", "a|2|NULL|2.00|NULL", "a|NULL|2|2.00|NULL",
        /* negative: half away from zero */
        "b|-1|-1|-1.00|-0.0000005", "b|-2|-2|-2.00|NULL", "b|-2|-2|-2.00|NULL",
        "c|NULL|NULL|NULL|NULL",
        /* exact halves at scale 2 -> scale 6 needs no rounding */
        "d|3|0.5|0.01|0.0000015", "d|4|0.25|0.02|0.0000010",
    };
    const char *gb[] = {"k"};
    const char *names[] = {"ai", "af", "ad", "ad7"};
    const char *exprs[] = {"avg(i)", "avg(f)", "avg(d)", "avg(d7)"};
    const char *want[] = {"a|1.5|1.5|1.666667|0.000001", "b|-1.666666667|-1.666666667|-1.666667|-0.000001",
                          "c|NULL|NULL|NULL|NULL", "d|3.5|0.375|0.015000|0.000001"};
    run_single(s, rows, N(rows), gb, 1, names, exprs, 4, want, N(want));
    mr_schema_destroy(s);
}

static void test_minmax_per_type(void **state)
{
    (void)state;
    const char *cn[] = {"k", "b", "i", "l", "f", "d", "s", "dt", "ts"};
    mr_type ct[] = {mr_type_make(MR_T_INT32),   mr_type_make(MR_T_BOOL),
                    mr_type_make(MR_T_INT32),   mr_type_make(MR_T_INT64),
                    mr_type_make(MR_T_FLOAT64), mr_type_decimal(6, 3),
                    mr_type_make(MR_T_STRING),  mr_type_make(MR_T_DATE),
                    mr_type_make(MR_T_TIMESTAMP)};
    mr_schema *s = tu_schema(9, cn, ct);
    const char *rows[] = {
        "1|true|5|-9|2.5|1.250|pear|2024-01-31|2024-01-31 12:00:00",
        "1|false|-3|7|-0.5|-1.000|apple|2023-12-01|2024-01-31 11:59:59.999999",
        "1|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL",
        "1|true|0|0|1|0.000|apples|2024-02-29|2025-01-01 00:00:00",
        "1|false|2|1|0|0.001|Zebra|2000-01-01|1999-12-31 23:59:59",
        "2|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL",
        "3|true|7|7|7|7.000||1970-01-01|1970-01-01 00:00:00",
    };
    const char *gb[] = {"k"};
    const char *names[] = {"b0", "b1", "i0", "i1", "l0", "l1", "f0", "f1",
                           "d0", "d1", "s0", "s1", "t0", "t1", "u0", "u1"};
    const char *exprs[] = {"min(b)", "max(b)", "min(i)", "max(i)", "min(l)", "max(l)",
                           "min(f)", "max(f)", "min(d)", "max(d)", "min(s)", "max(s)",
                           "min(dt)", "max(dt)", "min(ts)", "max(ts)"};
    const char *want[] = {
        "1|false|true|-3|5|-9|7|-0.5|2.5|-1.000|1.250|Zebra|pear|2000-01-01|2024-02-29|"
        "1999-12-31 23:59:59|2025-01-01 00:00:00",
        "2|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL",
        "3|true|true|7|7|7|7|7|7|7.000|7.000|||1970-01-01|1970-01-01|1970-01-01 00:00:00|"
        "1970-01-01 00:00:00",
    };
    run_single(s, rows, N(rows), gb, 1, names, exprs, 16, want, N(want));
    mr_schema_destroy(s);
}

/* Strings that keep growing force the min/max string buffer to append,
 * then to compact; the result must survive both. */
static void test_max_string_growth(void **state)
{
    (void)state;
    const char *cn[] = {"k", "s"};
    mr_type ct[] = {mr_type_make(MR_T_INT32), mr_type_make(MR_T_STRING)};
    mr_schema *s = tu_schema(2, cn, ct);
    feed f = {0};
    mr_batch *b = mr_batch_create(s, 0);
    char buf[600];
    for (int i = 0; i < 8000; i++) {
        if (b->nrows == MR_BATCH_ROWS) {
            feed_add(&f, b);
            b = mr_batch_create(s, 0);
        }
        size_t r = b->nrows++;
        MR_COL_I32(&b->cols[0])[r] = i % 4;
        mr_column_set_valid(&b->cols[0], r, true);
        /* "a...a" of growing length: each row is the new max and min of its
         * group is the first */
        int len = 1 + i / 16;
        memset(buf, 'a', (size_t)len);
        assert_int_equal(mr_column_set_str(&b->cols[1], r, buf, (size_t)len), 0);
    }
    feed_add(&f, b);
    mr_op *src = mr_source_create(s, feed_next, feed_close, &f, "src");
    const char *gb[] = {"k"}, *names[] = {"lo", "hi"}, *exprs[] = {"min(s)", "max(s)"};
    mr_err err;
    mr_op *op = mr_hashagg_create(src, MR_AGG_SINGLE, gb, 1, names, exprs, 2, s, "g", &err);
    assert_non_null(op);
    assert_int_equal(mr_op_open(op, NULL, &err), 0);
    mr_batch *out;
    assert_int_equal(mr_op_next(op, &out, &err), MR_NEXT_BATCH);
    assert_int_equal(out->nrows, 4);
    for (size_t r = 0; r < 4; r++) {
        size_t n;
        mr_column_str(&out->cols[1], r, &n);
        assert_int_equal(n, 1);
        const char *p = mr_column_str(&out->cols[2], r, &n);
        assert_int_equal(n, 500);
        assert_int_equal(p[0], 'a');
        assert_int_equal(p[499], 'a');
    }
    assert_int_equal(mr_op_next(op, &out, &err), MR_NEXT_DONE);
    mr_op_close(op);
    mr_schema_destroy(s);
}

/* Rows (key, value) of two columns of the given types, built directly. */
static mr_op *source_f64(const mr_schema *s, const double *k, const double *v, size_t n, feed *f)
{
    mr_batch *b = mr_batch_create(s, 0);
    for (size_t r = 0; r < n; r++) {
        MR_COL_F64(&b->cols[0])[r] = k[r];
        MR_COL_F64(&b->cols[1])[r] = v[r];
        mr_column_set_valid(&b->cols[0], r, true);
        mr_column_set_valid(&b->cols[1], r, true);
    }
    b->nrows = n;
    feed_add(f, b);
    return mr_source_create(s, feed_next, feed_close, f, "src");
}

/* GROUP BY puts 0.0 with -0.0 and NaN with NaN; min/max order NaN above
 * every number, as PostgreSQL does. */
static void test_float_keys_and_nan(void **state)
{
    (void)state;
    const char *cn[] = {"k", "v"};
    mr_type ct[] = {mr_type_make(MR_T_FLOAT64), mr_type_make(MR_T_FLOAT64)};
    mr_schema *s = tu_schema(2, cn, ct);
    const double k[] = {0.0, -0.0, NAN, NAN, 1.0, 1.0};
    const double v[] = {1.0, NAN, 2.0, 3.0, -1.0, 5.0};
    feed f = {0};
    mr_op *src = source_f64(s, k, v, 6, &f);
    const char *gb[] = {"k"}, *names[] = {"n", "lo", "hi"},
               *exprs[] = {"count(*)", "min(v)", "max(v)"};
    mr_err err;
    mr_op *op = mr_hashagg_create(src, MR_AGG_SINGLE, gb, 1, names, exprs, 3, s, "g", &err);
    assert_non_null(op);
    tu_lines got;
    assert_int_equal(drain(op, &got, &err), 0);
    const char *want[] = {"0|2|1|nan", "nan|2|2|3", "1|2|-1|5"};
    expect_lines(&got, want, N(want));
    tu_lines_free(&got);
    mr_op_close(op);
    mr_schema_destroy(s);
}

/* avg of decimal(p,0): one 1 (or -1) among 128 rows is 0.0078125, exactly
 * half way at 6 places: rounds away from zero. */
static void test_avg_decimal_half(void **state)
{
    (void)state;
    const char *cn[] = {"k", "d"};
    mr_type ct[] = {mr_type_make(MR_T_INT32), mr_type_decimal(10, 0)};
    mr_schema *s = tu_schema(2, cn, ct);
    mr_batch *b = mr_batch_create(s, 0);
    for (size_t r = 0; r < 384; r++) {
        int g = (int)(r / 128);
        MR_COL_I32(&b->cols[0])[r] = g;
        MR_COL_I64(&b->cols[1])[r] = r % 128 ? 0 : (g == 0 ? 1 : g == 1 ? -1 : 3);
        mr_column_set_valid(&b->cols[0], r, true);
        mr_column_set_valid(&b->cols[1], r, true);
    }
    b->nrows = 384;
    feed f = {0};
    feed_add(&f, b);
    mr_op *src = mr_source_create(s, feed_next, feed_close, &f, "src");
    const char *gb[] = {"k"}, *names[] = {"a"}, *exprs[] = {"avg(d)"};
    mr_err err;
    mr_op *op = mr_hashagg_create(src, MR_AGG_SINGLE, gb, 1, names, exprs, 1, s, "g", &err);
    assert_non_null(op);
    assert_true(mr_type_equal(op->schema->fields[1].type, mr_type_decimal(18, 6)));
    tu_lines got;
    assert_int_equal(drain(op, &got, &err), 0);
    /* 3/128 = 0.0234375 -> 0.023438 */
    const char *want[] = {"0|0.007813", "1|-0.007813", "2|0.023438"};
    expect_lines(&got, want, N(want));
    tu_lines_free(&got);
    mr_op_close(op);
    mr_schema_destroy(s);
}

/* ---- Groups ------------------------------------------------------------- */

static void test_empty_input(void **state)
{
    (void)state;
    const char *cn[] = {"k", "x"};
    mr_type ct[] = {mr_type_make(MR_T_STRING), mr_type_make(MR_T_INT64)};
    mr_schema *s = tu_schema(2, cn, ct);
    const char *names[] = {"n", "nx", "sx", "ax", "mx", "dx"};
    const char *exprs[] = {"count(*)", "count(x)", "sum(x)", "avg(x)", "max(x)", "count(distinct x)"};
    const char *gb[] = {"k"};

    const char *want1[] = {"0|0|NULL|NULL|NULL|0"};
    run_single(s, NULL, 0, NULL, 0, names, exprs, 6, want1, 1);
    run_single(s, NULL, 0, gb, 1, names, exprs, 6, NULL, 0);

    /* PARTIAL over empty input emits nothing; FINAL over nothing emits the
     * one row, so any number of empty map tasks still gives one row. */
    mr_err err;
    feed f = {0};
    mr_op *src = mr_source_create(s, feed_next, feed_close, &f, "src");
    mr_op *op = mr_hashagg_create(src, MR_AGG_PARTIAL, NULL, 0, names, exprs, 6, s, "p", &err);
    assert_non_null(op);
    tu_lines got;
    assert_int_equal(drain(op, &got, &err), 0);
    assert_int_equal(got.n, 0);
    mr_schema *st = mr_schema_copy(op->schema);
    mr_op_close(op);
    feed f2 = {0};
    src = mr_source_create(st, feed_next, feed_close, &f2, "shuffle");
    op = mr_hashagg_create(src, MR_AGG_FINAL, NULL, 0, names, exprs, 6, s, "f", &err);
    assert_non_null(op);
    assert_int_equal(drain(op, &got, &err), 0);
    expect_lines(&got, want1, 1);
    tu_lines_free(&got);
    mr_op_close(op);
    mr_schema_destroy(st);
    mr_schema_destroy(s);
}

static void test_null_and_string_keys(void **state)
{
    (void)state;
    const char *cn[] = {"k", "x"};
    mr_type ct[] = {mr_type_make(MR_T_STRING), mr_type_make(MR_T_INT32)};
    mr_schema *s = tu_schema(2, cn, ct);
    /* NULL keys form one group, apart from the empty string */
    const char *rows[] = {"NULL|1", "|2", "NULL|3", "ab|4", "abc|5", "ab|6", "|7",
                          "a longer key that is not short|8", "a longer key that is not short|9"};
    const char *gb[] = {"k"}, *names[] = {"n", "s"}, *exprs[] = {"count(*)", "sum(x)"};
    const char *want[] = {"NULL|2|4", "|2|9", "ab|2|10", "abc|1|5",
                          "a longer key that is not short|2|17"};
    run_single(s, rows, N(rows), gb, 1, names, exprs, 2, want, N(want));
    mr_schema_destroy(s);
}

static void test_multiple_keys(void **state)
{
    (void)state;
    const char *cn[] = {"region", "day", "flag", "amt"};
    mr_type ct[] = {mr_type_make(MR_T_STRING), mr_type_make(MR_T_DATE), mr_type_make(MR_T_BOOL),
                    mr_type_decimal(8, 2)};
    mr_schema *s = tu_schema(4, cn, ct);
    const char *rows[] = {
        "eu|2024-01-01|true|1.00",  "eu|2024-01-01|true|2.00", "eu|2024-01-01|false|4.00",
        "eu|2024-01-02|true|8.00",  "us|2024-01-01|true|16.00", "NULL|NULL|NULL|32.00",
        "NULL|NULL|NULL|NULL",      "eu|NULL|true|64.00",
    };
    const char *gb[] = {"region", "day", "flag"}, *names[] = {"n", "total"},
               *exprs[] = {"count(*)", "sum(amt)"};
    const char *want[] = {"eu|2024-01-01|true|2|3.00", "eu|2024-01-01|false|1|4.00",
                          "eu|2024-01-02|true|1|8.00", "us|2024-01-01|true|1|16.00",
                          "NULL|NULL|NULL|2|32.00",   "eu|NULL|true|1|64.00"};
    run_single(s, rows, N(rows), gb, 3, names, exprs, 2, want, N(want));
    mr_schema_destroy(s);
}

/* 100k groups force the table and the state arrays to grow many times;
 * each group gets two rows, in two separate passes over the keys. */
static void test_many_groups(void **state)
{
    (void)state;
    const char *cn[] = {"k", "v"};
    mr_type ct[] = {mr_type_make(MR_T_INT64), mr_type_make(MR_T_INT64)};
    mr_schema *s = tu_schema(2, cn, ct);
    enum { G = 100000 };
    feed f = {0};
    mr_batch *b = NULL;
    for (int i = 0; i < 2 * G; i++) {
        if (!b || b->nrows == MR_BATCH_ROWS) {
            if (b)
                feed_add(&f, b);
            b = mr_batch_create(s, 0);
        }
        size_t r = b->nrows++;
        int64_t k = (int64_t)(i % G) * 7919;
        MR_COL_I64(&b->cols[0])[r] = k;
        MR_COL_I64(&b->cols[1])[r] = i;
        mr_column_set_valid(&b->cols[0], r, true);
        mr_column_set_valid(&b->cols[1], r, true);
    }
    feed_add(&f, b);
    mr_op *src = mr_source_create(s, feed_next, feed_close, &f, "src");
    const char *gb[] = {"k"}, *names[] = {"n", "s", "lo"},
               *exprs[] = {"count(*)", "sum(v)", "min(v)"};
    mr_err err;
    mr_op *op = mr_hashagg_create(src, MR_AGG_SINGLE, gb, 1, names, exprs, 3, s, "g", &err);
    assert_non_null(op);
    assert_int_equal(mr_hashagg_memory(op), 0);
    assert_int_equal(mr_op_open(op, NULL, &err), 0);
    size_t groups = 0;
    char *seen = calloc(G, 1);
    mr_batch *out;
    int rc;
    while ((rc = mr_op_next(op, &out, &err)) == MR_NEXT_BATCH) {
        assert_true(out->nrows <= MR_BATCH_ROWS);
        for (size_t r = 0; r < out->nrows; r++) {
            int64_t k = MR_COL_I64(&out->cols[0])[r];
            assert_int_equal(k % 7919, 0);
            int64_t g = k / 7919;
            assert_true(g >= 0 && g < G);
            assert_false(seen[g]);
            seen[g] = 1;
            assert_int_equal(MR_COL_I64(&out->cols[1])[r], 2);
            assert_int_equal(MR_COL_I64(&out->cols[2])[r], 2 * g + G);
            assert_int_equal(MR_COL_I64(&out->cols[3])[r], g);
            groups++;
        }
        if (groups == out->nrows)
            assert_true(mr_hashagg_memory(op) > (size_t)G * 16);
    }
    assert_int_equal(rc, MR_NEXT_DONE);
    assert_int_equal(groups, G);
    free(seen);
    mr_op_close(op);
    mr_schema_destroy(s);
}

/* A selection vector on the input must be honoured (filtered-out rows do
 * not count). */
static void test_selection_vector(void **state)
{
    (void)state;
    const char *cn[] = {"k", "s", "x"};
    mr_type ct[] = {mr_type_make(MR_T_INT32), mr_type_make(MR_T_STRING), mr_type_make(MR_T_INT64)};
    mr_schema *s = tu_schema(3, cn, ct);
    const char *rows[] = {"1|a|10", "1|zz|20", "2|b|30", "1|c|40", "2|zzz|50"};
    mr_batch *b = batch_of(s, rows, N(rows));
    b->sel = b->sel_buf;
    b->sel[0] = 0;
    b->sel[1] = 2;
    b->sel[2] = 3;
    b->nsel = 3;
    feed f = {0};
    feed_add(&f, b);
    mr_op *src = mr_source_create(s, feed_next, feed_close, &f, "src");
    const char *gb[] = {"k"}, *names[] = {"n", "sx", "ms"},
               *exprs[] = {"count(*)", "sum(x)", "max(s)"};
    mr_err err;
    mr_op *op = mr_hashagg_create(src, MR_AGG_SINGLE, gb, 1, names, exprs, 3, s, "g", &err);
    assert_non_null(op);
    tu_lines got;
    assert_int_equal(drain(op, &got, &err), 0);
    const char *want[] = {"1|2|50|c", "2|1|30|b"};
    expect_lines(&got, want, N(want));
    tu_lines_free(&got);
    mr_op_close(op);
    mr_schema_destroy(s);
}

/* ---- Partial / final split ---------------------------------------------- */

static mr_batch *copy_batch(const mr_batch *b)
{
    mr_type *types = malloc((size_t)b->ncols * sizeof *types);
    for (int i = 0; i < b->ncols; i++)
        types[i] = b->cols[i].type;
    mr_batch *c = mr_batch_create_types(types, b->ncols, b->nrows ? b->nrows : 1);
    free(types);
    assert_non_null(c);
    size_t live = mr_batch_live(b);
    for (int col = 0; col < b->ncols; col++)
        for (size_t i = 0; i < live; i++)
            assert_int_equal(mr_column_copy_value(&c->cols[col], i, &b->cols[col], mr_batch_row(b, i)), 0);
    c->nrows = live;
    return c;
}

static void fill_random(mr_batch *b, uint64_t *seed, size_t n)
{
    static const char *names[] = {"alpha", "beta", "gamma", "delta", "epsilon", ""};
    char buf[32];
    for (size_t r = 0; r < n; r++) {
        uint64_t x = *seed = *seed * 6364136223846793005ULL + 1442695040888963407ULL;
        uint32_t a = (uint32_t)(x >> 33);
        /* k: 6 strings + NULL; g: 0..9; v: int32 with NULLs; d: decimal(9,2);
         * f: float64 with exact values; s: short strings */
        if (a % 13 == 0)
            mr_column_set_str_null(&b->cols[0], r);
        else
            mr_column_set_str(&b->cols[0], r, names[a % 6], strlen(names[a % 6]));
        MR_COL_I32(&b->cols[1])[r] = (int32_t)((a >> 4) % 10);
        mr_column_set_valid(&b->cols[1], r, true);
        MR_COL_I32(&b->cols[2])[r] = (int32_t)((a >> 8) % 2001) - 1000;
        mr_column_set_valid(&b->cols[2], r, (a >> 20) % 7 != 0);
        MR_COL_I64(&b->cols[3])[r] = (int64_t)((a >> 3) % 100000) - 50000;
        mr_column_set_valid(&b->cols[3], r, (a >> 21) % 5 != 0);
        MR_COL_F64(&b->cols[4])[r] = ((int)((a >> 5) % 64) - 32) * 0.25;
        mr_column_set_valid(&b->cols[4], r, (a >> 22) % 3 != 0);
        if ((a >> 23) % 11 == 0) {
            mr_column_set_str_null(&b->cols[5], r);
        } else {
            int len = snprintf(buf, sizeof buf, "s%u", (a >> 12) % 97);
            mr_column_set_str(&b->cols[5], r, buf, (size_t)len);
        }
    }
    b->nrows = n;
}

/* Runs mode over the given batches (copied), returning sorted tu_lines and,
 * for PARTIAL, the output batches in *parts (copied). */
static void run_mode(mr_agg_mode mode, const mr_schema *in, const mr_schema *agg_input,
                     mr_batch **batches, int nb, const char *const *gb, int ngroup,
                     const char *const *names, const char *const *exprs, int nagg, tu_lines *out,
                     feed *parts)
{
    feed f = {0};
    for (int i = 0; i < nb; i++)
        feed_add(&f, copy_batch(batches[i]));
    mr_op *src = mr_source_create(in, feed_next, feed_close, &f, "src");
    mr_err err;
    mr_op *op = mr_hashagg_create(src, mode, gb, ngroup, names, exprs, nagg, agg_input, "agg", &err);
    if (!op)
        fail_msg("create: %s", err.msg);
    memset(out, 0, sizeof *out);
    assert_int_equal(mr_op_open(op, NULL, &err), 0);
    mr_batch *b;
    int rc;
    while ((rc = mr_op_next(op, &b, &err)) == MR_NEXT_BATCH) {
        tu_lines_add_batch(out, b);
        if (parts)
            feed_add(parts, copy_batch(b));
    }
    if (rc < 0)
        fail_msg("run: %s", err.msg);
    if (out->n)
        qsort(out->v, out->n, sizeof *out->v, tu_cmp_str);
    mr_op_close(op);
}

static void split_check(const char *const *gb, int ngroup, const char *const *names,
                        const char *const *exprs, int nagg)
{
    const char *cn[] = {"k", "g", "v", "d", "f", "s"};
    mr_type ct[] = {mr_type_make(MR_T_STRING),  mr_type_make(MR_T_INT32),
                    mr_type_make(MR_T_INT32),   mr_type_decimal(9, 2),
                    mr_type_make(MR_T_FLOAT64), mr_type_make(MR_T_STRING)};
    mr_schema *s = tu_schema(6, cn, ct);
    uint64_t seed = 42;
    enum { NB = 6 };
    mr_batch *all[NB];
    for (int i = 0; i < NB; i++) {
        all[i] = mr_batch_create(s, 0);
        fill_random(all[i], &seed, i == 3 ? 17 : MR_BATCH_ROWS - (size_t)i);
    }
    tu_lines single, fin;
    run_mode(MR_AGG_SINGLE, s, s, all, NB, gb, ngroup, names, exprs, nagg, &single, NULL);

    /* three map tasks: batches {0,1}, {2,3}, {4,5} */
    feed parts = {0};
    mr_err err;
    mr_schema *st = mr_hashagg_state_schema(s, gb, ngroup, names, exprs, nagg, &err);
    assert_non_null(st);
    size_t partial_rows = 0;
    for (int t = 0; t < 3; t++) {
        tu_lines pl;
        run_mode(MR_AGG_PARTIAL, s, s, all + 2 * t, 2, gb, ngroup, names, exprs, nagg, &pl, &parts);
        partial_rows += pl.n;
        tu_lines_free(&pl);
    }
    assert_true(partial_rows > 0);
    run_mode(MR_AGG_FINAL, st, s, parts.b, parts.n, gb, ngroup, names, exprs, nagg, &fin, NULL);
    feed_close(&parts);

    assert_true(single.n > 0);
    if (ngroup == 0)
        assert_int_equal(single.n, 1);
    assert_int_equal(fin.n, single.n);
    for (size_t i = 0; i < single.n; i++)
        assert_string_equal(fin.v[i], single.v[i]);
    tu_lines_free(&single);
    tu_lines_free(&fin);
    for (int i = 0; i < NB; i++)
        mr_batch_destroy(all[i]);
    mr_schema_destroy(st);
    mr_schema_destroy(s);
}

/* variance/stddev (sample and population) and bool_and/bool_or: a group of
 * several rows, a one-row group and an all-NULL group, in SINGLE mode and
 * split over three PARTIAL operators merged by one FINAL. */
static void test_stats_and_bools(void **state)
{
    (void)state;
    const char *cn[] = {"k", "i", "f", "d", "b"};
    mr_type ct[] = {mr_type_make(MR_T_STRING), mr_type_make(MR_T_INT32),
                    mr_type_make(MR_T_FLOAT64), mr_type_decimal(9, 2), mr_type_make(MR_T_BOOL)};
    mr_schema *s = tu_schema(5, cn, ct);
    const char *rows[] = {
        "a|1|1.5|1.00|true", "a|2|NULL|2.00|false", "a|3|2.5|NULL|true",
        "a|4|3.5|3.00|NULL", "b|5|NULL|NULL|NULL",  "c|NULL|NULL|NULL|NULL",
    };
    const char *gb[] = {"k"};
    const char *names[] = {"vi", "vpi", "si", "spi", "vf", "sd", "ba", "bo", "vs"};
    const char *exprs[] = {"variance(i)", "var_pop(i)",  "stddev(i)",   "stddev_pop(i)",
                           "VAR_SAMP(f)", "stddev(d)",   "bool_and(b)", "bool_or(b)",
                           "stddev_samp(i * 2)"};
    /* a: i = 1..4 -> M2 5; f = 1.5, 2.5, 3.5 -> M2 2; d = 1, 2, 3 -> M2 2 */
    const char *want[] = {
        "a|1.666666667|1.25|1.290994449|1.118033989|1|1|false|true|2.581988897",
        "b|NULL|0|NULL|0|NULL|NULL|NULL|NULL|NULL",
        "c|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL",
    };
    int nagg = N(exprs);
    run_single(s, rows, N(rows), gb, 1, names, exprs, nagg, want, N(want));

    /* three map tasks of two rows each; group a spans all of them */
    const char *order[] = {rows[0], rows[5], rows[1], rows[4], rows[2], rows[3]};
    mr_batch *b[3];
    for (int t = 0; t < 3; t++)
        b[t] = batch_of(s, order + 2 * t, 2);
    mr_err err;
    mr_schema *st = mr_hashagg_state_schema(s, gb, 1, names, exprs, nagg, &err);
    assert_non_null(st);
    assert_int_equal(st->nfields, 1 + 7 * 3 + 2);
    assert_string_equal(st->fields[1].name, "vi$count");
    assert_string_equal(st->fields[2].name, "vi$mean");
    assert_string_equal(st->fields[3].name, "vi$m2");
    assert_int_equal(st->fields[3].type.id, MR_T_FLOAT64);
    assert_string_equal(st->fields[19].name, "ba$and");
    assert_int_equal(st->fields[19].type.id, MR_T_BOOL);
    feed parts = {0};
    for (int t = 0; t < 3; t++) {
        tu_lines pl;
        run_mode(MR_AGG_PARTIAL, s, s, b + t, 1, gb, 1, names, exprs, nagg, &pl, &parts);
        tu_lines_free(&pl);
    }
    tu_lines fin;
    run_mode(MR_AGG_FINAL, st, s, parts.b, parts.n, gb, 1, names, exprs, nagg, &fin, NULL);
    expect_lines(&fin, want, N(want));
    tu_lines_free(&fin);
    feed_close(&parts);
    for (int t = 0; t < 3; t++)
        mr_batch_destroy(b[t]);

    /* no rows at all: one row of NULLs */
    const char *want0[] = {"NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL"};
    run_single(s, NULL, 0, NULL, 0, names, exprs, nagg, want0, 1);
    mr_schema_destroy(st);
    mr_schema_destroy(s);
}

/* string_agg: NULLs skipped, quotes in the separator, an empty string kept
 * apart from NULL; PARTIAL states joined by FINAL with the separator. */
static void test_string_agg(void **state)
{
    (void)state;
    const char *cn[] = {"k", "s"};
    mr_type ct[] = {mr_type_make(MR_T_STRING), mr_type_make(MR_T_STRING)};
    mr_schema *s = tu_schema(2, cn, ct);
    const char *rows[] = {"a|x", "a|NULL", "b|", "a|y", "c|NULL", "a|z"};
    const char *gb[] = {"k"};
    const char *names[] = {"sa", "up"};
    const char *exprs[] = {"string_agg(s, ''', ')", "STRING_AGG( upper(s) , '' )"};
    const char *want[] = {"a|x', y', z|XYZ", "b||", "c|NULL|NULL"};
    run_single(s, rows, N(rows), gb, 1, names, exprs, 2, want, N(want));

    mr_batch *b[3];
    for (int t = 0; t < 3; t++)
        b[t] = batch_of(s, rows + 2 * t, 2);
    mr_err err;
    mr_schema *st = mr_hashagg_state_schema(s, gb, 1, names, exprs, 2, &err);
    assert_non_null(st);
    assert_string_equal(st->fields[1].name, "sa$str");
    feed parts = {0};
    for (int t = 0; t < 3; t++) {
        tu_lines pl;
        run_mode(MR_AGG_PARTIAL, s, s, b + t, 1, gb, 1, names, exprs, 2, &pl, &parts);
        tu_lines_free(&pl);
    }
    tu_lines fin;
    run_mode(MR_AGG_FINAL, st, s, parts.b, parts.n, gb, 1, names, exprs, 2, &fin, NULL);
    expect_lines(&fin, want, N(want));
    tu_lines_free(&fin);
    feed_close(&parts);
    for (int t = 0; t < 3; t++)
        mr_batch_destroy(b[t]);
    mr_schema_destroy(st);
    mr_schema_destroy(s);

    int off;
    char msg[256];
    assert_int_equal(parse_bad("string_agg(s)", &off, msg), MR_EPARSE);
    assert_non_null(strstr(msg, "takes 2 arguments"));
    assert_int_equal(parse_bad("string_agg(s, sep)", &off, msg), MR_EINVAL);
    assert_int_equal(off, 14);
    assert_non_null(strstr(msg, "separator must be a string literal"));
    assert_int_equal(parse_bad("string_agg(s, 'a' || 'b')", &off, msg), MR_EINVAL);
    assert_int_equal(parse_bad("string_agg( , ',')", &off, msg), MR_EPARSE);
    char *sep;
    size_t len;
    assert_int_equal(mr_agg_separator("string_agg(f(a, ','), ' '' ')", &sep, &len), 0);
    assert_int_equal(len, 3);
    assert_string_equal(sep, " ' ");
    free(sep);
    assert_int_equal(mr_agg_separator("sum(x)", &sep, &len), MR_EINVAL);
    mr_type t;
    assert_int_equal(mr_agg_result_type(MR_AGG_STRING_AGG, mr_type_make(MR_T_INT32), &t, &err),
                     MR_ETYPE);
}

static const char *split_names[] = {"n", "nv", "dv", "sv", "av", "sd", "ad", "sf", "af",
                                    "lo", "hi", "slo", "shi", "ds", "dlo"};
static const char *split_exprs[] = {"count(*)", "count(v)", "count(distinct v)", "sum(v)",
                                    "avg(v)",   "sum(d)",   "avg(d)",  "sum(f)",
                                    "avg(f)",   "min(v)",   "max(d)",  "min(s)",
                                    "max(s)",   "count(distinct s)", "min(f)"};

/* HyperLogLog sketches merged from three map tasks give the very estimate
 * one task over every row gives (registers merge by maximum). */
static void test_approx_count_distinct_splits(void **state)
{
    (void)state;
    const char *gb[] = {"g"};
    const char *names[] = {"av", "as", "af", "ad", "dv"};
    const char *exprs[] = {"approx_count_distinct(v)", "approx_count_distinct(s)",
                           "approx_count_distinct(f)", "approx_count_distinct(d * 2)",
                           "count(distinct v)"};
    split_check(gb, 1, names, exprs, N(exprs));
    split_check(NULL, 0, names, exprs, N(exprs));
    mr_agg_kind k;
    mr_expr *arg = NULL;
    mr_err err;
    assert_int_equal(mr_agg_parse("Approx_Count_Distinct(x + 1)", &k, &arg, &err), 0);
    assert_int_equal(k, MR_AGG_APPROX_COUNT_DISTINCT);
    mr_expr_destroy(arg);
    mr_type t;
    assert_int_equal(mr_agg_result_type(k, mr_type_make(MR_T_DATE), &t, &err), 0);
    assert_int_equal(t.id, MR_T_INT64);
    assert_int_equal(mr_agg_result_type(k, mr_type_make(MR_T_NULL), &t, &err), MR_ETYPE);
}

static void test_partial_final_grouped(void **state)
{
    (void)state;
    const char *gb[] = {"k", "g"};
    split_check(gb, 2, split_names, split_exprs, N(split_exprs));
}

static void test_partial_final_no_group(void **state)
{
    (void)state;
    split_check(NULL, 0, split_names, split_exprs, N(split_exprs));
}

static void test_partial_final_no_distinct(void **state)
{
    (void)state;
    const char *gb[] = {"s"};
    const char *names[] = {"n", "sv", "av", "hi"};
    const char *exprs[] = {"count(*)", "sum(v)", "avg(d)", "max(k)"};
    split_check(gb, 1, names, exprs, N(exprs));
}

static void test_state_schema(void **state)
{
    (void)state;
    const char *cn[] = {"k", "x", "d"};
    mr_type ct[] = {mr_type_make(MR_T_STRING), mr_type_make(MR_T_INT32), mr_type_decimal(7, 3)};
    mr_schema *s = tu_schema(3, cn, ct);
    const char *gb[] = {"k"};
    const char *names[] = {"n", "u", "t", "a", "m"};
    const char *exprs[] = {"count(*)", "count(distinct x)", "sum(x)", "avg(d)", "max(d)"};
    mr_err err;
    mr_schema *st = mr_hashagg_state_schema(s, gb, 1, names, exprs, 5, &err);
    assert_non_null(st);
    assert_int_equal(st->nfields, 7);
    const char *want[] = {"k", "n$count", "u$value", "t$sum", "a$sum", "a$count", "m$max"};
    for (int i = 0; i < 7; i++)
        assert_string_equal(st->fields[i].name, want[i]);
    assert_int_equal(st->fields[2].type.id, MR_T_INT32);
    assert_int_equal(st->fields[3].type.id, MR_T_INT64);
    assert_true(mr_type_equal(st->fields[4].type, mr_type_decimal(18, 3)));
    assert_true(mr_type_equal(st->fields[6].type, mr_type_decimal(7, 3)));
    mr_schema_destroy(st);
    mr_schema_destroy(s);
}

/* ---- Errors ------------------------------------------------------------- */

static int run_error(const mr_schema *s, const char *const *rows, int nrows, mr_agg_mode mode,
                     const char *const *gb, int ngroup, const char *expr, mr_err *err)
{
    feed f = {0};
    if (nrows)
        feed_add(&f, batch_of(s, rows, nrows));
    mr_op *src = mr_source_create(s, feed_next, feed_close, &f, "src");
    const char *names[] = {"out"};
    mr_op *op = mr_hashagg_create(src, mode, gb, ngroup, names, &expr, 1, s, "by_event", err);
    if (!op)
        return err->code;
    tu_lines got;
    int rc = drain(op, &got, err);
    tu_lines_free(&got);
    mr_op_close(op);
    return rc;
}

static void test_overflow(void **state)
{
    (void)state;
    const char *cn[] = {"k", "qty", "price", "big"};
    mr_type ct[] = {mr_type_make(MR_T_INT32), mr_type_make(MR_T_INT64), mr_type_decimal(18, 2),
                    mr_type_decimal(18, 0)};
    mr_schema *s = tu_schema(4, cn, ct);
    const char *gb[] = {"k"};
    mr_err err;
    const char *rows[] = {"1|9223372036854775807|9999999999999999.99|100000000000000000",
                          "1|1|0.01|NULL"};
    assert_int_equal(run_error(s, rows, 2, MR_AGG_SINGLE, gb, 1, "sum(qty)", &err), MR_EOVERFLOW);
    assert_string_equal(err.msg, "node 'by_event': integer overflow in sum(qty)");
    assert_int_equal(run_error(s, rows, 2, MR_AGG_PARTIAL, gb, 1, "sum(qty)", &err), MR_EOVERFLOW);
    assert_int_equal(run_error(s, rows, 2, MR_AGG_SINGLE, NULL, 0, "sum(price)", &err), MR_EOVERFLOW);
    assert_non_null(strstr(err.msg, "node 'by_event': numeric overflow in sum(price)"));
    /* avg of decimal(18,0) rescaled to 6 places no longer fits 18 digits */
    assert_int_equal(run_error(s, rows, 2, MR_AGG_SINGLE, gb, 1, "avg(big)", &err), MR_EOVERFLOW);
    assert_non_null(strstr(err.msg, "avg(big)"));

    /* a running total may leave int64 as long as the total comes back */
    const char *back[] = {"1|9223372036854775807|1|1", "1|10|1|1", "1|-20|1|1"};
    assert_int_equal(run_error(s, back, 3, MR_AGG_SINGLE, gb, 1, "sum(qty)", &err), 0);
    const char *neg[] = {"1|-9223372036854775807|1|1", "1|-1|1|1"};
    assert_int_equal(run_error(s, neg, 2, MR_AGG_SINGLE, gb, 1, "sum(qty)", &err), 0);
    const char *neg2[] = {"1|-9223372036854775807|1|1", "1|-2|1|1"};
    assert_int_equal(run_error(s, neg2, 2, MR_AGG_SINGLE, gb, 1, "sum(qty)", &err), MR_EOVERFLOW);
    mr_schema_destroy(s);
}

static void test_bad_plans(void **state)
{
    (void)state;
    const char *cn[] = {"k", "name"};
    mr_type ct[] = {mr_type_make(MR_T_INT32), mr_type_make(MR_T_STRING)};
    mr_schema *s = tu_schema(2, cn, ct);
    mr_err err;
    const char *gb[] = {"k"}, *badgb[] = {"kk"}, *dupgb[] = {"k", "k"};
    assert_int_equal(run_error(s, NULL, 0, MR_AGG_SINGLE, badgb, 1, "count(*)", &err), MR_ENOTFOUND);
    assert_non_null(strstr(err.msg, "node 'by_event'"));
    assert_non_null(strstr(err.msg, "'kk'"));
    assert_int_equal(run_error(s, NULL, 0, MR_AGG_SINGLE, dupgb, 2, "count(*)", &err), MR_EINVAL);
    assert_int_equal(run_error(s, NULL, 0, MR_AGG_SINGLE, gb, 1, "sums(k)", &err), MR_EINVAL);
    assert_non_null(strstr(err.msg, "node 'by_event'"));
    assert_non_null(strstr(err.msg, "unknown aggregate 'sums'"));
    assert_int_equal(run_error(s, NULL, 0, MR_AGG_SINGLE, gb, 1, "sum(name)", &err), MR_ETYPE);
    assert_int_equal(run_error(s, NULL, 0, MR_AGG_SINGLE, gb, 1, "max(nosuch)", &err), MR_ENOTFOUND);
    assert_int_equal(err.offset, 4); /* into the aggregate text, not the argument */
    assert_int_equal(run_error(s, NULL, 0, MR_AGG_SINGLE, gb, 1, "count(distinct k + nosuch)", &err),
                     MR_ENOTFOUND);
    assert_int_equal(err.offset, 19);
    /* an output name clashing with a group column */
    const char *names[] = {"k"}, *exprs[] = {"count(*)"};
    feed f = {0};
    mr_op *src = mr_source_create(s, feed_next, feed_close, &f, "src");
    assert_null(mr_hashagg_create(src, MR_AGG_SINGLE, gb, 1, names, exprs, 1, s, "n", &err));
    assert_int_equal(err.code, MR_EINVAL);
    assert_int_equal(f.closed, 1); /* the child is closed on failure */
    /* FINAL fed rows that are not the state schema */
    src = mr_source_create(s, feed_next, feed_close, &f, "src");
    const char *n2[] = {"c"}, *e2[] = {"sum(k)"};
    assert_null(mr_hashagg_create(src, MR_AGG_FINAL, gb, 1, n2, e2, 1, s, "n", &err));
    assert_int_equal(err.code, MR_ETYPE);
    mr_schema_destroy(s);
}

/* Arguments that are expressions, not bare columns, go through
 * mr_expr_eval (and its errors name the node). */
static void test_expression_args(void **state)
{
    (void)state;
    const char *cn[] = {"k", "qty", "price"};
    mr_type ct[] = {mr_type_make(MR_T_STRING), mr_type_make(MR_T_INT64), mr_type_decimal(8, 2)};
    mr_schema *s = tu_schema(3, cn, ct);
    const char *rows[] = {"a|2|1.50", "a|3|2.00", "b|NULL|4.00", "b|1|NULL", "c|5|0.10"};
    const char *gb[] = {"k"}, *names[] = {"rev", "q2", "mx"},
               *exprs[] = {"sum(qty * price)", "sum(qty + 1)", "max(qty * 2)"};
    feed f = {0};
    feed_add(&f, batch_of(s, rows, N(rows)));
    mr_op *src = mr_source_create(s, feed_next, feed_close, &f, "src");
    mr_err err;
    mr_op *op = mr_hashagg_create(src, MR_AGG_SINGLE, gb, 1, names, exprs, 3, s, "g", &err);
    if (!op)
        fail_msg("create: %s", err.msg);
    tu_lines got;
    assert_int_equal(drain(op, &got, &err), 0);
    assert_int_equal(got.n, 3);
    /* the decimal scale of qty * price is the expression module's choice;
     * compare the values numerically */
    const char *wantk[] = {"a", "b", "c"};
    const double wrev[] = {9.0, -1, 0.5};
    const char *wrest[] = {"7|6", "2|2", "6|10"};
    for (size_t i = 0; i < 3; i++) {
        char k[8], rev[64], rest[64];
        assert_int_equal(sscanf(got.v[i], "%7[^|]|%63[^|]|%63s", k, rev, rest), 3);
        assert_string_equal(k, wantk[i]);
        if (wrev[i] < 0)
            assert_string_equal(rev, "NULL");
        else
            assert_true(strtod(rev, NULL) == wrev[i]);
        assert_string_equal(rest, wrest[i]);
    }
    tu_lines_free(&got);
    mr_op_close(op);

    const char *zero[] = {"a|0|1.00"};
    assert_int_equal(run_error(s, zero, 1, MR_AGG_SINGLE, gb, 1, "sum(10 / qty)", &err), MR_EDIVZERO);
    assert_non_null(strstr(err.msg, "node 'by_event'"));
    mr_schema_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agg_parse),
        cmocka_unit_test(test_agg_result_type),
        cmocka_unit_test(test_source_checks_types),
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_sum_per_type),
        cmocka_unit_test(test_avg),
        cmocka_unit_test(test_minmax_per_type),
        cmocka_unit_test(test_max_string_growth),
        cmocka_unit_test(test_float_keys_and_nan),
        cmocka_unit_test(test_avg_decimal_half),
        cmocka_unit_test(test_empty_input),
        cmocka_unit_test(test_null_and_string_keys),
        cmocka_unit_test(test_multiple_keys),
        cmocka_unit_test(test_many_groups),
        cmocka_unit_test(test_selection_vector),
        cmocka_unit_test(test_state_schema),
        cmocka_unit_test(test_partial_final_grouped),
        cmocka_unit_test(test_partial_final_no_group),
        cmocka_unit_test(test_partial_final_no_distinct),
        cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_bad_plans),
        cmocka_unit_test(test_expression_args),
        cmocka_unit_test(test_stats_and_bools),
        cmocka_unit_test(test_string_agg),
        cmocka_unit_test(test_approx_count_distinct_splits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
