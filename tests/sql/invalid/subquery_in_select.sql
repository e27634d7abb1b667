SELECT c_custkey, (SELECT max(o_totalprice) FROM orders) AS m FROM customer
