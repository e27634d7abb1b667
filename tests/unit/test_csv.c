/* test_csv.c - the CSV reader (syntax, buffering, splits, positions), the
 * CSV scan operator (types, NULLs, bad-row policies) and schema inference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/csv.h"
#include "core/op/scan_csv.h"
#include "core/utf8.h"

static char tmpdir[256];

static int setup_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mr_test_csv_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Writes n bytes to a file named name in the test folder; returns its path
 * (static storage, one per name slot). */
static const char *write_file(const char *name, const char *data, size_t n)
{
    static char paths[8][512];
    static int slot;
    char *path = paths[slot++ % 8];
    snprintf(path, 512, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
    return path;
}

static const char *write_str(const char *name, const char *s)
{
    return write_file(name, s, strlen(s));
}

/* A growing string for dumps. */
typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

/* Reads a whole split and dumps it: fields joined by '|', quoted ones in
 * [], records ended by '\n', a malformed one as "!reason".  Returns the
 * reader's final code (0, or a negative error). */
static int dump_split(const char *path, const mr_csv_options *opt, uint64_t off, uint64_t len,
                      char **out, mr_err *err)
{
    sbuf b = {0};
    sb_add(&b, "", 0);
    mr_csv_reader *r;
    int rc = mr_csv_reader_open(path, off, len, opt, &r, err);
    if (rc < 0) {
        *out = b.p;
        return rc;
    }
    mr_csv_record rec;
    while ((rc = mr_csv_reader_next(r, &rec, err)) == 1) {
        if (rec.error) {
            sb_add(&b, "!", 1);
            sb_add(&b, rec.error, strlen(rec.error));
        } else {
            for (int i = 0; i < rec.nfields; i++) {
                if (i)
                    sb_add(&b, "|", 1);
                if (rec.fields[i].quoted)
                    sb_add(&b, "[", 1);
                sb_add(&b, rec.fields[i].p, rec.fields[i].len);
                if (rec.fields[i].quoted)
                    sb_add(&b, "]", 1);
            }
        }
        sb_add(&b, "\n", 1);
    }
    mr_csv_reader_close(r);
    *out = b.p;
    return rc;
}

static void check_dump_opt(const char *content, const mr_csv_options *opt, const char *want)
{
    const char *path = write_str("t.csv", content);
    char *got;
    mr_err err;
    int rc = dump_split(path, opt, 0, UINT64_MAX, &got, &err);
    if (rc != 0)
        fail_msg("reading %s: rc %d: %s", content, rc, err.msg);
    if (strcmp(got, want) != 0)
        fail_msg("content:\n%s\ngot:\n%s\nwant:\n%s", content, got, want);
    /* The same through a tiny buffer: every refill path is taken. */
    mr_csv_options small = *opt;
    small.buffer_size = 64;
    char *got2;
    assert_int_equal(dump_split(path, &small, 0, UINT64_MAX, &got2, &err), 0);
    assert_string_equal(got2, want);
    free(got);
    free(got2);
}

static void check_dump(const char *content, const char *want)
{
    mr_csv_options o;
    mr_csv_options_init(&o);
    o.header = false;
    check_dump_opt(content, &o, want);
}

static void test_reader_basic(void **state)
{
    (void)state;
    check_dump("a,b,c\n1,2,3\n", "a|b|c\n1|2|3\n");
    check_dump("a,b\nc,d", "a|b\nc|d\n");         /* no final newline */
    check_dump("a,b\r\nc,d\r\n", "a|b\nc|d\n");   /* CRLF */
    check_dump("a,b\r\nc,d", "a|b\nc|d\n");
    check_dump("", "");                            /* empty file */
    check_dump("\n", "");                          /* one blank line */
    check_dump("a\n\n\nb\n\n", "a\nb\n");          /* blank lines skipped */
    check_dump("a\r\n\r\nb\r\n", "a\nb\n");
    check_dump(",,\n", "||\n");                    /* empty fields */
    check_dump("x,\n", "x|\n");
    check_dump("a b , c\n", "a b | c\n");          /* blanks are data */
    check_dump("ab\"c,d\n", "ab\"c|d\n");          /* a quote inside a bare field */
}

static void test_reader_quotes(void **state)
{
    (void)state;
    check_dump("\"x,y\",z\n", "[x,y]|z\n");
    check_dump("\"he said \"\"hi\"\"\",2\n", "[he said \"hi\"]|2\n");
    check_dump("\"\"\"\"\n", "[\"]\n");
    check_dump("\"\",x\n", "[]|x\n");
    check_dump("\"multi\nline\",2\nnext,3\n", "[multi\nline]|2\nnext|3\n");
    check_dump("\"multi\r\nline\",2\r\n", "[multi\r\nline]|2\n");
    check_dump("a,\"b\"\r\n\"c\",d", "a|[b]\n[c]|d\n");
    check_dump("a,\"b\"", "a|[b]\n");
    check_dump("\"a\"\"\"", "[a\"]\n");
    /* malformed records are flagged and the reader goes on */
    check_dump("\"a\"b,c\nok,1\n", "!unexpected text after a closing quote\nok|1\n");
    check_dump("x,\"abc\n", "!unterminated quoted field\n");
    check_dump("ok\n\"a\"\rb\n", "ok\n!unexpected text after a closing quote\n");
    /* other delimiter and quote characters, quoting off */
    mr_csv_options o;
    mr_csv_options_init(&o);
    o.header = false;
    o.delimiter = '\t';
    o.quote = '\'';
    check_dump_opt("a\t'b\tc'\t\"d\"\n", &o, "a|[b\tc]|\"d\"\n");
    o.quote = '\0';
    check_dump_opt("\"a\tb\n", &o, "\"a|b\n");
    mr_csv_reader *r;
    mr_err err;
    o.delimiter = '"';
    o.quote = '"';
    assert_int_equal(mr_csv_reader_open("/nonexistent", 0, 1, &o, &r, &err), MR_EINVAL);
}

static void test_reader_header(void **state)
{
    (void)state;
    mr_csv_options o;
    mr_csv_options_init(&o);
    check_dump_opt("id,name\n", &o, "");          /* header only */
    check_dump_opt("id,name", &o, "");            /* header only, no newline */
    check_dump_opt("id,name\n1,a\n", &o, "1|a\n");
    check_dump_opt("\n\nid,name\n1,a\n", &o, "1|a\n");
}

static void test_reader_positions(void **state)
{
    (void)state;
    const char *csv = "h1,h2\na,1\n\"x\ny\",2\n\nb,3\n";
    const char *path = write_str("pos.csv", csv);
    mr_csv_options o;
    mr_csv_options_init(&o);
    mr_csv_reader *r;
    mr_err err;
    mr_csv_record rec;
    char where[600], want[600];
    assert_int_equal(mr_csv_reader_open(path, 0, UINT64_MAX, &o, &r, &err), 0);
    int64_t lines[] = {2, 3, 6};
    uint64_t offs[] = {6, 10, 19};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(mr_csv_reader_next(r, &rec, &err), 1);
        assert_int_equal(mr_csv_reader_line(r), lines[i]);
        assert_int_equal(rec.offset, offs[i]);
        snprintf(want, sizeof want, "%s:%lld", path, (long long)lines[i]);
        assert_string_equal(mr_csv_reader_where(r, where, sizeof where), want);
    }
    assert_int_equal(mr_csv_reader_next(r, &rec, &err), 0);
    assert_int_equal(mr_csv_reader_bytes(r), strlen(csv));
    mr_csv_reader_close(r);

    /* A split at offset > 0 counts its starting line on demand. */
    assert_int_equal(mr_csv_reader_open(path, 18, UINT64_MAX, &o, &r, &err), 0);
    assert_int_equal(mr_csv_reader_next(r, &rec, &err), 1);
    assert_int_equal(rec.raw_len, 3);
    assert_memory_equal(rec.raw, "b,3", 3);
    assert_int_equal(mr_csv_reader_line(r), 6);
    mr_csv_reader_close(r);
    mr_csv_reader_close(NULL);
}

