/* test_expr.c - the expression language: parsing, binding, typing and
 * vectorized evaluation of every construct, with NULLs, selection vectors,
 * errors and their offsets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/batch.h"
#include "core/expr.h"

/* ---- fixture: one batch of 5 rows --------------------------------------
 *   i  int32         1,   -2,    NULL, 2147483647, 0
 *   l  int64         10,  20,    30,   NULL,       -5
 *   d  decimal(8,2)  1.25, -3.50, NULL, 100.00,    0.05
 *   f  float64       0.5, 2,     NULL, -1.5,       0
 *   s  string        abc, Été,   NULL, '',         a_b%c
 *   b  bool          t,   f,     NULL, t,          f
 *   dt date          2024-01-31, 2023-12-31, NULL, 1970-01-01, 2024-02-29
 *   ts timestamp     2024-03-15 13:45:30.25, 1999-12-31 23:59:59, NULL,
 *                    1970-01-01 00:00:00, 2024-02-29 06:07:08
 *   amount int64     1..5
 *   "Order Total" decimal(10,2)  1.00 .. 5.00
 */
static mr_schema *schema;
static mr_batch *batch;

static void set_null(mr_column *c, size_t r) { mr_column_set_valid(c, r, false); }

static int setup(void **state)
{
    (void)state;
    mr_err err;
    schema = mr_schema_create(10);
    const char *names[] = {"i", "l", "d", "f", "s", "b", "dt", "ts", "amount", "Order Total"};
    const char *types[] = {"int32", "int64", "decimal(8,2)", "float64", "string",
                           "bool", "date", "timestamp", "int64", "decimal(10,2)"};
    for (int k = 0; k < 10; k++) {
        mr_type t;
        assert_int_equal(mr_type_parse(types[k], &t, &err), 0);
        mr_schema_set(schema, k, names[k], t);
    }
    batch = mr_batch_create(schema, 8);
    mr_column *c = batch->cols;
    int32_t iv[] = {1, -2, 0, 2147483647, 0};
    int64_t lv[] = {10, 20, 30, 0, -5}, dv[] = {125, -350, 0, 10000, 5};
    double fv[] = {0.5, 2, 0, -1.5, 0};
    const char *sv[] = {"abc", "\xc3\x89t\xc3\xa9", "", "", "a_b%c"};
    uint8_t bv[] = {1, 0, 0, 1, 0};
    const char *dts[] = {"2024-01-31", "2023-12-31", "2000-01-01", "1970-01-01", "2024-02-29"};
    const char *tss[] = {"2024-03-15 13:45:30.25", "1999-12-31 23:59:59", "2000-01-01 00:00:00",
                         "1970-01-01 00:00:00", "2024-02-29 06:07:08"};
    for (size_t r = 0; r < 5; r++) {
        for (int k = 0; k < 10; k++)
            mr_column_set_valid(&c[k], r, true);
        MR_COL_I32(&c[0])[r] = iv[r];
        MR_COL_I64(&c[1])[r] = lv[r];
        MR_COL_I64(&c[2])[r] = dv[r];
        MR_COL_F64(&c[3])[r] = fv[r];
        if (r == 2)
            mr_column_set_str_null(&c[4], r);
        else
            mr_column_set_str(&c[4], r, sv[r], strlen(sv[r]));
        MR_COL_U8(&c[5])[r] = bv[r];
        assert_int_equal(mr_parse_date(dts[r], strlen(dts[r]), &MR_COL_I32(&c[6])[r], &err), 0);
        assert_int_equal(mr_parse_timestamp(tss[r], strlen(tss[r]), &MR_COL_I64(&c[7])[r], &err), 0);
        MR_COL_I64(&c[8])[r] = (int64_t)r + 1;
        MR_COL_I64(&c[9])[r] = ((int64_t)r + 1) * 100;
    }
    for (int k = 0; k < 8; k++)
        if (k != 1 && k != 4)
            set_null(&c[k], 2);
    set_null(&c[1], 3);
    batch->nrows = 5;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    mr_batch_destroy(batch);
    mr_schema_destroy(schema);
    return 0;
}

/* Renders row r of c as text. */
static void fmt(const mr_column *c, size_t r, char *out, size_t cap)
{
    if (!mr_column_is_valid(c, r)) {
        snprintf(out, cap, "NULL");
        return;
    }
    size_t n;
    const char *s;
    switch (c->type.id) {
    case MR_T_BOOL: snprintf(out, cap, "%s", MR_COL_U8(c)[r] ? "true" : "false"); break;
    case MR_T_INT32: snprintf(out, cap, "%d", MR_COL_I32(c)[r]); break;
    case MR_T_INT64: snprintf(out, cap, "%lld", (long long)MR_COL_I64(c)[r]); break;
    case MR_T_FLOAT64: mr_format_float64(MR_COL_F64(c)[r], out, cap); break;
    case MR_T_DECIMAL: mr_format_decimal(MR_COL_I64(c)[r], c->type.scale, out, cap); break;
    case MR_T_DATE: mr_format_date(MR_COL_I32(c)[r], out, cap); break;
    case MR_T_TIMESTAMP: mr_format_timestamp(MR_COL_I64(c)[r], out, cap); break;
    case MR_T_STRING:
        s = mr_column_str(c, r, &n);
        snprintf(out, cap, "%.*s", (int)n, s);
        break;
    default: snprintf(out, cap, "?"); break;
    }
}

static char result[4096];
static mr_err last_err;
static char last_type[32];

/* Parses, binds and evaluates text over the fixture batch (with the given
 * selection, or all rows); returns "v1|v2|..." or "ERR <code> @<offset>". */
static const char *ev_on(const char *text, mr_batch *b)
{
    mr_expr *e = NULL;
    mr_err_clear(&last_err);
    last_err.offset = -1;
    int rc = mr_expr_parse(text, &e, &last_err);
    if (rc == 0)
        rc = mr_expr_bind(e, schema, &last_err);
    if (rc < 0) {
        snprintf(result, sizeof result, "ERR %d @%d", rc, last_err.offset);
        mr_expr_destroy(e);
        return result;
    }
    mr_type_name(mr_expr_type(e), last_type, sizeof last_type);
    mr_column out;
    assert_int_equal(mr_column_init(&out, mr_expr_type(e), 4), 0);
    rc = mr_expr_eval(e, b, &out, &last_err);
    if (rc < 0) {
        snprintf(result, sizeof result, "ERR %d", rc);
    } else {
        size_t pos = 0;
        result[0] = '\0';
        for (size_t r = 0; r < mr_batch_live(b); r++) {
            char v[256];
            fmt(&out, r, v, sizeof v);
            pos += (size_t)snprintf(result + pos, sizeof result - pos, "%s%s", r ? "|" : "", v);
        }
    }
    mr_column_free(&out);
    mr_expr_destroy(e);
    return result;
}

static const char *ev(const char *text)
{
    batch->sel = NULL;
    batch->nsel = 0;
    return ev_on(text, batch);
}

/* Only the first row. */
static const char *ev1(const char *text)
{
    batch->sel_buf[0] = 0;
    batch->sel = batch->sel_buf;
    batch->nsel = 1;
    const char *r = ev_on(text, batch);
    batch->sel = NULL;
    return r;
}

static const char *ev_sel(const char *text, const uint32_t *rows, size_t n)
{
    memcpy(batch->sel_buf, rows, n * sizeof *rows);
    batch->sel = batch->sel_buf;
    batch->nsel = n;
    const char *r = ev_on(text, batch);
    batch->sel = NULL;
    return r;
}

