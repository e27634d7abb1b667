SELECT c_custkey FROM customer INTERSECT ALL SELECT o_custkey FROM orders
