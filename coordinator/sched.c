/* sched.c - handing tasks to executors, stage readiness, task results.
 *
 * Scheduling is push-based: before the first task of a stage that feeds a
 * shuffle runs, every partition of the consuming stage gets an owner
 * executor, and map tasks push each partition's rows straight to it.  The
 * consuming stage's task p is then run on owners[p] once every map task has
 * succeeded, reading exactly the successful attempt of each map task.
 *
 * Results: a task attempt reports success or failure; a retryable failure
 * (I/O, a lost peer) is tried again with back-off (recovery.c), a data error
 * fails the job with the task's own message.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/coord_int.h"
#include "core/io.h"
#include "core/log.h"
#include "warehouse/warehouse.h"

static int stage_inputs_done(job *j, const stage_rt *st)
{
    for (size_t i = 0; i < st->plan->n_inputs; i++)
        for (uint32_t s = 0; s < j->nstages; s++)
            if (j->stages[s].plan->id == st->plan->inputs[i] && j->stages[s].state != STAGE_DONE)
                return 0;
    return 1;
}

stage_rt *stage_by_id(job *j, uint32_t id)
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
    /* The stage with its file output's resolved path (the plan keeps the
     * path as written). */
    Millrace__Stage stage = *ps;
    Millrace__WriteSpec write;
    const char *out_path = j->out_paths ? j->out_paths[st - j->stages] : NULL;
    if (ps->write && out_path) {
        write = *ps->write;
        write.path = (char *)out_path;
        stage.write = &write;
    }
    spec.stage = &stage;
    spec.split = tk->split;
    spec.zstd_level = c->zstd_level;
    /* now(): one instant per job, whichever executor or attempt runs it */
    spec.job_start_us = (j->started_at ? j->started_at : j->submitted_at) * 1000;
    spec.scan_op = tk->scan_op;
    spec.broadcast_reads = st->bcast;
    spec.n_broadcast_reads = st->nbcast;
    const char *wm = ps->n_ops > tk->scan_op && !st->reads_shuffle
                         ? coord_bm_watermark(j, ps->ops[tk->scan_op]->node) : NULL;
    spec.has_watermark = wm != NULL;
    spec.watermark = (char *)(wm ? wm : "");
    /* The warehouse without its secrets: an executor adds its own
     * (docs/security.md).  A dsn that cannot be parsed goes out empty; the
     * job's start already checked it, so this is out of memory at worst. */
    Millrace__Warehouse wh;
    char *public_dsn = NULL;
    if (j->plan->warehouse) {
        wh = *j->plan->warehouse;
        if (wh.driver == MILLRACE__WAREHOUSE_DRIVER__DRIVER_SQLITE) /* resolved when the job started */
            wh.path = j->wh_path ? j->wh_path : "";
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

#define JOB_REJECT_SAMPLE 1000

/* Recounts the job's rejected and skipped rows, and keeps the task's first
 * rejects for the API (a re-run attempt rejects the same rows, so a task is
 * sampled once). */
static void job_count_rejects(job *j, task_rt *tk, const Millrace__TaskStatus *s)
{
    j->rejected_rows = j->skipped_rows = j->groups_skipped = 0;
    for (uint32_t st = 0; st < j->nstages; st++)
        for (uint32_t t = 0; t < j->stages[st].ntasks; t++)
            if (j->stages[st].tasks[t].state == TASK_DONE) {
                j->rejected_rows += j->stages[st].tasks[t].rejected;
                j->skipped_rows += j->stages[st].tasks[t].skipped;
                j->groups_skipped += j->stages[st].tasks[t].groups_skipped;
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

/* An attempt of an ended job reported: it may have finished uploading a
 * part to an object store's staging prefix after the job dropped it (an
 * object store, unlike a folder that is gone, takes a PUT anywhere), so the
 * prefix is cleared again.  After a commit it holds nothing of value: the
 * chosen parts were copied out and the prefix removed. */
static void late_status_cleanup(job *j, const Millrace__TaskStatus *s)
{
    if (!j->out_paths)
        return;
    stage_rt *st = stage_by_id(j, s->stage_id);
    uint32_t si = st ? (uint32_t)(st - j->stages) : UINT32_MAX;
    if (si >= j->nstages || !j->out_paths[si] || !mr_io_is_remote(j->out_paths[si]))
        return;
    mr_wh_config cfg;
    mr_err err;
    mr_err_clear(&err);
    coord_file_output_cfg(st->plan->write, j->out_paths[si], j->id, &cfg);
    if (mr_wh_drop_staging(&cfg, NULL, &err) < 0)
        mr_log(MR_LOG_WARN, "coordinator", "job=%s %s", j->id, err.msg);
}

void coord_on_status(mr_coord *c, const char *identity, const Millrace__TaskStatus *s)
{
    job *j = coord_job_find(c, s->job_id);
    if (j && j->state != JOB_RUNNING && j->state != JOB_QUEUED)
        late_status_cleanup(j, s);
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
        tk->groups_skipped = s->groups_skipped;
        coord_bm_task_mark(tk, s);
        job_count_rejects(j, tk, s);
        if (coord_checks_task(tk, s) < 0) {
            job_finish(c, j, JOB_FAILED, "out of memory keeping check results");
            return;
        }
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
