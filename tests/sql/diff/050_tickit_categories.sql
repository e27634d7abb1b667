SELECT c.catgroup, c.catname, count(*) AS events
FROM event e JOIN category c ON e.catid = c.catid
GROUP BY c.catgroup, c.catname HAVING count(*) > 20
