SELECT count(*) AS n, sum(l.l_quantity) AS q, min(o.o_orderdate) AS d0
FROM orders o JOIN lineitem l ON o.o_orderkey = l.l_orderkey WHERE o.o_orderstatus = 'P'
