/* sql_parse.c - the `sql` op's statement grammar: query text to a tree of
 * SELECT blocks (sql.h).
 *
 * Tokens come from the expression language's lexer (mr_expr_lex), so a
 * string, a quoted name or a number means the same in a query and in any
 * other DAG expression.  The statement layer reads the clauses around the
 * expressions and keeps each expression as a token range: where it ends is
 * found by bracket depth and by the clause keywords that cannot occur
 * inside an expression, and the planner later hands each range, its names
 * resolved, to the expression parser proper.
 *
 * Grammar (keywords case-insensitive):
 *   query  := [WITH name AS ( query ) {, name AS ( query )}]
 *             select {(UNION [ALL] | INTERSECT | EXCEPT) select}
 *             [ORDER BY expr [ASC|DESC] [NULLS FIRST|LAST] {, ...}] [LIMIT n] [;]
 *   select := SELECT [DISTINCT] item {, item} FROM from {join}
 *             [WHERE expr] [GROUP BY expr {, expr}] [HAVING expr]
 *   item   := * | name.* | expr [[AS] alias]
 *   from   := (name | ( query )) [[AS] alias]
 *   join   := [INNER | LEFT [OUTER] | RIGHT [OUTER] | FULL [OUTER]] JOIN from ON expr
 *           | CROSS JOIN from   (a one-row from: see sql_plan.c)
 * What millrace does not run is refused here with what to write instead.
 */
#include "dag/sql.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct sp {
    dag_arena *a;
    sq_tokens *tk;
    int i;          /* current token */
    int depth;
    int erroff;
    char *msg;
    size_t cap;
} sp;

#define MAX_NEST 64

int sq_is_kw(const sq_tokens *tk, int i, const char *kw)
{
    const mr_tok *t = &tk->t[i];
    return t->kind == MR_TOK_IDENT && (size_t)t->len == strlen(kw) &&
           strncasecmp(tk->text + t->off, kw, (size_t)t->len) == 0;
}

int sq_is_op(const sq_tokens *tk, int i, const char *op)
{
    const mr_tok *t = &tk->t[i];
    return t->kind == MR_TOK_OP && (size_t)t->len == strlen(op) &&
           memcmp(tk->text + t->off, op, (size_t)t->len) == 0;
}

const char *sq_name(dag_arena *a, const sq_tokens *tk, int i)
{
    const mr_tok *t = &tk->t[i];
    const char *s = tk->text + t->off;
    char *out = dag_arena_alloc(a, (size_t)t->len + 1);
    if (!out)
        return "";
    size_t n = 0;
    if (t->kind == MR_TOK_QIDENT) {
        for (int k = 1; k + 1 < t->len; k++) {
            out[n++] = s[k];
            if (s[k] == '"')
                k++;
        }
    } else {
        for (int k = 0; k < t->len; k++)
            out[n++] = (char)tolower((unsigned char)s[k]);
    }
    out[n] = '\0';
    return out;
}

static int fail(sp *p, int tok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(sp *p, int tok, const char *fmt, ...)
{
    p->erroff = p->tk->t[tok].off;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->msg, p->cap, fmt, ap);
    va_end(ap);
    return -1;
}

static int kw(sp *p, const char *k)
{
    return sq_is_kw(p->tk, p->i, k);
}

static int op(sp *p, const char *o)
{
    return sq_is_op(p->tk, p->i, o);
}

static int eof(sp *p)
{
    return p->tk->t[p->i].kind == MR_TOK_EOF;
}

/* "'word'" of the current token, for messages. */
static const char *tokstr(sp *p, int i)
{
    const mr_tok *t = &p->tk->t[i];
    if (t->kind == MR_TOK_EOF)
        return "the end of the query";
    int n = t->len > 40 ? 40 : t->len;
    const char *s = dag_arena_printf(p->a, "'%.*s'", n, p->tk->text + t->off);
    return s ? s : "?";
}

static int expect_kw(sp *p, const char *k, const char *where)
{
    if (!kw(p, k))
        return fail(p, p->i, "expected %s %s, found %s", k, where, tokstr(p, p->i));
    p->i++;
    return 0;
}

/* Words that end an expression at bracket depth 0: the clause keywords. */
static const char *const clause_kw[] = {
    "from", "where", "group", "having", "order", "limit", "union", "intersect", "except",
    "on", "join", "inner", "left", "right", "full", "cross", "natural", "using", "window",
    "offset", "fetch", "qualify", "lateral", NULL,
};

