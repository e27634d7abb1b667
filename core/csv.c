/* csv.c - the CSV record reader (split handling, quoting, positions) and
 * schema inference.
 *
 * Buffering.  The reader reads through the one split reader
 * (core/formats/split.h: file, buffer, resync, line count), whose buffer
 * holds at least opt.buffer_size bytes, read with pread in chunks as large
 * as the free space.  The bytes [beg, end) are read but not yet consumed;
 * beg is always a record start.  When a record is not complete in [beg, end) the parser gives up
 * ("need more"), fill() moves the partial record to the front of the
 * buffer, grows the buffer if it is full, reads more, and the record is
 * parsed again from its start.  Restarting costs little: it happens once
 * per buffer, and a record larger than the buffer doubles it, so a record
 * is parsed at most O(log(size/buffer)) times.  Records longer than
 * opt.max_record stop the reader with MR_ETOOBIG.
 *
 * Parsing.  The fast path finds the line end with memchr, checks with a
 * second memchr that the line holds no quote character, and cuts fields at
 * each delimiter with memchr: unquoted fields point into the buffer and
 * nothing is copied.  A line holding a quote goes through the byte-level
 * state machine (parse_slow), which handles quoted delimiters, quoted
 * newlines and doubled quotes.  A quoted field without doubled quotes
 * still points into the buffer; one with "" is copied, unescaped, into a
 * per-reader scratch buffer (reused for every record).  Field pointers are
 * resolved after the record is complete, since the scratch buffer may move
 * while it grows.
 *
 * Positions.  rel_line counts the newlines between the split's first record
 * and the current one; the line of a record is base_line + rel_line + 1,
 * where base_line (newlines before the first record) is 0 for the split at
 * offset 0 and is counted on demand for other splits (see csv.h).
 *
 * Ownership: the reader owns its split (file descriptor, buffer, a copy of
 * the path) and its field buffers; records point into them.
 */
#include "core/csv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/batch.h"
#include "core/formats/sample.h"
#include "core/formats/split.h"
#include "core/io.h"
#include "core/utf8.h"

/* A field while its record is being parsed: where its bytes are. */
typedef struct fpos {
    size_t off;   /* in buf (from buf[0]) or in scratch */
    size_t len;
    bool scratch;
    bool quoted;
} fpos;

struct mr_csv_reader {
    mr_split sp; /* the file, its buffer [beg, end) and the split's end */
    mr_csv_options opt;
    bool done;
    bool header_pending;

    fpos *fp;
    mr_csv_field *fields;
    size_t fcap, nf;
    char *scratch;
    size_t scap, slen;
    const char *rec_error;

    uint64_t first_off;    /* file offset of the split's first record */
    uint64_t consumed;     /* bytes consumed from first_off on */
    int64_t rel_line;      /* newlines from first_off to the next record */
    uint64_t rec_off;      /* offset of the last record returned / being read */
    int64_t rec_rel_line;
    int64_t base_line;     /* newlines before first_off; -1 not counted yet,
                            * -2 not countable */
};

void mr_csv_options_init(mr_csv_options *o)
{
    memset(o, 0, sizeof *o);
    o->delimiter = ',';
    o->quote = '"';
    o->header = true;
    o->null_string = NULL;
    o->on_error = MR_CSV_FAIL;
    o->max_errors = -1;
}

const char *mr_csv_reader_path(const mr_csv_reader *r) { return r->sp.path; }

uint64_t mr_csv_reader_bytes(const mr_csv_reader *r) { return r ? r->consumed : 0; }

int64_t mr_csv_reader_line(mr_csv_reader *r)
{
    if (r->base_line == -1) {
        int64_t n = mr_split_lines_before(&r->sp, r->first_off);
        r->base_line = n < 0 ? -2 : n;
    }
    if (r->base_line < 0)
        return -1;
    return r->base_line + r->rec_rel_line + 1;
}

const char *mr_csv_reader_where(mr_csv_reader *r, char *buf, size_t cap)
{
    int64_t line = mr_csv_reader_line(r);
    if (line > 0)
        snprintf(buf, cap, "%s:%lld", r->sp.path, (long long)line);
    else
        snprintf(buf, cap, "%s: record at byte %llu", r->sp.path, (unsigned long long)r->rec_off);
    return buf;
}

/* Reads more of the file, keeping the unconsumed bytes [beg, end) (moved to
 * the front).  Sets eof when the file has no more.  0 or a negative code. */
static int fill(mr_csv_reader *r, mr_err *err)
{
    mr_split_compact(&r->sp);
    if (r->sp.end > r->opt.max_record) {
        char where[512];
        r->rec_off = r->sp.buf_off;
        return mr_err_set(err, MR_ETOOBIG, "%s: record longer than %zu bytes (the limit)",
                          mr_csv_reader_where(r, where, sizeof where), r->opt.max_record);
    }
    long n = mr_split_read(&r->sp, err);
    return n < 0 ? (int)n : 0;
}

