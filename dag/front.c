/* front.c - mr_dag_compile, the DAG front end's entry: load the YAML,
 * validate it into the typed model (validate.c), compile the model into a
 * plan (compile.c), and mask secrets in what is reported.  Also the
 * compile's deadline.
 */
#include "dag/dag_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int dag_over_time(dag_ctx *c, const ynode *n, const char *node)
{
    if (c->timed_out)
        return 1;
    if (!c->deadline_ms || mono_ms() < c->deadline_ms)
        return 0;
    c->timed_out = 1;
    unsigned ms = c->opt->max_compile_ms ? c->opt->max_compile_ms : MR_DAG_MAX_COMPILE_MS;
    dag_error(c, n, node, "compiling this DAG took over %u ms, the limit; it stopped here "
              "(make the DAG smaller, or split it)", ms);
    return 1;
}

int mr_dag_compile(const char *yaml, size_t len, const mr_dag_options *opt,
                   Millrace__JobPlan **plan, mr_diags *diags)
{
    static const mr_dag_options defaults = {0};
    *plan = NULL;
    if (!opt)
        opt = &defaults;
    dag_ctx c;
    memset(&c, 0, sizeof c);
    c.file = opt->file ? opt->file : "<dag>";
    c.src = yaml ? yaml : "";
    c.srclen = yaml ? len : 0;
    c.diags = diags;
    c.opt = opt;
    /* Secrets: what ${env:} reads and secret-looking params; diagnostics are
     * masked before they leave, and the caller may keep the list to mask
     * the plan and the job when it shows them. */
    mr_dag_secrets own = {0};
    mr_dag_secrets *secrets = opt->secrets ? opt->secrets : &own;
    dag_env_policy env = {opt->getenv, opt->allow_env, opt->nallow_env, secrets, {0}, 0};
    for (size_t i = 0; i < opt->nparams; i++)
        if (mr_param_is_secret(opt->params[i].key, opt->params[i].value) &&
            mr_dag_secrets_add(secrets, opt->params[i].value) < 0)
            env.oom = 1;
    dag_env_begin(&env);
    c.getenv = dag_env_get;
    c.deadline_ms = mono_ms() + (opt->max_compile_ms ? opt->max_compile_ms : MR_DAG_MAX_COMPILE_MS);

    int rc = 0, line, col;
    char msg[1024];
    size_t max_nodes = opt->max_nodes ? opt->max_nodes : MR_DAG_MAX_NODES;
    ynode *root = dag_yaml_load(&c.arena, c.src, c.srclen, &line, &col, msg, sizeof msg);
    const ynode *nodes = root ? ymap_get(root, "nodes") : NULL;
    if (!root) {
        if (c.arena.failed)
            rc = MR_ENOMEM;
        else
            dag_error_at(&c, line, col, NULL, "%s", msg);
    } else if (nodes && nodes->kind == YN_MAP && nodes->n > max_nodes) {
        /* Checked before any work that grows with the graph. */
        dag_error(&c, ymap_key(root, "nodes"), NULL,
                  "the DAG has %zu nodes, over the limit of %zu (the coordinator's --max-nodes)",
                  nodes->n, max_nodes);
    } else {
        dag d;
        dag_validate(&c, root, &d);
        if (c.nerrors == 0 && !c.oom && !c.arena.failed)
            dag_optimize(&c, &d);
        if (c.nerrors == 0 && !c.oom && !c.arena.failed) {
            Millrace__JobPlan *built = dag_compile_plan(&c, &d);
            if (built) {
                size_t size = millrace__job_plan__get_packed_size(built);
                uint8_t *buf = malloc(size ? size : 1);
                if (buf) {
                    millrace__job_plan__pack(built, buf);
                    *plan = millrace__job_plan__unpack(NULL, size, buf);
                    free(buf);
                }
                if (!*plan)
                    rc = MR_ENOMEM;
            }
        }
        dag_model_free(&d);
    }
    dag_env_end();
    if (c.oom || c.arena.failed || env.oom)
        rc = MR_ENOMEM;
    dag_arena_free(&c.arena);
    for (size_t i = 0; i < diags->n; i++) {
        /* an expression error may quote a piece of a substituted value */
        char *shown = mr_redact_fragments(diags->items[i].message, &env.env_values, secrets);
        if (shown) {
            free(diags->items[i].message);
            diags->items[i].message = shown;
        }
    }
    mr_dag_secrets_free(&own);
    mr_dag_secrets_free(&env.env_values);
    dag_diags_sort(diags);
    if (rc == 0 && c.nerrors > 0)
        rc = MR_EINVAL;
    if (rc != 0 && *plan) {
        millrace__job_plan__free_unpacked(*plan, NULL);
        *plan = NULL;
    }
    return rc;
}
