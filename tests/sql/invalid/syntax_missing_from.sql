SELECT c_name customer WHERE c_custkey = 1