#define EXPECT(text, want) assert_string_equal(ev(text), want)
#define EXPECT1(text, want) assert_string_equal(ev1(text), want)
#define EXPECT_TYPE(text, want, type)          \
    do {                                       \
        assert_string_equal(ev1(text), want);  \
        assert_string_equal(last_type, type);  \
    } while (0)

static void test_literals(void **state)
{
    (void)state;
    EXPECT_TYPE("42", "42", "int32");
    EXPECT_TYPE("3000000000", "3000000000", "int64");
    EXPECT_TYPE("-2147483648", "-2147483648", "int32");
    EXPECT_TYPE("-9223372036854775808", "-9223372036854775808", "int64");
    EXPECT_TYPE("4.25", "4.25", "decimal(3,2)");
    EXPECT_TYPE("0.05", "0.05", "decimal(2,2)");
    EXPECT_TYPE("1e3", "1000", "float64");
    EXPECT_TYPE("'it''s'", "it's", "string");
    EXPECT_TYPE("true", "true", "bool");
    EXPECT_TYPE("FALSE", "false", "bool");
    EXPECT_TYPE("null", "NULL", "string");
    EXPECT_TYPE("DATE '2024-01-31'", "2024-01-31", "date");
    EXPECT_TYPE("TIMESTAMP '2024-01-31 12:00:00'", "2024-01-31 12:00:00", "timestamp");
    EXPECT_TYPE("0.5 + 1", "1.5", "decimal(12,1)");
    EXPECT_TYPE("(((7)))", "7", "int32");
    EXPECT_TYPE("- -3", "3", "int32");
    EXPECT_TYPE("2 + 3 * 4 - 10 / 5 % 3", "12", "int32");
    EXPECT_TYPE("(2 + 3) * 4", "20", "int32");
    EXPECT("amount", "1|2|3|4|5");
    EXPECT("\"Order Total\"", "1.00|2.00|3.00|4.00|5.00");
    EXPECT("AMOUNT * 2", "2|4|6|8|10");
}

static void test_arith(void **state)
{
    (void)state;
    EXPECT("l * 2", "20|40|60|NULL|-10");
    EXPECT("i * l", "10|-40|NULL|NULL|0");
    assert_string_equal(last_type, "int64");
    EXPECT("-i", "-1|2|NULL|-2147483647|0");
    EXPECT1("7 / 2", "3");
    EXPECT1("-7 / 2", "-3");
    EXPECT1("-7 % 3", "-1");
    EXPECT1("7 % -3", "1");
    EXPECT1("7.0 / 2", "3.500000");
    EXPECT1("1.0 / 3", "0.333333");
    EXPECT1("2.0 / 3", "0.666667");
    EXPECT1("-2.0 / 3", "-0.666667");
    EXPECT1("1e0 / 4", "0.25");
    /* integer overflow is an error, NULL rows never are */
    assert_string_equal(ev("i + 1"), "ERR -6");
    assert_non_null(strstr(last_err.msg, "overflow"));
    assert_string_equal(ev("l + 9223372036854775807"), "ERR -6");
    assert_string_equal(ev("i * 2"), "ERR -6");
    assert_string_equal(ev("-(l - 9223372036854775807 - 1)"), "ERR -6");
    EXPECT("i / nullif(i, i)", "NULL|NULL|NULL|NULL|NULL");
    assert_string_equal(ev("l / (amount - 1)"), "ERR -7");
    assert_string_equal(last_err.msg, "division by zero");
    assert_string_equal(ev("l % (amount - 1)"), "ERR -7");
    assert_string_equal(ev("f / (amount - 1)"), "ERR -7");
    assert_string_equal(ev1("1 / 0"), "ERR -7 @2");
    assert_string_equal(ev1("3 + 1 % 0"), "ERR -7 @6");
    assert_string_equal(ev1("-2147483648 / -1"), "ERR -6 @12"); /* int32, as in PostgreSQL */
    EXPECT1("2147483648 / -1", "-2147483648");
    assert_string_equal(ev1("(-2147483647 - 1) / -1"), "ERR -6 @18");
    /* decimals are exact */
    EXPECT("d + 1", "2.25|-2.50|NULL|101.00|1.05");
    assert_string_equal(last_type, "decimal(13,2)");
    EXPECT("d * d", "1.5625|12.2500|NULL|10000.0000|0.0025");
    EXPECT("d / 3", "0.416667|-1.166667|NULL|33.333333|0.016667");
    EXPECT("d - 0.005", "1.245|-3.505|NULL|99.995|0.045");
    EXPECT("d % 1", "0.25|-0.50|NULL|0.00|0.05");
    EXPECT1("0.1 + 0.2 = 0.3", "true");
    EXPECT1("0.1e0 + 0.2e0 = 0.3e0", "false");
    EXPECT("d * 2 + f", "3|-5|NULL|198.5|0.1");
    assert_string_equal(last_type, "float64");
    assert_string_equal(ev("CAST(d AS decimal(18,2)) * 100000000000000"), "ERR -6");
    assert_string_equal(ev("d / (amount - 1)"), "ERR -7");
    EXPECT("f * 2", "1|4|NULL|-3|0");
    /* dates */
    EXPECT("dt + 1", "2024-02-01|2024-01-01|NULL|1970-01-02|2024-03-01");
    EXPECT("1 + dt", "2024-02-01|2024-01-01|NULL|1970-01-02|2024-03-01");
    EXPECT("dt - DATE '2024-01-01'", "30|-1|NULL|-19723|59");
    assert_string_equal(last_type, "int32");
    /* type errors point at the operator */
    assert_string_equal(ev("s + 1"), "ERR -5 @2");
    assert_string_equal(last_err.msg, "operator '+' cannot apply to string and int32");
    assert_string_equal(ev("b * 2"), "ERR -5 @2");
    assert_string_equal(ev("-s"), "ERR -5 @0");
}

static void test_compare(void **state)
{
    (void)state;
    EXPECT("i < l", "true|true|NULL|NULL|false");
    EXPECT("s = 'abc'", "true|false|NULL|false|false");
    EXPECT("s < 'b'", "true|false|NULL|true|true");
    EXPECT("s >= ''", "true|true|NULL|true|true");
    EXPECT("s <> 'ab'", "true|true|NULL|true|true");
    EXPECT("dt >= '2024-01-01'", "true|false|NULL|false|true");
    EXPECT("dt < ts", "true|false|NULL|false|true");
    EXPECT("ts = TIMESTAMP '1970-01-01 00:00:00'", "false|false|NULL|true|false");
    EXPECT("d = 1.25", "true|false|NULL|false|false");
    EXPECT("d > 1", "true|false|NULL|true|false");
    EXPECT("d <= 0.05", "false|true|NULL|false|true");
    EXPECT("f != 2", "true|false|NULL|true|true");
    EXPECT("l / 10 = i", "true|false|NULL|NULL|true");
    assert_string_equal(ev("l = i * 10"), "ERR -6");
    EXPECT("b = true", "true|false|NULL|true|false");
    EXPECT("b < true", "false|true|NULL|false|true");
    EXPECT1("1 <> 1", "false");
    EXPECT1("'a' < 'ab'", "true");
    EXPECT1("'b' > 'abc'", "true");
    assert_string_equal(ev("i = 'x'"), "ERR -12 @4");
    assert_string_equal(ev("s = 1"), "ERR -5 @2");
    assert_string_equal(last_err.msg, "cannot compare string and int32");
    assert_string_equal(ev("dt = 1"), "ERR -5 @3");
}

