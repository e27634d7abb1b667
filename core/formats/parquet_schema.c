/* parquet_schema.c - a Parquet file's footer and flat schema: opening the
 * file, reading and decoding its footer, listing its top-level fields and
 * mapping their physical and logical types to millrace types.
 *
 * A file ends with the Thrift-encoded FileMetaData, its 4-byte length and
 * the magic "PAR1".  The schema is a depth-first list of elements whose
 * first one is the root; a top-level field is a child of the root.  A
 * field that is a group (has children) or is repeated is nested: millrace
 * reads flat columns only, so it is an error when the read asks for it,
 * and its leaves are only counted (leaf columns are numbered depth-first,
 * which is the order of a row group's column chunks).
 *
 * Type mapping (docs/dag-format.md has the table): the logical type wins
 * over the older converted type when both are present. */
#include "core/formats/parquet_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Footers above this are refused rather than allocated. */
#define PQ_FOOTER_MAX (256u << 20)

int pq_pread(mr_file *f, void *buf, size_t n, uint64_t off, char *why, size_t cap)
{
    mr_err e;
    mr_err_clear(&e);
    int64_t r = mr_file_pread(f, buf, n, off, &e);
    if (r < 0) {
        snprintf(why, cap, "%.*s", cap > 0 ? (int)cap - 1 : 0, e.msg);
        return (int)r;
    }
    if ((size_t)r < n) {
        snprintf(why, cap, "the file is shorter than its metadata says (truncated?)");
        return MR_EIO;
    }
    return 0;
}

void pq_file_close(pq_file *f)
{
    if (!f)
        return;
    if (f->path) /* a zeroed pq_file has no path */
        mr_file_close(&f->file);
    for (int i = 0; f->fields && i < f->nfields; i++)
        free(f->fields[i].name);
    free(f->fields);
    pq_meta_free(&f->meta);
    free(f->footer);
    free(f->path);
    memset(f, 0, sizeof *f);
    f->file.fd = -1;
}

/* The leaves under element *i (advancing *i past its subtree); -1 when the
 * tree runs past the list. */
static int count_leaves(const pq_file_meta *m, uint32_t *i, int depth)
{
    if (*i >= m->nschema || depth > 64)
        return -1;
    const pq_schema_el *e = &m->schema[(*i)++];
    if (e->num_children <= 0)
        return e->type < 0 ? -1 : 1;
    int n = 0;
    for (int32_t k = 0; k < e->num_children; k++) {
        int c = count_leaves(m, i, depth + 1);
        if (c < 0)
            return -1;
        n += c;
    }
    return n;
}

static int list_fields(pq_file *f, char *why, size_t cap)
{
    const pq_file_meta *m = &f->meta;
    if (m->nschema < 1 || m->schema[0].num_children < 0) {
        snprintf(why, cap, "corrupt footer: the schema has no root");
        return MR_EPARSE;
    }
    int32_t nf = m->schema[0].num_children;
    if ((uint32_t)nf > m->nschema - 1) {
        snprintf(why, cap, "corrupt footer: the root has %d fields, the schema lists %u elements",
                 nf, m->nschema - 1);
        return MR_EPARSE;
    }
    f->fields = calloc(nf ? (size_t)nf : 1, sizeof *f->fields);
    if (!f->fields)
        return MR_ENOMEM;
    uint32_t i = 1;
    int leaf = 0;
    for (int32_t k = 0; k < nf; k++) {
        pq_field *fd = &f->fields[k];
        uint32_t at = i;
        int n = count_leaves(m, &i, 0);
        if (n < 0) {
            snprintf(why, cap, "corrupt footer: the schema's tree is malformed");
            return MR_EPARSE;
        }
        fd->el = &m->schema[at];
        fd->name = strndup(fd->el->name, fd->el->name_len);
        if (!fd->name)
            return MR_ENOMEM;
        f->nfields = k + 1;
        fd->leaf = leaf;
        fd->nested = fd->el->num_children > 0 || fd->el->repetition == PQ_REPEATED;
        fd->max_def = fd->el->repetition == PQ_OPTIONAL;
        leaf += n;
    }
    f->nleaves = leaf;
    for (uint32_t r = 0; r < m->nrgs; r++)
        if (m->rgs[r].ncols != (uint32_t)leaf || m->rgs[r].num_rows < 0) {
            snprintf(why, cap, "corrupt footer: row group %u has %u column chunks for %d columns",
                     r, m->rgs[r].ncols, leaf);
            return MR_EPARSE;
        }
    return 0;
}

