/* recovery.c - retries with back-off, lineage re-runs, task timeouts.
 *
 * Every task is deterministic and re-runnable from its inputs.  When an
 * executor is lost, its running tasks start again elsewhere, and every
 * unfinished shuffle partition it owned gets a new owner; since the rows
 * pushed to it are gone, every task of the stage that produced them runs
 * again (a new attempt, pushing to the new owner), and so on up the plan
 * wherever an input partition lived on the lost executor.  Consumers read
 * exactly one attempt of each map task and the commit takes exactly one
 * attempt of each write task, so re-runs never duplicate rows.  Superseded
 * attempts still running elsewhere are told to stop.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "coordinator/coord_int.h"
#include "core/log.h"

#define MAX_ATTEMPTS 3
/* Back-off between retries of a retryable failure: full jitter, a delay
 * drawn uniformly from [0, min(RETRY_CAP_MS, RETRY_BASE_MS * 2^n)] before
 * retry n, so a restarting warehouse is not hammered and retries of many
 * tasks spread out. */
#define RETRY_BASE_MS 100
#define RETRY_CAP_MS 5000

int exec_alive(const mr_coord *c, int e);

/* The back-off before retry n (0-based), with full jitter. */
uint64_t retry_backoff_ms(uint32_t n)
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
int retry_allowed(const mr_coord *c, uint32_t failures, uint64_t *first_failure_ms)
{
    uint64_t now = coord_now_ms();
    if (*first_failure_ms == 0)
        *first_failure_ms = now;
    return failures + 1 < MAX_ATTEMPTS || now - *first_failure_ms < (uint64_t)c->retry_deadline_ms;
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
void task_restart(mr_coord *c, job *j, stage_rt *st, uint32_t t)
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

void executor_lost(mr_coord *c, int e)
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
