/* explain.c - a compiled plan rendered for people (text) and for the REST
 * API (JSON, built with cJSON).
 *
 * Both walk the plan once; an allocation failure is remembered and turns the
 * result into NULL at the end.  The text form is stable (golden tests
 * compare it byte for byte):
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
#include "proto/plan_names.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* The explain side of the registry of plan operator kinds: how each kind
 * reads in text and in JSON.  A kind without a label function prints as
 * "TEXT NODE"; json adds the keys particular to the kind (NULL: none). */
typedef struct explain_op {
    const char *text;  /* the text form's word(s) */
    const char *json;  /* the JSON "kind" */
    void (*label)(mr_strbuf *b, const Millrace__OpSpec *op);
    void (*keys)(cJSON *o, const Millrace__OpSpec *op, int *bad);
} explain_op;

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

static void sort_keys_text(mr_strbuf *b, Millrace__SortKey *const *k, size_t n);

static void explain_write(mr_strbuf *b, const Millrace__WriteSpec *w)
{
    mr_strbuf_printf(b, " -> write %s (", w->node);
    const char *mode = mr_plan_name(mr_plan_mode_names, w->mode);
    if (w->target == MILLRACE__WRITE_TARGET__TARGET_WAREHOUSE)
        mr_strbuf_printf(b, "warehouse table %s, %s", w->table, mode);
    else
        mr_strbuf_printf(b, "%s to %s, %s", mr_plan_name(mr_plan_target_names, w->target),
                         w->path, mode);
    if (w->n_key > 0) {
        mr_strbuf_printf(b, " on ");
        for (size_t i = 0; i < w->n_key; i++)
            mr_strbuf_printf(b, "%s%s", i ? ", " : "", w->key[i]);
    }
    if (w->n_dedupe > 0) {
        mr_strbuf_puts(b, ", dedupe by ");
        sort_keys_text(b, w->dedupe, w->n_dedupe);
    }
    if (*w->delete_column)
        mr_strbuf_printf(b, ", delete where %s", w->delete_where);
    if (w->on_schema_change != MILLRACE__SCHEMA_CHANGE__SCHEMA_FAIL)
        mr_strbuf_printf(b, ", on schema change %s",
                         mr_plan_name(mr_plan_schema_change_names, w->on_schema_change));
    mr_strbuf_printf(b, ")");
}

static void tb_list(mr_strbuf *b, char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        mr_strbuf_printf(b, "%s%s", i ? ", " : "", v[i]);
}

static void sort_keys_text(mr_strbuf *b, Millrace__SortKey *const *k, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        mr_strbuf_puts(b, i ? ", " : "");
        mr_plan_sort_key_text(b, k[i]);
    }
}

/* ---- per operator kind: its text label and its JSON keys ----------------- */

static void label_scan(mr_strbuf *b, const Millrace__OpSpec *op)
{
    mr_strbuf_printf(b, "read %s (%s", op->node,
                     op->read ? mr_plan_name(mr_plan_format_names, op->read->format) : "?");
    if (op->read && op->read->compression != MILLRACE__COMPRESSION__COMPRESSION_AUTO)
        mr_strbuf_printf(b, ", %s", mr_plan_name(mr_plan_compression_names, op->read->compression));
    if (op->read && op->read->incremental == MILLRACE__INCREMENTAL__INCREMENTAL_FILES)
        mr_strbuf_printf(b, ", new files only");
    else if (op->read && op->read->incremental == MILLRACE__INCREMENTAL__INCREMENTAL_COLUMN)
        mr_strbuf_printf(b, ", rows above the watermark of %s", op->read->incremental_column);
    mr_strbuf_printf(b, ")");
    /* column pruning: the columns decoded, of how many */
    if (op->read && op->read->n_columns && op->read->schema && op->output) {
        mr_strbuf_printf(b, " columns [");
        for (size_t i = 0; i < op->output->n_fields; i++)
            mr_strbuf_printf(b, "%s%s", i ? ", " : "", op->output->fields[i]->name);
        mr_strbuf_printf(b, "] of %zu", op->read->schema->n_fields);
    }
    if (op->read && op->read->filter && op->read->filter[0])
        mr_strbuf_printf(b, " where %s (pushed down)", op->read->filter);
    if (op->read && op->read->broadcast)
        mr_strbuf_printf(b, " (broadcast: every task reads all of it)");
}

