/* sql_fill.c - the `sql` op's second pass: each step's keys, written when
 * its input schemas are known (sql.h, sql_plan.c say which steps a query
 * has).  A step's keys are the ones a hand-written node of its op would
 * have (join on, filter where, aggregate group_by / aggregates / having,
 * select columns, window partition_by / order_by / columns, sort by ...),
 * as synthetic YAML placed at the query's tokens, and the op's own
 * validation then checks them: a query and its hand-written nodes are one
 * plan.
 */
#include "dag/sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const st_op[] = {"join", "filter", "derive", "aggregate", "select",
                                    "distinct", "sort", "limit", "union", "select", "join",
                                    "derive", "aggregate", "select", "window",
                                    "derive"};

/* ---- pass 2: each step's keys --------------------------------------------- */

typedef struct fill {
    sq_q *q;
    dag_node *nd;
    sq_step *st;
    ynode *body;
    int tok;
} fill;

static ynode *body_new(fill *f)
{
    f->body = sq_ycoll(f->q, YN_MAP, 8, f->tok);
    sq_ykey(f->q, f->body, "op", sq_yscalar(f->q, st_op[f->st->kind], f->tok), f->tok);
    return f->body;
}

static int out_add(fill *f, int *cap, const char *qual, const char *name, const char *phys,
                   int ok)
{
    return sq_scope_add(f->q, &f->st->out, cap, qual, name, phys, ok);
}

static int fill_join(fill *f, const sq_scope *L, const sq_scope *R)
{
    sq_q *q = f->q;
    sq_from *fr = f->st->from;
    sq_span cj[64];
    int ncj = fr->join == SQ_J_CROSS ? 0 : sq_conjuncts(q, fr->on, cj, 64), eq, nk = 0;
    const char **lk = sq_zalloc(q, 64 * sizeof *lk), **rk = sq_zalloc(q, 64 * sizeof *rk);
    if (!lk || !rk)
        return -1;
    if (fr->join == SQ_J_CROSS) {
        lk[0] = rk[0] = "_cross";
        nk = 1;
    }
    for (int k = 0; k < ncj; k++) {
        if (!sq_key_conjunct(q, cj[k], &eq))
            continue;
        sq_span side[2] = {{cj[k].a, eq}, {eq + 1, cj[k].b}};
        int li[2], ri[2];
        for (int s = 0; s < 2; s++) {
            const char *qual = side[s].b - side[s].a == 3 ? sq_tokname(q, side[s].a) : NULL;
            const char *name = sq_tokname(q, side[s].b - 1);
            q->quiet++;
            li[s] = sq_resolve(q, L, qual, name, side[s].a);
            ri[s] = sq_resolve(q, R, qual, name, side[s].a);
            q->quiet--;
            if (li[s] >= 0 && ri[s] >= 0) {
                sq_qerr(q, side[s].a, "column reference '%s' is ambiguous: both sides of the join "
                     "have it; qualify it (alias.%s)", name, name);
                return -1;
            }
            if (li[s] < 0 && ri[s] < 0) {
                sq_scope both = {0};
                int cap = 0;
                for (int i = 0; i < L->n; i++)
                    sq_scope_add(q, &both, &cap, L->e[i].qual, L->e[i].name, L->e[i].phys, 0);
                for (int i = 0; i < R->n; i++)
                    sq_scope_add(q, &both, &cap, R->e[i].qual, R->e[i].name, R->e[i].phys, 0);
                sq_resolve(q, &both, qual, name, side[s].a);
                return -1;
            }
        }
        int l, r;
        if (li[0] >= 0 && ri[1] >= 0) {
            l = li[0];
            r = ri[1];
        } else if (ri[0] >= 0 && li[1] >= 0) {
            l = li[1];
            r = ri[0];
        } else {
            sq_qerr(q, cj[k].a, "this join condition compares two columns of the same side: "
                 "write it in WHERE (or the side's subquery)");
            return -1;
        }
        lk[nk] = L->e[l].phys;
        rk[nk++] = R->e[r].phys;
    }
    static const char *const how[] = {"inner", "inner", "left", "right", "full", "inner"};
    ynode *b = body_new(f);
    sq_ykey(q, b, "left", sq_yscalar(q, f->nd->inputs[0].ref->text, f->tok), f->tok);
    sq_ykey(q, b, "right", sq_yscalar(q, f->nd->inputs[1].ref->text, f->tok), f->tok);
    ynode *on = sq_ycoll(q, YN_SEQ, nk, fr->on.a);
    for (int k = 0; on && k < nk; k++) {
        if (strcmp(lk[k], rk[k]) == 0) {
            sq_yadd(on, sq_yscalar(q, lk[k], fr->on.a), NULL);
            continue;
        }
        ynode *m = sq_ycoll(q, YN_MAP, 2, fr->on.a);
        sq_ykey(q, m, "left", sq_yscalar(q, lk[k], fr->on.a), fr->on.a);
        sq_ykey(q, m, "right", sq_yscalar(q, rk[k], fr->on.a), fr->on.a);
        sq_yadd(on, m, NULL);
    }
    sq_ykey(q, b, "on", on, fr->on.a);
    if (fr->join != SQ_J_INNER && fr->join != SQ_J_CROSS)
        sq_ykey(q, b, "how", sq_yscalar(q, how[fr->join], f->tok), f->tok);
    /* USING keys (same name both sides) appear once; the other right
     * columns get a prefix when any name clashes with a left one. */
    int clash = 0;
    const char *rq = R->n ? R->e[0].qual : NULL;
    for (int i = 0; i < R->n && !clash; i++) {
        int using_key = 0;
        for (int k = 0; k < nk; k++)
            using_key |= strcmp(rk[k], R->e[i].phys) == 0 && strcmp(lk[k], rk[k]) == 0;
        for (int j = 0; j < L->n && !using_key; j++)
            clash |= strcmp(L->e[j].phys, R->e[i].phys) == 0;
    }
    const char *prefix = clash ? dag_arena_printf(&q->c->arena, "%s.", rq ? rq : "r") : "";
    if (clash)
        sq_ykey(q, b, "right_prefix", sq_yscalar(q, prefix, f->tok), f->tok);
    int cap = 0;
    for (int j = 0; j < L->n; j++) {
        int outer = 0;
        for (int k = 0; k < nk; k++)
            outer |= strcmp(lk[k], rk[k]) == 0 && strcmp(L->e[j].phys, lk[k]) == 0 &&
                     (fr->join == SQ_J_RIGHT || fr->join == SQ_J_FULL);
        if (out_add(f, &cap, L->e[j].qual, L->e[j].name, L->e[j].phys,
                    L->e[j].outer_key ? L->e[j].outer_key : outer) < 0)
            return -1;
    }
    for (int i = 0; i < R->n; i++) {
        int using_key = 0;
        for (int k = 0; k < nk; k++)
            using_key |= strcmp(rk[k], R->e[i].phys) == 0 && strcmp(lk[k], rk[k]) == 0;
        const char *phys = using_key ? R->e[i].phys
                         : dag_arena_printf(&q->c->arena, "%s%s", prefix, R->e[i].phys);
        int outer = R->e[i].outer_key ? R->e[i].outer_key :
                    (using_key && (fr->join == SQ_J_LEFT || fr->join == SQ_J_FULL));
        if (out_add(f, &cap, R->e[i].qual, R->e[i].name, phys, outer) < 0)
            return -1;
    }
    return 0;
}

