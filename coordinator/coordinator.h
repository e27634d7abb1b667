/* coordinator.h - the coordinator's state: executors, jobs, stages, tasks.
 *
 * One mr_coord per process.  The main thread runs the control loop (ZeroMQ
 * ROUTER to executors, scheduling, commits); the HTTP server's threads read
 * and change the same state.  Everything in mr_coord is guarded by `mu`,
 * except what a function comment says otherwise.  A job's compiled plan is
 * read-only once the job exists; its runtime state (stage_rt, task_rt) is
 * kept apart from it, as PostgreSQL keeps plan trees apart from executor
 * state.
 */
#ifndef MR_COORDINATOR_H
#define MR_COORDINATOR_H

#include <pthread.h>
#include <stdint.h>

#include "coordinator/metrics.h"
#include "dag/dag.h"
#include "net/transport.h"
#include "proto/millrace.pb-c.h"
#include "warehouse/warehouse.h"

typedef enum { EXEC_ALIVE, EXEC_LOST } exec_state;

typedef struct exec_rt {
    char *id;
    char *address; /* data endpoint */
    unsigned slots, running;
    uint64_t memory;
    uint64_t incarnation; /* from its Register: changes when the process restarts */
    uint64_t last_heartbeat_ms;
    uint64_t shuffle_bytes_held, shuffle_bytes_spilled; /* from its last heartbeat */
    exec_state state;
    char *public_key;  /* CURVE key it registered with ("" without CURVE) */
    uint64_t reg_gen;  /* changes at every registration (its store starts empty) */
} exec_rt;

/* An owner told to expect a stage's shuffle data (ShuffleExpect). */
typedef struct expect_told {
    int exec;
    uint64_t reg_gen;
    uint32_t stage_id;
} expect_told;

typedef enum { JOB_QUEUED, JOB_RUNNING, JOB_SUCCEEDED, JOB_FAILED, JOB_CANCELLED } job_state;
typedef enum { TASK_PENDING, TASK_RUNNING, TASK_DONE, TASK_FAILED } task_state;
/* A stage still waiting or running when its job ends (cancelled, or failed
 * elsewhere) is STAGE_CANCELLED: it was stopped, it did not fail. */
typedef enum {
    STAGE_WAITING, STAGE_RUNNING, STAGE_DONE, STAGE_FAILED, STAGE_CANCELLED
} stage_state;

/* One check rule's counts in one task attempt (TaskStatus.checks);
 * strings owned. */
typedef struct task_check {
    char *node, *rule;
    uint64_t rows_checked, rows_failed;
    char **samples;
    int nsamples;
} task_check;

/* One check rule's outcome over the job (coordinator/checks.c), as
 * millrace_checks and GET /v1/jobs/ID show it; strings owned. */
typedef struct job_check {
    char *node, *rule;
    const char *kind, *action; /* static words */
    uint64_t rows_checked, rows_failed;
    int passed;
    char *sample; /* JSON array text of a few failing values */
} job_check;

typedef struct task_rt {
    task_state state;
    uint32_t attempt;      /* the attempt running or last run */
    uint32_t ok_attempt;   /* the attempt whose output counts (state DONE) */
    uint32_t retried;      /* attempts started again (failure or lost executor) */
    uint32_t failures;     /* attempts that failed with a retryable error */
    int executor;          /* index in coord.execs, -1 when none */
    uint64_t rows_in, rows_out, bytes_shuffled, bytes_read;
    Millrace__Split *split; /* scan stages; owned */
    uint32_t scan_op;       /* which OP_SCAN of the stage the split is for */
    uint64_t rejected;      /* rows its read rejected (staged as its reject table) */
    uint64_t skipped;       /* rows its read skipped */
    uint64_t groups_skipped; /* Parquet row groups its read skipped by statistics */
    int sampled;            /* its rejects are already in the job's sample */
    uint64_t dispatched_ms; /* coord_now_ms() when the attempt was sent (metrics) */
    uint64_t progress_rows; /* the attempt's progress as its executor last reported it */
    uint64_t progress_ms;   /* coord_now_ms() when that progress last changed */
    uint64_t first_failure_ms; /* coord_now_ms() of its first retryable failure; 0: none */
    uint64_t not_before_ms;    /* a retry waits (back-off) until then */
    /* an incremental column read's scan, as its ok attempt reported it
     * (TaskStatus.read_mark): rows passed, the largest value (owned) */
    uint64_t mark_rows;
    int mark_has;
    char *mark_max;
    task_check *checks;        /* what the counted attempt's check operators counted */
    int nchecks;
} task_rt;

