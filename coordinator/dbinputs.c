/* dbinputs.c - the splits of a database read (format postgres).
 *
 * A database read is one task: its split names no file (path "") and the
 * executor streams the whole table or query with one COPY.  The split
 * exists so the scheduler's one-task-per-split rule holds for every read.
 */
#include "coordinator/coordinator.h"

#include <stdlib.h>

int coord_db_splits(const Millrace__ReadSpec *rd, Millrace__Split ***splits, size_t *nsplits,
                    mr_err *err)
{
    (void)rd;
    *splits = NULL;
    *nsplits = 0;
    Millrace__Split **out = calloc(1, sizeof *out);
    Millrace__Split *sp = calloc(1, sizeof *sp);
    if (!out || !sp) {
        free(out);
        free(sp);
        return mr_err_oom(err, NULL);
    }
    millrace__split__init(sp);
    sp->path = NULL; /* freed by millrace__split__free_unpacked: must be malloc'd or "" */
    sp->path = calloc(1, 1);
    if (!sp->path) {
        free(sp);
        free(out);
        return mr_err_oom(err, NULL);
    }
    out[0] = sp;
    *splits = out;
    *nsplits = 1;
    return 0;
}
