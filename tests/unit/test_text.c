/* test_text.c - the text forms of values: parsers, formatters, calendar. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>

#include "core/types.h"

#define S(lit) lit, sizeof(lit) - 1

static void test_bool(void **state)
{
    (void)state;
    mr_err e;
    uint8_t v = 7;
    const char *yes[] = {"true", "TRUE", "t", "T", "1", "yes", "Yes"};
    const char *no[] = {"false", "False", "f", "F", "0", "no", "NO"};
    for (size_t i = 0; i < 7; i++) {
        assert_int_equal(mr_parse_bool(yes[i], strlen(yes[i]), &v, &e), 0);
        assert_int_equal(v, 1);
        assert_int_equal(mr_parse_bool(no[i], strlen(no[i]), &v, &e), 0);
        assert_int_equal(v, 0);
    }
    const char *bad[] = {"", "tru", "truee", "2", "y", " true", "on"};
    for (size_t i = 0; i < 7; i++)
        assert_int_equal(mr_parse_bool(bad[i], strlen(bad[i]), &v, &e), MR_EPARSE);
    assert_non_null(strstr(e.msg, "'on'"));
    /* The length bounds the text, not a NUL. */
    assert_int_equal(mr_parse_bool("trueXYZ", 4, &v, &e), 0);
    assert_int_equal(v, 1);
}

