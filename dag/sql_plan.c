/* sql_plan.c - the `sql` op: a parsed query (sql.h) into the typed nodes
 * the hand-written DAG would hold.
 *
 * Two passes, because the shape of the plan follows from the query's text
 * alone but its names need the input schemas:
 *   1. expansion (dag_sql_expand, before the graph is checked): each sql
 *      node becomes a chain of step nodes - per SELECT block: a join per
 *      JOIN (and a filter for an inner join's non-key conditions), a filter
 *      for WHERE, a derive for GROUP BY expressions, an aggregate (with
 *      HAVING as its having), a select, a distinct; then a union per UNION,
 *      a sort for ORDER BY and a limit.  A WITH query or a subquery in FROM
 *      is planned the same way and read by the steps that name it.  The
 *      last step keeps the sql node's id, so other nodes read it as any
 *      node; the others are named "<id>.<n>".
 *   2. filling (dag_sql_fill, from schema propagation, in graph order):
 *      each step's keys are written from its input schemas - names
 *      resolved with SQL's rules (aliases, qualified and bare names,
 *      ambiguity, grouping) and rewritten to the columns the step's input
 *      really has - and then the op's own validation runs on them, as on
 *      a hand-written node.
 * Every name a step reads is tracked in a scope: (qualifier, SQL name,
 * column of the step's input).  A join keeps left names, puts the right
 * side's non-key columns behind a prefix ("<alias>.") only when a name
 * clashes, and shares a key named alike on both sides (SQL USING), so a
 * query and its hand-written nodes are the same plan.
 *
 * This file holds pass 1; pass 2 is sql_fill.c; names, scopes and the
 * rewriting of expressions are sql_names.c; the grammar is sql_parse.c.
 */
#include "dag/sql.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const int st_dop[] = {DOP_JOIN, DOP_FILTER, DOP_DERIVE, DOP_AGGREGATE, DOP_SELECT,
                             DOP_DISTINCT, DOP_SORT, DOP_LIMIT, DOP_UNION, DOP_SELECT, DOP_JOIN,
                             DOP_DERIVE, DOP_AGGREGATE, DOP_SELECT, DOP_WINDOW,
                             DOP_DERIVE};


const dv_keyspec dag_sql_keys[] = {
    {"op", 1, DV_K_STR}, {"query", 1, DV_K_STR}, {"inputs", 0, DV_K_SEQ}, {NULL, 0, 0},
};

/* A sql node that reaches validation still has op sql: its query did not
 * expand because its text could not be read (a params error, reported
 * there), so its output is unknown and later nodes are not checked
 * against it. */
mr_schema *dag_sql_validate(dag_ctx *c, dag_node *nd, mr_schema *const *ins)
{
    (void)c, (void)nd, (void)ins;
    return NULL;
}

/* Never reached: a DAG whose sql node did not expand has errors and is not
 * compiled.  Should that change, the plan is refused rather than wrong. */
void dag_sql_compile(dag_pb *b, dag_frag *f, const dag_node *nd, int idx)
{
    (void)f, (void)idx;
    dag_error(b->c, nd->key, nd->id, "sql node '%s' was not expanded into nodes", nd->id);
}

/* ---- pass 1: the steps ---------------------------------------------------- */

typedef struct sq_env {  /* WITH queries in view: name -> the node that computes it */
    const char *name, *id;
    const sq_query *q;
    const struct sq_env *up;
} sq_env;

typedef struct xp {
    sq_q *q;
    dag_node *extra;     /* new nodes; their index in d->nodes is d->n + k */
    int nextra, cap;
    int nsteps;          /* of this query, for ids */
    const char **used;   /* other nodes the query reads */
    int nused, ucap;
    int failed;
} xp;

static sq_step *new_step(xp *x, int kind, sq_blk *bk, const char **id)
{
    sq_q *q = x->q;
    if (x->nextra == x->cap) {
        int nc = x->cap ? x->cap * 2 : 16;
        dag_node *n = sq_zalloc(q, (size_t)nc * sizeof *n);
        if (!n) {
            x->failed = 1;
            return NULL;
        }
        if (x->nextra)
            memcpy(n, x->extra, (size_t)x->nextra * sizeof *n);
        x->extra = n;
        x->cap = nc;
    }
    sq_step *st = sq_zalloc(q, sizeof *st);
    dag_node *nd = &x->extra[x->nextra];
    memset(nd, 0, sizeof *nd);
    nd->id = dag_arena_printf(&q->c->arena, "%s.%d", q->id, ++x->nsteps);
    nd->inputs = sq_zalloc(q, 8 * sizeof *nd->inputs);
    if (!st || !nd->id || !nd->inputs) {
        x->failed = 1;
        return NULL;
    }
    x->nextra++;
    nd->key = q->qn;
    nd->op = st_dop[kind];
    nd->ok = 1;
    nd->sql = st;
    st->kind = kind;
    st->q = q;
    st->blk = bk;
    *id = nd->id;
    return st;
}

