/* store.c - the coordinator's durable state: jobs and their outcomes in SQLite.
 *
 * One SQLite file, DIR/state.db, holds a row per job: its id, name, state
 * and times as columns, and what the API shows of it as JSON documents
 * (the summary, the full record with stages, outputs, bookmarks and check
 * results, the reject sample, the plan), plus what a restarted coordinator
 * needs to clean up after it (its warehouse and temporary file outputs).
 * Keeping the API's own documents makes "the same answer after a restart"
 * true by construction.  The row is rewritten as the job moves: submitted,
 * started, finished; the finish is written under the coordinator's lock
 * before anyone can see the job as finished, so a job the API ever showed
 * finished is in the file.
 *
 * The file runs in WAL mode with synchronous=FULL: every transaction is on
 * disk when the write returns.  A kill -9 alone would lose nothing with
 * NORMAL either (the OS has the WAL pages), but a power cut or a kernel
 * crash would lose the last jobs; FULL costs one fsync per move of a job,
 * three per job, which is nothing beside a job's own I/O.
 *
 * A job of an earlier run (another boot id) is read back from the file by
 * the API on demand; jobs of this run are shown from memory.  Secrets:
 * the documents are the API's, already masked; a PostgreSQL DSN is kept
 * for the clean-up only when it holds no secret value (otherwise the
 * staging lease's expiry sweeps that job's staging, docs/security.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "coordinator/coord_int.h"
#include "coordinator/store.h"
#include "core/log.h"

struct coord_store {
    pthread_mutex_t mu; /* one connection, used by the loop and HTTP threads */
    sqlite3 *db;
    int lock_fd;
    char path[PATH_MAX];
    char boot[40]; /* random per start: this run's rows */
};

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "INSERT OR IGNORE INTO meta VALUES('format', '1');"
    "CREATE TABLE IF NOT EXISTS jobs("
    " id TEXT PRIMARY KEY, boot TEXT NOT NULL, name TEXT, state TEXT NOT NULL,"
    " submitted_at INTEGER NOT NULL, finished_at INTEGER,"
    " summary TEXT NOT NULL, full TEXT NOT NULL, rejects TEXT, plan TEXT, cleanup TEXT);"
    "CREATE INDEX IF NOT EXISTS jobs_by_time ON jobs(submitted_at DESC);"
    "CREATE TABLE IF NOT EXISTS schedules(id TEXT PRIMARY KEY, created_at INTEGER NOT NULL,"
    " spec TEXT NOT NULL);";

static int db_fail(coord_store *s, mr_err *err, const char *what)
{
    return mr_err_set(err, MR_EIO, "state store %s: %s: %s", s->path, what,
                      s->db ? sqlite3_errmsg(s->db) : "cannot open");
}

static void store_free(coord_store *s)
{
    if (!s)
        return;
    if (s->db)
        sqlite3_close(s->db);
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int coord_store_open(mr_coord *c, const char *dir, mr_err *err)
{
    c->store = NULL;
    if (strcmp(dir, ":memory:") == 0)
        return 0;
    coord_store *s = calloc(1, sizeof *s);
    if (!s)
        return mr_err_oom(err, NULL);
    s->lock_fd = -1;
    pthread_mutex_init(&s->mu, NULL);
    uint64_t rnd[2] = {(uint64_t)getpid(), (uint64_t)coord_unix_ms()};
    if (getrandom(rnd, sizeof rnd, 0) != sizeof rnd)
        rnd[1] ^= (uint64_t)(uintptr_t)s;
    snprintf(s->boot, sizeof s->boot, "%016" PRIx64 "%016" PRIx64, rnd[0], rnd[1]);
    int rc = 0;
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        rc = mr_err_set(err, MR_EIO, "state dir '%s': %s", dir, strerror(errno));
        goto fail;
    }
    char lock[PATH_MAX];
    snprintf(lock, sizeof lock, "%s/lock", dir);
    snprintf(s->path, sizeof s->path, "%s/state.db", dir);
    s->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0) {
        rc = mr_err_set(err, MR_EIO, "state dir '%s': %s", dir, strerror(errno));
        goto fail;
    }
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        rc = mr_err_set(err, MR_EIO,
                        "state dir '%s' is in use by another coordinator (give each its own "
                        "--state-dir)", dir);
        goto fail;
    }
    if (sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        rc = db_fail(s, err, "cannot open");
        goto fail;
    }
    sqlite3_busy_timeout(s->db, 5000);
    /* quick_check reads every page: a damaged file is refused here, with
     * its name, rather than failing a job later */
    char *msg = NULL;
    if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL,
                     &msg) != SQLITE_OK ||
        sqlite3_exec(s->db, SCHEMA, NULL, NULL, &msg) != SQLITE_OK) {
        rc = mr_err_set(err, MR_EIO,
                        "state store %s is not a usable millrace state file (%s); move it away "
                        "to start with an empty history",
                        s->path, msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        goto fail;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "PRAGMA quick_check", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW ||
        strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0) {
        rc = mr_err_set(err, MR_EIO,
                        "state store %s is damaged (%s); move it away to start with an empty "
                        "history",
                        s->path, st && sqlite3_column_text(st, 0)
                                     ? (const char *)sqlite3_column_text(st, 0)
                                     : sqlite3_errmsg(s->db));
        sqlite3_finalize(st);
        goto fail;
    }
    sqlite3_finalize(st);
    c->store = s;
    return 0;
fail:
    store_free(s);
    return rc;
}

