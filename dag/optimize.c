/* optimize.c - the plan optimizer: column pruning over the typed DAG model,
 * run by mr_dag_compile between validation and the stage compiler.
 *
 * Pruning.  Every node learns which of its output columns its consumers
 * need: a pass over the nodes from the writes back to the reads (reverse
 * topological order) ORs each consumer's requirements into its inputs'
 * "needed" sets:
 *   write, window, distinct over all columns   every input column
 *   filter        what is needed, plus the columns of its condition
 *   select/derive/drop  the columns of the needed outputs' expressions
 *   aggregate     group columns and the aggregates' columns (its own
 *                 output is kept whole)
 *   join          the keys, and each side's columns the output needs
 *                 (right columns by their prefixed output name)
 *   union         the needed columns, by name, from every input
 *   sort          what is needed, plus the sort keys; limit: what is needed
 *   distinct over columns: those columns
 * A read with on_error skip or reject still checks every column (those
 * policies decide on whole rows, so pruning must not change which rows
 * they drop): its scan outputs all, a project after it the needed ones.
 * With on_error fail, a column nothing reads is not converted at all, so
 * a bad value there no longer fails the job (as in DuckDB).
 * A node that is needed for its row count alone (count(*) over a read)
 * keeps one column.  A second pass, in topological order, narrows the
 * model: a read outputs only its needed columns (dag_node.full_out keeps
 * the file's schema for the scan's ReadSpec, read_cols the positions), a
 * project computes only its needed outputs, and every node whose output
 * is its input's (filter, sort, limit, distinct over columns) or derives
 * from it (join) takes its input's narrowed schema.  Shuffles carry the
 * fragment's schema, so they ship only what is left; writes, windows and
 * aggregates keep their whole output.  A union's inputs may still hold
 * more than it needs (a join keeps its keys): its compile narrows them
 * with a project (dag_narrow), as a join's compile narrows each side to
 * what the join reads (join_in) before its shuffle, which matters when
 * the side is a node others read whole.
 *
 * Which columns an expression uses is found from its text: every column
 * of the input whose name occurs in the text as a whole word (compared
 * without case) counts as used.  That may keep a column a string literal
 * happens to name, never drop one the expression reads, and needs no
 * parsing of aggregate or window calls.
 *
 * MILLRACE_NO_OPTIMIZE=1 in the compiling process's environment turns the
 * pass off (the plan is then exactly the DAG's), for comparing results.
 */
#include "dag/dag_ops.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/op/hashjoin.h"
#include "proto/schema_pb.h"

static int ident_char(char ch)
{
    return isalnum((unsigned char)ch) || ch == '_' || (unsigned char)ch >= 0x80;
}

/* Whether column name occurs in text as a whole word (without case). */
static int text_uses(const char *text, const char *name)
{
    size_t n = strlen(name), t = text ? strlen(text) : 0;
    if (n == 0 || strchr(name, '"'))
        return 1; /* a name an expression quotes with doubled quotes: keep it */
    for (size_t i = 0; i + n <= t; i++) {
        if (strncasecmp(text + i, name, n) != 0)
            continue;
        if ((i == 0 || !ident_char(text[i - 1]) || !ident_char(name[0])) &&
            (i + n == t || !ident_char(text[i + n]) || !ident_char(name[n - 1])))
            return 1;
    }
    return 0;
}

/* Marks in need (over schema in) the columns that text uses. */
static void need_text(char *need, const mr_schema *in, const char *text)
{
    for (int f = 0; text && f < in->nfields; f++)
        if (!need[f] && text_uses(text, in->fields[f].name))
            need[f] = 1;
}

static void need_name(char *need, const mr_schema *in, const char *name)
{
    int f = name ? mr_schema_find(in, name) : -1;
    if (f >= 0)
        need[f] = 1;
}

static void need_all(char *need, const mr_schema *in)
{
    memset(need, 1, (size_t)in->nfields);
}

/* Adds what node nd (whose needed outputs are want) requires of input k
 * (schema in) to need. */
