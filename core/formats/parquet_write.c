/* parquet_write.c - Parquet files from batches: row groups buffered per
 * column, pages compressed, the footer in Thrift compact form.
 *
 * Buffering.  Each column keeps, for the row group being filled, its
 * definition levels (one byte a row: 1 set, 0 NULL) and its non-NULL
 * values in PLAIN encoding (little-endian fixed width, byte arrays as a
 * 4-byte length and the bytes; booleans one byte each until the page is
 * built), plus the running min, max and NULL count.  A row group is
 * written when it reaches row_group_rows rows or its values pass
 * PW_GROUP_BYTES, so the pages' int32 sizes cannot overflow.
 *
 * Pages.  One data page (v1) per column chunk: the definition levels in
 * the RLE/bit-packed hybrid with their 4-byte length, then the values.
 * Text columns try a dictionary first: the distinct values are gathered
 * in an open-addressing hash table, and when they are at most half of the
 * values and their PLAIN size at most PW_DICT_BYTES, a dictionary page
 * (PLAIN) goes first and the data page holds RLE_DICTIONARY indices.  The
 * hybrid encoder takes a run of 8 or more equal values as an RLE run and
 * bit-packs the rest in groups of 8 (the last group padded with zeros,
 * which readers ignore past the page's value count).
 *
 * Statistics.  min_value / max_value (PLAIN bytes of the value, byte
 * arrays without the length) and null_count per column chunk, with
 * column_orders saying TYPE_ORDER so readers trust them: signed order for
 * integers, unsigned bytes for text, NaN left out of float min/max and a
 * zero written as -0.0 for min and +0.0 for max, as the format asks.
 * Text min/max longer than PW_STAT_MAX bytes are left out rather than
 * truncated.
 *
 * The file goes out through stdio with a large buffer; close() writes the
 * footer, its length and "PAR1", fsyncs and closes, so a finished file is
 * on disk; abort() unlinks.
 */
#include "core/formats/parquet_write.h"

#include <errno.h>
#include <math.h>
#include <snappy-c.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "core/formats/parquet_wint.h"

#define PW_GROUP_BYTES ((size_t)256 << 20)
#define PW_DICT_BYTES ((size_t)1 << 20)
#define PW_STAT_MAX 4096u
#define PW_FILE_BUFFER ((size_t)1 << 20)

typedef struct pw_buf {
    uint8_t *p;
    size_t len, cap;
} pw_buf;

static int pw_reserve(pw_buf *b, size_t extra)
{
    if (b->len + extra <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra)
        cap *= 2;
    uint8_t *q = realloc(b->p, cap);
    if (!q)
        return -1;
    b->p = q;
    b->cap = cap;
    return 0;
}

