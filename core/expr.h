/* expr.h - the expression language of DAG files: parse, bind, evaluate.
 *
 * SQL syntax with PostgreSQL semantics (see the DAG spec).  Life of an
 * expression: mr_expr_parse() turns text into a tree (no schema needed, so a
 * syntax error is found without data); mr_expr_bind() resolves column names
 * against an input schema, checks and infers types and inserts implicit
 * casts; mr_expr_eval() then evaluates it over whole batches.
 *
 * Errors carry err->offset, the byte offset in the text they point at, so
 * the DAG validator can report file:line:column inside a YAML value.
 *
 * Aggregate calls (count, sum, avg, min, max) are not expressions here:
 * core/agg.h peels them off and hands the argument text to this module.
 */
#ifndef MR_EXPR_H
#define MR_EXPR_H

#include "core/batch.h"
#include "core/error.h"
#include "core/types.h"

typedef struct mr_expr mr_expr;

/* Parses text into *out (caller owns it; free with mr_expr_destroy).
 * 0 or MR_EPARSE with err->offset set. */
int mr_expr_parse(const char *text, mr_expr **out, mr_err *err);

/* Resolves columns against schema and types the tree.  The expression keeps
 * no pointer to schema.  0, or MR_ENOTFOUND (unknown column; the message
 * suggests the closest name) / MR_ETYPE, with err->offset set. */
int mr_expr_bind(mr_expr *e, const mr_schema *schema, mr_err *err);

/* The result type of a bound expression. */
mr_type mr_expr_type(const mr_expr *e);

/* Evaluates a bound expression over the live rows of in.  The expression
 * keeps its evaluation scratch (result columns, index arrays) inside e, so
 * steady-state evaluation allocates nothing; for the same reason a given
 * mr_expr may be evaluated by one thread at a time (each task binds its
 * own).  out must have been
 * set up with mr_column_init(out, mr_expr_type(e), ...); it is grown as
 * needed and filled densely: out row i is the value for the i-th live row of
 * in (mr_batch_row(in, i)).  Errors (overflow, division by zero, failed cast)
 * return a negative code with a message that quotes the offending value. */
int mr_expr_eval(const mr_expr *e, const mr_batch *in, mr_column *out, mr_err *err);

/* If the whole expression is a bare column reference, its name (owned by
 * e), else NULL.  Lets operators pass columns through without copying. */
const char *mr_expr_column_name(const mr_expr *e);

void mr_expr_destroy(mr_expr *e); /* NULL is a no-op */

/* The instant now() and current_timestamp return (microseconds since the
 * epoch, UTC) in expressions bound later on the calling thread: the job's
 * start, which the executor sets before it builds a task's operators.
 * Unset (INT64_MIN), binding takes the current time. */
void mr_expr_set_now(int64_t micros);

/* The expression language's lexer, for the SQL statement layer
 * (dag/sql_parse.c), so both read one token grammar.  Lexes the token at
 * or after byte pos of text (blanks and -- comments skipped; '.' and ';'
 * are operators here): 0 with *t, or MR_EPARSE with err->offset set. */
typedef enum mr_tok_kind {
    MR_TOK_EOF, MR_TOK_NUM, MR_TOK_STR, MR_TOK_IDENT, MR_TOK_QIDENT, MR_TOK_OP
} mr_tok_kind;
typedef struct mr_tok {
    int kind; /* mr_tok_kind */
    int off;  /* byte offset in text */
    int len;
} mr_tok;
int mr_expr_lex(const char *text, size_t pos, mr_tok *t, mr_err *err);

#endif