static int fill_filter(fill *f, const sq_scope *in)
{
    sq_q *q = f->q;
    sq_step *st = f->st;
    rw r = {q, in, NULL, 0, st->from ? "JOIN ... ON" : "WHERE", 0};
    char *text = NULL;
    if (st->nconj) {
        sbuf s = {0};
        for (int k = 0; k < st->nconj; k++) {
            if (s.n)
                sq_sb_str(&s, "AND");
            sq_sb_put(&s, "(", 1);
            if (sq_rewrite_into(&r, st->conj[k].a, st->conj[k].b, &s) < 0) {
                free(s.s);
                return -1;
            }
            sq_sb_put(&s, ")", 1);
        }
        text = dag_arena_strdup(&q->c->arena, s.s ? s.s : "true");
        free(s.s);
        if (!text)
            return -1;
    } else if (st->from) {
        /* an inner join's conditions that are no keys */
        sq_span cj[64];
        int ncj = sq_conjuncts(q, st->span, cj, 64), eq;
        sbuf s = {0};
        for (int k = 0; k < ncj; k++) {
            if (sq_key_conjunct(q, cj[k], &eq))
                continue;
            if (s.n)
                sq_sb_str(&s, "AND");
            sq_sb_put(&s, "(", 1);
            if (sq_rewrite_into(&r, cj[k].a, cj[k].b, &s) < 0) {
                free(s.s);
                return -1;
            }
            sq_sb_put(&s, ")", 1);
        }
        text = dag_arena_strdup(&q->c->arena, s.s ? s.s : "true");
        free(s.s);
        if (!text)
            return -1;
    } else if (sq_rewrite(&r, st->span.a, st->span.b, &text) < 0) {
        return -1;
    }
    ynode *b = body_new(f);
    sq_ykey(q, b, "input", sq_yscalar(q, f->nd->inputs[0].ref->text, f->tok), f->tok);
    sq_ykey(q, b, "where", sq_yscalar(q, text, st->span.a), st->span.a);
    st->out = *in;
    return 0;
}

/* Group expressions of a grouped block, rewritten over its input. */
static int group_texts(sq_q *q, sq_blk *bk, const sq_scope *in)
{
    sq_select *s = bk->s;
    if (bk->gtext)
        return 0;
    bk->gtext = sq_zalloc(q, ((size_t)s->ngroup + 1) * sizeof *bk->gtext);
    bk->gcol = sq_zalloc(q, ((size_t)s->ngroup + 1) * sizeof *bk->gcol);
    if (!bk->gtext || !bk->gcol)
        return -1;
    rw r = {q, in, NULL, 0, "GROUP BY", 0};
    for (int g = 0; g < s->ngroup; g++) {
        sq_span e = bk->gitem[g] >= 0 ? s->items[bk->gitem[g]].e : s->group[g];
        char *text;
        if (sq_rewrite(&r, e.a, e.b, &text) < 0)
            return -1;
        const char *col = text;
        if (bk->gplain[g]) {
            int k = sq_resolve(q, in, e.b - e.a == 3 ? sq_tokname(q, e.a) : NULL,
                            sq_tokname(q, e.b - 1), e.a);
            if (k < 0)
                return -1;
            col = in->e[k].phys;
        } else {
            col = dag_arena_printf(&q->c->arena, "_g%d", g + 1);
        }
        int dup = 0;
        for (int h = 0; h < bk->ng; h++)
            dup |= strcmp(bk->gtext[h], text) == 0;
        if (dup)
            continue;
        bk->gtext[bk->ng] = text;
        bk->gcol[bk->ng++] = col;
    }
    return 0;
}

