/* sqlite_lease.c - the SQLite driver's staging leases and the sweep of
 * staging tables whose job no live coordinator holds (warehouse.h). */
#include "warehouse/sqlite_int.h"

#include "core/log.h"
#include "core/strbuf.h"
#include "warehouse/sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- staging leases and the sweep (warehouse.h) --------------------------------
 * The leases live in the staging file itself, table millrace_leases; times
 * are this host's wall clock in ms (every user of an SQLite warehouse runs
 * on the host that has the file). */

#define LEASES_DDL                                                                               \
    "CREATE TABLE IF NOT EXISTS " MR_WH_LEASES_TABLE " (job_id TEXT PRIMARY KEY, owner TEXT NOT " \
    "NULL, instance TEXT NOT NULL, heartbeat_ms INTEGER NOT NULL)"
/* A job's staging tables are "s_<job>_..." and "r_<job>_..." */
#define STAGING_JOB "substr(t.name, 3, instr(substr(t.name, 3), '_') - 1)"
/* ?1 owner, ?2 instance, ?3 the oldest heartbeat still alive */
#define ORPHAN_LEASE "(l.owner = ?1 AND l.instance <> ?2) OR l.heartbeat_ms < ?3"

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Gives the pages of dropped tables back (incremental vacuum; a file made
 * before auto_vacuum was set is converted by one VACUUM once it holds no
 * staging table) and truncates the WAL.  Best effort: a failure (busy, full
 * disk) only leaves the file as large as it was. */