typedef struct stage_rt {
    const Millrace__Stage *plan; /* points into job->plan */
    stage_state state;
    uint32_t ntasks;
    task_rt *tasks;
    int reads_shuffle; /* tasks are partitions, run on the partitions' owners */
    /* Broadcast reads (ReadSpec.broadcast): every split of each, sent to
     * every task of the stage (TaskSpec.broadcast_reads). */
    Millrace__BroadcastRead **bcast;
    size_t nbcast;
} stage_rt;

/* One rejected input row, as GET /v1/jobs/ID/rejects shows it.  Strings
 * are owned by the job (freed with it); any of them may be NULL. */
typedef struct job_reject {
    char *node, *file, *reason, *raw;
    uint64_t line;
} job_reject;

typedef struct job {
    char id[32];
    char *name;
    job_state state;
    int64_t submitted_at, started_at, finished_at; /* unix ms, 0 = not yet */
    char *error;
    char *params_json;  /* the params as shown: secret values masked (JSON object text) */
    mr_dag_secrets secrets; /* values masked wherever the job is shown or logged */
    char *base_dir;     /* relative paths resolve here */
    /* The plan as compiled: read-only once the job exists, so the job's
     * preparation reads it with mu released.  Paths resolved when the job
     * starts live in wh_path and out_paths, not in the plan. */
    Millrace__JobPlan *plan;
    char *wh_path;      /* the SQLite warehouse file, resolved; NULL before the start */
    int wh_refused;     /* its path left the data root: nothing may open it */
    char **out_paths;   /* per stage, a file output's path, resolved; NULL before the start */
    char *plan_json;
    stage_rt *stages;
    uint32_t nstages;
    /* Every shuffle of a job has the same owners: partition p of every
     * stage's output lives on executor owners[p], and every task p of a
     * shuffle-reading stage runs there (so joins are co-partitioned). */
    int *owners;
    uint32_t nparts;
    int cancel_requested;
    int committing;
    int leased;                   /* holds a staging lease (staging.c) */
    uint32_t commit_failures;     /* commits that could not reach the warehouse */
    uint64_t commit_first_fail_ms; /* coord_now_ms() of the first of them */
    uint64_t commit_not_before_ms; /* the next commit try waits until then */
    uint64_t *output_rows; /* per stage (rows committed by its write) */
    /* Rejected rows: rejected_rows counts them all (the successful attempt
     * of each task); rejects keeps the first nrejects of them for the API
     * (every one lands in the warehouse table millrace_rejects). */
    uint64_t rejected_rows;
    uint64_t skipped_rows;
    uint64_t groups_skipped; /* Parquet row groups skipped by statistics */
    job_reject *rejects;
    uint32_t nrejects;
    /* The check rules' outcomes, summed from the tasks once every stage is
     * done (checks.c); shown by the API, written to millrace_checks. */
    job_check *checks;
    int nchecks;
    expect_told *told;     /* owners told to expect data, per stage */
    size_t ntold, cap_told;
    int full_refresh;      /* ignore the bookmarks of incremental reads */
    struct job_bm *bm;     /* its incremental reads (bookmarks.c); NULL: none */
    struct job *next;      /* newest first */
} job;

/* staging.c's keeper of staging leases (one thread; fields under mu). */
typedef struct coord_wh_ref coord_wh_ref;
typedef struct coord_keeper {
    pthread_t thread;
    pthread_cond_t cv;
    int started, stop, kick;
    coord_wh_ref *known;    /* warehouses jobs used since start: renewed and swept */
    coord_wh_ref *pending;  /* jobs whose staging clean-up failed: retried */
} coord_keeper;

