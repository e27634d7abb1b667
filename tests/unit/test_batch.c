/* test_batch.c - unit tests for batches, types, schemas, hashing and errors.
 *
 * Covers core/batch.c (creation, growth, strings, NULLs, compaction through a
 * selection vector for every type, value copies, byte accounting),
 * core/types.c (every type name, decimal bounds, name round trips, schemas),
 * core/hash.c (the cross-type and NULL rules shuffle partitioning relies on,
 * selection vectors) and core/error.c (message truncation).
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
#include "core/error.h"
#include "core/hash.h"
#include "core/types.h"

#define NTYPES 8

static mr_type type_at(int i)
{
    static const mr_type_id ids[NTYPES] = {MR_T_BOOL,    MR_T_INT32,  MR_T_INT64, MR_T_FLOAT64,
                                           MR_T_DECIMAL, MR_T_STRING, MR_T_DATE,  MR_T_TIMESTAMP};
    return ids[i] == MR_T_DECIMAL ? mr_type_decimal(10, 2) : mr_type_make(ids[i]);
}

/* Value of row r in a column of type t, as an int64 all types can hold. */
static int64_t value_of(size_t r)
{
    return (int64_t)r * 37 - 200;
}

static int is_null(size_t r, int c)
{
    return (r + (size_t)c) % 4 == 0;
}

/* Fills row r of column c (index ci) with its value or NULL. */
static void fill(mr_column *col, int ci, size_t r)
{
    int null = is_null(r, ci);
    int64_t v = value_of(r);
    switch (col->type.id) {
    case MR_T_BOOL: MR_COL_U8(col)[r] = (uint8_t)(v & 1); break;
    case MR_T_INT32:
    case MR_T_DATE: MR_COL_I32(col)[r] = (int32_t)v; break;
    case MR_T_FLOAT64: MR_COL_F64(col)[r] = (double)v / 4.0; break;
    case MR_T_STRING: {
        if (null) {
            mr_column_set_str_null(col, r);
            return;
        }
        char s[32];
        /* every fifth string is empty, the rest vary in length */
        int n = r % 5 == 2 ? 0 : snprintf(s, sizeof s, "v%lld%.*s", (long long)v, (int)(r % 7), "xxxxxxx");
        assert_int_equal(mr_column_set_str(col, r, s, (size_t)n), 0);
        return;
    }
    default: MR_COL_I64(col)[r] = v; break;
    }
    mr_column_set_valid(col, r, !null);
}

/* Asserts row `row` of col holds what fill() wrote for source row r. */
static void check(const mr_column *col, int ci, size_t row, size_t r)
{
    int null = is_null(r, ci);
    assert_int_equal(mr_column_is_valid(col, row), !null);
    if (null)
        return;
    int64_t v = value_of(r);
    switch (col->type.id) {
    case MR_T_BOOL: assert_int_equal(MR_COL_U8(col)[row], v & 1); break;
    case MR_T_INT32:
    case MR_T_DATE: assert_int_equal(MR_COL_I32(col)[row], (int32_t)v); break;
    case MR_T_FLOAT64: assert_true(MR_COL_F64(col)[row] == (double)v / 4.0); break;
    case MR_T_STRING: {
        char s[32];
        int n = r % 5 == 2 ? 0 : snprintf(s, sizeof s, "v%lld%.*s", (long long)v, (int)(r % 7), "xxxxxxx");
        size_t len;
        const char *p = mr_column_str(col, row, &len);
        assert_int_equal(len, (size_t)n);
        assert_memory_equal(p, s, len ? len : 0);
        break;
    }
    default: assert_int_equal(MR_COL_I64(col)[row], v); break;
    }
}

static mr_batch *make_all_types(size_t rows, size_t cap)
{
    mr_type types[NTYPES];
    for (int i = 0; i < NTYPES; i++)
        types[i] = type_at(i);
    mr_batch *b = mr_batch_create_types(types, NTYPES, cap);
    assert_non_null(b);
    assert_int_equal(mr_batch_reserve(b, rows), 0);
    for (size_t r = 0; r < rows; r++)
        for (int c = 0; c < NTYPES; c++)
            fill(&b->cols[c], c, r);
    b->nrows = rows;
    return b;
}

