/* batch.c - columnar batch allocation, growth and compaction. */
#include "core/batch.h"

#include <stdlib.h>
#include <string.h>

int mr_column_init(mr_column *c, mr_type type, size_t cap)
{
    memset(c, 0, sizeof *c);
    c->type = type;
    return mr_column_reserve(c, cap ? cap : MR_BATCH_ROWS);
}

void mr_column_free(mr_column *c)
{
    if (!c)
        return;
    free(c->valid);
    free(c->data);
    free(c->offsets);
    free(c->chars);
    memset(c, 0, sizeof *c);
}

int mr_column_reserve(mr_column *c, size_t rows)
{
    if (rows <= c->cap && c->valid)
        return 0;
    size_t ncap = c->cap ? c->cap : 64;
    while (ncap < rows)
        ncap *= 2;
    uint8_t *v = realloc(c->valid, (ncap + 7) / 8);
    if (!v)
        return MR_ENOMEM;
    memset(v + (c->cap + 7) / 8, 0, (ncap + 7) / 8 - (c->cap + 7) / 8);
    c->valid = v;
    if (c->type.id == MR_T_STRING) {
        uint32_t *o = realloc(c->offsets, (ncap + 1) * sizeof *o);
        if (!o)
            return MR_ENOMEM;
        if (!c->offsets)
            o[0] = 0;
        c->offsets = o;
    } else {
        void *d = realloc(c->data, ncap * mr_type_width(c->type));
        if (!d)
            return MR_ENOMEM;
        c->data = d;
    }
    c->cap = ncap;
    return 0;
}

int mr_column_reserve_chars(mr_column *c, size_t used, size_t extra)
{
    if (used + extra <= c->chars_cap && c->chars)
        return 0;
    if (used + extra > UINT32_MAX)
        return MR_ETOOBIG;
    size_t ncap = c->chars_cap ? c->chars_cap : 1024;
    while (ncap < used + extra)
        ncap *= 2;
    char *p = realloc(c->chars, ncap);
    if (!p)
        return MR_ENOMEM;
    c->chars = p;
    c->chars_cap = ncap;
    return 0;
}

int mr_column_set_str(mr_column *c, size_t row, const char *s, size_t n)
{
    size_t used = c->offsets[row];
    int rc = mr_column_reserve_chars(c, used, n);
    if (rc < 0)
        return rc;
    if (n)
        memcpy(c->chars + used, s, n);
    c->offsets[row + 1] = (uint32_t)(used + n);
    mr_column_set_valid(c, row, true);
    return 0;
}

void mr_column_set_str_null(mr_column *c, size_t row)
{
    c->offsets[row + 1] = c->offsets[row];
    mr_column_set_valid(c, row, false);
}

int mr_column_copy_value(mr_column *dst, size_t dst_row, const mr_column *src, size_t src_row)
{
    bool v = mr_column_is_valid(src, src_row);
    if (dst->type.id == MR_T_STRING) {
        if (!v) {
            mr_column_set_str_null(dst, dst_row);
            return 0;
        }
        size_t n;
        const char *s = mr_column_str(src, src_row, &n);
        return mr_column_set_str(dst, dst_row, s, n);
    }
    size_t w = mr_type_width(dst->type);
    memcpy((char *)dst->data + dst_row * w, (const char *)src->data + src_row * w, w);
    mr_column_set_valid(dst, dst_row, v);
    return 0;
}

mr_batch *mr_batch_create_types(const mr_type *types, int ncols, size_t cap)
{
    mr_batch *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->cap = cap ? cap : MR_BATCH_ROWS;
    b->ncols = ncols;
    b->cols = calloc(ncols > 0 ? (size_t)ncols : 1, sizeof *b->cols);
    b->sel_buf = malloc(b->cap * sizeof *b->sel_buf);
    if (!b->cols || !b->sel_buf)
        goto fail;
    for (int i = 0; i < ncols; i++)
        if (mr_column_init(&b->cols[i], types[i], b->cap) < 0)
            goto fail;
    return b;
fail:
    mr_batch_destroy(b);
    return NULL;
}

mr_batch *mr_batch_create(const mr_schema *s, size_t cap)
{
    mr_type *types = malloc((s->nfields > 0 ? (size_t)s->nfields : 1) * sizeof *types);
    if (!types)
        return NULL;
    for (int i = 0; i < s->nfields; i++)
        types[i] = s->fields[i].type;
    mr_batch *b = mr_batch_create_types(types, s->nfields, cap);
    free(types);
    return b;
}

void mr_batch_destroy(mr_batch *b)
{
    if (!b)
        return;
    if (b->cols)
        for (int i = 0; i < b->ncols; i++)
            mr_column_free(&b->cols[i]);
    free(b->cols);
    free(b->sel_buf);
    free(b);
}

void mr_batch_reset(mr_batch *b)
{
    b->nrows = 0;
    b->sel = NULL;
    b->nsel = 0;
}

int mr_batch_reserve(mr_batch *b, size_t rows)
{
    if (rows <= b->cap)
        return 0;
    for (int i = 0; i < b->ncols; i++)
        if (mr_column_reserve(&b->cols[i], rows) < 0)
            return MR_ENOMEM;
    uint32_t *s = realloc(b->sel_buf, rows * sizeof *s);
    if (!s)
        return MR_ENOMEM;
    if (b->sel == b->sel_buf)
        b->sel = s;
    b->sel_buf = s;
    b->cap = rows;
    return 0;
}

void mr_batch_compact(mr_batch *b)
{
    if (!b->sel)
        return;
    size_t n = b->nsel;
    for (int c = 0; c < b->ncols; c++) {
        mr_column *col = &b->cols[c];
        if (col->type.id == MR_T_STRING) {
            uint32_t pos = 0;
            for (size_t i = 0; i < n; i++) {
                uint32_t r = b->sel[i];
                uint32_t start = col->offsets[r], len = col->offsets[r + 1] - start;
                bool v = mr_column_is_valid(col, r);
                /* rows only move down and chars only move left: memmove is safe */
                memmove(col->chars + pos, col->chars + start, len);
                col->offsets[i] = pos;
                pos += len;
                col->offsets[i + 1] = pos;
                mr_column_set_valid(col, i, v);
            }
        } else {
            size_t w = mr_type_width(col->type);
            char *d = col->data;
            for (size_t i = 0; i < n; i++) {
                uint32_t r = b->sel[i];
                bool v = mr_column_is_valid(col, r);
                if (r != i)
                    memcpy(d + i * w, d + (size_t)r * w, w);
                mr_column_set_valid(col, i, v);
            }
        }
    }
    b->nrows = n;
    b->sel = NULL;
    b->nsel = 0;
}

size_t mr_batch_bytes(const mr_batch *b)
{
    size_t total = 0;
    for (int i = 0; i < b->ncols; i++) {
        const mr_column *c = &b->cols[i];
        total += (b->nrows + 7) / 8;
        if (c->type.id == MR_T_STRING)
            total += (b->nrows + 1) * 4 + (b->nrows ? c->offsets[b->nrows] : 0);
        else
            total += b->nrows * mr_type_width(c->type);
    }
    return total;
}
