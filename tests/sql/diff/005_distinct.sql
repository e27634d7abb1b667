SELECT DISTINCT c_mktsegment FROM customer
