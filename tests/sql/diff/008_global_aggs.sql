SELECT count(*) AS n, count(l_quantity) AS nq, sum(l_quantity) AS sq,
       min(l_shipdate) AS first_ship, max(l_extendedprice) AS top
FROM lineitem
