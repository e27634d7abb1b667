/* test_wh_files.c - the files driver (warehouse/files.c): a file output
 * staged by task attempts and published through the warehouse interface.
 *
 * Begin refuses an existing output without overwrite and makes the staging
 * folder; two tasks stage part files, one of them twice (a superseded
 * attempt); prepare names the chosen attempts part-00000 / part-00001,
 * drops the superseded file and writes _SUCCESS; publish replaces the old
 * output whole; the file contents are compared byte for byte.  Also: a
 * failed job's drop removes the staging folder and leaves the output as it
 * was, a missing part fails prepare, steps the driver cannot do are
 * MR_ENOTSUP, and a configuration without a job is refused.
 */
#include <dirent.h>
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

#include "warehouse/warehouse.h"
#include "testutil.h"

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mr_whf_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)len + 1);
    assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
    buf[len] = '\0';
    fclose(f);
    return buf;
}

/* The sorted entries of folder dir, joined by spaces. */
static void listing(const char *dir, char *out, size_t cap)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    assert_true(n >= 0);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.') {
            if (out[0])
                strncat(out, " ", cap - strlen(out) - 1);
            strncat(out, names[i]->d_name, cap - strlen(out) - 1);
        }
        free(names[i]);
    }
    free(names);
}

static mr_schema *schema2(void)
{
    const char *names[] = {"id", "name"};
    mr_type types[] = {mr_type_make(MR_T_INT64), mr_type_make(MR_T_STRING)};
    return tu_schema(2, names, types);
}

/* Stages rows "k|v" (one per line of rows) as staging name staging. */
static void stage(const mr_wh_config *cfg, const char *staging, const char *const *rows, int n)
{
    mr_schema *s = schema2();
    mr_batch *b = mr_batch_create(s, 0);
    for (int i = 0; i < n; i++)
        tu_add_row(b, rows[i]);
    mr_wh_stage *st = NULL;
    mr_err err;
    if (mr_wh_stage_open(cfg, staging, s, &st, &err) < 0)
        fail_msg("stage open: %s", err.msg);
    assert_int_equal(mr_wh_stage_append(st, b, &err), 0);
    assert_int_equal(mr_wh_stage_finish(st, &err), 0);
    mr_batch_destroy(b);
    mr_schema_destroy(s);
}

static void test_stage_prepare_publish(void **state)
{
    (void)state;
    char out[128], tmp[160], old[200], list[512];
    snprintf(out, sizeof out, "%s/deep/out", tmpdir);
    mr_wh_config cfg = {.driver = "csv", .path = out, .job_id = "j1"};
    mr_wh_target t = {.table = out, .mode = NULL};
    mr_err err;

    /* begin makes the folders and an empty staging folder */
    assert_int_equal(mr_wh_begin(&cfg, &t, &err), 0);
    snprintf(tmp, sizeof tmp, "%s.millrace-tmp-j1", out);
    listing(tmp, list, sizeof list);
    assert_string_equal(list, "");

    const char *r0[] = {"1|a", "2|NULL"};
    const char *r1[] = {"3|x,y"};
    const char *r1b[] = {"4|superseded"};
    stage(&cfg, "s_j1_2_0_0", r0, 2);
    stage(&cfg, "s_j1_2_1_0", r1b, 1); /* attempt 0 of task 1, superseded */
    stage(&cfg, "s_j1_2_1_1", r1, 1);
    listing(tmp, list, sizeof list);
    assert_string_equal(list, "s_j1_2_0_0.csv s_j1_2_1_0.csv s_j1_2_1_1.csv");

    /* an older output that overwrite replaces whole */
    assert_int_equal(mkdir(out, 0755), 0);
    snprintf(old, sizeof old, "%s/stale.csv", out);
    fclose(fopen(old, "w"));
    assert_int_equal(mr_wh_begin(&cfg, &t, &err), MR_EINVAL);
    assert_non_null(strstr(err.msg, "already exists"));
    t.mode = "overwrite";

    const char *chosen[] = {"s_j1_2_0_0", "s_j1_2_1_1"};
    t.staging_tables = chosen;
    t.nstaging = 2;
    assert_int_equal(mr_wh_prepare(&cfg, &t, 1, &err), 0);
    listing(tmp, list, sizeof list);
    assert_string_equal(list, "_SUCCESS part-00000.csv part-00001.csv");
    listing(out, list, sizeof list);
    assert_string_equal(list, "stale.csv"); /* nothing visible yet */

    assert_int_equal(mr_wh_publish(&cfg, &t, 1, &err), 0);
    listing(out, list, sizeof list);
    assert_string_equal(list, "_SUCCESS part-00000.csv part-00001.csv");
    struct stat sb;
    assert_int_not_equal(stat(tmp, &sb), 0);
    snprintf(old, sizeof old, "%s.millrace-old-j1", out);
    assert_int_not_equal(stat(old, &sb), 0);

    char p[256];
    snprintf(p, sizeof p, "%s/part-00000.csv", out);
    char *text = slurp(p);
    assert_string_equal(text, "id,name\n1,a\n2,\n");
    free(text);
    snprintf(p, sizeof p, "%s/part-00001.csv", out);
    text = slurp(p);
    assert_string_equal(text, "id,name\n3,\"x,y\"\n");
    free(text);
}

