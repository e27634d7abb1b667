/* sortkey.h - the one parser of sort keys as written in a DAG's `by` list.
 * The validator (dag/op_sort.c) parses each key once; the plan carries the
 * result (column, direction, null order) as a SortKey message.
 *
 * Grammar (keywords case-insensitive, any amount of blanks between words):
 *   key   := name [ASC | DESC] [NULLS (FIRST | LAST)]
 *   name  := bare | quoted
 *   bare  := one or more characters up to the first blank
 *   quoted:= '"' { any character but '"' | '""' } '"'   ("" stands for ")
 * The default null order is PostgreSQL's: nulls last for asc, nulls first
 * for desc.
 */
#ifndef MR_SORTKEY_H
#define MR_SORTKEY_H

#include "core/error.h"

/* Parses one sort key.  Returns 0 with *col (the column name, malloc'd,
 * caller frees), *desc and *nulls_first (0/1) set; or MR_EINVAL with a
 * message naming the key and err->offset at the byte of the key where the
 * problem is (MR_ENOMEM when out of memory).  *col is NULL on error. */
int mr_sort_key_parse(const char *text, char **col, int *desc, int *nulls_first, mr_err *err);

#endif
