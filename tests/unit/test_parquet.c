/* test_parquet.c - the Parquet reader (core/formats/format_parquet.c and
 * parquet_*.c): the hybrid RLE and delta decoders on byte strings worked
 * out from the format specification, then files written by pyarrow at test
 * time (the .venv's Python; the file tests skip when pyarrow is missing):
 * inferred types, values, splits by row group, explicit schemas and their
 * errors, and every truncation of a file failing cleanly with its name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/formats/format.h"
#include "core/formats/parquet_int.h"
#include "core/op.h"
#include "core/op/scan.h"

static char tmpdir[256];
static int have_pyarrow;

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mr_test_parquet_XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    /* Writes t.parquet: 10 rows in row groups of 4 (4, 4, 2), every type,
     * and nest.parquet with a list column. */
    static char cmd[4096];
    int len = snprintf(cmd, sizeof cmd,
             "cd '%s' && '%s/.venv/bin/python' - >/dev/null 2>&1 <<'EOF'\n"
             "import pyarrow as pa, pyarrow.parquet as pq, datetime as dt, decimal as dc\n"
             "n = 10\n"
             "t = pa.table({'id': pa.array(range(n), pa.int64()),\n"
             " 'small': pa.array([i - 5 if i %% 3 else None for i in range(n)], pa.int8()),\n"
             " 'name': pa.array(['r%%d' %% i if i %% 4 else None for i in range(n)]),\n"
             " 'ok': pa.array([i %% 2 == 0 for i in range(n)]),\n"
             " 'x': pa.array([i / 4 for i in range(n)], pa.float32()),\n"
             " 'day': pa.array([dt.date(2024, 2, 20 + i) for i in range(n)]),\n"
             " 'at': pa.array([dt.datetime(2024, 1, 1, 0, 0, i) for i in range(n)], pa.timestamp('ms')),\n"
             " 'price': pa.array([dc.Decimal(i * 125 - 500) / 100 for i in range(n)], pa.decimal128(9, 2)),\n"
             " 'u': pa.array([4000000000 + i for i in range(n)], pa.uint32()),\n"
             " 'tiny': pa.array([dc.Decimal(i %% 3) / 10 for i in range(n)], pa.decimal128(2, 1))})\n"
             "pq.write_table(t, 't.parquet', row_group_size=4, compression='snappy')\n"
             "pq.write_table(pa.table({'id': [1, 2], 'tags': [[1], []]}), 'nest.parquet')\n"
             "pq.write_table(pa.table({'w': pa.array([dc.Decimal(1)], pa.decimal128(30, 2))}), 'wide.parquet')\n"
             "EOF",
             tmpdir, MR_SOURCE_DIR);
    if (len < 0 || (size_t)len >= sizeof cmd)
        return -1;
    have_pyarrow = system(cmd) == 0;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *path_of(const char *name)
{
    static char p[4][300];
    static int k;
    char *s = p[k++ % 4];
    snprintf(s, 300, "%s/%s", tmpdir, name);
    return s;
}

/* ---- decoders on hand-made bytes ------------------------------------------- */

static void test_rle_hybrid(void **state)
{
    (void)state;
    char why[200];
    uint32_t out[16];
    /* an RLE run of 5 x 3 (width 2), then a bit-packed group of 8 values
     * 0..7 at width 3: 0b10001000 0b11000110 0b11111010 */
    static const uint8_t in[] = {5 << 1, 3, (1 << 1) | 1, 0x88, 0xC6, 0xFA};
    assert_int_equal(pq_rle_decode(in, sizeof in, 3, 13, out, why, sizeof why), 0);
    static const uint32_t want[] = {3, 3, 3, 3, 3, 0, 1, 2, 3, 4, 5, 6, 7};
    assert_memory_equal(out, want, sizeof want);
    /* asking for more than the data holds is an error, not a read past it */
    assert_int_equal(pq_rle_decode(in, sizeof in, 3, 14, out, why, sizeof why), MR_EPARSE);
    assert_non_null(strstr(why, "ends after 13 of 14"));
    /* a run value wider than the bit width */
    static const uint8_t wide[] = {2 << 1, 9};
    assert_int_equal(pq_rle_decode(wide, sizeof wide, 3, 2, out, why, sizeof why), MR_EPARSE);
}

