/* test_dag.c - unit tests of the DAG front end: param substitution, schema
 * conversion, the compiled plan's exact contents, options and output forms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dag/dag.h"
#include "dag/dag_int.h"

static const char *fake_env(const char *name)
{
    return strcmp(name, "HOME_DIR") == 0 ? "/home/x" : NULL;
}

/* ---- dag_subst ---------------------------------------------------------- */

static void test_subst(void **state)
{
    (void)state;
    dag_arena a = {0};
    const char *keys[] = {"data", "n"};
    const char *vals[] = {"/srv/data", "42"};
    dag_params p = {keys, vals, 2};
    char *out, msg[256];
    size_t len;
    int *map, off;

    /* No '$': copied, no map. */
    assert_int_equal(dag_subst(&a, "plain", 5, &p, fake_env, &out, &len, &map, &off, msg, 256), 0);
    assert_string_equal(out, "plain");
    assert_null(map);

    const char *t = "${data}/x_${n}.csv $$ $5 ${env:HOME_DIR}";
    assert_int_equal(dag_subst(&a, t, strlen(t), &p, fake_env, &out, &len, &map, &off, msg, 256), 0);
    assert_string_equal(out, "/srv/data/x_42.csv $ $5 /home/x");
    assert_int_equal(len, strlen(out));
    assert_non_null(map);
    assert_int_equal(map[0], 0);  /* inside ${data}: its '$' */
    assert_int_equal(map[8], 0);
    assert_int_equal(map[9], 7);  /* the '/' after ${data} */
    assert_int_equal(map[12], 10); /* 4 of 42 maps to the '$' of ${n} */
    assert_int_equal(map[len], (int)strlen(t));

    /* Unknown param: error at its '$', with a suggestion. */
    t = "x ${dta}";
    assert_int_equal(dag_subst(&a, t, strlen(t), &p, fake_env, &out, &len, &map, &off, msg, 256),
                     MR_EINVAL);
    assert_int_equal(off, 2);
    assert_string_equal(msg, "unknown param 'dta' (did you mean 'data'?)");

    t = "${env:NOT_THERE}";
    assert_int_equal(dag_subst(&a, t, strlen(t), &p, fake_env, &out, &len, &map, &off, msg, 256),
                     MR_EINVAL);
    assert_int_equal(off, 0);
    assert_string_equal(msg, "environment variable 'NOT_THERE' is not set");

    t = "ok ${data";
    assert_int_equal(dag_subst(&a, t, strlen(t), &p, fake_env, &out, &len, &map, &off, msg, 256),
                     MR_EINVAL);
    assert_int_equal(off, 3);

    t = "${a b}";
    assert_int_equal(dag_subst(&a, t, strlen(t), &p, fake_env, &out, &len, &map, &off, msg, 256),
                     MR_EINVAL);

    /* Without params (params' own values), ${name} is refused. */
    t = "${data}";
    assert_int_equal(dag_subst(&a, t, strlen(t), NULL, fake_env, &out, &len, &map, &off, msg, 256),
                     MR_EINVAL);

    /* A param's value is not substituted again. */
    const char *k2[] = {"x"};
    const char *v2[] = {"${y}"};
    dag_params p2 = {k2, v2, 1};
    t = "${x}";
    assert_int_equal(dag_subst(&a, t, strlen(t), &p2, fake_env, &out, &len, &map, &off, msg, 256), 0);
    assert_string_equal(out, "${y}");
    dag_arena_free(&a);
}

static void test_suggest(void **state)
{
    (void)state;
    const char *c[] = {"filter", "select", "format", "aggregate"};
    assert_string_equal(dag_suggest("fliter", c, 4), "filter");
    assert_string_equal(dag_suggest("fromat", c, 4), "format");
    assert_string_equal(dag_suggest("agregate", c, 4), "aggregate");
    assert_string_equal(dag_suggest("FILTER", c, 4), "filter");
    assert_null(dag_suggest("zzz", c, 4));
    assert_null(dag_suggest("x", c, 4));
}

/* ---- schema conversion --------------------------------------------------- */

