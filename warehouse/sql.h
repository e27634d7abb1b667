/* sql.h - SQL text both warehouse drivers emit: quoted identifiers, the
 * column type mapping of the DAG spec, column lists.  Internal to
 * warehouse/ (hence the mr_wh__ prefix).
 */
#ifndef MR_WH_SQL_H
#define MR_WH_SQL_H

#include <stdint.h>

#include "core/error.h"
#include "core/strbuf.h"
#include "core/types.h"
#include "warehouse/warehouse.h"

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

/* Upsert takes one row per key.  Before an upsert touches its table, the
 * commit runs two queries over the staged rows of every task (in the
 * commit's transaction), staging tables named qual."table":
 *   mr_wh__upsert_null_sql: one row, one column: how many staged rows have
 *     a NULL in a key column;
 *   mr_wh__upsert_dup_sql: no row when every key is staged once, else one
 *     row: the first duplicated key's columns (nkey of them, in key order),
 *     how many rows carry it, and how many keys are duplicated in all.
 * mr_wh__upsert_null_error and mr_wh__upsert_dup_error set the message
 * (MR_EWAREHOUSE) from those answers; key values are the database's text. */
void mr_wh__upsert_null_sql(mr_strbuf *b, const mr_wh_target *t, const char *qual);
void mr_wh__upsert_dup_sql(mr_strbuf *b, const mr_wh_target *t, const char *qual);
int mr_wh__upsert_null_error(mr_err *err, const mr_wh_target *t, long long nrows);
int mr_wh__upsert_dup_error(mr_err *err, const mr_wh_target *t, const char *const *key_values,
                            long long count, long long nkeys);

/* Upsert as MERGE (warehouse.h, mr_wh_commit), for a target with dedupe
 * or a delete column; staging tables named qual."table", string columns
 * of the dedupe order compared with collate (" COLLATE \"C\"" on
 * PostgreSQL; NULL on SQLite, whose default is bytewise already):
 *   mr_wh__merge_tie_sql: like mr_wh__upsert_dup_sql, for the keys whose
 *     first place in the dedupe order is shared by several rows;
 *   mr_wh__merge_keys_sql: "SELECT DISTINCT k1, k2 FROM <every staged row>";
 *   mr_wh__merge_rows_sql: "SELECT <the schema's columns> FROM ..." giving
 *     the winning row of every key unless it is a deletion;
 *   mr_wh__merge_tie_error: the message for a tie. */
int mr_wh__is_merge(const mr_wh_target *t);
void mr_wh__merge_tie_sql(mr_strbuf *b, const mr_wh_target *t, const char *qual,
                          const char *collate);
void mr_wh__merge_keys_sql(mr_strbuf *b, const mr_wh_target *t, const char *qual);
void mr_wh__merge_rows_sql(mr_strbuf *b, const mr_wh_target *t, const char *qual,
                           const char *collate);
int mr_wh__merge_tie_error(mr_err *err, const mr_wh_target *t, const char *const *key_values,
                           long long count, long long nkeys);

#endif
