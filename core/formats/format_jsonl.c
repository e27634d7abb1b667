/* format_jsonl.c - JSON Lines as a format of the scan operator.
 *
 * Per line: the core/jsonl.h parser lists the top-level members; each key is
 * matched to a column (first the column at the member's position, since
 * files usually keep one key order, else a small hash table of column
 * names), giving per column the index of its member or -1; then every
 * column is written in order, straight into the scan's batch.  Nothing is
 * allocated per row; the parser reuses its scratch.
 */
#include "core/formats/format.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/jsonl.h"
#include "core/op/scan.h"
#include "core/op/scan_jsonl.h"

typedef struct jsonl_src {
    const mr_schema *schema;
    mr_jsonl_reader *rd;
    mr_jsonl_parser *parser;
    int *member;     /* per column: index of its member in the line, or -1 */
    int *slots;      /* name table: column + 1, or 0 */
    size_t *namelen; /* per column */
    size_t mask;
    bool schema_inferred; /* a bad value's message names the type that fits */
} jsonl_src;

static int find_col(const jsonl_src *s, const char *key, size_t len, int hint)
{
    const mr_schema *sc = s->schema;
    if (hint < sc->nfields && s->namelen[hint] == len &&
        memcmp(sc->fields[hint].name, key, len) == 0)
        return hint;
    size_t pos = mr_hash_bytes(key, len, 0) & s->mask;
    while (s->slots[pos]) {
        int c = s->slots[pos] - 1;
        if (s->namelen[c] == len && memcmp(sc->fields[c].name, key, len) == 0)
            return c;
        pos = (pos + 1) & s->mask;
    }
    return -1;
}

static void set_null(mr_column *c, size_t row)
{
    if (c->type.id == MR_T_STRING) {
        mr_column_set_str_null(c, row);
        return;
    }
    memset((char *)c->data + row * mr_type_width(c->type), 0, mr_type_width(c->type));
    mr_column_set_valid(c, row, false);
}

/* After a bad value's reason in why (w bytes so far): when the schema was
 * inferred (inferred != NULL), the hint naming the type that would fit. */
static void add_hint(const mr_schema *inferred, int col, const mr_jsonl_field *f, char *why,
                     size_t cap, int w)
{
    if (inferred && w > 0 && (size_t)w < cap)
        mr_csv_inferred_hint(inferred, col, f->val, f->val_len, why + w, cap - (size_t)w);
}

/* Writes member f into row `row` of column c (column col of the schema
 * inferred, or NULL when it was given).  0, 1 (bad value, reason in why)
 * or MR_ENOMEM. */
static int put_value(mr_column *c, const char *colname, size_t row, const mr_jsonl_field *f,
                     const mr_schema *inferred, int col, char *why, size_t cap)
{
    const uint8_t id = c->type.id;
    if (!f || f->kind == MR_JSON_NULL) {
        set_null(c, row);
        return 0;
    }
    if (id == MR_T_STRING)
        return mr_column_set_str(c, row, f->val, f->val_len) < 0 ? MR_ENOMEM : 0;
    if (f->kind == MR_JSON_OBJECT || f->kind == MR_JSON_ARRAY ||
        ((f->kind == MR_JSON_TRUE || f->kind == MR_JSON_FALSE) && id != MR_T_BOOL)) {
        char tn[48];
        int w = snprintf(why, cap, "column '%.200s': a JSON %s is not a %s value", colname,
                         mr_json_kind_name(f->kind), mr_type_name(c->type, tn, sizeof tn));
        add_hint(inferred, col, f, why, cap, w);
        return 1;
    }
    if (id == MR_T_BOOL && (f->kind == MR_JSON_TRUE || f->kind == MR_JSON_FALSE)) {
        MR_COL_U8(c)[row] = f->kind == MR_JSON_TRUE;
        mr_column_set_valid(c, row, true);
        return 0;
    }
    const char *p = f->val;
    size_t n = f->val_len;
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
        snprintf(why, cap, "column '%.200s': unsupported type", colname);
        return 1;
    }
    if (rc < 0) {
        int w = snprintf(why, cap, "column '%.100s': %.300s", colname, e.msg);
        add_hint(inferred, col, f, why, cap, w);
        return 1;
    }
    mr_column_set_valid(c, row, true);
    return 0;
}