typedef struct mr_coord {
    pthread_mutex_t mu;
    char data_root[4096];
    char http_addr[128];
    char bind[256];
    char *token;           /* NULL: no auth */
    int zstd_level;
    uint32_t partitions;   /* default shuffle partitions; 0: from executor slots */
    uint64_t split_bytes;
    int lost_after_ms;
    int no_executor_fail_ms; /* fail running jobs after this long with no executor */
    int task_timeout_ms;     /* restart an attempt without progress this long; 0: never */
    int retry_deadline_ms;   /* retryable failures are retried, backing off, this long */
    uint64_t last_alive_ms;  /* last time at least one executor was alive */
    size_t max_body;
    size_t history;        /* finished jobs kept */
    unsigned http_timeout_s; /* idle HTTP connections are closed after this; 0: 30 */
    /* --allow-env, --allow-host, --allow-origin (docs/api.md): glob patterns
     * of ${env:NAME} a DAG may read (none given: MILLRACE_DAG_*), extra Host
     * names and browser origins the API answers. */
    const char **allow_env;
    size_t nallow_env;
    const char **allow_hosts;
    size_t nallow_hosts;
    const char **allow_origins;
    size_t nallow_origins;
    size_t max_nodes;        /* nodes per DAG; 0: MR_DAG_MAX_NODES */
    unsigned max_compile_ms; /* compile time per DAG; 0: MR_DAG_MAX_COMPILE_MS */
    coord_metrics metrics; /* see metrics.h */
    exec_rt *execs;
    int nexecs, cap_execs;
    job *jobs;
    mr_net *net;
    mr_socket *ctl;
    uint64_t job_counter;
    uint64_t reg_counter;
    int curve;             /* --curve-keys: executors are known by their key */
    char owner[512];        /* "<host> <bound control endpoint>": names our staging leases */
    char instance[40];      /* random per start */
    int staging_lease_ms;   /* a staging lease not renewed this long is swept */
    coord_keeper keeper;
    struct coord_store *store; /* store.c; NULL with --state-dir :memory: */
    int history_days;          /* --history-days: the store's retention; 0: forever */
} mr_coord;

/* staging.c -- staging leases and the sweep of orphaned staging
 * (warehouse.h, docs/warehouse.md).  start/stop run the keeper thread
 * (call without mu); the job hooks are called with mu held. */
int coord_staging_start(mr_coord *c, const char *bound);
void coord_staging_stop(mr_coord *c);
/* Takes job j's staging lease on the warehouse cfg; returns whether it
 * did.  Called without mu (reads only c's fixed settings and j->id). */
int coord_staging_lease(const mr_coord *c, const job *j, const mr_wh_config *cfg);
/* Before a job's first task (its lease taken): has its warehouse renewed
 * and swept by the keeper. */
void coord_staging_job_start(mr_coord *c, job *j);
/* When a job ends: drops its staging and lease; a failure is retried later. */
void coord_staging_job_end(mr_coord *c, job *j);
/* Queues the clean-up of job_id's staging in cfg (copied) for the keeper
 * to retry on every tick (a drop that failed). */
void coord_staging_retry(mr_coord *c, const mr_wh_config *cfg, const char *job_id);

/* jobs.c, sched.c, members.c, recovery.c, commit.c -- jobs, scheduling,
 * executors, recovery and the commit; call with mu held. */
job *coord_job_find(mr_coord *c, const char *id);
/* The job's warehouse as the executors and the commit open it (a SQLite
 * path resolved); returns 0 when there is none to open (none yet, or a
 * path outside the data root). */
int coord_job_wh(const job *j, mr_wh_config *cfg);
/* Adds a job compiled from plan (takes it); returns it queued. */
job *coord_job_add(mr_coord *c, Millrace__JobPlan *plan, const char *base_dir,
                   const char *params_json);
/* Starts queued jobs and hands pending tasks to executors with free slots;
 * also forgets the oldest finished jobs beyond c->history. */
void coord_schedule(mr_coord *c);
void coord_trim_history(mr_coord *c);
/* identity: who sent it; a status is taken only from the executor the
 * attempt was given to. */
void coord_on_status(mr_coord *c, const char *identity, const Millrace__TaskStatus *st);
/* key: the sender's CURVE public key ("" without CURVE). */
void coord_on_register(mr_coord *c, const char *identity, const char *key,
                       const Millrace__Register *r);
/* Whether a message from identity signed by key may be taken: with CURVE,
 * a registered executor's messages must come with the key it registered
 * with. */
int coord_sender_ok(mr_coord *c, const char *identity, const char *key);
void coord_on_heartbeat(mr_coord *c, const char *identity, const Millrace__Heartbeat *h);
void coord_check_executors(mr_coord *c);
/* Restarts running attempts whose progress has not changed for
 * c->task_timeout_ms (a retryable failure; the job fails once a task has
 * used its attempts). */
void coord_check_tasks(mr_coord *c);
/* Runs commits of jobs whose tasks all finished; drops mu while it commits. */
void coord_commit_ready(mr_coord *c);
void coord_job_cancel(mr_coord *c, job *j);
const char *coord_job_state_name(job_state s);
/* Sends a control message to executor identity. */
int coord_send(mr_coord *c, const char *identity, const Millrace__Control *msg);
uint64_t coord_now_ms(void);
int64_t coord_unix_ms(void);

