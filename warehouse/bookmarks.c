/* bookmarks.c - the table millrace_bookmarks, where incremental reads keep
 * what they loaded (docs/bookmarks.md), for the SQLite and PostgreSQL
 * drivers alike.
 *
 * One table, the same in both warehouses (TEXT and BIGINT only, a primary
 * key, no driver-specific type):
 *
 *   dag       the DAG's name (the job's identity: runs of one DAG share
 *             bookmarks, whoever submits them)
 *   node      the read node ("" for the run row)
 *   kind      'file' (one row per file loaded), 'column' (one row per read:
 *             the watermark) or 'run' (one row per DAG: the last change)
 *   item      file: its path (an object: its s3:// URL); column: the
 *             column's name; run: ""
 *   value     column: the watermark as text; run: the job id (or "edit
 *             <time>") that last moved the DAG's bookmarks; file: NULL for
 *             a local file, the ETag for an object (no new column, so
 *             tables made by earlier versions need no migration)
 *   size, mtime_ns   file: its size and modification time when loaded
 *             (an object: mtime_ns NULL)
 *   job_id, updated_at   the job that wrote the row, and when (UTC)
 *
 * The SQL is written once, with $1-style parameters, which SQLite reads as
 * named parameters numbered in order of appearance; each driver supplies
 * one function that runs a statement with text parameters.  Bookmarks move
 * only inside the job's commit transaction (bm_apply, called by the
 * drivers' commits for the target that carries them), so they move with
 * the data or not at all.
 *
 * Concurrency.  The run row is a version: a run notes it when it reads the
 * bookmarks and its commit, holding the warehouse's write lock (SQLite:
 * BEGIN IMMEDIATE; PostgreSQL: a transaction-scoped advisory lock of the
 * DAG taken before the row is read), fails when it changed meanwhile.  So of two
 * runs of one DAG that overlap, the one that commits second fails and
 * loads nothing, and no file or row is loaded twice.
 */
#include "warehouse/warehouse.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/strbuf.h"
#include "warehouse/pg_int.h"
#include "warehouse/sql.h"
#include "warehouse/sqlite_int.h"

#define BM_COLUMNS "node, kind, item, value, size, mtime_ns, job_id, updated_at"

/* One connection, either driver; row is called for each result row. */
typedef struct bm_db {
    sqlite3 *sq;
    PGconn *pg;
    char table[200]; /* quoted, qualified on PostgreSQL when cfg->schema */
    const char *schema;
} bm_db;

typedef int (*bm_row_fn)(void *arg, int ncols, const char *const *vals);

static int bm_exec(bm_db *db, const char *sql, int n, const char *const *p, bm_row_fn row,
                   void *arg, mr_err *err)
{
    mr_strbuf q = {0};
    /* the table's name is an identifier: spliced in, never a parameter */
    for (const char *s = sql; *s; s++) {
        if (*s == '@') {
            mr_strbuf_puts(&q, db->table);
        } else {
            char ch[2] = {*s, 0};
            mr_strbuf_puts(&q, ch);
        }
    }
    if (q.oom) {
        mr_strbuf_free(&q);
        return mr_err_oom(err, NULL);
    }
    int rc = 0;
    if (db->pg) {
        PGresult *r = PQexecParams(db->pg, q.p, n, NULL, p, NULL, NULL, 0);
        ExecStatusType s = PQresultStatus(r);
        if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
            rc = pg__fail(db->pg, r, err, "bookmarks");
        } else if (row) {
            const char *vals[16];
            int nc = PQnfields(r) < 16 ? PQnfields(r) : 16;
            for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
                for (int k = 0; k < nc; k++)
                    vals[k] = PQgetisnull(r, i, k) ? NULL : PQgetvalue(r, i, k);
                rc = row(arg, nc, vals);
            }
            if (rc < 0)
                rc = mr_err_oom(err, NULL);
        }
        PQclear(r);
    } else {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db->sq, q.p, -1, &st, NULL) != SQLITE_OK) {
            rc = sq__fail(db->sq, err, "bookmarks");
        } else {
            for (int i = 0; i < n; i++) {
                char name[16];
                snprintf(name, sizeof name, "$%d", i + 1);
                int idx = sqlite3_bind_parameter_index(st, name);
                if (idx > 0)
                    sqlite3_bind_text(st, idx, p[i], -1, SQLITE_STATIC);
            }
            int s;
            while ((s = sqlite3_step(st)) == SQLITE_ROW && rc == 0) {
                const char *vals[16];
                int nc = sqlite3_column_count(st) < 16 ? sqlite3_column_count(st) : 16;
                for (int k = 0; k < nc; k++)
                    vals[k] = (const char *)sqlite3_column_text(st, k);
                if (row && row(arg, nc, vals) < 0)
                    rc = mr_err_oom(err, NULL);
            }
            if (rc == 0 && s != SQLITE_DONE)
                rc = sq__fail(db->sq, err, "bookmarks");
        }
        sqlite3_finalize(st);
    }
    mr_strbuf_free(&q);
    return rc;
}

