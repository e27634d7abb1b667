/* jsonl.c - JSON Lines: the one-object-per-line parser, the split line
 * reader and schema inference (see jsonl.h for the rules).
 *
 * Parser.  A single left-to-right pass over the line with an index; every
 * top-level member becomes an mr_jsonl_field.  Strings are scanned in a
 * tight loop until a quote, a backslash or a control byte; a string with no
 * escape is returned as a pointer into the line, one with escapes is decoded
 * into the scratch buffer.  Decoding never makes a string longer than its
 * source text, so a scratch of the line's length always suffices: it is
 * sized once per line (growing only for a longer line than ever before),
 * and pointers into it stay valid for the whole line.  Nested values are
 * validated by a recursive skip bounded by MR_JSONL_MAX_DEPTH and returned
 * as raw text.  UTF-8 is checked once over the whole line up front.
 *
 * Reader.  A buffer of MR_JSONL_BUFFER_SIZE bytes refilled with read(2);
 * lines are found with memchr.  A line longer than the buffer makes it grow
 * by doubling up to MR_JSONL_MAX_LINE.  Lines are numbered as they are read;
 * a split at offset > 0 learns how many lines precede it only when asked
 * (an error message), by counting newlines once.
 */
#include "core/jsonl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/csv.h"
#include "core/formats/sample.h"
#include "core/formats/split.h"
#include "core/io.h"
#include "core/utf8.h"

struct mr_jsonl_parser {
    mr_jsonl_field *fields;
    size_t fcap;
    char *scratch;
    size_t scap;
};

typedef struct jctx {
    const char *s;
    size_t n, i;
    char *scratch;
    size_t sp;
    mr_err *err;
} jctx;

mr_jsonl_parser *mr_jsonl_parser_create(void)
{
    return calloc(1, sizeof(mr_jsonl_parser));
}

void mr_jsonl_parser_destroy(mr_jsonl_parser *p)
{
    if (!p)
        return;
    free(p->fields);
    free(p->scratch);
    free(p);
}

const char *mr_json_kind_name(int kind)
{
    switch (kind) {
    case MR_JSON_NULL: return "null";
    case MR_JSON_FALSE:
    case MR_JSON_TRUE: return "boolean";
    case MR_JSON_NUMBER: return "number";
    case MR_JSON_STRING: return "string";
    case MR_JSON_OBJECT: return "object";
    case MR_JSON_ARRAY: return "array";
    default: return "value";
    }
}

static int jfail(jctx *c, size_t at, const char *what)
{
    mr_err_set(c->err, MR_EPARSE, "invalid JSON: %s at byte %zu", what, at + 1);
    if (c->err)
        c->err->offset = (int)(at > (size_t)INT32_MAX ? INT32_MAX : at);
    return MR_EPARSE;
}

static inline void skip_ws(jctx *c)
{
    while (c->i < c->n) {
        char ch = c->s[c->i];
        if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r')
            break;
        c->i++;
    }
}

static int hex4(jctx *c, size_t at, unsigned *out)
{
    if (at + 4 > c->n)
        return jfail(c, at, "truncated \\u escape");
    unsigned v = 0;
    for (size_t k = 0; k < 4; k++) {
        char h = c->s[at + k];
        v <<= 4;
        if (h >= '0' && h <= '9')
            v |= (unsigned)(h - '0');
        else if (h >= 'a' && h <= 'f')
            v |= (unsigned)(h - 'a' + 10);
        else if (h >= 'A' && h <= 'F')
            v |= (unsigned)(h - 'A' + 10);
        else
            return jfail(c, at, "bad hex digit in \\u escape");
    }
    *out = v;
    return 0;
}

/* Parses the string at c->i (a '"').  With out != NULL returns the
 * unescaped bytes; with out == NULL only validates (nested values).  Leaves
 * c->i after the closing quote. */
