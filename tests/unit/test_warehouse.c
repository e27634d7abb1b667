/* test_warehouse.c - staging and the atomic commit on the SQLite warehouse.
 *
 * Each test gets a fresh temporary folder holding wh.db (the warehouse) and
 * wh.db.staging.  Results are read back with sqlite3 directly, so the tests
 * check what a user of the warehouse file would see.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "warehouse/warehouse.h"

typedef struct fx {
    char dir[64];
    char path[128];
    mr_wh_config cfg;
    mr_schema *schema; /* id int64, name string, price decimal(10,2) */
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/mr_wh_test_XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/wh.db", f->dir);
    f->cfg.driver = "sqlite";
    f->cfg.path = f->path;
    f->schema = mr_schema_create(3);
    mr_schema_set(f->schema, 0, "id", mr_type_make(MR_T_INT64));
    mr_schema_set(f->schema, 1, "name", mr_type_make(MR_T_STRING));
    mr_schema_set(f->schema, 2, "price", mr_type_decimal(10, 2));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    mr_schema_destroy(f->schema);
    free(f);
    return 0;
}

/* ---- helpers -------------------------------------------------------------- */

/* A batch of the fixture schema: rows (id0 + i, "n<id>", price (id * 101) cents). */
static mr_batch *rows_batch(const mr_schema *s, int64_t id0, size_t n)
{
    mr_batch *b = mr_batch_create(s, n ? n : 1);
    char name[32];
    for (size_t i = 0; i < n; i++) {
        int64_t id = id0 + (int64_t)i;
        MR_COL_I64(&b->cols[0])[i] = id;
        mr_column_set_valid(&b->cols[0], i, true);
        int len = snprintf(name, sizeof name, "n%lld", (long long)id);
        assert_int_equal(mr_column_set_str(&b->cols[1], i, name, (size_t)len), 0);
        MR_COL_I64(&b->cols[2])[i] = id * 101;
        mr_column_set_valid(&b->cols[2], i, true);
    }
    b->nrows = n;
    return b;
}

static void stage_rows(fx *f, const char *table, int64_t id0, size_t n)
{
    mr_err err;
    mr_wh_stage *s = NULL;
    int rc = mr_wh_stage_open(&f->cfg, table, f->schema, &s, &err);
    if (rc)
        fail_msg("stage_open: %s", err.msg);
    mr_batch *b = rows_batch(f->schema, id0, n);
    rc = mr_wh_stage_append(s, b, &err);
    if (rc)
        fail_msg("stage_append: %s", err.msg);
    mr_batch_destroy(b);
    rc = mr_wh_stage_finish(s, &err);
    if (rc)
        fail_msg("stage_finish: %s", err.msg);
}

static sqlite3 *open_file(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                     SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    return db;
}

static void exec_file(const char *path, const char *sql)
{
    sqlite3 *db = open_file(path);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
    sqlite3_close(db);
}

/* Every row of the query, as "a|b|c\n" lines (NULL shown as <null>),
 * malloc'd. */
static char *dump(const char *path, const char *sql)
{
    sqlite3 *db = open_file(path);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    size_t cap = 4096, n = 0;
    char *out = malloc(cap);
    out[0] = '\0';
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int c = 0; c < sqlite3_column_count(st); c++) {
            const char *v = (const char *)sqlite3_column_text(st, c);
            size_t need = n + (v ? strlen(v) : 6) + 3;
            while (need >= cap)
                out = realloc(out, cap *= 2);
            n += (size_t)sprintf(out + n, "%s%s", c ? "|" : "", v ? v : "<null>");
        }
        out[n++] = '\n';
        out[n] = '\0';
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

static int64_t q_int(const char *path, const char *sql)
{
    char *s = dump(path, sql);
    int64_t v = strtoll(s, NULL, 10);
    free(s);
    return v;
}

static void assert_dump(const char *path, const char *sql, const char *want)
{
    char *got = dump(path, sql);
    if (strcmp(got, want) != 0)
        fail_msg("%s\n got:\n%s\nwant:\n%s", sql, got, want);
    free(got);
}

static char *staging_file(fx *f)
{
    static char p[160];
    snprintf(p, sizeof p, "%s.staging", f->path);
    return p;
}

static int64_t staging_tables(fx *f)
{
    if (access(staging_file(f), F_OK) != 0)
        return 0;
    return q_int(staging_file(f), "SELECT count(*) FROM sqlite_master WHERE type = 'table'");
}

static mr_wh_target target(fx *f, const char *table, const char *mode, const char *const *staging,
                           int n)
{
    mr_wh_target t = {.table = table, .mode = mode, .schema = f->schema,
                      .staging_tables = staging, .nstaging = n};
    return t;
}

/* ---- tests ------------------------------------------------------------------- */