/* Three-valued logic over every pair of (true, false, NULL). */
static void test_truth_tables(void **state)
{
    (void)state;
    mr_schema *s2 = mr_schema_create(2);
    mr_schema_set(s2, 0, "x", mr_type_make(MR_T_BOOL));
    mr_schema_set(s2, 1, "y", mr_type_make(MR_T_BOOL));
    mr_batch *b = mr_batch_create(s2, 9);
    for (size_t r = 0; r < 9; r++) {
        int x = (int)r / 3, y = (int)r % 3; /* 0 true, 1 false, 2 NULL */
        MR_COL_U8(&b->cols[0])[r] = x == 0;
        MR_COL_U8(&b->cols[1])[r] = y == 0;
        mr_column_set_valid(&b->cols[0], r, x != 2);
        mr_column_set_valid(&b->cols[1], r, y != 2);
    }
    b->nrows = 9;
    mr_schema *keep = schema;
    schema = s2;
    assert_string_equal(ev_on("x AND y", b), "true|false|NULL|false|false|false|NULL|false|NULL");
    assert_string_equal(ev_on("x OR y", b), "true|true|true|true|false|NULL|true|NULL|NULL");
    assert_string_equal(ev_on("NOT x", b), "false|false|false|true|true|true|NULL|NULL|NULL");
    assert_string_equal(ev_on("x IS NULL", b), "false|false|false|false|false|false|true|true|true");
    assert_string_equal(ev_on("y IS NOT NULL", b), "true|true|false|true|true|false|true|true|false");
    assert_string_equal(ev_on("x IS DISTINCT FROM y", b),
                        "false|true|true|true|false|true|true|true|false");
    assert_string_equal(ev_on("x IS NOT DISTINCT FROM y", b),
                        "true|false|false|false|true|false|false|false|true");
    assert_string_equal(ev_on("x IS TRUE", b), "true|true|true|false|false|false|false|false|false");
    assert_string_equal(ev_on("x IS NOT FALSE", b), "true|true|true|false|false|false|true|true|true");
    assert_string_equal(ev_on("x = y", b), "true|false|NULL|false|true|NULL|NULL|NULL|NULL");
    assert_string_equal(ev_on("x AND NULL", b), "NULL|NULL|NULL|false|false|false|NULL|NULL|NULL");
    assert_string_equal(ev_on("NOT x AND y OR x", b), "true|true|true|true|false|NULL|NULL|NULL|NULL");
    assert_string_equal(ev_on("NOT (x AND y) = false", b),
                        "true|false|NULL|false|false|false|NULL|false|NULL");
    /* a selection that hits the lazy right side */
    b->sel = b->sel_buf;
    uint32_t rows[] = {1, 3, 8};
    memcpy(b->sel_buf, rows, sizeof rows);
    b->nsel = 3;
    assert_string_equal(ev_on("x AND y", b), "false|false|NULL");
    assert_string_equal(ev_on("x OR y", b), "true|true|NULL");
    schema = keep;
    mr_batch_destroy(b);
    mr_schema_destroy(s2);
    /* AND / OR only evaluate the right side where the left did not decide */
    EXPECT("i <> 0 AND 10 / i > 1", "true|false|NULL|false|false");
    EXPECT("i = 0 OR 10 / i > 1", "true|false|NULL|false|true");
    assert_string_equal(ev("NOT i"), "ERR -5 @4");
    assert_string_equal(ev("b AND s"), "ERR -5 @6");
}

static void test_in_between_like(void **state)
{
    (void)state;
    EXPECT("i IN (1, 2, 0)", "true|false|NULL|false|true");
    EXPECT("i NOT IN (1, 2, 0)", "false|true|NULL|true|false");
    EXPECT("i IN (1, NULL)", "true|NULL|NULL|NULL|NULL");
    EXPECT("i NOT IN (1, NULL)", "false|NULL|NULL|NULL|NULL");
    EXPECT("s IN ('abc', '')", "true|false|NULL|true|false");
    EXPECT("l IN (amount * 10, 30)", "true|true|true|NULL|false");
    EXPECT("dt IN ('2024-02-29', '1970-01-01')", "false|false|NULL|true|true");
    assert_string_equal(ev("i IN (1, 'x')"), "ERR -12 @9");
    EXPECT("l BETWEEN 10 AND 20", "true|true|false|NULL|false");
    EXPECT("l NOT BETWEEN 10 AND 20", "false|false|true|NULL|true");
    EXPECT("l BETWEEN 10 AND 20 AND b", "true|false|false|NULL|false");
    EXPECT("d BETWEEN 0 AND 2.5", "true|false|NULL|false|true");
    EXPECT("s LIKE 'a%'", "true|false|NULL|false|true");
    EXPECT("s LIKE '_t_'", "false|true|NULL|false|false");
    EXPECT("s LIKE '%\\_b\\%%'", "false|false|NULL|false|true");
    EXPECT("s LIKE '%'", "true|true|NULL|true|true");
    EXPECT("s NOT LIKE '%c'", "false|true|NULL|true|false");
    EXPECT("s ILIKE 'ABC'", "true|false|NULL|false|false");
    EXPECT("s NOT ILIKE 'a%C'", "false|true|NULL|true|false");
    /* ILIKE folds every script's case, as PostgreSQL does in UTF-8 */
    EXPECT("s ILIKE '%é%'", "false|true|NULL|false|false");
    EXPECT1("'ÉCOLE' ILIKE '%é%'", "true");
    EXPECT1("'İSTANBUL' ILIKE 'istanbul'", "true");
    EXPECT1("'ΣΑΣ' ILIKE 'σας'", "false"); /* final sigma is its own letter */
    EXPECT1("'ЁЖИК' ILIKE '_жик'", "true");
    EXPECT1("'ǅ' ILIKE 'ǆ'", "true");
    EXPECT1("'STRASSE' ILIKE 'straße'", "false");
    EXPECT1("'abcabd' LIKE '%ab_'", "true");
    EXPECT1("'abcabd' LIKE 'a%c'", "false");
    EXPECT1("'mississippi' LIKE '%iss%pi'", "true");
    EXPECT1("'' LIKE '_'", "false");
    assert_string_equal(ev("i LIKE 'x'"), "ERR -5 @0");
}

static void test_case_cast(void **state)
{
    (void)state;
    EXPECT("CASE i WHEN 1 THEN 'one' WHEN 0 THEN 'zero' END", "one|NULL|NULL|NULL|zero");
    EXPECT("CASE WHEN b THEN d ELSE 0 END", "1.25|0.00|0.00|100.00|0.00");
    EXPECT("CASE WHEN i = 0 THEN 0 ELSE 10 / i END", "10|-5|NULL|0|0");
}

