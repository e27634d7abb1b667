/* expr_json.c - JSON in text columns: json_extract_path_text,
 * json_array_length and json_typeof, as PostgreSQL's functions on its json
 * type.
 *
 * Each row's text is read once by yajl's event parser (Debian's libyajl),
 * which checks the whole text against RFC 8259 as PostgreSQL's json input
 * does (text that is not valid JSON gives NULL), hands numbers over as
 * their source text, and lets a nested value be cut out of the source
 * verbatim (yajl_get_bytes_consumed at its first and last byte), which is
 * what PostgreSQL returns for a json object or array.  No tree is built:
 * the walk keeps one frame per level of the path, so a row costs one pass
 * and no allocation beyond yajl's own.  Why yajl rather than cJSON or
 * json-c: see docs/architecture.md.
 *
 * Path rules (PostgreSQL's): an element names an object's key or, for an
 * array, an index written as an integer (leading blanks and a sign
 * allowed), counted from 0, negative from the end; with duplicate keys the
 * last value at the path's end wins.  A JSON null at the path gives NULL.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "core/expr_int.h"

enum { JK_NONE, JK_NULL, JK_BOOL, JK_NUMBER, JK_STRING, JK_OBJECT, JK_ARRAY };

typedef struct jpath {
    const char *s;
    size_t n;
    bool isidx; /* s reads as an integer */
    long long idx;
} jpath;

typedef struct jframe {
    bool array, on, key; /* on: this container is on the path; key: its current key matches */
    long long idx;       /* arrays: index of the next element */
} jframe;

typedef struct jwalk {
    yajl_handle h;
    const jpath *path;
    int np;
    jframe *fr;      /* fr[1..np] */
    int depth;       /* containers open */
    int open;        /* depth of the found container while it is open, else 0 */
    /* what was found at the path */
    int kind;
    size_t start, end; /* a found container: its bytes in the source */
    long long count;   /* a found array: its elements */
    char *buf;         /* a found scalar's text */
    size_t blen, bcap;
    bool nul;          /* a found string holds U+0000 */
} jwalk;

/* Returns 2 when the value that starts now is the path's end, 1 when it is
 * a container on the way there, else 0; counts a found array's elements. */
static int at_value(jwalk *w)
{
    int d = w->depth;
    if (w->open && d == w->open)
        w->count++;
    if (d == 0)
        return w->np == 0 ? 2 : 1;
    if (d > w->np)
        return 0;
    jframe *f = &w->fr[d];
    bool hit;
    if (f->array) {
        hit = f->on && w->path[d - 1].isidx && f->idx == w->path[d - 1].idx;
        f->idx++;
    } else {
        hit = f->on && f->key;
    }
    return !hit ? 0 : d == w->np ? 2 : 1;
}

static int found_text(jwalk *w, int kind, const char *s, size_t n)
{
    if (at_value(w) != 2)
        return 1;
    if (n > w->bcap) {
        size_t cap = n > 2 * w->bcap ? n : 2 * w->bcap;
        char *b = realloc(w->buf, cap);
        if (!b)
            return 0; /* cancels the parse: reported as out of memory */
        w->buf = b;
        w->bcap = cap;
    }
    memcpy(w->buf, s, n);
    w->blen = n;
    w->kind = kind;
    w->nul = kind == JK_STRING && memchr(s, '\0', n);
    return 1;
}

static int cb_null(void *c)
{
    jwalk *w = c;
    if (at_value(w) == 2)
        w->kind = JK_NULL;
    return 1;
}

static int cb_bool(void *c, int b)
{
    return found_text(c, JK_BOOL, b ? "true" : "false", b ? 4 : 5);
}

static int cb_number(void *c, const char *s, size_t n)
{
    return found_text(c, JK_NUMBER, s, n);
}

static int cb_string(void *c, const unsigned char *s, size_t n)
{
    return found_text(c, JK_STRING, (const char *)s, n);
}

