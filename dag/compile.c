/* compile.c - the stage compiler and mr_dag_compile, the front end's entry.
 *
 * A stage is a tree of fused operators that runs as independent tasks: its
 * sources are reads (OP_SCAN; one task per input split of every read in the
 * stage) or shuffle inputs (OP_SHUFFLE_READ; one task per partition, never
 * mixed with reads), narrow nodes (filter, select, derive, drop) are one
 * more operator each, and it ends where rows must move between tasks (a
 * shuffle) or at a write.
 *
 * The compiler builds, node by node from each write backwards, a FRAGMENT:
 * operators not yet cut into a stage, with the stage inputs and partition
 * count they imply.  Fragments combine (a narrow op is appended; a union
 * of fragments of the same kind concatenates them under an OP_UNION) until
 * a wide node seals one into a stage with a shuffle and starts a new
 * fragment at an OP_SHUFFLE_READ of it:
 *   aggregate   partial | hash(group columns), or 1 partition without any | final
 *   distinct    distinct | hash(distinct columns) | distinct
 *   join        left | hash(left keys);  right | hash(right keys);  then
 *               [read L, read R, hash join(children L, R)] - co-partitioned
 *               because every shuffle of a job has the same partition owners
 *   union       reads-only inputs: one scan stage, union over the chain tips;
 *               shuffle-fed inputs with one partition count: one stage over
 *               their shuffle reads; otherwise each input is sealed with a
 *               round-robin shuffle first.  distinct: true adds a distinct,
 *               hash(all columns), distinct (core/op/union.h has no distinct)
 *   sort        sort (top-N when a limit is its only consumer) | 1 partition
 *               | sort: the final merge runs in one task, which the write
 *               keeps in order
 *   limit       limit | 1 partition | limit (folded into the sort after one)
 * A fragment that already runs in one partition needs no second shuffle
 * for a sort or a limit.  A node read by several nodes (nconsumers > 1) is
 * computed once: its fragment is sealed with a round-robin shuffle (keeping
 * its partition count) and every consumer starts from a shuffle read of it.
 *
 * Within a fragment an operator lists its inputs in `children` only when it
 * has several (join, union); otherwise it reads the operator before it.
 * Concatenating fragments offsets the explicit indices.
 *
 * The plan is built from arena memory, then packed to bytes and unpacked
 * with protobuf-c's default allocator, so the caller frees it with
 * millrace__job_plan__free_unpacked alone.
 */
#include "dag/dag_int.h"

#include <string.h>

#include "proto/schema_pb.h"

/* Operators not yet cut into a stage. */
typedef struct frag {
    Millrace__OpSpec **ops;
    size_t n, cap;
    int shuffled;        /* sources are shuffle reads (else scans) */
    uint32_t partitions; /* tasks, when shuffled */
    uint32_t *inputs;    /* producer stages, when shuffled */
    size_t ninputs, icap;
} frag;

