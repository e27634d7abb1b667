/* schedules.c - jobs the coordinator submits itself: on a cron clock or after another job.
 *
 * A schedule is a DAG's text (kept as posted: ${env:} references are
 * resolved when each run compiles, never stored resolved), its params and
 * either a cron expression in a time zone (core/cron.h) or the name of a
 * DAG whose successful jobs trigger it.  The coordinator's loop calls
 * coord_schedules_tick a few times a second with mu released: a cron
 * schedule whose next time has come, or an `after` schedule whose target
 * DAG has a job that succeeded since the last look, compiles its DAG and
 * adds a job as POST /v1/jobs does.  A schedule never overlaps itself:
 * while its last job is queued or running, a due tick is recorded as
 * skipped.  Only the next cron time counts: ticks missed while the
 * coordinator was busy or stopped are not run in a burst; the next time
 * is computed from the present.
 *
 * The list lives in memory under its own lock (taken before mr_coord.mu).
 * For tests, MILLRACE_TEST_CRON_SECONDS=N makes a cron minute last N
 * seconds: the schedule clock runs 60/N times faster than the wall clock
 * from the coordinator's start.
 */
#include "coordinator/schedules.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coordinator/coordinator.h"
#include "coordinator/store.h"
#include "core/cron.h"
#include "core/log.h"
#include "core/tz.h"

#define SCHED_RUNS 20 /* last runs kept per schedule */
#define SCHED_NEXT 3  /* next run times shown */

typedef struct sched_run {
    char job_id[32]; /* "" for a skipped tick */
    char outcome[16]; /* queued, running, succeeded, failed, cancelled, skipped, error */
    int64_t at_ms;
} sched_run;

typedef struct sched {
    char id[24];
    char *dag, *name, *params; /* params: JSON object text */
    char *cron_text, *after;
    mr_cron cron;
    mr_tz *tz; /* NULL: UTC */
    int64_t next_v;        /* next cron time on the schedule clock (s) */
    int64_t after_seen_ms; /* target jobs finished up to here were looked at */
    char cur_job[32];      /* the last job submitted ("" before the first) */
    sched_run runs[SCHED_RUNS];
    int nruns, head;       /* ring: head is the next slot */
    uint64_t n_ok, n_failed, n_skipped, n_error;
    struct sched *next;
} sched;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static sched *g_list;
static unsigned g_seq;
static int64_t g_t0;       /* wall clock at the first use (s) */
static int g_minute = 60;  /* real seconds per cron minute */
static uint64_t g_last_tick;

static void clock_init(void)
{
    if (g_t0)
        return;
    g_t0 = (int64_t)time(NULL);
    const char *k = getenv("MILLRACE_TEST_CRON_SECONDS");
    if (k && atoi(k) >= 1 && atoi(k) <= 60)
        g_minute = atoi(k);
}

/* The schedule clock (s): the wall clock, or a faster one under the knob. */
static int64_t clock_now(void)
{
    int64_t now = (int64_t)time(NULL);
    return g_t0 + (now - g_t0) * 60 / g_minute;
}

static int64_t clock_to_real(int64_t v)
{
    return g_t0 + (v - g_t0) * g_minute / 60;
}

static void sched_free(sched *s)
{
    free(s->dag);
    free(s->name);
    free(s->params);
    free(s->cron_text);
    free(s->after);
    mr_tz_free(s->tz);
    free(s);
}

