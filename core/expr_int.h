/* expr_int.h - private parts of the expression module shared by its files.
 *
 * The module is split as SQLite splits btree.c: expr_parse.c (text -> tree),
 * expr.c (binding: names -> column indices, types, implicit casts, constant
 * folding), expr_eval.c (vectorized evaluation of operators and casts) and
 * expr_func.c (the scalar function library, whose table also lists the
 * functions of expr_regex.c, expr_json.c, expr_text.c and expr_time.c).
 *
 * One struct, expr__node, serves both as the read-only tree built by the
 * parser and binder and as the holder of its evaluation scratch (the result
 * column and a few index arrays).  The scratch is why a bound expression may
 * be evaluated by one thread at a time: each task binds its own copy.
 */
#ifndef MR_EXPR_INT_H
#define MR_EXPR_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/batch.h"
#include "core/expr.h"

/* 128-bit integer for exact decimal intermediates. */
__extension__ typedef __int128 expr__i128;

typedef enum expr__kind {
    EN_LIT,      /* a constant; lnull/li/lf/ls hold it */
    EN_COL,      /* a column reference; name, then col after bind */
    EN_NEG,      /* unary minus */
    EN_NOT,
    EN_ARITH,    /* op: EOP_* */
    EN_CMP,      /* op: ECMP_* */
    EN_AND,
    EN_OR,
    EN_ISNULL,   /* negate: IS NOT NULL */
    EN_DISTINCT, /* IS DISTINCT FROM; negate: IS NOT DISTINCT FROM */
    EN_IN,       /* kids[0] IN (kids[1..]); negate: NOT IN */
    EN_LIKE,     /* kids[0] LIKE kids[1]; ci: ILIKE; negate: NOT LIKE */
    EN_CASE,     /* kids: cond, result, cond, result, ... [, else] */
    EN_CAST,     /* target; try_: try_cast */
    EN_CONCAT,   /* || */
    EN_FUNC,     /* fndef: the function; op: its EFN_* variant; name: as written */
} expr__kind;

enum { EOP_ADD, EOP_SUB, EOP_MUL, EOP_DIV, EOP_MOD };
enum { ECMP_EQ, ECMP_NE, ECMP_LT, ECMP_LE, ECMP_GT, ECMP_GE };

typedef enum expr__fn {
    EFN_COALESCE, EFN_NULLIF, EFN_GREATEST, EFN_LEAST, EFN_ABS, EFN_ROUND,
    EFN_FLOOR, EFN_CEIL, EFN_LOWER, EFN_UPPER, EFN_LENGTH, EFN_TRIM,
    EFN_LTRIM, EFN_RTRIM, EFN_SUBSTR, EFN_REPLACE, EFN_CONCAT, EFN_SPLIT_PART,
    EFN_MD5, EFN_DATE_TRUNC, EFN_DATE_PART, EFN_REGEXP_LIKE, EFN_REGEXP_REPLACE,
    EFN_REGEXP_SUBSTR, EFN_REGEXP_COUNT, EFN_JSON_EXTRACT_PATH_TEXT, EFN_JSON_ARRAY_LENGTH,
    EFN_JSON_TYPEOF, EFN_LPAD, EFN_RPAD, EFN_LEFT, EFN_RIGHT, EFN_STRPOS, EFN_INITCAP,
    EFN_REVERSE, EFN_REPEAT, EFN_STARTS_WITH, EFN_SHA256, EFN_TIMEZONE, EFN_TO_TIMESTAMP,
    EFN_TO_DATE, EFN_TO_CHAR, EFN_MAKE_DATE, EFN_NOW,
} expr__fn;

typedef struct expr__node expr__node;

/* One scalar function of the library (expr_func.c's table): the name
 * expressions call it by, the variant code its kernel reads from n->op
 * (several names and variants may share one kernel), its argument counts,
 * and two hooks.  bind checks and coerces the bound arguments, sets n->type
 * and any bound parameter (n->param); eval fills n->out for rows rows from
 * the evaluated arguments n->parts[0..nkids).  A function that must choose
 * which arguments to evaluate (coalesce) has eval_self instead, called with
 * the input batch. */
