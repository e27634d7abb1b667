/* test_window.c - the window operator: every function and frame kind on
 * a small partitioned input (NULLs, ties, a single-row partition, a NULL
 * partition, a partition across batches), a large partition against a
 * direct computation, and the errors of its parser with their offsets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/op/source.h"
#include "core/op/window.h"
#include "testutil.h"

static mr_schema *schema(void)
{
    const char *names[] = {"g", "v", "x"};
    const mr_type types[] = {mr_type_make(MR_T_STRING), mr_type_make(MR_T_INT32),
                             mr_type_decimal(8, 2)};
    return tu_schema(3, names, types);
}

static void run(mr_op *op, tu_lines *out)
{
    mr_err err = {0};
    assert_int_equal(mr_op_open(op, NULL, &err), 0);
    mr_batch *b;
    int rc;
    while ((rc = mr_op_next(op, &b, &err)) == MR_NEXT_BATCH)
        tu_lines_add_batch(out, b);
    if (rc != MR_NEXT_DONE)
        fail_msg("%s", err.msg);
    mr_op_close(op);
}

static void test_functions(void **state)
{
    (void)state;
    mr_schema *s = schema();
    mr_batch *b1 = mr_batch_create(s, 8), *b2 = mr_batch_create(s, 8);
    /* sorted by g (NULLs last), then v (NULLs last); partition a spans both */
    tu_add_row(b1, "a|1|1.50");
    tu_add_row(b1, "a|2|NULL");
    tu_add_row(b1, "a|2|2.25");
    tu_add_row(b2, "a|NULL|1.00");
    tu_add_row(b2, "b|5|NULL");
    tu_add_row(b2, "NULL|7|3.00");
    mr_batch *bs[] = {b1, b2};
    mr_op *src = tu_source_batches(s, bs, 2, NULL);
    const char *part[] = {"g"}, *ord[] = {"v"};
    const char *names[] = {"rn", "rk", "dr", "pr", "cd", "nt", "lg", "ld", "fv", "lv",
                           "nv", "c", "s", "a", "mn", "mx"};
    const char *exprs[] = {
        "row_number()", "rank()", "dense_rank()", "percent_rank()", "cume_dist()",
        "ntile(3)", "lag(x, 1, 0)", "lead(v, 2)", "first_value(x)",
        "last_value(v) rows between current row and unbounded following",
        "nth_value(v, 2) ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING",
        "count(x)", "sum(x) rows between 1 preceding and 1 following", "avg(x)",
        "min(v) rows between 1 following and 2 following",
        "max(x) range between current row and unbounded following"};
    mr_err err = {0};
    mr_window_order order = {ord, NULL, 1};
    mr_op *w = mr_window_create(src, part, 1, &order, names, exprs, 16, "w", &err);
    if (!w)
        fail_msg("%s", err.msg);
    assert_int_equal(w->schema->nfields, 19);
    assert_int_equal(w->schema->fields[3].type.id, MR_T_INT64);
    assert_int_equal(w->schema->fields[6].type.id, MR_T_FLOAT64);
    assert_int_equal(w->schema->fields[8].type.id, MR_T_INT32);
    assert_int_equal(w->schema->fields[16].type.scale, 6);
    tu_lines out = {0};
    run(w, &out);
    static const char *want[] = {
        "a|1|1.50|1|1|1|0|0.25|1|0.00|2|1.50|NULL|2|1|1.50|1.500000|2|2.25",
        "a|2|NULL|2|2|2|0.3333333333|0.75|1|1.50|NULL|1.50|NULL|2|2|3.75|1.875000|2|2.25",
        "a|2|2.25|3|2|2|0.3333333333|0.75|2|NULL|NULL|1.50|NULL|2|2|3.25|1.875000|NULL|2.25",
        "a|NULL|1.00|4|4|3|1|1|3|2.25|NULL|1.50|NULL|2|3|3.25|1.583333|NULL|1.00",
        "b|5|NULL|1|1|1|0|1|1|0.00|NULL|NULL|5|NULL|0|NULL|NULL|NULL|NULL",
        "NULL|7|3.00|1|1|1|0|1|1|0.00|NULL|3.00|7|NULL|1|3.00|3.000000|NULL|3.00",
    };
    assert_int_equal(out.n, 6);
    for (size_t i = 0; i < out.n; i++)
        assert_string_equal(out.v[i], want[i]);
    tu_lines_free(&out);
    mr_schema_destroy(s);
}

/* One partition of 3 * MR_BATCH_ROWS + 5 rows with ties and NULLs: the
 * running and sliding results against a direct computation. */
