/* test_op_contract.c - the operator contract of core/op.h, checked on every
 * operator from one table.
 *
 * Each row of the table builds one operator over generated input (sources
 * of k int64 with NULLs, g int64, s string).  Every check runs against every
 * row:
 *   close_without_open  create then close, and close after open or one
 *                       batch (ASan builds catch a leak or a double free)
 *   done_is_sticky      after DONE, next() keeps returning DONE
 *   cancel              a raised ctx cancel flag makes next() return
 *                       MR_ECANCELLED, before the first batch and mid-run
 *   budget              the ctx given to the root's open reaches every
 *                       operator of the tree; the stateful ones spill under
 *                       a tiny budget and return the rows they return
 *                       without one
 *   batch_bounds        output batches hold at most MR_BATCH_ROWS rows and
 *                       a selection within them
 *   selection           input batches carrying a selection vector over
 *                       junk rows give the same rows as dense batches
 * and one tree, a sort above a union above a hash join, checks that the
 * budget reaches an operator through any child.
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
#include "core/op/watermark.h"
#include "core/op/project.h"
#include "core/op/scan_csv.h"
#include "core/op/sort.h"
#include "core/op/source.h"
#include "core/op/union.h"
#include "core/op/check.h"
#include "core/op/unnest.h"
#include "core/op/window.h"
#include "testutil.h"

#define NB 6             /* batches per generated input */
#define ROWS 2000        /* rows per batch: with junk rows 4000 <= MR_BATCH_ROWS */
#define TINY (16u << 10) /* a budget every stateful operator passes */

static char g_dir[64];      /* spill files and the scan's CSV file */
static char g_csv[128];

/* ---- Generated input ------------------------------------------------------ */

static mr_schema *gen_schema(void)
{
    const char *names[] = {"k", "g", "s"};
    const mr_type types[] = {mr_type_make(MR_T_INT64), mr_type_make(MR_T_INT64),
                             mr_type_make(MR_T_STRING)};
    return tu_schema(3, names, types);
}

typedef struct gen {
    mr_batch *b;
    uint64_t seed;
    int i;
} gen;

/* Batch i of seed: k spread over 0..9999 (NULL for one row in 37), g = k % 13,
 * s = "s<k % 97>", so joins match, groups repeat and distinct drops rows. */
