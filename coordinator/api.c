/* api.c - the coordinator's REST API over libmicrohttpd.
 *
 * Requests are served on MHD's own threads; each handler takes the
 * coordinator lock only to read or change job state, never while parsing
 * or compiling a DAG.  docs/api.md describes the API for people and
 * docs/openapi.json (embedded at build time, served at /v1/openapi.json)
 * for programs; this file implements exactly that document.
 *
 * A request goes through these gates before its handler runs, in this
 * order: the Host (a name a browser could have been rebound to is refused:
 * only IP addresses, localhost and --allow-host names), the Origin (a
 * browser request from another site is refused, so a web page cannot
 * submit jobs), authentication (every route but /healthz needs the bearer
 * token when one is configured; the scheme in any case, the token compared
 * in constant time, never logged), the route (404 for unknown paths), the
 * method (405 with an Allow header), the body limit (413 beyond
 * c->max_body bytes) and, for a body, its Content-Type (415 unless JSON or
 * YAML: a form or text/plain post is what a page can send without asking).
 * The first call for a request only sees headers: it decides whether the
 * body is worth keeping (POST, allowed, not declared too large), so a
 * refused or oversized upload is read and dropped instead of buffered.
 *
 * Slow clients: MHD closes a connection idle for c->http_timeout_s
 * seconds, and a reaper thread closes one whose request has not fully
 * arrived c->http_timeout_s seconds after it began (a client trickling a
 * header line now and then is never idle); one address holds at most
 * HTTP_PER_IP connections of the HTTP_CONNECTIONS there are.
 *
 * The web UI's files under /ui/ (ui.c) pass the Host and Origin gates but
 * need no token: they hold no data, and the page's API calls carry it.
 *
 * Error bodies are {"error": {"code", "message", ...}}; strings that come
 * from clients (ids, DAG text quoted in messages, names, params) are made
 * valid UTF-8 before they go into a response, so every response parses.
 */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <fnmatch.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "coordinator/coordinator.h"
#include "coordinator/metrics.h"
#include "coordinator/ui.h"
#include "coordinator/store.h"
#include "coordinator/schedules.h"
#include "core/log.h"
#include "core/utf8.h"
#include "dag/dag.h"
#include "proto/plan_names.h"

#define HTTP_CONNECTIONS 512u
#define HTTP_PER_IP 128u /* loopback is one address: the CLI and local tools share it */

static struct MHD_Daemon *g_daemon;
static mr_coord *g_coord;

/* Per-request state, created at the first call for a request. */
typedef struct req_body {
    char *buf;
    size_t len, cap;
    int keep;     /* store the body (else it is read and dropped) */
    int too_big;  /* over c->max_body, declared or seen */
    int authorized;
    const char *refused_code; /* a Host or Origin refusal: 403 with this code */
    char refused[200];
} req_body;

/* ---- connection deadlines ---- */

/* One open connection, for the reaper: when its current request began
 * (the connection opened or the previous request ended) and whether a
 * handler is working on it (a compile is not the client's slowness). */
typedef struct conn_slot {
    int fd;
    uint64_t since_ms;
    int busy;
    int reaped;
    struct conn_slot *prev, *next;
} conn_slot;

static pthread_mutex_t g_conn_mu = PTHREAD_MUTEX_INITIALIZER;
static conn_slot *g_conns;
static pthread_t g_reaper;
static int g_reaper_on;
static atomic_int g_reaper_stop;

static conn_slot *slot_of(struct MHD_Connection *con)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(con, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void slot_mark(struct MHD_Connection *con, int busy)
{
    conn_slot *s = slot_of(con);
    if (!s)
        return;
    pthread_mutex_lock(&g_conn_mu);
    s->busy = busy;
    if (!busy)
        s->since_ms = coord_now_ms();
    pthread_mutex_unlock(&g_conn_mu);
}

static void on_connection(void *cls, struct MHD_Connection *con, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    (void)cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(con, MHD_CONNECTION_INFO_CONNECTION_FD);
        conn_slot *s = ci ? calloc(1, sizeof *s) : NULL;
        if (!s)
            return; /* only unwatched: MHD's idle timeout still applies */
        s->fd = ci->connect_fd;
        s->since_ms = coord_now_ms();
        pthread_mutex_lock(&g_conn_mu);
        s->next = g_conns;
        if (g_conns)
            g_conns->prev = s;
        g_conns = s;
        pthread_mutex_unlock(&g_conn_mu);
        *socket_context = s;
        return;
    }
    /* closed: MHD closes the socket after this returns, so the reaper,
     * which only touches listed slots under the lock, never shuts down a
     * reused descriptor. */
    conn_slot *s = *socket_context;
    if (!s)
        return;
    pthread_mutex_lock(&g_conn_mu);
    if (s->prev)
        s->prev->next = s->next;
    else
        g_conns = s->next;
    if (s->next)
        s->next->prev = s->prev;
    pthread_mutex_unlock(&g_conn_mu);
    free(s);
    *socket_context = NULL;
}

/* Shuts down connections whose request is overdue; MHD then sees the
 * socket closed and cleans up in its own thread. */
static void *reaper_main(void *arg)
{
    uint64_t limit_ms = (uint64_t)(uintptr_t)arg;
    while (!atomic_load(&g_reaper_stop)) {
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
        uint64_t now = coord_now_ms();
        pthread_mutex_lock(&g_conn_mu);
        for (conn_slot *s = g_conns; s; s = s->next)
            if (!s->busy && !s->reaped && now - s->since_ms > limit_ms) {
                shutdown(s->fd, SHUT_RDWR);
                s->reaped = 1;
            }
        pthread_mutex_unlock(&g_conn_mu);
    }
    return NULL;
}

/* ---- responses ---- */