static dag_node *step_node(xp *x)
{
    return &x->extra[x->nextra - 1];
}

static void add_in(xp *x, dag_node *nd, const char *id, int tok, const char *qual)
{
    if (nd->ninputs >= 8)
        return;
    nd->sql->qual[nd->ninputs] = qual;
    nd->inputs[nd->ninputs].ref = sq_yscalar(x->q, id, tok);
    nd->inputs[nd->ninputs].node = -1;
    nd->ninputs++;
}

static int plan_query(xp *x, sq_query *qy, const sq_env *env, const char **id, int *is_step);

/* Whether tokens [a, b) are one column reference: name or q.name. */
static int from_source(xp *x, sq_from *f, const sq_env *env, const char **id, const char **qual)
{
    sq_q *q = x->q;
    if (f->sub) {
        int is_step;
        if (plan_query(x, f->sub, env, id, &is_step) < 0)
            return -1;
        *qual = f->alias >= 0 ? sq_tokname(q, f->alias) : NULL;
        return 0;
    }
    const char *name = sq_tokname(q, f->name);
    *qual = f->alias >= 0 ? sq_tokname(q, f->alias) : name;
    for (const sq_env *e = env; e; e = e->up)
        if (strcmp(e->name, name) == 0) {
            *id = e->id;
            return 0;
        }
    const char **cands = sq_zalloc(q, ((size_t)q->d->n + 16) * sizeof *cands);
    int nc = 0;
    for (int i = 0; i < q->d->n; i++) {
        if (strcmp(q->d->nodes[i].id, name) == 0) {
            if (strcmp(name, q->id) == 0) {
                sq_qerr(q, f->name, "a sql node cannot read itself ('%s')", name);
                return -1;
            }
            *id = q->d->nodes[i].id;
            if (x->nused == x->ucap) {
                int nc2 = x->ucap ? x->ucap * 2 : 8;
                const char **u = sq_zalloc(q, (size_t)nc2 * sizeof *u);
                if (!u)
                    return -1;
                if (x->nused)
                    memcpy(u, x->used, (size_t)x->nused * sizeof *u);
                x->used = u;
                x->ucap = nc2;
            }
            x->used[x->nused++] = *id;
            return 0;
        }
        if (cands)
            cands[nc++] = q->d->nodes[i].id;
    }
    for (const sq_env *e = env; e && cands && nc < q->d->n + 15; e = e->up)
        cands[nc++] = e->name;
    sq_qerr(q, f->name, "unknown node or WITH query '%s' in FROM%s", name,
         cands ? dag_did_you_mean(q->c, name, cands, (size_t)nc) : "");
    return -1;
}

/* The output name of select item it, from the query's text. */
static const char *item_name(sq_q *q, const sq_item *it)
{
    if (it->alias >= 0)
        return sq_tokname(q, it->alias);
    if (sq_is_ref(q, it->e.a, it->e.b))
        return sq_tokname(q, it->e.b - 1);
    if (q->tk.t[it->e.a].kind == MR_TOK_IDENT && sq_is_op(&q->tk, it->e.a + 1, "(") &&
        sq_close_paren(q, it->e.a + 1, it->e.b) == it->e.b - 1)
        return sq_tokname(q, it->e.a);
    return "?column?";
}

/* A WHERE conjunct holding a subquery: [NOT] EXISTS (SELECT ... FROM one
 * WHERE inner.k = outer.k AND ...) or x IN (SELECT one column ...), as a
 * semi or anti join of cur (qualified cq when raw) with the subquery. */