static int gen_next(void *ctx, mr_batch **out, mr_err *err)
{
    (void)err;
    gen *g = ctx;
    if (g->i >= NB)
        return MR_NEXT_DONE;
    mr_batch *b = g->b;
    mr_batch_reset(b);
    assert_int_equal(mr_batch_reserve(b, ROWS), 0);
    for (size_t r = 0; r < ROWS; r++) {
        uint64_t n = (uint64_t)g->i * ROWS + r;
        int64_t k = (int64_t)((n * 7919 + g->seed * 104729) % 10000);
        bool null = n % 37 == 0;
        MR_COL_I64(&b->cols[0])[r] = null ? 0 : k;
        mr_column_set_valid(&b->cols[0], r, !null);
        MR_COL_I64(&b->cols[1])[r] = k % 13;
        mr_column_set_valid(&b->cols[1], r, true);
        char s[16];
        int len = snprintf(s, sizeof s, "s%lld", (long long)(k % 97));
        assert_int_equal(mr_column_set_str(&b->cols[2], r, s, (size_t)len), 0);
    }
    b->nrows = ROWS;
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

static mr_op *gen_source(uint64_t seed)
{
    mr_schema *s = gen_schema();
    gen *g = calloc(1, sizeof *g);
    assert_non_null(g);
    g->seed = seed;
    g->b = mr_batch_create(s, ROWS);
    assert_non_null(g->b);
    mr_op *op = mr_source_create(s, gen_next, gen_close, g, "src");
    assert_non_null(op);
    mr_schema_destroy(s);
    return op;
}

/* ---- spread: a test operator that hides junk rows behind a selection ------
 * Each live input row becomes two physical rows: a junk row (a copy of the
 * batch's last live row) and the row itself; the selection vector keeps
 * only the real ones.  An operator that reads physical rows instead of
 * live ones sees the junk and gives different results. */

typedef struct spread_op {
    mr_op op;
    mr_batch *out;
    mr_batch *in; /* the input batch being spread, from live row at on */
    size_t at;
} spread_op;

static int spread_open(mr_op *op, mr_exec_ctx *ctx, mr_err *err)
{
    (void)ctx;
    (void)err;
    spread_op *s = (spread_op *)op;
    s->out = mr_batch_create(op->schema, MR_BATCH_ROWS);
    return s->out ? 0 : MR_ENOMEM;
}

static int spread_next(mr_op *op, mr_batch **out, mr_err *err)
{
    spread_op *s = (spread_op *)op;
    while (!s->in || s->at >= mr_batch_live(s->in)) {
        int rc = mr_op_next(op->child, &s->in, err);
        if (rc != MR_NEXT_BATCH)
            return rc;
        s->at = 0;
    }
    mr_batch *b = s->in;
    size_t live = mr_batch_live(b) - s->at;
    if (live > MR_BATCH_ROWS / 2)
        live = MR_BATCH_ROWS / 2;
    mr_batch *o = s->out;
    mr_batch_reset(o);
    assert_int_equal(mr_batch_reserve(o, 2 * live), 0);
    uint32_t junk = mr_batch_row(b, mr_batch_live(b) - 1);
    for (size_t i = 0; i < live; i++)
        for (int c = 0; c < o->ncols; c++) {
            uint32_t r = mr_batch_row(b, s->at + i);
            assert_int_equal(mr_column_copy_value(&o->cols[c], 2 * i, &b->cols[c], junk), 0);
            assert_int_equal(mr_column_copy_value(&o->cols[c], 2 * i + 1, &b->cols[c], r), 0);
        }
    s->at += live;
    for (size_t i = 0; i < live; i++)
        o->sel_buf[i] = (uint32_t)(2 * i + 1);
    o->nrows = 2 * live;
    o->sel = o->sel_buf;
    o->nsel = live;
    *out = o;
    return MR_NEXT_BATCH;
}

static void spread_close(mr_op *op)
{
    spread_op *s = (spread_op *)op;
    mr_batch_destroy(s->out);
    mr_schema_destroy(op->schema);
    free(s);
}

static const mr_op_vtable spread_vt = {"spread", spread_open, spread_next, spread_close};

static mr_op *spread(mr_op *child)
{
    spread_op *s = calloc(1, sizeof *s);
    assert_non_null(s);
    mr_op_init(&s->op, &spread_vt, child, "spread");
    s->op.schema = mr_schema_copy(child->schema);
    assert_non_null(s->op.schema);
    return &s->op;
}

/* An input: dense, or with a selection over junk rows. */
static mr_op *input(bool sel, uint64_t seed)
{
    mr_op *src = gen_source(seed);
    return sel ? spread(src) : src;
}

/* ---- The table ------------------------------------------------------------ */

static mr_op *must(mr_op *op, const mr_err *err)
{
    if (!op)
        fail_msg("create: %s", err->msg);
    return op;
}

static mr_op *mk_source(bool sel) { return input(sel, 1); }

static mr_op *mk_scan(bool sel)
{
    (void)sel; /* a scan has no input batches */
    mr_err err = {0};
    mr_schema *s = gen_schema();
    mr_csv_options o;
    mr_csv_options_init(&o);
    o.header = true;
    mr_op *op = mr_scan_csv_create(g_csv, 0, UINT64_MAX, s, &o, "scan", &err);
    mr_schema_destroy(s);
    return must(op, &err);
}

static mr_op *mk_filter(bool sel)
{
    mr_err err = {0};
    return must(mr_filter_create(input(sel, 1), "k % 3 <> 0", "filter", &err), &err);
}

static mr_op *mk_project(bool sel)
{
    mr_err err = {0};
    const char *names[] = {"k2", "s", "g"};
    const char *exprs[] = {"k * 2", "s", "g + 1"};
    return must(mr_project_create(input(sel, 1), names, exprs, 3, "project", &err), &err);
}

static const char *AGG_GB[] = {"k"};
static const char *AGG_NAMES[] = {"n", "sg", "mx", "dg"};
static const char *AGG_EXPRS[] = {"count(*)", "sum(g)", "max(s)", "count(distinct g)"};

static mr_op *agg(mr_op *in, mr_agg_mode mode, mr_err *err)
{
    mr_schema *s = gen_schema();
    mr_op *op = mr_hashagg_create(in, mode, AGG_GB, 1, AGG_NAMES, AGG_EXPRS, 4, s, "agg", err);
    mr_schema_destroy(s);
    return must(op, err);
}

static mr_op *mk_agg_single(bool sel)
{
    mr_err err = {0};
    return agg(input(sel, 1), MR_AGG_SINGLE, &err);
}

static mr_op *mk_agg_partial(bool sel)
{
    mr_err err = {0};
    return agg(input(sel, 1), MR_AGG_PARTIAL, &err);
}

static mr_op *mk_agg_final(bool sel)
{
    mr_err err = {0};
    mr_op *part = agg(gen_source(1), MR_AGG_PARTIAL, &err);
    return agg(sel ? spread(part) : part, MR_AGG_FINAL, &err);
}

static mr_op *join(bool sel, mr_join_type how)
{
    mr_err err = {0};
    const char *keys[] = {"k"};
    return must(mr_hashjoin_create(input(sel, 2), input(sel, 1), how, keys, keys, 1, "r_", "join",
                                   &err),
                &err);
}

static mr_op *mk_join_inner(bool sel) { return join(sel, MR_JOIN_INNER); }
static mr_op *mk_join_left(bool sel) { return join(sel, MR_JOIN_LEFT); }
static mr_op *mk_join_right(bool sel) { return join(sel, MR_JOIN_RIGHT); }
static mr_op *mk_join_full(bool sel) { return join(sel, MR_JOIN_FULL); }
static mr_op *mk_join_semi(bool sel) { return join(sel, MR_JOIN_SEMI); }
static mr_op *mk_join_anti(bool sel) { return join(sel, MR_JOIN_ANTI); }

static mr_op *mk_union(bool sel)
{
    mr_err err = {0};
    mr_op *in[] = {input(sel, 1), input(sel, 2)};
    return must(mr_union_create(in, 2, 0, "union", &err), &err);
}

static mr_op *mk_distinct(bool sel)
{
    mr_err err = {0};
    const char *cols[] = {"k", "s"};
    return must(mr_distinct_create(input(sel, 1), cols, 2, "distinct", &err), &err);
}

static mr_op *sort(bool sel, int64_t limit)
{
    mr_err err = {0};
    const char *keys[] = {"k", "s"};
    const int desc[] = {1, 0};
    return must(mr_sort_create(input(sel, 1), keys, desc, NULL, 2, limit, "sort", &err), &err);
}

static mr_op *mk_sort(bool sel) { return sort(sel, -1); }
static mr_op *mk_sort_topn(bool sel) { return sort(sel, 100); }

static mr_op *mk_limit(bool sel)
{
    mr_err err = {0};
    return must(mr_limit_create(input(sel, 1), 5000, "limit", &err), &err);
}

/* An incremental read's watermark: k above 4000 (NULLs never pass). */
static mr_op *mk_watermark(bool sel)
{
    mr_err err = {0};
    return must(mr_watermark_create(input(sel, 1), "k", "4000", "watermark", &err), &err);
}

/* A window over its sort: partitions of g, ordered by k (NULLs and ties
 * included); the sort beneath spills under a budget. */
static mr_op *mk_window(bool sel)
{
    mr_err err = {0};
    const char *keys[] = {"g", "k"};
    mr_op *s = must(mr_sort_create(input(sel, 1), keys, NULL, NULL, 2, -1, "window", &err), &err);
    const char *names[] = {"rn", "rk", "sk", "mx", "lg", "fv", "cd"};
    const char *exprs[] = {"row_number()", "rank()", "sum(k) rows between 3 preceding and current row",
                           "max(s)", "lag(s, 2, 'x')", "first_value(k)", "cume_dist()"};
    mr_window_order ord = {keys + 1, NULL, 1};
    return must(mr_window_create(s, keys, 1, &ord, names, exprs, 7, "window", &err), &err);
}

/* Every kind of check rule at once: expect that rejects (k % 5 = 0 and
 * NULL k drop), one that warns, unique on (g, s) and a row count. */
/* An unnest of a JSON array made from k and g ([] when g is 0, so rows
 * vanish too), its selection vector from spread when sel. */
static mr_op *mk_unnest(bool sel)
{
    mr_err err = {0};
    const char *names[] = {"k", "j"};
    const char *exprs[] = {"k", "CASE WHEN g = 0 THEN '[]' ELSE '[' || coalesce(cast(k AS string), "
                                "'null') || ', \"' || cast(g AS string) || '\"]' END"};
    mr_op *p = must(mr_project_create(gen_source(1), names, exprs, 2, "unnest", &err), &err);
    return must(mr_unnest_create(sel ? spread(p) : p, "j", "e", mr_type_make(MR_T_INT64), false,
                                 "unnest", &err),
                &err);
}

static mr_op *mk_check(bool sel)
{
    mr_err err = {0};
    const char *ucols[] = {"g", "s"};
    const mr_check_rule rules[] = {
        {"no_fives", MR_CHECK_EXPECT, MR_CHECK_REJECT, "k % 5 <> 0", NULL, 0},
        {"small", MR_CHECK_EXPECT, MR_CHECK_WARN, "k < 5000", NULL, 0},
        {"gs", MR_CHECK_UNIQUE, MR_CHECK_WARN, NULL, ucols, 2},
        {"rows", MR_CHECK_ROW_COUNT, MR_CHECK_FAIL, NULL, NULL, 0},
    };
    return must(mr_check_create(input(sel, 1), rules, 4, "check", &err), &err);
}

typedef struct op_case {
    const char *name;
    mr_op *(*make)(bool sel);
    bool spills;  /* passes a TINY budget with this input, so must spill */
    bool ordered; /* output order is defined: compare in order */
    bool loose;   /* under a budget the rows may differ in form (PARTIAL flushes
                   * early, emitting one group in several rows) */
} op_case;

static const op_case CASES[] = {
    {"source", mk_source, false, true, false},
    {"scan", mk_scan, false, true, false},
    {"filter", mk_filter, false, true, false},
    {"project", mk_project, false, true, false},
    {"hashagg single", mk_agg_single, true, false, false},
    {"hashagg partial", mk_agg_partial, false, false, true}, /* flushes early instead */
    {"hashagg final", mk_agg_final, true, false, false},
    {"hashjoin inner", mk_join_inner, true, false, false},
    {"hashjoin left", mk_join_left, true, false, false},
    {"hashjoin right", mk_join_right, true, false, false},
    {"hashjoin full", mk_join_full, true, false, false},
    {"hashjoin semi", mk_join_semi, true, false, false},
    {"hashjoin anti", mk_join_anti, true, false, false},
    {"union", mk_union, false, true, false},
    {"distinct", mk_distinct, true, false, false},
    {"sort", mk_sort, true, true, false},
    {"sort top-n", mk_sort_topn, false, true, false},
    {"limit", mk_limit, false, true, false},
    {"window", mk_window, true, true, false},
    {"watermark", mk_watermark, false, true, false},
    {"check", mk_check, false, true, false},
    {"unnest", mk_unnest, false, true, false},
};
#define NCASES ((int)(sizeof CASES / sizeof CASES[0]))

/* ---- Helpers -------------------------------------------------------------- */

static void check_batch(const op_case *c, const mr_batch *b)
{
    if (b->nrows > MR_BATCH_ROWS || mr_batch_live(b) > b->nrows)
        fail_msg("%s: batch of %zu rows (%zu live) over %d", c->name, b->nrows, mr_batch_live(b),
                 MR_BATCH_ROWS);
    for (size_t i = 0; b->sel && i < b->nsel; i++)
        if (b->sel[i] >= b->nrows)
            fail_msg("%s: selection row %u past %zu rows", c->name, b->sel[i], b->nrows);
}

/* Opens op with ctx, reads it to the end checking every batch, adds the
 * live rows to l; returns the last code. */
static int drain(const op_case *c, mr_op *op, mr_exec_ctx *ctx, tu_lines *l, mr_err *err)
{
    int rc = mr_op_open(op, ctx, err);
    if (rc < 0)
        return rc;
    mr_batch *b;
    while ((rc = mr_op_next(op, &b, err)) == MR_NEXT_BATCH) {
        check_batch(c, b);
        if (l)
            tu_lines_add_batch(l, b);
    }
    return rc;
}

static void rows_of(const op_case *c, bool sel, mr_exec_ctx *ctx, tu_lines *l)
{
    mr_err err = {0};
    mr_op *op = c->make(sel);
    int rc = drain(c, op, ctx, l, &err);
    if (rc != MR_NEXT_DONE)
        fail_msg("%s: %d %s", c->name, rc, err.msg);
    mr_op_close(op);
}

static void assert_same_rows(const char *what, const op_case *c, tu_lines *a, tu_lines *b)
{
    if (!c->ordered) {
        tu_lines_sort(a);
        tu_lines_sort(b);
    }
    if (a->n != b->n)
        fail_msg("%s %s: %zu rows, expected %zu", c->name, what, b->n, a->n);
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i], b->v[i]) != 0)
            fail_msg("%s %s: row %zu is %s, expected %s", c->name, what, i, b->v[i], a->v[i]);
}

