/* format.h - the file format interface: what a format gives the one scan
 * operator (core/op/scan.h) and the schema inference of a read.
 *
 * A format reads one split of a file: the records that START in the byte
 * range [offset, offset+length) (length UINT64_MAX: to the end), so the
 * splits of a file, taken together, return every record once (the split
 * rules, line resync and CSV quote parity are in core/csv.h and
 * core/jsonl.h).  Per record it writes one row, typed per the scan's
 * schema, straight into the scan's batch, or says why the record is bad;
 * the scan applies the read's on_error policy (core/badrows.h), counts and
 * batches.  Positions ("file.csv:12") and consumed bytes come from the
 * format, as the file's lines are its business.
 *
 * Adding a format: one file core/formats/format_NAME.c defining a const
 * mr_format (open/next/line/where/bytes/close/infer), its declaration
 * below, and a line in mr_format_find; see docs/architecture.md. */
#ifndef MR_FORMAT_H
#define MR_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "core/batch.h"
#include "core/csv.h"
#include "core/error.h"
#include "core/types.h"

/* Where a bad record is, for the reject it becomes. */
typedef struct mr_format_row {
    const char *raw; /* the record's text (without its line end) */
    size_t raw_len;
    uint64_t offset; /* its byte offset in the file */
} mr_format_row;

/* What next() returns besides 0 (no more records) and negative codes. */
enum { MR_FORMAT_ROW = 1, MR_FORMAT_BAD = 2 };

typedef struct mr_format {
    const char *name;  /* the DAG's read.format: "csv", "jsonl" */
    const char *title; /* for messages: "CSV", "JSON Lines" */
    /* Opens path's split for rows of schema (the format keeps what it
     * needs; schema outlives the source).  opt: the read's options (NULL
     * for defaults; formats use what applies to them).  0 and *src, or a
     * negative code with "cannot open 'x': reason". */
    int (*open)(const char *path, uint64_t offset, uint64_t length, const mr_schema *schema,
                const mr_csv_options *opt, void **src, mr_err *err);
    /* Reads the next record into row b->nrows of b (not counting it).
     * Returns MR_FORMAT_ROW, MR_FORMAT_BAD (why holds the reason and *row
     * the record, which the next call may overwrite), 0 at the end, or a
     * negative code with err set (MR_ENOMEM, MR_EIO, MR_ETOOBIG, ...). */
    int (*next)(void *src, mr_batch *b, mr_format_row *row, char *why, size_t cap, mr_err *err);
    /* Optional (NULL for record-at-a-time formats): writes up to max good
     * rows from row b->nrows on, column by column, without counting them.
     * Returns how many (the scan adds them to b->nrows), 0 when next()
     * must take the next record (a bad one, or the end), or a negative
     * code with err set. */
    int64_t (*next_rows)(void *src, mr_batch *b, size_t max, mr_err *err);
    /* 1-based line of the last record returned, or -1 when not cheaply
     * known. */
    int64_t (*line)(void *src);
    /* "path:LINE" or "path: record at byte N".  Returns buf. */
    const char *(*where)(void *src, char *buf, size_t cap);
    /* Bytes of the file the split consumed so far. */
    uint64_t (*bytes)(const void *src);
    void (*close)(void *src); /* NULL is a no-op */
    /* Infers a schema from a sample of path (core/formats/sample.h picks
     * the byte windows; the format parses them). */
    int (*infer)(const char *path, const mr_csv_options *opt, size_t sample_rows,
                 mr_schema **out, mr_err *err);
    /* Optional: parts of the split left unread because the pushed-down
     * condition (mr_csv_options.filter) cannot hold there (Parquet: row
     * groups, by their statistics). */
    uint64_t (*groups_skipped)(const void *src);
} mr_format;

extern const mr_format mr_format_csv;
extern const mr_format mr_format_jsonl;
extern const mr_format mr_format_parquet; /* core/formats/format_parquet.c */

/* The format a read names ("csv", "jsonl", "parquet"), or NULL. */
const mr_format *mr_format_find(const char *name);

#endif
