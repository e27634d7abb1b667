/* plan_names.h - the words of the plan's enums (proto/millrace.proto), in
 * one table each: the DAG's spelling that the validator accepts, explain
 * prints and the warehouse API takes (modes and drivers are names there).
 *
 * Each table is indexed by the enum's value and ends with NULL, so it also
 * serves as the list of choices in a message.
 */
#ifndef MR_PLAN_NAMES_H
#define MR_PLAN_NAMES_H

#include "core/strbuf.h"
#include "proto/millrace.pb-c.h"

extern const char *const mr_plan_format_names[];  /* Millrace__FileFormat: csv, jsonl */
/* Millrace__Compression: auto, none, gzip, zstd */
extern const char *const mr_plan_compression_names[];
extern const char *const mr_plan_join_names[];    /* Millrace__JoinKind: inner ... anti */
extern const char *const mr_plan_target_names[];  /* Millrace__WriteTarget: warehouse, csv, jsonl, parquet */
extern const char *const mr_plan_mode_names[];    /* Millrace__WriteMode: append ... error_if_exists */
extern const char *const mr_plan_driver_names[];  /* Millrace__WarehouseDriver: sqlite, postgres */
/* Millrace__SchemaChange: fail, add_columns, recreate */
extern const char *const mr_plan_schema_change_names[];
/* Millrace__CheckKind: expect, unique, row_count, aggregate */
extern const char *const mr_plan_check_kind_names[];
/* Millrace__CheckAction: fail, reject, warn */
extern const char *const mr_plan_check_action_names[];
/* Millrace__ParquetCodec: snappy, zstd, gzip, none */
extern const char *const mr_plan_parquet_codec_names[];

/* names[value], or "?" when value is not in the table (a plan from a newer
 * build).  Never NULL. */
const char *mr_plan_name(const char *const *names, int value);

/* The value whose name is word, or -1. */
int mr_plan_lookup(const char *const *names, const char *word);

/* The OpSpec oneof member an operator of kind k carries, and that
 * member's message type; NOT_SET and NULL for a kind this build does not
 * know.  mr_plan_op_ok says whether op carries the member its kind needs:
 * check it before reading the member of a plan from any source (the
 * members share storage). */
Millrace__OpSpec__OpCase mr_plan_op_case(Millrace__OpKind k);
const ProtobufCMessageDescriptor *mr_plan_op_message(Millrace__OpKind k);
int mr_plan_op_ok(const Millrace__OpSpec *op);

/* Appends k as a DAG's `by` would say it (core/sortkey.h grammar): the
 * column, quoted when it has blanks or quotes, then "desc" when descending
 * and the null order when it is not the default for that direction. */
void mr_plan_sort_key_text(mr_strbuf *b, const Millrace__SortKey *k);

#endif