/* Appends a field to the record being parsed. */
static int push_field(mr_csv_reader *r, size_t off, size_t len, bool scratch, bool quoted)
{
    if (r->nf == r->fcap) {
        size_t ncap = r->fcap ? r->fcap * 2 : 64;
        fpos *nfp = realloc(r->fp, ncap * sizeof *nfp);
        if (!nfp)
            return MR_ENOMEM;
        r->fp = nfp;
        mr_csv_field *nfl = realloc(r->fields, ncap * sizeof *nfl);
        if (!nfl)
            return MR_ENOMEM;
        r->fields = nfl;
        r->fcap = ncap;
    }
    fpos *f = &r->fp[r->nf++];
    f->off = off;
    f->len = len;
    f->scratch = scratch;
    f->quoted = quoted;
    return 0;
}

static int scratch_append(mr_csv_reader *r, const char *p, size_t n)
{
    if (r->slen + n > r->scap) {
        size_t ncap = r->scap ? r->scap : 4096;
        while (ncap < r->slen + n)
            ncap *= 2;
        char *ns = realloc(r->scratch, ncap);
        if (!ns)
            return MR_ENOMEM;
        r->scratch = ns;
        r->scap = ncap;
    }
    memcpy(r->scratch + r->slen, p, n);
    r->slen += n;
    return 0;
}

/* Parse results: a record, or not enough bytes yet. */
enum { PARSE_MORE = 0, PARSE_RECORD = 1 };

/* The state machine for lines that hold a quote character.  On
 * PARSE_RECORD, *next is the index just past the record's line end and
 * *raw_end the end of its text.  Returns PARSE_MORE, PARSE_RECORD or
 * MR_ENOMEM. */
static int parse_slow(mr_csv_reader *r, size_t *next, size_t *raw_end)
{
    const char *b = r->sp.buf;
    const size_t e = r->sp.end;
    const char q = r->opt.quote, d = r->opt.delimiter;
    size_t pos = r->sp.beg;
    r->nf = 0;
    r->slen = 0;
    r->rec_error = NULL;
    for (;;) {
        size_t fs = pos;
        bool junk = false; /* text after a closing quote: already pushed */
        if (pos < e && b[pos] == q) {
            size_t cs = pos + 1, sstart = r->slen, fend;
            bool esc = false;
            pos = cs;
            for (;;) {
                const char *qq = memchr(b + pos, q, e - pos);
                if (!qq) {
                    if (!r->sp.eof)
                        return PARSE_MORE;
                    r->rec_error = "unterminated quoted field";
                    if (esc && scratch_append(r, b + pos, e - pos) < 0)
                        return MR_ENOMEM;
                    if ((esc ? push_field(r, sstart, r->slen - sstart, true, true)
                             : push_field(r, cs, e - cs, false, true)) < 0)
                        return MR_ENOMEM;
                    *next = *raw_end = e;
                    return PARSE_RECORD;
                }
                size_t qi = (size_t)(qq - b);
                if (qi + 1 == e && !r->sp.eof)
                    return PARSE_MORE; /* cannot tell "" from a closing quote yet */
                if (qi + 1 < e && b[qi + 1] == q) {
                    /* a doubled quote: keep one */
                    size_t from = esc ? pos : cs;
                    esc = true;
                    if (scratch_append(r, b + from, qi + 1 - from) < 0)
                        return MR_ENOMEM;
                    pos = qi + 2;
                    continue;
                }
                if (esc && scratch_append(r, b + pos, qi - pos) < 0)
                    return MR_ENOMEM;
                fend = qi;
                pos = qi + 1;
                break;
            }
            if ((esc ? push_field(r, sstart, r->slen - sstart, true, true)
                     : push_field(r, cs, fend - cs, false, true)) < 0)
                return MR_ENOMEM;
            if (pos == e) { /* only at end of file (checked above) */
                *next = *raw_end = e;
                return PARSE_RECORD;
            }
            char c = b[pos];
            if (c == d) {
                pos++;
                continue;
            }
            if (c == '\n') {
                *raw_end = pos;
                *next = pos + 1;
                return PARSE_RECORD;
            }
            if (c == '\r') {
                if (pos + 1 == e) {
                    if (!r->sp.eof)
                        return PARSE_MORE;
                    *raw_end = pos;
                    *next = e;
                    return PARSE_RECORD;
                }
                if (b[pos + 1] == '\n') {
                    *raw_end = pos;
                    *next = pos + 2;
                    return PARSE_RECORD;
                }
            }
            r->rec_error = "unexpected text after a closing quote";
            junk = true;
        }
        size_t i = pos;
        while (i < e && b[i] != d && b[i] != '\n')
            i++;
        if (i == e && !r->sp.eof)
            return PARSE_MORE;
        size_t fe = i;
        bool line_end = i == e || b[i] == '\n';
        if (line_end && fe > fs && b[fe - 1] == '\r')
            fe--;
        if (!junk && push_field(r, fs, fe - fs, false, false) < 0)
            return MR_ENOMEM;
        if (!line_end) {
            pos = i + 1;
            continue;
        }
        *raw_end = fe;
        *next = i < e ? i + 1 : e;
        return PARSE_RECORD;
    }
}

