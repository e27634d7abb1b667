/* sqlite_int.h - what the files of the SQLite warehouse driver share:
 * sqlite.c (connections, staging, commit) and sqlite_lease.c (the staging
 * leases and the sweep of orphaned staging tables). */
#ifndef MR_WH_SQLITE_INT_H
#define MR_WH_SQLITE_INT_H

#include <sqlite3.h>

#include "core/error.h"
#include "warehouse/warehouse.h"

/* Sets err to MR_EWAREHOUSE: the formatted context, then SQLite's message. */
int sq__fail(sqlite3 *db, mr_err *err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* sqlite3_exec without callbacks: SQLITE_OK or an error code. */
int sq__exec(sqlite3 *db, const char *sql);
/* Opens (create: creating) the staging file of the warehouse at path. */
int sq__staging_open(const char *path, int create, sqlite3 **out, mr_err *err);
/* Gives the pages of dropped staging tables back; best effort. */
void sq__staging_shrink(sqlite3 *st);

/* The driver's lease and sweep entries (warehouse.h), in sqlite_lease.c. */
int sq__lease_take(const mr_wh_config *cfg, const char *job_id, const mr_wh_owner *me,
                  mr_err *err);
int sq__lease_renew(const mr_wh_config *cfg, const char *ids_csv, const mr_wh_owner *me,
                   mr_err *err);
int sq__lease_release(const mr_wh_config *cfg, const char *job_id, mr_err *err);
int sq__sweep(const mr_wh_config *cfg, const mr_wh_owner *me, int64_t expire_ms, int *swept,
             mr_err *err);

/* bookmarks.c: moves a commit's bookmarks in db's open transaction. */
int mr_wh__bookmarks_apply_sqlite(sqlite3 *db, const mr_wh_bookmarks *bm, mr_err *err);

#endif
