/* postgres.c - the PostgreSQL warehouse driver: connections, the
 * one-transaction commit with its DDL, and staging leases.  The COPY
 * staging half is pg_copy.c; pg_int.h declares what the two share.
 *
 * Commit.  One connection, one transaction (READ COMMITTED).  First every
 * target is prepared: a transaction-scoped advisory lock on its name (two
 * jobs committing the same table queue instead of racing on CREATE TABLE),
 * its schema created if missing, the table created from the write's schema
 * or an existing one checked (column names exactly, types compatible), and
 * every staging table's recorded row count read.  Only then does data move:
 * overwrite is DELETE FROM (not TRUNCATE, which takes an ACCESS EXCLUSIVE
 * lock and is not MVCC-safe: a concurrent reader with an older snapshot
 * would see an empty table), upsert is DELETE ... USING each staging table
 * on the key, both before any INSERT ... SELECT.  Then post_sql, one
 * statement per entry through the extended protocol (which refuses several
 * statements in one string), with transaction control refused because it
 * would end the job's transaction early; COMMIT.  Any error: ROLLBACK.
 * Afterwards, whatever the outcome, the named staging tables are dropped.
 *
 * Every statement is written to be Redshift-compatible where Redshift has
 * the feature (quoted identifiers, NUMERIC(p,s), DELETE USING, no ON
 * CONFLICT); docs/warehouse.md says what differs.
 *
 * Passwords.  Errors never contain the DSN: connection failures name host,
 * port, database and user, and any occurrence of the password in libpq's
 * message is replaced by "***".
 */
#include "warehouse/warehouse.h"

#include "core/strbuf.h"
#include "warehouse/pg_int.h"
#include "warehouse/sql.h"

#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


/* PostgreSQL type OIDs (pg_type.dat; fixed since forever). */
enum {
    OID_BOOL = 16, OID_INT8 = 20, OID_INT4 = 23, OID_TEXT = 25, OID_FLOAT8 = 701,
    OID_VARCHAR = 1043, OID_DATE = 1082, OID_TIMESTAMP = 1114, OID_NUMERIC = 1700,
};

/* SQL text and COPY data are built in mr_strbufs (warehouse/sql.h). */

/* A dedupe order compares strings by their bytes, as SQLite does, so both
 * drivers pick the same winner whatever the database's collation. */
#define TEXT_ORDER " COLLATE \"C\""

/* Appends s as a quoted string literal ('...' with '\'' doubled; the
 * server runs with standard_conforming_strings, the default since 9.1). */
void pg__buf_literal(mr_strbuf *b, const char *s)
{
    mr_strbuf_quoted(b, s, '\'');
}

/* ---- connections and messages ---------------------------------------------- */

static void notice_quiet(void *arg, const char *msg)
{
    (void)arg, (void)msg; /* "table does not exist, skipping" and the like */
}

/* Copies src into dst (cap bytes) with every occurrence of secret replaced
 * by "***" and trailing blanks removed. */
static void scrub(const char *src, const char *secret, char *dst, size_t cap)
{
    size_t n = 0, sl = secret ? strlen(secret) : 0;
    while (*src && n + 4 < cap) {
        if (sl && strncmp(src, secret, sl) == 0) {
            memcpy(dst + n, "***", 3);
            n += 3;
            src += sl;
        } else {
            dst[n++] = *src++;
        }
    }
    while (n > 0 && (dst[n - 1] == '\n' || dst[n - 1] == ' ' || dst[n - 1] == '\r'))
        n--;
    dst[n] = '\0';
}

/* PostgreSQL's message for a failed result (primary message, detail and
 * context), or the connection's message when there is no result. */
static const char *pg_message(PGconn *c, const PGresult *r, char *out, size_t cap)
{
    const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!primary) {
        scrub(c ? PQerrorMessage(c) : "out of memory", NULL, out, cap);
        if (!*out)
            snprintf(out, cap, "unknown error");
        return out;
    }
    const char *detail = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL);
    const char *context = PQresultErrorField(r, PG_DIAG_CONTEXT);
    snprintf(out, cap, "%s%s%s%s", primary, detail ? " (" : "", detail ? detail : "",
             detail ? ")" : "");
    if (context) {
        size_t n = strlen(out);
        snprintf(out + n, cap - n, " [%s]", context);
    }
    return out;
}

/* Sets err to MR_EWAREHOUSE: the formatted context, then PostgreSQL's message. */
int pg__fail(PGconn *c, const PGresult *r, mr_err *err, const char *fmt, ...)
{
    char ctx[512], msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    return mr_err_set(err, MR_EWAREHOUSE, "%s: %s", ctx, pg_message(c, r, msg, sizeof msg));
}

/* Connects to cfg->dsn (client encoding UTF-8, notices silenced).  On
 * failure the message names host, port, database and user, never the
 * password.  Returns 0, MR_EINVAL (unparsable dsn), MR_ENOMEM or
 * MR_EWAREHOUSE. */
int pg__connect(const mr_wh_config *cfg, PGconn **out, mr_err *err)
{
    *out = NULL;
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(cfg->dsn, &perr);
    if (!opts) {
        /* libpq's parse message may quote a piece of the dsn: only the
         * "invalid option" form is known to quote a keyword, not a value */
        int show = perr && strncmp(perr, "invalid connection option", 25) == 0;
        char m[256];
        scrub(show ? perr : "", NULL, m, sizeof m);
        PQfreemem(perr);
        return mr_err_set(err, MR_EINVAL,
                          "warehouse: the postgres dsn is not a valid libpq connection string "
                          "(key=value pairs or a postgresql:// URI)%s%s",
                          *m ? ": " : "", m);
    }
    char where[384] = "", password[256] = "";
    size_t wn = 0;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val || !*o->val)
            continue;
        if (strcmp(o->keyword, "password") == 0)
            snprintf(password, sizeof password, "%s", o->val);
        else if (wn < sizeof where &&
                 (!strcmp(o->keyword, "host") || !strcmp(o->keyword, "hostaddr") ||
                  !strcmp(o->keyword, "port") || !strcmp(o->keyword, "dbname") ||
                  !strcmp(o->keyword, "user")))
            wn += (size_t)snprintf(where + wn, sizeof where - wn, "%s%s=%s", wn ? " " : "",
                                   o->keyword, o->val);
    }
    PQconninfoFree(opts);
    const char *kw[] = {"dbname", "client_encoding", "fallback_application_name", NULL};
    const char *val[] = {cfg->dsn, "UTF8", "millrace", NULL};
    PGconn *c = PQconnectdbParams(kw, val, 1);
    if (!c)
        return mr_err_set(err, MR_ENOMEM, "out of memory connecting to the PostgreSQL warehouse");
    if (PQstatus(c) != CONNECTION_OK) {
        char m[768];
        scrub(PQerrorMessage(c), password, m, sizeof m);
        PQfinish(c);
        return mr_err_set(err, MR_EWAREHOUSE, "cannot connect to the PostgreSQL warehouse (%s): %s",
                          *where ? where : "libpq defaults", m);
    }
    PQsetNoticeProcessor(c, notice_quiet, NULL);
    *out = c;
    return 0;
}

