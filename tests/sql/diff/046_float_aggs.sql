SELECT p_brand, avg(p_retailprice) AS avgp, sum(p_retailprice) AS s, max(p_retailprice) - min(p_retailprice) AS spread FROM part GROUP BY p_brand
