/* test_filewriter.c - the CSV and JSON Lines writers: exact output text for
 * a small batch, and round trips (write, read back with the CSV / JSON Lines
 * scans, compare every value) over NULLs, quotes, delimiters, newlines,
 * unicode, float specials, selection vectors and a string larger than the
 * write buffer; plus abort and the error cases. */
#include <math.h>
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

#include "core/filewriter.h"
#include "core/op/scan_csv.h"
#include "core/op/scan_jsonl.h"

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mr_fw_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *path_of(const char *name)
{
    static char p[128];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    return p;
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)len + 1);
    assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
    buf[len] = '\0';
    fclose(f);
    *n = (size_t)len;
    return buf;
}

/* ---- Data ------------------------------------------------------------------ */

#define NCOL 8
static mr_schema *all_types(void)
{
    static const char *const names[NCOL] = {"b", "i32", "i64", "f", "d", "s", "dt", "ts"};
    mr_type t[NCOL] = {mr_type_make(MR_T_BOOL),   mr_type_make(MR_T_INT32),
                       mr_type_make(MR_T_INT64),  mr_type_make(MR_T_FLOAT64),
                       mr_type_decimal(12, 3),    mr_type_make(MR_T_STRING),
                       mr_type_make(MR_T_DATE),   mr_type_make(MR_T_TIMESTAMP)};
    mr_schema *s = mr_schema_create(NCOL);
    for (int i = 0; i < NCOL; i++)
        assert_int_equal(mr_schema_set(s, i, names[i], t[i]), 0);
    return s;
}

static const char *const strs[] = {
    "plain", "", "with,comma", "with \"quotes\"", "line\nbreak", "cr\rlf\r\n",
    "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", "back\\slash", "ctrl\x01\x1f\t", " padded ",
    "\"", "NULL", "{\"json\":1}",
};
#define NSTR (sizeof strs / sizeof *strs)
static const double floats[] = {0.0, -0.0, 0.1, -1.5e-300, 1e300, 3.141592653589793,
                                NAN, INFINITY, -INFINITY, 123456789.125};
#define NFLT (sizeof floats / sizeof *floats)

/* Row r of the test data; every column is NULL on some rows. */
static void fill_row(mr_batch *b, size_t p, size_t r)
{
    for (int c = 0; c < NCOL; c++) {
        mr_column *col = &b->cols[c];
        int null = (r + (size_t)c) % 9 == 4;
        if (c == 5) {
            if (null)
                mr_column_set_str_null(col, p);
            else
                assert_int_equal(mr_column_set_str(col, p, strs[r % NSTR], strlen(strs[r % NSTR])),
                                 0);
            continue;
        }
        mr_column_set_valid(col, p, !null);
        int64_t sign = r % 2 ? -1 : 1;
        switch (c) {
        case 0: MR_COL_U8(col)[p] = r % 3 == 0; break;
        case 1: MR_COL_I32(col)[p] = r == 1 ? INT32_MIN : (int32_t)(sign * (int64_t)r * 7919); break;
        case 2: MR_COL_I64(col)[p] = r == 2 ? INT64_MAX : sign * (int64_t)r * 1000000007LL; break;
        case 3: MR_COL_F64(col)[p] = floats[r % NFLT]; break;
        case 4: MR_COL_I64(col)[p] = sign * (int64_t)(r * r * 1001 % 999999999999LL); break;
        case 6: MR_COL_I32(col)[p] = (int32_t)(sign * (int64_t)r * 37); break;
        case 7: MR_COL_I64(col)[p] = sign * (int64_t)r * 86400123457LL; break;
        }
    }
}

/* Renders row r as text, strings with their bytes escaped, floats by bits. */
static void render(const mr_batch *b, uint32_t r, char *out, size_t cap)
{
    size_t o = 0;
    for (int c = 0; c < b->ncols; c++) {
        const mr_column *col = &b->cols[c];
        char v[4096];
        if (!mr_column_is_valid(col, r))
            snprintf(v, sizeof v, "NULL");
        else
            switch (col->type.id) {
            case MR_T_BOOL: snprintf(v, sizeof v, "%d", MR_COL_U8(col)[r]); break;
            case MR_T_INT32: snprintf(v, sizeof v, "%d", MR_COL_I32(col)[r]); break;
            case MR_T_DATE: snprintf(v, sizeof v, "%d", MR_COL_I32(col)[r]); break;
            case MR_T_FLOAT64: {
                double d = MR_COL_F64(col)[r];
                uint64_t bits;
                memcpy(&bits, &d, 8);
                snprintf(v, sizeof v, "%016llx", isnan(d) ? 1ULL : (unsigned long long)bits);
                break;
            }
            case MR_T_STRING: {
                size_t n, k = 0;
                const char *s = mr_column_str(col, r, &n);
                k += (size_t)snprintf(v, sizeof v, "[%zu]", n);
                for (size_t i = 0; i < n && i < 200; i++)
                    k += (size_t)snprintf(v + k, sizeof v - k, "%02x", (unsigned char)s[i]);
                break;
            }
            default: snprintf(v, sizeof v, "%lld", (long long)MR_COL_I64(col)[r]); break;
            }
        o += (size_t)snprintf(out + o, cap - o, "%s%s", c ? "|" : "", v);
    }
}