typedef struct expr__fndef {
    const char *name;
    int fn;       /* expr__fn */
    int min, max; /* argument counts; max -1: any */
    int (*bind)(expr__node *n, mr_err *err);
    int (*eval)(expr__node *n, size_t rows, mr_err *err);
    int (*eval_self)(expr__node *n, const mr_batch *in, const uint32_t *sel, size_t rows,
                     mr_err *err);
} expr__fndef;

struct expr__node {
    int kind;       /* expr__kind */
    int op;         /* EOP_* / ECMP_* / expr__fn */
    const expr__fndef *fndef; /* EN_FUNC: the function */
    int off;        /* byte offset of the node's token in the text */
    bool negate;
    bool ci;        /* ILIKE */
    bool try_;      /* try_cast */
    bool has_else;  /* CASE with an ELSE */
    bool unknown;   /* a quoted string literal not yet given a type */
    bool quoted;    /* a "quoted" column name: matched exactly */
    mr_type type;   /* result type, set by bind (literals: by the parser) */
    mr_type target; /* CAST target */
    int nkids;
    expr__node **kids;
    char *name;     /* column or function name, owned */
    int col;        /* column index after bind */
    int64_t param;  /* per-kind bound parameter (round digits, date unit; a
                     * cast to text: 1 for the output form, bool as t/f) */
    /* State a function builds once in bind (a compiled pattern), owned:
     * aux_free(aux) runs when the node is freed; never copied by clone. */
    void *aux;
    void (*aux_free)(void *aux);

    /* Literal value. */
    bool lnull;
    int64_t li;     /* bool, int32, int64, decimal, date, timestamp */
    double lf;
    mr_interval liv; /* interval */
    char *ls;       /* string bytes, owned */
    size_t lslen;

    /* Evaluation scratch, owned, kept across calls. */
    mr_column out;
    bool out_ready;
    size_t lit_rows; /* literals: rows of out already filled */
    uint32_t *phys, *pos, *idx;
    uint16_t *which;
    size_t scap;
    mr_column **parts; /* CASE/coalesce: the result column of each branch */
};

struct mr_expr {
    expr__node *root;
    bool bound;
};

/* ---- expr_parse.c ------------------------------------------------------ */
expr__node *expr__node_new(int kind, int off);
/* Appends kid to n->kids; 0 or MR_ENOMEM (kid is freed on failure). */
int expr__add_kid(expr__node *n, expr__node *kid);
/* Frees a node, its kids and its scratch; NULL is a no-op. */
void expr__node_free(expr__node *n);
/* Deep copy of an unbound subtree, or NULL when out of memory. */
expr__node *expr__node_clone(const expr__node *n);
/* Frees the evaluation scratch only. */
void expr__scratch_free(expr__node *n);

/* ---- kernel helpers shared by the function files (expr_func.c) --------- */
/* MR_ENOMEM with the one message of expression evaluation. */
int expr__oom(mr_err *err);
/* Row i of n's result set to NULL when any argument (n->parts) is NULL
 * there; true then. */
bool expr__null_row(expr__node *n, size_t i);
/* Room for len more chars at row i of string result o; where to write, or
 * NULL when out of memory.  Finish the row with expr__str_done. */
char *expr__str_room(mr_column *o, size_t i, size_t len);
void expr__str_done(mr_column *o, size_t i, size_t len);

/* ---- expr_eval.c ------------------------------------------------------- */
/* Evaluates n over the rows sel[0..rows) of in (sel NULL: rows 0..rows-1),
 * setting *res to a column that holds the results densely (row i for the
 * i-th selected row).  *res is owned by the tree (or is a column of in) and
 * stays valid until n is evaluated again. */
int expr__eval(expr__node *n, const mr_batch *in, const uint32_t *sel, size_t rows,
               mr_column **res, mr_err *err);
/* Makes sure n->out is initialised to n->type with room for rows rows. */
int expr__out_prep(expr__node *n, size_t rows);
/* Grows n's index arrays to rows entries. */
int expr__scratch_prep(expr__node *n, size_t rows);
/* Converts src rows [0, rows) to type dst->type into dst (already prepared).
 * try_: failures give NULL instead of MR_ECAST. */
int expr__cast_column(const mr_column *src, mr_column *dst, size_t rows, bool try_,
                      mr_err *err);
