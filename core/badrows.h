/* badrows.h - what a read does with a bad row: the on_error policy that
 * every scan shares (fail, skip, reject) with its max_errors limit, and the
 * list of rejected rows it keeps.
 *
 * A rejected row keeps its file, line, byte offset, reason and raw text (at
 * most MR_REJECT_RAW_MAX bytes of it).  The list grows with the rows a read
 * rejects; max_errors is how a DAG bounds it.
 */
#ifndef MR_BADROWS_H
#define MR_BADROWS_H

#include <stddef.h>
#include <stdint.h>

#include "core/csv.h"
#include "core/error.h"

/* Longest raw text kept for a rejected row; longer rows are cut there. */
#define MR_REJECT_RAW_MAX (64u << 10)

/* One rejected row (on_error: reject). */
typedef struct mr_reject {
    const char *file; /* the scanned path */
    int64_t line;     /* 1-based physical line of the row, or -1 when it
                       * cannot be known cheaply (see core/csv.h) */
    uint64_t offset;  /* byte offset of the row in the file */
    char *reason;     /* "column 'qty': invalid int64 'x'", ... */
    char *raw;        /* the row's text without its line end, NUL-ended,
                       * at most MR_REJECT_RAW_MAX bytes */
} mr_reject;

typedef struct mr_badrows {
    int on_error;       /* MR_CSV_FAIL, MR_CSV_SKIP or MR_CSV_REJECT */
    int64_t max_errors; /* skipped + rejected rows allowed; -1: no limit */
    const char *file;   /* the path rejects name (not owned; outlives the list) */
    uint64_t count;     /* bad rows seen so far (skipped or rejected) */
    mr_reject *rejects;
    size_t n, cap;
} mr_badrows;

void mr_badrows_init(mr_badrows *br, int on_error, int64_t max_errors, const char *file);
/* Applies the policy to one bad row.  where ("file.csv:12") and why go into
 * the error; raw/rawlen, line and offset into the reject.  Returns 0 to go
 * on, or MR_EPARSE (fail, or over max_errors) / MR_ENOMEM with err set. */
int mr_badrows_handle(mr_badrows *br, const char *node, const char *where, const char *why,
                      const char *raw, size_t rawlen, int64_t line, uint64_t offset,
                      mr_err *err);
/* Frees the rejects; NULL is a no-op. */
void mr_badrows_free(mr_badrows *br);

#endif
