/* test_wire.c - round trips and hostile input for the batch wire codec.
 *
 * Every type goes through encode -> decode with NULLs, with and without a
 * selection vector, raw and zstd; then headers and frames are corrupted in
 * targeted ways (and by a seeded random mutation loop) and decoding must
 * return MR_EPROTO cleanly (run under the ASan build to prove "no crash").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zstd.h>

#include "net/wire.h"

#define NTYPES 9

static mr_type all_types(int i)
{
    static const mr_type_id ids[NTYPES] = {MR_T_BOOL,   MR_T_INT32,  MR_T_INT64, MR_T_FLOAT64,
                                           MR_T_DECIMAL, MR_T_STRING, MR_T_DATE,  MR_T_TIMESTAMP,
                                           MR_T_TIMESTAMPTZ};
    return ids[i] == MR_T_DECIMAL ? mr_type_decimal(12, 3) : mr_type_make(ids[i]);
}

/* A batch of n rows over every type; row r is NULL in column c when
 * (r + c) % 5 == 0; values depend on r so a misplaced row shows. */
static mr_batch *make_batch(size_t n)
{
    mr_type types[NTYPES];
    for (int i = 0; i < NTYPES; i++)
        types[i] = all_types(i);
    mr_batch *b = mr_batch_create_types(types, NTYPES, n ? n : 1);
    assert_non_null(b);
    char s[64];
    for (size_t r = 0; r < n; r++) {
        for (int c = 0; c < NTYPES; c++) {
            mr_column *col = &b->cols[c];
            int null = (r + (size_t)c) % 5 == 0;
            switch (col->type.id) {
            case MR_T_BOOL: MR_COL_U8(col)[r] = r & 1; break;
            case MR_T_INT32: MR_COL_I32(col)[r] = (int32_t)(r * 7) - 1000; break;
            case MR_T_DATE: MR_COL_I32(col)[r] = (int32_t)r - 500; break;
            case MR_T_INT64:
            case MR_T_DECIMAL:
            case MR_T_TIMESTAMP:
            case MR_T_TIMESTAMPTZ: MR_COL_I64(col)[r] = (int64_t)r * 1000003 - (INT64_C(1) << 40); break;
            case MR_T_FLOAT64: MR_COL_F64(col)[r] = (double)r / 3.0 - 1e9; break;
            case MR_T_STRING:
                if (null) {
                    mr_column_set_str_null(col, r);
                } else {
                    int len = snprintf(s, sizeof s, "%s-%zu", r % 3 ? "row" : "", r);
                    /* some empty strings: every 7th row */
                    assert_int_equal(mr_column_set_str(col, r, s, r % 7 == 3 ? 0 : (size_t)len), 0);
                }
                break;
            }
            if (col->type.id != MR_T_STRING)
                mr_column_set_valid(col, r, !null);
        }
    }
    b->nrows = n;
    return b;
}

/* Asserts that got holds exactly the live rows of want, in order. */
static void assert_same_rows(const mr_batch *want, const mr_batch *got)
{
    assert_int_equal(got->ncols, want->ncols);
    assert_null(got->sel);
    size_t n = mr_batch_live(want);
    assert_int_equal(got->nrows, n);
    for (int c = 0; c < want->ncols; c++) {
        const mr_column *a = &want->cols[c], *g = &got->cols[c];
        assert_true(mr_type_equal(a->type, g->type));
        size_t w = mr_type_width(a->type);
        for (size_t i = 0; i < n; i++) {
            uint32_t r = mr_batch_row(want, i);
            int va = mr_column_is_valid(a, r);
            assert_int_equal(mr_column_is_valid(g, i), va);
            if (a->type.id == MR_T_STRING) {
                size_t la, lg;
                const char *sa = mr_column_str(a, r, &la), *sg = mr_column_str(g, i, &lg);
                assert_int_equal(lg, va ? la : lg);
                if (va)
                    assert_memory_equal(sa, sg, la);
            } else if (va) {
                assert_memory_equal((const char *)a->data + r * w, (const char *)g->data + i * w, w);
            }
        }
    }
}

static const mr_batch_meta META = {"job-42", 3, 5, 7, 2, 99, 0};

