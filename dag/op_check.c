/* op_check.c - the check op: data-quality rules over its input, whose rows
 * it passes on (but those an expect rule fails or rejects).
 *
 * Each rule has a name, an on_fail (fail, reject, warn) and one kind:
 * expect (a boolean per row), unique (columns), row_count ({min, max}) or
 * aggregate (a boolean over aggregate calls of the whole input).  Only
 * expect takes reject: the other kinds judge the input as a whole.
 *
 * The node compiles, over its input's fragment, to:
 *   aggregate rules   the input is shared (through the first unique rule's
 *                     hash shuffle, else a round-robin one, as a node with
 *                     several readers is); a side stage reads it:
 *                     partial aggregate of every call (and count(*)) | one
 *                     partition | final aggregate | OP_CHECK of the
 *                     aggregate rules, a stage with no sink.  The rule's
 *                     expression is rewritten to name the final
 *                     aggregate's columns, called after the calls' text
 *                     ("avg(amount)" -> the column "avg(amount)").
 *   each unique rule  a shuffle hashed on its columns, then an OP_CHECK of
 *                     that rule, so a key's rows all meet in one task.
 *   expect, row_count one OP_CHECK after those (fused into the input's
 *                     stage when there is no unique rule), so every rule
 *                     sees the whole input before expect drops rows.
 * The operators report per-rule counts in their task's status; the
 * coordinator sums them, applies row_count's bounds, decides fail before
 * the commit and writes millrace_checks in it (docs/architecture.md).
 */
#include "dag/dag_ops.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/agg.h"
#include "core/op/hashagg.h"
#include "proto/plan_names.h"

const dv_keyspec dag_check_keys[] = {
    {"op", 1, DV_K_STR}, {"input", 1, DV_K_STR}, {"rules", 1, DV_K_SEQ}, {NULL, 0, 0},
};

static const dv_keyspec rule_keys[] = {
    {"name", 1, DV_K_STR},     {"on_fail", 0, DV_K_STR},  {"expect", 0, DV_K_STR},
    {"unique", 0, DV_K_SEQ},   {"row_count", 0, DV_K_MAP}, {"aggregate", 0, DV_K_STR},
    {NULL, 0, 0},
};

static const dv_keyspec count_keys[] = {
    {"min", 0, DV_K_INT}, {"max", 0, DV_K_INT}, {NULL, 0, 0},
};

static const char *const kind_keys[] = {"expect", "unique", "row_count", "aggregate", NULL};

/* ---- aggregate rules: the calls inside the expression ---- */

static const char *const agg_words[] = {
    "count", "sum", "avg", "min", "max", "stddev", "stddev_samp", "stddev_pop", "variance",
    "var_samp", "var_pop", "bool_and", "bool_or", "string_agg", "approx_count_distinct", NULL,
};

static int is_agg_word(const char *s, size_t n)
{
    for (int i = 0; agg_words[i]; i++)
        if (strlen(agg_words[i]) == n && strncasecmp(agg_words[i], s, n) == 0)
            return 1;
    return 0;
}

/* The end (one past ')') of the call whose '(' is at t[i], skipping quoted
 * text; 0 when it never closes. */
static size_t call_end(const char *t, size_t i)
{
    int depth = 0;
    for (; t[i]; i++) {
        if (t[i] == '\'' || t[i] == '"') {
            char q = t[i];
            for (i++; t[i] && !(t[i] == q && t[i + 1] != q); i++)
                if (t[i] == q)
                    i++;
            if (!t[i])
                return 0;
            continue;
        }
        if (t[i] == '(')
            depth++;
        else if (t[i] == ')' && --depth == 0)
            return i + 1;
    }
    return 0;
}

/* Adds name (a call's text) to the node's aggregates unless already there. */
/* Adds call (at byte off of its rule's text) to the node's aggregates
 * unless already there; offs[] keeps where each was first seen. */
static void add_call(dag_node *nd, const char *call, int off, int *offs)
{
    for (int i = 0; i < nd->aggs.n; i++)
        if (strcmp(nd->aggs.names[i], call) == 0)
            return;
    offs[nd->aggs.n] = off;
    nd->aggs.names[nd->aggs.n] = call;
    nd->aggs.texts[nd->aggs.n] = call;
    nd->aggs.n++;
}

