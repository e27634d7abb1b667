/* check.c - the check operator: counts, per data-quality rule, the rows it
 * checks and those that fail, and drops the failing rows of expect rules
 * that fail or reject (check.h says what each kind means).
 *
 * Per input batch: every expect (and aggregate) rule's predicate is
 * evaluated over the live rows into a dense bool column, as the filter
 * does; a row that fails a dropping rule is left out of the selection the
 * batch is handed on with (narrowed in place: the k-th survivor is at or
 * after the k-th live row).  Failing rows are counted per rule, the first
 * MR_CHECK_SAMPLES of each written out as JSON, and a rejected row is kept
 * once (under the first reject rule it fails).  Unique rules hash the
 * live rows' key columns (mr_hash_columns, the shuffle's hash) and probe
 * the shared key table, counting rows per key; duplicates are summed when
 * the input ends.  The batch handed out is the child's.
 */
#include "core/op/check.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/expr.h"
#include "core/hash.h"
#include "core/hashtab.h"
#include "core/strbuf.h"
#include "core/types.h"

typedef struct check_rule {
    mr_check_rule r; /* name and expr copied; columns unused after create */
    mr_expr *pred;   /* expect, aggregate */
    int *keys;       /* unique: column indices */
    int nkeys;
    int rows_col;    /* aggregate: the "count(*)" column, or -1 */
    mr_hashtab tab;  /* unique: keys seen */
    uint32_t *counts; /* unique: rows per entry */
    size_t ccap;
    mr_check_result res;
} check_rule;

typedef struct check_op {
    mr_op op;
    check_rule *rules;
    int n;
    mr_check_result *results; /* copies of rules[i].res for mr_check_results */
    mr_column res;            /* one predicate's values */
    bool res_ready;
    uint8_t *drop;            /* per live row: dropped by a fail/reject rule */
    uint8_t *rejected;        /* per live row: already kept as a reject */
    uint64_t *hash;
    uint32_t *rows, *ids;
    size_t scap;
    mr_reject *rej;
    size_t nrej, rejcap;
    bool finished;
} check_op;

void mr_check_json_str(mr_strbuf *b, const char *s, size_t n)
{
    mr_strbuf_put(b, "\"", 1);
    size_t from = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\')
            continue;
        mr_strbuf_put(b, s + from, i - from);
        switch (ch) {
        case '"': mr_strbuf_puts(b, "\\\""); break;
        case '\\': mr_strbuf_puts(b, "\\\\"); break;
        case '\n': mr_strbuf_puts(b, "\\n"); break;
        case '\r': mr_strbuf_puts(b, "\\r"); break;
        case '\t': mr_strbuf_puts(b, "\\t"); break;
        default: mr_strbuf_printf(b, "\\u%04x", ch); break;
        }
        from = i + 1;
    }
    mr_strbuf_put(b, s + from, n - from);
    mr_strbuf_put(b, "\"", 1);
}

/* Longest string value a sample shows (bytes, cut at a character
 * boundary, "..." added): samples travel in task statuses and land in one
 * text column, so a huge value must not ride along five times per task. */
#define SAMPLE_STR_MAX 200

/* Row r of column c as a JSON value; strings cut to cap bytes (0: whole). */
static void json_value(mr_strbuf *b, const mr_column *c, size_t r, size_t cap)
{
    char tmp[64];
    size_t n;
    if (!mr_column_is_valid(c, r)) {
        mr_strbuf_puts(b, "null");
        return;
    }
    switch (c->type.id) {
    case MR_T_BOOL: mr_strbuf_puts(b, MR_COL_U8(c)[r] ? "true" : "false"); return;
    case MR_T_INT32: mr_strbuf_printf(b, "%" PRId32, MR_COL_I32(c)[r]); return;
    case MR_T_INT64: mr_strbuf_printf(b, "%" PRId64, MR_COL_I64(c)[r]); return;
    case MR_T_FLOAT64: {
        double v = MR_COL_F64(c)[r];
        n = mr_format_float64(v, tmp, sizeof tmp);
        if (isfinite(v))
            mr_strbuf_put(b, tmp, n);
        else
            mr_check_json_str(b, tmp, n);
        return;
    }
    case MR_T_DECIMAL:
        n = mr_format_decimal(MR_COL_I64(c)[r], c->type.scale, tmp, sizeof tmp);
        mr_strbuf_put(b, tmp, n);
        return;
    case MR_T_DATE:
        n = mr_format_date(MR_COL_I32(c)[r], tmp, sizeof tmp);
        mr_check_json_str(b, tmp, n);
        return;
    case MR_T_TIMESTAMP:
        n = mr_format_timestamp(MR_COL_I64(c)[r], tmp, sizeof tmp);
        mr_check_json_str(b, tmp, n);
        return;
    case MR_T_STRING: {
        const char *p = mr_column_str(c, r, &n);
        if (!cap || n <= cap) {
            mr_check_json_str(b, p, n);
            return;
        }
        n = cap;
        while (n > 0 && ((unsigned char)p[n] & 0xC0) == 0x80)
            n--; /* cut between characters */
        mr_strbuf cut = {0};
        mr_strbuf_put(&cut, p, n);
        mr_strbuf_puts(&cut, "...");
        if (cut.oom)
            b->oom = 1;
        else
            mr_check_json_str(b, cut.p, cut.n);
        mr_strbuf_free(&cut);
        return;
    }
    default: mr_strbuf_puts(b, "null"); return;
    }
}