static int plan_semi(xp *x, sq_span c, const sq_env *env, const char **cur, const char *cq)
{
    sq_q *q = x->q;
    int i = c.a, anti = 0;
    static const char *const how = "a subquery is taken only as a WHERE condition joined "
        "by AND: [NOT] EXISTS (SELECT ... FROM x WHERE x.k = outer.k ...) or column IN "
        "(SELECT one column ...)";
    if (sq_is_kw(&q->tk, i, "not") && sq_is_kw(&q->tk, i + 1, "exists")) {
        anti = 1;
        i++;
    }
    const sq_sub *sub = NULL;
    sq_span ref = {0, 0};
    if (sq_is_kw(&q->tk, i, "exists")) {
        sub = sq_sub_at(&q->tk, i + 1);
        if (!sub || sub->rparen != c.b - 1) {
            sq_qerr(q, c.a, "%s", how);
            return -1;
        }
    } else {
        int k = c.a;
        while (k < c.b && !sq_is_kw(&q->tk, k, "in") && !sq_is_kw(&q->tk, k, "not"))
            k++;
        if (k < c.b && sq_is_kw(&q->tk, k, "not") && sq_is_kw(&q->tk, k + 1, "in")) {
            sq_qerr(q, k, "NOT IN (subquery) is not supported (one NULL in the subquery makes it "
                 "false for every row): write NOT EXISTS (SELECT ... WHERE inner.x = outer.x)");
            return -1;
        }
        sub = k < c.b ? sq_sub_at(&q->tk, k + 1) : NULL;
        if (!sub || sub->rparen != c.b - 1 || !sq_is_ref(q, c.a, k)) {
            sq_qerr(q, c.a, "%s", how);
            return -1;
        }
        ref = (sq_span){c.a, k};
    }
    const char *rid, *rq = NULL, *sid;
    sq_span *corr = NULL;
    int ncorr = 0;
    if (ref.b > ref.a) {
        int st;
        if (plan_query(x, sub->q, env, &rid, &st) < 0)
            return -1;
    } else {
        sq_query *sq = sub->q;
        sq_select *ss = sq->arms[0];
        if (sq->narms != 1 || sq->nctes || ss->nfrom != 1 || ss->ngroup ||
            ss->having.b > ss->having.a || sq->limit >= 0) {
            sq_qerr(q, sub->lparen + 1, "an EXISTS subquery here reads one node or WITH query, "
                 "with a WHERE that ties it to the outer query (no JOIN, GROUP BY, UNION or "
                 "LIMIT): put the rest in a WITH query");
            return -1;
        }
        if (from_source(x, &ss->from[0], env, &rid, &rq) < 0)
            return -1;
        sq_span wc[64];
        int nwc = ss->where.b > ss->where.a ? sq_conjuncts(q, ss->where, wc, 64) : 0, eq, nrest = 0;
        sq_span *rest = sq_zalloc(q, 64 * sizeof *rest);
        corr = sq_zalloc(q, 128 * sizeof *corr);
        if (!rest || !corr)
            return -1;
        for (int k = 0; k < nwc; k++) {
            int outer_side = -1;
            if (sq_key_conjunct(q, wc[k], &eq)) {
                sq_span sd[2] = {{wc[k].a, eq}, {eq + 1, wc[k].b}};
                for (int sx = 0; sx < 2; sx++)
                    if (sd[sx].b - sd[sx].a == 3 &&
                        (!rq || strcmp(sq_tokname(q, sd[sx].a), rq) != 0))
                        outer_side = sx;
                if (outer_side >= 0) {
                    corr[2 * ncorr] = sd[1 - outer_side];
                    corr[2 * ncorr + 1] = sd[outer_side];
                    ncorr++;
                    continue;
                }
            }
            rest[nrest++] = wc[k];
        }
        if (ncorr == 0) {
            sq_qerr(q, sub->lparen + 1, "this EXISTS subquery is not tied to the outer query: its "
                 "WHERE needs inner.column = outer.column (qualified with the outer alias)");
            return -1;
        }
        if (nrest) {
            sq_step *fs = new_step(x, ST_FILTER, NULL, &sid);
            if (!fs)
                return -1;
            fs->span = ss->where;
            fs->conj = rest;
            fs->nconj = nrest;
            add_in(x, step_node(x), rid, ss->where.a, rq);
            rid = sid;
        }
    }
    sq_step *st = new_step(x, ST_SEMI, NULL, &sid);
    if (!st)
        return -1;
    st->anti = anti;
    st->in_ref = ref;
    st->corr = corr;
    st->ncorr = ncorr;
    st->inner = rq;
    st->span = c;
    add_in(x, step_node(x), *cur, c.a, cq);
    add_in(x, step_node(x), rid, sub->lparen, rq);
    *cur = sid;
    return 0;
}

static int same_tokens(sq_q *q, sq_span a, sq_span b)
{
    if (a.b - a.a != b.b - b.a)
        return 0;
    for (int k = 0; k < a.b - a.a; k++) {
        const mr_tok *x = &q->tk.t[a.a + k], *y = &q->tk.t[b.a + k];
        if (x->len != y->len || strncasecmp(q->tk.text + x->off, q->tk.text + y->off,
                                            (size_t)x->len) != 0)
            return 0;
    }
    return 1;
}

/* Whether a grouped block's select list is its aggregate's output as it
 * stands - the GROUP BY columns in order, then one aliased aggregate call
 * each, HAVING using only those - over one node of the DAG (whose names
 * are its columns): then the aggregates take the aliases and no select
 * node follows, as a hand-written aggregate would be written. */
