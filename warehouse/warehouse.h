/* warehouse.h - staging writes and the atomic job commit, behind one
 * driver-neutral interface with three drivers (SQLite in sqlite.c,
 * PostgreSQL in postgres.c and pg_copy.c, file outputs in files.c), each an
 * mr_wh__driver table.
 *
 * Model.  Every task attempt that writes to the warehouse stages its rows in
 * its own staging table (mr_wh_stage_*).  When the whole job has succeeded,
 * the coordinator calls mr_wh_commit once: in ONE warehouse transaction it
 * moves the staged rows of the chosen attempt of every task into the target
 * tables (creating, emptying or upserting as the write mode says), runs the
 * job's post_sql, and commits.  A failure anywhere rolls everything back, so
 * a failed job leaves every target table as it was.  Staging tables of
 * failed attempts or crashed jobs are removed with mr_wh_drop_staging.
 *
 * Drivers.  cfg->driver selects one: NULL, "" or "sqlite" is SQLite;
 * "postgres" is PostgreSQL through libpq (cfg->dsn required); "csv" and
 * "jsonl" are a write node's file output at cfg->path (cfg->job_id
 * required); anything else is MR_EINVAL.
 *
 * Steps of a job's output.  mr_wh_begin when the job starts (files: the
 * folders, the mode check, the staging folder), mr_wh_stage_* by every
 * task attempt, then at the end mr_wh_prepare for every output, the one
 * warehouse transaction (mr_wh_commit, SQL drivers only), and mr_wh_publish
 * for every output; mr_wh_drop_staging when the job fails.  A step a
 * driver does not need is a no-op returning 0 (SQL drivers: begin,
 * prepare, publish); a step it cannot do (commit, check, leases for files)
 * is MR_ENOTSUP.
 *
 * File outputs (files.c): each attempt stages one part file in the folder
 * "<path>.millrace-tmp-<job>"; prepare renames the chosen attempts' files
 * to part-NNNNN.<ext> (the target's staging_tables, in task order) and
 * writes _SUCCESS; publish renames the folder onto the output (moving an
 * older one aside and removing it).  Modes: error_if_exists (also NULL)
 * or overwrite, checked by begin.
 *
 * SQLite specifics:
 *   - The warehouse is the file cfg->path.  Staging tables live in a separate
 *     file, "<path>.staging" (WAL mode, 60 s busy timeout), so the user's
 *     file never sees them.  Concurrent writer tasks, in separate processes,
 *     share that staging file: each append is one short write transaction.
 *     The commit attaches the staging file read-only (so it never blocks
 *     staging writers of other jobs), takes the warehouse write lock with
 *     BEGIN IMMEDIATE, and copies with INSERT ... SELECT.
 *   - SQLite has no schemas: for a table written "schema.table" the part
 *     before the first dot is ignored unless it is "main" (the warehouse
 *     file, the only attached database a user can mean), and cfg->schema is
 *     ignored.
 *   - Column types (what CREATE TABLE declares, and how values are stored):
 *       bool          BOOLEAN           integer 0 / 1
 *       int32         INTEGER           integer
 *       int64         BIGINT            integer
 *       float64       DOUBLE PRECISION  real (NaN is stored as NULL, as
 *                                        SQLite does for any NaN)
 *       decimal(p,s)  NUMERIC(p,s)      real: the double nearest to the exact
 *                                        value (integral values become
 *                                        integers by NUMERIC affinity), so
 *                                        numbers compare, sort and sum as
 *                                        numbers in SQL.  Exact, i.e.
 *                                        round(x * 10^s) gives back the
 *                                        decimal, for values of at most 15
 *                                        significant digits (every
 *                                        decimal(p,s) with p <= 15); larger
 *                                        values are rounded to 15-17 digits,
 *                                        as SQLite does for any NUMERIC.
 *                                        Why not text: a TEXT column holding
 *                                        '100.00' compares below 20 and sorts
 *                                        lexically, silently breaking
 *                                        post_sql such as WHERE x > 20.
 *       string        TEXT              text (UTF-8; empty string and NULL
 *                                        stay distinct)
 *       date          DATE              text 'YYYY-MM-DD'
 *       timestamp     TIMESTAMP         text 'YYYY-MM-DD HH:MM:SS[.ffffff]'
 *                                        (fraction without trailing zeros)
 *     Dates and timestamps are the ISO forms SQLite's date functions read;
 *     they compare and sort correctly as text for years 0000-9999.
 *   - Identifiers are always double-quoted with '"' doubled, so any table or
 *     column name is taken literally.
 *
 * PostgreSQL specifics (warehouse/postgres.c, its COPY staging in
 * warehouse/pg_copy.c; docs/warehouse.md has more):
 *   - cfg->dsn is a libpq connection string (key=value or postgresql://).
 *     Errors never echo it: they name host, port, database and user only.
 *   - Each stage is one connection and one transaction: an UNLOGGED table in
 *     the schema "millrace_staging" (created if missing), filled by one
 *     COPY ... FROM STDIN (binary; MILLRACE_PG_COPY_FORMAT=text switches to
 *     the text format) that streams across appends.  Server-side data errors
 *     are therefore reported by mr_wh_stage_finish, and after a failed
 *     append only mr_wh_stage_abort is useful.  A writer that dies leaves no
 *     staging table behind.  Finish records the row count with the table;
 *     the commit refuses a staging table that was never finished or lost
 *     rows (UNLOGGED tables are emptied by a server crash).
 *   - Table names are "table" (in cfg->schema when set, else the server's
 *     search_path) or "schema.table"; a named schema is created if missing.
 *     Names longer than 63 bytes are refused (PostgreSQL would truncate).
 *   - Types: bool BOOLEAN, int32 INTEGER, int64 BIGINT, float64 DOUBLE
 *     PRECISION, decimal(p,s) NUMERIC(p,s) (exact), string TEXT, date DATE,
 *     timestamp TIMESTAMP (microseconds).  An existing table must have
 *     the write's column names (case-sensitive) and types that hold the
 *     values (the same or wider: int32 into BIGINT, string into VARCHAR,
 *     decimal into a NUMERIC with as many integer and fraction digits);
 *     other columns need a default (see "Schema changes" below).
 *   - overwrite is DELETE FROM (MVCC-safe for concurrent readers, unlike
 *     TRUNCATE); upsert is DELETE ... USING the staged rows on the key, then
 *     INSERT (no ON CONFLICT, so no unique index is needed and the SQL runs
 *     on Redshift too).  Each post_sql entry must be a single statement.
 */
