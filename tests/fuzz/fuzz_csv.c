/* fuzz_csv.c - libFuzzer target for the CSV reader, schema inference and the
 * CSV scan operator.
 *
 * Not built by CMake: scripts/fuzz.sh builds and runs it (FUZZ_SECONDS per
 * target).  By hand, from the repository root, after any build has generated
 * build/gen/proto:
 */
// fuzz-sources: core core/op core/formats
// clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I. -Ibuild/gen \
//   tests/fuzz/fuzz_csv.c core/[a-z]*.c core/op/[a-z]*.c -lm -lpthread -o fuzz_csv
// ./fuzz_csv -max_total_time=60 -max_len=4096 tests/fuzz/corpus/fuzz_csv
/*
 * Input layout: the first 4 bytes pick the options (delimiter, quote,
 * header, on_error, max_errors, a small read buffer so that records cross
 * buffer refills, a record size bound, and where to cut the file in two
 * splits); the rest is the file, written to a memfd and read through
 * /proc/self/fd/N so no disk is touched.
 *
 * Beyond "never crash, never leak" (the sanitizers), it checks what csv.h
 * promises:
 *   - reading the file as two splits cut anywhere returns exactly the
 *     records of reading it whole (same start offsets, same raw text) and
 *     the two splits' byte counts add up to the file size, when no quoted
 *     field can hold a newline (quoting off, or no quote byte in the data:
 *     the known limit in csv.h);
 *   - every record's fields and raw text lie inside sane bounds;
 *   - the scan operator's batches are well formed (string offsets start at
 *     0 and never decrease, bools are 0/1, at most MR_BATCH_ROWS rows), a
 *     failure is MR_EPARSE or MR_ETOOBIG with a message, and with on_error
 *     reject every bad row is kept with a reason and its raw text.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/csv.h"
#include "core/op.h"
#include "core/op/scan_csv.h"

#define MAX_RECS 4096

static int g_fd = -1;
static char g_path[64];

static void die(const char *what)
{
    fprintf(stderr, "fuzz_csv: %s\n", what);
    abort();
}

typedef struct rec_list {
    uint64_t off[MAX_RECS];
    uint64_t hash[MAX_RECS]; /* of the raw text and the field count */
    size_t n;
    int overflow;
    uint64_t bytes;
} rec_list;

static uint64_t fnv(const void *p, size_t n, uint64_t h)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ULL;
    return h;
}

/* Reads one split into out; returns 0, or the reader's error code. */
static int read_split(uint64_t off, uint64_t len, const mr_csv_options *o, size_t size,
                      rec_list *out)
{
    mr_csv_reader *r = NULL;
    mr_err err = {0};
    int rc = mr_csv_reader_open(g_path, off, len, o, &r, &err);
    if (rc < 0) {
        if (rc != MR_EINVAL || !err.msg[0])
            die("open failed unexpectedly");
        return rc;
    }
    mr_csv_record rec;
    while ((rc = mr_csv_reader_next(r, &rec, &err)) == 1) {
        if (rec.offset >= size || rec.raw_len > size || rec.nfields < 1)
            die("record out of bounds");
        if (rec.offset < off || (off + len > off && rec.offset >= off + len))
            die("record starts outside its split");
        for (int i = 0; i < rec.nfields; i++)
            if (rec.fields[i].len > size || (rec.fields[i].len && !rec.fields[i].p))
                die("field out of bounds");
        char where[256];
        mr_csv_reader_where(r, where, sizeof where);
        if (out->n < MAX_RECS) {
            out->off[out->n] = rec.offset;
            out->hash[out->n] = fnv(rec.raw, rec.raw_len, (uint64_t)rec.nfields);
            out->n++;
        } else {
            out->overflow = 1;
        }
    }
    if (rc < 0 && (rc != MR_ETOOBIG || !err.msg[0]))
        die("reader failed with an unexpected code");
    out->bytes = mr_csv_reader_bytes(r);
    mr_csv_reader_close(r);
    return rc;
}

static void check_splits(const mr_csv_options *o, size_t size, size_t cut)
{
    static rec_list whole, a, b;
    memset(&whole, 0, sizeof whole);
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    int rw = read_split(0, UINT64_MAX, o, size, &whole);
    int ra = read_split(0, cut, o, size, &a);
    int rb = read_split(cut, UINT64_MAX, o, size, &b);
    if (rw < 0 || ra < 0 || rb < 0 || whole.overflow || a.overflow || b.overflow)
        return;
    if (whole.bytes != size)
        die("whole-file split did not consume the file");
    if (a.bytes + b.bytes != size)
        die("split byte counts do not add up to the file size");
    if (a.n + b.n != whole.n)
        die("splits returned a different number of records");
    for (size_t i = 0; i < whole.n; i++) {
        const rec_list *s = i < a.n ? &a : &b;
        size_t j = i < a.n ? i : i - a.n;
        if (s->off[j] != whole.off[i] || s->hash[j] != whole.hash[i])
            die("splits returned different records");
    }
}

