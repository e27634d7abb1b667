/* test_decode.c - compressed text inputs (core/formats/decode.h): the split
 * reader over gzip and zstd files gives back the exact text, multi-member
 * gzip and multi-frame zstd read as their concatenation, truncated and
 * corrupt data and a plain file read as gzip fail naming the file, and
 * inference reads a compressed file's head. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>
#include <zstd.h>

#include "core/csv.h"
#include "core/formats/decode.h"
#include "core/formats/split.h"
#include "core/jsonl.h"

static char tmpdir[256];

static int setup_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mr_test_decode_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *path_of(const char *name)
{
    static char slots[4][512];
    static int next;
    char *p = slots[next++ % 4];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    return p;
}

static void write_file(const char *path, const void *data, size_t n, const char *mode)
{
    FILE *f = fopen(path, mode);
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

/* One gzip member of text (malloc'd, *n its size). */
static unsigned char *gzip_member(const char *text, size_t len, size_t *n)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, (uLong)len) + 64;
    unsigned char *out = malloc(cap);
    assert_non_null(out);
    z.next_in = (Bytef *)text;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    *n = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

static unsigned char *zstd_frame(const char *text, size_t len, size_t *n)
{
    size_t cap = ZSTD_compressBound(len);
    unsigned char *out = malloc(cap);
    assert_non_null(out);
    *n = ZSTD_compress(out, cap, text, len, 3);
    assert_false(ZSTD_isError(*n));
    return out;
}

/* Reads path whole through the split reader with a small buffer; 0 and
 * the text in *out, or the error code. */
static int read_all(const char *path, int compression, char **out, size_t *len, mr_err *err)
{
    mr_split sp;
    int rc = mr_split_open(&sp, path, 0, 10, 64, compression, err);
    if (rc < 0)
        return rc;
    size_t cap = 1024, n = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    for (;;) {
        long got = mr_split_read(&sp, err);
        if (got < 0) {
            free(text);
            mr_split_close(&sp);
            return (int)got;
        }
        if (n + (sp.end - sp.beg) > cap) {
            cap = (n + (sp.end - sp.beg)) * 2;
            text = realloc(text, cap);
            assert_non_null(text);
        }
        memcpy(text + n, sp.buf + sp.beg, sp.end - sp.beg);
        n += sp.end - sp.beg;
        sp.beg = sp.end;
        mr_split_compact(&sp);
        if (sp.eof)
            break;
    }
    mr_split_close(&sp);
    *out = text;
    *len = n;
    return 0;
}

/* About 400 KB of CSV lines: more than one decoder input buffer. */
static char *big_text(size_t *len)
{
    size_t cap = 512u << 10, n = 0;
    char *t = malloc(cap);
    assert_non_null(t);
    n += (size_t)snprintf(t, cap, "id,name,amount\n");
    for (int i = 0; n + 64 < cap - 64 && i < 20000; i++)
        n += (size_t)snprintf(t + n, cap - n, "%d,name %d,%d.%02d\n", i, i * 7, i, i % 100);
    *len = n;
    return t;
}

static void test_compression_of(void **state)
{
    (void)state;
    assert_int_equal(mr_compression_of("a.csv.gz", MR_COMPRESSION_AUTO), MR_COMPRESSION_GZIP);
    assert_int_equal(mr_compression_of("a.jsonl.zst", MR_COMPRESSION_AUTO), MR_COMPRESSION_ZSTD);
    assert_int_equal(mr_compression_of("a.csv", MR_COMPRESSION_AUTO), MR_COMPRESSION_NONE);
    assert_int_equal(mr_compression_of("a.gzip", MR_COMPRESSION_AUTO), MR_COMPRESSION_NONE);
    assert_int_equal(mr_compression_of("a.csv.gz", MR_COMPRESSION_NONE), MR_COMPRESSION_NONE);
    assert_int_equal(mr_compression_of("a.data", MR_COMPRESSION_ZSTD), MR_COMPRESSION_ZSTD);
}

