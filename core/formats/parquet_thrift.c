/* parquet_thrift.c - the Parquet footer and page headers, decoded from the
 * Thrift compact protocol.
 *
 * The compact protocol: a struct is a run of fields, each introduced by a
 * byte whose high nibble is the field id's delta from the previous one
 * (0: the id follows as a zigzag varint) and whose low nibble is the type;
 * a zero byte ends the struct.  Integers are zigzag varints, binaries a
 * varint length and the bytes, lists a byte holding the size (15: a varint
 * follows) and the element type.  Booleans in a field live in the type
 * nibble (1 true, 2 false).  Unknown fields are skipped by type, so files
 * from newer writers read.
 *
 * The decoder never trusts the file: every read checks the bytes left, a
 * list's count is bounded by the bytes left before anything is allocated,
 * and nesting is capped so a crafted footer cannot exhaust the stack.  The
 * first problem sets `bad` and every later read returns zeros. */
#include "core/formats/parquet_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

enum {
    TC_STOP = 0, TC_TRUE = 1, TC_FALSE = 2, TC_BYTE = 3, TC_I16 = 4, TC_I32 = 5, TC_I64 = 6,
    TC_DOUBLE = 7, TC_BINARY = 8, TC_LIST = 9, TC_SET = 10, TC_MAP = 11, TC_STRUCT = 12,
};

#define TC_MAX_DEPTH 32

typedef struct tin {
    const uint8_t *p, *end;
    int depth;
    const char *bad; /* the first problem, or NULL */
} tin;

static void tin_fail(tin *t, const char *why)
{
    if (!t->bad)
        t->bad = why;
    t->p = t->end;
}

static uint64_t tin_varint(tin *t)
{
    uint64_t v = 0;
    for (int sh = 0; sh < 64; sh += 7) {
        if (t->p >= t->end) {
            tin_fail(t, "metadata ends inside a number");
            return 0;
        }
        uint8_t b = *t->p++;
        v |= (uint64_t)(b & 0x7f) << sh;
        if (!(b & 0x80))
            return v;
    }
    tin_fail(t, "metadata holds an overlong number");
    return 0;
}

