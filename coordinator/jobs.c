/* jobs.c - job lifecycle, scheduling, task results and the commit.
 *
 * A job moves queued -> running -> succeeded | failed | cancelled.  Starting
 * a job resolves its inputs into splits (a missing file fails the job here,
 * before any task runs) and lays out one task per split for scan stages and
 * one per partition for shuffle-reading stages.
 *
 * Scheduling is push-based: before the first task of a stage that feeds a
 * shuffle runs, every partition of the consuming stage gets an owner
 * executor, and map tasks push each partition's rows straight to it.  The
 * consuming stage's task p is then run on owners[p] once every map task has
 * succeeded, reading exactly the successful attempt of each map task.
 *
 * Results: a task attempt reports success or failure; a retryable failure
 * (I/O, a lost peer) is tried again up to MAX_ATTEMPTS, a data error fails
 * the job with the task's own message.
 *
 * Recovery (lineage).  Every task is deterministic and re-runnable from its
 * inputs.  When an executor is lost, its running tasks start again
 * elsewhere, and every unfinished shuffle partition it owned gets a new
 * owner; since the rows pushed to it are gone, every task of the stage that
 * produced them runs again (a new attempt, pushing to the new owner), and
 * so on up the plan wherever an input partition lived on the lost executor.
 * Consumers read exactly one attempt of each map task and the commit takes
 * exactly one attempt of each write task, so re-runs never duplicate rows.
 * Superseded attempts still running elsewhere are told to stop.  When every stage is done the job
 * commits: the staged rows of each write task's successful attempt move
 * into the target tables, with post_sql, in one warehouse transaction.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "coordinator/coordinator.h"
#include "core/csv.h"
#include "core/log.h"
#include "proto/schema_pb.h"
#include "warehouse/warehouse.h"

#define MAX_ATTEMPTS 3
/* Back-off between retries of a retryable failure: full jitter, a delay
 * drawn uniformly from [0, min(RETRY_CAP_MS, RETRY_BASE_MS * 2^n)] before
 * retry n, so a restarting warehouse is not hammered and retries of many
 * tasks spread out. */
#define RETRY_BASE_MS 100
#define RETRY_CAP_MS 5000

static int exec_alive(const mr_coord *c, int e);

/* The back-off before retry n (0-based), with full jitter. */
static uint64_t retry_backoff_ms(uint32_t n)
{
    uint64_t ceiling = RETRY_BASE_MS;
    for (uint32_t i = 0; i < n && ceiling < RETRY_CAP_MS; i++)
        ceiling *= 2;
    if (ceiling > RETRY_CAP_MS)
        ceiling = RETRY_CAP_MS;
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, 0) != sizeof r)
        r = (uint32_t)coord_now_ms() * 2654435761u;
    return (uint64_t)r % (ceiling + 1);
}

/* Whether a retryable failure (the failures-th before this one) may be
 * retried: always for the first MAX_ATTEMPTS attempts, then for as long as
 * the first failure is less than c->retry_deadline_ms ago.  So a warehouse
 * that restarts for a few seconds costs retries, not the job, and a failure
 * that keeps happening ends the job within the deadline. */
static int retry_allowed(const mr_coord *c, uint32_t failures, uint64_t *first_failure_ms)
{
    uint64_t now = coord_now_ms();
    if (*first_failure_ms == 0)
        *first_failure_ms = now;
    return failures + 1 < MAX_ATTEMPTS || now - *first_failure_ms < (uint64_t)c->retry_deadline_ms;
}
static int check_targets(job *j, char *errbuf, size_t cap);
static int mark_quoted_splits(const Millrace__ReadSpec *rd, Millrace__Split **splits, size_t n,
                              char *errbuf, size_t cap);

/* A write node that lands in files rather than the warehouse. */
static int is_file_write(const Millrace__WriteSpec *w)
{
    return w && strcmp(w->target, "warehouse") != 0;
}
static int live_owner(const mr_coord *c, uint32_t p);

uint64_t coord_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int64_t coord_unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *coord_job_state_name(job_state s)
{
    static const char *names[] = {"queued", "running", "succeeded", "failed", "cancelled"};
    return names[s];
}

job *coord_job_find(mr_coord *c, const char *id)
{
    for (job *j = c->jobs; j; j = j->next)
        if (strcmp(j->id, id) == 0)
            return j;
    return NULL;
}

int coord_send(mr_coord *c, const char *identity, const Millrace__Control *msg)
{
    size_t len = millrace__control__get_packed_size(msg);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return MR_ENOMEM;
    millrace__control__pack(msg, buf);
    mr_frame f[2] = {{(void *)identity, strlen(identity)}, {buf, len}};
    mr_err err;
    int rc = mr_socket_send(c->ctl, f, 2, 0, &err);
    free(buf);
    if (rc < 0)
        mr_log(MR_LOG_WARN, "coordinator", "executor=%s unreachable: %s", identity, err.msg);
    return rc;
}

static void job_free(job *j)
{
    for (uint32_t s = 0; s < j->nstages; s++) {
        stage_rt *st = &j->stages[s];
        for (uint32_t t = 0; t < st->ntasks; t++)
            if (st->tasks[t].split)
                millrace__split__free_unpacked(st->tasks[t].split, NULL);
        free(st->tasks);
    }
    free(j->owners);
    free(j->stages);
    free(j->output_rows);
    for (uint32_t r = 0; r < j->nrejects; r++) {
        free(j->rejects[r].node);
        free(j->rejects[r].file);
        free(j->rejects[r].reason);
        free(j->rejects[r].raw);
    }
    free(j->rejects);
    free(j->told);
    free(j->name);
    free(j->error);
    free(j->params_json);
    mr_dag_secrets_free(&j->secrets);
    free(j->base_dir);
    free(j->plan_json);
    if (j->plan)
        millrace__job_plan__free_unpacked(j->plan, NULL);
    free(j);
}

void coord_trim_history(mr_coord *c)
{
    size_t finished = 0;
    for (job **pp = &c->jobs; *pp;) {
        job *j = *pp;
        int done = j->state >= JOB_SUCCEEDED;
        if (done && ++finished > c->history) {
            *pp = j->next;
            job_free(j);
        } else {
            pp = &j->next;
        }
    }
}

