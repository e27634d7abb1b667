/* metrics.c - Prometheus metrics of the coordinator, in the text format.
 *
 * The hooks only add to fixed-size counters and histograms (no allocation,
 * O(buckets) at most), so calling them from the scheduler under the
 * coordinator lock costs nothing worth measuring.  Rendering walks the job
 * list and executor table once to count jobs, running tasks and executors
 * by state, then prints everything into an open_memstream buffer.  Its
 * size is bounded by the fixed set of series: no label takes a value from
 * user input, so a client cannot grow the output.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/coordinator.h"
#include "coordinator/metrics.h"

/* Tasks run from milliseconds (tiny splits) to minutes (large ones). */
static const double task_bounds[COORD_HIST_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1,
                                                       0.25,  0.5,  1,     2.5,  5,
                                                       10,    30,   60,    120,  300};
/* Jobs from a fraction of a second to an hour. */
static const double job_bounds[COORD_HIST_BUCKETS] = {0.1, 0.25, 0.5, 1,   2.5,  5,    10,  30,
                                                      60,  120,  300, 600, 1200, 1800, 3600};

static void hist_observe(coord_hist *h, const double *bounds, double v)
{
    if (v < 0)
        v = 0;
    for (int i = 0; i < COORD_HIST_BUCKETS; i++)
        if (v <= bounds[i])
            h->counts[i]++;
    h->count++;
    h->sum += v;
}

void coord_metrics_task(coord_metrics *m, coord_task_outcome outcome, double seconds,
                        uint64_t rows_read, uint64_t bytes_read, uint64_t bytes_shuffled)
{
    switch (outcome) {
    case COORD_TASK_SUCCEEDED:
        m->tasks_succeeded++;
        m->rows_read += rows_read;
        m->bytes_read += bytes_read;
        m->bytes_shuffled += bytes_shuffled;
        break;
    case COORD_TASK_RETRIED: m->tasks_retried++; break;
    case COORD_TASK_FAILED: m->tasks_failed++; break;
    }
    if (seconds >= 0)
        hist_observe(&m->task_seconds, task_bounds, seconds);
}

void coord_metrics_job(coord_metrics *m, int state, double seconds, uint64_t rows_written)
{
    if (state >= 0 && state < 5)
        m->jobs_finished[state]++;
    m->rows_written += rows_written;
    hist_observe(&m->job_seconds, job_bounds, seconds);
}

static void header(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(FILE *f, const char *name, const char *help, uint64_t v)
{
    header(f, name, "counter", help);
    fprintf(f, "%s %" PRIu64 "\n", name, v);
}

static void histogram(FILE *f, const char *name, const char *help, const coord_hist *h,
                      const double *bounds)
{
    header(f, name, "histogram", help);
    for (int i = 0; i < COORD_HIST_BUCKETS; i++)
        fprintf(f, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, bounds[i], h->counts[i]);
    fprintf(f, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, h->count);
    fprintf(f, "%s_sum %.6f\n%s_count %" PRIu64 "\n", name, h->sum, name, h->count);
}

char *coord_metrics_render(const struct mr_coord *c)
{
    const coord_metrics *m = &c->metrics;
    uint64_t jobs[5] = {0, 0, 0, 0, 0}, running_tasks = 0;
    for (const job *j = c->jobs; j; j = j->next) {
        jobs[j->state]++;
        for (uint32_t s = 0; s < j->nstages; s++)
            for (uint32_t t = 0; t < j->stages[s].ntasks; t++)
                running_tasks += j->stages[s].tasks[t].state == TASK_RUNNING;
    }
    uint64_t alive = 0, lost = 0, slots = 0;
    for (int e = 0; e < c->nexecs; e++) {
        if (c->execs[e].state == EXEC_ALIVE) {
            alive++;
            slots += c->execs[e].slots;
        } else {
            lost++;
        }
    }

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    header(f, "millrace_jobs", "gauge",
           "Jobs the coordinator knows, by state (finished ones within the kept history).");
    for (int s = 0; s < 5; s++)
        fprintf(f, "millrace_jobs{state=\"%s\"} %" PRIu64 "\n", coord_job_state_name(s), jobs[s]);
    header(f, "millrace_jobs_finished_total", "counter",
           "Jobs that reached a finished state since the coordinator started.");
    for (int s = JOB_SUCCEEDED; s <= JOB_CANCELLED; s++)
        fprintf(f, "millrace_jobs_finished_total{state=\"%s\"} %" PRIu64 "\n",
                coord_job_state_name(s), m->jobs_finished[s]);
    header(f, "millrace_tasks_total", "counter",
           "Task attempts by outcome: succeeded, failed for good, or failed and retried.");
    fprintf(f, "millrace_tasks_total{state=\"succeeded\"} %" PRIu64 "\n", m->tasks_succeeded);
    fprintf(f, "millrace_tasks_total{state=\"failed\"} %" PRIu64 "\n", m->tasks_failed);
    fprintf(f, "millrace_tasks_total{state=\"retried\"} %" PRIu64 "\n", m->tasks_retried);
    header(f, "millrace_tasks_running", "gauge", "Task attempts running on executors now.");
    fprintf(f, "millrace_tasks_running %" PRIu64 "\n", running_tasks);
    header(f, "millrace_executors", "gauge", "Registered executors by state.");
    fprintf(f, "millrace_executors{state=\"alive\"} %" PRIu64 "\n", alive);
    fprintf(f, "millrace_executors{state=\"lost\"} %" PRIu64 "\n", lost);
    header(f, "millrace_executor_slots", "gauge", "Task slots of the alive executors.");
    fprintf(f, "millrace_executor_slots %" PRIu64 "\n", slots);
    counter(f, "millrace_rows_read_total", "Rows read from input files by successful tasks.",
            m->rows_read);
    counter(f, "millrace_bytes_read_total", "Bytes read from input files by successful tasks.",
            m->bytes_read);
    counter(f, "millrace_bytes_shuffled_total",
            "Bytes sent through shuffles by successful tasks (compressed, as sent).",
            m->bytes_shuffled);
    counter(f, "millrace_rows_written_total", "Rows committed to warehouse targets.",
            m->rows_written);
    histogram(f, "millrace_task_duration_seconds",
              "Task attempt time, from dispatch to result as seen by the coordinator.",
              &m->task_seconds, task_bounds);
    histogram(f, "millrace_job_duration_seconds",
              "Job time from submission to its end (succeeded, failed or cancelled).",
              &m->job_seconds, job_bounds);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}
