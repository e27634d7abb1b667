/* compile.c - the stage compiler and mr_dag_compile, the front end's entry.
 *
 * A stage is a pipeline of fused operators that runs as independent tasks:
 * it starts at a read (OP_SCAN, one task per input split) or after a
 * shuffle (OP_SHUFFLE_READ, one task per partition), takes every narrow
 * node (filter, select, derive, drop) as one more operator, and ends at a
 * write or where rows must move between tasks.  An aggregate (and a
 * distinct, which is an aggregate over its columns without aggregates)
 * splits in two around a shuffle: OP_AGG_PARTIAL ends the producing stage,
 * whose output is hash-partitioned on the group columns, and a new stage
 * starts with OP_SHUFFLE_READ, OP_AGG_FINAL.
 *
 * This build compiles chains: each write is compiled from its read along
 * the single-input path that leads to it.  A node feeding several nodes is
 * compiled once per path through it (its upstream work is repeated in each
 * path's stages, which gives the same rows because reads and operators are
 * deterministic).  join, union, sort and limit are validated but refused
 * here with a diagnostic at the node.
 *
 * The plan is built from arena memory, then packed to bytes and unpacked
 * with protobuf-c's default allocator, so the caller frees it with
 * millrace__job_plan__free_unpacked alone.
 */
#include "dag/dag_int.h"

#include <stdlib.h>
#include <string.h>

#include "dag/schema_pb.h"

typedef struct pbuild {
    dag_ctx *c;
    const dag *d;
    Millrace__Stage **stages;
    size_t nstages, cap;
    Millrace__Stage *cur;
    size_t cur_cap;
    uint32_t partitions;
} pbuild;

static void *alloc(pbuild *b, size_t n)
{
    return dag_arena_alloc(&b->c->arena, n);
}

static char *str(pbuild *b, const char *s)
{
    char *p = dag_arena_strdup(&b->c->arena, s ? s : "");
    return p ? p : (char *)"";
}

static Millrace__Schema *pb_schema(pbuild *b, const mr_schema *s)
{
    Millrace__Schema *pb = alloc(b, sizeof *pb);
    if (!pb)
        return NULL;
    millrace__schema__init(pb);
    int n = s ? s->nfields : 0;
    pb->fields = alloc(b, ((size_t)n + 1) * sizeof *pb->fields);
    if (!pb->fields)
        return NULL;
    for (int i = 0; i < n; i++) {
        Millrace__Field *f = alloc(b, sizeof *f);
        Millrace__Type *t = alloc(b, sizeof *t);
        if (!f || !t)
            return NULL;
        millrace__field__init(f);
        millrace__type__init(t);
        f->name = str(b, s->fields[i].name);
        t->id = (Millrace__TypeId)s->fields[i].type.id;
        t->precision = s->fields[i].type.precision;
        t->scale = s->fields[i].type.scale;
        f->type = t;
        pb->fields[pb->n_fields++] = f;
    }
    return pb;
}

static Millrace__NamedExpr **pb_named(pbuild *b, const char *const *names,
                                      const char *const *texts, int n)
{
    Millrace__NamedExpr **v = alloc(b, ((size_t)n + 1) * sizeof *v);
    for (int i = 0; v && i < n; i++) {
        v[i] = alloc(b, sizeof *v[i]);
        if (!v[i])
            return NULL;
        millrace__named_expr__init(v[i]);
        v[i]->name = str(b, names[i]);
        v[i]->expr = str(b, texts[i]);
    }
    return v;
}

static char **pb_strings(pbuild *b, const char *const *s, int n)
{
    char **v = alloc(b, ((size_t)n + 1) * sizeof *v);
    for (int i = 0; v && i < n; i++)
        v[i] = str(b, s[i]);
    return v;
}

