SELECT buyerid AS userid, 'buyer' AS role FROM sales WHERE qtysold = 8
UNION
SELECT sellerid, 'seller' FROM sales WHERE qtysold = 8
