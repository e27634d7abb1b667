/* sql.h - the `sql` op's statement layer, shared by its parser
 * (sql_parse.c) and its planner (sql_plan.c).
 *
 * A query is read into tokens by the expression language's own lexer
 * (mr_expr_lex), then into a tree of SELECT blocks whose expressions stay
 * token ranges: the expression grammar itself is the expression parser's,
 * run on each expression once its column names are resolved.  The planner
 * turns the tree into ordinary typed DAG nodes (join, filter, derive,
 * aggregate, select, distinct, sort, limit, union), so a query compiles to
 * the plan its hand-written nodes would.
 */
#ifndef MR_DAG_SQL_H
#define MR_DAG_SQL_H

#include "dag/dag_ops.h"

typedef struct sq_span {
    int a, b; /* tokens [a, b) */
} sq_span;

typedef struct sq_item {   /* one select-list item */
    sq_span e;
    int alias;             /* token of its alias, or -1 */
    int star;              /* '*' or 'q.*' */
    int star_qual;         /* token of q in 'q.*', or -1 */
} sq_item;

typedef struct sq_query sq_query;

enum { SQ_SET_UNION, SQ_SET_INTERSECT, SQ_SET_EXCEPT };
enum { SQ_J_FIRST, SQ_J_INNER, SQ_J_LEFT, SQ_J_RIGHT, SQ_J_FULL, SQ_J_CROSS };

typedef struct sq_from {   /* one FROM or JOIN item */
    int join;              /* SQ_J_* */
    int name;              /* token of the node or CTE name, or -1 for a subquery */
    sq_query *sub;         /* subquery */
    int alias;             /* token of the alias, or -1 */
    sq_span on;            /* ON condition (b == a when none) */
    int at;                /* token where the item starts, for messages */
} sq_from;

typedef struct sq_order {
    sq_span e;
    int desc, nulls; /* nulls: 0 default, 1 first, 2 last */
} sq_order;

typedef struct sq_select {
    int distinct;
    sq_item *items;
    int nitems;
    sq_from *from;
    int nfrom;
    sq_span where, having;
    sq_span *group;
    int ngroup;
    int at;           /* token of SELECT */
} sq_select;

typedef struct sq_cte {
    int name;         /* token */
    sq_query *q;
} sq_cte;

struct sq_query {
    int setop;        /* SQ_SET_*: how arms after the first combine */
    sq_cte *ctes;
    int nctes;
    sq_select **arms; /* one, or the arms of UNION [ALL] */
    int narms;
    int *all;         /* per arm after the first: UNION ALL (1) or UNION (0) */
    sq_order *order;
    int norder;
    long long limit;  /* -1 when none */
    int at;
};

typedef struct sq_sub {  /* a subquery inside an expression: ( query ) */
    int lparen, rparen;   /* its parentheses' tokens */
    sq_query *q;
} sq_sub;

typedef struct sq_tokens {
    const char *text;
    mr_tok *t;        /* n tokens, then one MR_TOK_EOF */
    int n;
    sq_sub *subs;     /* subqueries in expressions, by position */
    int nsubs, subcap;
} sq_tokens;

/* The subquery whose '(' is token i, or NULL. */
const sq_sub *sq_sub_at(const sq_tokens *tk, int i);

/* Token helpers. */
int sq_is_kw(const sq_tokens *tk, int i, const char *kw);
int sq_is_op(const sq_tokens *tk, int i, const char *op);
/* An identifier token's name (quoted names unquoted; bare names lower
 * case, as PostgreSQL folds them) in the arena. */
const char *sq_name(dag_arena *a, const sq_tokens *tk, int i);

/* Reads text into tokens and a query tree in arena a.  0, or -1 with
 * *erroff (byte offset in text) and msg (cap bytes) set. */
int sq_parse(dag_arena *a, const char *text, sq_tokens *tk, sq_query **out, int *erroff,
             char *msg, size_t cap);

/* The expansion pass: turns every `sql` node of d into typed nodes (one
 * per step, the last one keeping the sql node's id), before the graph is
 * checked.  Each step's keys are written when its inputs' schemas are
 * known: dag_sql_fill, from schema propagation. */
