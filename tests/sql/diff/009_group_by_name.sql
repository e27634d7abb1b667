SELECT l_returnflag, count(*) AS n, sum(l_extendedprice) AS total
FROM lineitem GROUP BY l_returnflag