/* Runs sql (no parameters, possibly several statements); 0 or MR_EWAREHOUSE
 * with "<what>: <PostgreSQL's message>". */
int pg__exec(PGconn *c, const char *sql, mr_err *err, const char *what)
{
    PGresult *r = PQexec(c, sql);
    int st = PQresultStatus(r);
    int rc = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        rc = pg__fail(c, r, err, "%s", what);
    PQclear(r);
    return rc;
}

/* Same as pg__exec for SQL built in b: MR_ENOMEM if building ran out. */
int pg__exec_buf(PGconn *c, const mr_strbuf *b, mr_err *err, const char *what)
{
    if (b->oom)
        return mr_err_set(err, MR_ENOMEM, "out of memory building SQL (%s)", what);
    return pg__exec(c, b->p, err, what);
}

/* Runs sql with text parameters; returns the result (caller PQclears) when
 * its status is ok, else NULL with err set. */
static PGresult *pg_query(PGconn *c, const char *sql, int n, const char *const *params,
                          mr_err *err, const char *what)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    int st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return r;
    pg__fail(c, r, err, "%s", what);
    PQclear(r);
    return NULL;
}

int pg__check_ident(const char *name, const char *what, mr_err *err)
{
    if (!*name)
        return mr_err_set(err, MR_EINVAL, "warehouse: %s has an empty name", what);
    if (strlen(name) > IDENT_MAX)
        return mr_err_set(err, MR_EINVAL,
                          "warehouse: %s name '%s' is longer than PostgreSQL's %d bytes", what, name,
                          IDENT_MAX);
    return 0;
}

/* Creates schema name unless it exists.  CREATE SCHEMA IF NOT EXISTS alone
 * races (two sessions may both insert the catalog row and one fails), so a
 * transaction-scoped advisory lock on the name serializes creators; c must
 * be inside a transaction, which keeps the lock until it ends. */
int pg__ensure_schema(PGconn *c, const char *name, mr_err *err)
{
    const char *p[1] = {name};
    PGresult *r = pg_query(c, "SELECT 1 FROM pg_namespace WHERE nspname = $1", 1, p, err,
                           "cannot look up a schema");
    if (!r)
        return err->code;
    int have = PQntuples(r) > 0;
    PQclear(r);
    if (have)
        return 0;
    r = pg_query(c, "SELECT pg_advisory_xact_lock(hashtext('millrace schema ' || $1))", 1, p, err,
                 "cannot lock schema creation");
    if (!r)
        return err->code;
    PQclear(r);
    mr_strbuf q = {0};
    mr_strbuf_puts(&q, "CREATE SCHEMA IF NOT EXISTS ");
    mr_wh__ident(&q, name);
    char what[160];
    snprintf(what, sizeof what, "cannot create schema %s", name);
    int rc = pg__exec_buf(c, &q, err, what);
    mr_strbuf_free(&q);
    return rc;
}

/* ---- column types -------------------------------------------------------- */




/* Whether an existing column of type oid/typmod can take values of t
 * without loss: the same type, or a wider one. */
static int type_fits(mr_type t, unsigned oid, int typmod)
{
    int prec = -1, scale = 0; /* numeric: -1 = unconstrained */
    if (oid == OID_NUMERIC && typmod >= 4) {
        prec = ((typmod - 4) >> 16) & 0xffff;
        scale = (((typmod - 4) & 0x7ff) ^ 1024) - 1024; /* 11-bit signed since PG 15 */
    }
    switch (t.id) {
    case MR_T_BOOL: return oid == OID_BOOL;
    case MR_T_INT32:
        return oid == OID_INT4 || oid == OID_INT8 ||
               (oid == OID_NUMERIC && (prec < 0 || prec - scale >= 10));
    case MR_T_INT64:
        return oid == OID_INT8 || (oid == OID_NUMERIC && (prec < 0 || prec - scale >= 19));
    case MR_T_FLOAT64: return oid == OID_FLOAT8;
    case MR_T_DECIMAL:
        return oid == OID_NUMERIC &&
               (prec < 0 || (scale >= t.scale && prec - scale >= t.precision - t.scale));
    case MR_T_STRING: return oid == OID_TEXT || oid == OID_VARCHAR;
    case MR_T_DATE: return oid == OID_DATE;
    case MR_T_TIMESTAMP: return oid == OID_TIMESTAMP;
    default: return 0;
    }
}

/* ---- commit -------------------------------------------------------------- */

/* A target's name split at its first dot; schema is NULL when unqualified
 * and there is no default schema (the server's search_path decides). */
typedef struct qname {
    const char *schema;
    char schema_buf[IDENT_MAX + 1];
    char table[IDENT_MAX + 1];
} qname;

