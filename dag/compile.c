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
 *               because every shuffle of a job has the same partition owners;
 *               or broadcast (op_join.c): left chain, right chain (its reads
 *               marked broadcast, read whole by every task), hash join, in
 *               the left side's stage, no shuffle
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
 * Each op's part lives in its file (dag/op_*.c), reached through the
 * registry dag_ops[] (dag_ops.h): its compile function appends its
 * operators to the fragment of its input, or builds its inputs itself
 * (read, join, union).  This file holds what they share: fragments,
 * sealing a stage, shuffles, and nodes read by several others.
 *
 * The plan is built from arena memory, then packed to bytes and unpacked
 * with protobuf-c's default allocator, so the caller frees it with
 * millrace__job_plan__free_unpacked alone.
 */
#include "dag/dag_ops.h"

#include <string.h>

#include "proto/plan_names.h"
#include "proto/schema_pb.h"

void *dag_pb_alloc(dag_pb *b, size_t n)
{
    return dag_arena_alloc(&b->c->arena, n);
}

char *dag_pb_str(dag_pb *b, const char *s)
{
    char *p = dag_arena_strdup(&b->c->arena, s ? s : "");
    return p ? p : (char *)"";
}

Millrace__Schema *dag_pb_schema(dag_pb *b, const mr_schema *s)
{
    Millrace__Schema *pb = dag_pb_alloc(b, sizeof *pb);
    if (!pb)
        return NULL;
    millrace__schema__init(pb);
    int n = s ? s->nfields : 0;
    pb->fields = dag_pb_alloc(b, ((size_t)n + 1) * sizeof *pb->fields);
    if (!pb->fields)
        return NULL;
    for (int i = 0; i < n; i++) {
        Millrace__Field *f = dag_pb_alloc(b, sizeof *f);
        Millrace__Type *t = dag_pb_alloc(b, sizeof *t);
        if (!f || !t)
            return NULL;
        millrace__field__init(f);
        millrace__type__init(t);
        f->name = dag_pb_str(b, s->fields[i].name);
        t->id = (Millrace__TypeId)s->fields[i].type.id;
        t->precision = s->fields[i].type.precision;
        t->scale = s->fields[i].type.scale;
        f->type = t;
        pb->fields[pb->n_fields++] = f;
    }
    return pb;
}

Millrace__NamedExpr **dag_pb_named(dag_pb *b, const char *const *names,
                                      const char *const *texts, int n)
{
    Millrace__NamedExpr **v = dag_pb_alloc(b, ((size_t)n + 1) * sizeof *v);
    for (int i = 0; v && i < n; i++) {
        v[i] = dag_pb_alloc(b, sizeof *v[i]);
        if (!v[i])
            return NULL;
        millrace__named_expr__init(v[i]);
        v[i]->name = dag_pb_str(b, names[i]);
        v[i]->expr = dag_pb_str(b, texts[i]);
    }
    return v;
}

char **dag_pb_strings(dag_pb *b, const char *const *s, int n)
{
    char **v = dag_pb_alloc(b, ((size_t)n + 1) * sizeof *v);
    for (int i = 0; v && i < n; i++)
        v[i] = dag_pb_str(b, s[i]);
    return v;
}

static int grow(dag_pb *b, void **v, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 8;
    while (ncap < need)
        ncap *= 2;
    void *nv = dag_pb_alloc(b, ncap * size);
    if (!nv)
        return -1;
    if (*v && *cap)
        memcpy(nv, *v, *cap * size);
    *v = nv;
    *cap = ncap;
    return 0;
}

