/* test_jsonl.c - JSON Lines: the parser's corner cases (escapes, unicode,
 * invalid UTF-8, nesting bound, numbers), the scan (types, missing and extra
 * keys, blank lines, CRLF, bad rows per on_error), splits reading every line
 * exactly once, and schema inference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/jsonl.h"
#include "core/op/scan_jsonl.h"

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mr_jsonl_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *write_file(const char *name, const char *text, size_t n)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, n, f), n);
    fclose(f);
    return path;
}

/* ---- Parser ---------------------------------------------------------------- */

static int parse(mr_jsonl_parser *p, const char *line, const mr_jsonl_field **f, mr_err *err)
{
    return mr_jsonl_parse(p, line, strlen(line), f, err);
}

static void test_parse_values(void **state)
{
    (void)state;
    mr_jsonl_parser *p = mr_jsonl_parser_create();
    const mr_jsonl_field *f;
    mr_err err;
    assert_int_equal(parse(p, " { } ", &f, &err), 0);
    const char *line = "{\"a\": 1, \"b\" :-2.5e+3,\"c\":\"x\\\"y\\\\z\\/\\n\\t\", \"d\":true,"
                       "\"e\":false,\"f\":null,\"g\":{\"h\":[1,{\"i\":[]}]},\"j\":[ ] ,"
                       "\"k\\u00e9\":\"\\u00e9\\u20ac\\ud83d\\ude00\"}";
    assert_int_equal(parse(p, line, &f, &err), 9);
    assert_int_equal(f[0].kind, MR_JSON_NUMBER);
    assert_true(f[0].is_integer);
    assert_int_equal(f[1].kind, MR_JSON_NUMBER);
    assert_false(f[1].is_integer);
    assert_int_equal(f[1].val_len, 7);
    assert_memory_equal(f[1].val, "-2.5e+3", 7);
    assert_int_equal(f[2].kind, MR_JSON_STRING);
    assert_int_equal(f[2].val_len, 8);
    assert_memory_equal(f[2].val, "x\"y\\z/\n\t", 8);
    assert_int_equal(f[3].kind, MR_JSON_TRUE);
    assert_int_equal(f[4].kind, MR_JSON_FALSE);
    assert_int_equal(f[5].kind, MR_JSON_NULL);
    assert_int_equal(f[6].kind, MR_JSON_OBJECT);
    assert_int_equal(f[6].val_len, strlen("{\"h\":[1,{\"i\":[]}]}"));
    assert_memory_equal(f[6].val, "{\"h\":[1,{\"i\":[]}]}", f[6].val_len);
    assert_int_equal(f[7].kind, MR_JSON_ARRAY);
    assert_int_equal(f[8].key_len, 3);
    assert_memory_equal(f[8].key, "k\xc3\xa9", 3);
    assert_int_equal(f[8].val_len, 2 + 3 + 4);
    assert_memory_equal(f[8].val, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9);
    /* raw UTF-8 passes as is */
    assert_int_equal(parse(p, "{\"s\":\"h\xc3\xa9llo \xf0\x9f\x98\x80\"}", &f, &err), 1);
    assert_int_equal(f[0].val_len, 11);
    mr_jsonl_parser_destroy(p);
}

