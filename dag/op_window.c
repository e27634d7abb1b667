/* op_window.c - the window op: partition_by columns, order_by keys (as in
 * sort) and named window expressions (core/op/window.h).
 *
 * Compiles to a shuffle hashed on the partition columns (one partition
 * without any), a sort by (partition_by, order_by) and the window
 * operator, which sees each partition as a run of sorted rows.  The
 * expressions are checked by the operator's own parser
 * (mr_window_schema), so the validator and the executor agree.
 */
#include "dag/dag_ops.h"

#include <stdlib.h>
#include <string.h>

#include "core/op/window.h"

const dv_keyspec dag_window_keys[] = {
    {"op", 1, DV_K_STR},        {"input", 1, DV_K_STR},  {"partition_by", 0, DV_K_SEQ},
    {"order_by", 0, DV_K_SEQ},  {"columns", 1, DV_K_MAP}, {NULL, 0, 0},
};

/* One window column: its type from the operator's parser, or an error at
 * the expression's line and column. */
static int check_column(dag_ctx *c, dag_node *nd, const ynode *k, const ynode *v,
                        const mr_schema *in, const mr_window_order *order, mr_type *t)
{
    const char *name = k->text, *text = v->text;
    int bad;
    mr_err err;
    mr_err_clear(&err);
    mr_schema *s = mr_window_schema(in, order, &name, &text, 1, &bad, &err);
    if (s) {
        *t = s->fields[s->nfields - 1].type;
        mr_schema_destroy(s);
        return 0;
    }
    if (err.code == MR_ENOMEM)
        c->oom = 1;
    else if (err.offset < 0)
        dag_error(c, k, nd->id, "%s", err.msg);
    else
        dag_error_in(c, v, err.offset, nd->id, "in window column '%s': %s", name, err.msg);
    return -1;
}

mr_schema *dag_window_validate(dag_ctx *c, dag_node *nd, mr_schema *const *ins)
{
    const mr_schema *in = nd->ninputs > 0 ? ins[0] : NULL;
    const ynode *pb = ymap_get(nd->body, "partition_by"), *ob = ymap_get(nd->body, "order_by"),
                *cols = ymap_get(nd->body, "columns");
    int ok = 1;
    nd->group_by = NULL;
    nd->ngroup_by = 0;
    nd->nsort_keys = 0;
    if (pb && dv_column_list(c, nd, pb, in, "the input of the window", &nd->group_by,
                             &nd->ngroup_by) != 0)
        ok = 0;
    if (ob && ob->n > 0 &&
        dag_sort_keys_parse(c, nd, "order_by", ob, in, "the input of the window", &nd->sort_keys,
                            &nd->nsort_keys) != 0)
        ok = 0;
    if (cols->n == 0) {
        dag_error(c, cols, nd->id, "'columns' is empty: name at least one window expression, "
                  "such as rn: row_number()");
        return NULL;
    }
    dv_sbuild sb = {0};
    int check = in && !dv_has_placeholder(in);
    const char **ocols = dag_arena_alloc(&c->arena, ((size_t)nd->nsort_keys + 1) * sizeof *ocols);
    int *odesc = dag_arena_alloc(&c->arena, ((size_t)nd->nsort_keys + 1) * sizeof *odesc);
    if (!ocols || !odesc)
        return NULL;
    for (int i = 0; i < nd->nsort_keys; i++) {
        ocols[i] = nd->sort_keys[i].column;
        odesc[i] = nd->sort_keys[i].desc;
    }
    mr_window_order order = {ocols, odesc, nd->nsort_keys};
    for (int i = 0; in && i < in->nfields; i++)
        dv_sb_add(c, &sb, in->fields[i].name, in->fields[i].type);
    dv_named_alloc(c, &nd->aggs, cols->n);
    for (size_t i = 0; i < cols->n; i++) {
        const ynode *k = cols->items[2 * i], *v = cols->items[2 * i + 1];
        if (k->kind != YN_SCALAR)
            continue;
        if (v->kind != YN_SCALAR || yscalar_is_null(v)) {
            dag_error(c, v, nd->id, "window column '%s' needs an expression such as "
                      "row_number() or sum(x)", k->text);
            ok = 0;
            continue;
        }
        if (k->len == 0) {
            dag_error(c, k, nd->id, "empty column name");
            ok = 0;
            continue;
        }
        if (dv_sb_find(&sb, k->text) >= 0) {
            dag_error(c, k, nd->id, "window column '%s' is already a column", k->text);
            ok = 0;
            continue;
        }
        dv_named_add(&nd->aggs, k->text, v->text);
        mr_type t = mr_type_make(MR_T_NULL);
        if (check && check_column(c, nd, k, v, in, &order, &t) != 0)
            ok = 0;
        dv_sb_add(c, &sb, k->text, t);
    }
    if (!ok || !in)
        return NULL;
    return dv_sb_finish(c, &sb);
}

/* ---- into the plan (compile.c calls these through dag_ops) ---- */

/* hash(partition_by) or one partition | sort(partition_by, order_by) | window. */
void dag_window_compile(dag_pb *b, dag_frag *f, const dag_node *nd, int idx)
{
    (void)idx;
    char **part = dag_pb_strings(b, nd->group_by, nd->ngroup_by);
    Millrace__SortKey **order = dag_pb_sort_keys(b, nd->sort_keys, nd->nsort_keys);
    size_t np = (size_t)nd->ngroup_by, no = (size_t)nd->nsort_keys;
    Millrace__SortKey **keys = dag_pb_alloc(b, (np + no + 1) * sizeof *keys);
    if (!part || !order || !keys)
        return;
    dag_seal_shuffle(b, f, nd, np > 0 ? b->partitions : 1, part, np, 0);
    for (size_t i = 0; i < np; i++) {
        keys[i] = dag_pb_alloc(b, sizeof *keys[i]);
        if (!keys[i])
            return;
        millrace__sort_key__init(keys[i]);
        keys[i]->column = part[i];
    }
    for (size_t i = 0; i < no; i++)
        keys[np + i] = order[i];
    if (np + no > 0) {
        Millrace__OpSpec *s = dag_op_new(b, f, MILLRACE__OP_KIND__OP_SORT, nd, dag_frag_schema(f));
        if (!s)
            return;
        s->sort->keys = keys;
        s->sort->n_keys = np + no;
        s->sort->limit = -1;
    }
    Millrace__OpSpec *w = dag_op_new(b, f, MILLRACE__OP_KIND__OP_WINDOW, nd,
                                     dag_pb_schema(b, nd->out));
    if (!w)
        return;
    w->window->partition_by = part;
    w->window->n_partition_by = np;
    w->window->order_by = order;
    w->window->n_order_by = no;
    w->window->columns = dag_pb_named(b, nd->aggs.names, nd->aggs.texts, nd->aggs.n);
    w->window->n_columns = (size_t)nd->aggs.n;
}
