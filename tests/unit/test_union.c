/* test_union.c - union by name: schema widening rules, reordered and widened
 * inputs, pass-through, overflow on widening, and the error cases. */
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
#include "core/op/union.h"

typedef struct feed {
    mr_batch *b;
    int done;
} feed;

static int feed_next(void *ctx, mr_batch **out, mr_err *err)
{
    (void)err;
    feed *f = ctx;
    if (f->done)
        return MR_NEXT_DONE;
    f->done = 1;
    *out = f->b;
    return MR_NEXT_BATCH;
}

static void feed_close(void *ctx)
{
    feed *f = ctx;
    mr_batch_destroy(f->b);
    free(f);
}

/* A schema from "name:type;name:type". */
static mr_schema *schema_of(const char *spec)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", spec);
    int n = 1;
    for (const char *p = buf; *p; p++)
        n += *p == ';';
    mr_schema *s = mr_schema_create(n);
    char *save, *tok = strtok_r(buf, ";", &save);
    for (int i = 0; i < n; i++, tok = strtok_r(NULL, ";", &save)) {
        char *colon = strchr(tok, ':');
        *colon = '\0';
        mr_type t;
        mr_err err;
        assert_int_equal(mr_type_parse(colon + 1, &t, &err), 0);
        assert_int_equal(mr_schema_set(s, i, tok, t), 0);
    }
    return s;
}

static int widened(const char *a, const char *b, char *out, size_t cap, mr_err *err)
{
    char sa[64], sb[64];
    snprintf(sa, sizeof sa, "x:%s", a);
    snprintf(sb, sizeof sb, "x:%s", b);
    mr_schema *s1 = schema_of(sa), *s2 = schema_of(sb), *o;
    const mr_schema *in[2] = {s1, s2};
    int rc = mr_union_schema(in, 2, &o, err);
    if (rc == 0) {
        mr_type_name(o->fields[0].type, out, cap);
        mr_schema_destroy(o);
    }
    mr_schema_destroy(s1);
    mr_schema_destroy(s2);
    return rc;
}

static void test_union_schema(void **state)
{
    (void)state;
    static const char *const ok[][3] = {
        {"int32", "int32", "int32"},
        {"int32", "int64", "int64"},
        {"int64", "int32", "int64"},
        {"int64", "float64", "float64"},
        {"int32", "decimal(5,2)", "decimal(18,2)"},
        {"decimal(5,2)", "int64", "decimal(18,2)"},
        {"decimal(5,2)", "decimal(9,2)", "decimal(9,2)"},
        {"decimal(5,2)", "decimal(5,4)", "decimal(18,4)"},
        {"decimal(5,2)", "float64", "float64"},
        {"date", "timestamp", "timestamp"},
        {"string", "string", "string"},
        {"bool", "bool", "bool"},
    };
    char name[64];
    mr_err err;
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        assert_int_equal(widened(ok[i][0], ok[i][1], name, sizeof name, &err), 0);
        assert_string_equal(name, ok[i][2]);
    }
    static const char *const bad[][2] = {
        {"string", "int64"}, {"bool", "int32"}, {"date", "int32"}, {"timestamp", "float64"},
        {"string", "date"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(widened(bad[i][0], bad[i][1], name, sizeof name, &err), MR_ETYPE);
        assert_non_null(strstr(err.msg, "'x'"));
    }
    /* missing and extra columns, too few inputs */
    mr_schema *a = schema_of("k:int64;v:string"), *b = schema_of("k:int64"),
              *c = schema_of("v:string;k:int64;z:bool"), *o;
    const mr_schema *ab[2] = {a, b}, *ac[2] = {a, c};
    assert_int_equal(mr_union_schema(ab, 2, &o, &err), MR_ENOTFOUND);
    assert_non_null(strstr(err.msg, "'v'"));
    assert_int_equal(mr_union_schema(ac, 2, &o, &err), MR_ENOTFOUND);
    assert_non_null(strstr(err.msg, "'z'"));
    assert_int_equal(mr_union_schema(ab, 1, &o, &err), MR_EINVAL);
    assert_null(o);
    mr_schema_destroy(a);
    mr_schema_destroy(b);
    mr_schema_destroy(c);
}

static mr_op *source(mr_schema *s, mr_batch *b)
{
    feed *f = calloc(1, sizeof *f);
    f->b = b;
    mr_op *op = mr_source_create(s, feed_next, feed_close, f, "src");
    mr_schema_destroy(s);
    return op;
}

