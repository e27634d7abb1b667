SELECT c_custkey FROM customer WHERE c_nationkey IS NULL OR c_acctbal IS NULL
