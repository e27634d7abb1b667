/* test_time.c - time zones (core/tz.c) and the text forms of timestamptz
 * and interval (core/text.c): known offsets of real zones on both sides of
 * their daylight-saving changes and past their last transition (the POSIX
 * rule), local times skipped and repeated, names that must not load, every
 * truncation of a real zone file, and threads reading shared zones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include <cmocka.h>

#include "core/tz.h"
#include "core/types.h"

static int64_t utc(int y, int mo, int d, int h, int mi)
{
    return (int64_t)mr_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60;
}

static mr_tz *load(const char *name)
{
    mr_tz *z = NULL;
    mr_err err;
    int rc = mr_tz_load(NULL, name, strlen(name), &z, &err);
    if (rc != 0)
        fail_msg("%s: %s", name, err.msg);
    return z;
}

static void test_offsets_of_real_zones(void **state)
{
    (void)state;
    static const struct {
        const char *zone;
        int y, mo, d, h, mi;
        int32_t off;
    } cases[] = {
        {"Europe/Paris", 2024, 1, 15, 12, 0, 3600},
        {"Europe/Paris", 2024, 7, 1, 12, 0, 7200},
        {"Europe/Paris", 2024, 3, 31, 0, 59, 3600}, /* change at 01:00 UTC */
        {"Europe/Paris", 2024, 3, 31, 1, 0, 7200},
        {"Europe/Paris", 2024, 10, 27, 0, 59, 7200},
        {"Europe/Paris", 2024, 10, 27, 1, 0, 3600},
        {"Europe/Paris", 2100, 7, 1, 12, 0, 7200}, /* past the table: the rule */
        {"Europe/Paris", 2100, 12, 1, 12, 0, 3600},
        {"Europe/Paris", 1850, 1, 1, 0, 0, 561},   /* local mean time */
        {"America/New_York", 2024, 3, 10, 6, 59, -18000},
        {"America/New_York", 2024, 3, 10, 7, 0, -14400},
        {"America/New_York", 2200, 7, 4, 0, 0, -14400},
        {"Australia/Sydney", 2024, 1, 1, 0, 0, 39600}, /* southern summer */
        {"Australia/Sydney", 2024, 7, 1, 0, 0, 36000},
        {"Australia/Sydney", 2100, 1, 1, 0, 0, 39600},
        {"Australia/Sydney", 2100, 6, 30, 0, 0, 36000},
        {"Asia/Kolkata", 2024, 6, 1, 0, 0, 19800},
        {"Asia/Kathmandu", 2024, 6, 1, 0, 0, 20700},
        {"Pacific/Chatham", 2024, 1, 1, 0, 0, 49500},
        {"UTC", 2024, 6, 1, 0, 0, 0},
        {"utc", 2024, 6, 1, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mr_tz *z = load(cases[i].zone);
        int32_t got = mr_tz_offset_at(z, utc(cases[i].y, cases[i].mo, cases[i].d, cases[i].h,
                                             cases[i].mi));
        if (got != cases[i].off)
            fail_msg("%s %d-%d-%d %d:%d: offset %d, want %d", cases[i].zone, cases[i].y,
                     cases[i].mo, cases[i].d, cases[i].h, cases[i].mi, got, cases[i].off);
        mr_tz_free(z);
    }
}

