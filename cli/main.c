/* main.c - the millrace command: run a DAG on a local cluster, validate and
 * explain DAGs, and drive a running coordinator through its REST API.
 *
 * Exit codes: 0 success, 1 the job (or a request) failed, 2 invalid DAG or
 * usage.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "objstore/store.h"
#include "warehouse/pg_source.h"
#include "cli/cli.h"
#include "dag/dag.h"
#include "warehouse/warehouse.h"

#define MAX_DAG_BYTES (16u << 20)
#define MAX_PARAMS 64

static volatile int g_interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    g_interrupted = 1;
}

static const char *usage_text =
    "usage: millrace COMMAND [options]\n"
    "\n"
    "Commands:\n"
    "  run DAG [--executors N] [--param k=v]...  run a job on a local cluster\n"
    "  validate DAG [--param k=v]...             check a DAG; print every error\n"
    "  explain DAG [--param k=v]...              show the compiled stages and their tasks\n"
    "  submit DAG [--param k=v]... [--wait]      submit to a running coordinator\n"
    "  jobs [--state S] [--limit N] [--json]     list jobs\n"
    "  status JOB [--json]                       show one job\n"
    "  cancel JOB                                cancel a job\n"
    "  executors [--json]                        list executors\n"
    "  keygen DIR                                make a CURVE key pair for the daemons\n"
    "  bookmarks DAG [--reset [NODE]] [--set NODE VALUE]  show or edit incremental bookmarks\n"
    "  schedule DAG --cron EXPR [--tz ZONE] | --after NAME   run a DAG on a clock\n"
    "  schedules [--json]                        list schedules\n"
    "  unschedule ID                             delete a schedule\n"
    "\n"
    "Client commands reach the coordinator at --coordinator URL, or\n"
    "$MILLRACE_COORDINATOR (default http://127.0.0.1:8080), and send $MILLRACE_TOKEN\n"
    "as a bearer token when it is set.  'millrace COMMAND --help' tells more.\n"
    "\n"
    "Exit status: 0 ok, 1 job failed, 2 invalid DAG or usage.\n";

static const char *run_help =
    "usage: millrace run DAG [options]\n"
    "\n"
    "Starts a coordinator and N executors as processes on this machine, runs the\n"
    "job with a live progress display, prints a summary, and stops them.\n"
    "\n"
    "  --executors N     executors to start (default 2)\n"
    "  --param k=v       override a DAG param (repeatable)\n"
    "  --data-root DIR   executors read and write only below DIR (default /)\n"
    "  --keep-logs       keep the daemons' logs (their folder is printed)\n"
    "  --verbose         show the daemons' logs on stderr\n"
    "  --full-refresh    incremental reads ignore their bookmarks: read every file\n"
    "                    and row, then set the bookmarks from what was loaded\n";

typedef struct dag_args {
    const char *path;
    int full_refresh; /* --full-refresh */
    mr_param params[MAX_PARAMS];
    size_t nparams;
} dag_args;

/* Consumes "--param k=v" / "--param=k=v"; returns 1 if argv[*i] was one, 0
 * if not, -1 on a malformed one. */
static int take_param(dag_args *a, int argc, char **argv, int *i)
{
    const char *v = NULL;
    if (strcmp(argv[*i], "--param") == 0) {
        if (*i + 1 >= argc) {
            fprintf(stderr, "millrace: --param needs k=v\n");
            return -1;
        }
        v = argv[++*i];
    } else if (strncmp(argv[*i], "--param=", 8) == 0) {
        v = argv[*i] + 8;
    } else {
        return 0;
    }
    const char *eq = strchr(v, '=');
    if (!eq || eq == v) {
        fprintf(stderr, "millrace: --param '%s': write it as name=value\n", v);
        return -1;
    }
    if (a->nparams == MAX_PARAMS) {
        fprintf(stderr, "millrace: at most %d --param\n", MAX_PARAMS);
        return -1;
    }
    char *key = strndup(v, (size_t)(eq - v));
    a->params[a->nparams].key = key;
    a->params[a->nparams].value = eq + 1;
    a->nparams++;
    return 1;
}