/* Rewrites an aggregate rule's text: each aggregate call becomes the quoted
 * name of the final aggregate's column (its own text), collected into the
 * node's aggregates.  *map gets, per byte of the result, the offset in text
 * it came from.  The rewritten text, or NULL after an error. */
static const char *rewrite_aggs(dag_ctx *c, dag_node *nd, const ynode *v, int **map, int *offs)
{
    const char *t = v->text;
    size_t n = strlen(t), cap = n * 3 + 16;
    char *out = dag_arena_alloc(&c->arena, cap + 1);
    int *m = dag_arena_alloc(&c->arena, (cap + 1) * sizeof *m);
    size_t o = 0;
    int calls = 0;
    if (!out || !m)
        return NULL;
    for (size_t i = 0; i < n;) {
        if (t[i] == '\'' || t[i] == '"') { /* copy quoted text as is */
            char q = t[i];
            size_t j = i + 1;
            while (t[j] && !(t[j] == q && t[j + 1] != q))
                j += t[j] == q ? 2 : 1;
            j += t[j] ? 1 : 0;
            for (; i < j && o < cap; i++, o++) {
                out[o] = t[i];
                m[o] = (int)i;
            }
            continue;
        }
        if (isalpha((unsigned char)t[i]) || t[i] == '_') {
            size_t j = i;
            while (isalnum((unsigned char)t[j]) || t[j] == '_')
                j++;
            size_t k = j;
            while (isspace((unsigned char)t[k]))
                k++;
            int word_start = i == 0 || !(isalnum((unsigned char)t[i - 1]) || t[i - 1] == '_');
            if (word_start && t[k] == '(' && is_agg_word(t + i, j - i)) {
                size_t e = call_end(t, k);
                if (!e) {
                    dag_error_in(c, v, (int)k, nd->id, "in aggregate rule: unclosed '('");
                    return NULL;
                }
                char *call = dag_arena_strndup(&c->arena, t + i, e - i);
                if (!call)
                    return NULL;
                add_call(nd, call, (int)i, offs);
                calls++;
                /* "call" with quotes doubled: at most 2 * len + 2 bytes */
                if (o + 2 * (e - i) + 2 > cap)
                    return NULL;
                out[o] = '"';
                m[o++] = (int)i;
                for (size_t p = i; p < e; p++) {
                    if (t[p] == '"') {
                        out[o] = '"';
                        m[o++] = (int)p;
                    }
                    out[o] = t[p];
                    m[o++] = (int)p;
                }
                out[o] = '"';
                m[o++] = (int)(e - 1);
                i = e;
                continue;
            }
            for (; i < j && o < cap; i++, o++) {
                out[o] = t[i];
                m[o] = (int)i;
            }
            continue;
        }
        if (o < cap) {
            out[o] = t[i];
            m[o++] = (int)i;
        }
        i++;
    }
    out[o] = '\0';
    m[o] = (int)n;
    if (calls == 0) {
        dag_error(c, v, nd->id, "an aggregate rule needs aggregate calls, such as "
                  "avg(amount) BETWEEN 10 AND 500 (use expect for a condition per row)");
        return NULL;
    }
    *map = m;
    return out;
}

/* Checks each collected call against the input; fills the final
 * aggregate's output (every call, then count(*) when it is not one) in sb. */
