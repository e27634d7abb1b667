/* pushdown.c - filter pushdown over the typed DAG model, the optimizer's
 * first pass (optimize.c runs it before column pruning).
 *
 * Each filter's condition is split into its top-level AND terms
 * (conjuncts; an AND that belongs to a BETWEEN or sits inside CASE or
 * parentheses does not split).  Filters are visited from the writes down
 * (reverse topological order), and each conjunct is pushed into the
 * filter's input X as far as the semantics allow.  A conjunct may enter X
 * only when X has no other reader, since the rows it removes are removed
 * for every reader of X:
 *   read          attached to the read (ReadSpec.filter): the scan's
 *                 fresh batch is filtered before anything else
 *   filter        joined to its condition (that filter is visited later)
 *   select/derive/drop  rewritten through the projection when every
 *                 column it reads is passed through or renamed (a
 *                 computed column stops it), then pushed into the input
 *   join          a conjunct over left columns only goes into the left
 *                 input of an inner, left, semi or anti join; over right
 *                 columns only (the right_prefix taken off), into the right
 *                 input of an inner or right join: the preserved side of
 *                 an outer join, never the side it extends with NULLs
 *   union         into every input (columns match by name)
 *   sort, distinct into the input
 *   aggregate, window  into the input when it reads only group columns
 *                 (partition columns)
 * Where it cannot go further it is attached to the node it reached (a
 * filter right after that node: dag_node.pushed), which is never later
 * than where the DAG put it.  A filter whose every conjunct left it
 * compiles to nothing.
 *
 * Conjuncts are handled as text: a small tokenizer that knows the
 * expression language's strings, quoted names and identifiers finds the
 * columns a conjunct reads and renames them (as quoted names).  Every
 * rewritten conjunct is parsed and bound against the schema it will run
 * on before it is moved, and must still be a boolean; any doubt keeps it
 * where it was.
 */
#include "dag/dag_ops.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- tokens -------------------------------------------------------------- */

enum { T_END, T_STR, T_ID, T_QID, T_OTHER };

typedef struct ptok {
    int kind;
    size_t off, len; /* in the text */
} ptok;

static size_t skip_ws(const char *s, size_t i)
{
    while (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')
        i++;
    return i;
}

static int id_start(char c)
{
    return isalpha((unsigned char)c) || c == '_' || (unsigned char)c >= 0x80;
}

static int id_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || (unsigned char)c >= 0x80;
}

/* The token at i; T_END at the end.  -1 on an unterminated quote. */
static int next_tok(const char *s, size_t i, ptok *t)
{
    i = skip_ws(s, i);
    t->off = i;
    char c = s[i];
    if (!c) {
        t->kind = T_END;
        t->len = 0;
        return 0;
    }
    if (c == '\'' || c == '"') {
        size_t j = i + 1;
        for (;;) {
            if (!s[j])
                return -1;
            if (s[j] == c) {
                if (s[j + 1] == c) {
                    j += 2;
                    continue;
                }
                j++;
                break;
            }
            j++;
        }
        t->kind = c == '\'' ? T_STR : T_QID;
        t->len = j - i;
        return 0;
    }
    if (id_start(c) || isdigit((unsigned char)c)) {
        size_t j = i;
        while (id_char(s[j]) || (isdigit((unsigned char)c) && s[j] == '.'))
            j++;
        t->kind = isdigit((unsigned char)c) ? T_OTHER : T_ID;
        t->len = j - i;
        return 0;
    }
    t->kind = T_OTHER;
    t->len = 1;
    return 0;
}

static int tok_is(const char *s, const ptok *t, const char *kw)
{
    return t->kind == T_ID && t->len == strlen(kw) && strncasecmp(s + t->off, kw, t->len) == 0;
}

/* Words that are never column references here. */
static int keyword(const char *s, const ptok *t)
{
    static const char *const kw[] = {"and", "or", "not", "is", "null", "true", "false", "in",
                                     "between", "like", "ilike", "case", "when", "then", "else",
                                     "end", "cast", "as", "date", "timestamp", "interval",
                                     "extract", "from", "distinct", "similar", "escape", NULL};
    for (int i = 0; kw[i]; i++)
        if (tok_is(s, t, kw[i]))
            return 1;
    return 0;
}

