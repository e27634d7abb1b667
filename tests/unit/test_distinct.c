/* test_distinct.c - the distinct operator: all columns and a subset, NULLs,
 * strings, floats, many batches against a sort-based reference, selection
 * vectors, streaming, the partial/final split and bad column lists.
 *
 * Rows are compared as text lines ("a|b", NULL as "NULL").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/batch.h"
#include "core/op/distinct.h"
#include "core/op/source.h"
#include "testutil.h"

/* ---- Helpers ------------------------------------------------------------ */

/* A source of rows; a NULL entry starts a new batch. */
static mr_op *source_rows(const mr_schema *s, const char *const *rows, int n)
{
    mr_batch *bs[64];
    int nb = 0;
    mr_batch *b = NULL;
    for (int i = 0; i <= n; i++) {
        if (i == n || !rows[i]) {
            if (b)
                bs[nb++] = b;
            b = NULL;
            continue;
        }
        if (!b)
            assert_non_null(b = mr_batch_create(s, 0));
        tu_add_row(b, rows[i]);
    }
    return tu_source_batches(s, bs, nb, NULL);
}

/* Opens, drains (in output order, not sorted) and closes op. */
static int drain(mr_op *op, tu_lines *out, mr_err *err)
{
    int rc = mr_op_open(op, NULL, err);
    while (rc >= 0) {
        mr_batch *b;
        rc = mr_op_next(op, &b, err);
        if (rc != MR_NEXT_BATCH)
            break;
        assert_int_equal(b->ncols, op->schema->nfields);
        assert_true(mr_batch_live(b) > 0);
        for (int c = 0; c < b->ncols; c++)
            assert_true(mr_type_equal(b->cols[c].type, op->schema->fields[c].type));
        tu_lines_add_batch(out, b);
    }
    mr_op_close(op);
    return rc;
}

