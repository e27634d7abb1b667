/* test_hashjoin.c - the hash join: every join type, NULL keys, duplicates,
 * empty sides, USING keys, right_prefix, type rules, errors, large builds,
 * selection vectors, output overflow, and a differential check against a
 * nested-loop join over random data.
 *
 * Results are compared as sorted text lines ("k|s|lv|rv", NULL as "NULL"),
 * so expectations are readable and independent of row order (multiset
 * equality).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/batch.h"
#include "core/keys.h"
#include "core/op/hashjoin.h"
#include "core/op/source.h"
#include "testutil.h"

/* ---- Helpers ------------------------------------------------------------ */

/* A source over batches made of rows; rows == NULL separates batches. */
static mr_op *source_rows(const mr_schema *s, const char *const *rows, int n, int *closed)
{
    tu_feed *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->closed = closed;
    mr_batch *b = NULL;
    for (int i = 0; i <= n; i++) {
        if (i == n || !rows[i]) {
            if (b) {
                f->b = realloc(f->b, (size_t)(f->n + 1) * sizeof *f->b);
                f->b[f->n++] = b;
                b = NULL;
            }
            continue;
        }
        if (!b)
            assert_non_null(b = mr_batch_create(s, 0));
        tu_add_row(b, rows[i]);
    }
    mr_op *op = mr_source_create(s, tu_feed_next, tu_feed_close, f, "src");
    assert_non_null(op);
    return op;
}

/* Opens op, drains it into sorted lines (freeing it), returns the status.
 * *maxrows gets the largest live row count of a batch. */
static int drain(mr_op *op, tu_lines *out, size_t *maxrows, mr_err *err)
{
    int rc = mr_op_open(op, NULL, err);
    size_t mx = 0;
    while (rc >= 0) {
        mr_batch *b;
        rc = mr_op_next(op, &b, err);
        if (rc != MR_NEXT_BATCH)
            break;
        assert_int_equal(b->ncols, op->schema->nfields);
        size_t live = mr_batch_live(b);
        if (live > mx)
            mx = live;
        for (size_t i = 0; i < live; i++) {
            uint32_t r = mr_batch_row(b, i);
            char line[512] = "", v[128];
            for (int c = 0; c < b->ncols; c++) {
                assert_true(mr_type_equal(b->cols[c].type, op->schema->fields[c].type));
                tu_fmt_value(&b->cols[c], r, v, sizeof v);
                strcat(line, c ? "|" : "");
                strcat(line, v);
            }
            tu_lines_add(out, line);
        }
    }
    mr_op_close(op);
    tu_lines_sort(out);
    if (maxrows)
        *maxrows = mx;
    return rc;
}

