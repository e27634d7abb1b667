SELECT * FROM nation CROSS JOIN region