static void test_union_rows(void **state)
{
    (void)state;
    /* input 1: k int32, d decimal(6,2), s string, t date -- two rows, one
     * filtered out by a selection vector */
    mr_schema *s1 = schema_of("k:int32;d:decimal(6,2);s:string;t:date");
    mr_batch *b1 = mr_batch_create(s1, 0);
    for (int r = 0; r < 3; r++) {
        MR_COL_I32(&b1->cols[0])[r] = r + 1;
        mr_column_set_valid(&b1->cols[0], (size_t)r, true);
        MR_COL_I64(&b1->cols[1])[r] = 1234 * (r + 1); /* 12.34 ... */
        mr_column_set_valid(&b1->cols[1], (size_t)r, r != 1);
        assert_int_equal(mr_column_set_str(&b1->cols[2], (size_t)r, "abc", (size_t)r), 0);
        MR_COL_I32(&b1->cols[3])[r] = r; /* 1970-01-01 + r days */
        mr_column_set_valid(&b1->cols[3], (size_t)r, true);
    }
    b1->nrows = 3;
    b1->sel = b1->sel_buf;
    b1->sel[0] = 0;
    b1->sel[1] = 2;
    b1->nsel = 2;
    /* input 2: other order, wider types */
    mr_schema *s2 = schema_of("t:timestamp;s:string;d:decimal(10,4);k:int64");
    mr_batch *b2 = mr_batch_create(s2, 0);
    MR_COL_I64(&b2->cols[0])[0] = 3600000000LL;
    mr_column_set_valid(&b2->cols[0], 0, true);
    mr_column_set_str_null(&b2->cols[1], 0);
    MR_COL_I64(&b2->cols[2])[0] = -5; /* -0.0005 */
    mr_column_set_valid(&b2->cols[2], 0, true);
    MR_COL_I64(&b2->cols[3])[0] = 5000000000LL;
    mr_column_set_valid(&b2->cols[3], 0, true);
    b2->nrows = 1;
    /* input 3: already in output order and type: passes through */
    mr_schema *s3 = schema_of("k:int64;d:decimal(18,4);s:string;t:timestamp");
    mr_batch *b3 = mr_batch_create(s3, 0);
    for (int c = 0; c < 4; c++)
        if (c == 2)
            mr_column_set_str_null(&b3->cols[c], 0);
        else
            mr_column_set_valid(&b3->cols[c], 0, false);
    b3->nrows = 1;
    mr_batch *b3_ptr = b3;

    mr_op *in[3] = {source(s1, b1), source(s2, b2), source(s3, b3)};
    mr_err err;
    mr_op *u = mr_union_create(in, 3, 0, "u", &err);
    assert_non_null(u);
    char tn[48];
    assert_int_equal(u->schema->nfields, 4);
    assert_string_equal(u->schema->fields[0].name, "k");
    assert_string_equal(mr_type_name(u->schema->fields[0].type, tn, sizeof tn), "int64");
    assert_string_equal(mr_type_name(u->schema->fields[1].type, tn, sizeof tn), "decimal(18,4)");
    assert_string_equal(mr_type_name(u->schema->fields[3].type, tn, sizeof tn), "timestamp");
    assert_int_equal(mr_op_open(u, NULL, &err), 0);
    mr_batch *b;
    assert_int_equal(mr_op_next(u, &b, &err), MR_NEXT_BATCH);
    assert_int_equal(mr_batch_live(b), 2);
    uint32_t r0 = mr_batch_row(b, 0), r1 = mr_batch_row(b, 1);
    assert_int_equal(MR_COL_I64(&b->cols[0])[r0], 1);
    assert_int_equal(MR_COL_I64(&b->cols[0])[r1], 3);
    assert_int_equal(MR_COL_I64(&b->cols[1])[r0], 123400);
    assert_int_equal(MR_COL_I64(&b->cols[1])[r1], 370200);
    size_t len;
    mr_column_str(&b->cols[2], r1, &len);
    assert_int_equal(len, 2);
    assert_int_equal(MR_COL_I64(&b->cols[3])[r1], 2 * 86400000000LL);
    assert_int_equal(mr_op_next(u, &b, &err), MR_NEXT_BATCH);
    assert_int_equal(mr_batch_live(b), 1);
    assert_int_equal(MR_COL_I64(&b->cols[0])[0], 5000000000LL);
    assert_int_equal(MR_COL_I64(&b->cols[1])[0], -5);
    assert_false(mr_column_is_valid(&b->cols[2], 0));
    assert_int_equal(MR_COL_I64(&b->cols[3])[0], 3600000000LL);
    assert_int_equal(mr_op_next(u, &b, &err), MR_NEXT_BATCH);
    assert_ptr_equal(b, b3_ptr); /* aligned input: no copy */
    assert_int_equal(mr_op_next(u, &b, &err), MR_NEXT_DONE);
    assert_int_equal(u->rows_out, 4);
    mr_op_close(u);
}

