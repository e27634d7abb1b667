/* parquet_write.h - writes batches to one Parquet file (a write node's
 * `to: parquet` part file).
 *
 * Every column is OPTIONAL (NULLs as definition levels) with its millrace
 * type's physical and logical types: bool BOOLEAN; int32 INT32; int64
 * INT64; float64 DOUBLE; decimal(p,s) INT64 DECIMAL(p,s); text BYTE_ARRAY
 * STRING; date INT32 DATE; timestamp INT64 TIMESTAMP(micros, not adjusted
 * to UTC); timestamptz INT64 TIMESTAMP(micros, adjusted to UTC).  Rows are
 * buffered into row groups of row_group_rows rows (fewer for the last, or
 * when a group's buffered values pass 256 MiB); each column chunk is one
 * data page (v1), preceded by a dictionary page for text columns whose
 * distinct values are few, and carries min/max statistics and a null count.
 */
#ifndef MR_PARQUET_WRITE_H
#define MR_PARQUET_WRITE_H

#include <stdint.h>

#include "core/batch.h"
#include "core/error.h"
#include "core/types.h"

#define MR_PQ_ROW_GROUP_ROWS 1000000u

typedef struct mr_pqwriter mr_pqwriter;

/* The codec named by name ("snappy", "zstd", "gzip", "none"; NULL or ""
 * is snappy) as a parquet CompressionCodec, or -1 for an unknown name. */
int mr_pq_codec_parse(const char *name);

/* Creates path (truncating) for rows of schema (copied).  codec from
 * mr_pq_codec_parse; row_group_rows 0 is the default.  NULL with err set. */
mr_pqwriter *mr_pqwriter_open(const char *path, const mr_schema *schema, int codec,
                              uint64_t row_group_rows, mr_err *err);
/* Appends the live rows of b.  0, or MR_EIO / MR_ENOMEM / MR_EINVAL. */
int mr_pqwriter_write(mr_pqwriter *w, const mr_batch *b, mr_err *err);
uint64_t mr_pqwriter_rows(const mr_pqwriter *w);
/* Writes the last row group and the footer, fsyncs, closes, frees w. */
int mr_pqwriter_close(mr_pqwriter *w, mr_err *err);
/* Closes and unlinks the file; frees w.  NULL is a no-op. */
void mr_pqwriter_abort(mr_pqwriter *w);

#endif
