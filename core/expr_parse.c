/* expr_parse.c - expression text to tree: a hand-written lexer and a
 * precedence-climbing parser with PostgreSQL's operator precedence.
 *
 * Precedence, loosest first (PostgreSQL's table): OR, AND, NOT, IS,
 * comparisons, BETWEEN/IN/LIKE/ILIKE, other operators (|| ~ ~* !~ !~*), + -, * / %,
 * unary minus, ::.  parse_expr(p, min) parses an operand and then keeps
 * consuming infix operators that bind tighter than min, so left-associative
 * operators recurse with their own level as the new minimum.
 *
 * Sugar is removed here so later stages see a small language: x BETWEEN a
 * AND b becomes x >= a AND x <= b (x is cloned), CASE x WHEN v becomes CASE
 * WHEN x = v, extract(f FROM t) becomes date_part('f', t), x IS TRUE becomes
 * x IS NOT DISTINCT FROM true, s ~ p becomes regexp_like(s, p) (named "~",
 * with ci and negate for ~* and !~).  A minus in front of a number literal folds
 * into it, so -2147483648 is an int32 and -9223372036854775808 parses.
 *
 * Every node records the byte offset of its token; errors set err->offset.
 * The parser allocates nodes with malloc and frees everything on failure.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/expr_int.h"

enum { TK_EOF, TK_NUM, TK_STR, TK_IDENT, TK_QIDENT, TK_OP };

typedef struct tok {
    int kind;
    int off;
    const char *s; /* points into the text */
    size_t len;
} tok;

typedef struct parser {
    const char *text;
    size_t pos;
    tok t;      /* current token */
    mr_err *err;
    int depth;  /* recursion guard against hostile input */
} parser;

enum { P_OR = 1, P_AND, P_NOT, P_IS, P_CMP, P_LIKE, P_OTHER, P_ADD, P_MUL, P_AT, P_UNARY, P_CAST };
#define MAX_DEPTH 200

/* ---- nodes ------------------------------------------------------------- */

expr__node *expr__node_new(int kind, int off)
{
    expr__node *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->kind = kind;
    n->off = off;
    n->col = -1;
    n->type = mr_type_make(MR_T_NULL);
    return n;
}

int expr__add_kid(expr__node *n, expr__node *kid)
{
    expr__node **k = realloc(n->kids, (size_t)(n->nkids + 1) * sizeof *k);
    if (!k) {
        expr__node_free(kid);
        return MR_ENOMEM;
    }
    n->kids = k;
    n->kids[n->nkids++] = kid;
    return 0;
}

void expr__scratch_free(expr__node *n)
{
    if (n->out_ready)
        mr_column_free(&n->out);
    n->out_ready = false;
    n->lit_rows = 0;
    free(n->phys);
    free(n->pos);
    free(n->idx);
    free(n->which);
    free(n->parts);
    n->phys = n->pos = n->idx = NULL;
    n->which = NULL;
    n->parts = NULL;
    n->scap = 0;
}

void expr__node_free(expr__node *n)
{
    if (!n)
        return;
    for (int i = 0; i < n->nkids; i++)
        expr__node_free(n->kids[i]);
    free(n->kids);
    free(n->name);
    free(n->ls);
    if (n->aux && n->aux_free)
        n->aux_free(n->aux);
    expr__scratch_free(n);
    free(n);
}

expr__node *expr__node_clone(const expr__node *n)
{
    expr__node *c = expr__node_new(n->kind, n->off);
    if (!c)
        return NULL;
    *c = *n;
    /* scratch is never shared */
    memset(&c->out, 0, sizeof c->out);
    c->out_ready = false;
    c->lit_rows = 0;
    c->phys = c->pos = c->idx = NULL;
    c->which = NULL;
    c->parts = NULL;
    c->scap = 0;
    c->kids = NULL;
    c->nkids = 0;
    c->name = NULL;
    c->ls = NULL;
    c->aux = NULL;
    c->aux_free = NULL;
    if (n->name && !(c->name = strdup(n->name)))
        goto fail;
    if (n->ls) {
        if (!(c->ls = malloc(n->lslen + 1)))
            goto fail;
        memcpy(c->ls, n->ls, n->lslen + 1);
    }
    for (int i = 0; i < n->nkids; i++) {
        expr__node *k = expr__node_clone(n->kids[i]);
        if (!k || expr__add_kid(c, k) < 0)
            goto fail;
    }
    return c;
fail:
    expr__node_free(c);
    return NULL;
}

/* ---- lexer ------------------------------------------------------------- */

static int perr(parser *p, int off, const char *fmt, const char *a, size_t alen)
{
    char buf[128];
    size_t n = alen < sizeof buf - 1 ? alen : sizeof buf - 1;
    memcpy(buf, a ? a : "", a ? n : 0);
    buf[a ? n : 0] = '\0';
    return expr__err_at(p->err, MR_EPARSE, off, fmt, buf);
}