job *coord_job_add(mr_coord *c, Millrace__JobPlan *plan, const char *base_dir,
                   const char *params_json)
{
    job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    uint32_t rnd = 0;
    if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
        rnd = (uint32_t)coord_now_ms();
    snprintf(j->id, sizeof j->id, "j%06" PRIu64 "%08x", ++c->job_counter % 1000000, rnd);
    j->name = strdup(plan->name);
    j->base_dir = strdup(base_dir ? base_dir : c->data_root);
    j->params_json = strdup(params_json ? params_json : "{}");
    j->plan = plan;
    j->state = JOB_QUEUED;
    j->submitted_at = coord_unix_ms();
    j->nstages = (uint32_t)plan->n_stages;
    j->stages = calloc(j->nstages ? j->nstages : 1, sizeof *j->stages);
    j->output_rows = calloc(j->nstages ? j->nstages : 1, sizeof *j->output_rows);
    if (!j->name || !j->base_dir || !j->params_json || !j->stages || !j->output_rows) {
        j->plan = NULL;
        job_free(j);
        return NULL;
    }
    for (uint32_t s = 0; s < j->nstages; s++) {
        const Millrace__Stage *ps = plan->stages[s];
        j->stages[s].plan = ps;
        j->stages[s].reads_shuffle = ps->n_inputs > 0;
        uint32_t np = ps->n_inputs > 0 && ps->partitions ? ps->partitions : 1;
        if (ps->shuffle && ps->shuffle->partitions > np)
            np = ps->shuffle->partitions;
        if (np > j->nparts)
            j->nparts = np;
    }
    if (j->nparts == 0)
        j->nparts = 1;
    j->owners = malloc(j->nparts * sizeof *j->owners);
    if (!j->owners) {
        j->plan = NULL;
        job_free(j);
        return NULL;
    }
    for (uint32_t p = 0; p < j->nparts; p++)
        j->owners[p] = -1;
    j->next = c->jobs;
    c->jobs = j;
    mr_log(MR_LOG_INFO, "coordinator", "job=%s name=%s submitted (%u stages)", j->id, j->name,
           j->nstages);
    return j;
}

static void job_finish(mr_coord *c, job *j, job_state state, const char *error)
{
    j->state = state;
    j->finished_at = coord_unix_ms();
    if (error) {
        free(j->error);
        j->error = mr_redact(error, &j->secrets); /* shown and logged */
        if (!j->error)
            j->error = strdup("failed (out of memory describing the error)");
        error = j->error;
    }
    uint64_t written = 0;
    for (uint32_t s = 0; s < j->nstages; s++)
        written += j->output_rows[s];
    coord_metrics_job(&c->metrics, state, (double)(j->finished_at - j->submitted_at) / 1000.0,
                      written);
    /* Stop what still runs and free every executor's shuffle data. */
    Millrace__CancelJob cj = MILLRACE__CANCEL_JOB__INIT;
    cj.job_id = j->id;
    Millrace__Control msg = MILLRACE__CONTROL__INIT;
    msg.msg_case = MILLRACE__CONTROL__MSG_CANCEL;
    msg.cancel = &cj;
    for (int e = 0; e < c->nexecs; e++)
        if (c->execs[e].state == EXEC_ALIVE)
            coord_send(c, c->execs[e].id, &msg);
    for (uint32_t s = 0; s < j->nstages; s++)
        for (uint32_t t = 0; t < j->stages[s].ntasks; t++) {
            task_rt *tk = &j->stages[s].tasks[t];
            if (tk->state == TASK_RUNNING && tk->executor >= 0 &&
                c->execs[tk->executor].running > 0)
                c->execs[tk->executor].running--;
            if (tk->state == TASK_RUNNING)
                tk->state = TASK_FAILED;
        }
    for (uint32_t s = 0; s < j->nstages && state != JOB_SUCCEEDED; s++)
        if (j->stages[s].state == STAGE_WAITING || j->stages[s].state == STAGE_RUNNING)
            j->stages[s].state = STAGE_CANCELLED;
    if (state != JOB_SUCCEEDED) /* paths are absolute once job_start resolved them */
        for (uint32_t s = 0; s < j->nstages; s++) {
            const Millrace__WriteSpec *ws = j->plan->stages[s]->write;
            if (is_file_write(ws) && ws->path[0] == '/')
                coord_files_abort(ws->path, j->id);
        }
    /* Staging left by the job: everything when it failed, and after a commit
     * whatever superseded attempts staged; then its lease (staging.c). */
    coord_staging_job_end(c, j);
    mr_log(state == JOB_SUCCEEDED ? MR_LOG_INFO : MR_LOG_WARN, "coordinator",
           "job=%s %s%s%s (%" PRId64 " ms)", j->id, coord_job_state_name(state),
           error ? ": " : "", error ? error : "",
           /* a job that ends before it starts counts from its submission */
           j->finished_at - (j->started_at ? j->started_at : j->submitted_at));
}

/* Resolves warehouse paths and input splits; fails the job on bad input. */
static int job_start(mr_coord *c, job *j)
{
    char errbuf[1024];
    Millrace__Warehouse *w = j->plan->warehouse;
    if (w && strcmp(w->driver, "sqlite") == 0) {
        char *p = coord_resolve_path(j->base_dir, w->path && w->path[0] ? w->path : "millrace.db");
        if (!p) {
            job_finish(c, j, JOB_FAILED, "out of memory");
            return -1;
        }
        if (!coord_warehouse_under(c->data_root, p)) {
            char msg[1200];
            snprintf(msg, sizeof msg, "warehouse path '%s' is outside the data root",
                     w->path && w->path[0] ? w->path : "millrace.db");
            free(p);
            /* nothing may open it, not even the cleanup of staging */
            millrace__warehouse__free_unpacked(w, NULL);
            j->plan->warehouse = NULL;
            job_finish(c, j, JOB_FAILED, msg);
            return -1;
        }
        if (w->path && w->path[0])
            free(w->path);
        w->path = p;
    }
    for (uint32_t s = 0; s < j->nstages; s++) {
        Millrace__WriteSpec *ws = j->plan->stages[s]->write;
        if (!is_file_write(ws))
            continue;
        char *p = coord_resolve_path(j->base_dir, ws->path);
        if (!p || !coord_output_under(c->data_root, p)) {
            char msg[1200];
            snprintf(msg, sizeof msg, "node '%s': output '%s' is outside the data root", ws->node,
                     ws->path);
            free(p);
            job_finish(c, j, JOB_FAILED, msg);
            return -1;
        }
        if (ws->path && ws->path[0])
            free(ws->path);
        ws->path = p;
        if (coord_files_start(p, ws->mode && ws->mode[0] ? ws->mode : "error_if_exists", j->id,
                              errbuf, sizeof errbuf) < 0) {
            char msg[1200];
            snprintf(msg, sizeof msg, "node '%s': %s", ws->node, errbuf);
            job_finish(c, j, JOB_FAILED, msg);
            return -1;
        }
    }
    for (uint32_t s = 0; s < j->nstages; s++) {
        stage_rt *st = &j->stages[s];
        const Millrace__Stage *ps = st->plan;
        if (st->reads_shuffle) {
            st->ntasks = ps->partitions ? ps->partitions : 1;
            st->tasks = calloc(st->ntasks, sizeof *st->tasks);
            if (!st->tasks) {
                job_finish(c, j, JOB_FAILED, "out of memory");
                return -1;
            }
        }
        /* One task per split of every read in the stage, read by read. */
        for (size_t o = 0; o < ps->n_ops && !st->reads_shuffle; o++) {
            const Millrace__OpSpec *op = ps->ops[o];
            if (op->kind != MILLRACE__OP_KIND__OP_SCAN)
                continue;
            Millrace__Split **splits;
            size_t n;
            if (coord_resolve_inputs(j->base_dir, c->data_root, op->read->path, c->split_bytes,
                                     &splits, &n, errbuf, sizeof errbuf) < 0) {
                char msg[1200];
                snprintf(msg, sizeof msg, "node '%s': %s", op->node, errbuf);
                job_finish(c, j, JOB_FAILED, msg);
                return -1;
            }
            if (strcmp(op->read->format, "csv") == 0 &&
                mark_quoted_splits(op->read, splits, n, errbuf, sizeof errbuf) < 0) {
                char msg[1200];
                snprintf(msg, sizeof msg, "node '%s': %s", op->node, errbuf);
                for (size_t i = 0; i < n; i++)
                    millrace__split__free_unpacked(splits[i], NULL);
                free(splits);
                job_finish(c, j, JOB_FAILED, msg);
                return -1;
            }
            task_rt *grown = realloc(st->tasks, (st->ntasks + n) * sizeof *grown);
            if (!grown) {
                for (size_t i = 0; i < n; i++)
                    millrace__split__free_unpacked(splits[i], NULL);
                free(splits);
                job_finish(c, j, JOB_FAILED, "out of memory");
                return -1;
            }
            st->tasks = grown;
            for (size_t i = 0; i < n; i++) {
                memset(&st->tasks[st->ntasks + i], 0, sizeof *st->tasks);
                st->tasks[st->ntasks + i].split = splits[i];
                st->tasks[st->ntasks + i].scan_op = (uint32_t)o;
            }
            st->ntasks += (uint32_t)n;
            free(splits);
        }
        for (uint32_t t = 0; t < st->ntasks; t++)
            st->tasks[t].executor = -1;
    }
    if (check_targets(j, errbuf, sizeof errbuf) < 0) {
        job_finish(c, j, JOB_FAILED, errbuf);
        return -1;
    }
    coord_staging_job_start(c, j);
    j->state = JOB_RUNNING;
    j->started_at = coord_unix_ms();
    mr_log(MR_LOG_INFO, "coordinator", "job=%s started", j->id);
    return 0;
}

