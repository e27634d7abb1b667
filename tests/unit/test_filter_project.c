/* test_filter_project.c - the filter and project operators over a tiny
 * test-only source operator that yields prepared batches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/op.h"
#include "core/op/filter.h"
#include "core/op/project.h"

/* ---- the test source: hands out its batches in order ------------------- */

typedef struct test_src {
    mr_op op;
    mr_batch *batches[8];
    int n, next;
    int *closed; /* set to 1 on close, so tests see ownership honoured */
} test_src;

static int src_next(mr_op *op, mr_batch **out, mr_err *err)
{
    (void)err;
    test_src *s = (test_src *)op;
    if (s->next >= s->n)
        return MR_NEXT_DONE;
    *out = s->batches[s->next++];
    return MR_NEXT_BATCH;
}

static void src_close(mr_op *op)
{
    test_src *s = (test_src *)op;
    for (int i = 0; i < s->n; i++)
        mr_batch_destroy(s->batches[i]);
    if (s->closed)
        *s->closed = 1;
    mr_schema_destroy(op->schema);
    free(s);
}

static const mr_op_vtable src_vt = {"test_src", NULL, src_next, src_close};

/* Schema: x int64, s string.  Batch k holds rows with x = values[k][i]
 * (INT64_MIN meaning NULL) and s = "r<x>". */
static mr_op *make_src(const int64_t *const *values, const size_t *counts, int nb, int *closed)
{
    test_src *s = calloc(1, sizeof *s);
    mr_op_init(&s->op, &src_vt, NULL, "src");
    s->op.schema = mr_schema_create(2);
    mr_schema_set(s->op.schema, 0, "x", mr_type_make(MR_T_INT64));
    mr_schema_set(s->op.schema, 1, "s", mr_type_make(MR_T_STRING));
    s->closed = closed;
    for (int k = 0; k < nb; k++) {
        mr_batch *b = mr_batch_create(s->op.schema, counts[k] ? counts[k] : 1);
        for (size_t i = 0; i < counts[k]; i++) {
            int64_t v = values[k][i];
            bool null = v == INT64_MIN;
            MR_COL_I64(&b->cols[0])[i] = null ? 0 : v;
            mr_column_set_valid(&b->cols[0], i, !null);
            char buf[32];
            snprintf(buf, sizeof buf, "r%lld", (long long)v);
            mr_column_set_str(&b->cols[1], i, buf, strlen(buf));
        }
        b->nrows = counts[k];
        s->batches[s->n++] = b;
    }
    return &s->op;
}

/* Drains op, rendering each live row as "c1,c2,..;" (NULL as N). */
static int drain(mr_op *op, char *out, size_t cap, int *nbatches, mr_err *err)
{
    size_t pos = 0;
    out[0] = '\0';
    *nbatches = 0;
    int rc;
    mr_batch *b;
    while ((rc = mr_op_next(op, &b, err)) == MR_NEXT_BATCH) {
        (*nbatches)++;
        for (size_t i = 0; i < mr_batch_live(b); i++) {
            uint32_t r = mr_batch_row(b, i);
            for (int c = 0; c < b->ncols; c++) {
                const mr_column *col = &b->cols[c];
                char v[64];
                if (!mr_column_is_valid(col, r))
                    snprintf(v, sizeof v, "N");
                else if (col->type.id == MR_T_STRING) {
                    size_t n;
                    const char *s = mr_column_str(col, r, &n);
                    snprintf(v, sizeof v, "%.*s", (int)n, s);
                } else if (col->type.id == MR_T_BOOL)
                    snprintf(v, sizeof v, "%s", MR_COL_U8(col)[r] ? "t" : "f");
                else
                    snprintf(v, sizeof v, "%lld", (long long)MR_COL_I64(col)[r]);
                pos += (size_t)snprintf(out + pos, cap - pos, "%s%s", c ? "," : "", v);
            }
            pos += (size_t)snprintf(out + pos, cap - pos, ";");
        }
    }
    return rc;
}

static const int64_t b0[] = {1, 5, INT64_MIN, 3};
static const int64_t b1[] = {0, -1};
static const int64_t b2[] = {7, 2, 9, 4, 11};

