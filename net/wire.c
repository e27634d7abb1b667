/* wire.c - encodes columnar batches into header + buffer frames and back.
 *
 * Encoding gathers each column's live rows into the wire layout described in
 * wire.h.  Without a selection vector and with compression on, zstd reads
 * the batch's own buffers directly (only the validity bitmap is copied, to
 * zero the bits past nrows); with a selection vector the selected values are
 * gathered first, into the frame itself when sending raw or into a
 * per-thread scratch buffer that zstd then compresses.  So a batch costs one
 * pass per buffer plus compression, and one malloc per frame (the frames
 * outlive the call).
 *
 * Decoding validates the header completely before touching the frames
 * (check_header), then decompresses or copies every frame straight into the
 * destination batch's buffers, after growing them to the sizes the header
 * announced (already bounded).  Nothing the sender says is used as a size or
 * an index without a check: core/colbuf.c (which also gathers the buffers
 * when encoding) verifies string offsets start at 0, never decrease and end
 * exactly at the chars size, so later kernels can index chars with them
 * blindly.
 *
 * Per-thread state (zstd contexts, scratch) lives in a wire_tls reached
 * through a thread-local pointer and registered with a pthread key whose
 * destructor frees it when the thread exits.
 */
#include "net/wire.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "core/colbuf.h"

/* ---- per-thread state ---------------------------------------------------- */

typedef struct wire_tls {
    ZSTD_CCtx *cctx;
    ZSTD_DCtx *dctx;
    char *scratch;
    size_t scratch_cap;
} wire_tls;

static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static int tls_key_ok;
static _Thread_local wire_tls *tls_cur;

static void tls_free(void *p)
{
    wire_tls *t = p;
    if (!t)
        return;
    ZSTD_freeCCtx(t->cctx);
    ZSTD_freeDCtx(t->dctx);
    free(t->scratch);
    free(t);
}

static void tls_init_key(void)
{
    tls_key_ok = pthread_key_create(&tls_key, tls_free) == 0;
}

static wire_tls *tls_get(void)
{
    if (tls_cur)
        return tls_cur;
    pthread_once(&tls_once, tls_init_key);
    wire_tls *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    if (tls_key_ok)
        pthread_setspecific(tls_key, t);
    tls_cur = t;
    return t;
}

void mr_wire_thread_release(void)
{
    if (!tls_cur)
        return;
    if (tls_key_ok)
        pthread_setspecific(tls_key, NULL);
    tls_free(tls_cur);
    tls_cur = NULL;
}

static char *tls_scratch(wire_tls *t, size_t len)
{
    if (len <= t->scratch_cap && t->scratch)
        return t->scratch;
    size_t cap = t->scratch_cap ? t->scratch_cap : 4096;
    while (cap < len)
        cap *= 2;
    char *p = realloc(t->scratch, cap);
    if (!p)
        return NULL;
    t->scratch = p;
    t->scratch_cap = cap;
    return p;
}

/* ---- frames ---------------------------------------------------------------- */

void mr_frames_free(mr_frames *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++)
        free(f->items[i].data);
    free(f->items);
    f->items = NULL;
    f->n = f->cap = 0;
}

/* Appends data (malloc'd, ownership passes to f on success). */
static int frames_take(mr_frames *f, void *data, size_t len)
{
    if (f->n == f->cap) {
        size_t ncap = f->cap ? f->cap * 2 : 16;
        mr_frame *p = realloc(f->items, ncap * sizeof *p);
        if (!p)
            return MR_ENOMEM;
        f->items = p;
        f->cap = ncap;
    }
    f->items[f->n].data = data;
    f->items[f->n].len = len;
    f->n++;
    return 0;
}

/* ---- types ---------------------------------------------------------------- */

static int type_from_pb(const Millrace__Type *pt, mr_type *out)
{
    if (!pt || pt->id < MILLRACE__TYPE_ID__TYPE_BOOL || pt->id > MILLRACE__TYPE_ID__TYPE_TIMESTAMPTZ)
        return -1;
    if ((int)pt->id == MR_T_DECIMAL) {
        if (pt->precision < 1 || pt->precision > MR_DECIMAL_MAX_PRECISION ||
            pt->scale > pt->precision)
            return -1;
        *out = mr_type_decimal((int)pt->precision, (int)pt->scale);
    } else {
        *out = mr_type_make((mr_type_id)pt->id);
    }
    return 0;
}