static void test_failed_job_and_errors(void **state)
{
    (void)state;
    char out[128], tmp[160], list[512];
    snprintf(out, sizeof out, "%s/out.jsonl", tmpdir);
    mr_wh_config cfg = {.driver = "jsonl", .path = out, .job_id = "j2"};
    mr_wh_target t = {.table = out};
    mr_err err;
    assert_int_equal(mr_wh_begin(&cfg, &t, &err), 0);
    const char *r[] = {"7|q"};
    stage(&cfg, "s_j2_0_0_0", r, 1);
    snprintf(tmp, sizeof tmp, "%s.millrace-tmp-j2", out);
    char p[256];
    snprintf(p, sizeof p, "%s/s_j2_0_0_0.jsonl", tmp);
    char *text = slurp(p);
    assert_string_equal(text, "{\"id\":7,\"name\":\"q\"}\n");
    free(text);

    /* a chosen attempt that staged nothing */
    const char *chosen[] = {"s_j2_0_0_1"};
    t.staging_tables = chosen;
    t.nstaging = 1;
    assert_int_equal(mr_wh_prepare(&cfg, &t, 1, &err), MR_EIO);
    assert_non_null(strstr(err.msg, "part 0"));

    /* the job fails: its staging goes, the output never appeared */
    assert_int_equal(mr_wh_drop_staging(&cfg, NULL, &err), 0);
    struct stat sb;
    assert_int_not_equal(stat(tmp, &sb), 0);
    assert_int_not_equal(stat(out, &sb), 0);
    listing(tmpdir, list, sizeof list);
    assert_null(strstr(list, "out.jsonl"));
    assert_int_equal(mr_wh_drop_staging(&cfg, NULL, &err), 0); /* twice is fine */

    /* what the driver cannot do, and a configuration without a job */
    assert_int_equal(mr_wh_commit(&cfg, NULL, 0, NULL, 0, &err), MR_ENOTSUP);
    mr_wh_owner me = {"h", "i"};
    assert_int_equal(mr_wh_lease_take(&cfg, "j2", &me, &err), MR_ENOTSUP);
    mr_wh_config nojob = {.driver = "csv", .path = out};
    assert_int_equal(mr_wh_begin(&nojob, &t, &err), MR_EINVAL);
    char part[16];
    assert_int_equal(mr_wh_files_part_path(&cfg, "s", part, sizeof part), MR_ETOOBIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stage_prepare_publish, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_job_and_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