/* Appends a new operator of kind for node nd with output schema out. */
Millrace__OpSpec *dag_op_new(dag_pb *b, dag_frag *f, Millrace__OpKind kind, const dag_node *nd,
                                Millrace__Schema *out)
{
    if (grow(b, (void **)&f->ops, &f->cap, f->n + 1, sizeof *f->ops) < 0)
        return NULL;
    Millrace__OpSpec *op = dag_pb_alloc(b, sizeof *op);
    if (!op)
        return NULL;
    millrace__op_spec__init(op);
    op->kind = kind;
    op->node = dag_pb_str(b, nd ? nd->id : "");
    op->output = out;
    /* the kind's own message, empty, for the caller to fill */
    const ProtobufCMessageDescriptor *md = mr_plan_op_message(kind);
    ProtobufCMessage *m = md ? dag_pb_alloc(b, md->sizeof_message) : NULL;
    if (!m)
        return NULL;
    protobuf_c_message_init(md, m);
    op->op_case = mr_plan_op_case(kind);
    op->read = (Millrace__ReadSpec *)m; /* the members share storage */
    f->ops[f->n++] = op;
    return op;
}

Millrace__Schema *dag_frag_schema(const dag_frag *f)
{
    return f->n ? f->ops[f->n - 1]->output : NULL;
}

static void add_input(dag_pb *b, dag_frag *f, uint32_t stage)
{
    for (size_t i = 0; i < f->ninputs; i++)
        if (f->inputs[i] == stage)
            return;
    if (grow(b, (void **)&f->inputs, &f->icap, f->ninputs + 1, sizeof *f->inputs) == 0)
        f->inputs[f->ninputs++] = stage;
}

/* Moves src's operators to the end of dst (offsetting explicit children)
 * and returns the index of src's root in dst. */
uint32_t dag_frag_concat(dag_pb *b, dag_frag *dst, const dag_frag *src)
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
Millrace__Stage *dag_seal(dag_pb *b, dag_frag *f)
{
    if (grow(b, (void **)&b->stages, &b->cap, b->nstages + 1, sizeof *b->stages) < 0)
        return NULL;
    Millrace__Stage *st = dag_pb_alloc(b, sizeof *st);
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
void dag_seal_shuffle(dag_pb *b, dag_frag *f, const dag_node *nd, uint32_t partitions,
                         char **keys, size_t nkeys, int round_robin)
{
    Millrace__Schema *wire = dag_frag_schema(f);
    Millrace__Stage *st = dag_seal(b, f);
    Millrace__ShuffleOut *sh = dag_pb_alloc(b, sizeof *sh);
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
    Millrace__OpSpec *r = dag_op_new(b, f, MILLRACE__OP_KIND__OP_SHUFFLE_READ, nd, wire);
    if (r) {
        r->input = wire;
        r->shuffle_read->input_stage = st->id;
    }
}

/* Column names of a schema, for shuffle keys over every column. */
char **dag_schema_names(dag_pb *b, const Millrace__Schema *s, size_t *n)
{
    *n = s ? s->n_fields : 0;
    char **v = dag_pb_alloc(b, (*n + 1) * sizeof *v);
    for (size_t i = 0; v && i < *n; i++)
        v[i] = s->fields[i]->name;
    return v;
}

/* distinct over cols (n == 0: every column) | hash(those) | distinct. */
void dag_emit_distinct(dag_pb *b, dag_frag *f, const dag_node *nd, char **cols, size_t n,
                          Millrace__Schema *out)
{
    Millrace__OpSpec *d = dag_op_new(b, f, MILLRACE__OP_KIND__OP_DISTINCT, nd, out);
    if (!d)
        return;
    d->distinct->columns = cols;
    d->distinct->n_columns = n;
    size_t nk;
    char **keys = dag_schema_names(b, out, &nk);
    dag_seal_shuffle(b, f, nd, b->partitions, keys, nk, 0);
    dag_op_new(b, f, MILLRACE__OP_KIND__OP_DISTINCT, nd, out);
}

/* One partition already, or op | one partition | op again. */
void dag_emit_global(dag_pb *b, dag_frag *f, const dag_node *nd, Millrace__OpKind kind,
                        Millrace__SortKey **sort_keys, size_t nsort, int64_t limit)
{
    int single = f->shuffled && f->partitions == 1;
    for (int pass = single ? 1 : 0; pass < 2; pass++) {
        Millrace__OpSpec *op = dag_op_new(b, f, kind, nd, dag_frag_schema(f));
        if (!op)
            return;
        if (kind == MILLRACE__OP_KIND__OP_SORT) {
            op->sort->keys = sort_keys;
            op->sort->n_keys = nsort;
            op->sort->limit = limit;
        } else {
            op->limit->n = limit;
        }
        if (pass == 0)
            dag_seal_shuffle(b, f, nd, 1, NULL, 0, 0);
    }
}

/* Builds node idx's output as a fragment in f. */
void dag_build_node(dag_pb *b, int idx, dag_frag *f, int depth)
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
        Millrace__OpSpec *r = dag_op_new(b, f, MILLRACE__OP_KIND__OP_SHUFFLE_READ, nd, wire);
        if (r) {
            r->input = wire;
            r->shuffle_read->input_stage = st->id;
        }
        return;
    }
    const dag_op_def *def = &dag_ops[nd->op];
    if (!def->own_inputs)
        dag_build_node(b, nd->inputs[0].node, f, depth + 1);
    def->compile(b, f, nd, idx);
    /* conditions pushed onto this node's output (a read has them inside) */
    const char *pushed = nd->op != DOP_READ ? dag_pushed_text(b->c, nd) : NULL;
    if (pushed) {
        Millrace__OpSpec *op = dag_op_new(b, f, MILLRACE__OP_KIND__OP_FILTER, nd,
                                          dag_frag_schema(f));
        if (op) {
            op->node = dag_pb_str(b, nd->pushed.names[0]);
            op->filter->predicate = dag_pb_str(b, pushed);
            op->filter->pushed = 1;
        }
    }
    /* Computed once for all its readers: share through a round-robin
     * shuffle that keeps the partition count (and so a sorted order). */
    if (nd->nconsumers > 1 && !b->c->arena.failed) {
        dag_seal_shuffle(b, f, nd, f->shuffled ? f->partitions : b->partitions, NULL, 0, 1);
        b->shared[idx] = (int)b->nstages;
        dag_build_node(b, idx, f, depth);
    }
}

