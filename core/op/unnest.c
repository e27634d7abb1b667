/* unnest.c - the unnest operator: one row per element of a JSON array in a
 * text column, the other columns repeated.
 *
 * Each input row's text is read once by yajl's event parser (as
 * core/expr_json.c does: the whole text is checked against RFC 8259, and
 * numbers arrive as their source text).  The elements at depth one are
 * collected as text into a per-row list: a string unquoted, a number or a
 * boolean as written, a nested array or object cut verbatim from the
 * source (yajl_get_bytes_consumed at its first and last byte), JSON null
 * as NULL.  The list is then dealt into output batches of at most
 * MR_BATCH_ROWS rows, so an array longer than a batch spans several.
 *
 * The element texts of one output batch go into a one-column text batch
 * that an expression, CAST(e AS type), turns into the output column: the
 * cast is the expression language's own, bound once when the operator is
 * created, so unnest accepts what a cast accepts.  It is run as try_cast;
 * an element that was not NULL but came out NULL is then cast strictly on
 * its own to report the cast's message, prefixed with the node, the row's
 * position in the task's input (1-based) and the element's index.
 */
#include "core/op/unnest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "core/expr.h"

typedef struct uelem {
    size_t off, len;
    bool null;
} uelem;

typedef struct unnest_op {
    mr_op op;
    int col;          /* the array column in the input */
    int *map;         /* output column -> input column, for the first nout-1 */
    bool keep_empty;
    mr_expr *try_cast; /* NULL when type is text */
    mr_expr *cast;
    mr_batch *elems;  /* one text column: the elements of the batch being built */
    mr_batch *out;
    mr_column res;
    bool res_ready;
    uint32_t *src;    /* output row -> input row */
    /* the input row being dealt */
    mr_batch *in;
    size_t in_live, in_i; /* live rows of in, next live row to read */
    uint64_t row_pos;     /* position (1-based) of the current row in the input */
    uint32_t cur_row;     /* physical row in in */
    uelem *el;
    size_t nel, elcap, el_i; /* elements of the current row, next one to emit */
    char *buf;
    size_t blen, bcap;
    bool child_done;
    /* the parse */
    yajl_handle h;
    int depth;
    size_t nest_start;
    const char *doc;
    bool not_array, nul;
} unnest_op;

static int push_elem(unnest_op *u, const char *s, size_t n, bool null)
{
    if (u->nel == u->elcap) {
        size_t cap = u->elcap ? 2 * u->elcap : 64;
        uelem *e = realloc(u->el, cap * sizeof *e);
        if (!e)
            return 0;
        u->el = e;
        u->elcap = cap;
    }
    if (u->blen + n > u->bcap) {
        size_t cap = u->bcap ? u->bcap : 256;
        while (cap < u->blen + n)
            cap *= 2;
        char *b = realloc(u->buf, cap);
        if (!b)
            return 0;
        u->buf = b;
        u->bcap = cap;
    }
    if (n)
        memcpy(u->buf + u->blen, s, n);
    u->el[u->nel++] = (uelem){u->blen, n, null};
    u->blen += n;
    return 1;
}

/* A scalar: an element when at depth one, refused at depth zero. */
static int scalar(unnest_op *u, const char *s, size_t n, bool null)
{
    if (u->depth == 0) {
        u->not_array = true;
        return 0;
    }
    return u->depth == 1 ? push_elem(u, s, n, null) : 1;
}

static int cb_null(void *c)
{
    unnest_op *u = c;
    if (u->depth == 0)
        return 1; /* JSON null: no array, as a NULL value */
    return scalar(c, NULL, 0, true);
}
static int cb_bool(void *c, int b) { return scalar(c, b ? "true" : "false", b ? 4 : 5, false); }
static int cb_number(void *c, const char *s, size_t n) { return scalar(c, s, n, false); }
static int cb_string(void *c, const unsigned char *s, size_t n)
{
    unnest_op *u = c;
    if (u->depth == 1 && memchr(s, '\0', n)) {
        u->nul = true;
        return 0;
    }
    return scalar(c, (const char *)s, n, false);
}

