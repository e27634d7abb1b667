/* test_dag_golden.c - runs the DAG golden corpus in tests/dag/.
 *
 * valid/NAME.yaml must compile; mr_plan_explain of its plan must equal
 * valid/NAME.explain byte for byte, and the plan must hold the structural
 * invariants the executor relies on (stage order, first operator, shuffle
 * wiring).  invalid/NAME.yaml must fail with MR_EINVAL, and its diagnostics
 * printed as "file:line:column: error: message" must equal invalid/NAME.err.
 * Files are named "valid/NAME.yaml" / "invalid/NAME.yaml" in messages.
 * An invalid file whose first line is "# golden: check_inputs" is compiled
 * as `millrace validate` does: inputs must exist, relative to the file's
 * folder, which messages then show as "<dir>".
 *
 * Set MR_GOLDEN_UPDATE=1 to (re)write the expected files instead of
 * comparing; review the diff before committing.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dag/dag.h"

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return buf;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const char *test_env(const char *name)
{
    if (strcmp(name, "MR_TEST_DSN") == 0)
        return "host=db user=etl password=secret";
    if (strcmp(name, "MR_TEST_DATA") == 0)
        return "/data/in";
    return NULL;
}

/* The corpus reads its own MR_TEST_* names: allow every name. */
static const char *const any_env[] = {"*"};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the *.yaml files in dir; returns the count. */
static size_t list_yaml(const char *dir, char ***out)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l > 5 && strcmp(e->d_name + l - 5, ".yaml") == 0) {
            names = realloc(names, (n + 1) * sizeof *names);
            names[n++] = strndup(e->d_name, l - 5);
        }
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    *out = names;
    return n;
}

/* The invariants executor/task.c and the coordinator rely on. */
static void check_plan_shape(const Millrace__JobPlan *plan, const char *name)
{
    assert_true(plan->n_stages > 0);
    for (size_t s = 0; s < plan->n_stages; s++) {
        const Millrace__Stage *st = plan->stages[s];
        assert_int_equal(st->id, s);
        assert_true(st->n_ops > 0);
        size_t scans = 0, reads = 0;
        for (size_t i = 0; i < st->n_ops; i++) {
            const Millrace__OpSpec *op = st->ops[i];
            assert_non_null(op->output);
            assert_true(op->node[0] != '\0');
            /* typed: its kind's parameters, and a complete output schema */
            if (!mr_plan_op_ok(op))
                fail_msg("%s: stage %zu op %zu lacks its kind's parameters", name, s, i);
            if (!op->output || op->output->n_fields == 0)
                fail_msg("%s: stage %zu op %zu has no output schema", name, s, i);
            for (size_t k = 0; k < op->n_children; k++)
                if (op->children[k] >= i)
                    fail_msg("%s: stage %zu op %zu reads a later op", name, s, i);
            if (op->kind == MILLRACE__OP_KIND__OP_SCAN) {
                scans++;
                assert_non_null(op->read);
            } else if (op->kind == MILLRACE__OP_KIND__OP_SHUFFLE_READ) {
                reads++;
                assert_true(op->shuffle_read->input_stage < st->id); /* inputs come first */
                int listed = 0;
                for (size_t k = 0; k < st->n_inputs; k++)
                    listed |= st->inputs[k] == op->shuffle_read->input_stage;
                if (!listed)
                    fail_msg("%s: stage %zu reads stage %u without listing it", name, s,
                             op->shuffle_read->input_stage);
                const Millrace__Stage *prod = plan->stages[op->shuffle_read->input_stage];
                assert_non_null(prod->shuffle);
                assert_int_equal(prod->shuffle->partitions, st->partitions);
            } else if (op->n_children == 0) {
                assert_true(i > 0);
            }
            if (op->kind == MILLRACE__OP_KIND__OP_HASHJOIN)
                assert_int_equal(op->n_children, 2);
            if (op->kind == MILLRACE__OP_KIND__OP_UNION)
                assert_true(op->n_children >= 2);
        }
        if (scans && reads)
            fail_msg("%s: stage %zu mixes reads and shuffle reads", name, s);
        assert_true(scans + reads > 0);
        assert_int_equal(st->n_inputs > 0, reads > 0);
        if (reads)
            assert_true(st->partitions > 0);
        /* A stage ends in exactly one of: a shuffle or a write, or it is a
         * check node's side stage: no sink, an OP_CHECK at its root. */
        int side = !st->shuffle && !st->write &&
                   st->ops[st->n_ops - 1]->kind == MILLRACE__OP_KIND__OP_CHECK;
        if (!((st->shuffle != NULL) ^ (st->write != NULL)) && !side)
            fail_msg("%s: stage %zu must end in a shuffle or a write", name, s);
        if (st->shuffle && st->shuffle->round_robin)
            assert_int_equal(st->shuffle->n_keys, 0);
        /* Every shuffle is read by some later stage. */
        int read_by = 0;
        for (size_t t = s + 1; st->shuffle && t < plan->n_stages; t++)
            for (size_t k = 0; k < plan->stages[t]->n_inputs; k++)
                read_by |= plan->stages[t]->inputs[k] == st->id;
        if (st->shuffle && !read_by)
            fail_msg("%s: stage %zu's shuffle is read by no stage", name, s);
    }
}

