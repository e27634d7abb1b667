/* test_staging_sweep.c - staging leases and the sweep on SQLite: which
 * staging a sweep drops (no lease, a dead instance of the same owner, an
 * expired lease) and which it keeps (a live lease of anyone), and that the
 * staging file shrinks afterwards. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "core/types.h"
#include "warehouse/warehouse.h"

typedef struct fx {
    char dir[64];
    char path[128];
    mr_wh_config cfg;
    mr_schema *schema;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/test_sweep-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/wh.db", f->dir);
    f->cfg = (mr_wh_config){"sqlite", f->path, NULL, NULL, NULL, NULL, 0};
    f->schema = mr_schema_create(2);
    mr_schema_set(f->schema, 0, "a", mr_type_make(MR_T_INT64));
    mr_schema_set(f->schema, 1, "s", mr_type_make(MR_T_STRING));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    mr_schema_destroy(f->schema);
    free(f);
    return 0;
}

/* Stages rows rows of wide text for job under a task attempt's name. */
static void stage(fx *f, const char *job, uint32_t task, int rows)
{
    char name[96];
    mr_wh_staging_name(name, sizeof name, 's', job, 1, task, 0);
    mr_err err = {0};
    mr_wh_stage *s = NULL;
    assert_int_equal(mr_wh_stage_open(&f->cfg, name, f->schema, &s, &err), 0);
    mr_batch *b = mr_batch_create(f->schema, 0);
    assert_int_equal(mr_batch_reserve(b, (size_t)rows), 0);
    char text[200];
    memset(text, 'x', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    for (int i = 0; i < rows; i++) {
        MR_COL_I64(&b->cols[0])[i] = i;
        mr_column_set_valid(&b->cols[0], (size_t)i, true);
        assert_int_equal(mr_column_set_str(&b->cols[1], (size_t)i, text, strlen(text)), 0);
        mr_column_set_valid(&b->cols[1], (size_t)i, true);
    }
    b->nrows = (size_t)rows;
    assert_int_equal(mr_wh_stage_append(s, b, &err), 0);
    assert_int_equal(mr_wh_stage_finish(s, &err), 0);
    mr_batch_destroy(b);
}

/* The staging tables left, as "name,name,..." in name order. */
static void tables(fx *f, char *out, size_t cap)
{
    char sp[160];
    snprintf(sp, sizeof sp, "%s.staging", f->path);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(sp, &db), SQLITE_OK);
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table' "
                                            "AND name GLOB '[sr]_*' ORDER BY name",
                                        -1, &q, NULL),
                     SQLITE_OK);
    out[0] = '\0';
    while (sqlite3_step(q) == SQLITE_ROW)
        snprintf(out + strlen(out), cap - strlen(out), "%s%s", out[0] ? "," : "",
                 (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    sqlite3_close(db);
}

static long long file_size(fx *f)
{
    char sp[160];
    snprintf(sp, sizeof sp, "%s.staging", f->path);
    struct stat sb;
    return stat(sp, &sb) == 0 ? (long long)sb.st_size : -1;
}

static void test_sweep_rules(void **state)
{
    fx *f = *state;
    mr_err err = {0};
    mr_wh_owner a1 = {"host a tcp://x:1", "i1"}, a2 = {"host a tcp://x:1", "i2"},
                b1 = {"host b tcp://y:1", "k1"};
    /* jDEAD: a1's job (a1 died, a2 took its place); jLIVE: b1's job;
     * jNONE: staging without a lease; jOLD: b1's lease, not renewed */
    assert_int_equal(mr_wh_lease_take(&f->cfg, "jDEAD", &a1, &err), 0);
    assert_int_equal(mr_wh_lease_take(&f->cfg, "jLIVE", &b1, &err), 0);
    assert_int_equal(mr_wh_lease_take(&f->cfg, "jOLD", &b1, &err), 0);
    stage(f, "jDEAD", 0, 2000);
    stage(f, "jDEAD", 1, 2000);
    stage(f, "jLIVE", 0, 10);
    stage(f, "jNONE", 0, 10);
    stage(f, "jOLD", 0, 10);
    char got[512];
    tables(f, got, sizeof got);
    assert_string_equal(got, "s_jDEAD_1_0_0,s_jDEAD_1_1_0,s_jLIVE_1_0_0,s_jNONE_1_0_0,s_jOLD_1_0_0");
    long long before = file_size(f);

    /* b1 itself sweeps with a long lease: a1's jDEAD is not b1's to judge
     * (a1 may be alive elsewhere), but jNONE has no lease */
    int swept = -1;
    assert_int_equal(mr_wh_sweep(&f->cfg, &b1, 3600000, &swept, &err), 0);
    assert_int_equal(swept, 1);
    tables(f, got, sizeof got);
    assert_string_equal(got, "s_jDEAD_1_0_0,s_jDEAD_1_1_0,s_jLIVE_1_0_0,s_jOLD_1_0_0");

    /* a2 (same owner as a1, another instance) sweeps a1's staging; b1's
     * leases are live */
    assert_int_equal(mr_wh_sweep(&f->cfg, &a2, 3600000, &swept, &err), 0);
    assert_int_equal(swept, 2);
    tables(f, got, sizeof got);
    assert_string_equal(got, "s_jLIVE_1_0_0,s_jOLD_1_0_0");
    assert_true(file_size(f) < before / 2); /* the space went back */

    /* jOLD's lease was last renewed long ago (its heartbeat set back by
     * hand: no test waits for a clock); b1 renews jLIVE */
    char sp0[160];
    snprintf(sp0, sizeof sp0, "%s.staging", f->path);
    sqlite3 *db0;
    assert_int_equal(sqlite3_open(sp0, &db0), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db0, "UPDATE " MR_WH_LEASES_TABLE " SET heartbeat_ms = 0 "
                                       "WHERE job_id = 'jOLD'", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db0);
    const char *live[] = {"jLIVE"};
    assert_int_equal(mr_wh_lease_renew(&f->cfg, live, 1, &b1, &err), 0);
    assert_int_equal(mr_wh_sweep(&f->cfg, &a2, 3600000, &swept, &err), 0);
    assert_int_equal(swept, 1);
    tables(f, got, sizeof got);
    assert_string_equal(got, "s_jLIVE_1_0_0");

    /* the job's own end: staging and lease go; the lease table too once empty */
    assert_int_equal(mr_wh_job_cleanup(&f->cfg, "jLIVE", &err), 0);
    tables(f, got, sizeof got);
    assert_string_equal(got, "");
    char sp[160];
    snprintf(sp, sizeof sp, "%s.staging", f->path);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(sp, &db), SQLITE_OK);
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
}