static int qname_parse(const mr_wh_config *cfg, const char *full, qname *q, mr_err *err)
{
    const char *dot = strchr(full, '.');
    const char *t = dot ? dot + 1 : full;
    size_t sl = dot ? (size_t)(dot - full) : 0;
    if (!*t || (dot && sl == 0))
        return mr_err_set(err, MR_EINVAL, "warehouse commit: table '%s': write [schema.]table", full);
    if (strlen(t) > IDENT_MAX || sl > IDENT_MAX)
        return mr_err_set(err, MR_EINVAL,
                          "warehouse commit: table '%s': a name is longer than PostgreSQL's %d bytes",
                          full, IDENT_MAX);
    strcpy(q->table, t);
    q->schema = NULL;
    if (dot) {
        memcpy(q->schema_buf, full, sl);
        q->schema_buf[sl] = '\0';
        q->schema = q->schema_buf;
    } else if (cfg->schema && *cfg->schema) {
        if (strlen(cfg->schema) > IDENT_MAX)
            return mr_err_set(err, MR_EINVAL, "warehouse: schema name '%s' is longer than %d bytes",
                              cfg->schema, IDENT_MAX);
        strcpy(q->schema_buf, cfg->schema);
        q->schema = q->schema_buf;
    }
    return 0;
}

static void buf_qname(mr_strbuf *b, const qname *q)
{
    if (q->schema) {
        mr_wh__ident(b, q->schema);
        mr_strbuf_puts(b, ".");
    }
    mr_wh__ident(b, q->table);
}

static void buf_staging(mr_strbuf *b, const char *name)
{
    mr_strbuf_puts(b, STAGING_SCHEMA ".");
    mr_wh__ident(b, name);
}

/* The table's on_schema_change word: fail (also NULL), add_columns, recreate. */
static int schema_change_is(const mr_wh_target *t, const char *word)
{
    return strcmp(t->on_schema_change ? t->on_schema_change : "fail", word) == 0;
}

/* Runs CREATE TABLE from the write's schema (after DROP TABLE when drop). */
static int create_table(PGconn *c, const mr_wh_target *t, const qname *qn, int drop, mr_err *err)
{
    mr_strbuf q = {0};
    if (drop) {
        mr_strbuf_puts(&q, "DROP TABLE ");
        buf_qname(&q, qn);
        mr_strbuf_puts(&q, "; ");
    }
    mr_strbuf_puts(&q, "CREATE TABLE ");
    buf_qname(&q, qn);
    mr_wh__columns_ddl(&q, t->schema);
    char what[160];
    snprintf(what, sizeof what, "warehouse commit: cannot %s table %s",
             drop ? "recreate" : "create", t->table);
    int rc = pg__exec_buf(c, &q, err, what);
    mr_strbuf_free(&q);
    return rc;
}

/* ALTER TABLE ... ADD COLUMN the write's column f (add_columns). */
static int add_column(PGconn *c, const mr_wh_target *t, const qname *qn, int f, mr_err *err)
{
    char tmp[32], what[200];
    mr_strbuf q = {0};
    mr_strbuf_puts(&q, "ALTER TABLE ");
    buf_qname(&q, qn);
    mr_strbuf_puts(&q, " ADD COLUMN ");
    mr_wh__ident(&q, t->schema->fields[f].name);
    mr_strbuf_puts(&q, " ");
    mr_strbuf_puts(&q, mr_wh__col_decl(t->schema->fields[f].type, tmp, sizeof tmp));
    snprintf(what, sizeof what, "warehouse commit: table %s: cannot add column \"%s\"", t->table,
             t->schema->fields[f].name);
    int rc = pg__exec_buf(c, &q, err, what);
    mr_strbuf_free(&q);
    return rc;
}

/* Creates the target table from t->schema, or makes the existing one take
 * the write (warehouse.h, "Schema changes"): it must be a table with every
 * written column (PostgreSQL names are case-sensitive once quoted) of a
 * type that fits (type_fits); its columns the write lacks need a default
 * (or identity, or generated).  Otherwise on_schema_change decides.  dry
 * (the check before a job runs) changes no existing table, so it takes no
 * lock a DROP or ALTER would: what they would do is taken as done. */
