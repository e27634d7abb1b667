/* test_contract.c - every operator gets the task's memory budget and cancel
 * flag whatever sits below it (a union, a join), as the executor builds it.
 *
 * The executor hands its mr_exec_ctx (budget, spill folder, cancel flag)
 * to the root's mr_op_open, which passes it to every operator.  Each
 * test builds a tree that way: two generator sources carrying the context,
 * a union or a hash join over them, and a stateful operator (sort,
 * distinct, hash aggregate, hash join) or a streaming one (filter,
 * project, limit) on top.  It then checks that the top operator sees the
 * context, that the stateful ones spill under a 64 KB budget (the task
 * counters say so) and give the same rows as without a budget, and that a
 * cancel raised mid-run stops the tree with MR_ECANCELLED.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/op/distinct.h"
#include "core/op/filter.h"
#include "core/op/hashagg.h"
#include "core/op/hashjoin.h"
#include "core/op/limit.h"
#include "core/op/project.h"
#include "core/op/sort.h"
#include "core/op/union.h"
#include "testutil.h"

#define BUDGET (64u << 10)
#define NB 6 /* batches per source: about 1.5 MB of rows each */

/* ---- Generated input: k int64, s string (a payload) ------------------------ */

typedef struct gen {
    int i, n;
    uint64_t seed;
    volatile int *cancel_at_flag; /* raised when batch cancel_at is handed out */
    int cancel_at;
    mr_batch *b;
} gen;

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    return x ^ (x >> 31);
}

static int gen_next(void *ctx, mr_batch **out, mr_err *err)
{
    (void)err;
    gen *g = ctx;
    if (g->i >= g->n)
        return MR_NEXT_DONE;
    if (g->cancel_at_flag && g->i == g->cancel_at)
        *g->cancel_at_flag = 1;
    mr_batch *b = g->b;
    mr_batch_reset(b);
    assert_int_equal(mr_batch_reserve(b, MR_BATCH_ROWS), 0);
    char buf[64];
    for (size_t r = 0; r < MR_BATCH_ROWS; r++) {
        uint64_t row = (uint64_t)g->i * MR_BATCH_ROWS + r;
        uint64_t h = mix(row ^ g->seed);
        mr_column_set_valid(&b->cols[0], r, true);
        MR_COL_I64(&b->cols[0])[r] = (int64_t)(h % 50000);
        int len = snprintf(buf, sizeof buf, "payload-%llu-%08llx", (unsigned long long)row,
                           (unsigned long long)(h & 0xffffffffu));
        assert_int_equal(mr_column_set_str(&b->cols[1], r, buf, (size_t)len), 0);
    }
    b->nrows = MR_BATCH_ROWS;
    g->i++;
    *out = b;
    return MR_NEXT_BATCH;
}

static void gen_close(void *ctx)
{
    gen *g = ctx;
    mr_batch_destroy(g->b);
    free(g);
}

static mr_schema *gen_schema(void)
{
    const char *names[] = {"k", "s"};
    mr_type types[] = {mr_type_make(MR_T_INT64), mr_type_make(MR_T_STRING)};
    return tu_schema(2, names, types);
}

/* The task context of one run: budget and spill folder, cancel flag. */
typedef struct task {
    char dir[64];
    mr_exec_ctx ctx;
    volatile int cancel;
    int cancel_at; /* -1: never cancel */
} task;

/* A source as the executor sets it up: the task's ctx and cancel on it. */
static mr_op *source(task *t, uint64_t seed)
{
    mr_schema *s = gen_schema();
    gen *g = calloc(1, sizeof *g);
    assert_non_null(g);
    g->n = NB;
    g->seed = seed;
    g->cancel_at = t ? t->cancel_at : -1;
    g->cancel_at_flag = t && t->cancel_at >= 0 ? &t->cancel : NULL;
    g->b = mr_batch_create(s, 0);
    assert_non_null(g->b);
    mr_op *op = mr_source_create(s, gen_next, gen_close, g, "src");
    assert_non_null(op);
    mr_schema_destroy(s);
    return op;
}