static int fill_derive(fill *f, const sq_scope *in)
{
    sq_q *q = f->q;
    sq_blk *bk = f->st->blk;
    if (group_texts(q, bk, in) < 0)
        return -1;
    ynode *b = body_new(f);
    sq_ykey(q, b, "input", sq_yscalar(q, f->nd->inputs[0].ref->text, f->tok), f->tok);
    ynode *cols = sq_ycoll(q, YN_MAP, bk->ng, f->tok);
    int cap = 0;
    for (int i = 0; i < in->n; i++)
        if (out_add(f, &cap, in->e[i].qual, in->e[i].name, in->e[i].phys, in->e[i].outer_key) < 0)
            return -1;
    for (int g = 0; g < bk->ng; g++) {
        if (strcmp(bk->gtext[g], sq_colref(q, bk->gcol[g])) == 0)
            continue;
        sq_yadd(cols, sq_yscalar(q, bk->gcol[g], f->tok), sq_yscalar(q, bk->gtext[g], f->tok));
        if (out_add(f, &cap, NULL, bk->gcol[g], bk->gcol[g], 0) < 0)
            return -1;
    }
    sq_ykey(q, b, "columns", cols, f->tok);
    return 0;
}

/* The parts of OVER (PARTITION BY ... ORDER BY ... frame). */
typedef struct sq_wspec {
    sq_span part[32], ord[32];
    int npart, nord, desc[32], nulls[32];
    int frame; /* token where the frame starts, or -1 */
} sq_wspec;

static int win_spec(sq_q *q, const sq_win *w, sq_wspec *ws)
{
    int i = w->overl + 1, end = w->close;
    memset(ws, 0, sizeof *ws);
    ws->frame = -1;
    if (sq_is_kw(&q->tk, i, "partition") && sq_is_kw(&q->tk, i + 1, "by")) {
        for (i += 2;;) {
            int a = i, depth = 0;
            while (i < end && !(depth == 0 && (sq_is_op(&q->tk, i, ",") ||
                                               sq_is_kw(&q->tk, i, "order")))) {
                depth += sq_is_op(&q->tk, i, "(") - sq_is_op(&q->tk, i, ")");
                i++;
            }
            if (i == a || ws->npart == 32) {
                sq_qerr(q, i, "expected a PARTITION BY column");
                return -1;
            }
            ws->part[ws->npart++] = (sq_span){a, i};
            if (!sq_is_op(&q->tk, i, ","))
                break;
            i++;
        }
    }
    if (sq_is_kw(&q->tk, i, "order") && sq_is_kw(&q->tk, i + 1, "by")) {
        for (i += 2;;) {
            int a = i, depth = 0;
            while (i < end && !(depth == 0 && (sq_is_op(&q->tk, i, ",") ||
                   sq_is_kw(&q->tk, i, "asc") || sq_is_kw(&q->tk, i, "desc") ||
                   sq_is_kw(&q->tk, i, "nulls") || sq_is_kw(&q->tk, i, "rows") ||
                   sq_is_kw(&q->tk, i, "range")))) {
                depth += sq_is_op(&q->tk, i, "(") - sq_is_op(&q->tk, i, ")");
                i++;
            }
            if (i == a || ws->nord == 32) {
                sq_qerr(q, i, "expected an ORDER BY column in the window");
                return -1;
            }
            int k = ws->nord++;
            ws->ord[k] = (sq_span){a, i};
            if (sq_is_kw(&q->tk, i, "asc") || sq_is_kw(&q->tk, i, "desc"))
                ws->desc[k] = sq_is_kw(&q->tk, i++, "desc");
            if (sq_is_kw(&q->tk, i, "nulls")) {
                ws->nulls[k] = sq_is_kw(&q->tk, i + 1, "first") ? 1 : 2;
                i += 2;
            }
            if (!sq_is_op(&q->tk, i, ","))
                break;
            i++;
        }
    }
    if (i < end) {
        if (!sq_is_kw(&q->tk, i, "rows") && !sq_is_kw(&q->tk, i, "range")) {
            sq_qerr(q, i, "expected PARTITION BY, ORDER BY or a frame (ROWS / RANGE) in the window");
            return -1;
        }
        ws->frame = i;
    }
    return 0;
}