static void test_parse_errors(void **state)
{
    (void)state;
    mr_jsonl_parser *p = mr_jsonl_parser_create();
    const mr_jsonl_field *f;
    mr_err err;
    static const char *const bad[] = {
        "",                      /* empty */
        "[1,2]",                 /* not an object */
        "\"x\"",                 /* not an object */
        "{\"a\":1",              /* unterminated */
        "{\"a\":1,}",            /* trailing comma */
        "{\"a\" 1}",             /* missing colon */
        "{a:1}",                 /* unquoted key */
        "{\"a\":01}",            /* leading zero */
        "{\"a\":+1}",            /* plus sign */
        "{\"a\":.5}",            /* no integer part */
        "{\"a\":1.}",            /* no fraction digits */
        "{\"a\":1e}",            /* no exponent digits */
        "{\"a\":-}",             /* lone minus */
        "{\"a\":tru}",           /* bad literal */
        "{\"a\":nul}",           /* bad literal */
        "{\"a\":\"x\\q\"}",      /* unknown escape */
        "{\"a\":\"\\u12G4\"}",   /* bad hex */
        "{\"a\":\"\\u12\"}",     /* truncated escape */
        "{\"a\":\"\\ud83d\"}",   /* lone high surrogate */
        "{\"a\":\"\\ude00\"}",   /* lone low surrogate */
        "{\"a\":\"\\ud83d\\u0041\"}", /* high + non-low */
        "{\"a\":\"\\u0000\"}",   /* NUL */
        "{\"a\":\"tab\there\"}", /* raw control character */
        "{\"a\":1} x",           /* trailing text */
        "{\"a\":1}{\"b\":2}",    /* two objects */
        "{\"a\":\"\xc3\x28\"}",  /* invalid UTF-8 */
        "{\"a\":\"\xed\xa0\x80\"}", /* UTF-8 surrogate */
        "{\"a\":\"\xc0\xaf\"}",  /* overlong */
        "{\"a\":[1,2}",          /* mismatched bracket */
        "{\"a\":{\"b\"}}",       /* nested: missing value */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = parse(p, bad[i], &f, &err);
        if (rc != MR_EPARSE)
            fail_msg("'%s' gave %d, not MR_EPARSE", bad[i], rc);
        assert_non_null(strstr(err.msg, "at byte"));
        assert_true(err.offset >= 0);
    }
    assert_int_equal(parse(p, "{\"a\":1} x", &f, &err), MR_EPARSE);
    assert_int_equal(err.offset, 8);
    assert_non_null(strstr(err.msg, "text after the object"));

    /* nesting: 64 levels below the top object are fine, 65 are not */
    char deep[400];
    for (int depth = 64; depth <= 65; depth++) {
        size_t o = (size_t)sprintf(deep, "{\"a\":");
        for (int i = 0; i < depth; i++)
            deep[o++] = '[';
        for (int i = 0; i < depth; i++)
            deep[o++] = ']';
        deep[o++] = '}';
        deep[o] = '\0';
        assert_int_equal(parse(p, deep, &f, &err), depth == 64 ? 1 : MR_EPARSE);
    }
    if (err.code == MR_EPARSE)
        assert_non_null(strstr(err.msg, "nesting"));
    /* a very deep line fails cleanly without recursing deeply */
    size_t big = 200000;
    char *huge = malloc(big + 8);
    memcpy(huge, "{\"a\":", 5);
    memset(huge + 5, '[', big);
    huge[big + 5] = '\0';
    assert_int_equal(mr_jsonl_parse(p, huge, big + 5, &f, &err), MR_EPARSE);
    free(huge);
    mr_jsonl_parser_destroy(p);
}

/* ---- Scan ------------------------------------------------------------------ */

static mr_schema *schema_of(const char *spec)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", spec);
    int n = 1;
    for (const char *q = buf; *q; q++)
        n += *q == ';';
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

/* Renders row r as "v1|v2|..." with NULL for NULL. */
static void render(const mr_batch *b, uint32_t r, char *out, size_t cap)
{
    size_t o = 0;
    for (int c = 0; c < b->ncols; c++) {
        const mr_column *col = &b->cols[c];
        char v[96];
        if (!mr_column_is_valid(col, r))
            snprintf(v, sizeof v, "NULL");
        else
            switch (col->type.id) {
            case MR_T_BOOL: snprintf(v, sizeof v, "%s", MR_COL_U8(col)[r] ? "t" : "f"); break;
            case MR_T_INT32: snprintf(v, sizeof v, "%d", MR_COL_I32(col)[r]); break;
            case MR_T_INT64: snprintf(v, sizeof v, "%lld", (long long)MR_COL_I64(col)[r]); break;
            case MR_T_FLOAT64: mr_format_float64(MR_COL_F64(col)[r], v, sizeof v); break;
            case MR_T_DECIMAL:
                mr_format_decimal(MR_COL_I64(col)[r], col->type.scale, v, sizeof v);
                break;
            case MR_T_DATE: mr_format_date(MR_COL_I32(col)[r], v, sizeof v); break;
            case MR_T_TIMESTAMP: mr_format_timestamp(MR_COL_I64(col)[r], v, sizeof v); break;
            default: {
                size_t n;
                const char *s = mr_column_str(col, r, &n);
                snprintf(v, sizeof v, "%.*s", (int)n, s);
            }
            }
        o += (size_t)snprintf(out + o, cap - o, "%s%s", c ? "|" : "", v);
    }
}