static void free_params(dag_args *a)
{
    for (size_t i = 0; i < a->nparams; i++)
        free((char *)a->params[i].key);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "millrace: cannot open '%s': %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
        if (n == cap) {
            if (cap >= MAX_DAG_BYTES) {
                fprintf(stderr, "millrace: '%s' is larger than %u bytes\n", path, MAX_DAG_BYTES);
                free(buf);
                buf = NULL;
                break;
            }
            cap *= 2;
            char *nb = realloc(buf, cap + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        *len = n;
    }
    return buf;
}

/* What the last compile substituted from the environment or took from
 * secret-looking params: masked in what explain prints. */
static mr_dag_secrets g_secrets;

/* Compiles the DAG locally; prints errors.  check_inputs: reads must name
 * existing files (validate, run); partitions 0 means the library default.
 * Returns the plan or NULL. */
static Millrace__JobPlan *compile_dag(const dag_args *a, char **text_out, size_t *len_out,
                                      int check_inputs, uint32_t partitions)
{
    size_t len;
    char *text = read_file(a->path, &len);
    if (!text)
        return NULL;
    /* Relative paths (and files sampled for schema inference) resolve
     * against the DAG's own folder, as in `millrace run`. */
    char real[PATH_MAX], dir[PATH_MAX];
    const char *base = NULL;
    if (realpath(a->path, real)) {
        snprintf(dir, sizeof dir, "%s", dirname(real));
        base = dir;
    }
    /* Local commands: the user's DAG and environment, so any ${env:NAME}. */
    static const char *const any_env[] = {"*"};
    mr_dag_options opt = {.file = a->path, .params = a->params, .nparams = a->nparams,
                          .getenv = NULL, .partitions = partitions, .base_dir = base,
                          .check_inputs = check_inputs, .allow_env = any_env, .nallow_env = 1,
                          .secrets = &g_secrets};
    Millrace__JobPlan *plan = NULL;
    mr_diags diags = {0};
    if (mr_dag_compile(text, len, &opt, &plan, &diags) < 0) {
        mr_diags_print(&diags, stderr);
        fprintf(stderr, "millrace: %s: %zu error%s\n", a->path, diags.n, diags.n == 1 ? "" : "s");
        mr_diags_free(&diags);
        free(text);
        return NULL;
    }
    mr_diags_free(&diags);
    if (text_out) {
        *text_out = text;
        *len_out = len;
    } else {
        free(text);
    }
    return plan;
}

static const char *coordinator_url(const char *flag)
{
    if (flag)
        return flag;
    const char *e = getenv("MILLRACE_COORDINATOR");
    return e && e[0] ? e : "http://127.0.0.1:8080";
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Builds the JSON submit body: {"dag", "params", "base_dir"}. */
static char *submit_body(const char *text, const dag_args *a, const char *base_dir)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "dag", text);
    cJSON *params = cJSON_AddObjectToObject(root, "params");
    for (size_t i = 0; i < a->nparams; i++)
        cJSON_AddStringToObject(params, a->params[i].key, a->params[i].value);
    if (base_dir)
        cJSON_AddStringToObject(root, "base_dir", base_dir);
    if (a->full_refresh)
        cJSON_AddBoolToObject(root, "full_refresh", 1);
    char *body = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return body;
}

/* Submits; returns the job id (malloc'd), or NULL with *invalid set when
 * the coordinator found the DAG invalid (errors printed as file:line:column
 * with file the DAG's path, as validate prints them). */