/* A filter that pushdown moved says so, with its condition. */
static void label_filter(mr_strbuf *b, const Millrace__OpSpec *op)
{
    mr_strbuf_printf(b, "filter %s", op->node);
    if (op->filter->pushed)
        mr_strbuf_printf(b, " (pushed down: %s)", op->filter->predicate);
}

static void label_shuffle_read(mr_strbuf *b, const Millrace__OpSpec *op)
{
    mr_strbuf_printf(b, "shuffle read <- stage %u", op->shuffle_read->input_stage);
}

static void label_join(mr_strbuf *b, const Millrace__OpSpec *op)
{
    const Millrace__HashJoinOp *h = op->hashjoin;
    mr_strbuf_printf(b, "join %s (%s on ", op->node, mr_plan_name(mr_plan_join_names, h->kind));
    for (size_t k = 0; k < h->n_left_keys && k < h->n_right_keys; k++) {
        mr_strbuf_printf(b, "%s%s", k ? ", " : "", h->left_keys[k]);
        if (strcmp(h->left_keys[k], h->right_keys[k]) != 0)
            mr_strbuf_printf(b, " = %s", h->right_keys[k]);
    }
    if (h->right_prefix && h->right_prefix[0])
        mr_strbuf_printf(b, ", right_prefix %s", h->right_prefix);
    mr_strbuf_printf(b, ")");
    /* a broadcast join says so and why (dag/op_join.c) */
    if (h->broadcast)
        mr_strbuf_printf(b, " broadcast: %s", h->broadcast_reason);
}

static void label_distinct(mr_strbuf *b, const Millrace__OpSpec *op)
{
    mr_strbuf_printf(b, "distinct %s", op->node);
    if (op->distinct->n_columns) {
        mr_strbuf_printf(b, " (");
        tb_list(b, op->distinct->columns, op->distinct->n_columns);
        mr_strbuf_printf(b, ")");
    }
}

static void label_sort(mr_strbuf *b, const Millrace__OpSpec *op)
{
    mr_strbuf_printf(b, "sort %s (", op->node);
    sort_keys_text(b, op->sort->keys, op->sort->n_keys);
    mr_strbuf_printf(b, ")");
    if (op->sort->limit >= 0)
        mr_strbuf_printf(b, " top %lld", (long long)op->sort->limit);
}

/* window w (partition by a, b order by c desc: rn, total) */
static void label_window(mr_strbuf *b, const Millrace__OpSpec *op)
{
    const Millrace__WindowOp *w = op->window;
    mr_strbuf_printf(b, "window %s (", op->node);
    if (w->n_partition_by) {
        mr_strbuf_printf(b, "partition by ");
        tb_list(b, w->partition_by, w->n_partition_by);
        mr_strbuf_printf(b, w->n_order_by ? " " : "");
    }
    if (w->n_order_by) {
        mr_strbuf_printf(b, "order by ");
        sort_keys_text(b, w->order_by, w->n_order_by);
    }
    mr_strbuf_printf(b, "%s", w->n_partition_by || w->n_order_by ? ": " : "");
    for (size_t i = 0; i < w->n_columns; i++)
        mr_strbuf_printf(b, "%s%s", i ? ", " : "", w->columns[i]->name);
    mr_strbuf_printf(b, ")");
}

static void label_limit(mr_strbuf *b, const Millrace__OpSpec *op)
{
    mr_strbuf_printf(b, "limit %s (%lld)", op->node, (long long)op->limit->n);
}

