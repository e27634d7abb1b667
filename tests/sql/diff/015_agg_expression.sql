SELECT l_returnflag,
       sum(l_extendedprice * (1 - l_discount)) AS revenue,
       sum(l_extendedprice) / count(*) AS per_line,
       avg(l_quantity) AS avg_qty
FROM lineitem GROUP BY l_returnflag