/* Encodes b, decodes it into *dst, checks the header fields. */
static void roundtrip_into(const mr_batch *b, int level, mr_batch **dst)
{
    mr_frames f = {0};
    mr_err err;
    assert_int_equal(mr_wire_encode(b, &META, level, &f, &err), 0);
    size_t want_frames = 1;
    for (int c = 0; c < b->ncols; c++)
        want_frames += b->cols[c].type.id == MR_T_STRING ? 3 : 2;
    assert_int_equal(f.n, want_frames);
    Millrace__BatchHeader *h = NULL;
    int rc = mr_wire_decode_header(f.items[0].data, f.items[0].len, &h, &err);
    if (rc)
        fail_msg("%s", err.msg);
    assert_string_equal(h->job_id, "job-42");
    assert_int_equal(h->stage_id, 3);
    assert_int_equal(h->partition, 5);
    assert_int_equal(h->map_task, 7);
    assert_int_equal(h->attempt, 2);
    assert_int_equal(h->seq, 99);
    assert_false(h->eos);
    assert_int_equal(h->nrows, mr_batch_live(b));
    assert_int_equal(h->codec, level ? MILLRACE__CODEC__CODEC_ZSTD : MILLRACE__CODEC__CODEC_NONE);
    rc = mr_wire_decode_batch(h, f.items + 1, f.n - 1, dst, &err);
    if (rc)
        fail_msg("%s", err.msg);
    assert_same_rows(b, *dst);
    millrace__batch_header__free_unpacked(h, NULL);
    mr_frames_free(&f);
    assert_null(f.items);
    assert_int_equal(f.n, 0);
}

static void roundtrip(const mr_batch *b, int level)
{
    mr_batch *got = NULL;
    roundtrip_into(b, level, &got);
    mr_batch_destroy(got);
}

static void test_roundtrip_all_types(void **state)
{
    (void)state;
    mr_batch *b = make_batch(1000);
    roundtrip(b, 0);
    roundtrip(b, 1);
    roundtrip(b, 3);
    roundtrip(b, -5);  /* zstd fast mode */
    roundtrip(b, 999); /* clamped to the max level */
    mr_batch_destroy(b);
    b = make_batch(13); /* a partial last validity byte */
    roundtrip(b, 0);
    roundtrip(b, 3);
    mr_batch_destroy(b);
}

static void test_roundtrip_selection(void **state)
{
    (void)state;
    mr_batch *b = make_batch(777);
    size_t k = 0;
    for (uint32_t r = 0; r < 777; r++)
        if (r % 3 == 1 || r == 776)
            b->sel_buf[k++] = r;
    b->sel = b->sel_buf;
    b->nsel = k;
    roundtrip(b, 0);
    roundtrip(b, 3);
    /* a selection of nothing */
    b->nsel = 0;
    roundtrip(b, 0);
    roundtrip(b, 3);
    mr_batch_destroy(b);
}

static void test_roundtrip_empty(void **state)
{
    (void)state;
    mr_batch *b = make_batch(0);
    roundtrip(b, 0);
    roundtrip(b, 3);
    mr_batch_destroy(b);
    /* strings that are all NULL or empty: the chars buffer was never
     * allocated; with and without a selection */
    mr_type t = mr_type_make(MR_T_STRING);
    b = mr_batch_create_types(&t, 1, 8);
    for (size_t r = 0; r < 6; r++) {
        if (r % 2)
            mr_column_set_str_null(&b->cols[0], r);
        else
            b->cols[0].offsets[r + 1] = b->cols[0].offsets[r], mr_column_set_valid(&b->cols[0], r, true);
    }
    b->nrows = 6;
    assert_null(b->cols[0].chars);
    roundtrip(b, 0);
    roundtrip(b, 3);
    b->sel_buf[0] = 1;
    b->sel_buf[1] = 4;
    b->sel = b->sel_buf;
    b->nsel = 2;
    roundtrip(b, 0);
    roundtrip(b, 3);
    mr_batch_destroy(b);
}