#ifndef MR_WAREHOUSE_H
#define MR_WAREHOUSE_H

#include <stdint.h>

#include "core/batch.h"
#include "core/error.h"
#include "core/types.h"
#include "proto/millrace.pb-c.h"

typedef struct mr_wh_config {
    const char *driver; /* "sqlite" (default when NULL or "") | "postgres" */
    const char *path;   /* sqlite: the warehouse database file */
    const char *dsn;    /* postgres: libpq connection string */
    const char *schema; /* postgres: schema of unqualified tables */
    const char *job_id; /* csv, jsonl: the job the staging folder belongs to */
    const char *compression;  /* parquet: codec name (NULL: snappy) */
    uint64_t row_group_rows;  /* parquet: rows per row group (0: default) */
} mr_wh_config;

/* An open staging table being written by one task attempt. */
typedef struct mr_wh_stage mr_wh_stage;

/* Creates staging table staging_table (replacing a leftover of the same
 * name) with the columns of schema, in the staging area of the warehouse,
 * and returns a handle to append to in *out (owned by the caller until
 * mr_wh_stage_finish or mr_wh_stage_abort).  cfg and schema are not kept.
 * Returns 0, MR_EINVAL (bad config or arguments, unknown driver), MR_ENOMEM
 * or MR_EWAREHOUSE with the database's message. */
int mr_wh_stage_open(const mr_wh_config *cfg, const char *staging_table, const mr_schema *schema,
                     mr_wh_stage **out, mr_err *err);

/* Appends the live rows of b (honouring its selection vector).  b must
 * have the schema's column count and types (MR_ETYPE otherwise, nothing
 * staged).  SQLite: one transaction through a prepared statement; 0 or
 * MR_EWAREHOUSE (nothing of b staged), and the handle stays usable either
 * way.  PostgreSQL: rows are encoded into the stage's COPY stream and sent
 * in chunks; 0, MR_ENOMEM (nothing of b staged) or MR_EWAREHOUSE, after
 * which only mr_wh_stage_abort is useful (see above). */