static void test_gzip_round_trip_and_members(void **state)
{
    (void)state;
    size_t len, zn, zn2;
    char *text = big_text(&len);
    unsigned char *z = gzip_member(text, len, &zn);
    const char *p = path_of("big.csv.gz");
    write_file(p, z, zn, "wb");
    char *got;
    size_t glen;
    mr_err err;
    mr_err_clear(&err);
    assert_int_equal(read_all(p, MR_COMPRESSION_AUTO, &got, &glen, &err), 0);
    assert_int_equal(glen, len);
    assert_memory_equal(got, text, len);
    free(got);

    /* two members (cat a.gz b.gz): the text of both, in order */
    unsigned char *z2 = gzip_member("tail,1,2\n", 9, &zn2);
    write_file(p, z2, zn2, "ab");
    assert_int_equal(read_all(p, MR_COMPRESSION_AUTO, &got, &glen, &err), 0);
    assert_int_equal(glen, len + 9);
    assert_memory_equal(got, text, len);
    assert_memory_equal(got + len, "tail,1,2\n", 9);
    free(got);

    /* the name does not say gzip: compression does */
    const char *q = path_of("big.data");
    write_file(q, z, zn, "wb");
    assert_int_equal(read_all(q, MR_COMPRESSION_GZIP, &got, &glen, &err), 0);
    assert_int_equal(glen, len);
    free(got);
    /* and none reads the bytes as they are */
    assert_int_equal(read_all(p, MR_COMPRESSION_NONE, &got, &glen, &err), 0);
    assert_int_equal(glen, zn + zn2);
    free(got);
    free(z);
    free(z2);
    free(text);
}

static void test_zstd_round_trip_and_frames(void **state)
{
    (void)state;
    size_t len, zn, zn2;
    char *text = big_text(&len);
    unsigned char *z = zstd_frame(text, len, &zn);
    unsigned char *z2 = zstd_frame("x,y\n", 4, &zn2);
    const char *p = path_of("big.csv.zst");
    write_file(p, z, zn, "wb");
    write_file(p, z2, zn2, "ab");
    char *got;
    size_t glen;
    mr_err err;
    mr_err_clear(&err);
    assert_int_equal(read_all(p, MR_COMPRESSION_AUTO, &got, &glen, &err), 0);
    assert_int_equal(glen, len + 4);
    assert_memory_equal(got, text, len);
    assert_memory_equal(got + len, "x,y\n", 4);
    free(got);
    free(z);
    free(z2);
    free(text);
}