/* unnest u (tags as tag int64, keep empty) */
static void label_unnest(mr_strbuf *b, const Millrace__OpSpec *op)
{
    const Millrace__UnnestOp *u = op->unnest;
    mr_strbuf_printf(b, "unnest %s (%s as %s %s%s)", op->node, u->column, u->as, u->type,
                     u->keep_empty ? ", keep empty" : "");
}

/* check c (not_null: expect x is not null [reject], ids: unique (id), ...) */
static void label_check(mr_strbuf *b, const Millrace__OpSpec *op)
{
    const Millrace__CheckOp *k = op->check;
    mr_strbuf_printf(b, "check %s (", op->node);
    for (size_t i = 0; i < k->n_rules; i++) {
        const Millrace__CheckRule *r = k->rules[i];
        mr_strbuf_printf(b, "%s%s: %s", i ? ", " : "", r->name,
                         mr_plan_name(mr_plan_check_kind_names, r->kind));
        if (r->kind == MILLRACE__CHECK_KIND__CHECK_EXPECT)
            mr_strbuf_printf(b, " %s", r->expr);
        else if (r->kind == MILLRACE__CHECK_KIND__CHECK_AGGREGATE)
            mr_strbuf_printf(b, " %s", r->text);
        else if (r->kind == MILLRACE__CHECK_KIND__CHECK_UNIQUE) {
            mr_strbuf_printf(b, " (");
            tb_list(b, r->columns, r->n_columns);
            mr_strbuf_printf(b, ")");
        } else {
            if (r->has_min)
                mr_strbuf_printf(b, " >= %lld", (long long)r->min);
            if (r->has_max)
                mr_strbuf_printf(b, "%s <= %lld", r->has_min ? " and" : "", (long long)r->max);
        }
        mr_strbuf_printf(b, " [%s]", mr_plan_name(mr_plan_check_action_names, r->action));
    }
    mr_strbuf_printf(b, ")");
}

static const explain_op *explain_find(Millrace__OpKind k);

/* One operator's label: its kind, node and what it does. */
static void explain_label(mr_strbuf *b, const Millrace__OpSpec *op)
{
    const explain_op *e = mr_plan_op_ok(op) ? explain_find(op->kind) : NULL;
    if (e && e->label)
        e->label(b, op);
    else if (e)
        mr_strbuf_printf(b, "%s %s", e->text, op->node);
    else
        mr_strbuf_printf(b, "op%d %s", (int)op->kind, op->node);
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
        if (wh->driver == MILLRACE__WAREHOUSE_DRIVER__DRIVER_POSTGRES)
            mr_strbuf_printf(&b, "warehouse: postgres%s%s\n", wh->schema[0] ? ", schema " : "",
                      wh->schema);
        else
            mr_strbuf_printf(&b, "warehouse: %s %s\n",
                             mr_plan_name(mr_plan_driver_names, wh->driver), wh->path);
    }
    for (size_t i = 0; i < plan->n_post_sql; i++)
        mr_strbuf_printf(&b, "post_sql %zu: %s\n", i + 1, plan->post_sql[i]);
    return tb_finish(&b);
}

/* ---- JSON ---------------------------------------------------------------- */

/* The builders below add to a cJSON tree; any allocation that fails sets
 * *bad, and mr_plan_json then returns NULL rather than a plan with holes. */

static cJSON *js_add(cJSON *obj, const char *key, cJSON *item, int *bad)
{
    if (!item || !cJSON_AddItemToObject(obj, key, item)) {
        cJSON_Delete(item);
        *bad = 1;
        return NULL;
    }
    return item;
}

static void js_push(cJSON *arr, cJSON *item, int *bad)
{
    if (!item || !cJSON_AddItemToArray(arr, item)) {
        cJSON_Delete(item);
        *bad = 1;
    }
}

static void js_str(cJSON *obj, const char *key, const char *s, int *bad)
{
    js_add(obj, key, cJSON_CreateString(s ? s : ""), bad);
}