static int open_container(unnest_op *u, bool array)
{
    if (u->depth == 0 && !array) {
        u->not_array = true;
        return 0;
    }
    if (u->depth == 1)
        u->nest_start = yajl_get_bytes_consumed(u->h) - 1;
    u->depth++;
    return 1;
}

static int close_container(unnest_op *u)
{
    u->depth--;
    if (u->depth == 1) {
        size_t end = yajl_get_bytes_consumed(u->h);
        return push_elem(u, u->doc + u->nest_start, end - u->nest_start, false);
    }
    return 1;
}

static int cb_start_map(void *c) { return open_container(c, false); }
static int cb_start_array(void *c) { return open_container(c, true); }
static int cb_end(void *c) { return close_container(c); }
static int cb_key(void *c, const unsigned char *s, size_t n)
{
    (void)c, (void)s, (void)n;
    return 1;
}

static const yajl_callbacks callbacks = {
    cb_null, cb_bool, NULL, NULL, cb_number, cb_string,
    cb_start_map, cb_key, cb_end, cb_start_array, cb_end,
};

static void set_doc_err(unnest_op *u, mr_err *err, const char *why, const char *doc, size_t len)
{
    int show = len > 60 ? 60 : (int)len;
    mr_err_node(err, MR_EPARSE, u->op.node, "row %llu: column '%s' %s: '%.*s'%s",
                (unsigned long long)u->row_pos, u->op.child->schema->fields[u->col].name, why,
                show, doc, len > 60 ? "..." : "");
}

