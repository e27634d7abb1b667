SELECT c_mktsegment, count(*) AS n FROM customer GROUP BY 3
