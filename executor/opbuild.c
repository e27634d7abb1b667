/* opbuild.c - plan operator kind -> operator builder; see opbuild.h.
 *
 * Each builder turns the plan's typed fields into the arguments of one
 * core/op constructor.  The temporary arrays they fill (names, flags) are
 * the constructors' input only: the operators copy what they keep.
 */
#include "executor/opbuild.h"

#include <stdlib.h>

#include "core/op/check.h"
#include "core/op/distinct.h"
#include "core/op/filter.h"
#include "core/op/hashagg.h"
#include "core/op/hashjoin.h"
#include "core/op/limit.h"
#include "core/op/project.h"
#include "core/op/sort.h"
#include "core/op/union.h"
#include "core/op/unnest.h"
#include "core/op/window.h"
#include "proto/schema_pb.h"

static void close_all(mr_op **kids, int n)
{
    for (int k = 0; k < n; k++)
        mr_op_close(kids[k]);
}

static mr_op *build_filter(const Millrace__OpSpec *op, mr_op **kids, int nkids, mr_err *err)
{
    (void)nkids;
    return mr_filter_create(kids[0], op->filter->predicate, op->node, err);
}

static mr_op *build_project(const Millrace__OpSpec *op, mr_op **kids, int nkids, mr_err *err)
{
    (void)nkids;
    const Millrace__ProjectOp *pr = op->project;
    const char **names = calloc(pr->n_exprs + 1, sizeof *names);
    const char **exprs = calloc(pr->n_exprs + 1, sizeof *exprs);
    mr_op *p = NULL;
    if (!names || !exprs) {
        mr_err_oom(err, NULL);
        mr_op_close(kids[0]);
    } else {
        for (size_t i = 0; i < pr->n_exprs; i++) {
            names[i] = pr->exprs[i]->name;
            exprs[i] = pr->exprs[i]->expr;
        }
        p = mr_project_create(kids[0], names, exprs, (int)pr->n_exprs, op->node, err);
    }
    free(names);
    free(exprs);
    return p;
}

/* Either half of an aggregate: op->input is the aggregate's input schema
 * (for the final half too: it defines the states it merges). */
static mr_op *build_agg(const Millrace__OpSpec *op, mr_op *child, mr_agg_mode mode, mr_err *err)
{
    const Millrace__AggOp *a = op->agg;
    mr_schema *in = mr_schema_from_pb(op->input, err);
    const char **aggn = calloc(a->n_aggregates + 1, sizeof *aggn);
    const char **agge = calloc(a->n_aggregates + 1, sizeof *agge);
    mr_op *agg = NULL;
    if (!in || !aggn || !agge) {
        if (in)
            mr_err_oom(err, NULL);
        mr_op_close(child);
        goto out;
    }
    for (size_t i = 0; i < a->n_aggregates; i++) {
        aggn[i] = a->aggregates[i]->name;
        agge[i] = a->aggregates[i]->expr;
    }
    agg = mr_hashagg_create(child, mode, (const char *const *)a->group_by, (int)a->n_group_by,
                            aggn, agge, (int)a->n_aggregates, in, op->node, err);
out:
    free(aggn);
    free(agge);
    mr_schema_destroy(in);
    return agg;
}

static mr_op *build_agg_partial(const Millrace__OpSpec *op, mr_op **kids, int nkids, mr_err *err)
{
    (void)nkids;
    return build_agg(op, kids[0], MR_AGG_PARTIAL, err);
}

static mr_op *build_agg_final(const Millrace__OpSpec *op, mr_op **kids, int nkids, mr_err *err)
{
    (void)nkids;
    return build_agg(op, kids[0], MR_AGG_FINAL, err);
}

static mr_op *build_distinct(const Millrace__OpSpec *op, mr_op **kids, int nkids, mr_err *err)
{
    (void)nkids;
    return mr_distinct_create(kids[0], (const char *const *)op->distinct->columns,
                              (int)op->distinct->n_columns, op->node, err);
}

static mr_op *build_sort(const Millrace__OpSpec *op, mr_op **kids, int nkids, mr_err *err)
{
    (void)nkids;
    const Millrace__SortOp *so = op->sort;
    size_t n = so->n_keys;
    const char **cols = calloc(n + 1, sizeof *cols);
    int *desc = calloc(n + 1, sizeof *desc), *nf = calloc(n + 1, sizeof *nf);
    mr_op *s = NULL;
    if (!cols || !desc || !nf) {
        mr_err_oom(err, NULL);
        mr_op_close(kids[0]);
    } else {
        for (size_t i = 0; i < n; i++) {
            cols[i] = so->keys[i]->column;
            desc[i] = so->keys[i]->descending;
            nf[i] = so->keys[i]->nulls_first;
        }
        s = mr_sort_create(kids[0], cols, desc, nf, (int)n, so->limit, op->node, err);
    }
    free(cols);
    free(desc);
    free(nf);
    return s;
}

static mr_op *build_limit(const Millrace__OpSpec *op, mr_op **kids, int nkids, mr_err *err)
{
    (void)nkids;
    return mr_limit_create(kids[0], op->limit->n, op->node, err);
}

