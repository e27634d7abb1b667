/* test_redact.c - unit tests of what a DAG may read from the environment and
 * of masking: secrets, DSN passwords, secret-looking params, plans, the
 * node bound and the compile deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dag/dag.h"

static const char *test_env(const char *name)
{
    if (strcmp(name, "MILLRACE_DAG_TABLE") == 0)
        return "orders_2024";
    if (strcmp(name, "APP_SECRET") == 0)
        return "hunter2-the-secret";
    if (strcmp(name, "MILLRACE_DAG_ONE") == 0)
        return "1";
    return NULL;
}

static char *redact(const char *text, const mr_dag_secrets *s)
{
    char *r = mr_redact(text, s);
    assert_non_null(r);
    return r;
}

static void expect(const char *text, const mr_dag_secrets *s, const char *want)
{
    char *r = redact(text, s);
    assert_string_equal(r, want);
    free(r);
}

static void test_dsn_passwords(void **state)
{
    (void)state;
    expect("host=h user=u password=pw dbname=d", NULL, "host=h user=u password=*** dbname=d");
    expect("password = 'a b\\' c' host=h", NULL, "password = *** host=h");
    expect("PASSWORD=x;Host=y", NULL, "PASSWORD=***;Host=y");
    expect("postgresql://u:p%40ss@h:5432/db?sslmode=require", NULL,
           "postgresql://u:***@h:5432/db?sslmode=require");
    expect("see postgres://user@h/db and http://h/x", NULL,
           "see postgres://user@h/db and http://h/x");
    expect("no secrets here", NULL, "no secrets here");
    expect("", NULL, "");
    assert_true(mr_param_is_secret("db_DSN", NULL));
    assert_true(mr_param_is_secret("ApiToken", "x"));
    assert_true(mr_param_is_secret("note", "host=h password=x"));
    assert_true(mr_param_is_secret("url", "postgresql://a:b@h/d"));
    assert_false(mr_param_is_secret("data", "data/tickit"));
    assert_false(mr_param_is_secret("url", "postgresql://a@h/d"));
}

static void test_secrets(void **state)
{
    (void)state;
    mr_dag_secrets s = {0};
    assert_int_equal(mr_dag_secrets_add(&s, "hunter2-the-secret"), 0);
    assert_int_equal(mr_dag_secrets_add(&s, "hunter2"), 0);
    assert_int_equal(mr_dag_secrets_add(&s, "hunter2"), 0); /* once */
    assert_int_equal(mr_dag_secrets_add(&s, "7"), 0);
    assert_int_equal(mr_dag_secrets_add(&s, ""), 0);        /* ignored */
    assert_int_equal(s.n, 3);
    /* the longest first, so the longer one goes whole */
    expect("a hunter2-the-secret b hunter2 c", &s, "a *** b *** c");
    /* short values only as a whole string */
    expect("7", &s, "***");
    expect("partitions 7", &s, "partitions 7");
    char *r = mr_redact_fragments("unexpected 'the-secret_x'", &s, &s);
    assert_string_equal(r, "unexpected '***_x'");
    free(r);
    mr_dag_secrets_free(&s);
    assert_int_equal(s.n, 0);
    mr_dag_secrets_free(NULL);
}

static const char *const dag_text =
    "version: 1\n"
    "name: t\n"
    "warehouse: {driver: postgres, dsn: \"host=h password=${env:APP_SECRET}\"}\n"
    "nodes:\n"
    "  r: {op: read, format: csv, path: in.csv, schema: {a: int64}}\n"
    "  d:\n"
    "    op: derive\n"
    "    input: r\n"
    "    columns: {t: \"'${env:MILLRACE_DAG_TABLE}'\", one: \"${env:MILLRACE_DAG_ONE}\"}\n"
    "  w: {op: write, input: d, to: warehouse, table: x}\n";