/* Parses the record at beg.  Returns PARSE_MORE, PARSE_RECORD (with *next,
 * *raw_end and *nls, the newlines inside the record's span) or MR_ENOMEM. */
static int parse_record(mr_csv_reader *r, size_t *next, size_t *raw_end, int64_t *nls)
{
    const char *b = r->sp.buf;
    const size_t p = r->sp.beg, e = r->sp.end;
    const char *nl = memchr(b + p, '\n', e - p);
    if (!nl && !r->sp.eof)
        return PARSE_MORE;
    size_t lend = nl ? (size_t)(nl - b) : e;
    if (r->opt.quote == '\0' || !memchr(b + p, r->opt.quote, lend - p)) {
        size_t rend = lend;
        if (rend > p && b[rend - 1] == '\r')
            rend--;
        r->nf = 0;
        r->rec_error = NULL;
        const char d = r->opt.delimiter;
        size_t fs = p;
        for (;;) {
            const char *dp = memchr(b + fs, d, rend - fs);
            size_t fe = dp ? (size_t)(dp - b) : rend;
            if (push_field(r, fs, fe - fs, false, false) < 0)
                return MR_ENOMEM;
            if (!dp)
                break;
            fs = fe + 1;
        }
        *raw_end = rend;
        *next = nl ? lend + 1 : e;
        *nls = nl ? 1 : 0;
        return PARSE_RECORD;
    }
    int rc = parse_slow(r, next, raw_end);
    if (rc != PARSE_RECORD)
        return rc;
    int64_t n = 0;
    for (const char *s = b + p, *end = b + *next; (s = memchr(s, '\n', (size_t)(end - s)));
         s++)
        n++;
    *nls = n;
    return PARSE_RECORD;
}

int mr_csv_reader_next(mr_csv_reader *r, mr_csv_record *rec, mr_err *err)
{
    for (;;) {
        if (r->done)
            return 0;
        if (r->sp.beg == r->sp.end) {
            if (r->sp.eof) {
                r->done = true;
                return 0;
            }
            int rc = fill(r, err);
            if (rc < 0)
                return rc;
            continue;
        }
        uint64_t start = r->sp.buf_off + r->sp.beg;
        if (start >= r->sp.split_end) {
            r->done = true;
            return 0;
        }
        r->rec_off = start;
        r->rec_rel_line = r->rel_line;
        size_t next, raw_end;
        int64_t nls;
        int rc = parse_record(r, &next, &raw_end, &nls);
        if (rc < 0)
            return mr_err_set(err, MR_ENOMEM, "%s: out of memory parsing a record", r->sp.path);
        if (rc == PARSE_MORE) {
            if ((rc = fill(r, err)) < 0)
                return rc;
            continue;
        }
        size_t beg = r->sp.beg;
        r->sp.beg = next;
        r->rel_line += nls;
        r->consumed += next - beg;
        if (raw_end - beg > r->opt.max_record) {
            char where[512];
            return mr_err_set(err, MR_ETOOBIG, "%s: record longer than %zu bytes (the limit)",
                              mr_csv_reader_where(r, where, sizeof where), r->opt.max_record);
        }
        if (raw_end == beg && r->nf == 1 && !r->fp[0].quoted)
            continue; /* blank line */
        if (r->header_pending) {
            r->header_pending = false;
            continue;
        }
        for (size_t i = 0; i < r->nf; i++) {
            const fpos *f = &r->fp[i];
            r->fields[i].p = (f->scratch ? r->scratch : r->sp.buf) + f->off;
            r->fields[i].len = (uint32_t)f->len;
            r->fields[i].quoted = f->quoted;
        }
        rec->nfields = (int)r->nf;
        rec->fields = r->fields;
        rec->raw = r->sp.buf + beg;
        rec->raw_len = raw_end - beg;
        rec->offset = start;
        rec->error = r->rec_error;
        return 1;
    }
}

void mr_csv_reader_close(mr_csv_reader *r)
{
    if (!r)
        return;
    mr_split_close(&r->sp);
    free(r->fp);
    free(r->fields);
    free(r->scratch);
    free(r);
}

