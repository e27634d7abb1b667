SELECT u.userid, u.state FROM users u
WHERE u.state IS NOT NULL
  AND EXISTS (SELECT 1 FROM sales s WHERE s.buyerid = u.userid AND s.pricepaid > 1500)
  AND NOT EXISTS (SELECT 1 FROM sales t WHERE t.sellerid = u.userid)
