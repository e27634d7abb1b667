/* task.h - running one task (a stage on one split or partition) in an
 * executor worker thread.
 */
#ifndef MR_TASK_H
#define MR_TASK_H

#include <stdint.h>

#include "core/error.h"
#include "core/op/watermark.h"
#include "executor/shuffle_store.h"
#include "net/transport.h"
#include "proto/millrace.pb-c.h"

/* How far a running task has come, written by its thread and read by the
 * executor's main thread for heartbeats. */
typedef struct mr_task_progress {
    _Atomic uint64_t rows_in;  /* rows taken from shuffle input */
    _Atomic uint64_t rows_out; /* rows handed to the stage's sink */
    _Atomic int waiting;       /* blocked until its shuffle input is complete */
} mr_task_progress;

typedef struct mr_task_env {
    mr_net *net;
    mr_shuffle_store *store;
    const char *data_root;      /* absolute, no trailing slash; "/" allows all */
    int shuffle_wait_ms;        /* how long a reduce task waits for its input */
    int batch_delay_ms;         /* test hook: sleep after each batch (0: none), so
                                 * fault tests can stop a process mid-task */
    int shuffle_window;         /* credit window per destination (0: default) */
    mr_task_progress *progress; /* this task's progress, or NULL */
    size_t op_memory;           /* memory budget of each stateful operator of a
                                 * task (aggregate, join, sort, distinct) before
                                 * it spills; 0: unlimited */
    const char *op_spill_dir;   /* where operators spill (NULL: $TMPDIR or /tmp) */
    mr_membudget *budget;       /* the executor's one budget: a task reserves
                                 * op_memory per stateful operator while it runs
                                 * (NULL: none) */
} mr_task_env;

#define MR_TASK_REJECT_SAMPLE 20

/* A rejected row copied out of the scan (strings owned by the stats). */
typedef struct mr_task_reject {
    char *node, *file, *reason, *raw;
    int64_t line;
} mr_task_reject;

/* One check rule's counts in this attempt (core/op/check.h), strings
 * owned by the stats. */
typedef struct mr_task_check {
    char *node, *rule;
    uint64_t rows_checked, rows_failed;
    char **samples;
    int nsamples;
} mr_task_check;

typedef struct mr_task_stats {
    uint64_t rows_in, rows_out, bytes_read, bytes_shuffled;
    uint64_t rejected_rows, skipped_rows;
    uint64_t groups_skipped; /* Parquet row groups its scan skipped by statistics */
    uint64_t spill_bytes, spill_files; /* what the task's operators spilled */
    mr_task_reject sample[MR_TASK_REJECT_SAMPLE]; /* the first rejected rows */
    int nsample;
    /* an incremental column read: the rows its scan passed and their
     * largest value (core/op/watermark.h) */
    int has_mark, mark_has_max;
    uint64_t mark_rows;
    char mark_node[64];
    char mark_max[MR_WATERMARK_MAX + 1];
    mr_task_check *checks; /* every rule of the stage's check operators */
    int nchecks;
} mr_task_stats;

/* Frees the reject sample. */
void mr_task_stats_free(mr_task_stats *stats);

/* Runs spec to the end: builds the stage's operator pipeline, drains it into
 * the stage's sink (shuffle or warehouse staging), and stages the rows its
 * read rejected (on_error: reject) in the warehouse under the attempt's
 * reject table.  *cancel is polled between batches.  0, or a negative code
 * with the task's error in err; stats are filled either way (free them with
 * mr_task_stats_free). */
int mr_task_run(const Millrace__TaskSpec *spec, const mr_task_env *env, volatile int *cancel,
                mr_task_stats *stats, mr_err *err);

/* Whether an error code is worth a retry on another attempt (I/O, lost
 * peers) rather than a property of the data (parse, type, overflow). */
int mr_task_error_retryable(int code);

/* Checks that path (made absolute) lies below root; 0 or MR_EINVAL. */
int mr_path_check_root(const char *root, const char *path, mr_err *err);

#endif
