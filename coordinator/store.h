/* store.h - the coordinator's durable state: jobs and their outcomes in SQLite.
 *
 * See store.c for the design.  Every function is a no-op (returning 0 or
 * NULL) when the coordinator runs without a store (--state-dir :memory:).
 */
#ifndef MR_COORD_STORE_H
#define MR_COORD_STORE_H

#include <stdint.h>

#include "core/error.h"

struct mr_coord;
struct job;
struct cJSON;

typedef struct coord_store coord_store;

/* Opens (creating) DIR/state.db and takes DIR/lock, so two coordinators
 * never share a store.  0, or a negative code with err set (a corrupt
 * file, a store in use, a folder that cannot be made). */
int coord_store_open(struct mr_coord *c, const char *dir, mr_err *err);
void coord_store_close(struct mr_coord *c);
/* At start-up, before any job: jobs the store knows as queued or running
 * are marked failed ("coordinator restarted"), their warehouse staging and
 * temporary file outputs dropped; then the retention runs. */
int coord_store_recover(struct mr_coord *c, mr_err *err);
/* Writes job j as the API shows it now (call with c->mu held, after each
 * move of the job).  A failure is logged; the job goes on. */
void coord_store_job(struct mr_coord *c, const struct job *j);
/* Records, during job j's preparation (mu released: reads only j's plan,
 * id and secrets), what a restart must clean up: its warehouse (the
 * SQLite file resolved as wh_path) and the file outputs resolved so far
 * (out_paths, per stage, NULL where none). */
void coord_store_cleanup(const struct mr_coord *c, const struct job *j, const char *wh_path,
                         char *const *out_paths);
/* Drops finished jobs older than --history-days (mu not needed). */
void coord_store_retain(struct mr_coord *c);
/* Drops all but the newest keep finished jobs, so --history bounds the
 * stored history as it bounds the one in memory (called with mu held). */
void coord_store_keep(struct mr_coord *c, size_t keep);
/* Jobs of earlier runs of the coordinator, newest first, appended to arr
 * as their summaries: at most limit of them, of state want (NULL: any). */
void coord_store_list(struct mr_coord *c, struct cJSON *arr, const char *want, long limit);
/* One job of an earlier run: what ("full", "rejects" or "plan") as JSON
 * text (malloc'd), or NULL when the store does not know it. */
char *coord_store_get(struct mr_coord *c, const char *id, const char *what);

/* Stores schedule id's spec (JSON text: dag as posted, params, cron, tz,
 * after), or deletes it when spec is NULL.  A failure is logged. */
void coord_store_schedule(struct mr_coord *c, const char *id, const char *spec);
/* Calls fn for each stored schedule, oldest first (at start-up). */
void coord_store_schedules(struct mr_coord *c, void (*fn)(void *arg, const char *id, const char *spec),
                           void *arg);

#endif