static int fill_agg(fill *f, const sq_scope *in)
{
    sq_q *q = f->q;
    sq_blk *bk = f->st->blk;
    sq_select *s = bk->s;
    if (group_texts(q, bk, in) < 0)
        return -1;
    bk->itext = sq_zalloc(q, ((size_t)s->nitems + 1) * sizeof *bk->itext);
    if (!bk->itext)
        return -1;
    bk->pre = *in;
    /* aggregates used only inside window calls are computed here too */
    for (int k = 0; k < q->nwins; k++) {
        const sq_win *w = &q->wins[k];
        sq_wspec ws;
        char *t;
        if (w->fn < s->at || !s->nitems || w->fn >= s->items[s->nitems - 1].e.b)
            continue;
        if (win_spec(q, w, &ws) < 0)
            return -1;
        if (w->argr > w->argl + 1 &&
            sq_rewrite_post(q, bk, in, w->argl + 1, w->argr, "a window function's arguments", &t) < 0)
            return -1;
        for (int j = 0; j < ws.npart; j++)
            if (sq_rewrite_post(q, bk, in, ws.part[j].a, ws.part[j].b, "PARTITION BY", &t) < 0)
                return -1;
        for (int j = 0; j < ws.nord; j++)
            if (sq_rewrite_post(q, bk, in, ws.ord[j].a, ws.ord[j].b, "the window's ORDER BY", &t) < 0)
                return -1;
    }
    for (int i = 0; i < s->nitems; i++) {
        if (s->items[i].star) {
            sq_qerr(q, s->items[i].e.a, "SELECT * with GROUP BY or aggregates: list the grouped "
                 "columns and the aggregates");
            return -1;
        }
        char *t;
        bk->alias = bk->direct && i >= s->ngroup ? sq_tokname(q, s->items[i].alias) : NULL;
        if (sq_rewrite_post(q, bk, in, s->items[i].e.a, s->items[i].e.b, "the select list", &t) < 0)
            return -1;
        bk->alias = NULL;
        bk->itext[i] = t;
    }
    for (int k = 0; k < bk->nextra; k++) {
        char *t;
        if (sq_rewrite_post(q, bk, in, bk->extra[k].a, bk->extra[k].b, "ORDER BY", &t) < 0)
            return -1;
    }
    if (s->having.b > s->having.a) {
        char *t;
        if (sq_rewrite_post(q, bk, in, s->having.a, s->having.b, "HAVING", &t) < 0)
            return -1;
        bk->having = t;
    }
    ynode *b = body_new(f);
    sq_ykey(q, b, "input", sq_yscalar(q, f->nd->inputs[0].ref->text, f->tok), f->tok);
    int cap = 0;
    if (bk->ng) {
        ynode *gb = sq_ycoll(q, YN_SEQ, bk->ng, f->tok);
        for (int g = 0; g < bk->ng; g++) {
            sq_yadd(gb, sq_yscalar(q, bk->gcol[g], f->tok), NULL);
            if (out_add(f, &cap, NULL, bk->gcol[g], bk->gcol[g], 0) < 0)
                return -1;
        }
        sq_ykey(q, b, "group_by", gb, f->tok);
    }
    if (bk->na) {
        ynode *ag = sq_ycoll(q, YN_MAP, bk->na, f->tok);
        for (int a = 0; a < bk->na; a++) {
            sq_yadd(ag, sq_yscalar(q, bk->acol[a], f->tok), sq_yscalar(q, bk->atext[a], f->tok));
            if (out_add(f, &cap, NULL, bk->acol[a], bk->acol[a], 0) < 0)
                return -1;
        }
        sq_ykey(q, b, "aggregates", ag, f->tok);
    }
    if (bk->having)
        sq_ykey(q, b, "having", sq_yscalar(q, bk->having, s->having.a), s->having.a);
    return 0;
}

static int fill_select(fill *f, const sq_scope *in)
{
    sq_q *q = f->q;
    sq_step *st = f->st;
    sq_blk *bk = st->blk;
    ynode *b = body_new(f);
    sq_ykey(q, b, "input", sq_yscalar(q, f->nd->inputs[0].ref->text, f->tok), f->tok);
    ynode *cols = sq_ycoll(q, YN_MAP, in->n + (bk ? bk->s->nitems : 0), f->tok);
    int cap = 0, nout = 0;
    const char **forced = st->names;
    int nitems = bk ? bk->s->nitems : 1;
    for (int i = 0; forced && i < nitems; i++)
        if (!forced[i] || (bk && bk->s->items[i].star))
            forced = NULL;
    for (int i = 0; i < nitems; i++) {
        const sq_item *it = bk ? &bk->s->items[i] : NULL;
        if (!it || it->star) {
            const char *qual = it && it->star_qual >= 0 ? sq_tokname(q, it->star_qual) : NULL;
            int any = 0;
            for (int k = 0; k < in->n; k++) {
                if (qual && (!in->e[k].qual || strcmp(in->e[k].qual, qual) != 0))
                    continue;
                if (in->e[k].outer_key == 2)
                    continue; /* a CROSS JOIN's key */
                any = 1;
                if (in->e[k].outer_key && qual)
                    continue; /* the merged key shows once, from the side that keeps it */
                for (int j = 0; j < st->out.n; j++)
                    if (strcmp(st->out.e[j].name, in->e[k].name) == 0) {
                        sq_qerr(q, it ? it->e.a : f->tok, "SELECT * gives two columns named '%s': "
                             "list the columns and give one an alias", in->e[k].name);
                        return -1;
                    }
                sq_yadd(cols, sq_yscalar(q, in->e[k].name, f->tok),
                     sq_yscalar(q, sq_colref(q, in->e[k].phys), f->tok));
                if (out_add(f, &cap, in->e[k].qual, in->e[k].name, in->e[k].name, 0) < 0)
                    return -1;
                nout++;
            }
            if (qual && !any) {
                sq_resolve(q, in, qual, "*", it->star_qual);
                return -1;
            }
            continue;
        }
        char *text;
        if (bk->agg) {
            text = (char *)bk->itext[i];
        } else {
            rw r = {q, in, NULL, 0, "the select list without GROUP BY", 1};
            if (sq_rewrite(&r, it->e.a, it->e.b, &text) < 0)
                return -1;
        }
        const char *name = forced ? forced[i] : bk->names[i];
        for (int j = 0; j < st->out.n; j++)
            if (strcmp(st->out.e[j].name, name) == 0) {
                sq_qerr(q, it->alias >= 0 ? it->alias : it->e.a, "two output columns are named "
                     "'%s': give one an alias (expr AS name)", name);
                return -1;
            }
        const char *qual = NULL;
        if (sq_is_ref(q, it->e.a, it->e.b) && !forced && it->alias < 0)
            qual = it->e.b - it->e.a == 3 ? sq_tokname(q, it->e.a) : NULL;
        sq_yadd(cols, sq_yscalar(q, name, it->e.a), sq_yscalar(q, text, it->e.a));
        if (out_add(f, &cap, qual, name, name, 0) < 0)
            return -1;
        nout++;
    }
    for (int k = 0; bk && k < bk->nextra; k++) {
        /* ORDER BY of what the output lacks: a hidden column, dropped after the sort */
        char *text;
        sq_span e = bk->extra[k];
        if (bk->agg) {
            if (sq_rewrite_post(q, bk, &bk->pre, e.a, e.b, "ORDER BY", &text) < 0)
                return -1;
        } else {
            rw r = {q, in, NULL, 0, "ORDER BY", 0};
            if (sq_rewrite(&r, e.a, e.b, &text) < 0)
                return -1;
        }
        const char *name = dag_arena_printf(&q->c->arena, "_o%d", k + 1);
        sq_yadd(cols, sq_yscalar(q, name, e.a), sq_yscalar(q, text, e.a));
        if (out_add(f, &cap, NULL, name, name, 2) < 0)
            return -1;
    }
    sq_ykey(q, b, "columns", cols, f->tok);
    return 0;
}

