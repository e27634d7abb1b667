SELECT DISTINCT u.state, e.catid FROM sales s JOIN users u ON s.buyerid = u.userid JOIN event e ON s.eventid = e.eventid