static int agg_direct(xp *x, sq_select *s, sq_blk *bk, const sq_env *env)
{
    sq_q *q = x->q;
    if (s->nfrom != 1 || s->from[0].sub || s->nitems <= s->ngroup)
        return 0;
    const char *name = sq_tokname(q, s->from[0].name);
    for (const sq_env *e = env; e; e = e->up)
        if (strcmp(e->name, name) == 0)
            return 0;
    for (int g = 0; g < s->ngroup; g++) {
        const sq_item *it = &s->items[g];
        if (it->star || !sq_is_ref(q, it->e.a, it->e.b) || !bk->gplain[g] ||
            (bk->gitem[g] >= 0 && bk->gitem[g] != g) ||
            (bk->gitem[g] < 0 && !same_tokens(q, s->group[g], it->e)) ||
            (it->alias >= 0 && strcmp(sq_tokname(q, it->alias), sq_tokname(q, it->e.b - 1))))
            return 0;
    }
    for (int i = s->ngroup; i < s->nitems; i++) {
        const sq_item *it = &s->items[i];
        if (it->star || it->alias < 0 || !sq_is_agg(q, it->e.a) ||
            sq_close_paren(q, it->e.a + 1, it->e.b) != it->e.b - 1)
            return 0;
        for (int j = 0; j < i; j++)
            if ((j >= s->ngroup && same_tokens(q, s->items[j].e, it->e)) ||
                strcmp(sq_tokname(q, s->items[j].alias >= 0 ? s->items[j].alias
                                                            : s->items[j].e.b - 1),
                       sq_tokname(q, it->alias)) == 0)
                return 0;
    }
    for (int k = s->having.a; k < s->having.b; k++) {
        if (!sq_is_agg(q, k))
            continue;
        sq_span call = {k, sq_close_paren(q, k + 1, s->having.b) + 1};
        int found = 0;
        for (int i = s->ngroup; i < s->nitems && !found; i++)
            found = same_tokens(q, s->items[i].e, call);
        if (!found)
            return 0;
        k = call.b - 1;
    }
    return 1;
}

/* Whether q gives one row: one SELECT with aggregates and no GROUP BY. */
static int one_row(sq_q *q, const sq_query *qy)
{
    if (!qy || qy->narms != 1 || qy->arms[0]->ngroup ||
        qy->arms[0]->having.b > qy->arms[0]->having.a)
        return 0;
    const sq_select *s = qy->arms[0];
    int agg = 0;
    for (int i = 0; i < s->nitems; i++)
        for (int k = s->items[i].e.a; !s->items[i].star && k < s->items[i].e.b; k++)
            agg |= sq_is_agg(q, k);
    return agg;
}