static int is_clause(sp *p, int i)
{
    for (int k = 0; clause_kw[k]; k++)
        if (sq_is_kw(p->tk, i, clause_kw[k]))
            return 1;
    return 0;
}

/* Words an implicit alias cannot be: they continue an expression. */
static const char *const cont_kw[] = {
    "and", "or", "not", "is", "in", "between", "like", "ilike", "when", "then", "else", "end",
    "as", "over", "filter", "within", "asc", "desc", "nulls", "escape", "similar", "collate",
    "isnull", "notnull", "at", NULL,
};

static int is_cont(sp *p, int i)
{
    for (int k = 0; cont_kw[k]; k++)
        if (sq_is_kw(p->tk, i, cont_kw[k]))
            return 1;
    return 0;
}

/* Whether token i can end an operand (so a bare word after it is an alias). */
static int ends_operand(sp *p, int i)
{
    const mr_tok *t = &p->tk->t[i];
    if (t->kind == MR_TOK_NUM || t->kind == MR_TOK_STR || t->kind == MR_TOK_QIDENT)
        return 1;
    if (t->kind == MR_TOK_OP)
        return sq_is_op(p->tk, i, ")") || sq_is_op(p->tk, i, "*");
    if (sq_is_kw(p->tk, i, "end") || sq_is_kw(p->tk, i, "null") || sq_is_kw(p->tk, i, "true") ||
        sq_is_kw(p->tk, i, "false"))
        return 1;
    return !is_cont(p, i) && !sq_is_kw(p->tk, i, "case") && !sq_is_kw(p->tk, i, "distinct");
}

static int parse_query(sp *p, sq_query **out);

static int add_sub(sp *p, int lp, int rp, sq_query *q)
{
    sq_tokens *tk = p->tk;
    if (tk->nsubs == tk->subcap) {
        int nc = tk->subcap ? tk->subcap * 2 : 4;
        sq_sub *n = dag_arena_alloc(p->a, (size_t)nc * sizeof *n);
        if (!n)
            return fail(p, lp, "out of memory");
        if (tk->nsubs)
            memcpy(n, tk->subs, (size_t)tk->nsubs * sizeof *n);
        tk->subs = n;
        tk->subcap = nc;
    }
    tk->subs[tk->nsubs++] = (sq_sub){lp, rp, q};
    return 0;
}

const sq_sub *sq_sub_at(const sq_tokens *tk, int i)
{
    for (int k = 0; k < tk->nsubs; k++)
        if (tk->subs[k].lparen == i)
            return &tk->subs[k];
    return NULL;
}

/* Scans one expression: up to a ',' ')' ';' or clause keyword at depth 0,
 * or (alias_ok) a bare word right after a complete operand. */
static int scan_expr(sp *p, sq_span *out, int alias_ok, const char *what)
{
    int start = p->i, depth = 0;
    for (;;) {
        if (eof(p) || op(p, ";"))
            break;
        if (depth == 0 && (op(p, ",") || op(p, ")") || is_clause(p, p->i) ||
                           (alias_ok && kw(p, "as"))))
            break;
        if (op(p, "(") && (sq_is_kw(p->tk, p->i + 1, "select") ||
                           sq_is_kw(p->tk, p->i + 1, "with"))) {
            /* a subquery: parsed here, planned where the planner allows one */
            int lp = p->i++;
            sq_query *sub;
            if (parse_query(p, &sub) < 0)
                return -1;
            if (!op(p, ")"))
                return fail(p, p->i, "expected ')' to close the subquery, found %s",
                            tokstr(p, p->i));
            if (add_sub(p, lp, p->i, sub) < 0)
                return -1;
            p->i++;
            continue;
        }
        if (kw(p, "over") && !sq_is_op(p->tk, p->i + 1, "("))
            return fail(p, p->i + 1, "expected '(' after OVER (named windows are not "
                        "supported: write the window after OVER)");
        if (depth == 0 && alias_ok && p->i > start && p->tk->t[p->i].kind == MR_TOK_IDENT &&
            ends_operand(p, p->i - 1) && p->tk->t[p->i - 1].kind != MR_TOK_OP &&
            !is_cont(p, p->i) && !sq_is_kw(p->tk, p->i - 1, "date") &&
            !sq_is_kw(p->tk, p->i - 1, "timestamp"))
            break;
        if (depth == 0 && alias_ok && p->i > start && p->tk->t[p->i].kind == MR_TOK_IDENT &&
            sq_is_op(p->tk, p->i - 1, ")") && !is_cont(p, p->i))
            break;
        if (op(p, "("))
            depth++;
        else if (op(p, ")"))
            depth--;
        p->i++;
    }
    if (p->i == start)
        return fail(p, p->i, "expected %s, found %s", what, tokstr(p, p->i));
    out->a = start;
    out->b = p->i;
    return 0;
}

