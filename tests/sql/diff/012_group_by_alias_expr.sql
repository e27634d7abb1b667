SELECT extract(year FROM o_orderdate) AS y, o_orderstatus, max(o_totalprice) AS mx
FROM orders GROUP BY 1, o_orderstatus