int mr_wh_stage_append(mr_wh_stage *s, const mr_batch *b, mr_err *err);

/* Makes the staged rows durable and frees s.  After it returns 0 the rows
 * are visible to mr_wh_commit.  On failure the staging table is dropped
 * (best effort) and s is freed as well. */
int mr_wh_stage_finish(mr_wh_stage *s, mr_err *err);

/* Drops what was staged and frees s.  NULL is a no-op. */
void mr_wh_stage_abort(mr_wh_stage *s);

/* One target table of a commit.  Everything but rows is input. */
typedef struct mr_wh_target {
    const char *table;             /* [schema.]table */
    const char *mode;              /* append (also NULL) | overwrite | upsert */
    const char *const *key;        /* upsert: key column names */
    int nkey;
    const mr_schema *schema;       /* the columns written (names and types) */
    const char *const *staging_tables; /* the chosen attempt of every task */
    int nstaging;
    uint64_t rows;                 /* out: rows moved into the table (0 on failure) */
    const char *node;              /* the write node, named in messages (NULL: none) */
    /* upsert as MERGE (see mr_wh_commit): the winning staged row of a key
     * is the first in this order (none: a key staged twice fails) */
    Millrace__SortKey *const *dedupe;
    int ndedupe;
    /* upsert: a boolean column staged after the schema's columns (never
     * written to the table): true deletes the key's row (NULL or "": none) */
    const char *delete_column;
    /* when the table's columns differ from the write's: fail (also NULL) |
     * add_columns | recreate (overwrite only); see mr_wh_commit */
    const char *on_schema_change;
    /* set on a target of its own (table MR_WH_BOOKMARKS_TABLE, no schema,
     * no staging): the commit moves these bookmarks (see below) */
    const struct mr_wh_bookmarks *bookmarks;
} mr_wh_target;

/* Fills t's table, mode, key, node, dedupe, delete_column and
 * on_schema_change from a warehouse write of a plan (pointers into w). */
void mr_wh_target_from_plan(const Millrace__WriteSpec *w, mr_wh_target *t);

/* The job commit, in one transaction: for each target, create the table
 * from schema if it is missing, or check that the existing table fits
 * (SQLite: the write's column names in any order, case-insensitively as SQL
 * does; PostgreSQL: see its specifics above; both: "Schema changes"
 * below); then overwrite
 * deletes every row, upsert deletes the rows whose key equals the key of
 * any staged row (NULL keys match nothing), append keeps them; then every
 * staging table's rows are inserted.  Then post_sql[0..npost)
 * runs in order (transaction control statements in it are refused), then
 * COMMIT.  Any failure rolls back (every target table as it was) and returns
 * MR_EWAREHOUSE with a message naming the table or the post_sql statement's
 * 1-based index and the database's message; MR_EINVAL for a bad target (no
 * schema, unknown mode, upsert without a valid key).  Afterwards, whatever
 * the outcome, the named staging tables are dropped (best effort: a failed
 * drop does not change the result; mr_wh_drop_staging cleans up later),
 * except after MR_EIO: the warehouse could not be reached at all (PostgreSQL
 * down or restarting), nothing happened, and the staging tables are kept so
 * that the caller can try the same commit again later.
 * Upsert takes one row per key: a staged row with a NULL key column, or a
 * key staged more than once (by any tasks), fails the commit with
 * MR_EWAREHOUSE before the table is touched, naming the key (its value and
 * how many rows carry it, and how many keys are duplicated).
 *
 * Upsert as MERGE.  With dedupe, a key staged several times keeps the row
 * that sorts first in the dedupe order (NULLs where the SortKey says;
 * strings by their bytes, COLLATE "C" on PostgreSQL, so both drivers pick
 * the same row); two rows of one key that tie on the whole order fail the
 * commit naming the key, how many rows tie and how many keys have a tie.
 * With delete_column, the winning row of a key whose flag is true deletes
 * the table's row with that key and is not inserted.  Either way the SQL
 * runs against the staged rows of every task together: one DELETE of the
 * table rows whose key is staged (PostgreSQL: DELETE ... USING the
 * distinct staged keys; SQLite: WHERE (key) IN), then one INSERT ...
 * SELECT of the winners that are not deletions (ROW_NUMBER() OVER the key
 * in the dedupe order), in the commit's transaction.  rows counts the rows
 * inserted.
 *
 * Schema changes.  An existing table fits when it has every written
 * column with a type that holds it; columns the write lacks are fine when
 * they have a default (or are identity or generated columns), and get it.
 * Otherwise on_schema_change decides: fail (the default) fails the commit
 * naming the table and the columns; add_columns adds the write's missing
 * columns (ALTER TABLE ... ADD COLUMN, NULL in the old rows) and lets
 * table columns the write lacks take their default or NULL (a type that
 * cannot hold the write's still fails); recreate (overwrite only) drops
 * the table and creates it from the write's schema.  All of it happens in
 * the commit's transaction, so a failure later (post_sql) undoes it. */