static int ensure_table(PGconn *c, const mr_wh_target *t, const qname *qn, int dry, mr_err *err)
{
    mr_strbuf q = {0}, have = {0}, bare = {0};
    int *rowof = NULL;
    buf_qname(&q, qn);
    if (q.oom)
        return mr_err_oom(err, NULL);
    const char *p[1] = {q.p};
    PGresult *r = pg_query(c,
                           "SELECT c.relkind, a.attname, a.atttypid, a.atttypmod, "
                           "format_type(a.atttypid, a.atttypmod), a.atthasdef OR a.attidentity <> '' "
                           "OR a.attgenerated <> '' FROM pg_class c "
                           "LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 "
                           "AND NOT a.attisdropped WHERE c.oid = to_regclass($1) ORDER BY a.attnum",
                           1, p, err, "warehouse commit: cannot read the target's columns");
    int rc = 0;
    if (!r) {
        mr_err_prefix(err, "table %s", t->table);
        rc = err && err->code ? err->code : MR_EWAREHOUSE;
        goto out;
    }
    const mr_schema *s = t->schema;
    int n = PQntuples(r);
    if (n == 0) {
        rc = create_table(c, t, qn, 0, err);
        goto out;
    }
    const char *kind = PQgetvalue(r, 0, 0);
    if (strcmp(kind, "r") != 0 && strcmp(kind, "p") != 0) {
        rc = mr_err_set(err, MR_EWAREHOUSE, "warehouse commit: %s exists and is not a table (relkind %s)",
                        t->table, kind);
        goto out;
    }
    int ncols = PQgetisnull(r, 0, 1) ? 0 : n, nbare = 0, missing = -1, badtype = -1;
    if (!(rowof = calloc((size_t)s->nfields + 1, sizeof *rowof))) {
        rc = mr_err_oom(err, NULL);
        goto out;
    }
    for (int i = 0; i < ncols; i++) {
        if (i)
            mr_strbuf_puts(&have, ", ");
        mr_strbuf_puts(&have, PQgetvalue(r, i, 1));
        mr_strbuf_puts(&have, " ");
        mr_strbuf_puts(&have, PQgetvalue(r, i, 4));
        int written = 0;
        for (int f = 0; f < s->nfields && !written; f++)
            written = strcmp(PQgetvalue(r, i, 1), s->fields[f].name) == 0;
        if (!written && PQgetvalue(r, i, 5)[0] != 't') {
            mr_strbuf_puts(&bare, nbare++ ? ", " : "");
            mr_strbuf_puts(&bare, PQgetvalue(r, i, 1));
        }
    }
    for (int f = 0; f < s->nfields; f++) {
        rowof[f] = -1;
        for (int i = 0; i < ncols && rowof[f] < 0; i++)
            if (strcmp(PQgetvalue(r, i, 1), s->fields[f].name) == 0)
                rowof[f] = i;
        if (rowof[f] < 0 && missing < 0)
            missing = f;
        else if (rowof[f] >= 0 && badtype < 0 &&
                 !type_fits(s->fields[f].type, (unsigned)strtoul(PQgetvalue(r, rowof[f], 2), NULL, 10),
                            atoi(PQgetvalue(r, rowof[f], 3))))
            badtype = f;
    }
    if (missing < 0 && badtype < 0 && nbare == 0)
        goto out; /* fits: columns the write lacks have defaults */
    if (schema_change_is(t, "recreate")) {
        rc = dry ? 0 : create_table(c, t, qn, 1, err);
        goto out;
    }
    char tn[32];
    if (badtype >= 0) { /* add_columns never changes a type */
        rc = mr_err_set(err, MR_EWAREHOUSE,
                        "warehouse commit: table %s: column \"%s\" is %s, which cannot hold the "
                        "write's %s",
                        t->table, s->fields[badtype].name, PQgetvalue(r, rowof[badtype], 4),
                        mr_type_name(s->fields[badtype].type, tn, sizeof tn));
        goto out;
    }
    if (schema_change_is(t, "add_columns")) {
        for (int f = 0; f < s->nfields && rc == 0 && !dry; f++)
            if (rowof[f] < 0)
                rc = add_column(c, t, qn, f, err);
        goto out; /* columns the write lacks take their default or NULL */
    }
    if (missing >= 0)
        rc = mr_err_set(err, MR_EWAREHOUSE,
                        "warehouse commit: table %s exists without column \"%s\" (names are "
                        "case-sensitive): it has (%s); on_schema_change: add_columns adds what is "
                        "missing",
                        t->table, s->fields[missing].name, have.p ? have.p : "");
    else
        rc = mr_err_set(err, MR_EWAREHOUSE,
                        "warehouse commit: table %s exists and has %d columns (%s) but the write has "
                        "%d, and %s %s no default; give %s a default, or on_schema_change: "
                        "add_columns leaves %s NULL",
                        t->table, ncols, have.p ? have.p : "", s->nfields, bare.p ? bare.p : "",
                        nbare == 1 ? "has" : "have", nbare == 1 ? "it" : "them",
                        nbare == 1 ? "it" : "them");
out:
    PQclear(r);
    free(rowof);
    mr_strbuf_free(&q);
    mr_strbuf_free(&have);
    mr_strbuf_free(&bare);
    return rc;
}

/* Reads the row count a finished stage recorded; MR_EWAREHOUSE when the
 * staging table is missing or was never finished. */
static int staged_rows(PGconn *c, const char *table, unsigned long long *rows, mr_err *err)
{
    mr_strbuf q = {0};
    buf_staging(&q, table);
    if (q.oom)
        return mr_err_oom(err, NULL);
    const char *p[1] = {q.p};
    PGresult *r = pg_query(c, "SELECT to_regclass($1) IS NOT NULL, obj_description(to_regclass($1), 'pg_class')",
                           1, p, err, "warehouse commit: cannot read a staging table's row count");
    mr_strbuf_free(&q);
    if (!r)
        return err->code;
    int rc = 0;
    if (strcmp(PQgetvalue(r, 0, 0), "t") != 0)
        rc = mr_err_set(err, MR_EWAREHOUSE, "warehouse commit: staging table %s is missing", table);
    else if (PQgetisnull(r, 0, 1) || sscanf(PQgetvalue(r, 0, 1), "millrace rows=%llu", rows) != 1)
        rc = mr_err_set(err, MR_EWAREHOUSE,
                        "warehouse commit: staging table %s was never finished by its task", table);
    PQclear(r);
    return rc;
}

/* Locks, creates or checks one target, and reads its staging row counts
 * into counts[0..nstaging). */
static int prepare_target(PGconn *c, const mr_wh_config *cfg, const mr_wh_target *t, qname *qn,
                          unsigned long long *counts, mr_err *err)
{
    if (t->bookmarks)
        return mr_wh__bookmarks_apply_pg(c, cfg, t->bookmarks, err);
    int rc = qname_parse(cfg, t->table, qn, err);
    for (int i = 0; i < t->schema->nfields && rc == 0; i++)
        rc = pg__check_ident(t->schema->fields[i].name, "column", err);
    for (int i = 0; i < t->nstaging && rc == 0; i++)
        rc = pg__check_ident(t->staging_tables[i], "staging table", err);
    if (rc < 0)
        return rc;
    mr_strbuf q = {0};
    buf_qname(&q, qn);
    const char *p[1] = {q.p};
    PGresult *r = q.oom ? NULL
                        : pg_query(c, "SELECT pg_advisory_xact_lock(hashtext('millrace table ' || $1))",
                                   1, p, err, "warehouse commit: cannot lock the target");
    mr_strbuf_free(&q);
    if (!r)
        return err->code ? err->code : mr_err_oom(err, NULL);
    PQclear(r);
    if (qn->schema && (rc = pg__ensure_schema(c, qn->schema, err)) < 0)
        return rc;
    if ((rc = ensure_table(c, t, qn, 0, err)) < 0)
        return rc;
    for (int i = 0; i < t->nstaging && rc == 0; i++)
        rc = staged_rows(c, t->staging_tables[i], &counts[i], err);
    return rc;
}

/* Upsert takes one row per key: fails (before the table is touched) when a
 * staged key is NULL or staged more than once, across all tasks. */