static int check_calls(dag_ctx *c, dag_node *nd, const mr_schema *in, dv_sbuild *sb,
                       const ynode *const *where, const int *offs)
{
    int ok = 1;
    for (int i = 0; i < nd->aggs.n; i++) {
        const char *t = nd->aggs.texts[i];
        mr_agg_kind kind;
        mr_expr *arg = NULL;
        mr_err err;
        mr_err_clear(&err);
        mr_type at = mr_type_make(MR_T_INT64), rt = at;
        int base = 0;
        int rc = mr_agg_parse(t, &kind, &arg, &err);
        if (rc == 0 && arg) {
            base = mr_agg_arg_offset(t);
            rc = mr_expr_bind(arg, in, &err) == 0 ? 0 : -1;
        }
        if (rc == 0 && arg)
            at = mr_expr_type(arg);
        if (rc == 0)
            rc = mr_agg_result_type(kind, at, &rt, &err);
        mr_expr_destroy(arg);
        if (rc < 0) {
            if (err.code == MR_ENOMEM)
                c->oom = 1;
            int off = offs[i] + (err.offset >= 0 ? base + err.offset : 0);
            dag_error_in(c, where[i], off, nd->id, "in aggregate '%s': %s", t, err.msg);
            ok = 0;
            continue;
        }
        dv_sb_add(c, sb, t, rt);
    }
    if (ok && dv_sb_find(sb, "count(*)") < 0) {
        dv_sb_add(c, sb, "count(*)", mr_type_make(MR_T_INT64));
        nd->aggs.names[nd->aggs.n] = "count(*)";
        nd->aggs.texts[nd->aggs.n++] = "count(*)";
    }
    return ok;
}

/* ---- validation ---- */

static int rule_kind(dag_ctx *c, dag_node *nd, const ynode *r, const ynode **val)
{
    int kind = -1;
    for (int k = 0; kind_keys[k]; k++) {
        const ynode *v = ymap_get(r, kind_keys[k]);
        if (!v)
            continue;
        if (kind >= 0) {
            dag_error(c, ymap_key(r, kind_keys[k]), nd->id,
                      "a rule has one kind: '%s' and '%s' are both given", kind_keys[kind],
                      kind_keys[k]);
            return -1;
        }
        kind = k;
        *val = v;
    }
    if (kind < 0)
        dag_error(c, r, nd->id, "a rule needs one of expect, unique, row_count or aggregate");
    return kind;
}

static void check_row_count(dag_ctx *c, dag_node *nd, dag_check_rule *cr, const ynode *v)
{
    if (!dv_check_keys(c, v, count_keys, "row_count", v, nd->id))
        return;
    const ynode *mn = ymap_get(v, "min"), *mx = ymap_get(v, "max");
    if (!mn && !mx) {
        dag_error(c, v, nd->id, "row_count needs min, max or both");
        return;
    }
    if (mn && (dv_parse_int(mn, &cr->min) != 0 || cr->min < 0))
        dag_error(c, mn, nd->id, "min must be a count (an integer >= 0)");
    if (mx && (dv_parse_int(mx, &cr->max) != 0 || cr->max < 0))
        dag_error(c, mx, nd->id, "max must be a count (an integer >= 0)");
    cr->has_min = mn != NULL;
    cr->has_max = mx != NULL;
    if (mn && mx && cr->min > cr->max)
        dag_error(c, mx, nd->id, "max (%lld) is below min (%lld)", cr->max, cr->min);
}

static void check_aggregate(dag_ctx *c, dag_node *nd, dag_check_rule *cr, const ynode *v,
                            const ynode **agg_at, int *offs)
{
    int before = nd->aggs.n;
    int *map = NULL;
    const char *rw = rewrite_aggs(c, nd, v, &map, offs);
    if (!rw)
        return;
    cr->text = v->text;
    cr->expr = rw;
    cr->map = map;
    for (int i = before; i < nd->aggs.n; i++)
        agg_at[i] = v;
}