static enum MHD_Result reply_raw(struct MHD_Connection *con, unsigned status, char *text,
                                 size_t len, const char *content_type, const char *hname,
                                 const char *hvalue)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", content_type);
    if (hname)
        MHD_add_response_header(r, hname, hvalue);
    enum MHD_Result ret = MHD_queue_response(con, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Sends obj (consumed) as JSON with an optional extra header. */
static enum MHD_Result reply_json_h(struct MHD_Connection *con, unsigned status, cJSON *obj,
                                    const char *hname, const char *hvalue)
{
    char *text = cJSON_PrintUnformatted(obj);
    cJSON_Delete(obj);
    if (!text)
        return MHD_NO;
    return reply_raw(con, status, text, strlen(text), "application/json", hname, hvalue);
}

static enum MHD_Result reply_json(struct MHD_Connection *con, unsigned status, cJSON *obj)
{
    return reply_json_h(con, status, obj, NULL, NULL);
}

/* A copy of s (malloc'd; NULL when out of memory) made valid UTF-8 by
 * core/utf8.h's one policy, with '?' for each ill-formed sequence (maximal
 * subpart).  cJSON escapes control characters itself but passes other
 * bytes through as they are. */
static char *utf8_clean(const char *s)
{
    return mr_utf8_clean_with(s, strlen(s), "?");
}

/* Adds key: s (NULL: null) to o, cleaned to valid UTF-8. */
static void add_str(cJSON *o, const char *key, const char *s)
{
    if (!s) {
        cJSON_AddNullToObject(o, key);
        return;
    }
    char *c = utf8_clean(s);
    cJSON_AddStringToObject(o, key, c ? c : "");
    free(c);
}

static cJSON *error_obj(const char *code, const char *message)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(root, "error");
    cJSON_AddStringToObject(e, "code", code);
    add_str(e, "message", message);
    return root;
}

static enum MHD_Result reply_error(struct MHD_Connection *con, unsigned status, const char *code,
                                   const char *message)
{
    return reply_json(con, status, error_obj(code, message));
}

static enum MHD_Result reply_405(struct MHD_Connection *con, const char *allow)
{
    char msg[96];
    snprintf(msg, sizeof msg, "method not allowed here: use %s", allow);
    return reply_json_h(con, 405, error_obj("method_not_allowed", msg), "Allow", allow);
}

/* ---- the job as the API shows it ---- */

void coord_json_time(cJSON *o, const char *key, int64_t unix_ms)
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
    static const char *names[] = {"waiting", "running", "succeeded", "failed", "cancelled"};
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
    case MILLRACE__OP_KIND__OP_CHECK: return "check";
    default: return "unknown";
    }
}

static void add_operator(cJSON *ops, const char *kind, const char *node)
{
    char buf[200];
    snprintf(buf, sizeof buf, "%s %s", kind, node);
    char *c = utf8_clean(buf);
    cJSON_AddItemToArray(ops, cJSON_CreateString(c ? c : ""));
    free(c);
}

static cJSON *stage_json(const job *j, uint32_t s)
{
    const stage_rt *st = &j->stages[s];
    cJSON *so = cJSON_CreateObject();
    cJSON_AddNumberToObject(so, "id", st->plan->id);
    cJSON *ops = cJSON_AddArrayToObject(so, "operators");
    for (size_t i = 0; i < st->plan->n_ops; i++)
        add_operator(ops, op_kind_name(st->plan->ops[i]->kind), st->plan->ops[i]->node);
    if (st->plan->write)
        add_operator(ops, "write", st->plan->write->node);
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
    return so;
}

/* The job as the API shows it: the summary, or with full, its params,
 * stages and outputs too.  Call with the lock held. */
cJSON *coord_job_json(const job *j, int full)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", j->id);
    char *name = j->name ? mr_redact(j->name, &j->secrets) : NULL;
    add_str(o, "name", name ? name : j->name ? "***" : NULL);
    free(name);
    cJSON_AddStringToObject(o, "state", coord_job_state_name(j->state));
    coord_json_time(o, "submitted_at", j->submitted_at);
    coord_json_time(o, "started_at", j->started_at);
    coord_json_time(o, "finished_at", j->finished_at);
    add_str(o, "error", j->error);
    if (!full)
        return o;
    cJSON *params = cJSON_CreateObject();
    cJSON *given = cJSON_Parse(j->params_json), *p;
    cJSON_ArrayForEach(p, given)
    {
        if (!cJSON_IsString(p))
            continue;
        char *k = utf8_clean(p->string);
        add_str(params, k ? k : "", p->valuestring);
        free(k);
    }
    cJSON_Delete(given);
    cJSON_AddItemToObject(o, "params", params);
    cJSON *stages = cJSON_AddArrayToObject(o, "stages");
    cJSON *outputs = cJSON_AddArrayToObject(o, "outputs");
    for (uint32_t s = 0; s < j->nstages; s++) {
        cJSON_AddItemToArray(stages, stage_json(j, s));
        const Millrace__WriteSpec *w = j->stages[s].plan->write;
        if (w) {
            cJSON *out = cJSON_CreateObject();
            char target[600];
            snprintf(target, sizeof target, "%s:%s", mr_plan_name(mr_plan_target_names, w->target),
                     w->target == MILLRACE__WRITE_TARGET__TARGET_WAREHOUSE ? w->table
                     : j->out_paths && j->out_paths[s] ? j->out_paths[s] /* once started */
                                                         : w->path);
            char *shown = mr_redact(target, &j->secrets);
            add_str(out, "node", w->node);
            add_str(out, "target", shown ? shown : "***");
            free(shown);
            cJSON_AddNumberToObject(out, "rows", (double)j->output_rows[s]);
            cJSON_AddItemToArray(outputs, out);
        }
    }
    cJSON_AddNumberToObject(o, "rejected_rows", (double)j->rejected_rows);
    cJSON_AddNumberToObject(o, "row_groups_skipped", (double)j->groups_skipped);
    cJSON_AddItemToObject(o, "bookmarks", coord_bm_json(j));
    cJSON *checks = cJSON_AddArrayToObject(o, "checks");
    for (int i = 0; i < j->nchecks; i++) {
        const job_check *x = &j->checks[i];
        cJSON *c = cJSON_CreateObject();
        add_str(c, "node", x->node);
        add_str(c, "rule", x->rule);
        add_str(c, "kind", x->kind);
        add_str(c, "action", x->action);
        cJSON_AddNumberToObject(c, "rows_checked", (double)x->rows_checked);
        cJSON_AddNumberToObject(c, "rows_failed", (double)x->rows_failed);
        cJSON_AddBoolToObject(c, "passed", x->passed);
        cJSON *sample = x->sample ? cJSON_Parse(x->sample) : NULL;
        cJSON_AddItemToObject(c, "sample", sample ? sample : cJSON_CreateArray());
        cJSON_AddItemToArray(checks, c);
    }
    return o;
}

