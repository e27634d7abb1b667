/* format_parquet.c - Parquet as a format of the scan operator.
 *
 * A split of a Parquet file is the row groups whose first column chunk
 * starts inside the split's byte range, so the splits of a file return
 * every row once.  open() reads the footer (parquet_schema.c), matches the
 * scan's schema to the file's top-level fields by name (a missing column,
 * a nested one or a type that cannot widen to the one asked for is an
 * error naming it) and picks the row groups.  Only the column chunks of
 * the asked-for columns are ever read.
 *
 * Per row group, each column reads its whole chunk into memory with one
 * pread, then decodes it a page at a time (parquet_page.c): the page's
 * definition levels (optional columns) and its non-null values as pq_val.
 * next() takes one row: per column, the next level and, when it is not
 * NULL, the next value, converted to the scan's type.  So decoding is
 * page-at-a-time and the per-row work is a copy and a conversion.
 *
 * Memory per column: its chunk, the current page decompressed, the
 * dictionary page (kept for the chunk), the page's levels and values.
 * All of it is reused from row group to row group.
 *
 * Errors name the file, the row group and the column ("Parquet file 'x',
 * row group 2, column 'price': corrupt page header: ..."); a string that
 * is not UTF-8 is a bad row for the read's on_error policy. */
#include "core/formats/format.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/formats/parquet_int.h"
#include "core/utf8.h"

/* Columns whose values need no conversion (the scan's type is the file's,
 * and the value is what pq_val holds) take a short path in pq_next. */
enum { COPY_NONE, COPY_I32, COPY_I64, COPY_F64, COPY_DEC };

/* A page with more values than this is refused as corrupt (real writers
 * keep pages to thousands of rows); it bounds what a header can make us
 * allocate. */
#define PQ_PAGE_VALUES_MAX (1u << 24)
#define PQ_PAGE_BYTES_MAX (512u << 20)
/* Julian day number of 1970-01-01. */
#define PQ_JULIAN_EPOCH 2440588

typedef struct pq_col {
    const pq_field *fd;
    int kind;         /* PQ_K_*: how the file's values convert */
    int copy;         /* COPY_*: the value's bits go straight into the column */
    mr_type nat;      /* the file column's millrace type */
    mr_type want;     /* the scan's type */
    int max_def;
    int ptype;
    int32_t type_len;
    /* the current chunk */
    int codec;
    uint8_t *chunk;
    size_t chunk_len, chunk_cap, pos;
    pq_buf page, dictbuf, scratch;
    pq_val *dict;
    uint32_t ndict;
    size_t dict_cap;
    bool has_dict;
    /* the current page */
    uint32_t *defs;
    size_t defs_cap;
    pq_val *vals;
    size_t vals_cap;
    uint32_t nlev, li, nval, vi;
} pq_col;

typedef struct pq_src {
    pq_file f;
    const mr_schema *schema;
    pq_col *cols;
    int ncols;
    uint32_t *rgs; /* the split's row groups */
    uint32_t nrgs, rgi;
    int64_t rows_left; /* in the current row group */
    int64_t row;       /* rows of the current row group returned */
    bool in_rg;
    bool batchable; /* every column takes the batch path (pq_next_rows) */
    uint64_t bytes;
    pq_prune *prune;        /* the pushed-down condition, NULL when none */
    uint64_t groups_skipped; /* row groups its statistics ruled out */
} pq_src;

/* "Parquet file 'x', row group N, column 'c': " + why into err. */
static int col_err(pq_src *s, const pq_col *c, int code, const char *why, mr_err *err)
{
    if (code == MR_ENOMEM)
        return mr_err_set(err, MR_ENOMEM, "out of memory");
    return mr_err_set(err, code, "Parquet file '%s', row group %u, column '%s': %s", s->f.path,
                      s->rgs[s->rgi], c->fd->name, why);
}

/* ---- opening ---------------------------------------------------------------- */

static int64_t chunk_start(const pq_chunk *ch)
{
    if (ch->dict_page_offset > 0 && ch->dict_page_offset < ch->data_page_offset)
        return ch->dict_page_offset;
    return ch->data_page_offset;
}