static void iso_utc(int64_t sec, char *buf, size_t cap)
{
    time_t t = (time_t)sec;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void run_add(sched *s, const char *job_id, const char *outcome)
{
    sched_run *r = &s->runs[s->head];
    snprintf(r->job_id, sizeof r->job_id, "%s", job_id ? job_id : "");
    snprintf(r->outcome, sizeof r->outcome, "%s", outcome);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    r->at_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    s->head = (s->head + 1) % SCHED_RUNS;
    if (s->nruns < SCHED_RUNS)
        s->nruns++;
    if (strcmp(outcome, "skipped") == 0)
        s->n_skipped++;
    else if (strcmp(outcome, "error") == 0)
        s->n_error++;
}

/* Brings the outcomes of unfinished runs up to date (c->mu held). */
static void runs_refresh(mr_coord *c, sched *s)
{
    for (int i = 0; i < s->nruns; i++) {
        sched_run *r = &s->runs[i];
        if (!r->job_id[0] || (strcmp(r->outcome, "queued") && strcmp(r->outcome, "running")))
            continue;
        job *j = coord_job_find(c, r->job_id);
        if (!j) /* forgotten beyond --history: its last known state stays */
            continue;
        const char *st = coord_job_state_name(j->state);
        if (strcmp(st, r->outcome) == 0)
            continue;
        snprintf(r->outcome, sizeof r->outcome, "%s", st);
        if (strcmp(st, "succeeded") == 0)
            s->n_ok++;
        else if (strcmp(st, "failed") == 0 || strcmp(st, "cancelled") == 0)
            s->n_failed++;
    }
}

static cJSON *sched_json(mr_coord *c, sched *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", s->id);
    cJSON_AddStringToObject(o, "dag_name", s->name);
    if (s->cron_text) {
        cJSON_AddStringToObject(o, "cron", s->cron_text);
        cJSON_AddStringToObject(o, "tz", s->tz ? mr_tz_name(s->tz) : "UTC");
    } else {
        cJSON_AddStringToObject(o, "after", s->after);
    }
    cJSON *next = cJSON_AddArrayToObject(o, "next_runs");
    if (s->cron_text) {
        int64_t v = s->next_v;
        for (int i = 0; i < SCHED_NEXT && v > 0; i++) {
            char buf[32];
            iso_utc(clock_to_real(v), buf, sizeof buf);
            cJSON_AddItemToArray(next, cJSON_CreateString(buf));
            v = mr_cron_next(&s->cron, s->tz, v);
        }
    }
    pthread_mutex_lock(&c->mu);
    runs_refresh(c, s);
    pthread_mutex_unlock(&c->mu);
    cJSON *last = cJSON_AddArrayToObject(o, "last_runs");
    for (int i = 0; i < s->nruns; i++) { /* newest first */
        sched_run *r = &s->runs[(s->head + SCHED_RUNS - 1 - i) % SCHED_RUNS];
        cJSON *x = cJSON_CreateObject();
        if (r->job_id[0])
            cJSON_AddStringToObject(x, "job_id", r->job_id);
        else
            cJSON_AddNullToObject(x, "job_id");
        cJSON_AddStringToObject(x, "state", r->outcome);
        char buf[32];
        iso_utc(r->at_ms / 1000, buf, sizeof buf);
        cJSON_AddStringToObject(x, "at", buf);
        cJSON_AddItemToArray(last, x);
    }
    cJSON_AddNumberToObject(o, "skipped_ticks", (double)s->n_skipped);
    return o;
}

/* Is a DAG of this name known: a job of it, or another schedule's DAG? */
static int after_known(mr_coord *c, const char *name)
{
    for (sched *s = g_list; s; s = s->next)
        if (strcmp(s->name, name) == 0)
            return 1;
    int found = 0;
    pthread_mutex_lock(&c->mu);
    for (job *j = c->jobs; j && !found; j = j->next)
        found = j->name && strcmp(j->name, name) == 0;
    pthread_mutex_unlock(&c->mu);
    return found;
}

/* Builds a schedule from its spec (the POST body); with check_after, an
 * `after` target must be known.  g_mu held.  Returns 0 or an HTTP status
 * with msg set. */
static int sched_make(mr_coord *c, const cJSON *body, int check_after, sched **out, char *msg,
                      size_t cap)
{
    *out = NULL;
    const cJSON *dag = cJSON_GetObjectItemCaseSensitive(body, "dag");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(body, "params");
    const cJSON *cron = cJSON_GetObjectItemCaseSensitive(body, "cron");
    const cJSON *tz = cJSON_GetObjectItemCaseSensitive(body, "tz");
    const cJSON *after = cJSON_GetObjectItemCaseSensitive(body, "after");
    if (!cJSON_IsString(dag)) {
        snprintf(msg, cap, "the JSON body needs a \"dag\" string");
        return 400;
    }
    if (params && !cJSON_IsNull(params)) {
        const cJSON *p;
        int bad = !cJSON_IsObject(params);
        cJSON_ArrayForEach(p, params) bad |= !cJSON_IsString(p);
        if (bad) {
            snprintf(msg, cap, "\"params\" must be an object of strings");
            return 400;
        }
    } else {
        params = NULL;
    }
    if (!!cJSON_IsString(cron) == !!cJSON_IsString(after) || (cron && !cJSON_IsString(cron)) ||
        (after && !cJSON_IsString(after))) {
        snprintf(msg, cap, "a schedule needs either \"cron\" (a cron expression) or \"after\" "
                           "(a DAG name), as a string");
        return 400;
    }
    if (tz && !cJSON_IsNull(tz) && (!cJSON_IsString(tz) || !cron)) {
        snprintf(msg, cap, "\"tz\" is a zone name (e.g. \"Europe/Paris\") beside \"cron\"");
        return 400;
    }
    sched *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(msg, cap, "out of memory");
        return 500;
    }
    mr_err err = {0};
    if (cron) {
        if (mr_cron_parse(cron->valuestring, &s->cron, &err) < 0) {
            snprintf(msg, cap, "bad cron expression \"%.80s\": %s", cron->valuestring, err.msg);
            goto bad;
        }
        if (cJSON_IsString(tz) &&
            mr_tz_load(NULL, tz->valuestring, strlen(tz->valuestring), &s->tz, &err) < 0) {
            snprintf(msg, cap, "unknown time zone \"%.80s\": %s", tz->valuestring, err.msg);
            goto bad;
        }
        s->cron_text = strdup(cron->valuestring);
    }
    if (coord_api_submit_dag(dag->valuestring, params, 1, &s->name, NULL, 0, msg, cap) < 0)
        goto bad;
    if (after) {
        if (check_after && !after_known(c, after->valuestring)) {
            snprintf(msg, cap,
                     "unknown \"after\" target \"%.80s\": no job or schedule of a DAG of that name",
                     after->valuestring);
            goto bad;
        }
        s->after = strdup(after->valuestring);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        s->after_seen_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    }
    s->dag = strdup(dag->valuestring);
    s->params = params ? cJSON_PrintUnformatted(params) : NULL;
    if (s->cron_text)
        s->next_v = mr_cron_next(&s->cron, s->tz, clock_now());
    *out = s;
    return 0;
bad:
    sched_free(s);
    return 400;
}

