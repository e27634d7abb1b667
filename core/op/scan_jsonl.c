/* scan_jsonl.c - the JSON Lines scan operator.
 *
 * Per line: the core/jsonl.h parser lists the top-level members; each key is
 * matched to a column (first the column at the member's position, since
 * files usually keep one key order, else a small hash table of column
 * names), giving per column the index of its member or -1; then every
 * column is written in order, straight into the output batch's buffers.
 * Nothing is allocated per row; the parser reuses its scratch.
 *
 * As in scan_csv.c a row is only counted (nrows++) once all its columns
 * converted, so a bad row needs no undo: the next row overwrites its slots,
 * and a string column's offsets[row+1] is recomputed from offsets[row].
 * Bad rows follow on_error; rejected rows (mr_reject, shared with the CSV
 * scan) are kept in a growing array owned by the operator.
 */
#include "core/op/scan_jsonl.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/jsonl.h"

typedef struct scan_jsonl {
    mr_op op;
    char *path;
    mr_jsonl_reader *rd;
    mr_jsonl_parser *parser;
    mr_batch *batch;
    int *member;     /* per column: index of its member in the line, or -1 */
    int *slots;      /* name table: column + 1, or 0 */
    size_t *namelen; /* per column */
    size_t mask;
    bool done;
    bool schema_inferred; /* a bad value's message names the type that fits */
    mr_badrows bad;
} scan_jsonl;

static const mr_op_vtable scan_jsonl_vt;

