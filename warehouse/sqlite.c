/* sqlite.c - the SQLite warehouse driver: staging in a side file, one-transaction commit.
 *
 * Files.  The warehouse is cfg->path; staging tables live in
 * "<path>.staging", a WAL-mode database shared by every writer task of every
 * job (separate processes).  WAL lets readers and one writer proceed
 * together; writers queue on SQLite's lock (polled every 1 ms, up to 60 s), and
 * each mr_wh_stage_append is one short BEGIN IMMEDIATE ... COMMIT so no task
 * holds the lock while it waits for its next batch.  The staging file uses
 * synchronous=NORMAL (a commit is durable against a process crash); finish
 * runs a passive checkpoint, which syncs the WAL, so finished rows survive a
 * power loss too.
 *
 * Commit.  SQLite cannot ATTACH inside a transaction, so the commit opens the
 * warehouse, ATTACHes the staging file read-only as "mr_staging" (through a
 * URI with mode=ro: BEGIN IMMEDIATE then takes the write lock of the
 * warehouse only, and staging writers of other jobs are never blocked),
 * then BEGIN IMMEDIATE; per target: create or check the table, delete
 * (overwrite/upsert), INSERT ... SELECT from each staging table; post_sql
 * under an authorizer that refuses BEGIN/COMMIT/ROLLBACK (one of those
 * would end the job's transaction early); COMMIT.  Any error: ROLLBACK.  A
 * second, read-write connection to the staging file, opened first, keeps
 * its WAL index alive for the read-only attachment and drops the staging
 * tables at the end.
 *
 * Values are written with one prepared INSERT per staging table, rebound per
 * row (SQLite has no columnar bulk path); text forms of dates and timestamps
 * are formatted into a per-stage buffer of 48 bytes per column, so nothing
 * is allocated per row.  Types and value forms are listed in warehouse.h.
 */
#include "warehouse/warehouse.h"

#include "core/log.h"
#include "core/strbuf.h"
#include "warehouse/sql.h"
#include "warehouse/sqlite_int.h"

#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUSY_MS 60000
#define FMT_W 48 /* bytes per formatted value; mr_format_* never need more */
#define STAGING_ALIAS "mr_staging"

/* SQL text is built once per statement, in an mr_strbuf (warehouse/sql.h). */

/* ---- connections ------------------------------------------------------------ */

/* Sets err to MR_EWAREHOUSE: the formatted context, then SQLite's message. */
int sq__fail(sqlite3 *db, mr_err *err, const char *fmt, ...)
{
    char ctx[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    return mr_err_set(err, MR_EWAREHOUSE, "%s: %s", ctx, db ? sqlite3_errmsg(db) : "out of memory");
}

int sq__exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static char *staging_path(const char *path)
{
    size_t n = strlen(path);
    char *p = malloc(n + sizeof ".staging");
    if (p) {
        memcpy(p, path, n);
        memcpy(p + n, ".staging", sizeof ".staging");
    }
    return p;
}

/* "file:<path, percent-encoded>[?query]", so that any path works as a URI. */
static char *file_uri(const char *path, const char *query)
{
    static const char hex[] = "0123456789ABCDEF";
    mr_strbuf b = {0};
    mr_strbuf_puts(&b, "file:");
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("/._~-", *p)) {
            mr_strbuf_put(&b, (const char *)p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            mr_strbuf_put(&b, e, 3);
        }
    }
    if (query) {
        mr_strbuf_put(&b, "?", 1);
        mr_strbuf_puts(&b, query);
    }
    if (b.oom) {
        mr_strbuf_free(&b);
        return NULL;
    }
    return b.p;
}

/* Waits for another connection's write lock in 1 ms steps, up to BUSY_MS.
 * SQLite's own busy timeout backs off to 100 ms sleeps, which can leave a
 * staging writer idle long after the lock is free; writers take turns once
 * per batch. */
static int busy_wait(void *arg, int count)
{
    (void)arg;
    if (count >= BUSY_MS)
        return 0;
    sleep_ms(1);
    return 1;
}

/* The commit's wait, said out loud: a commit queued behind another job's
 * commit (the write lock) or behind readers of the warehouse file (COMMIT
 * needs the exclusive lock, which waits for every reader to finish) would
 * otherwise sit silent for up to BUSY_MS.  busy_log_wait is the commit
 * connection's busy handler: the same 1 ms steps, bounded by wall time,
 * and a log line after 1 s, then every 5 s, naming the lock, the file and
 * how long so far. */
typedef struct busy_log {
    const char *file;     /* the warehouse file */
    const char *waiting;  /* what the commit waits for, in words */
    struct timespec start;
    double next;          /* seconds of waiting at which to log next */
} busy_log;

