SELECT c_name FROM customer
ORDER BY c_nmae