int mr_csv_reader_open(const char *path, uint64_t offset, uint64_t length,
                       const mr_csv_options *opt, mr_csv_reader **out, mr_err *err)
{
    *out = NULL;
    mr_csv_options o;
    if (opt)
        o = *opt;
    else
        mr_csv_options_init(&o);
    if (o.delimiter == '\n' || o.delimiter == '\r' || o.delimiter == '\0' ||
        o.delimiter == o.quote || o.quote == '\n' || o.quote == '\r')
        return mr_err_set(err, MR_EINVAL,
                          "csv '%s': delimiter and quote must be distinct and not line ends",
                          path);
    if (o.buffer_size == 0)
        o.buffer_size = MR_CSV_BUFFER_SIZE;
    if (o.max_record == 0 || o.max_record > (UINT32_MAX >> 1))
        o.max_record = o.max_record ? (UINT32_MAX >> 1) : MR_CSV_MAX_RECORD;
    if (o.buffer_size < 64)
        o.buffer_size = 64;

    mr_csv_reader *r = calloc(1, sizeof *r);
    if (!r)
        return mr_err_set(err, MR_ENOMEM, "out of memory opening '%s'", path);
    r->sp.f.fd = -1;
    r->opt = o;
    int rc = mr_split_open(&r->sp, path, offset, length, o.buffer_size, o.compression, err);
    if (rc < 0) {
        mr_csv_reader_close(r);
        return rc;
    }
    r->base_line = offset == 0 ? 0 : -1;
    r->header_pending = offset == 0 && o.header;
    if (offset == 0) {
        r->first_off = 0;
    } else {
        /* Resynchronise: the first record starts just past the first
         * newline at or after offset-1 that is outside quotes (the quote
         * parity at offset-1 comes from the caller). */
        if ((rc = mr_split_resync(&r->sp, o.quote, o.start_in_quote, err)) < 0) {
            mr_csv_reader_close(r);
            return rc;
        }
        r->first_off = r->sp.buf_off + r->sp.beg;
        /* The header is the file's first non-blank line.  When everything
         * before this split is blank lines, no earlier split has met it,
         * so this one skips it.  (Stops at the first other byte: normally
         * byte 0.) */
        if (o.header) {
            /* blank lines are exactly "\n" and "\r\n" (a lone '\r' is data) */
            char chunk[4096];
            uint64_t pos = 0;
            int blank = 1, cr = 0;
            while (blank && pos < r->first_off) {
                size_t want = r->first_off - pos < sizeof chunk ? (size_t)(r->first_off - pos)
                                                                : sizeof chunk;
                int64_t got = mr_file_pread(&r->sp.f, chunk, want, pos, err);
                if (got <= 0)
                    break;
                for (int64_t i = 0; i < got && blank; i++) {
                    if (chunk[i] == '\n')
                        cr = 0;
                    else if (chunk[i] == '\r' && !cr)
                        cr = 1;
                    else
                        blank = 0;
                }
                pos += (uint64_t)got;
            }
            blank = blank && !cr;
            r->header_pending = blank && pos >= r->first_off;
        }
    }
    r->rec_off = r->first_off;
    *out = r;
    return 0;
}

int mr_csv_quote_parity(const char *path, char quote, const uint64_t *offsets, size_t n,
                        bool *in_quote, mr_err *err)
{
    mr_file f;
    int frc = mr_file_open(&f, path, err);
    if (frc < 0)
        return frc == MR_ENOTFOUND ? MR_EIO : frc;
    char *buf = malloc(1 << 20);
    if (!buf) {
        mr_file_close(&f);
        return mr_err_set(err, MR_ENOMEM, "out of memory reading '%s'", path);
    }
    uint64_t pos = 0; /* bytes counted so far */
    int parity = 0, rc = 0;
    for (size_t i = 0; i < n && rc == 0;) {
        uint64_t stop = offsets[i] ? offsets[i] - 1 : 0;
        if (pos >= stop) {
            in_quote[i++] = parity;
            continue;
        }
        size_t want = stop - pos < (1u << 20) ? (size_t)(stop - pos) : (1u << 20);
        int64_t got = mr_file_pread(&f, buf, want, pos, err);
        if (got < 0) {
            rc = (int)got;
            break;
        }
        if (got == 0) { /* the file shrank: the rest start outside quotes */
            pos = stop;
            continue;
        }
        for (const char *p = buf, *e = buf + got; quote && (p = memchr(p, quote, (size_t)(e - p)));
             p++)
            parity ^= 1;
        pos += (uint64_t)got;
    }
    free(buf);
    mr_file_close(&f);
    return rc;
}

/* ---- schema inference ---------------------------------------------------- */

/* Candidate types, narrowest first; a column's type is the first candidate
 * every sampled value parses as. */