/* Builds n->out from per-row choices: which[i] is a part number (0xffff
 * for NULL) and idx[i] the row in n->parts[which[i]]. */
int expr__gather_parts(expr__node *n, size_t rows, mr_err *err);
/* Allocates n->parts for nparts parts (once). */
int expr__parts_prep(expr__node *n, int nparts);
/* coalesce: each argument evaluated only over the rows still NULL. */
int expr__eval_coalesce(expr__node *n, const mr_batch *in, const uint32_t *sel, size_t rows,
                        mr_err *err);
/* Bytewise comparison of two string rows (memcmp, then length): <0, 0, >0. */
int expr__strcmp_rows(const mr_column *a, size_t i, const mr_column *b, size_t j);
/* num / den rounded half away from zero. */
int64_t expr__div_round(expr__i128 num, expr__i128 den);
/* Whether a value of type from can be cast to type to. */
bool expr__castable(mr_type from, mr_type to);
/* Copies row k of src to row i of dst (same type; strings in row order). */
int expr__copy_row(mr_column *dst, size_t i, const mr_column *src, size_t k);
/* Writes the text form of row r of c (valid) into buf (cap >= 48); returns
 * the length.  Strings are returned by pointer instead via *p. */
size_t expr__format_value(const mr_column *c, size_t r, char *buf, size_t cap,
                          const char **p);

/* ---- expr_func.c ------------------------------------------------------- */
/* Looks a function name up (case-insensitive); its id or -1. */
const expr__fndef *expr__func_lookup(const char *name);
/* The closest known function name to name, or NULL. */
const char *expr__func_suggest(const char *name);
/* Types the call n (kids already bound); may insert casts on kids.
 * 0 or MR_ETYPE / MR_EINVAL with err->offset set. */
int expr__func_bind(expr__node *n, mr_err *err);
/* Evaluates the function node n (its kids evaluated by this call). */
int expr__func_eval(expr__node *n, const mr_batch *in, const uint32_t *sel, size_t rows,
                    mr_err *err);
/* Validates a date_part field / date_trunc unit name; its code or -1. */
int expr__date_field(const char *s, size_t n);
int expr__date_unit(const char *s, size_t n);

/* Coerces argument i of n to type id (string, int64 or timestamp); an
 * error at the argument's offset when it cannot be. */
int expr__need_type(expr__node *n, int i, int id, mr_err *err);

/* ---- expr_regex.c (regular expressions, PCRE2) ------------------------- */
/* regexp_like(s, pattern [, flags]); the operators ~ ~* !~ !~* are calls of
 * it with n->ci (~*) and n->negate (!~) set by the parser. */
int expr__bind_regexp_like(expr__node *n, mr_err *err);
int expr__eval_regexp_like(expr__node *n, size_t rows, mr_err *err);
int expr__bind_regexp_replace(expr__node *n, mr_err *err);
int expr__eval_regexp_replace(expr__node *n, size_t rows, mr_err *err);
int expr__bind_regexp_substr(expr__node *n, mr_err *err);
int expr__eval_regexp_substr(expr__node *n, size_t rows, mr_err *err);
int expr__bind_regexp_count(expr__node *n, mr_err *err);
int expr__eval_regexp_count(expr__node *n, size_t rows, mr_err *err);

/* ---- expr_json.c (JSON in text, yajl) ---------------------------------- */
int expr__bind_json_path(expr__node *n, mr_err *err);
int expr__eval_json_path(expr__node *n, size_t rows, mr_err *err);
int expr__bind_json_length(expr__node *n, mr_err *err);
int expr__eval_json_length(expr__node *n, size_t rows, mr_err *err);
int expr__bind_json_typeof(expr__node *n, mr_err *err);
int expr__eval_json_typeof(expr__node *n, size_t rows, mr_err *err);