/* The output column an ORDER BY item names: a position, an output name,
 * or the text of a select item. */
static int order_col(fill *f, const sq_scope *in, const sq_order *o)
{
    sq_q *q = f->q;
    sq_blk *bk = f->st->blk;
    sq_span e = o->e;
    for (int k = 0; bk && k < bk->nextra; k++)
        if (bk->extra[k].a == e.a) {
            const char *name = dag_arena_printf(&q->c->arena, "_o%d", k + 1);
            for (int i = 0; name && i < in->n; i++)
                if (strcmp(in->e[i].phys, name) == 0)
                    return i;
        }
    if (e.b == e.a + 1 && q->tk.t[e.a].kind == MR_TOK_NUM) {
        long p = strtol(q->tk.text + q->tk.t[e.a].off, NULL, 10);
        if (p < 1 || p > in->n) {
            sq_qerr(q, e.a, "ORDER BY position %ld is not in the select list (1 to %d)", p, in->n);
            return -1;
        }
        return (int)p - 1;
    }
    if (sq_is_ref(q, e.a, e.b)) {
        const char *qual = e.b - e.a == 3 ? sq_tokname(q, e.a) : NULL;
        const char *name = sq_tokname(q, e.b - 1);
        for (int k = 0; k < in->n; k++)
            if (strcmp(in->e[k].name, name) == 0 &&
                (!qual || (in->e[k].qual && strcmp(in->e[k].qual, qual) == 0)))
                return k;
    }
    /* the same text as a select item */
    int out = 0;
    for (int i = 0; bk && i < bk->s->nitems; i++) {
        const sq_item *it = &bk->s->items[i];
        if (it->star)
            break;
        int same = it->e.b - it->e.a == e.b - e.a;
        for (int k = 0; same && k < e.b - e.a; k++) {
            const mr_tok *x = &q->tk.t[it->e.a + k], *y = &q->tk.t[e.a + k];
            same = x->len == y->len && (x->kind == MR_TOK_IDENT
                ? strncasecmp(q->tk.text + x->off, q->tk.text + y->off, (size_t)x->len) == 0
                : memcmp(q->tk.text + x->off, q->tk.text + y->off, (size_t)x->len) == 0);
        }
        if (same)
            return out;
        out++;
    }
    const char **names = sq_zalloc(q, ((size_t)in->n + 1) * sizeof *names);
    for (int k = 0; names && k < in->n; k++)
        names[k] = in->e[k].name;
    sq_qerr(q, e.a, "ORDER BY sorts on the output columns: this is none of them; add it to the "
         "select list (an alias works) or name an output column%s",
         names && sq_is_ref(q, e.a, e.b) ? dag_did_you_mean(q->c, sq_tokname(q, e.b - 1), names,
                                                         (size_t)in->n) : "");
    return -1;
}

static int fill_sort(fill *f, const sq_scope *in)
{
    sq_q *q = f->q;
    sq_query *qy = f->st->qry;
    ynode *b = body_new(f);
    sq_ykey(q, b, "input", sq_yscalar(q, f->nd->inputs[0].ref->text, f->tok), f->tok);
    ynode *by = sq_ycoll(q, YN_SEQ, qy->norder, f->tok);
    for (int i = 0; i < qy->norder; i++) {
        const sq_order *o = &qy->order[i];
        int k = order_col(f, in, o);
        if (k < 0)
            return -1;
        const char *key = dag_arena_printf(&q->c->arena, "%s%s%s", sq_colref(q, in->e[k].phys),
                                           o->desc ? " desc" : "",
                                           o->nulls == 1 ? " nulls first"
                                           : o->nulls == 2 ? " nulls last" : "");
        sq_yadd(by, sq_yscalar(q, key, o->e.a), NULL);
    }
    sq_ykey(q, b, "by", by, f->tok);
    f->st->out = *in;
    return 0;
}