static void test_schema_round_trip(void **state)
{
    (void)state;
    mr_schema *s = mr_schema_create(4);
    assert_int_equal(mr_schema_set(s, 0, "id", mr_type_make(MR_T_INT64)), 0);
    assert_int_equal(mr_schema_set(s, 1, "price", mr_type_decimal(8, 2)), 0);
    assert_int_equal(mr_schema_set(s, 2, "Any \"Name\"", mr_type_make(MR_T_STRING)), 0);
    assert_int_equal(mr_schema_set(s, 3, "at", mr_type_make(MR_T_TIMESTAMP)), 0);
    Millrace__Schema *pb = mr_schema_to_pb(s);
    assert_non_null(pb);
    assert_int_equal(pb->n_fields, 4);
    assert_int_equal(pb->fields[1]->type->id, MILLRACE__TYPE_ID__TYPE_DECIMAL);
    assert_int_equal(pb->fields[1]->type->precision, 8);

    /* Through the wire and back. */
    size_t n = millrace__schema__get_packed_size(pb);
    uint8_t *buf = malloc(n);
    millrace__schema__pack(pb, buf);
    Millrace__Schema *un = millrace__schema__unpack(NULL, n, buf);
    assert_non_null(un);
    mr_err err;
    mr_err_clear(&err);
    mr_schema *back = mr_schema_from_pb(un, &err);
    assert_non_null(back);
    assert_int_equal(back->nfields, 4);
    for (int i = 0; i < 4; i++) {
        assert_string_equal(back->fields[i].name, s->fields[i].name);
        assert_true(mr_type_equal(back->fields[i].type, s->fields[i].type));
    }
    mr_schema_destroy(back);
    millrace__schema__free_unpacked(un, NULL);
    free(buf);

    /* Bad messages are refused with a message. */
    pb->fields[1]->type->precision = 19;
    assert_null(mr_schema_from_pb(pb, &err));
    assert_int_equal(err.code, MR_EPROTO);
    assert_non_null(strstr(err.msg, "price"));
    pb->fields[1]->type->precision = 8;
    pb->fields[0]->type->id = 77;
    assert_null(mr_schema_from_pb(pb, &err));
    pb->fields[0]->type->id = MILLRACE__TYPE_ID__TYPE_NULL;
    assert_null(mr_schema_from_pb(pb, &err));
    pb->fields[0]->type->id = MILLRACE__TYPE_ID__TYPE_INT64;
    pb->fields[3]->name[0] = '\0';
    assert_null(mr_schema_from_pb(pb, &err));
    assert_non_null(strstr(err.msg, "no name"));
    mr_schema_pb_free(pb);

    /* Empty and NULL. */
    mr_schema *empty = mr_schema_from_pb(NULL, &err);
    assert_non_null(empty);
    assert_int_equal(empty->nfields, 0);
    pb = mr_schema_to_pb(empty);
    assert_non_null(pb);
    assert_int_equal(pb->n_fields, 0);
    mr_schema_pb_free(pb);
    mr_schema_pb_free(NULL);
    mr_schema_destroy(empty);
    mr_schema_destroy(s);
}

/* ---- compiled plans ------------------------------------------------------ */

static const char *const etl =
    "version: 1\n"
    "name: etl\n"
    "params: {dir: in}\n"
    "nodes:\n"
    "  src:\n"
    "    op: read\n"
    "    format: csv\n"
    "    path: ${dir}/x.csv\n"
    "    schema: {id: int64, name: string, amount: \"decimal(8,2)\"}\n"
    "    csv: {header: false, delimiter: ';', 'null': NA}\n"
    "    on_error: skip\n"
    "    max_errors: 7\n"
    "  d: {op: derive, input: src, columns: {name: upper(name), big: amount > 100}}\n"
    "  dr: {op: drop, input: d, columns: [amount]}\n"
    "  agg: {op: aggregate, input: dr, group_by: [big], aggregates: {n: count(*)}}\n"
    "  out: {op: write, input: agg, to: warehouse, table: s.t}\n";

static Millrace__JobPlan *compile_ok(const char *yaml, const mr_dag_options *opt)
{
    Millrace__JobPlan *plan = NULL;
    mr_diags d = {0};
    int rc = mr_dag_compile(yaml, strlen(yaml), opt, &plan, &d);
    if (rc != 0) {
        mr_diags_print(&d, stderr);
        fail_msg("compile failed: %d", rc);
    }
    mr_diags_free(&d);
    return plan;
}