/* ---- auth ---- */

/* Constant-time comparison so a wrong token leaks nothing through timing
 * (only the length of the configured token, which the loop always walks). */
static int token_ok(struct MHD_Connection *con)
{
    const char *tok = g_coord->token;
    if (!tok)
        return 1;
    const char *h = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return 0;
    h += 7;
    while (*h == ' ')
        h++;
    size_t a = strlen(h), b = strlen(tok);
    unsigned char diff = (unsigned char)(a != b);
    for (size_t i = 0; i < b; i++)
        diff |= (unsigned char)(tok[i] ^ (i < a ? h[i] : 0));
    return diff == 0;
}

/* Whether a Host header names this server in a way no web page can
 * choose: an IP address or localhost (any port: containers and proxies
 * remap ports), or a name given with --allow-host.  A browser sends the
 * name of the site it loaded, so DNS rebinding shows up here as the
 * attacker's name.  No Host (HTTP/1.0) is not a browser. */
static int host_ok(const char *host)
{
    if (!host)
        return 1;
    char name[256];
    const char *rest;
    if (host[0] == '[') {
        const char *e = strchr(host, ']');
        if (!e || (size_t)(e - host - 1) >= sizeof name)
            return 0;
        memcpy(name, host + 1, (size_t)(e - host - 1));
        name[e - host - 1] = '\0';
        struct in6_addr a6;
        if (inet_pton(AF_INET6, name, &a6) != 1)
            return 0;
        rest = e + 1;
        return rest[0] == '\0' || (rest[0] == ':' && strspn(rest + 1, "0123456789") == strlen(rest + 1));
    }
    size_t n = strcspn(host, ":");
    if (n >= sizeof name)
        return 0;
    memcpy(name, host, n);
    name[n] = '\0';
    rest = host + n;
    if (rest[0] && (rest[0] != ':' || strspn(rest + 1, "0123456789") != strlen(rest + 1)))
        return 0;
    struct in_addr a4;
    if (strcasecmp(name, "localhost") == 0 || inet_pton(AF_INET, name, &a4) == 1)
        return 1;
    for (size_t i = 0; i < g_coord->nallow_hosts; i++)
        if (strcmp(g_coord->allow_hosts[i], "*") == 0 ||
            strcasecmp(g_coord->allow_hosts[i], name) == 0 ||
            strcasecmp(g_coord->allow_hosts[i], host) == 0)
            return 1;
    return 0;
}

/* A browser names the page's origin on cross-site requests (and on every
 * POST); programs send none.  Refused unless it is this server itself (the
 * origin of the Host asked for) or an --allow-origin. */
static int origin_ok(const char *origin, const char *host)
{
    if (!origin)
        return 1;
    for (size_t i = 0; i < g_coord->nallow_origins; i++)
        if (strcmp(g_coord->allow_origins[i], "*") == 0 ||
            strcasecmp(g_coord->allow_origins[i], origin) == 0)
            return 1;
    if (host) {
        char self[300];
        snprintf(self, sizeof self, "http://%s", host);
        if (strcasecmp(self, origin) == 0)
            return 1;
    }
    return 0;
}

/* A submit or validate body must say it is JSON or YAML.  Forms and
 * text/plain (what a web page may post without asking the server first)
 * are refused, so a page cannot submit a DAG even with no token set. */
static int content_type_ok(const char *ct)
{
    static const char *const ok[] = {"application/json", "application/yaml",
                                     "application/x-yaml", "text/yaml", NULL};
    if (!ct)
        return 0;
    while (*ct == ' ')
        ct++;
    size_t n = strcspn(ct, "; \t");
    for (int i = 0; ok[i]; i++)
        if (strlen(ok[i]) == n && strncasecmp(ct, ok[i], n) == 0)
            return 1;
    return 0;
}

/* ---- submit and validate ---- */

/* Splits a submit/validate body into YAML text and params. */
typedef struct submit_req {
    const char *yaml;
    size_t yaml_len;
    cJSON *json;      /* owns the strings below when the body was JSON */
    mr_param params[64];
    size_t nparams;
    char *params_json;
    const char *base_dir;
    int full_refresh; /* "full_refresh": true, or ?full_refresh=true */
} submit_req;

