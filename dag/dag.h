/* dag.h - the DAG front end: YAML DAG text -> validated, compiled JobPlan.
 *
 * mr_dag_compile() is the one entry point: it parses the YAML (keeping every
 * value's file position), substitutes params, checks the whole file against
 * the DAG format (docs/dag-format.md), propagates schemas through every node,
 * and cuts the graph into stages of fused operators at shuffles.  Every
 * problem it finds is reported at once as a diagnostic with file, line and
 * column, so a user fixes a file in one round -- up to 500 of them (then one
 * "too many errors"); a YAML syntax error or a DAG over max_nodes stops
 * before the checks, and a compile past max_compile_ms stops where it is.
 *
 * The plan it returns is a protobuf message owned by the caller; the
 * explain functions render one for people (text) and for the REST API (JSON).
 */
#ifndef MR_DAG_H
#define MR_DAG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/error.h"
#include "core/types.h"
#include "proto/millrace.pb-c.h"

/* One error found in a DAG.  Line and column are 1-based (column counts
 * characters); node is the DAG node id it is about, or NULL.  All strings
 * are owned by the mr_diags that holds the item. */
typedef struct mr_diag {
    char *file;
    int line;
    int column;
    char *node;
    char *message;
} mr_diag;

/* A growable list of diagnostics; init to {0}, free with mr_diags_free. */
typedef struct mr_diags {
    mr_diag *items;
    size_t n, cap;
} mr_diags;

/* Frees every item and the array, and resets d to empty.  NULL is a no-op. */
void mr_diags_free(mr_diags *d);
/* Prints each as "file:line:column: error: message", one per line. */
void mr_diags_print(const mr_diags *d, FILE *out);

typedef struct mr_param {
    const char *key;
    const char *value;
} mr_param;

/* Values that must never be shown: every value a ${env:NAME} substituted
 * and every secret-looking param (mr_param_is_secret).  Init to {0}, free
 * with mr_dag_secrets_free. */
typedef struct mr_dag_secrets {
    char **items;
    size_t n;
} mr_dag_secrets;

void mr_dag_secrets_free(mr_dag_secrets *s);
/* Adds a copy of v (no duplicates, empty ignored); MR_ENOMEM or 0. */
int mr_dag_secrets_add(mr_dag_secrets *s, const char *v);

/* Whether a param's value is a secret: its key contains password, passwd,
 * secret, token, key, dsn, credential or auth (any case), or its value
 * (when not NULL) holds a DSN password ("password=..." or
 * "scheme://user:pass@"). */
int mr_param_is_secret(const char *key, const char *value);

/* A copy of text (malloc'd; NULL when out of memory) with every secret of
 * s (may be NULL) replaced by "***" -- values of 4 bytes or more wherever
 * they occur, shorter ones only when they are the whole text -- and every
 * DSN password masked: "password=***", "scheme://user:***@host". */
char *mr_redact(const char *text, const mr_dag_secrets *s);

/* Applies mr_redact to every string of plan, in place (a plan meant for
 * showing: redact a copy, not the one that runs).  MR_ENOMEM or 0. */
int mr_plan_redact(Millrace__JobPlan *plan, const mr_dag_secrets *s);

/* For messages about the text itself (a DAG's diagnostics), where a parser
 * may quote a piece of a value: mr_redact, and first every run of 4 or
 * more bytes that also occurs in one of frag's values.  malloc'd or NULL. */
char *mr_redact_fragments(const char *text, const mr_dag_secrets *frag, const mr_dag_secrets *s);

/* The most nodes a DAG may have unless mr_dag_options.max_nodes says. */
#define MR_DAG_MAX_NODES 10000
/* The longest a compile may take unless mr_dag_options.max_compile_ms says. */
#define MR_DAG_MAX_COMPILE_MS 10000

typedef struct mr_dag_options {
    const char *file;                         /* shown in messages; NULL -> "<dag>" */
    const mr_param *params;                   /* overrides of the DAG's params */
    size_t nparams;
    const char *(*getenv)(const char *name);  /* for ${env:NAME}; NULL means getenv */
    uint32_t partitions;                      /* shuffle partitions; 0 -> 8 */
    /* Folder that relative read paths resolve against when a read without
     * a schema has its schema inferred from its first file at compile time
     * (the DAG file's folder for `millrace run`, the data root or the
     * request's base_dir for the API); NULL means the current directory. */
    const char *base_dir;
    /* Non-zero: a read whose path names no file is an error (the CLI's
     * validate, explain and run, where the files are local).  The API
     * leaves it 0, since a queued job's input may land before it runs. */
    int check_inputs;
    /* Every file the compile reads (schema inference) must resolve, symlinks
     * followed, below this folder (absolute, no trailing slash); NULL or "/"
     * means anywhere (the CLI's local commands). */
    const char *data_root;
    /* Glob patterns (fnmatch) of the environment variables ${env:NAME} may
     * read; NULL means MILLRACE_DAG_* only.  Others are an error. */
    const char *const *allow_env;
    size_t nallow_env;
    /* Filled (when not NULL) with the values to mask wherever the plan,
     * errors or the job are shown; diagnostics come back masked already. */
    mr_dag_secrets *secrets;
    size_t max_nodes; /* 0 -> MR_DAG_MAX_NODES */
    unsigned max_compile_ms; /* 0 -> MR_DAG_MAX_COMPILE_MS; past it: an error */
} mr_dag_options;

#define MR_DAG_DEFAULT_PARTITIONS 8

/* The shuffle partitions a coordinator without --partitions compiles a job
 * with: one per executor slot alive at submit, at most 64; 4 while fewer
 * than two slots are known (nothing has registered yet).
 * `millrace explain` uses the same rule for the executors `run` starts, so
 * the tasks it shows are the tasks that run. */
static inline uint32_t mr_dag_partitions_for_slots(unsigned slots)
{
    return slots < 2 ? 4 : slots > 64 ? 64 : slots;
}

/* Parses, validates and compiles DAG YAML text (len bytes; need not be
 * NUL-terminated).  opt may be NULL (all defaults).  On success returns 0
 * and sets *plan, which the caller frees with
 * millrace__job_plan__free_unpacked(plan, NULL).  On a bad DAG returns
 * MR_EINVAL with the errors found appended to diags (the caller inits
 * diags to {0} and frees it with mr_diags_free); MR_ENOMEM when memory ran
 * out.  *plan is NULL whenever the return is not 0. */
int mr_dag_compile(const char *yaml, size_t len, const mr_dag_options *opt,
                   Millrace__JobPlan **plan, mr_diags *diags);

/* A human-readable explain of a plan: one block per stage with its task
 * count, fused operators and shuffle edge or write.  Returns a malloc'd
 * string the caller frees, or NULL when out of memory. */
char *mr_plan_explain(const Millrace__JobPlan *plan);

/* The same plan as JSON text (malloc'd; NULL when out of memory), for the
 * REST API. */
char *mr_plan_json(const Millrace__JobPlan *plan);

#include "proto/plan_names.h" /* the words of the plan's enums */
#include "proto/schema_pb.h"

#endif