static int find_col(const scan_jsonl *s, const char *key, size_t len, int hint)
{
    const mr_schema *sc = s->op.schema;
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

/* Applies on_error to a bad line.  0 to go on, or a negative code. */
static int bad_row(scan_jsonl *s, const char *line, size_t n, uint64_t off, const char *why,
                   mr_err *err)
{
    char where[600];
    mr_jsonl_reader_where(s->rd, where, sizeof where);
    return mr_badrows_handle(&s->bad, s->op.node, where, why, line, n,
                             s->bad.on_error == MR_CSV_REJECT ? mr_jsonl_reader_line(s->rd) : -1,
                             off, err);
}

static int scan_jsonl_open(mr_op *op, mr_err *err)
{
    scan_jsonl *s = (scan_jsonl *)op;
    if (!s->batch) {
        s->batch = mr_batch_create(op->schema, MR_BATCH_ROWS);
        if (!s->batch)
            return mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", op->node);
    }
    return 0;
}

static int scan_jsonl_next(mr_op *op, mr_batch **out, mr_err *err)
{
    scan_jsonl *s = (scan_jsonl *)op;
    if (!s->batch)
        return mr_err_set(err, MR_EINVAL, "node '%s': next() before open()", op->node);
    mr_batch *b = s->batch;
    mr_batch_reset(b);
    const mr_schema *sc = op->schema;
    char why[900];
    while (!s->done && b->nrows < b->cap) {
        const char *line;
        size_t n;
        uint64_t off;
        int rc = mr_jsonl_reader_next(s->rd, &line, &n, &off, err);
        if (rc < 0) {
            mr_err_prefix(err, "node '%s'", op->node);
            return rc;
        }
        if (rc == 0) {
            s->done = true;
            break;
        }
        const mr_jsonl_field *f;
        mr_err perr;
        int nf = mr_jsonl_parse(s->parser, line, n, &f, &perr);
        int bad = 0;
        if (nf == MR_ENOMEM)
            return mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", op->node);
        if (nf < 0) {
            snprintf(why, sizeof why, "%.800s", perr.msg);
            bad = 1;
        } else {
            for (int c = 0; c < sc->nfields; c++)
                s->member[c] = -1;
            for (int i = 0; i < nf; i++) {
                int c = find_col(s, f[i].key, f[i].key_len, i);
                if (c >= 0)
                    s->member[c] = i;
            }
            size_t row = b->nrows;
            for (int c = 0; c < sc->nfields && !bad; c++) {
                const mr_jsonl_field *m = s->member[c] >= 0 ? &f[s->member[c]] : NULL;
                bad = put_value(&b->cols[c], sc->fields[c].name, row, m,
                                s->schema_inferred ? sc : NULL, c, why, sizeof why);
                if (bad < 0)
                    return mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", op->node);
            }
        }
        if (bad) {
            if ((rc = bad_row(s, line, n, off, why, err)) < 0)
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

static void scan_jsonl_close(mr_op *op)
{
    scan_jsonl *s = (scan_jsonl *)op;
    mr_jsonl_reader_close(s->rd);
    mr_jsonl_parser_destroy(s->parser);
    mr_batch_destroy(s->batch);
    mr_badrows_free(&s->bad);
    free(s->member);
    free(s->slots);
    free(s->namelen);
    mr_schema_destroy(op->schema);
    free(s->path);
    free(s);
}

static const mr_op_vtable scan_jsonl_vt = {
    .name = "scan_jsonl",
    .open = scan_jsonl_open,
    .next = scan_jsonl_next,
    .close = scan_jsonl_close,
};

mr_op *mr_scan_jsonl_create(const char *path, uint64_t offset, uint64_t length,
                            const mr_schema *schema, const mr_csv_options *opt, const char *node,
                            mr_err *err)
{
    const char *nd = node ? node : "";
    if (!schema || schema->nfields <= 0) {
        mr_err_set(err, MR_EINVAL, "node '%s': a JSON Lines scan needs a schema with columns", nd);
        return NULL;
    }
    scan_jsonl *s = calloc(1, sizeof *s);
    if (!s) {
        mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", nd);
        return NULL;
    }
    mr_op_init(&s->op, &scan_jsonl_vt, NULL, nd);
    s->path = strdup(path);
    s->schema_inferred = opt && opt->schema_inferred;
    mr_badrows_init(&s->bad, opt ? opt->on_error : MR_CSV_FAIL, opt ? opt->max_errors : -1,
                    s->path);
    s->op.schema = mr_schema_copy(schema);
    s->parser = mr_jsonl_parser_create();
    const size_t nc = (size_t)schema->nfields;
    size_t nslots = 16;
    while (nslots < nc * 2)
        nslots *= 2;
    s->mask = nslots - 1;
    s->slots = calloc(nslots, sizeof *s->slots);
    s->member = malloc(nc * sizeof *s->member);
    s->namelen = malloc(nc * sizeof *s->namelen);
    if (!s->path || !s->op.schema || !s->parser || !s->slots || !s->member || !s->namelen) {
        mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", nd);
        scan_jsonl_close(&s->op);
        return NULL;
    }
    for (size_t c = 0; c < nc; c++) {
        const char *name = s->op.schema->fields[c].name;
        s->namelen[c] = strlen(name);
        size_t pos = mr_hash_bytes(name, s->namelen[c], 0) & s->mask;
        while (s->slots[pos])
            pos = (pos + 1) & s->mask;
        s->slots[pos] = (int)c + 1;
    }
    int rc = mr_jsonl_reader_open(path, offset, length, &s->rd, err);
    if (rc < 0) {
        mr_err_prefix(err, "node '%s'", nd);
        scan_jsonl_close(&s->op);
        return NULL;
    }
    return &s->op;
}

int mr_scan_jsonl_rejects(mr_op *op, const mr_reject **rows, size_t *n)
{
    if (!op || op->vt != &scan_jsonl_vt)
        return MR_EINVAL;
    scan_jsonl *s = (scan_jsonl *)op;
    *rows = s->bad.rejects;
    *n = s->bad.n;
    return 0;
}

uint64_t mr_scan_jsonl_bytes_read(const mr_op *op)
{
    if (!op || op->vt != &scan_jsonl_vt)
        return 0;
    return mr_jsonl_reader_bytes(((const scan_jsonl *)op)->rd);
}

uint64_t mr_scan_jsonl_bad_rows(const mr_op *op)
{
    if (!op || op->vt != &scan_jsonl_vt)
        return 0;
    return ((const scan_jsonl *)op)->bad.count;
}