static void expect_lines(tu_lines *got, const char *const *want, size_t n)
{
    tu_lines w = {0};
    for (size_t i = 0; i < n; i++)
        tu_lines_add(&w, want[i]);
    tu_lines_sort(&w);
    if (got->n != n) {
        for (size_t i = 0; i < got->n; i++)
            print_message("got: %s\n", got->v[i]);
    }
    assert_int_equal(got->n, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(got->v[i], w.v[i]);
    tu_lines_free(&w);
}

/* Standard test inputs: L(k int64, s string, lv int64), R(k int64, s string,
 * rv int64). */
static const char *ln[] = {"k", "s", "lv"};
static const char *rn[] = {"k", "s", "rv"};
static mr_type t3[3];

static int setup(void **state)
{
    (void)state;
    t3[0] = mr_type_make(MR_T_INT64);
    t3[1] = mr_type_make(MR_T_STRING);
    t3[2] = mr_type_make(MR_T_INT64);
    return 0;
}

static const char *L_rows[] = {"1|a|10", "2|b|20", "2|b|21", NULL, "3|c|30", "NULL|d|40",
                               "4|NULL|50"};
static const char *R_rows[] = {"2|b|200", "2|b|201", "3|x|300", NULL, "5|e|500",
                               "NULL|d|600", "4|NULL|700"};

/* Joins L_rows and R_rows on the given keys and checks the lines. */
static void run_join(mr_join_type how, const char *const *lk, const char *const *rk, int nk,
                     const char *prefix, const char *const *want, size_t nwant)
{
    mr_schema *ls = tu_schema(3, ln, t3), *rs = tu_schema(3, rn, t3);
    mr_op *l = source_rows(ls, L_rows, 7, NULL);
    mr_op *r = source_rows(rs, R_rows, 7, NULL);
    mr_err err;
    mr_op *j = mr_hashjoin_create(r, l, how, lk, rk, nk, prefix, "j", &err);
    if (!j)
        fail_msg("create: %s", err.msg);
    tu_lines got = {0};
    int rc = drain(j, &got, NULL, &err);
    if (rc < 0)
        fail_msg("join: %s", err.msg);
    expect_lines(&got, want, nwant);
    tu_lines_free(&got);
    mr_schema_destroy(ls);
    mr_schema_destroy(rs);
}

/* ---- Join types on fixed data ------------------------------------------- */

static const char *K1[] = {"k"};
static const char *KS[] = {"k", "s"};

static void test_inner(void **state)
{
    (void)state;
    /* on k: s clashes, so right_prefix */
    const char *want[] = {"2|b|20|b|200", "2|b|20|b|201", "2|b|21|b|200", "2|b|21|b|201",
                          "3|c|30|x|300", "4|NULL|50|NULL|700"};
    run_join(MR_JOIN_INNER, K1, K1, 1, "r_", want, 6);
    /* on (k, s): NULL s never matches */
    const char *want2[] = {"2|b|20|200", "2|b|20|201", "2|b|21|200", "2|b|21|201"};
    run_join(MR_JOIN_INNER, KS, KS, 2, NULL, want2, 4);
}

static void test_left(void **state)
{
    (void)state;
    const char *want[] = {"1|a|10|NULL",  "2|b|20|200",  "2|b|20|201",   "2|b|21|200",
                          "2|b|21|201",   "3|c|30|NULL", "NULL|d|40|NULL", "4|NULL|50|NULL"};
    run_join(MR_JOIN_LEFT, KS, KS, 2, NULL, want, 8);
}

static void test_right(void **state)
{
    (void)state;
    /* unmatched right rows keep their own key values (USING = right key) */
    const char *want[] = {"2|b|20|200", "2|b|20|201",  "2|b|21|200",     "2|b|21|201",
                          "3|x|NULL|300", "5|e|NULL|500", "NULL|d|NULL|600", "4|NULL|NULL|700"};
    run_join(MR_JOIN_RIGHT, KS, KS, 2, NULL, want, 8);
}

static void test_full(void **state)
{
    (void)state;
    const char *want[] = {"1|a|10|NULL",     "2|b|20|200",     "2|b|20|201",   "2|b|21|200",
                          "2|b|21|201",      "3|c|30|NULL",    "NULL|d|40|NULL", "4|NULL|50|NULL",
                          "3|x|NULL|300",    "5|e|NULL|500",   "NULL|d|NULL|600",
                          "4|NULL|NULL|700"};
    run_join(MR_JOIN_FULL, KS, KS, 2, NULL, want, 12);
}

static void test_semi_anti(void **state)
{
    (void)state;
    const char *semi[] = {"2|b|20", "2|b|21", "3|c|30", "4|NULL|50"};
    run_join(MR_JOIN_SEMI, K1, K1, 1, NULL, semi, 4);
    const char *anti[] = {"1|a|10", "NULL|d|40"};
    run_join(MR_JOIN_ANTI, K1, K1, 1, NULL, anti, 2);
    /* on (k, s): the NULL s row has no match, so anti keeps it */
    const char *semi2[] = {"2|b|20", "2|b|21"};
    run_join(MR_JOIN_SEMI, KS, KS, 2, NULL, semi2, 2);
    const char *anti2[] = {"1|a|10", "3|c|30", "NULL|d|40", "4|NULL|50"};
    run_join(MR_JOIN_ANTI, KS, KS, 2, NULL, anti2, 4);
}

/* ---- Empty sides --------------------------------------------------------- */

static void run_empty(mr_join_type how, bool empty_build, size_t want_rows)
{
    mr_schema *ls = tu_schema(3, ln, t3), *rs = tu_schema(3, rn, t3);
    mr_op *l = empty_build ? source_rows(ls, L_rows, 7, NULL) : source_rows(ls, NULL, 0, NULL);
    mr_op *r = empty_build ? source_rows(rs, NULL, 0, NULL) : source_rows(rs, R_rows, 7, NULL);
    mr_err err;
    mr_op *j = mr_hashjoin_create(r, l, how, KS, KS, 2, NULL, "j", &err);
    assert_non_null(j);
    tu_lines got = {0};
    assert_int_equal(drain(j, &got, NULL, &err), MR_NEXT_DONE);
    assert_int_equal(got.n, want_rows);
    /* the missing side is all NULL */
    for (size_t i = 0; i < got.n; i++) {
        if (how == MR_JOIN_SEMI || how == MR_JOIN_ANTI)
            continue;
        const char *tail = strrchr(got.v[i], '|');
        if (empty_build)
            assert_string_equal(tail, "|NULL");
        else
            assert_non_null(strstr(got.v[i], "|NULL|"));
    }
    tu_lines_free(&got);
    mr_schema_destroy(ls);
    mr_schema_destroy(rs);
}

static void test_empty_build(void **state)
{
    (void)state;
    run_empty(MR_JOIN_INNER, true, 0);
    run_empty(MR_JOIN_LEFT, true, 6);
    run_empty(MR_JOIN_RIGHT, true, 0);
    run_empty(MR_JOIN_FULL, true, 6);
    run_empty(MR_JOIN_SEMI, true, 0);
    run_empty(MR_JOIN_ANTI, true, 6);
}

static void test_empty_probe(void **state)
{
    (void)state;
    run_empty(MR_JOIN_INNER, false, 0);
    run_empty(MR_JOIN_LEFT, false, 0);
    run_empty(MR_JOIN_RIGHT, false, 6);
    run_empty(MR_JOIN_FULL, false, 6);
    run_empty(MR_JOIN_SEMI, false, 0);
    run_empty(MR_JOIN_ANTI, false, 0);
}

/* ---- Schemas: USING, prefix, clashes, key types -------------------------- */

static void test_using_full_coalesce(void **state)
{
    (void)state;
    const char *n1[] = {"id", "a"}, *n2[] = {"id", "b"};
    mr_type t[2] = {mr_type_make(MR_T_INT64), mr_type_make(MR_T_STRING)};
    mr_schema *ls = tu_schema(2, n1, t), *rs = tu_schema(2, n2, t);
    const char *lrows[] = {"1|l1", "2|l2", "NULL|l3"};
    const char *rrows[] = {"2|r2", "3|r3", "NULL|r4"};
    const char *id[] = {"id"};
    mr_err err;
    mr_op *j = mr_hashjoin_create(source_rows(rs, rrows, 3, NULL), source_rows(ls, lrows, 3, NULL),
                                  MR_JOIN_FULL, id, id, 1, NULL, "j", &err);
    assert_non_null(j);
    assert_int_equal(j->schema->nfields, 3);
    assert_string_equal(j->schema->fields[0].name, "id");
    assert_string_equal(j->schema->fields[1].name, "a");
    assert_string_equal(j->schema->fields[2].name, "b");
    tu_lines got = {0};
    assert_int_equal(drain(j, &got, NULL, &err), MR_NEXT_DONE);
    const char *want[] = {"1|l1|NULL", "2|l2|r2", "NULL|l3|NULL", "3|NULL|r3", "NULL|NULL|r4"};
    expect_lines(&got, want, 5);
    tu_lines_free(&got);
    mr_schema_destroy(ls);
    mr_schema_destroy(rs);
}

static void test_right_prefix(void **state)
{
    (void)state;
    const char *n1[] = {"id", "name"}, *n2[] = {"uid", "name"};
    mr_type t[2] = {mr_type_make(MR_T_INT64), mr_type_make(MR_T_STRING)};
    mr_schema *ls = tu_schema(2, n1, t), *rs = tu_schema(2, n2, t);
    const char *lk[] = {"id"}, *rk[] = {"uid"};
    mr_err err;
    /* differently named keys both appear; the prefix goes on every right column */
    mr_schema *s = mr_hashjoin_schema(ls, rs, MR_JOIN_INNER, lk, rk, 1, "r_", "j", &err);
    assert_non_null(s);
    assert_int_equal(s->nfields, 4);
    assert_string_equal(s->fields[0].name, "id");
    assert_string_equal(s->fields[1].name, "name");
    assert_string_equal(s->fields[2].name, "r_uid");
    assert_string_equal(s->fields[3].name, "r_name");
    mr_schema_destroy(s);
    /* without a prefix, 'name' clashes: NULL, a message naming it, inputs closed */
    int closed = 0;
    mr_op *j = mr_hashjoin_create(source_rows(rs, NULL, 0, &closed),
                                  source_rows(ls, NULL, 0, &closed), MR_JOIN_LEFT, lk, rk, 1,
                                  NULL, "j", &err);
    assert_null(j);
    assert_int_equal(err.code, MR_EINVAL);
    assert_non_null(strstr(err.msg, "node 'j'"));
    assert_non_null(strstr(err.msg, "'name'"));
    assert_non_null(strstr(err.msg, "right_prefix"));
    assert_int_equal(closed, 2);
    /* semi and anti output no right column, so no clash */
    s = mr_hashjoin_schema(ls, rs, MR_JOIN_SEMI, lk, rk, 1, NULL, "j", &err);
    assert_non_null(s);
    assert_int_equal(s->nfields, 2);
    mr_schema_destroy(s);
    /* a prefix that recreates a left name still clashes */
    const char *n3[] = {"id", "r_x"}, *n4[] = {"uid", "x"};
    mr_schema *ls2 = tu_schema(2, n3, t), *rs2 = tu_schema(2, n4, t);
    assert_null(mr_hashjoin_schema(ls2, rs2, MR_JOIN_INNER, lk, rk, 1, "r_", "j", &err));
    assert_non_null(strstr(err.msg, "'r_x'"));
    mr_schema_destroy(ls2);
    mr_schema_destroy(rs2);
    mr_schema_destroy(ls);
    mr_schema_destroy(rs);
}

static void test_key_errors(void **state)
{
    (void)state;
    mr_schema *ls = tu_schema(3, ln, t3), *rs = tu_schema(3, rn, t3);
    mr_err err;
    const char *bad[] = {"nope"}, *lv[] = {"lv"}, *s[] = {"s"};
    assert_null(mr_hashjoin_schema(ls, rs, MR_JOIN_INNER, bad, K1, 1, NULL, "j", &err));
    assert_int_equal(err.code, MR_ENOTFOUND);
    assert_non_null(strstr(err.msg, "'nope' not found in the left input"));
    assert_non_null(strstr(err.msg, "k, s, lv"));
    assert_null(mr_hashjoin_schema(ls, rs, MR_JOIN_INNER, K1, bad, 1, NULL, "j", &err));
    assert_non_null(strstr(err.msg, "right input"));
    /* int64 with string */
    assert_null(mr_hashjoin_schema(ls, rs, MR_JOIN_INNER, lv, s, 1, NULL, "j", &err));
    assert_int_equal(err.code, MR_ETYPE);
    assert_non_null(strstr(err.msg, "node 'j': join keys 'lv' (left) and 's' (right)"));
    assert_non_null(strstr(err.msg, "int64 and string"));
    /* no keys */
    assert_null(mr_hashjoin_schema(ls, rs, MR_JOIN_INNER, K1, K1, 0, NULL, "j", &err));
    assert_int_equal(err.code, MR_EINVAL);
    /* decimals that cannot be compared within 18 digits */
    const char *d[] = {"d"};
    mr_type d1 = mr_type_decimal(18, 0), d2 = mr_type_decimal(10, 4);
    mr_schema *a = tu_schema(1, d, &d1), *b = tu_schema(1, d, &d2);
    assert_null(mr_hashjoin_schema(a, b, MR_JOIN_INNER, d, d, 1, NULL, "j", &err));
    assert_int_equal(err.code, MR_ETYPE);
    assert_non_null(strstr(err.msg, "decimal(22,4)"));
    /* int with float, date with timestamp are refused too */
    mr_type ti = mr_type_make(MR_T_INT32), tf = mr_type_make(MR_T_FLOAT64), tc;
    assert_int_equal(mr_keys_common_type(ti, tf, &tc, &err), MR_ETYPE);
    assert_int_equal(mr_keys_common_type(mr_type_make(MR_T_DATE), mr_type_make(MR_T_TIMESTAMP),
                                         &tc, &err),
                     MR_ETYPE);
    mr_schema_destroy(a);
    mr_schema_destroy(b);
    mr_schema_destroy(ls);
    mr_schema_destroy(rs);
    /* join types by name */
    mr_join_type how;
    assert_int_equal(mr_join_type_parse("full", &how, &err), 0);
    assert_int_equal(how, MR_JOIN_FULL);
    assert_string_equal(mr_join_type_name(MR_JOIN_ANTI), "anti");
    assert_int_equal(mr_join_type_parse("outer", &how, &err), MR_EINVAL);
    assert_non_null(strstr(err.msg, "'outer'"));
}

static void test_widening_keys(void **state)
{
    (void)state;
    /* int32 left key with int64 right key: the USING column is int64 */
    const char *n1[] = {"k", "a"}, *n2[] = {"k", "b"};
    mr_type lt[2] = {mr_type_make(MR_T_INT32), mr_type_make(MR_T_STRING)};
    mr_type rt[2] = {mr_type_make(MR_T_INT64), mr_type_make(MR_T_STRING)};
    mr_schema *ls = tu_schema(2, n1, lt), *rs = tu_schema(2, n2, rt);
    const char *lrows[] = {"1|a1", "-7|a2", "2147483647|a3", "NULL|a4"};
    const char *rrows[] = {"1|b1", "-7|b2", "2147483647|b3", "4294967297|b4"};
    mr_err err;
    mr_op *j = mr_hashjoin_create(source_rows(rs, rrows, 4, NULL), source_rows(ls, lrows, 4, NULL),
                                  MR_JOIN_FULL, K1, K1, 1, NULL, "j", &err);
    assert_non_null(j);
    assert_int_equal(j->schema->fields[0].type.id, MR_T_INT64);
    tu_lines got = {0};
    assert_int_equal(drain(j, &got, NULL, &err), MR_NEXT_DONE);
    const char *want[] = {"1|a1|b1", "-7|a2|b2", "2147483647|a3|b3", "NULL|a4|NULL",
                          "4294967297|NULL|b4"};
    expect_lines(&got, want, 5);
    tu_lines_free(&got);
    mr_schema_destroy(ls);
    mr_schema_destroy(rs);

    /* decimal(8,1) with decimal(10,2): compared at scale 2, 1.5 = 1.50 */
    mr_type dl[2] = {mr_type_decimal(8, 1), mr_type_make(MR_T_STRING)};
    mr_type dr[2] = {mr_type_decimal(10, 2), mr_type_make(MR_T_STRING)};
    ls = tu_schema(2, n1, dl);
    rs = tu_schema(2, n2, dr);
    const char *dlr[] = {"1.5|x", "-2.0|y", "3.1|z"};
    const char *drr[] = {"1.50|p", "-2.00|q", "3.15|r"};
    j = mr_hashjoin_create(source_rows(rs, drr, 3, NULL), source_rows(ls, dlr, 3, NULL),
                           MR_JOIN_LEFT, K1, K1, 1, NULL, "j", &err);
    assert_non_null(j);
    assert_int_equal(j->schema->fields[0].type.id, MR_T_DECIMAL);
    assert_int_equal(j->schema->fields[0].type.scale, 2);
    memset(&got, 0, sizeof got);
    assert_int_equal(drain(j, &got, NULL, &err), MR_NEXT_DONE);
    const char *want2[] = {"1.50|x|p", "-2.00|y|q", "3.10|z|NULL"};
    expect_lines(&got, want2, 3);
    tu_lines_free(&got);
    mr_schema_destroy(ls);
    mr_schema_destroy(rs);
}

static void test_float_and_string_keys(void **state)
{
    (void)state;
    const char *n1[] = {"f", "s", "a"}, *n2[] = {"f", "s", "b"};
    mr_type t[3] = {mr_type_make(MR_T_FLOAT64), mr_type_make(MR_T_STRING),
                    mr_type_make(MR_T_INT64)};
    mr_schema *ls = tu_schema(3, n1, t), *rs = tu_schema(3, n2, t);
    const char *lrows[] = {"-0|x|1", "1.5||2", "2|héllo|3", "2|hello|4", "3|abcdefghijklmnopq|5"};
    const char *rrows[] = {"0|x|10", "1.5||20", "2|héllo|30", "3|abcdefghijklmnopr|40"};
    const char *keys[] = {"f", "s"};
    mr_err err;
    mr_op *j = mr_hashjoin_create(source_rows(rs, rrows, 4, NULL), source_rows(ls, lrows, 5, NULL),
                                  MR_JOIN_INNER, keys, keys, 2, NULL, "j", &err);
    assert_non_null(j);
    tu_lines got = {0};
    assert_int_equal(drain(j, &got, NULL, &err), MR_NEXT_DONE);
    /* -0.0 matches 0.0; the empty string is a value (not NULL) and matches */
    const char *want[] = {"-0|x|1|10", "1.5||2|20", "2|héllo|3|30"};
    expect_lines(&got, want, 3);
    tu_lines_free(&got);
    mr_schema_destroy(ls);
    mr_schema_destroy(rs);
}

/* ---- Sizes: large builds, output overflow, selections -------------------- */

static mr_batch *int_batch(const mr_schema *s, size_t n, int64_t (*k)(size_t), int64_t (*v)(size_t))
{
    mr_batch *b = mr_batch_create(s, n);
    assert_non_null(b);
    for (size_t i = 0; i < n; i++) {
        MR_COL_I64(&b->cols[0])[i] = k(i);
        MR_COL_I64(&b->cols[1])[i] = v(i);
        mr_column_set_valid(&b->cols[0], i, true);
        mr_column_set_valid(&b->cols[1], i, true);
    }
    b->nrows = n;
    return b;
}

static size_t g_base;
static int64_t k_id(size_t i) { return (int64_t)(g_base + i); }
static int64_t v_twice(size_t i) { return 2 * (int64_t)(g_base + i); }
static int64_t k_one(size_t i) { (void)i; return 1; }
static int64_t v_id(size_t i) { return (int64_t)i; }

static void test_large_build(void **state)
{
    (void)state;
    const char *n1[] = {"k", "a"}, *n2[] = {"k", "b"};
    mr_type t[2] = {mr_type_make(MR_T_INT64), mr_type_make(MR_T_INT64)};
    mr_schema *ls = tu_schema(2, n1, t), *rs = tu_schema(2, n2, t);
    /* build: keys 0..99999 (b = 2k) in batches of 4096; probe: 50000..149999 */
    mr_batch *rb[32], *lb[32];
    int nr = 0, nl = 0;
    for (g_base = 0; g_base < 100000; g_base += MR_BATCH_ROWS) {
        size_t n = 100000 - g_base < MR_BATCH_ROWS ? 100000 - g_base : MR_BATCH_ROWS;
        rb[nr++] = int_batch(rs, n, k_id, v_twice);
    }
    for (g_base = 50000; g_base < 150000; g_base += 10000)
        lb[nl++] = int_batch(ls, 10000, k_id, v_id);
    mr_err err;
    mr_op *j = mr_hashjoin_create(tu_source_batches(rs, rb, nr, NULL), tu_source_batches(ls, lb, nl, NULL),
                                  MR_JOIN_LEFT, K1, K1, 1, NULL, "j", &err);
    assert_non_null(j);
    assert_int_equal(mr_hashjoin_memory(j), 0);
    assert_int_equal(mr_op_open(j, NULL, &err), 0);
    assert_int_equal(mr_hashjoin_build_rows(j), 0); /* the first next() builds */
    size_t rows = 0, matched = 0;
    mr_batch *b;
    int rc;
    while ((rc = mr_op_next(j, &b, &err)) == MR_NEXT_BATCH) {
        assert_int_equal(mr_hashjoin_build_rows(j), 100000);
        assert_true(mr_hashjoin_memory(j) > 100000 * 16);
        assert_true(mr_batch_live(b) <= MR_BATCH_ROWS);
        for (size_t i = 0; i < mr_batch_live(b); i++) {
            uint32_t r = mr_batch_row(b, i);
            int64_t k = MR_COL_I64(&b->cols[0])[r];
            if (mr_column_is_valid(&b->cols[2], r)) {
                assert_int_equal(MR_COL_I64(&b->cols[2])[r], 2 * k);
                assert_true(k < 100000);
                matched++;
            } else {
                assert_true(k >= 100000);
            }
            rows++;
        }
    }
    assert_int_equal(rc, MR_NEXT_DONE);
    assert_int_equal(rows, 100000);
    assert_int_equal(matched, 50000);
    assert_int_equal(j->rows_out, 100000);
    mr_op_close(j);
    mr_schema_destroy(ls);
    mr_schema_destroy(rs);
}

static void test_output_overflow(void **state)
{
    (void)state;
    const char *n1[] = {"k", "a"}, *n2[] = {"k", "b"};
    mr_type t[2] = {mr_type_make(MR_T_INT64), mr_type_make(MR_T_INT64)};
    mr_schema *ls = tu_schema(2, n1, t), *rs = tu_schema(2, n2, t);
    for (int how = MR_JOIN_INNER; how <= MR_JOIN_FULL; how++) {
        /* 150 x 100 rows of key 1: 15000 pairs from one probe batch; one
         * extra probe row with key 2 finds no partner */
        mr_batch *rb = int_batch(rs, 100, k_one, v_id);
        mr_batch *lb = int_batch(ls, 151, k_one, v_id);
        MR_COL_I64(&lb->cols[0])[150] = 2;
        mr_err err;
        mr_op *j = mr_hashjoin_create(tu_source_batches(rs, &rb, 1, NULL), tu_source_batches(ls, &lb, 1, NULL),
                                      (mr_join_type)how, K1, K1, 1, NULL, "j", &err);
        assert_non_null(j);
        tu_lines got = {0};
        size_t mx = 0;
        assert_int_equal(drain(j, &got, &mx, &err), MR_NEXT_DONE);
        bool keep = how == MR_JOIN_LEFT || how == MR_JOIN_FULL;
        assert_int_equal(got.n, 15000 + keep);
        assert_int_equal(mx, MR_BATCH_ROWS);
        /* every (a, b) pair exactly once */
        size_t pairs = 0;
        for (size_t i = 0; i < got.n; i++) {
            long long k, a;
            char b[32];
            assert_int_equal(sscanf(got.v[i], "%lld|%lld|%31s", &k, &a, b), 3);
            if (k == 2) {
                assert_string_equal(b, "NULL");
                continue;
            }
            pairs++;
            if (i > 0)
                assert_string_not_equal(got.v[i], got.v[i - 1]);
        }
        assert_int_equal(pairs, 15000);
        tu_lines_free(&got);
    }
    mr_schema_destroy(ls);
    mr_schema_destroy(rs);
}

static void test_selection_vectors(void **state)
{
    (void)state;
    mr_schema *ls = tu_schema(3, ln, t3), *rs = tu_schema(3, rn, t3);
    const char *lrows[] = {"1|a|1", "2|b|2", "3|c|3", "4|d|4", "5|e|5", "6|f|6"};
    const char *rrows[] = {"1|a|10", "2|b|20", "3|c|30", "4|d|40", "5|e|50", "6|f|60"};
    for (int how = MR_JOIN_INNER; how <= MR_JOIN_ANTI; how++) {
        mr_batch *lb = mr_batch_create(ls, 0), *rb = mr_batch_create(rs, 0);
        for (int i = 0; i < 6; i++) {
            tu_add_row(lb, lrows[i]);
            tu_add_row(rb, rrows[i]);
        }
        /* left keeps 1, 3, 5, 6; right keeps 1, 2, 3 */
        lb->sel = lb->sel_buf;
        lb->sel[0] = 0, lb->sel[1] = 2, lb->sel[2] = 4, lb->sel[3] = 5;
        lb->nsel = 4;
        rb->sel = rb->sel_buf;
        rb->sel[0] = 0, rb->sel[1] = 1, rb->sel[2] = 2;
        rb->nsel = 3;
        mr_err err;
        mr_op *j = mr_hashjoin_create(tu_source_batches(rs, &rb, 1, NULL), tu_source_batches(ls, &lb, 1, NULL),
                                      (mr_join_type)how, KS, KS, 2, NULL, "j", &err);
        assert_non_null(j);
        tu_lines got = {0};
        assert_int_equal(drain(j, &got, NULL, &err), MR_NEXT_DONE);
        static const char *want[6][6] = {
            {"1|a|1|10", "3|c|3|30"},
            {"1|a|1|10", "3|c|3|30", "5|e|5|NULL", "6|f|6|NULL"},
            {"1|a|1|10", "3|c|3|30", "2|b|NULL|20"},
            {"1|a|1|10", "3|c|3|30", "5|e|5|NULL", "6|f|6|NULL", "2|b|NULL|20"},
            {"1|a|1", "3|c|3"},
            {"5|e|5", "6|f|6"},
        };
        static const size_t nwant[6] = {2, 4, 3, 5, 2, 2};
        expect_lines(&got, want[how], nwant[how]);
        tu_lines_free(&got);
    }
    mr_schema_destroy(ls);
    mr_schema_destroy(rs);
}

/* ---- Differential: nested loops over random data ------------------------- */

typedef struct rrow {
    int64_t k;
    int s;   /* index into words, -1 for NULL */
    bool knull;
    int64_t v;
    bool live; /* not hidden by the selection vector */
} rrow;

static const char *words[] = {"", "a", "b", "ab", "héllo", "a long string over sixteen bytes"};

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void gen(rrow *rows, size_t n, uint64_t *seed, int64_t base)
{
    for (size_t i = 0; i < n; i++) {
        rows[i].knull = rnd(seed) % 7 == 0;
        rows[i].k = (int64_t)(rnd(seed) % 6);
        rows[i].s = rnd(seed) % 8 == 0 ? -1 : (int)(rnd(seed) % 3);
        if (rnd(seed) % 5 == 0)
            rows[i].s = 3 + (int)(rnd(seed) % 3);
        rows[i].v = base + (int64_t)i;
        rows[i].live = rnd(seed) % 4 != 0;
    }
}

/* Splits rows into batches of random sizes, some with selection vectors. */
static mr_op *rand_source(const mr_schema *s, rrow *rows, size_t n, uint64_t *seed)
{
    mr_batch *bs[256];
    int nb = 0;
    size_t i = 0;
    while (i < n) {
        size_t m = 1 + rnd(seed) % 97;
        if (m > n - i)
            m = n - i;
        mr_batch *b = mr_batch_create(s, 0);
        assert_non_null(b);
        bool use_sel = rnd(seed) % 2;
        b->sel = use_sel ? b->sel_buf : NULL;
        for (size_t r = 0; r < m; r++) {
            rrow *x = &rows[i + r];
            if (!use_sel)
                x->live = true; /* no selection: every row is live */
            MR_COL_I64(&b->cols[0])[r] = x->k;
            mr_column_set_valid(&b->cols[0], r, !x->knull);
            if (x->s < 0)
                mr_column_set_str_null(&b->cols[1], r);
            else
                assert_int_equal(mr_column_set_str(&b->cols[1], r, words[x->s], strlen(words[x->s])), 0);
            MR_COL_I64(&b->cols[2])[r] = x->v;
            mr_column_set_valid(&b->cols[2], r, true);
            if (use_sel && x->live)
                b->sel[b->nsel++] = (uint32_t)r;
        }
        b->nrows = m;
        assert_true(nb < 256);
        bs[nb++] = b;
        i += m;
    }
    return tu_source_batches(s, bs, nb, NULL);
}

static void fmt_rrow_key(const rrow *x, char *buf, size_t cap)
{
    char k[32];
    if (x->knull)
        snprintf(k, sizeof k, "NULL");
    else
        snprintf(k, sizeof k, "%lld", (long long)x->k);
    snprintf(buf, cap, "%s|%s", k, x->s < 0 ? "NULL" : words[x->s]);
}

static bool rrow_match(const rrow *a, const rrow *b)
{
    return !a->knull && !b->knull && a->s >= 0 && b->s >= 0 && a->k == b->k && a->s == b->s;
}

static void nested_loop(mr_join_type how, rrow *l, size_t nl, rrow *r, size_t nr, tu_lines *out)
{
    bool *rm = calloc(nr + 1, 1);
    char line[256], key[128];
    for (size_t i = 0; i < nl; i++) {
        if (!l[i].live)
            continue;
        bool any = false;
        fmt_rrow_key(&l[i], key, sizeof key);
        for (size_t j = 0; j < nr; j++) {
            if (!r[j].live || !rrow_match(&l[i], &r[j]))
                continue;
            any = true;
            rm[j] = true;
            if (how <= MR_JOIN_FULL) {
                snprintf(line, sizeof line, "%s|%lld|%lld", key, (long long)l[i].v, (long long)r[j].v);
                tu_lines_add(out, line);
            }
        }
        if ((how == MR_JOIN_SEMI && any) || (how == MR_JOIN_ANTI && !any)) {
            snprintf(line, sizeof line, "%s|%lld", key, (long long)l[i].v);
            tu_lines_add(out, line);
        }
        if (!any && (how == MR_JOIN_LEFT || how == MR_JOIN_FULL)) {
            snprintf(line, sizeof line, "%s|%lld|NULL", key, (long long)l[i].v);
            tu_lines_add(out, line);
        }
    }
    if (how == MR_JOIN_RIGHT || how == MR_JOIN_FULL)
        for (size_t j = 0; j < nr; j++) {
            if (!r[j].live || rm[j])
                continue;
            fmt_rrow_key(&r[j], key, sizeof key);
            snprintf(line, sizeof line, "%s|NULL|%lld", key, (long long)r[j].v);
            tu_lines_add(out, line);
        }
    free(rm);
    tu_lines_sort(out);
}

static void test_random_vs_nested_loop(void **state)
{
    (void)state;
    mr_schema *ls = tu_schema(3, ln, t3), *rs = tu_schema(3, rn, t3);
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    enum { NL = 1500, NR = 700 };
    rrow *l = malloc(NL * sizeof *l), *r = malloc(NR * sizeof *r);
    for (int round = 0; round < 4; round++) {
        size_t nl = round == 3 ? 0 : NL - (size_t)round * 400, nr = round == 2 ? 0 : NR;
        if (round == 3)
            nr = 50;
        gen(l, nl, &seed, 1000000);
        gen(r, nr, &seed, 2000000);
        for (int how = MR_JOIN_INNER; how <= MR_JOIN_ANTI; how++) {
            uint64_t s2 = seed + (uint64_t)how;
            mr_err err;
            mr_op *j = mr_hashjoin_create(rand_source(rs, r, nr, &s2), rand_source(ls, l, nl, &s2),
                                          (mr_join_type)how, KS, KS, 2, NULL, "j", &err);
            assert_non_null(j);
            tu_lines got = {0}, want = {0};
            assert_int_equal(drain(j, &got, NULL, &err), MR_NEXT_DONE);
            nested_loop((mr_join_type)how, l, nl, r, nr, &want);
            assert_int_equal(got.n, want.n);
            for (size_t i = 0; i < got.n; i++)
                assert_string_equal(got.v[i], want.v[i]);
            tu_lines_free(&got);
            tu_lines_free(&want);
        }
    }
    free(l);
    free(r);
    mr_schema_destroy(ls);
    mr_schema_destroy(rs);
}

/* A failing input surfaces its error from open (build) or next (probe). */
static int fail_next(void *ctx, mr_batch **out, mr_err *err)
{
    (void)ctx;
    (void)out;
    return mr_err_set(err, MR_EIO, "disk on fire");
}

static void test_child_errors(void **state)
{
    (void)state;
    mr_schema *ls = tu_schema(3, ln, t3), *rs = tu_schema(3, rn, t3);
    mr_err err;
    mr_op *j = mr_hashjoin_create(mr_source_create(rs, fail_next, NULL, NULL, "r"),
                                  source_rows(ls, L_rows, 7, NULL), MR_JOIN_INNER, K1, K1, 1,
                                  "r_", "j", &err);
    assert_non_null(j);
    assert_int_equal(mr_op_open(j, NULL, &err), 0);
    mr_batch *b;
    assert_int_equal(mr_op_next(j, &b, &err), MR_EIO); /* the build drains in next */
    assert_non_null(strstr(err.msg, "disk on fire"));
    mr_op_close(j);
    j = mr_hashjoin_create(source_rows(rs, R_rows, 7, NULL),
                           mr_source_create(ls, fail_next, NULL, NULL, "l"), MR_JOIN_FULL, K1, K1,
                           1, "r_", "j", &err);
    assert_non_null(j);
    assert_int_equal(mr_op_open(j, NULL, &err), 0);
    assert_int_equal(mr_op_next(j, &b, &err), MR_EIO);
    mr_op_close(j);
    /* close without open, and NULL inputs */
    mr_op_close(mr_hashjoin_create(source_rows(rs, NULL, 0, NULL), source_rows(ls, NULL, 0, NULL),
                                   MR_JOIN_INNER, K1, K1, 1, "r_", "j", &err));
    int closed = 0;
    assert_null(mr_hashjoin_create(source_rows(rs, NULL, 0, &closed), NULL, MR_JOIN_INNER, K1, K1,
                                   1, NULL, "j", &err));
    assert_int_equal(closed, 1);
    mr_schema_destroy(ls);
    mr_schema_destroy(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_inner, setup),
        cmocka_unit_test_setup(test_left, setup),
        cmocka_unit_test_setup(test_right, setup),
        cmocka_unit_test_setup(test_full, setup),
        cmocka_unit_test_setup(test_semi_anti, setup),
        cmocka_unit_test_setup(test_empty_build, setup),
        cmocka_unit_test_setup(test_empty_probe, setup),
        cmocka_unit_test_setup(test_using_full_coalesce, setup),
        cmocka_unit_test_setup(test_right_prefix, setup),
        cmocka_unit_test_setup(test_key_errors, setup),
        cmocka_unit_test_setup(test_widening_keys, setup),
        cmocka_unit_test_setup(test_float_and_string_keys, setup),
        cmocka_unit_test_setup(test_large_build, setup),
        cmocka_unit_test_setup(test_output_overflow, setup),
        cmocka_unit_test_setup(test_selection_vectors, setup),
        cmocka_unit_test_setup(test_random_vs_nested_loop, setup),
        cmocka_unit_test_setup(test_child_errors, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