static char *submit(const char *url, const char *body, const char *file, int *invalid)
{
    *invalid = 0;
    char endpoint[300];
    snprintf(endpoint, sizeof endpoint, "%s/v1/jobs", url);
    cli_http_resp r;
    if (cli_http("POST", endpoint, "application/json", body, strlen(body), 30000, &r) < 0) {
        fprintf(stderr, "millrace: %s\n", r.error);
        return NULL;
    }
    char *id = NULL;
    if (r.status == 400) {
        /* The coordinator found errors the local check did not (e.g. env). */
        *invalid = 1;
        cJSON *j = cJSON_Parse(r.body);
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
        const cJSON *errs = cJSON_GetObjectItemCaseSensitive(e, "errors"), *x;
        cJSON_ArrayForEach(x, errs)
        {
            const cJSON *m = cJSON_GetObjectItemCaseSensitive(x, "message");
            fprintf(stderr, "%s:%d:%d: error: %s\n", file,
                    (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(x, "line")),
                    (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(x, "column")),
                    cJSON_IsString(m) ? m->valuestring : "?");
        }
        if (!cJSON_GetArraySize(errs))
            cJSON_Delete(cli_http_json(&r, "submit"));
        cJSON_Delete(j);
    } else {
        cJSON *j = cli_http_json(&r, "submit");
        const cJSON *idv = cJSON_GetObjectItemCaseSensitive(j, "id");
        if (cJSON_IsString(idv))
            id = strdup(idv->valuestring);
        cJSON_Delete(j);
    }
    cli_http_resp_free(&r);
    return id;
}

static void cancel_job(const char *url, const char *id)
{
    char endpoint[300];
    snprintf(endpoint, sizeof endpoint, "%s/v1/jobs/%s/cancel", url, id);
    cli_http_resp r;
    if (cli_http("POST", endpoint, NULL, NULL, 0, 5000, &r) == 0)
        cli_http_resp_free(&r);
}

static int cmd_run(int argc, char **argv)
{
    dag_args a = {0};
    int nexec = 2, keep = 0, verbose = 0, rc = 2;
    const char *data_root = "/";
    for (int i = 0; i < argc; i++) {
        int p = take_param(&a, argc, argv, &i);
        if (p < 0)
            goto out;
        if (p)
            continue;
        if (strcmp(argv[i], "--help") == 0) {
            fputs(run_help, stdout);
            rc = 0;
            goto out;
        } else if (strcmp(argv[i], "--executors") == 0 && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > 64) {
                fprintf(stderr, "millrace: --executors wants a number from 1 to 64\n");
                goto out;
            }
            nexec = (int)v;
        } else if (strcmp(argv[i], "--data-root") == 0 && i + 1 < argc) {
            data_root = argv[++i];
        } else if (strcmp(argv[i], "--keep-logs") == 0) {
            keep = 1;
        } else if (strcmp(argv[i], "--verbose") == 0) {
            verbose = 1;
        } else if (strcmp(argv[i], "--full-refresh") == 0) {
            a.full_refresh = 1;
        } else if (argv[i][0] == '-' || a.path) {
            fprintf(stderr, "millrace run: unexpected '%s' (see millrace run --help)\n", argv[i]);
            goto out;
        } else {
            a.path = argv[i];
        }
    }
    if (!a.path) {
        fprintf(stderr, "millrace run: which DAG? (see millrace run --help)\n");
        goto out;
    }
    char *text = NULL;
    size_t len = 0;
    Millrace__JobPlan *plan = compile_dag(&a, &text, &len, 1, 0);
    if (!plan)
        goto out;
    /* Task specs carry no warehouse password: the local executors take it
     * from their environment, which they inherit from here. */
    if (plan->warehouse && plan->warehouse->driver == MILLRACE__WAREHOUSE_DRIVER__DRIVER_POSTGRES &&
        plan->warehouse->dsn)
        setenv("MILLRACE_WAREHOUSE_DSN", plan->warehouse->dsn, 1);
    millrace__job_plan__free_unpacked(plan, NULL);

    char real[PATH_MAX], base[PATH_MAX];
    if (!realpath(a.path, real)) {
        fprintf(stderr, "millrace: %s: %s\n", a.path, strerror(errno));
        free(text);
        goto out;
    }
    snprintf(base, sizeof base, "%s", dirname(real));
    signal(SIGINT, on_sigint);
    signal(SIGTERM, on_sigint);
    double start = now_s();
    cli_cluster cl;
    rc = 1;
    if (cli_cluster_start(&cl, nexec, data_root, verbose) < 0) {
        cli_cluster_stop(&cl, 1);
        free(text);
        goto out;
    }
    char *body = submit_body(text, &a, base);
    free(text);
    int invalid = 0;
    char *id = body ? submit(cl.url, body, a.path, &invalid) : NULL;
    free(body);
    if (!id) {
        if (invalid)
            rc = 2;
        cli_cluster_stop(&cl, keep);
        goto out;
    }
    cJSON *job = cli_follow_job(cl.url, id, &g_interrupted);
    if (g_interrupted) {
        fprintf(stderr, "millrace: interrupted; cancelling job %s\n", id);
        cancel_job(cl.url, id);
    }
    if (job) {
        rc = cli_print_summary(job, now_s() - start);
        cJSON_Delete(job);
    }
    if (rc != 0 && !verbose)
        keep = 1;
    cli_cluster_stop(&cl, keep);
    if (keep && !verbose)
        fprintf(stderr, "millrace: daemon logs are in %s\n", cl.dir);
    free(id);