/* Scans path[offset, offset+len) and appends every row rendered, one per
 * line, to out; returns the rc of the last next(). */
static int scan_all(const char *path, uint64_t off, uint64_t len, const char *spec, int on_error,
                    char *out, size_t cap, mr_err *err, mr_op **keep)
{
    mr_schema *s = schema_of(spec);
    mr_csv_options opt;
    mr_csv_options_init(&opt);
    opt.on_error = on_error;
    mr_op *op = mr_scan_jsonl_create(path, off, len, s, &opt, "rd", err);
    mr_schema_destroy(s);
    assert_non_null(op);
    assert_int_equal(mr_op_open(op, NULL, err), 0);
    size_t o = strlen(out);
    mr_batch *b;
    int rc;
    while ((rc = mr_op_next(op, &b, err)) == MR_NEXT_BATCH)
        for (size_t i = 0; i < mr_batch_live(b); i++) {
            render(b, mr_batch_row(b, i), out + o, cap - o);
            o += strlen(out + o);
            o += (size_t)snprintf(out + o, cap - o, "\n");
        }
    if (keep)
        *keep = op;
    else
        mr_op_close(op);
    return rc;
}

static void test_scan_types(void **state)
{
    (void)state;
    const char text[] =
        "{\"i\":1,\"s\":\"a\",\"d\":\"12.5\",\"f\":1e3,\"b\":true,\"dt\":\"2024-01-31\","
        "\"ts\":\"2024-01-31T12:00:00.5\",\"big\":9007199254740993}\r\n"
        "\n"
        "   \r\n"
        "{\"s\":{\"x\":[1,2]},\"zzz\":[1],\"i\":null,\"d\":0.125,\"b\":\"no\",\"big\":-1}\n"
        "{\"big\":2,\"s\":42,\"s\":\"last wins\",\"i\":\"7\",\"f\":-0,\"b\":0,\"d\":-3}";
    const char *path = write_file("t.jsonl", text, sizeof text - 1);
    char out[2048] = "";
    mr_err err;
    assert_int_equal(scan_all(path, 0, UINT64_MAX,
                              "i:int32;s:string;d:decimal(6,2);f:float64;b:bool;dt:date;"
                              "ts:timestamp;big:int64",
                              MR_CSV_FAIL, out, sizeof out, &err, NULL),
                     MR_NEXT_DONE);
    assert_string_equal(out, "1|a|12.50|1000|t|2024-01-31|2024-01-31 12:00:00.5|9007199254740993\n"
                             "NULL|{\"x\":[1,2]}|0.13|NULL|f|NULL|NULL|-1\n"
                             "7|last wins|-3.00|-0|f|NULL|NULL|2\n");
}

