-- ordered
SELECT c_custkey, c_nationkey FROM customer ORDER BY c_nationkey NULLS FIRST, c_custkey