out:
    free_params(&a);
    return rc;
}

/* 1-based line of "<node>:" as a key in the DAG text, or 1. */
static int node_line(const char *text, const char *node)
{
    int line = 1;
    size_t n = strlen(node);
    for (const char *p = text; *p; line++) {
        const char *q = p;
        while (*q == ' ')
            q++;
        if (q > p && strncmp(q, node, n) == 0 && q[n] == ':')
            return line;
        const char *nl = strchr(p, '\n');
        if (!nl)
            break;
        p = nl + 1;
    }
    return 1;
}

/* When the warehouse can be reached, checks the tables the DAG writes
 * against their existing definitions (the commit's own check, rolled back).
 * Prints an error and returns -1 when one does not fit. */
static int check_warehouse(const dag_args *a, const Millrace__JobPlan *plan)
{
    const Millrace__Warehouse *w = plan->warehouse;
    char real[PATH_MAX], path[PATH_MAX * 2];
    mr_wh_config cfg = {mr_plan_name(mr_plan_driver_names, w ? (int)w->driver : MILLRACE__WAREHOUSE_DRIVER__DRIVER_SQLITE), NULL,
                        w ? w->dsn : NULL, w ? w->schema : NULL, NULL, NULL, 0};
    if (!w || w->driver == MILLRACE__WAREHOUSE_DRIVER__DRIVER_SQLITE) {
        const char *p = w && w->path && w->path[0] ? w->path : "millrace.db";
        if (p[0] != '/' && realpath(a->path, real))
            snprintf(path, sizeof path, "%s/%s", dirname(real), p);
        else
            snprintf(path, sizeof path, "%s", p);
        cfg.path = path;
    }
    mr_err err;
    mr_err_clear(&err);
    int rc = mr_wh_check_plan(plan, &cfg, &err);
    if (rc == MR_EIO) {
        fprintf(stderr, "%s: note: the warehouse cannot be reached, so existing tables were not "
                        "checked: %s\n", a->path, err.msg);
        return 0;
    }
    if (rc == 0)
        return 0;
    /* point at the write node of the table named in the message */
    int line = 1;
    size_t len;
    char *text = read_file(a->path, &len);
    for (size_t s = 0; text && s < plan->n_stages; s++) {
        const Millrace__WriteSpec *ws = plan->stages[s]->write;
        if (ws && ws->table[0] && strstr(err.msg, ws->table)) {
            line = node_line(text, ws->node);
            break;
        }
    }
    free(text);
    fprintf(stderr, "%s:%d:3: error: %s\n", a->path, line, err.msg);
    return -1;
}

/* Executor slots on this machine: what a `millrace-executor` started
 * without --slots announces (executor/main.c). */
static unsigned local_slots(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores > 0 ? (unsigned)cores : 2;
}

