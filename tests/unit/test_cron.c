/* test_cron.c - cron expressions (core/cron.c): the syntax (ranges, steps,
 * lists, names, shorthands), bad expressions refused with the column, next
 * run times against a brute-force minute-by-minute search over random
 * expressions, and daylight-saving changes in Europe/Paris and
 * America/New_York (skipped and repeated wall times). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/cron.h"
#include "core/tz.h"
#include "core/types.h"

static int64_t utc(int y, int mo, int d, int h, int mi)
{
    return (int64_t)mr_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60;
}

static mr_cron parse_ok(const char *text)
{
    mr_cron c;
    mr_err err;
    if (mr_cron_parse(text, &c, &err) != 0)
        fail_msg("'%s': %s", text, err.msg);
    return c;
}

static mr_tz *load(const char *name)
{
    mr_tz *z = NULL;
    mr_err err;
    if (mr_tz_load(NULL, name, strlen(name), &z, &err) != 0)
        fail_msg("%s: %s", name, err.msg);
    return z;
}

static void test_syntax(void **state)
{
    (void)state;
    mr_cron c = parse_ok("*/15 9-17 * JAN-mar,Dec mon-FRI");
    assert_true(c.minute == (1ULL << 0 | 1ULL << 15 | 1ULL << 30 | 1ULL << 45));
    assert_int_equal(c.hour, 0x3fe00);
    assert_true(c.mday_any && !c.wday_any);
    assert_int_equal(c.month, 1 << 1 | 1 << 2 | 1 << 3 | 1 << 12);
    assert_int_equal(c.wday, 0x3e);
    c = parse_ok("5,10-20/5 0 1,15 * 7");
    assert_true(c.minute == (1ULL << 5 | 1ULL << 10 | 1ULL << 15 | 1ULL << 20));
    assert_int_equal(c.wday, 1); /* 7 is Sunday */
    c = parse_ok("  30/10 * * * 0-7 ");
    assert_true(c.minute == (1ULL << 30 | 1ULL << 40 | 1ULL << 50));
    assert_int_equal(c.wday, 0x7f);
    mr_cron d = parse_ok("@daily"), e = parse_ok("0 0 * * *");
    assert_memory_equal(&d, &e, sizeof d);
    d = parse_ok("@HOURLY");
    e = parse_ok("0 * * * *");
    assert_memory_equal(&d, &e, sizeof d);
}

static void test_bad_expressions(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int column;
        const char *words;
    } cases[] = {
        {"", 1, "5 fields"},
        {"* * * *", 8, "5 fields"},
        {"* * * * * *", 11, "more than 5"},
        {"60 * * * *", 1, "60 is out of range 0-59"},
        {"* 24 * * *", 3, "hour: 24 is out of range"},
        {"* * 0 * *", 5, "day of month: 0 is out of range 1-31"},
        {"* * * 13 *", 7, "month: 13"},
        {"* * * * 8", 9, "day of week: 8"},
        {"5-1 * * * *", 1, "runs backwards"},
        {"*/0 * * * *", 3, "step must be"},
        {"*/61 * * * *", 3, "step must be"},
        {"1-/2 * * * *", 3, "end of the range"},
        {"a * * * *", 1, "minute: expected a number, '*'"},
        {"* * * JANUARY *", 7, "month"},
        {"* * * * MO", 9, "day of week"},
        {"1,,2 * * * *", 3, "minute"},
        {"1x * * * *", 2, "unexpected 'x'"},
        {"@every5m", 1, "unknown shorthand"},
        {"@daily 5", 1, "unknown shorthand"},
        {"99999999999 * * * *", 1, "minute"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        mr_cron c;
        mr_err err;
        mr_err_clear(&err);
        int rc = mr_cron_parse(cases[i].text, &c, &err);
        if (rc != MR_EPARSE || !strstr(err.msg, cases[i].words) || err.offset + 1 != cases[i].column)
            fail_msg("'%s': rc %d, '%s' at %d (wanted column %d, '%s')", cases[i].text, rc,
                     err.msg, err.offset + 1, cases[i].column, cases[i].words);
        char col[32];
        snprintf(col, sizeof col, "column %d", cases[i].column);
        assert_non_null(strstr(err.msg, col));
    }
}

/* The first UTC minute after `after` whose fields are in the sets:
 * minute by minute, the obvious way. */
static int64_t brute_next(const int *sets[5], const int lens[5], int either, int64_t after)
{
    for (int64_t t = after - after % 60 + 60; t < after + 3LL * 366 * 86400; t += 60) {
        time_t tt = (time_t)t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        int have[5] = {tm.tm_min, tm.tm_hour, tm.tm_mday, tm.tm_mon + 1, tm.tm_wday};
        int in[5];
        for (int f = 0; f < 5; f++) {
            in[f] = lens[f] == 0; /* empty: "*" */
            for (int i = 0; i < lens[f]; i++)
                if (sets[f][i] == have[f] || (f == 4 && sets[f][i] == 7 && have[f] == 0))
                    in[f] = 1;
        }
        int day = either ? in[2] || in[4] : in[2] && in[4];
        if (in[0] && in[1] && in[3] && day)
            return t;
    }
    return -1;
}

