/* test_warehouse_pg.c - staging and the atomic commit on a real PostgreSQL server.
 *
 * The server is the one named by MILLRACE_TEST_PG_DSN (scripts/test.sh
 * starts one for the whole suite); without it, main() starts a private one
 * with scripts/pg_test_server.sh in a temporary folder and stops it at the
 * end, so plain `ctest` works too.  If no server can be started the test
 * FAILS, saying why: there is no silent skip.
 *
 * Each test writes into its own schema (t<N>) and names its staging tables
 * s_t<N>_..., so tests never see each other's tables.  Results are read back
 * through libpq as text (the server's own output forms), so a test compares
 * exactly what a user of the warehouse would see.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "warehouse/warehouse.h"

static const char *g_dsn;

typedef struct fx {
    int n;
    char schema[32];   /* the test's target schema */
    char prefix[32];   /* "s_t<N>_": its staging tables */
    mr_wh_config cfg;
    mr_schema *schema_s; /* id int64, name string, price decimal(10,2) */
} fx;

static int g_next;
static char g_lastq[2048]; /* the last query dumpf ran, for failure messages */

/* ---- helpers -------------------------------------------------------------- */

static PGconn *db(void)
{
    PGconn *c = PQconnectdb(g_dsn);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("connect: %s", PQerrorMessage(c));
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    return c;
}

