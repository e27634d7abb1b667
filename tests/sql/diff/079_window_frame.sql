SELECT salesid, eventid,
       avg(pricepaid) OVER (PARTITION BY eventid ORDER BY salesid ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS mov,
       lag(qtysold) OVER (PARTITION BY eventid ORDER BY salesid) AS prev
FROM sales