static void bm_name(bm_db *db, const mr_wh_config *cfg)
{
    mr_strbuf b = {0};
    db->schema = db->pg && cfg->schema && *cfg->schema ? cfg->schema : NULL;
    if (db->schema) {
        mr_wh__ident(&b, db->schema);
        mr_strbuf_puts(&b, ".");
    }
    mr_wh__ident(&b, MR_WH_BOOKMARKS_TABLE);
    snprintf(db->table, sizeof db->table, "%s", b.oom ? "\"" MR_WH_BOOKMARKS_TABLE "\"" : b.p);
    mr_strbuf_free(&b);
}

static int bm_table_exists(bm_db *db, int *yes, mr_err *err);

/* Creates the table when missing and, on PostgreSQL, takes the DAG's lock
 * until the transaction ends (the table's creation takes one lock for all
 * DAGs, as two CREATE TABLE IF NOT EXISTS at once can clash).  SQLite's
 * BEGIN IMMEDIATE already serializes every writer. */
static int bm_create(bm_db *db, const char *dag, mr_err *err)
{
    int rc = 0, exists = 1;
    if (db->pg && (rc = bm_table_exists(db, &exists, err)) < 0)
        return rc;
    if (db->pg && !exists) {
        if ((rc = bm_exec(db, "SELECT pg_advisory_xact_lock(hashtext('millrace_bookmarks'))", 0,
                          NULL, NULL, NULL, err)) < 0)
            return rc;
        if (db->schema && (rc = pg__ensure_schema(db->pg, db->schema, err)) < 0)
            return rc;
    }
    if (!exists || !db->pg)
        rc = bm_exec(db, "CREATE TABLE IF NOT EXISTS @ (dag TEXT NOT NULL, node TEXT NOT NULL, "
                         "kind TEXT NOT NULL, item TEXT NOT NULL, value TEXT, size BIGINT, "
                         "mtime_ns BIGINT, job_id TEXT NOT NULL, updated_at TEXT NOT NULL, "
                         "PRIMARY KEY (dag, node, kind, item))",
                     0, NULL, NULL, NULL, err);
    const char *p[1] = {dag};
    if (rc == 0 && db->pg) /* every writer of this DAG's bookmarks waits here */
        rc = bm_exec(db, "SELECT pg_advisory_xact_lock(hashtext('millrace_bookmarks ' || $1))", 1,
                     p, NULL, NULL, err);
    return rc;
}

static void now_text(char *buf, size_t cap)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm);
}

static int keep_first(void *arg, int nc, const char *const *vals)
{
    char **out = arg;
    if (*out || nc < 1)
        return 0;
    *out = strdup(vals[0] ? vals[0] : "");
    return *out ? 0 : -1;
}

