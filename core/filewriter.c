/* filewriter.c - CSV and JSON Lines output files, written through one big
 * buffer.
 *
 * Text is produced row by row (the formats are row-major) into a buffer of
 * MR_FILEWRITER_BUFFER bytes that is written out with write(2) whenever the
 * next piece would not fit; a piece longer than the buffer (a huge string)
 * goes through in buffer-sized chunks.  Per column, what never changes is
 * prepared once at open: for JSON Lines the `{"name":` / `,"name":` prefix
 * with the name escaped.  Values are formatted into a small stack buffer
 * with mr_format_* (numbers, dates, timestamps), or copied and escaped
 * straight from the column's chars (strings).  Nothing is allocated per row.
 *
 * Durability: close() flushes, fsyncs and closes, so once it returns 0 the
 * file's bytes are on disk; the commit step then renames the folder into
 * place.  abort() closes and unlinks: an attempt that failed leaves nothing.
 */
#include "core/filewriter.h"
#include "core/formats/parquet_write.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { FMT_CSV, FMT_JSONL };

struct mr_filewriter {
    int fd;
    int format;
    char *path;
    mr_schema *schema;
    char *buf;
    size_t len;
    char **prefix; /* jsonl: per column `{"name":` or `,"name":` */
    size_t *prefix_len;
    uint64_t rows;
    mr_pqwriter *pq; /* parquet: everything goes there */
};

static int fw_flush(mr_filewriter *w, mr_err *err)
{
    size_t off = 0;
    while (off < w->len) {
        ssize_t n = write(w->fd, w->buf + off, w->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return mr_err_set(err, MR_EIO, "cannot write '%s': %s", w->path, strerror(errno));
        off += (size_t)n;
    }
    w->len = 0;
    return 0;
}

static int fw_put(mr_filewriter *w, const char *p, size_t n, mr_err *err)
{
    while (n > 0) {
        if (w->len == MR_FILEWRITER_BUFFER) {
            int rc = fw_flush(w, err);
            if (rc < 0)
                return rc;
        }
        size_t room = MR_FILEWRITER_BUFFER - w->len;
        size_t k = n < room ? n : room;
        memcpy(w->buf + w->len, p, k);
        w->len += k;
        p += k;
        n -= k;
    }
    return 0;
}

static inline int fw_putc(mr_filewriter *w, char ch, mr_err *err)
{
    if (w->len == MR_FILEWRITER_BUFFER) {
        int rc = fw_flush(w, err);
        if (rc < 0)
            return rc;
    }
    w->buf[w->len++] = ch;
    return 0;
}

/* CSV field: quoted when empty or holding ',', '"', CR or LF. */
static int csv_string(mr_filewriter *w, const char *p, size_t n, mr_err *err)
{
    bool quote = n == 0;
    for (size_t i = 0; i < n && !quote; i++)
        quote = p[i] == ',' || p[i] == '"' || p[i] == '\n' || p[i] == '\r';
    if (!quote)
        return fw_put(w, p, n, err);
    int rc = fw_putc(w, '"', err);
    size_t from = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (p[i] == '"') {
            rc = fw_put(w, p + from, i + 1 - from, err); /* the quote once ... */
            from = i;                                     /* ... and again */
        }
    if (rc == 0)
        rc = fw_put(w, p + from, n - from, err);
    return rc < 0 ? rc : fw_putc(w, '"', err);
}

/* JSON string with escapes. */
static int json_string(mr_filewriter *w, const char *p, size_t n, mr_err *err)
{
    int rc = fw_putc(w, '"', err);
    size_t from = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\')
            continue;
        if ((rc = fw_put(w, p + from, i - from, err)) < 0)
            return rc;
        char esc[8];
        size_t k = 2;
        esc[0] = '\\';
        switch (ch) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default: k = (size_t)snprintf(esc, sizeof esc, "\\u%04x", ch); break;
        }
        rc = fw_put(w, esc, k, err);
        from = i + 1;
    }
    if (rc == 0)
        rc = fw_put(w, p + from, n - from, err);
    return rc < 0 ? rc : fw_putc(w, '"', err);
}

/* Formats a non-NULL, non-string value; sets *quote when JSON needs it in
 * quotes.  Returns its length in buf. */
