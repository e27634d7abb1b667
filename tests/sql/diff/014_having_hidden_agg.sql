SELECT o_custkey FROM orders GROUP BY o_custkey
HAVING sum(o_totalprice) > 150000 AND min(o_totalprice) < 5000
