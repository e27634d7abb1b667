SELECT e.eventid, v.venueid FROM event e FULL OUTER JOIN venue v ON e.venueid = v.venueid WHERE e.eventid IS NULL OR e.eventid < 20