static void test_int64(void **state)
{
    (void)state;
    mr_err e;
    int64_t v;
    assert_int_equal(mr_parse_int64(S("0"), &v, &e), 0);
    assert_true(v == 0);
    assert_int_equal(mr_parse_int64(S("-42"), &v, &e), 0);
    assert_true(v == -42);
    assert_int_equal(mr_parse_int64(S("+17"), &v, &e), 0);
    assert_true(v == 17);
    assert_int_equal(mr_parse_int64(S("000123"), &v, &e), 0);
    assert_true(v == 123);
    assert_int_equal(mr_parse_int64(S("9223372036854775807"), &v, &e), 0);
    assert_true(v == INT64_MAX);
    assert_int_equal(mr_parse_int64(S("-9223372036854775808"), &v, &e), 0);
    assert_true(v == INT64_MIN);
    assert_int_equal(mr_parse_int64(S("9223372036854775808"), &v, &e), MR_EOVERFLOW);
    assert_non_null(strstr(e.msg, "9223372036854775808"));
    assert_int_equal(mr_parse_int64(S("-9223372036854775809"), &v, &e), MR_EOVERFLOW);
    assert_int_equal(mr_parse_int64(S("99999999999999999999999"), &v, &e), MR_EOVERFLOW);
    assert_int_equal(mr_parse_int64(S("99999999999999999999x"), &v, &e), MR_EPARSE);
    const char *bad[] = {"", "-", "+", "1.5", " 1", "1 ", "1e3", "0x10", "--1", "12a"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(mr_parse_int64(bad[i], strlen(bad[i]), &v, &e), MR_EPARSE);
    assert_int_equal(mr_parse_int64("123456", 3, &v, &e), 0);
    assert_true(v == 123);
}

static void test_int32(void **state)
{
    (void)state;
    mr_err e;
    int32_t v;
    assert_int_equal(mr_parse_int32(S("2147483647"), &v, &e), 0);
    assert_int_equal(v, INT32_MAX);
    assert_int_equal(mr_parse_int32(S("-2147483648"), &v, &e), 0);
    assert_int_equal(v, INT32_MIN);
    assert_int_equal(mr_parse_int32(S("2147483648"), &v, &e), MR_EOVERFLOW);
    assert_non_null(strstr(e.msg, "int32"));
    assert_int_equal(mr_parse_int32(S("-2147483649"), &v, &e), MR_EOVERFLOW);
    assert_int_equal(mr_parse_int32(S("abc"), &v, &e), MR_EPARSE);
    assert_non_null(strstr(e.msg, "'abc'"));
}

static void test_float64(void **state)
{
    (void)state;
    mr_err e;
    double v;
    assert_int_equal(mr_parse_float64(S("1.5"), &v, &e), 0);
    assert_true(v == 1.5);
    assert_int_equal(mr_parse_float64(S("-2.5e3"), &v, &e), 0);
    assert_true(v == -2500.0);
    assert_int_equal(mr_parse_float64(S("1E-3"), &v, &e), 0);
    assert_true(v == 0.001);
    assert_int_equal(mr_parse_float64(S(".5"), &v, &e), 0);
    assert_true(v == 0.5);
    assert_int_equal(mr_parse_float64(S("42"), &v, &e), 0);
    assert_true(v == 42.0);
    assert_int_equal(mr_parse_float64(S("Infinity"), &v, &e), 0);
    assert_true(isinf(v) && v > 0);
    assert_int_equal(mr_parse_float64(S("-inf"), &v, &e), 0);
    assert_true(isinf(v) && v < 0);
    assert_int_equal(mr_parse_float64(S("NaN"), &v, &e), 0);
    assert_true(isnan(v));
    assert_int_equal(mr_parse_float64(S("1e400"), &v, &e), MR_EOVERFLOW);
    /* underflow to zero is out of range, as in PostgreSQL; subnormals stay */
    assert_int_equal(mr_parse_float64(S("1e-400"), &v, &e), MR_EOVERFLOW);
    assert_int_equal(mr_parse_float64(S("-1e-400"), &v, &e), MR_EOVERFLOW);
    assert_int_equal(mr_parse_float64(S("4e-320"), &v, &e), 0);
    assert_true(v > 0 && v < 1e-300);
    assert_int_equal(mr_parse_float64(S("0e-400"), &v, &e), 0);
    assert_true(v == 0.0);
    const char *bad[] = {"", "abc", "1.5x", " 1", "1 ", "0x10", "nan(1)", "1e", "-", "."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(mr_parse_float64(bad[i], strlen(bad[i]), &v, &e), MR_EPARSE);
    /* not NUL-terminated: only the first 3 bytes count */
    assert_int_equal(mr_parse_float64("2.59999", 3, &v, &e), 0);
    assert_true(v == 2.5);
    char big[600];
    memset(big, '1', sizeof big);
    assert_int_equal(mr_parse_float64(big, sizeof big, &v, &e), MR_EPARSE);
}

static void check_decimal(const char *s, int p, int sc, int rc_want, int64_t want)
{
    mr_err e;
    int64_t v = 0;
    int rc = mr_parse_decimal(s, strlen(s), p, sc, &v, &e);
    if (rc != rc_want)
        fail_msg("decimal '%s' (%d,%d): rc %d, want %d (%s)", s, p, sc, rc, rc_want, e.msg);
    if (rc == 0 && v != want)
        fail_msg("decimal '%s' (%d,%d): %lld, want %lld", s, p, sc, (long long)v, (long long)want);
}

static void test_decimal(void **state)
{
    (void)state;
    check_decimal("-12.5", 8, 2, 0, -1250);
    check_decimal("12", 8, 2, 0, 1200);
    check_decimal("0", 8, 2, 0, 0);
    check_decimal("-0.00", 8, 2, 0, 0);
    check_decimal("+3.14", 8, 2, 0, 314);
    check_decimal(".5", 8, 2, 0, 50);
    check_decimal("5.", 8, 2, 0, 500);
    check_decimal("0001.10", 8, 2, 0, 110);
    /* rounding half away from zero beyond the scale */
    check_decimal("1.005", 8, 2, 0, 101);
    check_decimal("1.004999", 8, 2, 0, 100);
    check_decimal("-1.005", 8, 2, 0, -101);
    check_decimal("-1.0049", 8, 2, 0, -100);
    check_decimal("0.5", 5, 0, 0, 1);
    check_decimal("-0.5", 5, 0, 0, -1);
    check_decimal("0.4999", 5, 0, 0, 0);
    check_decimal("2.345", 3, 2, 0, 235);
    /* precision */
    check_decimal("999999.99", 8, 2, 0, 99999999);
    check_decimal("1000000.00", 8, 2, MR_EOVERFLOW, 0);
    check_decimal("999999.995", 8, 2, MR_EOVERFLOW, 0); /* rounds up past precision */
    check_decimal("-999999.995", 8, 2, MR_EOVERFLOW, 0);
    check_decimal("999999999999999999", 18, 0, 0, INT64_C(999999999999999999));
    check_decimal("-999999999999999999", 18, 0, 0, -INT64_C(999999999999999999));
    check_decimal("1000000000000000000", 18, 0, MR_EOVERFLOW, 0);
    check_decimal("99999999999999999999999999", 18, 0, MR_EOVERFLOW, 0);
    check_decimal("0.999999999999999999", 18, 18, 0, INT64_C(999999999999999999));
    check_decimal("1", 18, 18, MR_EOVERFLOW, 0);
    check_decimal("0.00000000000000000000000001", 18, 2, 0, 0);
    /* exponents */
    check_decimal("1.5e2", 8, 2, 0, 15000);
    check_decimal("15E-1", 8, 2, 0, 150);
    check_decimal("1e-3", 8, 2, 0, 0);
    check_decimal("5e-3", 8, 2, 0, 1);
    check_decimal("1e20", 18, 0, MR_EOVERFLOW, 0);
    check_decimal("0e999999999", 18, 0, 0, 0);
    /* syntax */
    const char *bad[] = {"", "-", ".", "1.2.3", "abc", "1,5", " 1", "1 ", "1e", "1e+", "--1", "e5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        check_decimal(bad[i], 8, 2, MR_EPARSE, 0);
    mr_err e;
    int64_t v;
    assert_int_equal(mr_parse_decimal(S("1"), 19, 2, &v, &e), MR_EINVAL);
    assert_int_equal(mr_parse_decimal(S("1"), 4, 5, &v, &e), MR_EINVAL);
}

static void check_fmt_decimal(int64_t v, int scale, const char *want)
{
    char buf[48];
    size_t n = mr_format_decimal(v, scale, buf, sizeof buf);
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
}

static void test_format_decimal(void **state)
{
    (void)state;
    check_fmt_decimal(-50, 2, "-0.50");
    check_fmt_decimal(0, 2, "0.00");
    check_fmt_decimal(0, 0, "0");
    check_fmt_decimal(12345, 2, "123.45");
    check_fmt_decimal(-12345, 0, "-12345");
    check_fmt_decimal(5, 3, "0.005");
    check_fmt_decimal(INT64_C(999999999999999999), 18, "0.999999999999999999");
    check_fmt_decimal(INT64_MAX, 0, "9223372036854775807");
    check_fmt_decimal(INT64_MIN, 4, "-922337203685477.5808");
    /* truncated output still reports the full length */
    char small[4];
    assert_int_equal(mr_format_decimal(12345, 2, small, sizeof small), 6);
    assert_string_equal(small, "123");
    /* round trip */
    for (int64_t x = -2000; x <= 2000; x += 7) {
        char buf[48];
        int64_t back;
        mr_err e;
        size_t n = mr_format_decimal(x, 3, buf, sizeof buf);
        assert_int_equal(mr_parse_decimal(buf, n, 18, 3, &back, &e), 0);
        assert_true(back == x);
    }
}

static void check_fmt_float(double v, const char *want)
{
    char buf[48];
    size_t n = mr_format_float64(v, buf, sizeof buf);
    if (strcmp(buf, want) != 0)
        fail_msg("format %.17g: got '%s', want '%s'", v, buf, want);
    assert_int_equal(n, strlen(want));
}

static void test_format_float64(void **state)
{
    (void)state;
    check_fmt_float(0.1, "0.1");
    check_fmt_float(1.5, "1.5");
    check_fmt_float(-2.25, "-2.25");
    check_fmt_float(100.0, "100");
    check_fmt_float(0.0, "0");
    check_fmt_float(-0.0, "-0");
    check_fmt_float(1e14, "100000000000000");
    check_fmt_float(1e15, "1e+15");
    check_fmt_float(1.5e300, "1.5e+300");
    check_fmt_float(0.0001, "0.0001");
    check_fmt_float(0.00001, "1e-05");
    check_fmt_float(1.0 / 3.0, "0.3333333333333333");
    check_fmt_float(0.1 + 0.2, "0.30000000000000004");
    check_fmt_float(123456.789, "123456.789");
    check_fmt_float(NAN, "NaN");
    check_fmt_float(INFINITY, "Infinity");
    check_fmt_float(-INFINITY, "-Infinity");
    check_fmt_float(5e-324, "5e-324");
    check_fmt_float(1.7976931348623157e308, "1.7976931348623157e+308");
    /* every printed form reads back to the same double */
    double xs[] = {3.141592653589793, 2.718281828459045e-10, 6.02214076e23, -1e-7, 123.0};
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
        char buf[48];
        double back;
        mr_err e;
        size_t n = mr_format_float64(xs[i], buf, sizeof buf);
        assert_int_equal(mr_parse_float64(buf, n, &back, &e), 0);
        assert_true(back == xs[i]);
    }
}

static void test_civil(void **state)
{
    (void)state;
    assert_int_equal(mr_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(mr_days_from_civil(1969, 12, 31), -1);
    assert_int_equal(mr_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(mr_days_from_civil(2024, 2, 29), 19782);
    assert_int_equal(mr_days_from_civil(1, 1, 1), -719162);
    /* every day for 1000 years goes there and back, consecutively */
    int32_t start = mr_days_from_civil(1600, 1, 1);
    int64_t py = 1599;
    unsigned pm = 12, pd = 31;
    for (int32_t d = start; d < start + 366 * 1000; d++) {
        int64_t y;
        unsigned m, dd;
        mr_civil_from_days(d, &y, &m, &dd);
        assert_int_equal(mr_days_from_civil(y, m, dd), d);
        /* the next day after (py,pm,pd) */
        if (dd == 1)
            assert_true((m == 1 && y == py + 1 && pm == 12) || (m == pm + 1 && y == py));
        else
            assert_true(y == py && m == pm && dd == pd + 1);
        py = y;
        pm = m;
        pd = dd;
    }
}

static void check_date(const char *s, int rc_want, int32_t want)
{
    mr_err e;
    int32_t v = 0;
    int rc = mr_parse_date(s, strlen(s), &v, &e);
    if (rc != rc_want)
        fail_msg("date '%s': rc %d want %d (%s)", s, rc, rc_want, e.msg);
    if (rc == 0)
        assert_int_equal(v, want);
}

static void test_date(void **state)
{
    (void)state;
    check_date("1970-01-01", 0, 0);
    check_date("2024-02-29", 0, 19782);
    check_date("2000-02-29", 0, 11016);
    check_date("1969-12-31", 0, -1);
    check_date("9999-12-31", 0, mr_days_from_civil(9999, 12, 31));
    check_date("0001-01-01", 0, -719162);
    check_date("2023-02-29", MR_EPARSE, 0); /* not a leap year */
    check_date("1900-02-29", MR_EPARSE, 0); /* century, not a leap year */
    check_date("2024-04-31", MR_EPARSE, 0);
    check_date("2024-13-01", MR_EPARSE, 0);
    check_date("2024-00-10", MR_EPARSE, 0);
    check_date("2024-01-00", MR_EPARSE, 0);
    check_date("2024-01-32", MR_EPARSE, 0);
    check_date("2024-1-01", MR_EPARSE, 0);
    check_date("2024/01/01", MR_EPARSE, 0);
    check_date("2024-01-01 ", MR_EPARSE, 0);
    check_date("", MR_EPARSE, 0);
    check_date("20240101", MR_EPARSE, 0);
    char buf[48];
    assert_int_equal(mr_format_date(19782, buf, sizeof buf), 10);
    assert_string_equal(buf, "2024-02-29");
    mr_format_date(-1, buf, sizeof buf);
    assert_string_equal(buf, "1969-12-31");
    mr_format_date(-719162, buf, sizeof buf);
    assert_string_equal(buf, "0001-01-01");
}

static void check_ts(const char *s, int rc_want, int64_t want)
{
    mr_err e;
    int64_t v = 0;
    int rc = mr_parse_timestamp(s, strlen(s), &v, &e);
    if (rc != rc_want)
        fail_msg("timestamp '%s': rc %d want %d (%s)", s, rc, rc_want, e.msg);
    if (rc == 0 && v != want)
        fail_msg("timestamp '%s': %lld want %lld", s, (long long)v, (long long)want);
}

#define DAY INT64_C(86400000000)

static void test_timestamp(void **state)
{
    (void)state;
    int64_t d = (int64_t)mr_days_from_civil(2024, 1, 31) * DAY;
    int64_t noon = d + INT64_C(12) * 3600 * 1000000;
    check_ts("2024-01-31 12:00:00", 0, noon);
    check_ts("2024-01-31T12:00:00", 0, noon);
    check_ts("2024-01-31 12:00", 0, noon);
    check_ts("2024-01-31", 0, d);
    check_ts("2024-01-31 12:00:00.5", 0, noon + 500000);
    check_ts("2024-01-31 12:00:00.000001", 0, noon + 1);
    check_ts("2024-01-31 12:00:00.123456", 0, noon + 123456);
    check_ts("2024-01-31 12:00:00.1234565", 0, noon + 123457); /* 7th digit rounds */
    check_ts("2024-01-31 23:59:59.999999", 0, d + DAY - 1);
    check_ts("1969-12-31 23:59:59", 0, -1000000);
    check_ts("1970-01-01 00:00:00", 0, 0);
    check_ts("2024-01-31 24:00:00", MR_EPARSE, 0);
    check_ts("2024-01-31 12:60:00", MR_EPARSE, 0);
    check_ts("2024-01-31 12:00:60", MR_EPARSE, 0);
    check_ts("2024-02-30 12:00:00", MR_EPARSE, 0);
    check_ts("2024-01-31 12:00:00.", MR_EPARSE, 0);
    check_ts("2024-01-31 12:00:00Z", MR_EPARSE, 0);
    check_ts("2024-01-31 12:00:00+01", MR_EPARSE, 0);
    check_ts("2024-01-31X12:00:00", MR_EPARSE, 0);
    check_ts("2024-01-31 1:00:00", MR_EPARSE, 0);
    check_ts("2024-01-31 ", MR_EPARSE, 0);
    check_ts("", MR_EPARSE, 0);

    char buf[48];
    assert_int_equal(mr_format_timestamp(noon, buf, sizeof buf), 19);
    assert_string_equal(buf, "2024-01-31 12:00:00");
    mr_format_timestamp(noon + 500000, buf, sizeof buf);
    assert_string_equal(buf, "2024-01-31 12:00:00.5");
    mr_format_timestamp(noon + 120, buf, sizeof buf);
    assert_string_equal(buf, "2024-01-31 12:00:00.00012");
    mr_format_timestamp(-1, buf, sizeof buf);
    assert_string_equal(buf, "1969-12-31 23:59:59.999999");
    mr_format_timestamp(-DAY, buf, sizeof buf);
    assert_string_equal(buf, "1969-12-31 00:00:00");
    /* parse(format(x)) == x */
    for (int64_t x = -3 * DAY; x < 3 * DAY; x += INT64_C(7777777777)) {
        int64_t back;
        mr_err e;
        size_t n = mr_format_timestamp(x, buf, sizeof buf);
        assert_int_equal(mr_parse_timestamp(buf, n, &back, &e), 0);
        assert_true(back == x);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bool),          cmocka_unit_test(test_int64),
        cmocka_unit_test(test_int32),         cmocka_unit_test(test_float64),
        cmocka_unit_test(test_decimal),       cmocka_unit_test(test_format_decimal),
        cmocka_unit_test(test_format_float64), cmocka_unit_test(test_civil),
        cmocka_unit_test(test_date),          cmocka_unit_test(test_timestamp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