/* Tells every split of a CSV file after the first whether it starts inside
 * a quoted field, so a quoted newline across a boundary is read right (one
 * pass over each file that has several splits; see core/csv.h). */
static int mark_quoted_splits(const Millrace__ReadSpec *rd, Millrace__Split **splits, size_t n,
                              char *errbuf, size_t cap)
{
    char quote = rd->csv && rd->csv->quote && rd->csv->quote[0] ? rd->csv->quote[0] : '"';
    for (size_t i = 0; i < n;) {
        size_t k = i + 1;
        while (k < n && strcmp(splits[k]->path, splits[i]->path) == 0)
            k++;
        if (k - i > 1) {
            uint64_t *offs = calloc(k - i, sizeof *offs);
            bool *inq = calloc(k - i, sizeof *inq);
            mr_err err;
            int rc = offs && inq ? 0 : mr_err_set(&err, MR_ENOMEM, "out of memory");
            for (size_t x = i; x < k && rc == 0; x++)
                offs[x - i] = splits[x]->offset;
            if (rc == 0)
                rc = mr_csv_quote_parity(splits[i]->path, quote, offs, k - i, inq, &err);
            for (size_t x = i; x < k && rc == 0; x++)
                splits[x]->in_quote = inq[x - i];
            free(offs);
            free(inq);
            if (rc < 0) {
                snprintf(errbuf, cap, "%s", err.msg);
                return -1;
            }
        }
        i = k;
    }
    return 0;
}

/* Refuses, before any data moves, a write whose existing table does not fit
 * its schema (the check the commit would make, rolled back). */
static int check_targets(job *j, char *errbuf, size_t cap)
{
    const Millrace__Warehouse *wh = j->plan->warehouse;
    mr_wh_config cfg = {wh ? wh->driver : "sqlite", wh ? wh->path : NULL, wh ? wh->dsn : NULL,
                        wh ? wh->schema : NULL};
    mr_err err;
    mr_err_clear(&err);
    if (mr_wh_check_plan(j->plan, &cfg, &err) < 0) {
        snprintf(errbuf, cap, "%s", err.msg);
        return -1;
    }
    return 0;
}

static int stage_inputs_done(job *j, const stage_rt *st)
{
    for (size_t i = 0; i < st->plan->n_inputs; i++)
        for (uint32_t s = 0; s < j->nstages; s++)
            if (j->stages[s].plan->id == st->plan->inputs[i] && j->stages[s].state != STAGE_DONE)
                return 0;
    return 1;
}

static stage_rt *stage_by_id(job *j, uint32_t id)
{
    for (uint32_t s = 0; s < j->nstages; s++)
        if (j->stages[s].plan->id == id)
            return &j->stages[s];
    return NULL;
}

/* Makes sure every partition of the job has a live owner, spreading them
 * round-robin.  Returns 0, or -1 when no executor is alive. */
static int ensure_owners(mr_coord *c, job *j)
{
    for (uint32_t p = 0; p < j->nparts; p++)
        if (!exec_alive(c, j->owners[p]) && (j->owners[p] = live_owner(c, p)) < 0)
            return -1;
    return 0;
}

static int pick_executor(mr_coord *c)
{
    int best = -1;
    unsigned best_free = 0;
    for (int e = 0; e < c->nexecs; e++) {
        exec_rt *x = &c->execs[e];
        unsigned free_slots = x->slots > x->running ? x->slots - x->running : 0;
        if (x->state == EXEC_ALIVE && free_slots > best_free) {
            best = e;
            best_free = free_slots;
        }
    }
    return best;
}