/* Tests of the stage compiler's own layout run with the optimizer off (its
 * plans are in the golden corpus and tests/e2e/test_optimizer.py). */
static int no_optimize(void **state)
{
    (void)state;
    return setenv("MILLRACE_NO_OPTIMIZE", "1", 1);
}

static int optimize_again(void **state)
{
    (void)state;
    return unsetenv("MILLRACE_NO_OPTIMIZE");
}

static void test_plan_contents(void **state)
{
    (void)state;
    mr_param over = {"dir", "/abs/in"};
    mr_dag_options opt = {.file = "x.yaml", .params = &over, .nparams = 1, .partitions = 3};
    Millrace__JobPlan *plan = compile_ok(etl, &opt);
    assert_string_equal(plan->name, "etl");
    assert_int_equal(plan->n_stages, 2);
    const Millrace__Stage *s0 = plan->stages[0], *s1 = plan->stages[1];
    assert_int_equal(s0->n_ops, 4);
    const Millrace__OpSpec *scan = s0->ops[0];
    assert_int_equal(scan->kind, MILLRACE__OP_KIND__OP_SCAN);
    assert_string_equal(scan->node, "src");
    assert_string_equal(scan->read->path, "/abs/in/x.csv");
    assert_int_equal(scan->read->format, MILLRACE__FILE_FORMAT__FORMAT_CSV);
    assert_false(scan->read->csv->header);
    assert_string_equal(scan->read->csv->delimiter, ";");
    assert_string_equal(scan->read->csv->quote, "\"");
    assert_string_equal(scan->read->csv->null_string, "NA");
    assert_int_equal(scan->read->on_error, MILLRACE__ON_ERROR__ON_ERROR_SKIP);
    assert_int_equal(scan->read->max_errors, 7);
    assert_int_equal(scan->read->schema->n_fields, 3);

    /* derive: every input column, replaced in place, then new ones. */
    const Millrace__OpSpec *d = s0->ops[1];
    assert_int_equal(d->kind, MILLRACE__OP_KIND__OP_PROJECT);
    assert_int_equal(d->project->n_exprs, 4);
    assert_string_equal(d->project->exprs[0]->name, "id");
    assert_string_equal(d->project->exprs[0]->expr, "\"id\"");
    assert_string_equal(d->project->exprs[1]->name, "name");
    assert_string_equal(d->project->exprs[1]->expr, "upper(name)");
    assert_string_equal(d->project->exprs[2]->expr, "\"amount\"");
    assert_string_equal(d->project->exprs[3]->name, "big");
    assert_int_equal(d->output->fields[3]->type->id, MILLRACE__TYPE_ID__TYPE_BOOL);

    const Millrace__OpSpec *dr = s0->ops[2];
    assert_int_equal(dr->project->n_exprs, 3);
    assert_string_equal(dr->project->exprs[2]->name, "big");

    const Millrace__OpSpec *part = s0->ops[3];
    assert_int_equal(part->kind, MILLRACE__OP_KIND__OP_AGG_PARTIAL);
    assert_int_equal(part->agg->n_group_by, 1);
    assert_string_equal(part->agg->group_by[0], "big");
    assert_string_equal(part->agg->aggregates[0]->name, "n");
    assert_string_equal(part->agg->aggregates[0]->expr, "count(*)");
    assert_int_equal(part->input->n_fields, 3);
    /* its output, the wire schema, is complete: the group column, then
     * count's state */
    assert_int_equal(part->output->n_fields, 2);
    assert_string_equal(part->output->fields[0]->name, "big");
    assert_int_equal(s1->ops[0]->input->n_fields, 2);
    assert_int_equal(s0->shuffle->partitions, 3);
    assert_string_equal(s0->shuffle->keys[0], "big");
    assert_null(s0->write);

    assert_int_equal(s1->partitions, 3);
    assert_int_equal(s1->n_inputs, 1);
    assert_int_equal(s1->inputs[0], 0);
    assert_int_equal(s1->ops[0]->kind, MILLRACE__OP_KIND__OP_SHUFFLE_READ);
    assert_int_equal(s1->ops[1]->kind, MILLRACE__OP_KIND__OP_AGG_FINAL);
    assert_int_equal(s1->ops[1]->input->n_fields, 3);
    assert_int_equal(s1->ops[1]->output->n_fields, 2);
    assert_string_equal(s1->ops[1]->output->fields[1]->name, "n");
    assert_int_equal(s1->ops[1]->output->fields[1]->type->id, MILLRACE__TYPE_ID__TYPE_INT64);
    assert_string_equal(s1->write->node, "out");
    assert_int_equal(s1->write->target, MILLRACE__WRITE_TARGET__TARGET_WAREHOUSE);
    assert_string_equal(s1->write->table, "s.t");
    assert_int_equal(s1->write->mode, MILLRACE__WRITE_MODE__MODE_APPEND);
    assert_int_equal(s1->write->schema->n_fields, 2);
    assert_int_equal(plan->warehouse->driver, MILLRACE__WAREHOUSE_DRIVER__DRIVER_SQLITE);
    assert_string_equal(plan->warehouse->path, "millrace.db");

    char *json = mr_plan_json(plan);
    assert_non_null(strstr(json, "\"path\":\"/abs/in/x.csv\""));
    assert_non_null(strstr(json, "\"expr\":\"\\\"id\\\"\"")); /* quotes escaped */
    free(json);
    millrace__job_plan__free_unpacked(plan, NULL);
}

