WITH tot AS (SELECT sum(pricepaid) AS total FROM sales)
SELECT s.eventid, sum(s.pricepaid) * 100 / max(t.total) AS pct
FROM sales s CROSS JOIN tot t
GROUP BY s.eventid
