/* spill.c - spill files and partition sets (format and life in spill.h).
 *
 * Writing hands each column to core/colbuf.c, which gathers the listed
 * rows into a scratch buffer owned by the file (grown by doubling and
 * reused for every chunk, so nothing is allocated per row) or writes
 * contiguous values straight from the batch.  Reading fills the caller's
 * batch straight from the stdio buffer through mr_colbuf_read.
 */
#include "core/spill.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/colbuf.h"
#include "core/op/source.h"

#define SPILL_MAGIC 0x5053524dU /* "MRSP" */

struct mr_spill_file {
    FILE *fp;
    mr_exec_ctx *ctx;
    int ncols;
    mr_type *types;
    char node[64];
    char dir[256];
    uint64_t rows, bytes;
    unsigned char *scratch;
    size_t scratch_cap;
    uint32_t nbuf;  /* buffers per chunk record: the row count, then the columns' */
    uint64_t *lens; /* their lengths (nbuf) */
};

static const char *spill_dir_of(const mr_exec_ctx *ctx)
{
    if (ctx && ctx->spill_dir && ctx->spill_dir[0])
        return ctx->spill_dir;
    const char *t = getenv("TMPDIR");
    return t && t[0] ? t : "/tmp";
}

int mr_spill_create(mr_exec_ctx *ctx, const mr_type *types, int ncols, const char *node,
                    mr_spill_file **out, mr_err *err)
{
    *out = NULL;
    const char *nd = node ? node : "";
    mr_spill_file *f = calloc(1, sizeof *f);
    if (!f)
        return mr_err_oom(err, nd);
    f->types = malloc((ncols > 0 ? (size_t)ncols : 1) * sizeof *f->types);
    if (!f->types) {
        free(f);
        return mr_err_oom(err, nd);
    }
    memcpy(f->types, types, (size_t)ncols * sizeof *types);
    f->ncols = ncols;
    f->nbuf = 1;
    for (int c = 0; c < ncols; c++)
        f->nbuf += (uint32_t)mr_colbuf_count(types[c]);
    if (!(f->lens = malloc(f->nbuf * sizeof *f->lens))) {
        mr_spill_destroy(f);
        return mr_err_oom(err, nd);
    }
    f->ctx = ctx;
    snprintf(f->node, sizeof f->node, "%s", nd);
    snprintf(f->dir, sizeof f->dir, "%s", spill_dir_of(ctx));
    char path[512];
    snprintf(path, sizeof path, "%s/mr-spill-XXXXXX", f->dir);
    int fd = mkstemp(path);
    if (fd < 0) {
        int e = errno;
        mr_spill_destroy(f);
        return mr_err_node(err, MR_EIO, nd, "cannot create a spill file in '%s': %s",
                           spill_dir_of(ctx), strerror(e));
    }
    unlink(path); /* nameless from now on: freed on close, even on a crash */
    f->fp = fdopen(fd, "w+b");
    if (!f->fp) {
        close(fd);
        mr_spill_destroy(f);
        return mr_err_oom(err, nd);
    }
    if (ctx)
        ctx->spill_files++;
    *out = f;
    return 0;
}

void mr_spill_destroy(mr_spill_file *f)
{
    if (!f)
        return;
    if (f->fp)
        fclose(f->fp);
    free(f->types);
    free(f->scratch);
    free(f->lens);
    free(f);
}

uint64_t mr_spill_rows(const mr_spill_file *f)
{
    return f ? f->rows : 0;
}

uint64_t mr_spill_bytes(const mr_spill_file *f)
{
    return f ? f->bytes : 0;
}

static int io_fail(mr_spill_file *f, const char *what, mr_err *err)
{
    int e = errno;
    return mr_err_node(err, MR_EIO, f->node, "%s spill file in '%s' failed: %s", what,
                       f->dir, e ? strerror(e) : "unexpected end of file");
}

static int put(mr_spill_file *f, const void *p, size_t n, mr_err *err)
{
    if (n && fwrite(p, 1, n, f->fp) != n)
        return io_fail(f, "writing a", err);
    f->bytes += n;
    if (f->ctx)
        f->ctx->spill_bytes += n;
    return 0;
}

