/* test_colbuf.c - unit tests for core/colbuf.c, the one column buffer
 * layout and buffer records.
 *
 * Round trips every type with NULLs, empty strings, row lists (selection
 * vectors), zero rows and columns never initialised, into a flat byte
 * stream (as a spill file stores them) and back, comparing values row by
 * row; then feeds the reader bad input (sizes that do not fit the row
 * count, truncated buffers, bad offsets, over-long chars) and the record
 * parser truncated, oversized and mislabelled records: each must give the
 * caller's error code with a message naming the buffer, never a crash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/colbuf.h"
#include "testutil.h"

#define NTYPES 9

static const char *const NAMES[NTYPES] = {"b", "i", "l", "f", "d", "s", "dt", "ts", "tz"};

static mr_type type_at(int i)
{
    static const mr_type_id ids[NTYPES] = {MR_T_BOOL,    MR_T_INT32,  MR_T_INT64, MR_T_FLOAT64,
                                           MR_T_DECIMAL, MR_T_STRING, MR_T_DATE,  MR_T_TIMESTAMP,
                                           MR_T_TIMESTAMPTZ};
    return ids[i] == MR_T_DECIMAL ? mr_type_decimal(10, 2) : mr_type_make(ids[i]);
}

static mr_schema *all_types(void)
{
    mr_type t[NTYPES];
    for (int i = 0; i < NTYPES; i++)
        t[i] = type_at(i);
    return tu_schema(NTYPES, NAMES, t);
}

/* ---- a byte stream the sink appends to and the reader consumes -------- */

typedef struct stream {
    unsigned char *buf;
    size_t len, cap, pos;
    unsigned char *scratch;
    size_t scratch_cap;
    uint64_t sizes[64];
    int nsizes;
} stream;

static void *s_dest(void *ctx, size_t len)
{
    stream *s = ctx;
    if (len > s->scratch_cap) {
        s->scratch = realloc(s->scratch, len);
        s->scratch_cap = len;
    }
    return s->scratch ? s->scratch : (s->scratch = malloc(1));
}

static int s_emit(void *ctx, int k, const void *raw, size_t len, bool gathered, mr_err *err)
{
    (void)k;
    (void)err;
    stream *s = ctx;
    if (gathered)
        assert_ptr_equal(raw, s->scratch);
    if (s->len + len > s->cap) {
        s->cap = (s->len + len) * 2 + 16;
        s->buf = realloc(s->buf, s->cap);
    }
    if (len)
        memcpy(s->buf + s->len, raw, len);
    s->len += len;
    s->sizes[s->nsizes++] = len;
    return 0;
}

static int s_fill(void *ctx, int k, void *dst, size_t len, mr_err *err)
{
    stream *s = ctx;
    if (len > s->len - s->pos)
        return mr_err_set(err, MR_EIO, "buffer %d: stream ends early", k);
    if (len)
        memcpy(dst, s->buf + s->pos, len);
    s->pos += len;
    return 0;
}

static void stream_free(stream *s)
{
    free(s->buf);
    free(s->scratch);
    memset(s, 0, sizeof *s);
}

/* Writes the live rows of b column by column, reads them back into a new
 * batch, and checks the rows render the same. */