/* A 64-bit integer written with all its digits (a double would round
 * values above 2^53). */
static void js_int(cJSON *obj, const char *key, long long v, int *bad)
{
    char num[24];
    snprintf(num, sizeof num, "%lld", v);
    js_add(obj, key, cJSON_CreateRaw(num), bad);
}

static void js_uints(cJSON *obj, const char *key, const uint32_t *v, size_t n, int *bad)
{
    cJSON *a = js_add(obj, key, cJSON_CreateArray(), bad);
    for (size_t i = 0; a && i < n; i++)
        js_push(a, cJSON_CreateNumber(v[i]), bad);
}

static void js_strings(cJSON *obj, const char *key, char *const *v, size_t n, int *bad)
{
    cJSON *a = js_add(obj, key, cJSON_CreateArray(), bad);
    for (size_t i = 0; a && i < n; i++)
        js_push(a, cJSON_CreateString(v[i] ? v[i] : ""), bad);
}

static void js_schema(cJSON *obj, const char *key, const Millrace__Schema *s, int *bad)
{
    char tn[48];
    cJSON *a = js_add(obj, key, cJSON_CreateArray(), bad);
    for (size_t i = 0; a && s && i < s->n_fields; i++) {
        cJSON *f = cJSON_CreateObject();
        js_push(a, f, bad);
        if (!f)
            return;
        js_str(f, "name", s->fields[i]->name, bad);
        js_str(f, "type", type_text(s->fields[i]->type, tn, sizeof tn), bad);
    }
}

static void js_named(cJSON *obj, const char *key, Millrace__NamedExpr *const *v, size_t n,
                     int *bad)
{
    cJSON *a = js_add(obj, key, cJSON_CreateArray(), bad);
    for (size_t i = 0; a && i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        js_push(a, e, bad);
        if (!e)
            return;
        js_str(e, "name", v[i]->name, bad);
        js_str(e, "expr", v[i]->expr, bad);
    }
}

static void js_read(cJSON *obj, const Millrace__ReadSpec *r, int *bad)
{
    static const char *const on_error[] = {"fail", "skip", "reject"};
    cJSON *o = js_add(obj, "read", cJSON_CreateObject(), bad);
    if (!o)
        return;
    js_str(o, "format", mr_plan_name(mr_plan_format_names, r->format), bad);
    js_str(o, "path", r->path, bad);
    js_str(o, "on_error", (unsigned)r->on_error < 3 ? on_error[r->on_error] : "fail", bad);
    js_int(o, "max_errors", (long long)r->max_errors, bad);
    if (r->compression != MILLRACE__COMPRESSION__COMPRESSION_AUTO)
        js_str(o, "compression", mr_plan_name(mr_plan_compression_names, r->compression), bad);
    if (r->incremental == MILLRACE__INCREMENTAL__INCREMENTAL_FILES)
        js_str(o, "incremental", "files", bad);
    else if (r->incremental == MILLRACE__INCREMENTAL__INCREMENTAL_COLUMN)
        js_str(o, "incremental_column", r->incremental_column, bad);
    if (r->csv) {
        cJSON *c = js_add(o, "csv", cJSON_CreateObject(), bad);
        if (!c)
            return;
        js_add(c, "header", cJSON_CreateBool(r->csv->header), bad);
        js_str(c, "delimiter", r->csv->delimiter, bad);
        js_str(c, "quote", r->csv->quote, bad);
        js_str(c, "null", r->csv->null_string, bad);
    }
}

/* A pruned scan: how many columns the file has (its output lists those
 * it decodes). */
static void keys_scan(cJSON *o, const Millrace__OpSpec *op, int *bad)
{
    if (op->read && op->read->n_columns && op->read->schema)
        js_add(o, "file_columns", cJSON_CreateNumber((double)op->read->schema->n_fields), bad);
    if (op->read && op->read->filter && op->read->filter[0])
        js_add(o, "filter", cJSON_CreateString(op->read->filter), bad);
    if (op->read && op->read->broadcast)
        js_add(o, "broadcast", cJSON_CreateBool(1), bad);
}

