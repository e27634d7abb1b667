WITH big AS (SELECT eventid FROM sales GROUP BY eventid HAVING sum(qtysold) > 60)
SELECT e.eventid, e.eventname FROM event e WHERE e.eventid IN (SELECT eventid FROM big)
