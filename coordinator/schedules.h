/* schedules.h - jobs the coordinator submits itself: on a cron clock or after another job.
 *
 * See schedules.c for the design.  The list has its own lock, taken before
 * mr_coord.mu when both are needed.
 */
#ifndef MR_COORD_SCHEDULES_H
#define MR_COORD_SCHEDULES_H

#include <stddef.h>

#include "core/error.h"

struct mr_coord;
struct cJSON;

/* POST /v1/schedules: body is the parsed JSON object.  Returns the HTTP
 * status (201, or 400 with msg set) and, on 201, the schedule as *out. */
int coord_schedules_create(struct mr_coord *c, const struct cJSON *body, struct cJSON **out,
                           char *msg, size_t cap);
/* GET /v1/schedules: {"schedules": [...]}. */
struct cJSON *coord_schedules_list(struct mr_coord *c);
/* GET /v1/schedules/ID: NULL when unknown. */
struct cJSON *coord_schedules_get(struct mr_coord *c, const char *id);
/* DELETE /v1/schedules/ID: 0, or -1 when unknown. */
int coord_schedules_delete(struct mr_coord *c, const char *id);
/* At start-up, after the store opened: the stored schedules come back,
 * their next cron time counted from now (missed ticks are not run). */
void coord_schedules_load(struct mr_coord *c);
/* Called by the coordinator's loop with mu NOT held: submits due runs. */
void coord_schedules_tick(struct mr_coord *c);
/* Prometheus lines for the schedules (malloc'd text, "" when none). */
char *coord_schedules_metrics(void);
/* Frees every schedule at shut-down. */
void coord_schedules_free(void);

/* api.c: compiles yaml with params (a JSON object of strings, or NULL) as
 * POST /v1/jobs does; *name gets the DAG's name (malloc'd).  With dry set
 * it only validates; else the job is added and its id copied to job_id.
 * 0, or -1 with msg set ("line:column: message"). */
int coord_api_submit_dag(const char *yaml, const struct cJSON *params, int dry, char **name,
                         char *job_id, size_t cap, char *msg, size_t msg_cap);

#endif
