/* parquet_page.c - Parquet page bodies: codecs, the RLE/bit-packed hybrid
 * and the value encodings, decoded into pq_val arrays.
 *
 * Codecs come from Debian's libraries (libsnappy's C API, zlib for GZIP,
 * libzstd); the decompressed size must be exactly what the page header
 * says.  Encodings (the format specification's Encodings.md):
 *   PLAIN                     little-endian values; booleans one bit each;
 *                             byte arrays a 4-byte length then the bytes
 *   PLAIN_DICTIONARY,
 *   RLE_DICTIONARY            one byte of bit width, then indices in the
 *                             RLE/bit-packed hybrid, looked up in the
 *                             column chunk's dictionary
 *   RLE                       booleans: a 4-byte length, then the hybrid
 *                             of width 1
 *   DELTA_BINARY_PACKED       blocks of miniblocks of bit-packed deltas
 *                             from a per-block minimum
 *   DELTA_LENGTH_BYTE_ARRAY   the lengths delta-packed, then the bytes
 *   DELTA_BYTE_ARRAY          prefix lengths and suffixes: each value is
 *                             the previous one's prefix plus its suffix
 *   BYTE_STREAM_SPLIT         byte k of every value stored together
 * Values that point into bytes (byte arrays, fixed-length arrays, INT96)
 * point into the page buffer, the dictionary, or the scratch buffer, which
 * the caller keeps while it reads them.
 *
 * Every decoder checks each length against the bytes it has; integer
 * arithmetic on deltas is done in uint64 so a crafted file wraps rather
 * than overflows. */
#include "core/formats/parquet_int.h"

#include <snappy-c.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "core/error.h"

static int fail(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    return MR_EPARSE;
}

int pq_buf_reserve(pq_buf *b, size_t n)
{
    if (n <= b->cap)
        return 0;
    size_t c = b->cap ? b->cap : 4096;
    while (c < n)
        c = c > SIZE_MAX / 2 ? n : c * 2;
    uint8_t *p = realloc(b->p, c);
    if (!p)
        return -1;
    b->p = p;
    b->cap = c;
    return 0;
}

const char *pq_codec_name(int codec)
{
    static const char *const n[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO",
                                    "BROTLI",       "LZ4",    "ZSTD", "LZ4_RAW"};
    return codec >= 0 && codec < 8 ? n[codec] : "unknown";
}

const char *pq_encoding_name(int enc)
{
    static const char *const n[] = {"PLAIN",
                                    "GROUP_VAR_INT",
                                    "PLAIN_DICTIONARY",
                                    "RLE",
                                    "BIT_PACKED",
                                    "DELTA_BINARY_PACKED",
                                    "DELTA_LENGTH_BYTE_ARRAY",
                                    "DELTA_BYTE_ARRAY",
                                    "RLE_DICTIONARY",
                                    "BYTE_STREAM_SPLIT"};
    return enc >= 0 && enc < 10 ? n[enc] : "unknown";
}

/* ---- codecs ---------------------------------------------------------------- */

static int gunzip(const uint8_t *src, size_t n, uint8_t *dst, size_t dn, char *why, size_t cap)
{
    /* page sizes are int32 in the header, so both fit a uInt */
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 32 + MAX_WBITS) != Z_OK) /* gzip or zlib header */
        return MR_ENOMEM;
    uint8_t dummy;
    z.next_in = (Bytef *)src;
    z.avail_in = (uInt)n;
    z.next_out = dn ? dst : &dummy;
    z.avail_out = (uInt)dn;
    int rc = inflate(&z, Z_FINISH);
    size_t out = dn - z.avail_out;
    const char *msg = z.msg ? z.msg : "truncated or longer than the page header says";
    inflateEnd(&z);
    if (rc != Z_STREAM_END)
        return fail(why, cap, "GZIP data is corrupt (%s)", msg);
    if (out != dn)
        return fail(why, cap, "GZIP data gives %zu bytes, the page header says %zu", out, dn);
    return 0;
}