static int plan_select(xp *x, sq_select *s, const sq_env *env, const sq_query *ord,
                       const char **id, int *is_step)
{
    sq_q *q = x->q;
    sq_blk *bk = sq_zalloc(q, sizeof *bk);
    if (!bk)
        return -1;
    bk->s = s;
    const char *cur, *qual;
    if (from_source(x, &s->from[0], env, &cur, &qual) < 0)
        return -1;
    int raw = 1; /* cur is not a step of this block yet: qualify its columns */
    *is_step = 0;
    for (int j = 1; j < s->nfrom; j++) {
        sq_from *f = &s->from[j];
        const char *src, *rq, *sid;
        if (from_source(x, f, env, &src, &rq) < 0)
            return -1;
        if (f->join == SQ_J_CROSS) {
            /* a one-row right side: both sides get a constant key */
            const sq_query *rq_q = f->sub;
            for (const sq_env *e = env; !rq_q && f->name >= 0 && e; e = e->up)
                if (strcmp(e->name, sq_tokname(q, f->name)) == 0)
                    rq_q = e->q;
            if (!one_row(q, rq_q)) {
                sq_qerr(q, f->at, "CROSS JOIN takes a one-row side only (a subquery or WITH "
                        "query with aggregates and no GROUP BY, e.g. CROSS JOIN (SELECT "
                        "avg(x) AS a FROM t) s); otherwise write JOIN ... ON with the "
                        "matching columns");
                return -1;
            }
            const char *l1, *r1;
            if (!new_step(x, ST_ONE, bk, &l1))
                return -1;
            add_in(x, step_node(x), cur, s->from[0].at, raw ? qual : NULL);
            if (!new_step(x, ST_ONE, bk, &r1))
                return -1;
            add_in(x, step_node(x), src, f->at, rq);
            sq_step *st = new_step(x, ST_JOIN, bk, &sid);
            if (!st)
                return -1;
            st->from = f;
            add_in(x, step_node(x), l1, f->at, NULL);
            add_in(x, step_node(x), r1, f->at, NULL);
            cur = sid;
            raw = 0;
            continue;
        }
        sq_span cj[64];
        int ncj = sq_conjuncts(q, f->on, cj, 64), nkeys = 0, rest = 0, eq;
        for (int k = 0; k < ncj; k++) {
            if (sq_key_conjunct(q, cj[k], &eq))
                nkeys++;
            else
                rest = 1;
        }
        if (nkeys == 0) {
            sq_qerr(q, f->on.a, "a join needs at least one equality of a column of each side in "
                 "ON (a.x = b.y); other conditions go with them, joined by AND");
            return -1;
        }
        if (rest && f->join != SQ_J_INNER) {
            sq_qerr(q, f->on.a, "an outer join's ON takes column equalities only: filter the "
                 "%s side in a subquery first (FROM (SELECT ... WHERE ...) alias), or use "
                 "an inner JOIN", f->join == SQ_J_LEFT ? "right" : f->join == SQ_J_RIGHT
                 ? "left" : "either");
            return -1;
        }
        /* An outer join would merge keys named alike on both sides into
         * one column (SQL USING); ON keeps both, so the right one is
         * renamed first ("<alias>.<name>"). */
        const char **ren = sq_zalloc(q, 64 * sizeof *ren);
        int nren = 0;
        for (int k = 0; ren && f->join != SQ_J_INNER && k < ncj; k++) {
            if (!sq_key_conjunct(q, cj[k], &eq) || !rq)
                continue;
            sq_span sd[2] = {{cj[k].a, eq}, {eq + 1, cj[k].b}};
            const char *n0 = sq_tokname(q, sd[0].b - 1), *n1 = sq_tokname(q, sd[1].b - 1);
            if (strcmp(n0, n1) != 0)
                continue;
            for (int sx = 0; sx < 2; sx++)
                if (sd[sx].b - sd[sx].a == 3 && strcmp(sq_tokname(q, sd[sx].a), rq) == 0)
                    ren[nren++] = n0;
        }
        if (nren) {
            sq_step *rn = new_step(x, ST_RENAME, bk, &sid);
            if (!rn)
                return -1;
            rn->rename = ren;
            rn->nrename = nren;
            add_in(x, step_node(x), src, f->at, rq);
            src = sid;
            rq = NULL;
        }
        sq_step *st = new_step(x, ST_JOIN, bk, &sid);
        if (!st)
            return -1;
        st->from = f;
        add_in(x, step_node(x), cur, s->from[0].at, raw ? qual : NULL);
        add_in(x, step_node(x), src, f->at, rq);
        cur = sid;
        raw = 0;
        if (rest) {
            st = new_step(x, ST_FILTER, bk, &sid);
            if (!st)
                return -1;
            st->span = f->on;
            st->from = f; /* only the conjuncts that are no keys */
            add_in(x, step_node(x), cur, f->on.a, NULL);
            cur = sid;
        }
    }
    if (s->where.b > s->where.a) {
        sq_span wc[64];
        int nwc = sq_conjuncts(q, s->where, wc, 64), nplain = 0, nsub = 0;
        sq_span *plain = sq_zalloc(q, 64 * sizeof *plain);
        if (!plain)
            return -1;
        for (int k = 0; k < nwc; k++) {
            int has = 0;
            for (int i = wc[k].a; i < wc[k].b; i++)
                has |= sq_sub_at(&q->tk, i) != NULL;
            if (has)
                nsub++;
            else
                plain[nplain++] = wc[k];
        }
        if (nplain) {
            const char *sid;
            sq_step *st = new_step(x, ST_FILTER, bk, &sid);
            if (!st)
                return -1;
            st->span = s->where;
            if (nsub) {
                st->conj = plain;
                st->nconj = nplain;
            }
            add_in(x, step_node(x), cur, s->where.a, raw ? qual : NULL);
            cur = sid;
            raw = 0;
        }
        for (int k = 0; k < nwc && nsub; k++) {
            int has = 0;
            for (int i = wc[k].a; i < wc[k].b; i++)
                has |= sq_sub_at(&q->tk, i) != NULL;
            if (has && plan_semi(x, wc[k], env, &cur, raw ? qual : NULL) < 0)
                return -1;
            if (has)
                raw = 0;
        }
    }
    /* grouping */
    bk->agg = s->ngroup > 0;
    for (int i = 0; i < s->nitems && !bk->agg; i++)
        for (int k = s->items[i].e.a; k < s->items[i].e.b && !s->items[i].star; k++) {
            const sq_sub *inner = sq_sub_at(&q->tk, k);
            if (inner)
                k = inner->rparen; /* its aggregates are its own */
            else
                bk->agg |= sq_is_agg(q, k);
        }
    for (int k = s->having.a; k < s->having.b; k++)
        bk->agg |= sq_is_agg(q, k);
    if (s->having.b > s->having.a && !bk->agg) {
        sq_qerr(q, s->having.a - 1, "HAVING without GROUP BY or aggregates: write WHERE");
        return -1;
    }
    bk->names = sq_zalloc(q, ((size_t)s->nitems + 1) * sizeof *bk->names);
    for (int i = 0; bk->names && i < s->nitems; i++)
        bk->names[i] = s->items[i].star ? NULL : item_name(q, &s->items[i]);
    if (bk->agg) {
        bk->gplain = sq_zalloc(q, ((size_t)s->ngroup + 1) * sizeof *bk->gplain);
        bk->gitem = sq_zalloc(q, ((size_t)s->ngroup + 1) * sizeof *bk->gitem);
        if (!bk->gplain || !bk->gitem)
            return -1;
        int derive = 0;
        for (int g = 0; g < s->ngroup; g++) {
            sq_span e = s->group[g];
            bk->gitem[g] = -1;
            if (e.b == e.a + 1 && q->tk.t[e.a].kind == MR_TOK_NUM) {
                long p = strtol(q->tk.text + q->tk.t[e.a].off, NULL, 10);
                if (p < 1 || p > s->nitems || s->items[p - 1].star) {
                    sq_qerr(q, e.a, "GROUP BY position %ld is not in the select list (1 to %d)",
                         p, s->nitems);
                    return -1;
                }
                bk->gitem[g] = (int)p - 1;
                e = s->items[p - 1].e;
            } else if (e.b == e.a + 1 && sq_is_name_tok(q, e.a)) {
                for (int i = 0; i < s->nitems; i++)
                    if (s->items[i].alias >= 0 && !sq_is_ref(q, s->items[i].e.a, s->items[i].e.b) &&
                        strcmp(sq_tokname(q, s->items[i].alias), sq_tokname(q, e.a)) == 0) {
                        bk->gitem[g] = i;
                        e = s->items[i].e;
                    }
            }
            for (int k = e.a; k < e.b; k++)
                if (sq_is_agg(q, k)) {
                    sq_qerr(q, k, "aggregate functions are not allowed in GROUP BY");
                    return -1;
                }
            bk->gplain[g] = sq_is_ref(q, e.a, e.b);
            derive |= !bk->gplain[g];
        }
        const char *sid;
        if (derive) {
            if (!new_step(x, ST_DERIVE, bk, &sid))
                return -1;
            add_in(x, step_node(x), cur, s->at, raw ? qual : NULL);
            cur = sid;
            raw = 0;
        }
        if (!new_step(x, ST_AGG, bk, &sid))
            return -1;
        add_in(x, step_node(x), cur, s->at, raw ? qual : NULL);
        cur = sid;
        raw = 0;
    }
    /* window calls of the select list: one window node per distinct OVER (...) */
    int nspec = 0, *spec_at = sq_zalloc(q, 64 * sizeof *spec_at);
    if (!spec_at)
        return -1;
    for (int i = 0; i < s->nitems; i++) {
        const sq_item *it = &s->items[i];
        for (int k = it->e.a; !it->star && k < it->e.b; k++) {
            if (q->tk.t[k].kind != MR_TOK_IDENT || !sq_is_op(&q->tk, k + 1, "("))
                continue;
            int argr = sq_close_paren(q, k + 1, it->e.b);
            if (!sq_is_kw(&q->tk, argr + 1, "over") || !sq_is_op(&q->tk, argr + 2, "("))
                continue;
            int close = sq_close_paren(q, argr + 2, it->e.b);
            if (q->nwins % 16 == 0) {
                sq_win *nw = sq_zalloc(q, ((size_t)q->nwins + 16) * sizeof *nw);
                if (!nw)
                    return -1;
                if (q->nwins)
                    memcpy(nw, q->wins, (size_t)q->nwins * sizeof *nw);
                q->wins = nw;
            }
            sq_win *w = &q->wins[q->nwins++];
            *w = (sq_win){k, close, k + 1, argr, argr + 2, -1,
                          dag_arena_printf(&q->c->arena, "_w%d", q->nwins)};
            for (int sp = 0; sp < nspec && w->spec < 0; sp++) {
                const sq_win *o = &q->wins[spec_at[sp]];
                int same = o->close - o->overl == w->close - w->overl;
                for (int t = 0; same && t <= w->close - w->overl; t++) {
                    const mr_tok *x1 = &q->tk.t[o->overl + t], *y1 = &q->tk.t[w->overl + t];
                    same = x1->len == y1->len && strncasecmp(q->tk.text + x1->off,
                                                             q->tk.text + y1->off,
                                                             (size_t)x1->len) == 0;
                }
                if (same)
                    w->spec = sp;
            }
            if (w->spec < 0) {
                if (nspec == 64) {
                    sq_qerr(q, k, "more than 64 different windows in one select list");
                    return -1;
                }
                w->spec = nspec;
                spec_at[nspec++] = q->nwins - 1;
            }
            k = close;
        }
    }
    for (int sp = 0; sp < nspec; sp++) {
        const char *sid;
        sq_step *ws = new_step(x, ST_WINDOW, bk, &sid);
        if (!ws)
            return -1;
        ws->mark = spec_at[sp];
        add_in(x, step_node(x), cur, q->wins[spec_at[sp]].overl, raw ? qual : NULL);
        cur = sid;
        raw = 0;
    }
    int star_only = s->nitems == 1 && s->items[0].star && s->items[0].star_qual < 0;
    for (int j = 1; j < s->nfrom; j++)
        star_only &= s->from[j].join != SQ_J_CROSS; /* the select drops its key */
    /* ORDER BY items that are none of the output columns */
    int has_star = 0;
    for (int i = 0; i < s->nitems; i++)
        has_star |= s->items[i].star;
    for (int o = 0; ord && !has_star && o < ord->norder; o++) {
        sq_span e = ord->order[o].e;
        int in_out = e.b == e.a + 1 && q->tk.t[e.a].kind == MR_TOK_NUM;
        for (int i = 0; i < s->nitems && !in_out; i++)
            in_out = same_tokens(q, s->items[i].e, e) ||
                     (e.b == e.a + 1 && sq_is_ref(q, e.a, e.b) && bk->names &&
                      strcmp(bk->names[i], sq_tokname(q, e.a)) == 0);
        if (in_out)
            continue;
        if (s->distinct) {
            sq_qerr(q, e.a, "with SELECT DISTINCT, ORDER BY takes output columns only: add "
                    "it to the select list");
            return -1;
        }
        if (!bk->extra && !(bk->extra = sq_zalloc(q, (size_t)ord->norder * sizeof *bk->extra)))
            return -1;
        bk->extra[bk->nextra++] = e;
    }
    bk->direct = bk->agg && nspec == 0 && !bk->nextra && agg_direct(x, s, bk, env);
    if ((bk->agg && !bk->direct) || (!bk->agg && !star_only)) {
        const char *sid;
        if (!new_step(x, ST_SELECT, bk, &sid))
            return -1;
        add_in(x, step_node(x), cur, s->at, raw ? qual : NULL);
        cur = sid;
        raw = 0;
    }
    if (s->distinct) {
        const char *sid;
        if (!new_step(x, ST_DISTINCT, bk, &sid))
            return -1;
        add_in(x, step_node(x), cur, s->at, raw ? qual : NULL);
        cur = sid;
        raw = 0;
    }
    *id = cur;
    *is_step = !raw;
    return 0;
}