static int fill_union(fill *f, mr_schema *const *ins)
{
    sq_q *q = f->q;
    dag_node *nd = f->nd;
    ynode *b = body_new(f);
    ynode *list = sq_ycoll(q, YN_SEQ, nd->ninputs, f->tok);
    for (int k = 0; k < nd->ninputs; k++) {
        sq_yadd(list, sq_yscalar(q, nd->inputs[k].ref->text, f->tok), NULL);
        if (k == 0 || !ins[0] || !ins[k])
            continue;
        int same = ins[0]->nfields == ins[k]->nfields;
        for (int i = 0; same && i < ins[0]->nfields; i++)
            same = strcmp(ins[0]->fields[i].name, ins[k]->fields[i].name) == 0;
        if (!same) {
            const char *a = "", *bb = "";
            for (int i = 0; i < ins[0]->nfields; i++)
                a = dag_arena_printf(&q->c->arena, "%s%s%s", a, i ? ", " : "",
                                     ins[0]->fields[i].name);
            for (int i = 0; i < ins[k]->nfields; i++)
                bb = dag_arena_printf(&q->c->arena, "%s%s%s", bb, i ? ", " : "",
                                      ins[k]->fields[i].name);
            dag_error(q->c, nd->inputs[k].ref, q->id, "UNION: this SELECT gives (%s) and the "
                      "first one (%s); millrace unions by column name, so list the same "
                      "columns in the same order, with aliases where the names differ", bb, a);
            return -1;
        }
    }
    sq_ykey(q, b, "inputs", list, f->tok);
    sq_ykey(q, b, "distinct", sq_yscalar(q, f->st->union_all ? "false" : "true", f->tok), f->tok);
    int cap = 0;
    for (int i = 0; ins[0] && i < ins[0]->nfields; i++)
        if (out_add(f, &cap, NULL, ins[0]->fields[i].name, ins[0]->fields[i].name, 0) < 0)
            return -1;
    return 0;
}

static int fill_semi(fill *f, const sq_scope *L, const sq_scope *R)
{
    sq_q *q = f->q;
    sq_step *st = f->st;
    int n = st->ncorr ? st->ncorr : 1;
    const char **lk = sq_zalloc(q, (size_t)n * sizeof *lk), **rk = sq_zalloc(q, (size_t)n * sizeof *rk);
    if (!lk || !rk)
        return -1;
    if (st->in_ref.b > st->in_ref.a) {
        sq_span e = st->in_ref;
        int k = sq_resolve(q, L, e.b - e.a == 3 ? sq_tokname(q, e.a) : NULL, sq_tokname(q, e.b - 1), e.a);
        if (k < 0)
            return -1;
        if (R->n != 1) {
            sq_qerr(q, e.b + 2, "the subquery of IN gives %d columns: select exactly one", R->n);
            return -1;
        }
        lk[0] = L->e[k].phys;
        rk[0] = R->e[0].phys;
    } else {
        for (int c = 0; c < st->ncorr; c++) {
            sq_span in = st->corr[2 * c], out = st->corr[2 * c + 1];
            int ri = sq_resolve(q, R, in.b - in.a == 3 ? sq_tokname(q, in.a) : NULL,
                             sq_tokname(q, in.b - 1), in.a);
            int li = ri < 0 ? -1 : sq_resolve(q, L, sq_tokname(q, out.a), sq_tokname(q, out.b - 1), out.a);
            if (ri < 0 || li < 0)
                return -1;
            lk[c] = L->e[li].phys;
            rk[c] = R->e[ri].phys;
        }
    }
    ynode *b = body_new(f);
    sq_ykey(q, b, "left", sq_yscalar(q, f->nd->inputs[0].ref->text, f->tok), f->tok);
    sq_ykey(q, b, "right", sq_yscalar(q, f->nd->inputs[1].ref->text, f->tok), f->tok);
    ynode *on = sq_ycoll(q, YN_SEQ, n, st->span.a);
    for (int k = 0; on && k < n; k++) {
        if (strcmp(lk[k], rk[k]) == 0) {
            sq_yadd(on, sq_yscalar(q, lk[k], st->span.a), NULL);
            continue;
        }
        ynode *m = sq_ycoll(q, YN_MAP, 2, st->span.a);
        sq_ykey(q, m, "left", sq_yscalar(q, lk[k], st->span.a), st->span.a);
        sq_ykey(q, m, "right", sq_yscalar(q, rk[k], st->span.a), st->span.a);
        sq_yadd(on, m, NULL);
    }
    sq_ykey(q, b, "on", on, st->span.a);
    sq_ykey(q, b, "how", sq_yscalar(q, st->anti ? "anti" : "semi", f->tok), f->tok);
    st->out = *L;
    return 0;
}

