SELECT p_partkey, p_name FROM part WHERE p_size BETWEEN 10 AND 20 AND p_name LIKE '%steel%'
