SELECT c_nationkey AS k FROM customer UNION SELECT n_regionkey FROM nation