/* Appends an operator of kind for node nd to the current stage. */
static Millrace__OpSpec *add_op(pbuild *b, Millrace__OpKind kind, const dag_node *nd,
                                const mr_schema *out)
{
    Millrace__Stage *st = b->cur;
    if (st->n_ops == b->cur_cap) {
        size_t cap = b->cur_cap ? b->cur_cap * 2 : 8;
        Millrace__OpSpec **ops = alloc(b, cap * sizeof *ops);
        if (!ops)
            return NULL;
        if (st->n_ops)
            memcpy(ops, st->ops, st->n_ops * sizeof *ops);
        st->ops = ops;
        b->cur_cap = cap;
    }
    Millrace__OpSpec *op = alloc(b, sizeof *op);
    if (!op)
        return NULL;
    millrace__op_spec__init(op);
    op->kind = kind;
    op->node = str(b, nd ? nd->id : "");
    op->output = pb_schema(b, out);
    st->ops[st->n_ops++] = op;
    return op;
}

static Millrace__Stage *new_stage(pbuild *b)
{
    if (b->nstages == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 8;
        Millrace__Stage **v = alloc(b, cap * sizeof *v);
        if (!v)
            return NULL;
        if (b->nstages)
            memcpy(v, b->stages, b->nstages * sizeof *v);
        b->stages = v;
        b->cap = cap;
    }
    Millrace__Stage *st = alloc(b, sizeof *st);
    if (!st)
        return NULL;
    millrace__stage__init(st);
    st->id = (uint32_t)b->nstages;
    b->stages[b->nstages++] = st;
    b->cur = st;
    b->cur_cap = 0;
    return st;
}

static const char *body_str(const dag_node *nd, const char *key, const char *dflt)
{
    const ynode *v = ymap_get(nd->body, key);
    return v && v->kind == YN_SCALAR ? v->text : dflt;
}

static void emit_scan(pbuild *b, const dag_node *nd)
{
    if (!new_stage(b))
        return;
    Millrace__OpSpec *op = add_op(b, MILLRACE__OP_KIND__OP_SCAN, nd, nd->out);
    Millrace__ReadSpec *r = alloc(b, sizeof *r);
    Millrace__CsvOptions *csv = alloc(b, sizeof *csv);
    if (!op || !r || !csv)
        return;
    millrace__read_spec__init(r);
    millrace__csv_options__init(csv);
    r->format = str(b, body_str(nd, "format", "csv"));
    r->path = str(b, body_str(nd, "path", ""));
    r->schema = pb_schema(b, nd->out);
    const ynode *co = ymap_get(nd->body, "csv");
    const ynode *h = ymap_get(co, "header");
    csv->header = !(h && (strcmp(h->text, "false") == 0 || strcmp(h->text, "False") == 0 ||
                          strcmp(h->text, "FALSE") == 0 || strcmp(h->text, "no") == 0 ||
                          strcmp(h->text, "No") == 0 || strcmp(h->text, "off") == 0));
    const ynode *v;
    csv->delimiter = str(b, (v = ymap_get(co, "delimiter")) ? v->text : ",");
    csv->quote = str(b, (v = ymap_get(co, "quote")) ? v->text : "\"");
    csv->null_string = str(b, (v = ymap_get(co, "null")) && v->kind == YN_SCALAR ? v->text : "");
    r->csv = csv;
    const char *oe = body_str(nd, "on_error", "fail");
    r->on_error = strcmp(oe, "skip") == 0     ? MILLRACE__ON_ERROR__ON_ERROR_SKIP
                  : strcmp(oe, "reject") == 0 ? MILLRACE__ON_ERROR__ON_ERROR_REJECT
                                              : MILLRACE__ON_ERROR__ON_ERROR_FAIL;
    r->max_errors = (v = ymap_get(nd->body, "max_errors")) ? strtoll(v->text, NULL, 10) : -1;
    op->read = r;
}

/* An aggregate over group_by with aggs (none for a distinct): partial,
 * shuffle on the group columns, then final in a new stage. */