static void test_reader_errors(void **state)
{
    (void)state;
    mr_csv_options o;
    mr_csv_options_init(&o);
    mr_csv_reader *r;
    mr_err err;
    char missing[300];
    snprintf(missing, sizeof missing, "%s/missing.csv", tmpdir);
    assert_int_equal(mr_csv_reader_open(missing, 0, UINT64_MAX, &o, &r, &err), MR_ENOTFOUND);
    assert_non_null(strstr(err.msg, "No such file or directory"));
    assert_null(r);

    /* A very long field: fine under the limit, MR_ETOOBIG over it. */
    size_t big = 3u << 20;
    char *data = malloc(big + 16);
    assert_non_null(data);
    memcpy(data, "1,\"", 3);
    memset(data + 3, 'x', big);
    memcpy(data + 3 + big, "\"\n2,y\n", 6);
    const char *path = write_file("long.csv", data, big + 9);
    o.header = false;
    mr_csv_record rec;
    assert_int_equal(mr_csv_reader_open(path, 0, UINT64_MAX, &o, &r, &err), 0);
    assert_int_equal(mr_csv_reader_next(r, &rec, &err), 1);
    assert_int_equal(rec.nfields, 2);
    assert_int_equal(rec.fields[1].len, big);
    assert_true(rec.fields[1].p[0] == 'x' && rec.fields[1].p[big - 1] == 'x');
    assert_int_equal(mr_csv_reader_next(r, &rec, &err), 1);
    assert_memory_equal(rec.fields[1].p, "y", 1);
    mr_csv_reader_close(r);

    o.max_record = 1u << 20;
    assert_int_equal(mr_csv_reader_open(path, 0, UINT64_MAX, &o, &r, &err), 0);
    assert_int_equal(mr_csv_reader_next(r, &rec, &err), MR_ETOOBIG);
    assert_non_null(strstr(err.msg, "long.csv:1: record longer than"));
    mr_csv_reader_close(r);
    free(data);
}

static void test_utf8(void **state)
{
    (void)state;
    assert_true(mr_utf8_valid("", 0));
    assert_true(mr_utf8_valid("plain ascii text, long enough", 29));
    assert_true(mr_utf8_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14));
    assert_true(mr_utf8_valid("\xf4\x8f\xbf\xbf", 4));        /* U+10FFFF */
    assert_false(mr_utf8_valid("\xff", 1));
    assert_false(mr_utf8_valid("abcdefgh\x80", 9));            /* lone continuation */
    assert_false(mr_utf8_valid("\xc3", 1));                    /* truncated */
    assert_false(mr_utf8_valid("\xc0\xaf", 2));                /* overlong */
    assert_false(mr_utf8_valid("\xe0\x80\xaf", 3));            /* overlong */
    assert_false(mr_utf8_valid("\xed\xa0\x80", 3));            /* surrogate */
    assert_false(mr_utf8_valid("\xf4\x90\x80\x80", 4));        /* past U+10FFFF */
    assert_false(mr_utf8_valid("\xe2\x82", 2));
}

