/* dag_ops.h - the registry of DAG op kinds, and what its per-op files
 * (dag/op_*.c) share: the validator's checks (validate.c) and the plan
 * builder's fragments (compile.c).
 *
 * One entry of dag_ops[] says everything the front end knows about an op:
 * its name in a DAG file, its keys (required, optional, value kinds), the
 * function that checks a node's keys against its input schemas, fills the
 * node's typed form (dag_node) and returns its output schema, and the
 * function that lays the typed node into the plan's stages.  validate.c
 * and compile.c hold no switch over ops: they run the shared passes
 * (params, keys, graph, schema order; fragments, shuffles, sharing) and
 * call the entry.  Explain works on the compiled plan and has its own
 * table by plan operator kind (explain.c), as the executor does
 * (executor/opbuild.c).
 */
#ifndef MR_DAG_OPS_H
#define MR_DAG_OPS_H

#include "dag/dag_int.h"

#include "core/expr.h"

/* ---- keys (validate.c) --------------------------------------------------- */

typedef enum dv_kkind { DV_K_STR, DV_K_MAP, DV_K_SEQ, DV_K_INT, DV_K_BOOL, DV_K_SCALAR, DV_K_ANY } dv_kkind;
/* DV_K_ANY: the op checks the value itself (a scalar or a mapping). */

typedef struct dv_keyspec {
    const char *key; /* NULL ends a table */
    int required;
    dv_kkind kind;
} dv_keyspec;

/* Whether map's keys fit specs: unknown keys (with a suggestion), missing
 * required ones and values of the wrong kind are reported; what names the
 * mapping in messages, at is where a missing key is reported.  1 when all
 * fit. */
int dv_check_keys(dag_ctx *c, const ynode *map, const dv_keyspec *specs, const char *what,
                  const ynode *at, const char *node);
/* An integer scalar: 0 with *out, or -1. */
int dv_parse_int(const ynode *v, long long *out);
/* The index of v's text in words (NULL-ended), or -1 after an error at v
 * naming the choices and the likeliest one. */
int dv_pick(dag_ctx *c, const ynode *v, const char *const *words, const char *what,
            const char *node);

/* ---- schemas and expressions (validate.c) ------------------------------- */

/* A schema being built in the arena; dv_sb_finish makes the mr_schema. */
typedef struct dv_sbuild {
    const char **names;
    mr_type *types;
    int n, cap;
} dv_sbuild;

void dv_sb_add(dag_ctx *c, dv_sbuild *b, const char *name, mr_type t);
int dv_sb_find(const dv_sbuild *b, const char *name);
mr_schema *dv_sb_finish(dag_ctx *c, const dv_sbuild *b); /* NULL (oom set) when out of memory */

/* Index of column v->text in s, or -1 after reporting it with a suggestion
 * (side names where it was looked for: "the left input"). */
int dv_find_column(dag_ctx *c, const mr_schema *s, const ynode *v, const char *node,
                   const char *side);
/* A type's name in the arena, for messages. */
const char *dv_type_str(dag_ctx *c, mr_type t);
/* Whether s has a placeholder column (type NULL): an earlier error's
 * column, kept so later nodes are still checked (validate.c says more). */
int dv_has_placeholder(const mr_schema *s);
/* Binds e (parsed from text, text_off bytes into the value) against in,
 * placeholders aside: 1 bound, 0 uses a placeholder, -1 with err set. */
int dv_bind_expr(dag_ctx *c, mr_expr *e, const char *text, int text_off, const mr_schema *in,
                 mr_err *err);
/* Parses v as an expression and binds it when in is known: 1 with *t, 0
 * when not checked, -1 after reporting (what prefixes the message). */
int dv_check_expr(dag_ctx *c, const ynode *v, const mr_schema *in, const char *what,
                  const char *node, mr_type *t);
/* Reports an expression whose type is NULL (no column may have it); -1
 * then, else 0. */
int dv_no_null_type(dag_ctx *c, const ynode *v, mr_type t, const char *col, const char *node);
/* A list of column names of in (list a YAML sequence): *names and *n in
 * the arena; unknown or repeated columns are reported.  0 when all fit. */
int dv_column_list(dag_ctx *c, dag_node *nd, const ynode *list, const mr_schema *in,
                   const char *side, const char ***names, int *n);
void dv_named_alloc(dag_ctx *c, dag_named *nm, size_t cap);
void dv_named_add(dag_named *nm, const char *name, const char *text);
/* The type both a and b widen to (int32 -> int64 -> decimal/float64); 0
 * when there is none. */
int dv_common_type(mr_type a, mr_type b, mr_type *out);

/* A list of sort keys (a YAML sequence under key name, in the grammar of
 * core/sortkey.h, parsed by its one parser) over the columns of in (when
 * known; side names it in messages): *keys and *n in the arena.  0 when
 * every key fits, -1 after reporting.  Sort and a write's dedupe use it. */
int dag_sort_keys_parse(dag_ctx *c, const dag_node *nd, const char *name, const ynode *by,
                        const mr_schema *in, const char *side, dag_sort_key **keys, int *n);

/* ---- plan fragments (compile.c) ----------------------------------------- */

/* Operators not yet cut into a stage. */
typedef struct dag_frag {
    Millrace__OpSpec **ops;
    size_t n, cap;
    int shuffled;        /* sources are shuffle reads (else scans) */
    uint32_t partitions; /* tasks, when shuffled */
    uint32_t *inputs;    /* producer stages, when shuffled */
    size_t ninputs, icap;
} dag_frag;