static void test_scan_bad_rows(void **state)
{
    (void)state;
    const char text[] = "{\"n\":1}\n"
                        "{\"n\":99999999999999999999}\n"  /* overflow */
                        "{\"n\":1.5}\n"                   /* not an int */
                        "not json\n"
                        "{\"n\":[1]}\n"                   /* nested in a number column */
                        "{\"n\":true}\n"                  /* bool in a number column */
                        "{\"n\":\"\xff\"}\n"              /* invalid UTF-8 */
                        "{\"n\":2}\n";
    const char *path = write_file("bad.jsonl", text, sizeof text - 1);
    char out[1024] = "";
    mr_err err;
    assert_int_equal(scan_all(path, 0, UINT64_MAX, "n:int64", MR_CSV_FAIL, out, sizeof out, &err,
                              NULL),
                     MR_EPARSE);
    assert_non_null(strstr(err.msg, "node 'rd'"));
    assert_non_null(strstr(err.msg, "bad.jsonl:2"));
    assert_non_null(strstr(err.msg, "out of range"));

    out[0] = '\0';
    mr_op *op;
    assert_int_equal(scan_all(path, 0, UINT64_MAX, "n:int64", MR_CSV_REJECT, out, sizeof out,
                              &err, &op),
                     MR_NEXT_DONE);
    assert_string_equal(out, "1\n2\n");
    const mr_reject *rj;
    size_t nr;
    assert_int_equal(mr_scan_jsonl_rejects(op, &rj, &nr), 0);
    assert_int_equal(nr, 6);
    assert_int_equal(mr_scan_jsonl_bad_rows(op), 6);
    for (size_t i = 0; i < nr; i++)
        assert_int_equal(rj[i].line, (int64_t)i + 2);
    assert_string_equal(rj[2].raw, "not json");
    assert_non_null(strstr(rj[3].reason, "array"));
    assert_non_null(strstr(rj[5].reason, "UTF-8"));
    assert_int_equal(mr_scan_jsonl_bytes_read(op), sizeof text - 1);
    mr_op_close(op);

    /* max_errors */
    mr_schema *s = schema_of("n:int64");
    mr_csv_options opt;
    mr_csv_options_init(&opt);
    opt.on_error = MR_CSV_SKIP;
    opt.max_errors = 2;
    op = mr_scan_jsonl_create(path, 0, UINT64_MAX, s, &opt, "rd", &err);
    assert_int_equal(mr_op_open(op, NULL, &err), 0);
    mr_batch *b;
    assert_int_equal(mr_op_next(op, &b, &err), MR_EPARSE);
    assert_non_null(strstr(err.msg, "max_errors"));
    mr_op_close(op);

    /* missing file */
    op = mr_scan_jsonl_create("/nonexistent/x.jsonl", 0, UINT64_MAX, s, NULL, "rd", &err);
    assert_non_null(op); /* no I/O before open */
    assert_int_equal(mr_op_open(op, NULL, &err), MR_ENOTFOUND);
    mr_op_close(op);
    assert_int_equal(err.code, MR_ENOTFOUND);
    assert_non_null(strstr(err.msg, "node 'rd'"));
    mr_schema_destroy(s);
}

static void test_splits(void **state)
{
    (void)state;
    /* lines of varied length, blank lines, CRLF and no final newline */
    size_t cap = 200000, n = 0;
    char *text = malloc(cap);
    int rows = 0;
    for (int i = 0; i < 1000; i++) {
        if (i % 97 == 0)
            n += (size_t)sprintf(text + n, "\n");
        n += (size_t)sprintf(text + n, "{\"k\":%d,\"pad\":\"%.*s\"}%s", i, i % 23,
                             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", i % 5 == 0 ? "\r\n" : "\n");
        rows++;
    }
    n += (size_t)sprintf(text + n, "{\"k\":1000}");
    rows++;
    const char *path = write_file("split.jsonl", text, n);
    char *seen = calloc((size_t)rows, 1);
    const uint64_t sizes[] = {5, 64, 4096, 33333, 1 << 20};
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        memset(seen, 0, (size_t)rows);
        uint64_t bytes = 0;
        for (uint64_t off = 0; off < n; off += sizes[si]) {
            mr_schema *s = schema_of("k:int32");
            mr_err err;
            mr_op *op = mr_scan_jsonl_create(path, off, sizes[si], s, NULL, "rd", &err);
            mr_schema_destroy(s);
            assert_non_null(op);
            assert_int_equal(mr_op_open(op, NULL, &err), 0);
            mr_batch *b;
            while (mr_op_next(op, &b, &err) == MR_NEXT_BATCH)
                for (size_t i = 0; i < mr_batch_live(b); i++) {
                    int k = MR_COL_I32(&b->cols[0])[mr_batch_row(b, i)];
                    assert_true(k >= 0 && k < rows);
                    assert_int_equal(seen[k], 0);
                    seen[k] = 1;
                }
            bytes += mr_scan_jsonl_bytes_read(op);
            mr_op_close(op);
        }
        for (int k = 0; k < rows; k++)
            assert_int_equal(seen[k], 1);
        assert_int_equal(bytes, n);
    }
    /* a line number from a split that starts mid-file */
    const char *p2 = write_file("ln.jsonl", "{\"k\":1}\n{\"k\":2}\n{\"k\":x}\n", 24);
    mr_schema *s = schema_of("k:int32");
    mr_err err;
    mr_op *op = mr_scan_jsonl_create(p2, 10, 100, s, NULL, "rd", &err);
    assert_int_equal(mr_op_open(op, NULL, &err), 0);
    mr_batch *b;
    assert_int_equal(mr_op_next(op, &b, &err), MR_EPARSE);
    assert_non_null(strstr(err.msg, "ln.jsonl:3"));
    mr_op_close(op);
    mr_schema_destroy(s);
    free(seen);
    free(text);
}