static bool tree_has_ctx(const mr_op *op, const mr_exec_ctx *ctx)
{
    if (op->ctx != ctx)
        return false;
    for (int i = 0; i < op->nchildren; i++)
        if (!tree_has_ctx(op->children[i], ctx))
            return false;
    return true;
}

static mr_exec_ctx tiny_ctx(volatile int *cancel)
{
    mr_exec_ctx x = {.cancel = cancel, .memory_budget = TINY, .spill_dir = g_dir};
    return x;
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

/* ---- Checks --------------------------------------------------------------- */

static void test_close_without_open(void **state)
{
    (void)state;
    for (int i = 0; i < NCASES; i++) {
        mr_op_close(CASES[i].make(false));
        mr_err err = {0};
        mr_op *op = CASES[i].make(true);
        assert_int_equal(mr_op_open(op, NULL, &err), 0);
        mr_op_close(op); /* opened, never read */
        op = CASES[i].make(false);
        assert_int_equal(mr_op_open(op, NULL, &err), 0);
        mr_batch *b;
        assert_true(mr_op_next(op, &b, &err) >= 0);
        mr_op_close(op); /* closed mid-stream */
    }
}

static void test_next_before_open(void **state)
{
    (void)state;
    for (int i = 0; i < NCASES; i++) {
        mr_err err = {0};
        mr_op *op = CASES[i].make(false);
        mr_batch *b;
        assert_int_equal(mr_op_next(op, &b, &err), MR_EINVAL);
        mr_op_close(op);
    }
}

static void test_done_is_sticky(void **state)
{
    (void)state;
    for (int i = 0; i < NCASES; i++) {
        const op_case *c = &CASES[i];
        mr_err err = {0};
        mr_op *op = c->make(false);
        if (drain(c, op, NULL, NULL, &err) != MR_NEXT_DONE)
            fail_msg("%s: %s", c->name, err.msg);
        mr_batch *b = NULL;
        for (int k = 0; k < 3; k++)
            if (mr_op_next(op, &b, &err) != MR_NEXT_DONE)
                fail_msg("%s: next after DONE is not DONE", c->name);
        mr_op_close(op);
    }
}

static void test_cancel(void **state)
{
    (void)state;
    for (int i = 0; i < NCASES; i++) {
        const op_case *c = &CASES[i];
        for (int mid = 0; mid < 2; mid++) {
            volatile int cancel = 0;
            mr_exec_ctx x = tiny_ctx(&cancel);
            mr_err err = {0};
            mr_op *op = c->make(false);
            assert_int_equal(mr_op_open(op, &x, &err), 0);
            mr_batch *b;
            if (mid && mr_op_next(op, &b, &err) != MR_NEXT_BATCH)
                fail_msg("%s: no first batch: %s", c->name, err.msg);
            cancel = 1;
            int rc = mr_op_next(op, &b, &err);
            if (rc != MR_ECANCELLED)
                fail_msg("%s: cancel %s gave %d (%s)", c->name, mid ? "mid-run" : "at start", rc,
                         err.msg);
            mr_op_close(op);
            assert_int_equal(count_files(g_dir), 0); /* spill files go with close */
        }
    }
}

/* The ctx reaches every operator of the tree and its child subtrees; the
 * stateful operators spill under a tiny budget and give the same rows. */
static void test_budget(void **state)
{
    (void)state;
    for (int i = 0; i < NCASES; i++) {
        const op_case *c = &CASES[i];
        tu_lines want = {0}, got = {0};
        rows_of(c, false, NULL, &want);
        mr_exec_ctx x = tiny_ctx(NULL);
        mr_err err = {0};
        mr_op *op = c->make(false);
        int rc = drain(c, op, &x, &got, &err);
        if (rc != MR_NEXT_DONE)
            fail_msg("%s: %s", c->name, err.msg);
        if (!tree_has_ctx(op, &x))
            fail_msg("%s: an operator of the tree did not get the context", c->name);
        mr_op_close(op);
        if (c->spills && x.spill_files == 0)
            fail_msg("%s did not spill under a %u-byte budget", c->name, TINY);
        assert_int_equal(count_files(g_dir), 0);
        /* the top-N and limit keep their first rows whatever the budget */
        if (!c->loose)
            assert_same_rows("with a budget", c, &want, &got);
        else
            assert_true(got.n >= want.n);
        tu_lines_free(&want);
        tu_lines_free(&got);
    }
}

static void test_selection_honoured(void **state)
{
    (void)state;
    for (int i = 0; i < NCASES; i++) {
        const op_case *c = &CASES[i];
        tu_lines dense = {0}, sel = {0};
        rows_of(c, false, NULL, &dense);
        rows_of(c, true, NULL, &sel);
        assert_true(dense.n > 0);
        assert_same_rows("over selected input", c, &dense, &sel);
        tu_lines_free(&dense);
        tu_lines_free(&sel);
    }
}

/* A sort above a union above a join: the context reaches the sort through
 * the union's second input (a join), and every stateful operator spills. */
static void test_budget_through_any_child(void **state)
{
    (void)state;
    tu_lines want = {0}, got = {0};
    for (int budgeted = 0; budgeted < 2; budgeted++) {
        mr_err err = {0};
        const char *keys[] = {"k"};
        mr_op *j = mr_hashjoin_create(gen_source(2), gen_source(1), MR_JOIN_SEMI, keys, keys, 1,
                                      NULL, "join", &err);
        assert_non_null(j);
        mr_op *in[] = {gen_source(3), j};
        mr_op *u = mr_union_create(in, 2, 0, "union", &err);
        assert_non_null(u);
        const char *sk[] = {"k", "g", "s"};
        mr_op *s = mr_sort_create(u, sk, NULL, NULL, 3, -1, "sort", &err);
        assert_non_null(s);
        mr_exec_ctx x = tiny_ctx(NULL);
        static const op_case c = {"sort/union/join", NULL, true, true, false};
        int rc = drain(&c, s, budgeted ? &x : NULL, budgeted ? &got : &want, &err);
        if (rc != MR_NEXT_DONE)
            fail_msg("%s", err.msg);
        if (budgeted) {
            assert_ptr_equal(s->ctx, &x);
            assert_ptr_equal(u->children[1]->ctx, &x);
            assert_true(tree_has_ctx(s, &x));
            assert_true(x.spill_files >= 2); /* the join's partitions and the sort's runs */
        }
        mr_op_close(s);
    }
    assert_same_rows("budgeted", &(op_case){"sort/union/join", NULL, true, true, false}, &want, &got);
    tu_lines_free(&want);
    tu_lines_free(&got);
}

/* ---- Setup ---------------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/mr-test-opcontract-XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    /* the scan's file: the generator's rows as CSV, in a folder of its own
     * so the spill folder only ever holds spill files */
    snprintf(g_csv, sizeof g_csv, "/tmp/mr-test-opcontract-%d.csv", (int)getpid());
    FILE *f = fopen(g_csv, "w");
    if (!f)
        return -1;
    fputs("k,g,s\n", f);
    mr_op *src = gen_source(1);
    mr_err err = {0};
    mr_batch *b;
    if (mr_op_open(src, NULL, &err) < 0)
        return -1;
    while (mr_op_next(src, &b, &err) == MR_NEXT_BATCH)
        for (size_t r = 0; r < b->nrows; r++) {
            size_t n;
            const char *s = mr_column_str(&b->cols[2], r, &n);
            if (mr_column_is_valid(&b->cols[0], r))
                fprintf(f, "%lld", (long long)MR_COL_I64(&b->cols[0])[r]);
            fprintf(f, ",%lld,%.*s\n", (long long)MR_COL_I64(&b->cols[1])[r], (int)n, s);
        }
    mr_op_close(src);
    return fclose(f) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    unlink(g_csv);
    rmdir(g_dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_close_without_open),
        cmocka_unit_test(test_next_before_open),
        cmocka_unit_test(test_done_is_sticky),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_budget),
        cmocka_unit_test(test_selection_honoured),
        cmocka_unit_test(test_budget_through_any_child),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
