SELECT v.venueid, v.venuename, count(e.eventid) AS events, max(v.venueseats) AS seats
FROM venue v LEFT JOIN event e ON v.venueid = e.venueid
GROUP BY v.venueid, v.venuename