/* ---- wide ops: the plan's exact structure --------------------------------- */

#define K(x) MILLRACE__OP_KIND__OP_##x

static const char *const wide =
    "version: 1\n"
    "name: wide\n"
    "nodes:\n"
    "  a: {op: read, format: csv, path: a.csv, schema: {id: int64, v: string}}\n"
    "  b: {op: read, format: csv, path: b.csv, schema: {id: int32, w: float64}}\n"
    "  j: {op: join, left: a, right: b, on: [id], how: semi}\n"
    "  s: {op: sort, input: j, by: [v desc, id]}\n"
    "  l: {op: limit, input: s, n: 4}\n"
    "  o: {op: write, input: l, to: warehouse, table: t}\n"
    "  c: {op: read, format: csv, path: c.csv, schema: {v: string, id: int64}}\n"
    "  d: {op: read, format: csv, path: d.csv, schema: {id: int64, v: string}}\n"
    "  df: {op: filter, input: d, where: id > 1}\n"
    "  u: {op: union, inputs: [c, df], distinct: true}\n"
    "  ul: {op: limit, input: u, n: 2}\n"
    "  o2: {op: write, input: ul, to: warehouse, table: t2}\n";

static void test_plan_wide(void **state)
{
    (void)state;
    mr_dag_options opt = {.partitions = 5};
    Millrace__JobPlan *plan = compile_ok(wide, &opt);
    assert_int_equal(plan->n_stages, 7);
    Millrace__Stage *const *st = plan->stages;
    /* join: each side hash-partitioned on its own key into 5 partitions */
    assert_int_equal(st[0]->ops[0]->kind, K(SCAN));
    assert_string_equal(st[0]->shuffle->keys[0], "id");
    assert_int_equal(st[0]->shuffle->partitions, 5);
    assert_false(st[0]->shuffle->round_robin);
    assert_int_equal(st[1]->shuffle->partitions, 5);
    const Millrace__Stage *js = st[2];
    assert_int_equal(js->partitions, 5);
    assert_int_equal(js->n_inputs, 2);
    assert_int_equal(js->inputs[0], 0);
    assert_int_equal(js->inputs[1], 1);
    assert_int_equal(js->n_ops, 4);
    assert_int_equal(js->ops[0]->kind, K(SHUFFLE_READ));
    assert_int_equal(js->ops[0]->shuffle_read->input_stage, 0);
    assert_int_equal(js->ops[0]->input->n_fields, 2);
    assert_int_equal(js->ops[1]->shuffle_read->input_stage, 1);
    assert_string_equal(js->ops[1]->input->fields[1]->name, "w");
    const Millrace__OpSpec *j = js->ops[2];
    assert_int_equal(j->kind, K(HASHJOIN));
    assert_int_equal(j->n_children, 2);
    assert_int_equal(j->children[0], 0);
    assert_int_equal(j->children[1], 1);
    assert_int_equal(j->hashjoin->kind, MILLRACE__JOIN_KIND__JOIN_SEMI);
    assert_string_equal(j->hashjoin->left_keys[0], "id");
    assert_string_equal(j->hashjoin->right_keys[0], "id");
    assert_int_equal(j->output->n_fields, 2); /* semi: left columns only */
    /* sort + limit: top-N on both sides of a one-partition shuffle */
    assert_int_equal(js->ops[3]->kind, K(SORT));
    assert_int_equal(js->ops[3]->sort->limit, 4);
    assert_string_equal(js->ops[3]->sort->keys[0]->column, "v");
    assert_true(js->ops[3]->sort->keys[0]->descending);
    assert_true(js->ops[3]->sort->keys[0]->nulls_first); /* the default for desc */
    assert_false(js->ops[3]->sort->keys[1]->descending);
    assert_int_equal(js->shuffle->partitions, 1);
    assert_int_equal(js->shuffle->n_keys, 0);
    assert_int_equal(st[3]->partitions, 1);
    assert_int_equal(st[3]->n_ops, 2);
    assert_int_equal(st[3]->ops[1]->kind, K(SORT));
    assert_int_equal(st[3]->ops[1]->sort->limit, 4);
    /* union of two read chains: one scan stage, union over the chain tips,
     * then distinct | hash(all columns) | distinct */
    const Millrace__Stage *us = st[4];
    assert_int_equal(us->n_inputs, 0);
    assert_int_equal(us->ops[0]->kind, K(SCAN));
    assert_int_equal(us->ops[1]->kind, K(SCAN));
    assert_int_equal(us->ops[2]->kind, K(FILTER));
    assert_int_equal(us->ops[2]->n_children, 0); /* reads the op before it */
    const Millrace__OpSpec *u = us->ops[3];
    assert_int_equal(u->kind, K(UNION));
    assert_false(u->union_op->distinct);
    assert_int_equal(u->n_children, 2);
    assert_int_equal(u->children[0], 0);
    assert_int_equal(u->children[1], 2);
    assert_string_equal(u->output->fields[0]->name, "v");
    assert_int_equal(us->ops[4]->kind, K(DISTINCT));
    assert_int_equal(us->ops[4]->distinct->n_columns, 0);
    assert_int_equal(us->n_ops, 5);
    assert_int_equal(us->shuffle->n_keys, 2);
    assert_string_equal(us->shuffle->keys[0], "v");
    assert_string_equal(us->shuffle->keys[1], "id");
    assert_int_equal(st[5]->ops[1]->kind, K(DISTINCT));
    /* limit without a sort: limit | one partition | limit */
    assert_int_equal(st[5]->ops[2]->kind, K(LIMIT));
    assert_int_equal(st[5]->ops[2]->limit->n, 2);
    assert_int_equal(st[5]->shuffle->partitions, 1);
    assert_int_equal(st[6]->ops[1]->kind, K(LIMIT));
    assert_int_equal(st[6]->ops[1]->limit->n, 2);
    assert_int_equal(st[6]->partitions, 1);
    assert_int_equal(st[6]->n_ops, 2);
    assert_string_equal(st[6]->write->table, "t2");
    char *t = mr_plan_explain(plan);
    assert_non_null(strstr(t, "join j (semi on id) <- [shuffle read <- stage 0, shuffle read <- "
                              "stage 1] -> sort s (v desc, id) top 4\n"));
    assert_non_null(strstr(t, "union u <- [read c (csv), read d (csv) -> filter df] -> "
                              "distinct u\n"));
    free(t);
    char *json = mr_plan_json(plan);
    assert_non_null(strstr(json, "\"kind\":\"hashjoin\""));
    assert_non_null(strstr(json, "\"children\":[0,1]"));
    assert_non_null(strstr(json, "\"sort_keys\":[\"v desc\",\"id\"],\"limit\":4"));
    assert_non_null(strstr(json, "\"input_stage\":1"));
    free(json);
    millrace__job_plan__free_unpacked(plan, NULL);
}

