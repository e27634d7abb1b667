SELECT c_name FROM customer HAVING c_custkey > 1
