-- ordered
SELECT u.userid, u.username, sum(s.qtysold) AS tickets,
       rank() OVER (ORDER BY sum(s.qtysold) DESC) AS pos
FROM sales s JOIN users u ON s.buyerid = u.userid
GROUP BY u.userid, u.username
HAVING sum(s.qtysold) > 30
ORDER BY tickets DESC, u.userid
LIMIT 10
