/* metrics.h - the coordinator's Prometheus metrics: counters and histograms
 * fed by hooks in the job lifecycle, gauges read from live state.
 *
 * A coord_metrics lives inside mr_coord and, like the rest of it, is
 * guarded by mr_coord.mu: every coord_metrics_* call below expects the
 * caller to hold that lock (jobs.c calls the hooks from code that already
 * does; the HTTP handler takes it around coord_metrics_render).
 *
 * Counters only ever grow for the life of the process.  The per-state job
 * gauge counts the jobs the coordinator still knows (queued, running, and
 * the bounded history of finished ones); millrace_jobs_finished_total does
 * not forget.  Task durations are measured at the coordinator, from the
 * moment a task attempt is sent to the moment its result arrives, because
 * TaskStatus carries no duration: they include the trip over the control
 * socket and any queueing on the executor.  Job durations run from
 * submission to the end (queue time included), as a client sees them.
 */
#ifndef MR_COORD_METRICS_H
#define MR_COORD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define COORD_HIST_BUCKETS 15

/* A cumulative histogram in Prometheus' sense: counts[i] is the number of
 * observations <= the i-th upper bound (fixed per histogram in metrics.c);
 * count includes those above the last bound. */
typedef struct coord_hist {
    uint64_t counts[COORD_HIST_BUCKETS];
    uint64_t count;
    double sum;
} coord_hist;

typedef struct coord_metrics {
    uint64_t tasks_succeeded, tasks_failed, tasks_retried;
    uint64_t rows_read, bytes_read, bytes_shuffled, rows_written;
    uint64_t jobs_finished[5]; /* by job_state; only the finished states grow */
    coord_hist task_seconds, job_seconds;
} coord_metrics;

typedef enum {
    COORD_TASK_SUCCEEDED, /* an attempt succeeded */
    COORD_TASK_RETRIED,   /* an attempt failed and will be tried again */
    COORD_TASK_FAILED     /* an attempt failed for good (the job fails) */
} coord_task_outcome;

/* A zeroed coord_metrics is ready to use (no init function). */

/* Records one finished task attempt.  rows_read is the rows it read from
 * input files (0 for tasks that read a shuffle); the byte counts are as
 * the executor reported them.  seconds < 0 (never dispatched) is not put
 * in the histogram. */
void coord_metrics_task(coord_metrics *m, coord_task_outcome outcome, double seconds,
                        uint64_t rows_read, uint64_t bytes_read, uint64_t bytes_shuffled);

/* Records a job reaching a finished state (an index of job_state:
 * succeeded, failed or cancelled), its duration and the rows it
 * committed. */
void coord_metrics_job(coord_metrics *m, int state, double seconds, uint64_t rows_written);

struct mr_coord;
/* Renders every metric in the Prometheus text exposition format 0.0.4,
 * with HELP and TYPE lines.  Call with c->mu held.  Returns a malloc'd
 * NUL-terminated string the caller frees, or NULL when out of memory. */
char *coord_metrics_render(const struct mr_coord *c);

#endif
