/* dag module */
typedef int mr_dag_unit_nonempty;