static void test_decode_reuses_batch(void **state)
{
    (void)state;
    mr_batch *b = make_batch(100), *big = make_batch(6000);
    mr_batch *dst = NULL;
    roundtrip_into(b, 3, &dst);
    mr_batch *first = dst;
    roundtrip_into(big, 3, &dst); /* same types: reused and grown */
    assert_ptr_equal(dst, first);
    roundtrip_into(b, 0, &dst);
    assert_ptr_equal(dst, first);
    /* different types: replaced */
    mr_type t[2] = {mr_type_make(MR_T_INT64), mr_type_make(MR_T_STRING)};
    mr_batch *other = mr_batch_create_types(t, 2, 4);
    for (size_t r = 0; r < 3; r++) {
        MR_COL_I64(&other->cols[0])[r] = (int64_t)r;
        mr_column_set_valid(&other->cols[0], r, true);
        assert_int_equal(mr_column_set_str(&other->cols[1], r, "ab", r), 0);
    }
    other->nrows = 3;
    roundtrip_into(other, 3, &dst);
    assert_int_equal(dst->ncols, 2);
    mr_batch_destroy(dst);
    mr_batch_destroy(other);
    mr_batch_destroy(b);
    mr_batch_destroy(big);
}

static void test_eos_marker(void **state)
{
    (void)state;
    mr_frames f = {0};
    mr_err err;
    mr_batch_meta m = META;
    m.eos = 1;
    assert_int_equal(mr_wire_encode(NULL, &m, 3, &f, &err), 0);
    assert_int_equal(f.n, 1);
    Millrace__BatchHeader *h = NULL;
    assert_int_equal(mr_wire_decode_header(f.items[0].data, f.items[0].len, &h, &err), 0);
    assert_true(h->eos);
    assert_int_equal(h->nrows, 0);
    assert_int_equal(h->n_columns, 0);
    /* into an existing batch: just reset */
    mr_batch *b = make_batch(10), *keep = b;
    assert_int_equal(mr_wire_decode_batch(h, NULL, 0, &b, &err), 0);
    assert_ptr_equal(b, keep);
    assert_int_equal(b->nrows, 0);
    assert_int_equal(b->ncols, NTYPES);
    mr_batch_destroy(b);
    /* into nothing: an empty batch */
    mr_batch *e = NULL;
    assert_int_equal(mr_wire_decode_batch(h, NULL, 0, &e, &err), 0);
    assert_non_null(e);
    assert_int_equal(mr_batch_live(e), 0);
    mr_batch_destroy(e);
    millrace__batch_header__free_unpacked(h, NULL);

    /* a batch that also ends the stream carries eos and its rows */
    mr_batch *rows = make_batch(5);
    mr_frames_free(&f);
    assert_int_equal(mr_wire_encode(rows, &m, 0, &f, &err), 0);
    assert_int_equal(mr_wire_decode_header(f.items[0].data, f.items[0].len, &h, &err), 0);
    assert_true(h->eos);
    assert_int_equal(h->nrows, 5);
    millrace__batch_header__free_unpacked(h, NULL);
    mr_frames_free(&f);
    mr_batch_destroy(rows);

    /* no batch and no eos is a caller bug, reported as EINVAL */
    assert_int_equal(mr_wire_encode(NULL, &META, 0, &f, &err), MR_EINVAL);
    assert_int_equal(f.n, 0);
}

static void test_appends_frames(void **state)
{
    (void)state;
    mr_batch *b = make_batch(4);
    mr_frames f = {0};
    mr_err err;
    assert_int_equal(mr_wire_encode(b, &META, 0, &f, &err), 0);
    size_t n1 = f.n;
    assert_int_equal(mr_wire_encode(b, &META, 3, &f, &err), 0);
    assert_int_equal(f.n, 2 * n1);
    /* the second message decodes from where it starts */
    Millrace__BatchHeader *h = NULL;
    assert_int_equal(mr_wire_decode_header(f.items[n1].data, f.items[n1].len, &h, &err), 0);
    mr_batch *got = NULL;
    assert_int_equal(mr_wire_decode_batch(h, f.items + n1 + 1, n1 - 1, &got, &err), 0);
    assert_same_rows(b, got);
    millrace__batch_header__free_unpacked(h, NULL);
    mr_batch_destroy(got);
    mr_batch_destroy(b);
    mr_frames_free(&f);
    mr_frames_free(NULL);
}

/* ---- hostile input ---------------------------------------------------------- */

typedef struct msg {
    mr_frames f;
    Millrace__BatchHeader *h;
} msg;