static void test_truncated_and_corrupt(void **state)
{
    (void)state;
    size_t len, gz, zs;
    char *text = big_text(&len);
    unsigned char *g = gzip_member(text, len, &gz);
    unsigned char *z = zstd_frame(text, len, &zs);
    char *got = NULL;
    size_t glen;
    mr_err err;

    const char *p = path_of("cut.csv.gz");
    write_file(p, g, gz / 2, "wb");
    mr_err_clear(&err);
    assert_int_equal(read_all(p, MR_COMPRESSION_AUTO, &got, &glen, &err), MR_EPARSE);
    assert_non_null(strstr(err.msg, p));
    assert_non_null(strstr(err.msg, "truncated gzip"));
    /* cut inside the 8-byte trailer: all the text came, the check did not */
    write_file(p, g, gz - 3, "wb");
    assert_int_equal(read_all(p, MR_COMPRESSION_AUTO, &got, &glen, &err), MR_EPARSE);
    assert_non_null(strstr(err.msg, "truncated gzip"));

    const char *q = path_of("cut.csv.zst");
    write_file(q, z, zs - 1, "wb");
    mr_err_clear(&err);
    assert_int_equal(read_all(q, MR_COMPRESSION_AUTO, &got, &glen, &err), MR_EPARSE);
    assert_non_null(strstr(err.msg, q));
    assert_non_null(strstr(err.msg, "truncated zstd"));

    /* a flipped byte in the middle of the deflate data */
    unsigned char *bad = malloc(gz);
    assert_non_null(bad);
    memcpy(bad, g, gz);
    for (size_t i = gz / 2; i < gz / 2 + 16; i++)
        bad[i] ^= 0x5a;
    write_file(p, bad, gz, "wb");
    mr_err_clear(&err);
    assert_int_equal(read_all(p, MR_COMPRESSION_AUTO, &got, &glen, &err), MR_EPARSE);
    assert_non_null(strstr(err.msg, p));

    /* a plain file read as gzip or zstd */
    const char *plain = path_of("plain.csv");
    write_file(plain, "a,b\n1,2\n", 8, "wb");
    mr_err_clear(&err);
    assert_int_equal(read_all(plain, MR_COMPRESSION_GZIP, &got, &glen, &err), MR_EPARSE);
    assert_non_null(strstr(err.msg, "not gzip data"));
    assert_non_null(strstr(err.msg, plain));
    mr_err_clear(&err);
    assert_int_equal(read_all(plain, MR_COMPRESSION_ZSTD, &got, &glen, &err), MR_EPARSE);
    assert_non_null(strstr(err.msg, "not zstd data"));

    /* a compressed file is one split: no start past byte 0 */
    mr_split sp;
    mr_err_clear(&err);
    write_file(p, g, gz, "wb");
    assert_int_equal(mr_split_open(&sp, p, 100, 100, 64, MR_COMPRESSION_AUTO, &err), MR_EINVAL);
    assert_non_null(strstr(err.msg, "read whole"));

    /* an empty file reads as empty */
    const char *e = path_of("empty.csv.gz");
    write_file(e, "", 0, "wb");
    assert_int_equal(read_all(e, MR_COMPRESSION_AUTO, &got, &glen, &err), 0);
    assert_int_equal(glen, 0);
    free(got);
    free(bad);
    free(g);
    free(z);
    free(text);
}

/* Inference and the CSV reader over a compressed file see its records. */
static void test_infer_and_read(void **state)
{
    (void)state;
    size_t len, gz;
    char *text = big_text(&len);
    unsigned char *g = gzip_member(text, len, &gz);
    const char *p = path_of("infer.csv.gz");
    write_file(p, g, gz, "wb");
    mr_schema *s = NULL;
    mr_err err;
    mr_err_clear(&err);
    assert_int_equal(mr_csv_infer_schema(p, NULL, 0, &s, &err), 0);
    assert_int_equal(s->nfields, 3);
    assert_string_equal(s->fields[0].name, "id");
    assert_int_equal(s->fields[0].type.id, MR_T_INT32);
    assert_string_equal(s->fields[1].name, "name");
    assert_int_equal(s->fields[1].type.id, MR_T_STRING);
    mr_schema_destroy(s);

    mr_csv_reader *r;
    mr_csv_options o;
    mr_csv_options_init(&o);
    assert_int_equal(mr_csv_reader_open(p, 0, 10, &o, &r, &err), 0);
    mr_csv_record rec;
    int rows = 0, rc;
    while ((rc = mr_csv_reader_next(r, &rec, &err)) == 1)
        rows++;
    assert_int_equal(rc, 0);
    assert_int_equal(rows, 20000);
    mr_csv_reader_close(r);

    const char *j = path_of("rows.jsonl.zst");
    const char *lines = "{\"k\": 1, \"v\": \"a\"}\n{\"k\": 2, \"v\": \"b\"}\n";
    size_t zn;
    unsigned char *z = zstd_frame(lines, strlen(lines), &zn);
    write_file(j, z, zn, "wb");
    assert_int_equal(mr_jsonl_infer_schema(j, 0, &s, &err), 0);
    assert_int_equal(s->nfields, 2);
    assert_string_equal(s->fields[0].name, "k");
    assert_int_equal(s->fields[0].type.id, MR_T_INT32);
    mr_schema_destroy(s);
    free(z);
    free(g);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compression_of),
        cmocka_unit_test(test_gzip_round_trip_and_members),
        cmocka_unit_test(test_zstd_round_trip_and_frames),
        cmocka_unit_test(test_truncated_and_corrupt),
        cmocka_unit_test(test_infer_and_read),
    };
    return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
