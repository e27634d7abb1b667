/* wire.h - the batch wire codec: one columnar batch <-> a list of frames.
 *
 * A batch travels as one multipart message (the transport is net/transport.h;
 * this module never sees a socket):
 *
 *   frame 0      packed Millrace__BatchHeader: job/stage/partition/map task/
 *                attempt/seq, nrows, codec, eos, and per column its type and
 *                one BufferHeader {raw_size, wire_size} per buffer
 *   frames 1..   per column, in column order:
 *                  fixed width: validity, data
 *                  string:      validity, offsets, chars
 *
 * Buffer layouts (raw, before compression; core/colbuf.h, shared with spill
 * files and the shuffle store), for nrows rows:
 *   validity  (nrows + 7) / 8 bytes, bit i set = row i present; bits past
 *             nrows are zero
 *   data      nrows * mr_type_width(type) bytes, host byte order (the cluster
 *             is little-endian x86-64/arm64; no swapping is done)
 *   offsets   (nrows + 1) uint32, offsets[0] == 0, non-decreasing
 *   chars     offsets[nrows] bytes
 * With CODEC_ZSTD every buffer is one zstd frame of its raw bytes; with
 * CODEC_NONE the frame is the raw bytes.  An end-of-stream marker without
 * rows is a header with eos set, nrows 0 and no columns, and no other frame.
 *
 * Trust: the decoder treats every byte as hostile.  Sizes are checked
 * against the header and the header against nrows and the types before
 * anything is allocated or copied; decompression is bounded by raw_size; a
 * malformed message is MR_EPROTO with a message saying what was wrong, never
 * a crash or an unbounded allocation.
 *
 * Compression contexts: zstd compression and decompression contexts are
 * kept one per thread (created on first use, freed when the thread exits, or
 * early with mr_wire_thread_release), so the functions below are thread-safe
 * and allocate no zstd state per batch.
 */
#ifndef MR_WIRE_H
#define MR_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "core/batch.h"
#include "core/error.h"
#include "proto/millrace.pb-c.h"

/* Limits a decoded message must respect. */
#define MR_WIRE_MAX_ROWS (1u << 20)
#define MR_WIRE_MAX_COLUMNS 4096
#define MR_WIRE_MAX_BYTES ((uint64_t)1 << 30) /* sum of raw sizes of one batch */

/* One frame of a message.  data is malloc'd and owned by the mr_frames that
 * holds it; a caller may take a frame's data over (and free() it later) by
 * setting data to NULL, e.g. to hand it to zmq_msg_init_data without a
 * copy. */
typedef struct mr_frame {
    void *data;
    size_t len;
} mr_frame;

typedef struct mr_frames {
    mr_frame *items;
    size_t n, cap;
} mr_frames;

/* Frees every frame's data and the item array, and leaves f empty (ready for
 * reuse).  NULL is a no-op. */
void mr_frames_free(mr_frames *f);

/* What the header says besides the batch itself. */
typedef struct mr_batch_meta {
    const char *job_id; /* NULL is written as "" */
    uint32_t stage_id, partition, map_task, attempt;
    uint64_t seq;
    int eos;
} mr_batch_meta;

/* Encodes the live rows of b (selected rows only when b has a selection
 * vector; b is not modified) and appends 1 + (2 or 3 per column) frames to
 * out: the packed header, then the column buffers.  zstd_level 0 sends the
 * buffers raw (CODEC_NONE); any other level (negative levels are zstd's fast
 * modes; levels above ZSTD_maxCLevel are clamped) compresses each buffer.
 * b may be NULL when meta->eos is set: then only a header frame is appended
 * (an end-of-stream marker).  Returns 0, MR_EINVAL (b NULL without eos, more
 * than MR_WIRE_MAX_ROWS live rows), MR_ENOMEM or MR_EIO (zstd failed); on
 * error out holds what it held before. */
int mr_wire_encode(const mr_batch *b, const mr_batch_meta *meta, int zstd_level,
                   mr_frames *out, mr_err *err);

/* Unpacks and validates a header frame: the protobuf itself, the codec, the
 * row count (<= MR_WIRE_MAX_ROWS), the column count, every type (decimal
 * precision and scale in range), the buffer count of each column and every
 * raw_size against nrows and the type width, wire sizes against the codec,
 * and the total size.  On success *out is the header, to be freed by the
 * caller with millrace__batch_header__free_unpacked(*out, NULL).  Returns 0
 * or MR_EPROTO (*out NULL) with a message naming the column and the field. */
int mr_wire_decode_header(const void *data, size_t len, Millrace__BatchHeader **out,
                          mr_err *err);

/* Decodes the column frames frames[0..nframes) (the frames after the header)
 * of the message h describes into *out.  If *out is NULL a batch of the
 * header's column types is created; if it is a batch of exactly those types
 * it is reset and reused (grown when needed); otherwise it is destroyed and
 * replaced.  A header without columns and without rows (an end-of-stream
 * marker) just resets an existing *out.  The result has nrows rows and no
 * selection.  The header is validated again (so it may come from anywhere),
 * then the frame count, every frame length against wire_size, every
 * decompressed size against raw_size exactly, and string offsets (start at
 * 0, non-decreasing, end at the chars size); bool bytes are normalised to
 * 0/1.  Returns 0, MR_EPROTO (*out, if any, is left valid with 0 rows) or
 * MR_ENOMEM.  *out is owned by the caller (mr_batch_destroy). */
int mr_wire_decode_batch(const Millrace__BatchHeader *h, const mr_frame *frames, size_t nframes,
                         mr_batch **out, mr_err *err);

/* Frees the calling thread's zstd contexts now instead of at thread exit
 * (they are recreated on next use).  Useful for the main thread, whose
 * thread-exit destructors do not run. */
void mr_wire_thread_release(void);

#endif
