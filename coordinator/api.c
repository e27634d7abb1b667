/* api.c - the coordinator's REST API over libmicrohttpd.
 *
 * Requests are served on MHD's own threads; each handler takes the
 * coordinator lock only to read or change job state, never while parsing
 * or compiling a DAG.  Bodies are accumulated up to c->max_body bytes
 * (413 beyond).  With a token configured, every route but /healthz needs
 * "Authorization: Bearer TOKEN", compared in constant time.  Error bodies
 * are {"error": {"code", "message", ...}}.
 */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coordinator/coordinator.h"
#include "core/log.h"
#include "dag/dag.h"

static struct MHD_Daemon *g_daemon;
static mr_coord *g_coord;

typedef struct req_body {
    char *buf;
    size_t len, cap;
    int too_big;
} req_body;

static enum MHD_Result reply(struct MHD_Connection *con, unsigned status, char *json,
                             const char *location)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(json), json, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(json);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    if (location)
        MHD_add_response_header(r, "Location", location);
    enum MHD_Result ret = MHD_queue_response(con, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_json(struct MHD_Connection *con, unsigned status, cJSON *obj,
                                  const char *location)
{
    char *text = cJSON_PrintUnformatted(obj);
    cJSON_Delete(obj);
    if (!text)
        return MHD_NO;
    return reply(con, status, text, location);
}

static cJSON *error_obj(const char *code, const char *message)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(root, "error");
    cJSON_AddStringToObject(e, "code", code);
    cJSON_AddStringToObject(e, "message", message);
    return root;
}

static enum MHD_Result reply_error(struct MHD_Connection *con, unsigned status, const char *code,
                                   const char *message)
{
    return reply_json(con, status, error_obj(code, message), NULL);
}

static void add_time(cJSON *o, const char *key, int64_t unix_ms)
{
    if (!unix_ms) {
        cJSON_AddNullToObject(o, key);
        return;
    }
    time_t secs = (time_t)(unix_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char buf[64];
    snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)(unix_ms % 1000));
    cJSON_AddStringToObject(o, key, buf);
}

static const char *stage_state_name(stage_state s)
{
    static const char *names[] = {"waiting", "running", "succeeded", "failed"};
    return names[s];
}

static const char *op_kind_name(Millrace__OpKind k)
{
    switch (k) {
    case MILLRACE__OP_KIND__OP_SCAN: return "scan";
    case MILLRACE__OP_KIND__OP_SHUFFLE_READ: return "shuffle_read";
    case MILLRACE__OP_KIND__OP_FILTER: return "filter";
    case MILLRACE__OP_KIND__OP_PROJECT: return "project";
    case MILLRACE__OP_KIND__OP_AGG_PARTIAL: return "partial_aggregate";
    case MILLRACE__OP_KIND__OP_AGG_FINAL: return "final_aggregate";
    default: return "unknown";
    }
}