static int open_container(jwalk *w, bool array)
{
    int r = at_value(w);
    w->depth++;
    if (w->depth <= w->np)
        w->fr[w->depth] = (jframe){array, r == 1, false, 0};
    if (r == 2) {
        w->kind = array ? JK_ARRAY : JK_OBJECT;
        w->start = yajl_get_bytes_consumed(w->h) - 1;
        w->open = w->depth;
        w->count = 0;
    }
    return 1;
}

static int close_container(jwalk *w)
{
    if (w->open == w->depth) {
        w->end = yajl_get_bytes_consumed(w->h);
        w->open = 0;
    }
    w->depth--;
    return 1;
}

static int cb_start_map(void *c) { return open_container(c, false); }
static int cb_start_array(void *c) { return open_container(c, true); }
static int cb_end(void *c) { return close_container(c); }

static int cb_key(void *c, const unsigned char *s, size_t n)
{
    jwalk *w = c;
    if (w->depth <= w->np) {
        jframe *f = &w->fr[w->depth];
        const jpath *p = &w->path[w->depth - 1];
        f->key = f->on && p->n == n && memcmp(p->s, s, n) == 0;
    }
    return 1;
}

static const yajl_callbacks callbacks = {
    cb_null, cb_bool, NULL, NULL, cb_number, cb_string,
    cb_start_map, cb_key, cb_end, cb_start_array, cb_end,
};

/* Walks doc[0..len) to path[0..np): 1 when the text is valid JSON (w->kind
 * tells what was found, JK_NONE for nothing), 0 when it is not, or
 * MR_ENOMEM. */
static int walk(jwalk *w, const char *doc, size_t len, const jpath *path, int np)
{
    w->path = path;
    w->np = np;
    w->depth = w->open = 0;
    w->kind = JK_NONE;
    w->count = 0;
    if (!(w->h = yajl_alloc(&callbacks, NULL, w)))
        return MR_ENOMEM;
    yajl_status st = yajl_parse(w->h, (const unsigned char *)doc, len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(w->h);
    yajl_free(w->h);
    w->h = NULL;
    if (st == yajl_status_client_canceled)
        return MR_ENOMEM;
    return st == yajl_status_ok;
}

/* Per-node scratch: the walk and the row's path. */
typedef struct jstate {
    jwalk w;
    jpath *path;
    int cap;
} jstate;

static void jstate_free(void *p)
{
    jstate *s = p;
    free(s->w.buf);
    free(s->w.fr);
    free(s->path);
    free(s);
}

static jstate *state(expr__node *n)
{
    if (n->aux)
        return n->aux;
    jstate *s = calloc(1, sizeof *s);
    int np = n->nkids > 1 ? n->nkids - 1 : 0;
    if (!s || !(s->w.fr = calloc((size_t)np + 1, sizeof *s->w.fr)) ||
        !(s->path = calloc((size_t)np + 1, sizeof *s->path))) {
        if (s)
            jstate_free(s);
        return NULL;
    }
    s->cap = np;
    n->aux = s;
    n->aux_free = jstate_free;
    return s;
}

/* An array index as PostgreSQL reads one (strtol: leading blanks, a sign,
 * digits, nothing after). */
static bool read_index(const char *s, size_t n, long long *out)
{
    size_t i = 0;
    while (i < n && isspace((unsigned char)s[i]))
        i++;
    bool neg = false;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    if (i == n)
        return false;
    long long v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (INT32_MAX - 9) / 10)
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = neg ? -v : v;
    return true;
}

static int bind_json(expr__node *n, mr_type result, mr_err *err)
{
    for (int i = 0; i < n->nkids; i++) {
        int rc = expr__need_type(n, i, MR_T_STRING, err);
        if (rc < 0)
            return rc;
    }
    n->type = result;
    return 0;
}

int expr__bind_json_path(expr__node *n, mr_err *err)
{
    return bind_json(n, mr_type_make(MR_T_STRING), err);
}

int expr__bind_json_length(expr__node *n, mr_err *err)
{
    return bind_json(n, mr_type_make(MR_T_INT32), err);
}

