SELECT l_orderkey, l_linenumber,
       sum(l_extendedprice) OVER (PARTITION BY l_orderkey ORDER BY l_linenumber) AS running,
       count(*) OVER (PARTITION BY l_orderkey) AS lines
FROM lineitem WHERE l_orderkey < 300
