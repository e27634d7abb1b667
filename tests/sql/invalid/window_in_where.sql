SELECT c_custkey FROM customer
WHERE row_number() OVER (ORDER BY c_custkey) < 3
