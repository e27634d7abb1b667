/* validate.c - the DAG file -> checked model: keys, params, graph, schemas.
 *
 * Passes, in order, each reporting every problem it finds and going on:
 *   1. params: the DAG's declared params (their values may use ${env:X}),
 *      then the caller's overrides;
 *   2. a walk over the whole tree that rejects duplicate and non-string
 *      keys and substitutes params in every scalar value (params' own
 *      values excepted);
 *   3. top-level keys, warehouse, post_sql;
 *   4. nodes: id pattern, op, the op's keys (required, optional, unknown,
 *      value kinds), inputs;
 *   5. the graph: dangling inputs, write nodes used as inputs, cycles,
 *      nodes that feed nothing, and a topological order;
 *   6. schema propagation in that order: every node's output schema, with
 *      expressions parsed and bound (core/expr.h, core/agg.h) against its
 *      input schema.  A node whose input schema is unknown (because of an
 *      earlier error) still has its input-independent checks run, but is
 *      not type-checked, so one mistake does not cascade into many.
 * Propagation also fills the lowered forms the stage compiler reads
 * (projection lists, group_by, aggregates).
 *
 * Ownership: everything lives in the ctx arena except the per-node output
 * schemas (mr_schema, malloc'd), which dag_model_free destroys.
 */
#include "dag/dag_int.h"

#include <ctype.h>
#include <dirent.h>
#include <glob.h>
#include <limits.h>
#include <unistd.h>
#include <sys/stat.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/agg.h"
#include "core/csv.h"
#include "core/jsonl.h"
#include "core/expr.h"
#include "core/op/hashjoin.h"
#include "core/op/union.h"
#include "core/sortkey.h"

const char *const dag_op_names[DOP__COUNT] = {
    "read", "filter", "select", "derive", "drop", "aggregate",
    "join", "union", "distinct", "sort", "limit", "write",
};

/* ---- key tables ----------------------------------------------------------- */

typedef enum kkind { K_STR, K_MAP, K_SEQ, K_INT, K_BOOL, K_SCALAR } kkind;

typedef struct keyspec {
    const char *key;
    int required;
    kkind kind;
} keyspec;

static const keyspec top_keys[] = {
    {"version", 1, K_INT}, {"name", 1, K_STR},     {"description", 0, K_SCALAR},
    {"params", 0, K_MAP},  {"warehouse", 0, K_MAP}, {"nodes", 1, K_MAP},
    {"post_sql", 0, K_SEQ}, {NULL, 0, 0},
};
static const keyspec warehouse_keys[] = {
    {"driver", 0, K_STR}, {"path", 0, K_STR}, {"dsn", 0, K_STR}, {"schema", 0, K_STR}, {NULL, 0, 0},
};
static const keyspec csv_keys[] = {
    {"header", 0, K_BOOL}, {"delimiter", 0, K_STR}, {"quote", 0, K_STR}, {"null", 0, K_SCALAR},
    {NULL, 0, 0},
};

static const keyspec read_keys[] = {
    {"op", 1, K_STR},      {"format", 1, K_STR},   {"path", 1, K_STR},      {"schema", 0, K_MAP},
    {"csv", 0, K_MAP},     {"on_error", 0, K_STR}, {"max_errors", 0, K_INT}, {NULL, 0, 0},
};
static const keyspec filter_keys[] = {
    {"op", 1, K_STR}, {"input", 1, K_STR}, {"where", 1, K_STR}, {NULL, 0, 0},
};
static const keyspec project_keys[] = {
    {"op", 1, K_STR}, {"input", 1, K_STR}, {"columns", 1, K_MAP}, {NULL, 0, 0},
};
static const keyspec drop_keys[] = {
    {"op", 1, K_STR}, {"input", 1, K_STR}, {"columns", 1, K_SEQ}, {NULL, 0, 0},
};
static const keyspec aggregate_keys[] = {
    {"op", 1, K_STR}, {"input", 1, K_STR}, {"group_by", 0, K_SEQ}, {"aggregates", 0, K_MAP},
    {NULL, 0, 0},
};
static const keyspec join_keys[] = {
    {"op", 1, K_STR}, {"left", 1, K_STR}, {"right", 1, K_STR}, {"on", 1, K_SEQ},
    {"how", 0, K_STR}, {"right_prefix", 0, K_STR}, {NULL, 0, 0},
};
static const keyspec union_keys[] = {
    {"op", 1, K_STR}, {"inputs", 1, K_SEQ}, {"distinct", 0, K_BOOL}, {NULL, 0, 0},
};
static const keyspec distinct_keys[] = {
    {"op", 1, K_STR}, {"input", 1, K_STR}, {"columns", 0, K_SEQ}, {NULL, 0, 0},
};
static const keyspec sort_keys[] = {
    {"op", 1, K_STR}, {"input", 1, K_STR}, {"by", 1, K_SEQ}, {NULL, 0, 0},
};
static const keyspec limit_keys[] = {
    {"op", 1, K_STR}, {"input", 1, K_STR}, {"n", 1, K_INT}, {NULL, 0, 0},
};
static const keyspec write_keys[] = {
    {"op", 1, K_STR},     {"input", 1, K_STR}, {"to", 1, K_STR},   {"table", 0, K_STR},
    {"mode", 0, K_STR},   {"key", 0, K_SEQ},   {"path", 0, K_STR}, {NULL, 0, 0},
};

static const keyspec *const op_keys[DOP__COUNT] = {
    read_keys, filter_keys, project_keys, project_keys, drop_keys, aggregate_keys,
    join_keys, union_keys, distinct_keys, sort_keys, limit_keys, write_keys,
};

/* ---- small helpers ----------------------------------------------------------- */

static int parse_int(const ynode *v, long long *out)
{
    if (!v || v->kind != YN_SCALAR || v->len == 0)
        return -1;
    errno = 0;
    char *end;
    long long x = strtoll(v->text, &end, 10);
    if (errno || *end || end == v->text)
        return -1;
    *out = x;
    return 0;
}

static int parse_bool(const ynode *v, int *out)
{
    if (!v || v->kind != YN_SCALAR)
        return -1;
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "on"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No", "off"};
    for (size_t i = 0; i < 6; i++) {
        if (strcmp(v->text, yes[i]) == 0)
            return *out = 1, 0;
        if (strcmp(v->text, no[i]) == 0)
            return *out = 0, 0;
    }
    return -1;
}