static void test_case_cast_more(void **state)
{
    (void)state;
    EXPECT("CASE WHEN l > 15 THEN 'big' WHEN l > 0 THEN 'small' ELSE s END",
           "small|big|big||a_b%c");
    EXPECT("CASE WHEN b THEN s END", "abc|NULL|NULL||NULL");
    EXPECT("CASE WHEN b THEN 1 WHEN NOT b THEN 2.5 END", "1.0|2.5|NULL|1.0|2.5");
    assert_string_equal(ev("CASE WHEN b THEN 1 ELSE 'x' END"), "ERR -12 @24");
    assert_string_equal(ev("CASE WHEN i THEN 1 END"), "ERR -5 @10");
    assert_string_equal(ev("CAST(s AS int32)"), "ERR -12");
    assert_string_equal(last_err.msg, "cannot cast 'abc' to int32");
    EXPECT("try_cast(s AS int32)", "NULL|NULL|NULL|NULL|NULL");
    EXPECT1("'12'::int64 + 1", "13");
    EXPECT1("CAST(' 7 ' AS int32)", "7");
    EXPECT("i::string || '!'", "1!|-2!|NULL|2147483647!|0!");
    EXPECT("CAST(d AS int32)", "1|-4|NULL|100|0");
    EXPECT("CAST(f AS decimal(5,1))", "0.5|2.0|NULL|-1.5|0.0");
    EXPECT("CAST(f AS int64)", "0|2|NULL|-2|0");
    EXPECT("CAST(l AS bool)", "true|true|true|NULL|true");
    EXPECT("CAST(b AS int32) + 1", "2|1|NULL|2|1");
    EXPECT("CAST(dt AS timestamp)",
           "2024-01-31 00:00:00|2023-12-31 00:00:00|NULL|1970-01-01 00:00:00|2024-02-29 00:00:00");
    EXPECT("ts::date", "2024-03-15|1999-12-31|NULL|1970-01-01|2024-02-29");
    EXPECT("CAST(d AS string)", "1.25|-3.50|NULL|100.00|0.05");
    EXPECT("CAST(ts AS text)",
           "2024-03-15 13:45:30.25|1999-12-31 23:59:59|NULL|1970-01-01 00:00:00|2024-02-29 06:07:08");
    EXPECT("CAST(d AS decimal(4,1))", "1.3|-3.5|NULL|100.0|0.1");
    assert_string_equal(ev("CAST(d AS decimal(3,1))"), "ERR -12");
    assert_non_null(strstr(last_err.msg, "'100.00'"));
    EXPECT("try_cast(d AS decimal(3,1))", "1.3|-3.5|NULL|NULL|0.1");
    assert_string_equal(ev1("CAST(3000000000 AS int32)"), "ERR -12 @0");
    assert_non_null(strstr(last_err.msg, "out of range"));
    EXPECT1("try_cast('x' AS date)", "NULL");
    EXPECT1("try_cast('2024-02-30' AS date)", "NULL");
    EXPECT1("CAST('2024-02-29' AS date) + 1", "2024-03-01");
    EXPECT1("'yes'::bool", "true");
    EXPECT1("CAST(NULL AS int64) IS NULL", "true");
    assert_string_equal(ev("CAST(b AS date)"), "ERR -5 @0");
    assert_string_equal(ev("x::blob"), "ERR -4 @3");
}

static void test_functions(void **state)
{
    (void)state;
    EXPECT("coalesce(i, l, 99)", "1|-2|30|2147483647|0");
    assert_string_equal(last_type, "int64");
    EXPECT("coalesce(NULL, s, 'z')", "abc|Été|z||a_b%c");
    EXPECT("coalesce(l, 10 / i)", "10|20|30|0|-5"); /* 10 / 0 never evaluated */
    EXPECT("nullif(i, 0)", "1|-2|NULL|2147483647|NULL");
    EXPECT("nullif(s, '')", "abc|Été|NULL|NULL|a_b%c");
    EXPECT("greatest(i, l)", "10|20|30|2147483647|0");
    EXPECT("least(i, l, 5)", "1|-2|5|5|-5");
    EXPECT("greatest(s, 'b')", "b|Été|b|b|b");
    EXPECT("abs(i - 1)", "0|3|NULL|2147483646|1");
    EXPECT("abs(d)", "1.25|3.50|NULL|100.00|0.05");
    EXPECT("abs(f)", "0.5|2|NULL|1.5|0");
    EXPECT("round(d)", "1|-4|NULL|100|0");
    EXPECT("round(d, 1)", "1.3|-3.5|NULL|100.0|0.1");
    EXPECT("round(d, 5)", "1.25|-3.50|NULL|100.00|0.05");
    EXPECT("round(f)", "0|2|NULL|-2|0");
    EXPECT("round(l, -1)", "10|20|30|NULL|-10");
    EXPECT("round(d, -1)", "0|0|NULL|100|0");
    EXPECT("floor(d)", "1|-4|NULL|100|0");
    EXPECT("ceil(d)", "2|-3|NULL|100|1");
    EXPECT("ceil(f)", "1|2|NULL|-1|0");
    EXPECT("floor(i)", "1|-2|NULL|2147483647|0");
    assert_string_equal(ev("abs(s)"), "ERR -5 @4");
    assert_string_equal(ev("round(d, i)"), "ERR -2 @9");
}

static void test_string_functions(void **state)
{
    (void)state;
    EXPECT("upper(s)", "ABC|\xc3\x89T\xc3\x89|NULL||A_B%C");
    EXPECT("lower('MiXeD')", "mixed|mixed|mixed|mixed|mixed");
    /* Unicode's simple case mapping, as PostgreSQL's upper and lower in a
     * UTF-8 locale: one character to one, which may change its length */
    EXPECT1("upper('naïve ÿ ąčę ωσς ёжик')", "NAÏVE Ÿ ĄČĘ ΩΣΣ ЁЖИК");
    EXPECT1("lower('NAÏVE Ÿ ĄČĘ ΩΣ ЁЖИК ΆΈΌ')", "naïve ÿ ąčę ωσ ёжик άέό");
    EXPECT1("upper('ß ı ſ 日本')", "ß I S 日本");
    EXPECT1("upper('ǆ ɐ ꭓ ﬀ ǅ ա')", "Ǆ Ɐ Ꭓ ﬀ Ǆ Ա");
    EXPECT1("lower('ẞ K İ Ǆ ǅ Ⱥ ΣΑΣ Ա')", "ß k i ǆ ǆ ⱥ σασ ա");
    EXPECT1("upper('a\xff" "b')", "A\xff" "B"); /* a bad byte is kept */
    EXPECT("length(s)", "3|3|NULL|0|5");
    EXPECT1("length('日本語')", "3");
    EXPECT1("trim('  x y  ')", "x y");
    EXPECT1("ltrim('xxaxx', 'x')", "axx");
    EXPECT1("rtrim('xxaxx', 'x')", "xxa");
    EXPECT1("trim('ééaé', 'é')", "a");
    EXPECT1("trim('éa', 'è')", "éa");
    EXPECT1("substr('hello', 2, 3)", "ell");
    EXPECT1("substr('hello', 0, 3)", "he");
    EXPECT1("substr('hello', -1, 3)", "h");
    EXPECT1("substr('hello', -5, 3)", "");
    EXPECT1("substr('hello', 3)", "llo");
    EXPECT1("substr('hello', 10)", "");
    EXPECT1("substr('Été!', 2, 2)", "té");
    EXPECT("substr(s, 2)", "bc|té|NULL||_b%c");
    assert_string_equal(ev1("substr('x', 1, -1)"), "ERR -2 @0");
    assert_string_equal(ev("substr(s, 1, i - 2)"), "ERR -2");
    EXPECT1("replace('aXbXc', 'X', '--')", "a--b--c");
    EXPECT1("replace('abc', '', 'z')", "abc");
    EXPECT1("replace('aaa', 'aa', 'b')", "ba");
    EXPECT("concat(s, NULL, i)", "abc1|Été-2||2147483647|a_b%c0");
    /* booleans in their output form, as PostgreSQL's concat (a cast says true) */
    EXPECT("concat('a', b, true, false, NULL::bool)", "attf|aftf|atf|attf|aftf");
    EXPECT("concat(b)", "t|f||t|f");
    EXPECT1("b::string || concat(b)", "truet");
    EXPECT("s || '-' || l", "abc-10|Été-20|NULL|NULL|a_b%c--5");
    assert_string_equal(ev("i || l"), "ERR -5 @2");
    EXPECT1("split_part('a,b,c', ',', 2)", "b");
    EXPECT1("split_part('a,b,c', ',', -1)", "c");
    EXPECT1("split_part('a,b,c', ',', -3)", "a");
    EXPECT1("split_part('a,b,c', ',', 4)", "");
    EXPECT1("split_part('a::b', '::', 2)", "b");
    EXPECT1("split_part('abc', '', 1)", "abc");
    assert_string_equal(ev1("split_part('a,b', ',', 0)"), "ERR -2 @0");
    EXPECT1("md5('')", "d41d8cd98f00b204e9800998ecf8427e");
    EXPECT1("md5('abc')", "900150983cd24fb0d6963f7d28e17f72");
    EXPECT1("md5('The quick brown fox jumps over the lazy dog')",
            "9e107d9d372bb6826bd81d3542a419d6");
    EXPECT1("md5('1234567890123456789012345678901234567890"
            "1234567890123456789012345678901234567890')",
            "57edf4a22be3c955ac49da2e2107b67a");
    EXPECT("md5(s) IS NULL", "false|false|true|false|false");
    assert_string_equal(ev("length(i)"), "ERR -5 @7");
}