static void expect_lines(const tu_lines *got, const char *const *want, size_t n)
{
    if (got->n != n)
        for (size_t i = 0; i < got->n; i++)
            print_message("got: %s\n", got->v[i]);
    assert_int_equal(got->n, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(got->v[i], want[i]);
}

static const char *names3[] = {"a", "s", "f"};
static mr_type types3[3];

static int setup(void **state)
{
    (void)state;
    types3[0] = mr_type_make(MR_T_INT64);
    types3[1] = mr_type_make(MR_T_STRING);
    types3[2] = mr_type_make(MR_T_FLOAT64);
    return 0;
}

static const char *rows3[] = {
    "1|x|1.5", "1|x|1.5", "NULL|x|1.5", "1|NULL|1.5", "NULL|x|1.5", NULL,
    "1|x|1.5", "2|x|1.5", "1|NULL|1.5", "1||1.5",     "1||1.5",     "1|x|-0",
    "1|x|0",   NULL,      "NULL|NULL|NULL", "NULL|NULL|NULL", "1|x|nan", "1|x|nan",
};

/* ---- Tests --------------------------------------------------------------- */

static void test_all_columns(void **state)
{
    (void)state;
    mr_schema *s = tu_schema(3, names3, types3);
    mr_err err;
    mr_op *d = mr_distinct_create(source_rows(s, rows3, 18), NULL, 0, "d", &err);
    assert_non_null(d);
    assert_int_equal(d->schema->nfields, 3);
    tu_lines got = {0};
    assert_int_equal(drain(d, &got, &err), MR_NEXT_DONE);
    /* first occurrences, in input order: NULL equals NULL, "" is a value,
     * -0 equals 0 (the first, -0, is kept), NaN equals NaN */
    const char *want[] = {"1|x|1.5", "NULL|x|1.5", "1|NULL|1.5", "2|x|1.5",
                          "1||1.5",  "1|x|-0",     "NULL|NULL|NULL", "1|x|nan"};
    expect_lines(&got, want, 8);
    tu_lines_free(&got);
    mr_schema_destroy(s);
}

static void test_subset(void **state)
{
    (void)state;
    mr_schema *s = tu_schema(3, names3, types3);
    const char *cols[] = {"s", "a"};
    mr_err err;
    mr_op *d = mr_distinct_create(source_rows(s, rows3, 18), cols, 2, "d", &err);
    assert_non_null(d);
    assert_int_equal(d->schema->nfields, 2);
    assert_string_equal(d->schema->fields[0].name, "s");
    assert_string_equal(d->schema->fields[1].name, "a");
    assert_int_equal(d->schema->fields[0].type.id, MR_T_STRING);
    tu_lines got = {0};
    assert_int_equal(drain(d, &got, &err), MR_NEXT_DONE);
    const char *want[] = {"x|1", "x|NULL", "NULL|1", "x|2", "|1", "NULL|NULL"};
    expect_lines(&got, want, 6);
    tu_lines_free(&got);
    /* one bool column: at most three rows */
    const char *bn[] = {"b"};
    mr_type bt = mr_type_make(MR_T_BOOL);
    mr_schema *bs = tu_schema(1, bn, &bt);
    const char *brows[] = {"true", "false", "true", NULL, "NULL", "false", "NULL", "true"};
    d = mr_distinct_create(source_rows(bs, brows, 8), bn, 1, "d", &err);
    assert_non_null(d);
    memset(&got, 0, sizeof got);
    assert_int_equal(drain(d, &got, &err), MR_NEXT_DONE);
    const char *bwant[] = {"true", "false", "NULL"};
    expect_lines(&got, bwant, 3);
    tu_lines_free(&got);
    mr_schema_destroy(bs);
    mr_schema_destroy(s);
}

static void test_streaming(void **state)
{
    (void)state;
    /* each batch's new rows come out before the next batch is read */
    mr_schema *s = tu_schema(3, names3, types3);
    mr_batch *bs[3];
    const char *b0[] = {"1|a|1", "2|b|2", "1|a|1"}, *b1[] = {"1|a|1", "2|b|2"},
               *b2[] = {"3|c|3", "2|b|2"};
    const char *const *src[3] = {b0, b1, b2};
    const int cnt[3] = {3, 2, 2};
    for (int i = 0; i < 3; i++) {
        bs[i] = mr_batch_create(s, 0);
        for (int r = 0; r < cnt[i]; r++)
            tu_add_row(bs[i], src[i][r]);
    }
    tu_feed *f;
    mr_err err;
    mr_op *d = mr_distinct_create(tu_source_batches(s, bs, 3, &f), NULL, 0, "d", &err);
    assert_non_null(d);
    assert_int_equal(mr_op_open(d, NULL, &err), 0);
    mr_batch *b;
    assert_int_equal(mr_op_next(d, &b, &err), MR_NEXT_BATCH);
    assert_int_equal(f->i, 1);
    assert_int_equal(mr_batch_live(b), 2);
    /* batch 1 has nothing new: skipped; batch 2 gives one row */
    assert_int_equal(mr_op_next(d, &b, &err), MR_NEXT_BATCH);
    assert_int_equal(f->i, 3);
    assert_int_equal(mr_batch_live(b), 1);
    assert_non_null(b->sel);
    assert_int_equal(b->sel[0], 0);
    assert_int_equal(mr_op_next(d, &b, &err), MR_NEXT_DONE);
    assert_int_equal(mr_distinct_count(d), 3);
    assert_true(mr_distinct_memory(d) > 0);
    mr_op_close(d);
    mr_schema_destroy(s);
}

static void test_selection_vector(void **state)
{
    (void)state;
    mr_schema *s = tu_schema(3, names3, types3);
    mr_batch *b = mr_batch_create(s, 0);
    const char *rows[] = {"1|a|1", "1|a|1", "2|b|2", "3|c|3", "2|b|2", "4|d|4"};
    for (int i = 0; i < 6; i++)
        tu_add_row(b, rows[i]);
    /* live rows: 1, 3, 4, 5 -> values 1, 3, 2, 4 (row 0 and 2 are hidden) */
    b->sel = b->sel_buf;
    b->sel[0] = 1, b->sel[1] = 3, b->sel[2] = 4, b->sel[3] = 5;
    b->nsel = 4;
    mr_batch *b2 = mr_batch_create(s, 0);
    tu_add_row(b2, "2|b|2");
    tu_add_row(b2, "5|e|5");
    tu_add_row(b2, "1|a|1");
    b2->sel = b2->sel_buf;
    b2->sel[0] = 1, b2->sel[1] = 2;
    b2->nsel = 2;
    mr_batch *bs[2] = {b, b2};
    const char *cols[] = {"a"};
    mr_err err;
    mr_op *d = mr_distinct_create(tu_source_batches(s, bs, 2, NULL), cols, 1, "d", &err);
    assert_non_null(d);
    tu_lines got = {0};
    assert_int_equal(drain(d, &got, &err), MR_NEXT_DONE);
    const char *want[] = {"1", "3", "2", "4", "5"};
    expect_lines(&got, want, 5);
    tu_lines_free(&got);
    mr_schema_destroy(s);
}

/* ---- Many batches against a reference ------------------------------------ */

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static const char *words[] = {"", "a", "b", "héllo", "a string longer than sixteen bytes"};

/* n random rows (few distinct values, NULLs) in batches of random sizes,
 * some with selection vectors; the live rows' tu_lines go into live. */
static mr_op *rand_source(const mr_schema *s, size_t n, uint64_t *seed, int mod, tu_lines *live)
{
    mr_batch *bs[512];
    int nb = 0;
    size_t done = 0;
    while (done < n) {
        size_t m = 1 + rnd(seed) % 300;
        if (m > n - done)
            m = n - done;
        mr_batch *b = mr_batch_create(s, 0);
        assert_non_null(b);
        bool use_sel = rnd(seed) % 3 == 0;
        for (size_t r = 0; r < m; r++) {
            mr_column *a = &b->cols[0], *w = &b->cols[1], *f = &b->cols[2];
            MR_COL_I64(a)[r] = (int64_t)(rnd(seed) % (uint64_t)mod) - mod / 2;
            mr_column_set_valid(a, r, rnd(seed) % 11 != 0);
            if (rnd(seed) % 9 == 0)
                mr_column_set_str_null(w, r);
            else {
                const char *x = words[rnd(seed) % 5];
                assert_int_equal(mr_column_set_str(w, r, x, strlen(x)), 0);
            }
            MR_COL_F64(f)[r] = (double)(rnd(seed) % 3) / 2;
            mr_column_set_valid(f, r, rnd(seed) % 13 != 0);
        }
        b->nrows = m;
        if (use_sel) {
            b->sel = b->sel_buf;
            for (size_t r = 0; r < m; r++)
                if (rnd(seed) % 3)
                    b->sel[b->nsel++] = (uint32_t)r;
        }
        tu_lines_add_batch(live, b);
        assert_true(nb < 512);
        bs[nb++] = b;
        done += m;
    }
    return tu_source_batches(s, bs, nb, NULL);
}

/* Sorted unique tu_lines of l (after sorting it). */
static void unique_lines(tu_lines *l, tu_lines *out)
{
    tu_lines_sort(l);
    for (size_t i = 0; i < l->n; i++)
        if (i == 0 || strcmp(l->v[i], l->v[i - 1]) != 0)
            tu_lines_add(out, l->v[i]);
}

static void test_many_batches(void **state)
{
    (void)state;
    mr_schema *s = tu_schema(3, names3, types3);
    uint64_t seed = 0x243f6a8885a308d3ULL;
    const int mods[] = {4, 50, 100000};
    for (int round = 0; round < 3; round++) {
        tu_lines all = {0}, want = {0}, got = {0};
        mr_err err;
        mr_op *d = mr_distinct_create(rand_source(s, 30000, &seed, mods[round], &all), NULL, 0,
                                      "d", &err);
        assert_non_null(d);
        assert_int_equal(drain(d, &got, &err), MR_NEXT_DONE);
        /* output has no duplicate, and as a set equals the input's */
        tu_lines_sort(&got);
        unique_lines(&all, &want);
        assert_int_equal(got.n, want.n);
        for (size_t i = 0; i < got.n; i++)
            assert_string_equal(got.v[i], want.v[i]);
        tu_lines_free(&all);
        tu_lines_free(&want);
        tu_lines_free(&got);
    }
    mr_schema_destroy(s);
}

/* The same operator as the partial half in two "map tasks" and as the
 * final half over their outputs gives the distinct rows of all input. */
static void test_partial_final(void **state)
{
    (void)state;
    mr_schema *s = tu_schema(3, names3, types3);
    uint64_t seed = 77;
    tu_lines all = {0}, want = {0}, got = {0}, g1 = {0}, g2 = {0};
    mr_err err;
    mr_op *p1 = mr_distinct_create(rand_source(s, 5000, &seed, 30, &all), NULL, 0, "p", &err);
    mr_op *p2 = mr_distinct_create(rand_source(s, 7000, &seed, 30, &all), NULL, 0, "p", &err);
    assert_non_null(p1);
    assert_non_null(p2);
    assert_int_equal(drain(p1, &g1, &err), MR_NEXT_DONE);
    assert_int_equal(drain(p2, &g2, &err), MR_NEXT_DONE);
    /* the "shuffle" delivers both partial outputs to one final task */
    mr_batch *b = mr_batch_create(s, 0);
    for (size_t i = 0; i < g1.n; i++)
        tu_add_row(b, g1.v[i]);
    for (size_t i = 0; i < g2.n; i++)
        tu_add_row(b, g2.v[i]);
    mr_op *fin = mr_distinct_create(tu_source_batches(s, &b, 1, NULL), NULL, 0, "f", &err);
    assert_non_null(fin);
    assert_int_equal(drain(fin, &got, &err), MR_NEXT_DONE);
    tu_lines_sort(&got);
    unique_lines(&all, &want);
    assert_int_equal(got.n, want.n);
    for (size_t i = 0; i < got.n; i++)
        assert_string_equal(got.v[i], want.v[i]);
    /* each partial half removed its own duplicates; together they overlap */
    assert_true(g1.n <= want.n && g2.n <= want.n);
    assert_true(g1.n + g2.n > want.n);
    tu_lines_free(&g1);
    tu_lines_free(&g2);
    tu_lines_free(&all);
    tu_lines_free(&want);
    tu_lines_free(&got);
    mr_schema_destroy(s);
}

static void test_bad_columns(void **state)
{
    (void)state;
    mr_schema *s = tu_schema(3, names3, types3);
    mr_err err;
    const char *bad[] = {"a", "zz"};
    int closed = 0;
    tu_feed *f;
    mr_op *src = tu_source_batches(s, NULL, 0, &f);
    f->closed = &closed;
    assert_null(mr_distinct_create(src, bad, 2, "d", &err));
    assert_int_equal(err.code, MR_ENOTFOUND);
    assert_non_null(strstr(err.msg, "node 'd'"));
    assert_non_null(strstr(err.msg, "'zz'"));
    assert_non_null(strstr(err.msg, "a, s, f"));
    assert_int_equal(closed, 1);
    const char *twice[] = {"s", "s"};
    assert_null(mr_distinct_create(tu_source_batches(s, NULL, 0, NULL), twice, 2, "d", &err));
    assert_int_equal(err.code, MR_EINVAL);
    assert_non_null(strstr(err.msg, "twice"));
    assert_null(mr_distinct_create(NULL, NULL, 0, "d", &err));
    /* empty input: no batch at all; close without open */
    tu_lines got = {0};
    assert_int_equal(drain(mr_distinct_create(tu_source_batches(s, NULL, 0, NULL), NULL, 0, "d", &err),
                           &got, &err),
                     MR_NEXT_DONE);
    assert_int_equal(got.n, 0);
    mr_op_close(mr_distinct_create(tu_source_batches(s, NULL, 0, NULL), NULL, 0, "d", &err));
    assert_int_equal(mr_distinct_memory(NULL), 0);
    mr_schema_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_all_columns, setup),
        cmocka_unit_test_setup(test_subset, setup),
        cmocka_unit_test_setup(test_streaming, setup),
        cmocka_unit_test_setup(test_selection_vector, setup),
        cmocka_unit_test_setup(test_many_batches, setup),
        cmocka_unit_test_setup(test_partial_final, setup),
        cmocka_unit_test_setup(test_bad_columns, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
