/* commit.c - a finished job's commit: every output prepared (file outputs:
 * their parts in place), the staged rows into the warehouse in one
 * transaction with post_sql, then every output published (file outputs
 * renamed into place), through the drivers of warehouse/warehouse.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/coord_int.h"
#include "core/log.h"
#include "proto/schema_pb.h"
#include "warehouse/warehouse.h"

/* Everything the commit needs, copied so it can run without the lock. */
typedef struct commit_work {
    job *j;
    mr_wh_config cfg;
    mr_wh_target *targets;
    mr_schema **schemas;
    char ***staging;
    uint32_t *target_stage;
    int ntargets;
    mr_wh_bookmarks bookmarks; /* incremental reads: moved with the data */
    int checks; /* the millrace_checks target, or -1 */
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
    coord_bm_target_free(&w->bookmarks);
}

static int commit_prepare(job *j, commit_work *w, mr_err *err)
{
    memset(w, 0, sizeof *w);
    w->j = j;
    w->checks = -1;
    if (!coord_job_wh(j, &w->cfg))
        w->cfg = (mr_wh_config){.driver = "sqlite"};
    int n = 3; /* room for the rejects, checks and bookmarks targets */
    for (uint32_t s = 0; s < j->nstages; s++)
        n += j->stages[s].plan->write != NULL && !is_file_write(j->stages[s].plan->write);
    w->targets = calloc((size_t)n + 1, sizeof *w->targets);
    w->schemas = calloc((size_t)n + 1, sizeof *w->schemas);
    w->staging = calloc((size_t)n + 1, sizeof *w->staging);
    w->target_stage = calloc((size_t)n + 1, sizeof *w->target_stage);
    if (!w->targets || !w->schemas || !w->staging || !w->target_stage)
        return mr_err_oom(err, NULL);
    for (uint32_t s = 0; s < j->nstages; s++) {
        const stage_rt *st = &j->stages[s];
        const Millrace__WriteSpec *ws = st->plan->write;
        if (!ws || is_file_write(ws))
            continue;
        int i = w->ntargets++;
        mr_err serr;
        w->schemas[i] = mr_schema_from_pb(ws->schema, &serr);
        w->staging[i] = calloc(st->ntasks + 1, sizeof *w->staging[i]);
        if (!w->schemas[i] || !w->staging[i])
            return mr_err_oom(err, NULL);
        for (uint32_t t = 0; t < st->ntasks; t++) {
            char name[160];
            mr_wh_staging_name(name, sizeof name, 's', j->id, st->plan->id, t,
                               st->tasks[t].ok_attempt);
            if (!(w->staging[i][t] = strdup(name)))
                return mr_err_oom(err, NULL);
        }
        mr_wh_target_from_plan(ws, &w->targets[i]);
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
            return mr_err_oom(err, NULL);
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
                    return mr_err_oom(err, NULL);
            }
        w->targets[i].table = MR_WH_REJECTS_TABLE;
        w->targets[i].mode = "append";
        w->targets[i].schema = w->schemas[i];
        w->targets[i].staging_tables = (const char *const *)w->staging[i];
        w->targets[i].nstaging = (int)k;
        w->target_stage[i] = UINT32_MAX;
    }
    if (j->bm) {
        int i = w->ntargets;
        int rc = coord_bm_target(j, &w->bookmarks, &w->targets[i], err);
        if (rc < 0)
            return rc;
        w->ntargets++;
        w->target_stage[i] = UINT32_MAX;
    }
    if (j->nchecks > 0 && coord_job_wh(j, &w->cfg)) {
        /* The check rules' outcomes land in millrace_checks in the same
         * transaction, staged by the coordinator (checks.c) under an 'r'
         * name no stage has. */
        int i = w->ntargets;
        char name[160];
        mr_wh_staging_name(name, sizeof name, 'r', j->id, j->nstages, 0, 0);
        w->schemas[i] = NULL;
        w->staging[i] = calloc(2, sizeof *w->staging[i]);
        if (!w->staging[i] || !(w->staging[i][0] = strdup(name)))
            return mr_err_oom(err, NULL);
        w->ntargets++;
        w->targets[i].table = MR_WH_CHECKS_TABLE;
        w->targets[i].mode = "append";
        w->targets[i].staging_tables = (const char *const *)w->staging[i];
        w->targets[i].nstaging = 1;
        w->target_stage[i] = UINT32_MAX;
        w->checks = i;
    }
    return 0;
}