/* Writes the run row: value says who moved the DAG's bookmarks last. */
static int bm_bump(bm_db *db, const char *dag, const char *value, const char *job_id,
                   mr_err *err)
{
    char now[40];
    now_text(now, sizeof now);
    const char *p[4] = {dag, value, job_id, now};
    int rc = bm_exec(db, "DELETE FROM @ WHERE dag = $1 AND kind = 'run'", 1, p, NULL, NULL, err);
    if (rc == 0)
        rc = bm_exec(db, "INSERT INTO @ (dag, node, kind, item, value, job_id, updated_at) "
                         "VALUES ($1, '', 'run', '', $2, $3, $4)", 4, p, NULL, NULL, err);
    return rc;
}

/* In the commit's transaction: checks the version, then moves the rows. */
static int bm_apply(bm_db *db, const mr_wh_bookmarks *bm, mr_err *err)
{
    int rc = bm_create(db, bm->dag, err);
    if (rc < 0)
        return rc;
    char *version = NULL;
    const char *p1[1] = {bm->dag};
    if ((rc = bm_exec(db, "SELECT value FROM @ WHERE dag = $1 AND kind = 'run'", 1, p1,
                      keep_first, &version, err)) < 0)
        return rc;
    const char *seen = bm->seen ? bm->seen : "";
    if (strcmp(version ? version : "", seen) != 0) {
        rc = mr_err_set(err, MR_EWAREHOUSE,
                        "bookmarks of DAG '%s' moved since this run read them (by %s): another "
                        "run of the same job committed meanwhile, or they were edited; this run "
                        "loaded nothing, run it again",
                        bm->dag, version && *version ? version : "a reset");
        free(version);
        return rc;
    }
    free(version);
    char now[40];
    now_text(now, sizeof now);
    for (int i = 0; i < bm->nclear && rc == 0; i++) {
        const char *p[2] = {bm->dag, bm->clear_nodes[i]};
        rc = bm_exec(db, "DELETE FROM @ WHERE dag = $1 AND node = $2", 2, p, NULL, NULL, err);
    }
    for (int i = 0; i < bm->nrows && rc == 0; i++) {
        const mr_wh_bookmark *b = &bm->rows[i];
        char size[24], mtime[24];
        snprintf(size, sizeof size, "%lld", (long long)b->size);
        snprintf(mtime, sizeof mtime, "%lld", (long long)b->mtime_ns);
        int file = strcmp(b->kind, "file") == 0;
        /* an object (value: its ETag) has no mtime */
        const char *p[9] = {bm->dag, b->node, b->kind, b->item, b->value,
                            file ? size : NULL, file && !b->value ? mtime : NULL, bm->job_id, now};
        rc = bm_exec(db, "DELETE FROM @ WHERE dag = $1 AND node = $2 AND kind = $3 AND item = $4",
                     4, p, NULL, NULL, err);
        if (rc == 0)
            rc = bm_exec(db, "INSERT INTO @ (dag, " BM_COLUMNS ") VALUES ($1, $2, $3, $4, $5, "
                             "$6, $7, $8, $9)", 9, p, NULL, NULL, err);
    }
    if (rc == 0)
        rc = bm_bump(db, bm->dag, bm->job_id, bm->job_id, err);
    return rc;
}

int mr_wh__bookmarks_apply_sqlite(sqlite3 *db, const mr_wh_bookmarks *bm, mr_err *err)
{
    bm_db d = {.sq = db};
    bm_name(&d, &(mr_wh_config){0});
    /* the commit attached the staging file: the table lives in main */
    snprintf(d.table, sizeof d.table, "main.\"" MR_WH_BOOKMARKS_TABLE "\"");
    return bm_apply(&d, bm, err);
}

int mr_wh__bookmarks_apply_pg(PGconn *c, const mr_wh_config *cfg, const mr_wh_bookmarks *bm,
                              mr_err *err)
{
    bm_db d = {.pg = c};
    bm_name(&d, cfg);
    return bm_apply(&d, bm, err);
}

