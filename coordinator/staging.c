/* staging.c - staging leases: renewing ours, sweeping what dead coordinators left.
 *
 * Every job takes a lease in its warehouse's staging area before its first
 * task runs (warehouse.h explains the lease table and the sweep rules); one
 * keeper thread renews the leases of running jobs every staging_lease_ms / 4
 * and sweeps every warehouse used since start: at once when a job starts
 * using one, then on the same tick.  So the staging of a coordinator killed
 * mid-job or mid-commit is dropped as soon as a restarted coordinator (same
 * host and control endpoint) runs a job into that warehouse, and that of one
 * gone for good once its leases are staging_lease_ms old.
 *
 * A job's own clean-up (its staging and lease, when it ends) runs under mu
 * as before; when it fails (a full disk, an unreachable server) the job is
 * queued here and retried on every tick, so leftovers never wait for a
 * human.  The keeper does its warehouse work without mu, on copies.
 *
 * At start-up the state store (store.c) drops the staging of the jobs it
 * knew as running, and queues here what it could not drop.  Limit: beyond
 * those, a warehouse no job has used since start is not swept; one no job has used for IDLE_TICKS ticks
 * is forgotten (swept again when a job uses it).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "coordinator/coordinator.h"
#include "core/log.h"
#include "warehouse/warehouse.h"

#define KNOWN_MAX 64

/* A warehouse (copied config) and, for a pending clean-up, a job id. */
struct coord_wh_ref {
    char *driver, *path, *dsn, *schema;
    char job[32];
    int idle; /* keeper ticks in a row without a running job there */
    struct coord_wh_ref *next;
};

/* A warehouse no job has used for this many ticks (10 leases) is
 * forgotten: nothing of ours is left there to renew, and what others left
 * is theirs to sweep (or ours again when a job comes back). */
#define IDLE_TICKS 40