/* ---- Tests ----------------------------------------------------------------- */

static void test_exact_text(void **state)
{
    (void)state;
    mr_schema *s = mr_schema_create(4);
    mr_schema_set(s, 0, "id", mr_type_make(MR_T_INT32));
    mr_schema_set(s, 1, "na,me", mr_type_make(MR_T_STRING));
    mr_schema_set(s, 2, "price", mr_type_decimal(8, 2));
    mr_schema_set(s, 3, "day", mr_type_make(MR_T_DATE));
    mr_batch *b = mr_batch_create(s, 0);
    MR_COL_I32(&b->cols[0])[0] = 1;
    mr_column_set_valid(&b->cols[0], 0, true);
    mr_column_set_str(&b->cols[1], 0, "say \"hi\"", 8);
    MR_COL_I64(&b->cols[2])[0] = -1250;
    mr_column_set_valid(&b->cols[2], 0, true);
    MR_COL_I32(&b->cols[3])[0] = 19753; /* 2024-01-31 */
    mr_column_set_valid(&b->cols[3], 0, true);
    mr_column_set_valid(&b->cols[0], 1, false);
    mr_column_set_str(&b->cols[1], 1, "", 0);
    mr_column_set_valid(&b->cols[2], 1, false);
    mr_column_set_valid(&b->cols[3], 1, false);
    b->nrows = 2;
    mr_err err;
    const char *p = path_of("exact.csv");
    mr_filewriter *w = mr_filewriter_open(p, "csv", s, 1, &err);
    assert_non_null(w);
    assert_int_equal(mr_filewriter_write(w, b, &err), 0);
    assert_int_equal(mr_filewriter_rows(w), 2);
    assert_int_equal(mr_filewriter_close(w, &err), 0);
    size_t n;
    char *text = slurp(p, &n);
    assert_string_equal(text, "id,\"na,me\",price,day\n"
                              "1,\"say \"\"hi\"\"\",-12.50,2024-01-31\n"
                              ",\"\",,\n");
    free(text);
    p = path_of("exact.jsonl");
    w = mr_filewriter_open(p, "jsonl", s, 1, &err);
    assert_int_equal(mr_filewriter_write(w, b, &err), 0);
    assert_int_equal(mr_filewriter_close(w, &err), 0);
    text = slurp(p, &n);
    assert_string_equal(text,
                        "{\"id\":1,\"na,me\":\"say \\\"hi\\\"\",\"price\":-12.50,\"day\":\"2024-01-31\"}\n"
                        "{\"id\":null,\"na,me\":\"\",\"price\":null,\"day\":null}\n");
    free(text);
    mr_batch_destroy(b);
    mr_schema_destroy(s);
}

/* Writes `rows` rows in batches (every other batch through a selection
 * vector), reads them back with the format's scan and compares. */