static void sqlf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sqlf(const char *fmt, ...)
{
    char q[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q, sizeof q, fmt, ap);
    va_end(ap);
    PGconn *c = db();
    PGresult *r = PQexec(c, q);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", q, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

/* Every row of the query as "a|b|c\n" lines (NULL shown as <null>); malloc'd. */
static char *dumpf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *dumpf(const char *fmt, ...)
{
    char q[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q, sizeof q, fmt, ap);
    va_end(ap);
    snprintf(g_lastq, sizeof g_lastq, "%s", q);
    PGconn *c = db();
    PGresult *r = PQexec(c, q);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", q, PQerrorMessage(c));
    size_t cap = 4096, n = 0;
    char *out = malloc(cap);
    out[0] = '\0';
    for (int i = 0; i < PQntuples(r); i++) {
        for (int k = 0; k < PQnfields(r); k++) {
            const char *v = PQgetisnull(r, i, k) ? "<null>" : PQgetvalue(r, i, k);
            while (n + strlen(v) + 3 >= cap)
                out = realloc(out, cap *= 2);
            n += (size_t)sprintf(out + n, "%s%s", k ? "|" : "", v);
        }
        out[n++] = '\n';
        out[n] = '\0';
    }
    PQclear(r);
    PQfinish(c);
    return out;
}

static void expect_dump(const char *want, char *got, const char *what)
{
    if (strcmp(got, want) != 0)
        fail_msg("%s\n got:\n%s\nwant:\n%s", what, got, want);
    free(got);
}

/* Checks the rows of the query (printf-style) against want. */
#define assert_dump(want, ...) expect_dump(want, dumpf(__VA_ARGS__), g_lastq)

static long long q_int(const char *sql)
{
    char *s = dumpf("%s", sql);
    long long v = strtoll(s, NULL, 10);
    free(s);
    return v;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    f->n = ++g_next;
    snprintf(f->schema, sizeof f->schema, "t%d", f->n);
    snprintf(f->prefix, sizeof f->prefix, "s_t%d_", f->n);
    f->cfg.driver = "postgres";
    f->cfg.dsn = g_dsn;
    f->cfg.schema = f->schema;
    f->schema_s = mr_schema_create(3);
    mr_schema_set(f->schema_s, 0, "id", mr_type_make(MR_T_INT64));
    mr_schema_set(f->schema_s, 1, "name", mr_type_make(MR_T_STRING));
    mr_schema_set(f->schema_s, 2, "price", mr_type_decimal(10, 2));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    sqlf("DROP SCHEMA IF EXISTS \"%s\" CASCADE", f->schema);
    mr_err err;
    mr_wh_drop_staging(&f->cfg, f->prefix, &err);
    mr_schema_destroy(f->schema_s);
    free(f);
    return 0;
}

/* f's staging table name for suffix (static buffer per call slot). */
static const char *stg(fx *f, const char *suffix)
{
    static char names[16][64];
    static int slot;
    char *p = names[slot++ % 16];
    snprintf(p, 64, "%s%s", f->prefix, suffix);
    return p;
}

/* A batch of the fixture schema: rows (id0 + i, "<tag><id>", id * mult cents). */
static mr_batch *rows_batch(const mr_schema *s, int64_t id0, size_t n, const char *tag, int64_t mult)
{
    mr_batch *b = mr_batch_create(s, n ? n : 1);
    char name[32];
    for (size_t i = 0; i < n; i++) {
        int64_t id = id0 + (int64_t)i;
        MR_COL_I64(&b->cols[0])[i] = id;
        mr_column_set_valid(&b->cols[0], i, true);
        int len = snprintf(name, sizeof name, "%s%lld", tag, (long long)id);
        assert_int_equal(mr_column_set_str(&b->cols[1], i, name, (size_t)len), 0);
        MR_COL_I64(&b->cols[2])[i] = id * mult;
        mr_column_set_valid(&b->cols[2], i, true);
    }
    b->nrows = n;
    return b;
}

static void stage_batch(fx *f, const char *table, const mr_schema *s, const mr_batch *b)
{
    mr_err err;
    mr_wh_stage *st = NULL;
    if (mr_wh_stage_open(&f->cfg, table, s, &st, &err))
        fail_msg("stage_open %s: %s", table, err.msg);
    if (b && mr_wh_stage_append(st, b, &err))
        fail_msg("stage_append %s: %s", table, err.msg);
    if (mr_wh_stage_finish(st, &err))
        fail_msg("stage_finish %s: %s", table, err.msg);
}

static void stage_rows(fx *f, const char *table, int64_t id0, size_t n, const char *tag, int64_t mult)
{
    mr_batch *b = rows_batch(f->schema_s, id0, n, tag, mult);
    stage_batch(f, table, f->schema_s, b);
    mr_batch_destroy(b);
}

static mr_wh_target target(fx *f, const char *table, const char *mode, const char *const *staging, int n)
{
    mr_wh_target t = {.table = table, .mode = mode, .schema = f->schema_s,
                      .staging_tables = staging, .nstaging = n};
    return t;
}

static void commit_ok(fx *f, mr_wh_target *t, int n, const char *const *post, int npost)
{
    mr_err err;
    mr_err_clear(&err);
    if (mr_wh_commit(&f->cfg, t, n, post, npost, &err))
        fail_msg("commit: %s", err.msg);
}

static long long staging_count(fx *f)
{
    char q[256];
    snprintf(q, sizeof q,
             "SELECT count(*) FROM pg_tables WHERE schemaname = 'millrace_staging' AND "
             "left(tablename, %zu) = '%s'",
             strlen(f->prefix), f->prefix);
    return q_int(q);
}

/* ---- modes ---------------------------------------------------------------- */

static void test_append(void **state)
{
    fx *f = *state;
    stage_rows(f, stg(f, "1_0"), 1, 100, "n", 101);
    stage_rows(f, stg(f, "1_1"), 101, 50, "n", 101);
    assert_int_equal(staging_count(f), 2);
    const char *st[] = {stg(f, "1_0"), stg(f, "1_1")};
    mr_wh_target t = target(f, "sales", "append", st, 2);
    commit_ok(f, &t, 1, NULL, 0);
    assert_int_equal(t.rows, 150);
    assert_dump("150|11325|n1|151.50\n", "SELECT count(*), sum(id), min(name), max(price) FROM t%d.sales",
                f->n);
    assert_int_equal(staging_count(f), 0);
    /* a second job appends (mode NULL is append) */
    stage_rows(f, stg(f, "2_0"), 1000, 10, "n", 1);
    const char *st2[] = {stg(f, "2_0")};
    t = target(f, "sales", NULL, st2, 1);
    commit_ok(f, &t, 1, NULL, 0);
    assert_int_equal(t.rows, 10);
    assert_dump("160\n", "SELECT count(*) FROM t%d.sales", f->n);
    /* declared types follow the DAG mapping */
    assert_dump("id|bigint\nname|text\nprice|numeric(10,2)\n",
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = "
                "'t%d.sales'::regclass AND attnum > 0 ORDER BY attnum",
                f->n);
}

static void test_overwrite(void **state)
{
    fx *f = *state;
    stage_rows(f, stg(f, "a"), 1, 10, "n", 1);
    const char *a[] = {stg(f, "a")};
    mr_wh_target t = target(f, "t", "append", a, 1);
    commit_ok(f, &t, 1, NULL, 0);
    stage_rows(f, stg(f, "b"), 100, 2, "n", 1);
    stage_rows(f, stg(f, "c"), 200, 1, "m", 1);
    const char *bc[] = {stg(f, "b"), stg(f, "c")};
    t = target(f, "t", "overwrite", bc, 2);
    commit_ok(f, &t, 1, NULL, 0);
    assert_int_equal(t.rows, 3);
    assert_dump("100|n100\n101|n101\n200|m200\n", "SELECT id, name FROM t%d.t ORDER BY id", f->n);
}

static void test_upsert_one_key(void **state)
{
    fx *f = *state;
    stage_rows(f, stg(f, "a"), 1, 5, "n", 1); /* ids 1..5 */
    const char *a[] = {stg(f, "a")};
    mr_wh_target t = target(f, "u", "append", a, 1);
    commit_ok(f, &t, 1, NULL, 0);
    sqlf("INSERT INTO t%d.u VALUES (NULL, 'null-key', 1)", f->n);
    /* two tasks: ids 4..5 and 6..7 with new names; the NULL key already in
     * the table matches nothing */
    stage_rows(f, stg(f, "b"), 4, 2, "new", 100);
    stage_rows(f, stg(f, "c"), 6, 2, "new", 100);
    const char *bc[] = {stg(f, "b"), stg(f, "c")};
    const char *key[] = {"id"};
    t = target(f, "u", "upsert", bc, 2);
    t.key = key;
    t.nkey = 1;
    commit_ok(f, &t, 1, NULL, 0);
    assert_int_equal(t.rows, 4);
    assert_dump("<null>|null-key|1.00\n1|n1|0.01\n2|n2|0.02\n3|n3|0.03\n"
                "4|new4|4.00\n5|new5|5.00\n6|new6|6.00\n7|new7|7.00\n",
                "SELECT id, name, price FROM t%d.u ORDER BY id NULLS FIRST, name", f->n);
}

/* A staging table with the fixture's columns and the delete flag, filled
 * by SQL (values: the VALUES list), its row count recorded as n. */
static void stage_merge(const char *table, const char *values, int n)
{
    sqlf("CREATE TABLE millrace_staging.\"%s\" (id bigint, name text, price numeric(10,2), "
         "millrace_delete boolean); INSERT INTO millrace_staging.\"%s\" VALUES %s; "
         "COMMENT ON TABLE millrace_staging.\"%s\" IS 'millrace rows=%d'",
         table, table, values, table, n);
}

/* Upsert as MERGE, as on SQLite (test_warehouse.c): dedupe across tasks,
 * the delete flag, a tie failing with the table unchanged, and a staging
 * table that lost rows refused. */
static void test_upsert_merge(void **state)
{
    fx *f = *state;
    stage_rows(f, stg(f, "a"), 1, 3, "n", 1); /* ids 1..3 */
    const char *a[] = {stg(f, "a")};
    mr_wh_target t = target(f, "u", "append", a, 1);
    commit_ok(f, &t, 1, NULL, 0);
    const char *m0 = stg(f, "m0"), *m1 = stg(f, "m1");
    stage_merge(m0, "(1, 'x', 5, false), (1, 'y', 6, false), (2, 'z', 1, true), "
                    "(4, 'n', 1, false), (5, NULL, NULL, false)", 5);
    stage_merge(m1, "(1, 'w', 4, false), (4, 'm', 2, true), (5, 'p', 1, true)", 3);
    Millrace__SortKey k0 = MILLRACE__SORT_KEY__INIT, k1 = MILLRACE__SORT_KEY__INIT;
    k0.column = "price";
    k0.descending = 1;
    k0.nulls_first = 1;
    k1.column = "name";
    Millrace__SortKey *order[] = {&k0, &k1};
    const char *key[] = {"id"}, *m[] = {m0, m1};
    t = target(f, "u", "upsert", m, 2);
    t.key = key;
    t.nkey = 1;
    t.dedupe = order;
    t.ndedupe = 2;
    t.delete_column = "millrace_delete";
    t.node = "w";
    commit_ok(f, &t, 1, NULL, 0);
    assert_int_equal(t.rows, 2);
    const char *after = "1|y|6.00\n3|n3|0.03\n5|<null>|<null>\n";
    assert_dump(after, "SELECT id, name, price FROM t%d.u ORDER BY id", f->n);

    const char *t0 = stg(f, "t0");
    stage_merge(t0, "(3, 'same', 7, false), (3, 'same', 7, true), (1, 'a', 1, false)", 3);
    const char *tt[] = {t0};
    t.staging_tables = tt;
    t.nstaging = 1;
    mr_err err;
    assert_int_equal(mr_wh_commit(&f->cfg, &t, 1, NULL, 0, &err), MR_EWAREHOUSE);
    if (!strstr(err.msg, "(write node 'w'): upsert: key (id)=(3) has 2 rows that tie for first "
                         "place under dedupe order_by [price desc, name]"))
        fail_msg("%s", err.msg);
    assert_dump(after, "SELECT id, name, price FROM t%d.u ORDER BY id", f->n);

    /* rows lost since staging (a server crash empties UNLOGGED tables) */
    const char *l0 = stg(f, "l0");
    stage_merge(l0, "(8, 'h', 1, false)", 2);
    const char *ll[] = {l0};
    t.staging_tables = ll;
    assert_int_equal(mr_wh_commit(&f->cfg, &t, 1, NULL, 0, &err), MR_EWAREHOUSE);
    if (!strstr(err.msg, "holds 1 rows but its task staged 2"))
        fail_msg("%s", err.msg);
    assert_dump(after, "SELECT id, name, price FROM t%d.u ORDER BY id", f->n);
}

/* Upsert takes one row per key: a key staged twice (by two tasks or by
 * one) or a NULL key fails the commit, naming the key, and leaves the
 * table as it was. */
static void test_upsert_duplicate_and_null_keys(void **state)
{
    fx *f = *state;
    stage_rows(f, stg(f, "a"), 1, 5, "n", 1); /* ids 1..5 */
    const char *a[] = {stg(f, "a")};
    mr_wh_target t = target(f, "u", "append", a, 1);
    commit_ok(f, &t, 1, NULL, 0);
    const char *before = "1|n1|0.01\n2|n2|0.02\n3|n3|0.03\n4|n4|0.04\n5|n5|0.05\n";
    const char *key[] = {"id"};
    mr_err err;

    /* ids 4..6 and 5..7 (5 and 6 twice across tasks), and 9 three times in
     * one task */
    stage_rows(f, stg(f, "b"), 4, 3, "x", 1);
    mr_batch *b = rows_batch(f->schema_s, 5, 6, "x", 1);
    for (int i = 3; i < 6; i++)
        MR_COL_I64(&b->cols[0])[i] = 9;
    stage_batch(f, stg(f, "c"), f->schema_s, b);
    mr_batch_destroy(b);
    const char *bc[] = {stg(f, "b"), stg(f, "c")};
    t = target(f, "u", "upsert", bc, 2);
    t.key = key;
    t.nkey = 1;
    assert_int_equal(mr_wh_commit(&f->cfg, &t, 1, NULL, 0, &err), MR_EWAREHOUSE);
    if (!strstr(err.msg, "table u") || !strstr(err.msg, "key (id)=(5) appears in 2 rows") ||
        !strstr(err.msg, "3 keys in all"))
        fail_msg("%s", err.msg);
    assert_int_equal(t.rows, 0);
    assert_dump(before, "SELECT id, name, price FROM t%d.u ORDER BY id, name", f->n);
    assert_int_equal(staging_count(f), 0);

    /* a NULL in one column of a two-column key */
    b = rows_batch(f->schema_s, 6, 3, "x", 1);
    mr_column_set_str_null(&b->cols[1], 1);
    stage_batch(f, stg(f, "d"), f->schema_s, b);
    mr_batch_destroy(b);
    const char *d[] = {stg(f, "d")};
    const char *key2[] = {"id", "name"};
    t = target(f, "u", "upsert", d, 1);
    t.key = key2;
    t.nkey = 2;
    assert_int_equal(mr_wh_commit(&f->cfg, &t, 1, NULL, 0, &err), MR_EWAREHOUSE);
    if (!strstr(err.msg, "1 row of the job has a NULL key (key: id, name)"))
        fail_msg("%s", err.msg);
    assert_dump(before, "SELECT id, name, price FROM t%d.u ORDER BY id, name", f->n);

    /* the same rows without the duplicates go in */
    stage_rows(f, stg(f, "e"), 4, 4, "x", 1);
    const char *e[] = {stg(f, "e")};
    t = target(f, "u", "upsert", e, 1);
    t.key = key;
    t.nkey = 1;
    commit_ok(f, &t, 1, NULL, 0);
    assert_dump("1|n1\n2|n2\n3|n3\n4|x4\n5|x5\n6|x6\n7|x7\n",
                "SELECT id, name FROM t%d.u ORDER BY id", f->n);
}

static void test_upsert_two_keys(void **state)
{
    fx *f = *state;
    stage_rows(f, stg(f, "a"), 1, 3, "n", 1);
    const char *a[] = {stg(f, "a")};
    mr_wh_target t = target(f, "u", "append", a, 1);
    commit_ok(f, &t, 1, NULL, 0);
    /* (1,n1) and (2,n2) come again with new prices; (3,z3) is new beside (3,n3) */
    mr_batch *b = rows_batch(f->schema_s, 1, 3, "n", 7);
    b->cols[1].chars[b->cols[1].offsets[2]] = 'z'; /* "n3" -> "z3" */
    stage_batch(f, stg(f, "b"), f->schema_s, b);
    mr_batch_destroy(b);
    const char *bs[] = {stg(f, "b")};
    const char *key[] = {"id", "name"};
    t = target(f, "u", "upsert", bs, 1);
    t.key = key;
    t.nkey = 2;
    commit_ok(f, &t, 1, NULL, 0);
    assert_int_equal(t.rows, 3);
    assert_dump("1|n1|0.07\n2|n2|0.14\n3|n3|0.03\n3|z3|0.21\n",
                "SELECT id, name, price FROM t%d.u ORDER BY id, name", f->n);
}

static void test_selection_and_empty(void **state)
{
    fx *f = *state;
    mr_batch *b = rows_batch(f->schema_s, 1, 6, "n", 1);
    b->sel = b->sel_buf;
    b->sel[0] = 1;
    b->sel[1] = 4;
    b->nsel = 2;
    stage_batch(f, stg(f, "a"), f->schema_s, b);
    mr_batch_destroy(b);
    stage_batch(f, stg(f, "e"), f->schema_s, NULL); /* a task with no rows */
    const char *st[] = {stg(f, "a"), stg(f, "e")};
    mr_wh_target t = target(f, "sel", "overwrite", st, 2);
    commit_ok(f, &t, 1, NULL, 0);
    assert_int_equal(t.rows, 2);
    assert_dump("2\n5\n", "SELECT id FROM t%d.sel ORDER BY id", f->n);
}

/* ---- types ---------------------------------------------------------------- */

static void roundtrip(fx *f, const char *format)
{
    setenv("MILLRACE_PG_COPY_FORMAT", format, 1);
    mr_schema *s = mr_schema_create(10);
    mr_schema_set(s, 0, "b", mr_type_make(MR_T_BOOL));
    mr_schema_set(s, 1, "i32", mr_type_make(MR_T_INT32));
    mr_schema_set(s, 2, "i64", mr_type_make(MR_T_INT64));
    mr_schema_set(s, 3, "f", mr_type_make(MR_T_FLOAT64));
    mr_schema_set(s, 4, "d", mr_type_decimal(18, 4));
    mr_schema_set(s, 5, "d18", mr_type_decimal(18, 18));
    mr_schema_set(s, 6, "d0", mr_type_decimal(18, 0));
    mr_schema_set(s, 7, "s", mr_type_make(MR_T_STRING));
    mr_schema_set(s, 8, "dt", mr_type_make(MR_T_DATE));
    mr_schema_set(s, 9, "ts", mr_type_make(MR_T_TIMESTAMP));
    enum { N = 8 };
    static const int32_t i32[N] = {INT32_MIN, INT32_MAX, 0, -1, 1, 42, 7, 0};
    static const int64_t i64[N] = {INT64_MIN, INT64_MAX, 0, -1, 1, 1234567890123LL, 7, 0};
    const double fl[N] = {NAN, INFINITY, -INFINITY, 0.1, -0.0, 1e300, 2.5, 0};
    static const int64_t dec[N] = {0, -1, 123456789012345678LL, -123456789012345678LL, 10000, 50000, 1, 0};
    static const int64_t d18[N] = {1, -999999999999999999LL, 0, 500000000000000000LL, 10, 0, 0, 0};
    static const int64_t d0[N] = {999999999999999999LL, -1, 0, 10000, 100000000, 0, 0, 0};
    static const char *strs[N] = {"plain", "", "naïve café ☕ 日本", NULL, "tab\there\nnl\\bs\rcr",
                                  "quote ' \" ;", "\\N", "x"};
    static const int32_t days[N] = {0, -1, 11016, 10957, -719162, 2932896, 19782, 0};
    static const int64_t ts[N] = {0, -1, 1709251199123456LL, 946684800000000LL, -62135596800000000LL,
                                  253402300799999999LL, 1, 86399999999LL};
    mr_batch *bt = mr_batch_create(s, N);
    for (size_t r = 0; r < N; r++) {
        MR_COL_U8(&bt->cols[0])[r] = r & 1;
        MR_COL_I32(&bt->cols[1])[r] = i32[r];
        MR_COL_I64(&bt->cols[2])[r] = i64[r];
        MR_COL_F64(&bt->cols[3])[r] = fl[r];
        MR_COL_I64(&bt->cols[4])[r] = dec[r];
        MR_COL_I64(&bt->cols[5])[r] = d18[r];
        MR_COL_I64(&bt->cols[6])[r] = d0[r];
        MR_COL_I32(&bt->cols[8])[r] = days[r];
        MR_COL_I64(&bt->cols[9])[r] = ts[r];
        for (int c = 0; c < 10; c++)
            if (c != 7)
                mr_column_set_valid(&bt->cols[c], r, r != N - 1); /* the last row is all NULL */
        if (strs[r] && r != N - 1)
            assert_int_equal(mr_column_set_str(&bt->cols[7], r, strs[r], strlen(strs[r])), 0);
        else
            mr_column_set_str_null(&bt->cols[7], r);
    }
    bt->nrows = N;
    char name[64];
    snprintf(name, sizeof name, "%s%s", f->prefix, format);
    stage_batch(f, name, s, bt);
    mr_batch_destroy(bt);
    const char *st[] = {name};
    mr_wh_target t = {.table = format, .mode = "overwrite", .schema = s, .staging_tables = st,
                      .nstaging = 1};
    commit_ok(f, &t, 1, NULL, 0);
    unsetenv("MILLRACE_PG_COPY_FORMAT");
    char *got = dumpf("SELECT b, i32, i64, f, d, d18, d0, s, length(s), dt, ts FROM t%d.%s ORDER BY i64 "
                      "NULLS LAST, i32",
                      f->n, format);
    expect_dump("f|-2147483648|-9223372036854775808|NaN|0.0000|0.000000000000000001|999999999999999999|"
                "plain|5|1970-01-01|1970-01-01 00:00:00\n"
                "t|-1|-1|0.1|-12345678901234.5678|0.500000000000000000|10000|<null>|<null>|2000-01-01|"
                "2000-01-01 00:00:00\n"
                "f|0|0|-Infinity|12345678901234.5678|0.000000000000000000|0|naïve café ☕ 日本|15|2000-02-29|"
                "2024-02-29 23:59:59.123456\n"
                "f|1|1|-0|1.0000|0.000000000000000010|100000000|tab\there\nnl\\bs\rcr|17|0001-01-01|"
                "0001-01-01 00:00:00\n"
                "f|7|7|2.5|0.0001|0.000000000000000000|0|\\N|2|2024-02-29|1970-01-01 00:00:00.000001\n"
                "t|42|1234567890123|1e+300|5.0000|0.000000000000000000|0|quote ' \" ;|11|9999-12-31|"
                "9999-12-31 23:59:59.999999\n"
                "t|2147483647|9223372036854775807|Infinity|-0.0001|-0.999999999999999999|-1|"
                "|0|1969-12-31|1969-12-31 23:59:59.999999\n"
                "<null>|<null>|<null>|<null>|<null>|<null>|<null>|<null>|<null>|<null>|<null>\n",
                got, format);
    /* '' and NULL stay distinct */
    char q[160];
    snprintf(q, sizeof q, "SELECT count(*) FILTER (WHERE s = ''), count(*) FILTER (WHERE s IS NULL) FROM t%d.%s",
             f->n, format);
    expect_dump("1|2\n", dumpf("%s", q), "empty vs NULL");
    mr_schema_destroy(s);
}

static void test_types_binary(void **state)
{
    roundtrip(*state, "binary");
}

static void test_types_text(void **state)
{
    roundtrip(*state, "text");
}

static void test_bad_copy_format(void **state)
{
    fx *f = *state;
    setenv("MILLRACE_PG_COPY_FORMAT", "csv", 1);
    mr_err err;
    mr_wh_stage *s = NULL;
    assert_int_equal(mr_wh_stage_open(&f->cfg, stg(f, "x"), f->schema_s, &s, &err), MR_EINVAL);
    unsetenv("MILLRACE_PG_COPY_FORMAT");
    assert_non_null(strstr(err.msg, "MILLRACE_PG_COPY_FORMAT"));
    assert_null(s);
}

/* The server finds some bad values only while loading: a decimal over its
 * column's precision cannot be (mr_parse_decimal keeps them in range, but
 * arithmetic may not), a NUL byte is not valid text.  finish reports them
 * with PostgreSQL's message and nothing is left. */
static void test_server_data_errors(void **state)
{
    fx *f = *state;
    for (int k = 0; k < 2; k++) {
        mr_batch *b = rows_batch(f->schema_s, 1, 3, "n", 1);
        if (k == 0) {
            MR_COL_I64(&b->cols[2])[1] = 100000000000LL; /* 1e9: over decimal(10,2) */
        } else {
            b->cols[1].chars[b->cols[1].offsets[2]] = '\0';
        }
        mr_err err;
        mr_wh_stage *st = NULL;
        assert_int_equal(mr_wh_stage_open(&f->cfg, stg(f, "bad"), f->schema_s, &st, &err), 0);
        assert_int_equal(mr_wh_stage_append(st, b, &err), 0);
        mr_batch_destroy(b);
        assert_int_equal(mr_wh_stage_finish(st, &err), MR_EWAREHOUSE);
        assert_non_null(strstr(err.msg, stg(f, "bad")));
        assert_non_null(strstr(err.msg, k == 0 ? "numeric field overflow" : "invalid byte sequence"));
        assert_int_equal(staging_count(f), 0);
    }
}

static void test_append_type_mismatch(void **state)
{
    fx *f = *state;
    mr_err err;
    mr_wh_stage *st = NULL;
    assert_int_equal(mr_wh_stage_open(&f->cfg, stg(f, "m"), f->schema_s, &st, &err), 0);
    mr_schema *other = mr_schema_create(3);
    mr_schema_set(other, 0, "id", mr_type_make(MR_T_INT32));
    mr_schema_set(other, 1, "name", mr_type_make(MR_T_STRING));
    mr_schema_set(other, 2, "price", mr_type_decimal(10, 2));
    mr_batch *b = mr_batch_create(other, 4);
    assert_int_equal(mr_wh_stage_append(st, b, &err), MR_ETYPE);
    assert_non_null(strstr(err.msg, "column 1 is int32"));
    mr_batch_destroy(b);
    mr_schema_destroy(other);
    mr_wh_stage_abort(st);
    assert_int_equal(staging_count(f), 0);
}

/* ---- atomicity ----------------------------------------------------------- */

static void test_post_sql_failure_changes_nothing(void **state)
{
    fx *f = *state;
    stage_rows(f, stg(f, "a"), 1, 4, "n", 1);
    const char *a[] = {stg(f, "a")};
    mr_wh_target t = target(f, "keep", "append", a, 1);
    commit_ok(f, &t, 1, NULL, 0);
    stage_rows(f, stg(f, "b"), 100, 5, "n", 1);
    stage_rows(f, stg(f, "c"), 200, 5, "n", 1);
    const char *b[] = {stg(f, "b")}, *c[] = {stg(f, "c")};
    mr_wh_target ts[2] = {target(f, "keep", "overwrite", b, 1), target(f, "fresh", "append", c, 1)};
    char v1[96];
    snprintf(v1, sizeof v1, "CREATE VIEW t%d.v AS SELECT 1 AS one", f->n);
    const char *post[] = {v1, "SELECT * FROM no_such_table"};
    mr_err err;
    assert_int_equal(mr_wh_commit(&f->cfg, ts, 2, post, 2, &err), MR_EWAREHOUSE);
    assert_non_null(strstr(err.msg, "post_sql statement 2"));
    assert_non_null(strstr(err.msg, "relation \"no_such_table\" does not exist"));
    assert_int_equal(ts[0].rows, 0);
    assert_int_equal(ts[1].rows, 0);
    assert_dump("1\n2\n3\n4\n", "SELECT id FROM t%d.keep ORDER BY id", f->n);
    assert_dump("0\n", "SELECT count(*) FROM pg_class WHERE oid = to_regclass('t%d.fresh') OR "
                       "oid = to_regclass('t%d.v')", f->n, f->n);
    assert_int_equal(staging_count(f), 0);
}

static void test_post_sql_order_and_txn_control(void **state)
{
    fx *f = *state;
    char p1[128], p2[128], p3[128];
    snprintf(p1, sizeof p1, "CREATE TABLE t%d.summary (n bigint)", f->n);
    snprintf(p2, sizeof p2, "INSERT INTO t%d.summary SELECT count(*) FROM t%d.s", f->n, f->n);
    snprintf(p3, sizeof p3, "UPDATE t%d.summary SET n = n * 10", f->n);
    static const char *const bad[] = {"COMMIT", "  /* a /* nested */ comment */ commit", "-- c\nEND",
                                      "rollback", "BEGIN", "savepoint x", "PREPARE TRANSACTION 'x'"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        stage_rows(f, stg(f, "x"), 1, 2, "n", 1);
        const char *st[] = {stg(f, "x")};
        mr_wh_target t = target(f, "s", "append", st, 1);
        const char *post[] = {p1, bad[k]};
        mr_err err;
        assert_int_equal(mr_wh_commit(&f->cfg, &t, 1, post, 2, &err), MR_EWAREHOUSE);
        if (!strstr(err.msg, "post_sql statement 2") || !strstr(err.msg, "not allowed"))
            fail_msg("%s: %s", bad[k], err.msg);
        assert_dump("0\n", "SELECT count(*) FROM pg_class WHERE oid = to_regclass('t%d.s')", f->n);
    }
    /* several statements in one entry are refused by the server */
    stage_rows(f, stg(f, "x"), 1, 2, "n", 1);
    const char *st[] = {stg(f, "x")};
    mr_wh_target t = target(f, "s", "append", st, 1);
    const char *two[] = {"SELECT 1; SELECT 2"};
    mr_err err;
    assert_int_equal(mr_wh_commit(&f->cfg, &t, 1, two, 1, &err), MR_EWAREHOUSE);
    assert_non_null(strstr(err.msg, "post_sql statement 1: cannot insert multiple commands"));
    /* in order, in the commit: the INSERT sees the rows just moved */
    stage_rows(f, stg(f, "y"), 1, 3, "n", 1);
    const char *sy[] = {stg(f, "y")};
    t = target(f, "s", "append", sy, 1);
    const char *post[] = {p1, p2, p3, "PREPARE q AS SELECT 1"};
    commit_ok(f, &t, 1, post, 4);
    assert_dump("30\n", "SELECT n FROM t%d.summary", f->n);
}

/* A writer killed with SIGKILL in the middle of its COPY: its transaction
 * dies with the connection, so no staging table is left, a commit naming it
 * refuses, and the target is unchanged. */
static void test_writer_killed_mid_copy(void **state)
{
    fx *f = *state;
    stage_rows(f, stg(f, "a"), 1, 3, "n", 1);
    const char *a[] = {stg(f, "a")};
    mr_wh_target t = target(f, "k", "append", a, 1);
    commit_ok(f, &t, 1, NULL, 0);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        mr_err err;
        mr_wh_stage *s = NULL;
        if (mr_wh_stage_open(&f->cfg, stg(f, "dead"), f->schema_s, &s, &err) != 0)
            _exit(1);
        for (int i = 0; i < 40; i++) { /* > 1 MiB: rows really went to the server */
            mr_batch *b = rows_batch(f->schema_s, 1000 + i * 4096, 4096, "dead", 1);
            if (mr_wh_stage_append(s, b, &err) != 0)
                _exit(1);
            mr_batch_destroy(b);
        }
        if (write(fds[1], "x", 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    close(fds[1]);
    char ch;
    assert_int_equal(read(fds[0], &ch, 1), 1);
    close(fds[0]);
    /* the COPY is running now: the server has the rows but not committed */
    assert_dump("1\n", "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'millrace' "
                       "AND query LIKE 'COPY%%%s%%'", stg(f, "dead"));
    kill(pid, SIGKILL);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(staging_count(f), 0);
    const char *d[] = {stg(f, "dead")};
    t = target(f, "k", "overwrite", d, 1);
    mr_err err;
    assert_int_equal(mr_wh_commit(&f->cfg, &t, 1, NULL, 0, &err), MR_EWAREHOUSE);
    assert_non_null(strstr(err.msg, "is missing"));
    assert_dump("1|n1\n2|n2\n3|n3\n", "SELECT id, name FROM t%d.k ORDER BY id", f->n);
    /* the server ends the dead backend and cleanup finds nothing left */
    for (int i = 0; i < 100 && q_int("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                                     "'millrace' AND query LIKE 'COPY%'") > 0;
         i++)
        usleep(20000);
    assert_int_equal(mr_wh_drop_staging(&f->cfg, f->prefix, &err), 0);
    assert_int_equal(staging_count(f), 0);
}

/* A staging table a task created and filled but never finished (a crash
 * after COPY), or one that lost its rows (UNLOGGED tables are emptied by a
 * server crash), never reaches a target; prefix cleanup drops it. */
static void test_unfinished_or_emptied_staging_refused(void **state)
{
    fx *f = *state;
    sqlf("CREATE TABLE millrace_staging.\"%sraw\" (id bigint, name text, price numeric(10,2)); "
         "INSERT INTO millrace_staging.\"%sraw\" VALUES (1, 'x', 1)",
         f->prefix, f->prefix);
    const char *raw[] = {stg(f, "raw")};
    mr_wh_target t = target(f, "k", "append", raw, 1);
    mr_err err;
    assert_int_equal(mr_wh_commit(&f->cfg, &t, 1, NULL, 0, &err), MR_EWAREHOUSE);
    assert_non_null(strstr(err.msg, "never finished"));
    assert_int_equal(staging_count(f), 0); /* the commit dropped what it was given */

    stage_rows(f, stg(f, "e"), 1, 5, "n", 1);
    sqlf("DELETE FROM millrace_staging.\"%se\"", f->prefix);
    const char *e[] = {stg(f, "e")};
    t = target(f, "k", "append", e, 1);
    assert_int_equal(mr_wh_commit(&f->cfg, &t, 1, NULL, 0, &err), MR_EWAREHOUSE);
    assert_non_null(strstr(err.msg, "holds 0 rows but its task staged 5"));
    assert_dump("0\n", "SELECT count(*) FROM pg_class WHERE oid = to_regclass('t%d.k')", f->n);
}

/* ---- concurrency ------------------------------------------------------------ */

typedef struct job_arg {
    fx *f;
    const char *table;
    int id0;
    int rc;
    char msg[MR_ERR_MSG_MAX];
} job_arg;

static void *run_job(void *p)
{
    job_arg *j = p;
    fx *f = j->f;
    enum { TASKS = 3, ROWS = 20000 };
    char names[TASKS][64];
    const char *st[TASKS];
    mr_err err;
    j->rc = 0;
    for (int k = 0; k < TASKS && j->rc == 0; k++) {
        snprintf(names[k], sizeof names[k], "%s%s_%d", f->prefix, j->table, k);
        st[k] = names[k];
        mr_wh_stage *s = NULL;
        mr_batch *b = rows_batch(f->schema_s, j->id0 + k * ROWS, ROWS, "c", 1);
        if ((j->rc = mr_wh_stage_open(&f->cfg, names[k], f->schema_s, &s, &err)) == 0 &&
            (j->rc = mr_wh_stage_append(s, b, &err)) == 0)
            j->rc = mr_wh_stage_finish(s, &err);
        else if (s)
            mr_wh_stage_abort(s);
        mr_batch_destroy(b);
    }
    if (j->rc == 0) {
        mr_wh_target t = {.table = j->table, .mode = "overwrite", .schema = f->schema_s,
                          .staging_tables = st, .nstaging = TASKS};
        j->rc = mr_wh_commit(&f->cfg, &t, 1, NULL, 0, &err);
    }
    if (j->rc)
        snprintf(j->msg, sizeof j->msg, "%s", err.msg);
    return NULL;
}

static void test_two_jobs_at_once(void **state)
{
    fx *f = *state;
    job_arg ja = {f, "left", 0, 0, ""}, jb = {f, "right", 1000000, 0, ""};
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, run_job, &ja), 0);
    assert_int_equal(pthread_create(&tb, NULL, run_job, &jb), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    if (ja.rc || jb.rc)
        fail_msg("left: %s / right: %s", ja.msg, jb.msg);
    assert_dump("60000|0|59999\n", "SELECT count(DISTINCT id), min(id), max(id) FROM t%d.left", f->n);
    assert_dump("60000|1000000|1059999\n", "SELECT count(DISTINCT id), min(id), max(id) FROM t%d.right",
                f->n);
    assert_int_equal(staging_count(f), 0);
}

/* ---- names and existing tables ------------------------------------------------ */

static void test_injection_name_is_harmless(void **state)
{
    fx *f = *state;
    sqlf("CREATE SCHEMA t%d; CREATE TABLE t%d.y (a int); INSERT INTO t%d.y VALUES (1)", f->n, f->n, f->n);
    const char *evil = "x\"; DROP TABLE y; --";
    stage_rows(f, stg(f, "a"), 1, 2, "n", 1);
    const char *st[] = {stg(f, "a")};
    mr_wh_target t = target(f, evil, "overwrite", st, 1);
    commit_ok(f, &t, 1, NULL, 0);
    assert_dump("1\n", "SELECT a FROM t%d.y", f->n);
    assert_dump("2\n", "SELECT count(*) FROM t%d.\"x\"\"; DROP TABLE y; --\"", f->n);
    /* a column name with a quote too */
    mr_schema *s = mr_schema_create(1);
    mr_schema_set(s, 0, "c\"); DROP TABLE y; --", mr_type_make(MR_T_INT32));
    mr_batch *b = mr_batch_create(s, 1);
    MR_COL_I32(&b->cols[0])[0] = 5;
    mr_column_set_valid(&b->cols[0], 0, true);
    b->nrows = 1;
    stage_batch(f, stg(f, "b"), s, b);
    mr_batch_destroy(b);
    const char *sb[] = {stg(f, "b")};
    const char *key[] = {"c\"); DROP TABLE y; --"};
    mr_wh_target t2 = {.table = "q", .mode = "upsert", .key = key, .nkey = 1, .schema = s,
                       .staging_tables = sb, .nstaging = 1};
    commit_ok(f, &t2, 1, NULL, 0);
    assert_dump("5\n", "SELECT \"c\"\"); DROP TABLE y; --\" FROM t%d.q", f->n);
    assert_dump("1\n", "SELECT a FROM t%d.y", f->n);
    mr_schema_destroy(s);
}

static void test_schema_qualified(void **state)
{
    fx *f = *state;
    char other[64];
    snprintf(other, sizeof other, "o%d.sales", f->n);
    stage_rows(f, stg(f, "a"), 1, 2, "n", 1);
    stage_rows(f, stg(f, "b"), 10, 3, "n", 1);
    const char *a[] = {stg(f, "a")}, *b[] = {stg(f, "b")};
    mr_wh_target ts[2] = {target(f, other, "append", a, 1), target(f, "sales", "append", b, 1)};
    commit_ok(f, ts, 2, NULL, 0);
    assert_dump("2\n", "SELECT count(*) FROM o%d.sales", f->n);
    assert_dump("3\n", "SELECT count(*) FROM t%d.sales", f->n); /* cfg->schema */
    sqlf("DROP SCHEMA o%d CASCADE", f->n);
    /* bad forms */
    const char *bad[] = {".t", "s.", "s.t.u.v" /* "t.u.v" is one table in s: fine */};
    for (int k = 0; k < 2; k++) {
        stage_rows(f, stg(f, "c"), 1, 1, "n", 1);
        const char *c[] = {stg(f, "c")};
        mr_wh_target t = target(f, bad[k], "append", c, 1);
        mr_err err;
        assert_int_equal(mr_wh_commit(&f->cfg, &t, 1, NULL, 0, &err), MR_EINVAL);
        assert_int_equal(staging_count(f), 0);
    }
    /* too long for PostgreSQL: refused instead of silently truncated */
    char longname[80];
    memset(longname, 'a', 64);
    longname[64] = '\0';
    stage_rows(f, stg(f, "d"), 1, 1, "n", 1);
    const char *d[] = {stg(f, "d")};
    mr_wh_target t = target(f, longname, "append", d, 1);
    mr_err err;
    assert_int_equal(mr_wh_commit(&f->cfg, &t, 1, NULL, 0, &err), MR_EINVAL);
    assert_non_null(strstr(err.msg, "63 bytes"));
    mr_wh_stage *s = NULL;
    assert_int_equal(mr_wh_stage_open(&f->cfg, longname, f->schema_s, &s, &err), MR_EINVAL);
}

static void test_existing_table_checked_before_data_moves(void **state)
{
    fx *f = *state;
    sqlf("CREATE SCHEMA t%d; CREATE TABLE t%d.typ (id bigint, name text, price integer); "
         "INSERT INTO t%d.typ VALUES (7, 'seven', 7); "
         "CREATE TABLE t%d.miss (id bigint, \"Name\" text, price numeric(10,2)); "
         "CREATE TABLE t%d.extra (id bigint, name text, price numeric(10,2), more int); "
         "CREATE VIEW t%d.vw AS SELECT 1 AS id; "
         "CREATE TABLE t%d.wide (id numeric, name varchar(40), price numeric(14,3))",
         f->n, f->n, f->n, f->n, f->n, f->n, f->n);
    static const struct {
        const char *table, *want;
    } cases[] = {
        {"typ", "column \"price\" is integer, which cannot hold the write's decimal(10,2)"},
        {"miss", "exists without column \"name\" (names are case-sensitive)"},
        {"extra", "has 4 columns"},
        {"vw", "is not a table"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        stage_rows(f, stg(f, "ok"), 1, 2, "n", 1);
        stage_rows(f, stg(f, "bad"), 1, 2, "n", 1);
        const char *ok[] = {stg(f, "ok")}, *bad[] = {stg(f, "bad")};
        /* the good target comes first: it must not be touched either */
        mr_wh_target ts[2] = {target(f, "typ_ok", "append", ok, 1),
                              target(f, cases[k].table, "overwrite", bad, 1)};
        mr_err err;
        assert_int_equal(mr_wh_commit(&f->cfg, ts, 2, NULL, 0, &err), MR_EWAREHOUSE);
        if (!strstr(err.msg, cases[k].want))
            fail_msg("%s: %s", cases[k].table, err.msg);
        assert_dump("0\n", "SELECT count(*) FROM pg_class WHERE oid = to_regclass('t%d.typ_ok')", f->n);
        assert_int_equal(staging_count(f), 0);
    }
    assert_dump("7|seven|7\n", "SELECT * FROM t%d.typ", f->n);
    /* wider types take the values */
    stage_rows(f, stg(f, "w"), 1, 2, "n", 150);
    const char *w[] = {stg(f, "w")};
    mr_wh_target t = target(f, "wide", "append", w, 1);
    commit_ok(f, &t, 1, NULL, 0);
    assert_dump("1|n1|1.500\n2|n2|3.000\n", "SELECT * FROM t%d.wide ORDER BY id", f->n);
}

/* ---- cleanup and configuration ------------------------------------------------ */

static void test_drop_staging_prefix_is_literal(void **state)
{
    fx *f = *state;
    /* '_' and '%' in the prefix are characters, not patterns */
    char a[64], b[64], c[64];
    snprintf(a, sizeof a, "%s_%%x", f->prefix);
    snprintf(b, sizeof b, "%sA%%x", f->prefix);
    snprintf(c, sizeof c, "%s_Qx", f->prefix);
    stage_rows(f, a, 1, 1, "n", 1);
    stage_rows(f, b, 1, 1, "n", 1);
    stage_rows(f, c, 1, 1, "n", 1);
    char pfx[64];
    snprintf(pfx, sizeof pfx, "%s_%%", f->prefix);
    mr_err err;
    assert_int_equal(mr_wh_drop_staging(&f->cfg, pfx, &err), 0);
    char *got = dumpf("SELECT tablename FROM pg_tables WHERE schemaname = 'millrace_staging' AND "
                      "left(tablename, %zu) = '%s' ORDER BY tablename COLLATE \"C\"",
                      strlen(f->prefix), f->prefix);
    char want[160];
    snprintf(want, sizeof want, "%s\n%s\n", b, c);
    expect_dump(want, got, "after dropping prefix _%");
    assert_int_equal(mr_wh_drop_staging(&f->cfg, f->prefix, &err), 0);
    assert_int_equal(staging_count(f), 0);
}

static void test_dsn_password_never_shown(void **state)
{
    (void)state;
    static const char *const dsns[] = {
        "host=127.0.0.1 port=1 user=nobody password=hunter2secret dbname=x connect_timeout=5",
        "postgresql://nobody:hunter2secret@127.0.0.1:1/x?connect_timeout=5",
    };
    mr_schema *s = mr_schema_create(1);
    mr_schema_set(s, 0, "a", mr_type_make(MR_T_INT32));
    for (int k = 0; k < 2; k++) {
        mr_wh_config cfg = {"postgres", NULL, dsns[k], NULL, NULL, NULL, 0};
        mr_err err;
        mr_wh_stage *st = NULL;
        assert_int_equal(mr_wh_stage_open(&cfg, "s_x", s, &st, &err), MR_EWAREHOUSE);
        if (strstr(err.msg, "hunter2") || !strstr(err.msg, "port=1") || !strstr(err.msg, "user=nobody"))
            fail_msg("%s", err.msg);
        assert_int_equal(mr_wh_drop_staging(&cfg, "s_", &err), MR_EWAREHOUSE);
        assert_null(strstr(err.msg, "hunter2"));
        mr_wh_target t = {.table = "t", .schema = s};
        /* unreachable: MR_EIO, which the coordinator retries (warehouse.h) */
        assert_int_equal(mr_wh_commit(&cfg, &t, 1, NULL, 0, &err), MR_EIO);
        assert_null(strstr(err.msg, "hunter2"));
    }
    mr_wh_config bad = {"postgres", NULL, "host=x password hunter2secret", NULL, NULL, NULL, 0};
    mr_err err;
    assert_int_equal(mr_wh_drop_staging(&bad, "s_", &err), MR_EINVAL);
    assert_null(strstr(err.msg, "hunter2"));
    mr_wh_config none = {"postgres", NULL, "", NULL, NULL, NULL, 0};
    assert_int_equal(mr_wh_drop_staging(&none, "s_", &err), MR_EINVAL);
    assert_non_null(strstr(err.msg, "dsn"));
    mr_schema_destroy(s);
}

/* ---- the server ---------------------------------------------------------- */

static char g_dir[64];

/* Starts a private server when MILLRACE_TEST_PG_DSN is not set. */
static int server_start(void)
{
    const char *env = getenv("MILLRACE_TEST_PG_DSN");
    if (env && *env) {
        g_dsn = env;
        return 0;
    }
    strcpy(g_dir, "/tmp/mr_pg_test_XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "'%s/scripts/pg_test_server.sh' start '%s'", MR_SOURCE_DIR, g_dir);
    FILE *p = popen(cmd, "r");
    static char line[512];
    int found = 0;
    while (p && fgets(line, sizeof line, p))
        if (strncmp(line, "MILLRACE_TEST_PG_DSN=", 21) == 0) {
            line[strcspn(line, "\n")] = '\0';
            found = 1;
        }
    if (!p || pclose(p) != 0 || !found) {
        fprintf(stderr,
                "test_warehouse_pg: cannot start a PostgreSQL server with scripts/pg_test_server.sh "
                "(see its message above); run the suite through scripts/test.sh or set "
                "MILLRACE_TEST_PG_DSN to a server this test may write to\n");
        return -1;
    }
    g_dsn = line + 21;
    return 0;
}

static void server_stop(void)
{
    if (!g_dir[0])
        return;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "'%s/scripts/pg_test_server.sh' stop '%s'", MR_SOURCE_DIR, g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "test_warehouse_pg: stopping the server in %s failed\n", g_dir);
}

int main(void)
{
    if (server_start() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overwrite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upsert_one_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upsert_two_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upsert_duplicate_and_null_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upsert_merge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_selection_and_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_types_binary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_types_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_copy_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_data_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_type_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_sql_failure_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_sql_order_and_txn_control, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_killed_mid_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unfinished_or_emptied_staging_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_jobs_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_injection_name_is_harmless, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_qualified, setup, teardown),
        cmocka_unit_test_setup_teardown(test_existing_table_checked_before_data_moves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_staging_prefix_is_literal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dsn_password_never_shown, setup, teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    server_stop();
    return failed ? 1 : 0;
}