/* The plan being built. */
typedef struct dag_pb {
    dag_ctx *c;
    const dag *d;
    Millrace__Stage **stages;
    size_t nstages, cap;
    uint32_t partitions;
    int *shared;   /* node -> stage id + 1 of its shared output, 0 when not yet */
    int *folded;   /* node: a limit folded into the sort it reads */
    int64_t *topn; /* node: a sort's top N (-1: all) */
} dag_pb;

/* Arena memory and strings for plan messages ("" for NULL; never NULL). */
void *dag_pb_alloc(dag_pb *b, size_t n);
char *dag_pb_str(dag_pb *b, const char *s);
Millrace__Schema *dag_pb_schema(dag_pb *b, const mr_schema *s);
Millrace__NamedExpr **dag_pb_named(dag_pb *b, const char *const *names, const char *const *texts,
                                   int n);
char **dag_pb_strings(dag_pb *b, const char *const *s, int n);
/* Sort keys as plan messages (op_sort.c). */
Millrace__SortKey **dag_pb_sort_keys(dag_pb *b, const dag_sort_key *keys, int n);

/* Appends a new operator of kind for node nd with output schema out. */
Millrace__OpSpec *dag_op_new(dag_pb *b, dag_frag *f, Millrace__OpKind kind, const dag_node *nd,
                             Millrace__Schema *out);
/* The output schema of f's last operator (its root), or NULL. */
Millrace__Schema *dag_frag_schema(const dag_frag *f);
/* Moves src's operators to the end of dst; returns the index of src's
 * root in dst. */
uint32_t dag_frag_concat(dag_pb *b, dag_frag *dst, const dag_frag *src);
/* Cuts f into a new stage; returns it (NULL when out of memory). */
Millrace__Stage *dag_seal(dag_pb *b, dag_frag *f);
/* Seals f with a shuffle (hash on keys, round robin, or neither for one
 * partition) and replaces it by a fragment that reads that shuffle. */
void dag_seal_shuffle(dag_pb *b, dag_frag *f, const dag_node *nd, uint32_t partitions,
                      char **keys, size_t nkeys, int round_robin);
/* Column names of a schema. */
char **dag_schema_names(dag_pb *b, const Millrace__Schema *s, size_t *n);
/* Builds node idx's output as a fragment in f. */
void dag_build_node(dag_pb *b, int idx, dag_frag *f, int depth);
/* A project onto want's columns appended to f when f outputs more
 * (optimize.c: a union's inputs after column pruning). */
void dag_narrow(dag_pb *b, dag_frag *f, const dag_node *nd, const mr_schema *want);
/* distinct over cols (n == 0: every column) | hash(those) | distinct. */
void dag_emit_distinct(dag_pb *b, dag_frag *f, const dag_node *nd, char **cols, size_t n,
                       Millrace__Schema *out);
/* One partition already, or op | one partition | op again (sort, limit). */
void dag_emit_global(dag_pb *b, dag_frag *f, const dag_node *nd, Millrace__OpKind kind,
                     Millrace__SortKey **sort_keys, size_t nsort, int64_t limit);


/* ---- the registry --------------------------------------------------------- */

typedef struct dag_op_def {
    const char *name;        /* the `op:` word */
    const dv_keyspec *keys;  /* its keys; "op" and the input keys included */
    /* Builds its own inputs (a read has none; join and union several);
     * otherwise the compiler builds input 0's fragment before compile. */
    int own_inputs;
    /* Checks nd (keys present and of the right kinds) against its input
     * schemas ins[k] (NULL when unknown), fills its typed form, returns
     * its output schema (NULL when unknown). */
    mr_schema *(*validate)(dag_ctx *c, dag_node *nd, mr_schema *const *ins);
    /* Lays node idx (nd) into f, which holds its input's fragment unless
     * own_inputs. */
    void (*compile)(dag_pb *b, dag_frag *f, const dag_node *nd, int idx);
} dag_op_def;

extern const dag_op_def dag_ops[DOP__COUNT];

/* Each op's file: dag/op_NAME.c. */
#define DAG_OP_DECLARE(op)                                                                   \
    extern const dv_keyspec dag_##op##_keys[];                                               \
    mr_schema *dag_##op##_validate(dag_ctx *c, dag_node *nd, mr_schema *const *ins);         \
    void dag_##op##_compile(dag_pb *b, dag_frag *f, const dag_node *nd, int idx)
DAG_OP_DECLARE(read);
/* The read's database form (dag/read_db.c): keys that do not apply to the
 * read's kind, and a postgres read's checks, typed form and schema. */
void dag_read_db_check_keys(dag_ctx *c, dag_node *nd, int is_db);
mr_schema *dag_read_db_validate(dag_ctx *c, dag_node *nd);
DAG_OP_DECLARE(filter);
DAG_OP_DECLARE(project);
extern const dv_keyspec dag_drop_keys[]; /* compiles as a project */
mr_schema *dag_drop_validate(dag_ctx *c, dag_node *nd, mr_schema *const *ins);
DAG_OP_DECLARE(aggregate);
DAG_OP_DECLARE(join);
DAG_OP_DECLARE(union);
DAG_OP_DECLARE(distinct);
DAG_OP_DECLARE(sort);
DAG_OP_DECLARE(limit);
DAG_OP_DECLARE(write);
DAG_OP_DECLARE(window);
DAG_OP_DECLARE(check);
DAG_OP_DECLARE(unnest);

#endif