static void test_long_line(void **state)
{
    (void)state;
    /* a 3 MB string: longer than the read buffer */
    size_t len = 3u << 20;
    char *text = malloc(len + 64);
    size_t n = (size_t)sprintf(text, "{\"k\":1}\n{\"s\":\"");
    memset(text + n, 'y', len);
    n += len;
    n += (size_t)sprintf(text + n, "\",\"k\":2}\n{\"k\":3}\n");
    const char *path = write_file("long.jsonl", text, n);
    mr_schema *s = schema_of("k:int32;s:string");
    mr_err err;
    mr_op *op = mr_scan_jsonl_create(path, 0, UINT64_MAX, s, NULL, "rd", &err);
    assert_int_equal(mr_op_open(op, NULL, &err), 0);
    mr_batch *b;
    assert_int_equal(mr_op_next(op, &b, &err), MR_NEXT_BATCH);
    assert_int_equal(b->nrows, 3);
    size_t sl;
    mr_column_str(&b->cols[1], 1, &sl);
    assert_int_equal(sl, len);
    assert_int_equal(MR_COL_I32(&b->cols[0])[2], 3);
    mr_op_close(op);
    mr_schema_destroy(s);
    free(text);
}

static void test_infer(void **state)
{
    (void)state;
    const char text[] = "{\"a\":1,\"b\":1,\"c\":1,\"d\":true,\"e\":\"2024-01-01\",\"f\":\"x\"}\n"
                        "broken line\n"
                        "{\"a\":2,\"b\":5000000000,\"c\":1.5,\"d\":false,\"e\":\"2024-02-01\","
                        "\"f\":null,\"g\":\"2024-01-01 10:00:00\",\"h\":[1],\"i\":null,"
                        "\"j\":1}\n"
                        "{\"j\":\"one\",\"k\":99999999999999999999}\n";
    const char *path = write_file("inf.jsonl", text, sizeof text - 1);
    mr_schema *s;
    mr_err err;
    assert_int_equal(mr_jsonl_infer_schema(path, 0, &s, &err), 0);
    const char *want[][2] = {{"a", "int32"},  {"b", "int64"},     {"c", "float64"},
                             {"d", "bool"},   {"e", "date"},      {"f", "string"},
                             {"g", "timestamp"}, {"h", "string"}, {"i", "string"},
                             {"j", "string"}, {"k", "float64"}};
    assert_int_equal(s->nfields, 11);
    for (int i = 0; i < 11; i++) {
        char tn[48];
        assert_string_equal(s->fields[i].name, want[i][0]);
        assert_string_equal(mr_type_name(s->fields[i].type, tn, sizeof tn), want[i][1]);
    }
    mr_schema_destroy(s);
    /* a first sample of one line: the rest of a small file is the tail
     * sample, read whole */
    assert_int_equal(mr_jsonl_infer_schema(path, 1, &s, &err), 0);
    assert_int_equal(s->nfields, 11);
    mr_schema_destroy(s);
    const char *empty = write_file("empty.jsonl", "\n\n", 2);
    assert_int_equal(mr_jsonl_infer_schema(empty, 0, &s, &err), MR_EPARSE);
    assert_int_equal(mr_jsonl_infer_schema("/nonexistent.jsonl", 0, &s, &err), MR_ENOTFOUND);
}

/* A file far larger than the first sample: a wider value in its middle
 * lines and at its end decides the type; a key met only at the end is a
 * column. */
