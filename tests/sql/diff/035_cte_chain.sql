WITH big_orders AS (SELECT o_orderkey, o_custkey, o_totalprice FROM orders WHERE o_totalprice > 30000),
     per_cust AS (SELECT o_custkey, count(*) AS n, sum(o_totalprice) AS total FROM big_orders GROUP BY o_custkey),
     ranked AS (SELECT o_custkey, n, total FROM per_cust WHERE n >= 2)
SELECT r.o_custkey, r.n, r.total, c.c_name FROM ranked r LEFT JOIN customer c ON r.o_custkey = c.c_custkey
