/* daemon.h - the executor daemon as a library: millrace-executor's main.c
 * only parses arguments into a config and runs one of these; unit tests run
 * one in-process against a coordinator socket of their own.
 *
 * An executor registers with the coordinator (id, shuffle data address,
 * slots, memory, incarnation), runs the tasks it is sent, files the shuffle
 * data peers push to it (shuffle_recv.h), and heartbeats.  See daemon.c.
 */
#ifndef MR_EXECUTOR_DAEMON_H
#define MR_EXECUTOR_DAEMON_H

#include <stdint.h>

#include "core/error.h"

typedef struct mr_executor mr_executor;

typedef struct mr_executor_config {
    const char *coordinator;    /* control endpoint (required) */
    const char *id;             /* NULL or "": host-pid */
    const char *bind;           /* shuffle data endpoint (tcp://127.0.0.1:*) */
    const char *advertise;      /* what peers connect to; NULL: the bound one */
    const char *data_root;      /* absolute, resolved; "/" allows all */
    unsigned slots;             /* tasks at once */
    unsigned long long memory;  /* the one budget: shuffle store and operators */
    const char *spill_base;     /* a folder of this process is made below it */
    int shuffle_window;         /* 1..MR_SHUFFLE_WINDOW_MAX */
    const char *curve_dir;      /* NULL or "": no CURVE */
    int64_t max_message;        /* largest frame taken from the network */
    const char *own_dsn;        /* the warehouse DSN with this executor's secret, or NULL */
    int heartbeat_ms;
    uint64_t incarnation;       /* 0: a random one (tells the coordinator we restarted) */
    int batch_delay_ms;         /* test hook: sleep after each batch (0: none) */
    int delay_attempts;         /* test hook: delay only attempts below this (-1: all) */
} mr_executor_config;

/* Fills cfg with the defaults (coordinator left NULL): bind
 * tcp://127.0.0.1:*, data root "/", one slot per core, 1 GiB, spill below
 * $TMPDIR or /tmp, the default shuffle window and frame limit, one
 * heartbeat a second. */
void mr_executor_config_defaults(mr_executor_config *cfg);

/* Makes the spill folder (sweeping those of dead executors), opens and
 * binds the sockets and connects to the coordinator.  cfg is copied.  NULL
 * with err set on failure (nothing is left behind). */
mr_executor *mr_executor_create(const mr_executor_config *cfg, mr_err *err);
/* Registers and serves until mr_executor_stop or the coordinator's
 * Shutdown; then cancels running tasks and waits a little for them.
 * Returns 0, or 1 when some task did not end in time: the caller must then
 * exit the process without destroying the executor (mr_executor_destroy
 * only removes the spill folder in that case). */
int mr_executor_run(mr_executor *ex);
/* Asks run to return; safe from a signal handler or another thread. */
void mr_executor_stop(mr_executor *ex);
/* The id and the shuffle data address it registers with. */
const char *mr_executor_id(const mr_executor *ex);
const char *mr_executor_address(const mr_executor *ex);
uint64_t mr_executor_incarnation(const mr_executor *ex);
/* Closes everything and removes the spill folder.  NULL is a no-op. */
void mr_executor_destroy(mr_executor *ex);

#endif