static void test_regex(void **state)
{
    (void)state;
    /* the operators: s is abc, Été, NULL, '', a_b%c */
    EXPECT("s ~ 'b'", "true|false|NULL|false|true");
    EXPECT("s !~ 'b'", "false|true|NULL|true|false");
    EXPECT("s ~ '^ét'", "false|false|NULL|false|false");
    EXPECT("s ~* '^ét'", "false|true|NULL|false|false");
    EXPECT("s !~* '^ÉT'", "true|false|NULL|true|true");
    EXPECT("s ~ '^.{3}$'", "true|true|NULL|false|false"); /* characters, not bytes */
    EXPECT("s ~ NULL", "NULL|NULL|NULL|NULL|NULL");
    EXPECT("s ~ ('^a' || 'b')", "true|false|NULL|false|false"); /* folds to a literal */
    /* ~ binds tighter than comparisons and AND, as in PostgreSQL */
    EXPECT("s ~ 'a' = true AND NOT s !~ 'c'", "true|false|NULL|false|true");
    EXPECT1("'a\nb' ~ 'a.b'", "true");      /* '.' matches a newline */
    EXPECT1("'ab\n' ~ 'b$'", "false");      /* '$' only at the very end */
    EXPECT1("'x\xff' ~ 'x'", "true");       /* invalid UTF-8 in the subject */
    EXPECT1("'日本語' ~ '^\\w+$'", "true"); /* Unicode classes */
    EXPECT1("regexp_like('ABC', 'b', 'i')", "true");
    EXPECT1("regexp_like('ABC', 'b', 'ic')", "false");
    EXPECT_TYPE("s ~ 'a'", "true", "bool");

    /* regexp_replace: first match, or all with g; \1..\9, \& and \\ */
    EXPECT("regexp_replace(s, '[bt]', 'X')", "aXc|ÉXé|NULL||a_X%c");
    EXPECT1("regexp_replace('banana', 'a', 'o', 'g')", "bonono");
    EXPECT1("regexp_replace('bAnana', 'a', 'o', 'gi')", "bonono");
    EXPECT1("regexp_replace('John Smith', '(\\w+) (\\w+)', '\\2, \\1')", "Smith, John");
    EXPECT1("regexp_replace('abc', '(b)', '[\\1\\2\\&\\\\\\x]')", "a[bb\\\\x]c");
    EXPECT1("regexp_replace('abc', '(x)?b', '<\\1>')", "a<>c");
    EXPECT1("regexp_replace('baaac', 'a*', '-', 'g')", "-b--c-"); /* PostgreSQL's result */
    EXPECT1("regexp_replace('', 'x*', '-', 'g')", "-");
    EXPECT1("regexp_replace('héllo wörld', '[éö]', '_', 'g')", "h_llo w_rld");
    EXPECT1("regexp_replace('日本語', '', '-', 'g')", "-日-本-語-");
    EXPECT1("regexp_replace('abc', 'b', NULL)", "NULL");
    EXPECT1("regexp_replace('abc', 'b', 'x', NULL)", "NULL");

    /* regexp_substr(s, p [, start [, n]]), regexp_count */
    EXPECT("regexp_substr(s, '[a-z]+')", "abc|t|NULL|NULL|a");
    EXPECT1("regexp_substr('aXbXc', 'X.', 1, 2)", "Xc");
    EXPECT1("regexp_substr('aXbXc', 'X.', 3)", "Xc");
    EXPECT1("regexp_substr('aXbXc', 'X.', 1, 3)", "NULL");
    EXPECT1("regexp_substr('ééxéx', 'x', 4)", "x");
    EXPECT1("regexp_substr('abc', 'x*', 4)", "");
    EXPECT1("regexp_substr('abc', 'c*', 1, 4)", "");
    EXPECT1("regexp_substr('abc', 'b', NULL)", "NULL");
    EXPECT("regexp_count(s, '[a-zé]')", "3|2|NULL|0|3");
    EXPECT1("regexp_count('abc', 'x*')", "4");
    EXPECT1("regexp_count('abc', 'c|')", "4");
    EXPECT1("regexp_count('banana', 'an', 3)", "1");
    EXPECT1("regexp_count('abc', 'b', 10)", "0");
    EXPECT_TYPE("regexp_count('aaa', 'a')", "3", "int32");
    /* backtracking over long text needs more than PCRE2's default JIT stack */
    EXPECT1("regexp_count(repeat('ab', 20000), '(a|b)*c')", "0");
    EXPECT1("length(regexp_replace(repeat('xy', 20000), '(x|y)+', '-'))", "1");
    assert_string_equal(ev1("regexp_substr('abc', 'b', 0)"), "ERR -2 @0");
    assert_string_equal(last_err.msg, "regexp_substr(): invalid value for parameter \"start\": 0");
    assert_string_equal(ev1("regexp_substr('abc', 'b', 1, 0)"), "ERR -2 @0");
    assert_string_equal(ev1("regexp_count('abc', 'b', -1)"), "ERR -2 @0");

    /* a bad pattern is an error at the pattern's offset, at bind time */
    assert_string_equal(ev("s ~ 'a('"), "ERR -2 @4");
    assert_non_null(strstr(last_err.msg, "operator ~: invalid regular expression: missing "
                                         "closing parenthesis at pattern offset 2"));
    assert_string_equal(ev("regexp_replace(s, '[b', 'x')"), "ERR -2 @18");
    assert_non_null(strstr(last_err.msg, "regexp_replace(): invalid regular expression:"));
    assert_string_equal(ev("regexp_count(s, '*')"), "ERR -2 @16");
    /* the pattern and flags must be constants */
    assert_string_equal(ev("s ~ s"), "ERR -2 @4");
    assert_string_equal(last_err.msg, "operator ~: the pattern must be a constant (a quoted "
                                      "literal or an expression of literals), since it is "
                                      "compiled once per task");
    assert_string_equal(ev("regexp_replace(s, 'a', 'b', s)"), "ERR -2 @28");
    assert_string_equal(ev("regexp_replace(s, 'a', 'b', 'gx')"), "ERR -2 @28");
    assert_string_equal(last_err.msg, "regexp_replace(): invalid regular expression option "
                                      "'x' (valid: g, i, c)");
    assert_string_equal(ev("regexp_like(s, 'a', 'g')"), "ERR -2 @20");
    assert_string_equal(ev("i ~ 'a'"), "ERR -5 @0");
    assert_string_equal(last_err.msg, "operator ~ needs a string as argument 1, got int32");
    assert_string_equal(ev("regexp_count(s, 'a', 'x')"), "ERR -12 @21");
    assert_string_equal(ev("regexp_substr(s)"), "ERR -5 @0");
    assert_string_equal(ev("s ~~ 'a'"), "ERR -4 @3");
}

