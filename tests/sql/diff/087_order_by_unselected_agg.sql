-- ordered
SELECT o_custkey AS cust FROM orders WHERE o_custkey IS NOT NULL
GROUP BY o_custkey ORDER BY sum(o_totalprice) DESC, o_custkey LIMIT 10
