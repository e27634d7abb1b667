/* fuzz_sql.c - libFuzzer target for the sql op: the statement parser on
 * its own, then the whole front end with the input as a sql node's query.
 *
 * Not built by CMake: scripts/fuzz.sh builds and runs it (FUZZ_SECONDS per
 * target), seeded from tests/sql/diff and tests/sql/invalid as well.
 */
// fuzz-sources: core core/op core/formats dag proto
/*
 * The input is the query text (a NUL byte ends it).  Checks beyond the
 * sanitizers:
 *   - sq_parse either succeeds or fails with an error offset inside the
 *     text and a message;
 *   - the DAG holding the query as a literal block either compiles (then
 *     explain renders and there are no diagnostics) or fails with at least
 *     one diagnostic, each at a 1-based line and column.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dag/sql.h"

static const char head[] =
    "version: 1\n"
    "name: f\n"
    "nodes:\n"
    "  t: {op: read, format: csv, path: /tmp/t.csv, schema: {a: int32, b: string, "
    "c: \"decimal(10,2)\", d: date}}\n"
    "  u: {op: read, format: csv, path: /tmp/u.csv, schema: {a: int32, e: int64, f: float64}}\n"
    "  q:\n"
    "    op: sql\n"
    "    query: |\n";
static const char tail[] = "  w: {op: write, input: q, to: csv, path: /tmp/out}\n";

static void die(const char *what)
{
    fprintf(stderr, "fuzz_sql: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    size_t len = strlen(text);

    dag_arena a = {0};
    sq_tokens tk;
    sq_query *q;
    char msg[512];
    int off = -1;
    if (sq_parse(&a, text, &tk, &q, &off, msg, sizeof msg) < 0) {
        if (!a.failed && (off < 0 || (size_t)off > len || !msg[0]))
            die("a parse error without a message or outside the text");
    }
    dag_arena_free(&a);

    /* the DAG: every query line indented under the block scalar */
    size_t cap = sizeof head + sizeof tail + 8 * (len + 2);
    char *yaml = malloc(cap), *p = yaml;
    if (!yaml) {
        free(text);
        return 0;
    }
    p += sprintf(p, "%s", head);
    p += sprintf(p, "      ");
    for (size_t i = 0; i < len; i++) {
        *p++ = text[i];
        if (text[i] == '\n')
            p += sprintf(p, "      ");
    }
    p += sprintf(p, "\n%s", tail);
    mr_dag_options opt = {.file = "fuzz.yaml", .partitions = 4};
    Millrace__JobPlan *plan = NULL;
    mr_diags d = {0};
    int rc = mr_dag_compile(yaml, (size_t)(p - yaml), &opt, &plan, &d);
    if (rc == 0) {
        if (!plan || d.n != 0)
            die("a compiled plan with diagnostics");
        char *t = mr_plan_explain(plan);
        if (!t)
            die("explain failed");
        free(t);
        millrace__job_plan__free_unpacked(plan, NULL);
    } else {
        if (d.n == 0 && rc != MR_ENOMEM)
            die("a failed compile without a diagnostic");
        for (size_t i = 0; i < d.n; i++)
            if (d.items[i].line < 1 || d.items[i].column < 1)
                die("a diagnostic without a position");
    }
    mr_diags_free(&d);
    free(yaml);
    free(text);
    return 0;
}