static double seconds_since(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static int busy_log_wait(void *arg, int count)
{
    busy_log *bl = arg;
    if (count == 0) {
        clock_gettime(CLOCK_MONOTONIC, &bl->start);
        bl->next = 1.0;
    }
    double waited = seconds_since(&bl->start);
    if (waited * 1000 >= BUSY_MS) {
        mr_log(MR_LOG_WARN, "warehouse",
               "commit gives up waiting for %s of %s after %.0f s", bl->waiting, bl->file,
               waited);
        return 0;
    }
    if (waited >= bl->next) {
        mr_log(MR_LOG_WARN, "warehouse",
               "commit waiting for %s of %s for %.0f s so far (gives up after %d s)",
               bl->waiting, bl->file, waited, BUSY_MS / 1000);
        bl->next += 5.0;
    }
    sleep_ms(1);
    return 1;
}

static int open_db(const char *file, int flags, const char *what, sqlite3 **out, mr_err *err)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(file, &db, flags, NULL);
    if (rc != SQLITE_OK) {
        int code = sq__fail(db, err, "cannot open the %s", what);
        sqlite3_close(db);
        *out = NULL;
        return code;
    }
    sqlite3_busy_handler(db, busy_wait, NULL);
    /* A commit moves whole tables: with SQLite's default 2 MB page cache
     * every few thousand rows spill dirty pages, each spill syncing the
     * journal twice.  Allow up to 256 MB (a limit, not an allocation). */
    sq__exec(db, "PRAGMA cache_size=-262144");
    *out = db;
    return 0;
}

/* Opens the staging file for writing, in WAL mode.  With create 0 a missing
 * staging file is not an error: *out is NULL. */
int sq__staging_open(const char *path, int create, sqlite3 **out, mr_err *err)
{
    *out = NULL;
    char *sp = staging_path(path);
    if (!sp)
        return mr_err_set(err, MR_ENOMEM, "out of memory opening the staging area");
    if (!create && access(sp, F_OK) != 0) {
        free(sp);
        return 0;
    }
    sqlite3 *db;
    int rc = open_db(sp, SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0),
                     "staging database", &db, err);
    free(sp);
    if (rc < 0)
        return rc;
    /* Switching to WAL needs a moment of exclusive access; another process
     * opening the file at the same time can make it report busy even with
     * the busy timeout, so retry until the timeout has passed. */
    /* before the first table (no effect on an older file: the sweep
     * converts it once it is empty): dropped staging gives its pages back
     * to the file system instead of keeping the file at its largest */
    sq__exec(db, "PRAGMA auto_vacuum=INCREMENTAL");
    for (long waited = 0;; waited += 10) {
        rc = sq__exec(db, "PRAGMA journal_mode=WAL");
        if (rc == SQLITE_OK)
            break;
        if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
            break;
        if (waited >= BUSY_MS)
            break;
        sleep_ms(10);
    }
    if (rc == SQLITE_OK)
        rc = sq__exec(db, "PRAGMA synchronous=NORMAL");
    if (rc != SQLITE_OK) {
        int code = sq__fail(db, err, "cannot set up the staging database %s.staging", path);
        sqlite3_close(db);
        return code;
    }
    *out = db;
    return 0;
}





/* ---- staging ------------------------------------------------------------------ */

typedef struct sq_stage {
    mr_wh_stage base;
    sqlite3 *db;
    sqlite3_stmt *ins;
    char *table;
    int ncols;
    mr_type *types;
    char *fmt; /* FMT_W bytes per column: the current row's text forms */
} sq_stage;

static void stage_free(sq_stage *s)
{
    sqlite3_finalize(s->ins);
    sqlite3_close(s->db);
    free(s->table);
    free(s->types);
    free(s->fmt);
    free(s);
}

/* Drops the stage's table on its own connection, ignoring errors. */
static void stage_drop(sq_stage *s)
{
    sqlite3_reset(s->ins);
    if (!sqlite3_get_autocommit(s->db))
        sq__exec(s->db, "ROLLBACK");
    mr_strbuf q = {0};
    mr_strbuf_puts(&q, "DROP TABLE IF EXISTS ");
    mr_wh__ident(&q, s->table);
    if (!q.oom)
        sq__exec(s->db, q.p);
    mr_strbuf_free(&q);
}

/* A staging writer only appends: its page cache would keep every page it
 * wrote (between its transactions too, while no other writer touches the
 * file) up to open_db's 256 MB, which is what made an executor's resident
 * memory grow with the rows it staged, far beyond --memory.  Appends need
 * only the pages on the B-tree's right edge. */
static void stage_limit_cache(sqlite3 *db)
{
    sq__exec(db, "PRAGMA cache_size=-2048"); /* KiB: 2 MiB per writing task */
}

