/* format_csv.c - CSV as a format of the scan operator: records from a
 * core/csv.h reader over one split, each field parsed straight into the
 * scan's batch.
 *
 * Numbers, dates and timestamps go through core/text.c, strings are copied
 * into the column's chars buffer after a UTF-8 check.  Nothing is
 * allocated per row.
 *
 * Header matching.  With a header, schema column i is read from the file's
 * field map[i], found by name (core/csv.h), so every file of a glob may
 * order its columns its own way.  Only the split at offset 0 meets the
 * header line; rather than have the coordinator read every file's header
 * and ship a mapping in each task, every split reads its own file's first
 * record when it is opened: one extra open and a read of a few KB next to
 * the megabytes the split then scans, one code path for all splits, and
 * every file of a glob checked by its own tasks.  Without a header, fields
 * are positional (map[i] = i, or the field the plan names when column
 * pruning left some out: mr_csv_options.fields).  Fields that no schema
 * column maps to are split off but never converted or UTF-8 checked.
 */
#include "core/formats/format.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/op/scan.h"
#include "core/op/scan_csv.h"
#include "core/utf8.h"

typedef struct csv_src {
    mr_csv_reader *rd;
    const mr_schema *schema;
    const char *null_string; /* NULL: the empty field is NULL */
    bool schema_inferred;
    int *map;    /* map[i]: the field holding schema column i */
    int nfields; /* fields a good record has: the header's, or the schema's */
} csv_src;

static inline bool is_blank(char c) { return c == ' ' || c == '\t'; }

/* Parses field f into row `row` of column c (column col of the schema).
 * Returns 0, 1 (bad value: `why` holds the reason) or MR_ENOMEM. */
static int put_field(const csv_src *s, mr_column *c, int col, size_t row, const mr_csv_field *f,
                     char *why, size_t cap)
{
    const char *colname = s->schema->fields[col].name;
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
    case MR_T_TIMESTAMPTZ:
        rc = mr_parse_timestamptz(p, n, &MR_COL_I64(c)[row], NULL, &e);
        break;
    default:
        snprintf(why, cap, "column '%s': unsupported type", colname);
        return 1;
    }
    if (rc < 0) {
        int w = snprintf(why, cap, "column '%.100s': %.300s", colname, e.msg);
        if (s->schema_inferred && w > 0 && (size_t)w < cap)
            mr_csv_inferred_hint(s->schema, col, p, n, why + w, cap - (size_t)w);
        return 1;
    }
    mr_column_set_valid(c, row, true);
    return 0;
}

static int csv_next(void *src, mr_batch *b, mr_format_row *out, char *why, size_t cap,
                    mr_err *err)
{
    csv_src *s = src;
    mr_csv_record rec;
    int rc = mr_csv_reader_next(s->rd, &rec, err);
    if (rc <= 0)
        return rc;
    int bad = 0;
    if (rec.error) {
        snprintf(why, cap, "%s", rec.error);
        bad = 1;
    } else if (rec.nfields != s->nfields) {
        snprintf(why, cap, "expected %d fields, found %d", s->nfields, rec.nfields);
        bad = 1;
    } else {
        for (int i = 0; i < s->schema->nfields && !bad; i++) {
            bad = put_field(s, &b->cols[i], i, b->nrows, &rec.fields[s->map[i]], why, cap);
            if (bad < 0)
                return mr_err_oom(err, NULL);
        }
    }
    if (!bad)
        return MR_FORMAT_ROW;
    out->raw = rec.raw;
    out->raw_len = rec.raw_len;
    out->offset = rec.offset;
    return MR_FORMAT_BAD;
}

static void csv_close(void *src)
{
    csv_src *s = src;
    if (!s)
        return;
    mr_csv_reader_close(s->rd);
    free(s->map);
    free(s);
}

/* Sets s->map and s->nfields: by header name with a header (see the top of
 * the file), by position without.  0 or a negative code. */