static int cmd_validate_explain(int argc, char **argv, int explain)
{
    dag_args a = {0};
    int rc = 2;
    long nexec = 2, nparts = 0;
    for (int i = 0; i < argc; i++) {
        int p = take_param(&a, argc, argv, &i);
        if (p < 0)
            goto out;
        if (p)
            continue;
        if (strcmp(argv[i], "--help") == 0) {
            if (explain)
                printf("usage: millrace explain DAG [--param k=v]... [--executors N | "
                       "--partitions N]\n\n"
                       "Prints the compiled plan: stages, their fused operators, the tasks each\n"
                       "runs and the shuffle edges.  A stage that reads files runs one task per\n"
                       "input split (files are cut into splits, so that depends on the data);\n"
                       "a stage after a shuffle runs one task per partition.  The partitions\n"
                       "are those `millrace run --executors N` uses: one per executor slot\n"
                       "(N executors x this machine's cores, at least 4, at most 64; default\n"
                       "N = 2).  A running coordinator counts its own executors' slots, or uses\n"
                       "its --partitions: give that with --partitions.\n"
                       "Exit 0, or 2 with every error when invalid.\n");
            else
                printf("usage: millrace validate DAG [--param k=v]...\n\n"
                       "Checks a DAG and prints every error as file:line:column: error: message.\n"
                       "Read paths must name files that exist (relative paths resolve against\n"
                       "the DAG's folder).  Exit 0 when valid, 2 when not.\n");
            rc = 0;
            goto out;
        }
        if (explain && (strcmp(argv[i], "--executors") == 0 ||
                        strcmp(argv[i], "--partitions") == 0)) {
            int ex = argv[i][2] == 'e';
            char *end = NULL;
            long v = i + 1 < argc ? strtol(argv[i + 1], &end, 10) : 0;
            if (!end || *end || v < 1 || v > (ex ? 64 : 4096)) {
                fprintf(stderr, "millrace: %s wants a number from 1 to %d\n", argv[i],
                        ex ? 64 : 4096);
                goto out;
            }
            *(ex ? &nexec : &nparts) = v;
            i++;
            continue;
        }
        if (argv[i][0] == '-' || a.path) {
            fprintf(stderr, "millrace: unexpected '%s'\n", argv[i]);
            goto out;
        }
        a.path = argv[i];
    }
    if (!a.path) {
        fprintf(stderr, "millrace: which DAG? (see --help)\n");
        goto out;
    }
    uint32_t parts = nparts ? (uint32_t)nparts
                            : mr_dag_partitions_for_slots((unsigned)nexec * local_slots());
    Millrace__JobPlan *plan = compile_dag(&a, NULL, NULL, !explain, explain ? parts : 0);
    if (!plan)
        goto out;
    if (!explain && check_warehouse(&a, plan) < 0) {
        millrace__job_plan__free_unpacked(plan, NULL);
        goto out;
    }
    if (explain) {
        char *text = mr_plan_redact(plan, &g_secrets) == 0 ? mr_plan_explain(plan) : NULL;
        fputs(text ? text : "", stdout);
        free(text);
        if (nparts)
            printf("partitions: %u (--partitions)\n", parts);
        else
            printf("partitions: %u (one per executor slot, as `millrace run --executors %ld` "
                   "runs it: %ld x %u slots, at least 4, at most 64; a running coordinator "
                   "counts its own executors' slots)\n", parts, nexec, nexec, local_slots());
    } else {
        printf("%s: valid (%zu stage%s)\n", a.path, plan->n_stages, plan->n_stages == 1 ? "" : "s");
    }
    millrace__job_plan__free_unpacked(plan, NULL);
    rc = 0;
out:
    mr_dag_secrets_free(&g_secrets);
    free_params(&a);
    return rc;
}

