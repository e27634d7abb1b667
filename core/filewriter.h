/* filewriter.h - writes batches to a CSV or JSON Lines file (the `write`
 * node's file targets, one file per task partition).
 *
 * CSV (RFC 4180): fields separated by ',', records ended by "\n"; a field is
 * quoted with '"' (a quote doubled inside) when it holds a delimiter, a
 * quote, a CR or LF, or is the empty string
 * (so that the empty string reads back as '' and an unquoted empty field as
 * NULL, which is how core/csv.h reads them).  With header, the first line
 * names the columns (quoted the same way).
 *
 * JSON Lines: one object per row with every column as a key, in schema
 * order: NULL as null, bools as true/false, integers and decimals as JSON
 * numbers (decimals in their exact text, "12.50"), finite floats as numbers
 * in their shortest round-trip form, NaN and +-Infinity as the strings
 * "NaN", "Infinity", "-Infinity" (JSON has no such numbers), dates and
 * timestamps as strings in their text forms, strings escaped (", \, and
 * control characters; other UTF-8 is written as is).
 *
 * Parquet: core/formats/parquet_write.h, behind the same calls.
 *
 * Values use the canonical text forms of core/types.h (mr_format_*), so the
 * readers of the same format read every written value back exactly
 * (floats included: the shortest form round-trips).
 */
#ifndef MR_FILEWRITER_H
#define MR_FILEWRITER_H

#include "core/batch.h"
#include "core/error.h"
#include "core/types.h"

#define MR_FILEWRITER_BUFFER (1u << 20)

typedef struct mr_filewriter mr_filewriter;

/* Creates path (truncating a file already there: a retried task attempt
 * writes its temporary file again from scratch) for format "csv" or "jsonl", writing rows of schema (copied).  header: write
 * the CSV header line (ignored for jsonl).  Returns the writer, or NULL with
 * err set (MR_EINVAL for an unknown format, MR_EIO naming the path). */
mr_filewriter *mr_filewriter_open(const char *path, const char *format, const mr_schema *schema,
                                  int header, mr_err *err);

/* Options of mr_filewriter_open_opts: header as above; Parquet's
 * compression name (NULL: snappy) and rows per row group (0: default). */
typedef struct mr_filewriter_opts {
    int header;
    const char *compression;
    uint64_t row_group_rows;
} mr_filewriter_opts;

/* As mr_filewriter_open, for "csv", "jsonl" or "parquet". */
mr_filewriter *mr_filewriter_open_opts(const char *path, const char *format,
                                       const mr_schema *schema, const mr_filewriter_opts *o,
                                       mr_err *err);

/* Appends the live rows of b (columns as in the schema).  Returns 0, or
 * MR_EIO / MR_ENOMEM / MR_EINVAL (batch does not match the schema) with a
 * message naming the file. */
int mr_filewriter_write(mr_filewriter *w, const mr_batch *b, mr_err *err);

/* Rows written so far. */
uint64_t mr_filewriter_rows(const mr_filewriter *w);

/* Flushes, fsyncs and closes the file, and frees w (also on failure).
 * Returns 0 or MR_EIO. */
int mr_filewriter_close(mr_filewriter *w, mr_err *err);

/* Closes and unlinks the file and frees w; NULL is a no-op. */
void mr_filewriter_abort(mr_filewriter *w);

#endif