static int scratch_reserve(mr_spill_file *f, size_t n)
{
    if (n <= f->scratch_cap)
        return 0;
    size_t cap = f->scratch_cap ? f->scratch_cap : 4096;
    while (cap < n)
        cap *= 2;
    unsigned char *p = realloc(f->scratch, cap);
    if (!p)
        return MR_ENOMEM;
    f->scratch = p;
    f->scratch_cap = cap;
    return 0;
}

/* The sink core/colbuf.h gathers a column's buffers into: the file's
 * scratch, then the file. */
static void *sink_dest(void *ctx, size_t len)
{
    mr_spill_file *f = ctx;
    return scratch_reserve(f, len ? len : 1) < 0 ? NULL : f->scratch;
}

static int sink_emit(void *ctx, int k, const void *raw, size_t len, bool gathered, mr_err *err)
{
    (void)k;
    (void)gathered;
    return put(ctx, raw, len, err);
}

int mr_spill_write(mr_spill_file *f, const mr_column *cols, const uint32_t *rows, size_t n,
                   mr_err *err)
{
    if (n == 0)
        return 0;
    if (n > UINT32_MAX)
        return mr_err_node(err, MR_ETOOBIG, f->node, "spill chunk too large");
    /* the record: the row count, then every column's buffers */
    uint64_t *len = f->lens;
    uint32_t nb = 0;
    len[nb++] = sizeof(uint64_t);
    for (int c = 0; c < f->ncols; c++) {
        mr_column col = cols[c]; /* a column never initialised may lack its type */
        col.type = f->types[c];
        for (int k = 0; k < mr_colbuf_count(col.type); k++) {
            len[nb] = mr_colbuf_size(&col, rows, n, k);
            if (len[nb++] > UINT32_MAX)
                return mr_err_node(err, MR_ETOOBIG, f->node, "a spill chunk over 4 GiB of text");
        }
    }
    if (scratch_reserve(f, mr_colbuf_record_head_size(nb)) < 0)
        return mr_err_oom(err, f->node);
    mr_colbuf_record_head(f->scratch, nb, len);
    uint64_t rows64 = n;
    int rc = put(f, f->scratch, mr_colbuf_record_head_size(nb), err);
    if (rc == 0)
        rc = put(f, &rows64, sizeof rows64, err);
    const mr_colbuf_sink sink = {sink_dest, sink_emit, f};
    for (int c = 0; c < f->ncols && rc == 0; c++) {
        mr_column col = cols[c];
        col.type = f->types[c];
        rc = mr_colbuf_write(&col, rows, n, &sink, err);
        if (rc == MR_ENOMEM)
            rc = mr_err_oom(err, f->node);
    }
    if (rc == 0)
        f->rows += n;
    return rc;
}

int mr_spill_write_batch(mr_spill_file *f, const mr_batch *b, mr_err *err)
{
    return mr_spill_write(f, b->cols, b->sel, mr_batch_live(b), err);
}

int mr_spill_rewind(mr_spill_file *f, mr_err *err)
{
    errno = 0;
    if (fflush(f->fp) != 0 || fseek(f->fp, 0, SEEK_SET) != 0)
        return io_fail(f, "rewinding a", err);
    return 0;
}

static int get(mr_spill_file *f, void *p, size_t n, mr_err *err)
{
    errno = 0;
    if (n && fread(p, 1, n, f->fp) != n)
        return io_fail(f, "reading a", err);
    return 0;
}

static int fill_get(void *ctx, int k, void *dst, size_t len, mr_err *err)
{
    (void)k;
    return get(ctx, dst, len, err);
}

static int corrupt(mr_spill_file *f, const char *why, mr_err *err)
{
    return mr_err_node(err, MR_EIO, f->node, "corrupt spill file in '%s': %s", f->dir, why);
}