/* Reads the elements of physical row r of u->in into u->el: 0 or an error. */
static int read_row(unnest_op *u, uint32_t r, mr_err *err)
{
    const mr_column *c = &u->in->cols[u->col];
    u->nel = u->blen = u->el_i = 0;
    u->cur_row = r;
    u->row_pos++;
    if (!mr_column_is_valid(c, r))
        return 0;
    size_t len;
    const char *doc = mr_column_str(c, r, &len);
    u->doc = doc;
    u->depth = 0;
    u->not_array = u->nul = false;
    if (!(u->h = yajl_alloc(&callbacks, NULL, u)))
        return mr_err_oom(err, u->op.node);
    yajl_status st = yajl_parse(u->h, (const unsigned char *)doc, len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(u->h);
    yajl_free(u->h);
    u->h = NULL;
    if (st == yajl_status_ok)
        return 0;
    if (st == yajl_status_client_canceled && !u->not_array && !u->nul)
        return mr_err_oom(err, u->op.node);
    u->nel = 0;
    set_doc_err(u, err,
                u->nul ? "holds a string with U+0000, which text cannot hold"
                : u->not_array ? "is not a JSON array"
                               : "is not valid JSON",
                doc, len);
    return MR_EPARSE;
}

static int unnest_open(mr_op *op, mr_exec_ctx *ctx, mr_err *err)
{
    (void)ctx;
    unnest_op *u = (unnest_op *)op;
    mr_type st = mr_type_make(MR_T_STRING);
    if (!(u->elems = mr_batch_create_types(&st, 1, 0)) || !(u->out = mr_batch_create(op->schema, 0)) ||
        !(u->src = malloc(MR_BATCH_ROWS * sizeof *u->src)))
        return mr_err_oom(err, op->node);
    if (u->try_cast) {
        if (mr_column_init(&u->res, op->schema->fields[op->schema->nfields - 1].type,
                           MR_BATCH_ROWS) < 0) {
            mr_column_free(&u->res);
            return mr_err_oom(err, op->node);
        }
        u->res_ready = true;
    }
    return 0;
}

/* Casts the elements of the batch being built into the output's last
 * column: 0 or an error naming the row and element that failed. */
static int cast_elems(unnest_op *u, size_t n, const uint32_t *pos, const uint32_t *idx, mr_err *err)
{
    mr_column *dst = &u->out->cols[u->out->ncols - 1];
    mr_column *e = &u->elems->cols[0];
    if (!u->try_cast) {
        for (size_t i = 0; i < n; i++)
            if (mr_column_copy_value(dst, i, e, i) < 0)
                return mr_err_oom(err, u->op.node);
        return 0;
    }
    int rc = mr_expr_eval(u->try_cast, u->elems, &u->res, err);
    if (rc < 0) {
        mr_err_prefix(err, "node '%s'", u->op.node);
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        if (mr_column_is_valid(e, i) && !mr_column_is_valid(&u->res, i)) {
            /* the strict cast of this element alone says why */
            uint32_t one = (uint32_t)i;
            u->elems->sel = &one;
            u->elems->nsel = 1;
            rc = mr_expr_eval(u->cast, u->elems, &u->res, err);
            u->elems->sel = NULL;
            if (rc >= 0)
                rc = mr_err_set(err, MR_ECAST, "cannot cast the element");
            mr_err_prefix(err, "node '%s': row %u: element %u of column '%s'", u->op.node,
                          pos[i], idx[i], u->op.child->schema->fields[u->col].name);
            return rc;
        }
        if (mr_column_copy_value(dst, i, &u->res, i) < 0)
            return mr_err_oom(err, u->op.node);
    }
    return 0;
}

static int unnest_next(mr_op *op, mr_batch **out, mr_err *err)
{
    unnest_op *u = (unnest_op *)op;
    mr_batch *o = u->out;
    mr_batch_reset(o);
    mr_batch_reset(u->elems);
    mr_column *e = &u->elems->cols[0];
    uint32_t pos[MR_BATCH_ROWS], idx[MR_BATCH_ROWS];
    size_t n = 0;
    int rc;
    while (n < MR_BATCH_ROWS) {
        if (u->el_i < u->nel) {
            const uelem *x = &u->el[u->el_i];
            if (x->null)
                mr_column_set_str_null(e, n);
            else if (mr_column_set_str(e, n, u->buf + x->off, x->len) < 0)
                return mr_err_oom(err, op->node);
            u->src[n] = u->cur_row;
            pos[n] = (uint32_t)u->row_pos;
            idx[n] = (uint32_t)++u->el_i;
            n++;
            continue;
        }
        if (u->in_i == u->in_live) {
            if (n > 0)
                break; /* the rows taken point into the current input batch */
            if (u->child_done)
                return MR_NEXT_DONE;
            rc = mr_op_next(op->child, &u->in, err);
            if (rc < 0)
                return rc;
            if (rc == MR_NEXT_DONE) {
                u->child_done = true;
                return MR_NEXT_DONE;
            }
            u->in_live = mr_batch_live(u->in);
            u->in_i = 0;
            continue;
        }
        if ((rc = read_row(u, mr_batch_row(u->in, u->in_i++), err)) < 0)
            return rc;
        if (u->nel == 0 && u->keep_empty) {
            mr_column_set_str_null(e, n);
            u->src[n] = u->cur_row;
            pos[n] = (uint32_t)u->row_pos;
            idx[n] = 0;
            n++;
        }
    }
    if (mr_exec_cancelled(op->ctx))
        return MR_ECANCELLED;
    u->elems->nrows = n;
    for (int c = 0; c + 1 < o->ncols; c++) {
        const mr_column *s = &u->in->cols[u->map[c]];
        for (size_t i = 0; i < n; i++)
            if (mr_column_copy_value(&o->cols[c], i, s, u->src[i]) < 0)
                return mr_err_oom(err, op->node);
    }
    if ((rc = cast_elems(u, n, pos, idx, err)) < 0)
        return rc;
    o->nrows = n;
    *out = o;
    return MR_NEXT_BATCH;
}

static void unnest_close(mr_op *op)
{
    unnest_op *u = (unnest_op *)op;
    mr_expr_destroy(u->try_cast);
    mr_expr_destroy(u->cast);
    mr_batch_destroy(u->elems);
    mr_batch_destroy(u->out);
    if (u->res_ready)
        mr_column_free(&u->res);
    free(u->src);
    free(u->map);
    free(u->el);
    free(u->buf);
    mr_schema_destroy(op->schema);
    free(u);
}

static const mr_op_vtable unnest_vt = {"unnest", unnest_open, unnest_next, unnest_close};

/* CAST(e AS type) (try_cast when try_) bound over one text column e. */
static int make_cast(mr_type type, bool try_, mr_expr **out, mr_err *err)
{
    char tn[48], text[96];
    mr_type_name(type, tn, sizeof tn);
    snprintf(text, sizeof text, "%s(e AS %s)", try_ ? "try_cast" : "cast", tn);
    mr_schema *s = mr_schema_create(1);
    if (!s || mr_schema_set(s, 0, "e", mr_type_make(MR_T_STRING)) < 0) {
        mr_schema_destroy(s);
        return mr_err_oom(err, NULL);
    }
    int rc = mr_expr_parse(text, out, err);
    if (rc == 0)
        rc = mr_expr_bind(*out, s, err);
    mr_schema_destroy(s);
    if (rc < 0) {
        char t[32];
        rc = mr_err_set(err, MR_ETYPE, "text cannot be cast to %s",
                        mr_type_name(type, t, sizeof t));
    }
    return rc;
}

mr_schema *mr_unnest_schema(const mr_schema *in, const char *column, const char *as, mr_type type,
                            mr_err *err)
{
    int col = mr_schema_find(in, column);
    if (col < 0) {
        mr_err_set(err, MR_ENOTFOUND, "unknown column '%s'", column);
        return NULL;
    }
    if (in->fields[col].type.id != MR_T_STRING) {
        char t[32];
        mr_err_set(err, MR_ETYPE, "column '%s' is %s, but unnest reads JSON arrays from text",
                   column, mr_type_name(in->fields[col].type, t, sizeof t));
        return NULL;
    }
    if (!as || !*as) {
        mr_err_set(err, MR_EINVAL, "the element column needs a name");
        return NULL;
    }
    int other = mr_schema_find(in, as);
    if (other >= 0 && other != col) {
        mr_err_set(err, MR_EINVAL, "'%s' is already a column of the input", as);
        return NULL;
    }
    if (type.id != MR_T_STRING) {
        mr_expr *e = NULL;
        int rc = make_cast(type, false, &e, err);
        mr_expr_destroy(e);
        if (rc < 0)
            return NULL;
    }
    mr_schema *s = mr_schema_create(in->nfields);
    if (!s) {
        mr_err_oom(err, NULL);
        return NULL;
    }
    int k = 0;
    for (int i = 0; i < in->nfields; i++)
        if (i != col && mr_schema_set(s, k++, in->fields[i].name, in->fields[i].type) < 0)
            goto oom;
    if (mr_schema_set(s, k, as, type) < 0)
        goto oom;
    return s;
oom:
    mr_schema_destroy(s);
    mr_err_oom(err, NULL);
    return NULL;
}

mr_op *mr_unnest_create(mr_op *child, const char *column, const char *as, mr_type type,
                        bool keep_empty, const char *node, mr_err *err)
{
    if (!child) {
        mr_err_node(err, MR_EINVAL, node, "unnest needs an input");
        return NULL;
    }
    unnest_op *u = calloc(1, sizeof *u);
    if (!u) {
        mr_op_close(child);
        mr_err_oom(err, node);
        return NULL;
    }
    mr_op_init(&u->op, &unnest_vt, child, node);
    u->keep_empty = keep_empty;
    int rc = 0;
    if (!(u->op.schema = mr_unnest_schema(child->schema, column, as, type, err)))
        rc = err && err->code ? err->code : MR_EINVAL;
    if (rc == 0) {
        u->col = mr_schema_find(child->schema, column);
        if (!(u->map = calloc((size_t)child->schema->nfields + 1, sizeof *u->map)))
            rc = mr_err_oom(err, NULL);
        for (int i = 0, k = 0; rc == 0 && i < child->schema->nfields; i++)
            if (i != u->col)
                u->map[k++] = i;
    }
    if (rc == 0 && type.id != MR_T_STRING) {
        rc = make_cast(type, true, &u->try_cast, err);
        if (rc == 0)
            rc = make_cast(type, false, &u->cast, err);
    }
    if (rc < 0) {
        mr_err_prefix(err, "node '%s'", node);
        mr_op_close(&u->op);
        return NULL;
    }
    return &u->op;
}