static void test_append_two_tasks(void **state)
{
    fx *f = *state;
    stage_rows(f, "s_j1_0", 1, 100);
    stage_rows(f, "s_j1_1", 101, 50);
    assert_int_equal(staging_tables(f), 2);
    const char *st[] = {"s_j1_0", "s_j1_1"};
    mr_wh_target t = target(f, "sales", "append", st, 2);
    mr_err err;
    int rc = mr_wh_commit(&f->cfg, &t, 1, NULL, 0, &err);
    if (rc)
        fail_msg("%s", err.msg);
    assert_int_equal(t.rows, 150);
    assert_dump(f->path, "SELECT count(*), sum(id), min(name), max(price) FROM sales",
                "150|11325|n1|151.5\n");
    /* the staging tables are gone, and the warehouse never saw them */
    assert_int_equal(staging_tables(f), 0);
    assert_int_equal(q_int(f->path, "SELECT count(*) FROM sqlite_master WHERE name LIKE 's%'"), 1);
    /* a second job appends */
    stage_rows(f, "s_j2_0", 1000, 10);
    const char *st2[] = {"s_j2_0"};
    t = target(f, "sales", NULL, st2, 1);
    assert_int_equal(mr_wh_commit(&f->cfg, &t, 1, NULL, 0, &err), 0);
    assert_int_equal(t.rows, 10);
    assert_int_equal(q_int(f->path, "SELECT count(*) FROM sales"), 160);
    /* declared types follow the DAG mapping */
    assert_dump(f->path, "SELECT name, type FROM pragma_table_info('sales')",
                "id|BIGINT\nname|TEXT\nprice|NUMERIC(10,2)\n");
}