static void test_json(void **state)
{
    (void)state;
    const char *doc = "'{\"a\": {\"b\" :  [1, 2.50, {\"c\": \"x\\u00e9\"}]}, \"n\": null, "
                      "\"t\": true, \"big\": 12345678901234567890, \"-1\": \"k\"}'";
    char q[512];
#define JP(path, want)                                                              \
    do {                                                                            \
        snprintf(q, sizeof q, "json_extract_path_text(%s, %s)", doc, path);          \
        EXPECT1(q, want);                                                           \
    } while (0)
    JP("'a'", "{\"b\" :  [1, 2.50, {\"c\": \"x\\u00e9\"}]}"); /* nested: verbatim */
    JP("'a', 'b'", "[1, 2.50, {\"c\": \"x\\u00e9\"}]");
    JP("'a', 'b', '1'", "2.50");                /* a number as written */
    JP("'a', 'b', '2', 'c'", "xé");             /* a string unescaped */
    JP("'a', 'b', '-1', 'c'", "xé");            /* negative: from the end */
    JP("'a', 'b', ' +0'", "1");                 /* strtol's reading of an index */
    JP("'a', 'b', '-4'", "NULL");
    JP("'a', 'b', '1x'", "NULL");
    JP("'a', 'b', '3'", "NULL");
    JP("'n'", "NULL");                          /* JSON null */
    JP("'t'", "true");
    JP("'big'", "12345678901234567890");
    JP("'-1'", "k");                            /* an object's key, not an index */
    JP("'zz'", "NULL");
    JP("'a', NULL", "NULL");
    EXPECT1("json_extract_path_text('{\"a\":1,\"a\":2}', 'a')", "2"); /* last wins */
    EXPECT1("json_extract_path_text('{\"a\":{\"b\":1},\"a\":3}', 'a', 'b')", "1");
    EXPECT1("json_extract_path_text('[[1,[2,3]]]', '0', '1', '-1')", "3");
    EXPECT1("json_extract_path_text('\"x\"', 'a')", "NULL");
    EXPECT1("json_extract_path_text('{\"a\":\"\\u0000\"}', 'a')", "NULL");
    /* invalid JSON gives NULL */
    EXPECT1("json_extract_path_text('{\"a\":1', 'a')", "NULL");
    EXPECT1("json_extract_path_text('{''a'':1}', 'a')", "NULL");
    EXPECT1("json_extract_path_text('{\"a\":01}', 'a')", "NULL");
    EXPECT1("json_extract_path_text('{\"a\":1} x', 'a')", "NULL");
    EXPECT("json_extract_path_text(s, 'a')", "NULL|NULL|NULL|NULL|NULL");
    EXPECT_TYPE("json_extract_path_text('{\"a\":1}', 'a')", "1", "string");

    EXPECT1("json_array_length('[]')", "0");
    EXPECT1("json_array_length(' [1, [2, 3], {\"a\": [4]}, null] ')", "4");
    EXPECT1("json_array_length('{}')", "NULL");
    EXPECT1("json_array_length('[1,')", "NULL");
    EXPECT1("json_array_length(NULL)", "NULL");
    EXPECT_TYPE("json_array_length('[1]')", "1", "int32");
    EXPECT1("json_typeof('1.5')", "number");
    EXPECT1("json_typeof(' \"x\" ')", "string");
    EXPECT1("json_typeof('null')", "null");
    EXPECT1("json_typeof('[1]')", "array");
    EXPECT1("json_typeof('{}')", "object");
    EXPECT1("json_typeof('false')", "boolean");
    EXPECT1("json_typeof('nul')", "NULL");
    EXPECT1("json_typeof('')", "NULL");
    EXPECT1("json_typeof('\"\xff\"')", "NULL"); /* not UTF-8 */
    EXPECT("json_typeof(s)", "NULL|NULL|NULL|NULL|NULL");
    assert_string_equal(ev("json_typeof(i)"), "ERR -5 @12");
    assert_string_equal(ev("json_extract_path_text(s)"), "ERR -5 @0");
    assert_string_equal(ev("json_extract_path_text(s, 1)"), "ERR -5 @26");
#undef JP
}