/* A filter shows as one unnamed expression, a project as its list. */
static void keys_filter(cJSON *o, const Millrace__OpSpec *op, int *bad)
{
    Millrace__NamedExpr e = MILLRACE__NAMED_EXPR__INIT, *v = &e;
    e.name = "";
    e.expr = op->filter->predicate;
    js_named(o, "exprs", &v, 1, bad);
    if (op->filter->pushed)
        js_add(o, "pushed", cJSON_CreateBool(1), bad);
}

static void keys_project(cJSON *o, const Millrace__OpSpec *op, int *bad)
{
    if (op->project->n_exprs)
        js_named(o, "exprs", op->project->exprs, op->project->n_exprs, bad);
}

static void keys_agg(cJSON *o, const Millrace__OpSpec *op, int *bad)
{
    js_strings(o, "group_by", op->agg->group_by, op->agg->n_group_by, bad);
    js_named(o, "aggregates", op->agg->aggregates, op->agg->n_aggregates, bad);
}

static void keys_shuffle_read(cJSON *o, const Millrace__OpSpec *op, int *bad)
{
    js_add(o, "input_stage", cJSON_CreateNumber(op->shuffle_read->input_stage), bad);
}

static void keys_join(cJSON *o, const Millrace__OpSpec *op, int *bad)
{
    const Millrace__HashJoinOp *h = op->hashjoin;
    js_str(o, "join_type", mr_plan_name(mr_plan_join_names, h->kind), bad);
    js_strings(o, "left_keys", h->left_keys, h->n_left_keys, bad);
    js_strings(o, "right_keys", h->right_keys, h->n_right_keys, bad);
    js_str(o, "right_prefix", h->right_prefix, bad);
    if (h->broadcast) {
        js_add(o, "broadcast", cJSON_CreateBool(1), bad);
        js_str(o, "broadcast_reason", h->broadcast_reason, bad);
    }
}

static void keys_sort(cJSON *o, const Millrace__OpSpec *op, int *bad)
{
    cJSON *a = js_add(o, "sort_keys", cJSON_CreateArray(), bad);
    for (size_t i = 0; a && i < op->sort->n_keys; i++) {
        mr_strbuf t = {0};
        mr_plan_sort_key_text(&t, op->sort->keys[i]);
        js_push(a, t.oom ? NULL : cJSON_CreateString(t.p ? t.p : ""), bad);
        free(t.p);
    }
    js_int(o, "limit", (long long)op->sort->limit, bad);
}

static void keys_window(cJSON *o, const Millrace__OpSpec *op, int *bad)
{
    const Millrace__WindowOp *w = op->window;
    js_strings(o, "partition_by", w->partition_by, w->n_partition_by, bad);
    cJSON *a = js_add(o, "order_by", cJSON_CreateArray(), bad);
    for (size_t i = 0; a && i < w->n_order_by; i++) {
        mr_strbuf t = {0};
        mr_plan_sort_key_text(&t, w->order_by[i]);
        js_push(a, t.oom ? NULL : cJSON_CreateString(t.p ? t.p : ""), bad);
        free(t.p);
    }
    js_named(o, "columns", w->columns, w->n_columns, bad);
}

static void keys_limit(cJSON *o, const Millrace__OpSpec *op, int *bad)
{
    js_int(o, "limit", (long long)op->limit->n, bad);
}

static void keys_distinct(cJSON *o, const Millrace__OpSpec *op, int *bad)
{
    js_strings(o, "columns", op->distinct->columns, op->distinct->n_columns, bad);
}

static void keys_union(cJSON *o, const Millrace__OpSpec *op, int *bad)
{
    js_add(o, "distinct", cJSON_CreateBool(op->union_op->distinct), bad);
}