int mr_wh_commit(const mr_wh_config *cfg, mr_wh_target *targets, int ntargets,
                 const char *const *post_sql, int npost, mr_err *err);

/* The output steps around the commit (see "Steps" above).  begin reads
 * the target's mode only; prepare and publish its staging tables.  Each
 * returns 0 or a negative code with err set (files: MR_EINVAL for an
 * output that exists without overwrite, MR_EIO naming the path). */
int mr_wh_begin(const mr_wh_config *cfg, const mr_wh_target *target, mr_err *err);
int mr_wh_prepare(const mr_wh_config *cfg, mr_wh_target *targets, int ntargets, mr_err *err);
int mr_wh_publish(const mr_wh_config *cfg, mr_wh_target *targets, int ntargets, mr_err *err);

/* files.c: the part file an attempt stages under staging name staging
 * (for the executor's data-root check before mr_wh_stage_open).  0 or
 * MR_ETOOBIG when it does not fit in cap. */
int mr_wh_files_part_path(const mr_wh_config *cfg, const char *staging, char *out, size_t cap);

/* Drops every staging table whose name starts with prefix (e.g.
 * "s_<jobid>_" after a failed job, or "s_" when the coordinator starts, to
 * clean up after a crash).  An empty prefix drops every staging table.
 * Returns 0 (also when there is no staging area yet) or MR_EWAREHOUSE. */
int mr_wh_drop_staging(const mr_wh_config *cfg, const char *prefix, mr_err *err);

/* Checks, before any data moves, that every target either does not exist
 * yet or has columns the commit accepts (the very check mr_wh_commit makes,
 * run in a transaction that is rolled back, so nothing is created; a table
 * that on_schema_change add_columns or recreate would change passes without
 * being altered, so the check takes no lock such DDL would).  Only
 * table, schema and key of each target are read.  0, MR_EWAREHOUSE naming
 * the table and the mismatch (also an SQLite file that cannot be opened),
 * or MR_EIO when a PostgreSQL server cannot be reached.  An SQLite
 * warehouse file that does not exist yet passes (and is not created). */
int mr_wh_check(const mr_wh_config *cfg, const mr_wh_target *targets, int ntargets, mr_err *err);

/* mr_wh_check for every warehouse write of a compiled plan (file outputs
 * are skipped).  cfg says where the warehouse is (paths resolved). */
int mr_wh_check_plan(const Millrace__JobPlan *plan, const mr_wh_config *cfg, mr_err *err);

/* dsn.c -- keeping PostgreSQL credentials off the wire (docs/security.md).
 * mr_wh_dsn_public: dsn without its secrets (password, sslpassword), as a
 * key='value' libpq string in *out (malloc'd; the caller frees), for task
 * specs.  mr_wh_dsn_with_secret: what an executor connects with: job_dsn
 * plus the password of own_dsn (its MILLRACE_WAREHOUSE_DSN) when both name
 * the same host, hostaddr, port, database and user; otherwise job_dsn
 * unchanged (libpq then finds a password in PGPASSWORD or a password file,
 * as it would anyway).  own_dsn may be NULL.  Both 0, MR_EINVAL (a dsn
 * libpq cannot parse) or MR_ENOMEM. */
int mr_wh_dsn_public(const char *dsn, char **out, mr_err *err);
int mr_wh_dsn_with_secret(const char *job_dsn, const char *own_dsn, char **out, mr_err *err);

/* The staging table of one task attempt: kind 's' for its rows, 'r' for the
 * rows its reads rejected.  Executors write under this name and the
 * coordinator commits from it, so both use this one function.  Every job's
 * staging tables start with "s_<job>_" or "r_<job>_". */
