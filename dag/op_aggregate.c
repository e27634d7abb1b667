/* op_aggregate.c - the aggregate op: group_by columns and named aggregates.
 *
 * Compiles to a partial aggregate at the end of its input's stage, a
 * shuffle hashed on the group columns (one partition without any), and a
 * final aggregate that merges the states; `having` becomes a filter right
 * after the final aggregate, over its output columns.  The partial's output schema
 * (the wire between them) comes from the operator's own definition
 * (mr_hashagg_state_schema), computed here once and carried by the plan.
 */
#include "dag/dag_ops.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/agg.h"
#include "core/op/hashagg.h"
#include "proto/plan_names.h"

const dv_keyspec dag_aggregate_keys[] = {
    {"op", 1, DV_K_STR}, {"input", 1, DV_K_STR}, {"group_by", 0, DV_K_SEQ}, {"aggregates", 0, DV_K_MAP},
    {"having", 0, DV_K_STR}, {NULL, 0, 0},
};

/* Offset of an aggregate's argument in its text ("count( distinct x)" -> 16),
 * so that errors binding the argument point into the whole text. */
static int agg_arg_offset(const char *t)
{
    size_t i = 0;
    while (isspace((unsigned char)t[i]))
        i++;
    while (isalnum((unsigned char)t[i]) || t[i] == '_')
        i++;
    while (isspace((unsigned char)t[i]))
        i++;
    if (t[i] == '(')
        i++;
    while (isspace((unsigned char)t[i]))
        i++;
    if (strncasecmp(t + i, "distinct", 8) == 0 && !isalnum((unsigned char)t[i + 8]) &&
        t[i + 8] != '_') {
        i += 8;
        while (isspace((unsigned char)t[i]))
            i++;
    }
    return (int)i;
}

/* The partial aggregate's output (group columns, then each aggregate's
 * state columns) as the operator defines it (core/op/hashagg.h): the
 * schema on the wire between the two halves, carried by the plan. */
static void agg_partial_schema(dag_ctx *c, dag_node *nd, const mr_schema *in)
{
    mr_err err;
    mr_err_clear(&err);
    nd->partial = mr_hashagg_state_schema(in, nd->group_by, nd->ngroup_by, nd->aggs.names,
                                          nd->aggs.texts, nd->aggs.n, &err);
    if (nd->partial)
        return;
    if (err.code == MR_ENOMEM)
        c->oom = 1;
    else
        dag_error(c, nd->key, nd->id, "%s", err.msg);
}