static int cmd_submit(int argc, char **argv, const char *url)
{
    dag_args a = {0};
    int wait = 0, rc = 2;
    for (int i = 0; i < argc; i++) {
        int p = take_param(&a, argc, argv, &i);
        if (p < 0)
            goto out;
        if (p)
            continue;
        if (strcmp(argv[i], "--help") == 0) {
            printf("usage: millrace submit DAG [--param k=v]... [--wait] [--full-refresh]\n\n"
                   "Submits the DAG to the coordinator; prints the job id, or with --wait\n"
                   "follows the job to its end (exit 0 succeeded, 1 failed).  With\n"
                   "--full-refresh incremental reads ignore their bookmarks.\n");
            rc = 0;
            goto out;
        } else if (strcmp(argv[i], "--wait") == 0) {
            wait = 1;
        } else if (strcmp(argv[i], "--full-refresh") == 0) {
            a.full_refresh = 1;
        } else if (argv[i][0] == '-' || a.path) {
            fprintf(stderr, "millrace submit: unexpected '%s'\n", argv[i]);
            goto out;
        } else {
            a.path = argv[i];
        }
    }
    if (!a.path) {
        fprintf(stderr, "millrace submit: which DAG? (see --help)\n");
        goto out;
    }
    size_t len;
    char *text = read_file(a.path, &len);
    if (!text)
        goto out;
    /* Relative paths resolve against the coordinator's data root. */
    char *body = submit_body(text, &a, NULL);
    free(text);
    double start = now_s();
    int invalid = 0;
    char *id = body ? submit(url, body, a.path, &invalid) : NULL;
    free(body);
    rc = invalid ? 2 : 1;
    if (!id)
        goto out;
    if (!wait) {
        printf("%s\n", id);
        rc = 0;
    } else {
        signal(SIGINT, on_sigint);
        cJSON *job = cli_follow_job(url, id, &g_interrupted);
        if (job) {
            rc = cli_print_summary(job, now_s() - start);
            cJSON_Delete(job);
        }
    }
    free(id);
out:
    free_params(&a);
    return rc;
}

static int simple_get(const char *url, const char *path, const char *what, cJSON **out)
{
    char endpoint[512];
    snprintf(endpoint, sizeof endpoint, "%s%s", url, path);
    cli_http_resp r;
    if (cli_http("GET", endpoint, NULL, NULL, 0, 10000, &r) < 0) {
        fprintf(stderr, "millrace: %s\n", r.error);
        return 1;
    }
    *out = cli_http_json(&r, what);
    cli_http_resp_free(&r);
    return *out ? 0 : 1;
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "-";
}

static const char *client_help(const char *cmd)
{
    if (strcmp(cmd, "jobs") == 0)
        return "usage: millrace jobs [--state S] [--limit N] [--json]\n\n"
               "Lists jobs, newest first; S is queued, running, succeeded, failed or\n"
               "cancelled; N from 1 to 10000 (default 100).  Exit 0, or 1 when the\n"
               "coordinator refuses or cannot be reached.\n";
    if (strcmp(cmd, "status") == 0)
        return "usage: millrace status JOB [--json]\n\n"
               "Shows a job: state, times, params, each stage with its operators and\n"
               "progress, outputs and the error if it failed.  --json prints the API's\n"
               "document as it is.  Exit 0, or 1 when the request fails (e.g. no such job).\n";
    if (strcmp(cmd, "cancel") == 0)
        return "usage: millrace cancel JOB\n\n"
               "Asks the coordinator to cancel a queued or running job.  Exit 0, or 1 when\n"
               "the job is unknown or has already finished.\n";
    return "usage: millrace executors [--json]\n\n"
           "Lists the executors that registered: state, running tasks, slots, memory.\n";
}

static void print_json(const cJSON *j)
{
    char *text = cJSON_Print(j);
    printf("%s\n", text ? text : "");
    free(text);
}

static int valid_job_id(const char *cmd, const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 64 || strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789") != n) {
        fprintf(stderr, "millrace %s: '%s' is not a job id (see millrace jobs)\n", cmd, id);
        return 0;
    }
    return 1;
}