/* ---- batch.c ------------------------------------------------------------ */

static void test_create(void **state)
{
    (void)state;
    mr_schema *s = mr_schema_create(3);
    assert_int_equal(mr_schema_set(s, 0, "a", mr_type_make(MR_T_INT64)), 0);
    assert_int_equal(mr_schema_set(s, 1, "b", mr_type_make(MR_T_STRING)), 0);
    assert_int_equal(mr_schema_set(s, 2, "c", mr_type_decimal(8, 3)), 0);
    mr_batch *b = mr_batch_create(s, 0);
    assert_non_null(b);
    assert_int_equal(b->ncols, 3);
    assert_int_equal(b->cap, MR_BATCH_ROWS);
    assert_int_equal(b->nrows, 0);
    assert_null(b->sel);
    assert_int_equal(mr_batch_live(b), 0);
    for (int c = 0; c < 3; c++) {
        assert_true(mr_type_equal(b->cols[c].type, s->fields[c].type));
        assert_true(b->cols[c].cap >= MR_BATCH_ROWS);
        assert_non_null(b->cols[c].valid);
        /* the validity bitmap starts all-NULL */
        for (size_t i = 0; i < MR_BATCH_ROWS / 8; i++)
            assert_int_equal(b->cols[c].valid[i], 0);
    }
    assert_non_null(b->cols[1].offsets);
    assert_int_equal(b->cols[1].offsets[0], 0);
    assert_null(b->cols[1].data);
    assert_non_null(b->cols[0].data);
    assert_int_equal(b->cols[2].type.precision, 8);
    assert_int_equal(b->cols[2].type.scale, 3);
    mr_batch_destroy(b);
    mr_schema_destroy(s);

    /* zero columns is a valid batch (count(*) over nothing) */
    mr_batch *z = mr_batch_create_types(NULL, 0, 10);
    assert_non_null(z);
    assert_int_equal(z->ncols, 0);
    assert_int_equal(z->cap, 10);
    assert_int_equal(mr_batch_bytes(z), 0);
    mr_batch_destroy(z);
    mr_batch_destroy(NULL);
    mr_column_free(NULL);
}

static void test_reserve_growth(void **state)
{
    (void)state;
    mr_batch *b = make_all_types(100, 16);
    assert_true(b->cap >= 100);
    for (int c = 0; c < NTYPES; c++)
        assert_true(b->cols[c].cap >= 100);
    /* a selection in sel_buf must follow the buffer when it moves */
    b->sel = b->sel_buf;
    b->sel[0] = 3;
    b->sel[1] = 99;
    b->nsel = 2;
    assert_int_equal(mr_batch_reserve(b, 5000), 0);
    assert_true(b->cap >= 5000);
    assert_ptr_equal(b->sel, b->sel_buf);
    assert_int_equal(b->sel[0], 3);
    assert_int_equal(b->sel[1], 99);
    b->sel = NULL;
    for (int c = 0; c < NTYPES; c++) {
        assert_true(b->cols[c].cap >= 5000);
        for (size_t r = 0; r < 100; r++)
            check(&b->cols[c], c, r, r);
        /* rows past the old capacity start NULL */
        for (size_t r = 128; r < 5000; r++)
            assert_false(mr_column_is_valid(&b->cols[c], r));
    }
    /* smaller reserve is a no-op */
    size_t cap = b->cap;
    assert_int_equal(mr_batch_reserve(b, 10), 0);
    assert_int_equal(b->cap, cap);
    /* reset keeps capacity but drops rows and selection */
    b->sel = b->sel_buf;
    b->nsel = 1;
    mr_batch_reset(b);
    assert_int_equal(b->nrows, 0);
    assert_null(b->sel);
    assert_int_equal(b->nsel, 0);
    assert_int_equal(b->cap, cap);
    mr_batch_destroy(b);
}

