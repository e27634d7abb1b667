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
 * Propagation also fills each node's typed form (dag_node: projection
 * lists, group_by, aggregates, read spec, join, sort keys, limit, write),
 * so the stage compiler reads no YAML.
 *
 * This file holds the passes and the checks every op shares (dag_ops.h:
 * key tables, columns, expressions, schemas); what is particular to an op
 * (its keys, checks and typed form) lives in its file dag/op_NAME.c,
 * reached through the registry dag_ops[] (ops.c).
 *
 * Ownership: everything lives in the ctx arena except the per-node output
 * schemas and the aggregates' partial schemas (mr_schema, malloc'd), which
 * dag_model_free destroys.
 */
#include "dag/dag_ops.h"
#include "dag/sql.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/expr.h"
#include "proto/plan_names.h"


static const dv_keyspec top_keys[] = {
    {"version", 1, DV_K_INT}, {"name", 1, DV_K_STR},     {"description", 0, DV_K_SCALAR},
    {"params", 0, DV_K_MAP},  {"warehouse", 0, DV_K_MAP}, {"nodes", 1, DV_K_MAP},
    {"post_sql", 0, DV_K_SEQ}, {"broadcast_threshold", 0, DV_K_INT}, {NULL, 0, 0},
};
static const dv_keyspec warehouse_keys[] = {
    {"driver", 0, DV_K_STR}, {"path", 0, DV_K_STR}, {"dsn", 0, DV_K_STR}, {"schema", 0, DV_K_STR}, {NULL, 0, 0},
};


/* ---- small helpers ----------------------------------------------------------- */