static void type_to_pb(mr_type t, Millrace__Type *pt)
{
    millrace__type__init(pt);
    pt->id = (Millrace__TypeId)t.id;
    pt->precision = t.precision;
    pt->scale = t.scale;
}

/* ---- encoding ------------------------------------------------------------- */

/* The sink core/colbuf.h writes a column's buffers into: one frame each. */
typedef struct enc {
    wire_tls *tls;
    int level;
    mr_frames *out;
    mr_err *err;
    Millrace__BufferHeader *bh; /* the current column's buffer headers */
    void *pending;              /* raw codec: the frame dest gave, not yet emitted */
} enc;

static int enc_nomem(enc *e)
{
    return mr_err_set(e->err, MR_ENOMEM, "out of memory encoding a batch");
}

/* Where to gather len raw bytes: the future frame itself when sending raw,
 * else the thread's scratch. */
static void *enc_dest(void *ctx, size_t len)
{
    enc *e = ctx;
    if (e->level == 0) {
        free(e->pending);
        e->pending = malloc(len ? len : 1);
        return e->pending;
    }
    return tls_scratch(e->tls, len ? len : 1);
}

/* Emits buffer k as a frame.  raw is where its len raw bytes are; when
 * gathered with the raw codec, raw is the malloc'd frame enc_dest gave,
 * which becomes the frame as is. */
static int enc_emit(void *ctx, int k, const void *raw, size_t len, bool gathered, mr_err *err)
{
    enc *e = ctx;
    (void)err; /* e->err is the same */
    Millrace__BufferHeader *bh = &e->bh[k];
    millrace__buffer_header__init(bh);
    bh->raw_size = len;
    void *frame;
    size_t flen;
    if (e->level == 0) {
        frame = gathered ? e->pending : NULL;
        e->pending = NULL;
        if (!frame) {
            frame = malloc(len ? len : 1);
            if (!frame)
                return enc_nomem(e);
            if (len)
                memcpy(frame, raw, len);
        }
        flen = len;
    } else {
        size_t bound = ZSTD_compressBound(len);
        frame = malloc(bound);
        if (!frame)
            return enc_nomem(e);
        flen = ZSTD_compressCCtx(e->tls->cctx, frame, bound, raw, len, e->level);
        if (ZSTD_isError(flen)) {
            free(frame);
            return mr_err_set(e->err, MR_EIO, "zstd compression failed: %s",
                              ZSTD_getErrorName(flen));
        }
        if (flen < bound) {
            void *p = realloc(frame, flen ? flen : 1);
            if (p)
                frame = p;
        }
    }
    bh->wire_size = flen;
    if (frames_take(e->out, frame, flen) < 0) {
        free(frame);
        return enc_nomem(e);
    }
    return 0;
}