static int map_columns(pq_src *s, mr_err *err)
{
    const mr_schema *sc = s->schema;
    s->cols = calloc((size_t)sc->nfields, sizeof *s->cols);
    if (!s->cols)
        return mr_err_set(err, MR_ENOMEM, "out of memory");
    s->ncols = sc->nfields;
    for (int i = 0; i < sc->nfields; i++) {
        pq_col *c = &s->cols[i];
        const char *name = sc->fields[i].name;
        c->fd = pq_file_field(&s->f, name);
        c->want = sc->fields[i].type;
        if (!c->fd) {
            char list[400];
            size_t w = 0;
            list[0] = '\0';
            for (int k = 0; k < s->f.nfields && w < sizeof list - 8; k++) {
                int n = snprintf(list + w, sizeof list - w, "%s%s", k ? ", " : "",
                                 s->f.fields[k].name);
                w = n < 0 ? w : w + (size_t)n;
            }
            if (w >= sizeof list - 8)
                snprintf(list + sizeof list - 8, 8, ", ...");
            return mr_err_set(err, MR_ENOTFOUND, "Parquet file '%s' has no column '%s' (it has: "
                              "%s)", s->f.path, name, list);
        }
        char why[300];
        int rc = pq_field_type(c->fd, &c->nat, &c->kind, why, sizeof why);
        if (rc < 0)
            return mr_err_set(err, rc, "Parquet file '%s', column '%s': %s", s->f.path, name, why);
        if (!pq_type_fits(c->nat, c->want)) {
            char a[48], b[48];
            return mr_err_set(err, MR_ETYPE, "Parquet file '%s', column '%s': the file holds %s, "
                              "which cannot be read as %s", s->f.path, name,
                              mr_type_name(c->nat, a, sizeof a), mr_type_name(c->want, b, sizeof b));
        }
        if (mr_type_equal(c->nat, c->want))
            c->copy = c->kind == PQ_K_INT32 || c->kind == PQ_K_DATE  ? COPY_I32
                      : c->kind == PQ_K_INT64 || c->kind == PQ_K_TS_MICROS ? COPY_I64
                      : c->kind == PQ_K_DOUBLE                           ? COPY_F64
                      : c->kind == PQ_K_DEC_INT                          ? COPY_DEC
                                                                         : COPY_NONE;
        c->max_def = c->fd->max_def;
        c->ptype = c->fd->el->type;
        c->type_len = c->fd->el->type_length;
        if (c->ptype == PQ_FLBA && c->type_len < 1)
            return mr_err_set(err, MR_EPARSE, "Parquet file '%s', column '%s': corrupt footer: "
                              "fixed-length byte array of length %d", s->f.path, name,
                              c->type_len);
    }
    return 0;
}

/* Whether row group rg may hold a row the pushed-down condition keeps
 * (parquet_prune.c): statistics are used for columns read without
 * conversion, strings and integers only. */
static int prune_keep(const pq_src *s, const pq_row_group *rg)
{
    int leaf[64], ptype[64];
    char usable[64];
    pq_prune_cols pc = {s->ncols < 64 ? s->ncols : 64, leaf, ptype, usable};
    for (int i = 0; i < pc.n; i++) {
        const pq_col *c = &s->cols[i];
        leaf[i] = (int)c->fd->leaf;
        ptype[i] = c->ptype;
        usable[i] = c->copy == COPY_I32 || c->copy == COPY_I64 || c->copy == COPY_DEC ||
                    (c->kind == PQ_K_STRING && mr_type_equal(c->nat, c->want));
        if (c->kind == PQ_K_TS_MICROS || c->kind == PQ_K_DOUBLE)
            usable[i] = 0;
    }
    return pq_prune_keep(s->prune, &pc, s->schema, rg);
}

/* The row groups whose first column chunk starts in [offset, offset+length),
 * each checked against the file (and against the pushed-down condition's
 * statistics test). */
static int pick_row_groups(pq_src *s, uint64_t offset, uint64_t length, mr_err *err)
{
    const pq_file_meta *m = &s->f.meta;
    s->rgs = calloc(m->nrgs ? m->nrgs : 1, sizeof *s->rgs);
    if (!s->rgs)
        return mr_err_set(err, MR_ENOMEM, "out of memory");
    const uint64_t end = length == UINT64_MAX || offset + length < offset ? UINT64_MAX
                                                                           : offset + length;
    const uint64_t data_end = s->f.size - 8 - s->f.footer_len;
    for (uint32_t r = 0; r < m->nrgs; r++) {
        const pq_row_group *rg = &m->rgs[r];
        if (rg->ncols == 0 || rg->num_rows == 0)
            continue;
        int64_t st = chunk_start(&rg->cols[0]);
        if (st < 0 || (uint64_t)st < offset || (uint64_t)st >= end)
            continue;
        for (int i = 0; i < s->ncols; i++) {
            const pq_col *c = &s->cols[i];
            const pq_chunk *ch = &rg->cols[c->fd->leaf];
            int64_t cs = chunk_start(ch);
            const char *bad = !ch->has_meta     ? "its chunk has no metadata"
                              : ch->external    ? "its chunk lives in another file, which "
                                                  "millrace does not read"
                              : ch->type != c->ptype ? "its chunk's type differs from the schema's"
                              : cs < 4 || ch->total_compressed < 0 ||
                                      (uint64_t)cs > data_end ||
                                      (uint64_t)ch->total_compressed > data_end - (uint64_t)cs
                                  ? "its chunk lies outside the file's data (truncated?)"
                              : ch->num_values < 0 ? "its chunk has a negative value count"
                                                   : NULL;
            if (bad)
                return mr_err_set(err, MR_EPARSE, "Parquet file '%s', row group %u, column '%s': "
                                  "corrupt footer: %s", s->f.path, r, c->fd->name, bad);
        }
        if (s->prune && !prune_keep(s, rg)) {
            s->groups_skipped++;
            continue;
        }
        s->rgs[s->nrgs++] = r;
    }
    return 0;
}