static int sq_stage_open(const mr_wh_config *cfg, const char *staging_table, const mr_schema *schema,
                         mr_wh_stage **out, mr_err *err)
{
    int n = schema->nfields;
    sq_stage *s = calloc(1, sizeof *s);
    if (!s)
        return mr_err_set(err, MR_ENOMEM, "out of memory opening staging table %s", staging_table);
    s->base.driver = &mr_wh__sqlite;
    s->ncols = n;
    s->table = strdup(staging_table);
    s->types = malloc((size_t)n * sizeof *s->types);
    s->fmt = malloc((size_t)n * FMT_W);
    mr_strbuf q = {0};
    int rc;
    if (!s->table || !s->types || !s->fmt) {
        rc = mr_err_set(err, MR_ENOMEM, "out of memory opening staging table %s", staging_table);
        goto fail;
    }
    for (int i = 0; i < n; i++)
        s->types[i] = schema->fields[i].type;
    if ((rc = sq__staging_open(cfg->path, 1, &s->db, err)) < 0)
        goto fail;
    stage_limit_cache(s->db);

    mr_strbuf_puts(&q, "DROP TABLE IF EXISTS ");
    mr_wh__ident(&q, staging_table);
    mr_strbuf_puts(&q, "; CREATE TABLE ");
    mr_wh__ident(&q, staging_table);
    mr_wh__columns_ddl(&q, schema);
    if (q.oom) {
        rc = mr_err_set(err, MR_ENOMEM, "out of memory opening staging table %s", staging_table);
        goto fail;
    }
    if (sq__exec(s->db, "BEGIN IMMEDIATE") != SQLITE_OK || sq__exec(s->db, q.p) != SQLITE_OK ||
        sq__exec(s->db, "COMMIT") != SQLITE_OK) {
        rc = sq__fail(s->db, err, "cannot create staging table %s", staging_table);
        if (!sqlite3_get_autocommit(s->db))
            sq__exec(s->db, "ROLLBACK");
        goto fail;
    }

    q.n = 0;
    mr_strbuf_puts(&q, "INSERT INTO ");
    mr_wh__ident(&q, staging_table);
    mr_strbuf_puts(&q, " VALUES (");
    for (int i = 0; i < n; i++)
        mr_strbuf_puts(&q, i ? ", ?" : "?");
    mr_strbuf_put(&q, ")", 1);
    if (q.oom) {
        rc = mr_err_set(err, MR_ENOMEM, "out of memory opening staging table %s", staging_table);
        goto fail;
    }
    if (sqlite3_prepare_v3(s->db, q.p, -1, SQLITE_PREPARE_PERSISTENT, &s->ins, NULL) != SQLITE_OK) {
        rc = sq__fail(s->db, err, "cannot prepare the insert into staging table %s", staging_table);
        goto fail;
    }
    mr_strbuf_free(&q);
    *out = &s->base;
    return 0;
fail:
    mr_strbuf_free(&q);
    if (s->db)
        stage_drop(s);
    stage_free(s);
    return rc;
}

/* Binds column c of row r of col to parameter c + 1. */
static int bind_value(sq_stage *s, int c, const mr_column *col, uint32_t r)
{
    sqlite3_stmt *st = s->ins;
    int p = c + 1;
    if (!mr_column_is_valid(col, r))
        return sqlite3_bind_null(st, p);
    char *buf = s->fmt + (size_t)c * FMT_W;
    size_t len;
    switch (col->type.id) {
    case MR_T_BOOL: return sqlite3_bind_int(st, p, MR_COL_U8(col)[r] != 0);
    case MR_T_INT32: return sqlite3_bind_int64(st, p, MR_COL_I32(col)[r]);
    case MR_T_INT64: return sqlite3_bind_int64(st, p, MR_COL_I64(col)[r]);
    case MR_T_FLOAT64: return sqlite3_bind_double(st, p, MR_COL_F64(col)[r]);
    case MR_T_DECIMAL:
        /* one correctly rounded division: the double nearest the decimal */
        return sqlite3_bind_double(st, p, (double)MR_COL_I64(col)[r] /
                                              (double)mr_pow10[col->type.scale]);
    case MR_T_DATE:
        len = mr_format_date(MR_COL_I32(col)[r], buf, FMT_W);
        return sqlite3_bind_text(st, p, buf, (int)len, SQLITE_STATIC);
    case MR_T_TIMESTAMP:
        len = mr_format_timestamp(MR_COL_I64(col)[r], buf, FMT_W);
        return sqlite3_bind_text(st, p, buf, (int)len, SQLITE_STATIC);
    case MR_T_STRING:
        /* chars may be NULL when every string so far is empty, and a NULL
         * pointer would bind SQL NULL: an empty string must stay one */
        len = col->offsets[r + 1] - col->offsets[r];
        return sqlite3_bind_text64(st, p, len ? col->chars + col->offsets[r] : "", len,
                                   SQLITE_STATIC, SQLITE_UTF8);
    default: return SQLITE_MISMATCH;
    }
}

static int sq_stage_append(mr_wh_stage *base, const mr_batch *b, mr_err *err)
{
    sq_stage *s = (sq_stage *)base;
    if (b->ncols != s->ncols)
        return mr_err_set(err, MR_ETYPE, "staging table %s: batch has %d columns, the table %d",
                          s->table, b->ncols, s->ncols);
    for (int c = 0; c < s->ncols; c++)
        if (!mr_type_equal(b->cols[c].type, s->types[c])) {
            char t1[32], t2[32];
            return mr_err_set(err, MR_ETYPE, "staging table %s: column %d is %s in the batch, %s in the table",
                              s->table, c + 1, mr_type_name(b->cols[c].type, t1, sizeof t1),
                              mr_type_name(s->types[c], t2, sizeof t2));
        }
    size_t n = mr_batch_live(b);
    if (n == 0)
        return 0;
    if (sq__exec(s->db, "BEGIN IMMEDIATE") != SQLITE_OK)
        return sq__fail(s->db, err, "staging table %s: cannot begin a write", s->table);
    for (size_t i = 0; i < n; i++) {
        uint32_t r = mr_batch_row(b, i);
        for (int c = 0; c < s->ncols; c++)
            if (bind_value(s, c, &b->cols[c], r) != SQLITE_OK)
                goto fail;
        if (sqlite3_step(s->ins) != SQLITE_DONE)
            goto fail;
        sqlite3_reset(s->ins);
    }
    if (sq__exec(s->db, "COMMIT") != SQLITE_OK)
        goto fail;
    return 0;
fail:;
    int rc = sq__fail(s->db, err, "staging table %s", s->table);
    sqlite3_reset(s->ins);
    if (!sqlite3_get_autocommit(s->db))
        sq__exec(s->db, "ROLLBACK");
    return rc;
}