static mr_op *build_union(const Millrace__OpSpec *op, mr_op **kids, int nkids, mr_err *err)
{
    return mr_union_create(kids, nkids, op->union_op->distinct, op->node, err);
}

/* children: [probe (the DAG's left), build (right)]. */
static mr_op *build_hashjoin(const Millrace__OpSpec *op, mr_op **kids, int nkids, mr_err *err)
{
    const Millrace__HashJoinOp *h = op->hashjoin;
    if ((unsigned)h->kind > MR_JOIN_ANTI || h->n_left_keys != h->n_right_keys) {
        close_all(kids, nkids);
        return mr_err_set(err, MR_EPROTO, "node '%s': bad join spec", op->node), NULL;
    }
    return mr_hashjoin_create(kids[1], kids[0], (mr_join_type)h->kind,
                              (const char *const *)h->left_keys,
                              (const char *const *)h->right_keys, (int)h->n_left_keys,
                              h->right_prefix, op->node, err);
}

static mr_op *build_window(const Millrace__OpSpec *op, mr_op **kids, int nkids, mr_err *err)
{
    (void)nkids;
    const Millrace__WindowOp *w = op->window;
    size_t no = w->n_order_by, nc = w->n_columns;
    const char **order = calloc(no + 1, sizeof *order);
    int *desc = calloc(no + 1, sizeof *desc);
    const char **names = calloc(nc + 1, sizeof *names), **exprs = calloc(nc + 1, sizeof *exprs);
    mr_op *win = NULL;
    if (!order || !desc || !names || !exprs) {
        mr_err_set(err, MR_ENOMEM, "out of memory");
        mr_op_close(kids[0]);
    } else {
        for (size_t i = 0; i < no; i++) {
            order[i] = w->order_by[i]->column;
            desc[i] = w->order_by[i]->descending;
        }
        mr_window_order ord = {order, desc, (int)no};
        for (size_t i = 0; i < nc; i++) {
            names[i] = w->columns[i]->name;
            exprs[i] = w->columns[i]->expr;
        }
        win = mr_window_create(kids[0], (const char *const *)w->partition_by,
                               (int)w->n_partition_by, &ord, names, exprs, (int)nc, op->node,
                               err);
    }
    free(order);
    free(desc);
    free(names);
    free(exprs);
    return win;
}

static mr_op *build_check(const Millrace__OpSpec *op, mr_op **kids, int nkids, mr_err *err)
{
    (void)nkids;
    const Millrace__CheckOp *c = op->check;
    mr_check_rule *rules = calloc(c->n_rules + 1, sizeof *rules);
    if (!rules) {
        mr_op_close(kids[0]);
        mr_err_oom(err, op->node);
        return NULL;
    }
    for (size_t i = 0; i < c->n_rules; i++) {
        const Millrace__CheckRule *r = c->rules[i];
        rules[i] = (mr_check_rule){.name = r->name,
                                   .kind = (mr_check_kind)r->kind,
                                   .action = (mr_check_action)r->action,
                                   .expr = r->expr && r->expr[0] ? r->expr : NULL,
                                   .columns = (const char *const *)r->columns,
                                   .ncolumns = (int)r->n_columns};
    }
    mr_op *k = mr_check_create(kids[0], rules, (int)c->n_rules, op->node, err);
    free(rules);
    return k;
}

static mr_op *build_unnest(const Millrace__OpSpec *op, mr_op **kids, int nkids, mr_err *err)
{
    (void)nkids;
    const Millrace__UnnestOp *u = op->unnest;
    mr_type t;
    if (mr_type_parse(u->type, &t, err) != 0) {
        mr_op_close(kids[0]);
        mr_err_prefix(err, "node '%s'", op->node);
        return NULL;
    }
    return mr_unnest_create(kids[0], u->column, u->as, t, u->keep_empty, op->node, err);
}

#define K(x) MILLRACE__OP_KIND__OP_##x
static const mr_opbuild_entry entries[] = {
    [K(SCAN)] = {"scan", 0, NULL},
    [K(SHUFFLE_READ)] = {"shuffle read", 0, NULL},
    [K(FILTER)] = {"filter", 1, build_filter},
    [K(PROJECT)] = {"project", 1, build_project},
    [K(AGG_PARTIAL)] = {"partial aggregate", 1, build_agg_partial},
    [K(AGG_FINAL)] = {"final aggregate", 1, build_agg_final},
    [K(HASHJOIN)] = {"hash join", 2, build_hashjoin},
    [K(UNION)] = {"union", -1, build_union},
    [K(DISTINCT)] = {"distinct", 1, build_distinct},
    [K(SORT)] = {"sort", 1, build_sort},
    [K(LIMIT)] = {"limit", 1, build_limit},
    [K(WINDOW)] = {"window", 1, build_window},
    [K(CHECK)] = {"check", 1, build_check},
    [K(UNNEST)] = {"unnest", 1, build_unnest},
};
#undef K

const mr_opbuild_entry *mr_opbuild_find(Millrace__OpKind k)
{
    size_t n = sizeof entries / sizeof *entries;
    return (size_t)k < n && entries[k].name ? &entries[k] : NULL;
}