/* Deterministic pseudo-random numbers for generated files. */
static uint64_t rng_state = 88172645463325252ULL;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Builds a file of nrec records "key,text,more": text sometimes quoted with
 * delimiters and doubled quotes, lines of very different lengths, some
 * CRLF ends, some blank lines; with quoted_newlines, some fields hold
 * newlines.  Returns the sum of the keys. */
static int64_t gen_file(sbuf *b, int nrec, bool header, bool quoted_newlines)
{
    int64_t sum = 0;
    if (header)
        sb_add(b, "key,text,more\n", 14);
    for (int i = 0; i < nrec; i++) {
        char line[400];
        int64_t key = (int64_t)(rng() % 1000000);
        sum += key;
        int n = snprintf(line, sizeof line, "%lld,", (long long)key);
        int kind = (int)(rng() % 6);
        int len = (int)(rng() % 60);
        if (kind == 0) {
            n += snprintf(line + n, sizeof line - n, "\"q,\"\"%d\"\"\"", len);
        } else if (kind == 1 && quoted_newlines) {
            n += snprintf(line + n, sizeof line - n, "\"a\nb%d\"", len);
        } else {
            for (int k = 0; k < len; k++)
                line[n++] = (char)('a' + k % 26);
        }
        n += snprintf(line + n, sizeof line - n, ",%d", i);
        if (rng() % 5 == 0)
            line[n++] = '\r';
        line[n++] = '\n';
        if (rng() % 17 == 0)
            line[n++] = '\n';
        sb_add(b, line, (size_t)n);
    }
    return sum;
}

/* Reads [off, off+len) and adds the records and key sums it returns. */
static void read_split(const char *path, const mr_csv_options *o, uint64_t off, uint64_t len,
                       int64_t *rows, int64_t *keys, uint64_t *bytes)
{
    mr_csv_reader *r;
    mr_err err;
    mr_csv_record rec;
    /* as the coordinator does: the quote parity where the split starts */
    mr_csv_options so = *o;
    bool inq = false;
    if (off > 0)
        assert_int_equal(mr_csv_quote_parity(path, o->quote, &off, 1, &inq, &err), 0);
    so.start_in_quote = inq;
    assert_int_equal(mr_csv_reader_open(path, off, len, &so, &r, &err), 0);
    int rc;
    while ((rc = mr_csv_reader_next(r, &rec, &err)) == 1) {
        assert_null(rec.error);
        assert_int_equal(rec.nfields, 3);
        int64_t k;
        assert_int_equal(mr_parse_int64(rec.fields[0].p, rec.fields[0].len, &k, &err), 0);
        *rows += 1;
        *keys += k;
    }
    assert_int_equal(rc, 0);
    *bytes += mr_csv_reader_bytes(r);
    mr_csv_reader_close(r);
}

static void check_splits(const char *path, size_t size, const mr_csv_options *o, int nrec,
                         int64_t keysum, uint64_t k)
{
    int64_t rows = 0, keys = 0;
    uint64_t bytes = 0, step = (size + k - 1) / k;
    for (uint64_t off = 0; off < size; off += step)
        read_split(path, o, off, step, &rows, &keys, &bytes);
    if (rows != nrec || keys != keysum || bytes != size)
        fail_msg("%llu splits: %lld rows (want %d), key sum %lld (want %lld), %llu bytes (want "
                 "%zu)", (unsigned long long)k, (long long)rows, nrec, (long long)keys,
                 (long long)keysum, (unsigned long long)bytes, size);
}

static void test_splits(void **state)
{
    (void)state;
    sbuf b = {0};
    const int nrec = 3000;
    int64_t keysum = gen_file(&b, nrec, true, false);
    const char *path = write_file("split.csv", b.p, b.n);
    mr_csv_options o;
    mr_csv_options_init(&o);
    uint64_t ks[] = {1, 2, 3, 7, 16, 61, 500, b.n / 2, b.n};
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++)
        check_splits(path, b.n, &o, nrec, keysum, ks[i]);
    o.buffer_size = 64; /* refills inside almost every record */
    check_splits(path, b.n, &o, nrec, keysum, 13);
    free(b.p);

    /* Quoted newlines (and doubled quotes) falling on split boundaries:
     * with the quote parity at each start, every record once. */
    sbuf qb = {0};
    keysum = gen_file(&qb, nrec, true, true);
    path = write_file("split_nl.csv", qb.p, qb.n);
    o.buffer_size = 0;
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++)
        check_splits(path, qb.n, &o, nrec, keysum, ks[i] > qb.n ? qb.n : ks[i]);
    o.buffer_size = 64;
    check_splits(path, qb.n, &o, nrec, keysum, 29);
    o.buffer_size = 0;
    free(qb.p);

    /* Every possible cut of a small file into two splits. */
    sbuf s = {0};
    keysum = gen_file(&s, 40, false, false);
    path = write_file("cut.csv", s.p, s.n);
    o.header = false;
    o.buffer_size = 0;
    for (uint64_t cut = 1; cut < s.n; cut++) {
        int64_t rows = 0, keys = 0;
        uint64_t bytes = 0;
        read_split(path, &o, 0, cut, &rows, &keys, &bytes);
        read_split(path, &o, cut, s.n - cut, &rows, &keys, &bytes);
        if (rows != 40 || keys != keysum || bytes != s.n)
            fail_msg("cut at %llu: %lld rows, keys %lld (want %lld)", (unsigned long long)cut,
                     (long long)rows, (long long)keys, (long long)keysum);
    }
    free(s.p);

    /* A header after blank lines: whichever split meets it first skips it,
     * even a split that starts past the blank lines (found by fuzzing).  A
     * lone CR is data, so "\r\r\n" before the header is a record. */
    const char *cases[] = {"\n\r\n\n\nid,v\n1,a\n2,b\n", "\r\r\nid,v\n1,a\n2,b\n"};
    const int64_t want_rows[] = {2, 3};
    o.header = true;
    for (size_t c = 0; c < 2; c++) {
        size_t n = strlen(cases[c]);
        path = write_file("blank_header.csv", cases[c], n);
        for (uint64_t cut = 1; cut < n; cut++) {
            int64_t rows = 0, keys = 0;
            uint64_t bytes = 0;
            mr_csv_reader *r;
            mr_csv_record rec;
            mr_err err;
            for (int part = 0; part < 2; part++) {
                uint64_t off = part ? cut : 0, len = part ? n - cut : cut;
                assert_int_equal(mr_csv_reader_open(path, off, len, &o, &r, &err), 0);
                while (mr_csv_reader_next(r, &rec, &err) == 1)
                    rows++;
                bytes += mr_csv_reader_bytes(r);
                mr_csv_reader_close(r);
            }
            (void)keys;
            if (rows != want_rows[c] || bytes != n)
                fail_msg("case %zu cut at %llu: %lld rows (want %lld)", c,
                         (unsigned long long)cut, (long long)rows, (long long)want_rows[c]);
        }
    }
}