/* 400 for malformed JSON, saying where (byte, line, column). */
static enum MHD_Result reply_bad_json(struct MHD_Connection *con, const req_body *b,
                                      const char *end)
{
    size_t off = end && b->buf && end >= b->buf ? (size_t)(end - b->buf) : 0;
    if (off > b->len)
        off = b->len;
    unsigned line = 1, col = 1;
    for (size_t i = 0; i < off; i++) {
        if (b->buf[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    char msg[200];
    snprintf(msg, sizeof msg, "malformed JSON body near line %u, column %u (byte %zu)", line, col,
             off);
    cJSON *root = error_obj("bad_request", msg);
    cJSON *e = cJSON_GetObjectItem(root, "error");
    cJSON_AddNumberToObject(e, "line", line);
    cJSON_AddNumberToObject(e, "column", col);
    return reply_json(con, 400, root);
}

/* The params as a job document keeps and shows them: the value of a
 * secret-looking param (mr_param_is_secret) is "***", and DSN passwords
 * are masked in the others.  A job is kept for --history jobs; its
 * params must not carry a password that long. */
static char *params_shown(const cJSON *params)
{
    cJSON *o = cJSON_CreateObject();
    const cJSON *p;
    cJSON_ArrayForEach(p, params)
    {
        char *v = mr_param_is_secret(p->string, NULL) ? strdup("***")
                                                      : mr_redact(p->valuestring, NULL);
        cJSON_AddStringToObject(o, p->string, v ? v : "***");
        free(v);
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

/* Returns 0, or -1 after queueing an error reply into *ret. */
static int parse_submit(struct MHD_Connection *con, const req_body *b, submit_req *r,
                        enum MHD_Result *ret)
{
    memset(r, 0, sizeof *r);
    const char *fr = MHD_lookup_connection_value(con, MHD_GET_ARGUMENT_KIND, "full_refresh");
    if (fr && strcmp(fr, "true") && strcmp(fr, "false") && strcmp(fr, "1") && strcmp(fr, "0")) {
        *ret = reply_error(con, 400, "bad_request", "full_refresh must be true or false");
        return -1;
    }
    r->full_refresh = fr && (strcmp(fr, "true") == 0 || strcmp(fr, "1") == 0);
    const char *ct = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Content-Type");
    if (!ct || strncasecmp(ct, "application/json", 16) != 0) {
        r->yaml = b->buf ? b->buf : "";
        r->yaml_len = b->len;
        return 0;
    }
    const char *end = NULL;
    /* len + 1 takes in the terminating NUL, so trailing junk is an error. */
    r->json = b->buf ? cJSON_ParseWithLengthOpts(b->buf, b->len + 1, &end, 1) : NULL;
    if (!r->json) {
        *ret = reply_bad_json(con, b, end);
        return -1;
    }
    if (!cJSON_IsObject(r->json)) {
        *ret = reply_error(con, 400, "bad_request", "the JSON body must be an object with \"dag\"");
        return -1;
    }
    cJSON *dag = cJSON_GetObjectItemCaseSensitive(r->json, "dag");
    if (!cJSON_IsString(dag)) {
        *ret = reply_error(con, 400, "bad_request", "the JSON body needs a \"dag\" string");
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
        r->params_json = params_shown(params);
    }
    cJSON *frj = cJSON_GetObjectItemCaseSensitive(r->json, "full_refresh");
    if (frj && !cJSON_IsNull(frj)) {
        if (!cJSON_IsBool(frj)) {
            *ret = reply_error(con, 400, "bad_request", "\"full_refresh\" must be true or false");
            return -1;
        }
        r->full_refresh |= cJSON_IsTrue(frj);
    }
    cJSON *bd = cJSON_GetObjectItemCaseSensitive(r->json, "base_dir");
    if (bd && !cJSON_IsNull(bd)) {
        if (!cJSON_IsString(bd) || bd->valuestring[0] != '/' ||
            !coord_path_under(g_coord->data_root, bd->valuestring)) {
            *ret = reply_error(con, 400, "bad_request",
                               "\"base_dir\" must be an absolute folder under the data root");
            return -1;
        }
        r->base_dir = bd->valuestring;
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
    return mr_dag_partitions_for_slots(slots);
}

static enum MHD_Result reply_diags(struct MHD_Connection *con, const mr_diags *d)
{
    cJSON *root = error_obj("invalid_dag", d->n > 0 ? d->items[0].message : "the DAG is invalid");
    cJSON *e = cJSON_GetObjectItem(root, "error");
    cJSON *errs = cJSON_AddArrayToObject(e, "errors");
    for (size_t i = 0; i < d->n; i++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "line", d->items[i].line);
        cJSON_AddNumberToObject(x, "column", d->items[i].column);
        add_str(x, "node", d->items[i].node);
        add_str(x, "message", d->items[i].message);
        cJSON_AddItemToArray(errs, x);
    }
    return reply_json(con, 400, root);
}

/* The plan as the API shows it (validate, GET /v1/jobs/ID/plan): JSON of
 * a copy with secrets and DSN passwords masked; the plan that runs keeps
 * the real values.  NULL when out of memory. */
static char *plan_json_shown(const Millrace__JobPlan *plan, const mr_dag_secrets *secrets)
{
    size_t size = millrace__job_plan__get_packed_size(plan);
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return NULL;
    millrace__job_plan__pack(plan, buf);
    Millrace__JobPlan *copy = millrace__job_plan__unpack(NULL, size, buf);
    free(buf);
    char *text = copy && mr_plan_redact(copy, secrets) == 0 ? mr_plan_json(copy) : NULL;
    if (copy)
        millrace__job_plan__free_unpacked(copy, NULL);
    return text;
}

static enum MHD_Result handle_submit(struct MHD_Connection *con, const req_body *b, int validate)
{
    enum MHD_Result ret = MHD_NO;
    submit_req r;
    mr_dag_secrets secrets = {0};
    if (parse_submit(con, b, &r, &ret) < 0) {
        submit_free(&r);
        return ret;
    }
    mr_dag_options opt = {.file = "<request>", .params = r.params, .nparams = r.nparams,
                          .getenv = NULL, .partitions = default_partitions(),
                          .base_dir = r.base_dir ? r.base_dir : g_coord->data_root,
                          .data_root = g_coord->data_root,
                          .allow_env = g_coord->nallow_env ? g_coord->allow_env : NULL,
                          .nallow_env = g_coord->nallow_env,
                          .secrets = &secrets,
                          .max_nodes = g_coord->max_nodes,
                          .max_compile_ms = g_coord->max_compile_ms};
    Millrace__JobPlan *plan = NULL;
    mr_diags diags = {0};
    if (mr_dag_compile(r.yaml, r.yaml_len, &opt, &plan, &diags) < 0) {
        ret = reply_diags(con, &diags);
        mr_diags_free(&diags);
        mr_dag_secrets_free(&secrets);
        submit_free(&r);
        return ret;
    }
    mr_diags_free(&diags);
    char *plan_json = plan_json_shown(plan, &secrets);
    if (validate) {
        millrace__job_plan__free_unpacked(plan, NULL);
        mr_dag_secrets_free(&secrets);
        cJSON *root = cJSON_CreateObject();
        cJSON_AddBoolToObject(root, "valid", 1);
        cJSON *pl = plan_json ? cJSON_Parse(plan_json) : NULL;
        free(plan_json);
        cJSON_AddItemToObject(root, "plan", pl ? pl : cJSON_CreateObject());
        submit_free(&r);
        return reply_json(con, 200, root);
    }
    pthread_mutex_lock(&g_coord->mu);
    job *j = coord_job_add(g_coord, plan, r.base_dir, r.params_json);
    if (!j) {
        pthread_mutex_unlock(&g_coord->mu);
        millrace__job_plan__free_unpacked(plan, NULL);
        mr_dag_secrets_free(&secrets);
        free(plan_json);
        submit_free(&r);
        return reply_error(con, 500, "internal", "out of memory");
    }
    j->plan_json = plan_json;
    j->secrets = secrets; /* the job owns them now */
    j->full_refresh = r.full_refresh;
    coord_store_job(g_coord, j);
    cJSON *o = coord_job_json(j, 1);
    char location[80];
    snprintf(location, sizeof location, "/v1/jobs/%s", j->id);
    pthread_mutex_unlock(&g_coord->mu);
    submit_free(&r);
    return reply_json_h(con, 201, o, "Location", location);
}

int coord_api_submit_dag(const char *yaml, const cJSON *params, int dry, char **name,
                         char *job_id, size_t cap, char *msg, size_t msg_cap)
{
    mr_param ps[64];
    size_t np = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, params)
    {
        if (np == 64) {
            snprintf(msg, msg_cap, "\"params\": at most 64");
            return -1;
        }
        ps[np].key = p->string;
        ps[np].value = p->valuestring;
        np++;
    }
    mr_dag_secrets secrets = {0};
    mr_dag_options opt = {.file = "<schedule>", .params = ps, .nparams = np, .getenv = NULL,
                          .partitions = default_partitions(), .base_dir = g_coord->data_root,
                          .data_root = g_coord->data_root,
                          .allow_env = g_coord->nallow_env ? g_coord->allow_env : NULL,
                          .nallow_env = g_coord->nallow_env, .secrets = &secrets,
                          .max_nodes = g_coord->max_nodes,
                          .max_compile_ms = g_coord->max_compile_ms};
    Millrace__JobPlan *plan = NULL;
    mr_diags diags = {0};
    if (mr_dag_compile(yaml, strlen(yaml), &opt, &plan, &diags) < 0) {
        if (diags.n > 0)
            snprintf(msg, msg_cap, "invalid DAG: %d:%d: %s", (int)diags.items[0].line,
                     (int)diags.items[0].column, diags.items[0].message);
        else
            snprintf(msg, msg_cap, "invalid DAG");
        mr_diags_free(&diags);
        mr_dag_secrets_free(&secrets);
        return -1;
    }
    mr_diags_free(&diags);
    *name = strdup(plan->name && plan->name[0] ? plan->name : "");
    if (dry) {
        millrace__job_plan__free_unpacked(plan, NULL);
        mr_dag_secrets_free(&secrets);
        return 0;
    }
    char *plan_json = plan_json_shown(plan, &secrets);
    char *params_json = params && cJSON_GetArraySize(params) ? params_shown(params) : NULL;
    pthread_mutex_lock(&g_coord->mu);
    job *j = coord_job_add(g_coord, plan, NULL, params_json);
    if (!j) {
        pthread_mutex_unlock(&g_coord->mu);
        millrace__job_plan__free_unpacked(plan, NULL);
        mr_dag_secrets_free(&secrets);
        free(plan_json);
        free(params_json);
        snprintf(msg, msg_cap, "out of memory");
        return -1;
    }
    j->plan_json = plan_json;
    j->secrets = secrets;
    coord_store_job(g_coord, j);
    snprintf(job_id, cap, "%s", j->id);
    pthread_mutex_unlock(&g_coord->mu);
    free(params_json);
    return 0;
}

/* ---- reading endpoints ---- */

/* Parses ?limit= (1..10000, default dflt); -1 when malformed. */
static long query_limit(struct MHD_Connection *con, long dflt)
{
    const char *lim = MHD_lookup_connection_value(con, MHD_GET_ARGUMENT_KIND, "limit");
    if (!lim)
        return dflt;
    char *end;
    long v = strtol(lim, &end, 10);
    return end == lim || *end || v < 1 || v > 10000 ? -1 : v;
}

static enum MHD_Result handle_jobs_list(struct MHD_Connection *con)
{
    const char *state = MHD_lookup_connection_value(con, MHD_GET_ARGUMENT_KIND, "state");
    long limit = query_limit(con, 100);
    if (limit < 0)
        return reply_error(con, 400, "bad_request", "limit must be a number from 1 to 10000");
    int want = -1;
    if (state) {
        for (int s = JOB_QUEUED; s <= JOB_CANCELLED; s++)
            if (strcmp(state, coord_job_state_name(s)) == 0)
                want = s;
        if (want < 0)
            return reply_error(con, 400, "bad_request",
                               "state must be queued, running, succeeded, failed or cancelled");
    }
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(root, "jobs");
    pthread_mutex_lock(&g_coord->mu);
    long n = 0;
    for (job *j = g_coord->jobs; j && n < limit; j = j->next)
        if (want < 0 || (int)j->state == want) {
            cJSON_AddItemToArray(arr, coord_job_json(j, 0));
            n++;
        }
    pthread_mutex_unlock(&g_coord->mu);
    /* then the history of earlier runs (all older than this run's jobs) */
    coord_store_list(g_coord, arr, want < 0 ? NULL : coord_job_state_name(want), limit - n);
    return reply_json(con, 200, root);
}

cJSON *coord_rejects_json(const job *j, long limit)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(root, "rejects");
    for (uint32_t r = 0; r < j->nrejects && (long)r < limit; r++) {
        const job_reject *x = &j->rejects[r];
        cJSON *o = cJSON_CreateObject();
        add_str(o, "node", x->node);
        add_str(o, "file", x->file);
        cJSON_AddNumberToObject(o, "line", (double)x->line);
        add_str(o, "reason", x->reason);
        add_str(o, "raw", x->raw);
        cJSON_AddItemToArray(arr, o);
    }
    cJSON_AddNumberToObject(root, "rejected_rows", (double)j->rejected_rows);
    return root;
}

typedef enum { SUB_JOB, SUB_PLAN, SUB_REJECTS, SUB_CANCEL } job_sub;

/* A job of an earlier run, from the state store: answers and returns 1,
 * or returns 0 when the store does not know it. */
static int stored_job(struct MHD_Connection *con, const char *id, job_sub sub, long limit,
                      enum MHD_Result *res)
{
    char *text = coord_store_get(g_coord, id, sub == SUB_REJECTS ? "rejects"
                                              : sub == SUB_PLAN  ? "plan"
                                                                 : "full");
    cJSON *o = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!o)
        return 0;
    if (sub == SUB_CANCEL) {
        cJSON *state = cJSON_GetObjectItemCaseSensitive(o, "state");
        char msg[120];
        snprintf(msg, sizeof msg, "job %s has already finished (%s)", id,
                 cJSON_IsString(state) ? state->valuestring : "?");
        cJSON_Delete(o);
        *res = reply_error(con, 409, "conflict", msg);
        return 1;
    }
    if (sub == SUB_REJECTS) { /* the sample is stored whole: cut to ?limit */
        cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "rejects");
        while (cJSON_IsArray(arr) && cJSON_GetArraySize(arr) > limit)
            cJSON_DeleteItemFromArray(arr, cJSON_GetArraySize(arr) - 1);
    }
    *res = reply_json(con, 200, o);
    return 1;
}

static enum MHD_Result handle_job(struct MHD_Connection *con, const char *id, job_sub sub)
{
    long limit = sub == SUB_REJECTS ? query_limit(con, 100) : 0;
    if (limit < 0)
        return reply_error(con, 400, "bad_request", "limit must be a number from 1 to 10000");
    pthread_mutex_lock(&g_coord->mu);
    job *j = coord_job_find(g_coord, id);
    if (!j) {
        pthread_mutex_unlock(&g_coord->mu);
        enum MHD_Result stored;
        if (stored_job(con, id, sub, limit, &stored))
            return stored;
        char msg[200];
        snprintf(msg, sizeof msg, "no job '%.64s' (finished jobs beyond the history are forgotten)",
                 id);
        return reply_error(con, 404, "not_found", msg);
    }
    cJSON *o = NULL;
    unsigned status = 200;
    switch (sub) {
    case SUB_JOB: o = coord_job_json(j, 1); break;
    case SUB_PLAN: o = j->plan_json ? cJSON_Parse(j->plan_json) : NULL; break;
    case SUB_REJECTS: o = coord_rejects_json(j, limit); break;
    case SUB_CANCEL:
        if (j->state >= JOB_SUCCEEDED) {
            char msg[120];
            snprintf(msg, sizeof msg, "job %s has already finished (%s)", j->id,
                     coord_job_state_name(j->state));
            o = error_obj("conflict", msg);
            status = 409;
        } else {
            coord_job_cancel(g_coord, j);
            o = coord_job_json(j, 0);
            status = 202;
        }
        break;
    }
    pthread_mutex_unlock(&g_coord->mu);
    return reply_json(con, status, o ? o : cJSON_CreateObject());
}

static enum MHD_Result handle_executors(struct MHD_Connection *con)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(root, "executors");
    pthread_mutex_lock(&g_coord->mu);
    uint64_t now = coord_now_ms();
    for (int e = 0; e < g_coord->nexecs; e++) {
        const exec_rt *x = &g_coord->execs[e];
        cJSON *o = cJSON_CreateObject();
        add_str(o, "id", x->id);
        add_str(o, "address", x->address ? x->address : "");
        cJSON_AddStringToObject(o, "state", x->state == EXEC_ALIVE ? "alive" : "lost");
        uint64_t since = now > x->last_heartbeat_ms ? now - x->last_heartbeat_ms : 0;
        cJSON_AddNumberToObject(o, "last_heartbeat_ms", (double)since);
        cJSON_AddNumberToObject(o, "running_tasks", x->running);
        cJSON_AddNumberToObject(o, "slots", x->slots);
        cJSON_AddNumberToObject(o, "memory_bytes", (double)x->memory);
        cJSON_AddNumberToObject(o, "shuffle_bytes_held", (double)x->shuffle_bytes_held);
        cJSON_AddNumberToObject(o, "shuffle_bytes_spilled", (double)x->shuffle_bytes_spilled);
        cJSON_AddItemToArray(arr, o);
    }
    pthread_mutex_unlock(&g_coord->mu);
    return reply_json(con, 200, root);
}

