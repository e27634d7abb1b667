/* test_formats.c - core/formats: the format registry, the one scan over
 * CSV and JSON Lines (same rows, same rejects, same positions), the split
 * reader's resync and line count, and the inference sampling windows. */
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
#include "core/formats/sample.h"
#include "core/formats/split.h"
#include "core/op/scan.h"
#include "core/op/scan_csv.h"
#include "core/op/scan_jsonl.h"

static char tmpdir[256];

static int setup_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mr_test_formats_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Writes text to name in the test folder; returns the path (one of four
 * static slots). */
static const char *write_file(const char *name, const char *text, size_t n)
{
    static char paths[4][300];
    static int slot;
    char *path = paths[slot++ % 4];
    snprintf(path, 300, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, n, f), n);
    fclose(f);
    return path;
}

static void test_find(void **state)
{
    (void)state;
    assert_ptr_equal(mr_format_find("csv"), &mr_format_csv);
    assert_ptr_equal(mr_format_find("jsonl"), &mr_format_jsonl);
    assert_ptr_equal(mr_format_find("parquet"), &mr_format_parquet);
    assert_null(mr_format_find("CSV"));
}

/* Reads every row of a scan into "id=v|..." lines; returns the rows. */
static size_t scan_all(mr_op *op, char *out, size_t cap)
{
    mr_err err;
    assert_int_equal(mr_op_open(op, NULL, &err), 0);
    size_t rows = 0, used = 0;
    out[0] = '\0';
    mr_batch *b;
    int rc;
    while ((rc = mr_op_next(op, &b, &err)) == MR_NEXT_BATCH) {
        for (size_t r = 0; r < b->nrows; r++, rows++) {
            size_t len;
            const char *s = mr_column_str(&b->cols[1], r, &len);
            used += (size_t)snprintf(out + used, cap - used, "%lld=%.*s|",
                                     (long long)MR_COL_I64(&b->cols[0])[r],
                                     mr_column_is_valid(&b->cols[1], r) ? (int)len : 4,
                                     mr_column_is_valid(&b->cols[1], r) ? s : "NULL");
        }
    }
    assert_int_equal(rc, MR_NEXT_DONE);
    return rows;
}

/* The same table as CSV and as JSON Lines, with one bad row each: one scan
 * operator gives the same rows, rejects and positions. */
