/* test_sort.c - the sort operator: key parsing, every type asc/desc with
 * nulls first/last, multi-key, stability, string and float corner cases,
 * and top-N against a full sort, checked against a plain reference
 * comparator on random data split over many batches. */
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
#include "core/op/sort.h"
#include "core/op/source.h"

/* ---- Feeding batches ------------------------------------------------------ */

typedef struct feed {
    mr_batch **b;
    int n, i;
} feed;

static int feed_next(void *ctx, mr_batch **out, mr_err *err)
{
    (void)err;
    feed *f = ctx;
    if (f->i >= f->n)
        return MR_NEXT_DONE;
    *out = f->b[f->i++];
    return MR_NEXT_BATCH;
}

static void feed_close(void *ctx)
{
    feed *f = ctx;
    for (int i = 0; i < f->n; i++)
        mr_batch_destroy(f->b[i]);
    free(f->b);
    free(f);
}

/* ---- The random table ----------------------------------------------------- */

#define NCOLS 9 /* id, then one column per type */
static const char *const names[NCOLS] = {"id", "b", "i32", "i64", "f", "d", "s", "dt", "ts"};

typedef struct table {
    size_t n;
    int64_t *id;
    uint8_t *null[NCOLS];
    uint8_t *b;
    int32_t *i32;
    int64_t *i64;
    double *f;
    int64_t *d;
    char **s;
    size_t *slen;
    int32_t *dt;
    int64_t *ts;
} table;