static void test_strings(void **state)
{
    (void)state;
    mr_column c;
    assert_int_equal(mr_column_init(&c, mr_type_make(MR_T_STRING), 4), 0);
    assert_int_equal(mr_column_set_str(&c, 0, "hello", 5), 0);
    mr_column_set_str_null(&c, 1);
    assert_int_equal(mr_column_set_str(&c, 2, "", 0), 0);
    /* a long string forces the chars buffer to grow past its first 1 KiB */
    char big[5000];
    memset(big, 'q', sizeof big);
    assert_int_equal(mr_column_set_str(&c, 3, big, sizeof big), 0);
    assert_int_equal(mr_column_reserve(&c, 200), 0);
    for (size_t r = 4; r < 200; r++) {
        char s[16];
        int n = snprintf(s, sizeof s, "r%zu", r);
        assert_int_equal(mr_column_set_str(&c, r, s, (size_t)n), 0);
    }
    size_t len;
    const char *p = mr_column_str(&c, 0, &len);
    assert_int_equal(len, 5);
    assert_memory_equal(p, "hello", 5);
    assert_true(mr_column_is_valid(&c, 0));
    assert_false(mr_column_is_valid(&c, 1));
    mr_column_str(&c, 1, &len);
    assert_int_equal(len, 0);
    assert_true(mr_column_is_valid(&c, 2));
    mr_column_str(&c, 2, &len);
    assert_int_equal(len, 0);
    p = mr_column_str(&c, 3, &len);
    assert_int_equal(len, sizeof big);
    assert_memory_equal(p, big, sizeof big);
    for (size_t r = 4; r < 200; r++) {
        char s[16];
        int n = snprintf(s, sizeof s, "r%zu", r);
        p = mr_column_str(&c, r, &len);
        assert_int_equal(len, (size_t)n);
        assert_memory_equal(p, s, len);
    }
    assert_int_equal(c.offsets[0], 0);
    for (size_t r = 0; r < 200; r++)
        assert_true(c.offsets[r] <= c.offsets[r + 1]);
    mr_column_free(&c);
    assert_null(c.chars);
}

static void compact_with(const uint32_t *sel, size_t nsel, size_t rows)
{
    mr_batch *b = make_all_types(rows, rows);
    if (nsel)
        memcpy(b->sel_buf, sel, nsel * sizeof *sel);
    b->sel = b->sel_buf;
    b->nsel = nsel;
    mr_batch_compact(b);
    assert_null(b->sel);
    assert_int_equal(b->nsel, 0);
    assert_int_equal(b->nrows, nsel);
    for (int c = 0; c < NTYPES; c++) {
        for (size_t i = 0; i < nsel; i++)
            check(&b->cols[c], c, i, sel[i]);
        if (b->cols[c].type.id == MR_T_STRING) {
            assert_int_equal(b->cols[c].offsets[0], 0);
            for (size_t i = 0; i < nsel; i++)
                assert_true(b->cols[c].offsets[i] <= b->cols[c].offsets[i + 1]);
        }
    }
    mr_batch_destroy(b);
}

static void test_compact(void **state)
{
    (void)state;
    /* sparse, with NULLs and empty strings among the kept rows */
    const uint32_t a[] = {1, 2, 4, 7, 8, 12, 17, 30, 31};
    compact_with(a, sizeof a / sizeof a[0], 32);
    /* a prefix kept in place, then a gap */
    const uint32_t b[] = {0, 1, 2, 3, 10, 11};
    compact_with(b, sizeof b / sizeof b[0], 12);
    /* only the last row */
    const uint32_t c[] = {99};
    compact_with(c, 1, 100);
    /* every row: nothing moves */
    uint32_t all[64];
    for (uint32_t i = 0; i < 64; i++)
        all[i] = i;
    compact_with(all, 64, 64);
    /* every other row of a batch larger than one validity byte run */
    uint32_t odd[500];
    for (uint32_t i = 0; i < 500; i++)
        odd[i] = 2 * i + 1;
    compact_with(odd, 500, 1000);
    /* empty selection */
    compact_with(NULL, 0, 10);

    /* no selection: compact is a no-op */
    mr_batch *x = make_all_types(20, 20);
    mr_batch_compact(x);
    assert_int_equal(x->nrows, 20);
    for (int col = 0; col < NTYPES; col++)
        for (size_t r = 0; r < 20; r++)
            check(&x->cols[col], col, r, r);
    mr_batch_destroy(x);
}