static void keys_check(cJSON *o, const Millrace__OpSpec *op, int *bad)
{
    cJSON *a = js_add(o, "rules", cJSON_CreateArray(), bad);
    for (size_t i = 0; a && i < op->check->n_rules; i++) {
        const Millrace__CheckRule *r = op->check->rules[i];
        cJSON *x = cJSON_CreateObject();
        js_push(a, x, bad);
        if (!x)
            return;
        js_str(x, "name", r->name, bad);
        js_str(x, "kind", mr_plan_name(mr_plan_check_kind_names, r->kind), bad);
        js_str(x, "on_fail", mr_plan_name(mr_plan_check_action_names, r->action), bad);
        if (r->kind == MILLRACE__CHECK_KIND__CHECK_EXPECT)
            js_str(x, "expect", r->expr, bad);
        if (r->kind == MILLRACE__CHECK_KIND__CHECK_AGGREGATE)
            js_str(x, "aggregate", r->text, bad);
        if (r->kind == MILLRACE__CHECK_KIND__CHECK_UNIQUE)
            js_strings(x, "unique", r->columns, r->n_columns, bad);
        if (r->has_min)
            js_int(x, "min", (long long)r->min, bad);
        if (r->has_max)
            js_int(x, "max", (long long)r->max, bad);
    }
}

static void keys_unnest(cJSON *o, const Millrace__OpSpec *op, int *bad)
{
    js_str(o, "column", op->unnest->column, bad);
    js_str(o, "as", op->unnest->as, bad);
    js_str(o, "type", op->unnest->type, bad);
    js_add(o, "keep_empty", cJSON_CreateBool(op->unnest->keep_empty), bad);
}

#define K(x) MILLRACE__OP_KIND__OP_##x
static const explain_op explain_ops[] = {
    [K(SCAN)] = {"read", "scan", label_scan, keys_scan},
    [K(SHUFFLE_READ)] = {"shuffle read", "shuffle_read", label_shuffle_read, keys_shuffle_read},
    [K(FILTER)] = {"filter", "filter", label_filter, keys_filter},
    [K(PROJECT)] = {"project", "project", NULL, keys_project},
    [K(AGG_PARTIAL)] = {"partial aggregate", "agg_partial", NULL, keys_agg},
    [K(AGG_FINAL)] = {"final aggregate", "agg_final", NULL, keys_agg},
    [K(HASHJOIN)] = {"join", "hashjoin", label_join, keys_join},
    [K(UNION)] = {"union", "union", NULL, keys_union},
    [K(DISTINCT)] = {"distinct", "distinct", label_distinct, keys_distinct},
    [K(SORT)] = {"sort", "sort", label_sort, keys_sort},
    [K(LIMIT)] = {"limit", "limit", label_limit, keys_limit},
    [K(WINDOW)] = {"window", "window", label_window, keys_window},
    [K(CHECK)] = {"check", "check", label_check, keys_check},
    [K(UNNEST)] = {"unnest", "unnest", label_unnest, keys_unnest},
};
#undef K

static const explain_op *explain_find(Millrace__OpKind k)
{
    size_t n = sizeof explain_ops / sizeof *explain_ops;
    return (size_t)k < n && explain_ops[k].json ? &explain_ops[k] : NULL;
}

static void js_op(cJSON *arr, const Millrace__OpSpec *op, int *bad)
{
    const explain_op *e = mr_plan_op_ok(op) ? explain_find(op->kind) : NULL;
    cJSON *o = cJSON_CreateObject();
    js_push(arr, o, bad);
    if (!o)
        return;
    js_str(o, "kind", e ? e->json : "unknown", bad);
    js_str(o, "node", op->node, bad);
    js_schema(o, "output", op->output, bad);
    if (op->n_children)
        js_uints(o, "children", op->children, op->n_children, bad);
    if (e && e->keys)
        e->keys(o, op, bad);
    if (e && op->op_case == MILLRACE__OP_SPEC__OP_READ)
        js_read(o, op->read, bad);
}