static int parse_string(jctx *c, const char **out, uint32_t *len)
{
    size_t start = ++c->i;
    const char *s = c->s;
    size_t i = start;
    while (i < c->n) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\' || ch < 0x20)
            break;
        i++;
    }
    if (i >= c->n)
        return jfail(c, start - 1, "unterminated string");
    if (s[i] == '"') {
        if (out) {
            *out = s + start;
            *len = (uint32_t)(i - start);
        }
        c->i = i + 1;
        return 0;
    }
    char *o = out ? c->scratch + c->sp : NULL;
    size_t olen = 0;
    if (o) {
        memcpy(o, s + start, i - start);
        olen = i - start;
    }
    while (i < c->n) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"') {
            if (out) {
                *out = o;
                *len = (uint32_t)olen;
                c->sp += olen;
            }
            c->i = i + 1;
            return 0;
        }
        if (ch < 0x20)
            return jfail(c, i, "control character in string (escape it)");
        if (ch != '\\') {
            if (o)
                o[olen] = (char)ch;
            olen++;
            i++;
            continue;
        }
        if (i + 1 >= c->n)
            return jfail(c, i, "unterminated string");
        char e = s[i + 1], d;
        switch (e) {
        case '"': d = '"'; break;
        case '\\': d = '\\'; break;
        case '/': d = '/'; break;
        case 'b': d = '\b'; break;
        case 'f': d = '\f'; break;
        case 'n': d = '\n'; break;
        case 'r': d = '\r'; break;
        case 't': d = '\t'; break;
        case 'u': {
            unsigned cp;
            if (hex4(c, i + 2, &cp) < 0)
                return MR_EPARSE;
            size_t used = 6;
            if (cp >= 0xdc00 && cp <= 0xdfff)
                return jfail(c, i, "lone low surrogate in \\u escape");
            if (cp >= 0xd800 && cp <= 0xdbff) {
                unsigned lo;
                if (i + 8 > c->n || s[i + 6] != '\\' || s[i + 7] != 'u')
                    return jfail(c, i, "high surrogate not followed by a low one");
                if (hex4(c, i + 8, &lo) < 0)
                    return MR_EPARSE;
                if (lo < 0xdc00 || lo > 0xdfff)
                    return jfail(c, i, "high surrogate not followed by a low one");
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                used = 12;
            }
            if (cp == 0)
                return jfail(c, i, "\\u0000 is not allowed in text");
            if (o)
                olen += mr_utf8_encode(o + olen, cp);
            i += used;
            continue;
        }
        default: return jfail(c, i, "unknown escape");
        }
        if (o)
            o[olen] = d;
        olen++;
        i += 2;
    }
    return jfail(c, start - 1, "unterminated string");
}

static inline bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }

static int parse_number(jctx *c, bool *is_int)
{
    const char *s = c->s;
    size_t i = c->i, st = i;
    if (i < c->n && s[i] == '-')
        i++;
    if (i >= c->n || !is_digit(s[i]))
        return jfail(c, st, "bad number");
    if (s[i] == '0') {
        i++;
        if (i < c->n && is_digit(s[i]))
            return jfail(c, st, "leading zero in number");
    } else {
        while (i < c->n && is_digit(s[i]))
            i++;
    }
    *is_int = true;
    if (i < c->n && s[i] == '.') {
        i++;
        if (i >= c->n || !is_digit(s[i]))
            return jfail(c, st, "bad number");
        while (i < c->n && is_digit(s[i]))
            i++;
        *is_int = false;
    }
    if (i < c->n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < c->n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= c->n || !is_digit(s[i]))
            return jfail(c, st, "bad number");
        while (i < c->n && is_digit(s[i]))
            i++;
        *is_int = false;
    }
    c->i = i;
    return 0;
}

static int literal(jctx *c, const char *word)
{
    size_t n = strlen(word);
    if (c->i + n > c->n || memcmp(c->s + c->i, word, n) != 0)
        return jfail(c, c->i, "unexpected character");
    c->i += n;
    return 0;
}