static int lex(parser *p)
{
    const char *s = p->text;
    size_t i = p->pos;
    while (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')
        i++;
    p->t.off = (int)i;
    p->t.s = s + i;
    if (!s[i]) {
        p->t.kind = TK_EOF;
        p->t.len = 0;
        p->pos = i;
        return 0;
    }
    size_t st = i;
    char c = s[i];
    if (isdigit((unsigned char)c) || (c == '.' && isdigit((unsigned char)s[i + 1]))) {
        while (isdigit((unsigned char)s[i]))
            i++;
        if (s[i] == '.') {
            i++;
            while (isdigit((unsigned char)s[i]))
                i++;
        }
        if ((s[i] == 'e' || s[i] == 'E') &&
            (isdigit((unsigned char)s[i + 1]) ||
             ((s[i + 1] == '+' || s[i + 1] == '-') && isdigit((unsigned char)s[i + 2])))) {
            i += 2;
            while (isdigit((unsigned char)s[i]))
                i++;
        }
        p->t.kind = TK_NUM;
    } else if (c == '\'' || c == '"') {
        i++;
        for (;;) {
            if (!s[i])
                return perr(p, (int)st, c == '\'' ? "unterminated string literal%s"
                                                  : "unterminated quoted name%s", "", 0);
            if (s[i] == c) {
                if (s[i + 1] == c) {
                    i += 2;
                    continue;
                }
                i++;
                break;
            }
            i++;
        }
        p->t.kind = c == '\'' ? TK_STR : TK_QIDENT;
    } else if (isalpha((unsigned char)c) || c == '_' || (unsigned char)c >= 0x80) {
        while (isalnum((unsigned char)s[i]) || s[i] == '_' || (unsigned char)s[i] >= 0x80)
            i++;
        p->t.kind = TK_IDENT;
    } else {
        static const char *const two[] = {"<>", "!=", "<=", ">=", "||", "::", "~*", "!~"};
        p->t.kind = TK_OP;
        if (c == '=' && s[i + 1] == '=')
            return perr(p, (int)st, "'==' is not an operator: write '=' to compare%s", "", 0);
        i++;
        if (c == '!' && s[i] == '~' && s[i + 1] == '*')
            i = st + 3;
        else
            for (size_t k = 0; k < sizeof two / sizeof two[0]; k++)
                if (s[st] == two[k][0] && s[st + 1] == two[k][1]) {
                    i = st + 2;
                    break;
                }
        if (i == st + 1 && !strchr("+-*/%()=<>,~", c))
            return perr(p, (int)st, "unexpected character '%s'", s + st, 1);
    }
    p->t.len = i - st;
    p->pos = i;
    return 0;
}

static bool is_op(const parser *p, const char *op)
{
    return p->t.kind == TK_OP && p->t.len == strlen(op) && memcmp(p->t.s, op, p->t.len) == 0;
}

static bool is_kw(const tok *t, const char *kw)
{
    return t->kind == TK_IDENT && t->len == strlen(kw) && strncasecmp(t->s, kw, t->len) == 0;
}

/* Looks at the token after the current one without consuming anything. */
static tok peek2(parser *p)
{
    parser q = *p;
    mr_err scratch;
    q.err = &scratch;
    tok t = {TK_EOF, (int)p->pos, p->text + p->pos, 0};
    if (lex(&q) == 0)
        t = q.t;
    return t;
}

static int expect_op(parser *p, const char *op)
{
    if (!is_op(p, op))
        return perr(p, p->t.off, p->t.kind == TK_EOF ? "expected '%s' at end of expression"
                                                     : "expected '%s'", op, strlen(op));
    return lex(p);
}

static int expect_kw(parser *p, const char *kw)
{
    if (!is_kw(&p->t, kw))
        return perr(p, p->t.off, "expected %s", kw, strlen(kw));
    return lex(p);
}

static const char *const reserved[] = {
    "and", "or", "not", "is", "null", "true", "false", "case", "when", "then",
    "else", "end", "in", "between", "like", "ilike", "cast", "as", "from",
    "distinct", "try_cast", "extract",
};

static bool is_reserved(const tok *t)
{
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (is_kw(t, reserved[i]))
            return true;
    return false;
}

/* Decodes a quoted token ('' or "" escapes) into a new NUL-ended string. */
static char *unquote(const tok *t, size_t *len)
{
    char q = t->s[0];
    char *out = malloc(t->len);
    if (!out)
        return NULL;
    size_t n = 0;
    for (size_t i = 1; i + 1 < t->len; i++) {
        out[n++] = t->s[i];
        if (t->s[i] == q)
            i++;
    }
    out[n] = '\0';
    *len = n;
    return out;
}

/* ---- parser ------------------------------------------------------------ */

static int parse_expr(parser *p, int min, expr__node **out);

/* Moves past the node's last token and hands the node out; frees it when
 * the next token is bad. */
static int finish(parser *p, expr__node *n, expr__node **out)
{
    int rc = lex(p);
    if (rc < 0) {
        expr__node_free(n);
        return rc;
    }
    *out = n;
    return 0;
}

static expr__node *mk(parser *p, int kind, int off)
{
    expr__node *n = expr__node_new(kind, off);
    if (!n)
        mr_err_set(p->err, MR_ENOMEM, "out of memory parsing an expression");
    return n;
}

/* Builds a two-kid node; frees a and b on failure. */
static int mk2(parser *p, int kind, int op, int off, expr__node *a, expr__node *b,
               expr__node **out)
{
    expr__node *n = mk(p, kind, off);
    if (!n) {
        expr__node_free(a);
        expr__node_free(b);
        return MR_ENOMEM;
    }
    n->op = op;
    if (expr__add_kid(n, a) < 0 || (b && expr__add_kid(n, b) < 0)) {
        if (n->nkids == 0)
            expr__node_free(b);
        expr__node_free(n);
        return mr_err_set(p->err, MR_ENOMEM, "out of memory parsing an expression");
    }
    *out = n;
    return 0;
}

static int parse_number(parser *p, bool neg, int off, expr__node **out)
{
    const char *s = p->t.s;
    size_t len = p->t.len;
    expr__node *n = mk(p, EN_LIT, off);
    if (!n)
        return MR_ENOMEM;
    bool dot = memchr(s, '.', len) != NULL;
    bool exp = memchr(s, 'e', len) || memchr(s, 'E', len);
    int rc = 0;
    if (!exp) {
        /* integer or decimal: gather the digits exactly */
        int64_t v = 0;
        int digits = 0, scale = 0;
        bool after = false, over = false;
        for (size_t i = 0; i < len; i++) {
            if (s[i] == '.') {
                after = true;
                continue;
            }
            if (digits == 0 && s[i] == '0' && !after)
                continue; /* leading zeros do not count */
            if (after)
                scale++;
            digits++;
            if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, s[i] - '0', &v))
                over = true;
        }
        if (!dot && !over && !(digits > 18 && dot)) {
            if (neg)
                v = -v;
            if (!neg && v == INT64_MIN)
                over = true;
            n->li = v;
            n->type = mr_type_make(v >= INT32_MIN && v <= INT32_MAX ? MR_T_INT32 : MR_T_INT64);
        } else if (dot && !over && digits <= MR_DECIMAL_MAX_PRECISION) {
            n->li = neg ? -v : v;
            int prec = digits > scale ? digits : scale;
            n->type = mr_type_decimal(prec < 1 ? 1 : prec, scale);
        } else if (!dot && over) {
            /* -9223372036854775808 is the one value whose magnitude overflows */
            if (neg && len == 19 && memcmp(s, "9223372036854775808", 19) == 0) {
                n->li = INT64_MIN;
                n->type = mr_type_make(MR_T_INT64);
            } else {
                rc = perr(p, off, "integer literal %s is out of range for int64", s, len);
            }
        } else {
            exp = true; /* too many digits for a decimal: take it as a float */
        }
    }
    if (exp && rc == 0) {
        char buf[128];
        if (len >= sizeof buf) {
            rc = perr(p, off, "number literal too long%s", "", 0);
        } else {
            memcpy(buf, s, len);
            buf[len] = '\0';
            n->lf = strtod(buf, NULL);
            if (neg)
                n->lf = -n->lf;
            n->type = mr_type_make(MR_T_FLOAT64);
        }
    }
    if (rc < 0) {
        expr__node_free(n);
        return rc;
    }
    return finish(p, n, out);
}

