/* unnest.h - the unnest operator: one row per element of a JSON array held
 * in a text column, the other columns repeated. */
#ifndef MR_OP_UNNEST_H
#define MR_OP_UNNEST_H

#include <stdbool.h>

#include "core/op.h"

/* The output schema of an unnest over in: in's columns without column,
 * then as of type.  NULL with err set: column missing or not text, as
 * already another column, type not castable from text (MR_EINVAL,
 * MR_ENOTFOUND, MR_ETYPE), MR_ENOMEM. */
mr_schema *mr_unnest_schema(const mr_schema *in, const char *column, const char *as, mr_type type,
                            mr_err *err);

/* Creates an unnest of child's text column `column`: each row whose text
 * is a JSON array gives one row per element, the element's text (a string
 * unquoted, a number or boolean as written, a nested array or object as
 * its JSON text, JSON null as NULL) cast to type as CAST(text AS type)
 * would, under the name as.  A NULL value or JSON null gives no row, nor
 * does an empty array; with keep_empty such rows give one row whose
 * element is NULL.  Text that is not JSON, a JSON scalar or object, or an
 * element the cast refuses is an error naming the node, the row's position
 * in the input and the value.  Takes ownership of child (closed on
 * failure too).  NULL with err set. */
mr_op *mr_unnest_create(mr_op *child, const char *column, const char *as, mr_type type,
                        bool keep_empty, const char *node, mr_err *err);

#endif