static int parse_alias(sp *p, int *alias)
{
    *alias = -1;
    if (kw(p, "as")) {
        p->i++;
        if (p->tk->t[p->i].kind != MR_TOK_IDENT && p->tk->t[p->i].kind != MR_TOK_QIDENT)
            return fail(p, p->i, "expected a name after AS, found %s", tokstr(p, p->i));
        *alias = p->i++;
    } else if ((p->tk->t[p->i].kind == MR_TOK_IDENT && !is_clause(p, p->i) &&
                !is_cont(p, p->i)) || p->tk->t[p->i].kind == MR_TOK_QIDENT) {
        *alias = p->i++;
    }
    return 0;
}

static int parse_from_item(sp *p, sq_from *f)
{
    f->at = p->i;
    f->name = -1;
    if (op(p, "(")) {
        p->i++;
        if (!kw(p, "select") && !kw(p, "with"))
            return fail(p, p->i, "expected a subquery (SELECT ...) after '(' in FROM, found %s",
                        tokstr(p, p->i));
        if (parse_query(p, &f->sub) < 0)
            return -1;
        if (!op(p, ")"))
            return fail(p, p->i, "expected ')' to close the subquery, found %s", tokstr(p, p->i));
        p->i++;
    } else if (p->tk->t[p->i].kind == MR_TOK_IDENT || p->tk->t[p->i].kind == MR_TOK_QIDENT) {
        if (is_clause(p, p->i))
            return fail(p, p->i, "expected a node name, found %s", tokstr(p, p->i));
        f->name = p->i++;
        if (op(p, "."))
            return fail(p, p->i, "schema-qualified names are not nodes: name a node of this "
                        "DAG (read a warehouse table with a read node first)");
        if (op(p, "("))
            return fail(p, p->i, "table functions are not supported: name a node of this DAG");
    } else {
        return fail(p, p->i, "expected a node name or a subquery, found %s", tokstr(p, p->i));
    }
    if (parse_alias(p, &f->alias) < 0)
        return -1;
    if (op(p, "("))
        return fail(p, p->i, "column aliases on a FROM item are not supported: rename the "
                    "columns in the subquery's select list");
    return 0;
}