static void emit_aggregate(pbuild *b, const dag_node *nd, const mr_schema *in)
{
    Millrace__OpSpec *p = add_op(b, MILLRACE__OP_KIND__OP_AGG_PARTIAL, nd, NULL);
    if (!p)
        return;
    p->group_by = pb_strings(b, nd->group_by, nd->ngroup_by);
    p->n_group_by = (size_t)nd->ngroup_by;
    p->aggregates = pb_named(b, nd->aggs.names, nd->aggs.texts, nd->aggs.n);
    p->n_aggregates = (size_t)nd->aggs.n;
    p->input = pb_schema(b, in);
    Millrace__Stage *prev = b->cur;
    Millrace__ShuffleOut *sh = alloc(b, sizeof *sh);
    if (!sh)
        return;
    millrace__shuffle_out__init(sh);
    sh->partitions = nd->ngroup_by > 0 ? b->partitions : 1;
    sh->keys = p->group_by;
    sh->n_keys = p->n_group_by;
    prev->shuffle = sh;

    Millrace__Stage *st = new_stage(b);
    if (!st)
        return;
    st->inputs = alloc(b, sizeof *st->inputs);
    if (!st->inputs)
        return;
    st->inputs[0] = prev->id;
    st->n_inputs = 1;
    st->partitions = sh->partitions;
    Millrace__OpSpec *r = add_op(b, MILLRACE__OP_KIND__OP_SHUFFLE_READ, nd, NULL);
    Millrace__OpSpec *f = add_op(b, MILLRACE__OP_KIND__OP_AGG_FINAL, nd, nd->out);
    if (!r || !f)
        return;
    /* The wire schema is the partial's output: group columns and states,
     * whose layout the executor's aggregate defines (so left empty here). */
    r->input = p->output;
    r->output = p->output;
    f->group_by = p->group_by;
    f->n_group_by = p->n_group_by;
    f->aggregates = p->aggregates;
    f->n_aggregates = p->n_aggregates;
    f->input = p->input;
}

static void emit_write(pbuild *b, const dag_node *nd)
{
    Millrace__WriteSpec *w = alloc(b, sizeof *w);
    if (!w)
        return;
    millrace__write_spec__init(w);
    const char *to = body_str(nd, "to", "warehouse");
    int wh = strcmp(to, "warehouse") == 0;
    w->node = str(b, nd->id);
    w->target = str(b, to);
    w->table = str(b, wh ? body_str(nd, "table", "") : "");
    w->mode = str(b, body_str(nd, "mode", wh ? "append" : "error_if_exists"));
    w->path = str(b, wh ? "" : body_str(nd, "path", ""));
    w->schema = pb_schema(b, nd->out);
    const ynode *key = ymap_get(nd->body, "key");
    if (key && key->kind == YN_SEQ) {
        w->key = alloc(b, (key->n + 1) * sizeof *w->key);
        for (size_t i = 0; w->key && i < key->n; i++)
            w->key[w->n_key++] = str(b, key->items[i]->text);
    }
    b->cur->write = w;
}

/* Compiles the chain of nodes ending at write node w (every node on it
 * has one input, checked by the caller). */
static void compile_chain(pbuild *b, int w)
{
    const dag *d = b->d;
    int len = 0;
    int *chain = alloc(b, ((size_t)d->n + 1) * sizeof *chain);
    if (!chain)
        return;
    for (int x = w; x >= 0 && len <= d->n;) {
        chain[len++] = x;
        const dag_node *nd = &d->nodes[x];
        x = nd->ninputs > 0 ? nd->inputs[0].node : -1;
    }
    for (int k = len - 1; k >= 0; k--) {
        const dag_node *nd = &d->nodes[chain[k]];
        const mr_schema *in = k + 1 < len ? d->nodes[chain[k + 1]].out : NULL;
        Millrace__OpSpec *op;
        switch (nd->op) {
        case DOP_READ:
            emit_scan(b, nd);
            break;
        case DOP_FILTER:
            op = add_op(b, MILLRACE__OP_KIND__OP_FILTER, nd, nd->out);
            if (op) {
                static const char *const empty = "";
                op->exprs = pb_named(b, &empty, &nd->where, 1);
                op->n_exprs = 1;
            }
            break;
        case DOP_SELECT:
        case DOP_DERIVE:
        case DOP_DROP:
            op = add_op(b, MILLRACE__OP_KIND__OP_PROJECT, nd, nd->out);
            if (op) {
                op->exprs = pb_named(b, nd->proj.names, nd->proj.texts, nd->proj.n);
                op->n_exprs = (size_t)nd->proj.n;
            }
            break;
        case DOP_AGGREGATE:
        case DOP_DISTINCT:
            emit_aggregate(b, nd, in);
            break;
        case DOP_WRITE:
            emit_write(b, nd);
            break;
        default:
            break;
        }
        if (b->c->arena.failed)
            return;
    }
}