int mr_wire_encode(const mr_batch *b, const mr_batch_meta *meta, int zstd_level,
                   mr_frames *out, mr_err *err)
{
    if (!b && !meta->eos)
        return mr_err_set(err, MR_EINVAL, "wire encode: no batch and not an end-of-stream marker");
    size_t n = b ? mr_batch_live(b) : 0;
    if (n > MR_WIRE_MAX_ROWS)
        return mr_err_set(err, MR_EINVAL, "wire encode: %zu rows is over the limit of %u per batch",
                          n, MR_WIRE_MAX_ROWS);
    int ncols = b ? b->ncols : 0;
    if (ncols > MR_WIRE_MAX_COLUMNS)
        return mr_err_set(err, MR_EINVAL, "wire encode: %d columns is over the limit of %d",
                          ncols, MR_WIRE_MAX_COLUMNS);
    if (zstd_level > ZSTD_maxCLevel())
        zstd_level = ZSTD_maxCLevel();
    if (zstd_level < ZSTD_minCLevel())
        zstd_level = ZSTD_minCLevel();

    enc e = {.tls = tls_get(), .level = zstd_level, .out = out, .err = err};
    const mr_colbuf_sink sink = {enc_dest, enc_emit, &e};
    if (!e.tls)
        return enc_nomem(&e);
    if (zstd_level != 0 && !e.tls->cctx && !(e.tls->cctx = ZSTD_createCCtx()))
        return enc_nomem(&e);

    /* Header pieces for every column, in one block: column headers, types,
     * up to three buffer headers each, and the pointer arrays. */
    size_t nc = (size_t)ncols;
    size_t block = nc * (sizeof(Millrace__ColumnHeader) + sizeof(Millrace__Type) +
                         3 * sizeof(Millrace__BufferHeader) + sizeof(Millrace__ColumnHeader *) +
                         3 * sizeof(Millrace__BufferHeader *));
    char *mem = malloc(block ? block : 1);
    if (!mem)
        return enc_nomem(&e);
    Millrace__ColumnHeader *ch = (Millrace__ColumnHeader *)mem;
    Millrace__Type *types = (Millrace__Type *)(ch + nc);
    Millrace__BufferHeader *bufs = (Millrace__BufferHeader *)(types + nc);
    Millrace__ColumnHeader **chp = (Millrace__ColumnHeader **)(bufs + 3 * nc);
    Millrace__BufferHeader **bufp = (Millrace__BufferHeader **)(chp + nc);

    size_t first = out->n;
    int rc = frames_take(out, NULL, 0); /* the header's slot, filled last */
    if (rc < 0) {
        free(mem);
        return enc_nomem(&e);
    }
    for (size_t i = 0; i < nc; i++) {
        const mr_column *c = &b->cols[i];
        millrace__column_header__init(&ch[i]);
        type_to_pb(c->type, &types[i]);
        ch[i].type = &types[i];
        Millrace__BufferHeader *bh = &bufs[3 * i];
        for (int k = 0; k < 3; k++)
            bufp[3 * i + k] = &bh[k];
        ch[i].buffers = &bufp[3 * i];
        chp[i] = &ch[i];
        ch[i].n_buffers = (size_t)mr_colbuf_count(c->type);
        e.bh = bh;
        if ((rc = mr_colbuf_write(c, b->sel, n, &sink, err)) < 0)
            goto fail;
    }

    Millrace__BatchHeader h = MILLRACE__BATCH_HEADER__INIT;
    h.job_id = (char *)(meta->job_id ? meta->job_id : "");
    h.stage_id = meta->stage_id;
    h.partition = meta->partition;
    h.map_task = meta->map_task;
    h.attempt = meta->attempt;
    h.seq = meta->seq;
    h.eos = meta->eos ? 1 : 0;
    h.nrows = n;
    h.n_columns = nc;
    h.columns = chp;
    h.codec = zstd_level ? MILLRACE__CODEC__CODEC_ZSTD : MILLRACE__CODEC__CODEC_NONE;
    size_t hlen = millrace__batch_header__get_packed_size(&h);
    void *hbuf = malloc(hlen ? hlen : 1);
    if (!hbuf) {
        rc = enc_nomem(&e);
        goto fail;
    }
    millrace__batch_header__pack(&h, hbuf);
    out->items[first].data = hbuf;
    out->items[first].len = hlen;
    free(mem);
    return 0;

fail:
    for (size_t i = first; i < out->n; i++)
        free(out->items[i].data);
    out->n = first;
    free(e.pending);
    free(mem);
    return rc;
}

/* ---- decoding ------------------------------------------------------------- */