void mr_wh_staging_name(char *buf, size_t cap, char kind, const char *job_id, uint32_t stage,
                        uint32_t task, uint32_t attempt);

/* The table rejected rows land in, and its columns: job_id, node, file,
 * line, reason, raw. */
#define MR_WH_REJECTS_TABLE "millrace_rejects"
/* A new schema (caller destroys) of MR_WH_REJECTS_TABLE. */
mr_schema *mr_wh_rejects_schema(void);

/* ---- staging leases and the sweep -------------------------------------------
 * Staging tables outlive the coordinator that made them when it is killed
 * (kill -9, a crash, a power loss) mid-job or mid-commit, or when their
 * drop fails (a full disk).  So every job holds a lease in the staging area
 * (a row of the table millrace_leases: job id, owner, instance, heartbeat
 * time), taken before any of its tasks runs and renewed while it runs, and
 * any coordinator sweeps, in a warehouse it uses, the staging tables whose
 * job is orphaned:
 *   - no lease at all (the job ended, or never had one), or
 *   - a lease of the same owner (host and control endpoint: only one live
 *     coordinator can have bound it) but another instance: the coordinator
 *     that held it died and this one took its place, or
 *   - a lease not renewed for expire_ms (its coordinator is gone).
 * So a live coordinator's staging is never swept while it renews its leases
 * more often than expire_ms (see docs/warehouse.md for the one race: a
 * coordinator that cannot reach the warehouse for longer than that). */
typedef struct mr_wh_owner {
    const char *owner;    /* "<host> <control endpoint>" of the coordinator */
    const char *instance; /* random per coordinator start */
} mr_wh_owner;

/* Takes the lease of job_id for me (heartbeat now), creating the staging
 * area and the lease table when missing.  0, MR_EWAREHOUSE or MR_ENOMEM. */
int mr_wh_lease_take(const mr_wh_config *cfg, const char *job_id, const mr_wh_owner *me,
                     mr_err *err);

/* Renews (heartbeat now) those of the n leases job_ids that me still holds;
 * a released lease is not taken again.  0, MR_EWAREHOUSE or MR_ENOMEM. */
int mr_wh_lease_renew(const mr_wh_config *cfg, const char *const *job_ids, int n,
                      const mr_wh_owner *me, mr_err *err);

/* The end of a job: drops its staging tables ("s_<job>_", "r_<job>_") and
 * then its lease; the SQLite staging file shrinks.  On failure the lease
 * stays (the job's leftovers stay findable).  0 or the drop's error. */
int mr_wh_job_cleanup(const mr_wh_config *cfg, const char *job_id, mr_err *err);

/* Drops the staging tables of orphaned jobs (rules above) and their leases,
 * then lets the SQLite staging file shrink (incremental vacuum, WAL
 * truncated).  *swept (may be NULL) gets the number of tables dropped.
 * Nothing to sweep costs one read.  0, MR_EWAREHOUSE or MR_ENOMEM. */
int mr_wh_sweep(const mr_wh_config *cfg, const mr_wh_owner *me, int64_t expire_ms, int *swept,
                mr_err *err);

#define MR_WH_LEASES_TABLE "millrace_leases"

/* ---- bookmarks of incremental reads (bookmarks.c, docs/bookmarks.md) -------
 * The table millrace_bookmarks holds, per DAG name, the files each
 * `incremental: files` read loaded, the watermark of each `incremental:
 * {column}` read, and a run row whose value changes whenever the DAG's
 * bookmarks move (a version).  A job moves them in its commit: a target
 * whose `bookmarks` is set (table MR_WH_BOOKMARKS_TABLE, no schema or
 * staging) makes mr_wh_commit, in its transaction and before any data
 * moves, fail with MR_EWAREHOUSE when the version is no longer `seen`
 * (another run committed meanwhile), delete the rows of clear_nodes,
 * replace rows (same dag, node, kind, item) and set the version to job_id. */
#define MR_WH_BOOKMARKS_TABLE "millrace_bookmarks"

typedef struct mr_wh_bookmark {
    char *node, *kind, *item; /* kind: "file" (item: path) | "column" (item: column) */
    char *value;              /* column: the watermark; file: NULL, or an object's ETag */
    int64_t size, mtime_ns;   /* file */
    char *job_id, *updated_at; /* as loaded (ignored when written) */
} mr_wh_bookmark;