int pq_file_open(pq_file *f, const char *path, mr_err *err)
{
    memset(f, 0, sizeof *f);
    f->file.fd = -1;
    char why[512];
    int rc;
    f->path = strdup(path);
    if (!f->path)
        return mr_err_set(err, MR_ENOMEM, "out of memory");
    if ((rc = mr_file_open(&f->file, path, err)) < 0) {
        pq_file_close(f);
        return rc;
    }
    f->size = f->file.size;
    uint8_t tail[8];
    if (f->size < 12) {
        rc = mr_err_set(err, MR_EPARSE, "Parquet file '%s': %llu bytes is too short for a "
                        "Parquet file (truncated?)", path, (unsigned long long)f->size);
        goto fail;
    }
    if ((rc = pq_pread(&f->file, tail, 8, f->size - 8, why, sizeof why)) < 0) {
        mr_err_set(err, rc, "Parquet file '%s': %s", path, why);
        goto fail;
    }
    if (memcmp(tail + 4, "PAR1", 4) != 0) {
        rc = mr_err_set(err, MR_EPARSE, "Parquet file '%s': not a Parquet file (no PAR1 magic at "
                        "its end; truncated, or another format?)", path);
        goto fail;
    }
    uint32_t flen = (uint32_t)tail[0] | (uint32_t)tail[1] << 8 | (uint32_t)tail[2] << 16 |
                    (uint32_t)tail[3] << 24;
    if ((uint64_t)flen > f->size - 12 || flen > PQ_FOOTER_MAX) {
        rc = mr_err_set(err, MR_EPARSE, "Parquet file '%s': corrupt footer: its length %u does not "
                        "fit the file's %llu bytes (truncated?)", path, flen,
                        (unsigned long long)f->size);
        goto fail;
    }
    f->footer = malloc(flen ? flen : 1);
    f->footer_len = flen;
    if (!f->footer) {
        rc = mr_err_set(err, MR_ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = pq_pread(&f->file, f->footer, flen, f->size - 8 - flen, why, sizeof why)) < 0 ||
        (rc = pq_meta_parse(f->footer, flen, &f->meta, why, sizeof why)) < 0 ||
        (rc = list_fields(f, why, sizeof why)) < 0) {
        if (rc == MR_ENOMEM)
            mr_err_set(err, rc, "out of memory");
        else
            mr_err_set(err, rc, "Parquet file '%s': %s", path, why);
        goto fail;
    }
    return 0;
fail:
    pq_file_close(f);
    return rc;
}

const pq_field *pq_file_field(const pq_file *f, const char *name)
{
    for (int i = 0; i < f->nfields; i++)
        if (strcmp(f->fields[i].name, name) == 0)
            return &f->fields[i];
    for (int i = 0; i < f->nfields; i++)
        if (strcasecmp(f->fields[i].name, name) == 0)
            return &f->fields[i];
    return NULL;
}