static void test_copy_value(void **state)
{
    (void)state;
    mr_batch *src = make_all_types(40, 40);
    mr_batch *dst = make_all_types(0, 8);
    /* copy rows in reverse order into dst rows 0.. (dst rows filled in order) */
    assert_int_equal(mr_batch_reserve(dst, 40), 0);
    for (size_t i = 0; i < 40; i++)
        for (int c = 0; c < NTYPES; c++)
            assert_int_equal(mr_column_copy_value(&dst->cols[c], i, &src->cols[c], 39 - i), 0);
    dst->nrows = 40;
    for (size_t i = 0; i < 40; i++)
        for (int c = 0; c < NTYPES; c++)
            check(&dst->cols[c], c, i, 39 - i);
    /* copying a NULL over a valid value clears the bit */
    mr_column_set_valid(&dst->cols[1], 0, true);
    size_t null_row = 0;
    while (!is_null(null_row, 1))
        null_row++;
    assert_int_equal(mr_column_copy_value(&dst->cols[1], 0, &src->cols[1], null_row), 0);
    assert_false(mr_column_is_valid(&dst->cols[1], 0));
    mr_batch_destroy(src);
    mr_batch_destroy(dst);
}

static void test_batch_bytes(void **state)
{
    (void)state;
    mr_type t[3] = {mr_type_make(MR_T_INT32), mr_type_make(MR_T_STRING), mr_type_make(MR_T_FLOAT64)};
    mr_batch *b = mr_batch_create_types(t, 3, 0);
    assert_int_equal(mr_batch_bytes(b), 0 + 4 + 0); /* empty: one offset entry */
    for (size_t r = 0; r < 10; r++) {
        MR_COL_I32(&b->cols[0])[r] = (int32_t)r;
        assert_int_equal(mr_column_set_str(&b->cols[1], r, "abc", 3), 0);
        MR_COL_F64(&b->cols[2])[r] = 1.5;
    }
    b->nrows = 10;
    /* validity 2 bytes per column; int32 40; offsets 44 + chars 30; float 80 */
    assert_int_equal(mr_batch_bytes(b), 3 * 2 + 40 + 44 + 30 + 80);
    mr_batch_destroy(b);
}

/* ---- types.c ------------------------------------------------------------ */

static void test_type_parse_names(void **state)
{
    (void)state;
    static const struct { const char *text; mr_type_id id; } ok[] = {
        {"bool", MR_T_BOOL},       {"boolean", MR_T_BOOL},     {"int32", MR_T_INT32},
        {"int", MR_T_INT32},       {"integer", MR_T_INT32},    {"int64", MR_T_INT64},
        {"bigint", MR_T_INT64},    {"float64", MR_T_FLOAT64},  {"double", MR_T_FLOAT64},
        {"string", MR_T_STRING},   {"text", MR_T_STRING},      {"varchar", MR_T_STRING},
        {"date", MR_T_DATE},       {"timestamp", MR_T_TIMESTAMP},
        {"INT64", MR_T_INT64},     {"  Timestamp ", MR_T_TIMESTAMP}, {"\tDate\n", MR_T_DATE},
        {"double precision", MR_T_FLOAT64},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        mr_type t = {0, 0, 0};
        mr_err err = {0};
        assert_int_equal(mr_type_parse(ok[i].text, &t, &err), 0);
        assert_int_equal(t.id, ok[i].id);
        assert_int_equal(t.precision, 0);
        assert_int_equal(t.scale, 0);
    }
    static const char *bad[] = {"", "int65", "str", "float", "decimal", "null", "date time2",
                                "int64int64"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mr_type t;
        mr_err err = {0};
        assert_int_equal(mr_type_parse(bad[i], &t, &err), MR_EINVAL);
        assert_int_equal(err.code, MR_EINVAL);
        assert_non_null(strstr(err.msg, "unknown type"));
        assert_non_null(strstr(err.msg, bad[i]));
    }
    /* a very long name is rejected, not overflowed */
    char longname[300];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    mr_type t;
    mr_err err = {0};
    assert_int_equal(mr_type_parse(longname, &t, &err), MR_EINVAL);
    assert_true(strlen(err.msg) < MR_ERR_MSG_MAX);
}

