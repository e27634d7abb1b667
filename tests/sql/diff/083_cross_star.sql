SELECT * FROM region CROSS JOIN (SELECT count(*) AS nations FROM nation) n