static void test_next_against_brute_force(void **state)
{
    (void)state;
    static const int lo[5] = {0, 0, 1, 1, 0}, hi[5] = {59, 23, 31, 12, 7};
    srand(1234);
    for (int round = 0; round < 300; round++) {
        int vals[5][6], lens[5];
        const int *sets[5];
        char text[256] = "";
        for (int f = 0; f < 5; f++) {
            lens[f] = rand() % 3 == 0 ? 0 : 1 + rand() % (f == 2 ? 2 : 4);
            sets[f] = vals[f];
            if (lens[f] == 0) {
                strcat(text, "*");
            }
            for (int i = 0; i < lens[f]; i++) {
                vals[f][i] = lo[f] + rand() % (hi[f] - lo[f] + 1);
                char num[16];
                snprintf(num, sizeof num, "%s%d", i ? "," : "", vals[f][i]);
                strcat(text, num);
            }
            strcat(text, f < 4 ? " " : "");
        }
        mr_cron c = parse_ok(text);
        int either = lens[2] > 0 && lens[4] > 0;
        int64_t after = utc(2026, 1 + rand() % 12, 1 + rand() % 28, rand() % 24, rand() % 60) +
                        rand() % 60;
        for (int step = 0; step < 3; step++) {
            int64_t want = brute_next(sets, lens, either, after);
            int64_t got = mr_cron_next(&c, NULL, after);
            if (got != want)
                fail_msg("'%s' after %lld: got %lld, want %lld", text, (long long)after,
                         (long long)got, (long long)want);
            if (got < 0)
                break;
            after = got;
        }
    }
}

static void test_next_in_utc(void **state)
{
    (void)state;
    mr_cron c = parse_ok("*/15 * * * *");
    assert_true(mr_cron_next(&c, NULL, utc(2026, 3, 1, 10, 0)) == utc(2026, 3, 1, 10, 15));
    assert_true(mr_cron_next(&c, NULL, utc(2026, 3, 1, 10, 14) + 59) == utc(2026, 3, 1, 10, 15));
    assert_true(mr_cron_next(&c, NULL, utc(2026, 12, 31, 23, 50)) == utc(2027, 1, 1, 0, 0));
    c = parse_ok("0 0 29 2 *"); /* leap days */
    assert_true(mr_cron_next(&c, NULL, utc(2026, 1, 1, 0, 0)) == utc(2028, 2, 29, 0, 0));
    c = parse_ok("0 0 30 2 *");
    assert_true(mr_cron_next(&c, NULL, utc(2026, 1, 1, 0, 0)) == -1);
    c = parse_ok("0 12 13 * FRI"); /* the 13th or a Friday */
    assert_true(mr_cron_next(&c, NULL, utc(2026, 2, 10, 0, 0)) == utc(2026, 2, 13, 12, 0));
    assert_true(mr_cron_next(&c, NULL, utc(2026, 2, 13, 12, 0)) == utc(2026, 2, 20, 12, 0));
}

static void test_next_across_dst(void **state)
{
    (void)state;
    mr_tz *paris = load("Europe/Paris"), *ny = load("America/New_York");
    /* Paris springs forward 2026-03-29 02:00 CET -> 03:00 CEST (01:00 UTC) */
    mr_cron c = parse_ok("30 2 * * *");
    assert_true(mr_cron_next(&c, paris, utc(2026, 3, 28, 12, 0)) == utc(2026, 3, 29, 1, 30));
    assert_true(mr_cron_next(&c, paris, utc(2026, 3, 29, 1, 30)) == utc(2026, 3, 30, 0, 30));
    /* hourly at :30 through the skipped hour: 01:30, (02:30 = 03:30), 04:30 */
    c = parse_ok("30 * * * *");
    int64_t t = mr_cron_next(&c, paris, utc(2026, 3, 29, 0, 0));
    assert_true(t == utc(2026, 3, 29, 0, 30)); /* 01:30 CET */
    t = mr_cron_next(&c, paris, t);
    assert_true(t == utc(2026, 3, 29, 1, 30)); /* 03:30 CEST, once */
    t = mr_cron_next(&c, paris, t);
    assert_true(t == utc(2026, 3, 29, 2, 30)); /* 04:30 CEST */
    /* Paris falls back 2026-10-25 03:00 CEST -> 02:00 CET (01:00 UTC):
     * 02:30 happens twice and runs once, at its second (standard) time */
    c = parse_ok("30 2 * * *");
    assert_true(mr_cron_next(&c, paris, utc(2026, 10, 24, 12, 0)) == utc(2026, 10, 25, 1, 30));
    assert_true(mr_cron_next(&c, paris, utc(2026, 10, 25, 1, 30)) == utc(2026, 10, 26, 1, 30));
    /* midnight every day in New York, across its spring change */
    c = parse_ok("0 0 * * *");
    assert_true(mr_cron_next(&c, ny, utc(2026, 3, 7, 12, 0)) == utc(2026, 3, 8, 5, 0));
    assert_true(mr_cron_next(&c, ny, utc(2026, 3, 8, 5, 0)) == utc(2026, 3, 9, 4, 0));
    /* a zone's answer for ordinary days: the UTC answer shifted */
    c = parse_ok("15 9 * * MON-FRI");
    assert_true(mr_cron_next(&c, paris, utc(2026, 7, 3, 12, 0)) == utc(2026, 7, 6, 7, 15));
    mr_tz_free(paris);
    mr_tz_free(ny);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_syntax),
        cmocka_unit_test(test_bad_expressions),
        cmocka_unit_test(test_next_against_brute_force),
        cmocka_unit_test(test_next_in_utc),
        cmocka_unit_test(test_next_across_dst),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
