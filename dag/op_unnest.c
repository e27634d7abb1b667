/* op_unnest.c - the unnest op: one row per element of a JSON array held in
 * a text column (core/op/unnest.h), the other columns repeated.
 *
 * Keys: column (the text column), as (the element's name), type (the
 * element's type, text when left out) and keep_empty (false).  The output
 * schema comes from the operator's own mr_unnest_schema, so the validator
 * and the executor agree.  Compiles to one OP_UNNEST fused into its
 * input's stage: each row is unnested where it is, no shuffle.
 */
#include "dag/dag_ops.h"

#include <stdlib.h>
#include <string.h>

#include "core/op/unnest.h"

const dv_keyspec dag_unnest_keys[] = {
    {"op", 1, DV_K_STR},   {"input", 1, DV_K_STR},      {"column", 1, DV_K_STR},
    {"as", 1, DV_K_STR},   {"type", 0, DV_K_STR},       {"keep_empty", 0, DV_K_BOOL},
    {NULL, 0, 0},
};

mr_schema *dag_unnest_validate(dag_ctx *c, dag_node *nd, mr_schema *const *ins)
{
    const mr_schema *in = nd->ninputs > 0 ? ins[0] : NULL;
    const ynode *col = ymap_get(nd->body, "column"), *as = ymap_get(nd->body, "as"),
                *ty = ymap_get(nd->body, "type");
    mr_type t = mr_type_make(MR_T_STRING);
    mr_err err;
    mr_err_clear(&err);
    if (ty && mr_type_parse(ty->text, &t, &err) != 0) {
        dag_error(c, ty, nd->id, "type: %s", err.msg);
        return NULL;
    }
    if (as->len == 0) {
        dag_error(c, as, nd->id, "empty column name");
        return NULL;
    }
    if (!in || dv_has_placeholder(in))
        return NULL;
    if (dv_find_column(c, in, col, nd->id, "the input of the unnest") < 0)
        return NULL;
    mr_schema *s = mr_unnest_schema(in, col->text, as->text, t, &err);
    if (!s) {
        if (err.code == MR_ENOMEM)
            c->oom = 1;
        else
            dag_error(c, err.code == MR_EINVAL ? as : err.code == MR_ETYPE && ty ? ty : col,
                      nd->id, "%s", err.msg);
    }
    return s;
}

/* ---- into the plan (compile.c calls these through dag_ops) ---- */

void dag_unnest_compile(dag_pb *b, dag_frag *f, const dag_node *nd, int idx)
{
    (void)idx;
    const ynode *kv = ymap_get(nd->body, "keep_empty");
    int keep = 0;
    if (kv && yscalar_bool(kv, &keep) != 0)
        keep = 0;
    char tn[48];
    mr_type_name(nd->out->fields[nd->out->nfields - 1].type, tn, sizeof tn);
    Millrace__OpSpec *op = dag_op_new(b, f, MILLRACE__OP_KIND__OP_UNNEST, nd,
                                      dag_pb_schema(b, nd->out));
    if (!op)
        return;
    op->unnest->column = dag_pb_str(b, ymap_get(nd->body, "column")->text);
    op->unnest->as = dag_pb_str(b, ymap_get(nd->body, "as")->text);
    op->unnest->type = dag_pb_str(b, tn);
    op->unnest->keep_empty = keep != 0;
}
