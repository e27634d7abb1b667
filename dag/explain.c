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

#include "core/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static char *tb_finish(mr_strbuf *b)
{
    if (b->oom) {
        free(b->p);
        return NULL;
    }
    if (!b->p)
        mr_strbuf_put(b, "", 0);
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

static void explain_write(mr_strbuf *b, const Millrace__WriteSpec *w)
{
    mr_strbuf_printf(b, " -> write %s (", w->node);
    if (strcmp(w->target, "warehouse") == 0)
        mr_strbuf_printf(b, "warehouse table %s, %s", w->table, w->mode);
    else
        mr_strbuf_printf(b, "%s to %s, %s", w->target, w->path, w->mode);
    if (w->n_key > 0) {
        mr_strbuf_printf(b, " on ");
        for (size_t i = 0; i < w->n_key; i++)
            mr_strbuf_printf(b, "%s%s", i ? ", " : "", w->key[i]);
    }
    mr_strbuf_printf(b, ")");
}

static void tb_list(mr_strbuf *b, char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        mr_strbuf_printf(b, "%s%s", i ? ", " : "", v[i]);
}

/* One operator's label: its kind, node and what it does. */
static void explain_label(mr_strbuf *b, const Millrace__OpSpec *op)
{
    switch (op->kind) {
    case MILLRACE__OP_KIND__OP_SCAN:
        mr_strbuf_printf(b, "read %s (%s)", op->node, op->read ? op->read->format : "?");
        break;
    case MILLRACE__OP_KIND__OP_SHUFFLE_READ:
        mr_strbuf_printf(b, "shuffle read <- stage %u", op->input_stage);
        break;
    case MILLRACE__OP_KIND__OP_FILTER: mr_strbuf_printf(b, "filter %s", op->node); break;
    case MILLRACE__OP_KIND__OP_PROJECT: mr_strbuf_printf(b, "project %s", op->node); break;
    case MILLRACE__OP_KIND__OP_AGG_PARTIAL: mr_strbuf_printf(b, "partial aggregate %s", op->node); break;
    case MILLRACE__OP_KIND__OP_AGG_FINAL: mr_strbuf_printf(b, "final aggregate %s", op->node); break;
    case MILLRACE__OP_KIND__OP_HASHJOIN:
        mr_strbuf_printf(b, "join %s (%s on ", op->node, op->join_type);
        for (size_t k = 0; k < op->n_left_keys && k < op->n_right_keys; k++) {
            mr_strbuf_printf(b, "%s%s", k ? ", " : "", op->left_keys[k]);
            if (strcmp(op->left_keys[k], op->right_keys[k]) != 0)
                mr_strbuf_printf(b, " = %s", op->right_keys[k]);
        }
        if (op->right_prefix && op->right_prefix[0])
            mr_strbuf_printf(b, ", right_prefix %s", op->right_prefix);
        mr_strbuf_printf(b, ")");
        break;
    case MILLRACE__OP_KIND__OP_UNION: mr_strbuf_printf(b, "union %s", op->node); break;
    case MILLRACE__OP_KIND__OP_DISTINCT:
        mr_strbuf_printf(b, "distinct %s", op->node);
        if (op->n_columns) {
            mr_strbuf_printf(b, " (");
            tb_list(b, op->columns, op->n_columns);
            mr_strbuf_printf(b, ")");
        }
        break;
    case MILLRACE__OP_KIND__OP_SORT:
        mr_strbuf_printf(b, "sort %s (", op->node);
        tb_list(b, op->sort_keys, op->n_sort_keys);
        mr_strbuf_printf(b, ")");
        if (op->limit >= 0)
            mr_strbuf_printf(b, " top %lld", (long long)op->limit);
        break;
    case MILLRACE__OP_KIND__OP_LIMIT:
        mr_strbuf_printf(b, "limit %s (%lld)", op->node, (long long)op->limit);
        break;
    default: mr_strbuf_printf(b, "op%d %s", (int)op->kind, op->node); break;
    }
}

/* Operator idx and its inputs: a chain reads left to right
 * ("read a (csv) -> filter b"); an operator with several inputs lists
 * them: "join j (...) <- [input 1, input 2]". */
static void explain_tree(mr_strbuf *b, const Millrace__Stage *st, size_t idx, int depth)
{
    const Millrace__OpSpec *op = st->ops[idx];
    int source = op->kind == MILLRACE__OP_KIND__OP_SCAN ||
                 op->kind == MILLRACE__OP_KIND__OP_SHUFFLE_READ;
    if (depth > 64) {
        mr_strbuf_printf(b, "...");
        return;
    }
    if (source || (op->n_children == 0 && idx == 0)) {
        explain_label(b, op);
    } else if (op->n_children == 0) {
        explain_tree(b, st, idx - 1, depth + 1);
        mr_strbuf_printf(b, " -> ");
        explain_label(b, op);
    } else if (op->n_children == 1 && op->children[0] < idx) {
        explain_tree(b, st, op->children[0], depth + 1);
        mr_strbuf_printf(b, " -> ");
        explain_label(b, op);
    } else {
        explain_label(b, op);
        mr_strbuf_printf(b, " <- [");
        for (size_t k = 0; k < op->n_children; k++) {
            if (k)
                mr_strbuf_printf(b, ", ");
            if (op->children[k] < idx)
                explain_tree(b, st, op->children[k], depth + 1);
            else
                mr_strbuf_printf(b, "?");
        }
        mr_strbuf_printf(b, "]");
    }
}

static void explain_columns(mr_strbuf *b, const Millrace__Schema *s)
{
    char tn[48];
    mr_strbuf_printf(b, "  columns:");
    for (size_t i = 0; s && i < s->n_fields; i++)
        mr_strbuf_printf(b, "%s %s %s", i ? "," : "", s->fields[i]->name,
                  type_text(s->fields[i]->type, tn, sizeof tn));
    mr_strbuf_printf(b, "\n");
}

char *mr_plan_explain(const Millrace__JobPlan *plan)
{
    mr_strbuf b = {0};
    mr_strbuf_printf(&b, "job %s: %zu stage%s\n", plan->name, plan->n_stages,
              plan->n_stages == 1 ? "" : "s");
    for (size_t s = 0; s < plan->n_stages; s++) {
        const Millrace__Stage *st = plan->stages[s];
        int scan = st->n_ops > 0 && st->ops[0]->kind == MILLRACE__OP_KIND__OP_SCAN;
        if (scan)
            mr_strbuf_printf(&b, "stage %u  [one task per input split]  ", st->id);
        else
            mr_strbuf_printf(&b, "stage %u  [%u task%s]  ", st->id, st->partitions,
                      st->partitions == 1 ? "" : "s");
        if (st->n_ops)
            explain_tree(&b, st, st->n_ops - 1, 0);
        if (st->write)
            explain_write(&b, st->write);
        mr_strbuf_printf(&b, "\n");
        if (st->shuffle) {
            size_t readers = 0;
            for (size_t t = 0; t < plan->n_stages; t++)
                for (size_t k = 0; k < plan->stages[t]->n_inputs; k++)
                    readers += plan->stages[t]->inputs[k] == st->id;
            mr_strbuf_printf(&b, "  shuffle -> stage%s", readers > 1 ? "s" : "");
            readers = 0;
            for (size_t t = 0; t < plan->n_stages; t++)
                for (size_t k = 0; k < plan->stages[t]->n_inputs; k++)
                    if (plan->stages[t]->inputs[k] == st->id)
                        mr_strbuf_printf(&b, "%s %u", readers++ ? "," : "", plan->stages[t]->id);
            uint32_t np = st->shuffle->partitions;
            if (st->shuffle->round_robin) {
                mr_strbuf_printf(&b, ": round robin into %u partition%s\n", np, np == 1 ? "" : "s");
            } else if (st->shuffle->n_keys == 0) {
                mr_strbuf_printf(&b, ": all rows into %u partition%s\n", np, np == 1 ? "" : "s");
            } else {
                mr_strbuf_printf(&b, ": hash(");
                tb_list(&b, st->shuffle->keys, st->shuffle->n_keys);
                mr_strbuf_printf(&b, ") into %u partition%s\n", np, np == 1 ? "" : "s");
            }
        }
        if (st->write)
            explain_columns(&b, st->write->schema);
    }
    const Millrace__Warehouse *wh = plan->warehouse;
    if (wh) {
        if (strcmp(wh->driver, "postgres") == 0)
            mr_strbuf_printf(&b, "warehouse: postgres%s%s\n", wh->schema[0] ? ", schema " : "",
                      wh->schema);
        else
            mr_strbuf_printf(&b, "warehouse: %s %s\n", wh->driver, wh->path);
    }
    for (size_t i = 0; i < plan->n_post_sql; i++)
        mr_strbuf_printf(&b, "post_sql %zu: %s\n", i + 1, plan->post_sql[i]);
    return tb_finish(&b);
}

/* ---- JSON ---------------------------------------------------------------- */

static void js_str(mr_strbuf *b, const char *s)
{
    mr_strbuf_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        switch (*p) {
        case '"': mr_strbuf_put(b, "\\\"", 2); break;
        case '\\': mr_strbuf_put(b, "\\\\", 2); break;
        case '\n': mr_strbuf_put(b, "\\n", 2); break;
        case '\r': mr_strbuf_put(b, "\\r", 2); break;
        case '\t': mr_strbuf_put(b, "\\t", 2); break;
        default:
            if (*p < 0x20)
                mr_strbuf_printf(b, "\\u%04x", *p);
            else
                mr_strbuf_put(b, (const char *)p, 1);
        }
    }
    mr_strbuf_put(b, "\"", 1);
}