static int check_upsert_keys(PGconn *c, const mr_wh_target *t, mr_err *err)
{
    if (t->nstaging == 0)
        return 0;
    char what[160];
    snprintf(what, sizeof what, "warehouse commit: table %s: checking the upsert keys", t->table);
    mr_strbuf q = {0};
    PGresult *r = NULL;
    int rc = 0;
    mr_wh__upsert_null_sql(&q, t, STAGING_SCHEMA);
    if (q.oom) {
        rc = mr_err_set(err, MR_ENOMEM, "out of memory (%s)", what);
        goto out;
    }
    if (!(r = pg_query(c, q.p, 0, NULL, err, what))) {
        rc = err && err->code ? err->code : MR_EWAREHOUSE;
        goto out;
    }
    long long nnull = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    r = NULL;
    if (nnull > 0) {
        rc = mr_wh__upsert_null_error(err, t, nnull);
        goto out;
    }
    q.n = 0;
    /* with dedupe a key may be staged often; only a tie for first fails */
    if (t->ndedupe > 0)
        mr_wh__merge_tie_sql(&q, t, STAGING_SCHEMA, TEXT_ORDER);
    else
        mr_wh__upsert_dup_sql(&q, t, STAGING_SCHEMA);
    if (q.oom) {
        rc = mr_err_set(err, MR_ENOMEM, "out of memory (%s)", what);
        goto out;
    }
    if (!(r = pg_query(c, q.p, 0, NULL, err, what))) {
        rc = err && err->code ? err->code : MR_EWAREHOUSE;
        goto out;
    }
    if (PQntuples(r) > 0) {
        const char **vals = calloc((size_t)t->nkey, sizeof *vals);
        if (!vals) {
            rc = mr_err_set(err, MR_ENOMEM, "out of memory (%s)", what);
            goto out;
        }
        for (int k = 0; k < t->nkey; k++)
            vals[k] = PQgetvalue(r, 0, k);
        rc = (t->ndedupe > 0 ? mr_wh__merge_tie_error : mr_wh__upsert_dup_error)(
            err, t, vals, strtoll(PQgetvalue(r, 0, t->nkey), NULL, 10),
            strtoll(PQgetvalue(r, 0, t->nkey + 1), NULL, 10));
        free(vals);
    }
out:
    PQclear(r);
    mr_strbuf_free(&q);
    return rc;
}

/* Whether every staging table still holds the rows its task recorded
 * (the MERGE's INSERT counts winners, not staged rows). */
static int check_staged_counts(PGconn *c, const mr_wh_target *t, const unsigned long long *counts,
                               mr_err *err)
{
    mr_strbuf q = {0};
    int rc = 0;
    for (int i = 0; i < t->nstaging && rc == 0; i++) {
        q.n = 0;
        mr_strbuf_puts(&q, "SELECT count(*) FROM ");
        buf_staging(&q, t->staging_tables[i]);
        if (q.oom) {
            rc = mr_err_oom(err, NULL);
            break;
        }
        PGresult *r = pg_query(c, q.p, 0, NULL, err, "warehouse commit: counting staged rows");
        if (!r) {
            rc = err->code ? err->code : MR_EWAREHOUSE;
            break;
        }
        unsigned long long n = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
        if (n != counts[i])
            rc = mr_err_set(err, MR_EWAREHOUSE,
                            "warehouse commit: table %s: staging table %s holds %llu rows but its "
                            "task staged %llu (the PostgreSQL server restarted since? staging "
                            "tables are UNLOGGED and emptied by a crash); run the job again",
                            t->table, t->staging_tables[i], n, counts[i]);
    }
    mr_strbuf_free(&q);
    return rc;
}

/* Upsert as MERGE (dedupe, delete_where; warehouse.h): the keys checked,
 * then one DELETE ... USING the distinct staged keys and one INSERT of the
 * winners that are not deletions, over every task's staged rows at once. */
static int merge_target(PGconn *c, mr_wh_target *t, const qname *qn,
                        const unsigned long long *counts, mr_err *err)
{
    int rc = check_upsert_keys(c, t, err);
    if (rc == 0)
        rc = check_staged_counts(c, t, counts, err);
    if (rc < 0 || t->nstaging == 0)
        return rc;
    char what[160];
    snprintf(what, sizeof what, "warehouse commit: table %s", t->table);
    mr_strbuf q = {0};
    mr_strbuf_puts(&q, "DELETE FROM ");
    buf_qname(&q, qn);
    mr_strbuf_puts(&q, " AS mr_t USING (");
    mr_wh__merge_keys_sql(&q, t, STAGING_SCHEMA);
    mr_strbuf_puts(&q, ") AS mr_s WHERE ");
    for (int k = 0; k < t->nkey; k++) {
        mr_strbuf_puts(&q, k ? " AND mr_t." : "mr_t.");
        mr_wh__ident(&q, t->key[k]);
        mr_strbuf_puts(&q, " = mr_s.");
        mr_wh__ident(&q, t->key[k]);
    }
    if ((rc = pg__exec_buf(c, &q, err, what)) < 0)
        goto out;
    q.n = 0;
    mr_strbuf_puts(&q, "INSERT INTO ");
    buf_qname(&q, qn);
    mr_strbuf_puts(&q, " (");
    mr_wh__field_list(&q, t->schema, NULL);
    mr_strbuf_puts(&q, ") ");
    mr_wh__merge_rows_sql(&q, t, STAGING_SCHEMA, TEXT_ORDER);
    if (q.oom) {
        rc = mr_err_oom(err, NULL);
        goto out;
    }
    PGresult *r = PQexec(c, q.p);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = pg__fail(c, r, err, "%s", what);
    else
        t->rows += strtoull(PQcmdTuples(r), NULL, 10);
    PQclear(r);
out:
    mr_strbuf_free(&q);
    return rc;
}

