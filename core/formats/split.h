/* split.h - the one split reader: a buffered byte source over one split
 * [offset, offset+length) of a file, for the line-based formats.
 *
 * It holds the file, a read buffer whose unconsumed bytes [beg, end) are
 * kept across reads (moved to the front, the buffer doubled when a record
 * fills it), the resync of a split at offset > 0 to the first line start
 * at or after offset-1 (outside quotes for CSV, given the quote parity at
 * offset-1), and the lazy count of the lines before a split for messages.
 * The CSV and JSON Lines readers (core/csv.c, core/jsonl.c) parse records
 * out of buf[beg, end) and say how long a record may grow. */
#ifndef MR_FORMAT_SPLIT_H
#define MR_FORMAT_SPLIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/formats/decode.h"
#include "core/io.h"

/* Lines before a split are counted only when the split starts this early. */
#define MR_SPLIT_LINE_COUNT_LIMIT (UINT64_C(1) << 30)

typedef struct mr_split {
    mr_file f;            /* a local file or an object (core/io.h) */
    char *path;
    char *buf;
    size_t cap, beg, end; /* buf[beg, end): read, not yet consumed */
    uint64_t buf_off;     /* file offset of buf[0] */
    uint64_t fpos;        /* file offset of the next read */
    bool eof;             /* the file has no bytes past buf[end] */
    uint64_t split_end;   /* records starting at or past this are the next split's */
    mr_decoder *dec;      /* a compressed file: bytes come from it, offsets are
                           * in the decompressed text */
} mr_split;

/* Opens path with a cap-byte buffer, positioned at offset (not yet
 * resynced: see mr_split_resync).  compression (mr_compression; AUTO goes
 * by the suffix) makes a gzip or zstd file read through its decoder: such
 * a file is one split, so offset must be 0 and length is ignored (the
 * split is the whole decompressed text).  0, or MR_ENOTFOUND / MR_EIO /
 * MR_ENOMEM with "cannot open 'path': reason", MR_EINVAL for a compressed
 * file at offset > 0; s is then closed. */
int mr_split_open(mr_split *s, const char *path, uint64_t offset, uint64_t length, size_t cap,
                  int compression, mr_err *err);

/* Moves the unconsumed bytes to the front of the buffer. */
void mr_split_compact(mr_split *s);

/* Reads more of the file after buf[end] (decompressed, for a compressed
 * file), doubling the buffer when it is full (the caller bounds the record
 * length first).  Sets eof when the file has no more.  Returns the bytes
 * added (0 at the end) or MR_EIO / MR_ENOMEM / MR_EPARSE (corrupt or
 * truncated compressed data) with a message naming the file. */
long mr_split_read(mr_split *s, mr_err *err);

/* For a split at offset > 0, after mr_split_open: consumes the bytes up to
 * and including the first '\n' at or after offset-1 that is outside
 * quotes (quote '\0': no quoting; in_quote: offset-1 lies inside a quoted
 * field).  At the end of the file without one, consumes everything.
 * 0 or a negative code. */
int mr_split_resync(mr_split *s, char quote, bool in_quote, mr_err *err);

/* The newlines in the file before byte upto, or -1 when upto is past
 * MR_SPLIT_LINE_COUNT_LIMIT, the file is compressed or cannot be read. */
int64_t mr_split_lines_before(const mr_split *s, uint64_t upto);

void mr_split_close(mr_split *s); /* frees what s holds; safe twice */

#endif
