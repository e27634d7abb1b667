/* pg_source.h - PostgreSQL (or Redshift-compatible) databases as a read's
 * source: the schema of a table or query, and a scan operator that streams
 * its rows with COPY (SELECT ...) TO STDOUT.
 *
 * The coordinator and the CLI plug the schema lookup into core/dbsrc.h so
 * the DAG compiler can ask for it; the executor builds the scan directly.
 * Messages name the server, database and user, never the password. */
#ifndef MR_PG_SOURCE_H
#define MR_PG_SOURCE_H

#include "core/error.h"
#include "core/op.h"
#include "core/types.h"

/* What one task reads. */
typedef struct mr_pg_read {
    const char *dsn;       /* full libpq string, password included */
    const char *table;     /* a table ("schema.table" allowed), or NULL */
    const char *query;     /* a SELECT, or NULL */
    const char *wm_column; /* incremental column, or NULL */
    const char *watermark; /* its last watermark (text), or NULL: read all */
    const char *range;     /* an SQL condition from mr_pg_source_ranges, or NULL */
} mr_pg_read;

/* Plugs the lookup into core/dbsrc.h. */
void mr_pg_source_plug(void);

/* core/dbsrc.h's describe: the columns of table or query as millrace
 * types.  int2/int4 int32, int8 int64, numeric(p,s) decimal(p,s) (p <= 18),
 * float4/float8 float64, bool, text/varchar/char/name string, date,
 * timestamp, timestamptz; any other type is MR_EINVAL naming the column. */
int mr_pg_source_describe(const char *dsn, const char *table, const char *query,
                          mr_schema **out, mr_err *err);

/* Cuts the source into n ranges of column (of millrace type t: an integer,
 * decimal, date, timestamp or timestamptz): asks the database for the
 * column's min and max, cuts that span into n equal widths and returns n
 * SQL conditions in *conds (malloc'd array of malloc'd strings): the first
 * also takes NULLs and everything below the second cut, the last
 * everything from its cut up, so together they hold every row once.  An
 * empty source (no min) gives the first condition TRUE and the rest
 * FALSE. */
int mr_pg_source_ranges(const char *dsn, const char *table, const char *query,
                        const char *column, mr_type t, unsigned n, char ***conds, mr_err *err);

/* The scan: rows of schema (columns by name) from r, streamed in batches.
 * Connects in open (the operator's first next), never in create.  node
 * names the DAG node in messages.  NULL when out of memory. */
mr_op *mr_pg_source_scan(const mr_pg_read *r, const mr_schema *schema, const char *node,
                         mr_err *err);

#endif