/* Moves one target's staged rows (the table is ready). */
static int move_target(PGconn *c, mr_wh_target *t, const qname *qn, const unsigned long long *counts,
                       mr_err *err)
{
    if (t->bookmarks) /* moved by prepare_target */
        return 0;
    const char *mode = t->mode ? t->mode : "append";
    char what[160];
    snprintf(what, sizeof what, "warehouse commit: table %s", t->table);
    mr_strbuf q = {0};
    int rc = 0;
    if (strcmp(mode, "overwrite") == 0) {
        mr_strbuf_puts(&q, "DELETE FROM ");
        buf_qname(&q, qn);
        if ((rc = pg__exec_buf(c, &q, err, what)) < 0)
            goto out;
    } else if (strcmp(mode, "upsert") == 0 && mr_wh__is_merge(t)) {
        rc = merge_target(c, t, qn, counts, err);
        goto out;
    } else if (strcmp(mode, "upsert") == 0) {
        if ((rc = check_upsert_keys(c, t, err)) < 0)
            goto out;
        /* every delete before any insert */
        for (int i = 0; i < t->nstaging; i++) {
            q.n = 0;
            mr_strbuf_puts(&q, "DELETE FROM ");
            buf_qname(&q, qn);
            mr_strbuf_puts(&q, " AS mr_t USING ");
            buf_staging(&q, t->staging_tables[i]);
            mr_strbuf_puts(&q, " AS mr_s WHERE ");
            for (int k = 0; k < t->nkey; k++) {
                mr_strbuf_puts(&q, k ? " AND mr_t." : "mr_t.");
                mr_wh__ident(&q, t->key[k]);
                mr_strbuf_puts(&q, " = mr_s.");
                mr_wh__ident(&q, t->key[k]);
            }
            if ((rc = pg__exec_buf(c, &q, err, what)) < 0)
                goto out;
        }
    }
    for (int i = 0; i < t->nstaging; i++) {
        q.n = 0;
        mr_strbuf_puts(&q, "INSERT INTO ");
        buf_qname(&q, qn);
        mr_strbuf_puts(&q, " (");
        mr_wh__field_list(&q, t->schema, NULL);
        mr_strbuf_puts(&q, ") SELECT ");
        mr_wh__field_list(&q, t->schema, NULL);
        mr_strbuf_puts(&q, " FROM ");
        buf_staging(&q, t->staging_tables[i]);
        if (q.oom) {
            rc = mr_err_oom(err, NULL);
            goto out;
        }
        PGresult *r = PQexec(c, q.p);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            rc = pg__fail(c, r, err, "%s", what);
            PQclear(r);
            goto out;
        }
        unsigned long long n = strtoull(PQcmdTuples(r), NULL, 10);
        PQclear(r);
        if (n != counts[i]) {
            rc = mr_err_set(err, MR_EWAREHOUSE,
                            "warehouse commit: table %s: staging table %s holds %llu rows but its task "
                            "staged %llu (the PostgreSQL server restarted since? staging tables are "
                            "UNLOGGED and emptied by a crash); run the job again",
                            t->table, t->staging_tables[i], n, counts[i]);
            goto out;
        }
        t->rows += n;
    }
out:
    mr_strbuf_free(&q);
    return rc;
}

/* Whether sql starts (after blanks and comments) with a transaction control
 * keyword: such a statement would end the job's transaction early. */