static int plan_query(xp *x, sq_query *qy, const sq_env *env, const char **id, int *is_step)
{
    sq_q *q = x->q;
    sq_env *mine = NULL;
    for (int i = 0; i < qy->nctes; i++) {
        sq_env *e = sq_zalloc(q, sizeof *e);
        if (!e)
            return -1;
        int st;
        const sq_env *up = mine ? mine : env;
        if (plan_query(x, qy->ctes[i].q, up, &e->id, &st) < 0)
            return -1;
        e->name = sq_tokname(q, qy->ctes[i].name);
        e->up = up;
        e->q = qy->ctes[i].q;
        mine = e;
    }
    if (mine)
        env = mine;
    const char *cur = NULL;
    sq_step *un = NULL;
    sq_blk *first = NULL;
    for (int a = 0; a < qy->narms; a++) {
        const char *aid;
        int st;
        size_t before = (size_t)x->nextra;
        if (plan_select(x, qy->arms[a], env, qy->narms == 1 ? qy : NULL, &aid, &st) < 0)
            return -1;
        sq_step *armlast = x->nextra > (int)before ? x->extra[x->nextra - 1].sql : NULL;
        sq_blk *bk = armlast ? armlast->blk : NULL;
        if (a == 0) {
            cur = aid;
            first = bk;
            *is_step = st;
            continue;
        }
        if (qy->setop != SQ_SET_UNION) {
            if (bk && first && armlast->kind == ST_SELECT && bk->s->nitems == first->s->nitems)
                armlast->names = first->names;
            /* INTERSECT / EXCEPT: each side marked 1 or 2, the rows grouped
             * (GROUP BY counts NULLs equal, as set operations do), kept by
             * which sides they came from. */
            const char *ml, *mr, *uid, *gid, *oid;
            sq_step *s1 = new_step(x, ST_MARK, NULL, &ml);
            if (!s1)
                return -1;
            s1->mark = 1;
            add_in(x, step_node(x), cur, qy->arms[a - 1]->at, NULL);
            sq_step *s2 = new_step(x, ST_MARK, NULL, &mr);
            if (!s2)
                return -1;
            s2->mark = 2;
            add_in(x, step_node(x), aid, qy->arms[a]->at, NULL);
            sq_step *u = new_step(x, ST_UNION, NULL, &uid);
            if (!u)
                return -1;
            u->union_all = 1;
            add_in(x, step_node(x), ml, qy->arms[a]->at, NULL);
            add_in(x, step_node(x), mr, qy->arms[a]->at, NULL);
            sq_step *g = new_step(x, ST_SETAGG, NULL, &gid);
            if (!g)
                return -1;
            g->mark = qy->setop;
            add_in(x, step_node(x), uid, qy->arms[a]->at, NULL);
            if (!new_step(x, ST_SETOUT, NULL, &oid))
                return -1;
            add_in(x, step_node(x), gid, qy->arms[a]->at, NULL);
            cur = oid;
            *is_step = 1;
            continue;
        }
        if (!un || un->union_all != qy->all[a]) {
            const char *uid;
            un = new_step(x, ST_UNION, NULL, &uid);
            if (!un)
                return -1;
            un->union_all = qy->all[a];
            add_in(x, step_node(x), cur, qy->arms[a - 1]->at, NULL);
            cur = uid;
            *is_step = 1;
        }
        /* an arm's select takes the first arm's names (SQL matches by position) */
        if (bk && first && armlast->kind == ST_SELECT && bk->s->nitems == first->s->nitems)
            armlast->names = first->names;
        else if (bk && first && armlast->kind == ST_DISTINCT && bk->s->nitems == first->s->nitems)
            for (int k = 0; k < x->nextra; k++)
                if (x->extra[k].sql && x->extra[k].sql->blk == bk &&
                    x->extra[k].sql->kind == ST_SELECT)
                    x->extra[k].sql->names = first->names;
        dag_node *un_nd = NULL;
        for (int k = 0; k < x->nextra; k++)
            if (x->extra[k].sql == un)
                un_nd = &x->extra[k];
        if (un_nd)
            add_in(x, un_nd, aid, qy->arms[a]->at, NULL);
    }
    if (qy->norder) {
        const char *sid;
        sq_step *st = new_step(x, ST_SORT, qy->narms == 1 ? first : NULL, &sid);
        if (!st)
            return -1;
        st->qry = qy;
        add_in(x, step_node(x), cur, qy->order[0].e.a, NULL);
        cur = sid;
        *is_step = 1;
    }
    if (qy->limit >= 0) {
        const char *sid;
        sq_step *st = new_step(x, ST_LIMIT, NULL, &sid);
        if (!st)
            return -1;
        st->qry = qy;
        add_in(x, step_node(x), cur, qy->at, NULL);
        cur = sid;
        *is_step = 1;
    }
    if (qy->narms == 1 && first && first->nextra) {
        const char *sid;
        if (!new_step(x, ST_SETOUT, NULL, &sid))
            return -1;
        add_in(x, step_node(x), cur, qy->order[0].e.a, NULL);
        cur = sid;
    }
    *id = cur;
    return 0;
}