static enum MHD_Result handle_metrics(struct MHD_Connection *con)
{
    pthread_mutex_lock(&g_coord->mu);
    char *text = coord_metrics_render(g_coord);
    pthread_mutex_unlock(&g_coord->mu);
    char *sched = text ? coord_schedules_metrics() : NULL;
    if (sched && sched[0]) {
        size_t a = strlen(text), n = strlen(sched);
        char *both = realloc(text, a + n + 1);
        if (both) {
            memcpy(both + a, sched, n + 1);
            text = both;
        }
    }
    free(sched);
    if (!text)
        return reply_error(con, 500, "internal", "out of memory");
    return reply_raw(con, 200, text, strlen(text), "text/plain; version=0.0.4; charset=utf-8",
                     NULL, NULL);
}

static enum MHD_Result handle_openapi(struct MHD_Connection *con)
{
    char *text = strdup(coord_openapi_json);
    if (!text)
        return reply_error(con, 500, "internal", "out of memory");
    return reply_raw(con, 200, text, strlen(text), "application/json", NULL, NULL);
}

/* ---- routing ---- */

typedef enum {
    R_NONE, R_HEALTH, R_OPENAPI, R_METRICS, R_JOBS, R_VALIDATE, R_EXECUTORS,
    R_JOB, R_PLAN, R_REJECTS, R_CANCEL, R_SCHEDULES, R_SCHEDULE
} route_id;

