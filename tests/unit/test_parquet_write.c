/* test_parquet_write.c - the Parquet writer (core/formats/parquet_write.c)
 * against millrace's own reader: seeded random batches of every type with
 * NULLs, runs and distinct values in varied shares, written with every
 * codec and several row-group sizes (and with selection vectors), then
 * read back and compared value by value.  Also: a dictionary page where
 * text repeats and none where it does not, and the row-group layout of the
 * footer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/formats/format.h"
#include "core/formats/parquet_int.h"
#include "core/formats/parquet_write.h"
#include "core/op.h"
#include "core/op/scan.h"

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mr_test_pqw_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char p[512];
    snprintf(p, sizeof p, "%s/t.parquet", tmpdir);
    unlink(p);
    rmdir(tmpdir);
    return 0;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

#define NCOLS 10

static mr_schema *make_schema(void)
{
    static const char *names[NCOLS] = {"b", "i", "l", "f", "dec", "s", "lowcard", "d", "ts", "tz"};
    mr_type types[NCOLS] = {
        mr_type_make(MR_T_BOOL),     mr_type_make(MR_T_INT32),   mr_type_make(MR_T_INT64),
        mr_type_make(MR_T_FLOAT64),  mr_type_decimal(12, 3),     mr_type_make(MR_T_STRING),
        mr_type_make(MR_T_STRING),   mr_type_make(MR_T_DATE),    mr_type_make(MR_T_TIMESTAMP),
        mr_type_make(MR_T_TIMESTAMPTZ),
    };
    mr_schema *s = mr_schema_create(NCOLS);
    for (int j = 0; j < NCOLS; j++)
        assert_int_equal(mr_schema_set(s, j, names[j], types[j]), 0);
    return s;
}

/* Fills b with n rows: null_every 0 means no NULLs; runs makes long runs
 * of equal values (the RLE side of the hybrid). */
static void fill(mr_batch *b, size_t n, unsigned null_pct, int runs)
{
    mr_batch_reset(b);
    assert_int_equal(mr_batch_reserve(b, n), 0);
    uint64_t v = 0;
    for (size_t r = 0; r < n; r++) {
        if (!runs || next_rand() % 20 == 0)
            v = next_rand();
        for (int j = 0; j < NCOLS; j++) {
            mr_column *c = &b->cols[j];
            int valid = next_rand() % 100 >= null_pct;
            if (c->type.id == MR_T_STRING) {
                char buf[64];
                int k = j == 6 ? snprintf(buf, sizeof buf, "city-%u", (unsigned)(v % 7))
                               : snprintf(buf, sizeof buf, "%llx%.*s", (unsigned long long)v,
                                          (int)(v % 20), "abcdefghijklmnopqrstu");
                if (valid)
                    assert_int_equal(mr_column_set_str(c, r, buf, (size_t)k), 0);
                else
                    mr_column_set_str_null(c, r);
                mr_column_set_valid(c, r, valid);
                continue;
            }
            mr_column_set_valid(c, r, valid);
            switch (c->type.id) {
            case MR_T_BOOL: MR_COL_U8(c)[r] = (uint8_t)(v & 1); break;
            case MR_T_INT32:
            case MR_T_DATE: MR_COL_I32(c)[r] = (int32_t)(v % 200000) - 100000; break;
            case MR_T_FLOAT64: MR_COL_F64(c)[r] = ((double)(int64_t)v) / 1e9; break;
            case MR_T_DECIMAL: MR_COL_I64(c)[r] = (int64_t)(v % 1000000000000ull) - 500000000000; break;
            default: MR_COL_I64(c)[r] = (int64_t)(v >> 8) - (INT64_C(1) << 54); break;
            }
        }
    }
    b->nrows = n;
}

static int same_value(const mr_column *a, size_t ra, const mr_column *b, size_t rb)
{
    int va = mr_column_is_valid(a, ra), vb = mr_column_is_valid(b, rb);
    if (va != vb)
        return 0;
    if (!va)
        return 1;
    switch (a->type.id) {
    case MR_T_BOOL: return MR_COL_U8(a)[ra] == MR_COL_U8(b)[rb];
    case MR_T_INT32:
    case MR_T_DATE: return MR_COL_I32(a)[ra] == MR_COL_I32(b)[rb];
    case MR_T_FLOAT64: return memcmp(&MR_COL_F64(a)[ra], &MR_COL_F64(b)[rb], 8) == 0;
    case MR_T_STRING: {
        size_t na, nb;
        const char *pa = mr_column_str(a, ra, &na), *pb = mr_column_str(b, rb, &nb);
        return na == nb && memcmp(pa, pb, na) == 0;
    }
    default: return MR_COL_I64(a)[ra] == MR_COL_I64(b)[rb];
    }
}

