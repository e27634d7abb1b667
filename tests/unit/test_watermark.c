/* test_watermark.c - the incremental read's watermark operator: rows above
 * the bound pass and the largest passed value comes back as text, for
 * every orderable type; NULLs; selection vectors; bad bounds; and the
 * typed comparison of watermark texts the coordinator uses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/batch.h"
#include "core/op/source.h"
#include "core/op/watermark.h"

/* One column of type t holding texts (NULL: a NULL), in one batch; with
 * sel, only the odd rows are live. */
typedef struct feed {
    mr_type t;
    const char *const *vals;
    int n, sel, done;
    mr_batch *b;
} feed;

static int feed_next(void *ctx, mr_batch **out, mr_err *err)
{
    feed *f = ctx;
    if (f->done)
        return MR_NEXT_DONE;
    f->done = 1;
    mr_batch *b = f->b;
    mr_batch_reset(b);
    assert_int_equal(mr_batch_reserve(b, (size_t)f->n), 0);
    mr_column *c = &b->cols[0];
    for (int i = 0; i < f->n; i++) {
        const char *v = f->vals[i];
        size_t len = v ? strlen(v) : 0;
        int ok = 0;
        switch (f->t.id) {
        case MR_T_INT32: ok = !v || mr_parse_int32(v, len, &MR_COL_I32(c)[i], err) == 0; break;
        case MR_T_DATE: ok = !v || mr_parse_date(v, len, &MR_COL_I32(c)[i], err) == 0; break;
        case MR_T_INT64: ok = !v || mr_parse_int64(v, len, &MR_COL_I64(c)[i], err) == 0; break;
        case MR_T_TIMESTAMP:
            ok = !v || mr_parse_timestamp(v, len, &MR_COL_I64(c)[i], err) == 0;
            break;
        case MR_T_DECIMAL:
            ok = !v || mr_parse_decimal(v, len, f->t.precision, f->t.scale, &MR_COL_I64(c)[i],
                                        err) == 0;
            break;
        case MR_T_FLOAT64: ok = !v || mr_parse_float64(v, len, &MR_COL_F64(c)[i], err) == 0; break;
        case MR_T_STRING:
            ok = v ? mr_column_set_str(c, (size_t)i, v, len) == 0
                   : (mr_column_set_str_null(c, (size_t)i), 1);
            break;
        }
        assert_true(ok);
        mr_column_set_valid(c, (size_t)i, v != NULL);
    }
    b->nrows = (size_t)f->n;
    if (f->sel) {
        b->sel = b->sel_buf;
        b->nsel = 0;
        for (int i = 1; i < f->n; i += 2)
            b->sel[b->nsel++] = (uint32_t)i;
    }
    *out = b;
    return MR_NEXT_BATCH;
}

static void feed_close(void *ctx)
{
    feed *f = ctx;
    mr_batch_destroy(f->b);
    free(f);
}

static mr_op *make(mr_type t, const char *const *vals, int n, int sel)
{
    mr_schema *s = mr_schema_create(1);
    assert_int_equal(mr_schema_set(s, 0, "c", t), 0);
    feed *f = calloc(1, sizeof *f);
    assert_non_null(f);
    *f = (feed){.t = t, .vals = vals, .n = n, .sel = sel, .b = mr_batch_create(s, 64)};
    mr_op *op = mr_source_create(s, feed_next, feed_close, f, "src");
    mr_schema_destroy(s);
    assert_non_null(op);
    return op;
}

/* Runs the watermark over vals with bound; returns the rows passed and
 * puts the max text into max ("" when none). */
static int run(mr_type t, const char *const *vals, int n, int sel, const char *bound, char *max)
{
    mr_err err = {0};
    mr_op *w = mr_watermark_create(make(t, vals, n, sel), "c", bound, "r", &err);
    assert_non_null(w);
    assert_int_equal(mr_op_open(w, NULL, &err), 0);
    mr_batch *b;
    int rows = 0, rc;
    while ((rc = mr_op_next(w, &b, &err)) == MR_NEXT_BATCH)
        rows += (int)mr_batch_live(b);
    assert_int_equal(rc, MR_NEXT_DONE);
    assert_int_equal((int)mr_watermark_rows(w), rows);
    mr_watermark_max(w, max, MR_WATERMARK_MAX + 1);
    mr_op_close(w);
    return rows;
}