static void test_quoted_newlines_whole_file(void **state)
{
    (void)state;
    sbuf b = {0};
    int64_t keysum = gen_file(&b, 2000, true, true);
    const char *path = write_file("qnl.csv", b.p, b.n);
    mr_csv_options o;
    mr_csv_options_init(&o);
    int64_t rows = 0, keys = 0;
    uint64_t bytes = 0;
    read_split(path, &o, 0, UINT64_MAX, &rows, &keys, &bytes);
    assert_int_equal(rows, 2000);
    assert_true(keys == keysum);
    assert_int_equal(bytes, b.n);
    o.buffer_size = 100;
    rows = keys = 0;
    bytes = 0;
    read_split(path, &o, 0, UINT64_MAX, &rows, &keys, &bytes);
    assert_int_equal(rows, 2000);
    assert_true(keys == keysum);
    free(b.p);
}

/* ---- the scan operator ---------------------------------------------------- */

static mr_schema *make_schema(const char *spec)
{
    /* "name:type;name:type;..." */
    char buf[512];
    snprintf(buf, sizeof buf, "%s", spec);
    int n = 1;
    for (const char *p = buf; *p; p++)
        n += *p == ';';
    mr_schema *s = mr_schema_create(n);
    char *save = NULL;
    int i = 0;
    for (char *tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save), i++) {
        char *colon = strchr(tok, ':');
        *colon = '\0';
        mr_type t;
        mr_err err;
        assert_int_equal(mr_type_parse(colon + 1, &t, &err), 0);
        assert_int_equal(mr_schema_set(s, i, tok, t), 0);
    }
    return s;
}

static void test_scan_types(void **state)
{
    (void)state;
    const char *csv =
        "id,name,price,day,at,ok,f,n\n"
        "1,alice,12.50,2024-02-29,2024-01-31 12:00:00.5,true,1.5,7\n"
        "2,\"b,ob\",-0.5, 2024-01-01 ,2024-01-31T00:00:00,no,-1e3,-2147483648\n"
        "3,\"\",,,,,,\n"
        "4,,NA,1970-01-01,1970-01-01,1,NA,NA\n";
    const char *path = write_str("types.csv", csv);
    mr_schema *s = make_schema("id:int64;name:string;price:decimal(8,2);day:date;at:timestamp;"
                               "ok:bool;f:float64;n:int32");
    mr_csv_options o;
    mr_csv_options_init(&o);
    o.on_error = MR_CSV_SKIP; /* row 4 has NA, not a decimal without a null string */
    mr_err err;
    mr_op *op = mr_scan_csv_create(path, 0, UINT64_MAX, s, &o, "sales", &err);
    assert_non_null(op);
    assert_int_equal(mr_op_open(op, NULL, &err), 0);
    mr_batch *b;
    assert_int_equal(mr_op_next(op, &b, &err), MR_NEXT_BATCH);
    assert_int_equal(b->nrows, 3);
    assert_int_equal(b->ncols, 8);
    assert_true(MR_COL_I64(&b->cols[0])[1] == 2);
    size_t len;
    const char *str = mr_column_str(&b->cols[1], 1, &len);
    assert_int_equal(len, 4);
    assert_memory_equal(str, "b,ob", 4);
    assert_true(MR_COL_I64(&b->cols[2])[0] == 1250);
    assert_true(MR_COL_I64(&b->cols[2])[1] == -50);
    assert_int_equal(MR_COL_I32(&b->cols[3])[0], 19782);
    assert_int_equal(MR_COL_I32(&b->cols[3])[1], mr_days_from_civil(2024, 1, 1));
    assert_true(MR_COL_I64(&b->cols[4])[0] ==
                (int64_t)19753 * 86400000000LL + 12LL * 3600000000LL + 500000);
    assert_int_equal(MR_COL_U8(&b->cols[5])[0], 1);
    assert_int_equal(MR_COL_U8(&b->cols[5])[1], 0);
    assert_true(MR_COL_F64(&b->cols[6])[1] == -1000.0);
    assert_int_equal(MR_COL_I32(&b->cols[7])[1], INT32_MIN);
    /* row 3: every empty field is NULL but the quoted empty string */
    for (int c = 2; c < 8; c++)
        assert_false(mr_column_is_valid(&b->cols[c], 2));
    assert_true(mr_column_is_valid(&b->cols[1], 2));
    mr_column_str(&b->cols[1], 2, &len);
    assert_int_equal(len, 0);
    assert_int_equal(mr_op_next(op, &b, &err), MR_NEXT_DONE);
    assert_int_equal(mr_scan_csv_bytes_read(op), strlen(csv));
    assert_int_equal(mr_scan_csv_bad_rows(op), 1);
    mr_op_close(op);

    /* Row 4 under null string "NA": NA is NULL, a bare empty string is '' */
    o.null_string = "NA";
    o.on_error = MR_CSV_FAIL;
    op = mr_scan_csv_create(path, 0, UINT64_MAX, s, &o, "sales", &err);
    assert_non_null(op);
    assert_int_equal(mr_op_open(op, NULL, &err), 0);
    assert_int_equal(mr_op_next(op, &b, &err), MR_NEXT_BATCH);
    assert_int_equal(b->nrows, 4);
    assert_true(mr_column_is_valid(&b->cols[1], 3)); /* bare empty string */
    assert_false(mr_column_is_valid(&b->cols[2], 3));
    assert_false(mr_column_is_valid(&b->cols[6], 3));
    assert_false(mr_column_is_valid(&b->cols[7], 3));
    assert_true(mr_column_is_valid(&b->cols[3], 3));
    assert_false(mr_column_is_valid(&b->cols[2], 2)); /* empty non-string is NULL */
    mr_op_close(op);
    mr_schema_destroy(s);
}