/* Reads a type name as written after AS or :: and parses it. */
static int parse_type(parser *p, mr_type *out)
{
    if (p->t.kind != TK_IDENT)
        return perr(p, p->t.off, "expected a type name%s", "", 0);
    int off = p->t.off;
    char buf[96];
    size_t n = 0;
    size_t l = p->t.len < 40 ? p->t.len : 40;
    memcpy(buf, p->t.s, l);
    n = l;
    int rc = lex(p);
    if (rc < 0)
        return rc;
    if (is_op(p, "(")) {
        for (;;) {
            if (p->t.kind == TK_EOF)
                return perr(p, p->t.off, "expected ')' in type name%s", "", 0);
            if (n + p->t.len >= sizeof buf - 1)
                return perr(p, off, "type name too long%s", "", 0);
            memcpy(buf + n, p->t.s, p->t.len);
            n += p->t.len;
            bool close = is_op(p, ")");
            if ((rc = lex(p)) < 0)
                return rc;
            if (close)
                break;
        }
    }
    buf[n] = '\0';
    mr_err e;
    if (strcasecmp(buf, "timestamp") == 0 && is_kw(&p->t, "with")) {
        /* the standard's spelling: TIMESTAMP WITH TIME ZONE */
        if ((rc = lex(p)) < 0)
            return rc;
        if (!is_kw(&p->t, "time") || !is_kw((tok[]){peek2(p)}, "zone"))
            return perr(p, p->t.off, "expected TIME ZONE after TIMESTAMP WITH%s", "", 0);
        if ((rc = lex(p)) < 0 || (rc = lex(p)) < 0)
            return rc;
        *out = mr_type_make(MR_T_TIMESTAMPTZ);
        return 0;
    }
    if (strcasecmp(buf, "interval") == 0) { /* an expression type, not a column type */
        *out = mr_type_make(MR_T_INTERVAL);
        return 0;
    }
    if (mr_type_parse(buf, out, &e) < 0)
        return expr__err_at(p->err, MR_EPARSE, off, "%s", e.msg);
    return 0;
}

static int parse_cast(parser *p, bool try_, int off, expr__node **out)
{
    int rc = lex(p); /* CAST / TRY_CAST */
    if (rc < 0 || (rc = expect_op(p, "(")) < 0)
        return rc;
    expr__node *x;
    if ((rc = parse_expr(p, 0, &x)) < 0)
        return rc;
    mr_type t;
    if ((rc = expect_kw(p, "as")) < 0 || (rc = parse_type(p, &t)) < 0 ||
        (rc = expect_op(p, ")")) < 0) {
        expr__node_free(x);
        return rc;
    }
    if ((rc = mk2(p, EN_CAST, 0, off, x, NULL, out)) < 0)
        return rc;
    (*out)->target = t;
    (*out)->try_ = try_;
    return 0;
}