void coord_store_close(mr_coord *c)
{
    store_free(c->store);
    c->store = NULL;
}

/* What a restarted coordinator needs to clean up after job j, as JSON
 * text (malloc'd): its warehouse (wh_path: the SQLite file resolved) and
 * file outputs (per stage, NULL where none). */
static char *cleanup_json(const job *j, const char *wh_path, char *const *out_paths)
{
    cJSON *o = cJSON_CreateObject();
    const Millrace__Warehouse *pw = j->plan ? j->plan->warehouse : NULL;
    int sqlite = pw && pw->driver == MILLRACE__WAREHOUSE_DRIVER__DRIVER_SQLITE;
    if (pw && (!sqlite || wh_path)) {
        cJSON *w = cJSON_AddObjectToObject(o, "warehouse");
        cJSON_AddStringToObject(w, "driver", mr_plan_name(mr_plan_driver_names, pw->driver));
        const char *path = sqlite ? wh_path : pw->path;
        if (path && path[0])
            cJSON_AddStringToObject(w, "path", path);
        if (pw->schema && pw->schema[0])
            cJSON_AddStringToObject(w, "schema", pw->schema);
        if (pw->dsn && pw->dsn[0]) {
            char *shown = mr_redact(pw->dsn, &j->secrets);
            if (shown && strcmp(shown, pw->dsn) == 0) /* it holds no secret */
                cJSON_AddStringToObject(w, "dsn", pw->dsn);
            else
                cJSON_AddBoolToObject(w, "dsn_secret", 1);
            free(shown);
        }
    }
    cJSON *files = cJSON_AddArrayToObject(o, "files");
    for (uint32_t s = 0; j->plan && out_paths && s < j->nstages; s++)
        if (out_paths[s]) {
            mr_wh_config fcfg;
            coord_file_output_cfg(j->stages[s].plan->write, out_paths[s], j->id, &fcfg);
            cJSON *f = cJSON_CreateObject();
            cJSON_AddStringToObject(f, "driver", fcfg.driver);
            cJSON_AddStringToObject(f, "path", fcfg.path);
            cJSON_AddItemToArray(files, f);
        }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

void coord_store_cleanup(const mr_coord *c, const job *j, const char *wh_path,
                         char *const *out_paths)
{
    coord_store *s = c->store;
    if (!s)
        return;
    char *text = cleanup_json(j, wh_path, out_paths);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, "UPDATE jobs SET cleanup=?2 WHERE id=?1", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, j->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE)
        mr_log(MR_LOG_ERROR, "coordinator", "job=%s cannot be stored in %s: %s", j->id, s->path,
               sqlite3_errmsg(s->db));
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    free(text);
}

static char *json_text(cJSON *o)
{
    char *t = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return t;
}

void coord_store_job(mr_coord *c, const job *j)
{
    coord_store *s = c->store;
    if (!s)
        return;
    char *summary = json_text(coord_job_json(j, 0));
    char *full = json_text(coord_job_json(j, 1));
    char *rejects = json_text(coord_rejects_json(j, 1000000));
    char *cleanup = cleanup_json(j, j->wh_path, j->out_paths);
    if (!summary || !full) {
        mr_log(MR_LOG_ERROR, "coordinator", "job=%s cannot be stored: out of memory", j->id);
        goto out;
    }
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        s->db,
        "INSERT INTO jobs(id, boot, name, state, submitted_at, finished_at, summary, full,"
        " rejects, plan, cleanup) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)"
        " ON CONFLICT(id) DO UPDATE SET state=?4, finished_at=?6, summary=?7, full=?8,"
        " rejects=?9, plan=?10, cleanup=?11",
        -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, j->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, s->boot, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, j->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, coord_job_state_name(j->state), -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, j->submitted_at);
        if (j->finished_at)
            sqlite3_bind_int64(st, 6, j->finished_at);
        sqlite3_bind_text(st, 7, summary, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 8, full, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 9, rejects, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 10, j->plan_json, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 11, cleanup, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE)
        mr_log(MR_LOG_ERROR, "coordinator", "job=%s cannot be stored in %s: %s", j->id, s->path,
               sqlite3_errmsg(s->db));
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
out:
    free(summary);
    free(full);
    free(rejects);
    free(cleanup);
}

