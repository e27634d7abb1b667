SELECT n_name, r_name
FROM nation, region
