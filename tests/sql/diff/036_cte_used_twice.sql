WITH s AS (SELECT o_custkey, sum(o_totalprice) AS total FROM orders GROUP BY o_custkey)
SELECT a.o_custkey, a.total, b.total AS again FROM s a JOIN s b ON a.o_custkey = b.o_custkey WHERE a.total > 100000