/* Binds each aggregate rule's rewritten text over the final aggregate. */
static void bind_aggregates(dag_ctx *c, dag_node *nd, const mr_schema *fin)
{
    for (int i = 0; i < nd->nchecks; i++) {
        dag_check_rule *cr = &nd->checks[i];
        if (cr->kind != MILLRACE__CHECK_KIND__CHECK_AGGREGATE || !cr->expr)
            continue;
        mr_expr *e = NULL;
        mr_err err;
        mr_err_clear(&err);
        int rc = mr_expr_parse(cr->expr, &e, &err);
        if (rc == 0)
            rc = mr_expr_bind(e, fin, &err);
        if (rc == 0 && mr_expr_type(e).id != MR_T_BOOL) {
            dag_error(c, cr->at, nd->id, "rule '%s': the aggregate rule must be a boolean "
                      "expression; this one is %s", cr->name, dv_type_str(c, mr_expr_type(e)));
        } else if (rc != 0) {
            if (err.code == MR_ENOMEM)
                c->oom = 1;
            int off = err.offset >= 0 && (size_t)err.offset <= strlen(cr->expr)
                          ? cr->map[err.offset] : -1;
            dag_error_in(c, cr->at, off, nd->id, "in rule '%s': %s%s", cr->name, err.msg,
                         err.code == MR_ENOTFOUND ? " (an aggregate rule reads only aggregates "
                                                    "of the input's columns, such as max(x))"
                                                  : "");
        }
        mr_expr_destroy(e);
    }
}

mr_schema *dag_check_validate(dag_ctx *c, dag_node *nd, mr_schema *const *ins)
{
    const mr_schema *in = nd->ninputs > 0 ? ins[0] : NULL;
    const ynode *rules = ymap_get(nd->body, "rules");
    if (rules->n == 0) {
        dag_error(c, rules, nd->id, "'rules' is empty: list at least one rule");
        return NULL;
    }
    nd->checks = dag_arena_alloc(&c->arena, rules->n * sizeof *nd->checks);
    /* every aggregate call of every rule, plus count(*) */
    size_t ncalls = 2;
    for (size_t i = 0; i < rules->n; i++) {
        const ynode *a = rules->items[i]->kind == YN_MAP ? ymap_get(rules->items[i], "aggregate")
                                                          : NULL;
        ncalls += a && a->kind == YN_SCALAR ? a->len : 0;
    }
    dv_named_alloc(c, &nd->aggs, ncalls);
    const ynode **agg_at = dag_arena_alloc(&c->arena, ncalls * sizeof *agg_at);
    int *offs = dag_arena_alloc(&c->arena, ncalls * sizeof *offs);
    if (!nd->checks || !agg_at || !offs || !nd->aggs.names)
        return NULL;
    nd->nchecks = 0;
    int check = in && !dv_has_placeholder(in), agg_ok = 1;
    for (size_t i = 0; i < rules->n; i++) {
        const ynode *r = rules->items[i], *val = NULL;
        if (r->kind != YN_MAP) {
            dag_error(c, r, nd->id, "a rule is a mapping with a name and one of expect, "
                      "unique, row_count or aggregate, not %s", ynode_kind_name(r));
            continue;
        }
        if (!dv_check_keys(c, r, rule_keys,
                           "a rule (name, on_fail and one kind: expect, unique, row_count "
                           "or aggregate)",
                           r, nd->id))
            continue;
        dag_check_rule *cr = &nd->checks[nd->nchecks++];
        memset(cr, 0, sizeof *cr);
        const ynode *name = ymap_get(r, "name"), *onf = ymap_get(r, "on_fail");
        cr->name = name->text;
        cr->at = r;
        if (name->len == 0)
            dag_error(c, name, nd->id, "a rule's name is empty");
        for (int k = 0; k < nd->nchecks - 1; k++)
            if (strcmp(nd->checks[k].name, cr->name) == 0)
                dag_error(c, name, nd->id, "two rules are named '%s'", cr->name);
        cr->action = MILLRACE__CHECK_ACTION__CHECK_FAIL;
        if (onf) {
            int a = dv_pick(c, onf, mr_plan_check_action_names, "on_fail", nd->id);
            if (a >= 0)
                cr->action = (Millrace__CheckAction)a;
        }
        int kind = rule_kind(c, nd, r, &val);
        if (kind < 0)
            continue;
        cr->kind = (Millrace__CheckKind)kind;
        cr->at = val;
        if (cr->action == MILLRACE__CHECK_ACTION__CHECK_REJECT &&
            cr->kind != MILLRACE__CHECK_KIND__CHECK_EXPECT)
            dag_error(c, onf, nd->id, "rule '%s': on_fail: reject needs rows to reject, and a "
                      "%s rule judges the whole input; use fail or warn", cr->name,
                      kind_keys[kind]);
        int nerr = c->nerrors;
        switch (cr->kind) {
        case MILLRACE__CHECK_KIND__CHECK_EXPECT: {
            mr_type t;
            cr->expr = val->text;
            const char *what = dag_arena_printf(&c->arena, "rule '%s'", cr->name);
            int rc = dv_check_expr(c, val, check ? in : NULL, what ? what : "rule", nd->id, &t);
            if (rc > 0 && t.id != MR_T_BOOL)
                dag_error(c, val, nd->id, "rule '%s': expect must be a boolean expression; "
                          "this one is %s", cr->name, dv_type_str(c, t));
            break;
        }
        case MILLRACE__CHECK_KIND__CHECK_UNIQUE:
            if (val->n == 0)
                dag_error(c, val, nd->id, "rule '%s': unique needs at least one column",
                          cr->name);
            else
                dv_column_list(c, nd, val, check ? in : NULL, "the input of the check",
                               &cr->columns, &cr->ncolumns);
            break;
        case MILLRACE__CHECK_KIND__CHECK_ROW_COUNT: check_row_count(c, nd, cr, val); break;
        default:
            check_aggregate(c, nd, cr, val, agg_at, offs);
            agg_ok &= c->nerrors == nerr;
            break;
        }
    }
    if (!in)
        return NULL;
    if (agg_ok && check && nd->aggs.n > 0) {
        dv_sbuild fb = {0};
        if (check_calls(c, nd, in, &fb, agg_at, offs)) {
            mr_schema *fin = dv_sb_finish(c, &fb);
            if (fin) {
                bind_aggregates(c, nd, fin);
                nd->check_final = fin;
            }
            mr_err err;
            mr_err_clear(&err);
            nd->partial = mr_hashagg_state_schema(in, NULL, 0, nd->aggs.names, nd->aggs.texts,
                                                  nd->aggs.n, &err);
            if (!nd->partial) {
                if (err.code == MR_ENOMEM)
                    c->oom = 1;
                else
                    dag_error(c, nd->key, nd->id, "%s", err.msg);
            }
        }
    }
    return mr_schema_copy(in);
}

