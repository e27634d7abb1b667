/* test_spill.c - spill files, and the hash aggregate, hash join, sort and
 * distinct under a tiny memory budget give the same rows as without one.
 *
 * Every operator test runs the same deterministic input (a generator
 * source, a few MB) twice: without a budget, and with a 64 KB budget and a
 * private spill folder.  Results are rendered as text lines and compared
 * as multisets (sorted) or, for sort, in order; the budgeted run must have
 * spilled (the task counters say so) and leave the folder empty.
 */
#include <dirent.h>
#include <math.h>
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

#include "core/batch.h"
#include "core/op.h"
#include "core/op/distinct.h"
#include "core/op/hashagg.h"
#include "core/op/hashjoin.h"
#include "core/op/sort.h"
#include "core/op/source.h"
#include "core/spill.h"

#define BUDGET (64u << 10)

/* ---- Generated input ---------------------------------------------------- */

/* Columns: k int64 (NULL 1 in 50), g int32, s string (NULL 1 in 37), v
 * int64, f float64 (quarters, so sums are exact in any order), u string
 * (a longer payload). */
static const char *const NAMES[] = {"k", "g", "s", "v", "f", "u"};
#define NC 6

typedef struct gen {
    int nbatches, i;
    uint64_t seed;
    uint64_t keymod; /* k = h % keymod */
    int skew_pct;    /* this share of rows gets k = 7 */
    mr_batch *b;
} gen;

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static mr_schema *gen_schema(void)
{
    static const uint8_t ids[NC] = {MR_T_INT64, MR_T_INT32, MR_T_STRING,
                                    MR_T_INT64, MR_T_FLOAT64, MR_T_STRING};
    mr_schema *s = mr_schema_create(NC);
    assert_non_null(s);
    for (int c = 0; c < NC; c++)
        assert_int_equal(mr_schema_set(s, c, NAMES[c], mr_type_make(ids[c])), 0);
    return s;
}

static int gen_next(void *ctx, mr_batch **out, mr_err *err)
{
    (void)err;
    gen *g = ctx;
    if (g->i >= g->nbatches)
        return MR_NEXT_DONE;
    mr_batch *b = g->b;
    mr_batch_reset(b);
    size_t n = MR_BATCH_ROWS;
    assert_int_equal(mr_batch_reserve(b, n), 0);
    char buf[64];
    for (size_t i = 0; i < n; i++) {
        uint64_t row = (uint64_t)g->i * n + i;
        uint64_t h = mix(row ^ g->seed);
        bool knull = h % 50 == 0;
        int64_t k = (int)(h % 100) < g->skew_pct ? 7 : (int64_t)((h >> 8) % g->keymod);
        mr_column_set_valid(&b->cols[0], i, !knull);
        MR_COL_I64(&b->cols[0])[i] = knull ? 0 : k;
        mr_column_set_valid(&b->cols[1], i, true);
        MR_COL_I32(&b->cols[1])[i] = (int32_t)((h >> 16) % 7);
        if ((h >> 3) % 37 == 0) {
            mr_column_set_str_null(&b->cols[2], i);
        } else {
            int len = snprintf(buf, sizeof buf, "str-%u", (unsigned)((h >> 24) % 5000));
            assert_int_equal(mr_column_set_str(&b->cols[2], i, buf, (size_t)len), 0);
        }
        mr_column_set_valid(&b->cols[3], i, true);
        MR_COL_I64(&b->cols[3])[i] = (int64_t)((h >> 32) % 1000) - 500;
        mr_column_set_valid(&b->cols[4], i, (h >> 5) % 23 != 0);
        MR_COL_F64(&b->cols[4])[i] = (double)((h >> 40) % 400) / 4.0 - 50;
        int len = snprintf(buf, sizeof buf, "payload-%llu-%08llx", (unsigned long long)row,
                           (unsigned long long)(h & 0xffffffffu));
        assert_int_equal(mr_column_set_str(&b->cols[5], i, buf, (size_t)len), 0);
    }
    b->nrows = n;
    /* every third batch comes with a selection vector, as a filter leaves it */
    if (g->i % 3 == 1) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (i % 5 != 0)
                b->sel_buf[m++] = (uint32_t)i;
        b->sel = b->sel_buf;
        b->nsel = m;
    }
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

