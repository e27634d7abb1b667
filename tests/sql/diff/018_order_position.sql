-- ordered
SELECT c_custkey, c_acctbal FROM customer WHERE c_acctbal IS NOT NULL ORDER BY 2, 1 LIMIT 20