static void msg_make(msg *m, size_t rows, int level)
{
    memset(m, 0, sizeof *m);
    mr_batch *b = make_batch(rows);
    mr_err err;
    assert_int_equal(mr_wire_encode(b, &META, level, &m->f, &err), 0);
    assert_int_equal(mr_wire_decode_header(m->f.items[0].data, m->f.items[0].len, &m->h, &err), 0);
    mr_batch_destroy(b);
}

static void msg_free(msg *m)
{
    millrace__batch_header__free_unpacked(m->h, NULL);
    mr_frames_free(&m->f);
}

/* Decodes m's frames against h and expects MR_EPROTO mentioning what. */
static void expect_proto(const Millrace__BatchHeader *h, const mr_frame *frames, size_t n,
                         const char *what)
{
    mr_err err;
    mr_batch *b = make_batch(3); /* a reused batch must survive errors */
    int rc = mr_wire_decode_batch(h, frames, n, &b, &err);
    if (rc != MR_EPROTO)
        fail_msg("expected MR_EPROTO, got %d (%s)", rc, rc ? err.msg : "success");
    if (what && !strstr(err.msg, what))
        fail_msg("message '%s' does not mention '%s'", err.msg, what);
    assert_non_null(b);
    assert_int_equal(b->nrows, 0);
    mr_batch_destroy(b);
}

/* Re-packs a modified header and expects decode_header to refuse it. */
static void expect_header_refused(const Millrace__BatchHeader *h, const char *what)
{
    size_t len = millrace__batch_header__get_packed_size(h);
    uint8_t *buf = malloc(len + 1);
    millrace__batch_header__pack(h, buf);
    Millrace__BatchHeader *out = (Millrace__BatchHeader *)1;
    mr_err err;
    int rc = mr_wire_decode_header(buf, len, &out, &err);
    free(buf);
    if (rc != MR_EPROTO)
        fail_msg("expected MR_EPROTO for %s, got %d", what, rc);
    assert_null(out);
    if (!strstr(err.msg, what))
        fail_msg("message '%s' does not mention '%s'", err.msg, what);
}

static void test_garbage_header(void **state)
{
    (void)state;
    Millrace__BatchHeader *h = NULL;
    mr_err err;
    const char junk[] = "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01 not a protobuf";
    assert_int_equal(mr_wire_decode_header(junk, sizeof junk, &h, &err), MR_EPROTO);
    assert_null(h);
    assert_non_null(strstr(err.msg, "not a valid BatchHeader"));
    /* truncated real header */
    msg m;
    msg_make(&m, 50, 3);
    for (size_t cut = 1; cut < m.f.items[0].len; cut++) {
        int rc = mr_wire_decode_header(m.f.items[0].data, cut, &h, &err);
        assert_true(rc == MR_EPROTO || rc == 0);
        if (rc == 0) { /* a prefix that happens to parse must still validate */
            mr_batch *b = NULL;
            rc = mr_wire_decode_batch(h, m.f.items + 1, m.f.n - 1, &b, &err);
            assert_true(rc == 0 || rc == MR_EPROTO);
            mr_batch_destroy(b);
            millrace__batch_header__free_unpacked(h, NULL);
        }
    }
    msg_free(&m);
}

