-- ordered
SELECT date_trunc('month', s.saletime) AS month, sum(s.pricepaid) AS revenue, count(*) AS n
FROM sales s
GROUP BY 1
ORDER BY 1