void sq__staging_shrink(sqlite3 *st)
{
    sqlite3_stmt *q = NULL;
    int mode = -1, tables = -1, free_pages = 0;
    if (sqlite3_prepare_v2(st, "SELECT auto_vacuum, freelist_count FROM pragma_auto_vacuum, "
                               "pragma_freelist_count", -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW) {
        mode = sqlite3_column_int(q, 0);
        free_pages = sqlite3_column_int(q, 1);
    }
    sqlite3_finalize(q);
    if (free_pages == 0)
        return; /* nothing to give back: no write, no lock */
    q = NULL;
    if (sqlite3_prepare_v2(st,
                           "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name <> '" MR_WH_LEASES_TABLE "'",
                           -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        tables = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    if (mode == 2)
        sq__exec(st, "PRAGMA incremental_vacuum");
    else if (mode == 0 && tables == 0)
        sq__exec(st, "PRAGMA auto_vacuum=INCREMENTAL; VACUUM");
    sqlite3_wal_checkpoint_v2(st, "main", SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
}

static int has_leases(sqlite3 *st)
{
    sqlite3_stmt *q = NULL;
    int have = sqlite3_prepare_v2(st, "SELECT 1 FROM sqlite_master WHERE name = '" MR_WH_LEASES_TABLE "'",
                                  -1, &q, NULL) == SQLITE_OK &&
               sqlite3_step(q) == SQLITE_ROW;
    sqlite3_finalize(q);
    return have;
}

/* Drops the lease table once it is empty (inside the caller's write
 * transaction), so that a staging file with no job running holds no table
 * at all; the next lease creates it again. */
static int leases_tidy(sqlite3 *st)
{
    sqlite3_stmt *q = NULL;
    int empty = sqlite3_prepare_v2(st, "SELECT NOT EXISTS (SELECT 1 FROM " MR_WH_LEASES_TABLE ")", -1,
                                   &q, NULL) == SQLITE_OK &&
                sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    return empty ? sq__exec(st, "DROP TABLE " MR_WH_LEASES_TABLE) : SQLITE_OK;
}

/* Runs sql (parameters ?1..?4 bound as given, NULL for none) as one write
 * transaction, creating the lease table first when needed. */
static int lease_write(const mr_wh_config *cfg, const char *sql, const char *p1, const char *p2,
                       const char *p3, int64_t p4, int create, mr_err *err)
{
    sqlite3 *st = NULL;
    sqlite3_stmt *q = NULL;
    int rc = sq__staging_open(cfg->path, create, &st, err);
    if (rc < 0 || !st)
        return rc;
    if (sq__exec(st, "BEGIN IMMEDIATE") != SQLITE_OK || (!has_leases(st) && sq__exec(st, LEASES_DDL) != SQLITE_OK) ||
        sqlite3_prepare_v2(st, sql, -1, &q, NULL) != SQLITE_OK) {
        rc = sq__fail(st, err, "staging lease");
        goto out;
    }
    const char *ps[3] = {p1, p2, p3};
    for (int i = 0; i < 3; i++)
        if (ps[i])
            sqlite3_bind_text(q, i + 1, ps[i], -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 4, p4);
    if (sqlite3_step(q) != SQLITE_DONE || leases_tidy(st) != SQLITE_OK ||
        sq__exec(st, "COMMIT") != SQLITE_OK)
        rc = sq__fail(st, err, "staging lease");
out:
    sqlite3_finalize(q);
    if (!sqlite3_get_autocommit(st))
        sq__exec(st, "ROLLBACK");
    sqlite3_close(st);
    return rc;
}

int sq__lease_take(const mr_wh_config *cfg, const char *job_id, const mr_wh_owner *me,
                         mr_err *err)
{
    return lease_write(cfg,
                       "INSERT OR REPLACE INTO " MR_WH_LEASES_TABLE
                       " (job_id, owner, instance, heartbeat_ms) VALUES (?1, ?2, ?3, ?4)",
                       job_id, me->owner, me->instance, wall_ms(), 1, err);
}

int sq__lease_renew(const mr_wh_config *cfg, const char *ids_csv, const mr_wh_owner *me,
                          mr_err *err)
{
    return lease_write(cfg,
                       "UPDATE " MR_WH_LEASES_TABLE " SET heartbeat_ms = ?4 WHERE instance = ?2 AND "
                       "instr(',' || ?1 || ',', ',' || job_id || ',') > 0",
                       ids_csv, me->instance, NULL, wall_ms(), 0, err);
}

int sq__lease_release(const mr_wh_config *cfg, const char *job_id, mr_err *err)
{
    return lease_write(cfg, "DELETE FROM " MR_WH_LEASES_TABLE " WHERE job_id = ?1", job_id, NULL,
                       NULL, 0, 0, err);
}

/* The orphaned staging tables (warehouse.h), NUL-separated and quoted, in
 * *names; *stale gets the number of orphaned leases. */
static int orphans_list(sqlite3 *st, const mr_wh_owner *me, int64_t cutoff, mr_strbuf *names,
                        int *stale, mr_err *err)
{
    sqlite3_stmt *q = NULL;
    int rc = 0, s;
    names->n = 0;
    *stale = 0;
    int leases = has_leases(st);
    if (sqlite3_prepare_v2(st,
                           leases ? "SELECT t.name FROM sqlite_master t LEFT JOIN " MR_WH_LEASES_TABLE
                                    " l ON l.job_id = " STAGING_JOB " WHERE t.type = 'table' AND "
                                    "t.name GLOB '[sr]_*_*' AND (l.job_id IS NULL OR " ORPHAN_LEASE ")"
                                  : "SELECT t.name FROM sqlite_master t WHERE t.type = 'table' AND "
                                    "t.name GLOB '[sr]_*_*' AND ?1 IS NOT ?2 AND ?3 IS NOT NULL",
                           -1, &q, NULL) != SQLITE_OK)
        return sq__fail(st, err, "cannot list staging tables");
    sqlite3_bind_text(q, 1, me->owner, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, me->instance, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, cutoff);
    while ((s = sqlite3_step(q)) == SQLITE_ROW) {
        mr_wh__ident(names, (const char *)sqlite3_column_text(q, 0));
        mr_strbuf_put(names, "", 1);
    }
    if (s != SQLITE_DONE)
        rc = sq__fail(st, err, "cannot list staging tables");
    sqlite3_finalize(q);
    q = NULL;
    if (rc == 0 && leases && sqlite3_prepare_v2(st,
                                      "SELECT count(*) FROM " MR_WH_LEASES_TABLE " l WHERE " ORPHAN_LEASE,
                                      -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, me->owner, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, me->instance, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 3, cutoff);
        if (sqlite3_step(q) == SQLITE_ROW)
            *stale = sqlite3_column_int(q, 0);
    }
    sqlite3_finalize(q);
    if (rc == 0 && names->oom)
        rc = mr_err_set(err, MR_ENOMEM, "out of memory listing staging tables");
    return rc;
}

int sq__sweep(const mr_wh_config *cfg, const mr_wh_owner *me, int64_t expire_ms, int *swept,
                    mr_err *err)
{
    sqlite3 *st = NULL;
    int rc = sq__staging_open(cfg->path, 0, &st, err), stale = 0;
    *swept = 0;
    if (rc < 0 || !st)
        return rc;
    mr_strbuf names = {0}, q = {0};
    int64_t cutoff = wall_ms() - expire_ms;
    /* a read first: nothing to sweep must not take the write lock */
    if ((rc = orphans_list(st, me, cutoff, &names, &stale, err)) < 0 || (names.n == 0 && stale == 0))
        goto out;
    if (sq__exec(st, "BEGIN IMMEDIATE") != SQLITE_OK) {
        rc = sq__fail(st, err, "cannot sweep staging tables");
        goto out;
    }
    if ((rc = orphans_list(st, me, cutoff, &names, &stale, err)) < 0)
        goto out;
    for (size_t pos = 0; pos < names.n;) {
        const char *name = names.p + pos;
        pos += strlen(name) + 1;
        q.n = 0;
        mr_strbuf_puts(&q, "DROP TABLE ");
        mr_strbuf_puts(&q, name);
        if (q.oom) {
            rc = mr_err_set(err, MR_ENOMEM, "out of memory sweeping staging tables");
            goto out;
        }
        if (sq__exec(st, q.p) != SQLITE_OK) {
            rc = sq__fail(st, err, "cannot drop staging table %s", name);
            goto out;
        }
        ++*swept;
    }
    int ds = SQLITE_DONE;
    if (has_leases(st)) {
        sqlite3_stmt *del = NULL;
        if (sqlite3_prepare_v2(st, "DELETE FROM " MR_WH_LEASES_TABLE " WHERE job_id IN (SELECT l.job_id FROM "
                               MR_WH_LEASES_TABLE " l WHERE " ORPHAN_LEASE ")", -1,
                               &del, NULL) != SQLITE_OK) {
            rc = sq__fail(st, err, "cannot sweep staging leases");
            goto out;
        }
        sqlite3_bind_text(del, 1, me->owner, -1, SQLITE_STATIC);
        sqlite3_bind_text(del, 2, me->instance, -1, SQLITE_STATIC);
        sqlite3_bind_int64(del, 3, cutoff);
        ds = sqlite3_step(del);
        sqlite3_finalize(del);
        if (ds == SQLITE_DONE && leases_tidy(st) != SQLITE_OK)
            ds = SQLITE_ERROR;
    }
    if (ds != SQLITE_DONE || sq__exec(st, "COMMIT") != SQLITE_OK) {
        rc = sq__fail(st, err, "cannot sweep staging tables");
        goto out;
    }
    sq__staging_shrink(st);
out:
    if (rc < 0)
        *swept = 0;
    if (!sqlite3_get_autocommit(st))
        sq__exec(st, "ROLLBACK");
    sqlite3_close(st);
    mr_strbuf_free(&names);
    mr_strbuf_free(&q);
    return rc;
}