static int parse_case(parser *p, int off, expr__node **out)
{
    int rc = lex(p);
    if (rc < 0)
        return rc;
    expr__node *n = mk(p, EN_CASE, off), *subject = NULL;
    if (!n)
        return MR_ENOMEM;
    if (!is_kw(&p->t, "when") && (rc = parse_expr(p, 0, &subject)) < 0)
        goto fail;
    if (!is_kw(&p->t, "when")) {
        rc = perr(p, p->t.off, "expected WHEN in CASE%s", "", 0);
        goto fail;
    }
    while (is_kw(&p->t, "when")) {
        int woff = p->t.off;
        expr__node *c, *r;
        if ((rc = lex(p)) < 0 || (rc = parse_expr(p, 0, &c)) < 0)
            goto fail;
        if (subject) {
            expr__node *s2 = expr__node_clone(subject);
            if (!s2) {
                expr__node_free(c);
                rc = mr_err_set(p->err, MR_ENOMEM, "out of memory parsing an expression");
                goto fail;
            }
            if ((rc = mk2(p, EN_CMP, ECMP_EQ, woff, s2, c, &c)) < 0)
                goto fail;
        }
        if ((rc = expr__add_kid(n, c)) < 0)
            goto fail;
        if ((rc = expect_kw(p, "then")) < 0 || (rc = parse_expr(p, 0, &r)) < 0 ||
            (rc = expr__add_kid(n, r)) < 0)
            goto fail;
    }
    if (is_kw(&p->t, "else")) {
        expr__node *e;
        if ((rc = lex(p)) < 0 || (rc = parse_expr(p, 0, &e)) < 0 || (rc = expr__add_kid(n, e)) < 0)
            goto fail;
        n->has_else = true;
    }
    if (!is_kw(&p->t, "end")) {
        /* The usual slip is a CASE left open: say so, not just "expected". */
        if (p->t.kind == TK_EOF)
            rc = perr(p, p->t.off, "CASE without END: close it with END (CASE WHEN ... THEN "
                                   "... [ELSE ...] END)%s", "", 0);
        else
            rc = perr(p, p->t.off, "CASE without END: expected END before '%s' (CASE WHEN ... "
                                   "THEN ... [ELSE ...] END)", p->t.s, p->t.len);
        goto fail;
    }
    if ((rc = lex(p)) < 0)
        goto fail;
    expr__node_free(subject);
    *out = n;
    return 0;
fail:
    if (rc == MR_ENOMEM)
        mr_err_set(p->err, MR_ENOMEM, "out of memory parsing an expression");
    expr__node_free(subject);
    expr__node_free(n);
    return rc;
}

static int parse_call(parser *p, expr__node **out)
{
    int off = p->t.off;
    static const char *const aggs[] = {"count", "sum", "avg", "min", "max"};
    char name[64];
    size_t l = p->t.len < sizeof name - 1 ? p->t.len : sizeof name - 1;
    memcpy(name, p->t.s, l);
    name[l] = '\0';
    const expr__fndef *fn = expr__func_lookup(name);
    if (!fn) {
        for (size_t i = 0; i < sizeof aggs / sizeof aggs[0]; i++)
            if (strcasecmp(name, aggs[i]) == 0)
                return perr(p, off, "aggregate '%s' is not allowed here "
                                    "(aggregates belong in an aggregate node)", name, l);
        const char *sug = expr__func_suggest(name);
        if (sug)
            return expr__err_at(p->err, MR_EPARSE, off,
                                "unknown function '%s' (did you mean '%s'?)", name, sug);
        return perr(p, off, "unknown function '%s'", name, l);
    }
    expr__node *n = mk(p, EN_FUNC, off);
    if (!n)
        return MR_ENOMEM;
    n->fndef = fn;
    n->op = fn->fn;
    int rc;
    if (!(n->name = strdup(name))) {
        rc = mr_err_set(p->err, MR_ENOMEM, "out of memory parsing an expression");
        goto fail;
    }
    if ((rc = lex(p)) < 0 || (rc = lex(p)) < 0) /* name, '(' */
        goto fail;
    if (!is_op(p, ")")) {
        for (;;) {
            expr__node *a;
            if ((rc = parse_expr(p, 0, &a)) < 0)
                goto fail;
            if ((rc = expr__add_kid(n, a)) < 0) {
                mr_err_set(p->err, MR_ENOMEM, "out of memory parsing an expression");
                goto fail;
            }
            if (!is_op(p, ","))
                break;
            if ((rc = lex(p)) < 0)
                goto fail;
        }
    }
    if ((rc = expect_op(p, ")")) < 0)
        goto fail;
    *out = n;
    return 0;
fail:
    expr__node_free(n);
    return rc;
}

