SELECT c_name FROM customer ORDER BY c_name LIMIT 5 OFFSET 2
