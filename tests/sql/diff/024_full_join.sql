SELECT c.c_custkey, n.n_nationkey, n.n_name
FROM customer c FULL JOIN nation n ON c.c_nationkey = n.n_nationkey