/* Physical row r of columns cols (those of idx[0..n), or the first n) as
 * a JSON object, strings cut to cap bytes (0: whole); a malloc'd string,
 * or NULL when out of memory. */
static char *json_row(const mr_schema *s, const mr_column *cols, const int *idx, int n, size_t r,
                      size_t cap, const char *extra_key, uint64_t extra)
{
    mr_strbuf b = {0};
    mr_strbuf_put(&b, "{", 1);
    for (int k = 0; k < n; k++) {
        int c = idx ? idx[k] : k;
        if (k > 0)
            mr_strbuf_put(&b, ", ", 2);
        mr_check_json_str(&b, s->fields[c].name, strlen(s->fields[c].name));
        mr_strbuf_put(&b, ": ", 2);
        json_value(&b, idx ? &cols[k] : &cols[c], r, cap);
    }
    if (extra_key)
        mr_strbuf_printf(&b, "%s\"%s\": %" PRIu64, n > 0 ? ", " : "", extra_key, extra);
    mr_strbuf_put(&b, "}", 1);
    if (b.oom) {
        mr_strbuf_free(&b);
        return NULL;
    }
    return b.p;
}

static int add_sample(check_rule *cr, char *s)
{
    if (!s)
        return MR_ENOMEM;
    cr->res.samples[cr->res.nsamples++] = s;
    return 0;
}

static int scratch(check_op *k, size_t n)
{
    if (n <= k->scap)
        return 0;
    uint8_t *d = realloc(k->drop, n), *rj = realloc(k->rejected, n);
    if (d)
        k->drop = d;
    if (rj)
        k->rejected = rj;
    uint64_t *h = realloc(k->hash, n * sizeof *h);
    if (h)
        k->hash = h;
    uint32_t *rw = realloc(k->rows, n * sizeof *rw), *id = realloc(k->ids, n * sizeof *id);
    if (rw)
        k->rows = rw;
    if (id)
        k->ids = id;
    if (!d || !rj || !h || !rw || !id)
        return MR_ENOMEM;
    k->scap = n;
    return 0;
}

static int keep_reject(check_op *k, const mr_batch *b, uint32_t r, const char *rule)
{
    if (k->nrej == k->rejcap) {
        size_t cap = k->rejcap ? k->rejcap * 2 : 64;
        mr_reject *g = realloc(k->rej, cap * sizeof *g);
        if (!g)
            return MR_ENOMEM;
        k->rej = g;
        k->rejcap = cap;
    }
    char *raw = json_row(k->op.schema, b->cols, NULL, b->ncols, r, MR_REJECT_RAW_MAX / 4, NULL, 0);
    char *why = strdup(rule);
    if (!raw || !why) {
        free(raw);
        free(why);
        return MR_ENOMEM;
    }
    k->rej[k->nrej++] = (mr_reject){.file = "", .line = -1, .offset = 0, .reason = why, .raw = raw};
    return 0;
}

