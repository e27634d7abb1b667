/* op_sort.c - the global order ops: sort (keys parsed once here, by the
 * grammar of core/sortkey.h, into SortKey messages) and limit (the first n
 * rows).  Both end in one partition; a limit that is a sort's only reader
 * becomes its top N (compile.c folds it).
 */
#include "dag/dag_ops.h"

#include <stdlib.h>
#include <string.h>

#include "core/sortkey.h"
#include "proto/plan_names.h"

const dv_keyspec dag_sort_keys[] = {
    {"op", 1, DV_K_STR}, {"input", 1, DV_K_STR}, {"by", 1, DV_K_SEQ}, {NULL, 0, 0},
};

const dv_keyspec dag_limit_keys[] = {
    {"op", 1, DV_K_STR}, {"input", 1, DV_K_STR}, {"n", 1, DV_K_INT}, {NULL, 0, 0},
};

/* One sort key, parsed by the one parser of the grammar (core/sortkey.h)
 * into nd's sort keys; the plan carries them as SortKey messages, so
 * nothing downstream parses a key again. */
int dv_sort_key(dag_ctx *c, dag_node *nd, const ynode *v, const mr_schema *in, const char *side)
{
    char *col = NULL;
    int desc, nulls_first;
    dag_sort_key *key = &nd->sort_keys[nd->nsort_keys];
    mr_err err;
    mr_err_clear(&err);
    if (mr_sort_key_parse(v->text, &col, &desc, &nulls_first, &err) != 0) {
        if (err.code == MR_ENOMEM)
            c->oom = 1;
        else
            dag_error_in(c, v, err.offset, nd->id, "%s", err.msg);
        return -1;
    }
    int rc = 0;
    if (in && mr_schema_find(in, col) < 0) {
        ynode tmp = *v;
        tmp.text = col;
        rc = dv_find_column(c, in, &tmp, nd->id, side) < 0 ? -1 : 0;
    }
    key->column = dag_arena_strdup(&c->arena, col);
    key->desc = desc;
    key->nulls_first = nulls_first;
    if (key->column)
        nd->nsort_keys++;
    free(col);
    return rc;
}

mr_schema *dag_sort_validate(dag_ctx *c, dag_node *nd, mr_schema *const *ins)
{
    const mr_schema *in = nd->ninputs > 0 ? ins[0] : NULL;
    const ynode *by = ymap_get(nd->body, "by");
    int ok = 1;
    if (by->n == 0) {
        dag_error(c, by, nd->id, "'by' is empty: list the sort columns");
        return NULL;
    }
    nd->sort_keys = dag_arena_alloc(&c->arena, by->n * sizeof *nd->sort_keys);
    if (!nd->sort_keys)
        return NULL;
    for (size_t i = 0; i < by->n; i++) {
        if (by->items[i]->kind != YN_SCALAR || yscalar_is_null(by->items[i])) {
            dag_error(c, by->items[i], nd->id, "sort keys are strings such as \"price desc\"");
            ok = 0;
        } else if (dv_sort_key(c, nd, by->items[i], in, "the input of the sort") != 0) {
            ok = 0;
        }
    }
    (void)ok; /* keys do not change the columns: later nodes are still checked */
    return in ? mr_schema_copy(in) : NULL;
}

mr_schema *dag_limit_validate(dag_ctx *c, dag_node *nd, mr_schema *const *ins)
{
    const mr_schema *in = nd->ninputs > 0 ? ins[0] : NULL;
    const ynode *v = ymap_get(nd->body, "n");
    long long n;
    if (dv_parse_int(v, &n) == 0 && n < 0)
        dag_error(c, v, nd->id, "limit n must be 0 or more, not %lld", n);
    else if (dv_parse_int(v, &n) == 0)
        nd->limit = n;
    return in ? mr_schema_copy(in) : NULL;
}

/* ---- into the plan (compile.c calls these through dag_ops) ---- */

Millrace__SortKey **dag_pb_sort_keys(dag_pb *b, const dag_node *nd)
{
    Millrace__SortKey **v = dag_pb_alloc(b, ((size_t)nd->nsort_keys + 1) * sizeof *v);
    for (int i = 0; v && i < nd->nsort_keys; i++) {
        v[i] = dag_pb_alloc(b, sizeof *v[i]);
        if (!v[i])
            return NULL;
        millrace__sort_key__init(v[i]);
        v[i]->column = dag_pb_str(b, nd->sort_keys[i].column);
        v[i]->descending = nd->sort_keys[i].desc;
        v[i]->nulls_first = nd->sort_keys[i].nulls_first;
    }
    return v;
}

void dag_sort_compile(dag_pb *b, dag_frag *f, const dag_node *nd, int idx)
{
    dag_emit_global(b, f, nd, MILLRACE__OP_KIND__OP_SORT, dag_pb_sort_keys(b, nd),
                    (size_t)nd->nsort_keys, b->topn[idx]);
}

void dag_limit_compile(dag_pb *b, dag_frag *f, const dag_node *nd, int idx)
{
    if (!b->folded[idx])
        dag_emit_global(b, f, nd, MILLRACE__OP_KIND__OP_LIMIT, NULL, 0, nd->limit);
}