static void test_bad_header_fields(void **state)
{
    (void)state;
    msg m;
    msg_make(&m, 20, 0);
    Millrace__BatchHeader *h = m.h;

    h->nrows = MR_WIRE_MAX_ROWS + 1;
    expect_header_refused(h, "rows");
    h->nrows = 21; /* sizes no longer match nrows */
    expect_header_refused(h, "raw size");
    h->nrows = 20;

    h->codec = 7;
    expect_header_refused(h, "codec");
    h->codec = MILLRACE__CODEC__CODEC_NONE;

    Millrace__Type *t = h->columns[4]->type; /* decimal(12,3) */
    t->precision = 19;
    expect_header_refused(h, "type");
    t->precision = 2;
    t->scale = 3;
    expect_header_refused(h, "type");
    t->precision = 12;
    t->id = 42;
    expect_header_refused(h, "type");
    t->id = MILLRACE__TYPE_ID__TYPE_NULL;
    expect_header_refused(h, "type");
    t->id = MILLRACE__TYPE_ID__TYPE_STRING; /* 2 buffers for a string */
    expect_header_refused(h, "buffers");
    t->id = MILLRACE__TYPE_ID__TYPE_DECIMAL;

    Millrace__BufferHeader *bh = h->columns[1]->buffers[1]; /* int32 data */
    bh->raw_size = 79;
    bh->wire_size = 79;
    expect_header_refused(h, "raw size");
    bh->raw_size = 80;
    expect_header_refused(h, "wire size"); /* raw codec: wire must equal raw */
    bh->wire_size = 80;

    Millrace__BufferHeader *chars = h->columns[5]->buffers[2];
    uint64_t keep = chars->raw_size;
    chars->raw_size = chars->wire_size = MR_WIRE_MAX_BYTES + 1;
    expect_header_refused(h, "raw size");
    chars->raw_size = chars->wire_size = keep;

    size_t nbuf = h->columns[0]->n_buffers;
    h->columns[0]->n_buffers = 1;
    expect_header_refused(h, "buffers");
    h->columns[0]->n_buffers = nbuf;

    /* the header as a whole is fine again */
    expect_proto(h, m.f.items + 1, m.f.n - 2, "frames");
    mr_batch *b = NULL;
    mr_err err;
    assert_int_equal(mr_wire_decode_batch(h, m.f.items + 1, m.f.n - 1, &b, &err), 0);
    mr_batch_destroy(b);
    msg_free(&m);
}

static void test_bad_frames(void **state)
{
    (void)state;
    for (int level = 0; level <= 3; level += 3) {
        msg m;
        msg_make(&m, 40, level);
        mr_frame *fr = m.f.items + 1;
        size_t nf = m.f.n - 1;
        /* wrong frame counts */
        expect_proto(m.h, fr, nf - 1, "frames");
        expect_proto(m.h, fr, 0, "frames");
        /* a truncated frame (int64 data of column 2 is frame 5) */
        fr[5].len--;
        expect_proto(m.h, fr, nf, "frame is");
        fr[5].len++;
        /* an empty frame where data belongs */
        size_t keep = fr[5].len;
        fr[5].len = 0;
        expect_proto(m.h, fr, nf, "frame is");
        fr[5].len = keep;
        msg_free(&m);
    }
}

/* Replaces frame k with raw bytes (raw codec) and fixes up the header. */
static void set_frame(msg *m, size_t k, const void *data, size_t len)
{
    mr_frame *f = &m->f.items[1 + k];
    free(f->data);
    f->data = malloc(len ? len : 1);
    memcpy(f->data, data, len);
    f->len = len;
}

static void test_bad_offsets(void **state)
{
    (void)state;
    /* string column is column 5: frames 10 (validity), 11 (offsets), 12 (chars) */
    const size_t OFF = 11, CH = 12;
    msg m;
    msg_make(&m, 4, 0);
    uint32_t off[5];
    memcpy(off, m.f.items[1 + OFF].data, sizeof off);
    uint32_t nchars = off[4];
    assert_int_equal(m.h->columns[5]->buffers[2]->raw_size, nchars);

    uint32_t bad[5];
    memcpy(bad, off, sizeof bad);
    bad[0] = 1;
    set_frame(&m, OFF, bad, sizeof bad);
    expect_proto(m.h, m.f.items + 1, m.f.n - 1, "first offset");

    memcpy(bad, off, sizeof bad);
    bad[2] = bad[3] + 1; /* goes down after */
    set_frame(&m, OFF, bad, sizeof bad);
    expect_proto(m.h, m.f.items + 1, m.f.n - 1, "ascending");

    memcpy(bad, off, sizeof bad);
    bad[4] = nchars + 1000; /* past the chars */
    bad[3] = bad[4];
    set_frame(&m, OFF, bad, sizeof bad);
    expect_proto(m.h, m.f.items + 1, m.f.n - 1, "end at");

    memcpy(bad, off, sizeof bad);
    bad[1] = 0xffffffffu; /* huge then back */
    set_frame(&m, OFF, bad, sizeof bad);
    expect_proto(m.h, m.f.items + 1, m.f.n - 1, "ascending");

    /* good offsets again, but chars shorter than the header says */
    set_frame(&m, OFF, off, sizeof off);
    set_frame(&m, CH, "ab", 2);
    expect_proto(m.h, m.f.items + 1, m.f.n - 1, "frame is");
    msg_free(&m);
}

