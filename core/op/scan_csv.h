/* scan_csv.h - the CSV scan operator: typed batches from one split of a
 * CSV file, with the bad-row policy of the DAG's read node.  It is the one
 * scan operator (core/op/scan.h) driving the CSV format
 * (core/formats/format_csv.c). */
#ifndef MR_OP_SCAN_CSV_H
#define MR_OP_SCAN_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "core/badrows.h"
#include "core/csv.h"
#include "core/error.h"
#include "core/op.h"
#include "core/types.h"


/* Creates a scan of the records that start in [offset, offset+length) of
 * path (length UINT64_MAX: to the end; see core/csv.h for split rules),
 * typed per schema (copied) and read per opt (copied, null_string too; NULL
 * means mr_csv_options_init defaults).  With opt->header the schema's
 * columns are found in the file's header by name (mr_csv_header_map), in
 * whatever split; a missing one fails open naming file and column.  The constructor does
 * no I/O: the file is opened by mr_op_open, so a missing file fails there
 * with err set ("node 'sales': cannot
 * open 'x.csv': No such file or directory").  Close with mr_op_close.
 *
 * next() returns batches of up to MR_BATCH_ROWS rows.  A field that is
 * empty (quoted or not) in a non-string column, or unquoted and equal to
 * the null string, is NULL; a quoted empty field in a string column is the
 * empty string.  Non-string fields may have blanks around them.  A bad row
 * (wrong field count, malformed quoting, unparsable value, invalid UTF-8
 * in a string column) follows opt->on_error: MR_CSV_FAIL makes next()
 * return MR_EPARSE with "node 'x': file.csv:LINE: reason"; MR_CSV_SKIP
 * counts it; MR_CSV_REJECT counts and keeps it (mr_scan_csv_rejects).
 * Once more than opt->max_errors rows (>= 0) were bad, next() fails. */
mr_op *mr_scan_csv_create(const char *path, uint64_t offset, uint64_t length,
                          const mr_schema *schema, const mr_csv_options *opt, const char *node,
                          mr_err *err);

/* The rows rejected so far, in file order.  *rows stays owned by the
 * operator and valid until it is closed.  Returns 0, or MR_EINVAL when op
 * is not a CSV scan. */
int mr_scan_csv_rejects(mr_op *op, const mr_reject **rows, size_t *n);

/* Bytes of the file consumed so far (see mr_csv_reader_bytes); 0 when op
 * is not a CSV scan. */
uint64_t mr_scan_csv_bytes_read(const mr_op *op);

/* Rows skipped or rejected so far; 0 when op is not a CSV scan. */
uint64_t mr_scan_csv_bad_rows(const mr_op *op);

#endif