static int decimal_type(const pq_schema_el *e, int kind, mr_type *out, int *k, char *why,
                        size_t cap)
{
    int p = e->logical == PQ_LT_DECIMAL ? e->lt_precision : e->precision;
    int s = e->logical == PQ_LT_DECIMAL ? e->lt_scale : e->scale;
    if (p < 1 || s < 0 || s > p) {
        snprintf(why, cap, "decimal(%d,%d) is not a valid decimal", p, s);
        return MR_ENOTSUP;
    }
    if (p > MR_DECIMAL_MAX_PRECISION) {
        snprintf(why, cap, "decimal(%d,%d) is wider than millrace's decimals (at most %d digits)",
                 p, s, MR_DECIMAL_MAX_PRECISION);
        return MR_ENOTSUP;
    }
    if (e->type == PQ_FLBA && (e->type_length < 1 || e->type_length > 16)) {
        snprintf(why, cap, "a decimal of %d bytes is not supported", e->type_length);
        return MR_ENOTSUP;
    }
    *out = mr_type_decimal(p, s);
    *k = kind;
    return 0;
}

static int timestamp_unit(int unit, int *k)
{
    *k = unit == PQ_UNIT_MILLIS ? PQ_K_TS_MILLIS : unit == PQ_UNIT_NANOS ? PQ_K_TS_NANOS
                                                                         : PQ_K_TS_MICROS;
    return unit >= PQ_UNIT_MILLIS && unit <= PQ_UNIT_NANOS ? 0 : -1;
}

int pq_field_type(const pq_field *fd, mr_type *out, int *kind, char *why, size_t cap)
{
    const pq_schema_el *e = fd->el;
    if (fd->nested) {
        snprintf(why, cap, "it is nested (%s); millrace reads flat columns only",
                 e->num_children > 0 ? "a group, list or map" : "a repeated field");
        return MR_ENOTSUP;
    }
    const int lt = e->logical, ct = e->converted;
    if (lt == PQ_LT_DECIMAL || (!lt && ct == PQ_CT_DECIMAL)) {
        if (e->type == PQ_INT32 || e->type == PQ_INT64)
            return decimal_type(e, PQ_K_DEC_INT, out, kind, why, cap);
        if (e->type == PQ_FLBA || e->type == PQ_BYTE_ARRAY)
            return decimal_type(e, PQ_K_DEC_BYTES, out, kind, why, cap);
    }
    switch (e->type) {
    case PQ_BOOLEAN:
        *out = mr_type_make(MR_T_BOOL);
        *kind = PQ_K_BOOL;
        return 0;
    case PQ_INT32:
        if (lt == PQ_LT_DATE || (!lt && ct == PQ_CT_DATE)) {
            *out = mr_type_make(MR_T_DATE);
            *kind = PQ_K_DATE;
            return 0;
        }
        if ((lt == PQ_LT_INTEGER && !e->lt_signed && e->lt_bits == 32) ||
            (!lt && ct == PQ_CT_UINT_32)) {
            *out = mr_type_make(MR_T_INT64);
            *kind = PQ_K_UINT32;
            return 0;
        }
        if (lt == PQ_LT_TIME || (!lt && ct == PQ_CT_TIME_MILLIS))
            break;
        *out = mr_type_make(MR_T_INT32);
        *kind = PQ_K_INT32;
        return 0;
    case PQ_INT64:
        if (lt == PQ_LT_TIMESTAMP) {
            if (timestamp_unit(e->lt_unit, kind) < 0)
                break;
            /* isAdjustedToUTC: the value is an instant */
            *out = mr_type_make(e->lt_utc ? MR_T_TIMESTAMPTZ : MR_T_TIMESTAMP);
            return 0;
        }
        if (!lt && (ct == PQ_CT_TS_MILLIS || ct == PQ_CT_TS_MICROS)) {
            *kind = ct == PQ_CT_TS_MILLIS ? PQ_K_TS_MILLIS : PQ_K_TS_MICROS;
            *out = mr_type_make(MR_T_TIMESTAMP);
            return 0;
        }
        if ((lt == PQ_LT_INTEGER && !e->lt_signed) || (!lt && ct == PQ_CT_UINT_64)) {
            snprintf(why, cap, "unsigned 64-bit integers do not fit millrace's int64");
            return MR_ENOTSUP;
        }
        if (lt == PQ_LT_TIME || (!lt && ct == PQ_CT_TIME_MICROS))
            break;
        *out = mr_type_make(MR_T_INT64);
        *kind = PQ_K_INT64;
        return 0;
    case PQ_INT96:
        *out = mr_type_make(MR_T_TIMESTAMP);
        *kind = PQ_K_INT96;
        return 0;
    case PQ_FLOAT:
    case PQ_DOUBLE:
        *out = mr_type_make(MR_T_FLOAT64);
        *kind = PQ_K_DOUBLE;
        return 0;
    case PQ_BYTE_ARRAY:
        if (lt == PQ_LT_BSON || (!lt && ct == PQ_CT_BSON))
            break;
        /* STRING, ENUM, JSON and unannotated binary: text, checked UTF-8 */
        *out = mr_type_make(MR_T_STRING);
        *kind = PQ_K_STRING;
        return 0;
    default: break;
    }
    static const char *const phys[] = {"BOOLEAN", "INT32",  "INT64",      "INT96",
                                       "FLOAT",   "DOUBLE", "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"};
    const char *what = lt == PQ_LT_TIME || ct == PQ_CT_TIME_MILLIS || ct == PQ_CT_TIME_MICROS
                           ? " holding a time of day"
                       : lt == PQ_LT_UUID    ? " holding a UUID"
                       : lt == PQ_LT_FLOAT16 ? " holding a FLOAT16"
                       : ct == PQ_CT_INTERVAL ? " holding an INTERVAL"
                                              : "";
    snprintf(why, cap, "its type (%s%s) has no millrace type",
             e->type >= 0 && e->type < 8 ? phys[e->type] : "unknown", what);
    return MR_ENOTSUP;
}