mr_schema *dag_aggregate_validate(dag_ctx *c, dag_node *nd, mr_schema *const *ins)
{
    const mr_schema *in = nd->ninputs > 0 ? ins[0] : NULL;
    const ynode *gb = ymap_get(nd->body, "group_by"), *ag = ymap_get(nd->body, "aggregates");
    int ok = 1;
    dv_sbuild sb = {0};
    nd->group_by = NULL;
    nd->ngroup_by = 0;
    if (gb && dv_column_list(c, nd, gb, in, "the input of the aggregate", &nd->group_by,
                          &nd->ngroup_by) != 0)
        ok = 0;
    if ((!gb || gb->n == 0) && (!ag || ag->n == 0)) {
        dag_error(c, nd->key, nd->id, "aggregate node '%s' needs 'group_by' columns, "
                  "'aggregates', or both", nd->id);
        return NULL;
    }
    if (ok && in)
        for (int i = 0; i < nd->ngroup_by; i++)
            dv_sb_add(c, &sb, nd->group_by[i], in->fields[mr_schema_find(in, nd->group_by[i])].type);
    dv_named_alloc(c, &nd->aggs, ag ? ag->n : 0);
    for (size_t i = 0; ag && i < ag->n; i++) {
        const ynode *k = ag->items[2 * i], *v = ag->items[2 * i + 1];
        if (k->kind != YN_SCALAR)
            continue;
        if (v->kind != YN_SCALAR || yscalar_is_null(v)) {
            dag_error(c, v, nd->id, "aggregate '%s' needs an expression such as sum(x)", k->text);
            ok = 0;
            continue;
        }
        if (k->len == 0) {
            dag_error(c, k, nd->id, "empty column name");
            ok = 0;
        }
        for (int g = 0; g < nd->ngroup_by; g++)
            if (strcmp(nd->group_by[g], k->text) == 0) {
                dag_error(c, k, nd->id, "aggregate '%s' has the name of a group_by column",
                          k->text);
                ok = 0;
            }
        dv_named_add(&nd->aggs, k->text, v->text);
        mr_agg_kind kind;
        mr_expr *arg = NULL;
        mr_err err;
        mr_err_clear(&err);
        /* A bad aggregate expression leaves a placeholder (see
         * dv_has_placeholder), so the nodes after this one are still checked. */
        if (mr_agg_parse(v->text, &kind, &arg, &err) != 0) {
            dag_error_in(c, v, err.offset, nd->id, "in aggregate '%s': %s", k->text, err.msg);
            dv_sb_add(c, &sb, k->text, mr_type_make(MR_T_NULL));
            continue;
        }
        mr_type at = mr_type_make(MR_T_INT64), rt;
        int bound = in && arg ? dv_bind_expr(c, arg, v->text, agg_arg_offset(v->text), in, &err) : 1;
        if (in && bound < 0) {
            int off = err.offset >= 0 ? err.offset + agg_arg_offset(v->text) : -1;
            dag_error_in(c, v, off, nd->id, "in aggregate '%s': %s", k->text, err.msg);
            dv_sb_add(c, &sb, k->text, mr_type_make(MR_T_NULL));
        } else if (in && bound == 0) {
            dv_sb_add(c, &sb, k->text, mr_type_make(MR_T_NULL));
        } else if (in) {
            if (arg)
                at = mr_expr_type(arg);
            if (mr_agg_result_type(kind, at, &rt, &err) != 0) {
                dag_error_in(c, v, agg_arg_offset(v->text), nd->id, "in aggregate '%s': %s",
                             k->text, err.msg);
                dv_sb_add(c, &sb, k->text, mr_type_make(MR_T_NULL));
            } else {
                dv_sb_add(c, &sb, k->text, rt);
            }
        }
        mr_expr_destroy(arg);
    }
    if (!ok || !in)
        return NULL;
    mr_schema *out = dv_sb_finish(c, &sb);
    if (out && !dv_has_placeholder(out))
        agg_partial_schema(c, nd, in);
    /* having: a condition over the output columns, kept in nd->where and
     * compiled to a filter after the final half. */
    const ynode *hv = ymap_get(nd->body, "having");
    if (hv) {
        mr_type t;
        int rc = dv_check_expr(c, hv, out, "having", nd->id, &t);
        nd->where = hv->text;
        if (rc > 0 && t.id != MR_T_BOOL)
            dag_error(c, hv, nd->id, "having must be a boolean expression; this one is %s",
                      dv_type_str(c, t));
    }
    return out;
}

/* ---- into the plan (compile.c calls these through dag_ops) ---- */

/* partial | hash(group columns) or one partition | final. */
void dag_aggregate_compile(dag_pb *b, dag_frag *f, const dag_node *nd, int idx)
{
    (void)idx;
    Millrace__Schema *in = dag_frag_schema(f);
    Millrace__OpSpec *p = dag_op_new(b, f, MILLRACE__OP_KIND__OP_AGG_PARTIAL, nd, NULL);
    if (!p)
        return;
    Millrace__AggOp *pa = p->agg;
    pa->group_by = dag_pb_strings(b, nd->group_by, nd->ngroup_by);
    pa->n_group_by = (size_t)nd->ngroup_by;
    pa->aggregates = dag_pb_named(b, nd->aggs.names, nd->aggs.texts, nd->aggs.n);
    pa->n_aggregates = (size_t)nd->aggs.n;
    p->input = in;
    /* The wire schema is the partial's output: group columns and states,
     * as the aggregate operator lays them out (filled by validation). */
    p->output = dag_pb_schema(b, nd->partial);
    dag_seal_shuffle(b, f, nd, nd->ngroup_by > 0 ? b->partitions : 1, pa->group_by, pa->n_group_by, 0);
    Millrace__OpSpec *fin = dag_op_new(b, f, MILLRACE__OP_KIND__OP_AGG_FINAL, nd, dag_pb_schema(b, nd->out));
    if (!fin)
        return;
    *fin->agg = *pa; /* the same description: the final half merges its states */
    fin->input = in;
    if (nd->where) {
        Millrace__OpSpec *h = dag_op_new(b, f, MILLRACE__OP_KIND__OP_FILTER, nd,
                                         dag_pb_schema(b, nd->out));
        if (h)
            h->filter->predicate = dag_pb_str(b, nd->where);
    }
}