static void require(const dag_node *nd, const char *want, int k, const mr_schema *in, char *need)
{
    const mr_schema *out = nd->out;
    switch (nd->op) {
    case DOP_FILTER:
    case DOP_SORT:
    case DOP_LIMIT:
        for (int f = 0; f < out->nfields; f++)
            if (want[f])
                need_name(need, in, out->fields[f].name);
        if (nd->op == DOP_FILTER)
            need_text(need, in, nd->where);
        for (int s = 0; nd->op == DOP_SORT && s < nd->nsort_keys; s++)
            need_name(need, in, nd->sort_keys[s].column);
        break;
    case DOP_SELECT:
    case DOP_DERIVE:
    case DOP_DROP:
        for (int i = 0; i < nd->proj.n; i++) {
            int f = mr_schema_find(out, nd->proj.names[i]);
            if (f >= 0 && want[f])
                need_text(need, in, nd->proj.texts[i]);
        }
        break;
    case DOP_AGGREGATE:
        for (int g = 0; g < nd->ngroup_by; g++)
            need_name(need, in, nd->group_by[g]);
        for (int a = 0; a < nd->aggs.n; a++)
            need_text(need, in, nd->aggs.texts[a]);
        break;
    case DOP_JOIN: {
        const dag_join *j = &nd->join;
        for (int i = 0; i < j->nkeys; i++)
            need_name(need, in, k == 0 ? j->left_keys[i] : j->right_keys[i]);
        int semi = j->kind == MILLRACE__JOIN_KIND__JOIN_SEMI ||
                   j->kind == MILLRACE__JOIN_KIND__JOIN_ANTI;
        if (k == 1 && semi)
            break;
        for (int f = 0; f < in->nfields; f++) {
            char name[512];
            snprintf(name, sizeof name, "%s%s", k == 1 ? j->right_prefix : "",
                     in->fields[f].name);
            int o = mr_schema_find(out, name);
            if (o < 0 || want[o])
                need[f] = 1; /* not found: keep it rather than guess */
        }
        break;
    }
    case DOP_UNION:
        for (int f = 0; f < out->nfields; f++)
            if (want[f])
                need_name(need, in, out->fields[f].name);
        break;
    case DOP_DISTINCT:
        if (nd->columns_all)
            need_all(need, in);
        for (int g = 0; g < nd->ngroup_by; g++)
            need_name(need, in, nd->group_by[g]);
        break;
    default: /* write, window, anything new: every column */
        need_all(need, in);
        break;
    }
}

/* The columns of s that keep[] marks, in s's order (NULL: out of memory). */
static mr_schema *schema_keep(const mr_schema *s, const char *keep)
{
    int n = 0;
    for (int f = 0; f < s->nfields; f++)
        n += keep[f] != 0;
    mr_schema *o = mr_schema_create(n);
    for (int f = 0, i = 0; o && f < s->nfields; f++)
        if (keep[f] && mr_schema_set(o, i++, s->fields[f].name, s->fields[f].type) != 0) {
            mr_schema_destroy(o);
            return NULL;
        }
    return o;
}

/* The columns of s named in by, in s's order. */
static mr_schema *schema_like(const mr_schema *s, const mr_schema *by, dag_arena *a)
{
    char *keep = dag_arena_alloc(a, (size_t)s->nfields + 1);
    if (!keep)
        return NULL;
    for (int f = 0; f < s->nfields; f++)
        keep[f] = mr_schema_find(by, s->fields[f].name) >= 0;
    return schema_keep(s, keep);
}

/* Narrows node nd's output to the needed columns (want), given its inputs'
 * narrowed schemas.  0, or -1 when out of memory. */