static int sq_stage_finish(mr_wh_stage *base, mr_err *err)
{
    sq_stage *s = (sq_stage *)base;
    int rc = sqlite3_wal_checkpoint_v2(s->db, "main", SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) {
        int code = sq__fail(s->db, err, "staging table %s: cannot make the rows durable", s->table);
        stage_drop(s);
        stage_free(s);
        return code;
    }
    stage_free(s);
    return 0;
}

static void sq_stage_abort(mr_wh_stage *base)
{
    sq_stage *s = (sq_stage *)base;
    stage_drop(s);
    stage_free(s);
}

/* ---- commit ------------------------------------------------------------------- */

/* The table name within the warehouse: SQLite has no schemas, so a
 * "schema." prefix is dropped (see warehouse.h). */
static const char *table_name(const char *t)
{
    const char *dot = strchr(t, '.');
    return dot ? dot + 1 : t;
}

/* Runs one statement; on failure sets err naming the table. */
static int run(sqlite3 *db, const char *sql, const char *table, mr_err *err)
{
    if (sq__exec(db, sql) != SQLITE_OK)
        return sq__fail(db, err, "warehouse commit: table %s", table);
    return 0;
}

/* The table's on_schema_change word: fail (also NULL), add_columns, recreate. */
static int schema_change_is(const mr_wh_target *t, const char *word)
{
    return strcmp(t->on_schema_change ? t->on_schema_change : "fail", word) == 0;
}

/* CREATE TABLE main."name" from the write's schema. */
static int create_table(sqlite3 *db, const mr_wh_target *t, const char *name, mr_err *err)
{
    mr_strbuf q = {0};
    mr_strbuf_puts(&q, "CREATE TABLE main.");
    mr_wh__ident(&q, name);
    mr_wh__columns_ddl(&q, t->schema);
    int rc = q.oom ? mr_err_oom(err, NULL) : run(db, q.p, t->table, err);
    mr_strbuf_free(&q);
    return rc;
}

/* The existing table against the write (warehouse.h, "Schema changes"):
 * names compare case-insensitively, as SQL does, in any order; SQLite
 * stores any value in any column, so only names matter.  Counts the
 * write's columns the table lacks (*nmissing, the first in *missing, all
 * listed in want) and the table's columns the write lacks that have no
 * default and are not generated (*nbare, listed in bare); have lists the
 * table's columns. */
typedef struct sq_diff {
    int ncols, nmissing, nbare, missing;
    mr_strbuf have, bare;
} sq_diff;

static int table_diff(sqlite3 *db, const mr_wh_target *t, const char *name, sq_diff *d,
                      mr_err *err)
{
    const mr_schema *s = t->schema;
    sqlite3_stmt *st = NULL;
    int rc = 0, step;
    memset(d, 0, sizeof *d);
    d->missing = -1;
    char *seen = calloc((size_t)s->nfields + 1, 1);
    if (!seen)
        return mr_err_oom(err, NULL);
    /* hidden: 2 and 3 are generated columns, which an INSERT never names */
    if (sqlite3_prepare_v2(db, "SELECT name, dflt_value IS NOT NULL OR hidden IN (2, 3) FROM "
                               "pragma_table_xinfo(?1, 'main') WHERE hidden <> 1",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC) != SQLITE_OK) {
        rc = sq__fail(db, err, "warehouse commit: table %s: cannot read its columns", t->table);
        goto out;
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *col = (const char *)sqlite3_column_text(st, 0);
        col = col ? col : "";
        if (d->ncols++)
            mr_strbuf_put(&d->have, ", ", 2);
        mr_strbuf_puts(&d->have, col);
        int f = -1;
        for (int i = 0; i < s->nfields && f < 0; i++)
            if (sqlite3_stricmp(col, s->fields[i].name) == 0)
                f = i;
        if (f >= 0) {
            seen[f] = 1;
        } else if (!sqlite3_column_int(st, 1)) {
            mr_strbuf_puts(&d->bare, d->nbare++ ? ", " : "");
            mr_strbuf_puts(&d->bare, col);
        }
    }
    if (step != SQLITE_DONE) {
        rc = sq__fail(db, err, "warehouse commit: table %s: cannot read its columns", t->table);
        goto out;
    }
    for (int i = 0; i < s->nfields && d->ncols > 0; i++)
        if (!seen[i] && d->nmissing++ == 0)
            d->missing = i;
    if (d->have.oom || d->bare.oom)
        rc = mr_err_oom(err, NULL);
out:
    sqlite3_finalize(st);
    free(seen);
    return rc;
}

/* ALTER TABLE ... ADD COLUMN for every column of the write the table
 * lacks (on_schema_change: add_columns): NULL in the rows it has. */