static void pq_close(void *src)
{
    pq_src *s = src;
    if (!s)
        return;
    for (int i = 0; s->cols && i < s->ncols; i++) {
        pq_col *c = &s->cols[i];
        free(c->chunk);
        free(c->page.p);
        free(c->dictbuf.p);
        free(c->scratch.p);
        free(c->dict);
        free(c->defs);
        free(c->vals);
    }
    free(s->cols);
    free(s->rgs);
    pq_prune_free(s->prune);
    pq_file_close(&s->f);
    free(s);
}

static int pq_open(const char *path, uint64_t offset, uint64_t length, const mr_schema *schema,
                   const mr_csv_options *opt, void **out, mr_err *err)
{
    *out = NULL;
    pq_src *s = calloc(1, sizeof *s);
    if (!s)
        return mr_err_set(err, MR_ENOMEM, "out of memory");
    s->schema = schema;
    if (opt && pq_prune_create(opt->filter, schema, &s->prune, err) < 0) {
        free(s);
        return MR_ENOMEM;
    }
    int rc = pq_file_open(&s->f, path, err);
    if (rc < 0) {
        pq_prune_free(s->prune);
        free(s);
        return rc;
    }
    s->bytes = s->f.footer_len + 8;
    if ((rc = map_columns(s, err)) < 0 || (rc = pick_row_groups(s, offset, length, err)) < 0) {
        pq_close(s);
        return rc;
    }
    s->batchable = true;
    for (int i = 0; i < s->ncols; i++) {
        const pq_col *c = &s->cols[i];
        if (c->copy == COPY_NONE && !(mr_type_equal(c->nat, c->want) &&
                                      (c->kind == PQ_K_STRING || c->kind == PQ_K_BOOL)))
            s->batchable = false;
    }
    *out = s;
    return 0;
}

/* ---- pages ------------------------------------------------------------------- */

static int grow(void **p, size_t *cap, size_t n, size_t size)
{
    if (n <= *cap)
        return 0;
    size_t c = *cap ? *cap : 256;
    while (c < n)
        c *= 2;
    void *q = realloc(*p, c * size);
    if (!q)
        return MR_ENOMEM;
    *p = q;
    *cap = c;
    return 0;
}

/* Decompresses a page body into buf (of exactly n bytes). */
static int inflate_body(pq_buf *buf, const uint8_t *body, size_t blen, size_t n, int codec,
                        char *why, size_t cap)
{
    if (n > PQ_PAGE_BYTES_MAX) {
        snprintf(why, cap, "a page of %zu bytes is over the limit of %u", n, PQ_PAGE_BYTES_MAX);
        return MR_EPARSE;
    }
    if (pq_buf_reserve(buf, n + 1) < 0)
        return MR_ENOMEM;
    return pq_decompress(codec, body, blen, buf->p, n, why, cap);
}