static int narrow(dag_ctx *c, dag_node *nd, const char *want, const char *readers,
                  const dag *d)
{
    const mr_schema *in0 = nd->ninputs > 0 ? d->nodes[nd->inputs[0].node].out : NULL;
    mr_schema *o = NULL;
    switch (nd->op) {
    case DOP_READ: {
        int n = 0;
        for (int f = 0; f < nd->out->nfields; f++)
            n += want[f] != 0;
        if (nd->read.on_error != MILLRACE__ON_ERROR__ON_ERROR_FAIL && n < nd->out->nfields) {
            /* skip and reject decide on whole rows: the scan checks every
             * column, and a project after it keeps the needed ones */
            if (!(nd->scan_out = mr_schema_copy(nd->out)) || !(o = schema_keep(nd->out, want)))
                return -1;
            nd->full_out = nd->out;
            nd->out = o;
            return 0;
        }
        if (nd->pushed.n > 0 && readers) {
            /* the scan decodes what its filter reads too; a project after
             * the filter drops what only the filter needed */
            int nr = 0;
            for (int f = 0; f < nd->out->nfields; f++)
                nr += readers[f] != 0;
            if (nr < n && !(nd->scan_out = schema_keep(nd->out, want)))
                return -1;
            if (nr < n && n == nd->out->nfields) {
                o = schema_keep(nd->out, readers);
                if (!o)
                    return -1;
                nd->full_out = nd->out;
                nd->out = o;
                return 0;
            }
        }
        if (n == nd->out->nfields)
            return 0;
        nd->read_cols = dag_arena_alloc(&c->arena, ((size_t)n + 1) * sizeof *nd->read_cols);
        if (!nd->read_cols)
            return -1;
        for (int f = 0; f < nd->out->nfields; f++)
            if (want[f])
                nd->read_cols[nd->nread_cols++] = (uint32_t)f;
        o = schema_keep(nd->out, nd->scan_out ? readers : want);
        if (!o)
            return -1;
        nd->full_out = nd->out;
        nd->out = o;
        return 0;
    }
    case DOP_SELECT:
    case DOP_DERIVE:
    case DOP_DROP: {
        int n = 0;
        for (int i = 0; i < nd->proj.n; i++) {
            int f = mr_schema_find(nd->out, nd->proj.names[i]);
            if (f >= 0 && want[f]) {
                nd->proj.names[n] = nd->proj.names[i];
                nd->proj.texts[n] = nd->proj.texts[i];
                n++;
            }
        }
        nd->proj.n = n;
        o = schema_keep(nd->out, want);
        break;
    }
    case DOP_FILTER:
    case DOP_SORT:
    case DOP_LIMIT:
        o = mr_schema_copy(in0);
        break;
    case DOP_DISTINCT:
        return 0; /* its columns, or every column of an input kept whole */
    case DOP_JOIN: {
        mr_err err;
        mr_err_clear(&err);
        const dag_join *j = &nd->join;
        o = mr_hashjoin_schema(nd->join_in[0], nd->join_in[1], (mr_join_type)j->kind,
                               j->left_keys, j->right_keys, j->nkeys, j->right_prefix, nd->id,
                               &err);
        if (!o && err.code != MR_ENOMEM)
            return 0; /* cannot happen for a valid DAG: keep the node as it is */
        break;
    }
    case DOP_UNION: {
        o = schema_keep(nd->out, want);
        break;
    }
    default:
        return 0; /* aggregate, window, write: their whole output */
    }
    if (!o)
        return -1;
    /* The old schema stays until the model is freed: names elsewhere in
     * the model (a drop's or derive's columns, a distinct's) point into
     * it. */
    nd->full_out = nd->out;
    nd->out = o;
    return 0;
}

const char *dag_pushed_text(dag_ctx *c, const dag_node *nd)
{
    const char *t = NULL;
    for (int i = 0; i < nd->pushed.n; i++)
        t = t ? dag_arena_printf(&c->arena, "%s AND (%s)", t, nd->pushed.texts[i])
              : dag_arena_printf(&c->arena, "(%s)", nd->pushed.texts[i]);
    return t;
}

static int optimize_off(void)
{
    const char *v = getenv("MILLRACE_NO_OPTIMIZE");
    return v && v[0] && strcmp(v, "0") != 0;
}