/* extract(field FROM t) -> date_part('field', t) */
static int parse_extract(parser *p, expr__node **out)
{
    int off = p->t.off, rc;
    if ((rc = lex(p)) < 0 || (rc = expect_op(p, "(")) < 0)
        return rc;
    if (p->t.kind != TK_IDENT && p->t.kind != TK_STR)
        return perr(p, p->t.off, "expected a field name in extract%s", "", 0);
    tok f = p->t;
    expr__node *n = mk(p, EN_FUNC, off), *lit = mk(p, EN_LIT, f.off), *t = NULL;
    if (!n || !lit || !(n->name = strdup("date_part"))) {
        rc = mr_err_set(p->err, MR_ENOMEM, "out of memory parsing an expression");
        goto fail;
    }
    n->fndef = expr__func_lookup("date_part");
    n->op = EFN_DATE_PART;
    if (f.kind == TK_STR) {
        lit->ls = unquote(&f, &lit->lslen);
    } else if ((lit->ls = malloc(f.len + 1))) {
        memcpy(lit->ls, f.s, f.len);
        lit->ls[f.len] = '\0';
        lit->lslen = f.len;
    }
    if (!lit->ls) {
        rc = mr_err_set(p->err, MR_ENOMEM, "out of memory parsing an expression");
        goto fail;
    }
    lit->type = mr_type_make(MR_T_STRING);
    if ((rc = lex(p)) < 0 || (rc = expect_kw(p, "from")) < 0 ||
        (rc = parse_expr(p, 0, &t)) < 0)
        goto fail;
    rc = expr__add_kid(n, lit);
    lit = NULL;
    if (rc < 0 || (rc = expr__add_kid(n, t)) < 0) {
        t = NULL;
        mr_err_set(p->err, MR_ENOMEM, "out of memory parsing an expression");
        goto fail;
    }
    if ((rc = expect_op(p, ")")) < 0)
        goto fail;
    *out = n;
    return 0;
fail:
    expr__node_free(lit);
    expr__node_free(n);
    return rc;
}

/* DATE 'YYYY-MM-DD', TIMESTAMP '...', TIMESTAMPTZ '...+02', INTERVAL '1 day':
 * the literal is parsed now, so a bad one is an error at its place. */
static int parse_typed_literal(parser *p, expr__node **out)
{
    tok t = p->t;
    int rc;
    mr_type_id id = is_kw(&t, "date")        ? MR_T_DATE
                    : is_kw(&t, "timestamp") ? MR_T_TIMESTAMP
                    : is_kw(&t, "interval")  ? MR_T_INTERVAL
                                             : MR_T_TIMESTAMPTZ;
    if ((rc = lex(p)) < 0)
        return rc;
    size_t len;
    char *s = unquote(&p->t, &len);
    if (!s)
        return mr_err_set(p->err, MR_ENOMEM, "out of memory parsing an expression");
    expr__node *n = mk(p, EN_LIT, t.off);
    if (!n) {
        free(s);
        return MR_ENOMEM;
    }
    mr_err e;
    int32_t d;
    switch (id) {
    case MR_T_DATE:
        rc = mr_parse_date(s, len, &d, &e);
        n->li = d;
        break;
    case MR_T_TIMESTAMP: rc = mr_parse_timestamp(s, len, &n->li, &e); break;
    case MR_T_TIMESTAMPTZ: rc = mr_parse_timestamptz(s, len, &n->li, NULL, &e); break;
    default: rc = mr_parse_interval(s, len, &n->liv, &e); break;
    }
    n->type = mr_type_make(id);
    if (rc < 0) {
        char tb[32];
        rc = expr__err_at(p->err, MR_EPARSE, p->t.off, "bad %s literal '%s'",
                          mr_type_name(n->type, tb, sizeof tb), s);
        free(s);
        expr__node_free(n);
        return rc;
    }
    free(s);
    return finish(p, n, out);
}

/* current_timestamp (no parentheses, as in SQL): a call of now(). */
static int parse_now(parser *p, expr__node **out)
{
    expr__node *n = mk(p, EN_FUNC, p->t.off);
    if (!n)
        return MR_ENOMEM;
    if (!(n->name = strdup("current_timestamp"))) {
        expr__node_free(n);
        return mr_err_set(p->err, MR_ENOMEM, "out of memory parsing an expression");
    }
    n->fndef = expr__func_lookup("now");
    n->op = n->fndef->fn;
    return finish(p, n, out);
}