/* ---- conjuncts ----------------------------------------------------------- */

/* Splits text into its top-level AND terms (arena copies).  Returns the
 * count (1 when it does not split), or -1. */
static int split_and(dag_arena *a, const char *text, const char ***out)
{
    size_t n = strlen(text), start = 0;
    int cap = 8, k = 0, depth = 0, cases = 0, between = 0;
    const char **v = dag_arena_alloc(a, (size_t)cap * sizeof *v);
    if (!v)
        return -1;
    ptok t;
    for (size_t i = 0;; i = t.off + t.len) {
        if (next_tok(text, i, &t) < 0)
            return -1;
        int split = 0;
        if (t.kind == T_END) {
            split = 1;
        } else if (t.kind == T_OTHER && text[t.off] == '(') {
            depth++;
        } else if (t.kind == T_OTHER && text[t.off] == ')') {
            depth--;
        } else if (depth == 0 && tok_is(text, &t, "case")) {
            cases++;
        } else if (depth == 0 && tok_is(text, &t, "end")) {
            cases--;
        } else if (depth == 0 && cases == 0 && tok_is(text, &t, "between")) {
            between++;
        } else if (depth == 0 && cases == 0 && tok_is(text, &t, "and")) {
            if (between > 0)
                between--;
            else
                split = 1;
        }
        if (!split)
            continue;
        size_t end = t.kind == T_END ? n : t.off;
        start = skip_ws(text, start);
        while (end > start && (text[end - 1] == ' ' || text[end - 1] == '\t' ||
                               text[end - 1] == '\n' || text[end - 1] == '\r'))
            end--;
        if (k == cap) {
            const char **nv = dag_arena_alloc(a, (size_t)cap * 2 * sizeof *nv);
            if (!nv)
                return -1;
            memcpy(nv, v, (size_t)cap * sizeof *nv);
            v = nv;
            cap *= 2;
        }
        v[k] = dag_arena_strndup(a, text + start, end - start);
        if (!v[k++])
            return -1;
        if (t.kind == T_END)
            break;
        start = t.off + t.len;
    }
    if (depth != 0 || cases != 0)
        return -1;
    *out = v;
    return k;
}

/* Whether text is one parenthesised term: "(...)". */
static int wrapped(const char *text)
{
    ptok t;
    int depth = 0;
    if (next_tok(text, 0, &t) < 0 || t.kind != T_OTHER || text[t.off] != '(')
        return 0;
    for (size_t i = 0;; i = t.off + t.len) {
        if (next_tok(text, i, &t) < 0 || t.kind == T_END)
            return 0;
        if (t.kind == T_OTHER && text[t.off] == '(')
            depth++;
        else if (t.kind == T_OTHER && text[t.off] == ')' && --depth == 0)
            return next_tok(text, t.off + 1, &t) == 0 && t.kind == T_END;
    }
}

/* Every AND term of text, looking inside parenthesised terms: appended to
 * *v (*n of them, room for cap).  0 or -1. */
static int conjuncts(dag_arena *a, const char *text, const char ***v, int *n, int *cap,
                     int depth)
{
    const char **terms;
    int k = split_and(a, text, &terms);
    if (k < 0)
        return -1;
    for (int i = 0; i < k; i++) {
        const char *t = terms[i];
        size_t len = strlen(t);
        if (depth < 32 && wrapped(t)) {
            size_t s = skip_ws(t, 0) + 1, e = len;
            while (e > 0 && t[e - 1] != ')')
                e--;
            char *in = dag_arena_strndup(a, t + s, e - 1 - s);
            if (!in || conjuncts(a, in, v, n, cap, depth + 1) < 0)
                return -1;
            continue;
        }
        if (*n == *cap) {
            int nc = *cap ? *cap * 2 : 8;
            const char **nv = dag_arena_alloc(a, (size_t)nc * sizeof *nv);
            if (!nv)
                return -1;
            if (*n)
                memcpy(nv, *v, (size_t)*n * sizeof *nv);
            *v = nv;
            *cap = nc;
        }
        (*v)[(*n)++] = t;
    }
    return 0;
}

/* The column of s a name token refers to, as the binder resolves it
 * (exact, then the one case-insensitive match of an unquoted name); -1. */