static int read_dict(pq_col *c, const pq_page_header *h, const uint8_t *body, char *why,
                     size_t cap)
{
    if (!h->has_body) {
        snprintf(why, cap, "corrupt page header: a dictionary page without its header");
        return MR_EPARSE;
    }
    if (h->encoding != PQ_ENC_PLAIN && h->encoding != PQ_ENC_PLAIN_DICT) {
        snprintf(why, cap, "dictionary page encoded %s, not PLAIN", pq_encoding_name(h->encoding));
        return MR_EPARSE;
    }
    int rc = inflate_body(&c->dictbuf, body, (size_t)h->compressed, (size_t)h->uncompressed,
                          c->codec, why, cap);
    if (rc < 0)
        return rc;
    uint32_t n = (uint32_t)h->num_values;
    /* a PLAIN value takes at least a byte (booleans have no dictionary; a
     * fixed-length array may be one byte wide) */
    if (n > (uint32_t)h->uncompressed || n > PQ_PAGE_VALUES_MAX) {
        snprintf(why, cap, "dictionary page claims %u values in %d bytes", n, h->uncompressed);
        return MR_EPARSE;
    }
    if (grow((void **)&c->dict, &c->dict_cap, n + 1, sizeof *c->dict) < 0)
        return MR_ENOMEM;
    rc = pq_decode_values(c->ptype, c->type_len, PQ_ENC_PLAIN, c->dictbuf.p,
                          (size_t)h->uncompressed, n, c->dict, &c->scratch, NULL, 0, why, cap);
    if (rc < 0)
        return rc;
    c->ndict = n;
    c->has_dict = true;
    return 0;
}

static int read_data(pq_col *c, const pq_page_header *h, const uint8_t *body, int64_t rows_left,
                     char *why, size_t cap)
{
    const int v2 = h->type == PQ_PAGE_DATA_V2;
    if (!h->has_body) {
        snprintf(why, cap, "corrupt page header: a data page without its header");
        return MR_EPARSE;
    }
    uint32_t nlev = (uint32_t)h->num_values;
    if (nlev > PQ_PAGE_VALUES_MAX || (int64_t)nlev > rows_left) {
        snprintf(why, cap, "corrupt page: %u values where %lld rows are left in the row group",
                 nlev, (long long)rows_left);
        return MR_EPARSE;
    }
    const uint8_t *vp;
    size_t vn;
    const uint8_t *lp = NULL; /* definition levels */
    size_t ln = 0;
    int rc;
    if (!v2) {
        rc = inflate_body(&c->page, body, (size_t)h->compressed, (size_t)h->uncompressed,
                          c->codec, why, cap);
        if (rc < 0)
            return rc;
        vp = c->page.p;
        vn = (size_t)h->uncompressed;
        if (c->max_def > 0) {
            if (h->def_enc != PQ_ENC_RLE) {
                snprintf(why, cap, "definition levels encoded %s are not supported",
                         pq_encoding_name(h->def_enc));
                return MR_ENOTSUP;
            }
            if (vn < 4) {
                snprintf(why, cap, "corrupt page: its definition levels are truncated");
                return MR_EPARSE;
            }
            uint32_t len = (uint32_t)vp[0] | (uint32_t)vp[1] << 8 | (uint32_t)vp[2] << 16 |
                           (uint32_t)vp[3] << 24;
            if (len > vn - 4) {
                snprintf(why, cap, "corrupt page: definition levels of %u bytes run past it", len);
                return MR_EPARSE;
            }
            lp = vp + 4;
            ln = len;
            vp += 4 + len;
            vn -= 4 + (size_t)len;
        }
    } else {
        size_t lvl = (size_t)h->rep_len + (size_t)h->def_len;
        if (lvl > (size_t)h->compressed || lvl > (size_t)h->uncompressed) {
            snprintf(why, cap, "corrupt page header: levels of %zu bytes in a page of %d", lvl,
                     h->compressed);
            return MR_EPARSE;
        }
        if (h->rep_len > 0) {
            snprintf(why, cap, "corrupt page: repetition levels in a flat column");
            return MR_EPARSE;
        }
        lp = body;
        ln = (size_t)h->def_len;
        size_t clen = (size_t)h->compressed - lvl, ulen = (size_t)h->uncompressed - lvl;
        rc = inflate_body(&c->page, body + lvl, clen, ulen,
                          h->is_compressed ? c->codec : PQ_CODEC_NONE, why, cap);
        if (rc < 0)
            return rc;
        vp = c->page.p;
        vn = ulen;
    }
    if (grow((void **)&c->defs, &c->defs_cap, (size_t)nlev + 1, sizeof *c->defs) < 0)
        return MR_ENOMEM;
    uint32_t nval = nlev;
    if (c->max_def > 0) {
        if ((rc = pq_rle_decode(lp, ln, 1, nlev, c->defs, why, cap)) < 0)
            return rc;
        nval = 0;
        for (uint32_t i = 0; i < nlev; i++)
            nval += c->defs[i] == 1;
    }
    if (grow((void **)&c->vals, &c->vals_cap, (size_t)nval + 1, sizeof *c->vals) < 0)
        return MR_ENOMEM;
    if ((h->encoding == PQ_ENC_PLAIN_DICT || h->encoding == PQ_ENC_RLE_DICT) && !c->has_dict) {
        snprintf(why, cap, "a dictionary-encoded page comes without a dictionary page");
        return MR_EPARSE;
    }
    rc = pq_decode_values(c->ptype, c->type_len, h->encoding, vp, vn, nval, c->vals, &c->scratch,
                          c->dict, c->ndict, why, cap);
    if (rc < 0)
        return rc;
    c->nlev = nlev;
    c->nval = nval;
    c->li = c->vi = 0;
    return 0;
}