/* Runs step (mr_wh_prepare or mr_wh_publish) for every file output, with
 * the chosen attempt of each of its tasks; prepare also counts its rows. */
static int files_step(job *j, int (*step)(const mr_wh_config *, mr_wh_target *, int, mr_err *),
                      mr_err *err)
{
    for (uint32_t s = 0; s < j->nstages; s++) {
        stage_rt *st = &j->stages[s];
        const Millrace__WriteSpec *ws = st->plan->write;
        if (!is_file_write(ws))
            continue;
        char **names = calloc(st->ntasks + 1, sizeof *names);
        char *block = malloc((size_t)(st->ntasks + 1) * 160);
        if (!names || !block) {
            free(names);
            free(block);
            return mr_err_oom(err, NULL);
        }
        uint64_t rows = 0;
        for (uint32_t t = 0; t < st->ntasks; t++) {
            names[t] = block + (size_t)t * 160;
            mr_wh_staging_name(names[t], 160, 's', j->id, st->plan->id, t, st->tasks[t].ok_attempt);
            rows += st->tasks[t].rows_out;
        }
        mr_wh_config cfg;
        coord_file_output_cfg(ws, j->out_paths[s], j->id, &cfg);
        mr_wh_target t = {.table = j->out_paths[s],
                          .mode = mr_plan_name(mr_plan_mode_names, ws->mode),
                          .staging_tables = (const char *const *)names,
                          .nstaging = (int)st->ntasks};
        int rc = step(&cfg, &t, 1, err);
        free(names);
        free(block);
        if (rc < 0)
            return rc;
        if (step == mr_wh_prepare)
            j->output_rows[s] = rows;
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
        /* The check rules decide before anything is committed. */
        char *failed = NULL;
        if (coord_checks_sum(j, &failed) < 0) {
            job_finish(c, j, JOB_FAILED, "out of memory summing check results");
            return;
        }
        if (failed) {
            mr_log(MR_LOG_WARN, "coordinator", "job=%s %s", j->id, failed);
            job_finish(c, j, JOB_FAILED, failed);
            free(failed);
            return;
        }
        commit_work w;
        mr_err err;
        mr_err_clear(&err);
        if (coord_bm_nothing_loaded(j)) {
            /* every read is incremental and none passed a row: nothing to
             * load, and no bookmark to move */
            mr_log(MR_LOG_INFO, "coordinator", "job=%s nothing new to load", j->id);
            job_finish(c, j, JOB_SUCCEEDED, NULL);
            return;
        }
        if (commit_prepare(j, &w, &err) < 0) {
            commit_work_free(&w);
            job_finish(c, j, JOB_FAILED, err.msg);
            return;
        }
        if (files_step(j, mr_wh_prepare, &err) < 0) {
            commit_work_free(&w);
            job_finish(c, j, JOB_FAILED, err.msg);
            return;
        }
        j->committing = 1;
        mr_log(MR_LOG_INFO, "coordinator", "job=%s committing %d output(s)", j->id, w.ntargets);
        pthread_mutex_unlock(&c->mu);
        /* j->checks changes only on this thread (coord_checks_sum above) */
        int rc = 0;
        if (w.checks >= 0) {
            mr_schema *cs = NULL;
            rc = coord_checks_stage(j, &w.cfg, w.staging[w.checks][0], &cs, &err);
            w.schemas[w.checks] = cs;
            w.targets[w.checks].schema = cs;
        }
        if (rc >= 0)
            rc = mr_wh_commit(&w.cfg, w.targets, w.ntargets,
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
        } else if (files_step(j, mr_wh_publish, &err) < 0) {
            char msg[1200];
            snprintf(msg, sizeof msg, "the warehouse committed but a file output did not: %s",
                     err.msg);
            job_finish(c, j, JOB_FAILED, msg);
        } else {
            if (j->bm)
                coord_bm_committed(j);
            for (int i = 0; i < w.ntargets; i++)
                if (w.target_stage[i] != UINT32_MAX)
                    j->output_rows[w.target_stage[i]] = w.targets[i].rows;
            job_finish(c, j, JOB_SUCCEEDED, NULL);
        }
        commit_work_free(&w);
        return; /* the job list may have changed while unlocked */
    }
}
