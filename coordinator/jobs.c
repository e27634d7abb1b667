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
#include "coordinator/store.h"
#include "core/csv.h"
#include "core/log.h"
#include "warehouse/warehouse.h"

static int check_targets(const job *j, const mr_wh_config *cfg, mr_err *err);
static int mark_quoted_splits(const Millrace__ReadSpec *rd, Millrace__Split **splits, size_t n,
                              mr_err *err);

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

static void bcast_free(Millrace__BroadcastRead **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < v[i]->n_splits; k++)
            millrace__split__free_unpacked(v[i]->splits[k], NULL);
        free(v[i]->splits);
        free(v[i]);
    }
    free(v);
}

static void job_free(job *j)
{
    for (uint32_t s = 0; s < j->nstages; s++) {
        stage_rt *st = &j->stages[s];
        for (uint32_t t = 0; t < st->ntasks; t++) {
            if (st->tasks[t].split)
                millrace__split__free_unpacked(st->tasks[t].split, NULL);
            free(st->tasks[t].mark_max);
            coord_checks_task_free(&st->tasks[t]);
        }
        free(st->tasks);
        bcast_free(st->bcast, st->nbcast);
    }
    coord_bm_free(j->bm);
    if (j->out_paths)
        for (uint32_t s = 0; s < j->nstages; s++)
            free(j->out_paths[s]);
    free(j->out_paths);
    free(j->wh_path);
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
    coord_checks_job_free(j);
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
    int trimmed = 0;
    for (job **pp = &c->jobs; *pp;) {
        job *j = *pp;
        int done = j->state >= JOB_SUCCEEDED;
        if (done && ++finished > c->history) {
            *pp = j->next;
            job_free(j);
            trimmed = 1;
        } else {
            pp = &j->next;
        }
    }
    /* a job forgotten here is forgotten by the store too, so GET
     * /v1/jobs/ID and the job list agree */
    if (trimmed)
        coord_store_keep(c, c->history);
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
    if (state != JOB_SUCCEEDED && j->out_paths) /* once job_start resolved them */
        for (uint32_t s = 0; s < j->nstages; s++)
            if (j->out_paths[s]) {
                mr_wh_config fcfg;
                mr_err derr;
                coord_file_output_cfg(j->stages[s].plan->write, j->out_paths[s], j->id, &fcfg);
                if (mr_wh_drop_staging(&fcfg, NULL, &derr) < 0)
                    mr_log(MR_LOG_WARN, "coordinator", "job=%s %s", j->id, derr.msg);
            }
    /* Staging left by the job: everything when it failed, and after a commit
     * whatever superseded attempts staged; then its lease (staging.c). */
    coord_staging_job_end(c, j);
    /* durable before mu is released, so before anyone sees it finished */
    coord_store_job(c, j);
    mr_log(state == JOB_SUCCEEDED ? MR_LOG_INFO : MR_LOG_WARN, "coordinator",
           "job=%s %s%s%s (%" PRId64 " ms)", j->id, coord_job_state_name(state),
           error ? ": " : "", error ? error : "",
           /* a job that ends before it starts counts from its submission */
           j->finished_at - (j->started_at ? j->started_at : j->submitted_at));
}

/* What a job's preparation found, built with the lock released and then
 * published into the job (job_publish). */
typedef struct job_prep {
    char *wh_path;    /* the SQLite warehouse, resolved */
    int wh_refused;   /* the warehouse path is outside the data root */
    char **out_paths; /* per stage: a file output's path, resolved */
    task_rt **tasks;  /* per stage */
    uint32_t *ntasks;
    Millrace__BroadcastRead ***bcast; /* per stage: its broadcast reads */
    size_t *nbcast;
    int leased;
    job_bm *bm;       /* incremental reads: bookmarks loaded, files taken */
    char *error;      /* the job fails with this */
} job_prep;

static void prep_free(job_prep *p, uint32_t nstages)
{
    for (uint32_t s = 0; s < nstages; s++) {
        if (p->out_paths)
            free(p->out_paths[s]);
        for (uint32_t t = 0; p->tasks && p->ntasks && t < p->ntasks[s]; t++)
            if (p->tasks[s][t].split)
                millrace__split__free_unpacked(p->tasks[s][t].split, NULL);
        if (p->tasks)
            free(p->tasks[s]);
        if (p->bcast && p->nbcast)
            bcast_free(p->bcast[s], p->nbcast[s]);
    }
    free(p->bcast);
    free(p->nbcast);
    free(p->out_paths);
    free(p->tasks);
    free(p->ntasks);
    free(p->wh_path);
    free(p->error);
    coord_bm_free(p->bm);
}

