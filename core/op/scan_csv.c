/* scan_csv.c - the CSV scan operator.
 *
 * Reads records from a core/csv.h reader over one split and parses each
 * field straight into the output batch's column buffers: numbers, dates
 * and timestamps through core/text.c, strings copied into the column's
 * chars buffer (after a UTF-8 check).  Nothing is allocated per row; the
 * batch is created once in open() and reset for every next().
 *
 * A row is written into batch row b->nrows and only counted (nrows++)
 * when every field parsed.  A bad row therefore needs no undo: fixed-width
 * slots and validity bits are simply written again by the next row, and a
 * string column's offsets[row+1] is recomputed from offsets[row].
 *
 * Bad rows follow on_error (see scan_csv.h).  Rejected rows are kept in a
 * growing array owned by the operator; their reason and raw text are
 * allocated per rejected row, which is acceptable since bad rows are the
 * exception and are bounded by max_errors when the user sets one.
 *
 * The reader is opened by the constructor (so a missing file is reported
 * when the plan is built), the batch by open(); close() frees everything.
 *
 * Header matching.  With a header, schema column i is read from the file's
 * field map[i], found by name (core/csv.h), so every file of a glob may
 * order its columns its own way.  Only the split at offset 0 meets the
 * header line; rather than have the coordinator read every file's header
 * and ship a mapping in each task, every split reads its own file's first
 * record when it is created: one extra open and a read of a few KB next to
 * the megabytes the split then scans, one code path for all splits, and
 * every file of a glob checked by its own tasks.  Without a header, fields
 * are positional (map[i] = i).
 */
#include "core/op/scan_csv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"

typedef struct scan_csv {
    mr_op op;
    char *path;
    char *null_string; /* owned copy; NULL when empty means NULL */
    mr_csv_options opt;
    mr_csv_reader *rd;
    mr_batch *batch;
    bool done;
    mr_badrows bad;
    int *map;    /* map[i]: the field holding schema column i */
    int nfields; /* fields a good record has: the header's, or the schema's */
} scan_csv;

static const mr_op_vtable scan_csv_vt;

static int scan_csv_open(mr_op *op, mr_err *err)
{
    scan_csv *s = (scan_csv *)op;
    if (!s->batch) {
        s->batch = mr_batch_create(op->schema, MR_BATCH_ROWS);
        if (!s->batch)
            return mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", op->node);
    }
    return 0;
}

static inline bool is_blank(char c) { return c == ' ' || c == '\t'; }

/* Parses field f into row `row` of column c.  Returns 0, 1 (bad value:
 * `why` holds the reason) or MR_ENOMEM. */
static int put_field(const scan_csv *s, mr_column *c, const char *colname, size_t row,
                     const mr_csv_field *f, char *why, size_t cap)
{
    const char *p = f->p;
    size_t n = f->len;
    const uint8_t id = c->type.id;
    bool is_null;
    if (s->null_string)
        is_null = !f->quoted && n == strlen(s->null_string) && memcmp(p, s->null_string, n) == 0;
    else
        is_null = n == 0 && (!f->quoted || id != MR_T_STRING);
    if (id == MR_T_STRING) {
        if (is_null) {
            mr_column_set_str_null(c, row);
            return 0;
        }
        if (!mr_utf8_valid(p, n)) {
            snprintf(why, cap, "column '%s': invalid UTF-8", colname);
            return 1;
        }
        return mr_column_set_str(c, row, p, n) < 0 ? MR_ENOMEM : 0;
    }
    while (n > 0 && is_blank(*p)) {
        p++;
        n--;
    }
    while (n > 0 && is_blank(p[n - 1]))
        n--;
    if (is_null || n == 0) {
        memset((char *)c->data + row * mr_type_width(c->type), 0, mr_type_width(c->type));
        mr_column_set_valid(c, row, false);
        return 0;
    }
    mr_err e;
    int rc;
    switch (id) {
    case MR_T_BOOL: rc = mr_parse_bool(p, n, &MR_COL_U8(c)[row], &e); break;
    case MR_T_INT32: rc = mr_parse_int32(p, n, &MR_COL_I32(c)[row], &e); break;
    case MR_T_INT64: rc = mr_parse_int64(p, n, &MR_COL_I64(c)[row], &e); break;
    case MR_T_FLOAT64: rc = mr_parse_float64(p, n, &MR_COL_F64(c)[row], &e); break;
    case MR_T_DECIMAL:
        rc = mr_parse_decimal(p, n, c->type.precision, c->type.scale, &MR_COL_I64(c)[row], &e);
        break;
    case MR_T_DATE: rc = mr_parse_date(p, n, &MR_COL_I32(c)[row], &e); break;
    case MR_T_TIMESTAMP: rc = mr_parse_timestamp(p, n, &MR_COL_I64(c)[row], &e); break;
    default:
        snprintf(why, cap, "column '%s': unsupported type", colname);
        return 1;
    }
    if (rc < 0) {
        int w = snprintf(why, cap, "column '%.100s': %.300s", colname, e.msg);
        if (s->opt.schema_inferred && w > 0 && (size_t)w < cap) {
            int col = (int)(c - s->batch->cols);
            mr_csv_inferred_hint(s->op.schema, col, p, n, why + w, cap - (size_t)w);
        }
        return 1;
    }
    mr_column_set_valid(c, row, true);
    return 0;
}