enum {
    CAND_BOOL = 1 << 0,
    CAND_INT32 = 1 << 1,
    CAND_INT64 = 1 << 2,
    CAND_DECIMAL = 1 << 3,
    CAND_FLOAT64 = 1 << 4,
    CAND_DATE = 1 << 5,
    CAND_TIMESTAMP = 1 << 6,
    CAND_TIMESTAMPTZ = 1 << 7, /* timestamps, some with a UTC offset */
    CAND_ALL = (1 << 8) - 1,
};

typedef struct infer_col {
    unsigned cand;   /* CAND_* still possible */
    int int_digits;  /* decimals: most digits before the point (no leading zeros) */
    int scale;       /* decimals: most digits after the point */
    bool seen;       /* a non-NULL value was sampled */
} infer_col;

/* Measures a plain decimal literal ([+-]digits[.digits], no exponent).
 * Returns false when s is not one. */
static bool decimal_shape(const char *s, size_t n, int *int_digits, int *scale)
{
    size_t i = 0;
    if (n > 0 && (s[0] == '-' || s[0] == '+'))
        i = 1;
    size_t lead = i;
    while (i < n && s[i] == '0')
        i++;
    size_t istart = i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    size_t nint = i - istart, any = i - lead;
    size_t nfrac = 0;
    if (i < n && s[i] == '.') {
        size_t f = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        nfrac = i - f;
    }
    if (i != n || any + nfrac == 0 || nint > 64 || nfrac > 64)
        return false;
    *int_digits = (int)nint;
    *scale = (int)nfrac;
    return true;
}

static void infer_value(infer_col *c, const char *p, size_t n)
{
    while (n > 0 && (*p == ' ' || *p == '\t')) {
        p++;
        n--;
    }
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    if (n == 0)
        return; /* NULL for every non-string type */
    c->seen = true;
    uint8_t b;
    int32_t i32;
    int64_t i64;
    double f;
    if ((c->cand & CAND_BOOL) && mr_parse_bool(p, n, &b, NULL) < 0)
        c->cand &= ~(unsigned)CAND_BOOL;
    if ((c->cand & CAND_INT32) && mr_parse_int32(p, n, &i32, NULL) < 0)
        c->cand &= ~(unsigned)CAND_INT32;
    if ((c->cand & CAND_INT64) && mr_parse_int64(p, n, &i64, NULL) < 0)
        c->cand &= ~(unsigned)CAND_INT64;
    if (c->cand & CAND_DECIMAL) {
        int id, sc;
        if (!decimal_shape(p, n, &id, &sc)) {
            c->cand &= ~(unsigned)CAND_DECIMAL;
        } else {
            if (id > c->int_digits)
                c->int_digits = id;
            if (sc > c->scale)
                c->scale = sc;
            if (c->int_digits + c->scale > MR_DECIMAL_MAX_PRECISION)
                c->cand &= ~(unsigned)CAND_DECIMAL;
        }
    }
    if ((c->cand & CAND_FLOAT64) && mr_parse_float64(p, n, &f, NULL) < 0)
        c->cand &= ~(unsigned)CAND_FLOAT64;
    if ((c->cand & CAND_DATE) && mr_parse_date(p, n, &i32, NULL) < 0)
        c->cand &= ~(unsigned)CAND_DATE;
    if ((c->cand & CAND_TIMESTAMP) && mr_parse_timestamp(p, n, &i64, NULL) < 0)
        c->cand &= ~(unsigned)CAND_TIMESTAMP;
    if ((c->cand & CAND_TIMESTAMPTZ) && mr_parse_timestamptz(p, n, &i64, NULL, NULL) < 0)
        c->cand &= ~(unsigned)CAND_TIMESTAMPTZ;
}

static mr_type infer_type(const infer_col *c)
{
    if (!c->seen)
        return mr_type_make(MR_T_STRING);
    if (c->cand & CAND_BOOL)
        return mr_type_make(MR_T_BOOL);
    if (c->cand & CAND_INT32)
        return mr_type_make(MR_T_INT32);
    if (c->cand & CAND_INT64)
        return mr_type_make(MR_T_INT64);
    if (c->cand & CAND_DECIMAL) {
        int p = c->int_digits + c->scale;
        return mr_type_decimal(p < 1 ? 1 : p, c->scale);
    }
    if (c->cand & CAND_FLOAT64)
        return mr_type_make(MR_T_FLOAT64);
    if (c->cand & CAND_DATE)
        return mr_type_make(MR_T_DATE);
    if (c->cand & CAND_TIMESTAMP)
        return mr_type_make(MR_T_TIMESTAMP);
    if (c->cand & CAND_TIMESTAMPTZ)
        return mr_type_make(MR_T_TIMESTAMPTZ);
    return mr_type_make(MR_T_STRING);
}

