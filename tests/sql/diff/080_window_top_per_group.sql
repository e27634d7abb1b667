-- ordered
SELECT catid, eventname, qty FROM (
  SELECT e.catid, e.eventname, sum(s.qtysold) AS qty,
         dense_rank() OVER (PARTITION BY e.catid ORDER BY sum(s.qtysold) DESC) AS r
  FROM sales s JOIN event e ON s.eventid = e.eventid
  GROUP BY e.catid, e.eventname
) t WHERE r <= 3
ORDER BY catid, qty DESC, eventname