static size_t format_value(const mr_column *c, size_t r, char *buf, size_t cap, bool *quote)
{
    *quote = false;
    switch (c->type.id) {
    case MR_T_BOOL: return (size_t)snprintf(buf, cap, "%s", MR_COL_U8(c)[r] ? "true" : "false");
    case MR_T_INT32: return (size_t)snprintf(buf, cap, "%" PRId32, MR_COL_I32(c)[r]);
    case MR_T_INT64: return (size_t)snprintf(buf, cap, "%" PRId64, MR_COL_I64(c)[r]);
    case MR_T_FLOAT64: {
        double v = MR_COL_F64(c)[r];
        *quote = !isfinite(v);
        return mr_format_float64(v, buf, cap);
    }
    case MR_T_DECIMAL: return mr_format_decimal(MR_COL_I64(c)[r], c->type.scale, buf, cap);
    case MR_T_DATE: *quote = true; return mr_format_date(MR_COL_I32(c)[r], buf, cap);
    case MR_T_TIMESTAMP: *quote = true; return mr_format_timestamp(MR_COL_I64(c)[r], buf, cap);
    case MR_T_TIMESTAMPTZ:
        *quote = true;
        return mr_format_timestamptz(MR_COL_I64(c)[r], buf, cap);
    default: return 0;
    }
}

static int write_csv_row(mr_filewriter *w, const mr_batch *b, uint32_t r, mr_err *err)
{
    int rc = 0;
    for (int j = 0; j < b->ncols && rc == 0; j++) {
        const mr_column *c = &b->cols[j];
        if (j > 0 && (rc = fw_putc(w, ',', err)) < 0)
            return rc;
        if (!mr_column_is_valid(c, r))
            continue;
        if (c->type.id == MR_T_STRING) {
            size_t n;
            const char *p = mr_column_str(c, r, &n);
            rc = csv_string(w, p, n, err);
        } else {
            char tmp[64];
            bool q;
            size_t n = format_value(c, r, tmp, sizeof tmp, &q);
            rc = fw_put(w, tmp, n, err);
        }
    }
    return rc < 0 ? rc : fw_putc(w, '\n', err);
}

static int write_jsonl_row(mr_filewriter *w, const mr_batch *b, uint32_t r, mr_err *err)
{
    int rc = 0;
    for (int j = 0; j < b->ncols && rc == 0; j++) {
        const mr_column *c = &b->cols[j];
        if ((rc = fw_put(w, w->prefix[j], w->prefix_len[j], err)) < 0)
            return rc;
        if (!mr_column_is_valid(c, r)) {
            rc = fw_put(w, "null", 4, err);
        } else if (c->type.id == MR_T_STRING) {
            size_t n;
            const char *p = mr_column_str(c, r, &n);
            rc = json_string(w, p, n, err);
        } else {
            char tmp[64];
            bool q;
            size_t n = format_value(c, r, tmp, sizeof tmp, &q);
            rc = q ? json_string(w, tmp, n, err) : fw_put(w, tmp, n, err);
        }
    }
    if (rc == 0 && b->ncols == 0)
        rc = fw_putc(w, '{', err);
    return rc < 0 ? rc : fw_put(w, "}\n", 2, err);
}

static void fw_free(mr_filewriter *w)
{
    if (w->prefix)
        for (int j = 0; j < w->schema->nfields; j++)
            free(w->prefix[j]);
    free(w->prefix);
    free(w->prefix_len);
    mr_schema_destroy(w->schema);
    free(w->buf);
    free(w->path);
    free(w);
}

/* Builds the JSON key prefixes by writing them through the buffer. */
static int build_prefixes(mr_filewriter *w, mr_err *err)
{
    int n = w->schema->nfields;
    w->prefix = calloc((size_t)(n ? n : 1), sizeof *w->prefix);
    w->prefix_len = calloc((size_t)(n ? n : 1), sizeof *w->prefix_len);
    if (!w->prefix || !w->prefix_len)
        return mr_err_oom(err, NULL);
    for (int j = 0; j < n; j++) {
        const char *name = w->schema->fields[j].name;
        w->len = 0;
        int rc = fw_putc(w, j == 0 ? '{' : ',', err);
        if (rc == 0)
            rc = json_string(w, name, strlen(name), err);
        if (rc == 0)
            rc = fw_putc(w, ':', err);
        if (rc < 0)
            return rc;
        w->prefix[j] = malloc(w->len);
        if (!w->prefix[j])
            return mr_err_oom(err, NULL);
        memcpy(w->prefix[j], w->buf, w->len);
        w->prefix_len[j] = w->len;
    }
    w->len = 0;
    return 0;
}