static void test_type_parse_decimal(void **state)
{
    (void)state;
    static const struct { const char *text; int p, s; } ok[] = {
        {"decimal(8,2)", 8, 2},     {"DECIMAL(18,18)", 18, 18}, {"decimal(1,0)", 1, 0},
        {"decimal( 12 , 4 )", 12, 4}, {"numeric(10,3)", 10, 3}, {"decimal(7)", 7, 0},
        {"numeric(18)", 18, 0},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        mr_type t;
        mr_err err = {0};
        assert_int_equal(mr_type_parse(ok[i].text, &t, &err), 0);
        assert_int_equal(t.id, MR_T_DECIMAL);
        assert_int_equal(t.precision, ok[i].p);
        assert_int_equal(t.scale, ok[i].s);
    }
    static const struct { const char *text, *want; } bad[] = {
        {"decimal(0,0)", "1 <= p <= 18"},  {"decimal(19,2)", "1 <= p <= 18"},
        {"decimal(5,6)", "0 <= s <= p"},   {"decimal(-1,0)", "decimal"},
        {"decimal()", "decimal(p,s)"},     {"decimal(8,2", "decimal(p,s)"},
        {"decimal(a,b)", "decimal(p,s)"},  {"decimal(8;2)", "decimal(p,s)"},
        {"decimal(100,2)", "1 <= p <= 18"},
        /* found by fuzzing: trailing text, wrap-around, blanks inside a name */
        {"decimal(8,2)x", "after ')'"},    {"decimal(8)(", "after ')'"},
        {"decimal(4294967304,2)", "decimal(p,s)"}, {"decimal(+8,2)", "decimal(p,s)"},
        {"decimal(8,)", "decimal(p,s)"},   {"in t64", "unknown type"},
        {"int64 x", "unknown type"},       {"", "unknown type"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mr_type t;
        mr_err err = {0};
        int rc = mr_type_parse(bad[i].text, &t, &err);
        if (rc != MR_EINVAL)
            fail_msg("'%s' parsed (rc %d)", bad[i].text, rc);
        assert_non_null(strstr(err.msg, bad[i].want));
        assert_non_null(strstr(err.msg, bad[i].text));
    }
}

static void test_type_name_round_trip(void **state)
{
    (void)state;
    mr_type types[NTYPES + 3];
    for (int i = 0; i < NTYPES; i++)
        types[i] = type_at(i);
    types[NTYPES] = mr_type_decimal(18, 0);
    types[NTYPES + 1] = mr_type_decimal(1, 1);
    types[NTYPES + 2] = mr_type_decimal(18, 18);
    for (int i = 0; i < NTYPES + 3; i++) {
        char buf[32];
        const char *name = mr_type_name(types[i], buf, sizeof buf);
        assert_ptr_equal(name, buf);
        mr_type back;
        mr_err err = {0};
        assert_int_equal(mr_type_parse(name, &back, &err), 0);
        assert_true(mr_type_equal(back, types[i]));
    }
    char buf[32];
    assert_string_equal(mr_type_name(mr_type_decimal(8, 2), buf, sizeof buf), "decimal(8,2)");
    assert_string_equal(mr_type_name(mr_type_make(MR_T_NULL), buf, sizeof buf), "null");
    /* a small buffer truncates and stays NUL-ended */
    char tiny[5];
    mr_type_name(mr_type_decimal(18, 2), tiny, sizeof tiny);
    assert_string_equal(tiny, "deci");

    assert_int_equal(mr_type_width(mr_type_make(MR_T_BOOL)), 1);
    assert_int_equal(mr_type_width(mr_type_make(MR_T_INT32)), 4);
    assert_int_equal(mr_type_width(mr_type_make(MR_T_DATE)), 4);
    assert_int_equal(mr_type_width(mr_type_make(MR_T_INT64)), 8);
    assert_int_equal(mr_type_width(mr_type_decimal(3, 1)), 8);
    assert_int_equal(mr_type_width(mr_type_make(MR_T_TIMESTAMP)), 8);
    assert_int_equal(mr_type_width(mr_type_make(MR_T_STRING)), 0);
    assert_false(mr_type_equal(mr_type_decimal(8, 2), mr_type_decimal(8, 3)));
    assert_false(mr_type_equal(mr_type_make(MR_T_INT32), mr_type_make(MR_T_INT64)));
    assert_true(mr_type_is_numeric(mr_type_decimal(8, 2)));
    assert_false(mr_type_is_numeric(mr_type_make(MR_T_STRING)));
    assert_false(mr_type_is_numeric(mr_type_make(MR_T_DATE)));
    for (int i = 0; i < 19; i++)
        assert_true(mr_pow10[i] == (i ? mr_pow10[i - 1] * 10 : 1));
}

static void test_schema(void **state)
{
    (void)state;
    mr_schema *s = mr_schema_create(3);
    assert_non_null(s);
    assert_int_equal(s->nfields, 3);
    assert_int_equal(mr_schema_set(s, 0, "id", mr_type_make(MR_T_INT64)), 0);
    assert_int_equal(mr_schema_set(s, 1, "Name", mr_type_make(MR_T_STRING)), 0);
    assert_int_equal(mr_schema_set(s, 2, "price", mr_type_decimal(8, 2)), 0);
    /* setting again replaces the name (no leak under ASan) */
    assert_int_equal(mr_schema_set(s, 1, "name", mr_type_make(MR_T_STRING)), 0);
    assert_int_equal(mr_schema_find(s, "id"), 0);
    assert_int_equal(mr_schema_find(s, "name"), 1);
    assert_int_equal(mr_schema_find(s, "Name"), -1); /* exact match only */
    assert_int_equal(mr_schema_find(s, "price"), 2);
    assert_int_equal(mr_schema_find(s, "missing"), -1);
    assert_int_equal(mr_schema_find(s, ""), -1);

    mr_schema *c = mr_schema_copy(s);
    assert_non_null(c);
    assert_int_equal(c->nfields, 3);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(c->fields[i].name, s->fields[i].name);
        assert_ptr_not_equal(c->fields[i].name, s->fields[i].name);
        assert_true(mr_type_equal(c->fields[i].type, s->fields[i].type));
    }
    mr_schema_destroy(s); /* the copy is deep */
    assert_int_equal(mr_schema_find(c, "price"), 2);
    assert_int_equal(c->fields[2].type.precision, 8);
    mr_schema_destroy(c);
    mr_schema_destroy(NULL);

    mr_schema *e = mr_schema_create(0);
    assert_non_null(e);
    assert_int_equal(mr_schema_find(e, "x"), -1);
    mr_schema *ec = mr_schema_copy(e);
    assert_non_null(ec);
    assert_int_equal(ec->nfields, 0);
    mr_schema_destroy(e);
    mr_schema_destroy(ec);
}

