SELECT buyerid AS userid FROM sales WHERE qtysold >= 7
INTERSECT
SELECT sellerid FROM sales WHERE qtysold <= 2