static void ref_free(coord_wh_ref *r)
{
    if (!r)
        return;
    free(r->driver);
    free(r->path);
    free(r->dsn);
    free(r->schema);
    free(r);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int str_eq(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static coord_wh_ref *ref_make(const mr_wh_config *w, const char *job)
{
    coord_wh_ref *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->driver = dup_or_null(w->driver);
    r->path = dup_or_null(w->path);
    r->dsn = dup_or_null(w->dsn);
    r->schema = dup_or_null(w->schema);
    snprintf(r->job, sizeof r->job, "%s", job ? job : "");
    if ((w->driver && !r->driver) || (w->path && !r->path) || (w->dsn && !r->dsn) ||
        (w->schema && !r->schema)) {
        ref_free(r);
        return NULL;
    }
    return r;
}

static mr_wh_config ref_cfg(const coord_wh_ref *r)
{
    mr_wh_config cfg = {r->driver, r->path, r->dsn, r->schema, NULL, NULL, 0};
    return cfg;
}

/* Same warehouse (the staging area is per database: schema does not count). */
static int ref_same(const coord_wh_ref *r, const mr_wh_config *w)
{
    return str_eq(r->driver, w->driver) && str_eq(r->path, w->path) && str_eq(r->dsn, w->dsn);
}

/* How a log line names a warehouse: never the dsn (it may hold a password). */
static const char *ref_name(const coord_wh_ref *r)
{
    return r->driver && strcmp(r->driver, "postgres") == 0 ? "the postgres warehouse"
                                                            : (r->path ? r->path : "?");
}

static mr_wh_owner me_of(const mr_coord *c)
{
    mr_wh_owner me = {c->owner, c->instance};
    return me;
}

/* Remembers j's warehouse (mu held). */
static void known_add(mr_coord *c, const mr_wh_config *w)
{
    int n = 0;
    for (coord_wh_ref *r = c->keeper.known; r; r = r->next, n++)
        if (ref_same(r, w))
            return;
    coord_wh_ref *r = ref_make(w, NULL);
    if (!r)
        return;
    r->next = c->keeper.known;
    c->keeper.known = r;
    if (++n > KNOWN_MAX) { /* forget the oldest */
        coord_wh_ref **pp = &c->keeper.known;
        while ((*pp)->next)
            pp = &(*pp)->next;
        ref_free(*pp);
        *pp = NULL;
    }
}

int coord_staging_lease(const mr_coord *c, const job *j, const mr_wh_config *cfg)
{
    mr_wh_owner me = me_of(c);
    mr_err err;
    mr_err_clear(&err);
    if (mr_wh_lease_take(cfg, j->id, &me, &err) == 0)
        return 1;
    /* the job still runs: its staging is then only safe from sweeps by this coordinator */
    mr_log(MR_LOG_WARN, "coordinator", "job=%s cannot take a staging lease: %s", j->id, err.msg);
    return 0;
}

void coord_staging_job_start(mr_coord *c, job *j)
{
    mr_wh_config cfg;
    if (!coord_job_wh(j, &cfg))
        return;
    known_add(c, &cfg);
    c->keeper.kick = 1;
    pthread_cond_signal(&c->keeper.cv);
}

void coord_staging_job_end(mr_coord *c, job *j)
{
    mr_wh_config cfg;
    if (!coord_job_wh(j, &cfg))
        return;
    mr_err err;
    mr_err_clear(&err);
    j->leased = 0;
    if (mr_wh_job_cleanup(&cfg, j->id, &err) == 0)
        return;
    mr_log(MR_LOG_WARN, "coordinator", "job=%s cannot drop staging (retried later): %s", j->id,
           err.msg);
    coord_staging_retry(c, &cfg, j->id);
}

void coord_staging_retry(mr_coord *c, const mr_wh_config *cfg, const char *job_id)
{
    coord_wh_ref *r = ref_make(cfg, job_id);
    if (r) {
        r->next = c->keeper.pending;
        c->keeper.pending = r;
    }
}

/* One warehouse's work for a tick, copied under mu. */
typedef struct tick_item {
    coord_wh_ref *wh; /* a copy */
    char **ids;       /* running jobs leased there */
    int nids;
} tick_item;

static int tick_collect(mr_coord *c, tick_item **out)
{
    mr_wh_config jw;
    for (coord_wh_ref **pp = &c->keeper.known; *pp;) {
        coord_wh_ref *r = *pp;
        int used = 0;
        for (job *j = c->jobs; j && !used; j = j->next)
            used = j->leased && coord_job_wh(j, &jw) && ref_same(r, &jw);
        r->idle = used ? 0 : r->idle + 1;
        if (r->idle > IDLE_TICKS) {
            *pp = r->next;
            ref_free(r);
        } else {
            pp = &r->next;
        }
    }
    int n = 0;
    for (coord_wh_ref *r = c->keeper.known; r; r = r->next)
        n++;
    tick_item *items = calloc((size_t)n + 1, sizeof *items);
    if (!items)
        return -1;
    int k = 0;
    for (coord_wh_ref *r = c->keeper.known; r; r = r->next) {
        mr_wh_config w = ref_cfg(r);
        tick_item *it = &items[k++];
        it->wh = ref_make(&w, NULL);
        int cap = 0;
        for (job *j = c->jobs; j; j = j->next)
            cap += j->leased;
        it->ids = calloc((size_t)cap + 1, sizeof *it->ids);
        for (job *j = c->jobs; j && it->ids; j = j->next)
            if (j->leased && coord_job_wh(j, &jw) && ref_same(r, &jw))
                it->ids[it->nids++] = strdup(j->id);
    }
    *out = items;
    return k;
}

static void tick_run(mr_coord *c, tick_item *items, int n, int64_t lease_ms)
{
    mr_wh_owner me = me_of(c);
    for (int i = 0; i < n; i++) {
        tick_item *it = &items[i];
        if (!it->wh)
            continue;
        mr_wh_config cfg = ref_cfg(it->wh);
        mr_err err;
        mr_err_clear(&err);
        if (it->nids && mr_wh_lease_renew(&cfg, (const char *const *)it->ids, it->nids, &me, &err) < 0)
            mr_log(MR_LOG_WARN, "coordinator", "cannot renew staging leases in %s: %s",
                   ref_name(it->wh), err.msg);
        int swept = 0;
        mr_err_clear(&err);
        if (mr_wh_sweep(&cfg, &me, lease_ms, &swept, &err) < 0)
            mr_log(MR_LOG_WARN, "coordinator", "cannot sweep staging in %s (retried later): %s",
                   ref_name(it->wh), err.msg);
        if (swept)
            mr_log(MR_LOG_INFO, "coordinator",
                   "swept %d staging table%s left by dead coordinators' jobs in %s", swept,
                   swept == 1 ? "" : "s", ref_name(it->wh));
    }
}

static void tick_free(tick_item *items, int n)
{
    for (int i = 0; i < n; i++) {
        ref_free(items[i].wh);
        for (int k = 0; k < items[i].nids; k++)
            free(items[i].ids[k]);
        free(items[i].ids);
    }
    free(items);
}

/* Retries the clean-ups in list; what fails again goes back (mu not held). */
static coord_wh_ref *pending_retry(coord_wh_ref *list)
{
    coord_wh_ref *again = NULL;
    while (list) {
        coord_wh_ref *r = list;
        list = r->next;
        mr_wh_config cfg = ref_cfg(r);
        mr_err err;
        mr_err_clear(&err);
        if (mr_wh_job_cleanup(&cfg, r->job, &err) == 0) {
            mr_log(MR_LOG_INFO, "coordinator", "job=%s staging dropped (retry)", r->job);
            ref_free(r);
        } else {
            r->next = again;
            again = r;
        }
    }
    return again;
}

static void *keeper_main(void *arg)
{
    mr_coord *c = arg;
    int64_t lease_ms = c->staging_lease_ms;
    int64_t tick_ms = lease_ms / 4 > 0 ? lease_ms / 4 : 1;
    pthread_mutex_lock(&c->mu);
    while (!c->keeper.stop) {
        if (!c->keeper.kick) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += tick_ms / 1000;
            ts.tv_nsec += (tick_ms % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&c->keeper.cv, &c->mu, &ts);
        }
        c->keeper.kick = 0;
        if (c->keeper.stop)
            break;
        tick_item *items = NULL;
        int n = tick_collect(c, &items);
        coord_wh_ref *pending = c->keeper.pending;
        c->keeper.pending = NULL;
        pthread_mutex_unlock(&c->mu);
        if (n >= 0)
            tick_run(c, items, n, lease_ms);
        if (n >= 0)
            tick_free(items, n);
        pending = pending_retry(pending);
        pthread_mutex_lock(&c->mu);
        while (pending) {
            coord_wh_ref *r = pending;
            pending = r->next;
            r->next = c->keeper.pending;
            c->keeper.pending = r;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

int coord_staging_start(mr_coord *c, const char *bound)
{
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    snprintf(c->owner, sizeof c->owner, "%s %s", host, bound);
    uint64_t rnd[2] = {0, 0};
    if (getrandom(rnd, sizeof rnd, 0) != sizeof rnd) {
        rnd[0] = (uint64_t)getpid();
        rnd[1] = (uint64_t)time(NULL);
    }
    snprintf(c->instance, sizeof c->instance, "%016" PRIx64 "%016" PRIx64, rnd[0], rnd[1]);
    if (c->staging_lease_ms <= 0)
        c->staging_lease_ms = 60000;
    pthread_cond_init(&c->keeper.cv, NULL);
    if (pthread_create(&c->keeper.thread, NULL, keeper_main, c) != 0)
        return -1;
    c->keeper.started = 1;
    return 0;
}

void coord_staging_stop(mr_coord *c)
{
    if (!c->keeper.started)
        return;
    pthread_mutex_lock(&c->mu);
    c->keeper.stop = 1;
    pthread_cond_signal(&c->keeper.cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->keeper.thread, NULL);
    c->keeper.started = 0;
    for (coord_wh_ref **l = &c->keeper.known; l; l = l == &c->keeper.known ? &c->keeper.pending : NULL)
        while (*l) {
            coord_wh_ref *r = *l;
            *l = r->next;
            ref_free(r);
        }
}
