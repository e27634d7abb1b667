/* net module */
typedef int mr_net_unit_nonempty;
