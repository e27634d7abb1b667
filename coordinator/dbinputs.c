/* dbinputs.c - the splits of a database read (format postgres).
 *
 * A database read names no file: each split carries a range of the read's
 * partition column as an SQL condition (warehouse/pg_source.h cuts the
 * column's min..max span into `partitions` ranges, NULLs in the first),
 * and the executor that runs it streams only those rows.  Without
 * partitions there is one split with no condition: one task reads all.
 * The coordinator connects with the dsn of its own environment, as it did
 * when the DAG compiled; the condition holds values, never the dsn.
 */
#include "coordinator/coordinator.h"

#include <stdlib.h>
#include <string.h>

#include "proto/schema_pb.h"
#include "warehouse/pg_source.h"

int coord_db_splits(const Millrace__ReadSpec *rd, Millrace__Split ***splits, size_t *nsplits,
                    mr_err *err)
{
    *splits = NULL;
    *nsplits = 0;
    unsigned n = rd->partitions > 1 && rd->partition_column && rd->partition_column[0]
                     ? rd->partitions : 1;
    char **conds = NULL;
    int rc = 0;
    if (n > 1) {
        const char *dsn = rd->dsn_env && rd->dsn_env[0] ? getenv(rd->dsn_env) : rd->dsn;
        mr_schema *s = mr_schema_from_pb(rd->schema, err);
        int i = s ? mr_schema_find(s, rd->partition_column) : -1;
        if (!dsn)
            rc = mr_err_set(err, MR_EINVAL, "the coordinator has no environment variable %s "
                            "(the source dsn)", rd->dsn_env);
        else if (!s)
            rc = err->code < 0 ? err->code : MR_EPROTO;
        else if (i < 0)
            rc = mr_err_set(err, MR_EPROTO, "partition column '%s' is not in the read's schema",
                            rd->partition_column);
        else
            rc = mr_pg_source_ranges(dsn, rd->table[0] ? rd->table : NULL,
                                     rd->query[0] ? rd->query : NULL, rd->partition_column,
                                     s->fields[i].type, n, &conds, err);
        mr_schema_destroy(s);
        if (rc < 0)
            return rc;
    }
    Millrace__Split **out = calloc(n, sizeof *out);
    for (unsigned k = 0; out && k < n; k++) {
        Millrace__Split *sp = malloc(sizeof *sp);
        if (!sp)
            break;
        millrace__split__init(sp);
        sp->path = calloc(1, 1); /* freed by millrace__split__free_unpacked */
        sp->db_range = conds ? conds[k] : calloc(1, 1);
        if (conds)
            conds[k] = NULL;
        out[k] = sp;
        *nsplits = k + 1;
        if (!sp->path || !sp->db_range)
            break;
    }
    if (!out || *nsplits < n || !out[n - 1]->path || !out[n - 1]->db_range) {
        for (size_t k = 0; out && k < *nsplits; k++)
            millrace__split__free_unpacked(out[k], NULL);
        rc = mr_err_oom(err, NULL);
        free(out);
        out = NULL;
        *nsplits = 0;
    }
    for (unsigned k = 0; conds && k < n; k++)
        free(conds[k]);
    free(conds);
    *splits = out;
    return rc;
}