int pq_type_fits(mr_type nat, mr_type want)
{
    if (mr_type_equal(nat, want))
        return 1;
    switch (nat.id) {
    case MR_T_INT32:
        return want.id == MR_T_INT64 || want.id == MR_T_FLOAT64 ||
               (want.id == MR_T_DECIMAL && want.precision - want.scale >= 10);
    case MR_T_INT64: return want.id == MR_T_FLOAT64;
    case MR_T_DECIMAL:
        return want.id == MR_T_FLOAT64 ||
               (want.id == MR_T_DECIMAL && want.scale >= nat.scale &&
                want.precision - want.scale >= nat.precision - nat.scale);
    case MR_T_DATE: return want.id == MR_T_TIMESTAMP || want.id == MR_T_TIMESTAMPTZ;
    case MR_T_TIMESTAMP: return want.id == MR_T_TIMESTAMPTZ; /* read as UTC */
    case MR_T_TIMESTAMPTZ: return want.id == MR_T_TIMESTAMP; /* the UTC reading */
    default: return 0;
    }
}

int pq_file_schema(const pq_file *f, mr_schema **out, mr_err *err)
{
    *out = NULL;
    if (f->nfields == 0)
        return mr_err_set(err, MR_EINVAL, "Parquet file '%s' has no columns", f->path);
    mr_schema *s = mr_schema_create(f->nfields);
    if (!s)
        return mr_err_set(err, MR_ENOMEM, "out of memory");
    for (int i = 0; i < f->nfields; i++) {
        mr_type t;
        int kind;
        char why[300];
        int rc = pq_field_type(&f->fields[i], &t, &kind, why, sizeof why);
        if (rc < 0) {
            mr_schema_destroy(s);
            return mr_err_set(err, rc, "Parquet file '%s', column '%s': %s (give a 'schema' "
                              "that leaves it out)", f->path, f->fields[i].name, why);
        }
        if (mr_schema_set(s, i, f->fields[i].name, t) < 0) {
            mr_schema_destroy(s);
            return mr_err_set(err, MR_ENOMEM, "out of memory");
        }
    }
    *out = s;
    return 0;
}