static void test_text_functions(void **state)
{
    (void)state;
    /* s is abc, Été, NULL, '', a_b%c */
    EXPECT("lpad(s, 5, 'xy')", "xyabc|xyÉté|NULL|xyxyx|a_b%c");
    EXPECT("rpad(s, 4)", "abc |Été |NULL|    |a_b%");
    EXPECT1("lpad('hello', 3)", "hel");
    EXPECT1("rpad('hello', 3, 'x')", "hel");
    EXPECT1("lpad('hi', 5, '')", "hi");
    EXPECT1("lpad('hi', -1, 'x')", "");
    EXPECT1("rpad('日本', 5, '語x')", "日本語x語");
    EXPECT1("lpad('x', 3, NULL)", "NULL");
    EXPECT1("lpad('x', NULL)", "NULL");
    EXPECT("left(s, 2)", "ab|Ét|NULL||a_");
    EXPECT("right(s, 2)", "bc|té|NULL||%c");
    EXPECT1("left('日本語', -1)", "日本");
    EXPECT1("left('abc', -5)", "");
    EXPECT1("left('abc', 10)", "abc");
    EXPECT1("right('日本語', -1)", "本語");
    EXPECT1("right('abc', -5)", "");
    EXPECT1("right('abc', 0)", "");
    EXPECT1("right('abc', -9223372036854775808)", "");
    EXPECT1("left('abc', -9223372036854775808)", "");
    EXPECT("strpos(s, 'c')", "3|0|NULL|0|5");
    EXPECT1("strpos('日本語', '語')", "3");
    EXPECT1("strpos('abc', '')", "1");
    EXPECT1("strpos('', 'a')", "0");
    EXPECT_TYPE("strpos('ab', 'b')", "2", "int32");
    EXPECT1("initcap('hello wORLD-foo_bar 1st été ǆx')", "Hello World-Foo_Bar 1st Été Ǆx");
    EXPECT1("initcap('ΣΑΣ σας ёлка')", "Σασ Σας Ёлка");
    EXPECT1("initcap('ß ßA')", "ß ßa"); /* no capital sharp s, as in PostgreSQL */
    EXPECT1("initcap('e\xcc\x81t\xc3\xa9 x')", "E\xcc\x81t\xc3\xa9 X"); /* a mark continues a word */
    EXPECT1("initcap('ab\xff" "cd')", "Ab\xff" "Cd");              /* a bad byte ends one */
    EXPECT("initcap(s)", "Abc|Été|NULL||A_B%C");
    EXPECT("reverse(s)", "cba|étÉ|NULL||c%b_a");
    EXPECT1("reverse('日本a')", "a本日");
    EXPECT1("repeat('ab', 3)", "ababab");
    EXPECT1("repeat('ab', -1)", "");
    EXPECT1("repeat('', 5)", "");
    EXPECT1("repeat('é', NULL)", "NULL");
    assert_string_equal(ev1("repeat('ab', 1000000000)"), "ERR -2 @0");
    assert_string_equal(last_err.msg, "repeat(): requested length too large");
    assert_string_equal(ev1("lpad('ab', 2000000000, 'xy')"), "ERR -2 @0");
    EXPECT("starts_with(s, 'a')", "true|false|NULL|false|true");
    EXPECT1("starts_with('abc', '')", "true");
    EXPECT1("starts_with('', 'a')", "false");
    EXPECT_TYPE("starts_with('ab', 'a')", "true", "bool");
    EXPECT1("sha256('abc')", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT1("sha256('')", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT("sha256(s) IS NULL", "false|false|true|false|false");
    assert_string_equal(ev("lpad(s, 'x')"), "ERR -12 @8");
    assert_string_equal(ev("left(s)"), "ERR -5 @0");
    assert_string_equal(ev("strpos(s, 1)"), "ERR -5 @10");
    assert_string_equal(ev("repeat(i, 2)"), "ERR -5 @7");
}

static void test_date_functions(void **state)
{
    (void)state;
    EXPECT("date_trunc('month', ts)", "2024-03-01 00:00:00|1999-12-01 00:00:00|NULL|"
                                      "1970-01-01 00:00:00|2024-02-01 00:00:00");
    EXPECT1("date_trunc('week', TIMESTAMP '2024-03-15 13:45:30')", "2024-03-11 00:00:00");
    EXPECT1("date_trunc('hour', ts)", "2024-03-15 13:00:00");
    EXPECT1("date_trunc('second', ts)", "2024-03-15 13:45:30");
    EXPECT1("date_trunc('quarter', ts)", "2024-01-01 00:00:00");
    EXPECT1("date_trunc('year', dt)", "2024-01-01 00:00:00");
    EXPECT1("date_trunc('decade', dt)", "2020-01-01 00:00:00");
    EXPECT1("date_trunc('century', dt)", "2001-01-01 00:00:00");
    EXPECT1("date_trunc('day', TIMESTAMP '1969-12-31 23:00:00')", "1969-12-31 00:00:00");
    EXPECT("date_part('year', dt)", "2024|2023|NULL|1970|2024");
    assert_string_equal(last_type, "int64");
    EXPECT("extract(dow FROM dt)", "3|0|NULL|4|4");
    EXPECT("extract(isodow FROM dt)", "3|7|NULL|4|4");
    EXPECT("extract(second FROM ts)", "30.25|59|NULL|0|8");
    assert_string_equal(last_type, "float64");
    EXPECT("extract(month FROM ts)", "3|12|NULL|1|2");
    EXPECT("extract(hour FROM ts) * 100 + extract(minute FROM ts)", "1345|2359|NULL|0|607");
    EXPECT1("extract(epoch FROM TIMESTAMP '1970-01-02 00:00:01.5')", "86401.5");
    EXPECT1("extract(week FROM DATE '2021-01-03')", "53");
    EXPECT1("extract(isoyear FROM DATE '2021-01-03')", "2020");
    EXPECT1("extract(week FROM DATE '2024-12-30')", "1");
    EXPECT1("extract(doy FROM DATE '2024-12-31')", "366");
    EXPECT1("extract(quarter FROM DATE '2024-05-01')", "2");
    EXPECT1("extract(day FROM DATE '2024-02-29')", "29");
    EXPECT1("extract(century FROM DATE '2000-12-31')", "20");
    EXPECT1("date_part('millisecond', ts)", "30250");
    assert_string_equal(ev("date_trunc('fortnight', ts)"), "ERR -2 @11");
    assert_string_equal(ev("date_part(s, ts)"), "ERR -2 @10");
    assert_string_equal(ev("date_part('year', s)"), "ERR -5 @18");
}

static void test_parse_errors(void **state)
{
    (void)state;
    struct { const char *text; int code, off; const char *msg; } cases[] = {
        {"a +", MR_EPARSE, 3, "unexpected end of expression"},
        {"a + * b", MR_EPARSE, 4, "unexpected '*'"},
        {"(a + b", MR_EPARSE, 6, "expected ')' at end of expression"},
        {"'abc", MR_EPARSE, 0, "unterminated string literal"},
        {"x = \"abc", MR_EPARSE, 4, "unterminated quoted name"},
        {"a $ b", MR_EPARSE, 2, "unexpected character '$'"},
        {"a b", MR_EPARSE, 2, "unexpected 'b' after the end of the expression"},
        {"", MR_EPARSE, 0, "empty expression"},
        {"frobnicate(1)", MR_EPARSE, 0, "unknown function 'frobnicate'"},
        {"x + lenght(s)", MR_EPARSE, 4, "unknown function 'lenght' (did you mean 'length'?)"},
        {"sum(x)", MR_EPARSE, 0, NULL},
        {"CAST(a AS blob)", MR_EPARSE, 10, NULL},
        {"CAST(a blob)", MR_EPARSE, 7, "expected as"},
        {"CASE WHEN a THEN b", MR_EPARSE, 18,
         "CASE without END: close it with END (CASE WHEN ... THEN ... [ELSE ...] END)"},
        {"(CASE WHEN a THEN b ELSE c) + 1", MR_EPARSE, 26,
         "CASE without END: expected END before ')' (CASE WHEN ... THEN ... [ELSE ...] END)"},
        {"a == 1", MR_EPARSE, 2, "'==' is not an operator: write '=' to compare"},
        {"dt + INTERVAL '1 dya'", MR_EPARSE, 14, "bad interval literal '1 dya'"},
        {"TIMESTAMPTZ '2024-01-01 00:00+99'", MR_EPARSE, 12,
         "bad timestamptz literal '2024-01-01 00:00+99'"},
        {"dt - interval 3", MR_EPARSE, 14, NULL},
        {"CASE END", MR_EPARSE, 5, "unexpected keyword 'END'"},
        {"CASE x END", MR_EPARSE, 7, "expected WHEN in CASE"},
        {"a IS 3", MR_EPARSE, 5, NULL},
        {"a BETWEEN 1 OR 2", MR_EPARSE, 12, "expected and"},
        {"a IN 1", MR_EPARSE, 5, "expected '('"},
        {"DATE '2024-13-01'", MR_EPARSE, 5, "bad date literal '2024-13-01'"},
        {"and", MR_EPARSE, 0, "unexpected keyword 'and'"},
        {"12345678901234567890", MR_EPARSE, 0, NULL},
        {"f(", MR_EPARSE, 0, NULL},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        mr_expr *e = (mr_expr *)1;
        mr_err err;
        int rc = mr_expr_parse(cases[k].text, &e, &err);
        if (rc != cases[k].code || err.offset != cases[k].off)
            fail_msg("'%s': got %d @%d (%s)", cases[k].text, rc, err.offset, err.msg);
        assert_null(e);
        if (cases[k].msg)
            assert_string_equal(err.msg, cases[k].msg);
    }
    /* the hints name the way out */
    mr_expr *h = NULL;
    mr_err herr;
    assert_int_equal(mr_expr_parse("dt + INTERVAL '1 day'", &h, &herr), 0);
    mr_expr_destroy(h);
    /* a column named interval is still a column */
    assert_int_equal(mr_expr_parse("interval + 1", &h, &herr), 0);
    mr_expr_destroy(h);
    /* deep nesting is refused, not a stack overflow */
    char deep[2100];
    memset(deep, '(', 1000);
    strcpy(deep + 1000, "1");
    mr_expr *e;
    mr_err err;
    assert_int_equal(mr_expr_parse(deep, &e, &err), MR_EPARSE);
    assert_int_equal(mr_expr_parse(NULL, &e, &err), MR_EINVAL);
}

static void test_bind_errors(void **state)
{
    (void)state;
    assert_string_equal(ev("amout + 1"), "ERR -8 @0");
    assert_string_equal(last_err.msg, "unknown column 'amout' (did you mean 'amount'?)");
    assert_string_equal(ev("1 + zzzzzz"), "ERR -8 @4");
    assert_string_equal(last_err.msg, "unknown column 'zzzzzz'");
    assert_string_equal(ev("\"order total\""), "ERR -8 @0");
    assert_string_equal(last_err.msg, "unknown column 'order total' (did you mean 'Order Total'?)");
    assert_string_equal(ev("coalesce(i, s)"), "ERR -5 @12");
    assert_string_equal(ev("nullif(i)"), "ERR -5 @0");
    assert_string_equal(last_err.msg, "nullif() takes 2 arguments, got 1");
    /* an unknown date unit lists the known ones */
    assert_string_equal(ev("date_trunc('fortnight', ts)"), "ERR -2 @11");
    assert_non_null(strstr(last_err.msg, "date_trunc() does not know the unit 'fortnight' "
                                         "(valid: microseconds, milliseconds, second, minute, "
                                         "hour, day, week, month"));
    assert_string_equal(ev("date_part('fortnight', ts)"), "ERR -2 @10");
    assert_non_null(strstr(last_err.msg, "(valid: year, quarter, month"));
    /* a bound expression cannot be bound twice */
    mr_expr *e;
    mr_err err;
    assert_int_equal(mr_expr_parse("i", &e, &err), 0);
    assert_string_equal(mr_expr_column_name(e), "i");
    assert_int_equal(mr_expr_bind(e, schema, &err), 0);
    assert_int_equal(mr_expr_bind(e, schema, &err), MR_EINVAL);
    mr_expr_destroy(e);
    assert_int_equal(mr_expr_parse("AMOUNT", &e, &err), 0);
    assert_int_equal(mr_expr_bind(e, schema, &err), 0);
    assert_string_equal(mr_expr_column_name(e), "amount");
    mr_expr_destroy(e);
    assert_int_equal(mr_expr_parse("amount + 0", &e, &err), 0);
    assert_null(mr_expr_column_name(e));
    mr_expr_destroy(e);
    mr_expr_destroy(NULL);
}

static void test_selection(void **state)
{
    (void)state;
    uint32_t rows[] = {1, 3, 4};
    assert_string_equal(ev_sel("i * 2", rows, 1), "-4");
    assert_string_equal(ev_sel("l * 2 + amount", rows, 3), "42|NULL|-5");
    assert_string_equal(ev_sel("s || '!'", rows, 3), "Été!|!|a_b%c!");
    assert_string_equal(ev_sel("s", rows, 3), "Été||a_b%c");
    assert_string_equal(ev_sel("CASE WHEN b THEN upper(s) ELSE s END", rows, 3), "Été||a_b%c");
    assert_string_equal(ev_sel("coalesce(l, amount * 100)", rows, 3), "20|400|-5");
    assert_string_equal(ev_sel("i <> 0 AND 10 / i < 0", rows, 3), "true|false|false");
    assert_string_equal(ev_sel("i IN (0, -2)", rows, 3), "true|false|true");
    uint32_t none[] = {0};
    assert_string_equal(ev_sel("i + 1", none, 0), "");
    /* the overflowing row is not selected: no error */
    uint32_t safe[] = {0, 1, 2, 4};
    assert_string_equal(ev_sel("i + 1", safe, 4), "2|-1|NULL|1");
}

/* The same bound expression over batches of varying size and selection:
 * cached scratch (literal columns, index arrays) must not leak between
 * calls, and batches larger than the first one must work. */
static void test_reuse_and_growth(void **state)
{
    (void)state;
    mr_schema *s2 = mr_schema_create(2);
    mr_schema_set(s2, 0, "n", mr_type_make(MR_T_INT64));
    mr_schema_set(s2, 1, "t", mr_type_make(MR_T_STRING));
    mr_expr *e;
    mr_err err;
    assert_int_equal(mr_expr_parse("CASE WHEN n % 3 = 0 THEN t || 'x' ELSE 'k' || n END", &e, &err), 0);
    assert_int_equal(mr_expr_bind(e, s2, &err), 0);
    mr_column out;
    assert_int_equal(mr_column_init(&out, mr_expr_type(e), 16), 0);
    size_t sizes[] = {3, 10000, 7, 5000};
    for (size_t k = 0; k < 4; k++) {
        size_t n = sizes[k];
        mr_batch *b = mr_batch_create(s2, n);
        for (size_t r = 0; r < n; r++) {
            MR_COL_I64(&b->cols[0])[r] = (int64_t)r;
            mr_column_set_valid(&b->cols[0], r, true);
            mr_column_set_str(&b->cols[1], r, "ab", 2);
        }
        b->nrows = n;
        if (k == 3) { /* odd rows only */
            b->sel = b->sel_buf;
            b->nsel = n / 2;
            for (size_t r = 0; r < n / 2; r++)
                b->sel[r] = (uint32_t)(2 * r + 1);
        }
        assert_int_equal(mr_expr_eval(e, b, &out, &err), 0);
        size_t live = mr_batch_live(b);
        for (size_t r = 0; r < live; r++) {
            int64_t v = (int64_t)mr_batch_row(b, r);
            char want[32], got[32];
            if (v % 3 == 0)
                snprintf(want, sizeof want, "abx");
            else
                snprintf(want, sizeof want, "k%lld", (long long)v);
            fmt(&out, r, got, sizeof got);
            assert_string_equal(got, want);
        }
        mr_batch_destroy(b);
    }
    mr_column_free(&out);
    mr_expr_destroy(e);
    mr_schema_destroy(s2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literals),
        cmocka_unit_test(test_arith),
        cmocka_unit_test(test_compare),
        cmocka_unit_test(test_truth_tables),
        cmocka_unit_test(test_in_between_like),
        cmocka_unit_test(test_case_cast),
        cmocka_unit_test(test_case_cast_more),
        cmocka_unit_test(test_functions),
        cmocka_unit_test(test_string_functions),
        cmocka_unit_test(test_regex),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_text_functions),
        cmocka_unit_test(test_date_functions),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_bind_errors),
        cmocka_unit_test(test_selection),
        cmocka_unit_test(test_reuse_and_growth),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