static void test_env_allowlist(void **state)
{
    (void)state;
    Millrace__JobPlan *plan = NULL;
    mr_diags d = {0};
    /* By default only MILLRACE_DAG_*: APP_SECRET is an error at its '$'. */
    mr_dag_options opt = {.getenv = test_env};
    assert_int_equal(mr_dag_compile(dag_text, strlen(dag_text), &opt, &plan, &d), MR_EINVAL);
    assert_null(plan);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.items[0].line, 3);
    assert_int_equal(d.items[0].column, 53);
    assert_non_null(strstr(d.items[0].message, "'APP_SECRET' is not allowed"));
    assert_non_null(strstr(d.items[0].message, "MILLRACE_DAG_*"));
    assert_non_null(strstr(d.items[0].message, "--allow-env"));
    mr_diags_free(&d);

    /* Allowed by a pattern: compiles; the plan runs with the real values,
     * and a redacted copy shows none of them. */
    static const char *const allow[] = {"APP_*", "MILLRACE_DAG_*"};
    mr_dag_secrets s = {0};
    mr_dag_options ok = {.getenv = test_env, .allow_env = allow, .nallow_env = 2, .secrets = &s};
    assert_int_equal(mr_dag_compile(dag_text, strlen(dag_text), &ok, &plan, &d), 0);
    assert_int_equal(s.n, 3);
    assert_string_equal(plan->warehouse->dsn, "host=h password=hunter2-the-secret");
    assert_int_equal(mr_plan_redact(plan, &s), 0);
    assert_string_equal(plan->warehouse->dsn, "host=h password=***");
    char *json = mr_plan_json(plan);
    assert_non_null(json);
    assert_null(strstr(json, "orders_2024"));
    assert_null(strstr(json, "hunter2"));
    assert_non_null(strstr(json, "'***'"));
    free(json);
    millrace__job_plan__free_unpacked(plan, NULL);
    mr_dag_secrets_free(&s);

    /* An error quoting a substituted value shows it masked. */
    const char *bad = "version: 1\nname: t\nnodes:\n"
                      "  r: {op: read, format: csv, path: in.csv, schema: {a: int64}}\n"
                      "  f: {op: filter, input: r, where: \"a > ${env:MILLRACE_DAG_TABLE}\"}\n"
                      "  w: {op: write, input: f, to: warehouse, table: x}\n";
    assert_int_equal(mr_dag_compile(bad, strlen(bad), &ok, &plan, &d), MR_EINVAL);
    assert_int_equal(d.n, 1);
    assert_null(strstr(d.items[0].message, "orders_2024"));
    assert_non_null(strstr(d.items[0].message, "***"));
    mr_diags_free(&d);
    mr_dag_secrets_free(&s); /* the caller's, filled on failure too */
}

static void test_bounds(void **state)
{
    (void)state;
    Millrace__JobPlan *plan = NULL;
    mr_diags d = {0};
    const char *three = "version: 1\nname: t\nnodes:\n"
                        "  r: {op: read, format: csv, path: in.csv, schema: {a: int64}}\n"
                        "  f: {op: filter, input: r, where: a > 1}\n"
                        "  w: {op: write, input: f, to: warehouse, table: x}\n";
    mr_dag_options two = {.max_nodes = 2};
    assert_int_equal(mr_dag_compile(three, strlen(three), &two, &plan, &d), MR_EINVAL);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.items[0].line, 3);
    assert_string_equal(d.items[0].message, "the DAG has 3 nodes, over the limit of 2 (the "
                                            "coordinator's --max-nodes)");
    mr_diags_free(&d);
    mr_dag_options three_ok = {.max_nodes = 3};
    assert_int_equal(mr_dag_compile(three, strlen(three), &three_ok, &plan, &d), 0);
    millrace__job_plan__free_unpacked(plan, NULL);

    /* Duplicate node ids among many: each repeat reported once, at the repeat. */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    fprintf(f, "version: 1\nname: t\nnodes:\n  n0: {op: read, format: csv, path: in.csv, "
               "schema: {a: int64}}\n");
    for (int i = 1; i < 3000; i++)
        fprintf(f, "  n%d: {op: filter, input: n%d, where: a > 0}\n", i, i - 1);
    fprintf(f, "  n5: {op: filter, input: n2999, where: a > 0}\n"
               "  w: {op: write, input: n2999, to: warehouse, table: x}\n");
    fclose(f);
    assert_int_equal(mr_dag_compile(text, len, NULL, &plan, &d), MR_EINVAL);
    assert_int_equal(d.n, 1); /* the duplicate only, not also "feeds nothing" */
    assert_int_equal(d.items[0].line, 3004);
    assert_string_equal(d.items[0].message, "duplicate key 'n5' (first at line 9)");
    mr_diags_free(&d);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dsn_passwords),
        cmocka_unit_test(test_secrets),
        cmocka_unit_test(test_env_allowlist),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