static int parse_primary(parser *p, expr__node **out)
{
    tok t = p->t;
    int rc;
    if (t.kind == TK_NUM)
        return parse_number(p, false, t.off, out);
    if (t.kind == TK_STR) {
        expr__node *n = mk(p, EN_LIT, t.off);
        if (!n)
            return MR_ENOMEM;
        if (!(n->ls = unquote(&t, &n->lslen))) {
            expr__node_free(n);
            return mr_err_set(p->err, MR_ENOMEM, "out of memory parsing an expression");
        }
        n->type = mr_type_make(MR_T_STRING);
        n->unknown = true;
        return finish(p, n, out);
    }
    if (t.kind == TK_QIDENT) {
        expr__node *n = mk(p, EN_COL, t.off);
        if (!n)
            return MR_ENOMEM;
        size_t len;
        n->quoted = true;
        if (!(n->name = unquote(&t, &len))) {
            expr__node_free(n);
            return mr_err_set(p->err, MR_ENOMEM, "out of memory parsing an expression");
        }
        return finish(p, n, out);
    }
    if (t.kind == TK_OP && is_op(p, "(")) {
        if ((rc = lex(p)) < 0 || (rc = parse_expr(p, 0, out)) < 0)
            return rc;
        if ((rc = expect_op(p, ")")) < 0) {
            expr__node_free(*out);
            return rc;
        }
        return 0;
    }
    if (t.kind == TK_IDENT) {
        tok nx = peek2(p);
        if (is_kw(&t, "true") || is_kw(&t, "false") || is_kw(&t, "null")) {
            expr__node *n = mk(p, EN_LIT, t.off);
            if (!n)
                return MR_ENOMEM;
            if (is_kw(&t, "null")) {
                n->lnull = true;
            } else {
                n->type = mr_type_make(MR_T_BOOL);
                n->li = is_kw(&t, "true");
            }
            return finish(p, n, out);
        }
        if ((is_kw(&t, "date") || is_kw(&t, "timestamp") || is_kw(&t, "timestamptz") ||
             is_kw(&t, "interval")) && nx.kind == TK_STR)
            return parse_typed_literal(p, out);
        if (is_kw(&t, "current_timestamp") && !(nx.kind == TK_OP && nx.len == 1 && nx.s[0] == '('))
            return parse_now(p, out);
        if (is_kw(&t, "case"))
            return parse_case(p, t.off, out);
        if ((is_kw(&t, "cast") || is_kw(&t, "try_cast")) && nx.kind == TK_OP &&
            nx.len == 1 && nx.s[0] == '(')
            return parse_cast(p, is_kw(&t, "try_cast"), t.off, out);
        if (is_kw(&t, "extract") && nx.kind == TK_OP && nx.len == 1 && nx.s[0] == '(')
            return parse_extract(p, out);
        if (is_reserved(&t))
            return perr(p, t.off, "unexpected keyword '%s'", t.s, t.len);
        if (nx.kind == TK_OP && nx.len == 1 && nx.s[0] == '(')
            return parse_call(p, out);
        expr__node *n = mk(p, EN_COL, t.off);
        if (!n)
            return MR_ENOMEM;
        if (!(n->name = strndup(t.s, t.len))) {
            expr__node_free(n);
            return mr_err_set(p->err, MR_ENOMEM, "out of memory parsing an expression");
        }
        return finish(p, n, out);
    }
    if (t.kind == TK_EOF)
        return perr(p, t.off, "unexpected end of expression%s", "", 0);
    return perr(p, t.off, "unexpected '%s'", t.s, t.len);
}

static int parse_prefix(parser *p, expr__node **out)
{
    tok t = p->t;
    int rc;
    if (is_kw(&t, "not")) {
        expr__node *x;
        if ((rc = lex(p)) < 0 || (rc = parse_expr(p, P_NOT, &x)) < 0)
            return rc;
        return mk2(p, EN_NOT, 0, t.off, x, NULL, out);
    }
    if (is_op(p, "-") || is_op(p, "+")) {
        bool minus = t.s[0] == '-';
        if ((rc = lex(p)) < 0)
            return rc;
        if (minus && p->t.kind == TK_NUM) {
            tok nx = peek2(p);
            /* fold only when no :: follows, since -1::text means -(1::text) */
            if (!(nx.kind == TK_OP && nx.len == 2 && nx.s[0] == ':'))
                return parse_number(p, true, t.off, out);
        }
        expr__node *x;
        if ((rc = parse_expr(p, P_UNARY, &x)) < 0)
            return rc;
        if (!minus) {
            *out = x;
            return 0;
        }
        return mk2(p, EN_NEG, 0, t.off, x, NULL, out);
    }
    return parse_primary(p, out);
}

/* Infix operator at the current token: its precedence and kind, or 0. */
static int infix_prec(parser *p, int *kind, int *op, bool *neg)
{
    *neg = false;
    tok *t = &p->t;
    if (t->kind == TK_OP) {
        static const struct { const char *s; int prec, kind, op; } ops[] = {
            {"=", P_CMP, EN_CMP, ECMP_EQ},  {"<>", P_CMP, EN_CMP, ECMP_NE},
            {"!=", P_CMP, EN_CMP, ECMP_NE}, {"<", P_CMP, EN_CMP, ECMP_LT},
            {"<=", P_CMP, EN_CMP, ECMP_LE}, {">", P_CMP, EN_CMP, ECMP_GT},
            {">=", P_CMP, EN_CMP, ECMP_GE}, {"||", P_OTHER, EN_CONCAT, 0},
            {"+", P_ADD, EN_ARITH, EOP_ADD}, {"-", P_ADD, EN_ARITH, EOP_SUB},
            {"*", P_MUL, EN_ARITH, EOP_MUL}, {"/", P_MUL, EN_ARITH, EOP_DIV},
            {"%", P_MUL, EN_ARITH, EOP_MOD}, {"::", P_CAST, EN_CAST, 0},
            /* regular expressions: calls of regexp_like (op: 1 ~*, 2 !~, 3 !~*) */
            {"~", P_OTHER, EN_FUNC, 0},     {"~*", P_OTHER, EN_FUNC, 1},
            {"!~", P_OTHER, EN_FUNC, 2},    {"!~*", P_OTHER, EN_FUNC, 3},
        };
        for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
            if (is_op(p, ops[i].s)) {
                *kind = ops[i].kind;
                *op = ops[i].op;
                return ops[i].prec;
            }
        return 0;
    }
    if (t->kind != TK_IDENT)
        return 0;
    if (is_kw(t, "or"))
        return *kind = EN_OR, P_OR;
    if (is_kw(t, "and"))
        return *kind = EN_AND, P_AND;
    if (is_kw(t, "is"))
        return *kind = EN_ISNULL, P_IS;
    tok nx = peek2(p);
    if (is_kw(t, "at") && is_kw(&nx, "time")) /* t AT TIME ZONE z: timezone(z, t) */
        return *kind = EN_FUNC, *op = 4, P_AT;
    const tok *w = t;
    if (is_kw(t, "not")) {
        *neg = true;
        w = &nx;
    }
    if (is_kw(w, "in"))
        return *kind = EN_IN, P_LIKE;
    if (is_kw(w, "between"))
        return *kind = EN_AND, *op = 1, P_LIKE; /* op 1 marks BETWEEN */
    if (is_kw(w, "like") || is_kw(w, "ilike")) {
        *op = is_kw(w, "ilike");
        return *kind = EN_LIKE, P_LIKE;
    }
    *neg = false;
    return 0;
}