/* ---- into the plan (compile.c calls these through dag_ops) ---- */

static Millrace__CheckRule *pb_rule(dag_pb *b, const dag_check_rule *cr, int position)
{
    Millrace__CheckRule *r = dag_pb_alloc(b, sizeof *r);
    if (!r)
        return NULL;
    millrace__check_rule__init(r);
    r->name = dag_pb_str(b, cr->name);
    r->kind = cr->kind;
    r->action = cr->action;
    r->expr = dag_pb_str(b, cr->expr);
    r->text = dag_pb_str(b, cr->text);
    r->columns = dag_pb_strings(b, cr->columns, cr->ncolumns);
    r->n_columns = (size_t)cr->ncolumns;
    r->has_min = cr->has_min;
    r->min = cr->min;
    r->has_max = cr->has_max;
    r->max = cr->max;
    r->position = (uint32_t)position;
    return r;
}

/* An OP_CHECK of the node's rules of the kinds in mask (1 << kind), or of
 * just rule only when only >= 0. */
static void emit_check(dag_pb *b, dag_frag *f, const dag_node *nd, unsigned mask, int only)
{
    int n = 0;
    for (int i = 0; i < nd->nchecks; i++)
        n += only < 0 ? (mask >> nd->checks[i].kind) & 1 : i == only;
    if (n == 0)
        return;
    Millrace__OpSpec *op = dag_op_new(b, f, MILLRACE__OP_KIND__OP_CHECK, nd, dag_frag_schema(f));
    Millrace__CheckRule **rules = dag_pb_alloc(b, (size_t)n * sizeof *rules);
    if (!op || !rules)
        return;
    op->check->rules = rules;
    for (int i = 0; i < nd->nchecks; i++)
        if (only < 0 ? (mask >> nd->checks[i].kind) & 1 : i == only)
            rules[op->check->n_rules++] = pb_rule(b, &nd->checks[i], i);
}

