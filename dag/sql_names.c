/* sql_names.c - the `sql` op's names: scopes, resolution with SQL's rules
 * and expressions rewritten to the columns a step reads (sql.h).
 *
 * A scope lists what a step can name: (qualifier, SQL name, the input's
 * column).  A reference resolves to exactly one entry (or is unknown, with
 * a suggestion, or ambiguous); an expression's tokens are copied with every
 * reference replaced by its column, and, in a grouped block, aggregate
 * calls pulled out into the aggregate node (its columns _a1, _a2 ...) and
 * bare columns checked to be grouped.  Errors point at the token in the
 * query, within the YAML file.  Also here: the synthetic YAML (ynode) each
 * step's keys are written in, so the ops validate them as any node.
 */
#include "dag/sql.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- small builders ---------------------------------------------------- */

void *sq_zalloc(sq_q *q, size_t n)
{
    void *p = dag_arena_alloc(&q->c->arena, n ? n : 1);
    if (!p)
        q->c->oom = 1;
    return p;
}

void sq_qerr(sq_q *q, int tok, const char *fmt, ...)
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
ynode *sq_yscalar(sq_q *q, const char *text, int tok)
{
    ynode *n = sq_zalloc(q, sizeof *n);
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

ynode *sq_ycoll(sq_q *q, ynode_kind kind, int cap, int tok)
{
    ynode *n = sq_yscalar(q, "", tok);
    if (!n)
        return NULL;
    n->kind = kind;
    n->items = sq_zalloc(q, (size_t)(cap ? cap : 1) * (kind == YN_MAP ? 2 : 1) * sizeof *n->items);
    return n->items ? n : NULL;
}

void sq_yadd(ynode *coll, ynode *a, ynode *b)
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

void sq_ykey(sq_q *q, ynode *map, const char *key, ynode *v, int tok)
{
    if (v)
        sq_yadd(map, sq_yscalar(q, key, tok), v);
}

/* A column name as an expression: bare when it reads back the same. */
const char *sq_colref(sq_q *q, const char *name)
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

const char *sq_tokname(sq_q *q, int i)
{
    return sq_name(&q->c->arena, &q->tk, i);
}

int sq_is_name_tok(sq_q *q, int i)
{
    return q->tk.t[i].kind == MR_TOK_IDENT || q->tk.t[i].kind == MR_TOK_QIDENT;
}

/* Resolves [qual.]name in sc: the entry index, or -1 after reporting at tok. */
int sq_resolve(sq_q *q, const sq_scope *sc, const char *qual, const char *name, int tok)
{
    int hit = -1, nhit = 0, qual_seen = 0;
    for (int i = 0; i < sc->n; i++) {
        if (qual && (!sc->e[i].qual || strcmp(sc->e[i].qual, qual) != 0))
            continue;
        qual_seen = 1;
        if (sc->e[i].outer_key != 2 && strcmp(sc->e[i].name, name) == 0) {
            if (hit < 0)
                hit = i;
            nhit++;
        }
    }
    if (nhit > 1) {
        sq_qerr(q, tok, "column reference '%s' is ambiguous: it is in more than one input; "
             "qualify it (alias.%s)", name, name);
        return -1;
    }
    if (hit >= 0 && sc->e[hit].outer_key) {
        sq_qerr(q, tok, "'%s%s%s' is a join key merged with the other side's key of the same name "
             "by an outer join, so it is not NULL where this side has no row: refer to the "
             "key of the side that keeps every row, or test another column of this side",
             qual ? qual : "", qual ? "." : "", name);
        return -1;
    }
    if (hit >= 0)
        return hit;
    if (qual && !qual_seen) {
        const char **qs = sq_zalloc(q, ((size_t)sc->n + 1) * sizeof *qs);
        int nq = 0;
        for (int i = 0; qs && i < sc->n; i++)
            if (sc->e[i].qual)
                qs[nq++] = sc->e[i].qual;
        sq_qerr(q, tok, "unknown table or alias '%s'%s", qual,
             qs ? dag_did_you_mean(q->c, qual, qs, (size_t)nq) : "");
        return -1;
    }
    const char **cands = sq_zalloc(q, ((size_t)sc->n + 1) * sizeof *cands);
    int nc = 0;
    for (int i = 0; cands && i < sc->n; i++)
        if (!qual || (sc->e[i].qual && strcmp(sc->e[i].qual, qual) == 0))
            cands[nc++] = sc->e[i].name;
    sq_qerr(q, tok, "unknown column '%s%s%s'%s", qual ? qual : "", qual ? "." : "", name,
         cands ? dag_did_you_mean(q->c, name, cands, (size_t)nc) : "");
    return -1;
}

int sq_scope_add(sq_q *q, sq_scope *sc, int *cap, const char *qual, const char *name,
                     const char *phys, int outer_key)
{
    if (sc->n == *cap) {
        int ncap = *cap ? *cap * 2 : 16;
        sq_ent *e = sq_zalloc(q, (size_t)ncap * sizeof *e);
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
int sq_input_scope(sq_q *q, const dag_node *nd, int k, const mr_schema *in, sq_scope *out)
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
            if (sq_scope_add(q, out, &cap, qual ? qual : e.qual, e.name, e.phys, e.outer_key) < 0)
                return -1;
        }
        return 0;
    }
    for (int i = 0; i < in->nfields; i++)
        if (sq_scope_add(q, out, &cap, qual, in->fields[i].name, in->fields[i].name, 0) < 0)
            return -1;
    return 0;
}

