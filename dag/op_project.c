/* op_project.c - the row-wise ops: filter (a predicate), select and derive
 * (named expressions over the input), drop (columns left out).  Each
 * compiles to one operator fused into its input's stage: OP_FILTER, or
 * OP_PROJECT with the node lowered to `name: expression` pairs.
 */
#include "dag/dag_ops.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "proto/plan_names.h"

const dv_keyspec dag_filter_keys[] = {
    {"op", 1, DV_K_STR}, {"input", 1, DV_K_STR}, {"where", 1, DV_K_STR}, {NULL, 0, 0},
};

const dv_keyspec dag_project_keys[] = {
    {"op", 1, DV_K_STR}, {"input", 1, DV_K_STR}, {"columns", 1, DV_K_MAP}, {NULL, 0, 0},
};

const dv_keyspec dag_drop_keys[] = {
    {"op", 1, DV_K_STR}, {"input", 1, DV_K_STR}, {"columns", 1, DV_K_SEQ}, {NULL, 0, 0},
};

mr_schema *dag_filter_validate(dag_ctx *c, dag_node *nd, mr_schema *const *ins)
{
    const mr_schema *in = nd->ninputs > 0 ? ins[0] : NULL;
    const ynode *w = ymap_get(nd->body, "where");
    mr_type t;
    int rc = dv_check_expr(c, w, in, "where", nd->id, &t);
    nd->where = w->text;
    if (rc > 0 && t.id != MR_T_BOOL)
        dag_error(c, w, nd->id, "where must be a boolean expression; this one is %s",
                  dv_type_str(c, t));
    /* A filter keeps its input's columns whatever its condition, so the
     * nodes after it are still checked after an error in the condition. */
    return in ? mr_schema_copy(in) : NULL;
}

/* select and derive: columns is an ordered map name: expression. */
mr_schema *dag_project_validate(dag_ctx *c, dag_node *nd, mr_schema *const *ins)
{
    const mr_schema *in = nd->ninputs > 0 ? ins[0] : NULL;
    const ynode *cols = ymap_get(nd->body, "columns");
    int derive = nd->op == DOP_DERIVE;
    if (cols->n == 0) {
        dag_error(c, cols, nd->id, "'columns' is empty: %s needs at least one column",
                  derive ? "derive" : "select");
        return NULL;
    }
    int ok = 1;
    mr_type *types = dag_arena_alloc(&c->arena, cols->n * sizeof *types);
    if (!types)
        return NULL;
    for (size_t i = 0; i < cols->n; i++) {
        const ynode *k = cols->items[2 * i], *v = cols->items[2 * i + 1];
        if (k->kind != YN_SCALAR)
            continue;
        if (k->len == 0) {
            dag_error(c, k, nd->id, "empty column name");
            ok = 0;
        }
        if (v->kind != YN_SCALAR || yscalar_is_null(v)) {
            dag_error(c, v, nd->id, "column '%s' needs an expression", k->text);
            ok = 0;
            continue;
        }
        char what[160];
        snprintf(what, sizeof what, "column '%.100s'", k->text);
        types[i] = mr_type_make(MR_T_NULL); /* a placeholder unless typed below */
        int rc = dv_check_expr(c, v, in, what, nd->id, &types[i]);
        if (rc > 0 && dv_no_null_type(c, v, types[i], k->text, nd->id) != 0)
            types[i] = mr_type_make(MR_T_NULL);
    }
    if (!ok || !in)
        return NULL;
    dv_sbuild sb = {0};
    dv_named_alloc(c, &nd->proj, cols->n + (size_t)in->nfields);
    if (derive) {
        for (int f = 0; f < in->nfields; f++) {
            const char *name = in->fields[f].name;
            const ynode *v = ymap_get(cols, name);
            mr_type t = in->fields[f].type;
            const char *text = dag_quote_ident(&c->arena, name);
            for (size_t i = 0; v && i < cols->n; i++)
                if (cols->items[2 * i + 1] == v)
                    t = types[i];
            if (v)
                text = v->text;
            dv_sb_add(c, &sb, name, t);
            dv_named_add(&nd->proj, name, text);
        }
    }
    for (size_t i = 0; i < cols->n; i++) {
        const ynode *k = cols->items[2 * i], *v = cols->items[2 * i + 1];
        if (derive && mr_schema_find(in, k->text) >= 0)
            continue;
        dv_sb_add(c, &sb, k->text, types[i]);
        dv_named_add(&nd->proj, k->text, v->text);
    }
    return dv_sb_finish(c, &sb);
}

mr_schema *dag_drop_validate(dag_ctx *c, dag_node *nd, mr_schema *const *ins)
{
    const mr_schema *in = nd->ninputs > 0 ? ins[0] : NULL;
    const ynode *cols = ymap_get(nd->body, "columns");
    const char **names;
    int n;
    if (dv_column_list(c, nd, cols, in, "the input of the drop", &names, &n) != 0 || !in)
        return NULL;
    if (n == 0) {
        dag_error(c, cols, nd->id, "'columns' is empty: list the columns to drop");
        return NULL;
    }
    if (n >= in->nfields) {
        dag_error(c, cols, nd->id, "drop would remove every column");
        return NULL;
    }
    dv_sbuild sb = {0};
    dv_named_alloc(c, &nd->proj, (size_t)in->nfields);
    for (int f = 0; f < in->nfields; f++) {
        int gone = 0;
        for (int k = 0; k < n; k++)
            gone |= strcmp(names[k], in->fields[f].name) == 0;
        if (gone)
            continue;
        dv_sb_add(c, &sb, in->fields[f].name, in->fields[f].type);
        dv_named_add(&nd->proj, in->fields[f].name, dag_quote_ident(&c->arena, in->fields[f].name));
    }
    return dv_sb_finish(c, &sb);
}

/* ---- into the plan (compile.c calls these through dag_ops) ---- */



void dag_filter_compile(dag_pb *b, dag_frag *f, const dag_node *nd, int idx)
{
    (void)idx;
    if (!nd->where)
        return; /* every condition was pushed below it (dag/pushdown.c) */
    Millrace__OpSpec *op = dag_op_new(b, f, MILLRACE__OP_KIND__OP_FILTER, nd,
                                      dag_pb_schema(b, nd->out));
    if (op)
        op->filter->predicate = dag_pb_str(b, nd->where);
}

/* select, derive and drop alike: the lowered `name: expression` list. */
void dag_project_compile(dag_pb *b, dag_frag *f, const dag_node *nd, int idx)
{
    (void)idx;
    Millrace__OpSpec *op = dag_op_new(b, f, MILLRACE__OP_KIND__OP_PROJECT, nd,
                                      dag_pb_schema(b, nd->out));
    if (op) {
        op->project->exprs = dag_pb_named(b, nd->proj.names, nd->proj.texts, nd->proj.n);
        op->project->n_exprs = (size_t)nd->proj.n;
    }
}