/* A node read by two nodes is computed once, behind a round-robin shuffle. */
static void test_plan_shared(void **state)
{
    (void)state;
    const char *y =
        "version: 1\nname: sh\nnodes:\n"
        "  a: {op: read, format: csv, path: a.csv, schema: {id: int64}}\n"
        "  g: {op: aggregate, input: a, aggregates: {n: count(*)}}\n"
        "  o1: {op: write, input: g, to: warehouse, table: t1}\n"
        "  o2: {op: write, input: g, to: warehouse, table: t2}\n";
    Millrace__JobPlan *plan = compile_ok(y, NULL);
    assert_int_equal(plan->n_stages, 4);
    /* the global aggregate runs in one partition; sharing keeps that */
    assert_true(plan->stages[1]->shuffle->round_robin);
    assert_int_equal(plan->stages[1]->shuffle->partitions, 1);
    for (int s = 2; s < 4; s++) {
        assert_int_equal(plan->stages[s]->n_inputs, 1);
        assert_int_equal(plan->stages[s]->inputs[0], 1);
        assert_int_equal(plan->stages[s]->partitions, 1);
        assert_int_equal(plan->stages[s]->ops[0]->shuffle_read->input_stage, 1);
        assert_int_equal(plan->stages[s]->ops[0]->input->n_fields, 1);
    }
    millrace__job_plan__free_unpacked(plan, NULL);
}