/* ---- expressions: a token range into the text the op reads ------------ */

/* The token matching the '(' at i. */
int sq_close_paren(sq_q *q, int i, int b)
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

int sq_is_agg(sq_q *q, int i)
{
    if (q->tk.t[i].kind != MR_TOK_IDENT || !sq_is_op(&q->tk, i + 1, "("))
        return 0;
    for (int k = 0; agg_names[k]; k++)
        if (sq_is_kw(&q->tk, i, agg_names[k]))
            return !sq_is_kw(&q->tk, sq_close_paren(q, i + 1, q->tk.n) + 1, "over");
    return 0;
}

static const char *const word_kw[] = {
    "and", "or", "not", "is", "null", "true", "false", "case", "when", "then", "else", "end",
    "in", "between", "like", "ilike", "cast", "as", "from", "distinct", "try_cast", "extract",
    "interval", "similar", "escape", NULL,
};

/* Whether the word at token i is no column: a keyword, a type name after
 * '::' or AS, a literal's type (DATE '...'), a field of extract(). */
int sq_not_a_column(sq_q *q, int i, int a)
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


void sq_sb_put(sbuf *s, const char *p, size_t n)
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

void sq_sb_str(sbuf *s, const char *p)
{
    sq_sb_put(s, p, strlen(p));
}