static void send_task(mr_coord *c, job *j, stage_rt *st, uint32_t t, int e)
{
    task_rt *tk = &st->tasks[t];
    const Millrace__Stage *ps = st->plan;
    Millrace__TaskSpec spec = MILLRACE__TASK_SPEC__INIT;
    spec.job_id = j->id;
    spec.stage_id = ps->id;
    spec.partition = t;
    spec.attempt = tk->attempt;
    spec.stage = (Millrace__Stage *)ps;
    spec.split = tk->split;
    spec.zstd_level = c->zstd_level;
    spec.scan_op = tk->scan_op;
    /* The warehouse without its secrets: an executor adds its own
     * (docs/security.md).  A dsn that cannot be parsed goes out empty; the
     * job's start already checked it, so this is out of memory at worst. */
    Millrace__Warehouse wh;
    char *public_dsn = NULL;
    if (j->plan->warehouse) {
        wh = *j->plan->warehouse;
        mr_err derr;
        if (wh.dsn && wh.dsn[0] && mr_wh_dsn_public(wh.dsn, &public_dsn, &derr) < 0)
            public_dsn = NULL;
        if (wh.dsn && wh.dsn[0])
            wh.dsn = public_dsn ? public_dsn : "";
        spec.warehouse = &wh;
    }
    char staging[128] = "";
    char **owners = NULL, **owner_keys = NULL;
    size_t nin = ps->n_inputs, total = 0;
    Millrace__ShuffleInput *ins = calloc(nin + 1, sizeof *ins);
    Millrace__ShuffleInput **inp = calloc(nin + 1, sizeof *inp);
    for (size_t i = 0; i < nin; i++) {
        stage_rt *in = stage_by_id(j, ps->inputs[i]);
        total += in ? in->ntasks : 0;
    }
    Millrace__MapAttempt *ma = calloc(total + 1, sizeof *ma);
    Millrace__MapAttempt **map = calloc(total + 1, sizeof *map);
    if (ps->shuffle) {
        owners = calloc(ps->shuffle->partitions + 1, sizeof *owners);
        owner_keys = calloc(ps->shuffle->partitions + 1, sizeof *owner_keys);
    }
    if (!ins || !inp || !ma || !map || (ps->shuffle && (!owners || !owner_keys)))
        goto out;
    if (ps->shuffle) {
        for (uint32_t p = 0; p < ps->shuffle->partitions; p++) {
            const exec_rt *x = &c->execs[j->owners[p]];
            owners[p] = x->address;
            owner_keys[p] = x->public_key ? x->public_key : "";
        }
        spec.n_partition_owners = ps->shuffle->partitions;
        spec.partition_owners = owners;
        if (c->curve) {
            spec.n_partition_owner_keys = ps->shuffle->partitions;
            spec.partition_owner_keys = owner_keys;
        }
    }
    size_t k = 0;
    for (size_t i = 0; i < nin; i++) {
        stage_rt *in = stage_by_id(j, ps->inputs[i]);
        millrace__shuffle_input__init(&ins[i]);
        ins[i].stage_id = ps->inputs[i];
        ins[i].attempts = &map[k];
        for (uint32_t m = 0; in && m < in->ntasks; m++, k++) {
            millrace__map_attempt__init(&ma[k]);
            ma[k].map_task = m;
            ma[k].attempt = in->tasks[m].ok_attempt;
            map[k] = &ma[k];
            ins[i].n_attempts++;
        }
        inp[i] = &ins[i];
    }
    spec.n_shuffle_inputs = nin;
    spec.shuffle_inputs = inp;
    if (ps->write) {
        mr_wh_staging_name(staging, sizeof staging, 's', j->id, ps->id, t, tk->attempt);
        spec.staging_table = staging;
    }
    Millrace__Control msg = MILLRACE__CONTROL__INIT;
    msg.msg_case = MILLRACE__CONTROL__MSG_TASK;
    msg.task = &spec;
    if (coord_send(c, c->execs[e].id, &msg) == 0) {
        tk->state = TASK_RUNNING;
        tk->executor = e;
        tk->dispatched_ms = coord_now_ms();
        tk->progress_ms = tk->dispatched_ms;
        tk->progress_rows = 0;
        c->execs[e].running++;
        mr_log(MR_LOG_INFO, "coordinator", "job=%s stage=%u task=%u attempt=%u -> executor=%s",
               j->id, ps->id, t, tk->attempt, c->execs[e].id);
    }
out:
    free(public_dsn);
    free(owners);
    free(owner_keys);
    free(ma);
    free(map);
    free(ins);
    free(inp);
}

/* Tells every owner of st's output partitions, once per registration, to
 * expect the stage's shuffle data; executors file data only for announced
 * (job, stage) pairs.  Sent before the stage's tasks on the same ordered
 * control path, so the announcement normally arrives before the data. */
static void announce_stage(mr_coord *c, job *j, const stage_rt *st)
{
    const Millrace__Stage *ps = st->plan;
    for (uint32_t p = 0; p < ps->shuffle->partitions && p < j->nparts; p++) {
        int e = j->owners[p];
        if (!exec_alive(c, e))
            continue;
        size_t i;
        for (i = 0; i < j->ntold; i++)
            if (j->told[i].exec == e && j->told[i].reg_gen == c->execs[e].reg_gen &&
                j->told[i].stage_id == ps->id)
                break;
        if (i < j->ntold)
            continue;
        if (j->ntold == j->cap_told) {
            size_t ncap = j->cap_told ? j->cap_told * 2 : 16;
            expect_told *t = realloc(j->told, ncap * sizeof *t);
            if (!t)
                return;
            j->told = t;
            j->cap_told = ncap;
        }
        uint32_t stage_id = ps->id;
        Millrace__ShuffleExpect ex = MILLRACE__SHUFFLE_EXPECT__INIT;
        ex.job_id = j->id;
        ex.n_stage_ids = 1;
        ex.stage_ids = &stage_id;
        Millrace__Control msg = MILLRACE__CONTROL__INIT;
        msg.msg_case = MILLRACE__CONTROL__MSG_EXPECT;
        msg.expect = &ex;
        if (coord_send(c, c->execs[e].id, &msg) == 0)
            j->told[j->ntold++] = (expect_told){e, c->execs[e].reg_gen, ps->id};
    }
}

static void schedule_job(mr_coord *c, job *j)
{
    for (uint32_t s = 0; s < j->nstages; s++) {
        stage_rt *st = &j->stages[s];
        if (st->state == STAGE_DONE || !stage_inputs_done(j, st))
            continue;
        /* Owners are fixed before the first task that pushes to them runs;
         * one lost while nobody was alive gets a new one here. */
        if ((st->plan->shuffle || st->reads_shuffle) && ensure_owners(c, j) < 0)
            return;
        if (st->state == STAGE_WAITING)
            st->state = STAGE_RUNNING;
        if (st->plan->shuffle)
            announce_stage(c, j, st);
        for (uint32_t t = 0; t < st->ntasks; t++) {
            task_rt *tk = &st->tasks[t];
            if (tk->state != TASK_PENDING || tk->not_before_ms > coord_now_ms())
                continue; /* (a retry backing off) */
            int e;
            if (st->reads_shuffle) {
                e = j->owners[t];
                if (!exec_alive(c, e) || c->execs[e].running >= c->execs[e].slots)
                    continue;
            } else if ((e = pick_executor(c)) < 0) {
                return;
            }
            send_task(c, j, st, t, e);
        }
    }
}

void coord_schedule(mr_coord *c)
{
    coord_trim_history(c);
    /* Oldest job first: jobs are kept newest first, so walk to the end. */
    job *order[1024];
    int n = 0;
    for (job *j = c->jobs; j && n < 1024; j = j->next)
        if (j->state == JOB_QUEUED || j->state == JOB_RUNNING)
            order[n++] = j;
    for (int i = n - 1; i >= 0; i--) {
        job *j = order[i];
        if (j->cancel_requested) {
            job_finish(c, j, JOB_CANCELLED, "cancelled by request");
            continue;
        }
        if (j->committing)
            continue;
        /* A job stays queued until some executor has a free slot. */
        if (j->state == JOB_QUEUED && (pick_executor(c) < 0 || job_start(c, j) < 0))
            continue;
        schedule_job(c, j);
    }
}