int coord_schedules_create(mr_coord *c, const cJSON *body, cJSON **out, char *msg, size_t cap)
{
    clock_init();
    *out = NULL;
    sched *s;
    pthread_mutex_lock(&g_mu);
    int status = sched_make(c, body, 1, &s, msg, cap);
    if (status) {
        pthread_mutex_unlock(&g_mu);
        return status;
    }
    snprintf(s->id, sizeof s->id, "s%" PRId64 "-%u", g_t0, ++g_seq);
    /* The spec as posted: the DAG's ${env:} references stay unresolved. */
    cJSON *spec = cJSON_CreateObject();
    cJSON_AddStringToObject(spec, "dag", s->dag);
    if (s->params)
        cJSON_AddItemToObject(spec, "params", cJSON_Parse(s->params));
    if (s->cron_text) {
        cJSON_AddStringToObject(spec, "cron", s->cron_text);
        if (s->tz)
            cJSON_AddStringToObject(spec, "tz", mr_tz_name(s->tz));
    } else {
        cJSON_AddStringToObject(spec, "after", s->after);
    }
    char *text = cJSON_PrintUnformatted(spec);
    cJSON_Delete(spec);
    if (text)
        coord_store_schedule(c, s->id, text);
    free(text);
    s->next = g_list;
    g_list = s;
    *out = sched_json(c, s);
    mr_log(MR_LOG_INFO, "schedules", "schedule %s added: dag=%s %s %s", s->id, s->name,
           s->cron_text ? "cron" : "after", s->cron_text ? s->cron_text : s->after);
    pthread_mutex_unlock(&g_mu);
    return 201;
}

