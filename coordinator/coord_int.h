/* coord_int.h - declarations the coordinator's job files share (jobs.c,
 * sched.c, members.c, recovery.c, commit.c); not for api.c or main.c, which
 * use coordinator.h.  Everything here is called with c->mu held.
 */
#ifndef MR_COORD_INT_H
#define MR_COORD_INT_H

#include <string.h>

#include "coordinator/coordinator.h"
#include "proto/plan_names.h"
#include "warehouse/warehouse.h"

/* A write node that lands in files rather than the warehouse. */
static inline int is_file_write(const Millrace__WriteSpec *w)
{
    return w && w->target != MILLRACE__WRITE_TARGET__TARGET_WAREHOUSE;
}

/* jobs.c */
/* Ends the job: stops its tasks, drops its staging and temporary folders. */
void job_finish(mr_coord *c, job *j, job_state state, const char *error);

/* The table the check rules' outcomes land in (checks.c). */
#define MR_WH_CHECKS_TABLE "millrace_checks"

/* checks.c: a task's check counts kept from its status (replacing an
 * earlier attempt's); the job's outcomes summed from every task
 * (coord_checks_sum: 0, or MR_ENOMEM; *fail gets the message of the
 * first failed rule with on_fail: fail, malloc'd, else NULL); those outcomes
 * staged in the warehouse under staging for the commit to append to
 * millrace_checks; and frees. */
int coord_checks_task(task_rt *tk, const Millrace__TaskStatus *s);
int coord_checks_sum(job *j, char **fail);
int coord_checks_stage(const job *j, const mr_wh_config *cfg, const char *staging,
                       mr_schema **schema, mr_err *err);
void coord_checks_task_free(task_rt *tk);
void coord_checks_job_free(job *j);
/* Starts a queued job: resolves its paths and input splits, checks its
 * targets and takes its staging lease with mu released (the job's plan is
 * read-only; only this thread starts and ends jobs, so j stays), then
 * publishes them into the job's run state.  Fails the job on bad input;
 * returns 0 when it runs. */
int job_start(mr_coord *c, job *j);

/* sched.c */
stage_rt *stage_by_id(job *j, uint32_t id);

/* members.c */
int exec_alive(const mr_coord *c, int e);
/* Picks a live executor for a partition, spreading by partition number. */
int live_owner(const mr_coord *c, uint32_t p);

/* recovery.c */
/* The back-off before retry n (0-based), with full jitter. */
uint64_t retry_backoff_ms(uint32_t n);
/* Whether a retryable failure (the failures-th before this one) may be
 * retried; sets *first_failure_ms at the first. */
int retry_allowed(const mr_coord *c, uint32_t failures, uint64_t *first_failure_ms);
/* Puts task t back to pending as a new attempt. */
void task_restart(mr_coord *c, job *j, stage_rt *st, uint32_t t);
/* Restarts elsewhere what executor e ran or held (lineage re-runs). */
void executor_lost(mr_coord *c, int e);

#endif
