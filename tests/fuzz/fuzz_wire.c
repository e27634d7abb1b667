/* fuzz_wire.c - libFuzzer target for the batch wire decoder.
 *
 * Not built by CMake: scripts/fuzz.sh builds and runs it (FUZZ_SECONDS per
 * target).  By hand, from the repository root, after any build has generated
 * build/gen/proto:
 */
// fuzz-sources: core core/op core/formats net/wire.c proto
// clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I. -Ibuild/gen \
//   tests/fuzz/fuzz_wire.c net/wire.c core/[a-z]*.c build/gen/proto/millrace.pb-c.c \
//   -lprotobuf-c -lzstd -lm -lpthread -o fuzz_wire
// ./fuzz_wire -max_total_time=60 tests/fuzz/corpus/fuzz_wire
/*
 * Input layout: a message as frames, each written as a 3-byte little-endian
 * length followed by that many bytes; a length running past the end takes
 * what is left.  Frame 0 goes to mr_wire_decode_header, the rest to
 * mr_wire_decode_batch, first into a fresh batch and then into a reused one
 * of fixed types (exercising the reuse and replace paths).
 *
 * The decoder's contract (wire.h) is checked, not just "no crash":
 *   - a failure is MR_EPROTO (or MR_ENOMEM) with a message, leaves no header
 *     behind and leaves a batch, if there was one, valid with 0 rows;
 *   - a success gives a batch with the header's row count and column types,
 *     well-formed string offsets and 0/1 bools; re-encoding it (raw and
 *     zstd) and decoding again gives back the same values.
 * The seed corpus holds real encoder output of every type, so the fuzzer
 * starts past the protobuf layer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire.h"

static void die(const char *what)
{
    fprintf(stderr, "fuzz_wire: %s\n", what);
    abort();
}

static void check_batch(const Millrace__BatchHeader *h, const mr_batch *b)
{
    if (b->nrows != h->nrows || b->sel)
        die("decoded batch does not match its header");
    /* a header without columns and rows (a marker) just resets the batch */
    if (h->n_columns == 0 && h->nrows == 0)
        return;
    if ((size_t)b->ncols != h->n_columns)
        die("decoded batch has other columns than its header");
    for (int c = 0; c < b->ncols; c++) {
        const mr_column *col = &b->cols[c];
        const Millrace__Type *t = h->columns[c]->type;
        if (col->type.id != (t ? (uint8_t)t->id : MR_T_NULL))
            die("column type differs from the header");
        if (col->type.id == MR_T_STRING) {
            if (col->offsets[0] != 0)
                die("offsets do not start at 0");
            for (size_t r = 0; r < b->nrows; r++)
                if (col->offsets[r + 1] < col->offsets[r])
                    die("offsets decrease");
        } else if (col->type.id == MR_T_BOOL) {
            for (size_t r = 0; r < b->nrows; r++)
                if (MR_COL_U8(col)[r] > 1)
                    die("bool not normalised to 0/1");
        }
    }
}

/* Whether row r of two columns of one type holds the same value. */
static int same_value(const mr_column *a, const mr_column *b, size_t r)
{
    int va = mr_column_is_valid(a, r), vb = mr_column_is_valid(b, r);
    if (va != vb)
        return 0;
    if (!va)
        return 1;
    if (a->type.id == MR_T_STRING) {
        size_t la, lb;
        const char *pa = mr_column_str(a, r, &la), *pb = mr_column_str(b, r, &lb);
        return la == lb && (la == 0 || memcmp(pa, pb, la) == 0);
    }
    size_t w = mr_type_width(a->type);
    return memcmp((const char *)a->data + r * w, (const char *)b->data + r * w, w) == 0;
}

/* Encodes b (at level), decodes the result and compares every value. */
static void round_trip(const mr_batch *b, int level)
{
    mr_frames f = {0};
    mr_err err = {0};
    mr_batch_meta meta = {.job_id = "fuzz", .stage_id = 1, .partition = 2};
    if (mr_wire_encode(b, &meta, level, &f, &err) != 0)
        die("cannot re-encode a decoded batch");
    Millrace__BatchHeader *h = NULL;
    mr_batch *back = NULL;
    if (mr_wire_decode_header(f.items[0].data, f.items[0].len, &h, &err) != 0 ||
        mr_wire_decode_batch(h, f.items + 1, f.n - 1, &back, &err) != 0)
        die("re-encoded batch does not decode");
    if (back->nrows != b->nrows || back->ncols != b->ncols)
        die("round trip changed the shape");
    for (int c = 0; c < b->ncols; c++) {
        if (!mr_type_equal(back->cols[c].type, b->cols[c].type))
            die("round trip changed a type");
        for (size_t r = 0; r < b->nrows; r++)
            if (!same_value(&b->cols[c], &back->cols[c], r))
                die("round trip changed a value");
    }
    mr_batch_destroy(back);
    millrace__batch_header__free_unpacked(h, NULL);
    mr_frames_free(&f);
}

static void decode_into(const Millrace__BatchHeader *h, const mr_frame *frames, size_t n,
                        mr_batch **b, int check)
{
    mr_err err = {0};
    int rc = mr_wire_decode_batch(h, frames, n, b, &err);
    if (rc == 0) {
        if (!*b && (h->n_columns || h->nrows))
            die("success without a batch");
        if (*b) {
            check_batch(h, *b);
            /* keep the round trip to small batches: it is the slow part */
            if (check && (*b)->nrows <= 4096)
                round_trip(*b, (*b)->nrows & 1 ? 1 : 0);
        }
    } else {
        if ((rc != MR_EPROTO && rc != MR_ENOMEM) || !err.msg[0])
            die("decode failed without MR_EPROTO and a message");
        if (*b && (*b)->nrows != 0)
            die("failed decode left rows behind");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mr_frame frames[64];
    size_t n = 0;
    while (size > 0 && n < 64) {
        size_t len = size >= 3 ? (size_t)data[0] | (size_t)data[1] << 8 | (size_t)data[2] << 16 : 0;
        size_t hdr = size >= 3 ? 3 : size;
        data += hdr;
        size -= hdr;
        if (len > size)
            len = size;
        frames[n].data = (void *)data;
        frames[n].len = len;
        n++;
        data += len;
        size -= len;
    }
    if (n == 0)
        return 0;

    mr_err err = {0};
    Millrace__BatchHeader *h = NULL;
    int rc = mr_wire_decode_header(frames[0].data, frames[0].len, &h, &err);
    if (rc != 0) {
        if (rc != MR_EPROTO || h || !err.msg[0])
            die("header failure without MR_EPROTO and a message");
        return 0;
    }
    if (!h)
        die("header success without a header");

    mr_batch *fresh = NULL;
    decode_into(h, frames + 1, n - 1, &fresh, 1);
    mr_batch_destroy(fresh);

    /* into a batch that may or may not have the header's types */
    static const mr_type reuse_types[2] = {{MR_T_INT64, 0, 0}, {MR_T_STRING, 0, 0}};
    mr_batch *reuse = mr_batch_create_types(reuse_types, 2, 16);
    if (!reuse)
        die("out of memory");
    reuse->nrows = 3;
    mr_column_set_str(&reuse->cols[1], 0, "abc", 3);
    mr_column_set_str(&reuse->cols[1], 1, "", 0);
    mr_column_set_str(&reuse->cols[1], 2, "de", 2);
    decode_into(h, frames + 1, n - 1, &reuse, 0);
    mr_batch_destroy(reuse);

    millrace__batch_header__free_unpacked(h, NULL);
    return 0;
}