static void load_one(void *arg, const char *id, const char *text)
{
    mr_coord *c = arg;
    cJSON *spec = cJSON_Parse(text);
    sched *s = NULL;
    char msg[300] = "not JSON";
    if (!spec || sched_make(c, spec, 0, &s, msg, sizeof msg)) {
        mr_log(MR_LOG_WARN, "schedules", "stored schedule %s cannot be restored: %s", id, msg);
    } else {
        snprintf(s->id, sizeof s->id, "%s", id);
        s->next = g_list;
        g_list = s;
        mr_log(MR_LOG_INFO, "schedules", "schedule %s restored: dag=%s", s->id, s->name);
    }
    cJSON_Delete(spec);
}

void coord_schedules_load(mr_coord *c)
{
    clock_init();
    pthread_mutex_lock(&g_mu);
    coord_store_schedules(c, load_one, c);
    pthread_mutex_unlock(&g_mu);
}

cJSON *coord_schedules_list(mr_coord *c)
{
    clock_init();
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(root, "schedules");
    pthread_mutex_lock(&g_mu);
    for (sched *s = g_list; s; s = s->next)
        cJSON_AddItemToArray(arr, sched_json(c, s));
    pthread_mutex_unlock(&g_mu);
    return root;
}

cJSON *coord_schedules_get(mr_coord *c, const char *id)
{
    cJSON *o = NULL;
    pthread_mutex_lock(&g_mu);
    for (sched *s = g_list; s && !o; s = s->next)
        if (strcmp(s->id, id) == 0)
            o = sched_json(c, s);
    pthread_mutex_unlock(&g_mu);
    return o;
}

int coord_schedules_delete(mr_coord *c, const char *id)
{
    pthread_mutex_lock(&g_mu);
    for (sched **p = &g_list; *p; p = &(*p)->next)
        if (strcmp((*p)->id, id) == 0) {
            sched *s = *p;
            *p = s->next;
            coord_store_schedule(c, id, NULL);
            pthread_mutex_unlock(&g_mu);
            mr_log(MR_LOG_INFO, "schedules", "schedule %s deleted", id);
            sched_free(s);
            return 0;
        }
    pthread_mutex_unlock(&g_mu);
    return -1;
}

/* One due tick of s (g_mu held, c->mu not). */
static void sched_fire(mr_coord *c, sched *s)
{
    pthread_mutex_lock(&c->mu);
    runs_refresh(c, s);
    job *cur = s->cur_job[0] ? coord_job_find(c, s->cur_job) : NULL;
    int busy = cur && (cur->state == JOB_QUEUED || cur->state == JOB_RUNNING);
    pthread_mutex_unlock(&c->mu);
    if (busy) {
        mr_log(MR_LOG_INFO, "schedules", "schedule %s: tick skipped, job %s still runs", s->id,
               s->cur_job);
        run_add(s, NULL, "skipped");
        return;
    }
    cJSON *params = s->params ? cJSON_Parse(s->params) : NULL;
    char *name = NULL, job_id[32] = "", msg[300] = "";
    int rc = coord_api_submit_dag(s->dag, params, 0, &name, job_id, sizeof job_id, msg,
                                  sizeof msg);
    cJSON_Delete(params);
    free(name);
    if (rc < 0) {
        mr_log(MR_LOG_WARN, "schedules", "schedule %s: the run was not submitted: %s", s->id, msg);
        run_add(s, NULL, "error");
        return;
    }
    mr_log(MR_LOG_INFO, "schedules", "schedule %s: submitted job %s", s->id, job_id);
    snprintf(s->cur_job, sizeof s->cur_job, "%s", job_id);
    run_add(s, job_id, "queued");
}