static void test_scan_many_batches(void **state)
{
    (void)state;
    sbuf b = {0};
    int64_t want = 0;
    const int n = 10000;
    sb_add(&b, "k,s\n", 4);
    for (int i = 0; i < n; i++) {
        char line[64];
        int len = snprintf(line, sizeof line, "%d,row%d\n", i * 3, i);
        sb_add(&b, line, (size_t)len);
        want += i * 3;
    }
    const char *path = write_file("many.csv", b.p, b.n);
    mr_schema *s = make_schema("k:int64;s:string");
    mr_err err;
    mr_op *op = mr_scan_csv_create(path, 0, UINT64_MAX, s, NULL, "many", &err);
    assert_non_null(op);
    assert_int_equal(mr_op_open(op, NULL, &err), 0);
    mr_batch *batch;
    int64_t got = 0, rows = 0, batches = 0;
    int rc;
    while ((rc = mr_op_next(op, &batch, &err)) == MR_NEXT_BATCH) {
        assert_true(batch->nrows <= MR_BATCH_ROWS);
        for (size_t i = 0; i < batch->nrows; i++) {
            int64_t k = MR_COL_I64(&batch->cols[0])[i];
            char expect[32];
            size_t len;
            const char *str = mr_column_str(&batch->cols[1], i, &len);
            int el = snprintf(expect, sizeof expect, "row%lld", (long long)(k / 3));
            assert_int_equal(len, (size_t)el);
            assert_memory_equal(str, expect, len);
            got += k;
        }
        rows += (int64_t)batch->nrows;
        batches++;
    }
    assert_int_equal(rc, MR_NEXT_DONE);
    assert_int_equal(rows, n);
    assert_true(got == want);
    assert_int_equal(batches, 3);
    assert_int_equal(op->rows_out, n);
    mr_op_close(op);

    /* The same file read in splits by the operator. */
    got = rows = 0;
    for (uint64_t off = 0; off < b.n; off += 10007) {
        op = mr_scan_csv_create(path, off, 10007, s, NULL, "many", &err);
        assert_non_null(op);
        assert_int_equal(mr_op_open(op, NULL, &err), 0);
        while ((rc = mr_op_next(op, &batch, &err)) == MR_NEXT_BATCH) {
            for (size_t i = 0; i < batch->nrows; i++)
                got += MR_COL_I64(&batch->cols[0])[i];
            rows += (int64_t)batch->nrows;
        }
        assert_int_equal(rc, MR_NEXT_DONE);
        mr_op_close(op);
    }
    assert_int_equal(rows, n);
    assert_true(got == want);
    mr_schema_destroy(s);
    free(b.p);
}

static const char *bad_csv =
    "id,name\n"
    "1,a\n"
    "2,b,extra\n"
    "x,c\n"
    "4,\xff\xfe\n"
    "5,e\n";

/* Runs a scan to its end; returns the final code and the sum of ids. */
static int run_scan(mr_op *op, int64_t *sum, int64_t *rows, mr_err *err)
{
    mr_batch *b;
    int rc = mr_op_open(op, NULL, err);
    if (rc < 0)
        return rc;
    *sum = *rows = 0;
    while ((rc = mr_op_next(op, &b, err)) == MR_NEXT_BATCH)
        for (size_t i = 0; i < b->nrows; i++) {
            *sum += MR_COL_I64(&b->cols[0])[i];
            (*rows)++;
        }
    return rc;
}