void coord_job_cancel(mr_coord *c, job *j)
{
    (void)c;
    if (j->state == JOB_QUEUED || j->state == JOB_RUNNING)
        j->cancel_requested = 1;
}

#define JOB_REJECT_SAMPLE 1000

/* Recounts the job's rejected and skipped rows, and keeps the task's first
 * rejects for the API (a re-run attempt rejects the same rows, so a task is
 * sampled once). */
static void job_count_rejects(job *j, task_rt *tk, const Millrace__TaskStatus *s)
{
    j->rejected_rows = j->skipped_rows = 0;
    for (uint32_t st = 0; st < j->nstages; st++)
        for (uint32_t t = 0; t < j->stages[st].ntasks; t++)
            if (j->stages[st].tasks[t].state == TASK_DONE) {
                j->rejected_rows += j->stages[st].tasks[t].rejected;
                j->skipped_rows += j->stages[st].tasks[t].skipped;
            }
    if (tk->sampled || s->n_rejects == 0)
        return;
    tk->sampled = 1;
    for (size_t i = 0; i < s->n_rejects && j->nrejects < JOB_REJECT_SAMPLE; i++) {
        job_reject *grown = realloc(j->rejects, (j->nrejects + 1) * sizeof *grown);
        if (!grown)
            return;
        j->rejects = grown;
        const Millrace__Reject *r = s->rejects[i];
        job_reject *x = &j->rejects[j->nrejects++];
        x->node = strdup(r->node);
        x->file = strdup(r->file);
        x->reason = strdup(r->reason);
        x->raw = strdup(r->raw);
        x->line = r->line < 0 ? 0 : (uint64_t)r->line;
    }
}

void coord_on_status(mr_coord *c, const char *identity, const Millrace__TaskStatus *s)
{
    job *j = coord_job_find(c, s->job_id);
    if (!j || j->state != JOB_RUNNING)
        return;
    stage_rt *st = stage_by_id(j, s->stage_id);
    if (!st || s->partition >= st->ntasks)
        return;
    task_rt *tk = &st->tasks[s->partition];
    if (s->attempt != tk->attempt || tk->state != TASK_RUNNING)
        return; /* a stale attempt */
    if (tk->executor < 0 || strcmp(c->execs[tk->executor].id, identity) != 0) {
        mr_log(MR_LOG_WARN, "coordinator",
               "job=%s stage=%u task=%u attempt=%u: ignoring a status from executor=%s, the "
               "attempt runs on executor=%s",
               j->id, s->stage_id, s->partition, s->attempt, identity,
               tk->executor >= 0 ? c->execs[tk->executor].id : "(none)");
        return;
    }
    if (tk->executor >= 0 && c->execs[tk->executor].running > 0)
        c->execs[tk->executor].running--;
    double secs = (double)(coord_now_ms() - tk->dispatched_ms) / 1000.0;
    const Millrace__Stage *ps = st->plan;
    int scan = ps->n_ops && ps->ops[0]->kind == MILLRACE__OP_KIND__OP_SCAN;
    if (s->state == MILLRACE__TASK_STATE__TASK_SUCCEEDED) {
        coord_metrics_task(&c->metrics, COORD_TASK_SUCCEEDED, secs, scan ? s->rows_in : 0,
                           s->bytes_read, s->bytes_shuffled);
        tk->state = TASK_DONE;
        tk->ok_attempt = s->attempt;
        tk->rows_in = s->rows_in;
        tk->rows_out = s->rows_out;
        tk->bytes_shuffled = s->bytes_shuffled;
        tk->bytes_read = s->bytes_read;
        tk->rejected = s->rejected_rows;
        tk->skipped = s->skipped_rows;
        job_count_rejects(j, tk, s);
        uint32_t done = 0;
        for (uint32_t t = 0; t < st->ntasks; t++)
            done += st->tasks[t].state == TASK_DONE;
        if (done == st->ntasks) {
            st->state = STAGE_DONE;
            mr_log(MR_LOG_INFO, "coordinator", "job=%s stage=%u done", j->id, s->stage_id);
        }
        return;
    }
    if (s->retryable && retry_allowed(c, tk->failures, &tk->first_failure_ms)) {
        uint64_t wait = retry_backoff_ms(tk->failures++);
        tk->not_before_ms = coord_now_ms() + wait;
        char *shown = mr_redact(s->error, &j->secrets);
        mr_log(MR_LOG_WARN, "coordinator",
               "job=%s stage=%u task=%u attempt=%u failed, retrying in %" PRIu64 " ms: %s", j->id,
               s->stage_id, s->partition, s->attempt, wait, shown ? shown : "(error)");
        free(shown);
        coord_metrics_task(&c->metrics, COORD_TASK_RETRIED, secs, 0, 0, 0);
        tk->attempt++;
        tk->retried++;
        tk->state = TASK_PENDING;
        return;
    }
    coord_metrics_task(&c->metrics, COORD_TASK_FAILED, secs, 0, 0, 0);
    tk->state = TASK_FAILED;
    st->state = STAGE_FAILED;
    job_finish(c, j, JOB_FAILED, s->error && s->error[0] ? s->error : "task failed");
}

int coord_sender_ok(mr_coord *c, const char *identity, const char *key)
{
    if (!c->curve)
        return 1;
    for (int e = 0; e < c->nexecs; e++)
        if (strcmp(c->execs[e].id, identity) == 0)
            return c->execs[e].public_key && key && strcmp(c->execs[e].public_key, key) == 0;
    return 1; /* unknown: only a register (or a reconnect) follows */
}

static void executor_lost(mr_coord *c, int e);

/* An executor known and alive registers again under a new incarnation: its
 * process restarted (kill -9 and a container restart with the same --id
 * take milliseconds, far less than --lost-after-ms), so everything the old
 * process ran or held is gone.  Its tasks fail over at once, as for a lost
 * executor, instead of staying "running" until --task-timeout-ms.  The same
 * incarnation again is a repeated message and changes nothing.  (Under
 * CURVE only the key the id registered with can do this.) */
static void register_restart(mr_coord *c, int e, const Millrace__Register *r)
{
    exec_rt *x = &c->execs[e];
    if (x->state == EXEC_ALIVE && r->incarnation != x->incarnation) {
        mr_log(MR_LOG_WARN, "coordinator", "executor=%s restarted (new incarnation)", x->id);
        x->state = EXEC_LOST; /* so nothing is handed back to the old process */
        x->running = 0;
        executor_lost(c, e);
    }
}

