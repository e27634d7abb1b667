/* op_union.c - the union op: two or more inputs matched by column name,
 * types widened by the union operator's rules (core/op/union.h);
 * distinct: true adds a distinct over every column.
 */
#include "dag/dag_ops.h"

#include <stdlib.h>
#include <string.h>

#include "core/op/union.h"
#include "proto/plan_names.h"

const dv_keyspec dag_union_keys[] = {
    {"op", 1, DV_K_STR}, {"inputs", 1, DV_K_SEQ}, {"distinct", 0, DV_K_BOOL}, {NULL, 0, 0},
};

/* Whether a union can widen a and b to one type (the exact type comes from
 * mr_union_schema; this only finds the column to blame). */
static int union_widens(mr_type a, mr_type b, mr_type *out)
{
    if (mr_type_is_time(a.id) && mr_type_is_time(b.id))
        return mr_type_common(a, b, &MR_WIDEN_UNION, out) == 0;
    return dv_common_type(a, b, out);
}

mr_schema *dag_union_validate(dag_ctx *c, dag_node *nd, mr_schema *const *ins)
{
    const ynode *list = ymap_get(nd->body, "inputs");
    int distinct;
    nd->distinct = yscalar_bool(ymap_get(nd->body, "distinct"), &distinct) == 0 && distinct;
    if (list->n < 2) {
        dag_error(c, list, nd->id, "union needs 2 or more inputs, got %zu", list->n);
        return NULL;
    }
    if (nd->ninputs < 2) /* inputs that were not names were reported already */
        return NULL;
    for (int k = 0; k < nd->ninputs; k++)
        if (!ins[k] || dv_has_placeholder(ins[k]))
            return NULL;
    const mr_schema *first = ins[0];
    dv_sbuild sb = {0};
    int ok = 1;
    for (int f = 0; f < first->nfields; f++)
        dv_sb_add(c, &sb, first->fields[f].name, first->fields[f].type);
    for (int k = 1; k < nd->ninputs; k++) {
        const mr_schema *s = ins[k];
        const ynode *at = nd->inputs[k].ref;
        for (int f = 0; f < s->nfields; f++) {
            int j = dv_sb_find(&sb, s->fields[f].name);
            if (j < 0) {
                dag_error(c, at, nd->id, "union input '%s' has column '%s' that '%s' lacks",
                          at->text, s->fields[f].name, nd->inputs[0].ref->text);
                ok = 0;
            } else if (j < sb.n && !union_widens(sb.types[j], s->fields[f].type, &sb.types[j])) {
                dag_error(c, at, nd->id, "union column '%s' is %s in '%s' but %s in '%s'",
                          s->fields[f].name, dv_type_str(c, first->fields[j].type),
                          nd->inputs[0].ref->text, dv_type_str(c, s->fields[f].type), at->text);
                ok = 0;
            }
        }
        for (int f = 0; f < first->nfields; f++)
            if (mr_schema_find(s, first->fields[f].name) < 0) {
                dag_error(c, at, nd->id, "union input '%s' lacks column '%s'", at->text,
                          first->fields[f].name);
                ok = 0;
            }
    }
    if (!ok)
        return NULL;
    /* Types: the operator's own widening rules (core/op/union.h). */
    mr_schema *out = NULL;
    mr_err err;
    mr_err_clear(&err);
    if (mr_union_schema((const mr_schema *const *)ins, nd->ninputs, &out, &err) != 0) {
        if (err.code == MR_ENOMEM)
            c->oom = 1;
        else
            dag_error(c, list, nd->id, "%s", err.msg);
        return NULL;
    }
    return out;
}

/* ---- into the plan (compile.c calls these through dag_ops) ---- */

/* The union of nd's inputs into f. */
void dag_union_compile(dag_pb *b, dag_frag *f, const dag_node *nd, int idx)
{
    (void)idx;
    int n = nd->ninputs;
    dag_frag *in = dag_pb_alloc(b, ((size_t)n + 1) * sizeof *in);
    uint32_t *tips = dag_pb_alloc(b, ((size_t)n + 1) * sizeof *tips);
    if (!in || !tips)
        return;
    int scans = 0;
    uint32_t common = 0;
    for (int k = 0; k < n; k++) {
        dag_build_node(b, nd->inputs[k].node, &in[k], 1);
        dag_narrow(b, &in[k], nd, nd->out); /* inputs left wider by pruning */
        if (!in[k].shuffled)
            scans++;
        else if (common == 0 || common == in[k].partitions)
            common = in[k].partitions;
        else
            common = UINT32_MAX;
    }
    if (b->c->arena.failed)
        return;
    /* Mixed sources cannot share a stage: bring every input to shuffle
     * reads of one partition count. */
    if (scans > 0 && scans < n) {
        uint32_t p = common == UINT32_MAX ? b->partitions : common;
        for (int k = 0; k < n; k++)
            if (!in[k].shuffled || in[k].partitions != p)
                dag_seal_shuffle(b, &in[k], nd, p, NULL, 0, 1);
    } else if (scans == 0 && common == UINT32_MAX) {
        for (int k = 0; k < n; k++)
            if (in[k].partitions != b->partitions)
                dag_seal_shuffle(b, &in[k], nd, b->partitions, NULL, 0, 1);
    }
    memset(f, 0, sizeof *f);
    for (int k = 0; k < n; k++)
        tips[k] = dag_frag_concat(b, f, &in[k]);
    Millrace__OpSpec *u = dag_op_new(b, f, MILLRACE__OP_KIND__OP_UNION, nd, dag_pb_schema(b, nd->out));
    if (!u)
        return;
    u->children = tips;
    u->n_children = (size_t)n;
    if (nd->distinct)
        dag_emit_distinct(b, f, nd, NULL, 0, u->output);
}
