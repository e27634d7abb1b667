SELECT s.sellerid, sum(s.commission) AS comm, sum(s.pricepaid - s.commission) AS net
FROM sales s WHERE s.pricepaid IS NOT NULL
GROUP BY s.sellerid HAVING sum(s.commission) > 1000
