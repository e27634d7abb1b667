/* spill.c - spill files and partition sets (format and life in spill.h).
 *
 * Writing gathers the listed rows of each column into a scratch buffer
 * owned by the file (validity bits, fixed-width values, string offsets
 * and text), which grows by doubling and is reused for every chunk, so
 * nothing is allocated per row.  Reading fills the caller's batch straight
 * from the stdio buffer.
 */
#include "core/spill.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    uint32_t *offs; /* string offsets scratch */
    size_t offs_cap;
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
        return mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", nd);
    f->types = malloc((ncols > 0 ? (size_t)ncols : 1) * sizeof *f->types);
    if (!f->types) {
        free(f);
        return mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", nd);
    }
    memcpy(f->types, types, (size_t)ncols * sizeof *types);
    f->ncols = ncols;
    f->ctx = ctx;
    snprintf(f->node, sizeof f->node, "%s", nd);
    snprintf(f->dir, sizeof f->dir, "%s", spill_dir_of(ctx));
    char path[512];
    snprintf(path, sizeof path, "%s/mr-spill-XXXXXX", f->dir);
    int fd = mkstemp(path);
    if (fd < 0) {
        int e = errno;
        mr_spill_destroy(f);
        return mr_err_set(err, MR_EIO, "node '%s': cannot create a spill file in '%s': %s", nd,
                          spill_dir_of(ctx), strerror(e));
    }
    unlink(path); /* nameless from now on: freed on close, even on a crash */
    f->fp = fdopen(fd, "w+b");
    if (!f->fp) {
        close(fd);
        mr_spill_destroy(f);
        return mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", nd);
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
    free(f->offs);
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
    return mr_err_set(err, MR_EIO, "node '%s': %s spill file in '%s' failed: %s", f->node, what,
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

static int offs_reserve(mr_spill_file *f, size_t n)
{
    if (n <= f->offs_cap)
        return 0;
    size_t cap = f->offs_cap ? f->offs_cap : 1024;
    while (cap < n)
        cap *= 2;
    uint32_t *p = realloc(f->offs, cap * sizeof *p);
    if (!p)
        return MR_ENOMEM;
    f->offs = p;
    f->offs_cap = cap;
    return 0;
}

#define ROW(i) (rows ? rows[i] : (uint32_t)(i))

static int write_column(mr_spill_file *f, const mr_column *c, mr_type t, const uint32_t *rows,
                        size_t n, mr_err *err)
{
    uint8_t present = c->valid != NULL;
    int rc = put(f, &present, 1, err);
    if (rc < 0 || !present)
        return rc;
    size_t vbytes = (n + 7) / 8;
    size_t w = mr_type_width(t);
    size_t need = t.id == MR_T_STRING ? vbytes : (vbytes > n * w ? vbytes : n * w);
    if (scratch_reserve(f, need) < 0)
        return mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", f->node);
    unsigned char *s = f->scratch;
    memset(s, 0, vbytes);
    for (size_t i = 0; i < n; i++)
        if (mr_column_is_valid(c, ROW(i)))
            s[i >> 3] |= (unsigned char)(1u << (i & 7));
    if ((rc = put(f, s, vbytes, err)) < 0)
        return rc;
    if (t.id != MR_T_STRING) {
        const unsigned char *d = c->data;
        if (!rows)
            return put(f, d, n * w, err);
        switch (w) {
        case 1:
            for (size_t i = 0; i < n; i++)
                s[i] = d[rows[i]];
            break;
        case 4:
            for (size_t i = 0; i < n; i++)
                ((uint32_t *)(void *)s)[i] = ((const uint32_t *)(const void *)d)[rows[i]];
            break;
        default:
            for (size_t i = 0; i < n; i++)
                ((uint64_t *)(void *)s)[i] = ((const uint64_t *)(const void *)d)[rows[i]];
            break;
        }
        return put(f, s, n * w, err);
    }
    if (offs_reserve(f, n + 1) < 0)
        return mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", f->node);
    uint32_t *o = f->offs;
    uint64_t total = 0;
    o[0] = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t r = ROW(i);
        total += c->offsets[r + 1] - c->offsets[r];
        if (total > UINT32_MAX)
            return mr_err_set(err, MR_ETOOBIG, "node '%s': a spill chunk over 4 GiB of text",
                              f->node);
        o[i + 1] = (uint32_t)total;
    }
    if ((rc = put(f, o, (n + 1) * sizeof *o, err)) < 0)
        return rc;
    if (!rows)
        return put(f, c->chars + c->offsets[0], total, err);
    for (size_t i = 0; i < n; i++) {
        uint32_t r = rows[i];
        if ((rc = put(f, c->chars + c->offsets[r], c->offsets[r + 1] - c->offsets[r], err)) < 0)
            return rc;
    }
    return 0;
}

int mr_spill_write(mr_spill_file *f, const mr_column *cols, const uint32_t *rows, size_t n,
                   mr_err *err)
{
    if (n == 0)
        return 0;
    if (n > UINT32_MAX)
        return mr_err_set(err, MR_ETOOBIG, "node '%s': spill chunk too large", f->node);
    uint32_t hdr[2] = {SPILL_MAGIC, (uint32_t)n};
    int rc = put(f, hdr, sizeof hdr, err);
    for (int c = 0; c < f->ncols && rc == 0; c++)
        rc = write_column(f, &cols[c], f->types[c], rows, n, err);
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

int mr_spill_read(mr_spill_file *f, mr_batch *b, mr_err *err)
{
    uint32_t hdr[2];
    errno = 0;
    size_t got = fread(hdr, 1, sizeof hdr, f->fp);
    if (got == 0 && feof(f->fp))
        return MR_NEXT_DONE;
    if (got != sizeof hdr || hdr[0] != SPILL_MAGIC || b->ncols != f->ncols)
        return got != sizeof hdr ? io_fail(f, "reading a", err)
                                 : mr_err_set(err, MR_EIO, "node '%s': corrupt spill file in '%s'",
                                              f->node, f->dir);
    size_t n = hdr[1];
    mr_batch_reset(b);
    if (mr_batch_reserve(b, n) < 0)
        return mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", f->node);
    size_t vbytes = (n + 7) / 8;
    for (int ci = 0; ci < f->ncols; ci++) {
        mr_column *c = &b->cols[ci];
        uint8_t present;
        int rc = get(f, &present, 1, err);
        if (rc < 0)
            return rc;
        if (!present) {
            memset(c->valid, 0, vbytes);
            if (c->type.id == MR_T_STRING)
                memset(c->offsets, 0, (n + 1) * sizeof *c->offsets);
            else
                memset(c->data, 0, n * mr_type_width(c->type));
            continue;
        }
        if ((rc = get(f, c->valid, vbytes, err)) < 0)
            return rc;
        if (c->type.id != MR_T_STRING) {
            if ((rc = get(f, c->data, n * mr_type_width(c->type), err)) < 0)
                return rc;
            continue;
        }
        if ((rc = get(f, c->offsets, (n + 1) * sizeof *c->offsets, err)) < 0)
            return rc;
        size_t total = c->offsets[n];
        if (c->offsets[0] != 0)
            return mr_err_set(err, MR_EIO, "node '%s': corrupt spill file in '%s'", f->node,
                              f->dir);
        if (mr_column_reserve_chars(c, 0, total) < 0)
            return mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", f->node);
        if ((rc = get(f, c->chars, total, err)) < 0)
            return rc;
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
        mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", node ? node : "");
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
        return mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", node ? node : "");
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
        return mr_err_set(err, MR_EINVAL, "node '%s': spill partitions written after reading",
                          ps->f->node);
    if (n > ps->cap) {
        size_t cap = ps->cap ? ps->cap : MR_BATCH_ROWS;
        while (cap < n)
            cap *= 2;
        uint32_t *r = realloc(ps->rows, cap * sizeof *r);
        if (r)
            ps->rows = r;
        uint32_t *p = r ? realloc(ps->part, cap * sizeof *p) : NULL;
        if (!p)
            return mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", ps->f->node);
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
            return mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", ps->f->node);
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
        return mr_err_set(err, MR_EIO, "node '%s': spill file in '%s' ends early", f->node,
                          f->dir);
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
        mr_err_set(err, MR_ENOMEM, "node '%s': out of memory", node ? node : "");
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