void dag_optimize(dag_ctx *c, dag *d)
{
    if (optimize_off() || d->norder != d->n)
        return;
    dag_pushdown(c, d);
    char **want = dag_arena_alloc(&c->arena, ((size_t)d->n + 1) * sizeof *want);
    char **readers = dag_arena_alloc(&c->arena, ((size_t)d->n + 1) * sizeof *readers);
    if (!want || !readers)
        return;
    for (int i = 0; i < d->n; i++) {
        const dag_node *nd = &d->nodes[i];
        if (!nd->out || nd->op < 0)
            return; /* only a fully typed DAG is rewritten */
        want[i] = dag_arena_alloc(&c->arena, (size_t)nd->out->nfields + 1);
        if (!want[i])
            return;
    }
    /* Needed columns, from the writes back to the reads. */
    for (int oi = d->norder - 1; oi >= 0; oi--) {
        int i = d->order[oi];
        dag_node *nd = &d->nodes[i];
        if (nd->op == DOP_WRITE)
            need_all(want[i], nd->out);
        if (nd->op == DOP_READ && nd->read.incremental == MILLRACE__INCREMENTAL__INCREMENTAL_COLUMN)
            need_name(want[i], nd->out, nd->read.incremental_column); /* the watermark's */
        int any = 0;
        for (int f = 0; f < nd->out->nfields; f++)
            any |= want[i][f];
        if (!any && nd->out->nfields > 0)
            want[i][0] = 1; /* needed for its rows alone: keep one column */
        if (nd->pushed.n > 0) {
            /* the conditions pushed onto its output read columns too */
            readers[i] = dag_arena_alloc(&c->arena, (size_t)nd->out->nfields + 1);
            char *used = dag_arena_alloc(&c->arena, (size_t)nd->out->nfields + 1);
            if (!readers[i] || !used)
                return;
            memcpy(readers[i], want[i], (size_t)nd->out->nfields);
            for (int p = 0; p < nd->pushed.n; p++) {
                memset(used, 0, (size_t)nd->out->nfields);
                need_text(used, nd->out, nd->pushed.texts[p]);
                for (int f = 0; f < nd->out->nfields; f++)
                    want[i][f] |= used[f];
            }
        }
        for (int k = 0; k < nd->ninputs; k++) {
            int in = nd->inputs[k].node;
            const mr_schema *ins = d->nodes[in].out;
            require(nd, want[i], k, ins, want[in]);
            if (nd->op == DOP_JOIN && k < 2) {
                /* what this join alone reads of the input */
                char *own = dag_arena_alloc(&c->arena, (size_t)ins->nfields + 1);
                if (!own)
                    return;
                require(nd, want[i], k, ins, own);
                nd->join_in[k] = schema_keep(ins, own);
                if (!nd->join_in[k]) {
                    c->oom = 1;
                    return;
                }
            }
        }
    }
    /* Narrowed schemas, from the reads on. */
    for (int oi = 0; oi < d->norder; oi++) {
        int i = d->order[oi];
        if (narrow(c, &d->nodes[i], want[i], readers[i], d) < 0) {
            c->oom = 1;
            return;
        }
    }
}

/* Appends to f a project onto the columns of want when f's output has
 * others (a union's input after pruning). */
void dag_narrow(dag_pb *b, dag_frag *f, const dag_node *nd, const mr_schema *want)
{
    Millrace__Schema *s = dag_frag_schema(f);
    if (!s || !want || s->n_fields == (size_t)want->nfields)
        return;
    mr_err err;
    mr_err_clear(&err);
    mr_schema *have = mr_schema_from_pb(s, &err);
    mr_schema *keep = have ? schema_like(have, want, &b->c->arena) : NULL;
    const char **names = keep ? dag_pb_alloc(b, ((size_t)keep->nfields + 1) * sizeof *names) : NULL;
    const char **texts = keep ? dag_pb_alloc(b, ((size_t)keep->nfields + 1) * sizeof *texts) : NULL;
    Millrace__OpSpec *op = NULL;
    if (!names || !texts) {
        b->c->oom = 1;
        goto out;
    }
    for (int i = 0; i < keep->nfields; i++) {
        names[i] = dag_pb_str(b, keep->fields[i].name);
        texts[i] = dag_quote_ident(&b->c->arena, keep->fields[i].name);
    }
    op = dag_op_new(b, f, MILLRACE__OP_KIND__OP_PROJECT, nd, dag_pb_schema(b, keep));
    if (op) {
        op->project->exprs = dag_pb_named(b, names, texts, keep->nfields);
        op->project->n_exprs = (size_t)keep->nfields;
    }
out:
    mr_schema_destroy(keep);
    mr_schema_destroy(have);
}