/* ---- expr_text.c (string functions; utf8proc, Nettle) ------------------ */
int expr__bind_pad(expr__node *n, mr_err *err);       /* (string, int[, string]) */
int expr__bind_text_int(expr__node *n, mr_err *err);  /* (string, int) -> string */
int expr__bind_text(expr__node *n, mr_err *err);      /* (string) -> string */
int expr__bind_strpos(expr__node *n, mr_err *err);
int expr__bind_starts_with(expr__node *n, mr_err *err);
int expr__eval_pad(expr__node *n, size_t rows, mr_err *err);
int expr__eval_left_right(expr__node *n, size_t rows, mr_err *err);
int expr__eval_strpos(expr__node *n, size_t rows, mr_err *err);
int expr__eval_initcap(expr__node *n, size_t rows, mr_err *err);
int expr__eval_reverse(expr__node *n, size_t rows, mr_err *err);
int expr__eval_repeat(expr__node *n, size_t rows, mr_err *err);
int expr__eval_starts_with(expr__node *n, size_t rows, mr_err *err);
int expr__eval_sha256(expr__node *n, size_t rows, mr_err *err);
int expr__eval_case_map(expr__node *n, size_t rows, mr_err *err); /* upper, lower */
/* Unicode simple case mapping of s[0..n) into d, which has room for
 * EXPR_CASE_MAP_ROOM(n) bytes (a mapping can turn 2 bytes into 3); returns
 * the bytes written.  Bytes that are not UTF-8 are copied. */
#define EXPR_CASE_MAP_ROOM(n) ((n) * 2)
size_t expr__case_map(const char *s, size_t n, char *d, bool upper);

/* ---- expr_time.c (timestamptz, intervals, time zones, formats) --------- */
/* date_part fields (expr__date_field codes). */
enum { DF_YEAR, DF_QUARTER, DF_MONTH, DF_WEEK, DF_DAY, DF_DOW, DF_ISODOW, DF_DOY, DF_HOUR,
       DF_MINUTE, DF_SECOND, DF_MILLI, DF_MICRO, DF_EPOCH, DF_ISOYEAR, DF_DECADE,
       DF_CENTURY, DF_MILLENNIUM };
/* Types a +/- b where either side is a time or an interval: 1 when it
 * did (n->param set to the kernel, n->type to the result), 0 when the
 * operands are not time arithmetic, or an error. */
int expr__time_bind_arith(expr__node *n, mr_err *err);
int expr__time_arith(expr__node *n, const mr_column *a, const mr_column *b, size_t rows,
                     mr_err *err);
/* Casts between date, timestamp and timestamptz (dst prepared). */
void expr__time_cast(const mr_column *src, mr_column *dst, size_t rows);
/* PostgreSQL's interval order: months as 30 days, days as 24 hours. */
int expr__interval_cmp(const mr_interval *a, const mr_interval *b);
/* date_part(field, interval); field a DF_* code in n->param. */
int expr__bind_date_part_interval(expr__node *n, mr_err *err);
int expr__eval_date_part_interval(expr__node *n, size_t rows, mr_err *err);
/* The job's start instant for now(), per thread (the executor sets it
 * before building a task's operators; INT64_MIN: not set). */
void expr__set_now(int64_t micros);
int expr__bind_timezone(expr__node *n, mr_err *err);
int expr__eval_timezone(expr__node *n, size_t rows, mr_err *err);
/* expr_timefmt.c: to_timestamp, to_date, to_char */
int expr__bind_to_timestamp(expr__node *n, mr_err *err); /* also to_date */
int expr__eval_to_timestamp(expr__node *n, size_t rows, mr_err *err);
int expr__bind_to_char(expr__node *n, mr_err *err);
int expr__eval_to_char(expr__node *n, size_t rows, mr_err *err);
int expr__bind_make_date(expr__node *n, mr_err *err);
int expr__eval_make_date(expr__node *n, size_t rows, mr_err *err);
int expr__bind_now(expr__node *n, mr_err *err);
int expr__eval_now(expr__node *n, size_t rows, mr_err *err);

/* ---- expr.c ------------------------------------------------------------ */
/* Wraps *slot in a cast to t (folding literals at once); 0 or an error. */
int expr__coerce(expr__node **slot, mr_type t, mr_err *err);
/* Common type of a and b for comparison/union purposes; 0 or -1. */
int expr__common_type(mr_type a, mr_type b, mr_type *out);
/* Levenshtein distance, for "did you mean" suggestions. */
int expr__edit_distance(const char *a, const char *b);

/* Error helpers: set the message and the offset. */
int expr__err_at(mr_err *err, int code, int off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));


#endif
