/* sql.h - SQL text both warehouse drivers emit: quoted identifiers, the
 * column type mapping of the DAG spec, column lists.  Internal to
 * warehouse/ (hence the mr_wh__ prefix).
 */
#ifndef MR_WH_SQL_H
#define MR_WH_SQL_H

#include "core/strbuf.h"
#include "core/types.h"

/* The column type a table is created with: int32 INTEGER, int64 BIGINT,
 * float64 DOUBLE PRECISION, decimal(p,s) NUMERIC(p,s), string TEXT, bool
 * BOOLEAN, date DATE, timestamp TIMESTAMP.  buf (>= 32 bytes) holds the
 * NUMERIC form; returns the text. */
const char *mr_wh__col_decl(mr_type t, char *buf, size_t cap);
/* Appends name as a quoted identifier: "..." with every '"' doubled, so any
 * name is taken literally and cannot end the identifier early. */
void mr_wh__ident(mr_strbuf *b, const char *name);
/* Appends " (\"a\" TYPE, \"b\" TYPE)" for s. */
void mr_wh__columns_ddl(mr_strbuf *b, const mr_schema *s);
/* Appends "\"a\", \"b\"" (with "alias." before each when alias is set). */
void mr_wh__field_list(mr_strbuf *b, const mr_schema *s, const char *alias);
/* Appends the quoted names, comma-separated. */
void mr_wh__name_list(mr_strbuf *b, const char *const *names, int n);

#endif