static int map_columns(csv_src *s, const char *path, const mr_csv_options *opt, mr_err *err)
{
    const mr_schema *sc = s->schema;
    s->map = malloc((size_t)sc->nfields * sizeof *s->map);
    if (!s->map)
        return mr_err_oom(err, NULL);
    for (int i = 0; i < sc->nfields; i++)
        s->map[i] = opt->fields ? (int)opt->fields[i] : i;
    s->nfields = opt->fields ? opt->nfields : sc->nfields;
    for (int i = 0; i < sc->nfields; i++)
        if (s->map[i] < 0 || s->map[i] >= s->nfields)
            return mr_err_set(err, MR_EINVAL, "column '%s' is read from field %d of %d",
                              sc->fields[i].name, s->map[i] + 1, s->nfields);
    if (!opt->header)
        return 0;
    mr_schema *hdr = NULL;
    int rc = mr_csv_read_header(path, opt, &hdr, err);
    if (rc < 0 || !hdr)
        return rc; /* no header: an empty file, no rows to map */
    rc = mr_csv_header_map(hdr, sc, path, s->map, err);
    s->nfields = hdr->nfields;
    mr_schema_destroy(hdr);
    return rc;
}

static int csv_open(const char *path, uint64_t offset, uint64_t length, const mr_schema *schema,
                    const mr_csv_options *opt, void **out, mr_err *err)
{
    *out = NULL;
    mr_csv_options o;
    if (opt)
        o = *opt;
    else
        mr_csv_options_init(&o);
    csv_src *s = calloc(1, sizeof *s);
    if (!s)
        return mr_err_oom(err, NULL);
    s->schema = schema;
    s->null_string = o.null_string && o.null_string[0] ? o.null_string : NULL;
    s->schema_inferred = o.schema_inferred;
    int rc = mr_csv_reader_open(path, offset, length, &o, &s->rd, err);
    if (rc < 0 || (rc = map_columns(s, path, &o, err)) < 0) {
        csv_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

static int64_t csv_line(void *src) { return mr_csv_reader_line(((csv_src *)src)->rd); }

static const char *csv_where(void *src, char *buf, size_t cap)
{
    return mr_csv_reader_where(((csv_src *)src)->rd, buf, cap);
}

static uint64_t csv_bytes(const void *src) { return mr_csv_reader_bytes(((const csv_src *)src)->rd); }

const mr_format mr_format_csv = {
    .name = "csv",
    .title = "CSV",
    .open = csv_open,
    .next = csv_next,
    .line = csv_line,
    .where = csv_where,
    .bytes = csv_bytes,
    .close = csv_close,
    .infer = mr_csv_infer_schema,
};

const mr_format *mr_format_find(const char *name)
{
    static const mr_format *const all[] = {&mr_format_csv, &mr_format_jsonl, &mr_format_parquet};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(all[i]->name, name) == 0)
            return all[i];
    return NULL;
}

/* ---- the CSV scan's names (core/op/scan_csv.h) ---------------------------- */

mr_op *mr_scan_csv_create(const char *path, uint64_t offset, uint64_t length,
                          const mr_schema *schema, const mr_csv_options *opt, const char *node,
                          mr_err *err)
{
    return mr_scan_create(&mr_format_csv, path, offset, length, schema, opt, node, err);
}

int mr_scan_csv_rejects(mr_op *op, const mr_reject **rows, size_t *n)
{
    return mr_scan_format(op) == &mr_format_csv ? mr_scan_rejects(op, rows, n) : MR_EINVAL;
}

uint64_t mr_scan_csv_bytes_read(const mr_op *op)
{
    return mr_scan_format(op) == &mr_format_csv ? mr_scan_bytes_read(op) : 0;
}

uint64_t mr_scan_csv_bad_rows(const mr_op *op)
{
    return mr_scan_format(op) == &mr_format_csv ? mr_scan_bad_rows(op) : 0;
}
