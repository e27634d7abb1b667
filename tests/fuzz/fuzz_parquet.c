/* fuzz_parquet.c - libFuzzer target for the Parquet reader: the footer's
 * Thrift decoder, the page headers, the codecs, levels and value encodings,
 * and the format driven by the scan operator.
 *
 * Not built by CMake: scripts/fuzz.sh builds and runs it.
 */
// fuzz-sources: core core/op core/formats
/*
 * Input layout: the first byte picks a mode.
 *   0..127   the rest is a whole file: its schema is inferred (the footer)
 *            and, when that works, it is scanned whole and as two splits
 *            cut at a point taken from the second byte; the two splits must
 *            return the same number of rows as the whole (row groups belong
 *            to one split), unless a read fails.
 *   128..191 the rest goes straight to the footer decoder and the page
 *            header decoder.
 *   192..255 value decoding: byte 1 picks the physical type, byte 2 the
 *            encoding, byte 3 the count; the rest is the page body (a
 *            small dictionary of PLAIN values is decoded from it first).
 * Beyond the sanitizers it checks that batches are well formed and that a
 * failure comes with a message.  Seeds: tests/fuzz/corpus/fuzz_parquet/
 * (small pyarrow files, uncompressed and snappy, v1 and v2 pages). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/formats/format.h"
#include "core/formats/parquet_int.h"
#include "core/op.h"
#include "core/op/scan.h"

static void die(const char *what)
{
    fprintf(stderr, "fuzz_parquet: %s\n", what);
    abort();
}

/* Scans [off, off+len) of path; returns rows or -1 on a failed read. */
static long scan_rows(const char *path, uint64_t off, uint64_t len, const mr_schema *s)
{
    mr_err err;
    mr_err_clear(&err);
    mr_csv_options o;
    mr_csv_options_init(&o);
    o.on_error = MR_CSV_SKIP;
    mr_op *op = mr_scan_create(&mr_format_parquet, path, off, len, s, &o, "r", &err);
    if (!op) {
        if (!err.msg[0])
            die("open failed without a message");
        return -1;
    }
    long rows = 0;
    int rc = mr_op_open(op, NULL, &err);
    mr_batch *b;
    while (rc == 0 && (rc = mr_op_next(op, &b, &err)) == MR_NEXT_BATCH) {
        if (b->nrows == 0 || b->nrows > MR_BATCH_ROWS)
            die("bad batch size");
        for (int c = 0; c < b->ncols; c++) {
            const mr_column *col = &b->cols[c];
            if (col->type.id == MR_T_STRING) {
                if (col->offsets[0] != 0)
                    die("string offsets do not start at 0");
                for (size_t r = 0; r < b->nrows; r++)
                    if (col->offsets[r + 1] < col->offsets[r])
                        die("string offsets decrease");
            } else if (col->type.id == MR_T_BOOL) {
                for (size_t r = 0; r < b->nrows; r++)
                    if (MR_COL_U8(col)[r] > 1)
                        die("a bool is not 0 or 1");
            }
        }
        rows += (long)b->nrows;
    }
    if (rc < 0 && !err.msg[0])
        die("a failed read without a message");
    mr_op_close(op);
    return rc < 0 ? -1 : rows;
}

static void whole_file(const uint8_t *data, size_t size, uint8_t cut_byte)
{
    int fd = memfd_create("fuzz_parquet", 0);
    if (fd < 0)
        return;
    if (size && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    mr_schema *s = NULL;
    mr_err err;
    mr_err_clear(&err);
    if (mr_format_parquet.infer(path, NULL, 0, &s, &err) == 0) {
        long whole = scan_rows(path, 0, UINT64_MAX, s);
        uint64_t cut = size * cut_byte / 256;
        long a = scan_rows(path, 0, cut, s);
        long b = scan_rows(path, cut, UINT64_MAX, s);
        if (whole >= 0 && a >= 0 && b >= 0 && a + b != whole)
            die("two splits do not return the rows of the whole file");
        mr_schema_destroy(s);
    } else if (!err.msg[0]) {
        die("inference failed without a message");
    }
    close(fd);
}

static void decoders(const uint8_t *data, size_t size)
{
    char why[300];
    pq_file_meta m;
    if (pq_meta_parse(data, size, &m, why, sizeof why) == 0)
        pq_meta_free(&m);
    pq_page_header h;
    size_t used;
    if (pq_page_header_parse(data, size, &h, &used, why, sizeof why) == 0 && used > size)
        die("page header longer than its input");
    uint32_t lev[64];
    (void)pq_rle_decode(data, size, size ? data[0] % 33 : 1, 64, lev, why, sizeof why);
}

static void values(const uint8_t *data, size_t size)
{
    if (size < 4)
        return;
    int ptype = data[1] % 8;
    int enc = data[2] % 10;
    uint32_t count = data[3];
    int32_t tlen = ptype == PQ_FLBA ? 1 + data[3] % 16 : ptype == PQ_INT96 ? 12 : 0;
    data += 4;
    size -= 4;
    pq_val dict[8], out[256];
    pq_buf scratch = {0}, dscratch = {0};
    char why[300];
    uint32_t nd = 0;
    size_t dn = size < 64 ? size : 64;
    if (ptype != PQ_BOOLEAN &&
        pq_decode_values(ptype, tlen, PQ_ENC_PLAIN, data, dn, 4, dict, &dscratch, NULL, 0, why,
                         sizeof why) == 0)
        nd = 4;
    (void)pq_decode_values(ptype, tlen, enc, data, size, count, out, &scratch, nd ? dict : NULL,
                           nd, why, sizeof why);
    free(scratch.p);
    free(dscratch.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    if (data[0] < 128)
        whole_file(data + 2, size - 2, data[1]);
    else if (data[0] < 192)
        decoders(data + 1, size - 1);
    else
        values(data, size);
    return 0;
}
