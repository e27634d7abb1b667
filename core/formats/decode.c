/* decode.c - the gzip and zstd stream decoders of compressed text inputs. */
#include "core/formats/decode.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define DECODE_IN_SIZE (128u << 10)

struct mr_decoder {
    mr_compression kind;
    mr_file *f;
    const char *path;
    unsigned char *in;
    size_t in_len;   /* bytes of in[] filled by the last read */
    bool in_eof;     /* the file has no more bytes */
    uint64_t in_total;
    z_stream z;
    bool z_init;
    bool open;       /* inside a gzip member or a zstd frame */
    ZSTD_DStream *zd;
    ZSTD_inBuffer zin;
};

static bool has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && strcmp(s + n - k, suf) == 0;
}

mr_compression mr_compression_of(const char *path, int c)
{
    if (c == MR_COMPRESSION_NONE || c == MR_COMPRESSION_GZIP || c == MR_COMPRESSION_ZSTD)
        return (mr_compression)c;
    if (has_suffix(path, ".gz"))
        return MR_COMPRESSION_GZIP;
    if (has_suffix(path, ".zst"))
        return MR_COMPRESSION_ZSTD;
    return MR_COMPRESSION_NONE;
}

mr_decoder *mr_decoder_create(mr_compression kind, mr_file *f, const char *path)
{
    mr_decoder *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->kind = kind;
    d->f = f;
    d->path = path;
    d->in = malloc(DECODE_IN_SIZE);
    if (!d->in) {
        free(d);
        return NULL;
    }
    if (kind == MR_COMPRESSION_ZSTD) {
        if (!(d->zd = ZSTD_createDStream()) || ZSTD_isError(ZSTD_initDStream(d->zd))) {
            mr_decoder_destroy(d);
            return NULL;
        }
        d->zin.src = d->in;
    } else {
        /* 16 + MAX_WBITS: gzip wrapper only, so a plain file is refused */
        if (inflateInit2(&d->z, 16 + MAX_WBITS) != Z_OK) {
            mr_decoder_destroy(d);
            return NULL;
        }
        d->z_init = true;
    }
    return d;
}

/* Reads the next compressed bytes into in[]; sets in_eof at the end. */
static int fill(mr_decoder *d, mr_err *err)
{
    int64_t n = mr_file_pread(d->f, d->in, DECODE_IN_SIZE, d->in_total, err);
    if (n < 0)
        return (int)n;
    d->in_len = (size_t)n;
    d->in_eof = n == 0;
    d->in_total += (uint64_t)n;
    return 0;
}

static int truncated(const mr_decoder *d, mr_err *err)
{
    return mr_err_set(err, MR_EPARSE, "%s: truncated %s data: the file ends inside a "
                      "compressed %s", d->path, d->kind == MR_COMPRESSION_GZIP ? "gzip" : "zstd",
                      d->kind == MR_COMPRESSION_GZIP ? "member" : "frame");
}

static long gzip_read(mr_decoder *d, char *out, size_t cap, mr_err *err)
{
    if (cap > UINT32_MAX)
        cap = UINT32_MAX;
    for (;;) {
        if (!d->open) {
            if (d->z.avail_in == 0) {
                if (d->in_eof)
                    return 0;
                if (fill(d, err) < 0)
                    return MR_EIO;
                d->z.next_in = d->in;
                d->z.avail_in = (uInt)d->in_len;
                if (d->in_len == 0)
                    return 0; /* the end, between members */
            }
            inflateReset(&d->z); /* the next member of a multi-member file */
            d->open = true;
        }
        d->z.next_out = (Bytef *)out;
        d->z.avail_out = (uInt)cap;
        int rc = inflate(&d->z, Z_NO_FLUSH);
        size_t got = cap - d->z.avail_out;
        if (rc == Z_STREAM_END)
            d->open = false;
        else if (rc != Z_OK && rc != Z_BUF_ERROR)
            return mr_err_set(err, MR_EPARSE, "%s: not gzip data, or corrupt: %s", d->path,
                              d->z.msg ? d->z.msg : "inflate failed");
        if (got > 0)
            return (long)got;
        if (d->open && d->z.avail_in == 0) {
            if (d->in_eof)
                return truncated(d, err);
            if (fill(d, err) < 0)
                return MR_EIO;
            d->z.next_in = d->in;
            d->z.avail_in = (uInt)d->in_len;
        }
    }
}

static long zstd_read(mr_decoder *d, char *out, size_t cap, mr_err *err)
{
    for (;;) {
        if (d->zin.pos == d->zin.size && !d->in_eof) {
            if (fill(d, err) < 0)
                return MR_EIO;
            d->zin.size = d->in_len;
            d->zin.pos = 0;
        }
        if (d->zin.pos == d->zin.size && d->in_eof && !d->open)
            return 0;
        ZSTD_outBuffer o = {out, cap, 0};
        size_t r = ZSTD_decompressStream(d->zd, &o, &d->zin);
        if (ZSTD_isError(r))
            return mr_err_set(err, MR_EPARSE, "%s: not zstd data, or corrupt: %s", d->path,
                              ZSTD_getErrorName(r));
        d->open = r != 0;
        if (o.pos > 0)
            return (long)o.pos;
        if (d->zin.pos == d->zin.size && d->in_eof && d->open)
            return truncated(d, err);
    }
}

long mr_decoder_read(mr_decoder *d, char *out, size_t cap, mr_err *err)
{
    if (cap > (size_t)1 << 30)
        cap = (size_t)1 << 30;
    return d->kind == MR_COMPRESSION_ZSTD ? zstd_read(d, out, cap, err)
                                          : gzip_read(d, out, cap, err);
}

uint64_t mr_decoder_in_bytes(const mr_decoder *d)
{
    return d->in_total;
}

void mr_decoder_destroy(mr_decoder *d)
{
    if (!d)
        return;
    if (d->z_init)
        inflateEnd(&d->z);
    ZSTD_freeDStream(d->zd);
    free(d->in);
    free(d);
}