static int fill_set(fill *f, const sq_scope *in)
{
    sq_q *q = f->q;
    sq_step *st = f->st;
    ynode *b = body_new(f);
    sq_ykey(q, b, "input", sq_yscalar(q, f->nd->inputs[0].ref->text, f->tok), f->tok);
    int cap = 0;
    if (st->kind == ST_MARK) {
        ynode *cols = sq_ycoll(q, YN_MAP, 1, f->tok);
        sq_yadd(cols, sq_yscalar(q, "_side", f->tok), sq_yscalar(q, st->mark == 1 ? "1" : "2", f->tok));
        sq_ykey(q, b, "columns", cols, f->tok);
        for (int k = 0; k < in->n; k++)
            if (out_add(f, &cap, NULL, in->e[k].name, in->e[k].phys, 0) < 0)
                return -1;
        return out_add(f, &cap, NULL, "_side", "_side", 0);
    }
    if (st->kind == ST_SETAGG) {
        ynode *gb = sq_ycoll(q, YN_SEQ, in->n, f->tok);
        for (int k = 0; k < in->n; k++) {
            if (strcmp(in->e[k].phys, "_side") == 0)
                continue;
            sq_yadd(gb, sq_yscalar(q, in->e[k].phys, f->tok), NULL);
            if (out_add(f, &cap, NULL, in->e[k].name, in->e[k].phys, 0) < 0)
                return -1;
        }
        ynode *ag = sq_ycoll(q, YN_MAP, 2, f->tok);
        sq_yadd(ag, sq_yscalar(q, "_lo", f->tok), sq_yscalar(q, "min(_side)", f->tok));
        sq_yadd(ag, sq_yscalar(q, "_hi", f->tok), sq_yscalar(q, "max(_side)", f->tok));
        sq_ykey(q, b, "group_by", gb, f->tok);
        sq_ykey(q, b, "aggregates", ag, f->tok);
        sq_ykey(q, b, "having", sq_yscalar(q, st->mark == SQ_SET_INTERSECT ? "_lo = 1 AND _hi = 2"
                                                                     : "_hi = 1", f->tok), f->tok);
        if (out_add(f, &cap, NULL, "_lo", "_lo", 0) < 0)
            return -1;
        return out_add(f, &cap, NULL, "_hi", "_hi", 0);
    }
    ynode *cols = sq_ycoll(q, YN_MAP, in->n, f->tok);
    for (int k = 0; k < in->n; k++) {
        if (strcmp(in->e[k].phys, "_lo") == 0 || strcmp(in->e[k].phys, "_hi") == 0 ||
            in->e[k].outer_key == 2)
            continue;
        sq_yadd(cols, sq_yscalar(q, in->e[k].phys, f->tok), sq_yscalar(q, sq_colref(q, in->e[k].phys), f->tok));
        if (out_add(f, &cap, NULL, in->e[k].name, in->e[k].phys, 0) < 0)
            return -1;
    }
    sq_ykey(q, b, "columns", cols, f->tok);
    return 0;
}

/* A window's PARTITION BY or ORDER BY item: the column it names. */
static const char *win_col(fill *f, const sq_scope *in, sq_span e, const char *what)
{
    sq_q *q = f->q;
    sq_blk *bk = f->st->blk;
    char *text;
    if (bk->agg) {
        if (sq_rewrite_post(q, bk, &bk->pre, e.a, e.b, what, &text) < 0)
            return NULL;
    } else {
        rw r = {q, in, NULL, 0, what, 0};
        if (sq_rewrite(&r, e.a, e.b, &text) < 0)
            return NULL;
    }
    for (int k = 0; k < in->n; k++)
        if (strcmp(sq_colref(q, in->e[k].phys), text) == 0)
            return in->e[k].phys;
    sq_qerr(q, e.a, "%s takes columns: compute this expression in a WITH query (or a subquery "
         "in FROM) and name its column here", what);
    return NULL;
}

static int fill_window(fill *f, const sq_scope *in)
{
    sq_q *q = f->q;
    sq_step *st = f->st;
    sq_blk *bk = st->blk;
    const sq_win *w0 = &q->wins[st->mark];
    sq_wspec ws;
    if (win_spec(q, w0, &ws) < 0)
        return -1;
    ynode *b = body_new(f);
    sq_ykey(q, b, "input", sq_yscalar(q, f->nd->inputs[0].ref->text, f->tok), f->tok);
    if (ws.npart) {
        ynode *pb = sq_ycoll(q, YN_SEQ, ws.npart, f->tok);
        for (int k = 0; k < ws.npart; k++) {
            const char *c = win_col(f, in, ws.part[k], "PARTITION BY");
            if (!c)
                return -1;
            sq_yadd(pb, sq_yscalar(q, c, ws.part[k].a), NULL);
        }
        sq_ykey(q, b, "partition_by", pb, f->tok);
    }
    if (ws.nord) {
        ynode *ob = sq_ycoll(q, YN_SEQ, ws.nord, f->tok);
        for (int k = 0; k < ws.nord; k++) {
            const char *c = win_col(f, in, ws.ord[k], "the window's ORDER BY");
            if (!c)
                return -1;
            sq_yadd(ob, sq_yscalar(q, dag_arena_printf(&q->c->arena, "%s%s%s", sq_colref(q, c),
                                                  ws.desc[k] ? " desc" : "",
                                                  ws.nulls[k] == 1 ? " nulls first"
                                                  : ws.nulls[k] == 2 ? " nulls last" : ""),
                             ws.ord[k].a), NULL);
        }
        sq_ykey(q, b, "order_by", ob, f->tok);
    }
    ynode *cols = sq_ycoll(q, YN_MAP, q->nwins, f->tok);
    int cap = 0;
    for (int k = 0; k < in->n; k++)
        if (out_add(f, &cap, in->e[k].qual, in->e[k].name, in->e[k].phys, in->e[k].outer_key) < 0)
            return -1;
    for (int k = 0; k < q->nwins; k++) {
        const sq_win *w = &q->wins[k];
        if (w->spec != w0->spec || w->fn < bk->s->at ||
            (bk->s->nitems && w->fn >= bk->s->items[bk->s->nitems - 1].e.b))
            continue;
        sbuf sb = {0};
        sq_sb_str(&sb, sq_tokname(q, w->fn));
        sq_sb_put(&sb, "(", 1);
        if (w->argr > w->argl + 1) {
            char *args;
            if (bk->agg) {
                if (sq_rewrite_post(q, bk, &bk->pre, w->argl + 1, w->argr,
                                 "a window function's arguments", &args) < 0) {
                    free(sb.s);
                    return -1;
                }
            } else {
                rw r = {q, in, NULL, 0, "a window function's arguments", 0};
                if (sq_rewrite(&r, w->argl + 1, w->argr, &args) < 0) {
                    free(sb.s);
                    return -1;
                }
            }
            sq_sb_str(&sb, args);
        }
        sq_sb_put(&sb, ")", 1);
        for (int t = ws.frame; ws.frame >= 0 && t < w0->close; t++)
            sq_sb_put(&sb, q->tk.text + q->tk.t[t].off, (size_t)q->tk.t[t].len);
        char *p = sb.s, *o = sb.s;
        for (; p && *p; p++) /* "rank ( )" reads as "rank()" */
            if (!(*p == ' ' && (p[1] == '(' || p[1] == ')' || (p > sb.s && p[-1] == '('))))
                *o++ = *p;
        if (o)
            *o = '\0';
        sq_yadd(cols, sq_yscalar(q, w->col, w->fn), sq_yscalar(q, dag_arena_strdup(&q->c->arena,
                                                                          sb.s ? sb.s : ""), w->fn));
        free(sb.s);
        if (out_add(f, &cap, NULL, w->col, w->col, 0) < 0)
            return -1;
    }
    sq_ykey(q, b, "columns", cols, f->tok);
    return 0;
}

