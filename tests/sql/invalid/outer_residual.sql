SELECT n.n_name FROM nation n
  LEFT JOIN region r ON n.n_regionkey = r.r_regionkey AND r.r_name = 'ASIA'
