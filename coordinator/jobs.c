/* jobs.c - the job table: submit, start, finish, cancel, history.
 *
 * A job moves queued -> running -> succeeded | failed | cancelled.  Starting
 * a job resolves its inputs into splits (a missing file fails the job here,
 * before any task runs) and lays out one task per split for scan stages and
 * one per partition for shuffle-reading stages.  Scheduling is in sched.c,
 * executors in members.c, recovery and retries in recovery.c, the commit in
 * commit.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "coordinator/coord_int.h"
#include "core/csv.h"
#include "core/log.h"
#include "warehouse/warehouse.h"

static int check_targets(job *j, char *errbuf, size_t cap);
static int mark_quoted_splits(const Millrace__ReadSpec *rd, Millrace__Split **splits, size_t n,
                              char *errbuf, size_t cap);

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

void job_finish(mr_coord *c, job *j, job_state state, const char *error)
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
int job_start(mr_coord *c, job *j)
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

void coord_job_cancel(mr_coord *c, job *j)
{
    (void)c;
    if (j->state == JOB_QUEUED || j->state == JOB_RUNNING)
        j->cancel_requested = 1;
}
