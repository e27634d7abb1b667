SELECT c_nationkey AS k FROM customer
EXCEPT
SELECT n_nationkey FROM nation WHERE n_regionkey = 1