static void test_local_times_skipped_and_repeated(void **state)
{
    (void)state;
    mr_tz *paris = load("Europe/Paris"), *ny = load("America/New_York");
    /* 02:30 does not exist on 2024-03-31 in Paris: the offset before the
     * change (+1), so it reads as 01:30 UTC = 03:30 summer time */
    assert_int_equal(mr_tz_offset_local(paris, utc(2024, 3, 31, 2, 30)), 3600);
    /* 02:30 happens twice on 2024-10-27: standard time, the later one */
    assert_int_equal(mr_tz_offset_local(paris, utc(2024, 10, 27, 2, 30)), 3600);
    assert_int_equal(mr_tz_offset_local(paris, utc(2024, 10, 27, 1, 59)), 7200);
    assert_int_equal(mr_tz_offset_local(paris, utc(2024, 10, 27, 3, 0)), 3600);
    assert_int_equal(mr_tz_offset_local(ny, utc(2024, 3, 10, 2, 30)), -18000);
    assert_int_equal(mr_tz_offset_local(ny, utc(2024, 11, 3, 1, 30)), -18000);
    assert_int_equal(mr_tz_offset_local(ny, utc(2024, 7, 1, 12, 0)), -14400);
    mr_tz_free(paris);
    mr_tz_free(ny);
    mr_tz_free(NULL);
}

static void test_names_that_do_not_load(void **state)
{
    (void)state;
    const char *bad[] = {"", "Nope/Zone", "../../etc/passwd", "/etc/passwd", "Europe/../UTC",
                         "Europe/./Paris", "Europe/Paris\n", "Europe", "a b", ".hidden"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mr_tz *z = (mr_tz *)1;
        mr_err err;
        int rc = mr_tz_load(NULL, bad[i], strlen(bad[i]), &z, &err);
        if (rc != MR_ENOTFOUND)
            fail_msg("'%s': rc %d", bad[i], rc);
        assert_null(z);
        assert_non_null(strstr(err.msg, "not recognized"));
    }
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char *buf = malloc(1 << 16);
    assert_non_null(buf);
    *len = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

static void test_truncated_and_damaged_files(void **state)
{
    (void)state;
    size_t len;
    unsigned char *buf = slurp("/usr/share/zoneinfo/Europe/Paris", &len);
    mr_tz *z;
    mr_err err;
    assert_int_equal(mr_tz_parse(buf, len, &z, &err), 0);
    assert_int_equal(mr_tz_offset_at(z, utc(2030, 7, 1, 0, 0)), 7200);
    mr_tz_free(z);
    /* every prefix either parses or is refused, never read past */
    for (size_t n = 0; n < len; n++) {
        unsigned char *copy = malloc(n ? n : 1);
        memcpy(copy, buf, n);
        int rc = mr_tz_parse(copy, n, &z, &err);
        if (rc == 0)
            mr_tz_free(z);
        else
            assert_int_equal(rc, MR_EPARSE);
        free(copy);
    }
    /* a damaged footer rule is refused */
    unsigned char *bad = malloc(len);
    memcpy(bad, buf, len);
    bad[len - 5] = '!';
    assert_int_equal(mr_tz_parse(bad, len, &z, &err), MR_EPARSE);
    free(bad);
    free(buf);
}

typedef struct worker {
    mr_tz *zone;
    int64_t sum;
} worker;

static void *work(void *p)
{
    worker *w = p;
    for (int64_t t = utc(1990, 1, 1, 0, 0); t < utc(2090, 1, 1, 0, 0); t += 86400 * 7 + 3600)
        w->sum += mr_tz_offset_at(w->zone, t) + mr_tz_offset_local(w->zone, t);
    return NULL;
}

static void test_zones_shared_between_threads(void **state)
{
    (void)state;
    mr_tz *z = load("Australia/Sydney");
    worker solo = {z, 0};
    work(&solo);
    worker w[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){z, 0};
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_true(w[i].sum == solo.sum);
    }
    mr_tz_free(z);
}