/* Functions that can fail return 0 or a negative MR_E* code and fill an
 * mr_err (core/error.h), as the libraries do. */

/* inputs.c -- files and splits of read nodes.  compression: the read's
 * (mr_compression, 0 auto); a compressed file is one split. */
int coord_resolve_inputs(const char *base_dir, const char *data_root, const char *pattern,
                         uint64_t split_bytes, int compression, Millrace__Split ***splits,
                         size_t *nsplits, mr_err *err);
/* dbinputs.c -- a database read's splits: one task reads it all. */
int coord_db_splits(const Millrace__ReadSpec *rd, Millrace__Split ***splits, size_t *nsplits,
                    mr_err *err);
/* Resolves a (maybe relative) path against base_dir; malloc'd. */
char *coord_resolve_path(const char *base_dir, const char *path);
int coord_path_under(const char *root, const char *path);

/* bookmarks.c -- incremental reads (docs/bookmarks.md).  prepare and
 * filter_files run in the job's preparation (mu released); the rest with
 * mu held. */
typedef struct job_bm job_bm;
int coord_bm_needed(const Millrace__JobPlan *plan);
/* Loads the DAG's bookmarks when the plan has incremental reads (*out
 * NULL otherwise).  0 or a negative code with err set. */
int coord_bm_prepare(const job *j, const mr_wh_config *cfg, job_bm **out, mr_err *err);
void coord_bm_free(job_bm *bm);
/* Drops from a read's splits the files it loaded before (same path, size
 * and mtime), noting the others as this run's. */
int coord_bm_filter_files(job_bm *bm, const char *node, Millrace__Split **splits, size_t *n,
                          mr_err *err);
/* Marks the job as having nothing new when every read is incremental
 * files and none found a new file. */
void coord_bm_check_nothing_new(job_bm *bm);
int coord_bm_nothing_new(const job_bm *bm);
/* The watermark a column read's tasks get (NULL: none, read every row). */
const char *coord_bm_watermark(const job *j, const char *node);
/* Keeps a successful attempt's read mark in its task. */
void coord_bm_task_mark(task_rt *tk, const Millrace__TaskStatus *s);
/* Whether every read is incremental and none passed a row (and there is
 * nothing else to commit): the commit is skipped. */
int coord_bm_nothing_loaded(job *j);
/* The commit's bookmarks target, filled into *out and *t (free with
 * coord_bm_target_free). */
int coord_bm_target(job *j, mr_wh_bookmarks *out, mr_wh_target *t, mr_err *err);
void coord_bm_target_free(mr_wh_bookmarks *b);
void coord_bm_committed(job *j);
/* The job's "bookmarks" in the API (a cJSON object). */
struct cJSON *coord_bm_json(const job *j);

/* api.c -- the REST API, described by docs/openapi.json, which the build
 * embeds as the NUL-terminated coord_openapi_json (see CMakeLists.txt). */
extern const char coord_openapi_json[];
int coord_http_start(mr_coord *c, const char *addr, int *bound_port, mr_err *err);
/* The job as the API shows it: the summary, or with full, its params,
 * stages, outputs, bookmarks and checks; its reject sample (at most limit
 * rows); a time as the API writes it (null for 0).  Call with mu held. */
struct cJSON *coord_job_json(const job *j, int full);
struct cJSON *coord_rejects_json(const job *j, long limit);
void coord_json_time(struct cJSON *o, const char *key, int64_t unix_ms);
void coord_http_stop(void);

/* files.c -- file outputs: temporary folder, prepare, publish, abort. */
/* Whether an output path (absolute, maybe not existing yet) stays under
 * root: no ".." component, and the file itself (symlinks followed) or else
 * its nearest existing folder resolves below root.  "/" allows all. */
int coord_output_under(const char *root, const char *path);
/* The same for a SQLite warehouse file and the side files SQLite and
 * staging create beside it. */
int coord_warehouse_under(const char *root, const char *db_path);
/* The files driver's configuration (warehouse/warehouse.h) for the file
 * output ws of job job_id at path (resolved); cfg points into the
 * arguments. */
void coord_file_output_cfg(const Millrace__WriteSpec *ws, const char *path, const char *job_id,
                           mr_wh_config *cfg);

#endif
