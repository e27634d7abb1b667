/* decode.h - compressed text inputs: which compression a file has and the
 * streaming decoder the split reader (core/formats/split.c) takes its bytes
 * from instead of pread.
 *
 * gzip (zlib; a file of several members, as `cat a.gz b.gz` makes, reads as
 * their concatenation) and zstd (libzstd streaming; several frames, and
 * skippable frames, likewise).  A compressed file cannot be entered
 * mid-stream, so it is read whole by one split.  Corrupt data, a plain file
 * read as compressed and a file that ends inside a member or frame are
 * errors naming the file: never fewer rows without a word. */
#ifndef MR_FORMAT_DECODE_H
#define MR_FORMAT_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/io.h"

/* Numbered like the plan's Compression enum (proto/millrace.proto). */
typedef enum mr_compression {
    MR_COMPRESSION_AUTO = 0, /* from the name: .gz gzip, .zst zstd, else none */
    MR_COMPRESSION_NONE = 1,
    MR_COMPRESSION_GZIP = 2,
    MR_COMPRESSION_ZSTD = 3,
} mr_compression;

/* The compression to read path with: c itself unless it is AUTO, then
 * by path's suffix. */
mr_compression mr_compression_of(const char *path, int c);

typedef struct mr_decoder mr_decoder;

/* A decoder of kind (GZIP or ZSTD) reading f from its start (a local file
 * or an object); path names the file in messages.  NULL when out of
 * memory. */
mr_decoder *mr_decoder_create(mr_compression kind, mr_file *f, const char *path);

/* Writes up to cap decompressed bytes into out.  Returns how many (> 0),
 * 0 at the clean end of the data, or MR_EIO (read failed), MR_EPARSE
 * (corrupt or truncated data), MR_ENOMEM, with a message naming the
 * file. */
long mr_decoder_read(mr_decoder *d, char *out, size_t cap, mr_err *err);

/* Compressed bytes read so far. */
uint64_t mr_decoder_in_bytes(const mr_decoder *d);

void mr_decoder_destroy(mr_decoder *d); /* NULL is a no-op */

#endif