/* Sets column i's name: the header text, or cI when there is no header or
 * the header field is empty, not UTF-8, or repeats an earlier name. */
static int infer_name(mr_schema *s, int i, const mr_csv_field *f, mr_type t)
{
    char name[256];
    bool use = f && f->len > 0 && f->len < sizeof name && mr_utf8_valid(f->p, f->len);
    if (use) {
        memcpy(name, f->p, f->len);
        name[f->len] = '\0';
        use = memchr(name, '\0', f->len) == NULL;
        for (int k = 0; use && k < i; k++)
            if (strcmp(s->fields[k].name, name) == 0)
                use = false;
    }
    if (!use)
        snprintf(name, sizeof name, "c%d", i);
    return mr_schema_set(s, i, name, t);
}

/* Feeds up to n well-formed records of r (of ncols fields) to cols.
 * Malformed records and records of another width say nothing reliable
 * about the columns (they will be bad rows at scan time; in a sample that
 * starts mid-file they may be the tail of a record cut in two): skipped,
 * but counted against n.  Returns 1 when r has more, 0 at its end, or a
 * negative code. */
static int sample_records(mr_csv_reader *r, size_t n, infer_col *cols, int ncols,
                          const char *null_s, mr_err *err)
{
    mr_csv_record rec;
    for (size_t seen = 0; seen < n; seen++) {
        int rc = mr_csv_reader_next(r, &rec, err);
        if (rc <= 0)
            return rc;
        if (rec.error || rec.nfields != ncols)
            continue;
        for (int i = 0; i < ncols; i++) {
            const mr_csv_field *f = &rec.fields[i];
            if (null_s && !f->quoted && f->len == strlen(null_s) &&
                memcmp(f->p, null_s, f->len) == 0)
                continue;
            infer_value(&cols[i], f->p, f->len);
        }
    }
    return 1;
}

/* The later samples past the first sample_rows records: the windows of
 * core/formats/sample.h.  Where a window starts inside a quoted field is
 * told by one quote-parity pass when the file is at most INFER_PARITY_MAX
 * bytes; past that, a start that lands in a quoted field with newlines
 * reads a few misaligned records, which are malformed or of the wrong
 * width and skipped. */
#define INFER_PARITY_MAX (1ull << 30)