static int is_id(const char *s, size_t max)
{
    if (!(*s >= 'a' && *s <= 'z'))
        return 0;
    size_t n = 0;
    for (; *s; s++, n++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return n <= max;
}

/* One of words (NULL-ended) or -1 with an error at v naming the choices. */
static int pick(dag_ctx *c, const ynode *v, const char *const *words, const char *what,
                const char *node)
{
    size_t n = 0;
    for (; words[n]; n++)
        if (strcmp(v->text, words[n]) == 0)
            return (int)n;
    char list[256] = "";
    for (size_t i = 0; i < n; i++) {
        strcat(list, i ? ", " : "");
        strcat(list, words[i]);
    }
    dag_error(c, v, node, "unknown %s '%s' (expected %s)%s", what, v->text, list,
              dag_did_you_mean(c, v->text, words, n));
    return -1;
}

static const char *kind_word(kkind k)
{
    switch (k) {
    case K_MAP: return "a mapping";
    case K_SEQ: return "a list";
    case K_INT: return "an integer";
    case K_BOOL: return "true or false";
    default: return "a string";
    }
}

/* Checks v against kind; reports and returns -1 when it does not fit. */
static int check_kind(dag_ctx *c, const ynode *v, kkind k, const char *key, const char *node)
{
    long long i;
    int b;
    switch (k) {
    case K_MAP:
    case K_SEQ:
        if (v->kind == (k == K_MAP ? YN_MAP : YN_SEQ))
            return 0;
        break;
    case K_INT:
        if (parse_int(v, &i) == 0)
            return 0;
        break;
    case K_BOOL:
        if (parse_bool(v, &b) == 0)
            return 0;
        break;
    case K_STR:
        if (v->kind == YN_SCALAR && !yscalar_is_null(v))
            return 0;
        break;
    case K_SCALAR:
        if (v->kind == YN_SCALAR)
            return 0;
        break;
    }
    if (yscalar_is_null(v))
        dag_error(c, v, node, "'%s' needs a value (%s)", key, kind_word(k));
    else if (v->kind == YN_SCALAR)
        dag_error(c, v, node, "'%s' must be %s, not '%s'", key, kind_word(k), v->text);
    else
        dag_error(c, v, node, "'%s' must be %s, not %s", key, kind_word(k), ynode_kind_name(v));
    return -1;
}

/* Whether some key of map is unknown and looks like a typo of key (it was
 * reported with a suggestion already, so "missing" would be noise). */
static int typo_of(const ynode *map, const char *key, const char *const *names, size_t nn)
{
    for (size_t i = 0; i < map->n; i++) {
        const ynode *k = map->items[2 * i];
        if (k->kind != YN_SCALAR)
            continue;
        int known = 0;
        for (size_t j = 0; j < nn; j++)
            known |= strcmp(names[j], k->text) == 0;
        const char *s = known ? NULL : dag_suggest(k->text, names, nn);
        if (s && strcmp(s, key) == 0)
            return 1;
    }
    return 0;
}

/* Checks map's keys against specs: unknown keys, missing required keys
 * (reported at missing_at), value kinds.  what names the map in messages
 * ("filter node 'paid'").  Returns 1 when all is well, else 0. */
static int check_keys(dag_ctx *c, const ynode *map, const keyspec *specs, const char *what,
                      const ynode *missing_at, const char *node)
{
    int ok = 1;
    const char *names[32];
    size_t nn = 0;
    for (const keyspec *s = specs; s->key; s++)
        names[nn++] = s->key;
    for (size_t i = 0; i < map->n; i++) {
        const ynode *k = map->items[2 * i], *v = map->items[2 * i + 1];
        if (k->kind != YN_SCALAR)
            continue; /* reported by the tree walk */
        const keyspec *s = specs;
        while (s->key && strcmp(s->key, k->text) != 0)
            s++;
        if (!s->key) {
            dag_error(c, k, node, "unknown key '%s' in %s%s", k->text, what,
                      dag_did_you_mean(c, k->text, names, nn));
            ok = 0;
        } else if (check_kind(c, v, s->kind, s->key, node) != 0) {
            ok = 0;
        }
    }
    for (const keyspec *s = specs; s->key; s++)
        if (s->required && !ymap_key(map, s->key) && !typo_of(map, s->key, names, nn)) {
            dag_error(c, missing_at, node, "missing required key '%s' in %s", s->key, what);
            ok = 0;
        }
    return ok;
}

/* ---- pass 1 and 2: params and substitution ---------------------------------- */

static void load_params(dag_ctx *c, const ynode *root, dag_params *p)
{
    const ynode *pm = ymap_get(root, "params");
    size_t cap = (pm && pm->kind == YN_MAP ? pm->n : 0) + c->opt->nparams;
    p->keys = dag_arena_alloc(&c->arena, (cap ? cap : 1) * sizeof *p->keys);
    p->values = dag_arena_alloc(&c->arena, (cap ? cap : 1) * sizeof *p->values);
    p->n = 0;
    if (!p->keys || !p->values)
        return;
    if (pm && pm->kind == YN_MAP) {
        for (size_t i = 0; i < pm->n; i++) {
            const ynode *k = pm->items[2 * i], *v = pm->items[2 * i + 1];
            if (k->kind != YN_SCALAR)
                continue;
            const char *s = k->text;
            int good = isalpha((unsigned char)*s) || *s == '_';
            for (; *s && good; s++)
                good = isalnum((unsigned char)*s) || *s == '_' || *s == '-' || *s == '.';
            if (!good)
                dag_error(c, k, NULL, "bad param name '%s': use letters, digits, '_', '-', '.'",
                          k->text);
            if (v->kind != YN_SCALAR) {
                dag_error(c, v, NULL, "param '%s' must be a string, not %s", k->text,
                          ynode_kind_name(v));
                continue;
            }
            char msg[512];
            char *out;
            size_t outlen;
            int *map, erroff;
            int rc = dag_subst(&c->arena, v->text, v->len, NULL, c->getenv, &out, &outlen, &map,
                               &erroff, msg, sizeof msg);
            if (rc == MR_EINVAL) {
                dag_error_in(c, v, erroff, NULL, "%s", msg);
                continue;
            }
            if (rc != 0)
                return;
            p->keys[p->n] = k->text;
            p->values[p->n++] = out;
        }
    }
    for (size_t i = 0; i < c->opt->nparams; i++) {
        const mr_param *o = &c->opt->params[i];
        size_t j = 0;
        while (j < p->n && strcmp(p->keys[j], o->key) != 0)
            j++;
        if (j < p->n) {
            p->values[j] = o->value;
            continue;
        }
        const ynode *at = pm ? ymap_key(root, "params") : root;
        dag_error(c, at, NULL, "param '%s' was given but the DAG declares no such param%s",
                  o->key, dag_did_you_mean(c, o->key, p->keys, p->n));
    }
}

/* Rejects duplicate and non-string keys in every mapping, and substitutes
 * params in every scalar value.  depth is bounded by the YAML loader. */
static void walk_values(dag_ctx *c, ynode *n, const dag_params *p, int top)
{
    if (n->kind == YN_SCALAR) {
        char msg[512];
        char *out;
        size_t outlen;
        int *map, erroff;
        int rc = dag_subst(&c->arena, n->raw, n->raw_len, p, c->getenv, &out, &outlen, &map,
                           &erroff, msg, sizeof msg);
        if (rc == MR_EINVAL) {
            dag_error_in(c, n, erroff, NULL, "%s", msg);
            n->subst_failed = 1;
        } else if (rc == 0) {
            n->text = out;
            n->len = outlen;
            n->srcmap = map;
        }
        return;
    }
    if (n->kind == YN_SEQ) {
        for (size_t i = 0; i < n->n; i++)
            walk_values(c, n->items[i], p, 0);
        return;
    }
    const size_t *dup = ymap_dups(&c->arena, n);
    for (size_t i = 0; i < n->n; i++) {
        const ynode *k = n->items[2 * i];
        ynode *v = n->items[2 * i + 1];
        if (k->kind != YN_SCALAR) {
            dag_error(c, k, NULL, "mapping keys must be strings, not %s", ynode_kind_name(k));
        } else if (dup && dup[i] != YMAP_NO_DUP) {
            dag_error(c, k, NULL, "duplicate key '%s' (first at line %d)", k->text,
                      n->items[2 * dup[i]]->line);
        }
        if (top && k->kind == YN_SCALAR && strcmp(k->text, "params") == 0)
            continue;
        walk_values(c, v, p, 0);
    }
}

/* ---- pass 3: top level -------------------------------------------------------- */

static void check_top(dag_ctx *c, const ynode *root, dag *d)
{
    check_keys(c, root, top_keys, "the top level of the DAG", root, NULL);
    const ynode *v = ymap_get(root, "version");
    long long ver;
    if (v && parse_int(v, &ver) == 0 && ver != 1)
        dag_error(c, v, NULL, "unsupported version %lld: this engine reads DAG format version 1",
                  ver);
    v = ymap_get(root, "name");
    if (v && v->kind == YN_SCALAR && !yscalar_is_null(v)) {
        if (!is_id(v->text, 1000))
            dag_error(c, v, NULL, "bad job name '%s': use [a-z][a-z0-9_]* (lower case letters, "
                      "digits, '_'; starting with a letter)", v->text);
        else if (v->len > 63)
            dag_error(c, v, NULL, "job name is %zu characters long; at most 63 are allowed",
                      v->len);
        d->name = v->text;
    }
    d->wh_driver = "sqlite";
    d->wh_path = "millrace.db";
    d->wh_dsn = d->wh_schema = "";
    const ynode *wh = ymap_get(root, "warehouse");
    if (wh && wh->kind == YN_MAP &&
        check_keys(c, wh, warehouse_keys, "warehouse", ymap_key(root, "warehouse"), NULL)) {
        static const char *const drivers[] = {"sqlite", "postgres", NULL};
        const ynode *dv = ymap_get(wh, "driver");
        int drv = dv ? pick(c, dv, drivers, "warehouse driver", NULL) : 0;
        const ynode *path = ymap_get(wh, "path"), *dsn = ymap_get(wh, "dsn"),
                    *sch = ymap_get(wh, "schema");
        if (drv == 0) {
            if (dsn)
                dag_error(c, dsn, NULL, "'dsn' is for driver postgres; sqlite takes a 'path'");
            if (sch)
                dag_error(c, sch, NULL, "'schema' is for driver postgres");
            if (path)
                d->wh_path = path->text;
        } else if (drv == 1) {
            d->wh_driver = "postgres";
            d->wh_path = "";
            if (path)
                dag_error(c, path, NULL, "'path' is for driver sqlite; postgres takes a 'dsn'");
            if (!dsn)
                dag_error(c, ymap_key(root, "warehouse"), NULL,
                          "warehouse driver postgres needs a 'dsn' (a libpq connection string, "
                          "e.g. ${env:MILLRACE_WAREHOUSE_DSN})");
            else
                d->wh_dsn = dsn->text;
            if (sch)
                d->wh_schema = sch->text;
        }
    }
    const ynode *ps = ymap_get(root, "post_sql");
    if (ps && ps->kind == YN_SEQ) {
        d->post_sql = dag_arena_alloc(&c->arena, (ps->n ? ps->n : 1) * sizeof *d->post_sql);
        for (size_t i = 0; d->post_sql && i < ps->n; i++) {
            const ynode *s = ps->items[i];
            if (s->kind != YN_SCALAR || yscalar_is_null(s))
                dag_error(c, s, NULL, "post_sql items must be SQL statements (strings), not %s",
                          ynode_kind_name(s));
            else
                d->post_sql[d->npost_sql++] = s->text;
        }
    }
}

/* ---- pass 4: nodes ------------------------------------------------------------- */

static void add_input(dag_ctx *c, dag_node *nd, const ynode *ref, size_t cap)
{
    if (!nd->inputs) {
        nd->inputs = dag_arena_alloc(&c->arena, cap * sizeof *nd->inputs);
        if (!nd->inputs)
            return;
    }
    nd->inputs[nd->ninputs].ref = ref;
    nd->inputs[nd->ninputs].node = -1;
    nd->ninputs++;
}

static void collect_inputs(dag_ctx *c, dag_node *nd)
{
    static const char *const keys[] = {"input", "left", "right"};
    const ynode *ins = ymap_get(nd->body, "inputs");
    size_t cap = 3 + (ins && ins->kind == YN_SEQ ? ins->n : 0);
    for (size_t i = 0; i < 3; i++) {
        const ynode *v = ymap_get(nd->body, keys[i]);
        if (v && v->kind == YN_SCALAR && !yscalar_is_null(v))
            add_input(c, nd, v, cap);
    }
    if (ins && ins->kind == YN_SEQ) {
        for (size_t i = 0; i < ins->n; i++) {
            if (ins->items[i]->kind == YN_SCALAR && !yscalar_is_null(ins->items[i]))
                add_input(c, nd, ins->items[i], cap);
            else
                dag_error(c, ins->items[i], nd->id, "'inputs' items must be node ids, not %s",
                          ynode_kind_name(ins->items[i]));
        }
    }
}

static void parse_nodes(dag_ctx *c, const ynode *root, dag *d)
{
    const ynode *nodes = ymap_get(root, "nodes");
    if (!nodes || nodes->kind != YN_MAP)
        return;
    if (nodes->n == 0) {
        dag_error(c, nodes, NULL, "'nodes' is empty: a DAG needs at least a read and a write");
        return;
    }
    d->nodes = dag_arena_alloc(&c->arena, nodes->n * sizeof *d->nodes);
    if (!d->nodes)
        return;
    for (size_t i = 0; i < nodes->n; i++) {
        const ynode *k = nodes->items[2 * i], *body = nodes->items[2 * i + 1];
        if (k->kind != YN_SCALAR)
            continue;
        /* A second node of the same id was reported as a duplicate key by
         * the tree walk; leaving it out keeps it from also "feeding
         * nothing" or shadowing the first one's checks. */
        int dup = 0;
        for (int j = 0; j < d->n && !dup; j++)
            dup = strcmp(d->nodes[j].id, k->text) == 0;
        if (dup)
            continue;
        dag_node *nd = &d->nodes[d->n++];
        nd->id = k->text;
        nd->key = k;
        nd->body = body;
        nd->op = -1;
        if (!is_id(k->text, 1000))
            dag_error(c, k, nd->id, "bad node id '%s': use [a-z][a-z0-9_]* (lower case letters, "
                      "digits, '_'; starting with a letter)", k->text);
        if (body->kind != YN_MAP) {
            dag_error(c, body, nd->id, "node '%s' must be a mapping with an 'op', not %s",
                      nd->id, ynode_kind_name(body));
            continue;
        }
        collect_inputs(c, nd);
        const ynode *op = ymap_get(body, "op");
        if (!op) {
            dag_error(c, k, nd->id, "node '%s' has no 'op' (one of read, filter, select, derive, "
                      "drop, aggregate, join, union, distinct, sort, limit, write)", nd->id);
            continue;
        }
        if (op->kind != YN_SCALAR) {
            dag_error(c, op, nd->id, "'op' must be a string, not %s", ynode_kind_name(op));
            continue;
        }
        for (int o = 0; o < DOP__COUNT; o++)
            if (strcmp(op->text, dag_op_names[o]) == 0)
                nd->op = o;
        if (nd->op < 0) {
            dag_error(c, op, nd->id, "unknown op '%s' in node '%s'%s", op->text, nd->id,
                      dag_did_you_mean(c, op->text, dag_op_names, DOP__COUNT));
            continue;
        }
        char what[160];
        snprintf(what, sizeof what, "%s node '%s'", dag_op_names[nd->op], nd->id);
        nd->ok = check_keys(c, body, op_keys[nd->op], what, k, nd->id);
    }
}

/* ---- pass 5: the graph ------------------------------------------------------------ */

typedef struct id_at {
    const char *id;
    int i;
} id_at;

static int id_at_cmp(const void *a, const void *b)
{
    const id_at *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* The first node named id, by binary search in byid (the nodes sorted by
 * id, then position): looking inputs up one by one was n^2. */
static int find_node(const id_at *byid, int n, const char *id)
{
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (strcmp(byid[mid].id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && strcmp(byid[lo].id, id) == 0 ? byid[lo].i : -1;
}

static void report_cycles(dag_ctx *c, dag *d, const int *done)
{
    /* Every node left out of the topological order has an input that is
     * also left out, so walking inputs backwards from one always enters a
     * cycle.  stamp[i] records the walk that visited i (and its step), so
     * each cycle is reported once. */
    int *stamp = dag_arena_alloc(&c->arena, (size_t)d->n * sizeof *stamp);
    int *step = dag_arena_alloc(&c->arena, (size_t)d->n * sizeof *step);
    int *path = dag_arena_alloc(&c->arena, ((size_t)d->n + 1) * sizeof *path);
    if (!stamp || !step || !path)
        return;
    for (int s = 0; s < d->n; s++) {
        if (done[s] || stamp[s])
            continue;
        int len = 0, x = s;
        while (!stamp[x]) {
            stamp[x] = s + 1;
            step[x] = len;
            path[len++] = x;
            int next = -1;
            for (int k = 0; k < d->nodes[x].ninputs && next < 0; k++) {
                int in = d->nodes[x].inputs[k].node;
                if (in >= 0 && !done[in])
                    next = in;
            }
            if (next < 0)
                break;
            x = next;
        }
        if (stamp[x] != s + 1 || len == 0)
            continue; /* ran into a cycle found by an earlier walk */
        /* path[step[x]..len) is the cycle, walked against the data flow. */
        int from = step[x], first = x;
        for (int i = from; i < len; i++)
            if (path[i] < first)
                first = path[i];
        char buf[1024];
        size_t off = 0;
        int at = step[first];
        for (int i = 0; i <= len - from && off < sizeof buf - 1; i++) {
            int idx = at - i;
            while (idx < from)
                idx += len - from;
            off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%s", i ? " -> " : "",
                                    d->nodes[path[idx]].id);
        }
        dag_error(c, d->nodes[first].key, d->nodes[first].id,
                  "cycle: %s (a DAG must be acyclic)", buf);
    }
}

static void check_graph(dag_ctx *c, dag *d)
{
    const char **ids = dag_arena_alloc(&c->arena, ((size_t)d->n + 1) * sizeof *ids);
    int *indeg = dag_arena_alloc(&c->arena, ((size_t)d->n + 1) * sizeof *indeg);
    int *done = dag_arena_alloc(&c->arena, ((size_t)d->n + 1) * sizeof *done);
    d->order = dag_arena_alloc(&c->arena, ((size_t)d->n + 1) * sizeof *d->order);
    if (!ids || !indeg || !done || !d->order)
        return;
    id_at *byid = dag_arena_alloc(&c->arena, ((size_t)d->n + 1) * sizeof *byid);
    if (!byid)
        return;
    for (int i = 0; i < d->n; i++) {
        ids[i] = d->nodes[i].id;
        byid[i] = (id_at){d->nodes[i].id, i};
    }
    qsort(byid, (size_t)d->n, sizeof *byid, id_at_cmp);
    for (int i = 0; i < d->n; i++) {
        dag_node *nd = &d->nodes[i];
        for (int k = 0; k < nd->ninputs; k++) {
            dag_input *in = &nd->inputs[k];
            int j = find_node(byid, d->n, in->ref->text);
            if (j < 0) {
                dag_error(c, in->ref, nd->id, "unknown input '%s' in node '%s'%s", in->ref->text,
                          nd->id, dag_did_you_mean(c, in->ref->text, ids, (size_t)d->n));
                continue;
            }
            if (d->nodes[j].op == DOP_WRITE) {
                dag_error(c, in->ref, nd->id, "'%s' is a write node; it has no output to read",
                          in->ref->text);
                continue;
            }
            in->node = j;
            d->nodes[j].nconsumers++;
            indeg[i]++;
        }
    }
    /* Kahn's algorithm; ready nodes are taken in file order as they come,
     * so the order is stable.  cons lists each node's consumers. */
    int *cstart = dag_arena_alloc(&c->arena, ((size_t)d->n + 1) * sizeof *cstart);
    int total = 0;
    for (int i = 0; i < d->n; i++)
        total += d->nodes[i].nconsumers;
    int *cons = dag_arena_alloc(&c->arena, ((size_t)total + 1) * sizeof *cons);
    int *fill = dag_arena_alloc(&c->arena, ((size_t)d->n + 1) * sizeof *fill);
    if (!cstart || !cons || !fill)
        return;
    for (int i = 0; i < d->n; i++)
        cstart[i + 1] = cstart[i] + d->nodes[i].nconsumers;
    for (int i = 0; i < d->n; i++)
        for (int k = 0; k < d->nodes[i].ninputs; k++) {
            int j = d->nodes[i].inputs[k].node;
            if (j >= 0)
                cons[cstart[j] + fill[j]++] = i;
        }
    for (int i = 0; i < d->n; i++)
        if (indeg[i] == 0)
            d->order[d->norder++] = i;
    for (int head = 0; head < d->norder; head++) {
        int j = d->order[head];
        done[j] = 1;
        for (int k = cstart[j]; k < cstart[j + 1]; k++)
            if (--indeg[cons[k]] == 0)
                d->order[d->norder++] = cons[k];
    }
    if (d->norder < d->n)
        report_cycles(c, d, done);
    /* With a dangling input somewhere, "feeds nothing" is likely the same
     * mistake seen from the other end: say it once. */
    for (int i = 0; i < d->n; i++)
        for (int k = 0; k < d->nodes[i].ninputs; k++)
            if (d->nodes[i].inputs[k].node < 0)
                return;
    for (int i = 0; i < d->n; i++) {
        const dag_node *nd = &d->nodes[i];
        if (nd->op >= 0 && nd->op != DOP_WRITE && nd->nconsumers == 0)
            dag_error(c, nd->key, nd->id,
                      "node '%s' feeds nothing: use it as an input of another node, or remove it",
                      nd->id);
    }
}

/* ---- pass 6: schemas ------------------------------------------------------------------ */

typedef struct sbuild {
    const char **names;
    mr_type *types;
    int n, cap;
} sbuild;

static void sb_add(dag_ctx *c, sbuild *b, const char *name, mr_type t)
{
    if (b->n == b->cap) {
        int cap = b->cap ? b->cap * 2 : 16;
        const char **names = dag_arena_alloc(&c->arena, (size_t)cap * sizeof *names);
        mr_type *types = dag_arena_alloc(&c->arena, (size_t)cap * sizeof *types);
        if (!names || !types)
            return;
        if (b->n) {
            memcpy(names, b->names, (size_t)b->n * sizeof *names);
            memcpy(types, b->types, (size_t)b->n * sizeof *types);
        }
        b->names = names;
        b->types = types;
        b->cap = cap;
    }
    b->names[b->n] = name;
    b->types[b->n++] = t;
}

static int sb_find(const sbuild *b, const char *name)
{
    for (int i = 0; i < b->n; i++)
        if (strcmp(b->names[i], name) == 0)
            return i;
    return -1;
}

static mr_schema *sb_finish(dag_ctx *c, const sbuild *b)
{
    mr_schema *s = mr_schema_create(b->n);
    if (!s) {
        c->oom = 1;
        return NULL;
    }
    for (int i = 0; i < b->n; i++)
        if (mr_schema_set(s, i, b->names[i], b->types[i]) != 0) {
            c->oom = 1;
            mr_schema_destroy(s);
            return NULL;
        }
    return s;
}

/* Index of column v->text in s, or -1 after reporting it with a suggestion. */
static int find_column(dag_ctx *c, const mr_schema *s, const ynode *v, const char *node,
                       const char *side)
{
    int i = mr_schema_find(s, v->text);
    if (i >= 0)
        return i;
    if (dag_over_time(c, v, node))
        return -1;
    const char **names = dag_arena_alloc(&c->arena, ((size_t)s->nfields + 1) * sizeof *names);
    if (!names)
        return -1;
    for (int k = 0; k < s->nfields; k++)
        names[k] = s->fields[k].name;
    dag_error(c, v, node, "unknown column '%s' in %s%s", v->text, side,
              dag_did_you_mean(c, v->text, names, (size_t)s->nfields));
    return -1;
}

static const char *type_str(dag_ctx *c, mr_type t)
{
    char buf[48];
    const char *s = dag_arena_strdup(&c->arena, mr_type_name(t, buf, sizeof buf));
    return s ? s : "?";
}

/* Placeholders: a select or derive column whose expression failed keeps
 * its place in the node's output schema with the type NULL (no real
 * column has it; see no_null_type), so later nodes are still checked
 * against the other columns.  An expression that uses a placeholder is
 * not checked: its error would only repeat the first one. */
static int has_placeholder(const mr_schema *s)
{
    for (int i = 0; s && i < s->nfields; i++)
        if (s->fields[i].type.id == MR_T_NULL)
            return 1;
    return 0;
}

/* Whether the column name that starts at byte off of text (bare or
 * "quoted") is a placeholder of s. */
static int names_placeholder(const char *text, int off, const mr_schema *s)
{
    if (off < 0 || (size_t)off >= strlen(text))
        return 0;
    const char *p = text + off;
    char name[256];
    size_t n = 0;
    if (*p == '"') {
        for (p++; *p && n + 1 < sizeof name; p++) {
            if (*p == '"' && p[1] != '"')
                break;
            if (*p == '"')
                p++;
            name[n++] = *p;
        }
    } else {
        while ((isalnum((unsigned char)*p) || *p == '_' || (unsigned char)*p >= 0x80) &&
               n + 1 < sizeof name)
            name[n++] = *p++;
    }
    name[n] = '\0';
    int i = mr_schema_find(s, name);
    return i >= 0 && s->fields[i].type.id == MR_T_NULL;
}

/* Binds e against in, placeholders aside.  Returns 1 when bound, 0 when e
 * uses a placeholder (nothing to report), -1 with err set. */
static int bind_expr(dag_ctx *c, mr_expr *e, const char *text, int text_off, const mr_schema *in,
                     mr_err *err)
{
    if (!has_placeholder(in))
        return mr_expr_bind(e, in, err) == 0 ? 1 : -1;
    int n = 0, bad = 0;
    for (int i = 0; i < in->nfields; i++)
        n += in->fields[i].type.id != MR_T_NULL;
    mr_schema *known = mr_schema_create(n);
    for (int i = 0, k = 0; known && i < in->nfields; i++)
        if (in->fields[i].type.id != MR_T_NULL)
            bad |= mr_schema_set(known, k++, in->fields[i].name, in->fields[i].type) != 0;
    if (!known || bad) {
        mr_schema_destroy(known);
        c->oom = 1;
        mr_err_set(err, MR_ENOMEM, "out of memory");
        return -1;
    }
    int rc = mr_expr_bind(e, known, err) == 0 ? 1 : -1;
    if (rc < 0 && err->code == MR_ENOTFOUND && err->offset >= 0 &&
        names_placeholder(text, err->offset + text_off, in))
        rc = 0;
    mr_schema_destroy(known);
    return rc;
}

/* Parses v's text as an expression and, when in is known, binds it.
 * Returns 1 with *t set when typed, 0 when not checked (in NULL), -1 after
 * reporting an error.  what is put in front of the message ("where"). */
static int check_expr(dag_ctx *c, const ynode *v, const mr_schema *in, const char *what,
                      const char *node, mr_type *t)
{
    mr_err err;
    mr_err_clear(&err);
    mr_expr *e = NULL;
    if (dag_over_time(c, v, node))
        return -1;
    if (mr_expr_parse(v->text, &e, &err) != 0) {
        if (err.code == MR_ENOMEM)
            c->oom = 1;
        dag_error_in(c, v, err.offset, node, "in %s: %s", what, err.msg);
        return -1;
    }
    int rc = 0;
    if (in) {
        rc = bind_expr(c, e, v->text, 0, in, &err);
        if (rc < 0) {
            if (err.code == MR_ENOMEM)
                c->oom = 1;
            dag_error_in(c, v, err.offset, node, "in %s: %s", what, err.msg);
        } else if (rc > 0) {
            *t = mr_expr_type(e);
        }
    }
    mr_expr_destroy(e);
    return rc;
}

static int no_null_type(dag_ctx *c, const ynode *v, mr_type t, const char *col, const char *node)
{
    if (t.id != MR_T_NULL)
        return 0;
    dag_error(c, v, node, "column '%s' has no type (it is always NULL): write "
              "CAST(NULL AS type)", col);
    return -1;
}

/* The first file (in sorted order) that path names: the file itself, the
 * first regular file of a folder (hidden and '_' names skipped, as the
 * coordinator does), or the first match of a glob.  Returns a malloc'd
 * path or NULL. */
static char *first_file(const char *full)
{
    struct stat sb;
    char *best = NULL;
    if (stat(full, &sb) == 0 && S_ISREG(sb.st_mode))
        return strdup(full);
    if (stat(full, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        DIR *dir = opendir(full);
        struct dirent *e;
        while (dir && (e = readdir(dir))) {
            if (e->d_name[0] == '.' || e->d_name[0] == '_')
                continue;
            char *p;
            if (asprintf(&p, "%s/%s", full, e->d_name) < 0)
                break;
            if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode) && (!best || strcmp(p, best) < 0)) {
                free(best);
                best = p;
            } else {
                free(p);
            }
        }
        if (dir)
            closedir(dir);
        return best;
    }
    glob_t g;
    memset(&g, 0, sizeof g);
    if (glob(full, 0, NULL, &g) == 0) /* sorted */
        for (size_t i = 0; i < g.gl_pathc && !best; i++)
            if (stat(g.gl_pathv[i], &sb) == 0 && S_ISREG(sb.st_mode))
                best = strdup(g.gl_pathv[i]);
    globfree(&g);
    return best;
}

/* Resolves a read's path against the base folder (malloc'd; NULL when out
 * of memory, with c->oom set). */
static char *resolve_read_path(dag_ctx *c, const char *path)
{
    const char *base = c->opt->base_dir;
    char *full = NULL;
    if (path[0] == '/' || !base || !base[0])
        full = strdup(path);
    else if (asprintf(&full, "%s/%s", base, path) < 0)
        full = NULL;
    if (!full)
        c->oom = 1;
    return full;
}

/* Reports that a read's path names no file: the path as written, as
 * resolved, and the folder relative paths resolve against. */
static void report_no_input(dag_ctx *c, const dag_node *nd, const ynode *path, const char *full,
                            const char *then)
{
    const char *base = c->opt->base_dir;
    struct stat sb;
    int dir = stat(full, &sb) == 0 && S_ISDIR(sb.st_mode);
    const char *what = dir                          ? "folder '%s' holds no input file"
                       : strpbrk(path->text, "*?[") ? "no input file matches '%s'"
                                                    : "input file '%s' does not exist";
    const char *head = dag_arena_printf(&c->arena, what, path->text);
    if (!head)
        return;
    if (path->text[0] == '/' || !base || !base[0])
        dag_error(c, path, nd->id, "%s%s", head, then);
    else
        dag_error(c, path, nd->id, "%s (resolved to '%s'; relative paths resolve against '%s')%s",
                  head, full, base, then);
}

/* A read with a schema, when inputs are checked: its path must name a
 * file now (a file, a folder holding one, or a glob matching one). */
static void check_input_exists(dag_ctx *c, dag_node *nd)
{
    const ynode *path = ymap_get(nd->body, "path");
    if (!c->opt->check_inputs || !path || path->kind != YN_SCALAR || path->subst_failed ||
        yscalar_is_null(path))
        return;
    char *full = resolve_read_path(c, path->text);
    if (!full)
        return;
    char *file = first_file(full);
    if (!file)
        report_no_input(c, nd, path, full, "");
    free(file);
    free(full);
}

/* Whether path resolves (symlinks followed) below root; NULL or "/" allow
 * all.  A path that does not exist is left to the caller's "no file". */
static int under_root(const char *root, const char *path)
{
    if (!root || !root[0] || strcmp(root, "/") == 0)
        return 1;
    char real[PATH_MAX];
    if (!realpath(path, real))
        return 0;
    size_t n = strlen(root);
    return strncmp(real, root, n) == 0 && (real[n] == '/' || real[n] == '\0');
}

/* The folder a path or glob names files in: up to the last '/' before the
 * first glob character (the path itself when it has none). */
static char *static_prefix(const char *full)
{
    size_t g = strcspn(full, "*?[");
    if (!full[g])
        return strdup(full);
    char *p = strndup(full, g);
    char *slash = p ? strrchr(p, '/') : NULL;
    if (slash)
        *(slash == p ? slash + 1 : slash) = '\0';
    return p;
}

/* A read without a schema: infer it from its first file at compile time
 * (core/csv.h, core/jsonl.h), so the plan carries a fixed schema that every
 * task and the warehouse agree on. */
static mr_schema *infer_schema(dag_ctx *c, dag_node *nd, int fmt, const ynode *csv)
{
    const ynode *path = ymap_get(nd->body, "path");
    if (!path || path->kind != YN_SCALAR)
        return NULL;
    char *full = resolve_read_path(c, path->text);
    if (!full)
        return NULL;
    /* Inference reads files as the runtime does: only below the data root. */
    const char *root = c->opt->data_root;
    char *dir = static_prefix(full);
    if (!dir) {
        free(full);
        c->oom = 1;
        return NULL;
    }
    int inside = under_root(root, dir) || access(dir, F_OK) != 0;
    free(dir);
    char *file = inside ? first_file(full) : NULL;
    if (file && !under_root(root, file)) {
        free(file);
        file = NULL;
        inside = 0;
    }
    if (!inside) {
        dag_error(c, path, nd->id, "cannot infer a schema: '%s' is outside the data root",
                  path->text);
        free(full);
        return NULL;
    }
    if (!file) {
        report_no_input(c, nd, path, full, ", so its schema cannot be inferred (or give a "
                        "'schema')");
        free(full);
        return NULL;
    }
    free(full);
    mr_schema *out = NULL;
    mr_err err;
    mr_err_clear(&err);
    int rc;
    if (fmt == 0) {
        mr_csv_options o;
        mr_csv_options_init(&o);
        const ynode *v;
        int h;
        if ((v = ymap_get(csv, "header")) && parse_bool(v, &h) == 0)
            o.header = h;
        if ((v = ymap_get(csv, "delimiter")) && v->kind == YN_SCALAR && v->len == 1)
            o.delimiter = v->text[0];
        if ((v = ymap_get(csv, "quote")) && v->kind == YN_SCALAR && v->len == 1)
            o.quote = v->text[0];
        if ((v = ymap_get(csv, "null")) && v->kind == YN_SCALAR)
            o.null_string = v->text;
        rc = mr_csv_infer_schema(file, &o, 0, &out, &err);
    } else {
        rc = mr_jsonl_infer_schema(file, 0, &out, &err);
    }
    if (rc != 0) {
        if (err.code == MR_ENOMEM)
            c->oom = 1;
        else
            dag_error(c, path, nd->id, "cannot infer a schema from '%s': %s; give a 'schema'",
                      file, err.msg);
        out = NULL;
    } else if (out->nfields == 0) {
        dag_error(c, path, nd->id, "cannot infer a schema from '%s': it has no columns; give a "
                  "'schema'", file);
        mr_schema_destroy(out);
        out = NULL;
    }
    free(file);
    return out;
}

static mr_schema *prop_read(dag_ctx *c, dag_node *nd)
{
    static const char *const formats[] = {"csv", "jsonl", NULL};
    static const char *const on_errors[] = {"fail", "skip", "reject", NULL};
    const ynode *b = nd->body, *v;
    int fmt = (v = ymap_get(b, "format")) ? pick(c, v, formats, "format", nd->id) : -1;
    const ynode *csv = ymap_get(b, "csv");
    if (csv && fmt == 1)
        dag_error(c, ymap_key(b, "csv"), nd->id, "'csv' options apply to format csv only");
    if (csv) {
        check_keys(c, csv, csv_keys, "csv options", ymap_key(b, "csv"), nd->id);
        const ynode *dl = ymap_get(csv, "delimiter"), *qt = ymap_get(csv, "quote");
        if (dl && dl->kind != YN_SCALAR)
            dl = NULL;
        if (qt && qt->kind != YN_SCALAR)
            qt = NULL;
        if (dl && (dl->len != 1 || dl->text[0] == '\n' || dl->text[0] == '\r'))
            dag_error(c, dl, nd->id, "delimiter must be one character (byte), not '%s'", dl->text);
        if (qt && qt->len != 1)
            dag_error(c, qt, nd->id, "quote must be one character (byte), not '%s'", qt->text);
        char dch = dl && dl->len == 1 ? dl->text[0] : ',';
        char qch = qt && qt->len == 1 ? qt->text[0] : '"';
        if (dch == qch)
            dag_error(c, dl ? dl : qt, nd->id, "delimiter and quote are both '%c'", dch);
    }
    int onerr = (v = ymap_get(b, "on_error")) ? pick(c, v, on_errors, "on_error", nd->id) : 0;
    long long me;
    if ((v = ymap_get(b, "max_errors")) && parse_int(v, &me) == 0) {
        /* on_error fail tolerates no bad row, which max_errors 0 says too:
         * only a positive limit contradicts it. */
        if (me < 0)
            dag_error(c, v, nd->id, "max_errors must be 0 or more, not %lld", me);
        else if (onerr == 0 && me > 0)
            dag_error(c, v, nd->id, "max_errors %lld contradicts on_error fail (which stops at "
                      "the first bad row); use on_error skip or reject, or leave max_errors out",
                      me);
    }
    const ynode *sch = ymap_get(b, "schema");
    if (!sch)
        return fmt < 0 ? NULL : infer_schema(c, nd, fmt, csv);
    check_input_exists(c, nd);
    if (sch->kind != YN_MAP)
        return NULL;
    if (sch->n == 0) {
        dag_error(c, sch, nd->id, "schema has no columns");
        return NULL;
    }
    sbuild sb = {0};
    int ok = 1;
    for (size_t i = 0; i < sch->n; i++) {
        const ynode *k = sch->items[2 * i], *t = sch->items[2 * i + 1];
        if (k->kind != YN_SCALAR)
            continue;
        if (k->len == 0) {
            dag_error(c, k, nd->id, "empty column name in schema");
            ok = 0;
        }
        mr_type ty;
        mr_err err;
        mr_err_clear(&err);
        if (t->kind != YN_SCALAR || yscalar_is_null(t)) {
            dag_error(c, t, nd->id, "column '%s' needs a type (bool, int32, int64, float64, "
                      "decimal(p,s), string, date, timestamp)", k->text);
            ok = 0;
        } else if (mr_type_parse(t->text, &ty, &err) != 0) {
            /* In a {flow} mapping an unquoted decimal(8,2) splits at the comma. */
            int split = strchr(t->text, '(') && !strchr(t->text, ')') && t->style == YS_PLAIN;
            dag_error(c, t, nd->id, "column '%s': %s%s", k->text, err.msg,
                      split ? " (inside { } quote it: \"decimal(8,2)\")" : "");
            ok = 0;
        } else {
            sb_add(c, &sb, k->text, ty);
        }
    }
    return ok ? sb_finish(c, &sb) : NULL;
}

static mr_schema *prop_filter(dag_ctx *c, dag_node *nd, const mr_schema *in)
{
    const ynode *w = ymap_get(nd->body, "where");
    mr_type t;
    int rc = check_expr(c, w, in, "where", nd->id, &t);
    nd->where = w->text;
    if (rc > 0 && t.id != MR_T_BOOL)
        dag_error(c, w, nd->id, "where must be a boolean expression; this one is %s",
                  type_str(c, t));
    /* A filter keeps its input's columns whatever its condition, so the
     * nodes after it are still checked after an error in the condition. */
    return in ? mr_schema_copy(in) : NULL;
}

static void named_alloc(dag_ctx *c, dag_named *nm, size_t cap)
{
    nm->names = dag_arena_alloc(&c->arena, (cap ? cap : 1) * sizeof *nm->names);
    nm->texts = dag_arena_alloc(&c->arena, (cap ? cap : 1) * sizeof *nm->texts);
    nm->n = 0;
}

static void named_add(dag_named *nm, const char *name, const char *text)
{
    if (!nm->names || !nm->texts)
        return;
    nm->names[nm->n] = name;
    nm->texts[nm->n++] = text;
}

/* select and derive: columns is an ordered map name: expression. */
static mr_schema *prop_project(dag_ctx *c, dag_node *nd, const mr_schema *in)
{
    const ynode *cols = ymap_get(nd->body, "columns");
    int derive = nd->op == DOP_DERIVE;
    if (cols->n == 0) {
        dag_error(c, cols, nd->id, "'columns' is empty: %s needs at least one column",
                  derive ? "derive" : "select");
        return NULL;
    }
    int ok = 1;
    mr_type *types = dag_arena_alloc(&c->arena, cols->n * sizeof *types);
    if (!types)
        return NULL;
    for (size_t i = 0; i < cols->n; i++) {
        const ynode *k = cols->items[2 * i], *v = cols->items[2 * i + 1];
        if (k->kind != YN_SCALAR)
            continue;
        if (k->len == 0) {
            dag_error(c, k, nd->id, "empty column name");
            ok = 0;
        }
        if (v->kind != YN_SCALAR || yscalar_is_null(v)) {
            dag_error(c, v, nd->id, "column '%s' needs an expression", k->text);
            ok = 0;
            continue;
        }
        char what[160];
        snprintf(what, sizeof what, "column '%.100s'", k->text);
        types[i] = mr_type_make(MR_T_NULL); /* a placeholder unless typed below */
        int rc = check_expr(c, v, in, what, nd->id, &types[i]);
        if (rc > 0 && no_null_type(c, v, types[i], k->text, nd->id) != 0)
            types[i] = mr_type_make(MR_T_NULL);
    }
    if (!ok || !in)
        return NULL;
    sbuild sb = {0};
    named_alloc(c, &nd->proj, cols->n + (size_t)in->nfields);
    if (derive) {
        for (int f = 0; f < in->nfields; f++) {
            const char *name = in->fields[f].name;
            const ynode *v = ymap_get(cols, name);
            mr_type t = in->fields[f].type;
            const char *text = dag_quote_ident(&c->arena, name);
            for (size_t i = 0; v && i < cols->n; i++)
                if (cols->items[2 * i + 1] == v)
                    t = types[i];
            if (v)
                text = v->text;
            sb_add(c, &sb, name, t);
            named_add(&nd->proj, name, text);
        }
    }
    for (size_t i = 0; i < cols->n; i++) {
        const ynode *k = cols->items[2 * i], *v = cols->items[2 * i + 1];
        if (derive && mr_schema_find(in, k->text) >= 0)
            continue;
        sb_add(c, &sb, k->text, types[i]);
        named_add(&nd->proj, k->text, v->text);
    }
    return sb_finish(c, &sb);
}

/* Whether a name in a column list that is no column is rather an
 * expression: it holds a call's parentheses, an operator or a cast ('-' is
 * left out, as column names often hold one). */
static int looks_like_expr(const char *s)
{
    for (; *s; s++)
        if (strchr("()+*/%|:<>=", *s))
            return 1;
    return 0;
}

/* Checks a list of column names against in; fills names/n (arena).  Returns
 * 0 when all are known and distinct. */
static int column_list(dag_ctx *c, dag_node *nd, const ynode *list, const mr_schema *in,
                       const char *side, const char ***names, int *n)
{
    int ok = 1;
    *names = dag_arena_alloc(&c->arena, (list->n ? list->n : 1) * sizeof **names);
    *n = 0;
    if (!*names)
        return -1;
    for (size_t i = 0; i < list->n; i++) {
        const ynode *v = list->items[i];
        if (v->kind != YN_SCALAR || yscalar_is_null(v)) {
            dag_error(c, v, nd->id, "expected a column name, not %s", ynode_kind_name(v));
            ok = 0;
            continue;
        }
        for (int j = 0; j < *n; j++)
            if (strcmp((*names)[j], v->text) == 0) {
                dag_error(c, v, nd->id, "column '%s' is listed twice", v->text);
                ok = 0;
            }
        if (in && mr_schema_find(in, v->text) < 0 && looks_like_expr(v->text)) {
            dag_error(c, v, nd->id, "'%s' is an expression, and %s takes column names: compute "
                      "it in a derive node before this one and list the new column", v->text,
                      ymap_key(nd->body, "group_by") ? "group_by" : "this list");
            ok = 0;
        } else if (in && find_column(c, in, v, nd->id, side) < 0) {
            ok = 0;
        }
        (*names)[(*n)++] = v->text;
    }
    return ok ? 0 : -1;
}

static mr_schema *prop_drop(dag_ctx *c, dag_node *nd, const mr_schema *in)
{
    const ynode *cols = ymap_get(nd->body, "columns");
    const char **names;
    int n;
    if (column_list(c, nd, cols, in, "the input of the drop", &names, &n) != 0 || !in)
        return NULL;
    if (n == 0) {
        dag_error(c, cols, nd->id, "'columns' is empty: list the columns to drop");
        return NULL;
    }
    if (n >= in->nfields) {
        dag_error(c, cols, nd->id, "drop would remove every column");
        return NULL;
    }
    sbuild sb = {0};
    named_alloc(c, &nd->proj, (size_t)in->nfields);
    for (int f = 0; f < in->nfields; f++) {
        int gone = 0;
        for (int k = 0; k < n; k++)
            gone |= strcmp(names[k], in->fields[f].name) == 0;
        if (gone)
            continue;
        sb_add(c, &sb, in->fields[f].name, in->fields[f].type);
        named_add(&nd->proj, in->fields[f].name, dag_quote_ident(&c->arena, in->fields[f].name));
    }
    return sb_finish(c, &sb);
}

/* Offset of an aggregate's argument in its text ("count( distinct x)" -> 16),
 * so that errors binding the argument point into the whole text. */
static int agg_arg_offset(const char *t)
{
    size_t i = 0;
    while (isspace((unsigned char)t[i]))
        i++;
    while (isalnum((unsigned char)t[i]) || t[i] == '_')
        i++;
    while (isspace((unsigned char)t[i]))
        i++;
    if (t[i] == '(')
        i++;
    while (isspace((unsigned char)t[i]))
        i++;
    if (strncasecmp(t + i, "distinct", 8) == 0 && !isalnum((unsigned char)t[i + 8]) &&
        t[i + 8] != '_') {
        i += 8;
        while (isspace((unsigned char)t[i]))
            i++;
    }
    return (int)i;
}

static mr_schema *prop_aggregate(dag_ctx *c, dag_node *nd, const mr_schema *in)
{
    const ynode *gb = ymap_get(nd->body, "group_by"), *ag = ymap_get(nd->body, "aggregates");
    int ok = 1;
    sbuild sb = {0};
    nd->group_by = NULL;
    nd->ngroup_by = 0;
    if (gb && column_list(c, nd, gb, in, "the input of the aggregate", &nd->group_by,
                          &nd->ngroup_by) != 0)
        ok = 0;
    if ((!gb || gb->n == 0) && (!ag || ag->n == 0)) {
        dag_error(c, nd->key, nd->id, "aggregate node '%s' needs 'group_by' columns, "
                  "'aggregates', or both", nd->id);
        return NULL;
    }
    if (ok && in)
        for (int i = 0; i < nd->ngroup_by; i++)
            sb_add(c, &sb, nd->group_by[i], in->fields[mr_schema_find(in, nd->group_by[i])].type);
    named_alloc(c, &nd->aggs, ag ? ag->n : 0);
    for (size_t i = 0; ag && i < ag->n; i++) {
        const ynode *k = ag->items[2 * i], *v = ag->items[2 * i + 1];
        if (k->kind != YN_SCALAR)
            continue;
        if (v->kind != YN_SCALAR || yscalar_is_null(v)) {
            dag_error(c, v, nd->id, "aggregate '%s' needs an expression such as sum(x)", k->text);
            ok = 0;
            continue;
        }
        if (k->len == 0) {
            dag_error(c, k, nd->id, "empty column name");
            ok = 0;
        }
        for (int g = 0; g < nd->ngroup_by; g++)
            if (strcmp(nd->group_by[g], k->text) == 0) {
                dag_error(c, k, nd->id, "aggregate '%s' has the name of a group_by column",
                          k->text);
                ok = 0;
            }
        named_add(&nd->aggs, k->text, v->text);
        mr_agg_kind kind;
        mr_expr *arg = NULL;
        mr_err err;
        mr_err_clear(&err);
        /* A bad aggregate expression leaves a placeholder (see
         * has_placeholder), so the nodes after this one are still checked. */
        if (mr_agg_parse(v->text, &kind, &arg, &err) != 0) {
            dag_error_in(c, v, err.offset, nd->id, "in aggregate '%s': %s", k->text, err.msg);
            sb_add(c, &sb, k->text, mr_type_make(MR_T_NULL));
            continue;
        }
        mr_type at = mr_type_make(MR_T_INT64), rt;
        int bound = in && arg ? bind_expr(c, arg, v->text, agg_arg_offset(v->text), in, &err) : 1;
        if (in && bound < 0) {
            int off = err.offset >= 0 ? err.offset + agg_arg_offset(v->text) : -1;
            dag_error_in(c, v, off, nd->id, "in aggregate '%s': %s", k->text, err.msg);
            sb_add(c, &sb, k->text, mr_type_make(MR_T_NULL));
        } else if (in && bound == 0) {
            sb_add(c, &sb, k->text, mr_type_make(MR_T_NULL));
        } else if (in) {
            if (arg)
                at = mr_expr_type(arg);
            if (mr_agg_result_type(kind, at, &rt, &err) != 0) {
                dag_error_in(c, v, agg_arg_offset(v->text), nd->id, "in aggregate '%s': %s",
                             k->text, err.msg);
                sb_add(c, &sb, k->text, mr_type_make(MR_T_NULL));
            } else {
                sb_add(c, &sb, k->text, rt);
            }
        }
        mr_expr_destroy(arg);
    }
    return ok && in ? sb_finish(c, &sb) : NULL;
}

/* The type both a and b widen to (int32 -> int64 -> decimal/float64); 0
 * when there is none. */
static int common_type(mr_type a, mr_type b, mr_type *out)
{
    return mr_type_common(a, b, &MR_WIDEN_NUMERIC, out) == 0;
}

/* Types whose equal values hash equal share a class (core/hash.c hashes
 * int32, int64 and decimals by their integer, decimals scaled). */
static int hash_class(mr_type t)
{
    if (t.id == MR_T_INT32 || t.id == MR_T_INT64 || (t.id == MR_T_DECIMAL && t.scale == 0))
        return 0;
    if (t.id == MR_T_DECIMAL)
        return 100 + t.scale;
    return t.id + 1;
}

static mr_schema *prop_join(dag_ctx *c, dag_node *nd, const mr_schema *l, const mr_schema *r)
{
    static const char *const hows[] = {"inner", "left", "right", "full", "semi", "anti", NULL};
    const ynode *b = nd->body, *v;
    int how = (v = ymap_get(b, "how")) ? pick(c, v, hows, "join type", nd->id) : 0;
    const ynode *pre = ymap_get(b, "right_prefix");
    const char *prefix = pre ? pre->text : "";
    const ynode *on = ymap_get(b, "on");
    int ok = how >= 0, hash_bad = 0;
    if (on->n == 0) {
        dag_error(c, on, nd->id, "'on' is empty: list the join columns");
        return NULL;
    }
    /* Keys: left name, right name, and whether they share a name (USING). */
    const char **lk = dag_arena_alloc(&c->arena, on->n * sizeof *lk);
    const char **rk = dag_arena_alloc(&c->arena, on->n * sizeof *rk);
    if (!lk || !rk)
        return NULL;
    for (size_t i = 0; i < on->n; i++) {
        const ynode *e = on->items[i], *lv = e, *rv = e;
        if (e->kind == YN_MAP) {
            static const keyspec on_keys[] = {{"left", 1, K_STR}, {"right", 1, K_STR}, {NULL, 0, 0}};
            if (!check_keys(c, e, on_keys, "a join key", e, nd->id)) {
                ok = 0;
                continue;
            }
            lv = ymap_get(e, "left");
            rv = ymap_get(e, "right");
        } else if (e->kind != YN_SCALAR || yscalar_is_null(e)) {
            dag_error(c, e, nd->id, "join keys are column names or {left: a, right: b}, not %s",
                      ynode_kind_name(e));
            ok = 0;
            continue;
        }
        lk[i] = lv->text;
        rk[i] = rv->text;
        int li = l ? find_column(c, l, lv, nd->id, "the left input") : 0;
        int ri = r ? find_column(c, r, rv, nd->id, "the right input") : 0;
        mr_type ct;
        if (li < 0 || ri < 0)
            ok = 0;
        else if (l && r && (l->fields[li].type.id == MR_T_NULL ||
                            r->fields[ri].type.id == MR_T_NULL))
            ; /* a placeholder (see has_placeholder): nothing to compare */
        else if (l && r && !common_type(l->fields[li].type, r->fields[ri].type, &ct)) {
            dag_error(c, e, nd->id, "join key types differ: %s is %s on the left, %s is %s on "
                      "the right", lv->text, type_str(c, l->fields[li].type), rv->text,
                      type_str(c, r->fields[ri].type));
            ok = 0;
        } else if (l && r && hash_class(l->fields[li].type) != hash_class(r->fields[ri].type)) {
            /* Both sides are hash-partitioned on their own key values, so
             * equal keys must hash equal (core/hash.c): int32 and int64 do,
             * decimals only at the same scale. */
            dag_error(c, e, nd->id, "join key %s (%s) and %s (%s) compare but do not hash "
                      "alike, so equal keys could land in different partitions: cast one "
                      "side to the other's type first (a derive with CAST(%s AS %s))",
                      lv->text, type_str(c, l->fields[li].type), rv->text,
                      type_str(c, r->fields[ri].type), rv->text,
                      type_str(c, l->fields[li].type));
            hash_bad = 1;
        }
    }
    if (!ok || !l || !r || has_placeholder(l) || has_placeholder(r))
        return NULL;
    nd->left_keys = lk;
    nd->right_keys = rk;
    nd->nkeys = (int)on->n;
    /* The output schema is the operator's own (core/op/hashjoin.h), so the
     * plan and the runtime cannot disagree. */
    mr_err err;
    mr_err_clear(&err);
    {
        mr_schema *out = mr_hashjoin_schema(l, r, (mr_join_type)how, lk, rk, (int)on->n, prefix,
                                            nd->id, &err);
        if (out && hash_bad) {
            mr_schema_destroy(out);
            return NULL;
        }
        if (out || err.code == MR_ENOMEM) {
            if (!out)
                c->oom = 1;
            return out;
        }
        /* A clash: reported below with a hint, as before. */
    }
    sbuild sb = {0};
    for (int f = 0; f < l->nfields; f++) {
        mr_type t = l->fields[f].type;
        for (size_t i = 0; i < on->n; i++)
            if (strcmp(lk[i], l->fields[f].name) == 0 && strcmp(rk[i], lk[i]) == 0)
                common_type(t, r->fields[mr_schema_find(r, rk[i])].type, &t);
        sb_add(c, &sb, l->fields[f].name, t);
    }
    if (how != 4 && how != 5) {
        for (int f = 0; f < r->nfields; f++) {
            const char *name = r->fields[f].name;
            int using_key = 0;
            for (size_t i = 0; i < on->n; i++)
                using_key |= strcmp(rk[i], name) == 0 && strcmp(lk[i], name) == 0;
            if (using_key)
                continue;
            const char *out = prefix[0] ? dag_arena_printf(&c->arena, "%s%s", prefix, name) : name;
            if (!out)
                return NULL;
            if (sb_find(&sb, out) >= 0) {
                dag_error(c, nd->key, nd->id, "join output has two columns named '%s'; set "
                          "right_prefix (e.g. right_prefix: r_) or rename one side", out);
                ok = 0;
                continue;
            }
            sb_add(c, &sb, out, r->fields[f].type);
        }
    }
    if (ok && !hash_bad)
        dag_error(c, nd->key, nd->id, "%s", err.msg);
    return NULL;
}

/* Whether a union can widen a and b to one type (the exact type comes from
 * mr_union_schema; this only finds the column to blame). */
static int union_widens(mr_type a, mr_type b, mr_type *out)
{
    if ((a.id == MR_T_DATE || a.id == MR_T_TIMESTAMP) && (b.id == MR_T_DATE || b.id == MR_T_TIMESTAMP))
        return *out = mr_type_make(MR_T_TIMESTAMP), 1;
    return common_type(a, b, out);
}

static mr_schema *prop_union(dag_ctx *c, dag_node *nd, mr_schema *const *ins)
{
    const ynode *list = ymap_get(nd->body, "inputs");
    if (list->n < 2) {
        dag_error(c, list, nd->id, "union needs 2 or more inputs, got %zu", list->n);
        return NULL;
    }
    if (nd->ninputs < 2) /* inputs that were not names were reported already */
        return NULL;
    for (int k = 0; k < nd->ninputs; k++)
        if (!ins[k] || has_placeholder(ins[k]))
            return NULL;
    const mr_schema *first = ins[0];
    sbuild sb = {0};
    int ok = 1;
    for (int f = 0; f < first->nfields; f++)
        sb_add(c, &sb, first->fields[f].name, first->fields[f].type);
    for (int k = 1; k < nd->ninputs; k++) {
        const mr_schema *s = ins[k];
        const ynode *at = nd->inputs[k].ref;
        for (int f = 0; f < s->nfields; f++) {
            int j = sb_find(&sb, s->fields[f].name);
            if (j < 0) {
                dag_error(c, at, nd->id, "union input '%s' has column '%s' that '%s' lacks",
                          at->text, s->fields[f].name, nd->inputs[0].ref->text);
                ok = 0;
            } else if (j < sb.n && !union_widens(sb.types[j], s->fields[f].type, &sb.types[j])) {
                dag_error(c, at, nd->id, "union column '%s' is %s in '%s' but %s in '%s'",
                          s->fields[f].name, type_str(c, first->fields[j].type),
                          nd->inputs[0].ref->text, type_str(c, s->fields[f].type), at->text);
                ok = 0;
            }
        }
        for (int f = 0; f < first->nfields; f++)
            if (mr_schema_find(s, first->fields[f].name) < 0) {
                dag_error(c, at, nd->id, "union input '%s' lacks column '%s'", at->text,
                          first->fields[f].name);
                ok = 0;
            }
    }
    if (!ok)
        return NULL;
    /* Types: the operator's own widening rules (core/op/union.h). */
    mr_schema *out = NULL;
    mr_err err;
    mr_err_clear(&err);
    if (mr_union_schema((const mr_schema *const *)ins, nd->ninputs, &out, &err) != 0) {
        if (err.code == MR_ENOMEM)
            c->oom = 1;
        else
            dag_error(c, list, nd->id, "%s", err.msg);
        return NULL;
    }
    return out;
}

static mr_schema *prop_distinct(dag_ctx *c, dag_node *nd, const mr_schema *in)
{
    const ynode *cols = ymap_get(nd->body, "columns");
    if (!cols) {
        if (!in)
            return NULL;
        nd->group_by = dag_arena_alloc(&c->arena, ((size_t)in->nfields + 1) * sizeof *nd->group_by);
        if (!nd->group_by)
            return NULL;
        for (int f = 0; f < in->nfields; f++)
            nd->group_by[nd->ngroup_by++] = in->fields[f].name;
        return mr_schema_copy(in);
    }
    if (column_list(c, nd, cols, in, "the input of the distinct", &nd->group_by,
                    &nd->ngroup_by) != 0 || !in)
        return NULL;
    if (nd->ngroup_by == 0) {
        dag_error(c, cols, nd->id, "'columns' is empty: leave it out to use every column");
        return NULL;
    }
    sbuild sb = {0};
    for (int i = 0; i < nd->ngroup_by; i++)
        sb_add(c, &sb, nd->group_by[i], in->fields[mr_schema_find(in, nd->group_by[i])].type);
    return sb_finish(c, &sb);
}

/* One sort key, parsed by the parser the sort operator uses
 * (core/sortkey.h), so validate accepts exactly what runs. */
static int check_sort_key(dag_ctx *c, dag_node *nd, const ynode *v, const mr_schema *in)
{
    char *col = NULL;
    int desc, nulls_first;
    mr_err err;
    mr_err_clear(&err);
    if (mr_sort_key_parse(v->text, &col, &desc, &nulls_first, &err) != 0) {
        if (err.code == MR_ENOMEM)
            c->oom = 1;
        else
            dag_error_in(c, v, err.offset, nd->id, "%s", err.msg);
        return -1;
    }
    int rc = 0;
    if (in && mr_schema_find(in, col) < 0) {
        ynode tmp = *v;
        tmp.text = col;
        rc = find_column(c, in, &tmp, nd->id, "the input of the sort") < 0 ? -1 : 0;
    }
    free(col);
    return rc;
}

static mr_schema *prop_sort(dag_ctx *c, dag_node *nd, const mr_schema *in)
{
    const ynode *by = ymap_get(nd->body, "by");
    int ok = 1;
    if (by->n == 0) {
        dag_error(c, by, nd->id, "'by' is empty: list the sort columns");
        return NULL;
    }
    for (size_t i = 0; i < by->n; i++) {
        if (by->items[i]->kind != YN_SCALAR || yscalar_is_null(by->items[i])) {
            dag_error(c, by->items[i], nd->id, "sort keys are strings such as \"price desc\"");
            ok = 0;
        } else if (check_sort_key(c, nd, by->items[i], in) != 0) {
            ok = 0;
        }
    }
    (void)ok; /* keys do not change the columns: later nodes are still checked */
    return in ? mr_schema_copy(in) : NULL;
}

static mr_schema *prop_limit(dag_ctx *c, dag_node *nd, const mr_schema *in)
{
    const ynode *v = ymap_get(nd->body, "n");
    long long n;
    if (parse_int(v, &n) == 0 && n < 0)
        dag_error(c, v, nd->id, "limit n must be 0 or more, not %lld", n);
    return in ? mr_schema_copy(in) : NULL;
}

static int is_table_name(const char *s)
{
    int part = 0, parts = 1;
    for (; *s; s++) {
        if (*s == '.') {
            if (part == 0 || ++parts > 2)
                return 0;
            part = 0;
        } else if (isalpha((unsigned char)*s) || *s == '_' || (part > 0 && isdigit((unsigned char)*s))) {
            part++;
        } else {
            return 0;
        }
    }
    return part > 0;
}

static mr_schema *prop_write(dag_ctx *c, dag_node *nd, const mr_schema *in)
{
    static const char *const targets[] = {"warehouse", "csv", "jsonl", NULL};
    static const char *const wh_modes[] = {"append", "overwrite", "upsert", NULL};
    static const char *const file_modes[] = {"error_if_exists", "overwrite", NULL};
    const ynode *b = nd->body;
    int to = pick(c, ymap_get(b, "to"), targets, "write target", nd->id);
    const ynode *table = ymap_get(b, "table"), *mode = ymap_get(b, "mode"),
                *key = ymap_get(b, "key"), *path = ymap_get(b, "path");
    if (to == 0) {
        int m = mode ? pick(c, mode, wh_modes, "warehouse write mode", nd->id) : 0;
        if (!table)
            dag_error(c, nd->key, nd->id, "write node '%s' to the warehouse needs a 'table'",
                      nd->id);
        else if (!is_table_name(table->text))
            dag_error(c, table, nd->id, "bad table name '%s': use name or schema.name (letters, "
                      "digits, '_')", table->text);
        if (path)
            dag_error(c, ymap_key(b, "path"), nd->id, "'path' is for file outputs; a warehouse "
                      "write names a 'table'");
        if (m == 2 && !key)
            dag_error(c, mode, nd->id, "mode upsert needs a 'key': the columns that identify "
                      "a row");
        if (key && m != 2 && m >= 0)
            dag_error(c, ymap_key(b, "key"), nd->id, "'key' applies only to mode upsert");
        if (key && m == 2) {
            const char **names;
            int n;
            column_list(c, nd, key, in, "the input of the write", &names, &n);
            if (n == 0 && key->n == 0)
                dag_error(c, key, nd->id, "'key' is empty: list the columns that identify a row");
        }
    } else if (to > 0) {
        if (mode)
            pick(c, mode, file_modes, "file write mode", nd->id);
        if (!path)
            dag_error(c, nd->key, nd->id, "write node '%s' to %s needs a 'path' (an output "
                      "folder)", nd->id, targets[to]);
        if (table)
            dag_error(c, ymap_key(b, "table"), nd->id, "'table' is for warehouse writes; a %s "
                      "write names a 'path'", targets[to]);
        if (key)
            dag_error(c, ymap_key(b, "key"), nd->id, "'key' is for warehouse upserts");
    }
    return in ? mr_schema_copy(in) : NULL;
}

/* Runs the checks of one node; ins[k] is the schema of input k or NULL
 * when unknown. */
static void propagate(dag_ctx *c, dag_node *nd, mr_schema *const *ins)
{
    const mr_schema *in = nd->ninputs > 0 ? ins[0] : NULL;
    switch (nd->op) {
    case DOP_READ: nd->out = prop_read(c, nd); break;
    case DOP_FILTER: nd->out = prop_filter(c, nd, in); break;
    case DOP_SELECT:
    case DOP_DERIVE: nd->out = prop_project(c, nd, in); break;
    case DOP_DROP: nd->out = prop_drop(c, nd, in); break;
    case DOP_AGGREGATE: nd->out = prop_aggregate(c, nd, in); break;
    case DOP_JOIN: nd->out = prop_join(c, nd, in, nd->ninputs > 1 ? ins[1] : NULL); break;
    case DOP_UNION: nd->out = prop_union(c, nd, ins); break;
    case DOP_DISTINCT: nd->out = prop_distinct(c, nd, in); break;
    case DOP_SORT: nd->out = prop_sort(c, nd, in); break;
    case DOP_LIMIT: nd->out = prop_limit(c, nd, in); break;
    case DOP_WRITE: nd->out = prop_write(c, nd, in); break;
    default: break;
    }
}

/* "(a int64, b string)" in the arena, for messages. */
static const char *schema_str(dag_ctx *c, const mr_schema *s)
{
    char buf[1024];
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; i < s->nfields && off < sizeof buf - 1; i++) {
        char t[48];
        off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%s %s", i ? ", " : "",
                                s->fields[i].name, mr_type_name(s->fields[i].type, t, sizeof t));
    }
    const char *r = dag_arena_printf(&c->arena, "(%s)", buf);
    return r ? r : "(?)";
}

