SELECT o_custkey, count(*) AS n FROM orders
GROUP BY o_custkey HAVING count(*) >= 8
