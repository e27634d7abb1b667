SELECT eventid
FROM sales s JOIN event e ON s.eventid = e.eventid