static void test_filter(void **state)
{
    (void)state;
    const int64_t *vals[] = {b0, b1, b2};
    size_t counts[] = {4, 2, 5};
    int closed = 0;
    mr_err err;
    mr_op *f = mr_filter_create(make_src(vals, counts, 3, &closed), "x > 2", "keep", &err);
    assert_non_null(f);
    assert_int_equal(f->schema->nfields, 2);
    assert_string_equal(f->schema->fields[1].name, "s");
    assert_int_equal(mr_op_open(f, NULL, &err), 0);
    char out[512];
    int nb;
    assert_int_equal(drain(f, out, sizeof out, &nb, &err), MR_NEXT_DONE);
    /* NULL drops; the batch with no survivors is skipped */
    assert_string_equal(out, "5,r5;3,r3;7,r7;9,r9;4,r4;11,r11;");
    assert_int_equal(nb, 2);
    assert_int_equal(f->rows_out, 6);
    mr_op_close(f);
    assert_int_equal(closed, 1);
}

static void test_filter_keeps_all_and_stacks(void **state)
{
    (void)state;
    const int64_t *vals[] = {b2};
    size_t counts[] = {5};
    mr_err err;
    /* every row passes: no selection vector is set */
    mr_op *f = mr_filter_create(make_src(vals, counts, 1, NULL), "x IS NOT NULL", "all", &err);
    assert_int_equal(mr_op_open(f, NULL, &err), 0);
    mr_batch *b;
    assert_int_equal(mr_op_next(f, &b, &err), MR_NEXT_BATCH);
    assert_null(b->sel);
    assert_int_equal(mr_batch_live(b), 5);
    mr_op_close(f);
    /* a filter over a filter narrows an existing selection */
    f = mr_filter_create(make_src(vals, counts, 1, NULL), "x > 3", "a", &err);
    f = mr_filter_create(f, "x % 2 = 1 AND s <> 'r9'", "b", &err);
    assert_non_null(f);
    assert_int_equal(mr_op_open(f, NULL, &err), 0);
    char out[256];
    int nb;
    assert_int_equal(drain(f, out, sizeof out, &nb, &err), MR_NEXT_DONE);
    assert_string_equal(out, "7,r7;11,r11;");
    mr_op_close(f);
}

static void test_filter_errors(void **state)
{
    (void)state;
    const int64_t *vals[] = {b0, b1};
    size_t counts[] = {4, 2};
    int closed = 0;
    mr_err err;
    assert_null(mr_filter_create(make_src(vals, counts, 2, &closed), "x + 1", "f", &err));
    assert_int_equal(err.code, MR_ETYPE);
    assert_string_equal(err.msg, "node 'f': filter condition must be bool, got int64");
    assert_int_equal(closed, 1);
    closed = 0;
    assert_null(mr_filter_create(make_src(vals, counts, 2, &closed), "xx > 1 AND y = 2", "f", &err));
    assert_int_equal(err.code, MR_ENOTFOUND);
    assert_int_equal(err.offset, 0);
    assert_string_equal(err.msg, "node 'f': unknown column 'xx' (did you mean 'x'?)");
    assert_int_equal(closed, 1);
    assert_null(mr_filter_create(make_src(vals, counts, 2, NULL), "x >", "f", &err));
    assert_int_equal(err.code, MR_EPARSE);
    assert_int_equal(err.offset, 3);
    /* run-time errors name the node */
    mr_op *f = mr_filter_create(make_src(vals, counts, 2, NULL), "10 / x > 1", "div", &err);
    assert_non_null(f);
    assert_int_equal(mr_op_open(f, NULL, &err), 0);
    mr_batch *b;
    assert_int_equal(mr_op_next(f, &b, &err), MR_NEXT_BATCH);
    assert_int_equal(mr_op_next(f, &b, &err), MR_EDIVZERO);
    assert_string_equal(err.msg, "node 'div': division by zero");
    mr_op_close(f);
}