static void test_timestamptz_text(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *out; /* NULL: refused */
    } cases[] = {
        {"2024-03-10 12:00:00+02", "2024-03-10 10:00:00+00:00"},
        {"2024-03-10 12:00:00+02:30", "2024-03-10 09:30:00+00:00"},
        {"2024-03-10 12:00:00-0230", "2024-03-10 14:30:00+00:00"},
        {"2024-03-10T12:00:00Z", "2024-03-10 12:00:00+00:00"},
        {"2024-03-10 12:00:00.123456 +01", "2024-03-10 11:00:00.123456+00:00"},
        {"2024-03-10 12:00", "2024-03-10 12:00:00+00:00"},
        {"2024-03-10", "2024-03-10 00:00:00+00:00"},
        {"2024-01-01 00:30:00+01", "2023-12-31 23:30:00+00:00"},
        {"2024-02-29 23:00:00-15:59", "2024-03-01 14:59:00+00:00"},
        {"2024-03-10 12:00:00+16", NULL},
        {"2024-03-10 12:00:00+1", NULL},
        {"2024-03-10 12:00:00+02:3", NULL},
        {"2024-03-10 12:00:00+02:60", NULL},
        {"2024-03-10 12:00:00 Z", "2024-03-10 12:00:00+00:00"},
        {"2023-02-29 12:00:00+00", NULL},
        {"2024-03-10 12:00:00+", NULL},
        {"Z", NULL},
        {"", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t v;
        mr_err err;
        int rc = mr_parse_timestamptz(cases[i].in, strlen(cases[i].in), &v, NULL, &err);
        if (!cases[i].out) {
            if (rc != MR_EPARSE)
                fail_msg("'%s' was accepted", cases[i].in);
            continue;
        }
        if (rc != 0)
            fail_msg("'%s': %s", cases[i].in, err.msg);
        char buf[48];
        mr_format_timestamptz(v, buf, sizeof buf);
        assert_string_equal(buf, cases[i].out);
    }
}

static void test_interval_text(void **state)
{
    (void)state;
    /* outputs as PostgreSQL prints them */
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"1 day 2 hours", "1 day 02:00:00"},
        {"-1 day +2 hours", "-1 days +02:00:00"},
        {"1 year -2 mons 3 days -04:05:06.5", "10 mons 3 days -04:05:06.5"},
        {"1.5 years", "1 year 6 mons"},
        {"1.5 months", "1 mon 15 days"},
        {"1.25 days", "1 day 06:00:00"},
        {"@ 3 days ago", "-3 days"},
        {"01:02:03", "01:02:03"},
        {"-01:30", "-01:30:00"},
        {"100:00:00", "100:00:00"},
        {"0 seconds", "00:00:00"},
        {"5", "00:00:05"},
        {"2 weeks", "14 days"},
        {"1 century 1 millennium", "1100 years"},
        {"-1 year -1 day", "-1 years -1 days"},
        {"0.000001 s", "00:00:00.000001"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mr_interval v;
        mr_err err;
        if (mr_parse_interval(cases[i].in, strlen(cases[i].in), &v, &err) != 0)
            fail_msg("'%s': %s", cases[i].in, err.msg);
        char buf[128];
        mr_format_interval(&v, buf, sizeof buf);
        if (strcmp(buf, cases[i].out) != 0)
            fail_msg("'%s' printed '%s', want '%s'", cases[i].in, buf, cases[i].out);
        /* what is printed reads back to the same interval */
        mr_interval back;
        assert_int_equal(mr_parse_interval(buf, strlen(buf), &back, &err), 0);
        assert_true(back.months == v.months && back.days == v.days && back.micros == v.micros);
    }
    const char *bad[] = {"", "day", "1 fortnight", "1 day ago 2 hours", "1..5 days", "1:2:3:4",
                         "01:61", "1e5 days", "99999999999999999999 years", "- 1 day",
                         "1000000000:00:00"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mr_interval v;
        mr_err err;
        if (mr_parse_interval(bad[i], strlen(bad[i]), &v, &err) != MR_EPARSE)
            fail_msg("'%s' was accepted", bad[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offsets_of_real_zones),
        cmocka_unit_test(test_local_times_skipped_and_repeated),
        cmocka_unit_test(test_names_that_do_not_load),
        cmocka_unit_test(test_truncated_and_damaged_files),
        cmocka_unit_test(test_zones_shared_between_threads),
        cmocka_unit_test(test_timestamptz_text),
        cmocka_unit_test(test_interval_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