mr_filewriter *mr_filewriter_open_opts(const char *path, const char *format,
                                       const mr_schema *schema, const mr_filewriter_opts *o,
                                       mr_err *err)
{
    if (format && strcmp(format, "parquet") == 0) {
        int codec = mr_pq_codec_parse(o->compression);
        if (codec < 0) {
            mr_err_set(err, MR_EINVAL, "unknown Parquet compression '%s' (expected snappy, "
                       "zstd, gzip or none)", o->compression);
            return NULL;
        }
        mr_filewriter *w = calloc(1, sizeof *w);
        if (!w) {
            mr_err_oom(err, NULL);
            return NULL;
        }
        w->fd = -1;
        w->pq = mr_pqwriter_open(path, schema, codec, o->row_group_rows, err);
        if (!w->pq) {
            free(w);
            return NULL;
        }
        return w;
    }
    return mr_filewriter_open(path, format, schema, o->header, err);
}

mr_filewriter *mr_filewriter_open(const char *path, const char *format, const mr_schema *schema,
                                  int header, mr_err *err)
{
    int fmt;
    if (format && strcmp(format, "csv") == 0)
        fmt = FMT_CSV;
    else if (format && strcmp(format, "jsonl") == 0)
        fmt = FMT_JSONL;
    else {
        mr_err_set(err, MR_EINVAL, "unknown file format '%s' (expected csv or jsonl)",
                   format ? format : "");
        return NULL;
    }
    mr_filewriter *w = calloc(1, sizeof *w);
    if (!w) {
        mr_err_oom(err, NULL);
        return NULL;
    }
    w->fd = -1;
    w->format = fmt;
    w->path = strdup(path);
    w->schema = mr_schema_copy(schema);
    w->buf = malloc(MR_FILEWRITER_BUFFER);
    if (!w->path || !w->schema || !w->buf) {
        mr_err_oom(err, NULL);
        fw_free(w);
        return NULL;
    }
    if (fmt == FMT_JSONL && build_prefixes(w, err) < 0) {
        fw_free(w);
        return NULL;
    }
    w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        mr_err_set(err, MR_EIO, "cannot create '%s': %s", path, strerror(errno));
        fw_free(w);
        return NULL;
    }
    if (fmt == FMT_CSV && header) {
        int rc = 0;
        for (int j = 0; j < schema->nfields && rc == 0; j++) {
            if (j > 0)
                rc = fw_putc(w, ',', err);
            if (rc == 0)
                rc = csv_string(w, schema->fields[j].name, strlen(schema->fields[j].name), err);
        }
        if (rc == 0)
            rc = fw_putc(w, '\n', err);
        if (rc < 0) {
            mr_filewriter_abort(w);
            return NULL;
        }
    }
    return w;
}

int mr_filewriter_write(mr_filewriter *w, const mr_batch *b, mr_err *err)
{
    if (w->pq)
        return mr_pqwriter_write(w->pq, b, err);
    if (b->ncols != w->schema->nfields)
        return mr_err_set(err, MR_EINVAL, "'%s': batch has %d columns, the file %d", w->path,
                          b->ncols, w->schema->nfields);
    for (int j = 0; j < b->ncols; j++)
        if (b->cols[j].type.id != w->schema->fields[j].type.id)
            return mr_err_set(err, MR_EINVAL, "'%s': column '%s' of the batch has another type",
                              w->path, w->schema->fields[j].name);
    size_t live = mr_batch_live(b);
    for (size_t i = 0; i < live; i++) {
        uint32_t r = mr_batch_row(b, i);
        int rc = w->format == FMT_CSV ? write_csv_row(w, b, r, err) : write_jsonl_row(w, b, r, err);
        if (rc < 0)
            return rc;
    }
    w->rows += live;
    return 0;
}

uint64_t mr_filewriter_rows(const mr_filewriter *w)
{
    return !w ? 0 : w->pq ? mr_pqwriter_rows(w->pq) : w->rows;
}

int mr_filewriter_close(mr_filewriter *w, mr_err *err)
{
    if (!w)
        return 0;
    if (w->pq) {
        int prc = mr_pqwriter_close(w->pq, err);
        free(w);
        return prc;
    }
    int rc = fw_flush(w, err);
    if (rc == 0 && fsync(w->fd) < 0)
        rc = mr_err_set(err, MR_EIO, "cannot fsync '%s': %s", w->path, strerror(errno));
    if (close(w->fd) < 0 && rc == 0)
        rc = mr_err_set(err, MR_EIO, "cannot close '%s': %s", w->path, strerror(errno));
    fw_free(w);
    return rc;
}

void mr_filewriter_abort(mr_filewriter *w)
{
    if (!w)
        return;
    if (w->pq) {
        mr_pqwriter_abort(w->pq);
        free(w);
        return;
    }
    if (w->fd >= 0)
        close(w->fd);
    unlink(w->path);
    fw_free(w);
}