static int cmd_jobs(int argc, char **argv, const char *url)
{
    char path[256] = "/v1/jobs";
    int json = 0;
    char sep = '?';
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
            continue;
        }
        if (strcmp(argv[i], "--state") && strcmp(argv[i], "--limit")) {
            fprintf(stderr, "millrace jobs: unexpected '%s' (see millrace jobs --help)\n", argv[i]);
            return 2;
        }
        if (i + 1 >= argc || argv[i + 1][0] == '-') {
            fprintf(stderr, "millrace jobs: %s needs a value\n", argv[i]);
            return 2;
        }
        const char *v = argv[++i];
        if (strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789") != strlen(v)) {
            fprintf(stderr, "millrace jobs: bad %s '%s'\n", argv[i - 1], v);
            return 2;
        }
        size_t n = strlen(path);
        snprintf(path + n, sizeof path - n, "%c%s=%.40s", sep, argv[i - 1] + 2, v);
        sep = '&';
    }
    cJSON *j = NULL;
    if (simple_get(url, path, "jobs", &j))
        return 1;
    if (json) {
        print_json(j);
    } else {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "jobs"), *x;
        printf("%-18s %-20s %-10s %-24s %s\n", "ID", "NAME", "STATE", "SUBMITTED", "ERROR");
        cJSON_ArrayForEach(x, arr)
        {
            const char *err = jstr(x, "error");
            printf("%-18s %-20s %-10s %-24s %.60s\n", jstr(x, "id"), jstr(x, "name"),
                   jstr(x, "state"), jstr(x, "submitted_at"), strcmp(err, "-") ? err : "");
        }
    }
    cJSON_Delete(j);
    return 0;
}

static int cmd_executors(int argc, char **argv, const char *url)
{
    int json = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") != 0) {
            fprintf(stderr, "millrace executors: unexpected '%s'\n", argv[i]);
            return 2;
        }
        json = 1;
    }
    cJSON *j = NULL;
    if (simple_get(url, "/v1/executors", "executors", &j))
        return 1;
    if (json) {
        print_json(j);
    } else {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "executors"), *x;
        printf("%-28s %-28s %-6s %5s %5s %10s %9s\n", "ID", "ADDRESS", "STATE", "TASKS", "SLOTS",
               "MEMORY_MB", "HEARTBEAT");
        cJSON_ArrayForEach(x, arr)
        {
            double mem = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(x, "memory_bytes"));
            double hb = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(x, "last_heartbeat_ms"));
            printf("%-28s %-28s %-6s %5d %5d %10.0f %7.1fs\n", jstr(x, "id"), jstr(x, "address"),
                   jstr(x, "state"),
                   (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(x, "running_tasks")),
                   (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(x, "slots")),
                   mem == mem ? mem / 1048576.0 : 0.0, hb == hb ? hb / 1000.0 : 0.0);
        }
    }
    cJSON_Delete(j);
    return 0;
}

/* status and cancel: one job id, and for status an optional --json. */
static int cmd_job(const char *cmd, int argc, char **argv, const char *url)
{
    int json = 0;
    const char *id = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0 && strcmp(cmd, "status") == 0) {
            json = 1;
        } else if (argv[i][0] == '-' || id) {
            fprintf(stderr, "millrace %s: unexpected '%s' (see millrace %s --help)\n", cmd, argv[i],
                    cmd);
            return 2;
        } else {
            id = argv[i];
        }
    }
    if (!id) {
        fprintf(stderr, "millrace %s: which job? (millrace %s JOB; millrace jobs lists them)\n", cmd,
                cmd);
        return 2;
    }
    if (!valid_job_id(cmd, id))
        return 2;
    cJSON *j = NULL;
    if (strcmp(cmd, "cancel") == 0) {
        char endpoint[512];
        snprintf(endpoint, sizeof endpoint, "%s/v1/jobs/%s/cancel", url, id);
        cli_http_resp r;
        if (cli_http("POST", endpoint, NULL, NULL, 0, 10000, &r) < 0) {
            fprintf(stderr, "millrace: %s\n", r.error);
            return 1;
        }
        j = cli_http_json(&r, "cancel");
        cli_http_resp_free(&r);
        if (!j)
            return 1;
        printf("cancelling %s (it was %s)\n", id, jstr(j, "state"));
    } else {
        char path[128];
        snprintf(path, sizeof path, "/v1/jobs/%s", id);
        if (simple_get(url, path, "status", &j))
            return 1;
        if (json)
            print_json(j);
        else
            cli_print_job(j, stdout);
    }
    cJSON_Delete(j);
    return 0;
}