static void test_zstd_size_mismatch(void **state)
{
    (void)state;
    msg m;
    msg_make(&m, 64, 3);
    /* column 1 (int32) data: 256 raw bytes.  Send a valid zstd frame of 255
     * bytes, then one of 257, with wire_size fixed to match. */
    Millrace__BufferHeader *bh = m.h->columns[1]->buffers[1];
    assert_int_equal(bh->raw_size, 256);
    char src[300] = {0};
    char dst[600];
    for (int len = 255; len <= 257; len += 2) {
        size_t w = ZSTD_compress(dst, sizeof dst, src, (size_t)len, 1);
        assert_false(ZSTD_isError(w));
        set_frame(&m, 3, dst, w);
        bh->wire_size = w;
        expect_proto(m.h, m.f.items + 1, m.f.n - 1, "column 1 data");
    }
    /* not a zstd frame at all */
    set_frame(&m, 3, "this is not zstd", 16);
    bh->wire_size = 16;
    expect_proto(m.h, m.f.items + 1, m.f.n - 1, "zstd");
    msg_free(&m);
}

/* Seeded random corruption: flips bytes of the header and of frames and cuts
 * frames short.  Every outcome must be 0 or MR_EPROTO. */
static void test_random_mutations(void **state)
{
    (void)state;
    uint64_t seed = 0x9e3779b97f4a7c15u;
    for (int level = 0; level <= 3; level += 3) {
        msg m;
        msg_make(&m, 300, level);
        size_t nf = m.f.n;
        for (int iter = 0; iter < 3000; iter++) {
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            size_t k = (size_t)(seed >> 33) % nf;
            mr_frame *f = &m.f.items[k];
            if (!f->len)
                continue;
            uint8_t *p = f->data;
            size_t pos = (size_t)(seed >> 13) % f->len;
            uint8_t old = p[pos];
            size_t oldlen = f->len;
            if (iter % 4 == 3)
                f->len = pos; /* truncate */
            else
                p[pos] ^= (uint8_t)(1u << ((seed >> 7) & 7)) | (uint8_t)(iter % 3 == 0 ? 0x80 : 0);
            mr_err err;
            Millrace__BatchHeader *h = NULL;
            int rc = mr_wire_decode_header(m.f.items[0].data, m.f.items[0].len, &h, &err);
            assert_true(rc == 0 || rc == MR_EPROTO);
            if (rc == 0) {
                mr_batch *b = NULL;
                rc = mr_wire_decode_batch(h, m.f.items + 1, nf - 1, &b, &err);
                assert_true(rc == 0 || rc == MR_EPROTO);
                if (rc == 0) { /* whatever decoded must be internally consistent */
                    for (int c = 0; c < b->ncols; c++)
                        if (b->cols[c].type.id == MR_T_STRING)
                            assert_true(b->cols[c].offsets[b->nrows] <= b->cols[c].chars_cap);
                }
                mr_batch_destroy(b);
                millrace__batch_header__free_unpacked(h, NULL);
            }
            p[pos] = old;
            f->len = oldlen;
        }
        msg_free(&m);
    }
}

static int teardown(void **state)
{
    (void)state;
    mr_wire_thread_release();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_roundtrip_all_types, teardown),
        cmocka_unit_test_teardown(test_roundtrip_selection, teardown),
        cmocka_unit_test_teardown(test_roundtrip_empty, teardown),
        cmocka_unit_test_teardown(test_decode_reuses_batch, teardown),
        cmocka_unit_test_teardown(test_eos_marker, teardown),
        cmocka_unit_test_teardown(test_appends_frames, teardown),
        cmocka_unit_test_teardown(test_garbage_header, teardown),
        cmocka_unit_test_teardown(test_bad_header_fields, teardown),
        cmocka_unit_test_teardown(test_bad_frames, teardown),
        cmocka_unit_test_teardown(test_bad_offsets, teardown),
        cmocka_unit_test_teardown(test_zstd_size_mismatch, teardown),
        cmocka_unit_test_teardown(test_random_mutations, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
