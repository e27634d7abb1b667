/* colbuf.c - a column's buffers to bytes and back, and buffer records
 * (layouts in colbuf.h).
 *
 * Writing gathers what needs gathering (validity always, to clear the bits
 * past n; values and text only with a row list; offsets always, rebased to
 * 0) into room the sink provides, so the wire codec can gather straight
 * into a frame and a spill file into its scratch; everything else goes to
 * the sink from the column's own memory.  Reading checks every announced
 * size before growing the column, loads validity, then data, or offsets,
 * which it checks before it sizes and loads the chars.
 */
#include "core/colbuf.h"

#include <string.h>

int mr_colbuf_count(mr_type t)
{
    return t.id == MR_T_STRING ? 3 : 2;
}

const char *mr_colbuf_name(mr_type t, int k)
{
    static const char *const fixed[] = {"validity", "data"};
    static const char *const str[] = {"validity", "offsets", "chars"};
    if (k < 0 || k >= mr_colbuf_count(t))
        return "?";
    return t.id == MR_T_STRING ? str[k] : fixed[k];
}

uint64_t mr_colbuf_expect(mr_type t, uint64_t n, int k)
{
    if (k == 0)
        return (n + 7) / 8;
    if (t.id != MR_T_STRING)
        return n * mr_type_width(t);
    return k == 1 ? (n + 1) * sizeof(uint32_t) : MR_COLBUF_ANY;
}

/* ---- Writing ------------------------------------------------------------- */

#define ROW(i) (rows ? rows[i] : (uint32_t)(i))

uint64_t mr_colbuf_size(const mr_column *c, const uint32_t *rows, size_t n, int k)
{
    uint64_t want = mr_colbuf_expect(c->type, n, k);
    if (want != MR_COLBUF_ANY)
        return want;
    if (!c->valid)
        return 0;
    if (!rows)
        return (uint64_t)c->offsets[n] - c->offsets[0];
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += c->offsets[rows[i] + 1] - c->offsets[rows[i]];
    return total;
}

static int nomem(mr_err *err)
{
    return mr_err_set(err, MR_ENOMEM, "out of memory writing column buffers");
}

static int write_validity(const mr_column *c, const uint32_t *rows, size_t n,
                          const mr_colbuf_sink *s, mr_err *err)
{
    size_t len = (n + 7) / 8;
    uint8_t *dst = s->dest(s->ctx, len);
    if (!dst)
        return nomem(err);
    if (!c->valid) {
        memset(dst, 0, len);
    } else if (!rows) {
        if (len)
            memcpy(dst, c->valid, len);
        if (n & 7)
            dst[len - 1] &= (uint8_t)((1u << (n & 7)) - 1);
    } else {
        memset(dst, 0, len);
        for (size_t i = 0; i < n; i++)
            dst[i >> 3] |= (uint8_t)(mr_column_is_valid(c, rows[i]) << (i & 7));
    }
    return s->emit(s->ctx, 0, dst, len, true, err);
}

static int write_fixed(const mr_column *c, const uint32_t *rows, size_t n,
                       const mr_colbuf_sink *s, mr_err *err)
{
    size_t w = mr_type_width(c->type), len = n * w;
    if (!rows && c->valid)
        return s->emit(s->ctx, 1, c->data, len, false, err);
    unsigned char *dst = s->dest(s->ctx, len);
    if (!dst)
        return nomem(err);
    const unsigned char *d = c->data;
    if (!c->valid) {
        memset(dst, 0, len);
        return s->emit(s->ctx, 1, dst, len, true, err);
    }
    switch (w) {
    case 1:
        for (size_t i = 0; i < n; i++)
            dst[i] = d[rows[i]];
        break;
    case 4:
        for (size_t i = 0; i < n; i++)
            memcpy(dst + i * 4, d + (size_t)rows[i] * 4, 4);
        break;
    default:
        for (size_t i = 0; i < n; i++)
            memcpy(dst + i * 8, d + (size_t)rows[i] * 8, 8);
        break;
    }
    return s->emit(s->ctx, 1, dst, len, true, err);
}