Millrace__JobPlan *dag_compile_plan(dag_ctx *c, const dag *d)
{
    dag_pb b = {0};
    b.c = c;
    b.d = d;
    b.partitions = c->opt->partitions ? c->opt->partitions : MR_DAG_DEFAULT_PARTITIONS;
    b.shared = dag_pb_alloc(&b, ((size_t)d->n + 1) * sizeof *b.shared);
    b.folded = dag_pb_alloc(&b, ((size_t)d->n + 1) * sizeof *b.folded);
    b.topn = dag_pb_alloc(&b, ((size_t)d->n + 1) * sizeof *b.topn);
    Millrace__JobPlan *plan = dag_pb_alloc(&b, sizeof *plan);
    Millrace__Warehouse *wh = dag_pb_alloc(&b, sizeof *wh);
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
    dag_frag f;
    for (int i = 0; i < d->n; i++)
        if (d->nodes[i].op == DOP_WRITE)
            dag_build_node(&b, i, &f, 0);
    plan->name = dag_pb_str(&b, d->name);
    plan->stages = b.stages;
    plan->n_stages = b.nstages;
    wh->driver = d->wh_driver;
    wh->path = dag_pb_str(&b, d->wh_path);
    wh->dsn = dag_pb_str(&b, d->wh_dsn);
    wh->schema = dag_pb_str(&b, d->wh_schema);
    plan->warehouse = wh;
    plan->post_sql = dag_pb_strings(&b, d->post_sql, d->npost_sql);
    plan->n_post_sql = (size_t)d->npost_sql;
    if (c->arena.failed || c->nerrors)
        return NULL;
    return plan;
}