static void test_scan_bad_rows(void **state)
{
    (void)state;
    const char *path = write_str("bad.csv", bad_csv);
    mr_schema *s = make_schema("id:int64;name:string");
    mr_csv_options o;
    mr_csv_options_init(&o);
    mr_err err;
    int64_t sum, rows;
    char want[700];

    /* fail: the first bad row stops the scan, naming node, file and line */
    mr_op *op = mr_scan_csv_create(path, 0, UINT64_MAX, s, &o, "sales", &err);
    assert_non_null(op);
    assert_int_equal(run_scan(op, &sum, &rows, &err), MR_EPARSE);
    snprintf(want, sizeof want, "node 'sales': %s:3: expected 2 fields, found 3", path);
    assert_string_equal(err.msg, want);
    mr_op_close(op);

    /* skip: counted, good rows kept */
    o.on_error = MR_CSV_SKIP;
    op = mr_scan_csv_create(path, 0, UINT64_MAX, s, &o, "sales", &err);
    assert_int_equal(run_scan(op, &sum, &rows, &err), MR_NEXT_DONE);
    assert_int_equal(rows, 2);
    assert_int_equal(sum, 6);
    assert_int_equal(mr_scan_csv_bad_rows(op), 3);
    const mr_reject *rj;
    size_t nrj;
    assert_int_equal(mr_scan_csv_rejects(op, &rj, &nrj), 0);
    assert_int_equal(nrj, 0);
    mr_op_close(op);

    /* reject: counted and kept with file, line, reason and raw text */
    o.on_error = MR_CSV_REJECT;
    op = mr_scan_csv_create(path, 0, UINT64_MAX, s, &o, "sales", &err);
    assert_int_equal(run_scan(op, &sum, &rows, &err), MR_NEXT_DONE);
    assert_int_equal(rows, 2);
    assert_int_equal(mr_scan_csv_rejects(op, &rj, &nrj), 0);
    assert_int_equal(nrj, 3);
    assert_string_equal(rj[0].file, path);
    assert_int_equal(rj[0].line, 3);
    assert_string_equal(rj[0].reason, "expected 2 fields, found 3");
    assert_string_equal(rj[0].raw, "2,b,extra");
    assert_int_equal(rj[1].line, 4);
    assert_string_equal(rj[1].reason, "column 'id': invalid int64 'x'");
    assert_string_equal(rj[1].raw, "x,c");
    assert_int_equal(rj[2].line, 5);
    assert_string_equal(rj[2].reason, "column 'name': invalid UTF-8");
    assert_int_equal(rj[2].offset, strlen("id,name\n1,a\n2,b,extra\nx,c\n"));
    assert_int_equal(mr_scan_csv_bytes_read(op), strlen(bad_csv));
    mr_op_close(op);

    /* max_errors: 3 bad rows are fine at 3, fail at 2 */
    o.max_errors = 3;
    op = mr_scan_csv_create(path, 0, UINT64_MAX, s, &o, "sales", &err);
    assert_int_equal(run_scan(op, &sum, &rows, &err), MR_NEXT_DONE);
    mr_op_close(op);
    o.max_errors = 2;
    o.on_error = MR_CSV_SKIP;
    op = mr_scan_csv_create(path, 0, UINT64_MAX, s, &o, "sales", &err);
    assert_int_equal(run_scan(op, &sum, &rows, &err), MR_EPARSE);
    assert_non_null(strstr(err.msg, "node 'sales': more than max_errors (2) bad rows"));
    assert_non_null(strstr(err.msg, ":5: column 'name': invalid UTF-8"));
    mr_op_close(op);
    o.max_errors = 0;
    op = mr_scan_csv_create(path, 0, UINT64_MAX, s, &o, "sales", &err);
    assert_int_equal(run_scan(op, &sum, &rows, &err), MR_EPARSE);
    assert_non_null(strstr(err.msg, ":3: expected 2 fields"));
    mr_op_close(op);

    /* A split at offset > 0 still names the true line. */
    o.on_error = MR_CSV_FAIL;
    op = mr_scan_csv_create(path, 15, UINT64_MAX, s, &o, "sales", &err);
    assert_int_equal(run_scan(op, &sum, &rows, &err), MR_EPARSE);
    snprintf(want, sizeof want, "node 'sales': %s:4: column 'id': invalid int64 'x'", path);
    assert_string_equal(err.msg, want);
    mr_op_close(op);

    /* Malformed quoting is a bad row too. */
    path = write_str("badq.csv", "id,name\n1,\"a\"b\n2,c\n");
    op = mr_scan_csv_create(path, 0, UINT64_MAX, s, &o, "sales", &err);
    assert_int_equal(run_scan(op, &sum, &rows, &err), MR_EPARSE);
    assert_non_null(strstr(err.msg, "badq.csv:2: unexpected text after a closing quote"));
    mr_op_close(op);

    /* decimal overflow and bad dates name the column and value */
    mr_schema *s2 = make_schema("id:int64;p:decimal(4,2);d:date");
    path = write_str("vals.csv", "id,p,d\n1,99.99,2024-02-29\n2,100.00,2024-01-01\n"
                                 "3,1.00,2023-02-29\n");
    o.on_error = MR_CSV_REJECT;
    o.max_errors = -1;
    op = mr_scan_csv_create(path, 0, UINT64_MAX, s2, &o, "v", &err);
    assert_int_equal(run_scan(op, &sum, &rows, &err), MR_NEXT_DONE);
    assert_int_equal(rows, 1);
    assert_int_equal(mr_scan_csv_rejects(op, &rj, &nrj), 0);
    assert_int_equal(nrj, 2);
    assert_non_null(strstr(rj[0].reason, "column 'p'"));
    assert_non_null(strstr(rj[0].reason, "out of range for decimal(4,2)"));
    assert_non_null(strstr(rj[1].reason, "column 'd'"));
    mr_op_close(op);
    mr_schema_destroy(s2);
    mr_schema_destroy(s);
}

