/* op_distinct.c - the distinct op: distinct rows over some columns (all
 * when 'columns' is left out).  Compiles to distinct | hash(those
 * columns) | distinct.
 */
#include "dag/dag_ops.h"

#include <stdlib.h>
#include <string.h>
#include "proto/plan_names.h"

const dv_keyspec dag_distinct_keys[] = {
    {"op", 1, DV_K_STR}, {"input", 1, DV_K_STR}, {"columns", 0, DV_K_SEQ}, {NULL, 0, 0},
};

mr_schema *dag_distinct_validate(dag_ctx *c, dag_node *nd, mr_schema *const *ins)
{
    const mr_schema *in = nd->ninputs > 0 ? ins[0] : NULL;
    const ynode *cols = ymap_get(nd->body, "columns");
    nd->columns_all = cols == NULL;
    if (!cols) {
        if (!in)
            return NULL;
        nd->group_by = dag_arena_alloc(&c->arena, ((size_t)in->nfields + 1) * sizeof *nd->group_by);
        if (!nd->group_by)
            return NULL;
        for (int f = 0; f < in->nfields; f++)
            nd->group_by[nd->ngroup_by++] = in->fields[f].name;
        return mr_schema_copy(in);
    }
    if (dv_column_list(c, nd, cols, in, "the input of the distinct", &nd->group_by,
                    &nd->ngroup_by) != 0 || !in)
        return NULL;
    if (nd->ngroup_by == 0) {
        dag_error(c, cols, nd->id, "'columns' is empty: leave it out to use every column");
        return NULL;
    }
    dv_sbuild sb = {0};
    for (int i = 0; i < nd->ngroup_by; i++)
        dv_sb_add(c, &sb, nd->group_by[i], in->fields[mr_schema_find(in, nd->group_by[i])].type);
    return dv_sb_finish(c, &sb);
}

/* ---- into the plan (compile.c calls these through dag_ops) ---- */



void dag_distinct_compile(dag_pb *b, dag_frag *f, const dag_node *nd, int idx)
{
    (void)idx;
    int all = nd->columns_all;
    dag_emit_distinct(b, f, nd, all ? NULL : dag_pb_strings(b, nd->group_by, nd->ngroup_by),
                      all ? 0 : (size_t)nd->ngroup_by, dag_pb_schema(b, nd->out));
}
