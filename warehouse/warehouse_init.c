/* warehouse module */
typedef int mr_warehouse_unit_nonempty;
