/* parquet_wint.h - the Parquet writer's private declarations: the Thrift
 * compact protocol encoder (parquet_thrift_enc.c) used by parquet_write.c.
 * Physical types, codecs and encodings are shared with the reader
 * (parquet_int.h). */
#ifndef MR_PARQUET_WINT_H
#define MR_PARQUET_WINT_H

#include <stddef.h>
#include <stdint.h>

#include "core/formats/parquet_int.h"

/* Compact protocol wire types. */
enum {
    PQ_TT_TRUE = 1, PQ_TT_FALSE = 2, PQ_TT_BYTE = 3, PQ_TT_I16 = 4, PQ_TT_I32 = 5,
    PQ_TT_I64 = 6, PQ_TT_DOUBLE = 7, PQ_TT_BINARY = 8, PQ_TT_LIST = 9, PQ_TT_SET = 10,
    PQ_TT_MAP = 11, PQ_TT_STRUCT = 12,
};

#define PQ_TENC_DEPTH 16

/* An output buffer and the last field id of each open struct.  Zeroed is
 * empty; a failed growth sets oom and later writes are ignored. */
typedef struct pq_tenc {
    uint8_t *p;
    size_t len, cap;
    int16_t last[PQ_TENC_DEPTH];
    int depth;
    int oom;
} pq_tenc;

void pq_tenc_reset(pq_tenc *e); /* empty, keeping the buffer */
void pq_tenc_free(pq_tenc *e);
void pq_tenc_field(pq_tenc *e, int id, int type);
void pq_tenc_i16(pq_tenc *e, int id, int16_t v);
void pq_tenc_i32(pq_tenc *e, int id, int32_t v);
void pq_tenc_i64(pq_tenc *e, int id, int64_t v);
void pq_tenc_i8(pq_tenc *e, int id, int v);
void pq_tenc_bool(pq_tenc *e, int id, int v);
void pq_tenc_bin(pq_tenc *e, int id, const void *p, size_t n);
/* A list header of n elements; then n elements (elem_* or begin(0)/end). */
void pq_tenc_list(pq_tenc *e, int id, int elem_type, size_t n);
void pq_tenc_elem_i32(pq_tenc *e, int32_t v);
void pq_tenc_elem_bin(pq_tenc *e, const void *p, size_t n);
/* A nested struct as field id (id 0: a list element); end closes it.  At
 * depth 0, end writes the stop byte of the outermost struct. */
void pq_tenc_begin(pq_tenc *e, int id);
void pq_tenc_end(pq_tenc *e);

#endif