static void round_trip(const char *format, size_t rows, int big_string)
{
    mr_schema *s = all_types();
    char name[32];
    snprintf(name, sizeof name, "rt_%zu.%s", rows, format);
    const char *p = path_of(name);
    char path[128];
    snprintf(path, sizeof path, "%s", p);
    mr_err err;
    mr_filewriter *w = mr_filewriter_open(path, format, s, 1, &err);
    assert_non_null(w);
    /* rows + 1: with rows 0, gcc -O3 sees want[got] index an empty array. */
    char **want = calloc(rows + 1, sizeof *want);
    char line[8192];
    size_t r = 0, bi = 0;
    char *bigs = NULL;
    size_t bign = (3u << 20) / 2; /* 1.5 MB: more than the write buffer */
    if (big_string) {
        bigs = malloc(bign);
        for (size_t i = 0; i < bign; i++)
            bigs[i] = "ab\"\n,c"[i % 6];
    }
    while (r < rows) {
        size_t k = 1 + (bi * 7919) % 1500;
        if (r + k > rows)
            k = rows - r;
        mr_batch *b = mr_batch_create(s, 0);
        int sel = bi % 2 == 1;
        size_t phys = sel ? 2 * k : k;
        assert_int_equal(mr_batch_reserve(b, phys), 0);
        for (size_t q = 0; q < phys; q++) {
            size_t rr = sel ? (q % 2 ? r + q / 2 : 5) : r + q;
            fill_row(b, q, rr);
            if (big_string && rr == rows / 2 && (!sel || q % 2)) {
                mr_column *sc = &b->cols[5];
                sc->offsets[q + 1] = sc->offsets[q];
                assert_int_equal(mr_column_set_str(sc, q, bigs, bign), 0);
            }
        }
        b->nrows = phys;
        if (sel) {
            b->sel = b->sel_buf;
            b->nsel = k;
            for (size_t i = 0; i < k; i++)
                b->sel[i] = (uint32_t)(2 * i + 1);
        }
        for (size_t i = 0; i < k; i++) {
            render(b, mr_batch_row(b, i), line, sizeof line);
            want[r + i] = strdup(line);
        }
        assert_int_equal(mr_filewriter_write(w, b, &err), 0);
        mr_batch_destroy(b);
        r += k;
        bi++;
    }
    assert_int_equal(mr_filewriter_close(w, &err), 0);

    mr_csv_options opt;
    mr_csv_options_init(&opt);
    mr_op *op = strcmp(format, "csv") == 0
                    ? mr_scan_csv_create(path, 0, UINT64_MAX, s, &opt, "rd", &err)
                    : mr_scan_jsonl_create(path, 0, UINT64_MAX, s, &opt, "rd", &err);
    assert_non_null(op);
    assert_int_equal(mr_op_open(op, NULL, &err), 0);
    size_t got = 0;
    mr_batch *b;
    int rc;
    while ((rc = mr_op_next(op, &b, &err)) == MR_NEXT_BATCH)
        for (size_t i = 0; i < mr_batch_live(b); i++, got++) {
            assert_true(got < rows);
            render(b, mr_batch_row(b, i), line, sizeof line);
            if (strcmp(line, want[got]) != 0)
                fail_msg("%s row %zu:\n got  %s\n want %s", format, got, line, want[got]);
        }
    if (rc < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(got, rows);
    mr_op_close(op);
    for (size_t i = 0; i < rows; i++)
        free(want[i]);
    free(want);
    free(bigs);
    mr_schema_destroy(s);
}

static void test_round_trip_csv(void **state)
{
    (void)state;
    round_trip("csv", 0, 0);
    round_trip("csv", 1, 0);
    round_trip("csv", 9000, 1);
}

static void test_round_trip_jsonl(void **state)
{
    (void)state;
    round_trip("jsonl", 0, 0);
    round_trip("jsonl", 1, 0);
    round_trip("jsonl", 9000, 1);
}

static void test_abort_and_errors(void **state)
{
    (void)state;
    mr_schema *s = all_types();
    mr_err err;
    const char *p = path_of("aborted.csv");
    char path[128];
    snprintf(path, sizeof path, "%s", p);
    mr_filewriter *w = mr_filewriter_open(path, "csv", s, 1, &err);
    assert_non_null(w);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    mr_filewriter_abort(w);
    assert_int_not_equal(stat(path, &st), 0);
    mr_filewriter_abort(NULL);

    assert_null(mr_filewriter_open(path, "parquet", s, 1, &err));
    assert_int_equal(err.code, MR_EINVAL);
    assert_non_null(strstr(err.msg, "parquet"));
    assert_null(mr_filewriter_open("/nonexistent/dir/x.csv", "csv", s, 1, &err));
    assert_int_equal(err.code, MR_EIO);
    assert_non_null(strstr(err.msg, "/nonexistent/dir/x.csv"));

    /* a batch of another shape */
    w = mr_filewriter_open(path, "jsonl", s, 0, &err);
    mr_schema *one = mr_schema_create(1);
    mr_schema_set(one, 0, "x", mr_type_make(MR_T_INT64));
    mr_batch *b = mr_batch_create(one, 0);
    assert_int_equal(mr_filewriter_write(w, b, &err), MR_EINVAL);
    mr_batch_destroy(b);
    mr_schema_destroy(one);
    assert_int_equal(mr_filewriter_close(w, &err), 0);
    size_t n;
    char *text = slurp(path, &n);
    assert_int_equal(n, 0); /* jsonl has no header */
    free(text);
    mr_schema_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_text),
        cmocka_unit_test(test_round_trip_csv),
        cmocka_unit_test(test_round_trip_jsonl),
        cmocka_unit_test(test_abort_and_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
