SELECT lenght(c_name) AS l FROM customer