/* ---- hash.c ------------------------------------------------------------- */

static void test_hash_int_widths(void **state)
{
    (void)state;
    mr_type t[4] = {mr_type_make(MR_T_INT32), mr_type_make(MR_T_INT64), mr_type_make(MR_T_STRING),
                    mr_type_make(MR_T_BOOL)};
    mr_batch *b = mr_batch_create_types(t, 4, 8);
    const int64_t vals[6] = {0, 1, -1, 42, INT32_MAX, INT32_MIN};
    for (size_t r = 0; r < 6; r++) {
        MR_COL_I32(&b->cols[0])[r] = (int32_t)vals[r];
        MR_COL_I64(&b->cols[1])[r] = vals[r];
        mr_column_set_valid(&b->cols[0], r, true);
        mr_column_set_valid(&b->cols[1], r, true);
        mr_column_set_str_null(&b->cols[2], r);
        MR_COL_U8(&b->cols[3])[r] = (uint8_t)(r & 1);
        mr_column_set_valid(&b->cols[3], r, true);
    }
    /* row 6: NULL everywhere (garbage in the data buffers must not matter) */
    MR_COL_I32(&b->cols[0])[6] = 777;
    MR_COL_I64(&b->cols[1])[6] = -5;
    mr_column_set_str_null(&b->cols[2], 6);
    b->nrows = 7;
    uint64_t h32[7], h64[7], hs[7], hb[7];
    int k0 = 0, k1 = 1, k2 = 2, k3 = 3;
    mr_hash_columns(b, &k0, 1, h32);
    mr_hash_columns(b, &k1, 1, h64);
    mr_hash_columns(b, &k2, 1, hs);
    mr_hash_columns(b, &k3, 1, hb);
    for (size_t r = 0; r < 7; r++)
        assert_true(h32[r] == h64[r]);
    /* NULLs hash to one value whatever the type */
    for (size_t r = 0; r < 7; r++)
        assert_true(hs[r] == h32[6]);
    /* distinct values hash apart (not guaranteed in general, but these must) */
    for (size_t i = 0; i < 6; i++)
        for (size_t j = i + 1; j < 7; j++)
            assert_true(h64[i] != h64[j]);
    /* bool true/false hash like the integers 1/0 */
    assert_true(hb[0] == h64[0]);
    assert_true(hb[1] == h64[1]);
    mr_batch_destroy(b);
}