static int pw_put(pw_buf *b, const void *p, size_t n)
{
    if (pw_reserve(b, n) < 0)
        return -1;
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

/* What the footer needs of one column chunk. */
typedef struct pw_chunk {
    int64_t data_off, dict_off; /* dict_off -1 without a dictionary */
    int64_t unc, comp;          /* page bytes with headers */
    int64_t nvalues, nulls;
    uint8_t *min, *max; /* NULL without statistics */
    uint32_t min_len, max_len;
} pw_chunk;

typedef struct pw_group {
    pw_chunk *cols;
    int64_t rows, unc, comp, off;
} pw_group;

typedef struct pw_col {
    const char *name;
    mr_type type;
    int ptype;
    pw_buf vals;
    pw_buf defs;
    uint64_t nvals, nulls;
    bool has_mm;
    int64_t imin, imax;
    double dmin, dmax;
    size_t smin, smax; /* text: offsets of the min / max bytes in vals */
    uint32_t sminl, smaxl;
} pw_col;

struct mr_pqwriter {
    FILE *f;
    char *path;
    mr_schema *schema;
    pw_col *cols;
    int ncols;
    int codec;
    uint64_t rg_rows;
    uint64_t group_rows, rows;
    size_t group_bytes;
    int64_t off;
    pw_group *groups;
    size_t ngroups, capgroups;
    pw_buf page, comp, levels, scratch;
    pq_tenc enc;
};

int mr_pq_codec_parse(const char *name)
{
    if (!name || !*name || strcmp(name, "snappy") == 0)
        return PQ_CODEC_SNAPPY;
    if (strcmp(name, "zstd") == 0)
        return PQ_CODEC_ZSTD;
    if (strcmp(name, "gzip") == 0)
        return PQ_CODEC_GZIP;
    if (strcmp(name, "none") == 0)
        return PQ_CODEC_NONE;
    return -1;
}

static int ptype_of(mr_type_id id)
{
    switch (id) {
    case MR_T_BOOL: return PQ_BOOLEAN;
    case MR_T_INT32:
    case MR_T_DATE: return PQ_INT32;
    case MR_T_FLOAT64: return PQ_DOUBLE;
    case MR_T_STRING: return PQ_BYTE_ARRAY;
    case MR_T_INT64:
    case MR_T_DECIMAL:
    case MR_T_TIMESTAMP:
    case MR_T_TIMESTAMPTZ: return PQ_INT64;
    default: return -1;
    }
}

/* ---- buffering ----------------------------------------------------------- */

static int str_less(const uint8_t *a, uint32_t an, const uint8_t *b, uint32_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c < 0 || (c == 0 && an < bn);
}

static int col_append(pw_col *c, const mr_column *src, uint32_t r)
{
    if (!mr_column_is_valid(src, r)) {
        c->nulls++;
        uint8_t z = 0;
        return pw_put(&c->defs, &z, 1);
    }
    uint8_t one = 1;
    if (pw_put(&c->defs, &one, 1) < 0)
        return -1;
    c->nvals++;
    switch (c->type.id) {
    case MR_T_BOOL: {
        uint8_t v = MR_COL_U8(src)[r] ? 1 : 0;
        if (!c->has_mm || v < c->imin)
            c->imin = v;
        if (!c->has_mm || v > c->imax)
            c->imax = v;
        c->has_mm = true;
        return pw_put(&c->vals, &v, 1);
    }
    case MR_T_INT32:
    case MR_T_DATE: {
        int32_t v = MR_COL_I32(src)[r];
        if (!c->has_mm || v < c->imin)
            c->imin = v;
        if (!c->has_mm || v > c->imax)
            c->imax = v;
        c->has_mm = true;
        uint8_t le[4] = {(uint8_t)v, (uint8_t)((uint32_t)v >> 8), (uint8_t)((uint32_t)v >> 16),
                         (uint8_t)((uint32_t)v >> 24)};
        return pw_put(&c->vals, le, 4);
    }
    case MR_T_FLOAT64: {
        double v = MR_COL_F64(src)[r];
        if (!isnan(v)) {
            if (!c->has_mm || v < c->dmin)
                c->dmin = v;
            if (!c->has_mm || v > c->dmax)
                c->dmax = v;
            c->has_mm = true;
        }
        uint64_t u;
        memcpy(&u, &v, 8);
        uint8_t le[8];
        for (int k = 0; k < 8; k++)
            le[k] = (uint8_t)(u >> (8 * k));
        return pw_put(&c->vals, le, 8);
    }
    case MR_T_STRING: {
        size_t n;
        const char *s = mr_column_str(src, r, &n);
        uint32_t len = (uint32_t)n;
        uint8_t le[4] = {(uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16),
                         (uint8_t)(len >> 24)};
        size_t at = c->vals.len + 4;
        if (pw_put(&c->vals, le, 4) < 0 || pw_put(&c->vals, s, n) < 0)
            return -1;
        const uint8_t *p = c->vals.p + at;
        if (!c->has_mm || str_less(p, len, c->vals.p + c->smin, c->sminl)) {
            c->smin = at;
            c->sminl = len;
        }
        if (!c->has_mm || str_less(c->vals.p + c->smax, c->smaxl, p, len)) {
            c->smax = at;
            c->smaxl = len;
        }
        c->has_mm = true;
        return 0;
    }
    default: {
        int64_t v = MR_COL_I64(src)[r];
        if (!c->has_mm || v < c->imin)
            c->imin = v;
        if (!c->has_mm || v > c->imax)
            c->imax = v;
        c->has_mm = true;
        uint8_t le[8];
        for (int k = 0; k < 8; k++)
            le[k] = (uint8_t)((uint64_t)v >> (8 * k));
        return pw_put(&c->vals, le, 8);
    }
    }
}

/* ---- encodings ------------------------------------------------------------ */

static int put_uvarint(pw_buf *b, uint64_t v)
{
    uint8_t t[10];
    size_t n = 0;
    while (v >= 0x80) {
        t[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    t[n++] = (uint8_t)v;
    return pw_put(b, t, n);
}

/* The RLE / bit-packed hybrid of v[0..n) at bit width bw (1..32). */
static int rle_encode(pw_buf *b, const uint32_t *v, size_t n, int bw)
{
    size_t vbytes = ((size_t)bw + 7) / 8;
    size_t i = 0;
    while (i < n) {
        size_t run = 1;
        while (i + run < n && v[i + run] == v[i])
            run++;
        if (run >= 8) {
            uint8_t val[4] = {(uint8_t)v[i], (uint8_t)(v[i] >> 8), (uint8_t)(v[i] >> 16),
                              (uint8_t)(v[i] >> 24)};
            if (put_uvarint(b, (uint64_t)run << 1) < 0 || pw_put(b, val, vbytes) < 0)
                return -1;
            i += run;
            continue;
        }
        size_t start = i, groups = 0;
        while (i < n) {
            if (groups > 0) {
                size_t r = 1;
                while (i + r < n && r < 8 && v[i + r] == v[i])
                    r++;
                if (r >= 8)
                    break;
            }
            i = i + 8 < n ? i + 8 : n;
            groups++;
        }
        if (put_uvarint(b, (uint64_t)groups << 1 | 1) < 0 || pw_reserve(b, groups * (size_t)bw) < 0)
            return -1;
        uint8_t *out = b->p + b->len;
        memset(out, 0, groups * (size_t)bw);
        size_t bit = 0;
        for (size_t k = start; k < start + groups * 8; k++, bit += (size_t)bw) {
            uint64_t x = k < n ? v[k] : 0;
            for (int j = 0; j < bw; j++)
                if (x >> j & 1)
                    out[(bit + (size_t)j) >> 3] |= (uint8_t)(1u << ((bit + (size_t)j) & 7));
        }
        b->len += groups * (size_t)bw;
    }
    return 0;
}

static int bit_width(uint32_t max)
{
    int bw = 1;
    while (bw < 32 && (max >> bw) != 0)
        bw++;
    return bw;
}

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

/* Tries a dictionary for a text column: fills dict (PLAIN values) and
 * idx (one index per non-NULL value).  1 when it pays, 0 when not, -1 on
 * allocation failure. */
static int text_dictionary(pw_col *c, pw_buf *dict, uint32_t *idx, uint32_t *ndict)
{
    size_t n = c->nvals;
    if (n < 16)
        return 0;
    size_t cap = 16;
    while (cap < n * 2)
        cap *= 2;
    size_t *slot = malloc(cap * sizeof *slot); /* offset+1 into dict, 0 empty */
    uint32_t *sidx = malloc(cap * sizeof *sidx);
    if (!slot || !sidx) {
        free(slot);
        free(sidx);
        return -1;
    }
    memset(slot, 0, cap * sizeof *slot);
    dict->len = 0;
    uint32_t nd = 0;
    int rc = 1;
    size_t at = 0;
    for (size_t i = 0; i < n && rc == 1; i++) {
        const uint8_t *p = c->vals.p + at;
        uint32_t len = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                       (uint32_t)p[3] << 24;
        size_t h = (size_t)hash_bytes(p + 4, len) & (cap - 1);
        for (;;) {
            if (slot[h] == 0) {
                if ((size_t)nd + 1 > n / 2 || dict->len + 4 + len > PW_DICT_BYTES) {
                    rc = 0;
                    break;
                }
                slot[h] = dict->len + 1;
                sidx[h] = nd;
                if (pw_put(dict, p, 4 + (size_t)len) < 0) {
                    rc = -1;
                    break;
                }
                idx[i] = nd++;
                break;
            }
            const uint8_t *q = dict->p + slot[h] - 1;
            if (memcmp(q, p, 4 + (size_t)len) == 0) {
                idx[i] = sidx[h];
                break;
            }
            h = (h + 1) & (cap - 1);
        }
        at += 4 + (size_t)len;
    }
    free(slot);
    free(sidx);
    *ndict = nd;
    return rc;
}

/* ---- pages ------------------------------------------------------------------ */

static int compress_page(mr_pqwriter *w, const uint8_t *p, size_t n, const uint8_t **out,
                         size_t *outn, mr_err *err)
{
    w->comp.len = 0;
    switch (w->codec) {
    case PQ_CODEC_NONE:
        *out = p;
        *outn = n;
        return 0;
    case PQ_CODEC_SNAPPY: {
        size_t cap = snappy_max_compressed_length(n);
        if (pw_reserve(&w->comp, cap) < 0)
            return mr_err_oom(err, NULL);
        if (snappy_compress((const char *)p, n, (char *)w->comp.p, &cap) != SNAPPY_OK)
            return mr_err_set(err, MR_EIO, "'%s': snappy compression failed", w->path);
        *outn = cap;
        break;
    }
    case PQ_CODEC_ZSTD: {
        size_t cap = ZSTD_compressBound(n);
        if (pw_reserve(&w->comp, cap) < 0)
            return mr_err_oom(err, NULL);
        size_t k = ZSTD_compress(w->comp.p, cap, p, n, 3);
        if (ZSTD_isError(k))
            return mr_err_set(err, MR_EIO, "'%s': zstd compression failed: %s", w->path,
                              ZSTD_getErrorName(k));
        *outn = k;
        break;
    }
    case PQ_CODEC_GZIP: {
        z_stream z;
        memset(&z, 0, sizeof z);
        if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                         Z_DEFAULT_STRATEGY) != Z_OK)
            return mr_err_oom(err, NULL);
        size_t cap = deflateBound(&z, (uLong)n);
        if (pw_reserve(&w->comp, cap) < 0) {
            deflateEnd(&z);
            return mr_err_oom(err, NULL);
        }
        z.next_in = (Bytef *)(uintptr_t)p;
        z.avail_in = (uInt)n;
        z.next_out = w->comp.p;
        z.avail_out = (uInt)cap;
        int zr = deflate(&z, Z_FINISH);
        *outn = z.total_out;
        deflateEnd(&z);
        if (zr != Z_STREAM_END)
            return mr_err_set(err, MR_EIO, "'%s': gzip compression failed", w->path);
        break;
    }
    default: return mr_err_set(err, MR_EINVAL, "'%s': unknown codec %d", w->path, w->codec);
    }
    *out = w->comp.p;
    return 0;
}

static int file_put(mr_pqwriter *w, const void *p, size_t n, mr_err *err)
{
    if (n && fwrite(p, 1, n, w->f) != n)
        return mr_err_set(err, MR_EIO, "cannot write '%s': %s", w->path, strerror(errno));
    w->off += (int64_t)n;
    return 0;
}

/* Compresses body w->page and writes its header and bytes.  dict: a
 * dictionary page of nvalues entries; else a data page of nvalues levels
 * whose values use encoding enc.  Adds the sizes to ch. */
static int write_page(mr_pqwriter *w, int dict, int32_t nvalues, int enc, pw_chunk *ch,
                      mr_err *err)
{
    const uint8_t *body = NULL;
    size_t bn = 0;
    int rc = compress_page(w, w->page.p, w->page.len, &body, &bn, err);
    if (rc < 0)
        return rc;
    if (w->page.len > INT32_MAX || bn > INT32_MAX)
        return mr_err_set(err, MR_ETOOBIG, "'%s': a page is larger than 2 GiB", w->path);
    pq_tenc *e = &w->enc;
    pq_tenc_reset(e);
    pq_tenc_i32(e, 1, dict ? PQ_PAGE_DICT : PQ_PAGE_DATA);
    pq_tenc_i32(e, 2, (int32_t)w->page.len);
    pq_tenc_i32(e, 3, (int32_t)bn);
    pq_tenc_begin(e, dict ? 7 : 5);
    pq_tenc_i32(e, 1, nvalues);
    pq_tenc_i32(e, 2, enc);
    if (!dict) {
        pq_tenc_i32(e, 3, PQ_ENC_RLE);
        pq_tenc_i32(e, 4, PQ_ENC_RLE);
    }
    pq_tenc_end(e);
    pq_tenc_end(e);
    if (e->oom)
        return mr_err_oom(err, NULL);
    ch->unc += (int64_t)(e->len + w->page.len);
    ch->comp += (int64_t)(e->len + bn);
    if ((rc = file_put(w, e->p, e->len, err)) < 0)
        return rc;
    return file_put(w, body, bn, err);
}

static int copy_stat(uint8_t **dst, uint32_t *dn, const void *p, size_t n)
{
    *dst = malloc(n ? n : 1);
    if (!*dst)
        return -1;
    if (n)
        memcpy(*dst, p, n);
    *dn = (uint32_t)n;
    return 0;
}

static int chunk_stats(const pw_col *c, pw_chunk *ch)
{
    if (!c->has_mm)
        return 0;
    uint8_t mn[8], mx[8];
    size_t n;
    switch (c->ptype) {
    case PQ_BOOLEAN:
        mn[0] = (uint8_t)c->imin;
        mx[0] = (uint8_t)c->imax;
        n = 1;
        break;
    case PQ_INT32:
    case PQ_INT64:
        n = c->ptype == PQ_INT32 ? 4 : 8;
        for (size_t k = 0; k < n; k++) {
            mn[k] = (uint8_t)((uint64_t)c->imin >> (8 * k));
            mx[k] = (uint8_t)((uint64_t)c->imax >> (8 * k));
        }
        break;
    case PQ_DOUBLE: {
        double lo = c->dmin == 0 ? -0.0 : c->dmin, hi = c->dmax == 0 ? 0.0 : c->dmax;
        uint64_t a, b;
        memcpy(&a, &lo, 8);
        memcpy(&b, &hi, 8);
        for (size_t k = 0; k < 8; k++) {
            mn[k] = (uint8_t)(a >> (8 * k));
            mx[k] = (uint8_t)(b >> (8 * k));
        }
        n = 8;
        break;
    }
    default:
        if (c->sminl > PW_STAT_MAX || c->smaxl > PW_STAT_MAX)
            return 0;
        if (copy_stat(&ch->min, &ch->min_len, c->vals.p + c->smin, c->sminl) < 0 ||
            copy_stat(&ch->max, &ch->max_len, c->vals.p + c->smax, c->smaxl) < 0)
            return -1;
        return 0;
    }
    if (copy_stat(&ch->min, &ch->min_len, mn, n) < 0 || copy_stat(&ch->max, &ch->max_len, mx, n) < 0)
        return -1;
    return 0;
}

/* Writes column c's chunk of the current row group. */
static int write_chunk(mr_pqwriter *w, pw_col *c, pw_chunk *ch, mr_err *err)
{
    size_t rows = c->defs.len;
    ch->dict_off = -1;
    ch->nvalues = (int64_t)rows;
    ch->nulls = (int64_t)c->nulls;
    if (chunk_stats(c, ch) < 0)
        return mr_err_oom(err, NULL);
    /* levels: one uint32 per row in scratch, encoded into levels */
    w->scratch.len = 0;
    size_t need = (rows > c->nvals ? rows : c->nvals) * sizeof(uint32_t);
    if (pw_reserve(&w->scratch, need ? need : 4) < 0)
        return mr_err_oom(err, NULL);
    uint32_t *u = (uint32_t *)(void *)w->scratch.p;
    for (size_t i = 0; i < rows; i++)
        u[i] = c->defs.p[i];
    w->levels.len = 0;
    uint8_t len4[4] = {0};
    if (pw_put(&w->levels, len4, 4) < 0 || rle_encode(&w->levels, u, rows, 1) < 0)
        return mr_err_oom(err, NULL);
    uint32_t ll = (uint32_t)(w->levels.len - 4);
    for (int k = 0; k < 4; k++)
        w->levels.p[k] = (uint8_t)(ll >> (8 * k));

    int enc = PQ_ENC_PLAIN, rc;
    w->page.len = 0;
    if (c->ptype == PQ_BYTE_ARRAY) {
        uint32_t nd = 0;
        pw_buf dict = {0};
        int d = text_dictionary(c, &dict, u, &nd);
        if (d < 0) {
            free(dict.p);
            return mr_err_oom(err, NULL);
        }
        if (d == 1) {
            ch->dict_off = w->off;
            w->page.len = 0;
            rc = pw_put(&w->page, dict.p, dict.len) < 0 ? mr_err_oom(err, NULL)
                                                        : write_page(w, 1, (int32_t)nd,
                                                                     PQ_ENC_PLAIN, ch, err);
            free(dict.p);
            if (rc < 0)
                return rc;
            int bw = bit_width(nd ? nd - 1 : 0);
            uint8_t bwb = (uint8_t)bw;
            w->page.len = 0;
            if (pw_put(&w->page, w->levels.p, w->levels.len) < 0 || pw_put(&w->page, &bwb, 1) < 0 ||
                rle_encode(&w->page, u, c->nvals, bw) < 0)
                return mr_err_oom(err, NULL);
            enc = PQ_ENC_RLE_DICT;
        } else {
            free(dict.p);
        }
    }
    if (enc == PQ_ENC_PLAIN) {
        if (pw_put(&w->page, w->levels.p, w->levels.len) < 0)
            return mr_err_oom(err, NULL);
        if (c->ptype == PQ_BOOLEAN) {
            size_t nb = (c->nvals + 7) / 8;
            if (pw_reserve(&w->page, nb) < 0)
                return mr_err_oom(err, NULL);
            uint8_t *o = w->page.p + w->page.len;
            memset(o, 0, nb);
            for (size_t i = 0; i < c->nvals; i++)
                if (c->vals.p[i])
                    o[i >> 3] |= (uint8_t)(1u << (i & 7));
            w->page.len += nb;
        } else if (pw_put(&w->page, c->vals.p, c->vals.len) < 0) {
            return mr_err_oom(err, NULL);
        }
    }
    ch->data_off = w->off;
    if (rows > INT32_MAX)
        return mr_err_set(err, MR_ETOOBIG, "'%s': too many rows in a row group", w->path);
    return write_page(w, 0, (int32_t)rows, enc, ch, err);
}

static int flush_group(mr_pqwriter *w, mr_err *err)
{
    if (w->group_rows == 0)
        return 0;
    if (w->ngroups == w->capgroups) {
        size_t cap = w->capgroups ? w->capgroups * 2 : 4;
        pw_group *g = realloc(w->groups, cap * sizeof *g);
        if (!g)
            return mr_err_oom(err, NULL);
        w->groups = g;
        w->capgroups = cap;
    }
    pw_group *g = &w->groups[w->ngroups];
    memset(g, 0, sizeof *g);
    g->cols = calloc((size_t)(w->ncols ? w->ncols : 1), sizeof *g->cols);
    if (!g->cols)
        return mr_err_oom(err, NULL);
    w->ngroups++;
    g->rows = (int64_t)w->group_rows;
    g->off = w->off;
    for (int j = 0; j < w->ncols; j++) {
        pw_col *c = &w->cols[j];
        int rc = write_chunk(w, c, &g->cols[j], err);
        if (rc < 0)
            return rc;
        g->unc += g->cols[j].unc;
        g->comp += g->cols[j].comp;
        c->vals.len = c->defs.len = 0;
        c->nvals = c->nulls = 0;
        c->has_mm = false;
    }
    w->group_rows = 0;
    w->group_bytes = 0;
    return 0;
}

/* ---- footer ---------------------------------------------------------------- */

static void schema_element(pq_tenc *e, const pw_col *c)
{
    pq_tenc_begin(e, 0);
    pq_tenc_i32(e, 1, c->ptype);
    pq_tenc_i32(e, 3, PQ_OPTIONAL);
    pq_tenc_bin(e, 4, c->name, strlen(c->name));
    switch (c->type.id) {
    case MR_T_STRING:
        pq_tenc_i32(e, 6, PQ_CT_UTF8);
        pq_tenc_begin(e, 10);
        pq_tenc_begin(e, PQ_LT_STRING);
        pq_tenc_end(e);
        pq_tenc_end(e);
        break;
    case MR_T_DECIMAL:
        pq_tenc_i32(e, 6, PQ_CT_DECIMAL);
        pq_tenc_i32(e, 7, c->type.scale);
        pq_tenc_i32(e, 8, c->type.precision);
        pq_tenc_begin(e, 10);
        pq_tenc_begin(e, PQ_LT_DECIMAL);
        pq_tenc_i32(e, 1, c->type.scale);
        pq_tenc_i32(e, 2, c->type.precision);
        pq_tenc_end(e);
        pq_tenc_end(e);
        break;
    case MR_T_DATE:
        pq_tenc_i32(e, 6, PQ_CT_DATE);
        pq_tenc_begin(e, 10);
        pq_tenc_begin(e, PQ_LT_DATE);
        pq_tenc_end(e);
        pq_tenc_end(e);
        break;
    case MR_T_TIMESTAMP:
    case MR_T_TIMESTAMPTZ: {
        int utc = c->type.id == MR_T_TIMESTAMPTZ;
        if (utc)
            pq_tenc_i32(e, 6, PQ_CT_TS_MICROS);
        pq_tenc_begin(e, 10);
        pq_tenc_begin(e, PQ_LT_TIMESTAMP);
        pq_tenc_bool(e, 1, utc);
        pq_tenc_begin(e, 2);
        pq_tenc_begin(e, PQ_UNIT_MICROS);
        pq_tenc_end(e);
        pq_tenc_end(e);
        pq_tenc_end(e);
        pq_tenc_end(e);
        break;
    }
    default: break;
    }
    pq_tenc_end(e);
}

static void column_chunk(pq_tenc *e, const pw_col *c, const pw_chunk *ch, int codec)
{
    pq_tenc_begin(e, 0);
    pq_tenc_i64(e, 2, ch->dict_off >= 0 ? ch->dict_off : ch->data_off);
    pq_tenc_begin(e, 3);
    pq_tenc_i32(e, 1, c->ptype);
    int dict = ch->dict_off >= 0;
    pq_tenc_list(e, 2, PQ_TT_I32, dict ? 3 : 2);
    pq_tenc_elem_i32(e, PQ_ENC_PLAIN);
    pq_tenc_elem_i32(e, PQ_ENC_RLE);
    if (dict)
        pq_tenc_elem_i32(e, PQ_ENC_RLE_DICT);
    pq_tenc_list(e, 3, PQ_TT_BINARY, 1);
    pq_tenc_elem_bin(e, c->name, strlen(c->name));
    pq_tenc_i32(e, 4, codec);
    pq_tenc_i64(e, 5, ch->nvalues);
    pq_tenc_i64(e, 6, ch->unc);
    pq_tenc_i64(e, 7, ch->comp);
    pq_tenc_i64(e, 9, ch->data_off);
    if (dict)
        pq_tenc_i64(e, 11, ch->dict_off);
    pq_tenc_begin(e, 12);
    pq_tenc_i64(e, 3, ch->nulls);
    if (ch->max)
        pq_tenc_bin(e, 5, ch->max, ch->max_len);
    if (ch->min)
        pq_tenc_bin(e, 6, ch->min, ch->min_len);
    pq_tenc_end(e);
    pq_tenc_end(e);
    pq_tenc_end(e);
}

static int write_footer(mr_pqwriter *w, mr_err *err)
{
    pq_tenc *e = &w->enc;
    pq_tenc_reset(e);
    pq_tenc_i32(e, 1, 2);
    pq_tenc_list(e, 2, PQ_TT_STRUCT, (size_t)w->ncols + 1);
    pq_tenc_begin(e, 0);
    pq_tenc_bin(e, 4, "schema", 6);
    pq_tenc_i32(e, 5, w->ncols);
    pq_tenc_end(e);
    for (int j = 0; j < w->ncols; j++)
        schema_element(e, &w->cols[j]);
    pq_tenc_i64(e, 3, (int64_t)w->rows);
    pq_tenc_list(e, 4, PQ_TT_STRUCT, w->ngroups);
    for (size_t g = 0; g < w->ngroups; g++) {
        const pw_group *rg = &w->groups[g];
        pq_tenc_begin(e, 0);
        pq_tenc_list(e, 1, PQ_TT_STRUCT, (size_t)w->ncols);
        for (int j = 0; j < w->ncols; j++)
            column_chunk(e, &w->cols[j], &rg->cols[j], w->codec);
        pq_tenc_i64(e, 2, rg->unc);
        pq_tenc_i64(e, 3, rg->rows);
        pq_tenc_i64(e, 5, rg->off);
        pq_tenc_i64(e, 6, rg->comp);
        if (g <= INT16_MAX)
            pq_tenc_i16(e, 7, (int16_t)g);
        pq_tenc_end(e);
    }
    static const char created[] = "millrace";
    pq_tenc_bin(e, 6, created, sizeof created - 1);
    pq_tenc_list(e, 7, PQ_TT_STRUCT, (size_t)w->ncols);
    for (int j = 0; j < w->ncols; j++) {
        pq_tenc_begin(e, 0);
        pq_tenc_begin(e, 1);
        pq_tenc_end(e);
        pq_tenc_end(e);
    }
    pq_tenc_end(e);
    if (e->oom)
        return mr_err_oom(err, NULL);
    uint32_t n = (uint32_t)e->len;
    uint8_t tail[8] = {(uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16), (uint8_t)(n >> 24),
                       'P', 'A', 'R', '1'};
    int rc = file_put(w, e->p, e->len, err);
    return rc < 0 ? rc : file_put(w, tail, 8, err);
}

/* ---- the writer -------------------------------------------------------------- */

static void pw_free(mr_pqwriter *w)
{
    if (w->cols)
        for (int j = 0; j < w->ncols; j++) {
            free(w->cols[j].vals.p);
            free(w->cols[j].defs.p);
        }
    free(w->cols);
    for (size_t g = 0; g < w->ngroups; g++) {
        for (int j = 0; j < w->ncols; j++) {
            free(w->groups[g].cols[j].min);
            free(w->groups[g].cols[j].max);
        }
        free(w->groups[g].cols);
    }
    free(w->groups);
    free(w->page.p);
    free(w->comp.p);
    free(w->levels.p);
    free(w->scratch.p);
    pq_tenc_free(&w->enc);
    mr_schema_destroy(w->schema);
    free(w->path);
    free(w);
}

mr_pqwriter *mr_pqwriter_open(const char *path, const mr_schema *schema, int codec,
                              uint64_t row_group_rows, mr_err *err)
{
    if (codec != PQ_CODEC_NONE && codec != PQ_CODEC_SNAPPY && codec != PQ_CODEC_GZIP &&
        codec != PQ_CODEC_ZSTD) {
        mr_err_set(err, MR_EINVAL, "unknown Parquet compression %d", codec);
        return NULL;
    }
    mr_pqwriter *w = calloc(1, sizeof *w);
    if (!w) {
        mr_err_oom(err, NULL);
        return NULL;
    }
    w->codec = codec;
    w->rg_rows = row_group_rows ? row_group_rows : MR_PQ_ROW_GROUP_ROWS;
    if (w->rg_rows > INT32_MAX)
        w->rg_rows = INT32_MAX;
    w->path = strdup(path);
    w->schema = mr_schema_copy(schema);
    w->ncols = schema->nfields;
    w->cols = calloc((size_t)(w->ncols ? w->ncols : 1), sizeof *w->cols);
    if (!w->path || !w->schema || !w->cols) {
        mr_err_oom(err, NULL);
        pw_free(w);
        return NULL;
    }
    for (int j = 0; j < w->ncols; j++) {
        pw_col *c = &w->cols[j];
        c->name = w->schema->fields[j].name;
        c->type = w->schema->fields[j].type;
        c->ptype = ptype_of(c->type.id);
        if (c->ptype < 0) {
            mr_err_set(err, MR_EINVAL, "'%s': column '%s' has a type Parquet output cannot hold",
                       path, c->name);
            pw_free(w);
            return NULL;
        }
    }
    w->f = fopen(path, "wbe");
    if (!w->f) {
        mr_err_set(err, MR_EIO, "cannot create '%s': %s", path, strerror(errno));
        pw_free(w);
        return NULL;
    }
    setvbuf(w->f, NULL, _IOFBF, PW_FILE_BUFFER);
    if (file_put(w, "PAR1", 4, err) < 0) {
        mr_pqwriter_abort(w);
        return NULL;
    }
    return w;
}

int mr_pqwriter_write(mr_pqwriter *w, const mr_batch *b, mr_err *err)
{
    if (b->ncols != w->ncols)
        return mr_err_set(err, MR_EINVAL, "'%s': batch has %d columns, the file %d", w->path,
                          b->ncols, w->ncols);
    for (int j = 0; j < b->ncols; j++)
        if (b->cols[j].type.id != w->cols[j].type.id)
            return mr_err_set(err, MR_EINVAL, "'%s': column '%s' of the batch has another type",
                              w->path, w->cols[j].name);
    size_t live = mr_batch_live(b);
    size_t i = 0;
    while (i < live) {
        size_t room = (size_t)(w->rg_rows - w->group_rows);
        size_t end = live - i < room ? live : i + room;
        size_t before = 0;
        for (int j = 0; j < w->ncols; j++)
            before += w->cols[j].vals.len;
        for (int j = 0; j < w->ncols; j++) {
            pw_col *c = &w->cols[j];
            for (size_t k = i; k < end; k++)
                if (col_append(c, &b->cols[j], mr_batch_row(b, k)) < 0)
                    return mr_err_oom(err, NULL);
        }
        size_t after = 0;
        for (int j = 0; j < w->ncols; j++)
            after += w->cols[j].vals.len;
        w->group_bytes += after - before;
        w->group_rows += end - i;
        w->rows += end - i;
        i = end;
        if (w->group_rows >= w->rg_rows || w->group_bytes >= PW_GROUP_BYTES) {
            int rc = flush_group(w, err);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

uint64_t mr_pqwriter_rows(const mr_pqwriter *w)
{
    return w ? w->rows : 0;
}

int mr_pqwriter_close(mr_pqwriter *w, mr_err *err)
{
    if (!w)
        return 0;
    int rc = flush_group(w, err);
    if (rc == 0)
        rc = write_footer(w, err);
    if (rc == 0 && fflush(w->f) != 0)
        rc = mr_err_set(err, MR_EIO, "cannot write '%s': %s", w->path, strerror(errno));
    if (rc == 0 && fsync(fileno(w->f)) < 0)
        rc = mr_err_set(err, MR_EIO, "cannot fsync '%s': %s", w->path, strerror(errno));
    if (fclose(w->f) != 0 && rc == 0)
        rc = mr_err_set(err, MR_EIO, "cannot close '%s': %s", w->path, strerror(errno));
    w->f = NULL;
    if (rc < 0)
        unlink(w->path);
    pw_free(w);
    return rc;
}

void mr_pqwriter_abort(mr_pqwriter *w)
{
    if (!w)
        return;
    if (w->f)
        fclose(w->f);
    unlink(w->path);
    pw_free(w);
}