/* The side stage of the aggregate rules over the shared input stage. */
static void emit_aggregates(dag_pb *b, const dag_node *nd, uint32_t shared)
{
    const Millrace__Stage *st = b->stages[shared];
    Millrace__Schema *wire = st->ops[st->n_ops - 1]->output;
    dag_frag s = {0};
    s.shuffled = 1;
    s.partitions = st->shuffle->partitions;
    s.inputs = dag_pb_alloc(b, sizeof *s.inputs);
    if (!s.inputs)
        return;
    s.inputs[0] = st->id;
    s.ninputs = s.icap = 1;
    Millrace__OpSpec *r = dag_op_new(b, &s, MILLRACE__OP_KIND__OP_SHUFFLE_READ, nd, wire);
    Millrace__OpSpec *p = r ? dag_op_new(b, &s, MILLRACE__OP_KIND__OP_AGG_PARTIAL, nd,
                                         dag_pb_schema(b, nd->partial))
                            : NULL;
    if (!p)
        return;
    r->input = wire;
    r->shuffle_read->input_stage = st->id;
    p->input = wire;
    p->agg->aggregates = dag_pb_named(b, nd->aggs.names, nd->aggs.texts, nd->aggs.n);
    p->agg->n_aggregates = (size_t)nd->aggs.n;
    dag_seal_shuffle(b, &s, nd, 1, NULL, 0, 0);
    Millrace__OpSpec *fin = dag_op_new(b, &s, MILLRACE__OP_KIND__OP_AGG_FINAL, nd,
                                       dag_pb_schema(b, nd->check_final));
    if (!fin)
        return;
    *fin->agg = *p->agg;
    fin->input = wire;
    emit_check(b, &s, nd, 1u << MILLRACE__CHECK_KIND__CHECK_AGGREGATE, -1);
    dag_seal(b, &s); /* no sink: the check operator's counts are its result */
}

void dag_check_compile(dag_pb *b, dag_frag *f, const dag_node *nd, int idx)
{
    (void)idx;
    int naggs = 0;
    for (int i = 0; i < nd->nchecks; i++)
        naggs += nd->checks[i].kind == MILLRACE__CHECK_KIND__CHECK_AGGREGATE;
    int first_unique = -1;
    for (int i = 0; i < nd->nchecks && first_unique < 0; i++)
        if (nd->checks[i].kind == MILLRACE__CHECK_KIND__CHECK_UNIQUE)
            first_unique = i;
    /* Rows already in one partition (after a sort, a global aggregate)
     * meet in one task: unique needs no shuffle, and none may break a
     * sorted order the write keeps. */
    int single = f->shuffled && f->partitions == 1;
    if (naggs > 0) {
        /* The input, shared by the aggregate side stage and the rest: the
         * first unique rule's hash shuffle when there is one (the partial
         * aggregates take any partitioning), else a round robin. */
        if (first_unique >= 0 && !single) {
            const dag_check_rule *u = &nd->checks[first_unique];
            dag_seal_shuffle(b, f, nd, b->partitions, dag_pb_strings(b, u->columns, u->ncolumns),
                             (size_t)u->ncolumns, 0);
        } else {
            dag_seal_shuffle(b, f, nd, f->shuffled ? f->partitions : b->partitions, NULL, 0, 1);
        }
        emit_aggregates(b, nd, f->inputs[0]);
    }
    /* unique sees every row of the input: before the expect rules drop any */
    for (int i = 0; i < nd->nchecks; i++) {
        const dag_check_rule *cr = &nd->checks[i];
        if (cr->kind != MILLRACE__CHECK_KIND__CHECK_UNIQUE)
            continue;
        if (!single && !(naggs > 0 && i == first_unique)) {
            char **keys = dag_pb_strings(b, cr->columns, cr->ncolumns);
            dag_seal_shuffle(b, f, nd, b->partitions, keys, (size_t)cr->ncolumns, 0);
        }
        emit_check(b, f, nd, 0, i);
    }
    emit_check(b, f, nd,
               1u << MILLRACE__CHECK_KIND__CHECK_EXPECT | 1u << MILLRACE__CHECK_KIND__CHECK_ROW_COUNT,
               -1);
}