static void round_trip(const mr_batch *b)
{
    size_t n = mr_batch_live(b);
    stream s = {0};
    mr_colbuf_sink sink = {s_dest, s_emit, &s};
    mr_err err;
    for (int c = 0; c < b->ncols; c++) {
        int first = s.nsizes;
        assert_int_equal(mr_colbuf_write(&b->cols[c], b->sel, n, &sink, &err), 0);
        assert_int_equal(s.nsizes - first, mr_colbuf_count(b->cols[c].type));
        for (int k = 0; k < mr_colbuf_count(b->cols[c].type); k++)
            assert_int_equal(s.sizes[first + k], mr_colbuf_size(&b->cols[c], b->sel, n, k));
    }
    mr_type types[NTYPES];
    for (int c = 0; c < b->ncols; c++)
        types[c] = b->cols[c].type;
    mr_batch *out = mr_batch_create_types(types, b->ncols, 0);
    int si = 0;
    for (int c = 0; c < b->ncols; c++) {
        /* every other column announces its sizes, the rest derive them */
        const uint64_t *size = c % 2 ? s.sizes + si : NULL;
        int rc = mr_colbuf_read(&out->cols[c], n, size, UINT32_MAX, s_fill, &s, MR_EIO, "col", &err);
        if (rc != 0)
            fail_msg("column %d: %s", c, err.msg);
        si += mr_colbuf_count(types[c]);
    }
    assert_int_equal(s.pos, s.len);
    out->nrows = n;
    tu_lines want = {0}, got = {0};
    tu_lines_add_batch(&want, b);
    tu_lines_add_batch(&got, out);
    assert_int_equal(want.n, got.n);
    for (size_t i = 0; i < want.n; i++)
        assert_string_equal(want.v[i], got.v[i]);
    tu_lines_free(&want);
    tu_lines_free(&got);
    mr_batch_destroy(out);
    stream_free(&s);
}

static mr_batch *sample_batch(const mr_schema *sch)
{
    mr_batch *b = mr_batch_create(sch, 0);
    tu_add_row(b, "true|1|10|1.5|3.25|hello|2024-01-02|2024-01-02 03:04:05|2024-01-02 03:04:05+05:30");
    tu_add_row(b, "NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL");
    tu_add_row(b, "false|-7|-70|-0.5|-1.10||1970-01-01|1970-01-01 00:00:00|1969-12-31 23:59:59.5Z");
    tu_add_row(b, "true|2147483647|9223372036854775807|1e300|99999999.99|naïve ünïcode|2099-12-31|2099-12-31 23:59:59|2099-12-31 23:59:59-0800");
    tu_add_row(b, "NULL|0|0|0|0||NULL|NULL|NULL");
    for (int i = 0; i < 20; i++) /* past one validity byte and then some */
        tu_add_row(b, i % 3 ? "true|5|6|7.5|8.00|x|2000-01-01|2000-01-01 00:00:01|2000-01-01 00:00:01"
                            : "NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL");
    return b;
}

static void test_round_trip_all_types(void **state)
{
    (void)state;
    mr_schema *sch = all_types();
    mr_batch *b = sample_batch(sch);
    round_trip(b);

    /* a selection vector: rows out of order are not allowed, but gaps are */
    uint32_t sel[] = {1, 2, 4, 7, 8, 24};
    b->sel = sel;
    b->nsel = sizeof sel / sizeof sel[0];
    round_trip(b);
    b->sel = NULL;

    /* zero rows, with and without a selection */
    b->nsel = 0;
    b->sel = sel;
    round_trip(b);
    b->sel = NULL;
    mr_batch_reset(b);
    round_trip(b);

    /* only empty strings and NULLs: chars never allocated */
    mr_batch_destroy(b);
    b = mr_batch_create(sch, 0);
    tu_add_row(b, "NULL|NULL|NULL|NULL|NULL||NULL|NULL|NULL");
    tu_add_row(b, "NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL");
    free(b->cols[5].chars); /* as a column that never stored a byte has it */
    b->cols[5].chars = NULL;
    b->cols[5].chars_cap = 0;
    round_trip(b);
    mr_batch_destroy(b);
    mr_schema_destroy(sch);
}

/* Columns never initialised (valid NULL) are written as NULLs. */
static void test_blank_columns(void **state)
{
    (void)state;
    stream s = {0};
    mr_colbuf_sink sink = {s_dest, s_emit, &s};
    mr_err err;
    for (int t = 0; t < NTYPES; t++) {
        mr_column blank = {.type = type_at(t)};
        mr_column col;
        assert_int_equal(mr_column_init(&col, type_at(t), 0), 0);
        s.len = s.pos = 0;
        s.nsizes = 0;
        assert_int_equal(mr_colbuf_write(&blank, NULL, 11, &sink, &err), 0);
        assert_int_equal(mr_colbuf_read(&col, 11, NULL, 100, s_fill, &s, MR_EIO, "c", &err), 0);
        for (size_t r = 0; r < 11; r++)
            assert_false(mr_column_is_valid(&col, r));
        if (col.type.id == MR_T_STRING)
            assert_int_equal(col.offsets[11], 0);
        mr_column_free(&col);
    }
    stream_free(&s);
}