/* Moves column c to its next data page with values. */
static int next_page(pq_src *s, pq_col *c, mr_err *err)
{
    char why[600];
    for (;;) {
        if (c->pos >= c->chunk_len)
            return col_err(s, c, MR_EPARSE, "the column chunk ends before the row group's rows "
                           "do (truncated or corrupt)", err);
        pq_page_header h;
        size_t used;
        int rc = pq_page_header_parse(c->chunk + c->pos, c->chunk_len - c->pos, &h, &used, why,
                                      sizeof why);
        if (rc < 0)
            return col_err(s, c, rc, why, err);
        c->pos += used;
        if ((size_t)h.compressed > c->chunk_len - c->pos)
            return col_err(s, c, MR_EPARSE, "a page runs past the end of its column chunk "
                           "(truncated?)", err);
        const uint8_t *body = c->chunk + c->pos;
        c->pos += (size_t)h.compressed;
        switch (h.type) {
        case PQ_PAGE_DICT: rc = read_dict(c, &h, body, why, sizeof why); break;
        case PQ_PAGE_DATA:
        case PQ_PAGE_DATA_V2:
            rc = read_data(c, &h, body, s->rows_left, why, sizeof why);
            if (rc == 0 && c->nlev > 0)
                return 0;
            break;
        case PQ_PAGE_INDEX: rc = 0; break;
        default:
            snprintf(why, sizeof why, "corrupt page header: unknown page type %d", h.type);
            rc = MR_EPARSE;
            break;
        }
        if (rc < 0)
            return col_err(s, c, rc, why, err);
    }
}

/* Reads every asked-for column chunk of the split's next row group. */
static int start_row_group(pq_src *s, mr_err *err)
{
    const pq_row_group *rg = &s->f.meta.rgs[s->rgs[s->rgi]];
    for (int i = 0; i < s->ncols; i++) {
        pq_col *c = &s->cols[i];
        const pq_chunk *ch = &rg->cols[c->fd->leaf];
        size_t n = (size_t)ch->total_compressed;
        if (grow((void **)&c->chunk, &c->chunk_cap, n + 1, 1) < 0)
            return mr_err_set(err, MR_ENOMEM, "out of memory");
        char why[300];
        int rc = pq_pread(&s->f.file, c->chunk, n, (uint64_t)chunk_start(ch), why, sizeof why);
        if (rc < 0)
            return col_err(s, c, rc, why, err);
        s->bytes += n;
        c->chunk_len = n;
        c->pos = 0;
        c->codec = ch->codec;
        c->has_dict = false;
        c->ndict = 0;
        c->nlev = c->li = c->nval = c->vi = 0;
    }
    s->rows_left = rg->num_rows;
    s->row = 0;
    s->in_rg = true;
    return 0;
}

/* ---- values ------------------------------------------------------------------- */

