/* spill.h - spill files: batches written to local disk and read back, for
 * the operators that run out of their memory budget (hash aggregate, hash
 * join, sort, distinct).
 *
 * A spill file holds rows of one fixed list of column types as a sequence
 * of chunks, each written from some rows of a batch and read back as one
 * batch.  The format is private to one process and one file's life, so it
 * is plain host-endian memory: a chunk is one buffer record of
 * core/colbuf.h (magic, buffer count, their lengths, the bytes) whose
 * buffers are the row count (a u64), then every column's buffers in the
 * one column layout (validity, then values, or offsets and chars).  A
 * column the writer never stored (valid == NULL) is written as all NULL.
 * Reading checks every length against the row count and the file, and the
 * offsets, so a corrupt file is MR_EIO, never a read out of bounds.
 *
 * Life: the file is created with mkstemp in the spill folder and unlinked
 * at once, so it has no name while it is written and read: the kernel frees
 * its blocks when it is closed, also when the process dies, and nothing is
 * ever left behind in the folder.  Writing appends through a stdio buffer;
 * mr_spill_rewind switches to reading from the start.  Bytes and files are
 * counted in the task's mr_exec_ctx.
 *
 * A partition set (mr_spill_parts) spreads rows over a power-of-two number
 * of partitions (of one file) by their key hash, as the Grace hash join
 * does; every recursion
 * depth mixes the hash with a different seed, so rows that shared a
 * partition at depth d spread again at depth d + 1 (unless their keys are
 * equal).
 */
#ifndef MR_SPILL_H
#define MR_SPILL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/batch.h"
#include "core/error.h"
#include "core/op.h"
#include "core/types.h"

typedef struct mr_spill_file mr_spill_file;

/* Creates an empty spill file for rows of the ncols column types in the
 * folder ctx->spill_dir (NULL ctx or folder: $TMPDIR, else /tmp).  node
 * names the DAG node in messages.  Returns 0 with *out set (caller owns it,
 * free with mr_spill_destroy), MR_EIO naming the folder, or MR_ENOMEM. */
int mr_spill_create(mr_exec_ctx *ctx, const mr_type *types, int ncols, const char *node,
                    mr_spill_file **out, mr_err *err);

/* Appends rows rows[0..n) (physical row numbers; NULL means 0..n) of the
 * ncols columns cols[] (types as at create) as one chunk.  A column whose
 * valid buffer is NULL (never initialised) is written as all NULL.  Returns
 * 0, MR_EIO (disk full, ...) or MR_ENOMEM. */
int mr_spill_write(mr_spill_file *f, const mr_column *cols, const uint32_t *rows, size_t n,
                   mr_err *err);

/* Appends the live rows of b as one chunk (no-op for no live rows). */
int mr_spill_write_batch(mr_spill_file *f, const mr_batch *b, mr_err *err);

/* Flushes what was written and positions the file at its start for
 * reading.  0 or MR_EIO. */
int mr_spill_rewind(mr_spill_file *f, mr_err *err);

/* Reads the next chunk into b (created for the file's types; reset and
 * grown here).  Returns MR_NEXT_BATCH, MR_NEXT_DONE at the end, MR_EIO for
 * a short or corrupt file, MR_ENOMEM. */
int mr_spill_read(mr_spill_file *f, mr_batch *b, mr_err *err);

/* Rows and bytes written so far. */
uint64_t mr_spill_rows(const mr_spill_file *f);
uint64_t mr_spill_bytes(const mr_spill_file *f);

/* Closes the file, which frees its disk blocks.  NULL is a no-op. */
void mr_spill_destroy(mr_spill_file *f);

/* An operator that reads a spill file from its start and returns its
 * chunks as batches of schema (copied).  Takes ownership of f (destroyed
 * on close, also when creation fails).  Like every operator it gets the
 * task's mr_exec_ctx when opened.  Returns the operator or NULL with err
 * set. */
mr_op *mr_spill_source_create(mr_spill_file *f, const mr_schema *schema, const char *node,
                              mr_err *err);

/* ---- Partition sets ---------------------------------------------------- */

#define MR_SPILL_FANOUT 16   /* partitions per spill; a power of two */
#define MR_SPILL_MAX_DEPTH 4 /* recursion depth beyond which operators stop spilling */

/* The chunks of one partition: where they start in the set's file. */
typedef struct mr_spill_chunks {
    uint64_t *off;
    size_t n, cap;
    uint64_t rows;
} mr_spill_chunks;

/* MR_SPILL_FANOUT partitions in one file: chunks of all partitions are
 * appended as they come, and each partition keeps the list of its chunks'
 * offsets, so reading a partition seeks from chunk to chunk.  One file per
 * set, not one per partition, because creating and deleting many small
 * files is what the file system does slowest. */
typedef struct mr_spill_parts {
    int n;                  /* MR_SPILL_FANOUT once created, 0 before */
    int depth;              /* seeds the partition function */
    mr_spill_file *f;
    bool reading;           /* flushed: no more writes */
    mr_spill_chunks *parts; /* n lists */
    uint32_t *rows;         /* scratch: rows grouped by partition */
    uint32_t *part;         /* scratch: partition of each row */
    size_t cap;
} mr_spill_parts;

/* The partition of a row with key hash h at recursion depth depth, in
 * 0..nparts (a power of two). */
static inline unsigned mr_spill_part_of(uint64_t h, int depth, unsigned nparts)
{
    uint64_t x = h ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(depth + 1));
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 29;
    return (unsigned)(x >> 40) & (nparts - 1);
}

/* Creates an empty set of MR_SPILL_FANOUT partitions for the column
 * types.  0 or a negative code with err set; on failure ps is left
 * empty. */
int mr_spill_parts_create(mr_spill_parts *ps, mr_exec_ctx *ctx, const mr_type *types, int ncols,
                          int depth, const char *node, mr_err *err);

/* Writes rows rows[0..n) (physical; NULL means 0..n) of cols[] to the
 * partitions their hashes hash[0..n) pick (hash[i] belongs to the i-th
 * listed row).  Not after the first source was made.  0 or a negative
 * code. */
int mr_spill_parts_write(mr_spill_parts *ps, const mr_column *cols, const uint32_t *rows,
                         const uint64_t *hash, size_t n, mr_err *err);

/* Rows written to partition i. */
static inline uint64_t mr_spill_parts_rows(const mr_spill_parts *ps, int i)
{
    return ps->parts ? ps->parts[i].rows : 0;
}

/* An operator returning the rows of partition i as batches of schema (the
 * set's types), in the order they were written; an empty partition gives
 * none.  It borrows the set, which must outlive it (and no two sources of
 * one set may be read at the same time).  Returns the operator or NULL with err set. */
mr_op *mr_spill_parts_source(mr_spill_parts *ps, int i, const mr_schema *schema,
                             const char *node, mr_err *err);

/* Destroys the file (its disk space goes back) and the scratch; leaves ps
 * empty.  Safe on a zeroed or already freed set. */
void mr_spill_parts_free(mr_spill_parts *ps);

#endif
