/* testutil.h - helpers the operator unit tests share: schemas from arrays,
 * rows from text, and a source operator over prepared batches.
 * Include after <cmocka.h>.  Everything is static inline so each test
 * program takes only what it uses.
 */
#ifndef MR_TESTUTIL_H
#define MR_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/batch.h"
#include "core/op.h"
#include "core/op/source.h"
#include "core/types.h"

static inline mr_schema *tu_schema(int n, const char *const *names, const mr_type *types)
{
    mr_schema *s = mr_schema_create(n);
    assert_non_null(s);
    for (int i = 0; i < n; i++)
        assert_int_equal(mr_schema_set(s, i, names[i], types[i]), 0);
    return s;
}

/* Appends one row written as "v1|v2|..." ("NULL" for NULL; numbers,
 * decimals, dates and timestamps in their text forms) to b. */
static inline void tu_add_row(mr_batch *b, const char *line)
{
    size_t r = b->nrows;
    assert_int_equal(mr_batch_reserve(b, r + 1), 0);
    const char *p = line;
    for (int c = 0; c < b->ncols; c++) {
        const char *e = strchr(p, '|');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        mr_column *col = &b->cols[c];
        mr_err err;
        if (n == 4 && memcmp(p, "NULL", 4) == 0) {
            if (col->type.id == MR_T_STRING)
                mr_column_set_str_null(col, r);
            else
                mr_column_set_valid(col, r, false);
        } else {
            int rc = 0;
            switch (col->type.id) {
            case MR_T_STRING: rc = mr_column_set_str(col, r, p, n); break;
            case MR_T_BOOL: rc = mr_parse_bool(p, n, &MR_COL_U8(col)[r], &err); break;
            case MR_T_INT32: rc = mr_parse_int32(p, n, &MR_COL_I32(col)[r], &err); break;
            case MR_T_DATE: rc = mr_parse_date(p, n, &MR_COL_I32(col)[r], &err); break;
            case MR_T_INT64: rc = mr_parse_int64(p, n, &MR_COL_I64(col)[r], &err); break;
            case MR_T_TIMESTAMP: rc = mr_parse_timestamp(p, n, &MR_COL_I64(col)[r], &err); break;
            case MR_T_TIMESTAMPTZ:
                rc = mr_parse_timestamptz(p, n, &MR_COL_I64(col)[r], NULL, &err);
                break;
            case MR_T_FLOAT64: rc = mr_parse_float64(p, n, &MR_COL_F64(col)[r], &err); break;
            case MR_T_DECIMAL:
                rc = mr_parse_decimal(p, n, col->type.precision, col->type.scale,
                                      &MR_COL_I64(col)[r], &err);
                break;
            default: fail_msg("type not supported by the test helper");
            }
            assert_int_equal(rc, 0);
            mr_column_set_valid(col, r, true);
        }
        p = e ? e + 1 : p + n;
    }
    b->nrows = r + 1;
}

/* Batches a source operator hands out in turn; it destroys them on close
 * and counts closes in *closed when set. */
typedef struct tu_feed {
    mr_batch **b;
    int n, i;
    int *closed;
} tu_feed;

static inline int tu_feed_next(void *ctx, mr_batch **out, mr_err *err)
{
    (void)err;
    tu_feed *f = ctx;
    if (f->i >= f->n)
        return MR_NEXT_DONE;
    *out = f->b[f->i++];
    return MR_NEXT_BATCH;
}

static inline void tu_feed_close(void *ctx)
{
    tu_feed *f = ctx;
    for (int i = 0; i < f->n; i++)
        mr_batch_destroy(f->b[i]);
    free(f->b);
    if (f->closed)
        (*f->closed)++;
    free(f);
}

/* A source over bs[0..n) (it takes them); *fp, when given, gets the feed. */
static inline mr_op *tu_source_batches(const mr_schema *s, mr_batch **bs, int n, tu_feed **fp)
{
    tu_feed *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->b = calloc((size_t)n + 1, sizeof *f->b);
    assert_non_null(f->b);
    for (int i = 0; i < n; i++)
        f->b[i] = bs[i];
    f->n = n;
    if (fp)
        *fp = f;
    mr_op *op = mr_source_create(s, tu_feed_next, tu_feed_close, f, "src");
    assert_non_null(op);
    return op;
}

/* Writes row r of c in text form ("NULL" for NULL; floats to 10 digits). */
static inline void tu_fmt_value(const mr_column *c, size_t r, char *buf, size_t cap)
{
    if (!mr_column_is_valid(c, r)) {
        snprintf(buf, cap, "NULL");
        return;
    }
    switch (c->type.id) {
    case MR_T_STRING: {
        size_t n;
        const char *s = mr_column_str(c, r, &n);
        snprintf(buf, cap, "%.*s", (int)n, s);
        break;
    }
    case MR_T_BOOL: snprintf(buf, cap, "%s", MR_COL_U8(c)[r] ? "true" : "false"); break;
    case MR_T_INT32: snprintf(buf, cap, "%d", MR_COL_I32(c)[r]); break;
    case MR_T_DATE: mr_format_date(MR_COL_I32(c)[r], buf, cap); break;
    case MR_T_INT64: snprintf(buf, cap, "%lld", (long long)MR_COL_I64(c)[r]); break;
    case MR_T_TIMESTAMP: mr_format_timestamp(MR_COL_I64(c)[r], buf, cap); break;
    case MR_T_TIMESTAMPTZ: mr_format_timestamptz(MR_COL_I64(c)[r], buf, cap); break;
    case MR_T_FLOAT64: snprintf(buf, cap, "%.10g", MR_COL_F64(c)[r]); break;
    case MR_T_DECIMAL: mr_format_decimal(MR_COL_I64(c)[r], c->type.scale, buf, cap); break;
    default: snprintf(buf, cap, "?");
    }
}

/* Rows as text lines ("v1|v2|..."), to compare outputs as multisets. */
typedef struct tu_lines {
    char **v;
    size_t n, cap;
} tu_lines;

static inline void tu_lines_add(tu_lines *l, const char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        assert_non_null(l->v);
    }
    l->v[l->n++] = strdup(s);
}

/* Appends every live row of b. */
static inline void tu_lines_add_batch(tu_lines *l, const mr_batch *b)
{
    for (size_t i = 0; i < mr_batch_live(b); i++) {
        uint32_t r = mr_batch_row(b, i);
        char line[1024] = "", v[256];
        for (int c = 0; c < b->ncols; c++) {
            tu_fmt_value(&b->cols[c], r, v, sizeof v);
            if (c && strlen(line) + 1 < sizeof line) /* long rows are cut, not overrun */
                strcat(line, "|");
            strncat(line, v, sizeof line - strlen(line) - 1);
        }
        tu_lines_add(l, line);
    }
}

static inline int tu_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static inline void tu_lines_sort(tu_lines *l)
{
    if (l->n)
        qsort(l->v, l->n, sizeof *l->v, tu_cmp_str);
}

static inline void tu_lines_free(tu_lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

#endif
