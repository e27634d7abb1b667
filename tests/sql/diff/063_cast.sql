SELECT o_orderkey, CAST(o_totalprice AS bigint) AS whole, o_orderdate::text AS d FROM orders WHERE o_orderkey <= 40