static int parse_is(parser *p, int off, expr__node *left, expr__node **out)
{
    int rc = lex(p); /* IS */
    bool neg = false;
    if (rc < 0)
        goto fail;
    if (is_kw(&p->t, "not")) {
        neg = true;
        if ((rc = lex(p)) < 0)
            goto fail;
    }
    if (is_kw(&p->t, "null")) {
        if ((rc = lex(p)) < 0)
            goto fail;
        if ((rc = mk2(p, EN_ISNULL, 0, off, left, NULL, out)) < 0)
            return rc;
        (*out)->negate = neg;
        return 0;
    }
    expr__node *right = NULL;
    if (is_kw(&p->t, "true") || is_kw(&p->t, "false")) {
        /* x IS TRUE == x IS NOT DISTINCT FROM true */
        if (!(right = mk(p, EN_LIT, p->t.off))) {
            rc = MR_ENOMEM;
            goto fail;
        }
        right->type = mr_type_make(MR_T_BOOL);
        right->li = is_kw(&p->t, "true");
        if ((rc = lex(p)) < 0) {
            expr__node_free(right);
            goto fail;
        }
        neg = !neg;
    } else if (is_kw(&p->t, "distinct")) {
        if ((rc = lex(p)) < 0 || (rc = expect_kw(p, "from")) < 0 ||
            (rc = parse_expr(p, P_IS, &right)) < 0)
            goto fail;
    } else {
        rc = perr(p, p->t.off, "expected NULL, TRUE, FALSE or DISTINCT FROM after IS%s", "", 0);
        goto fail;
    }
    if ((rc = mk2(p, EN_DISTINCT, 0, off, left, right, out)) < 0)
        return rc;
    (*out)->negate = neg;
    return 0;
fail:
    expr__node_free(left);
    return rc;
}

static int parse_infix(parser *p, int prec, int kind, int op, bool neg, expr__node *left,
                       expr__node **out)
{
    int off = p->t.off, rc;
    expr__node *right = NULL;
    if (kind == EN_ISNULL)
        return parse_is(p, off, left, out);
    if (neg && (rc = lex(p)) < 0) /* NOT */
        goto fail;
    if ((rc = lex(p)) < 0)
        goto fail;
    if (kind == EN_FUNC && op == 4) { /* AT already read: TIME ZONE zone */
        if ((rc = expect_kw(p, "time")) < 0 || (rc = expect_kw(p, "zone")) < 0 ||
            (rc = parse_expr(p, prec, &right)) < 0)
            goto fail;
        if ((rc = mk2(p, EN_FUNC, EFN_TIMEZONE, off, right, left, out)) < 0)
            return rc;
        (*out)->fndef = expr__func_lookup("timezone");
        if (!((*out)->name = strdup("AT TIME ZONE")))
            return mr_err_set(p->err, MR_ENOMEM, "out of memory parsing an expression");
        return 0;
    }
    if (kind == EN_CAST) {
        mr_type t;
        if ((rc = parse_type(p, &t)) < 0)
            goto fail;
        if ((rc = mk2(p, EN_CAST, 0, off, left, NULL, out)) < 0)
            return rc;
        (*out)->target = t;
        return 0;
    }
    if (kind == EN_IN) {
        expr__node *n = mk(p, EN_IN, off);
        if (!n) {
            rc = MR_ENOMEM;
            goto fail;
        }
        n->negate = neg;
        if ((rc = expr__add_kid(n, left)) < 0) {
            expr__node_free(n);
            return mr_err_set(p->err, MR_ENOMEM, "out of memory parsing an expression");
        }
        if ((rc = expect_op(p, "(")) < 0)
            goto fail_n;
        for (;;) {
            expr__node *x;
            if ((rc = parse_expr(p, 0, &x)) < 0)
                goto fail_n;
            if ((rc = expr__add_kid(n, x)) < 0) {
                mr_err_set(p->err, MR_ENOMEM, "out of memory parsing an expression");
                goto fail_n;
            }
            if (!is_op(p, ","))
                break;
            if ((rc = lex(p)) < 0)
                goto fail_n;
        }
        if ((rc = expect_op(p, ")")) < 0)
            goto fail_n;
        *out = n;
        return 0;
    fail_n:
        expr__node_free(n);
        return rc;
    }
    if (kind == EN_AND && op == 1) {
        /* x BETWEEN lo AND hi -> x >= lo AND x <= hi */
        expr__node *lo, *hi, *x2, *a, *b;
        if ((rc = parse_expr(p, P_LIKE, &lo)) < 0)
            goto fail;
        if ((rc = expect_kw(p, "and")) < 0 || (rc = parse_expr(p, P_LIKE, &hi)) < 0) {
            expr__node_free(lo);
            goto fail;
        }
        if (!(x2 = expr__node_clone(left))) {
            expr__node_free(lo);
            expr__node_free(hi);
            rc = mr_err_set(p->err, MR_ENOMEM, "out of memory parsing an expression");
            goto fail;
        }
        if ((rc = mk2(p, EN_CMP, ECMP_GE, off, left, lo, &a)) < 0) {
            expr__node_free(x2);
            expr__node_free(hi);
            return rc;
        }
        if ((rc = mk2(p, EN_CMP, ECMP_LE, off, x2, hi, &b)) < 0) {
            expr__node_free(a);
            return rc;
        }
        if ((rc = mk2(p, EN_AND, 0, off, a, b, out)) < 0)
            return rc;
        if (neg)
            return mk2(p, EN_NOT, 0, off, *out, NULL, out);
        return 0;
    }
    if ((rc = parse_expr(p, prec, &right)) < 0)
        goto fail;
    if (kind == EN_FUNC) {
        /* s ~ pattern: regexp_like(s, pattern), named by its operator */
        static const char *const names[] = {"~", "~*", "!~", "!~*"};
        if ((rc = mk2(p, EN_FUNC, EFN_REGEXP_LIKE, off, left, right, out)) < 0)
            return rc;
        (*out)->fndef = expr__func_lookup("regexp_like");
        (*out)->ci = op & 1;
        (*out)->negate = op >= 2;
        if (!((*out)->name = strdup(names[op])))
            return mr_err_set(p->err, MR_ENOMEM, "out of memory parsing an expression");
        return 0;
    }
    if ((rc = mk2(p, kind, kind == EN_LIKE ? 0 : op, off, left, right, out)) < 0)
        return rc;
    if (kind == EN_LIKE) {
        (*out)->ci = op == 1;
        (*out)->negate = neg;
    }
    return 0;
fail:
    expr__node_free(left);
    return rc;
}