/* Records the message the job fails with; returns code. */
static int prep_fail(job_prep *p, const mr_err *err, int code)
{
    free(p->error);
    p->error = strdup(err->msg);
    return code;
}

int coord_job_wh(const job *j, mr_wh_config *cfg)
{
    const Millrace__Warehouse *w = j->plan->warehouse;
    if (!w || j->wh_refused || (w->driver == MILLRACE__WAREHOUSE_DRIVER__DRIVER_SQLITE && !j->wh_path))
        return 0;
    *cfg = (mr_wh_config){mr_plan_name(mr_plan_driver_names, w->driver),
                          w->driver == MILLRACE__WAREHOUSE_DRIVER__DRIVER_SQLITE ? j->wh_path : w->path,
                          w->dsn, w->schema, NULL, NULL, 0};
    return 1;
}

/* Resolves warehouse and output paths, creates the outputs' temporary
 * folders, cuts the inputs into splits (with the CSV quote pass), checks
 * the targets and takes the staging lease: the job's blocking I/O, run
 * without c->mu.  Reads only what does not change once the job exists
 * (its plan, base_dir, id; c's settings). */
static int job_prepare(const mr_coord *c, const job *j, job_prep *p)
{
    mr_err err;
    mr_err_clear(&err);
    memset(p, 0, sizeof *p);
    p->out_paths = calloc(j->nstages + 1, sizeof *p->out_paths);
    p->tasks = calloc(j->nstages + 1, sizeof *p->tasks);
    p->ntasks = calloc(j->nstages + 1, sizeof *p->ntasks);
    p->bcast = calloc(j->nstages + 1, sizeof *p->bcast);
    p->nbcast = calloc(j->nstages + 1, sizeof *p->nbcast);
    if (!p->out_paths || !p->tasks || !p->ntasks || !p->bcast || !p->nbcast)
        return prep_fail(p, &err, mr_err_oom(&err, NULL));
    const Millrace__Warehouse *w = j->plan->warehouse;
    if (w && w->driver == MILLRACE__WAREHOUSE_DRIVER__DRIVER_SQLITE) {
        const char *given = w->path && w->path[0] ? w->path : "millrace.db";
        p->wh_path = coord_resolve_path(j->base_dir, given);
        if (!p->wh_path)
            return prep_fail(p, &err, mr_err_oom(&err, NULL));
        if (!coord_warehouse_under(c->data_root, p->wh_path)) {
            /* nothing may open it, not even the cleanup of staging */
            p->wh_refused = 1;
            return prep_fail(p, &err,
                             mr_err_set(&err, MR_EINVAL,
                                        "warehouse path '%s' is outside the data root", given));
        }
    }
    for (uint32_t s = 0; s < j->nstages; s++) {
        const Millrace__WriteSpec *ws = j->plan->stages[s]->write;
        if (!is_file_write(ws))
            continue;
        char *path = coord_resolve_path(j->base_dir, ws->path);
        if (!path || !coord_output_under(c->data_root, path)) {
            free(path);
            return prep_fail(p, &err, mr_err_node(&err, MR_EINVAL, ws->node,
                                                    "output '%s' is outside the data root",
                                                    ws->path));
        }
        p->out_paths[s] = path;
        mr_wh_config fcfg;
        coord_file_output_cfg(ws, path, j->id, &fcfg);
        mr_wh_target t = {.table = path, .mode = mr_plan_name(mr_plan_mode_names, ws->mode)};
        coord_store_cleanup(c, j, p->wh_path, p->out_paths); /* before the folder exists */
        int rc = mr_wh_begin(&fcfg, &t, &err);
        if (rc < 0) {
            mr_err_prefix(&err, "node '%s'", ws->node);
            return prep_fail(p, &err, rc);
        }
    }
    mr_wh_config bcfg = {mr_plan_name(mr_plan_driver_names, w ? (int)w->driver : 0),
                         w && w->driver != MILLRACE__WAREHOUSE_DRIVER__DRIVER_SQLITE ? w->path
                                                                                    : p->wh_path,
                         w ? w->dsn : NULL, w ? w->schema : NULL, NULL, NULL, 0};
    int brc = coord_bm_prepare(j, &bcfg, &p->bm, &err); /* incremental reads' bookmarks */
    if (brc < 0)
        return prep_fail(p, &err, brc);
    for (uint32_t s = 0; s < j->nstages; s++) {
        const stage_rt *st = &j->stages[s];
        const Millrace__Stage *ps = st->plan;
        if (st->reads_shuffle) {
            p->ntasks[s] = ps->partitions ? ps->partitions : 1;
            p->tasks[s] = calloc(p->ntasks[s], sizeof *p->tasks[s]);
            if (!p->tasks[s]) {
                p->ntasks[s] = 0;
                return prep_fail(p, &err, mr_err_oom(&err, NULL));
            }
        }
        /* Broadcast reads, in scan and shuffle-reading stages alike: each
         * file one split, all of them in every task. */
        for (size_t o = 0; o < ps->n_ops; o++) {
            const Millrace__OpSpec *op = ps->ops[o];
            if (op->kind != MILLRACE__OP_KIND__OP_SCAN || !op->read->broadcast)
                continue;
            Millrace__Split **splits;
            size_t n;
            int cm = op->read->format == MILLRACE__FILE_FORMAT__FORMAT_PARQUET
                         ? MILLRACE__COMPRESSION__COMPRESSION_NONE : (int)op->read->compression;
            int rc = coord_resolve_inputs(j->base_dir, c->data_root, op->read->path, UINT64_MAX,
                                          cm, &splits, &n, &err);
            if (rc < 0) {
                mr_err_prefix(&err, "node '%s'", op->node);
                return prep_fail(p, &err, rc);
            }
            Millrace__BroadcastRead *br = calloc(1, sizeof *br);
            Millrace__BroadcastRead **grown =
                br ? realloc(p->bcast[s], (p->nbcast[s] + 1) * sizeof *grown) : NULL;
            if (!grown) {
                for (size_t i = 0; i < n; i++)
                    millrace__split__free_unpacked(splits[i], NULL);
                free(splits);
                free(br);
                return prep_fail(p, &err, mr_err_oom(&err, NULL));
            }
            millrace__broadcast_read__init(br);
            br->op = (uint32_t)o;
            br->splits = splits;
            br->n_splits = n;
            p->bcast[s] = grown;
            p->bcast[s][p->nbcast[s]++] = br;
        }
        /* One task per split of every read in the stage, read by read. */
        for (size_t o = 0; o < ps->n_ops && !st->reads_shuffle; o++) {
            const Millrace__OpSpec *op = ps->ops[o];
            if (op->kind != MILLRACE__OP_KIND__OP_SCAN || op->read->broadcast)
                continue;
            Millrace__Split **splits;
            size_t n;
            /* Parquet compresses its own pages: no stream compression */
            int cm = op->read->format == MILLRACE__FILE_FORMAT__FORMAT_PARQUET
                         ? MILLRACE__COMPRESSION__COMPRESSION_NONE : (int)op->read->compression;
            int rc = op->read->format == MILLRACE__FILE_FORMAT__FORMAT_POSTGRES
                         ? coord_db_splits(op->read, &splits, &n, &err)
                         : coord_resolve_inputs(j->base_dir, c->data_root, op->read->path,
                                                c->split_bytes, cm, &splits, &n, &err);
            if (rc < 0) {
                mr_err_prefix(&err, "node '%s'", op->node);
                return prep_fail(p, &err, rc);
            }
            if (p->bm && (rc = coord_bm_filter_files(p->bm, op->node, splits, &n, &err)) < 0) {
                for (size_t i = 0; i < n; i++)
                    millrace__split__free_unpacked(splits[i], NULL);
                free(splits);
                mr_err_prefix(&err, "node '%s'", op->node);
                return prep_fail(p, &err, rc);
            }
            int none = n == 0; /* no new file: one task that reads nothing */
            if (op->read->format == MILLRACE__FILE_FORMAT__FORMAT_CSV &&
                (rc = mark_quoted_splits(op->read, splits, n, &err)) < 0) {
                mr_err_prefix(&err, "node '%s'", op->node);
                rc = prep_fail(p, &err, rc);
            }
            task_rt *grown =
                rc < 0 ? NULL : realloc(p->tasks[s], (p->ntasks[s] + n + none) * sizeof *grown);
            if (!grown) {
                for (size_t i = 0; i < n; i++)
                    millrace__split__free_unpacked(splits[i], NULL);
                free(splits);
                return rc < 0 ? rc : prep_fail(p, &err, mr_err_oom(&err, NULL));
            }
            p->tasks[s] = grown;
            for (size_t i = 0; i < n; i++) {
                memset(&grown[p->ntasks[s] + i], 0, sizeof *grown);
                grown[p->ntasks[s] + i].split = splits[i];
                grown[p->ntasks[s] + i].scan_op = (uint32_t)o;
            }
            if (none) {
                memset(&grown[p->ntasks[s]], 0, sizeof *grown);
                grown[p->ntasks[s]].scan_op = (uint32_t)o;
            }
            p->ntasks[s] += (uint32_t)(n + none);
            free(splits);
        }
        for (uint32_t t = 0; t < p->ntasks[s]; t++)
            p->tasks[s][t].executor = -1;
    }
    mr_wh_config cfg = {mr_plan_name(mr_plan_driver_names, w ? (int)w->driver : MILLRACE__WAREHOUSE_DRIVER__DRIVER_SQLITE),
                        w ? p->wh_path : NULL, w ? w->dsn : NULL, w ? w->schema : NULL, NULL, NULL, 0};
    if (w && w->driver != MILLRACE__WAREHOUSE_DRIVER__DRIVER_SQLITE)
        cfg.path = w->path;
    int rc = check_targets(j, &cfg, &err);
    if (rc < 0)
        return prep_fail(p, &err, rc);
    if (w) {
        coord_store_cleanup(c, j, p->wh_path, p->out_paths); /* before the lease */
        p->leased = coord_staging_lease(c, j, &cfg);
    }
    return 0;
}

