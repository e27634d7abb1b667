SELECT u.likesports, count(*) AS n, avg(s.qtysold) AS avg_qty
FROM users u JOIN sales s ON u.userid = s.buyerid
GROUP BY u.likesports
