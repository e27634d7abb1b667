SELECT * FROM nation CROSS JOIN region r JOIN customer c ON c.c_nationkey = r.r_regionkey