static mr_op *gen_source(int nbatches, uint64_t seed, uint64_t keymod, int skew_pct,
                         mr_exec_ctx *ctx)
{
    mr_schema *s = gen_schema();
    gen *g = calloc(1, sizeof *g);
    assert_non_null(g);
    g->nbatches = nbatches;
    g->seed = seed;
    g->keymod = keymod;
    g->skew_pct = skew_pct;
    g->b = mr_batch_create(s, 0);
    assert_non_null(g->b);
    if (!g->b->sel_buf) {
        g->b->sel_buf = malloc(MR_BATCH_ROWS * sizeof *g->b->sel_buf);
        assert_non_null(g->b->sel_buf);
    }
    mr_op *op = mr_source_create(s, gen_next, gen_close, g, "src");
    assert_non_null(op);
    op->ctx = ctx; /* where the tree's context comes from: tree_ctx() */
    mr_schema_destroy(s);
    return op;
}

/* The context a test meant for the tree over op: the one its generator
 * sources were made with (mr_op_open hands it to every operator). */
static mr_exec_ctx *tree_ctx(const mr_op *op)
{
    if (op->ctx)
        return op->ctx;
    for (int i = 0; i < op->nchildren; i++) {
        mr_exec_ctx *x = tree_ctx(op->children[i]);
        if (x)
            return x;
    }
    return NULL;
}

/* ---- Rendering results ---------------------------------------------------- */

typedef struct lines {
    char **v;
    size_t n, cap;
} lines;

static void lines_add(lines *l, const char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 1024;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        assert_non_null(l->v);
    }
    l->v[l->n] = strdup(s);
    assert_non_null(l->v[l->n]);
    l->n++;
}

static void lines_free(lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void render_batch(const mr_batch *b, lines *l)
{
    char line[1024];
    for (size_t i = 0; i < mr_batch_live(b); i++) {
        uint32_t r = mr_batch_row(b, i);
        size_t used = 0;
        for (int c = 0; c < b->ncols; c++) {
            const mr_column *col = &b->cols[c];
            char v[256];
            if (!mr_column_is_valid(col, r)) {
                snprintf(v, sizeof v, "NULL");
            } else {
                switch (col->type.id) {
                case MR_T_BOOL: snprintf(v, sizeof v, "%d", MR_COL_U8(col)[r]); break;
                case MR_T_INT32:
                case MR_T_DATE: snprintf(v, sizeof v, "%d", MR_COL_I32(col)[r]); break;
                case MR_T_FLOAT64: snprintf(v, sizeof v, "%.17g", MR_COL_F64(col)[r]); break;
                case MR_T_STRING: {
                    size_t n;
                    const char *p = mr_column_str(col, r, &n);
                    snprintf(v, sizeof v, "'%.*s'", (int)n, p);
                    break;
                }
                default: snprintf(v, sizeof v, "%lld", (long long)MR_COL_I64(col)[r]); break;
                }
            }
            used += (size_t)snprintf(line + used, sizeof line - used, "%s%s", c ? "|" : "", v);
        }
        lines_add(l, line);
    }
}

/* Opens op, renders every row, closes it. */
static void run_op(mr_op *op, lines *l)
{
    mr_err err = {0};
    int rc = mr_op_open(op, tree_ctx(op), &err);
    if (rc < 0)
        fail_msg("open: %s", err.msg);
    mr_batch *b;
    while ((rc = mr_op_next(op, &b, &err)) == MR_NEXT_BATCH)
        render_batch(b, l);
    if (rc < 0)
        fail_msg("next: %s", err.msg);
    mr_op_close(op);
}

static void assert_same(lines *a, lines *b, bool ordered)
{
    assert_true(a->n > 0);
    assert_int_equal(a->n, b->n);
    if (!ordered) {
        qsort(a->v, a->n, sizeof *a->v, cmp_str);
        qsort(b->v, b->n, sizeof *b->v, cmp_str);
    }
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i], b->v[i]) != 0)
            fail_msg("row %zu differs:\n  %s\n  %s", i, a->v[i], b->v[i]);
}

/* ---- Spill folder -------------------------------------------------------- */

typedef struct spillenv {
    char dir[64];
    mr_exec_ctx ctx;
} spillenv;