/* Moves what the preparation found into the job (mu held). */
static void job_publish(job *j, job_prep *p)
{
    j->wh_path = p->wh_path;
    j->wh_refused = p->wh_refused;
    j->out_paths = p->out_paths;
    j->leased = p->leased;
    j->bm = p->bm;
    p->bm = NULL;
    coord_bm_check_nothing_new(j->bm);
    for (uint32_t s = 0; s < j->nstages && p->tasks && p->ntasks; s++) {
        j->stages[s].tasks = p->tasks[s];
        j->stages[s].ntasks = p->ntasks[s];
        j->stages[s].bcast = p->bcast[s];
        j->stages[s].nbcast = p->nbcast[s];
    }
    free(p->tasks);
    free(p->ntasks);
    free(p->bcast);
    free(p->nbcast);
    p->bcast = NULL;
    p->nbcast = NULL;
    p->wh_path = NULL;
    p->out_paths = NULL;
    p->tasks = NULL;
    p->ntasks = NULL;
}

int job_start(mr_coord *c, job *j)
{
    job_prep p;
    pthread_mutex_unlock(&c->mu);
    int rc = job_prepare(c, j, &p);
    pthread_mutex_lock(&c->mu);
    job_publish(j, &p);
    if (rc < 0) {
        job_finish(c, j, JOB_FAILED, p.error ? p.error : "out of memory");
        prep_free(&p, j->nstages);
        return rc;
    }
    prep_free(&p, j->nstages);
    if (j->cancel_requested)
        return MR_ECANCELLED; /* coord_schedule ends it */
    coord_staging_job_start(c, j);
    j->state = JOB_RUNNING;
    j->started_at = coord_unix_ms();
    if (coord_bm_nothing_new(j->bm)) {
        /* every read is incremental files and none has a new file */
        mr_log(MR_LOG_INFO, "coordinator", "job=%s nothing new to read", j->id);
        for (uint32_t s = 0; s < j->nstages; s++)
            j->stages[s].state = STAGE_DONE;
        job_finish(c, j, JOB_SUCCEEDED, NULL);
        return MR_ECANCELLED;
    }
    mr_log(MR_LOG_INFO, "coordinator", "job=%s started", j->id);
    coord_store_job(c, j); /* with what a restart must clean up */
    return 0;
}

