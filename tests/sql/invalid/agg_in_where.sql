SELECT o_custkey FROM orders
WHERE sum(o_totalprice) > 10
