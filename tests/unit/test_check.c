/* test_check.c - the check operator: per-rule counts, samples, the rows
 * each action keeps, rejected rows, unique across batches with NULL keys,
 * aggregate rules over a final aggregate's row, and bad rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/op.h"
#include "core/op/check.h"
#include "core/op/source.h"
#include "testutil.h"

static mr_schema *schema3(void)
{
    const char *names[] = {"id", "amount", "name"};
    const mr_type types[] = {mr_type_make(MR_T_INT64), mr_type_make(MR_T_INT64),
                             mr_type_make(MR_T_STRING)};
    return tu_schema(3, names, types);
}

/* Two batches: ids repeat across them (2 twice, 3 three times), a NULL
 * id twice, a negative amount, a NULL amount, a name with a quote. */
static mr_op *input(void)
{
    mr_schema *s = schema3();
    mr_batch *a = mr_batch_create(s, 8), *b = mr_batch_create(s, 8);
    tu_add_row(a, "1|10|ann");
    tu_add_row(a, "2|-5|bo\"b");
    tu_add_row(a, "3|7|cy");
    tu_add_row(a, "NULL|3|dee");
    tu_add_row(b, "2|4|eve");
    tu_add_row(b, "3|NULL|fay");
    tu_add_row(b, "3|1|gus");
    tu_add_row(b, "NULL|2|hal");
    mr_batch *bs[] = {a, b};
    mr_op *op = tu_source_batches(s, bs, 2, NULL);
    mr_schema_destroy(s);
    return op;
}

static uint64_t drain(mr_op *op, tu_lines *rows)
{
    mr_err err = {0};
    assert_int_equal(mr_op_open(op, NULL, &err), 0);
    mr_batch *b;
    int rc;
    uint64_t n = 0;
    while ((rc = mr_op_next(op, &b, &err)) == MR_NEXT_BATCH) {
        n += mr_batch_live(b);
        if (rows)
            tu_lines_add_batch(rows, b);
    }
    assert_int_equal(rc, MR_NEXT_DONE);
    return n;
}

static void test_actions_and_counts(void **state)
{
    (void)state;
    mr_err err = {0};
    const char *key[] = {"id"};
    const mr_check_rule rules[] = {
        {"positive", MR_CHECK_EXPECT, MR_CHECK_REJECT, "amount > 0", NULL, 0},
        {"short", MR_CHECK_EXPECT, MR_CHECK_WARN, "length(name) <= 3", NULL, 0},
        {"ids", MR_CHECK_UNIQUE, MR_CHECK_WARN, NULL, key, 1},
        {"rows", MR_CHECK_ROW_COUNT, MR_CHECK_FAIL, NULL, NULL, 0},
    };
    mr_op *op = mr_check_create(input(), rules, 4, "q", &err);
    assert_non_null(op);
    assert_true(mr_check_is(op));
    tu_lines rows = {0};
    /* -5 and NULL amounts fail "positive" and are rejected; the rest pass */
    assert_int_equal(drain(op, &rows), 6);
    const mr_check_result *r;
    int n;
    mr_check_results(op, &r, &n);
    assert_int_equal(n, 4);
    assert_string_equal(r[0].rule, "positive");
    assert_int_equal(r[0].rows_checked, 8);
    assert_int_equal(r[0].rows_failed, 2);
    assert_int_equal(r[0].nsamples, 2);
    assert_string_equal(r[0].samples[0], "{\"id\": 2, \"amount\": -5, \"name\": \"bo\\\"b\"}");
    assert_string_equal(r[0].samples[1], "{\"id\": 3, \"amount\": null, \"name\": \"fay\"}");
    /* "bo\"b" is 4 characters; a warned row stays */
    assert_int_equal(r[1].rows_failed, 1);
    /* ids 2 (x2) and 3 (x3) are duplicated; NULL ids are not */
    assert_int_equal(r[2].rows_checked, 8);
    assert_int_equal(r[2].rows_failed, 5);
    assert_int_equal(r[2].nsamples, 2);
    assert_string_equal(r[2].samples[0], "{\"id\": 2, \"rows\": 2}");
    assert_string_equal(r[2].samples[1], "{\"id\": 3, \"rows\": 3}");
    assert_int_equal(r[3].rows_checked, 8);
    assert_int_equal(r[3].rows_failed, 0);
    const mr_reject *rj;
    size_t nrj;
    mr_check_rejects(op, &rj, &nrj);
    assert_int_equal(nrj, 2);
    assert_string_equal(rj[0].reason, "positive");
    assert_string_equal(rj[1].raw, "{\"id\": 3, \"amount\": null, \"name\": \"fay\"}");
    tu_lines_sort(&rows);
    assert_string_equal(rows.v[0], "1|10|ann");
    tu_lines_free(&rows);
    mr_op_close(op);
}