static void env_init(spillenv *e)
{
    snprintf(e->dir, sizeof e->dir, "/tmp/mr-test-spill-XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    memset(&e->ctx, 0, sizeof e->ctx);
    e->ctx.memory_budget = BUDGET;
    e->ctx.spill_dir = e->dir;
}

static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* The budgeted run spilled, and nothing is left in the folder. */
static void env_done(spillenv *e)
{
    assert_true(e->ctx.spill_files > 0);
    assert_true(e->ctx.spill_bytes > 4 * BUDGET);
    assert_int_equal(dir_entries(e->dir), 0);
    assert_int_equal(rmdir(e->dir), 0);
}

/* ---- Spill files ---------------------------------------------------------- */

static void test_file_round_trip(void **state)
{
    (void)state;
    spillenv e;
    env_init(&e);
    mr_err err = {0};
    mr_schema *s = gen_schema();
    mr_type types[NC];
    for (int c = 0; c < NC; c++)
        types[c] = s->fields[c].type;
    mr_spill_file *f;
    assert_int_equal(mr_spill_create(&e.ctx, types, NC, "t", &f, &err), 0);
    mr_op *src = gen_source(2, 1, 100, 0, NULL);
    lines want = {0}, got = {0};
    mr_batch *b;
    assert_int_equal(mr_op_open(src, NULL, &err), 0);
    while (mr_op_next(src, &b, &err) == MR_NEXT_BATCH) {
        render_batch(b, &want);
        assert_int_equal(mr_spill_write_batch(f, b, &err), 0);
        /* the same rows again, listed explicitly, in reverse */
        uint32_t rows[MR_BATCH_ROWS];
        size_t n = mr_batch_live(b);
        for (size_t i = 0; i < n; i++)
            rows[i] = mr_batch_row(b, n - 1 - i);
        assert_int_equal(mr_spill_write(f, b->cols, rows, n, &err), 0);
        mr_batch rev = *b;
        rev.sel = rows;
        rev.nsel = n;
        render_batch(&rev, &want);
    }
    /* an all-NULL chunk from columns that were never initialised */
    mr_column blank[NC];
    memset(blank, 0, sizeof blank);
    assert_int_equal(mr_spill_write(f, blank, NULL, 3, &err), 0);
    for (int i = 0; i < 3; i++)
        lines_add(&want, "NULL|NULL|NULL|NULL|NULL|NULL");
    mr_op_close(src);
    assert_int_equal(dir_entries(e.dir), 0); /* nameless from the start */
    assert_int_equal(mr_spill_rewind(f, &err), 0);
    mr_batch *rb = mr_batch_create(s, 0);
    int rc;
    while ((rc = mr_spill_read(f, rb, &err)) == MR_NEXT_BATCH)
        render_batch(rb, &got);
    assert_int_equal(rc, MR_NEXT_DONE);
    assert_true(mr_spill_bytes(f) > 0);
    assert_int_equal(mr_spill_rows(f), want.n);
    assert_same(&want, &got, true);
    mr_spill_destroy(f);
    mr_spill_destroy(NULL);
    mr_batch_destroy(rb);
    mr_schema_destroy(s);
    lines_free(&want);
    lines_free(&got);
    assert_int_equal(e.ctx.spill_files, 1);
    assert_int_equal(rmdir(e.dir), 0);
}

static void test_bad_folder(void **state)
{
    (void)state;
    mr_exec_ctx ctx = {.memory_budget = BUDGET, .spill_dir = "/nonexistent/millrace-spill"};
    mr_err err = {0};
    mr_type t = mr_type_make(MR_T_INT64);
    mr_spill_file *f = NULL;
    assert_int_equal(mr_spill_create(&ctx, &t, 1, "agg1", &f, &err), MR_EIO);
    assert_null(f);
    assert_non_null(strstr(err.msg, "agg1"));
    assert_non_null(strstr(err.msg, "/nonexistent/millrace-spill"));

    /* an aggregate that must spill there fails with that message */
    const char *gb[] = {"s", "k"};
    const char *names[] = {"n"};
    const char *exprs[] = {"count(*)"};
    mr_schema *s = gen_schema();
    mr_op *op = mr_hashagg_create(gen_source(16, 3, 100000, 0, &ctx), MR_AGG_SINGLE, gb, 2, names,
                                  exprs, 1, s, "agg1", &err);
    assert_non_null(op);
    assert_int_equal(mr_op_open(op, &ctx, &err), 0);
    mr_batch *b;
    assert_int_equal(mr_op_next(op, &b, &err), MR_EIO);
    assert_non_null(strstr(err.msg, "spill file"));
    mr_op_close(op);
    mr_schema_destroy(s);
}

/* ---- Hash aggregate ------------------------------------------------------ */

static const char *const AGG_NAMES[] = {"n", "nk", "dv", "sv", "av", "sf", "mins", "maxu", "maxf"};
static const char *const AGG_EXPRS[] = {
    "count(*)", "count(k)", "count(distinct v)", "sum(v)", "avg(v)",
    "sum(f)",   "min(s)",   "max(u)",            "max(f)"};
#define NAGG 9

static mr_op *agg_single(mr_exec_ctx *ctx, int nb, int skew)
{
    mr_err err = {0};
    const char *gb[] = {"s", "g"};
    mr_schema *s = gen_schema();
    mr_op *op = mr_hashagg_create(gen_source(nb, 11, 1000, skew, ctx), MR_AGG_SINGLE, gb, 2,
                                  AGG_NAMES, AGG_EXPRS, NAGG, s, "agg", &err);
    if (!op)
        fail_msg("%s", err.msg);
    mr_schema_destroy(s);
    return op;
}

static void test_hashagg_single(void **state)
{
    (void)state;
    spillenv e;
    env_init(&e);
    lines a = {0}, b = {0};
    run_op(agg_single(NULL, 16, 0), &a);
    run_op(agg_single(&e.ctx, 16, 0), &b);
    assert_true(a.n > 20000); /* up to 5000 strings x 7 */
    assert_same(&a, &b, false);
    env_done(&e);
    lines_free(&a);
    lines_free(&b);
}

/* PARTIAL flushes early under a budget; FINAL spills; the two budgeted
 * halves give what SINGLE gives without a budget. */
static void test_hashagg_partial_final(void **state)
{
    (void)state;
    spillenv e;
    env_init(&e);
    lines a = {0}, b = {0};
    run_op(agg_single(NULL, 16, 0), &a);
    mr_err err = {0};
    const char *gb[] = {"s", "g"};
    mr_schema *in = gen_schema();
    mr_op *part = mr_hashagg_create(gen_source(16, 11, 1000, 0, &e.ctx), MR_AGG_PARTIAL, gb, 2,
                                    AGG_NAMES, AGG_EXPRS, NAGG, in, "agg", &err);
    assert_non_null(part);
    mr_op *fin = mr_hashagg_create(part, MR_AGG_FINAL, gb, 2, AGG_NAMES, AGG_EXPRS, NAGG, in,
                                   "agg", &err);
    if (!fin)
        fail_msg("%s", err.msg);
    assert_ptr_equal(tree_ctx(fin), &e.ctx);
    run_op(fin, &b);
    assert_same(&a, &b, false);
    env_done(&e);
    mr_schema_destroy(in);
    lines_free(&a);
    lines_free(&b);
}

/* variance/stddev and bool_and/bool_or states under a budget: SINGLE
 * spilling gives the same bits (rows keep their order within a group);
 * budgeted PARTIAL (early flushes) + FINAL (spilling) merges states in
 * another order, so floats agree within a relative 1e-9. */
static const char *const STAT_NAMES[] = {"vv", "sv", "vf", "pf", "ba", "bo", "ss"};
static const char *const STAT_EXPRS[] = {"variance(v)", "stddev_pop(v)", "var_pop(f)",
                                         "stddev(f)",   "bool_and(v > -450)", "bool_or(f > 48)",
                                         "string_agg(s, '-')"}; /* s is a group key */
#define NSTAT 7

static mr_op *stat_op(mr_agg_mode mode, mr_op *child, mr_schema *in)
{
    mr_err err = {0};
    const char *gb[] = {"s", "g"};
    mr_op *op = mr_hashagg_create(child, mode, gb, 2, STAT_NAMES, STAT_EXPRS, NSTAT, in, "agg",
                                  &err);
    if (!op)
        fail_msg("%s", err.msg);
    return op;
}

static void assert_close(lines *a, lines *b)
{
    assert_int_equal(a->n, b->n);
    qsort(a->v, a->n, sizeof *a->v, cmp_str);
    qsort(b->v, b->n, sizeof *b->v, cmp_str);
    for (size_t i = 0; i < a->n; i++) {
        char *sa = NULL, *sb = NULL;
        char *ca = strdup(a->v[i]), *cb = strdup(b->v[i]);
        char *fa = strtok_r(ca, "|", &sa), *fb = strtok_r(cb, "|", &sb);
        while (fa && fb) {
            if (strcmp(fa, fb) != 0) {
                char *ea, *eb;
                double x = strtod(fa, &ea), y = strtod(fb, &eb);
                if (*ea || *eb || fabs(x - y) > 1e-9 * fmax(fabs(x), fabs(y)) + 1e-12)
                    fail_msg("row %zu differs:\n  %s\n  %s", i, a->v[i], b->v[i]);
            }
            fa = strtok_r(NULL, "|", &sa);
            fb = strtok_r(NULL, "|", &sb);
        }
        assert_true(!fa && !fb);
        free(ca);
        free(cb);
    }
}

static void test_hashagg_stats(void **state)
{
    (void)state;
    mr_schema *in = gen_schema();
    lines a = {0}, b = {0}, c = {0};
    run_op(stat_op(MR_AGG_SINGLE, gen_source(16, 11, 1000, 0, NULL), in), &a);
    spillenv e;
    env_init(&e);
    run_op(stat_op(MR_AGG_SINGLE, gen_source(16, 11, 1000, 0, &e.ctx), in), &b);
    assert_true(a.n > 10000);
    assert_same(&a, &b, false);
    env_done(&e);
    env_init(&e);
    mr_op *part = stat_op(MR_AGG_PARTIAL, gen_source(16, 11, 1000, 0, &e.ctx), in);
    run_op(stat_op(MR_AGG_FINAL, part, in), &c);
    assert_close(&a, &c);
    env_done(&e);
    /* the groups hold every case: NULL sample variance (one row), values */
    bool saw_null = false, saw_value = false, saw_joined = false;
    for (size_t i = 0; i < a.n; i++) {
        saw_null |= strstr(a.v[i], "|NULL|0|") != NULL;
        saw_joined |= strstr(a.v[i], "-str-") != NULL;
        saw_value |= strstr(a.v[i], "|NULL|") == NULL;
    }
    assert_true(saw_null && saw_value && saw_joined);
    mr_schema_destroy(in);
    lines_free(&a);
    lines_free(&b);
    lines_free(&c);
}

/* One group holds most rows: it stays in memory while the others spill. */
static void test_hashagg_skew_and_no_groups(void **state)
{
    (void)state;
    spillenv e;
    env_init(&e);
    mr_err err = {0};
    const char *gb[] = {"k"};
    mr_schema *s = gen_schema();
    lines a = {0}, b = {0};
    for (int budgeted = 0; budgeted < 2; budgeted++) {
        mr_op *op = mr_hashagg_create(gen_source(16, 5, 100000, 70, budgeted ? &e.ctx : NULL),
                                      MR_AGG_SINGLE, gb, 1, AGG_NAMES, AGG_EXPRS, NAGG, s, "agg",
                                      &err);
        assert_non_null(op);
        run_op(op, budgeted ? &b : &a);
    }
    assert_same(&a, &b, false);
    env_done(&e);
    lines_free(&a);
    lines_free(&b);
    /* no group_by: one row, whatever the budget */
    env_init(&e);
    mr_op *op = mr_hashagg_create(gen_source(8, 5, 100, 0, &e.ctx), MR_AGG_SINGLE, NULL, 0,
                                  AGG_NAMES, AGG_EXPRS, NAGG, s, "agg", &err);
    assert_non_null(op);
    run_op(op, &a);
    assert_int_equal(a.n, 1);
    assert_int_equal(e.ctx.spill_files, 0);
    assert_int_equal(rmdir(e.dir), 0);
    lines_free(&a);
    mr_schema_destroy(s);
}

/* ---- Hash join ----------------------------------------------------------- */

static mr_op *join_op(mr_join_type how, mr_exec_ctx *ctx, int skew)
{
    mr_err err = {0};
    const char *lk[] = {"k"}, *rk[] = {"k"};
    mr_op *build = gen_source(6, 77, 20000, skew, ctx);
    mr_op *probe = gen_source(8, 99, 20000, 0, ctx);
    mr_op *j = mr_hashjoin_create(build, probe, how, lk, rk, 1, "r_", "j", &err);
    if (!j)
        fail_msg("%s", err.msg);
    return j;
}

static void test_hashjoin_all_types(void **state)
{
    (void)state;
    for (int how = MR_JOIN_INNER; how <= MR_JOIN_ANTI; how++) {
        spillenv e;
        env_init(&e);
        lines a = {0}, b = {0};
        run_op(join_op((mr_join_type)how, NULL, 0), &a);
        run_op(join_op((mr_join_type)how, &e.ctx, 0), &b);
        assert_same(&a, &b, false);
        env_done(&e);
        lines_free(&a);
        lines_free(&b);
    }
}

/* 40% of the build rows share one key: its partition cannot split; inner
 * and right joins join it chunk by chunk within the budget, the others in
 * memory over the budget rather than failing. */
static void test_hashjoin_skew(void **state)
{
    (void)state;
    mr_join_type kinds[] = {MR_JOIN_INNER, MR_JOIN_RIGHT, MR_JOIN_FULL, MR_JOIN_ANTI};
    for (int i = 0; i < 4; i++) {
        spillenv e;
        env_init(&e);
        lines a = {0}, b = {0};
        run_op(join_op(kinds[i], NULL, 40), &a);
        run_op(join_op(kinds[i], &e.ctx, 40), &b);
        assert_same(&a, &b, false);
        env_done(&e);
        lines_free(&a);
        lines_free(&b);
    }
}

/* Closing a join mid-stream (as a cancelled task does) frees its files. */
static void test_hashjoin_close_early(void **state)
{
    (void)state;
    spillenv e;
    env_init(&e);
    mr_err err = {0};
    mr_op *j = join_op(MR_JOIN_LEFT, &e.ctx, 0);
    assert_int_equal(mr_op_open(j, &e.ctx, &err), 0);
    mr_batch *b;
    assert_int_equal(mr_op_next(j, &b, &err), MR_NEXT_BATCH);
    mr_op_close(j);
    env_done(&e);
}

/* ---- Sort and distinct ------------------------------------------------------ */

static mr_op *sort_op(mr_exec_ctx *ctx, int64_t limit)
{
    mr_err err = {0};
    const char *keys[] = {"s", "g", "f"};
    int desc[] = {0, 1, 0}, nf[] = {1, 0, 0};
    mr_op *op = mr_sort_create(gen_source(16, 5, 1000, 0, ctx), keys, desc, nf, 3, limit, "sort",
                               &err);
    if (!op)
        fail_msg("%s", err.msg);
    return op;
}

static void test_sort_external(void **state)
{
    (void)state;
    spillenv e;
    env_init(&e);
    lines a = {0}, b = {0};
    run_op(sort_op(NULL, -1), &a);
    run_op(sort_op(&e.ctx, -1), &b);
    assert_true(a.n > 50000);
    assert_same(&a, &b, true); /* stable: the same order, ties included */
    env_done(&e);
    lines_free(&a);
    lines_free(&b);
    /* a large top-N under the budget spills too; a small one need not */
    env_init(&e);
    run_op(sort_op(NULL, 20000), &a);
    run_op(sort_op(&e.ctx, 20000), &b);
    assert_int_equal(a.n, 20000);
    assert_same(&a, &b, true);
    env_done(&e);
    lines_free(&a);
    lines_free(&b);
    env_init(&e);
    run_op(sort_op(NULL, 10), &a);
    run_op(sort_op(&e.ctx, 10), &b);
    assert_same(&a, &b, true);
    assert_int_equal(e.ctx.spill_files, 0);
    assert_int_equal(rmdir(e.dir), 0);
    lines_free(&a);
    lines_free(&b);
}

static mr_op *distinct_op(mr_exec_ctx *ctx)
{
    mr_err err = {0};
    const char *cols[] = {"s", "g", "k"};
    mr_op *op = mr_distinct_create(gen_source(16, 5, 50, 0, ctx), cols, 3, "d", &err);
    if (!op)
        fail_msg("%s", err.msg);
    return op;
}

static void test_distinct(void **state)
{
    (void)state;
    spillenv e;
    env_init(&e);
    lines a = {0}, b = {0};
    run_op(distinct_op(NULL), &a);
    run_op(distinct_op(&e.ctx), &b);
    assert_true(a.n > 20000);
    assert_same(&a, &b, false);
    for (size_t i = 1; i < b.n; i++) /* and each row once */
        assert_string_not_equal(b.v[i - 1], b.v[i]);
    env_done(&e);
    lines_free(&a);
    lines_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_round_trip),
        cmocka_unit_test(test_bad_folder),
        cmocka_unit_test(test_hashagg_single),
        cmocka_unit_test(test_hashagg_partial_final),
        cmocka_unit_test(test_hashagg_skew_and_no_groups),
        cmocka_unit_test(test_hashagg_stats),
        cmocka_unit_test(test_hashjoin_all_types),
        cmocka_unit_test(test_hashjoin_skew),
        cmocka_unit_test(test_hashjoin_close_early),
        cmocka_unit_test(test_sort_external),
        cmocka_unit_test(test_distinct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
