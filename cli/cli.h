/* cli.h - pieces of the millrace command-line client. */
#ifndef MR_CLI_H
#define MR_CLI_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* ---- http.c: a small blocking HTTP/1.1 client for the REST API ---- */
typedef struct cli_http_resp {
    int status;   /* 0 when the request could not be made */
    char *body;   /* malloc'd, NUL-terminated */
    size_t len;
    char error[256];
} cli_http_resp;

/* Sends method url with an optional body; adds the bearer token when
 * MILLRACE_TOKEN is set.  Returns 0 with resp filled (any status), or -1
 * with resp->error set when the coordinator cannot be reached. */
int cli_http(const char *method, const char *url, const char *content_type, const char *body,
             size_t body_len, int timeout_ms, cli_http_resp *resp);
void cli_http_resp_free(cli_http_resp *r);
/* Parses a JSON reply; prints the API error message and returns NULL when
 * status is not 2xx or the body is not JSON. */
cJSON *cli_http_json(const cli_http_resp *r, const char *what);

/* ---- cluster.c: a coordinator and N executors as local processes ---- */
typedef struct cli_cluster {
    pid_t coordinator;
    pid_t *executors;
    int nexec;
    char dir[256];     /* temporary folder: ready file and logs */
    char url[128];     /* http://127.0.0.1:PORT */
    char control[256]; /* tcp://127.0.0.1:PORT */
} cli_cluster;

/* Starts the processes and waits until every executor has registered.
 * Logs go to files in cl->dir, or to stderr when verbose.  0 or -1 with a
 * message printed. */
int cli_cluster_start(cli_cluster *cl, int nexec, const char *data_root, int verbose);
/* Stops every process (TERM, then KILL after a grace period) and removes
 * the temporary folder unless keep (its CURVE keys go either way). */
void cli_cluster_stop(cli_cluster *cl, int keep);
/* Makes a CURVE key pair in dir (millrace-coordinator --keygen prints why
 * not on stderr).  0 or -1. */
int cli_keygen(const char *dir);

/* ---- progress.c: following a job to its end ---- */
/* Polls the job until it finishes, drawing progress on a terminal or
 * printing plain lines otherwise.  Returns the final job JSON (caller frees)
 * or NULL if the coordinator stopped answering. *interrupted is polled. */
cJSON *cli_follow_job(const char *base_url, const char *job_id, volatile int *interrupted);
/* Prints the summary of a finished job; returns the exit code (0 or 1). */
int cli_print_summary(const cJSON *job, double seconds);
/* Prints a job (GET /v1/jobs/ID) for people: state, times, params, a line
 * per stage with its operators, outputs, rejects and the error. */
void cli_print_job(const cJSON *job, FILE *out);

/* ---- bookmarks.c: `millrace bookmarks DAG` ---- */
/* Shows or edits the DAG's incremental bookmarks; returns the exit code. */
int cli_bookmarks(int argc, char **argv);

/* ---- schedules.c: millrace schedule | schedules | unschedule ---- */
int cli_schedules(const char *cmd, int argc, char **argv, const char *url);

#endif