/* A CROSS JOIN side: every column, plus the constant key _cross (hidden). */
static int fill_one(fill *f, const sq_scope *in)
{
    sq_q *q = f->q;
    ynode *b = body_new(f);
    sq_ykey(q, b, "input", sq_yscalar(q, f->nd->inputs[0].ref->text, f->tok), f->tok);
    ynode *cols = sq_ycoll(q, YN_MAP, 1, f->tok);
    sq_yadd(cols, sq_yscalar(q, "_cross", f->tok), sq_yscalar(q, "1", f->tok));
    sq_ykey(q, b, "columns", cols, f->tok);
    int cap = 0;
    for (int k = 0; k < in->n; k++)
        if (out_add(f, &cap, in->e[k].qual, in->e[k].name, in->e[k].phys, in->e[k].outer_key) < 0)
            return -1;
    return out_add(f, &cap, NULL, "_cross", "_cross", 2);
}

static int fill_rename(fill *f, const sq_scope *in)
{
    sq_q *q = f->q;
    sq_step *st = f->st;
    ynode *b = body_new(f);
    sq_ykey(q, b, "input", sq_yscalar(q, f->nd->inputs[0].ref->text, f->tok), f->tok);
    ynode *cols = sq_ycoll(q, YN_MAP, in->n, f->tok);
    int cap = 0;
    for (int k = 0; k < in->n; k++) {
        const char *phys = in->e[k].phys;
        for (int r = 0; r < st->nrename; r++)
            if (strcmp(in->e[k].name, st->rename[r]) == 0 && in->e[k].qual)
                phys = dag_arena_printf(&q->c->arena, "%s.%s", in->e[k].qual, in->e[k].name);
        sq_yadd(cols, sq_yscalar(q, phys, f->tok), sq_yscalar(q, sq_colref(q, in->e[k].phys), f->tok));
        if (out_add(f, &cap, in->e[k].qual, in->e[k].name, phys, in->e[k].outer_key) < 0)
            return -1;
    }
    sq_ykey(q, b, "columns", cols, f->tok);
    return 0;
}

int dag_sql_fill(dag_ctx *c, dag *d, dag_node *nd, mr_schema *const *ins)
{
    sq_step *st = nd->sql;
    sq_q *q = st->q;
    q->d = d;
    for (int k = 0; k < nd->ninputs; k++)
        if (!ins[k]) {
            nd->out = NULL; /* an earlier error */
            return -1;
        }
    fill f = {q, nd, st, NULL, nd->inputs[0].ref ? 0 : 0};
    f.tok = 0;
    sq_scope in[2];
    for (int k = 0; k < nd->ninputs && k < 2; k++)
        if (sq_input_scope(q, nd, k, ins[k], &in[k]) < 0)
            return -1;
    int rc;
    st->out.n = 0;
    switch (st->kind) {
    case ST_JOIN: rc = fill_join(&f, &in[0], &in[1]); break;
    case ST_FILTER: rc = fill_filter(&f, &in[0]); break;
    case ST_DERIVE: rc = fill_derive(&f, &in[0]); break;
    case ST_AGG: rc = fill_agg(&f, &in[0]); break;
    case ST_SELECT: rc = fill_select(&f, &in[0]); break;
    case ST_RENAME: rc = fill_rename(&f, &in[0]); break;
    case ST_SEMI: rc = fill_semi(&f, &in[0], &in[1]); break;
    case ST_WINDOW: rc = fill_window(&f, &in[0]); break;
    case ST_ONE: rc = fill_one(&f, &in[0]); break;
    case ST_MARK:
    case ST_SETAGG:
    case ST_SETOUT: rc = fill_set(&f, &in[0]); break;
    case ST_SORT: rc = fill_sort(&f, &in[0]); break;
    case ST_UNION: rc = fill_union(&f, ins); break;
    case ST_LIMIT:
    case ST_DISTINCT:
    default:
        body_new(&f);
        sq_ykey(q, f.body, "input", sq_yscalar(q, nd->inputs[0].ref->text, 0), 0);
        if (st->kind == ST_LIMIT)
            sq_ykey(q, f.body, "n", sq_yscalar(q, dag_arena_printf(&c->arena, "%lld",
                                                             st->qry->limit), 0), 0);
        st->out = in[0];
        rc = 0;
        break;
    }
    if (rc < 0 || c->oom || !f.body) {
        nd->out = NULL;
        return -1;
    }
    nd->body = f.body;
    return 0;
}

