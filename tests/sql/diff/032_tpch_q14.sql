SELECT 100.00 * sum(CASE WHEN p.p_brand = 'Brand#3' THEN l.l_extendedprice * (1 - l.l_discount) ELSE 0 END)
       / sum(l.l_extendedprice * (1 - l.l_discount)) AS promo_revenue
FROM lineitem l JOIN part p ON l.l_partkey = p.p_partkey
WHERE l.l_shipdate >= DATE '1995-09-01' AND l.l_shipdate < DATE '1996-09-01'