/* fail drops the failing rows as reject does, but keeps no reject. */
static void test_fail_drops_without_rejects(void **state)
{
    (void)state;
    mr_err err = {0};
    const mr_check_rule rules[] = {
        {"has_id", MR_CHECK_EXPECT, MR_CHECK_FAIL, "id IS NOT NULL", NULL, 0},
    };
    mr_op *op = mr_check_create(input(), rules, 1, "q", &err);
    assert_non_null(op);
    assert_int_equal(drain(op, NULL), 6);
    const mr_check_result *r;
    int n;
    mr_check_results(op, &r, &n);
    assert_int_equal(r[0].rows_failed, 2);
    const mr_reject *rj;
    size_t nrj;
    mr_check_rejects(op, &rj, &nrj);
    assert_int_equal(nrj, 0);
    mr_op_close(op);
}

/* An aggregate rule reads the final aggregate's row, its rows from count(*). */
static void test_aggregate_row(void **state)
{
    (void)state;
    const char *names[] = {"avg(amount)", "count(*)"};
    const mr_type types[] = {mr_type_make(MR_T_FLOAT64), mr_type_make(MR_T_INT64)};
    mr_schema *s = tu_schema(2, names, types);
    for (int pass = 0; pass < 2; pass++) {
        mr_batch *b = mr_batch_create(s, 1);
        tu_add_row(b, pass ? "2.5|40" : "12.5|40");
        mr_batch *bs[] = {b};
        mr_err err = {0};
        const mr_check_rule rules[] = {
            {"avg", MR_CHECK_AGGREGATE, MR_CHECK_WARN, "\"avg(amount)\" BETWEEN 10 AND 20", NULL, 0},
        };
        mr_op *op = mr_check_create(tu_source_batches(s, bs, 1, NULL), rules, 1, "q", &err);
        assert_non_null(op);
        drain(op, NULL);
        const mr_check_result *r;
        int n;
        mr_check_results(op, &r, &n);
        assert_int_equal(r[0].rows_checked, 40);
        assert_int_equal(r[0].rows_failed, pass ? 40 : 0);
        assert_int_equal(r[0].nsamples, pass ? 1 : 0);
        if (pass)
            assert_string_equal(r[0].samples[0], "{\"avg(amount)\": 2.5, \"count(*)\": 40}");
        mr_op_close(op);
    }
    mr_schema_destroy(s);
}

/* A sample cuts long strings (between characters), a reject keeps them. */
static void test_long_values_cut_in_samples(void **state)
{
    (void)state;
    mr_schema *s = schema3();
    mr_batch *b = mr_batch_create(s, 1);
    char row[600] = "1|-1|";
    for (int i = 0; i < 199; i++)
        strcat(row, "x");
    strcat(row, "\xc3\xa9yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"); /* é across byte 200 */
    tu_add_row(b, row);
    mr_batch *bs[] = {b};
    mr_err err = {0};
    const mr_check_rule rules[] = {{"pos", MR_CHECK_EXPECT, MR_CHECK_REJECT, "amount > 0", NULL, 0}};
    mr_op *op = mr_check_create(tu_source_batches(s, bs, 1, NULL), rules, 1, "q", &err);
    assert_non_null(op);
    assert_int_equal(drain(op, NULL), 0);
    const mr_check_result *r;
    int n;
    mr_check_results(op, &r, &n);
    char want[400] = "{\"id\": 1, \"amount\": -1, \"name\": \"";
    for (int i = 0; i < 199; i++)
        strcat(want, "x");
    strcat(want, "...\"}");
    assert_string_equal(r[0].samples[0], want);
    const mr_reject *rj;
    size_t nrj;
    mr_check_rejects(op, &rj, &nrj);
    assert_int_equal(nrj, 1);
    assert_non_null(strstr(rj[0].raw, "\xc3\xa9yyyy"));
    mr_op_close(op);
    mr_schema_destroy(s);
}

static void test_bad_rules(void **state)
{
    (void)state;
    const char *nokey[] = {"nope"};
    const mr_check_rule bad[][1] = {
        {{"r", MR_CHECK_EXPECT, MR_CHECK_FAIL, "amount +", NULL, 0}},
        {{"r", MR_CHECK_EXPECT, MR_CHECK_FAIL, "amount + 1", NULL, 0}},
        {{"r", MR_CHECK_EXPECT, MR_CHECK_FAIL, "amont > 1", NULL, 0}},
        {{"r", MR_CHECK_UNIQUE, MR_CHECK_FAIL, NULL, nokey, 1}},
        {{"r", MR_CHECK_UNIQUE, MR_CHECK_FAIL, NULL, NULL, 0}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        mr_err err = {0};
        assert_null(mr_check_create(input(), bad[i], 1, "q", &err));
        assert_true(err.code < 0);
        assert_non_null(strstr(err.msg, "check 'r'"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_actions_and_counts),
        cmocka_unit_test(test_fail_drops_without_rejects),
        cmocka_unit_test(test_aggregate_row),
        cmocka_unit_test(test_long_values_cut_in_samples),
        cmocka_unit_test(test_bad_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