static void test_hash_floats_strings(void **state)
{
    (void)state;
    mr_type t[2] = {mr_type_make(MR_T_FLOAT64), mr_type_make(MR_T_STRING)};
    mr_batch *b = mr_batch_create_types(t, 2, 8);
    const double f[6] = {0.0, -0.0, 1.5, -1.5, 1e300, 0.0};
    const char *s[6] = {"abc", "abd", "", "abc", "a longer string past eight bytes", "abc"};
    for (size_t r = 0; r < 6; r++) {
        MR_COL_F64(&b->cols[0])[r] = f[r];
        mr_column_set_valid(&b->cols[0], r, true);
        assert_int_equal(mr_column_set_str(&b->cols[1], r, s[r], strlen(s[r])), 0);
    }
    b->nrows = 6;
    uint64_t hf[6], hs[6];
    int k0 = 0, k1 = 1;
    mr_hash_columns(b, &k0, 1, hf);
    mr_hash_columns(b, &k1, 1, hs);
    assert_true(hf[0] == hf[1]); /* -0.0 == 0.0 */
    assert_true(hf[0] == hf[5]);
    assert_true(hf[2] != hf[3]);
    assert_true(hf[0] != hf[2]);
    /* equal bytes at different places in the chars buffer hash equal */
    assert_true(hs[0] == hs[3]);
    assert_true(hs[0] == hs[5]);
    assert_true(hs[0] != hs[1]);
    assert_true(hs[2] != hs[0]);
    assert_true(hs[4] == mr_hash_bytes(s[4], strlen(s[4]), 0));
    /* an empty string is not NULL */
    mr_batch *nb = mr_batch_create_types(&t[1], 1, 1);
    mr_column_set_str_null(&nb->cols[0], 0);
    nb->nrows = 1;
    uint64_t hnull;
    int k = 0;
    mr_hash_columns(nb, &k, 1, &hnull);
    assert_true(hnull != hs[2]);
    mr_batch_destroy(nb);
    mr_batch_destroy(b);

    /* mr_hash_bytes: seeds and lengths matter, including NUL bytes */
    assert_true(mr_hash_bytes("ab", 2, 0) != mr_hash_bytes("ab", 2, 1));
    assert_true(mr_hash_bytes("ab\0", 3, 0) != mr_hash_bytes("ab", 2, 0));
    assert_true(mr_hash_bytes("", 0, 0) == mr_hash_bytes("xyz", 0, 0));
}

static void test_hash_multi_and_sel(void **state)
{
    (void)state;
    mr_type t[2] = {mr_type_make(MR_T_INT64), mr_type_make(MR_T_STRING)};
    mr_batch *b = mr_batch_create_types(t, 2, 16);
    /* rows: (1,"a") (2,"a") (1,"b") (1,"a") ("a" then 1 swapped can't be
     * built with these types, so ordering is checked with keys {1,0}) */
    const int64_t a[5] = {1, 2, 1, 1, 7};
    const char *s[5] = {"a", "a", "b", "a", "z"};
    for (size_t r = 0; r < 5; r++) {
        MR_COL_I64(&b->cols[0])[r] = a[r];
        mr_column_set_valid(&b->cols[0], r, true);
        assert_int_equal(mr_column_set_str(&b->cols[1], r, s[r], 1), 0);
    }
    b->nrows = 5;
    const int keys[2] = {0, 1}, rev[2] = {1, 0};
    uint64_t h[5], hr[5], h0[5];
    mr_hash_columns(b, keys, 2, h);
    mr_hash_columns(b, rev, 2, hr);
    mr_hash_columns(b, keys, 1, h0);
    assert_true(h[0] == h[3]);
    assert_true(h[0] != h[1]);
    assert_true(h[0] != h[2]);
    assert_true(h[0] != hr[0]); /* key order matters */
    assert_true(h[0] != h0[0]); /* the second key contributes */
    /* no keys: every row hashes alike */
    uint64_t hz[5];
    mr_hash_columns(b, NULL, 0, hz);
    for (size_t r = 1; r < 5; r++)
        assert_true(hz[r] == hz[0]);

    /* with a selection, out[i] is the hash of the i-th live row */
    b->sel = b->sel_buf;
    b->sel[0] = 1;
    b->sel[1] = 3;
    b->sel[2] = 4;
    b->nsel = 3;
    uint64_t hsel[5] = {0, 0, 0, 0xdead, 0xbeef};
    mr_hash_columns(b, keys, 2, hsel);
    assert_true(hsel[0] == h[1]);
    assert_true(hsel[1] == h[3]);
    assert_true(hsel[2] == h[4]);
    /* nothing written past the live rows */
    assert_true(hsel[3] == 0xdead);
    assert_true(hsel[4] == 0xbeef);
    mr_batch_destroy(b);
}

