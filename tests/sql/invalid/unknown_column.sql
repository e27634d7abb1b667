SELECT c_custkey, c_nmae
FROM customer