void coord_on_register(mr_coord *c, const char *identity, const char *key,
                       const Millrace__Register *r)
{
    int e;
    for (e = 0; e < c->nexecs; e++)
        if (strcmp(c->execs[e].id, identity) == 0)
            break;
    if (e < c->nexecs && c->curve && c->execs[e].state == EXEC_ALIVE &&
        (!c->execs[e].public_key || strcmp(c->execs[e].public_key, key ? key : "") != 0)) {
        mr_log(MR_LOG_WARN, "coordinator",
               "refused a registration as executor=%s with key %s: it registered with another key",
               identity, key);
        return;
    }
    int known = e < c->nexecs;
    if (!known) {
        if (c->nexecs == c->cap_execs) {
            int ncap = c->cap_execs ? c->cap_execs * 2 : 8;
            exec_rt *p = realloc(c->execs, (size_t)ncap * sizeof *p);
            if (!p)
                return;
            c->execs = p;
            c->cap_execs = ncap;
        }
        memset(&c->execs[e], 0, sizeof c->execs[e]);
        c->execs[e].id = strdup(identity);
        c->nexecs++;
    }
    exec_rt *x = &c->execs[e];
    if (known)
        register_restart(c, e, r);
    x->incarnation = r->incarnation;
    free(x->address);
    x->address = strdup(r->data_address);
    free(x->public_key);
    x->public_key = strdup(key ? key : "");
    x->reg_gen = ++c->reg_counter;
    x->slots = r->slots ? r->slots : 1;
    x->memory = r->memory_bytes;
    x->running = 0;
    x->state = EXEC_ALIVE;
    x->last_heartbeat_ms = coord_now_ms();
    mr_log(MR_LOG_INFO, "coordinator", "executor=%s registered data=%s slots=%u%s%s", x->id,
           x->address, x->slots, key && key[0] ? " key=" : "", key ? key : "");
    Millrace__Welcome w = MILLRACE__WELCOME__INIT;
    w.executor_id = x->id;
    Millrace__Control msg = MILLRACE__CONTROL__INIT;
    msg.msg_case = MILLRACE__CONTROL__MSG_WELCOME;
    msg.welcome = &w;
    coord_send(c, identity, &msg);
}

/* Notes the progress an executor reports for its running attempts: a
 * change, or waiting for shuffle input, restarts the task's timeout. */
static void note_progress(mr_coord *c, int e, const Millrace__Heartbeat *h)
{
    uint64_t now = coord_now_ms();
    for (size_t i = 0; i < h->n_tasks; i++) {
        const Millrace__TaskProgress *p = h->tasks[i];
        job *j = coord_job_find(c, p->job_id);
        stage_rt *st = j && j->state == JOB_RUNNING ? stage_by_id(j, p->stage_id) : NULL;
        if (!st || p->partition >= st->ntasks)
            continue;
        task_rt *tk = &st->tasks[p->partition];
        if (tk->state != TASK_RUNNING || tk->attempt != p->attempt || tk->executor != e)
            continue;
        if (p->waiting || p->rows != tk->progress_rows) {
            tk->progress_rows = p->rows;
            tk->progress_ms = now;
        }
    }
}

void coord_on_heartbeat(mr_coord *c, const char *identity, const Millrace__Heartbeat *h)
{
    for (int e = 0; e < c->nexecs; e++)
        if (strcmp(c->execs[e].id, identity) == 0) {
            if (c->execs[e].state == EXEC_ALIVE) {
                c->execs[e].last_heartbeat_ms = coord_now_ms();
                c->execs[e].shuffle_bytes_held = h->shuffle_bytes_held;
                c->execs[e].shuffle_bytes_spilled = h->shuffle_bytes_spilled;
                note_progress(c, e, h);
                return;
            }
            break;
        }
    /* An executor we do not know (we restarted) or have given up on. */
    Millrace__Reconnect r = MILLRACE__RECONNECT__INIT;
    Millrace__Control msg = MILLRACE__CONTROL__INIT;
    msg.msg_case = MILLRACE__CONTROL__MSG_RECONNECT;
    msg.reconnect = &r;
    coord_send(c, identity, &msg);
}

/* Tells the executor running an attempt that it has been superseded. */
static void cancel_attempt(mr_coord *c, job *j, const stage_rt *st, uint32_t t)
{
    const task_rt *tk = &st->tasks[t];
    if (tk->executor < 0 || c->execs[tk->executor].state != EXEC_ALIVE)
        return;
    Millrace__CancelJob cj = MILLRACE__CANCEL_JOB__INIT;
    cj.job_id = j->id;
    cj.has_task = 1;
    cj.stage_id = st->plan->id;
    cj.partition = t;
    cj.attempt = tk->attempt;
    Millrace__Control msg = MILLRACE__CONTROL__INIT;
    msg.msg_case = MILLRACE__CONTROL__MSG_CANCEL;
    msg.cancel = &cj;
    coord_send(c, c->execs[tk->executor].id, &msg);
}

/* Puts task t back to pending as a new attempt. */
static void task_restart(mr_coord *c, job *j, stage_rt *st, uint32_t t)
{
    task_rt *tk = &st->tasks[t];
    if (tk->state == TASK_RUNNING) {
        cancel_attempt(c, j, st, t);
        if (tk->executor >= 0 && c->execs[tk->executor].running > 0)
            c->execs[tk->executor].running--;
    }
    tk->attempt++;
    tk->retried++;
    tk->state = TASK_PENDING;
    tk->executor = -1;
    if (st->state == STAGE_DONE)
        st->state = STAGE_RUNNING;
}

static int exec_alive(const mr_coord *c, int e)
{
    return e >= 0 && e < c->nexecs && c->execs[e].state == EXEC_ALIVE;
}

/* Picks a live executor for a partition, spreading by partition number. */
static int live_owner(const mr_coord *c, uint32_t p)
{
    int alive = 0;
    for (int e = 0; e < c->nexecs; e++)
        alive += c->execs[e].state == EXEC_ALIVE;
    if (alive == 0)
        return -1;
    int k = (int)(p % (uint32_t)alive);
    for (int e = 0; e < c->nexecs; e++)
        if (c->execs[e].state == EXEC_ALIVE && k-- == 0)
            return e;
    return -1;
}

static void stage_rerun(mr_coord *c, job *j, stage_rt *st, const uint8_t *lost, int depth);

/* Re-runs the stages that feed st. */
static void producers_rerun(mr_coord *c, job *j, stage_rt *st, const uint8_t *lost, int depth)
{
    for (size_t i = 0; i < st->plan->n_inputs; i++)
        for (uint32_t s = 0; s < j->nstages; s++)
            if (j->stages[s].plan->id == st->plan->inputs[i])
                stage_rerun(c, j, &j->stages[s], lost, depth + 1);
}

/* Every task of st runs again (its output must be pushed anew); a task
 * whose own shuffle input was on the lost executor needs its producers
 * re-run first. */
static void stage_rerun(mr_coord *c, job *j, stage_rt *st, const uint8_t *lost, int depth)
{
    if (depth > 64)
        return;
    int input_lost = 0;
    for (uint32_t t = 0; t < st->ntasks; t++) {
        if (st->tasks[t].state != TASK_PENDING) /* pending ones run fresh anyway */
            task_restart(c, j, st, t);
        input_lost |= st->reads_shuffle && lost[t];
    }
    if (input_lost)
        producers_rerun(c, j, st, lost, depth);
}