int pq_decompress(int codec, const uint8_t *src, size_t n, uint8_t *dst, size_t dn, char *why,
                  size_t cap)
{
    switch (codec) {
    case PQ_CODEC_NONE:
        if (n != dn)
            return fail(why, cap, "uncompressed page of %zu bytes, the header says %zu", n, dn);
        if (n)
            memcpy(dst, src, n);
        return 0;
    case PQ_CODEC_SNAPPY: {
        size_t len;
        if (snappy_uncompressed_length((const char *)src, n, &len) != SNAPPY_OK)
            return fail(why, cap, "SNAPPY data is corrupt");
        if (len != dn)
            return fail(why, cap, "SNAPPY data gives %zu bytes, the page header says %zu", len,
                        dn);
        if (dn == 0)
            return 0;
        if (snappy_uncompress((const char *)src, n, (char *)dst, &len) != SNAPPY_OK || len != dn)
            return fail(why, cap, "SNAPPY data is corrupt");
        return 0;
    }
    case PQ_CODEC_GZIP: return gunzip(src, n, dst, dn, why, cap);
    case PQ_CODEC_ZSTD: {
        size_t r = ZSTD_decompress(dst, dn, src, n);
        if (ZSTD_isError(r))
            return fail(why, cap, "ZSTD data is corrupt (%s)", ZSTD_getErrorName(r));
        if (r != dn)
            return fail(why, cap, "ZSTD data gives %zu bytes, the page header says %zu", r, dn);
        return 0;
    }
    default:
        snprintf(why, cap, "compression codec %s is not supported (use UNCOMPRESSED, SNAPPY, "
                 "GZIP or ZSTD)", pq_codec_name(codec));
        return MR_ENOTSUP;
    }
}

/* ---- bits ------------------------------------------------------------------ */

/* The w-bit (w <= 64) little-endian value at bit bitpos of base; the
 * caller has checked that base holds (bitpos + w + 7) / 8 bytes. */
static inline uint64_t bits_at(const uint8_t *base, uint64_t bitpos, int w)
{
    if (w == 0)
        return 0;
    const uint8_t *b = base + (bitpos >> 3);
    int sh = (int)(bitpos & 7);
    int need = (sh + w + 7) >> 3;
    uint64_t lo = 0;
    int k = need > 8 ? 8 : need;
    for (int i = 0; i < k; i++)
        lo |= (uint64_t)b[i] << (8 * i);
    uint64_t v = lo >> sh;
    if (need > 8)
        v |= (uint64_t)b[8] << (64 - sh);
    return w == 64 ? v : v & ((UINT64_C(1) << w) - 1);
}

