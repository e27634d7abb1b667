/* parquet_thrift_enc.c - a Thrift compact protocol encoder for the Parquet
 * writer's page headers and footer (parquet_write.c).
 *
 * The compact protocol in brief: a struct is a run of fields ended by a 0
 * byte; a field starts with a byte holding the id delta from the previous
 * field of the same struct (1..15) in the high nibble and the wire type in
 * the low one, or, when the delta does not fit, the type byte followed by
 * the zigzag varint id.  Booleans live in the type nibble (1 true, 2
 * false).  Integers are zigzag varints; binary is a varint length then the
 * bytes; a list is a byte with its size (below 15) in the high nibble and
 * the element type low, or 0xF-type then a varint size.  The last field id
 * is kept per nesting level on a small stack.
 *
 * Growth failures are sticky: the encoder sets oom and ignores further
 * writes, so callers check once at the end (pq_tenc_done).
 */
#include "core/formats/parquet_wint.h"

#include <stdlib.h>
#include <string.h>

static void put(pq_tenc *e, const void *p, size_t n)
{
    if (e->oom)
        return;
    if (e->len + n > e->cap) {
        size_t cap = e->cap ? e->cap : 256;
        while (cap < e->len + n)
            cap *= 2;
        uint8_t *q = realloc(e->p, cap);
        if (!q) {
            e->oom = 1;
            return;
        }
        e->p = q;
        e->cap = cap;
    }
    memcpy(e->p + e->len, p, n);
    e->len += n;
}

static void put_byte(pq_tenc *e, uint8_t b)
{
    put(e, &b, 1);
}

static void put_varint(pq_tenc *e, uint64_t v)
{
    uint8_t b[10];
    size_t n = 0;
    while (v >= 0x80) {
        b[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b[n++] = (uint8_t)v;
    put(e, b, n);
}

static uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

void pq_tenc_reset(pq_tenc *e)
{
    e->len = 0;
    e->depth = 0;
    e->last[0] = 0;
    e->oom = 0;
}

void pq_tenc_free(pq_tenc *e)
{
    free(e->p);
    memset(e, 0, sizeof *e);
}

void pq_tenc_field(pq_tenc *e, int id, int type)
{
    int delta = id - e->last[e->depth];
    if (delta > 0 && delta <= 15) {
        put_byte(e, (uint8_t)(delta << 4 | type));
    } else {
        put_byte(e, (uint8_t)type);
        put_varint(e, zigzag(id));
    }
    e->last[e->depth] = (int16_t)id;
}

void pq_tenc_i32(pq_tenc *e, int id, int32_t v)
{
    pq_tenc_field(e, id, PQ_TT_I32);
    put_varint(e, zigzag(v));
}

void pq_tenc_i16(pq_tenc *e, int id, int16_t v)
{
    pq_tenc_field(e, id, PQ_TT_I16);
    put_varint(e, zigzag(v));
}

void pq_tenc_i64(pq_tenc *e, int id, int64_t v)
{
    pq_tenc_field(e, id, PQ_TT_I64);
    put_varint(e, zigzag(v));
}

void pq_tenc_bool(pq_tenc *e, int id, int v)
{
    pq_tenc_field(e, id, v ? PQ_TT_TRUE : PQ_TT_FALSE);
}

void pq_tenc_i8(pq_tenc *e, int id, int v)
{
    pq_tenc_field(e, id, PQ_TT_BYTE);
    put_byte(e, (uint8_t)v);
}

void pq_tenc_bin(pq_tenc *e, int id, const void *p, size_t n)
{
    pq_tenc_field(e, id, PQ_TT_BINARY);
    pq_tenc_elem_bin(e, p, n);
}

void pq_tenc_elem_bin(pq_tenc *e, const void *p, size_t n)
{
    put_varint(e, n);
    put(e, p, n);
}

void pq_tenc_elem_i32(pq_tenc *e, int32_t v)
{
    put_varint(e, zigzag(v));
}

void pq_tenc_list(pq_tenc *e, int id, int elem_type, size_t n)
{
    pq_tenc_field(e, id, PQ_TT_LIST);
    if (n < 15) {
        put_byte(e, (uint8_t)(n << 4 | (size_t)elem_type));
    } else {
        put_byte(e, (uint8_t)(0xF0 | elem_type));
        put_varint(e, n);
    }
}

void pq_tenc_begin(pq_tenc *e, int id)
{
    if (id > 0)
        pq_tenc_field(e, id, PQ_TT_STRUCT);
    if (e->depth + 1 >= PQ_TENC_DEPTH) {
        e->oom = 1; /* deeper than any Parquet structure: a bug, reported as failure */
        return;
    }
    e->last[++e->depth] = 0;
}

void pq_tenc_end(pq_tenc *e)
{
    put_byte(e, 0);
    if (e->depth > 0)
        e->depth--;
}
