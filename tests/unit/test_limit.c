/* test_limit.c - the limit operator: across batch boundaries, with
 * selection vectors, n = 0, n past the input, and that it stops pulling. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/batch.h"
#include "core/op/limit.h"
#include "core/op/source.h"

typedef struct feed {
    int nbatches, rows, sel; /* batches of `rows` rows; sel: keep odd rows */
    int pulled;
    int64_t next_val;
    mr_batch *b;
} feed;

static int feed_next(void *ctx, mr_batch **out, mr_err *err)
{
    (void)err;
    feed *f = ctx;
    if (f->pulled >= f->nbatches)
        return MR_NEXT_DONE;
    f->pulled++;
    mr_batch *b = f->b;
    mr_batch_reset(b);
    for (int i = 0; i < f->rows; i++) {
        MR_COL_I64(&b->cols[0])[i] = f->sel && i % 2 == 0 ? -1 : f->next_val++;
        mr_column_set_valid(&b->cols[0], (size_t)i, true);
    }
    b->nrows = (size_t)f->rows;
    if (f->sel) {
        b->sel = b->sel_buf;
        b->nsel = 0;
        for (int i = 1; i < f->rows; i += 2)
            b->sel[b->nsel++] = (uint32_t)i;
    }
    *out = b;
    return MR_NEXT_BATCH;
}

static void feed_close(void *ctx)
{
    feed *f = ctx;
    mr_batch_destroy(f->b);
    f->b = NULL;
}

static mr_schema *one_col(void)
{
    mr_schema *s = mr_schema_create(1);
    assert_int_equal(mr_schema_set(s, 0, "v", mr_type_make(MR_T_INT64)), 0);
    return s;
}

/* Runs limit n over the feed; checks values 0.. in order; returns rows. */
static int64_t run(feed *f, int64_t n)
{
    mr_schema *s = one_col();
    f->b = mr_batch_create(s, 0);
    mr_err err;
    mr_op *op = mr_limit_create(mr_source_create(s, feed_next, feed_close, f, "src"), n, "lim",
                                &err);
    assert_non_null(op);
    assert_int_equal(mr_op_open(op, NULL, &err), 0);
    int64_t got = 0;
    mr_batch *b;
    int rc;
    while ((rc = mr_op_next(op, &b, &err)) == MR_NEXT_BATCH) {
        assert_true(mr_batch_live(b) > 0);
        for (size_t i = 0; i < mr_batch_live(b); i++)
            assert_int_equal(MR_COL_I64(&b->cols[0])[mr_batch_row(b, i)], got++);
    }
    assert_int_equal(rc, MR_NEXT_DONE);
    assert_int_equal((int64_t)op->rows_out, got);
    /* DONE again without pulling more */
    int pulled = f->pulled;
    assert_int_equal(mr_op_next(op, &b, &err), MR_NEXT_DONE);
    if (got == n)
        assert_int_equal(f->pulled, pulled);
    mr_op_close(op);
    mr_schema_destroy(s);
    return got;
}

static void test_limit_batches(void **state)
{
    (void)state;
    feed f = {.nbatches = 5, .rows = 100};
    assert_int_equal(run(&f, 250), 250);
    assert_int_equal(f.pulled, 3); /* stopped pulling after the third batch */
    feed g = {.nbatches = 5, .rows = 100};
    assert_int_equal(run(&g, 200), 200);
    assert_int_equal(g.pulled, 2);
    feed h = {.nbatches = 5, .rows = 100};
    assert_int_equal(run(&h, 1000), 500);
    feed z = {.nbatches = 5, .rows = 100};
    assert_int_equal(run(&z, 0), 0);
    assert_int_equal(z.pulled, 0);
    feed e = {.nbatches = 0, .rows = 100};
    assert_int_equal(run(&e, 10), 0);
}

static void test_limit_selection(void **state)
{
    (void)state;
    feed f = {.nbatches = 4, .rows = 100, .sel = 1}; /* 50 live rows each */
    assert_int_equal(run(&f, 120), 120);
    assert_int_equal(f.pulled, 3);
    feed g = {.nbatches = 4, .rows = 100, .sel = 1};
    assert_int_equal(run(&g, 1), 1);
    assert_int_equal(g.pulled, 1);
}

static void test_limit_errors(void **state)
{
    (void)state;
    mr_schema *s = one_col();
    feed f = {.nbatches = 1, .rows = 1};
    f.b = mr_batch_create(s, 0);
    mr_err err;
    assert_null(mr_limit_create(mr_source_create(s, feed_next, feed_close, &f, "src"), -1, "lim",
                                &err));
    assert_int_equal(err.code, MR_EINVAL);
    assert_non_null(strstr(err.msg, "lim"));
    assert_null(f.b); /* the child was closed */
    assert_null(mr_limit_create(NULL, 1, "lim", &err));
    mr_schema_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit_batches),
        cmocka_unit_test(test_limit_selection),
        cmocka_unit_test(test_limit_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