static int uleb(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (int sh = 0; sh < 64; sh += 7) {
        if (*p >= end)
            return -1;
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << sh;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

static int zigzag(const uint8_t **p, const uint8_t *end, int64_t *out)
{
    uint64_t u;
    if (uleb(p, end, &u) < 0)
        return -1;
    *out = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
    return 0;
}

/* ---- the RLE / bit-packed hybrid ------------------------------------------- */

int pq_rle_decode(const uint8_t *p, size_t n, int bw, uint32_t count, uint32_t *out, char *why,
                  size_t cap)
{
    const uint8_t *end = p + n;
    uint32_t got = 0;
    if (bw < 0 || bw > 32)
        return fail(why, cap, "RLE bit width %d is out of range", bw);
    while (got < count) {
        uint64_t h;
        if (uleb(&p, end, &h) < 0)
            return fail(why, cap, "RLE data ends after %u of %u values", got, count);
        if (h & 1) { /* bit-packed: (h >> 1) groups of 8 values */
            uint64_t groups = h >> 1;
            uint64_t bytes = groups * (uint64_t)bw;
            if (groups == 0 || groups > (uint64_t)1 << 28)
                return fail(why, cap, "RLE data holds a bad bit-packed run");
            /* the last run may be cut short of its stated length */
            uint64_t have = (uint64_t)(end - p);
            if (bytes > have)
                bytes = have;
            uint64_t vals = groups * 8;
            if (bw > 0 && vals > bytes * 8 / (uint64_t)bw)
                vals = bytes * 8 / (uint64_t)bw;
            /* a 64-bit window refilled a byte at a time: bw <= 32, so it
             * never holds more than 39 bits, and it reads no byte past the
             * vals * bw bits checked above */
            uint64_t win = 0;
            int nb = 0;
            const uint8_t *q = p;
            const uint64_t mask = bw == 32 ? 0xffffffffu : (UINT64_C(1) << bw) - 1;
            for (uint64_t i = 0; i < vals && got < count; i++) {
                while (nb < bw) {
                    win |= (uint64_t)*q++ << nb;
                    nb += 8;
                }
                out[got++] = (uint32_t)(win & mask);
                win >>= bw;
                nb -= bw;
            }
            if (bw == 0)
                for (uint64_t i = 0; i < groups * 8 && got < count; i++)
                    out[got++] = 0;
            p += bytes;
            if (vals == 0 && bw > 0)
                return fail(why, cap, "RLE data ends after %u of %u values", got, count);
        } else {
            uint64_t run = h >> 1;
            int vb = (bw + 7) / 8;
            if (run == 0)
                return fail(why, cap, "RLE data holds an empty run");
            if ((size_t)(end - p) < (size_t)vb)
                return fail(why, cap, "RLE data ends inside a run's value");
            uint32_t v = 0;
            for (int i = 0; i < vb; i++)
                v |= (uint32_t)p[i] << (8 * i);
            p += vb;
            if (bw < 32 && (v >> bw) != 0)
                return fail(why, cap, "RLE run value %u is wider than %d bits", v, bw);
            for (uint64_t i = 0; i < run && got < count; i++)
                out[got++] = v;
        }
    }
    return 0;
}

/* ---- DELTA_BINARY_PACKED ----------------------------------------------------- */

/* Decodes count integers (at least; the header's total must cover them)
 * from *pp, advancing *pp past the block data used.  out may be NULL for a
 * count-only pass. */
static int delta_bp(const uint8_t **pp, const uint8_t *end, uint32_t count, int64_t *out,
                    uint32_t *total_out, char *why, size_t cap)
{
    const uint8_t *p = *pp;
    uint64_t block, nmini, total;
    int64_t first;
    if (uleb(&p, end, &block) < 0 || uleb(&p, end, &nmini) < 0 || uleb(&p, end, &total) < 0 ||
        zigzag(&p, end, &first) < 0)
        return fail(why, cap, "DELTA_BINARY_PACKED header is truncated");
    if (block == 0 || block % 128 || nmini == 0 || block % nmini || (block / nmini) % 32 ||
        block > (1u << 20))
        return fail(why, cap, "DELTA_BINARY_PACKED block of %llu values in %llu miniblocks is "
                    "invalid", (unsigned long long)block, (unsigned long long)nmini);
    if (total > UINT32_MAX)
        return fail(why, cap, "DELTA_BINARY_PACKED holds too many values");
    if (total_out)
        *total_out = (uint32_t)total;
    if (count == UINT32_MAX)
        count = (uint32_t)total;
    if (total < count)
        return fail(why, cap, "DELTA_BINARY_PACKED holds %llu values, the page needs %u",
                    (unsigned long long)total, count);
    const uint64_t per_mini = block / nmini;
    uint64_t prev = (uint64_t)first;
    uint32_t got = 0;
    if (total > 0) {
        if (out)
            out[0] = first;
        got = 1;
    }
    uint64_t left = total > 0 ? total - 1 : 0; /* values still encoded */
    while (left > 0) {
        int64_t mind;
        if (zigzag(&p, end, &mind) < 0)
            return fail(why, cap, "DELTA_BINARY_PACKED block header is truncated");
        if ((uint64_t)(end - p) < nmini)
            return fail(why, cap, "DELTA_BINARY_PACKED bit widths are truncated");
        const uint8_t *widths = p;
        p += nmini;
        for (uint64_t m = 0; m < nmini && left > 0; m++) {
            int w = widths[m];
            if (w > 64)
                return fail(why, cap, "DELTA_BINARY_PACKED bit width %d is over 64", w);
            uint64_t bytes = per_mini * (uint64_t)w / 8;
            if ((uint64_t)(end - p) < bytes)
                return fail(why, cap, "DELTA_BINARY_PACKED miniblock is truncated");
            uint64_t take = left < per_mini ? left : per_mini;
            for (uint64_t i = 0; i < take; i++) {
                prev = prev + (uint64_t)mind + bits_at(p, i * (uint64_t)w, w);
                if (out && got < count)
                    out[got] = (int64_t)prev;
                got++;
            }
            left -= take;
            p += bytes;
        }
    }
    *pp = p;
    return 0;
}

/* ---- value decoders ---------------------------------------------------------- */

static int fixed_width(int ptype, int32_t type_len)
{
    switch (ptype) {
    case PQ_INT32:
    case PQ_FLOAT: return 4;
    case PQ_INT64:
    case PQ_DOUBLE: return 8;
    case PQ_INT96: return 12;
    case PQ_FLBA: return type_len;
    default: return 0;
    }
}

static inline uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* One fixed-width value at p into v. */
static inline void put_fixed(int ptype, const uint8_t *p, int w, pq_val *v)
{
    switch (ptype) {
    case PQ_INT32: v->i = (int32_t)le32(p); break;
    case PQ_INT64: v->i = (int64_t)le64(p); break;
    case PQ_FLOAT: {
        uint32_t u = le32(p);
        float f;
        memcpy(&f, &u, 4);
        v->d = f;
        break;
    }
    case PQ_DOUBLE: {
        uint64_t u = le64(p);
        memcpy(&v->d, &u, 8);
        break;
    }
    default:
        v->s.p = p;
        v->s.n = (uint32_t)w;
        break;
    }
}

static int dec_plain(int ptype, int32_t type_len, const uint8_t *p, size_t n, uint32_t count,
                     pq_val *out, char *why, size_t cap)
{
    if (ptype == PQ_BOOLEAN) {
        if ((uint64_t)n * 8 < count)
            return fail(why, cap, "PLAIN booleans: %zu bytes for %u values", n, count);
        for (uint32_t i = 0; i < count; i++)
            out[i].i = (p[i >> 3] >> (i & 7)) & 1;
        return 0;
    }
    if (ptype == PQ_BYTE_ARRAY) {
        const uint8_t *end = p + n;
        for (uint32_t i = 0; i < count; i++) {
            if (end - p < 4)
                return fail(why, cap, "PLAIN byte array %u of %u: its length is truncated", i,
                            count);
            uint32_t len = le32(p);
            p += 4;
            if ((size_t)(end - p) < len)
                return fail(why, cap, "PLAIN byte array %u of %u: %u bytes run past the page", i,
                            count, len);
            out[i].s.p = p;
            out[i].s.n = len;
            p += len;
        }
        return 0;
    }
    int w = fixed_width(ptype, type_len);
    if (w <= 0)
        return fail(why, cap, "physical type %d has no fixed width", ptype);
    if ((uint64_t)count * (uint64_t)w > n)
        return fail(why, cap, "PLAIN values: %zu bytes for %u values of %d bytes", n, count, w);
    for (uint32_t i = 0; i < count; i++)
        put_fixed(ptype, p + (size_t)i * (size_t)w, w, &out[i]);
    return 0;
}

static int dec_dict(const uint8_t *p, size_t n, uint32_t count, pq_val *out, const pq_val *dict,
                    uint32_t ndict, char *why, size_t cap)
{
    if (!dict)
        return fail(why, cap, "a dictionary-encoded page comes without a dictionary page");
    if (count == 0)
        return 0;
    if (n < 1)
        return fail(why, cap, "dictionary indices are missing");
    int bw = p[0];
    if (bw > 32)
        return fail(why, cap, "dictionary index bit width %d is over 32", bw);
    uint32_t *idx = malloc((size_t)count * sizeof *idx);
    if (!idx)
        return MR_ENOMEM;
    int rc = pq_rle_decode(p + 1, n - 1, bw, count, idx, why, cap);
    for (uint32_t i = 0; rc == 0 && i < count; i++) {
        if (idx[i] >= ndict)
            rc = fail(why, cap, "dictionary index %u is past the dictionary's %u entries", idx[i],
                      ndict);
        else
            out[i] = dict[idx[i]];
    }
    free(idx);
    return rc;
}

static int dec_rle_bool(const uint8_t *p, size_t n, uint32_t count, pq_val *out, char *why,
                        size_t cap)
{
    if (n < 4)
        return fail(why, cap, "RLE booleans: the length is truncated");
    uint32_t len = le32(p);
    if (len > n - 4)
        return fail(why, cap, "RLE booleans: %u bytes run past the page", len);
    uint32_t *v = malloc((size_t)(count ? count : 1) * sizeof *v);
    if (!v)
        return MR_ENOMEM;
    int rc = pq_rle_decode(p + 4, len, 1, count, v, why, cap);
    for (uint32_t i = 0; rc == 0 && i < count; i++)
        out[i].i = v[i];
    free(v);
    return rc;
}

static int dec_delta_int(int ptype, const uint8_t *p, size_t n, uint32_t count, pq_val *out,
                         char *why, size_t cap)
{
    int64_t *v = malloc((size_t)(count ? count : 1) * sizeof *v);
    if (!v)
        return MR_ENOMEM;
    const uint8_t *q = p;
    int rc = delta_bp(&q, p + n, count, v, NULL, why, cap);
    for (uint32_t i = 0; rc == 0 && i < count; i++)
        out[i].i = ptype == PQ_INT32 ? (int64_t)(int32_t)(uint32_t)v[i] : v[i];
    free(v);
    return rc;
}

/* DELTA_LENGTH_BYTE_ARRAY at *pp: count values pointing into the page. */
static int dec_delta_len(const uint8_t **pp, const uint8_t *end, uint32_t count, pq_val *out,
                         char *why, size_t cap)
{
    int64_t *len = malloc((size_t)(count ? count : 1) * sizeof *len);
    if (!len)
        return MR_ENOMEM;
    const uint8_t *p = *pp;
    int rc = delta_bp(&p, end, count, len, NULL, why, cap);
    for (uint32_t i = 0; rc == 0 && i < count; i++) {
        if (len[i] < 0 || (uint64_t)len[i] > (uint64_t)(end - p)) {
            rc = fail(why, cap, "DELTA_LENGTH_BYTE_ARRAY value %u of %u: length %lld runs past "
                      "the page", i, count, (long long)len[i]);
            break;
        }
        out[i].s.p = p;
        out[i].s.n = (uint32_t)len[i];
        p += len[i];
    }
    free(len);
    *pp = p;
    return rc;
}

static int dec_delta_ba(int ptype, int32_t type_len, const uint8_t *p, size_t n, uint32_t count,
                        pq_val *out, pq_buf *scratch, char *why, size_t cap)
{
    const uint8_t *end = p + n;
    int64_t *pre = malloc((size_t)(count ? count : 1) * sizeof *pre);
    if (!pre)
        return MR_ENOMEM;
    int rc = delta_bp(&p, end, count, pre, NULL, why, cap);
    if (rc == 0)
        rc = dec_delta_len(&p, end, count, out, why, cap);
    /* total bytes first, so the scratch is allocated once and the values
     * can point into it */
    uint64_t total = 0, prevlen = 0;
    for (uint32_t i = 0; rc == 0 && i < count; i++) {
        if (pre[i] < 0 || (uint64_t)pre[i] > prevlen) {
            rc = fail(why, cap, "DELTA_BYTE_ARRAY value %u: prefix %lld is longer than the "
                      "previous value", i, (long long)pre[i]);
            break;
        }
        prevlen = (uint64_t)pre[i] + out[i].s.n;
        if (prevlen > UINT32_MAX) {
            rc = fail(why, cap, "DELTA_BYTE_ARRAY value %u is too long", i);
            break;
        }
        if (ptype == PQ_FLBA && prevlen != (uint64_t)type_len) {
            rc = fail(why, cap, "DELTA_BYTE_ARRAY value %u has %llu bytes, not %d", i,
                      (unsigned long long)prevlen, type_len);
            break;
        }
        total += prevlen;
        if (total > ((uint64_t)1 << 34))
            rc = fail(why, cap, "DELTA_BYTE_ARRAY values are too long");
    }
    if (rc == 0 && pq_buf_reserve(scratch, (size_t)total + 1) < 0)
        rc = MR_ENOMEM;
    uint8_t *w = scratch->p;
    const uint8_t *prev = NULL;
    for (uint32_t i = 0; rc == 0 && i < count; i++) {
        size_t pl = (size_t)pre[i];
        if (pl)
            memcpy(w, prev, pl);
        if (out[i].s.n)
            memcpy(w + pl, out[i].s.p, out[i].s.n);
        out[i].s.p = w;
        out[i].s.n = (uint32_t)(pl + out[i].s.n);
        prev = w;
        w += out[i].s.n;
    }
    free(pre);
    return rc;
}

static int dec_bss(int ptype, int32_t type_len, const uint8_t *p, size_t n, uint32_t count,
                   pq_val *out, pq_buf *scratch, char *why, size_t cap)
{
    int w = fixed_width(ptype, type_len);
    if (w <= 0 || ptype == PQ_INT96)
        return fail(why, cap, "BYTE_STREAM_SPLIT does not apply to this type");
    if ((uint64_t)count * (uint64_t)w > n)
        return fail(why, cap, "BYTE_STREAM_SPLIT: %zu bytes for %u values of %d bytes", n, count,
                    w);
    /* the streams are n / w long when the page has padding; use count */
    if (pq_buf_reserve(scratch, (size_t)count * (size_t)w + 1) < 0)
        return MR_ENOMEM;
    uint8_t *g = scratch->p;
    for (uint32_t i = 0; i < count; i++)
        for (int k = 0; k < w; k++)
            g[(size_t)i * (size_t)w + (size_t)k] = p[(size_t)k * count + i];
    for (uint32_t i = 0; i < count; i++)
        put_fixed(ptype, g + (size_t)i * (size_t)w, w, &out[i]);
    return 0;
}

int pq_decode_values(int ptype, int32_t type_len, int enc, const uint8_t *p, size_t n,
                     uint32_t count, pq_val *out, pq_buf *scratch, const pq_val *dict,
                     uint32_t ndict, char *why, size_t cap)
{
    switch (enc) {
    case PQ_ENC_PLAIN: return dec_plain(ptype, type_len, p, n, count, out, why, cap);
    case PQ_ENC_PLAIN_DICT:
    case PQ_ENC_RLE_DICT: return dec_dict(p, n, count, out, dict, ndict, why, cap);
    case PQ_ENC_RLE:
        if (ptype == PQ_BOOLEAN)
            return dec_rle_bool(p, n, count, out, why, cap);
        break;
    case PQ_ENC_DELTA_BP:
        if (ptype == PQ_INT32 || ptype == PQ_INT64)
            return dec_delta_int(ptype, p, n, count, out, why, cap);
        break;
    case PQ_ENC_DELTA_LBA:
        if (ptype == PQ_BYTE_ARRAY) {
            const uint8_t *q = p;
            return dec_delta_len(&q, p + n, count, out, why, cap);
        }
        break;
    case PQ_ENC_DELTA_BA:
        if (ptype == PQ_BYTE_ARRAY || ptype == PQ_FLBA)
            return dec_delta_ba(ptype, type_len, p, n, count, out, scratch, why, cap);
        break;
    case PQ_ENC_BSS: return dec_bss(ptype, type_len, p, n, count, out, scratch, why, cap);
    default: break;
    }
    snprintf(why, cap, "encoding %s is not supported for this column's type",
             pq_encoding_name(enc));
    return MR_ENOTSUP;
}