/* Bytes of a one-column stream of strings "ab", NULL, "cde". */
static void string_stream(stream *s)
{
    mr_batch *b = mr_batch_create_types(&(mr_type){MR_T_STRING, 0, 0}, 1, 0);
    tu_add_row(b, "ab");
    tu_add_row(b, "NULL");
    tu_add_row(b, "cde");
    mr_colbuf_sink sink = {s_dest, s_emit, s};
    mr_err err;
    assert_int_equal(mr_colbuf_write(&b->cols[0], NULL, 3, &sink, &err), 0);
    mr_batch_destroy(b);
}

static void expect_bad(stream *s, size_t n, const uint64_t *size, uint64_t max_chars,
                       const char *what)
{
    mr_column c;
    mr_err err;
    assert_int_equal(mr_column_init(&c, mr_type_make(MR_T_STRING), 0), 0);
    s->pos = 0;
    int rc = mr_colbuf_read(&c, n, size, max_chars, s_fill, s, MR_EPROTO, "column 0", &err);
    if (rc != MR_EPROTO && rc != MR_EIO)
        fail_msg("expected an error for %s, got %d", what, rc);
    if (!strstr(err.msg, what))
        fail_msg("message '%s' does not mention '%s'", err.msg, what);
    mr_column_free(&c);
}

/* Offsets sit at byte 1 of the stream (after one validity byte): unaligned. */
static void set_offset(stream *s, int i, uint32_t v)
{
    memcpy(s->buf + 1 + (size_t)i * 4, &v, 4);
}

static void test_bad_input(void **state)
{
    (void)state;
    stream s = {0};
    string_stream(&s);
    assert_int_equal(s.len, 1 + 16 + 5);
    uint64_t good[3] = {1, 16, 5};

    /* announced sizes that do not fit the row count or the limit */
    uint64_t bad[3];
    memcpy(bad, good, sizeof bad);
    bad[0] = 2;
    expect_bad(&s, 3, bad, 100, "validity: 2 bytes, expected 1");
    memcpy(bad, good, sizeof bad);
    bad[1] = 12;
    expect_bad(&s, 3, bad, 100, "offsets: 12 bytes, expected 16");
    memcpy(bad, good, sizeof bad);
    bad[2] = 1000;
    expect_bad(&s, 3, bad, 100, "chars: 1000 bytes, expected at most 100");
    expect_bad(&s, 3, NULL, 4, "expected at most 4");
    /* chars size that disagrees with the offsets */
    memcpy(bad, good, sizeof bad);
    bad[2] = 4;
    expect_bad(&s, 3, bad, 100, "end at 5 but chars are 4");
    /* a row count larger than the stream: truncated */
    expect_bad(&s, 5, NULL, 100, "ends early");
    /* offsets that do not start at 0, or go back */
    set_offset(&s, 0, 1);
    expect_bad(&s, 3, good, 100, "first offset is 1");
    set_offset(&s, 0, 0);
    set_offset(&s, 2, 1);
    expect_bad(&s, 3, good, 100, "ascending");
    set_offset(&s, 2, 2);
    /* the fixed stream still reads */
    mr_column c;
    mr_err err;
    assert_int_equal(mr_column_init(&c, mr_type_make(MR_T_STRING), 0), 0);
    s.pos = 0;
    assert_int_equal(mr_colbuf_read(&c, 3, good, 100, s_fill, &s, MR_EIO, "c", &err), 0);
    size_t l;
    assert_memory_equal(mr_column_str(&c, 2, &l), "cde", 3);
    assert_int_equal(l, 3);
    mr_column_free(&c);
    stream_free(&s);

    /* bool bytes other than 0/1 are normalised */
    stream b = {.buf = malloc(8), .cap = 8, .len = 4};
    memcpy(b.buf, "\x07\x00\x05\xff", 4);
    assert_int_equal(mr_column_init(&c, mr_type_make(MR_T_BOOL), 0), 0);
    assert_int_equal(mr_colbuf_read(&c, 3, NULL, 0, s_fill, &b, MR_EIO, "c", &err), 0);
    assert_int_equal(MR_COL_U8(&c)[0], 0);
    assert_int_equal(MR_COL_U8(&c)[1], 1);
    assert_int_equal(MR_COL_U8(&c)[2], 1);
    mr_column_free(&c);
    stream_free(&b);
}

