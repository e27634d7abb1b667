SELECT c.c_nationkey, count(*) AS numcust, sum(c.c_acctbal) AS totacctbal
FROM customer c
WHERE c.c_acctbal > 0
  AND NOT EXISTS (SELECT * FROM orders o WHERE o.o_custkey = c.c_custkey AND o.o_orderstatus = 'F')
GROUP BY c.c_nationkey
