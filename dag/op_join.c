/* op_join.c - the join op: two inputs, key pairs, a kind (inner, left,
 * right, full, semi, anti) and a prefix for clashing right columns.
 *
 * The output schema is the hash join operator's own (core/op/hashjoin.h).
 * Compiles to both sides hash-partitioned on their keys and one stage that
 * joins partition p of each (every shuffle of a job has the same owners).
 */
#include "dag/dag_ops.h"

#include <stdlib.h>
#include <string.h>

#include "core/op/hashjoin.h"
#include "proto/plan_names.h"

const dv_keyspec dag_join_keys[] = {
    {"op", 1, DV_K_STR}, {"left", 1, DV_K_STR}, {"right", 1, DV_K_STR}, {"on", 1, DV_K_SEQ},
    {"how", 0, DV_K_STR}, {"right_prefix", 0, DV_K_STR}, {NULL, 0, 0},
};

/* Types whose equal values hash equal share a class (core/hash.c hashes
 * int32, int64 and decimals by their integer, decimals scaled). */
static int hash_class(mr_type t)
{
    if (t.id == MR_T_INT32 || t.id == MR_T_INT64 || (t.id == MR_T_DECIMAL && t.scale == 0))
        return 0;
    if (t.id == MR_T_DECIMAL)
        return 100 + t.scale;
    return t.id + 1;
}

mr_schema *dag_join_validate(dag_ctx *c, dag_node *nd, mr_schema *const *ins)
{
    const mr_schema *l = nd->ninputs > 0 ? ins[0] : NULL, *r = nd->ninputs > 1 ? ins[1] : NULL;
    const ynode *b = nd->body, *v;
    int how = (v = ymap_get(b, "how")) ? dv_pick(c, v, mr_plan_join_names, "join type", nd->id)
                                       : MILLRACE__JOIN_KIND__JOIN_INNER;
    const ynode *pre = ymap_get(b, "right_prefix");
    const char *prefix = pre ? pre->text : "";
    nd->join.kind = how >= 0 ? (Millrace__JoinKind)how : MILLRACE__JOIN_KIND__JOIN_INNER;
    nd->join.right_prefix = prefix;
    const ynode *on = ymap_get(b, "on");
    int ok = how >= 0, hash_bad = 0;
    if (on->n == 0) {
        dag_error(c, on, nd->id, "'on' is empty: list the join columns");
        return NULL;
    }
    /* Keys: left name, right name, and whether they share a name (USING). */
    const char **lk = dag_arena_alloc(&c->arena, on->n * sizeof *lk);
    const char **rk = dag_arena_alloc(&c->arena, on->n * sizeof *rk);
    if (!lk || !rk)
        return NULL;
    for (size_t i = 0; i < on->n; i++) {
        const ynode *e = on->items[i], *lv = e, *rv = e;
        if (e->kind == YN_MAP) {
            static const dv_keyspec on_keys[] = {{"left", 1, DV_K_STR}, {"right", 1, DV_K_STR}, {NULL, 0, 0}};
            if (!dv_check_keys(c, e, on_keys, "a join key", e, nd->id)) {
                ok = 0;
                continue;
            }
            lv = ymap_get(e, "left");
            rv = ymap_get(e, "right");
        } else if (e->kind != YN_SCALAR || yscalar_is_null(e)) {
            dag_error(c, e, nd->id, "join keys are column names or {left: a, right: b}, not %s",
                      ynode_kind_name(e));
            ok = 0;
            continue;
        }
        lk[i] = lv->text;
        rk[i] = rv->text;
        int li = l ? dv_find_column(c, l, lv, nd->id, "the left input") : 0;
        int ri = r ? dv_find_column(c, r, rv, nd->id, "the right input") : 0;
        mr_type ct;
        if (li < 0 || ri < 0)
            ok = 0;
        else if (l && r && (l->fields[li].type.id == MR_T_NULL ||
                            r->fields[ri].type.id == MR_T_NULL))
            ; /* a placeholder (see dv_has_placeholder): nothing to compare */
        else if (l && r && !dv_common_type(l->fields[li].type, r->fields[ri].type, &ct)) {
            dag_error(c, e, nd->id, "join key types differ: %s is %s on the left, %s is %s on "
                      "the right", lv->text, dv_type_str(c, l->fields[li].type), rv->text,
                      dv_type_str(c, r->fields[ri].type));
            ok = 0;
        } else if (l && r && hash_class(l->fields[li].type) != hash_class(r->fields[ri].type)) {
            /* Both sides are hash-partitioned on their own key values, so
             * equal keys must hash equal (core/hash.c): int32 and int64 do,
             * decimals only at the same scale. */
            dag_error(c, e, nd->id, "join key %s (%s) and %s (%s) compare but do not hash "
                      "alike, so equal keys could land in different partitions: cast one "
                      "side to the other's type first (a derive with CAST(%s AS %s))",
                      lv->text, dv_type_str(c, l->fields[li].type), rv->text,
                      dv_type_str(c, r->fields[ri].type), rv->text,
                      dv_type_str(c, l->fields[li].type));
            hash_bad = 1;
        }
    }
    if (!ok || !l || !r || dv_has_placeholder(l) || dv_has_placeholder(r))
        return NULL;
    nd->join.left_keys = lk;
    nd->join.right_keys = rk;
    nd->join.nkeys = (int)on->n;
    /* The output schema is the operator's own (core/op/hashjoin.h), so the
     * plan and the runtime cannot disagree. */
    mr_err err;
    mr_err_clear(&err);
    {
        mr_schema *out = mr_hashjoin_schema(l, r, (mr_join_type)how, lk, rk, (int)on->n, prefix,
                                            nd->id, &err);
        if (out && hash_bad) {
            mr_schema_destroy(out);
            return NULL;
        }
        if (out || err.code == MR_ENOMEM) {
            if (!out)
                c->oom = 1;
            return out;
        }
        /* A clash: reported below with a hint, as before. */
    }
    dv_sbuild sb = {0};
    for (int f = 0; f < l->nfields; f++) {
        mr_type t = l->fields[f].type;
        for (size_t i = 0; i < on->n; i++)
            if (strcmp(lk[i], l->fields[f].name) == 0 && strcmp(rk[i], lk[i]) == 0)
                dv_common_type(t, r->fields[mr_schema_find(r, rk[i])].type, &t);
        dv_sb_add(c, &sb, l->fields[f].name, t);
    }
    if (how != 4 && how != 5) {
        for (int f = 0; f < r->nfields; f++) {
            const char *name = r->fields[f].name;
            int using_key = 0;
            for (size_t i = 0; i < on->n; i++)
                using_key |= strcmp(rk[i], name) == 0 && strcmp(lk[i], name) == 0;
            if (using_key)
                continue;
            const char *out = prefix[0] ? dag_arena_printf(&c->arena, "%s%s", prefix, name) : name;
            if (!out)
                return NULL;
            if (dv_sb_find(&sb, out) >= 0) {
                dag_error(c, nd->key, nd->id, "join output has two columns named '%s'; set "
                          "right_prefix (e.g. right_prefix: r_) or rename one side", out);
                ok = 0;
                continue;
            }
            dv_sb_add(c, &sb, out, r->fields[f].type);
        }
    }
    if (ok && !hash_bad)
        dag_error(c, nd->key, nd->id, "%s", err.msg);
    return NULL;
}

