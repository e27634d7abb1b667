SELECT c_nationkey, count(*) AS n, count(c_acctbal) AS with_bal FROM customer GROUP BY c_nationkey
