/* fuzz_dag.c - libFuzzer target for the DAG front end (YAML -> plan).
 *
 * Not built by CMake.  Build and run it from the repository root, after a
 * normal build has generated build/gen/proto, with the commands below.
 *
 * Every input must either compile (then explain and JSON must render) or
 * fail with MR_EINVAL and at least one diagnostic at a 1-based position;
 * the sanitizers catch memory errors and leaks.
 */
// clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I. -Ibuild/gen \
//   tests/fuzz/fuzz_dag.c dag/[a-z]*.c core/[a-z]*.c build/gen/proto/millrace.pb-c.c proto/*.c \
//   -lprotobuf-c -lyaml -lm -lpthread -o fuzz_dag
// mkdir -p /tmp/dag_corpus && cp tests/dag/valid/[a-z]*.yaml tests/dag/invalid/[a-z]*.yaml /tmp/dag_corpus
// ./fuzz_dag -max_total_time=60 /tmp/dag_corpus

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dag/dag.h"

static const char *fuzz_env(const char *name)
{
    return strcmp(name, "HOME") == 0 ? "/home/fuzz" : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const mr_param params[] = {{"data", "/tmp/${x}"}};
    mr_dag_options opt = {.file = "fuzz.yaml", .params = params, .nparams = 0,
                          .getenv = fuzz_env, .partitions = 4};
    Millrace__JobPlan *plan = NULL;
    mr_diags d = {0};
    int rc = mr_dag_compile((const char *)data, size, &opt, &plan, &d);
    if (rc == 0) {
        if (!plan || d.n != 0)
            abort();
        char *t = mr_plan_explain(plan);
        char *j = mr_plan_json(plan);
        if (!t || !j)
            abort();
        free(t);
        free(j);
        millrace__job_plan__free_unpacked(plan, NULL);
    } else {
        if (rc != MR_EINVAL || plan || d.n == 0)
            abort();
        for (size_t i = 0; i < d.n; i++)
            if (d.items[i].line < 1 || d.items[i].column < 1 || !d.items[i].message)
                abort();
    }
    mr_diags_free(&d);
    return 0;
}