static int same_columns(const mr_schema *a, const mr_schema *b)
{
    if (a->nfields != b->nfields)
        return 0;
    for (int i = 0; i < a->nfields; i++)
        if (strcmp(a->fields[i].name, b->fields[i].name) != 0 ||
            !mr_type_equal(a->fields[i].type, b->fields[i].type))
            return 0;
    return 1;
}

/* Two warehouse writes to one table share its definition, so their rows
 * must have the same columns and types; otherwise the commit would fail
 * after every task ran.  Table names compare as the warehouses do
 * (unquoted names ignore case). */
static void check_shared_tables(dag_ctx *c, const dag *d)
{
    for (int i = 0; i < d->n; i++) {
        const dag_node *a = &d->nodes[i];
        const ynode *ta = a->op == DOP_WRITE ? ymap_get(a->body, "table") : NULL;
        const ynode *to = a->op == DOP_WRITE ? ymap_get(a->body, "to") : NULL;
        if (!ta || ta->kind != YN_SCALAR || !a->out || has_placeholder(a->out) ||
            (to && to->kind == YN_SCALAR && strcmp(to->text, "warehouse") != 0))
            continue;
        for (int j = 0; j < i; j++) {
            const dag_node *b = &d->nodes[j];
            const ynode *tb = b->op == DOP_WRITE ? ymap_get(b->body, "table") : NULL;
            const ynode *tob = b->op == DOP_WRITE ? ymap_get(b->body, "to") : NULL;
            if (!tb || tb->kind != YN_SCALAR || !b->out || has_placeholder(b->out) ||
                (tob && tob->kind == YN_SCALAR && strcmp(tob->text, "warehouse") != 0) ||
                strcasecmp(ta->text, tb->text) != 0)
                continue;
            if (!same_columns(a->out, b->out))
                dag_error(c, ta, a->id, "table '%s' is also written by node '%s' (line %d) with "
                          "other columns: %s there, %s here; writes to one table need the same "
                          "columns and types", ta->text, b->id, b->key->line,
                          schema_str(c, b->out), schema_str(c, a->out));
            break;
        }
    }
}

