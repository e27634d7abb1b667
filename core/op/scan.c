/* scan.c - the one scan operator: drives a format (core/formats/format.h)
 * over a split, batches its rows and applies the read's bad-row policy.
 *
 * A row is only counted (nrows++) once the format wrote all its columns,
 * so a bad record needs no undo: the next one overwrites its slots (a
 * string column's offsets[row+1] is recomputed from offsets[row]). */
#include "core/op/scan.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct scan {
    mr_op op;
    const mr_format *fmt;
    char *path;
    char *null_string; /* owned copy of opt.null_string; NULL when empty */
    uint32_t *fields;  /* owned copy of opt.fields; NULL when not given */
    char *filter;      /* owned copy of opt.filter; NULL when not given */
    mr_csv_options opt;
    uint64_t offset, length; /* the split, opened by open() */
    void *src;
    mr_batch *batch;
    bool done;
    mr_badrows bad;
} scan;

static const mr_op_vtable scan_vt;

static int scan_open(mr_op *op, mr_exec_ctx *ctx, mr_err *err)
{
    (void)ctx;
    scan *s = (scan *)op;
    if (!s->batch) {
        s->batch = mr_batch_create(op->schema, MR_BATCH_ROWS);
        if (!s->batch)
            return mr_err_oom(err, op->node);
    }
    if (!s->src) {
        int rc = s->fmt->open(s->path, s->offset, s->length, op->schema, &s->opt, &s->src, err);
        if (rc < 0) {
            s->src = NULL;
            mr_err_prefix(err, "node '%s'", op->node);
            return rc;
        }
    }
    return 0;
}

static int scan_next(mr_op *op, mr_batch **out, mr_err *err)
{
    scan *s = (scan *)op;
    if (!s->batch)
        return mr_err_set(err, MR_EINVAL, "node '%s': next() before open()", op->node);
    mr_batch *b = s->batch;
    mr_batch_reset(b);
    char why[900];
    while (!s->done && b->nrows < b->cap) {
        if (s->fmt->next_rows) { /* a columnar format's many rows at once */
            int64_t k = s->fmt->next_rows(s->src, b, b->cap - b->nrows, err);
            if (k < 0) {
                mr_err_prefix(err, "node '%s'", op->node);
                return (int)k;
            }
            if (k > 0) {
                b->nrows += (size_t)k;
                continue;
            }
        }
        mr_format_row row;
        int rc = s->fmt->next(s->src, b, &row, why, sizeof why, err);
        if (rc < 0) {
            mr_err_prefix(err, "node '%s'", op->node);
            return rc;
        }
        if (rc == 0) {
            s->done = true;
            break;
        }
        if (rc == MR_FORMAT_BAD) {
            char where[600];
            s->fmt->where(s->src, where, sizeof where);
            rc = mr_badrows_handle(&s->bad, op->node, where, why, row.raw, row.raw_len,
                                   s->bad.on_error == MR_CSV_REJECT ? s->fmt->line(s->src) : -1,
                                   row.offset, err);
            if (rc < 0)
                return rc;
            continue;
        }
        b->nrows++;
    }
    if (b->nrows == 0)
        return MR_NEXT_DONE;
    *out = b;
    return MR_NEXT_BATCH;
}

static void scan_close(mr_op *op)
{
    scan *s = (scan *)op;
    if (s->src)
        s->fmt->close(s->src);
    mr_batch_destroy(s->batch);
    mr_badrows_free(&s->bad);
    mr_schema_destroy(op->schema);
    free(s->null_string);
    free(s->fields);
    free(s->filter);
    free(s->path);
    free(s);
}

static const mr_op_vtable scan_vt = {
    .name = "scan",
    .open = scan_open,
    .next = scan_next,
    .close = scan_close,
};

mr_op *mr_scan_create(const mr_format *fmt, const char *path, uint64_t offset, uint64_t length,
                      const mr_schema *schema, const mr_csv_options *opt, const char *node,
                      mr_err *err)
{
    const char *nd = node ? node : "";
    if (!schema || schema->nfields <= 0) {
        mr_err_set(err, MR_EINVAL, "node '%s': a %s scan needs a schema with columns", nd,
                   fmt->title);
        return NULL;
    }
    scan *s = calloc(1, sizeof *s);
    if (!s) {
        mr_err_oom(err, nd);
        return NULL;
    }
    mr_op_init(&s->op, &scan_vt, NULL, nd);
    s->fmt = fmt;
    if (opt)
        s->opt = *opt;
    else
        mr_csv_options_init(&s->opt);
    s->path = strdup(path);
    mr_badrows_init(&s->bad, s->opt.on_error, s->opt.max_errors, s->path);
    s->op.schema = mr_schema_copy(schema);
    if (s->opt.null_string && s->opt.null_string[0])
        s->null_string = strdup(s->opt.null_string);
    s->opt.null_string = s->null_string;
    if (s->opt.fields) {
        size_t nb = (size_t)schema->nfields * sizeof *s->fields;
        s->fields = malloc(nb);
        if (s->fields)
            memcpy(s->fields, s->opt.fields, nb);
    }
    s->opt.fields = s->fields;
    if (s->opt.filter)
        s->filter = strdup(s->opt.filter);
    s->opt.filter = s->filter;
    bool want_null = opt && opt->null_string && opt->null_string[0];
    bool want_fields = opt && opt->fields, want_filter = opt && opt->filter;
    if (!s->path || !s->op.schema || (want_null && !s->null_string) ||
        (want_fields && !s->fields) || (want_filter && !s->filter)) {
        mr_err_oom(err, nd);
        mr_op_close(&s->op);
        return NULL;
    }
    s->offset = offset;
    s->length = length;
    return &s->op;
}

const mr_format *mr_scan_format(const mr_op *op)
{
    return op && op->vt == &scan_vt ? ((const scan *)op)->fmt : NULL;
}

int mr_scan_rejects(mr_op *op, const mr_reject **rows, size_t *n)
{
    if (!mr_scan_format(op))
        return MR_EINVAL;
    scan *s = (scan *)op;
    *rows = s->bad.rejects;
    *n = s->bad.n;
    return 0;
}

uint64_t mr_scan_bytes_read(const mr_op *op)
{
    const scan *s = mr_scan_format(op) ? (const scan *)op : NULL;
    return s && s->src ? s->fmt->bytes(s->src) : 0;
}

uint64_t mr_scan_groups_skipped(const mr_op *op)
{
    const scan *s = mr_scan_format(op) ? (const scan *)op : NULL;
    return s && s->src && s->fmt->groups_skipped ? s->fmt->groups_skipped(s->src) : 0;
}

uint64_t mr_scan_bad_rows(const mr_op *op)
{
    return mr_scan_format(op) ? ((const scan *)op)->bad.count : 0;
}