static void test_records(void **state)
{
    (void)state;
    uint64_t lens[3] = {3, 0, 5};
    unsigned char rec[64];
    uint64_t total = mr_colbuf_record_head(rec, 3, lens);
    assert_int_equal(total, mr_colbuf_record_head_size(3) + 8);
    memcpy(rec + mr_colbuf_record_head_size(3), "abcVWXYZ", 8);

    const void *bufs[4];
    uint64_t got[4];
    uint32_t nb;
    mr_err err;
    assert_int_equal(mr_colbuf_record_parse(rec, total, bufs, got, 4, &nb, MR_EIO, "r", &err), 0);
    assert_int_equal(nb, 3);
    assert_int_equal(got[0], 3);
    assert_int_equal(got[1], 0);
    assert_int_equal(got[2], 5);
    assert_memory_equal(bufs[0], "abc", 3);
    assert_memory_equal(bufs[2], "VWXYZ", 5);

    /* every truncation is refused */
    for (uint64_t len = 0; len < total; len++) {
        int rc = mr_colbuf_record_parse(rec, len, bufs, got, 4, &nb, MR_EIO, "r", &err);
        assert_int_equal(rc, MR_EIO);
        assert_int_equal(nb, 0);
        assert_non_null(strstr(err.msg, "r: "));
    }
    /* trailing bytes, too many buffers for the room, bad magic */
    assert_int_equal(mr_colbuf_record_parse(rec, total + 1, bufs, got, 4, &nb, MR_EIO, "r", &err),
                     MR_EIO);
    assert_non_null(strstr(err.msg, "beyond its buffers"));
    assert_int_equal(mr_colbuf_record_parse(rec, total, bufs, got, 2, &nb, MR_EIO, "r", &err),
                     MR_EIO);
    assert_non_null(strstr(err.msg, "3 buffers"));
    /* a buffer length beyond the record (and one near 2^64) */
    uint64_t huge = UINT64_MAX - 2;
    memcpy(rec + 8 + 8, &huge, 8);
    assert_int_equal(mr_colbuf_record_parse(rec, total, bufs, got, 4, &nb, MR_EIO, "r", &err),
                     MR_EIO);
    assert_non_null(strstr(err.msg, "only"));
    rec[0] ^= 1;
    assert_int_equal(mr_colbuf_record_parse(rec, total, bufs, got, 4, &nb, MR_EIO, "r", &err),
                     MR_EIO);
    assert_non_null(strstr(err.msg, "magic"));

    /* an empty record */
    total = mr_colbuf_record_head(rec, 0, NULL);
    assert_int_equal(total, 8);
    assert_int_equal(mr_colbuf_record_parse(rec, total, bufs, got, 4, &nb, MR_EIO, "r", &err), 0);
    assert_int_equal(nb, 0);
}

static void test_names(void **state)
{
    (void)state;
    mr_type s = mr_type_make(MR_T_STRING), i = mr_type_make(MR_T_INT64);
    assert_string_equal(mr_colbuf_name(s, 2), "chars");
    assert_string_equal(mr_colbuf_name(i, 1), "data");
    assert_string_equal(mr_colbuf_name(i, 2), "?");
    assert_int_equal(mr_colbuf_expect(i, 9, 0), 2);
    assert_int_equal(mr_colbuf_expect(i, 9, 1), 72);
    assert_int_equal(mr_colbuf_expect(s, 9, 1), 40);
    assert_true(mr_colbuf_expect(s, 9, 2) == MR_COLBUF_ANY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_all_types),
        cmocka_unit_test(test_blank_columns),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_records),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