static int parse_select(sp *p, sq_select **out)
{
    sq_select *s = dag_arena_alloc(p->a, sizeof *s);
    if (!s)
        return fail(p, p->i, "out of memory");
    s->at = p->i;
    if (expect_kw(p, "select", "to start a query") < 0)
        return -1;
    if (kw(p, "distinct")) {
        s->distinct = 1;
        p->i++;
        if (kw(p, "on"))
            return fail(p, p->i, "DISTINCT ON is not supported: use a window node with "
                        "row_number() and a filter, or a distinct node over the key columns");
    } else if (kw(p, "all")) {
        p->i++;
    }
    int cap = 8;
    s->items = dag_arena_alloc(p->a, (size_t)cap * sizeof *s->items);
    for (;;) {
        if (!s->items)
            return fail(p, p->i, "out of memory");
        if (s->nitems == cap) {
            sq_item *n = dag_arena_alloc(p->a, (size_t)cap * 2 * sizeof *n);
            if (!n)
                return fail(p, p->i, "out of memory");
            memcpy(n, s->items, (size_t)cap * sizeof *n);
            s->items = n;
            cap *= 2;
        }
        sq_item *it = &s->items[s->nitems++];
        it->alias = it->star_qual = -1;
        it->e.a = p->i;
        if (op(p, "*")) {
            it->star = 1;
            p->i++;
        } else if ((p->tk->t[p->i].kind == MR_TOK_IDENT || p->tk->t[p->i].kind == MR_TOK_QIDENT)
                   && sq_is_op(p->tk, p->i + 1, ".") && sq_is_op(p->tk, p->i + 2, "*")) {
            it->star = 1;
            it->star_qual = p->i;
            p->i += 3;
        } else {
            if (scan_expr(p, &it->e, 1, "an expression in the select list") < 0 ||
                parse_alias(p, &it->alias) < 0)
                return -1;
        }
        it->e.b = it->star ? p->i : it->e.b;
        if (!op(p, ","))
            break;
        p->i++;
    }
    if (!kw(p, "from"))
        return fail(p, p->i, "expected FROM after the select list, found %s (a sql node "
                    "selects from other nodes)", tokstr(p, p->i));
    p->i++;
    cap = 4;
    s->from = dag_arena_alloc(p->a, (size_t)cap * sizeof *s->from);
    for (int first = 1;; first = 0) {
        if (!s->from)
            return fail(p, p->i, "out of memory");
        int join = SQ_J_FIRST;
        if (!first) {
            if (op(p, ","))
                return fail(p, p->i, "a comma between FROM items (a cross join) is not "
                            "supported: write JOIN ... ON with the matching columns");
            if (kw(p, "natural"))
                return fail(p, p->i, "NATURAL JOIN is not supported: write JOIN ... ON with "
                            "the matching columns");
            join = kw(p, "cross") ? SQ_J_CROSS : kw(p, "left") ? SQ_J_LEFT : kw(p, "right") ? SQ_J_RIGHT
                 : kw(p, "full") ? SQ_J_FULL : kw(p, "inner") || kw(p, "join") ? SQ_J_INNER : -1;
            if (join < 0)
                break;
            if (!kw(p, "join"))
                p->i++;
            if (join != SQ_J_INNER && join != SQ_J_CROSS && kw(p, "outer"))
                p->i++;
            if (expect_kw(p, "join", "in the FROM clause") < 0)
                return -1;
        }
        if (s->nfrom == cap) {
            sq_from *n = dag_arena_alloc(p->a, (size_t)cap * 2 * sizeof *n);
            if (!n)
                return fail(p, p->i, "out of memory");
            memcpy(n, s->from, (size_t)cap * sizeof *n);
            s->from = n;
            cap *= 2;
        }
        sq_from *f = &s->from[s->nfrom++];
        memset(f, 0, sizeof *f);
        f->join = join;
        if (parse_from_item(p, f) < 0)
            return -1;
        if (join != SQ_J_FIRST && join != SQ_J_CROSS) {
            if (kw(p, "using"))
                return fail(p, p->i, "JOIN ... USING is not supported: write ON a.x = b.x");
            if (expect_kw(p, "on", "after the joined node") < 0 ||
                scan_expr(p, &f->on, 0, "a join condition") < 0)
                return -1;
        }
    }
    if (kw(p, "where")) {
        p->i++;
        if (scan_expr(p, &s->where, 0, "a condition after WHERE") < 0)
            return -1;
    }
    if (kw(p, "group")) {
        p->i++;
        if (expect_kw(p, "by", "after GROUP") < 0)
            return -1;
        if (kw(p, "rollup") || kw(p, "cube") || kw(p, "grouping"))
            return fail(p, p->i, "ROLLUP, CUBE and GROUPING SETS are not supported: write one "
                        "query per grouping and UNION ALL them");
        int gcap = 8;
        s->group = dag_arena_alloc(p->a, (size_t)gcap * sizeof *s->group);
        for (;;) {
            if (!s->group)
                return fail(p, p->i, "out of memory");
            if (s->ngroup == gcap) {
                sq_span *n = dag_arena_alloc(p->a, (size_t)gcap * 2 * sizeof *n);
                if (!n)
                    return fail(p, p->i, "out of memory");
                memcpy(n, s->group, (size_t)gcap * sizeof *n);
                s->group = n;
                gcap *= 2;
            }
            if (scan_expr(p, &s->group[s->ngroup++], 0, "a GROUP BY expression") < 0)
                return -1;
            if (!op(p, ","))
                break;
            p->i++;
        }
    }
    if (kw(p, "having")) {
        p->i++;
        if (scan_expr(p, &s->having, 0, "a condition after HAVING") < 0)
            return -1;
    }
    if (kw(p, "window") || kw(p, "qualify"))
        return fail(p, p->i, "%s is not supported: compute windows in a window node",
                    kw(p, "window") ? "WINDOW" : "QUALIFY");
    *out = s;
    return 0;
}

