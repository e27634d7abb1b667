SELECT x.k, x.total FROM (SELECT k, total FROM (SELECT o_custkey AS k, sum(o_totalprice) AS total FROM orders GROUP BY o_custkey) y WHERE total > 80000) x