Millrace__JobPlan *dag_compile_plan(dag_ctx *c, const dag *d)
{
    pbuild b = {0};
    b.c = c;
    b.d = d;
    b.partitions = c->opt->partitions ? c->opt->partitions : MR_DAG_DEFAULT_PARTITIONS;
    for (int i = 0; i < d->n; i++) {
        const dag_node *nd = &d->nodes[i];
        if (nd->op == DOP_JOIN || nd->op == DOP_UNION || nd->op == DOP_SORT ||
            nd->op == DOP_LIMIT)
            dag_error(c, nd->key, nd->id, "op '%s' is not supported by this build yet "
                      "(node '%s' is valid, but cannot run)", dag_op_names[nd->op], nd->id);
    }
    if (c->nerrors)
        return NULL;
    Millrace__JobPlan *plan = alloc(&b, sizeof *plan);
    Millrace__Warehouse *wh = alloc(&b, sizeof *wh);
    if (!plan || !wh)
        return NULL;
    millrace__job_plan__init(plan);
    millrace__warehouse__init(wh);
    for (int i = 0; i < d->n; i++)
        if (d->nodes[i].op == DOP_WRITE)
            compile_chain(&b, i);
    plan->name = str(&b, d->name);
    plan->stages = b.stages;
    plan->n_stages = b.nstages;
    wh->driver = str(&b, d->wh_driver);
    wh->path = str(&b, d->wh_path);
    wh->dsn = str(&b, d->wh_dsn);
    wh->schema = str(&b, d->wh_schema);
    plan->warehouse = wh;
    plan->post_sql = pb_strings(&b, d->post_sql, d->npost_sql);
    plan->n_post_sql = (size_t)d->npost_sql;
    if (c->arena.failed || c->nerrors)
        return NULL;
    return plan;
}

static const char *env_lookup(const char *name)
{
    return getenv(name);
}

int mr_dag_compile(const char *yaml, size_t len, const mr_dag_options *opt,
                   Millrace__JobPlan **plan, mr_diags *diags)
{
    static const mr_dag_options defaults = {0};
    *plan = NULL;
    if (!opt)
        opt = &defaults;
    dag_ctx c;
    memset(&c, 0, sizeof c);
    c.file = opt->file ? opt->file : "<dag>";
    c.src = yaml ? yaml : "";
    c.srclen = yaml ? len : 0;
    c.diags = diags;
    c.opt = opt;
    c.getenv = opt->getenv ? opt->getenv : env_lookup;

    int rc = 0, line, col;
    char msg[1024];
    ynode *root = dag_yaml_load(&c.arena, c.src, c.srclen, &line, &col, msg, sizeof msg);
    if (!root) {
        if (c.arena.failed)
            rc = MR_ENOMEM;
        else
            dag_error_at(&c, line, col, NULL, "%s", msg);
    } else {
        dag d;
        dag_validate(&c, root, &d);
        if (c.nerrors == 0 && !c.oom && !c.arena.failed) {
            Millrace__JobPlan *built = dag_compile_plan(&c, &d);
            if (built) {
                size_t size = millrace__job_plan__get_packed_size(built);
                uint8_t *buf = malloc(size ? size : 1);
                if (buf) {
                    millrace__job_plan__pack(built, buf);
                    *plan = millrace__job_plan__unpack(NULL, size, buf);
                    free(buf);
                }
                if (!*plan)
                    rc = MR_ENOMEM;
            }
        }
        dag_model_free(&d);
    }
    if (c.oom || c.arena.failed)
        rc = MR_ENOMEM;
    dag_arena_free(&c.arena);
    dag_diags_sort(diags);
    if (rc == 0 && c.nerrors > 0)
        rc = MR_EINVAL;
    if (rc != 0 && *plan) {
        millrace__job_plan__free_unpacked(*plan, NULL);
        *plan = NULL;
    }
    return rc;
}
