/* test_dsn.c - warehouse DSNs without, and with, their secrets.
 *
 * The task-spec form keeps everything but the password (both key=value and
 * URI input, values with quotes and backslashes survive libpq's parser);
 * an executor adds its own password only for the same host, port,
 * database and user; an unparsable DSN is an error that never quotes it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "warehouse/warehouse.h"

/* The value of keyword in dsn as libpq reads it ("" when absent). */
static char *val(const char *dsn, const char *keyword)
{
    PQconninfoOption *o = PQconninfoParse(dsn, NULL);
    assert_non_null(o);
    char *v = strdup("");
    for (PQconninfoOption *p = o; p->keyword; p++)
        if (strcmp(p->keyword, keyword) == 0 && p->val) {
            free(v);
            v = strdup(p->val);
        }
    PQconninfoFree(o);
    return v;
}

static void expect_val(const char *dsn, const char *keyword, const char *want)
{
    char *v = val(dsn, keyword);
    assert_string_equal(v, want);
    free(v);
}

static void test_public_drops_secrets(void **state)
{
    (void)state;
    mr_err err;
    char *out = NULL;
    assert_int_equal(mr_wh_dsn_public("host=db port=5432 dbname=wh user=u password=s3cret "
                                      "sslpassword=k3y application_name='it\\'s \\\\ x'",
                                      &out, &err),
                     0);
    assert_null(strstr(out, "s3cret"));
    assert_null(strstr(out, "k3y"));
    expect_val(out, "host", "db");
    expect_val(out, "port", "5432");
    expect_val(out, "dbname", "wh");
    expect_val(out, "user", "u");
    expect_val(out, "password", "");
    expect_val(out, "application_name", "it's \\ x");
    free(out);
    assert_int_equal(mr_wh_dsn_public("postgresql://u:s3cret@db:5433/wh", &out, &err), 0);
    assert_null(strstr(out, "s3cret"));
    expect_val(out, "port", "5433");
    expect_val(out, "user", "u");
    free(out);
    assert_int_equal(mr_wh_dsn_public("host=db password='unterminated", &out, &err), MR_EINVAL);
    assert_null(out);
    assert_null(strstr(err.msg, "unterminated"));
}

static void test_with_secret_only_for_the_same_server(void **state)
{
    (void)state;
    mr_err err;
    char *out = NULL;
    const char *own = "host=db port=5432 dbname=wh user=u password=mine";
    /* the job's DSN arrives without a password; the same server gets ours */
    assert_int_equal(
        mr_wh_dsn_with_secret("host='db' port='5432' dbname='wh' user='u'", own, &out, &err), 0);
    expect_val(out, "password", "mine");
    free(out);
    /* another server, database or user never does */
    const char *others[] = {"host=evil port=5432 dbname=wh user=u",
                            "host=db port=5432 dbname=other user=u",
                            "host=db port=5432 dbname=wh user=admin",
                            "host=db port=6543 dbname=wh user=u"};
    for (size_t i = 0; i < sizeof others / sizeof *others; i++) {
        assert_int_equal(mr_wh_dsn_with_secret(others[i], own, &out, &err), 0);
        assert_null(strstr(out, "mine"));
        free(out);
    }
    /* nothing of our own: the job's DSN as it is (and never its password) */
    assert_int_equal(mr_wh_dsn_with_secret("host=db password=theirs", NULL, &out, &err), 0);
    expect_val(out, "host", "db");
    expect_val(out, "password", "");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_public_drops_secrets),
        cmocka_unit_test(test_with_secret_only_for_the_same_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