static void set_null(mr_column *col, size_t row)
{
    if (col->type.id == MR_T_STRING) {
        mr_column_set_str_null(col, row);
        return;
    }
    size_t w = mr_type_width(col->type);
    memset((char *)col->data + row * w, 0, w);
    mr_column_set_valid(col, row, false);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* Big-endian two's complement bytes as an int64; -1 when they do not fit. */
static int be_int(const uint8_t *p, uint32_t n, int64_t *out)
{
    if (n == 0) {
        *out = 0;
        return 0;
    }
    uint64_t v = (p[0] & 0x80) ? UINT64_MAX : 0;
    for (uint32_t i = 0; i < n; i++) {
        if (i + 8 < n) { /* bytes beyond 8 must be sign extension */
            if (p[i] != ((p[n - 8] & 0x80) ? 0xff : 0))
                return -1;
            continue;
        }
        v = (v << 8) | p[i];
    }
    *out = (int64_t)v;
    return 0;
}

/* The column's value v, converted to its natural millrace type: an
 * integer in *iv or a float in *dv.  1 with why set when it is bad. */
static int natural(const pq_col *c, const pq_val *v, int64_t *iv, double *dv, char *why,
                   size_t cap)
{
    switch (c->kind) {
    case PQ_K_BOOL:
    case PQ_K_INT32:
    case PQ_K_INT64:
    case PQ_K_DATE:
    case PQ_K_TS_MICROS: *iv = v->i; return 0;
    case PQ_K_UINT32: *iv = (int64_t)(uint32_t)v->i; return 0;
    case PQ_K_DOUBLE: *dv = v->d; return 0;
    case PQ_K_TS_MILLIS:
        if (v->i > INT64_MAX / 1000 || v->i < INT64_MIN / 1000)
            break;
        *iv = v->i * 1000;
        return 0;
    case PQ_K_TS_NANOS: *iv = floor_div(v->i, 1000); return 0;
    case PQ_K_INT96: {
        const uint8_t *p = v->s.p;
        uint64_t nanos = 0;
        for (int i = 7; i >= 0; i--)
            nanos = nanos << 8 | p[i];
        int64_t day = (int32_t)((uint32_t)p[8] | (uint32_t)p[9] << 8 | (uint32_t)p[10] << 16 |
                                (uint32_t)p[11] << 24);
        if (day < PQ_JULIAN_EPOCH - 100000 || day > PQ_JULIAN_EPOCH + 100000 ||
            nanos > UINT64_C(86400000000000))
            break;
        *iv = (day - PQ_JULIAN_EPOCH) * INT64_C(86400000000) + (int64_t)(nanos / 1000);
        return 0;
    }
    case PQ_K_DEC_INT:
    case PQ_K_DEC_BYTES:
        if (c->kind == PQ_K_DEC_INT)
            *iv = v->i;
        else if (be_int(v->s.p, v->s.n, iv) < 0)
            break;
        {
            int64_t lim = mr_pow10[c->nat.precision];
            if (*iv >= lim || *iv <= -lim)
                break;
        }
        return 0;
    default: break;
    }
    snprintf(why, cap, "column '%.200s': value out of range for %s", c->fd->name,
             c->kind == PQ_K_DEC_BYTES || c->kind == PQ_K_DEC_INT ? "its decimal precision"
                                                                  : "a timestamp");
    return 1;
}

/* Writes value v of column c into row `row` of col.  0, 1 (bad value, why
 * set) or MR_ENOMEM. */
static int put_value(const pq_col *c, mr_column *col, size_t row, const pq_val *v, char *why,
                     size_t cap, const char **raw, size_t *rawlen)
{
    if (c->kind == PQ_K_STRING) {
        const char *p = (const char *)v->s.p;
        if (!mr_utf8_valid(p, v->s.n)) {
            snprintf(why, cap, "column '%.200s': not valid UTF-8 (byte %zu of the value)",
                     c->fd->name, mr_utf8_invalid_at(p, v->s.n));
            *raw = p;
            *rawlen = v->s.n;
            set_null(col, row);
            return 1;
        }
        return mr_column_set_str(col, row, p, v->s.n) < 0 ? MR_ENOMEM : 0;
    }
    int64_t iv = 0;
    double dv = 0;
    if (natural(c, v, &iv, &dv, why, cap)) {
        set_null(col, row);
        return 1;
    }
    const uint8_t nid = c->nat.id;
    switch (c->want.id) {
    case MR_T_BOOL: MR_COL_U8(col)[row] = (uint8_t)(iv != 0); break;
    case MR_T_INT32: MR_COL_I32(col)[row] = (int32_t)iv; break;
    case MR_T_DATE: MR_COL_I32(col)[row] = (int32_t)iv; break;
    case MR_T_INT64: MR_COL_I64(col)[row] = iv; break;
    case MR_T_TIMESTAMP:
    case MR_T_TIMESTAMPTZ:
        MR_COL_I64(col)[row] = nid == MR_T_DATE ? iv * INT64_C(86400000000) : iv;
        break;
    case MR_T_FLOAT64:
        MR_COL_F64(col)[row] = nid == MR_T_FLOAT64   ? dv
                               : nid == MR_T_DECIMAL ? (double)iv / (double)mr_pow10[c->nat.scale]
                                                     : (double)iv;
        break;
    case MR_T_DECIMAL: {
        int up = c->want.scale - (nid == MR_T_DECIMAL ? c->nat.scale : 0);
        /* pq_type_fits guarantees the widened value fits the precision */
        MR_COL_I64(col)[row] = iv * mr_pow10[up];
        break;
    }
    default:
        snprintf(why, cap, "column '%.200s': unsupported type", c->fd->name);
        set_null(col, row);
        return 1;
    }
    mr_column_set_valid(col, row, true);
    return 0;
}

/* Moves to a row group with rows left: 1, 0 at the split's end, or a
 * negative code. */
static int have_rows(pq_src *s, mr_err *err)
{
    while (!s->in_rg || s->rows_left == 0) {
        if (s->in_rg) {
            s->in_rg = false;
            s->rgi++;
        }
        if (s->rgi >= s->nrgs)
            return 0;
        int rc = start_row_group(s, err);
        if (rc < 0)
            return rc;
    }
    return 1;
}

/* Whether value v of column c (a string or an integer decimal) would be a
 * bad row: the batch path leaves such a row to pq_next. */
static bool value_bad(const pq_col *c, const pq_val *v)
{
    if (c->kind == PQ_K_STRING)
        return !mr_utf8_valid((const char *)v->s.p, v->s.n);
    if (c->copy == COPY_DEC) {
        const int64_t lim = mr_pow10[c->nat.precision];
        return v->i >= lim || v->i <= -lim;
    }
    return false;
}

/* Copies k rows of column c (its values checked present and good) into
 * col from row r0 on, one loop per kind of column.  0 or MR_ENOMEM. */
static int copy_rows(pq_col *c, mr_column *col, size_t r0, size_t k)
{
    const uint32_t *defs = c->max_def ? c->defs + c->li : NULL;
    const pq_val *v = c->vals + c->vi;
    size_t n = 0;
#define COPY_LOOP(STORE)                                                                           \
    for (size_t j = 0; j < k; j++) {                                                               \
        if (defs && defs[j] == 0) {                                                                \
            set_null(col, r0 + j);                                                                 \
            continue;                                                                              \
        }                                                                                          \
        STORE;                                                                                     \
        n++;                                                                                       \
        mr_column_set_valid(col, r0 + j, true);                                                    \
    }
    switch (c->copy) {
    case COPY_I32: COPY_LOOP(MR_COL_I32(col)[r0 + j] = (int32_t)v[n].i) break;
    case COPY_I64:
    case COPY_DEC: COPY_LOOP(MR_COL_I64(col)[r0 + j] = v[n].i) break;
    case COPY_F64: COPY_LOOP(MR_COL_F64(col)[r0 + j] = v[n].d) break;
    default:
        if (c->kind == PQ_K_BOOL) {
            COPY_LOOP(MR_COL_U8(col)[r0 + j] = (uint8_t)(v[n].i != 0))
        } else {
            COPY_LOOP(if (mr_column_set_str(col, r0 + j, (const char *)v[n].s.p, v[n].s.n) < 0)
                          return MR_ENOMEM)
        }
        break;
    }
#undef COPY_LOOP
    c->li += (uint32_t)k;
    c->vi += (uint32_t)n;
    return 0;
}

/* The batch path (mr_format.next_rows): when every column is one the
 * short path takes (or a string, or a bool), copies up to max rows column
 * by column, as many as every column's current page still holds and
 * stopping before the first bad value.  Returns the rows written after
 * b->nrows (the scan counts them), 0 when pq_next must take the next row
 * (a bad one, a column that converts, or the split's end), or a negative
 * code. */
static int64_t pq_next_rows(void *src, mr_batch *b, size_t max, mr_err *err)
{
    pq_src *s = src;
    if (!s->batchable)
        return 0;
    int rc = have_rows(s, err);
    if (rc <= 0)
        return rc;
    size_t k = max < (uint64_t)s->rows_left ? max : (size_t)s->rows_left;
    for (int i = 0; i < s->ncols && k > 0; i++) {
        pq_col *c = &s->cols[i];
        if (c->li >= c->nlev && (rc = next_page(s, c, err)) < 0)
            return rc;
        if (c->nlev - c->li < k)
            k = c->nlev - c->li;
    }
    for (int i = 0; i < s->ncols && k > 0; i++) { /* stop before a bad value */
        const pq_col *c = &s->cols[i];
        if (c->kind != PQ_K_STRING && c->copy != COPY_DEC)
            continue;
        uint32_t vi = c->vi;
        for (size_t j = 0; j < k; j++) {
            if (c->max_def && c->defs[c->li + j] == 0)
                continue;
            if (vi >= c->nval)
                return 0; /* pq_next reports the corrupt page */
            if (value_bad(c, &c->vals[vi++])) {
                k = j;
                break;
            }
        }
    }
    const size_t r0 = b->nrows;
    for (int i = 0; i < s->ncols && k > 0; i++) {
        pq_col *c = &s->cols[i];
        /* the pre-pass saw every level up to k; a short page stops here */
        size_t nv = 0;
        for (size_t j = 0; j < k; j++)
            nv += !c->max_def || c->defs[c->li + j] != 0;
        if (c->nval - c->vi < nv)
            return col_err(s, c, MR_EPARSE, "corrupt page: fewer values than its levels say",
                           err);
        if ((rc = copy_rows(c, &b->cols[i], r0, k)) < 0)
            return mr_err_set(err, MR_ENOMEM, "out of memory");
    }
    s->rows_left -= (int64_t)k;
    s->row += (int64_t)k;
    return (int64_t)k;
}

static int pq_next(void *src, mr_batch *b, mr_format_row *out, char *why, size_t cap,
                   mr_err *err)
{
    pq_src *s = src;
    int rc0 = have_rows(s, err);
    if (rc0 <= 0)
        return rc0;
    int bad = 0;
    const char *raw = NULL;
    size_t rawlen = 0;
    for (int i = 0; i < s->ncols; i++) {
        pq_col *c = &s->cols[i];
        if (c->li >= c->nlev) {
            int rc = next_page(s, c, err);
            if (rc < 0)
                return rc;
        }
        uint32_t lev = c->max_def ? c->defs[c->li] : 0;
        c->li++;
        mr_column *col = &b->cols[i];
        if (c->max_def && lev == 0) {
            set_null(col, b->nrows);
            continue;
        }
        if (c->vi >= c->nval)
            return col_err(s, c, MR_EPARSE, "corrupt page: fewer values than its levels say", err);
        const int64_t lim = c->copy == COPY_DEC ? mr_pow10[c->nat.precision] : 0;
        if (c->copy != COPY_NONE &&
            (c->copy != COPY_DEC || (c->vals[c->vi].i < lim && c->vals[c->vi].i > -lim))) {
            const pq_val *v = &c->vals[c->vi++];
            if (c->copy == COPY_I32)
                MR_COL_I32(col)[b->nrows] = (int32_t)v->i;
            else if (c->copy == COPY_I64 || c->copy == COPY_DEC)
                MR_COL_I64(col)[b->nrows] = v->i;
            else
                MR_COL_F64(col)[b->nrows] = v->d;
            mr_column_set_valid(col, b->nrows, true);
            continue;
        }
        /* the first bad value of the row says why; later ones are nulled */
        char why2[300];
        const char *raw2;
        size_t rawlen2;
        const pq_val *v = &c->vals[c->vi++];
        int rc = bad ? put_value(c, col, b->nrows, v, why2, sizeof why2, &raw2, &rawlen2)
                     : put_value(c, col, b->nrows, v, why, cap, &raw, &rawlen);
        if (rc < 0)
            return mr_err_set(err, MR_ENOMEM, "out of memory");
        if (rc > 0)
            bad = 1;
    }
    s->rows_left--;
    s->row++;
    if (!bad)
        return MR_FORMAT_ROW;
    out->raw = raw ? raw : "";
    out->raw_len = raw ? rawlen : 0;
    out->offset = 0;
    return MR_FORMAT_BAD;
}

static int64_t pq_line(void *src)
{
    (void)src;
    return -1;
}

static const char *pq_where(void *src, char *buf, size_t cap)
{
    const pq_src *s = src;
    /* the last row returned, counted from 0 within its row group */
    snprintf(buf, cap, "%s: row group %u, row %lld", s->f.path,
             s->rgi < s->nrgs ? s->rgs[s->rgi] : 0, (long long)(s->row > 0 ? s->row - 1 : 0));
    return buf;
}

static uint64_t pq_bytes(const void *src) { return ((const pq_src *)src)->bytes; }

static int pq_infer(const char *path, const mr_csv_options *opt, size_t sample_rows,
                    mr_schema **out, mr_err *err)
{
    (void)opt;
    (void)sample_rows;
    pq_file f;
    int rc = pq_file_open(&f, path, err);
    if (rc < 0)
        return rc;
    rc = pq_file_schema(&f, out, err);
    pq_file_close(&f);
    return rc;
}

static uint64_t pq_groups_skipped(const void *src)
{
    return src ? ((const pq_src *)src)->groups_skipped : 0;
}

const mr_format mr_format_parquet = {
    .name = "parquet",
    .title = "Parquet",
    .open = pq_open,
    .next = pq_next,
    .next_rows = pq_next_rows,
    .line = pq_line,
    .where = pq_where,
    .bytes = pq_bytes,
    .close = pq_close,
    .infer = pq_infer,
    .groups_skipped = pq_groups_skipped,
};