static void propagate_all(dag_ctx *c, dag *d)
{
    int *seen = dag_arena_alloc(&c->arena, ((size_t)d->n + 1) * sizeof *seen);
    mr_schema **ins = dag_arena_alloc(&c->arena, ((size_t)d->n + 3) * sizeof *ins);
    if (!seen || !ins)
        return;
    /* Nodes in topological order first, then those stuck in cycles (with
     * unknown inputs), so every node gets its input-independent checks. */
    for (int pass = 0; pass < 2; pass++) {
        int count = pass == 0 ? d->norder : d->n;
        for (int oi = 0; oi < count; oi++) {
            int i = pass == 0 ? d->order[oi] : oi;
            if (seen[i])
                continue;
            seen[i] = 1;
            dag_node *nd = &d->nodes[i];
            if (nd->op < 0 || !nd->ok)
                continue;
            for (int k = 0; k < nd->ninputs; k++)
                ins[k] = nd->inputs[k].node >= 0 && pass == 0 ? d->nodes[nd->inputs[k].node].out
                                                              : NULL;
            propagate(c, nd, ins);
            if (c->oom)
                return;
        }
    }
}

void dag_validate(dag_ctx *c, const ynode *root, dag *d)
{
    memset(d, 0, sizeof *d);
    d->name = "";
    if (root->kind != YN_MAP) {
        dag_error(c, root, NULL, "a DAG file is a mapping with version, name and nodes, not %s",
                  ynode_kind_name(root));
        return;
    }
    dag_params params = {0};
    load_params(c, root, &params);
    walk_values(c, (ynode *)root, &params, 1);
    check_top(c, root, d);
    parse_nodes(c, root, d);
    check_graph(c, d);
    propagate_all(c, d);
    if (!c->oom)
        check_shared_tables(c, d);
}

void dag_model_free(dag *d)
{
    for (int i = 0; d && i < d->n; i++) {
        mr_schema_destroy(d->nodes[i].out);
        d->nodes[i].out = NULL;
    }
}

const char *dag_quote_ident(dag_arena *a, const char *name)
{
    size_t n = strlen(name), q = 0;
    for (size_t i = 0; i < n; i++)
        q += name[i] == '"';
    char *s = dag_arena_alloc(a, n + q + 3);
    if (!s)
        return "\"\"";
    char *p = s;
    *p++ = '"';
    for (size_t i = 0; i < n; i++) {
        if (name[i] == '"')
            *p++ = '"';
        *p++ = name[i];
    }
    *p++ = '"';
    return s;
}