int mr_spill_read(mr_spill_file *f, mr_batch *b, mr_err *err)
{
    unsigned char hdr[8];
    errno = 0;
    off_t at = ftello(f->fp);
    size_t got = fread(hdr, 1, sizeof hdr, f->fp);
    if (got == 0 && feof(f->fp))
        return MR_NEXT_DONE;
    if (got != sizeof hdr)
        return io_fail(f, "reading a", err);
    if (b->ncols != f->ncols)
        return mr_err_node(err, MR_EINVAL, f->node,
                           "spill file read into a batch of %d columns, not %d", b->ncols,
                           f->ncols);
    char what[400];
    snprintf(what, sizeof what, "node '%s': spill file in '%s'", f->node, f->dir);
    int64_t nb = mr_colbuf_record_count(hdr, f->nbuf, MR_EIO, what, err);
    if (nb < 0)
        return (int)nb;
    if ((uint32_t)nb != f->nbuf)
        return corrupt(f, "a chunk with the wrong number of buffers", err);
    uint64_t *len = f->lens;
    int rc = get(f, len, (size_t)nb * sizeof *len, err);
    if (rc < 0)
        return rc;
    uint64_t total = mr_colbuf_record_head_size(f->nbuf);
    for (uint32_t i = 0; i < f->nbuf; i++) {
        if (len[i] > f->bytes)
            return corrupt(f, "a buffer larger than the file", err);
        total += len[i];
    }
    uint64_t rows64;
    if (at < 0 || total > f->bytes - (uint64_t)at || len[0] != sizeof rows64)
        return corrupt(f, "a chunk that does not fit the file", err);
    if ((rc = get(f, &rows64, sizeof rows64, err)) < 0)
        return rc;
    if (rows64 > UINT32_MAX)
        return corrupt(f, "a chunk of more than 2^32 rows", err);
    size_t n = (size_t)rows64;
    mr_batch_reset(b);
    const uint64_t *size = len + 1;
    for (int ci = 0; ci < f->ncols; ci++) {
        snprintf(what, sizeof what, "node '%s': spill file in '%s' column %d", f->node, f->dir, ci);
        rc = mr_colbuf_read(&b->cols[ci], n, size, UINT32_MAX, fill_get, f, MR_EIO, what, err);
        if (rc < 0) {
            mr_batch_reset(b);
            return rc;
        }
        size += mr_colbuf_count(b->cols[ci].type);
    }
    b->nrows = n;
    return MR_NEXT_BATCH;
}

/* ---- Source operator ---------------------------------------------------- */

typedef struct spill_src {
    mr_spill_file *f;
    mr_batch *b;
    int rewound;
} spill_src;

static int spill_src_next(void *ctx, mr_batch **out, mr_err *err)
{
    spill_src *s = ctx;
    if (!s->rewound) {
        int rc = mr_spill_rewind(s->f, err);
        if (rc < 0)
            return rc;
        s->rewound = 1;
    }
    int rc = mr_spill_read(s->f, s->b, err);
    if (rc == MR_NEXT_BATCH)
        *out = s->b;
    return rc;
}

static void spill_src_close(void *ctx)
{
    spill_src *s = ctx;
    mr_spill_destroy(s->f);
    mr_batch_destroy(s->b);
    free(s);
}

mr_op *mr_spill_source_create(mr_spill_file *f, const mr_schema *schema, const char *node,
                              mr_err *err)
{
    spill_src *s = calloc(1, sizeof *s);
    mr_op *op = NULL;
    if (s)
        s->b = mr_batch_create(schema, 0);
    if (s && s->b)
        op = mr_source_create(schema, spill_src_next, spill_src_close, s, node);
    if (!op) {
        if (s)
            mr_batch_destroy(s->b);
        free(s);
        mr_spill_destroy(f);
        mr_err_oom(err, node);
        return NULL;
    }
    s->f = f;
    return op;
}

/* ---- Partition sets ----------------------------------------------------- */

int mr_spill_parts_create(mr_spill_parts *ps, mr_exec_ctx *ctx, const mr_type *types, int ncols,
                          int depth, const char *node, mr_err *err)
{
    memset(ps, 0, sizeof *ps);
    ps->parts = calloc(MR_SPILL_FANOUT, sizeof *ps->parts);
    if (!ps->parts)
        return mr_err_oom(err, node);
    ps->n = MR_SPILL_FANOUT;
    ps->depth = depth;
    int rc = mr_spill_create(ctx, types, ncols, node, &ps->f, err);
    if (rc < 0)
        mr_spill_parts_free(ps);
    return rc;
}

