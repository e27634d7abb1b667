SELECT c_nationkey, c_mktsegment FROM customer WHERE c_custkey < 150
INTERSECT
SELECT c_nationkey, c_mktsegment FROM customer WHERE c_custkey >= 100