/* Validates everything a header says on its own (see wire.h). */
static int check_header(const Millrace__BatchHeader *h, mr_err *err)
{
    if (h->codec != MILLRACE__CODEC__CODEC_NONE && h->codec != MILLRACE__CODEC__CODEC_ZSTD)
        return mr_err_set(err, MR_EPROTO, "batch header: unknown codec %d", (int)h->codec);
    if (h->nrows > MR_WIRE_MAX_ROWS)
        return mr_err_set(err, MR_EPROTO, "batch header: %llu rows is over the limit of %u",
                          (unsigned long long)h->nrows, MR_WIRE_MAX_ROWS);
    if (h->n_columns > MR_WIRE_MAX_COLUMNS)
        return mr_err_set(err, MR_EPROTO, "batch header: %zu columns is over the limit of %d",
                          h->n_columns, MR_WIRE_MAX_COLUMNS);
    if (h->n_columns && !h->columns)
        return mr_err_set(err, MR_EPROTO, "batch header: column list missing");
    uint64_t n = h->nrows, total = 0;
    for (size_t i = 0; i < h->n_columns; i++) {
        const Millrace__ColumnHeader *c = h->columns[i];
        mr_type t;
        if (!c || type_from_pb(c->type, &t) < 0)
            return mr_err_set(err, MR_EPROTO, "batch header: column %zu has a missing or invalid type", i);
        size_t want = (size_t)mr_colbuf_count(t);
        char tn[32];
        if (c->n_buffers != want || (want && !c->buffers))
            return mr_err_set(err, MR_EPROTO, "batch header: column %zu (%s) has %zu buffers, expected %zu",
                              i, mr_type_name(t, tn, sizeof tn), c->n_buffers, want);
        for (size_t k = 0; k < want; k++) {
            const Millrace__BufferHeader *bh = c->buffers[k];
            if (!bh)
                return mr_err_set(err, MR_EPROTO, "batch header: column %zu %s buffer header missing",
                                  i, mr_colbuf_name(t, (int)k));
            uint64_t expect = mr_colbuf_expect(t, n, (int)k);
            int exact = expect != MR_COLBUF_ANY;
            if (!exact)
                expect = MR_WIRE_MAX_BYTES;
            if (exact ? bh->raw_size != expect : bh->raw_size > expect)
                return mr_err_set(err, MR_EPROTO,
                                  "batch header: column %zu (%s) %s raw size %llu, expected %s%llu for %llu rows",
                                  i, mr_type_name(t, tn, sizeof tn), mr_colbuf_name(t, (int)k),
                                  (unsigned long long)bh->raw_size, exact ? "" : "at most ",
                                  (unsigned long long)expect, (unsigned long long)n);
            total += bh->raw_size;
            if (total > MR_WIRE_MAX_BYTES)
                return mr_err_set(err, MR_EPROTO, "batch header: buffers add up to more than %llu bytes",
                                  (unsigned long long)MR_WIRE_MAX_BYTES);
            uint64_t wmax = h->codec == MILLRACE__CODEC__CODEC_NONE
                                ? bh->raw_size
                                : (uint64_t)ZSTD_compressBound((size_t)bh->raw_size);
            if (h->codec == MILLRACE__CODEC__CODEC_NONE ? bh->wire_size != wmax : bh->wire_size > wmax)
                return mr_err_set(err, MR_EPROTO,
                                  "batch header: column %zu %s wire size %llu does not fit raw size %llu",
                                  i, mr_colbuf_name(t, (int)k), (unsigned long long)bh->wire_size,
                                  (unsigned long long)bh->raw_size);
        }
    }
    return 0;
}

int mr_wire_decode_header(const void *data, size_t len, Millrace__BatchHeader **out, mr_err *err)
{
    *out = NULL;
    if (!data && len)
        return mr_err_set(err, MR_EPROTO, "batch header: no data");
    Millrace__BatchHeader *h = millrace__batch_header__unpack(NULL, len, data);
    if (!h)
        return mr_err_set(err, MR_EPROTO, "batch header: %zu bytes are not a valid BatchHeader message",
                          len);
    int rc = check_header(h, err);
    if (rc < 0) {
        millrace__batch_header__free_unpacked(h, NULL);
        return rc;
    }
    *out = h;
    return 0;
}

/* Copies or decompresses frame f into dst, which has room for raw_size. */
static int dec_buffer(wire_tls *t, int codec, const mr_frame *f, const Millrace__BufferHeader *bh,
                      void *dst, size_t col, const char *what, mr_err *err)
{
    if (f->len != bh->wire_size)
        return mr_err_set(err, MR_EPROTO, "batch column %zu %s: frame is %zu bytes, header says %llu",
                          col, what, f->len, (unsigned long long)bh->wire_size);
    if (!f->data && f->len)
        return mr_err_set(err, MR_EPROTO, "batch column %zu %s: frame has no data", col, what);
    size_t raw = (size_t)bh->raw_size;
    if (codec == MILLRACE__CODEC__CODEC_NONE) {
        if (raw)
            memcpy(dst, f->data, raw);
        return 0;
    }
    size_t got = ZSTD_decompressDCtx(t->dctx, dst, raw, f->data, f->len);
    if (ZSTD_isError(got))
        return mr_err_set(err, MR_EPROTO, "batch column %zu %s: bad zstd frame: %s (header says %zu raw bytes)",
                          col, what, ZSTD_getErrorName(got), raw);
    if (got != raw)
        return mr_err_set(err, MR_EPROTO, "batch column %zu %s: decompressed to %zu bytes, header says %zu",
                          col, what, got, raw);
    return 0;
}

