SELECT c_custkey AS id, 'customer' AS kind FROM customer WHERE c_acctbal > 9000
UNION ALL
SELECT o_orderkey, 'order' FROM orders WHERE o_totalprice > 49000
