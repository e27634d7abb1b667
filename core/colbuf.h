/* colbuf.h - the one binary layout of a column's buffers, and the record
 * that stores a list of buffers in a file.
 *
 * A column of n rows is two or three buffers, in this order (host byte
 * order: the cluster is little-endian x86-64/arm64 and nothing is swapped):
 *
 *   0 validity  (n + 7) / 8 bytes, bit i set = row i present; bits past n
 *               are zero
 *   1 data      fixed width: n * mr_type_width(type) bytes
 *   1 offsets   strings: (n + 1) uint32, offsets[0] == 0, non-decreasing
 *   2 chars     strings: offsets[n] bytes
 *
 * Three places move columns as bytes and all use this layout through this
 * module: the wire codec (net/wire.c) sends each buffer as one frame,
 * zstd-compressed or raw, with its sizes in the protobuf BatchHeader; spill
 * files (core/spill.c) store a chunk of rows as one record of its columns'
 * buffers; the executor's shuffle store spills a received message (its
 * frames) as one record.
 *
 * A record is: u32 magic "MRCB", u32 nbuf, u64 len[nbuf], then the nbuf
 * buffers back to back.  Records live in files private to one running
 * process, so the format carries no version.
 *
 * Trust: reading (mr_colbuf_read, mr_colbuf_record_parse) treats every size
 * as hostile: sizes are checked against the row count and the type before
 * anything is allocated or copied, string offsets are checked to start at
 * 0, never decrease and end at the chars size, and bool bytes are made 0 or
 * 1, so later kernels can index with them blindly.  Bad input is an error
 * with a message saying which buffer and what was wrong, never a crash.
 */
#ifndef MR_COLBUF_H
#define MR_COLBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/batch.h"
#include "core/error.h"
#include "core/types.h"

#define MR_COLBUF_MAX 3 /* buffers of one column at most */
#define MR_COLBUF_ANY UINT64_MAX /* mr_colbuf_expect: size not fixed by n */

/* Buffers of a column of type t: 3 for strings, else 2. */
int mr_colbuf_count(mr_type t);

/* "validity", "data", "offsets" or "chars": buffer k of type t (static). */
const char *mr_colbuf_name(mr_type t, int k);

/* The size buffer k of a column of type t must have for n rows, or
 * MR_COLBUF_ANY for chars (given by the offsets). */
uint64_t mr_colbuf_expect(mr_type t, uint64_t n, int k);

/* ---- Writing ------------------------------------------------------------- */

/* The size of buffer k of rows rows[0..n) of c (NULL rows: 0..n) as
 * mr_colbuf_write writes it; for chars the sum of the rows' lengths (one
 * pass over the offsets), which may be over UINT32_MAX. */
uint64_t mr_colbuf_size(const mr_column *c, const uint32_t *rows, size_t n, int k);

/* Where mr_colbuf_write sends a column's buffers.  dest gives room for len
 * bytes to gather a buffer into (NULL when out of memory); emit receives
 * buffer k: raw is either what dest returned last (gathered is true) or the
 * column's own memory, readable during the call only.  emit returns 0 or a
 * negative code with err set. */
typedef struct mr_colbuf_sink {
    void *(*dest)(void *ctx, size_t len);
    int (*emit)(void *ctx, int k, const void *raw, size_t len, bool gathered, mr_err *err);
    void *ctx;
} mr_colbuf_sink;

/* Sends the buffers of rows rows[0..n) of c (physical row numbers; NULL
 * means 0..n) in the layout above, one emit per buffer.  Buffers that need
 * no gathering (data and chars without a row list) go straight from the
 * column's memory.  A column never initialised (valid NULL) is written as
 * n NULLs.  Returns 0, MR_ENOMEM, MR_ETOOBIG (over 4 GiB of text), or what
 * emit returned. */
int mr_colbuf_write(const mr_column *c, const uint32_t *rows, size_t n, const mr_colbuf_sink *s,
                    mr_err *err);

/* ---- Reading ------------------------------------------------------------- */

/* Fills dst with the len bytes of buffer k (reading, copying or
 * decompressing them); 0 or a negative code with err set. */
typedef int (*mr_colbuf_fill_fn)(void *ctx, int k, void *dst, size_t len, mr_err *err);

/* Loads n rows into column c (any previous rows are replaced; c is grown
 * as needed) from its buffers, which fill provides one at a time, in
 * order.  size[k], when size is not NULL, is the size the source announces
 * for buffer k and must match the layout (chars: at most max_chars);
 * without size, validity, data and offsets sizes follow from n and the
 * chars size from the offsets (at most max_chars).  Bad sizes or offsets
 * give bad_code (the caller's code for corrupt input: MR_EPROTO for the
 * wire, MR_EIO for files) with a message that starts with what (e.g.
 * "batch column 3").  Returns 0, bad_code, MR_ENOMEM or what fill
 * returned; on error c holds garbage rows the caller must not use. */
int mr_colbuf_read(mr_column *c, size_t n, const uint64_t *size, uint64_t max_chars,
                   mr_colbuf_fill_fn fill, void *ctx, int bad_code, const char *what,
                   mr_err *err);

/* ---- Records ------------------------------------------------------------- */

#define MR_COLBUF_RECORD_MAGIC 0x4243524dU /* "MRCB" */

/* Bytes of a record's head for nbuf buffers (magic, count, lengths). */
static inline size_t mr_colbuf_record_head_size(uint32_t nbuf)
{
    return 8 + (size_t)nbuf * 8;
}

/* Writes the head of a record of nbuf buffers of lengths len[] into head
 * (mr_colbuf_record_head_size(nbuf) bytes); returns the record's total
 * size (head and buffers). */
uint64_t mr_colbuf_record_head(void *head, uint32_t nbuf, const uint64_t *len);

/* Reads the first 8 bytes of a record head: its magic and buffer count.
 * Returns the count, or bad_code when the magic is wrong or the count is
 * over max_nbuf, with err set (what names the file). */
int64_t mr_colbuf_record_count(const void *head8, uint32_t max_nbuf, int bad_code,
                               const char *what, mr_err *err);

/* Parses a whole record in rec[0..len): points bufs[i] / lens[i] at its
 * buffers (into rec; nothing is copied) for i < *nbuf.  max_nbuf is the
 * room in bufs and lens.  Returns 0 or bad_code (truncated, oversized,
 * wrong magic, too many buffers, lengths that do not add up to len) with a
 * message starting with what. */
int mr_colbuf_record_parse(const void *rec, uint64_t len, const void **bufs, uint64_t *lens,
                           uint32_t max_nbuf, uint32_t *nbuf, int bad_code, const char *what,
                           mr_err *err);

#endif
