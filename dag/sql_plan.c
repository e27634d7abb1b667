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
 */
#include "dag/sql.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { ST_JOIN, ST_FILTER, ST_DERIVE, ST_AGG, ST_SELECT, ST_DISTINCT, ST_SORT, ST_LIMIT,
       ST_UNION, ST_RENAME, ST_SEMI, ST_MARK, ST_SETAGG, ST_SETOUT, ST_WINDOW };
static const char *const st_op[] = {"join", "filter", "derive", "aggregate", "select",
                                    "distinct", "sort", "limit", "union", "select", "join",
                                    "derive", "aggregate", "select", "window"};
static const int st_dop[] = {DOP_JOIN, DOP_FILTER, DOP_DERIVE, DOP_AGGREGATE, DOP_SELECT,
                             DOP_DISTINCT, DOP_SORT, DOP_LIMIT, DOP_UNION, DOP_SELECT, DOP_JOIN,
                             DOP_DERIVE, DOP_AGGREGATE, DOP_SELECT, DOP_WINDOW};

typedef struct sq_ent {
    const char *qual, *name, *phys;
    int outer_key; /* a key merged with the other side's by an outer join */
} sq_ent;

typedef struct sq_scope {
    sq_ent *e;
    int n;
} sq_scope;

typedef struct sq_win {  /* one window function call: fn(args) OVER (spec) */
    int fn, close;       /* tokens of its name and of the ')' ending OVER (...) */
    int argl, argr;      /* the parentheses of its arguments */
    int overl;           /* the '(' after OVER */
    int spec;            /* index of its window (calls with the same spec share one) */
    const char *col;     /* the window node's column holding it */
} sq_win;

typedef struct sq_q {    /* one sql node's query */
    int quiet;           /* > 0: errors are not reported (trial rewrites) */
    sq_win *wins;        /* every window call of the query */
    int nwins;
    dag_ctx *c;
    dag *d;
    const ynode *qn;     /* the query scalar */
    const char *id;      /* the sql node's id */
    sq_tokens tk;
} sq_q;

typedef struct sq_blk {  /* planning state of one SELECT block */
    sq_select *s;
    int agg;             /* grouped or aggregating */
    int *gplain;         /* per group item: a plain column (no derive needed) */
    int *gitem;          /* per group item: the select item it names, or -1 */
    const char **gtext;  /* group expressions, rewritten, and their columns */
    const char **gcol;
    int ng;
    const char **atext;  /* aggregates and their columns */
    const char **acol;
    int na, acap;
    const char **itext;  /* select items after the aggregate, rewritten */
    const char *having;
    const char **names;  /* output names (syntactic; NULL for '*') */
    sq_scope pre;        /* grouped: the aggregate's input scope */
} sq_blk;

typedef struct sq_step {
    int kind;
    sq_q *q;
    sq_blk *blk;
    sq_query *qry;       /* sort, limit: the query whose ORDER BY / LIMIT */
    sq_from *from;       /* join: the joined item */
    sq_span span;        /* filter: its condition */
    const char *qual[8]; /* per input: the qualifier its columns get (NULL: keep) */
    int union_all;
    sq_scope out;
    const char **names;  /* select of a UNION arm: the first arm's names */
    const char **rename; /* rename: these columns get the qualifier in front */
    int nrename;
    sq_span *conj;       /* filter: these conjuncts (else span) */
    int nconj;
    int anti;            /* semi: NOT EXISTS */
    sq_span in_ref;      /* semi: x of x IN (subquery) (b == a for EXISTS) */
    sq_span *corr;       /* semi (EXISTS): correlated a = b pairs, inner side first */
    int ncorr;
    const char *inner;   /* semi (EXISTS): the subquery's qualifier */
    int mark;            /* mark: the side number; setagg: SQ_SET_* */
} sq_step;

const dv_keyspec dag_sql_keys[] = {
    {"op", 1, DV_K_STR}, {"query", 1, DV_K_STR}, {"inputs", 0, DV_K_SEQ}, {NULL, 0, 0},
};

mr_schema *dag_sql_validate(dag_ctx *c, dag_node *nd, mr_schema *const *ins)
{
    (void)c, (void)nd, (void)ins;
    return NULL;
}

void dag_sql_compile(dag_pb *b, dag_frag *f, const dag_node *nd, int idx)
{
    (void)b, (void)f, (void)nd, (void)idx;
}

/* ---- small builders ---------------------------------------------------- */

static void *zalloc(sq_q *q, size_t n)
{
    void *p = dag_arena_alloc(&q->c->arena, n ? n : 1);
    if (!p)
        q->c->oom = 1;
    return p;
}