/* A read without a schema infers it from its first file under base_dir;
 * with no file it is an error at the path. */
static void test_infer_schema(void **state)
{
    (void)state;
    char dir[] = "/tmp/mr_dag_inferXXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/b.csv", dir);
    FILE *f = fopen(path, "w");
    fputs("k,v\n1,x\n2,y\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/a.csv", dir);
    f = fopen(path, "w");
    fputs("k,when,p\n1,2024-01-02,1.5\n-7,2024-02-03,\n", f);
    fclose(f);
    const char *y = "version: 1\nname: inf\nnodes:\n"
                    "  r: {op: read, format: csv, path: \"*.csv\"}\n"
                    "  o: {op: write, input: r, to: warehouse, table: t}\n";
    mr_dag_options opt = {.base_dir = dir};
    Millrace__JobPlan *plan = compile_ok(y, &opt);
    const Millrace__Schema *sc = plan->stages[0]->ops[0]->read->schema;
    assert_int_equal(sc->n_fields, 3); /* from a.csv, the first in order */
    assert_string_equal(sc->fields[1]->name, "when");
    assert_int_equal(sc->fields[0]->type->id, MILLRACE__TYPE_ID__TYPE_INT32);
    assert_int_equal(sc->fields[1]->type->id, MILLRACE__TYPE_ID__TYPE_DATE);
    assert_int_equal(plan->stages[0]->write->schema->n_fields, 3);
    millrace__job_plan__free_unpacked(plan, NULL);

    const char *none = "version: 1\nname: inf\nnodes:\n"
                       "  r: {op: read, format: csv, path: \"nope/*.csv\"}\n"
                       "  o: {op: write, input: r, to: warehouse, table: t}\n";
    mr_diags d = {0};
    assert_int_equal(mr_dag_compile(none, strlen(none), &opt, &plan, &d), MR_EINVAL);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.items[0].line, 4);
    assert_int_equal(d.items[0].column, 36);
    char want[1200];
    snprintf(want, sizeof want, "no input file matches 'nope/*.csv' (resolved to '%s/nope/*.csv'; "
             "relative paths resolve against '%s'), so its schema cannot be inferred", dir, dir);
    if (!strstr(d.items[0].message, want))
        fail_msg("got: %s", d.items[0].message);
    mr_diags_free(&d);
    unlink(path);
    snprintf(path, sizeof path, "%s/b.csv", dir);
    unlink(path);
    rmdir(dir);
}

