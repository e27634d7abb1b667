/* schedules.c - `millrace schedule`, `millrace schedules`, `millrace unschedule`:
 * the coordinator's schedules over its REST API (docs/api.md).
 *
 * schedule reads the DAG file and posts its text as written (the
 * coordinator resolves ${env:} references at each run) with the params,
 * and a cron expression in a zone or the name of the DAG whose successful
 * jobs trigger it; the coordinator checks all of it and answers 400 with
 * the reason, which is printed as is.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char *schedule_help =
    "usage: millrace schedule DAG (--cron EXPR [--tz ZONE] | --after NAME) [--param k=v]...\n"
    "\n"
    "Asks the coordinator to run the DAG on a cron clock (5 fields: minute hour\n"
    "day-of-month month day-of-week, times in ZONE, default UTC), or each time a\n"
    "job of the DAG named NAME succeeds.  A run never starts while the schedule's\n"
    "last job is still going: that tick is skipped.  Prints the schedule's id.\n"
    "Exit 0, 1 when the coordinator cannot be reached, 2 when it refuses.\n";
static const char *schedules_help =
    "usage: millrace schedules [--json]\n"
    "\n"
    "Lists the coordinator's schedules: id, DAG, cron or after, the next run time\n"
    "and the last run.\n";
static const char *unschedule_help =
    "usage: millrace unschedule ID\n"
    "\n"
    "Deletes a schedule: it submits no more jobs (a job it submitted goes on).\n"
    "Exit 0, or 1 when the schedule is unknown.\n";

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "millrace schedule: cannot open '%s': %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        char *p = realloc(buf, (cap *= 2) + 1);
        if (!p) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = p;
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

static int sched_send(const char *method, const char *url, const char *path, const char *body,
                const char *what, cJSON **out)
{
    char endpoint[512];
    snprintf(endpoint, sizeof endpoint, "%s%s", url, path);
    cli_http_resp r;
    if (cli_http(method, endpoint, body ? "application/json" : NULL, body,
                 body ? strlen(body) : 0, 10000, &r) < 0) {
        fprintf(stderr, "millrace: %s\n", r.error);
        return 1;
    }
    *out = cli_http_json(&r, what);
    int refused = r.status >= 400 && r.status < 500;
    cli_http_resp_free(&r);
    return *out ? 0 : refused ? 2 : 1;
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static int cmd_schedule(int argc, char **argv, const char *url)
{
    const char *dag = NULL, *cron = NULL, *tz = NULL, *after = NULL;
    int rc = 2;
    cJSON *body = cJSON_CreateObject(), *params = cJSON_CreateObject(), *out = NULL;
    char *text = NULL, *json = NULL;
    if (!body || !params)
        goto out;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int val = !strcmp(a, "--cron") || !strcmp(a, "--tz") || !strcmp(a, "--after") ||
                  !strcmp(a, "--param");
        if (val && i + 1 >= argc) {
            fprintf(stderr, "millrace schedule: %s needs a value\n", a);
            goto out;
        }
        if (!strcmp(a, "--cron"))
            cron = argv[++i];
        else if (!strcmp(a, "--tz"))
            tz = argv[++i];
        else if (!strcmp(a, "--after"))
            after = argv[++i];
        else if (!strcmp(a, "--param")) {
            const char *kv = argv[++i], *eq = strchr(kv, '=');
            if (!eq || eq == kv) {
                fprintf(stderr, "millrace schedule: --param wants k=v, not '%s'\n", kv);
                goto out;
            }
            char key[128];
            snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
            cJSON_AddStringToObject(params, key, eq + 1);
        } else if (a[0] == '-' || dag) {
            fprintf(stderr, "millrace schedule: unexpected '%s' (see --help)\n", a);
            goto out;
        } else
            dag = a;
    }
    if (!dag || !cron == !after) {
        fprintf(stderr, "millrace schedule: give a DAG and either --cron EXPR or --after NAME "
                        "(see --help)\n");
        goto out;
    }
    if (!(text = slurp(dag)))
        goto out;
    cJSON_AddStringToObject(body, "dag", text);
    cJSON_AddItemToObject(body, "params", params);
    params = NULL;
    if (cron)
        cJSON_AddStringToObject(body, "cron", cron);
    if (tz)
        cJSON_AddStringToObject(body, "tz", tz);
    if (after)
        cJSON_AddStringToObject(body, "after", after);
    json = cJSON_PrintUnformatted(body);
    rc = json ? sched_send("POST", url, "/v1/schedules", json, "schedule", &out) : 1;
    if (rc == 0)
        printf("%s\n", str(out, "id"));
out:
    cJSON_Delete(body);
    cJSON_Delete(params);
    cJSON_Delete(out);
    free(text);
    free(json);
    return rc;
}

static int cmd_list(int argc, char **argv, const char *url)
{
    int as_json = argc == 1 && !strcmp(argv[0], "--json");
    if (argc && !as_json) {
        fprintf(stderr, "millrace schedules: unexpected '%s'\n", argv[0]);
        return 2;
    }
    cJSON *out = NULL;
    int rc = sched_send("GET", url, "/v1/schedules", NULL, "schedules", &out);
    if (rc)
        return rc;
    if (as_json) {
        char *t = cJSON_Print(out);
        printf("%s\n", t ? t : "");
        free(t);
    } else {
        printf("%-16s %-20s %-28s %-22s %s\n", "ID", "DAG", "WHEN", "NEXT RUN", "LAST RUN");
        const cJSON *s;
        cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(out, "schedules"))
        {
            char when[128];
            if (str(s, "cron")[0])
                snprintf(when, sizeof when, "%s %s", str(s, "cron"), str(s, "tz"));
            else
                snprintf(when, sizeof when, "after %s", str(s, "after"));
            const cJSON *next = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(s, "next_runs"), 0);
            const cJSON *last = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(s, "last_runs"), 0);
            char lastrun[96] = "-";
            if (last)
                snprintf(lastrun, sizeof lastrun, "%s %s", str(last, "state"),
                         str(last, "job_id")[0] ? str(last, "job_id") : "");
            printf("%-16s %-20s %-28s %-22s %s\n", str(s, "id"), str(s, "dag_name"), when,
                   cJSON_IsString(next) ? next->valuestring : "-", lastrun);
        }
    }
    cJSON_Delete(out);
    return 0;
}

static int cmd_unschedule(int argc, char **argv, const char *url)
{
    if (argc != 1 || argv[0][0] == '-' || strspn(argv[0], "abcdefghijklmnopqrstuvwxyz0123456789-") !=
                                              strlen(argv[0]) || strlen(argv[0]) > 60) {
        fprintf(stderr, "millrace unschedule: which schedule? (millrace unschedule ID; "
                        "millrace schedules lists them)\n");
        return 2;
    }
    char path[128];
    snprintf(path, sizeof path, "/v1/schedules/%s", argv[0]);
    cJSON *out = NULL;
    int rc = sched_send("DELETE", url, path, NULL, "unschedule", &out);
    if (rc == 0)
        printf("deleted %s\n", argv[0]);
    cJSON_Delete(out);
    return rc ? 1 : 0;
}

int cli_schedules(const char *cmd, int argc, char **argv, const char *url)
{
    const char *help = !strcmp(cmd, "schedule")    ? schedule_help
                       : !strcmp(cmd, "schedules") ? schedules_help
                                                   : unschedule_help;
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help")) {
            fputs(help, stdout);
            return 0;
        }
    if (!strcmp(cmd, "schedule"))
        return cmd_schedule(argc, argv, url);
    if (!strcmp(cmd, "schedules"))
        return cmd_list(argc, argv, url);
    return cmd_unschedule(argc, argv, url);
}
