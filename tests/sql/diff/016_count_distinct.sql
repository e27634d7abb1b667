SELECT o_orderstatus, count(DISTINCT o_custkey) AS custs FROM orders GROUP BY o_orderstatus
