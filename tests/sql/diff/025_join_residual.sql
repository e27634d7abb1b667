SELECT o.o_orderkey, l.l_linenumber
FROM orders o JOIN lineitem l ON o.o_orderkey = l.l_orderkey AND l.l_quantity > 45 AND o.o_orderstatus = 'F'