static void test_valid(void **state)
{
    (void)state;
    const char *update = getenv("MR_GOLDEN_UPDATE");
    char dir[1024], path[1200];
    snprintf(dir, sizeof dir, "%s/tests/dag/valid", MR_SOURCE_DIR);
    char **names;
    size_t n = list_yaml(dir, &names);
    assert_true(n >= 5);
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s.yaml", dir, names[i]);
        size_t len;
        char *yaml = read_file(path, &len);
        assert_non_null(yaml);
        char shown[300];
        snprintf(shown, sizeof shown, "valid/%s.yaml", names[i]);
        mr_dag_options opt = {.file = shown, .getenv = test_env, .allow_env = any_env,
                              .nallow_env = 1};
        Millrace__JobPlan *plan = NULL;
        mr_diags diags = {0};
        int rc = mr_dag_compile(yaml, len, &opt, &plan, &diags);
        if (rc != 0) {
            mr_diags_print(&diags, stderr);
            fail_msg("%s: expected to compile, got %d", shown, rc);
        }
        assert_int_equal(diags.n, 0);
        check_plan_shape(plan, shown);
        char *text = mr_plan_explain(plan);
        char *json = mr_plan_json(plan);
        assert_non_null(text);
        assert_non_null(json);
        assert_true(json[0] == '{' && json[strlen(json) - 1] == '}');
        snprintf(path, sizeof path, "%s/%s.explain", dir, names[i]);
        if (update) {
            write_file(path, text);
        } else {
            char *want = read_file(path, NULL);
            if (!want)
                fail_msg("%s: missing expected file %s", shown, path);
            if (strcmp(want, text) != 0)
                fail_msg("%s: explain differs.\n--- expected\n%s--- got\n%s", shown, want, text);
            free(want);
        }
        free(text);
        free(json);
        millrace__job_plan__free_unpacked(plan, NULL);
        free(yaml);
        free(names[i]);
    }
    free(names);
}

static void test_invalid(void **state)
{
    (void)state;
    const char *update = getenv("MR_GOLDEN_UPDATE");
    char dir[1024], path[1200];
    snprintf(dir, sizeof dir, "%s/tests/dag/invalid", MR_SOURCE_DIR);
    char **names;
    size_t n = list_yaml(dir, &names);
    assert_true(n >= 10);
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s.yaml", dir, names[i]);
        size_t len;
        char *yaml = read_file(path, &len);
        assert_non_null(yaml);
        char shown[300];
        snprintf(shown, sizeof shown, "invalid/%s.yaml", names[i]);
        mr_dag_options opt = {.file = shown, .getenv = test_env, .allow_env = any_env,
                              .nallow_env = 1};
        if (strncmp(yaml, "# golden: check_inputs\n", 23) == 0) {
            opt.check_inputs = 1;
            opt.base_dir = dir;
        }
        Millrace__JobPlan *plan = NULL;
        mr_diags diags = {0};
        int rc = mr_dag_compile(yaml, len, &opt, &plan, &diags);
        if (rc != MR_EINVAL)
            fail_msg("%s: expected MR_EINVAL, got %d", shown, rc);
        assert_null(plan);
        assert_true(diags.n > 0);
        char *got = NULL;
        size_t got_len = 0;
        FILE *mem = open_memstream(&got, &got_len);
        mr_diags_print(&diags, mem);
        fclose(mem);
        for (char *at; (at = strstr(got, dir));) { /* the folder varies by checkout */
            size_t dl = strlen(dir);
            memcpy(at, "<dir>", 5);
            memmove(at + 5, at + dl, strlen(at + dl) + 1);
        }
        snprintf(path, sizeof path, "%s/%s.err", dir, names[i]);
        if (update) {
            write_file(path, got);
        } else {
            char *want = read_file(path, NULL);
            if (!want)
                fail_msg("%s: missing expected file %s", shown, path);
            if (strcmp(want, got) != 0)
                fail_msg("%s: errors differ.\n--- expected\n%s--- got\n%s", shown, want, got);
            free(want);
        }
        free(got);
        mr_diags_free(&diags);
        free(yaml);
        free(names[i]);
    }
    free(names);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