static const char *agg_col(rw *r, const char *text)
{
    sq_blk *bk = r->blk;
    for (int i = 0; i < bk->na; i++)
        if (strcmp(bk->atext[i], text) == 0)
            return bk->acol[i];
    if (bk->na == bk->acap) {
        int nc = bk->acap ? bk->acap * 2 : 8;
        const char **t = sq_zalloc(r->q, (size_t)nc * sizeof *t), **cl = sq_zalloc(r->q, (size_t)nc * sizeof *cl);
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
    bk->acol[bk->na] = bk->alias ? bk->alias
                                 : dag_arena_printf(&r->q->c->arena, "_a%d", bk->na + 1);
    bk->alias = NULL;
    return bk->acol[bk->na++];
}

int sq_rewrite_into(rw *r, int a, int b, sbuf *s)
{
    sq_q *q = r->q;
    for (int i = a; i < b; i++) {
        const mr_tok *t = &q->tk.t[i];
        const char *txt = q->tk.text + t->off;
        if (sq_sub_at(&q->tk, i)) {
            sq_qerr(q, i + 1, "a subquery is taken only as a WHERE condition joined by AND: "
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
                sq_qerr(q, i, "window functions are not allowed in %s: they belong in the "
                     "select list (filter on them in an outer query)", r->where);
                return -1;
            }
            sq_sb_str(s, w->col);
            i = w->close;
            continue;
        }
        if (sq_is_kw(&q->tk, i, "over") && sq_is_op(&q->tk, i + 1, "(")) {
            sq_qerr(q, i, "window functions are not allowed in %s: they belong in the select "
                    "list (filter on them in an outer query)", r->where);
            return -1;
        }
        if (sq_is_agg(q, i)) {
            if (!r->blk) {
                sq_qerr(q, i, "aggregate functions are not allowed in %s%s", r->where,
                     strcmp(r->where, "WHERE") == 0 ? ": use HAVING for conditions on "
                     "aggregates" : "");
                return -1;
            }
            int e = sq_close_paren(q, i + 1, b);
            rw inner = *r;
            inner.blk = NULL;
            inner.post = 0;
            inner.where = "an aggregate's argument";
            sbuf as = {0};
            const char *fname = sq_tokname(q, i);
            sq_sb_str(&as, fname);
            sq_sb_put(&as, "(", 1);
            int k = i + 2;
            if (sq_is_kw(&q->tk, k, "distinct")) {
                sq_sb_str(&as, "distinct");
                k++;
            }
            if (k < e && sq_rewrite_into(&inner, k, e, &as) < 0) {
                free(as.s);
                return -1;
            }
            sq_sb_put(&as, ")", 1);
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
            sq_sb_str(s, col);
            i = e;
            continue;
        }
        if (sq_is_name_tok(q, i) && !(t->kind == MR_TOK_IDENT && sq_is_op(&q->tk, i + 1, "(")) &&
            !sq_not_a_column(q, i, a)) {
            const char *qual = NULL, *name;
            int at = i;
            if (sq_is_op(&q->tk, i + 1, ".") && sq_is_name_tok(q, i + 2)) {
                qual = sq_tokname(q, i);
                name = sq_tokname(q, i + 2);
                i += 2;
            } else {
                name = sq_tokname(q, i);
            }
            int k = sq_resolve(q, r->sc, qual, name, at);
            if (k < 0)
                return -1;
            const char *phys = r->sc->e[k].phys;
            if (r->post) {
                int grouped = 0;
                for (int g = 0; g < r->blk->ng && !grouped; g++)
                    grouped = strcmp(r->blk->gcol[g], phys) == 0 &&
                              strcmp(r->blk->gtext[g], sq_colref(q, phys)) == 0;
                if (!grouped) {
                    sq_qerr(q, at, "column '%s%s%s' must appear in GROUP BY or be used in an "
                         "aggregate function", qual ? qual : "", qual ? "." : "", name);
                    return -1;
                }
            }
            sq_sb_str(s, sq_colref(q, phys));
            continue;
        }
        sq_sb_put(s, txt, (size_t)t->len);
    }
    if (s->oom) {
        q->c->oom = 1;
        return -1;
    }
    return 0;
}

/* The text of tokens [a, b) with names resolved; arena string in *out. */
int sq_rewrite(rw *r, int a, int b, char **out)
{
    sbuf s = {0};
    int rc = sq_rewrite_into(r, a, b, &s);
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
int sq_rewrite_post(sq_q *q, sq_blk *bk, const sq_scope *pre, int a, int b, const char *where,
                        char **out)
{
    rw plain = {q, pre, NULL, 0, where, 0};
    sbuf s = {0};
    int bad = 0;
    for (int i = a; i < b && !bad; i++)
        bad = sq_is_agg(q, i);
    if (!bad) {
        /* whole-expression match with a group expression (no error if not) */
        q->quiet++;
        int rc = sq_rewrite_into(&plain, a, b, &s);
        q->quiet--;
        for (int g = 0; rc == 0 && g < bk->ng; g++)
            if (strcmp(bk->gtext[g], s.s ? s.s : "") == 0) {
                *out = (char *)sq_colref(q, bk->gcol[g]);
                free(s.s);
                return 0;
            }
        free(s.s);
    }
    rw r = {q, pre, bk, 1, where, strcmp(where, "the select list") == 0};
    return sq_rewrite(&r, a, b, out);
}

int sq_is_ref(sq_q *q, int a, int b)
{
    return (b == a + 1 && sq_is_name_tok(q, a) && !sq_not_a_column(q, a, a)) ||
           (b == a + 3 && sq_is_name_tok(q, a) && sq_is_op(&q->tk, a + 1, ".") &&
            sq_is_name_tok(q, a + 2));
}

/* Splits [a, b) at its top-level ANDs into at most cap conjuncts (the
 * last one keeps whatever ANDs remain, so nothing is lost). */
int sq_conjuncts(sq_q *q, sq_span e, sq_span *out, int cap)
{
    int n = 0, depth = 0, st = e.a, between = 0;
    for (int i = e.a; i <= e.b && n < cap; i++) {
        if (i < e.b && depth == 0 && sq_is_kw(&q->tk, i, "between"))
            between = 1;
        if (i == e.b || (depth == 0 && sq_is_kw(&q->tk, i, "and") && !between && n < cap - 1)) {
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
int sq_key_conjunct(sq_q *q, sq_span c, int *eq)
{
    for (int i = c.a + 1; i < c.b; i++)
        if (sq_is_op(&q->tk, i, "=")) {
            *eq = i;
            return sq_is_ref(q, c.a, i) && sq_is_ref(q, i + 1, c.b);
        }
    return 0;
}