/* One predicate rule over the live rows of b. */
static int eval_rule(check_op *k, check_rule *cr, const mr_batch *b, size_t live, mr_err *err)
{
    int rc = mr_expr_eval(cr->pred, b, &k->res, err);
    if (rc < 0) {
        mr_err_prefix(err, "node '%s': check '%s'", k->op.node, cr->r.name);
        return rc;
    }
    const uint8_t *v = MR_COL_U8(&k->res);
    for (size_t i = 0; i < live; i++) {
        uint32_t r = mr_batch_row(b, i);
        if (cr->r.kind == MR_CHECK_AGGREGATE) {
            const mr_column *rc_col = cr->rows_col >= 0 ? &b->cols[cr->rows_col] : NULL;
            uint64_t rows = rc_col && mr_column_is_valid(rc_col, r) ? (uint64_t)MR_COL_I64(rc_col)[r] : 1;
            cr->res.rows_checked += rows;
            if (v[i] && mr_column_is_valid(&k->res, i))
                continue;
            cr->res.rows_failed += rows;
        } else {
            cr->res.rows_checked++;
            if (v[i] && mr_column_is_valid(&k->res, i))
                continue;
            cr->res.rows_failed++;
        }
        if (cr->res.nsamples < MR_CHECK_SAMPLES &&
            add_sample(cr, json_row(k->op.schema, b->cols, NULL, b->ncols, r, SAMPLE_STR_MAX,
                                    NULL, 0)) < 0)
            return mr_err_oom(err, k->op.node);
        if (cr->r.kind != MR_CHECK_EXPECT || cr->r.action == MR_CHECK_WARN)
            continue;
        k->drop[i] = 1;
        if (cr->r.action == MR_CHECK_REJECT && !k->rejected[i]) {
            k->rejected[i] = 1;
            if (keep_reject(k, b, r, cr->r.name) < 0)
                return mr_err_oom(err, k->op.node);
        }
    }
    return 0;
}

/* A unique rule: rows per key, NULL keys aside. */
static int count_keys(check_op *k, check_rule *cr, const mr_batch *b, size_t live, mr_err *err)
{
    mr_hash_columns(b, cr->keys, cr->nkeys, k->hash);
    mr_column kv[cr->nkeys > 0 ? cr->nkeys : 1];
    for (int c = 0; c < cr->nkeys; c++)
        kv[c] = b->cols[cr->keys[c]];
    size_t m = 0;
    for (size_t i = 0; i < live; i++) {
        uint32_t r = mr_batch_row(b, i);
        bool null = false;
        for (int c = 0; c < cr->nkeys && !null; c++)
            null = !mr_column_is_valid(&kv[c], r);
        cr->res.rows_checked++;
        if (null)
            continue;
        k->rows[m] = r;
        k->hash[m++] = k->hash[i];
    }
    if (m == 0)
        return 0;
    int rc = mr_hashtab_probe(&cr->tab, kv, k->rows, m, k->hash, k->ids, NULL);
    if (rc < 0)
        return rc == MR_ENOMEM ? mr_err_oom(err, k->op.node)
                               : mr_err_node(err, rc, k->op.node, "check '%s': too many keys",
                                             cr->r.name);
    if (cr->tab.n > cr->ccap) {
        size_t cap = cr->ccap ? cr->ccap : 1024;
        while (cap < cr->tab.n)
            cap *= 2;
        uint32_t *g = realloc(cr->counts, cap * sizeof *g);
        if (!g)
            return mr_err_oom(err, k->op.node);
        memset(g + cr->ccap, 0, (cap - cr->ccap) * sizeof *g);
        cr->counts = g;
        cr->ccap = cap;
    }
    for (size_t i = 0; i < m; i++)
        if (cr->counts[k->ids[i]] < UINT32_MAX)
            cr->counts[k->ids[i]]++;
    return 0;
}

/* At the end of the input: a unique rule's duplicates and samples. */
static int finish_unique(check_op *k, check_rule *cr, mr_err *err)
{
    mr_schema *ks = mr_schema_create(cr->nkeys);
    if (!ks)
        return mr_err_oom(err, k->op.node);
    for (int c = 0; c < cr->nkeys; c++)
        if (mr_schema_set(ks, c, k->op.schema->fields[cr->keys[c]].name,
                          k->op.schema->fields[cr->keys[c]].type) < 0) {
            mr_schema_destroy(ks);
            return mr_err_oom(err, k->op.node);
        }
    int rc = 0;
    for (size_t e = 0; e < cr->tab.n && rc == 0; e++) {
        if (cr->counts[e] < 2)
            continue;
        cr->res.rows_failed += cr->counts[e];
        if (cr->res.nsamples < MR_CHECK_SAMPLES) {
            int idx[cr->nkeys];
            for (int c = 0; c < cr->nkeys; c++)
                idx[c] = c;
            if (add_sample(cr, json_row(ks, cr->tab.keys, idx, cr->nkeys, e, SAMPLE_STR_MAX,
                                        "rows", cr->counts[e])) < 0)
                rc = mr_err_oom(err, k->op.node);
        }
    }
    mr_schema_destroy(ks);
    return rc;
}

