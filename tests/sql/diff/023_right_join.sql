SELECT c.c_custkey, n.n_name FROM customer c RIGHT JOIN nation n ON c.c_nationkey = n.n_nationkey