typedef struct pbuild {
    dag_ctx *c;
    const dag *d;
    Millrace__Stage **stages;
    size_t nstages, cap;
    uint32_t partitions;
    int *shared;  /* node -> stage id + 1 of its shared output, 0 when not yet */
    int *folded;  /* node: a limit folded into the sort it reads */
    int64_t *topn; /* node: a sort's top N (-1: all) */
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

static Millrace__SortKey **pb_sort_keys(pbuild *b, const dag_node *nd)
{
    Millrace__SortKey **v = alloc(b, ((size_t)nd->nsort_keys + 1) * sizeof *v);
    for (int i = 0; v && i < nd->nsort_keys; i++) {
        v[i] = alloc(b, sizeof *v[i]);
        if (!v[i])
            return NULL;
        millrace__sort_key__init(v[i]);
        v[i]->column = str(b, nd->sort_keys[i].column);
        v[i]->descending = nd->sort_keys[i].desc;
        v[i]->nulls_first = nd->sort_keys[i].nulls_first;
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

static int grow(pbuild *b, void **v, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 8;
    while (ncap < need)
        ncap *= 2;
    void *nv = alloc(b, ncap * size);
    if (!nv)
        return -1;
    if (*v && *cap)
        memcpy(nv, *v, *cap * size);
    *v = nv;
    *cap = ncap;
    return 0;
}

/* Appends a new operator of kind for node nd with output schema out. */
static Millrace__OpSpec *op_new(pbuild *b, frag *f, Millrace__OpKind kind, const dag_node *nd,
                                Millrace__Schema *out)
{
    if (grow(b, (void **)&f->ops, &f->cap, f->n + 1, sizeof *f->ops) < 0)
        return NULL;
    Millrace__OpSpec *op = alloc(b, sizeof *op);
    if (!op)
        return NULL;
    millrace__op_spec__init(op);
    op->kind = kind;
    op->node = str(b, nd ? nd->id : "");
    op->output = out;
    op->limit = -1;
    f->ops[f->n++] = op;
    return op;
}

static Millrace__Schema *root_schema(const frag *f)
{
    return f->n ? f->ops[f->n - 1]->output : NULL;
}

static void add_input(pbuild *b, frag *f, uint32_t stage)
{
    for (size_t i = 0; i < f->ninputs; i++)
        if (f->inputs[i] == stage)
            return;
    if (grow(b, (void **)&f->inputs, &f->icap, f->ninputs + 1, sizeof *f->inputs) == 0)
        f->inputs[f->ninputs++] = stage;
}

/* Moves src's operators to the end of dst (offsetting explicit children)
 * and returns the index of src's root in dst. */
static uint32_t concat(pbuild *b, frag *dst, const frag *src)
{
    uint32_t off = (uint32_t)dst->n;
    if (grow(b, (void **)&dst->ops, &dst->cap, dst->n + src->n, sizeof *dst->ops) < 0)
        return 0;
    for (size_t i = 0; i < src->n; i++) {
        Millrace__OpSpec *op = src->ops[i];
        for (size_t k = 0; k < op->n_children; k++)
            op->children[k] += off;
        dst->ops[dst->n++] = op;
    }
    for (size_t i = 0; i < src->ninputs; i++)
        add_input(b, dst, src->inputs[i]);
    dst->shuffled = src->shuffled;
    dst->partitions = src->partitions;
    return off + (uint32_t)src->n - 1;
}

/* Cuts f into a new stage; returns it (NULL when out of memory). */
static Millrace__Stage *seal(pbuild *b, frag *f)
{
    if (grow(b, (void **)&b->stages, &b->cap, b->nstages + 1, sizeof *b->stages) < 0)
        return NULL;
    Millrace__Stage *st = alloc(b, sizeof *st);
    if (!st)
        return NULL;
    millrace__stage__init(st);
    st->id = (uint32_t)b->nstages;
    st->ops = f->ops;
    st->n_ops = f->n;
    if (f->shuffled) {
        st->inputs = f->inputs;
        st->n_inputs = f->ninputs;
        st->partitions = f->partitions;
    }
    b->stages[b->nstages++] = st;
    return st;
}

/* Seals f with a shuffle (hash on keys, round robin, or neither for one
 * partition) and replaces it by a fragment that reads that shuffle. */
static void seal_shuffle(pbuild *b, frag *f, const dag_node *nd, uint32_t partitions,
                         char **keys, size_t nkeys, int round_robin)
{
    Millrace__Schema *wire = root_schema(f);
    Millrace__Stage *st = seal(b, f);
    Millrace__ShuffleOut *sh = alloc(b, sizeof *sh);
    if (!st || !sh)
        return;
    millrace__shuffle_out__init(sh);
    sh->partitions = partitions;
    sh->keys = keys;
    sh->n_keys = nkeys;
    sh->round_robin = round_robin;
    st->shuffle = sh;
    memset(f, 0, sizeof *f);
    f->shuffled = 1;
    f->partitions = partitions;
    add_input(b, f, st->id);
    Millrace__OpSpec *r = op_new(b, f, MILLRACE__OP_KIND__OP_SHUFFLE_READ, nd, wire);
    if (r) {
        r->input = wire;
        r->input_stage = st->id;
    }
}

/* Column names of a schema, for shuffle keys over every column. */
static char **schema_names(pbuild *b, const Millrace__Schema *s, size_t *n)
{
    *n = s ? s->n_fields : 0;
    char **v = alloc(b, (*n + 1) * sizeof *v);
    for (size_t i = 0; v && i < *n; i++)
        v[i] = s->fields[i]->name;
    return v;
}

static void emit_scan(pbuild *b, frag *f, const dag_node *nd)
{
    const dag_read *rd = &nd->read;
    Millrace__OpSpec *op = op_new(b, f, MILLRACE__OP_KIND__OP_SCAN, nd, pb_schema(b, nd->out));
    Millrace__ReadSpec *r = alloc(b, sizeof *r);
    Millrace__CsvOptions *csv = alloc(b, sizeof *csv);
    if (!op || !r || !csv)
        return;
    millrace__read_spec__init(r);
    millrace__csv_options__init(csv);
    r->format = rd->format;
    r->path = str(b, rd->path);
    r->schema = op->output;
    r->schema_inferred = rd->schema_inferred; /* for the scan's messages */
    csv->header = rd->csv_header;
    csv->delimiter = dag_arena_strndup(&b->c->arena, &rd->csv_delimiter, 1);
    csv->quote = dag_arena_strndup(&b->c->arena, &rd->csv_quote, 1);
    csv->null_string = str(b, rd->csv_null);
    r->csv = csv;
    r->on_error = rd->on_error;
    r->max_errors = rd->max_errors;
    op->read = r;
}

/* partial | hash(group columns) or one partition | final. */
static void emit_aggregate(pbuild *b, frag *f, const dag_node *nd)
{
    Millrace__Schema *in = root_schema(f);
    Millrace__OpSpec *p = op_new(b, f, MILLRACE__OP_KIND__OP_AGG_PARTIAL, nd, NULL);
    if (!p)
        return;
    p->group_by = pb_strings(b, nd->group_by, nd->ngroup_by);
    p->n_group_by = (size_t)nd->ngroup_by;
    p->aggregates = pb_named(b, nd->aggs.names, nd->aggs.texts, nd->aggs.n);
    p->n_aggregates = (size_t)nd->aggs.n;
    p->input = in;
    /* The wire schema is the partial's output: group columns and states,
     * as the aggregate operator lays them out (filled by validation). */
    p->output = pb_schema(b, nd->partial);
    seal_shuffle(b, f, nd, nd->ngroup_by > 0 ? b->partitions : 1, p->group_by, p->n_group_by, 0);
    Millrace__OpSpec *fin = op_new(b, f, MILLRACE__OP_KIND__OP_AGG_FINAL, nd, pb_schema(b, nd->out));
    if (!fin)
        return;
    fin->group_by = p->group_by;
    fin->n_group_by = p->n_group_by;
    fin->aggregates = p->aggregates;
    fin->n_aggregates = p->n_aggregates;
    fin->input = in;
}

/* distinct over cols (n == 0: every column) | hash(those) | distinct. */
static void emit_distinct(pbuild *b, frag *f, const dag_node *nd, char **cols, size_t n,
                          Millrace__Schema *out)
{
    Millrace__OpSpec *d = op_new(b, f, MILLRACE__OP_KIND__OP_DISTINCT, nd, out);
    if (!d)
        return;
    d->columns = cols;
    d->n_columns = n;
    size_t nk;
    char **keys = schema_names(b, out, &nk);
    seal_shuffle(b, f, nd, b->partitions, keys, nk, 0);
    op_new(b, f, MILLRACE__OP_KIND__OP_DISTINCT, nd, out);
}

/* One partition already, or op | one partition | op again. */
static void emit_global(pbuild *b, frag *f, const dag_node *nd, Millrace__OpKind kind,
                        Millrace__SortKey **sort_keys, size_t nsort, int64_t limit)
{
    int single = f->shuffled && f->partitions == 1;
    for (int pass = single ? 1 : 0; pass < 2; pass++) {
        Millrace__OpSpec *op = op_new(b, f, kind, nd, root_schema(f));
        if (!op)
            return;
        op->sort_keys = sort_keys;
        op->n_sort_keys = nsort;
        op->limit = limit;
        if (pass == 0)
            seal_shuffle(b, f, nd, 1, NULL, 0, 0);
    }
}

static void emit_write(pbuild *b, frag *f, const dag_node *nd)
{
    Millrace__WriteSpec *w = alloc(b, sizeof *w);
    if (!w)
        return;
    millrace__write_spec__init(w);
    const dag_write *dw = &nd->write;
    w->node = str(b, nd->id);
    w->target = dw->target;
    w->table = str(b, dw->table);
    w->mode = dw->mode;
    w->path = str(b, dw->path);
    w->schema = pb_schema(b, nd->out);
    w->key = pb_strings(b, dw->key, dw->nkey);
    w->n_key = w->key ? (size_t)dw->nkey : 0;
    Millrace__Stage *st = seal(b, f);
    if (st)
        st->write = w;
}

static void build(pbuild *b, int idx, frag *f, int depth);

/* The union of nd's inputs into f. */
static void emit_union(pbuild *b, frag *f, const dag_node *nd)
{
    int n = nd->ninputs;
    frag *in = alloc(b, ((size_t)n + 1) * sizeof *in);
    uint32_t *tips = alloc(b, ((size_t)n + 1) * sizeof *tips);
    if (!in || !tips)
        return;
    int scans = 0;
    uint32_t common = 0;
    for (int k = 0; k < n; k++) {
        build(b, nd->inputs[k].node, &in[k], 1);
        if (!in[k].shuffled)
            scans++;
        else if (common == 0 || common == in[k].partitions)
            common = in[k].partitions;
        else
            common = UINT32_MAX;
    }
    if (b->c->arena.failed)
        return;
    /* Mixed sources cannot share a stage: bring every input to shuffle
     * reads of one partition count. */
    if (scans > 0 && scans < n) {
        uint32_t p = common == UINT32_MAX ? b->partitions : common;
        for (int k = 0; k < n; k++)
            if (!in[k].shuffled || in[k].partitions != p)
                seal_shuffle(b, &in[k], nd, p, NULL, 0, 1);
    } else if (scans == 0 && common == UINT32_MAX) {
        for (int k = 0; k < n; k++)
            if (in[k].partitions != b->partitions)
                seal_shuffle(b, &in[k], nd, b->partitions, NULL, 0, 1);
    }
    memset(f, 0, sizeof *f);
    for (int k = 0; k < n; k++)
        tips[k] = concat(b, f, &in[k]);
    Millrace__OpSpec *u = op_new(b, f, MILLRACE__OP_KIND__OP_UNION, nd, pb_schema(b, nd->out));
    if (!u)
        return;
    u->children = tips;
    u->n_children = (size_t)n;
    if (nd->distinct)
        emit_distinct(b, f, nd, NULL, 0, u->output);
}

/* Join: each side hash-partitioned on its keys, then one stage joining
 * partition p of both. */
static void emit_join(pbuild *b, frag *f, const dag_node *nd)
{
    frag side[2];
    const dag_join *dj = &nd->join;
    char **keys[2] = {pb_strings(b, dj->left_keys, dj->nkeys),
                      pb_strings(b, dj->right_keys, dj->nkeys)};
    for (int s = 0; s < 2; s++) {
        build(b, nd->inputs[s].node, &side[s], 1);
        seal_shuffle(b, &side[s], nd, b->partitions, keys[s], (size_t)dj->nkeys, 0);
    }
    memset(f, 0, sizeof *f);
    uint32_t l = concat(b, f, &side[0]), r = concat(b, f, &side[1]);
    Millrace__OpSpec *j = op_new(b, f, MILLRACE__OP_KIND__OP_HASHJOIN, nd, pb_schema(b, nd->out));
    uint32_t *kids = alloc(b, 2 * sizeof *kids);
    if (!j || !kids)
        return;
    kids[0] = l;
    kids[1] = r;
    j->children = kids;
    j->n_children = 2;
    j->join_kind = dj->kind;
    j->left_keys = keys[0];
    j->right_keys = keys[1];
    j->n_left_keys = j->n_right_keys = (size_t)dj->nkeys;
    j->right_prefix = str(b, dj->right_prefix);
}

/* Builds node idx's output as a fragment in f. */
static void build(pbuild *b, int idx, frag *f, int depth)
{
    const dag_node *nd = &b->d->nodes[idx];
    memset(f, 0, sizeof *f);
    if (b->c->arena.failed || depth > b->d->n + 1)
        return;
    if (b->shared[idx]) {
        const Millrace__Stage *st = b->stages[b->shared[idx] - 1];
        f->shuffled = 1;
        f->partitions = st->shuffle->partitions;
        add_input(b, f, st->id);
        Millrace__Schema *wire = st->ops[st->n_ops - 1]->output;
        Millrace__OpSpec *r = op_new(b, f, MILLRACE__OP_KIND__OP_SHUFFLE_READ, nd, wire);
        if (r) {
            r->input = wire;
            r->input_stage = st->id;
        }
        return;
    }
    if (nd->op != DOP_READ && nd->op != DOP_JOIN && nd->op != DOP_UNION)
        build(b, nd->inputs[0].node, f, depth + 1);
    Millrace__OpSpec *op;
    switch (nd->op) {
    case DOP_READ:
        emit_scan(b, f, nd);
        break;
    case DOP_FILTER:
        op = op_new(b, f, MILLRACE__OP_KIND__OP_FILTER, nd, pb_schema(b, nd->out));
        if (op) {
            static const char *const empty = "";
            op->exprs = pb_named(b, &empty, &nd->where, 1);
            op->n_exprs = 1;
        }
        break;
    case DOP_SELECT:
    case DOP_DERIVE:
    case DOP_DROP:
        op = op_new(b, f, MILLRACE__OP_KIND__OP_PROJECT, nd, pb_schema(b, nd->out));
        if (op) {
            op->exprs = pb_named(b, nd->proj.names, nd->proj.texts, nd->proj.n);
            op->n_exprs = (size_t)nd->proj.n;
        }
        break;
    case DOP_AGGREGATE:
        emit_aggregate(b, f, nd);
        break;
    case DOP_DISTINCT: {
        int all = nd->columns_all;
        emit_distinct(b, f, nd, all ? NULL : pb_strings(b, nd->group_by, nd->ngroup_by),
                      all ? 0 : (size_t)nd->ngroup_by, pb_schema(b, nd->out));
        break;
    }
    case DOP_JOIN:
        emit_join(b, f, nd);
        break;
    case DOP_UNION:
        emit_union(b, f, nd);
        break;
    case DOP_SORT:
        emit_global(b, f, nd, MILLRACE__OP_KIND__OP_SORT, pb_sort_keys(b, nd), (size_t)nd->nsort_keys,
                    b->topn[idx]);
        break;
    case DOP_LIMIT:
        if (!b->folded[idx])
            emit_global(b, f, nd, MILLRACE__OP_KIND__OP_LIMIT, NULL, 0, nd->limit);
        break;
    case DOP_WRITE:
        emit_write(b, f, nd);
        return;
    default:
        break;
    }
    /* Computed once for all its readers: share through a round-robin
     * shuffle that keeps the partition count (and so a sorted order). */
    if (nd->nconsumers > 1 && !b->c->arena.failed) {
        seal_shuffle(b, f, nd, f->shuffled ? f->partitions : b->partitions, NULL, 0, 1);
        b->shared[idx] = (int)b->nstages;
        build(b, idx, f, depth);
    }
}

Millrace__JobPlan *dag_compile_plan(dag_ctx *c, const dag *d)
{
    pbuild b = {0};
    b.c = c;
    b.d = d;
    b.partitions = c->opt->partitions ? c->opt->partitions : MR_DAG_DEFAULT_PARTITIONS;
    b.shared = alloc(&b, ((size_t)d->n + 1) * sizeof *b.shared);
    b.folded = alloc(&b, ((size_t)d->n + 1) * sizeof *b.folded);
    b.topn = alloc(&b, ((size_t)d->n + 1) * sizeof *b.topn);
    Millrace__JobPlan *plan = alloc(&b, sizeof *plan);
    Millrace__Warehouse *wh = alloc(&b, sizeof *wh);
    if (!plan || !wh || !b.shared || !b.folded || !b.topn)
        return NULL;
    /* A limit that is the only reader of a sort becomes the sort's top N. */
    for (int i = 0; i < d->n; i++)
        b.topn[i] = -1;
    for (int i = 0; i < d->n; i++) {
        const dag_node *nd = &d->nodes[i];
        if (nd->op != DOP_LIMIT)
            continue;
        int s = nd->inputs[0].node;
        if (d->nodes[s].op == DOP_SORT && d->nodes[s].nconsumers == 1) {
            b.folded[i] = 1;
            b.topn[s] = nd->limit;
        }
    }
    millrace__job_plan__init(plan);
    millrace__warehouse__init(wh);
    frag f;
    for (int i = 0; i < d->n; i++)
        if (d->nodes[i].op == DOP_WRITE)
            build(&b, i, &f, 0);
    plan->name = str(&b, d->name);
    plan->stages = b.stages;
    plan->n_stages = b.nstages;
    wh->driver = d->wh_driver;
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
