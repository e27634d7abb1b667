SELECT c_custkey, coalesce(c_mktsegment, 'NONE') AS seg,
       CASE WHEN c_acctbal < 0 THEN 'debt' WHEN c_acctbal IS NULL THEN 'unknown' ELSE 'ok' END AS status
FROM customer