static int write_string(const mr_column *c, const uint32_t *rows, size_t n,
                        const mr_colbuf_sink *s, mr_err *err)
{
    const uint32_t *off = c->offsets;
    size_t olen = (n + 1) * sizeof(uint32_t);
    uint32_t *o = s->dest(s->ctx, olen);
    if (!o)
        return nomem(err);
    uint64_t total = 0;
    o[0] = 0;
    for (size_t i = 0; i < n; i++) {
        if (c->valid) {
            uint32_t r = ROW(i);
            total += off[r + 1] - off[r];
        }
        if (total > UINT32_MAX)
            return mr_err_set(err, MR_ETOOBIG, "column buffers: over 4 GiB of text in %zu rows", n);
        o[i + 1] = (uint32_t)total;
    }
    int rc = s->emit(s->ctx, 1, o, olen, true, err);
    if (rc < 0 || !c->valid)
        return rc < 0 ? rc : s->emit(s->ctx, 2, "", 0, false, err);
    if (!rows) /* chars may be NULL when every string is empty or NULL */
        return s->emit(s->ctx, 2, c->chars ? c->chars + off[0] : "", (size_t)total, false, err);
    char *dst = s->dest(s->ctx, (size_t)total);
    if (!dst)
        return nomem(err);
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t r = rows[i];
        size_t l = off[r + 1] - off[r];
        if (l)
            memcpy(dst + pos, c->chars + off[r], l);
        pos += l;
    }
    return s->emit(s->ctx, 2, dst, pos, true, err);
}

int mr_colbuf_write(const mr_column *c, const uint32_t *rows, size_t n, const mr_colbuf_sink *s,
                    mr_err *err)
{
    int rc = write_validity(c, rows, n, s, err);
    if (rc < 0)
        return rc;
    return c->type.id == MR_T_STRING ? write_string(c, rows, n, s, err)
                                     : write_fixed(c, rows, n, s, err);
}

/* ---- Reading ------------------------------------------------------------- */

static int bad_size(mr_type t, int k, uint64_t got, uint64_t want, int exact, size_t n,
                    int bad_code, const char *what, mr_err *err)
{
    char tn[32];
    return mr_err_set(err, bad_code, "%s (%s) %s: %llu bytes, expected %s%llu for %zu rows", what,
                      mr_type_name(t, tn, sizeof tn), mr_colbuf_name(t, k),
                      (unsigned long long)got, exact ? "" : "at most ", (unsigned long long)want,
                      n);
}

int mr_colbuf_read(mr_column *c, size_t n, const uint64_t *size, uint64_t max_chars,
                   mr_colbuf_fill_fn fill, void *ctx, int bad_code, const char *what,
                   mr_err *err)
{
    mr_type t = c->type;
    int nb = mr_colbuf_count(t);
    if (size) {
        for (int k = 0; k < nb; k++) {
            uint64_t want = mr_colbuf_expect(t, n, k);
            if (want == MR_COLBUF_ANY ? size[k] > max_chars : size[k] != want)
                return bad_size(t, k, size[k], want == MR_COLBUF_ANY ? max_chars : want,
                                want != MR_COLBUF_ANY, n, bad_code, what, err);
        }
    }
    if (mr_column_reserve(c, n) < 0)
        return mr_err_set(err, MR_ENOMEM, "%s: out of memory loading %zu rows", what, n);
    int rc = fill(ctx, 0, c->valid, (n + 7) / 8, err);
    if (rc < 0)
        return rc;
    if (t.id != MR_T_STRING) {
        if ((rc = fill(ctx, 1, c->data, n * mr_type_width(t), err)) < 0)
            return rc;
        if (t.id == MR_T_BOOL) {
            uint8_t *d = c->data;
            for (size_t r = 0; r < n; r++)
                d[r] = d[r] != 0;
        }
        return 0;
    }
    if ((rc = fill(ctx, 1, c->offsets, (n + 1) * sizeof(uint32_t), err)) < 0)
        return rc;
    const uint32_t *off = c->offsets;
    if (off[0] != 0)
        return mr_err_set(err, bad_code, "%s offsets: first offset is %u, not 0", what, off[0]);
    uint32_t bad = 0;
    for (size_t r = 0; r < n; r++)
        bad |= off[r + 1] < off[r];
    if (bad)
        return mr_err_set(err, bad_code, "%s offsets: not in ascending order", what);
    uint64_t nchars = size ? size[2] : off[n];
    if (off[n] != nchars)
        return mr_err_set(err, bad_code, "%s offsets: end at %u but chars are %llu bytes", what,
                          off[n], (unsigned long long)nchars);
    if (nchars > max_chars)
        return bad_size(t, 2, nchars, max_chars, 0, n, bad_code, what, err);
    if (mr_column_reserve_chars(c, 0, (size_t)nchars) < 0)
        return mr_err_set(err, MR_ENOMEM, "%s: out of memory loading %llu string bytes", what,
                          (unsigned long long)nchars);
    return fill(ctx, 2, c->chars, (size_t)nchars, err);
}

