/* jsonl.h - JSON Lines: a strict, allocation-light parser for one JSON
 * object per line, a line reader over a byte range of a file, and schema
 * inference.
 *
 * Parser.  A line must hold exactly one JSON object (RFC 8259) with
 * optional blanks around it.  Its top-level members come back as fields:
 * the key and the value, with strings unescaped (\uXXXX included; a
 * surrogate pair becomes one 4-byte UTF-8 sequence), numbers as their text,
 * and nested objects and arrays as their raw JSON text (validated, up to
 * MR_JSONL_MAX_DEPTH levels deep).  Rejected: anything but an object at the
 * top, trailing text, invalid UTF-8, raw control characters in strings,
 * lone surrogates, \u0000 (text columns cannot hold it, as in PostgreSQL),
 * numbers outside the JSON grammar (leading zeros, "+1", ".5", "1."), and
 * nesting deeper than the limit.  A duplicate key is kept twice; the scan
 * lets the last one win.  Unescaped strings and keys point into the line
 * when they hold no escape, else into the parser's scratch buffer, which
 * grows to the longest line seen and is reused: nothing is allocated per
 * line in the steady state.
 *
 * Reader.  Like the CSV reader (core/csv.h), and through the same split
 * reader (core/formats/split.h): a split [offset, offset+length)
 * returns the lines that START in it; a split at offset > 0 starts just past
 * the first '\n' at or after offset-1, so the splits of a file return every
 * line exactly once.  JSON strings cannot hold a raw newline, so unlike CSV
 * any split boundary is safe.  Lines end at "\n" or "\r\n"; the last may
 * lack its line end; lines of only blanks are skipped.
 */
#ifndef MR_JSONL_H
#define MR_JSONL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/types.h"

#define MR_JSONL_MAX_DEPTH 64           /* nesting levels below the top object */
#define MR_JSONL_BUFFER_SIZE (1u << 20) /* read size */
#define MR_JSONL_MAX_LINE (64u << 20)   /* longest line in bytes */

typedef enum mr_json_kind {
    MR_JSON_NULL = 0,
    MR_JSON_FALSE,
    MR_JSON_TRUE,
    MR_JSON_NUMBER,
    MR_JSON_STRING,
    MR_JSON_OBJECT,
    MR_JSON_ARRAY,
} mr_json_kind;

/* One top-level member of a parsed line. */
typedef struct mr_jsonl_field {
    const char *key; /* unescaped, not NUL-ended */
    uint32_t key_len;
    uint8_t kind;     /* mr_json_kind */
    bool is_integer;  /* a number without fraction or exponent */
    const char *val;  /* string: unescaped bytes; number, true, false, null:
                       * the literal text; object, array: the raw JSON text */
    uint32_t val_len;
} mr_jsonl_field;

typedef struct mr_jsonl_parser mr_jsonl_parser;

/* Returns a parser (free with mr_jsonl_parser_destroy) or NULL when out of
 * memory. */
mr_jsonl_parser *mr_jsonl_parser_create(void);
void mr_jsonl_parser_destroy(mr_jsonl_parser *p); /* NULL is a no-op */

/* Parses the object in line[0..n).  Returns the number of fields (>= 0)
 * with *fields set to an array owned by the parser, valid (like the strings
 * it points to, which may point into line) until the next call; or MR_EPARSE
 * with a message ("expected ':' after the key at byte 12") and err->offset
 * at the byte, or MR_ENOMEM. */
int mr_jsonl_parse(mr_jsonl_parser *p, const char *line, size_t n, const mr_jsonl_field **fields,
                   mr_err *err);

/* Human name of a kind ("string", "object", ...). */
const char *mr_json_kind_name(int kind);

/* ---- Line reader --------------------------------------------------------- */

typedef struct mr_jsonl_reader mr_jsonl_reader;

/* Opens path and positions at the first line of the split [offset,
 * offset+length) (length UINT64_MAX: to the end).  Returns 0 and *out (free
 * with mr_jsonl_reader_close) or MR_ENOTFOUND / MR_EIO / MR_ENOMEM with
 * "cannot open 'path': reason". */
int mr_jsonl_reader_open(const char *path, uint64_t offset, uint64_t length,
                         mr_jsonl_reader **out, mr_err *err);
/* The same for a file read with compression (mr_compression,
 * core/formats/decode.h; mr_jsonl_reader_open is AUTO: by the suffix). */
int mr_jsonl_reader_open_c(const char *path, uint64_t offset, uint64_t length, int compression,
                           mr_jsonl_reader **out, mr_err *err);

/* Next non-blank line of the split, without its line end.  Returns 1 with
 * *line / *n (valid until the next call) and *off (its byte offset in the
 * file), 0 at the end, or MR_EIO / MR_ETOOBIG (a line longer than
 * MR_JSONL_MAX_LINE) with a message naming the file. */
int mr_jsonl_reader_next(mr_jsonl_reader *r, const char **line, size_t *n, uint64_t *off,
                         mr_err *err);

/* 1-based line number of the last line returned; for a split at offset > 0
 * the lines before the split are counted once, lazily, when the split
 * starts within the first 1 GiB, else -1. */
int64_t mr_jsonl_reader_line(mr_jsonl_reader *r);

/* "path:LINE", or "path: line at byte N" when the line is unknown.
 * Returns buf. */
const char *mr_jsonl_reader_where(mr_jsonl_reader *r, char *buf, size_t cap);

/* Bytes consumed: from the split's first line to the end of the last line
 * returned (skipped blank lines and line ends included). */
uint64_t mr_jsonl_reader_bytes(const mr_jsonl_reader *r);

void mr_jsonl_reader_close(mr_jsonl_reader *r); /* NULL is a no-op */

/* ---- Inference ----------------------------------------------------------- */

/* Infers a schema from a sample of path (see below for which lines).
 * Columns are the top-level keys in order of first appearance.  Per column,
 * over the non-null sampled values: only true/false is bool; only integers
 * is int32 when all fit, else int64 (an integer past int64 makes it
 * float64); integers and other numbers is float64; only strings is date when
 * all parse as dates, timestamp when all parse as timestamps, else string;
 * any other mix, a nested value, or no non-null value is string.  Lines that
 * do not parse are left out of the sample.  The sample is the first
 * sample_rows lines, then, when the file goes on, 250 lines at each of
 * seven evenly spaced offsets and the last 64 KiB of the file, so a wider
 * value or a key past the first lines is seen.  Deterministic.  Returns 0 and
 * *out (caller owns), MR_EPARSE when the sample holds no object with a key,
 * or another negative code with a message. */
int mr_jsonl_infer_schema(const char *path, size_t sample_rows, mr_schema **out, mr_err *err);
/* The same with a compression (mr_jsonl_infer_schema is AUTO); a
 * compressed file is sampled by its first lines only. */
int mr_jsonl_infer_schema_c(const char *path, int compression, size_t sample_rows,
                            mr_schema **out, mr_err *err);

#endif