static int sample_spread(const char *path, const mr_csv_options *base, uint64_t done,
                         infer_col *cols, int ncols, const char *null_s, mr_err *err)
{
    mr_sample_window w[MR_SAMPLE_POINTS];
    /* a compressed stream cannot be entered past its start: its first
     * records are the whole sample */
    size_t n = mr_compression_of(path, base->compression) == MR_COMPRESSION_NONE
                   ? mr_sample_windows(path, done, w) : 0;
    if (n == 0)
        return 0;
    uint64_t offs[MR_SAMPLE_POINTS];
    bool inq[MR_SAMPLE_POINTS] = {0};
    for (size_t i = 0; i < n; i++)
        offs[i] = w[i].offset;
    uint64_t fsize;
    int rc;
    if (base->quote && mr_io_size(path, &fsize) == 0 && fsize <= INFER_PARITY_MAX &&
        (rc = mr_csv_quote_parity(path, base->quote, offs, n, inq, err)) < 0)
        return rc;
    mr_csv_options o = *base;
    o.buffer_size = 64u << 10;
    for (size_t i = 0; i < n; i++) {
        o.start_in_quote = inq[i];
        mr_csv_reader *r;
        if ((rc = mr_csv_reader_open(path, offs[i], UINT64_MAX, &o, &r, err)) < 0)
            return rc;
        rc = sample_records(r, w[i].max_records, cols, ncols, null_s, err);
        mr_csv_reader_close(r);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int mr_csv_infer_schema(const char *path, const mr_csv_options *opt, size_t sample_rows,
                        mr_schema **out, mr_err *err)
{
    *out = NULL;
    mr_csv_options o;
    if (opt)
        o = *opt;
    else
        mr_csv_options_init(&o);
    const bool header = o.header;
    o.header = false;
    o.start_in_quote = false;
    const char *null_s = o.null_string && o.null_string[0] ? o.null_string : NULL;
    if (sample_rows == 0)
        sample_rows = MR_SAMPLE_FIRST_ROWS;

    mr_csv_reader *r;
    int rc = mr_csv_reader_open(path, 0, UINT64_MAX, &o, &r, err);
    if (rc < 0)
        return rc;
    mr_csv_record rec;
    rc = mr_csv_reader_next(r, &rec, err);
    if (rc <= 0) {
        mr_csv_reader_close(r);
        return rc < 0 ? rc
                      : mr_err_set(err, MR_EINVAL,
                                   "%s: cannot infer a schema from an empty file; give a schema",
                                   path);
    }
    const int ncols = rec.nfields;
    mr_schema *s = mr_schema_create(ncols);
    infer_col *cols = calloc((size_t)ncols, sizeof *cols);
    mr_csv_field *names = NULL;
    char *name_bytes = NULL;
    if (!s || !cols) {
        rc = mr_err_set(err, MR_ENOMEM, "%s: out of memory inferring a schema", path);
        goto done;
    }
    for (int i = 0; i < ncols; i++)
        cols[i].cand = CAND_ALL;
    if (header) {
        /* Keep the names: the reader's buffers move on with the next record. */
        size_t total = 0;
        for (int i = 0; i < ncols; i++)
            total += rec.fields[i].len;
        names = malloc((size_t)ncols * sizeof *names);
        name_bytes = malloc(total + 1);
        if (!names || !name_bytes) {
            rc = mr_err_set(err, MR_ENOMEM, "%s: out of memory inferring a schema", path);
            goto done;
        }
        size_t pos = 0;
        for (int i = 0; i < ncols; i++) {
            memcpy(name_bytes + pos, rec.fields[i].p, rec.fields[i].len);
            names[i] = rec.fields[i];
            names[i].p = name_bytes + pos;
            pos += rec.fields[i].len;
        }
    } else if (!rec.error) {
        for (int i = 0; i < ncols; i++) /* the first record is data */
            if (!(null_s && !rec.fields[i].quoted && rec.fields[i].len == strlen(null_s) &&
                  memcmp(rec.fields[i].p, null_s, rec.fields[i].len) == 0))
                infer_value(&cols[i], rec.fields[i].p, rec.fields[i].len);
    }
    /* the beginning of the file, then (when there is more) samples across
     * the rest of it, so a wider value past the first rows is seen */
    rc = sample_records(r, header ? sample_rows : sample_rows - 1, cols, ncols, null_s, err);
    if (rc == 1)
        rc = sample_spread(path, &o, mr_csv_reader_bytes(r), cols, ncols, null_s, err);
    if (rc < 0)
        goto done;
    for (int i = 0; i < ncols; i++)
        if (infer_name(s, i, names ? &names[i] : NULL, infer_type(&cols[i])) < 0) {
            rc = mr_err_set(err, MR_ENOMEM, "%s: out of memory inferring a schema", path);
            goto done;
        }
    *out = s;
    s = NULL;
    rc = 0;
done:
    mr_schema_destroy(s);
    free(cols);
    free(names);
    free(name_bytes);
    mr_csv_reader_close(r);
    return rc;
}

/* ---- the hint for a value an inferred type does not hold ----------------- */

/* The narrowest type at least as wide as t (as inference orders them) that
 * also parses v: inference's own rules, started from what t held. */
static mr_type widen_for(mr_type t, const char *v, size_t n)
{
    infer_col c = {0};
    switch (t.id) {
    case MR_T_BOOL: c.cand = CAND_BOOL; break;
    case MR_T_INT32:
        c.cand = CAND_INT32 | CAND_INT64 | CAND_DECIMAL | CAND_FLOAT64;
        c.int_digits = 10;
        break;
    case MR_T_INT64:
        c.cand = CAND_INT64 | CAND_DECIMAL | CAND_FLOAT64;
        c.int_digits = 19;
        break;
    case MR_T_DECIMAL:
        c.cand = CAND_DECIMAL | CAND_FLOAT64;
        c.int_digits = t.precision - t.scale;
        c.scale = t.scale;
        break;
    case MR_T_FLOAT64: c.cand = CAND_FLOAT64; break;
    case MR_T_DATE: c.cand = CAND_DATE | CAND_TIMESTAMP | CAND_TIMESTAMPTZ; break;
    case MR_T_TIMESTAMP: c.cand = CAND_TIMESTAMP | CAND_TIMESTAMPTZ; break;
    case MR_T_TIMESTAMPTZ: c.cand = CAND_TIMESTAMPTZ; break;
    default: return mr_type_make(MR_T_STRING);
    }
    infer_value(&c, v, n);
    return infer_type(&c);
}

/* Appends "name: type" to buf at *used, quoting what YAML would misread. */
static void put_column(char *buf, size_t cap, size_t *used, const char *name, mr_type t, bool first)
{
    char tn[48];
    mr_type_name(t, tn, sizeof tn);
    bool plain = name[0] != '\0';
    for (const char *p = name; *p && plain; p++)
        plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                (*p >= '0' && *p <= '9') || *p == '_';
    bool tquote = strchr(tn, ',') != NULL;
    int w = snprintf(buf + *used, cap - *used, "%s%s%.100s%s: %s%s%s", first ? "" : ", ",
                     plain ? "" : "\"", name, plain ? "" : "\"", tquote ? "\"" : "", tn,
                     tquote ? "\"" : "");
    if (w > 0)
        *used = *used + (size_t)w < cap ? *used + (size_t)w : cap - 1;
}

const char *mr_csv_inferred_hint(const mr_schema *s, int col, const char *v, size_t n, char *buf,
                                 size_t cap)
{
    const mr_type was = s->fields[col].type;
    const mr_type fix = widen_for(was, v, n);
    char tn[48];
    mr_type_name(was, tn, sizeof tn);
    size_t used = 0;
    int w = snprintf(buf, cap,
                     "; the type %s of column '%.100s' was inferred from a sample of the first "
                     "file: give the read the schema, e.g. schema: {",
                     tn, s->fields[col].name);
    if (w < 0 || (size_t)w >= cap)
        return buf;
    used = (size_t)w;
    /* the whole schema when it is short, else the column alone */
    size_t whole = 0;
    for (int i = 0; i < s->nfields; i++)
        whole += strlen(s->fields[i].name) + 24;
    if (whole < 240 && cap - used > whole + 8) {
        for (int i = 0; i < s->nfields; i++)
            put_column(buf, cap, &used, s->fields[i].name, i == col ? fix : s->fields[i].type,
                       i == 0);
    } else {
        snprintf(buf + used, cap - used, "%s", col ? "..., " : "");
        used += strlen(buf + used);
        put_column(buf, cap, &used, s->fields[col].name, fix, true);
        if (col + 1 < s->nfields) {
            snprintf(buf + used, cap - used, ", ...");
            used += strlen(buf + used);
        }
    }
    snprintf(buf + used, cap - used, "}");
    return buf;
}

/* ---- header matching ------------------------------------------------------ */

int mr_csv_read_header(const char *path, const mr_csv_options *opt, mr_schema **names,
                       mr_err *err)
{
    *names = NULL;
    mr_csv_options o;
    if (opt)
        o = *opt;
    else
        mr_csv_options_init(&o);
    o.header = false;     /* the header is the record we want */
    o.buffer_size = 64u << 10; /* a header is short; the reader grows for a long one */
    mr_csv_reader *r;
    int rc = mr_csv_reader_open(path, 0, UINT64_MAX, &o, &r, err);
    if (rc < 0)
        return rc;
    mr_csv_record rec;
    rc = mr_csv_reader_next(r, &rec, err);
    if (rc <= 0) {
        mr_csv_reader_close(r);
        return rc; /* 0: an empty file, no header and no rows */
    }
    if (rec.error) {
        mr_csv_reader_close(r);
        return mr_err_set(err, MR_EPARSE, "%s: the header line is malformed: %s", path,
                          rec.error);
    }
    mr_schema *s = mr_schema_create(rec.nfields);
    if (!s) {
        mr_csv_reader_close(r);
        return mr_err_set(err, MR_ENOMEM, "%s: out of memory reading the header", path);
    }
    for (int i = 0; i < rec.nfields; i++) {
        mr_csv_field f = rec.fields[i];
        /* a UTF-8 byte order mark is not part of the first name */
        if (i == 0 && f.len >= 3 && memcmp(f.p, "\xEF\xBB\xBF", 3) == 0) {
            f.p += 3;
            f.len -= 3;
        }
        if (infer_name(s, i, &f, mr_type_make(MR_T_STRING)) < 0) {
            mr_schema_destroy(s);
            mr_csv_reader_close(r);
            return mr_err_set(err, MR_ENOMEM, "%s: out of memory reading the header", path);
        }
    }
    mr_csv_reader_close(r);
    *names = s;
    return 0;
}

int mr_csv_header_map(const mr_schema *header, const mr_schema *schema, const char *path,
                      int *map, mr_err *err)
{
    for (int i = 0; i < schema->nfields; i++) {
        const char *want = schema->fields[i].name;
        int found = -1;
        for (int k = 0; k < header->nfields; k++) {
            const char *h = header->fields[k].name;
            if (strcmp(h, want) == 0) {
                found = k;
                break;
            }
            if (found < 0 && strcasecmp(h, want) == 0)
                found = k;
        }
        if (found < 0) {
            char have[512];
            size_t used = 0;
            have[0] = '\0';
            for (int k = 0; k < header->nfields && used + 8 < sizeof have; k++) {
                int w = snprintf(have + used, sizeof have - used, "%s%s", k ? ", " : "",
                                 header->fields[k].name);
                used = w < 0 ? used : used + (size_t)w;
            }
            if (used >= sizeof have)
                memcpy(have + sizeof have - 4, "...", 4);
            return mr_err_set(err, MR_ENOTFOUND,
                              "%s: the header has no column '%s' (it has: %s)", path, want, have);
        }
        map[i] = found;
    }
    return 0;
}
