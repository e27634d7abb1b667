/* batch.h - columnar batches: the unit every operator consumes and produces.
 *
 * A batch holds up to `cap` rows as one mr_column per schema field.  Every
 * column has a validity bitmap (bit set = value present; always allocated so
 * kernels need no NULL-pointer branch) and either a fixed-width data buffer
 * or, for strings, uint32 offsets[n+1] into a chars buffer.
 *
 * Selection vector: a filter does not copy rows; it sets `sel` to the
 * ascending indices of the rows that survive (nsel of them).  sel == NULL
 * means all nrows rows are live.  Every consumer must honour sel, or call
 * mr_batch_compact() first.
 *
 * Ownership: a batch owns all its buffers (malloc'd).  mr_batch_reset keeps
 * the capacity for reuse, so a steady-state pipeline allocates nothing per
 * batch.  Operators hand out batches they own; the receiver may read them
 * until its next call into that operator.
 */
#ifndef MR_BATCH_H
#define MR_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/types.h"

#define MR_BATCH_ROWS 4096

typedef struct mr_column {
    mr_type type;
    size_t cap;       /* rows allocated in valid/data/offsets */
    uint8_t *valid;   /* (cap + 7) / 8 bytes */
    void *data;       /* cap * width bytes; NULL for strings */
    uint32_t *offsets;/* strings: cap + 1 entries, offsets[0] == 0 */
    char *chars;      /* strings: the bytes */
    size_t chars_cap;
} mr_column;

typedef struct mr_batch {
    int ncols;
    mr_column *cols;
    size_t nrows; /* physical rows filled */
    size_t cap;
    uint32_t *sel; /* NULL, or nsel ascending row indices (buffer of cap) */
    size_t nsel;
    uint32_t *sel_buf; /* owned storage that sel may point to */
} mr_batch;

/* Creates an empty batch for schema s with room for cap rows (0 means
 * MR_BATCH_ROWS).  The batch does not keep s.  Returns NULL when out of
 * memory. */
mr_batch *mr_batch_create(const mr_schema *s, size_t cap);
/* Same, from a bare list of types. */
mr_batch *mr_batch_create_types(const mr_type *types, int ncols, size_t cap);
void mr_batch_destroy(mr_batch *b); /* NULL is a no-op */
/* Empties the batch (nrows = 0, no selection), keeping its buffers. */
void mr_batch_reset(mr_batch *b);
/* Grows every column to hold at least rows rows; 0 or MR_ENOMEM. */
int mr_batch_reserve(mr_batch *b, size_t rows);
/* Number of live rows (nsel with a selection, else nrows). */
static inline size_t mr_batch_live(const mr_batch *b)
{
    return b->sel ? b->nsel : b->nrows;
}
/* Row index of the i-th live row. */
static inline uint32_t mr_batch_row(const mr_batch *b, size_t i)
{
    return b->sel ? b->sel[i] : (uint32_t)i;
}
/* Moves the selected rows to the front and drops the selection. */
void mr_batch_compact(mr_batch *b);
/* Bytes held by the batch's buffers (for memory budgets and metrics). */
size_t mr_batch_bytes(const mr_batch *b);

/* Column helpers. */
int mr_column_init(mr_column *c, mr_type type, size_t cap);
void mr_column_free(mr_column *c);
int mr_column_reserve(mr_column *c, size_t rows);
/* Makes room for at least extra more chars after used bytes. */
int mr_column_reserve_chars(mr_column *c, size_t used, size_t extra);

static inline bool mr_column_is_valid(const mr_column *c, size_t row)
{
    return (c->valid[row >> 3] >> (row & 7)) & 1;
}
static inline void mr_column_set_valid(mr_column *c, size_t row, bool v)
{
    if (v)
        c->valid[row >> 3] |= (uint8_t)(1u << (row & 7));
    else
        c->valid[row >> 3] &= (uint8_t)~(1u << (row & 7));
}
/* Sets row's string to s[0..n); rows must be set in order 0, 1, 2, ...
 * since offsets[row] must already be final.  0 or MR_ENOMEM. */
int mr_column_set_str(mr_column *c, size_t row, const char *s, size_t n);
/* Sets row to NULL for a string column, keeping offsets consistent. */
void mr_column_set_str_null(mr_column *c, size_t row);
static inline const char *mr_column_str(const mr_column *c, size_t row, size_t *len)
{
    *len = c->offsets[row + 1] - c->offsets[row];
    /* a column of only empty strings and NULLs may never have had chars */
    return c->chars ? c->chars + c->offsets[row] : "";
}
/* Copies row src_row of src into row dst_row of dst (same type; for strings
 * dst rows must be filled in order).  0 or MR_ENOMEM. */
int mr_column_copy_value(mr_column *dst, size_t dst_row, const mr_column *src, size_t src_row);

#define MR_COL_I32(c) ((int32_t *)(c)->data)
#define MR_COL_I64(c) ((int64_t *)(c)->data)
#define MR_COL_F64(c) ((double *)(c)->data)
#define MR_COL_U8(c) ((uint8_t *)(c)->data)

#endif