static void test_infer_across_file(void **state)
{
    (void)state;
    enum { N = 100000 };
    size_t cap = (size_t)N * 64, n = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    for (int i = 0; i < N; i++) {
        long long a = i >= N * 45 / 100 && i < N * 55 / 100 ? 5000000000LL + i : i;
        n += (size_t)snprintf(text + n, cap - n, "{\"a\":%lld,\"b\":%s%s}\n", a,
                              i == N - 1 ? "1.5" : "7", i == N - 1 ? ",\"z\":\"x\"" : "");
    }
    const char *path = write_file("big_inf.jsonl", text, n);
    free(text);
    mr_schema *s;
    mr_err err;
    assert_int_equal(mr_jsonl_infer_schema(path, 0, &s, &err), 0);
    assert_int_equal(s->nfields, 3);
    const char *want[][2] = {{"a", "int64"}, {"b", "float64"}, {"z", "string"}};
    for (int i = 0; i < 3; i++) {
        char tn[48];
        assert_string_equal(s->fields[i].name, want[i][0]);
        assert_string_equal(mr_type_name(s->fields[i].type, tn, sizeof tn), want[i][1]);
    }
    mr_schema_destroy(s);
}

/* A file under 512 KiB whose last eighth holds more than 250 lines: the
 * window at 7/8 lies within the last 64 KiB, so it is read to the end and
 * the last line's wider value decides the type (as for CSV). */
static void test_infer_small_tail(void **state)
{
    (void)state;
    enum { N = 8000 };
    size_t cap = (size_t)N * 64, n = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    for (int i = 0; i < N; i++)
        n += (size_t)snprintf(text + n, cap - n, "{\"id\":%d,\"v\":%s}\n", i,
                              i == N - 1 ? "2.5" : "3");
    const char *path = write_file("small_tail.jsonl", text, n);
    free(text);
    mr_schema *s;
    mr_err err;
    assert_int_equal(mr_jsonl_infer_schema(path, 10, &s, &err), 0);
    assert_int_equal(s->nfields, 2);
    char tn[48];
    assert_string_equal(mr_type_name(s->fields[1].type, tn, sizeof tn), "float64");
    mr_schema_destroy(s);
}

/* A value that does not fit an inferred type: the message says so and
 * shows the schema line that holds it. */
static void test_scan_inferred_hint(void **state)
{
    (void)state;
    const char text[] = "{\"id\":1,\"day\":\"2024-01-01\"}\n"
                        "{\"id\":7000000000,\"day\":\"2024-01-01\"}\n"
                        "{\"id\":2,\"day\":\"2024-01-02 10:00:00\"}\n";
    const char *path = write_file("hint.jsonl", text, sizeof text - 1);
    mr_schema *s = schema_of("id:int32;day:date");
    mr_csv_options opt;
    mr_csv_options_init(&opt);
    opt.on_error = MR_CSV_REJECT;
    opt.schema_inferred = true;
    mr_err err;
    mr_op *op = mr_scan_jsonl_create(path, 0, UINT64_MAX, s, &opt, "rd", &err);
    assert_non_null(op);
    assert_int_equal(mr_op_open(op, NULL, &err), 0);
    mr_batch *b;
    while (mr_op_next(op, &b, &err) == MR_NEXT_BATCH)
        ;
    const mr_reject *rj;
    size_t n;
    assert_int_equal(mr_scan_jsonl_rejects(op, &rj, &n), 0);
    assert_int_equal(n, 2);
    if (!strstr(rj[0].reason, "the type int32 of column 'id' was inferred") ||
        !strstr(rj[0].reason, "schema: {id: int64, day: date}"))
        fail_msg("%s", rj[0].reason);
    if (!strstr(rj[1].reason, "schema: {id: int32, day: timestamp}"))
        fail_msg("%s", rj[1].reason);
    mr_op_close(op);
    mr_schema_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_values), cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_scan_types),   cmocka_unit_test(test_scan_bad_rows),
        cmocka_unit_test(test_splits),       cmocka_unit_test(test_long_line),
        cmocka_unit_test(test_infer),
        cmocka_unit_test(test_infer_across_file),
        cmocka_unit_test(test_infer_small_tail),
        cmocka_unit_test(test_scan_inferred_hint),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
