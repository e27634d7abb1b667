/* test_wh_bookmarks.c - the table millrace_bookmarks on an SQLite
 * warehouse (warehouse/bookmarks.c): moved only by a commit, refused when
 * the version moved since it was read, rolled back with a failing
 * post_sql, replaced on a full refresh, and edited by reset and set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "warehouse/warehouse.h"

static char g_dir[64], g_db[128];

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/mr_wh_bm_XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    snprintf(g_db, sizeof g_db, "%s/wh.db", g_dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Commits only bookmarks (no data target), with post_sql. */
static int commit(const char *job, const char *seen, const mr_wh_bookmark *rows, int n,
                  const char *const *clear, int nclear, const char *post, mr_err *err)
{
    mr_wh_config cfg = {"sqlite", g_db, NULL, NULL, NULL, NULL, 0};
    mr_wh_bookmarks bm = {"d", job, seen, clear, nclear, rows, n};
    mr_wh_target t = {.table = MR_WH_BOOKMARKS_TABLE, .bookmarks = &bm};
    const char *ps[1] = {post};
    return mr_wh_commit(&cfg, &t, 1, ps, post ? 1 : 0, err);
}

/* The bookmarks of dag "d" as "node/kind/item=value" lines, and version. */
static void dump(char *out, size_t cap, char **version)
{
    mr_wh_config cfg = {"sqlite", g_db, NULL, NULL, NULL, NULL, 0};
    mr_wh_bookmark *rows;
    int n;
    mr_err err = {0};
    assert_int_equal(mr_wh_bookmarks_load(&cfg, "d", &rows, &n, version, &err), 0);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        size_t len = strlen(out);
        snprintf(out + len, cap - len, "%s/%s/%s=%s;", rows[i].node, rows[i].kind, rows[i].item,
                 strcmp(rows[i].kind, "file") == 0 ? "" : rows[i].value);
    }
    mr_wh_bookmarks_free(rows, n);
}

static void test_moves(void **state)
{
    (void)state;
    char got[1024], *ver;
    mr_err err = {0};
    dump(got, sizeof got, &ver); /* no file yet: none */
    assert_string_equal(got, "");
    assert_string_equal(ver, "");
    free(ver);
    mr_wh_bookmark r1[] = {{.node = "a", .kind = "file", .item = "/x/1.csv", .size = 10, .mtime_ns = 5},
                           {.node = "b", .kind = "column", .item = "ts", .value = "7"}};
    assert_int_equal(commit("j1", "", r1, 2, NULL, 0, NULL, &err), 0);
    dump(got, sizeof got, &ver);
    assert_string_equal(got, "a/file//x/1.csv=;b/column/ts=7;");
    assert_string_equal(ver, "j1");
    free(ver);

    /* a run that read them before j1 committed: refused, nothing moves */
    mr_wh_bookmark r2[] = {{.node = "b", .kind = "column", .item = "ts", .value = "9"}};
    assert_int_equal(commit("j2", "", r2, 1, NULL, 0, NULL, &err), MR_EWAREHOUSE);
    assert_non_null(strstr(err.msg, "moved since this run read them (by j1)"));
    /* post_sql fails: the bookmarks roll back with it */
    assert_int_equal(commit("j3", "j1", r2, 1, NULL, 0, "SELECT * FROM nowhere", &err),
                     MR_EWAREHOUSE);
    dump(got, sizeof got, &ver);
    assert_string_equal(got, "a/file//x/1.csv=;b/column/ts=7;");
    assert_string_equal(ver, "j1");
    free(ver);

    /* the next run: the watermark replaced, another file added */
    mr_wh_bookmark r3[] = {{.node = "a", .kind = "file", .item = "/x/2.csv", .size = 3, .mtime_ns = 1},
                           {.node = "b", .kind = "column", .item = "ts", .value = "9"}};
    assert_int_equal(commit("j4", "j1", r3, 2, NULL, 0, "SELECT 1", &err), 0);
    dump(got, sizeof got, &ver);
    assert_string_equal(got, "a/file//x/1.csv=;a/file//x/2.csv=;b/column/ts=9;");
    free(ver);

    /* a full refresh clears its nodes first */
    const char *clear[] = {"a", "b"};
    assert_int_equal(commit("j5", "j4", r3, 1, clear, 2, NULL, &err), 0);
    dump(got, sizeof got, &ver);
    assert_string_equal(got, "a/file//x/2.csv=;");
    assert_string_equal(ver, "j5");
    free(ver);
}

static void test_edit(void **state)
{
    (void)state;
    mr_wh_config cfg = {"sqlite", g_db, NULL, NULL, NULL, NULL, 0};
    char got[1024], *ver;
    mr_err err = {0};
    assert_int_equal(mr_wh_bookmarks_edit(&cfg, "d", "b", "ts", "100", &err), 0);
    dump(got, sizeof got, &ver);
    assert_string_equal(got, "a/file//x/2.csv=;b/column/ts=100;");
    assert_int_equal(strncmp(ver, "edit ", 5), 0);
    /* a run that read them before the edit cannot commit */
    assert_int_equal(commit("j6", "j5", NULL, 0, NULL, 0, NULL, &err), MR_EWAREHOUSE);
    free(ver);
    assert_int_equal(mr_wh_bookmarks_edit(&cfg, "d", "a", NULL, NULL, &err), 0);
    dump(got, sizeof got, &ver);
    assert_string_equal(got, "b/column/ts=100;");
    free(ver);
    assert_int_equal(mr_wh_bookmarks_edit(&cfg, "d", NULL, NULL, NULL, &err), 0);
    dump(got, sizeof got, &ver);
    assert_string_equal(got, "");
    free(ver);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_moves),
        cmocka_unit_test(test_edit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