/* The job as the API shows it; call with the lock held. */
static cJSON *job_json(const job *j, int full)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", j->id);
    cJSON_AddStringToObject(o, "name", j->name);
    cJSON_AddStringToObject(o, "state", coord_job_state_name(j->state));
    add_time(o, "submitted_at", j->submitted_at);
    add_time(o, "started_at", j->started_at);
    add_time(o, "finished_at", j->finished_at);
    if (j->error)
        cJSON_AddStringToObject(o, "error", j->error);
    else
        cJSON_AddNullToObject(o, "error");
    if (!full)
        return o;
    cJSON *params = cJSON_Parse(j->params_json);
    cJSON_AddItemToObject(o, "params", params ? params : cJSON_CreateObject());
    cJSON *stages = cJSON_AddArrayToObject(o, "stages");
    cJSON *outputs = cJSON_AddArrayToObject(o, "outputs");
    for (uint32_t s = 0; s < j->nstages; s++) {
        const stage_rt *st = &j->stages[s];
        cJSON *so = cJSON_CreateObject();
        cJSON_AddNumberToObject(so, "id", st->plan->id);
        cJSON *ops = cJSON_AddArrayToObject(so, "operators");
        for (size_t i = 0; i < st->plan->n_ops; i++) {
            char buf[160];
            snprintf(buf, sizeof buf, "%s %s", op_kind_name(st->plan->ops[i]->kind),
                     st->plan->ops[i]->node);
            cJSON_AddItemToArray(ops, cJSON_CreateString(buf));
        }
        if (st->plan->write) {
            char buf[160];
            snprintf(buf, sizeof buf, "write %s", st->plan->write->node);
            cJSON_AddItemToArray(ops, cJSON_CreateString(buf));
        }
        unsigned counts[4] = {0, 0, 0, 0}, retried = 0;
        uint64_t rows_in = 0, rows_out = 0, shuffled = 0, read = 0;
        for (uint32_t t = 0; t < st->ntasks; t++) {
            counts[st->tasks[t].state]++;
            retried += st->tasks[t].retried;
            rows_in += st->tasks[t].rows_in;
            rows_out += st->tasks[t].rows_out;
            shuffled += st->tasks[t].bytes_shuffled;
            read += st->tasks[t].bytes_read;
        }
        cJSON_AddNumberToObject(so, "partitions", st->ntasks);
        cJSON *tasks = cJSON_AddObjectToObject(so, "tasks");
        cJSON_AddNumberToObject(tasks, "total", st->ntasks);
        cJSON_AddNumberToObject(tasks, "running", counts[TASK_RUNNING]);
        cJSON_AddNumberToObject(tasks, "succeeded", counts[TASK_DONE]);
        cJSON_AddNumberToObject(tasks, "failed", counts[TASK_FAILED]);
        cJSON_AddNumberToObject(tasks, "retried", retried);
        cJSON_AddNumberToObject(so, "rows_in", (double)rows_in);
        cJSON_AddNumberToObject(so, "rows_out", (double)rows_out);
        cJSON_AddNumberToObject(so, "bytes_read", (double)read);
        cJSON_AddNumberToObject(so, "bytes_shuffled", (double)shuffled);
        cJSON_AddStringToObject(so, "state", stage_state_name(st->state));
        cJSON_AddItemToArray(stages, so);
        if (st->plan->write) {
            cJSON *out = cJSON_CreateObject();
            const Millrace__WriteSpec *w = st->plan->write;
            char target[600];
            snprintf(target, sizeof target, "%s:%s", w->target, w->table);
            cJSON_AddStringToObject(out, "node", w->node);
            cJSON_AddStringToObject(out, "target", target);
            cJSON_AddNumberToObject(out, "rows", (double)j->output_rows[s]);
            cJSON_AddItemToArray(outputs, out);
        }
    }
    cJSON_AddNumberToObject(o, "rejected_rows", 0);
    return o;
}

/* Constant-time comparison so a wrong token leaks nothing through timing. */
static int token_ok(struct MHD_Connection *con)
{
    const char *tok = g_coord->token;
    if (!tok)
        return 1;
    const char *h = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Authorization");
    if (!h || strncmp(h, "Bearer ", 7) != 0)
        return 0;
    h += 7;
    size_t a = strlen(h), b = strlen(tok);
    unsigned char diff = (unsigned char)(a != b);
    for (size_t i = 0; i < b; i++)
        diff |= (unsigned char)(tok[i] ^ (i < a ? h[i] : 0));
    return diff == 0;
}

/* Splits a submit/validate body into YAML text and params.  Returns 0, or
 * a negative value after queueing an error reply into *ret. */
typedef struct submit_req {
    const char *yaml;
    size_t yaml_len;
    cJSON *json;      /* owns the strings below when the body was JSON */
    mr_param params[64];
    size_t nparams;
    char *params_json;
    const char *base_dir;
} submit_req;

