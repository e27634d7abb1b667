SELECT o.o_orderpriority,
       sum(CASE WHEN o.o_orderpriority IN ('1-URGENT', '2-HIGH') THEN 1 ELSE 0 END) AS high_line,
       sum(CASE WHEN o.o_orderpriority NOT IN ('1-URGENT', '2-HIGH') THEN 1 ELSE 0 END) AS low_line
FROM orders o JOIN lineitem l ON o.o_orderkey = l.l_orderkey
WHERE l.l_returnflag IN ('A', 'N')
GROUP BY o.o_orderpriority