static void test_large_partition(void **state)
{
    (void)state;
    const char *names[] = {"o", "v"};
    const mr_type types[] = {mr_type_make(MR_T_INT64), mr_type_make(MR_T_INT64)};
    mr_schema *s = tu_schema(2, names, types);
    enum { N = 3 * MR_BATCH_ROWS + 5 };
    int64_t *v = calloc(N, sizeof *v);
    int *nul = calloc(N, sizeof *nul);
    mr_batch *bs[4];
    for (int k = 0; k < 4; k++)
        bs[k] = mr_batch_create(s, MR_BATCH_ROWS);
    for (int i = 0; i < N; i++) {
        mr_batch *b = bs[i / MR_BATCH_ROWS];
        size_t r = b->nrows++;
        v[i] = (i * 7919) % 1000 - 500;
        nul[i] = i % 11 == 0;
        MR_COL_I64(&b->cols[0])[r] = i / 3; /* ties of three */
        mr_column_set_valid(&b->cols[0], r, true);
        MR_COL_I64(&b->cols[1])[r] = v[i];
        mr_column_set_valid(&b->cols[1], r, !nul[i]);
    }
    mr_op *src = tu_source_batches(s, bs, 4, NULL);
    const char *ord[] = {"o"};
    const char *wn[] = {"run", "mov", "mc", "mx", "rk"};
    const char *we[] = {"sum(v)", "sum(v) rows between 6 preceding and current row",
                        "count(v) rows 6 preceding", "max(v) rows between 3 preceding and 2 following",
                        "rank()"};
    mr_err err = {0};
    mr_window_order order = {ord, NULL, 1};
    mr_op *w = mr_window_create(src, NULL, 0, &order, wn, we, 5, "w", &err);
    assert_non_null(w);
    assert_int_equal(mr_op_open(w, NULL, &err), 0);
    mr_batch *b;
    int i = 0;
    while (mr_op_next(w, &b, &err) == MR_NEXT_BATCH)
        for (size_t r = 0; r < b->nrows; r++, i++) {
            int64_t run = 0, mov = 0, mc = 0, mx = INT64_MIN;
            for (int j = 0; j <= (i / 3) * 3 + 2 && j < N; j++)
                run += nul[j] ? 0 : v[j];
            for (int j = i - 6 < 0 ? 0 : i - 6; j <= i; j++) {
                mov += nul[j] ? 0 : v[j];
                mc += !nul[j];
            }
            for (int j = i - 3 < 0 ? 0 : i - 3; j <= i + 2 && j < N; j++)
                if (!nul[j] && v[j] > mx)
                    mx = v[j];
            assert_int_equal(MR_COL_I64(&b->cols[2])[r], run);
            assert_int_equal(MR_COL_I64(&b->cols[3])[r], mov);
            assert_int_equal(MR_COL_I64(&b->cols[4])[r], mc);
            assert_int_equal(MR_COL_I64(&b->cols[5])[r], mx);
            assert_int_equal(MR_COL_I64(&b->cols[6])[r], (i / 3) * 3 + 1);
        }
    assert_int_equal(i, N);
    mr_op_close(w);
    mr_schema_destroy(s);
    free(v);
    free(nul);
}

/* range frames with offsets over an int column with ties and NULLs, asc
 * (NULLs last) and desc (NULLs first), and over a decimal column. */
static void range_case(const char *type_col, int desc, const char *frame, const char *const *want)
{
    const char *names[] = {"o"};
    const mr_type types[] = {strcmp(type_col, "decimal") == 0 ? mr_type_decimal(6, 1)
                                                              : mr_type_make(MR_T_INT64)};
    mr_schema *s = tu_schema(1, names, types);
    mr_batch *b = mr_batch_create(s, 8);
    int dec = types[0].id == MR_T_DECIMAL;
    static const char *asc[] = {"1", "2", "2", "4", "7", "NULL", "NULL"};
    static const char *dsc[] = {"NULL", "NULL", "7", "4", "2", "2", "1"};
    for (int i = 0; i < 7; i++) {
        const char *v = desc ? dsc[i] : asc[i];
        char buf[16];
        snprintf(buf, sizeof buf, "%s%s", v, dec && strcmp(v, "NULL") ? ".0" : "");
        tu_add_row(b, buf);
    }
    mr_batch *bs[] = {b};
    mr_op *src = tu_source_batches(s, bs, 1, NULL);
    const char *ocol[] = {"o"};
    int d[] = {desc};
    mr_window_order order = {ocol, d, 1};
    const char *wn[] = {"c", "mn"};
    char e1[128], e2[128];
    snprintf(e1, sizeof e1, "count(*) %s", frame);
    snprintf(e2, sizeof e2, "min(o) %s", frame);
    const char *we[] = {e1, e2};
    mr_err err = {0};
    mr_op *w = mr_window_create(src, NULL, 0, &order, wn, we, 2, "w", &err);
    if (!w)
        fail_msg("%s", err.msg);
    tu_lines out = {0};
    run(w, &out);
    assert_int_equal(out.n, 7);
    for (size_t i = 0; i < out.n; i++)
        if (strcmp(out.v[i], want[i]) != 0)
            fail_msg("%s %s row %zu: %s, want %s", type_col, frame, i, out.v[i], want[i]);
    tu_lines_free(&out);
    mr_schema_destroy(s);
}

