SELECT * FROM nation n JOIN region r ON n.n_regionkey < r.r_regionkey