static int parse_expr(parser *p, int min, expr__node **out)
{
    if (++p->depth > MAX_DEPTH) {
        p->depth--;
        return expr__err_at(p->err, MR_EPARSE, p->t.off, "expression nested too deeply");
    }
    expr__node *left;
    int rc = parse_prefix(p, &left);
    while (rc == 0) {
        int kind = 0, op = 0;
        bool neg;
        int prec = infix_prec(p, &kind, &op, &neg);
        if (prec <= min)
            break;
        rc = parse_infix(p, prec, kind, op, neg, left, &left);
    }
    p->depth--;
    if (rc < 0)
        return rc;
    *out = left;
    return 0;
}

int mr_expr_parse(const char *text, mr_expr **out, mr_err *err)
{
    *out = NULL;
    if (!text)
        return mr_err_set(err, MR_EINVAL, "no expression");
    parser p = {.text = text, .err = err};
    expr__node *root = NULL;
    int rc = lex(&p);
    if (rc == 0 && p.t.kind == TK_EOF)
        rc = expr__err_at(err, MR_EPARSE, 0, "empty expression");
    if (rc == 0)
        rc = parse_expr(&p, 0, &root);
    if (rc == 0 && p.t.kind != TK_EOF) {
        rc = perr(&p, p.t.off, "unexpected '%s' after the end of the expression", p.t.s,
                  p.t.len);
        expr__node_free(root);
    }
    if (rc < 0)
        return rc;
    mr_expr *e = calloc(1, sizeof *e);
    if (!e) {
        expr__node_free(root);
        return mr_err_set(err, MR_ENOMEM, "out of memory parsing an expression");
    }
    e->root = root;
    *out = e;
    return 0;
}

/* ---- the lexer for the statement layer (dag/sql_parse.c) ---------------- */

int mr_expr_lex(const char *text, size_t pos, mr_tok *t, mr_err *err)
{
    /* SQL's line comments and the two statement-only characters ('.' of a
     * qualified name, ';' after a statement) come first; everything else
     * is the expression lexer's own token. */
    for (;;) {
        while (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\n' || text[pos] == '\r')
            pos++;
        if (text[pos] != '-' || text[pos + 1] != '-')
            break;
        while (text[pos] && text[pos] != '\n')
            pos++;
    }
    if (text[pos] == ';' || (text[pos] == '.' && !isdigit((unsigned char)text[pos + 1]))) {
        t->kind = MR_TOK_OP;
        t->off = (int)pos;
        t->len = 1;
        return 0;
    }
    parser p = {.text = text, .pos = pos, .err = err};
    int rc = lex(&p);
    if (rc < 0)
        return rc;
    static const int kinds[] = {[TK_EOF] = MR_TOK_EOF, [TK_NUM] = MR_TOK_NUM,
                                [TK_STR] = MR_TOK_STR, [TK_IDENT] = MR_TOK_IDENT,
                                [TK_QIDENT] = MR_TOK_QIDENT, [TK_OP] = MR_TOK_OP};
    t->kind = kinds[p.t.kind];
    t->off = p.t.off;
    t->len = (int)p.t.len;
    return 0;
}