static void executor_lost(mr_coord *c, int e)
{
    for (job *j = c->jobs; j; j = j->next) {
        if (j->state != JOB_RUNNING || j->committing)
            continue;
        uint8_t *lost = calloc(j->nparts, 1);
        if (!lost)
            continue;
        int touched = 0, any_lost = 0;
        for (uint32_t p = 0; p < j->nparts; p++)
            if (j->owners[p] == e) {
                lost[p] = 1;
                any_lost = 1;
                j->owners[p] = live_owner(c, p);
            }
        for (uint32_t s = 0; s < j->nstages; s++) {
            stage_rt *st = &j->stages[s];
            int input_lost = 0;
            for (uint32_t t = 0; t < st->ntasks; t++) {
                task_rt *tk = &st->tasks[t];
                if (tk->state == TASK_RUNNING && tk->executor == e) {
                    task_restart(c, j, st, t);
                    touched = 1;
                }
                /* an unfinished partition whose input was filed there */
                if (st->reads_shuffle && lost[t] && tk->state != TASK_DONE)
                    input_lost = 1;
            }
            if (input_lost) {
                producers_rerun(c, j, st, lost, 0);
                touched = 1;
            }
        }
        (void)any_lost;
        free(lost);
        if (touched)
            mr_log(MR_LOG_WARN, "coordinator", "job=%s recomputing the work lost with executor=%s",
                   j->id, c->execs[e].id);
    }
}

void coord_check_executors(mr_coord *c)
{
    uint64_t now = coord_now_ms();
    int alive = 0;
    for (int e = 0; e < c->nexecs; e++) {
        exec_rt *x = &c->execs[e];
        if (x->state != EXEC_ALIVE)
            continue;
        if (now - x->last_heartbeat_ms < (uint64_t)c->lost_after_ms) {
            alive++;
            continue;
        }
        x->state = EXEC_LOST;
        x->running = 0;
        mr_log(MR_LOG_WARN, "coordinator", "executor=%s lost (no heartbeat for %d ms)", x->id,
               c->lost_after_ms);
        executor_lost(c, e);
    }
    if (alive > 0 || c->last_alive_ms == 0) {
        c->last_alive_ms = now;
        return;
    }
    /* Nobody left to run anything: fail running jobs after a grace period
     * rather than hang (queued jobs wait for executors to come). */
    if (now - c->last_alive_ms < (uint64_t)c->no_executor_fail_ms)
        return;
    for (job *j = c->jobs; j; j = j->next)
        if (j->state == JOB_RUNNING && !j->committing) {
            char msg[200];
            snprintf(msg, sizeof msg, "no executor has been alive for %d s",
                     c->no_executor_fail_ms / 1000);
            job_finish(c, j, JOB_FAILED, msg);
        }
}

void coord_check_tasks(mr_coord *c)
{
    if (c->task_timeout_ms <= 0)
        return;
    uint64_t now = coord_now_ms();
    for (job *j = c->jobs; j; j = j->next) {
        if (j->state != JOB_RUNNING || j->committing)
            continue;
        for (uint32_t s = 0; s < j->nstages && j->state == JOB_RUNNING; s++) {
            stage_rt *st = &j->stages[s];
            for (uint32_t t = 0; t < st->ntasks; t++) {
                task_rt *tk = &st->tasks[t];
                if (tk->state != TASK_RUNNING || now - tk->progress_ms < (uint64_t)c->task_timeout_ms)
                    continue;
                char msg[256];
                snprintf(msg, sizeof msg, "stage %u task %u: task made no progress for %g s",
                         st->plan->id, t, c->task_timeout_ms / 1000.0);
                const char *ex = tk->executor >= 0 ? c->execs[tk->executor].id : "?";
                double secs = (double)(now - tk->dispatched_ms) / 1000.0;
                if (tk->failures + 1 < MAX_ATTEMPTS) {
                    tk->failures++;
                    mr_log(MR_LOG_WARN, "coordinator",
                           "job=%s stage=%u task=%u attempt=%u executor=%s timed out, retrying: %s",
                           j->id, st->plan->id, t, tk->attempt, ex, msg);
                    coord_metrics_task(&c->metrics, COORD_TASK_RETRIED, secs, 0, 0, 0);
                    task_restart(c, j, st, t);
                    continue;
                }
                mr_log(MR_LOG_WARN, "coordinator",
                       "job=%s stage=%u task=%u attempt=%u executor=%s timed out: %s", j->id,
                       st->plan->id, t, tk->attempt, ex, msg);
                coord_metrics_task(&c->metrics, COORD_TASK_FAILED, secs, 0, 0, 0);
                st->state = STAGE_FAILED;
                job_finish(c, j, JOB_FAILED, msg);
                break;
            }
        }
    }
}

/* Everything the commit needs, copied so it can run without the lock. */
typedef struct commit_work {
    job *j;
    mr_wh_config cfg;
    mr_wh_target *targets;
    mr_schema **schemas;
    char ***staging;
    uint32_t *target_stage;
    int ntargets;
} commit_work;

static void commit_work_free(commit_work *w)
{
    for (int i = 0; i < w->ntargets; i++) {
        mr_schema_destroy(w->schemas[i]);
        if (w->staging[i])
            for (int k = 0; k < w->targets[i].nstaging; k++)
                free(w->staging[i][k]);
        free(w->staging[i]);
    }
    free(w->targets);
    free(w->schemas);
    free(w->staging);
    free(w->target_stage);
}