static void js_key(mr_strbuf *b, const char *k)
{
    js_str(b, k);
    mr_strbuf_put(b, ":", 1);
}

static void js_strings(mr_strbuf *b, char *const *v, size_t n)
{
    mr_strbuf_put(b, "[", 1);
    for (size_t i = 0; i < n; i++) {
        if (i)
            mr_strbuf_put(b, ",", 1);
        js_str(b, v[i]);
    }
    mr_strbuf_put(b, "]", 1);
}

static void js_schema(mr_strbuf *b, const Millrace__Schema *s)
{
    char tn[48];
    mr_strbuf_put(b, "[", 1);
    for (size_t i = 0; s && i < s->n_fields; i++) {
        mr_strbuf_printf(b, "%s{", i ? "," : "");
        js_key(b, "name");
        js_str(b, s->fields[i]->name);
        mr_strbuf_put(b, ",", 1);
        js_key(b, "type");
        js_str(b, type_text(s->fields[i]->type, tn, sizeof tn));
        mr_strbuf_put(b, "}", 1);
    }
    mr_strbuf_put(b, "]", 1);
}

static void js_named(mr_strbuf *b, Millrace__NamedExpr *const *v, size_t n)
{
    mr_strbuf_put(b, "[", 1);
    for (size_t i = 0; i < n; i++) {
        mr_strbuf_printf(b, "%s{", i ? "," : "");
        js_key(b, "name");
        js_str(b, v[i]->name);
        mr_strbuf_put(b, ",", 1);
        js_key(b, "expr");
        js_str(b, v[i]->expr);
        mr_strbuf_put(b, "}", 1);
    }
    mr_strbuf_put(b, "]", 1);
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

static void js_read(mr_strbuf *b, const Millrace__ReadSpec *r)
{
    static const char *const on_error[] = {"fail", "skip", "reject"};
    mr_strbuf_put(b, ",\"read\":{", 9);
    js_key(b, "format");
    js_str(b, r->format);
    mr_strbuf_put(b, ",", 1);
    js_key(b, "path");
    js_str(b, r->path);
    mr_strbuf_printf(b, ",\"on_error\":\"%s\",\"max_errors\":%lld",
              (unsigned)r->on_error < 3 ? on_error[r->on_error] : "fail", (long long)r->max_errors);
    if (r->csv) {
        mr_strbuf_printf(b, ",\"csv\":{\"header\":%s,", r->csv->header ? "true" : "false");
        js_key(b, "delimiter");
        js_str(b, r->csv->delimiter);
        mr_strbuf_put(b, ",", 1);
        js_key(b, "quote");
        js_str(b, r->csv->quote);
        mr_strbuf_put(b, ",", 1);
        js_key(b, "null");
        js_str(b, r->csv->null_string);
        mr_strbuf_put(b, "}", 1);
    }
    mr_strbuf_put(b, "}", 1);
}

static void js_op(mr_strbuf *b, const Millrace__OpSpec *op)
{
    mr_strbuf_put(b, "{", 1);
    js_key(b, "kind");
    js_str(b, kind_name(op->kind));
    mr_strbuf_put(b, ",", 1);
    js_key(b, "node");
    js_str(b, op->node);
    mr_strbuf_put(b, ",", 1);
    js_key(b, "output");
    js_schema(b, op->output);
    if (op->n_exprs) {
        mr_strbuf_put(b, ",", 1);
        js_key(b, "exprs");
        js_named(b, op->exprs, op->n_exprs);
    }
    if (op->kind == MILLRACE__OP_KIND__OP_AGG_PARTIAL || op->kind == MILLRACE__OP_KIND__OP_AGG_FINAL) {
        mr_strbuf_put(b, ",", 1);
        js_key(b, "group_by");
        js_strings(b, op->group_by, op->n_group_by);
        mr_strbuf_put(b, ",", 1);
        js_key(b, "aggregates");
        js_named(b, op->aggregates, op->n_aggregates);
    }
    if (op->n_children) {
        mr_strbuf_put(b, ",\"children\":[", 13);
        for (size_t i = 0; i < op->n_children; i++)
            mr_strbuf_printf(b, "%s%u", i ? "," : "", op->children[i]);
        mr_strbuf_put(b, "]", 1);
    }
    switch (op->kind) {
    case MILLRACE__OP_KIND__OP_SHUFFLE_READ:
        mr_strbuf_printf(b, ",\"input_stage\":%u", op->input_stage);
        break;
    case MILLRACE__OP_KIND__OP_HASHJOIN:
        mr_strbuf_put(b, ",", 1);
        js_key(b, "join_type");
        js_str(b, op->join_type);
        mr_strbuf_put(b, ",", 1);
        js_key(b, "left_keys");
        js_strings(b, op->left_keys, op->n_left_keys);
        mr_strbuf_put(b, ",", 1);
        js_key(b, "right_keys");
        js_strings(b, op->right_keys, op->n_right_keys);
        mr_strbuf_put(b, ",", 1);
        js_key(b, "right_prefix");
        js_str(b, op->right_prefix);
        break;
    case MILLRACE__OP_KIND__OP_SORT:
        mr_strbuf_put(b, ",", 1);
        js_key(b, "sort_keys");
        js_strings(b, op->sort_keys, op->n_sort_keys);
        mr_strbuf_printf(b, ",\"limit\":%lld", (long long)op->limit);
        break;
    case MILLRACE__OP_KIND__OP_LIMIT:
        mr_strbuf_printf(b, ",\"limit\":%lld", (long long)op->limit);
        break;
    case MILLRACE__OP_KIND__OP_DISTINCT:
        mr_strbuf_put(b, ",", 1);
        js_key(b, "columns");
        js_strings(b, op->columns, op->n_columns);
        break;
    case MILLRACE__OP_KIND__OP_UNION:
        mr_strbuf_printf(b, ",\"distinct\":%s", op->distinct ? "true" : "false");
        break;
    default:
        break;
    }
    if (op->read)
        js_read(b, op->read);
    mr_strbuf_put(b, "}", 1);
}

static void js_write(mr_strbuf *b, const Millrace__WriteSpec *w)
{
    static const char *const keys[] = {"node", "target", "table", "mode", "path"};
    const char *vals[] = {w->node, w->target, w->table, w->mode, w->path};
    mr_strbuf_put(b, "{", 1);
    for (size_t i = 0; i < 5; i++) {
        js_key(b, keys[i]);
        js_str(b, vals[i]);
        mr_strbuf_put(b, ",", 1);
    }
    js_key(b, "key");
    js_strings(b, w->key, w->n_key);
    mr_strbuf_put(b, ",", 1);
    js_key(b, "schema");
    js_schema(b, w->schema);
    mr_strbuf_put(b, "}", 1);
}

char *mr_plan_json(const Millrace__JobPlan *plan)
{
    mr_strbuf b = {0};
    mr_strbuf_put(&b, "{", 1);
    js_key(&b, "name");
    js_str(&b, plan->name);
    mr_strbuf_put(&b, ",\"stages\":[", 11);
    for (size_t s = 0; s < plan->n_stages; s++) {
        const Millrace__Stage *st = plan->stages[s];
        mr_strbuf_printf(&b, "%s{\"id\":%u,\"partitions\":%u,\"inputs\":[", s ? "," : "", st->id,
                  st->partitions);
        for (size_t k = 0; k < st->n_inputs; k++)
            mr_strbuf_printf(&b, "%s%u", k ? "," : "", st->inputs[k]);
        mr_strbuf_put(&b, "],\"operators\":[", 15);
        for (size_t i = 0; i < st->n_ops; i++) {
            if (i)
                mr_strbuf_put(&b, ",", 1);
            js_op(&b, st->ops[i]);
        }
        mr_strbuf_put(&b, "],\"shuffle\":", 12);
        if (st->shuffle) {
            mr_strbuf_printf(&b, "{\"partitions\":%u,\"keys\":", st->shuffle->partitions);
            js_strings(&b, st->shuffle->keys, st->shuffle->n_keys);
            mr_strbuf_printf(&b, ",\"round_robin\":%s}", st->shuffle->round_robin ? "true" : "false");
        } else {
            mr_strbuf_put(&b, "null", 4);
        }
        mr_strbuf_put(&b, ",\"write\":", 9);
        if (st->write)
            js_write(&b, st->write);
        else
            mr_strbuf_put(&b, "null", 4);
        mr_strbuf_put(&b, "}", 1);
    }
    mr_strbuf_put(&b, "],\"warehouse\":", 14);
    if (plan->warehouse) {
        mr_strbuf_put(&b, "{", 1);
        js_key(&b, "driver");
        js_str(&b, plan->warehouse->driver);
        mr_strbuf_put(&b, ",", 1);
        js_key(&b, "path");
        js_str(&b, plan->warehouse->path);
        mr_strbuf_put(&b, ",", 1);
        js_key(&b, "schema");
        js_str(&b, plan->warehouse->schema);
        mr_strbuf_put(&b, "}", 1);
    } else {
        mr_strbuf_put(&b, "null", 4);
    }
    mr_strbuf_put(&b, ",", 1);
    js_key(&b, "post_sql");
    js_strings(&b, plan->post_sql, plan->n_post_sql);
    mr_strbuf_put(&b, "}", 1);
    return tb_finish(&b);
}