static void js_write(cJSON *obj, const Millrace__WriteSpec *w, int *bad)
{
    if (!w) {
        js_add(obj, "write", cJSON_CreateNull(), bad);
        return;
    }
    cJSON *o = js_add(obj, "write", cJSON_CreateObject(), bad);
    if (!o)
        return;
    js_str(o, "node", w->node, bad);
    js_str(o, "target", mr_plan_name(mr_plan_target_names, w->target), bad);
    js_str(o, "table", w->table, bad);
    js_str(o, "mode", mr_plan_name(mr_plan_mode_names, w->mode), bad);
    js_str(o, "path", w->path, bad);
    js_strings(o, "key", w->key, w->n_key, bad);
    js_schema(o, "schema", w->schema, bad);
    /* the MERGE and schema-change options only when set, so the plan of a
     * write without them reads as before */
    cJSON *a = w->n_dedupe > 0 ? js_add(o, "dedupe", cJSON_CreateArray(), bad) : NULL;
    for (size_t i = 0; a && i < w->n_dedupe; i++) {
        mr_strbuf t = {0};
        mr_plan_sort_key_text(&t, w->dedupe[i]);
        js_push(a, t.oom ? NULL : cJSON_CreateString(t.p ? t.p : ""), bad);
        free(t.p);
    }
    if (*w->delete_column) {
        js_str(o, "delete_where", w->delete_where, bad);
        js_str(o, "delete_column", w->delete_column, bad);
    }
    if (w->on_schema_change != MILLRACE__SCHEMA_CHANGE__SCHEMA_FAIL)
        js_str(o, "on_schema_change",
               mr_plan_name(mr_plan_schema_change_names, w->on_schema_change), bad);
}

static void js_stage(cJSON *arr, const Millrace__Stage *st, int *bad)
{
    cJSON *o = cJSON_CreateObject();
    js_push(arr, o, bad);
    if (!o)
        return;
    js_add(o, "id", cJSON_CreateNumber(st->id), bad);
    js_add(o, "partitions", cJSON_CreateNumber(st->partitions), bad);
    js_uints(o, "inputs", st->inputs, st->n_inputs, bad);
    cJSON *ops = js_add(o, "operators", cJSON_CreateArray(), bad);
    for (size_t i = 0; ops && i < st->n_ops; i++)
        js_op(ops, st->ops[i], bad);
    if (st->shuffle) {
        cJSON *sh = js_add(o, "shuffle", cJSON_CreateObject(), bad);
        if (sh) {
            js_add(sh, "partitions", cJSON_CreateNumber(st->shuffle->partitions), bad);
            js_strings(sh, "keys", st->shuffle->keys, st->shuffle->n_keys, bad);
            js_add(sh, "round_robin", cJSON_CreateBool(st->shuffle->round_robin), bad);
        }
    } else {
        js_add(o, "shuffle", cJSON_CreateNull(), bad);
    }
    js_write(o, st->write, bad);
}

char *mr_plan_json(const Millrace__JobPlan *plan)
{
    int bad = 0;
    char *text = NULL;
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    js_str(root, "name", plan->name, &bad);
    cJSON *stages = js_add(root, "stages", cJSON_CreateArray(), &bad);
    for (size_t s = 0; stages && s < plan->n_stages; s++)
        js_stage(stages, plan->stages[s], &bad);
    if (plan->warehouse) {
        cJSON *w = js_add(root, "warehouse", cJSON_CreateObject(), &bad);
        if (w) {
            js_str(w, "driver", mr_plan_name(mr_plan_driver_names, plan->warehouse->driver), &bad);
            js_str(w, "path", plan->warehouse->path, &bad);
            js_str(w, "schema", plan->warehouse->schema, &bad);
        }
    } else {
        js_add(root, "warehouse", cJSON_CreateNull(), &bad);
    }
    js_strings(root, "post_sql", plan->post_sql, plan->n_post_sql, &bad);
    if (!bad)
        text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return text;
}
