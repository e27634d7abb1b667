SELECT count(*) AS n FROM lineitem