int expr__bind_json_typeof(expr__node *n, mr_err *err)
{
    return bind_json(n, mr_type_make(MR_T_STRING), err);
}

static void set_null(mr_column *o, size_t i)
{
    if (o->type.id == MR_T_STRING)
        mr_column_set_str_null(o, i);
    else
        mr_column_set_valid(o, i, false);
}

/* Walks row i's document to its path: 1 when the document is valid JSON
 * (s->w tells what is at the path), 0 when it is not or an argument is
 * NULL, or MR_ENOMEM. */
static int find(expr__node *n, jstate *s, size_t i, const char **doc, size_t *len)
{
    int np = n->nkids - 1;
    for (int k = 0; k < n->nkids; k++)
        if (!mr_column_is_valid(n->parts[k], i))
            return 0;
    *doc = mr_column_str(n->parts[0], i, len);
    for (int k = 0; k < np; k++) {
        jpath *p = &s->path[k];
        p->s = mr_column_str(n->parts[k + 1], i, &p->n);
        p->isidx = read_index(p->s, p->n, &p->idx);
    }
    for (int k = 0; k < np; k++) {
        jpath *p = &s->path[k];
        if (!p->isidx || p->idx >= 0)
            continue;
        /* from the end: the length of the array the prefix leads to */
        int rc = walk(&s->w, *doc, *len, s->path, k);
        if (rc <= 0)
            return rc;
        if (s->w.kind != JK_ARRAY || s->w.count + p->idx < 0)
            p->isidx = false;
        else
            p->idx += s->w.count;
    }
    return walk(&s->w, *doc, *len, s->path, np);
}

int expr__eval_json_path(expr__node *n, size_t rows, mr_err *err)
{
    jstate *s = state(n);
    mr_column *o = &n->out;
    if (!s)
        return expr__oom(err);
    for (size_t i = 0; i < rows; i++) {
        const char *doc;
        size_t len;
        int rc = find(n, s, i, &doc, &len);
        if (rc < 0)
            return expr__oom(err);
        if (rc == 0 || s->w.kind == JK_NONE || s->w.kind == JK_NULL || s->w.nul) {
            set_null(o, i);
            continue;
        }
        bool nested = s->w.kind == JK_OBJECT || s->w.kind == JK_ARRAY;
        if (mr_column_set_str(o, i, nested ? doc + s->w.start : s->w.buf,
                              nested ? s->w.end - s->w.start : s->w.blen) < 0)
            return expr__oom(err);
    }
    return 0;
}

int expr__eval_json_length(expr__node *n, size_t rows, mr_err *err)
{
    jstate *s = state(n);
    mr_column *o = &n->out;
    if (!s)
        return expr__oom(err);
    for (size_t i = 0; i < rows; i++) {
        const char *doc;
        size_t len;
        int rc = find(n, s, i, &doc, &len);
        if (rc < 0)
            return expr__oom(err);
        if (rc == 0 || s->w.kind != JK_ARRAY || s->w.count > INT32_MAX) {
            set_null(o, i);
            continue;
        }
        MR_COL_I32(o)[i] = (int32_t)s->w.count;
        mr_column_set_valid(o, i, true);
    }
    return 0;
}

int expr__eval_json_typeof(expr__node *n, size_t rows, mr_err *err)
{
    static const char *const names[] = {"", "null", "boolean", "number", "string", "object",
                                        "array"};
    jstate *s = state(n);
    mr_column *o = &n->out;
    if (!s)
        return expr__oom(err);
    for (size_t i = 0; i < rows; i++) {
        const char *doc;
        size_t len;
        int rc = find(n, s, i, &doc, &len);
        if (rc < 0)
            return expr__oom(err);
        if (rc == 0) {
            set_null(o, i);
            continue;
        }
        const char *t = names[s->w.kind];
        if (mr_column_set_str(o, i, t, strlen(t)) < 0)
            return expr__oom(err);
    }
    return 0;
}