static int check_open(mr_op *op, mr_exec_ctx *ctx, mr_err *err)
{
    (void)ctx;
    check_op *k = (check_op *)op;
    if (!k->res_ready) {
        if (mr_column_init(&k->res, mr_type_make(MR_T_BOOL), MR_BATCH_ROWS) < 0) {
            mr_column_free(&k->res);
            return mr_err_oom(err, op->node);
        }
        k->res_ready = true;
    }
    for (int i = 0; i < k->n; i++) {
        check_rule *cr = &k->rules[i];
        if (cr->r.kind != MR_CHECK_UNIQUE || cr->tab.slots)
            continue;
        mr_type types[cr->nkeys];
        for (int c = 0; c < cr->nkeys; c++)
            types[c] = op->schema->fields[cr->keys[c]].type;
        if (mr_hashtab_init(&cr->tab, types, cr->nkeys) < 0)
            return mr_err_oom(err, op->node);
    }
    return 0;
}

static int check_next(mr_op *op, mr_batch **out, mr_err *err)
{
    check_op *k = (check_op *)op;
    for (;;) {
        mr_batch *b;
        int rc = mr_op_next(op->child, &b, err);
        if (rc == MR_NEXT_DONE && !k->finished) {
            k->finished = true;
            for (int i = 0; i < k->n; i++)
                if (k->rules[i].r.kind == MR_CHECK_UNIQUE &&
                    (rc = finish_unique(k, &k->rules[i], err)) < 0)
                    return rc;
            return MR_NEXT_DONE;
        }
        if (rc != MR_NEXT_BATCH)
            return rc;
        size_t live = mr_batch_live(b);
        if (live == 0)
            continue;
        if (scratch(k, b->nrows > live ? b->nrows : live) < 0)
            return mr_err_oom(err, op->node);
        memset(k->drop, 0, live);
        memset(k->rejected, 0, live);
        bool dropping = false;
        for (int i = 0; i < k->n; i++) {
            check_rule *cr = &k->rules[i];
            switch (cr->r.kind) {
            case MR_CHECK_ROW_COUNT: cr->res.rows_checked += live; break;
            case MR_CHECK_UNIQUE: rc = count_keys(k, cr, b, live, err); break;
            default:
                rc = eval_rule(k, cr, b, live, err);
                dropping |= cr->r.kind == MR_CHECK_EXPECT && cr->r.action != MR_CHECK_WARN;
                break;
            }
            if (rc < 0)
                return rc;
        }
        if (!dropping) {
            *out = b;
            return MR_NEXT_BATCH;
        }
        if (!b->sel_buf || b->cap < b->nrows) {
            if (mr_batch_reserve(b, b->nrows) < 0 || !b->sel_buf)
                return mr_err_oom(err, op->node);
        }
        size_t m = 0;
        for (size_t i = 0; i < live; i++) {
            uint32_t r = mr_batch_row(b, i);
            b->sel_buf[m] = r;
            m += !k->drop[i];
        }
        if (m == 0)
            continue;
        if (!(m == live && !b->sel)) {
            b->sel = b->sel_buf;
            b->nsel = m;
        }
        *out = b;
        return MR_NEXT_BATCH;
    }
}

static void check_close(mr_op *op)
{
    check_op *k = (check_op *)op;
    for (int i = 0; k->rules && i < k->n; i++) {
        check_rule *cr = &k->rules[i];
        free((char *)cr->r.name);
        free((char *)cr->r.expr);
        mr_expr_destroy(cr->pred);
        free(cr->keys);
        mr_hashtab_free(&cr->tab);
        free(cr->counts);
        for (int s = 0; s < cr->res.nsamples; s++)
            free(cr->res.samples[s]);
    }
    free(k->rules);
    free(k->results);
    if (k->res_ready)
        mr_column_free(&k->res);
    free(k->drop);
    free(k->rejected);
    free(k->hash);
    free(k->rows);
    free(k->ids);
    for (size_t i = 0; i < k->nrej; i++) {
        free(k->rej[i].reason);
        free(k->rej[i].raw);
    }
    free(k->rej);
    mr_schema_destroy(op->schema);
    free(k);
}

