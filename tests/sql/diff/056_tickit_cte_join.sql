WITH buyer AS (SELECT buyerid, sum(pricepaid) AS spent FROM sales GROUP BY buyerid),
     seller AS (SELECT sellerid, sum(pricepaid) AS earned FROM sales GROUP BY sellerid)
SELECT b.buyerid AS userid, b.spent, s.earned
FROM buyer b FULL JOIN seller s ON b.buyerid = s.sellerid