static void test_types(void **state)
{
    (void)state;
    char max[MR_WATERMARK_MAX + 1];
    const char *ints[] = {"5", "-3", NULL, "12", "7"};
    assert_int_equal(run(mr_type_make(MR_T_INT64), ints, 5, 0, NULL, max), 5); /* NULL too */
    assert_string_equal(max, "12");
    assert_int_equal(run(mr_type_make(MR_T_INT32), ints, 5, 0, "5", max), 2);
    assert_string_equal(max, "12");
    const char *dates[] = {"2024-01-02", "2023-12-31", "2024-02-29", NULL};
    assert_int_equal(run(mr_type_make(MR_T_DATE), dates, 4, 0, "2024-01-01", max), 2);
    assert_string_equal(max, "2024-02-29");
    const char *ts[] = {"2024-01-01 10:00:00.5", "2024-01-01 10:00:00", "2023-01-01 00:00:00"};
    assert_int_equal(run(mr_type_make(MR_T_TIMESTAMP), ts, 3, 0, "2024-01-01T10:00:00", max), 1);
    assert_string_equal(max, "2024-01-01 10:00:00.5");
    const char *dec[] = {"10.50", "10.05", "-1.00", "9.99"};
    assert_int_equal(run(mr_type_decimal(6, 2), dec, 4, 0, "10.05", max), 1);
    assert_string_equal(max, "10.50");
    const char *fl[] = {"1.5", "0.25", "-2"};
    assert_int_equal(run(mr_type_make(MR_T_FLOAT64), fl, 3, 0, "0.3", max), 1);
    assert_string_equal(max, "1.5");
    /* strings by their bytes, a prefix below its extensions */
    const char *str[] = {"b", "ab", "abc", "", "b\xc3\xa9"};
    assert_int_equal(run(mr_type_make(MR_T_STRING), str, 5, 0, "ab", max), 3);
    assert_string_equal(max, "b\xc3\xa9");
    /* nothing above the bound: nothing passes, no max */
    assert_int_equal(run(mr_type_make(MR_T_INT64), ints, 5, 0, "100", max), 0);
    assert_string_equal(max, "");
}

static void test_selection(void **state)
{
    (void)state;
    char max[MR_WATERMARK_MAX + 1];
    /* live rows are 1, 3: 9 and 2; the dead 100 must not count */
    const char *v[] = {"100", "9", "100", "2", "100"};
    assert_int_equal(run(mr_type_make(MR_T_INT64), v, 5, 1, "1", max), 2);
    assert_string_equal(max, "9");
}

static void test_bad(void **state)
{
    (void)state;
    mr_err err = {0};
    const char *v[] = {"1"};
    assert_null(mr_watermark_create(make(mr_type_make(MR_T_INT64), v, 1, 0), "c", "x1", "r",
                                    &err));
    assert_int_equal(err.code, MR_EPARSE);
    assert_non_null(strstr(err.msg, "watermark 'x1'"));
    assert_null(mr_watermark_create(make(mr_type_make(MR_T_INT64), v, 1, 0), "nope", NULL, "r",
                                    &err));
    assert_int_equal(err.code, MR_ENOTFOUND);
    assert_null(mr_watermark_create(make(mr_type_make(MR_T_BOOL), v, 0, 0), "c", NULL, "r",
                                    &err));
    assert_int_equal(err.code, MR_ETYPE);
}

static void test_cmp_canon(void **state)
{
    (void)state;
    mr_err err = {0};
    int c;
    assert_int_equal(mr_watermark_cmp(mr_type_make(MR_T_INT64), "9", "10", &c, &err), 0);
    assert_true(c < 0); /* as numbers, not text */
    assert_int_equal(mr_watermark_cmp(mr_type_decimal(8, 2), "10.5", "10.50", &c, &err), 0);
    assert_int_equal(c, 0);
    assert_int_equal(mr_watermark_cmp(mr_type_make(MR_T_TIMESTAMP), "2024-01-02", "2024-01-01 23:59:59",
                                      &c, &err), 0);
    assert_true(c > 0);
    assert_int_equal(mr_watermark_cmp(mr_type_make(MR_T_DATE), "2024-13-01", "2024-01-01", &c, &err),
                     MR_EPARSE);
    char buf[MR_WATERMARK_MAX + 1];
    assert_int_equal(mr_watermark_canon(mr_type_make(MR_T_TIMESTAMP), "2024-01-02T03:04:05", buf,
                                        sizeof buf, &err), 0);
    assert_string_equal(buf, "2024-01-02 03:04:05");
    assert_int_equal(mr_watermark_canon(mr_type_decimal(8, 2), "7.5", buf, sizeof buf, &err), 0);
    assert_string_equal(buf, "7.50");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_selection),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_cmp_canon),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