static int parse_submit(struct MHD_Connection *con, const req_body *b, submit_req *r,
                        enum MHD_Result *ret)
{
    memset(r, 0, sizeof *r);
    const char *ct = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Content-Type");
    if (ct && strncmp(ct, "application/json", 16) == 0) {
        const char *end = NULL;
        r->json = cJSON_ParseWithLengthOpts(b->buf ? b->buf : "", b->len, &end, 0);
        if (!r->json || !cJSON_IsObject(r->json)) {
            char msg[200];
            snprintf(msg, sizeof msg, "malformed JSON body near byte %ld",
                     end && b->buf ? (long)(end - b->buf) : 0L);
            *ret = reply_error(con, 400, "bad_request", msg);
            return -1;
        }
        cJSON *dag = cJSON_GetObjectItemCaseSensitive(r->json, "dag");
        if (!cJSON_IsString(dag)) {
            *ret = reply_error(con, 400, "bad_request", "JSON body needs a \"dag\" string");
            return -1;
        }
        r->yaml = dag->valuestring;
        r->yaml_len = strlen(dag->valuestring);
        cJSON *params = cJSON_GetObjectItemCaseSensitive(r->json, "params");
        if (params && !cJSON_IsNull(params)) {
            if (!cJSON_IsObject(params)) {
                *ret = reply_error(con, 400, "bad_request", "\"params\" must be an object");
                return -1;
            }
            cJSON *p;
            cJSON_ArrayForEach(p, params)
            {
                if (!cJSON_IsString(p) || r->nparams == 64) {
                    *ret = reply_error(con, 400, "bad_request",
                                       "\"params\" values must be strings (at most 64)");
                    return -1;
                }
                r->params[r->nparams].key = p->string;
                r->params[r->nparams].value = p->valuestring;
                r->nparams++;
            }
            r->params_json = cJSON_PrintUnformatted(params);
        }
        cJSON *bd = cJSON_GetObjectItemCaseSensitive(r->json, "base_dir");
        if (bd && cJSON_IsString(bd)) {
            if (bd->valuestring[0] != '/' || !coord_path_under(g_coord->data_root, bd->valuestring)) {
                *ret = reply_error(con, 400, "bad_request",
                                   "\"base_dir\" must be an absolute folder under the data root");
                return -1;
            }
            r->base_dir = bd->valuestring;
        }
    } else {
        r->yaml = b->buf ? b->buf : "";
        r->yaml_len = b->len;
    }
    return 0;
}

static void submit_free(submit_req *r)
{
    cJSON_Delete(r->json);
    free(r->params_json);
}

static uint32_t default_partitions(void)
{
    if (g_coord->partitions)
        return g_coord->partitions;
    unsigned slots = 0;
    pthread_mutex_lock(&g_coord->mu);
    for (int e = 0; e < g_coord->nexecs; e++)
        if (g_coord->execs[e].state == EXEC_ALIVE)
            slots += g_coord->execs[e].slots;
    pthread_mutex_unlock(&g_coord->mu);
    return slots < 2 ? 4 : slots > 64 ? 64 : slots;
}

static enum MHD_Result reply_diags(struct MHD_Connection *con, const mr_diags *d)
{
    cJSON *root = error_obj("invalid_dag", "the DAG is invalid");
    cJSON *e = cJSON_GetObjectItem(root, "error");
    cJSON *errs = cJSON_AddArrayToObject(e, "errors");
    for (size_t i = 0; i < d->n; i++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "line", d->items[i].line);
        cJSON_AddNumberToObject(x, "column", d->items[i].column);
        if (d->items[i].node)
            cJSON_AddStringToObject(x, "node", d->items[i].node);
        else
            cJSON_AddNullToObject(x, "node");
        cJSON_AddStringToObject(x, "message", d->items[i].message);
        cJSON_AddItemToArray(errs, x);
    }
    if (d->n > 0)
        cJSON_ReplaceItemInObject(e, "message", cJSON_CreateString(d->items[0].message));
    return reply_json(con, 400, root, NULL);
}

static enum MHD_Result handle_submit(struct MHD_Connection *con, const req_body *b, int validate)
{
    enum MHD_Result ret = MHD_NO;
    submit_req r;
    if (parse_submit(con, b, &r, &ret) < 0) {
        submit_free(&r);
        return ret;
    }
    mr_dag_options opt = {.file = "<request>", .params = r.params, .nparams = r.nparams,
                          .getenv = NULL, .partitions = default_partitions()};
    Millrace__JobPlan *plan = NULL;
    mr_diags diags = {0};
    if (mr_dag_compile(r.yaml, r.yaml_len, &opt, &plan, &diags) < 0) {
        ret = reply_diags(con, &diags);
        mr_diags_free(&diags);
        submit_free(&r);
        return ret;
    }
    mr_diags_free(&diags);
    if (validate) {
        char *pj = mr_plan_json(plan);
        millrace__job_plan__free_unpacked(plan, NULL);
        cJSON *root = cJSON_CreateObject();
        cJSON_AddBoolToObject(root, "valid", 1);
        cJSON *pl = pj ? cJSON_Parse(pj) : NULL;
        free(pj);
        cJSON_AddItemToObject(root, "plan", pl ? pl : cJSON_CreateNull());
        submit_free(&r);
        return reply_json(con, 200, root, NULL);
    }
    char *plan_json = mr_plan_json(plan);
    pthread_mutex_lock(&g_coord->mu);
    job *j = coord_job_add(g_coord, plan, r.base_dir, r.params_json);
    if (!j) {
        pthread_mutex_unlock(&g_coord->mu);
        millrace__job_plan__free_unpacked(plan, NULL);
        free(plan_json);
        submit_free(&r);
        return reply_error(con, 500, "internal", "out of memory");
    }
    j->plan_json = plan_json;
    cJSON *o = job_json(j, 1);
    char location[80];
    snprintf(location, sizeof location, "/v1/jobs/%s", j->id);
    pthread_mutex_unlock(&g_coord->mu);
    submit_free(&r);
    return reply_json(con, 201, o, location);
}