static void test_scan_create_errors(void **state)
{
    (void)state;
    mr_schema *s = make_schema("id:int64");
    mr_err err;
    char path[300], want[400];
    snprintf(path, sizeof path, "%s/x.csv", tmpdir);
    mr_op *op = mr_scan_csv_create(path, 0, UINT64_MAX, s, NULL, "sales", &err);
    assert_non_null(op); /* no I/O before open */
    assert_int_equal(mr_op_open(op, NULL, &err), MR_ENOTFOUND);
    mr_op_close(op);
    snprintf(want, sizeof want, "node 'sales': cannot open '%s': No such file or directory", path);
    assert_string_equal(err.msg, want);
    assert_int_equal(err.code, MR_ENOTFOUND);
    mr_schema *empty = mr_schema_create(0);
    assert_null(mr_scan_csv_create(path, 0, UINT64_MAX, empty, NULL, "sales", &err));
    assert_int_equal(err.code, MR_EINVAL);
    mr_schema_destroy(empty);
    mr_schema_destroy(s);
    const mr_reject *rj;
    size_t n;
    assert_int_equal(mr_scan_csv_rejects(NULL, &rj, &n), MR_EINVAL);
    assert_int_equal(mr_scan_csv_bytes_read(NULL), 0);
}


static void check_infer(const char *csv, const mr_csv_options *o, size_t sample, const char *want)
{
    const char *path = write_str("infer.csv", csv);
    mr_schema *s;
    mr_err err;
    int rc = mr_csv_infer_schema(path, o, sample, &s, &err);
    if (rc != 0)
        fail_msg("infer: rc %d: %s", rc, err.msg);
    char got[1024] = "", tb[64];
    for (int i = 0; i < s->nfields; i++) {
        size_t n = strlen(got);
        snprintf(got + n, sizeof got - n, "%s%s:%s", i ? ";" : "", s->fields[i].name,
                 mr_type_name(s->fields[i].type, tb, sizeof tb));
    }
    if (strcmp(got, want) != 0)
        fail_msg("infer:\n%s\ngot  %s\nwant %s", csv, got, want);
    mr_schema_destroy(s);
}

/* A file far larger than the first sample: the wider values of its middle
 * and its last lines decide the types, and a quoted field with newlines
 * at a sample start does not mislead the sample. */
static void test_infer_across_file(void **state)
{
    (void)state;
    enum { N = 200000 };
    sbuf b = {0};
    sb_add(&b, "id,big,price,note,day\n", 22);
    char line[160];
    for (int i = 0; i < N; i++) {
        /* rows 45%..55%: big no longer fits int32; the last row: a decimal
         * price; every 7th row a note with newlines and commas */
        long long big = i >= N * 45 / 100 && i < N * 55 / 100 ? 3000000000LL + i : i % 1000;
        const char *note = i % 7 == 0 ? "\"a,\n1,2,3,4\n\"" : "plain";
        int n = snprintf(line, sizeof line, "%d,%lld,%s,%s,2024-01-%02d\n", i, big,
                         i == N - 1 ? "2.5" : "3", note, 1 + i % 28);
        sb_add(&b, line, (size_t)n);
    }
    const char *path = write_file("big_infer.csv", b.p, b.n);
    free(b.p);
    mr_csv_options o;
    mr_csv_options_init(&o);
    mr_schema *s;
    mr_err err;
    assert_int_equal(mr_csv_infer_schema(path, &o, 0, &s, &err), 0);
    char tb[64];
    const char *want[] = {"int32", "int64", "decimal(2,1)", "string", "date"};
    for (int i = 0; i < 5; i++)
        assert_string_equal(mr_type_name(s->fields[i].type, tb, sizeof tb), want[i]);
    mr_schema_destroy(s);
}

/* With a header, columns are found by name in every split: ignoring case
 * (an exact match first), past a byte order mark, extra columns ignored; a
 * missing column names file and column. */
static void test_scan_by_header(void **state)
{
    (void)state;
    const char *path = write_str("hdr.csv", "\xEF\xBB\xBFQty,extra,ID,id\n"
                                            "1,x,100,10\n2,y,200,20\n3,z,300,30\n");
    mr_schema *s = make_schema("id:int64;qty:int64");
    mr_csv_options o;
    mr_csv_options_init(&o);
    mr_err err;
    /* whole file, and a split past the header (it starts at row "2,...") */
    const uint64_t offs[] = {0, 27}, want_sum[] = {60, 50}, want_rows[] = {3, 2};
    for (int i = 0; i < 2; i++) {
        mr_op *op = mr_scan_csv_create(path, offs[i], UINT64_MAX, s, &o, "r", &err);
        if (!op)
            fail_msg("%s", err.msg);
        int64_t sum, rows;
        assert_int_equal(run_scan(op, &sum, &rows, &err), MR_NEXT_DONE);
        assert_int_equal(sum, want_sum[i]); /* id is the exact "id", not "ID" */
        assert_int_equal(rows, want_rows[i]);
        mr_op_close(op);
    }
    mr_schema_destroy(s);
    s = make_schema("id:int64;price:int64");
    mr_op *op = mr_scan_csv_create(path, 27, UINT64_MAX, s, &o, "r", &err);
    assert_non_null(op); /* the header is read by open */
    assert_int_equal(mr_op_open(op, NULL, &err), MR_ENOTFOUND);
    mr_op_close(op);
    assert_int_equal(err.code, MR_ENOTFOUND);
    char want[600];
    snprintf(want, sizeof want,
             "node 'r': %s: the header has no column 'price' (it has: Qty, extra, ID, id)", path);
    assert_string_equal(err.msg, want);
    /* without a header: by position */
    o.header = false;
    mr_schema_destroy(s);
    s = make_schema("a:string;b:string;c:string;d:string");
    op = mr_scan_csv_create(path, 0, UINT64_MAX, s, &o, "r", &err);
    assert_non_null(op);
    mr_op_close(op);
    mr_schema_destroy(s);
}

