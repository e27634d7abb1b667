/* pg_int.h - what the PostgreSQL driver's two files share: the connection
 * and message helpers (postgres.c) and the staging entry points
 * (pg_copy.c) the driver table lists.  Private to warehouse/.
 */
#ifndef MR_PG_INT_H
#define MR_PG_INT_H

#include <libpq-fe.h>

#include "core/strbuf.h"
#include "warehouse/warehouse.h"

#define STAGING_SCHEMA "millrace_staging"
#define IDENT_MAX 63 /* PostgreSQL truncates longer names (NAMEDATALEN - 1) */

/* ---- postgres.c ---------------------------------------------------------- */

/* Appends s as a quoted string literal ('...' with '\'' doubled). */
void pg__buf_literal(mr_strbuf *b, const char *s);

/* Sets err to MR_EWAREHOUSE: the formatted context, then PostgreSQL's
 * message (never the password).  Returns MR_EWAREHOUSE. */
int pg__fail(PGconn *c, const PGresult *r, mr_err *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Connects to cfg->dsn (client encoding UTF-8, notices silenced); *out is
 * the caller's (PQfinish).  0, MR_EIO (unreachable, nothing happened),
 * MR_EWAREHOUSE or MR_ENOMEM. */
int pg__connect(const mr_wh_config *cfg, PGconn **out, mr_err *err);

/* Runs sql (no parameters); 0 or MR_EWAREHOUSE naming what. */
int pg__exec(PGconn *c, const char *sql, mr_err *err, const char *what);

/* Same for SQL built in b: MR_ENOMEM if building ran out. */
int pg__exec_buf(PGconn *c, const mr_strbuf *b, mr_err *err, const char *what);

/* 0, or MR_EINVAL when name is empty or longer than IDENT_MAX bytes. */
int pg__check_ident(const char *name, const char *what, mr_err *err);

/* Creates schema name unless it exists.  0 or MR_EWAREHOUSE. */
int pg__ensure_schema(PGconn *c, const char *name, mr_err *err);

/* ---- pg_copy.c: the driver's stage_* entries (warehouse.h) --------------- */

int pg__stage_open(const mr_wh_config *cfg, const char *staging_table, const mr_schema *schema,
                   mr_wh_stage **out, mr_err *err);
int pg__stage_append(mr_wh_stage *base, const mr_batch *b, mr_err *err);
int pg__stage_finish(mr_wh_stage *base, mr_err *err);
void pg__stage_abort(mr_wh_stage *base);

/* bookmarks.c: moves a commit's bookmarks in c's open transaction. */
int mr_wh__bookmarks_apply_pg(PGconn *c, const mr_wh_config *cfg, const mr_wh_bookmarks *bm,
                              mr_err *err);

#endif
