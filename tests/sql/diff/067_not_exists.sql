SELECT c.c_custkey FROM customer c
WHERE NOT EXISTS (SELECT * FROM orders o WHERE o.o_custkey = c.c_custkey)