static void test_concurrent_writers(void **state)
{
    fx *f = *state;
    enum { KIDS = 4, BATCHES = 20, ROWS = 500 };
    pid_t pids[KIDS];
    for (int k = 0; k < KIDS; k++) {
        pids[k] = fork();
        assert_true(pids[k] >= 0);
        if (pids[k] == 0) {
            char name[32];
            snprintf(name, sizeof name, "s_conc_%d", k);
            mr_err err;
            mr_wh_stage *s = NULL;
            if (mr_wh_stage_open(&f->cfg, name, f->schema, &s, &err) != 0) {
                fprintf(stderr, "child %d: %s\n", k, err.msg);
                _exit(1);
            }
            for (int i = 0; i < BATCHES; i++) {
                mr_batch *b = rows_batch(f->schema, (int64_t)k * 1000000 + i * ROWS, ROWS);
                int rc = mr_wh_stage_append(s, b, &err);
                mr_batch_destroy(b);
                if (rc) {
                    fprintf(stderr, "child %d: %s\n", k, err.msg);
                    _exit(1);
                }
            }
            _exit(mr_wh_stage_finish(s, &err) == 0 ? 0 : 1);
        }
    }
    for (int k = 0; k < KIDS; k++) {
        int status;
        assert_int_equal(waitpid(pids[k], &status, 0), pids[k]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    const char *st[] = {"s_conc_0", "s_conc_1", "s_conc_2", "s_conc_3"};
    mr_wh_target t = target(f, "big", "append", st, KIDS);
    mr_err err;
    int rc = mr_wh_commit(&f->cfg, &t, 1, NULL, 0, &err);
    if (rc)
        fail_msg("%s", err.msg);
    assert_int_equal(t.rows, KIDS * BATCHES * ROWS);
    assert_int_equal(q_int(f->path, "SELECT count(DISTINCT id) FROM big"), KIDS * BATCHES * ROWS);
}

static void test_overwrite(void **state)
{
    fx *f = *state;
    stage_rows(f, "s_a", 1, 10);
    const char *a[] = {"s_a"};
    mr_wh_target t = target(f, "t", "append", a, 1);
    mr_err err;
    assert_int_equal(mr_wh_commit(&f->cfg, &t, 1, NULL, 0, &err), 0);
    stage_rows(f, "s_b", 100, 3);
    const char *b[] = {"s_b"};
    t = target(f, "t", "overwrite", b, 1);
    assert_int_equal(mr_wh_commit(&f->cfg, &t, 1, NULL, 0, &err), 0);
    assert_int_equal(t.rows, 3);
    assert_dump(f->path, "SELECT id, name FROM t ORDER BY id", "100|n100\n101|n101\n102|n102\n");
}

static void test_upsert(void **state)
{
    fx *f = *state;
    stage_rows(f, "s_a", 1, 5); /* ids 1..5 */
    const char *a[] = {"s_a"};
    mr_wh_target t = target(f, "u", "append", a, 1);
    mr_err err;
    assert_int_equal(mr_wh_commit(&f->cfg, &t, 1, NULL, 0, &err), 0);
    exec_file(f->path, "INSERT INTO u VALUES (NULL, 'null-key', 1)");
    /* two tasks: ids 4..5 and 6..7, with changed names; the NULL key already
     * in the table matches nothing */
    stage_rows(f, "s_b", 4, 2);
    stage_rows(f, "s_c", 6, 2);
    exec_file(staging_file(f), "UPDATE s_b SET name = 'new' || id");
    const char *bc[] = {"s_b", "s_c"};
    const char *key[] = {"id"};
    t = target(f, "u", "upsert", bc, 2);
    t.key = key;
    t.nkey = 1;
    int rc = mr_wh_commit(&f->cfg, &t, 1, NULL, 0, &err);
    if (rc)
        fail_msg("%s", err.msg);
    assert_int_equal(t.rows, 4);
    assert_dump(f->path, "SELECT id, name FROM u ORDER BY id NULLS FIRST, name",
                "<null>|null-key\n1|n1\n2|n2\n3|n3\n4|new4\n5|new5\n6|n6\n7|n7\n");
    /* a two-column key */
    stage_rows(f, "s_d", 1, 3);
    exec_file(staging_file(f), "UPDATE s_d SET price = 0 WHERE id = 2; UPDATE s_d SET name = 'zz' WHERE id = 3");
    const char *d[] = {"s_d"};
    const char *key2[] = {"id", "name"};
    t = target(f, "u", "upsert", d, 1);
    t.key = key2;
    t.nkey = 2;
    assert_int_equal(mr_wh_commit(&f->cfg, &t, 1, NULL, 0, &err), 0);
    /* (1,n1) and (2,n2) replaced, (3,zz) new beside (3,n3) */
    assert_dump(f->path, "SELECT id, name, price FROM u WHERE id <= 3 ORDER BY id, name",
                "1|n1|1.01\n2|n2|0\n3|n3|3.03\n3|zz|3.03\n");
}

/* Upsert as MERGE: dedupe keeps each key's first row in the dedupe order
 * across tasks, a winning row flagged by the delete column deletes the key,
 * a tie for first fails naming the key and leaves the table as it was. */
static void test_upsert_merge(void **state)
{
    fx *f = *state;
    stage_rows(f, "s_a", 1, 3); /* ids 1..3 */
    const char *a[] = {"s_a"};
    mr_wh_target t = target(f, "u", "append", a, 1);
    mr_err err;
    assert_int_equal(mr_wh_commit(&f->cfg, &t, 1, NULL, 0, &err), 0);
    const char *ddl = "CREATE TABLE %s (id BIGINT, name TEXT, price NUMERIC(10,2), "
                      "millrace_delete BOOLEAN)";
    char sql[512];
    snprintf(sql, sizeof sql, ddl, "s_m0");
    exec_file(staging_file(f), sql);
    snprintf(sql, sizeof sql, ddl, "s_m1");
    exec_file(staging_file(f), sql);
    exec_file(staging_file(f), "INSERT INTO s_m0 VALUES (1, 'x', 5, 0), (1, 'y', 6, 0), "
                               "(2, 'z', 1, 1), (4, 'n', 1, 0), (5, NULL, NULL, 0); "
                               "INSERT INTO s_m1 VALUES (1, 'w', 4, 0), (4, 'm', 2, 1), "
                               "(5, 'p', 1, 1)");
    Millrace__SortKey k0 = MILLRACE__SORT_KEY__INIT, k1 = MILLRACE__SORT_KEY__INIT;
    k0.column = "price";
    k0.descending = 1;
    k0.nulls_first = 1;
    k1.column = "name";
    Millrace__SortKey *order[] = {&k0, &k1};
    const char *key[] = {"id"}, *m[] = {"s_m0", "s_m1"};
    t = target(f, "u", "upsert", m, 2);
    t.key = key;
    t.nkey = 1;
    t.dedupe = order;
    t.ndedupe = 2;
    t.delete_column = "millrace_delete";
    t.node = "w";
    int rc = mr_wh_commit(&f->cfg, &t, 1, NULL, 0, &err);
    if (rc)
        fail_msg("%s", err.msg);
    /* 1: the highest price wins; 2: deleted; 4: its winner (price 2) is a
     * deletion; 5: a NULL price sorts first under desc, so it wins */
    assert_int_equal(t.rows, 2);
    assert_dump(f->path, "SELECT id, name, price FROM u ORDER BY id",
                "1|y|6\n3|n3|3.03\n5|<null>|<null>\n");

    /* a tie for first on the whole order fails and changes nothing */
    snprintf(sql, sizeof sql, ddl, "s_t0");
    exec_file(staging_file(f), sql);
    exec_file(staging_file(f), "INSERT INTO s_t0 VALUES (3, 'same', 7, 0), (3, 'same', 7, 1), "
                               "(1, 'a', 1, 0)");
    const char *tt[] = {"s_t0"};
    t = target(f, "u", "upsert", tt, 1);
    t.key = key;
    t.nkey = 1;
    t.dedupe = order;
    t.ndedupe = 2;
    t.delete_column = "millrace_delete";
    t.node = "w";
    assert_int_equal(mr_wh_commit(&f->cfg, &t, 1, NULL, 0, &err), MR_EWAREHOUSE);
    if (!strstr(err.msg, "table u (write node 'w'): upsert: key (id)=(3) has 2 rows that tie for "
                         "first place under dedupe order_by [price desc, name]"))
        fail_msg("%s", err.msg);
    assert_dump(f->path, "SELECT id, name, price FROM u ORDER BY id",
                "1|y|6\n3|n3|3.03\n5|<null>|<null>\n");
    /* dedupe or a delete column without upsert is refused */
    t.mode = "append";
    assert_int_equal(mr_wh_commit(&f->cfg, &t, 1, NULL, 0, &err), MR_EINVAL);
}

/* Upsert takes one row per key: a key staged twice (by two tasks or by
 * one) or a NULL key fails the commit, naming the key, and leaves the
 * table as it was. */
static void test_upsert_duplicate_and_null_keys(void **state)
{
    fx *f = *state;
    stage_rows(f, "s_a", 1, 5); /* ids 1..5 */
    const char *a[] = {"s_a"};
    mr_wh_target t = target(f, "u", "append", a, 1);
    mr_err err;
    assert_int_equal(mr_wh_commit(&f->cfg, &t, 1, NULL, 0, &err), 0);
    const char *before = "1|n1|1.01\n2|n2|2.02\n3|n3|3.03\n4|n4|4.04\n5|n5|5.05\n";
    const char *all = "SELECT id, name, price FROM u ORDER BY id NULLS FIRST, name";
    const char *key[] = {"id"};

    /* ids 4..6 and 5..7 (5 and 6 twice across tasks), and 9 three times in
     * one task */
    stage_rows(f, "s_b", 4, 3);
    stage_rows(f, "s_c", 5, 3);
    exec_file(staging_file(f), "INSERT INTO s_c SELECT 9, 'x', 1 FROM s_c");
    const char *bc[] = {"s_b", "s_c"};
    t = target(f, "u", "upsert", bc, 2);
    t.key = key;
    t.nkey = 1;
    assert_int_equal(mr_wh_commit(&f->cfg, &t, 1, NULL, 0, &err), MR_EWAREHOUSE);
    if (!strstr(err.msg, "table u") || !strstr(err.msg, "key (id)=(5) appears in 2 rows") ||
        !strstr(err.msg, "3 keys in all"))
        fail_msg("%s", err.msg);
    assert_int_equal(t.rows, 0);
    assert_dump(f->path, all, before);
    assert_int_equal(staging_tables(f), 0);

    /* one task: a NULL key (two columns of the key, one NULL) */
    stage_rows(f, "s_d", 6, 3);
    exec_file(staging_file(f), "UPDATE s_d SET name = NULL WHERE id = 7");
    const char *d[] = {"s_d"};
    const char *key2[] = {"id", "name"};
    t = target(f, "u", "upsert", d, 1);
    t.key = key2;
    t.nkey = 2;
    assert_int_equal(mr_wh_commit(&f->cfg, &t, 1, NULL, 0, &err), MR_EWAREHOUSE);
    if (!strstr(err.msg, "1 row of the job has a NULL key (key: id, name)"))
        fail_msg("%s", err.msg);
    assert_dump(f->path, all, before);

    /* the same rows without the duplicates go in */
    stage_rows(f, "s_e", 4, 4);
    const char *e[] = {"s_e"};
    t = target(f, "u", "upsert", e, 1);
    t.key = key;
    t.nkey = 1;
    assert_int_equal(mr_wh_commit(&f->cfg, &t, 1, NULL, 0, &err), 0);
    assert_int_equal(q_int(f->path, "SELECT count(*) FROM u"), 7);
}

/* True once the file at path holds needle. */
static int file_has(const char *path, const char *needle)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return 0;
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

/* A commit that waits behind a reader of the warehouse file says so: what
 * it waits for, which file, how long so far.  A child process holds a read
 * transaction until the commit's log line appears (no timing assumed),
 * then lets go, and the commit goes through. */
static void test_commit_logs_its_wait(void **state)
{
    fx *f = *state;
    stage_rows(f, "s_a", 1, 3);
    const char *a[] = {"s_a"};
    mr_wh_target t = target(f, "t", "append", a, 1);
    mr_err err;
    assert_int_equal(mr_wh_commit(&f->cfg, &t, 1, NULL, 0, &err), 0);
    stage_rows(f, "s_b", 10, 2);

    char logf[200];
    snprintf(logf, sizeof logf, "%s/commit.log", f->dir);
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        if (sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
            sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &st, NULL) != SQLITE_OK ||
            sqlite3_step(st) != SQLITE_ROW)
            _exit(2);
        sqlite3_finalize(st); /* the read transaction keeps its shared lock */
        if (write(ready[1], "r", 1) != 1)
            _exit(3);
        for (int i = 0; i < 120000 && !file_has(logf, "commit waiting for"); i++)
            usleep(1000);
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        sqlite3_close(db);
        _exit(0);
    }
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    close(ready[0]);
    close(ready[1]);

    fflush(stderr);
    int saved = dup(2);
    int fd = open(logf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    assert_int_equal(dup2(fd, 2), 2);
    close(fd);
    const char *b[] = {"s_b"};
    t = target(f, "t", "append", b, 1);
    int rc = mr_wh_commit(&f->cfg, &t, 1, NULL, 0, &err);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    if (rc)
        fail_msg("%s", err.msg);
    assert_int_equal(q_int(f->path, "SELECT count(*) FROM t"), 5);
    char want[300];
    snprintf(want, sizeof want,
             "commit waiting for the exclusive lock (readers of the file must finish first) of "
             "%s for ",
             f->path);
    if (!file_has(logf, want) || !file_has(logf, "s so far"))
        fail_msg("the log does not say what the commit waits for: want '%s'", want);
}

static void test_type_roundtrip(void **state)
{
    fx *f = *state;
    mr_schema *s = mr_schema_create(8);
    mr_schema_set(s, 0, "b", mr_type_make(MR_T_BOOL));
    mr_schema_set(s, 1, "i32", mr_type_make(MR_T_INT32));
    mr_schema_set(s, 2, "i64", mr_type_make(MR_T_INT64));
    mr_schema_set(s, 3, "f", mr_type_make(MR_T_FLOAT64));
    mr_schema_set(s, 4, "d", mr_type_decimal(15, 4));
    mr_schema_set(s, 5, "s", mr_type_make(MR_T_STRING));
    mr_schema_set(s, 6, "dt", mr_type_make(MR_T_DATE));
    mr_schema_set(s, 7, "ts", mr_type_make(MR_T_TIMESTAMP));
    enum { N = 7 };
    static const int64_t dec[N] = {1250, -1250, -500, 0, INT64_C(999999999999999), -1, 20000};
    static const int32_t days[N] = {0, -1, 19753, 11016, -719528, 2932896, 1};
    static const int64_t ts[N] = {0, -1, INT64_C(1706704496000123), INT64_C(1706704496500000),
                                  INT64_C(-62135596800000000), 1, INT64_C(86399999999)};
    static const char *strs[N] = {"plain", "", "naïve café ☕ 日本", NULL, "quote ' \" ;", "x", "tab\there"};
    mr_batch *bt = mr_batch_create(s, N);
    for (size_t r = 0; r < N; r++) {
        int null = r == 3; /* row 3 is NULL everywhere */
        MR_COL_U8(&bt->cols[0])[r] = r & 1;
        MR_COL_I32(&bt->cols[1])[r] = r == 0 ? INT32_MIN : (int32_t)r * -7;
        MR_COL_I64(&bt->cols[2])[r] = r == 0 ? INT64_MAX : r == 1 ? INT64_MIN : (int64_t)r;
        MR_COL_F64(&bt->cols[3])[r] = r == 0 ? 0.1 : r == 1 ? -1e300 : 1.0 / 3.0;
        MR_COL_I64(&bt->cols[4])[r] = dec[r];
        MR_COL_I32(&bt->cols[6])[r] = days[r];
        MR_COL_I64(&bt->cols[7])[r] = ts[r];
        for (int c = 0; c < 8; c++)
            if (c != 5)
                mr_column_set_valid(&bt->cols[c], r, !null);
        if (strs[r])
            assert_int_equal(mr_column_set_str(&bt->cols[5], r, strs[r], strlen(strs[r])), 0);
        else
            mr_column_set_str_null(&bt->cols[5], r);
    }
    bt->nrows = N;
    mr_err err;
    mr_wh_stage *st = NULL;
    assert_int_equal(mr_wh_stage_open(&f->cfg, "s_types", s, &st, &err), 0);
    assert_int_equal(mr_wh_stage_append(st, bt, &err), 0);
    assert_int_equal(mr_wh_stage_finish(st, &err), 0);
    const char *stg[] = {"s_types"};
    mr_wh_target t = {.table = "types", .schema = s, .staging_tables = stg, .nstaging = 1};
    int rc = mr_wh_commit(&f->cfg, &t, 1, NULL, 0, &err);
    if (rc)
        fail_msg("%s", err.msg);
    assert_int_equal(t.rows, N);

    assert_dump(f->path,
                "SELECT b, i32, i64, typeof(d), dt, ts, s, typeof(s), length(s) FROM types ORDER BY rowid",
                "0|-2147483648|9223372036854775807|real|1970-01-01|1970-01-01 00:00:00|plain|text|5\n"
                "1|-7|-9223372036854775808|real|1969-12-31|1969-12-31 23:59:59.999999||text|0\n"
                "0|-14|2|real|2024-01-31|2024-01-31 12:34:56.000123|naïve café ☕ 日本|text|15\n"
                "<null>|<null>|<null>|null|<null>|<null>|<null>|null|<null>\n"
                "0|-28|4|real|0000-01-01|0001-01-01 00:00:00|quote ' \" ;|text|11\n"
                "1|-35|5|real|9999-12-31|1970-01-01 00:00:00.000001|x|text|1\n"
                "0|-42|6|integer|1970-01-02|1970-01-01 23:59:59.999999|tab\there|text|8\n");
    /* floats and decimals: exact doubles, and the decimal comes back exactly */
    sqlite3 *db = open_file(f->path);
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT f, d FROM types ORDER BY rowid", -1, &q, NULL), SQLITE_OK);
    for (int r = 0; r < N; r++) {
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        if (r == 3) {
            assert_int_equal(sqlite3_column_type(q, 0), SQLITE_NULL);
            assert_int_equal(sqlite3_column_type(q, 1), SQLITE_NULL);
            continue;
        }
        double fv = sqlite3_column_double(q, 0);
        double want = MR_COL_F64(&bt->cols[3])[r];
        assert_memory_equal(&fv, &want, sizeof fv);
        double dv = sqlite3_column_double(q, 1);
        assert_true(dv == (double)dec[r] / 1e4);
        assert_int_equal(llround(dv * 1e4), dec[r]);
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    /* decimals compare and sort as numbers, dates and timestamps as time */
    assert_int_equal(q_int(f->path, "SELECT count(*) FROM types WHERE d > 0.5"), 2);
    assert_int_equal(q_int(f->path, "SELECT count(*) FROM types WHERE dt < '1970-01-01'"), 2);
    assert_dump(f->path, "SELECT d FROM types WHERE d IS NOT NULL ORDER BY d",
                "-0.125\n-0.05\n-0.0001\n0.125\n2\n99999999999.9999\n");
    assert_int_equal(q_int(f->path, "SELECT count(*) FROM types WHERE ts > '2024-01-31 12:34:56'"), 1);
    mr_batch_destroy(bt);
    mr_schema_destroy(s);
}

static void test_selection_vector(void **state)
{
    fx *f = *state;
    mr_batch *b = rows_batch(f->schema, 1, 10);
    uint32_t keep[] = {1, 4, 9};
    memcpy(b->sel_buf, keep, sizeof keep);
    b->sel = b->sel_buf;
    b->nsel = 3;
    mr_err err;
    mr_wh_stage *s = NULL;
    assert_int_equal(mr_wh_stage_open(&f->cfg, "s_sel", f->schema, &s, &err), 0);
    assert_int_equal(mr_wh_stage_append(s, b, &err), 0);
    b->nsel = 0; /* nothing selected: nothing written */
    assert_int_equal(mr_wh_stage_append(s, b, &err), 0);
    assert_int_equal(mr_wh_stage_finish(s, &err), 0);
    assert_dump(staging_file(f), "SELECT id, name, price FROM s_sel", "2|n2|2.02\n5|n5|5.05\n10|n10|10.1\n");
    mr_batch_destroy(b);
}

/* Empty strings in a column whose chars buffer was never allocated must be
 * stored as '' (a NULL pointer would bind SQL NULL). */
static void test_empty_strings_without_chars(void **state)
{
    fx *f = *state;
    mr_batch *b = mr_batch_create(f->schema, 4);
    for (size_t r = 0; r < 2; r++) {
        MR_COL_I64(&b->cols[0])[r] = (int64_t)r;
        mr_column_set_valid(&b->cols[0], r, true);
        b->cols[1].offsets[r + 1] = 0;
        mr_column_set_valid(&b->cols[1], r, r == 0);
        mr_column_set_valid(&b->cols[2], r, false);
    }
    b->nrows = 2;
    assert_null(b->cols[1].chars);
    mr_err err;
    mr_wh_stage *s = NULL;
    assert_int_equal(mr_wh_stage_open(&f->cfg, "s_e", f->schema, &s, &err), 0);
    assert_int_equal(mr_wh_stage_append(s, b, &err), 0);
    assert_int_equal(mr_wh_stage_finish(s, &err), 0);
    assert_dump(staging_file(f), "SELECT id, typeof(name), quote(name), typeof(price) FROM s_e ORDER BY id",
                "0|text|''|null\n1|null|NULL|null\n");
    mr_batch_destroy(b);
}

static void test_post_sql(void **state)
{
    fx *f = *state;
    stage_rows(f, "s_a", 1, 4);
    const char *a[] = {"s_a"};
    mr_wh_target t = target(f, "sales", NULL, a, 1);
    const char *post[] = {"CREATE VIEW top AS SELECT id FROM sales WHERE price > 3",
                          "CREATE TABLE summary AS SELECT count(*) AS n FROM sales"};
    mr_err err;
    assert_int_equal(mr_wh_commit(&f->cfg, &t, 1, post, 2, &err), 0);
    assert_dump(f->path, "SELECT id FROM top ORDER BY id", "3\n4\n");
    assert_dump(f->path, "SELECT n FROM summary", "4\n");
}

static void test_post_sql_failure_rolls_back(void **state)
{
    fx *f = *state;
    stage_rows(f, "s_a", 1, 4);
    const char *a[] = {"s_a"};
    mr_wh_target t = target(f, "sales", NULL, a, 1);
    mr_err err;
    assert_int_equal(mr_wh_commit(&f->cfg, &t, 1, NULL, 0, &err), 0);
    const char *all = "SELECT * FROM sales ORDER BY id";
    char *before = dump(f->path, all);

    stage_rows(f, "s_b", 100, 5);
    stage_rows(f, "s_c", 200, 5);
    const char *b[] = {"s_b"}, *c[] = {"s_c"};
    mr_wh_target two[2] = {target(f, "sales", "overwrite", b, 1), target(f, "other", NULL, c, 1)};
    const char *post[] = {"CREATE VIEW v AS SELECT 1", "UPDATE sales SET id = 0",
                          "SELECT * FROM no_such_table"};
    assert_int_equal(mr_wh_commit(&f->cfg, two, 2, post, 3, &err), MR_EWAREHOUSE);
    assert_non_null(strstr(err.msg, "post_sql statement 3"));
    assert_non_null(strstr(err.msg, "no_such_table"));
    assert_int_equal(two[0].rows, 0);
    assert_int_equal(two[1].rows, 0);
    assert_dump(f->path, all, before);
    assert_int_equal(q_int(f->path, "SELECT count(*) FROM sqlite_master WHERE name IN ('v', 'other')"), 0);
    assert_int_equal(staging_tables(f), 0);

    /* transaction control in post_sql is refused, nothing changes */
    stage_rows(f, "s_d", 300, 2);
    const char *d[] = {"s_d"};
    t = target(f, "sales", "overwrite", d, 1);
    const char *post2[] = {"COMMIT"};
    assert_int_equal(mr_wh_commit(&f->cfg, &t, 1, post2, 1, &err), MR_EWAREHOUSE);
    assert_non_null(strstr(err.msg, "post_sql statement 1"));
    assert_dump(f->path, all, before);
    free(before);
}

static void test_mismatching_table(void **state)
{
    fx *f = *state;
    exec_file(f->path, "CREATE TABLE sales (id BIGINT, title TEXT, price NUMERIC); "
                       "INSERT INTO sales VALUES (1, 'a', 2); "
                       "CREATE TABLE narrow (id BIGINT); INSERT INTO narrow VALUES (7)");
    char *before = dump(f->path, "SELECT * FROM sales");
    stage_rows(f, "s_a", 1, 3);
    stage_rows(f, "s_b", 1, 3);
    const char *a[] = {"s_a"}, *b[] = {"s_b"};
    /* first target fine (created), second mismatching: both unchanged */
    mr_wh_target t[2] = {target(f, "fresh", NULL, a, 1), target(f, "sales", "overwrite", b, 1)};
    mr_err err;
    assert_int_equal(mr_wh_commit(&f->cfg, t, 2, NULL, 0, &err), MR_EWAREHOUSE);
    assert_non_null(strstr(err.msg, "sales"));
    assert_non_null(strstr(err.msg, "\"name\""));
    assert_dump(f->path, "SELECT * FROM sales", before);
    assert_int_equal(q_int(f->path, "SELECT count(*) FROM sqlite_master WHERE name = 'fresh'"), 0);
    /* wrong column count */
    stage_rows(f, "s_c", 1, 3);
    const char *c[] = {"s_c"};
    mr_wh_target n = target(f, "narrow", NULL, c, 1);
    assert_int_equal(mr_wh_commit(&f->cfg, &n, 1, NULL, 0, &err), MR_EWAREHOUSE);
    assert_non_null(strstr(err.msg, "has 1 column (id)"));
    assert_int_equal(q_int(f->path, "SELECT count(*) FROM narrow"), 1);
    /* same columns in another order and case: accepted, matched by name */
    exec_file(f->path, "CREATE TABLE reordered (PRICE NUMERIC(10,2), Id BIGINT, name TEXT)");
    stage_rows(f, "s_d", 5, 1);
    const char *d[] = {"s_d"};
    mr_wh_target r = target(f, "reordered", NULL, d, 1);
    assert_int_equal(mr_wh_commit(&f->cfg, &r, 1, NULL, 0, &err), 0);
    assert_dump(f->path, "SELECT * FROM reordered", "5.05|5|n5\n");
    free(before);
}

static void test_missing_staging_table(void **state)
{
    fx *f = *state;
    stage_rows(f, "s_a", 1, 3);
    const char *st[] = {"s_a", "s_gone"};
    mr_wh_target t = target(f, "sales", NULL, st, 2);
    mr_err err;
    assert_int_equal(mr_wh_commit(&f->cfg, &t, 1, NULL, 0, &err), MR_EWAREHOUSE);
    assert_non_null(strstr(err.msg, "s_gone"));
    assert_int_equal(q_int(f->path, "SELECT count(*) FROM sqlite_master WHERE name = 'sales'"), 0);
    assert_int_equal(staging_tables(f), 0);
}

static void test_injection_names(void **state)
{
    fx *f = *state;
    exec_file(f->path, "CREATE TABLE y (a); INSERT INTO y VALUES (1)");
    const char *evil = "x\"; DROP TABLE y; --";
    const char *evil_stage = "s_\"; DROP TABLE y; --";
    stage_rows(f, evil_stage, 1, 2);
    const char *st[] = {evil_stage};
    mr_wh_target t = target(f, evil, "overwrite", st, 1);
    mr_err err;
    int rc = mr_wh_commit(&f->cfg, &t, 1, NULL, 0, &err);
    if (rc)
        fail_msg("%s", err.msg);
    assert_int_equal(q_int(f->path, "SELECT count(*) FROM y"), 1);
    assert_int_equal(q_int(f->path, "SELECT count(*) FROM \"x\"\"; DROP TABLE y; --\""), 2);
    /* schema.table: the schema part is dropped for SQLite */
    stage_rows(f, "s_q", 1, 2);
    const char *q[] = {"s_q"};
    t = target(f, "analytics.daily", NULL, q, 1);
    assert_int_equal(mr_wh_commit(&f->cfg, &t, 1, NULL, 0, &err), 0);
    assert_int_equal(q_int(f->path, "SELECT count(*) FROM daily"), 2);
}

static void test_drop_staging_prefix(void **state)
{
    fx *f = *state;
    mr_err err;
    /* no staging area yet: nothing to do */
    assert_int_equal(mr_wh_drop_staging(&f->cfg, "s_", &err), 0);
    stage_rows(f, "s_job1_0", 1, 2);
    stage_rows(f, "s_job1_1", 1, 2);
    stage_rows(f, "s_job10_0", 1, 2);
    stage_rows(f, "sXjob1Y0", 1, 2); /* would match a LIKE 's_job1_%' */
    stage_rows(f, "s_job2_0", 1, 2);
    assert_int_equal(mr_wh_drop_staging(&f->cfg, "s_job1_", &err), 0);
    assert_dump(staging_file(f), "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
                "sXjob1Y0\ns_job10_0\ns_job2_0\n");
    assert_int_equal(mr_wh_drop_staging(&f->cfg, "s_", &err), 0);
    assert_dump(staging_file(f), "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
                "sXjob1Y0\n");
    assert_int_equal(mr_wh_drop_staging(&f->cfg, "", &err), 0);
    assert_int_equal(staging_tables(f), 0);
}

static void test_abort_and_reopen(void **state)
{
    fx *f = *state;
    mr_err err;
    mr_wh_stage *s = NULL;
    mr_batch *b = rows_batch(f->schema, 1, 5);
    assert_int_equal(mr_wh_stage_open(&f->cfg, "s_x", f->schema, &s, &err), 0);
    assert_int_equal(mr_wh_stage_append(s, b, &err), 0);
    mr_wh_stage_abort(s);
    mr_wh_stage_abort(NULL);
    assert_int_equal(staging_tables(f), 0);
    /* a leftover of the same name is replaced, not appended to */
    stage_rows(f, "s_x", 1, 5);
    stage_rows(f, "s_x", 100, 2);
    assert_int_equal(q_int(staging_file(f), "SELECT count(*) FROM s_x"), 2);
    /* a batch of other types is refused */
    mr_type wrong[3] = {mr_type_make(MR_T_INT32), mr_type_make(MR_T_STRING), mr_type_decimal(10, 2)};
    mr_batch *w = mr_batch_create_types(wrong, 3, 4);
    assert_int_equal(mr_wh_stage_open(&f->cfg, "s_y", f->schema, &s, &err), 0);
    assert_int_equal(mr_wh_stage_append(s, w, &err), MR_ETYPE);
    assert_non_null(strstr(err.msg, "column 1"));
    mr_wh_stage_abort(s);
    mr_batch_destroy(w);
    mr_batch_destroy(b);
}

static void test_bad_arguments(void **state)
{
    fx *f = *state;
    mr_err err;
    mr_wh_stage *s = NULL;
    /* an unreachable PostgreSQL is a warehouse error that keeps the password out */
    mr_wh_config pg = {.driver = "postgres",
                       .dsn = "host=127.0.0.1 port=1 password=hunter2 connect_timeout=2"};
    assert_int_equal(mr_wh_stage_open(&pg, "s_a", f->schema, &s, &err), MR_EWAREHOUSE);
    assert_null(strstr(err.msg, "hunter2"));
    mr_wh_config my = {.driver = "mysql", .path = f->path};
    assert_int_equal(mr_wh_stage_open(&my, "s_a", f->schema, &s, &err), MR_EINVAL);
    assert_non_null(strstr(err.msg, "mysql"));
    mr_wh_config nopath = {.driver = NULL};
    assert_int_equal(mr_wh_drop_staging(&nopath, "s_", &err), MR_EINVAL);
    assert_int_equal(mr_wh_stage_open(&f->cfg, "", f->schema, &s, &err), MR_EINVAL);
    assert_null(s);

    stage_rows(f, "s_a", 1, 2);
    const char *a[] = {"s_a"};
    mr_wh_target t = target(f, "t", "merge", a, 1);
    assert_int_equal(mr_wh_commit(&f->cfg, &t, 1, NULL, 0, &err), MR_EINVAL);
    assert_non_null(strstr(err.msg, "merge"));
    assert_int_equal(staging_tables(f), 0); /* dropped even so */
    stage_rows(f, "s_a", 1, 2);
    t = target(f, "t", "upsert", a, 1);
    assert_int_equal(mr_wh_commit(&f->cfg, &t, 1, NULL, 0, &err), MR_EINVAL);
    const char *badkey[] = {"nope"};
    stage_rows(f, "s_a", 1, 2);
    t.key = badkey;
    t.nkey = 1;
    assert_int_equal(mr_wh_commit(&f->cfg, &t, 1, NULL, 0, &err), MR_EINVAL);
    assert_non_null(strstr(err.msg, "nope"));
    assert_int_equal(access(f->path, F_OK) == 0 ? q_int(f->path, "SELECT count(*) FROM sqlite_master") : 0, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_two_tasks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overwrite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upsert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upsert_duplicate_and_null_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upsert_merge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_logs_its_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_type_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_selection_vector, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_strings_without_chars, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_sql, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_sql_failure_rolls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mismatching_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_staging_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_injection_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_staging_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