static enum MHD_Result handle_jobs_list(struct MHD_Connection *con)
{
    const char *state = MHD_lookup_connection_value(con, MHD_GET_ARGUMENT_KIND, "state");
    const char *lim = MHD_lookup_connection_value(con, MHD_GET_ARGUMENT_KIND, "limit");
    long limit = 100;
    if (lim) {
        char *end;
        limit = strtol(lim, &end, 10);
        if (*end || limit < 1 || limit > 10000)
            return reply_error(con, 400, "bad_request", "limit must be a number from 1 to 10000");
    }
    if (state && strcmp(state, "queued") && strcmp(state, "running") &&
        strcmp(state, "succeeded") && strcmp(state, "failed") && strcmp(state, "cancelled"))
        return reply_error(con, 400, "bad_request",
                           "state must be queued, running, succeeded, failed or cancelled");
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(root, "jobs");
    pthread_mutex_lock(&g_coord->mu);
    long n = 0;
    for (job *j = g_coord->jobs; j && n < limit; j = j->next)
        if (!state || strcmp(state, coord_job_state_name(j->state)) == 0) {
            cJSON_AddItemToArray(arr, job_json(j, 0));
            n++;
        }
    pthread_mutex_unlock(&g_coord->mu);
    return reply_json(con, 200, root, NULL);
}

static enum MHD_Result handle_job(struct MHD_Connection *con, const char *method, const char *id,
                                  const char *sub)
{
    pthread_mutex_lock(&g_coord->mu);
    job *j = coord_job_find(g_coord, id);
    if (!j) {
        pthread_mutex_unlock(&g_coord->mu);
        char msg[200];
        snprintf(msg, sizeof msg, "no job '%.64s'", id);
        return reply_error(con, 404, "not_found", msg);
    }
    cJSON *o = NULL;
    unsigned status = 200;
    const char *err_code = NULL, *err_msg = NULL;
    if (!sub[0]) {
        if (strcmp(method, "GET") == 0)
            o = job_json(j, 1);
        else
            status = 405;
    } else if (strcmp(sub, "/plan") == 0) {
        if (strcmp(method, "GET") == 0)
            o = j->plan_json ? cJSON_Parse(j->plan_json) : cJSON_CreateObject();
        else
            status = 405;
    } else if (strcmp(sub, "/cancel") == 0) {
        if (strcmp(method, "POST") != 0) {
            status = 405;
        } else if (j->state >= JOB_SUCCEEDED) {
            status = 409;
            err_code = "conflict";
            err_msg = "the job has already finished";
        } else {
            coord_job_cancel(g_coord, j);
            status = 202;
            o = job_json(j, 0);
        }
    } else {
        status = 404;
        err_code = "not_found";
        err_msg = "no such resource";
    }
    pthread_mutex_unlock(&g_coord->mu);
    if (status == 405)
        return reply_error(con, 405, "method_not_allowed", "method not allowed on this resource");
    if (err_code)
        return reply_error(con, status, err_code, err_msg);
    return reply_json(con, status, o ? o : cJSON_CreateObject(), NULL);
}

static enum MHD_Result handle_executors(struct MHD_Connection *con)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(root, "executors");
    uint64_t now = coord_now_ms();
    pthread_mutex_lock(&g_coord->mu);
    for (int e = 0; e < g_coord->nexecs; e++) {
        const exec_rt *x = &g_coord->execs[e];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", x->id);
        cJSON_AddStringToObject(o, "address", x->address);
        cJSON_AddStringToObject(o, "state", x->state == EXEC_ALIVE ? "alive" : "lost");
        cJSON_AddNumberToObject(o, "last_heartbeat_ms", (double)(now - x->last_heartbeat_ms));
        cJSON_AddNumberToObject(o, "running_tasks", x->running);
        cJSON_AddNumberToObject(o, "slots", x->slots);
        cJSON_AddNumberToObject(o, "memory_bytes", (double)x->memory);
        cJSON_AddItemToArray(arr, o);
    }
    pthread_mutex_unlock(&g_coord->mu);
    return reply_json(con, 200, root, NULL);
}

