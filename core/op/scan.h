/* scan.h - the scan operator: typed batches from one split of a file in
 * any format (core/formats/format.h), with the bad-row policy of the DAG's
 * read node.  mr_scan_csv_create and mr_scan_jsonl_create (scan_csv.h,
 * scan_jsonl.h) are this scan with their format. */
#ifndef MR_OP_SCAN_H
#define MR_OP_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "core/badrows.h"
#include "core/csv.h"
#include "core/error.h"
#include "core/formats/format.h"
#include "core/op.h"
#include "core/types.h"

/* Creates a scan of the records of fmt that start in [offset,
 * offset+length) of path, typed per schema (copied), read per opt (copied,
 * null_string too; NULL: defaults).  The constructor does no I/O: the file is
 * opened by mr_op_open, so a missing file fails there, with err set ("node 'sales': cannot open 'x.csv':
 * No such file or directory").  next() returns batches of up to
 * MR_BATCH_ROWS rows; a bad record follows opt->on_error (fail: next()
 * returns MR_EPARSE with "node 'x': file.csv:LINE: reason"; skip: counted;
 * reject: counted and kept) until more than opt->max_errors (>= 0) were
 * bad.  Close with mr_op_close. */
mr_op *mr_scan_create(const mr_format *fmt, const char *path, uint64_t offset, uint64_t length,
                      const mr_schema *schema, const mr_csv_options *opt, const char *node,
                      mr_err *err);

/* The format of a scan, or NULL when op is not one. */
const mr_format *mr_scan_format(const mr_op *op);

/* The rows rejected so far, in file order, owned by the operator until it
 * is closed.  0, or MR_EINVAL when op is not a scan. */
int mr_scan_rejects(mr_op *op, const mr_reject **rows, size_t *n);

/* Bytes of the file consumed so far; 0 when op is not a scan. */
uint64_t mr_scan_bytes_read(const mr_op *op);

/* Parts of the split its format skipped by the pushed-down condition
 * (Parquet row groups); 0 when op is not a scan. */
uint64_t mr_scan_groups_skipped(const mr_op *op);

/* Rows skipped or rejected so far; 0 when op is not a scan. */
uint64_t mr_scan_bad_rows(const mr_op *op);

#endif