/* A renewal never brings back a released lease, and sweeping a warehouse
 * without a staging file is a no-op. */
static void test_released_lease_stays_released(void **state)
{
    fx *f = *state;
    mr_err err = {0};
    mr_wh_owner me = {"host a tcp://x:1", "i1"};
    int swept = -1;
    assert_int_equal(mr_wh_sweep(&f->cfg, &me, 1000, &swept, &err), 0);
    assert_int_equal(swept, 0);
    assert_int_equal(mr_wh_lease_take(&f->cfg, "j1", &me, &err), 0);
    assert_int_equal(mr_wh_lease_take(&f->cfg, "j2", &me, &err), 0);
    assert_int_equal(mr_wh_job_cleanup(&f->cfg, "j1", &err), 0);
    const char *ids[] = {"j1", "j2"};
    assert_int_equal(mr_wh_lease_renew(&f->cfg, ids, 2, &me, &err), 0);
    stage(f, "j1", 0, 1); /* a late attempt of the ended job */
    stage(f, "j2", 0, 1);
    assert_int_equal(mr_wh_sweep(&f->cfg, &me, 3600000, &swept, &err), 0);
    assert_int_equal(swept, 1); /* j1's: it has no lease any more */
    char got[128];
    tables(f, got, sizeof got);
    assert_string_equal(got, "s_j2_1_0_0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sweep_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_released_lease_stays_released, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
