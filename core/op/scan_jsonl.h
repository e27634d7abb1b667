/* scan_jsonl.h - the JSON Lines scan operator: typed batches from one split
 * of a .jsonl file, with the bad-row policy of the DAG's read node.  It is
 * the one scan operator (core/op/scan.h) driving the JSON Lines format
 * (core/formats/format_jsonl.c). */
#ifndef MR_OP_SCAN_JSONL_H
#define MR_OP_SCAN_JSONL_H

#include <stddef.h>
#include <stdint.h>

#include "core/csv.h"
#include "core/op.h"
#include "core/op/scan_csv.h"

/* Creates a scan of the lines that start in [offset, offset+length) of path
 * (length UINT64_MAX: to the end; split rules in core/jsonl.h), typed per
 * schema (copied).  Of opt only on_error and max_errors are used (NULL: fail
 * on the first bad row).  The constructor does no I/O: the file is opened by
 * mr_op_open, so a missing file fails there with err set ("node 'x': cannot open 'a.jsonl': ...").
 *
 * Each line is one object; its top-level keys name columns (exact match).
 * A missing key or a JSON null is NULL; unknown keys are ignored; with a
 * duplicate key the last one wins.  Per column type:
 *   string     a JSON string as is; a number, true or false as its text; a
 *              nested object or array as its raw JSON text
 *   bool       true/false, or a string or number the bool text form accepts
 *   others     a number or a string, parsed with the text parsers of
 *              core/types.h (so "2024-01-31" fills a date, "12.50" or 12.5
 *              a decimal, 1e3 a float64; 1.5 in an int column is bad)
 * A line that is not one valid JSON object, or a value that does not fit
 * its column (wrong kind, unparsable, out of range), is a bad row handled
 * per opt->on_error as in scan_csv.h; rejects keep the file, line, reason
 * and the line's text. */
mr_op *mr_scan_jsonl_create(const char *path, uint64_t offset, uint64_t length,
                            const mr_schema *schema, const mr_csv_options *opt, const char *node,
                            mr_err *err);

/* The rows rejected so far, in file order; owned by the operator until it is
 * closed.  0, or MR_EINVAL when op is not a JSON Lines scan. */
int mr_scan_jsonl_rejects(mr_op *op, const mr_reject **rows, size_t *n);

/* Bytes of the file consumed so far; 0 when op is not a JSON Lines scan. */
uint64_t mr_scan_jsonl_bytes_read(const mr_op *op);

/* Rows skipped or rejected so far; 0 when op is not a JSON Lines scan. */
uint64_t mr_scan_jsonl_bad_rows(const mr_op *op);

#endif
