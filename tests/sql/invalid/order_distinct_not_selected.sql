SELECT DISTINCT c_mktsegment FROM customer
ORDER BY c_acctbal