/* Makes *out a reset batch of the header's types with room for n rows. */
static int dec_prepare(const Millrace__BatchHeader *h, mr_batch **out, mr_err *err)
{
    size_t nc = h->n_columns, n = (size_t)h->nrows;
    mr_batch *b = *out;
    int same = b && (size_t)b->ncols == nc;
    for (size_t i = 0; same && i < nc; i++) {
        mr_type t;
        type_from_pb(h->columns[i]->type, &t);
        same = mr_type_equal(t, b->cols[i].type);
    }
    if (same) {
        mr_batch_reset(b);
        if (mr_batch_reserve(b, n) < 0)
            return mr_err_set(err, MR_ENOMEM, "out of memory decoding a batch of %zu rows", n);
        return 0;
    }
    mr_type *types = malloc((nc ? nc : 1) * sizeof *types);
    if (!types)
        return mr_err_set(err, MR_ENOMEM, "out of memory decoding a batch");
    for (size_t i = 0; i < nc; i++)
        type_from_pb(h->columns[i]->type, &types[i]);
    mr_batch *nb = mr_batch_create_types(types, (int)nc, n > MR_BATCH_ROWS ? n : 0);
    free(types);
    if (!nb)
        return mr_err_set(err, MR_ENOMEM, "out of memory decoding a batch of %zu rows", n);
    mr_batch_destroy(*out);
    *out = nb;
    return 0;
}

/* Feeds core/colbuf.h the frames of one column: copied or decompressed. */
typedef struct dec {
    wire_tls *tls;
    int codec;
    const mr_frame *f;
    const Millrace__ColumnHeader *ch;
    size_t col;
    mr_type type;
} dec;

static int dec_fill(void *ctx, int k, void *dst, size_t len, mr_err *err)
{
    const dec *d = ctx;
    (void)len; /* == raw_size: mr_colbuf_read checked it against the header */
    return dec_buffer(d->tls, d->codec, &d->f[k], d->ch->buffers[k], dst, d->col,
                      mr_colbuf_name(d->type, k), err);
}

static int dec_column(wire_tls *t, const Millrace__BatchHeader *h, size_t i, const mr_frame *f,
                      mr_column *c, mr_err *err)
{
    const Millrace__ColumnHeader *ch = h->columns[i];
    dec d = {t, (int)h->codec, f, ch, i, c->type};
    uint64_t size[MR_COLBUF_MAX];
    for (size_t k = 0; k < ch->n_buffers; k++)
        size[k] = ch->buffers[k]->raw_size;
    char what[48];
    snprintf(what, sizeof what, "batch column %zu", i);
    return mr_colbuf_read(c, (size_t)h->nrows, size, MR_WIRE_MAX_BYTES, dec_fill, &d, MR_EPROTO,
                          what, err);
}

int mr_wire_decode_batch(const Millrace__BatchHeader *h, const mr_frame *frames, size_t nframes,
                         mr_batch **out, mr_err *err)
{
    int rc = check_header(h, err);
    if (rc < 0) {
        if (*out)
            mr_batch_reset(*out);
        return rc;
    }
    size_t want = 0;
    for (size_t i = 0; i < h->n_columns; i++)
        want += h->columns[i]->n_buffers;
    if (nframes != want) {
        if (*out)
            mr_batch_reset(*out);
        return mr_err_set(err, MR_EPROTO, "batch: %zu column frames, header describes %zu", nframes,
                          want);
    }
    if (h->n_columns == 0 && h->nrows == 0 && *out) {
        mr_batch_reset(*out);
        return 0;
    }
    wire_tls *t = tls_get();
    if (!t)
        return mr_err_set(err, MR_ENOMEM, "out of memory decoding a batch");
    if (h->codec == MILLRACE__CODEC__CODEC_ZSTD && !t->dctx && !(t->dctx = ZSTD_createDCtx()))
        return mr_err_set(err, MR_ENOMEM, "out of memory decoding a batch");
    if ((rc = dec_prepare(h, out, err)) < 0)
        return rc;
    mr_batch *b = *out;
    size_t fi = 0;
    for (size_t i = 0; i < h->n_columns; i++) {
        if ((rc = dec_column(t, h, i, frames + fi, &b->cols[i], err)) < 0) {
            mr_batch_reset(b);
            return rc;
        }
        fi += h->columns[i]->n_buffers;
    }
    b->nrows = (size_t)h->nrows;
    return 0;
}
