SELECT o_custkey, o_orderdate, count(*) AS n
FROM orders
GROUP BY o_custkey
