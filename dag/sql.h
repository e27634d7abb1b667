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
enum { SQ_J_FIRST, SQ_J_INNER, SQ_J_LEFT, SQ_J_RIGHT, SQ_J_FULL };

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

#endif