static void check_batch(const mr_batch *b)
{
    if (b->nrows > MR_BATCH_ROWS || mr_batch_live(b) > b->nrows)
        die("batch too large");
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
                if (mr_column_is_valid(col, r) && MR_COL_U8(col)[r] > 1)
                    die("bool not 0/1");
        }
    }
}

static void scan(const mr_schema *schema, const mr_csv_options *o, uint64_t off, uint64_t len)
{
    mr_err err = {0};
    mr_op *op = mr_scan_csv_create(g_path, off, len, schema, o, "fuzz", &err);
    if (!op) {
        if (!err.msg[0])
            die("scan create failed without a message");
        return;
    }
    int rc = mr_op_open(op, NULL, &err);
    if (rc < 0) { /* the file and its header are read by open: as a failed create */
        if (!err.msg[0])
            die("scan open failed without a message");
        mr_op_close(op);
        return;
    }
    mr_batch *b;
    while (rc == 0 && (rc = mr_op_next(op, &b, &err)) == MR_NEXT_BATCH) {
        check_batch(b);
        rc = 0;
    }
    if (rc < 0) {
        if (!err.msg[0])
            die("scan failed without a message");
        if (o->on_error == MR_CSV_FAIL && o->max_errors < 0 && rc != MR_EPARSE && rc != MR_ETOOBIG)
            die("scan failed with an unexpected code");
    }
    const mr_reject *rej;
    size_t nrej;
    if (mr_scan_csv_rejects(op, &rej, &nrej) != 0)
        die("rejects refused on a CSV scan");
    if (o->on_error == MR_CSV_REJECT) {
        if (nrej != mr_scan_csv_bad_rows(op))
            die("rejected rows not all kept");
        for (size_t i = 0; i < nrej; i++)
            if (!rej[i].reason || !rej[i].reason[0] || !rej[i].raw ||
                strlen(rej[i].raw) > MR_REJECT_RAW_MAX)
                die("bad reject entry");
    } else if (nrej != 0) {
        die("rejects kept without on_error reject");
    }
    mr_op_close(op);
}

static mr_schema *fixed_schema(void)
{
    static mr_schema *s;
    if (!s) {
        s = mr_schema_create(5);
        mr_schema_set(s, 0, "i", mr_type_make(MR_T_INT32));
        mr_schema_set(s, 1, "s", mr_type_make(MR_T_STRING));
        mr_schema_set(s, 2, "d", mr_type_decimal(8, 2));
        mr_schema_set(s, 3, "t", mr_type_make(MR_T_TIMESTAMP));
        mr_schema_set(s, 4, "b", mr_type_make(MR_T_BOOL));
    }
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    if (g_fd < 0) {
        g_fd = memfd_create("fuzz_csv", MFD_CLOEXEC);
        if (g_fd < 0)
            die("memfd_create failed");
        snprintf(g_path, sizeof g_path, "/proc/self/fd/%d", g_fd);
    }
    static const char delims[4] = {',', ';', '\t', '|'};
    static const char quotes[4] = {'"', '\'', '\0', '"'};
    static const int64_t max_errs[4] = {-1, 0, 2, -1};
    mr_csv_options o;
    mr_csv_options_init(&o);
    o.delimiter = delims[data[0] & 3];
    o.quote = quotes[(data[0] >> 2) & 3];
    o.header = (data[0] >> 4) & 1;
    o.null_string = (data[0] >> 5) & 1 ? "NA" : NULL;
    o.on_error = (data[1] & 3) % 3;
    o.max_errors = max_errs[(data[1] >> 2) & 3];
    o.buffer_size = 64 + (size_t)(data[1] >> 4) * 16;
    o.max_record = data[2] & 1 ? 200 : 0;
    const uint8_t *body = data + 4;
    size_t n = size - 4;
    size_t cut = n > 1 ? 1 + (size_t)data[3] * (n - 1) / 256 : 1;

    if (ftruncate(g_fd, 0) != 0 || (n && pwrite(g_fd, body, n, 0) != (ssize_t)n))
        die("cannot write the memfd");

    if ((o.quote == '\0' || !memchr(body, o.quote, n)) && n > 1)
        check_splits(&o, n, cut);

    /* the scan, whole and as the second half of a split */
    scan(fixed_schema(), &o, 0, UINT64_MAX);
    if (n > 1)
        scan(fixed_schema(), &o, cut, UINT64_MAX);

    /* inference, and a scan with what it inferred */
    mr_schema *inf = NULL;
    mr_err err = {0};
    if (mr_csv_infer_schema(g_path, &o, 50, &inf, &err) == 0) {
        if (!inf || inf->nfields < 1)
            die("inference returned no columns");
        scan(inf, &o, 0, UINT64_MAX);
        mr_schema_destroy(inf);
    } else if (inf || !err.msg[0]) {
        die("inference failed without a message");
    }
    return 0;
}