int dv_parse_int(const ynode *v, long long *out)
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
int dv_pick(dag_ctx *c, const ynode *v, const char *const *words, const char *what,
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

static const char *kind_word(dv_kkind k)
{
    switch (k) {
    case DV_K_MAP: return "a mapping";
    case DV_K_SEQ: return "a list";
    case DV_K_INT: return "an integer";
    case DV_K_BOOL: return "true or false";
    default: return "a string";
    }
}

/* Checks v against kind; reports and returns -1 when it does not fit. */
static int check_kind(dag_ctx *c, const ynode *v, dv_kkind k, const char *key, const char *node)
{
    long long i;
    int b;
    switch (k) {
    case DV_K_MAP:
    case DV_K_SEQ:
        if (v->kind == (k == DV_K_MAP ? YN_MAP : YN_SEQ))
            return 0;
        break;
    case DV_K_INT:
        if (dv_parse_int(v, &i) == 0)
            return 0;
        break;
    case DV_K_BOOL:
        if (yscalar_bool(v, &b) == 0)
            return 0;
        break;
    case DV_K_STR:
        if (v->kind == YN_SCALAR && !yscalar_is_null(v))
            return 0;
        break;
    case DV_K_SCALAR:
        if (v->kind == YN_SCALAR)
            return 0;
        break;
    case DV_K_ANY:
        return 0;
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
int dv_check_keys(dag_ctx *c, const ynode *map, const dv_keyspec *specs, const char *what,
                      const ynode *missing_at, const char *node)
{
    int ok = 1;
    const char *names[32];
    size_t nn = 0;
    for (const dv_keyspec *s = specs; s->key; s++)
        names[nn++] = s->key;
    for (size_t i = 0; i < map->n; i++) {
        const ynode *k = map->items[2 * i], *v = map->items[2 * i + 1];
        if (k->kind != YN_SCALAR)
            continue; /* reported by the tree walk */
        const dv_keyspec *s = specs;
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
    for (const dv_keyspec *s = specs; s->key; s++)
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
    dv_check_keys(c, root, top_keys, "the top level of the DAG", root, NULL);
    const ynode *v = ymap_get(root, "version");
    long long ver;
    if (v && dv_parse_int(v, &ver) == 0 && ver != 1)
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
    d->wh_driver = MILLRACE__WAREHOUSE_DRIVER__DRIVER_SQLITE;
    d->wh_path = "millrace.db";
    d->wh_dsn = d->wh_schema = "";
    const ynode *wh = ymap_get(root, "warehouse");
    if (wh && wh->kind == YN_MAP &&
        dv_check_keys(c, wh, warehouse_keys, "warehouse", ymap_key(root, "warehouse"), NULL)) {
        const ynode *dv = ymap_get(wh, "driver");
        int drv = dv ? dv_pick(c, dv, mr_plan_driver_names, "warehouse driver", NULL)
                     : MILLRACE__WAREHOUSE_DRIVER__DRIVER_SQLITE;
        const ynode *path = ymap_get(wh, "path"), *dsn = ymap_get(wh, "dsn"),
                    *sch = ymap_get(wh, "schema");
        if (drv == MILLRACE__WAREHOUSE_DRIVER__DRIVER_SQLITE) {
            if (dsn)
                dag_error(c, dsn, NULL, "'dsn' is for driver postgres; sqlite takes a 'path'");
            if (sch)
                dag_error(c, sch, NULL, "'schema' is for driver postgres");
            if (path)
                d->wh_path = path->text;
        } else if (drv == MILLRACE__WAREHOUSE_DRIVER__DRIVER_POSTGRES) {
            d->wh_driver = MILLRACE__WAREHOUSE_DRIVER__DRIVER_POSTGRES;
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
    /* bytes: a join input estimated at most this big is broadcast (compile.c) */
    const ynode *bt = ymap_get(root, "broadcast_threshold");
    long long btv;
    d->broadcast_threshold = -1;
    if (bt && bt->kind == YN_SCALAR && dv_parse_int(bt, &btv) == 0) {
        if (btv < 0)
            dag_error(c, bt, NULL, "broadcast_threshold is a size in bytes (0 turns broadcast "
                      "joins off), not %lld", btv);
        else
            d->broadcast_threshold = btv;
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
        const char *names[DOP__COUNT];
        for (int o = 0; o < DOP__COUNT; o++) {
            names[o] = dag_ops[o].name;
            if (strcmp(op->text, names[o]) == 0)
                nd->op = o;
        }
        if (nd->op < 0) {
            dag_error(c, op, nd->id, "unknown op '%s' in node '%s'%s", op->text, nd->id,
                      dag_did_you_mean(c, op->text, names, DOP__COUNT));
            continue;
        }
        char what[160];
        snprintf(what, sizeof what, "%s node '%s'", dag_ops[nd->op].name, nd->id);
        nd->ok = dv_check_keys(c, body, dag_ops[nd->op].keys, what, k, nd->id);
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

void dv_sb_add(dag_ctx *c, dv_sbuild *b, const char *name, mr_type t)
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

int dv_sb_find(const dv_sbuild *b, const char *name)
{
    for (int i = 0; i < b->n; i++)
        if (strcmp(b->names[i], name) == 0)
            return i;
    return -1;
}

mr_schema *dv_sb_finish(dag_ctx *c, const dv_sbuild *b)
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
int dv_find_column(dag_ctx *c, const mr_schema *s, const ynode *v, const char *node,
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

const char *dv_type_str(dag_ctx *c, mr_type t)
{
    char buf[48];
    const char *s = dag_arena_strdup(&c->arena, mr_type_name(t, buf, sizeof buf));
    return s ? s : "?";
}

/* Placeholders: a select or derive column whose expression failed keeps
 * its place in the node's output schema with the type NULL (no real
 * column has it; see dv_no_null_type), so later nodes are still checked
 * against the other columns.  An expression that uses a placeholder is
 * not checked: its error would only repeat the first one. */
int dv_has_placeholder(const mr_schema *s)
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
int dv_bind_expr(dag_ctx *c, mr_expr *e, const char *text, int text_off, const mr_schema *in,
                     mr_err *err)
{
    if (!dv_has_placeholder(in))
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
        mr_err_oom(err, NULL);
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
int dv_check_expr(dag_ctx *c, const ynode *v, const mr_schema *in, const char *what,
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
        rc = dv_bind_expr(c, e, v->text, 0, in, &err);
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

int dv_no_null_type(dag_ctx *c, const ynode *v, mr_type t, const char *col, const char *node)
{
    if (t.id != MR_T_NULL)
        return 0;
    dag_error(c, v, node, "column '%s' has no type (it is always NULL): write "
              "CAST(NULL AS type)", col);
    return -1;
}

void dv_named_alloc(dag_ctx *c, dag_named *nm, size_t cap)
{
    nm->names = dag_arena_alloc(&c->arena, (cap ? cap : 1) * sizeof *nm->names);
    nm->texts = dag_arena_alloc(&c->arena, (cap ? cap : 1) * sizeof *nm->texts);
    nm->n = 0;
}

void dv_named_add(dag_named *nm, const char *name, const char *text)
{
    if (!nm->names || !nm->texts)
        return;
    nm->names[nm->n] = name;
    nm->texts[nm->n++] = text;
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
int dv_column_list(dag_ctx *c, dag_node *nd, const ynode *list, const mr_schema *in,
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
        } else if (in && dv_find_column(c, in, v, nd->id, side) < 0) {
            ok = 0;
        }
        (*names)[(*n)++] = v->text;
    }
    return ok ? 0 : -1;
}

/* The type both a and b widen to (int32 -> int64 -> decimal/float64); 0
 * when there is none. */
int dv_common_type(mr_type a, mr_type b, mr_type *out)
{
    return mr_type_common(a, b, &MR_WIDEN_NUMERIC, out) == 0;
}

/* Runs the checks of one node; ins[k] is the schema of input k or NULL
 * when unknown. */
static void propagate(dag_ctx *c, dag *d, dag_node *nd, mr_schema *const *ins)
{
    if (nd->sql && dag_sql_fill(c, d, nd, ins) < 0)
        return; /* a sql node's step: its keys come from the query */
    if (nd->op >= 0 && nd->op < DOP__COUNT)
        nd->out = dag_ops[nd->op].validate(c, nd, ins);
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
        if (!ta || ta->kind != YN_SCALAR || !a->out || dv_has_placeholder(a->out) ||
            (to && to->kind == YN_SCALAR && strcmp(to->text, "warehouse") != 0))
            continue;
        for (int j = 0; j < i; j++) {
            const dag_node *b = &d->nodes[j];
            const ynode *tb = b->op == DOP_WRITE ? ymap_get(b->body, "table") : NULL;
            const ynode *tob = b->op == DOP_WRITE ? ymap_get(b->body, "to") : NULL;
            if (!tb || tb->kind != YN_SCALAR || !b->out || dv_has_placeholder(b->out) ||
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
            propagate(c, d, nd, ins);
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
    dag_sql_expand(c, d);
    check_graph(c, d);
    propagate_all(c, d);
    if (!c->oom)
        check_shared_tables(c, d);
}

void dag_model_free(dag *d)
{
    for (int i = 0; d && i < d->n; i++) {
        mr_schema_destroy(d->nodes[i].out);
        mr_schema_destroy(d->nodes[i].partial);
        mr_schema_destroy(d->nodes[i].full_out);
        mr_schema_destroy(d->nodes[i].join_in[0]);
        mr_schema_destroy(d->nodes[i].join_in[1]);
        mr_schema_destroy(d->nodes[i].scan_out);
        mr_schema_destroy(d->nodes[i].check_final);
        d->nodes[i].scan_out = d->nodes[i].check_final = NULL;
        d->nodes[i].join_in[0] = d->nodes[i].join_in[1] = NULL;
        d->nodes[i].out = d->nodes[i].partial = d->nodes[i].full_out = NULL;
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