static const char *json_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Drops what the dead coordinator's job left: warehouse staging and
 * lease, temporary file outputs. */
static void recover_cleanup(mr_coord *c, const char *id, const char *text)
{
    cJSON *o = text ? cJSON_Parse(text) : NULL;
    if (!o)
        return;
    mr_err err;
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "warehouse");
    if (cJSON_IsObject(w)) {
        mr_wh_config cfg = {json_str(w, "driver"), json_str(w, "path"), json_str(w, "dsn"),
                            json_str(w, "schema"), NULL, NULL, 0};
        mr_err_clear(&err);
        if (cJSON_GetObjectItemCaseSensitive(w, "dsn_secret"))
            mr_log(MR_LOG_WARN, "coordinator",
                   "job=%s its warehouse DSN holds a secret, not kept: its staging is swept "
                   "when its lease expires", id);
        else if (mr_wh_job_cleanup(&cfg, id, &err) < 0) {
            /* e.g. the dead coordinator's commit still holds a lock */
            mr_log(MR_LOG_WARN, "coordinator", "job=%s cannot drop staging (retried later): %s",
                   id, err.msg);
            coord_staging_retry(c, &cfg, id);
        } else
            mr_log(MR_LOG_INFO, "coordinator", "job=%s staging swept at start-up", id);
    }
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(o, "files"))
    {
        mr_wh_config fcfg = {.driver = json_str(f, "driver"), .path = json_str(f, "path"),
                             .job_id = id};
        mr_err_clear(&err);
        if (fcfg.driver && fcfg.path && mr_wh_drop_staging(&fcfg, NULL, &err) < 0)
            mr_log(MR_LOG_WARN, "coordinator", "job=%s %s", id, err.msg);
    }
    cJSON_Delete(o);
}

/* Marks a stored document (summary or full) failed at unix ms now. */
static char *mark_failed(const char *text, int64_t now)
{
    cJSON *o = text ? cJSON_Parse(text) : NULL;
    if (!o)
        return NULL;
    cJSON_ReplaceItemInObjectCaseSensitive(o, "state", cJSON_CreateString("failed"));
    cJSON_ReplaceItemInObjectCaseSensitive(o, "error", cJSON_CreateString("coordinator restarted"));
    cJSON *tmp = cJSON_CreateObject();
    coord_json_time(tmp, "finished_at", now);
    cJSON *t = cJSON_DetachItemFromObject(tmp, "finished_at");
    cJSON_Delete(tmp);
    cJSON_ReplaceItemInObjectCaseSensitive(o, "finished_at", t);
    cJSON *st;
    cJSON_ArrayForEach(st, cJSON_GetObjectItemCaseSensitive(o, "stages"))
    {
        const char *ss = json_str(st, "state");
        if (ss && (strcmp(ss, "waiting") == 0 || strcmp(ss, "running") == 0))
            cJSON_ReplaceItemInObjectCaseSensitive(st, "state", cJSON_CreateString("cancelled"));
    }
    return json_text(o);
}

int coord_store_recover(mr_coord *c, mr_err *err)
{
    coord_store *s = c->store;
    if (!s)
        return 0;
    int64_t now = coord_unix_ms();
    int n = 0, rc = 0;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *sel = NULL, *upd = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT id, summary, full, cleanup FROM jobs"
                           " WHERE state IN ('queued', 'running')",
                           -1, &sel, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db,
                           "UPDATE jobs SET state='failed', finished_at=?2, summary=?3, full=?4"
                           " WHERE id=?1",
                           -1, &upd, NULL) != SQLITE_OK) {
        rc = db_fail(s, err, "reading the jobs");
        goto out;
    }
    while (sqlite3_step(sel) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(sel, 0);
        char *summary = mark_failed((const char *)sqlite3_column_text(sel, 1), now);
        char *full = mark_failed((const char *)sqlite3_column_text(sel, 2), now);
        recover_cleanup(c, id, (const char *)sqlite3_column_text(sel, 3));
        sqlite3_reset(upd);
        sqlite3_bind_text(upd, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(upd, 2, now);
        sqlite3_bind_text(upd, 3, summary ? summary : "{}", -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(upd, 4, full ? full : "{}", -1, SQLITE_TRANSIENT);
        int step = sqlite3_step(upd);
        free(summary);
        free(full);
        if (step != SQLITE_DONE) {
            rc = db_fail(s, err, "marking a job failed");
            goto out;
        }
        mr_log(MR_LOG_WARN, "coordinator", "job=%s failed: coordinator restarted", id);
        n++;
    }
    sqlite3_stmt *cnt = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM jobs", -1, &cnt, NULL) == SQLITE_OK &&
        sqlite3_step(cnt) == SQLITE_ROW)
        mr_log(MR_LOG_INFO, "coordinator", "state store %s: %lld job(s) in the history, %d "
               "failed by the restart", s->path, (long long)sqlite3_column_int64(cnt, 0), n);
    sqlite3_finalize(cnt);
out:
    sqlite3_finalize(sel);
    sqlite3_finalize(upd);
    pthread_mutex_unlock(&s->mu);
    if (rc == 0)
        coord_store_retain(c);
    return rc;
}