static mr_schema *table_schema(void)
{
    mr_type t[NCOLS] = {mr_type_make(MR_T_INT64),   mr_type_make(MR_T_BOOL),
                        mr_type_make(MR_T_INT32),   mr_type_make(MR_T_INT64),
                        mr_type_make(MR_T_FLOAT64), mr_type_decimal(10, 2),
                        mr_type_make(MR_T_STRING),  mr_type_make(MR_T_DATE),
                        mr_type_make(MR_T_TIMESTAMP)};
    mr_schema *s = mr_schema_create(NCOLS);
    for (int i = 0; i < NCOLS; i++)
        assert_int_equal(mr_schema_set(s, i, names[i], t[i]), 0);
    return s;
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void table_random(table *t, size_t n, int small)
{
    memset(t, 0, sizeof *t);
    t->n = n;
    t->id = calloc(n, 8);
    for (int c = 0; c < NCOLS; c++)
        t->null[c] = calloc(n, 1);
    t->b = calloc(n, 1);
    t->i32 = calloc(n, 4);
    t->i64 = calloc(n, 8);
    t->f = calloc(n, 8);
    t->d = calloc(n, 8);
    t->s = calloc(n, sizeof *t->s);
    t->slen = calloc(n, sizeof *t->slen);
    t->dt = calloc(n, 4);
    t->ts = calloc(n, 8);
    static const double specials[] = {0.0, -0.0, INFINITY, -INFINITY, NAN, 1.5, -1.5, 1e300};
    for (size_t r = 0; r < n; r++) {
        t->id[r] = (int64_t)r;
        for (int c = 1; c < NCOLS; c++)
            t->null[c][r] = rnd() % 7 == 0;
        uint64_t m = small ? 5 : 1000000;
        t->b[r] = rnd() & 1;
        t->i32[r] = (int32_t)(rnd() % m) - (int32_t)(m / 2);
        if (rnd() % 20 == 0)
            t->i32[r] = rnd() & 1 ? INT32_MIN : INT32_MAX;
        t->i64[r] = (int64_t)(rnd() % m) - (int64_t)(m / 2);
        if (rnd() % 20 == 0)
            t->i64[r] = rnd() & 1 ? INT64_MIN : INT64_MAX;
        t->f[r] = rnd() % 3 == 0 ? specials[rnd() % 8] : ((double)(rnd() % m) - (double)m / 2) / 3;
        t->d[r] = (int64_t)(rnd() % m) - (int64_t)(m / 2);
        size_t len = rnd() % (small ? 3 : 6);
        t->s[r] = malloc(len + 1);
        for (size_t k = 0; k < len; k++) {
            static const char alpha[] = {'a', 'b', '\0', '\x01', '\xff', 'a'};
            t->s[r][k] = alpha[rnd() % 6];
        }
        t->slen[r] = len;
        t->dt[r] = (int32_t)(rnd() % m) - (int32_t)(m / 2);
        t->ts[r] = (int64_t)(rnd() % m) * 1000003 - (int64_t)m * 500000;
    }
}

static void table_free(table *t)
{
    for (size_t r = 0; r < t->n; r++)
        free(t->s[r]);
    for (int c = 0; c < NCOLS; c++)
        free(t->null[c]);
    free(t->id), free(t->b), free(t->i32), free(t->i64), free(t->f), free(t->d);
    free(t->s), free(t->slen), free(t->dt), free(t->ts);
}

/* Puts rows [from, to) of t into a new batch; with sel, adds two junk rows
 * before each real one and selects only the real ones. */
static mr_batch *table_batch(const table *t, const mr_schema *sc, size_t from, size_t to, int sel)
{
    mr_batch *b = mr_batch_create(sc, 0);
    size_t n = to - from, phys = sel ? n * 3 : n;
    assert_int_equal(mr_batch_reserve(b, phys > 0 ? phys : 1), 0);
    for (size_t p = 0; p < phys; p++) {
        size_t r = sel ? from + p / 3 : from + p;
        int junk = sel && p % 3 != 2;
        for (int c = 0; c < NCOLS; c++) {
            mr_column *col = &b->cols[c];
            int isnull = junk ? (int)(rnd() & 1) : t->null[c][r];
            if (c == 6) {
                if (isnull)
                    mr_column_set_str_null(col, p);
                else
                    assert_int_equal(mr_column_set_str(col, p, junk ? "zz" : t->s[r],
                                                       junk ? 2 : t->slen[r]),
                                     0);
                continue;
            }
            mr_column_set_valid(col, p, !isnull);
            switch (c) {
            case 0: MR_COL_I64(col)[p] = junk ? -1 : t->id[r]; break;
            case 1: MR_COL_U8(col)[p] = t->b[r]; break;
            case 2: MR_COL_I32(col)[p] = junk ? 7 : t->i32[r]; break;
            case 3: MR_COL_I64(col)[p] = t->i64[r]; break;
            case 4: MR_COL_F64(col)[p] = t->f[r]; break;
            case 5: MR_COL_I64(col)[p] = t->d[r]; break;
            case 7: MR_COL_I32(col)[p] = t->dt[r]; break;
            case 8: MR_COL_I64(col)[p] = t->ts[r]; break;
            }
        }
    }
    b->nrows = phys;
    if (sel) {
        b->sel = b->sel_buf;
        b->nsel = n;
        for (size_t i = 0; i < n; i++)
            b->sel[i] = (uint32_t)(i * 3 + 2);
    }
    return b;
}

static mr_op *table_source(const table *t, const mr_schema *sc)
{
    feed *f = calloc(1, sizeof *f);
    size_t r = 0;
    while (r < t->n) {
        size_t k = 1 + rnd() % 3000;
        if (r + k > t->n)
            k = t->n - r;
        f->b = realloc(f->b, (size_t)(f->n + 1) * sizeof *f->b);
        f->b[f->n++] = table_batch(t, sc, r, r + k, (int)(rnd() % 3 == 0));
        r += k;
    }
    mr_op *op = mr_source_create(sc, feed_next, feed_close, f, "src");
    assert_non_null(op);
    return op;
}

/* ---- Reference order ------------------------------------------------------ */

typedef struct refkeys {
    const table *t;
    int nkeys;
    int col[4], desc[4], nf[4];
} refkeys;
static refkeys REF;

static int cmp_val(const table *t, int c, size_t a, size_t b)
{
    switch (c) {
    case 1: return (t->b[a] > t->b[b]) - (t->b[a] < t->b[b]);
    case 2: return (t->i32[a] > t->i32[b]) - (t->i32[a] < t->i32[b]);
    case 3: return (t->i64[a] > t->i64[b]) - (t->i64[a] < t->i64[b]);
    case 4: {
        double x = t->f[a], y = t->f[b];
        if (isnan(x) || isnan(y))
            return isnan(x) - isnan(y);
        return (x > y) - (x < y);
    }
    case 5: return (t->d[a] > t->d[b]) - (t->d[a] < t->d[b]);
    case 6: {
        size_t la = t->slen[a], lb = t->slen[b];
        int r = memcmp(t->s[a], t->s[b], la < lb ? la : lb);
        if (r)
            return r < 0 ? -1 : 1;
        return (la > lb) - (la < lb);
    }
    case 7: return (t->dt[a] > t->dt[b]) - (t->dt[a] < t->dt[b]);
    case 8: return (t->ts[a] > t->ts[b]) - (t->ts[a] < t->ts[b]);
    }
    return 0;
}

static int ref_cmp(const void *pa, const void *pb)
{
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    for (int k = 0; k < REF.nkeys; k++) {
        int c = REF.col[k];
        int na = REF.t->null[c][a], nb = REF.t->null[c][b];
        if (na || nb) {
            if (na && nb)
                continue;
            int r = na ? 1 : -1; /* NULL after a value */
            return REF.nf[k] ? -r : r;
        }
        int r = cmp_val(REF.t, c, a, b);
        if (r)
            return REF.desc[k] ? -r : r;
    }
    return (a > b) - (a < b);
}

/* Runs the sort and checks that its ids come out in reference order, and
 * that every output value matches its row. */
static void check_sort(const table *t, int nkeys, const int *cols, const int *desc,
                       const int *nf, int64_t limit)
{
    mr_schema *sc = table_schema();
    const char *keys[4];
    for (int k = 0; k < nkeys; k++)
        keys[k] = names[cols[k]];
    mr_err err;
    mr_op *op = mr_sort_create(table_source(t, sc), keys, desc, nf, nkeys, limit, "s", &err);
    assert_non_null(op);
    assert_int_equal(mr_op_open(op, NULL, &err), 0);
    size_t *order = malloc((t->n ? t->n : 1) * sizeof *order);
    for (size_t i = 0; i < t->n; i++)
        order[i] = i;
    REF.t = t;
    REF.nkeys = nkeys;
    for (int k = 0; k < nkeys; k++) {
        REF.col[k] = cols[k];
        REF.desc[k] = desc[k];
        REF.nf[k] = nf ? nf[k] : desc[k];
    }
    qsort(order, t->n, sizeof *order, ref_cmp);
    size_t expect = limit >= 0 && (size_t)limit < t->n ? (size_t)limit : t->n;
    size_t got = 0;
    mr_batch *b;
    int rc;
    while ((rc = mr_op_next(op, &b, &err)) == MR_NEXT_BATCH) {
        assert_true(b->nrows <= MR_BATCH_ROWS);
        for (size_t i = 0; i < mr_batch_live(b); i++, got++) {
            uint32_t r = mr_batch_row(b, i);
            assert_true(got < expect);
            int64_t id = MR_COL_I64(&b->cols[0])[r];
            if ((size_t)id != order[got])
                fail_msg("row %zu: got id %lld, expected %zu", got, (long long)id, order[got]);
            size_t len;
            const char *s = mr_column_str(&b->cols[6], r, &len);
            assert_int_equal(mr_column_is_valid(&b->cols[6], r), !t->null[6][id]);
            if (!t->null[6][id]) {
                assert_int_equal(len, t->slen[id]);
                assert_memory_equal(s, t->s[id], len);
            }
            if (!t->null[5][id])
                assert_int_equal(MR_COL_I64(&b->cols[5])[r], t->d[id]);
        }
    }
    assert_int_equal(rc, MR_NEXT_DONE);
    assert_int_equal(got, expect);
    assert_true(mr_sort_memory(op) > 0);
    free(order);
    mr_op_close(op);
    mr_schema_destroy(sc);
}

/* ---- Tests ---------------------------------------------------------------- */

static void test_key_parse(void **state)
{
    (void)state;
    char *col;
    int d, nf;
    mr_err err;
    assert_int_equal(mr_sort_key_parse("qty", &col, &d, &nf, &err), 0);
    assert_string_equal(col, "qty");
    assert_int_equal(d, 0);
    assert_int_equal(nf, 0);
    free(col);
    assert_int_equal(mr_sort_key_parse("  qty  DESC ", &col, &d, &nf, &err), 0);
    assert_string_equal(col, "qty");
    assert_int_equal(d, 1);
    assert_int_equal(nf, 1);
    free(col);
    assert_int_equal(mr_sort_key_parse("qty desc nulls last", &col, &d, &nf, &err), 0);
    assert_int_equal(d, 1);
    assert_int_equal(nf, 0);
    free(col);
    assert_int_equal(mr_sort_key_parse("qty Nulls First", &col, &d, &nf, &err), 0);
    assert_int_equal(d, 0);
    assert_int_equal(nf, 1);
    free(col);
    assert_int_equal(mr_sort_key_parse("\"My \"\"Col\"\"\" asc", &col, &d, &nf, &err), 0);
    assert_string_equal(col, "My \"Col\"");
    free(col);
    assert_int_equal(mr_sort_key_parse("", &col, &d, &nf, &err), MR_EINVAL);
    assert_int_equal(mr_sort_key_parse("qty up", &col, &d, &nf, &err), MR_EINVAL);
    assert_non_null(strstr(err.msg, "qty up"));
    assert_int_equal(mr_sort_key_parse("qty nulls", &col, &d, &nf, &err), MR_EINVAL);
    assert_int_equal(mr_sort_key_parse("qty nulls middle", &col, &d, &nf, &err), MR_EINVAL);
    assert_int_equal(mr_sort_key_parse("qty asc desc", &col, &d, &nf, &err), MR_EINVAL);
    assert_int_equal(mr_sort_key_parse("\"open", &col, &d, &nf, &err), MR_EINVAL);
    assert_null(col);
    /* the key the docs show: a doubled quote inside a quoted name */
    assert_int_equal(mr_sort_key_parse("\"x\"\"y\" desc", &col, &d, &nf, &err), 0);
    assert_string_equal(col, "x\"y");
    assert_int_equal(d, 1);
    assert_int_equal(nf, 1);
    free(col);
    assert_int_equal(mr_sort_key_parse("\"a b\" NULLS last", &col, &d, &nf, &err), 0);
    assert_string_equal(col, "a b");
    assert_int_equal(d, 0);
    assert_int_equal(nf, 0);
    free(col);
    /* errors point at the byte where the key stops fitting */
    assert_int_equal(mr_sort_key_parse("qty  up", &col, &d, &nf, &err), MR_EINVAL);
    assert_int_equal(err.offset, 5);
    assert_int_equal(mr_sort_key_parse("qty desc nulls middle", &col, &d, &nf, &err), MR_EINVAL);
    assert_int_equal(err.offset, 15);
    assert_non_null(strstr(err.msg, "FIRST or LAST"));
    assert_int_equal(mr_sort_key_parse("qty nulls", &col, &d, &nf, &err), MR_EINVAL);
    assert_int_equal(err.offset, 9);
    assert_int_equal(mr_sort_key_parse(" \"x\"y desc", &col, &d, &nf, &err), MR_EINVAL);
    assert_int_equal(err.offset, 4);
    assert_int_equal(mr_sort_key_parse("  \"open", &col, &d, &nf, &err), MR_EINVAL);
    assert_int_equal(err.offset, 2);
    assert_int_equal(mr_sort_key_parse("\"\" asc", &col, &d, &nf, &err), MR_EINVAL);
    assert_non_null(strstr(err.msg, "empty column name"));
    assert_int_equal(mr_sort_key_parse("q nulls first desc", &col, &d, &nf, &err), MR_EINVAL);
    assert_int_equal(err.offset, 14);
}

static void test_every_type(void **state)
{
    (void)state;
    table t;
    table_random(&t, 6000, 0);
    for (int c = 1; c < NCOLS; c++)
        for (int d = 0; d < 2; d++)
            for (int nf = 0; nf < 2; nf++) {
                int cols[1] = {c}, desc[1] = {d}, nfs[1] = {nf};
                check_sort(&t, 1, cols, desc, nfs, -1);
            }
    /* default null order: PostgreSQL's */
    int cols[1] = {3}, desc[1] = {1};
    check_sort(&t, 1, cols, desc, NULL, -1);
    table_free(&t);
}

static void test_multi_key_stable(void **state)
{
    (void)state;
    table t;
    table_random(&t, 9000, 1); /* few distinct values: many ties */
    int c1[3] = {6, 2, 4}, d1[3] = {0, 1, 0}, n1[3] = {1, 0, 0};
    check_sort(&t, 3, c1, d1, n1, -1);
    int c2[2] = {1, 7}, d2[2] = {1, 1}, n2[2] = {0, 1};
    check_sort(&t, 2, c2, d2, n2, -1);
    int c3[4] = {5, 8, 3, 6}, d3[4] = {1, 0, 1, 1}, n3[4] = {1, 1, 0, 0};
    check_sort(&t, 4, c3, d3, n3, -1);
    table_free(&t);
}

static void test_top_n(void **state)
{
    (void)state;
    table t;
    table_random(&t, 20000, 1);
    const int64_t limits[] = {0, 1, 7, 100, 4096, 5000, 19999, 20000, 50000};
    int c1[2] = {2, 6}, d1[2] = {0, 1}, n1[2] = {0, 1};
    for (size_t i = 0; i < sizeof limits / sizeof *limits; i++)
        check_sort(&t, 2, c1, d1, n1, limits[i]);
    int c2[1] = {4}, d2[1] = {1};
    check_sort(&t, 1, c2, d2, NULL, 10);
    table_free(&t);
}

static void test_empty_and_corners(void **state)
{
    (void)state;
    table t;
    table_random(&t, 0, 0);
    int cols[1] = {2}, desc[1] = {0};
    check_sort(&t, 1, cols, desc, NULL, -1);
    check_sort(&t, 1, cols, desc, NULL, 5);
    table_free(&t);

    /* hand-made strings with common prefixes and zero bytes, and floats */
    table_random(&t, 9, 0);
    const char *strs[9] = {"a\0b", "ab", "", "a", "a\0", "a\x01", "b", "\xff", "a\0\0"};
    const size_t lens[9] = {3, 2, 0, 1, 2, 2, 1, 1, 3};
    const double fl[9] = {NAN, -0.0, 0.0, INFINITY, -INFINITY, 1, -1, NAN, 0.0};
    for (size_t r = 0; r < 9; r++) {
        free(t.s[r]);
        t.s[r] = malloc(4);
        memcpy(t.s[r], strs[r], lens[r]);
        t.slen[r] = lens[r];
        t.f[r] = fl[r];
        for (int c = 0; c < NCOLS; c++)
            t.null[c][r] = 0;
    }
    int sc[1] = {6}, fc[1] = {4}, asc[1] = {0}, dsc[1] = {1};
    check_sort(&t, 1, sc, asc, NULL, -1);
    check_sort(&t, 1, sc, dsc, NULL, -1);
    check_sort(&t, 1, fc, asc, NULL, -1);
    check_sort(&t, 1, fc, dsc, NULL, -1);

    /* Explicit expectations (not the reference): strings "" < a < a\0 <
     * a\0\0 < a\0b < a\x01 < ab < b < \xff; -0.0 ties with 0.0; NaN last. */
    mr_schema *schema = table_schema();
    feed *f = calloc(1, sizeof *f);
    f->b = malloc(sizeof *f->b);
    f->b[f->n++] = table_batch(&t, schema, 0, 9, 0);
    const char *keys[2] = {"f", "s"};
    int d2[2] = {0, 0};
    mr_err err;
    mr_op *op = mr_sort_create(mr_source_create(schema, feed_next, feed_close, f, "src"), keys, d2,
                               NULL, 2, -1, "s", &err);
    assert_non_null(op);
    assert_int_equal(mr_op_open(op, NULL, &err), 0);
    mr_batch *b;
    assert_int_equal(mr_op_next(op, &b, &err), MR_NEXT_BATCH);
    /* f: -inf(4) < -1(6) < {-0.0(1), 0.0(2), 0.0(8)} ordered by s: ""(2),
     * "a\0\0"(8), "ab"(1); then 1(5) < inf(3) < NaN {"a\0b"(0), "\xff"(7)} */
    const int64_t want2[9] = {4, 6, 2, 8, 1, 5, 3, 0, 7};
    for (int i = 0; i < 9; i++)
        assert_int_equal(MR_COL_I64(&b->cols[0])[i], want2[i]);
    mr_op_close(op);

    const char *one[1] = {"s"};
    f = calloc(1, sizeof *f);
    f->b = malloc(sizeof *f->b);
    f->b[f->n++] = table_batch(&t, schema, 0, 9, 0);
    op = mr_sort_create(mr_source_create(schema, feed_next, feed_close, f, "src"), one, asc, NULL,
                        1, -1, "s", &err);
    assert_int_equal(mr_op_open(op, NULL, &err), 0);
    assert_int_equal(mr_op_next(op, &b, &err), MR_NEXT_BATCH);
    const int64_t want3[9] = {2, 3, 4, 8, 0, 5, 1, 6, 7};
    for (int i = 0; i < 9; i++)
        assert_int_equal(MR_COL_I64(&b->cols[0])[i], want3[i]);
    mr_op_close(op);
    mr_schema_destroy(schema);
    table_free(&t);
}

static void test_errors(void **state)
{
    (void)state;
    mr_schema *schema = table_schema();
    feed *f = calloc(1, sizeof *f);
    mr_err err;
    const char *keys[1] = {"nope"};
    mr_op *op = mr_sort_create(mr_source_create(schema, feed_next, feed_close, f, "src"), keys,
                               NULL, NULL, 1, -1, "srt", &err);
    assert_null(op);
    assert_int_equal(err.code, MR_ENOTFOUND);
    assert_non_null(strstr(err.msg, "srt"));
    assert_non_null(strstr(err.msg, "nope"));
    f = calloc(1, sizeof *f);
    op = mr_sort_create(mr_source_create(schema, feed_next, feed_close, f, "src"), keys, NULL,
                        NULL, 0, -1, "srt", &err);
    assert_null(op);
    assert_int_equal(err.code, MR_EINVAL);
    assert_int_equal(mr_sort_memory(NULL), 0);
    mr_schema_destroy(schema);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_parse),         cmocka_unit_test(test_every_type),
        cmocka_unit_test(test_multi_key_stable),  cmocka_unit_test(test_top_n),
        cmocka_unit_test(test_empty_and_corners), cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