void dag_sql_expand(dag_ctx *c, dag *d)
{
    int n0 = d->n;
    xp x = {0};
    for (int i = 0; i < n0 && !c->oom; i++) {
        dag_node *nd = &d->nodes[i];
        if (nd->op != DOP_SQL || !nd->ok)
            continue;
        const ynode *qn = ymap_get(nd->body, "query");
        if (!qn || qn->kind != YN_SCALAR || qn->subst_failed)
            continue;
        sq_q *q = dag_arena_alloc(&c->arena, sizeof *q);
        if (!q) {
            c->oom = 1;
            return;
        }
        q->c = c;
        q->d = d;
        q->qn = qn;
        q->id = nd->id;
        nd->ok = 0; /* until the query expands */
        char msg[512];
        int erroff = 0;
        sq_query *qy;
        if (sq_parse(&c->arena, qn->text, &q->tk, &qy, &erroff, msg, sizeof msg) < 0) {
            dag_error_in(c, qn, erroff, nd->id, "in query: %s", msg);
            continue;
        }
        int mark = x.nextra, is_step = 0;
        const char *last = NULL;
        x.q = q;
        x.nsteps = 0;
        x.nused = 0;
        x.failed = 0;
        int nerr = c->nerrors;
        int rc = plan_query(&x, qy, NULL, &last, &is_step);
        if (rc == 0 && !is_step) {
            /* SELECT * FROM node: still a node of its own */
            const char *sid;
            sq_step *st = new_step(&x, ST_SELECT, NULL, &sid);
            if (!st)
                rc = -1;
            else
                add_in(&x, step_node(&x), last, qy->at, NULL);
        }
        if (rc < 0 || x.failed || c->nerrors != nerr) {
            if (c->nerrors == nerr && !c->oom)
                dag_error(c, qn, nd->id, "the query could not be planned");
            x.nextra = mark;
            continue;
        }
        /* 'inputs', when given, lists nodes the query reads */
        const ynode *ins = ymap_get(nd->body, "inputs");
        for (size_t k = 0; ins && ins->kind == YN_SEQ && k < ins->n; k++) {
            const ynode *v = ins->items[k];
            int found = 0;
            for (int u = 0; u < x.nused && !found && v->kind == YN_SCALAR; u++)
                found = strcmp(x.used[u], v->text) == 0;
            if (!found && v->kind == YN_SCALAR)
                dag_error(c, v, nd->id, "'%s' is listed in inputs but the query does not read "
                          "it: name it in FROM or JOIN, or remove it from inputs", v->text);
        }
        /* the last step becomes the sql node itself */
        dag_node *lastn = &x.extra[--x.nextra];
        nd->op = lastn->op;
        nd->ok = 1;
        nd->inputs = lastn->inputs;
        nd->ninputs = lastn->ninputs;
        nd->sql = lastn->sql;
        nd->body = NULL;
    }
    if (x.nextra == 0)
        return;
    dag_node *all = dag_arena_alloc(&c->arena, ((size_t)d->n + (size_t)x.nextra) * sizeof *all);
    if (!all) {
        c->oom = 1;
        return;
    }
    memcpy(all, d->nodes, (size_t)d->n * sizeof *all);
    memcpy(all + d->n, x.extra, (size_t)x.nextra * sizeof *all);
    d->nodes = all;
    d->n += x.nextra;
}

