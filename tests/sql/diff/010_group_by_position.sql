SELECT o_orderstatus, o_orderpriority, count(*) AS n
FROM orders GROUP BY 1, 2
