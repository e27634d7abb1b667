WITH avgbal AS (SELECT avg(c_acctbal) AS a FROM customer WHERE c_acctbal > 0)
SELECT c.c_mktsegment, count(*) AS numcust, sum(c.c_acctbal) AS total
FROM customer c CROSS JOIN avgbal
WHERE c.c_acctbal > avgbal.a
  AND NOT EXISTS (SELECT * FROM orders o WHERE o.o_custkey = c.c_custkey)
GROUP BY c.c_mktsegment
