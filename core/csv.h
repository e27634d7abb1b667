/* csv.h - a fast CSV record reader over a byte range of a file.
 *
 * Splits.  A large file is read by several tasks, each over a byte range
 * [offset, offset+length).  A record belongs to the split in which it
 * STARTS: the reader at offset 0 starts at byte 0; a reader at offset > 0
 * starts at the first record that starts after byte offset-1 (just past
 * the first '\n' at or after offset-1 that is not inside a quoted field).
 * It returns every record starting before offset+length; the last one may
 * run past the range.  So the splits of a file, taken together, return each
 * record exactly once.  The header line (opt.header) is skipped by the
 * split that meets it first.
 *
 * Quoted newlines across a boundary: whether a '\n' after offset-1 is data
 * depends on every quote before it, which the bytes after the boundary
 * cannot tell.  So the caller says: opt.start_in_quote is whether an odd
 * number of quote characters precede offset-1 (mr_csv_quote_parity counts
 * them for all the splits of a file in one pass; the coordinator does this
 * when it plans splits).  Doubled quotes inside a quoted field count twice,
 * so the parity is exact for well-formed CSV; a quote character inside an
 * UNquoted field (malformed CSV) can misalign the next split.
 *
 * Positions.  Each record carries its byte offset in the file.  Its
 * 1-based physical line number is counted as the reader goes for the
 * split at offset 0; a split at offset > 0 only knows lines relative to
 * its start, and mr_csv_reader_line() counts the newlines before the split
 * once, lazily, when someone asks (an error path), if the split starts
 * within the first 1 GiB; beyond that the position is the byte offset
 * ("file.csv: record at byte 123456").
 *
 * Syntax (RFC 4180 with the usual extensions): fields separated by
 * opt.delimiter; a field starting with opt.quote is quoted and may hold
 * delimiters, newlines and doubled quotes ("" is one quote); a quote
 * inside an unquoted field is an ordinary byte; records end at "\n" or
 * "\r\n", and the last one may lack its line end.  Lines with no bytes
 * (also "\r" alone) are skipped, so a trailing empty line is not a record.
 * Text after a closing quote, or a quote never closed, makes the record
 * malformed (rec.error says why) without stopping the reader.
 */
#ifndef MR_CSV_H
#define MR_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/types.h"

/* What a scan does with a bad row. */
enum { MR_CSV_FAIL = 0, MR_CSV_SKIP = 1, MR_CSV_REJECT = 2 };

#define MR_CSV_BUFFER_SIZE (1u << 20)       /* default read size */
#define MR_CSV_MAX_RECORD (64u << 20)       /* default record size bound */

typedef struct mr_csv_options {
    char delimiter;          /* ',' */
    char quote;              /* '"'; '\0' turns quoting off */
    bool header;             /* first line holds column names */
    const char *null_string; /* unquoted field equal to this is NULL; NULL or
                              * "" means the empty field is NULL */
    int on_error;            /* MR_CSV_FAIL, MR_CSV_SKIP, MR_CSV_REJECT */
    int64_t max_errors;      /* skip/reject: fail once more rows than this
                              * are bad; -1 is unlimited */
    size_t buffer_size;      /* read size; 0 means MR_CSV_BUFFER_SIZE */
    size_t max_record;       /* longest record in bytes; 0 means
                              * MR_CSV_MAX_RECORD */
    bool start_in_quote;     /* for a split at offset > 0: byte offset-1 lies
                              * inside a quoted field (an odd number of quote
                              * characters comes before it); see
                              * mr_csv_quote_parity */
    bool schema_inferred;    /* the scan's schema was inferred, not given: a
                              * value that does not fit says so
                              * (mr_csv_inferred_hint); CSV and JSONL scans */
    int compression;         /* mr_compression (core/formats/decode.h); 0 is
                              * auto: .gz and .zst by the name; CSV and JSONL */
    const uint32_t *fields;  /* CSV scan without a header: the field each schema
                              * column is read from (column pruning); NULL:
                              * column i is field i */
    int nfields;             /* with fields: the fields a record has */
    const char *filter;      /* the scan's pushed-down condition, for formats
                              * that can skip data by it (Parquet row-group
                              * statistics); the scan's filter still applies */
} mr_csv_options;

/* Fills o with the defaults: ',', '"', header, empty is NULL, fail, -1. */
void mr_csv_options_init(mr_csv_options *o);

/* For each of offsets[0..n) (ascending, > 0), sets in_quote[i] to whether
 * the bytes [0, offsets[i] - 1) of the file hold an odd number of quote
 * characters: whether a split starting there begins inside a quoted field.
 * One sequential pass over the file (memchr speed).  0, or MR_EIO. */
int mr_csv_quote_parity(const char *path, char quote, const uint64_t *offsets, size_t n,
                        bool *in_quote, mr_err *err);