static int64_t tin_zz(tin *t)
{
    uint64_t u = tin_varint(t);
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static int32_t tin_i32(tin *t)
{
    int64_t v = tin_zz(t);
    if (v < INT32_MIN || v > INT32_MAX) {
        tin_fail(t, "metadata holds a 32-bit number out of range");
        return 0;
    }
    return (int32_t)v;
}

/* A binary: *n bytes at the returned pointer (NULL when bad). */
static const uint8_t *tin_bin(tin *t, uint32_t *n)
{
    uint64_t len = tin_varint(t);
    if (t->bad)
        return NULL;
    if (len > (uint64_t)(t->end - t->p)) {
        tin_fail(t, "metadata string runs past its end");
        return NULL;
    }
    const uint8_t *s = t->p;
    t->p += len;
    *n = (uint32_t)len;
    return s;
}

/* A list header: element type and count, the count checked against the
 * bytes left (every element takes at least one byte, except booleans and
 * empty structs, which take one too). */
static uint32_t tin_list(tin *t, int *etype)
{
    if (t->p >= t->end) {
        tin_fail(t, "metadata ends inside a list");
        return 0;
    }
    uint8_t h = *t->p++;
    uint64_t n = h >> 4;
    *etype = h & 0x0f;
    if (n == 15)
        n = tin_varint(t);
    if (n > (uint64_t)(t->end - t->p)) {
        tin_fail(t, "metadata list is longer than the footer");
        return 0;
    }
    return (uint32_t)n;
}

static void tin_skip(tin *t, int type);

static void tin_skip_struct(tin *t)
{
    if (++t->depth > TC_MAX_DEPTH) {
        tin_fail(t, "metadata nests too deep");
        return;
    }
    int16_t last = 0;
    while (!t->bad) {
        if (t->p >= t->end) {
            tin_fail(t, "metadata ends inside a struct");
            break;
        }
        uint8_t h = *t->p++;
        if (h == TC_STOP)
            break;
        int delta = h >> 4;
        last = delta ? (int16_t)(last + delta) : (int16_t)tin_zz(t);
        tin_skip(t, h & 0x0f);
    }
    t->depth--;
}

static void tin_skip(tin *t, int type)
{
    switch (type) {
    case TC_TRUE:
    case TC_FALSE: break;
    case TC_BYTE:
        if (t->p >= t->end)
            tin_fail(t, "metadata ends inside a byte");
        else
            t->p++;
        break;
    case TC_I16:
    case TC_I32:
    case TC_I64: (void)tin_varint(t); break;
    case TC_DOUBLE:
        if (t->end - t->p < 8)
            tin_fail(t, "metadata ends inside a double");
        else
            t->p += 8;
        break;
    case TC_BINARY: {
        uint32_t n;
        (void)tin_bin(t, &n);
        break;
    }
    case TC_LIST:
    case TC_SET: {
        int et;
        uint32_t n = tin_list(t, &et);
        if (++t->depth > TC_MAX_DEPTH) {
            tin_fail(t, "metadata nests too deep");
            break;
        }
        for (uint32_t i = 0; i < n && !t->bad; i++) {
            if (et == TC_TRUE || et == TC_FALSE)
                tin_skip(t, TC_BYTE); /* a list's booleans take a byte each */
            else
                tin_skip(t, et);
        }
        t->depth--;
        break;
    }
    case TC_MAP: {
        uint64_t n = tin_varint(t);
        if (n == 0)
            break;
        if (t->p >= t->end || n > (uint64_t)(t->end - t->p)) {
            tin_fail(t, "metadata map is longer than the footer");
            break;
        }
        uint8_t kv = *t->p++;
        if (++t->depth > TC_MAX_DEPTH) {
            tin_fail(t, "metadata nests too deep");
            break;
        }
        for (uint64_t i = 0; i < n && !t->bad; i++) {
            tin_skip(t, kv >> 4);
            tin_skip(t, kv & 0x0f);
        }
        t->depth--;
        break;
    }
    case TC_STRUCT: tin_skip_struct(t); break;
    default: tin_fail(t, "metadata holds an unknown field type"); break;
    }
}

/* Field iteration: returns 1 with *id and *type for the next field, 0 at
 * the struct's end (or when bad). */
static int tin_field(tin *t, int16_t *last, int16_t *id, int *type)
{
    if (t->bad)
        return 0;
    if (t->p >= t->end) {
        tin_fail(t, "metadata ends inside a struct");
        return 0;
    }
    uint8_t h = *t->p++;
    if (h == TC_STOP)
        return 0;
    int delta = h >> 4;
    *id = delta ? (int16_t)(*last + delta) : (int16_t)tin_zz(t);
    *last = *id;
    *type = h & 0x0f;
    return !t->bad;
}

static int tin_enter(tin *t)
{
    if (++t->depth > TC_MAX_DEPTH) {
        tin_fail(t, "metadata nests too deep");
        return 0;
    }
    return 1;
}

/* Reads an integer field of any integer type (i8/i16/i32), else skips. */
static int32_t tin_int_field(tin *t, int type)
{
    if (type == TC_BYTE) {
        if (t->p >= t->end) {
            tin_fail(t, "metadata ends inside a byte");
            return 0;
        }
        return (int8_t)*t->p++;
    }
    if (type == TC_I16 || type == TC_I32)
        return tin_i32(t);
    tin_skip(t, type);
    tin_fail(t, "metadata field has the wrong type");
    return 0;
}

static int64_t tin_i64_field(tin *t, int type)
{
    if (type == TC_I64 || type == TC_I32 || type == TC_I16)
        return tin_zz(t);
    tin_skip(t, type);
    tin_fail(t, "metadata field has the wrong type");
    return 0;
}

static int tin_bool_field(tin *t, int type)
{
    if (type == TC_TRUE || type == TC_FALSE)
        return type == TC_TRUE;
    tin_skip(t, type);
    tin_fail(t, "metadata field has the wrong type");
    return 0;
}

/* ---- LogicalType ---------------------------------------------------------- */

/* TimeUnit: a union whose member id is the unit. */
static int parse_time_unit(tin *t)
{
    int unit = 0;
    int16_t last = 0, id;
    int ty;
    if (!tin_enter(t))
        return 0;
    while (tin_field(t, &last, &id, &ty)) {
        if (ty == TC_STRUCT && id >= 1 && id <= 3)
            unit = id;
        tin_skip(t, ty);
    }
    t->depth--;
    return unit;
}

static void parse_logical_member(tin *t, pq_schema_el *e, int member)
{
    int16_t last = 0, id;
    int ty;
    if (!tin_enter(t))
        return;
    while (tin_field(t, &last, &id, &ty)) {
        if (member == PQ_LT_DECIMAL && id == 1)
            e->lt_scale = tin_int_field(t, ty);
        else if (member == PQ_LT_DECIMAL && id == 2)
            e->lt_precision = tin_int_field(t, ty);
        else if ((member == PQ_LT_TIME || member == PQ_LT_TIMESTAMP) && id == 1)
            e->lt_utc = tin_bool_field(t, ty);
        else if ((member == PQ_LT_TIME || member == PQ_LT_TIMESTAMP) && id == 2 &&
                 ty == TC_STRUCT)
            e->lt_unit = parse_time_unit(t);
        else if (member == PQ_LT_INTEGER && id == 1)
            e->lt_bits = tin_int_field(t, ty);
        else if (member == PQ_LT_INTEGER && id == 2)
            e->lt_signed = tin_bool_field(t, ty);
        else
            tin_skip(t, ty);
    }
    t->depth--;
}

static void parse_logical(tin *t, pq_schema_el *e)
{
    int16_t last = 0, id;
    int ty;
    if (!tin_enter(t))
        return;
    while (tin_field(t, &last, &id, &ty)) {
        if (ty == TC_STRUCT) {
            e->logical = id;
            parse_logical_member(t, e, id);
        } else {
            tin_skip(t, ty);
        }
    }
    t->depth--;
}

/* ---- SchemaElement, ColumnChunk, RowGroup, FileMetaData -------------------- */

static void parse_schema_el(tin *t, pq_schema_el *e)
{
    memset(e, 0, sizeof *e);
    e->type = -1;
    e->repetition = -1;
    e->converted = -1;
    e->lt_signed = 1;
    int16_t last = 0, id;
    int ty;
    if (!tin_enter(t))
        return;
    while (tin_field(t, &last, &id, &ty)) {
        switch (id) {
        case 1: e->type = tin_int_field(t, ty); break;
        case 2: e->type_length = tin_int_field(t, ty); break;
        case 3: e->repetition = tin_int_field(t, ty); break;
        case 4:
            if (ty == TC_BINARY)
                e->name = (const char *)tin_bin(t, &e->name_len);
            else
                tin_skip(t, ty);
            break;
        case 5: e->num_children = tin_int_field(t, ty); break;
        case 6: e->converted = tin_int_field(t, ty); break;
        case 7: e->scale = tin_int_field(t, ty); break;
        case 8: e->precision = tin_int_field(t, ty); break;
        case 10:
            if (ty == TC_STRUCT)
                parse_logical(t, e);
            else
                tin_skip(t, ty);
            break;
        default: tin_skip(t, ty); break;
        }
    }
    t->depth--;
    if (!e->name && !t->bad)
        tin_fail(t, "a schema element has no name");
}

/* Statistics: min_value/max_value (5, 6) win over the deprecated max/min
 * (1, 2); null_count (3). */
static void parse_stats(tin *t, pq_chunk *c)
{
    int16_t last = 0, id;
    int ty;
    if (!tin_enter(t))
        return;
    const uint8_t *omin = NULL, *omax = NULL;
    uint32_t nmin = 0, nmax = 0;
    while (tin_field(t, &last, &id, &ty)) {
        if (ty == TC_BINARY && (id == 1 || id == 2 || id == 5 || id == 6)) {
            uint32_t n = 0;
            const uint8_t *v = tin_bin(t, &n);
            if (id == 5) { c->max = v; c->max_len = n; }
            else if (id == 6) { c->min = v; c->min_len = n; }
            else if (id == 1) { omax = v; nmax = n; }
            else { omin = v; nmin = n; }
        } else if (id == 3) {
            c->null_count = tin_i64_field(t, ty);
        } else {
            tin_skip(t, ty);
        }
    }
    if ((!c->min || !c->max) && omin && omax) {
        c->min = omin;
        c->min_len = nmin;
        c->max = omax;
        c->max_len = nmax;
        c->legacy_minmax = 1;
    } else if (!c->min || !c->max) {
        c->min = c->max = NULL;
    }
    t->depth--;
}

static void parse_col_meta(tin *t, pq_chunk *c)
{
    int16_t last = 0, id;
    int ty;
    if (!tin_enter(t))
        return;
    c->has_meta = 1;
    while (tin_field(t, &last, &id, &ty)) {
        switch (id) {
        case 1: c->type = tin_int_field(t, ty); break;
        case 4: c->codec = tin_int_field(t, ty); break;
        case 5: c->num_values = tin_i64_field(t, ty); break;
        case 7: c->total_compressed = tin_i64_field(t, ty); break;
        case 9: c->data_page_offset = tin_i64_field(t, ty); break;
        case 11: c->dict_page_offset = tin_i64_field(t, ty); break;
        case 12:
            if (ty == TC_STRUCT)
                parse_stats(t, c);
            else
                tin_skip(t, ty);
            break;
        default: tin_skip(t, ty); break;
        }
    }
    t->depth--;
}

static void parse_chunk(tin *t, pq_chunk *c)
{
    memset(c, 0, sizeof *c);
    c->dict_page_offset = -1;
    c->null_count = -1;
    int16_t last = 0, id;
    int ty;
    if (!tin_enter(t))
        return;
    while (tin_field(t, &last, &id, &ty)) {
        if (id == 1 && ty == TC_BINARY) {
            uint32_t n = 0;
            (void)tin_bin(t, &n);
            c->external = n > 0;
        } else if (id == 3 && ty == TC_STRUCT) {
            parse_col_meta(t, c);
        } else {
            tin_skip(t, ty);
        }
    }
    t->depth--;
}

static void parse_row_group(tin *t, pq_row_group *rg)
{
    int16_t last = 0, id;
    int ty;
    if (!tin_enter(t))
        return;
    while (tin_field(t, &last, &id, &ty)) {
        if (id == 1 && ty == TC_LIST && !rg->cols) {
            int et;
            uint32_t n = tin_list(t, &et);
            if (t->bad)
                break;
            if (et != TC_STRUCT && n > 0) {
                tin_fail(t, "a row group's columns are not structs");
                break;
            }
            rg->cols = calloc(n ? n : 1, sizeof *rg->cols);
            if (!rg->cols) {
                tin_fail(t, "out of memory");
                break;
            }
            rg->ncols = n;
            for (uint32_t i = 0; i < n && !t->bad; i++)
                parse_chunk(t, &rg->cols[i]);
        } else if (id == 3) {
            rg->num_rows = tin_i64_field(t, ty);
        } else {
            tin_skip(t, ty);
        }
    }
    t->depth--;
}

int pq_meta_parse(const uint8_t *buf, size_t n, pq_file_meta *m, char *why, size_t cap)
{
    memset(m, 0, sizeof *m);
    tin t = {buf, buf + n, 0, NULL};
    int16_t last = 0, id;
    int ty, seen_schema = 0, seen_rgs = 0;
    while (tin_field(&t, &last, &id, &ty)) {
        if (id == 2 && ty == TC_LIST && !seen_schema) {
            seen_schema = 1;
            int et;
            uint32_t k = tin_list(&t, &et);
            if (t.bad)
                break;
            if (et != TC_STRUCT && k > 0) {
                tin_fail(&t, "the schema's elements are not structs");
                break;
            }
            m->schema = calloc(k ? k : 1, sizeof *m->schema);
            if (!m->schema) {
                tin_fail(&t, "out of memory");
                break;
            }
            m->nschema = k;
            for (uint32_t i = 0; i < k && !t.bad; i++)
                parse_schema_el(&t, &m->schema[i]);
        } else if (id == 3) {
            m->num_rows = tin_i64_field(&t, ty);
        } else if (id == 4 && ty == TC_LIST && !seen_rgs) {
            seen_rgs = 1;
            int et;
            uint32_t k = tin_list(&t, &et);
            if (t.bad)
                break;
            if (et != TC_STRUCT && k > 0) {
                tin_fail(&t, "the row groups are not structs");
                break;
            }
            m->rgs = calloc(k ? k : 1, sizeof *m->rgs);
            if (!m->rgs) {
                tin_fail(&t, "out of memory");
                break;
            }
            m->nrgs = k;
            for (uint32_t i = 0; i < k && !t.bad; i++)
                parse_row_group(&t, &m->rgs[i]);
        } else {
            tin_skip(&t, ty);
        }
    }
    if (!t.bad && !seen_schema)
        t.bad = "the footer has no schema";
    if (t.bad) {
        int oom = strcmp(t.bad, "out of memory") == 0;
        snprintf(why, cap, "corrupt footer: %s", t.bad);
        pq_meta_free(m);
        return oom ? MR_ENOMEM : MR_EPARSE;
    }
    return 0;
}

void pq_meta_free(pq_file_meta *m)
{
    if (!m)
        return;
    for (uint32_t i = 0; m->rgs && i < m->nrgs; i++)
        free(m->rgs[i].cols);
    free(m->rgs);
    free(m->schema);
    memset(m, 0, sizeof *m);
}

/* ---- PageHeader ------------------------------------------------------------ */

static void parse_data_header(tin *t, pq_page_header *h, int v2)
{
    int16_t last = 0, id;
    int ty;
    if (!tin_enter(t))
        return;
    h->has_body = 1;
    while (tin_field(t, &last, &id, &ty)) {
        if (id == 1)
            h->num_values = tin_int_field(t, ty);
        else if (!v2 && id == 2)
            h->encoding = tin_int_field(t, ty);
        else if (!v2 && id == 3)
            h->def_enc = tin_int_field(t, ty);
        else if (!v2 && id == 4)
            h->rep_enc = tin_int_field(t, ty);
        else if (v2 && id == 2)
            h->num_nulls = tin_int_field(t, ty);
        else if (v2 && id == 3)
            h->num_rows = tin_int_field(t, ty);
        else if (v2 && id == 4)
            h->encoding = tin_int_field(t, ty);
        else if (v2 && id == 5)
            h->def_len = tin_int_field(t, ty);
        else if (v2 && id == 6)
            h->rep_len = tin_int_field(t, ty);
        else if (v2 && id == 7)
            h->is_compressed = tin_bool_field(t, ty);
        else
            tin_skip(t, ty);
    }
    t->depth--;
}

static void parse_dict_header(tin *t, pq_page_header *h)
{
    int16_t last = 0, id;
    int ty;
    if (!tin_enter(t))
        return;
    h->has_body = 1;
    while (tin_field(t, &last, &id, &ty)) {
        if (id == 1)
            h->num_values = tin_int_field(t, ty);
        else if (id == 2)
            h->encoding = tin_int_field(t, ty);
        else
            tin_skip(t, ty);
    }
    t->depth--;
}

int pq_page_header_parse(const uint8_t *buf, size_t n, pq_page_header *h, size_t *used,
                         char *why, size_t cap)
{
    memset(h, 0, sizeof *h);
    h->type = -1;
    h->is_compressed = 1;
    tin t = {buf, buf + n, 0, NULL};
    int16_t last = 0, id;
    int ty, seen_type = 0, seen_size = 0, seen_csize = 0;
    while (tin_field(&t, &last, &id, &ty)) {
        switch (id) {
        case 1:
            h->type = tin_int_field(&t, ty);
            seen_type = 1;
            break;
        case 2:
            h->uncompressed = tin_int_field(&t, ty);
            seen_size = 1;
            break;
        case 3:
            h->compressed = tin_int_field(&t, ty);
            seen_csize = 1;
            break;
        case 5:
            if (ty == TC_STRUCT && h->type == PQ_PAGE_DATA)
                parse_data_header(&t, h, 0);
            else
                tin_skip(&t, ty);
            break;
        case 7:
            if (ty == TC_STRUCT && h->type == PQ_PAGE_DICT)
                parse_dict_header(&t, h);
            else
                tin_skip(&t, ty);
            break;
        case 8:
            if (ty == TC_STRUCT && h->type == PQ_PAGE_DATA_V2)
                parse_data_header(&t, h, 1);
            else
                tin_skip(&t, ty);
            break;
        default: tin_skip(&t, ty); break;
        }
    }
    if (!t.bad && (!seen_type || !seen_size || !seen_csize))
        t.bad = "a page header lacks its type or sizes";
    if (!t.bad && (h->uncompressed < 0 || h->compressed < 0 || h->num_values < 0 ||
                   h->def_len < 0 || h->rep_len < 0 || h->num_nulls < 0))
        t.bad = "a page header holds a negative size or count";
    if (t.bad) {
        snprintf(why, cap, "corrupt page header: %s", t.bad);
        return MR_EPARSE;
    }
    *used = (size_t)(t.p - buf);
    return 0;
}
