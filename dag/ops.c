/* ops.c - the registry of DAG op kinds (dag_ops.h): one line per op, in
 * the order of dag_op (dag_int.h).  Each op's keys, checks and plan
 * building live in its file, dag/op_NAME.c.
 */
#include "dag/dag_ops.h"
#include "dag/sql.h"

const dag_op_def dag_ops[DOP__COUNT] = {
    [DOP_READ] = {"read", dag_read_keys, 1, dag_read_validate, dag_read_compile},
    [DOP_FILTER] = {"filter", dag_filter_keys, 0, dag_filter_validate, dag_filter_compile},
    [DOP_SELECT] = {"select", dag_project_keys, 0, dag_project_validate, dag_project_compile},
    [DOP_DERIVE] = {"derive", dag_project_keys, 0, dag_project_validate, dag_project_compile},
    [DOP_DROP] = {"drop", dag_drop_keys, 0, dag_drop_validate, dag_project_compile},
    [DOP_AGGREGATE] = {"aggregate", dag_aggregate_keys, 0, dag_aggregate_validate,
                       dag_aggregate_compile},
    [DOP_JOIN] = {"join", dag_join_keys, 1, dag_join_validate, dag_join_compile},
    [DOP_UNION] = {"union", dag_union_keys, 1, dag_union_validate, dag_union_compile},
    [DOP_DISTINCT] = {"distinct", dag_distinct_keys, 0, dag_distinct_validate,
                      dag_distinct_compile},
    [DOP_SORT] = {"sort", dag_sort_keys, 0, dag_sort_validate, dag_sort_compile},
    [DOP_LIMIT] = {"limit", dag_limit_keys, 0, dag_limit_validate, dag_limit_compile},
    [DOP_WRITE] = {"write", dag_write_keys, 0, dag_write_validate, dag_write_compile},
    [DOP_WINDOW] = {"window", dag_window_keys, 0, dag_window_validate, dag_window_compile},
    [DOP_CHECK] = {"check", dag_check_keys, 0, dag_check_validate, dag_check_compile},
    [DOP_SQL] = {"sql", dag_sql_keys, 1, dag_sql_validate, dag_sql_compile},
    [DOP_UNNEST] = {"unnest", dag_unnest_keys, 0, dag_unnest_validate, dag_unnest_compile},
};