/* /v1/schedules and /v1/schedules/ID (schedules.c keeps them). */
static enum MHD_Result handle_schedules(struct MHD_Connection *con, const char *id,
                                        const char *method, const req_body *b)
{
    if (id) {
        if (strcmp(method, "DELETE") == 0) {
            if (coord_schedules_delete(g_coord, id) < 0)
                return reply_error(con, 404, "not_found", "no such schedule");
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "id", id);
            cJSON_AddBoolToObject(o, "deleted", 1);
            return reply_json(con, 200, o);
        }
        cJSON *o = coord_schedules_get(g_coord, id);
        return o ? reply_json(con, 200, o) : reply_error(con, 404, "not_found", "no such schedule");
    }
    if (strcmp(method, "POST") != 0)
        return reply_json(con, 200, coord_schedules_list(g_coord));
    const char *ct = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Content-Type");
    if (!ct || strncasecmp(ct, "application/json", 16) != 0)
        return reply_error(con, 415, "unsupported_media_type",
                           "send the schedule as JSON with Content-Type: application/json");
    const char *end = NULL;
    cJSON *body = b->buf ? cJSON_ParseWithLengthOpts(b->buf, b->len + 1, &end, 1) : NULL;
    if (!body)
        return reply_bad_json(con, b, end);
    if (!cJSON_IsObject(body)) {
        cJSON_Delete(body);
        return reply_error(con, 400, "bad_request", "the JSON body must be an object with \"dag\"");
    }
    cJSON *out = NULL;
    char msg[400] = "";
    int status = coord_schedules_create(g_coord, body, &out, msg, sizeof msg);
    cJSON_Delete(body);
    if (status != 201)
        return reply_error(con, (unsigned)status, status == 400 ? "bad_request" : "internal", msg);
    char location[80];
    cJSON *idj = cJSON_GetObjectItem(out, "id");
    snprintf(location, sizeof location, "/v1/schedules/%s", idj ? idj->valuestring : "");
    return reply_json_h(con, 201, out, "Location", location);
}