static int tok_column(dag_arena *a, const char *text, const ptok *t, const mr_schema *s)
{
    char *name;
    if (t->kind == T_QID) {
        name = dag_arena_alloc(a, t->len);
        if (!name)
            return -1;
        size_t w = 0;
        for (size_t i = t->off + 1; i + 1 < t->off + t->len; i++) {
            name[w++] = text[i];
            if (text[i] == '"')
                i++;
        }
        name[w] = '\0';
    } else {
        name = dag_arena_strndup(a, text + t->off, t->len);
    }
    if (!name)
        return -1;
    int f = mr_schema_find(s, name);
    if (f >= 0 || t->kind == T_QID)
        return f;
    int hits = 0;
    for (int i = 0; i < s->nfields; i++)
        if (strcasecmp(s->fields[i].name, name) == 0) {
            f = i;
            hits++;
        }
    return hits == 1 ? f : -1;
}

/* Whether the identifier token t is a function's name (followed by '('). */
static int is_call(const char *text, const ptok *t)
{
    return text[skip_ws(text, t->off + t->len)] == '(';
}

/* Marks in used (over s) the columns text reads.  0, or -1 when a word
 * that names a column could also be a keyword (then nothing moves). */
static int conj_columns(dag_arena *a, const char *text, const mr_schema *s, char *used)
{
    ptok t;
    memset(used, 0, (size_t)s->nfields);
    for (size_t i = 0;; i = t.off + t.len) {
        if (next_tok(text, i, &t) < 0)
            return -1;
        if (t.kind == T_END)
            return 0;
        if ((t.kind != T_ID && t.kind != T_QID) || (t.kind == T_ID && is_call(text, &t)))
            continue;
        int f = tok_column(a, text, &t, s);
        if (f < 0)
            continue;
        if (t.kind == T_ID && keyword(text, &t))
            return -1;
        used[f] = 1;
    }
}

/* text with every column reference of s renamed to to[column] (NULL: the
 * conjunct cannot move), as quoted names.  NULL when out of memory or a
 * referenced column has no new name. */
static char *conj_rename(dag_ctx *c, const char *text, const mr_schema *s,
                         const char *const *to)
{
    dag_arena *a = &c->arena;
    size_t cap = strlen(text) * 2 + 64, w = 0;
    char *out = dag_arena_alloc(a, cap);
    ptok t;
    size_t last = 0;
    for (size_t i = 0; out;) {
        if (next_tok(text, i, &t) < 0)
            return NULL;
        const char *rep = NULL;
        if ((t.kind == T_ID && !is_call(text, &t)) || t.kind == T_QID) {
            int f = tok_column(a, text, &t, s);
            if (f >= 0 && !to[f])
                return NULL;
            if (f >= 0)
                rep = dag_quote_ident(a, to[f]);
        }
        size_t keep = (t.kind == T_END ? strlen(text) : t.off) - last;
        size_t need = w + keep + (rep ? strlen(rep) : t.len) + 1;
        if (need > cap) {
            size_t ncap = need * 2;
            char *n2 = dag_arena_alloc(a, ncap);
            if (!n2)
                return NULL;
            memcpy(n2, out, w);
            out = n2;
            cap = ncap;
        }
        memcpy(out + w, text + last, keep);
        w += keep;
        if (t.kind == T_END)
            break;
        if (rep) {
            memcpy(out + w, rep, strlen(rep));
            w += strlen(rep);
        } else {
            memcpy(out + w, text + t.off, t.len);
            w += t.len;
        }
        last = i = t.off + t.len;
    }
    if (out)
        out[w] = '\0';
    return out;
}

/* Whether text parses and binds against s as a boolean. */
static int binds_bool(const char *text, const mr_schema *s)
{
    mr_expr *e = NULL;
    mr_err err;
    mr_err_clear(&err);
    int ok = mr_expr_parse(text, &e, &err) == 0 && mr_expr_bind(e, s, &err) == 0 &&
             mr_expr_type(e).id == MR_T_BOOL;
    mr_expr_destroy(e);
    return ok;
}

/* ---- pushing ------------------------------------------------------------- */

