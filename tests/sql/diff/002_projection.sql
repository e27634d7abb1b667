SELECT n_nationkey, n_name AS name, n_regionkey + 1 AS r1 FROM nation