/* ---- outside a job: read and edit ------------------------------------------ */

/* Opens the warehouse; create: make the file when missing (SQLite).
 * *absent is set when an SQLite file does not exist (and create is 0). */
static int bm_open(const mr_wh_config *cfg, int create, bm_db *db, int *absent, mr_err *err)
{
    memset(db, 0, sizeof *db);
    *absent = 0;
    if (cfg->driver && strcmp(cfg->driver, "postgres") == 0) {
        int rc = pg__connect(cfg, &db->pg, err);
        bm_name(db, cfg);
        return rc;
    }
    if (cfg->driver && *cfg->driver && strcmp(cfg->driver, "sqlite") != 0)
        return mr_err_set(err, MR_EINVAL, "bookmarks live in a sqlite or postgres warehouse, not "
                          "'%s'", cfg->driver);
    if (!cfg->path || !*cfg->path)
        return mr_err_set(err, MR_EINVAL, "bookmarks: the warehouse has no path");
    int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(cfg->path, &db->sq, flags, NULL) != SQLITE_OK) {
        sqlite3_close(db->sq);
        db->sq = NULL;
        if (!create) {
            *absent = 1;
            return 0;
        }
        return mr_err_set(err, MR_EWAREHOUSE, "bookmarks: cannot open %s", cfg->path);
    }
    sqlite3_busy_timeout(db->sq, 60000);
    bm_name(db, cfg);
    return 0;
}

static void bm_close(bm_db *db)
{
    if (db->pg)
        PQfinish(db->pg);
    if (db->sq)
        sqlite3_close(db->sq);
}

static int bm_table_exists(bm_db *db, int *yes, mr_err *err)
{
    char *found = NULL;
    int rc;
    if (db->pg) {
        const char *p[1] = {db->table};
        rc = bm_exec(db, "SELECT CASE WHEN to_regclass($1) IS NULL THEN '' ELSE 'y' END", 1, p,
                     keep_first, &found, err);
    } else {
        rc = bm_exec(db, "SELECT name FROM sqlite_master WHERE name = '" MR_WH_BOOKMARKS_TABLE "'",
                     0, NULL, keep_first, &found, err);
    }
    *yes = found && *found;
    free(found);
    return rc;
}

typedef struct bm_list {
    mr_wh_bookmark *rows;
    int n, cap;
    char *version;
} bm_list;

static int collect(void *arg, int nc, const char *const *v)
{
    bm_list *l = arg;
    if (nc < 8)
        return 0;
    if (strcmp(v[1] ? v[1] : "", "run") == 0) {
        free(l->version);
        l->version = strdup(v[3] ? v[3] : "");
        return l->version ? 0 : -1;
    }
    if (l->n == l->cap) {
        int ncap = l->cap ? l->cap * 2 : 16;
        mr_wh_bookmark *g = realloc(l->rows, (size_t)ncap * sizeof *g);
        if (!g)
            return -1;
        l->rows = g;
        l->cap = ncap;
    }
    mr_wh_bookmark *b = &l->rows[l->n];
    memset(b, 0, sizeof *b);
    char **dst[6] = {&b->node, &b->kind, &b->item, &b->value, &b->job_id, &b->updated_at};
    const int src[6] = {0, 1, 2, 3, 6, 7};
    for (int i = 0; i < 6; i++)
        if (!(*dst[i] = strdup(v[src[i]] ? v[src[i]] : "")))
            return l->n++, -1; /* freed with the list */
    b->size = v[4] ? strtoll(v[4], NULL, 10) : 0;
    b->mtime_ns = v[5] ? strtoll(v[5], NULL, 10) : 0;
    l->n++;
    return 0;
}