/* Applies on_error to a bad row.  0 to go on, or a negative code. */
static int bad_row(scan_csv *s, const mr_csv_record *rec, const char *why, mr_err *err)
{
    char where[600];
    mr_csv_reader_where(s->rd, where, sizeof where);
    return mr_badrows_handle(&s->bad, s->op.node, where, why, rec->raw, rec->raw_len,
                             s->opt.on_error == MR_CSV_REJECT ? mr_csv_reader_line(s->rd) : -1,
                             rec->offset, err);
}

static int scan_csv_next(mr_op *op, mr_batch **out, mr_err *err)
{
    scan_csv *s = (scan_csv *)op;
    if (!s->batch)
        return mr_err_set(err, MR_EINVAL, "node '%s': next() before open()", op->node);
    mr_batch *b = s->batch;
    mr_batch_reset(b);
    const mr_schema *sc = op->schema;
    char why[768];
    while (!s->done && b->nrows < b->cap) {
        mr_csv_record rec;
        int rc = mr_csv_reader_next(s->rd, &rec, err);
        if (rc < 0) {
            mr_err_prefix(err, "node '%s'", op->node);
            return rc;
        }
        if (rc == 0) {
            s->done = true;
            break;
        }
        int bad = 0;
        if (rec.error) {
            snprintf(why, sizeof why, "%s", rec.error);
            bad = 1;
        } else if (rec.nfields != s->nfields) {
            snprintf(why, sizeof why, "expected %d fields, found %d", s->nfields, rec.nfields);
            bad = 1;
        } else {
            size_t row = b->nrows;
            for (int i = 0; i < sc->nfields && !bad; i++) {
                bad = put_field(s, &b->cols[i], sc->fields[i].name, row, &rec.fields[s->map[i]],
                                why, sizeof why);
                if (bad < 0)
                    return mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", op->node);
            }
        }
        if (bad) {
            if ((rc = bad_row(s, &rec, why, err)) < 0)
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

static void scan_csv_close(mr_op *op)
{
    scan_csv *s = (scan_csv *)op;
    mr_csv_reader_close(s->rd);
    mr_batch_destroy(s->batch);
    mr_badrows_free(&s->bad);
    mr_schema_destroy(op->schema);
    free(s->map);
    free(s->null_string);
    free(s->path);
    free(s);
}

static const mr_op_vtable scan_csv_vt = {
    .name = "scan_csv",
    .open = scan_csv_open,
    .next = scan_csv_next,
    .close = scan_csv_close,
};

/* Sets s->map and s->nfields: by header name with a header (see the top of
 * the file), by position without.  0 or a negative code. */
static int map_columns(scan_csv *s, mr_err *err)
{
    const mr_schema *sc = s->op.schema;
    s->map = malloc((size_t)sc->nfields * sizeof *s->map);
    if (!s->map)
        return mr_err_set(err, MR_ENOMEM, "out of memory");
    for (int i = 0; i < sc->nfields; i++)
        s->map[i] = i;
    s->nfields = sc->nfields;
    if (!s->opt.header)
        return 0;
    mr_schema *hdr = NULL;
    int rc = mr_csv_read_header(s->path, &s->opt, &hdr, err);
    if (rc < 0 || !hdr)
        return rc; /* no header: an empty file, no rows to map */
    rc = mr_csv_header_map(hdr, sc, s->path, s->map, err);
    s->nfields = hdr->nfields;
    mr_schema_destroy(hdr);
    return rc;
}

mr_op *mr_scan_csv_create(const char *path, uint64_t offset, uint64_t length,
                          const mr_schema *schema, const mr_csv_options *opt, const char *node,
                          mr_err *err)
{
    const char *nd = node ? node : "";
    if (!schema || schema->nfields <= 0) {
        mr_err_set(err, MR_EINVAL, "node '%s': a CSV scan needs a schema with columns", nd);
        return NULL;
    }
    scan_csv *s = calloc(1, sizeof *s);
    if (!s) {
        mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", nd);
        return NULL;
    }
    mr_op_init(&s->op, &scan_csv_vt, NULL, nd);
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
    bool want_null = opt && opt->null_string && opt->null_string[0];
    if (!s->path || !s->op.schema || (want_null && !s->null_string)) {
        mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", nd);
        scan_csv_close(&s->op);
        return NULL;
    }
    int rc = mr_csv_reader_open(path, offset, length, &s->opt, &s->rd, err);
    if (rc < 0 || (rc = map_columns(s, err)) < 0) {
        mr_err_prefix(err, "node '%s'", nd);
        scan_csv_close(&s->op);
        return NULL;
    }
    return &s->op;
}

int mr_scan_csv_rejects(mr_op *op, const mr_reject **rows, size_t *n)
{
    if (!op || op->vt != &scan_csv_vt)
        return MR_EINVAL;
    scan_csv *s = (scan_csv *)op;
    *rows = s->bad.rejects;
    *n = s->bad.n;
    return 0;
}

uint64_t mr_scan_csv_bytes_read(const mr_op *op)
{
    if (!op || op->vt != &scan_csv_vt)
        return 0;
    return mr_csv_reader_bytes(((const scan_csv *)op)->rd);
}

uint64_t mr_scan_csv_bad_rows(const mr_op *op)
{
    if (!op || op->vt != &scan_csv_vt)
        return 0;
    return ((const scan_csv *)op)->bad.count;
}