/* Maps a path to its route and the methods it allows; job routes copy the
 * id into id (cap bytes). */
static route_id route_match(const char *url, const char **allow, char *id, size_t cap)
{
    static const struct {
        const char *path;
        route_id r;
        const char *allow;
    } fixed[] = {{"/healthz", R_HEALTH, "GET"},        {"/v1/openapi.json", R_OPENAPI, "GET"},
                 {"/metrics", R_METRICS, "GET"},       {"/v1/jobs", R_JOBS, "GET, POST"},
                 {"/v1/validate", R_VALIDATE, "POST"}, {"/v1/executors", R_EXECUTORS, "GET"},
                 {"/v1/schedules", R_SCHEDULES, "GET, POST"}};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (strcmp(url, fixed[i].path) == 0) {
            *allow = fixed[i].allow;
            return fixed[i].r;
        }
    if (strncmp(url, "/v1/schedules/", 14) == 0) {
        const char *q = url + 14;
        size_t m = strlen(q);
        if (m == 0 || m >= cap || strchr(q, '/'))
            return R_NONE;
        memcpy(id, q, m + 1);
        *allow = "GET, DELETE";
        return R_SCHEDULE;
    }
    if (strncmp(url, "/v1/jobs/", 9) != 0)
        return R_NONE;
    const char *p = url + 9;
    size_t n = strcspn(p, "/");
    if (n == 0 || n >= cap)
        return R_NONE;
    memcpy(id, p, n);
    id[n] = '\0';
    const char *sub = p + n;
    *allow = "GET";
    if (!sub[0])
        return R_JOB;
    if (strcmp(sub, "/plan") == 0)
        return R_PLAN;
    if (strcmp(sub, "/rejects") == 0)
        return R_REJECTS;
    if (strcmp(sub, "/cancel") == 0) {
        *allow = "POST";
        return R_CANCEL;
    }
    return R_NONE;
}

static int method_allowed(const char *method, const char *allow)
{
    size_t n = strlen(method);
    for (const char *p = allow; (p = strstr(p, method)) != NULL; p += n)
        if ((p == allow || p[-1] == ' ') && (p[n] == ',' || p[n] == '\0'))
            return 1;
    return 0;
}