typedef struct mr_wh_bookmarks {
    const char *dag;    /* the DAG's name */
    const char *job_id; /* the job committing */
    const char *seen;   /* the version when the job read the bookmarks ("" none) */
    const char *const *clear_nodes; /* nodes whose rows go first (full refresh) */
    int nclear;
    const mr_wh_bookmark *rows;
    int nrows;
} mr_wh_bookmarks;

/* Reads the bookmarks of dag (rows ordered by node, kind, item; the run
 * row apart, as *version, "" when none).  A warehouse without the table,
 * or an SQLite file that does not exist, has none.  The caller frees rows
 * with mr_wh_bookmarks_free and *version with free.  0, MR_EIO
 * (PostgreSQL unreachable), MR_EWAREHOUSE or MR_ENOMEM. */
int mr_wh_bookmarks_load(const mr_wh_config *cfg, const char *dag, mr_wh_bookmark **rows,
                         int *n, char **version, mr_err *err);
void mr_wh_bookmarks_free(mr_wh_bookmark *rows, int n);
/* Edits the bookmarks of dag in one transaction: value NULL deletes those
 * of node (NULL: every node); otherwise sets node's watermark on column to
 * value.  Either way the version changes, so a run that read the old
 * bookmarks cannot commit.  0 or a negative code. */
int mr_wh_bookmarks_edit(const mr_wh_config *cfg, const char *dag, const char *node,
                         const char *column, const char *value, mr_err *err);

/* ---- for drivers (warehouse/<driver>.c) -----------------------------------
 * A driver fills one mr_wh__driver; the front (warehouse.c) picks it by
 * name and checks arguments common to all drivers.  Entries a driver
 * leaves NULL are refused by the front (MR_ENOTSUP), except the output
 * steps begin, prepare and publish, which are then no-ops.  A driver's stage handle
 * starts with struct mr_wh_stage, so the front can find the driver. */
typedef struct mr_wh__driver {
    const char *name;
    int (*stage_open)(const mr_wh_config *cfg, const char *staging_table, const mr_schema *schema,
                      mr_wh_stage **out, mr_err *err);
    int (*stage_append)(mr_wh_stage *s, const mr_batch *b, mr_err *err);
    int (*stage_finish)(mr_wh_stage *s, mr_err *err);
    void (*stage_abort)(mr_wh_stage *s);
    int (*commit)(const mr_wh_config *cfg, mr_wh_target *targets, int ntargets,
                  const char *const *post_sql, int npost, mr_err *err);
    int (*drop_staging)(const mr_wh_config *cfg, const char *prefix, mr_err *err);
    /* Drops the staging tables the targets name, ignoring failures (used by
     * the front when it refuses a commit's arguments). */
    void (*drop_named)(const mr_wh_config *cfg, const mr_wh_target *targets, int ntargets);
    /* The commit's own table checks, in a transaction that is rolled back. */
    int (*check)(const mr_wh_config *cfg, const mr_wh_target *targets, int ntargets, mr_err *err);
    /* Staging leases and the sweep (see above). */
    int (*lease_take)(const mr_wh_config *cfg, const char *job_id, const mr_wh_owner *me,
                      mr_err *err);
    int (*lease_renew)(const mr_wh_config *cfg, const char *ids_csv, const mr_wh_owner *me,
                       mr_err *err);
    int (*lease_release)(const mr_wh_config *cfg, const char *job_id, mr_err *err);
    int (*sweep)(const mr_wh_config *cfg, const mr_wh_owner *me, int64_t expire_ms, int *swept,
                 mr_err *err);
    /* The output steps around the commit; NULL: nothing to do. */
    int (*begin)(const mr_wh_config *cfg, const mr_wh_target *target, mr_err *err);
    int (*prepare)(const mr_wh_config *cfg, mr_wh_target *targets, int ntargets, mr_err *err);
    int (*publish)(const mr_wh_config *cfg, mr_wh_target *targets, int ntargets, mr_err *err);
} mr_wh__driver;

struct mr_wh_stage {
    const mr_wh__driver *driver;
};

extern const mr_wh__driver mr_wh__sqlite;
extern const mr_wh__driver mr_wh__postgres;
extern const mr_wh__driver mr_wh__files;

#endif