static int parse_query(sp *p, sq_query **out)
{
    if (++p->depth > MAX_NEST)
        return fail(p, p->i, "query nested too deeply");
    sq_query *q = dag_arena_alloc(p->a, sizeof *q);
    if (!q)
        return fail(p, p->i, "out of memory");
    q->limit = -1;
    q->at = p->i;
    if (kw(p, "with")) {
        p->i++;
        if (kw(p, "recursive"))
            return fail(p, p->i, "WITH RECURSIVE is not supported: a DAG has no cycles");
        int cap = 4;
        q->ctes = dag_arena_alloc(p->a, (size_t)cap * sizeof *q->ctes);
        for (;;) {
            if (!q->ctes)
                return fail(p, p->i, "out of memory");
            if (q->nctes == cap) {
                sq_cte *n = dag_arena_alloc(p->a, (size_t)cap * 2 * sizeof *n);
                if (!n)
                    return fail(p, p->i, "out of memory");
                memcpy(n, q->ctes, (size_t)cap * sizeof *n);
                q->ctes = n;
                cap *= 2;
            }
            sq_cte *ct = &q->ctes[q->nctes++];
            if (p->tk->t[p->i].kind != MR_TOK_IDENT && p->tk->t[p->i].kind != MR_TOK_QIDENT)
                return fail(p, p->i, "expected a name for the WITH query, found %s",
                            tokstr(p, p->i));
            ct->name = p->i++;
            if (op(p, "("))
                return fail(p, p->i, "column lists on a WITH query are not supported: name "
                            "the columns in its select list");
            if (expect_kw(p, "as", "after the WITH query's name") < 0)
                return -1;
            if (!op(p, "("))
                return fail(p, p->i, "expected '(' before the WITH query, found %s",
                            tokstr(p, p->i));
            p->i++;
            if (parse_query(p, &ct->q) < 0)
                return -1;
            if (!op(p, ")"))
                return fail(p, p->i, "expected ')' after the WITH query, found %s",
                            tokstr(p, p->i));
            p->i++;
            if (!op(p, ","))
                break;
            p->i++;
        }
    }
    int cap = 4;
    q->arms = dag_arena_alloc(p->a, (size_t)cap * sizeof *q->arms);
    q->all = dag_arena_alloc(p->a, (size_t)cap * sizeof *q->all);
    for (;;) {
        if (!q->arms || !q->all)
            return fail(p, p->i, "out of memory");
        if (q->narms == cap) {
            sq_select **n = dag_arena_alloc(p->a, (size_t)cap * 2 * sizeof *n);
            int *na = dag_arena_alloc(p->a, (size_t)cap * 2 * sizeof *na);
            if (!n || !na)
                return fail(p, p->i, "out of memory");
            memcpy(n, q->arms, (size_t)cap * sizeof *n);
            memcpy(na, q->all, (size_t)cap * sizeof *na);
            q->arms = n;
            q->all = na;
            cap *= 2;
        }
        if (op(p, "("))
            return fail(p, p->i, "a parenthesized query here is not supported: write it as a "
                        "WITH query and SELECT * FROM it");
        if (parse_select(p, &q->arms[q->narms++]) < 0)
            return -1;
        int set = kw(p, "union") ? SQ_SET_UNION : kw(p, "intersect") ? SQ_SET_INTERSECT
                : kw(p, "except") ? SQ_SET_EXCEPT : -1;
        if (set < 0)
            break;
        if (q->narms > 1 && set != q->setop)
            return fail(p, p->i, "UNION, INTERSECT and EXCEPT mixed in one query: put one of "
                        "them in a WITH query and use its name");
        q->setop = set;
        p->i++;
        q->all[q->narms] = 0;
        if (kw(p, "all")) {
            if (set != SQ_SET_UNION)
                return fail(p, p->i, "%s ALL is not supported: write %s (distinct rows)",
                            set == SQ_SET_INTERSECT ? "INTERSECT" : "EXCEPT",
                            set == SQ_SET_INTERSECT ? "INTERSECT" : "EXCEPT");
            q->all[q->narms] = 1;
            p->i++;
        } else if (kw(p, "distinct")) {
            p->i++;
        }
    }
    if (kw(p, "order")) {
        p->i++;
        if (expect_kw(p, "by", "after ORDER") < 0)
            return -1;
        int ocap = 8;
        q->order = dag_arena_alloc(p->a, (size_t)ocap * sizeof *q->order);
        for (;;) {
            if (!q->order)
                return fail(p, p->i, "out of memory");
            if (q->norder == ocap) {
                sq_order *n = dag_arena_alloc(p->a, (size_t)ocap * 2 * sizeof *n);
                if (!n)
                    return fail(p, p->i, "out of memory");
                memcpy(n, q->order, (size_t)ocap * sizeof *n);
                q->order = n;
                ocap *= 2;
            }
            sq_order *o = &q->order[q->norder++];
            memset(o, 0, sizeof *o);
            int start = p->i, depth = 0;
            while (!eof(p) && !op(p, ";") &&
                   !(depth == 0 && (op(p, ",") || op(p, ")") || is_clause(p, p->i) ||
                                    kw(p, "asc") || kw(p, "desc") || kw(p, "nulls")))) {
                depth += op(p, "(") - op(p, ")");
                p->i++;
            }
            if (p->i == start)
                return fail(p, p->i, "expected an ORDER BY expression, found %s",
                            tokstr(p, p->i));
            o->e.a = start;
            o->e.b = p->i;
            if (kw(p, "asc") || kw(p, "desc")) {
                o->desc = kw(p, "desc");
                p->i++;
            }
            if (kw(p, "nulls")) {
                p->i++;
                if (!kw(p, "first") && !kw(p, "last"))
                    return fail(p, p->i, "expected FIRST or LAST after NULLS, found %s",
                                tokstr(p, p->i));
                o->nulls = kw(p, "first") ? 1 : 2;
                p->i++;
            }
            if (!op(p, ","))
                break;
            p->i++;
        }
    }
    if (kw(p, "limit")) {
        p->i++;
        const mr_tok *t = &p->tk->t[p->i];
        if (t->kind != MR_TOK_NUM)
            return fail(p, p->i, "expected a row count after LIMIT, found %s", tokstr(p, p->i));
        char buf[32];
        int n = t->len < 31 ? t->len : 31;
        memcpy(buf, p->tk->text + t->off, (size_t)n);
        buf[n] = '\0';
        char *end;
        q->limit = strtoll(buf, &end, 10);
        if (*end || q->limit < 0)
            return fail(p, p->i, "LIMIT takes a whole number of rows, not %s", tokstr(p, p->i));
        p->i++;
    }
    if (kw(p, "offset") || kw(p, "fetch"))
        return fail(p, p->i, "%s is not supported: number the rows with a window node "
                    "(row_number()) and filter them", kw(p, "offset") ? "OFFSET" : "FETCH");
    p->depth--;
    *out = q;
    return 0;
}