static int add_columns(sqlite3 *db, const mr_wh_target *t, const char *name, mr_err *err)
{
    const mr_schema *s = t->schema;
    sqlite3_stmt *st = NULL;
    mr_strbuf q = {0};
    int rc = 0;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_xinfo(?1, 'main') WHERE name = ?2 "
                               "COLLATE NOCASE",
                           -1, &st, NULL) != SQLITE_OK)
        return sq__fail(db, err, "warehouse commit: table %s: cannot read its columns", t->table);
    for (int i = 0; i < s->nfields && rc == 0; i++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, s->fields[i].name, -1, SQLITE_STATIC);
        int have = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_reset(st); /* no read open while the table changes */
        if (have)
            continue;
        char tmp[32];
        q.n = 0;
        mr_strbuf_puts(&q, "ALTER TABLE main.");
        mr_wh__ident(&q, name);
        mr_strbuf_puts(&q, " ADD COLUMN ");
        mr_wh__ident(&q, s->fields[i].name);
        mr_strbuf_puts(&q, " ");
        mr_strbuf_puts(&q, mr_wh__col_decl(s->fields[i].type, tmp, sizeof tmp));
        rc = q.oom ? mr_err_oom(err, NULL) : run(db, q.p, t->table, err);
    }
    sqlite3_finalize(st);
    mr_strbuf_free(&q);
    return rc;
}

/* Creates the target table, or makes the existing one take the write as
 * on_schema_change says (warehouse.h, "Schema changes").  dry (the check
 * before a job runs) changes no existing table: what add_columns or
 * recreate would do is taken as done. */
static int ensure_table(sqlite3 *db, const mr_wh_target *t, const char *name, int dry,
                        mr_err *err)
{
    sq_diff d;
    int rc = table_diff(db, t, name, &d, err);
    if (rc < 0)
        goto out;
    if (d.ncols == 0) {
        rc = create_table(db, t, name, err);
        goto out;
    }
    if (d.nmissing == 0 && d.nbare == 0)
        goto out; /* fits: extra columns have defaults */
    if (dry && (schema_change_is(t, "recreate") || schema_change_is(t, "add_columns")))
        goto out;
    if (schema_change_is(t, "recreate")) {
        mr_strbuf q = {0};
        mr_strbuf_puts(&q, "DROP TABLE main.");
        mr_wh__ident(&q, name);
        rc = q.oom ? mr_err_oom(err, NULL) : run(db, q.p, t->table, err);
        mr_strbuf_free(&q);
        if (rc == 0)
            rc = create_table(db, t, name, err);
        goto out;
    }
    if (schema_change_is(t, "add_columns")) {
        rc = d.nmissing ? add_columns(db, t, name, err) : 0; /* bare columns get NULL */
        goto out;
    }
    mr_strbuf want = {0};
    mr_wh__field_list(&want, t->schema, NULL);
    if (d.nmissing > 0)
        rc = mr_err_set(err, MR_EWAREHOUSE,
                        "warehouse commit: table %s exists without column \"%s\"%s: it has %d "
                        "column%s (%s), the write has (%s); on_schema_change: add_columns adds "
                        "what is missing",
                        t->table, t->schema->fields[d.missing].name,
                        d.nmissing > 1 ? " (and more)" : "", d.ncols, d.ncols == 1 ? "" : "s",
                        d.have.p ? d.have.p : "", want.p ? want.p : "");
    else
        rc = mr_err_set(err, MR_EWAREHOUSE,
                        "warehouse commit: table %s exists and has %d column%s (%s) but the write "
                        "has %d (%s), and %s %s no default; give %s a default, or "
                        "on_schema_change: add_columns leaves %s NULL",
                        t->table, d.ncols, d.ncols == 1 ? "" : "s", d.have.p ? d.have.p : "",
                        t->schema->nfields, want.p ? want.p : "", d.bare.p ? d.bare.p : "",
                        d.nbare == 1 ? "has" : "have", d.nbare == 1 ? "it" : "them",
                        d.nbare == 1 ? "it" : "them");
    mr_strbuf_free(&want);
out:
    mr_strbuf_free(&d.have);
    mr_strbuf_free(&d.bare);
    return rc;
}

/* Upsert takes one row per key: fails (before the table is touched) when a
 * staged key is NULL or staged more than once, across all tasks. */