void coord_store_retain(mr_coord *c)
{
    coord_store *s = c->store;
    if (!s || c->history_days <= 0)
        return;
    int64_t cut = coord_unix_ms() - (int64_t)c->history_days * 86400000LL;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "DELETE FROM jobs WHERE finished_at IS NOT NULL AND finished_at < ?1",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, cut);
        if (sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(s->db) > 0)
            mr_log(MR_LOG_INFO, "coordinator", "state store: %d job(s) older than %d day(s) "
                   "dropped", sqlite3_changes(s->db), c->history_days);
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
}

void coord_store_keep(mr_coord *c, size_t keep)
{
    coord_store *s = c->store;
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "DELETE FROM jobs WHERE finished_at IS NOT NULL AND id NOT IN "
                           "(SELECT id FROM jobs WHERE finished_at IS NOT NULL "
                           "ORDER BY finished_at DESC, id DESC LIMIT ?1)",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)keep);
        if (sqlite3_step(st) != SQLITE_DONE)
            mr_log(MR_LOG_WARN, "coordinator", "state store: trimming the history: %s",
                   sqlite3_errmsg(s->db));
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
}

void coord_store_list(mr_coord *c, cJSON *arr, const char *want, long limit)
{
    coord_store *s = c->store;
    if (!s || limit <= 0)
        return;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT summary FROM jobs WHERE boot <> ?1 AND (?2 IS NULL OR state = ?2)"
                           " ORDER BY submitted_at DESC, id DESC LIMIT ?3",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, s->boot, -1, SQLITE_STATIC);
        if (want)
            sqlite3_bind_text(st, 2, want, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, limit);
        while (sqlite3_step(st) == SQLITE_ROW) {
            cJSON *o = cJSON_Parse((const char *)sqlite3_column_text(st, 0));
            if (o)
                cJSON_AddItemToArray(arr, o);
        }
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
}

char *coord_store_get(mr_coord *c, const char *id, const char *what)
{
    coord_store *s = c->store;
    if (!s)
        return NULL;
    const char *sql = strcmp(what, "rejects") == 0 ? "SELECT rejects FROM jobs WHERE id=?1"
                      : strcmp(what, "plan") == 0  ? "SELECT plan FROM jobs WHERE id=?1"
                                                   : "SELECT full FROM jobs WHERE id=?1";
    char *out = NULL;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
            out = strdup((const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return out;
}

void coord_store_schedule(mr_coord *c, const char *id, const char *spec)
{
    coord_store *s = c->store;
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db,
                                spec ? "INSERT OR REPLACE INTO schedules VALUES(?1, ?2, ?3)"
                                     : "DELETE FROM schedules WHERE id = ?1",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        if (spec) {
            sqlite3_bind_int64(st, 2, (int64_t)time(NULL));
            sqlite3_bind_text(st, 3, spec, -1, SQLITE_STATIC);
        }
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE)
        mr_log(MR_LOG_ERROR, "coordinator", "schedule=%s cannot be stored in %s: %s", id, s->path,
               sqlite3_errmsg(s->db));
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
}

void coord_store_schedules(mr_coord *c, void (*fn)(void *arg, const char *id, const char *spec),
                           void *arg)
{
    coord_store *s = c->store;
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT id, spec FROM schedules ORDER BY created_at, id", -1,
                           &st, NULL) == SQLITE_OK)
        while (sqlite3_step(st) == SQLITE_ROW)
            fn(arg, (const char *)sqlite3_column_text(st, 0),
               (const char *)sqlite3_column_text(st, 1));
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
}