static void test_project(void **state)
{
    (void)state;
    const int64_t *vals[] = {b0, b1};
    size_t counts[] = {4, 2};
    mr_err err;
    const char *names[] = {"s", "y", "big", "x"};
    const char *exprs[] = {"s", "x * 2", "x > 2", "x"};
    mr_op *p = mr_project_create(make_src(vals, counts, 2, NULL), names, exprs, 4, "p", &err);
    assert_non_null(p);
    assert_int_equal(p->schema->nfields, 4);
    assert_int_equal(p->schema->fields[2].type.id, MR_T_BOOL);
    assert_int_equal(mr_op_open(p, NULL, &err), 0);
    mr_batch *b;
    /* without a selection, pass-through columns share the input's buffers */
    assert_int_equal(mr_op_next(p, &b, &err), MR_NEXT_BATCH);
    assert_null(b->sel);
    assert_int_equal(b->nrows, 4);
    test_src *src = (test_src *)p->child;
    assert_ptr_equal(b->cols[3].data, src->batches[0]->cols[0].data);
    assert_ptr_equal(b->cols[0].chars, src->batches[0]->cols[1].chars);
    assert_int_equal(MR_COL_I64(&b->cols[1])[1], 10);
    assert_false(mr_column_is_valid(&b->cols[1], 2));
    assert_int_equal(mr_op_next(p, &b, &err), MR_NEXT_BATCH);
    assert_int_equal(b->nrows, 2);
    assert_int_equal(MR_COL_I64(&b->cols[1])[1], -2);
    assert_int_equal(mr_op_next(p, &b, &err), MR_NEXT_DONE);
    mr_op_close(p);
}

static void test_filter_then_project(void **state)
{
    (void)state;
    const int64_t *vals[] = {b0, b1, b2};
    size_t counts[] = {4, 2, 5};
    int closed = 0;
    mr_err err;
    mr_op *f = mr_filter_create(make_src(vals, counts, 3, &closed), "x > 2 AND x <> 9", "f", &err);
    const char *names[] = {"label", "x", "half", "s"};
    const char *exprs[] = {"upper(s) || ':' || x", "x", "x / 2", "s"};
    mr_op *p = mr_project_create(f, names, exprs, 4, "p", &err);
    assert_non_null(p);
    assert_int_equal(mr_op_open(p, NULL, &err), 0);
    char out[512];
    int nb;
    assert_int_equal(drain(p, out, sizeof out, &nb, &err), MR_NEXT_DONE);
    assert_string_equal(out, "R5:5,5,2,r5;R3:3,3,1,r3;R7:7,7,3,r7;R4:4,4,2,r4;R11:11,11,5,r11;");
    assert_int_equal(nb, 2);
    mr_op_close(p);
    assert_int_equal(closed, 1);
}

static void test_project_errors(void **state)
{
    (void)state;
    const int64_t *vals[] = {b1};
    size_t counts[] = {2};
    int closed = 0;
    mr_err err;
    const char *dup_names[] = {"a", "a"};
    const char *dup_exprs[] = {"x", "s"};
    assert_null(mr_project_create(make_src(vals, counts, 1, &closed), dup_names, dup_exprs, 2,
                                  "p", &err));
    assert_int_equal(err.code, MR_EINVAL);
    assert_string_equal(err.msg, "node 'p': duplicate output column 'a'");
    assert_int_equal(closed, 1);
    const char *names[] = {"ok", "bad"};
    const char *exprs[] = {"x", "s * 2"};
    closed = 0;
    assert_null(mr_project_create(make_src(vals, counts, 1, &closed), names, exprs, 2, "p", &err));
    assert_int_equal(err.code, MR_ETYPE);
    assert_int_equal(err.offset, 2);
    assert_string_equal(err.msg,
                        "node 'p': column 'bad': operator '*' cannot apply to string and int32");
    assert_int_equal(closed, 1);
    const char *n2[] = {"q"};
    const char *e2[] = {"100 / x"};
    mr_op *p = mr_project_create(make_src(vals, counts, 1, NULL), n2, e2, 1, "calc", &err);
    assert_int_equal(mr_op_open(p, NULL, &err), 0);
    mr_batch *b;
    assert_int_equal(mr_op_next(p, &b, &err), MR_EDIVZERO);
    assert_string_equal(err.msg, "node 'calc': column 'q': division by zero");
    mr_op_close(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter),
        cmocka_unit_test(test_filter_keeps_all_and_stacks),
        cmocka_unit_test(test_filter_errors),
        cmocka_unit_test(test_project),
        cmocka_unit_test(test_filter_then_project),
        cmocka_unit_test(test_project_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