static const mr_op_vtable check_vt = {"check", check_open, check_next, check_close};

bool mr_check_is(const mr_op *op) { return op && op->vt == &check_vt; }

void mr_check_results(const mr_op *op, const mr_check_result **res, int *n)
{
    check_op *k = (check_op *)op;
    for (int i = 0; i < k->n; i++)
        k->results[i] = k->rules[i].res;
    *res = k->results;
    *n = k->n;
}

void mr_check_rejects(const mr_op *op, const mr_reject **rows, size_t *n)
{
    const check_op *k = (const check_op *)op;
    *rows = k->rej;
    *n = k->nrej;
}

/* Compiles rule i against the input schema. */
static int rule_make(check_op *k, check_rule *cr, const mr_check_rule *r, const mr_schema *in,
                     mr_err *err)
{
    cr->rows_col = -1;
    cr->r = *r;
    cr->r.name = strdup(r->name ? r->name : "");
    cr->r.expr = r->expr ? strdup(r->expr) : NULL;
    cr->r.columns = NULL;
    cr->res.rule = cr->r.name;
    if (!cr->r.name || (r->expr && !cr->r.expr))
        return mr_err_oom(err, k->op.node);
    if (r->kind == MR_CHECK_EXPECT || r->kind == MR_CHECK_AGGREGATE) {
        if (!r->expr)
            return mr_err_node(err, MR_EINVAL, k->op.node, "check '%s' has no expression",
                               r->name);
        int rc = mr_expr_parse(r->expr, &cr->pred, err);
        if (rc == 0)
            rc = mr_expr_bind(cr->pred, in, err);
        if (rc == 0 && mr_expr_type(cr->pred).id != MR_T_BOOL) {
            char t[32];
            rc = mr_err_set(err, MR_ETYPE, "must be a boolean expression; this one is %s",
                            mr_type_name(mr_expr_type(cr->pred), t, sizeof t));
            err->offset = 0;
        }
        if (rc < 0) {
            int off = err->offset;
            mr_err_prefix(err, "node '%s': check '%s'", k->op.node, r->name);
            err->offset = off;
            return rc;
        }
        if (r->kind == MR_CHECK_AGGREGATE) {
            int c = mr_schema_find(in, "count(*)");
            if (c >= 0 && in->fields[c].type.id == MR_T_INT64)
                cr->rows_col = c;
        }
    } else if (r->kind == MR_CHECK_UNIQUE) {
        if (r->ncolumns < 1)
            return mr_err_node(err, MR_EINVAL, k->op.node, "check '%s': unique needs columns",
                               r->name);
        cr->keys = calloc((size_t)r->ncolumns, sizeof *cr->keys);
        if (!cr->keys)
            return mr_err_oom(err, k->op.node);
        cr->nkeys = r->ncolumns;
        for (int c = 0; c < r->ncolumns; c++)
            if ((cr->keys[c] = mr_schema_find(in, r->columns[c])) < 0)
                return mr_err_node(err, MR_ENOTFOUND, k->op.node,
                                   "check '%s': unknown column '%s'", r->name, r->columns[c]);
    }
    return 0;
}

mr_op *mr_check_create(mr_op *child, const mr_check_rule *rules, int n, const char *node,
                       mr_err *err)
{
    check_op *k = calloc(1, sizeof *k);
    if (!k) {
        mr_op_close(child);
        mr_err_oom(err, node);
        return NULL;
    }
    mr_op_init(&k->op, &check_vt, child, node);
    k->rules = calloc((size_t)n + 1, sizeof *k->rules);
    k->results = calloc((size_t)n + 1, sizeof *k->results);
    int rc = !k->rules || !k->results ? mr_err_oom(err, node) : 0;
    for (int i = 0; i < n && rc == 0; i++, k->n++)
        rc = rule_make(k, &k->rules[i], &rules[i], child->schema, err);
    if (rc == 0 && !(k->op.schema = mr_schema_copy(child->schema)))
        rc = mr_err_oom(err, node);
    if (rc < 0) {
        mr_op_close(&k->op);
        return NULL;
    }
    return &k->op;
}