static void test_union_overflow_and_errors(void **state)
{
    (void)state;
    mr_schema *s1 = schema_of("v:decimal(18,4)");
    mr_schema *s2 = schema_of("v:int64");
    mr_batch *b1 = mr_batch_create(s1, 0);
    mr_batch *b2 = mr_batch_create(s2, 0);
    MR_COL_I64(&b2->cols[0])[0] = INT64_MAX / 10;
    mr_column_set_valid(&b2->cols[0], 0, true);
    b2->nrows = 1;
    mr_op *in[2] = {source(s1, b1), source(s2, b2)};
    mr_err err;
    mr_op *u = mr_union_create(in, 2, 0, "u", &err);
    assert_non_null(u);
    assert_int_equal(mr_op_open(u, NULL, &err), 0);
    mr_batch *b;
    assert_int_equal(mr_op_next(u, &b, &err), MR_EOVERFLOW);
    assert_non_null(strstr(err.msg, "node 'u'"));
    assert_non_null(strstr(err.msg, "'v'"));
    mr_op_close(u);

    /* incompatible inputs: create fails and closes every input */
    in[0] = source(schema_of("v:string"), NULL);
    in[1] = source(schema_of("v:int32"), NULL);
    assert_null(mr_union_create(in, 2, 0, "u", &err));
    assert_int_equal(err.code, MR_ETYPE);
    assert_non_null(strstr(err.msg, "node 'u'"));
    in[0] = source(schema_of("v:string"), NULL);
    assert_null(mr_union_create(in, 1, 0, "u", &err));
    assert_int_equal(err.code, MR_EINVAL);
}

/* distinct=1: duplicates within and across inputs go, widening first
 * (int32 7 and int64 7 are the same value), NULL equals NULL. */
static void test_union_distinct(void **state)
{
    (void)state;
    mr_schema *s1 = schema_of("v:int32;w:string");
    mr_schema *s2 = schema_of("w:string;v:int64");
    mr_batch *b1 = mr_batch_create(s1, 0), *b2 = mr_batch_create(s2, 0);
    const int v1[5] = {7, 7, 8, 0, 0};
    const char *w1[5] = {"a", "a", "a", NULL, NULL};
    for (int r = 0; r < 5; r++) {
        MR_COL_I32(&b1->cols[0])[r] = v1[r];
        mr_column_set_valid(&b1->cols[0], (size_t)r, r < 3);
        if (w1[r])
            mr_column_set_str(&b1->cols[1], (size_t)r, w1[r], 1);
        else
            mr_column_set_str_null(&b1->cols[1], (size_t)r);
    }
    b1->nrows = 5;
    const int64_t v2[3] = {7, 9, 8};
    const char *w2[3] = {"a", "a", "b"};
    for (int r = 0; r < 3; r++) {
        mr_column_set_str(&b2->cols[0], (size_t)r, w2[r], 1);
        MR_COL_I64(&b2->cols[1])[r] = v2[r];
        mr_column_set_valid(&b2->cols[1], (size_t)r, true);
    }
    b2->nrows = 3;
    mr_op *in[2] = {source(s1, b1), source(s2, b2)};
    mr_err err;
    mr_op *u = mr_union_create(in, 2, 1, "u", &err);
    assert_non_null(u);
    assert_int_equal(mr_op_open(u, NULL, &err), 0);
    char got[256] = "";
    size_t o = 0;
    mr_batch *b;
    int rc;
    while ((rc = mr_op_next(u, &b, &err)) == MR_NEXT_BATCH)
        for (size_t i = 0; i < mr_batch_live(b); i++) {
            uint32_t r = mr_batch_row(b, i);
            size_t n;
            const char *w = mr_column_str(&b->cols[1], r, &n);
            o += (size_t)snprintf(got + o, sizeof got - o, "%lld:%.*s ",
                                  mr_column_is_valid(&b->cols[0], r)
                                      ? (long long)MR_COL_I64(&b->cols[0])[r]
                                      : -1LL,
                                  mr_column_is_valid(&b->cols[1], r) ? (int)n : 4,
                                  mr_column_is_valid(&b->cols[1], r) ? w : "NULL");
        }
    assert_int_equal(rc, MR_NEXT_DONE);
    assert_string_equal(got, "7:a 8:a -1:NULL 9:a 8:b ");
    mr_op_close(u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_union_schema),
        cmocka_unit_test(test_union_rows),
        cmocka_unit_test(test_union_overflow_and_errors),
        cmocka_unit_test(test_union_distinct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
