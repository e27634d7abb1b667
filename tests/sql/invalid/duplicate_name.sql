SELECT c_name, c_name FROM customer