/* ---- Records ------------------------------------------------------------- */

uint64_t mr_colbuf_record_head(void *head, uint32_t nbuf, const uint64_t *len)
{
    unsigned char *h = head;
    uint32_t hdr[2] = {MR_COLBUF_RECORD_MAGIC, nbuf};
    memcpy(h, hdr, sizeof hdr);
    uint64_t total = mr_colbuf_record_head_size(nbuf);
    for (uint32_t i = 0; i < nbuf; i++) {
        memcpy(h + 8 + (size_t)i * 8, &len[i], 8);
        total += len[i];
    }
    return total;
}

int64_t mr_colbuf_record_count(const void *head8, uint32_t max_nbuf, int bad_code,
                               const char *what, mr_err *err)
{
    uint32_t hdr[2];
    memcpy(hdr, head8, sizeof hdr);
    if (hdr[0] != MR_COLBUF_RECORD_MAGIC)
        return mr_err_set(err, bad_code, "%s: corrupt record (bad magic 0x%08x)", what, hdr[0]);
    if (hdr[1] > max_nbuf)
        return mr_err_set(err, bad_code, "%s: corrupt record (%u buffers, at most %u expected)",
                          what, hdr[1], max_nbuf);
    return hdr[1];
}

int mr_colbuf_record_parse(const void *rec, uint64_t len, const void **bufs, uint64_t *lens,
                           uint32_t max_nbuf, uint32_t *nbuf, int bad_code, const char *what,
                           mr_err *err)
{
    const unsigned char *r = rec;
    *nbuf = 0;
    if (len < 8)
        return mr_err_set(err, bad_code, "%s: truncated record (%llu bytes)", what,
                          (unsigned long long)len);
    int64_t nb = mr_colbuf_record_count(r, max_nbuf, bad_code, what, err);
    if (nb < 0)
        return (int)nb;
    uint64_t pos = mr_colbuf_record_head_size((uint32_t)nb);
    if (pos > len)
        return mr_err_set(err, bad_code, "%s: truncated record (%llu bytes for %lld buffers)", what,
                          (unsigned long long)len, (long long)nb);
    for (int64_t i = 0; i < nb; i++) {
        uint64_t l;
        memcpy(&l, r + 8 + i * 8, sizeof l);
        if (l > len - pos)
            return mr_err_set(err, bad_code,
                              "%s: record buffer %lld is %llu bytes, only %llu remain", what,
                              (long long)i, (unsigned long long)l,
                              (unsigned long long)(len - pos));
        bufs[i] = r + pos;
        lens[i] = l;
        pos += l;
    }
    if (pos != len)
        return mr_err_set(err, bad_code, "%s: record has %llu bytes beyond its buffers", what,
                          (unsigned long long)(len - pos));
    *nbuf = (uint32_t)nb;
    return 0;
}