static int commit_prepare(job *j, commit_work *w, char *errbuf, size_t cap)
{
    memset(w, 0, sizeof *w);
    w->j = j;
    const Millrace__Warehouse *wh = j->plan->warehouse;
    w->cfg.driver = wh ? wh->driver : "sqlite";
    w->cfg.path = wh ? wh->path : NULL;
    w->cfg.dsn = wh ? wh->dsn : NULL;
    w->cfg.schema = wh ? wh->schema : NULL;
    int n = 1; /* room for the rejects target */
    for (uint32_t s = 0; s < j->nstages; s++)
        n += j->stages[s].plan->write != NULL && !is_file_write(j->stages[s].plan->write);
    w->targets = calloc((size_t)n + 1, sizeof *w->targets);
    w->schemas = calloc((size_t)n + 1, sizeof *w->schemas);
    w->staging = calloc((size_t)n + 1, sizeof *w->staging);
    w->target_stage = calloc((size_t)n + 1, sizeof *w->target_stage);
    if (!w->targets || !w->schemas || !w->staging || !w->target_stage)
        return snprintf(errbuf, cap, "out of memory"), -1;
    for (uint32_t s = 0; s < j->nstages; s++) {
        const stage_rt *st = &j->stages[s];
        const Millrace__WriteSpec *ws = st->plan->write;
        if (!ws || is_file_write(ws))
            continue;
        int i = w->ntargets++;
        mr_err err;
        w->schemas[i] = mr_schema_from_pb(ws->schema, &err);
        w->staging[i] = calloc(st->ntasks + 1, sizeof *w->staging[i]);
        if (!w->schemas[i] || !w->staging[i])
            return snprintf(errbuf, cap, "out of memory"), -1;
        for (uint32_t t = 0; t < st->ntasks; t++) {
            char name[160];
            mr_wh_staging_name(name, sizeof name, 's', j->id, st->plan->id, t,
                               st->tasks[t].ok_attempt);
            if (!(w->staging[i][t] = strdup(name)))
                return snprintf(errbuf, cap, "out of memory"), -1;
        }
        w->targets[i].table = ws->table;
        w->targets[i].mode = ws->mode && ws->mode[0] ? ws->mode : "append";
        w->targets[i].key = (const char *const *)ws->key;
        w->targets[i].nkey = (int)ws->n_key;
        w->targets[i].schema = w->schemas[i];
        w->targets[i].staging_tables = (const char *const *)w->staging[i];
        w->targets[i].nstaging = (int)st->ntasks;
        w->target_stage[i] = s;
    }
    if (j->rejected_rows > 0) {
        /* Rejected rows land in millrace_rejects in the same transaction. */
        int i = w->ntargets;
        uint32_t ntab = 0;
        for (uint32_t s = 0; s < j->nstages; s++)
            for (uint32_t t = 0; t < j->stages[s].ntasks; t++)
                ntab += j->stages[s].tasks[t].rejected > 0;
        w->schemas[i] = mr_wh_rejects_schema();
        w->staging[i] = calloc(ntab + 1, sizeof *w->staging[i]);
        if (!w->schemas[i] || !w->staging[i])
            return snprintf(errbuf, cap, "out of memory"), -1;
        w->ntargets++;
        uint32_t k = 0;
        for (uint32_t s = 0; s < j->nstages; s++)
            for (uint32_t t = 0; t < j->stages[s].ntasks; t++) {
                const task_rt *tk = &j->stages[s].tasks[t];
                if (tk->rejected == 0)
                    continue;
                char name[160];
                mr_wh_staging_name(name, sizeof name, 'r', j->id, j->stages[s].plan->id, t,
                                   tk->ok_attempt);
                if (!(w->staging[i][k++] = strdup(name)))
                    return snprintf(errbuf, cap, "out of memory"), -1;
            }
        w->targets[i].table = MR_WH_REJECTS_TABLE;
        w->targets[i].mode = "append";
        w->targets[i].schema = w->schemas[i];
        w->targets[i].staging_tables = (const char *const *)w->staging[i];
        w->targets[i].nstaging = (int)k;
        w->target_stage[i] = UINT32_MAX;
    }
    return 0;
}

/* Puts every file output's parts in place inside its temporary folder. */
static int files_prepare(job *j, char *errbuf, size_t cap)
{
    for (uint32_t s = 0; s < j->nstages; s++) {
        stage_rt *st = &j->stages[s];
        const Millrace__WriteSpec *ws = st->plan->write;
        if (!is_file_write(ws))
            continue;
        uint32_t *ok = calloc(st->ntasks + 1, sizeof *ok);
        if (!ok)
            return snprintf(errbuf, cap, "out of memory"), -1;
        uint64_t rows = 0;
        for (uint32_t t = 0; t < st->ntasks; t++) {
            ok[t] = st->tasks[t].ok_attempt;
            rows += st->tasks[t].rows_out;
        }
        int rc = coord_files_prepare(ws->path, ws->target, j->id, ok, st->ntasks, errbuf, cap);
        free(ok);
        if (rc < 0)
            return -1;
        j->output_rows[s] = rows;
    }
    return 0;
}

static int files_publish(job *j, char *errbuf, size_t cap)
{
    for (uint32_t s = 0; s < j->nstages; s++) {
        const Millrace__WriteSpec *ws = j->stages[s].plan->write;
        if (is_file_write(ws) && coord_files_publish(ws->path, j->id, errbuf, cap) < 0)
            return -1;
    }
    return 0;
}

/* The warehouse could not be reached for the commit (MR_EIO: nothing
 * happened, the staging tables are kept).  Schedules another try after a
 * back-off while within c->retry_deadline_ms of the first such failure;
 * returns 0 when the job must fail instead. */
static int commit_retry(mr_coord *c, job *j, const mr_err *err)
{
    if (!retry_allowed(c, j->commit_failures, &j->commit_first_fail_ms))
        return 0;
    uint64_t wait = retry_backoff_ms(j->commit_failures++);
    j->commit_not_before_ms = coord_now_ms() + wait;
    mr_log(MR_LOG_WARN, "coordinator", "job=%s commit: warehouse unreachable, retrying in %" PRIu64
           " ms: %s", j->id, wait, err->msg);
    return 1;
}

void coord_commit_ready(mr_coord *c)
{
    for (job *j = c->jobs; j; j = j->next) {
        if (j->state != JOB_RUNNING || j->committing || j->cancel_requested ||
            j->commit_not_before_ms > coord_now_ms())
            continue;
        uint32_t done = 0;
        for (uint32_t s = 0; s < j->nstages; s++)
            done += j->stages[s].state == STAGE_DONE;
        if (done != j->nstages)
            continue;
        commit_work w;
        char errbuf[1024];
        if (commit_prepare(j, &w, errbuf, sizeof errbuf) < 0) {
            commit_work_free(&w);
            job_finish(c, j, JOB_FAILED, errbuf);
            return;
        }
        if (files_prepare(j, errbuf, sizeof errbuf) < 0) {
            commit_work_free(&w);
            job_finish(c, j, JOB_FAILED, errbuf);
            return;
        }
        j->committing = 1;
        mr_log(MR_LOG_INFO, "coordinator", "job=%s committing %d output(s)", j->id, w.ntargets);
        pthread_mutex_unlock(&c->mu);
        mr_err err;
        mr_err_clear(&err);
        int rc = mr_wh_commit(&w.cfg, w.targets, w.ntargets,
                              (const char *const *)j->plan->post_sql, (int)j->plan->n_post_sql,
                              &err);
        pthread_mutex_lock(&c->mu);
        j->committing = 0;
        if (rc == MR_EIO && commit_retry(c, j, &err)) {
            commit_work_free(&w);
            return;
        }
        if (rc < 0) {
            char msg[1200];
            snprintf(msg, sizeof msg, "commit failed: %s", err.msg);
            job_finish(c, j, JOB_FAILED, msg);
        } else if (files_publish(j, errbuf, sizeof errbuf) < 0) {
            char msg[1200];
            snprintf(msg, sizeof msg, "the warehouse committed but a file output did not: %s",
                     errbuf);
            job_finish(c, j, JOB_FAILED, msg);
        } else {
            for (int i = 0; i < w.ntargets; i++)
                if (w.target_stage[i] != UINT32_MAX)
                    j->output_rows[w.target_stage[i]] = w.targets[i].rows;
            job_finish(c, j, JOB_SUCCEEDED, NULL);
        }
        commit_work_free(&w);
        return; /* the job list may have changed while unlocked */
    }
}
