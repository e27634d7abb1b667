-- ordered
SELECT l_orderkey AS k, sum(l_quantity) AS q FROM lineitem
GROUP BY l_orderkey ORDER BY q DESC NULLS LAST, k LIMIT 25
