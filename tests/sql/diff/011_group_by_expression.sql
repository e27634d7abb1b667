SELECT date_trunc('year', o_orderdate::timestamp) AS yr, count(*) AS n, sum(o_totalprice) AS total
FROM orders GROUP BY date_trunc('year', o_orderdate::timestamp)