/* ---- error.c ------------------------------------------------------------ */

static void test_errors(void **state)
{
    (void)state;
    mr_err err;
    memset(&err, 'x', sizeof err);
    assert_int_equal(mr_err_set(&err, MR_EPARSE, "bad %s at %d", "thing", 7), MR_EPARSE);
    assert_int_equal(err.code, MR_EPARSE);
    assert_int_equal(err.offset, -1);
    assert_string_equal(err.msg, "bad thing at 7");
    assert_int_equal(mr_err_set(NULL, MR_EIO, "nobody listens"), MR_EIO);

    mr_err_prefix(&err, "node '%s'", "sales");
    assert_string_equal(err.msg, "node 'sales': bad thing at 7");
    assert_int_equal(err.code, MR_EPARSE);
    mr_err_prefix(NULL, "x");

    /* a message longer than the buffer is cut, NUL-ended */
    char big[3 * MR_ERR_MSG_MAX];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    mr_err_set(&err, MR_EINVAL, "%s", big);
    assert_int_equal(strlen(err.msg), MR_ERR_MSG_MAX - 1);

    /* prefix in front of a full message: the prefix survives, the tail goes */
    mr_err_prefix(&err, "file.csv:%d", 12);
    assert_int_equal(strlen(err.msg), MR_ERR_MSG_MAX - 1);
    assert_memory_equal(err.msg, "file.csv:12: aaa", 16);

    /* a prefix longer than the buffer leaves a cut, NUL-ended message */
    mr_err_set(&err, MR_EIO, "short");
    big[2 * MR_ERR_MSG_MAX] = '\0';
    memset(big, 'p', 2 * MR_ERR_MSG_MAX);
    mr_err_prefix(&err, "%s", big);
    assert_true(strlen(err.msg) < MR_ERR_MSG_MAX);
    assert_int_equal(err.code, MR_EIO);
    /* prefix that exactly fills the room for ": " */
    mr_err_set(&err, MR_EIO, "tail");
    big[MR_ERR_MSG_MAX - 3] = '\0';
    mr_err_prefix(&err, "%s", big);
    assert_true(strlen(err.msg) < MR_ERR_MSG_MAX);

    mr_err_clear(&err);
    assert_int_equal(err.code, 0);
    assert_int_equal(err.offset, -1);
    assert_string_equal(err.msg, "");
    mr_err_clear(NULL);

    for (int code = MR_OK; code >= MR_ETOOBIG; code--)
        assert_string_not_equal(mr_strerror(code), "unknown error");
    assert_string_equal(mr_strerror(-1000), "unknown error");
    assert_string_equal(mr_strerror(5), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create),
        cmocka_unit_test(test_reserve_growth),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_compact),
        cmocka_unit_test(test_copy_value),
        cmocka_unit_test(test_batch_bytes),
        cmocka_unit_test(test_type_parse_names),
        cmocka_unit_test(test_type_parse_decimal),
        cmocka_unit_test(test_type_name_round_trip),
        cmocka_unit_test(test_schema),
        cmocka_unit_test(test_hash_int_widths),
        cmocka_unit_test(test_hash_floats_strings),
        cmocka_unit_test(test_hash_multi_and_sel),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