static int is_txn_control(const char *sql)
{
    const char *p = sql;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '(')
            p++;
        if (p[0] == '-' && p[1] == '-') {
            while (*p && *p != '\n')
                p++;
        } else if (p[0] == '/' && p[1] == '*') {
            int depth = 0; /* PostgreSQL's block comments nest */
            do {
                if (p[0] == '/' && p[1] == '*')
                    depth++, p += 2;
                else if (p[0] == '*' && p[1] == '/')
                    depth--, p += 2;
                else
                    p++;
            } while (*p && depth > 0);
        } else {
            break;
        }
    }
    static const char *const words[] = {"BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT",
                                        "SAVEPOINT", "RELEASE", NULL};
    size_t n = 0;
    while ((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z') || p[n] == '_')
        n++;
    for (int i = 0; words[i]; i++)
        if (strlen(words[i]) == n && strncasecmp(p, words[i], n) == 0)
            return 1;
    if (n == 7 && strncasecmp(p, "PREPARE", 7) == 0) {
        const char *w = p + 7;
        while (*w == ' ' || *w == '\t' || *w == '\n' || *w == '\r')
            w++;
        return strncasecmp(w, "TRANSACTION", 11) == 0;
    }
    return 0;
}

static int run_post_sql(PGconn *c, const char *const *post_sql, int npost, mr_err *err)
{
    for (int i = 0; i < npost; i++) {
        if (is_txn_control(post_sql[i]))
            return mr_err_set(err, MR_EWAREHOUSE,
                              "post_sql statement %d: BEGIN, COMMIT, ROLLBACK, SAVEPOINT and the like "
                              "are not allowed (post_sql runs inside the job's commit)",
                              i + 1);
        /* extended protocol: exactly one statement per entry */
        PGresult *r = PQexecParams(c, post_sql[i], 0, NULL, NULL, NULL, NULL, 0);
        int st = PQresultStatus(r);
        int bad = st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK;
        if (bad) {
            char m[768];
            mr_err_set(err, MR_EWAREHOUSE, "post_sql statement %d: %s", i + 1,
                       pg_message(c, r, m, sizeof m));
        }
        PQclear(r);
        if (bad)
            return err->code;
        if (PQtransactionStatus(c) != PQTRANS_INTRANS)
            return mr_err_set(err, MR_EWAREHOUSE,
                              "post_sql statement %d ended the job's transaction", i + 1);
    }
    return 0;
}

/* Drops the named staging tables, one statement each so that one failure
 * does not keep the others; failures are ignored (prefix cleanup catches
 * leftovers). */
static void drop_tables(PGconn *c, const mr_wh_target *targets, int ntargets)
{
    mr_strbuf q = {0};
    for (int i = 0; i < ntargets; i++)
        for (int k = 0; k < targets[i].nstaging; k++) {
            if (!targets[i].staging_tables[k] || strlen(targets[i].staging_tables[k]) > IDENT_MAX)
                continue;
            q.n = 0;
            mr_strbuf_puts(&q, "DROP TABLE IF EXISTS ");
            buf_staging(&q, targets[i].staging_tables[k]);
            if (!q.oom)
                PQclear(PQexec(c, q.p));
        }
    mr_strbuf_free(&q);
}

static void pg_drop_named(const mr_wh_config *cfg, const mr_wh_target *targets, int ntargets)
{
    PGconn *c;
    if (pg__connect(cfg, &c, NULL) == 0) {
        drop_tables(c, targets, ntargets);
        PQfinish(c);
    }
}

static int pg_commit(const mr_wh_config *cfg, mr_wh_target *targets, int ntargets,
                     const char *const *post_sql, int npost, mr_err *err)
{
    PGconn *c = NULL;
    qname *qn = calloc((size_t)ntargets + 1, sizeof *qn);
    unsigned long long **counts = calloc((size_t)ntargets + 1, sizeof *counts);
    int rc = 0;
    if (!qn || !counts) {
        rc = mr_err_set(err, MR_ENOMEM, "out of memory committing");
        goto out;
    }
    for (int i = 0; i < ntargets; i++)
        if (!(counts[i] = calloc((size_t)targets[i].nstaging + 1, sizeof **counts))) {
            rc = mr_err_set(err, MR_ENOMEM, "out of memory committing");
            goto out;
        }
    if ((rc = pg__connect(cfg, &c, err)) < 0) {
        if (rc == MR_EWAREHOUSE) /* unreachable: nothing happened, a retry may succeed */
            rc = err->code = MR_EIO;
        goto out;
    }
    if ((rc = pg__exec(c, "BEGIN", err, "warehouse commit: cannot begin the transaction")) < 0)
        goto out;
    for (int i = 0; i < ntargets; i++)
        if ((rc = prepare_target(c, cfg, &targets[i], &qn[i], counts[i], err)) < 0)
            goto out;
    for (int i = 0; i < ntargets; i++)
        if ((rc = move_target(c, &targets[i], &qn[i], counts[i], err)) < 0)
            goto out;
    if ((rc = run_post_sql(c, post_sql, npost, err)) < 0)
        goto out;
    rc = pg__exec(c, "COMMIT", err, "warehouse commit: COMMIT failed");
out:
    if (c && PQtransactionStatus(c) != PQTRANS_IDLE)
        PQclear(PQexec(c, "ROLLBACK"));
    if (rc < 0)
        for (int i = 0; i < ntargets; i++)
            targets[i].rows = 0;
    if (c)
        drop_tables(c, targets, ntargets);
    else if (rc != MR_EIO) /* kept for the caller's retry; its prefix cleanup drops them */
        pg_drop_named(cfg, targets, ntargets);
    PQfinish(c);
    if (counts)
        for (int i = 0; i < ntargets; i++)
            free(counts[i]);
    free(counts);
    free(qn);
    return rc;
}

static int pg_check(const mr_wh_config *cfg, const mr_wh_target *targets, int ntargets,
                    mr_err *err)
{
    PGconn *c = NULL;
    int rc = pg__connect(cfg, &c, err);
    if (rc < 0) {
        PQfinish(c);
        return err->code = MR_EIO; /* unreachable, as opposed to a table that does not fit */
    }
    rc = pg__exec(c, "BEGIN", err, "warehouse check: cannot begin the transaction");
    for (int i = 0; i < ntargets && rc == 0; i++) {
        qname qn;
        rc = qname_parse(cfg, targets[i].table, &qn, err);
        if (rc == 0 && qn.schema)
            rc = pg__ensure_schema(c, qn.schema, err);
        if (rc == 0)
            rc = ensure_table(c, &targets[i], &qn, 1, err);
    }
    if (c && PQtransactionStatus(c) != PQTRANS_IDLE)
        PQclear(PQexec(c, "ROLLBACK"));
    PQfinish(c);
    return rc;
}

/* Drops the staging tables named in the first column of r, one by one
 * (after "SET lock_timeout", so none is waited on forever).  Returns how
 * many could not be dropped: err holds the first failure.  *dropped (when
 * not NULL) counts those dropped. */
static int pg_drop_listed(PGconn *c, PGresult *r, int *dropped, mr_err *err)
{
    mr_strbuf q = {0};
    int failed = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        q.n = 0;
        mr_strbuf_puts(&q, "DROP TABLE IF EXISTS ");
        buf_staging(&q, PQgetvalue(r, i, 0));
        char what[160];
        snprintf(what, sizeof what, "cannot drop staging table %s", PQgetvalue(r, i, 0));
        mr_err e1;
        if (pg__exec_buf(c, &q, failed ? &e1 : err, what) < 0)
            failed++;
        else if (dropped)
            ++*dropped;
    }
    mr_strbuf_free(&q);
    return failed;
}

/* Drops every staging table whose name starts with prefix.  Each DROP waits
 * at most 5 s for locks: a table still being loaded by a live task (whose
 * job is being cancelled) is skipped and reported, never waited on forever;
 * the task's own abort drops it. */
static int pg_drop_staging(const mr_wh_config *cfg, const char *prefix, mr_err *err)
{
    PGconn *c;
    int rc = pg__connect(cfg, &c, err);
    if (rc < 0)
        return rc;
    const char *p[1] = {prefix};
    PGresult *r = pg_query(c,
                           "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = "
                           "c.relnamespace WHERE n.nspname = '" STAGING_SCHEMA "' AND c.relkind = 'r' "
                           "AND left(c.relname, length($1)) = $1 ORDER BY 1",
                           1, p, err, "cannot list staging tables");
    if (!r || (rc = pg__exec(c, "SET lock_timeout = '5s'", err, "cannot drop staging tables")) < 0) {
        rc = err && err->code ? err->code : MR_EWAREHOUSE;
        goto out;
    }
    int failed = pg_drop_listed(c, r, NULL, err);
    if (failed) {
        mr_err_prefix(err, "%d staging table%s left", failed, failed == 1 ? "" : "s");
        rc = err && err->code ? err->code : MR_EWAREHOUSE;
    }
out:
    PQclear(r);
    PQfinish(c);
    return rc;
}

/* ---- staging leases and the sweep (warehouse.h) --------------------------------
 * The leases live in millrace_meta.millrace_leases; heartbeats are the
 * server's clock in ms, so coordinators on hosts with skewed clocks still
 * agree on a lease's age. */

#define LEASE_SCHEMA "millrace_meta" /* apart, so millrace_staging holds staging only */
#define LEASES LEASE_SCHEMA "." MR_WH_LEASES_TABLE
#define SERVER_MS "(extract(epoch from clock_timestamp()) * 1000)::bigint"
/* $1 owner, $2 instance, $3 expire_ms */
#define PG_ORPHAN_LEASE "(l.owner = $1 AND l.instance <> $2) OR l.heartbeat_ms < " SERVER_MS " - $3::bigint"