static const char *keygen_help =
    "usage: millrace keygen DIR\n"
    "\n"
    "Makes a ZeroMQ CURVE key pair for --curve-keys: DIR/public.key and\n"
    "DIR/secret.key (Z85 text; the secret readable by its owner only). DIR is\n"
    "created when missing; an existing pair is never overwritten. Copy public\n"
    "keys into the peers' DIR/authorized/ folders (docs/security.md).\n";

static int cmd_keygen(int argc, char **argv)
{
    if (argc == 1 && strcmp(argv[0], "--help") == 0) {
        fputs(keygen_help, stdout);
        return 0;
    }
    if (argc != 1 || argv[0][0] == '-') {
        fputs(keygen_help, stderr);
        return 2;
    }
    if (cli_keygen(argv[0]) < 0)
        return 1;
    printf("%s/public.key\n%s/secret.key\n", argv[0], argv[0]);
    return 0;
}

static int cmd_client(const char *cmd, int argc, char **argv, const char *url)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0) {
            fputs(client_help(cmd), stdout);
            return 0;
        }
    if (strcmp(cmd, "jobs") == 0)
        return cmd_jobs(argc, argv, url);
    if (strcmp(cmd, "executors") == 0)
        return cmd_executors(argc, argv, url);
    return cmd_job(cmd, argc, argv, url);
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    {
        /* validate reads s3:// inputs as the coordinator does */
        mr_err serr;
        mr_err_clear(&serr);
        if (os_store_install(&serr) < 0) {
            fprintf(stderr, "millrace: %s\n", serr.msg);
            return 2;
        }
    }
    mr_pg_source_plug(); /* format postgres reads: schemas at compile (core/dbsrc.h) */
    /* --coordinator URL may appear anywhere after the command. */
    const char *coord = NULL;
    char **rest = calloc((size_t)argc, sizeof *rest);
    int nrest = 0;
    if (!rest)
        return 1;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--coordinator") == 0 && i + 1 < argc)
            coord = argv[++i];
        else if (strncmp(argv[i], "--coordinator=", 14) == 0)
            coord = argv[i] + 14;
        else
            rest[nrest++] = argv[i];
    }
    const char *url = coordinator_url(coord);
    int rc;
    if (strcmp(cmd, "run") == 0)
        rc = cmd_run(nrest, rest);
    else if (strcmp(cmd, "validate") == 0)
        rc = cmd_validate_explain(nrest, rest, 0);
    else if (strcmp(cmd, "explain") == 0)
        rc = cmd_validate_explain(nrest, rest, 1);
    else if (strcmp(cmd, "submit") == 0)
        rc = cmd_submit(nrest, rest, url);
    else if (strcmp(cmd, "keygen") == 0)
        rc = cmd_keygen(nrest, rest);
    else if (strcmp(cmd, "bookmarks") == 0)
        rc = cli_bookmarks(nrest, rest);
    else if (strcmp(cmd, "schedule") == 0 || strcmp(cmd, "schedules") == 0 ||
             strcmp(cmd, "unschedule") == 0)
        rc = cli_schedules(cmd, nrest, rest, url);
    else if (strcmp(cmd, "jobs") == 0 || strcmp(cmd, "status") == 0 ||
             strcmp(cmd, "cancel") == 0 || strcmp(cmd, "executors") == 0)
        rc = cmd_client(cmd, nrest, rest, url);
    else {
        fprintf(stderr, "millrace: unknown command '%s' (see millrace --help)\n", cmd);
        rc = 2;
    }
    free(rest);
    return rc;
}
