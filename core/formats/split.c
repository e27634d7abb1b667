/* split.c - the buffered byte source of a file split, its resync to a line
 * start and the lazy line count. */
#include "core/formats/split.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int mr_split_open(mr_split *s, const char *path, uint64_t offset, uint64_t length, size_t cap,
                  int compression, mr_err *err)
{
    memset(s, 0, sizeof *s);
    s->f.fd = -1;
    s->path = strdup(path);
    s->cap = cap;
    s->buf = malloc(cap);
    if (!s->path || !s->buf) {
        mr_split_close(s);
        return mr_err_set(err, MR_ENOMEM, "out of memory opening '%s'", path);
    }
    int rc = mr_file_open(&s->f, path, err);
    if (rc < 0) {
        mr_split_close(s);
        return rc;
    }
    s->split_end = length > UINT64_MAX - offset ? UINT64_MAX : offset + length;
    mr_compression kind = mr_compression_of(path, compression);
    if (kind != MR_COMPRESSION_NONE) {
        if (offset > 0) {
            mr_split_close(s);
            return mr_err_set(err, MR_EINVAL, "cannot read '%s' from byte %llu: a compressed "
                              "file is read whole", path, (unsigned long long)offset);
        }
        s->split_end = UINT64_MAX;
        if (!(s->dec = mr_decoder_create(kind, &s->f, s->path))) {
            mr_split_close(s);
            return mr_err_set(err, MR_ENOMEM, "out of memory opening '%s'", path);
        }
    }
    s->buf_off = s->fpos = offset > 0 ? offset - 1 : 0;
    return 0;
}

void mr_split_compact(mr_split *s)
{
    if (s->beg > 0) {
        memmove(s->buf, s->buf + s->beg, s->end - s->beg);
        s->buf_off += s->beg;
        s->end -= s->beg;
        s->beg = 0;
    }
}

long mr_split_read(mr_split *s, mr_err *err)
{
    if (s->end == s->cap) {
        char *nb = realloc(s->buf, s->cap * 2);
        if (!nb)
            return mr_err_set(err, MR_ENOMEM, "%s: out of memory growing the read buffer",
                              s->path);
        s->buf = nb;
        s->cap *= 2;
    }
    if (s->dec) {
        long n = mr_decoder_read(s->dec, s->buf + s->end, s->cap - s->end, err);
        if (n < 0)
            return n;
        if (n == 0)
            s->eof = true;
        s->fpos += (uint64_t)n;
        s->end += (size_t)n;
        return n;
    }
    int64_t n = mr_file_pread(&s->f, s->buf + s->end, s->cap - s->end, s->fpos, err);
    if (n < 0)
        return (long)n;
    if (n == 0)
        s->eof = true;
    s->fpos += (uint64_t)n;
    s->end += (size_t)n;
    return (long)n;
}

int mr_split_resync(mr_split *s, char quote, bool in_quote, mr_err *err)
{
    in_quote = quote && in_quote;
    for (;;) {
        while (s->beg < s->end) {
            const char *p = s->buf + s->beg, *e = s->buf + s->end;
            /* outside quotes the next newline or quote decides; inside,
             * only the closing quote does */
            const char *nl = in_quote ? NULL : memchr(p, '\n', (size_t)(e - p));
            const char *q = quote ? memchr(p, quote, (size_t)((nl ? nl : e) - p)) : NULL;
            if (q) {
                in_quote = !in_quote;
                s->beg = (size_t)(q - s->buf) + 1;
            } else if (nl) {
                s->beg = (size_t)(nl - s->buf) + 1;
                return 0;
            } else {
                s->beg = s->end;
            }
        }
        if (s->eof)
            return 0;
        mr_split_compact(s);
        long rc = mr_split_read(s, err);
        if (rc < 0)
            return (int)rc;
    }
}

int64_t mr_split_lines_before(const mr_split *s, uint64_t upto)
{
    if (upto > MR_SPLIT_LINE_COUNT_LIMIT || s->dec || s->f.store)
        return -1; /* an object's earlier bytes are not fetched for a line number */
    size_t cap = 1u << 20;
    char *tmp = malloc(cap);
    if (!tmp)
        return -1;
    int64_t lines = 0;
    uint64_t pos = 0;
    while (pos < upto) {
        size_t want = upto - pos < cap ? (size_t)(upto - pos) : cap;
        ssize_t n = pread(s->f.fd, tmp, want, (off_t)pos);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(tmp);
            return -1;
        }
        for (const char *p = tmp, *e = tmp + n; (p = memchr(p, '\n', (size_t)(e - p))); p++)
            lines++;
        pos += (uint64_t)n;
    }
    free(tmp);
    return lines;
}

void mr_split_close(mr_split *s)
{
    mr_decoder_destroy(s->dec);
    s->dec = NULL;
    mr_file_close(&s->f);
    free(s->path);
    free(s->buf);
    s->path = s->buf = NULL;
}