/* ---- into the plan (compile.c calls these through dag_ops) ---- */

/* Join: each side hash-partitioned on its keys, then one stage joining
 * partition p of both. */
void dag_join_compile(dag_pb *b, dag_frag *f, const dag_node *nd, int idx)
{
    (void)idx;
    dag_frag side[2];
    const dag_join *dj = &nd->join;
    char **keys[2] = {dag_pb_strings(b, dj->left_keys, dj->nkeys),
                      dag_pb_strings(b, dj->right_keys, dj->nkeys)};
    for (int s = 0; s < 2; s++) {
        dag_build_node(b, nd->inputs[s].node, &side[s], 1);
        dag_narrow(b, &side[s], nd, nd->join_in[s]); /* only what the join reads */
        dag_seal_shuffle(b, &side[s], nd, b->partitions, keys[s], (size_t)dj->nkeys, 0);
    }
    memset(f, 0, sizeof *f);
    uint32_t l = dag_frag_concat(b, f, &side[0]), r = dag_frag_concat(b, f, &side[1]);
    Millrace__OpSpec *j = dag_op_new(b, f, MILLRACE__OP_KIND__OP_HASHJOIN, nd, dag_pb_schema(b, nd->out));
    uint32_t *kids = dag_pb_alloc(b, 2 * sizeof *kids);
    if (!j || !kids)
        return;
    kids[0] = l;
    kids[1] = r;
    j->children = kids;
    j->n_children = 2;
    Millrace__HashJoinOp *h = j->hashjoin;
    h->kind = dj->kind;
    h->left_keys = keys[0];
    h->right_keys = keys[1];
    h->n_left_keys = h->n_right_keys = (size_t)dj->nkeys;
    h->right_prefix = dag_pb_str(b, dj->right_prefix);
}