/* Tells every split of a CSV file after the first whether it starts inside
 * a quoted field, so a quoted newline across a boundary is read right (one
 * pass over each file that has several splits; see core/csv.h). */
static int mark_quoted_splits(const Millrace__ReadSpec *rd, Millrace__Split **splits, size_t n,
                              mr_err *err)
{
    char quote = rd->csv && rd->csv->quote && rd->csv->quote[0] ? rd->csv->quote[0] : '"';
    for (size_t i = 0; i < n;) {
        size_t k = i + 1;
        while (k < n && strcmp(splits[k]->path, splits[i]->path) == 0)
            k++;
        if (k - i > 1) {
            uint64_t *offs = calloc(k - i, sizeof *offs);
            bool *inq = calloc(k - i, sizeof *inq);
            int rc = offs && inq ? 0 : mr_err_oom(err, NULL);
            for (size_t x = i; x < k && rc == 0; x++)
                offs[x - i] = splits[x]->offset;
            if (rc == 0)
                rc = mr_csv_quote_parity(splits[i]->path, quote, offs, k - i, inq, err);
            for (size_t x = i; x < k && rc == 0; x++)
                splits[x]->in_quote = inq[x - i];
            free(offs);
            free(inq);
            if (rc < 0)
                return rc;
        }
        i = k;
    }
    return 0;
}

/* Refuses, before any data moves, a write whose existing table does not fit
 * its schema (the check the commit would make, rolled back). */
static int check_targets(const job *j, const mr_wh_config *cfg, mr_err *err)
{
    mr_err_clear(err);
    return mr_wh_check_plan(j->plan, cfg, err);
}

void coord_job_cancel(mr_coord *c, job *j)
{
    (void)c;
    if (j->state == JOB_QUEUED || j->state == JOB_RUNNING)
        j->cancel_requested = 1;
}