static void test_range_offsets(void **state)
{
    (void)state;
    /* 1 2 2 4 7 NULL NULL; within 2 below to 1 above */
    static const char *a[] = {"1|3|1", "2|3|1", "2|3|1", "4|3|2", "7|1|7", "NULL|2|NULL",
                              "NULL|2|NULL"};
    range_case("int", 0, "range between 2 preceding and 1 following", a);
    static const char *ad[] = {"1.0|3|1.0", "2.0|3|1.0", "2.0|3|1.0", "4.0|3|2.0", "7.0|1|7.0",
                               "NULL|2|NULL", "NULL|2|NULL"};
    range_case("decimal", 0, "range between 2 preceding and 1 following", ad);
    /* desc: NULL NULL 7 4 2 2 1; preceding means larger values */
    static const char *d[] = {"NULL|2|NULL", "NULL|2|NULL", "7|1|7", "4|1|4", "2|4|1",
                              "2|4|1", "1|3|1"};
    range_case("int", 1, "range between 2 preceding and 1 following", d);
    /* following only, and an empty frame past the end */
    static const char *f[] = {"1|2|2", "2|1|4", "2|1|4", "4|0|NULL", "7|0|NULL",
                              "NULL|2|NULL", "NULL|2|NULL"};
    range_case("int", 0, "range between 1 following and 2 following", f);
}

static void expect_error_by(const char *text, int norder, int code, int offset,
                            const char *needle)
{
    mr_schema *s = schema();
    const char *name = "w";
    int bad;
    mr_err err = {0};
    const char *ocol[] = {norder == 1 ? "v" : "g", "v"}; /* -1: by g alone */
    mr_window_order order = {ocol, NULL, norder < 0 ? 1 : norder};
    mr_schema *out = mr_window_schema(s, &order, &name, &text, 1, &bad, &err);
    if (out)
        fail_msg("'%s' was accepted", text);
    assert_int_equal(bad, 0);
    if (err.code != code || err.offset != offset || !strstr(err.msg, needle))
        fail_msg("'%s': code %d offset %d: %s", text, err.code, err.offset, err.msg);
    mr_schema_destroy(s);
}

static void expect_error(const char *text, int code, int offset, const char *needle)
{
    expect_error_by(text, 1, code, offset, needle);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("row_numbr()", MR_EINVAL, 0, "did you mean 'row_number'");
    expect_error("  cume_dist(v)", MR_EINVAL, 2, "cume_dist takes 0 arguments");
    expect_error("lag()", MR_EINVAL, 0, "lag takes 1 to 3 arguments");
    expect_error("sum(g)", MR_ETYPE, 4, "");
    expect_error("ntile(0)", MR_EINVAL, 6, "greater than zero");
    expect_error("lag(v, v)", MR_ETYPE, 7, "integer literal");
    expect_error("nth_value(v, 0)", MR_EINVAL, 13, "greater than zero");
    expect_error("sum(vv)", MR_ENOTFOUND, 4, "vv");
    expect_error("sum(v) rows between 1 following and current row", MR_EINVAL, 36,
                 "following row");
    expect_error("sum(v) rows between current row and 2 preceding", MR_EINVAL, 36,
                 "preceding rows");
    expect_error("sum(v) rows between unbounded following and current row", MR_EINVAL, 20,
                 "UNBOUNDED FOLLOWING");
    expect_error("sum(v) rows between 1 preceding and unbounded preceding", MR_EINVAL, 36,
                 "UNBOUNDED PRECEDING");
    expect_error_by("sum(v) range between 1 preceding and current row", -1, MR_ETYPE, 7,
                    "needs a number order_by column");
    expect_error_by("sum(v) range 1 preceding", 2, MR_EINVAL, 7, "exactly one order_by");
    expect_error_by("sum(v) range between current row and 2 following", 0, MR_EINVAL, 7,
                    "exactly one order_by");
    expect_error("sum(v) rows between 1 preceding", MR_EINVAL, 31, "expected AND");
    expect_error("sum(v) groups 1 preceding", MR_EINVAL, 7, "ROWS or RANGE");
    expect_error("sum(v) rows -1 preceding", MR_EINVAL, 12, "negative");
    expect_error("lag(v, 1, 'x')", MR_ETYPE, 10, "default");
    expect_error("sum(v", MR_EPARSE, 3, "unbalanced");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_functions),
        cmocka_unit_test(test_large_partition),
        cmocka_unit_test(test_range_offsets),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