void mr_wh_bookmarks_free(mr_wh_bookmark *rows, int n)
{
    for (int i = 0; rows && i < n; i++) {
        free(rows[i].node);
        free(rows[i].kind);
        free(rows[i].item);
        free(rows[i].value);
        free(rows[i].job_id);
        free(rows[i].updated_at);
    }
    free(rows);
}

int mr_wh_bookmarks_load(const mr_wh_config *cfg, const char *dag, mr_wh_bookmark **rows,
                         int *n, char **version, mr_err *err)
{
    *rows = NULL;
    *n = 0;
    *version = NULL;
    bm_db db;
    int absent, exists = 0;
    bm_list l = {0};
    int rc = bm_open(cfg, 0, &db, &absent, err);
    if (rc == 0 && !absent)
        rc = bm_table_exists(&db, &exists, err);
    const char *p[1] = {dag};
    if (rc == 0 && exists)
        rc = bm_exec(&db, "SELECT " BM_COLUMNS " FROM @ WHERE dag = $1 ORDER BY node, kind, item",
                     1, p, collect, &l, err);
    bm_close(&db);
    if (rc == 0 && !l.version)
        l.version = strdup("");
    if (rc == 0 && !l.version)
        rc = mr_err_oom(err, NULL);
    if (rc < 0) {
        mr_wh_bookmarks_free(l.rows, l.n);
        free(l.version);
        return rc;
    }
    *rows = l.rows;
    *n = l.n;
    *version = l.version;
    return 0;
}

int mr_wh_bookmarks_edit(const mr_wh_config *cfg, const char *dag, const char *node,
                         const char *column, const char *value, mr_err *err)
{
    bm_db db;
    int absent;
    int rc = bm_open(cfg, 1, &db, &absent, err);
    if (rc < 0) {
        bm_close(&db);
        return rc;
    }
    if (db.pg)
        rc = bm_exec(&db, "BEGIN", 0, NULL, NULL, NULL, err);
    else if (sq__exec(db.sq, "BEGIN IMMEDIATE") != SQLITE_OK)
        rc = sq__fail(db.sq, err, "bookmarks: cannot begin on %s", cfg->path);
    if (rc == 0)
        rc = bm_create(&db, dag, err);
    char now[40], stamp[64];
    now_text(now, sizeof now);
    snprintf(stamp, sizeof stamp, "edit %s", now);
    if (rc == 0 && !value) { /* reset: one node, or every one */
        const char *p[2] = {dag, node};
        rc = node ? bm_exec(&db, "DELETE FROM @ WHERE dag = $1 AND node = $2", 2, p, NULL, NULL, err)
                  : bm_exec(&db, "DELETE FROM @ WHERE dag = $1", 1, p, NULL, NULL, err);
    } else if (rc == 0) {
        const char *p[6] = {dag, node, column, value, "edit", now};
        rc = bm_exec(&db, "DELETE FROM @ WHERE dag = $1 AND node = $2 AND kind = 'column'", 2, p,
                     NULL, NULL, err);
        if (rc == 0)
            rc = bm_exec(&db, "INSERT INTO @ (dag, node, kind, item, value, job_id, updated_at) "
                              "VALUES ($1, $2, 'column', $3, $4, $5, $6)", 6, p, NULL, NULL, err);
    }
    /* a run that read the bookmarks before this edit must not commit */
    if (rc == 0)
        rc = bm_bump(&db, dag, stamp, "edit", err);
    if (rc == 0)
        rc = db.pg ? bm_exec(&db, "COMMIT", 0, NULL, NULL, NULL, err)
                   : (sq__exec(db.sq, "COMMIT") == SQLITE_OK ? 0 : sq__fail(db.sq, err, "bookmarks"));
    if (rc < 0 && db.pg)
        PQclear(PQexec(db.pg, "ROLLBACK"));
    else if (rc < 0 && db.sq)
        sq__exec(db.sq, "ROLLBACK");
    bm_close(&db);
    return rc;
}