static int jsonl_next(void *src, mr_batch *b, mr_format_row *out, char *why, size_t cap,
                      mr_err *err)
{
    jsonl_src *s = src;
    const mr_schema *sc = s->schema;
    const char *line;
    size_t n;
    uint64_t off;
    int rc = mr_jsonl_reader_next(s->rd, &line, &n, &off, err);
    if (rc <= 0)
        return rc;
    const mr_jsonl_field *f;
    mr_err perr;
    int nf = mr_jsonl_parse(s->parser, line, n, &f, &perr);
    int bad = 0;
    if (nf == MR_ENOMEM)
        return mr_err_oom(err, NULL);
    if (nf < 0) {
        snprintf(why, cap, "%.800s", perr.msg);
        bad = 1;
    } else {
        for (int c = 0; c < sc->nfields; c++)
            s->member[c] = -1;
        for (int i = 0; i < nf; i++) {
            int c = find_col(s, f[i].key, f[i].key_len, i);
            if (c >= 0)
                s->member[c] = i;
        }
        for (int c = 0; c < sc->nfields && !bad; c++) {
            const mr_jsonl_field *m = s->member[c] >= 0 ? &f[s->member[c]] : NULL;
            bad = put_value(&b->cols[c], sc->fields[c].name, b->nrows, m,
                            s->schema_inferred ? sc : NULL, c, why, cap);
            if (bad < 0)
                return mr_err_oom(err, NULL);
        }
    }
    if (!bad)
        return MR_FORMAT_ROW;
    out->raw = line;
    out->raw_len = n;
    out->offset = off;
    return MR_FORMAT_BAD;
}

static void jsonl_close(void *src)
{
    jsonl_src *s = src;
    if (!s)
        return;
    mr_jsonl_reader_close(s->rd);
    mr_jsonl_parser_destroy(s->parser);
    free(s->member);
    free(s->slots);
    free(s->namelen);
    free(s);
}

static int jsonl_open(const char *path, uint64_t offset, uint64_t length, const mr_schema *schema,
                      const mr_csv_options *opt, void **out, mr_err *err)
{
    *out = NULL;
    jsonl_src *s = calloc(1, sizeof *s);
    if (!s)
        return mr_err_oom(err, NULL);
    s->schema = schema;
    s->schema_inferred = opt && opt->schema_inferred;
    s->parser = mr_jsonl_parser_create();
    const size_t nc = (size_t)schema->nfields;
    size_t nslots = 16;
    while (nslots < nc * 2)
        nslots *= 2;
    s->mask = nslots - 1;
    s->slots = calloc(nslots, sizeof *s->slots);
    s->member = malloc(nc * sizeof *s->member);
    s->namelen = malloc(nc * sizeof *s->namelen);
    if (!s->parser || !s->slots || !s->member || !s->namelen) {
        jsonl_close(s);
        return mr_err_oom(err, NULL);
    }
    for (size_t c = 0; c < nc; c++) {
        const char *name = schema->fields[c].name;
        s->namelen[c] = strlen(name);
        size_t pos = mr_hash_bytes(name, s->namelen[c], 0) & s->mask;
        while (s->slots[pos])
            pos = (pos + 1) & s->mask;
        s->slots[pos] = (int)c + 1;
    }
    int rc = mr_jsonl_reader_open_c(path, offset, length, opt ? opt->compression : 0, &s->rd, err);
    if (rc < 0) {
        jsonl_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

static int64_t jsonl_line(void *src) { return mr_jsonl_reader_line(((jsonl_src *)src)->rd); }

static const char *jsonl_where(void *src, char *buf, size_t cap)
{
    return mr_jsonl_reader_where(((jsonl_src *)src)->rd, buf, cap);
}

static uint64_t jsonl_bytes(const void *src)
{
    return mr_jsonl_reader_bytes(((const jsonl_src *)src)->rd);
}

/* JSON Lines inference takes no CSV options but the compression. */
static int jsonl_infer(const char *path, const mr_csv_options *opt, size_t sample_rows,
                       mr_schema **out, mr_err *err)
{
    return mr_jsonl_infer_schema_c(path, opt ? opt->compression : 0, sample_rows, out, err);
}

const mr_format mr_format_jsonl = {
    .name = "jsonl",
    .title = "JSON Lines",
    .open = jsonl_open,
    .next = jsonl_next,
    .line = jsonl_line,
    .where = jsonl_where,
    .bytes = jsonl_bytes,
    .close = jsonl_close,
    .infer = jsonl_infer,
};

/* ---- the JSON Lines scan's names (core/op/scan_jsonl.h) ------------------ */

mr_op *mr_scan_jsonl_create(const char *path, uint64_t offset, uint64_t length,
                            const mr_schema *schema, const mr_csv_options *opt, const char *node,
                            mr_err *err)
{
    return mr_scan_create(&mr_format_jsonl, path, offset, length, schema, opt, node, err);
}

int mr_scan_jsonl_rejects(mr_op *op, const mr_reject **rows, size_t *n)
{
    return mr_scan_format(op) == &mr_format_jsonl ? mr_scan_rejects(op, rows, n) : MR_EINVAL;
}

uint64_t mr_scan_jsonl_bytes_read(const mr_op *op)
{
    return mr_scan_format(op) == &mr_format_jsonl ? mr_scan_bytes_read(op) : 0;
}

uint64_t mr_scan_jsonl_bad_rows(const mr_op *op)
{
    return mr_scan_format(op) == &mr_format_jsonl ? mr_scan_bad_rows(op) : 0;
}