static void test_scan_both_formats(void **state)
{
    (void)state;
    static const char csv[] = "id,name\n1,ann\nx,bad\n2,\"b\xC3\xA9la\"\n3,\n";
    static const char jsonl[] = "{\"id\":1,\"name\":\"ann\"}\n{\"id\":\"x\",\"name\":\"bad\"}\n"
                                "{\"id\":2,\"name\":\"b\xC3\xA9la\"}\n{\"id\":3,\"name\":null}\n";
    const char *pc = write_file("t.csv", csv, sizeof csv - 1);
    const char *pj = write_file("t.jsonl", jsonl, sizeof jsonl - 1);
    mr_schema *s = mr_schema_create(2);
    assert_non_null(s);
    assert_int_equal(mr_schema_set(s, 0, "id", mr_type_make(MR_T_INT64)), 0);
    assert_int_equal(mr_schema_set(s, 1, "name", mr_type_make(MR_T_STRING)), 0);
    mr_csv_options o;
    mr_csv_options_init(&o);
    o.on_error = MR_CSV_REJECT;
    const mr_format *fmts[] = {&mr_format_csv, &mr_format_jsonl};
    const char *paths[] = {pc, pj};
    for (int k = 0; k < 2; k++) {
        mr_err err;
        mr_op *op = mr_scan_create(fmts[k], paths[k], 0, UINT64_MAX, s, &o, "n", &err);
        assert_non_null(op);
        assert_ptr_equal(mr_scan_format(op), fmts[k]);
        char rows[512];
        assert_int_equal(scan_all(op, rows, sizeof rows), 3);
        assert_string_equal(rows, "1=ann|2=b\xC3\xA9la|3=NULL|");
        const mr_reject *rej;
        size_t n;
        assert_int_equal(mr_scan_rejects(op, &rej, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(rej[0].line, k ? 2 : 3); /* CSV has a header line */
        assert_non_null(strstr(rej[0].reason, "column 'id'"));
        assert_int_equal(mr_scan_bad_rows(op), 1);
        assert_true(mr_scan_bytes_read(op) == (uint64_t)(k ? sizeof jsonl : sizeof csv) - 1);
        /* the per-format names answer for their own format only */
        const mr_reject *r2;
        size_t n2;
        assert_int_equal(mr_scan_csv_rejects(op, &r2, &n2), k ? MR_EINVAL : 0);
        assert_int_equal(mr_scan_jsonl_rejects(op, &r2, &n2), k ? 0 : MR_EINVAL);
        assert_true(mr_scan_csv_bad_rows(op) == (k ? 0u : 1u));
        mr_op_close(op);
    }
    mr_err err;
    mr_op *op = mr_scan_create(&mr_format_jsonl, "/nonexistent/x.jsonl", 0, UINT64_MAX, s, &o,
                               "n", &err);
    assert_non_null(op); /* no I/O before open */
    assert_true(mr_op_open(op, NULL, &err) < 0);
    mr_op_close(op);
    assert_non_null(strstr(err.msg, "node 'n': cannot open"));
    mr_schema_destroy(s);
}

/* Resync: a split at offset > 0 starts past the first line end at or after
 * offset-1 that is outside quotes. */
static void test_split_resync(void **state)
{
    (void)state;
    static const char text[] = "a,\"x\ny\",b\nNEXT,1\nlast\n";
    const char *p = write_file("q.csv", text, sizeof text - 1);
    mr_err err;
    mr_split sp;
    /* offset 5: byte 4 is the quoted newline; inside quotes it is data */
    assert_int_equal(mr_split_open(&sp, p, 5, UINT64_MAX, 64, 0, &err), 0);
    assert_int_equal(mr_split_resync(&sp, '"', true, &err), 0);
    assert_int_equal(sp.buf_off + sp.beg, 10); /* "NEXT" */
    assert_int_equal(mr_split_lines_before(&sp, sp.buf_off + sp.beg), 2);
    mr_split_close(&sp);
    /* without quoting the same byte ends a line */
    assert_int_equal(mr_split_open(&sp, p, 5, UINT64_MAX, 64, 0, &err), 0);
    assert_int_equal(mr_split_resync(&sp, '\0', false, &err), 0);
    assert_int_equal(sp.buf_off + sp.beg, 5);
    mr_split_close(&sp);
    /* past the last line end: nothing left */
    assert_int_equal(mr_split_open(&sp, p, sizeof text - 1, UINT64_MAX, 64, 0, &err), 0);
    assert_int_equal(mr_split_resync(&sp, '"', false, &err), 0);
    assert_int_equal(sp.buf_off + sp.beg, sizeof text - 1);
    mr_split_close(&sp);
    assert_int_equal(mr_split_open(&sp, "/nonexistent/q.csv", 0, 10, 64, 0, &err), MR_ENOTFOUND);
    mr_split_close(&sp);
}

static void test_sample_windows(void **state)
{
    (void)state;
    size_t size = 1u << 20;
    char *big = malloc(size);
    assert_non_null(big);
    memset(big, 'a', size);
    const char *p = write_file("w.txt", big, size);
    free(big);
    mr_sample_window w[MR_SAMPLE_POINTS];
    size_t n = mr_sample_windows(p, 1000, w);
    assert_int_equal(n, 8);
    for (size_t i = 0; i < 7; i++) {
        assert_true(w[i].offset == size / 8 * (i + 1));
        assert_true(w[i].max_records == MR_SAMPLE_POINT_ROWS);
    }
    assert_true(w[7].offset == size - MR_SAMPLE_TAIL);
    assert_true(w[7].max_records == SIZE_MAX);
    /* windows before what the first rows covered are left out; the tail
     * starts no earlier than there */
    n = mr_sample_windows(p, size - 1000, w);
    assert_int_equal(n, 1);
    assert_true(w[0].offset == size - 1000 && w[0].max_records == SIZE_MAX);
    assert_int_equal(mr_sample_windows(p, size, w), 0);
    assert_int_equal(mr_sample_windows("/nonexistent/w.txt", 0, w), 0);
    /* a small file: every window within the last 64 KiB reads to the end */
    static const char small[100000] = {0};
    p = write_file("s.txt", small, sizeof small);
    n = mr_sample_windows(p, 10, w);
    assert_true(n >= 2);
    for (size_t i = 0; i < n; i++) {
        assert_true(i == 0 || w[i].offset > w[i - 1].offset);
        assert_true((w[i].max_records == SIZE_MAX) ==
                    (w[i].offset + MR_SAMPLE_TAIL >= sizeof small));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_scan_both_formats),
        cmocka_unit_test(test_split_resync),
        cmocka_unit_test(test_sample_windows),
    };
    return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