static enum MHD_Result route(struct MHD_Connection *con, const char *url, const char *method,
                             const req_body *b)
{
    const char *allow = NULL;
    char id[64];
    route_id r = route_match(url, &allow, id, sizeof id);
    if (b->refused_code)
        return reply_error(con, 403, b->refused_code, b->refused);
    if (coord_ui_path(url)) /* public files; the page's API calls carry the token */
        return coord_ui_serve(con, url, method);
    if (r != R_HEALTH && !b->authorized)
        return reply_error(con, 401, "unauthorized",
                           "missing or wrong token: send Authorization: Bearer TOKEN");
    if (r == R_NONE)
        return reply_error(con, 404, "not_found", "no such resource (see /v1/openapi.json)");
    if (!method_allowed(method, allow))
        return reply_405(con, allow);
    if (b->too_big) {
        char msg[120];
        snprintf(msg, sizeof msg, "request body over the limit of %zu bytes", g_coord->max_body);
        return reply_error(con, 413, "too_large", msg);
    }
    int post = strcmp(method, "POST") == 0;
    if (post && (r == R_JOBS || r == R_VALIDATE) &&
        !content_type_ok(MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Content-Type")))
        return reply_error(con, 415, "unsupported_media_type",
                           "send the DAG with Content-Type: application/yaml, or as JSON "
                           "{\"dag\": ...} with Content-Type: application/json");
    switch (r) {
    case R_HEALTH: {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "status", "ok");
        return reply_json(con, 200, o);
    }
    case R_OPENAPI: return handle_openapi(con);
    case R_METRICS: return handle_metrics(con);
    case R_JOBS: return post ? handle_submit(con, b, 0) : handle_jobs_list(con);
    case R_VALIDATE: return handle_submit(con, b, 1);
    case R_EXECUTORS: return handle_executors(con);
    case R_JOB: return handle_job(con, id, SUB_JOB);
    case R_PLAN: return handle_job(con, id, SUB_PLAN);
    case R_REJECTS: return handle_job(con, id, SUB_REJECTS);
    case R_CANCEL: return handle_job(con, id, SUB_CANCEL);
    case R_SCHEDULES:
    case R_SCHEDULE: return handle_schedules(con, r == R_SCHEDULE ? id : NULL, method, b);
    case R_NONE: break;
    }
    return reply_error(con, 404, "not_found", "no such resource");
}

/* The first call for a request: headers only.  Decides what to do with
 * the body before any of it arrives. */
static req_body *request_begin(struct MHD_Connection *con, const char *method)
{
    req_body *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->authorized = token_ok(con);
    const char *host = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Host");
    const char *origin = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Origin");
    if (!host_ok(host)) {
        b->refused_code = "host_not_allowed";
        snprintf(b->refused, sizeof b->refused,
                 "Host '%.64s' is not this server: use its IP address or localhost, or start "
                 "the coordinator with --allow-host NAME", host);
    } else if (!origin_ok(origin, host)) {
        b->refused_code = "origin_not_allowed";
        snprintf(b->refused, sizeof b->refused,
                 "requests from the web page at '%.64s' are refused (start the coordinator "
                 "with --allow-origin to allow it)", origin);
    }
    b->keep = b->authorized && !b->refused_code && strcmp(method, "POST") == 0;
    const char *cl = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Content-Length");
    if (cl) {
        char *end;
        unsigned long long v = strtoull(cl, &end, 10);
        if (end != cl && v > g_coord->max_body)
            b->too_big = 1;
    }
    if (b->too_big)
        b->keep = 0;
    return b;
}

/* Appends an upload chunk, or notes the body went over the limit. */
static int request_append(req_body *b, const char *data, size_t n)
{
    if (b->len + n > g_coord->max_body) {
        b->too_big = 1;
        b->keep = 0;
        free(b->buf);
        b->buf = NULL;
        b->len = b->cap = 0;
    }
    if (!b->keep)
        return 0;
    if (b->len + n + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 4096;
        while (ncap < b->len + n + 1)
            ncap *= 2;
        char *p = realloc(b->buf, ncap);
        if (!p)
            return -1;
        b->buf = p;
        b->cap = ncap;
    }
    memcpy(b->buf + b->len, data, n);
    b->len += n;
    b->buf[b->len] = '\0';
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)cls;
    (void)version;
    req_body *b = *con_cls;
    if (!b) {
        b = request_begin(con, method);
        if (!b)
            return MHD_NO;
        *con_cls = b;
        return MHD_YES;
    }
    if (*upload_size) {
        if (request_append(b, upload, *upload_size) < 0)
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    slot_mark(con, 1);
    return route(con, url, method, b);
}

static void on_completed(void *cls, struct MHD_Connection *con, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)toe;
    slot_mark(con, 0); /* the next request on this connection starts now */
    req_body *b = *con_cls;
    if (b) {
        free(b->buf);
        free(b);
        *con_cls = NULL;
    }
}

int coord_http_start(mr_coord *c, const char *addr, int *bound_port, mr_err *err)
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
    if (end == port_s || *end || port < 0 || port > 65535 ||
        inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return mr_err_set(err, MR_EINVAL,
                          "bad --http address '%s': want HOST:PORT, e.g. 127.0.0.1:8080", addr);
    unsigned timeout = c->http_timeout_s ? c->http_timeout_s : 30;
    g_daemon = MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, (uint16_t)port, NULL, NULL, on_request,
        NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_THREAD_POOL_SIZE, 4,
        MHD_OPTION_CONNECTION_TIMEOUT, timeout, MHD_OPTION_CONNECTION_LIMIT, HTTP_CONNECTIONS,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, HTTP_PER_IP, MHD_OPTION_NOTIFY_CONNECTION,
        on_connection, NULL, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
    if (!g_daemon)
        return mr_err_set(err, MR_EIO, "cannot listen on %s (address in use?)", addr);
    atomic_store(&g_reaper_stop, 0);
    g_reaper_on = pthread_create(&g_reaper, NULL, reaper_main,
                                 (void *)(uintptr_t)(timeout * 1000ull)) == 0;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(g_daemon, MHD_DAEMON_INFO_BIND_PORT);
    *bound_port = info ? info->port : (int)port;
    return 0;
}

void coord_http_stop(void)
{
    if (g_reaper_on) {
        atomic_store(&g_reaper_stop, 1);
        pthread_join(g_reaper, NULL);
        g_reaper_on = 0;
    }
    if (g_daemon)
        MHD_stop_daemon(g_daemon);
    g_daemon = NULL;
}