/* Writes batches of the given shapes, reads the file back and compares. */
static void round_trip(const char *codec, uint64_t rg_rows, unsigned null_pct, int runs,
                       int with_sel, size_t nbatches)
{
    char path[512];
    snprintf(path, sizeof path, "%s/t.parquet", tmpdir);
    mr_schema *s = make_schema();
    mr_err err = {0};
    mr_pqwriter *w = mr_pqwriter_open(path, s, mr_pq_codec_parse(codec), rg_rows, &err);
    if (!w)
        fail_msg("%s", err.msg);
    mr_batch **in = calloc(nbatches, sizeof *in);
    size_t total = 0;
    for (size_t k = 0; k < nbatches; k++) {
        in[k] = mr_batch_create(s, 0);
        fill(in[k], 1 + next_rand() % 3000, null_pct, runs);
        if (with_sel) {
            mr_batch *b = in[k];
            b->sel = b->sel_buf;
            b->nsel = 0;
            for (size_t r = 0; r < b->nrows; r++)
                if (next_rand() % 3)
                    b->sel[b->nsel++] = (uint32_t)r;
        }
        total += mr_batch_live(in[k]);
        assert_int_equal(mr_pqwriter_write(w, in[k], &err), 0);
    }
    assert_int_equal(mr_pqwriter_rows(w), total);
    if (mr_pqwriter_close(w, &err) < 0)
        fail_msg("%s", err.msg);

    pq_file f;
    memset(&f, 0, sizeof f);
    if (pq_file_open(&f, path, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(f.meta.num_rows, (int64_t)total);
    uint64_t rgs = (total + rg_rows - 1) / rg_rows;
    assert_int_equal(f.meta.nrgs, rgs);
    pq_file_close(&f);

    mr_op *op = mr_scan_create(&mr_format_parquet, path, 0, UINT64_MAX, s, NULL, "n", &err);
    if (!op)
        fail_msg("%s", err.msg);
    assert_int_equal(mr_op_open(op, NULL, &err), 0);
    size_t k = 0, i = 0, seen = 0;
    mr_batch *b;
    int rc;
    while ((rc = mr_op_next(op, &b, &err)) == MR_NEXT_BATCH)
        for (size_t r = 0; r < mr_batch_live(b); r++) {
            while (k < nbatches && i == mr_batch_live(in[k])) {
                k++;
                i = 0;
            }
            assert_true(k < nbatches);
            uint32_t rr = mr_batch_row(b, r), ri = mr_batch_row(in[k], i);
            for (int j = 0; j < NCOLS; j++)
                if (!same_value(&b->cols[j], rr, &in[k]->cols[j], ri))
                    fail_msg("codec %s rg %llu: row %zu column %d differs", codec,
                             (unsigned long long)rg_rows, seen, j);
            i++;
            seen++;
        }
    if (rc != MR_NEXT_DONE)
        fail_msg("%s", err.msg);
    assert_int_equal(seen, total);
    mr_op_close(op);
    for (size_t q = 0; q < nbatches; q++)
        mr_batch_destroy(in[q]);
    free(in);
    mr_schema_destroy(s);
}

static void test_round_trips(void **state)
{
    (void)state;
    static const char *codecs[] = {"snappy", "zstd", "gzip", "none"};
    static const uint64_t groups[] = {1, 7, 1000, 4096, MR_PQ_ROW_GROUP_ROWS};
    for (int round = 0; round < 24; round++) {
        const char *codec = codecs[round % 4];
        uint64_t rg = groups[(round / 4) % 5];
        size_t nb = rg == 1 ? 1 : 1 + next_rand() % 5;
        round_trip(codec, rg, (unsigned)(next_rand() % 3) * 40, round % 2, round % 3 == 0, nb);
    }
    round_trip("snappy", 100, 100, 0, 0, 2); /* every value NULL */
    round_trip("none", 100, 0, 1, 0, 2);     /* no NULL at all */
}

static void test_dictionary_choice(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/t.parquet", tmpdir);
    mr_schema *s = make_schema();
    mr_err err = {0};
    mr_pqwriter *w = mr_pqwriter_open(path, s, PQ_CODEC_NONE, 0, &err);
    assert_non_null(w);
    mr_batch *b = mr_batch_create(s, 0);
    fill(b, 4000, 10, 0);
    assert_int_equal(mr_pqwriter_write(w, b, &err), 0);
    assert_int_equal(mr_pqwriter_close(w, &err), 0);
    pq_file f;
    memset(&f, 0, sizeof f);
    assert_int_equal(pq_file_open(&f, path, &err), 0);
    assert_int_equal(f.meta.nrgs, 1);
    assert_true(f.meta.rgs[0].cols[6].dict_page_offset >= 0); /* 7 distinct cities */
    assert_true(f.meta.rgs[0].cols[5].dict_page_offset < 0);  /* all distinct */
    pq_file_close(&f);
    mr_batch_destroy(b);
    mr_schema_destroy(s);
    assert_int_equal(mr_pq_codec_parse("lz4"), -1);
    assert_int_equal(mr_pq_codec_parse(NULL), PQ_CODEC_SNAPPY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_dictionary_choice),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
