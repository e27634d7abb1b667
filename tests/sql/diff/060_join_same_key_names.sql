SELECT s.salesid, e.eventname, e.eventid FROM sales s JOIN event e ON s.eventid = e.eventid WHERE s.salesid < 100
