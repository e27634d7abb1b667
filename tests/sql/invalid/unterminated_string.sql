SELECT c_name FROM customer
WHERE c_name = 'abc
