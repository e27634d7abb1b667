SELECT c.c_custkey, c.c_acctbal, a.avg_bal
FROM customer c CROSS JOIN (SELECT avg(c_acctbal) AS avg_bal FROM customer WHERE c_acctbal > 0) a
WHERE c.c_acctbal > a.avg_bal