static void test_options_and_errors(void **state)
{
    (void)state;
    /* NULL options: defaults (8 partitions, file "<dag>"). */
    Millrace__JobPlan *plan = compile_ok(etl, NULL);
    assert_int_equal(plan->stages[0]->shuffle->partitions, 8);
    millrace__job_plan__free_unpacked(plan, NULL);

    /* An override of a param the DAG does not declare is an error. */
    mr_param over = {"dri", "x"};
    mr_dag_options opt = {.params = &over, .nparams = 1, .getenv = fake_env};
    mr_diags d = {0};
    plan = (Millrace__JobPlan *)1;
    assert_int_equal(mr_dag_compile(etl, strlen(etl), &opt, &plan, &d), MR_EINVAL);
    assert_null(plan);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.items[0].file, "<dag>");
    assert_int_equal(d.items[0].line, 3);
    assert_int_equal(d.items[0].column, 1);
    assert_null(d.items[0].node);
    assert_string_equal(d.items[0].message,
                        "param 'dri' was given but the DAG declares no such param (did you mean 'dir'?)");
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    mr_diags_print(&d, f);
    fclose(f);
    assert_string_equal(text, "<dag>:3:1: error: param 'dri' was given but the DAG declares no such "
                              "param (did you mean 'dir'?)\n");
    free(text);
    mr_diags_free(&d);
    assert_int_equal(d.n, 0);
    mr_diags_free(NULL);

    /* Node ids are carried on diagnostics; the text need not end in NUL. */
    const char *bad = "version: 1\nname: x\nnodes:\n  a: {op: reed}\nXXXX";
    assert_int_equal(mr_dag_compile(bad, strlen(bad) - 4, NULL, &plan, &d), MR_EINVAL);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.items[0].node, "a");
    assert_int_equal(d.items[0].line, 4);
    assert_int_equal(d.items[0].column, 11);
    mr_diags_free(&d);

    /* Empty and NULL input. */
    assert_int_equal(mr_dag_compile(NULL, 0, NULL, &plan, &d), MR_EINVAL);
    assert_int_equal(d.n, 1);
    mr_diags_free(&d);
}

static void test_explain_text(void **state)
{
    (void)state;
    Millrace__JobPlan *plan = compile_ok(etl, NULL);
    char *t = mr_plan_explain(plan);
    assert_string_equal(t,
        "job etl: 2 stages\n"
        "stage 0  [one task per input split]  read src (csv) -> project d -> project dr -> "
        "partial aggregate agg\n"
        "  shuffle -> stage 1: hash(big) into 8 partitions\n"
        "stage 1  [8 tasks]  shuffle read <- stage 0 -> final aggregate agg -> write out "
        "(warehouse table s.t, append)\n"
        "  columns: big bool, n int64\n"
        "warehouse: sqlite millrace.db\n");
    free(t);
    millrace__job_plan__free_unpacked(plan, NULL);
}

/* Every prefix of a valid DAG must be handled without crashing or leaking
 * (a cheap stand-in for the fuzzer in tests/fuzz/fuzz_dag.c). */
static void test_prefixes(void **state)
{
    (void)state;
    size_t len = strlen(etl);
    for (size_t i = 0; i <= len; i++) {
        Millrace__JobPlan *plan = NULL;
        mr_diags d = {0};
        int rc = mr_dag_compile(etl, i, NULL, &plan, &d);
        if (rc == 0) {
            assert_non_null(plan);
            millrace__job_plan__free_unpacked(plan, NULL);
        } else {
            assert_int_equal(rc, MR_EINVAL);
            assert_true(d.n > 0);
            for (size_t k = 0; k < d.n; k++)
                assert_true(d.items[k].line >= 1 && d.items[k].column >= 1);
        }
        mr_diags_free(&d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subst),
        cmocka_unit_test(test_suggest),
        cmocka_unit_test(test_schema_round_trip),
        cmocka_unit_test_setup_teardown(test_plan_contents, no_optimize, optimize_again),
        cmocka_unit_test_setup_teardown(test_plan_wide, no_optimize, optimize_again),
        cmocka_unit_test(test_plan_shared),
        cmocka_unit_test(test_infer_schema),
        cmocka_unit_test(test_options_and_errors),
        cmocka_unit_test_setup_teardown(test_explain_text, no_optimize, optimize_again),
        cmocka_unit_test(test_prefixes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
