SELECT u.state, count(DISTINCT s.buyerid) AS buyers, sum(s.qtysold) AS qty
FROM sales s JOIN users u ON s.buyerid = u.userid
GROUP BY u.state