static int chunks_add(mr_spill_chunks *c, uint64_t off, size_t rows)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        uint64_t *o = realloc(c->off, cap * sizeof *o);
        if (!o)
            return MR_ENOMEM;
        c->off = o;
        c->cap = cap;
    }
    c->off[c->n++] = off;
    c->rows += rows;
    return 0;
}

int mr_spill_parts_write(mr_spill_parts *ps, const mr_column *cols, const uint32_t *rows,
                         const uint64_t *hash, size_t n, mr_err *err)
{
    if (n == 0)
        return 0;
    if (ps->reading)
        return mr_err_node(err, MR_EINVAL, ps->f->node, "spill partitions written after reading");
    if (n > ps->cap) {
        size_t cap = ps->cap ? ps->cap : MR_BATCH_ROWS;
        while (cap < n)
            cap *= 2;
        uint32_t *r = realloc(ps->rows, cap * sizeof *r);
        if (r)
            ps->rows = r;
        uint32_t *p = r ? realloc(ps->part, cap * sizeof *p) : NULL;
        if (!p)
            return mr_err_oom(err, ps->f->node);
        ps->part = p;
        ps->cap = cap;
    }
    size_t start[MR_SPILL_FANOUT + 1] = {0};
    for (size_t i = 0; i < n; i++) {
        ps->part[i] = mr_spill_part_of(hash[i], ps->depth, (unsigned)ps->n);
        start[ps->part[i] + 1]++;
    }
    for (int p = 0; p < ps->n; p++)
        start[p + 1] += start[p];
    size_t pos[MR_SPILL_FANOUT];
    memcpy(pos, start, sizeof pos);
    for (size_t i = 0; i < n; i++)
        ps->rows[pos[ps->part[i]]++] = rows ? rows[i] : (uint32_t)i;
    for (int p = 0; p < ps->n; p++) {
        size_t m = start[p + 1] - start[p];
        if (m == 0)
            continue;
        if (chunks_add(&ps->parts[p], ps->f->bytes, m) < 0)
            return mr_err_oom(err, ps->f->node);
        int rc = mr_spill_write(ps->f, cols, ps->rows + start[p], m, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

typedef struct part_src {
    mr_spill_parts *ps;
    int part;
    size_t next; /* next chunk */
    mr_batch *b;
} part_src;

static int part_src_next(void *ctx, mr_batch **out, mr_err *err)
{
    part_src *s = ctx;
    mr_spill_parts *ps = s->ps;
    const mr_spill_chunks *c = &ps->parts[s->part];
    if (s->next >= c->n)
        return MR_NEXT_DONE;
    mr_spill_file *f = ps->f;
    if (!ps->reading) {
        errno = 0;
        if (fflush(f->fp) != 0)
            return io_fail(f, "flushing a", err);
        ps->reading = true;
    }
    errno = 0;
    if (fseeko(f->fp, (off_t)c->off[s->next], SEEK_SET) != 0)
        return io_fail(f, "seeking in a", err);
    s->next++;
    int rc = mr_spill_read(f, s->b, err);
    if (rc == MR_NEXT_DONE)
        return mr_err_node(err, MR_EIO, f->node, "spill file in '%s' ends early", f->dir);
    if (rc == MR_NEXT_BATCH)
        *out = s->b;
    return rc;
}

static void part_src_close(void *ctx)
{
    part_src *s = ctx;
    mr_batch_destroy(s->b);
    free(s);
}

mr_op *mr_spill_parts_source(mr_spill_parts *ps, int i, const mr_schema *schema,
                             const char *node, mr_err *err)
{
    part_src *s = calloc(1, sizeof *s);
    mr_op *op = NULL;
    if (s) {
        s->ps = ps;
        s->part = i;
        s->b = mr_batch_create(schema, 0);
    }
    if (s && s->b)
        op = mr_source_create(schema, part_src_next, part_src_close, s, node);
    if (!op) {
        if (s)
            mr_batch_destroy(s->b);
        free(s);
        mr_err_oom(err, node);
        return NULL;
    }
    return op;
}

void mr_spill_parts_free(mr_spill_parts *ps)
{
    mr_spill_destroy(ps->f);
    if (ps->parts)
        for (int i = 0; i < ps->n; i++)
            free(ps->parts[i].off);
    free(ps->parts);
    free(ps->rows);
    free(ps->part);
    memset(ps, 0, sizeof *ps);
}
