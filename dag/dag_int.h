/* dag_int.h - private interfaces shared by the files of the DAG front end.
 *
 * One mr_dag_compile() call owns one dag_ctx.  Everything it builds (the
 * YAML tree, substituted strings, the node model, the plan before packing)
 * lives in the ctx's arena and is released in one go at the end; only the
 * diagnostics (owned by the caller's mr_diags), the packed-and-unpacked
 * plan and the per-node mr_schema objects (destroyed explicitly) are
 * allocated elsewhere.
 */
#ifndef MR_DAG_INT_H
#define MR_DAG_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "core/types.h"
#include "dag/dag.h"
#include "proto/millrace.pb-c.h"

/* ---- arena (arena.c) ---------------------------------------------------- */

typedef struct dag_arena_block dag_arena_block;
typedef struct dag_arena {
    dag_arena_block *head;
    int failed; /* set once an allocation failed; callers check at the end */
} dag_arena;

/* Zeroed memory that lives until dag_arena_free; NULL (and failed set) when
 * out of memory. */
void *dag_arena_alloc(dag_arena *a, size_t n);
char *dag_arena_strndup(dag_arena *a, const char *s, size_t n);
char *dag_arena_strdup(dag_arena *a, const char *s);
char *dag_arena_printf(dag_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void dag_arena_free(dag_arena *a);

/* ---- YAML tree with positions (yaml_tree.c) ----------------------------- */

typedef enum ynode_kind { YN_SCALAR, YN_MAP, YN_SEQ } ynode_kind;

typedef enum ynode_style {
    YS_PLAIN, YS_SINGLE, YS_DOUBLE, YS_LITERAL, YS_FOLDED, YS_OTHER
} ynode_style;

typedef struct ynode ynode;
struct ynode {
    ynode_kind kind;
    ynode_style style;
    int line, col;       /* 1-based start (of the quote or indicator for scalars) */
    int end_line;        /* 1-based line the node ends on */
    char *text;          /* scalars: the value, NUL-terminated (after params) */
    size_t len;
    const char *raw;     /* scalars: the value as parsed, before params */
    size_t raw_len;
    int *srcmap;         /* when params changed text: raw offset of each text byte
                          * (len + 1 entries); NULL when text == raw */
    int subst_failed;    /* params substitution failed (reported): text is raw, so
                          * every other error about this value is left out */
    ynode **items;       /* seq: n items; map: n pairs as items[2i] key, items[2i+1] value */
    size_t n;
};

/* Parses one YAML document into a tree in arena a.  Anchors are accepted,
 * aliases are refused (a DAG needs none, and refusing them keeps the tree a
 * tree).  Returns the root, or NULL with *line, *col and msg (cap bytes) set
 * to the error. */
ynode *dag_yaml_load(dag_arena *a, const char *text, size_t len, int *line, int *col,
                     char *msg, size_t cap);

/* Value of key in a mapping node (NULL if absent or m is not a mapping). */
const ynode *ymap_get(const ynode *m, const char *key);
/* Key node of the pair holding key, or NULL. */
const ynode *ymap_key(const ynode *m, const char *key);
/* For each pair of mapping m, the index of the first earlier pair with the
 * same (scalar) key, or YMAP_NO_DUP; an arena array of m->n entries, NULL
 * when m is empty or memory ran out.  n log n. */
#define YMAP_NO_DUP ((size_t)-1)
size_t *ymap_dups(dag_arena *a, const ynode *m);
int yscalar_is_null(const ynode *n); /* empty plain scalar, "~" or "null" */
/* The one reading of YAML's boolean words (true/True/TRUE/yes/Yes/on and
 * their negations): 0 with *out set, or -1 when n is not one of them. */
int yscalar_bool(const ynode *n, int *out);
const char *ynode_kind_name(const ynode *n); /* "a string", "a mapping", "a list" */

/* ---- context and diagnostics (diag.c) ----------------------------------- */

typedef struct dag_ctx {
    dag_arena arena;
    const char *file;
    const char *src; /* the YAML text and its length, for positions inside values */
    size_t srclen;
    mr_diags *diags;
    int nerrors;
    int oom;
    const mr_dag_options *opt;
    const char *(*getenv)(const char *name);
    uint64_t deadline_ms; /* monotonic; see dag_over_time */
    int timed_out;
} dag_ctx;

/* Whether the compile has run past its deadline (mr_dag_options.max_compile_ms);
 * the first call that finds it so records one error at n.  Work that grows
 * with the DAG checks it and stops, so no DAG holds a thread for long. */
int dag_over_time(dag_ctx *c, const ynode *n, const char *node);

/* Records an error at a 1-based line/column about node (may be NULL). */
void dag_error_at(dag_ctx *c, int line, int col, const char *node, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Records an error at the start of YAML node n (1:1 when n is NULL). */
void dag_error(dag_ctx *c, const ynode *n, const char *node, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Records an error at byte offset off of scalar n's text (after params),
 * mapped back to the file: exact for plain and single-line quoted scalars
 * and for literal blocks, the scalar's start otherwise. */
void dag_error_in(dag_ctx *c, const ynode *n, int off, const char *node, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* The file line and column of byte off of scalar n's text, as
 * dag_error_in reports them. */
void dag_pos_in(const dag_ctx *c, const ynode *n, int off, int *line, int *col);
/* Sorts ctx's diagnostics by position (stable). */
void dag_diags_sort(mr_diags *d);

/* The candidate closest to word by edit distance, when close enough to be
 * a plausible typo; NULL otherwise. */
const char *dag_suggest(const char *word, const char *const *cands, size_t n);
/* " (did you mean 'x'?)" or "" — a static or arena string to append. */
const char *dag_did_you_mean(dag_ctx *c, const char *word, const char *const *cands, size_t n);

/* ---- params (params.c) -------------------------------------------------- */

typedef struct dag_params {
    const char **keys;
    const char **values;
    size_t n;
} dag_params;

/* Replaces ${name} by a param, ${env:NAME} by getenv(NAME) and $$ by $ in
 * text (len bytes); a lone $ stays.  On success returns 0 with *out (arena,
 * NUL-ended, *outlen bytes) and *map (arena; for each out byte the offset
 * of the text byte it came from, outlen + 1 entries) or *map NULL when
 * nothing changed.  On error returns MR_EINVAL with *erroff at the '$' and
 * the message in msg.  params may be NULL (then ${name} is an error, used
 * for the params' own values). */
int dag_subst(dag_arena *a, const char *text, size_t len, const dag_params *params,
              const char *(*getenv_fn)(const char *), char **out, size_t *outlen, int **map,
              int *erroff, char *msg, size_t cap);

/* The environment policy of one compile: set around it on the compiling
 * thread (dag_env_begin/end); dag_env_get is the ctx's getenv.  It returns
 * dag_env_denied (compare the pointer) for a name the policy refuses, and
 * records every value it returns in secrets. */
typedef struct dag_env_policy {
    const char *(*getenv)(const char *name); /* NULL: getenv */
    const char *const *allow;                /* NULL: MILLRACE_DAG_* */
    size_t nallow;
    mr_dag_secrets *secrets;
    mr_dag_secrets env_values; /* just what ${env:} read, for diagnostics */
    int oom;
} dag_env_policy;

extern const char dag_env_denied[];
void dag_env_begin(dag_env_policy *p);
void dag_env_end(void);
const char *dag_env_get(const char *name);

/* ---- the DAG model (validate.c) ----------------------------------------- */

typedef enum dag_op {
    DOP_READ, DOP_FILTER, DOP_SELECT, DOP_DERIVE, DOP_DROP, DOP_AGGREGATE, DOP_JOIN,
    DOP_UNION, DOP_DISTINCT, DOP_SORT, DOP_LIMIT, DOP_WRITE, DOP_WINDOW, DOP_CHECK, DOP_SQL, DOP_UNNEST, DOP__COUNT
} dag_op;

/* Each op's name, keys, checks and plan building: dag_ops[] (dag_ops.h). */

typedef struct dag_input {
    const ynode *ref; /* the scalar naming it */
    int node;         /* index in dag.nodes, or -1 when unresolved */
} dag_input;

/* A list of (name, text) pairs: projections, aggregates. */
typedef struct dag_named {
    const char **names;
    const char **texts;
    int n;
} dag_named;

/* The typed parts of each op, filled by validation (dag_validate) so the
 * stage compiler reads no YAML.  Strings point into the ctx arena (or the
 * YAML tree's, also the arena). */
typedef struct dag_read {
    Millrace__FileFormat format;
    const char *path;        /* as written, after params */
    int schema_inferred;     /* no 'schema' key: inferred at compile time */
    int csv_header;          /* csv options (defaults when absent) */
    char csv_delimiter, csv_quote;
    const char *csv_null;
    Millrace__OnError on_error;
    long long max_errors;    /* -1: no limit */
    Millrace__Compression compression; /* csv, jsonl: auto by the suffix */
    Millrace__Incremental incremental; /* incremental: files | {column: NAME} */
    const char *incremental_column;    /* "" unless a column */
    /* format postgres (dag/read_db.c): the variable the dsn came from, or
     * the literal dsn (no password); table or query ("" when absent) */
    const char *dsn_env, *dsn, *table, *query;
    const char *partition_column; /* "" when not partitioned */
    unsigned partitions;          /* ranges read in parallel (1: one task) */
} dag_read;

typedef struct dag_join {
    Millrace__JoinKind kind;
    const char **left_keys, **right_keys; /* key pairs */
    int nkeys;
    const char *right_prefix; /* "" when none */
} dag_join;

typedef struct dag_sort_key {
    const char *column;
    int desc, nulls_first; /* nulls_first resolved (the default depends on desc) */
} dag_sort_key;

typedef struct dag_write {
    Millrace__WriteTarget target;
    Millrace__WriteMode mode;
    const char *table, *path; /* warehouse: table; files: path ("" otherwise) */
    const char **key;         /* upsert key columns */
    int nkey;
    dag_sort_key *dedupe;     /* upsert: dedupe order_by (NULL: duplicates fail) */
    int ndedupe;
    const char *delete_where; /* upsert: the CDC delete predicate, NULL when none */
    Millrace__SchemaChange on_schema_change;
    Millrace__ParquetCodec compression; /* parquet: the page codec */
    uint64_t row_group_rows;  /* parquet: 0 default */
} dag_write;

/* One rule of a check node (dag/op_check.c). */
typedef struct dag_check_rule {
    const char *name;
    Millrace__CheckKind kind;
    Millrace__CheckAction action;
    const char *expr;     /* expect: as written; aggregate: rewritten over the final columns */
    const char *text;     /* aggregate: as written */
    const int *map;       /* aggregate: offset in text of each byte of expr */
    const char **columns; /* unique */
    int ncolumns;
    int has_min, has_max; /* row_count */
    long long min, max;
    const ynode *at;      /* the rule's value, for messages */
} dag_check_rule;

typedef struct dag_node {
    const char *id;
    const ynode *key;  /* the node id in the file */
    const ynode *body; /* its mapping */
    int op;            /* dag_op, or -1 when unknown */
    int ok;            /* keys present and of the right kinds */
    dag_input *inputs;
    int ninputs;
    int nconsumers;
    mr_schema *out;    /* output schema once propagated; NULL when unknown */
    /* Typed forms the stage compiler reads, filled by propagation. */
    const char *where;   /* filter */
    dag_named proj;      /* select, derive, drop: output name: expression */
    const char **group_by; /* aggregate; distinct: its columns (all when columns_all);
                            * window: partition_by */
    int ngroup_by;
    int columns_all;     /* distinct without 'columns' */
    dag_named aggs;      /* aggregate; window: its columns */
    mr_schema *partial;  /* aggregate: the partial's output (group columns, states) */
    dag_read read;
    dag_join join;
    dag_sort_key *sort_keys; /* sort; window: order_by */
    int nsort_keys;
    long long limit;     /* limit n */
    int distinct;        /* union distinct */
    dag_write write;
    /* Column pruning (optimize.c): a node whose output was narrowed keeps
     * its whole schema here (a read's is the file's; read_cols the
     * positions of the columns it outputs). */
    mr_schema *full_out;
    uint32_t *read_cols;
    int nread_cols;
    /* A join: the columns it reads of each input (NULL: all), so an input
     * that others read whole (a shared node) is narrowed before the
     * join's shuffle. */
    mr_schema *join_in[2];
    /* Filter pushdown (pushdown.c): conditions applied to this node's
     * output (names: the filter each came from; texts: the condition);
     * a read evaluates them in its scan.  scan_out: a read's scan output
     * when the pushed conditions read columns its readers do not. */
    dag_named pushed;
    mr_schema *scan_out;
    dag_check_rule *checks; /* check: its rules; aggs holds its aggregate calls, */
    int nchecks;            /* partial their states */
    mr_schema *check_final; /* check: the final aggregate's output (aggregate rules) */
    struct sq_step *sql; /* a step of a sql node's query (sql.h), or NULL */
} dag_node;

typedef struct dag {
    const char *name;
    dag_node *nodes;
    int n;
    int *order; /* topological order of the nodes that are not in a cycle */
    int norder;
    Millrace__WarehouseDriver wh_driver;
    const char *wh_path, *wh_dsn, *wh_schema;
    const char **post_sql;
    int npost_sql;
    int64_t broadcast_threshold; /* bytes; -1: not set in the DAG */
} dag;

/* Parses the YAML tree into d and checks everything; errors go to c.
 * d's schemas are destroyed by dag_model_free. */
void dag_validate(dag_ctx *c, const ynode *root, dag *d);
void dag_model_free(dag *d);

/* ---- optimizer (optimize.c) -------------------------------------------- */

/* Column pruning over a valid, typed model (see optimize.c); off when
 * MILLRACE_NO_OPTIMIZE is set to anything but 0. */
void dag_optimize(dag_ctx *c, dag *d);
/* Filter pushdown (see pushdown.c), run by dag_optimize. */
void dag_pushdown(dag_ctx *c, dag *d);
/* A node's pushed conditions as one AND (arena), NULL when none. */
const char *dag_pushed_text(dag_ctx *c, const dag_node *nd);

/* ---- stage compiler (compile.c) ----------------------------------------- */

/* Builds the plan of a valid DAG into c's arena; NULL with diagnostics for
 * constructs this build cannot compile (or when out of memory). */
Millrace__JobPlan *dag_compile_plan(dag_ctx *c, const dag *d);

/* Quotes a column name as an expression: "a" -> "\"a\"" (doubling quotes). */
const char *dag_quote_ident(dag_arena *a, const char *name);

#endif