static int check_upsert_keys(sqlite3 *db, const mr_wh_target *t, mr_err *err)
{
    if (t->nstaging == 0)
        return 0;
    mr_strbuf q = {0};
    sqlite3_stmt *st = NULL;
    int rc = 0;
    mr_wh__upsert_null_sql(&q, t, STAGING_ALIAS);
    if (q.oom) {
        rc = mr_err_set(err, MR_ENOMEM, "out of memory committing table %s", t->table);
        goto out;
    }
    if (sqlite3_prepare_v2(db, q.p, -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        rc = sq__fail(db, err, "warehouse commit: table %s: checking the upsert keys", t->table);
        goto out;
    }
    long long nnull = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if (nnull > 0) {
        rc = mr_wh__upsert_null_error(err, t, nnull);
        goto out;
    }
    q.n = 0;
    /* with dedupe a key may be staged often; only a tie for first fails */
    if (t->ndedupe > 0)
        mr_wh__merge_tie_sql(&q, t, STAGING_ALIAS, NULL);
    else
        mr_wh__upsert_dup_sql(&q, t, STAGING_ALIAS);
    if (q.oom) {
        rc = mr_err_set(err, MR_ENOMEM, "out of memory committing table %s", t->table);
        goto out;
    }
    int step;
    if (sqlite3_prepare_v2(db, q.p, -1, &st, NULL) != SQLITE_OK ||
        ((step = sqlite3_step(st)) != SQLITE_ROW && step != SQLITE_DONE)) {
        rc = sq__fail(db, err, "warehouse commit: table %s: checking the upsert keys", t->table);
        goto out;
    }
    if (step == SQLITE_ROW) {
        const char **vals = calloc((size_t)t->nkey, sizeof *vals);
        if (!vals) {
            rc = mr_err_set(err, MR_ENOMEM, "out of memory committing table %s", t->table);
            goto out;
        }
        for (int k = 0; k < t->nkey; k++)
            vals[k] = (const char *)sqlite3_column_text(st, k);
        rc = (t->ndedupe > 0 ? mr_wh__merge_tie_error : mr_wh__upsert_dup_error)(
            err, t, vals, sqlite3_column_int64(st, t->nkey), sqlite3_column_int64(st, t->nkey + 1));
        free(vals);
    }
out:
    sqlite3_finalize(st);
    mr_strbuf_free(&q);
    return rc;
}

/* Upsert as MERGE (dedupe, delete_where; warehouse.h): the keys checked,
 * then one DELETE of every staged key's row and one INSERT of the winners
 * that are not deletions, over the staged rows of every task at once. */
static int merge_target(sqlite3 *db, mr_wh_target *t, const char *name, mr_err *err)
{
    int rc = check_upsert_keys(db, t, err);
    if (rc < 0 || t->nstaging == 0)
        return rc;
    mr_strbuf q = {0};
    mr_strbuf_puts(&q, "DELETE FROM main.");
    mr_wh__ident(&q, name);
    mr_strbuf_puts(&q, " WHERE (");
    mr_wh__name_list(&q, t->key, t->nkey);
    mr_strbuf_puts(&q, ") IN (");
    mr_wh__merge_keys_sql(&q, t, STAGING_ALIAS);
    mr_strbuf_puts(&q, ")");
    if (q.oom || (rc = run(db, q.p, t->table, err)) < 0)
        goto out;
    q.n = 0;
    mr_strbuf_puts(&q, "INSERT INTO main.");
    mr_wh__ident(&q, name);
    mr_strbuf_puts(&q, " (");
    mr_wh__field_list(&q, t->schema, NULL);
    mr_strbuf_puts(&q, ") ");
    mr_wh__merge_rows_sql(&q, t, STAGING_ALIAS, NULL);
    if (q.oom || (rc = run(db, q.p, t->table, err)) < 0)
        goto out;
    t->rows += (uint64_t)sqlite3_changes64(db);
out:
    if (q.oom && rc == 0)
        rc = mr_err_set(err, MR_ENOMEM, "out of memory committing table %s", t->table);
    mr_strbuf_free(&q);
    return rc;
}

static int commit_target(sqlite3 *db, mr_wh_target *t, mr_err *err)
{
    if (t->bookmarks)
        return mr_wh__bookmarks_apply_sqlite(db, t->bookmarks, err);
    const char *name = table_name(t->table);
    const char *mode = t->mode ? t->mode : "append";
    if (!*name)
        return mr_err_set(err, MR_EINVAL, "warehouse commit: table %s: empty table name", t->table);
    int rc = ensure_table(db, t, name, 0, err);
    if (rc < 0)
        return rc;
    mr_strbuf q = {0};
    if (strcmp(mode, "overwrite") == 0) {
        mr_strbuf_puts(&q, "DELETE FROM main.");
        mr_wh__ident(&q, name);
        if (q.oom || (rc = run(db, q.p, t->table, err)) < 0)
            goto out;
    } else if (strcmp(mode, "upsert") == 0 && mr_wh__is_merge(t)) {
        rc = merge_target(db, t, name, err);
        goto out;
    } else if (strcmp(mode, "upsert") == 0) {
        if ((rc = check_upsert_keys(db, t, err)) < 0)
            goto out;
        /* All deletes before any insert, so rows staged by one task are
         * never deleted because another task staged the same key. */
        for (int i = 0; i < t->nstaging; i++) {
            q.n = 0;
            mr_strbuf_puts(&q, "DELETE FROM main.");
            mr_wh__ident(&q, name);
            mr_strbuf_puts(&q, " WHERE (");
            mr_wh__name_list(&q, t->key, t->nkey);
            mr_strbuf_puts(&q, ") IN (SELECT ");
            mr_wh__name_list(&q, t->key, t->nkey);
            mr_strbuf_puts(&q, " FROM " STAGING_ALIAS ".");
            mr_wh__ident(&q, t->staging_tables[i]);
            mr_strbuf_put(&q, ")", 1);
            if (q.oom || (rc = run(db, q.p, t->table, err)) < 0)
                goto out;
        }
    }
    for (int i = 0; i < t->nstaging; i++) {
        q.n = 0;
        mr_strbuf_puts(&q, "INSERT INTO main.");
        mr_wh__ident(&q, name);
        mr_strbuf_puts(&q, " (");
        mr_wh__field_list(&q, t->schema, NULL);
        mr_strbuf_puts(&q, ") SELECT ");
        mr_wh__field_list(&q, t->schema, NULL);
        mr_strbuf_puts(&q, " FROM " STAGING_ALIAS ".");
        mr_wh__ident(&q, t->staging_tables[i]);
        if (q.oom || (rc = run(db, q.p, t->table, err)) < 0)
            goto out;
        t->rows += (uint64_t)sqlite3_changes64(db);
    }
out:
    if (q.oom && rc == 0)
        rc = mr_err_set(err, MR_ENOMEM, "out of memory committing table %s", t->table);
    mr_strbuf_free(&q);
    return rc;
}

/* Authorizer for post_sql: a BEGIN, COMMIT or ROLLBACK there would end the
 * job's transaction early and break the all-or-nothing promise. */
static int deny_txn(void *flag, int action, const char *a, const char *b, const char *c,
                    const char *d)
{
    (void)a, (void)b, (void)c, (void)d;
    if (action == SQLITE_TRANSACTION || action == SQLITE_DETACH || action == SQLITE_ATTACH) {
        *(int *)flag = 1;
        return SQLITE_DENY;
    }
    return SQLITE_OK;
}

static int run_post_sql(sqlite3 *db, const char *const *post_sql, int npost, mr_err *err)
{
    int denied = 0, rc = 0;
    sqlite3_set_authorizer(db, deny_txn, &denied);
    for (int i = 0; i < npost && rc == 0; i++) {
        char *msg = NULL;
        if (sqlite3_exec(db, post_sql[i], NULL, NULL, &msg) != SQLITE_OK) {
            if (denied)
                rc = mr_err_set(err, MR_EWAREHOUSE,
                                "post_sql statement %d: BEGIN, COMMIT, ROLLBACK, ATTACH and DETACH are "
                                "not allowed (post_sql runs inside the job's commit)",
                                i + 1);
            else
                rc = mr_err_set(err, MR_EWAREHOUSE, "post_sql statement %d: %s", i + 1,
                                msg ? msg : sqlite3_errmsg(db));
        }
        sqlite3_free(msg);
    }
    sqlite3_set_authorizer(db, NULL, NULL);
    return rc;
}

/* Drops the staging tables the targets name, in one transaction; errors are
 * ignored (the coordinator's prefix cleanup catches leftovers). */
static void drop_tables(sqlite3 *st, const mr_wh_target *targets, int ntargets)
{
    if (!st || sq__exec(st, "BEGIN IMMEDIATE") != SQLITE_OK)
        return;
    mr_strbuf q = {0};
    for (int i = 0; i < ntargets; i++)
        for (int k = 0; k < targets[i].nstaging; k++) {
            q.n = 0;
            mr_strbuf_puts(&q, "DROP TABLE IF EXISTS ");
            mr_wh__ident(&q, targets[i].staging_tables[k]);
            if (!q.oom)
                sq__exec(st, q.p);
        }
    mr_strbuf_free(&q);
    if (sq__exec(st, "COMMIT") != SQLITE_OK)
        sq__exec(st, "ROLLBACK");
}

static void sq_drop_named(const mr_wh_config *cfg, const mr_wh_target *targets, int ntargets)
{
    sqlite3 *st = NULL;
    if (sq__staging_open(cfg->path, 0, &st, NULL) == 0 && st) {
        drop_tables(st, targets, ntargets);
        sqlite3_close(st);
    }
}

static int attach_staging(sqlite3 *db, const char *path, mr_err *err)
{
    char *sp = staging_path(path);
    char *uri = sp ? file_uri(sp, "mode=ro") : NULL;
    free(sp);
    if (!uri)
        return mr_err_set(err, MR_ENOMEM, "out of memory attaching the staging area");
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(db, "ATTACH DATABASE ?1 AS " STAGING_ALIAS, -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_text(st, 1, uri, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_DONE)
        rc = sq__fail(db, err, "warehouse commit: cannot attach the staging database %s.staging", path);
    sqlite3_finalize(st);
    free(uri);
    return rc;
}

static int sq_commit(const mr_wh_config *cfg, mr_wh_target *targets, int ntargets,
                     const char *const *post_sql, int npost, mr_err *err)
{
    sqlite3 *st = NULL, *db = NULL;
    char *uri = NULL;
    busy_log bl = {.file = cfg->path, .waiting = "the write lock (another commit holds it)"};
    int rc = sq__staging_open(cfg->path, 1, &st, err);
    if (rc < 0)
        goto out;
    if (!(uri = file_uri(cfg->path, NULL))) {
        rc = mr_err_set(err, MR_ENOMEM, "out of memory opening the warehouse");
        goto out;
    }
    if ((rc = open_db(uri, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI,
                      "warehouse database", &db, err)) < 0)
        goto out;
    if ((rc = attach_staging(db, cfg->path, err)) < 0)
        goto out;
    sqlite3_busy_handler(db, busy_log_wait, &bl); /* db is closed before bl goes */
    if (sq__exec(db, "BEGIN IMMEDIATE") != SQLITE_OK) {
        rc = sq__fail(db, err, "warehouse commit: cannot begin the transaction on %s", cfg->path);
        goto out;
    }
    bl.waiting = "the exclusive lock (readers of the file must finish first)";
    for (int i = 0; i < ntargets; i++)
        if ((rc = commit_target(db, &targets[i], err)) < 0)
            goto out;
    if ((rc = run_post_sql(db, post_sql, npost, err)) < 0)
        goto out;
    if (sq__exec(db, "COMMIT") != SQLITE_OK)
        rc = sq__fail(db, err, "warehouse commit: COMMIT failed on %s", cfg->path);
out:
    if (db) {
        if (!sqlite3_get_autocommit(db))
            sq__exec(db, "ROLLBACK");
        sq__exec(db, "DETACH DATABASE " STAGING_ALIAS);
        sqlite3_close(db);
    }
    if (rc < 0)
        for (int i = 0; i < ntargets; i++)
            targets[i].rows = 0;
    drop_tables(st, targets, ntargets);
    sqlite3_close(st);
    free(uri);
    return rc;
}

static int sq_check(const mr_wh_config *cfg, const mr_wh_target *targets, int ntargets,
                    mr_err *err)
{
    if (access(cfg->path, F_OK) != 0)
        return 0; /* a new warehouse: every table will be created */
    sqlite3 *db = NULL;
    int rc = open_db(cfg->path, SQLITE_OPEN_READWRITE, "warehouse", &db, err);
    if (rc < 0)
        return rc;
    if (sq__exec(db, "BEGIN") != SQLITE_OK)
        rc = sq__fail(db, err, "warehouse check: cannot begin");
    for (int i = 0; i < ntargets && rc == 0; i++)
        rc = ensure_table(db, &targets[i], table_name(targets[i].table), 1, err);
    sq__exec(db, "ROLLBACK");
    sqlite3_close(db);
    if (rc < 0 && strncmp(err->msg, "warehouse commit: ", 18) == 0)
        memmove(err->msg + 10, err->msg + 17, strlen(err->msg + 17) + 1); /* say "warehouse: " */
    return rc;
}


static int sq_drop_staging(const mr_wh_config *cfg, const char *prefix, mr_err *err)
{
    sqlite3 *st = NULL;
    int rc = sq__staging_open(cfg->path, 0, &st, err);
    if (rc < 0 || !st)
        return rc;
    sqlite3_stmt *sel = NULL;
    mr_strbuf names = {0}, q = {0};
    if (sqlite3_prepare_v2(st,
                           "SELECT name FROM sqlite_master WHERE type = 'table' AND "
                           "substr(name, 1, length(?1)) = ?1 AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
                           -1, &sel, NULL) != SQLITE_OK ||
        sqlite3_bind_text(sel, 1, prefix, -1, SQLITE_STATIC) != SQLITE_OK) {
        rc = sq__fail(st, err, "cannot list staging tables");
        goto out;
    }
    if (sq__exec(st, "BEGIN IMMEDIATE") != SQLITE_OK) {
        rc = sq__fail(st, err, "cannot drop staging tables");
        goto out;
    }
    /* names are collected first: dropping while the SELECT runs is not allowed */
    int s;
    while ((s = sqlite3_step(sel)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(sel, 0);
        mr_wh__ident(&names, name ? name : "");
        mr_strbuf_put(&names, "", 1); /* NUL-separated: a name may hold any other byte */
    }
    sqlite3_reset(sel);
    if (s != SQLITE_DONE) {
        rc = sq__fail(st, err, "cannot list staging tables");
        goto out;
    }
    if (names.oom) {
        rc = mr_err_set(err, MR_ENOMEM, "out of memory dropping staging tables");
        goto out;
    }
    for (size_t pos = 0; pos < names.n;) {
        const char *line = names.p + pos;
        size_t len = strlen(line);
        pos += len + 1;
        q.n = 0;
        mr_strbuf_puts(&q, "DROP TABLE ");
        mr_strbuf_put(&q, line, len);
        if (q.oom) {
            rc = mr_err_set(err, MR_ENOMEM, "out of memory dropping staging tables");
            goto out;
        }
        if (sq__exec(st, q.p) != SQLITE_OK) {
            rc = sq__fail(st, err, "cannot drop staging table %s", line);
            goto out;
        }
    }
    if (sq__exec(st, "COMMIT") != SQLITE_OK)
        rc = sq__fail(st, err, "cannot drop staging tables");
    else /* also the pages of tables the commit dropped */
        sq__staging_shrink(st);
out:
    sqlite3_finalize(sel);
    if (!sqlite3_get_autocommit(st))
        sq__exec(st, "ROLLBACK");
    sqlite3_close(st);
    mr_strbuf_free(&names);
    mr_strbuf_free(&q);
    return rc;
}

const mr_wh__driver mr_wh__sqlite = {
    .name = "sqlite",
    .stage_open = sq_stage_open,
    .stage_append = sq_stage_append,
    .stage_finish = sq_stage_finish,
    .stage_abort = sq_stage_abort,
    .commit = sq_commit,
    .drop_staging = sq_drop_staging,
    .drop_named = sq_drop_named,
    .check = sq_check,
    .lease_take = sq__lease_take,
    .lease_renew = sq__lease_renew,
    .lease_release = sq__lease_release,
    .sweep = sq__sweep,
};