static void task_init(task *t, int cancel_at)
{
    memset(t, 0, sizeof *t);
    snprintf(t->dir, sizeof t->dir, "/tmp/mr-test-contract-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    t->ctx.memory_budget = BUDGET;
    t->ctx.spill_dir = t->dir;
    t->ctx.cancel = &t->cancel;
    t->cancel_at = cancel_at;
}

static void task_done(task *t)
{
    DIR *d = opendir(t->dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    closedir(d);
    assert_int_equal(n, 0); /* spill files are gone */
    assert_int_equal(rmdir(t->dir), 0);
}

/* ---- What sits below: a union or a join ------------------------------------- */

enum { BELOW_UNION, BELOW_UNION_DISTINCT, BELOW_JOIN };

static mr_op *below(int kind, task *t)
{
    mr_err err = {0};
    mr_op *op;
    if (kind == BELOW_JOIN) {
        const char *keys[] = {"k"};
        /* a left join keeps every probe row; the right side's columns come
         * with the prefix */
        op = mr_hashjoin_create(source(t, 2), source(t, 1), MR_JOIN_LEFT, keys, keys, 1, "r_",
                                "j", &err);
    } else {
        mr_op *in[2] = {source(t, 1), source(t, 2)};
        op = mr_union_create(in, 2, kind == BELOW_UNION_DISTINCT, "u", &err);
    }
    if (!op)
        fail_msg("%s", err.msg);
    return op;
}

/* ---- What sits above ---------------------------------------------------- */

enum { TOP_SORT, TOP_DISTINCT, TOP_AGG, TOP_JOIN, TOP_FILTER, TOP_PROJECT, TOP_LIMIT, NTOP };
static const char *const TOP_NAMES[NTOP] = {"sort",   "distinct", "hashagg", "hashjoin",
                                            "filter", "project",  "limit"};

static bool top_spills(int top) { return top <= TOP_JOIN; }

static mr_op *above(int top, mr_op *in, task *t)
{
    mr_err err = {0};
    mr_op *op = NULL;
    switch (top) {
    case TOP_SORT: {
        const char *keys[] = {"s"};
        int desc[] = {0}, nf[] = {0};
        op = mr_sort_create(in, keys, desc, nf, 1, -1, "top", &err);
        break;
    }
    case TOP_DISTINCT: op = mr_distinct_create(in, NULL, 0, "top", &err); break;
    case TOP_AGG: {
        const char *gb[] = {"s"};
        const char *names[] = {"n", "mk"};
        const char *exprs[] = {"count(*)", "max(k)"};
        op = mr_hashagg_create(in, MR_AGG_SINGLE, gb, 1, names, exprs, 2, in->schema, "top",
                               &err);
        break;
    }
    case TOP_JOIN: {
        /* the tree below is the build side; a plain source probes it */
        const char *keys[] = {"k"};
        mr_op *probe = source(t, 3);
        op = mr_hashjoin_create(in, probe, MR_JOIN_INNER, keys, keys, 1, "t_", "top", &err);
        break;
    }
    case TOP_FILTER: op = mr_filter_create(in, "k % 3 <> 0", "top", &err); break;
    case TOP_PROJECT: {
        const char *names[] = {"k2", "s"};
        const char *exprs[] = {"k * 2", "s"};
        op = mr_project_create(in, names, exprs, 2, "top", &err);
        break;
    }
    case TOP_LIMIT: op = mr_limit_create(in, 1000000, "top", &err); break;
    }
    if (!op)
        fail_msg("%s: %s", TOP_NAMES[top], err.msg);
    return op;
}

/* Runs op to the end; returns the last code and adds rows to l (if any). */
static int drain(mr_op *op, mr_exec_ctx *ctx, tu_lines *l, mr_err *err)
{
    int rc = mr_op_open(op, ctx, err);
    if (rc < 0)
        return rc;
    mr_batch *b;
    while ((rc = mr_op_next(op, &b, err)) == MR_NEXT_BATCH)
        if (l)
            tu_lines_add_batch(l, b);
    return rc;
}

/* True when every operator of the tree over op holds ctx. */
static bool tree_has_ctx(const mr_op *op, const mr_exec_ctx *ctx)
{
    if (op->ctx != ctx)
        return false;
    for (int i = 0; i < op->nchildren; i++)
        if (!tree_has_ctx(op->children[i], ctx))
            return false;
    return true;
}

/* ---- Tests ---------------------------------------------------------------- */

/* Every operator above a union, a UNION DISTINCT and a join sees the task's
 * context; the stateful ones spill under the budget and give the rows they
 * give without one. */
static void test_budget_reaches_every_operator(void **state)
{
    (void)state;
    for (int kind = BELOW_UNION; kind <= BELOW_JOIN; kind++)
        for (int top = 0; top < NTOP; top++) {
            task t;
            task_init(&t, -1);
            mr_op *op = above(top, below(kind, &t), &t);
            tu_lines a = {0}, b = {0};
            mr_err err = {0};
            int rc = drain(op, &t.ctx, &b, &err);
            if (!tree_has_ctx(op, &t.ctx))
                fail_msg("%s over %d: no context", TOP_NAMES[top], kind);
            if (rc != MR_NEXT_DONE)
                fail_msg("%s over %d: %s", TOP_NAMES[top], kind, err.msg);
            mr_op_close(op);
            if (top_spills(top) && t.ctx.spill_files == 0)
                fail_msg("%s over %d did not spill under a %u-byte budget", TOP_NAMES[top], kind,
                         BUDGET);
            /* the same tree without any context: the same rows */
            mr_op *plain = above(top, below(kind, NULL), NULL);
            assert_int_equal(drain(plain, NULL, &a, &err), MR_NEXT_DONE);
            mr_op_close(plain);
            assert_int_equal(a.n, b.n);
            tu_lines_sort(&a);
            tu_lines_sort(&b);
            for (size_t i = 0; i < a.n; i++)
                assert_string_equal(a.v[i], b.v[i]);
            tu_lines_free(&a);
            tu_lines_free(&b);
            task_done(&t);
        }
}

/* A cancel raised while the second input of the union or join is being read
 * stops every operator above with MR_ECANCELLED, and leaves no spill file. */
static void test_cancel_reaches_every_operator(void **state)
{
    (void)state;
    for (int kind = BELOW_UNION; kind <= BELOW_JOIN; kind++)
        for (int top = 0; top < NTOP; top++) {
            task t;
            task_init(&t, NB / 2);
            mr_op *op = above(top, below(kind, &t), &t);
            mr_err err = {0};
            int rc = drain(op, &t.ctx, NULL, &err);
            if (rc != MR_ECANCELLED)
                fail_msg("%s over %d: got %d (%s), not cancelled", TOP_NAMES[top], kind, rc,
                         err.msg);
            mr_op_close(op);
            task_done(&t);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_budget_reaches_every_operator),
        cmocka_unit_test(test_cancel_reaches_every_operator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