void dag_sql_expand(dag_ctx *c, dag *d);
/* Writes the step's node body (the keys its op reads) from its input
 * schemas; -1 after reporting when it cannot. */
int dag_sql_fill(dag_ctx *c, dag *d, dag_node *nd, mr_schema *const *ins);

/* The registry's entry: the keys of a sql node; validate and compile run
 * only for a sql node whose query did not expand (nothing to do then). */
extern const dv_keyspec dag_sql_keys[];
mr_schema *dag_sql_validate(dag_ctx *c, dag_node *nd, mr_schema *const *ins);
void dag_sql_compile(dag_pb *b, dag_frag *f, const dag_node *nd, int idx);

/* ---- the planner's state, shared by sql_names.c, sql_plan.c, sql_fill.c ---- */

enum { ST_JOIN, ST_FILTER, ST_DERIVE, ST_AGG, ST_SELECT, ST_DISTINCT, ST_SORT, ST_LIMIT,
       ST_UNION, ST_RENAME, ST_SEMI, ST_MARK, ST_SETAGG, ST_SETOUT, ST_WINDOW, ST_ONE };
typedef struct sq_ent {
    const char *qual, *name, *phys;
    int outer_key; /* 1: a key merged with the other side's by an outer join;
                    * 2: a hidden column (a CROSS JOIN's constant key) */
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
    int direct;          /* the aggregate's output is the select list: no select node */
    const char *alias;   /* direct: the name the next new aggregate takes */
    sq_span *extra;      /* ORDER BY items that are no output column: the select */
    int nextra;          /* computes them as hidden _o1, _o2 ..., dropped after the sort */
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

typedef struct rw {
    sq_q *q;
    const sq_scope *sc; /* names resolve here */
    sq_blk *blk;        /* aggregates: extract into blk (NULL: not allowed) */
    int post;           /* after the aggregate: columns must be grouped */
    const char *where;  /* the clause, for messages */
    int win_ok;         /* window calls read their window node's column */
} rw;

typedef struct sbuf {
    char *s;
    size_t n, cap;
    int oom;
} sbuf;


/* sql_names.c: arena memory, errors in the query, synthetic YAML for a
 * step's keys, scopes and name resolution, and expressions rewritten to
 * the columns a step reads. */
void *sq_zalloc(sq_q *q, size_t n);
void sq_qerr(sq_q *q, int tok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
ynode *sq_yscalar(sq_q *q, const char *text, int tok);
ynode *sq_ycoll(sq_q *q, ynode_kind kind, int cap, int tok);
void sq_yadd(ynode *coll, ynode *a, ynode *b);
void sq_ykey(sq_q *q, ynode *map, const char *key, ynode *v, int tok);
const char *sq_colref(sq_q *q, const char *name);
const char *sq_tokname(sq_q *q, int i);
int sq_is_name_tok(sq_q *q, int i);
int sq_resolve(sq_q *q, const sq_scope *sc, const char *qual, const char *name, int tok);
int sq_scope_add(sq_q *q, sq_scope *sc, int *cap, const char *qual, const char *name, const char *phys, int outer_key);
int sq_input_scope(sq_q *q, const dag_node *nd, int k, const mr_schema *in, sq_scope *out);
int sq_close_paren(sq_q *q, int i, int b);
int sq_is_agg(sq_q *q, int i);
int sq_not_a_column(sq_q *q, int i, int a);
void sq_sb_put(sbuf *s, const char *p, size_t n);
void sq_sb_str(sbuf *s, const char *p);
int sq_rewrite_into(rw *r, int a, int b, sbuf *s);
int sq_rewrite(rw *r, int a, int b, char **out);
int sq_rewrite_post(sq_q *q, sq_blk *bk, const sq_scope *pre, int a, int b, const char *where, char **out);
int sq_is_ref(sq_q *q, int a, int b);
int sq_conjuncts(sq_q *q, sq_span e, sq_span *out, int cap);
int sq_key_conjunct(sq_q *q, sq_span c, int *eq);

#endif
