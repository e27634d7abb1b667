-- ordered
SELECT o_custkey AS k FROM orders WHERE o_orderstatus = 'F'
UNION
SELECT c_custkey FROM customer WHERE c_mktsegment = 'MACHINERY'
ORDER BY k NULLS LAST LIMIT 30