/* A value that does not fit an inferred type: the message says the type
 * was inferred and shows the schema line that holds the value. */
static void test_scan_inferred_hint(void **state)
{
    (void)state;
    const char *sample =
        write_str("hint_a.csv", "id,qty,price,day\n1,5,2.50,2024-01-01\n7,6,1.25,2024-01-02\n");
    mr_csv_options o;
    mr_csv_options_init(&o);
    mr_schema *s;
    mr_err err;
    assert_int_equal(mr_csv_infer_schema(sample, &o, 0, &s, &err), 0);
    static const char *const cases[][2] = {
        {"2,3000000000,2.5,2024-01-01", "{id: int32, qty: int64, price: \"decimal(3,2)\", day: date}"},
        {"2,1.5,2.5,2024-01-01", "qty: \"decimal(11,1)\""},
        {"2,5,12345.678,2024-01-01", "price: \"decimal(8,3)\""},
        {"2,5,2.5,2024-01-01 10:00:00", "day: timestamp}"},
        {"x2,5,2.5,2024-01-01", "{id: string, qty: int32"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "id,qty,price,day\n%s\n", cases[i][0]);
        const char *path = write_str("hint_b.csv", text);
        for (int inferred = 0; inferred < 2; inferred++) {
            o.schema_inferred = inferred;
            mr_op *op = mr_scan_csv_create(path, 0, UINT64_MAX, s, &o, "r", &err);
            assert_non_null(op);
            int64_t sum, rows;
            assert_int_equal(run_scan(op, &sum, &rows, &err), MR_EPARSE);
            mr_op_close(op);
            bool said = strstr(err.msg, "was inferred from a sample") &&
                        strstr(err.msg, cases[i][1]);
            if (said != (inferred == 1))
                fail_msg("case %zu (inferred %d): %s", i, inferred, err.msg);
        }
    }
    mr_schema_destroy(s);
}

static void test_infer(void **state)
{
    (void)state;
    mr_csv_options o;
    mr_csv_options_init(&o);
    check_infer("flag,small,big,price,ratio,day,at,name,empty\n"
                "true,1,3000000000,12.5,1e3,2024-01-01,2024-01-01 10:00:00,x,\n"
                "no,-7,-1,-0.125,2.5,2024-02-29,2024-02-29,\"y\",\n"
                ",,,,,,,,\n",
                &o, 0,
                "flag:bool;small:int32;big:int64;price:decimal(5,3);ratio:float64;day:date;"
                "at:timestamp;name:string;empty:string");
    /* widening: 0/1 is bool until a 2 appears; ints and decimals mix to
     * decimal; too many digits for a decimal is float64; dates with a
     * timestamp are timestamps; anything else is a string */
    check_infer("a,b,c,d,e\n0,1,1,2024-01-01,1\n1,2.25,12345678901234567890.5,2024-01-01 00:00:01,x\n"
                "1,3,2,2024-01-02,2\n",
                &o, 0, "a:bool;b:decimal(3,2);c:float64;d:timestamp;e:string");
    /* past the first rows, samples across the file (its end included) */
    check_infer("a\n1\n2\nx\n", &o, 2, "a:string");
    check_infer("a\n1\n2\nx\n", &o, 3, "a:string");
    /* bad records are ignored; header only gives strings */
    check_infer("a,b\n5,2\n1,2,3\nq\n", &o, 0, "a:int32;b:int32");
    check_infer("a,b\n", &o, 0, "a:string;b:string");
    /* without a header: c0, c1, ...; repeated or empty names are replaced */
    o.header = false;
    check_infer("1,x\n2,y\n", &o, 0, "c0:int32;c1:string");
    o.header = true;
    check_infer("a,a,\n4,2,3\n", &o, 0, "a:int32;c1:int32;c2:int32");
    /* the null string is ignored */
    o.null_string = "NA";
    check_infer("a\n7\nNA\n", &o, 0, "a:int32");
    mr_schema *s;
    mr_err err;
    const char *path = write_str("empty.csv", "");
    assert_int_equal(mr_csv_infer_schema(path, &o, 0, &s, &err), MR_EINVAL);
    assert_non_null(strstr(err.msg, "empty file"));
    assert_null(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader_basic),
        cmocka_unit_test(test_reader_quotes),
        cmocka_unit_test(test_reader_header),
        cmocka_unit_test(test_reader_positions),
        cmocka_unit_test(test_reader_errors),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_splits),
        cmocka_unit_test(test_quoted_newlines_whole_file),
        cmocka_unit_test(test_scan_types),
        cmocka_unit_test(test_scan_many_batches),
        cmocka_unit_test(test_scan_bad_rows),
        cmocka_unit_test(test_scan_create_errors),
        cmocka_unit_test(test_infer),
        cmocka_unit_test(test_infer_across_file),
        cmocka_unit_test(test_scan_inferred_hint),
        cmocka_unit_test(test_scan_by_header),
    };
    return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
