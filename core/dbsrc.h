/* dbsrc.h - how the DAG compiler asks a database for a read's schema.
 *
 * A `read` with `format: postgres` takes its schema from the database, but
 * dag/ links no database library (docs/architecture.md), so the lookup is
 * a table of functions that the processes which compile DAGs (the
 * coordinator and the CLI) plug in at start-up, as objstore/ does for
 * core/io.h.  warehouse/pg_source.c is the one implementation. */
#ifndef MR_DBSRC_H
#define MR_DBSRC_H

#include "core/error.h"
#include "core/types.h"

typedef struct mr_dbsrc {
    /* The columns that the read's table (a name, "schema.table" allowed)
     * or query (SELECT text) returns, as millrace types, in *out (the
     * caller destroys it).  A negative code with a message that never
     * holds the dsn's password: MR_EIO when the database cannot be
     * reached, MR_ENOTFOUND for a missing table, MR_EINVAL for a bad query
     * or a column of a type millrace does not map (the message names it). */
    int (*describe)(const char *dsn, const char *table, const char *query, mr_schema **out,
                    mr_err *err);
} mr_dbsrc;

/* Plugs in the implementation (NULL unplugs).  Once, before threads. */
void mr_dbsrc_set(const mr_dbsrc *src);

/* The plugged-in implementation, or NULL. */
const mr_dbsrc *mr_dbsrc_get(void);

#endif
