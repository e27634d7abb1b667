-- ordered
SELECT e.eventname, sum(s.pricepaid) AS revenue, sum(s.qtysold) AS tickets
FROM sales s JOIN event e ON s.eventid = e.eventid
GROUP BY e.eventname
ORDER BY revenue DESC NULLS LAST, e.eventname
LIMIT 10
