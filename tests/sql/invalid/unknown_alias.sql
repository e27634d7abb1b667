SELECT x.c_name FROM customer c
