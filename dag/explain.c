/* explain.c - a compiled plan rendered for people (text) and for the REST
 * API (JSON, written by hand so dag/ needs no JSON library).
 *
 * Both walk the plan once and append to a growable buffer; an allocation
 * failure is remembered and turns the result into NULL at the end.  The text
 * form is stable (golden tests compare it byte for byte):
 *
 *   job NAME: N stages
 *   stage 0  [one task per input split]  read a (csv) -> filter b -> partial aggregate c
 *     shuffle -> stage 1: hash(k) into 8 partitions
 *   stage 1  [8 tasks]  shuffle read <- stage 0 -> final aggregate c -> write d (...)
 *     columns: k string, n int64
 *   stage 4  [8 tasks]  join j (inner on id = pid) <- [shuffle read <- stage 2,
 *                        shuffle read <- stage 3] -> write e (...)      (one line)
 *
 * A stage's operators are printed from its root: a chain left to right, an
 * operator with several inputs (join, union) as "op <- [input, input]".
 * Shuffle edges are hash(keys), round robin, or all rows into 1 partition.
 * The warehouse DSN is never printed: it usually holds a password.
 */
#include "dag/dag.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct tbuf {
    char *p;
    size_t n, cap;
    int oom;
} tbuf;

static void tb_put(tbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void tb_printf(tbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tb_printf(tbuf *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        tb_put(b, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    tb_put(b, big, (size_t)n);
    free(big);
}

static char *tb_finish(tbuf *b)
{
    if (b->oom) {
        free(b->p);
        return NULL;
    }
    if (!b->p)
        tb_put(b, "", 0);
    return b->p;
}

static const char *type_text(const Millrace__Type *t, char *buf, size_t cap)
{
    if (!t)
        return "?";
    mr_type ty = {(uint8_t)t->id, (uint8_t)t->precision, (uint8_t)t->scale};
    return mr_type_name(ty, buf, cap);
}

/* ---- text ---------------------------------------------------------------- */

static void explain_write(tbuf *b, const Millrace__WriteSpec *w)
{
    tb_printf(b, " -> write %s (", w->node);
    if (strcmp(w->target, "warehouse") == 0)
        tb_printf(b, "warehouse table %s, %s", w->table, w->mode);
    else
        tb_printf(b, "%s to %s, %s", w->target, w->path, w->mode);
    if (w->n_key > 0) {
        tb_printf(b, " on ");
        for (size_t i = 0; i < w->n_key; i++)
            tb_printf(b, "%s%s", i ? ", " : "", w->key[i]);
    }
    tb_printf(b, ")");
}

static void tb_list(tbuf *b, char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        tb_printf(b, "%s%s", i ? ", " : "", v[i]);
}

/* One operator's label: its kind, node and what it does. */
static void explain_label(tbuf *b, const Millrace__OpSpec *op)
{
    switch (op->kind) {
    case MILLRACE__OP_KIND__OP_SCAN:
        tb_printf(b, "read %s (%s)", op->node, op->read ? op->read->format : "?");
        break;
    case MILLRACE__OP_KIND__OP_SHUFFLE_READ:
        tb_printf(b, "shuffle read <- stage %u", op->input_stage);
        break;
    case MILLRACE__OP_KIND__OP_FILTER: tb_printf(b, "filter %s", op->node); break;
    case MILLRACE__OP_KIND__OP_PROJECT: tb_printf(b, "project %s", op->node); break;
    case MILLRACE__OP_KIND__OP_AGG_PARTIAL: tb_printf(b, "partial aggregate %s", op->node); break;
    case MILLRACE__OP_KIND__OP_AGG_FINAL: tb_printf(b, "final aggregate %s", op->node); break;
    case MILLRACE__OP_KIND__OP_HASHJOIN:
        tb_printf(b, "join %s (%s on ", op->node, op->join_type);
        for (size_t k = 0; k < op->n_left_keys && k < op->n_right_keys; k++) {
            tb_printf(b, "%s%s", k ? ", " : "", op->left_keys[k]);
            if (strcmp(op->left_keys[k], op->right_keys[k]) != 0)
                tb_printf(b, " = %s", op->right_keys[k]);
        }
        if (op->right_prefix && op->right_prefix[0])
            tb_printf(b, ", right_prefix %s", op->right_prefix);
        tb_printf(b, ")");
        break;
    case MILLRACE__OP_KIND__OP_UNION: tb_printf(b, "union %s", op->node); break;
    case MILLRACE__OP_KIND__OP_DISTINCT:
        tb_printf(b, "distinct %s", op->node);
        if (op->n_columns) {
            tb_printf(b, " (");
            tb_list(b, op->columns, op->n_columns);
            tb_printf(b, ")");
        }
        break;
    case MILLRACE__OP_KIND__OP_SORT:
        tb_printf(b, "sort %s (", op->node);
        tb_list(b, op->sort_keys, op->n_sort_keys);
        tb_printf(b, ")");
        if (op->limit >= 0)
            tb_printf(b, " top %lld", (long long)op->limit);
        break;
    case MILLRACE__OP_KIND__OP_LIMIT:
        tb_printf(b, "limit %s (%lld)", op->node, (long long)op->limit);
        break;
    default: tb_printf(b, "op%d %s", (int)op->kind, op->node); break;
    }
}

/* Operator idx and its inputs: a chain reads left to right
 * ("read a (csv) -> filter b"); an operator with several inputs lists
 * them: "join j (...) <- [input 1, input 2]". */
static void explain_tree(tbuf *b, const Millrace__Stage *st, size_t idx, int depth)
{
    const Millrace__OpSpec *op = st->ops[idx];
    int source = op->kind == MILLRACE__OP_KIND__OP_SCAN ||
                 op->kind == MILLRACE__OP_KIND__OP_SHUFFLE_READ;
    if (depth > 64) {
        tb_printf(b, "...");
        return;
    }
    if (source || (op->n_children == 0 && idx == 0)) {
        explain_label(b, op);
    } else if (op->n_children == 0) {
        explain_tree(b, st, idx - 1, depth + 1);
        tb_printf(b, " -> ");
        explain_label(b, op);
    } else if (op->n_children == 1 && op->children[0] < idx) {
        explain_tree(b, st, op->children[0], depth + 1);
        tb_printf(b, " -> ");
        explain_label(b, op);
    } else {
        explain_label(b, op);
        tb_printf(b, " <- [");
        for (size_t k = 0; k < op->n_children; k++) {
            if (k)
                tb_printf(b, ", ");
            if (op->children[k] < idx)
                explain_tree(b, st, op->children[k], depth + 1);
            else
                tb_printf(b, "?");
        }
        tb_printf(b, "]");
    }
}

static void explain_columns(tbuf *b, const Millrace__Schema *s)
{
    char tn[48];
    tb_printf(b, "  columns:");
    for (size_t i = 0; s && i < s->n_fields; i++)
        tb_printf(b, "%s %s %s", i ? "," : "", s->fields[i]->name,
                  type_text(s->fields[i]->type, tn, sizeof tn));
    tb_printf(b, "\n");
}

char *mr_plan_explain(const Millrace__JobPlan *plan)
{
    tbuf b = {0};
    tb_printf(&b, "job %s: %zu stage%s\n", plan->name, plan->n_stages,
              plan->n_stages == 1 ? "" : "s");
    for (size_t s = 0; s < plan->n_stages; s++) {
        const Millrace__Stage *st = plan->stages[s];
        int scan = st->n_ops > 0 && st->ops[0]->kind == MILLRACE__OP_KIND__OP_SCAN;
        if (scan)
            tb_printf(&b, "stage %u  [one task per input split]  ", st->id);
        else
            tb_printf(&b, "stage %u  [%u task%s]  ", st->id, st->partitions,
                      st->partitions == 1 ? "" : "s");
        if (st->n_ops)
            explain_tree(&b, st, st->n_ops - 1, 0);
        if (st->write)
            explain_write(&b, st->write);
        tb_printf(&b, "\n");
        if (st->shuffle) {
            size_t readers = 0;
            for (size_t t = 0; t < plan->n_stages; t++)
                for (size_t k = 0; k < plan->stages[t]->n_inputs; k++)
                    readers += plan->stages[t]->inputs[k] == st->id;
            tb_printf(&b, "  shuffle -> stage%s", readers > 1 ? "s" : "");
            readers = 0;
            for (size_t t = 0; t < plan->n_stages; t++)
                for (size_t k = 0; k < plan->stages[t]->n_inputs; k++)
                    if (plan->stages[t]->inputs[k] == st->id)
                        tb_printf(&b, "%s %u", readers++ ? "," : "", plan->stages[t]->id);
            uint32_t np = st->shuffle->partitions;
            if (st->shuffle->round_robin) {
                tb_printf(&b, ": round robin into %u partition%s\n", np, np == 1 ? "" : "s");
            } else if (st->shuffle->n_keys == 0) {
                tb_printf(&b, ": all rows into %u partition%s\n", np, np == 1 ? "" : "s");
            } else {
                tb_printf(&b, ": hash(");
                tb_list(&b, st->shuffle->keys, st->shuffle->n_keys);
                tb_printf(&b, ") into %u partition%s\n", np, np == 1 ? "" : "s");
            }
        }
        if (st->write)
            explain_columns(&b, st->write->schema);
    }
    const Millrace__Warehouse *wh = plan->warehouse;
    if (wh) {
        if (strcmp(wh->driver, "postgres") == 0)
            tb_printf(&b, "warehouse: postgres%s%s\n", wh->schema[0] ? ", schema " : "",
                      wh->schema);
        else
            tb_printf(&b, "warehouse: %s %s\n", wh->driver, wh->path);
    }
    for (size_t i = 0; i < plan->n_post_sql; i++)
        tb_printf(&b, "post_sql %zu: %s\n", i + 1, plan->post_sql[i]);
    return tb_finish(&b);
}

/* ---- JSON ---------------------------------------------------------------- */

static void js_str(tbuf *b, const char *s)
{
    tb_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        switch (*p) {
        case '"': tb_put(b, "\\\"", 2); break;
        case '\\': tb_put(b, "\\\\", 2); break;
        case '\n': tb_put(b, "\\n", 2); break;
        case '\r': tb_put(b, "\\r", 2); break;
        case '\t': tb_put(b, "\\t", 2); break;
        default:
            if (*p < 0x20)
                tb_printf(b, "\\u%04x", *p);
            else
                tb_put(b, (const char *)p, 1);
        }
    }
    tb_put(b, "\"", 1);
}

static void js_key(tbuf *b, const char *k)
{
    js_str(b, k);
    tb_put(b, ":", 1);
}

static void js_strings(tbuf *b, char *const *v, size_t n)
{
    tb_put(b, "[", 1);
    for (size_t i = 0; i < n; i++) {
        if (i)
            tb_put(b, ",", 1);
        js_str(b, v[i]);
    }
    tb_put(b, "]", 1);
}

static void js_schema(tbuf *b, const Millrace__Schema *s)
{
    char tn[48];
    tb_put(b, "[", 1);
    for (size_t i = 0; s && i < s->n_fields; i++) {
        tb_printf(b, "%s{", i ? "," : "");
        js_key(b, "name");
        js_str(b, s->fields[i]->name);
        tb_put(b, ",", 1);
        js_key(b, "type");
        js_str(b, type_text(s->fields[i]->type, tn, sizeof tn));
        tb_put(b, "}", 1);
    }
    tb_put(b, "]", 1);
}

static void js_named(tbuf *b, Millrace__NamedExpr *const *v, size_t n)
{
    tb_put(b, "[", 1);
    for (size_t i = 0; i < n; i++) {
        tb_printf(b, "%s{", i ? "," : "");
        js_key(b, "name");
        js_str(b, v[i]->name);
        tb_put(b, ",", 1);
        js_key(b, "expr");
        js_str(b, v[i]->expr);
        tb_put(b, "}", 1);
    }
    tb_put(b, "]", 1);
}

static const char *kind_name(Millrace__OpKind k)
{
    switch (k) {
    case MILLRACE__OP_KIND__OP_SCAN: return "scan";
    case MILLRACE__OP_KIND__OP_SHUFFLE_READ: return "shuffle_read";
    case MILLRACE__OP_KIND__OP_FILTER: return "filter";
    case MILLRACE__OP_KIND__OP_PROJECT: return "project";
    case MILLRACE__OP_KIND__OP_AGG_PARTIAL: return "agg_partial";
    case MILLRACE__OP_KIND__OP_AGG_FINAL: return "agg_final";
    case MILLRACE__OP_KIND__OP_HASHJOIN: return "hashjoin";
    case MILLRACE__OP_KIND__OP_UNION: return "union";
    case MILLRACE__OP_KIND__OP_DISTINCT: return "distinct";
    case MILLRACE__OP_KIND__OP_SORT: return "sort";
    case MILLRACE__OP_KIND__OP_LIMIT: return "limit";
    default: return "unknown";
    }
}

static void js_read(tbuf *b, const Millrace__ReadSpec *r)
{
    static const char *const on_error[] = {"fail", "skip", "reject"};
    tb_put(b, ",\"read\":{", 9);
    js_key(b, "format");
    js_str(b, r->format);
    tb_put(b, ",", 1);
    js_key(b, "path");
    js_str(b, r->path);
    tb_printf(b, ",\"on_error\":\"%s\",\"max_errors\":%lld",
              (unsigned)r->on_error < 3 ? on_error[r->on_error] : "fail", (long long)r->max_errors);
    if (r->csv) {
        tb_printf(b, ",\"csv\":{\"header\":%s,", r->csv->header ? "true" : "false");
        js_key(b, "delimiter");
        js_str(b, r->csv->delimiter);
        tb_put(b, ",", 1);
        js_key(b, "quote");
        js_str(b, r->csv->quote);
        tb_put(b, ",", 1);
        js_key(b, "null");
        js_str(b, r->csv->null_string);
        tb_put(b, "}", 1);
    }
    tb_put(b, "}", 1);
}

static void js_op(tbuf *b, const Millrace__OpSpec *op)
{
    tb_put(b, "{", 1);
    js_key(b, "kind");
    js_str(b, kind_name(op->kind));
    tb_put(b, ",", 1);
    js_key(b, "node");
    js_str(b, op->node);
    tb_put(b, ",", 1);
    js_key(b, "output");
    js_schema(b, op->output);
    if (op->n_exprs) {
        tb_put(b, ",", 1);
        js_key(b, "exprs");
        js_named(b, op->exprs, op->n_exprs);
    }
    if (op->kind == MILLRACE__OP_KIND__OP_AGG_PARTIAL || op->kind == MILLRACE__OP_KIND__OP_AGG_FINAL) {
        tb_put(b, ",", 1);
        js_key(b, "group_by");
        js_strings(b, op->group_by, op->n_group_by);
        tb_put(b, ",", 1);
        js_key(b, "aggregates");
        js_named(b, op->aggregates, op->n_aggregates);
    }
    if (op->n_children) {
        tb_put(b, ",\"children\":[", 13);
        for (size_t i = 0; i < op->n_children; i++)
            tb_printf(b, "%s%u", i ? "," : "", op->children[i]);
        tb_put(b, "]", 1);
    }
    switch (op->kind) {
    case MILLRACE__OP_KIND__OP_SHUFFLE_READ:
        tb_printf(b, ",\"input_stage\":%u", op->input_stage);
        break;
    case MILLRACE__OP_KIND__OP_HASHJOIN:
        tb_put(b, ",", 1);
        js_key(b, "join_type");
        js_str(b, op->join_type);
        tb_put(b, ",", 1);
        js_key(b, "left_keys");
        js_strings(b, op->left_keys, op->n_left_keys);
        tb_put(b, ",", 1);
        js_key(b, "right_keys");
        js_strings(b, op->right_keys, op->n_right_keys);
        tb_put(b, ",", 1);
        js_key(b, "right_prefix");
        js_str(b, op->right_prefix);
        break;
    case MILLRACE__OP_KIND__OP_SORT:
        tb_put(b, ",", 1);
        js_key(b, "sort_keys");
        js_strings(b, op->sort_keys, op->n_sort_keys);
        tb_printf(b, ",\"limit\":%lld", (long long)op->limit);
        break;
    case MILLRACE__OP_KIND__OP_LIMIT:
        tb_printf(b, ",\"limit\":%lld", (long long)op->limit);
        break;
    case MILLRACE__OP_KIND__OP_DISTINCT:
        tb_put(b, ",", 1);
        js_key(b, "columns");
        js_strings(b, op->columns, op->n_columns);
        break;
    case MILLRACE__OP_KIND__OP_UNION:
        tb_printf(b, ",\"distinct\":%s", op->distinct ? "true" : "false");
        break;
    default:
        break;
    }
    if (op->read)
        js_read(b, op->read);
    tb_put(b, "}", 1);
}

static void js_write(tbuf *b, const Millrace__WriteSpec *w)
{
    static const char *const keys[] = {"node", "target", "table", "mode", "path"};
    const char *vals[] = {w->node, w->target, w->table, w->mode, w->path};
    tb_put(b, "{", 1);
    for (size_t i = 0; i < 5; i++) {
        js_key(b, keys[i]);
        js_str(b, vals[i]);
        tb_put(b, ",", 1);
    }
    js_key(b, "key");
    js_strings(b, w->key, w->n_key);
    tb_put(b, ",", 1);
    js_key(b, "schema");
    js_schema(b, w->schema);
    tb_put(b, "}", 1);
}

char *mr_plan_json(const Millrace__JobPlan *plan)
{
    tbuf b = {0};
    tb_put(&b, "{", 1);
    js_key(&b, "name");
    js_str(&b, plan->name);
    tb_put(&b, ",\"stages\":[", 11);
    for (size_t s = 0; s < plan->n_stages; s++) {
        const Millrace__Stage *st = plan->stages[s];
        tb_printf(&b, "%s{\"id\":%u,\"partitions\":%u,\"inputs\":[", s ? "," : "", st->id,
                  st->partitions);
        for (size_t k = 0; k < st->n_inputs; k++)
            tb_printf(&b, "%s%u", k ? "," : "", st->inputs[k]);
        tb_put(&b, "],\"operators\":[", 15);
        for (size_t i = 0; i < st->n_ops; i++) {
            if (i)
                tb_put(&b, ",", 1);
            js_op(&b, st->ops[i]);
        }
        tb_put(&b, "],\"shuffle\":", 12);
        if (st->shuffle) {
            tb_printf(&b, "{\"partitions\":%u,\"keys\":", st->shuffle->partitions);
            js_strings(&b, st->shuffle->keys, st->shuffle->n_keys);
            tb_printf(&b, ",\"round_robin\":%s}", st->shuffle->round_robin ? "true" : "false");
        } else {
            tb_put(&b, "null", 4);
        }
        tb_put(&b, ",\"write\":", 9);
        if (st->write)
            js_write(&b, st->write);
        else
            tb_put(&b, "null", 4);
        tb_put(&b, "}", 1);
    }
    tb_put(&b, "],\"warehouse\":", 14);
    if (plan->warehouse) {
        tb_put(&b, "{", 1);
        js_key(&b, "driver");
        js_str(&b, plan->warehouse->driver);
        tb_put(&b, ",", 1);
        js_key(&b, "path");
        js_str(&b, plan->warehouse->path);
        tb_put(&b, ",", 1);
        js_key(&b, "schema");
        js_str(&b, plan->warehouse->schema);
        tb_put(&b, "}", 1);
    } else {
        tb_put(&b, "null", 4);
    }
    tb_put(&b, ",", 1);
    js_key(&b, "post_sql");
    js_strings(&b, plan->post_sql, plan->n_post_sql);
    tb_put(&b, "}", 1);
    return tb_finish(&b);
}