void coord_schedules_tick(mr_coord *c)
{
    uint64_t now_ms = coord_now_ms();
    if (now_ms - g_last_tick < 200)
        return;
    g_last_tick = now_ms;
    pthread_mutex_lock(&g_mu);
    if (!g_list) {
        pthread_mutex_unlock(&g_mu);
        return;
    }
    int64_t vnow = clock_now();
    for (sched *s = g_list; s; s = s->next) {
        if (s->cron_text) {
            if (s->next_v <= 0 || vnow < s->next_v)
                continue;
            /* Only one run for however many ticks passed: the next time
             * counts from now, so a late loop never runs a burst. */
            s->next_v = mr_cron_next(&s->cron, s->tz, vnow);
            sched_fire(c, s);
            continue;
        }
        int64_t newest = 0;
        pthread_mutex_lock(&c->mu);
        for (job *j = c->jobs; j; j = j->next)
            if (j->state == JOB_SUCCEEDED && j->name && strcmp(j->name, s->after) == 0 &&
                j->finished_at > s->after_seen_ms && j->finished_at > newest)
                newest = j->finished_at;
        pthread_mutex_unlock(&c->mu);
        if (newest) {
            s->after_seen_ms = newest;
            sched_fire(c, s);
        }
    }
    pthread_mutex_unlock(&g_mu);
}

char *coord_schedules_metrics(void)
{
    size_t cap = 4096, len = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    out[0] = '\0';
    pthread_mutex_lock(&g_mu);
    int any = g_list != NULL;
    if (any)
        len += (size_t)snprintf(out, cap,
                                "# HELP millrace_schedule_runs_total Runs of each schedule by outcome.\n"
                                "# TYPE millrace_schedule_runs_total counter\n");
    for (sched *s = g_list; s; s = s->next) {
        const char *names[] = {"succeeded", "failed", "skipped", "error"};
        uint64_t vals[] = {s->n_ok, s->n_failed, s->n_skipped, s->n_error};
        for (int i = 0; i < 4; i++) {
            if (cap - len < 256) {
                char *p = realloc(out, cap *= 2);
                if (!p)
                    goto out;
                out = p;
            }
            len += (size_t)snprintf(out + len, cap - len,
                                    "millrace_schedule_runs_total{schedule=\"%s\",outcome=\"%s\"} %" PRIu64 "\n",
                                    s->id, names[i], vals[i]);
        }
    }
    if (any && cap - len > 200)
        len += (size_t)snprintf(out + len, cap - len,
                                "# HELP millrace_schedule_next_run_timestamp_seconds Next run of each cron schedule (unix seconds).\n"
                                "# TYPE millrace_schedule_next_run_timestamp_seconds gauge\n");
    for (sched *s = g_list; s; s = s->next) {
        if (!s->cron_text || s->next_v <= 0)
            continue;
        if (cap - len < 256) {
            char *p = realloc(out, cap *= 2);
            if (!p)
                goto out;
            out = p;
        }
        len += (size_t)snprintf(out + len, cap - len,
                                "millrace_schedule_next_run_timestamp_seconds{schedule=\"%s\"} %" PRId64 "\n",
                                s->id, clock_to_real(s->next_v));
    }
out:
    pthread_mutex_unlock(&g_mu);
    return out;
}

void coord_schedules_free(void)
{
    pthread_mutex_lock(&g_mu);
    while (g_list) {
        sched *s = g_list;
        g_list = s->next;
        sched_free(s);
    }
    pthread_mutex_unlock(&g_mu);
}
