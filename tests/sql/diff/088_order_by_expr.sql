-- ordered
SELECT p_partkey, p_name FROM part ORDER BY p_size * 2 + p_partkey NULLS LAST, p_partkey
