SELECT c_name + 1 AS x FROM customer