static void attach(dag_ctx *c, dag_node *x, const char *from, const char *text)
{
    dag_named *p = &x->pushed;
    const char **names = dag_arena_alloc(&c->arena, ((size_t)p->n + 1) * sizeof *names);
    const char **texts = dag_arena_alloc(&c->arena, ((size_t)p->n + 1) * sizeof *texts);
    if (!names || !texts)
        return;
    if (p->n) {
        memcpy(names, p->names, (size_t)p->n * sizeof *names);
        memcpy(texts, p->texts, (size_t)p->n * sizeof *texts);
    }
    names[p->n] = from;
    texts[p->n] = text;
    p->names = names;
    p->texts = texts;
    p->n++;
}

static int push(dag_ctx *c, dag *d, int xi, const char *from, const char *text, int depth);

/* Tries to move conjunct text (over x's output) into input k of x, whose
 * columns are named to[] in that input (NULL: not there).  1 when moved. */
static int push_input(dag_ctx *c, dag *d, dag_node *x, int k, const char *from,
                      const char *text, const char *const *to, int depth)
{
    int in = x->inputs[k].node;
    dag_node *ni = &d->nodes[in];
    if (ni->nconsumers != 1 || !ni->out)
        return 0;
    const char *moved = to ? conj_rename(c, text, x->out, to) : text;
    if (!moved || !binds_bool(moved, ni->out))
        return 0;
    push(c, d, in, from, moved, depth + 1);
    return 1;
}

/* Names in x's input k of x's output columns that pass straight through
 * (same name, any input of a union, a filter, sort or distinct). */
static const char **same_names(dag_ctx *c, const dag_node *x)
{
    const char **to = dag_arena_alloc(&c->arena, ((size_t)x->out->nfields + 1) * sizeof *to);
    for (int f = 0; to && f < x->out->nfields; f++)
        to[f] = x->out->fields[f].name;
    return to;
}

/* Where a projection's output columns come from, when passed through or
 * renamed (NULL for a computed column). */
static const char **proj_sources(dag_ctx *c, const dag_node *x, const mr_schema *in)
{
    const char **to = dag_arena_alloc(&c->arena, ((size_t)x->out->nfields + 1) * sizeof *to);
    for (int i = 0; to && i < x->proj.n; i++) {
        int f = mr_schema_find(x->out, x->proj.names[i]);
        ptok t, u;
        const char *e = x->proj.texts[i];
        if (f < 0 || next_tok(e, 0, &t) < 0 || (t.kind != T_ID && t.kind != T_QID) ||
            next_tok(e, t.off + t.len, &u) < 0 || u.kind != T_END ||
            (t.kind == T_ID && keyword(e, &t)))
            continue;
        int src = tok_column(&c->arena, e, &t, in);
        if (src >= 0)
            to[f] = in->fields[src].name;
    }
    return to;
}

/* Conjunct text reaches node xi (as a filter over its output, which has no
 * other reader): into its inputs where allowed, else attached to it; but
 * at depth 0 (the filter's own input) only into a read, a filter or
 * below, since a filter right after the node is what the DAG has.
 * Returns whether it left the filter. */