typedef struct mr_csv_field {
    const char *p; /* bytes, not NUL-ended; quotes removed and "" undone */
    uint32_t len;
    bool quoted;   /* the field was written in quotes */
} mr_csv_field;

/* One record.  Every pointer stays valid until the next call to
 * mr_csv_reader_next or mr_csv_reader_close. */
typedef struct mr_csv_record {
    int nfields;
    const mr_csv_field *fields;
    const char *raw;    /* the record's text, without its line end */
    size_t raw_len;
    uint64_t offset;    /* byte offset of the record's start in the file */
    const char *error;  /* NULL, or why the record is malformed (static) */
} mr_csv_record;

typedef struct mr_csv_reader mr_csv_reader;

/* Opens path and positions at the first record of the split [offset,
 * offset+length) (length UINT64_MAX: to the end).  opt is copied (the
 * null_string pointer is kept and must outlive the reader).  Returns 0 and
 * *out (free with mr_csv_reader_close), or MR_ENOTFOUND / MR_EIO /
 * MR_EINVAL / MR_ENOMEM with "cannot open 'path': reason". */
int mr_csv_reader_open(const char *path, uint64_t offset, uint64_t length,
                       const mr_csv_options *opt, mr_csv_reader **out, mr_err *err);

/* Reads the next record of the split into *rec.  Returns 1 (a record), 0
 * (no more), or MR_EIO / MR_ETOOBIG / MR_ENOMEM with a message naming the
 * file and position.  A malformed record is returned with rec->error set. */
int mr_csv_reader_next(mr_csv_reader *r, mr_csv_record *rec, mr_err *err);

/* The 1-based physical line on which the last record returned starts, or
 * -1 when it cannot be known cheaply (see "Positions" above). */
int64_t mr_csv_reader_line(mr_csv_reader *r);

/* Writes where the last record returned is, for messages:
 * "path:LINE" or "path: record at byte N".  Returns buf. */
const char *mr_csv_reader_where(mr_csv_reader *r, char *buf, size_t cap);

/* Bytes of the file this split has consumed: from its first record's start
 * to the end of the last record returned (line end included; skipped
 * header and blank lines count).  Over all splits of a file they add up to
 * the file's size. */
uint64_t mr_csv_reader_bytes(const mr_csv_reader *r);

const char *mr_csv_reader_path(const mr_csv_reader *r);

void mr_csv_reader_close(mr_csv_reader *r); /* NULL is a no-op */

/* Infers a schema from a sample of path: its first sample_rows records (0
 * means 1000), then, when the file goes on, 250 records at each of seven
 * evenly spaced offsets and the file's last 64 KiB, so a wider value past
 * the first rows is seen (a start inside a quoted field is known from one
 * quote-parity pass for files up to 1 GiB; records that do not parse or
 * have another width are skipped).  Column names come from the header, or
 * are c0, c1, ... without one.  Each column takes the narrowest type that
 * parses every non-NULL sampled value, trying in order bool, int32, int64, decimal, float64,
 * date, timestamp, string; a column of only NULLs is string.  Decimals
 * get the smallest (precision, scale) that holds every sampled value
 * (integers and decimals mixed widen to decimal; past precision 18 the
 * column is float64).  Deterministic: the same file gives the same schema.
 * Returns 0 and *out (caller owns), or a negative code with a message. */
int mr_csv_infer_schema(const char *path, const mr_csv_options *opt, size_t sample_rows,
                        mr_schema **out, mr_err *err);

/* For a value v[0..n) that does not fit column col of s, a type inferred
 * from a sample: writes into buf (cap bytes) the end of the error message,
 * "; the type int32 of column 'qty' was inferred from a sample of the
 * first file: give the read the schema, e.g. schema: {id: int32, qty:
 * int64}", with the column's narrowest type that would hold the sampled
 * values and v (string when nothing else does).  Returns buf. */
const char *mr_csv_inferred_hint(const mr_schema *s, int col, const char *v, size_t n, char *buf,
                                 size_t cap);

/* Header matching.  With opt.header and a schema, columns are matched by
 * header name, not position, so files of one glob may list their columns
 * in different orders.  mr_csv_read_header reads path's header (its first
 * record, with the names a header gives inference: an empty, non-UTF-8 or
 * repeated name is cI) into *names (a schema of string columns, caller
 * owns), or sets *names NULL for an empty file.  0 or a negative code.
 *
 * mr_csv_header_map sets map[i] to the header column holding schema column
 * i: the header name equal to it ignoring ASCII case (an exact match wins
 * over one that differs in case only).  Header columns the schema does not
 * name are ignored.  Returns 0, or MR_ENOTFOUND with "path: the header has
 * no column 'x' (it has: a, b, c)". */
int mr_csv_read_header(const char *path, const mr_csv_options *opt, mr_schema **names,
                       mr_err *err);
int mr_csv_header_map(const mr_schema *header, const mr_schema *schema, const char *path,
                      int *map, mr_err *err);

#endif
