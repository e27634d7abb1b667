SELECT c_name FROM customer; SELECT 1