static enum MHD_Result route(struct MHD_Connection *con, const char *url, const char *method,
                             const req_body *b)
{
    int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    if (strcmp(url, "/healthz") == 0) {
        if (!get)
            return reply_error(con, 405, "method_not_allowed", "use GET");
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "status", "ok");
        return reply_json(con, 200, o, NULL);
    }
    if (!token_ok(con))
        return reply_error(con, 401, "unauthorized",
                           "missing or wrong token: send Authorization: Bearer TOKEN");
    if (b->too_big) {
        char msg[120];
        snprintf(msg, sizeof msg, "request body over the limit of %zu bytes", g_coord->max_body);
        return reply_error(con, 413, "too_large", msg);
    }
    if (strcmp(url, "/v1/jobs") == 0) {
        if (post)
            return handle_submit(con, b, 0);
        if (get)
            return handle_jobs_list(con);
        return reply_error(con, 405, "method_not_allowed", "use GET or POST");
    }
    if (strcmp(url, "/v1/validate") == 0) {
        if (!post)
            return reply_error(con, 405, "method_not_allowed", "use POST");
        return handle_submit(con, b, 1);
    }
    if (strcmp(url, "/v1/executors") == 0) {
        if (!get)
            return reply_error(con, 405, "method_not_allowed", "use GET");
        return handle_executors(con);
    }
    if (strncmp(url, "/v1/jobs/", 9) == 0) {
        char id[64];
        const char *p = url + 9;
        size_t n = strcspn(p, "/");
        if (n == 0 || n >= sizeof id)
            return reply_error(con, 404, "not_found", "no such job");
        memcpy(id, p, n);
        id[n] = '\0';
        return handle_job(con, method, id, p + n);
    }
    return reply_error(con, 404, "not_found", "no such resource");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)cls;
    (void)version;
    req_body *b = *con_cls;
    if (!b) {
        b = calloc(1, sizeof *b);
        if (!b)
            return MHD_NO;
        *con_cls = b;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!b->too_big) {
            if (b->len + *upload_size > g_coord->max_body) {
                b->too_big = 1;
                free(b->buf);
                b->buf = NULL;
                b->len = 0;
            } else {
                if (b->len + *upload_size + 1 > b->cap) {
                    size_t ncap = b->cap ? b->cap : 4096;
                    while (ncap < b->len + *upload_size + 1)
                        ncap *= 2;
                    char *p = realloc(b->buf, ncap);
                    if (!p)
                        return MHD_NO;
                    b->buf = p;
                    b->cap = ncap;
                }
                memcpy(b->buf + b->len, upload, *upload_size);
                b->len += *upload_size;
                b->buf[b->len] = '\0';
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    return route(con, url, method, b);
}

static void on_completed(void *cls, struct MHD_Connection *con, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)con;
    (void)toe;
    req_body *b = *con_cls;
    if (b) {
        free(b->buf);
        free(b);
        *con_cls = NULL;
    }
}

int coord_http_start(mr_coord *c, const char *addr, int *bound_port, char *errbuf, size_t errcap)
{
    g_coord = c;
    char host[128] = "127.0.0.1";
    const char *colon = strrchr(addr, ':');
    const char *port_s = colon ? colon + 1 : addr;
    if (colon && colon != addr) {
        size_t n = (size_t)(colon - addr);
        if (n >= sizeof host)
            n = sizeof host - 1;
        memcpy(host, addr, n);
        host[n] = '\0';
    }
    char *end;
    long port = strtol(port_s, &end, 10);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (*end || port < 0 || port > 65535 || inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        snprintf(errbuf, errcap, "bad --http address '%s': want HOST:PORT, e.g. 127.0.0.1:8080",
                 addr);
        return -1;
    }
    g_daemon = MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, (uint16_t)port, NULL, NULL, on_request,
        NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_THREAD_POOL_SIZE, 4,
        MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_CONNECTION_LIMIT, 512u,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
    if (!g_daemon) {
        snprintf(errbuf, errcap, "cannot listen on %s (address in use?)", addr);
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(g_daemon, MHD_DAEMON_INFO_BIND_PORT);
    *bound_port = info ? info->port : (int)port;
    return 0;
}

void coord_http_stop(void)
{
    if (g_daemon)
        MHD_stop_daemon(g_daemon);
    g_daemon = NULL;
}