int sq_parse(dag_arena *a, const char *text, sq_tokens *tk, sq_query **out, int *erroff,
             char *msg, size_t cap)
{
    int n = 0, tcap = 64;
    memset(tk, 0, sizeof *tk);
    tk->text = text;
    tk->t = dag_arena_alloc(a, (size_t)tcap * sizeof *tk->t);
    size_t pos = 0;
    for (;;) {
        if (!tk->t) {
            *erroff = 0;
            snprintf(msg, cap, "out of memory");
            return -1;
        }
        if (n == tcap) {
            mr_tok *nt = dag_arena_alloc(a, (size_t)tcap * 2 * sizeof *nt);
            if (nt)
                memcpy(nt, tk->t, (size_t)tcap * sizeof *nt);
            tk->t = nt;
            tcap *= 2;
            continue;
        }
        mr_err err;
        mr_err_clear(&err);
        if (mr_expr_lex(text, pos, &tk->t[n], &err) < 0) {
            *erroff = err.offset;
            snprintf(msg, cap, "%s", err.msg);
            return -1;
        }
        if (tk->t[n].kind == MR_TOK_EOF)
            break;
        pos = (size_t)tk->t[n].off + (size_t)tk->t[n].len;
        n++;
    }
    tk->n = n;
    sp p = {.a = a, .tk = tk, .msg = msg, .cap = cap};
    if (parse_query(&p, out) < 0) {
        *erroff = p.erroff;
        return -1;
    }
    if (op(&p, ";"))
        p.i++;
    if (!eof(&p)) {
        fail(&p, p.i, "unexpected %s after the end of the query (one SELECT statement per "
             "sql node)", tokstr(&p, p.i));
        *erroff = p.erroff;
        return -1;
    }
    return 0;
}