static void test_delta_binary_packed(void **state)
{
    (void)state;
    char why[200];
    pq_val out[8];
    pq_buf scratch = {0};
    /* 1, 2, 3, 4, 5: block 128 in 4 miniblocks of 32, 5 values, first 1;
     * min delta 1, all widths 0 (every delta is the minimum) */
    static const uint8_t in[] = {0x80, 0x01, 4, 5, 2, 2, 0, 0, 0, 0};
    assert_int_equal(pq_decode_values(PQ_INT64, 0, PQ_ENC_DELTA_BP, in, sizeof in, 5, out,
                                      &scratch, NULL, 0, why, sizeof why), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(out[i].i, i + 1);
    /* 7, 5, 3, 1, 2, 3: deltas -2 -2 -2 1 1, min -2, width 2: 0 0 0 3 3 */
    static const uint8_t in2[] = {0x80, 0x01, 4, 6, 14, 3, 2, 0, 0, 0,
                                  0xC0, 0x03, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(pq_decode_values(PQ_INT32, 0, PQ_ENC_DELTA_BP, in2, sizeof in2, 6, out,
                                      &scratch, NULL, 0, why, sizeof why), 0);
    static const int64_t want2[] = {7, 5, 3, 1, 2, 3};
    for (int i = 0; i < 6; i++)
        assert_int_equal(out[i].i, want2[i]);
    /* a miniblock cut short */
    assert_int_equal(pq_decode_values(PQ_INT32, 0, PQ_ENC_DELTA_BP, in2, 12, 6, out, &scratch,
                                      NULL, 0, why, sizeof why), MR_EPARSE);
    /* a dictionary index past the dictionary */
    static const uint8_t idx[] = {1, 2 << 1, 1};
    pq_val dict[1] = {{.i = 42}};
    assert_int_equal(pq_decode_values(PQ_INT64, 0, PQ_ENC_RLE_DICT, idx, sizeof idx, 2, out,
                                      &scratch, dict, 1, why, sizeof why), MR_EPARSE);
    assert_non_null(strstr(why, "dictionary index 1"));
    free(scratch.p);
}

/* ---- files written by pyarrow ----------------------------------------------- */

static mr_schema *infer(const char *name, mr_err *err)
{
    mr_schema *s = NULL;
    if (mr_format_parquet.infer(path_of(name), NULL, 0, &s, err) < 0)
        return NULL;
    return s;
}

/* Scans [off, off+len) of name into text "id:...|"; returns the rows. */
static long scan_text(const char *name, uint64_t off, uint64_t len, const mr_schema *s, char *out,
                      size_t cap)
{
    mr_err err;
    mr_op *op = mr_scan_create(&mr_format_parquet, path_of(name), off, len, s, NULL, "n", &err);
    if (!op)
        fail_msg("%s", err.msg);
    assert_int_equal(mr_op_open(op, NULL, &err), 0);
    long rows = 0;
    size_t used = 0;
    out[0] = '\0';
    mr_batch *b;
    int rc;
    while ((rc = mr_op_next(op, &b, &err)) == MR_NEXT_BATCH)
        for (size_t r = 0; r < b->nrows; r++, rows++) {
            for (int c = 0; c < b->ncols; c++) {
                const mr_column *col = &b->cols[c];
                char v[64];
                size_t n;
                const char *sv;
                if (!mr_column_is_valid(col, r)) {
                    snprintf(v, sizeof v, "NULL");
                } else {
                    switch (col->type.id) {
                    case MR_T_BOOL: snprintf(v, sizeof v, "%d", MR_COL_U8(col)[r]); break;
                    case MR_T_INT32: snprintf(v, sizeof v, "%d", MR_COL_I32(col)[r]); break;
                    case MR_T_INT64:
                        snprintf(v, sizeof v, "%lld", (long long)MR_COL_I64(col)[r]);
                        break;
                    case MR_T_FLOAT64: mr_format_float64(MR_COL_F64(col)[r], v, sizeof v); break;
                    case MR_T_DECIMAL:
                        mr_format_decimal(MR_COL_I64(col)[r], col->type.scale, v, sizeof v);
                        break;
                    case MR_T_DATE: mr_format_date(MR_COL_I32(col)[r], v, sizeof v); break;
                    case MR_T_TIMESTAMP:
                        mr_format_timestamp(MR_COL_I64(col)[r], v, sizeof v);
                        break;
                    case MR_T_STRING:
                        sv = mr_column_str(col, r, &n);
                        snprintf(v, sizeof v, "%.*s", (int)n, sv);
                        break;
                    default: snprintf(v, sizeof v, "?");
                    }
                }
                used += (size_t)snprintf(out + used, cap - used, "%s%s", c ? "," : "", v);
            }
            used += (size_t)snprintf(out + used, cap - used, "|");
        }
    assert_int_equal(rc, MR_NEXT_DONE);
    mr_op_close(op);
    return rows;
}

static void test_infer_and_read(void **state)
{
    (void)state;
    if (!have_pyarrow)
        skip();
    mr_err err;
    mr_schema *s = infer("t.parquet", &err);
    assert_non_null(s);
    static const char *const want[] = {"id int64",    "small int32", "name string",
                                       "ok bool",     "x float64",   "day date",
                                       "at timestamp", "price decimal(9,2)", "u int64",
                                       "tiny decimal(2,1)"};
    assert_int_equal(s->nfields, 10);
    for (int i = 0; i < 10; i++) {
        char t[48], got[96];
        snprintf(got, sizeof got, "%s %s", s->fields[i].name, mr_type_name(s->fields[i].type, t,
                                                                            sizeof t));
        assert_string_equal(got, want[i]);
    }
    char text[4096];
    /* tiny is a one-byte FIXED_LEN_BYTE_ARRAY decimal with a dictionary */
    assert_int_equal(scan_text("t.parquet", 0, UINT64_MAX, s, text, sizeof text), 10);
    assert_non_null(strstr(text, "0,NULL,NULL,1,0,2024-02-20,2024-01-01 00:00:00,-5.00,4000000000,0.0|"));
    assert_non_null(strstr(text, "|9,NULL,r9,0,2.25,2024-02-29,2024-01-01 00:00:09,6.25,4000000009,0.0|"));
    assert_non_null(strstr(text, "|5,0,r5,0,1.25,2024-02-25,2024-01-01 00:00:05,1.25,4000000005,0.2|"));
    mr_schema_destroy(s);
}

/* Every cut of the file into two splits returns each row once. */
static void test_splits_by_row_group(void **state)
{
    (void)state;
    if (!have_pyarrow)
        skip();
    mr_err err;
    mr_schema *s = mr_schema_create(1);
    assert_int_equal(mr_schema_set(s, 0, "id", mr_type_make(MR_T_INT64)), 0);
    struct stat sb;
    assert_int_equal(stat(path_of("t.parquet"), &sb), 0);
    char a[512], b[512];
    int parts_seen = 0;
    for (uint64_t cut = 0; cut <= (uint64_t)sb.st_size; cut += 7) {
        long ra = scan_text("t.parquet", 0, cut, s, a, sizeof a);
        long rb = scan_text("t.parquet", cut, UINT64_MAX, s, b, sizeof b);
        assert_int_equal(ra + rb, 10);
        char both[1024];
        snprintf(both, sizeof both, "%s%s", a, b);
        assert_string_equal(both, "0|1|2|3|4|5|6|7|8|9|");
        if (ra > 0 && rb > 0)
            parts_seen++;
    }
    assert_true(parts_seen > 0); /* some cut really fell between row groups */
    (void)err;
    mr_schema_destroy(s);
}

static int open_err(const char *name, const char *const *cols, const char *const *types, int n,
                    mr_err *err)
{
    mr_schema *s = mr_schema_create(n);
    for (int i = 0; i < n; i++) {
        mr_type t;
        assert_int_equal(mr_type_parse(types[i], &t, err), 0);
        assert_int_equal(mr_schema_set(s, i, cols[i], t), 0);
    }
    void *src = NULL;
    int rc = mr_format_parquet.open(path_of(name), 0, UINT64_MAX, s, NULL, &src, err);
    mr_format_parquet.close(src);
    mr_schema_destroy(s);
    return rc;
}

static void test_explicit_schema(void **state)
{
    (void)state;
    if (!have_pyarrow)
        skip();
    mr_err err;
    /* widening and selecting, in another order */
    const char *c1[] = {"price", "small"}, *t1[] = {"float64", "int64"};
    assert_int_equal(open_err("t.parquet", c1, t1, 2, &err), 0);
    const char *c2[] = {"nope"}, *t2[] = {"int32"};
    assert_int_equal(open_err("t.parquet", c2, t2, 1, &err), MR_ENOTFOUND);
    assert_non_null(strstr(err.msg, "has no column 'nope' (it has: id, small, name"));
    const char *c3[] = {"name"}, *t3[] = {"int64"};
    assert_int_equal(open_err("t.parquet", c3, t3, 1, &err), MR_ETYPE);
    assert_non_null(strstr(err.msg, "column 'name': the file holds string"));
    const char *c4[] = {"id"}, *t4[] = {"int32"}; /* narrowing is refused */
    assert_int_equal(open_err("t.parquet", c4, t4, 1, &err), MR_ETYPE);
    /* a nested column is an error only when asked for */
    const char *c5[] = {"id"}, *t5[] = {"int64"};
    assert_int_equal(open_err("nest.parquet", c5, t5, 1, &err), 0);
    const char *c6[] = {"tags"}, *t6[] = {"string"};
    assert_int_equal(open_err("nest.parquet", c6, t6, 1, &err), MR_ENOTSUP);
    assert_non_null(strstr(err.msg, "column 'tags': it is nested"));
    assert_null(infer("nest.parquet", &err));
    assert_non_null(strstr(err.msg, "column 'tags'"));
    assert_null(infer("wide.parquet", &err));
    assert_non_null(strstr(err.msg, "decimal(30,2) is wider than millrace's decimals"));
}

/* Every prefix of the file, and the file with each footer byte flipped,
 * fails with a message naming it (or reads), never crashes. */
static void test_truncated_and_corrupt(void **state)
{
    (void)state;
    if (!have_pyarrow)
        skip();
    FILE *f = fopen(path_of("t.parquet"), "rb");
    assert_non_null(f);
    static uint8_t data[1 << 16];
    size_t n = fread(data, 1, sizeof data, f);
    fclose(f);
    assert_true(n > 100 && n < sizeof data);
    mr_schema *s = NULL;
    mr_err err;
    s = infer("t.parquet", &err);
    assert_non_null(s);
    for (size_t len = 0; len < n; len += (len < n - 600 ? 37 : 1)) {
        FILE *g = fopen(path_of("cut.parquet"), "wb");
        assert_int_equal(fwrite(data, 1, len, g), len);
        fclose(g);
        /* The scan opens its file in open, where a cut file fails: the
         * magic is gone. */
        mr_op *op = mr_scan_create(&mr_format_parquet, path_of("cut.parquet"), 0, UINT64_MAX, s,
                                   NULL, "n", &err);
        assert_non_null(op);
        assert_true(mr_op_open(op, NULL, &err) < 0);
        assert_non_null(strstr(err.msg, "cut.parquet"));
        mr_op_close(op);
    }
    for (size_t i = 4; i < n; i += 3) {
        data[i] ^= 0x55;
        FILE *g = fopen(path_of("bad.parquet"), "wb");
        assert_int_equal(fwrite(data, 1, n, g), n);
        fclose(g);
        data[i] ^= 0x55;
        mr_op *op = mr_scan_create(&mr_format_parquet, path_of("bad.parquet"), 0, UINT64_MAX, s,
                                   NULL, "n", &err);
        if (!op) {
            assert_non_null(strstr(err.msg, "bad.parquet"));
            continue;
        }
        int rc = mr_op_open(op, NULL, &err);
        mr_batch *b;
        while (rc == 0 && (rc = mr_op_next(op, &b, &err)) == MR_NEXT_BATCH)
            ;
        if (rc < 0 && rc != MR_ENOMEM)
            assert_non_null(strstr(err.msg, "bad.parquet"));
        mr_op_close(op);
    }
    mr_schema_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rle_hybrid),
        cmocka_unit_test(test_delta_binary_packed),
        cmocka_unit_test(test_infer_and_read),
        cmocka_unit_test(test_splits_by_row_group),
        cmocka_unit_test(test_explicit_schema),
        cmocka_unit_test(test_truncated_and_corrupt),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