static void qerr(sq_q *q, int tok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void qerr(sq_q *q, int tok, const char *fmt, ...)
{
    char buf[1024];
    if (q->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    int off = tok >= 0 && tok <= q->tk.n ? q->tk.t[tok].off : 0;
    dag_error_in(q->c, q->qn, off, q->id, "%s", buf);
}

/* A scalar for a step's body, placed at token tok of the query. */
static ynode *yscalar(sq_q *q, const char *text, int tok)
{
    ynode *n = zalloc(q, sizeof *n);
    if (!n)
        return NULL;
    n->kind = YN_SCALAR;
    n->style = YS_OTHER;
    n->text = (char *)(text ? text : "");
    n->len = strlen(n->text);
    n->raw = n->text;
    n->raw_len = n->len;
    int off = tok >= 0 && tok <= q->tk.n ? q->tk.t[tok].off : 0;
    dag_pos_in(q->c, q->qn, off, &n->line, &n->col);
    n->end_line = n->line;
    return n;
}

static ynode *ycoll(sq_q *q, ynode_kind kind, int cap, int tok)
{
    ynode *n = yscalar(q, "", tok);
    if (!n)
        return NULL;
    n->kind = kind;
    n->items = zalloc(q, (size_t)(cap ? cap : 1) * (kind == YN_MAP ? 2 : 1) * sizeof *n->items);
    return n->items ? n : NULL;
}

static void yadd(ynode *coll, ynode *a, ynode *b)
{
    if (!coll || !a)
        return;
    if (coll->kind == YN_MAP) {
        coll->items[2 * coll->n] = a;
        coll->items[2 * coll->n + 1] = b;
    } else {
        coll->items[coll->n] = a;
    }
    coll->n++;
}

static void ykey(sq_q *q, ynode *map, const char *key, ynode *v, int tok)
{
    if (v)
        yadd(map, yscalar(q, key, tok), v);
}

/* A column name as an expression: bare when it reads back the same. */
static const char *colref(sq_q *q, const char *name)
{
    int plain = name[0] && (name[0] == '_' || (name[0] >= 'a' && name[0] <= 'z'));
    for (const char *s = name; plain && *s; s++)
        plain = *s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9');
    static const char *const kws[] = {"and", "or", "not", "is", "null", "true", "false", "case",
        "when", "then", "else", "end", "in", "between", "like", "ilike", "cast", "as", "from",
        "distinct", "try_cast", "extract", "date", "timestamp", "interval", NULL};
    for (int k = 0; plain && kws[k]; k++)
        plain = strcmp(name, kws[k]) != 0;
    return plain ? name : dag_quote_ident(&q->c->arena, name);
}

/* ---- scopes and names -------------------------------------------------- */

static const char *tokname(sq_q *q, int i)
{
    return sq_name(&q->c->arena, &q->tk, i);
}

static int is_name_tok(sq_q *q, int i)
{
    return q->tk.t[i].kind == MR_TOK_IDENT || q->tk.t[i].kind == MR_TOK_QIDENT;
}

/* Resolves [qual.]name in sc: the entry index, or -1 after reporting at tok. */
static int resolve(sq_q *q, const sq_scope *sc, const char *qual, const char *name, int tok)
{
    int hit = -1, nhit = 0, qual_seen = 0;
    for (int i = 0; i < sc->n; i++) {
        if (qual && (!sc->e[i].qual || strcmp(sc->e[i].qual, qual) != 0))
            continue;
        qual_seen = 1;
        if (strcmp(sc->e[i].name, name) == 0) {
            if (hit < 0)
                hit = i;
            nhit++;
        }
    }
    if (nhit > 1) {
        qerr(q, tok, "column reference '%s' is ambiguous: it is in more than one input; "
             "qualify it (alias.%s)", name, name);
        return -1;
    }
    if (hit >= 0 && sc->e[hit].outer_key) {
        qerr(q, tok, "'%s%s%s' is a join key merged with the other side's key of the same name "
             "by an outer join, so it is not NULL where this side has no row: refer to the "
             "key of the side that keeps every row, or test another column of this side",
             qual ? qual : "", qual ? "." : "", name);
        return -1;
    }
    if (hit >= 0)
        return hit;
    if (qual && !qual_seen) {
        const char **qs = zalloc(q, ((size_t)sc->n + 1) * sizeof *qs);
        int nq = 0;
        for (int i = 0; qs && i < sc->n; i++)
            if (sc->e[i].qual)
                qs[nq++] = sc->e[i].qual;
        qerr(q, tok, "unknown table or alias '%s'%s", qual,
             qs ? dag_did_you_mean(q->c, qual, qs, (size_t)nq) : "");
        return -1;
    }
    const char **cands = zalloc(q, ((size_t)sc->n + 1) * sizeof *cands);
    int nc = 0;
    for (int i = 0; cands && i < sc->n; i++)
        if (!qual || (sc->e[i].qual && strcmp(sc->e[i].qual, qual) == 0))
            cands[nc++] = sc->e[i].name;
    qerr(q, tok, "unknown column '%s%s%s'%s", qual ? qual : "", qual ? "." : "", name,
         cands ? dag_did_you_mean(q->c, name, cands, (size_t)nc) : "");
    return -1;
}

static int scope_add(sq_q *q, sq_scope *sc, int *cap, const char *qual, const char *name,
                     const char *phys, int outer_key)
{
    if (sc->n == *cap) {
        int ncap = *cap ? *cap * 2 : 16;
        sq_ent *e = zalloc(q, (size_t)ncap * sizeof *e);
        if (!e)
            return -1;
        if (sc->n)
            memcpy(e, sc->e, (size_t)sc->n * sizeof *e);
        sc->e = e;
        *cap = ncap;
    }
    sc->e[sc->n++] = (sq_ent){qual, name, phys, outer_key};
    return 0;
}

/* The scope of step nd's input k: the producing step's, or the schema's
 * columns for another node; qualified as the step says. */
static int input_scope(sq_q *q, const dag_node *nd, int k, const mr_schema *in, sq_scope *out)
{
    const sq_step *st = nd->sql;
    const dag_node *src = nd->inputs[k].node >= 0 ? &q->d->nodes[nd->inputs[k].node] : NULL;
    int cap = 0;
    out->n = 0;
    out->e = NULL;
    if (!in)
        return -1;
    const char *qual = k < 8 ? st->qual[k] : NULL;
    if (src && src->sql && src->sql->q == q) {
        for (int i = 0; i < src->sql->out.n; i++) {
            sq_ent e = src->sql->out.e[i];
            if (scope_add(q, out, &cap, qual ? qual : e.qual, e.name, e.phys, e.outer_key) < 0)
                return -1;
        }
        return 0;
    }
    for (int i = 0; i < in->nfields; i++)
        if (scope_add(q, out, &cap, qual, in->fields[i].name, in->fields[i].name, 0) < 0)
            return -1;
    return 0;
}

/* ---- expressions: a token range into the text the op reads ------------ */

/* The token matching the '(' at i. */
static int close_paren(sq_q *q, int i, int b)
{
    int depth = 0;
    for (int k = i; k < b; k++) {
        depth += sq_is_op(&q->tk, k, "(") - sq_is_op(&q->tk, k, ")");
        if (depth == 0)
            return k;
    }
    return b - 1;
}

static const char *const agg_names[] = {
    "count", "sum", "avg", "min", "max", "variance", "var_samp", "var_pop", "stddev",
    "stddev_samp", "stddev_pop", "bool_and", "bool_or", "string_agg", NULL,
};

static int is_agg(sq_q *q, int i)
{
    if (q->tk.t[i].kind != MR_TOK_IDENT || !sq_is_op(&q->tk, i + 1, "("))
        return 0;
    for (int k = 0; agg_names[k]; k++)
        if (sq_is_kw(&q->tk, i, agg_names[k]))
            return !sq_is_kw(&q->tk, close_paren(q, i + 1, q->tk.n) + 1, "over");
    return 0;
}

static const char *const word_kw[] = {
    "and", "or", "not", "is", "null", "true", "false", "case", "when", "then", "else", "end",
    "in", "between", "like", "ilike", "cast", "as", "from", "distinct", "try_cast", "extract",
    "interval", "similar", "escape", NULL,
};

/* Whether the word at token i is no column: a keyword, a type name after
 * '::' or AS, a literal's type (DATE '...'), a field of extract(). */
static int not_a_column(sq_q *q, int i, int a)
{
    for (int k = 0; word_kw[k]; k++)
        if (sq_is_kw(&q->tk, i, word_kw[k]) && q->tk.t[i].kind == MR_TOK_IDENT)
            return 1;
    if (i > a && (sq_is_op(&q->tk, i - 1, "::") || sq_is_kw(&q->tk, i - 1, "as")))
        return 1;
    if ((sq_is_kw(&q->tk, i, "date") || sq_is_kw(&q->tk, i, "timestamp")) &&
        q->tk.t[i + 1].kind == MR_TOK_STR)
        return 1;
    if (i >= a + 2 && sq_is_kw(&q->tk, i - 2, "extract") && sq_is_op(&q->tk, i - 1, "("))
        return 1;
    if (i > a && q->tk.t[i - 1].kind == MR_TOK_IDENT && sq_is_kw(&q->tk, i - 1, "double"))
        return 1; /* double precision */
    return 0;
}

typedef struct rw {
    sq_q *q;
    const sq_scope *sc; /* names resolve here */
    sq_blk *blk;        /* aggregates: extract into blk (NULL: not allowed) */
    int post;           /* after the aggregate: columns must be grouped */
    const char *where;  /* the clause, for messages */
    int win_ok;         /* window calls read their window node's column */
} rw;

static int rewrite(rw *r, int a, int b, char **out);

typedef struct sbuf {
    char *s;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *s, const char *p, size_t n)
{
    if (s->n + n + 2 > s->cap) {
        size_t nc = (s->cap ? s->cap * 2 : 128) + n;
        char *ns = realloc(s->s, nc);
        if (!ns) {
            s->oom = 1;
            return;
        }
        s->s = ns;
        s->cap = nc;
    }
    if (s->n)
        s->s[s->n++] = ' ';
    memcpy(s->s + s->n, p, n);
    s->n += n;
    s->s[s->n] = '\0';
}

static void sb_str(sbuf *s, const char *p)
{
    sb_put(s, p, strlen(p));
}

static const char *agg_col(rw *r, const char *text)
{
    sq_blk *bk = r->blk;
    for (int i = 0; i < bk->na; i++)
        if (strcmp(bk->atext[i], text) == 0)
            return bk->acol[i];
    if (bk->na == bk->acap) {
        int nc = bk->acap ? bk->acap * 2 : 8;
        const char **t = zalloc(r->q, (size_t)nc * sizeof *t), **cl = zalloc(r->q, (size_t)nc * sizeof *cl);
        if (!t || !cl)
            return NULL;
        if (bk->na) {
            memcpy(t, bk->atext, (size_t)bk->na * sizeof *t);
            memcpy(cl, bk->acol, (size_t)bk->na * sizeof *cl);
        }
        bk->atext = t;
        bk->acol = cl;
        bk->acap = nc;
    }
    bk->atext[bk->na] = dag_arena_strdup(&r->q->c->arena, text);
    bk->acol[bk->na] = dag_arena_printf(&r->q->c->arena, "_a%d", bk->na + 1);
    return bk->acol[bk->na++];
}

static int rewrite_into(rw *r, int a, int b, sbuf *s)
{
    sq_q *q = r->q;
    for (int i = a; i < b; i++) {
        const mr_tok *t = &q->tk.t[i];
        const char *txt = q->tk.text + t->off;
        if (sq_sub_at(&q->tk, i)) {
            qerr(q, i + 1, "a subquery is taken only as a WHERE condition joined by AND: "
                 "[NOT] EXISTS (SELECT ... FROM x WHERE x.k = outer.k ...) or column IN "
                 "(SELECT one column ...); elsewhere, compute it in a WITH query and JOIN it");
            return -1;
        }
        const sq_win *w = NULL;
        for (int k = 0; k < q->nwins && !w; k++)
            if (q->wins[k].fn == i)
                w = &q->wins[k];
        if (w) {
            if (!r->win_ok) {
                qerr(q, i, "window functions are not allowed in %s: they belong in the "
                     "select list (filter on them in an outer query)", r->where);
                return -1;
            }
            sb_str(s, w->col);
            i = w->close;
            continue;
        }
        if (is_agg(q, i)) {
            if (!r->blk) {
                qerr(q, i, "aggregate functions are not allowed in %s%s", r->where,
                     strcmp(r->where, "WHERE") == 0 ? ": use HAVING for conditions on "
                     "aggregates" : "");
                return -1;
            }
            int e = close_paren(q, i + 1, b);
            rw inner = *r;
            inner.blk = NULL;
            inner.post = 0;
            inner.where = "an aggregate's argument";
            sbuf as = {0};
            const char *fname = tokname(q, i);
            sb_str(&as, fname);
            sb_put(&as, "(", 1);
            int k = i + 2;
            if (sq_is_kw(&q->tk, k, "distinct")) {
                sb_str(&as, "distinct");
                k++;
            }
            if (k < e && rewrite_into(&inner, k, e, &as) < 0) {
                free(as.s);
                return -1;
            }
            sb_put(&as, ")", 1);
            if (as.oom) {
                free(as.s);
                q->c->oom = 1;
                return -1;
            }
            /* "sum ( x )" reads as "sum(x)": the aggregate parser's own form */
            char *p = as.s, *w = as.s;
            for (; *p; p++)
                if (!(*p == ' ' && (p[1] == '(' || (p > as.s && p[-1] == '('))))
                    *w++ = *p;
            *w = '\0';
            const char *col = agg_col(r, as.s);
            free(as.s);
            if (!col)
                return -1;
            sb_str(s, col);
            i = e;
            continue;
        }
        if (is_name_tok(q, i) && !(t->kind == MR_TOK_IDENT && sq_is_op(&q->tk, i + 1, "(")) &&
            !not_a_column(q, i, a)) {
            const char *qual = NULL, *name;
            int at = i;
            if (sq_is_op(&q->tk, i + 1, ".") && is_name_tok(q, i + 2)) {
                qual = tokname(q, i);
                name = tokname(q, i + 2);
                i += 2;
            } else {
                name = tokname(q, i);
            }
            int k = resolve(q, r->sc, qual, name, at);
            if (k < 0)
                return -1;
            const char *phys = r->sc->e[k].phys;
            if (r->post) {
                int grouped = 0;
                for (int g = 0; g < r->blk->ng && !grouped; g++)
                    grouped = strcmp(r->blk->gcol[g], phys) == 0 &&
                              strcmp(r->blk->gtext[g], colref(q, phys)) == 0;
                if (!grouped) {
                    qerr(q, at, "column '%s%s%s' must appear in GROUP BY or be used in an "
                         "aggregate function", qual ? qual : "", qual ? "." : "", name);
                    return -1;
                }
            }
            sb_str(s, colref(q, phys));
            continue;
        }
        sb_put(s, txt, (size_t)t->len);
    }
    if (s->oom) {
        q->c->oom = 1;
        return -1;
    }
    return 0;
}

/* The text of tokens [a, b) with names resolved; arena string in *out. */
static int rewrite(rw *r, int a, int b, char **out)
{
    sbuf s = {0};
    int rc = rewrite_into(r, a, b, &s);
    if (rc == 0) {
        *out = dag_arena_strdup(&r->q->c->arena, s.s ? s.s : "");
        if (!*out)
            rc = -1;
    }
    free(s.s);
    return rc;
}

/* In a grouped block, an expression that is a GROUP BY expression reads
 * its column; else it is rewritten with aggregates pulled out. */
static int rewrite_post(sq_q *q, sq_blk *bk, const sq_scope *pre, int a, int b, const char *where,
                        char **out)
{
    rw plain = {q, pre, NULL, 0, where, 0};
    sbuf s = {0};
    int bad = 0;
    for (int i = a; i < b && !bad; i++)
        bad = is_agg(q, i);
    if (!bad) {
        /* whole-expression match with a group expression (no error if not) */
        q->quiet++;
        int rc = rewrite_into(&plain, a, b, &s);
        q->quiet--;
        for (int g = 0; rc == 0 && g < bk->ng; g++)
            if (strcmp(bk->gtext[g], s.s ? s.s : "") == 0) {
                *out = (char *)colref(q, bk->gcol[g]);
                free(s.s);
                return 0;
            }
        free(s.s);
    }
    rw r = {q, pre, bk, 1, where, strcmp(where, "the select list") == 0};
    return rewrite(&r, a, b, out);
}

/* ---- pass 1: the steps ---------------------------------------------------- */

typedef struct sq_env {  /* WITH queries in view: name -> the node that computes it */
    const char *name, *id;
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
        dag_node *n = zalloc(q, (size_t)nc * sizeof *n);
        if (!n) {
            x->failed = 1;
            return NULL;
        }
        if (x->nextra)
            memcpy(n, x->extra, (size_t)x->nextra * sizeof *n);
        x->extra = n;
        x->cap = nc;
    }
    sq_step *st = zalloc(q, sizeof *st);
    dag_node *nd = &x->extra[x->nextra];
    memset(nd, 0, sizeof *nd);
    nd->id = dag_arena_printf(&q->c->arena, "%s.%d", q->id, ++x->nsteps);
    nd->inputs = zalloc(q, 8 * sizeof *nd->inputs);
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
    nd->inputs[nd->ninputs].ref = yscalar(x->q, id, tok);
    nd->inputs[nd->ninputs].node = -1;
    nd->ninputs++;
}

static int plan_query(xp *x, sq_query *qy, const sq_env *env, const char **id, int *is_step);

/* Whether tokens [a, b) are one column reference: name or q.name. */
static int is_ref(sq_q *q, int a, int b)
{
    return (b == a + 1 && is_name_tok(q, a) && !not_a_column(q, a, a)) ||
           (b == a + 3 && is_name_tok(q, a) && sq_is_op(&q->tk, a + 1, ".") &&
            is_name_tok(q, a + 2));
}

/* Splits [a, b) at its top-level ANDs into at most cap conjuncts. */
static int conjuncts(sq_q *q, sq_span e, sq_span *out, int cap)
{
    int n = 0, depth = 0, st = e.a, between = 0;
    for (int i = e.a; i <= e.b && n < cap; i++) {
        if (i < e.b && depth == 0 && sq_is_kw(&q->tk, i, "between"))
            between = 1;
        if (i == e.b || (depth == 0 && sq_is_kw(&q->tk, i, "and") && !between)) {
            out[n++] = (sq_span){st, i};
            st = i + 1;
            continue;
        }
        if (depth == 0 && sq_is_kw(&q->tk, i, "and"))
            between = 0; /* the AND of BETWEEN */
        depth += sq_is_op(&q->tk, i, "(") - sq_is_op(&q->tk, i, ")");
    }
    return n;
}

/* A conjunct that can be a join key: ref = ref; *eq is the '=' token. */
static int key_conjunct(sq_q *q, sq_span c, int *eq)
{
    for (int i = c.a + 1; i < c.b; i++)
        if (sq_is_op(&q->tk, i, "=")) {
            *eq = i;
            return is_ref(q, c.a, i) && is_ref(q, i + 1, c.b);
        }
    return 0;
}

static int from_source(xp *x, sq_from *f, const sq_env *env, const char **id, const char **qual)
{
    sq_q *q = x->q;
    if (f->sub) {
        int is_step;
        if (plan_query(x, f->sub, env, id, &is_step) < 0)
            return -1;
        *qual = f->alias >= 0 ? tokname(q, f->alias) : NULL;
        return 0;
    }
    const char *name = tokname(q, f->name);
    *qual = f->alias >= 0 ? tokname(q, f->alias) : name;
    for (const sq_env *e = env; e; e = e->up)
        if (strcmp(e->name, name) == 0) {
            *id = e->id;
            return 0;
        }
    const char **cands = zalloc(q, ((size_t)q->d->n + 16) * sizeof *cands);
    int nc = 0;
    for (int i = 0; i < q->d->n; i++) {
        if (strcmp(q->d->nodes[i].id, name) == 0) {
            if (strcmp(name, q->id) == 0) {
                qerr(q, f->name, "a sql node cannot read itself ('%s')", name);
                return -1;
            }
            *id = q->d->nodes[i].id;
            if (x->nused == x->ucap) {
                int nc2 = x->ucap ? x->ucap * 2 : 8;
                const char **u = zalloc(q, (size_t)nc2 * sizeof *u);
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
    qerr(q, f->name, "unknown node or WITH query '%s' in FROM%s", name,
         cands ? dag_did_you_mean(q->c, name, cands, (size_t)nc) : "");
    return -1;
}

/* The output name of select item it, from the query's text. */
static const char *item_name(sq_q *q, const sq_item *it)
{
    if (it->alias >= 0)
        return tokname(q, it->alias);
    if (is_ref(q, it->e.a, it->e.b))
        return tokname(q, it->e.b - 1);
    if (q->tk.t[it->e.a].kind == MR_TOK_IDENT && sq_is_op(&q->tk, it->e.a + 1, "(") &&
        close_paren(q, it->e.a + 1, it->e.b) == it->e.b - 1)
        return tokname(q, it->e.a);
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
            qerr(q, c.a, "%s", how);
            return -1;
        }
    } else {
        int k = c.a;
        while (k < c.b && !sq_is_kw(&q->tk, k, "in") && !sq_is_kw(&q->tk, k, "not"))
            k++;
        if (k < c.b && sq_is_kw(&q->tk, k, "not") && sq_is_kw(&q->tk, k + 1, "in")) {
            qerr(q, k, "NOT IN (subquery) is not supported (one NULL in the subquery makes it "
                 "false for every row): write NOT EXISTS (SELECT ... WHERE inner.x = outer.x)");
            return -1;
        }
        sub = k < c.b ? sq_sub_at(&q->tk, k + 1) : NULL;
        if (!sub || sub->rparen != c.b - 1 || !is_ref(q, c.a, k)) {
            qerr(q, c.a, "%s", how);
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
            qerr(q, sub->lparen + 1, "an EXISTS subquery here reads one node or WITH query, "
                 "with a WHERE that ties it to the outer query (no JOIN, GROUP BY, UNION or "
                 "LIMIT): put the rest in a WITH query");
            return -1;
        }
        if (from_source(x, &ss->from[0], env, &rid, &rq) < 0)
            return -1;
        sq_span wc[64];
        int nwc = ss->where.b > ss->where.a ? conjuncts(q, ss->where, wc, 64) : 0, eq, nrest = 0;
        sq_span *rest = zalloc(q, 64 * sizeof *rest);
        corr = zalloc(q, 128 * sizeof *corr);
        if (!rest || !corr)
            return -1;
        for (int k = 0; k < nwc; k++) {
            int outer_side = -1;
            if (key_conjunct(q, wc[k], &eq)) {
                sq_span sd[2] = {{wc[k].a, eq}, {eq + 1, wc[k].b}};
                for (int sx = 0; sx < 2; sx++)
                    if (sd[sx].b - sd[sx].a == 3 &&
                        (!rq || strcmp(tokname(q, sd[sx].a), rq) != 0))
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
            qerr(q, sub->lparen + 1, "this EXISTS subquery is not tied to the outer query: its "
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

static int plan_select(xp *x, sq_select *s, const sq_env *env, const char **id, int *is_step)
{
    sq_q *q = x->q;
    sq_blk *bk = zalloc(q, sizeof *bk);
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
        sq_span cj[64];
        int ncj = conjuncts(q, f->on, cj, 64), nkeys = 0, rest = 0, eq;
        for (int k = 0; k < ncj; k++) {
            if (key_conjunct(q, cj[k], &eq))
                nkeys++;
            else
                rest = 1;
        }
        if (nkeys == 0) {
            qerr(q, f->on.a, "a join needs at least one equality of a column of each side in "
                 "ON (a.x = b.y); other conditions go with them, joined by AND");
            return -1;
        }
        if (rest && f->join != SQ_J_INNER) {
            qerr(q, f->on.a, "an outer join's ON takes column equalities only: filter the "
                 "%s side in a subquery first (FROM (SELECT ... WHERE ...) alias), or use "
                 "an inner JOIN", f->join == SQ_J_LEFT ? "right" : f->join == SQ_J_RIGHT
                 ? "left" : "either");
            return -1;
        }
        /* An outer join would merge keys named alike on both sides into
         * one column (SQL USING); ON keeps both, so the right one is
         * renamed first ("<alias>.<name>"). */
        const char **ren = zalloc(q, 64 * sizeof *ren);
        int nren = 0;
        for (int k = 0; ren && f->join != SQ_J_INNER && k < ncj; k++) {
            if (!key_conjunct(q, cj[k], &eq) || !rq)
                continue;
            sq_span sd[2] = {{cj[k].a, eq}, {eq + 1, cj[k].b}};
            const char *n0 = tokname(q, sd[0].b - 1), *n1 = tokname(q, sd[1].b - 1);
            if (strcmp(n0, n1) != 0)
                continue;
            for (int sx = 0; sx < 2; sx++)
                if (sd[sx].b - sd[sx].a == 3 && strcmp(tokname(q, sd[sx].a), rq) == 0)
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
        int nwc = conjuncts(q, s->where, wc, 64), nplain = 0, nsub = 0;
        sq_span *plain = zalloc(q, 64 * sizeof *plain);
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
        for (int k = s->items[i].e.a; k < s->items[i].e.b && !s->items[i].star; k++)
            bk->agg |= is_agg(q, k);
    for (int k = s->having.a; k < s->having.b; k++)
        bk->agg |= is_agg(q, k);
    if (s->having.b > s->having.a && !bk->agg) {
        qerr(q, s->having.a - 1, "HAVING without GROUP BY or aggregates: write WHERE");
        return -1;
    }
    bk->names = zalloc(q, ((size_t)s->nitems + 1) * sizeof *bk->names);
    for (int i = 0; bk->names && i < s->nitems; i++)
        bk->names[i] = s->items[i].star ? NULL : item_name(q, &s->items[i]);
    if (bk->agg) {
        bk->gplain = zalloc(q, ((size_t)s->ngroup + 1) * sizeof *bk->gplain);
        bk->gitem = zalloc(q, ((size_t)s->ngroup + 1) * sizeof *bk->gitem);
        if (!bk->gplain || !bk->gitem)
            return -1;
        int derive = 0;
        for (int g = 0; g < s->ngroup; g++) {
            sq_span e = s->group[g];
            bk->gitem[g] = -1;
            if (e.b == e.a + 1 && q->tk.t[e.a].kind == MR_TOK_NUM) {
                long p = strtol(q->tk.text + q->tk.t[e.a].off, NULL, 10);
                if (p < 1 || p > s->nitems || s->items[p - 1].star) {
                    qerr(q, e.a, "GROUP BY position %ld is not in the select list (1 to %d)",
                         p, s->nitems);
                    return -1;
                }
                bk->gitem[g] = (int)p - 1;
                e = s->items[p - 1].e;
            } else if (e.b == e.a + 1 && is_name_tok(q, e.a)) {
                for (int i = 0; i < s->nitems; i++)
                    if (s->items[i].alias >= 0 && !is_ref(q, s->items[i].e.a, s->items[i].e.b) &&
                        strcmp(tokname(q, s->items[i].alias), tokname(q, e.a)) == 0) {
                        bk->gitem[g] = i;
                        e = s->items[i].e;
                    }
            }
            for (int k = e.a; k < e.b; k++)
                if (is_agg(q, k)) {
                    qerr(q, k, "aggregate functions are not allowed in GROUP BY");
                    return -1;
                }
            bk->gplain[g] = is_ref(q, e.a, e.b);
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
    int nspec = 0, *spec_at = zalloc(q, 64 * sizeof *spec_at);
    if (!spec_at)
        return -1;
    for (int i = 0; i < s->nitems; i++) {
        const sq_item *it = &s->items[i];
        for (int k = it->e.a; !it->star && k < it->e.b; k++) {
            if (q->tk.t[k].kind != MR_TOK_IDENT || !sq_is_op(&q->tk, k + 1, "("))
                continue;
            int argr = close_paren(q, k + 1, it->e.b);
            if (!sq_is_kw(&q->tk, argr + 1, "over") || !sq_is_op(&q->tk, argr + 2, "("))
                continue;
            int close = close_paren(q, argr + 2, it->e.b);
            if (q->nwins % 16 == 0) {
                sq_win *nw = zalloc(q, ((size_t)q->nwins + 16) * sizeof *nw);
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
                    qerr(q, k, "more than 64 different windows in one select list");
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
    if (bk->agg || !star_only) {
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
        sq_env *e = zalloc(q, sizeof *e);
        if (!e)
            return -1;
        int st;
        const sq_env *up = mine ? mine : env;
        if (plan_query(x, qy->ctes[i].q, up, &e->id, &st) < 0)
            return -1;
        e->name = tokname(q, qy->ctes[i].name);
        e->up = up;
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
        if (plan_select(x, qy->arms[a], env, &aid, &st) < 0)
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
    f->body = ycoll(f->q, YN_MAP, 8, f->tok);
    ykey(f->q, f->body, "op", yscalar(f->q, st_op[f->st->kind], f->tok), f->tok);
    return f->body;
}

static int out_add(fill *f, int *cap, const char *qual, const char *name, const char *phys,
                   int ok)
{
    return scope_add(f->q, &f->st->out, cap, qual, name, phys, ok);
}

static int fill_join(fill *f, const sq_scope *L, const sq_scope *R)
{
    sq_q *q = f->q;
    sq_from *fr = f->st->from;
    sq_span cj[64];
    int ncj = conjuncts(q, fr->on, cj, 64), eq, nk = 0;
    const char **lk = zalloc(q, 64 * sizeof *lk), **rk = zalloc(q, 64 * sizeof *rk);
    if (!lk || !rk)
        return -1;
    for (int k = 0; k < ncj; k++) {
        if (!key_conjunct(q, cj[k], &eq))
            continue;
        sq_span side[2] = {{cj[k].a, eq}, {eq + 1, cj[k].b}};
        int li[2], ri[2];
        for (int s = 0; s < 2; s++) {
            const char *qual = side[s].b - side[s].a == 3 ? tokname(q, side[s].a) : NULL;
            const char *name = tokname(q, side[s].b - 1);
            q->quiet++;
            li[s] = resolve(q, L, qual, name, side[s].a);
            ri[s] = resolve(q, R, qual, name, side[s].a);
            q->quiet--;
            if (li[s] >= 0 && ri[s] >= 0) {
                qerr(q, side[s].a, "column reference '%s' is ambiguous: both sides of the join "
                     "have it; qualify it (alias.%s)", name, name);
                return -1;
            }
            if (li[s] < 0 && ri[s] < 0) {
                sq_scope both = {0};
                int cap = 0;
                for (int i = 0; i < L->n; i++)
                    scope_add(q, &both, &cap, L->e[i].qual, L->e[i].name, L->e[i].phys, 0);
                for (int i = 0; i < R->n; i++)
                    scope_add(q, &both, &cap, R->e[i].qual, R->e[i].name, R->e[i].phys, 0);
                resolve(q, &both, qual, name, side[s].a);
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
            qerr(q, cj[k].a, "this join condition compares two columns of the same side: "
                 "write it in WHERE (or the side's subquery)");
            return -1;
        }
        lk[nk] = L->e[l].phys;
        rk[nk++] = R->e[r].phys;
    }
    static const char *const how[] = {"inner", "inner", "left", "right", "full"};
    ynode *b = body_new(f);
    ykey(q, b, "left", yscalar(q, f->nd->inputs[0].ref->text, f->tok), f->tok);
    ykey(q, b, "right", yscalar(q, f->nd->inputs[1].ref->text, f->tok), f->tok);
    ynode *on = ycoll(q, YN_SEQ, nk, fr->on.a);
    for (int k = 0; on && k < nk; k++) {
        if (strcmp(lk[k], rk[k]) == 0) {
            yadd(on, yscalar(q, lk[k], fr->on.a), NULL);
            continue;
        }
        ynode *m = ycoll(q, YN_MAP, 2, fr->on.a);
        ykey(q, m, "left", yscalar(q, lk[k], fr->on.a), fr->on.a);
        ykey(q, m, "right", yscalar(q, rk[k], fr->on.a), fr->on.a);
        yadd(on, m, NULL);
    }
    ykey(q, b, "on", on, fr->on.a);
    if (fr->join != SQ_J_INNER)
        ykey(q, b, "how", yscalar(q, how[fr->join], f->tok), f->tok);
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
        ykey(q, b, "right_prefix", yscalar(q, prefix, f->tok), f->tok);
    int cap = 0;
    for (int j = 0; j < L->n; j++) {
        int outer = 0;
        for (int k = 0; k < nk; k++)
            outer |= strcmp(lk[k], rk[k]) == 0 && strcmp(L->e[j].phys, lk[k]) == 0 &&
                     (fr->join == SQ_J_RIGHT || fr->join == SQ_J_FULL);
        if (out_add(f, &cap, L->e[j].qual, L->e[j].name, L->e[j].phys, outer | L->e[j].outer_key) < 0)
            return -1;
    }
    for (int i = 0; i < R->n; i++) {
        int using_key = 0;
        for (int k = 0; k < nk; k++)
            using_key |= strcmp(rk[k], R->e[i].phys) == 0 && strcmp(lk[k], rk[k]) == 0;
        const char *phys = using_key ? R->e[i].phys
                         : dag_arena_printf(&q->c->arena, "%s%s", prefix, R->e[i].phys);
        int outer = R->e[i].outer_key ||
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
                sb_str(&s, "AND");
            sb_put(&s, "(", 1);
            if (rewrite_into(&r, st->conj[k].a, st->conj[k].b, &s) < 0) {
                free(s.s);
                return -1;
            }
            sb_put(&s, ")", 1);
        }
        text = dag_arena_strdup(&q->c->arena, s.s ? s.s : "true");
        free(s.s);
        if (!text)
            return -1;
    } else if (st->from) {
        /* an inner join's conditions that are no keys */
        sq_span cj[64];
        int ncj = conjuncts(q, st->span, cj, 64), eq;
        sbuf s = {0};
        for (int k = 0; k < ncj; k++) {
            if (key_conjunct(q, cj[k], &eq))
                continue;
            if (s.n)
                sb_str(&s, "AND");
            sb_put(&s, "(", 1);
            if (rewrite_into(&r, cj[k].a, cj[k].b, &s) < 0) {
                free(s.s);
                return -1;
            }
            sb_put(&s, ")", 1);
        }
        text = dag_arena_strdup(&q->c->arena, s.s ? s.s : "true");
        free(s.s);
        if (!text)
            return -1;
    } else if (rewrite(&r, st->span.a, st->span.b, &text) < 0) {
        return -1;
    }
    ynode *b = body_new(f);
    ykey(q, b, "input", yscalar(q, f->nd->inputs[0].ref->text, f->tok), f->tok);
    ykey(q, b, "where", yscalar(q, text, st->span.a), st->span.a);
    st->out = *in;
    return 0;
}

/* Group expressions of a grouped block, rewritten over its input. */
static int group_texts(sq_q *q, sq_blk *bk, const sq_scope *in)
{
    sq_select *s = bk->s;
    if (bk->gtext)
        return 0;
    bk->gtext = zalloc(q, ((size_t)s->ngroup + 1) * sizeof *bk->gtext);
    bk->gcol = zalloc(q, ((size_t)s->ngroup + 1) * sizeof *bk->gcol);
    if (!bk->gtext || !bk->gcol)
        return -1;
    rw r = {q, in, NULL, 0, "GROUP BY", 0};
    for (int g = 0; g < s->ngroup; g++) {
        sq_span e = bk->gitem[g] >= 0 ? s->items[bk->gitem[g]].e : s->group[g];
        char *text;
        if (rewrite(&r, e.a, e.b, &text) < 0)
            return -1;
        const char *col = text;
        if (bk->gplain[g]) {
            int k = resolve(q, in, e.b - e.a == 3 ? tokname(q, e.a) : NULL,
                            tokname(q, e.b - 1), e.a);
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
    ykey(q, b, "input", yscalar(q, f->nd->inputs[0].ref->text, f->tok), f->tok);
    ynode *cols = ycoll(q, YN_MAP, bk->ng, f->tok);
    int cap = 0;
    for (int i = 0; i < in->n; i++)
        if (out_add(f, &cap, in->e[i].qual, in->e[i].name, in->e[i].phys, in->e[i].outer_key) < 0)
            return -1;
    for (int g = 0; g < bk->ng; g++) {
        if (strcmp(bk->gtext[g], colref(q, bk->gcol[g])) == 0)
            continue;
        yadd(cols, yscalar(q, bk->gcol[g], f->tok), yscalar(q, bk->gtext[g], f->tok));
        if (out_add(f, &cap, NULL, bk->gcol[g], bk->gcol[g], 0) < 0)
            return -1;
    }
    ykey(q, b, "columns", cols, f->tok);
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
                qerr(q, i, "expected a PARTITION BY column");
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
                qerr(q, i, "expected an ORDER BY column in the window");
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
            qerr(q, i, "expected PARTITION BY, ORDER BY or a frame (ROWS / RANGE) in the window");
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
    bk->itext = zalloc(q, ((size_t)s->nitems + 1) * sizeof *bk->itext);
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
            rewrite_post(q, bk, in, w->argl + 1, w->argr, "a window function's arguments", &t) < 0)
            return -1;
        for (int j = 0; j < ws.npart; j++)
            if (rewrite_post(q, bk, in, ws.part[j].a, ws.part[j].b, "PARTITION BY", &t) < 0)
                return -1;
        for (int j = 0; j < ws.nord; j++)
            if (rewrite_post(q, bk, in, ws.ord[j].a, ws.ord[j].b, "the window's ORDER BY", &t) < 0)
                return -1;
    }
    for (int i = 0; i < s->nitems; i++) {
        if (s->items[i].star) {
            qerr(q, s->items[i].e.a, "SELECT * with GROUP BY or aggregates: list the grouped "
                 "columns and the aggregates");
            return -1;
        }
        char *t;
        if (rewrite_post(q, bk, in, s->items[i].e.a, s->items[i].e.b, "the select list", &t) < 0)
            return -1;
        bk->itext[i] = t;
    }
    if (s->having.b > s->having.a) {
        char *t;
        if (rewrite_post(q, bk, in, s->having.a, s->having.b, "HAVING", &t) < 0)
            return -1;
        bk->having = t;
    }
    ynode *b = body_new(f);
    ykey(q, b, "input", yscalar(q, f->nd->inputs[0].ref->text, f->tok), f->tok);
    int cap = 0;
    if (bk->ng) {
        ynode *gb = ycoll(q, YN_SEQ, bk->ng, f->tok);
        for (int g = 0; g < bk->ng; g++) {
            yadd(gb, yscalar(q, bk->gcol[g], f->tok), NULL);
            if (out_add(f, &cap, NULL, bk->gcol[g], bk->gcol[g], 0) < 0)
                return -1;
        }
        ykey(q, b, "group_by", gb, f->tok);
    }
    if (bk->na) {
        ynode *ag = ycoll(q, YN_MAP, bk->na, f->tok);
        for (int a = 0; a < bk->na; a++) {
            yadd(ag, yscalar(q, bk->acol[a], f->tok), yscalar(q, bk->atext[a], f->tok));
            if (out_add(f, &cap, NULL, bk->acol[a], bk->acol[a], 0) < 0)
                return -1;
        }
        ykey(q, b, "aggregates", ag, f->tok);
    }
    if (bk->having)
        ykey(q, b, "having", yscalar(q, bk->having, s->having.a), s->having.a);
    return 0;
}

static int fill_select(fill *f, const sq_scope *in)
{
    sq_q *q = f->q;
    sq_step *st = f->st;
    sq_blk *bk = st->blk;
    ynode *b = body_new(f);
    ykey(q, b, "input", yscalar(q, f->nd->inputs[0].ref->text, f->tok), f->tok);
    ynode *cols = ycoll(q, YN_MAP, in->n + (bk ? bk->s->nitems : 0), f->tok);
    int cap = 0, nout = 0;
    const char **forced = st->names;
    int nitems = bk ? bk->s->nitems : 1;
    for (int i = 0; forced && i < nitems; i++)
        if (!forced[i] || (bk && bk->s->items[i].star))
            forced = NULL;
    for (int i = 0; i < nitems; i++) {
        const sq_item *it = bk ? &bk->s->items[i] : NULL;
        if (!it || it->star) {
            const char *qual = it && it->star_qual >= 0 ? tokname(q, it->star_qual) : NULL;
            int any = 0;
            for (int k = 0; k < in->n; k++) {
                if (qual && (!in->e[k].qual || strcmp(in->e[k].qual, qual) != 0))
                    continue;
                any = 1;
                if (in->e[k].outer_key && qual)
                    continue; /* the merged key shows once, from the side that keeps it */
                for (int j = 0; j < st->out.n; j++)
                    if (strcmp(st->out.e[j].name, in->e[k].name) == 0) {
                        qerr(q, it ? it->e.a : f->tok, "SELECT * gives two columns named '%s': "
                             "list the columns and give one an alias", in->e[k].name);
                        return -1;
                    }
                yadd(cols, yscalar(q, in->e[k].name, f->tok),
                     yscalar(q, colref(q, in->e[k].phys), f->tok));
                if (out_add(f, &cap, in->e[k].qual, in->e[k].name, in->e[k].name, 0) < 0)
                    return -1;
                nout++;
            }
            if (qual && !any) {
                resolve(q, in, qual, "*", it->star_qual);
                return -1;
            }
            continue;
        }
        char *text;
        if (bk->agg) {
            text = (char *)bk->itext[i];
        } else {
            rw r = {q, in, NULL, 0, "the select list without GROUP BY", 1};
            if (rewrite(&r, it->e.a, it->e.b, &text) < 0)
                return -1;
        }
        const char *name = forced ? forced[i] : bk->names[i];
        for (int j = 0; j < st->out.n; j++)
            if (strcmp(st->out.e[j].name, name) == 0) {
                qerr(q, it->alias >= 0 ? it->alias : it->e.a, "two output columns are named "
                     "'%s': give one an alias (expr AS name)", name);
                return -1;
            }
        const char *qual = NULL;
        if (is_ref(q, it->e.a, it->e.b) && !forced && it->alias < 0)
            qual = it->e.b - it->e.a == 3 ? tokname(q, it->e.a) : NULL;
        yadd(cols, yscalar(q, name, it->e.a), yscalar(q, text, it->e.a));
        if (out_add(f, &cap, qual, name, name, 0) < 0)
            return -1;
        nout++;
    }
    ykey(q, b, "columns", cols, f->tok);
    return 0;
}

/* The output column an ORDER BY item names: a position, an output name,
 * or the text of a select item. */
static int order_col(fill *f, const sq_scope *in, const sq_order *o)
{
    sq_q *q = f->q;
    sq_blk *bk = f->st->blk;
    sq_span e = o->e;
    if (e.b == e.a + 1 && q->tk.t[e.a].kind == MR_TOK_NUM) {
        long p = strtol(q->tk.text + q->tk.t[e.a].off, NULL, 10);
        if (p < 1 || p > in->n) {
            qerr(q, e.a, "ORDER BY position %ld is not in the select list (1 to %d)", p, in->n);
            return -1;
        }
        return (int)p - 1;
    }
    if (is_ref(q, e.a, e.b)) {
        const char *qual = e.b - e.a == 3 ? tokname(q, e.a) : NULL;
        const char *name = tokname(q, e.b - 1);
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
    const char **names = zalloc(q, ((size_t)in->n + 1) * sizeof *names);
    for (int k = 0; names && k < in->n; k++)
        names[k] = in->e[k].name;
    qerr(q, e.a, "ORDER BY sorts on the output columns: this is none of them; add it to the "
         "select list (an alias works) or name an output column%s",
         names && is_ref(q, e.a, e.b) ? dag_did_you_mean(q->c, tokname(q, e.b - 1), names,
                                                         (size_t)in->n) : "");
    return -1;
}

static int fill_sort(fill *f, const sq_scope *in)
{
    sq_q *q = f->q;
    sq_query *qy = f->st->qry;
    ynode *b = body_new(f);
    ykey(q, b, "input", yscalar(q, f->nd->inputs[0].ref->text, f->tok), f->tok);
    ynode *by = ycoll(q, YN_SEQ, qy->norder, f->tok);
    for (int i = 0; i < qy->norder; i++) {
        const sq_order *o = &qy->order[i];
        int k = order_col(f, in, o);
        if (k < 0)
            return -1;
        const char *key = dag_arena_printf(&q->c->arena, "%s%s%s", colref(q, in->e[k].phys),
                                           o->desc ? " desc" : "",
                                           o->nulls == 1 ? " nulls first"
                                           : o->nulls == 2 ? " nulls last" : "");
        yadd(by, yscalar(q, key, o->e.a), NULL);
    }
    ykey(q, b, "by", by, f->tok);
    f->st->out = *in;
    return 0;
}

static int fill_union(fill *f, mr_schema *const *ins)
{
    sq_q *q = f->q;
    dag_node *nd = f->nd;
    ynode *b = body_new(f);
    ynode *list = ycoll(q, YN_SEQ, nd->ninputs, f->tok);
    for (int k = 0; k < nd->ninputs; k++) {
        yadd(list, yscalar(q, nd->inputs[k].ref->text, f->tok), NULL);
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
    ykey(q, b, "inputs", list, f->tok);
    ykey(q, b, "distinct", yscalar(q, f->st->union_all ? "false" : "true", f->tok), f->tok);
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
    const char **lk = zalloc(q, (size_t)n * sizeof *lk), **rk = zalloc(q, (size_t)n * sizeof *rk);
    if (!lk || !rk)
        return -1;
    if (st->in_ref.b > st->in_ref.a) {
        sq_span e = st->in_ref;
        int k = resolve(q, L, e.b - e.a == 3 ? tokname(q, e.a) : NULL, tokname(q, e.b - 1), e.a);
        if (k < 0)
            return -1;
        if (R->n != 1) {
            qerr(q, e.b + 2, "the subquery of IN gives %d columns: select exactly one", R->n);
            return -1;
        }
        lk[0] = L->e[k].phys;
        rk[0] = R->e[0].phys;
    } else {
        for (int c = 0; c < st->ncorr; c++) {
            sq_span in = st->corr[2 * c], out = st->corr[2 * c + 1];
            int ri = resolve(q, R, in.b - in.a == 3 ? tokname(q, in.a) : NULL,
                             tokname(q, in.b - 1), in.a);
            int li = ri < 0 ? -1 : resolve(q, L, tokname(q, out.a), tokname(q, out.b - 1), out.a);
            if (ri < 0 || li < 0)
                return -1;
            lk[c] = L->e[li].phys;
            rk[c] = R->e[ri].phys;
        }
    }
    ynode *b = body_new(f);
    ykey(q, b, "left", yscalar(q, f->nd->inputs[0].ref->text, f->tok), f->tok);
    ykey(q, b, "right", yscalar(q, f->nd->inputs[1].ref->text, f->tok), f->tok);
    ynode *on = ycoll(q, YN_SEQ, n, st->span.a);
    for (int k = 0; on && k < n; k++) {
        if (strcmp(lk[k], rk[k]) == 0) {
            yadd(on, yscalar(q, lk[k], st->span.a), NULL);
            continue;
        }
        ynode *m = ycoll(q, YN_MAP, 2, st->span.a);
        ykey(q, m, "left", yscalar(q, lk[k], st->span.a), st->span.a);
        ykey(q, m, "right", yscalar(q, rk[k], st->span.a), st->span.a);
        yadd(on, m, NULL);
    }
    ykey(q, b, "on", on, st->span.a);
    ykey(q, b, "how", yscalar(q, st->anti ? "anti" : "semi", f->tok), f->tok);
    st->out = *L;
    return 0;
}

static int fill_set(fill *f, const sq_scope *in)
{
    sq_q *q = f->q;
    sq_step *st = f->st;
    ynode *b = body_new(f);
    ykey(q, b, "input", yscalar(q, f->nd->inputs[0].ref->text, f->tok), f->tok);
    int cap = 0;
    if (st->kind == ST_MARK) {
        ynode *cols = ycoll(q, YN_MAP, 1, f->tok);
        yadd(cols, yscalar(q, "_side", f->tok), yscalar(q, st->mark == 1 ? "1" : "2", f->tok));
        ykey(q, b, "columns", cols, f->tok);
        for (int k = 0; k < in->n; k++)
            if (out_add(f, &cap, NULL, in->e[k].name, in->e[k].phys, 0) < 0)
                return -1;
        return out_add(f, &cap, NULL, "_side", "_side", 0);
    }
    if (st->kind == ST_SETAGG) {
        ynode *gb = ycoll(q, YN_SEQ, in->n, f->tok);
        for (int k = 0; k < in->n; k++) {
            if (strcmp(in->e[k].phys, "_side") == 0)
                continue;
            yadd(gb, yscalar(q, in->e[k].phys, f->tok), NULL);
            if (out_add(f, &cap, NULL, in->e[k].name, in->e[k].phys, 0) < 0)
                return -1;
        }
        ynode *ag = ycoll(q, YN_MAP, 2, f->tok);
        yadd(ag, yscalar(q, "_lo", f->tok), yscalar(q, "min(_side)", f->tok));
        yadd(ag, yscalar(q, "_hi", f->tok), yscalar(q, "max(_side)", f->tok));
        ykey(q, b, "group_by", gb, f->tok);
        ykey(q, b, "aggregates", ag, f->tok);
        ykey(q, b, "having", yscalar(q, st->mark == SQ_SET_INTERSECT ? "_lo = 1 AND _hi = 2"
                                                                     : "_hi = 1", f->tok), f->tok);
        if (out_add(f, &cap, NULL, "_lo", "_lo", 0) < 0)
            return -1;
        return out_add(f, &cap, NULL, "_hi", "_hi", 0);
    }
    ynode *cols = ycoll(q, YN_MAP, in->n, f->tok);
    for (int k = 0; k < in->n; k++) {
        if (strcmp(in->e[k].phys, "_lo") == 0 || strcmp(in->e[k].phys, "_hi") == 0)
            continue;
        yadd(cols, yscalar(q, in->e[k].phys, f->tok), yscalar(q, colref(q, in->e[k].phys), f->tok));
        if (out_add(f, &cap, NULL, in->e[k].name, in->e[k].phys, 0) < 0)
            return -1;
    }
    ykey(q, b, "columns", cols, f->tok);
    return 0;
}

/* A window's PARTITION BY or ORDER BY item: the column it names. */
static const char *win_col(fill *f, const sq_scope *in, sq_span e, const char *what)
{
    sq_q *q = f->q;
    sq_blk *bk = f->st->blk;
    char *text;
    if (bk->agg) {
        if (rewrite_post(q, bk, &bk->pre, e.a, e.b, what, &text) < 0)
            return NULL;
    } else {
        rw r = {q, in, NULL, 0, what, 0};
        if (rewrite(&r, e.a, e.b, &text) < 0)
            return NULL;
    }
    for (int k = 0; k < in->n; k++)
        if (strcmp(colref(q, in->e[k].phys), text) == 0)
            return in->e[k].phys;
    qerr(q, e.a, "%s takes columns: compute this expression in a WITH query (or a subquery "
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
    ykey(q, b, "input", yscalar(q, f->nd->inputs[0].ref->text, f->tok), f->tok);
    if (ws.npart) {
        ynode *pb = ycoll(q, YN_SEQ, ws.npart, f->tok);
        for (int k = 0; k < ws.npart; k++) {
            const char *c = win_col(f, in, ws.part[k], "PARTITION BY");
            if (!c)
                return -1;
            yadd(pb, yscalar(q, c, ws.part[k].a), NULL);
        }
        ykey(q, b, "partition_by", pb, f->tok);
    }
    if (ws.nord) {
        ynode *ob = ycoll(q, YN_SEQ, ws.nord, f->tok);
        for (int k = 0; k < ws.nord; k++) {
            const char *c = win_col(f, in, ws.ord[k], "the window's ORDER BY");
            if (!c)
                return -1;
            yadd(ob, yscalar(q, dag_arena_printf(&q->c->arena, "%s%s%s", colref(q, c),
                                                  ws.desc[k] ? " desc" : "",
                                                  ws.nulls[k] == 1 ? " nulls first"
                                                  : ws.nulls[k] == 2 ? " nulls last" : ""),
                             ws.ord[k].a), NULL);
        }
        ykey(q, b, "order_by", ob, f->tok);
    }
    ynode *cols = ycoll(q, YN_MAP, q->nwins, f->tok);
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
        sb_str(&sb, tokname(q, w->fn));
        sb_put(&sb, "(", 1);
        if (w->argr > w->argl + 1) {
            char *args;
            if (bk->agg) {
                if (rewrite_post(q, bk, &bk->pre, w->argl + 1, w->argr,
                                 "a window function's arguments", &args) < 0) {
                    free(sb.s);
                    return -1;
                }
            } else {
                rw r = {q, in, NULL, 0, "a window function's arguments", 0};
                if (rewrite(&r, w->argl + 1, w->argr, &args) < 0) {
                    free(sb.s);
                    return -1;
                }
            }
            sb_str(&sb, args);
        }
        sb_put(&sb, ")", 1);
        for (int t = ws.frame; ws.frame >= 0 && t < w0->close; t++)
            sb_put(&sb, q->tk.text + q->tk.t[t].off, (size_t)q->tk.t[t].len);
        char *p = sb.s, *o = sb.s;
        for (; p && *p; p++) /* "rank ( )" reads as "rank()" */
            if (!(*p == ' ' && (p[1] == '(' || p[1] == ')' || (p > sb.s && p[-1] == '('))))
                *o++ = *p;
        if (o)
            *o = '\0';
        yadd(cols, yscalar(q, w->col, w->fn), yscalar(q, dag_arena_strdup(&q->c->arena,
                                                                          sb.s ? sb.s : ""), w->fn));
        free(sb.s);
        if (out_add(f, &cap, NULL, w->col, w->col, 0) < 0)
            return -1;
    }
    ykey(q, b, "columns", cols, f->tok);
    return 0;
}

static int fill_rename(fill *f, const sq_scope *in)
{
    sq_q *q = f->q;
    sq_step *st = f->st;
    ynode *b = body_new(f);
    ykey(q, b, "input", yscalar(q, f->nd->inputs[0].ref->text, f->tok), f->tok);
    ynode *cols = ycoll(q, YN_MAP, in->n, f->tok);
    int cap = 0;
    for (int k = 0; k < in->n; k++) {
        const char *phys = in->e[k].phys;
        for (int r = 0; r < st->nrename; r++)
            if (strcmp(in->e[k].name, st->rename[r]) == 0 && in->e[k].qual)
                phys = dag_arena_printf(&q->c->arena, "%s.%s", in->e[k].qual, in->e[k].name);
        yadd(cols, yscalar(q, phys, f->tok), yscalar(q, colref(q, in->e[k].phys), f->tok));
        if (out_add(f, &cap, in->e[k].qual, in->e[k].name, phys, in->e[k].outer_key) < 0)
            return -1;
    }
    ykey(q, b, "columns", cols, f->tok);
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
        if (input_scope(q, nd, k, ins[k], &in[k]) < 0)
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
    case ST_MARK:
    case ST_SETAGG:
    case ST_SETOUT: rc = fill_set(&f, &in[0]); break;
    case ST_SORT: rc = fill_sort(&f, &in[0]); break;
    case ST_UNION: rc = fill_union(&f, ins); break;
    case ST_LIMIT:
    case ST_DISTINCT:
    default:
        body_new(&f);
        ykey(q, f.body, "input", yscalar(q, nd->inputs[0].ref->text, 0), 0);
        if (st->kind == ST_LIMIT)
            ykey(q, f.body, "n", yscalar(q, dag_arena_printf(&c->arena, "%lld",
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