static int push(dag_ctx *c, dag *d, int xi, const char *from, const char *text, int depth)
{
    dag_node *x = &d->nodes[xi];
    const mr_schema *out = x->out;
    char *used = depth <= d->n + 1 ? dag_arena_alloc(&c->arena, (size_t)out->nfields + 1) : NULL;
    int moved = 0;
    if (!used || conj_columns(&c->arena, text, out, used) < 0)
        goto stay;
    switch (x->op) {
    case DOP_READ:
        attach(c, x, from, text);
        return 1;
    case DOP_FILTER: {
        const char *w = x->where ? dag_arena_printf(&c->arena, "(%s) AND (%s)", x->where, text)
                                 : text;
        if (w) {
            x->where = w;
            return 1; /* that filter's conjuncts are pushed when it is visited */
        }
        break;
    }
    case DOP_SELECT:
    case DOP_DERIVE:
    case DOP_DROP: {
        const mr_schema *in = d->nodes[x->inputs[0].node].out;
        const char **to = in ? proj_sources(c, x, in) : NULL;
        moved = to && push_input(c, d, x, 0, from, text, to, depth);
        break;
    }
    case DOP_SORT:
    case DOP_DISTINCT:
        moved = push_input(c, d, x, 0, from, text, same_names(c, x), depth);
        break;
    case DOP_AGGREGATE:
    case DOP_WINDOW: {
        int only_groups = 1;
        for (int f = 0; f < out->nfields; f++) {
            if (!used[f])
                continue;
            int g = 0;
            for (int k = 0; k < x->ngroup_by; k++)
                g |= strcmp(x->group_by[k], out->fields[f].name) == 0;
            only_groups &= g;
        }
        if (only_groups && x->ngroup_by > 0)
            moved = push_input(c, d, x, 0, from, text, same_names(c, x), depth);
        break;
    }
    case DOP_UNION: {
        int ok = 1;
        const char **to = same_names(c, x);
        for (int k = 0; k < x->ninputs && ok; k++) {
            const dag_node *ni = &d->nodes[x->inputs[k].node];
            ok = to && ni->nconsumers == 1 && ni->out && binds_bool(text, ni->out);
        }
        for (int k = 0; k < x->ninputs && ok; k++)
            push_input(c, d, x, k, from, text, to, depth);
        moved = ok;
        break;
    }
    case DOP_JOIN: {
        const dag_join *j = &x->join;
        const mr_schema *l = d->nodes[x->inputs[0].node].out;
        const mr_schema *r = d->nodes[x->inputs[1].node].out;
        const char **tl = dag_arena_alloc(&c->arena, ((size_t)out->nfields + 1) * sizeof *tl);
        const char **tr = dag_arena_alloc(&c->arena, ((size_t)out->nfields + 1) * sizeof *tr);
        if (!tl || !tr || !l || !r)
            break;
        int left_only = 1, right_only = 1;
        for (int f = 0; f < out->nfields; f++) {
            const char *name = out->fields[f].name;
            size_t pl = strlen(j->right_prefix);
            if (mr_schema_find(l, name) >= 0)
                tl[f] = name;
            else if (strncmp(name, j->right_prefix, pl) == 0 && mr_schema_find(r, name + pl) >= 0)
                tr[f] = name + pl;
            if (used[f]) {
                left_only &= tl[f] != NULL;
                right_only &= tr[f] != NULL;
            }
        }
        int kind = (int)j->kind;
        if (left_only && (kind == MILLRACE__JOIN_KIND__JOIN_INNER ||
                          kind == MILLRACE__JOIN_KIND__JOIN_LEFT ||
                          kind == MILLRACE__JOIN_KIND__JOIN_SEMI ||
                          kind == MILLRACE__JOIN_KIND__JOIN_ANTI))
            moved = push_input(c, d, x, 0, from, text, tl, depth);
        else if (right_only && (kind == MILLRACE__JOIN_KIND__JOIN_INNER ||
                                kind == MILLRACE__JOIN_KIND__JOIN_RIGHT))
            moved = push_input(c, d, x, 1, from, text, tr, depth);
        break;
    }
    default:
        break;
    }
stay:
    if (moved)
        return 1;
    if (depth == 0)
        return 0;
    attach(c, x, from, text);
    return 1;
}

void dag_pushdown(dag_ctx *c, dag *d)
{
    for (int oi = d->norder - 1; oi >= 0; oi--) {
        dag_node *f = &d->nodes[d->order[oi]];
        if (f->op != DOP_FILTER || !f->where || f->ninputs != 1)
            continue;
        const char **conj = NULL;
        int n = 0, cap = 0;
        if (conjuncts(&c->arena, f->where, &conj, &n, &cap, 0) < 0 || n == 0)
            continue;
        const char *keep = NULL;
        int xi = f->inputs[0].node;
        dag_node *x = &d->nodes[xi];
        for (int i = 0; i < n; i++) {
            if (x->nconsumers == 1 && x->out && x->op != DOP_LIMIT && x->op != DOP_WRITE &&
                binds_bool(conj[i], x->out) && push(c, d, xi, f->id, conj[i], 0))
                continue;
            keep = keep ? dag_arena_printf(&c->arena, "%s AND (%s)", keep, conj[i])
                        : dag_arena_printf(&c->arena, "(%s)", conj[i]);
            if (!keep)
                return;
        }
        f->where = keep;
    }
}