/* Creates the staging schema and the lease table when missing; c must be in
 * a transaction (the advisory lock serializes creators, as pg__ensure_schema). */
static int ensure_leases(PGconn *c, mr_err *err)
{
    int rc = pg__ensure_schema(c, LEASE_SCHEMA, err);
    if (rc < 0)
        return rc;
    PGresult *r = pg_query(c, "SELECT to_regclass('" LEASES "') IS NOT NULL", 0, NULL, err,
                           "cannot look up the staging leases");
    if (!r)
        return err->code;
    int have = PQntuples(r) > 0 && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (have)
        return 0;
    if (!(r = pg_query(c, "SELECT pg_advisory_xact_lock(hashtext('millrace leases'))", 0, NULL, err,
                       "cannot lock the staging leases")))
        return err->code;
    PQclear(r);
    return pg__exec(c,
                   "CREATE TABLE IF NOT EXISTS " LEASES " (job_id text PRIMARY KEY, owner text NOT "
                   "NULL, instance text NOT NULL, heartbeat_ms bigint NOT NULL)",
                   err, "cannot create the staging leases");
}

/* Runs sql with params in one transaction, the lease table made first. */
static int lease_exec(const mr_wh_config *cfg, const char *sql, int n, const char *const *params,
                      mr_err *err)
{
    PGconn *c = NULL;
    int rc = pg__connect(cfg, &c, err);
    PGresult *r = NULL;
    if (rc == 0 && (rc = pg__exec(c, "BEGIN", err, "staging lease")) == 0 &&
        (rc = ensure_leases(c, err)) == 0) {
        if ((r = pg_query(c, sql, n, params, err, "staging lease")) != NULL)
            rc = pg__exec(c, "COMMIT", err, "staging lease");
        else
            rc = err->code;
    }
    PQclear(r);
    if (c && PQtransactionStatus(c) != PQTRANS_IDLE)
        PQclear(PQexec(c, "ROLLBACK"));
    PQfinish(c);
    return rc;
}

static int pg_lease_take(const mr_wh_config *cfg, const char *job_id, const mr_wh_owner *me,
                         mr_err *err)
{
    const char *p[3] = {job_id, me->owner, me->instance};
    return lease_exec(cfg,
                      "INSERT INTO " LEASES " (job_id, owner, instance, heartbeat_ms) VALUES ($1, $2, "
                      "$3, " SERVER_MS ") ON CONFLICT (job_id) DO UPDATE SET owner = excluded.owner, "
                      "instance = excluded.instance, heartbeat_ms = excluded.heartbeat_ms",
                      3, p, err);
}

static int pg_lease_renew(const mr_wh_config *cfg, const char *ids_csv, const mr_wh_owner *me,
                          mr_err *err)
{
    const char *p[2] = {ids_csv, me->instance};
    return lease_exec(cfg,
                      "UPDATE " LEASES " SET heartbeat_ms = " SERVER_MS " WHERE instance = $2 AND "
                      "job_id = ANY (string_to_array($1, ','))",
                      2, p, err);
}

static int pg_lease_release(const mr_wh_config *cfg, const char *job_id, mr_err *err)
{
    const char *p[1] = {job_id};
    return lease_exec(cfg, "DELETE FROM " LEASES " WHERE job_id = $1", 1, p, err);
}

/* Drops orphaned staging tables one by one (each waits at most 5 s for a
 * lock, as pg_drop_staging), then the orphaned leases. */
static int pg_sweep(const mr_wh_config *cfg, const mr_wh_owner *me, int64_t expire_ms, int *swept,
                    mr_err *err)
{
    PGconn *c = NULL;
    PGresult *r = NULL;
    char expire[32];
    snprintf(expire, sizeof expire, "%lld", (long long)expire_ms);
    const char *p[3] = {me->owner, me->instance, expire};
    *swept = 0;
    int rc = pg__connect(cfg, &c, err);
    if (rc < 0)
        goto out;
    if ((rc = pg__exec(c, "BEGIN", err, "staging sweep")) < 0 || (rc = ensure_leases(c, err)) < 0 ||
        (rc = pg__exec(c, "COMMIT", err, "staging sweep")) < 0)
        goto out;
    r = pg_query(c,
                 "SELECT t.relname FROM (SELECT c.relname, split_part(c.relname, '_', 2) AS job FROM "
                 "pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '"
                 STAGING_SCHEMA "' AND c.relkind = 'r' AND c.relname ~ '^[sr]_[^_]+_') t LEFT JOIN "
                 LEASES " l ON l.job_id = t.job WHERE l.job_id IS NULL OR " PG_ORPHAN_LEASE,
                 3, p, err, "cannot list staging tables");
    if (!r || (rc = pg__exec(c, "SET lock_timeout = '5s'", err, "staging sweep")) < 0) {
        rc = err->code;
        goto out;
    }
    int failed = pg_drop_listed(c, r, swept, err);
    PQclear(r);
    /* a lease whose tables could not all be dropped goes too: its tables,
     * without a lease, are orphans for the next sweep */
    r = pg_query(c, "DELETE FROM " LEASES " l WHERE " PG_ORPHAN_LEASE, 3, p, err,
                 "cannot sweep staging leases");
    if (!r)
        rc = err->code;
    else if (failed)
        rc = err->code;
out:
    PQclear(r);
    PQfinish(c);
    return rc;
}

const mr_wh__driver mr_wh__postgres = {
    .name = "postgres",
    .stage_open = pg__stage_open,
    .stage_append = pg__stage_append,
    .stage_finish = pg__stage_finish,
    .stage_abort = pg__stage_abort,
    .commit = pg_commit,
    .drop_staging = pg_drop_staging,
    .drop_named = pg_drop_named,
    .check = pg_check,
    .lease_take = pg_lease_take,
    .lease_renew = pg_lease_renew,
    .lease_release = pg_lease_release,
    .sweep = pg_sweep,
};