/* Validates and skips any value at c->i; depth counts enclosing levels. */
static int skip_value(jctx *c, int depth)
{
    if (c->i >= c->n)
        return jfail(c, c->i, "missing value");
    char ch = c->s[c->i];
    bool b;
    switch (ch) {
    case '"': return parse_string(c, NULL, NULL);
    case 't': return literal(c, "true");
    case 'f': return literal(c, "false");
    case 'n': return literal(c, "null");
    case '{':
    case '[': {
        if (depth >= MR_JSONL_MAX_DEPTH)
            return jfail(c, c->i, "nesting deeper than 64 levels");
        const char close = ch == '{' ? '}' : ']';
        c->i++;
        skip_ws(c);
        if (c->i < c->n && c->s[c->i] == close) {
            c->i++;
            return 0;
        }
        for (;;) {
            if (ch == '{') {
                if (c->i >= c->n || c->s[c->i] != '"')
                    return jfail(c, c->i, "expected a string key");
                if (parse_string(c, NULL, NULL) < 0)
                    return MR_EPARSE;
                skip_ws(c);
                if (c->i >= c->n || c->s[c->i] != ':')
                    return jfail(c, c->i, "expected ':' after the key");
                c->i++;
                skip_ws(c);
            }
            if (skip_value(c, depth + 1) < 0)
                return MR_EPARSE;
            skip_ws(c);
            if (c->i < c->n && c->s[c->i] == ',') {
                c->i++;
                skip_ws(c);
                continue;
            }
            if (c->i < c->n && c->s[c->i] == close) {
                c->i++;
                return 0;
            }
            return jfail(c, c->i, ch == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
    default:
        if (ch == '-' || is_digit(ch))
            return parse_number(c, &b);
        return jfail(c, c->i, "unexpected character");
    }
}

int mr_jsonl_parse(mr_jsonl_parser *p, const char *line, size_t n, const mr_jsonl_field **fields,
                   mr_err *err)
{
    *fields = NULL;
    if (n > UINT32_MAX)
        return mr_err_set(err, MR_ETOOBIG, "line longer than 4 GiB");
    if (n > p->scap) {
        size_t ncap = p->scap ? p->scap : 256;
        while (ncap < n)
            ncap *= 2;
        char *sc = realloc(p->scratch, ncap);
        if (!sc)
            return mr_err_oom(err, NULL);
        p->scratch = sc;
        p->scap = ncap;
    }
    jctx c = {line, n, 0, p->scratch, 0, err};
    size_t bad = mr_utf8_invalid_at(line, n);
    if (bad < n)
        return jfail(&c, bad, "invalid UTF-8");
    skip_ws(&c);
    if (c.i >= n || line[c.i] != '{')
        return jfail(&c, c.i, "a line must hold one JSON object");
    c.i++;
    skip_ws(&c);
    size_t nf = 0;
    if (c.i < n && line[c.i] == '}') {
        c.i++;
    } else {
        for (;;) {
            if (c.i >= n || line[c.i] != '"')
                return jfail(&c, c.i, "expected a string key");
            if (nf == p->fcap) {
                size_t ncap = p->fcap ? p->fcap * 2 : 32;
                mr_jsonl_field *f = realloc(p->fields, ncap * sizeof *f);
                if (!f)
                    return mr_err_oom(err, NULL);
                p->fields = f;
                p->fcap = ncap;
            }
            mr_jsonl_field *f = &p->fields[nf];
            if (parse_string(&c, &f->key, &f->key_len) < 0)
                return MR_EPARSE;
            skip_ws(&c);
            if (c.i >= n || line[c.i] != ':')
                return jfail(&c, c.i, "expected ':' after the key");
            c.i++;
            skip_ws(&c);
            if (c.i >= n)
                return jfail(&c, c.i, "missing value");
            size_t vs = c.i;
            char ch = line[c.i];
            f->is_integer = false;
            int rc;
            if (ch == '"') {
                f->kind = MR_JSON_STRING;
                rc = parse_string(&c, &f->val, &f->val_len);
            } else {
                f->kind = ch == '{'   ? MR_JSON_OBJECT
                          : ch == '[' ? MR_JSON_ARRAY
                          : ch == 't' ? MR_JSON_TRUE
                          : ch == 'f' ? MR_JSON_FALSE
                          : ch == 'n' ? MR_JSON_NULL
                                      : MR_JSON_NUMBER;
                if (f->kind == MR_JSON_NUMBER && ch != '-' && !is_digit(ch))
                    return jfail(&c, c.i, "unexpected character");
                if (f->kind == MR_JSON_NUMBER)
                    rc = parse_number(&c, &f->is_integer);
                else
                    rc = skip_value(&c, 0);
                f->val = line + vs;
                f->val_len = (uint32_t)(c.i - vs);
            }
            if (rc < 0)
                return rc;
            nf++;
            skip_ws(&c);
            if (c.i < n && line[c.i] == ',') {
                c.i++;
                skip_ws(&c);
                continue;
            }
            if (c.i < n && line[c.i] == '}') {
                c.i++;
                break;
            }
            return jfail(&c, c.i, "expected ',' or '}'");
        }
    }
    skip_ws(&c);
    if (c.i != n)
        return jfail(&c, c.i, "text after the object");
    *fields = p->fields;
    return (int)nf;
}

/* ---- Line reader --------------------------------------------------------- */

struct mr_jsonl_reader {
    mr_split sp;       /* the file, its buffer and the split's end */
    uint64_t start;    /* offset of the split's first line */
    uint64_t consumed; /* offset just past the last line returned */
    int64_t rel_line;  /* physical lines read in this split */
    int64_t base_line; /* lines before the split; -2 not yet counted, -1 unknown */
};

/* Moves the unread bytes to the front and reads more.  Returns 1 when bytes
 * were added, 0 at end of file, or a negative code. */
static int reader_fill(mr_jsonl_reader *r, mr_err *err)
{
    mr_split *sp = &r->sp;
    if (sp->eof)
        return 0;
    mr_split_compact(sp);
    if (sp->end == sp->cap && sp->cap > MR_JSONL_MAX_LINE)
        return mr_err_set(err, MR_ETOOBIG, "%s: line at byte %llu is longer than %u bytes",
                          sp->path, (unsigned long long)sp->buf_off, MR_JSONL_MAX_LINE);
    long got = mr_split_read(sp, err);
    if (got < 0)
        return (int)got;
    return got > 0;
}

void mr_jsonl_reader_close(mr_jsonl_reader *r)
{
    if (!r)
        return;
    mr_split_close(&r->sp);
    free(r);
}

int mr_jsonl_reader_open(const char *path, uint64_t offset, uint64_t length,
                         mr_jsonl_reader **out, mr_err *err)
{
    return mr_jsonl_reader_open_c(path, offset, length, MR_COMPRESSION_AUTO, out, err);
}

int mr_jsonl_reader_open_c(const char *path, uint64_t offset, uint64_t length, int compression,
                           mr_jsonl_reader **out, mr_err *err)
{
    *out = NULL;
    mr_jsonl_reader *r = calloc(1, sizeof *r);
    if (!r)
        return mr_err_oom(err, NULL);
    r->sp.f.fd = -1;
    /* A small file or the tail of one needs no full-size buffer. */
    uint64_t fsize;
    size_t cap = MR_JSONL_BUFFER_SIZE;
    if (mr_io_size(path, &fsize) == 0) {
        uint64_t left = fsize > offset ? fsize - offset : 0;
        if (left + 2 < cap)
            cap = left + 2 < 4096 ? 4096 : (size_t)left + 2;
    }
    int rc = mr_split_open(&r->sp, path, offset, length, cap, compression, err);
    if (rc == 0 && offset > 0)
        rc = mr_split_resync(&r->sp, '\0', false, err);
    if (rc < 0) {
        mr_jsonl_reader_close(r);
        return rc;
    }
    r->base_line = offset == 0 ? 0 : -2;
    r->start = r->consumed = r->sp.buf_off + r->sp.beg;
    *out = r;
    return 0;
}

int mr_jsonl_reader_next(mr_jsonl_reader *r, const char **line, size_t *n, uint64_t *off,
                         mr_err *err)
{
    mr_split *sp = &r->sp;
    for (;;) {
        if (sp->buf_off + sp->beg >= sp->split_end)
            return 0;
        char *nl = memchr(sp->buf + sp->beg, '\n', sp->end - sp->beg);
        size_t ls = sp->beg, le;
        if (nl) {
            le = (size_t)(nl - sp->buf);
            sp->beg = le + 1;
        } else {
            int rc = reader_fill(r, err);
            if (rc < 0)
                return rc;
            if (rc > 0)
                continue;
            if (sp->beg == sp->end)
                return 0;
            ls = sp->beg;
            le = sp->end;
            sp->beg = sp->end;
        }
        r->rel_line++;
        r->consumed = sp->buf_off + sp->beg;
        if (le - ls > MR_JSONL_MAX_LINE)
            return mr_err_set(err, MR_ETOOBIG, "%s: line at byte %llu is longer than %u bytes",
                              sp->path, (unsigned long long)(sp->buf_off + ls), MR_JSONL_MAX_LINE);
        if (le > ls && sp->buf[le - 1] == '\r')
            le--;
        size_t k = ls;
        while (k < le && (sp->buf[k] == ' ' || sp->buf[k] == '\t' || sp->buf[k] == '\r'))
            k++;
        if (k == le)
            continue; /* blank line */
        *line = sp->buf + ls;
        *n = le - ls;
        *off = sp->buf_off + ls;
        return 1;
    }
}

int64_t mr_jsonl_reader_line(mr_jsonl_reader *r)
{
    if (r->base_line == -2)
        r->base_line = mr_split_lines_before(&r->sp, r->start);
    return r->base_line < 0 ? -1 : r->base_line + r->rel_line;
}

const char *mr_jsonl_reader_where(mr_jsonl_reader *r, char *buf, size_t cap)
{
    int64_t line = mr_jsonl_reader_line(r);
    if (line >= 0)
        snprintf(buf, cap, "%s:%lld", r->sp.path, (long long)line);
    else
        snprintf(buf, cap, "%s: line at byte %llu", r->sp.path, (unsigned long long)r->consumed);
    return buf;
}

uint64_t mr_jsonl_reader_bytes(const mr_jsonl_reader *r)
{
    return r ? r->consumed - r->start : 0;
}

/* ---- Inference ----------------------------------------------------------- */

enum {
    SEEN_BOOL = 1,
    SEEN_INT32 = 2,
    SEEN_INT64 = 4,
    SEEN_FLOAT = 8,
    SEEN_STRING = 16,
    SEEN_NESTED = 32,
    STR_NOT_DATE = 64,
    STR_NOT_TS = 128,
    STR_NOT_TSTZ = 256, /* not a timestamp with or without an offset */
};

typedef struct infer_col {
    char *name;
    size_t len;
    unsigned seen;
} infer_col;

static mr_type infer_type(unsigned f)
{
    unsigned kinds = f & (SEEN_BOOL | SEEN_INT32 | SEEN_INT64 | SEEN_FLOAT | SEEN_STRING |
                          SEEN_NESTED);
    if (kinds == SEEN_BOOL)
        return mr_type_make(MR_T_BOOL);
    if (kinds == SEEN_INT32)
        return mr_type_make(MR_T_INT32);
    if (kinds && !(kinds & ~(SEEN_INT32 | SEEN_INT64)))
        return mr_type_make(MR_T_INT64);
    if (kinds && !(kinds & ~(SEEN_INT32 | SEEN_INT64 | SEEN_FLOAT)))
        return mr_type_make(MR_T_FLOAT64);
    if (kinds == SEEN_STRING && !(f & STR_NOT_DATE))
        return mr_type_make(MR_T_DATE);
    if (kinds == SEEN_STRING && !(f & STR_NOT_TS))
        return mr_type_make(MR_T_TIMESTAMP);
    if (kinds == SEEN_STRING && !(f & STR_NOT_TSTZ))
        return mr_type_make(MR_T_TIMESTAMPTZ);
    return mr_type_make(MR_T_STRING);
}

static unsigned classify(const mr_jsonl_field *f)
{
    switch (f->kind) {
    case MR_JSON_TRUE:
    case MR_JSON_FALSE: return SEEN_BOOL;
    case MR_JSON_NUMBER: {
        if (!f->is_integer)
            return SEEN_FLOAT;
        int64_t v;
        if (mr_parse_int64(f->val, f->val_len, &v, NULL) < 0)
            return SEEN_FLOAT;
        return v >= INT32_MIN && v <= INT32_MAX ? SEEN_INT32 : SEEN_INT64;
    }
    case MR_JSON_STRING: {
        unsigned r = SEEN_STRING;
        int32_t d;
        int64_t t;
        if (mr_parse_date(f->val, f->val_len, &d, NULL) < 0)
            r |= STR_NOT_DATE;
        if (mr_parse_timestamp(f->val, f->val_len, &t, NULL) < 0)
            r |= STR_NOT_TS;
        if (mr_parse_timestamptz(f->val, f->val_len, &t, NULL, NULL) < 0)
            r |= STR_NOT_TSTZ;
        return r;
    }
    case MR_JSON_OBJECT:
    case MR_JSON_ARRAY: return SEEN_NESTED;
    default: return 0;
    }
}

/* The columns seen so far, in first-seen order. */
typedef struct infer_set {
    infer_col *cols;
    size_t n, cap;
} infer_set;

/* Feeds up to n JSON objects of r to set (lines that do not parse are
 * skipped without counting: in a sample that starts mid-file, none do, as
 * every split starts at a line start).  1 when r has more, 0 at its end,
 * or a negative code. */
static int sample_lines(mr_jsonl_reader *r, mr_jsonl_parser *p, size_t n, infer_set *set,
                        mr_err *err)
{
    for (size_t row = 0; row < n;) {
        const char *line;
        size_t len;
        uint64_t off;
        int rc = mr_jsonl_reader_next(r, &line, &len, &off, err);
        if (rc <= 0)
            return rc;
        const mr_jsonl_field *f;
        int nf = mr_jsonl_parse(p, line, len, &f, NULL);
        if (nf < 0)
            continue;
        row++;
        for (int i = 0; i < nf; i++) {
            size_t c = 0;
            while (c < set->n && !(set->cols[c].len == f[i].key_len &&
                                   memcmp(set->cols[c].name, f[i].key, f[i].key_len) == 0))
                c++;
            if (c == set->n) {
                if (set->n == set->cap) {
                    size_t nc = set->cap ? set->cap * 2 : 16;
                    infer_col *g = realloc(set->cols, nc * sizeof *g);
                    if (!g)
                        return mr_err_oom(err, NULL);
                    set->cols = g;
                    set->cap = nc;
                }
                set->cols[c].name = strndup(f[i].key, f[i].key_len);
                if (!set->cols[c].name)
                    return mr_err_oom(err, NULL);
                set->cols[c].len = f[i].key_len;
                set->cols[c].seen = 0;
                set->n++;
            }
            set->cols[c].seen |= classify(&f[i]);
        }
    }
    return 1;
}

/* Past the first sample_rows lines, the windows of core/formats/sample.h,
 * so a wider value later in the file is seen.  Keys met only there become
 * columns too. */
static int sample_spread(const char *path, uint64_t done, mr_jsonl_parser *p, infer_set *set,
                         mr_err *err)
{
    mr_sample_window w[MR_SAMPLE_POINTS];
    size_t n = mr_sample_windows(path, done, w);
    for (size_t i = 0; i < n; i++) {
        mr_jsonl_reader *r;
        int rc = mr_jsonl_reader_open(path, w[i].offset, UINT64_MAX, &r, err);
        if (rc < 0)
            return rc;
        rc = sample_lines(r, p, w[i].max_records, set, err);
        mr_jsonl_reader_close(r);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int mr_jsonl_infer_schema(const char *path, size_t sample_rows, mr_schema **out, mr_err *err)
{
    return mr_jsonl_infer_schema_c(path, MR_COMPRESSION_AUTO, sample_rows, out, err);
}

int mr_jsonl_infer_schema_c(const char *path, int compression, size_t sample_rows,
                            mr_schema **out, mr_err *err)
{
    *out = NULL;
    if (sample_rows == 0)
        sample_rows = MR_SAMPLE_FIRST_ROWS;
    mr_jsonl_reader *r;
    int rc = mr_jsonl_reader_open_c(path, 0, UINT64_MAX, compression, &r, err);
    if (rc < 0)
        return rc;
    mr_jsonl_parser *p = mr_jsonl_parser_create();
    infer_set set = {0};
    infer_col *cols = NULL;
    size_t ncols = 0;
    if (!p) {
        rc = mr_err_oom(err, NULL);
        goto done;
    }
    rc = sample_lines(r, p, sample_rows, &set, err);
    /* a compressed stream cannot be entered past its start: its first
     * lines are the whole sample */
    if (rc == 1 && mr_compression_of(path, compression) == MR_COMPRESSION_NONE)
        rc = sample_spread(path, mr_jsonl_reader_bytes(r), p, &set, err);
    cols = set.cols;
    ncols = set.n;
    if (rc < 0)
        goto done;
    if (ncols == 0) {
        rc = mr_err_set(err, MR_EPARSE, "%s: no JSON object with a key in the first %zu lines",
                        path, sample_rows);
        goto done;
    }
    mr_schema *s = mr_schema_create((int)ncols);
    if (!s) {
        rc = mr_err_oom(err, NULL);
        goto done;
    }
    for (size_t c = 0; c < ncols; c++)
        if (mr_schema_set(s, (int)c, cols[c].name, infer_type(cols[c].seen)) < 0) {
            mr_schema_destroy(s);
            rc = mr_err_oom(err, NULL);
            goto done;
        }
    *out = s;
    rc = 0;
done:
    for (size_t c = 0; c < ncols; c++)
        free(cols[c].name);
    free(cols);
    mr_jsonl_parser_destroy(p);
    mr_jsonl_reader_close(r);
    return rc;
}
